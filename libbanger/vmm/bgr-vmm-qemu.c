/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QEMU driver: qemu-system-x86_64 -M microvm with virtio-mmio block,
 * net and serial devices, QMP on a unix socket, the guest agent on a
 * virtio-serial port backed by a unix socket. QEMU daemonizes itself, so
 * it is never our child and outlives us like any VMM must. */
#include "config.h"

#include <errno.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "vmm/bgr-vmm-private.h"

#define QMP_TIMEOUT_MS 10000
/* The TCG translation cache with memory_reclaim (QEMU default: 1 GiB). */
#define TCG_TB_SIZE_MIB 64

/* A short, synchronous QMP conversation: greeting, qmp_capabilities, one
 * command. Events that arrive in between are skipped. */
typedef struct {
  GSocketConnection *conn;
  GDataInputStream *in;
} Qmp;

static void
qmp_close (Qmp *q)
{
  g_clear_object (&q->in);
  if (q->conn != NULL)
    g_io_stream_close (G_IO_STREAM (q->conn), NULL, NULL);
  g_clear_object (&q->conn);
}

static JsonObject *
qmp_read (Qmp *q, GCancellable *cancellable, GError **error)
{
  for (;;)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autofree char *line = g_data_input_stream_read_line_utf8 (q->in, NULL, cancellable, error);
      JsonNode *root;

      if (line == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "QMP connection closed");
          return NULL;
        }
      if (!json_parser_load_from_data (parser, line, -1, NULL))
        continue;
      root = json_parser_get_root (parser);
      if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        continue;
      if (json_object_has_member (json_node_get_object (root), "event"))
        continue;
      return json_object_ref (json_node_get_object (root));
    }
}

static JsonObject *
qmp_execute (Qmp *q, const char *command, JsonObject *arguments, GCancellable *cancellable,
             GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autoptr (JsonObject) reply = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (q->conn));

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "execute");
  json_builder_add_string_value (b, command);
  if (arguments != NULL)
    {
      JsonNode *n = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (n, arguments);
      json_builder_set_member_name (b, "arguments");
      json_builder_add_value (b, n);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  if (!g_output_stream_write_all (out, text, strlen (text), NULL, cancellable, error)
      || !g_output_stream_write_all (out, "\n", 1, NULL, cancellable, error))
    return NULL;
  reply = qmp_read (q, cancellable, error);
  if (reply == NULL)
    return NULL;
  if (json_object_has_member (reply, "error"))
    {
      JsonNode *en = json_object_get_member (reply, "error");
      JsonObject *e = JSON_NODE_HOLDS_OBJECT (en) ? json_node_get_object (en) : NULL;
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "QMP %s failed: %s", command,
                   e != NULL ? json_object_get_string_member_with_default (e, "desc", "?") : "?");
      return NULL;
    }
  return g_steal_pointer (&reply);
}

static gboolean
qmp_open (Qmp *q, const BgrVmmInstance *inst, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) greeting = NULL;
  g_autoptr (JsonObject) caps = NULL;
  GSocket *sock;

  q->conn = bgr_vmm_connect_unix (inst->api_socket, inst->pid, QMP_TIMEOUT_MS, cancellable, error);
  if (q->conn == NULL)
    return FALSE;
  sock = g_socket_connection_get_socket (q->conn);
  g_socket_set_timeout (sock, QMP_TIMEOUT_MS / 1000);
  q->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (q->conn)));
  greeting = qmp_read (q, cancellable, error);
  if (greeting == NULL)
    return FALSE;
  if (!json_object_has_member (greeting, "QMP"))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "%s does not speak QMP",
                   inst->api_socket);
      return FALSE;
    }
  caps = qmp_execute (q, "qmp_capabilities", NULL, cancellable, error);
  return caps != NULL;
}

static JsonObject *
qmp_call (const BgrVmmInstance *inst, const char *command, GCancellable *cancellable,
          GError **error)
{
  Qmp q = { 0 };
  JsonObject *reply = NULL;

  if (qmp_open (&q, inst, cancellable, error))
    reply = qmp_execute (&q, command, NULL, cancellable, error);
  qmp_close (&q);
  return reply;
}

static JsonObject *
member_object (JsonObject *o, const char *name)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static BgrVmmInstance *
qemu_start (const BgrVmmConfig *c, GCancellable *cancellable, GError **error)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *qmp = g_build_filename (c->run_dir, "qmp.sock", NULL);
  g_autofree char *agent = g_build_filename (c->run_dir, "agent.sock", NULL);
  g_autofree char *pidfile = g_build_filename (c->run_dir, "qemu.pid", NULL);
  g_autofree char *out = NULL, *err = NULL, *pidtext = NULL;
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autoptr (GError) local = NULL;
  gint status = 0;
  gint64 pid;

  if (strlen (qmp) >= 100 || strlen (agent) >= 100)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "socket path %s is too long for a unix socket; use a shorter state_dir",
                   agent);
      return NULL;
    }
  unlink (qmp);
  unlink (agent);
  unlink (pidfile);

#define ARG(...) g_ptr_array_add (argv, g_strdup_printf (__VA_ARGS__))
  ARG ("%s", c->binary);
  ARG ("-name");
  ARG ("%s", c->name);
  ARG ("-M");
  ARG ("microvm,acpi=on");
  ARG ("-accel");
  if (c->allow_kvm)
    ARG ("kvm");
  else if (c->reclaim_memory)
    /* QEMU's default translation cache is 1 GiB, filled as the guest runs
     * new code: an idle guest keeps ~170 MB of it resident. */
    ARG ("tcg,tb-size=%d", TCG_TB_SIZE_MIB);
  else
    ARG ("tcg");
  ARG ("-m");
  ARG ("%" G_GUINT64_FORMAT "M", c->memory_mib);
  ARG ("-smp");
  ARG ("%u", c->vcpus);
  ARG ("-nodefaults");
  ARG ("-no-user-config");
  ARG ("-display");
  ARG ("none");
  ARG ("-no-reboot");
  ARG ("-kernel");
  ARG ("%s", c->kernel);
  if (c->initrd != NULL)
    {
      ARG ("-initrd");
      ARG ("%s", c->initrd);
    }
  ARG ("-append");
  ARG ("%s", c->cmdline);
  ARG ("-chardev");
  ARG ("file,id=console,path=%s,append=on", c->console_log);
  ARG ("-serial");
  ARG ("chardev:console");
  /* Creation order is probe order: the rootfs is /dev/vda, work /dev/vdb. */
  ARG ("-drive");
  ARG ("id=rootfs,file=%s,format=raw,if=none,discard=unmap", c->rootfs);
  ARG ("-device");
  ARG ("virtio-blk-device,drive=rootfs");
  if (c->work_disk != NULL)
    {
      ARG ("-drive");
      ARG ("id=work,file=%s,format=raw,if=none,discard=unmap", c->work_disk);
      ARG ("-device");
      ARG ("virtio-blk-device,drive=work");
    }
  if (c->tap != NULL)
    {
      ARG ("-netdev");
      ARG ("tap,id=net0,ifname=%s,script=no,downscript=no", c->tap);
      ARG ("-device");
      ARG ("virtio-net-device,netdev=net0,mac=%s", c->mac);
    }
  if (c->reclaim_memory)
    {
      /* Free page reporting: the guest tells which pages it freed and QEMU
       * discards them, so the host gets them back. The balloon itself stays
       * empty; deflate-on-oom in case someone inflates it by hand. */
      ARG ("-device");
      ARG ("virtio-balloon-device,free-page-reporting=on,deflate-on-oom=on");
    }
  ARG ("-device");
  ARG ("virtio-serial-device");
  ARG ("-chardev");
  ARG ("socket,id=agent,path=%s,server=on,wait=off", agent);
  ARG ("-device");
  ARG ("virtserialport,chardev=agent,name=%s", BGR_AGENT_SERIAL_NAME);
  ARG ("-qmp");
  ARG ("unix:%s,server=on,wait=off", qmp);
  ARG ("-daemonize");
  ARG ("-pidfile");
  ARG ("%s", pidfile);
#undef ARG
  g_ptr_array_add (argv, NULL);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  /* With -daemonize the first process exits once the VM is set up: its
   * status and stderr tell whether QEMU accepted the configuration. */
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                     &err, &status, &local))
    {
      g_set_error (error, BGR_ERROR,
                   g_error_matches (local, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT)
                     ? BGR_ERROR_NOT_FOUND : BGR_ERROR_FAILED,
                   "cannot run %s: %s", c->binary, local->message);
      return NULL;
    }
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "%s refused to start the VM: %s",
                   c->binary, g_strstrip (err));
      return NULL;
    }
  if (!g_file_get_contents (pidfile, &pidtext, NULL, NULL)
      || (pid = g_ascii_strtoll (pidtext, NULL, 10)) <= 0)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "%s started but wrote no pid to %s",
                   c->binary, pidfile);
      return NULL;
    }
  inst = g_new0 (BgrVmmInstance, 1);
  inst->driver = g_strdup ("qemu");
  inst->pid = (gint) pid;
  inst->start_time = bgr_vmm_process_start_time (inst->pid);
  inst->api_socket = g_strdup (qmp);
  inst->agent_socket = g_strdup (agent);
  if (inst->start_time == 0)
    {
      g_autofree char *text = bgr_read_tail (c->console_log, 16 * 1024);
      g_autofree char *tail = bgr_last_lines (g_strstrip (text), 5);
      g_set_error (error, BGR_ERROR, BGR_ERROR_FAILED, "%s exited right after starting%s%s",
                   c->binary, *tail ? ":\n" : "", tail);
      return NULL;
    }
  return g_steal_pointer (&inst);
}

static GIOStream *
qemu_connect_agent (const BgrVmmInstance *inst, GCancellable *cancellable, GError **error)
{
  GSocketConnection *conn
    = bgr_vmm_connect_unix (inst->agent_socket, inst->pid, 2000, cancellable, error);
  return conn != NULL ? G_IO_STREAM (conn) : NULL;
}

static gboolean
qemu_request_shutdown (const BgrVmmInstance *inst, GCancellable *cancellable, GError **error)
{
  g_autoptr (JsonObject) reply = qmp_call (inst, "system_powerdown", cancellable, error);
  return reply != NULL;
}

static gboolean
qemu_metrics (const BgrVmmInstance *inst, BgrVmmMetrics *out, GError **error)
{
  Qmp q = { 0 };
  g_autoptr (JsonObject) reply = NULL;
  JsonArray *devs;

  bgr_vmm_process_metrics (inst->pid, out);
  if (!qmp_open (&q, inst, NULL, error))
    {
      qmp_close (&q);
      return FALSE;
    }
  reply = qmp_execute (&q, "query-blockstats", NULL, NULL, error);
  qmp_close (&q);
  if (reply == NULL)
    return FALSE;
  {
    JsonNode *ret = json_object_get_member (reply, "return");
    devs = ret != NULL && JSON_NODE_HOLDS_ARRAY (ret) ? json_node_get_array (ret) : NULL;
  }
  if (devs != NULL)
    {
      out->disk_read_bytes = out->disk_write_bytes = 0;
      for (guint i = 0; i < json_array_get_length (devs); i++)
        {
          JsonObject *d = json_array_get_object_element (devs, i);
          JsonObject *s = member_object (d, "stats");
          if (s == NULL)
            continue;
          out->disk_read_bytes += json_object_get_int_member_with_default (s, "rd_bytes", 0);
          out->disk_write_bytes += json_object_get_int_member_with_default (s, "wr_bytes", 0);
        }
    }
  return TRUE;
}

const BgrVmmDriver bgr_vmm_qemu_driver = {
  .name = "qemu",
  .start = qemu_start,
  .connect_agent = qemu_connect_agent,
  .request_shutdown = qemu_request_shutdown,
  .metrics = qemu_metrics,
};
