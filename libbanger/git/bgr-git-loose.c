/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loose objects read with ISA-L (bgr-git-loose-private.h). A loose object
 * is a file objects/xx/yyyy... holding the zlib stream of "<type> <size>\0"
 * and the content; libgit2 inflates it with zlib, several times slower
 * than ISA-L, and a workspace of source files reads hundreds of MB of
 * them. Anything unusual is left to libgit2. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "git/bgr-git-loose-private.h"

#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>

#define MAX_LOOSE_FILE (1u << 30) /* larger ones go through libgit2 */
#define HEADER_MAX 32             /* "commit 18446744073709551615\0" fits */

static gboolean
read_file (const char *path, guint8 **out, gsize *len)
{
  struct stat st;
  gchar *buf = NULL;

  if (stat (path, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size <= 2
      || (guint64) st.st_size > MAX_LOOSE_FILE || !g_file_get_contents (path, &buf, len, NULL))
    return FALSE;
  *out = (guint8 *) buf;
  return TRUE;
}

/* "<type> <size>\0" at the start of @h (@n bytes): its length with the
 * NUL, or 0. */
static gsize
parse_header (const guint8 *h, gsize n, git_object_t *type, guint64 *size)
{
  const guint8 *nul = memchr (h, '\0', n), *sp = memchr (h, ' ', n);
  g_autofree char *name = NULL;
  guint64 v = 0;

  if (nul == NULL || sp == NULL || sp > nul || sp == h || sp + 1 == nul)
    return 0;
  name = g_strndup ((const char *) h, (gsize) (sp - h));
  *type = git_object_string2type (name);
  if (*type != GIT_OBJECT_BLOB && *type != GIT_OBJECT_TREE && *type != GIT_OBJECT_COMMIT
      && *type != GIT_OBJECT_TAG)
    return 0;
  for (const guint8 *p = sp + 1; p < nul; p++)
    {
      if (*p < '0' || *p > '9' || v > (G_MAXUINT64 - 9) / 10)
        return 0;
      v = v * 10 + (guint64) (*p - '0');
    }
  *size = v;
  return (gsize) (nul - h) + 1;
}

BgrGitLoose
bgr_git_loose_read (const char *objects_dir, const git_oid *oid, git_object_t *type,
                    guint8 **data, gsize *size)
{
  char hex[GIT_OID_HEXSZ + 1];
  g_autofree char *path = NULL;
  g_autofree guint8 *file = NULL;
  g_autofree guint8 *content = NULL;
  struct inflate_state st;
  guint8 head[HEADER_MAX];
  gsize file_len = 0, hlen, got;
  guint64 len = 0;

  git_oid_tostr (hex, sizeof hex, oid);
  path = g_strdup_printf ("%s/%.2s/%s", objects_dir, hex, hex + 2);
  if (!read_file (path, &file, &file_len))
    return BGR_GIT_LOOSE_ASK_LIBGIT2;
  isal_inflate_init (&st);
  st.crc_flag = ISAL_ZLIB;
  st.next_in = file;
  st.avail_in = (guint32) file_len;
  st.next_out = head;
  st.avail_out = sizeof head;
  if (isal_inflate (&st) != ISAL_DECOMP_OK)
    return BGR_GIT_LOOSE_ASK_LIBGIT2;
  got = sizeof head - st.avail_out;
  hlen = parse_header (head, got, type, &len);
  if (hlen == 0 || got - hlen > len)
    return BGR_GIT_LOOSE_ASK_LIBGIT2;
  /* A header may claim any size: none that the file cannot inflate to
   * (deflate shrinks by 1032:1 at most) is allocated, here or by libgit2. */
  if (len / 1032 > file_len)
    return BGR_GIT_LOOSE_CORRUPT;
  if (len >= G_MAXUINT32)
    return BGR_GIT_LOOSE_ASK_LIBGIT2;
  /* One spare byte: a stream longer than its header says shows there. */
  content = g_malloc ((gsize) len + 1);
  memcpy (content, head + hlen, got - hlen);
  st.next_out = content + (got - hlen);
  st.avail_out = (guint32) (len + 1 - (got - hlen));
  if (isal_inflate (&st) != ISAL_DECOMP_OK
      || st.block_state != ISAL_BLOCK_FINISH || st.avail_out != 1)
    return BGR_GIT_LOOSE_ASK_LIBGIT2;
  *data = g_steal_pointer (&content);
  *size = (gsize) len;
  return BGR_GIT_LOOSE_READ;
}

#else

BgrGitLoose
bgr_git_loose_read (const char *objects_dir, const git_oid *oid, git_object_t *type,
                    guint8 **data, gsize *size)
{
  (void) objects_dir, (void) oid, (void) type, (void) data, (void) size;
  return BGR_GIT_LOOSE_ASK_LIBGIT2;
}

#endif
