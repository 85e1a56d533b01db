/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "banger-cli.h"

static void
print_report (BgrDoctorReport *report)
{
  gboolean color = isatty (STDOUT_FILENO) && g_getenv ("NO_COLOR") == NULL;
  const char *hv = bgr_doctor_report_get_hypervisor (report);
  const char *accel = bgr_doctor_report_get_accel (report);

  for (guint i = 0; i < bgr_doctor_report_get_n_checks (report); i++)
    {
      BgrDoctorStatus st = bgr_doctor_report_get_check_status (report, i);
      const char *fix = bgr_doctor_report_get_check_fix (report, i);
      const char *on = !color ? "" : st == BGR_DOCTOR_PASS ? "\033[32m"
                                   : st == BGR_DOCTOR_WARN ? "\033[33m" : "\033[31m";
      const char *off = color ? "\033[0m" : "";
      /* Its free-space check formats sizes. */
      g_autofree char *message = banger_ascii_spaces (bgr_doctor_report_get_check_message (report, i));

      g_print ("%s%s%s  %-12s %s\n", on, bgr_doctor_status_to_string (st), off,
               bgr_doctor_report_get_check_name (report, i), message);
      if (fix != NULL && st != BGR_DOCTOR_PASS)
        g_print ("      %-12s fix: %s\n", "", fix);
    }
  if (*hv == '\0')
    g_print ("\nVMs would run on: nothing (no usable hypervisor)\n");
  else
    g_print ("\nVMs would run on: %s with %s\n", hv,
             g_str_equal (accel, "kvm")   ? "KVM"
             : g_str_equal (accel, "tcg") ? "TCG (emulation, slow)"
                                          : "an unknown accelerator");
}

/* The daemon could not answer: check in-process instead. */
static gboolean
daemon_unreachable (const GError *error)
{
  return g_error_matches (error, BGR_ERROR, BGR_ERROR_DAEMON_UNAVAILABLE)
         || g_error_matches (error, BGR_ERROR, BGR_ERROR_PERMISSION_DENIED);
}

gboolean
banger_cmd_doctor (BangerInvocation *inv, int *exit_status, GError **error)
{
  g_autoptr (BgrDoctorReport) report = NULL;

  if (!inv->local && !inv->config_from_option)
    {
      g_autoptr (GError) dbus_error = NULL;
      /* Never start a daemon just to ask it about the host. */
      g_autoptr (BgrClient) client = banger_invocation_get_running_client (inv, &dbus_error);

      if (client != NULL)
        report = bgr_client_doctor (client, NULL, &dbus_error);
      if (report == NULL)
        {
          if (!daemon_unreachable (dbus_error))
            {
              g_propagate_error (error, g_steal_pointer (&dbus_error));
              return FALSE;
            }
          if (!inv->json)
            g_printerr ("banger: bangerd is not running (%s); checking this host in-process\n",
                        dbus_error->message);
        }
    }
  /* Host checks need no engine (and no state lock): run them here. */
  if (report == NULL && inv->system)
    {
      g_autoptr (BgrConfig) config = bgr_config_load_full (inv->config_path,
                                                           BGR_CONFIG_FLAGS_SYSTEM, error);
      if (config == NULL)
        return FALSE;
      report = bgr_doctor_run_for_config (config, NULL, error);
    }
  else if (report == NULL)
    report = bgr_doctor_run (inv->config_path, NULL, error);
  if (report == NULL)
    return FALSE;
  if (inv->json)
    {
      g_autofree char *json = bgr_doctor_report_to_json (report);
      banger_print_json (json);
    }
  else
    print_report (report);
  *exit_status = bgr_doctor_report_has_failures (report) ? BANGER_EXIT_FAILED : BANGER_EXIT_OK;
  return TRUE;
}
