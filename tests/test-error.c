/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <archive.h>
#include <ext2fs/ext2fs.h>
#include <git2.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include <banger/banger.h>
#include "bgr-error-private.h"

static void
test_dbus_names (void)
{
  /* Each code has its own D-Bus name, and the name maps back to the code. */
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (int code = BGR_ERROR_FAILED; code <= BGR_ERROR_PROTOCOL; code++)
    {
      g_autoptr (GError) err = g_error_new (BGR_ERROR, code, "message %d", code);
      g_autofree char *name = g_dbus_error_encode_gerror (err);
      g_autofree char *expected = g_strdup_printf ("org.banger.Banger1.Error.%s",
                                                   bgr_error_code_to_name (code));
      g_autoptr (GError) back = NULL;

      g_assert_cmpstr (name, ==, expected);
      g_assert_false (g_hash_table_contains (seen, name));
      g_hash_table_add (seen, g_strdup (name));
      back = g_dbus_error_new_for_dbus_error (name, "over the wire");
      g_assert_error (back, BGR_ERROR, code);
      g_dbus_error_strip_remote_error (back);
      g_assert_cmpstr (back->message, ==, "over the wire");
    }
  g_hash_table_unref (seen);
  g_assert_cmpstr (bgr_error_code_to_name (9999), ==, "Unknown");
}

static void
test_exit_statuses (void)
{
  g_assert_cmpint (bgr_error_code_to_exit_status (BGR_ERROR_FAILED), ==, 1);
  g_assert_cmpint (bgr_error_code_to_exit_status (BGR_ERROR_INVALID_ARGUMENT), ==, 2);
  g_assert_cmpint (bgr_error_code_to_exit_status (BGR_ERROR_DAEMON_UNAVAILABLE), ==, 13);
  for (int code = BGR_ERROR_FAILED; code <= BGR_ERROR_PROTOCOL; code++)
    {
      int st = bgr_error_code_to_exit_status (code);
      g_assert_cmpint (st, >=, 1);
      g_assert_cmpint (st, <=, 125);
      for (int other = code + 1; other <= BGR_ERROR_PROTOCOL; other++)
        g_assert_cmpint (st, !=, bgr_error_code_to_exit_status (other));
    }
}

static void
test_gio (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GFile) f = g_file_new_for_path ("/nonexistent/banger/file");
  char *contents = NULL;

  g_assert_false (g_file_load_contents (f, NULL, &contents, NULL, NULL, &err));
  g_assert_true (bgr_error_convert (&err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "/nonexistent/banger/file"));
}

static void
test_archive (void)
{
  static const char garbage[] = "this is not an archive of any kind, just text";
  struct archive *a = archive_read_new ();
  struct archive_entry *entry;
  g_autoptr (GError) err = NULL;

  archive_read_support_format_tar (a);
  archive_read_support_filter_gzip (a);
  /* libarchive notices the bad format either at open or at the first header. */
  if (archive_read_open_memory (a, garbage, sizeof garbage) == ARCHIVE_OK)
    g_assert_cmpint (archive_read_next_header (a, &entry), !=, ARCHIVE_OK);
  bgr_set_error_from_archive (&err, a, "layer %s", "sha256:abc");
  archive_read_free (a);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_assert_true (g_str_has_prefix (err->message, "layer sha256:abc: "));
}

static void
test_ext2fs (void)
{
  g_autofree char *dir = g_dir_make_tmp ("banger-ext2-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "not-ext4.img", NULL);
  g_autofree char *zeros = g_malloc0 (1 << 20);
  g_autoptr (GError) err = NULL;
  ext2_filsys fs = NULL;
  errcode_t rc;

  g_assert_true (g_file_set_contents (path, zeros, 1 << 20, NULL));
  rc = ext2fs_open (path, 0, 0, 0, unix_io_manager, &fs);
  g_assert_cmpint (rc, !=, 0);
  bgr_set_error_from_ext2fs (&err, rc, "rootfs %s", path);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (err->message, path));
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_git (void)
{
  g_autofree char *dir = g_dir_make_tmp ("banger-git-XXXXXX", NULL);
  g_autoptr (GError) err = NULL;
  git_repository *repo = NULL;
  int rc;

  git_libgit2_init ();
  rc = git_repository_open_ext (&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
  g_assert_cmpint (rc, ==, GIT_ENOTFOUND);
  bgr_set_error_from_git (&err, rc, "workspace source %s", dir);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (err->message, "workspace source "));
  git_libgit2_shutdown ();
  g_rmdir (dir);
}

static void
test_soup (void)
{
  /* A real connection to a port nobody listens on, and a real 404. */
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GError) soup_err = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  g_autoptr (GBytes) body = NULL;
  guint16 port;

  /* Bind but do not listen: connecting is refused, deterministically. */
  g_assert_true (g_socket_bind (sock, any, TRUE, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  url = g_strdup_printf ("http://127.0.0.1:%u/v2/", port);
  msg = soup_message_new ("GET", url);
  body = soup_session_send_and_read (session, msg, NULL, &soup_err);
  g_assert_null (body);
  bgr_propagate_soup_error (&err, g_steal_pointer (&soup_err), url);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NETWORK);
  g_assert_true (g_str_has_prefix (err->message, url));

  g_clear_error (&err);
  bgr_set_error_from_http_status (&err, 404, NULL, "http://127.0.0.1/v2/x/manifests/y");
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "404 Not Found"));
  g_clear_error (&err);
  bgr_set_error_from_http_status (&err, 401, "Unauthorized", "u");
  g_assert_error (err, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
  g_clear_error (&err);
  bgr_set_error_from_http_status (&err, 503, NULL, "u");
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NETWORK);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/error/dbus-names", test_dbus_names);
  g_test_add_func ("/error/exit-statuses", test_exit_statuses);
  g_test_add_func ("/error/gio", test_gio);
  g_test_add_func ("/error/archive", test_archive);
  g_test_add_func ("/error/ext2fs", test_ext2fs);
  g_test_add_func ("/error/git", test_git);
  g_test_add_func ("/error/soup", test_soup);
  return g_test_run ();
}
