/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <ext2fs/ext2fs.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-private.h"

gboolean
bgr_ext4_check (const char *path, const char *what, GError **error)
{
  ext2_filsys fs = NULL;
  errcode_t rc;
  gboolean ext4;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s %s does not exist", what, path);
      return FALSE;
    }
  rc = ext2fs_open (path, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
  if (rc != 0)
    {
      bgr_set_error_from_ext2fs (error, rc, "%s %s is not an ext4 filesystem", what, path);
      return FALSE;
    }
  /* What makes it ext4 rather than ext2/3: extents or the other
   * ext4-only incompat features mkfs.ext4 sets. */
  ext4 = ext2fs_has_feature_extents (fs->super) || ext2fs_has_feature_flex_bg (fs->super)
         || ext2fs_has_feature_64bit (fs->super);
  ext2fs_close_free (&fs);
  if (!ext4)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "%s %s is an ext2/ext3 filesystem, not ext4 (make it with mkfs.ext4)", what,
                   path);
      return FALSE;
    }
  return TRUE;
}

char *
bgr_ext4_find_tool (const char *name)
{
  static const char *const fallback[] = { "/usr/sbin", "/sbin" };
  char *p = g_find_program_in_path (name);

  /* /usr/sbin is often not in an unprivileged user's PATH. */
  for (guint i = 0; p == NULL && i < G_N_ELEMENTS (fallback); i++)
    {
      p = g_build_filename (fallback[i], name, NULL);
      if (!g_file_test (p, G_FILE_TEST_IS_EXECUTABLE))
        g_clear_pointer (&p, g_free);
    }
  return p;
}
