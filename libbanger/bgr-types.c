/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GLib (2.74) can deadlock when two threads are the first to use related
 * GObject types at once: one registers GSocketAddress as the parent of
 * GInetSocketAddress while the other initialises GUnixSocketAddress's
 * class, and each waits for the other's lock. bangerd hit it at start-up,
 * between the sampler thread (connecting to an agent) and the main thread
 * (restoring a port forward). So the GIO types that banger's threads
 * create are registered and their classes initialised once, before any of
 * those threads starts. */
#include "config.h"

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <gio/gunixsocketaddress.h>

#include "bgr-types-private.h"

static gpointer
ensure_once (gpointer data)
{
  GType types[] = {
    G_TYPE_SOCKET_ADDRESS, G_TYPE_INET_ADDRESS, G_TYPE_INET_SOCKET_ADDRESS, G_TYPE_UNIX_SOCKET_ADDRESS,
    G_TYPE_SOCKET, G_TYPE_SOCKET_CONNECTION, G_TYPE_TCP_CONNECTION, G_TYPE_UNIX_CONNECTION,
    G_TYPE_SOCKET_CLIENT, G_TYPE_SOCKET_SERVICE, G_TYPE_CANCELLABLE, G_TYPE_SUBPROCESS,
    G_TYPE_SUBPROCESS_LAUNCHER, G_TYPE_UNIX_INPUT_STREAM, G_TYPE_UNIX_OUTPUT_STREAM,
    G_TYPE_UNIX_FD_LIST, G_TYPE_DATA_INPUT_STREAM, G_TYPE_MEMORY_OUTPUT_STREAM, G_TYPE_TASK,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    (void) g_type_class_ref (types[i]); /* kept: static classes live on anyway */
  /* GFile's local implementation is chosen through an extension point. */
  g_object_unref (g_file_new_for_path ("/"));
  return NULL;
}

void
bgr_types_ensure (void)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, ensure_once, NULL);
}
