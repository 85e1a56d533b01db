/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vm run (docs/workspaces.md): a new VM with a workspace in it. The
 * repository is read first; then, once the VM's disks are made, the
 * workspace's tar is written straight into the work disk (mounted on
 * /root in the guest) with libext2fs while the VM boots, which is much
 * faster than a guest unpacking it through the agent; the guest's agent
 * waits for the disk before it mounts it (bgr-engine-disk-job.c). Where
 * that cannot be done (a work disk that is not ext4, something already
 * at the path, --readonly, names ext4's layer replay would read as
 * whiteouts), the workspace goes through the agent after the boot, as
 * `vm workspace prepare` does. A crash while the disk is written leaves
 * a record saying so, which the next engine removes with its VM. */
#include "config.h"

#include <string.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-operation-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "engine/bgr-engine-workspace-private.h"
#include "ext4/bgr-ext4-stream-private.h"

#define WORK_MOUNT "/root"
#define DEFAULT_GUEST_PATH "/root/repo"
/* A workspace larger than this is written before the boot: written beside
 * it, it could outlast the boot's wait for the agent (180 s). */
#define BESIDE_BOOT_MAX (G_GUINT64_CONSTANT (8) << 30)

typedef struct {
  BgrGitPlan *plan;
  const char *disk_path; /* the guest path as on the work disk: "/repo" */
  BgrOperation *op;
  guint64 total;
  BgrExt4Writer *writer; /* from begin to write */
  char *work_disk;
  gboolean fresh;
  gboolean written;
} PreBoot;

static void
write_progress (guint64 done, gpointer data)
{
  PreBoot *p = data;
  bgr_operation_update (p->op, "writing the workspace into the work disk", NULL, done, p->total);
}

static gboolean
produce_tar (int fd, gpointer data, GCancellable *cancellable, GError **error)
{
  PreBoot *p = data;
  return bgr_git_plan_write_tar (p->plan, p->disk_path + 1, fd, write_progress, p, cancellable,
                                 error);
}

/* Whether the workspace can go into @work_disk before the boot. A fresh
 * work disk gets the image's /root copied onto it at the first boot (the
 * agent does it when it finds BGR_AGENT_WORK_SEED_MARKER); *fresh says so,
 * and then the image must have nothing at the guest path either. */
static gboolean
disk_takes_it (const char *rootfs, const char *work_disk, PreBoot *p, gboolean *fresh,
               GError **error)
{
  g_autofree char *guest = g_strconcat (WORK_MOUNT, p->disk_path, NULL);

  return bgr_ext4_path_is_free (work_disk, p->disk_path, error)
         && bgr_ext4_root_is_empty (work_disk, fresh, error)
         && (!*fresh || bgr_ext4_path_is_free (rootfs, guest, error));
}

/* BgrVmDiskWrite's begin: a work disk that cannot take the workspace is
 * not an error (the agent does it after the boot). */
static gboolean
begin_write (const char *rootfs, const char *work_disk, gpointer data, BgrOperation *op,
             GError **error)
{
  PreBoot *p = data;
  g_autoptr (GError) skip = NULL;

  (void) error;
  p->op = op;
  if (!disk_takes_it (rootfs, work_disk, p, &p->fresh, &skip)
      || (p->writer = bgr_ext4_writer_open (work_disk, &skip)) == NULL)
    {
      g_info ("the workspace goes through the guest agent: %s", skip->message);
      return FALSE;
    }
  p->work_disk = g_strdup (work_disk);
  return TRUE;
}

/* BgrVmDiskWrite's write, in a thread of its own as the VM boots. */
static gboolean
write_workspace (gpointer data, GCancellable *cancellable, GError **error)
{
  PreBoot *p = data;
  g_autoptr (BgrExt4Writer) w = g_steal_pointer (&p->writer);
  gint64 t0 = g_get_monotonic_time ();

  bgr_operation_update (p->op, "writing the workspace into the work disk", NULL, 0, p->total);
  if (!bgr_ext4_writer_apply_stream (w, "the workspace", produce_tar, p, cancellable, error)
      || (p->fresh && !bgr_ext4_writer_add_data (w, "/" BGR_AGENT_WORK_SEED_MARKER, "", 0, 0600, error))
      || !bgr_ext4_writer_close (g_steal_pointer (&w), error))
    return FALSE;
  g_debug ("the workspace written into %s in %.3f s", p->work_disk, (g_get_monotonic_time () - t0) / 1e6);
  bgr_crash_point ("vm-run.workspace-written");
  p->written = TRUE;
  return TRUE;
}

/* The workspace record of one written before the boot; the guest's digest
 * is taken now that it runs. */
static BgrWorkspace *
record_written (BgrEngine *engine, const char *name, BgrWorkspaceSpec *spec, BgrGitPlan *plan,
                const char *guest, BgrGitMode mode, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrVmClaim) claim = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autoptr (JsonObject) ws = NULL;
  g_autofree char *digest = NULL;

  if ((doc = bgr_vm_load_running (engine, name, error)) == NULL
      || (claim = bgr_vm_claim (engine, name, "preparing a workspace", error)) == NULL)
    return NULL;
  ws = bgr_vm_workspace_doc (name, spec, plan, guest,
                             mode == BGR_GIT_MODE_METADATA ? "metadata" : "full_copy");
  json_object_set_string_member (ws, "written_by", "work_disk");
  conn = bgr_vm_agent_get (engine, doc, cancellable, NULL);
  if (conn != NULL && (digest = bgr_vm_workspace_digest (conn, guest, cancellable)) != NULL)
    {
      json_object_set_string_member (ws, "guest_digest", digest);
      json_object_set_boolean_member (ws, "changed", FALSE);
    }
  bgr_vm_record_touch (engine, name);
  return bgr_vm_workspace_store (engine, name, ws, error);
}

/* The workspace as recorded now (the guest was just asked). */
static BgrWorkspace *
stored_view (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_record_load (engine, name, error);
  JsonObject *ws;

  if (doc == NULL)
    return NULL;
  ws = json_object_get_object_member (doc, "workspace");
  if (ws == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "VM '%s' lost its workspace record", name);
      return NULL;
    }
  return bgr_vm_workspace_store (engine, name, ws, error);
}

BgrWorkspace *
bgr_engine_vm_run (BgrEngine *engine, BgrVmSpec *vm_spec, BgrWorkspaceSpec *spec,
                   BgrOperation *op, GCancellable *cancellable, GError **error)
{
  const char *name = bgr_vm_spec_get_name (vm_spec);
  const char *guest = bgr_workspace_spec_get_guest_path (spec);
  g_autoptr (BgrGitPlan) plan = NULL;
  g_autoptr (BgrVm) vm = NULL;
  g_autoptr (BgrWorkspace) ws = NULL;
  GError *local = NULL;
  PreBoot p = { 0 };
  BgrVmDiskWrite dw = { begin_write, write_workspace, NULL, FALSE };
  BgrGitMode mode;
  gboolean try_disk;
  gint64 t0 = g_get_monotonic_time ();

  if (guest == NULL)
    guest = DEFAULT_GUEST_PATH;
  if (!bgr_vm_workspace_check_spec (spec, &mode, error))
    return NULL;
  /* The repository is read before anything is made: bad input leaves no
   * VM behind. */
  bgr_operation_update (op, "reading the repository", NULL, 0, 0);
  plan = bgr_git_plan_new (bgr_workspace_spec_get_repo (spec), mode,
                           bgr_workspace_spec_get_from (spec), bgr_workspace_spec_get_branch (spec),
                           BGR_GIT_PACK_STREAMED, cancellable, error);
  if (plan == NULL)
    return NULL;
  g_debug ("vm run %s: repository read in %.3f s", name, (g_get_monotonic_time () - t0) / 1e6);
  p.plan = plan;
  p.total = bgr_git_plan_get_bytes (plan);
  p.disk_path = guest + strlen (WORK_MOUNT);
  try_disk = g_str_has_prefix (guest, WORK_MOUNT "/") && !bgr_workspace_spec_get_readonly (spec)
             && !bgr_git_plan_has_name_prefix (plan, ".wh.");
  dw.data = &p;
  dw.before_boot = p.total > BESIDE_BOOT_MAX;
  vm = bgr_engine_create_vm_with (engine, vm_spec, try_disk ? &dw : NULL, op, cancellable, error);
  g_clear_pointer (&p.writer, bgr_ext4_writer_abort);
  g_clear_pointer (&p.work_disk, g_free);
  if (vm == NULL)
    return NULL;
  g_debug ("vm run %s: created%s at %.3f s", name, p.written ? ", workspace written into its work disk," : "",
           (g_get_monotonic_time () - t0) / 1e6);
  if (p.written)
    ws = record_written (engine, name, spec, plan, guest, mode, cancellable, &local);
  else
    ws = bgr_vm_workspace_prepare_plan (engine, name, spec, plan, op, cancellable, &local);
  if (ws == NULL)
    {
      g_autoptr (GError) cleanup = NULL;
      if (!bgr_engine_delete_vm (engine, name, TRUE, &cleanup))
        g_warning ("cannot delete VM %s after its workspace failed: %s", name, cleanup->message);
      g_propagate_prefixed_error (error, local, "VM '%s' was removed again: ", name);
      return NULL;
    }
  g_debug ("vm run %s: workspace recorded at %.3f s", name, (g_get_monotonic_time () - t0) / 1e6);
  /* Its failure never fails vm run; the record says what it did. */
  g_free (bgr_vm_workspace_bootstrap_at (engine, name, guest, cancellable, NULL));
  return stored_view (engine, name, error);
}
