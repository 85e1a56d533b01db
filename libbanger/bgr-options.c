/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrOptions: named, typed values checked against the subclass's key table;
 * the a{sv} form is the D-Bus wire form. */
#include "config.h"

#include <json-glib/json-glib.h>

#include "bgr-options-private.h"

typedef struct {
  GHashTable *values; /* key (static, from the table) -> GVariant */
} BgrOptionsPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (BgrOptions, bgr_options, G_TYPE_OBJECT)

static void
bgr_options_finalize (GObject *object)
{
  BgrOptionsPrivate *priv = bgr_options_get_instance_private (BGR_OPTIONS (object));

  g_hash_table_unref (priv->values);
  G_OBJECT_CLASS (bgr_options_parent_class)->finalize (object);
}

static void
bgr_options_class_init (BgrOptionsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_options_finalize;
}

static void
bgr_options_init (BgrOptions *self)
{
  BgrOptionsPrivate *priv = bgr_options_get_instance_private (self);

  priv->values = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify) g_variant_unref);
}

static const BgrOptionKey *
find_key (BgrOptions *self, const char *key)
{
  const BgrOptionKey *k = BGR_OPTIONS_GET_CLASS (self)->keys;

  for (; k != NULL && k->key != NULL; k++)
    if (g_str_equal (k->key, key))
      return k;
  return NULL;
}

static const char *
kind_name (BgrOptions *self)
{
  return G_OBJECT_TYPE_NAME (self);
}

/**
 * bgr_options_get_key_type:
 * @self: options
 * @key: a key
 *
 * Returns: (nullable): the GVariant type string of @key, or %NULL when
 *   @self has no such key
 *
 * Since: 0.2
 */
const char *
bgr_options_get_key_type (BgrOptions *self, const char *key)
{
  const BgrOptionKey *k;

  g_return_val_if_fail (BGR_IS_OPTIONS (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  k = find_key (self, key);
  return k != NULL ? k->type : NULL;
}

/**
 * bgr_options_dup_keys:
 * @self: options
 *
 * Returns: (transfer full): every key @self knows, set or not
 *
 * Since: 0.2
 */
char **
bgr_options_dup_keys (BgrOptions *self)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  const BgrOptionKey *k;

  g_return_val_if_fail (BGR_IS_OPTIONS (self), NULL);
  for (k = BGR_OPTIONS_GET_CLASS (self)->keys; k != NULL && k->key != NULL; k++)
    g_strv_builder_add (b, k->key);
  return g_strv_builder_end (b);
}

void
bgr_options_put (BgrOptions *self, const char *key, GVariant *value)
{
  BgrOptionsPrivate *priv = bgr_options_get_instance_private (self);
  const BgrOptionKey *k = find_key (self, key);

  g_return_if_fail (k != NULL);
  if (value == NULL)
    {
      g_hash_table_remove (priv->values, k->key);
      return;
    }
  g_variant_ref_sink (value);
  g_return_if_fail (g_variant_is_of_type (value, G_VARIANT_TYPE (k->type)));
  g_hash_table_replace (priv->values, (gpointer) k->key, value);
}

GVariant *
bgr_options_peek (BgrOptions *self, const char *key)
{
  BgrOptionsPrivate *priv = bgr_options_get_instance_private (self);

  return g_hash_table_lookup (priv->values, key);
}

static gboolean
check_value (BgrOptions *self, const char *key, GVariant *value, GError **error)
{
  const BgrOptionKey *k = find_key (self, key);

  if (k == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "unknown option '%s' for %s", key, kind_name (self));
      return FALSE;
    }
  if (value != NULL && !g_variant_is_of_type (value, G_VARIANT_TYPE (k->type)))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option '%s' of %s must have type '%s', not '%s'", key, kind_name (self),
                   k->type, g_variant_get_type_string (value));
      return FALSE;
    }
  return TRUE;
}

/**
 * bgr_options_set_value:
 * @self: options
 * @key: a key @self knows
 * @value: (nullable): a value of the key's type; %NULL unsets @key
 * @error: return location for a #GError
 *
 * Sets one option by name. A floating @value is consumed.
 *
 * Returns: %FALSE (with %BGR_ERROR_INVALID_ARGUMENT) when @key is unknown or
 *   @value has the wrong type
 *
 * Since: 0.2
 */
gboolean
bgr_options_set_value (BgrOptions *self, const char *key, GVariant *value, GError **error)
{
  g_autoptr (GVariant) owned = value != NULL ? g_variant_ref_sink (value) : NULL;

  g_return_val_if_fail (BGR_IS_OPTIONS (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  if (!check_value (self, key, owned, error))
    return FALSE;
  bgr_options_put (self, key, owned);
  return TRUE;
}

/**
 * bgr_options_set_json:
 * @self: options
 * @key: a key @self knows
 * @json: the value as JSON (a string, number, boolean or array of strings);
 *   "null" unsets @key
 * @error: return location for a #GError
 *
 * Sets one option from JSON, converted to the key's type: what bindings
 * use to pass keyword arguments.
 *
 * Returns: %FALSE when @key is unknown or @json does not fit its type
 *
 * Since: 0.2
 */
gboolean
bgr_options_set_json (BgrOptions *self, const char *key, const char *json, GError **error)
{
  const char *type;
  g_autoptr (GError) local = NULL;
  g_autofree char *trimmed = NULL;
  GVariant *value;

  g_return_val_if_fail (BGR_IS_OPTIONS (self), FALSE);
  g_return_val_if_fail (key != NULL && json != NULL, FALSE);
  type = bgr_options_get_key_type (self, key);
  if (type == NULL)
    return check_value (self, key, NULL, error);
  trimmed = g_strstrip (g_strdup (json));
  if (g_str_equal (trimmed, "null"))
    return bgr_options_set_value (self, key, NULL, error);
  value = json_gvariant_deserialize_data (json, -1, type, &local);
  if (value == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option '%s' of %s must have type '%s': %s", key, kind_name (self), type,
                   local->message);
      return FALSE;
    }
  return bgr_options_set_value (self, key, value, error);
}

/**
 * bgr_options_dup_value:
 * @self: options
 * @key: a key
 *
 * Returns: (transfer full) (nullable): the value of @key, or %NULL when unset
 *
 * Since: 0.2
 */
GVariant *
bgr_options_dup_value (BgrOptions *self, const char *key)
{
  GVariant *v;

  g_return_val_if_fail (BGR_IS_OPTIONS (self), NULL);
  v = bgr_options_peek (self, key);
  return v != NULL ? g_variant_ref (v) : NULL;
}

/**
 * bgr_options_has_key:
 * @self: options
 * @key: a key
 *
 * Returns: %TRUE when @key is set
 *
 * Since: 0.2
 */
gboolean
bgr_options_has_key (BgrOptions *self, const char *key)
{
  g_return_val_if_fail (BGR_IS_OPTIONS (self), FALSE);
  return bgr_options_peek (self, key) != NULL;
}

/**
 * bgr_options_update_from_variant:
 * @self: options
 * @dict: an `a{sv}` dictionary
 * @error: return location for a #GError
 *
 * Sets every key of @dict. Nothing is changed when one key is unknown or has
 * the wrong type.
 *
 * Returns: %FALSE with %BGR_ERROR_INVALID_ARGUMENT naming the bad key
 *
 * Since: 0.2
 */
gboolean
bgr_options_update_from_variant (BgrOptions *self, GVariant *dict, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_return_val_if_fail (BGR_IS_OPTIONS (self), FALSE);
  if (dict == NULL || !g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "options of %s must be a dictionary (a{sv})", kind_name (self));
      return FALSE;
    }
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      gboolean ok = check_value (self, key, value, error);
      g_variant_unref (value);
      if (!ok)
        return FALSE;
    }
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    bgr_options_put (self, key, value);
  return TRUE;
}

gpointer
bgr_options_new_from_variant (GType type, GVariant *dict, GError **error)
{
  g_autoptr (BgrOptions) self = g_object_new (type, NULL);

  if (!bgr_options_update_from_variant (self, dict, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * bgr_options_to_variant:
 * @self: options
 *
 * Returns: (transfer floating): the set keys as an `a{sv}` dictionary
 *
 * Since: 0.2
 */
GVariant *
bgr_options_to_variant (BgrOptions *self)
{
  BgrOptionsPrivate *priv;
  GVariantBuilder b;
  const BgrOptionKey *k;

  g_return_val_if_fail (BGR_IS_OPTIONS (self), NULL);
  priv = bgr_options_get_instance_private (self);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  /* In table order, so the wire form is stable. */
  for (k = BGR_OPTIONS_GET_CLASS (self)->keys; k != NULL && k->key != NULL; k++)
    {
      GVariant *v = g_hash_table_lookup (priv->values, k->key);
      if (v != NULL)
        g_variant_builder_add (&b, "{sv}", k->key, v);
    }
  return g_variant_builder_end (&b);
}

/* Typed accessors for the subclasses. */

void
bgr_options_put_string (BgrOptions *self, const char *key, const char *value)
{
  bgr_options_put (self, key, value != NULL ? g_variant_new_string (value) : NULL);
}

const char *
bgr_options_get_string (BgrOptions *self, const char *key)
{
  GVariant *v = bgr_options_peek (self, key);
  return v != NULL ? g_variant_get_string (v, NULL) : NULL;
}

void
bgr_options_put_uint32 (BgrOptions *self, const char *key, guint32 value)
{
  bgr_options_put (self, key, g_variant_new_uint32 (value));
}

guint32
bgr_options_get_uint32 (BgrOptions *self, const char *key)
{
  GVariant *v = bgr_options_peek (self, key);
  return v != NULL ? g_variant_get_uint32 (v) : 0;
}

void
bgr_options_put_uint64 (BgrOptions *self, const char *key, guint64 value)
{
  bgr_options_put (self, key, g_variant_new_uint64 (value));
}

guint64
bgr_options_get_uint64 (BgrOptions *self, const char *key)
{
  GVariant *v = bgr_options_peek (self, key);
  return v != NULL ? g_variant_get_uint64 (v) : 0;
}

void
bgr_options_put_boolean (BgrOptions *self, const char *key, gboolean value)
{
  bgr_options_put (self, key, g_variant_new_boolean (value));
}

gboolean
bgr_options_get_boolean (BgrOptions *self, const char *key)
{
  GVariant *v = bgr_options_peek (self, key);
  return v != NULL && g_variant_get_boolean (v);
}

void
bgr_options_put_strv (BgrOptions *self, const char *key, const char *const *value)
{
  bgr_options_put (self, key, value != NULL ? g_variant_new_strv (value, -1) : NULL);
}

char **
bgr_options_dup_strv (BgrOptions *self, const char *key)
{
  GVariant *v = bgr_options_peek (self, key);
  return v != NULL ? g_variant_dup_strv (v, NULL) : NULL;
}
