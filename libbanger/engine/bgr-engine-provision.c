/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What banger puts into a guest once its agent answers at create/start
 * (bgr_vm_provision), all through the agent, all best effort (a guest that
 * refuses is logged, the boot goes on):
 *
 * - the host user's coding-agent logins (sync_auth_files): each of
 *   AUTH_FILES that exists under the host's $HOME is copied to the same
 *   path under the guest's /root, mode 0600, owner root. Contents go through
 *   a memfd to the guest's stdin: never into a log, an argv or D-Bus;
 * - banger's SSH public key (ssh_key_path + ".pub"; the default key is
 *   created when missing) into /root/.ssh/authorized_keys, and sshd started when the image has
 *   one and nothing listens on port 22 yet (not on the fake VMM, whose
 *   "guest" is this host).
 *
 * Not for image build's VM (record member no_provision): the new image
 * would keep all of it.
 *
 * bgr_engine_vm_ssh_prepare() does the SSH part on demand for `vm ssh`,
 * creating the key first and saying clearly when the guest has no server. */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-escape-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-private.h"
#include "engine/bgr-engine-provision-private.h"
#include "engine/bgr-engine-reconcile-private.h"

/* Relative to $HOME on the host and to /root in the guest. */
static const char *const AUTH_FILES[] = {
  ".local/share/opencode/auth.json",
  ".claude/.credentials.json",
  ".pi/agent/auth.json",
  NULL,
};
#define AUTH_FILE_MAX (1024 * 1024)
#define PROVISION_TIMEOUT_MS 30000

/* Writes stdin to $HOME/$1 (parents made, 0700), 0600, owner root where the
 * agent may chown (always in a guest). */
static const char WRITE_FILE_SH[] =
  "umask 077; f=\"$HOME/$1\"; mkdir -p \"${f%/*}\" && cat > \"$f.banger-new\" && "
  "chmod 600 \"$f.banger-new\" && { chown 0:0 \"$f.banger-new\" 2>/dev/null || true; } && "
  "mv -f \"$f.banger-new\" \"$f\"";

/* Adds the key line $1 to authorized_keys unless it is there. */
static const char AUTHORIZE_SH[] =
  "umask 077; d=\"$HOME/.ssh\"; mkdir -p \"$d\" && touch \"$d/authorized_keys\" && "
  "chmod 700 \"$d\" && chmod 600 \"$d/authorized_keys\" && "
  "{ grep -qxF \"$1\" \"$d/authorized_keys\" || printf '%s\\n' \"$1\" >> \"$d/authorized_keys\"; }";

/* Exit 3: the image has no sshd. Else, with $2 = start, starts it on port
 * $1 (an sshd already there makes this one exit at once). */
static const char START_SSHD_SH[] =
  "for s in /usr/sbin/sshd /usr/bin/sshd /sbin/sshd; do [ -x \"$s\" ] && break; done; "
  "[ -x \"$s\" ] || exit 3; [ \"$2\" = start ] || exit 0; ssh-keygen -A >/dev/null 2>&1; "
  "mkdir -p /run/sshd && chmod 755 /run/sshd; \"$s\" -p \"$1\" >/dev/null 2>&1; exit 0";

/* Something listens on TCP @port in the guest. */
static gboolean
port_listens (BgrAgentConn *conn, guint port, GCancellable *cancellable)
{
  g_auto (GStrv) lines = bgr_agent_conn_ports (conn, BGR_VM_AGENT_TIMEOUT_MS, cancellable, NULL);
  g_autofree char *p = g_strdup_printf ("%u", port);

  for (char **l = lines; l != NULL && *l != NULL; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, " ", 4);
      if (g_strv_length (f) >= 3 && g_str_has_prefix (f[0], "tcp") && g_str_equal (f[2], p))
        return TRUE;
    }
  return FALSE;
}

/* Runs `sh -c SCRIPT sh ARG` in the guest, @input (may be NULL) on stdin. */
static gboolean
guest_sh (BgrAgentConn *conn, const char *script, const char *arg, const char *arg2, GBytes *input,
          gint *status, GCancellable *cancellable, GError **error)
{
  const char *argv[] = { "/bin/sh", "-c", script, "sh", arg, arg2, NULL };
  int in = -1;
  gboolean ok;

  if (input != NULL)
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (input, &len);
      in = memfd_create ("banger-input", MFD_CLOEXEC);
      if (in < 0 || write (in, p, len) != (gssize) len || lseek (in, 0, SEEK_SET) != 0)
        {
          bgr_set_error_errno (error, errno, "cannot buffer the file for the guest");
          if (in >= 0)
            close (in);
          return FALSE;
        }
    }
  ok = bgr_agent_conn_exec (conn, argv, NULL, NULL, PROVISION_TIMEOUT_MS, in, -1, -1, status,
                            cancellable, error);
  if (in >= 0)
    close (in);
  return ok;
}

static void
sync_auth_files (const char *name, BgrAgentConn *conn, GCancellable *cancellable)
{
  g_autoptr (GString) copied = g_string_new (NULL);

  for (const char *const *rel = AUTH_FILES; *rel != NULL; rel++)
    {
      g_autofree char *path = g_build_filename (g_get_home_dir (), *rel, NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (GMappedFile) map = NULL;
      g_autoptr (GBytes) data = NULL;
      gint status = -1;

      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue; /* missing: skipped */
      map = g_mapped_file_new (path, FALSE, &error);
      if (map != NULL && g_mapped_file_get_length (map) > AUTH_FILE_MAX)
        g_set_error (&error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "larger than %d bytes", AUTH_FILE_MAX);
      if (map != NULL && error == NULL)
        data = g_mapped_file_get_bytes (map);
      if (data != NULL && guest_sh (conn, WRITE_FILE_SH, *rel, NULL, data, &status, cancellable, &error)
          && status != 0)
        g_set_error (&error, BGR_ERROR, BGR_ERROR_FAILED, "the guest's shell exited with %d", status);
      if (error != NULL)
        {
          g_autofree char *msg = bgr_log_msg (error->message);
          g_message ("VM %s: cannot copy ~/%s into the guest: %s", name, *rel, msg);
          continue;
        }
      g_string_append_printf (copied, "%s~/%s", copied->len ? ", " : "", *rel);
    }
  if (copied->len > 0)
    g_info ("VM %s: copied %s into the guest's /root", name, copied->str);
}

/* authorized_keys, and sshd on @port. FALSE with @error when the key
 * cannot be installed, or (@need_server) nothing can serve @port. */
static gboolean
setup_ssh (JsonObject *doc, BgrAgentConn *conn, const char *pubkey_path, guint port,
           gboolean need_server, GCancellable *cancellable, GError **error)
{
  const char *name = bgr_record_str (doc, "name");
  g_autofree char *pub = NULL;
  g_autofree char *port_s = g_strdup_printf ("%u", port);
  gboolean fake = g_strcmp0 (bgr_record_str (doc, "hypervisor"), "fake") == 0;
  gint status = -1;

  if (!g_file_get_contents (pubkey_path, &pub, NULL, error))
    return FALSE;
  g_strstrip (pub);
  if (!guest_sh (conn, AUTHORIZE_SH, pub, NULL, NULL, &status, cancellable, error))
    return FALSE;
  if (status != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED,
                   "cannot add banger's key to /root/.ssh/authorized_keys in VM '%s' (exit status %d)",
                   name, status);
      return FALSE;
    }
  if (port_listens (conn, port, cancellable))
    return TRUE;
  /* The fake VMM's guest is this host: its sshd is not ours to start. */
  if (guest_sh (conn, START_SSHD_SH, port_s, fake ? "check" : "start", NULL, &status, cancellable,
                NULL) && status == 0 && !fake)
    {
      /* sshd listens only after it daemonized: wait, so that a create
       * or start returns with ssh ready. */
      gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
      while (!port_listens (conn, port, cancellable)
             && g_get_monotonic_time () < deadline && !g_cancellable_is_cancelled (cancellable))
        g_usleep (100000);
      return TRUE;
    }
  if (!need_server)
    return TRUE;
  if (status == 0) /* an sshd banger may not start (the fake VMM) */
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED,
                   "nothing listens on port %u in VM '%s' (start its sshd there)", port, name);
      return FALSE;
    }
  g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
               "VM '%s' has no SSH server: its image has no sshd (install openssh-server in it); "
               "for a shell without SSH use `banger vm exec -t %s`", name, name);
  return FALSE;
}

void
bgr_vm_provision (BgrEngine *engine, JsonObject *doc, GCancellable *cancellable)
{
  BgrConfig *config = bgr_engine_get_config (engine);
  const char *name = bgr_record_str (doc, "name");
  g_autoptr (BgrAgentConn) conn = bgr_vm_agent_get (engine, doc, cancellable, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *key = NULL, *pub = NULL;

  if (conn == NULL || json_object_has_member (doc, "no_provision"))
    return;
  if (g_strcmp0 (bgr_config_get_string (config, "sync_auth_files"), "false") != 0)
    sync_auth_files (name, conn, cancellable);
  /* The key is made here when missing (the default path only), so that a
   * plain `ssh root@NAME.vm` works from the first boot. */
  key = bgr_config_ensure_ssh_key (config, cancellable, &error);
  if (key != NULL)
    pub = g_strconcat (key, ".pub", NULL);
  if (key != NULL && !setup_ssh (doc, conn, pub, 22, FALSE, cancellable, &error))
    g_clear_pointer (&key, g_free);
  if (key == NULL)
    {
      g_autofree char *msg = bgr_log_msg (error->message);
      g_message ("VM %s: SSH not set up: %s", name, msg);
    }
}

char *
bgr_engine_vm_ssh_prepare (BgrEngine *engine, const char *name, guint port,
                           GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autofree char *key = NULL, *pub = NULL;

  if (port < 1 || port > 65535)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "port %u is not 1-65535", port);
      return NULL;
    }
  doc = bgr_vm_load_running (engine, name, error);
  if (doc == NULL || (conn = bgr_vm_agent_get (engine, doc, cancellable, error)) == NULL)
    return NULL;
  key = bgr_config_ensure_ssh_key (bgr_engine_get_config (engine), cancellable, error);
  if (key == NULL)
    return NULL;
  pub = g_strconcat (key, ".pub", NULL);
  if (!setup_ssh (doc, conn, pub, port, TRUE, cancellable, error))
    return NULL;
  return g_steal_pointer (&key);
}
