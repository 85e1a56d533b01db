/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the TOML parser's files share (bgr-toml*.c); libbanger uses
 * bgr-toml-private.h. */
#pragma once

#include <glib.h>

#include "bgr-toml-private.h"

G_BEGIN_DECLS


/* Bounds on nesting. TOML sets none, but a configuration file never needs
 * deep nesting, and bounding it keeps the recursion (here, when freeing, and
 * in every consumer that walks the tree) far from the end of the stack. */
#define MAX_NESTING   128  /* arrays and inline tables inside each other */
#define MAX_KEY_PARTS 128  /* simple keys in one dotted key or header */

struct _BgrTomlValue {
  BgrTomlType kind;
  guint line;
  guint column;

  /* Bookkeeping that makes the table rules enforceable while parsing:
   *  - frozen: an inline table or a static array ("a = [...]"); TOML forbids
   *    adding anything to them afterwards, by header or by dotted key.
   *  - defined: a table named by a [header] (or an element of [[array]]);
   *    it may not be defined again nor extended by dotted keys from another
   *    section.
   *  - dotted/section: a table created or extended by dotted keys, and the
   *    section (header block) where that happened. Dotted keys may extend it
   *    only within that same section, and no header may define it. */
  guint frozen : 1;
  guint defined : 1;
  guint dotted : 1;
  guint section;

  union {
    struct {
      char *str;  /* NUL-terminated, but may also hold NULs ("\u0000") */
      gsize len;
    } string;     /* STRING and the four date/time kinds */
    gint64 integer;
    double number;
    gboolean boolean;
    GPtrArray *array;  /* of BgrTomlValue *, owned */
    struct {
      GPtrArray *keys;    /* of GString *, owned, in document order */
      GPtrArray *values;  /* of BgrTomlValue *, owned, parallel to keys */
      GHashTable *index;  /* GString * -> BgrTomlValue *, both borrowed */
    } table;
  } u;
};

/* One simple key of a dotted key, with its offset for error messages. */
typedef struct {
  GString *name;
  gsize offset;
} KeyPart;

typedef struct {
  const guchar *data;
  gsize len;
  gsize pos;
  const char *filename;
  GError *error;

  /* locate() cache: the line and column at offset loc_offset. */
  gsize loc_offset;
  guint loc_line;
  guint loc_column;
  gsize bom_len;

  BgrTomlValue *root;
  BgrTomlValue *current;  /* table that receives key/value pairs */
  guint section;          /* incremented at each [header] */
  guint depth;            /* current nesting of arrays and inline tables */
} Parser;

/* ---- bgr-toml-value.c ---- */

BgrTomlValue *toml_value_new (BgrTomlType kind, guint line, guint column);
BgrTomlValue *toml_table_find (const BgrTomlValue *table, const GString *key);
void toml_table_insert (BgrTomlValue *table, const GString *key, BgrTomlValue *value);
const char *toml_kind_phrase (const BgrTomlValue *v);

/* ---- bgr-toml-lex.c ---- */

void toml_locate (Parser *p, gsize offset, guint *line, guint *column);
gboolean toml_fail_at (Parser *p, gsize offset, const char *format, ...) G_GNUC_PRINTF (3, 4);
BgrTomlValue *toml_value_new_at (Parser *p, BgrTomlType kind, gsize offset);
char *toml_describe_char (Parser *p, gsize offset);
char *toml_format_key (GArray *key, guint n_parts);
int toml_peek_at (Parser *p, gsize ahead);
int toml_peek (Parser *p);
guint toml_digit_value (int c);
gsize toml_find_invalid_utf8 (const guchar *s, gsize len);
void toml_skip_ws (Parser *p);
gboolean toml_skip_ws_comments_newlines (Parser *p);
gboolean toml_expect_end_of_line (Parser *p, const char *after);
gboolean toml_parse_single_line_string (Parser *p, GString *out);
gboolean toml_parse_multi_line_string (Parser *p, GString *out);
gboolean toml_is_triple_quote (Parser *p);
GArray *toml_key_new (void);
gboolean toml_parse_key (Parser *p, GArray *key);

/* ---- bgr-toml-scalar.c ---- */

gboolean toml_parse_bare_value (Parser *p, BgrTomlValue **out);

G_END_DECLS
