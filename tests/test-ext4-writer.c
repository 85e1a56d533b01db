/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OCI layers replayed into ext4 images (ext4/bgr-ext4-writer-layer.c): layers
 * are built here with libarchive, applied, and the image is checked entry
 * by entry with debugfs and as a whole with e2fsck. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <sys/stat.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-writer-private.h"
#include "bgr-test-ext4.h"
#include "bgr-test-layers.h"

/* ---- the full feature set ------------------------------------------- */

static const char cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00 }; /* cap_net_raw */

static void
test_layers (void)
{
  g_autofree char *img = new_image_path ("layers.ext4");
  g_autofree char *long_target = g_strnfill (200, 'x');
  g_autofree char *holey = g_malloc0 (3 * 4096 + 5);
  g_autofree char *l1 = NULL, *l2 = NULL, *l3 = NULL;
  g_autofree char *st = NULL, *st2 = NULL, *data = NULL, *ino1 = NULL, *ino2 = NULL;
  BgrExt4Writer *w;
  gsize len;

  memcpy (holey + 3 * 4096, "tail!", 5);
  {
    const Ent e1[] = {
      { "./", AE_IFDIR, 0755 },
      { "bin/", AE_IFDIR },
      { "bin/tool", AE_IFREG, 0755, "tool v1\n" },
      { "bin/su", AE_IFREG, 04755, "su" },
      { "bin/ping", AE_IFREG, 0755, "ping", .xname = "security.capability", .xvalue = cap,
        .xsize = sizeof cap },
      { "etc/note", AE_IFREG, 0644, "n", .xname = "user.note", .xvalue = "hello", .xsize = 5 },
      { "home/user/", AE_IFDIR, 0700, .uid = 1000, .gid = 1000 },
      { "home/user/file", AE_IFREG, 0640, "mine", .uid = 1000, .gid = 1000, .mtime = 1600000000 },
      { "opq/", AE_IFDIR },
      { "opq/old1", AE_IFREG, 0, "o" },
      { "opq/sub/old2", AE_IFREG, 0, "o" },
      { "keep/a", AE_IFREG, 0, "a" },
      { "keep/b", AE_IFREG, 0, "b" },
      { "gone/x/y", AE_IFREG, 0, "y" },
      { "f2d", AE_IFREG, 0, "file" },
      { "d2f/inner/deep", AE_IFREG, 0, "deep" },
      { "holey", AE_IFREG, 0, holey, 3 * 4096 + 5 },
      END,
    };
    l1 = write_layer ("l1.tar.gz", e1, "gzip");
  }
  {
    const Ent e2[] = {
      { "opq/new1", AE_IFREG, 0, "n1" },
      { "opq/sub/new3", AE_IFREG, 0, "n3" },
      { "opq/.wh..wh..opq", AE_IFREG },
      { "opq/new2", AE_IFREG, 0, "n2" },
      { "keep/.wh.a", AE_IFREG },
      { ".wh.gone", AE_IFREG },
      { ".wh.never-existed", AE_IFREG },
      { "f2d/", AE_IFDIR, 0711, .mtime = 1234567890 },
      { "f2d/child", AE_IFREG, 0, "c" },
      { "d2f", AE_IFREG, 0600, "now a file" },
      { "bin/tool2", .hardlink = "bin/tool" },
      { "bin/", AE_IFDIR, 0750, .mtime = 1111111111 },
      { "lnk/short", AE_IFLNK, 0777, "../bin/tool" },
      { "lnk/long", AE_IFLNK, 0777, long_target },
      { "dev/null", AE_IFCHR, 0666, .major = 1, .minor = 3 },
      { "dev/sda", AE_IFBLK, 0660, .major = 8, .minor = 0, .gid = 6 },
      { "dev/big", AE_IFCHR, 0600, .major = 300, .minor = 70000 },
      { "run/fifo", AE_IFIFO, 0620 },
      { "twice", AE_IFREG, 0, "first" },
      { "twice", AE_IFREG, 0, "second" },
      END,
    };
    l2 = write_layer ("l2.tar.zst", e2, "zstd");
  }
  {
    const Ent e3[] = {
      { "bin/.wh.tool", AE_IFREG },
      { "lnk/short", AE_IFREG, 0644, "replaced symlink" },
      END,
    };
    l3 = write_layer ("l3.tar", e3, NULL);
  }

  w = create_ok (img, 64 * 1024 * 1024);
  apply_ok (w, l1, "layer 1");
  apply_ok (w, l2, "layer 2");
  /* Before layer 3: the hardlink pair shares its inode. */
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  st = bgr_test_assert_type (img, "/bin/tool", "regular");
  st2 = bgr_test_assert_type (img, "/bin/tool2", "regular");
  ino1 = bgr_test_field (st, "Inode:");
  ino2 = bgr_test_field (st2, "Inode:");
  g_assert_cmpstr (ino1, ==, ino2);
  bgr_test_assert_field (st, "Links:", "2");
  g_clear_pointer (&st, g_free);
  g_clear_pointer (&st2, g_free);

  /* Layer 3 on the reopened image is not possible (the writer only makes
   * new images): rebuild with all three. */
  g_unlink (img);
  w = create_ok (img, 64 * 1024 * 1024);
  apply_ok (w, l1, "layer 1");
  apply_ok (w, l2, "layer 2");
  apply_ok (w, l3, "layer 3");
  close_ok (w);
  bgr_test_assert_fsck_clean (img);

  /* root from "./" */
  st = bgr_test_assert_type (img, "/", "directory");
  bgr_test_assert_field (st, "Mode:", "0755");
  g_clear_pointer (&st, g_free);

  /* whiteouts and opaque directories */
  bgr_test_assert_absent (img, "/opq/old1");
  bgr_test_assert_absent (img, "/opq/sub/old2");
  bgr_test_assert_absent (img, "/opq/.wh..wh..opq");
  g_free (bgr_test_assert_type (img, "/opq/new1", "regular"));
  g_free (bgr_test_assert_type (img, "/opq/new2", "regular"));
  g_free (bgr_test_assert_type (img, "/opq/sub/new3", "regular"));
  bgr_test_assert_absent (img, "/keep/a");
  bgr_test_assert_absent (img, "/keep/.wh.a");
  g_free (bgr_test_assert_type (img, "/keep/b", "regular"));
  bgr_test_assert_absent (img, "/gone");
  bgr_test_assert_absent (img, "/.wh.gone");
  bgr_test_assert_absent (img, "/.wh.never-existed");

  /* file <-> directory */
  st = bgr_test_assert_type (img, "/f2d", "directory");
  bgr_test_assert_field (st, "Mode:", "0711");
  g_clear_pointer (&st, g_free);
  g_free (bgr_test_assert_type (img, "/f2d/child", "regular"));
  g_free (bgr_test_assert_type (img, "/d2f", "regular"));
  bgr_test_assert_absent (img, "/d2f/inner");
  data = dump (img, "/d2f", &len);
  g_assert_cmpmem (data, len, "now a file", 10);
  g_clear_pointer (&data, g_free);
  data = dump (img, "/twice", &len);
  g_assert_cmpmem (data, len, "second", 6);
  g_clear_pointer (&data, g_free);

  /* directory merged: new metadata, old contents */
  st = bgr_test_assert_type (img, "/bin", "directory");
  bgr_test_assert_field (st, "Mode:", "0750");
  bgr_assert_contains (st, "mtime: 0x423a35c7"); /* 1111111111 */
  g_clear_pointer (&st, g_free);
  g_free (bgr_test_assert_type (img, "/bin/su", "regular"));

  /* hardlink survives the whiteout of its first name */
  bgr_test_assert_absent (img, "/bin/tool");
  st = bgr_test_assert_type (img, "/bin/tool2", "regular");
  bgr_test_assert_field (st, "Links:", "1");
  g_clear_pointer (&st, g_free);
  data = dump (img, "/bin/tool2", &len);
  g_assert_cmpmem (data, len, "tool v1\n", 8);
  g_clear_pointer (&data, g_free);

  /* symlinks */
  st = bgr_test_assert_type (img, "/lnk/short", "regular"); /* replaced in layer 3 */
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/lnk/long", "symlink");
  bgr_test_assert_field (st, "Size:", "200");
  g_clear_pointer (&st, g_free);
  data = dump (img, "/lnk/long", &len);
  g_assert_cmpmem (data, len, long_target, 200);
  g_clear_pointer (&data, g_free);

  /* setuid, owner, mtime */
  st = bgr_test_assert_type (img, "/bin/su", "regular");
  bgr_test_assert_field (st, "Mode:", "04755");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/home/user/file", "regular");
  bgr_test_assert_field (st, "User:", "1000");
  bgr_test_assert_field (st, "Group:", "1000");
  bgr_test_assert_field (st, "Mode:", "0640");
  bgr_assert_contains (st, "mtime: 0x5f5e1000"); /* 1600000000 */
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/home/user", "directory");
  bgr_test_assert_field (st, "User:", "1000");
  bgr_test_assert_field (st, "Mode:", "0700");
  g_clear_pointer (&st, g_free);
  /* implicit parents: 0755 root */
  st = bgr_test_assert_type (img, "/etc", "directory");
  bgr_test_assert_field (st, "Mode:", "0755");
  bgr_test_assert_field (st, "User:", "0");
  g_clear_pointer (&st, g_free);

  /* nodes */
  st = bgr_test_assert_type (img, "/dev/null", "character");
  bgr_test_assert_field (st, "Mode:", "0666");
  bgr_assert_contains (st, "Device major/minor number: 01:03");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/dev/sda", "block");
  bgr_assert_contains (st, "Device major/minor number: 08:00");
  bgr_test_assert_field (st, "Group:", "6");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/dev/big", "character");
  bgr_assert_contains (st, "Device major/minor number: 300:70000");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/run/fifo", "FIFO");
  bgr_test_assert_field (st, "Mode:", "0620");
  g_clear_pointer (&st, g_free);

  /* xattrs */
  st = bgr_test_assert_type (img, "/bin/ping", "regular");
  bgr_assert_contains (st, "security.capability (20)");
  g_clear_pointer (&st, g_free);
  st = bgr_test_assert_type (img, "/etc/note", "regular");
  bgr_assert_contains (st, "user.note (5) = \"hello\"");
  g_clear_pointer (&st, g_free);

  /* holes: 3 zero blocks stay unallocated, the data is intact */
  st = bgr_test_assert_type (img, "/holey", "regular");
  bgr_test_assert_field (st, "Size:", "12293");
  bgr_test_assert_field (st, "Blockcount:", "8");
  g_clear_pointer (&st, g_free);
  data = dump (img, "/holey", &len);
  g_assert_cmpmem (data, len, holey, 3 * 4096 + 5);
  g_clear_pointer (&data, g_free);

  /* listing */
  st = bgr_test_debugfs (img, "ls -l /dev");
  bgr_assert_contains (st, "null");
  bgr_assert_contains (st, "sda");
}

/* ---- refusals -------------------------------------------------------- */

/* Everything in the sandbox (recursively), to show a refused layer wrote
 * nothing outside the image. */
typedef struct
{
  const char *name;
  Ent first[3];  /* applied first, must succeed; empty for none */
  Ent evil[3];
  const char *message;
} Evil;

static void
test_refusals (void)
{
  g_autofree char *long_name = g_strnfill (300, 'n');
  g_autofree char *deep = NULL;
  GString *deep_s = g_string_new (NULL);
  const Evil cases[] = {
    { "dotdot", {}, { { "../escape", AE_IFREG, 0, "x" }, END },
      "entry \"../escape\": path leaves the image root" },
    { "abs-dotdot", {}, { { "/abs/../../x", AE_IFREG, 0, "x" }, END },
      "entry \"/abs/../../x\": path leaves the image root" },
    /* Symlinked parents are followed inside the image (test-ext4-symlinks
     * checks where such entries land); these can be followed nowhere. */
    { "symlink-loop", { { "loop", AE_IFLNK, 0777, "loop" }, END },
      { { "loop/x", AE_IFREG, 0, "x" }, END },
      "entry \"loop/x\": too many levels of symbolic links" },
    { "symlink-to-file", { { "f", AE_IFREG, 0, "x" }, { "l", AE_IFLNK, 0777, "/f" }, END },
      { { "l/x", AE_IFREG, 0, "x" }, END }, "entry \"l/x\": parent \"f\" is not a directory" },
    { "hardlink-out", {}, { { "pw", .hardlink = "../../etc/passwd" }, END },
      "hardlink target \"../../etc/passwd\": path leaves the image root" },
    { "hardlink-missing", {}, { { "pw", .hardlink = "etc/passwd" }, END },
      "hardlink target \"etc/passwd\" does not exist in the image" },
    { "hardlink-through-symlink", { { "s", AE_IFLNK, 0777, "/etc" }, END },
      { { "pw", .hardlink = "s/passwd" }, END },
      "hardlink target \"s/passwd\" does not exist in the image" },
    { "long-name", {}, { { long_name, AE_IFREG, 0, "x" }, END }, "name longer than 255 bytes" },
    { "deep", {}, { { NULL, AE_IFREG, 0, "x" }, END }, "path deeper than 64 levels" },
    { "bad-xattr", {},
      { { "f", AE_IFREG, 0, "x", .xname = "weird.name", .xvalue = "v", .xsize = 1 }, END },
      "xattr \"weird.name\" is not in the user" },
  };
  g_autofree char *box = sandbox ();
  g_autofree char *parent = g_path_get_dirname (box);
  g_autofree char *before = NULL;

  for (guint i = 0; i < 70; i++)
    g_string_append (deep_s, "d/");
  g_string_append (deep_s, "f");
  deep = g_string_free (deep_s, FALSE);
  before = tree_string (parent);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Evil *c = &cases[i];
      g_autofree char *img = new_image_path ("evil.ext4");
      g_autofree char *first = NULL, *evil = NULL, *after = NULL;
      g_autoptr (GError) err = NULL;
      Ent evil_ents[3];
      BgrExt4Writer *w;

      g_test_message ("case %s", c->name);
      memcpy (evil_ents, c->evil, sizeof evil_ents);
      if (evil_ents[0].path == NULL)
        evil_ents[0].path = deep;
      if (c->first[0].path != NULL)
        first = write_layer ("first.tar", c->first, NULL);
      evil = write_layer ("evil.tar", evil_ents, NULL);
      w = create_ok (img, 16 * 1024 * 1024);
      if (first != NULL)
        apply_ok (w, first, "sha256:0001");
      g_assert_false (bgr_ext4_writer_apply_layer_file (w, evil, "sha256:ab12", NULL, NULL, &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
      g_test_message ("%s", err->message);
      bgr_assert_contains (err->message, "layer sha256:ab12: entry \"");
      bgr_assert_contains (err->message, c->message);
      /* The checks come before any change, so the image is still sound. */
      close_ok (w);
      bgr_test_assert_fsck_clean (img);
      g_unlink (img);
      g_unlink (evil);
      if (first != NULL)
        g_unlink (first);
      after = tree_string (parent);
      g_assert_cmpstr (after, ==, before);
    }
}

/* ---- sizing ---------------------------------------------------------- */

static void
test_sizing (void)
{
  g_autofree char *img = new_image_path ("sized.ext4");
  g_autofree char *big = g_malloc (3 * 1024 * 1024);
  g_autofree char *l1 = NULL, *l2 = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  guint64 bytes = 0, inodes = 0, size;
  BgrExt4Writer *w;

  for (gsize i = 0; i < 3 * 1024 * 1024; i++)
    big[i] = (char) (g_test_rand_int () | 1);
  {
    g_autofree Ent *e = g_new0 (Ent, 404);
    guint n = 0;

    e[n++] = (Ent){ "big", AE_IFREG, 0644, big, 3 * 1024 * 1024 };
    for (guint i = 0; i < 400; i++)
      {
        char *name = g_strdup_printf ("many/file-with-a-longish-name-%04u", i);
        g_ptr_array_add (names, name);
        e[n++] = (Ent){ name, AE_IFREG, 0644, "some bytes" };
      }
    e[n++] = (Ent){ "lnk", AE_IFLNK, 0777, "big" };
    l1 = write_layer ("s1.tar.gz", e, "gzip");
  }
  {
    const Ent e2[] = { { "big2", AE_IFREG, 0644, big, 1024 * 1024 }, { ".wh.big", AE_IFREG }, END };
    l2 = write_layer ("s2.tar", e2, NULL);
  }
  {
    const char *const paths[] = { l1, l2, NULL };

    g_assert_true (bgr_ext4_measure_layers (paths, &bytes, &inodes, NULL, &err));
    g_assert_no_error (err);
  }
  g_test_message ("measured %" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT " inodes", bytes,
                  inodes);
  g_assert_cmpuint (bytes, >=, 4 * 1024 * 1024 + 401 * 4096);
  g_assert_cmpuint (inodes, >=, 404);
  size = bgr_ext4_image_size_for (bytes, inodes);
  w = bgr_ext4_writer_create (img, size, inodes, &err);
  g_assert_no_error (err);
  apply_ok (w, l1, "layer 1");
  apply_ok (w, l2, "layer 2");
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  g_unlink (img);

  /* Too small (though larger than any one file): the filesystem fills up. */
  w = bgr_ext4_writer_create (img, 3 * 1024 * 1024 + 256 * 1024, inodes, &err);
  g_assert_no_error (err);
  g_assert_false (bgr_ext4_writer_apply_layer_file (w, l1, "sha256:5151", NULL, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
  g_test_message ("%s", err->message);
  bgr_assert_contains (err->message, "layer sha256:5151: entry \"");
  bgr_ext4_writer_abort (w);
  g_unlink (img);

  /* The same, growable, with few inodes: it grows as the layers need (in
   * space and inodes), and the result is whole and clean. */
  g_clear_error (&err);
  w = bgr_ext4_writer_create (img, 1024 * 1024, 64, &err);
  g_assert_no_error (err);
  size = bgr_ext4_writer_get_size (w);
  bgr_ext4_writer_set_growable (w, TRUE);
  apply_ok (w, l1, "layer 1");
  apply_ok (w, l2, "layer 2");
  g_assert_cmpuint (bgr_ext4_writer_get_size (w), >, size + 4 * 1024 * 1024);
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  {
    g_autofree char *st = bgr_test_debugfs (img, "stat /big2");
    g_autofree char *ls = bgr_test_debugfs (img, "ls /many");
    bgr_assert_contains (st, "Size: 1048576");
    bgr_assert_contains (ls, "file-with-a-longish-name-0399");
  }
  g_unlink (img);
}

/* libarchive cannot write an unknown type, so this tar header is made by
 * hand: a ustar entry "weird" with type flag 'Q'. libarchive reads unknown
 * type flags as regular files (as POSIX asks), so it lands as an empty
 * regular file rather than being refused. */
static void
test_unknown_type (void)
{
  g_autofree char *img = new_image_path ("unknown.ext4");
  g_autofree char *tar = new_image_path ("unknown.tar");
  g_autofree char *st = NULL;
  char block[512 * 3] = { 0 };
  guint sum = 0;
  BgrExt4Writer *w;

  strcpy (block, "weird");
  memcpy (block + 100, "0000644", 8);
  memcpy (block + 108, "0000000", 8);
  memcpy (block + 116, "0000000", 8);
  memcpy (block + 124, "00000000000", 12);
  memcpy (block + 136, "13000000000", 12);
  memset (block + 148, ' ', 8);
  block[156] = 'Q';
  memcpy (block + 257, "ustar", 6);
  memcpy (block + 263, "00", 2);
  for (guint i = 0; i < 512; i++)
    sum += (guchar) block[i];
  g_snprintf (block + 148, 8, "%06o", sum);
  g_assert_true (g_file_set_contents (tar, block, sizeof block, NULL));
  w = create_ok (img, 16 * 1024 * 1024);
  apply_ok (w, tar, "layer Q");
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  st = bgr_test_assert_type (img, "/weird", "regular");
  bgr_test_assert_field (st, "Size:", "0");
}

static void
test_create_errors (void)
{
  g_autofree char *img = new_image_path ("exists.ext4");
  g_autoptr (GError) err = NULL;

  g_assert_true (g_file_set_contents (img, "x", 1, NULL));
  g_assert_null (bgr_ext4_writer_create (img, 16 * 1024 * 1024, 100, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_EXISTS);
  g_clear_error (&err);
  g_unlink (img);
  /* an unreadable layer */
  {
    BgrExt4Writer *w = create_ok (img, 16 * 1024 * 1024);
    g_autofree char *junk = new_image_path ("junk.tar");

    g_assert_true (g_file_set_contents (junk, "this is not a tar archive at all", -1, NULL));
    g_assert_false (bgr_ext4_writer_apply_layer_file (w, junk, "layer junk", NULL, NULL, &err));
    g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
    bgr_assert_contains (err->message, "layer junk");
    bgr_ext4_writer_abort (w);
  }
}

/* ---- a directory over many blocks ----------------------------------- */

/* The name of entry @i of the big directory: lengths vary, so that gaps of
 * every size are left in its blocks. */
static char *
big_dir_name (const char *prefix, guint i)
{
  g_autofree char *pad = g_strnfill (i % 53, 'p');

  return g_strdup_printf ("%s-%03u-%s", prefix, i, pad);
}

/* Names debugfs lists in @dir of @img, but "." and "..". */
static GHashTable *
listed_names (const char *img, const char *dir)
{
  g_autofree char *cmd = g_strdup_printf ("ls -p %s", dir);
  g_autofree char *out = bgr_test_debugfs (img, cmd);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  GHashTable *names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  /* Lines are /inode/mode/uid/gid/name/size/. */
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], "/", -1);

      if (g_strv_length (f) >= 7 && !g_str_equal (f[5], ".") && !g_str_equal (f[5], ".."))
        g_assert_true (g_hash_table_add (names, g_strdup (f[5])));
    }
  return names;
}

/* Entries added to a directory of many blocks, some removed by the next
 * layer and others added after: every name is there once, the rest gone. */
static void
test_big_directory (void)
{
  g_autofree char *img = new_image_path ("bigdir.ext4");
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) want = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) got = NULL;
  g_autofree char *longest = g_strnfill (255, 'L');
  g_autofree char *l1 = NULL, *l2 = NULL;
  g_autofree Ent *e1 = g_new0 (Ent, 302), *e2 = g_new0 (Ent, 402);
  guint n1 = 0, n2 = 0;

  for (guint i = 0; i < 300; i++)
    {
      char *name = big_dir_name ("f", i);

      g_ptr_array_add (keep, g_strconcat ("d/", name, NULL));
      e1[n1++] = (Ent){ g_ptr_array_index (keep, keep->len - 1), AE_IFREG, 0644, "x" };
      if (i % 3 != 0)
        g_hash_table_add (want, name);
      else
        g_free (name);
    }
  g_ptr_array_add (keep, g_strconcat ("d/", longest, NULL));
  e1[n1++] = (Ent){ g_ptr_array_index (keep, keep->len - 1), AE_IFREG, 0644, "long" };
  g_hash_table_add (want, g_strdup (longest));
  l1 = write_layer ("bigdir1.tar", e1, NULL);

  /* Every third one goes; a few come back; new ones follow. */
  for (guint i = 0; i < 300; i += 3)
    {
      g_autofree char *name = big_dir_name ("f", i);

      g_ptr_array_add (keep, g_strconcat ("d/.wh.", name, NULL));
      e2[n2++] = (Ent){ g_ptr_array_index (keep, keep->len - 1), AE_IFREG };
    }
  for (guint i = 0; i < 300; i += 30)
    {
      char *name = big_dir_name ("f", i);

      g_ptr_array_add (keep, g_strconcat ("d/", name, NULL));
      e2[n2++] = (Ent){ g_ptr_array_index (keep, keep->len - 1), AE_IFREG, 0644, "back" };
      g_hash_table_add (want, name);
    }
  for (guint i = 0; i < 200; i++)
    {
      char *name = big_dir_name ("g", i);

      g_ptr_array_add (keep, g_strconcat ("d/", name, NULL));
      e2[n2++] = (Ent){ g_ptr_array_index (keep, keep->len - 1), AE_IFREG, 0644, "new" };
      g_hash_table_add (want, name);
    }
  l2 = write_layer ("bigdir2.tar", e2, NULL);

  build_image_ok (img, 32 * 1024 * 1024, (const char *const[]){ l1, l2, NULL });
  got = listed_names (img, "/d");
  g_assert_cmpuint (g_hash_table_size (got), ==, g_hash_table_size (want));
  {
    GHashTableIter it;
    gpointer name;

    g_hash_table_iter_init (&it, want);
    while (g_hash_table_iter_next (&it, &name, NULL))
      if (!g_hash_table_contains (got, name))
        g_error ("\"%s\" is not in /d", (char *) name);
  }
  {
    g_autofree char *st = bgr_test_debugfs (img, "stat /d");
    g_autofree char *size = bgr_test_field (st, "Size:");

    /* Over several blocks: the appends went past the first. */
    g_assert_cmpuint (g_ascii_strtoull (size, NULL, 10), >=, 4 * 4096);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/ext4-writer/layers", test_layers);
  g_test_add_func ("/ext4-writer/big-directory", test_big_directory);
  g_test_add_func ("/ext4-writer/refusals", test_refusals);
  g_test_add_func ("/ext4-writer/sizing", test_sizing);
  g_test_add_func ("/ext4-writer/unknown-type", test_unknown_type);
  g_test_add_func ("/ext4-writer/create-errors", test_create_errors);
  return g_test_run ();
}
