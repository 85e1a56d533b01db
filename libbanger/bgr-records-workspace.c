/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrWorkspace: a read-only view of the "workspace" member of a VM record
 * (docs/workspaces.md), with the VM's name. */
#include "config.h"

#include "bgr-records-private.h"

struct _BgrWorkspace {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrWorkspace, bgr_workspace, G_TYPE_OBJECT)

static void
bgr_workspace_finalize (GObject *object)
{
  g_clear_pointer (&BGR_WORKSPACE (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_workspace_parent_class)->finalize (object);
}

static void
bgr_workspace_class_init (BgrWorkspaceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_workspace_finalize;
}

static void
bgr_workspace_init (BgrWorkspace *self)
{
}

BgrWorkspace *
bgr_workspace_new_from_json (JsonObject *doc)
{
  BgrWorkspace *self = g_object_new (BGR_TYPE_WORKSPACE, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

#define WS_STR(fn, member)                                      \
  const char *fn (BgrWorkspace *self)                           \
  {                                                             \
    g_return_val_if_fail (BGR_IS_WORKSPACE (self), NULL);       \
    return bgr_record_str (self->doc, member);                  \
  }
#define WS_INT(fn, member)                                      \
  gint64 fn (BgrWorkspace *self)                                \
  {                                                             \
    g_return_val_if_fail (BGR_IS_WORKSPACE (self), 0);          \
    return bgr_record_int (self->doc, member);                  \
  }

/**
 * bgr_workspace_get_vm_name:
 * @self: a #BgrWorkspace
 *
 * The string getters bgr_workspace_get_vm_name(), _get_repo() (the host
 * repository's working directory), _get_commit() (the commit the guest's
 * HEAD was, hex), _get_branch() (the guest's branch; %NULL when
 * detached), _get_mode() ("metadata" or "full_copy"), _get_guest_path()
 * and _get_bootstrap() (what the last bootstrap did, one line; %NULL when
 * none ran) return strings owned by @self.
 *
 * Returns: (transfer none): the VM's name
 * Since: 0.2
 */
WS_STR (bgr_workspace_get_vm_name, "vm")
WS_STR (bgr_workspace_get_repo, "repo")
WS_STR (bgr_workspace_get_commit, "commit")
WS_STR (bgr_workspace_get_branch, "branch")
WS_STR (bgr_workspace_get_mode, "mode")
WS_STR (bgr_workspace_get_guest_path, "guest_path")
WS_STR (bgr_workspace_get_bootstrap, "bootstrap")
/**
 * bgr_workspace_get_prepared:
 * @self: a #BgrWorkspace
 *
 * bgr_workspace_get_prepared() is when it was prepared (Unix seconds);
 * _get_files() and _get_bytes() what was sent (entries, content bytes).
 *
 * Returns: the value
 * Since: 0.2
 */
WS_INT (bgr_workspace_get_prepared, "prepared")
WS_INT (bgr_workspace_get_files, "files")
WS_INT (bgr_workspace_get_bytes, "bytes")

/**
 * bgr_workspace_get_readonly:
 * @self: a #BgrWorkspace
 *
 * Returns: whether the guest copy was made read-only
 * Since: 0.2
 */
gboolean
bgr_workspace_get_readonly (BgrWorkspace *self)
{
  JsonNode *n;
  g_return_val_if_fail (BGR_IS_WORKSPACE (self), FALSE);
  n = json_object_get_member (self->doc, "readonly");
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_boolean (n);
}

/**
 * bgr_workspace_get_changed:
 * @self: a #BgrWorkspace
 *
 * Whether the guest copy changed since it was prepared (its HEAD or `git
 * status`), as last checked (bgr_client_vm_workspace_get() checks a
 * running VM).
 *
 * Returns: 1 changed, 0 unchanged, -1 unknown (the VM is not running, or
 *   the guest has no git)
 * Since: 0.2
 */
gint
bgr_workspace_get_changed (BgrWorkspace *self)
{
  JsonNode *n;
  g_return_val_if_fail (BGR_IS_WORKSPACE (self), -1);
  n = json_object_get_member (self->doc, "changed");
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return -1;
  return json_node_get_boolean (n) ? 1 : 0;
}

/**
 * bgr_workspace_to_json:
 * @self: a #BgrWorkspace
 *
 * Returns: (transfer full): the workspace as JSON
 * Since: 0.2
 */
char *
bgr_workspace_to_json (BgrWorkspace *self)
{
  g_return_val_if_fail (BGR_IS_WORKSPACE (self), NULL);
  return bgr_record_public_json (self->doc);
}

/**
 * bgr_workspace_to_variant:
 * @self: a #BgrWorkspace
 *
 * Returns: (transfer floating): the workspace as an a{sv} dictionary
 * Since: 0.2
 */
GVariant *
bgr_workspace_to_variant (BgrWorkspace *self)
{
  g_return_val_if_fail (BGR_IS_WORKSPACE (self), NULL);
  return bgr_record_to_variant (self->doc);
}
