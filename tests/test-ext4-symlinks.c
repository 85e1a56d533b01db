/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Layer entries under symlinked parents (ext4/bgr-ext4-writer-resolve.c): the
 * links are followed inside the image, as umoci and containerd do, so that
 * merged-/usr images work and no planted link leads out of the image.
 * Where each entry landed is read back with debugfs; the host's files
 * around the image are listed before and after. */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-test-layers.h"

typedef struct
{
  const char *name;
  Ent first[6];
  Ent second[4];
  /* Afterwards: these paths have this debugfs type and, for files, this
   * content ("" for none to check); NULL type: absent. */
  struct
  {
    const char *path, *type, *content;
  } expect[4];
} Case;

static void
check_expect (const char *img, const char *path, const char *type, const char *content)
{
  g_autofree char *st = NULL;

  if (type == NULL)
    {
      bgr_test_assert_absent (img, path);
      return;
    }
  st = bgr_test_assert_type (img, path, type);
  if (content != NULL && *content != '\0')
    {
      gsize len = 0;
      g_autofree char *got = dump (img, path, &len);
      g_assert_cmpmem (got, len, content, strlen (content));
    }
}

static void
test_followed (void)
{
  const Case cases[] = {
    { "merged-usr",
      { { "usr/lib", AE_IFDIR }, { "usr/bin", AE_IFDIR }, { "lib", AE_IFLNK, 0777, "usr/lib" },
        { "bin", AE_IFLNK, 0777, "usr/bin" }, END },
      { { "lib/x/y", AE_IFREG, 0644, "why" }, { "bin/tool", AE_IFREG, 0755, "#!/bin/sh\n" }, END },
      { { "/usr/lib/x/y", "regular", "why" }, { "/usr/bin/tool", "regular", "#!/bin/sh\n" },
        { "/lib", "symlink" }, { "/bin", "symlink" } } },
    { "absolute-target", { { "etc", AE_IFDIR }, { "evil", AE_IFLNK, 0777, "/etc" }, END },
      { { "evil/passwd", AE_IFREG, 0, "root::0:0" }, END },
      { { "/etc/passwd", "regular", "root::0:0" }, { "/evil", "symlink" } } },
    { "dotdot-past-root", { { "a/b", AE_IFDIR }, { "a/b/up", AE_IFLNK, 0777, "../../../../.." }, END },
      { { "a/b/up/escape", AE_IFREG, 0, "x" }, END },
      { { "/escape", "regular", "x" }, { "/a/b/up", "symlink" } } },
    { "same-layer", {},
      { { "evil", AE_IFLNK, 0777, "/etc" }, { "evil/passwd", AE_IFREG, 0, "pw" }, END },
      { { "/etc/passwd", "regular", "pw" }, { "/etc", "directory" } } },
    { "chain", { { "a", AE_IFLNK, 0777, "b" }, { "b", AE_IFLNK, 0777, "/c/../c/d" }, END },
      { { "a/f", AE_IFREG, 0, "chained" }, END }, { { "/c/d/f", "regular", "chained" } } },
    { "whiteout-through-link",
      { { "usr/lib/gone", AE_IFREG, 0, "x" }, { "usr/lib/kept", AE_IFREG, 0, "k" },
        { "lib", AE_IFLNK, 0777, "usr/lib" }, END },
      { { "lib/.wh.gone", AE_IFREG }, END },
      { { "/usr/lib/gone", NULL }, { "/usr/lib/kept", "regular", "k" } } },
    { "opaque-through-link",
      { { "usr/lib/old", AE_IFREG, 0, "x" }, { "lib", AE_IFLNK, 0777, "/usr/lib" }, END },
      { { "lib/new", AE_IFREG, 0, "n" }, { "lib/.wh..wh..opq", AE_IFREG }, END },
      { { "/usr/lib/old", NULL }, { "/usr/lib/new", "regular", "n" }, { "/lib", "symlink" } } },
    { "hardlink-through-link",
      { { "etc/passwd", AE_IFREG, 0, "pw" }, { "s", AE_IFLNK, 0777, "/etc" }, END },
      { { "pw", .hardlink = "s/passwd" }, END },
      { { "/pw", "regular", "pw" }, { "/etc/passwd", "regular", "pw" } } },
  };
  g_autofree char *box = sandbox ();
  g_autofree char *parent = g_path_get_dirname (box);
  g_autofree char *before = NULL;

  before = tree_string (parent);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      g_autofree char *img = new_image_path ("links.ext4");
      g_autofree char *first = NULL, *second = NULL, *after = NULL;
      BgrExt4Writer *w;

      g_test_message ("case %s", c->name);
      if (c->first[0].path != NULL)
        first = write_layer ("first.tar", c->first, NULL);
      second = write_layer ("second.tar", c->second, "gzip");
      w = create_ok (img, 16 * 1024 * 1024);
      if (first != NULL)
        apply_ok (w, first, "sha256:0001");
      apply_ok (w, second, "sha256:0002");
      close_ok (w);
      bgr_test_assert_fsck_clean (img);
      for (guint j = 0; j < G_N_ELEMENTS (c->expect) && c->expect[j].path != NULL; j++)
        check_expect (img, c->expect[j].path, c->expect[j].type, c->expect[j].content);
      if (g_str_equal (c->name, "hardlink-through-link"))
        {
          g_autofree char *st = bgr_test_stat_of (img, "/pw");
          bgr_test_assert_field (st, "Links:", "2");
        }
      g_unlink (img);
      g_unlink (second);
      if (first != NULL)
        g_unlink (first);
      /* Nothing was written next to the image. */
      after = tree_string (parent);
      g_assert_cmpstr (after, ==, before);
    }
}

/* The fuzzer's seed of escapes through symlinks (tests/fuzz/corpus-layer),
 * gzip-compressed: everything lands inside. */
static void
test_corpus_seed (void)
{
  g_autofree char *seed = g_test_build_filename (G_TEST_DIST, "fuzz", "corpus-layer",
                                                 "symlink-escapes.tar.gz", NULL);
  g_autofree char *img = new_image_path ("seed.ext4");
  BgrExt4Writer *w = create_ok (img, 16 * 1024 * 1024);

  apply_ok (w, seed, "seed");
  close_ok (w);
  bgr_test_assert_fsck_clean (img);
  check_expect (img, "/usr/lib/x/z", "regular", "z");
  check_expect (img, "/usr/lib/x/y", NULL, NULL);
  check_expect (img, "/etc/passwd", "regular", "root::0:0");
  check_expect (img, "/pw", "regular", "root::0:0");
  check_expect (img, "/escape", "regular", "x");
  check_expect (img, "/tmp/f", "regular", "x");
  check_expect (img, "/chain", "symlink", NULL);
  g_unlink (img);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/ext4-symlinks/followed", test_followed);
  g_test_add_func ("/ext4-symlinks/corpus-seed", test_corpus_seed);
  return g_test_run ();
}
