/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/bgr-store-private.h"

static char *
make_dir (void)
{
  return g_build_filename (g_get_user_state_dir (), "store-test", NULL);
}

static JsonObject *
doc_with (const char *image)
{
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "image", image);
  json_object_set_int_member (o, "vcpus", 2);
  return o;
}

static guint
count_entries (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  if (d == NULL)
    return 0;
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
test_roundtrip (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *kdir = g_build_filename (dir, "vm", NULL);
  g_autoptr (BgrStore) store = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonObject) doc = doc_with ("debian");
  g_autoptr (JsonObject) back = NULL;
  g_autoptr (JsonObject) doc2 = doc_with ("alpine");
  g_autoptr (GPtrArray) all = NULL;

  store = bgr_store_open (dir, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_store_save (store, "vm", "web1", doc, &err));
  g_assert_no_error (err);
  back = bgr_store_load (store, "vm", "web1", &err);
  g_assert_no_error (err);
  g_assert_cmpstr (json_object_get_string_member (back, "image"), ==, "debian");
  g_assert_cmpint (json_object_get_int_member (back, "schema_version"), ==, BGR_STORE_SCHEMA_VERSION);
  g_assert_cmpstr (json_object_get_string_member (back, "name"), ==, "web1");

  /* Overwrite in place; no temp file stays behind. */
  g_assert_true (bgr_store_save (store, "vm", "web1", doc2, &err));
  g_clear_pointer (&back, json_object_unref);
  back = bgr_store_load (store, "vm", "web1", &err);
  g_assert_cmpstr (json_object_get_string_member (back, "image"), ==, "alpine");
  g_assert_cmpuint (count_entries (kdir), ==, 1);

  all = bgr_store_load_all (store, "vm", NULL);
  g_assert_cmpuint (all->len, ==, 1);

  g_assert_true (bgr_store_delete (store, "vm", "web1", &err));
  g_assert_false (bgr_store_delete (store, "vm", "web1", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  g_assert_null (bgr_store_load (store, "vm", "web1", &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
}

static void
test_bad_names (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *kdir = g_build_filename (dir, "vm", NULL);
  g_autofree char *outside = g_build_filename (dir, "escape.json", NULL);
  g_autoptr (BgrStore) store = bgr_store_open (dir, NULL);
  static const char *const bad[] = { "", "../escape", "a/b", ".hidden", "a..b", "-x", NULL };

  g_assert_nonnull (store);
  for (const char *const *n = bad; *n != NULL; n++)
    {
      g_autoptr (GError) err = NULL;
      g_autoptr (JsonObject) doc = doc_with ("x");
      g_assert_false (bgr_store_save (store, "vm", *n, doc, &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
    }
  /* Nothing was written, inside or outside the kind's directory. */
  g_assert_cmpuint (count_entries (kdir), ==, 0);
  g_assert_false (g_file_test (outside, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_entries (dir), ==, 1); /* the lock file */
}

static void
test_corrupt (void)
{
  g_autofree char *dir = make_dir ();
  g_autoptr (BgrStore) store = bgr_store_open (dir, NULL);
  g_autofree char *bad = g_build_filename (dir, "image", "broken.json", NULL);
  g_autofree char *newer = g_build_filename (dir, "image", "future.json", NULL);
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonObject) a = doc_with ("a");
  g_autoptr (JsonObject) b = doc_with ("b");
  g_autoptr (JsonObject) loaded = NULL;

  g_assert_true (bgr_store_save (store, "image", "good-a", a, NULL));
  g_assert_true (bgr_store_save (store, "image", "good-b", b, NULL));
  g_assert_true (g_file_set_contents (bad, "{ \"schema_version\": 1, \"kind\": \"image\", ", -1, NULL));
  {
    /* Wrong types where strings and numbers belong: corrupt, not a crash. */
    g_autofree char *odd = g_build_filename (dir, "image", "odd.json", NULL);
    g_autofree char *odd2 = g_build_filename (dir, "image", "odd2.json", NULL);
    g_autoptr (GError) e = NULL;
    g_autoptr (JsonObject) none = NULL;
    g_assert_true (g_file_set_contents (odd, "{ \"schema_version\": 1, \"kind\": {\"a\": 1} }", -1, NULL));
    g_assert_true (g_file_set_contents (odd2, "{ \"schema_version\": \"1\", \"kind\": \"image\" }", -1, NULL));
    none = bgr_store_load (store, "image", "odd", &e);
    g_assert_null (none);
    g_assert_error (e, BGR_ERROR, BGR_ERROR_CORRUPT);
    g_assert_nonnull (strstr (e->message, "kind is not"));
    g_clear_error (&e);
    none = bgr_store_load (store, "image", "odd2", &e);
    g_assert_error (e, BGR_ERROR, BGR_ERROR_CORRUPT);
    g_assert_nonnull (strstr (e->message, "schema_version is not an integer"));
    g_unlink (odd);
    g_unlink (odd2);
  }
  g_assert_true (g_file_set_contents (newer,
                                      "{ \"schema_version\": 99, \"kind\": \"image\", \"name\": \"future\" }",
                                      -1, NULL));

  all = bgr_store_load_all (store, "image", errors);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_cmpuint (errors->len, ==, 2);
  g_assert_error (((GError *) errors->pdata[0]), BGR_ERROR, BGR_ERROR_CORRUPT);
  g_assert_nonnull (strstr (((GError *) errors->pdata[0])->message, bad));
  g_assert_error (((GError *) errors->pdata[1]), BGR_ERROR, BGR_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (((GError *) errors->pdata[1])->message, "schema_version 99"));

  loaded = bgr_store_load (store, "image", "broken", &err);
  g_assert_null (loaded);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_CORRUPT);
  g_unlink (bad);
  g_unlink (newer);
}

static void
test_lock_same_process (void)
{
  g_autofree char *dir = make_dir ();
  g_autoptr (BgrStore) first = NULL;
  g_autoptr (BgrStore) second = NULL;
  g_autoptr (BgrStore) third = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *pid = g_strdup_printf ("process %d", (int) getpid ());

  first = bgr_store_open (dir, &err);
  g_assert_no_error (err);
  second = bgr_store_open (dir, &err);
  g_assert_null (second);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_LOCKED);
  g_assert_nonnull (strstr (err->message, pid));
  g_assert_nonnull (strstr (err->message, dir));
  g_clear_error (&err);

  g_clear_pointer (&first, bgr_store_close);
  third = bgr_store_open (dir, &err);
  g_assert_no_error (err);
}

static void
test_lock_other_process (void)
{
  g_autofree char *dir = make_dir ();
  g_autoptr (GError) err = NULL;
  int ready[2], release[2];
  pid_t child;
  char c;
  int status;

  g_assert_cmpint (pipe (ready), ==, 0);
  g_assert_cmpint (pipe (release), ==, 0);
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      BgrStore *s = bgr_store_open (dir, NULL);
      char x = s != NULL ? 'y' : 'n';
      if (write (ready[1], &x, 1) != 1 || read (release[0], &x, 1) != 1)
        _exit (2);
      _exit (s != NULL ? 0 : 1);
    }
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  g_assert_cmpint (c, ==, 'y');
  {
    g_autofree char *who = g_strdup_printf ("in use by process %d", (int) child);
    g_autoptr (BgrStore) s = bgr_store_open (dir, &err);
    g_assert_null (s);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_LOCKED);
    g_assert_nonnull (strstr (err->message, who));
    g_clear_error (&err);
  }
  g_assert_cmpint (write (release[1], "x", 1), ==, 1);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  {
    /* The holder died: the lock is free again. */
    g_autoptr (BgrStore) s = bgr_store_open (dir, &err);
    g_assert_no_error (err);
    g_assert_nonnull (s);
    g_assert_nonnull (s);
  }
  close (ready[0]); close (ready[1]); close (release[0]); close (release[1]);
}

/* A process opens the store, forks a child that inherits the lock's open
 * file description without exec'ing, and exits: the child holds the lock
 * until a byte arrives on @release (or this process is gone, and it with
 * the pipe's writing end). Returns the opener's pid, once it is reaped and
 * the child runs. */
static pid_t
orphan_lock (const char *dir, const int release[2])
{
  int ready[2];
  pid_t opener, holder = 0;
  int status;

  g_assert_cmpint (pipe (ready), ==, 0);
  opener = fork ();
  g_assert_cmpint (opener, >=, 0);
  if (opener == 0)
    {
      BgrStore *s = bgr_store_open (dir, NULL);
      pid_t child;
      char x;

      if (s == NULL || (child = fork ()) < 0)
        _exit (1);
      if (child == 0)
        {
          /* The lock's file description lives on in here. */
          child = getpid ();
          close (release[1]);
          if (write (ready[1], &child, sizeof child) != sizeof child)
            _exit (2);
          _exit (read (release[0], &x, 1) == 1 ? 0 : 3);
        }
      _exit (0);
    }
  /* Only the children write: a read that ends means they are gone. */
  close (ready[1]);
  g_assert_cmpint (waitpid (opener, &status, 0), ==, opener);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_cmpint (read (ready[0], &holder, sizeof holder), ==, sizeof holder);
  close (ready[0]);
  return opener;
}

static gpointer
release_thread (gpointer data)
{
  int *fd = data;

  g_usleep (200 * 1000);
  g_assert_cmpint (write (*fd, "x", 1), ==, 1);
  return NULL;
}

/* A banger that crashed while another thread was starting a program: the
 * forked child holds the lock until it execs. The next open waits for it,
 * and says what happened if it does not go. */
static void
test_lock_orphaned (void)
{
  g_autofree char *dir = make_dir ();
  g_autoptr (GError) err = NULL;
  g_autofree char *who = NULL;
  int release[2];
  gint64 start;
  pid_t opener;

  g_assert_cmpint (pipe (release), ==, 0);
  orphan_lock (dir, release);
  {
    /* Let go of a moment later: the open waits for that. */
    GThread *t = g_thread_new ("release", release_thread, &release[1]);
    g_autoptr (BgrStore) s = bgr_store_open (dir, &err);
    g_assert_no_error (err);
    g_assert_nonnull (s);
    g_thread_join (t);
  }

  /* Not let go of in time: a clear error, after the wait. */
  opener = orphan_lock (dir, release);
  who = g_strdup_printf ("although process %d, which locked it, has exited", (int) opener);
  start = g_get_monotonic_time ();
  {
    g_autoptr (BgrStore) s = bgr_store_open (dir, &err);
    g_assert_null (s);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_LOCKED);
    g_assert_nonnull (strstr (err->message, who));
    g_assert_nonnull (strstr (err->message, "a process it started holds the lock"));
  }
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (write (release[1], "x", 1), ==, 1);
  close (release[0]);
  close (release[1]);
}

/* A fresh directory below the test's state dir, 0700 like mkdtemp makes. */
static char *
fresh_dir (const char *name)
{
  g_autofree char *parent = g_build_filename (g_get_user_state_dir (), "safe", NULL);
  char *dir = g_build_filename (parent, name, NULL);

  g_assert_cmpint (g_mkdir_with_parents (parent, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_cmpint (chmod (dir, 0700), ==, 0);
  return dir;
}

static void
assert_file_is (const char *path, const char *expected)
{
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, expected);
}

/* A `lock` symlink someone planted is refused, and the file it points to
 * is neither truncated nor written. */
static void
test_lock_symlink (void)
{
  g_autofree char *dir = fresh_dir ("symlink");
  g_autofree char *victim = g_build_filename (g_get_user_state_dir (), "victim", NULL);
  g_autofree char *lock = g_build_filename (dir, "lock", NULL);
  g_autofree char *absent = g_build_filename (g_get_user_state_dir (), "absent", NULL);
  g_autoptr (BgrStore) store = NULL;
  g_autoptr (GError) err = NULL;

  g_assert_true (g_file_set_contents (victim, "precious\n", -1, NULL));
  g_assert_cmpint (symlink (victim, lock), ==, 0);
  store = bgr_store_open (dir, &err);
  g_assert_null (store);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
  g_assert_nonnull (strstr (err->message, "symbolic link"));
  g_assert_nonnull (strstr (err->message, lock));
  g_clear_error (&err);
  assert_file_is (victim, "precious\n");
  /* The pid reader does not follow it either. */
  g_assert_cmpint (bgr_store_read_lock_pid (dir), ==, 0);

  /* A dangling one does not create its target. */
  g_assert_cmpint (g_unlink (lock), ==, 0);
  g_assert_cmpint (symlink (absent, lock), ==, 0);
  g_assert_null (bgr_store_open (dir, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
  g_clear_error (&err);
  g_assert_false (g_file_test (absent, G_FILE_TEST_EXISTS));

  /* A hard link to someone's file is not our lock either. */
  g_assert_cmpint (g_unlink (lock), ==, 0);
  g_assert_cmpint (link (victim, lock), ==, 0);
  g_assert_null (bgr_store_open (dir, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
  g_assert_nonnull (strstr (err->message, "hard link"));
  g_clear_error (&err);
  assert_file_is (victim, "precious\n");

  /* Removed, the directory is usable again. */
  g_assert_cmpint (g_unlink (lock), ==, 0);
  store = bgr_store_open (dir, &err);
  g_assert_no_error (err);
  g_assert_nonnull (store);
}

/* A state_dir others (or our group) can write to is refused, saying why
 * and what to do. */
static void
test_unsafe_mode (void)
{
  static const struct { int mode; const char *says; } cases[] = {
    { 0777, "is writable by group and others (mode 0777)" },
    { 01777, "is writable by group and others (mode 1777)" },
    { 0757, "is writable by others (mode 0757)" },
    { 0770, "is writable by its group (mode 0770)" },
  };
  g_autofree char *dir = fresh_dir ("mode");
  g_autofree char *lock = g_build_filename (dir, "lock", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) err = NULL;
      g_autofree char *expected = g_strdup_printf ("state_dir %s %s", dir, cases[i].says);
      g_autofree char *fix = g_strdup_printf ("chmod 700 %s", dir);

      g_assert_cmpint (chmod (dir, cases[i].mode), ==, 0);
      g_assert_null (bgr_store_open (dir, &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
      g_assert_nonnull (strstr (err->message, expected));
      g_assert_nonnull (strstr (err->message, fix));
      g_assert_nonnull (strstr (err->message, "another state_dir"));
    }
  /* Refused before anything was made in it. */
  g_assert_false (g_file_test (lock, G_FILE_TEST_EXISTS));
}

/* A state_dir owned by another user is refused (needs root to set up). */
static void
test_foreign_owner (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (GError) err = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("needs root to chown a directory to another user");
      return;
    }
  dir = fresh_dir ("foreign");
  g_assert_cmpint (chown (dir, 65534, 65534), ==, 0);
  g_assert_null (bgr_store_open (dir, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_CONFIG);
  g_assert_nonnull (strstr (err->message, dir));
  g_assert_nonnull (strstr (err->message, "uid 65534"));
  g_assert_nonnull (strstr (err->message, "is owned by"));
  g_assert_nonnull (strstr (err->message, "another state_dir"));
}

/* Private directories are accepted: 0700, and 0755 (what systemd's
 * StateDirectory= makes, root-owned for the system daemon); a missing one
 * is created 0700, even below a world-writable sticky parent like /tmp. */
static void
test_private_ok (void)
{
  g_autofree char *dir = fresh_dir ("ok");
  g_autofree char *sticky = fresh_dir ("sticky");
  g_autofree char *created = g_build_filename (sticky, "state", NULL);
  struct stat st;

  {
    g_autoptr (GError) err = NULL;
    g_autoptr (BgrStore) s = bgr_store_open (dir, &err);
    g_assert_no_error (err);
    g_assert_nonnull (s);
  }
  g_assert_cmpint (chmod (dir, 0755), ==, 0);
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (BgrStore) s = bgr_store_open (dir, &err);
    g_assert_no_error (err);
    g_assert_nonnull (s);
  }
  g_assert_cmpint (chmod (sticky, 01777), ==, 0);
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (BgrStore) s = bgr_store_open (created, &err);
    g_assert_no_error (err);
    g_assert_nonnull (s);
  }
  g_assert_cmpint (g_stat (created, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/store/roundtrip", test_roundtrip);
  g_test_add_func ("/store/bad-names", test_bad_names);
  g_test_add_func ("/store/corrupt", test_corrupt);
  g_test_add_func ("/store/lock-same-process", test_lock_same_process);
  g_test_add_func ("/store/lock-other-process", test_lock_other_process);
  g_test_add_func ("/store/lock-orphaned", test_lock_orphaned);
  g_test_add_func ("/store/lock-symlink", test_lock_symlink);
  g_test_add_func ("/store/unsafe-mode", test_unsafe_mode);
  g_test_add_func ("/store/foreign-owner", test_foreign_owner);
  g_test_add_func ("/store/private-ok", test_private_ok);
  return g_test_run ();
}
