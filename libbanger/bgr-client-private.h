/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What BgrClient's call files share: the backend, argument checks, and one
 * generic `_async` task that runs a blocking call in a worker thread. */
#pragma once

#include "bgr-backend-private.h"

G_BEGIN_DECLS

BgrBackend *bgr_client_get_backend (BgrClient *self);

#define VT(self) (bgr_client_get_backend (self)->vtable)
#define B(self) (bgr_client_get_backend (self))

#define CHECK_CLIENT(self, error, ret)                               \
  G_STMT_START                                                       \
  {                                                                  \
    g_return_val_if_fail (BGR_IS_CLIENT (self), ret);                \
    g_return_val_if_fail (error == NULL || *error == NULL, ret);     \
  }                                                                  \
  G_STMT_END

/* A call cancelled through GIO (G_IO_ERROR_CANCELLED) fails with
 * BGR_ERROR_CANCELLED, like every other failure in BGR_ERROR. Returns
 * @result. */
gpointer bgr_client_finish_error (gpointer result, GError **error);
#define FINISH(expr, error) bgr_client_finish_error ((gpointer) (expr), (error))

/* FALSE with INVALID_ARGUMENT when @name is NULL or empty. */
gboolean bgr_client_check_name (const char *what, const char *name, GError **error);
#define check_name bgr_client_check_name

typedef struct _Call Call;
typedef gpointer (*CallFunc) (BgrClient *self, Call *c, GCancellable *cancellable,
                              GError **error);

/* One `_async` call: @func runs in a worker thread with these arguments. */
struct _Call {
  CallFunc func;
  char *name;
  BgrOptions *spec;
  BgrOperation *op;
  guint flags;
  gboolean returns_boolean; /* the task returns TRUE instead of an object */
  gint status;
  /* sessions: which one, its streams, what to read */
  char *session;
  int fds[3];
  int resize_fd; /* a terminal attach: fds[2] unused */
  gboolean terminal;
  gint stream;
  guint tail;
  gboolean follow;
};

Call *bgr_client_call_new (CallFunc func, const char *name, gpointer spec, BgrOperation *op);
void bgr_client_call_start (BgrClient *self, Call *c, gpointer tag, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
gpointer bgr_client_call_finish (BgrClient *self, GAsyncResult *result, gpointer tag,
                                 GError **error);
#define call_new bgr_client_call_new
#define call_start bgr_client_call_start
#define call_finish bgr_client_call_finish

G_END_DECLS
