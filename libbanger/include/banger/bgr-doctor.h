/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <gio/gio.h>
#include <banger/bgr-macros.h>
#include <banger/bgr-config.h>

G_BEGIN_DECLS

/**
 * BgrDoctorStatus:
 * @BGR_DOCTOR_PASS: the check passed
 * @BGR_DOCTOR_WARN: banger works, with a limitation
 * @BGR_DOCTOR_FAIL: banger cannot work until this is fixed
 *
 * Since: 0.1
 */
typedef enum {
  BGR_DOCTOR_PASS = 0,
  BGR_DOCTOR_WARN = 1,
  BGR_DOCTOR_FAIL = 2
} BgrDoctorStatus;

/**
 * BgrDoctorReport:
 *
 * The result of checking the host: one entry per check, each with a status,
 * a message saying what was found and, unless it passed, a hint to fix it.
 *
 * Since: 0.1
 */
#define BGR_TYPE_DOCTOR_REPORT (bgr_doctor_report_get_type ())
BGR_EXTERN G_DECLARE_FINAL_TYPE (BgrDoctorReport, bgr_doctor_report, BGR, DOCTOR_REPORT, GObject)

BGR_EXTERN BgrDoctorReport *bgr_doctor_run (const char *config_path, GCancellable *cancellable,
                                            GError **error);
BGR_EXTERN BgrDoctorReport *bgr_doctor_run_for_config (BgrConfig *config,
                                                       GCancellable *cancellable,
                                                       GError **error);
BGR_EXTERN guint bgr_doctor_report_get_n_checks (BgrDoctorReport *self);
BGR_EXTERN const char *bgr_doctor_report_get_check_name (BgrDoctorReport *self, guint index);
BGR_EXTERN BgrDoctorStatus bgr_doctor_report_get_check_status (BgrDoctorReport *self, guint index);
BGR_EXTERN const char *bgr_doctor_report_get_check_message (BgrDoctorReport *self, guint index);
BGR_EXTERN const char *bgr_doctor_report_get_check_fix (BgrDoctorReport *self, guint index);
BGR_EXTERN const char *bgr_doctor_report_get_hypervisor (BgrDoctorReport *self);
BGR_EXTERN const char *bgr_doctor_report_get_accel (BgrDoctorReport *self);
BGR_EXTERN gboolean bgr_doctor_report_has_failures (BgrDoctorReport *self);
BGR_EXTERN char *bgr_doctor_report_to_json (BgrDoctorReport *self);
BGR_EXTERN const char *bgr_doctor_status_to_string (BgrDoctorStatus status);

G_END_DECLS
