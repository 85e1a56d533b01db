/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrSessionSpec (what to start) and BgrVmSession (what runs): the public
 * types of sessions (bgr-session.h). */
#include "config.h"

#include "bgr-options-private.h"
#include "bgr-records-private.h"

/* ---- BgrSessionSpec ------------------------------------------------------- */

static const BgrOptionKey session_spec_keys[] = {
  { "name", "s" },
  { "argv", "as" },
  { "env", "as" },
  { "cwd", "s" },
  { "stdin-mode", "s" },
  { "require", "as" },
  { "pty", "b" },
  { "rows", "u" },
  { "cols", "u" },
  { NULL, NULL },
};

struct _BgrSessionSpec {
  BgrOptions parent_instance;
};

G_DEFINE_FINAL_TYPE (BgrSessionSpec, bgr_session_spec, BGR_TYPE_OPTIONS)

static void
bgr_session_spec_class_init (BgrSessionSpecClass *klass)
{
  BGR_OPTIONS_CLASS (klass)->keys = session_spec_keys;
}

static void
bgr_session_spec_init (BgrSessionSpec *self)
{
}

/**
 * bgr_session_spec_new:
 * @name: (nullable): the session's name
 * @argv: (nullable) (array zero-terminated=1): the command and its arguments
 *
 * Returns: (transfer full): a new session spec; every other key unset
 *
 * Since: 0.2
 */
BgrSessionSpec *
bgr_session_spec_new (const char *name, const char *const *argv)
{
  BgrSessionSpec *self = g_object_new (BGR_TYPE_SESSION_SPEC, NULL);
  if (name != NULL)
    bgr_session_spec_set_name (self, name);
  if (argv != NULL)
    bgr_session_spec_set_argv (self, argv);
  return self;
}

/**
 * bgr_session_spec_new_from_variant:
 * @dict: an `a{sv}` dictionary
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the spec, or %NULL when a key is unknown
 *
 * Since: 0.2
 */
BgrSessionSpec *
bgr_session_spec_new_from_variant (GVariant *dict, GError **error)
{
  return bgr_options_new_from_variant (BGR_TYPE_SESSION_SPEC, dict, error);
}

#define SPEC_STRING(field, key)                                                   \
  void bgr_session_spec_set_##field (BgrSessionSpec *self, const char *value)     \
  {                                                                               \
    g_return_if_fail (BGR_IS_SESSION_SPEC (self));                                \
    bgr_options_put_string (BGR_OPTIONS (self), key, value);                      \
  }                                                                               \
  const char *bgr_session_spec_get_##field (BgrSessionSpec *self)                 \
  {                                                                               \
    g_return_val_if_fail (BGR_IS_SESSION_SPEC (self), NULL);                      \
    return bgr_options_get_string (BGR_OPTIONS (self), key);                      \
  }

#define SPEC_STRV(field, key)                                                     \
  void bgr_session_spec_set_##field (BgrSessionSpec *self, const char *const *v)  \
  {                                                                               \
    g_return_if_fail (BGR_IS_SESSION_SPEC (self));                                \
    bgr_options_put_strv (BGR_OPTIONS (self), key, v);                            \
  }                                                                               \
  char **bgr_session_spec_dup_##field (BgrSessionSpec *self)                      \
  {                                                                               \
    g_return_val_if_fail (BGR_IS_SESSION_SPEC (self), NULL);                      \
    return bgr_options_dup_strv (BGR_OPTIONS (self), key);                        \
  }

/**
 * bgr_session_spec_set_name:
 * @self: a session spec
 * @name: the session's name
 *
 * The accessors of #BgrSessionSpec, one pair per key: name, argv, env,
 * cwd, stdin_mode and require. The `dup` getters return a new %NULL
 * terminated array, or %NULL when the key is unset.
 *
 * Since: 0.2
 */
SPEC_STRING (name, "name")
SPEC_STRV (argv, "argv")
SPEC_STRV (env, "env")
SPEC_STRING (cwd, "cwd")
SPEC_STRING (stdin_mode, "stdin-mode")
SPEC_STRV (require, "require")

#define SPEC_NUMBER(field, key, ctype, width)                                     \
  void bgr_session_spec_set_##field (BgrSessionSpec *self, ctype value)           \
  {                                                                               \
    g_return_if_fail (BGR_IS_SESSION_SPEC (self));                                \
    bgr_options_put_##width (BGR_OPTIONS (self), key, value);                     \
  }                                                                               \
  ctype bgr_session_spec_get_##field (BgrSessionSpec *self)                       \
  {                                                                               \
    g_return_val_if_fail (BGR_IS_SESSION_SPEC (self), 0);                         \
    return bgr_options_get_##width (BGR_OPTIONS (self), key);                     \
  }

/**
 * bgr_session_spec_set_pty:
 * @self: a session spec
 * @pty: whether the session runs on a pseudo-terminal
 *
 * The number accessors of #BgrSessionSpec: pty, rows and cols.
 *
 * Since: 0.2
 */
SPEC_NUMBER (pty, "pty", gboolean, boolean)
SPEC_NUMBER (rows, "rows", guint, uint32)
SPEC_NUMBER (cols, "cols", guint, uint32)

/* ---- BgrVmSession --------------------------------------------------------- */

struct _BgrVmSession {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrVmSession, bgr_vm_session, G_TYPE_OBJECT)

static void
bgr_vm_session_finalize (GObject *object)
{
  g_clear_pointer (&BGR_VM_SESSION (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_vm_session_parent_class)->finalize (object);
}

static void
bgr_vm_session_class_init (BgrVmSessionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_vm_session_finalize;
}

static void
bgr_vm_session_init (BgrVmSession *self)
{
}

BgrVmSession *
bgr_vm_session_new_from_json (JsonObject *doc)
{
  BgrVmSession *self = g_object_new (BGR_TYPE_VM_SESSION, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

#define SESSION_STR(field, member)                                  \
  const char *bgr_vm_session_get_##field (BgrVmSession *self)       \
  {                                                                 \
    g_return_val_if_fail (BGR_IS_VM_SESSION (self), NULL);          \
    return bgr_record_str (self->doc, member);                      \
  }
#define SESSION_INT(field, member)                                  \
  gint64 bgr_vm_session_get_##field (BgrVmSession *self)            \
  {                                                                 \
    g_return_val_if_fail (BGR_IS_VM_SESSION (self), 0);             \
    return bgr_record_int (self->doc, member);                      \
  }

/**
 * bgr_vm_session_get_name:
 * @self: a #BgrVmSession
 *
 * The getters of #BgrVmSession: get_vm() (the VM's name), get_name(),
 * get_cwd(), get_stdin_mode() ("detached" or "pipe"), get_state()
 * ("running" or "exited"), get_pid() (in the guest), get_exit_code() (-1
 * when a signal ended it) and get_signal() (both 0 while it runs),
 * get_started_ms() and get_ended_ms() (the guest's clock, Unix ms; 0 while
 * it runs), get_stdout_bytes() and get_stderr_bytes() (written so far),
 * get_stdout_dropped() and get_stderr_dropped() (the oldest bytes the
 * guest's spool no longer keeps), get_attached() (a client is attached).
 *
 * Returns: (transfer none): the session's name
 * Since: 0.2
 */
SESSION_STR (name, "name")
SESSION_STR (vm, "vm")
SESSION_STR (cwd, "cwd")
SESSION_STR (stdin_mode, "stdin_mode")
SESSION_STR (state, "state")
SESSION_INT (pid, "pid")
SESSION_INT (exit_code, "exit_code")
SESSION_INT (signal, "signal")
SESSION_INT (started_ms, "started_ms")
SESSION_INT (ended_ms, "ended_ms")
SESSION_INT (stdout_bytes, "stdout_bytes")
SESSION_INT (stdout_dropped, "stdout_dropped")
SESSION_INT (stderr_bytes, "stderr_bytes")
SESSION_INT (stderr_dropped, "stderr_dropped")

gboolean
bgr_vm_session_get_attached (BgrVmSession *self)
{
  g_return_val_if_fail (BGR_IS_VM_SESSION (self), FALSE);
  return json_object_get_boolean_member_with_default (self->doc, "attached", FALSE);
}

/**
 * bgr_vm_session_get_pty:
 * @self: a #BgrVmSession
 *
 * Returns: whether the session runs on a pseudo-terminal (its output is
 *   all on stdout)
 * Since: 0.2
 */
gboolean
bgr_vm_session_get_pty (BgrVmSession *self)
{
  g_return_val_if_fail (BGR_IS_VM_SESSION (self), FALSE);
  return json_object_get_boolean_member_with_default (self->doc, "pty", FALSE);
}

/**
 * bgr_vm_session_dup_argv:
 * @self: a #BgrVmSession
 *
 * Returns: (transfer full): the command and its arguments
 * Since: 0.2
 */
char **
bgr_vm_session_dup_argv (BgrVmSession *self)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  JsonArray *a;

  g_return_val_if_fail (BGR_IS_VM_SESSION (self), NULL);
  a = json_object_has_member (self->doc, "argv")
        && JSON_NODE_HOLDS_ARRAY (json_object_get_member (self->doc, "argv"))
        ? json_object_get_array_member (self->doc, "argv") : NULL;
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      JsonNode *n = json_array_get_element (a, i);
      if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
        g_strv_builder_add (b, json_node_get_string (n));
    }
  return g_strv_builder_end (b);
}

/**
 * bgr_vm_session_to_json:
 * @self: a #BgrVmSession
 *
 * Returns: (transfer full): the session as JSON: vm, name, argv, cwd,
 *   stdin_mode, state, pid, exit_code, signal, started_ms, ended_ms,
 *   stdout_bytes, stdout_dropped, stderr_bytes, stderr_dropped, attached, pty
 * Since: 0.2
 */
char *
bgr_vm_session_to_json (BgrVmSession *self)
{
  g_return_val_if_fail (BGR_IS_VM_SESSION (self), NULL);
  return bgr_record_public_json (self->doc);
}

/**
 * bgr_vm_session_to_variant:
 * @self: a #BgrVmSession
 *
 * Returns: (transfer floating): the session as an a{sv} dictionary
 * Since: 0.2
 */
GVariant *
bgr_vm_session_to_variant (BgrVmSession *self)
{
  g_return_val_if_fail (BGR_IS_VM_SESSION (self), NULL);
  return bgr_record_to_variant (self->doc);
}
