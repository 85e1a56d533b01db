/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VM network's pool of persistent taps on the bridge. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-config-private.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "net/bgr-vmnet-internal.h"

/* ---- taps ------------------------------------------------------------------ */

static int
pool_tap_compare (gconstpointer a, gconstpointer b)
{
  const PoolTap *x = a, *y = b;

  return x->index < y->index ? -1 : x->index > y->index;
}

/* The pool taps among @links, by index. A link with a pool name that is
 * not a tap is an error: something else took the name. */
GArray *
vmnet_pool_taps (BgrVmnet *net, JsonNode *links, GError **error)
{
  g_autoptr (GArray) taps = g_array_new (FALSE, FALSE, sizeof (PoolTap));
  JsonArray *a = json_node_get_array (links);
  gsize plen = strlen (net->tap_prefix);

  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *l = vmnet_array_object (a, i);
      const char *name = vmnet_obj_string (l, "ifname");
      JsonObject *data = vmnet_obj_object (vmnet_obj_object (l, "linkinfo"), "info_data");
      char *end = NULL;
      guint64 index;
      PoolTap t;

      if (name == NULL || !g_str_has_prefix (name, net->tap_prefix)
          || !g_ascii_isdigit (name[plen]))
        continue;
      index = g_ascii_strtoull (name + plen, &end, 10);
      if (*end != '\0' || index > TAP_MAX_INDEX)
        continue;
      if (g_strcmp0 (vmnet_link_kind (l), "tun") != 0 || g_strcmp0 (vmnet_obj_string (data, "type"), "tap") != 0)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                       "interface %s has the name of one of banger's taps but is not a tap; "
                       "delete it (ip link del dev %s)", name, name);
          return NULL;
        }
      t.index = (guint) index;
      t.name = name;
      t.link = l;
      g_array_append_val (taps, t);
    }
  g_array_sort (taps, pool_tap_compare);
  return g_steal_pointer (&taps);
}

/* Creates the tap when @link is NULL; attaches it to the bridge and brings
 * it up when it is not already. */
static gboolean
setup_tap (BgrVmnet *net, const char *name, JsonObject *link, GError **error)
{
  if (link == NULL
      && !vmnet_run_tool ((const char *[]){ "ip", "tuntap", "add", "dev", name, "mode", "tap", NULL },
                    NULL, NULL, error, "cannot create tap %s", name))
    return FALSE;
  if (link != NULL && vmnet_link_is_up (link) && g_strcmp0 (vmnet_obj_string (link, "master"), net->bridge) == 0)
    return TRUE;
  return vmnet_run_tool ((const char *[]){ "ip", "link", "set", "dev", name, "master", net->bridge, "up",
                                     NULL },
                   NULL, NULL, error, "cannot attach tap %s to bridge %s", name, net->bridge);
}

/* The lowest index no pool tap has. */
static guint
free_tap_index (GArray *taps)
{
  guint want = 0;

  for (guint i = 0; i < taps->len; i++)
    {
      PoolTap *t = &g_array_index (taps, PoolTap, i);
      if (t->index != want)
        break;
      want++;
    }
  return want;
}

static char *
create_pool_tap (BgrVmnet *net, GArray *taps, GError **error)
{
  guint index = free_tap_index (taps);
  g_autofree char *name = NULL;
  PoolTap t = { 0 };

  if (index > TAP_MAX_INDEX)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NO_SPACE, "cannot create another tap for bridge %s: "
                   "%u taps exist", net->bridge, taps->len);
      return NULL;
    }
  name = g_strdup_printf ("%s%u", net->tap_prefix, index);
  g_assert (strlen (name) < IFNAMSIZ);
  if (!setup_tap (net, name, NULL, error))
    return NULL;
  t.index = index;
  t.name = NULL; /* not in the links document */
  g_array_append_val (taps, t);
  g_array_sort (taps, pool_tap_compare);
  return g_steal_pointer (&name);
}

gboolean
vmnet_ensure_taps (BgrVmnet *net, GError **error)
{
  g_autoptr (JsonNode) links = vmnet_list_links (error);
  g_autoptr (GArray) taps = NULL;
  guint existing;

  if (links == NULL || (taps = vmnet_pool_taps (net, links, error)) == NULL)
    return FALSE;
  existing = taps->len;
  for (guint i = 0; i < existing; i++)
    {
      PoolTap *t = &g_array_index (taps, PoolTap, i);
      if (!setup_tap (net, t->name, t->link, error))
        return FALSE;
    }
  while (taps->len < net->tap_pool_size)
    {
      g_autofree char *name = create_pool_tap (net, taps, error);
      if (name == NULL)
        return FALSE;
    }
  return TRUE;
}

char *
bgr_vmnet_acquire_tap (BgrVmnet *net, const char *const *in_use, GError **error)
{
  G_GNUC_UNUSED g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&net->lock);
  g_autoptr (JsonNode) links = NULL;
  g_autoptr (GArray) taps = NULL;

  if (!vmnet_check_permission (net, "acquire a tap", error))
    return NULL;
  if ((links = vmnet_list_links (error)) == NULL)
    return NULL;
  if (vmnet_find_link (links, net->bridge) == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND,
                   "cannot acquire a tap: bridge %s does not exist (the VM network is not set up)",
                   net->bridge);
      return NULL;
    }
  if ((taps = vmnet_pool_taps (net, links, error)) == NULL)
    return NULL;
  for (guint i = 0; i < taps->len; i++)
    {
      PoolTap *t = &g_array_index (taps, PoolTap, i);
      if (in_use != NULL && g_strv_contains (in_use, t->name))
        continue;
      if (!setup_tap (net, t->name, t->link, error))
        return NULL;
      return g_strdup (t->name);
    }
  return create_pool_tap (net, taps, error);
}

gboolean
bgr_vmnet_tap_exists (BgrVmnet *net, const char *name)
{
  return vmnet_valid_ifname (name) && if_nametoindex (name) != 0;
}
