/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "banger-cli.h"

static char *opt_name, *opt_rootfs, *opt_kernel, *opt_kernel_ref, *opt_initrd, *opt_modules,
  *opt_work_seed;

const GOptionEntry banger_image_register_options[] = {
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name, "The image's name (required)", "NAME" },
  { "rootfs", 0, 0, G_OPTION_ARG_FILENAME, &opt_rootfs, "The ext4 root filesystem (required)", "FILE" },
  { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &opt_kernel, "A kernel file (vmlinux or bzImage)", "FILE" },
  { "kernel-ref", 0, 0, G_OPTION_ARG_STRING, &opt_kernel_ref, "A managed kernel (banger kernel list)", "KERNEL" },
  { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &opt_initrd, "An initrd", "FILE" },
  { "modules", 0, 0, G_OPTION_ARG_FILENAME, &opt_modules, "A modules tree", "DIR" },
  { "work-seed", 0, 0, G_OPTION_ARG_FILENAME, &opt_work_seed, "An ext4 work-seed", "FILE" },
  G_OPTION_ENTRY_NULL
};

static char *opt_pull_name, *opt_pull_kernel_ref, *opt_platform, *opt_size;
static gboolean opt_insecure;

const GOptionEntry banger_image_pull_options[] = {
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_pull_name, "The image's name (default: from the reference)", "NAME" },
  { "kernel-ref", 0, 0, G_OPTION_ARG_STRING, &opt_pull_kernel_ref,
    "The managed kernel it boots with (default: the only one)", "KERNEL" },
  { "platform", 0, 0, G_OPTION_ARG_STRING, &opt_platform, "os/arch[/variant] (default: this host's)", "PLATFORM" },
  { "size", 0, 0, G_OPTION_ARG_STRING, &opt_size, "rootfs size, e.g. 4G (default: from the content)", "SIZE" },
  { "insecure", 0, 0, G_OPTION_ARG_NONE, &opt_insecure, "Allow plain http to a non-local registry", NULL },
  G_OPTION_ENTRY_NULL
};

/* Every string of a record may come from another client (through
 * bangerd), a registry or a package: each is shown escaped. */
void
banger_print_image (BgrImage *img)
{
  const char *v;
  g_autofree char *size = banger_format_size ((guint64) bgr_image_get_size (img));

  g_print ("name:       %s\n", banger_shown (bgr_image_get_name (img)));
  g_print ("managed:    %s\n", bgr_image_get_managed (img) ? "yes" : "no (banger points at your files)");
  g_print ("rootfs:     %s\n", banger_shown (bgr_image_get_rootfs_path (img)));
  g_print ("work-seed:  %s\n", (v = bgr_image_get_work_seed_path (img)) != NULL ? banger_shown (v) : "none");
  if ((v = bgr_image_get_kernel_ref (img)) != NULL)
    g_print ("kernel:     %s (managed kernel '%s')\n",
             bgr_image_get_kernel_path (img) != NULL ? banger_shown (bgr_image_get_kernel_path (img))
                                                     : "missing",
             banger_shown (v));
  else
    g_print ("kernel:     %s\n", banger_shown (bgr_image_get_kernel_path (img)));
  g_print ("initrd:     %s\n", (v = bgr_image_get_initrd_path (img)) != NULL ? banger_shown (v) : "none");
  g_print ("modules:    %s\n", (v = bgr_image_get_modules_dir (img)) != NULL ? banger_shown (v) : "none");
  g_print ("source:     %s\n", banger_shown (bgr_image_get_source (img)));
  g_print ("size:       %s\n", size);
}

void
banger_print_image_json (BgrImage *img)
{
  g_autofree char *json = bgr_image_to_json (img);
  banger_print_json (json);
}

gboolean
banger_cmd_image_register (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrImage) img = NULL;
  g_autofree char *rootfs = banger_absolute_path (opt_rootfs);
  g_autofree char *kernel = banger_absolute_path (opt_kernel);
  g_autofree char *initrd = banger_absolute_path (opt_initrd);
  g_autofree char *modules = banger_absolute_path (opt_modules);
  g_autofree char *work_seed = banger_absolute_path (opt_work_seed);
  g_autoptr (BgrImageSpec) spec = NULL;

  if (opt_name == NULL || opt_rootfs == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "--name and --rootfs are required (see banger image register --help)");
      return FALSE;
    }
  client = banger_invocation_get_client (inv, error);
  if (client == NULL)
    return FALSE;
  spec = bgr_image_spec_new (opt_name);
  bgr_image_spec_set_rootfs (spec, rootfs);
  bgr_image_spec_set_work_seed (spec, work_seed);
  bgr_image_spec_set_kernel (spec, kernel);
  bgr_image_spec_set_kernel_ref (spec, opt_kernel_ref);
  bgr_image_spec_set_initrd (spec, initrd);
  bgr_image_spec_set_modules (spec, modules);
  img = bgr_client_image_register (client, spec, NULL, error);
  if (img == NULL)
    return FALSE;
  if (inv->json)
    banger_print_image_json (img);
  else
    {
      g_print ("registered image '%s'\n", banger_shown (bgr_image_get_name (img)));
      banger_print_image (img);
    }
  return TRUE;
}

gboolean
banger_cmd_image_list (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (GPtrArray) list = NULL;

  if (client == NULL || (list = bgr_client_image_list (client, NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    {
      banger_print_json_list (list, (BangerToJson) bgr_image_to_json);
      return TRUE;
    }
  if (list->len == 0)
    {
      g_print ("no images (register one: banger image register --help)\n");
      return TRUE;
    }
  g_print ("%-20s %-8s %-24s %s\n", "NAME", "MANAGED", "KERNEL", "SIZE");
  for (guint i = 0; i < list->len; i++)
    {
      BgrImage *img = list->pdata[i];
      g_autofree char *size = banger_format_size ((guint64) bgr_image_get_size (img));
      g_autofree char *kernel = bgr_image_get_kernel_ref (img) != NULL
                                  ? g_strdup (bgr_image_get_kernel_ref (img))
                                  : g_path_get_basename (bgr_image_get_kernel_path (img));
      g_print ("%-20s %-8s %-24s %s\n", banger_shown (bgr_image_get_name (img)),
               bgr_image_get_managed (img) ? "yes" : "no", banger_shown (kernel), size);
    }
  return TRUE;
}

gboolean
banger_cmd_image_show (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrImage) img = NULL;

  if (client == NULL || (img = bgr_client_image_get (client, inv->args[0], NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    banger_print_image_json (img);
  else
    banger_print_image (img);
  return TRUE;
}

gboolean
banger_cmd_image_delete (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);

  if (client == NULL || !bgr_client_image_delete (client, inv->args[0], NULL, error))
    return FALSE;
  if (inv->json)
    banger_print_json ("{\n  \"deleted\" : true\n}");
  else
    g_print ("deleted image '%s'\n", banger_shown (inv->args[0]));
  return TRUE;
}

gboolean
banger_cmd_image_promote (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (BgrImage) img = NULL;

  if (client == NULL || (img = bgr_client_image_promote (client, inv->args[0], NULL, NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    banger_print_image_json (img);
  else
    {
      g_print ("promoted image '%s': banger now owns copies of its files\n",
               banger_shown (inv->args[0]));
      banger_print_image (img);
    }
  return TRUE;
}

gboolean
banger_cmd_image_pull (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = NULL;
  g_autoptr (BgrImage) img = NULL;
  guint64 size = 0;
  gboolean tty = isatty (STDERR_FILENO) && !inv->json;
  g_autoptr (BgrPullOptions) options = bgr_pull_options_new ();
  BangerProgress *p;

  if (opt_size != NULL && !banger_parse_size (NULL, opt_size, 1, &size, error))
    return FALSE;
  client = banger_invocation_get_client (inv, error);
  if (client == NULL)
    return FALSE;
  bgr_pull_options_set_name (options, opt_pull_name);
  bgr_pull_options_set_kernel (options, opt_pull_kernel_ref);
  bgr_pull_options_set_platform (options, opt_platform);
  if (size > 0)
    bgr_pull_options_set_size (options, size);
  if (opt_insecure)
    bgr_pull_options_set_insecure (options, TRUE);
  p = banger_progress_new (BANGER_PROGRESS_BYTES, inv->args[0], tty);
  img = bgr_client_image_pull (client, inv->args[0], options, banger_progress_get_operation (p),
                               NULL, error);
  banger_progress_end (p, img != NULL);
  if (img == NULL)
    return FALSE;
  if (inv->json)
    banger_print_image_json (img);
  else
    {
      g_print ("pulled image '%s'\n", banger_shown (bgr_image_get_name (img)));
      banger_print_image (img);
    }
  return TRUE;
}

gboolean
banger_cmd_image_cache_list (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  g_autoptr (GPtrArray) list = NULL;

  if (client == NULL || (list = bgr_client_image_cache_list (client, NULL, error)) == NULL)
    return FALSE;
  if (inv->json)
    {
      banger_print_json_list (list, (BangerToJson) bgr_cache_blob_to_json);
      return TRUE;
    }
  g_print ("%-8s %-78s %-10s %s\n", "CATEGORY", "NAME", "SIZE", "USED BY");
  for (guint i = 0; i < list->len; i++)
    {
      BgrCacheBlob *blob = list->pdata[i];
      g_autofree char *size = banger_format_size ((guint64) bgr_cache_blob_get_size (blob));
      g_auto (GStrv) users = bgr_cache_blob_dup_images (blob);
      g_autofree char *images = g_strjoinv (",", users);
      const char *kind = bgr_cache_blob_get_category (blob);
      const char *used = images;

      /* A partial blob belongs to a pull under way, or to none. */
      if (g_str_equal (kind, "partial"))
        used = bgr_cache_blob_get_in_use (blob) ? "(downloading)" : "(stale: a pull was interrupted)";
      else if (*images == '\0')
        used = bgr_cache_blob_get_in_use (blob) ? "(a pull under way)" : "(unused)";
      g_print ("%-8s %-78s %-10s %s\n", banger_shown (kind), banger_shown (bgr_cache_blob_get_name (blob)),
               size, banger_shown (used));
    }
  return TRUE;
}

gboolean
banger_cmd_image_cache_prune (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrClient) client = banger_invocation_get_client (inv, error);
  guint64 freed = 0;
  guint removed = 0;
  g_autofree char *human = NULL;

  if (client == NULL || !bgr_client_image_cache_prune (client, &freed, &removed, NULL, error))
    return FALSE;
  if (inv->json)
    {
      g_autofree char *json = g_strdup_printf ("{\n  \"removed\" : %u,\n  \"freed_bytes\" : %"
                                               G_GUINT64_FORMAT "\n}", removed, freed);
      banger_print_json (json);
      return TRUE;
    }
  human = banger_format_size (freed);
  g_print ("removed %u unused blob(s), partial blob(s) and VM base(s), %s freed\n", removed, human);
  return TRUE;
}
