/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image build: boot a VM from an image, run commands in it, keep its disks
 * as a new managed image. Built on the engine's outside (create, exec,
 * stop, delete) plus the artifact staging every image uses: the files are
 * copied into a staging directory and renamed into STATE/images/NAME before
 * the record is written, so a failure or a crash registers nothing. The
 * build VM ("build-XXXXXXXX") is deleted whatever happens; one left by a
 * crash shows in `vm list` and can be deleted like any VM. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-escape-private.h"
#include "bgr-fs-private.h"
#include "bgr-operation-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-artifacts-private.h"
#include "engine/bgr-engine-usage-private.h"

#define OUTPUT_TAIL_LINES 15
#define OUTPUT_TAIL_BYTES 4096

typedef struct {
  BgrEngine *engine;
  const char *name;       /* the new image */
  const char *from;       /* the image built from */
  char **run;             /* the commands */
  char *vm;               /* the build VM, once created */
  char *staging;          /* STATE/images/.staging-NAME-XXXXXX */
  char *log_path;         /* staging/build.log: every command's output */
  BgrOperation *op;
  GCancellable *cancellable;
} Build;

static gboolean
check_options (BgrEngine *engine, const char *name, BgrBuildOptions *o, GError **error)
{
  const char *from = bgr_build_options_get_from (o);
  g_autoptr (BgrImage) source = NULL;
  g_auto (GStrv) run = bgr_build_options_dup_run (o);

  if (!bgr_artifact_check_name ("image", name, error))
    return FALSE;
  if (from == NULL || *from == '\0')
    {
      g_set_error_literal (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                           "option 'from' (the image to build from) is required");
      return FALSE;
    }
  for (char **r = run; r != NULL && *r != NULL; r++)
    if (**r == '\0')
      {
        g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                     "option 'run': command %u is empty", (guint) (r - run) + 1);
        return FALSE;
      }
  source = bgr_engine_get_image (engine, from, error);
  if (source == NULL)
    {
      g_prefix_error (error, "option 'from': ");
      return FALSE;
    }
  return TRUE;
}

/* Boots the build VM: the create's own phases go to the operation. */
static gboolean
boot_vm (Build *b, BgrBuildOptions *o, GError **error)
{
  g_autofree char *vm_name = g_strdup_printf ("build-%08x", g_random_int ());
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new (vm_name);
  g_autoptr (BgrVm) vm = NULL;

  bgr_vm_spec_set_image (spec, b->from);
  if (bgr_build_options_get_vcpus (o) != 0)
    bgr_vm_spec_set_vcpus (spec, bgr_build_options_get_vcpus (o));
  if (bgr_build_options_get_memory_mib (o) != 0)
    bgr_vm_spec_set_memory_mib (spec, bgr_build_options_get_memory_mib (o));
  if (bgr_build_options_get_disk_size (o) != 0)
    bgr_vm_spec_set_disk_size (spec, bgr_build_options_get_disk_size (o));
  b->vm = g_strdup (vm_name);
  vm = bgr_engine_create_build_vm (b->engine, spec, b->op, b->cancellable, error);
  if (vm == NULL)
    {
      g_prefix_error (error, "cannot boot the build VM: ");
      return FALSE;
    }
  return TRUE;
}

/* The end of what the failed command wrote, escaped (it is the guest's). */
static char *
output_tail (const char *log_path, goffset from)
{
  g_autofree char *tail = bgr_read_tail (log_path, OUTPUT_TAIL_BYTES);
  g_autofree char *lines = NULL;
  struct stat st;

  if (tail == NULL || from < 0 || g_stat (log_path, &st) != 0 || st.st_size <= from)
    return g_strdup ("");
  if ((goffset) st.st_size - from < (goffset) strlen (tail))
    memmove (tail, tail + strlen (tail) - (st.st_size - from), st.st_size - from + 1);
  lines = bgr_last_lines (tail, OUTPUT_TAIL_LINES);
  return bgr_escape (lines, OUTPUT_TAIL_BYTES, BGR_ESCAPE_KEEP_NEWLINES);
}

static gboolean
run_step (Build *b, guint i, guint n, int log_fd, GError **error)
{
  const char *cmd = b->run[i];
  const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
  g_autofree char *shown = bgr_escape (cmd, 200, BGR_ESCAPE_DEFAULT);
  g_autofree char *msg = g_strdup_printf ("step %u/%u: %s", i + 1, n, shown);
  g_autofree char *header = g_strdup_printf ("---- banger image build: %s\n", msg);
  goffset start;
  gint status = 0;

  bgr_operation_update (b->op, "run", msg, i, n);
  if (!bgr_write_all (log_fd, header, strlen (header)))
    {
      bgr_set_error_errno (error, errno, "cannot write %s", b->log_path);
      return FALSE;
    }
  start = lseek (log_fd, 0, SEEK_CUR);
  if (!bgr_engine_vm_exec (b->engine, b->vm, argv, NULL, "/", 0, -1, log_fd, log_fd, &status,
                           b->cancellable, error))
    {
      g_prefix_error (error, "step %u (%s): ", i + 1, shown);
      return FALSE;
    }
  if (status != 0)
    {
      g_autofree char *tail = output_tail (b->log_path, start);
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED,
                   "step %u (%s) failed with exit status %d; nothing was built%s%s", i + 1, shown,
                   status, *tail != '\0' ? "; its output ended with:\n" : "", tail);
      return FALSE;
    }
  return TRUE;
}

static gboolean
run_steps (Build *b, GError **error)
{
  guint n = b->run != NULL ? g_strv_length (b->run) : 0;
  int fd = open (b->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  gboolean ok = TRUE;

  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", b->log_path);
      return FALSE;
    }
  for (guint i = 0; ok && i < n; i++)
    ok = run_step (b, i, n, fd, error);
  close (fd);
  return ok;
}

/* Copies the stopped VM's disks and the source image's own kernel files
 * into the staging directory; @doc gets the paths they will have. */
static gboolean
copy_files (Build *b, JsonObject *doc, GError **error)
{
  BgrStore *store = bgr_engine_get_store (b->engine);
  g_autoptr (JsonObject) vm = bgr_store_load (store, "vm", b->vm, error);
  g_autoptr (JsonObject) src = NULL;
  g_autofree char *final = bgr_artifact_dir (b->engine, "images", b->name);
  static const struct { const char *from_vm, *from_image, *member, *file; gboolean tree; } parts[] = {
    { "rootfs", NULL, "rootfs", "rootfs.ext4", FALSE },
    { "work_disk", NULL, "work_seed", "work-seed.ext4", FALSE },
    { NULL, "kernel", "kernel", "kernel", FALSE },
    { NULL, "initrd", "initrd", "initrd.img", FALSE },
    { NULL, "modules", "modules", "modules", TRUE },
  };

  if (vm == NULL || (src = bgr_store_load (store, "image", b->from, error)) == NULL)
    return FALSE;
  bgr_operation_update (b->op, "copy", "copying the build VM's disks", 0, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      const char *path = parts[i].from_vm != NULL ? bgr_record_str (vm, parts[i].from_vm)
                                                  : bgr_record_str (src, parts[i].from_image);
      g_autofree char *base = NULL, *dir = NULL, *dest = NULL, *final_path = NULL;

      if (path == NULL || *path == '\0')
        continue;
      /* A modules tree keeps its name (the kernel version) under modules/. */
      base = parts[i].tree ? g_path_get_basename (path) : NULL;
      dir = g_build_filename (b->staging, parts[i].file, NULL);
      dest = g_build_filename (dir, base, NULL);
      final_path = g_build_filename (final, parts[i].file, base, NULL);
      if (parts[i].tree && g_mkdir (dir, 0755) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot create %s", dir);
          return FALSE;
        }
      if (!(parts[i].tree ? bgr_copy_tree (path, dest, b->cancellable, error)
                          : bgr_copy_file (path, dest, b->cancellable, error)))
        return FALSE;
      json_object_set_string_member (doc, parts[i].member, final_path);
    }
  if (bgr_record_str (src, "kernel_ref") != NULL)
    json_object_set_string_member (doc, "kernel_ref", bgr_record_str (src, "kernel_ref"));
  return TRUE;
}

static JsonObject *
new_record (Build *b)
{
  JsonObject *doc = json_object_new ();
  JsonArray *steps = json_array_new ();
  g_autofree char *final = bgr_artifact_dir (b->engine, "images", b->name);
  g_autofree char *log = g_build_filename (final, "build.log", NULL);

  json_object_set_boolean_member (doc, "managed", TRUE);
  json_object_set_string_member (doc, "source", "built");
  json_object_set_string_member (doc, "built_from", b->from);
  for (char **r = b->run; r != NULL && *r != NULL; r++)
    json_array_add_string_element (steps, *r);
  json_object_set_array_member (doc, "build_steps", steps);
  json_object_set_string_member (doc, "build_log", log);
  json_object_set_int_member (doc, "created", g_get_real_time () / G_USEC_PER_SEC);
  return doc;
}

/* Renames the staging directory into place and saves @doc, under the lock. */
static BgrImage *
commit (Build *b, JsonObject *doc, GError **error)
{
  g_autofree char *final = bgr_artifact_dir (b->engine, "images", b->name);
  BgrStore *store = bgr_engine_get_store (b->engine);
  BgrImage *image = NULL;

  json_object_set_int_member (doc, "size", (gint64) bgr_path_size (b->staging));
  bgr_engine_lock (b->engine);
  if (!bgr_rm_rf (final, error))
    goto out;
  if (rename (b->staging, final) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot move %s to %s", b->staging, final);
      goto out;
    }
  g_clear_pointer (&b->staging, g_free);
  bgr_crash_point ("image-build.moved");
  if (!bgr_store_save (store, "image", b->name, doc, error))
    {
      bgr_rm_rf (final, NULL);
      goto out;
    }
  bgr_engine_usage_add_image (b->engine, b->name, bgr_record_str (doc, "kernel_ref"));
  image = bgr_engine_image_view (b->engine, doc);
out:
  bgr_engine_unlock (b->engine);
  return image;
}

static BgrImage *
build (Build *b, BgrBuildOptions *o, GError **error)
{
  g_autoptr (JsonObject) doc = new_record (b);
  g_autoptr (BgrVm) stopped = NULL;
  BgrImage *image;

  b->staging = bgr_artifact_make_staging (b->engine, "images", b->name, error);
  if (b->staging == NULL)
    return NULL;
  b->log_path = g_build_filename (b->staging, "build.log", NULL);
  if (!boot_vm (b, o, error))
    return NULL;
  bgr_crash_point ("image-build.vm-booted");
  if (!run_steps (b, error))
    return NULL;
  bgr_operation_update (b->op, "stop", "stopping the build VM", 0, 0);
  stopped = bgr_engine_stop_vm (b->engine, b->vm, b->cancellable, error);
  if (stopped == NULL)
    {
      g_prefix_error (error, "cannot stop the build VM: ");
      return NULL;
    }
  if (!copy_files (b, doc, error))
    return NULL;
  bgr_crash_point ("image-build.copied");
  image = commit (b, doc, error);
  if (image != NULL)
    bgr_crash_point ("image-build.saved");
  return image;
}

BgrImage *
bgr_engine_build_image (BgrEngine *engine, const char *name, BgrBuildOptions *options,
                        BgrOperation *op, GCancellable *cancellable, GError **error)
{
  Build b = { .engine = engine, .name = name, .op = op, .cancellable = cancellable };
  BgrImage *image;

  if (!check_options (engine, name, options, error))
    return NULL;
  if (!bgr_artifact_reserve (engine, "image", name, error))
    return NULL;
  b.from = bgr_build_options_get_from (options);
  b.run = bgr_build_options_dup_run (options);
  image = build (&b, options, error);
  if (b.vm != NULL)
    {
      g_autoptr (GError) local = NULL;
      if (!bgr_engine_delete_vm (engine, b.vm, TRUE, &local)
          && !g_error_matches (local, BGR_ERROR, BGR_ERROR_NOT_FOUND))
        g_warning ("image build %s: cannot delete the build VM %s: %s", name, b.vm,
                   local->message);
    }
  if (b.staging != NULL)
    bgr_rm_rf (b.staging, NULL);
  bgr_artifact_unreserve (engine, "image", name);
  g_strfreev (b.run);
  g_free (b.vm);
  g_free (b.staging);
  g_free (b.log_path);
  return image;
}
