/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How an options subclass declares its keys, and typed accessors for the
 * subclasses' setters and getters (bgr-options.c). */
#pragma once

#include <banger/banger.h>

G_BEGIN_DECLS

/* One known key: its name and its GVariant type string. A subclass's
 * table ends with { NULL, NULL }. */
typedef struct _BgrOptionKey {
  const char *key;
  const char *type;
} BgrOptionKey;

/* Sets @key (which must be in the class's table, with @value of its type;
 * a floating @value is sunk); NULL unsets it. */
void bgr_options_put (BgrOptions *self, const char *key, GVariant *value);
/* The value of @key, or NULL when unset. Owned by @self. */
GVariant *bgr_options_peek (BgrOptions *self, const char *key);

void bgr_options_put_string (BgrOptions *self, const char *key, const char *value);
const char *bgr_options_get_string (BgrOptions *self, const char *key);
void bgr_options_put_uint32 (BgrOptions *self, const char *key, guint32 value);
guint32 bgr_options_get_uint32 (BgrOptions *self, const char *key);
void bgr_options_put_uint64 (BgrOptions *self, const char *key, guint64 value);
guint64 bgr_options_get_uint64 (BgrOptions *self, const char *key);
void bgr_options_put_boolean (BgrOptions *self, const char *key, gboolean value);
gboolean bgr_options_get_boolean (BgrOptions *self, const char *key);
void bgr_options_put_strv (BgrOptions *self, const char *key, const char *const *value);
char **bgr_options_dup_strv (BgrOptions *self, const char *key);

/* A new @type filled from @dict (a{sv}); unknown keys and wrong types are
 * refused, naming the key. */
gpointer bgr_options_new_from_variant (GType type, GVariant *dict, GError **error);

G_END_DECLS
