/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrKernel and BgrImage are read-only views of their stored JSON record. */
#pragma once

#include <json-glib/json-glib.h>
#include <banger/banger.h>

G_BEGIN_DECLS

/* Take a reference on @doc. */
BgrKernel *bgr_kernel_new_from_json (JsonObject *doc);
BgrImage *bgr_image_new_from_json (JsonObject *doc);
BgrCatalogKernel *bgr_catalog_kernel_new_from_json (JsonObject *doc);
BgrCacheBlob *bgr_cache_blob_new_from_json (JsonObject *doc);
BgrVm *bgr_vm_new_from_json (JsonObject *doc);
BgrVmPort *bgr_vm_port_new_from_json (JsonObject *doc);
BgrVmStats *bgr_vm_stats_new_from_json (JsonObject *doc);
BgrWorkspace *bgr_workspace_new_from_json (JsonObject *doc);
BgrVmSession *bgr_vm_session_new_from_json (JsonObject *doc);
BgrVmForward *bgr_vm_forward_new_from_json (JsonObject *doc);
JsonObject *bgr_kernel_get_json (BgrKernel *self);
JsonObject *bgr_image_get_json (BgrImage *self);

/* A string (NULL when absent or not a string), integer (0 likewise) or
 * boolean (FALSE likewise) member of a record. */
const char *bgr_record_str (JsonObject *doc, const char *member);
gint64 bgr_record_int (JsonObject *doc, const char *member);
gboolean bgr_record_bool (JsonObject *doc, const char *member);

/* The record as JSON text, bookkeeping members left out. */
char *bgr_record_public_json (JsonObject *doc);

/* D-Bus wire form: the record as a{sv} (null members left out). */
GVariant *bgr_record_to_variant (JsonObject *doc);
JsonObject *bgr_record_from_variant (GVariant *dict, GError **error);

G_END_DECLS
