/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <gio/gio.h>
#include <banger/bgr-macros.h>
#include <banger/bgr-client.h>
#include <banger/bgr-operation.h>
#include <banger/bgr-options.h>

G_BEGIN_DECLS

/**
 * BgrWorkspaceSpec:
 *
 * A git checkout to put into a VM (docs/workspaces.md). Keys: `repo` (s,
 * required: a path inside the repository, absolute, read by the process
 * that does the work), `guest-path` (s; default "/root/repo", must be
 * under /root), `mode` (s: "metadata", the default, or "full_copy"),
 * `readonly` (b), `branch` (s: check out a new branch of that name in the
 * guest), `from` (s: a revision; its tree instead of the working files).
 *
 * Since: 0.2
 */
#define BGR_TYPE_WORKSPACE_SPEC (bgr_workspace_spec_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrWorkspaceSpec, bgr_workspace_spec, BGR, WORKSPACE_SPEC,
                                 BgrOptions)

BGR_EXTERN BgrWorkspaceSpec *bgr_workspace_spec_new (const char *repo);
BGR_EXTERN BgrWorkspaceSpec *bgr_workspace_spec_new_from_variant (GVariant *dict,
                                                                  GError **error);
BGR_EXTERN void bgr_workspace_spec_set_repo (BgrWorkspaceSpec *self, const char *path);
BGR_EXTERN const char *bgr_workspace_spec_get_repo (BgrWorkspaceSpec *self);
BGR_EXTERN void bgr_workspace_spec_set_guest_path (BgrWorkspaceSpec *self, const char *path);
BGR_EXTERN const char *bgr_workspace_spec_get_guest_path (BgrWorkspaceSpec *self);
BGR_EXTERN void bgr_workspace_spec_set_mode (BgrWorkspaceSpec *self, const char *mode);
BGR_EXTERN const char *bgr_workspace_spec_get_mode (BgrWorkspaceSpec *self);
BGR_EXTERN void bgr_workspace_spec_set_readonly (BgrWorkspaceSpec *self, gboolean readonly);
BGR_EXTERN gboolean bgr_workspace_spec_get_readonly (BgrWorkspaceSpec *self);
BGR_EXTERN void bgr_workspace_spec_set_branch (BgrWorkspaceSpec *self, const char *branch);
BGR_EXTERN const char *bgr_workspace_spec_get_branch (BgrWorkspaceSpec *self);
BGR_EXTERN void bgr_workspace_spec_set_from (BgrWorkspaceSpec *self, const char *rev);
BGR_EXTERN const char *bgr_workspace_spec_get_from (BgrWorkspaceSpec *self);

/**
 * BgrWorkspace:
 *
 * The workspace of a VM, as its record keeps it: where it came from
 * (repository, commit, branch, mode), where it is (guest path), and
 * whether the guest copy changed since it was prepared.
 *
 * Since: 0.2
 */
#define BGR_TYPE_WORKSPACE (bgr_workspace_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrWorkspace, bgr_workspace, BGR, WORKSPACE, GObject)

BGR_EXTERN const char *bgr_workspace_get_vm_name (BgrWorkspace *self);
BGR_EXTERN const char *bgr_workspace_get_repo (BgrWorkspace *self);
BGR_EXTERN const char *bgr_workspace_get_commit (BgrWorkspace *self);
BGR_EXTERN const char *bgr_workspace_get_branch (BgrWorkspace *self);
BGR_EXTERN const char *bgr_workspace_get_mode (BgrWorkspace *self);
BGR_EXTERN const char *bgr_workspace_get_guest_path (BgrWorkspace *self);
BGR_EXTERN gboolean bgr_workspace_get_readonly (BgrWorkspace *self);
BGR_EXTERN gint bgr_workspace_get_changed (BgrWorkspace *self);
BGR_EXTERN const char *bgr_workspace_get_bootstrap (BgrWorkspace *self);
BGR_EXTERN gint64 bgr_workspace_get_prepared (BgrWorkspace *self);
BGR_EXTERN gint64 bgr_workspace_get_files (BgrWorkspace *self);
BGR_EXTERN gint64 bgr_workspace_get_bytes (BgrWorkspace *self);
BGR_EXTERN char *bgr_workspace_to_json (BgrWorkspace *self);
BGR_EXTERN GVariant *bgr_workspace_to_variant (BgrWorkspace *self);

BGR_EXTERN BgrWorkspace *bgr_client_vm_workspace_prepare (BgrClient *self, const char *name,
                                                          BgrWorkspaceSpec *spec,
                                                          BgrOperation *op,
                                                          GCancellable *cancellable,
                                                          GError **error);
BGR_EXTERN void bgr_client_vm_workspace_prepare_async (BgrClient *self, const char *name,
                                                       BgrWorkspaceSpec *spec, BgrOperation *op,
                                                       GCancellable *cancellable,
                                                       GAsyncReadyCallback callback,
                                                       gpointer user_data);
BGR_EXTERN BgrWorkspace *bgr_client_vm_workspace_prepare_finish (BgrClient *self,
                                                                 GAsyncResult *result,
                                                                 GError **error);
BGR_EXTERN BgrWorkspace *bgr_client_vm_workspace_get (BgrClient *self, const char *name,
                                                      GCancellable *cancellable,
                                                      GError **error);
BGR_EXTERN char *bgr_client_vm_workspace_bootstrap (BgrClient *self, const char *name,
                                                    GCancellable *cancellable, GError **error);
BGR_EXTERN BgrWorkspace *bgr_client_vm_run (BgrClient *self, BgrVmSpec *vm_spec,
                                            BgrWorkspaceSpec *spec, BgrOperation *op,
                                            GCancellable *cancellable, GError **error);

/**
 * BgrWorkspaceExportFlags:
 * @BGR_WORKSPACE_EXPORT_FLAGS_NONE: refuse to move an existing branch
 * @BGR_WORKSPACE_EXPORT_FLAGS_FORCE: move an existing branch (never the
 *   checked-out one)
 * @BGR_WORKSPACE_EXPORT_FLAGS_DRY_RUN: say what would be exported, change
 *   nothing on the host
 *
 * Since: 0.2
 */
typedef enum {
  BGR_WORKSPACE_EXPORT_FLAGS_NONE = 0,
  BGR_WORKSPACE_EXPORT_FLAGS_FORCE = 1 << 0,
  BGR_WORKSPACE_EXPORT_FLAGS_DRY_RUN = 1 << 1
} BgrWorkspaceExportFlags;

BGR_EXTERN BgrWorkspace *bgr_client_vm_workspace_export (BgrClient *self, const char *name,
                                                         const char *branch,
                                                         BgrWorkspaceExportFlags flags,
                                                         BgrOperation *op,
                                                         GCancellable *cancellable,
                                                         GError **error);

/**
 * BgrCopyDirection:
 * @BGR_COPY_TO_VM: from the host into the VM
 * @BGR_COPY_FROM_VM: from the VM to the host
 *
 * Since: 0.2
 */
typedef enum {
  BGR_COPY_TO_VM = 0,
  BGR_COPY_FROM_VM = 1
} BgrCopyDirection;

BGR_EXTERN gboolean bgr_client_vm_copy (BgrClient *self, const char *name,
                                        BgrCopyDirection direction, const char *host_path,
                                        const char *guest_path, BgrOperation *op,
                                        GCancellable *cancellable, GError **error);

G_END_DECLS
