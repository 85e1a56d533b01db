/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BgrDoctorReport: the checks `banger doctor` made, and their JSON and
 * D-Bus forms. The checks themselves are in bgr-doctor.c. */
#include "config.h"

#include <json-glib/json-glib.h>

#include <banger/banger.h>

#include "bgr-doctor-private.h"
#include "bgr-error-private.h"

typedef struct {
  char *name;
  BgrDoctorStatus status;
  char *message;
  char *fix;
} Check;

struct _BgrDoctorReport {
  GObject parent_instance;
  GArray *checks; /* of Check */
  char *hypervisor;
  char *accel;
};

G_DEFINE_FINAL_TYPE (BgrDoctorReport, bgr_doctor_report, G_TYPE_OBJECT)

static void
check_clear (gpointer p)
{
  Check *c = p;
  g_free (c->name);
  g_free (c->message);
  g_free (c->fix);
}

static void
bgr_doctor_report_finalize (GObject *object)
{
  BgrDoctorReport *self = BGR_DOCTOR_REPORT (object);
  g_array_unref (self->checks);
  g_free (self->hypervisor);
  g_free (self->accel);
  G_OBJECT_CLASS (bgr_doctor_report_parent_class)->finalize (object);
}

static void
bgr_doctor_report_class_init (BgrDoctorReportClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = bgr_doctor_report_finalize;
}

static void
bgr_doctor_report_init (BgrDoctorReport *self)
{
  self->checks = g_array_new (FALSE, TRUE, sizeof (Check));
  g_array_set_clear_func (self->checks, check_clear);
  self->hypervisor = g_strdup ("");
  self->accel = g_strdup ("");
}

BgrDoctorReport *
bgr_doctor_report_new (void)
{
  return g_object_new (BGR_TYPE_DOCTOR_REPORT, NULL);
}

void
bgr_doctor_report_set_hypervisor (BgrDoctorReport *self, const char *hypervisor)
{
  g_free (self->hypervisor);
  self->hypervisor = g_strdup (hypervisor != NULL ? hypervisor : "");
}

void
bgr_doctor_report_set_accel (BgrDoctorReport *self, const char *accel)
{
  g_free (self->accel);
  self->accel = g_strdup (accel != NULL ? accel : "");
}

void
bgr_doctor_report_add (BgrDoctorReport *self, const char *name, BgrDoctorStatus status,
                       const char *message, const char *fix)
{
  Check c = { g_strdup (name), status, g_strdup (message),
              (fix != NULL && *fix != '\0') ? g_strdup (fix) : NULL };
  g_array_append_val (self->checks, c);
}

/**
 * bgr_doctor_report_get_n_checks:
 * @self: a #BgrDoctorReport
 *
 * Returns: the number of checks in the report
 * Since: 0.1
 */
guint
bgr_doctor_report_get_n_checks (BgrDoctorReport *self)
{
  g_return_val_if_fail (BGR_IS_DOCTOR_REPORT (self), 0);
  return self->checks->len;
}

#define CHECK_AT(self, i) (&g_array_index ((self)->checks, Check, (i)))

/**
 * bgr_doctor_report_get_check_name:
 * @self: a #BgrDoctorReport
 * @index: a check index
 *
 * Returns: (transfer none): the check's name, e.g. "kvm"
 * Since: 0.1
 */
const char *
bgr_doctor_report_get_check_name (BgrDoctorReport *self, guint index)
{
  g_return_val_if_fail (BGR_IS_DOCTOR_REPORT (self) && index < self->checks->len, NULL);
  return CHECK_AT (self, index)->name;
}

/**
 * bgr_doctor_report_get_check_status:
 * @self: a #BgrDoctorReport
 * @index: a check index
 *
 * Returns: the check's status
 * Since: 0.1
 */
BgrDoctorStatus
bgr_doctor_report_get_check_status (BgrDoctorReport *self, guint index)
{
  g_return_val_if_fail (BGR_IS_DOCTOR_REPORT (self) && index < self->checks->len,
                        BGR_DOCTOR_FAIL);
  return CHECK_AT (self, index)->status;
}

/**
 * bgr_doctor_report_get_check_message:
 * @self: a #BgrDoctorReport
 * @index: a check index
 *
 * Returns: (transfer none): what the check found
 * Since: 0.1
 */
const char *
bgr_doctor_report_get_check_message (BgrDoctorReport *self, guint index)
{
  g_return_val_if_fail (BGR_IS_DOCTOR_REPORT (self) && index < self->checks->len, NULL);
  return CHECK_AT (self, index)->message;
}

/**
 * bgr_doctor_report_get_check_fix:
 * @self: a #BgrDoctorReport
 * @index: a check index
 *
 * Returns: (transfer none) (nullable): how to fix a check that did not pass
 * Since: 0.1
 */
const char *
bgr_doctor_report_get_check_fix (BgrDoctorReport *self, guint index)
{
  g_return_val_if_fail (BGR_IS_DOCTOR_REPORT (self) && index < self->checks->len, NULL);
  return CHECK_AT (self, index)->fix;
}

/**
 * bgr_doctor_report_get_hypervisor:
 * @self: a #BgrDoctorReport
 *
 * Returns: (transfer none): the hypervisor VMs would use ("firecracker" or
 *   "qemu"), or "" when none is usable
 * Since: 0.1
 */
const char *
bgr_doctor_report_get_hypervisor (BgrDoctorReport *self)
{
  g_return_val_if_fail (BGR_IS_DOCTOR_REPORT (self), NULL);
  return self->hypervisor;
}

/**
 * bgr_doctor_report_get_accel:
 * @self: a #BgrDoctorReport
 *
 * Returns: (transfer none): the accelerator VMs would use: "kvm" (always
 *   with firecracker), "tcg" (qemu's emulator, slow), or "" when no
 *   hypervisor is usable
 * Since: 0.1
 */
const char *
bgr_doctor_report_get_accel (BgrDoctorReport *self)
{
  g_return_val_if_fail (BGR_IS_DOCTOR_REPORT (self), NULL);
  return self->accel;
}

/**
 * bgr_doctor_report_has_failures:
 * @self: a #BgrDoctorReport
 *
 * Returns: whether any check has status %BGR_DOCTOR_FAIL
 * Since: 0.1
 */
gboolean
bgr_doctor_report_has_failures (BgrDoctorReport *self)
{
  g_return_val_if_fail (BGR_IS_DOCTOR_REPORT (self), TRUE);
  for (guint i = 0; i < self->checks->len; i++)
    if (CHECK_AT (self, i)->status == BGR_DOCTOR_FAIL)
      return TRUE;
  return FALSE;
}

/**
 * bgr_doctor_status_to_string:
 * @status: a #BgrDoctorStatus
 *
 * Returns: (transfer none): "PASS", "WARN" or "FAIL"
 * Since: 0.1
 */
const char *
bgr_doctor_status_to_string (BgrDoctorStatus status)
{
  switch (status)
    {
    case BGR_DOCTOR_PASS: return "PASS";
    case BGR_DOCTOR_WARN: return "WARN";
    default: return "FAIL";
    }
}

/**
 * bgr_doctor_report_to_json:
 * @self: a #BgrDoctorReport
 *
 * Returns: (transfer full): the report as JSON: `{"ok", "hypervisor", "accel",
 *   "checks": [{"name", "status", "message", "fix"}...]}`
 * Since: 0.1
 */
char *
bgr_doctor_report_to_json (BgrDoctorReport *self)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (BGR_IS_DOCTOR_REPORT (self), NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, !bgr_doctor_report_has_failures (self));
  json_builder_set_member_name (b, "hypervisor");
  json_builder_add_string_value (b, self->hypervisor);
  json_builder_set_member_name (b, "accel");
  json_builder_add_string_value (b, self->accel);
  json_builder_set_member_name (b, "checks");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->checks->len; i++)
    {
      Check *c = CHECK_AT (self, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, c->name);
      json_builder_set_member_name (b, "status");
      json_builder_add_string_value (b, bgr_doctor_status_to_string (c->status));
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, c->message);
      json_builder_set_member_name (b, "fix");
      if (c->fix != NULL)
        json_builder_add_string_value (b, c->fix);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, TRUE);
}

GVariant *
bgr_doctor_report_to_variant (BgrDoctorReport *self)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(suss)"));
  for (guint i = 0; i < self->checks->len; i++)
    {
      Check *c = CHECK_AT (self, i);
      g_variant_builder_add (&b, "(suss)", c->name, (guint32) c->status, c->message,
                             c->fix != NULL ? c->fix : "");
    }
  return g_variant_new ("(ss@a(suss))", self->hypervisor, self->accel, g_variant_builder_end (&b));
}

BgrDoctorReport *
bgr_doctor_report_new_from_variant (GVariant *value, GError **error)
{
  g_autoptr (BgrDoctorReport) self = bgr_doctor_report_new ();
  g_autoptr (GVariantIter) iter = NULL;
  const char *hv, *accel, *name, *message, *fix;
  guint32 status;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("(ssa(suss))")))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL, "doctor reply has type %s, expected %s",
                   g_variant_get_type_string (value), "(ssa(suss))");
      return NULL;
    }
  g_variant_get (value, "(&s&sa(suss))", &hv, &accel, &iter);
  bgr_doctor_report_set_hypervisor (self, hv);
  bgr_doctor_report_set_accel (self, accel);
  while (g_variant_iter_next (iter, "(&su&s&s)", &name, &status, &message, &fix))
    {
      if (status > BGR_DOCTOR_FAIL)
        {
          g_set_error (error, BGR_ERROR, BGR_ERROR_PROTOCOL,
                       "doctor reply has unknown status %u for check %s", status, name);
          return NULL;
        }
      bgr_doctor_report_add (self, name, (BgrDoctorStatus) status, message, fix);
    }
  return g_steal_pointer (&self);
}
