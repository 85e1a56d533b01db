/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local terminal of `banger vm exec -t`: raw mode while the guest's
 * terminal runs (so Ctrl-C, Ctrl-Z and every key reach the guest), and the
 * window size, sent again on every SIGWINCH as "ROWS COLS" lines. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "banger-cli.h"

static struct termios saved;
static gboolean raw_on;
static int resize_w = -1;

gboolean
banger_terminal_size (int fd, guint *rows, guint *cols)
{
  struct winsize ws;

  if (ioctl (fd, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0 || ws.ws_col == 0)
    return FALSE;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return TRUE;
}

void
banger_terminal_raw (int fd)
{
  struct termios t;

  if (raw_on || !isatty (fd) || tcgetattr (fd, &saved) < 0)
    return;
  t = saved;
  cfmakeraw (&t);
  if (tcsetattr (fd, TCSADRAIN, &t) == 0)
    raw_on = TRUE;
}

void
banger_terminal_restore (int fd)
{
  if (raw_on)
    tcsetattr (fd, TCSADRAIN, &saved);
  raw_on = FALSE;
}

static gpointer
winch_thread (gpointer data)
{
  sigset_t set;
  int sig;

  (void) data;
  sigemptyset (&set);
  sigaddset (&set, SIGWINCH);
  for (;;)
    {
      guint rows, cols;
      char line[32];
      int n;
      if (sigwait (&set, &sig) != 0)
        continue;
      if (!banger_terminal_size (STDIN_FILENO, &rows, &cols)
          && !banger_terminal_size (STDOUT_FILENO, &rows, &cols))
        continue;
      n = snprintf (line, sizeof line, "%u %u\n", rows, cols);
      if (write (resize_w, line, (size_t) n) < 0 && errno == EPIPE)
        return NULL;
    }
}

int
banger_terminal_watch_size (void)
{
  sigset_t set;
  int p[2];

  /* Blocked here, before the client's threads exist, so that they all
   * inherit the mask and only the watcher takes the signal. */
  sigemptyset (&set);
  sigaddset (&set, SIGWINCH);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  if (!g_unix_open_pipe (p, FD_CLOEXEC, NULL))
    return -1;
  resize_w = p[1];
  g_thread_unref (g_thread_new ("banger-winch", winch_thread, NULL));
  return p[0];
}
