/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "store/bgr-store-private.h"

struct _BgrStore {
  char *dir;
  int lock_fd;
  BgrStoreWatchFunc watch;
  gpointer watch_data;
};

gboolean
bgr_store_name_is_valid (const char *name)
{
  gsize n;

  if (name == NULL || (n = strlen (name)) == 0 || n > 200)
    return FALSE;
  if (!g_ascii_isalnum (name[0]))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!(g_ascii_isalnum (*p) || *p == '-' || *p == '_' || *p == '.'))
      return FALSE;
  return strstr (name, "..") == NULL;
}

gint64
bgr_store_read_lock_pid (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "lock", NULL);
  char text[32];
  ssize_t n;
  int fd;

  /* Never through a symlink: the lock names a pid, nothing else. */
  fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read (fd, text, sizeof text - 1);
  close (fd);
  if (n <= 0)
    return 0;
  text[n] = '\0';
  return g_ascii_strtoll (text, NULL, 10);
}

static char *
describe_pid (gint64 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/comm", pid);
  g_autofree char *comm = NULL;

  if (pid <= 0)
    return g_strdup ("another process");
  if (g_file_get_contents (path, &comm, NULL, NULL))
    return g_strdup_printf ("process %" G_GINT64_FORMAT " (%s)", pid, g_strstrip (comm));
  return g_strdup_printf ("process %" G_GINT64_FORMAT, pid);
}

/* How long a lock may stay held after the process that took it has
 * exited: a child it forked keeps the lock's open file description until
 * it execs, which is a moment, or longer on a loaded machine. The caller
 * (bangerd's main loop at start-up too) waits that long at most. */
#define ORPHANED_LOCK_WAIT_MS 2000

/* A process that exists, maybe another user's. */
static gboolean
pid_is_alive (gint64 pid)
{
  return pid > 0 && pid <= G_MAXINT32 && (kill ((pid_t) pid, 0) == 0 || errno != ESRCH);
}

static void
set_locked_error (const char *dir, gint64 pid, GError **error)
{
  g_autofree char *who = describe_pid (pid);

  if (pid > 0 && pid <= G_MAXINT32 && !pid_is_alive (pid))
    g_set_error (error, BGR_ERROR, BGR_ERROR_LOCKED,
                 "state directory %s is still locked although %s, which locked it, has "
                 "exited: a process it started holds the lock until it exits (`fuser -v "
                 "%s/lock` names it)", dir, who, dir);
  else
    g_set_error (error, BGR_ERROR, BGR_ERROR_LOCKED, "state directory %s is in use by %s", dir,
                 who);
}

/* flock() locks belong to the open file description, so a second open in
 * this same process conflicts too, as it must. */
static gboolean
take_lock (int fd, const char *dir, GError **error)
{
  gint64 deadline = 0;

  for (;;)
    {
      gint64 pid, now;

      if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        return TRUE;
      if (errno != EWOULDBLOCK)
        {
          bgr_set_error_errno (error, errno, "cannot lock %s/lock", dir);
          return FALSE;
        }
      pid = bgr_store_read_lock_pid (dir);
      if (pid_is_alive (pid))
        {
          set_locked_error (dir, pid, error);
          return FALSE;
        }
      /* Its taker has exited (a child of it holds the lock), or has just
       * locked it and not yet written its pid, or emptied the file on its
       * way out: wait a little for that to settle. */
      now = g_get_monotonic_time ();
      if (deadline == 0)
        deadline = now + ORPHANED_LOCK_WAIT_MS * G_TIME_SPAN_MILLISECOND;
      else if (now > deadline)
        {
          set_locked_error (dir, pid, error);
          return FALSE;
        }
      g_usleep (10 * 1000);
    }
}

BgrStore *
bgr_store_open (const char *dir, GError **error)
{
  g_autofree char *lock_path = NULL;
  g_autofree char *pidtext = NULL;
  BgrStore *store;
  struct stat st;
  int fd;

  /* Everything below trusts the directory: nobody else may be able to
   * plant a file or a symlink in it. */
  if (!bgr_ensure_private_dir (dir, 0700, "state_dir", error))
    return NULL;
  lock_path = g_build_filename (dir, "lock", NULL);
  /* O_NOFOLLOW and no O_TRUNC: a planted symlink is refused, and nothing is
   * cut short before we know the file is our own lock. */
  fd = open (lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      if (errno == ELOOP)
        g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                     "lock file %s is a symbolic link: remove it (banger makes its own)",
                     lock_path);
      else
        bgr_set_error_errno (error, errno, "cannot open lock file %s", lock_path);
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_nlink != 1
      || st.st_uid != geteuid ())
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_CONFIG,
                   "lock file %s is not a plain file of banger's own (a special file, a hard "
                   "link or another user's): remove it (banger makes its own)", lock_path);
      close (fd);
      return NULL;
    }
  if (!take_lock (fd, dir, error))
    {
      close (fd);
      return NULL;
    }
  pidtext = g_strdup_printf ("%d\n", (int) getpid ());
  if (ftruncate (fd, 0) != 0 || pwrite (fd, pidtext, strlen (pidtext), 0) < 0)
    {
      bgr_set_error_errno (error, errno, "cannot write lock file %s", lock_path);
      close (fd);
      return NULL;
    }
  store = g_new0 (BgrStore, 1);
  store->dir = g_strdup (dir);
  store->lock_fd = fd;
  return store;
}

void
bgr_store_close (BgrStore *store)
{
  if (store == NULL)
    return;
  if (store->lock_fd >= 0)
    {
      /* Clear the pid before releasing, so nobody blames a dead process. */
      if (ftruncate (store->lock_fd, 0) != 0)
        g_debug ("cannot clear lock file: %s", g_strerror (errno));
      close (store->lock_fd);
    }
  g_free (store->dir);
  g_free (store);
}

const char *
bgr_store_get_dir (BgrStore *store)
{
  return store->dir;
}

static gboolean
check_names (const char *kind, const char *name, GError **error)
{
  if (!bgr_store_name_is_valid (kind))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "invalid object kind '%s'",
                   kind != NULL ? kind : "(null)");
      return FALSE;
    }
  if (name != NULL && !bgr_store_name_is_valid (name))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "invalid object name '%s' (letters, digits, '-', '_', '.'; "
                   "starting with a letter or digit)", name);
      return FALSE;
    }
  return TRUE;
}

gboolean
bgr_store_save (BgrStore *store, const char *kind, const char *name, JsonObject *doc,
                GError **error)
{
  g_autofree char *kdir = NULL, *path = NULL, *tmp = NULL, *text = NULL;
  g_autoptr (JsonNode) node = NULL;
  gsize len;
  int fd, dfd;

  if (!check_names (kind, name, error))
    return FALSE;
  json_object_set_int_member (doc, "schema_version", BGR_STORE_SCHEMA_VERSION);
  json_object_set_string_member (doc, "kind", kind);
  json_object_set_string_member (doc, "name", name);
  node = json_node_init_object (json_node_alloc (), doc);
  text = json_to_string (node, TRUE);
  len = strlen (text);

  kdir = g_build_filename (store->dir, kind, NULL);
  if (g_mkdir_with_parents (kdir, 0700) != 0)
    {
      bgr_set_error_errno (error, errno, "cannot create %s", kdir);
      return FALSE;
    }
  path = g_strdup_printf ("%s/%s.json", kdir, name);
  tmp = g_strdup_printf ("%s/.%s.json.XXXXXX", kdir, name);
  fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      bgr_set_error_errno (error, errno, "cannot create temporary file in %s", kdir);
      return FALSE;
    }
  if (!bgr_write_all (fd, text, len) || !bgr_write_all (fd, "\n", 1) || fsync (fd) != 0)
    {
      int errsv = errno;
      close (fd);
      g_unlink (tmp);
      bgr_set_error_errno (error, errsv, "cannot write %s", tmp);
      return FALSE;
    }
  close (fd);
  if (rename (tmp, path) != 0)
    {
      int errsv = errno;
      g_unlink (tmp);
      bgr_set_error_errno (error, errsv, "cannot rename %s to %s", tmp, path);
      return FALSE;
    }
  /* Make the rename itself durable. */
  dfd = open (kdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    {
      if (fsync (dfd) != 0)
        g_debug ("fsync %s: %s", kdir, g_strerror (errno));
      close (dfd);
    }
  if (store->watch != NULL)
    store->watch (kind, name, doc, store->watch_data);
  return TRUE;
}

void
bgr_store_set_watch (BgrStore *store, BgrStoreWatchFunc func, gpointer data)
{
  store->watch = func;
  store->watch_data = data;
}

/* Brings a document of an older schema to the current one, in memory; it
 * is written in the new form at its next save. */
static void
migrate (JsonObject *obj, const char *kind, gint64 schema)
{
  if (schema < 2 && g_str_equal (kind, "vm") && json_object_has_member (obj, "guest_addrs"))
    {
      JsonNode *n = json_object_get_member (obj, "guest_addrs");
      if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
        {
          g_auto (GStrv) parts = g_strsplit (json_node_get_string (n), ", ", -1);
          JsonArray *a = json_array_new ();
          for (char **p = parts; *p != NULL; p++)
            if (**p != '\0')
              json_array_add_string_element (a, *p);
          json_object_set_array_member (obj, "guest_addrs", a);
        }
    }
  if (schema < 2 && g_str_equal (kind, "image") && json_object_has_member (obj, "oci_layers"))
    {
      JsonNode *n = json_object_get_member (obj, "oci_layers");
      if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
        {
          g_auto (GStrv) parts = g_strsplit (json_node_get_string (n), ",", -1);
          JsonArray *a = json_array_new ();
          for (char **p = parts; *p != NULL; p++)
            if (**p != '\0')
              json_array_add_string_element (a, *p);
          json_object_set_array_member (obj, "oci_layers", a);
        }
    }
  json_object_set_int_member (obj, "schema_version", BGR_STORE_SCHEMA_VERSION);
}

static JsonObject *
load_path (const char *path, const char *kind, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local_error = NULL;
  JsonNode *root;
  JsonObject *obj;
  JsonNode *member;
  gint64 schema;

  if (!json_parser_load_from_mapped_file (parser, path, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "%s does not exist", path);
      else if (local_error->domain == G_FILE_ERROR)
        bgr_propagate_error (error, g_steal_pointer (&local_error), "cannot read %s", path);
      else
        g_set_error (error, BGR_ERROR, BGR_ERROR_CORRUPT, "%s is corrupt: %s", path,
                     local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_CORRUPT, "%s is corrupt: not a JSON object", path);
      return NULL;
    }
  obj = json_node_get_object (root);
  member = json_object_get_member (obj, "schema_version");
  if (member == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_CORRUPT, "%s is corrupt: no schema_version", path);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_INT64)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_CORRUPT,
                   "%s is corrupt: schema_version is not an integer", path);
      return NULL;
    }
  schema = json_node_get_int (member);
  if (schema > BGR_STORE_SCHEMA_VERSION || schema < 1)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED,
                   "%s has schema_version %" G_GINT64_FORMAT
                   ", this banger reads up to %d (written by a newer banger?)",
                   path, schema, BGR_STORE_SCHEMA_VERSION);
      return NULL;
    }
  member = json_object_get_member (obj, "kind");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member)
      || json_node_get_value_type (member) != G_TYPE_STRING
      || g_strcmp0 (json_node_get_string (member), kind) != 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_CORRUPT, "%s is corrupt: kind is not \"%s\"",
                   path, kind);
      return NULL;
    }
  migrate (obj, kind, schema);
  return json_object_ref (obj);
}

JsonObject *
bgr_store_load (BgrStore *store, const char *kind, const char *name, GError **error)
{
  g_autofree char *path = NULL;

  if (!check_names (kind, name, error))
    return NULL;
  path = g_strdup_printf ("%s/%s/%s.json", store->dir, kind, name);
  return load_path (path, kind, error);
}

gboolean
bgr_store_delete (BgrStore *store, const char *kind, const char *name, GError **error)
{
  g_autofree char *path = NULL;

  if (!check_names (kind, name, error))
    return FALSE;
  path = g_strdup_printf ("%s/%s/%s.json", store->dir, kind, name);
  if (g_unlink (path) != 0)
    {
      if (errno == ENOENT)
        g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "no %s named '%s'", kind, name);
      else
        bgr_set_error_errno (error, errno, "cannot delete %s", path);
      return FALSE;
    }
  if (store->watch != NULL)
    store->watch (kind, name, NULL, store->watch_data);
  return TRUE;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
bgr_store_load_all (BgrStore *store, const char *kind, GPtrArray *errors)
{
  g_autofree char *kdir = g_build_filename (store->dir, kind, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr (GError) dir_error = NULL;
  g_autoptr (GDir) d = g_dir_open (kdir, 0, &dir_error);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  if (d == NULL)
    {
      /* No directory yet simply means no objects of this kind. */
      if (!g_error_matches (dir_error, G_FILE_ERROR, G_FILE_ERROR_NOENT) && errors != NULL)
        {
          GError *e = NULL;
          bgr_propagate_error (&e, g_steal_pointer (&dir_error), "cannot list %s", kdir);
          g_ptr_array_add (errors, e);
        }
      return out;
    }
  while ((entry = g_dir_read_name (d)) != NULL)
    if (entry[0] != '.' && g_str_has_suffix (entry, ".json"))
      g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (kdir, names->pdata[i], NULL);
      GError *err = NULL;
      JsonObject *obj = load_path (path, kind, &err);

      if (obj != NULL)
        g_ptr_array_add (out, obj);
      else if (errors != NULL)
        g_ptr_array_add (errors, err);
      else
        g_error_free (err);
    }
  return out;
}
