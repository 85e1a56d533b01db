/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Streams through the guest agent: the guest command runs in a helper
 * thread (bgr_agent_conn_exec pumps its stdin and writes its stdout), the
 * calling thread writes or reads the stream, so that progress reported
 * from it is emitted where the caller's operation lives. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "engine/bgr-engine-transfer-private.h"

#define ERR_MAX (64 * 1024)

typedef struct {
  BgrAgentConn *conn;
  const char *const *argv;
  int in_fd, out_fd, err_fd;
  GCancellable *cancellable;
  gint status;
  GError *error;
  gboolean ok;
} ExecJob;

static gpointer
exec_thread (gpointer data)
{
  ExecJob *j = data;
  j->ok = bgr_agent_conn_exec (j->conn, j->argv, NULL, "/", 0, j->in_fd, j->out_fd, j->err_fd,
                               &j->status, j->cancellable, &j->error);
  /* The stream's other end sees the command is over. */
  if (j->in_fd >= 0)
    shutdown (j->in_fd, SHUT_RDWR);
  if (j->out_fd >= 0)
    shutdown (j->out_fd, SHUT_RDWR);
  return NULL;
}

static char *
read_memfd (int fd, gsize max)
{
  g_autofree char *buf = g_malloc0 (max + 1);
  ssize_t n = pread (fd, buf, max, 0);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  return g_strstrip (g_steal_pointer (&buf));
}

gboolean
bgr_vm_guest_pipe (BgrAgentConn *conn, const char *what, const char *const *argv,
                   BgrStreamWriter writer, BgrStreamReader reader, gpointer data,
                   GCancellable *cancellable, GError **error)
{
  ExecJob j = { conn, argv, -1, -1, -1, cancellable, 0, NULL, FALSE };
  int sv[2] = { -1, -1 };
  GThread *th;
  GError *local = NULL;
  gboolean streamed = TRUE;
  g_autofree char *err_text = NULL;

  j.err_fd = memfd_create ("banger-guest-stderr", MFD_CLOEXEC);
  if (j.err_fd < 0 || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot set up the stream to the guest");
      if (j.err_fd >= 0)
        close (j.err_fd);
      return FALSE;
    }
  if (writer != NULL)
    j.in_fd = sv[0];
  else
    j.out_fd = sv[0];
  th = g_thread_new ("bgr-guest-pipe", exec_thread, &j);
  if (writer != NULL)
    streamed = writer (sv[1], data, cancellable, &local);
  else if (reader != NULL)
    {
      streamed = reader (sv[1], data, cancellable, &local);
      /* Drain to the end (a reader may stop at the tar's end marker, before
       * the padding): the command writing into a closed socket would
       * raise SIGPIPE. */
      for (;;)
        {
          char sink[4096];
          ssize_t n = read (sv[1], sink, sizeof sink);
          if (n == 0 || (n < 0 && errno != EINTR))
            break;
        }
    }
  /* Done writing (EOF for the guest), or gave up reading. */
  shutdown (sv[1], writer != NULL ? SHUT_WR : SHUT_RDWR);
  if (!streamed && writer != NULL)
    shutdown (sv[1], SHUT_RDWR);
  g_thread_join (th);
  close (sv[0]);
  close (sv[1]);
  err_text = read_memfd (j.err_fd, ERR_MAX);
  close (j.err_fd);
  if (!j.ok)
    {
      g_clear_error (&local);
      bgr_propagate_error (error, j.error, "%s: ", what);
      return FALSE;
    }
  if (j.status != 0)
    {
      g_clear_error (&local);
      g_set_error (error, BGR_ERROR, j.status == 127 ? BGR_ERROR_NOT_FOUND : BGR_ERROR_FAILED,
                   "%s failed in the guest (exit status %d)%s%s", what, j.status,
                   err_text != NULL ? ": " : "", err_text != NULL ? err_text : "");
      return FALSE;
    }
  if (!streamed)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

char *
bgr_vm_guest_output (BgrAgentConn *conn, const char *const *argv, gint *out_status,
                     GCancellable *cancellable, GError **error)
{
  int out = memfd_create ("banger-guest-stdout", MFD_CLOEXEC);
  char *text;
  gboolean ok;

  if (out < 0)
    {
      bgr_set_error_errno (error, errno, "cannot run a command in the guest");
      return NULL;
    }
  ok = bgr_agent_conn_exec (conn, argv, NULL, "/", 60 * 1000, -1, out, -1, out_status,
                            cancellable, error);
  text = ok ? read_memfd (out, 1024 * 1024) : NULL;
  close (out);
  if (ok && text == NULL)
    text = g_strdup ("");
  return text;
}

gboolean
bgr_guest_path_check (const char *option, const char *path, const char *root, GError **error)
{
  g_auto (GStrv) parts = NULL;
  gboolean ok = path != NULL && path[0] == '/' && strlen (path) < 4096;

  if (ok)
    {
      parts = g_strsplit (path + 1, "/", -1);
      for (char **p = parts; *p != NULL; p++)
        if (**p == '\0' || strcmp (*p, ".") == 0 || strcmp (*p, "..") == 0)
          ok = FALSE;
    }
  if (!ok)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "%s '%s' is not a plain absolute guest path (no '.', '..' or '//' parts)",
                   option, path != NULL ? path : "");
      return FALSE;
    }
  if (root != NULL && (!g_str_has_prefix (path, root) || path[strlen (root)] != '/'
                       || path[strlen (root) + 1] == '\0'))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "%s '%s' is outside %s: workspaces live under %s/ (on the VM's work disk)",
                   option, path, root, root);
      return FALSE;
    }
  return TRUE;
}
