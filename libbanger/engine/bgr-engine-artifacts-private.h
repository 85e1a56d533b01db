/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What kernels and images share (bgr-engine-artifacts.c): checks of names
 * and paths, staging directories, reservations of names being created,
 * and deletion. Every change is built in a temporary directory and renamed
 * into place before its record is written, so a failure or a crash leaves
 * nothing registered. */
#pragma once

#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

gboolean bgr_artifact_check_name (const char *what, const char *name, GError **error);
gboolean bgr_artifact_check_absolute (const char *option, const char *path, GError **error);
gboolean bgr_artifact_check_regular (const char *what, const char *path, GError **error);

/* STATE/KIND_DIR/NAME. */
char *bgr_artifact_dir (BgrEngine *engine, const char *kind_dir, const char *name);
/* A fresh temporary directory beside the final one (same filesystem, so
 * the final rename is atomic). */
char *bgr_artifact_make_staging (BgrEngine *engine, const char *kind_dir, const char *name,
                                 GError **error);

/* Reserves KIND/NAME while it is being created: BGR_ERROR_EXISTS when it
 * exists or another create has it. */
gboolean bgr_artifact_reserve (BgrEngine *engine, const char *kind, const char *name,
                               GError **error);
void bgr_artifact_unreserve (BgrEngine *engine, const char *kind, const char *name);

/* Deletes the record KIND/NAME and, when @with_files, moves its directory
 * KIND_DIR/NAME aside into *out_aside; called with the engine lock held.
 * The files go after the lock, with bgr_artifact_remove_aside(): a crash
 * leaves only unreferenced files. */
gboolean bgr_artifact_delete_locked (BgrEngine *engine, const char *kind, const char *kind_dir,
                                     const char *name, gboolean with_files, char **out_aside,
                                     GError **error);
/* Removes @aside (may be NULL); called without the lock. */
gboolean bgr_artifact_remove_aside (const char *aside, GError **error);

void bgr_artifact_log_load_errors (GPtrArray *errors);

G_END_DECLS
