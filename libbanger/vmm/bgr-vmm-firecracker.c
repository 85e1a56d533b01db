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
#include "vmm/bgr-vmm-firecracker-api.h"

#define API_CONNECT_TIMEOUT_MS 5000  /* from spawn to the API socket */
#define API_LATER_CONNECT_TIMEOUT_MS 2000
#define AGENT_CONNECT_TIMEOUT_MS 1000
/* Firecracker gives up on a guest that does not answer a connection
 * request after 2 s and closes the stream; wait a little longer. */
#define AGENT_HANDSHAKE_TIMEOUT_S 5
#define CONSOLE_TAIL_LINES 8
#define CONSOLE_TAIL_BYTES 4096

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

  if (c->reclaim_memory)
    {
      /* An empty balloon with free page reporting: pages the guest frees go
       * back to the host. */
      o = json_object_new ();
      json_object_set_int_member (o, "amount_mib", 0);
      json_object_set_boolean_member (o, "deflate_on_oom", TRUE);
      json_object_set_boolean_member (o, "free_page_reporting", TRUE);
      if (!fc_api_send (api, "PUT", "/balloon", o, cancellable, error))
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
