/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: replaying a layer (tar, whiteouts, links) into a fresh
 * ext4. Every input must either apply or fail with a BGR_ERROR, and never
 * touch anything outside the image. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <unistd.h>

#include "ext4/bgr-ext4-writer-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char *workdir;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *layer = NULL, *image = NULL;
  g_autoptr (GError) error = NULL;
  BgrExt4Writer *w;

  if (workdir == NULL)
    workdir = g_dir_make_tmp ("banger-fuzz-XXXXXX", NULL);
  layer = g_build_filename (workdir, "layer.tar", NULL);
  image = g_build_filename (workdir, "root.ext4", NULL);
  g_unlink (image);
  if (!g_file_set_contents (layer, (const char *) data, (gssize) size, NULL))
    return 0;
  w = bgr_ext4_writer_create (image, 8 << 20, 256, &error);
  g_assert_no_error (error);
  if (!bgr_ext4_writer_apply_layer_file (w, layer, "fuzz", NULL, NULL, &error))
    {
      g_assert (error != NULL && error->domain == g_quark_from_static_string ("bgr-error-quark"));
      bgr_ext4_writer_abort (w);
    }
  else
    g_assert_true (bgr_ext4_writer_close (w, NULL));
  {
    /* Nothing but the layer and the image next to them. */
    g_autoptr (GDir) d = g_dir_open (workdir, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
      g_assert (g_str_equal (name, "layer.tar") || g_str_equal (name, "root.ext4"));
  }
  return 0;
}
