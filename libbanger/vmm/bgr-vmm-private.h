/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VMM driver interface: one implementation per hypervisor
 * (bgr-vmm-qemu.c, bgr-vmm-firecracker.c; bgr-vmm-fake.c, for tests, runs
 * the real guest agent on the host in place of a VM). The engine decides what a VM
 * looks like (disks, kernel, command line, network); a driver only turns
 * that into a running VMM process and talks to it.
 *
 * VMM processes are started detached (own session, not killed with the
 * caller) so that they survive a daemon restart; the engine finds them
 * again with adopt(). Everything a driver needs to find a VM again lives in
 * BgrVmmInstance, which the engine stores in the VM's record. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  const char *id;          /* short unique id ([a-z0-9]{8..32}); appears in the VMM's argv */
  const char *name;        /* VM name, for messages */
  const char *run_dir;     /* exists, empty, private: sockets, pid file, fifos go here */
  const char *binary;      /* firecracker_bin / qemu_bin (name in PATH or path) */
  const char *kernel;      /* vmlinux (ELF) or bzImage */
  const char *initrd;      /* NULL: none */
  const char *cmdline;     /* complete kernel command line */
  guint vcpus;
  guint64 memory_mib;
  const char *rootfs;      /* raw ext4 image, becomes /dev/vda (read-write) */
  const char *work_disk;   /* NULL or raw image, becomes /dev/vdb */
  const char *tap;         /* NULL: no network; else an existing tap device */
  const char *mac;         /* guest MAC ("02:xx:..."), with tap */
  const char *console_log; /* the serial console is appended to this file */
  gboolean allow_kvm;      /* qemu: use KVM (else TCG); firecracker always needs KVM */
  gboolean reclaim_memory; /* a balloon with free page reporting; qemu: a bounded TCG cache */
} BgrVmmConfig;

/* What identifies a started VMM. Paths are inside run_dir. */
typedef struct {
  char *driver;        /* "qemu" | "firecracker" | "fake" */
  gint pid;            /* the VMM process */
  guint64 start_time;  /* /proc/PID/stat field 22, to tell a reused pid apart */
  char *api_socket;    /* QMP (qemu) or API socket (firecracker) */
  char *agent_socket;  /* qemu: virtio-serial chardev socket; firecracker: hybrid vsock uds;
                        * fake: the agent's own listening socket */
  char *metrics_path;  /* firecracker: metrics file; qemu: NULL */
} BgrVmmInstance;

void bgr_vmm_instance_free (BgrVmmInstance *inst);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrVmmInstance, bgr_vmm_instance_free)

/* Counters a driver can read from outside the guest. -1: unknown. */
typedef struct {
  gint64 cpu_time_ms;       /* user+system of the VMM process */
  gint64 rss_bytes;         /* of the VMM process */
  gint64 disk_read_bytes, disk_write_bytes;
  gint64 net_rx_bytes, net_tx_bytes;
} BgrVmmMetrics;

typedef struct {
  const char *name;
  /* Starts the VMM with the guest running (firecracker: configured over the
   * API and InstanceStart sent). Returns when the VMM process is up, not
   * when the guest has booted. On failure nothing is left running and the
   * error says what the VMM said. */
  BgrVmmInstance *(*start) (const BgrVmmConfig *config, GCancellable *cancellable,
                            GError **error);
  /* Opens a byte stream to the guest agent's endpoint (for firecracker: the
   * hybrid vsock "CONNECT <port>" handshake done). May fail with
   * BGR_ERROR_BUSY / G_IO_ERROR_* while the guest is not listening yet; the
   * caller retries. */
  GIOStream *(*connect_agent) (const BgrVmmInstance *inst, GCancellable *cancellable,
                               GError **error);
  /* Asks the guest to shut down without the agent: ACPI power button (qemu)
   * or SendCtrlAltDel (firecracker). Returns once the request is sent. */
  gboolean (*request_shutdown) (const BgrVmmInstance *inst, GCancellable *cancellable,
                                GError **error);
  /* Fills @out; fields the driver cannot read stay -1. */
  gboolean (*metrics) (const BgrVmmInstance *inst, BgrVmmMetrics *out, GError **error);
} BgrVmmDriver;

extern const BgrVmmDriver bgr_vmm_qemu_driver;
extern const BgrVmmDriver bgr_vmm_firecracker_driver;
extern const BgrVmmDriver bgr_vmm_fake_driver;

const BgrVmmDriver *bgr_vmm_driver_lookup (const char *name);

/* Shared helpers (bgr-vmm.c). */

/* TRUE when @inst->pid is alive and is the same process (start time). */
gboolean bgr_vmm_instance_is_alive (const BgrVmmInstance *inst);
/* SIGKILLs the VMM (checked with is_alive first) and waits until it is
 * gone (pidfd). */
gboolean bgr_vmm_instance_kill (const BgrVmmInstance *inst, GError **error);
/* Waits until the VMM process exits, at most @timeout_ms (-1: forever).
 * FALSE with BGR_ERROR_TIMED_OUT when it is still running. */
gboolean bgr_vmm_instance_wait_exit (const BgrVmmInstance *inst, gint timeout_ms,
                                     GCancellable *cancellable, GError **error);
/* Kills (and waits for) the processes of this user whose command line
 * names a path inside @run_dir: a VMM started for a VM whose record never
 * got to name it (the engine died in between). Returns how many. */
guint bgr_vmm_kill_strays (const char *run_dir);
/* Field 22 of /proc/PID/stat, or 0 when the process does not exist. */
guint64 bgr_vmm_process_start_time (gint pid);
/* Spawns @argv detached (new session, stdin /dev/null, stdout+stderr to
 * @log_path opened for append), not waiting for it; returns its pid. The
 * child is reaped by a thread of ours while we live; after that it is
 * reparented like any orphan. */
gint bgr_vmm_spawn_detached (const char *const *argv, const char *log_path, GError **error);
/* Reads /proc/PID cpu time and RSS into @out (other fields untouched). */
void bgr_vmm_process_metrics (gint pid, BgrVmmMetrics *out);
/* Connects to the unix socket @path, retrying (10 ms steps) until
 * @timeout_ms passes or @pid (if > 0) dies. */
GSocketConnection *bgr_vmm_connect_unix (const char *path, gint pid, gint timeout_ms,
                                         GCancellable *cancellable, GError **error);

/* JSON (de)serialisation of an instance, for the VM record. */
#include <json-glib/json-glib.h>
JsonObject *bgr_vmm_instance_to_json (const BgrVmmInstance *inst);
BgrVmmInstance *bgr_vmm_instance_from_json (JsonObject *obj);

G_END_DECLS
