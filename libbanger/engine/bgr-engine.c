/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The composition root: makes the engine's modules and wires them
 * together. It is the only file that knows all of them, and no module
 * calls it: they reach what they share through bgr-engine-core.c. */
#include "config.h"

#include "bgr-fs-private.h"
#include "engine/bgr-engine-adopt-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-core-private.h"
#include "engine/bgr-engine-guest-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-usage-private.h"

/* Work directories an engine that died mid-operation left behind. Only
 * the engine holding the state lock can be using them, and that is us. */
static void
sweep_leftovers (const char *dir, const char *const *prefixes)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    for (const char *const *p = prefixes; *p != NULL; p++)
      if (g_str_has_prefix (name, *p))
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_info ("removing leftover %s", path);
          bgr_rm_rf (path, NULL);
          break;
        }
}

static void
sweep (BgrConfig *config)
{
  static const char *const staging[] = { ".staging-", ".deleting-", NULL };
  static const char *const modules[] = { ".modules-", NULL };
  static const char *const apt[] = { ".download-", NULL };
  const char *state = bgr_config_get_string (config, "state_dir");
  const char *cache = bgr_config_get_string (config, "cache_dir");
  g_autofree char *kernels = g_build_filename (state, "kernels", NULL);
  g_autofree char *images = g_build_filename (state, "images", NULL);
  g_autofree char *vms = g_build_filename (state, "vms", NULL);
  static const char *const deleting[] = { ".deleting-", NULL };
  g_autofree char *aptdir = g_build_filename (cache, "apt", NULL);

  sweep_leftovers (kernels, staging);
  sweep_leftovers (images, staging);
  sweep_leftovers (vms, deleting);
  sweep_leftovers (cache, modules);
  sweep_leftovers (aptdir, apt);
}

BgrEngine *
bgr_engine_new (BgrConfig *config, GError **error)
{
  g_autoptr (BgrStore) store = NULL;
  BgrEngineParts parts;
  BgrEngine *engine;

  /* The store checks state_dir; the cache holds blobs and kernels that
   * VMs boot from, so it must be as private. */
  store = bgr_store_open (bgr_config_get_string (config, "state_dir"), error);
  if (store == NULL)
    return NULL;
  if (!bgr_ensure_private_dir (bgr_config_get_string (config, "cache_dir"), 0700, "cache_dir",
                               error))
    return NULL;
  sweep (config);
  parts.usage = bgr_engine_usage_new ();
  parts.claims = bgr_vm_claims_new ();
  parts.agents = bgr_vm_agents_new ();
  parts.samples = bgr_vm_samples_new ();
  parts.adoptions = bgr_vm_adoptions_new ();
  engine = bgr_engine_core_new (config, g_steal_pointer (&store), &parts);
  g_debug ("engine owns %s", bgr_store_get_dir (bgr_engine_get_store (engine)));
  bgr_engine_usage_load (engine);
  bgr_engine_adopt_vms (engine);
  /* What an engine that died left half done, finished in the background. */
  bgr_vm_adopt_in_flight (engine);
  return engine;
}

void
bgr_engine_free (BgrEngine *engine)
{
  BgrEngineParts parts;

  if (engine == NULL)
    return;
  bgr_vm_adoptions_stop (engine);
  bgr_engine_core_free (engine, &parts);
  bgr_vm_adoptions_free (parts.adoptions);
  bgr_vm_samples_free (parts.samples);
  bgr_vm_agents_free (parts.agents);
  bgr_vm_claims_free (parts.claims);
  bgr_engine_usage_free (parts.usage);
}
