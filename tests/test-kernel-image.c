/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernels and images through the public API (local engine), with a real
 * Debian cloud kernel package and real ext4 filesystems. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <sys/stat.h>

#include <banger/banger.h>

#include "test-specs.h"
#include "bgr-test-util.h"

static const char *deb;

typedef struct {
  BgrClient *client;
  char *state;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrConfig) config = NULL;
  g_autofree char *text = NULL;

  f->state = g_build_filename (g_get_user_state_dir (), "banger", NULL);
  text = g_strdup_printf ("state_dir = \"%s\"\n", f->state);
  config = bgr_config_load_from_data (text, -1, "t.toml", &err);
  g_assert_no_error (err);
  f->client = bgr_client_new_local (config, 0, &err);
  g_assert_no_error (err);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_object_unref (f->client);
  g_free (f->state);
}

/* Nothing but finished kernels in STATE/kernels: no staging leftovers. */
static guint
count_dir (const char *dir, gboolean *staging_left)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      if (g_str_has_prefix (name, ".staging-"))
        *staging_left = TRUE;
      n++;
    }
  return n;
}

static void
assert_no_leftovers (Fixture *f, guint expected_kernels)
{
  g_autofree char *dir = g_build_filename (f->state, "kernels", NULL);
  gboolean staging = FALSE;
  g_assert_cmpuint (count_dir (dir, &staging), ==, expected_kernels);
  g_assert_false (staging);
}

static char *
make_ext4 (const char *name, const char *size, const char *extra_arg, gboolean with_init)
{
  g_autofree char *dir = g_build_filename (g_get_user_runtime_dir (), "rootfs-src", NULL);
  g_autofree char *sbin = g_build_filename (dir, "sbin", NULL);
  g_autofree char *etc = g_build_filename (dir, "etc", NULL);
  g_autofree char *marker = g_build_filename (etc, "banger-test-marker", NULL);
  char *path = g_build_filename (g_get_user_runtime_dir (), name, NULL);
  BgrRun r;

  g_mkdir_with_parents (sbin, 0755);
  g_mkdir_with_parents (etc, 0755);
  g_assert_true (g_file_set_contents (marker, name, -1, NULL));
  if (with_init)
    {
      g_autofree char *init = g_build_filename (sbin, "init", NULL);
      g_autofree char *src = NULL;
      gsize len;
      g_assert_true (g_file_get_contents (bgr_test_program ("BANGER_GUEST_INIT"), &src, &len, NULL));
      g_assert_true (g_file_set_contents (init, src, (gssize) len, NULL));
      g_assert_cmpint (chmod (init, 0755), ==, 0);
    }
  if (extra_arg != NULL)
    bgr_run_env (&r, NULL, (const char *const[]){ "mkfs.ext4", "-q", "-F", extra_arg, "-d", dir, path, size, NULL });
  else
    bgr_run_env (&r, NULL, (const char *const[]){ "mkfs.ext4", "-q", "-F", "-d", dir, path, size, NULL });
  g_assert_cmpint (r.status, ==, 0);
  bgr_run_clear (&r);
  return path;
}

/* SHA-256 of a whole file, holes read as zeros. */
static char *
file_sha256 (const char *path)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buf = g_malloc (1 << 20);
  FILE *fp = fopen (path, "rb");
  size_t n;

  g_assert_nonnull (fp);
  while ((n = fread (buf, 1, 1 << 20, fp)) > 0)
    g_checksum_update (sum, buf, n);
  g_assert_false (ferror (fp));
  fclose (fp);
  return g_strdup (g_checksum_get_string (sum));
}

/* Lists the members of a gzip'd cpio. */
static GHashTable *
initrd_members (const char *path, char **modules_list)
{
  GHashTable *names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  struct archive *a = archive_read_new ();
  struct archive_entry *e;

  archive_read_support_filter_all (a);
  archive_read_support_format_cpio (a);
  g_assert_cmpint (archive_read_open_filename (a, path, 65536), ==, ARCHIVE_OK);
  while (archive_read_next_header (a, &e) == ARCHIVE_OK)
    {
      g_hash_table_add (names, g_strdup (archive_entry_pathname (e)));
      if (g_str_equal (archive_entry_pathname (e), "etc/banger-modules"))
        {
          gsize size = (gsize) archive_entry_size (e);
          *modules_list = g_malloc0 (size + 1);
          g_assert_cmpint (archive_read_data (a, *modules_list, size), ==, (la_ssize_t) size);
        }
      if (g_str_equal (archive_entry_pathname (e), "dev/console"))
        g_assert_true (S_ISCHR (archive_entry_mode (e)));
    }
  archive_read_free (a);
  return names;
}

static void
test_deb_import (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = test_import_kernel_deb (f->client, NULL, deb, NULL, &err);
  g_autoptr (GHashTable) members = NULL;
  g_autofree char *list = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (BgrKernel) again = NULL;
  const char *version;
  gssize pos_virtio, pos_mmio, pos_blk;

  g_assert_no_error (err);
  version = bgr_kernel_get_version (k);
  g_assert_true (g_str_has_suffix (version, "-cloud-amd64"));
  g_assert_cmpstr (bgr_kernel_get_name (k), ==, version);
  g_assert_cmpstr (bgr_kernel_get_format (k), ==, "bzimage");
  g_assert_true (g_str_has_prefix (bgr_kernel_get_kernel_path (k), f->state));
  g_assert_true (g_file_test (bgr_kernel_get_kernel_path (k), G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_str_has_suffix (bgr_kernel_get_modules_dir (k), version));
  g_assert_true (bgr_kernel_get_initrd_generated (k));

  /* The initramfs holds the init, the console node, and the virtio modules
   * in dependency order (from each module's own depends=). */
  members = initrd_members (bgr_kernel_get_initrd_path (k), &list);
  g_assert_true (g_hash_table_contains (members, "init"));
  g_assert_true (g_hash_table_contains (members, "dev/console"));
  g_assert_nonnull (list);
  g_assert_nonnull (strstr (list, "/virtio.ko"));
  g_assert_nonnull (strstr (list, "/virtio_mmio.ko"));
  g_assert_nonnull (strstr (list, "/virtio_blk.ko"));
  pos_virtio = strstr (list, "/virtio.ko") - list;
  pos_mmio = strstr (list, "/virtio_mmio.ko") - list;
  pos_blk = strstr (list, "/virtio_blk.ko") - list;
  g_assert_cmpint (pos_virtio, <, pos_mmio);
  g_assert_cmpint (pos_mmio, <, pos_blk);
  g_assert_nonnull (strstr (list, "/virtio_ring.ko"));
  g_assert_nonnull (strstr (list, "/vmw_vsock_virtio_transport.ko"));

  all = bgr_client_kernel_list (f->client, NULL, &err);
  g_assert_cmpuint (all->len, ==, 1);
  /* Same name again: refused, the first one intact. */
  again = test_import_kernel_deb (f->client, NULL, deb, NULL, &err);
  g_assert_null (again);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_EXISTS);
  assert_no_leftovers (f, 1);
}

static void
test_bad_inputs (Fixture *f, gconstpointer data)
{
  g_autofree char *text = bgr_test_write_file ("not-a-deb.deb", "just some text, not an ar archive\n");
  g_autofree char *elf = g_build_filename (g_get_user_runtime_dir (), "vmlinux", NULL);
  static const struct { const char *name, *kernel; int code; const char *msg; } cases[] = {
    { "bad name!", "/bin/sh", BGR_ERROR_INVALID_ARGUMENT, "invalid kernel name" },
    { "k1", "relative/vmlinux", BGR_ERROR_INVALID_ARGUMENT, "absolute path" },
    { "k1", "/nonexistent/vmlinuz", BGR_ERROR_NOT_FOUND, "/nonexistent/vmlinuz" },
    { "k1", "/bin/sh", BGR_ERROR_INVALID_DATA, "not an x86-64 vmlinux" },
  };
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = NULL;
  g_autoptr (BgrKernel) v = NULL;
  g_autoptr (GPtrArray) all = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (BgrKernel) none = test_import_kernel (f->client, cases[i].name, cases[i].kernel,
                                                            NULL, NULL, NULL, &err);
      g_assert_null (none);
      g_assert_error (err, BGR_ERROR, cases[i].code);
      bgr_assert_contains (err->message, cases[i].msg);
      g_clear_error (&err);
    }
  k = test_import_kernel (f->client, "k1", text, NULL, NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  bgr_assert_contains (err->message, "neither an ELF vmlinux nor a bzImage");
  g_clear_error (&err);
  k = test_import_kernel_deb (f->client, "k1", text, NULL, &err);
  g_assert_null (k);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  bgr_assert_contains (err->message, "not a Debian package");
  g_clear_error (&err);
  all = bgr_client_kernel_list (f->client, NULL, &err);
  g_assert_cmpuint (all->len, ==, 0);
  assert_no_leftovers (f, 0);

  /* A minimal x86-64 ELF executable header is a vmlinux. */
  {
    Elf64_Ehdr eh = { 0 };
    memcpy (eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    g_assert_true (g_file_set_contents (elf, (const char *) &eh, sizeof eh, NULL));
  }
  v = test_import_kernel (f->client, "fc", elf, NULL, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_format (v), ==, "vmlinux");
  g_assert_null (bgr_kernel_get_initrd_path (v));
}

static void
test_bzimage_with_modules (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) from_deb = test_import_kernel_deb (f->client, "deb", deb, NULL, &err);
  g_autoptr (BgrKernel) k = NULL;
  g_autofree char *modroot = NULL;

  g_assert_no_error (err);
  /* Hand the imported tree back as a modules directory: lib/modules/VERSION. */
  modroot = g_path_get_dirname (bgr_kernel_get_modules_dir (from_deb));
  k = test_import_kernel (f->client, "custom", bgr_kernel_get_kernel_path (from_deb),
                                modroot, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (bgr_kernel_get_format (k), ==, "bzimage");
  g_assert_cmpstr (bgr_kernel_get_version (k), ==, bgr_kernel_get_version (from_deb));
  g_assert_true (bgr_kernel_get_initrd_generated (k));
  {
    /* Without modules the version comes from the bzImage header itself. */
    g_autoptr (BgrKernel) bare = test_import_kernel (f->client, "bare",
                                                           bgr_kernel_get_kernel_path (from_deb),
                                                           NULL, NULL, NULL, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (bgr_kernel_get_version (bare), ==, bgr_kernel_get_version (from_deb));
    g_assert_null (bgr_kernel_get_initrd_path (bare));
  }
  {
    /* Modules of another version are refused. */
    g_autofree char *other = g_build_filename (g_get_user_runtime_dir (), "othermods", "lib",
                                               "modules", "9.9.9-other", "kernel", NULL);
    g_autofree char *root = g_build_filename (g_get_user_runtime_dir (), "othermods", NULL);
    g_autoptr (BgrKernel) wrong = NULL;
    g_mkdir_with_parents (other, 0755);
    wrong = test_import_kernel (f->client, "wrong", bgr_kernel_get_kernel_path (from_deb),
                                      root, NULL, NULL, &err);
    g_assert_null (wrong);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
    bgr_assert_contains (err->message, "9.9.9-other");
    g_clear_error (&err);
  }
  g_assert_true (g_file_test (bgr_kernel_get_initrd_path (k), G_FILE_TEST_IS_REGULAR));
}

static void
test_images (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = test_import_kernel_deb (f->client, "cloud", deb, NULL, &err);
  g_autofree char *rootfs = make_ext4 ("root.ext4", "256M", NULL, TRUE);
  g_autofree char *ext2 = make_ext4 ("old.ext2", "8M", "-O^has_journal,^extent,^flex_bg,^64bit,^metadata_csum", FALSE);
  g_autofree char *zeros = g_build_filename (g_get_user_runtime_dir (), "zeros.img", NULL);
  g_autoptr (BgrImage) img = NULL;
  g_autoptr (BgrImage) promoted = NULL;
  g_autoptr (BgrImage) shown = NULL;
  g_autoptr (GPtrArray) list = NULL;
  struct stat before, after;

  g_assert_no_error (err);
  {
    g_autofree char *z = g_malloc0 (1 << 20);
    g_assert_true (g_file_set_contents (zeros, z, 1 << 20, NULL));
  }
  /* Bad registrations change nothing. */
  img = test_register_image (f->client, "bad", zeros, NULL, NULL, "cloud", NULL, NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  bgr_assert_contains (err->message, "rootfs");
  g_clear_error (&err);
  img = test_register_image (f->client, "bad", ext2, NULL, NULL, "cloud", NULL, NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_DATA);
  bgr_assert_contains (err->message, "not ext4");
  g_clear_error (&err);
  img = test_register_image (f->client, "bad", rootfs, NULL, bgr_kernel_get_kernel_path (k),
                                   "cloud", NULL, NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  img = test_register_image (f->client, "bad", rootfs, NULL, NULL, "no-such-kernel", NULL,
                                   NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);
  img = test_register_image (f->client, "bad", "rel/root.ext4", NULL, NULL, "cloud", NULL,
                                   NULL, NULL, &err);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  list = bgr_client_image_list (f->client, NULL, &err);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Register: unmanaged, pointing at our file, kernel files shown. */
  img = test_register_image (f->client, "dev", rootfs, NULL, NULL, "cloud", NULL, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_false (bgr_image_get_managed (img));
  g_assert_cmpstr (bgr_image_get_rootfs_path (img), ==, rootfs);
  g_assert_cmpstr (bgr_image_get_kernel_ref (img), ==, "cloud");
  g_assert_cmpstr (bgr_image_get_kernel_path (img), ==, bgr_kernel_get_kernel_path (k));
  g_assert_cmpstr (bgr_image_get_initrd_path (img), ==, bgr_kernel_get_initrd_path (k));

  /* The kernel is in use now. */
  g_assert_false (bgr_client_kernel_delete (f->client, "cloud", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_BUSY);
  bgr_assert_contains (err->message, "dev");
  g_clear_error (&err);

  /* Promote: sparse copy (allocation follows the data, not the 256 MiB),
   * of the same bytes (a file of holes the right size would pass the size
   * checks) that e2fsck finds clean. */
  g_assert_cmpint (stat (rootfs, &before), ==, 0);
  promoted = bgr_client_image_promote (f->client, "dev", NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_image_get_managed (promoted));
  g_assert_true (g_str_has_prefix (bgr_image_get_rootfs_path (promoted), f->state));
  g_assert_cmpint (stat (bgr_image_get_rootfs_path (promoted), &after), ==, 0);
  g_assert_cmpint (after.st_size, ==, before.st_size);
  g_assert_cmpint ((gint64) after.st_blocks, <=, (gint64) before.st_blocks + 64);
  g_assert_cmpint ((gint64) after.st_blocks * 512, <, 64 * 1024 * 1024);
  {
    g_autofree char *want = file_sha256 (rootfs);
    g_autofree char *got = file_sha256 (bgr_image_get_rootfs_path (promoted));
    BgrRun r;

    g_assert_cmpstr (got, ==, want);
    bgr_run_env (&r, NULL, (const char *const[]){ "e2fsck", "-fn",
                                                  bgr_image_get_rootfs_path (promoted), NULL });
    if (r.status != 0)
      g_test_message ("e2fsck: %s%s", r.out != NULL ? r.out : "", r.err != NULL ? r.err : "");
    g_assert_cmpint (r.status, ==, 0);
    bgr_run_clear (&r);
  }
  g_assert_false (bgr_client_image_promote (f->client, "dev", NULL, NULL, &err) != NULL);
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO);
  g_clear_error (&err);
  shown = bgr_client_image_get (f->client, "dev", NULL, &err);
  g_assert_true (bgr_image_get_managed (shown));

  /* Delete: managed files go, the user's original stays. */
  {
    g_autofree char *dir = g_path_get_dirname (bgr_image_get_rootfs_path (promoted));
    g_assert_true (bgr_client_image_delete (f->client, "dev", NULL, &err));
    g_assert_no_error (err);
    g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (rootfs, G_FILE_TEST_IS_REGULAR));
  }
  /* A registered image's delete keeps the files. */
  g_clear_object (&img);
  img = test_register_image (f->client, "again", rootfs, NULL, NULL, "cloud", NULL, NULL, NULL, &err);
  g_assert_no_error (err);
  g_assert_true (bgr_client_image_delete (f->client, "again", NULL, &err));
  g_assert_true (g_file_test (rootfs, G_FILE_TEST_IS_REGULAR));
  g_assert_false (bgr_client_image_delete (f->client, "again", NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);

  /* Unused now: the kernel and its directory go. */
  g_assert_true (bgr_client_kernel_delete (f->client, "cloud", NULL, &err));
  g_assert_no_error (err);
  g_assert_false (g_file_test (bgr_kernel_get_kernel_path (k), G_FILE_TEST_EXISTS));
}

static void
on_qemu_done (GObject *source, GAsyncResult *res, gpointer data)
{
  char **out = data;
  g_autoptr (GError) err = NULL;
  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), res, &out[0], NULL, &err);
  g_assert_no_error (err);
  out[1] = GINT_TO_POINTER (1);
}

/* Under TCG on a busy host the kernel's TSC calibration against the PIT
 * can fail and hang the boot; giving it the TSC rate skips calibration.
 * The host's own rate is the natural value. */
static char *
tsc_khz_option (void)
{
  g_autofree char *cpuinfo = NULL;
  const char *mhz;
  double v = 0;

  if (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL)
      && (mhz = strstr (cpuinfo, "cpu MHz")) != NULL && (mhz = strchr (mhz, ':')) != NULL)
    v = g_ascii_strtod (mhz + 1, NULL);
  if (v < 100)
    v = 2000;
  return g_strdup_printf ("tsc_early_khz=%u", (guint) (v * 1000));
}

static gboolean
on_boot_timeout (gpointer data)
{
  g_subprocess_force_exit (data);
  return G_SOURCE_REMOVE;
}

/* The boot check: QEMU's microvm boots the imported Debian kernel with the
 * initramfs banger generated and a tiny ext4 rootfs; the rootfs's init must
 * run (it prints a line on the serial console and powers off). TCG on
 * purpose: it works on every machine, KVM or not. */
static void
test_boot (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrKernel) k = test_import_kernel_deb (f->client, "boot", deb, NULL, &err);
  g_autofree char *rootfs = make_ext4 ("boot-root.ext4", "32M", NULL, TRUE);
  g_autofree char *drive = g_strdup_printf ("id=d0,file=%s,format=raw,if=none", rootfs);
  g_autofree char *qemu = g_find_program_in_path ("qemu-system-x86_64");
  g_autofree char *tsc = tsc_khz_option ();
  g_autofree char *cmdline = g_strdup_printf ("console=ttyS0 root=/dev/vda rootfstype=ext4 panic=-1 %s", tsc);
  g_autoptr (GSubprocess) proc = NULL;
  char *out[2] = { NULL, NULL };
  guint timeout;
  gint64 start = g_get_monotonic_time ();

  g_assert_no_error (err);
  if (qemu == NULL)
    g_error ("qemu-system-x86_64 is needed for the boot check (apt-get install qemu-system-x86)");
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &err,
                           qemu, "-M", "microvm,acpi=on", "-accel", "tcg", "-m", "256", "-smp", "1",
                           "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
                           "-kernel", bgr_kernel_get_kernel_path (k),
                           "-initrd", bgr_kernel_get_initrd_path (k),
                           "-append", cmdline,
                           "-drive", drive, "-device", "virtio-blk-device,drive=d0", NULL);
  g_assert_no_error (err);
  timeout = g_timeout_add_seconds (60, on_boot_timeout, proc);
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, on_qemu_done, out);
  while (out[1] == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
  g_test_message ("serial console:\n%s", out[0]);
  g_test_message ("boot took %.1f s", (g_get_monotonic_time () - start) / 1e6);
  bgr_assert_contains (out[0], "banger-init: loaded");
  bgr_assert_contains (out[0], "banger-test-rootfs: init ran as pid 1, marker boot-root.ext4");
  g_free (out[0]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  deb = bgr_test_program ("BANGER_TEST_KERNEL_DEB");
  if (!g_file_test (deb, G_FILE_TEST_IS_REGULAR))
    g_error ("%s is missing: run scripts/fetch-test-kernel.sh (ctest runs it as a fixture)", deb);
  g_test_add ("/kernel/deb-import", Fixture, NULL, setup, test_deb_import, teardown);
  g_test_add ("/kernel/bad-inputs", Fixture, NULL, setup, test_bad_inputs, teardown);
  g_test_add ("/kernel/bzimage-with-modules", Fixture, NULL, setup, test_bzimage_with_modules, teardown);
  g_test_add ("/image/register-promote-delete", Fixture, NULL, setup, test_images, teardown);
  g_test_add ("/kernel/boot", Fixture, NULL, setup, test_boot, teardown);
  return g_test_run ();
}
