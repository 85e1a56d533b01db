/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fake driver (hypervisor = "fake"), like libvirt's test:/// driver:
 * no VM at all, the real guest agent runs on the host instead, in its host
 * mode (`banger-vsock-agent --listen SOCK`, docs/agent-protocol.md). The
 * engine's whole VM lifecycle then runs for real (claims, records, boot,
 * exec through the agent, stop, kill, adoption after a restart,
 * reconciliation when the "VMM" dies) without root, KVM or QEMU, under
 * ASan, in milliseconds. For tests only.
 *
 * The agent is the one libbanger embeds and installs into every VM's
 * rootfs: it is written to RUN_DIR/banger-vsock-agent and started detached,
 * with its stderr as the VM's console, exactly as a VMM would be; the
 * kernel, disks, network and vCPUs of the configuration are not used.
 * Except, for the workspace tests, the work disk: with
 * BANGER_FAKE_WORK_ROOT set to a directory (the test's private /root),
 * what the work disk holds is copied there at each start, as a real guest
 * would find it mounted on /root (after waiting, as the real agent does,
 * while the host still writes it: BGR_AGENT_WORK_BUSY_MARK). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "ext4/bgr-ext4-private.h"
#include "vmm/bgr-vmm-private.h"

/* The agent binary, embedded (kernel/bgr-agent-blob.c). */
extern const char bgr_agent_blob_start[];
extern const char bgr_agent_blob_end[];

#define AGENT_SOCKET_MAX 107 /* sun_path less its NUL */

/* Waits, as the guest's agent does, while @work_disk starts with the
 * host's busy mark. */
static gboolean
wait_for_host (const char *work_disk, GCancellable *cancellable, GError **error)
{
  const gsize len = sizeof BGR_AGENT_WORK_BUSY_MARK - 1;
  char head[sizeof BGR_AGENT_WORK_BUSY_MARK];

  for (;;)
    {
      int fd = open (work_disk, O_RDONLY | O_CLOEXEC);
      gboolean busy = fd >= 0 && pread (fd, head, len, 0) == (ssize_t) len
                      && memcmp (head, BGR_AGENT_WORK_BUSY_MARK, len) == 0;
      if (fd >= 0)
        close (fd);
      if (!busy)
        return TRUE;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_usleep (5 * 1000);
    }
}

/* BANGER_FAKE_WORK_ROOT: the work disk's files copied into it. */
static gboolean
copy_work_disk (const char *work_disk, GCancellable *cancellable, GError **error)
{
  const char *root = g_getenv ("BANGER_FAKE_WORK_ROOT");
  g_autofree char *debugfs = NULL, *cmd = NULL, *lost = NULL, *err = NULL;
  gboolean had_lost;
  gint status = -1;

  if (root == NULL || work_disk == NULL)
    return TRUE;
  if (!wait_for_host (work_disk, cancellable, error))
    return FALSE;
  if ((debugfs = bgr_ext4_find_tool ("debugfs")) == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "BANGER_FAKE_WORK_ROOT needs debugfs");
      return FALSE;
    }
  lost = g_build_filename (root, "lost+found", NULL);
  had_lost = g_file_test (lost, G_FILE_TEST_EXISTS);
  cmd = g_strdup_printf ("rdump / \"%s\"", root);
  {
    const char *argv[] = { debugfs, "-R", cmd, work_disk, NULL };
    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                       &err, &status, error))
      return FALSE;
  }
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "debugfs rdump of %s failed: %s", work_disk,
                   err);
      return FALSE;
    }
  if (!had_lost)
    rmdir (lost);
  /* What the real agent removes once it copied the image's /root. */
  {
    g_autofree char *marker = g_build_filename (root, BGR_AGENT_WORK_SEED_MARKER, NULL);
    unlink (marker);
  }
  return TRUE;
}

static BgrVmmInstance *
fake_start (const BgrVmmConfig *c, GCancellable *cancellable, GError **error)
{
  g_autofree char *agent = g_build_filename (c->run_dir, "banger-vsock-agent", NULL);
  g_autofree char *sock = g_build_filename (c->run_dir, "agent.sock", NULL);
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autoptr (GError) local = NULL;
  /* The "guest's" /root, where banger puts keys and auth files: never the
   * host's own. */
  g_autofree char *home = g_build_filename (c->run_dir, "root", NULL);
  const char *argv[] = { agent, "--listen", sock, "--home", home, NULL };
  gint pid;

  if (strlen (sock) > AGENT_SOCKET_MAX)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "socket path %s is too long for a unix socket; use a shorter state_dir", sock);
      return NULL;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error)
      || !copy_work_disk (c->work_disk, cancellable, error))
    return NULL;
  unlink (sock);
  if (!g_file_set_contents_full (agent, bgr_agent_blob_start,
                                 (gssize) (bgr_agent_blob_end - bgr_agent_blob_start),
                                 G_FILE_SET_CONTENTS_NONE, 0700, &local))
    {
      bgr_propagate_error (error, g_steal_pointer (&local), "cannot write the guest agent");
      return NULL;
    }
  pid = bgr_vmm_spawn_detached (argv, c->console_log, error);
  if (pid <= 0)
    return NULL;
  inst = g_new0 (BgrVmmInstance, 1);
  inst->driver = g_strdup ("fake");
  inst->pid = pid;
  inst->start_time = bgr_vmm_process_start_time (pid);
  inst->agent_socket = g_steal_pointer (&sock);
  if (inst->start_time == 0)
    {
      g_autofree char *text = bgr_read_tail (c->console_log, 16 * 1024);
      g_autofree char *tail = bgr_last_lines (g_strstrip (text), 5);
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "the guest agent exited right after starting%s%s",
                   *tail ? ":\n" : "", tail);
      return NULL;
    }
  return g_steal_pointer (&inst);
}

static GIOStream *
fake_connect_agent (const BgrVmmInstance *inst, GCancellable *cancellable, GError **error)
{
  GSocketConnection *conn
    = bgr_vmm_connect_unix (inst->agent_socket, inst->pid, 2000, cancellable, error);
  return conn != NULL ? G_IO_STREAM (conn) : NULL;
}

/* The power button: the agent in host mode powers off on SIGTERM. */
static gboolean
fake_request_shutdown (const BgrVmmInstance *inst, GCancellable *cancellable, GError **error)
{
  (void) cancellable;
  if (!bgr_vmm_instance_is_alive (inst))
    return TRUE;
  if (kill (inst->pid, SIGTERM) < 0 && errno != ESRCH)
    {
      bgr_set_error_errno (error, errno, "cannot signal process %d", inst->pid);
      return FALSE;
    }
  return TRUE;
}

static gboolean
fake_metrics (const BgrVmmInstance *inst, BgrVmmMetrics *out, GError **error)
{
  if (!bgr_vmm_instance_is_alive (inst))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "process %d is gone", inst->pid);
      return FALSE;
    }
  bgr_vmm_process_metrics (inst->pid, out);
  return TRUE;
}

const BgrVmmDriver bgr_vmm_fake_driver = {
  .name = "fake",
  .start = fake_start,
  .connect_agent = fake_connect_agent,
  .request_shutdown = fake_request_shutdown,
  .metrics = fake_metrics,
};
