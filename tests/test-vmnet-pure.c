/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VM network's pure functions, which need no namespace and no root:
 * bgr_vmnet_new()'s and set_hosts()' checks of their input, the address
 * picker, MACs and the kernel's ip= argument. */
#include "config.h"

#include "bgr-test-util.h"

#include <net/if.h>

#include "bgr-error-private.h"
#include "bgr-fs-private.h"
#include "net/bgr-vmnet-private.h"

static char *
read_file (const char *path)
{
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return text;
}

static BgrVmnet *
pure_net (const char *bridge_ip, const char *cidr, char **dir)
{
  g_autoptr (GError) err = NULL;
  BgrVmnet *net;

  *dir = g_dir_make_tmp ("test-vmnet-XXXXXX", NULL);
  net = bgr_vmnet_new ("bgrpure0", bridge_ip, cidr, 0, "1.1.1.1", FALSE, *dir, &err);
  g_assert_no_error (err);
  return net;
}

static void
test_pick_address (void)
{
  g_autofree char *dir = NULL, *dir2 = NULL, *dir3 = NULL;
  g_autoptr (BgrVmnet) net = pure_net ("10.99.0.1", "10.99.0.0/24", &dir);
  g_autoptr (BgrVmnet) small = pure_net ("10.98.0.1", "10.98.0.0/30", &dir2);
  g_autoptr (BgrVmnet) mid = pure_net ("10.97.0.2", "10.97.0.0/29", &dir3);
  g_autoptr (GError) err = NULL;
  char *a;

  a = bgr_vmnet_pick_address (net, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (a, ==, "10.99.0.2");
  g_free (a);
  {
    const char *in_use[] = { "10.99.0.2", "10.99.0.3", "10.1.2.3", NULL };
    a = bgr_vmnet_pick_address (net, in_use, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (a, ==, "10.99.0.4");
    g_free (a);
  }
  {
    const char *in_use[] = { "10.99.0.2", "not-an-ip", NULL };
    a = bgr_vmnet_pick_address (net, in_use, &err);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
    g_assert_null (a);
    g_clear_error (&err);
  }

  /* A /30: network .0, bridge .1, one VM .2, broadcast .3. */
  a = bgr_vmnet_pick_address (small, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (a, ==, "10.98.0.2");
  g_free (a);
  {
    const char *in_use[] = { "10.98.0.2", NULL };
    a = bgr_vmnet_pick_address (small, in_use, &err);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
    g_assert_null (a);
    g_clear_error (&err);
  }

  /* The bridge in the middle: below it first, then above, never .7. */
  a = bgr_vmnet_pick_address (mid, NULL, &err);
  g_assert_cmpstr (a, ==, "10.97.0.1");
  g_free (a);
  {
    const char *in_use[] = { "10.97.0.1", "10.97.0.3", "10.97.0.4", "10.97.0.5", NULL };
    a = bgr_vmnet_pick_address (mid, in_use, &err);
    g_assert_cmpstr (a, ==, "10.97.0.6");
    g_free (a);
  }
  {
    const char *in_use[] = { "10.97.0.1", "10.97.0.3", "10.97.0.4", "10.97.0.5", "10.97.0.6",
                             NULL };
    a = bgr_vmnet_pick_address (mid, in_use, &err);
    g_assert_error (err, BGR_ERROR, BGR_ERROR_NO_SPACE);
    g_assert_null (a);
  }
  bgr_rm_rf (dir, NULL);
  bgr_rm_rf (dir2, NULL);
  bgr_rm_rf (dir3, NULL);
}

static void
test_mac_and_ip_arg (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (BgrVmnet) net = pure_net ("172.16.0.1", "172.16.0.0/20", &dir);
  g_autoptr (GError) err = NULL;
  char *s;

  s = bgr_vmnet_mac_for_address ("172.16.3.250");
  g_assert_cmpstr (s, ==, "02:00:ac:10:03:fa");
  g_free (s);
  g_assert_null (bgr_vmnet_mac_for_address ("172.16.3"));
  g_assert_null (bgr_vmnet_mac_for_address (NULL));

  s = bgr_vmnet_kernel_ip_arg (net, "172.16.3.250", "web-1", &err);
  g_assert_no_error (err);
  g_assert_cmpstr (s, ==, "ip=172.16.3.250::172.16.0.1:255.255.240.0:web-1:eth0:off:172.16.0.1");
  g_free (s);

  for (const char *const *bad = (const char *const[]){ "", "-web", "web-", "a:b", "a.b", "a b",
                                                       NULL };
       *bad != NULL; bad++)
    {
      g_assert_null (bgr_vmnet_kernel_ip_arg (net, "172.16.3.250", *bad, &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
      g_clear_error (&err);
    }
  for (const char *const *bad = (const char *const[]){ "172.16.0.1", "172.16.0.0",
                                                       "172.16.15.255", "172.17.0.2", "x", NULL };
       *bad != NULL; bad++)
    {
      g_assert_null (bgr_vmnet_kernel_ip_arg (net, *bad, "web", &err));
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
      g_clear_error (&err);
    }
  bgr_rm_rf (dir, NULL);
}

static void
test_bad_input (void)
{
  static const struct {
    const char *bridge, *ip, *cidr, *dns;
    guint pool;
    const char *message;
  } cases[] = {
    { "", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "bad name", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "a/b", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "sixteen-chars-xx", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "-br0", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge name" },
    { "br0", "10.0.1.1", "10.0.0.0/24", "1.1.1.1", 1, "bridge_ip" },
    { "br0", "10.0.0.0", "10.0.0.0/24", "1.1.1.1", 1, "bridge_ip" },
    { "br0", "10.0.0.255", "10.0.0.0/24", "1.1.1.1", 1, "bridge_ip" },
    { "br0", "10.0.0.1/24", "10.0.0.0/24", "1.1.1.1", 1, "bridge_ip" },
    { "br0", "10.0.0.1", "10.0.0.1/24", "1.1.1.1", 1, "host bits" },
    { "br0", "10.0.0.1", "10.0.0.0/31", "1.1.1.1", 1, "cidr" },
    { "br0", "10.0.0.1", "10.0.0.0/7", "1.1.1.1", 1, "cidr" },
    { "br0", "10.0.0.1", "10.0.0.0", "1.1.1.1", 1, "cidr" },
    { "br0", "10.0.0.1", "fd00::/64", "1.1.1.1", 1, "cidr" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "1.1.1", 1, "default_dns" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "::1", 1, "default_dns" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "0.0.0.0", 1, "default_dns" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "10.0.0.1", 1, "loop" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "", 1, "default_dns" },
    { "br0", "10.0.0.1", "10.0.0.0/24", "1.1.1.1", 257, "tap_pool_size" },
  };
  g_autofree char *parent = g_dir_make_tmp ("test-vmnet-XXXXXX", NULL);
  g_autofree char *dir = g_build_filename (parent, "run", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (BgrVmnet) ok = NULL;
  g_autoptr (GHashTable) map = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *hosts_before = NULL, *hosts_after = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      BgrVmnet *net = bgr_vmnet_new (cases[i].bridge, cases[i].ip, cases[i].cidr,
                                     cases[i].pool, cases[i].dns, FALSE, dir, &err);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, err != NULL ? err->message : "accepted");
      g_assert_null (net);
      g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
      bgr_assert_contains (err->message, cases[i].message);
      g_clear_error (&err);
      /* Refused before anything was made. */
      g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
    }
  g_assert_null (bgr_vmnet_new ("br0", "10.0.0.1", "10.0.0.0/24", 1, "1.1.1.1", FALSE, "relative",
                                &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);

  ok = bgr_vmnet_new ("br0", "10.0.0.1", "10.0.0.0/24", 1, "1.1.1.1", FALSE, dir, &err);
  g_assert_no_error (err);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (strlen (bgr_vmnet_get_tap_prefix (ok)) + 5, <, IFNAMSIZ);

  /* set_hosts() refuses a bad map before it writes anything. */
  g_hash_table_insert (map, "good", "10.0.0.2");
  g_assert_true (bgr_vmnet_set_hosts (ok, map, &err));
  g_assert_no_error (err);
  hosts_before = read_file (bgr_vmnet_get_hosts_path (ok));
  bgr_assert_contains (hosts_before, "10.0.0.2 good.vm good\n");
  g_hash_table_insert (map, "bad.name", "10.0.0.3");
  g_assert_false (bgr_vmnet_set_hosts (ok, map, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  g_hash_table_remove (map, "bad.name");
  g_hash_table_insert (map, "other", "192.168.1.1");
  g_assert_false (bgr_vmnet_set_hosts (ok, map, &err));
  g_assert_error (err, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  hosts_after = read_file (bgr_vmnet_get_hosts_path (ok));
  g_assert_cmpstr (hosts_after, ==, hosts_before);

  /* Different bridges, different taps. */
  {
    g_autoptr (BgrVmnet) other = bgr_vmnet_new ("br1", "10.0.0.1", "10.0.0.0/24", 1, "1.1.1.1",
                                                FALSE, dir, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (bgr_vmnet_get_tap_prefix (other), !=, bgr_vmnet_get_tap_prefix (ok));
  }
  bgr_rm_rf (parent, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/vmnet/bad-input", test_bad_input);
  g_test_add_func ("/vmnet/pick-address", test_pick_address);
  g_test_add_func ("/vmnet/mac-and-ip-arg", test_mac_and_ip_arg);
  return g_test_run ();
}
