/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a catalog's JSON fields strictly (bgr-catalog-fields.c): each
 * error names the catalog, the entry and the field. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Where a message points: the catalog, and the entry being read. */
typedef struct {
  const char *url;
  gboolean is_local; /* loaded from a file: URL */
  gint index; /* -1 outside kernels[] */
  const char *name; /* the entry's name as written, NULL when unknown */
} BgrCatalogCtx;

/* Sets @error: "catalog URL: kernels[I] ("NAME"): what". */
void bgr_catalog_fail (const BgrCatalogCtx *c, GError **error, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);
/* The member, NULL when absent or null (the same to a catalog). */
JsonNode *bgr_catalog_get_member (JsonObject *obj, const char *member);
/* Every member of @obj is in @known; @prefix leads the field's name. */
gboolean bgr_catalog_check_members (const BgrCatalogCtx *c, JsonObject *obj, const char *prefix,
                                    const char *const *known, GError **error);
/* A string member (not empty when @required); *out NULL when absent. */
gboolean bgr_catalog_get_string (const BgrCatalogCtx *c, JsonObject *obj, const char *prefix,
                                 const char *member, gboolean required, const char **out,
                                 GError **error);
/* An object member; *out NULL when absent. */
gboolean bgr_catalog_get_object (const BgrCatalogCtx *c, JsonObject *obj, const char *prefix,
                                 const char *member, gboolean required, JsonObject **out,
                                 GError **error);
/* A required member holding a plain integer. */
gboolean bgr_catalog_get_int (const BgrCatalogCtx *c, JsonObject *obj, const char *prefix,
                              const char *member, gint64 *out, GError **error);
/* @ref resolved against the catalog's URL: http(s) with a host, or file:
 * for a local catalog only. */
char *bgr_catalog_resolve_url (const BgrCatalogCtx *c, const char *field, const char *ref,
                               GError **error);

G_END_DECLS
