/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger image build. */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "banger-cli.h"

static char *opt_from, *opt_vcpus, *opt_memory, *opt_disk_size;
static char **opt_run;

const GOptionEntry banger_image_build_options[] = {
  { "from", 0, 0, G_OPTION_ARG_STRING, &opt_from, "The image to start from (required)", "IMAGE" },
  { "run", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_run,
    "A shell command to run in the build VM (repeat for more; run in order)", "CMD" },
  { "vcpus", 0, 0, G_OPTION_ARG_STRING, &opt_vcpus, "vCPUs of the build VM (default: 1)", "N" },
  { "memory", 0, 0, G_OPTION_ARG_STRING, &opt_memory,
    "Memory of the build VM, e.g. 1G (default: 512M)", "SIZE" },
  { "disk-size", 0, 0, G_OPTION_ARG_STRING, &opt_disk_size,
    "Grow the rootfs to this size first, e.g. 4G (default: the image's)", "SIZE" },
  G_OPTION_ENTRY_NULL
};

static gboolean
build_options (BgrBuildOptions *options, GError **error)
{
  guint64 vcpus = 0, memory = 0, disk = 0;

  if (opt_from == NULL)
    {
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "--from IMAGE is required: the image the build starts from");
      return FALSE;
    }
  if (opt_vcpus != NULL
      && !g_ascii_string_to_unsigned (opt_vcpus, 10, 1, G_MAXUINT32, &vcpus, NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid --vcpus \"%s\": give a whole number, at least 1", opt_vcpus);
      return FALSE;
    }
  if ((opt_memory != NULL && !banger_parse_size ("--memory", opt_memory, 1ull << 20, &memory, error))
      || (opt_disk_size != NULL && !banger_parse_size ("--disk-size", opt_disk_size, 1, &disk, error)))
    return FALSE;
  bgr_build_options_set_from (options, opt_from);
  bgr_build_options_set_run (options, (const char *const *) opt_run);
  if (vcpus > 0)
    bgr_build_options_set_vcpus (options, (guint) vcpus);
  if (memory > 0)
    bgr_build_options_set_memory_mib (options, memory >> 20);
  if (disk > 0)
    bgr_build_options_set_disk_size (options, disk);
  return TRUE;
}

gboolean
banger_cmd_image_build (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrImage) img = NULL;
  g_autoptr (BgrBuildOptions) options = bgr_build_options_new (NULL);
  gboolean tty = isatty (STDERR_FILENO) && !inv->json;
  BangerProgress *p;

  if (!build_options (options, error))
    return FALSE;
  client = banger_invocation_get_client (inv, error);
  if (client == NULL)
    return FALSE;
  p = banger_progress_new (BANGER_PROGRESS_STEPS, inv->args[0], tty);
  img = bgr_client_image_build (client, inv->args[0], options, banger_progress_get_operation (p),
                                NULL, error);
  banger_progress_end (p, img != NULL);
  if (img == NULL)
    return FALSE;
  if (inv->json)
    banger_print_image_json (img);
  else
    {
      g_print ("built image '%s'\n", banger_shown (bgr_image_get_name (img)));
      banger_print_image (img);
    }
  return TRUE;
}
