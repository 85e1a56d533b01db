/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ssh key banger uses for guests: its path, and creating it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <banger/banger.h>

#include "bgr-config-private.h"
#include "bgr-error-private.h"

/* ---- ssh key ------------------------------------------------------------ */

/**
 * bgr_config_dup_ssh_key_path:
 * @self: a #BgrConfig
 *
 * Returns: (transfer full): the private key path banger uses for guests
 * Since: 0.1
 */
char *
bgr_config_dup_ssh_key_path (BgrConfig *self)
{
  return g_strdup (bgr_config_get_string (self, "ssh_key_path"));
}

/**
 * bgr_config_ensure_ssh_key:
 * @self: a #BgrConfig
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns the private key banger uses for guests. When `ssh_key_path` is
 * not set in the config and the default key does not exist yet, creates an
 * ed25519 key pair there with ssh-keygen (key 0600, directory 0700). A key
 * path set in the config must exist: banger never writes over or next to a
 * key the user chose.
 *
 * Returns: (transfer full): the private key path, or %NULL
 * Since: 0.1
 */
char *
bgr_config_ensure_ssh_key (BgrConfig *self, GCancellable *cancellable, GError **error)
{
  g_autofree char *path = bgr_config_dup_ssh_key_path (self);
  g_autofree char *dir = NULL;
  g_autofree char *tmpdir = NULL;
  g_autofree char *tmpkey = NULL;
  g_autofree char *tmppub = NULL;
  g_autofree char *pub = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *errout = NULL;
  g_autofree char *lockpath = NULL;
  int lockfd = -1;
  struct stat st;

  g_return_val_if_fail (BGR_IS_CONFIG (self), NULL);
  if (stat (path, &st) == 0)
    return g_steal_pointer (&path);
  if (!g_str_equal (bgr_config_get_source (self, "ssh_key_path"), "default"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "ssh key %s (ssh_key_path, set in %s) does not exist", path,
                   bgr_config_get_source (self, "ssh_key_path"));
      return NULL;
    }
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      return NULL;
    }
  if (chmod (dir, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot set mode 0700 on %s", dir);
      return NULL;
    }
  /* Serialise creators (daemon threads, other processes sharing HOME), then
   * look again: whoever held the lock before us may have made the key. */
  lockpath = g_build_filename (dir, ".keygen.lock", NULL);
  lockfd = open (lockpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (lockfd < 0 || flock (lockfd, LOCK_EX) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot lock %s", lockpath);
      if (lockfd >= 0)
        close (lockfd);
      return NULL;
    }
  if (stat (path, &st) == 0)
    {
      close (lockfd);
      return g_steal_pointer (&path);
    }
  /* Generate next to the final place, then rename: a crash or a racing
   * process never leaves a half-written key at the final path. */
  tmpdir = g_build_filename (dir, ".keygen-XXXXXX", NULL);
  if (g_mkdtemp_full (tmpdir, 0700) == NULL)
    {
      bgr_set_error_errno (error, errno, "cannot create a temporary directory in %s", dir);
      close (lockfd);
      return NULL;
    }
  tmpkey = g_build_filename (tmpdir, "id_ed25519", NULL);
  tmppub = g_strconcat (tmpkey, ".pub", NULL);
  pub = g_strconcat (path, ".pub", NULL);
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                           &local_error, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                           "banger", "-f", tmpkey, NULL);
  if (proc == NULL)
    {
      g_rmdir (tmpdir);
      close (lockfd);
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "cannot run ssh-keygen to create %s: %s (install openssh-client)", path,
                   local_error->message);
      return NULL;
    }
  if (!g_subprocess_communicate_utf8 (proc, NULL, cancellable, NULL, &errout, &local_error)
      || !g_subprocess_get_successful (proc))
    {
      g_unlink (tmpkey);
      g_unlink (tmppub);
      g_rmdir (tmpdir);
      close (lockfd);
      if (local_error != NULL)
        bgr_propagate_error (error, g_steal_pointer (&local_error), "ssh-keygen");
      else
        g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "ssh-keygen failed: %s",
                     errout != NULL ? g_strstrip (errout) : "");
      return NULL;
    }
  chmod (tmpkey, 0600);
  /* link() never replaces: a key that appeared meanwhile (made outside
   * banger) wins, and ours is discarded. */
  if (rename (tmppub, pub) != 0 || link (tmpkey, path) != 0)
    {
      int errsv = errno;
      g_unlink (tmpkey);
      g_unlink (tmppub);
      g_rmdir (tmpdir);
      close (lockfd);
      if (errsv == EEXIST)
        return g_steal_pointer (&path);
      bgr_set_error_errno (error, errsv, "cannot move new key to %s", path);
      return NULL;
    }
  g_unlink (tmpkey);
  g_rmdir (tmpdir);
  close (lockfd);
  return g_steal_pointer (&path);
}
