/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Firecracker driver: `firecracker --api-sock SOCK --id ID` started
 * detached, then configured over its REST API (HTTP/1.1 on the unix socket,
 * requests written by hand on one keep-alive connection) and started with
 * InstanceStart. The guest agent is reached through Firecracker's hybrid
 * vsock: a unix socket on the host where "CONNECT <port>\n" opens a stream
 * to an AF_VSOCK port in the guest. docs/firecracker.md has the details. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-error-private.h"
#include "vmm/bgr-vmm-firecracker-private.h"

#define API_CONNECT_TIMEOUT_MS 5000  /* from spawn to the API socket */
#define API_LATER_CONNECT_TIMEOUT_MS 2000
#define API_IO_TIMEOUT_S 10          /* per read/write on the API socket */
#define AGENT_CONNECT_TIMEOUT_MS 1000
/* Firecracker gives up on a guest that does not answer a connection
 * request after 2 s and closes the stream; wait a little longer. */
#define AGENT_HANDSHAKE_TIMEOUT_S 5
#define MAX_RESPONSE_BODY (1024 * 1024)
#define MAX_HEADER_LINES 100
#define CONSOLE_TAIL_LINES 8
#define CONSOLE_TAIL_BYTES 4096
#define MAX_METRICS_READ (256 * 1024 * 1024)

/* ---- The kernel ---- */

gboolean
bgr_vmm_firecracker_check_kernel (const char *path, GError **error)
{
  guchar head[0x240] = { 0 };
  gssize n;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot open kernel %s", path);
      return FALSE;
    }
  n = pread (fd, head, sizeof head, 0);
  close (fd);
  if (n < 0)
    {
      bgr_set_error_errno (error, errno, "cannot read kernel %s", path);
      return FALSE;
    }
#if defined(__aarch64__)
  /* An arm64 Image: "ARM\x64" at offset 0x38. */
  if (n >= 0x3c && memcmp (head + 0x38, "ARM\x64", 4) == 0)
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
               "kernel %s is not an arm64 Image, the only format Firecracker boots on aarch64",
               path);
  return FALSE;
#else
  if (n >= 4 && memcmp (head, "\x7f" "ELF", 4) == 0)
    return TRUE;
  /* The x86 boot protocol header "HdrS" at 0x202 marks a bzImage. */
  if (n >= 0x206 && memcmp (head + 0x202, "HdrS", 4) == 0)
    g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                 "kernel %s is a bzImage; Firecracker boots only an uncompressed ELF vmlinux "
                 "(use qemu, or a vmlinux of the same kernel)", path);
  else
    g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                 "kernel %s is not an ELF vmlinux, the only format Firecracker boots", path);
  return FALSE;
#endif
}

/* ---- The API client ---- */

typedef struct {
  const char *socket_path; /* for messages */
  GSocketConnection *conn;
  GDataInputStream *in;    /* buffered reader over the connection */
} FcApi;

static void
fc_api_close (FcApi *api)
{
  g_clear_object (&api->in);
  if (api->conn != NULL)
    g_io_stream_close (G_IO_STREAM (api->conn), NULL, NULL);
  g_clear_object (&api->conn);
}

static gboolean
fc_api_open (FcApi *api, const char *socket_path, gint pid, gint timeout_ms,
             GCancellable *cancellable, GError **error)
{
  api->socket_path = socket_path;
  api->conn = bgr_vmm_connect_unix (socket_path, pid, timeout_ms, cancellable, error);
  if (api->conn == NULL)
    return FALSE;
  g_socket_set_timeout (g_socket_connection_get_socket (api->conn), API_IO_TIMEOUT_S);
  api->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (api->conn)));
  g_data_input_stream_set_newline_type (api->in, G_DATA_STREAM_NEWLINE_TYPE_LF);
  return TRUE;
}

/* One line of the response head, without its CR LF. */
static char *
read_head_line (FcApi *api, GCancellable *cancellable, GError **error)
{
  GError *local = NULL;
  gsize len = 0;
  char *line = g_data_input_stream_read_line (api->in, &len, cancellable, &local);

  if (line == NULL)
    {
      if (local != NULL)
        bgr_propagate_error (error, local, "reading from firecracker's API socket %s",
                             api->socket_path);
      else
        g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                     "firecracker closed its API connection (%s) without an answer",
                     api->socket_path);
      return NULL;
    }
  if (len > 0 && line[len - 1] == '\r')
    line[len - 1] = '\0';
  return line;
}

/* Sends one request and reads its response. @body is JSON or NULL. */
static gboolean
fc_api_call (FcApi *api, const char *method, const char *path, const char *body, guint *status,
             char **response, GCancellable *cancellable, GError **error)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (api->conn));
  g_autoptr (GString) req = g_string_new (NULL);
  g_autofree char *status_line = NULL;
  g_autofree char *resp = NULL;
  gint64 content_length = -1;
  gboolean chunked = FALSE;
  GError *local = NULL;
  const char *p;
  char *end;
  guint64 code;

  g_string_append_printf (req, "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n",
                          method, path);
  if (body != NULL)
    g_string_append_printf (req, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                            strlen (body));
  g_string_append (req, "\r\n");
  if (body != NULL)
    g_string_append (req, body);
  if (!g_output_stream_write_all (out, req->str, req->len, NULL, cancellable, &local))
    {
      bgr_propagate_error (error, local, "sending %s %s to firecracker", method, path);
      return FALSE;
    }

  status_line = read_head_line (api, cancellable, error);
  if (status_line == NULL)
    return FALSE;
  /* "HTTP/1.1 204 No Content" (the reason may be empty). */
  p = status_line;
  if (!g_str_has_prefix (p, "HTTP/1.") || strlen (p) < 12 || p[8] != ' ')
    goto bad_head;
  code = g_ascii_strtoull (p + 9, &end, 10);
  if (end != p + 12 || code < 100 || code > 599 || (*end != ' ' && *end != '\0'))
    goto bad_head;

  for (guint i = 0;; i++)
    {
      g_autofree char *line = read_head_line (api, cancellable, error);
      char *colon;

      if (line == NULL)
        return FALSE;
      if (*line == '\0')
        break;
      if (i >= MAX_HEADER_LINES || (colon = strchr (line, ':')) == NULL)
        goto bad_head;
      *colon = '\0';
      g_strstrip (colon + 1);
      if (g_ascii_strcasecmp (line, "Content-Length") == 0)
        {
          if (!g_ascii_string_to_signed (colon + 1, 10, 0, MAX_RESPONSE_BODY, &content_length,
                                         NULL))
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                           "firecracker answered %s %s with a bad or too large Content-Length",
                           method, path);
              return FALSE;
            }
        }
      else if (g_ascii_strcasecmp (line, "Transfer-Encoding") == 0)
        chunked = TRUE;
    }

  if (code / 100 == 1 || code == 204 || code == 304)
    resp = g_strdup ("");
  else if (chunked)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                   "firecracker answered %s %s with a chunked body, which it never sends",
                   method, path);
      return FALSE;
    }
  else if (content_length >= 0)
    {
      gsize got = 0;
      resp = g_malloc (content_length + 1);
      if (!g_input_stream_read_all (G_INPUT_STREAM (api->in), resp, content_length, &got,
                                    cancellable, &local))
        {
          bgr_propagate_error (error, local, "reading firecracker's answer to %s %s", method,
                               path);
          return FALSE;
        }
      if (got != (gsize) content_length)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                       "firecracker's answer to %s %s ends after %zu of %" G_GINT64_FORMAT
                       " bytes", method, path, got, content_length);
          return FALSE;
        }
      resp[got] = '\0';
    }
  else
    {
      /* No length: the body runs to the end of the connection. */
      g_autoptr (GByteArray) all = g_byte_array_new ();
      guint8 buf[4096];
      gssize n;

      while ((n = g_input_stream_read (G_INPUT_STREAM (api->in), buf, sizeof buf, cancellable,
                                       &local)) > 0)
        {
          if (all->len + n > MAX_RESPONSE_BODY)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                           "firecracker's answer to %s %s is too large", method, path);
              return FALSE;
            }
          g_byte_array_append (all, buf, n);
        }
      if (n < 0)
        {
          bgr_propagate_error (error, local, "reading firecracker's answer to %s %s", method,
                               path);
          return FALSE;
        }
      g_byte_array_append (all, (const guint8 *) "", 1);
      resp = (char *) g_byte_array_free (g_steal_pointer (&all), FALSE);
    }
  *status = (guint) code;
  if (response != NULL)
    *response = g_steal_pointer (&resp);
  return TRUE;

bad_head:
  g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
               "firecracker answered %s %s with a malformed HTTP response (%s)", method, path,
               status_line);
  return FALSE;
}

/* Firecracker's errors are {"fault_message": "..."}. */
static char *
fault_message (const char *body)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (body != NULL && json_parser_load_from_data (parser, body, -1, NULL)
      && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      const char *msg
        = json_object_get_string_member_with_default (json_node_get_object (root), "fault_message",
                                                      NULL);
      if (msg != NULL)
        return g_strdup (msg);
    }
  if (body == NULL || *body == '\0')
    return g_strdup ("no reason given");
  return g_utf8_make_valid (body, MIN (strlen (body), 512));
}

/* PUT/PATCH with a JSON object body; anything but 2xx is an error that
 * names the request and quotes Firecracker's fault_message. Takes @body. */
static gboolean
fc_api_send (FcApi *api, const char *method, const char *path, JsonObject *body,
             GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), body);
  g_autofree char *json = NULL;
  g_autofree char *resp = NULL;
  guint status = 0;

  json_object_unref (body);
  json = json_to_string (node, FALSE);
  g_debug ("firecracker: %s %s %s", method, path, json);
  if (!fc_api_call (api, method, path, json, &status, &resp, cancellable, error))
    return FALSE;
  if (status / 100 != 2)
    {
      g_autofree char *fault = fault_message (resp);
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "firecracker refused %s %s (HTTP %u): %s",
                   method, path, status, fault);
      return FALSE;
    }
  return TRUE;
}

/* ---- Request bodies ---- */

static JsonObject *
action_body (const char *action_type)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "action_type", action_type);
  return o;
}

static JsonObject *
drive_body (const char *id, const char *path, gboolean root)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "drive_id", id);
  json_object_set_string_member (o, "path_on_host", path);
  json_object_set_boolean_member (o, "is_root_device", root);
  json_object_set_boolean_member (o, "is_read_only", FALSE);
  return o;
}

/* Sends the whole configuration and InstanceStart, in the order Firecracker
 * documents: logger and metrics first so that they see everything. */
static gboolean
configure (FcApi *api, const BgrVmmConfig *c, const char *log_path, const char *metrics_path,
           const char *vsock_path, GCancellable *cancellable, GError **error)
{
  JsonObject *o;

  o = json_object_new ();
  json_object_set_string_member (o, "log_path", log_path);
  json_object_set_string_member (o, "level", "Info");
  if (!fc_api_send (api, "PUT", "/logger", o, cancellable, error))
    return FALSE;

  o = json_object_new ();
  json_object_set_string_member (o, "metrics_path", metrics_path);
  if (!fc_api_send (api, "PUT", "/metrics", o, cancellable, error))
    return FALSE;

  o = json_object_new ();
  json_object_set_int_member (o, "vcpu_count", c->vcpus);
  json_object_set_int_member (o, "mem_size_mib", (gint64) c->memory_mib);
  json_object_set_boolean_member (o, "smt", FALSE);
  if (!fc_api_send (api, "PUT", "/machine-config", o, cancellable, error))
    return FALSE;

  o = json_object_new ();
  json_object_set_string_member (o, "kernel_image_path", c->kernel);
  if (c->initrd != NULL)
    json_object_set_string_member (o, "initrd_path", c->initrd);
  if (c->cmdline != NULL)
    json_object_set_string_member (o, "boot_args", c->cmdline);
  if (!fc_api_send (api, "PUT", "/boot-source", o, cancellable, error))
    return FALSE;

  /* Drives appear in the guest in creation order: rootfs /dev/vda, work /dev/vdb. */
  if (!fc_api_send (api, "PUT", "/drives/rootfs", drive_body ("rootfs", c->rootfs, TRUE),
                    cancellable, error))
    return FALSE;
  if (c->work_disk != NULL
      && !fc_api_send (api, "PUT", "/drives/work", drive_body ("work", c->work_disk, FALSE),
                       cancellable, error))
    return FALSE;

  if (c->tap != NULL)
    {
      o = json_object_new ();
      json_object_set_string_member (o, "iface_id", "eth0");
      json_object_set_string_member (o, "host_dev_name", c->tap);
      if (c->mac != NULL)
        json_object_set_string_member (o, "guest_mac", c->mac);
      if (!fc_api_send (api, "PUT", "/network-interfaces/eth0", o, cancellable, error))
        return FALSE;
    }

  o = json_object_new ();
  json_object_set_int_member (o, "guest_cid", BGR_FC_GUEST_CID);
  json_object_set_string_member (o, "uds_path", vsock_path);
  if (!fc_api_send (api, "PUT", "/vsock", o, cancellable, error))
    return FALSE;

  return fc_api_send (api, "PUT", "/actions", action_body ("InstanceStart"), cancellable, error);
}

/* ---- start() ---- */

/* What Firecracker (and the guest) wrote to the console log since @from:
 * its last few lines. */
static char *
console_tail (const char *path, goffset from)
{
  g_autofree char *buf = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *joined = NULL;
  struct stat st;
  gssize n;
  guint count, first;
  int fd;

  if (path == NULL || (fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
    return g_strdup ("");
  if (fstat (fd, &st) < 0 || st.st_size <= from)
    {
      close (fd);
      return g_strdup ("");
    }
  from = MAX (from, st.st_size - CONSOLE_TAIL_BYTES);
  buf = g_malloc0 (CONSOLE_TAIL_BYTES + 1);
  n = pread (fd, buf, CONSOLE_TAIL_BYTES, from);
  close (fd);
  if (n <= 0)
    return g_strdup ("");
  buf[n] = '\0';
  lines = g_strsplit (g_strstrip (buf), "\n", -1);
  count = g_strv_length (lines);
  first = count > CONSOLE_TAIL_LINES ? count - CONSOLE_TAIL_LINES : 0;
  /* A partial first line (cut by the byte limit) is dropped. */
  if (first == 0 && from > 0 && count > 1)
    first = 1;
  joined = g_strjoinv ("\n", lines + first);
  return g_utf8_make_valid (joined, -1);
}

static gboolean
create_empty (const char *path, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", path);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* Removes a socket a previous Firecracker left behind (Firecracker refuses
 * to bind an existing path). */
static void
remove_stale_socket (const char *path)
{
  struct stat st;

  if (lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
    g_unlink (path);
}

static char *
resolve_binary (const char *binary, GError **error)
{
  char *path;

  if (binary == NULL || *binary == '\0')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG, "no firecracker binary configured");
      return NULL;
    }
  if (strchr (binary, '/') == NULL)
    {
      path = g_find_program_in_path (binary);
      if (path == NULL)
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                     "firecracker binary '%s' is not in PATH "
                     "(install firecracker or set firecracker_bin)", binary);
      return path;
    }
  if (!g_file_test (binary, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "firecracker binary %s does not exist (firecracker_bin)", binary);
      return NULL;
    }
  if (g_file_test (binary, G_FILE_TEST_IS_DIR) || !g_file_test (binary, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED,
                   "firecracker binary %s is not an executable file (firecracker_bin)", binary);
      return NULL;
    }
  return g_strdup (binary);
}

static BgrVmmInstance *
fc_start (const BgrVmmConfig *c, GCancellable *cancellable, GError **error)
{
  g_autofree char *api_path = g_build_filename (c->run_dir, BGR_FC_API_SOCKET_NAME, NULL);
  g_autofree char *vsock_path = g_build_filename (c->run_dir, BGR_FC_VSOCK_SOCKET_NAME, NULL);
  g_autofree char *log_path = g_build_filename (c->run_dir, BGR_FC_LOG_NAME, NULL);
  g_autofree char *metrics_path = g_build_filename (c->run_dir, BGR_FC_METRICS_NAME, NULL);
  g_autofree char *totals_path = g_build_filename (c->run_dir, BGR_FC_METRICS_TOTALS_NAME, NULL);
  g_autofree char *binary = NULL;
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autoptr (GError) local = NULL;
  FcApi api = { 0 };
  goffset console_from = 0;
  struct stat st;
  gint pid;

  if (strlen (c->run_dir) > BGR_FC_RUN_DIR_MAX)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "run directory %s is too long for firecracker's unix sockets "
                   "(at most %zu bytes); use a shorter state or runtime directory",
                   c->run_dir, (gsize) BGR_FC_RUN_DIR_MAX);
      return NULL;
    }
  if (!bgr_vmm_firecracker_check_kernel (c->kernel, error))
    return NULL;
  binary = resolve_binary (c->binary, error);
  if (binary == NULL)
    return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, &local))
    {
      bgr_propagate_error (error, g_steal_pointer (&local), NULL);
      return NULL;
    }

  remove_stale_socket (api_path);
  remove_stale_socket (vsock_path);
  /* Firecracker opens its log and metrics files without creating them, and
   * writes from offset 0: start both empty (and forget old sums). */
  if (!create_empty (log_path, error) || !create_empty (metrics_path, error))
    return NULL;
  g_unlink (totals_path);
  if (c->console_log != NULL && stat (c->console_log, &st) == 0)
    console_from = st.st_size;

  {
    const char *argv[] = { binary, "--api-sock", api_path, "--id", c->id, NULL };
    pid = bgr_vmm_spawn_detached (argv, c->console_log, error);
    if (pid <= 0)
      return NULL;
  }
  inst = g_new0 (BgrVmmInstance, 1);
  inst->driver = g_strdup ("firecracker");
  inst->pid = pid;
  inst->start_time = bgr_vmm_process_start_time (pid);
  inst->api_socket = g_strdup (api_path);
  inst->agent_socket = g_strdup (vsock_path);
  inst->metrics_path = g_strdup (metrics_path);
  g_debug ("firecracker for %s: pid %d, API %s", c->name, pid, api_path);

  if (inst->start_time == 0)
    local = g_error_new (BGR_ERROR, BGR_ERROR_FAILED, "%s exited right after it started",
                         binary);
  else if (fc_api_open (&api, api_path, pid, API_CONNECT_TIMEOUT_MS, cancellable, &local))
    configure (&api, c, log_path, metrics_path, vsock_path, cancellable, &local);
  fc_api_close (&api);

  if (local != NULL)
    {
      g_autofree char *tail = NULL;

      /* Nothing may stay running; the console then holds all it will say. */
      if (!bgr_vmm_instance_kill (inst, NULL))
        g_warning ("cannot kill firecracker (pid %d) of %s", pid, c->name);
      remove_stale_socket (api_path);
      remove_stale_socket (vsock_path);
      tail = console_tail (c->console_log, console_from);
      g_set_error (error, BGR_ERROR, bgr_error_code_from_gio (local),
                   "cannot start firecracker for %s: %s%s%s", c->name, local->message,
                   *tail != '\0' ? "\nlast output of firecracker:\n" : "", tail);
      return NULL;
    }
  return g_steal_pointer (&inst);
}

/* ---- connect_agent() ---- */

static gboolean
is_not_listening (const GError *e)
{
  return g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
         || g_error_matches (e, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE)
         || g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

static GIOStream *
fc_connect_agent (const BgrVmmInstance *inst, GCancellable *cancellable, GError **error)
{
  g_autoptr (GSocketConnection) conn = NULL;
  g_autofree char *request = g_strdup_printf ("CONNECT %u\n", (guint) BGR_AGENT_VSOCK_PORT);
  GInputStream *in;
  GSocket *sock;
  GError *local = NULL;
  char reply[64];
  gsize len = 0;
  guint64 host_port;
  char *end;

  if (!bgr_vmm_instance_is_alive (inst))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "firecracker (pid %d) is not running",
                   inst->pid);
      return NULL;
    }
  conn = bgr_vmm_connect_unix (inst->agent_socket, inst->pid, AGENT_CONNECT_TIMEOUT_MS,
                               cancellable, error);
  if (conn == NULL)
    return NULL;
  sock = g_socket_connection_get_socket (conn);
  g_socket_set_timeout (sock, AGENT_HANDSHAKE_TIMEOUT_S);
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), request,
                                  strlen (request), NULL, cancellable, &local))
    goto failed;

  /* The reply is one line, "OK <host port>\n"; the agent's frames follow
   * right behind it, so read it byte by byte and not one byte further. */
  in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  for (;;)
    {
      gssize n = g_input_stream_read (in, reply + len, 1, cancellable, &local);

      if (n < 0)
        goto failed;
      if (n == 0)
        {
          if (len == 0)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                           "the guest agent is not listening on vsock port %u yet "
                           "(firecracker closed the connection)", (guint) BGR_AGENT_VSOCK_PORT);
              return NULL;
            }
          g_autofree char *shown = NULL;

          reply[len] = '\0';
          shown = g_strescape (reply, NULL);
          g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                       "firecracker's vsock %s answered CONNECT with a truncated line \"%s\"",
                       inst->agent_socket, shown);
          return NULL;
        }
      if (reply[len] == '\n')
        break;
      if (++len == sizeof reply - 1)
        {
          reply[len] = '\0';
          g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                       "firecracker's vsock %s answered CONNECT with an overlong line",
                       inst->agent_socket);
          return NULL;
        }
    }
  reply[len] = '\0';
  if (!g_str_has_prefix (reply, "OK ") || !g_ascii_isdigit (reply[3])
      || (host_port = g_ascii_strtoull (reply + 3, &end, 10), *end != '\0'))
    {
      g_autofree char *shown = g_strescape (reply, NULL);
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                   "firecracker's vsock %s answered CONNECT %u with \"%s\", not \"OK <port>\"",
                   inst->agent_socket, (guint) BGR_AGENT_VSOCK_PORT, shown);
      return NULL;
    }
  g_debug ("vsock connection to guest port %u, host port %" G_GUINT64_FORMAT,
           (guint) BGR_AGENT_VSOCK_PORT, host_port);
  /* The agent protocol has its own pings; no timeout from here on. */
  g_socket_set_timeout (sock, 0);
  return G_IO_STREAM (g_steal_pointer (&conn));

failed:
  if (is_not_listening (local))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                   "the guest agent is not listening on vsock port %u yet (%s)",
                   (guint) BGR_AGENT_VSOCK_PORT, local->message);
      g_error_free (local);
    }
  else if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_TIMED_OUT,
                   "no answer to CONNECT %u on %s within %d s (guest not up yet?)",
                   (guint) BGR_AGENT_VSOCK_PORT, inst->agent_socket, AGENT_HANDSHAKE_TIMEOUT_S);
      g_error_free (local);
    }
  else
    bgr_propagate_error (error, local, "vsock handshake on %s", inst->agent_socket);
  return NULL;
}

/* ---- request_shutdown() ---- */

/* One request on a fresh connection, for an instance already running. */
static gboolean
fc_action (const BgrVmmInstance *inst, const char *action, GCancellable *cancellable,
           GError **error)
{
  FcApi api = { 0 };
  gboolean ok;

  ok = fc_api_open (&api, inst->api_socket, inst->pid, API_LATER_CONNECT_TIMEOUT_MS, cancellable,
                    error)
       && fc_api_send (&api, "PUT", "/actions", action_body (action), cancellable, error);
  fc_api_close (&api);
  return ok;
}

static gboolean
fc_request_shutdown (const BgrVmmInstance *inst, GCancellable *cancellable, GError **error)
{
  if (!bgr_vmm_instance_is_alive (inst))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO,
                   "firecracker (pid %d) is not running", inst->pid);
      return FALSE;
    }
  /* Ctrl-Alt-Del through the emulated i8042: the guest's init reboots, and
   * with reboot=k on its command line that makes Firecracker exit. */
  return fc_action (inst, "SendCtrlAltDel", cancellable, error);
}

/* ---- metrics() ---- */

/* Sums kept across calls: every metrics line holds what happened since the
 * previous flush, not totals, so the driver adds them up as it reads. */
typedef struct {
  guint64 offset; /* bytes of the metrics file consumed (whole lines) */
  gboolean has_block, has_net;
  guint64 read_bytes, write_bytes, rx_bytes, tx_bytes;
} FcTotals;

static void
totals_load (const char *path, FcTotals *t)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) f = NULL;

  memset (t, 0, sizeof *t);
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  f = g_strsplit (g_strstrip (text), " ", -1);
  if (g_strv_length (f) != 8 || !g_str_equal (f[0], "v1"))
    return;
  t->offset = g_ascii_strtoull (f[1], NULL, 10);
  t->has_block = f[2][0] == '1';
  t->read_bytes = g_ascii_strtoull (f[3], NULL, 10);
  t->write_bytes = g_ascii_strtoull (f[4], NULL, 10);
  t->has_net = f[5][0] == '1';
  t->rx_bytes = g_ascii_strtoull (f[6], NULL, 10);
  t->tx_bytes = g_ascii_strtoull (f[7], NULL, 10);
}

static void
totals_save (const char *path, const FcTotals *t)
{
  g_autofree char *text = g_strdup_printf (
    "v1 %" G_GUINT64_FORMAT " %d %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %d %" G_GUINT64_FORMAT
    " %" G_GUINT64_FORMAT "\n", t->offset, t->has_block ? 1 : 0, t->read_bytes, t->write_bytes,
    t->has_net ? 1 : 0, t->rx_bytes, t->tx_bytes);
  g_autoptr (GError) local = NULL;

  if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local))
    g_debug ("cannot save metrics sums: %s", local->message);
}

static guint64
counter (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return 0;
  return (guint64) MAX (json_node_get_int (n), 0);
}

/* Adds one device class ("block", "net") of a metrics line: the aggregate
 * object named @prefix when there is one (Firecracker >= 1.5 writes it next
 * to the per-device "block_<id>" objects), else the per-device objects. */
static gboolean
add_device_counters (JsonObject *line, const char *prefix, const char *a, const char *b,
                     guint64 *sum_a, guint64 *sum_b)
{
  g_autofree char *per_device = g_strconcat (prefix, "_", NULL);
  JsonNode *agg = json_object_get_member (line, prefix);
  gboolean found = FALSE;
  JsonObjectIter it;
  const char *name;
  JsonNode *node;

  if (agg != NULL && JSON_NODE_HOLDS_OBJECT (agg))
    {
      *sum_a += counter (json_node_get_object (agg), a);
      *sum_b += counter (json_node_get_object (agg), b);
      return TRUE;
    }
  json_object_iter_init (&it, line);
  while (json_object_iter_next (&it, &name, &node))
    if (g_str_has_prefix (name, per_device) && JSON_NODE_HOLDS_OBJECT (node))
      {
        *sum_a += counter (json_node_get_object (node), a);
        *sum_b += counter (json_node_get_object (node), b);
        found = TRUE;
      }
  return found;
}

static void
add_metrics_line (FcTotals *t, const char *line, gsize len)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *o;

  if (!json_parser_load_from_data (parser, line, len, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return;
  o = json_node_get_object (root);
  if (add_device_counters (o, "block", "read_bytes", "write_bytes", &t->read_bytes,
                           &t->write_bytes))
    t->has_block = TRUE;
  if (add_device_counters (o, "net", "rx_bytes_count", "tx_bytes_count", &t->rx_bytes,
                           &t->tx_bytes))
    t->has_net = TRUE;
}

/* Reads the complete lines written since the last call into the sums. */
static void
read_metrics_file (const char *path, FcTotals *t)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  struct stat st;
  const char *p, *end;
  guint8 chunk[65536];
  gssize n;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  if (fstat (fd, &st) == 0 && (guint64) st.st_size < t->offset)
    memset (t, 0, sizeof *t); /* a new file: start over */
  if (lseek (fd, (off_t) t->offset, SEEK_SET) < 0)
    {
      close (fd);
      return;
    }
  while (buf->len < MAX_METRICS_READ && (n = read (fd, chunk, sizeof chunk)) > 0)
    g_byte_array_append (buf, chunk, n);
  close (fd);

  p = (const char *) buf->data;
  end = p + buf->len;
  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      if (nl == NULL)
        break; /* a line still being written */
      if (nl > p)
        add_metrics_line (t, p, nl - p);
      t->offset += nl + 1 - p;
      p = nl + 1;
    }
}

void
bgr_vmm_firecracker_read_metrics (const char *metrics_path, BgrVmmMetrics *out)
{
  g_autofree char *totals_path = g_strconcat (metrics_path, BGR_FC_METRICS_TOTALS_SUFFIX, NULL);
  guint64 consumed;
  FcTotals t;

  totals_load (totals_path, &t);
  consumed = t.offset;
  read_metrics_file (metrics_path, &t);
  if (t.offset != consumed)
    totals_save (totals_path, &t);
  if (t.has_block)
    {
      out->disk_read_bytes = (gint64) t.read_bytes;
      out->disk_write_bytes = (gint64) t.write_bytes;
    }
  if (t.has_net)
    {
      out->net_rx_bytes = (gint64) t.rx_bytes;
      out->net_tx_bytes = (gint64) t.tx_bytes;
    }
}

static gboolean
fc_metrics (const BgrVmmInstance *inst, BgrVmmMetrics *out, GError **error)
{
  g_autoptr (GError) local = NULL;

  out->cpu_time_ms = out->rss_bytes = -1;
  out->disk_read_bytes = out->disk_write_bytes = -1;
  out->net_rx_bytes = out->net_tx_bytes = -1;
  if (!bgr_vmm_instance_is_alive (inst))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "firecracker (pid %d) is not running",
                   inst->pid);
      return FALSE;
    }
  bgr_vmm_process_metrics (inst->pid, out);
  if (inst->metrics_path == NULL)
    return TRUE;
  /* Firecracker flushes once a minute by itself; ask for a fresh line. A
   * failure leaves the sums of the previous flush, which still count. */
  if (!fc_action (inst, "FlushMetrics", NULL, &local))
    g_debug ("FlushMetrics: %s", local->message);
  bgr_vmm_firecracker_read_metrics (inst->metrics_path, out);
  return TRUE;
}

const BgrVmmDriver bgr_vmm_firecracker_driver = {
  .name = "firecracker",
  .start = fc_start,
  .connect_agent = fc_connect_agent,
  .request_shutdown = fc_request_shutdown,
  .metrics = fc_metrics,
};
