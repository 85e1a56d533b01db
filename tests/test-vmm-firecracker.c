/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Firecracker driver against tests/fake-firecracker.py, a stand-in
 * binary that checks every API request against Firecracker's published
 * swagger description (shared/spec) and records its verdicts: the driver's
 * requests are shown to be valid, to carry the configuration's values, and
 * to come in an order Firecracker accepts, without KVM. The stand-in's
 * checker is itself shown to refuse bad requests, sent as raw HTTP. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>

#include "agent-proto/bgr-agent-proto.h"
#include "bgr-error-private.h"
#include "vmm/bgr-vmm-firecracker-private.h"
#include "bgr-test-util.h"

/* What the stand-in's FlushMetrics adds per device (fake-firecracker.py). */
#define FAKE_BLOCK_READ_BYTES 4096
#define FAKE_BLOCK_WRITE_BYTES 512
#define FAKE_NET_RX_BYTES 1500
#define FAKE_NET_TX_BYTES 700

typedef struct {
  char *dir;      /* /tmp/bgr-fc-XXXXXX: short enough for unix sockets */
  char *run_dir;
  char *kernel, *initrd, *rootfs, *work, *console, *record;
  char *fake;
  BgrVmmConfig config;
} Fixture;

static char *
put_file (Fixture *f, const char *name, const void *data, gsize len)
{
  char *path = g_build_filename (f->dir, name, NULL);
  g_autoptr (GError) err = NULL;

  g_file_set_contents (path, data, len, &err);
  g_assert_no_error (err);
  return path;
}

/* The stand-in runs as the `firecracker` binary; without its executable bit
 * (a checkout that lost it) a wrapper runs it with python3. */
static char *
fake_binary (Fixture *f)
{
  const char *script = bgr_test_program ("BANGER_FAKE_FIRECRACKER");
  g_autofree char *wrapper = NULL;
  char *path;

  if (g_file_test (script, G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup (script);
  wrapper = g_strdup_printf ("#!/bin/sh\nexec python3 '%s' \"$@\"\n", script);
  path = put_file (f, "firecracker", wrapper, strlen (wrapper));
  g_assert_no_errno (chmod (path, 0755));
  return path;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  static const guchar elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
  g_autoptr (GError) err = NULL;

  f->dir = g_dir_make_tmp ("bgr-fc-XXXXXX", &err);
  g_assert_no_error (err);
  f->run_dir = g_build_filename (f->dir, "run", NULL);
  g_assert_no_errno (g_mkdir (f->run_dir, 0700));
  f->kernel = put_file (f, "vmlinux", elf, sizeof elf);
  f->initrd = put_file (f, "initrd.img", "initrd", 6);
  f->rootfs = put_file (f, "rootfs.ext4", "rootfs", 6);
  f->work = put_file (f, "work.ext4", "work", 4);
  f->console = g_build_filename (f->dir, "console.log", NULL);
  f->record = g_build_filename (f->dir, "requests.jsonl", NULL);
  f->fake = fake_binary (f);
  g_setenv ("BANGER_FAKE_FC_LOG", f->record, TRUE);

  f->config = (BgrVmmConfig){
    .id = "abc123def456",
    .name = "fc-test",
    .run_dir = f->run_dir,
    .binary = f->fake,
    .kernel = f->kernel,
    .initrd = f->initrd,
    .cmdline = "console=ttyS0 reboot=k panic=1 pci=off init=/sbin/banger-init",
    .vcpus = 2,
    .memory_mib = 384,
    .rootfs = f->rootfs,
    .work_disk = f->work,
    .tap = "bgrtap0",
    .mac = "02:fc:00:00:00:07",
    .console_log = f->console,
    .allow_kvm = TRUE,
    .reclaim_memory = TRUE,
  };
}

static void
assert_nothing_running (Fixture *f)
{
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (f->run_dir);
  g_assert_cmpuint (pids->len, ==, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GArray) pids = bgr_test_processes_mentioning (f->dir);

  for (guint i = 0; i < pids->len; i++)
    kill (g_array_index (pids, gint, i), SIGKILL);
  g_unsetenv ("BANGER_FAKE_FC_LOG");
  if (g_test_failed ())
    {
      g_autofree char *console = NULL;
      if (g_file_get_contents (f->console, &console, NULL, NULL))
        g_test_message ("console log:\n%s", console);
    }
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
    g_assert_cmpint (system (cmd), ==, 0);
  }
  g_free (f->dir);
  g_free (f->run_dir);
  g_free (f->kernel);
  g_free (f->initrd);
  g_free (f->rootfs);
  g_free (f->work);
  g_free (f->console);
  g_free (f->record);
  g_free (f->fake);
}

/* The stand-in's record: one JSON object per request. */
static GPtrArray *
read_records (Fixture *f)
{
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents (f->record, &text, NULL, NULL))
    return records;
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) err = NULL;

      if (**l == '\0')
        continue;
      json_parser_load_from_data (parser, *l, -1, &err);
      g_assert_no_error (err);
      g_ptr_array_add (records, json_object_ref (json_node_get_object (json_parser_get_root (parser))));
    }
  return records;
}

static JsonObject *
find_record (GPtrArray *records, const char *method, const char *path)
{
  for (guint i = 0; i < records->len; i++)
    {
      JsonObject *r = records->pdata[i];
      if (g_str_equal (json_object_get_string_member (r, "method"), method)
          && g_str_equal (json_object_get_string_member (r, "path"), path))
        return r;
    }
  return NULL;
}

static JsonObject *
record_body (GPtrArray *records, const char *method, const char *path)
{
  JsonObject *r = find_record (records, method, path);

  if (r == NULL)
    g_error ("no %s %s was sent", method, path);
  return json_object_get_object_member (r, "body");
}

/* The members of @o, sorted and joined, to compare key sets exactly. */
static char *
member_names (JsonObject *o)
{
  GList *names = g_list_sort (json_object_get_members (o), (GCompareFunc) g_strcmp0);
  g_autoptr (GString) s = g_string_new (NULL);

  for (GList *l = names; l != NULL; l = l->next)
    g_string_append_printf (s, "%s%s", s->len ? "," : "", (const char *) l->data);
  g_list_free (names);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
assert_members (JsonObject *o, const char *expected)
{
  g_autofree char *names = member_names (o);
  g_assert_cmpstr (names, ==, expected);
}

static gboolean
file_has (const char *path, const char *text)
{
  g_autofree char *contents = NULL;
  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, text) != NULL;
}

static void
check_requests (Fixture *f, GPtrArray *records)
{
  const BgrVmmConfig *c = &f->config;
  g_autofree char *vsock = g_build_filename (f->run_dir, BGR_FC_VSOCK_SOCKET_NAME, NULL);
  g_autofree char *log = g_build_filename (f->run_dir, BGR_FC_LOG_NAME, NULL);
  g_autofree char *metrics = g_build_filename (f->run_dir, BGR_FC_METRICS_NAME, NULL);
  JsonObject *b, *last;

  for (guint i = 0; i < records->len; i++)
    {
      JsonObject *r = records->pdata[i];
      g_test_message ("%s %s -> %s %s", json_object_get_string_member (r, "method"),
                      json_object_get_string_member (r, "path"),
                      json_object_get_string_member (r, "verdict"),
                      json_object_get_string_member_with_default (r, "reason", ""));
      g_assert_cmpstr (json_object_get_string_member (r, "verdict"), ==, "ok");
      g_assert_cmpint (json_object_get_int_member (r, "status"), ==, 204);
    }
  /* Logger and metrics first, InstanceStart last. */
  g_assert_cmpstr (json_object_get_string_member (records->pdata[0], "path"), ==, "/logger");
  g_assert_cmpstr (json_object_get_string_member (records->pdata[1], "path"), ==, "/metrics");
  last = records->pdata[records->len - 1];
  g_assert_cmpstr (json_object_get_string_member (last, "path"), ==, "/actions");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (last, "body"),
                                                  "action_type"), ==, "InstanceStart");

  b = record_body (records, "PUT", "/logger");
  g_assert_cmpstr (json_object_get_string_member (b, "log_path"), ==, log);
  g_assert_cmpstr (json_object_get_string_member (b, "level"), ==, "Info");
  b = record_body (records, "PUT", "/metrics");
  g_assert_cmpstr (json_object_get_string_member (b, "metrics_path"), ==, metrics);

  b = record_body (records, "PUT", "/machine-config");
  assert_members (b, "mem_size_mib,smt,vcpu_count");
  g_assert_cmpint (json_object_get_int_member (b, "vcpu_count"), ==, c->vcpus);
  g_assert_cmpint (json_object_get_int_member (b, "mem_size_mib"), ==, (gint64) c->memory_mib);
  g_assert_false (json_object_get_boolean_member (b, "smt"));

  b = record_body (records, "PUT", "/boot-source");
  g_assert_cmpstr (json_object_get_string_member (b, "kernel_image_path"), ==, c->kernel);
  g_assert_cmpstr (json_object_get_string_member (b, "boot_args"), ==, c->cmdline);
  if (c->initrd != NULL)
    g_assert_cmpstr (json_object_get_string_member (b, "initrd_path"), ==, c->initrd);
  else
    g_assert_false (json_object_has_member (b, "initrd_path"));

  b = record_body (records, "PUT", "/drives/rootfs");
  assert_members (b, "drive_id,is_read_only,is_root_device,path_on_host");
  g_assert_cmpstr (json_object_get_string_member (b, "drive_id"), ==, "rootfs");
  g_assert_cmpstr (json_object_get_string_member (b, "path_on_host"), ==, c->rootfs);
  g_assert_true (json_object_get_boolean_member (b, "is_root_device"));
  g_assert_false (json_object_get_boolean_member (b, "is_read_only"));
  if (c->work_disk != NULL)
    {
      b = record_body (records, "PUT", "/drives/work");
      g_assert_cmpstr (json_object_get_string_member (b, "drive_id"), ==, "work");
      g_assert_cmpstr (json_object_get_string_member (b, "path_on_host"), ==, c->work_disk);
      g_assert_false (json_object_get_boolean_member (b, "is_root_device"));
      g_assert_false (json_object_get_boolean_member (b, "is_read_only"));
    }
  else
    g_assert_null (find_record (records, "PUT", "/drives/work"));

  if (c->tap != NULL)
    {
      b = record_body (records, "PUT", "/network-interfaces/eth0");
      assert_members (b, "guest_mac,host_dev_name,iface_id");
      g_assert_cmpstr (json_object_get_string_member (b, "iface_id"), ==, "eth0");
      g_assert_cmpstr (json_object_get_string_member (b, "host_dev_name"), ==, c->tap);
      g_assert_cmpstr (json_object_get_string_member (b, "guest_mac"), ==, c->mac);
    }
  else
    g_assert_null (find_record (records, "PUT", "/network-interfaces/eth0"));

  if (c->reclaim_memory)
    {
      b = record_body (records, "PUT", "/balloon");
      assert_members (b, "amount_mib,deflate_on_oom,free_page_reporting");
      g_assert_cmpint (json_object_get_int_member (b, "amount_mib"), ==, 0);
      g_assert_true (json_object_get_boolean_member (b, "deflate_on_oom"));
      g_assert_true (json_object_get_boolean_member (b, "free_page_reporting"));
    }
  else
    g_assert_null (find_record (records, "PUT", "/balloon"));

  b = record_body (records, "PUT", "/vsock");
  assert_members (b, "guest_cid,uds_path");
  g_assert_cmpint (json_object_get_int_member (b, "guest_cid"), ==, BGR_FC_GUEST_CID);
  g_assert_cmpstr (json_object_get_string_member (b, "uds_path"), ==, vsock);
}

/* HELLO through the vsock stream; the agent (host test mode) answers READY. */
static void
check_agent_hello (GIOStream *stream)
{
  GOutputStream *out = g_io_stream_get_output_stream (stream);
  GInputStream *in = g_io_stream_get_input_stream (stream);
  g_autoptr (GError) err = NULL;
  g_autofree guint8 *payload = NULL;
  uint8_t head[BGR_AGENT_HEADER_SIZE];
  BgrAgentHeader h;
  BgrAgentBuf b;
  BgrAgentFieldIter it;
  uint16_t tag;
  const uint8_t *val;
  uint32_t len;
  gboolean saw_version = FALSE;
  gsize got = 0;

  bgr_agent_buf_init (&b);
  bgr_agent_buf_put_int (&b, BGR_AGENT_F_VERSION, BGR_AGENT_PROTOCOL_VERSION);
  g_assert_false (b.failed);
  bgr_agent_header_encode (head, BGR_AGENT_MSG_HELLO, 0, (uint32_t) b.len);
  g_output_stream_write_all (out, head, sizeof head, NULL, NULL, &err);
  g_assert_no_error (err);
  g_output_stream_write_all (out, b.data, b.len, NULL, NULL, &err);
  g_assert_no_error (err);
  bgr_agent_buf_clear (&b);

  g_input_stream_read_all (in, head, sizeof head, &got, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (got, ==, sizeof head);
  g_assert_cmpint (bgr_agent_header_decode (head, &h), ==, 0);
  g_assert_cmpstr (bgr_agent_msg_name (h.type), ==, "READY");
  g_assert_cmpuint (h.channel, ==, 0);
  payload = g_malloc (h.length + 1);
  g_input_stream_read_all (in, payload, h.length, &got, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (got, ==, h.length);
  bgr_agent_fields_init (&it, payload, h.length);
  while (bgr_agent_fields_next (&it, &tag, &val, &len) == 1)
    if (tag == BGR_AGENT_F_VERSION)
      {
        int64_t v = 0;
        g_assert_cmpint (bgr_agent_field_int (val, len, &v), ==, 0);
        g_assert_cmpint (v, ==, BGR_AGENT_PROTOCOL_VERSION);
        saw_version = TRUE;
      }
  g_assert_true (saw_version);
}

static void
start_and_check (Fixture *f)
{
  const BgrVmmDriver *drv = &bgr_vmm_firecracker_driver;
  g_autofree char *api = g_build_filename (f->run_dir, BGR_FC_API_SOCKET_NAME, NULL);
  g_autofree char *vsock = g_build_filename (f->run_dir, BGR_FC_VSOCK_SOCKET_NAME, NULL);
  g_autofree char *metrics = g_build_filename (f->run_dir, BGR_FC_METRICS_NAME, NULL);
  g_autofree char *log = g_build_filename (f->run_dir, BGR_FC_LOG_NAME, NULL);
  g_autofree char *instance_line = NULL;
  g_autoptr (BgrVmmInstance) inst = NULL;
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) err = NULL;
  BgrVmmMetrics m;
  guint drives = f->config.work_disk != NULL ? 2 : 1;
  guint ifaces = f->config.tap != NULL ? 1 : 0;

  g_assert_true (drv == bgr_vmm_driver_lookup ("firecracker"));
  g_assert_cmpstr (drv->name, ==, "firecracker");
  inst = drv->start (&f->config, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (inst);

  g_assert_cmpstr (inst->driver, ==, "firecracker");
  g_assert_cmpint (inst->pid, >, 0);
  g_assert_cmpuint (inst->start_time, !=, 0);
  g_assert_cmpuint (inst->start_time, ==, bgr_vmm_process_start_time (inst->pid));
  g_assert_cmpstr (inst->api_socket, ==, api);
  g_assert_cmpstr (inst->agent_socket, ==, vsock);
  g_assert_cmpstr (inst->metrics_path, ==, metrics);
  g_assert_true (bgr_vmm_instance_is_alive (inst));
  g_assert_true (g_file_test (log, G_FILE_TEST_IS_REGULAR));

  records = read_records (f);
  g_assert_cmpuint (records->len, ==, 6 + drives + ifaces + (f->config.reclaim_memory ? 1 : 0));
  check_requests (f, records);
  /* The stand-in "booted": its console lines are in the console log. */
  instance_line = g_strdup_printf ("fake-firecracker: instance %s: %u vCPUs, %" G_GUINT64_FORMAT
                                   " MiB", f->config.id, f->config.vcpus, f->config.memory_mib);
  g_assert_true (file_has (f->console, instance_line));
  g_assert_true (file_has (f->console, f->config.cmdline));
  g_assert_true (file_has (log, "Successfully started microvm"));

  /* The agent's endpoint: the hybrid vsock handshake. */
  stream = drv->connect_agent (inst, NULL, &err);
  g_assert_no_error (err);
  g_assert_nonnull (stream);
  if (g_getenv ("BANGER_AGENT") != NULL && *g_getenv ("BANGER_AGENT") != '\0')
    check_agent_hello (stream);
  else
    {
      /* Held open, nothing read past the "OK" line. */
      GSocket *sock = g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));
      g_assert_false (g_socket_condition_timed_wait (sock, G_IO_IN, 200 * 1000, NULL, NULL));
    }
  g_io_stream_close (stream, NULL, NULL);

  /* Metrics: each FlushMetrics line holds amounts since the last flush,
   * the driver sums them. */
  g_assert_true (drv->metrics (inst, &m, &err));
  g_assert_no_error (err);
  g_assert_cmpint (m.cpu_time_ms, >=, 0);
  g_assert_cmpint (m.rss_bytes, >, 0);
  g_assert_cmpint (m.disk_read_bytes, ==, drives * FAKE_BLOCK_READ_BYTES);
  g_assert_cmpint (m.disk_write_bytes, ==, drives * FAKE_BLOCK_WRITE_BYTES);
  g_assert_cmpint (m.net_rx_bytes, ==, ifaces * FAKE_NET_RX_BYTES);
  g_assert_cmpint (m.net_tx_bytes, ==, ifaces * FAKE_NET_TX_BYTES);
  g_assert_true (drv->metrics (inst, &m, &err));
  g_assert_no_error (err);
  g_assert_cmpint (m.disk_read_bytes, ==, 2 * drives * FAKE_BLOCK_READ_BYTES);
  g_assert_cmpint (m.disk_write_bytes, ==, 2 * drives * FAKE_BLOCK_WRITE_BYTES);
  g_assert_cmpint (m.net_rx_bytes, ==, 2 * ifaces * FAKE_NET_RX_BYTES);
  g_assert_cmpint (m.net_tx_bytes, ==, 2 * ifaces * FAKE_NET_TX_BYTES);

  /* Ctrl-Alt-Del: the guest reboots, Firecracker exits. */
  g_assert_true (drv->request_shutdown (inst, NULL, &err));
  g_assert_no_error (err);
  g_assert_true (bgr_vmm_instance_wait_exit (inst, 10000, NULL, &err));
  g_assert_no_error (err);
  g_assert_false (bgr_vmm_instance_is_alive (inst));
  g_assert_false (g_file_test (api, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (vsock, G_FILE_TEST_EXISTS));
  g_clear_pointer (&records, g_ptr_array_unref);
  records = read_records (f);
  for (guint i = 0; i < records->len; i++)
    g_assert_cmpstr (json_object_get_string_member (records->pdata[i], "verdict"), ==, "ok");
  g_assert_cmpstr (json_object_get_string_member (
                     json_object_get_object_member (records->pdata[records->len - 1], "body"),
                     "action_type"), ==, "SendCtrlAltDel");

  /* Once it is gone, the driver says so. */
  g_assert_false (drv->request_shutdown (inst, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOTHING_TO_DO);
  g_clear_error (&err);
  g_assert_null (drv->connect_agent (inst, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_FAILED);
  g_clear_error (&err);
  g_assert_false (drv->metrics (inst, &m, &err));
  g_assert_cmpint (m.disk_read_bytes, ==, -1);
  g_clear_error (&err);
  assert_nothing_running (f);
}

static void
test_start_full (Fixture *f, gconstpointer data)
{
  start_and_check (f);
}

/* No initrd, work disk or network: those requests are not sent. A stale
 * socket from an earlier run is cleared first. */
static void
test_start_minimal (Fixture *f, gconstpointer data)
{
  g_autofree char *api = g_build_filename (f->run_dir, BGR_FC_API_SOCKET_NAME, NULL);
  g_autoptr (GSocket) stale = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (api);

  g_assert_true (g_socket_bind (stale, addr, FALSE, NULL));
  g_socket_close (stale, NULL);
  g_assert_true (g_file_test (api, G_FILE_TEST_EXISTS));
  f->config.initrd = NULL;
  f->config.work_disk = NULL;
  f->config.tap = NULL;
  f->config.mac = NULL;
  f->config.vcpus = 1;
  f->config.memory_mib = 128;
  f->config.reclaim_memory = FALSE; /* memory_reclaim = false: no balloon */
  start_and_check (f);
}

/* The driver's own checks, before anything runs. */
static void
test_refused_before_spawn (Fixture *f, gconstpointer data)
{
  const BgrVmmDriver *drv = &bgr_vmm_firecracker_driver;
  g_autoptr (GError) err = NULL;
  g_autofree char *bzimage = NULL, *long_dir = NULL;
  guchar bz[1024] = { 'M', 'Z' };
  BgrVmmConfig c = f->config;

  memcpy (bz + 0x202, "HdrS", 4);
  bzimage = put_file (f, "bzImage", bz, sizeof bz);
  c.kernel = bzimage;
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (err->message, "bzImage"));
  g_assert_nonnull (strstr (err->message, bzimage));
  g_clear_error (&err);
  g_assert_false (bgr_vmm_firecracker_check_kernel (f->rootfs, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_SUPPORTED);
  g_clear_error (&err);
  g_assert_true (bgr_vmm_firecracker_check_kernel (f->kernel, &err));
  g_assert_no_error (err);
  c.kernel = "/nonexistent/vmlinux";
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_clear_error (&err);

  c = f->config;
  c.binary = "/nonexistent/bin/firecracker";
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "/nonexistent/bin/firecracker"));
  g_clear_error (&err);
  c.binary = "banger-no-such-firecracker";
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (err->message, "banger-no-such-firecracker"));
  g_assert_nonnull (strstr (err->message, "PATH"));
  g_clear_error (&err);
  c.binary = f->rootfs; /* not executable */
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
  g_clear_error (&err);

  /* Unix socket paths are short. */
  c = f->config;
  long_dir = g_strdup_printf ("%s/%0*d", f->dir, 100, 0);
  c.run_dir = long_dir;
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);

  /* None of it spawned anything. */
  g_assert_false (g_file_test (f->record, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (f->console, G_FILE_TEST_EXISTS));
  assert_nothing_running (f);
}

/* A binary that exits at once: the error quotes what it said. */
static void
test_exits_at_once (Fixture *f, gconstpointer data)
{
  const BgrVmmDriver *drv = &bgr_vmm_firecracker_driver;
  static const char script[] = "#!/bin/sh\n"
                               "echo 'Error: cannot open /dev/kvm: No such file or directory' >&2\n"
                               "exit 1\n";
  g_autofree char *fails = put_file (f, "failing-firecracker", script, strlen (script));
  g_autoptr (GError) err = NULL;
  BgrVmmConfig c = f->config;

  g_assert_no_errno (chmod (fails, 0755));
  c.binary = fails;
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_nonnull (err);
  g_test_message ("%s", err->message);
  g_assert_true (err->domain == BGR_ERROR);
  g_assert_nonnull (strstr (err->message, "cannot open /dev/kvm"));
  g_clear_error (&err);
  assert_nothing_running (f);

  c.binary = "/bin/false";
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_nonnull (err);
  g_test_message ("%s", err->message);
  g_assert_true (err->domain == BGR_ERROR);
  g_clear_error (&err);
  assert_nothing_running (f);
}

/* Firecracker refuses a request: the driver names it, quotes the fault
 * message, and kills the process. */
static void
test_request_refused (Fixture *f, gconstpointer data)
{
  const BgrVmmDriver *drv = &bgr_vmm_firecracker_driver;
  g_autofree char *api = g_build_filename (f->run_dir, BGR_FC_API_SOCKET_NAME, NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) records = NULL;
  JsonObject *r;
  BgrVmmConfig c = f->config;

  c.vcpus = 64;
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_FAILED);
  g_test_message ("%s", err->message);
  g_assert_nonnull (strstr (err->message, "PUT /machine-config"));
  g_assert_nonnull (strstr (err->message, "maximum 32"));
  g_clear_error (&err);
  assert_nothing_running (f);
  g_assert_false (g_file_test (api, G_FILE_TEST_EXISTS));
  records = read_records (f);
  r = find_record (records, "PUT", "/machine-config");
  g_assert_nonnull (r);
  g_assert_cmpstr (json_object_get_string_member (r, "verdict"), ==, "violation");
  g_assert_null (find_record (records, "PUT", "/actions"));

  c = f->config;
  c.rootfs = "/nonexistent/rootfs.ext4";
  g_assert_null (drv->start (&c, NULL, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_FAILED);
  g_test_message ("%s", err->message);
  g_assert_nonnull (strstr (err->message, "PUT /drives/rootfs"));
  g_assert_nonnull (strstr (err->message, "/nonexistent/rootfs.ext4"));
  g_clear_error (&err);
  assert_nothing_running (f);
}

/* The metrics file: lines of amounts since the previous line, summed
 * across calls; the aggregate object when there is one, else the
 * per-device ones (older Firecracker); a line still being written waits. */
static void
test_metrics_file (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->run_dir, BGR_FC_METRICS_NAME, NULL);
  g_autofree char *totals = g_build_filename (f->run_dir, BGR_FC_METRICS_TOTALS_NAME, NULL);
  static const char lines[] =
    /* Firecracker >= 1.5: per device and the aggregate. */
    "{\"utc_timestamp_ms\":1,\"block_rootfs\":{\"read_bytes\":100,\"write_bytes\":10},"
    "\"block_work\":{\"read_bytes\":1,\"write_bytes\":2},"
    "\"block\":{\"read_bytes\":101,\"write_bytes\":12},"
    "\"net_eth0\":{\"rx_bytes_count\":5,\"tx_bytes_count\":6},"
    "\"net\":{\"rx_bytes_count\":5,\"tx_bytes_count\":6}}\n"
    /* Not a metrics line: skipped. */
    "garbage\n"
    /* Per device only. */
    "{\"block_rootfs\":{\"read_bytes\":1000,\"write_bytes\":100},"
    "\"block_work\":{\"read_bytes\":3,\"write_bytes\":\"x\"}}\n"
    /* Half written. */
    "{\"block\":{\"read_bytes\":7,";
  BgrVmmMetrics m = { -1, -1, -1, -1, -1, -1 };
  g_autoptr (GError) err = NULL;

  bgr_vmm_firecracker_read_metrics (path, &m);
  g_assert_cmpint (m.disk_read_bytes, ==, -1);
  g_assert_cmpint (m.net_rx_bytes, ==, -1);

  g_file_set_contents (path, lines, -1, &err);
  g_assert_no_error (err);
  bgr_vmm_firecracker_read_metrics (path, &m);
  g_assert_cmpint (m.disk_read_bytes, ==, 1104);
  g_assert_cmpint (m.disk_write_bytes, ==, 112);
  g_assert_cmpint (m.net_rx_bytes, ==, 5);
  g_assert_cmpint (m.net_tx_bytes, ==, 6);
  g_assert_true (g_file_test (totals, G_FILE_TEST_IS_REGULAR));
  /* Nothing new: the same sums. */
  bgr_vmm_firecracker_read_metrics (path, &m);
  g_assert_cmpint (m.disk_read_bytes, ==, 1104);

  /* The last line completed. */
  {
    g_autofree char *more = g_strconcat (lines, "\"write_bytes\":8}}\n", NULL);
    g_file_set_contents (path, more, -1, &err);
    g_assert_no_error (err);
  }
  bgr_vmm_firecracker_read_metrics (path, &m);
  g_assert_cmpint (m.disk_read_bytes, ==, 1111);
  g_assert_cmpint (m.disk_write_bytes, ==, 120);
  g_assert_cmpint (m.net_rx_bytes, ==, 5);

  /* A new, shorter file (a restarted VM): the sums start over. */
  g_file_set_contents (path, "{\"block\":{\"read_bytes\":9,\"write_bytes\":9}}\n", -1, &err);
  g_assert_no_error (err);
  bgr_vmm_firecracker_read_metrics (path, &m);
  g_assert_cmpint (m.disk_read_bytes, ==, 9);
}

/* ---- The stand-in's checker, driven by raw HTTP ---- */

static guint
raw_http (const char *sock_path, const char *method, const char *path, const char *body,
          char **response)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (sock_path);
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GString) req = g_string_new (NULL);
  g_autoptr (GByteArray) all = g_byte_array_new ();
  g_autoptr (GError) err = NULL;
  const char *sep;
  guint8 buf[4096];
  gssize n;

  conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL, &err);
  g_assert_no_error (err);
  g_string_append_printf (req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n",
                          method, path);
  if (body != NULL)
    g_string_append_printf (req, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                            strlen (body));
  g_string_append_printf (req, "\r\n%s", body != NULL ? body : "");
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)), req->str,
                             req->len, NULL, NULL, &err);
  g_assert_no_error (err);
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf,
                                   sizeof buf, NULL, &err)) > 0)
    g_byte_array_append (all, buf, n);
  g_assert_no_error (err);
  g_byte_array_append (all, (const guint8 *) "", 1);
  g_assert_true (g_str_has_prefix ((const char *) all->data, "HTTP/1.1 "));
  sep = strstr ((const char *) all->data, "\r\n\r\n");
  g_assert_nonnull (sep);
  if (response != NULL)
    *response = g_strdup (sep + 4);
  return (guint) g_ascii_strtoull ((const char *) all->data + 9, NULL, 10);
}

typedef struct {
  const char *method, *path, *body;
  guint status;
  const char *rule;     /* the violation recorded, NULL: accepted */
  const char *fault;    /* part of the fault message */
} RawCase;

static void
test_stand_in_checks (Fixture *f, gconstpointer data)
{
  g_autofree char *api = g_build_filename (f->dir, "api.sock", NULL);
  g_autofree char *logger = g_strdup_printf ("{\"log_path\":\"%s/nonexistent.log\"}", f->dir);
  g_autofree char *boot = g_strdup_printf ("{\"kernel_image_path\":\"%s\"}", f->kernel);
  g_autofree char *drive = g_strdup_printf (
    "{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":true,"
    "\"is_read_only\":false}", f->rootfs);
  g_autofree char *drive_mismatch = g_strdup_printf (
    "{\"drive_id\":\"other\",\"path_on_host\":\"%s\",\"is_root_device\":false,"
    "\"is_read_only\":false}", f->rootfs);
  g_autofree char *vsock_low_cid = g_strdup_printf ("{\"guest_cid\":2,\"uds_path\":\"%s/v.sock\"}",
                                                    f->dir);
  const RawCase cases[] = {
    /* Unknown field, wrong type, missing required field, enum, bounds. */
    { "PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256,\"turbo\":true}", 400,
      "spec", "unknown field 'turbo'" },
    { "PUT", "/machine-config", "{\"vcpu_count\":\"2\",\"mem_size_mib\":256}", 400, "spec",
      "vcpu_count: expected an integer" },
    { "PUT", "/machine-config", "{\"vcpu_count\":0,\"mem_size_mib\":256}", 400, "spec",
      "below the minimum 1" },
    { "PUT", "/machine-config", "{\"vcpu_count\":3,\"mem_size_mib\":256,\"smt\":true}", 400,
      "spec", "SMT" },
    { "PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/x\","
      "\"is_read_only\":false}", 400, "spec", "missing required field 'is_root_device'" },
    { "PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"is_root_device\":true,"
      "\"is_read_only\":false,\"cache_type\":\"Fast\"}", 400, "spec", "is not one of" },
    { "PUT", "/drives/rootfs", drive_mismatch, 400, "spec", "does not match" },
    { "PUT", "/boot-source", "[\"vmlinux\"]", 400, "spec", "expected an object" },
    { "PUT", "/boot-source", "{\"kernel_image_path\":", 400, "spec", "not JSON" },
    { "PUT", "/actions", NULL, 400, "spec", "needs a body" },
    { "PUT", "/vsock", vsock_low_cid, 400, "spec", "below the minimum 3" },
    { "PUT", "/logger", "{\"level\":\"Loud\"}", 400, "spec", "is not one of" },
    { "PUT", "/logger", logger, 400, "host", "No such file" },
    /* Wrong method, unknown path. */
    { "DELETE", "/machine-config", NULL, 400, "method", "Invalid request method" },
    { "POST", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, "method",
      "Invalid request method" },
    { "GET", "/no-such-resource", NULL, 400, "path", "Invalid request method and/or path" },
    { "PUT", "/drives", drive, 400, "path", "Invalid request method and/or path" },
    /* Order: start needs a boot source; post-boot operations wait. */
    { "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, "order",
      "without kernel configuration" },
    { "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", 400, "order", "before" },
    { "PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/x\"}", 400,
      "order", "post-boot only" },
    /* Valid ones pass. */
    { "GET", "/", NULL, 200, NULL, "\"Not started\"" },
    { "PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false}", 204,
      NULL, NULL },
    { "PUT", "/logger", "{\"level\":\"off\"}", 204, NULL, NULL }, /* case-insensitive */
    { "PUT", "/boot-source", boot, 204, NULL, NULL },
    { "PUT", "/drives/rootfs", drive, 204, NULL, NULL },
    { "GET", "/machine-config", NULL, 200, NULL, "\"mem_size_mib\": 256" },
    { "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 204, NULL, NULL },
    { "GET", "/", NULL, 200, NULL, "\"Running\"" },
    /* Pre-boot only after the start; a second start. */
    { "PUT", "/boot-source", boot, 400, "order", "pre-boot only" },
    { "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":128}", 400, "order",
      "pre-boot only" },
    { "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 400, "order",
      "after starting" },
    { "PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", 400, "order",
      "metrics system is not initialized" },
  };
  const char *argv[] = { f->fake, "--api-sock", api, "--id", "checker", NULL };
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GError) err = NULL;
  BgrRun run = { 0 };
  GPid pid;
  int status = 0, out_fd;

  /* Like Firecracker, it refuses options it does not know. */
  {
    const char *const bad[] = { f->fake, "--api-sock", api, "--config-file", "x.json", NULL };
    bgr_run_env (&run, NULL, bad);
    g_assert_cmpint (run.status, ==, 153);
    g_assert_nonnull (strstr (run.err, "--config-file"));
    bgr_run_clear (&run);
    g_assert_false (g_file_test (api, G_FILE_TEST_EXISTS));
  }

  /* Its output goes to the console file, not into the TAP stream. */
  out_fd = open (f->console, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_assert_cmpint (out_fd, >=, 0);
  g_spawn_async_with_fds (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                          -1, out_fd, out_fd, &err);
  close (out_fd);
  g_assert_no_error (err);
  for (int i = 0; i < 500 && !g_file_test (api, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);
  g_assert_true (g_file_test (api, G_FILE_TEST_EXISTS));

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const RawCase *rc = &cases[i];
      g_autofree char *resp = NULL;
      guint code = raw_http (api, rc->method, rc->path, rc->body, &resp);

      g_test_message ("%s %s %s -> %u %s", rc->method, rc->path, rc->body ? rc->body : "", code,
                      resp);
      g_assert_cmpuint (code, ==, rc->status);
      if (rc->status == 400)
        g_assert_nonnull (strstr (resp, "\"fault_message\""));
      if (rc->fault != NULL)
        g_assert_nonnull (strstr (resp, rc->fault));
    }

  /* Every request recorded, with the verdict the response showed. */
  records = read_records (f);
  g_assert_cmpuint (records->len, ==, G_N_ELEMENTS (cases));
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      JsonObject *r = records->pdata[i];
      g_assert_cmpstr (json_object_get_string_member (r, "method"), ==, cases[i].method);
      g_assert_cmpstr (json_object_get_string_member (r, "path"), ==, cases[i].path);
      g_assert_cmpint (json_object_get_int_member (r, "status"), ==, cases[i].status);
      g_assert_cmpstr (json_object_get_string_member (r, "verdict"), ==,
                       cases[i].rule != NULL ? "violation" : "ok");
      g_assert_cmpstr (json_object_get_string_member_with_default (r, "rule", NULL), ==,
                       cases[i].rule);
    }

  /* SIGTERM: it exits and removes its socket. */
  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_false (g_file_test (api, G_FILE_TEST_EXISTS));
}

/* Without the agent the start tests cannot check HELLO/READY through the
 * vsock: say so as a skipped test rather than pass without it. */
static void
test_no_agent (void)
{
  g_test_skip ("BANGER_AGENT not set (no banger-vsock-agent in this build): HELLO/READY "
               "through the hybrid vsock not checked");
}

static void
test_no_spec (void)
{
  g_test_skip ("BANGER_SPEC_DIR does not hold firecracker-api.yaml (the shared/spec folder "
               "next to the source tree; set -DBANGER_SPEC_DIR=...)");
}

int
main (int argc, char **argv)
{
  const char *spec_dir;
  g_autofree char *spec = NULL;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* The stand-in reads the spec from BANGER_SPEC_DIR. */
  spec_dir = g_getenv ("BANGER_SPEC_DIR");
  spec = spec_dir != NULL ? g_build_filename (spec_dir, "firecracker-api.yaml", NULL) : NULL;
  if (spec == NULL || !g_file_test (spec, G_FILE_TEST_IS_REGULAR))
    {
      /* Nothing here can run: ctest's SKIP_RETURN_CODE, not a pass. */
      g_test_add_func ("/vmm-firecracker/no-spec", test_no_spec);
      return g_test_run () == 0 ? 77 : 1;
    }
  if (g_getenv ("BANGER_AGENT") == NULL || *g_getenv ("BANGER_AGENT") == '\0')
    g_test_add_func ("/vmm-firecracker/agent-hello", test_no_agent);
  g_test_add ("/vmm-firecracker/start-full", Fixture, NULL, fixture_setup, test_start_full,
              fixture_teardown);
  g_test_add ("/vmm-firecracker/start-minimal", Fixture, NULL, fixture_setup, test_start_minimal,
              fixture_teardown);
  g_test_add ("/vmm-firecracker/refused-before-spawn", Fixture, NULL, fixture_setup,
              test_refused_before_spawn, fixture_teardown);
  g_test_add ("/vmm-firecracker/exits-at-once", Fixture, NULL, fixture_setup, test_exits_at_once,
              fixture_teardown);
  g_test_add ("/vmm-firecracker/request-refused", Fixture, NULL, fixture_setup,
              test_request_refused, fixture_teardown);
  g_test_add ("/vmm-firecracker/metrics-file", Fixture, NULL, fixture_setup, test_metrics_file,
              fixture_teardown);
  g_test_add ("/vmm-firecracker/stand-in-checks", Fixture, NULL, fixture_setup,
              test_stand_in_checks, fixture_teardown);
  return g_test_run ();
}
