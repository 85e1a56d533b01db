/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Records: members read safely, the public JSON, and the D-Bus a{sv} form
 * of any record. The object views are in bgr-records-artifacts.c,
 * bgr-records-cache.c and bgr-records-vm.c. */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-records-private.h"

/* Members of the stored document that are bookkeeping, not data. */
static const char *const internal_members[] = { "schema_version", "kind", NULL };

static const char *
str_member (JsonObject *doc, const char *name)
{
  JsonNode *n = json_object_get_member (doc, name);
  return (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
           ? json_node_get_string (n)
           : NULL;
}

static gint64
int_member (JsonObject *doc, const char *name)
{
  JsonNode *n = json_object_get_member (doc, name);
  return (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
           ? json_node_get_int (n)
           : 0;
}

static gboolean
bool_member (JsonObject *doc, const char *name)
{
  JsonNode *n = json_object_get_member (doc, name);
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
         && json_node_get_boolean (n);
}

const char *
bgr_record_str (JsonObject *doc, const char *member)
{
  return str_member (doc, member);
}

gint64
bgr_record_int (JsonObject *doc, const char *member)
{
  return int_member (doc, member);
}

gboolean
bgr_record_bool (JsonObject *doc, const char *member)
{
  return bool_member (doc, member);
}

char *
bgr_record_public_json (JsonObject *doc)
{
  g_autoptr (JsonObject) copy = json_object_new ();
  g_autoptr (JsonNode) node = NULL;
  GList *members = json_object_get_members (doc);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (internal_members, l->data))
      json_object_set_member (copy, l->data, json_node_copy (json_object_get_member (doc, l->data)));
  g_list_free (members);
  node = json_node_init_object (json_node_alloc (), copy);
  return json_to_string (node, TRUE);
}

static GVariant *node_to_variant (JsonNode *n);

/* A JSON array as the most specific D-Bus array: as, aa{sv}, or av. */
static GVariant *
array_to_variant (JsonArray *a)
{
  guint len = json_array_get_length (a);
  gboolean strings = TRUE, objects = TRUE;
  GVariantBuilder b;

  for (guint i = 0; i < len; i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      strings = strings && JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING;
      objects = objects && JSON_NODE_HOLDS_OBJECT (e);
    }
  if (len == 0 || strings)
    {
      g_variant_builder_init (&b, G_VARIANT_TYPE_STRING_ARRAY);
      for (guint i = 0; i < len; i++)
        g_variant_builder_add (&b, "s", json_array_get_string_element (a, i));
      return g_variant_builder_end (&b);
    }
  g_variant_builder_init (&b, objects ? G_VARIANT_TYPE ("aa{sv}") : G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < len; i++)
    {
      GVariant *v = node_to_variant (json_array_get_element (a, i));
      if (v == NULL)
        v = g_variant_new_string ("");
      g_variant_builder_add_value (&b, objects ? v : g_variant_new_variant (v));
    }
  return g_variant_builder_end (&b);
}

static GVariant *
node_to_variant (JsonNode *n)
{
  if (JSON_NODE_HOLDS_OBJECT (n))
    return bgr_record_to_variant (json_node_get_object (n));
  if (JSON_NODE_HOLDS_ARRAY (n))
    return array_to_variant (json_node_get_array (n));
  if (!JSON_NODE_HOLDS_VALUE (n))
    return NULL;
  switch (json_node_get_value_type (n))
    {
    case G_TYPE_STRING: return g_variant_new_string (json_node_get_string (n));
    case G_TYPE_INT64: return g_variant_new_int64 (json_node_get_int (n));
    case G_TYPE_BOOLEAN: return g_variant_new_boolean (json_node_get_boolean (n));
    case G_TYPE_DOUBLE: return g_variant_new_double (json_node_get_double (n));
    default: return NULL;
    }
}

/* The D-Bus wire form of a record: strings, integers (x), booleans and
 * doubles, lists as arrays (as, aa{sv}) and nested objects as a{sv}. */
GVariant *
bgr_record_to_variant (JsonObject *doc)
{
  GVariantBuilder b;
  GList *members = json_object_get_members (doc);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  for (GList *l = members; l != NULL; l = l->next)
    {
      GVariant *v;

      if (g_strv_contains (internal_members, l->data))
        continue;
      v = node_to_variant (json_object_get_member (doc, l->data));
      if (v != NULL)
        g_variant_builder_add (&b, "{sv}", (const char *) l->data, v);
    }
  g_list_free (members);
  return g_variant_builder_end (&b);
}

static JsonNode *
variant_to_node (GVariant *value)
{
  JsonNode *n = json_node_alloc ();

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (value);
      json_node_free (n);
      return variant_to_node (inner);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return json_node_init_string (n, g_variant_get_string (value, NULL));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return json_node_init_int (n, g_variant_get_int64 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    return json_node_init_int (n, (gint64) g_variant_get_uint64 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return json_node_init_int (n, g_variant_get_int32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    return json_node_init_int (n, g_variant_get_uint32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return json_node_init_boolean (n, g_variant_get_boolean (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return json_node_init_double (n, g_variant_get_double (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    {
      g_autoptr (JsonObject) o = json_object_new ();
      GVariantIter iter;
      const char *key;
      GVariant *child;

      g_variant_iter_init (&iter, value);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &child))
        {
          JsonNode *c = variant_to_node (child);
          if (c != NULL)
            json_object_set_member (o, key, c);
          g_variant_unref (child);
        }
      return json_node_init_object (n, o);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_ARRAY))
    {
      g_autoptr (JsonArray) a = json_array_new ();
      GVariantIter iter;
      GVariant *child;

      g_variant_iter_init (&iter, value);
      while ((child = g_variant_iter_next_value (&iter)) != NULL)
        {
          JsonNode *c = variant_to_node (child);
          if (c != NULL)
            json_array_add_element (a, c);
          g_variant_unref (child);
        }
      return json_node_init_array (n, a);
    }
  json_node_free (n);
  return NULL;
}

JsonObject *
bgr_record_from_variant (GVariant *dict, GError **error)
{
  g_autoptr (JsonNode) node = NULL;

  if (!g_variant_is_of_type (dict, G_VARIANT_TYPE ("a{sv}")))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "record has type %s, expected a{sv}",
                   g_variant_get_type_string (dict));
      return NULL;
    }
  node = variant_to_node (dict);
  if (str_member (json_node_get_object (node), "name") == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "record without a name");
      return NULL;
    }
  return json_object_ref (json_node_get_object (node));
}
