/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bgr-toml-value.c: the document tree: values, tables, and the public
 * accessors. The parser is in bgr-toml.c. */

#include <math.h>
#include <string.h>

#include <banger/bgr-error.h>

#include "bgr-toml-internal.h"

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

static guint
key_hash (gconstpointer key)
{
  return g_string_hash (key);
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  return g_string_equal (a, b);
}

static void
key_free (gpointer key)
{
  g_string_free (key, TRUE);
}

static void
value_free_cb (gpointer value)
{
  bgr_toml_value_free (value);
}

BgrTomlValue *
toml_value_new (BgrTomlType kind, guint line, guint column)
{
  BgrTomlValue *v = g_new0 (BgrTomlValue, 1);

  v->kind = kind;
  v->line = line;
  v->column = column;
  if (kind == BGR_TOML_TABLE)
    {
      v->u.table.keys = g_ptr_array_new_with_free_func (key_free);
      v->u.table.values = g_ptr_array_new_with_free_func (value_free_cb);
      v->u.table.index = g_hash_table_new (key_hash, key_equal);
    }
  else if (kind == BGR_TOML_ARRAY)
    v->u.array = g_ptr_array_new_with_free_func (value_free_cb);
  return v;
}

static gboolean
is_string_kind (BgrTomlType kind)
{
  return kind == BGR_TOML_STRING || kind == BGR_TOML_DATETIME ||
         kind == BGR_TOML_DATETIME_LOCAL || kind == BGR_TOML_DATE_LOCAL ||
         kind == BGR_TOML_TIME_LOCAL;
}

void
bgr_toml_value_free (BgrTomlValue *value)
{
  if (value == NULL)
    return;

  if (value->kind == BGR_TOML_TABLE)
    {
      /* The index borrows keys and values: drop it first. */
      g_hash_table_unref (value->u.table.index);
      g_ptr_array_unref (value->u.table.values);
      g_ptr_array_unref (value->u.table.keys);
    }
  else if (value->kind == BGR_TOML_ARRAY)
    g_ptr_array_unref (value->u.array);
  else if (is_string_kind (value->kind))
    g_free (value->u.string.str);
  g_free (value);
}

BgrTomlValue *
toml_table_find (const BgrTomlValue *table, const GString *key)
{
  return g_hash_table_lookup (table->u.table.index, key);
}

/* Appends; the caller has checked that @key is not there yet. */
void
toml_table_insert (BgrTomlValue *table, const GString *key, BgrTomlValue *value)
{
  GString *copy = g_string_new_len (key->str, key->len);

  g_ptr_array_add (table->u.table.keys, copy);
  g_ptr_array_add (table->u.table.values, value);
  g_hash_table_insert (table->u.table.index, copy, value);
}

/* "a boolean", "an inline table"...: used to say what a key already holds. */
const char *
toml_kind_phrase (const BgrTomlValue *v)
{
  switch (v->kind)
    {
    case BGR_TOML_TABLE:
      return v->frozen ? "an inline table" : "a table";
    case BGR_TOML_ARRAY:
      return v->frozen ? "an array" : "an array of tables";
    case BGR_TOML_STRING:
      return "a string";
    case BGR_TOML_INTEGER:
      return "an integer";
    case BGR_TOML_FLOAT:
      return "a float";
    case BGR_TOML_BOOLEAN:
      return "a boolean";
    case BGR_TOML_DATETIME:
      return "a date-time";
    case BGR_TOML_DATETIME_LOCAL:
      return "a local date-time";
    case BGR_TOML_DATE_LOCAL:
      return "a local date";
    case BGR_TOML_TIME_LOCAL:
      return "a local time";
    default:
      return "a value";
    }
}

BgrTomlType
bgr_toml_value_get_kind (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL, BGR_TOML_TABLE);
  return value->kind;
}

guint
bgr_toml_value_get_line (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return value->line;
}

guint
bgr_toml_value_get_column (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL, 0);
  return value->column;
}

const char *
bgr_toml_value_get_string (const BgrTomlValue *value)
{
  return bgr_toml_value_get_string_len (value, NULL);
}

const char *
bgr_toml_value_get_string_len (const BgrTomlValue *value, gsize *length)
{
  g_return_val_if_fail (value != NULL && is_string_kind (value->kind), NULL);
  if (length != NULL)
    *length = value->u.string.len;
  return value->u.string.str;
}

gint64
bgr_toml_value_get_integer (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL && value->kind == BGR_TOML_INTEGER, 0);
  return value->u.integer;
}

double
bgr_toml_value_get_float (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL && value->kind == BGR_TOML_FLOAT, 0.0);
  return value->u.number;
}

gboolean
bgr_toml_value_get_boolean (const BgrTomlValue *value)
{
  g_return_val_if_fail (value != NULL && value->kind == BGR_TOML_BOOLEAN, FALSE);
  return value->u.boolean;
}

guint
bgr_toml_array_get_length (const BgrTomlValue *array)
{
  g_return_val_if_fail (array != NULL && array->kind == BGR_TOML_ARRAY, 0);
  return array->u.array->len;
}

const BgrTomlValue *
bgr_toml_array_get (const BgrTomlValue *array, guint index)
{
  g_return_val_if_fail (array != NULL && array->kind == BGR_TOML_ARRAY, NULL);
  g_return_val_if_fail (index < array->u.array->len, NULL);
  return g_ptr_array_index (array->u.array, index);
}

guint
bgr_toml_table_get_size (const BgrTomlValue *table)
{
  g_return_val_if_fail (table != NULL && table->kind == BGR_TOML_TABLE, 0);
  return table->u.table.keys->len;
}

const char *
bgr_toml_table_get_key (const BgrTomlValue *table, guint index)
{
  return bgr_toml_table_get_key_len (table, index, NULL);
}

const char *
bgr_toml_table_get_key_len (const BgrTomlValue *table, guint index, gsize *length)
{
  const GString *key;

  g_return_val_if_fail (table != NULL && table->kind == BGR_TOML_TABLE, NULL);
  g_return_val_if_fail (index < table->u.table.keys->len, NULL);
  key = g_ptr_array_index (table->u.table.keys, index);
  if (length != NULL)
    *length = key->len;
  return key->str;
}

const BgrTomlValue *
bgr_toml_table_get_value (const BgrTomlValue *table, guint index)
{
  g_return_val_if_fail (table != NULL && table->kind == BGR_TOML_TABLE, NULL);
  g_return_val_if_fail (index < table->u.table.values->len, NULL);
  return g_ptr_array_index (table->u.table.values, index);
}

const BgrTomlValue *
bgr_toml_table_lookup (const BgrTomlValue *table, const char *key)
{
  GString probe;

  g_return_val_if_fail (table != NULL && table->kind == BGR_TOML_TABLE, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  /* A stack GString: the index hashes GStrings, which may hold NULs. */
  probe.str = (char *) key;
  probe.len = strlen (key);
  probe.allocated_len = 0;
  return toml_table_find (table, &probe);
}
