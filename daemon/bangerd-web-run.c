/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web UI's engine calls, run in worker threads while their request
 * waits (used by the API, the operations and the console stream). */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include "bangerd-web.h"

/* ---- running engine calls in worker threads ------------------------------- */

typedef struct {
  BgrdWeb *web;
  SoupServerMessage *msg;
  BgrdWebWork func;
  BgrdWebDone done;
  gpointer data;
  GDestroyNotify free_data;
} Run;

static void
run_free (Run *r)
{
  if (r->free_data != NULL)
    r->free_data (r->data);
  g_object_unref (r->msg);
  g_free (r);
}

static void
run_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Run *r = task_data;

  r->func (r->web, r->data, cancellable);
  bgrd_call_done (r->web->d);
  g_task_return_boolean (task, TRUE);
}

static void
run_finished (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *r = g_task_get_task_data (G_TASK (result));

  r->done (r->web, r->msg, r->data);
  soup_server_message_unpause (r->msg);
}

gboolean
bgrd_web_call_begin (BgrdWeb *web, SoupServerMessage *msg)
{
  Daemon *d = web->d;
  gboolean refused;

  g_mutex_lock (&d->calls_lock);
  refused = d->shutting_down || d->client == NULL;
  if (!refused)
    d->calls_in_flight++;
  g_mutex_unlock (&d->calls_lock);
  if (refused)
    bgrd_web_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "DaemonUnavailable",
                    "bangerd is shutting down");
  return !refused;
}

gboolean
bgrd_web_run (BgrdWeb *web, SoupServerMessage *msg, BgrdWebWork func, BgrdWebDone done,
              gpointer data, GDestroyNotify free_data)
{
  g_autoptr (GTask) task = NULL;
  Run *r;

  if (!bgrd_web_call_begin (web, msg))
    {
      if (free_data != NULL)
        free_data (data);
      return FALSE;
    }
  r = g_new0 (Run, 1);
  r->web = web;
  r->msg = g_object_ref (msg);
  r->func = func;
  r->done = done;
  r->data = data;
  r->free_data = free_data;
  soup_server_message_pause (msg);
  task = g_task_new (NULL, NULL, run_finished, NULL);
  g_task_set_task_data (task, r, (GDestroyNotify) run_free);
  g_task_run_in_thread (task, run_thread);
  return TRUE;
}
