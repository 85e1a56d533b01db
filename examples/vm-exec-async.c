/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* examples/vm-exec-async.c: create a VM, run a command in it with its output
 * streamed, delete the VM; every call asynchronous, on a GMainLoop.
 *
 *   cc vm-exec-async.c $(pkg-config --cflags --libs banger) -o vm-exec-async
 *   ./vm-exec-async [--local] [--name VM] IMAGE COMMAND [ARG...]
 *
 * It talks to bangerd on the session bus, or with --local runs the engine
 * in this process on $BANGER_CONFIG (default ~/.config/banger/config.toml).
 * The command writes to our stdout and stderr; progress goes to stderr.
 * Exit status: the command's, or libbanger's for a failed call. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <banger/banger.h>
#include <glib-unix.h>

#if !BGR_CHECK_VERSION(0, 2, 0)
#error "this example needs libbanger 0.2.0 or newer"
#endif

typedef struct {
  GMainLoop *loop;
  GCancellable *cancellable; /* Ctrl-C: stops the create or the command */
  char *name;
  char **command;
  int status;
} Example;

/* Reports @error and keeps the first failure's exit status. */
static void
fail (Example *ex, const char *what, GError *error)
{
  g_printerr ("vm-exec-async: %s: %s\n", what, error->message);
  if (ex->status == 0)
    ex->status = error->domain == BGR_ERROR ? bgr_error_code_to_exit_status (error->code) : 1;
  g_error_free (error);
}

/* BgrOperation::changed, emitted in this thread's main context. For a VM
 * boot, done/total count steps: "(2/6) cloning disks". */
static void
on_progress (BgrOperation *op, G_GNUC_UNUSED gpointer data)
{
  g_autofree char *message = bgr_operation_dup_message (op);

  g_printerr ("  (%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT ") %s\n", bgr_operation_get_done (op),
              bgr_operation_get_total (op), message != NULL ? message : "");
}

/* Step 3: the VM is gone (or could not be deleted): stop the loop. */
static void
on_deleted (GObject *source, GAsyncResult *result, gpointer data)
{
  Example *ex = data;
  GError *error = NULL;

  if (bgr_client_vm_delete_finish (BGR_CLIENT (source), result, &error))
    g_printerr ("deleted VM %s\n", ex->name);
  else
    fail (ex, "delete", error);
  g_main_loop_quit (ex->loop);
}

/* Step 2 done: whatever happened, delete the VM (FORCE: even running). */
static void
on_executed (GObject *source, GAsyncResult *result, gpointer data)
{
  Example *ex = data;
  GError *error = NULL;
  int status = -1;

  if (bgr_client_vm_exec_finish (BGR_CLIENT (source), result, &status, &error))
    {
      g_printerr ("command exited with status %d\n", status);
      ex->status = status;
    }
  else
    fail (ex, "exec", error);
  bgr_client_vm_delete_async (BGR_CLIENT (source), ex->name, BGR_VM_DELETE_FLAGS_FORCE, NULL, on_deleted, ex);
}

/* Step 1 done: the VM runs; step 2: run the command in it. @source is
 * the client that made the call. */
static void
on_created (GObject *source, GAsyncResult *result, gpointer data)
{
  Example *ex = data;
  GError *error = NULL;
  g_autoptr (BgrVm) vm = bgr_client_vm_create_finish (BGR_CLIENT (source), result, &error);
  g_autoptr (BgrExecSpec) spec = NULL;

  if (vm == NULL)
    {
      /* A failed or cancelled create leaves nothing behind. */
      fail (ex, "create", error);
      g_main_loop_quit (ex->loop);
      return;
    }
  g_printerr ("VM %s is %s (%s)\n", ex->name, bgr_vm_state_to_string (bgr_vm_get_state (vm)),
              bgr_vm_get_hypervisor (vm));
  spec = bgr_exec_spec_new ((const char *const *) ex->command);
  /* stdin -1: the command reads EOF. Output goes straight to our stdout
   * and stderr as the command writes it; they stay ours. */
  bgr_exec_spec_set_stdio (spec, -1, STDOUT_FILENO, STDERR_FILENO);
  bgr_client_vm_exec_async (BGR_CLIENT (source), ex->name, spec, ex->cancellable, on_executed, ex);
}

/* Ctrl-C cancels the create (nothing is left behind) or the command (the
 * VM is deleted next, as usual). */
static gboolean
on_sigint (gpointer data)
{
  g_cancellable_cancel (((Example *) data)->cancellable);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  Example ex = { .cancellable = g_cancellable_new () };
  gboolean local = FALSE;
  BgrClient *client = NULL;
  GError *error = NULL;
  g_autoptr (BgrVmSpec) spec = NULL;
  g_autoptr (BgrOperation) op = NULL;
  int i = 1;

  for (; i < argc && g_str_has_prefix (argv[i], "--"); i++)
    if (g_str_equal (argv[i], "--local"))
      local = TRUE;
    else if (g_str_equal (argv[i], "--name") && i + 1 < argc)
      ex.name = g_strdup (argv[++i]);
    else
      break;
  if (argc - i < 2)
    {
      g_printerr ("usage: %s [--local] [--name VM] IMAGE COMMAND [ARG...]\n", argv[0]);
      return 2;
    }
  if (ex.name == NULL)
    ex.name = g_strdup_printf ("example-%d", (int) getpid ());
  ex.command = argv + i + 1;

  if (local)
    {
      /* An in-process engine owns the state directory while it lives. */
      g_autoptr (BgrConfig) config = bgr_config_load (g_getenv ("BANGER_CONFIG"), &error);
      if (config != NULL)
        client = bgr_client_new_local (config, BGR_CLIENT_FLAGS_NONE, &error);
    }
  else
    client = bgr_client_new_dbus (G_BUS_TYPE_SESSION, BGR_CLIENT_FLAGS_NONE, NULL, &error);
  if (client == NULL)
    {
      fail (&ex, "client", error);
      return ex.status;
    }

  /* Step 1: create and boot the VM, reporting its progress. */
  spec = bgr_vm_spec_new (ex.name);
  bgr_vm_spec_set_image (spec, argv[i]);
  op = bgr_operation_new ();
  g_signal_connect (op, "changed", G_CALLBACK (on_progress), NULL);
  g_printerr ("creating VM %s from image %s\n", ex.name, argv[i]);
  bgr_client_vm_create_async (client, spec, op, ex.cancellable, on_created, &ex);

  ex.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_sigint, &ex);
  g_main_loop_run (ex.loop);

  g_main_loop_unref (ex.loop);
  g_object_unref (client);
  g_object_unref (ex.cancellable);
  g_free (ex.name);
  return ex.status;
}
