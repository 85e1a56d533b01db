/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The "who uses what" index, kept in memory: the records say it too, but
 * a VM being created uses its image before its record exists, and asking
 * the index needs no knowledge of the VM code. */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-usage-private.h"

struct _BgrEngineUsage {
  GHashTable *vm_image;     /* VM -> the image it was made from */
  GHashTable *image_kernel; /* image -> the managed kernel it boots, or "" */
  char *unreadable;         /* why an image record could not be read, or NULL */
};

BgrEngineUsage *
bgr_engine_usage_new (void)
{
  BgrEngineUsage *usage = g_new0 (BgrEngineUsage, 1);

  usage->vm_image = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  usage->image_kernel = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return usage;
}

void
bgr_engine_usage_free (BgrEngineUsage *usage)
{
  if (usage == NULL)
    return;
  g_hash_table_unref (usage->vm_image);
  g_hash_table_unref (usage->image_kernel);
  g_free (usage->unreadable);
  g_free (usage);
}

static void
put_image (BgrEngineUsage *usage, const char *image, const char *kernel_ref)
{
  g_hash_table_insert (usage->image_kernel, g_strdup (image),
                       g_strdup (kernel_ref != NULL ? kernel_ref : ""));
}

/* (Re)reads the image records. One that cannot be read might boot any
 * kernel: while there is one, no kernel can be deleted. */
static void
load_images (BgrEngine *engine, BgrEngineUsage *usage)
{
  g_autoptr (GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), "image", errors);

  g_hash_table_remove_all (usage->image_kernel);
  g_clear_pointer (&usage->unreadable, g_free);
  if (errors->len > 0)
    usage->unreadable = g_strdup (((GError *) errors->pdata[0])->message);
  for (guint i = 0; i < docs->len; i++)
    put_image (usage, bgr_record_str (docs->pdata[i], "name"),
               bgr_record_str (docs->pdata[i], "kernel_ref"));
}

/* The index of @engine, with the image records read again while one could
 * not be (it may have been mended or removed since). */
static BgrEngineUsage *
usage_of (BgrEngine *engine)
{
  BgrEngineUsage *usage = bgr_engine_get_usage (engine);

  if (usage->unreadable != NULL)
    load_images (engine, usage);
  return usage;
}

void
bgr_engine_usage_load (BgrEngine *engine)
{
  BgrEngineUsage *usage = bgr_engine_get_usage (engine);
  g_autoptr (GPtrArray) vms = bgr_store_load_all (bgr_engine_get_store (engine), "vm", NULL);

  load_images (engine, usage);
  g_hash_table_remove_all (usage->vm_image);
  for (guint i = 0; i < vms->len; i++)
    {
      const char *image = bgr_record_str (vms->pdata[i], "image");
      if (image != NULL)
        g_hash_table_insert (usage->vm_image, g_strdup (bgr_record_str (vms->pdata[i], "name")),
                             g_strdup (image));
    }
}

gboolean
bgr_engine_usage_add_vm (BgrEngine *engine, const char *vm, const char *image, GError **error)
{
  BgrEngineUsage *usage = usage_of (engine);

  if (!g_hash_table_contains (usage->image_kernel, image))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "image '%s' was deleted meanwhile",
                   image);
      return FALSE;
    }
  g_hash_table_insert (usage->vm_image, g_strdup (vm), g_strdup (image));
  return TRUE;
}

void
bgr_engine_usage_remove_vm (BgrEngine *engine, const char *vm)
{
  g_hash_table_remove (bgr_engine_get_usage (engine)->vm_image, vm);
}

void
bgr_engine_usage_add_image (BgrEngine *engine, const char *image, const char *kernel_ref)
{
  put_image (bgr_engine_get_usage (engine), image, kernel_ref);
}

void
bgr_engine_usage_remove_image (BgrEngine *engine, const char *image)
{
  g_hash_table_remove (bgr_engine_get_usage (engine)->image_kernel, image);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* The keys of @map whose value is @value, sorted and comma-separated, or
 * NULL when there are none. */
static char *
users_of (GHashTable *map, const char *value)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key, val;

  g_hash_table_iter_init (&iter, map);
  while (g_hash_table_iter_next (&iter, &key, &val))
    if (g_str_equal (val, value))
      g_ptr_array_add (names, key);
  if (names->len == 0)
    return NULL;
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (", ", (char **) names->pdata);
}

gboolean
bgr_engine_usage_can_delete_image (BgrEngine *engine, const char *image, GError **error)
{
  /* A VM keeps booting the image's kernel and initrd: refuse while one
   * was made from it. */
  g_autofree char *users = users_of (usage_of (engine)->vm_image, image);

  if (users == NULL)
    return TRUE;
  g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY, "image '%s' is used by VM(s) %s: delete them first",
               image, users);
  return FALSE;
}

/* VMs made from an image that boots @kernel. */
static char *
vms_booting (BgrEngineUsage *usage, const char *kernel)
{
  g_autoptr (GHashTable) vm_kernel = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer vm, image;

  g_hash_table_iter_init (&iter, usage->vm_image);
  while (g_hash_table_iter_next (&iter, &vm, &image))
    {
      const char *k = g_hash_table_lookup (usage->image_kernel, image);
      if (k != NULL)
        g_hash_table_insert (vm_kernel, vm, (gpointer) k);
    }
  return users_of (vm_kernel, kernel);
}

gboolean
bgr_engine_usage_can_delete_kernel (BgrEngine *engine, const char *kernel, GError **error)
{
  BgrEngineUsage *usage = usage_of (engine);
  g_autofree char *images = NULL, *vms = NULL;

  /* An image record that cannot be read might refer to it: be safe. */
  if (usage->unreadable != NULL)
    images = g_strdup_printf ("(unreadable: %s)", usage->unreadable);
  else
    images = users_of (usage->image_kernel, kernel);
  if (images != NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                   "kernel '%s' is used by image(s) %s; delete them first", kernel, images);
      return FALSE;
    }
  /* Its images cannot go while VMs use them; this is only a second guard. */
  vms = vms_booting (usage, kernel);
  if (vms != NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY,
                   "kernel '%s' is used by VM(s) %s; delete them first", kernel, vms);
      return FALSE;
    }
  return TRUE;
}
