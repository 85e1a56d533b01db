/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Workspace export (docs/workspaces.md): the guest's commits since the
 * prepared one, plus its uncommitted and untracked work as one extra
 * commit, come back as a branch of the host repository. The guest's git
 * makes the extra commit (from a scratch index: the guest's own index and
 * branch are not moved) and a packfile of what the host lacks; libgit2
 * indexes the pack on the host and creates the branch. */
#include "config.h"

#include <string.h>

#include "bgr-error-private.h"
#include "bgr-operation-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-transfer-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "engine/bgr-engine-workspace-private.h"
#include "git/bgr-git-private.h"

/* $1 workspace, $2 the prepared commit, $3 the VM. Prints "tip OID",
 * "commits N" (since $2) and "uncommitted 0|1". */
static const char plan_script[] =
  "cd \"$1\" 2>/dev/null || { echo \"no workspace at $1\" >&2; exit 2; }\n"
  "command -v git >/dev/null 2>&1 || { echo 'the guest has no git: cannot export' >&2; exit 127; }\n"
  "git cat-file -e \"$2^{commit}\" 2>/dev/null || { echo \"commit $2 is not in the guest's "
  "repository\" >&2; exit 2; }\n"
  "head=$(git rev-parse HEAD) || exit 1\n"
  "d=$(git rev-parse --git-dir) || exit 1\n"
  "i=\"$d/banger-export-index.$$\"\n"
  "cp \"$d/index\" \"$i\" 2>/dev/null\n"
  "GIT_INDEX_FILE=\"$i\" git add -A >/dev/null || { rm -f \"$i\"; exit 1; }\n"
  "tree=$(GIT_INDEX_FILE=\"$i\" git write-tree); r=$?; rm -f \"$i\"; [ $r = 0 ] || exit 1\n"
  "tip=$head; u=0\n"
  "if [ \"$tree\" != \"$(git rev-parse \"$head^{tree}\")\" ]; then\n"
  "  n=$(git config user.name || echo banger); e=$(git config user.email || echo banger@localhost)\n"
  "  tip=$(GIT_AUTHOR_NAME=\"$n\" GIT_AUTHOR_EMAIL=\"$e\" GIT_COMMITTER_NAME=\"$n\" "
  "GIT_COMMITTER_EMAIL=\"$e\" git commit-tree \"$tree\" -p \"$head\" -m \"Uncommitted work from "
  "VM $3\") || exit 1\n"
  "  u=1\n"
  "fi\n"
  "echo \"tip $tip\"\n"
  "echo \"commits $(git rev-list --count \"$2..$tip\")\"\n"
  "echo \"uncommitted $u\"\n";

/* $1 workspace, $2 the prepared commit, $3 the tip: a pack of what the
 * host lacks on stdout. */
static const char pack_script[] =
  "cd \"$1\" || exit 2\n"
  "printf '%s\\n^%s\\n' \"$3\" \"$2\" | exec git pack-objects --stdout --revs -q\n";

static const char *
line_value (const char *out, const char *key)
{
  g_autofree char *needle = g_strdup_printf ("%s ", key);
  const char *p = strstr (out, needle);
  return p != NULL ? p + strlen (needle) : NULL;
}

typedef struct {
  const char *repo;
  BgrOperation *op;
} Receive;

static void
receive_progress (guint64 done, gpointer data)
{
  Receive *r = data;
  bgr_operation_update (r->op, "receiving the guest's commits", NULL, done, 0);
}

static gboolean
receive_pack (int fd, gpointer data, GCancellable *cancellable, GError **error)
{
  Receive *r = data;
  return bgr_git_export_receive_pack (r->repo, fd, receive_progress, r, cancellable, error);
}

/* The guest's plan: tip, commits, uncommitted (in @ex). */
static gboolean
guest_plan (BgrAgentConn *conn, const char *name, const char *path, const char *base,
            JsonObject *ex, GCancellable *cancellable, GError **error)
{
  const char *argv[] = { "sh", "-c", plan_script, "sh", path, base, name, NULL };
  g_autofree char *out = NULL;
  const char *tip, *n, *u;
  gint status = -1;
  char hex[41];

  out = bgr_vm_guest_output (conn, argv, &status, cancellable, error);
  if (out == NULL)
    return FALSE;
  tip = line_value (out, "tip");
  n = line_value (out, "commits");
  u = line_value (out, "uncommitted");
  if (status != 0 || tip == NULL || n == NULL || u == NULL || strspn (tip, "0123456789abcdef") < 40)
    {
      g_set_error (error, BGR_ERROR, status == 127 ? BGR_ERROR_NOT_FOUND : BGR_ERROR_FAILED,
                   "the guest could not prepare the export (exit status %d)%s", status,
                   status == 127 ? ": it has no git" : "");
      return FALSE;
    }
  memcpy (hex, tip, 40);
  hex[40] = '\0';
  json_object_set_string_member (ex, "commit", hex);
  json_object_set_int_member (ex, "commits", g_ascii_strtoll (n, NULL, 10));
  json_object_set_boolean_member (ex, "uncommitted", u[0] == '1');
  return TRUE;
}

BgrWorkspace *
bgr_engine_vm_workspace_export (BgrEngine *engine, const char *name, const char *branch,
                                gboolean force, gboolean dry_run, BgrOperation *op,
                                GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrWorkspace) ws = bgr_engine_vm_workspace_get (engine, name, cancellable, error);
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (JsonObject) ex = json_object_new ();
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autofree char *default_branch = g_strdup_printf ("banger/%s", name);
  const char *repo, *base, *path;

  if (ws == NULL)
    return NULL;
  repo = bgr_workspace_get_repo (ws);
  base = bgr_workspace_get_commit (ws);
  path = bgr_workspace_get_guest_path (ws);
  if (branch == NULL || *branch == '\0')
    branch = default_branch;
  if (!bgr_git_export_check (repo, branch, force, error)
      || (doc = bgr_vm_load_running (engine, name, error)) == NULL
      || (conn = bgr_vm_agent_get (engine, doc, cancellable, error)) == NULL)
    return NULL;
  bgr_operation_update (op, "preparing the export in the guest", NULL, 0, 0);
  json_object_set_string_member (ex, "branch", branch);
  json_object_set_boolean_member (ex, "dry_run", dry_run);
  if (!guest_plan (conn, name, path, base, ex, cancellable, error))
    return NULL;
  if (!dry_run)
    {
      const char *tip = bgr_record_str (ex, "commit");
      const char *argv[] = { "sh", "-c", pack_script, "sh", path, base, tip, NULL };
      Receive r = { repo, op };
      if (!bgr_vm_guest_pipe (conn, "sending the guest's commits", argv, NULL, receive_pack, &r,
                              cancellable, error)
          || !bgr_git_export_branch (repo, branch, tip, force, error))
        return NULL;
      json_object_set_int_member (ex, "exported", bgr_vm_now_s ());
    }
  {
    g_autoptr (JsonObject) fresh = bgr_vm_record_load (engine, name, error);
    JsonObject *stored;
    if (fresh == NULL || !json_object_has_member (fresh, "workspace"))
      return NULL;
    stored = json_object_get_object_member (fresh, "workspace");
    json_object_set_object_member (stored, "export", json_object_ref (ex));
    return bgr_vm_workspace_store (engine, name, stored, error);
  }
}
