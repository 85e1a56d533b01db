/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a download's bytes go (bgr-download-internal.h): the .part file,
 * hashed as it grows, or memory. */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "net/bgr-download-internal.h"

gboolean
bgr_download_sink_write (Download *d, const guint8 *data, gsize len, GError **error)
{
  if (d->mem != NULL)
    g_byte_array_append (d->mem, data, (guint) len);
  else
    {
      if (!bgr_write_all (d->fd, data, len))
        {
          bgr_set_error_errno (error, errno, "cannot write %s", d->part);
          return FALSE;
        }
      bgr_sha256_update (d->sum, data, len);
    }
  d->done += len;
  return TRUE;
}

gboolean
bgr_download_sink_reset (Download *d, GError **error)
{
  d->done = 0;
  d->stale_prefix = FALSE;
  if (d->mem != NULL)
    {
      g_byte_array_set_size (d->mem, 0);
      return TRUE;
    }
  bgr_sha256_reset (d->sum);
  if (ftruncate (d->fd, 0) != 0 || lseek (d->fd, 0, SEEK_SET) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot truncate %s", d->part);
      return FALSE;
    }
  return TRUE;
}
