/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrClient::vm-stats-sampled on a local client that supervises (as
 * bangerd's does), with the fake VMM and stats_poll_interval = 1s: each
 * stats sample of the running VM is announced in the client's main
 * context, with the VM's name and its stats as bgr_client_vm_stats() reads
 * them (guest memory, a later sampled_at each time, at least 0.5 s apart,
 * the CPU use from the second on). Waits run the main loop against a
 * deadline. */
#include "config.h"

#include <signal.h>

#include <banger/banger.h>

#include "bgr-fs-private.h"
#include "bgr-test-ext4.h"
#include "bgr-test-util.h"

#define WAIT_S 30

typedef struct {
  GMainLoop *loop;
  GThread *thread;      /* the one the signal must come in */
  GPtrArray *samples;   /* BgrVmStats */
  gboolean wrong_thread;
} Watch;

static void
on_sampled (BgrClient *client, const char *name, BgrVmStats *stats, gpointer data)
{
  Watch *w = data;

  if (g_thread_self () != w->thread)
    w->wrong_thread = TRUE;
  g_assert_cmpstr (name, ==, "s1");
  g_assert_cmpstr (bgr_vm_stats_get_name (stats), ==, "s1");
  g_ptr_array_add (w->samples, g_object_ref (stats));
  g_main_loop_quit (w->loop);
}

static gboolean
on_deadline (gpointer data)
{
  g_error ("no stats sample announced within %d s", WAIT_S);
  return G_SOURCE_REMOVE;
}

static void
test_sampled (void)
{
  /* An x86-64 ET_EXEC ELF header: enough for the engine's kernel checks. */
  static const guchar elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, [16] = 2, [18] = 62 };
  g_autoptr (GError) err = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bgr-st-XXXXXX", &err);
  g_autofree char *kernel = g_build_filename (dir, "vmlinux", NULL);
  g_autofree char *rootfs = g_build_filename (dir, "rootfs.ext4", NULL);
  g_autofree char *toml = NULL;
  g_autoptr (BgrConfig) config = NULL;
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrImageSpec) ispec = bgr_image_spec_new ("img");
  g_autoptr (BgrImage) image = NULL;
  g_autoptr (BgrVmSpec) vspec = bgr_vm_spec_new ("s1");
  g_autoptr (BgrVm) vm = NULL;
  g_autoptr (GArray) left = NULL;
  Watch w = { g_main_loop_new (NULL, FALSE), g_thread_self (),
              g_ptr_array_new_with_free_func (g_object_unref), FALSE };
  guint deadline;
  gint status = -1;

  g_assert_no_error (err);
  g_file_set_contents (kernel, (const char *) elf, sizeof elf, &err);
  g_assert_no_error (err);
  {
    const char *mkfs[] = { bgr_test_tool ("mkfs.ext4"), "-q", "-F", rootfs, "16M", NULL };
    g_spawn_sync (NULL, (char **) mkfs, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                  &status, &err);
    g_assert_no_error (err);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  toml = g_strdup_printf ("hypervisor = \"fake\"\nweb_listen_addr = \"\"\nstate_dir = \"%s/state\"\n"
                          "cache_dir = \"%s/cache\"\nstats_poll_interval = \"1s\"\n", dir, dir);
  config = bgr_config_load_from_data (toml, -1, "test-stats-events.toml", &err);
  g_assert_no_error (err);
  client = bgr_client_new_local (config, BGR_CLIENT_FLAGS_SUPERVISE, &err);
  g_assert_no_error (err);
  g_signal_connect (client, "vm-stats-sampled", G_CALLBACK (on_sampled), &w);

  bgr_image_spec_set_rootfs (ispec, rootfs);
  bgr_image_spec_set_kernel (ispec, kernel);
  image = bgr_client_image_register (client, ispec, NULL, &err);
  g_assert_no_error (err);
  bgr_vm_spec_set_image (vspec, "img");
  vm = bgr_client_vm_create (client, vspec, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);

  deadline = g_timeout_add_seconds (WAIT_S, on_deadline, NULL);
  while (w.samples->len < 3)
    g_main_loop_run (w.loop);
  g_source_remove (deadline);
  g_assert_false (w.wrong_thread);
  for (guint i = 0; i < w.samples->len; i++)
    {
      BgrVmStats *st = w.samples->pdata[i];
      g_assert_cmpint (bgr_vm_stats_get (st, "mem_total"), >, 0);
      g_assert_cmpint (bgr_vm_stats_get (st, "mem_available"), >=, 0);
      g_assert_cmpint (bgr_vm_stats_get (st, "mem_available"), <=,
                       bgr_vm_stats_get (st, "mem_total"));
      if (i > 0)
        {
          gint64 gap = bgr_vm_stats_get (st, "sampled_at")
                       - bgr_vm_stats_get (w.samples->pdata[i - 1], "sampled_at");
          /* One per interval (1 s), no more. */
          g_assert_cmpint (gap, >=, 500);
          g_assert_cmpint (bgr_vm_stats_get (st, "cpu_busy_permille"), >=, 0);
          g_assert_cmpint (bgr_vm_stats_get (st, "cpu_busy_permille"), <=, 1000);
        }
    }
  {
    /* What the client reads now is the last sample announced, or later. */
    g_autoptr (BgrVmStats) now = bgr_client_vm_stats (client, "s1", NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpint (bgr_vm_stats_get (now, "sampled_at"), >=,
                     bgr_vm_stats_get (w.samples->pdata[w.samples->len - 1], "sampled_at"));
  }

  g_assert_true (bgr_client_vm_delete (client, "s1", BGR_VM_DELETE_FLAGS_FORCE, NULL, &err));
  g_assert_no_error (err);
  g_signal_handlers_disconnect_by_data (client, &w);
  /* The announcements still queued hold the client: let them run, so that
   * the last reference (and the supervisor's threads) goes with ours. */
  g_clear_object (&client);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  left = bgr_test_processes_mentioning (dir);
  for (guint i = 0; i < left->len; i++)
    kill (g_array_index (left, gint, i), SIGKILL);
  g_ptr_array_unref (w.samples);
  g_main_loop_unref (w.loop);
  bgr_rm_rf (dir, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  bgr_test_export_dirs ();
  g_test_add_func ("/stats-events/sampled", test_sampled);
  return g_test_run ();
}
