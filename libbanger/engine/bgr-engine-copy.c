/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vm cp (docs/workspaces.md): a host file or tree into a running VM, or a
 * guest one out, as a tar stream through the agent (the guest's own tar on
 * its side, libarchive on the host's). Like `cp -a`: modes, symlinks and
 * times are kept; an existing directory as the target receives the copy
 * under the source's name, anything else at the target is replaced. Both
 * sides stage the copy beside the target and rename it into place. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "bgr-operation-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-transfer-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "engine/bgr-engine-workspace-private.h"
#include "git/bgr-git-private.h"

/* $1: target as given, $2: the source's name. stdin: a tar whose top is "x". */
static const char to_vm_script[] =
  "umask 022\n" BGR_GUEST_UNTAR_FN
  "command -v tar >/dev/null 2>&1 || { echo 'the guest has no tar command (banger needs it to "
  "copy files)' >&2; exit 127; }\n"
  "t=\"$1\"; if [ -d \"$t\" ] && [ ! -L \"$t\" ]; then t=\"$t/$2\"; fi\n"
  "p=\"${t%/*}\"; [ -n \"$p\" ] || p=/\n"
  "[ -d \"$p\" ] || { echo \"no directory $p in the guest\" >&2; exit 2; }\n"
  "s=\"$p/.banger-cp-$$\"; rm -rf \"$s\"; mkdir -m 700 \"$s\" || exit 1\n"
  "if ! bgr_untar \"$s\"; then rm -rf \"$s\"; exit 1; fi\n"
  "rm -rf \"$t\" && mv \"$s/x\" \"$t\"; r=$?; rm -rf \"$s\"; exit $r\n";

/* $1: the guest path: a tar of it (its top is its own name) on stdout. */
static const char from_vm_script[] =
  "command -v tar >/dev/null 2>&1 || { echo 'the guest has no tar command (banger needs it to "
  "copy files)' >&2; exit 127; }\n"
  "[ -e \"$1\" ] || [ -L \"$1\" ] || { echo \"$1: no such file or directory in the guest\" >&2; exit 2; }\n"
  "d=\"${1%/*}\"; [ -n \"$d\" ] || d=/\n"
  "exec tar -c -f - -C \"$d\" \"${1##*/}\"\n";

typedef struct {
  const char *host;
  const char *dest; /* host staging dir (from VM) */
  BgrOperation *op;
  guint64 total;
} Copy;

static void
copy_progress (guint64 done, gpointer data)
{
  Copy *c = data;
  bgr_operation_update (c->op, "copying", NULL, done, c->total);
}

static gboolean
write_host (int fd, gpointer data, GCancellable *cancellable, GError **error)
{
  Copy *c = data;
  return bgr_tar_write_path (c->host, "x", fd, copy_progress, c, cancellable, error);
}

static gboolean
read_guest (int fd, gpointer data, GCancellable *cancellable, GError **error)
{
  Copy *c = data;
  return bgr_tar_extract (fd, c->dest, copy_progress, c, cancellable, error);
}

/* The host target: into an existing directory under the guest name, else
 * the path itself. */
static char *
host_target (const char *host_path, const char *guest_path)
{
  g_autofree char *base = g_path_get_basename (guest_path);
  if (g_file_test (host_path, G_FILE_TEST_IS_DIR) && !g_file_test (host_path, G_FILE_TEST_IS_SYMLINK))
    return g_build_filename (host_path, base, NULL);
  return g_strdup (host_path);
}

static gboolean
copy_from_vm (BgrAgentConn *conn, const char *host_path, const char *guest_path, BgrOperation *op,
              GCancellable *cancellable, GError **error)
{
  g_autofree char *target = host_target (host_path, guest_path);
  g_autofree char *parent = g_path_get_dirname (target);
  g_autofree char *stage = g_strdup_printf ("%s/.banger-cp-XXXXXX", parent);
  g_autofree char *got = NULL;
  const char *argv[] = { "sh", "-c", from_vm_script, "sh", guest_path, NULL };
  Copy c = { NULL, stage, op, 0 };
  gboolean ok;

  if (g_mkdtemp (stage) == NULL)
    {
      bgr_set_error_errno (error, errno, "cannot write in %s", parent);
      return FALSE;
    }
  ok = bgr_vm_guest_pipe (conn, "reading from the guest", argv, NULL, read_guest, &c,
                          cancellable, error);
  {
    g_autofree char *base = g_path_get_basename (guest_path);
    got = g_build_filename (stage, base, NULL);
  }
  if (ok && (bgr_rm_rf (target, error) == FALSE || rename (got, target) != 0))
    {
      if (error != NULL && *error == NULL)
        bgr_set_error_errno (error, errno, "cannot put the copy at %s", target);
      ok = FALSE;
    }
  bgr_rm_rf (stage, NULL);
  return ok;
}

gboolean
bgr_engine_vm_copy (BgrEngine *engine, const char *name, BgrCopyDirection direction,
                    const char *host_path, const char *guest_path, BgrOperation *op,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  struct stat st;

  if (host_path == NULL || !g_path_is_absolute (host_path))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "the host path must be absolute (got '%s')", host_path != NULL ? host_path : "");
      return FALSE;
    }
  if (!bgr_guest_path_check ("guest path", guest_path, NULL, error))
    return FALSE;
  if (direction == BGR_COPY_TO_VM && lstat (host_path, &st) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot read %s", host_path);
      return FALSE;
    }
  if ((doc = bgr_vm_load_running (engine, name, error)) == NULL
      || (conn = bgr_vm_agent_get (engine, doc, cancellable, error)) == NULL)
    return FALSE;
  bgr_vm_record_touch (engine, name);
  if (direction == BGR_COPY_FROM_VM)
    return copy_from_vm (conn, host_path, guest_path, op, cancellable, error);
  {
    g_autofree char *base = g_path_get_basename (host_path);
    const char *argv[] = { "sh", "-c", to_vm_script, "sh", guest_path, base, NULL };
    Copy c = { host_path, NULL, op, bgr_tar_measure_path (host_path) };
    return bgr_vm_guest_pipe (conn, "copying into the guest", argv, write_host, NULL, &c,
                              cancellable, error);
  }
}
