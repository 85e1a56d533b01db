/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VM networking glue between the engine and net/bgr-vmnet: each VM gets a
 * tap of the pool, an address of cidr (kept while the VM exists, so that
 * NAME.vm does not move), a MAC derived from it and the kernel ip=
 * argument; the dnsmasq hosts file follows the VM records. Configuring
 * the host network needs root: an engine without it makes VMs without a
 * network interface and says so in their record. */
#include "config.h"

#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "engine/bgr-engine-vmnet-private.h"
#include "net/bgr-vmnet-private.h"

G_LOCK_DEFINE_STATIC (vmnet);

static BgrVmnet *
make_vmnet (BgrEngine *engine, GError **error)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  g_autofree char *run_dir = g_build_filename (bgr_store_get_dir (bgr_engine_get_store (engine)),
                                               "net", NULL);

  return bgr_vmnet_new (bgr_config_get_string (config, "bridge_name"),
                        bgr_config_get_string (config, "bridge_ip"),
                        bgr_config_get_string (config, "cidr"),
                        (guint) bgr_config_get_int (config, "tap_pool_size"),
                        bgr_config_get_string (config, "default_dns"),
                        g_str_equal (bgr_config_get_string (config, "vm_to_vm"), "true"), run_dir,
                        error);
}

/* NAME -> IP of every VM that has an address, @doc's own as given. */
static GHashTable *
hosts_of (GPtrArray *docs, JsonObject *doc, gboolean with_doc)
{
  GHashTable *hosts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *self = doc != NULL ? bgr_record_str (doc, "name") : NULL;

  for (guint i = 0; i < docs->len; i++)
    {
      const char *name = bgr_record_str (docs->pdata[i], "name");
      const char *ip = bgr_record_str (docs->pdata[i], "ip");
      if (name != NULL && ip != NULL && g_strcmp0 (name, self) != 0)
        g_hash_table_insert (hosts, g_strdup (name), g_strdup (ip));
    }
  if (with_doc && self != NULL && bgr_record_str (doc, "ip") != NULL)
    g_hash_table_insert (hosts, g_strdup (self), g_strdup (bgr_record_str (doc, "ip")));
  return hosts;
}

/* The addresses and the taps the VMs other than @name hold, as
 * NULL-terminated arrays of pointers into @docs. */
static void
taken_by_others (BgrEngine *engine, GPtrArray *docs, const char *name, GPtrArray *ips,
                 GPtrArray *taps)
{
  for (guint i = 0; i < docs->len; i++)
    {
      JsonObject *other = docs->pdata[i];
      if (g_strcmp0 (bgr_record_str (other, "name"), name) == 0)
        continue;
      if (bgr_record_str (other, "ip") != NULL)
        g_ptr_array_add (ips, (gpointer) bgr_record_str (other, "ip"));
      /* Live VMs hold their tap; so do VMs an operation holds (a start
       * running beside this one has saved its tap but not its state). */
      if (bgr_record_str (other, "tap") != NULL
          && (bgr_vm_state_is_live (bgr_record_str (other, "state"))
              || bgr_engine_vm_is_busy (engine, bgr_record_str (other, "name"))))
        g_ptr_array_add (taps, (gpointer) bgr_record_str (other, "tap"));
    }
  g_ptr_array_add (ips, NULL);
  g_ptr_array_add (taps, NULL);
}

gboolean
bgr_engine_vm_network_prepare (BgrEngine *engine, JsonObject *doc, GError **error)
{
  g_autoptr (BgrVmnet) net = NULL;
  g_autoptr (GPtrArray) docs = NULL;
  g_autoptr (GPtrArray) ips = g_ptr_array_new ();
  g_autoptr (GPtrArray) taps = g_ptr_array_new ();
  g_autoptr (GHashTable) hosts = NULL;
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  g_autofree char *ip = NULL, *tap = NULL, *mac = NULL, *arg = NULL, *dns = NULL;
  gboolean ok = FALSE;

  if (g_str_equal (bgr_config_get_string (bgr_engine_get_config (engine), "hypervisor"), "fake"))
    {
      /* The fake VMM's "guest" is a process on the host: no tap to give. */
      json_object_set_string_member (doc, "network", "none (the fake VMM has no guest network)");
      json_object_remove_member (doc, "tap");
      json_object_remove_member (doc, "kernel_ip_arg");
      return TRUE;
    }
  if (json_object_has_member (doc, "network_off"))
    {
      json_object_set_string_member (doc, "network", "none (created with network = none)");
      json_object_remove_member (doc, "tap");
      json_object_remove_member (doc, "kernel_ip_arg");
      return TRUE;
    }
  if (geteuid () != 0)
    {
      json_object_set_string_member (doc, "network", "none (the engine is not root)");
      json_object_remove_member (doc, "tap");
      json_object_remove_member (doc, "kernel_ip_arg");
      return TRUE;
    }
  net = make_vmnet (engine, error);
  if (net == NULL)
    return FALSE;

  /* One VM at a time picks its address and tap, and its record is saved
   * before the next looks. */
  G_LOCK (vmnet);
  if (!bgr_vmnet_ensure (net, error))
    goto out;
  docs = bgr_store_load_all (bgr_engine_get_store (engine), BGR_VM_KIND, NULL);
  taken_by_others (engine, docs, name, ips, taps);

  ip = g_strdup (bgr_record_str (doc, "ip"));
  if (ip != NULL && g_strv_contains ((const char *const *) ips->pdata, ip))
    g_clear_pointer (&ip, g_free);
  if (ip == NULL && (ip = bgr_vmnet_pick_address (net, (const char *const *) ips->pdata, error)) == NULL)
    goto out;
  tap = bgr_vmnet_acquire_tap (net, (const char *const *) taps->pdata, error);
  if (tap == NULL)
    goto out;
  mac = bgr_vmnet_mac_for_address (ip);
  arg = bgr_vmnet_kernel_ip_arg (net, ip, name, error);
  if (arg == NULL)
    goto out;
  dns = g_strdup_printf ("%s.vm", name);
  json_object_set_string_member (doc, "network", "bridge");
  json_object_set_string_member (doc, "bridge", bgr_vmnet_get_bridge (net));
  json_object_set_string_member (doc, "ip", ip);
  json_object_set_string_member (doc, "tap", tap);
  json_object_set_string_member (doc, "mac", mac);
  json_object_set_string_member (doc, "dns_name", dns);
  json_object_set_string_member (doc, "kernel_ip_arg", arg);
  bgr_engine_lock (engine);
  ok = bgr_store_save (bgr_engine_get_store (engine), BGR_VM_KIND, name, doc, error);
  bgr_engine_unlock (engine);
  if (!ok)
    goto out;
  hosts = hosts_of (docs, doc, TRUE);
  if (!bgr_vmnet_set_hosts (net, hosts, error))
    ok = FALSE;
out:
  G_UNLOCK (vmnet);
  if (!ok && error != NULL && *error != NULL)
    g_prefix_error (error, "network: ");
  return ok;
}

void
bgr_engine_vm_network_release (BgrEngine *engine, JsonObject *doc)
{
  g_autoptr (BgrVmnet) net = NULL;
  g_autoptr (GPtrArray) docs = NULL;
  g_autoptr (GHashTable) hosts = NULL;
  g_autoptr (GError) error = NULL;

  if (geteuid () != 0 || bgr_record_str (doc, "ip") == NULL)
    return;
  net = make_vmnet (engine, &error);
  if (net == NULL)
    return;
  G_LOCK (vmnet);
  docs = bgr_store_load_all (bgr_engine_get_store (engine), BGR_VM_KIND, NULL);
  hosts = hosts_of (docs, doc, FALSE);
  if (!bgr_vmnet_set_hosts (net, hosts, &error))
    g_warning ("cannot update the .vm names: %s", error->message);
  G_UNLOCK (vmnet);
}
