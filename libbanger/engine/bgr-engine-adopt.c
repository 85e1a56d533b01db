/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bgr-error-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-adopt-private.h"
#include "engine/bgr-engine-boot-private.h"
#include "engine/bgr-engine-claims-private.h"
#include "engine/bgr-engine-lifecycle-private.h"
#include "engine/bgr-engine-vm-record-private.h"

struct _BgrVmAdoptions {
  GMutex lock;
  GCancellable *cancellable; /* cancelled when the engine goes */
  GPtrArray *threads;        /* GThread, joined when the engine goes */
};

typedef struct {
  BgrEngine *engine;
  BgrVmClaim *claim;
  JsonObject *doc;
  GCancellable *cancellable;
} Finish;

BgrVmAdoptions *
bgr_vm_adoptions_new (void)
{
  BgrVmAdoptions *adoptions = g_new0 (BgrVmAdoptions, 1);

  g_mutex_init (&adoptions->lock);
  adoptions->cancellable = g_cancellable_new ();
  adoptions->threads = g_ptr_array_new ();
  return adoptions;
}

void
bgr_vm_adoptions_free (BgrVmAdoptions *adoptions)
{
  if (adoptions == NULL)
    return;
  g_assert (adoptions->threads->len == 0);
  g_ptr_array_unref (adoptions->threads);
  g_object_unref (adoptions->cancellable);
  g_mutex_clear (&adoptions->lock);
  g_free (adoptions);
}

static gpointer
finish_thread (gpointer data)
{
  Finish *f = data;
  g_autofree char *name = g_strdup (bgr_record_str (f->doc, "name"));
  g_autofree char *state = g_strdup (bgr_record_str (f->doc, "state"));
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (g_strcmp0 (state, "starting") == 0)
    ok = bgr_vm_boot_adopted (f->engine, f->doc, f->cancellable, &error);
  else
    ok = bgr_vm_stop_claimed (f->engine, f->doc, f->claim, TRUE, f->cancellable, &error);
  if (ok)
    g_info ("VM %s: adopted while %s, now %s", name, state, bgr_record_str (f->doc, "state"));
  else if (g_cancellable_is_cancelled (f->cancellable))
    g_info ("VM %s: left %s for the next engine", name, state);
  else
    g_message ("VM %s: adopted while %s: %s", name, state, error->message);
  bgr_vm_claim_release (f->claim);
  json_object_unref (f->doc);
  g_object_unref (f->cancellable);
  g_free (f);
  return NULL;
}

/* Claims VM @doc (in flight, with a live VMM) and finishes it in a thread. */
static void
adopt_one (BgrEngine *engine, JsonObject *doc)
{
  BgrVmAdoptions *adoptions = bgr_engine_get_adoptions (engine);
  const char *name = bgr_record_str (doc, "name");
  gboolean starting = g_strcmp0 (bgr_record_str (doc, "state"), "starting") == 0;
  g_autoptr (GError) error = NULL;
  BgrVmClaim *claim;
  Finish *f;

  claim = bgr_vm_claim (engine, name,
                        starting ? "starting: adopted after a restart, waiting for its agent"
                                 : "stopping: adopted after a restart",
                        &error);
  if (claim == NULL)
    {
      g_warning ("VM %s: cannot adopt: %s", name, error->message);
      return;
    }
  f = g_new0 (Finish, 1);
  f->engine = engine;
  f->claim = claim;
  f->doc = json_object_ref (doc);
  f->cancellable = g_object_ref (adoptions->cancellable);
  g_mutex_lock (&adoptions->lock);
  g_ptr_array_add (adoptions->threads, g_thread_new ("bgr-adopt", finish_thread, f));
  g_mutex_unlock (&adoptions->lock);
}

void
bgr_vm_adopt_in_flight (BgrEngine *engine)
{
  g_autoptr (GPtrArray) docs = bgr_store_load_all (bgr_engine_get_store (engine), BGR_VM_KIND, NULL);

  for (guint i = 0; i < docs->len; i++)
    {
      JsonObject *doc = docs->pdata[i];
      const char *state = bgr_record_str (doc, "state");
      g_autoptr (BgrVmmInstance) inst = NULL;

      if (g_strcmp0 (state, "starting") != 0 && g_strcmp0 (state, "stopping") != 0)
        continue;
      /* Reconciliation already ended those whose VMM is gone. */
      inst = bgr_vm_record_instance (doc);
      if (inst != NULL && bgr_vmm_instance_is_alive (inst))
        adopt_one (engine, doc);
    }
}

void
bgr_vm_adoptions_stop (BgrEngine *engine)
{
  BgrVmAdoptions *adoptions = bgr_engine_get_adoptions (engine);
  g_autoptr (GPtrArray) threads = NULL;

  g_cancellable_cancel (adoptions->cancellable);
  g_mutex_lock (&adoptions->lock);
  threads = g_steal_pointer (&adoptions->threads);
  adoptions->threads = g_ptr_array_new ();
  g_mutex_unlock (&adoptions->lock);
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (threads->pdata[i]);
}
