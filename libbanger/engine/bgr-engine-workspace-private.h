/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Workspaces (bgr-engine-workspace.c) and vm cp (bgr-engine-copy.c): host
 * files put into a running VM, and back. */
#pragma once

#include "agent-proto/bgr-agent-client-private.h"
#include "engine/bgr-engine-core-private.h"
#include "git/bgr-git-private.h"

G_BEGIN_DECLS

BgrWorkspace *bgr_engine_vm_workspace_prepare (BgrEngine *engine, const char *name,
                                               BgrWorkspaceSpec *spec, BgrOperation *op,
                                               GCancellable *cancellable, GError **error);
/* bgr_engine_vm_workspace_prepare() with the repository already read
 * (@plan, nullable: read here). */
BgrWorkspace *bgr_vm_workspace_prepare_plan (BgrEngine *engine, const char *name,
                                             BgrWorkspaceSpec *spec, BgrGitPlan *plan,
                                             BgrOperation *op, GCancellable *cancellable,
                                             GError **error);
/* Checks @spec (repo, mode, guest path); *mode: its git mode. */
gboolean bgr_vm_workspace_check_spec (BgrWorkspaceSpec *spec, BgrGitMode *mode, GError **error);
/* The record of a workspace prepared from @plan at @guest (its
 * "written_by" left to the caller). */
JsonObject *bgr_vm_workspace_doc (const char *name, BgrWorkspaceSpec *spec, BgrGitPlan *plan,
                                  const char *guest, const char *mode);
/* vm run (bgr-engine-vm-run.c): creates VM @vm_spec, puts the workspace
 * into it (before its boot where the work disk allows it) and starts the
 * bootstrap; returns the workspace as just recorded. A VM whose workspace
 * failed is deleted again. */
BgrWorkspace *bgr_engine_vm_run (BgrEngine *engine, BgrVmSpec *vm_spec, BgrWorkspaceSpec *spec,
                                 BgrOperation *op, GCancellable *cancellable, GError **error);
/* The VM's workspace; for a running VM, whether its copy changed is
 * checked (and kept in the record). */
BgrWorkspace *bgr_engine_vm_workspace_get (BgrEngine *engine, const char *name,
                                           GCancellable *cancellable, GError **error);
/* Starts the guest bootstrap (mise install in the background) and returns
 * the one line saying what it did. */
char *bgr_engine_vm_workspace_bootstrap (BgrEngine *engine, const char *name,
                                         GCancellable *cancellable, GError **error);
/* bgr_engine_vm_workspace_bootstrap() for the workspace at @guest_path
 * (without asking the guest whether it changed first). */
char *bgr_vm_workspace_bootstrap_at (BgrEngine *engine, const char *name, const char *guest_path,
                                     GCancellable *cancellable, GError **error);
/* The digest of the guest copy's HEAD and status; NULL when the guest
 * cannot tell (no git, no workspace). */
char *bgr_vm_workspace_digest (BgrAgentConn *conn, const char *guest_path,
                               GCancellable *cancellable);
/* Stores @ws as VM @name's "workspace"; returns its public view. */
BgrWorkspace *bgr_vm_workspace_store (BgrEngine *engine, const char *name, JsonObject *ws,
                                      GError **error);
/* Guest commits and uncommitted work back as host branch @branch
 * (bgr-engine-export.c); @dry_run only says what it would do. */
BgrWorkspace *bgr_engine_vm_workspace_export (BgrEngine *engine, const char *name,
                                              const char *branch, gboolean force,
                                              gboolean dry_run, BgrOperation *op,
                                              GCancellable *cancellable, GError **error);
gboolean bgr_engine_vm_copy (BgrEngine *engine, const char *name, BgrCopyDirection direction,
                             const char *host_path, const char *guest_path, BgrOperation *op,
                             GCancellable *cancellable, GError **error);

G_END_DECLS
