/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web UI's JSON API (/api/v1): the same records as the CLI's --json
 * (the libbanger objects' to_json()), read and changed through the
 * daemon's engine in worker threads. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <string.h>

#include "bangerd-web.h"

/* ---- one call, one JSON answer ------------------------------------------- */

typedef enum {
  CALL_LIST_VMS, CALL_GET_VM, CALL_VM_STATS, CALL_VM_PORTS, CALL_VM_LOGS,
  CALL_STOP_VM, CALL_KILL_VM, CALL_DELETE_VM, CALL_LIST_IMAGES, CALL_GET_IMAGE,
  CALL_LIST_KERNELS, CALL_GET_KERNEL, CALL_LIST_CACHE,
} CallKind;

typedef struct {
  CallKind kind;
  char *name;
  gboolean force;
  guint64 max_bytes;
  char *json;    /* the answer... */
  GBytes *text;  /* ...or a text answer (logs) */
  GError *error; /* ...or the failure */
} Call;

static void
call_free (Call *c)
{
  g_free (c->name);
  g_free (c->json);
  g_clear_pointer (&c->text, g_bytes_unref);
  g_clear_error (&c->error);
  g_free (c);
}

typedef char *(*ToJson) (gpointer object);

static char *
list_json (GPtrArray *list, ToJson to_json)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < list->len; i++)
    {
      g_autofree char *one = to_json (list->pdata[i]);
      if (i > 0)
        g_string_append (s, ",\n");
      g_string_append (s, one);
    }
  g_string_append (s, "]");
  g_ptr_array_unref (list);
  return g_string_free (s, FALSE);
}

static char *
object_json (gpointer object, ToJson to_json)
{
  char *json;

  if (object == NULL)
    return NULL;
  json = to_json (object);
  g_object_unref (object);
  return json;
}

static void
call_work (BgrdWeb *web, gpointer data, GCancellable *cancellable)
{
  BgrClient *cl = web->d->client;
  Call *c = data;
  GError **e = &c->error;
  GPtrArray *list = NULL;
  ToJson to_json = NULL;

  switch (c->kind)
    {
    case CALL_LIST_VMS:
      list = bgr_client_vm_list (cl, cancellable, e), to_json = (ToJson) bgr_vm_to_json;
      break;
    case CALL_VM_PORTS:
      list = bgr_client_vm_ports (cl, c->name, cancellable, e);
      to_json = (ToJson) bgr_vm_port_to_json;
      break;
    case CALL_LIST_IMAGES:
      list = bgr_client_image_list (cl, cancellable, e), to_json = (ToJson) bgr_image_to_json;
      break;
    case CALL_LIST_KERNELS:
      list = bgr_client_kernel_list (cl, cancellable, e), to_json = (ToJson) bgr_kernel_to_json;
      break;
    case CALL_LIST_CACHE:
      list = bgr_client_image_cache_list (cl, cancellable, e);
      to_json = (ToJson) bgr_cache_blob_to_json;
      break;
    case CALL_GET_VM:
      c->json = object_json (bgr_client_vm_get (cl, c->name, cancellable, e),
                             (ToJson) bgr_vm_to_json);
      break;
    case CALL_VM_STATS:
      c->json = object_json (bgr_client_vm_stats (cl, c->name, cancellable, e),
                             (ToJson) bgr_vm_stats_to_json);
      break;
    case CALL_STOP_VM:
      c->json = object_json (bgr_client_vm_stop (cl, c->name, cancellable, e),
                             (ToJson) bgr_vm_to_json);
      break;
    case CALL_KILL_VM:
      c->json = object_json (bgr_client_vm_kill (cl, c->name, cancellable, e),
                             (ToJson) bgr_vm_to_json);
      break;
    case CALL_GET_IMAGE:
      c->json = object_json (bgr_client_image_get (cl, c->name, cancellable, e),
                             (ToJson) bgr_image_to_json);
      break;
    case CALL_GET_KERNEL:
      c->json = object_json (bgr_client_kernel_get (cl, c->name, cancellable, e),
                             (ToJson) bgr_kernel_to_json);
      break;
    case CALL_VM_LOGS:
      c->text = bgr_client_vm_logs (cl, c->name, c->max_bytes, cancellable, e);
      break;
    case CALL_DELETE_VM:
      if (bgr_client_vm_delete (cl, c->name,
                                c->force ? BGR_VM_DELETE_FLAGS_FORCE : BGR_VM_DELETE_FLAGS_NONE,
                                cancellable, e))
        c->json = g_strdup ("{\"deleted\": true}");
      break;
    }
  if (list != NULL)
    c->json = list_json (list, to_json);
}

static void
call_done (BgrdWeb *web, SoupServerMessage *msg, gpointer data)
{
  Call *c = data;

  if (c->error != NULL)
    bgrd_web_gerror (msg, c->error);
  else if (c->text != NULL)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY,
                                        g_bytes_get_data (c->text, NULL),
                                        g_bytes_get_size (c->text));
    }
  else
    bgrd_web_json (msg, SOUP_STATUS_OK, c->json != NULL ? c->json : "null");
}

static void
run_call (BgrdWeb *web, SoupServerMessage *msg, CallKind kind, const char *name)
{
  Call *c = g_new0 (Call, 1);

  c->kind = kind;
  c->name = g_strdup (name);
  if (kind == CALL_VM_LOGS || kind == CALL_DELETE_VM)
    {
      GUri *uri = soup_server_message_get_uri (msg);
      g_autoptr (GHashTable) q = g_uri_get_query (uri) != NULL
                                   ? soup_form_decode (g_uri_get_query (uri)) : NULL;
      const char *max = q != NULL ? g_hash_table_lookup (q, "max_bytes") : NULL;
      const char *force = q != NULL ? g_hash_table_lookup (q, "force") : NULL;

      c->max_bytes = 64 * 1024;
      if (max != NULL && !g_ascii_string_to_unsigned (max, 10, 1, 16 * 1024 * 1024,
                                                      &c->max_bytes, NULL))
        {
          call_free (c);
          bgrd_web_error (msg, SOUP_STATUS_BAD_REQUEST, "InvalidArgument",
                          "max_bytes must be a number from 1 to 16777216");
          return;
        }
      c->force = g_strcmp0 (force, "true") == 0;
    }
  bgrd_web_run (web, msg, call_work, call_done, c, (GDestroyNotify) call_free);
}

/* ---- routing ---------------------------------------------------------------- */

static void
session (BgrdWeb *web, SoupServerMessage *msg)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "csrf_token");
  json_builder_add_string_value (b, web->csrf);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, bgr_get_version_string ());
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, web->url);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, TRUE);
  bgrd_web_json (msg, SOUP_STATUS_OK, text);
}

static void
not_found (SoupServerMessage *msg)
{
  bgrd_web_error (msg, SOUP_STATUS_NOT_FOUND, "NotFound", "no such API route (see docs/web.md)");
}

static void
bad_method (SoupServerMessage *msg, const char *allowed)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allowed);
  bgrd_web_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "MethodNotAllowed",
                  "this route does not take this method");
}

static void
create_vm (BgrdWeb *web, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BgrVmSpec) spec = bgrd_web_vm_spec_from_body (msg, &error);

  if (spec == NULL)
    {
      bgrd_web_gerror (msg, error);
      return;
    }
  bgrd_web_ops_create_vm (web, msg, spec);
}

static void
pull_image (BgrdWeb *web, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *reference = NULL;
  g_autoptr (BgrPullOptions) options = bgrd_web_pull_from_body (msg, &reference, &error);

  if (options == NULL)
    {
      bgrd_web_gerror (msg, error);
      return;
    }
  bgrd_web_ops_pull_image (web, msg, reference, options);
}

/* /vms/NAME[/ACTION] */
static void
vm_route (BgrdWeb *web, SoupServerMessage *msg, gboolean get, const char *method, char **parts)
{
  const char *name = parts[0], *action = parts[1];

  if (action == NULL)
    {
      if (get)
        run_call (web, msg, CALL_GET_VM, name);
      else if (g_str_equal (method, "DELETE"))
        run_call (web, msg, CALL_DELETE_VM, name);
      else
        bad_method (msg, "GET, DELETE");
      return;
    }
  if (parts[2] != NULL)
    {
      not_found (msg);
      return;
    }
  if (g_str_equal (action, "console"))
    {
      if (get)
        bgrd_web_console_serve (web, msg, name);
      else
        bad_method (msg, "GET");
      return;
    }
  if (g_str_equal (action, "stats") || g_str_equal (action, "ports")
      || g_str_equal (action, "logs"))
    {
      if (!get)
        {
          bad_method (msg, "GET");
          return;
        }
      run_call (web, msg,
                g_str_equal (action, "stats") ? CALL_VM_STATS
                : g_str_equal (action, "ports") ? CALL_VM_PORTS : CALL_VM_LOGS, name);
      return;
    }
  if (g_str_equal (action, "start") || g_str_equal (action, "stop")
      || g_str_equal (action, "kill"))
    {
      if (!g_str_equal (method, "POST"))
        {
          bad_method (msg, "POST");
          return;
        }
      if (g_str_equal (action, "start"))
        bgrd_web_ops_start_vm (web, msg, name);
      else
        run_call (web, msg, g_str_equal (action, "stop") ? CALL_STOP_VM : CALL_KILL_VM, name);
      return;
    }
  not_found (msg);
}

/* /images, /kernels, /cache and /images/NAME, /kernels/NAME. */
static void
store_route (BgrdWeb *web, SoupServerMessage *msg, gboolean get, const char *top,
             const char *name)
{
  gboolean images = g_str_equal (top, "images"), kernels = g_str_equal (top, "kernels");

  if (!get)
    bad_method (msg, "GET");
  else if (name == NULL)
    run_call (web, msg, images ? CALL_LIST_IMAGES : kernels ? CALL_LIST_KERNELS : CALL_LIST_CACHE,
              NULL);
  else if (images || kernels)
    run_call (web, msg, images ? CALL_GET_IMAGE : CALL_GET_KERNEL, name);
  else
    not_found (msg);
}

void
bgrd_web_api_handle (BgrdWeb *web, SoupServerMessage *msg, const char *method, const char *path)
{
  gboolean get = g_str_equal (method, "GET") || g_str_equal (method, "HEAD");
  gboolean post = g_str_equal (method, "POST");
  g_auto (GStrv) parts = g_strsplit (path[0] == '/' ? path + 1 : path, "/", 4);
  const char *top = parts[0] != NULL ? parts[0] : "";
  const char *name = top[0] != '\0' ? parts[1] : NULL;
  const char *sub = name != NULL ? parts[2] : NULL;

  if (name != NULL && *name == '\0')
    not_found (msg);
  else if (g_str_equal (top, "session") && name == NULL)
    get ? session (web, msg) : bad_method (msg, "GET");
  else if (g_str_equal (top, "events") && name == NULL)
    get ? bgrd_web_events_serve (web->events, msg) : bad_method (msg, "GET");
  else if (g_str_equal (top, "vms") && name != NULL)
    vm_route (web, msg, get, method, parts + 1);
  else if (g_str_equal (top, "vms"))
    get ? run_call (web, msg, CALL_LIST_VMS, NULL)
        : post ? create_vm (web, msg) : bad_method (msg, "GET, POST");
  else if (g_str_equal (top, "operations") && name != NULL && sub == NULL)
    get ? bgrd_web_ops_get (web, msg, name) : bad_method (msg, "GET");
  else if (g_str_equal (top, "operations") && g_strcmp0 (sub, "cancel") == 0 && parts[3] == NULL)
    post ? bgrd_web_ops_cancel (web, msg, name) : bad_method (msg, "POST");
  else if (g_str_equal (top, "images") && g_strcmp0 (name, "pull") == 0 && sub == NULL && !get)
    post ? pull_image (web, msg) : bad_method (msg, "GET, POST");
  else if ((g_str_equal (top, "images") || g_str_equal (top, "kernels")
            || g_str_equal (top, "cache")) && sub == NULL)
    store_route (web, msg, get, top, name);
  else
    not_found (msg);
}
