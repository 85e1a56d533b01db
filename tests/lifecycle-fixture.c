/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fixture of the lifecycle tests: see lifecycle-fixture.h. */
#include "config.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lifecycle-fixture.h"

#include "bgr-fs-private.h"
#include "bgr-test-ext4.h"

/* ---- processes ---------------------------------------------------------------- */

/* A VM from the fake image: 1 vCPU, 128 MiB. */
BgrVm *
spec_create (BgrEngine *engine, const char *name, BgrOperation *op, GError **error)
{
  g_autoptr (BgrVmSpec) spec = bgr_vm_spec_new (name);

  bgr_vm_spec_set_image (spec, IMAGE);
  bgr_vm_spec_set_vcpus (spec, 1);
  bgr_vm_spec_set_memory_mib (spec, 128);
  return bgr_engine_create_vm (engine, spec, op, NULL, error);
}

/* Live processes whose command line mentions @needle (the agent's argv
 * holds its socket path, inside the state directory). Zombies have an
 * empty command line and do not count. */
guint
n_agents (Fixture *f)
{
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (f->state);
  return pids->len;
}

gboolean
pid_alive (gint pid, guint64 start_time)
{
  BgrVmmInstance probe = { .pid = pid, .start_time = start_time };
  return bgr_vmm_instance_is_alive (&probe);
}

/* ---- fixture ------------------------------------------------------------------- */

BgrEngine *
new_engine (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  BgrEngine *engine = bgr_engine_new (f->config, &err);

  g_assert_no_error (err);
  g_assert_nonnull (engine);
  return engine;
}

static void
make_image (Fixture *f)
{
  /* An x86-64 ET_EXEC ELF header: enough for the engine's kernel checks. */
  static const guchar elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, [16] = 2, [18] = 62 };
  g_autofree char *kernel = g_build_filename (f->dir, "vmlinux", NULL);
  g_autofree char *rootfs = g_build_filename (f->dir, "rootfs.ext4", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrImage) img = NULL;
  const char *mkfs[] = { bgr_test_tool ("mkfs.ext4"), "-q", "-F", rootfs, "16M", NULL };
  gint status = -1;

  g_file_set_contents (kernel, (const char *) elf, sizeof elf, &err);
  g_assert_no_error (err);
  /* Not bgr_run_env(): it sets environment variables, and the reaper
   * threads of earlier tests' agents are running. */
  g_spawn_sync (NULL, (char **) mkfs, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                &status, &err);
  g_assert_no_error (err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  img = bgr_engine_register_image (f->engine, IMAGE, rootfs, NULL, kernel, NULL, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (img);
}

void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *cache = NULL, *toml = NULL;

  (void) data;
  f->dir = g_dir_make_tmp ("bgr-lc-XXXXXX", &err);
  g_assert_no_error (err);
  f->state = g_build_filename (f->dir, "state", NULL);
  cache = g_build_filename (f->dir, "cache", NULL);
  toml = g_strdup_printf ("hypervisor = \"fake\"\n"
                          "web_listen_addr = \"\"\n"
                          "state_dir = \"%s\"\n"
                          "cache_dir = \"%s\"\n",
                          f->state, cache);
  f->config = bgr_config_load_from_data (toml, -1, "test-lifecycle.toml", &err);
  g_assert_no_error (err);
  f->engine = new_engine (f);
  make_image (f);
}

void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) left = bgr_test_processes_mentioning (f->state);

  (void) data;
  /* What a failed test left running. */
  for (guint i = 0; i < left->len; i++)
    kill (g_array_index (left, gint, i), SIGKILL);
  WAIT_UNTIL (n_agents (f) == 0, WAIT_MS);
  g_clear_pointer (&f->engine, bgr_engine_free);
  g_clear_object (&f->config);
  bgr_rm_rf (f->dir, NULL);
  g_free (f->state);
  g_free (f->dir);
}

/* ---- engine helpers ----------------------------------------------------------- */

BgrVm *
create_vm (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  BgrVm *vm = spec_create (f->engine, name, NULL, &err);

  g_assert_no_error (err);
  g_assert_nonnull (vm);
  g_assert_cmpint (bgr_vm_get_state (vm), ==, BGR_VM_STATE_RUNNING);
  return vm;
}

BgrVm *
get_vm (Fixture *f, const char *name)
{
  g_autoptr (GError) err = NULL;
  BgrVm *vm = bgr_engine_get_vm (f->engine, name, &err);

  g_assert_no_error (err);
  return vm;
}

gboolean
vm_state_is (Fixture *f, const char *name, const char *state)
{
  g_autoptr (BgrVm) vm = get_vm (f, name);
  return g_strcmp0 (bgr_vm_state_to_string (bgr_vm_get_state (vm)), state) == 0;
}

static char *
read_back (int fd)
{
  GString *s = g_string_new (NULL);
  char buf[4096];
  ssize_t n;

  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (s, buf, n);
  close (fd);
  return g_string_free (s, FALSE);
}

/* Runs @argv in VM @name; returns its status, or -1 with @error set. */
gint
exec_in (BgrEngine *engine, const char *name, const char *const *argv, char **out, char **err_out,
         GError **error)
{
  int out_fd = memfd_create ("stdout", MFD_CLOEXEC);
  int err_fd = memfd_create ("stderr", MFD_CLOEXEC);
  gint status = -1;
  gboolean ok;

  g_assert_cmpint (out_fd, >=, 0);
  g_assert_cmpint (err_fd, >=, 0);
  ok = bgr_engine_vm_exec (engine, name, argv, NULL, NULL, 10000, -1, out_fd, err_fd, &status,
                           NULL, error);
  {
    g_autofree char *o = read_back (out_fd), *e = read_back (err_fd);
    if (out != NULL)
      *out = g_steal_pointer (&o);
    if (err_out != NULL)
      *err_out = g_steal_pointer (&e);
  }
  return ok ? status : -1;
}

/* A command with real output and a real status, through the real agent. */
void
assert_exec_works (BgrEngine *engine, const char *name)
{
  static const char *const argv[] = { "sh", "-c", "echo out-$((6*7)); echo err >&2; exit 3", NULL };
  g_autoptr (GError) err = NULL;
  g_autofree char *out = NULL, *err_text = NULL;
  gint status = exec_in (engine, name, argv, &out, &err_text, &err);

  g_assert_no_error (err);
  g_assert_cmpint (status, ==, 3);
  g_assert_cmpstr (out, ==, "out-42\n");
  g_assert_cmpstr (err_text, ==, "err\n");
}
