/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the VM network's files share (bgr-vmnet*.c); not for the rest of
 * libbanger, which uses bgr-vmnet-private.h. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "net/bgr-vmnet-private.h"

G_BEGIN_DECLS

#define NFT_TABLE "banger"
/* Bumped whenever the rules change, so that ensure() replaces a table an
 * older banger wrote. */
#define NFT_RULES_VERSION "2"
#define TAP_MAX_INDEX 65535
#define MAX_POOL_SIZE 256
#define STOP_TIMEOUT_MS 5000
#define CAP_NET_ADMIN_BIT 12

struct _BgrVmnet {
  char *bridge;
  char *bridge_ip;
  char *cidr;
  char *dns;
  guint32 ip;   /* bridge_ip, host order */
  guint32 net;  /* network address */
  guint32 mask;
  guint prefix;
  guint tap_pool_size;
  gboolean vm_to_vm;
  char *run_dir;
  char *pid_file;
  char *hosts_file;
  char *log_file;
  char *tap_prefix;
  char *bridge_mac;
  GMutex lock;
};

typedef struct {
  guint index;
  const char *name;  /* points into the links document */
  JsonObject *link;
} PoolTap;

/* ---- bgr-vmnet-tools.c ---- */

char *vmnet_format_ipv4 (guint32 addr);
gboolean vmnet_valid_ifname (const char *s);
gboolean vmnet_valid_label (const char *s);
gboolean vmnet_is_host_address (BgrVmnet *net, guint32 addr);
char *vmnet_find_tool (const char *name);
/* Runs @argv (argv[0] a tool name, or an absolute path used as is) with
 * @input on stdin (NULL: none) in the C locale, and returns its stdout in
 * @out (may be NULL). On failure the message is "WHAT: TOOL: STDERR". */
gboolean vmnet_run_tool (const char *const *argv, const char *input, char **out, GError **error,
                         const char *fmt, ...) G_GNUC_PRINTF (5, 6);
/* @argv's stdout parsed as JSON; @what names it in errors. */
JsonNode *vmnet_run_json (const char *const *argv, GError **error, const char *what);
const char *vmnet_obj_string (JsonObject *o, const char *member);
gint64 vmnet_obj_int (JsonObject *o, const char *member, gint64 fallback);
JsonObject *vmnet_obj_object (JsonObject *o, const char *member);
JsonArray *vmnet_obj_array (JsonObject *o, const char *member);
JsonObject *vmnet_array_object (JsonArray *a, guint i);
/* `ip -j link show`, and lookups in it. */
JsonNode *vmnet_list_links (GError **error);
JsonObject *vmnet_find_link (JsonNode *links, const char *name);
const char *vmnet_link_kind (JsonObject *link);
gboolean vmnet_link_is_up (JsonObject *link);
/* FALSE with BGR_ERROR_PERMISSION_DENIED naming @what without CAP_NET_ADMIN. */
gboolean vmnet_check_permission (BgrVmnet *net, const char *what, GError **error);

/* ---- bgr-vmnet-nft.c ---- */

/* The families of banger's tables, all named NFT_TABLE. */
extern const char *const vmnet_nft_families[3];
gboolean vmnet_ensure_nft (BgrVmnet *net, GError **error);

/* ---- bgr-vmnet-taps.c ---- */

/* The pool taps in @links, sorted by index (GArray of PoolTap). */
GArray *vmnet_pool_taps (BgrVmnet *net, JsonNode *links, GError **error);
gboolean vmnet_ensure_taps (BgrVmnet *net, GError **error);

/* ---- bgr-vmnet-dnsmasq.c ---- */

/* banger's dnsmasq for this network, or 0; *@matches: it runs with @want
 * (its argv) when @want is not NULL. */
GPid vmnet_dnsmasq_find (BgrVmnet *net, GPtrArray *want, gboolean *matches);
gboolean vmnet_dnsmasq_stop (GPid pid, GError **error);
gboolean vmnet_ensure_dnsmasq (BgrVmnet *net, gboolean restart, GError **error);

G_END_DECLS
