/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <banger/banger.h>

G_BEGIN_DECLS

BgrDoctorReport *bgr_doctor_report_new (void);
void bgr_doctor_report_add (BgrDoctorReport *self, const char *name, BgrDoctorStatus status,
                            const char *message, const char *fix);
void bgr_doctor_report_set_hypervisor (BgrDoctorReport *self, const char *hypervisor);
void bgr_doctor_report_set_accel (BgrDoctorReport *self, const char *accel);
/* Wire form of the D-Bus Doctor reply: (s s a(suss)): hypervisor, accel, checks. */
GVariant *bgr_doctor_report_to_variant (BgrDoctorReport *self);
BgrDoctorReport *bgr_doctor_report_new_from_variant (GVariant *value, GError **error);

G_END_DECLS
