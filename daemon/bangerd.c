/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd: owns the state directory and exports libbanger on D-Bus.
 *
 * Handlers are thin: unpack, call one libbanger function, reply. They run in
 * GDBus worker threads (HANDLE_METHOD_INVOCATIONS_IN_THREAD) so a long call
 * never blocks the main loop. bangerd uses only libbanger's public API: its
 * engine is a local BgrClient. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <gio/gunixfdlist.h>

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <banger/banger.h>

#include "bgr-dbus-generated.h"

#define BGR_DBUS_NAME "org.banger.Banger1"
#define BGR_DBUS_PATH "/org/banger/Banger1"

typedef struct {
  GMainLoop *loop;
  BgrConfig *config;
  BgrClient *client; /* local engine; NULL until the state lock is held */
  BgrDBusManager *skeleton;
  GDBusConnection *connection;
  char *bus_description;
  gboolean replace;
  gboolean name_acquired;
  guint lock_retry_id;
  gint64 lock_deadline;
  /* calls in flight; guarded by calls_lock */
  GMutex calls_lock;
  GCond calls_cond;
  guint calls_in_flight;
  gboolean shutting_down;
  GHashTable *cancellables; /* sender -> GPtrArray of GCancellable, for long calls */
  int exit_status;
  GLogLevelFlags max_level;
} Daemon;

static Daemon daemon_state;

/* ---- logging ------------------------------------------------------------ */

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  Daemon *d = user_data;

  /* GLib's levels grow more verbose as the flag value grows. */
  if ((level & G_LOG_LEVEL_MASK) > d->max_level && !(level & G_LOG_FLAG_FATAL))
    return G_LOG_WRITER_HANDLED;
  if (g_log_writer_is_journald (fileno (stderr)))
    return g_log_writer_journald (level, fields, n_fields, NULL);
  /* Not g_log_writer_standard_streams(): it would drop info and debug
   * messages unless G_MESSAGES_DEBUG is set, and log_level decides here. */
  {
    g_autofree char *line = g_log_writer_format_fields (level, fields, n_fields, FALSE);
    fprintf (stderr, "%s\n", line);
    fflush (stderr);
  }
  return G_LOG_WRITER_HANDLED;
}

static GLogLevelFlags
level_from_config (const char *name)
{
  if (g_strcmp0 (name, "error") == 0)
    return G_LOG_LEVEL_CRITICAL;
  if (g_strcmp0 (name, "warning") == 0)
    return G_LOG_LEVEL_WARNING;
  if (g_strcmp0 (name, "debug") == 0)
    return G_LOG_LEVEL_DEBUG;
  return G_LOG_LEVEL_INFO;
}

/* ---- calls in flight ------------------------------------------------------
 *
 * Handlers run in GDBus worker threads. Shutdown must not free the engine
 * (and release the state lock) under a running handler, so every call is
 * counted from g-authorize-method until its handler replied, and shutdown
 * waits for the count to reach zero. */

static void
call_done (Daemon *d)
{
  g_mutex_lock (&d->calls_lock);
  d->calls_in_flight--;
  g_cond_broadcast (&d->calls_cond);
  g_mutex_unlock (&d->calls_lock);
}

static gboolean
return_error (Daemon *d, GDBusMethodInvocation *invocation, GError *error)
{
  /* Every library error is already BGR_ERROR; its code maps to its own
   * D-Bus name (org.banger.Banger1.Error.<Name>). */
  g_info ("%s failed: %s", g_dbus_method_invocation_get_method_name (invocation),
          error->message);
  g_dbus_method_invocation_return_gerror (invocation, error);
  g_error_free (error);
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
authorize_method (GDBusInterfaceSkeleton *iface, GDBusMethodInvocation *invocation, gpointer data)
{
  Daemon *d = data;
  g_autofree char *params =
    g_variant_print (g_dbus_method_invocation_get_parameters (invocation), FALSE);
  const char *refusal = NULL;

  g_debug ("call %s%s from %s", g_dbus_method_invocation_get_method_name (invocation), params,
           g_dbus_method_invocation_get_sender (invocation));
  g_mutex_lock (&d->calls_lock);
  if (d->shutting_down)
    refusal = "bangerd is shutting down";
  else if (d->client == NULL)
    refusal = "bangerd is starting up (waiting for the state directory's lock)";
  else
    d->calls_in_flight++;
  g_mutex_unlock (&d->calls_lock);
  if (refusal != NULL)
    {
      /* Returning FALSE means we finish the call ourselves, with our own ref. */
      g_dbus_method_invocation_return_error_literal (g_object_ref (invocation), BGR_ERROR,
                                                     BGR_ERROR_DAEMON_UNAVAILABLE, refusal);
      return FALSE;
    }
  return TRUE;
}

/* Long calls get a GCancellable, cancelled when their caller leaves the bus
 * (Ctrl-C on `banger kernel pull`) or when the daemon shuts down: the
 * engine then rolls back, and nothing is registered. */
static GCancellable *
long_call_begin (Daemon *d, GDBusMethodInvocation *invocation)
{
  GCancellable *c = g_cancellable_new ();
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  GPtrArray *list;

  g_mutex_lock (&d->calls_lock);
  if (d->shutting_down)
    g_cancellable_cancel (c);
  if (sender != NULL)
    {
      list = g_hash_table_lookup (d->cancellables, sender);
      if (list == NULL)
        {
          list = g_ptr_array_new_with_free_func (g_object_unref);
          g_hash_table_insert (d->cancellables, g_strdup (sender), list);
        }
      g_ptr_array_add (list, g_object_ref (c));
    }
  g_mutex_unlock (&d->calls_lock);
  return c;
}

static void
long_call_end (Daemon *d, GDBusMethodInvocation *invocation, GCancellable *c)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  GPtrArray *list;

  g_mutex_lock (&d->calls_lock);
  list = sender != NULL ? g_hash_table_lookup (d->cancellables, sender) : NULL;
  if (list != NULL)
    {
      g_ptr_array_remove (list, c);
      if (list->len == 0)
        g_hash_table_remove (d->cancellables, sender);
    }
  g_mutex_unlock (&d->calls_lock);
}

static void
cancel_calls_of (Daemon *d, const char *sender)
{
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&d->calls_lock);
  g_hash_table_iter_init (&iter, d->cancellables);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (sender == NULL || g_str_equal (key, sender))
      {
        GPtrArray *list = value;
        for (guint i = 0; i < list->len; i++)
          g_cancellable_cancel (list->pdata[i]);
        if (sender != NULL)
          g_info ("caller %s left the bus: cancelling its %u call(s)", sender, list->len);
      }
  g_mutex_unlock (&d->calls_lock);
}

static void
on_name_owner_changed (GDBusConnection *c, const char *sender_name, const char *path,
                       const char *iface, const char *signal, GVariant *params, gpointer data)
{
  const char *name, *old_owner, *new_owner;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(sss)")))
    return;
  g_variant_get (params, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (name[0] == ':' && *new_owner == '\0')
    cancel_calls_of (data, name);
}

/* ---- handlers ------------------------------------------------------------ */

static gboolean
handle_get_status (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (BgrDaemonInfo) info = bgr_client_get_daemon_info (d->client, NULL, &error);
  GVariantDict dict;

  if (info == NULL)
    return return_error (d, invocation, error);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "pid", "x", (gint64) getpid ());
  g_variant_dict_insert (&dict, "version", "s", bgr_daemon_info_get_version (info));
  g_variant_dict_insert (&dict, "bus", "s", d->bus_description);
  g_variant_dict_insert (&dict, "state_dir", "s", bgr_daemon_info_get_state_dir (info));
  g_variant_dict_insert (&dict, "web_ui_address", "s", bgr_daemon_info_get_web_ui_address (info));
  g_variant_dict_insert (&dict, "uptime_seconds", "x", bgr_daemon_info_get_uptime_seconds (info));
  bgr_dbus_manager_complete_get_status (skeleton, invocation, g_variant_dict_end (&dict));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_config (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (BgrConfig) config = bgr_client_get_config (d->client, NULL, &error);
  g_auto (GStrv) keys = bgr_config_dup_keys ();
  GVariantBuilder b;

  if (config == NULL)
    return return_error (d, invocation, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(sss)"));
  for (char **k = keys; *k != NULL; k++)
    g_variant_builder_add (&b, "(sss)", *k, bgr_config_get_string (config, *k),
                           bgr_config_get_source (config, *k));
  bgr_dbus_manager_complete_get_config (
    skeleton, invocation, bgr_config_get_path (config) != NULL ? bgr_config_get_path (config) : "",
    g_variant_builder_end (&b));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_doctor (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (BgrDoctorReport) report = bgr_client_doctor (d->client, NULL, &error);
  GVariantBuilder b;

  if (report == NULL)
    return return_error (d, invocation, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(suss)"));
  for (guint i = 0; i < bgr_doctor_report_get_n_checks (report); i++)
    {
      const char *fix = bgr_doctor_report_get_check_fix (report, i);
      g_variant_builder_add (&b, "(suss)", bgr_doctor_report_get_check_name (report, i),
                             (guint32) bgr_doctor_report_get_check_status (report, i),
                             bgr_doctor_report_get_check_message (report, i),
                             fix != NULL ? fix : "");
    }
  bgr_dbus_manager_complete_doctor (skeleton, invocation,
                                    bgr_doctor_report_get_hypervisor (report),
                                    bgr_doctor_report_get_accel (report),
                                    g_variant_builder_end (&b));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_ensure_ssh_key (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                       gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autofree char *path = bgr_client_ensure_ssh_key (d->client, NULL, &error);

  if (path == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_ensure_ssh_key (skeleton, invocation, path);
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* "" on the wire means "not given". */
static const char *
opt (const char *s)
{
  return (s != NULL && *s != '\0') ? s : NULL;
}

static GVariant *
kernel_record (BgrKernel *k)
{
  return bgr_kernel_to_variant (k);
}

static GVariant *
image_record (BgrImage *i)
{
  return bgr_image_to_variant (i);
}

static gboolean
handle_import_kernel (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                      const char *name, const char *kernel, const char *modules,
                      const char *initrd, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GCancellable) c = long_call_begin (d, invocation);
  g_autoptr (BgrKernel) k = bgr_client_import_kernel (d->client, name, kernel, opt (modules),
                                                      opt (initrd), c, &error);
  long_call_end (d, invocation, c);
  if (k == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_import_kernel (skeleton, invocation, kernel_record (k));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_import_kernel_deb (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                          const char *name, const char *deb, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GCancellable) c = long_call_begin (d, invocation);
  g_autoptr (BgrKernel) k = bgr_client_import_kernel_deb (d->client, opt (name), deb, c, &error);
  long_call_end (d, invocation, c);
  if (k == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_import_kernel_deb (skeleton, invocation, kernel_record (k));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_kernels (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_list_kernels (d->client, NULL, &error);
  GVariantBuilder b;

  if (list == NULL)
    return return_error (d, invocation, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (&b, kernel_record (list->pdata[i]));
  bgr_dbus_manager_complete_list_kernels (skeleton, invocation, g_variant_builder_end (&b));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_kernel (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                   const char *name, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (BgrKernel) k = bgr_client_get_kernel (d->client, name, NULL, &error);
  if (k == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_get_kernel (skeleton, invocation, kernel_record (k));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_delete_kernel (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                      const char *name, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  if (!bgr_client_delete_kernel (d->client, name, NULL, &error))
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_delete_kernel (skeleton, invocation);
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_available_kernels (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                               gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_list_available_kernels (d->client, NULL, &error);
  GVariantBuilder b;

  if (list == NULL)
    return return_error (d, invocation, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (&b, bgr_catalog_kernel_to_variant (list->pdata[i]));
  bgr_dbus_manager_complete_list_available_kernels (skeleton, invocation, g_variant_builder_end (&b));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

typedef struct {
  BgrDBusManager *skeleton;
  const char *name;
  gint64 last_us;
} PullProgress;

/* At most ten signals a second, and always the last one. */
static void
on_pull_progress (guint64 done, guint64 total, gpointer data)
{
  PullProgress *p = data;
  gint64 now = g_get_monotonic_time ();

  if (done != total && now - p->last_us < 100000)
    return;
  p->last_us = now;
  bgr_dbus_manager_emit_pull_progress (p->skeleton, p->name, done, total);
}

static gboolean
handle_pull_kernel (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                    const char *name, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  PullProgress progress = { skeleton, name, 0 };
  g_autoptr (GCancellable) c = long_call_begin (d, invocation);
  g_autoptr (BgrKernel) k = bgr_client_pull_kernel (d->client, name, on_pull_progress, &progress,
                                                    c, &error);
  long_call_end (d, invocation, c);
  if (k == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_pull_kernel (skeleton, invocation, kernel_record (k));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

typedef struct {
  BgrDBusManager *skeleton;
  const char *reference;
  gint64 last_us;
} ImageProgress;

static void
on_image_pull_progress (guint layer, guint n_layers, guint64 layer_done, guint64 layer_total,
                        guint64 done, guint64 total, gpointer data)
{
  ImageProgress *p = data;
  gint64 now = g_get_monotonic_time ();

  if (layer_done != layer_total && now - p->last_us < 100000)
    return;
  p->last_us = now;
  bgr_dbus_manager_emit_image_pull_progress (p->skeleton, p->reference, layer, n_layers,
                                             layer_done, layer_total, done, total);
}

static gboolean
handle_pull_image (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                   const char *reference, const char *name, const char *kernel_ref,
                   const char *platform, guint flags, guint64 size, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  ImageProgress progress = { skeleton, reference, 0 };
  g_autoptr (GCancellable) c = long_call_begin (d, invocation);
  g_autoptr (BgrImage) image = bgr_client_pull_image (d->client, reference, opt (name),
                                                      opt (kernel_ref), opt (platform), size,
                                                      (BgrImagePullFlags) flags,
                                                      on_image_pull_progress, &progress, c, &error);
  long_call_end (d, invocation, c);
  if (image == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_pull_image (skeleton, invocation, image_record (image));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_image_cache (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                         gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_list_image_cache (d->client, NULL, &error);
  GVariantBuilder b;

  if (list == NULL)
    return return_error (d, invocation, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (&b, bgr_cache_blob_to_variant (list->pdata[i]));
  bgr_dbus_manager_complete_list_image_cache (skeleton, invocation, g_variant_builder_end (&b));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_prune_image_cache (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                          gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  guint64 freed = 0;
  guint removed = 0;

  if (!bgr_client_prune_image_cache (d->client, &freed, &removed, NULL, &error))
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_prune_image_cache (skeleton, invocation, freed, removed);
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_register_image (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                       const char *name, GVariant *spec, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  static const char *const keys[] = { "rootfs", "work_seed", "kernel", "kernel_ref", "initrd",
                                      "modules", NULL };
  const char *values[G_N_ELEMENTS (keys)] = { NULL };
  g_autoptr (BgrImage) image = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, spec);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      guint i;
      for (i = 0; keys[i] != NULL && !g_str_equal (keys[i], key); i++)
        ;
      if (keys[i] == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
        {
          g_variant_unref (value);
          return return_error (d, invocation,
                               g_error_new (BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                                            keys[i] == NULL ? "unknown image spec key '%s'"
                                                            : "image spec key '%s' must be a string",
                                            key));
        }
      values[i] = opt (g_variant_get_string (value, NULL));
      g_variant_unref (value);
    }
  image = bgr_client_register_image (d->client, name, values[0], values[1], values[2], values[3],
                                     values[4], values[5], NULL, &error);
  if (image == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_register_image (skeleton, invocation, image_record (image));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_images (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_list_images (d->client, NULL, &error);
  GVariantBuilder b;

  if (list == NULL)
    return return_error (d, invocation, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (&b, image_record (list->pdata[i]));
  bgr_dbus_manager_complete_list_images (skeleton, invocation, g_variant_builder_end (&b));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_image (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
                  gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (BgrImage) image = bgr_client_get_image (d->client, name, NULL, &error);
  if (image == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_get_image (skeleton, invocation, image_record (image));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_delete_image (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                     const char *name, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  if (!bgr_client_delete_image (d->client, name, NULL, &error))
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_delete_image (skeleton, invocation);
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_promote_image (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                      const char *name, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GCancellable) c = long_call_begin (d, invocation);
  g_autoptr (BgrImage) image = bgr_client_promote_image (d->client, name, c, &error);
  long_call_end (d, invocation, c);
  if (image == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_promote_image (skeleton, invocation, image_record (image));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- VMs ------------------------------------------------------------------ */

static GVariant *
vm_record (BgrVm *vm)
{
  return bgr_vm_to_variant (vm);
}

typedef struct {
  BgrDBusManager *skeleton;
  const char *name;
} VmProgress;

static void
on_vm_progress (const char *phase, guint step, guint n_steps, gpointer data)
{
  VmProgress *p = data;
  bgr_dbus_manager_emit_vm_progress (p->skeleton, p->name, phase, step, n_steps);
}

/* Reads an optional member of an a{sv} with the expected type; a member of
 * another type is an error naming it. */
static gboolean
lookup_option (GVariant *options, const char *key, const GVariantType *type, GVariant **out,
               GError **error)
{
  g_autoptr (GVariant) v = g_variant_lookup_value (options, key, NULL);

  *out = NULL;
  if (v == NULL)
    return TRUE;
  if (!g_variant_is_of_type (v, type))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option '%s' has type %s, expected %s", key, g_variant_get_type_string (v),
                   g_variant_type_peek_string (type));
      return FALSE;
    }
  *out = g_steal_pointer (&v);
  return TRUE;
}

static gboolean
handle_create_vm (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
                  GVariant *options, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GVariant) image = NULL, vcpus = NULL, memory = NULL, disk = NULL;
  g_autoptr (GCancellable) c = NULL;
  g_autoptr (BgrVm) vm = NULL;
  VmProgress progress = { skeleton, name };
  static const char *const known[] = { "image", "vcpus", "memory_mib", "disk_size", NULL };
  GVariantIter it;
  const char *key;

  g_variant_iter_init (&it, options);
  while (g_variant_iter_next (&it, "{&sv}", &key, NULL))
    if (!g_strv_contains (known, key))
      {
        g_set_error (&error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                     "unknown option '%s' (known: image, vcpus, memory_mib, disk_size)", key);
        return return_error (d, invocation, error);
      }
  if (!lookup_option (options, "image", G_VARIANT_TYPE_STRING, &image, &error)
      || !lookup_option (options, "vcpus", G_VARIANT_TYPE_UINT32, &vcpus, &error)
      || !lookup_option (options, "memory_mib", G_VARIANT_TYPE_UINT64, &memory, &error)
      || !lookup_option (options, "disk_size", G_VARIANT_TYPE_UINT64, &disk, &error))
    return return_error (d, invocation, error);
  c = long_call_begin (d, invocation);
  vm = bgr_client_create_vm (d->client, name, image != NULL ? g_variant_get_string (image, NULL) : NULL,
                             vcpus != NULL ? g_variant_get_uint32 (vcpus) : 0,
                             memory != NULL ? g_variant_get_uint64 (memory) : 0,
                             disk != NULL ? g_variant_get_uint64 (disk) : 0, on_vm_progress,
                             &progress, c, &error);
  long_call_end (d, invocation, c);
  if (vm == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_create_vm (skeleton, invocation, vm_record (vm));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_start_vm (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
                 gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  VmProgress progress = { skeleton, name };
  g_autoptr (GCancellable) c = long_call_begin (d, invocation);
  g_autoptr (BgrVm) vm = bgr_client_start_vm (d->client, name, on_vm_progress, &progress, c, &error);
  long_call_end (d, invocation, c);
  if (vm == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_start_vm (skeleton, invocation, vm_record (vm));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_stop_vm (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
                gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (BgrVm) vm = bgr_client_stop_vm (d->client, name, NULL, &error);
  if (vm == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_stop_vm (skeleton, invocation, vm_record (vm));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_kill_vm (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
                gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (BgrVm) vm = bgr_client_kill_vm (d->client, name, NULL, &error);
  if (vm == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_kill_vm (skeleton, invocation, vm_record (vm));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_delete_vm (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
                  gboolean force, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  if (!bgr_client_delete_vm (d->client, name, force, NULL, &error))
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_delete_vm (skeleton, invocation);
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_vms (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_list_vms (d->client, NULL, &error);
  GVariantBuilder b;

  if (list == NULL)
    return return_error (d, invocation, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (&b, vm_record (list->pdata[i]));
  bgr_dbus_manager_complete_list_vms (skeleton, invocation, g_variant_builder_end (&b));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_vm (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
               gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (BgrVm) vm = bgr_client_get_vm (d->client, name, NULL, &error);
  if (vm == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_get_vm (skeleton, invocation, vm_record (vm));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_vm_logs (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
                    guint64 max_bytes, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GBytes) logs = bgr_client_get_vm_logs (d->client, name, max_bytes, NULL, &error);
  if (logs == NULL)
    return return_error (d, invocation, error);
  g_dbus_method_invocation_return_value (
    invocation, g_variant_new ("(@ay)", g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, logs, TRUE)));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_vm_ports (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
                     gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GPtrArray) list = bgr_client_vm_ports (d->client, name, NULL, &error);
  GVariantBuilder b;

  if (list == NULL)
    return return_error (d, invocation, error);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < list->len; i++)
    g_variant_builder_add_value (&b, bgr_vm_port_to_variant (list->pdata[i]));
  bgr_dbus_manager_complete_get_vm_ports (skeleton, invocation, g_variant_builder_end (&b));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_vm_stats (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, const char *name,
                     gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (BgrVmStats) stats = bgr_client_vm_stats (d->client, name, NULL, &error);
  if (stats == NULL)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_get_vm_stats (skeleton, invocation, bgr_vm_stats_to_variant (stats));
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_vm_exec (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation,
                GUnixFDList *fd_list, const char *name, const char *const *argv, GVariant *options,
                GVariant *in_h, GVariant *out_h, GVariant *err_h, gpointer data)
{
  Daemon *d = data;
  GError *error = NULL;
  g_autoptr (GVariant) env = NULL, cwd = NULL, timeout = NULL, want_stdin = NULL;
  g_autoptr (GCancellable) c = NULL;
  g_autofree const char **env_v = NULL;
  int fds[3] = { -1, -1, -1 };
  GVariant *handles[3] = { in_h, out_h, err_h };
  gint status = 0;
  gboolean ok;

  if (!lookup_option (options, "env", G_VARIANT_TYPE_STRING_ARRAY, &env, &error)
      || !lookup_option (options, "cwd", G_VARIANT_TYPE_STRING, &cwd, &error)
      || !lookup_option (options, "timeout_ms", G_VARIANT_TYPE_UINT32, &timeout, &error)
      || !lookup_option (options, "stdin", G_VARIANT_TYPE_BOOLEAN, &want_stdin, &error))
    return return_error (d, invocation, error);
  for (int i = 0; i < 3; i++)
    {
      gint32 idx = g_variant_get_handle (handles[i]);
      if (fd_list == NULL || idx < 0 || idx >= g_unix_fd_list_get_length (fd_list))
        {
          for (int j = 0; j < i; j++)
            close (fds[j]);
          g_set_error (&error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                       "VmExec needs three file descriptors (stdin, stdout, stderr) passed with "
                       "the call");
          return return_error (d, invocation, error);
        }
      fds[i] = g_unix_fd_list_get (fd_list, idx, NULL);
    }
  if (env != NULL)
    env_v = g_variant_get_strv (env, NULL);
  c = long_call_begin (d, invocation);
  ok = bgr_client_vm_exec (d->client, name, argv, env_v, cwd != NULL ? g_variant_get_string (cwd, NULL) : NULL,
                           timeout != NULL ? g_variant_get_uint32 (timeout) : 0,
                           want_stdin != NULL && g_variant_get_boolean (want_stdin) ? fds[0] : -1,
                           fds[1], fds[2], &status, c, &error);
  long_call_end (d, invocation, c);
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  if (!ok)
    return return_error (d, invocation, error);
  bgr_dbus_manager_complete_vm_exec (skeleton, invocation, NULL, status);
  call_done (d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
quit_idle (gpointer data)
{
  Daemon *d = data;
  g_main_loop_quit (d->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
handle_stop (BgrDBusManager *skeleton, GDBusMethodInvocation *invocation, gpointer data)
{
  Daemon *d = data;

  g_message ("stop requested by %s", g_dbus_method_invocation_get_sender (invocation));
  bgr_dbus_manager_complete_stop (skeleton, invocation);
  call_done (d);
  /* Quit from the main loop; calls still running are waited for there. */
  g_idle_add (quit_idle, d);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ---- start-up ----------------------------------------------------------- */

static gboolean
try_start_engine (Daemon *d, GError **error)
{
  BgrClient *client = bgr_client_new_local (d->config, BGR_CLIENT_FLAGS_SUPERVISE, error);

  if (client == NULL)
    return FALSE;
  g_mutex_lock (&d->calls_lock);
  d->client = client;
  g_mutex_unlock (&d->calls_lock);
  g_message ("bangerd %s ready on the %s bus, state in %s", bgr_get_version_string (),
             d->bus_description, bgr_config_get_string (d->config, "state_dir"));
  return TRUE;
}

/* With --replace the old daemon holds the state lock until it has seen
 * NameLost and exited. Poll for the lock from the main loop (signals and
 * D-Bus keep being served meanwhile), for at most 15 s. */
static gboolean
retry_lock (gpointer data)
{
  Daemon *d = data;
  g_autoptr (GError) error = NULL;

  if (d->client != NULL || try_start_engine (d, &error))
    {
      d->lock_retry_id = 0;
      return G_SOURCE_REMOVE;
    }
  if (g_error_matches (error, BGR_ERROR, BGR_ERROR_LOCKED)
      && g_get_monotonic_time () < d->lock_deadline)
    return G_SOURCE_CONTINUE;
  g_printerr ("bangerd: %s\n", error->message);
  d->exit_status = bgr_error_code_to_exit_status (error->code);
  d->lock_retry_id = 0;
  g_main_loop_quit (d->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
export_manager (Daemon *d, GError **error)
{
  d->skeleton = bgr_dbus_manager_skeleton_new ();
  bgr_dbus_manager_set_version (d->skeleton, 1);
  bgr_dbus_manager_set_daemon_version (d->skeleton, bgr_get_version_string ());
  g_dbus_interface_skeleton_set_flags (G_DBUS_INTERFACE_SKELETON (d->skeleton),
                                       G_DBUS_INTERFACE_SKELETON_FLAGS_HANDLE_METHOD_INVOCATIONS_IN_THREAD);
  g_signal_connect (d->skeleton, "g-authorize-method", G_CALLBACK (authorize_method), d);
  g_signal_connect (d->skeleton, "handle-get-status", G_CALLBACK (handle_get_status), d);
  g_signal_connect (d->skeleton, "handle-get-config", G_CALLBACK (handle_get_config), d);
  g_signal_connect (d->skeleton, "handle-doctor", G_CALLBACK (handle_doctor), d);
  g_signal_connect (d->skeleton, "handle-ensure-ssh-key", G_CALLBACK (handle_ensure_ssh_key), d);
  g_signal_connect (d->skeleton, "handle-stop", G_CALLBACK (handle_stop), d);
  g_signal_connect (d->skeleton, "handle-import-kernel", G_CALLBACK (handle_import_kernel), d);
  g_signal_connect (d->skeleton, "handle-import-kernel-deb", G_CALLBACK (handle_import_kernel_deb), d);
  g_signal_connect (d->skeleton, "handle-list-kernels", G_CALLBACK (handle_list_kernels), d);
  g_signal_connect (d->skeleton, "handle-get-kernel", G_CALLBACK (handle_get_kernel), d);
  g_signal_connect (d->skeleton, "handle-delete-kernel", G_CALLBACK (handle_delete_kernel), d);
  g_signal_connect (d->skeleton, "handle-register-image", G_CALLBACK (handle_register_image), d);
  g_signal_connect (d->skeleton, "handle-list-available-kernels",
                    G_CALLBACK (handle_list_available_kernels), d);
  g_signal_connect (d->skeleton, "handle-pull-kernel", G_CALLBACK (handle_pull_kernel), d);
  g_signal_connect (d->skeleton, "handle-pull-image", G_CALLBACK (handle_pull_image), d);
  g_signal_connect (d->skeleton, "handle-list-image-cache", G_CALLBACK (handle_list_image_cache), d);
  g_signal_connect (d->skeleton, "handle-prune-image-cache", G_CALLBACK (handle_prune_image_cache), d);
  g_signal_connect (d->skeleton, "handle-list-images", G_CALLBACK (handle_list_images), d);
  g_signal_connect (d->skeleton, "handle-get-image", G_CALLBACK (handle_get_image), d);
  g_signal_connect (d->skeleton, "handle-delete-image", G_CALLBACK (handle_delete_image), d);
  g_signal_connect (d->skeleton, "handle-promote-image", G_CALLBACK (handle_promote_image), d);
  g_signal_connect (d->skeleton, "handle-create-vm", G_CALLBACK (handle_create_vm), d);
  g_signal_connect (d->skeleton, "handle-start-vm", G_CALLBACK (handle_start_vm), d);
  g_signal_connect (d->skeleton, "handle-stop-vm", G_CALLBACK (handle_stop_vm), d);
  g_signal_connect (d->skeleton, "handle-kill-vm", G_CALLBACK (handle_kill_vm), d);
  g_signal_connect (d->skeleton, "handle-delete-vm", G_CALLBACK (handle_delete_vm), d);
  g_signal_connect (d->skeleton, "handle-list-vms", G_CALLBACK (handle_list_vms), d);
  g_signal_connect (d->skeleton, "handle-get-vm", G_CALLBACK (handle_get_vm), d);
  g_signal_connect (d->skeleton, "handle-get-vm-logs", G_CALLBACK (handle_get_vm_logs), d);
  g_signal_connect (d->skeleton, "handle-vm-exec", G_CALLBACK (handle_vm_exec), d);
  g_signal_connect (d->skeleton, "handle-get-vm-ports", G_CALLBACK (handle_get_vm_ports), d);
  g_signal_connect (d->skeleton, "handle-get-vm-stats", G_CALLBACK (handle_get_vm_stats), d);
  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (d->skeleton), d->connection,
                                           BGR_DBUS_PATH, error);
}

static void
on_name_acquired (GDBusConnection *connection, const char *name, gpointer data)
{
  Daemon *d = data;

  d->name_acquired = TRUE;
  g_info ("owning %s on the %s bus", name, d->bus_description);
  if (d->client == NULL && d->lock_retry_id == 0)
    {
      d->lock_deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
      d->lock_retry_id = g_timeout_add (50, retry_lock, d);
    }
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer data)
{
  Daemon *d = data;

  if (connection == NULL)
    {
      g_printerr ("bangerd: lost the connection to the %s bus\n", d->bus_description);
      d->exit_status = 1;
    }
  else if (d->name_acquired)
    g_message ("another bangerd replaced this one; exiting");
  else
    {
      g_printerr ("bangerd: %s is already owned on the %s bus by another bangerd "
                  "(use --replace to take over)\n", name, d->bus_description);
      d->exit_status = bgr_error_code_to_exit_status (BGR_ERROR_LOCKED);
    }
  g_main_loop_quit (d->loop);
}

static gboolean
on_signal (gpointer data)
{
  Daemon *d = data;
  g_message ("signal received; exiting");
  g_main_loop_quit (d->loop);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  Daemon *d = &daemon_state;
  gboolean opt_system = FALSE, opt_session = FALSE, opt_replace = FALSE, opt_version = FALSE;
  gboolean opt_verbose = FALSE;
  g_autofree char *opt_config = NULL;
  g_autofree char *opt_address = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  const GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &opt_session, "Serve on the session bus (default)", NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &opt_system, "Serve on the system bus", NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &opt_address, "Serve on the message bus at ADDRESS", "ADDRESS" },
    { "replace", 0, 0, G_OPTION_ARG_NONE, &opt_replace, "Replace a running bangerd", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt_config,
      "Read this config file (default: $XDG_CONFIG_HOME/banger/config.toml, with --system "
      "/etc/banger/config.toml; also $BANGER_CONFIG)", "PATH" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Log at debug level whatever log_level says", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };

  /* VmExec writes to descriptors its callers passed: a caller that went
   * away must cost an EPIPE, not the daemon. */
  signal (SIGPIPE, SIG_IGN);
  guint owner_id;
  guint name_flags;

  ctx = g_option_context_new ("- the banger daemon");
  g_option_context_set_summary (ctx,
    "bangerd owns banger's state directory and serves libbanger on D-Bus as\n"
    "org.banger.Banger1 (object /org/banger/Banger1). `banger` talks to it.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("bangerd: %s (see bangerd --help)\n", error->message);
      return 2;
    }
  if (opt_version)
    {
      g_print ("bangerd %s\n", bgr_get_version_string ());
      return 0;
    }
  if ((opt_system ? 1 : 0) + (opt_session ? 1 : 0) + (opt_address != NULL ? 1 : 0) > 1)
    {
      g_printerr ("bangerd: --session, --system and --address exclude each other\n");
      return 2;
    }
  if (argc > 1)
    {
      g_printerr ("bangerd: unexpected argument '%s' (see bangerd --help)\n", argv[1]);
      return 2;
    }

  if (opt_config == NULL && g_getenv ("BANGER_CONFIG") != NULL)
    opt_config = g_strdup (g_getenv ("BANGER_CONFIG"));
  /* The system daemon has system-wide defaults: /etc/banger/config.toml,
   * state in /var/lib/banger, cache in /var/cache/banger. */
  d->config = bgr_config_load_full (opt_config,
                                    opt_system ? BGR_CONFIG_FLAGS_SYSTEM : BGR_CONFIG_FLAGS_NONE,
                                    &error);
  if (d->config == NULL)
    {
      g_printerr ("bangerd: %s\n", error->message);
      return bgr_error_code_to_exit_status (error->code);
    }
  d->max_level = opt_verbose ? G_LOG_LEVEL_DEBUG
                             : level_from_config (bgr_config_get_string (d->config, "log_level"));
  g_log_set_writer_func (log_writer, d, NULL);
  d->replace = opt_replace;
  d->loop = g_main_loop_new (NULL, FALSE);

  d->bus_description = opt_address != NULL ? g_strdup_printf ("address:%s", opt_address)
                                             : g_strdup (opt_system ? "system" : "session");
  /* Without --replace, take the state lock before touching the bus, so a
   * second daemon fails at once with the holder's pid. */
  if (!opt_replace && !try_start_engine (d, &error))
    {
      g_printerr ("bangerd: %s\n", error->message);
      return bgr_error_code_to_exit_status (error->code);
    }

  if (opt_address != NULL)
    {
      d->connection = g_dbus_connection_new_for_address_sync (
        opt_address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &error);
    }
  else
    d->connection = g_bus_get_sync (opt_system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, &error);
  if (d->connection == NULL)
    {
      g_printerr ("bangerd: cannot connect to the %s bus: %s\n",
                  opt_address != NULL ? opt_address : (opt_system ? "system" : "session"),
                  error->message);
      return bgr_error_code_to_exit_status (BGR_ERROR_DAEMON_UNAVAILABLE);
    }
  g_dbus_connection_set_exit_on_close (d->connection, FALSE);
  d->cancellables = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) g_ptr_array_unref);
  g_dbus_connection_signal_subscribe (d->connection, "org.freedesktop.DBus", "org.freedesktop.DBus",
                                      "NameOwnerChanged", "/org/freedesktop/DBus", NULL,
                                      G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed, d, NULL);
  if (!export_manager (d, &error))
    {
      g_printerr ("bangerd: cannot export %s: %s\n", BGR_DBUS_PATH, error->message);
      return 1;
    }

  name_flags = G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT | G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE;
  if (opt_replace)
    name_flags |= G_BUS_NAME_OWNER_FLAGS_REPLACE;
  owner_id = g_bus_own_name_on_connection (d->connection, BGR_DBUS_NAME, name_flags,
                                           on_name_acquired, on_name_lost, d, NULL);
  g_unix_signal_add (SIGTERM, on_signal, d);
  g_unix_signal_add (SIGINT, on_signal, d);

  g_main_loop_run (d->loop);

  /* Refuse new calls, leave the bus, then let running handlers finish before
   * the engine (and its state lock) goes away. */
  g_mutex_lock (&d->calls_lock);
  d->shutting_down = TRUE;
  g_mutex_unlock (&d->calls_lock);
  cancel_calls_of (d, NULL); /* long calls roll back instead of running on */
  if (d->lock_retry_id != 0)
    g_source_remove (d->lock_retry_id);
  g_bus_unown_name (owner_id);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (d->skeleton));
  {
    gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
    g_mutex_lock (&d->calls_lock);
    while (d->calls_in_flight > 0)
      if (!g_cond_wait_until (&d->calls_cond, &d->calls_lock, deadline))
        {
          g_warning ("%u calls still running after 60 s; exiting anyway", d->calls_in_flight);
          /* Do not free the engine under them: exiting releases the lock. */
          d->client = NULL;
          break;
        }
    g_mutex_unlock (&d->calls_lock);
  }
  g_dbus_connection_flush_sync (d->connection, NULL, NULL);
  g_clear_object (&d->skeleton);
  g_clear_object (&d->client); /* releases the state lock */
  g_clear_object (&d->connection);
  g_clear_object (&d->config);
  g_main_loop_unref (d->loop);
  g_free (d->bus_description);
  return d->exit_status;
}
