/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrVmForward: a read-only public view of one entry of a VM's forwards. */
#include "config.h"

#include "bgr-records-private.h"

struct _BgrVmForward {
  GObject parent_instance;
  JsonObject *doc;
};

G_DEFINE_FINAL_TYPE (BgrVmForward, bgr_vm_forward, G_TYPE_OBJECT)

static void
bgr_vm_forward_finalize (GObject *object)
{
  g_clear_pointer (&BGR_VM_FORWARD (object)->doc, json_object_unref);
  G_OBJECT_CLASS (bgr_vm_forward_parent_class)->finalize (object);
}

static void
bgr_vm_forward_class_init (BgrVmForwardClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_vm_forward_finalize;
}

static void
bgr_vm_forward_init (BgrVmForward *self)
{
}

BgrVmForward *
bgr_vm_forward_new_from_json (JsonObject *doc)
{
  BgrVmForward *self = g_object_new (BGR_TYPE_VM_FORWARD, NULL);
  self->doc = json_object_ref (doc);
  return self;
}

/**
 * bgr_vm_forward_get_name:
 * @self: a #BgrVmForward
 *
 * The getters of #BgrVmForward: bgr_vm_forward_get_name() (the VM),
 * bgr_vm_forward_get_host_address() (the host address it listens on, e.g.
 * "127.0.0.1"), bgr_vm_forward_get_host_port(),
 * bgr_vm_forward_get_guest_port() (where connections go in the guest, on
 * its 127.0.0.1) and bgr_vm_forward_get_listening() (whether the engine
 * listens now: FALSE when it could not, e.g. the port was taken when
 * bangerd started).
 *
 * Returns: (transfer none): the VM's name
 * Since: 0.2
 */
const char *
bgr_vm_forward_get_name (BgrVmForward *self)
{
  g_return_val_if_fail (BGR_IS_VM_FORWARD (self), NULL);
  return bgr_record_str (self->doc, "name");
}

const char *
bgr_vm_forward_get_host_address (BgrVmForward *self)
{
  g_return_val_if_fail (BGR_IS_VM_FORWARD (self), NULL);
  return bgr_record_str (self->doc, "host_address");
}

gint64
bgr_vm_forward_get_host_port (BgrVmForward *self)
{
  g_return_val_if_fail (BGR_IS_VM_FORWARD (self), 0);
  return bgr_record_int (self->doc, "host_port");
}

gint64
bgr_vm_forward_get_guest_port (BgrVmForward *self)
{
  g_return_val_if_fail (BGR_IS_VM_FORWARD (self), 0);
  return bgr_record_int (self->doc, "guest_port");
}

gboolean
bgr_vm_forward_get_listening (BgrVmForward *self)
{
  g_return_val_if_fail (BGR_IS_VM_FORWARD (self), FALSE);
  return json_object_get_boolean_member_with_default (self->doc, "listening", FALSE);
}

/**
 * bgr_vm_forward_to_json:
 * @self: a #BgrVmForward
 *
 * Returns: (transfer full): the forward as JSON: name (the VM),
 *   host_address, host_port, guest_port, listening
 * Since: 0.2
 */
char *
bgr_vm_forward_to_json (BgrVmForward *self)
{
  g_return_val_if_fail (BGR_IS_VM_FORWARD (self), NULL);
  return bgr_record_public_json (self->doc);
}

/**
 * bgr_vm_forward_to_variant:
 * @self: a #BgrVmForward
 *
 * Returns: (transfer floating): the forward as an a{sv} dictionary
 * Since: 0.2
 */
GVariant *
bgr_vm_forward_to_variant (BgrVmForward *self)
{
  g_return_val_if_fail (BGR_IS_VM_FORWARD (self), NULL);
  return bgr_record_to_variant (self->doc);
}
