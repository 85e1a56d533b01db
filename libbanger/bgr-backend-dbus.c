/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* D-Bus backend: every call goes to bangerd (org.banger.Banger1). Replies
 * are checked against the expected signature; remote errors come back as
 * BGR_ERROR with their original code. */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>
#include <gio/gunixfdlist.h>

#include "bgr-backend-private.h"
#include "bgr-config-private.h"
#include "bgr-daemon-info-private.h"
#include "bgr-doctor-private.h"
#include "bgr-error-private.h"
#include "bgr-records-private.h"

typedef struct {
  BgrBackend parent;
  GDBusConnection *connection;
  char *bus_description;
} DBusBackend;

/* Short calls answer quickly; long ones (imports, pulls, promote) run as
 * long as they need: the daemon cancels them if this client goes away. */
#define CALL_TIMEOUT_MS (2 * 60 * 1000)
#define LONG_CALL_TIMEOUT_MS G_MAXINT

static void
dbus_free (BgrBackend *backend)
{
  DBusBackend *self = (DBusBackend *) backend;
  g_object_unref (self->connection);
  g_free (self->bus_description);
  g_free (self);
}

static void
convert_remote_error (DBusBackend *self, GError **error, GError *remote)
{
  gboolean is_remote = g_dbus_error_is_remote_error (remote);

  if (is_remote)
    g_dbus_error_strip_remote_error (remote);
  if (remote->domain == BGR_ERROR)
    {
      g_propagate_error (error, remote);
      return;
    }
  if (g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_EXITED)
      || g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_EXEC_FAILED)
      || g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_FAILED))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                   "bangerd failed to start through D-Bus activation (%s); run `bangerd%s` "
                   "by hand to see why", remote->message,
                   g_str_equal (self->bus_description, "system") ? " --system" : "");
      g_error_free (remote);
      return;
    }
  if (bgr_error_code_from_gio (remote) == BGR_ERROR_DAEMON_UNAVAILABLE)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE,
                   "bangerd is not running on the %s bus (start it with `bangerd%s`, or run "
                   "the engine in-process with --local): %s",
                   self->bus_description,
                   g_str_equal (self->bus_description, "system") ? " --system" : "",
                   remote->message);
      g_error_free (remote);
      return;
    }
  if (g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD)
      || g_error_matches (remote, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "bangerd does not know this call (is it older than this client?): %s",
                   remote->message);
      g_error_free (remote);
      return;
    }
  if (!is_remote && g_error_matches (remote, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    {
      /* GDBus's check of the reply against the expected type. */
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "unexpected reply from bangerd: %s",
                   remote->message);
      g_error_free (remote);
      return;
    }
  bgr_propagate_error (error, remote, "bangerd");
}

static gboolean
is_long_call (const char *method)
{
  return g_str_has_prefix (method, "Import") || g_str_equal (method, "PullKernel")
         || g_str_equal (method, "PromoteImage") || g_str_equal (method, "Doctor")
         || g_str_equal (method, "CreateVm") || g_str_equal (method, "StartVm")
         || g_str_equal (method, "StopVm") || g_str_equal (method, "KillVm")
         || g_str_equal (method, "DeleteVm") || g_str_equal (method, "VmExec");
}

static GVariant *
call_with (DBusBackend *self, const char *method, GVariant *params, const char *reply_type,
           GCancellable *cancellable, GError **error)
{
  GError *remote = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_sync (self->connection, BGR_DBUS_NAME, BGR_DBUS_PATH,
                                       BGR_DBUS_MANAGER_IFACE, method, params,
                                       G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE,
                                       is_long_call (method) ? LONG_CALL_TIMEOUT_MS : CALL_TIMEOUT_MS,
                                       cancellable, &remote);
  if (reply == NULL)
    convert_remote_error (self, error, remote);
  return reply;
}

static GVariant *
call (DBusBackend *self, const char *method, const char *reply_type, GCancellable *cancellable,
      GError **error)
{
  return call_with (self, method, NULL, reply_type, cancellable, error);
}

static BgrConfig *
dbus_get_config (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "GetConfig", "(sa(sss))",
                                     cancellable, error);
  g_autoptr (GVariant) entries = NULL;
  const char *path;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(&s@a(sss))", &path, &entries);
  return bgr_config_new_from_entries (path, entries, error);
}

static BgrDaemonInfo *
dbus_get_daemon_info (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "GetStatus", "(a{sv})",
                                     cancellable, error);
  g_autoptr (GVariant) dict = NULL;

  if (reply == NULL)
    return NULL;
  dict = g_variant_get_child_value (reply, 0);
  return bgr_daemon_info_new_from_variant (dict, error);
}

static gboolean
dbus_stop_daemon (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "Stop", "()", cancellable, error);
  return reply != NULL;
}

static char *
dbus_ensure_ssh_key (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "EnsureSshKey", "(s)", cancellable,
                                     error);
  char *path = NULL;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(s)", &path);
  return path;
}

static BgrDoctorReport *
dbus_doctor (BgrBackend *backend, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call ((DBusBackend *) backend, "Doctor", "(ssa(suss))", cancellable,
                                     error);
  if (reply == NULL)
    return NULL;
  return bgr_doctor_report_new_from_variant (reply, error);
}

#define SELF(b) ((DBusBackend *) (b))
#define OPT(s) ((s) != NULL ? (s) : "")

typedef gpointer (*RecordNew) (JsonObject *doc);

/* An (a{sv}) reply turned into the object @make builds from the record. */
static gpointer
record_from_reply (GVariant *reply, RecordNew make, GError **error)
{
  g_autoptr (GVariant) dict = NULL;
  g_autoptr (JsonObject) doc = NULL;

  if (reply == NULL)
    return NULL;
  dict = g_variant_get_child_value (reply, 0);
  doc = bgr_record_from_variant (dict, error);
  return doc != NULL ? make (doc) : NULL;
}

static BgrKernel *
kernel_from_reply (GVariant *reply, GError **error)
{
  return record_from_reply (reply, (RecordNew) bgr_kernel_new_from_json, error);
}

static BgrImage *
image_from_reply (GVariant *reply, GError **error)
{
  return record_from_reply (reply, (RecordNew) bgr_image_new_from_json, error);
}

/* The calls that take one name: Get*, Delete*, PromoteImage. */
static GVariant *
call_name (DBusBackend *self, const char *method, const char *name, const char *reply_type,
           GCancellable *cancellable, GError **error)
{
  return call_with (self, method, g_variant_new ("(s)", OPT (name)), reply_type, cancellable,
                    error);
}

/* An aa{sv} reply turned into objects made by @make from each record. */
static GPtrArray *
list_from_reply (GVariant *reply, RecordNew make, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GVariant) array = NULL;
  GVariantIter iter;
  GVariant *dict;

  if (reply == NULL)
    return NULL;
  array = g_variant_get_child_value (reply, 0);
  g_variant_iter_init (&iter, array);
  while ((dict = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr (JsonObject) doc = bgr_record_from_variant (dict, error);
      g_variant_unref (dict);
      if (doc == NULL)
        return NULL;
      g_ptr_array_add (out, make (doc));
    }
  return g_steal_pointer (&out);
}

static BgrKernel *
dbus_import_kernel (BgrBackend *b, const char *name, const char *kernel, const char *modules,
                    const char *initrd, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_with (SELF (b), "ImportKernel",
                                          g_variant_new ("(ssss)", OPT (name), OPT (kernel),
                                                         OPT (modules), OPT (initrd)),
                                          "(a{sv})", cancellable, error);
  return kernel_from_reply (reply, error);
}

static BgrKernel *
dbus_import_kernel_deb (BgrBackend *b, const char *name, const char *deb,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_with (SELF (b), "ImportKernelDeb",
                                          g_variant_new ("(ss)", OPT (name), OPT (deb)), "(a{sv})",
                                          cancellable, error);
  return kernel_from_reply (reply, error);
}

static GPtrArray *
dbus_list_kernels (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListKernels", "(aa{sv})", cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_kernel_new_from_json, error);
}

static BgrKernel *
dbus_get_kernel (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "GetKernel", name, "(a{sv})", cancellable, error);
  return kernel_from_reply (reply, error);
}

static gboolean
dbus_delete_kernel (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "DeleteKernel", name, "()", cancellable, error);
  return reply != NULL;
}

static GPtrArray *
dbus_list_available_kernels (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListAvailableKernels", "(aa{sv})", cancellable,
                                     error);
  return list_from_reply (reply, (RecordNew) bgr_catalog_kernel_new_from_json, error);
}

typedef struct {
  GVariant *reply;
  GError *error;
  gboolean done;
  const char *key;
  BgrProgressFunc progress;           /* for PullProgress */
  BgrPullProgressFunc pull_progress;  /* for ImagePullProgress */
  BgrVmProgressFunc vm_progress;      /* for VmProgress */
  gpointer user_data;
} ProgressCall;

static void
on_progress_signal (GDBusConnection *c, const char *sender, const char *path, const char *iface,
                    const char *signal, GVariant *params, gpointer data)
{
  ProgressCall *pc = data;
  const char *key;
  guint64 done, total, layer_done, layer_total;
  guint32 layer, n_layers;

  if (pc->progress != NULL && g_variant_is_of_type (params, G_VARIANT_TYPE ("(stt)")))
    {
      g_variant_get (params, "(&stt)", &key, &done, &total);
      if (g_str_equal (key, pc->key))
        pc->progress (done, total, pc->user_data);
    }
  else if (pc->vm_progress != NULL && g_variant_is_of_type (params, G_VARIANT_TYPE ("(ssuu)")))
    {
      const char *phase;
      guint32 step, n_steps;
      g_variant_get (params, "(&s&suu)", &key, &phase, &step, &n_steps);
      if (g_str_equal (key, pc->key))
        pc->vm_progress (phase, step, n_steps, pc->user_data);
    }
  else if (pc->pull_progress != NULL
           && g_variant_is_of_type (params, G_VARIANT_TYPE ("(suutttt)")))
    {
      g_variant_get (params, "(&suutttt)", &key, &layer, &n_layers, &layer_done, &layer_total,
                     &done, &total);
      if (g_str_equal (key, pc->key))
        pc->pull_progress (layer, n_layers, layer_done, layer_total, done, total, pc->user_data);
    }
}

static void
on_progress_call_reply (GObject *source, GAsyncResult *res, gpointer data)
{
  ProgressCall *pc = data;
  pc->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &pc->error);
  pc->done = TRUE;
}

/* A long call whose progress comes as PullProgress(key, done, total)
 * signals. The call runs asynchronously on a private main context, so that
 * the signals are delivered while we wait. */
static GVariant *
call_with_progress (DBusBackend *self, const char *method, GVariant *params, const char *key,
                    const char *reply_type, BgrProgressFunc progress,
                    BgrPullProgressFunc pull_progress, BgrVmProgressFunc vm_progress,
                    gpointer user_data, GCancellable *cancellable, GError **error)
{
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  ProgressCall pc = { NULL, NULL, FALSE, key, progress, pull_progress, vm_progress, user_data };
  guint sub;

  g_main_context_push_thread_default (ctx);
  sub = g_dbus_connection_signal_subscribe (self->connection, BGR_DBUS_NAME, BGR_DBUS_MANAGER_IFACE,
                                            vm_progress != NULL ? "VmProgress"
                                            : pull_progress != NULL ? "ImagePullProgress"
                                                                    : "PullProgress",
                                            BGR_DBUS_PATH, NULL,
                                            G_DBUS_SIGNAL_FLAGS_NONE, on_progress_signal, &pc, NULL);
  g_dbus_connection_call (self->connection, BGR_DBUS_NAME, BGR_DBUS_PATH, BGR_DBUS_MANAGER_IFACE,
                          method, params, G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NONE,
                          LONG_CALL_TIMEOUT_MS, cancellable, on_progress_call_reply, &pc);
  while (!pc.done)
    g_main_context_iteration (ctx, TRUE);
  g_dbus_connection_signal_unsubscribe (self->connection, sub);
  /* Let the unsubscription's cleanup run on this context before it goes. */
  while (g_main_context_iteration (ctx, FALSE))
    ;
  g_main_context_pop_thread_default (ctx);
  if (pc.reply == NULL)
    convert_remote_error (self, error, pc.error);
  return pc.reply;
}

static BgrKernel *
dbus_pull_kernel (BgrBackend *b, const char *name, BgrProgressFunc progress, gpointer user_data,
                  GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_with_progress (SELF (b), "PullKernel",
                                                   g_variant_new ("(s)", OPT (name)), OPT (name),
                                                   "(a{sv})", progress, NULL, NULL, user_data,
                                                   cancellable, error);
  return kernel_from_reply (reply, error);
}

static BgrImage *
dbus_pull_image (BgrBackend *b, const char *reference, const char *name, const char *kernel_ref,
                 const char *platform, guint64 size, BgrImagePullFlags flags,
                 BgrPullProgressFunc progress, gpointer user_data, GCancellable *cancellable,
                 GError **error)
{
  g_autoptr (GVariant) reply =
    call_with_progress (SELF (b), "PullImage",
                        g_variant_new ("(ssssut)", OPT (reference), OPT (name), OPT (kernel_ref),
                                       OPT (platform), (guint32) flags, size),
                        OPT (reference), "(a{sv})", NULL, progress, NULL, user_data, cancellable,
                        error);
  return image_from_reply (reply, error);
}

static BgrImage *
dbus_register_image (BgrBackend *b, const char *name, const char *rootfs, const char *work_seed,
                     const char *kernel, const char *kernel_ref, const char *initrd,
                     const char *modules, GCancellable *cancellable, GError **error)
{
  GVariantDict spec;
  g_autoptr (GVariant) reply = NULL;

  g_variant_dict_init (&spec, NULL);
  if (rootfs != NULL)
    g_variant_dict_insert (&spec, "rootfs", "s", rootfs);
  if (work_seed != NULL)
    g_variant_dict_insert (&spec, "work_seed", "s", work_seed);
  if (kernel != NULL)
    g_variant_dict_insert (&spec, "kernel", "s", kernel);
  if (kernel_ref != NULL)
    g_variant_dict_insert (&spec, "kernel_ref", "s", kernel_ref);
  if (initrd != NULL)
    g_variant_dict_insert (&spec, "initrd", "s", initrd);
  if (modules != NULL)
    g_variant_dict_insert (&spec, "modules", "s", modules);
  reply = call_with (SELF (b), "RegisterImage",
                     g_variant_new ("(s@a{sv})", OPT (name), g_variant_dict_end (&spec)),
                     "(a{sv})", cancellable, error);
  return image_from_reply (reply, error);
}

static GPtrArray *
dbus_list_images (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListImages", "(aa{sv})", cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_image_new_from_json, error);
}

static BgrImage *
dbus_get_image (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "GetImage", name, "(a{sv})", cancellable, error);
  return image_from_reply (reply, error);
}

static gboolean
dbus_delete_image (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "DeleteImage", name, "()", cancellable, error);
  return reply != NULL;
}

static BgrImage *
dbus_promote_image (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "PromoteImage", name, "(a{sv})", cancellable, error);
  return image_from_reply (reply, error);
}

static GPtrArray *
dbus_list_image_cache (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListImageCache", "(aa{sv})", cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_cache_blob_new_from_json, error);
}

static gboolean
dbus_prune_image_cache (BgrBackend *b, guint64 *out_freed, guint *out_removed,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "PruneImageCache", "(tu)", cancellable, error);
  guint64 freed;
  guint32 removed;

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(tu)", &freed, &removed);
  if (out_freed != NULL)
    *out_freed = freed;
  if (out_removed != NULL)
    *out_removed = removed;
  return TRUE;
}

static BgrVm *
vm_from_reply (GVariant *reply, GError **error)
{
  return record_from_reply (reply, (RecordNew) bgr_vm_new_from_json, error);
}

static BgrVm *
dbus_create_vm (BgrBackend *b, const char *name, const char *image, guint vcpus,
                guint64 memory_mib, guint64 disk_size, BgrVmProgressFunc progress,
                gpointer user_data, GCancellable *cancellable, GError **error)
{
  GVariantBuilder opts;
  g_autoptr (GVariant) reply = NULL;

  g_variant_builder_init (&opts, G_VARIANT_TYPE ("a{sv}"));
  if (image != NULL)
    g_variant_builder_add (&opts, "{sv}", "image", g_variant_new_string (image));
  if (vcpus != 0)
    g_variant_builder_add (&opts, "{sv}", "vcpus", g_variant_new_uint32 (vcpus));
  if (memory_mib != 0)
    g_variant_builder_add (&opts, "{sv}", "memory_mib", g_variant_new_uint64 (memory_mib));
  if (disk_size != 0)
    g_variant_builder_add (&opts, "{sv}", "disk_size", g_variant_new_uint64 (disk_size));
  reply = call_with_progress (SELF (b), "CreateVm", g_variant_new ("(sa{sv})", OPT (name), &opts),
                              OPT (name), "(a{sv})", NULL, NULL, progress, user_data, cancellable,
                              error);
  return vm_from_reply (reply, error);
}

static BgrVm *
dbus_start_vm (BgrBackend *b, const char *name, BgrVmProgressFunc progress, gpointer user_data,
               GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_with_progress (SELF (b), "StartVm", g_variant_new ("(s)", OPT (name)),
                                                   OPT (name), "(a{sv})", NULL, NULL, progress,
                                                   user_data, cancellable, error);
  return vm_from_reply (reply, error);
}

static BgrVm *
dbus_stop_vm (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "StopVm", name, "(a{sv})", cancellable, error);
  return vm_from_reply (reply, error);
}

static BgrVm *
dbus_kill_vm (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "KillVm", name, "(a{sv})", cancellable, error);
  return vm_from_reply (reply, error);
}

static gboolean
dbus_delete_vm (BgrBackend *b, const char *name, gboolean force, GCancellable *cancellable,
                GError **error)
{
  g_autoptr (GVariant) reply = call_with (SELF (b), "DeleteVm", g_variant_new ("(sb)", OPT (name), force),
                                          "()", cancellable, error);
  return reply != NULL;
}

static GPtrArray *
dbus_list_vms (BgrBackend *b, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call (SELF (b), "ListVms", "(aa{sv})", cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_vm_new_from_json, error);
}

static BgrVm *
dbus_get_vm (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "GetVm", name, "(a{sv})", cancellable, error);
  return vm_from_reply (reply, error);
}

static GBytes *
dbus_get_vm_logs (BgrBackend *b, const char *name, guint64 max_bytes, GCancellable *cancellable,
                  GError **error)
{
  g_autoptr (GVariant) reply = call_with (SELF (b), "GetVmLogs", g_variant_new ("(st)", OPT (name), max_bytes),
                                          "(ay)", cancellable, error);
  g_autoptr (GVariant) data = NULL;

  if (reply == NULL)
    return NULL;
  data = g_variant_get_child_value (reply, 0);
  return g_variant_get_data_as_bytes (data);
}

static gboolean
dbus_vm_exec (BgrBackend *b, const char *name, const char *const *argv, const char *const *env,
              const char *cwd, guint timeout_ms, int stdin_fd, int stdout_fd, int stderr_fd,
              gint *out_status, GCancellable *cancellable, GError **error)
{
  DBusBackend *self = SELF (b);
  g_autoptr (GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr (GVariant) reply = NULL;
  GVariantBuilder opts;
  GError *remote = NULL;
  int idx[3];
  const int want[3] = { stdin_fd, stdout_fd, stderr_fd };
  const char *const empty[] = { NULL };
  gint32 status;

  /* A missing descriptor travels as /dev/null: EOF on stdin, output dropped. */
  for (int i = 0; i < 3; i++)
    {
      int fd = want[i];
      gboolean opened = FALSE;
      if (fd < 0)
        {
          fd = open ("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
          opened = TRUE;
        }
      idx[i] = g_unix_fd_list_append (fds, fd, error);
      if (opened)
        close (fd);
      if (idx[i] < 0)
        return FALSE;
    }
  g_variant_builder_init (&opts, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&opts, "{sv}", "env", g_variant_new_strv (env != NULL ? env : empty, -1));
  if (cwd != NULL)
    g_variant_builder_add (&opts, "{sv}", "cwd", g_variant_new_string (cwd));
  if (timeout_ms != 0)
    g_variant_builder_add (&opts, "{sv}", "timeout_ms", g_variant_new_uint32 (timeout_ms));
  g_variant_builder_add (&opts, "{sv}", "stdin", g_variant_new_boolean (stdin_fd >= 0));
  reply = g_dbus_connection_call_with_unix_fd_list_sync (
    self->connection, BGR_DBUS_NAME, BGR_DBUS_PATH, BGR_DBUS_MANAGER_IFACE, "VmExec",
    g_variant_new ("(s^asa{sv}hhh)", OPT (name), argv != NULL ? argv : empty, &opts, idx[0], idx[1],
                   idx[2]),
    G_VARIANT_TYPE ("(i)"), G_DBUS_CALL_FLAGS_NONE, LONG_CALL_TIMEOUT_MS, fds, NULL, cancellable,
    &remote);
  if (reply == NULL)
    {
      convert_remote_error (self, error, remote);
      return FALSE;
    }
  g_variant_get (reply, "(i)", &status);
  if (out_status != NULL)
    *out_status = status;
  return TRUE;
}

static GPtrArray *
dbus_vm_ports (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "GetVmPorts", name, "(aa{sv})", cancellable, error);
  return list_from_reply (reply, (RecordNew) bgr_vm_port_new_from_json, error);
}

static BgrVmStats *
dbus_vm_stats (BgrBackend *b, const char *name, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) reply = call_name (SELF (b), "GetVmStats", name, "(a{sv})", cancellable, error);
  return record_from_reply (reply, (RecordNew) bgr_vm_stats_new_from_json, error);
}

static const BgrBackendVTable dbus_vtable = {
  .name = "dbus",
  .free = dbus_free,
  .get_config = dbus_get_config,
  .get_daemon_info = dbus_get_daemon_info,
  .stop_daemon = dbus_stop_daemon,
  .ensure_ssh_key = dbus_ensure_ssh_key,
  .doctor = dbus_doctor,
  .import_kernel = dbus_import_kernel,
  .import_kernel_deb = dbus_import_kernel_deb,
  .list_kernels = dbus_list_kernels,
  .get_kernel = dbus_get_kernel,
  .delete_kernel = dbus_delete_kernel,
  .list_available_kernels = dbus_list_available_kernels,
  .pull_kernel = dbus_pull_kernel,
  .register_image = dbus_register_image,
  .list_images = dbus_list_images,
  .get_image = dbus_get_image,
  .delete_image = dbus_delete_image,
  .promote_image = dbus_promote_image,
  .pull_image = dbus_pull_image,
  .list_image_cache = dbus_list_image_cache,
  .prune_image_cache = dbus_prune_image_cache,
  .create_vm = dbus_create_vm,
  .start_vm = dbus_start_vm,
  .stop_vm = dbus_stop_vm,
  .kill_vm = dbus_kill_vm,
  .delete_vm = dbus_delete_vm,
  .list_vms = dbus_list_vms,
  .get_vm = dbus_get_vm,
  .get_vm_logs = dbus_get_vm_logs,
  .vm_exec = dbus_vm_exec,
  .vm_ports = dbus_vm_ports,
  .vm_stats = dbus_vm_stats,
};

BgrBackend *
bgr_backend_dbus_new (GDBusConnection *connection, const char *bus_description,
                      BgrClientFlags flags, GCancellable *cancellable, GError **error)
{
  DBusBackend *self = g_new0 (DBusBackend, 1);
  g_autoptr (GVariant) reply = NULL;
  GError *remote = NULL;

  self->parent.vtable = &dbus_vtable;
  self->connection = g_object_ref (connection);
  self->bus_description = g_strdup (bus_description);

  /* Ping the daemon now: this starts it through D-Bus activation where a
   * service file is installed, and turns "not running" into one clear error
   * at construction instead of at the first call. */
  reply = g_dbus_connection_call_sync (connection, BGR_DBUS_NAME, BGR_DBUS_PATH,
                                       "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                       (flags & BGR_CLIENT_FLAGS_NO_AUTO_START)
                                         ? G_DBUS_CALL_FLAGS_NO_AUTO_START
                                         : G_DBUS_CALL_FLAGS_NONE,
                                       30000, cancellable, &remote);
  if (reply == NULL)
    {
      convert_remote_error (self, error, remote);
      dbus_free (&self->parent);
      return NULL;
    }
  return &self->parent;
}
