/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <json-glib/json-glib.h>

#include <banger/banger.h>

#include "bgr-daemon-info-private.h"
#include "bgr-error-private.h"

struct _BgrDaemonInfo {
  GObject parent_instance;
  gint64 pid;
  char *version;
  char *bus;
  char *state_dir;
  char *web_ui_address;
  gint64 uptime;
};

G_DEFINE_FINAL_TYPE (BgrDaemonInfo, bgr_daemon_info, G_TYPE_OBJECT)

static void
bgr_daemon_info_finalize (GObject *object)
{
  BgrDaemonInfo *self = BGR_DAEMON_INFO (object);
  g_free (self->version);
  g_free (self->bus);
  g_free (self->state_dir);
  g_free (self->web_ui_address);
  G_OBJECT_CLASS (bgr_daemon_info_parent_class)->finalize (object);
}

static void
bgr_daemon_info_class_init (BgrDaemonInfoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_daemon_info_finalize;
}

static void
bgr_daemon_info_init (BgrDaemonInfo *self)
{
}

BgrDaemonInfo *
bgr_daemon_info_new (gint64 pid, const char *version, const char *bus, const char *state_dir,
                     const char *web_ui_address, gint64 uptime_seconds)
{
  BgrDaemonInfo *self = g_object_new (BGR_TYPE_DAEMON_INFO, NULL);
  self->pid = pid;
  self->version = g_strdup (version);
  self->bus = g_strdup (bus);
  self->state_dir = g_strdup (state_dir);
  self->web_ui_address = g_strdup (web_ui_address);
  self->uptime = uptime_seconds;
  return self;
}

/**
 * bgr_daemon_info_get_pid:
 * @self: a #BgrDaemonInfo
 *
 * Returns: the engine's process id
 * Since: 0.1
 */
gint64
bgr_daemon_info_get_pid (BgrDaemonInfo *self)
{
  g_return_val_if_fail (BGR_IS_DAEMON_INFO (self), 0);
  return self->pid;
}

/**
 * bgr_daemon_info_get_version:
 * @self: a #BgrDaemonInfo
 *
 * Returns: (transfer none): the engine's libbanger version
 * Since: 0.1
 */
const char *
bgr_daemon_info_get_version (BgrDaemonInfo *self)
{
  g_return_val_if_fail (BGR_IS_DAEMON_INFO (self), NULL);
  return self->version;
}

/**
 * bgr_daemon_info_get_bus:
 * @self: a #BgrDaemonInfo
 *
 * Returns: (transfer none): "session", "system", "address:..." or
 *   "in-process" for a local engine
 * Since: 0.1
 */
const char *
bgr_daemon_info_get_bus (BgrDaemonInfo *self)
{
  g_return_val_if_fail (BGR_IS_DAEMON_INFO (self), NULL);
  return self->bus;
}

/**
 * bgr_daemon_info_get_state_dir:
 * @self: a #BgrDaemonInfo
 *
 * Returns: (transfer none): the state directory the engine owns
 * Since: 0.1
 */
const char *
bgr_daemon_info_get_state_dir (BgrDaemonInfo *self)
{
  g_return_val_if_fail (BGR_IS_DAEMON_INFO (self), NULL);
  return self->state_dir;
}

/**
 * bgr_daemon_info_get_web_ui_address:
 * @self: a #BgrDaemonInfo
 *
 * Returns: (transfer none): the web UI's URL, or "" when no web UI is
 *   served (the web UI is not implemented yet in this version)
 * Since: 0.1
 */
const char *
bgr_daemon_info_get_web_ui_address (BgrDaemonInfo *self)
{
  g_return_val_if_fail (BGR_IS_DAEMON_INFO (self), NULL);
  return self->web_ui_address;
}

/**
 * bgr_daemon_info_get_uptime_seconds:
 * @self: a #BgrDaemonInfo
 *
 * Returns: seconds since the engine started
 * Since: 0.1
 */
gint64
bgr_daemon_info_get_uptime_seconds (BgrDaemonInfo *self)
{
  g_return_val_if_fail (BGR_IS_DAEMON_INFO (self), 0);
  return self->uptime;
}

/**
 * bgr_daemon_info_to_json:
 * @self: a #BgrDaemonInfo
 *
 * Returns: (transfer full): `{"pid", "version", "bus", "state_dir",
 *   "web_ui_address", "uptime_seconds"}`
 * Since: 0.1
 */
char *
bgr_daemon_info_to_json (BgrDaemonInfo *self)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (BGR_IS_DAEMON_INFO (self), NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, self->pid);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, self->version);
  json_builder_set_member_name (b, "bus");
  json_builder_add_string_value (b, self->bus);
  json_builder_set_member_name (b, "state_dir");
  json_builder_add_string_value (b, self->state_dir);
  json_builder_set_member_name (b, "web_ui_address");
  json_builder_add_string_value (b, self->web_ui_address);
  json_builder_set_member_name (b, "uptime_seconds");
  json_builder_add_int_value (b, self->uptime);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

GVariant *
bgr_daemon_info_to_variant (BgrDaemonInfo *self)
{
  GVariantDict d;

  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "pid", "x", self->pid);
  g_variant_dict_insert (&d, "version", "s", self->version);
  g_variant_dict_insert (&d, "bus", "s", self->bus);
  g_variant_dict_insert (&d, "state_dir", "s", self->state_dir);
  g_variant_dict_insert (&d, "web_ui_address", "s", self->web_ui_address);
  g_variant_dict_insert (&d, "uptime_seconds", "x", self->uptime);
  return g_variant_dict_end (&d);
}

BgrDaemonInfo *
bgr_daemon_info_new_from_variant (GVariant *dict, GError **error)
{
  GVariantDict d;
  gint64 pid = 0, uptime = 0;
  const char *version = NULL, *bus = NULL, *state_dir = NULL, *web = "";
  BgrDaemonInfo *info;

  g_variant_dict_init (&d, dict);
  if (!g_variant_dict_lookup (&d, "pid", "x", &pid)
      || !g_variant_dict_lookup (&d, "version", "&s", &version)
      || !g_variant_dict_lookup (&d, "bus", "&s", &bus)
      || !g_variant_dict_lookup (&d, "state_dir", "&s", &state_dir))
    {
      g_variant_dict_clear (&d);
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                   "daemon status reply lacks pid, version, bus or state_dir");
      return NULL;
    }
  g_variant_dict_lookup (&d, "web_ui_address", "&s", &web);
  g_variant_dict_lookup (&d, "uptime_seconds", "x", &uptime);
  info = bgr_daemon_info_new (pid, version, bus, state_dir, web, uptime);
  g_variant_dict_clear (&d);
  return info;
}
