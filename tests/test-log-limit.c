/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's rate limit of repeated errors per D-Bus peer
 * (daemon/bangerd-loglimit.c), on a clock the test drives. */
#include "config.h"

#include "bangerd-loglimit.h"

#define SEC ((gint64) G_USEC_PER_SEC)

static GString *reports;

static void
on_report (const char *peer, const char *what, guint count, gpointer data)
{
  g_string_append_printf (reports, "%s|%s|%u\n", peer, what, count);
}

static guint
allowed (BgrdLogLimit *l, const char *peer, const char *what, guint times, gint64 now)
{
  guint n = 0;
  for (guint i = 0; i < times; i++)
    n += bgrd_log_limit_allow (l, peer, what, now);
  return n;
}

static void
test_burst_then_count (void)
{
  BgrdLogLimit *l = bgrd_log_limit_new (5, 10 * SEC, on_report, NULL);

  reports = g_string_new (NULL);
  /* 30 identical errors of one peer within the window: 5 logged. */
  g_assert_cmpuint (allowed (l, ":1.7", "GetVm failed: no VM named 'x'", 30, 100 * SEC), ==, 5);
  g_assert_cmpstr (reports->str, ==, "");
  /* Another peer, or another message, has its own budget. */
  g_assert_cmpuint (allowed (l, ":1.8", "GetVm failed: no VM named 'x'", 3, 101 * SEC), ==, 3);
  g_assert_cmpuint (allowed (l, ":1.7", "GetVm failed: no VM named 'y'", 6, 101 * SEC), ==, 5);
  /* Still within the window: nothing reported, still suppressed. */
  g_assert_false (bgrd_log_limit_allow (l, ":1.7", "GetVm failed: no VM named 'x'", 109 * SEC));
  g_assert_cmpstr (reports->str, ==, "");
  /* The window is over: the count comes first, then logging resumes. */
  g_assert_true (bgrd_log_limit_allow (l, ":1.7", "GetVm failed: no VM named 'x'", 110 * SEC));
  g_assert_cmpstr (reports->str, ==, ":1.7|GetVm failed: no VM named 'x'|26\n");
  /* A tick ends the other windows: only the one that suppressed reports. */
  g_string_truncate (reports, 0);
  bgrd_log_limit_expire (l, 111 * SEC);
  g_assert_cmpstr (reports->str, ==, ":1.7|GetVm failed: no VM named 'y'|1\n");
  /* Freeing reports what is still suppressed. */
  g_string_truncate (reports, 0);
  g_assert_cmpuint (allowed (l, ":1.9", "Stop failed: no", 7, 112 * SEC), ==, 5);
  bgrd_log_limit_free (l);
  g_assert_cmpstr (reports->str, ==, ":1.9|Stop failed: no|2\n");
  g_string_free (reports, TRUE);
}

static gpointer
hammer (gpointer data)
{
  return GUINT_TO_POINTER (allowed (data, ":1.5", "Ping failed: no", 100, 5 * SEC));
}

/* Four threads logging at once: still 5 in all, the rest counted. */
static void
test_threads (void)
{
  BgrdLogLimit *l = bgrd_log_limit_new (5, 3600 * SEC, on_report, NULL);
  GThread *threads[4];
  guint total = 0;

  reports = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("hammer", hammer, l);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    total += GPOINTER_TO_UINT (g_thread_join (threads[i]));
  g_assert_cmpuint (total, ==, 5);
  bgrd_log_limit_free (l);
  g_assert_cmpstr (reports->str, ==, ":1.5|Ping failed: no|395\n");
  g_string_free (reports, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log-limit/burst-then-count", test_burst_then_count);
  g_test_add_func ("/log-limit/threads", test_threads);
  return g_test_run ();
}
