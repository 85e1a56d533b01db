/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A new VM's work disk written while the VM boots: the disk's first bytes
 * (which ext4 leaves unused) hold BGR_AGENT_WORK_BUSY_MARK from before the
 * writer opens it until everything is written, and are then put back as
 * they were. The guest's agent reads them around its page cache and
 * mounts the disk only once the mark is gone. A write that fails cancels
 * the boot it runs beside; the caller removes the VM. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-error-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-disk-job-private.h"

#define MARK_LEN (sizeof BGR_AGENT_WORK_BUSY_MARK - 1)

struct _BgrVmDiskJob {
  const BgrVmDiskWrite *dw;
  char *work_disk;
  guchar saved[MARK_LEN]; /* what the mark covers */
  GCancellable *cancellable; /* the caller's, or NULL */
  GCancellable *boot;
  gulong handler;
  GThread *thread;
  GError *error;
};

/* Puts the mark on @path (keeping what it covers in @saved), or takes it
 * off (putting @saved back). */
static gboolean
set_mark (const char *path, guchar *saved, gboolean on, GError **error)
{
  int fd = open (path, O_RDWR | O_CLOEXEC);
  gboolean ok;

  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot open the work disk %s", path);
      return FALSE;
    }
  errno = 0;
  ok = (!on || pread (fd, saved, MARK_LEN, 0) == (ssize_t) MARK_LEN)
       && pwrite (fd, on ? (const void *) BGR_AGENT_WORK_BUSY_MARK : saved, MARK_LEN, 0)
            == (ssize_t) MARK_LEN;
  if (!ok)
    bgr_set_error_errno (error, errno != 0 ? errno : EIO, "cannot %s the work disk %s",
                         on ? "mark" : "unmark", path);
  close (fd);
  return ok;
}

static void
job_free (BgrVmDiskJob *job)
{
  if (job->handler != 0)
    g_cancellable_disconnect (job->cancellable, job->handler);
  g_clear_object (&job->cancellable);
  g_clear_object (&job->boot);
  g_clear_error (&job->error);
  g_free (job->work_disk);
  g_free (job);
}

static gpointer
job_thread (gpointer data)
{
  BgrVmDiskJob *job = data;

  if (!job->dw->write (job->dw->data, job->cancellable, &job->error)
      || !set_mark (job->work_disk, job->saved, FALSE, &job->error))
    g_cancellable_cancel (job->boot);
  return NULL;
}

static void
cancel_boot (GCancellable *caller, gpointer boot)
{
  (void) caller;
  g_cancellable_cancel (boot);
}

gboolean
bgr_vm_disk_job_begin (const BgrVmDiskWrite *dw, JsonObject *doc, BgrOperation *op,
                       GCancellable *cancellable, BgrVmDiskJob **out_job, GError **error)
{
  const char *work = bgr_record_str (doc, "work_disk");
  g_autoptr (GError) local = NULL;
  BgrVmDiskJob *job;

  *out_job = NULL;
  if (work == NULL)
    return TRUE;
  job = g_new0 (BgrVmDiskJob, 1);
  job->dw = dw;
  job->work_disk = g_strdup (work);
  if (!set_mark (work, job->saved, TRUE, error))
    {
      job_free (job);
      return FALSE;
    }
  if (!dw->begin (bgr_record_str (doc, "rootfs"), work, dw->data, op, &local))
    {
      /* Nothing to write after all, or a failure: the mark goes either way. */
      gboolean unmarked = set_mark (work, job->saved, FALSE, local == NULL ? error : NULL);
      job_free (job);
      if (local == NULL)
        return unmarked;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (dw->before_boot)
    {
      gboolean ok = dw->write (dw->data, cancellable, error)
                    && set_mark (work, job->saved, FALSE, error);
      job_free (job);
      return ok;
    }
  job->boot = g_cancellable_new ();
  if (cancellable != NULL)
    {
      job->cancellable = g_object_ref (cancellable);
      job->handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_boot), job->boot, NULL);
    }
  json_object_set_boolean_member (doc, "work_disk_busy", TRUE);
  job->thread = g_thread_new ("banger-disk-write", job_thread, job);
  *out_job = job;
  return TRUE;
}

GCancellable *
bgr_vm_disk_job_get_boot_cancellable (BgrVmDiskJob *job)
{
  return job->boot;
}

gboolean
bgr_vm_disk_job_finish (BgrVmDiskJob *job, JsonObject *doc, GError **error)
{
  gboolean ok;

  g_thread_join (job->thread);
  ok = job->error == NULL;
  if (ok)
    json_object_remove_member (doc, "work_disk_busy");
  else
    g_propagate_error (error, g_steal_pointer (&job->error));
  job_free (job);
  return ok;
}
