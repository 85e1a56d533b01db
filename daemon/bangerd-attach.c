/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The attach socket: STATE_DIR/run/attach.sock. Any program can attach to
 * a session through it, without D-Bus, speaking stdio_mux_v1 (docs/dbus.md,
 * "Attaching without D-Bus"): frames of a type byte, a little-endian u32
 * length and that many bytes. The attach itself is the same as Vm's
 * AttachSession, with the same one-holder rule. */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <glib-unix.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>

#include "bangerd-private.h"
#include "bgr-escape-private.h"

enum {
  MUX_OPEN = 0x01,     /* client: "VM\0SESSION" */
  MUX_STDIN = 0x02,    /* client: bytes; empty = end of input */
  MUX_WINSIZE = 0x03,  /* client: u16 rows, u16 cols (a session on a terminal) */
  MUX_DETACH = 0x04,   /* client */
  MUX_HELLO = 0x80,    /* daemon: "stdio_mux_v1" */
  MUX_ATTACHED = 0x81, /* daemon: empty */
  MUX_STDOUT = 0x82,
  MUX_STDERR = 0x83,
  MUX_EXIT = 0x84,     /* daemon: i32 exit status (128+N: signal N); ends */
  MUX_DETACHED = 0x85, /* daemon: ends */
  MUX_ERROR = 0x86,    /* daemon: UTF-8 message; ends */
};
#define MUX_MAX (64 * 1024)
#define OPEN_TIMEOUT_MS 10000

static GSocketService *service;
static char *socket_path;
static GMutex active_lock;
static GPtrArray *active; /* GCancellable of each attach running */

static gboolean
send_mux (int fd, guint8 type, const void *data, guint32 len)
{
  guint8 hdr[5] = { type, len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, len >> 24 };
  struct iovec iov[2] = { { hdr, 5 }, { (void *) data, len } };
  struct msghdr m = { .msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1 };
  gsize total = 5 + len, done = 0;

  while (done < total)
    {
      ssize_t n = sendmsg (fd, &m, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += (gsize) n;
      while (m.msg_iovlen > 0 && (gsize) n >= m.msg_iov->iov_len)
        {
          n -= (ssize_t) m.msg_iov->iov_len;
          m.msg_iov++;
          m.msg_iovlen--;
        }
      if (m.msg_iovlen > 0)
        {
          m.msg_iov->iov_base = (guint8 *) m.msg_iov->iov_base + n;
          m.msg_iov->iov_len -= (gsize) n;
        }
    }
  return TRUE;
}

static gboolean
read_full (int fd, void *buf, gsize len)
{
  guint8 *p = buf;
  while (len > 0)
    {
      ssize_t n = read (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* One frame; FALSE at the end of the stream or on a frame over MUX_MAX. */
static gboolean
read_mux (int fd, guint8 *type, guint8 *buf, guint32 *len)
{
  guint8 hdr[5];
  if (!read_full (fd, hdr, 5))
    return FALSE;
  *type = hdr[0];
  *len = hdr[1] | (hdr[2] << 8) | (hdr[3] << 16) | ((guint32) hdr[4] << 24);
  return *len <= MUX_MAX && read_full (fd, buf, *len);
}

static void
send_error_msg (int fd, const char *message)
{
  send_mux (fd, MUX_ERROR, message, strlen (message));
}

typedef struct {
  Daemon *d;
  char *vm, *session;
  int fds[3];
  int resize[2]; /* "ROWS COLS" lines from WINSIZE frames */
  GCancellable *cancel;
  gboolean ok;
  gint status;
  GError *error;
  int done_fd;
} Attach;

static gpointer
attach_thread (gpointer data)
{
  Attach *a = data;
  /* A session on a terminal follows the client's window size. */
  g_autoptr (BgrVmSession) s = bgr_client_vm_session_get (a->d->client, a->vm, a->session,
                                                          a->cancel, NULL);

  if (s != NULL && bgr_vm_session_get_pty (s))
    a->ok = bgr_client_vm_session_attach_terminal (a->d->client, a->vm, a->session, a->fds[0],
                                                   a->fds[1], a->resize[0], &a->status,
                                                   a->cancel, &a->error);
  else
    a->ok = bgr_client_vm_session_attach (a->d->client, a->vm, a->session, a->fds[0], a->fds[1],
                                          a->fds[2], &a->status, a->cancel, &a->error);
  close (a->done_fd);
  return NULL;
}

/* Forwards one pipe's bytes as frames; FALSE at its end. */
static gboolean
forward_output (int from, int sock, guint8 type, gboolean client_gone)
{
  guint8 buf[MUX_MAX];
  ssize_t n = read (from, buf, sizeof buf);
  if (n < 0 && errno == EINTR)
    return TRUE;
  if (n <= 0)
    return FALSE;
  if (!client_gone)
    send_mux (sock, type, buf, (guint32) n);
  return TRUE;
}

/* What the client sends while attached. FALSE once it left. */
static gboolean
client_frame (int sock, Attach *a, int *in_w)
{
  guint8 type;
  guint32 len;
  g_autofree guint8 *buf = g_malloc (MUX_MAX);

  if (!read_mux (sock, &type, buf, &len))
    return FALSE;
  if (type == MUX_STDIN && len == 0)
    {
      if (*in_w >= 0)
        close (*in_w);
      *in_w = -1;
    }
  else if (type == MUX_STDIN && *in_w >= 0)
    {
      for (guint32 off = 0; off < len;)
        {
          ssize_t n = write (*in_w, buf + off, len - off);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            break;
          off += (guint32) n;
        }
    }
  else if (type == MUX_WINSIZE && len == 4)
    {
      char line[32];
      int n = g_snprintf (line, sizeof line, "%u %u\n", buf[0] | (buf[1] << 8), buf[2] | (buf[3] << 8));
      if (write (a->resize[1], line, (size_t) n) < 0)
        g_debug ("attach socket: a window size was lost: %s", g_strerror (errno));
    }
  else if (type == MUX_DETACH)
    g_cancellable_cancel (a->cancel);
  return TRUE;
}

static void
run_attach (int sock, Attach *a)
{
  int in_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, done_p[2] = { -1, -1 };
  int *const pipes[] = { in_p, out_p, err_p, done_p, a->resize };
  GThread *th;
  gboolean out_open = TRUE, err_open = TRUE, client_gone = FALSE;

  a->resize[0] = a->resize[1] = -1;
  for (guint i = 0; i < G_N_ELEMENTS (pipes); i++)
    if (!g_unix_open_pipe (pipes[i], FD_CLOEXEC, NULL)
        || (pipes[i] == a->resize && !g_unix_set_fd_nonblocking (a->resize[1], TRUE, NULL)))
      {
        for (guint j = 0; j < G_N_ELEMENTS (pipes); j++)
          for (int k = 0; k < 2; k++)
            if (pipes[j][k] >= 0)
              close (pipes[j][k]);
        send_error_msg (sock, "bangerd cannot create pipes");
        return;
      }
  a->fds[0] = in_p[0], a->fds[1] = out_p[1], a->fds[2] = err_p[1];
  a->done_fd = done_p[1];
  th = g_thread_new ("bgrd-attach", attach_thread, a);
  send_mux (sock, MUX_ATTACHED, NULL, 0);
  for (;;)
    {
      struct pollfd p[4] = { { .fd = client_gone ? -1 : sock, .events = POLLIN },
                             { .fd = out_p[0], .events = POLLIN },
                             { .fd = err_p[0], .events = POLLIN },
                             { .fd = done_p[0], .events = POLLIN } };
      if (poll (p, 4, -1) < 0 && errno != EINTR)
        break;
      if (p[0].revents && !client_frame (sock, a, &in_p[1]))
        {
          client_gone = TRUE; /* closing the socket detaches */
          g_cancellable_cancel (a->cancel);
        }
      if (p[1].revents)
        forward_output (out_p[0], sock, MUX_STDOUT, client_gone);
      if (p[2].revents)
        forward_output (err_p[0], sock, MUX_STDERR, client_gone);
      if (p[3].revents)
        break;
    }
  g_thread_join (th);
  close (out_p[1]);
  close (err_p[1]);
  while (out_open || err_open)
    {
      out_open = out_open && forward_output (out_p[0], sock, MUX_STDOUT, client_gone);
      err_open = err_open && forward_output (err_p[0], sock, MUX_STDERR, client_gone);
    }
  for (int i = 0; i < 2; i++)
    {
      if (in_p[i] >= 0)
        close (in_p[i]);
      close (a->resize[i]);
    }
  close (out_p[0]);
  close (err_p[0]);
  close (done_p[0]);
  if (!a->ok)
    send_error_msg (sock, a->error->message);
  else if (a->status < 0)
    send_mux (sock, MUX_DETACHED, NULL, 0);
  else
    {
      guint32 s = (guint32) a->status;
      guint8 le[4] = { s & 0xff, (s >> 8) & 0xff, (s >> 16) & 0xff, s >> 24 };
      send_mux (sock, MUX_EXIT, le, 4);
    }
}

/* OPEN: "VM\0SESSION". */
static gboolean
read_open (int sock, char **vm, char **session)
{
  struct pollfd p = { .fd = sock, .events = POLLIN };
  g_autofree guint8 *buf = g_malloc (MUX_MAX + 1);
  guint8 type;
  guint32 len;
  const char *nul;

  if (poll (&p, 1, OPEN_TIMEOUT_MS) <= 0 || !read_mux (sock, &type, buf, &len) || type != MUX_OPEN)
    return FALSE;
  buf[len] = '\0';
  nul = memchr (buf, '\0', len);
  if (nul == NULL || nul == (const char *) buf || nul[1] == '\0')
    return FALSE;
  *vm = g_strdup ((const char *) buf);
  *session = g_strdup (nul + 1);
  return TRUE;
}

static void
serve (Daemon *d, int sock)
{
  Attach a = { .d = d, .status = -1 };
  struct ucred cred;
  socklen_t clen = sizeof cred;
  g_autofree char *who = NULL, *holder = NULL;
  GError *error = NULL;

  send_mux (sock, MUX_HELLO, "stdio_mux_v1", 12);
  if (!read_open (sock, &a.vm, &a.session))
    {
      send_error_msg (sock, "expected an OPEN frame (type 1) with \"VM\\0SESSION\"");
      return;
    }
  who = getsockopt (sock, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0
          ? bgrd_describe_pid ((guint32) cred.pid) : g_strdup ("a client");
  holder = g_strdup_printf ("%s on the attach socket", who);
  if (!bgrd_attach_claim (a.vm, a.session, holder, &error))
    {
      send_error_msg (sock, error->message);
      g_error_free (error);
    }
  else
    {
      a.cancel = g_cancellable_new ();
      g_mutex_lock (&active_lock);
      g_ptr_array_add (active, a.cancel);
      g_mutex_unlock (&active_lock);
      run_attach (sock, &a);
      g_mutex_lock (&active_lock);
      g_ptr_array_remove (active, a.cancel);
      g_mutex_unlock (&active_lock);
      bgrd_attach_release (a.vm, a.session);
      g_object_unref (a.cancel);
      g_clear_error (&a.error);
    }
  g_free (a.vm);
  g_free (a.session);
}

static gboolean
on_run (GThreadedSocketService *svc, GSocketConnection *conn, GObject *source, gpointer data)
{
  Daemon *d = data;
  GSocket *sock = g_socket_connection_get_socket (conn);
  int fd = g_socket_get_fd (sock);
  gboolean refused;

  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  g_mutex_lock (&d->calls_lock);
  refused = d->shutting_down || d->client == NULL;
  if (!refused)
    d->calls_in_flight++;
  g_mutex_unlock (&d->calls_lock);
  if (refused)
    {
      send_error_msg (fd, "bangerd is shutting down");
      return TRUE;
    }
  serve (d, fd);
  bgrd_call_done (d);
  return TRUE;
}

void
bgrd_attach_socket_start (Daemon *d)
{
  const char *state = bgr_config_get_string (d->config, "state_dir");
  g_autofree char *run = g_build_filename (state, "run", NULL);
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GError) error = NULL;

  if (service != NULL)
    return;
  socket_path = g_build_filename (run, "attach.sock", NULL);
  g_mkdir_with_parents (run, 0700);
  unlink (socket_path);
  active = g_ptr_array_new ();
  service = g_threaded_socket_service_new (16);
  addr = g_unix_socket_address_new (socket_path);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), addr, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, &error))
    {
      g_autofree char *p = bgr_log_str (socket_path);
      g_warning ("no attach socket at %s: %s", p, error->message);
      g_clear_object (&service);
      return;
    }
  chmod (socket_path, 0600);
  g_signal_connect (service, "run", G_CALLBACK (on_run), d);
  g_socket_service_start (service);
}

void
bgrd_attach_socket_stop (Daemon *d)
{
  if (service == NULL)
    return;
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  g_mutex_lock (&active_lock);
  for (guint i = 0; i < active->len; i++)
    g_cancellable_cancel (active->pdata[i]);
  g_mutex_unlock (&active_lock);
  unlink (socket_path);
  g_clear_pointer (&socket_path, g_free);
  /* The service and its threads stay: running attaches finish (counted as
   * calls in flight) before the engine goes. */
}
