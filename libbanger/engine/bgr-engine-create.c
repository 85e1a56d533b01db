/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VM create: the image's prepared base, the VM's own disks, its network,
 * then boot. A create that fails before its VMM started leaves no trace;
 * one whose boot failed stays, for its console log. */
#include "config.h"

#include <errno.h>

#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-escape-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-boot-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-disks-private.h"
#include "engine/bgr-engine-usage-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "engine/bgr-engine-vmnet-private.h"

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
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "option 'vcpus': %u is out of range (1-64)", vcpus);
      return FALSE;
    }
  if (vcpus > cpus * 4)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option 'vcpus': %u is more than 4 times this host's %u CPUs", vcpus, cpus);
      return FALSE;
    }
  if (memory_mib < 64)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option 'memory-mib': %" G_GUINT64_FORMAT " MiB is too small (at least 64 MiB)", memory_mib);
      return FALSE;
    }
  if (host > 0 && memory_mib > host)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option 'memory-mib': %" G_GUINT64_FORMAT " MiB is more than this host has (%" G_GUINT64_FORMAT
                   " MiB)", memory_mib, host);
      return FALSE;
    }
  return TRUE;
}

/* An image given as "" is refused: it is not "the default image". */
static gboolean
check_image (BgrVmSpec *spec, GError **error)
{
  const char *image = bgr_vm_spec_get_image (spec);

  if (image != NULL && *image == '\0')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option 'image' must not be empty (leave it unset for the default image)");
      return FALSE;
    }
  return TRUE;
}

/* Option 'network': unset or "bridge", or "none". */
static gboolean
check_network (BgrVmSpec *spec, GError **error)
{
  const char *network = bgr_vm_spec_get_network (spec);

  if (network != NULL && !g_str_equal (network, "bridge") && !g_str_equal (network, "none"))
    {
      g_autofree char *shown = bgr_escape (network, 100, BGR_ESCAPE_DEFAULT);
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option 'network': \"%s\" is not bridge or none", shown);
      return FALSE;
    }
  return TRUE;
}

static char *
new_id (void)
{
  return g_strdup_printf ("%08x%04x", g_random_int (), g_random_int () & 0xffff);
}

/* Image @image, which a VM can be made from: it has its kernel file, and
 * its rootfs fits in @disk_size (0: the image's own size). */
static BgrImage *
image_for_vm (BgrEngine *engine, const char *image, guint64 disk_size, GError **error)
{
  g_autoptr (BgrImage) img = bgr_engine_get_image (engine, image, error);
  guint64 image_size;

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
                   "option 'disk-size': %" G_GUINT64_FORMAT " bytes is smaller than image '%s' (%" G_GUINT64_FORMAT
                   " bytes); a VM's disk can only be as large or larger", disk_size, image, image_size);
      return NULL;
    }
  return g_steal_pointer (&img);
}

/* The check for an existing name, the claim and the use of the image
 * happen under the lock, so that two creates of one name race cleanly and
 * the image cannot be deleted from under the new VM. */
static BgrVmClaim *
claim_new_name (BgrEngine *engine, const char *name, const char *image, GError **error)
{
  g_autoptr (JsonObject) existing = NULL;
  g_autoptr (BgrVmClaim) claim = NULL;
  gboolean ok;

  bgr_engine_lock (engine);
  existing = bgr_store_load (bgr_engine_get_store (engine), BGR_VM_KIND, name, NULL);
  if (existing == NULL)
    claim = bgr_vm_claim (engine, name, "creating", NULL);
  if (claim == NULL)
    {
      bgr_engine_unlock (engine);
      g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS, "a VM named '%s' already exists", name);
      return NULL;
    }
  ok = bgr_engine_usage_add_vm (engine, name, image, error);
  bgr_engine_unlock (engine);
  return ok ? g_steal_pointer (&claim) : NULL;
}

static JsonObject *
new_record (BgrEngine *engine, const char *name, const char *image, BgrImage *img, guint vcpus,
            guint64 memory_mib)
{
  const char *state_dir = bgr_store_get_dir (bgr_engine_get_store (engine));
  g_autofree char *id = new_id ();
  g_autofree char *dir = g_build_filename (state_dir, "vms", name, NULL);
  g_autofree char *run_dir = g_build_filename (state_dir, "run", id, NULL);
  g_autofree char *rootfs = g_build_filename (dir, "rootfs.ext4", NULL);
  g_autofree char *console = g_build_filename (dir, "console.log", NULL);
  JsonObject *doc = json_object_new ();

  json_object_set_string_member (doc, "name", name);
  json_object_set_string_member (doc, "id", id);
  json_object_set_string_member (doc, "image", image);
  json_object_set_string_member (doc, "state", "starting");
  /* Until its VMM is recorded: an engine that finds the record so after a
   * crash undoes the create (bgr_vm_undo_interrupted_creates()). */
  json_object_set_boolean_member (doc, "creating", TRUE);
  json_object_set_int_member (doc, "vcpus", vcpus);
  json_object_set_int_member (doc, "memory_mib", (gint64) memory_mib);
  json_object_set_string_member (doc, "kernel", bgr_image_get_kernel_path (img));
  if (bgr_image_get_initrd_path (img) != NULL)
    json_object_set_string_member (doc, "initrd", bgr_image_get_initrd_path (img));
  json_object_set_string_member (doc, "dir", dir);
  json_object_set_string_member (doc, "run_dir", run_dir);
  json_object_set_string_member (doc, "rootfs", rootfs);
  json_object_set_string_member (doc, "console_log", console);
  json_object_set_int_member (doc, "created", bgr_vm_now_s ());
  return doc;
}

/* Steps 1-3 of @n_steps, before any VMM runs. */
static gboolean
prepare (BgrEngine *engine, JsonObject *doc, BgrImage *img, guint64 disk_size, guint64 work_size,
         guint n_steps,
         BgrOperation *op, GCancellable *cancellable,
         GError **error)
{
  g_autofree char *dir = g_strdup (bgr_record_str (doc, "dir"));
  g_autofree char *base = NULL;
  gint64 t0;
  gboolean made;

  /* 1: the image's base (agent and kernel modules put in), made once. */
  bgr_vm_report (op, bgr_image_get_modules_dir (img) != NULL
                          ? "preparing the image (guest agent, kernel modules)"
                          : "preparing the image (guest agent)", 1, n_steps);
  /* The record first: no directory of the VM exists without it. */
  if (!bgr_vm_record_save (engine, doc, error))
    return FALSE;
  bgr_crash_point ("vm-create.record-saved");
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      return FALSE;
    }
  t0 = g_get_monotonic_time ();
  base = bgr_vm_disks_prepare_base (engine, img, &made, cancellable, error);
  if (base == NULL)
    return FALSE;
  bgr_crash_point ("vm-create.base-made");
  json_object_set_int_member (doc, "boot_install_ms", made ? (g_get_monotonic_time () - t0) / 1000 : 0);

  /* 2: the VM's own disks, cloned from the base and the work-seed. */
  bgr_vm_report (op, "cloning disks", 2, n_steps);
  if (!bgr_vm_disks_clone (doc, img, base, disk_size, work_size, cancellable, error))
    return FALSE;
  bgr_crash_point ("vm-create.disks-cloned");

  /* 3: network (when this engine may configure it). */
  bgr_vm_report (op, "configuring the network", 3, n_steps);
  return bgr_engine_vm_network_prepare (engine, doc, error);
}

/* Nothing ran yet: remove every trace, as if create had not been called. */
static void
undo_create (BgrEngine *engine, JsonObject *doc, const char *name)
{
  bgr_engine_vm_network_release (engine, doc);
  bgr_rm_rf (bgr_record_str (doc, "dir"), NULL);
  bgr_rm_rf (bgr_record_str (doc, "run_dir"), NULL);
  bgr_engine_lock (engine);
  bgr_store_delete (bgr_engine_get_store (engine), BGR_VM_KIND, name, NULL);
  bgr_engine_usage_remove_vm (engine, name);
  bgr_engine_unlock (engine);
}

static BgrVm *create_vm (BgrEngine *engine, BgrVmSpec *spec, const BgrVmDiskWrite *dw,
                         gboolean provision, BgrOperation *op, GCancellable *cancellable,
                         GError **error);

BgrVm *
bgr_engine_create_vm (BgrEngine *engine, BgrVmSpec *spec, BgrOperation *op,
                      GCancellable *cancellable, GError **error)
{
  return create_vm (engine, spec, NULL, TRUE, op, cancellable, error);
}

BgrVm *
bgr_engine_create_vm_with (BgrEngine *engine, BgrVmSpec *spec, const BgrVmDiskWrite *dw,
                           BgrOperation *op, GCancellable *cancellable, GError **error)
{
  return create_vm (engine, spec, dw, TRUE, op, cancellable, error);
}

BgrVm *
bgr_engine_create_build_vm (BgrEngine *engine, BgrVmSpec *spec, BgrOperation *op,
                            GCancellable *cancellable, GError **error)
{
  return create_vm (engine, spec, NULL, FALSE, op, cancellable, error);
}

/* Boots the new VM while @job (nullable) writes its work disk, then waits
 * for the write. A boot that failed stays for its console log; a create
 * the caller cancelled, or whose write failed, leaves nothing. */
static gboolean
boot_new (BgrEngine *engine, JsonObject *doc, BgrVmClaim **claim, BgrVmDiskJob *job, guint n_steps,
          BgrOperation *op, GCancellable *cancellable, GError **error)
{
  /* A copy: saving @doc replaces its members. */
  g_autofree char *name = g_strdup (bgr_record_str (doc, "name"));
  g_autoptr (GError) local = NULL, werr = NULL;
  gboolean booted, written;

  /* 4-6: VMM, boot, agent. */
  booted = bgr_vm_boot (engine, doc, 4, n_steps, op,
                        job != NULL ? bgr_vm_disk_job_get_boot_cancellable (job) : cancellable,
                        &local);
  written = job == NULL || bgr_vm_disk_job_finish (job, doc, &werr);
  /* The record loses "work_disk_busy", also when the boot failed. */
  if (job != NULL && written && !bgr_vm_record_save (engine, doc, booted ? &local : NULL))
    booted = FALSE;
  if (booted && written)
    return TRUE;
  g_clear_pointer (claim, bgr_vm_claim_release);
  if (!written || g_cancellable_is_cancelled (cancellable))
    {
      g_autoptr (GError) cleanup = NULL;
      if (!bgr_engine_delete_vm (engine, name, TRUE, &cleanup))
        g_warning ("cannot remove VM %s: %s", name, cleanup->message);
    }
  /* A cancelled create says so (BGR_ERROR_CANCELLED, from the boot), not
   * how the write it cut short failed. */
  if (written || (local != NULL && g_cancellable_is_cancelled (cancellable)))
    g_propagate_error (error, g_steal_pointer (&local));
  else
    g_propagate_prefixed_error (error, g_steal_pointer (&werr), "VM '%s' was removed again: ", name);
  return FALSE;
}

static BgrVm *
create_vm (BgrEngine *engine, BgrVmSpec *spec, const BgrVmDiskWrite *dw, gboolean provision,
           BgrOperation *op, GCancellable *cancellable, GError **error)
{
  const char *name = bgr_vm_spec_get_name (spec);
  const char *image = bgr_vm_spec_get_image (spec);
  guint vcpus = bgr_vm_spec_get_vcpus (spec);
  guint64 memory_mib = bgr_vm_spec_get_memory_mib (spec);
  guint64 disk_size = bgr_vm_spec_get_disk_size (spec);
  guint64 work_size = bgr_vm_spec_get_work_size (spec);
  g_autoptr (BgrImage) img = NULL;
  g_autoptr (BgrVmClaim) claim = NULL;
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (GError) local = NULL;
  BgrVmDiskJob *job = NULL;
  const guint n_steps = 6;

  /* 0 is documented as "unset" for the numbers (bgr-options.h); an image
   * given as "" is refused, never read as the default one. */
  if (!check_image (spec, error) || !check_network (spec, error))
    return NULL;
  if (image == NULL)
    image = bgr_config_get_string (bgr_engine_get_config (engine), "default_image_name");
  if (vcpus == 0)
    vcpus = 1;
  if (memory_mib == 0)
    memory_mib = 512;
  if (!bgr_vm_check_name (name, error) || !check_resources (vcpus, memory_mib, error)
      || (disk_size != 0 && !bgr_disk_size_check ("disk-size", disk_size, error))
      || (work_size != 0 && !bgr_disk_size_check ("work-size", work_size, error))
      || (img = image_for_vm (engine, image, disk_size, error)) == NULL
      || (claim = claim_new_name (engine, name, image, error)) == NULL)
    return NULL;
  doc = new_record (engine, name, image, img, vcpus, memory_mib);
  if (bgr_vm_spec_get_cmdline_append (spec) != NULL)
    json_object_set_string_member (doc, "cmdline_append", bgr_vm_spec_get_cmdline_append (spec));
  /* Kept for every boot (bgr_engine_vm_network_prepare()). */
  if (g_strcmp0 (bgr_vm_spec_get_network (spec), "none") == 0)
    json_object_set_boolean_member (doc, "network_off", TRUE);
  if (!provision)
    json_object_set_boolean_member (doc, "no_provision", TRUE);
  if (!prepare (engine, doc, img, disk_size, work_size, n_steps, op, cancellable, &local)
      || (dw != NULL && !bgr_vm_disk_job_begin (dw, doc, op, cancellable, &job, &local)))
    {
      undo_create (engine, doc, name);
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "cannot create VM '%s': ", name);
      return NULL;
    }
  if (!boot_new (engine, doc, &claim, job, n_steps, op, cancellable, error))
    return NULL;
  return bgr_vm_record_view (doc);
}
