/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Boot: picks the hypervisor and the accelerator, starts the VMM for a VM
 * record and waits for its guest agent, and falls back to TCG when KVM
 * chosen by "auto" turns out not to run guests here. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-operation-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-boot-private.h"
#include "engine/bgr-engine-provision-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "kernel/bgr-kernel-files-private.h"
#include "vmm/bgr-kvm-probe-private.h"

#define BOOT_TIMEOUT_MS (180 * 1000)
#define CONSOLE_MAX (8 * 1024 * 1024)
#define CONSOLE_KEEP (1024 * 1024)

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

/* Picks the driver and the accelerator, as `banger doctor` explains.
 * Whether KVM runs guests comes from bgr_kvm_probe() (a test guest, its
 * verdict cached per host boot), asked only when the choice depends on it. */

static gboolean
choose_hypervisor (BgrEngine *engine, const char *kernel, char **out_driver, gboolean *out_kvm,
                   gboolean *out_auto_kvm, GError **error)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  const char *hv = bgr_config_get_string (config, "hypervisor");
  const char *accel = bgr_config_get_string (config, "qemu_accel");
  g_autofree char *why = NULL;
  g_autofree char *fc = g_find_program_in_path (bgr_config_get_string (config, "firecracker_bin"));
  gboolean need_probe = !g_str_equal (hv, "fake")
                        && (g_str_equal (hv, "firecracker") || !g_str_equal (accel, "tcg")
                            || (g_str_equal (hv, "auto") && fc != NULL && kernel_is_elf (kernel)));
  BgrKvmVerdict verdict = need_probe ? bgr_kvm_probe (bgr_config_get_string (config, "cache_dir"),
                                                      &why, NULL)
                                     : BGR_KVM_ABSENT;
  gboolean kvm = verdict >= BGR_KVM_NO_GUESTS; /* /dev/kvm opens: "kvm" asked by name may try */
  gboolean auto_kvm = verdict == BGR_KVM_USABLE;

  *out_auto_kvm = FALSE;
  if (g_str_equal (hv, "fake")) /* tests: the agent on the host (bgr-vmm-fake.c) */
    {
      *out_driver = g_strdup ("fake");
      *out_kvm = FALSE;
      return TRUE;
    }
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
  if (g_str_equal (accel, "kvm") && !auto_kvm)
    g_info ("qemu_accel = \"kvm\" but %s: the guest will likely hang", why);
  return TRUE;
}

typedef struct {
  BgrEngine *engine;
  JsonObject *doc;
  const BgrVmmInstance *inst;
  BgrOperation *op;
  guint step, n_steps;   /* the "booting" step; the agent step follows */
  gboolean saw_init;
  gint64 vmm_started_us, init_us;
  goffset console_from;  /* where this boot's console output starts */
  gboolean watch_kvm;    /* KVM chosen by "auto": give up on it if the kernel never starts */
  gboolean kvm_hang;     /* set when that happened */
  gboolean adopted;      /* a boot an earlier engine began: no timings */
} Boot;

#define KVM_KERNEL_START_MS 15000

void
bgr_vm_report (BgrOperation *op, const char *phase, guint step, guint n)
{
  g_debug ("phase %u/%u: %s", step, n, phase);
  bgr_operation_update (op, phase, NULL, step, n);
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
                                         (gsize) MAX (0, bgr_vm_file_size (bgr_record_str (b->doc, "console_log")) - b->console_from));
      if (strstr (text, "as init process") != NULL)
        {
          b->saw_init = TRUE;
          b->init_us = g_get_monotonic_time ();
          bgr_vm_report (b->op, "waiting for the guest agent", b->step + 1, b->n_steps);
        }
    }
  if (b->watch_kvm && !b->saw_init
      && g_get_monotonic_time () - b->vmm_started_us > KVM_KERNEL_START_MS * 1000)
    {
      g_autofree char *text = bgr_read_tail (bgr_record_str (b->doc, "console_log"),
                                         (gsize) MAX (0, bgr_vm_file_size (bgr_record_str (b->doc, "console_log")) - b->console_from));
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
      g_autofree char *reason = bgr_vm_exit_reason (bgr_record_str (b->doc, "console_log"));
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "the VMM exited during boot: %s", reason);
      return FALSE;
    }
  return TRUE;
}

static void
set_facts (JsonObject *doc, const BgrAgentFacts *f)
{
  JsonArray *addrs = json_array_new ();

  for (guint i = 0; f->addrs != NULL && f->addrs[i] != NULL; i++)
    json_array_add_string_element (addrs, f->addrs[i]);
  if (f->kernel != NULL)
    json_object_set_string_member (doc, "guest_kernel", f->kernel);
  if (f->os_pretty != NULL)
    json_object_set_string_member (doc, "guest_os", f->os_pretty);
  if (f->uname != NULL)
    json_object_set_string_member (doc, "guest_uname", f->uname);
  json_object_set_array_member (doc, "guest_addrs", addrs);
  {
    JsonArray *tools = json_array_new ();
    for (guint i = 0; f->tools != NULL && f->tools[i] != NULL; i++)
      json_array_add_string_element (tools, f->tools[i]);
    json_object_set_array_member (doc, "guest_agent_tools", tools);
  }
}

/* The kernel command line. */
static char *
boot_cmdline (JsonObject *doc, const char *driver_name, gboolean kvm)
{
  g_autofree char *tsc = kvm ? g_strdup ("") : tsc_khz_arg ();
  const char *ip_arg = bgr_record_str (doc, "kernel_ip_arg");
  const char *extra = bgr_record_str (doc, "cmdline_append"); /* the user's, last */
  /* The work disk is the second drive; the agent, as PID 1, mounts it on
   * /root before the image's init runs. Without a dot the kernel hands the
   * parameter to init as an environment variable (BGR_AGENT_WORK_ENV). */
  const char *work = bgr_record_str (doc, "work_disk") != NULL ? " " BGR_AGENT_WORK_ENV "=/dev/vdb" : "";
  /* The agent makes the VM's name (a DNS label) the guest's hostname;
   * not an image build's VM, whose disk becomes an image. */
  g_autofree char *hostname = json_object_has_member (doc, "no_provision")
                                ? g_strdup ("")
                                : g_strdup_printf (" %s=%s", BGR_AGENT_HOSTNAME_ENV,
                                                   bgr_record_str (doc, "name"));

  /* Firecracker adds "root=/dev/vda rw" for its root drive itself. */
  return g_strdup_printf ("console=ttyS0 reboot=k panic=-1 %srootfstype=ext4 "
                          "init=%s%s%s%s%s%s%s%s%s",
                          g_str_equal (driver_name, "firecracker") ? "" : "root=/dev/vda rw ",
                          BGR_AGENT_GUEST_PATH, work, hostname, tsc,
                          g_str_equal (driver_name, "firecracker") ? " pci=off" : "",
                          ip_arg != NULL ? " " : "", ip_arg != NULL ? ip_arg : "",
                          extra != NULL ? " " : "", extra != NULL ? extra : "");
}

/* Each boot appends to the console log, after a marker line; a log
 * past CONSOLE_MAX keeps its last CONSOLE_KEEP bytes. Returns where this
 * boot's output starts. */
static goffset
console_begin (const char *console, const char *name, const char *driver_name, gboolean kvm)
{
  g_autoptr (GDateTime) dt = g_date_time_new_now_local ();
  g_autofree char *when = g_date_time_format (dt, "%F %T");
  g_autofree char *banner = NULL;
  int fd;

  if (bgr_vm_file_size (console) > CONSOLE_MAX)
    {
      g_autofree char *tail_text = bgr_read_tail (console, CONSOLE_KEEP);
      const char *nl = strchr (tail_text, '\n');
      g_autofree char *kept = g_strdup_printf ("---- banger: older console output dropped ----\n%s",
                                               nl != NULL ? nl + 1 : tail_text);
      if (!g_file_set_contents_full (console, kept, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL))
        g_info ("VM %s: cannot shorten %s", name, console);
    }
  fd = open (console, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  banner = g_strdup_printf ("---- banger: %s booting VM %s (%s, %s) ----\n", when, name,
                            driver_name, g_str_equal (driver_name, "fake") ? "none"
                                         : kvm ? "kvm" : "tcg");
  if (fd >= 0)
    {
      bgr_write_all (fd, banner, strlen (banner));
      close (fd);
    }
  return bgr_vm_file_size (console);
}

/* Starts the VMM @doc describes and records it there (not saved yet). */
static BgrVmmInstance *
start_vmm (BgrEngine *engine, JsonObject *doc, const char *driver_name, const char *cmdline,
           gboolean kvm, GCancellable *cancellable, GError **error)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  const BgrVmmDriver *driver = bgr_vmm_driver_lookup (driver_name);
  g_autoptr (BgrVmmInstance) inst = NULL;
  BgrVmmConfig vc = { 0 };
  gint64 t0;

  vc.id = bgr_record_str (doc, "id");
  vc.name = bgr_record_str (doc, "name");
  vc.run_dir = bgr_record_str (doc, "run_dir");
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
  vc.console_log = bgr_record_str (doc, "console_log");
  vc.allow_kvm = kvm;
  vc.reclaim_memory = g_str_equal (bgr_config_get_string (config, "memory_reclaim"), "true");
  t0 = g_get_monotonic_time ();
  inst = driver->start (&vc, cancellable, error);
  if (inst == NULL)
    return NULL;
  {
    JsonNode *n = json_node_new (JSON_NODE_OBJECT);
    g_autoptr (JsonObject) o = bgr_vmm_instance_to_json (inst);
    json_node_set_object (n, o);
    json_object_set_member (doc, "vmm", n);
  }
  json_object_set_int_member (doc, "boot_vmm_ms", (g_get_monotonic_time () - t0) / 1000);
  return g_steal_pointer (&inst);
}

/* The agent answered: the timings, the guest's facts, state running. */
static gboolean
boot_ready (BgrEngine *engine, JsonObject *doc, Boot *b, const BgrAgentFacts *facts,
            GError **error)
{
  if (!b->saw_init)
    {
      b->saw_init = TRUE;
      b->init_us = g_get_monotonic_time ();
      bgr_vm_report (b->op, "waiting for the guest agent", b->step + 1, b->n_steps);
    }
  if (b->adopted)
    {
      /* Half of this boot happened under another engine: no timings. */
      json_object_remove_member (doc, "boot_kernel_ms");
      json_object_remove_member (doc, "boot_agent_ms");
    }
  else
    {
      json_object_set_int_member (doc, "boot_kernel_ms", (b->init_us - b->vmm_started_us) / 1000);
      json_object_set_int_member (doc, "boot_agent_ms", (g_get_monotonic_time () - b->init_us) / 1000);
    }
  set_facts (doc, facts);
  json_object_set_string_member (doc, "state", "running");
  json_object_set_int_member (doc, "started", bgr_vm_now_s ());
  json_object_set_int_member (doc, "last_activity", bgr_vm_now_s ());
  return bgr_vm_record_save (engine, doc, error);
}

/* Kills what was started, records "error" with the reason, and sets
 * @error from @local, naming the phase and quoting the console. */
static void
boot_failed (BgrEngine *engine, JsonObject *doc, BgrVmmInstance *inst, const char *name,
             const char *console, const char *phase, GError *local, GError **error)
{
  g_autofree char *tail_text = NULL, *tail = NULL;
  gboolean cancelled = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                       || g_error_matches (local, BGR_ERROR, BGR_ERROR_CANCELLED);
  /* A cancelled boot is BGR_ERROR_CANCELLED, as BgrOperation promises. */
  int code = local->domain == BGR_ERROR ? local->code
             : cancelled ? BGR_ERROR_CANCELLED : BGR_ERROR_FAILED;

  if (inst != NULL)
    bgr_vmm_instance_kill (inst, NULL);
  tail_text = bgr_read_tail (console, 4096);
  tail = bgr_last_lines (tail_text, 8);
  /* A boot the caller cancelled did not fail: the VM is just stopped. */
  json_object_set_string_member (doc, "state", cancelled ? "stopped" : "error");
  json_object_set_string_member (doc, "reason", cancelled ? "the boot was cancelled"
                                                          : local->message);
  json_object_set_int_member (doc, "stopped", bgr_vm_now_s ());
  json_object_remove_member (doc, "vmm");
  json_object_remove_member (doc, "creating");
  bgr_vm_record_save (engine, doc, NULL);
  if (inst != NULL && !cancelled)
    g_set_error (error, BGR_ERROR, code, "VM '%s' failed while %s: %s\nconsole log: %s%s%s", name,
                 phase, local->message, console, *tail ? "\n" : "", tail);
  else
    g_set_error (error, BGR_ERROR, code, "VM '%s' failed while %s: %s", name, phase,
                 local->message);
}

/* Starts the VMM for @doc and waits for the agent. On failure the VMM is
 * killed, the record says "error" with the reason, and the error names the
 * phase and quotes the console. Called with the VM claimed. */
static gboolean
boot_once (BgrEngine *engine, JsonObject *doc, guint first_step, guint n_steps,
           BgrOperation *op, gboolean *out_kvm_hang,
           GCancellable *cancellable, GError **error)
{
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  g_autofree char *run_dir = g_strdup (bgr_record_str (doc, "run_dir"));
  g_autofree char *console = g_strdup (bgr_record_str (doc, "console_log"));
  g_autofree char *driver_name = NULL, *cmdline = NULL;
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autoptr (BgrAgentFacts) facts = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autoptr (GError) local = NULL;
  gboolean kvm = FALSE, auto_kvm = FALSE;
  const char *phase = "starting the VMM";
  /* The crash points of the operation this boot is part of. */
  const char *what = json_object_has_member (doc, "creating") ? "vm-create" : "vm-start";
  Boot b = { 0 };

  *out_kvm_hang = FALSE;
  if (!choose_hypervisor (engine, bgr_record_str (doc, "kernel"), &driver_name, &kvm, &auto_kvm, &local))
    goto fail;
  /* A fresh, private run directory: the VMM's sockets and logs go there. */
  bgr_rm_rf (run_dir, NULL);
  if (!bgr_ensure_private_dir (run_dir, 0700, "VM run directory", &local))
    goto fail;
  cmdline = boot_cmdline (doc, driver_name, kvm);
  json_object_set_string_member (doc, "hypervisor", driver_name);
  json_object_set_string_member (doc, "accel", g_str_equal (driver_name, "fake") ? "none"
                                               : kvm ? "kvm" : "tcg");
  json_object_set_string_member (doc, "cmdline", cmdline);
  json_object_set_string_member (doc, "state", "starting");
  json_object_remove_member (doc, "reason");
  if (!bgr_vm_record_save (engine, doc, &local))
    goto fail;
  b.console_from = console_begin (console, name, driver_name, kvm);

  bgr_vm_report (op, phase, first_step, n_steps);
  inst = start_vmm (engine, doc, driver_name, cmdline, kvm, cancellable, &local);
  if (inst == NULL)
    goto fail;
  bgr_crash_point2 (what, "vmm-started");
  /* With a VMM recorded, the VM is no longer a create to undo. */
  json_object_remove_member (doc, "creating");
  if (!bgr_vm_record_save (engine, doc, &local))
    goto fail;
  bgr_crash_point2 (what, "vmm-recorded");

  phase = "booting";
  bgr_vm_report (op, phase, first_step + 1, n_steps);
  b.engine = engine;
  b.doc = doc;
  b.inst = inst;
  b.op = op;
  b.step = first_step + 1;
  b.n_steps = n_steps;
  b.vmm_started_us = g_get_monotonic_time ();
  b.watch_kvm = auto_kvm;
  conn = bgr_vm_agent_connect (inst, BOOT_TIMEOUT_MS, boot_alive, &b, &facts, cancellable, &local);
  if (conn == NULL || !boot_ready (engine, doc, &b, facts, &local))
    goto fail;
  bgr_crash_point2 (what, "running");
  bgr_vm_agent_set (engine, name, g_steal_pointer (&conn));
  return TRUE;

fail:
  *out_kvm_hang = b.kvm_hang;
  boot_failed (engine, doc, inst, name, console, phase, local, error);
  return FALSE;
}

/* Boots, and when KVM chosen by "auto" turns out not to run guests here,
 * boots again under TCG. */
gboolean
bgr_vm_boot (BgrEngine *engine, JsonObject *doc, guint first_step, guint n_steps,
             BgrOperation *op, GCancellable *cancellable,
             GError **error)
{
  g_autoptr (GError) local = NULL;
  gboolean hang = FALSE;

  if (boot_once (engine, doc, first_step, n_steps, op, &hang, cancellable,
                 &local))
    {
      bgr_vm_provision (engine, doc, cancellable);
      return TRUE;
    }
  if (!hang)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  /* The probe said KVM runs guests, yet this one hung: remember otherwise
   * for this host boot, in this process and (cached) in the others. */
  bgr_kvm_probe_record_no_guests (bgr_config_get_string (bgr_engine_get_config (engine), "cache_dir"),
                                  "a Linux guest did not start under KVM in time");
  g_warning ("VM %s: the guest kernel never started under KVM (the host can create KVM VMs but "
             "not run them); using TCG until the host reboots (set qemu_accel = \"tcg\" to skip this)",
             bgr_record_str (doc, "name"));
  if (!boot_once (engine, doc, first_step, n_steps, op, &hang, cancellable, error))
    return FALSE;
  bgr_vm_provision (engine, doc, cancellable);
  return TRUE;
}

gboolean
bgr_vm_boot_adopted (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable, GError **error)
{
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  g_autofree char *console = g_strdup (bgr_record_str (doc, "console_log"));
  g_autoptr (BgrVmmInstance) inst = bgr_vm_record_instance (doc);
  g_autoptr (BgrAgentFacts) facts = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autoptr (GError) local = NULL;
  Boot b = { 0 };

  if (inst == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "VM '%s' has no VMM", name);
      return FALSE;
    }
  b.engine = engine;
  b.doc = doc;
  b.inst = inst;
  b.adopted = TRUE;
  b.saw_init = TRUE; /* whatever the kernel said, it said to the other engine */
  b.vmm_started_us = b.init_us = g_get_monotonic_time ();
  b.console_from = bgr_vm_file_size (console);
  conn = bgr_vm_agent_connect (inst, BOOT_TIMEOUT_MS, boot_alive, &b, &facts, cancellable, &local);
  if (conn != NULL && boot_ready (engine, doc, &b, facts, &local))
    {
      bgr_vm_agent_set (engine, name, g_steal_pointer (&conn));
      return TRUE;
    }
  /* The engine is going away: the next one takes the boot up again. */
  if (g_cancellable_is_cancelled (cancellable))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  boot_failed (engine, doc, inst, name, console, "booting (adopted after a restart)",
               local, error);
  return FALSE;
}
