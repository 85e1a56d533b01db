/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Firecracker driver against tests/fake-firecracker.py, a stand-in
 * binary that checks every API request against Firecracker's published
 * swagger description (shared/spec) and records its verdicts: the driver's
 * requests are shown to be valid, to carry the configuration's values, and
 * to come in an order Firecracker accepts, without KVM. The stand-in's
 * checker is itself shown to refuse bad requests, sent as raw HTTP, in
 * test-vmm-firecracker-stand-in.c. */
#include "config.h"

#include "vmm-firecracker-harness.h"

/* The drives, network interface and balloon requests, each only when the
 * configuration has it, with its values. */
static void
check_device_requests (const BgrVmmConfig *c, GPtrArray *records)
{
  JsonObject *b;

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

  check_device_requests (c, records);

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

/* The agent's endpoint: the hybrid vsock handshake. */
static void
check_agent_endpoint (const BgrVmmDriver *drv, BgrVmmInstance *inst)
{
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) err = NULL;

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
}

/* Metrics: each FlushMetrics line holds amounts since the last flush,
 * the driver sums them. */
static void
check_metrics (const BgrVmmDriver *drv, BgrVmmInstance *inst, guint drives, guint ifaces)
{
  g_autoptr (GError) err = NULL;
  BgrVmmMetrics m;

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
}

/* Ctrl-Alt-Del ends the VM; then the driver says it is gone. */
static void
check_shutdown (Fixture *f, const BgrVmmDriver *drv, BgrVmmInstance *inst, const char *api,
                const char *vsock)
{
  g_autoptr (GPtrArray) records = NULL;
  g_autoptr (GError) err = NULL;
  BgrVmmMetrics m;

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
  g_autoptr (GError) err = NULL;
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

  check_agent_endpoint (drv, inst);
  check_metrics (drv, inst, drives, ifaces);
  check_shutdown (f, drv, inst, api, vsock);
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

/* Without the agent the start tests cannot check HELLO/READY through the
 * vsock: say so as a skipped test rather than pass without it. */
static void
test_no_agent (void)
{
  g_test_skip ("BANGER_AGENT not set (no banger-vsock-agent in this build): HELLO/READY "
               "through the hybrid vsock not checked");
}

int
main (int argc, char **argv)
{
  if (!fc_test_init (&argc, &argv))
    return g_test_run () == 0 ? 77 : 1; /* ctest's SKIP_RETURN_CODE, not a pass */
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
  return g_test_run ();
}
