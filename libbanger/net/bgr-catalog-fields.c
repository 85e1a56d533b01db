/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The strict readers of a catalog's fields (bgr-catalog-fields-private.h):
 * a wrong type, a missing or unknown member and a URL banger must not
 * follow are errors that say where they are. */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "bgr-error-private.h"
#include "net/bgr-catalog-fields-private.h"


void
bgr_catalog_fail (const BgrCatalogCtx *c, GError **error, const char *fmt, ...)
{
  g_autofree char *what = NULL;
  va_list ap;

  va_start (ap, fmt);
  what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (c->index < 0)
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "catalog %s: %s", c->url, what);
  else if (c->name == NULL)
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "catalog %s: kernels[%d]: %s", c->url,
                 c->index, what);
  else
    {
      /* The name may be the very thing that is wrong: keep it printable. */
      g_autofree char *name = g_strescape (c->name, NULL);
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "catalog %s: kernels[%d] (\"%s\"): %s",
                   c->url, c->index, name, what);
    }
}

/* Absent and null are the same: generated catalogs often write null for
 * an optional member they do not have. */
JsonNode *
bgr_catalog_get_member (JsonObject *obj, const char *member)
{
  JsonNode *node = json_object_get_member (obj, member);

  return node != NULL && !JSON_NODE_HOLDS_NULL (node) ? node : NULL;
}

gboolean
bgr_catalog_check_members (const BgrCatalogCtx *c, JsonObject *obj, const char *prefix, const char *const *known,
               GError **error)
{
  g_autoptr (GList) members = json_object_get_members (obj);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        bgr_catalog_fail (c, error, "%s%s is not a known field", prefix, (const char *) l->data);
        return FALSE;
      }
  return TRUE;
}

gboolean
bgr_catalog_get_string (const BgrCatalogCtx *c, JsonObject *obj, const char *prefix, const char *member,
            gboolean required, const char **out, GError **error)
{
  JsonNode *node = bgr_catalog_get_member (obj, member);

  *out = NULL;
  if (node == NULL)
    {
      if (required)
        bgr_catalog_fail (c, error, "%s%s is missing", prefix, member);
      return !required;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      bgr_catalog_fail (c, error, "%s%s is not a string", prefix, member);
      return FALSE;
    }
  *out = json_node_get_string (node);
  if (required && **out == '\0')
    {
      bgr_catalog_fail (c, error, "%s%s is empty", prefix, member);
      return FALSE;
    }
  return TRUE;
}

gboolean
bgr_catalog_get_object (const BgrCatalogCtx *c, JsonObject *obj, const char *prefix, const char *member,
            gboolean required, JsonObject **out, GError **error)
{
  JsonNode *node = bgr_catalog_get_member (obj, member);

  *out = NULL;
  if (node == NULL)
    {
      if (required)
        bgr_catalog_fail (c, error, "%s%s is missing", prefix, member);
      return !required;
    }
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      bgr_catalog_fail (c, error, "%s%s is not an object", prefix, member);
      return FALSE;
    }
  *out = json_node_get_object (node);
  return TRUE;
}

gboolean
bgr_catalog_get_int (const BgrCatalogCtx *c, JsonObject *obj, const char *prefix, const char *member, gint64 *out,
         GError **error)
{
  JsonNode *node = bgr_catalog_get_member (obj, member);

  if (node == NULL)
    {
      bgr_catalog_fail (c, error, "%s%s is missing", prefix, member);
      return FALSE;
    }
  /* json-glib reads 1.0 and 1e3 as doubles: only a plain integer will do. */
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      bgr_catalog_fail (c, error, "%s%s is not an integer", prefix, member);
      return FALSE;
    }
  *out = json_node_get_int (node);
  return TRUE;
}

char *
bgr_catalog_resolve_url (const BgrCatalogCtx *c, const char *field, const char *ref, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *url = NULL;
  g_autofree char *scheme = NULL;

  /* ENCODED: the URL keeps the escapes it was written with. */
  url = g_uri_resolve_relative (c->url, ref, G_URI_FLAGS_ENCODED, &local);
  if (url == NULL)
    {
      bgr_catalog_fail (c, error, "%s is not a valid URL: %s", field, local->message);
      return NULL;
    }
  scheme = g_ascii_strdown (g_uri_peek_scheme (url), -1);
  if (g_str_equal (scheme, "file"))
    {
      /* A catalog from the network must not make banger read local files. */
      if (!c->is_local)
        {
          bgr_catalog_fail (c, error, "%s is a file URL, which only a local catalog may use", field);
          return NULL;
        }
    }
  else if (g_str_equal (scheme, "http") || g_str_equal (scheme, "https"))
    {
      g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);

      if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
        {
          bgr_catalog_fail (c, error, "%s has no host", field);
          return NULL;
        }
    }
  else
    {
      bgr_catalog_fail (c, error, "%s has the unsupported scheme \"%s\" (http, https or file)", field, scheme);
      return NULL;
    }
  return g_steal_pointer (&url);
}
