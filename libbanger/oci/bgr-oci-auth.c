/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Registry credentials from the auth files docker, podman and skopeo
 * write (with their credential helpers, bgr-oci-credhelper.c), and
 * WWW-Authenticate challenges. */
#include "config.h"

#include <string.h>

#include "bgr-error-private.h"
#include "oci/bgr-oci-private.h"

/* How well @key matches: -1 for not at all, else the length of its path,
 * so "quay.io/org/repo" beats "quay.io/org", which beats "quay.io". */
static gssize
key_score (const char *key, const char *registry, const char *repository)
{
  g_autofree char *host = NULL;
  g_autofree char *path = NULL;
  gsize plen;

  if (!bgr_oci_auth_key_matches_host (key, registry))
    return -1;
  bgr_oci_auth_split_key (key, &host, &path);
  plen = strlen (path);
  if (plen == 0)
    return 0;
  if (repository == NULL || strncmp (repository, path, plen) != 0
      || (repository[plen] != '\0' && repository[plen] != '/'))
    return -1;
  return (gssize) plen;
}

gboolean
bgr_oci_auth_parse (const char *json, gssize length, const char *source, const char *registry,
                    const char *repository, char **user, char **password, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  g_autoptr (GList) keys = NULL;
  JsonObject *root, *auths;
  JsonNode *node;
  const char *best = NULL;
  gssize best_score = -1;
  const char *encoded;
  g_autofree guchar *decoded = NULL;
  g_autofree char *text = NULL;
  gsize decoded_len = 0;
  char *colon;

  *user = NULL;
  *password = NULL;
  if (!json_parser_load_from_data (parser, json, length, &local))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG, "%s: not valid JSON: %s", source,
                   local->message);
      return FALSE;
    }
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG, "%s: not a JSON object", source);
      return FALSE;
    }
  root = json_node_get_object (node);
  node = json_object_get_member (root, "auths");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG, "%s: 'auths' must be an object",
                   source);
      return FALSE;
    }
  auths = json_node_get_object (node);
  keys = json_object_get_members (auths);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      gssize score = key_score (l->data, registry, repository);
      JsonNode *entry = json_object_get_member (auths, l->data);

      /* An entry without "auth" is one a credential helper fills in. */
      if (score <= best_score || !JSON_NODE_HOLDS_OBJECT (entry)
          || !json_object_has_member (json_node_get_object (entry), "auth"))
        continue;
      best = l->data;
      best_score = score;
    }
  if (best == NULL)
    return TRUE;

  node = json_object_get_member (json_node_get_object (json_object_get_member (auths, best)), "auth");
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "%s: auths.\"%s\".auth must be a string", source, best);
      return FALSE;
    }
  encoded = json_node_get_string (node);
  if (*encoded == '\0')
    return TRUE;
  /* g_base64_decode() accepts anything; check the alphabet first so a
   * garbled entry is reported, not sent. */
  for (const char *p = encoded; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("+/=", *p) == NULL)
      {
        g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                     "%s: auths.\"%s\".auth is not base64", source, best);
        return FALSE;
      }
  decoded = g_base64_decode (encoded, &decoded_len);
  text = g_strndup ((const char *) decoded, decoded_len);
  colon = strchr (text, ':');
  if (colon == NULL || strlen (text) != decoded_len || colon == text)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "%s: auths.\"%s\".auth is not the base64 of \"user:password\"", source, best);
      return FALSE;
    }
  *colon = '\0';
  *user = g_strdup (text);
  *password = g_strdup (colon + 1);
  return TRUE;
}

gboolean
bgr_oci_auth_lookup (const char *registry, const char *repository, char **user, char **password,
                     char **source, GError **error)
{
  const char *env = g_getenv ("REGISTRY_AUTH_FILE");
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *helper = NULL;
  g_autoptr (GError) local = NULL;
  JsonNode *root;
  gsize len;

  *user = NULL;
  *password = NULL;
  *source = NULL;
  path = env != NULL && *env != '\0' ? g_strdup (env)
                                     : g_build_filename (g_get_home_dir (), ".docker", "config.json", NULL);
  if (!g_file_get_contents (path, &contents, &len, &local))
    {
      /* No file, no credentials: anonymous access is the normal case. */
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, BGR_ERROR, BGR_ERROR_IO, "%s", local->message);
      return FALSE;
    }
  /* A helper named for the registry (credHelpers, else credsStore) comes
   * first, as in docker; what it does not know, an inline entry may. */
  if (json_parser_load_from_data (parser, contents, (gssize) len, NULL)
      && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      if (!bgr_oci_auth_find_helper (json_node_get_object (root), path, registry, &helper, error))
        return FALSE;
      if (helper != NULL
          && !bgr_oci_credhelper_get (helper, registry, path, user, password, error))
        return FALSE;
      if (*user != NULL)
        {
          *source = g_strdup_printf ("%s (credential helper docker-credential-%s)", path, helper);
          return TRUE;
        }
    }
  if (!bgr_oci_auth_parse (contents, (gssize) len, path, registry, repository, user, password, error))
    return FALSE;
  if (*user != NULL)
    *source = g_steal_pointer (&path);
  return TRUE;
}

/* challenge := scheme 1*SP auth-param *("," auth-param);
 * auth-param := token "=" (token | quoted-string). */
char *
bgr_oci_auth_parse_challenge (const char *header, GHashTable **params)
{
  const char *p = header;
  const char *start;
  g_autofree char *scheme = NULL;
  g_autoptr (GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  *params = NULL;
  while (*p == ' ' || *p == '\t')
    p++;
  start = p;
  while (*p != '\0' && *p != ' ' && *p != '\t')
    p++;
  if (p == start)
    return NULL;
  scheme = g_ascii_strdown (start, p - start);
  for (;;)
    {
      g_autofree char *key = NULL;
      GString *value;

      while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
      if (*p == '\0')
        break;
      start = p;
      while (*p != '\0' && *p != '=' && *p != ',' && *p != ' ')
        p++;
      key = g_ascii_strdown (start, p - start);
      while (*p == ' ')
        p++;
      if (*p != '=')
        continue; /* a bare token (token68): nothing for us */
      p++;
      while (*p == ' ')
        p++;
      value = g_string_new (NULL);
      if (*p == '"')
        {
          for (p++; *p != '\0' && *p != '"'; p++)
            {
              if (*p == '\\' && p[1] != '\0')
                p++;
              g_string_append_c (value, *p);
            }
          if (*p == '"')
            p++;
        }
      else
        while (*p != '\0' && *p != ',' && *p != ' ')
          g_string_append_c (value, *p++);
      g_hash_table_replace (table, g_steal_pointer (&key), g_string_free (value, FALSE));
    }
  *params = g_steal_pointer (&table);
  return g_steal_pointer (&scheme);
}
