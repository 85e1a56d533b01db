/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vm run, vm workspace prepare|show|bootstrap, vm cp (docs/workspaces.md). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "banger-cli.h"

static char *opt_guest_path, *opt_mode, *opt_branch, *opt_from, *opt_name, *opt_image,
  *opt_work_size, *opt_network;
static gboolean opt_readonly, opt_force, opt_dry_run;

const GOptionEntry banger_vm_workspace_export_options[] = {
  { "branch", 0, 0, G_OPTION_ARG_STRING, &opt_branch,
    "The host branch to create (default: banger/VM)", "NAME" },
  { "force", 'f', 0, G_OPTION_ARG_NONE, &opt_force,
    "Move the branch if it exists (never the checked-out one)", NULL },
  { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &opt_dry_run,
    "Say what would be exported; change nothing on the host", NULL },
  G_OPTION_ENTRY_NULL
};

const GOptionEntry banger_vm_workspace_prepare_options[] = {
  { "guest-path", 0, 0, G_OPTION_ARG_STRING, &opt_guest_path,
    "Where the checkout goes in the guest, under /root (default: /root/repo)", "PATH" },
  { "mode", 0, 0, G_OPTION_ARG_STRING, &opt_mode,
    "metadata (default: a shallow .git of HEAD plus the working files) or full_copy (the "
    "whole repository, submodules included)", "MODE" },
  { "readonly", 0, 0, G_OPTION_ARG_NONE, &opt_readonly, "Make the guest copy read-only", NULL },
  { "branch", 0, 0, G_OPTION_ARG_STRING, &opt_branch,
    "Create and check out this new branch in the guest", "NAME" },
  { "from", 0, 0, G_OPTION_ARG_STRING, &opt_from,
    "Send this revision's tree instead of the working files", "REV" },
  G_OPTION_ENTRY_NULL
};

const GOptionEntry banger_vm_run_options[] = {
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name,
    "The VM's name (default: the repository's directory name and a random suffix)", "NAME" },
  { "image", 0, 0, G_OPTION_ARG_STRING, &opt_image,
    "The image to boot (default: the default_image_name setting)", "IMAGE" },
  { "branch", 0, 0, G_OPTION_ARG_STRING, &opt_branch,
    "Create and check out this new branch in the guest", "NAME" },
  { "from", 0, 0, G_OPTION_ARG_STRING, &opt_from,
    "Send this revision's tree instead of the working files", "REV" },
  { "mode", 0, 0, G_OPTION_ARG_STRING, &opt_mode, "metadata (default) or full_copy", "MODE" },
  { "work-size", 0, 0, G_OPTION_ARG_STRING, &opt_work_size,
    "Size of the work disk mounted at /root (default: 8G)", "SIZE" },
  { "network", 0, 0, G_OPTION_ARG_STRING, &opt_network,
    "bridge (default) or none: no network device (vm ssh and vm acp still work)", "MODE" },
  G_OPTION_ENTRY_NULL
};

/* REPO as given, or the working directory: absolute either way. */
static char *
repo_arg (const char *given)
{
  g_autofree char *cwd = g_get_current_dir ();
  if (given == NULL)
    return g_steal_pointer (&cwd);
  return g_canonicalize_filename (given, cwd);
}

static BgrWorkspaceSpec *
workspace_spec (const char *repo)
{
  g_autofree char *path = repo_arg (repo);
  BgrWorkspaceSpec *spec = bgr_workspace_spec_new (path);

  bgr_workspace_spec_set_guest_path (spec, opt_guest_path);
  bgr_workspace_spec_set_mode (spec, opt_mode);
  bgr_workspace_spec_set_branch (spec, opt_branch);
  bgr_workspace_spec_set_from (spec, opt_from);
  if (opt_readonly)
    bgr_workspace_spec_set_readonly (spec, TRUE);
  return spec;
}

static void
print_workspace (BgrWorkspace *ws)
{
  const char *v;
  gint changed = bgr_workspace_get_changed (ws);

  g_print ("vm:          %s\n", banger_shown (bgr_workspace_get_vm_name (ws)));
  g_print ("repository:  %s\n", banger_shown (bgr_workspace_get_repo (ws)));
  g_print ("commit:      %s\n", banger_shown (bgr_workspace_get_commit (ws)));
  g_print ("branch:      %s\n", (v = bgr_workspace_get_branch (ws)) != NULL ? banger_shown (v) : "(detached)");
  g_print ("mode:        %s%s\n", banger_shown (bgr_workspace_get_mode (ws)),
           bgr_workspace_get_readonly (ws) ? ", read-only" : "");
  g_print ("guest path:  %s\n", banger_shown (bgr_workspace_get_guest_path (ws)));
  g_print ("sent:        %" G_GINT64_FORMAT " entries, %" G_GINT64_FORMAT " bytes\n",
           bgr_workspace_get_files (ws), bgr_workspace_get_bytes (ws));
  g_print ("changed:     %s\n", changed < 0 ? "unknown (VM not running, or no git in the guest)"
                                : changed ? "yes, the guest copy changed since it was prepared" : "no");
  if ((v = bgr_workspace_get_bootstrap (ws)) != NULL)
    g_print ("bootstrap:   %s\n", banger_shown (v));
}

static void
print_workspace_json (BgrWorkspace *ws)
{
  g_autofree char *json = bgr_workspace_to_json (ws);
  banger_print_json (json);
}

gboolean
banger_cmd_vm_workspace_prepare (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrWorkspaceSpec) spec = workspace_spec (inv->args[1]);
  g_autoptr (BgrWorkspace) ws = NULL;
  gboolean tty = isatty (STDERR_FILENO) && !inv->json;
  BangerProgress *p;

  if (client == NULL)
    return FALSE;
  p = banger_progress_new (BANGER_PROGRESS_BYTES, inv->args[0], tty);
  ws = bgr_client_vm_workspace_prepare (client, inv->args[0], spec, banger_progress_get_operation (p),
                                        NULL, error);
  banger_progress_end (p, ws != NULL);
  if (ws == NULL)
    return FALSE;
  if (inv->json)
    print_workspace_json (ws);
  else
    print_workspace (ws);
  return TRUE;
}

gboolean
banger_cmd_vm_workspace_show (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrWorkspace) ws = NULL;

  if (client == NULL || (ws = bgr_client_vm_workspace_get (client, inv->args[0], NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    print_workspace_json (ws);
  else
    print_workspace (ws);
  return TRUE;
}

gboolean
banger_cmd_vm_workspace_bootstrap (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autofree char *line = NULL;

  if (client == NULL || (line = bgr_client_vm_workspace_bootstrap (client, inv->args[0], NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "bootstrap");
      json_builder_add_string_value (b, line);
      json_builder_end_object (b);
      banger_print_json_builder (b);
    }
  else
    g_print ("%s\n", banger_shown (line));
  return TRUE;
}

/* "myrepo-a1b2c3": the directory's name as a DNS label. */
static char *
run_name (const char *repo)
{
  g_autofree char *base = g_path_get_basename (repo);
  GString *s = g_string_new (NULL);

  for (const char *p = base; *p != '\0' && s->len < 40; p++)
    if (g_ascii_isalnum (*p))
      g_string_append_c (s, g_ascii_tolower (*p));
    else if (s->len > 0 && s->str[s->len - 1] != '-')
      g_string_append_c (s, '-');
  while (s->len > 0 && s->str[s->len - 1] == '-')
    g_string_truncate (s, s->len - 1);
  if (s->len == 0)
    g_string_append (s, "vm");
  g_string_append_printf (s, "-%06x", g_random_int () & 0xffffff);
  return g_string_free (s, FALSE);
}

static void
print_next_steps (BgrWorkspace *ws)
{
  const char *name = banger_shown (bgr_workspace_get_vm_name (ws));
  const char *path = banger_shown (bgr_workspace_get_guest_path (ws));

  g_print ("VM '%s' is running with %s at %s (commit %.12s%s%s)\n", name,
           banger_shown (bgr_workspace_get_repo (ws)), path,
           banger_shown (bgr_workspace_get_commit (ws)),
           bgr_workspace_get_branch (ws) != NULL ? ", branch " : "",
           bgr_workspace_get_branch (ws) != NULL ? banger_shown (bgr_workspace_get_branch (ws)) : "");
  if (bgr_workspace_get_bootstrap (ws) != NULL)
    g_print ("bootstrap: %s\n", banger_shown (bgr_workspace_get_bootstrap (ws)));
  g_print ("\nNext:\n"
           "  banger vm ssh %s\n"
           "  banger vm acp %s\n"
           "  banger vm session start %s --name opencode --cwd %s --require-command opencode"
           " -- opencode serve --hostname 0.0.0.0 --port 4096\n"
           "  opencode attach http://%s.vm:4096 --dir %s\n"
           "  banger vm exec %s -- sh -c 'cd %s && git status'\n"
           "  banger vm workspace export %s    # bring the guest's work back as a branch\n",
           name, name, name, path, name, path, name, path, name);
}

gboolean
banger_cmd_vm_run (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrWorkspaceSpec) spec = workspace_spec (inv->args[0]);
  g_autofree char *name = opt_name != NULL ? g_strdup (opt_name)
                                           : run_name (bgr_workspace_spec_get_repo (spec));
  g_autoptr (BgrVmSpec) vm_spec = bgr_vm_spec_new (name);
  g_autoptr (BgrWorkspace) ws = NULL;
  gboolean tty = isatty (STDERR_FILENO) && !inv->json;
  guint64 work = 0;
  BangerProgress *p;

  if (opt_work_size != NULL && !banger_parse_size ("--work-size", opt_work_size, 1, &work, error))
    return FALSE;
  if ((client = banger_invocation_get_client (inv, error)) == NULL)
    return FALSE;
  if (opt_image != NULL)
    bgr_vm_spec_set_image (vm_spec, opt_image);
  if (work > 0)
    bgr_vm_spec_set_work_size (vm_spec, work);
  bgr_vm_spec_set_network (vm_spec, opt_network);
  p = banger_progress_new (BANGER_PROGRESS_STEPS, name, tty);
  ws = bgr_client_vm_run (client, vm_spec, spec, banger_progress_get_operation (p), NULL, error);
  banger_progress_end (p, ws != NULL);
  if (ws == NULL)
    return FALSE;
  if (inv->json)
    print_workspace_json (ws);
  else
    print_next_steps (ws);
  return TRUE;
}

/* "VM:PATH" -> VM and PATH; NULL when @arg is a host path. */
static char *
split_vm (const char *arg, const char **path)
{
  const char *colon = strchr (arg, ':');
  const char *slash = strchr (arg, '/');
  if (colon == NULL || colon == arg || (slash != NULL && slash < colon))
    return NULL;
  *path = colon + 1;
  return g_strndup (arg, (gsize) (colon - arg));
}

gboolean
banger_cmd_vm_cp (BangerInvocation *inv, int *exit_status, GError **error)
{
  const char *src_path = NULL, *dst_path = NULL;
  g_autofree char *src_vm = split_vm (inv->args[0], &src_path);
  g_autofree char *dst_vm = split_vm (inv->args[1], &dst_path);
  g_autoptr (BgrClient) client = NULL;
  g_autofree char *host = NULL;
  gboolean tty = isatty (STDERR_FILENO) && !inv->json;
  BangerProgress *p;
  gboolean ok;

  if ((src_vm == NULL) == (dst_vm == NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "give exactly one side as VM:PATH (banger vm cp HOST_PATH VM:GUEST_PATH, or "
                   "VM:GUEST_PATH HOST_PATH)");
      return FALSE;
    }
  host = repo_arg (src_vm != NULL ? inv->args[1] : inv->args[0]);
  if ((client = banger_invocation_get_client (inv, error)) == NULL)
    return FALSE;
  p = banger_progress_new (BANGER_PROGRESS_BYTES, src_vm != NULL ? src_vm : dst_vm, tty);
  ok = bgr_client_vm_copy (client, src_vm != NULL ? src_vm : dst_vm,
                           src_vm != NULL ? BGR_COPY_FROM_VM : BGR_COPY_TO_VM, host,
                           src_vm != NULL ? src_path : dst_path, banger_progress_get_operation (p),
                           NULL, error);
  banger_progress_end (p, ok);
  if (ok && inv->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "copied");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_end_object (b);
      banger_print_json_builder (b);
    }
  return ok;
}

gboolean
banger_cmd_vm_workspace_export (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrWorkspace) ws = NULL;
  g_autofree char *json = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *ex;
  BgrWorkspaceExportFlags flags = (opt_force ? BGR_WORKSPACE_EXPORT_FLAGS_FORCE : 0)
                                  | (opt_dry_run ? BGR_WORKSPACE_EXPORT_FLAGS_DRY_RUN : 0);

  if (client == NULL
      || (ws = bgr_client_vm_workspace_export (client, inv->args[0], opt_branch, flags, NULL, NULL,
                                               error)) == NULL)
    return FALSE;
  json = bgr_workspace_to_json (ws);
  if (inv->json)
    {
      banger_print_json (json);
      return TRUE;
    }
  node = json_from_string (json, NULL);
  ex = node != NULL && JSON_NODE_HOLDS_OBJECT (node)
           && json_object_has_member (json_node_get_object (node), "export")
         ? json_object_get_object_member (json_node_get_object (node), "export") : NULL;
  if (ex == NULL)
    return TRUE;
  g_print ("%s %" G_GINT64_FORMAT " commit(s)%s to branch %s of %s (tip %.12s)\n",
           json_object_get_boolean_member_with_default (ex, "dry_run", FALSE) ? "would export" : "exported",
           json_object_get_int_member_with_default (ex, "commits", 0),
           json_object_get_boolean_member_with_default (ex, "uncommitted", FALSE)
             ? ", the last one holding the uncommitted work," : "",
           banger_shown (json_object_get_string_member_with_default (ex, "branch", "")),
           banger_shown (bgr_workspace_get_repo (ws)),
           banger_shown (json_object_get_string_member_with_default (ex, "commit", "")));
  return TRUE;
}
