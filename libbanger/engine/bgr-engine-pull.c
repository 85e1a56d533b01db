/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kernel list --available and kernel pull: the catalog, downloads into the
 * cache (resumable, verified), then an ordinary import. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "bgr-crash-private.h"
#include "bgr-error-private.h"
#include "bgr-operation-private.h"
#include "bgr-fs-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-private.h"
#include "net/bgr-catalog-private.h"
#include "net/bgr-download-private.h"
#include "kernel/bgr-kernel-files-private.h"

/* The catalog used when kernel_catalog_url is empty: kernels the host's own
 * package archive provides, so that a pull works with no other network. */
static const char builtin_catalog[] =
  "{ \"schema_version\": 1, \"kernels\": [\n"
  "  { \"name\": \"debian-cloud\", \"version\": \"the archive's current linux-image-cloud-amd64\",\n"
  "    \"arch\": \"x86_64\", \"source\": \"apt\",\n"
  "    \"description\": \"Debian's cloud kernel, fetched with apt-get download from the host's archive\",\n"
  "    \"apt\": { \"package\": \"linux-image-cloud-amd64\" } } ] }\n";

#define BUILTIN_URL "banger:builtin-kernels.json"

static BgrCatalog *
load_catalog (BgrEngine *engine, GCancellable *cancellable, GError **error)
{
  const char *url = bgr_config_get_string (bgr_engine_get_config (engine), "kernel_catalog_url");

  if (url == NULL || *url == '\0')
    return bgr_catalog_new_from_data (builtin_catalog, sizeof builtin_catalog - 1, BUILTIN_URL,
                                      error);
  return bgr_catalog_load (NULL, url, cancellable, error);
}

static const char *
host_arch (void)
{
  static struct utsname u;
  if (u.machine[0] == '\0' && uname (&u) != 0)
    return "x86_64";
  return u.machine;
}

GPtrArray *
bgr_engine_list_available_kernels (BgrEngine *engine, GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCatalog) catalog = load_catalog (engine, cancellable, error);
  GPtrArray *out;

  if (catalog == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < catalog->entries->len; i++)
    {
      const BgrCatalogEntry *e = catalog->entries->pdata[i];
      g_autoptr (JsonObject) doc = json_object_new ();
      gint64 size = 0;

      json_object_set_string_member (doc, "name", e->name);
      json_object_set_string_member (doc, "version", e->version);
      json_object_set_string_member (doc, "arch", e->arch);
      json_object_set_string_member (doc, "description", e->description);
      json_object_set_string_member (doc, "source", bgr_catalog_source_to_string (e->source));
      if (e->source == BGR_CATALOG_SOURCE_DOWNLOAD)
        {
          size = e->kernel->size;
          if (e->initrd != NULL)
            size += e->initrd->size;
          if (e->modules != NULL)
            size += e->modules->size;
        }
      json_object_set_int_member (doc, "size", size);
      json_object_set_string_member (doc, "catalog", catalog->url);
      g_ptr_array_add (out, bgr_catalog_kernel_new_from_json (doc));
    }
  return out;
}

typedef struct {
  BgrOperation *op;
  guint64 base;  /* bytes of the artifacts already done */
  guint64 total; /* bytes of all artifacts */
} PullProgress;

static void
on_artifact_progress (guint64 done, guint64 total, gpointer data)
{
  PullProgress *p = data;
  if (done > 0 && done < total)
    bgr_crash_point ("kernel-pull.download-partial");
  bgr_operation_update (p->op, "download", NULL, p->base + done, p->total);
}

/* Downloads into CACHE/downloads/SHA256, shared by every pull and kept for
 * the next one; returns the file's path. */
static char *
fetch_artifact (BgrEngine *engine, SoupSession *session, const BgrCatalogArtifact *a,
                PullProgress *progress, GCancellable *cancellable, GError **error)
{
  g_autofree char *dir = g_build_filename (bgr_config_get_string (bgr_engine_get_config (engine),
                                                                  "cache_dir"),
                                           "downloads", NULL);
  g_autofree char *dest = g_build_filename (dir, a->sha256, NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      return NULL;
    }
  /* Content-addressed: a file with this name was verified when it landed. */
  if (!g_file_test (dest, G_FILE_TEST_IS_REGULAR)
      && !bgr_download_file (session, a->url, dest, a->size, a->sha256, on_artifact_progress,
                             progress, cancellable, error))
    return NULL;
  progress->base += (guint64) a->size;
  bgr_operation_update (progress->op, "download", NULL, progress->base, progress->total);
  return g_steal_pointer (&dest);
}

static gboolean
safe_member (const char *path)
{
  g_auto (GStrv) parts = NULL;

  if (path[0] == '/')
    return FALSE;
  parts = g_strsplit (path, "/", -1);
  for (char **p = parts; *p != NULL; p++)
    if (g_str_equal (*p, ".."))
      return FALSE;
  return TRUE;
}

/* Unpacks a modules archive (tar, any compression libarchive reads):
 * regular files and directories only, no path may leave @dest. */
static gboolean
unpack_modules (const char *archive_path, const char *dest, const char *url, GError **error)
{
  struct archive *a = archive_read_new ();
  struct archive *w = archive_write_disk_new ();
  struct archive_entry *e;
  gboolean ok = FALSE;
  int rc;

  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  /* Names are checked above and rewritten to absolute paths under @dest;
   * libarchive still refuses ".." and writing through symlinks. */
  archive_write_disk_set_options (w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT
                                       | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  if (archive_read_open_filename (a, archive_path, 65536) != ARCHIVE_OK)
    {
      bgr_set_error_from_archive (error, a, "modules archive %s", url);
      goto out;
    }
  while ((rc = archive_read_next_header (a, &e)) == ARCHIVE_OK)
    {
      g_autofree char *copy = g_strdup (archive_entry_pathname (e));
      const char *name = copy;
      mode_t type = archive_entry_filetype (e);
      g_autofree char *target = NULL;

      while (g_str_has_prefix (name, "./"))
        name += 2;
      /* Hard links are reported as regular files: their target would be
       * resolved (and written through) outside our checks. */
      if (archive_entry_hardlink (e) != NULL || archive_entry_symlink (e) != NULL)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "modules archive %s: refusing link entry %s (only files and directories)",
                       url, name);
          goto out;
        }
      if (*name == '\0' || (type != AE_IFREG && type != AE_IFDIR))
        continue;
      if (!safe_member (name))
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                       "modules archive %s: refusing entry %s (it leaves the tree)", url, name);
          goto out;
        }
      target = g_build_filename (dest, name, NULL);
      archive_entry_set_pathname (e, target);
      archive_entry_set_uid (e, getuid ());
      archive_entry_set_gid (e, getgid ());
      if (archive_write_header (w, e) != ARCHIVE_OK)
        {
          bgr_set_error_from_archive (error, w, "modules archive %s: %s", url, name);
          goto out;
        }
      if (type == AE_IFREG)
        {
          const void *buf;
          size_t len;
          la_int64_t off;
          while ((rc = archive_read_data_block (a, &buf, &len, &off)) == ARCHIVE_OK)
            if (archive_write_data_block (w, buf, len, off) != ARCHIVE_OK)
              {
                bgr_set_error_from_archive (error, w, "modules archive %s: %s", url, name);
                goto out;
              }
          if (rc != ARCHIVE_EOF)
            {
              bgr_set_error_from_archive (error, a, "modules archive %s", url);
              goto out;
            }
        }
      archive_write_finish_entry (w);
    }
  if (rc != ARCHIVE_EOF)
    {
      bgr_set_error_from_archive (error, a, "modules archive %s", url);
      goto out;
    }
  ok = TRUE;
out:
  archive_read_free (a);
  archive_write_free (w);
  return ok;
}

/* linux-image-cloud-amd64 is a metapackage: the kernel is in the package
 * it depends on. Returns the package to download. */
static char *
resolve_apt_package (const char *package, GCancellable *cancellable, GError **error)
{
  g_autoptr (GSubprocess) p = NULL;
  g_autofree char *out = NULL, *err_text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) local = NULL;

  p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &local,
                        "apt-cache", "depends", package, NULL);
  if (p == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "this catalog entry needs apt (apt-cache): %s", local->message);
      return NULL;
    }
  if (!g_subprocess_communicate_utf8 (p, NULL, cancellable, &out, &err_text, &local))
    {
      bgr_propagate_error (error, g_steal_pointer (&local), "apt-cache depends %s", package);
      return NULL;
    }
  if (!g_subprocess_get_successful (p))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "package %s is not in this host's apt archive (run apt-get update?): %s",
                   package, g_strstrip (err_text));
      return NULL;
    }
  lines = g_strsplit (out, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      const char *s = g_strstrip (*l);
      if (g_str_has_prefix (s, "Depends: linux-image-"))
        return g_strdup (s + strlen ("Depends: "));
    }
  return g_strdup (package);
}

static char *
apt_download (BgrEngine *engine, const char *package, GCancellable *cancellable, GError **error)
{
  g_autofree char *dir = g_build_filename (bgr_config_get_string (bgr_engine_get_config (engine),
                                                                  "cache_dir"),
                                           "apt", NULL);
  g_autofree char *real = resolve_apt_package (package, cancellable, error);
  g_autoptr (GSubprocessLauncher) l = NULL;
  g_autoptr (GSubprocess) p = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *err_text = NULL;
  g_autoptr (GDir) d = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *tmp = NULL;
  const char *entry;

  if (real == NULL)
    return NULL;
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", dir);
      return NULL;
    }
  prefix = g_strdup_printf ("%s_", real);
  d = g_dir_open (dir, 0, NULL);
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (entry, prefix) && g_str_has_suffix (entry, ".deb"))
      return g_build_filename (dir, entry, NULL); /* complete: only renamed in when done */
  /* apt-get writes straight to the final name: let it write in a private
   * directory and move the package into the cache only once it is whole. */
  tmp = g_build_filename (dir, ".download-XXXXXX", NULL);
  if (g_mkdtemp_full (tmp, 0755) == NULL)
    {
      bgr_set_error_errno (error, errno, "cannot create a directory in %s", dir);
      return NULL;
    }
  if (getuid () == 0)
    g_chmod (tmp, 0777);
  l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_cwd (l, tmp);
  p = g_subprocess_launcher_spawn (l, &local, "apt-get", "download", "-q", real, NULL);
  if (p == NULL || !g_subprocess_communicate_utf8 (p, NULL, cancellable, NULL, &err_text, &local))
    {
      if (p != NULL)
        {
          g_subprocess_force_exit (p);
          g_subprocess_wait (p, NULL, NULL);
        }
      bgr_rm_rf (tmp, NULL);
      bgr_propagate_error (error, g_steal_pointer (&local), "apt-get download %s", real);
      return NULL;
    }
  if (!g_subprocess_get_successful (p))
    {
      bgr_rm_rf (tmp, NULL);
      g_set_error (error, BGR_ERROR, BGR_ERROR_NETWORK, "apt-get download %s failed: %s", real,
                   g_strstrip (err_text));
      return NULL;
    }
  g_clear_pointer (&d, g_dir_close);
  d = g_dir_open (tmp, 0, NULL);
  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (entry, prefix) && g_str_has_suffix (entry, ".deb"))
      {
        g_autofree char *from = g_build_filename (tmp, entry, NULL);
        char *to = g_build_filename (dir, entry, NULL);
        if (rename (from, to) != 0)
          {
            bgr_set_error_errno (error, errno, "cannot move %s to %s", from, to);
            g_free (to);
            to = NULL;
          }
        bgr_rm_rf (tmp, NULL);
        return to;
      }
  bgr_rm_rf (tmp, NULL);
  g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "apt-get download %s left no .deb", real);
  return NULL;
}

BgrKernel *
bgr_engine_pull_kernel (BgrEngine *engine, const char *name, BgrOperation *op,
                        GCancellable *cancellable, GError **error)
{
  g_autoptr (BgrCatalog) catalog = NULL;
  g_autoptr (BgrKernel) existing = NULL;
  g_autoptr (SoupSession) session = NULL;
  g_autofree char *kernel = NULL, *initrd = NULL, *modules_archive = NULL;
  g_autofree char *unpacked = NULL;
  const BgrCatalogEntry *e;
  PullProgress pp = { op, 0, 0 };
  BgrKernel *result = NULL;

  if (!bgr_catalog_name_is_valid (name))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid kernel name '%s'",
                   name != NULL ? name : "");
      return NULL;
    }
  existing = bgr_engine_get_kernel (engine, name, NULL);
  if (existing != NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                   "a kernel named '%s' already exists (delete it first to pull again)", name);
      return NULL;
    }
  catalog = load_catalog (engine, cancellable, error);
  if (catalog == NULL)
    return NULL;
  e = bgr_catalog_lookup (catalog, name);
  if (e == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "the kernel catalog (%s) has no kernel '%s' (see `banger kernel list --available`)",
                   catalog->url, name);
      return NULL;
    }
  if (!g_str_equal (e->arch, host_arch ()))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "kernel '%s' is for %s; this host is %s", name, e->arch, host_arch ());
      return NULL;
    }
  if (e->source == BGR_CATALOG_SOURCE_APT)
    {
      g_autofree char *deb = apt_download (engine, e->apt_package, cancellable, error);
      BgrKernel *k;
      if (deb == NULL)
        return NULL;
      k = bgr_engine_import_kernel_deb (engine, name, deb, cancellable, error);
      /* A package that cannot be read is of no use in the cache. */
      if (k == NULL && error != NULL && *error != NULL && (*error)->code == BGR_ERROR_INVALID_DATA)
        g_unlink (deb);
      return k;
    }

  pp.total = (guint64) e->kernel->size + (e->initrd != NULL ? (guint64) e->initrd->size : 0)
             + (e->modules != NULL ? (guint64) e->modules->size : 0);
  session = bgr_download_session_new ();
  kernel = fetch_artifact (engine, session, e->kernel, &pp, cancellable, error);
  if (kernel == NULL)
    return NULL;
  if (e->initrd != NULL
      && (initrd = fetch_artifact (engine, session, e->initrd, &pp, cancellable, error)) == NULL)
    return NULL;
  if (e->modules != NULL)
    {
      g_autofree char *tmpl = g_build_filename (bgr_config_get_string (bgr_engine_get_config (engine),
                                                                       "cache_dir"),
                                                ".modules-XXXXXX", NULL);
      modules_archive = fetch_artifact (engine, session, e->modules, &pp, cancellable, error);
      if (modules_archive == NULL)
        return NULL;
      if (g_mkdtemp_full (tmpl, 0700) == NULL)
        {
          bgr_set_error_errno (error, errno, "cannot create %s", tmpl);
          return NULL;
        }
      unpacked = g_steal_pointer (&tmpl);
      if (!unpack_modules (modules_archive, unpacked, e->modules->url, error))
        {
          bgr_rm_rf (unpacked, NULL);
          return NULL;
        }
    }
  bgr_crash_point ("kernel-pull.downloaded");
  /* The catalog says what the kernel is; the header must agree, before
   * anything is registered. */
  {
    const char *want = bgr_catalog_kernel_format_to_string (e->kernel_format);
    BgrKernelFormat got;
    if (!bgr_kernel_detect_format (kernel, &got, NULL, error))
      goto out;
    if ((g_str_equal (want, "elf") && got != BGR_KERNEL_FORMAT_VMLINUX)
        || (g_str_equal (want, "bzimage") && got != BGR_KERNEL_FORMAT_BZIMAGE))
      {
        g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_DATA,
                     "catalog says kernel '%s' is %s, but the downloaded file is a %s", name, want,
                     bgr_kernel_format_to_string (got));
        goto out;
      }
  }
  result = bgr_engine_import_kernel (engine, name, kernel, unpacked, initrd, cancellable, error);
out:
  if (unpacked != NULL)
    bgr_rm_rf (unpacked, NULL);
  return result;
}
