/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keys of docker auth files ("https://index.docker.io/v1/", "quay.io/org")
 * and the registries they name: shared by the auth file reader
 * (bgr-oci-auth.c) and the credential helpers (bgr-oci-credhelper.c). */
#include "config.h"

#include <string.h>

#include "oci/bgr-oci-private.h"

static gboolean
is_docker_hub (const char *host)
{
  return g_ascii_strcasecmp (host, "docker.io") == 0
         || g_ascii_strcasecmp (host, "index.docker.io") == 0
         || g_ascii_strcasecmp (host, BGR_OCI_DOCKER_HUB) == 0;
}

/* "https://index.docker.io/v1/" → host "index.docker.io", path "";
 * "quay.io/org" → "quay.io", "org". Docker's legacy "/v1/" style paths are
 * API versions, not repository namespaces. */
void
bgr_oci_auth_split_key (const char *key, char **host, char **path)
{
  const char *p = key;
  const char *slash;
  g_autofree char *rest = NULL;

  if (g_str_has_prefix (p, "https://"))
    p += 8;
  else if (g_str_has_prefix (p, "http://"))
    p += 7;
  slash = strchr (p, '/');
  *host = slash != NULL ? g_strndup (p, slash - p) : g_strdup (p);
  rest = g_strdup (slash != NULL ? slash + 1 : "");
  while (*rest != '\0' && rest[strlen (rest) - 1] == '/')
    rest[strlen (rest) - 1] = '\0';
  if (g_str_has_prefix (rest, "v1") || g_str_has_prefix (rest, "v2"))
    if (rest[2] == '\0')
      rest[0] = '\0';
  *path = g_steal_pointer (&rest);
}

gboolean
bgr_oci_auth_key_matches_host (const char *key, const char *registry)
{
  g_autofree char *host = NULL;
  g_autofree char *path = NULL;

  bgr_oci_auth_split_key (key, &host, &path);
  return g_ascii_strcasecmp (host, registry) == 0 || (is_docker_hub (host) && is_docker_hub (registry));
}
