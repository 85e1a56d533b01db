/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One progress line for every long call, drawn from its BgrOperation, and
 * Ctrl-C turned into bgr_operation_cancel(): the call then fails with
 * Cancelled and leaves nothing behind. A second Ctrl-C quits at once. */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "banger-cli.h"

struct _BangerProgress {
  BgrOperation *op;
  BangerProgressStyle style;
  const char *what;
  gboolean tty;
  gint64 start_us, phase_us, last_draw_us;
  char *line;            /* steps: "[4/6] starting the VMM" */
  GMutex lock;
  GCond cond;
  gboolean stop;
  GThread *ticker;       /* steps: redraws the elapsed time */
  GMainContext *sig_context;
  GMainLoop *sig_loop;
  GThread *sig_thread;   /* waits for SIGINT */
};

static void
draw_steps (BangerProgress *p, const char *end)
{
  fprintf (stderr, "\r\033[K%s... %.1f s%s", p->line,
           (double) (g_get_monotonic_time () - p->phase_us) / 1e6, end);
  fflush (stderr);
}

static void
draw_bytes (BangerProgress *p)
{
  g_autofree char *phase = bgr_operation_dup_phase (p->op);
  g_autofree char *msg = bgr_operation_dup_message (p->op);
  g_autofree char *d = banger_format_size (bgr_operation_get_done (p->op));
  guint64 total = bgr_operation_get_total (p->op);

  if (total > 0)
    {
      g_autofree char *t = banger_format_size (total);
      fprintf (stderr, "\r\033[K%s %s: %s%s%s / %s (%3.0f%%)",
               phase != NULL ? banger_shown (phase) : "pulling", p->what,
               msg != NULL ? banger_shown (msg) : "", msg != NULL ? ", " : "", d, t,
               100.0 * bgr_operation_get_fraction (p->op));
    }
  else
    fprintf (stderr, "\r\033[K%s %s: %s", phase != NULL ? banger_shown (phase) : "working on", p->what, d);
  fflush (stderr);
}

static gpointer
ticker (gpointer data)
{
  BangerProgress *p = data;

  g_mutex_lock (&p->lock);
  while (!p->stop)
    {
      gint64 until = g_get_monotonic_time () + 100000;
      while (!p->stop && g_cond_wait_until (&p->cond, &p->lock, until))
        ;
      if (!p->stop && p->line != NULL)
        draw_steps (p, "");
    }
  g_mutex_unlock (&p->lock);
  return NULL;
}

static void
on_changed (BgrOperation *op, gpointer data)
{
  BangerProgress *p = data;
  g_autofree char *phase = bgr_operation_dup_phase (op);
  gint64 now = g_get_monotonic_time ();

  if (!p->tty)
    return;
  g_mutex_lock (&p->lock);
  if (p->style == BANGER_PROGRESS_STEPS)
    {
      g_autofree char *line = g_strdup_printf ("[%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "] %s",
                                               bgr_operation_get_done (op),
                                               bgr_operation_get_total (op), banger_shown (phase));
      if (g_strcmp0 (line, p->line) != 0)
        {
          if (p->line != NULL)
            draw_steps (p, "\n");
          g_free (p->line);
          p->line = g_steal_pointer (&line);
          p->phase_us = now;
          draw_steps (p, "");
        }
    }
  else if (now - p->last_draw_us >= 100000
           || bgr_operation_get_done (op) == bgr_operation_get_total (op))
    {
      p->last_draw_us = now;
      draw_bytes (p);
    }
  g_mutex_unlock (&p->lock);
}

static gboolean
on_sigint (gpointer data)
{
  BangerProgress *p = data;

  fprintf (stderr, "\ncancelling (Ctrl-C again to quit at once)...\n");
  bgr_operation_cancel (p->op);
  signal (SIGINT, SIG_DFL);
  return G_SOURCE_REMOVE;
}

static gboolean
quit_sig_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static gpointer
sig_thread (gpointer data)
{
  BangerProgress *p = data;

  g_main_context_push_thread_default (p->sig_context);
  g_main_loop_run (p->sig_loop);
  g_main_context_pop_thread_default (p->sig_context);
  return NULL;
}

BangerProgress *
banger_progress_new (BangerProgressStyle style, const char *what, gboolean tty)
{
  BangerProgress *p = g_new0 (BangerProgress, 1);
  GSource *source;

  p->op = bgr_operation_new ();
  p->style = style;
  p->what = what;
  p->tty = tty;
  p->start_us = p->phase_us = g_get_monotonic_time ();
  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  g_signal_connect (p->op, "changed", G_CALLBACK (on_changed), p);
  if (tty && style == BANGER_PROGRESS_STEPS)
    p->ticker = g_thread_new ("progress", ticker, p);
  p->sig_context = g_main_context_new ();
  p->sig_loop = g_main_loop_new (p->sig_context, FALSE);
  source = g_unix_signal_source_new (SIGINT);
  g_source_set_callback (source, on_sigint, p, NULL);
  g_source_attach (source, p->sig_context);
  g_source_unref (source);
  p->sig_thread = g_thread_new ("sigint", sig_thread, p);
  return p;
}

BgrOperation *
banger_progress_get_operation (BangerProgress *p)
{
  return p->op;
}

double
banger_progress_elapsed (BangerProgress *p)
{
  return (double) (g_get_monotonic_time () - p->start_us) / 1e6;
}

void
banger_progress_end (BangerProgress *p, gboolean ok)
{
  if (p->ticker != NULL)
    {
      g_mutex_lock (&p->lock);
      p->stop = TRUE;
      g_cond_signal (&p->cond);
      g_mutex_unlock (&p->lock);
      g_thread_join (p->ticker);
    }
  /* From a source of its own context: a quit before the thread runs its
   * loop would be lost. */
  {
    GSource *quit = g_idle_source_new ();
    g_source_set_callback (quit, quit_sig_loop, p->sig_loop, NULL);
    g_source_attach (quit, p->sig_context);
    g_source_unref (quit);
  }
  g_thread_join (p->sig_thread);
  g_main_loop_unref (p->sig_loop);
  g_main_context_unref (p->sig_context);
  g_signal_handlers_disconnect_by_data (p->op, p);
  if (p->tty && p->style == BANGER_PROGRESS_STEPS && p->line != NULL)
    draw_steps (p, ok ? "\n" : " failed\n");
  else if (p->tty && p->style == BANGER_PROGRESS_BYTES && p->last_draw_us != 0)
    fprintf (stderr, "\n");
  g_free (p->line);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
  g_object_unref (p->op);
  g_free (p);
}
