/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VMs: create (clone disks, install the guest agent and the kernel's
 * modules, start the VMM, wait for the agent), start, stop, kill, delete,
 * exec, logs; and reconciliation, which makes the records converge with
 * the VMM processes that are (or are no longer) there after a restart of
 * the engine, a kill -9 or a host reboot. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-client-private.h"
#include "agent-proto/bgr-agent-proto.h"
#include "bgr-doctor-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-private.h"
#include "ext4/bgr-ext4-writer-private.h"
#include "kernel/bgr-kernel-files-private.h"
#include "vmm/bgr-vmm-private.h"

#define VM_KIND "vm"
#define BOOT_TIMEOUT_MS (180 * 1000)
#define AGENT_TIMEOUT_MS (10 * 1000)
#define STOP_AGENT_WAIT_MS (60 * 1000)
#define STOP_ACPI_WAIT_MS (20 * 1000)
#define MODULES_SLACK (16 * 1024 * 1024)
#define CONSOLE_MAX (8 * 1024 * 1024)
#define LOGS_MAX ((guint64) 16 * 1024 * 1024)
#define CONSOLE_KEEP (1024 * 1024)
/* Guest CPU use (per mille, between two samples) or network bytes per
 * sample that count as activity for auto_stop_stale_after. */
#define ACTIVE_CPU_PERMILLE 100
#define ACTIVE_NET_BYTES (256 * 1024)

/* The agent binary, embedded (bgr-agent-blob.c). */
extern const char bgr_agent_blob_start[];
extern const char bgr_agent_blob_end[];

/* ---- in-memory state per VM ----------------------------------------------- */

typedef struct {
  GMutex lock;         /* serialises connecting to the agent */
  BgrAgentConn *agent; /* NULL until first needed */
  char *busy;          /* the operation in progress, or NULL */
  gint execs;          /* vm exec calls running (they count as activity) */
  gboolean kill_requested; /* vm kill while a stop waits: the stop says so */
  JsonObject *last_guest, *prev_guest; /* the last two guest samples */
  JsonObject *last_vmm;                /* the last VMM sample */
} VmRt;

struct _BgrEngineVms {
  GMutex lock;
  GHashTable *rt; /* name -> VmRt */
};

static void
vm_rt_free (gpointer p)
{
  VmRt *rt = p;
  g_clear_pointer (&rt->agent, bgr_agent_conn_unref);
  g_clear_pointer (&rt->last_guest, json_object_unref);
  g_clear_pointer (&rt->prev_guest, json_object_unref);
  g_clear_pointer (&rt->last_vmm, json_object_unref);
  g_free (rt->busy);
  g_mutex_clear (&rt->lock);
  g_free (rt);
}

BgrEngineVms *
bgr_engine_vms_new (void)
{
  BgrEngineVms *vms = g_new0 (BgrEngineVms, 1);
  g_mutex_init (&vms->lock);
  vms->rt = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, vm_rt_free);
  return vms;
}

void
bgr_engine_vms_free (BgrEngineVms *vms)
{
  if (vms == NULL)
    return;
  g_hash_table_unref (vms->rt);
  g_mutex_clear (&vms->lock);
  g_free (vms);
}

static VmRt *
rt_get (BgrEngine *engine, const char *name)
{
  BgrEngineVms *vms = bgr_engine_get_vms (engine);
  VmRt *rt;

  g_mutex_lock (&vms->lock);
  rt = g_hash_table_lookup (vms->rt, name);
  if (rt == NULL)
    {
      rt = g_new0 (VmRt, 1);
      g_mutex_init (&rt->lock);
      g_hash_table_insert (vms->rt, g_strdup (name), rt);
    }
  g_mutex_unlock (&vms->lock);
  return rt;
}

/* Marks @name busy with @what; BGR_ERROR_BUSY when another operation runs. */
static gboolean
claim (BgrEngine *engine, const char *name, const char *what, GError **error)
{
  BgrEngineVms *vms = bgr_engine_get_vms (engine);
  VmRt *rt = rt_get (engine, name);
  gboolean ok = TRUE;

  g_mutex_lock (&vms->lock);
  if (rt->busy != NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY, "VM '%s' is busy (%s); try again when it is done",
                   name, rt->busy);
      ok = FALSE;
    }
  else
    rt->busy = g_strdup (what);
  g_mutex_unlock (&vms->lock);
  return ok;
}

static void
release (BgrEngine *engine, const char *name)
{
  BgrEngineVms *vms = bgr_engine_get_vms (engine);
  VmRt *rt = rt_get (engine, name);

  g_mutex_lock (&vms->lock);
  g_clear_pointer (&rt->busy, g_free);
  g_mutex_unlock (&vms->lock);
}

static JsonObject *load_vm (BgrEngine *engine, const char *name, GError **error);
static gboolean reconcile_full (BgrEngine *engine, JsonObject *doc, gboolean claimed);
static gboolean check_vm_name (const char *name, GError **error);

/* Claims @name, then loads its record: what another operation did before
 * the claim (a create that failed, a delete) is seen. */
static JsonObject *
claim_and_load (BgrEngine *engine, const char *name, const char *what, GError **error)
{
  JsonObject *doc;

  if (!check_vm_name (name, error) || !claim (engine, name, what, error))
    return NULL;
  doc = load_vm (engine, name, error);
  if (doc == NULL)
    {
      release (engine, name);
      return NULL;
    }
  reconcile_full (engine, doc, TRUE);
  return doc;
}

static gboolean
is_busy (BgrEngine *engine, const char *name)
{
  BgrEngineVms *vms = bgr_engine_get_vms (engine);
  VmRt *rt;
  gboolean busy;

  g_mutex_lock (&vms->lock);
  rt = g_hash_table_lookup (vms->rt, name);
  busy = rt != NULL && rt->busy != NULL;
  g_mutex_unlock (&vms->lock);
  return busy;
}

gboolean
bgr_engine_vm_is_busy (BgrEngine *engine, const char *name)
{
  return is_busy (engine, name);
}

static void
drop_agent (BgrEngine *engine, const char *name)
{
  VmRt *rt = rt_get (engine, name);
  BgrAgentConn *old;

  g_mutex_lock (&rt->lock);
  old = g_steal_pointer (&rt->agent);
  g_mutex_unlock (&rt->lock);
  if (old != NULL)
    bgr_agent_conn_unref (old);
}

/* ---- records ------------------------------------------------------------- */

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static BgrVmmInstance *
instance_of (JsonObject *doc)
{
  JsonNode *n = json_object_get_member (doc, "vmm");
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? bgr_vmm_instance_from_json (json_node_get_object (n))
                                                 : NULL;
}

static gboolean
state_is_live (const char *state)
{
  return g_strcmp0 (state, "running") == 0 || g_strcmp0 (state, "starting") == 0
         || g_strcmp0 (state, "stopping") == 0;
}

/* Pointers from bgr_record_str() die when their member is set again, as the store
 * does with "name": callers keep copies of what they use across a save. */
static gboolean
save (BgrEngine *engine, JsonObject *doc, GError **error)
{
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  gboolean ok;
  bgr_engine_lock (engine);
  ok = bgr_store_save (bgr_engine_get_store (engine), VM_KIND, name, doc, error);
  bgr_engine_unlock (engine);
  return ok;
}

/* The public, flat view of a record. */
static BgrVm *
view (JsonObject *doc)
{
  static const char *const hidden[] = { "vmm", "run_dir", "dir", NULL };
  g_autoptr (JsonObject) v = json_object_new ();
  g_autoptr (BgrVmmInstance) inst = instance_of (doc);
  GList *members = json_object_get_members (doc);

  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (hidden, l->data))
      json_object_set_member (v, l->data, json_node_copy (json_object_get_member (doc, l->data)));
  g_list_free (members);
  json_object_set_int_member (v, "pid", inst != NULL && state_is_live (bgr_record_str (doc, "state")) ? inst->pid : 0);
  return bgr_vm_new_from_json (v);
}

static gboolean
check_vm_name (const char *name, GError **error)
{
  gsize len = name != NULL ? strlen (name) : 0;
  gboolean ok = len >= 1 && len <= 63 && g_ascii_isalnum (name[0]) && g_ascii_isalnum (name[len - 1]);

  for (gsize i = 0; ok && i < len; i++)
    ok = (g_ascii_islower (name[i]) || g_ascii_isdigit (name[i]) || name[i] == '-');
  if (!ok)
    g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                 "invalid VM name '%s': a VM name is a DNS label (it becomes NAME.vm): 1-63 "
                 "lowercase letters, digits and '-', starting and ending with a letter or digit",
                 name != NULL ? name : "");
  return ok;
}

static JsonObject *
load_vm (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (GError) local = NULL;
  JsonObject *doc;

  if (!check_vm_name (name, error))
    return NULL;
  doc = bgr_store_load (bgr_engine_get_store (engine), VM_KIND, name, &local);
  if (doc == NULL)
    {
      if (g_error_matches (local, BGR_ERROR, BGR_ERROR_NOT_FOUND))
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "no VM named '%s' (see `banger vm list`)",
                     name);
      else
        g_propagate_error (error, g_steal_pointer (&local));
    }
  return doc;
}

/* ---- console log ------------------------------------------------------------ */

/* Why a guest went away, read from the end of its console. */
static char *
exit_reason (const char *console_log)
{
  g_autofree char *tail = bgr_read_tail (console_log, 16 * 1024);
  g_auto (GStrv) lines = g_strsplit (tail, "\n", -1);
  guint n = g_strv_length (lines);

  for (guint i = n; i > 0; i--)
    {
      char *l = g_strstrip (lines[i - 1]);
      const char *p;
      if ((p = strstr (l, "Kernel panic")) != NULL)
        return g_strdup_printf ("the guest kernel panicked: %s", p);
      if ((p = strstr (l, "banger-init: ")) != NULL && strstr (l, "loaded") == NULL
          && strstr (l, "mounted") == NULL && strstr (l, "switching") == NULL)
        return g_strdup_printf ("the guest could not boot: %s", p);
      if ((p = strstr (l, "banger-vsock-agent: no init")) != NULL)
        return g_strdup_printf ("the guest could not boot: %s", p);
      if (strstr (l, "reboot: Power down") != NULL)
        return g_strdup ("the guest powered off");
      if (strstr (l, "reboot: Restarting system") != NULL)
        return g_strdup ("the guest rebooted (a banger VM stops when its guest reboots)");
    }
  return g_strdup ("the VMM process exited unexpectedly");
}

/* ---- reconciliation ----------------------------------------------------------- */

/* Brings @doc in line with the world: a live state whose VMM is gone becomes
 * stopped (or error, if it never got ready) with the reason. Returns TRUE
 * when @doc changed (and was saved). */
static gboolean
needs_reconcile (BgrEngine *engine, JsonObject *doc, gboolean claimed)
{
  g_autoptr (BgrVmmInstance) inst = NULL;

  if (!state_is_live (bgr_record_str (doc, "state")) || (!claimed && is_busy (engine, bgr_record_str (doc, "name"))))
    return FALSE;
  inst = instance_of (doc);
  return inst == NULL || !bgr_vmm_instance_is_alive (inst);
}

static void
replace_members (JsonObject *to, JsonObject *from)
{
  GList *members = json_object_get_members (to);
  for (GList *l = members; l != NULL; l = l->next)
    if (!json_object_has_member (from, l->data))
      json_object_remove_member (to, l->data);
  g_list_free (members);
  members = json_object_get_members (from);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (to, l->data, json_node_copy (json_object_get_member (from, l->data)));
  g_list_free (members);
}

static gboolean
reconcile_full (BgrEngine *engine, JsonObject *doc, gboolean claimed)
{
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  g_autoptr (JsonObject) fresh = NULL;
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autofree char *reason = NULL, *state = NULL;
  g_autoptr (GError) error = NULL;

  if (!needs_reconcile (engine, doc, claimed))
    return FALSE;
  /* @doc may be stale (the supervisor read it a moment ago): decide and
   * write on the stored record, under the lock, so that a VM deleted or
   * changed meanwhile is not written back. */
  bgr_engine_lock (engine);
  fresh = bgr_store_load (bgr_engine_get_store (engine), VM_KIND, name, NULL);
  if (fresh == NULL || !needs_reconcile (engine, fresh, claimed))
    {
      bgr_engine_unlock (engine);
      if (fresh != NULL)
        replace_members (doc, fresh);
      return FALSE;
    }
  state = g_strdup (bgr_record_str (fresh, "state"));
  inst = instance_of (fresh);
  if (inst == NULL)
    reason = g_strdup ("creation was interrupted before the VMM started");
  else if (g_strcmp0 (state, "stopping") == 0)
    reason = g_strdup ("stopped");
  else
    reason = exit_reason (bgr_record_str (fresh, "console_log"));
  json_object_set_string_member (fresh, "state", g_strcmp0 (state, "starting") == 0 ? "error" : "stopped");
  json_object_set_string_member (fresh, "reason", reason);
  json_object_set_int_member (fresh, "stopped", now_s ());
  json_object_remove_member (fresh, "vmm");
  if (!bgr_store_save (bgr_engine_get_store (engine), VM_KIND, name, fresh, &error))
    g_warning ("cannot save VM %s: %s", name, error->message);
  bgr_engine_unlock (engine);
  g_info ("VM %s: %s", name, reason);
  drop_agent (engine, name);
  replace_members (doc, fresh);
  return TRUE;
}

/* For callers that do not hold the VM: a VM some operation holds is left
 * to that operation. */
static gboolean
reconcile (BgrEngine *engine, JsonObject *doc)
{
  return reconcile_full (engine, doc, FALSE);
}

void
bgr_engine_adopt_vms (BgrEngine *engine)
{
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), VM_KIND, NULL);

  for (guint i = 0; i < docs->len; i++)
    {
      JsonObject *doc = docs->pdata[i];
      if (!reconcile (engine, doc) && state_is_live (bgr_record_str (doc, "state")))
        {
          g_autoptr (BgrVmmInstance) inst = instance_of (doc);
          g_info ("adopted VM %s (%s pid %d, %s)", bgr_record_str (doc, "name"),
                  inst != NULL ? inst->driver : "?", inst != NULL ? inst->pid : 0,
                  bgr_record_str (doc, "state"));
        }
    }
}

/* ---- boot ------------------------------------------------------------------- */

static char *
tsc_khz_arg (void)
{
  g_autofree char *info = NULL;
  const char *p;
  double mhz;

  if (!g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL)
      || (p = strstr (info, "cpu MHz")) == NULL || (p = strchr (p, ':')) == NULL)
    return g_strdup ("");
  mhz = g_ascii_strtod (p + 1, NULL);
  if (mhz <= 0)
    return g_strdup ("");
  return g_strdup_printf (" tsc_early_khz=%u", (guint) (mhz * 1000));
}

static gboolean
kernel_is_elf (const char *path)
{
  BgrKernelFormat format;
  return bgr_kernel_detect_format (path, &format, NULL, NULL) && format == BGR_KERNEL_FORMAT_VMLINUX;
}

/* Picks the driver and the accelerator, as `banger doctor` explains. */
/* Set when a guest chosen to run under KVM by "auto" never got its kernel
 * going: some hosts (nested setups) create KVM VMs and vCPUs fine, yet
 * guests hang. From then on "auto" means TCG in this process. */
static gint kvm_broken;

static gboolean
choose_hypervisor (BgrEngine *engine, const char *kernel, char **out_driver, gboolean *out_kvm,
                   gboolean *out_auto_kvm, GError **error)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  const char *hv = bgr_config_get_string (config, "hypervisor");
  const char *accel = bgr_config_get_string (config, "qemu_accel");
  g_autofree char *why = NULL;
  g_autofree char *fc = g_find_program_in_path (bgr_config_get_string (config, "firecracker_bin"));
  gboolean kvm = bgr_doctor_probe_kvm (&why) == 1;
  gboolean auto_kvm = kvm && !g_atomic_int_get (&kvm_broken);

  *out_auto_kvm = FALSE;
  if (g_str_equal (hv, "firecracker")
      || (g_str_equal (hv, "auto") && fc != NULL && auto_kvm && kernel_is_elf (kernel)))
    {
      if (fc == NULL)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                       "hypervisor = \"firecracker\" but '%s' is not in PATH (firecracker_bin)",
                       bgr_config_get_string (config, "firecracker_bin"));
          return FALSE;
        }
      /* Asked for by name, firecracker gets to try: where KVM is
       * missing its own error (quoted from its output) says so. */
      if (!kvm)
        g_info ("hypervisor = \"firecracker\" without a usable KVM (%s): it will likely fail", why);
      if (!kernel_is_elf (kernel))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "firecracker boots only an uncompressed vmlinux (ELF), and %s is not one; "
                       "use hypervisor = \"qemu\" for this image", kernel);
          return FALSE;
        }
      *out_driver = g_strdup ("firecracker");
      *out_kvm = TRUE;
      *out_auto_kvm = g_str_equal (hv, "auto");
      return TRUE;
    }
  *out_driver = g_strdup ("qemu");
  *out_kvm = g_str_equal (accel, "kvm") || (g_str_equal (accel, "auto") && auto_kvm);
  *out_auto_kvm = *out_kvm && g_str_equal (accel, "auto");
  if (g_str_equal (accel, "kvm") && !kvm)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "qemu_accel = \"kvm\" but %s (see `banger doctor`)", why);
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  BgrEngine *engine;
  JsonObject *doc;
  const BgrVmmInstance *inst;
  BgrVmProgressFunc progress;
  gpointer progress_data;
  guint step, n_steps;   /* the "booting" step; the agent step follows */
  gboolean saw_init;
  gint64 vmm_started_us, init_us;
  goffset console_from;  /* where this boot's console output starts */
  gboolean watch_kvm;    /* KVM chosen by "auto": give up on it if the kernel never starts */
  gboolean kvm_hang;     /* set when that happened */
} Boot;

#define KVM_KERNEL_START_MS 15000

static void
report (BgrVmProgressFunc progress, gpointer data, const char *phase, guint step, guint n)
{
  g_debug ("phase %u/%u: %s", step, n, phase);
  if (progress != NULL)
    progress (phase, step, n, data);
}

static goffset
file_size (const char *path)
{
  struct stat st;
  return path != NULL && stat (path, &st) == 0 ? st.st_size : 0;
}

/* Between waits for the agent: is the VMM still there, has the kernel
 * handed over to init yet (for the progress display and the timings)? */
static gboolean
boot_alive (gpointer data, GError **error)
{
  Boot *b = data;

  if (!b->saw_init)
    {
      g_autofree char *text = bgr_read_tail (bgr_record_str (b->doc, "console_log"),
                                         (gsize) MAX (0, file_size (bgr_record_str (b->doc, "console_log")) - b->console_from));
      if (strstr (text, "as init process") != NULL)
        {
          b->saw_init = TRUE;
          b->init_us = g_get_monotonic_time ();
          report (b->progress, b->progress_data, "waiting for the guest agent", b->step + 1, b->n_steps);
        }
    }
  if (b->watch_kvm && !b->saw_init
      && g_get_monotonic_time () - b->vmm_started_us > KVM_KERNEL_START_MS * 1000)
    {
      g_autofree char *text = bgr_read_tail (bgr_record_str (b->doc, "console_log"),
                                         (gsize) MAX (0, file_size (bgr_record_str (b->doc, "console_log")) - b->console_from));
      if (strstr (text, "Linux version") == NULL)
        {
          b->kvm_hang = TRUE;
          g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                       "the guest kernel did not start under KVM within %d s",
                       KVM_KERNEL_START_MS / 1000);
          return FALSE;
        }
      b->watch_kvm = FALSE;
    }
  if (!bgr_vmm_instance_is_alive (b->inst))
    {
      g_autofree char *reason = exit_reason (bgr_record_str (b->doc, "console_log"));
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "the VMM exited during boot: %s", reason);
      return FALSE;
    }
  return TRUE;
}

static void
set_facts (JsonObject *doc, const BgrAgentFacts *f)
{
  g_autofree char *addrs = f->addrs != NULL ? g_strjoinv (", ", f->addrs) : g_strdup ("");
  if (f->kernel != NULL)
    json_object_set_string_member (doc, "guest_kernel", f->kernel);
  if (f->os_pretty != NULL)
    json_object_set_string_member (doc, "guest_os", f->os_pretty);
  if (f->uname != NULL)
    json_object_set_string_member (doc, "guest_uname", f->uname);
  json_object_set_string_member (doc, "guest_addrs", addrs);
}

/* Connects to the agent of a running VM and says HELLO, retrying while the
 * guest is not listening yet (firecracker's vsock refuses until then). */
static BgrAgentConn *
connect_agent (const BgrVmmInstance *inst, gint timeout_ms, BgrAgentAliveFunc alive,
               gpointer alive_data, BgrAgentFacts **out_facts, GCancellable *cancellable,
               GError **error)
{
  const BgrVmmDriver *driver = bgr_vmm_driver_lookup (inst->driver);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (GIOStream) stream = driver->connect_agent (inst, cancellable, &local);
      gint left = (gint) ((deadline - g_get_monotonic_time ()) / 1000);

      if (stream != NULL)
        {
          g_autoptr (BgrAgentConn) conn = bgr_agent_conn_new (stream);
          g_autoptr (BgrAgentFacts) facts
            = bgr_agent_conn_hello (conn, MAX (left, 1), 2000, alive, alive_data, cancellable, &local);
          if (facts != NULL)
            {
              if (out_facts != NULL)
                *out_facts = g_steal_pointer (&facts);
              return g_steal_pointer (&conn);
            }
          /* Only a connection the guest dropped is worth another try. */
          if (!g_error_matches (local, BGR_ERROR, BGR_ERROR_PROTOCOL)
              || g_str_has_prefix (local->message, "the guest agent speaks"))
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return NULL;
            }
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (alive != NULL && !alive (alive_data, error))
        return NULL;
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                       "the guest agent did not answer within %d s%s%s", timeout_ms / 1000,
                       local != NULL ? ": " : "", local != NULL ? local->message : "");
          return NULL;
        }
      g_usleep (100 * 1000);
    }
}

static gboolean
vm_alive (gpointer data, GError **error)
{
  const BgrVmmInstance *inst = data;
  if (bgr_vmm_instance_is_alive (inst))
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "the VMM is gone");
  return FALSE;
}

/* The agent connection of a running VM, made on first use. */
static BgrAgentConn *
get_agent (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable, GError **error)
{
  VmRt *rt = rt_get (engine, bgr_record_str (doc, "name"));
  g_autoptr (BgrVmmInstance) inst = instance_of (doc);
  BgrAgentConn *conn = NULL;

  if (inst == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "VM '%s' has no VMM", bgr_record_str (doc, "name"));
      return NULL;
    }
  g_mutex_lock (&rt->lock);
  if (rt->agent != NULL && bgr_agent_conn_is_closed (rt->agent))
    g_clear_pointer (&rt->agent, bgr_agent_conn_unref);
  if (rt->agent == NULL)
    rt->agent = connect_agent (inst, AGENT_TIMEOUT_MS, vm_alive, inst, NULL, cancellable, error);
  if (rt->agent != NULL)
    conn = bgr_agent_conn_ref (rt->agent);
  g_mutex_unlock (&rt->lock);
  if (conn == NULL && error != NULL && *error != NULL)
    g_prefix_error (error, "cannot reach the guest agent of VM '%s': ", bgr_record_str (doc, "name"));
  return conn;
}

/* Starts the VMM for @doc and waits for the agent. On failure the VMM is
 * killed, the record says "error" with the reason, and the error names the
 * phase and quotes the console. Called with the VM claimed. */
static gboolean
boot_once (BgrEngine *engine, JsonObject *doc, guint first_step, guint n_steps,
           BgrVmProgressFunc progress, gpointer progress_data, gboolean *out_kvm_hang,
           GCancellable *cancellable, GError **error)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  g_autofree char *run_dir = g_strdup (bgr_record_str (doc, "run_dir"));
  g_autofree char *console = g_strdup (bgr_record_str (doc, "console_log"));
  g_autofree char *driver_name = NULL;
  g_autofree char *cmdline = NULL, *tsc = NULL, *banner = NULL;
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autoptr (BgrAgentFacts) facts = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autoptr (GError) local = NULL;
  const BgrVmmDriver *driver;
  gboolean kvm = FALSE, auto_kvm = FALSE;
  const char *phase = "starting the VMM";
  Boot b = { 0 };
  BgrVmmConfig vc = { 0 };
  gint64 t0;

  *out_kvm_hang = FALSE;
  if (!choose_hypervisor (engine, bgr_record_str (doc, "kernel"), &driver_name, &kvm, &auto_kvm, &local))
    goto fail;
  driver = bgr_vmm_driver_lookup (driver_name);
  bgr_rm_rf (run_dir, NULL);
  if (g_mkdir_with_parents (run_dir, 0700) != 0)
    {
      bgr_set_error_errno (&local, errno, "cannot create %s", run_dir);
      goto fail;
    }
  tsc = kvm ? g_strdup ("") : tsc_khz_arg ();
  /* Firecracker adds "root=/dev/vda rw" for its root drive itself. */
  cmdline = g_strdup_printf ("console=ttyS0 reboot=k panic=-1 %srootfstype=ext4 "
                             "init=%s%s%s%s%s",
                             g_str_equal (driver_name, "firecracker") ? "" : "root=/dev/vda rw ",
                             BGR_AGENT_GUEST_PATH, tsc,
                             g_str_equal (driver_name, "firecracker") ? " pci=off" : "",
                             bgr_record_str (doc, "kernel_ip_arg") != NULL ? " " : "",
                             bgr_record_str (doc, "kernel_ip_arg") != NULL ? bgr_record_str (doc, "kernel_ip_arg") : "");
  json_object_set_string_member (doc, "hypervisor", driver_name);
  json_object_set_string_member (doc, "accel", kvm ? "kvm" : "tcg");
  json_object_set_string_member (doc, "cmdline", cmdline);
  json_object_set_string_member (doc, "state", "starting");
  json_object_remove_member (doc, "reason");
  if (!save (engine, doc, &local))
    goto fail;

  /* Each boot appends to the console log, after a marker line; a log
   * past CONSOLE_MAX keeps its last CONSOLE_KEEP bytes. */
  if (file_size (console) > CONSOLE_MAX)
    {
      g_autofree char *tail_text = bgr_read_tail (console, CONSOLE_KEEP);
      const char *nl = strchr (tail_text, '\n');
      g_autofree char *kept = g_strdup_printf ("---- banger: older console output dropped ----\n%s",
                                               nl != NULL ? nl + 1 : tail_text);
      if (!g_file_set_contents_full (console, kept, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL))
        g_info ("VM %s: cannot shorten %s", name, console);
    }
  {
    g_autoptr (GDateTime) dt = g_date_time_new_now_local ();
    g_autofree char *when = g_date_time_format (dt, "%F %T");
    int fd = open (console, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    banner = g_strdup_printf ("---- banger: %s booting VM %s (%s, %s) ----\n", when, name,
                              driver_name, kvm ? "kvm" : "tcg");
    if (fd >= 0)
      {
        bgr_write_all (fd, banner, strlen (banner));
        close (fd);
      }
  }
  b.console_from = file_size (console);

  report (progress, progress_data, phase, first_step, n_steps);
  vc.id = bgr_record_str (doc, "id");
  vc.name = name;
  vc.run_dir = run_dir;
  vc.binary = bgr_config_get_string (config, g_str_equal (driver_name, "qemu") ? "qemu_bin" : "firecracker_bin");
  vc.kernel = bgr_record_str (doc, "kernel");
  vc.initrd = bgr_record_str (doc, "initrd");
  vc.cmdline = cmdline;
  vc.vcpus = (guint) bgr_record_int (doc, "vcpus");
  vc.memory_mib = (guint64) bgr_record_int (doc, "memory_mib");
  vc.rootfs = bgr_record_str (doc, "rootfs");
  vc.work_disk = bgr_record_str (doc, "work_disk");
  vc.tap = bgr_record_str (doc, "tap");
  vc.mac = bgr_record_str (doc, "mac");
  vc.console_log = console;
  vc.allow_kvm = kvm;
  t0 = g_get_monotonic_time ();
  inst = driver->start (&vc, cancellable, &local);
  if (inst == NULL)
    goto fail;
  {
    JsonNode *n = json_node_new (JSON_NODE_OBJECT);
    g_autoptr (JsonObject) o = bgr_vmm_instance_to_json (inst);
    json_node_set_object (n, o);
    json_object_set_member (doc, "vmm", n);
  }
  json_object_set_int_member (doc, "boot_vmm_ms", (g_get_monotonic_time () - t0) / 1000);
  if (!save (engine, doc, &local))
    goto fail;

  phase = "booting";
  report (progress, progress_data, phase, first_step + 1, n_steps);
  b.engine = engine;
  b.doc = doc;
  b.inst = inst;
  b.progress = progress;
  b.progress_data = progress_data;
  b.step = first_step + 1;
  b.n_steps = n_steps;
  b.vmm_started_us = g_get_monotonic_time ();
  b.watch_kvm = auto_kvm;
  conn = connect_agent (inst, BOOT_TIMEOUT_MS, boot_alive, &b, &facts, cancellable, &local);
  if (conn == NULL)
    goto fail;
  if (!b.saw_init)
    {
      b.saw_init = TRUE;
      b.init_us = g_get_monotonic_time ();
      report (progress, progress_data, "waiting for the guest agent", first_step + 2, n_steps);
    }
  json_object_set_int_member (doc, "boot_kernel_ms", (b.init_us - b.vmm_started_us) / 1000);
  json_object_set_int_member (doc, "boot_agent_ms", (g_get_monotonic_time () - b.init_us) / 1000);
  set_facts (doc, facts);
  json_object_set_string_member (doc, "state", "running");
  json_object_set_int_member (doc, "started", now_s ());
  json_object_set_int_member (doc, "last_activity", now_s ());
  if (!save (engine, doc, &local))
    goto fail;
  {
    VmRt *rt = rt_get (engine, name);
    g_mutex_lock (&rt->lock);
    g_clear_pointer (&rt->agent, bgr_agent_conn_unref);
    rt->agent = g_steal_pointer (&conn);
    g_mutex_unlock (&rt->lock);
  }
  return TRUE;

fail:
  {
    g_autofree char *tail_text = NULL, *tail = NULL;
    int code;

    if (inst != NULL)
      bgr_vmm_instance_kill (inst, NULL);
    *out_kvm_hang = b.kvm_hang;
    tail_text = bgr_read_tail (console, 4096);
    tail = bgr_last_lines (tail_text, 8);
    json_object_set_string_member (doc, "state", "error");
    json_object_set_string_member (doc, "reason", local->message);
    json_object_set_int_member (doc, "stopped", now_s ());
    json_object_remove_member (doc, "vmm");
    save (engine, doc, NULL);
    /* A cancelled boot is BGR_ERROR_CANCELLED, as BgrOperation promises. */
    code = local->domain == BGR_ERROR ? local->code
           : g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? BGR_ERROR_CANCELLED
                                                                        : BGR_ERROR_FAILED;
    if (inst != NULL && !g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_set_error (error, BGR_ERROR, code, "VM '%s' failed while %s: %s\nconsole log: %s%s%s",
                   name, phase, local->message, console, *tail ? "\n" : "", tail);
    else
      g_set_error (error, BGR_ERROR, code, "VM '%s' failed while %s: %s", name, phase,
                   local->message);
    return FALSE;
  }
}

/* Boots, and when KVM chosen by "auto" turns out not to run guests here,
 * boots again under TCG. */
static gboolean
boot (BgrEngine *engine, JsonObject *doc, guint first_step, guint n_steps, BgrVmProgressFunc progress,
      gpointer progress_data, GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) local = NULL;
  gboolean hang = FALSE;

  if (boot_once (engine, doc, first_step, n_steps, progress, progress_data, &hang, cancellable,
                 &local))
    return TRUE;
  if (!hang)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_atomic_int_set (&kvm_broken, 1);
  g_warning ("VM %s: the guest kernel never started under KVM (the host can create KVM VMs but "
             "not run them); using TCG from now on (set qemu_accel = \"tcg\" to skip this)",
             bgr_record_str (doc, "name"));
  return boot_once (engine, doc, first_step, n_steps, progress, progress_data, &hang, cancellable,
                    error);
}

/* ---- create ------------------------------------------------------------------ */

static guint64
host_memory_mib (void)
{
  g_autofree char *info = NULL;
  const char *p;
  if (!g_file_get_contents ("/proc/meminfo", &info, NULL, NULL) || (p = strstr (info, "MemTotal:")) == NULL)
    return 0;
  return g_ascii_strtoull (p + 9, NULL, 10) / 1024;
}

static gboolean
check_resources (guint vcpus, guint64 memory_mib, GError **error)
{
  guint64 host = host_memory_mib ();
  guint cpus = g_get_num_processors ();

  if (vcpus < 1 || vcpus > 64)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "--vcpus %u is out of range (1-64)", vcpus);
      return FALSE;
    }
  if (vcpus > cpus * 4)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--vcpus %u is more than 4 times this host's %u CPUs", vcpus, cpus);
      return FALSE;
    }
  if (memory_mib < 64)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--memory %" G_GUINT64_FORMAT " MiB is too small (at least 64 MiB)", memory_mib);
      return FALSE;
    }
  if (host > 0 && memory_mib > host)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--memory %" G_GUINT64_FORMAT " MiB is more than this host has (%" G_GUINT64_FORMAT
                   " MiB)", memory_mib, host);
      return FALSE;
    }
  return TRUE;
}

static char *
new_id (void)
{
  return g_strdup_printf ("%08x%04x", g_random_int (), g_random_int () & 0xffff);
}

/* ---- prepared bases ----------------------------------------------------------- */

/* Every VM of an image gets the same agent and kernel modules: they are put
 * into a copy of the image once (a "base", kept in CACHE/vm-bases/), and
 * VMs are cloned from that. A base's name is a digest of what went into
 * it (the image's rootfs file identity, the modules tree, the agent), so a
 * changed image, kernel or banger gets a new one; image cache prune
 * removes the ones no image leads to any more. */

static char *
agent_digest (void)
{
  static char *digest;
  static gsize once;

  if (g_once_init_enter (&once))
    {
      digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) bgr_agent_blob_start,
                                            (gsize) (bgr_agent_blob_end - bgr_agent_blob_start));
      g_once_init_leave (&once, 1);
    }
  return digest;
}

static void
checksum_file_identity (GChecksum *c, const char *path)
{
  struct stat st;
  g_autofree char *id = NULL;

  if (path == NULL)
    {
      g_checksum_update (c, (const guchar *) "-\n", 2);
      return;
    }
  if (stat (path, &st) != 0)
    memset (&st, 0, sizeof st);
  id = g_strdup_printf ("%s\n%ju:%ju:%jd:%jd.%09ld\n", path, (uintmax_t) st.st_dev,
                        (uintmax_t) st.st_ino, (intmax_t) st.st_size, (intmax_t) st.st_mtim.tv_sec,
                        st.st_mtim.tv_nsec);
  g_checksum_update (c, (const guchar *) id, -1);
}

static char *
base_path_for (BgrEngine *engine, BgrImage *img)
{
  g_autoptr (GChecksum) c = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *name = NULL;

  g_checksum_update (c, (const guchar *) "banger vm base 1\n", -1);
  checksum_file_identity (c, bgr_image_get_rootfs_path (img));
  checksum_file_identity (c, bgr_image_get_modules_dir (img));
  g_checksum_update (c, (const guchar *) agent_digest (), -1);
  name = g_strndup (g_checksum_get_string (c), 32);
  return g_strdup_printf ("%s/vm-bases/%s.ext4",
                          bgr_config_get_string (bgr_engine_get_config (engine), "cache_dir"), name);
}

static gboolean
install_guest_files (const char *rootfs, const char *modules, GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (BgrExt4Writer) w = bgr_ext4_writer_open (rootfs, error);

  if (w == NULL)
    return FALSE;
  if (!bgr_ext4_writer_add_data (w, BGR_AGENT_GUEST_PATH, bgr_agent_blob_start,
                                 (gsize) (bgr_agent_blob_end - bgr_agent_blob_start), 0755, error))
    return FALSE;
  if (modules != NULL)
    {
      g_autofree char *version = g_path_get_basename (modules);
      g_autofree char *guest = g_build_filename ("/lib/modules", version, NULL);
      if (!bgr_ext4_writer_add_tree (w, modules, guest, cancellable, error))
        return FALSE;
    }
  return bgr_ext4_writer_close (g_steal_pointer (&w), error);
}

G_LOCK_DEFINE_STATIC (bases);

/* The base for @img, made now when there is none. *out_made says whether
 * it had to be. */
static char *
prepare_base (BgrEngine *engine, BgrImage *img, gboolean *out_made, GCancellable *cancellable,
              GError **error)
{
  g_autofree char *base = base_path_for (engine, img);
  g_autofree char *dir = g_path_get_dirname (base);
  g_autofree char *tmp = NULL;
  const char *modules = bgr_image_get_modules_dir (img);
  guint64 size = bgr_path_size (bgr_image_get_rootfs_path (img));
  gboolean ok;

  *out_made = FALSE;
  G_LOCK (bases);
  if (g_file_test (base, G_FILE_TEST_IS_REGULAR))
    {
      G_UNLOCK (bases);
      return g_steal_pointer (&base);
    }
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      G_UNLOCK (bases);
      return NULL;
    }
  tmp = g_strdup_printf ("%s.tmp-%d", base, (int) getpid ());
  unlink (tmp);
  /* The modules need room: grow by their size (the file stays sparse). */
  ok = bgr_copy_file (bgr_image_get_rootfs_path (img), tmp, cancellable, error)
       && (modules == NULL
           || bgr_ext4_grow (tmp, size + bgr_path_size (modules) + MODULES_SLACK, cancellable, error))
       && install_guest_files (tmp, modules, cancellable, error)
       && rename (tmp, base) == 0;
  if (!ok)
    {
      if (error != NULL && *error == NULL)
        bgr_set_error_errno (error, errno, "cannot rename %s", tmp);
      unlink (tmp);
      G_UNLOCK (bases);
      return NULL;
    }
  G_UNLOCK (bases);
  *out_made = TRUE;
  return g_steal_pointer (&base);
}

/* Removes the bases no image leads to any more (image cache prune). */
void
bgr_engine_prune_vm_bases (BgrEngine *engine, guint64 *freed, guint *removed)
{
  g_autoptr (GPtrArray) images = bgr_engine_list_images (engine, NULL);
  g_autoptr (GHashTable) wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *dir = g_build_filename (bgr_config_get_string (bgr_engine_get_config (engine), "cache_dir"),
                                           "vm-bases", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;

  for (guint i = 0; images != NULL && i < images->len; i++)
    {
      g_autofree char *path = base_path_for (engine, images->pdata[i]);
      g_hash_table_add (wanted, g_path_get_basename (path));
    }
  G_LOCK (bases);
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      guint64 size;
      if (g_hash_table_contains (wanted, entry))
        continue;
      size = bgr_path_allocated (path);
      if (g_unlink (path) == 0)
        {
          *freed += size;
          (*removed)++;
        }
    }
  G_UNLOCK (bases);
}

BgrVm *
bgr_engine_create_vm (BgrEngine *engine, const char *name, const char *image, guint vcpus,
                      guint64 memory_mib, guint64 disk_size, BgrVmProgressFunc progress,
                      gpointer progress_data, GCancellable *cancellable, GError **error)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  const char *state_dir = bgr_store_get_dir (bgr_engine_get_store (engine));
  g_autoptr (BgrImage) img = NULL;
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *id = NULL, *dir = NULL, *run_dir = NULL, *rootfs = NULL, *work = NULL;
  g_autofree char *console = NULL, *base = NULL;
  const char *modules;
  guint64 image_size;
  const guint n_steps = 6;

  if (image == NULL || *image == '\0')
    image = bgr_config_get_string (config, "default_image_name");
  if (vcpus == 0)
    vcpus = 1;
  if (memory_mib == 0)
    memory_mib = 512;
  if (!check_vm_name (name, error) || !check_resources (vcpus, memory_mib, error))
    return NULL;
  img = bgr_engine_get_image (engine, image, error);
  if (img == NULL)
    return NULL;
  if (bgr_image_get_kernel_path (img) == NULL || !g_file_test (bgr_image_get_kernel_path (img), G_FILE_TEST_EXISTS))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "image '%s' has no kernel file (%s)", image,
                   bgr_image_get_kernel_path (img) != NULL ? bgr_image_get_kernel_path (img) : "none");
      return NULL;
    }
  image_size = bgr_path_size (bgr_image_get_rootfs_path (img));
  if (disk_size != 0 && disk_size < image_size)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--disk-size %" G_GUINT64_FORMAT " is smaller than image '%s' (%" G_GUINT64_FORMAT
                   " bytes); a VM's disk can only be as large or larger", disk_size, image, image_size);
      return NULL;
    }
  {
    /* The check for an existing name and the claim happen under the lock,
     * so that two creates of one name race cleanly. */
    g_autoptr (JsonObject) existing = NULL;
    bgr_engine_lock (engine);
    existing = bgr_store_load (bgr_engine_get_store (engine), VM_KIND, name, NULL);
    if (existing != NULL || !claim (engine, name, "creating", NULL))
      {
        bgr_engine_unlock (engine);
        g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS, "a VM named '%s' already exists", name);
        return NULL;
      }
    bgr_engine_unlock (engine);
  }

  id = new_id ();
  dir = g_build_filename (state_dir, "vms", name, NULL);
  run_dir = g_build_filename (state_dir, "run", id, NULL);
  rootfs = g_build_filename (dir, "rootfs.ext4", NULL);
  console = g_build_filename (dir, "console.log", NULL);
  modules = bgr_image_get_modules_dir (img);
  doc = json_object_new ();
  json_object_set_string_member (doc, "name", name);
  json_object_set_string_member (doc, "id", id);
  json_object_set_string_member (doc, "image", image);
  json_object_set_string_member (doc, "state", "starting");
  json_object_set_int_member (doc, "vcpus", vcpus);
  json_object_set_int_member (doc, "memory_mib", (gint64) memory_mib);
  json_object_set_string_member (doc, "kernel", bgr_image_get_kernel_path (img));
  if (bgr_image_get_initrd_path (img) != NULL)
    json_object_set_string_member (doc, "initrd", bgr_image_get_initrd_path (img));
  json_object_set_string_member (doc, "dir", dir);
  json_object_set_string_member (doc, "run_dir", run_dir);
  json_object_set_string_member (doc, "rootfs", rootfs);
  json_object_set_string_member (doc, "console_log", console);
  json_object_set_int_member (doc, "created", now_s ());

  /* 1: the image's base (agent and kernel modules put in), made once. */
  report (progress, progress_data, modules != NULL ? "preparing the image (guest agent, kernel modules)"
                                                   : "preparing the image (guest agent)", 1, n_steps);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      bgr_set_error_errno (&local, errno, "cannot create %s", dir);
      goto fail_early;
    }
  if (!save (engine, doc, &local))
    goto fail_early;
  {
    gint64 t0 = g_get_monotonic_time ();
    gboolean made;
    base = prepare_base (engine, img, &made, cancellable, &local);
    if (base == NULL)
      goto fail_early;
    json_object_set_int_member (doc, "boot_install_ms", made ? (g_get_monotonic_time () - t0) / 1000 : 0);
  }

  /* 2: the VM's own disks, cloned from the base and the work-seed. */
  report (progress, progress_data, "cloning disks", 2, n_steps);
  {
    gint64 t0 = g_get_monotonic_time ();
    guint64 base_size = bgr_path_size (base);
    if (!bgr_copy_file (base, rootfs, cancellable, &local))
      goto fail_early;
    if (bgr_image_get_work_seed_path (img) != NULL)
      {
        work = g_build_filename (dir, "work.ext4", NULL);
        if (!bgr_copy_file (bgr_image_get_work_seed_path (img), work, cancellable, &local))
          goto fail_early;
        json_object_set_string_member (doc, "work_disk", work);
      }
    if (disk_size > base_size && !bgr_ext4_grow (rootfs, disk_size, cancellable, &local))
      goto fail_early;
    json_object_set_int_member (doc, "disk_size", (gint64) bgr_path_size (rootfs));
    json_object_set_int_member (doc, "boot_clone_ms", (g_get_monotonic_time () - t0) / 1000);
  }

  /* 3: network (when this engine may configure it). */
  report (progress, progress_data, "configuring the network", 3, n_steps);
  if (!bgr_engine_vm_network_prepare (engine, doc, &local))
    goto fail_early;

  /* 4-6: VMM, boot, agent. */
  if (!boot (engine, doc, 4, n_steps, progress, progress_data, cancellable, error))
    {
      release (engine, name);
      /* A boot that failed stays for its console log; a create the caller
       * cancelled leaves nothing. */
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_autoptr (GError) cleanup = NULL;
          if (!bgr_engine_delete_vm (engine, name, TRUE, &cleanup))
            g_warning ("cannot remove cancelled VM %s: %s", name, cleanup->message);
        }
      return NULL;
    }
  release (engine, name);
  return view (doc);

fail_early:
  /* Nothing ran yet: remove every trace, as if create had not been called. */
  bgr_engine_lock (engine);
  bgr_store_delete (bgr_engine_get_store (engine), VM_KIND, name, NULL);
  bgr_engine_unlock (engine);
  bgr_engine_vm_network_release (engine, doc);
  bgr_rm_rf (dir, NULL);
  bgr_rm_rf (run_dir, NULL);
  release (engine, name);
  g_propagate_prefixed_error (error, g_steal_pointer (&local), "cannot create VM '%s': ", name);
  return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

BgrVm *
bgr_engine_start_vm (BgrEngine *engine, const char *name, BgrVmProgressFunc progress,
                     gpointer progress_data, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  const char *state;

  doc = claim_and_load (engine, name, "starting", error);
  if (doc == NULL)
    return NULL;
  state = bgr_record_str (doc, "state");
  if (state_is_live (state))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO, "VM '%s' is already %s", name, state);
      release (engine, name);
      return NULL;
    }
  if (!bgr_engine_vm_network_prepare (engine, doc, error))
    {
      release (engine, name);
      return NULL;
    }
  if (!boot (engine, doc, 1, 3, progress, progress_data, cancellable, error))
    {
      release (engine, name);
      return NULL;
    }
  release (engine, name);
  return view (doc);
}

static void
mark_stopped (BgrEngine *engine, JsonObject *doc, const char *reason)
{
  json_object_set_string_member (doc, "state", "stopped");
  json_object_set_string_member (doc, "reason", reason);
  json_object_set_int_member (doc, "stopped", now_s ());
  json_object_remove_member (doc, "vmm");
  drop_agent (engine, bgr_record_str (doc, "name"));
  save (engine, doc, NULL);
}

static gboolean
running_or_error (JsonObject *doc, GError **error)
{
  const char *state = bgr_record_str (doc, "state");
  if (state_is_live (state))
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO, "VM '%s' is not running (state: %s)",
               bgr_record_str (doc, "name"), state);
  return FALSE;
}

BgrVm *
bgr_engine_stop_vm (BgrEngine *engine, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autoptr (GError) agent_error = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  const char *how = NULL;
  VmRt *rt;

  doc = claim_and_load (engine, name, "stopping", error);
  if (doc == NULL)
    return NULL;
  if (!running_or_error (doc, error))
    {
      release (engine, name);
      return NULL;
    }
  inst = instance_of (doc);
  if (inst == NULL)
    {
      /* Live without a VMM: a create that never got one. */
      mark_stopped (engine, doc, "stopped (it had no VMM)");
      release (engine, name);
      return view (doc);
    }
  rt = rt_get (engine, name);
  rt->kill_requested = FALSE;
  json_object_set_string_member (doc, "state", "stopping");
  save (engine, doc, NULL);

  /* 1: ask the guest, through its agent, to power off. */
  conn = get_agent (engine, doc, cancellable, &agent_error);
  if (conn != NULL && bgr_agent_conn_shutdown (conn, "poweroff", 5000, cancellable, &agent_error)
      && bgr_vmm_instance_wait_exit (inst, STOP_AGENT_WAIT_MS, cancellable, NULL))
    how = "stopped (the guest powered off)";
  if (agent_error != NULL)
    g_info ("VM %s: graceful stop through the agent failed: %s", name, agent_error->message);
  /* 2: Ctrl-Alt-Del / ACPI power button. */
  if (how == NULL && !g_cancellable_is_cancelled (cancellable) && bgr_vmm_instance_is_alive (inst))
    {
      const BgrVmmDriver *driver = bgr_vmm_driver_lookup (inst->driver);
      if (driver->request_shutdown (inst, cancellable, NULL)
          && bgr_vmm_instance_wait_exit (inst, STOP_ACPI_WAIT_MS, cancellable, NULL))
        how = "stopped (the guest powered off after the power button)";
    }
  /* 3: kill. */
  if (how == NULL)
    {
      if (!bgr_vmm_instance_kill (inst, error))
        {
          release (engine, name);
          return NULL;
        }
      how = "stopped (killed: the guest did not power off in time)";
    }
  if (rt->kill_requested)
    how = "killed (while a stop was waiting)";
  mark_stopped (engine, doc, how);
  release (engine, name);
  return view (doc);
}

BgrVm *
bgr_engine_kill_vm (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autoptr (GError) busy = NULL;

  doc = claim_and_load (engine, name, "killing", &busy);
  if (doc == NULL && g_error_matches (busy, BGR_ERROR, BGR_ERROR_BUSY))
    {
      /* A stop that waits for the guest is exactly when kill is wanted: kill
       * the VMM under it; the stop sees it go and records the kill. */
      VmRt *rt = rt_get (engine, name);
      g_autoptr (JsonObject) now = load_vm (engine, name, error);
      gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

      if (now == NULL)
        return NULL;
      if (g_strcmp0 (bgr_record_str (now, "state"), "stopping") != 0)
        {
          g_propagate_error (error, g_steal_pointer (&busy));
          return NULL;
        }
      inst = instance_of (now);
      rt->kill_requested = TRUE;
      if (inst != NULL && !bgr_vmm_instance_kill (inst, error))
        return NULL;
      while (is_busy (engine, name) && g_get_monotonic_time () < deadline)
        g_usleep (20000);
      g_clear_pointer (&now, json_object_unref);
      now = load_vm (engine, name, error);
      return now != NULL ? view (now) : NULL;
    }
  if (doc == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&busy));
      return NULL;
    }
  if (!running_or_error (doc, error))
    {
      release (engine, name);
      return NULL;
    }
  inst = instance_of (doc);
  if (inst != NULL && !bgr_vmm_instance_kill (inst, error))
    {
      release (engine, name);
      return NULL;
    }
  mark_stopped (engine, doc, "killed");
  release (engine, name);
  return view (doc);
}

gboolean
bgr_engine_delete_vm (BgrEngine *engine, const char *name, gboolean force, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autofree char *aside = NULL;
  VmRt *rt;

  doc = claim_and_load (engine, name, "deleting", error);
  if (doc == NULL)
    return FALSE;
  inst = instance_of (doc);
  if (state_is_live (bgr_record_str (doc, "state")) && inst != NULL && bgr_vmm_instance_is_alive (inst))
    {
      if (!force)
        {
          release (engine, name);
          g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                       "VM '%s' is running: stop it first (`banger vm stop %s`) or use --force",
                       name, name);
          return FALSE;
        }
      if (!bgr_vmm_instance_kill (inst, error))
        {
          release (engine, name);
          return FALSE;
        }
    }
  drop_agent (engine, name);
  /* The VM's directory is renamed aside with the record's removal, under
   * the lock, and removed after it; a crash in between leaves a
   * .deleting- directory that the next engine sweeps. */
  bgr_engine_lock (engine);
  if (!bgr_store_delete (bgr_engine_get_store (engine), VM_KIND, name, error))
    {
      bgr_engine_unlock (engine);
      release (engine, name);
      return FALSE;
    }
  if (g_file_test (bgr_record_str (doc, "dir"), G_FILE_TEST_EXISTS))
    {
      g_autofree char *parent = g_path_get_dirname (bgr_record_str (doc, "dir"));
      aside = g_strdup_printf ("%s/.deleting-%s-XXXXXX", parent, name);
      if (g_mkdtemp (aside) == NULL || rename (bgr_record_str (doc, "dir"), aside) != 0)
        g_clear_pointer (&aside, g_free);
    }
  bgr_engine_unlock (engine);
  bgr_engine_vm_network_release (engine, doc);
  bgr_rm_rf (bgr_record_str (doc, "run_dir"), NULL);
  bgr_rm_rf (aside != NULL ? aside : bgr_record_str (doc, "dir"), NULL);
  /* The in-memory entry stays (other threads may hold it); it is emptied,
   * so that a new VM of the same name starts afresh. */
  rt = rt_get (engine, name);
  g_mutex_lock (&rt->lock);
  g_clear_pointer (&rt->last_guest, json_object_unref);
  g_clear_pointer (&rt->prev_guest, json_object_unref);
  g_clear_pointer (&rt->last_vmm, json_object_unref);
  g_mutex_unlock (&rt->lock);
  release (engine, name);
  return TRUE;
}

GPtrArray *
bgr_engine_list_vms (BgrEngine *engine, GError **error)
{
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), VM_KIND, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);

  (void) error;
  for (guint i = 0; i < docs->len; i++)
    {
      reconcile (engine, docs->pdata[i]);
      g_ptr_array_add (out, view (docs->pdata[i]));
    }
  return out;
}

BgrVm *
bgr_engine_get_vm (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = load_vm (engine, name, error);
  if (doc == NULL)
    return NULL;
  reconcile (engine, doc);
  return view (doc);
}

GBytes *
bgr_engine_vm_logs (BgrEngine *engine, const char *name, guint64 max_bytes, GError **error)
{
  g_autoptr (JsonObject) doc = load_vm (engine, name, error);
  char *text;

  if (doc == NULL)
    return NULL;
  /* A reply must stay well below D-Bus's message limit (32 MiB on the
   * system bus), however much a running guest has written. */
  if (max_bytes == 0 || max_bytes > LOGS_MAX)
    max_bytes = LOGS_MAX;
  text = bgr_read_tail (bgr_record_str (doc, "console_log"), max_bytes);
  if (file_size (bgr_record_str (doc, "console_log")) > (goffset) max_bytes)
    {
      const char *nl = strchr (text, '\n');
      g_autofree char *cut = text;
      text = g_strdup_printf ("---- banger: earlier output not shown (the log is %" G_GINT64_FORMAT
                              " bytes; the last %" G_GUINT64_FORMAT " follow) ----\n%s",
                              (gint64) file_size (bgr_record_str (doc, "console_log")), max_bytes,
                              nl != NULL ? nl + 1 : cut);
    }
  return g_bytes_new_take (text, strlen (text));
}

/* Users of images, for refusing to delete an image a VM was made from. */
char *
bgr_engine_vms_using_image (BgrEngine *engine, const char *image)
{
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), VM_KIND, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();

  for (guint i = 0; i < docs->len; i++)
    if (g_strcmp0 (bgr_record_str (docs->pdata[i], "image"), image) == 0)
      g_ptr_array_add (names, (gpointer) bgr_record_str (docs->pdata[i], "name"));
  if (names->len == 0)
    return NULL;
  g_ptr_array_add (names, NULL);
  return g_strjoinv (", ", (char **) names->pdata);
}

/* Records activity now on the stored record (under the lock: it may have
 * been deleted meanwhile). */
static void
touch_activity (BgrEngine *engine, const char *name)
{
  g_autoptr (JsonObject) doc = NULL;

  bgr_engine_lock (engine);
  doc = bgr_store_load (bgr_engine_get_store (engine), VM_KIND, name, NULL);
  if (doc != NULL && g_strcmp0 (bgr_record_str (doc, "state"), "running") == 0)
    {
      json_object_set_int_member (doc, "last_activity", now_s ());
      bgr_store_save (bgr_engine_get_store (engine), VM_KIND, name, doc, NULL);
    }
  bgr_engine_unlock (engine);
}

/* ---- exec ------------------------------------------------------------------ */

gboolean
bgr_engine_vm_exec (BgrEngine *engine, const char *name, const char *const *argv,
                    const char *const *env, const char *cwd, guint timeout_ms, int stdin_fd,
                    int stdout_fd, int stderr_fd, gint *out_status, GCancellable *cancellable,
                    GError **error)
{
  VmRt *rt;
  g_autoptr (JsonObject) doc = load_vm (engine, name, error);
  g_autoptr (BgrAgentConn) conn = NULL;
  gboolean ok;

  if (doc == NULL)
    return FALSE;
  if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "no command given");
      return FALSE;
    }
  for (const char *const *e = env; e != NULL && *e != NULL; e++)
    if (strchr (*e, '=') == NULL || **e == '=')
      {
        g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                     "environment entry '%s' is not KEY=VALUE", *e);
        return FALSE;
      }
  reconcile (engine, doc);
  if (g_strcmp0 (bgr_record_str (doc, "state"), "running") != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "VM '%s' is not running (state: %s)%s", name, bgr_record_str (doc, "state"),
                   state_is_live (bgr_record_str (doc, "state")) ? "" : "; start it with `banger vm start`");
      return FALSE;
    }
  conn = get_agent (engine, doc, cancellable, error);
  if (conn == NULL)
    return FALSE;
  /* A running exec is activity (auto-stop), at its start and its end. */
  rt = rt_get (engine, name);
  touch_activity (engine, name);
  g_atomic_int_inc (&rt->execs);
  ok = bgr_agent_conn_exec (conn, argv, env, cwd, timeout_ms, stdin_fd, stdout_fd, stderr_fd,
                            out_status, cancellable, error);
  g_atomic_int_dec_and_test (&rt->execs);
  /* Record activity (auto-stop looks at it); a failure here is not the
   * command's. */
  touch_activity (engine, name);
  return ok;
}

/* ---- ports and stats ---------------------------------------------------------- */

static JsonObject *
load_running (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = load_vm (engine, name, error);

  if (doc == NULL)
    return NULL;
  reconcile (engine, doc);
  if (g_strcmp0 (bgr_record_str (doc, "state"), "running") != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "VM '%s' is not running (state: %s)",
                   name, bgr_record_str (doc, "state"));
      return NULL;
    }
  return g_steal_pointer (&doc);
}

GPtrArray *
bgr_engine_vm_ports (BgrEngine *engine, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = load_running (engine, name, error);
  g_autoptr (BgrAgentConn) conn = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *out;

  if (doc == NULL || (conn = get_agent (engine, doc, cancellable, error)) == NULL)
    return NULL;
  lines = bgr_agent_conn_ports (conn, AGENT_TIMEOUT_MS, cancellable, error);
  if (lines == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func (g_object_unref);
  for (char **l = lines; *l != NULL; l++)
    {
      /* "PROTO ADDR PORT PID COMMAND" (COMMAND may hold spaces). */
      g_auto (GStrv) f = g_strsplit (*l, " ", 5);
      g_autoptr (JsonObject) p = NULL;
      if (g_strv_length (f) < 5)
        continue;
      p = json_object_new ();
      json_object_set_string_member (p, "name", name);
      json_object_set_string_member (p, "protocol", f[0]);
      json_object_set_string_member (p, "address", f[1]);
      json_object_set_int_member (p, "port", g_ascii_strtoll (f[2], NULL, 10));
      json_object_set_int_member (p, "pid", g_ascii_strtoll (f[3], NULL, 10));
      json_object_set_string_member (p, "process", f[4]);
      g_ptr_array_add (out, bgr_vm_port_new_from_json (p));
    }
  return out;
}

/* Byte counters of interface @ifname from /proc/net/dev (which, unlike
 * /sys, always shows our own network namespace). */
static gboolean
read_counters (const char *ifname, gint64 *rx, gint64 *tx)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/net/dev", &text, NULL, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      char *colon = strchr (*l, ':');
      g_auto (GStrv) f = NULL;
      if (colon == NULL)
        continue;
      *colon = '\0';
      if (!g_str_equal (g_strstrip (*l), ifname))
        continue;
      f = g_strsplit_set (g_strstrip (colon + 1), " \t", -1);
      {
        /* Fields: rx bytes packets errs drop fifo frame compressed multicast, tx bytes ... */
        gint64 v[16];
        guint n = 0;
        for (char **p = f; *p != NULL && n < 16; p++)
          if (**p != '\0')
            v[n++] = g_ascii_strtoll (*p, NULL, 10);
        if (n < 9)
          return FALSE;
        *rx = v[0];
        *tx = v[8];
        return TRUE;
      }
    }
  return FALSE;
}

/* The guest's side of a sample, from its agent. */
static JsonObject *
sample_guest (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable, GError **error)
{
  static const char *const agent_keys[] = { "cpu_user_ms", "cpu_system_ms", "cpu_idle_ms",
                                            "mem_total", "mem_available", "load1_milli",
                                            "uptime_ms", "disk_total", "disk_free", NULL };
  g_autoptr (BgrAgentConn) conn = get_agent (engine, doc, cancellable, error);
  g_autoptr (GHashTable) guest = NULL;
  JsonObject *s;

  if (conn == NULL)
    return NULL;
  guest = bgr_agent_conn_stats (conn, AGENT_TIMEOUT_MS, cancellable, error);
  if (guest == NULL)
    return NULL;
  s = json_object_new ();
  json_object_set_int_member (s, "sampled_at", g_get_real_time () / 1000);
  for (const char *const *k = agent_keys; *k != NULL; k++)
    {
      gint64 *v = g_hash_table_lookup (guest, *k);
      if (v != NULL)
        json_object_set_int_member (s, g_str_equal (*k, "uptime_ms") ? "guest_uptime_ms" : *k, *v);
    }
  return s;
}

/* The VMM's side, from outside the guest. */
static JsonObject *
sample_vmm (JsonObject *doc)
{
  g_autoptr (BgrVmmInstance) inst = instance_of (doc);
  BgrVmmMetrics m = { -1, -1, -1, -1, -1, -1 };
  const char *tap = bgr_record_str (doc, "tap");
  JsonObject *s = json_object_new ();

  if (inst != NULL)
    {
      const BgrVmmDriver *driver = bgr_vmm_driver_lookup (inst->driver);
      if (!driver->metrics (inst, &m, NULL))
        bgr_vmm_process_metrics (inst->pid, &m);
    }
  /* The tap's receive counter is what the guest sent. */
  if (tap != NULL && m.net_rx_bytes < 0)
    {
      gint64 rx, tx;
      if (read_counters (tap, &rx, &tx))
        {
          m.net_rx_bytes = tx;
          m.net_tx_bytes = rx;
        }
    }
  json_object_set_int_member (s, "metrics_at", g_get_real_time () / 1000);
#define PUT(key, val) if ((val) >= 0) json_object_set_int_member (s, key, val)
  PUT ("vmm_cpu_ms", m.cpu_time_ms);
  PUT ("vmm_rss", m.rss_bytes);
  PUT ("disk_read_bytes", m.disk_read_bytes);
  PUT ("disk_write_bytes", m.disk_write_bytes);
  PUT ("net_rx_bytes", m.net_rx_bytes);
  PUT ("net_tx_bytes", m.net_tx_bytes);
#undef PUT
  return s;
}

/* Guest CPU use between two guest samples, per mille; -1 when unknown. */
static gint64
cpu_busy_permille (JsonObject *last, JsonObject *prev)
{
#define D(k) (json_object_get_int_member_with_default (last, k, 0) - json_object_get_int_member_with_default (prev, k, 0))
  gint64 busy = D ("cpu_user_ms") + D ("cpu_system_ms");
  gint64 all = busy + D ("cpu_idle_ms");
#undef D
  return all > 0 && busy >= 0 ? busy * 1000 / all : -1;
}

/* Keeps @sample as the latest of its kind, the one before as the previous. */
static void
remember (VmRt *rt, JsonObject *sample, gboolean guest)
{
  g_mutex_lock (&rt->lock);
  if (guest)
    {
      g_clear_pointer (&rt->prev_guest, json_object_unref);
      rt->prev_guest = rt->last_guest;
      rt->last_guest = json_object_ref (sample);
    }
  else
    {
      g_clear_pointer (&rt->last_vmm, json_object_unref);
      rt->last_vmm = json_object_ref (sample);
    }
  g_mutex_unlock (&rt->lock);
}

static JsonObject *
fresh (JsonObject *sample, const char *at, gint64 max_age_ms)
{
  gint64 t;
  if (sample == NULL || max_age_ms <= 0)
    return NULL;
  t = json_object_get_int_member_with_default (sample, at, 0);
  return g_get_real_time () / 1000 - t <= max_age_ms ? json_object_ref (sample) : NULL;
}

static void
copy_members (JsonObject *to, JsonObject *from)
{
  GList *members = json_object_get_members (from);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (to, l->data, json_node_copy (json_object_get_member (from, l->data)));
  g_list_free (members);
}

BgrVmStats *
bgr_engine_vm_stats (BgrEngine *engine, const char *name, GCancellable *cancellable, GError **error)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  g_autoptr (JsonObject) doc = load_running (engine, name, error);
  g_autoptr (JsonObject) guest = NULL, vmm = NULL, prev = NULL;
  g_autoptr (JsonObject) out = json_object_new ();
  VmRt *rt;

  if (doc == NULL)
    return NULL;
  rt = rt_get (engine, name);
  /* The supervisor's samples when they are recent enough, else new ones. */
  g_mutex_lock (&rt->lock);
  guest = fresh (rt->last_guest, "sampled_at", bgr_config_get_duration_ms (config, "stats_poll_interval"));
  vmm = fresh (rt->last_vmm, "metrics_at", bgr_config_get_duration_ms (config, "metrics_poll_interval"));
  g_mutex_unlock (&rt->lock);
  if (guest == NULL)
    {
      guest = sample_guest (engine, doc, cancellable, error);
      if (guest == NULL)
        return NULL;
      remember (rt, guest, TRUE);
    }
  if (vmm == NULL)
    {
      vmm = sample_vmm (doc);
      remember (rt, vmm, FALSE);
    }
  g_mutex_lock (&rt->lock);
  if (rt->prev_guest != NULL && rt->last_guest == guest)
    prev = json_object_ref (rt->prev_guest);
  g_mutex_unlock (&rt->lock);

  json_object_set_string_member (out, "name", name);
  copy_members (out, guest);
  copy_members (out, vmm);
  /* Guest CPU use between the last two samples. */
  if (prev != NULL)
    {
      gint64 busy = cpu_busy_permille (guest, prev);
      if (busy >= 0)
        {
          json_object_set_int_member (out, "cpu_busy_permille", busy);
          json_object_set_int_member (out, "cpu_interval_ms",
                                      json_object_get_int_member_with_default (guest, "sampled_at", 0)
                                      - json_object_get_int_member_with_default (prev, "sampled_at", 0));
        }
    }
  return bgr_vm_stats_new_from_json (out);
}

/* ---- supervision -------------------------------------------------------------- */

/* bangerd's background work: notice VMM processes that exit (a guest that
 * powers itself off), sample stats, and stop VMs idle for longer than
 * auto_stop_stale_after. One thread, ticking every second. */
struct _BgrEngineSupervisor {
  BgrEngine *engine;
  GThread *thread;  /* reconciliation, every second, never blocked by a guest */
  GThread *worker;  /* auto-stop and sampling, which can wait on guests */
  GMutex lock;
  GCond cond;
  gboolean stop;
};

/* Notices VMMs that exited (a guest that powered itself off). */
static void
reconcile_all (BgrEngine *engine)
{
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), VM_KIND, NULL);
  for (guint i = 0; i < docs->len; i++)
    reconcile (engine, docs->pdata[i]);
}

static void
supervise_once (BgrEngine *engine, gint64 *next_stats_us, gint64 *next_metrics_us)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  gint64 stale_ms = bgr_config_get_duration_ms (config, "auto_stop_stale_after");
  gint64 stats_ms = bgr_config_get_duration_ms (config, "stats_poll_interval");
  gint64 metrics_ms = bgr_config_get_duration_ms (config, "metrics_poll_interval");
  gint64 now_us = g_get_monotonic_time ();
  gboolean stats = stats_ms > 0 && now_us >= *next_stats_us;
  gboolean metrics = metrics_ms > 0 && now_us >= *next_metrics_us;
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), VM_KIND, NULL);

  if (stats)
    *next_stats_us = now_us + stats_ms * 1000;
  if (metrics)
    *next_metrics_us = now_us + metrics_ms * 1000;
  for (guint i = 0; i < docs->len; i++)
    {
      JsonObject *doc = docs->pdata[i];
      g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));

      if (g_strcmp0 (bgr_record_str (doc, "state"), "running") != 0 || is_busy (engine, name))
        continue;
      if (stale_ms > 0 && now_s () - bgr_record_int (doc, "last_activity") > stale_ms / 1000
          && g_atomic_int_get (&rt_get (engine, name)->execs) == 0)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (BgrVm) vm = NULL;
          const char *idle = bgr_config_get_string (config, "auto_stop_stale_after");

          g_message ("VM %s: idle for more than %s (auto_stop_stale_after), stopping it", name, idle);
          vm = bgr_engine_stop_vm (engine, name, NULL, &error);
          if (vm == NULL)
            g_warning ("VM %s: auto-stop failed: %s", name, error->message);
          else
            {
              /* Load and save under the lock: a delete may come in between. */
              g_autoptr (JsonObject) now = NULL;
              bgr_engine_lock (engine);
              now = bgr_store_load (bgr_engine_get_store (engine), VM_KIND, name, NULL);
              if (now != NULL && g_strcmp0 (bgr_record_str (now, "state"), "stopped") == 0)
                {
                  g_autofree char *reason = g_strdup_printf ("auto-stopped after %s without activity; %s",
                                                             idle, bgr_record_str (now, "reason"));
                  json_object_set_string_member (now, "reason", reason);
                  bgr_store_save (bgr_engine_get_store (engine), VM_KIND, name, now, NULL);
                }
              bgr_engine_unlock (engine);
            }
          continue;
        }
      if (stats)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (JsonObject) s = sample_guest (engine, doc, NULL, &error);
          if (s != NULL)
            {
              VmRt *rt = rt_get (engine, name);
              gint64 busy = -1;
              remember (rt, s, TRUE);
              g_mutex_lock (&rt->lock);
              if (rt->prev_guest != NULL)
                busy = cpu_busy_permille (rt->last_guest, rt->prev_guest);
              g_mutex_unlock (&rt->lock);
              if (busy >= ACTIVE_CPU_PERMILLE)
                touch_activity (engine, name);
            }
          else
            g_debug ("VM %s: no guest stats: %s", name, error->message);
        }
      if (metrics)
        {
          g_autoptr (JsonObject) s = sample_vmm (doc);
          VmRt *rt = rt_get (engine, name);
          gint64 moved = 0;
          g_mutex_lock (&rt->lock);
          if (rt->last_vmm != NULL)
            moved = json_object_get_int_member_with_default (s, "net_rx_bytes", 0)
                    + json_object_get_int_member_with_default (s, "net_tx_bytes", 0)
                    - json_object_get_int_member_with_default (rt->last_vmm, "net_rx_bytes", 0)
                    - json_object_get_int_member_with_default (rt->last_vmm, "net_tx_bytes", 0);
          g_mutex_unlock (&rt->lock);
          remember (rt, s, FALSE);
          if (moved >= ACTIVE_NET_BYTES)
            touch_activity (engine, name);
        }
    }
}

static gpointer
supervisor_thread (gpointer data)
{
  BgrEngineSupervisor *sup = data;
  gboolean worker;
  gint64 next_stats_us = 0, next_metrics_us = 0;

  g_mutex_lock (&sup->lock);
  worker = g_thread_self () == sup->worker;
  while (!sup->stop)
    {
      gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC;
      g_mutex_unlock (&sup->lock);
      if (worker)
        supervise_once (sup->engine, &next_stats_us, &next_metrics_us);
      else
        reconcile_all (sup->engine);
      g_mutex_lock (&sup->lock);
      while (!sup->stop && g_cond_wait_until (&sup->cond, &sup->lock, until))
        ;
    }
  g_mutex_unlock (&sup->lock);
  return NULL;
}

BgrEngineSupervisor *
bgr_engine_supervisor_start (BgrEngine *engine)
{
  BgrEngineSupervisor *sup = g_new0 (BgrEngineSupervisor, 1);

  sup->engine = engine;
  g_mutex_init (&sup->lock);
  g_cond_init (&sup->cond);
  /* The worker compares g_thread_self() with sup->worker: set it before
   * the thread can look. */
  g_mutex_lock (&sup->lock);
  sup->thread = g_thread_new ("bgr-supervisor", supervisor_thread, sup);
  sup->worker = g_thread_new ("bgr-sampler", supervisor_thread, sup);
  g_mutex_unlock (&sup->lock);
  return sup;
}

void
bgr_engine_supervisor_stop (BgrEngineSupervisor *sup)
{
  if (sup == NULL)
    return;
  g_mutex_lock (&sup->lock);
  sup->stop = TRUE;
  g_cond_broadcast (&sup->cond);
  g_mutex_unlock (&sup->lock);
  g_thread_join (sup->thread);
  g_thread_join (sup->worker);
  g_mutex_clear (&sup->lock);
  g_cond_clear (&sup->cond);
  g_free (sup);
}
