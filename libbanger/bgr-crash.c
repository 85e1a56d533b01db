/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The table of named crash points (bgr-crash-private.h). */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "bgr-crash-private.h"

const BgrCrashPoint bgr_crash_points[] = {
  { "image-register.checked", "image-register", "the files checked, nothing saved" },
  { "image-register.saved", "image-register", "the record saved" },
  { "image-promote.copied", "image-promote", "the files copied into a staging directory" },
  { "image-promote.moved", "image-promote", "the staging directory moved into place, the record not updated" },
  { "image-promote.saved", "image-promote", "the managed record saved" },
  { "image-pull.resolved", "image-pull", "the manifest resolved, no layer fetched" },
  { "image-pull.layer-partial", "image-pull", "part of a layer in its .part file" },
  { "image-pull.layers-fetched", "image-pull", "every layer in the cache and replayed, the rootfs not closed" },
  { "image-pull.rootfs-written", "image-pull", "the rootfs written in a staging directory" },
  { "image-pull.moved", "image-pull", "the staging directory moved into place, no record" },
  { "image-pull.saved", "image-pull", "the record saved" },
  { "image-build.vm-booted", "image-build", "the build VM running, no command run" },
  { "image-build.copied", "image-build", "the build VM's disks copied into a staging directory" },
  { "image-build.moved", "image-build", "the staging directory moved into place, no record" },
  { "image-build.saved", "image-build", "the record saved, the build VM not yet deleted" },
  { "image-delete.record-gone", "image-delete", "the record removed, the files moved aside" },
  { "image-delete.files-gone", "image-delete", "the files removed, the VM base not yet" },
  { "kernel-import.copied", "kernel-import", "the files copied into a staging directory" },
  { "kernel-import.moved", "kernel-import", "the staging directory moved into place, no record" },
  { "kernel-import.saved", "kernel-import", "the record saved" },
  { "kernel-pull.download-partial", "kernel-pull", "part of the kernel in its .part file" },
  { "kernel-pull.downloaded", "kernel-pull", "every file downloaded, nothing imported" },
  { "kernel-delete.record-gone", "kernel-delete", "the record removed, the files moved aside" },
  { "vm-create.record-saved", "vm-create", "the record saved (starting), no disk" },
  { "vm-create.base-made", "vm-create", "the image's VM base made, no disk cloned" },
  { "vm-create.disks-cloned", "vm-create", "the VM's disks cloned, no VMM" },
  { "vm-create.vmm-started", "vm-create", "the VMM started, not recorded" },
  { "vm-create.vmm-recorded", "vm-create", "the VMM recorded, the guest agent not yet answered" },
  { "vm-create.running", "vm-create", "the record says running" },
  { "vm-run.workspace-written", "vm-run", "the workspace written into the new VM's work disk as it boots, the disk still marked busy" },
  { "vm-start.vmm-started", "vm-start", "the VMM started, not recorded" },
  { "vm-start.vmm-recorded", "vm-start", "the VMM recorded, the guest agent not yet answered" },
  { "vm-start.running", "vm-start", "the record says running" },
  { "vm-stop.stopping-saved", "vm-stop", "the record says stopping, the guest not asked" },
  { "vm-stop.powered-off", "vm-stop", "the VMM gone, the record still stopping" },
  { "vm-kill.killed", "vm-kill", "the VMM killed, the record still running" },
  { "vm-delete.record-gone", "vm-delete", "the record removed, the files moved aside" },
  { NULL, NULL, NULL },
};

#ifdef BANGER_TEST_HOOKS
/* $BANGER_TEST_PAUSE_AT names the point: create $BANGER_TEST_PAUSE_FILE and
 * wait while it is there (at most two minutes), so that a test can do
 * something in another process at exactly this step, then remove it. */
static void
pause_here (const char *file)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  if (file == NULL || !g_file_set_contents (file, "", 0, NULL))
    return;
  while (g_file_test (file, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
}

void
bgr_crash_point (const char *name)
{
  static const char *at, *pause_at;
  static gsize once;
  gboolean known = FALSE;

  if (g_once_init_enter (&once))
    {
      at = g_getenv (BGR_CRASH_ENV);
      pause_at = g_getenv (BGR_PAUSE_ENV);
      g_once_init_leave (&once, 1);
    }
  for (const BgrCrashPoint *p = bgr_crash_points; p->name != NULL && !known; p++)
    known = strcmp (p->name, name) == 0;
  if (!known)
    g_error ("crash point %s is not in bgr_crash_points", name);
  if (pause_at != NULL && strcmp (pause_at, name) == 0)
    pause_here (g_getenv (BGR_PAUSE_FILE_ENV));
  if (at != NULL && strcmp (at, name) == 0)
    {
      g_autofree char *msg = g_strdup_printf ("banger: test crash at %s\n", name);
      ssize_t n = write (STDERR_FILENO, msg, strlen (msg));
      (void) n;
      _exit (BGR_CRASH_EXIT_STATUS);
    }
}

void
bgr_crash_point2 (const char *prefix, const char *step)
{
  g_autofree char *name = g_strconcat (prefix, ".", step, NULL);
  bgr_crash_point (name);
}
#endif
