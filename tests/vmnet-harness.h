/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the VM network's namespace tests share: running the tools (ip, nft)
 * and reading their JSON, the fixture (a BgrVmnet on a test bridge), the
 * nftables boundaries read back, and the namespaces the tests run in. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "net/bgr-vmnet-private.h"

#define BRIDGE "bgrtest0"
#define BRIDGE_IP "10.99.0.1"
#define CIDR "10.99.0.0/24"
#define POOL 3
#define UPSTREAM_IP "10.253.0.1"
#define CONVERGE_TIMEOUT_S 10
/* Rules in table ip banger: NAT, input (4), forward (4, or 3 with vm_to_vm). */
#define IP_RULES 9

/* NULL inside our own namespaces, else why the system tests are skipped. */
extern const char *skip_reason;

typedef struct {
  char *run_parent;
  char *run_dir;
  BgrVmnet *net;
} Fixture;

#define NEEDS_NETNS()                   \
  G_STMT_START                          \
  {                                     \
    if (skip_reason != NULL)            \
      {                                 \
        g_test_skip (skip_reason);      \
        return;                         \
      }                                 \
  }                                     \
  G_STMT_END

/* Commands: the exit status (-1: killed), and stdout in *@out. */
int run_status (const char *cmdline, char **out);
/* stdout of a command that must succeed. */
char *run_ok (const char *cmdline);
JsonNode *json_of (const char *cmdline);
JsonObject *member_object (JsonObject *o, const char *name);
const char *member_string (JsonObject *o, const char *name);
gboolean link_exists (const char *name);
gboolean has_flag (JsonObject *link, const char *flag);
char *read_file (const char *path);
void write_proc (const char *path, const char *value);
gboolean process_alive (GPid pid);

/* The fixture: a BgrVmnet on BRIDGE with its run directory. */
BgrVmnet *new_net (Fixture *f, const char *dns);
void fixture_setup (Fixture *f, gconstpointer data);
void fixture_teardown (Fixture *f, gconstpointer data);
void ensure_ok (BgrVmnet *net);
/* NAME, ADDRESS, ..., NULL */
void set_hosts (BgrVmnet *net, ...) G_GNUC_NULL_TERMINATED;

/* nftables, read back. */
char *nft_summary (guint *rules, gint64 *handle);
char *nft_rules_of (const char *family);
void assert_boundaries (gboolean vm_to_vm);

/* Sets up the process for the namespace tests (re-executing it in new
 * namespaces when it can) and calls g_test_init(). */
void vmnet_test_init (int *argc, char ***argv);

#define ADD_NETNS_TEST(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
