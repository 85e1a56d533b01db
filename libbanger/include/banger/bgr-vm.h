/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <glib-object.h>
#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BgrVm:
 *
 * A microVM: its own copy of an image's rootfs (and work disk), a kernel,
 * vCPUs and memory, a VMM process (QEMU or Firecracker) while it runs, and
 * the facts its guest agent reported. A #BgrVm is a snapshot of the record.
 *
 * A #BgrVm holds the public fields of a VM, not its stored record: the
 * getters below, the guest's addresses (bgr_vm_dup_guest_addrs()), and in
 * its JSON form (bgr_vm_to_json()) a "debug" object with what helps to
 * debug a boot (kernel command line, tap device, boot timings), documented
 * in docs/vms.md and not stable.
 *
 * Since: 0.1
 */
#define BGR_TYPE_VM (bgr_vm_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrVm, bgr_vm, BGR, VM, GObject)

/**
 * BgrVmState:
 * @BGR_VM_STATE_UNKNOWN: a state this libbanger does not know (a newer daemon's)
 * @BGR_VM_STATE_STARTING: disks being prepared or the guest booting
 * @BGR_VM_STATE_RUNNING: the guest agent answered
 * @BGR_VM_STATE_STOPPING: a stop is under way
 * @BGR_VM_STATE_STOPPED: no VMM runs
 * @BGR_VM_STATE_ERROR: creation or boot failed; bgr_vm_get_reason() says why
 *   and the console log is kept
 *
 * On the wire (JSON, D-Bus) a state is its name: "starting", "running"...
 *
 * Since: 0.2
 */
typedef enum {
  BGR_VM_STATE_UNKNOWN = 0,
  BGR_VM_STATE_STARTING,
  BGR_VM_STATE_RUNNING,
  BGR_VM_STATE_STOPPING,
  BGR_VM_STATE_STOPPED,
  BGR_VM_STATE_ERROR
} BgrVmState;

BGR_EXTERN const char *bgr_vm_state_to_string (BgrVmState state);
BGR_EXTERN BgrVmState bgr_vm_state_from_string (const char *name);

BGR_EXTERN const char *bgr_vm_get_name (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_id (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_image (BgrVm *self);
BGR_EXTERN BgrVmState bgr_vm_get_state (BgrVm *self);
BGR_EXTERN char **bgr_vm_dup_guest_addrs (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_reason (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_hypervisor (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_accel (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_ip (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_mac (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_dns_name (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_console_log_path (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_guest_kernel (BgrVm *self);
BGR_EXTERN const char *bgr_vm_get_guest_os (BgrVm *self);
BGR_EXTERN gint64 bgr_vm_get_vcpus (BgrVm *self);
BGR_EXTERN gint64 bgr_vm_get_memory_mib (BgrVm *self);
BGR_EXTERN gint64 bgr_vm_get_disk_size (BgrVm *self);
BGR_EXTERN gint64 bgr_vm_get_work_size (BgrVm *self);
BGR_EXTERN gint64 bgr_vm_get_disk_used (BgrVm *self);
BGR_EXTERN gint64 bgr_vm_get_pid (BgrVm *self);
BGR_EXTERN gint64 bgr_vm_get_created (BgrVm *self);
BGR_EXTERN gint64 bgr_vm_get_started (BgrVm *self);
BGR_EXTERN gint64 bgr_vm_get_last_activity (BgrVm *self);
BGR_EXTERN char *bgr_vm_to_json (BgrVm *self);
BGR_EXTERN GVariant *bgr_vm_to_variant (BgrVm *self);

/**
 * BgrVmPort:
 *
 * A socket listening inside a VM's guest, as its agent reported it.
 *
 * Since: 0.1
 */
#define BGR_TYPE_VM_PORT (bgr_vm_port_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrVmPort, bgr_vm_port, BGR, VM_PORT, GObject)

BGR_EXTERN const char *bgr_vm_port_get_protocol (BgrVmPort *self);
BGR_EXTERN const char *bgr_vm_port_get_address (BgrVmPort *self);
BGR_EXTERN gint64 bgr_vm_port_get_port (BgrVmPort *self);
BGR_EXTERN gint64 bgr_vm_port_get_pid (BgrVmPort *self);
BGR_EXTERN const char *bgr_vm_port_get_process (BgrVmPort *self);
BGR_EXTERN char *bgr_vm_port_to_json (BgrVmPort *self);
BGR_EXTERN GVariant *bgr_vm_port_to_variant (BgrVmPort *self);

/**
 * BgrVmStats:
 *
 * A sample of a running VM's resource use: from the guest agent (CPU time,
 * memory, load, root filesystem) and from outside (the VMM process's CPU
 * time and memory, disk and network bytes). bgr_vm_stats_get() reads a
 * member by name; -1 when it is unknown.
 *
 * Since: 0.1
 */
#define BGR_TYPE_VM_STATS (bgr_vm_stats_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrVmStats, bgr_vm_stats, BGR, VM_STATS, GObject)

BGR_EXTERN const char *bgr_vm_stats_get_name (BgrVmStats *self);
BGR_EXTERN gint64 bgr_vm_stats_get (BgrVmStats *self, const char *member);
BGR_EXTERN char *bgr_vm_stats_to_json (BgrVmStats *self);
BGR_EXTERN GVariant *bgr_vm_stats_to_variant (BgrVmStats *self);

/**
 * BgrVmForward:
 *
 * A host TCP port whose connections the engine forwards to a port in a
 * VM's guest, through its agent (bgr_client_vm_forward_add()).
 *
 * Since: 0.2
 */
#define BGR_TYPE_VM_FORWARD (bgr_vm_forward_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrVmForward, bgr_vm_forward, BGR, VM_FORWARD, GObject)

BGR_EXTERN const char *bgr_vm_forward_get_name (BgrVmForward *self);
BGR_EXTERN const char *bgr_vm_forward_get_host_address (BgrVmForward *self);
BGR_EXTERN gint64 bgr_vm_forward_get_host_port (BgrVmForward *self);
BGR_EXTERN gint64 bgr_vm_forward_get_guest_port (BgrVmForward *self);
BGR_EXTERN gboolean bgr_vm_forward_get_listening (BgrVmForward *self);
BGR_EXTERN char *bgr_vm_forward_to_json (BgrVmForward *self);
BGR_EXTERN GVariant *bgr_vm_forward_to_variant (BgrVmForward *self);

G_END_DECLS
