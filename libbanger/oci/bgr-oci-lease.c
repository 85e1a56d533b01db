/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Blob leases: how pulls and prunes in different processes (bangerd,
 * `--local` commands, Python) that share one cache_dir keep out of each
 * other's way.
 *
 * A lease on blob sha256:HEX is CACHE/oci/leases/HEX, an empty file. A
 * pull holds a shared flock() on it from the moment it knows the blob's
 * digest until it is done with the blob (image registered, or failed), so
 * pulls never wait for each other. A prune takes it exclusively, without
 * waiting: when it cannot, a pull uses the blob, and the blob (and its
 * .part file) stays; when it can, no pull can start using the blob until
 * the prune lets go, and the prune removes the blob and the lease file
 * while it holds the lock. A pull that got the lock on a lease file the
 * prune removed meanwhile sees that the file at the path is another one
 * (or none) and takes the lease again. flock() locks belong to the open
 * file, so this works between threads of one process as well. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "oci/bgr-oci-private.h"

struct _BgrOciLease {
  int fd;
  char *path;
};

static char *
lease_path (const char *cache_dir, const char *digest)
{
  return g_build_filename (cache_dir, "oci", "leases", digest + strlen ("sha256:"), NULL);
}

/* Whether @fd is (still) the file at @path. */
static gboolean
still_there (int fd, const char *path)
{
  struct stat held, now;

  return fstat (fd, &held) == 0 && lstat (path, &now) == 0 && held.st_dev == now.st_dev
         && held.st_ino == now.st_ino && S_ISREG (now.st_mode);
}

/* Opens (creating it) and locks @path with @how; -1 with @error set. */
static int
open_locked (const char *path, int how, GError **error)
{
  for (guint tries = 0;; tries++)
    {
      int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

      if (fd < 0)
        {
          bgr_set_error_errno (error, errno, "cannot open %s", path);
          return -1;
        }
      if (flock (fd, how) != 0)
        {
          int e = errno;
          close (fd);
          if (e == EWOULDBLOCK)
            g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY, "%s is held by a pull", path);
          else
            bgr_set_error_errno (error, e, "cannot lock %s", path);
          return -1;
        }
      if (still_there (fd, path))
        return fd;
      /* A prune removed it between our open and our lock. */
      close (fd);
      if (tries >= 100)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY, "%s keeps being removed", path);
          return -1;
        }
    }
}

static gboolean
make_dir (const char *cache_dir, GError **error)
{
  g_autofree char *dir = g_build_filename (cache_dir, "oci", "leases", NULL);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      return FALSE;
    }
  return TRUE;
}

BgrOciLease *
bgr_oci_lease_take (const char *cache_dir, const char *digest, gboolean exclusive,
                    GError **error)
{
  g_autofree char *path = NULL;
  BgrOciLease *lease;
  int fd;

  g_return_val_if_fail (cache_dir != NULL && digest != NULL, NULL);
  if (!bgr_oci_digest_is_valid (digest) || !g_str_has_prefix (digest, "sha256:"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid blob digest %s", digest);
      return NULL;
    }
  if (!make_dir (cache_dir, error))
    return NULL;
  path = lease_path (cache_dir, digest);
  fd = open_locked (path, exclusive ? LOCK_EX | LOCK_NB : LOCK_SH, error);
  if (fd < 0)
    return NULL;
  lease = g_new0 (BgrOciLease, 1);
  lease->fd = fd;
  lease->path = g_steal_pointer (&path);
  return lease;
}

void
bgr_oci_lease_release (BgrOciLease *lease)
{
  if (lease == NULL)
    return;
  close (lease->fd);
  g_free (lease->path);
  g_free (lease);
}

void
bgr_oci_lease_release_removing (BgrOciLease *lease)
{
  if (lease == NULL)
    return;
  /* Still under the exclusive lock: no pull holds it, and one that
   * opened it meanwhile will find it gone once it gets the lock. */
  if (still_there (lease->fd, lease->path))
    g_unlink (lease->path);
  bgr_oci_lease_release (lease);
}

gboolean
bgr_oci_lease_is_held (const char *cache_dir, const char *digest)
{
  g_autofree char *path = NULL;
  gboolean held;
  int fd;

  if (!bgr_oci_digest_is_valid (digest) || !g_str_has_prefix (digest, "sha256:"))
    return FALSE;
  path = lease_path (cache_dir, digest);
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return FALSE;
  held = flock (fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close (fd);
  return held;
}
