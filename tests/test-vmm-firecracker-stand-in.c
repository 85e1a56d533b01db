/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fake-firecracker.py's own checker, shown to refuse bad requests:
 * raw HTTP sent to its API socket, against Firecracker's swagger
 * description (shared/spec). What test-vmm-firecracker.c relies on. */
#include "config.h"

#include "vmm-firecracker-harness.h"

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

/* Like Firecracker, it refuses options it does not know. */
static void
check_refuses_options (Fixture *f, const char *api)
{
  const char *const bad[] = { f->fake, "--api-sock", api, "--config-file", "x.json", NULL };
  BgrRun run = { 0 };

  bgr_run_env (&run, NULL, bad);
  g_assert_cmpint (run.status, ==, 153);
  g_assert_nonnull (strstr (run.err, "--config-file"));
  bgr_run_clear (&run);
  g_assert_false (g_file_test (api, G_FILE_TEST_EXISTS));
}

/* Starts the stand-in on @api; its output goes to the console file, not
 * into the TAP stream. */
static GPid
spawn_stand_in (Fixture *f, const char *api)
{
  const char *argv[] = { f->fake, "--api-sock", api, "--id", "checker", NULL };
  g_autoptr (GError) err = NULL;
  GPid pid;
  int out_fd;

  out_fd = open (f->console, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_assert_cmpint (out_fd, >=, 0);
  g_spawn_async_with_fds (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                          -1, out_fd, out_fd, &err);
  close (out_fd);
  g_assert_no_error (err);
  for (int i = 0; i < 500 && !g_file_test (api, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);
  g_assert_true (g_file_test (api, G_FILE_TEST_EXISTS));
  return pid;
}

/* Sends @cases in turn; each answer must be the expected one. */
static void
send_cases (const char *api, const RawCase *cases, gsize n_cases)
{
  for (gsize i = 0; i < n_cases; i++)
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
}

/* Every request recorded, with the verdict the response showed. */
static void
check_case_records (Fixture *f, const RawCase *cases, gsize n_cases)
{
  g_autoptr (GPtrArray) records = read_records (f);

  g_assert_cmpuint (records->len, ==, n_cases);
  for (gsize i = 0; i < n_cases; i++)
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
}

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
  GPid pid;
  int status = 0;

  check_refuses_options (f, api);
  pid = spawn_stand_in (f, api);
  send_cases (api, cases, G_N_ELEMENTS (cases));
  check_case_records (f, cases, G_N_ELEMENTS (cases));

  /* SIGTERM: it exits and removes its socket. */
  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_false (g_file_test (api, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  if (!fc_test_init (&argc, &argv))
    return g_test_run () == 0 ? 77 : 1; /* ctest's SKIP_RETURN_CODE, not a pass */
  g_test_add ("/vmm-firecracker/stand-in-checks", Fixture, NULL, fixture_setup,
              test_stand_in_checks, fixture_teardown);
  return g_test_run ();
}
