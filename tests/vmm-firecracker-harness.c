/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the Firecracker driver tests (test-vmm-firecracker*.c) share: a
 * fixture with a short temporary directory, the files a VM needs and the
 * stand-in binary (tests/fake-firecracker.py) whose recorded requests and
 * verdicts are read back as JSON. */
#include "config.h"

#include "vmm-firecracker-harness.h"

char *
put_file (Fixture *f, const char *name, const void *data, gsize len)
{
  char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr (GError) err = NULL;

  g_file_set_contents (path, data, len, &err);
  g_assert_no_error (err);
  return path;
}

char *
fake_binary (Fixture *f)
{
  const char *script = bgr_test_program ("BANGER_FAKE_FIRECRACKER");
  g_autofree char *wrapper = NULL;
  char *path;

  if (g_file_test (script, G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup (script);
  wrapper = g_strdup_printf ("#!/bin/sh\nexec python3 '%s' \"$@\"\n", script);
  path = put_file (f, "firecracker", wrapper, strlen (wrapper));
  g_assert_no_errno (chmod (path, 0755));
  return path;
}

void
fixture_setup (Fixture *f, gconstpointer data)
{
  static const guchar elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
  g_autoptr (GError) err = NULL;

  f->dir = g_dir_make_tmp ("bgr-fc-XXXXXX", &err);
  g_assert_no_error (err);
  f->run_dir = g_build_filename (f->dir, "run", NULL);
  g_assert_no_errno (g_mkdir (f->run_dir, 0700));
  f->kernel = put_file (f, "vmlinux", elf, sizeof elf);
  f->initrd = put_file (f, "initrd.img", "initrd", 6);
  f->rootfs = put_file (f, "rootfs.ext4", "rootfs", 6);
  f->work = put_file (f, "work.ext4", "work", 4);
  f->console = g_build_filename (f->dir, "console.log", NULL);
  f->record = g_build_filename (f->dir, "requests.jsonl", NULL);
  f->fake = fake_binary (f);
  g_setenv ("BANGER_FAKE_FC_LOG", f->record, TRUE);

  f->config = (BgrVmmConfig){
    .id = "abc123def456",
    .name = "fc-test",
    .run_dir = f->run_dir,
    .binary = f->fake,
    .kernel = f->kernel,
    .initrd = f->initrd,
    .cmdline = "console=ttyS0 reboot=k panic=1 pci=off init=/sbin/banger-init",
    .vcpus = 2,
    .memory_mib = 384,
    .rootfs = f->rootfs,
    .work_disk = f->work,
    .tap = "bgrtap0",
    .mac = "02:fc:00:00:00:07",
    .console_log = f->console,
    .allow_kvm = TRUE,
    .reclaim_memory = TRUE,
  };
}

void
assert_nothing_running (Fixture *f)
{
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (f->run_dir);
  g_assert_cmpuint (pids->len, ==, 0);
}

void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (f->dir);

  for (guint i = 0; i < pids->len; i++)
    kill (g_array_index (pids, gint, i), SIGKILL);
  g_unsetenv ("BANGER_FAKE_FC_LOG");
  if (g_test_failed ())
    {
      g_autofree char *console = NULL;
      if (g_file_get_contents (f->console, &console, NULL, NULL))
        g_test_message ("console log:\n%s", console);
    }
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
    g_assert_cmpint (system (cmd), ==, 0);
  }
  g_free (f->dir);
  g_free (f->run_dir);
  g_free (f->kernel);
  g_free (f->initrd);
  g_free (f->rootfs);
  g_free (f->work);
  g_free (f->console);
  g_free (f->record);
  g_free (f->fake);
}

GPtrArray *
read_records (Fixture *f)
{
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (f->record, &text, NULL, NULL))
    return records;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) err = NULL;

      if (**l == '\0')
        continue;
      json_parser_load_from_data (parser, *l, -1, &err);
      g_assert_no_error (err);
      g_ptr_array_add (records, json_object_ref (json_node_get_object (json_parser_get_root (parser))));
    }
  return records;
}

JsonObject *
find_record (GPtrArray *records, const char *method, const char *path)
{
  for (guint i = 0; i < records->len; i++)
    {
      JsonObject *r = records->pdata[i];
      if (g_str_equal (json_object_get_string_member (r, "method"), method)
          && g_str_equal (json_object_get_string_member (r, "path"), path))
        return r;
    }
  return NULL;
}

JsonObject *
record_body (GPtrArray *records, const char *method, const char *path)
{
  JsonObject *r = find_record (records, method, path);

  if (r == NULL)
    g_error ("no %s %s was sent", method, path);
  return json_object_get_object_member (r, "body");
}

char *
member_names (JsonObject *o)
{
  GList *names = g_list_sort (json_object_get_members (o), (GCompareFunc) g_strcmp0);
  g_autoptr (GString) s = g_string_new (NULL);

  for (GList *l = names; l != NULL; l = l->next)
    g_string_append_printf (s, "%s%s", s->len ? "," : "", (const char *) l->data);
  g_list_free (names);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

void
assert_members (JsonObject *o, const char *expected)
{
  g_autofree char *names = member_names (o);
  g_assert_cmpstr (names, ==, expected);
}

gboolean
file_has (const char *path, const char *text)
{
  g_autofree char *contents = NULL;
  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, text) != NULL;
}

static void
test_no_spec (void)
{
  g_test_skip ("BANGER_SPEC_DIR does not hold firecracker-api.yaml (the shared/spec folder "
               "next to the source tree; set -DBANGER_SPEC_DIR=...)");
}

gboolean
fc_test_init (int *argc, char ***argv)
{
  const char *spec_dir;
  g_autofree char *spec = NULL;

  g_test_init (argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* The stand-in reads the spec from BANGER_SPEC_DIR. */
  spec_dir = g_getenv ("BANGER_SPEC_DIR");
  spec = spec_dir != NULL ? g_build_filename (spec_dir, "firecracker-api.yaml", NULL) : NULL;
  if (spec == NULL || !g_file_test (spec, G_FILE_TEST_IS_REGULAR))
    {
      g_test_add_func ("/vmm-firecracker/no-spec", test_no_spec);
      return FALSE;
    }
  return TRUE;
}
