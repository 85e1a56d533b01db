/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Error conversion for the outside libraries libbanger uses. Each helper is
 * called right where the foreign call failed, so no public function ever
 * exposes another library's error convention. */
#include "config.h"

#include <errno.h>
#include <archive.h>
#include <ext2fs/ext2fs.h>
#include <et/com_err.h>
#include <git2.h>
#include <libsoup/soup.h>

#include "bgr-error-private.h"

static int
code_from_errno (int errsv)
{
  GError tmp = { G_IO_ERROR, g_io_error_from_errno (errsv), NULL };
  return bgr_error_code_from_gio (&tmp);
}

void
bgr_set_error_from_http_status (GError **error, guint status, const char *reason,
                                const char *url)
{
  int code;

  if (status == 401 || status == 403)
    code = BGR_ERROR_PERMISSION_DENIED;
  else if (status == 404 || status == 410)
    code = BGR_ERROR_NOT_FOUND;
  else if (status == 408 || status == 504)
    code = BGR_ERROR_TIMED_OUT;
  else if (status >= 500)
    code = BGR_ERROR_NETWORK;
  else
    code = BGR_ERROR_PROTOCOL;
  g_set_error (error, BGR_ERROR, code, "%s: HTTP %u %s", url, status,
               reason != NULL && *reason != '\0' ? reason : soup_status_get_phrase (status));
}

void
bgr_propagate_soup_error (GError **dest, GError *src, const char *url)
{
  int code;

  if (src->domain == G_RESOLVER_ERROR || src->domain == G_TLS_ERROR)
    code = BGR_ERROR_NETWORK;
  else if (src->domain == SOUP_SESSION_ERROR)
    code = src->code == SOUP_SESSION_ERROR_MESSAGE_ALREADY_IN_QUEUE ? BGR_ERROR_BUSY
                                                                    : BGR_ERROR_PROTOCOL;
  else
    code = bgr_error_code_from_gio (src);
  g_set_error (dest, BGR_ERROR, code, "%s: %s", url, src->message);
  g_error_free (src);
}

void
bgr_set_error_from_archive (GError **error, struct archive *archive, const char *fmt, ...)
{
  g_autofree char *what = NULL;
  const char *msg = archive != NULL ? archive_error_string (archive) : NULL;
  int errsv = archive != NULL ? archive_errno (archive) : 0;
  int code;
  va_list ap;

  va_start (ap, fmt);
  what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  /* On Linux libarchive reports a bad format as EILSEQ, misuse as EINVAL
   * and anything unclassified as -1: all mean the data is bad. */
  if (errsv == EILSEQ || errsv == EINVAL || errsv == -1 || errsv == 0)
    code = BGR_ERROR_INVALID_DATA;
  else
    code = code_from_errno (errsv);
  g_set_error (error, BGR_ERROR, code, "%s: %s", what, msg != NULL ? msg : "archive error");
}

void
bgr_set_error_from_ext2fs (GError **error, long errcode, const char *fmt, ...)
{
  static gsize table_loaded = 0;
  g_autofree char *what = NULL;
  int code;
  va_list ap;

  /* error_message() knows libext2fs's codes only once its table is in. */
  if (g_once_init_enter (&table_loaded))
    {
      initialize_ext2_error_table ();
      g_once_init_leave (&table_loaded, 1);
    }
  va_start (ap, fmt);
  what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  switch (errcode)
    {
    case EXT2_ET_BAD_MAGIC:
    case EXT2_ET_SB_CSUM_INVALID:
    case EXT2_ET_CORRUPT_SUPERBLOCK:
    case EXT2_ET_UNSUPP_FEATURE:
    case EXT2_ET_RO_UNSUPP_FEATURE:
    case EXT2_ET_SHORT_READ:
      code = BGR_ERROR_INVALID_DATA;
      break;
    case EXT2_ET_BLOCK_ALLOC_FAIL:
    case EXT2_ET_INODE_ALLOC_FAIL:
    case EXT2_ET_DIR_NO_SPACE:
    case EXT2_ET_TOOSMALL:
      code = BGR_ERROR_NO_SPACE;
      break;
    case EXT2_ET_FILE_NOT_FOUND:
      code = BGR_ERROR_NOT_FOUND;
      break;
    case EXT2_ET_DIR_EXISTS:
    case EXT2_ET_FILE_EXISTS:
      code = BGR_ERROR_EXISTS;
      break;
    default:
      code = (errcode > 0 && errcode < 4096) ? code_from_errno ((int) errcode) : BGR_ERROR_FAILED;
      break;
    }
  g_set_error (error, BGR_ERROR, code, "%s: %s", what, error_message (errcode));
}

void
bgr_set_error_from_git (GError **error, int rc, const char *fmt, ...)
{
  g_autofree char *what = NULL;
  const git_error *gerr = git_error_last ();
  int code;
  va_list ap;

  va_start (ap, fmt);
  what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  switch (rc)
    {
    case GIT_ENOTFOUND: code = BGR_ERROR_NOT_FOUND; break;
    case GIT_EEXISTS: code = BGR_ERROR_EXISTS; break;
    case GIT_EAUTH: code = BGR_ERROR_PERMISSION_DENIED; break;
    case GIT_ECERTIFICATE: code = BGR_ERROR_NETWORK; break;
    case GIT_ELOCKED: code = BGR_ERROR_BUSY; break;
    case GIT_EUSER: code = BGR_ERROR_CANCELLED; break;
    case GIT_EINVALIDSPEC:
    case GIT_EINVALID: code = BGR_ERROR_INVALID_ARGUMENT; break;
    default:
      code = (gerr != NULL && (gerr->klass == GIT_ERROR_NET || gerr->klass == GIT_ERROR_HTTP
                               || gerr->klass == GIT_ERROR_SSH))
               ? BGR_ERROR_NETWORK
               : BGR_ERROR_FAILED;
      break;
    }
  g_set_error (error, BGR_ERROR, code, "%s: %s", what,
               gerr != NULL && gerr->message != NULL ? gerr->message : "libgit2 error");
}
