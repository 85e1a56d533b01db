/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state store: one JSON document per object under the state directory,
 * written atomically, guarded by an exclusive lock file. */
#pragma once

#include <json-glib/json-glib.h>
#include <banger/banger.h>

G_BEGIN_DECLS

/* 2: a VM's guest_addrs and an image's oci_layers are lists (they were
 * one "a, b" and one "a,b" string). Older
 * documents are migrated when read (bgr-store.c, migrate()). */
#define BGR_STORE_SCHEMA_VERSION 2

typedef struct _BgrStore BgrStore;

/* Creates @dir (0700) when needed and takes its lock. A second store on the
 * same directory, in this or another process, fails with BGR_ERROR_LOCKED
 * naming the holder's pid. */
BgrStore *bgr_store_open (const char *dir, GError **error);
void bgr_store_close (BgrStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrStore, bgr_store_close)

const char *bgr_store_get_dir (BgrStore *store);

/* Writes @doc as KIND/NAME.json (temp file, fsync, rename, fsync dir).
 * "schema_version", "kind" and "name" members are set on @doc. */
gboolean bgr_store_save (BgrStore *store, const char *kind, const char *name, JsonObject *doc,
                         GError **error);
/* BGR_ERROR_NOT_FOUND when absent, BGR_ERROR_CORRUPT when unreadable. */
JsonObject *bgr_store_load (BgrStore *store, const char *kind, const char *name, GError **error);
gboolean bgr_store_delete (BgrStore *store, const char *kind, const char *name, GError **error);
/* Loads every document of @kind. Documents that cannot be read are skipped;
 * one GError per skipped document is appended to @errors (may be NULL). */
GPtrArray *bgr_store_load_all (BgrStore *store, const char *kind, GPtrArray *errors);

gboolean bgr_store_name_is_valid (const char *name);

/* Called after every successful save (@doc: what was written) and delete
 * (@doc NULL), in the writer's thread (often under the engine lock): it
 * must only note the change. */
typedef void (*BgrStoreWatchFunc) (const char *kind, const char *name, JsonObject *doc,
                                   gpointer data);
void bgr_store_set_watch (BgrStore *store, BgrStoreWatchFunc func, gpointer data);

/* Reads the pid written in DIR/lock, or 0. */
gint64 bgr_store_read_lock_pid (const char *dir);

G_END_DECLS
