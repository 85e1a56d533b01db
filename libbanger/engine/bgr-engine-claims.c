/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "bgr-error-private.h"
#include "engine/bgr-engine-claims-private.h"

struct _BgrVmClaims {
  GMutex lock;
  GHashTable *held; /* name -> BgrVmClaim, owned by the operation */
};

struct _BgrVmClaim {
  BgrVmClaims *claims;
  char *name;
  char *what;          /* the operation in progress */
  gint kill_requested; /* vm kill while a stop waits: the stop says so */
};

BgrVmClaims *
bgr_vm_claims_new (void)
{
  BgrVmClaims *claims = g_new0 (BgrVmClaims, 1);

  g_mutex_init (&claims->lock);
  claims->held = g_hash_table_new (g_str_hash, g_str_equal);
  return claims;
}

void
bgr_vm_claims_free (BgrVmClaims *claims)
{
  if (claims == NULL)
    return;
  g_hash_table_unref (claims->held);
  g_mutex_clear (&claims->lock);
  g_free (claims);
}

BgrVmClaim *
bgr_vm_claim (BgrEngine *engine, const char *name, const char *what, GError **error)
{
  BgrVmClaims *claims = bgr_engine_get_claims (engine);
  BgrVmClaim *claim = NULL, *holder;

  g_mutex_lock (&claims->lock);
  holder = g_hash_table_lookup (claims->held, name);
  if (holder != NULL)
    g_set_error (error, BGR_ERROR, BGR_ERROR_BUSY, "VM '%s' is busy (%s); try again when it is done",
                 name, holder->what);
  else
    {
      claim = g_new0 (BgrVmClaim, 1);
      claim->claims = claims;
      claim->name = g_strdup (name);
      claim->what = g_strdup (what);
      g_hash_table_insert (claims->held, claim->name, claim);
    }
  g_mutex_unlock (&claims->lock);
  return claim;
}

void
bgr_vm_claim_release (BgrVmClaim *claim)
{
  BgrVmClaims *claims;

  if (claim == NULL)
    return;
  claims = claim->claims;
  g_mutex_lock (&claims->lock);
  if (g_hash_table_lookup (claims->held, claim->name) == claim)
    g_hash_table_remove (claims->held, claim->name);
  g_mutex_unlock (&claims->lock);
  g_free (claim->name);
  g_free (claim->what);
  g_free (claim);
}

gboolean
bgr_engine_vm_is_busy (BgrEngine *engine, const char *name)
{
  BgrVmClaims *claims = bgr_engine_get_claims (engine);
  gboolean busy;

  g_mutex_lock (&claims->lock);
  busy = g_hash_table_contains (claims->held, name);
  g_mutex_unlock (&claims->lock);
  return busy;
}

void
bgr_vm_claim_request_kill (BgrEngine *engine, const char *name)
{
  BgrVmClaims *claims = bgr_engine_get_claims (engine);
  BgrVmClaim *holder;

  g_mutex_lock (&claims->lock);
  holder = g_hash_table_lookup (claims->held, name);
  if (holder != NULL)
    g_atomic_int_set (&holder->kill_requested, 1);
  g_mutex_unlock (&claims->lock);
}

gboolean
bgr_vm_claim_kill_requested (BgrVmClaim *claim)
{
  return g_atomic_int_get (&claim->kill_requested) != 0;
}
