/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The harness of the VM network's namespace tests (vmnet-harness.h). The
 * program re-executes itself under `unshare --net --pid --fork
 * --mount-proc`, so that every bridge, tap, nftables table and dnsmasq it
 * makes lives and dies in a network namespace that holds nothing but a
 * loopback interface, and nothing it sends can leave. Without root, or
 * where unshare is refused, the tests that need the namespace are skipped. */
#include "config.h"

#include "vmnet-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bgr-fs-private.h"

#define NETNS_ENV "BANGER_TEST_VMNET_HOST_NETNS"

const char *skip_reason;

/* ---- commands ---------------------------------------------------------------- */

int
run_status (const char *cmdline, char **out)
{
  g_auto (GStrv) argv = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *stdout_text = NULL, *stderr_text = NULL;
  int status = 0;

  g_assert_true (g_shell_parse_argv (cmdline, NULL, &argv, NULL));
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &stdout_text,
                     &stderr_text, &status, &err))
    g_error ("cannot run %s: %s", cmdline, err->message);
  g_test_message ("$ %s -> %d %s", cmdline, status, stderr_text);
  if (out != NULL)
    *out = g_steal_pointer (&stdout_text);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

char *
run_ok (const char *cmdline)
{
  char *out = NULL;

  if (run_status (cmdline, &out) != 0)
    g_error ("command failed: %s", cmdline);
  return out;
}

JsonNode *
json_of (const char *cmdline)
{
  g_autofree char *out = run_ok (cmdline);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) err = NULL;

  if (!json_parser_load_from_data (parser, out, -1, &err))
    g_error ("%s printed no JSON: %s", cmdline, err->message);
  return json_parser_steal_root (parser);
}

JsonObject *
member_object (JsonObject *o, const char *name)
{
  return o != NULL && json_object_has_member (o, name) ? json_object_get_object_member (o, name)
                                                       : NULL;
}

const char *
member_string (JsonObject *o, const char *name)
{
  return o != NULL && json_object_has_member (o, name) ? json_object_get_string_member (o, name)
                                                       : NULL;
}

gboolean
link_exists (const char *name)
{
  return if_nametoindex (name) != 0;
}

gboolean
has_flag (JsonObject *link, const char *flag)
{
  JsonArray *flags = json_object_get_array_member (link, "flags");

  for (guint i = 0; i < json_array_get_length (flags); i++)
    if (g_str_equal (json_array_get_string_element (flags, i), flag))
      return TRUE;
  return FALSE;
}

char *
read_file (const char *path)
{
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return text;
}

/* /proc/sys files are written in place, not replaced. */
void
write_proc (const char *path, const char *value)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, value, strlen (value)), ==, (gssize) strlen (value));
  g_assert_cmpint (close (fd), ==, 0);
}

gboolean
process_alive (GPid pid)
{
  return pid > 0 && kill (pid, 0) == 0;
}

/* ---- fixture ------------------------------------------------------------------ */

BgrVmnet *
new_net (Fixture *f, const char *dns)
{
  g_autoptr (GError) err = NULL;
  BgrVmnet *net = bgr_vmnet_new (BRIDGE, BRIDGE_IP, CIDR, POOL, dns, FALSE, f->run_dir, &err);

  g_assert_no_error (err);
  return net;
}

void
fixture_setup (Fixture *f, gconstpointer data)
{
  if (skip_reason != NULL)
    return;
  f->run_parent = g_dir_make_tmp ("test-vmnet-XXXXXX", NULL);
  g_assert_nonnull (f->run_parent);
  /* dnsmasq rereads the hosts file as its unprivileged user. */
  g_assert_cmpint (chmod (f->run_parent, 0755), ==, 0);
  f->run_dir = g_build_filename (f->run_parent, "net", NULL);
  f->net = new_net (f, UPSTREAM_IP);
}

void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  if (f->net != NULL)
    {
      bgr_vmnet_teardown (f->net, &err);
      g_assert_no_error (err);
      bgr_vmnet_free (f->net);
    }
  if (f->run_parent != NULL)
    bgr_rm_rf (f->run_parent, NULL);
  g_free (f->run_parent);
  g_free (f->run_dir);
}

void
ensure_ok (BgrVmnet *net)
{
  g_autoptr (GError) err = NULL;

  g_assert_true (bgr_vmnet_ensure (net, &err));
  g_assert_no_error (err);
}

void
set_hosts (BgrVmnet *net, ...)
{
  g_autoptr (GHashTable) map = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) err = NULL;
  va_list ap;
  const char *name;

  va_start (ap, net);
  while ((name = va_arg (ap, const char *)) != NULL)
    g_hash_table_insert (map, (gpointer) name, va_arg (ap, char *));
  va_end (ap);
  g_assert_true (bgr_vmnet_set_hosts (net, map, &err));
  g_assert_no_error (err);
}

/* The masquerade rule of `nft -j list table ip banger`, as "ADDR/LEN
 * !=OIFNAME", and the number of rules and the table's handle. */
char *
nft_summary (guint *rules, gint64 *handle)
{
  g_autoptr (JsonNode) root = json_of ("nft -j list table ip banger");
  JsonArray *items = json_object_get_array_member (json_node_get_object (root), "nftables");
  char *masq = NULL;

  *rules = 0;
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);
      JsonObject *rule = member_object (item, "rule");
      JsonObject *table = member_object (item, "table");
      JsonArray *expr;
      const char *addr = NULL, *oif = NULL;
      gint64 len = -1;
      gboolean masquerade = FALSE;

      if (table != NULL)
        *handle = json_object_get_int_member (table, "handle");
      if (rule == NULL)
        continue;
      (*rules)++;
      expr = json_object_get_array_member (rule, "expr");
      for (guint j = 0; j < json_array_get_length (expr); j++)
        {
          JsonObject *e = json_array_get_object_element (expr, j);
          JsonObject *match = member_object (e, "match");
          JsonObject *left, *right;
          if (json_object_has_member (e, "masquerade"))
            masquerade = TRUE;
          if (match == NULL)
            continue;
          left = member_object (match, "left");
          right = JSON_NODE_HOLDS_OBJECT (json_object_get_member (match, "right"))
                    ? member_object (json_object_get_object_member (match, "right"), "prefix")
                    : NULL;
          if (right != NULL)
            {
              addr = member_string (right, "addr");
              len = json_object_get_int_member (right, "len");
            }
          else if (g_strcmp0 (member_string (member_object (left, "meta"), "key"), "oifname") == 0
                   && g_strcmp0 (member_string (match, "op"), "!=") == 0)
            oif = member_string (match, "right");
        }
      if (masquerade && masq == NULL)
        masq = g_strdup_printf ("%s/%" G_GINT64_FORMAT " !=%s", addr, len, oif);
    }
  return masq;
}


/* "CHAIN:WHAT CHAIN:WHAT ..." of the rules of table FAMILY banger, from the
 * comments ("banger WHAT TAG"), in order; NULL when the table is missing. */
char *
nft_rules_of (const char *family)
{
  g_autofree char *cmd = g_strdup_printf ("nft -j list table %s banger", family);
  g_autofree char *out = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GString) s = g_string_new (NULL);
  JsonArray *items;

  if (run_status (cmd, &out) != 0)
    return NULL;
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  items = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                        "nftables");
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonObject *rule = member_object (json_array_get_object_element (items, i), "rule");
      g_auto (GStrv) words = NULL;

      if (rule == NULL)
        continue;
      words = g_strsplit (member_string (rule, "comment"), " ", -1);
      g_assert_cmpuint (g_strv_length (words), ==, 3);
      g_assert_cmpstr (words[0], ==, "banger");
      g_string_append_printf (s, "%s%s:%s", s->len > 0 ? " " : "", member_string (rule, "chain"),
                              words[1]);
    }
  return g_strdup (s->str);
}

#define IP_RULES_ISOLATED                                                                      \
  "postrouting:masquerade input:replies-from-vms input:dns-udp input:dns-tcp input:no-host "   \
  "forward:no-link-local forward:no-vm-to-vm forward:from-vms forward:to-vms"
#define IP_RULES_OPEN                                                                          \
  "postrouting:masquerade input:replies-from-vms input:dns-udp input:dns-tcp input:no-host "   \
  "forward:no-link-local forward:from-vms forward:to-vms"
#define IP6_RULES "input:no-host6 forward:no-forward6"
#define BRIDGE_RULES "forward:no-tap-to-tap"

void
assert_boundaries (gboolean vm_to_vm)
{
  g_autofree char *ip = nft_rules_of ("ip");
  g_autofree char *ip6 = nft_rules_of ("ip6");
  g_autofree char *br = nft_rules_of ("bridge");

  g_assert_cmpstr (ip, ==, vm_to_vm ? IP_RULES_OPEN : IP_RULES_ISOLATED);
  g_assert_cmpstr (ip6, ==, IP6_RULES);
  g_assert_cmpstr (br, ==, vm_to_vm ? NULL : BRIDGE_RULES);
}

/* ---- namespaces ------------------------------------------------------------------ */

static guint64
netns_inode (void)
{
  struct stat st;

  if (stat ("/proc/self/ns/net", &st) != 0)
    return 0;
  return (guint64) st.st_ino;
}

/* Outside: re-executes this program in new network, pid and mount
 * namespaces (returns only when that cannot be done, with the reason).
 * Inside: checks that this really is another network namespace. */
static const char *
enter_namespaces (int argc, char **argv)
{
  const char *host = g_getenv (NETNS_ENV);
  g_autofree char *self = NULL;
  g_autoptr (GPtrArray) args = NULL;
  g_autofree char *ino = NULL;
  int status = 0;

  if (host != NULL)
    {
      if (g_ascii_strtoull (host, NULL, 10) == netns_inode ())
        g_error ("%s is set but this is the host's network namespace", NETNS_ENV);
      return NULL;
    }
  if (geteuid () != 0)
    return "needs root (network namespaces, bridges, nftables, dnsmasq)";
  if (!g_spawn_sync (NULL, (char *[]){ "unshare", "--net", "--pid", "--fork", "--mount-proc", "true",
                                       NULL },
                     NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                                               | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL)
      || !g_spawn_check_wait_status (status, NULL))
    return "cannot create namespaces (unshare --net --pid failed)";

  self = g_file_read_link ("/proc/self/exe", NULL);
  g_assert_nonnull (self);
  ino = g_strdup_printf ("%" G_GUINT64_FORMAT, netns_inode ());
  g_setenv (NETNS_ENV, ino, TRUE);
  args = g_ptr_array_new ();
  for (const char *a
       = "unshare\0--net\0--pid\0--fork\0--mount-proc\0--kill-child\0--\0";
       *a != '\0'; a += strlen (a) + 1)
    g_ptr_array_add (args, (gpointer) a);
  g_ptr_array_add (args, self);
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);
  execvp ("unshare", (char **) args->pdata);
  g_unsetenv (NETNS_ENV);
  return "cannot run unshare";
}

/* As the pid namespace's init (pid 1), fork: the child runs the tests
 * (pid 1 ignores default-action signals, abort() included), the parent
 * reaps every orphan (dnsmasq daemonizes) until the child is done. */
static void
become_init (void)
{
  pid_t child;

  if (getpid () != 1)
    return;
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    return;
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, 0);

      if (pid < 0 && errno == EINTR)
        continue;
      if (pid < 0)
        _exit (1);
      if (pid == child)
        _exit (WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
    }
}

void
vmnet_test_init (int *argc, char ***argv)
{
  const char *path = g_getenv ("PATH");
  g_autofree char *new_path = g_strdup_printf ("/usr/sbin:/sbin:%s", path != NULL ? path : "/usr/bin:/bin");

  g_setenv ("PATH", new_path, TRUE);
  skip_reason = enter_namespaces (*argc, *argv);
  if (skip_reason == NULL)
    become_init ();
  g_test_init (argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  if (skip_reason == NULL)
    g_free (run_ok ("ip link set lo up"));
}
