/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: manifest, index and config parsing (registry replies). */
#include "config.h"

#include <stdint.h>

#include "oci/bgr-oci-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const types[] = {
    NULL,
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
  };
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);

  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr (GError) error = NULL;
      BgrOciManifest *m = bgr_oci_manifest_parse (bytes, types[i], &error);
      /* Exactly one of a result and an error. */
      g_assert ((m == NULL) != (error == NULL));
      if (m != NULL)
        bgr_oci_manifest_free (m);
    }
  {
    g_autoptr (GError) error = NULL;
    JsonObject *config = bgr_oci_config_parse (bytes, &error);
    g_assert ((config == NULL) != (error == NULL));
    if (config != NULL)
      json_object_unref (config);
  }
  return 0;
}
