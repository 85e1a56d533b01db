/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TCP into the guest through its agent (TCP_CONNECT): `vm proxy` bridges
 * one connection to a caller's descriptors; `vm forward` listens on a host
 * address and bridges each connection it accepts to a guest port. Forwards
 * are kept in the VM's record ("forwards") and listened on while this
 * engine lives; bangerd's engine restores them when it starts. */
#include "config.h"

#include <errno.h>

#include "bgr-error-private.h"
#include "bgr-escape-private.h"
#include "bgr-records-private.h"
#include "engine/bgr-engine-agent-private.h"
#include "engine/bgr-engine-forward-private.h"
#include "engine/bgr-engine-private.h"
#include "engine/bgr-engine-reconcile-private.h"
#include "engine/bgr-engine-vm-record-private.h"

typedef struct {
  BgrEngine *engine;
  char *vm, *host_address;
  guint host_port, guest_port;
  GSocket *socket;
  GCancellable *cancel;
  GThread *thread;
  GMutex lock;
  GCond cond;
  guint connections; /* bridging now */
} Listener;

struct _BgrVmForwards {
  GMutex lock;
  GPtrArray *listeners;
};

BgrVmForwards *
bgr_vm_forwards_new (void)
{
  BgrVmForwards *f = g_new0 (BgrVmForwards, 1);
  g_mutex_init (&f->lock);
  f->listeners = g_ptr_array_new ();
  return f;
}

void
bgr_vm_forwards_free (BgrVmForwards *f)
{
  if (f == NULL)
    return;
  g_ptr_array_unref (f->listeners);
  g_mutex_clear (&f->lock);
  g_free (f);
}

/* ---- the "forwards" of VM records ------------------------------------------ */

static JsonArray *
forwards_of (JsonObject *doc)
{
  JsonNode *n = json_object_get_member (doc, "forwards");
  return n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

static gint
find_forward (JsonArray *fw, const char *addr, guint port)
{
  for (guint i = 0; fw != NULL && i < json_array_get_length (fw); i++)
    {
      JsonObject *o = json_array_get_object_element (fw, i);
      if (o != NULL && g_strcmp0 (bgr_record_str (o, "host_address"), addr) == 0
          && bgr_record_int (o, "host_port") == port)
        return (gint) i;
    }
  return -1;
}

/* Checks the arguments; *out_addr: the host address in canonical form. */
static gboolean
check_forward (const char *host_address, guint host_port, guint guest_port, char **out_addr,
               GError **error)
{
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (host_address != NULL ? host_address
                                                                                   : "127.0.0.1");
  if (ia == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "host address '%s' is not an IPv4 or IPv6 address", host_address);
      return FALSE;
    }
  if (host_port < 1 || host_port > 65535 || guest_port < 1 || guest_port > 65535)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "%s port %u is not 1-65535",
                   host_port < 1 || host_port > 65535 ? "host" : "guest",
                   host_port < 1 || host_port > 65535 ? host_port : guest_port);
      return FALSE;
    }
  *out_addr = g_inet_address_to_string (ia);
  return TRUE;
}

/* The VM exists and no VM's record forwards @addr:@port yet. */
static gboolean
check_new (BgrEngine *engine, const char *name, const char *addr, guint port, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_record_load (engine, name, error);
  g_autoptr (GPtrArray) all = NULL;

  if (doc == NULL)
    return FALSE;
  all = bgr_store_load_all (bgr_engine_get_store (engine), BGR_VM_KIND, NULL);
  for (guint i = 0; all != NULL && i < all->len; i++)
    {
      JsonObject *other = all->pdata[i];
      gint at = find_forward (forwards_of (other), addr, port);
      if (at >= 0)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_EXISTS,
                       "VM '%s' already forwards %s:%u (to guest port %" G_GINT64_FORMAT ")",
                       bgr_record_str (other, "name"), addr, port,
                       bgr_record_int (json_array_get_object_element (forwards_of (other), (guint) at),
                                       "guest_port"));
          return FALSE;
        }
    }
  return TRUE;
}

/* Adds the forward to VM @name's record; returns the entry. */
static JsonObject *
forward_save (BgrEngine *engine, const char *name, const char *addr, guint host_port,
              guint guest_port, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  JsonObject *entry = json_object_new ();
  JsonArray *fw;
  gboolean ok = FALSE;

  json_object_set_string_member (entry, "host_address", addr);
  json_object_set_int_member (entry, "host_port", host_port);
  json_object_set_int_member (entry, "guest_port", guest_port);
  bgr_engine_lock (engine);
  doc = bgr_vm_record_load (engine, name, error);
  if (doc != NULL)
    {
      if ((fw = forwards_of (doc)) == NULL)
        {
          fw = json_array_new ();
          json_object_set_array_member (doc, "forwards", fw);
        }
      json_array_add_object_element (fw, json_object_ref (entry));
      ok = bgr_store_save (bgr_engine_get_store (engine), BGR_VM_KIND, name, doc, error);
    }
  bgr_engine_unlock (engine);
  if (!ok)
    g_clear_pointer (&entry, json_object_unref);
  return entry;
}

static gboolean
forward_delete (BgrEngine *engine, const char *name, const char *addr, guint port, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  gboolean ok = FALSE;
  gint at;

  bgr_engine_lock (engine);
  doc = bgr_vm_record_load (engine, name, error);
  if (doc != NULL && (at = find_forward (forwards_of (doc), addr, port)) < 0)
    g_set_error (error, BGR_ERROR, BGR_ERROR_NOT_FOUND, "VM '%s' has no forward from %s:%u", name,
                 addr, port);
  else if (doc != NULL)
    {
      json_array_remove_element (forwards_of (doc), (guint) at);
      ok = bgr_store_save (bgr_engine_get_store (engine), BGR_VM_KIND, name, doc, error);
    }
  bgr_engine_unlock (engine);
  return ok;
}

/* ---- proxy ------------------------------------------------------------------ */

gboolean
bgr_engine_vm_proxy (BgrEngine *engine, const char *name, const char *guest_address, guint port,
                     int in_fd, int out_fd, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) doc = NULL;
  g_autoptr (BgrAgentConn) conn = NULL;
  g_autoptr (GInetAddress) addr = NULL;
  gboolean ok;

  if (port < 1 || port > 65535)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "guest port %u is not 1-65535", port);
      return FALSE;
    }
  if (guest_address != NULL && (addr = g_inet_address_new_from_string (guest_address)) == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "guest address '%s' is not an IPv4 or IPv6 address", guest_address);
      return FALSE;
    }
  doc = bgr_vm_load_running (engine, name, error);
  if (doc == NULL || (conn = bgr_vm_agent_get (engine, doc, cancellable, error)) == NULL)
    return FALSE;
  /* An open connection is activity (auto-stop), like an exec. */
  bgr_vm_record_touch (engine, name);
  bgr_vm_agent_exec_begin (engine, name);
  ok = bgr_agent_conn_tcp_bridge (conn, guest_address, port, in_fd, out_fd, cancellable, error);
  bgr_vm_agent_exec_end (engine, name);
  bgr_vm_record_touch (engine, name);
  if (!ok)
    g_prefix_error (error, "VM '%s': ", name);
  return ok;
}

/* ---- listeners -------------------------------------------------------------- */

typedef struct {
  Listener *l;
  GSocket *socket;
} Connection;

static gpointer
connection_thread (gpointer data)
{
  Connection *c = data;
  Listener *l = c->l;
  g_autoptr (GError) error = NULL;
  int fd = g_socket_get_fd (c->socket);

  g_socket_set_blocking (c->socket, TRUE);
  if (!bgr_engine_vm_proxy (l->engine, l->vm, NULL, l->guest_port, fd, fd, l->cancel, &error)
      && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *msg = bgr_log_msg (error->message);
      g_info ("forward %s:%u -> VM %s port %u: %s", l->host_address, l->host_port, l->vm,
              l->guest_port, msg);
    }
  g_socket_close (c->socket, NULL);
  g_object_unref (c->socket);
  g_free (c);
  g_mutex_lock (&l->lock);
  l->connections--;
  g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);
  return NULL;
}

static gpointer
accept_thread (gpointer data)
{
  Listener *l = data;

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      GSocket *s = g_socket_accept (l->socket, l->cancel, &error);
      Connection *c;
      if (s == NULL)
        {
          if (g_cancellable_is_cancelled (l->cancel))
            return NULL;
          g_info ("forward %s:%u: accept: %s", l->host_address, l->host_port, error->message);
          g_usleep (100000); /* out of descriptors, ...: do not spin */
          continue;
        }
      c = g_new0 (Connection, 1);
      c->l = l;
      c->socket = s;
      g_mutex_lock (&l->lock);
      l->connections++;
      g_mutex_unlock (&l->lock);
      g_thread_unref (g_thread_new ("bgr-forward", connection_thread, c));
    }
}

/* Binds and listens; NULL with a clear error when the port is taken. */
static Listener *
listener_new (BgrEngine *engine, const char *vm, const char *host_address, guint host_port,
              guint guest_port, GError **error)
{
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (host_address);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (ia, (guint16) host_port);
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GError) local = NULL;
  Listener *l;

  sock = g_socket_new (g_inet_address_get_family (ia), G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                       &local);
  if (sock == NULL || !g_socket_bind (sock, sa, TRUE, &local) || !g_socket_listen (sock, &local))
    {
      gboolean in_use = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
      g_set_error (error, BGR_ERROR, in_use ? BGR_ERROR_BUSY : BGR_ERROR_FAILED,
                   "cannot listen on %s%s%s:%u: %s", strchr (host_address, ':') ? "[" : "",
                   host_address, strchr (host_address, ':') ? "]" : "", host_port,
                   in_use ? "the port is already in use on the host" : local->message);
      return NULL;
    }
  l = g_new0 (Listener, 1);
  l->engine = engine;
  l->vm = g_strdup (vm);
  l->host_address = g_strdup (host_address);
  l->host_port = host_port;
  l->guest_port = guest_port;
  l->socket = g_steal_pointer (&sock);
  l->cancel = g_cancellable_new ();
  g_mutex_init (&l->lock);
  g_cond_init (&l->cond);
  l->thread = g_thread_new ("bgr-forward-accept", accept_thread, l);
  return l;
}

static void
listener_stop (Listener *l)
{
  g_cancellable_cancel (l->cancel);
  g_thread_join (l->thread);
  g_socket_close (l->socket, NULL);
  g_mutex_lock (&l->lock);
  while (l->connections > 0)
    g_cond_wait (&l->cond, &l->lock);
  g_mutex_unlock (&l->lock);
  g_object_unref (l->socket);
  g_object_unref (l->cancel);
  g_mutex_clear (&l->lock);
  g_cond_clear (&l->cond);
  g_free (l->vm);
  g_free (l->host_address);
  g_free (l);
}

static void
forwards_add (BgrEngine *engine, Listener *l)
{
  BgrVmForwards *f = bgr_engine_get_forwards (engine);
  g_mutex_lock (&f->lock);
  g_ptr_array_add (f->listeners, l);
  g_mutex_unlock (&f->lock);
}

/* Takes out the listeners of @vm (of @host_address:@host_port only, when
 * @host_address is not NULL); the caller stops them. */
static GPtrArray *
forwards_take (BgrEngine *engine, const char *vm, const char *host_address, guint host_port)
{
  BgrVmForwards *f = bgr_engine_get_forwards (engine);
  GPtrArray *out = g_ptr_array_new ();

  g_mutex_lock (&f->lock);
  for (guint i = 0; i < f->listeners->len;)
    {
      Listener *l = f->listeners->pdata[i];
      if ((vm == NULL || g_str_equal (l->vm, vm))
          && (host_address == NULL
              || (g_str_equal (l->host_address, host_address) && l->host_port == host_port)))
        g_ptr_array_add (out, g_ptr_array_steal_index (f->listeners, i));
      else
        i++;
    }
  g_mutex_unlock (&f->lock);
  return out;
}

static gboolean
is_listening (BgrEngine *engine, const char *vm, const char *host_address, guint host_port)
{
  BgrVmForwards *f = bgr_engine_get_forwards (engine);
  gboolean found = FALSE;

  g_mutex_lock (&f->lock);
  for (guint i = 0; i < f->listeners->len && !found; i++)
    {
      Listener *l = f->listeners->pdata[i];
      found = g_str_equal (l->vm, vm) && g_str_equal (l->host_address, host_address)
              && l->host_port == host_port;
    }
  g_mutex_unlock (&f->lock);
  return found;
}

static void
stop_all (GPtrArray *listeners)
{
  for (guint i = 0; i < listeners->len; i++)
    listener_stop (listeners->pdata[i]);
  g_ptr_array_unref (listeners);
}

void
bgr_vm_forwards_stop (BgrEngine *engine)
{
  stop_all (forwards_take (engine, NULL, NULL, 0));
}

void
bgr_vm_forwards_forget (BgrEngine *engine, const char *name)
{
  stop_all (forwards_take (engine, name, NULL, 0));
}

void
bgr_vm_forwards_restore (BgrEngine *engine)
{
  g_autoptr (GPtrArray) vms = bgr_store_load_all (bgr_engine_get_store (engine), BGR_VM_KIND, NULL);

  for (guint i = 0; vms != NULL && i < vms->len; i++)
    {
      JsonObject *doc = vms->pdata[i];
      JsonArray *fw = forwards_of (doc);
      for (guint j = 0; fw != NULL && j < json_array_get_length (fw); j++)
        {
          JsonObject *o = json_array_get_object_element (fw, j);
          g_autoptr (GError) error = NULL;
          Listener *l = listener_new (engine, bgr_record_str (doc, "name"),
                                      bgr_record_str (o, "host_address"),
                                      (guint) bgr_record_int (o, "host_port"),
                                      (guint) bgr_record_int (o, "guest_port"), &error);
          if (l != NULL)
            forwards_add (engine, l);
          else
            g_message ("VM %s: forward not restored: %s", bgr_record_str (doc, "name"), error->message);
        }
    }
}

/* ---- the calls -------------------------------------------------------------- */

static BgrVmForward *
forward_view (BgrEngine *engine, const char *vm, JsonObject *o)
{
  g_autoptr (JsonObject) v = json_object_new ();
  const char *addr = bgr_record_str (o, "host_address");
  guint port = (guint) bgr_record_int (o, "host_port");

  json_object_set_string_member (v, "name", vm);
  json_object_set_string_member (v, "host_address", addr);
  json_object_set_int_member (v, "host_port", port);
  json_object_set_int_member (v, "guest_port", bgr_record_int (o, "guest_port"));
  json_object_set_boolean_member (v, "listening", is_listening (engine, vm, addr, port));
  return bgr_vm_forward_new_from_json (v);
}

BgrVmForward *
bgr_engine_vm_forward_add (BgrEngine *engine, const char *name, const char *host_address,
                           guint host_port, guint guest_port, GError **error)
{
  g_autofree char *addr = NULL;
  g_autoptr (JsonObject) entry = NULL;
  Listener *l;

  if (!check_forward (host_address, host_port, guest_port, &addr, error)
      || !check_new (engine, name, addr, host_port, error))
    return NULL;
  /* Listen first: a port that is taken changes nothing. */
  l = listener_new (engine, name, addr, host_port, guest_port, error);
  if (l == NULL)
    return NULL;
  entry = forward_save (engine, name, addr, host_port, guest_port, error);
  if (entry == NULL)
    {
      listener_stop (l);
      return NULL;
    }
  forwards_add (engine, l);
  return forward_view (engine, name, entry);
}

gboolean
bgr_engine_vm_forward_remove (BgrEngine *engine, const char *name, const char *host_address,
                              guint host_port, GError **error)
{
  g_autofree char *addr = NULL;

  if (!check_forward (host_address, host_port, 1, &addr, error)
      || !forward_delete (engine, name, addr, host_port, error))
    return FALSE;
  stop_all (forwards_take (engine, name, addr, host_port));
  return TRUE;
}

GPtrArray *
bgr_engine_vm_forward_list (BgrEngine *engine, const char *name, GError **error)
{
  g_autoptr (JsonObject) doc = bgr_vm_record_load (engine, name, error);
  JsonArray *fw;
  GPtrArray *out;

  if (doc == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func (g_object_unref);
  fw = forwards_of (doc);
  for (guint i = 0; fw != NULL && i < json_array_get_length (fw); i++)
    g_ptr_array_add (out, forward_view (engine, name, json_array_get_object_element (fw, i)));
  return out;
}
