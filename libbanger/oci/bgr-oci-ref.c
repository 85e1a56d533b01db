/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image references, following the grammar of distribution's reference
 * package (the one docker, podman and skopeo share), so a name that works
 * with `docker pull` means the same image here. */
#include "config.h"

#include <string.h>

#include "bgr-error-private.h"
#include "oci/bgr-oci-private.h"

/* distribution's NameTotalLengthMax. */
#define NAME_MAX_LENGTH 255
#define TAG_MAX_LENGTH 128

void
bgr_oci_ref_clear (BgrOciRef *ref)
{
  g_clear_pointer (&ref->registry, g_free);
  g_clear_pointer (&ref->repository, g_free);
  g_clear_pointer (&ref->tag, g_free);
  g_clear_pointer (&ref->digest, g_free);
}

char *
bgr_oci_ref_to_string (const BgrOciRef *ref)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "%s/%s", ref->registry, ref->repository);
  if (ref->tag != NULL)
    g_string_append_printf (s, ":%s", ref->tag);
  if (ref->digest != NULL)
    g_string_append_printf (s, "@%s", ref->digest);
  return g_string_free (s, FALSE);
}

static gboolean
is_lower_alnum (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static gboolean
is_hex_lower (const char *s, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return FALSE;
  return TRUE;
}

gboolean
bgr_oci_digest_is_valid (const char *digest)
{
  const char *colon, *p;
  gsize enc_len;

  if (digest == NULL)
    return FALSE;
  colon = strchr (digest, ':');
  if (colon == NULL || colon == digest || colon[1] == '\0')
    return FALSE;
  /* algorithm: [a-z0-9]+(?:[+._-][a-z0-9]+)* */
  for (p = digest; p < colon; p++)
    {
      if (is_lower_alnum (*p))
        continue;
      if (strchr ("+._-", *p) == NULL || p == digest || p + 1 == colon || !is_lower_alnum (p[1]))
        return FALSE;
    }
  /* encoded: [a-zA-Z0-9=_-]+ */
  for (p = colon + 1; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("=_-", *p) == NULL)
      return FALSE;
  enc_len = strlen (colon + 1);
  if (strncmp (digest, "sha256:", 7) == 0)
    return enc_len == 64 && is_hex_lower (colon + 1, enc_len);
  if (strncmp (digest, "sha512:", 7) == 0)
    return enc_len == 128 && is_hex_lower (colon + 1, enc_len);
  return TRUE;
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | [-]+ */
static gboolean
path_component_is_valid (const char *s, gsize len)
{
  gsize i = 0;

  if (len == 0 || !is_lower_alnum (s[0]) || !is_lower_alnum (s[len - 1]))
    return FALSE;
  while (i < len)
    {
      if (is_lower_alnum (s[i]))
        {
          i++;
          continue;
        }
      if (s[i] == '.')
        i++;
      else if (s[i] == '_')
        i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
      else if (s[i] == '-')
        while (i < len && s[i] == '-')
          i++;
      else
        return FALSE;
      if (i >= len || !is_lower_alnum (s[i]))
        return FALSE;
    }
  return TRUE;
}

/* domain := host [":" port]; host := label ("." label)* | "[" ipv6 "]". */
static gboolean
domain_is_valid (const char *s)
{
  const char *port = NULL;
  const char *end;

  if (*s == '[')
    {
      const char *close = strchr (s, ']');

      if (close == NULL || close == s + 1)
        return FALSE;
      for (const char *p = s + 1; p < close; p++)
        if (!g_ascii_isxdigit (*p) && *p != ':' && *p != '.')
          return FALSE;
      if (close[1] == ':')
        port = close + 2;
      else if (close[1] != '\0')
        return FALSE;
    }
  else
    {
      const char *colon = strchr (s, ':');
      const char *label = s;

      end = colon != NULL ? colon : s + strlen (s);
      if (end == s)
        return FALSE;
      for (const char *p = s; p <= end; p++)
        {
          if (p == end || *p == '.')
            {
              /* Labels: alphanumerics and inner hyphens. */
              if (p == label || label[0] == '-' || p[-1] == '-')
                return FALSE;
              label = p + 1;
            }
          else if (!g_ascii_isalnum (*p) && *p != '-')
            return FALSE;
        }
      if (colon != NULL)
        port = colon + 1;
    }
  if (port != NULL)
    {
      guint64 n;

      if (*port == '\0' || strlen (port) > 5 || !g_ascii_string_to_unsigned (port, 10, 1, 65535, &n, NULL))
        return FALSE;
    }
  return TRUE;
}

/* distribution's rule: the first component names a registry when it could
 * not be a repository path component. */
static gboolean
looks_like_domain (const char *s, gsize len)
{
  return memchr (s, '.', len) != NULL || memchr (s, ':', len) != NULL
         || (len == 9 && strncmp (s, "localhost", 9) == 0) || s[0] == '[';
}

static gboolean
tag_is_valid (const char *tag)
{
  gsize len = strlen (tag);

  if (len == 0 || len > TAG_MAX_LENGTH || !(g_ascii_isalnum (tag[0]) || tag[0] == '_'))
    return FALSE;
  for (const char *p = tag; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("_.-", *p) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
fail (GError **error, const char *text, const char *why)
{
  g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid image reference '%s': %s",
               text, why);
  return FALSE;
}

gboolean
bgr_oci_ref_parse (const char *text, BgrOciRef *out, GError **error)
{
  g_autofree char *name = NULL;
  g_autofree char *tag = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *domain = NULL;
  g_autofree char *remote = NULL;
  const char *at, *slash, *colon, *first_slash;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  if (*text == '\0')
    return fail (error, text, "empty");
  /* A common mistake: references have no scheme. Say what to do instead of
   * "invalid character ':'". */
  if (g_str_has_prefix (text, "http://") || g_str_has_prefix (text, "https://")
      || g_str_has_prefix (text, "docker://"))
    return fail (error, text,
                 "a reference has no scheme: write host[:port]/name[:tag] (plain http is used "
                 "for loopback registries, and for others only when insecure access is asked for)");
  for (const char *p = text; *p != '\0'; p++)
    if (g_ascii_isspace (*p) || (guchar) *p >= 0x80)
      return fail (error, text, "it contains a space or a non-ASCII character");

  at = strchr (text, '@');
  if (at != NULL)
    {
      digest = g_strdup (at + 1);
      name = g_strndup (text, at - text);
      if (!bgr_oci_digest_is_valid (digest))
        return fail (error, text, "the digest is not algorithm:hex (sha256: 64 lowercase hex digits)");
      if (!g_str_has_prefix (digest, "sha256:"))
        return fail (error, text, "only sha256 digests are supported");
    }
  else
    name = g_strdup (text);

  slash = strrchr (name, '/');
  colon = strrchr (name, ':');
  if (colon != NULL && (slash == NULL || colon > slash))
    {
      tag = g_strdup (colon + 1);
      name[colon - name] = '\0';
      if (!tag_is_valid (tag))
        return fail (error, text,
                     "the tag must be 1 to 128 letters, digits, '_', '.' or '-', not starting "
                     "with '.' or '-'");
    }
  if (*name == '\0')
    return fail (error, text, "no repository name");

  first_slash = strchr (name, '/');
  if (first_slash != NULL && looks_like_domain (name, first_slash - name))
    {
      domain = g_strndup (name, first_slash - name);
      remote = g_strdup (first_slash + 1);
      if (!domain_is_valid (domain))
        return fail (error, text, "the registry is not a valid host[:port]");
    }
  else
    {
      domain = g_strdup ("docker.io");
      remote = g_strdup (name);
    }
  if (g_ascii_strcasecmp (domain, "docker.io") == 0
      || g_ascii_strcasecmp (domain, "index.docker.io") == 0)
    {
      g_free (domain);
      domain = g_strdup (BGR_OCI_DOCKER_HUB);
      if (strchr (remote, '/') == NULL)
        {
          char *tmp = g_strconcat ("library/", remote, NULL);
          g_free (remote);
          remote = tmp;
        }
    }

  if (*remote == '\0')
    return fail (error, text, "no repository name");
  for (const char *p = remote;;)
    {
      const char *end = strchr (p, '/');
      gsize len = end != NULL ? (gsize) (end - p) : strlen (p);

      if (!path_component_is_valid (p, len))
        {
          for (gsize i = 0; i < len; i++)
            if (g_ascii_isupper (p[i]))
              return fail (error, text, "repository names must be lowercase");
          return fail (error, text,
                       "each part of the repository name must be lowercase letters and digits, "
                       "separated by '.', '_', '__' or dashes");
        }
      if (end == NULL)
        break;
      p = end + 1;
    }
  if (strlen (domain) + 1 + strlen (remote) > NAME_MAX_LENGTH)
    return fail (error, text, "the name is longer than 255 characters");

  if (tag == NULL && digest == NULL)
    tag = g_strdup ("latest");
  out->registry = g_steal_pointer (&domain);
  out->repository = g_steal_pointer (&remote);
  out->tag = g_steal_pointer (&tag);
  out->digest = g_steal_pointer (&digest);
  return TRUE;
}

gboolean
bgr_oci_registry_is_loopback (const char *registry)
{
  g_autofree char *host = NULL;
  const char *colon;

  if (registry == NULL)
    return FALSE;
  if (registry[0] == '[')
    {
      const char *close = strchr (registry, ']');
      if (close == NULL)
        return FALSE;
      host = g_strndup (registry + 1, close - registry - 1);
      return g_strcmp0 (host, "::1") == 0 || g_ascii_strcasecmp (host, "0:0:0:0:0:0:0:1") == 0;
    }
  colon = strchr (registry, ':');
  host = colon != NULL ? g_strndup (registry, colon - registry) : g_strdup (registry);
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  if (g_hostname_is_ip_address (host) && g_str_has_prefix (host, "127."))
    return TRUE;
  return FALSE;
}
