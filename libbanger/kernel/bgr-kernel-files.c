/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <string.h>

#include "bgr-error-private.h"
#include "kernel/bgr-kernel-files-private.h"

const char *const bgr_microvm_modules[] = {
  "virtio", "virtio_ring", "virtio_mmio", "virtio_blk", "virtio_net",
  "virtio_console", "virtio_balloon", "vsock", "vmw_vsock_virtio_transport", "ext4", NULL
};

const char *
bgr_kernel_format_to_string (BgrKernelFormat format)
{
  return format == BGR_KERNEL_FORMAT_VMLINUX ? "vmlinux" : "bzimage";
}

gboolean
bgr_kernel_detect_format (const char *path, BgrKernelFormat *out_format, char **out_version,
                          GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = NULL;
  g_autoptr (GError) local_error = NULL;
  guint8 hdr[0x400];
  gsize n = 0;

  in = g_file_read (file, NULL, &local_error);
  if (in == NULL)
    {
      bgr_propagate_error (error, g_steal_pointer (&local_error), "kernel %s", path);
      return FALSE;
    }
  if (!g_input_stream_read_all (G_INPUT_STREAM (in), hdr, sizeof hdr, &n, NULL, &local_error))
    {
      bgr_propagate_error (error, g_steal_pointer (&local_error), "kernel %s", path);
      return FALSE;
    }
  if (n >= sizeof (Elf64_Ehdr) && memcmp (hdr, ELFMAG, SELFMAG) == 0)
    {
      Elf64_Ehdr eh;
      memcpy (&eh, hdr, sizeof eh);
      if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "kernel %s is an ELF file but not an x86-64 vmlinux (class %u, machine %u, type %u)",
                       path, eh.e_ident[EI_CLASS], eh.e_machine, eh.e_type);
          return FALSE;
        }
      *out_format = BGR_KERNEL_FORMAT_VMLINUX;
      if (out_version != NULL)
        *out_version = NULL;
      return TRUE;
    }
  /* x86 boot protocol: "HdrS" at 0x202, version at 0x206, and the offset of
   * the version string (minus 0x200) at 0x20e. */
  if (n >= 0x210 && memcmp (hdr + 0x202, "HdrS", 4) == 0 && hdr[0x1fe] == 0x55 && hdr[0x1ff] == 0xaa)
    {
      *out_format = BGR_KERNEL_FORMAT_BZIMAGE;
      if (out_version != NULL)
        {
          /* The version string lives further in the file: read it there. */
          goffset off = (goffset) (hdr[0x20e] | (hdr[0x20f] << 8)) + 0x200;
          char vbuf[256] = "";
          gsize got = 0;
          *out_version = NULL;
          if (g_seekable_seek (G_SEEKABLE (in), off, G_SEEK_SET, NULL, NULL)
              && g_input_stream_read_all (G_INPUT_STREAM (in), vbuf, sizeof vbuf - 1, &got, NULL,
                                          NULL)
              && got > 0)
            {
              gsize len = strnlen (vbuf, got);
              const char *sp = memchr (vbuf, ' ', len);
              if (len > 0 && len < got)
                *out_version = g_strndup (vbuf, sp != NULL ? (gsize) (sp - vbuf) : len);
            }
        }
      return TRUE;
    }
  g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
               "kernel %s is neither an ELF vmlinux nor a bzImage", path);
  return FALSE;
}

static gboolean
looks_like_version_tree (const char *dir)
{
  g_autofree char *kernel = g_build_filename (dir, "kernel", NULL);
  g_autofree char *order = g_build_filename (dir, "modules.order", NULL);
  g_autofree char *builtin = g_build_filename (dir, "modules.builtin", NULL);
  return g_file_test (kernel, G_FILE_TEST_IS_DIR) || g_file_test (order, G_FILE_TEST_EXISTS)
         || g_file_test (builtin, G_FILE_TEST_EXISTS);
}

gboolean
bgr_modules_find_tree (const char *dir, char **out_tree, char **out_version, GError **error)
{
  g_autofree char *libmods = g_build_filename (dir, "lib", "modules", NULL);
  const char *base = dir;
  g_autoptr (GDir) d = NULL;
  g_autofree char *found = NULL;
  const char *entry;
  guint count = 0;

  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "modules directory %s does not exist",
                   dir);
      return FALSE;
    }
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "modules %s is not a directory (give the modules tree: /lib/modules/VERSION "
                   "or a directory holding it)", dir);
      return FALSE;
    }
  if (looks_like_version_tree (dir))
    {
      *out_tree = g_strdup (dir);
      *out_version = g_path_get_basename (dir);
      return TRUE;
    }
  if (g_file_test (libmods, G_FILE_TEST_IS_DIR))
    base = libmods;
  d = g_dir_open (base, 0, NULL);
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *sub = g_build_filename (base, entry, NULL);
      if (g_file_test (sub, G_FILE_TEST_IS_DIR) && looks_like_version_tree (sub))
        {
          count++;
          g_free (found);
          found = g_strdup (entry);
        }
    }
  if (count != 1)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   count == 0 ? "%s holds no kernel modules tree (expected lib/modules/<version>/ "
                                "or <version>/ with kernel/ or modules.order)"
                              : "%s holds modules of several kernel versions; name one of them",
                   dir);
      return FALSE;
    }
  *out_tree = g_build_filename (base, found, NULL);
  *out_version = g_steal_pointer (&found);
  return TRUE;
}

char *
bgr_module_name_from_path (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  char *ko = g_strrstr (base, ".ko");

  if (ko == NULL)
    return NULL;
  *ko = '\0';
  g_strdelimit (base, "-", '_');
  return g_steal_pointer (&base);
}

GBytes *
bgr_module_read (const char *path, GError **error)
{
  struct archive *a;
  struct archive_entry *entry;
  GByteArray *buf;
  char chunk[65536];
  la_ssize_t n;

  if (g_str_has_suffix (path, ".ko"))
    {
      g_autoptr (GError) local_error = NULL;
      char *data = NULL;
      gsize len = 0;
      if (!g_file_get_contents (path, &data, &len, &local_error))
        {
          bgr_propagate_error (error, g_steal_pointer (&local_error), "module %s", path);
          return NULL;
        }
      return g_bytes_new_take (data, len);
    }
  /* .ko.xz, .ko.zst, .ko.gz: libarchive's raw format decompresses. */
  a = archive_read_new ();
  archive_read_support_filter_all (a);
  archive_read_support_format_raw (a);
  if (archive_read_open_filename (a, path, 65536) != ARCHIVE_OK
      || archive_read_next_header (a, &entry) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, a, "module %s", path);
      archive_read_free (a);
      return NULL;
    }
  buf = g_byte_array_new ();
  while ((n = archive_read_data (a, chunk, sizeof chunk)) > 0)
    {
      if (buf->len + (gsize) n > 256 * 1024 * 1024)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "module %s is too large", path);
          g_byte_array_unref (buf);
          archive_read_free (a);
          return NULL;
        }
      g_byte_array_append (buf, (const guint8 *) chunk, (guint) n);
    }
  if (n < 0)
    {
      bgr_set_error_from_archive (error, a, "module %s", path);
      g_byte_array_unref (buf);
      archive_read_free (a);
      return NULL;
    }
  archive_read_free (a);
  return g_byte_array_free_to_bytes (buf);
}

GHashTable *
bgr_module_read_modinfo (const char *path, GError **error)
{
  g_autoptr (GBytes) bytes = bgr_module_read (path, error);
  GHashTable *info;
  const guint8 *data;
  gsize len;
  Elf64_Ehdr eh;
  const char *shstr;
  gsize shstr_size;

  if (bytes == NULL)
    return NULL;
  data = g_bytes_get_data (bytes, &len);
  if (len < sizeof eh || memcmp (data, ELFMAG, SELFMAG) != 0)
    goto bad;
  memcpy (&eh, data, sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof (Elf64_Shdr)
      || eh.e_shoff > len || (guint64) eh.e_shnum * sizeof (Elf64_Shdr) > len - eh.e_shoff
      || eh.e_shstrndx >= eh.e_shnum)
    goto bad;
  {
    Elf64_Shdr sh;
    memcpy (&sh, data + eh.e_shoff + (gsize) eh.e_shstrndx * sizeof sh, sizeof sh);
    if (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset)
      goto bad;
    shstr = (const char *) data + sh.sh_offset;
    shstr_size = sh.sh_size;
  }
  info = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < eh.e_shnum; i++)
    {
      Elf64_Shdr sh;
      memcpy (&sh, data + eh.e_shoff + (gsize) i * sizeof sh, sizeof sh);
      if (sh.sh_name >= shstr_size || strncmp (shstr + sh.sh_name, ".modinfo",
                                               shstr_size - sh.sh_name) != 0)
        continue;
      if (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset)
        {
          g_hash_table_unref (info);
          goto bad;
        }
      /* NUL-separated "key=value" strings. */
      for (gsize off = 0; off < sh.sh_size;)
        {
          const char *s = (const char *) data + sh.sh_offset + off;
          gsize slen = strnlen (s, sh.sh_size - off);
          const char *eq = memchr (s, '=', slen);
          if (eq != NULL)
            g_hash_table_insert (info, g_strndup (s, eq - s), g_strndup (eq + 1, slen - (eq - s) - 1));
          off += slen + 1;
        }
      return info;
    }
  g_hash_table_unref (info);
  g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "module %s has no .modinfo section", path);
  return NULL;
bad:
  g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA, "module %s is not a valid ELF64 module",
               path);
  return NULL;
}

static gboolean
index_dir (GHashTable *index, const char *tree, const char *rel, int depth, GError **error)
{
  g_autofree char *path = rel[0] != '\0' ? g_build_filename (tree, rel, NULL) : g_strdup (tree);
  g_autoptr (GDir) d = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *entry;

  if (depth > 32)
    return TRUE;
  d = g_dir_open (path, 0, &local_error);
  if (d == NULL)
    {
      bgr_propagate_error (error, g_steal_pointer (&local_error), "cannot read %s", path);
      return FALSE;
    }
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *child_rel = rel[0] != '\0' ? g_build_filename (rel, entry, NULL) : g_strdup (entry);
      g_autofree char *child = g_build_filename (tree, child_rel, NULL);

      /* Never follow symlinks out of the tree (build/, source/). */
      if (g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        {
          if (!index_dir (index, tree, child_rel, depth + 1, error))
            return FALSE;
        }
      else if (g_str_has_suffix (entry, ".ko") || g_str_has_suffix (entry, ".ko.xz")
               || g_str_has_suffix (entry, ".ko.zst") || g_str_has_suffix (entry, ".ko.gz"))
        {
          char *name = bgr_module_name_from_path (entry);
          if (name != NULL && !g_hash_table_contains (index, name))
            g_hash_table_insert (index, name, g_steal_pointer (&child_rel));
          else
            g_free (name);
        }
    }
  return TRUE;
}

GHashTable *
bgr_modules_index (const char *tree, GError **error)
{
  GHashTable *index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (!index_dir (index, tree, "", 0, error))
    {
      g_hash_table_unref (index);
      return NULL;
    }
  return index;
}

/* Depth-first: dependencies before their users; a cycle is an error. */
static gboolean
visit (const char *name, const char *tree, GHashTable *index, GHashTable *state,
       GPtrArray *order, GError **error)
{
  const char *rel = g_hash_table_lookup (index, name);
  gpointer st = g_hash_table_lookup (state, name);
  g_autofree char *path = NULL;
  g_autoptr (GHashTable) info = NULL;
  const char *depends;

  if (rel == NULL)
    return TRUE; /* built in */
  if (st == GINT_TO_POINTER (2))
    return TRUE;
  if (st == GINT_TO_POINTER (1))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                   "module dependency cycle through %s", name);
      return FALSE;
    }
  g_hash_table_insert (state, g_strdup (name), GINT_TO_POINTER (1));
  path = g_build_filename (tree, rel, NULL);
  info = bgr_module_read_modinfo (path, error);
  if (info == NULL)
    return FALSE;
  depends = g_hash_table_lookup (info, "depends");
  if (depends != NULL && *depends != '\0')
    {
      g_auto (GStrv) deps = g_strsplit (depends, ",", -1);
      for (char **dep = deps; *dep != NULL; dep++)
        {
          g_autofree char *dname = g_strdelimit (g_strdup (g_strstrip (*dep)), "-", '_');
          if (*dname == '\0')
            continue;
          if (g_hash_table_lookup (index, dname) == NULL)
            {
              g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                           "module %s depends on %s, which is not in %s", name, dname, tree);
              return FALSE;
            }
          if (!visit (dname, tree, index, state, order, error))
            return FALSE;
        }
    }
  g_hash_table_insert (state, g_strdup (name), GINT_TO_POINTER (2));
  g_ptr_array_add (order, g_strdup (rel));
  return TRUE;
}

GPtrArray *
bgr_modules_resolve (const char *tree, const char *const *wanted, GError **error)
{
  g_autoptr (GHashTable) index = bgr_modules_index (tree, error);
  g_autoptr (GHashTable) state = NULL;
  g_autoptr (GPtrArray) order = NULL;

  if (index == NULL)
    return NULL;
  state = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  order = g_ptr_array_new_with_free_func (g_free);
  for (const char *const *w = wanted; *w != NULL; w++)
    if (!visit (*w, tree, index, state, order, error))
      return NULL;
  return g_steal_pointer (&order);
}
