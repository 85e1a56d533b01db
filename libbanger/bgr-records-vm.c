/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrVm, BgrVmPort and BgrVmStats: read-only public views. A BgrVm keeps
 * only the public fields of its record (vm_public()). */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-records-private.h"

#define str_member bgr_record_str
#define int_member bgr_record_int
#define public_json bgr_record_public_json

/* ---- BgrVm -------------------------------------------------------------- */

struct _BgrVm {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrVm, bgr_vm, G_TYPE_OBJECT)

static void
bgr_vm_finalize (GObject *object)
{
  g_clear_pointer (&BGR_VM (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_vm_parent_class)->finalize (object);
}

static void
bgr_vm_class_init (BgrVmClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_vm_finalize;
}

static void
bgr_vm_init (BgrVm *self)
{
}

/* The public fields of a VM, by name; anything else in the record is the
 * engine's business. Debugging aids go in "debug". */
static const char *const vm_public_members[] = {
  "name", "id", "image", "state", "reason", "hypervisor", "accel", "network", "ip", "mac",
  "dns_name", "console_log", "guest_kernel", "guest_os", "guest_addrs", "vcpus", "memory_mib",
  "disk_size", "disk_used", "pid", "created", "started", "stopped", "last_activity", "debug",
  "work_size", "workspace", NULL
};

static const struct {
  const char *record;
  const char *debug;
} vm_debug_members[] = {
  { "cmdline", "kernel_cmdline" },
  { "tap", "tap" },
  { "boot_install_ms", "boot_install_ms" },
  { "boot_clone_ms", "boot_clone_ms" },
  { "boot_vmm_ms", "boot_vmm_ms" },
  { "boot_kernel_ms", "boot_kernel_ms" },
  { "boot_agent_ms", "boot_agent_ms" },
};

/* The public view of a VM record (or of a view already made, as it comes
 * over D-Bus: then it is kept as it is). */
static JsonObject *
vm_public (JsonObject *doc)
{
  JsonObject *out = json_object_new ();
  JsonObject *debug = NULL;

  for (guint i = 0; vm_public_members[i] != NULL; i++)
    if (json_object_has_member (doc, vm_public_members[i]))
      json_object_set_member (out, vm_public_members[i],
                              json_node_copy (json_object_get_member (doc, vm_public_members[i])));
  for (guint i = 0; i < G_N_ELEMENTS (vm_debug_members); i++)
    if (json_object_has_member (doc, vm_debug_members[i].record))
      {
        if (debug == NULL)
          debug = json_object_new ();
        json_object_set_member (debug, vm_debug_members[i].debug,
                                json_node_copy (json_object_get_member (doc, vm_debug_members[i].record)));
      }
  if (debug != NULL && !json_object_has_member (out, "debug"))
    json_object_set_object_member (out, "debug", debug);
  else if (debug != NULL)
    json_object_unref (debug);
  return out;
}

BgrVm *
bgr_vm_new_from_json (JsonObject *doc)
{
  BgrVm *self = g_object_new (BGR_TYPE_VM, NULL);
  self->doc = vm_public (doc);
  return self;
}

#define VM_STR(fn, member)                                      \
  const char *fn (BgrVm *self)                                  \
  {                                                             \
    g_return_val_if_fail (BGR_IS_VM (self), NULL);              \
    return str_member (self->doc, member);                      \
  }
#define VM_INT(fn, member)                                      \
  gint64 fn (BgrVm *self)                                       \
  {                                                             \
    g_return_val_if_fail (BGR_IS_VM (self), 0);                 \
    return int_member (self->doc, member);                      \
  }

/**
 * bgr_vm_get_name:
 * @self: a #BgrVm
 *
 * The string getters of #BgrVm return borrowed strings, %NULL when unset:
 * bgr_vm_get_id(), bgr_vm_get_image(),
 * bgr_vm_get_reason() (why it stopped or failed), bgr_vm_get_hypervisor()
 * ("qemu" or "firecracker"), bgr_vm_get_accel() ("kvm" or "tcg"),
 * bgr_vm_get_ip(), bgr_vm_get_mac(), bgr_vm_get_dns_name() ("NAME.vm"; only
 * with networking), bgr_vm_get_console_log_path(), bgr_vm_get_guest_kernel()
 * and bgr_vm_get_guest_os() (as the guest agent reported them).
 *
 * Returns: (transfer none): the VM's name
 * Since: 0.1
 */
VM_STR (bgr_vm_get_name, "name")
VM_STR (bgr_vm_get_id, "id")
VM_STR (bgr_vm_get_image, "image")

static const char *const vm_state_names[] = {
  [BGR_VM_STATE_UNKNOWN] = "unknown",   [BGR_VM_STATE_STARTING] = "starting",
  [BGR_VM_STATE_RUNNING] = "running",   [BGR_VM_STATE_STOPPING] = "stopping",
  [BGR_VM_STATE_STOPPED] = "stopped",   [BGR_VM_STATE_ERROR] = "error",
};

/**
 * bgr_vm_state_to_string:
 * @state: a #BgrVmState
 *
 * Returns: (transfer none): the state's name ("running"...), "unknown"
 *   for a value out of range
 * Since: 0.2
 */
const char *
bgr_vm_state_to_string (BgrVmState state)
{
  return (guint) state < G_N_ELEMENTS (vm_state_names) ? vm_state_names[state] : "unknown";
}

/**
 * bgr_vm_state_from_string:
 * @name: (nullable): a state's name
 *
 * Returns: the state, %BGR_VM_STATE_UNKNOWN for a name it does not know
 * Since: 0.2
 */
BgrVmState
bgr_vm_state_from_string (const char *name)
{
  for (guint i = 1; i < G_N_ELEMENTS (vm_state_names); i++)
    if (g_strcmp0 (name, vm_state_names[i]) == 0)
      return (BgrVmState) i;
  return BGR_VM_STATE_UNKNOWN;
}

/**
 * bgr_vm_get_state:
 * @self: a #BgrVm
 *
 * Returns: the VM's state
 * Since: 0.2
 */
BgrVmState
bgr_vm_get_state (BgrVm *self)
{
  g_return_val_if_fail (BGR_IS_VM (self), BGR_VM_STATE_UNKNOWN);
  return bgr_vm_state_from_string (str_member (self->doc, "state"));
}

/**
 * bgr_vm_dup_guest_addrs:
 * @self: a #BgrVm
 *
 * Returns: (transfer full): the addresses the guest agent reported
 *   ("10.0.0.2/24"...), an empty list when none
 * Since: 0.2
 */
char **
bgr_vm_dup_guest_addrs (BgrVm *self)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  JsonNode *n;

  g_return_val_if_fail (BGR_IS_VM (self), NULL);
  n = json_object_get_member (self->doc, "guest_addrs");
  if (n != NULL && JSON_NODE_HOLDS_ARRAY (n))
    {
      JsonArray *a = json_node_get_array (n);
      for (guint i = 0; i < json_array_get_length (a); i++)
        {
          JsonNode *e = json_array_get_element (a, i);
          if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING)
            g_strv_builder_add (b, json_node_get_string (e));
        }
    }
  return g_strv_builder_end (b);
}
VM_STR (bgr_vm_get_reason, "reason")
VM_STR (bgr_vm_get_hypervisor, "hypervisor")
VM_STR (bgr_vm_get_accel, "accel")
VM_STR (bgr_vm_get_ip, "ip")
VM_STR (bgr_vm_get_mac, "mac")
VM_STR (bgr_vm_get_dns_name, "dns_name")
VM_STR (bgr_vm_get_console_log_path, "console_log")
VM_STR (bgr_vm_get_guest_kernel, "guest_kernel")
VM_STR (bgr_vm_get_guest_os, "guest_os")

/**
 * bgr_vm_get_vcpus:
 * @self: a #BgrVm
 *
 * The integer getters of #BgrVm: bgr_vm_get_vcpus(),
 * bgr_vm_get_memory_mib(), bgr_vm_get_disk_size() (bytes of the VM's
 * rootfs), bgr_vm_get_disk_used() (bytes its files take on disk now:
 * disks, console log; also for a VM whose create failed, since 0.2),
 * bgr_vm_get_pid() (the VMM process while it runs, else 0),
 * bgr_vm_get_created(), bgr_vm_get_started() and
 * bgr_vm_get_last_activity() (Unix times in seconds, 0 when unset).
 *
 * Returns: the number of vCPUs
 * Since: 0.1
 */
VM_INT (bgr_vm_get_vcpus, "vcpus")
VM_INT (bgr_vm_get_memory_mib, "memory_mib")
VM_INT (bgr_vm_get_disk_size, "disk_size")
VM_INT (bgr_vm_get_disk_used, "disk_used")
/* bgr_vm_get_work_size(): bytes of the work disk mounted at /root (0: the
 * VM has none; since 0.2). */
VM_INT (bgr_vm_get_work_size, "work_size")
VM_INT (bgr_vm_get_pid, "pid")
VM_INT (bgr_vm_get_created, "created")
VM_INT (bgr_vm_get_started, "started")
VM_INT (bgr_vm_get_last_activity, "last_activity")

/**
 * bgr_vm_to_json:
 * @self: a #BgrVm
 *
 * Returns: (transfer full): the VM as JSON: the members behind the
 *   getters (state by name), guest_addrs (a list), network (how the VM is
 *   connected), stopped (a Unix time) and debug (see #BgrVm)
 * Since: 0.1
 */
char *
bgr_vm_to_json (BgrVm *self)
{
  g_return_val_if_fail (BGR_IS_VM (self), NULL);
  return public_json (self->doc);
}

/**
 * bgr_vm_to_variant:
 * @self: a #BgrVm
 *
 * Returns: (transfer floating): the record as an a{sv} dictionary (the form
 *   the D-Bus API uses), with the members of bgr_vm_to_json()
 * Since: 0.1
 */
GVariant *
bgr_vm_to_variant (BgrVm *self)
{
  g_return_val_if_fail (BGR_IS_VM (self), NULL);
  return bgr_record_to_variant (self->doc);
}

/* ---- BgrVmPort -------------------------------------------------------------- */

struct _BgrVmPort {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrVmPort, bgr_vm_port, G_TYPE_OBJECT)

static void
bgr_vm_port_finalize (GObject *object)
{
  g_clear_pointer (&BGR_VM_PORT (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_vm_port_parent_class)->finalize (object);
}

static void
bgr_vm_port_class_init (BgrVmPortClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_vm_port_finalize;
}

static void
bgr_vm_port_init (BgrVmPort *self)
{
}

BgrVmPort *
bgr_vm_port_new_from_json (JsonObject *doc)
{
  BgrVmPort *self = g_object_new (BGR_TYPE_VM_PORT, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

/**
 * bgr_vm_port_get_protocol:
 * @self: a #BgrVmPort
 *
 * The getters of #BgrVmPort: bgr_vm_port_get_protocol() ("tcp", "tcp6",
 * "udp" or "udp6"), bgr_vm_port_get_address() (the local address, e.g.
 * "0.0.0.0" or "::"), bgr_vm_port_get_port(), bgr_vm_port_get_pid() (0
 * when unknown) and bgr_vm_port_get_process() (the owner's command name,
 * "-" when unknown).
 *
 * Returns: (transfer none): the protocol
 * Since: 0.1
 */
const char *
bgr_vm_port_get_protocol (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return str_member (self->doc, "protocol");
}

const char *
bgr_vm_port_get_address (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return str_member (self->doc, "address");
}

gint64
bgr_vm_port_get_port (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), 0);
  return int_member (self->doc, "port");
}

gint64
bgr_vm_port_get_pid (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), 0);
  return int_member (self->doc, "pid");
}

const char *
bgr_vm_port_get_process (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return str_member (self->doc, "process");
}

/**
 * bgr_vm_port_to_json:
 * @self: a #BgrVmPort
 *
 * Returns: (transfer full): the port as JSON: name (the VM), protocol,
 *   address, port, pid, process
 * Since: 0.1
 */
char *
bgr_vm_port_to_json (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return public_json (self->doc);
}

/**
 * bgr_vm_port_to_variant:
 * @self: a #BgrVmPort
 *
 * Returns: (transfer floating): the port as an a{sv} dictionary
 * Since: 0.1
 */
GVariant *
bgr_vm_port_to_variant (BgrVmPort *self)
{
  g_return_val_if_fail (BGR_IS_VM_PORT (self), NULL);
  return bgr_record_to_variant (self->doc);
}

/* ---- BgrVmStats ------------------------------------------------------------- */

struct _BgrVmStats {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrVmStats, bgr_vm_stats, G_TYPE_OBJECT)

static void
bgr_vm_stats_finalize (GObject *object)
{
  g_clear_pointer (&BGR_VM_STATS (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_vm_stats_parent_class)->finalize (object);
}

static void
bgr_vm_stats_class_init (BgrVmStatsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_vm_stats_finalize;
}

static void
bgr_vm_stats_init (BgrVmStats *self)
{
}

BgrVmStats *
bgr_vm_stats_new_from_json (JsonObject *doc)
{
  BgrVmStats *self = g_object_new (BGR_TYPE_VM_STATS, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

/**
 * bgr_vm_stats_get_name:
 * @self: a #BgrVmStats
 *
 * Returns: (transfer none): the VM's name
 * Since: 0.1
 */
const char *
bgr_vm_stats_get_name (BgrVmStats *self)
{
  g_return_val_if_fail (BGR_IS_VM_STATS (self), NULL);
  return str_member (self->doc, "name");
}

/**
 * bgr_vm_stats_get:
 * @self: a #BgrVmStats
 * @member: one of sampled_at (Unix ms of the guest sample), guest_uptime_ms,
 *   cpu_user_ms, cpu_system_ms, cpu_idle_ms (guest, all CPUs, since boot),
 *   cpu_busy_permille and cpu_interval_ms (guest CPU use between the last
 *   two samples, and how far apart they were), load1_milli, mem_total,
 *   mem_available, disk_total, disk_free (bytes, the guest's /); metrics_at
 *   (Unix ms of the VMM sample), vmm_cpu_ms, vmm_rss (the VMM process),
 *   disk_read_bytes, disk_write_bytes, net_rx_bytes, net_tx_bytes (as the
 *   guest sees them)
 *
 * Returns: the value, or -1 when it is unknown
 * Since: 0.1
 */
gint64
bgr_vm_stats_get (BgrVmStats *self, const char *member)
{
  JsonNode *n;

  g_return_val_if_fail (BGR_IS_VM_STATS (self), -1);
  n = json_object_get_member (self->doc, member);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return -1;
  return json_node_get_int (n);
}

/**
 * bgr_vm_stats_to_json:
 * @self: a #BgrVmStats
 *
 * Returns: (transfer full): the sample as JSON (name and the members of
 *   bgr_vm_stats_get(); unknown ones are absent)
 * Since: 0.1
 */
char *
bgr_vm_stats_to_json (BgrVmStats *self)
{
  g_return_val_if_fail (BGR_IS_VM_STATS (self), NULL);
  return public_json (self->doc);
}

/**
 * bgr_vm_stats_to_variant:
 * @self: a #BgrVmStats
 *
 * Returns: (transfer floating): the sample as an a{sv} dictionary
 * Since: 0.1
 */
GVariant *
bgr_vm_stats_to_variant (BgrVmStats *self)
{
  g_return_val_if_fail (BGR_IS_VM_STATS (self), NULL);
  return bgr_record_to_variant (self->doc);
}
