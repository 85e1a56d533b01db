/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* examples/doctor.c: check the host with libbanger's public API only.
 *
 *   cc doctor.c $(pkg-config --cflags --libs banger) -o doctor
 *   ./doctor [CONFIG]
 */
#include <stdio.h>

#include <banger/banger.h>

#if !BGR_CHECK_VERSION(0, 1, 0)
#error "this example needs libbanger 0.1.0 or newer"
#endif

int
main (int argc, char **argv)
{
  GError *error = NULL;
  BgrDoctorReport *report;
  int status;

  printf ("libbanger %s\n", bgr_get_version_string ());
  report = bgr_doctor_run (argc > 1 ? argv[1] : NULL, NULL, &error);
  if (report == NULL)
    {
      fprintf (stderr, "doctor: %s (%s)\n", error->message, bgr_error_code_to_name (error->code));
      status = bgr_error_code_to_exit_status (error->code);
      g_error_free (error);
      return status;
    }
  for (guint i = 0; i < bgr_doctor_report_get_n_checks (report); i++)
    printf ("%s %s: %s\n", bgr_doctor_status_to_string (bgr_doctor_report_get_check_status (report, i)),
            bgr_doctor_report_get_check_name (report, i),
            bgr_doctor_report_get_check_message (report, i));
  printf ("hypervisor: %s\n", bgr_doctor_report_get_hypervisor (report));
  status = bgr_doctor_report_has_failures (report) ? 1 : 0;
  g_object_unref (report);
  return status;
}
