/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger doctor: checks the host and explains what banger can do on it. */
#include "config.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <banger/banger.h>

#include "bgr-doctor-private.h"
#include "bgr-error-private.h"
#include "vmm/bgr-kvm-probe-private.h"

G_GNUC_PRINTF (5, 6) static void
add (BgrDoctorReport *self, const char *name, BgrDoctorStatus status, const char *fix,
     const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  bgr_doctor_report_add (self, name, status, msg, fix);
}

/* Runs a program and returns the first line of its stdout, or NULL. */
static char *
first_line_of (const char *const *argv, GCancellable *cancellable)
{
  g_autoptr (GSubprocess) proc = NULL;
  g_autofree char *out = NULL;
  char *nl;

  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                            NULL);
  if (proc == NULL)
    return NULL;
  if (!g_subprocess_communicate_utf8 (proc, NULL, cancellable, &out, NULL, NULL))
    {
      g_subprocess_force_exit (proc); /* cancelled: do not leave it running */
      return NULL;
    }
  if (!g_subprocess_get_successful (proc) || out == NULL)
    return NULL;
  nl = strchr (out, '\n');
  if (nl != NULL)
    *nl = '\0';
  return g_strdup (g_strstrip (out));
}

static char *
stdout_of (const char *const *argv, GCancellable *cancellable)
{
  g_autoptr (GSubprocess) proc = NULL;
  char *out = NULL;

  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                            NULL);
  if (proc == NULL)
    return NULL;
  if (!g_subprocess_communicate_utf8 (proc, NULL, cancellable, &out, NULL, NULL))
    {
      g_subprocess_force_exit (proc);
      return NULL;
    }
  return out;
}

static char *
find_program (const char *name)
{
  if (g_path_is_absolute (name))
    return g_file_test (name, G_FILE_TEST_IS_EXECUTABLE) ? g_strdup (name) : NULL;
  return g_find_program_in_path (name);
}

/* The accelerator the engine gives qemu VMs (choose_hypervisor() in
 * bgr-engine-vm.c): "kvm", "tcg", or "" when they cannot start. */
static const char *
qemu_accel_for (BgrConfig *config, BgrKvmVerdict kvm)
{
  const char *accel = bgr_config_get_string (config, "qemu_accel");

  if (g_str_equal (accel, "tcg"))
    return "tcg";
  if (g_str_equal (accel, "kvm"))
    return kvm >= BGR_KVM_NO_GUESTS ? "kvm" : "";
  return kvm == BGR_KVM_USABLE ? "kvm" : "tcg";
}

static void
check_disk (BgrDoctorReport *self, const char *name, const char *key, const char *dir)
{
  g_autofree char *probe = g_strdup (dir);
  struct statvfs vfs;
  guint64 free_bytes;
  g_autofree char *human = NULL;

  /* The directory may not exist yet: measure the filesystem it will be on. */
  while (access (probe, F_OK) != 0 && strcmp (probe, "/") != 0)
    {
      char *parent = g_path_get_dirname (probe);
      g_free (probe);
      probe = parent;
    }
  if (statvfs (probe, &vfs) != 0)
    {
      add (self, name, BGR_DOCTOR_FAIL, "check that the directory's filesystem is mounted",
           "%s (%s): cannot read free space: %s", dir, key, g_strerror (errno));
      return;
    }
  free_bytes = (guint64) vfs.f_bavail * vfs.f_frsize;
  human = g_format_size (free_bytes);
  if (free_bytes < (guint64) 1 << 30)
    add (self, name, BGR_DOCTOR_FAIL, "free space, or point this key at a larger filesystem",
         "%s (%s): only %s free", dir, key, human);
  else if (free_bytes < (guint64) 5 << 30)
    add (self, name, BGR_DOCTOR_WARN, "images and VM disks need several GiB; free space",
         "%s (%s): %s free", dir, key, human);
  else
    add (self, name, BGR_DOCTOR_PASS, NULL, "%s (%s): %s free", dir, key, human);
}

static gboolean
has_cap_net_admin (void)
{
  g_autofree char *status = NULL;
  g_auto (GStrv) lines = NULL;

  if (geteuid () == 0)
    return TRUE;
  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return FALSE;
  lines = g_strsplit (status, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    if (g_str_has_prefix (*l, "CapEff:"))
      return (g_ascii_strtoull (*l + 7, NULL, 16) & (1ull << 12)) != 0; /* CAP_NET_ADMIN */
  return FALSE;
}

static void
check_tool (BgrDoctorReport *self, const char *name, const char *const *programs,
            BgrDoctorStatus missing_status, const char *why, const char *fix)
{
  for (const char *const *p = programs; *p != NULL; p++)
    {
      g_autofree char *path = g_find_program_in_path (*p);
      if (path != NULL)
        {
          add (self, name, BGR_DOCTOR_PASS, NULL, "%s", path);
          return;
        }
    }
  {
    g_autofree char *list = g_strjoinv (" or ", (char **) programs);
    add (self, name, missing_status, fix, "%s not found in PATH: %s", list, why);
  }
}

static BgrDoctorReport *run_checks (BgrDoctorReport *self, BgrConfig *config,
                                    GCancellable *cancellable, GError **error);

/**
 * bgr_doctor_run:
 * @config_path: (nullable): configuration file to check; %NULL for the
 *   default location
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Checks the host: KVM, firecracker, QEMU and which hypervisor `auto`
 * picks, tun and vhost-vsock devices, the networking tools, ssh, free disk
 * in the state and cache directories, and the configuration itself. A
 * broken configuration is reported as a failed check (the other checks then
 * use the defaults), not as an error.
 *
 * Returns: (transfer full): the report, or %NULL when cancelled
 * Since: 0.1
 */
BgrDoctorReport *
bgr_doctor_run (const char *config_path, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrDoctorReport) self = bgr_doctor_report_new ();
  g_autoptr (BgrConfig) config = NULL;
  g_autoptr (GError) cfg_error = NULL;
  g_autofree char *default_path = bgr_config_dup_default_path ();

  config = bgr_config_load (config_path, &cfg_error);
  if (config == NULL)
    {
      add (self, "config", BGR_DOCTOR_FAIL, "fix the file; `banger config show` lists the keys",
           "%s", cfg_error->message);
      config = bgr_config_new_default ();
    }
  else if (bgr_config_get_path (config) != NULL)
    add (self, "config", BGR_DOCTOR_PASS, NULL, "%s parsed", bgr_config_get_path (config));
  else
    add (self, "config", BGR_DOCTOR_PASS, NULL, "no file at %s: built-in defaults",
         config_path != NULL ? config_path : default_path);
  return run_checks (g_steal_pointer (&self), config, cancellable, error);
}

/**
 * bgr_doctor_run_for_config:
 * @config: the configuration to check the host against (already loaded,
 *   e.g. the one an engine runs with)
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like bgr_doctor_run(), for a configuration already in memory.
 *
 * Returns: (transfer full): the report, or %NULL when cancelled
 * Since: 0.1
 */
BgrDoctorReport *
bgr_doctor_run_for_config (BgrConfig *config, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrDoctorReport) self = bgr_doctor_report_new ();

  g_return_val_if_fail (BGR_IS_CONFIG (config), NULL);
  if (bgr_config_get_path (config) != NULL)
    add (self, "config", BGR_DOCTOR_PASS, NULL, "%s parsed", bgr_config_get_path (config));
  else
    add (self, "config", BGR_DOCTOR_PASS, NULL, "no config file: built-in defaults");
  return run_checks (g_steal_pointer (&self), config, cancellable, error);
}

/* The web UI should be reachable from this machine only. */
static void
check_web (BgrDoctorReport *self, const char *listen)
{
  const char *colon = listen != NULL ? strrchr (listen, ':') : NULL;
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) address = NULL;

  if (listen == NULL || *listen == '\0' || colon == NULL)
    {
      add (self, "web", BGR_DOCTOR_PASS, NULL, "web UI off (web_listen_addr is empty)");
      return;
    }
  host = g_strndup (listen, colon - listen);
  if (host[0] == '[' && g_str_has_suffix (host, "]"))
    {
      host[strlen (host) - 1] = '\0';
      memmove (host, host + 1, strlen (host));
    }
  address = g_str_equal (host, "localhost") ? g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4)
                                            : g_inet_address_new_from_string (host);
  if (address == NULL)
    add (self, "web", BGR_DOCTOR_WARN, "set web_listen_addr to 127.0.0.1:PORT",
         "web_listen_addr %s: the host is not an IP address or localhost; bangerd serves no "
         "web UI", listen);
  else if (!g_inet_address_get_is_loopback (address))
    add (self, "web", BGR_DOCTOR_WARN,
         "set web_listen_addr to 127.0.0.1:PORT unless other machines must reach the UI",
         "the web UI listens on %s, not a loopback address: other machines can reach it "
         "(they still need its token)", listen);
  else
    add (self, "web", BGR_DOCTOR_PASS, NULL, "web UI on loopback (%s)", listen);
}

static BgrDoctorReport *
run_checks (BgrDoctorReport *self_owned, BgrConfig *config, GCancellable *cancellable,
            GError **error)
{
  g_autoptr (BgrDoctorReport) self = self_owned;
  g_autofree char *kvm_why = NULL;
  g_autofree char *fc_path = NULL, *fc_version = NULL;
  g_autofree char *qemu_path = NULL, *qemu_version = NULL;
  g_autofree char *kvm_cache = NULL;
  const char *hv = bgr_config_get_string (config, "hypervisor");
  const char *accel = bgr_config_get_string (config, "qemu_accel");
  BgrKvmVerdict kvm;
  gboolean kvm_cached = FALSE;
  gboolean fc_ok = FALSE, qemu_ok = FALSE;

  /* kvm: only a guest that runs proves it (bgr-kvm-probe-private.h) */
  kvm = bgr_kvm_probe (bgr_config_get_string (config, "cache_dir"), &kvm_why, &kvm_cached);
  kvm_cache = bgr_kvm_probe_dup_cache_path (bgr_config_get_string (config, "cache_dir"));
  if (kvm == BGR_KVM_USABLE)
    add (self, "kvm", BGR_DOCTOR_PASS, NULL, "/dev/kvm runs guests: %s%s", kvm_why,
         kvm_cached ? " (found earlier this boot)" : "");
  else if (kvm == BGR_KVM_ABSENT)
    add (self, "kvm", BGR_DOCTOR_WARN,
         "enable virtualization (VT-x/AMD-V) in the firmware, or nested virtualization in the "
         "host VM, then `modprobe kvm_intel` or `modprobe kvm_amd`",
         "%s: firecracker cannot run; qemu falls back to TCG (slow)", kvm_why);
  else if (kvm == BGR_KVM_NO_ACCESS)
    add (self, "kvm", BGR_DOCTOR_WARN,
         "add your user to the 'kvm' group (`sudo usermod -aG kvm $USER`, then log in again)",
         "%s: firecracker cannot run; qemu falls back to TCG (slow)", kvm_why);
  else
    {
      g_autofree char *fix = g_strdup_printf (
        "none needed: qemu_accel = \"auto\" uses TCG here (slow but working). For fast VMs use "
        "a host with hardware virtualization (VT-x/AMD-V, or nested virtualization enabled for "
        "this VM). The verdict holds until the host reboots%s%s%s",
        kvm_cache != NULL ? "; delete " : "", kvm_cache != NULL ? kvm_cache : "",
        kvm_cache != NULL ? " to probe again" : "");
      add (self, "kvm", BGR_DOCTOR_WARN, fix,
           "/dev/kvm is present, but guests do not run under it: %s%s. "
           "VMs use qemu with TCG; firecracker cannot run here",
           kvm_why, kvm_cached ? " (found earlier this boot)" : "");
    }

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  /* firecracker */
  fc_path = find_program (bgr_config_get_string (config, "firecracker_bin"));
  if (fc_path != NULL)
    {
      const char *argv[] = { fc_path, "--version", NULL };
      fc_version = first_line_of (argv, cancellable);
    }
  if (fc_path == NULL)
    add (self, "firecracker", g_str_equal (hv, "firecracker") ? BGR_DOCTOR_FAIL : BGR_DOCTOR_WARN,
         "install firecracker from its release page and put it in PATH or set firecracker_bin",
         "'%s' not found (firecracker_bin)", bgr_config_get_string (config, "firecracker_bin"));
  else if (fc_version == NULL)
    add (self, "firecracker", g_str_equal (hv, "firecracker") ? BGR_DOCTOR_FAIL : BGR_DOCTOR_WARN,
         "check that the binary runs: `firecracker --version`",
         "%s does not answer --version", fc_path);
  else
    {
      fc_ok = kvm == BGR_KVM_USABLE;
      add (self, "firecracker", fc_ok ? BGR_DOCTOR_PASS : BGR_DOCTOR_WARN,
           fc_ok ? NULL : "firecracker needs a KVM that runs guests (see the kvm check)",
           "%s at %s%s", fc_version, fc_path,
           fc_ok                         ? ""
           : kvm == BGR_KVM_NO_GUESTS ? " (unusable here: KVM does not run guests)"
                                      : " (unusable here: no KVM)");
    }

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  /* qemu */
  qemu_path = find_program (bgr_config_get_string (config, "qemu_bin"));
  if (qemu_path != NULL)
    {
      const char *argv[] = { qemu_path, "--version", NULL };
      qemu_version = first_line_of (argv, cancellable);
    }
  if (qemu_path == NULL)
    add (self, "qemu", g_str_equal (hv, "qemu") ? BGR_DOCTOR_FAIL : BGR_DOCTOR_WARN,
         "apt-get install qemu-system-x86 (or set qemu_bin)", "'%s' not found (qemu_bin)",
         bgr_config_get_string (config, "qemu_bin"));
  else if (qemu_version == NULL)
    add (self, "qemu", g_str_equal (hv, "qemu") ? BGR_DOCTOR_FAIL : BGR_DOCTOR_WARN,
         "check that the binary runs: `qemu-system-x86_64 --version`",
         "%s does not answer --version", qemu_path);
  else
    {
      const char *argv[] = { qemu_path, "-machine", "help", NULL };
      g_autofree char *machines = stdout_of (argv, cancellable);
      gboolean microvm = machines != NULL && strstr (machines, "microvm") != NULL;

      if (!microvm)
        add (self, "qemu", g_str_equal (hv, "qemu") ? BGR_DOCTOR_FAIL : BGR_DOCTOR_WARN,
             "use a qemu-system-x86_64 built with the microvm machine (Debian's qemu-system-x86)",
             "%s at %s lacks the microvm machine type", qemu_version, qemu_path);
      else
        {
          qemu_ok = TRUE;
          add (self, "qemu", BGR_DOCTOR_PASS, NULL, "%s at %s, microvm, accel %s", qemu_version,
               qemu_path,
               kvm == BGR_KVM_USABLE      ? "KVM"
               : kvm == BGR_KVM_NO_GUESTS ? "TCG only (KVM does not run guests here)"
                                          : "TCG only (no usable /dev/kvm)");
        }
    }

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  /* hypervisor choice, and the accelerator its VMs get */
  if (g_str_equal (hv, "fake"))
    {
      bgr_doctor_report_set_hypervisor (self, "fake");
      bgr_doctor_report_set_accel (self, "none");
      add (self, "hypervisor", BGR_DOCTOR_WARN, "set hypervisor = \"auto\" to run real VMs",
           "fake (set in config): VMs are the guest agent run on the host, for tests only");
    }
  else if (g_str_equal (hv, "firecracker"))
    {
      bgr_doctor_report_set_hypervisor (self, fc_ok ? "firecracker" : "");
      bgr_doctor_report_set_accel (self, fc_ok ? "kvm" : "");
      if (fc_ok)
        add (self, "hypervisor", BGR_DOCTOR_PASS, NULL, "firecracker (set in config)");
      else
        add (self, "hypervisor", BGR_DOCTOR_FAIL,
             "set hypervisor = \"auto\" or \"qemu\", or make firecracker usable",
             "firecracker is configured but cannot run here");
    }
  else if (fc_ok && g_str_equal (hv, "auto"))
    {
      bgr_doctor_report_set_hypervisor (self, "firecracker");
      bgr_doctor_report_set_accel (self, "kvm");
      add (self, "hypervisor", BGR_DOCTOR_PASS, NULL,
           "auto picks firecracker for images whose kernel is a vmlinux (ELF): its binary "
           "runs and KVM runs guests; images with a bzImage run on qemu");
    }
  else if (!qemu_ok)
    {
      bgr_doctor_report_set_hypervisor (self, "");
      if (g_str_equal (hv, "qemu"))
        add (self, "hypervisor", BGR_DOCTOR_FAIL, "apt-get install qemu-system-x86",
             "qemu is configured but not usable");
      else
        add (self, "hypervisor", BGR_DOCTOR_FAIL,
             "apt-get install qemu-system-x86 (works everywhere), or install firecracker on a "
             "KVM host",
             "auto finds no usable hypervisor: neither firecracker with KVM nor qemu");
    }
  else
    {
      const char *qa = qemu_accel_for (config, kvm);
      const char *how = g_str_equal (hv, "qemu") ? "qemu" : "auto picks qemu";

      bgr_doctor_report_set_hypervisor (self, *qa != '\0' ? "qemu" : "");
      bgr_doctor_report_set_accel (self, qa);
      if (*qa == '\0')
        add (self, "hypervisor", BGR_DOCTOR_FAIL, "set qemu_accel = \"auto\" or \"tcg\"",
             "qemu_accel = \"kvm\" but %s", kvm_why);
      else if (g_str_equal (accel, "kvm") && kvm != BGR_KVM_USABLE)
        add (self, "hypervisor", BGR_DOCTOR_FAIL, "set qemu_accel = \"auto\" or \"tcg\"",
             "%s with KVM (qemu_accel = \"kvm\"), but KVM does not run guests here: VMs "
             "would hang", how);
      else if (g_str_equal (accel, "kvm"))
        add (self, "hypervisor", BGR_DOCTOR_PASS, NULL, "%s with KVM (qemu_accel = \"kvm\")%s",
             how, g_str_equal (hv, "qemu") ? "" : ": firecracker is not installed");
      else if (g_str_equal (accel, "tcg"))
        add (self, "hypervisor", BGR_DOCTOR_PASS, NULL, "%s with TCG (qemu_accel = \"tcg\")%s%s",
             how, g_str_equal (hv, "qemu") ? "" : ": firecracker is not ",
             g_str_equal (hv, "qemu") ? "" : fc_path == NULL ? "installed" : "usable");
      else if (kvm == BGR_KVM_USABLE)
        add (self, "hypervisor", BGR_DOCTOR_PASS, NULL,
             "%s with KVM (and TCG if a guest does not start under KVM)%s", how,
             g_str_equal (hv, "qemu") ? "" : ": firecracker is not installed");
      else
        add (self, "hypervisor", BGR_DOCTOR_WARN,
             "for fast VMs use a host whose KVM runs guests; qemu/TCG works but boots slowly",
             "%s with TCG: %s", how,
             kvm == BGR_KVM_NO_GUESTS ? "KVM does not run guests here (see the kvm check)"
                                      : kvm_why);
    }

  /* devices */
  {
    struct stat st;
    if (stat ("/dev/net/tun", &st) == 0 && S_ISCHR (st.st_mode))
      add (self, "tun", BGR_DOCTOR_PASS, NULL, "/dev/net/tun present");
    else
      add (self, "tun", BGR_DOCTOR_FAIL, "`modprobe tun`",
           "/dev/net/tun missing: VMs cannot get network devices");
    if (stat ("/dev/vhost-vsock", &st) == 0 && S_ISCHR (st.st_mode))
      add (self, "vhost-vsock", BGR_DOCTOR_PASS, NULL, "/dev/vhost-vsock present");
    else
      add (self, "vhost-vsock", BGR_DOCTOR_WARN, "`modprobe vhost_vsock`",
           "/dev/vhost-vsock missing: qemu guests use virtio-serial for the agent instead "
           "(firecracker uses its own hybrid vsock)");
  }

  /* tools */
  {
    static const char *const ip[] = { "ip", NULL };
    static const char *const fw[] = { "nft", "iptables", NULL };
    static const char *const dns[] = { "dnsmasq", NULL };
    static const char *const ssh[] = { "ssh", NULL };
    static const char *const keygen[] = { "ssh-keygen", NULL };

    check_tool (self, "ip", ip, BGR_DOCTOR_WARN, "bridges and taps cannot be set up",
                "apt-get install iproute2");
    check_tool (self, "firewall", fw, BGR_DOCTOR_WARN, "guest NAT cannot be set up",
                "apt-get install nftables");
    check_tool (self, "dnsmasq", dns, BGR_DOCTOR_WARN, "<name>.vm names will not resolve",
                "apt-get install dnsmasq-base");
    check_tool (self, "ssh", ssh, BGR_DOCTOR_WARN, "`banger vm ssh` will not work",
                "apt-get install openssh-client");
    check_tool (self, "ssh-keygen", keygen, BGR_DOCTOR_WARN, "banger cannot create its ssh key",
                "apt-get install openssh-client");
  }
  if (has_cap_net_admin ())
    add (self, "net-admin", BGR_DOCTOR_PASS, NULL,
         "running with CAP_NET_ADMIN: bridge and taps can be managed");
  else
    add (self, "net-admin", BGR_DOCTOR_WARN,
         "run the system daemon (`bangerd --system` as root) for bridge networking",
         "no CAP_NET_ADMIN: this process cannot create the bridge or taps");

  check_disk (self, "state-disk", "state_dir", bgr_config_get_string (config, "state_dir"));
  check_disk (self, "cache-disk", "cache_dir", bgr_config_get_string (config, "cache_dir"));
  check_web (self, bgr_config_get_string (config, "web_listen_addr"));

  return g_steal_pointer (&self);
}
