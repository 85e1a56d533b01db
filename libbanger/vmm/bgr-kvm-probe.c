/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Does KVM run guests here? See bgr-kvm-probe-private.h. The test guest
 * itself is in bgr-kvm-guest.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/bgr-kvm-guest-private.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define CACHE_NAME "kvm-probe.json"
#define CACHE_FORMAT 1

/* ---- the verdict of this boot -------------------------------------------------- */

static GMutex probe_lock;
static char *test_boot_id_path, *test_cache_path;
/* What this process learnt (a probe, or a guest seen hanging) and could
 * not write to the cache: used instead of probing again. Where the cache
 * is written, the file is the truth (delete it to probe again). */
static struct {
  char *key; /* boot id and modules */
  BgrKvmVerdict verdict;
  char *why;
} unsaved;

static char *
read_boot_id (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (test_boot_id_path != NULL ? test_boot_id_path : BOOT_ID_PATH, &text,
                            NULL, NULL))
    return NULL;
  g_strstrip (text);
  return *text != '\0' ? g_steal_pointer (&text) : NULL;
}

static char *
cache_path (const char *cache_dir)
{
  if (test_cache_path != NULL)
    return g_strdup (test_cache_path);
  return cache_dir != NULL && *cache_dir != '\0' ? g_build_filename (cache_dir, CACHE_NAME, NULL)
                                                  : NULL;
}

char *
bgr_kvm_probe_dup_cache_path (const char *cache_dir)
{
  char *path;

  g_mutex_lock (&probe_lock);
  path = cache_path (cache_dir);
  g_mutex_unlock (&probe_lock);
  return path;
}

const char *
bgr_kvm_verdict_to_string (BgrKvmVerdict verdict)
{
  switch (verdict)
    {
    case BGR_KVM_ABSENT: return "absent";
    case BGR_KVM_NO_ACCESS: return "no-access";
    case BGR_KVM_NO_GUESTS: return "no-guests";
    default: return "usable";
    }
}

/* The cached verdict for this boot, or -1 (no file, another boot, another
 * KVM module, or not a file this code wrote). */
static int
cache_load (const char *path, const char *boot_id, const char *modules, char **why)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o;
  const char *verdict;

  if (path == NULL || boot_id == NULL || !json_parser_load_from_file (parser, path, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return -1;
  o = json_node_get_object (json_parser_get_root (parser));
  if (json_object_get_int_member_with_default (o, "format", 0) != CACHE_FORMAT
      || g_strcmp0 (json_object_get_string_member_with_default (o, "boot_id", NULL), boot_id) != 0
      || g_strcmp0 (json_object_get_string_member_with_default (o, "kvm_modules", NULL), modules) != 0
      || json_object_get_string_member_with_default (o, "message", NULL) == NULL)
    return -1;
  verdict = json_object_get_string_member_with_default (o, "verdict", "");
  *why = g_strdup (json_object_get_string_member (o, "message"));
  if (g_str_equal (verdict, bgr_kvm_verdict_to_string (BGR_KVM_USABLE)))
    return BGR_KVM_USABLE;
  if (g_str_equal (verdict, bgr_kvm_verdict_to_string (BGR_KVM_NO_GUESTS)))
    return BGR_KVM_NO_GUESTS;
  g_clear_pointer (why, g_free);
  return -1;
}

static gboolean
cache_store (const char *path, const char *boot_id, const char *modules, BgrKvmVerdict verdict,
             const char *why)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL, *dir = NULL;
  g_autoptr (GError) error = NULL;

  if (path == NULL || boot_id == NULL)
    return FALSE;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_int_value (b, CACHE_FORMAT);
  json_builder_set_member_name (b, "boot_id");
  json_builder_add_string_value (b, boot_id);
  json_builder_set_member_name (b, "kvm_modules");
  json_builder_add_string_value (b, modules);
  json_builder_set_member_name (b, "verdict");
  json_builder_add_string_value (b, bgr_kvm_verdict_to_string (verdict));
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, why);
  json_builder_set_member_name (b, "time");
  json_builder_add_int_value (b, g_get_real_time () / G_USEC_PER_SEC);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, TRUE);
  dir = g_path_get_dirname (path);
  /* Written to a temporary file and renamed over: readers see the old
   * verdict or the new one, never half of one. */
  if (g_mkdir_with_parents (dir, 0700) != 0
      || !g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error))
    {
      g_info ("kvm probe: cannot cache the verdict in %s: %s", path,
              error != NULL ? error->message : g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* Caches a verdict, or keeps it in memory where it cannot be cached. */
static void
save (const char *path, const char *boot_id, const char *modules, const char *key,
      BgrKvmVerdict verdict, const char *why)
{
  g_clear_pointer (&unsaved.key, g_free);
  g_clear_pointer (&unsaved.why, g_free);
  if (cache_store (path, boot_id, modules, verdict, why))
    return;
  unsaved.key = g_strdup (key);
  unsaved.verdict = verdict;
  unsaved.why = g_strdup (why);
}

BgrKvmVerdict
bgr_kvm_probe (const char *cache_dir, char **why, gboolean *from_cache)
{
  g_autofree char *local_why = NULL, *boot_id = NULL, *modules = NULL, *path = NULL, *key = NULL;
  gboolean cached = FALSE, cacheable = FALSE;
  int fd = -1;
  int verdict = bgr_kvm_guest_check_device (&fd, &local_why);

  if (verdict >= 0)
    goto out;
  g_clear_pointer (&local_why, g_free);

  g_mutex_lock (&probe_lock);
  boot_id = read_boot_id ();
  modules = bgr_kvm_guest_modules ();
  path = cache_path (cache_dir);
  key = g_strdup_printf ("%s %s", boot_id != NULL ? boot_id : "", modules);
  if ((verdict = cache_load (path, boot_id, modules, &local_why)) >= 0)
    cached = TRUE;
  else if (unsaved.key != NULL && g_str_equal (unsaved.key, key))
    {
      verdict = unsaved.verdict;
      local_why = g_strdup (unsaved.why);
      cached = TRUE;
    }
  else
    {
      verdict = bgr_kvm_guest_run (fd, FALSE, BGR_KVM_PROBE_TIMEOUT_MS, &local_why, &cacheable);
      if (*modules != '\0')
        {
          char *with = g_strdup_printf ("%s (KVM module: %s)", local_why, modules);
          g_free (local_why);
          local_why = with;
        }
      if (cacheable)
        save (path, boot_id, modules, key, verdict, local_why);
      g_info ("kvm probe: %s: %s", bgr_kvm_verdict_to_string (verdict), local_why);
    }
  g_mutex_unlock (&probe_lock);
  close (fd);

out:
  if (why != NULL)
    *why = g_steal_pointer (&local_why);
  if (from_cache != NULL)
    *from_cache = cached;
  return verdict;
}

void
bgr_kvm_probe_record_no_guests (const char *cache_dir, const char *why)
{
  g_autofree char *boot_id = NULL, *modules = NULL, *path = NULL, *key = NULL;

  g_mutex_lock (&probe_lock);
  boot_id = read_boot_id ();
  modules = bgr_kvm_guest_modules ();
  path = cache_path (cache_dir);
  key = g_strdup_printf ("%s %s", boot_id != NULL ? boot_id : "", modules);
  save (path, boot_id, modules, key, BGR_KVM_NO_GUESTS, why);
  g_mutex_unlock (&probe_lock);
}

void
bgr_kvm_probe_set_test_paths (const char *boot_id_path, const char *cache_path_)
{
  g_mutex_lock (&probe_lock);
  g_free (test_boot_id_path);
  g_free (test_cache_path);
  test_boot_id_path = g_strdup (boot_id_path);
  test_cache_path = g_strdup (cache_path_);
  g_clear_pointer (&unsaved.key, g_free);
  g_clear_pointer (&unsaved.why, g_free);
  g_mutex_unlock (&probe_lock);
}

