/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bgr-toml-private.h: a strict TOML 1.0.0 parser, private to libbanger. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BGR_TOML_TABLE,
  BGR_TOML_ARRAY,
  BGR_TOML_STRING,
  BGR_TOML_INTEGER,
  BGR_TOML_FLOAT,
  BGR_TOML_BOOLEAN,
  BGR_TOML_DATETIME,        /* offset date-time, e.g. 1979-05-27T07:32:00Z */
  BGR_TOML_DATETIME_LOCAL,  /* 1979-05-27T07:32:00 */
  BGR_TOML_DATE_LOCAL,      /* 1979-05-27 */
  BGR_TOML_TIME_LOCAL       /* 07:32:00 */
} BgrTomlType;

typedef struct _BgrTomlValue BgrTomlValue;

/* Parses a whole document. @filename is used only in error messages.
 * On error returns NULL and sets a BGR_ERROR_INVALID_CONFIG error whose
 * message reads "FILENAME:LINE:COLUMN: what is wrong". The returned root
 * is a table owned by the caller. */
BgrTomlValue *bgr_toml_parse (const char *data, gsize len, const char *filename,
                              GError **error);
BgrTomlValue *bgr_toml_parse_file (const char *path, GError **error);
void bgr_toml_value_free (BgrTomlValue *value);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrTomlValue, bgr_toml_value_free)

BgrTomlType bgr_toml_value_get_kind (const BgrTomlValue *value);
/* 1-based line (and column) where the value starts in the source. */
guint bgr_toml_value_get_line (const BgrTomlValue *value);
guint bgr_toml_value_get_column (const BgrTomlValue *value);

const char *bgr_toml_value_get_string (const BgrTomlValue *value); /* STRING, and the four date/time kinds (their canonical text) */
gint64 bgr_toml_value_get_integer (const BgrTomlValue *value);
double bgr_toml_value_get_float (const BgrTomlValue *value);
gboolean bgr_toml_value_get_boolean (const BgrTomlValue *value);

guint bgr_toml_array_get_length (const BgrTomlValue *array);
const BgrTomlValue *bgr_toml_array_get (const BgrTomlValue *array, guint index);

/* Tables keep keys in document order. */
guint bgr_toml_table_get_size (const BgrTomlValue *table);
const char *bgr_toml_table_get_key (const BgrTomlValue *table, guint index);
const BgrTomlValue *bgr_toml_table_get_value (const BgrTomlValue *table, guint index);
const BgrTomlValue *bgr_toml_table_lookup (const BgrTomlValue *table, const char *key);

/* Private helpers added with the parser. A TOML string or key may contain
 * U+0000 (written "\u0000"), which the NUL-terminated results above cannot
 * show: these also give the length in bytes, so that callers can tell (and,
 * for paths and names, refuse) such text. @length may be NULL. */
const char *bgr_toml_value_get_string_len (const BgrTomlValue *value, gsize *length);
const char *bgr_toml_table_get_key_len (const BgrTomlValue *table, guint index, gsize *length);

G_END_DECLS
