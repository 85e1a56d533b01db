/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Workspaces (docs/workspaces.md): a host git checkout put into a running
 * VM. The host side (git/) decides what goes and writes it as one tar
 * stream; the guest's own `tar -x` unpacks it into a staging directory
 * beside the target, which is renamed into place only once complete, so a
 * failed or cancelled prepare leaves no half-written tree. The VM record
 * keeps what was prepared ("workspace"). */
#include "config.h"

#include <string.h>

#include "bgr-error-private.h"
#include "bgr-operation-private.h"
#include "bgr-options-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-transfer-private.h"
#include "engine/bgr-engine-vm-record-private.h"
#include "engine/bgr-engine-workspace-private.h"
#include "git/bgr-git-private.h"

#define DEFAULT_GUEST_PATH "/root/repo"
#define BOOTSTRAP_LOG "/root/.cache/banger/bootstrap.log"

/* $1: the staging directory (made; its parent too). stdin: the tar, whose
 * entries are all root's. Unpacked as root with umask 0, files get their
 * owner and exact modes when they are made: GNU tar need not set either
 * again for each of thousands of files (two system calls each, dear in an
 * emulated guest). A pack recipe in it (bgr-git-recipe.c) becomes the
 * pack, made by the agent that runs this script (its parent). */
static const char extract_script[] =
  "umask 022\n" BGR_GUEST_UNTAR_FN
  "command -v tar >/dev/null 2>&1 || { echo 'the guest has no tar command (banger needs it to "
  "receive files)' >&2; exit 127; }\n"
  "mkdir -p \"${1%/*}\" && rm -rf \"$1\" && mkdir -m 700 \"$1\" && "
  "umask 0 && bgr_untar \"$1\" --no-same-owner --no-same-permissions || exit\n"
  "if [ -e \"$1/ws/.git/" BGR_GIT_RECIPE_NAME "\" ]; then\n"
  "  \"/proc/$PPID/exe\" --assemble-pack \"$1/ws/.git\"; fi\n";

/* $1: staging dir holding ws/, $2: target, $3: 1 = read-only with a
 * read-only bind mount, 2 = by modes only. */
static const char place_script[] =
  "set -e\n"
  "old=\n"
  "if [ -e \"$2\" ] || [ -L \"$2\" ]; then umount \"$2\" 2>/dev/null || true; old=\"$1.old\"; "
  "mv \"$2\" \"$old\"; fi\n"
  "mv \"$1/ws\" \"$2\"\n"
  "rm -rf \"$1\"\n"
  "if [ -n \"$old\" ]; then chmod -R u+w \"$old\" 2>/dev/null || true; rm -rf \"$old\"; fi\n"
  "if [ \"$3\" != 0 ]; then chmod -R a-w \"$2\"; fi\n"
  "if [ \"$3\" = 1 ]; then mount --bind \"$2\" \"$2\" && mount -o remount,bind,ro \"$2\" "
  "|| echo \"banger: could not bind-mount $2 read-only; it is read-only by its modes only\" >&2; fi\n";

/* $1: staging dir: removed (after a failure or a cancel). */
static const char cleanup_script[] = "chmod -R u+w \"$1\" 2>/dev/null; rm -rf \"$1\"\n";

/* $1: the workspace: its HEAD and the tree of everything in it that git
 * would commit (tracked and untracked files, ignored ones left out), made
 * with a scratch index: what "changed" compares. A file counts as
 * unchanged when its size and whole-second mtime are those the index
 * holds (core.checkStat=minimal, no ctime): the index came from the host
 * with the host's times, which the copy keeps, so a fresh copy is not
 * hashed again (under TCG that took as long as unpacking it). */
static const char state_script[] =
  "cd \"$1\" 2>/dev/null || exit 3\n"
  "command -v git >/dev/null 2>&1 || exit 4\n"
  "i=\"$(git rev-parse --git-dir 2>/dev/null)/banger-index.$$\" || exit 5\n"
  "cp \"$(git rev-parse --git-dir)/index\" \"$i\" 2>/dev/null\n"
  "g() { GIT_INDEX_FILE=\"$i\" git -c core.checkStat=minimal -c core.trustctime=false \"$@\"; }\n"
  "g add -A >/dev/null 2>&1 && g write-tree; r=$?\n"
  "rm -f \"$i\"\n"
  "[ $r = 0 ] && git rev-parse HEAD\n";

gboolean
bgr_vm_workspace_check_spec (BgrWorkspaceSpec *spec, BgrGitMode *mode, GError **error)
{
  const char *repo = bgr_workspace_spec_get_repo (spec);
  const char *m = bgr_workspace_spec_get_mode (spec);
  const char *guest = bgr_workspace_spec_get_guest_path (spec);

  if (repo == NULL || !g_path_is_absolute (repo))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option 'repo' must be an absolute path (got '%s')", repo != NULL ? repo : "");
      return FALSE;
    }
  if (m == NULL || strcmp (m, "metadata") == 0)
    *mode = BGR_GIT_MODE_METADATA;
  else if (strcmp (m, "full_copy") == 0)
    *mode = BGR_GIT_MODE_FULL_COPY;
  else
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "option 'mode': '%s' is not a mode (metadata or full_copy)", m);
      return FALSE;
    }
  return bgr_guest_path_check ("guest-path", guest != NULL ? guest : DEFAULT_GUEST_PATH, "/root",
                               error);
}

typedef struct {
  BgrGitPlan *plan;
  BgrOperation *op;
} Send;

static void
send_progress (guint64 done, gpointer data)
{
  Send *s = data;
  /* The plan's size grows or shrinks once its staged pack is written. */
  guint64 total = bgr_git_plan_get_bytes (s->plan);

  bgr_operation_update (s->op, "sending the workspace", NULL, done, MAX (done, total));
}

static gboolean
send_tar (int fd, gpointer data, GCancellable *cancellable, GError **error)
{
  Send *s = data;
  return bgr_git_plan_write_tar (s->plan, "ws", fd, send_progress, s, cancellable, error);
}

/* The digest of the guest's HEAD and status; NULL when it cannot tell. */
char *
bgr_vm_workspace_digest (BgrAgentConn *conn, const char *guest_path, GCancellable *cancellable)
{
  const char *argv[] = { "sh", "-c", state_script, "sh", guest_path, NULL };
  g_autofree char *out = NULL;
  gint status = -1;

  out = bgr_vm_guest_output (conn, argv, &status, cancellable, NULL);
  if (out == NULL || status != 0)
    return NULL;
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, out, -1);
}

static gboolean
transfer (BgrAgentConn *conn, BgrGitPlan *plan, const char *guest, int readonly_how,
          BgrOperation *op, GCancellable *cancellable, GError **error)
{
  g_autofree char *parent = g_path_get_dirname (guest);
  g_autofree char *stage = g_strdup_printf ("%s/.banger-stage-%08x", parent, g_random_int ());
  g_autofree char *ro = g_strdup_printf ("%d", readonly_how);
  const char *extract[] = { "sh", "-c", extract_script, "sh", stage, NULL };
  const char *place[] = { "sh", "-c", place_script, "sh", stage, guest, ro, NULL };
  const char *cleanup[] = { "sh", "-c", cleanup_script, "sh", stage, NULL };
  Send s = { plan, op };

  bgr_operation_update (op, "sending the workspace", NULL, 0, bgr_git_plan_get_bytes (plan));
  if (bgr_vm_guest_pipe (conn, "receiving the workspace", extract, send_tar, NULL, &s,
                         cancellable, error)
      && !g_cancellable_set_error_if_cancelled (cancellable, error)
      && bgr_vm_guest_pipe (conn, "putting the workspace in place", place, NULL, NULL, NULL,
                            NULL, error))
    return TRUE;
  /* Not with @cancellable: the cleanup must run after a cancel too. */
  bgr_vm_guest_pipe (conn, "cleaning up", cleanup, NULL, NULL, NULL, NULL, NULL);
  return FALSE;
}

JsonObject *
bgr_vm_workspace_doc (const char *name, BgrWorkspaceSpec *spec, BgrGitPlan *plan, const char *guest,
               const char *mode)
{
  JsonObject *ws = json_object_new ();

  /* Records carry a name on the wire: the VM's. */
  json_object_set_string_member (ws, "name", name);
  json_object_set_string_member (ws, "vm", name);
  json_object_set_string_member (ws, "repo", bgr_git_plan_get_workdir (plan));
  json_object_set_string_member (ws, "commit", bgr_git_plan_get_commit (plan));
  if (bgr_git_plan_get_branch (plan) != NULL)
    json_object_set_string_member (ws, "branch", bgr_git_plan_get_branch (plan));
  json_object_set_string_member (ws, "mode", mode);
  json_object_set_string_member (ws, "guest_path", guest);
  json_object_set_boolean_member (ws, "readonly", bgr_workspace_spec_get_readonly (spec));
  json_object_set_int_member (ws, "prepared", bgr_vm_now_s ());
  json_object_set_int_member (ws, "files", bgr_git_plan_get_entries (plan));
  json_object_set_int_member (ws, "bytes", (gint64) bgr_git_plan_get_bytes (plan));
  return ws;
}

/* Stores @ws as VM @name's workspace; returns its public view. */
BgrWorkspace *
bgr_vm_workspace_store (BgrEngine *engine, const char *name, JsonObject *ws, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_record_load (engine, name, error);
  g_autoptr (JsonObject) view = NULL;
  GList *members;

  if (doc == NULL)
    return NULL;
  json_object_set_object_member (doc, "workspace", json_object_ref (ws));
  if (!bgr_vm_record_save (engine, doc, error))
    return NULL;
  view = json_object_new ();
  members = json_object_get_members (ws);
  for (GList *l = members; l != NULL; l = l->next)
    if (strcmp (l->data, "guest_digest") != 0)
      json_object_set_member (view, l->data, json_node_copy (json_object_get_member (ws, l->data)));
  g_list_free (members);
  return bgr_workspace_new_from_json (view);
}

BgrWorkspace *
bgr_vm_workspace_prepare_plan (BgrEngine *engine, const char *name, BgrWorkspaceSpec *spec,
                               BgrGitPlan *plan, BgrOperation *op, GCancellable *cancellable,
                               GError **error)
{
  const char *guest = bgr_workspace_spec_get_guest_path (spec);
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autoptr (BgrGitPlan) own = NULL;
  g_autoptr (BgrVmClaim) claim = NULL;
  g_autoptr (JsonObject) ws = NULL;
  BgrGitMode mode;
  int readonly_how;

  if (guest == NULL)
    guest = DEFAULT_GUEST_PATH;
  if (!bgr_vm_workspace_check_spec (spec, &mode, error)
      || (doc = bgr_vm_load_running (engine, name, error)) == NULL
      || (claim = bgr_vm_claim (engine, name, "preparing a workspace", error)) == NULL)
    return NULL;
  if (plan == NULL)
    {
      /* An agent that can make the pack from the files it unpacked is
       * sent a recipe in place of the blobs it already gets. */
      BgrGitPackWay way = bgr_vm_agent_has_tool (doc, "assemble-pack") ? BGR_GIT_PACK_RECIPE
                                                                        : BGR_GIT_PACK_STAGED;
      bgr_operation_update (op, "reading the repository", NULL, 0, 0);
      plan = own = bgr_git_plan_new (bgr_workspace_spec_get_repo (spec), mode,
                                     bgr_workspace_spec_get_from (spec),
                                     bgr_workspace_spec_get_branch (spec), way, cancellable,
                                     error);
    }
  if (plan == NULL || (conn = bgr_vm_agent_get (engine, doc, cancellable, error)) == NULL)
    return NULL;
  /* The fake VMM's "guest" is this host: never bind-mount there. */
  readonly_how = !bgr_workspace_spec_get_readonly (spec) ? 0
                 : g_strcmp0 (bgr_record_str (doc, "hypervisor"), "fake") == 0 ? 2 : 1;
  if (!transfer (conn, plan, guest, readonly_how, op, cancellable, error))
    return NULL;
  bgr_vm_record_touch (engine, name);
  ws = bgr_vm_workspace_doc (name, spec, plan, guest,
                             mode == BGR_GIT_MODE_METADATA ? "metadata" : "full_copy");
  json_object_set_string_member (ws, "written_by", "agent");
  {
    g_autofree char *digest = bgr_vm_workspace_digest (conn, guest, NULL);
    if (digest != NULL)
      {
        json_object_set_string_member (ws, "guest_digest", digest);
        json_object_set_boolean_member (ws, "changed", FALSE);
      }
  }
  return bgr_vm_workspace_store (engine, name, ws, error);
}

BgrWorkspace *
bgr_engine_vm_workspace_prepare (BgrEngine *engine, const char *name, BgrWorkspaceSpec *spec,
                                 BgrOperation *op, GCancellable *cancellable, GError **error)
{
  return bgr_vm_workspace_prepare_plan (engine, name, spec, NULL, op, cancellable, error);
}

BgrWorkspace *
bgr_engine_vm_workspace_get (BgrEngine *engine, const char *name, GCancellable *cancellable,
                             GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_record_load (engine, name, error);
  g_autoptr (JsonObject) copy = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;

  if (doc == NULL)
    return NULL;
  if (!json_object_has_member (doc, "workspace")
      || !JSON_NODE_HOLDS_OBJECT (json_object_get_member (doc, "workspace")))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "VM '%s' has no workspace; make one with `banger vm workspace prepare %s`",
                   name, name);
      return NULL;
    }
  {
    JsonNode *n = json_node_copy (json_object_get_member (doc, "workspace"));
    copy = json_object_ref (json_node_get_object (n));
    json_node_unref (n);
  }
  /* A running VM with git answers whether its copy changed; else the last
   * answer stands. */
  bgr_vm_reconcile (engine, doc, FALSE);
  if (g_strcmp0 (bgr_record_str (doc, "state"), "running") == 0
      && bgr_record_str (copy, "guest_digest") != NULL
      && (conn = bgr_vm_agent_get (engine, doc, cancellable, NULL)) != NULL)
    {
      g_autofree char *now = bgr_vm_workspace_digest (conn, bgr_record_str (copy, "guest_path"),
                                                      cancellable);
      if (now != NULL)
        json_object_set_boolean_member (copy, "changed",
                                        g_strcmp0 (now, bgr_record_str (copy, "guest_digest")) != 0);
      return bgr_vm_workspace_store (engine, name, copy, error);
    }
  return bgr_vm_workspace_store (engine, name, copy, error);
}

/* $1: the workspace, $2: the log. Prints one line saying what it did. */
static const char bootstrap_script[] =
  "cd \"$1\" 2>/dev/null || { echo \"no workspace at $1: nothing to bootstrap\"; exit 0; }\n"
  "f=\n"
  "for c in mise.toml .mise.toml .tool-versions; do if [ -e \"$c\" ]; then f=$c; break; fi; done\n"
  "if [ -z \"$f\" ]; then echo \"no mise.toml, .mise.toml or .tool-versions in $1: nothing to "
  "install\"; exit 0; fi\n"
  "if ! command -v mise >/dev/null 2>&1; then echo \"the guest has no mise: the tools of $f "
  "were not installed\"; exit 0; fi\n"
  "mkdir -p \"${2%/*}\"\n"
  "MISE_YES=1 nohup sh -c 'mise trust \"$0\" || true; mise install' \"$f\" >\"$2\" 2>&1 "
  "</dev/null &\n"
  "echo \"mise install started in the background (from $f); log: $2\"\n";

char *
bgr_vm_workspace_bootstrap_at (BgrEngine *engine, const char *name, const char *guest_path,
                               GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { "sh", "-c", bootstrap_script, "sh", guest_path, BOOTSTRAP_LOG, NULL };
  gint status = -1;

  if ((doc = bgr_vm_load_running (engine, name, error)) == NULL
      || (conn = bgr_vm_agent_get (engine, doc, cancellable, error)) == NULL)
    return NULL;
  out = bgr_vm_guest_output (conn, argv, &status, cancellable, error);
  if (out == NULL)
    return NULL;
  g_strstrip (out);
  if (status != 0 || *out == '\0')
    {
      g_free (out);
      out = g_strdup_printf ("the bootstrap script could not run in the guest (exit status %d)", status);
    }
  {
    g_autoptr (JsonObject) fresh = bgr_vm_record_load (engine, name, NULL);
    if (fresh != NULL && json_object_has_member (fresh, "workspace"))
      {
        JsonObject *ws = json_object_get_object_member (fresh, "workspace");
        json_object_set_string_member (ws, "bootstrap", out);
        bgr_vm_record_save (engine, fresh, NULL);
      }
  }
  return g_steal_pointer (&out);
}

char *
bgr_engine_vm_workspace_bootstrap (BgrEngine *engine, const char *name, GCancellable *cancellable,
                                   GError **error)
{
  g_autoptr (BgrWorkspace) cur = bgr_engine_vm_workspace_get (engine, name, cancellable, error);

  if (cur == NULL)
    return NULL;
  return bgr_vm_workspace_bootstrap_at (engine, name, bgr_workspace_get_guest_path (cur),
                                        cancellable, error);
}
