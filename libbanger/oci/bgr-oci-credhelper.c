/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Docker credential helpers: the `credsStore` and `credHelpers` entries of
 * an auth file name a program, docker-credential-NAME, which keeps the
 * secrets (in a keychain, a cloud's token service...). As docker does, it
 * is run as `docker-credential-NAME get` with the registry's server URL on
 * its stdin, and answers {"ServerURL", "Username", "Secret"} as JSON on
 * stdout; "credentials not found" on stdout with a failing exit means it
 * has none for that registry. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-escape-private.h"
#include "oci/bgr-oci-private.h"

#define NOT_FOUND_TEXT "credentials not found"
#define HELPER_OUTPUT_MAX 200

/* How long a helper may take to answer before it is killed. */
static guint helper_timeout_ms = BGR_OCI_CREDHELPER_TIMEOUT_MS;

void
bgr_oci_credhelper_set_timeout (guint ms)
{
  helper_timeout_ms = ms > 0 ? ms : BGR_OCI_CREDHELPER_TIMEOUT_MS;
}

static gboolean
helper_name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("-_.", *p) == NULL)
      return FALSE;
  return TRUE;
}

/* The helper an auth file's JSON names for @registry: credHelpers keyed by
 * the registry's host (Docker Hub's names are one registry), else
 * credsStore. *helper is NULL when there is none. */
gboolean
bgr_oci_auth_find_helper (JsonObject *root, const char *source, const char *registry,
                          char **helper, GError **error)
{
  JsonNode *node = json_object_get_member (root, "credHelpers");
  const char *name = NULL, *key = NULL;

  *helper = NULL;
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *helpers = json_node_get_object (node);
      g_autoptr (GList) keys = json_object_get_members (helpers);

      for (GList *l = keys; l != NULL && name == NULL; l = l->next)
        if (bgr_oci_auth_key_matches_host (l->data, registry))
          {
            JsonNode *v = json_object_get_member (helpers, l->data);
            key = l->data;
            name = JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_STRING
                     ? json_node_get_string (v) : "";
          }
    }
  else if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "%s: 'credHelpers' must be an object", source);
      return FALSE;
    }
  if (name == NULL)
    {
      node = json_object_get_member (root, "credsStore");
      if (node == NULL || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
      name = JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
               ? json_node_get_string (node) : "";
      if (*name == '\0')
        return TRUE; /* docker writes "" for "no store" */
    }
  if (!helper_name_is_valid (name))
    {
      g_autofree char *shown = bgr_escape (name, 64, BGR_ESCAPE_DEFAULT);
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "%s: %s%s%s names an invalid credential helper \"%s\" (letters, digits, "
                   "'-', '_' and '.' only)", source, key != NULL ? "credHelpers.\"" : "credsStore",
                   key != NULL ? key : "", key != NULL ? "\"" : "", shown);
      return FALSE;
    }
  *helper = g_strdup (name);
  return TRUE;
}

/* What docker hands a helper: Docker Hub's historical URL, else the
 * registry's host[:port]. */
static const char *
server_url (const char *registry)
{
  if (bgr_oci_auth_key_matches_host ("docker.io", registry))
    return "https://index.docker.io/v1/";
  return registry;
}

/* Runs `@program get` with @input on its stdin. The input goes through a
 * socket, not a pipe: a helper that exits without reading it must not
 * kill this process with SIGPIPE (the CLI does not ignore it). */
static GSubprocess *
spawn_with_input (const char *program, const char *input, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  GSubprocess *proc;
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "socketpair: %s",
                   g_strerror (errno));
      return NULL;
    }
  g_subprocess_launcher_take_stdin_fd (launcher, sv[1]);
  proc = g_subprocess_launcher_spawn (launcher, error, program, "get", NULL);
  if (proc != NULL)
    {
      /* What it does not read is its business. */
      if (send (sv[0], input, strlen (input), MSG_NOSIGNAL) < 0)
        g_debug ("%s did not take its input: %s", program, g_strerror (errno));
    }
  close (sv[0]);
  return proc;
}

typedef struct {
  gboolean done, timed_out;
  char *out, *err;
  GError *error;
} Answer;

static void
on_answered (GObject *source, GAsyncResult *res, gpointer data)
{
  Answer *a = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), res, &a->out, &a->err, &a->error);
  a->done = TRUE;
}

static gboolean
on_helper_timeout (gpointer data)
{
  ((Answer *) data)->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Its output and exit, or a timeout: then it is killed (a helper that
 * waits for a keychain to unlock must not hang a pull or the daemon). */
static void
wait_for_answer (GSubprocess *proc, Answer *a)
{
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  GSource *timer = g_timeout_source_new (helper_timeout_ms);

  g_main_context_push_thread_default (ctx);
  g_source_set_callback (timer, on_helper_timeout, a, NULL);
  g_source_attach (timer, ctx);
  g_subprocess_communicate_utf8_async (proc, NULL, cancel, on_answered, a);
  while (!a->done && !a->timed_out)
    g_main_context_iteration (ctx, TRUE);
  if (!a->done)
    {
      g_subprocess_force_exit (proc);
      g_cancellable_cancel (cancel);
      while (!a->done)
        g_main_context_iteration (ctx, TRUE);
    }
  g_source_destroy (timer);
  g_source_unref (timer);
  g_main_context_pop_thread_default (ctx);
}

gboolean
bgr_oci_credhelper_get (const char *helper, const char *registry, const char *source,
                        char **user, char **password, GError **error)
{
  g_autofree char *program_name = g_strconcat ("docker-credential-", helper, NULL);
  g_autofree char *program = g_find_program_in_path (program_name);
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *out = NULL, *err = NULL, *shown = NULL;
  g_autoptr (GError) local = NULL;
  Answer answer = { 0 };
  JsonNode *root;
  JsonObject *obj;
  const char *u, *s;

  *user = NULL;
  *password = NULL;
  if (program == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "%s: credential helper %s (for %s) is not in PATH", source, program_name,
                   registry);
      return FALSE;
    }
  proc = spawn_with_input (program, server_url (registry), &local);
  if (proc == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "%s: cannot run %s: %s", source, program,
                   local->message);
      return FALSE;
    }
  wait_for_answer (proc, &answer);
  out = answer.out;
  err = answer.err;
  local = answer.error;
  if (answer.timed_out)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                   "%s: credential helper %s did not answer for %s within %u s, and was stopped",
                   source, program_name, registry, (helper_timeout_ms + 999) / 1000);
      return FALSE;
    }
  if (local != NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "%s: cannot run %s: %s", source, program,
                   local->message);
      return FALSE;
    }
  if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0)
    {
      /* What it says about a registry it knows nothing of. */
      if (out != NULL && strstr (out, NOT_FOUND_TEXT) != NULL)
        return TRUE;
      shown = bgr_escape (out != NULL && *g_strstrip (out) != '\0' ? out : g_strstrip (err),
                          HELPER_OUTPUT_MAX, BGR_ESCAPE_DEFAULT);
      g_set_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED,
                   "%s: credential helper %s failed for %s: %s", source, program_name, registry,
                   shown);
      return FALSE;
    }
  if (out == NULL || !json_parser_load_from_data (parser, out, -1, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s: credential helper %s answered something else than a JSON object",
                   source, program_name);
      return FALSE;
    }
  obj = json_node_get_object (root);
  u = json_object_get_string_member_with_default (obj, "Username", "");
  s = json_object_get_string_member_with_default (obj, "Secret", "");
  if (*s == '\0')
    return TRUE;
  if (g_str_equal (u, "<token>"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s: credential helper %s gave an identity token for %s, which banger cannot "
                   "use (log in with a user name and password or token)", source, program_name,
                   registry);
      return FALSE;
    }
  *user = g_strdup (u);
  *password = g_strdup (s);
  return TRUE;
}
