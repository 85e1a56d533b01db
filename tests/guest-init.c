/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /sbin/init of the tiny rootfs the boot test makes: says it ran, as PID 1,
 * with the root filesystem the kernel command line named, and powers off. */
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

int
main (void)
{
  char marker[64] = "";
  FILE *f = fopen ("/etc/banger-test-marker", "r");

  if (f != NULL)
    {
      if (fgets (marker, sizeof marker, f) == NULL)
        marker[0] = '\0';
      fclose (f);
    }
  printf ("banger-test-rootfs: init ran as pid %d, marker %s\n", (int) getpid (), marker);
  fflush (stdout);
  sync ();
  reboot (RB_POWER_OFF);
  return 1;
}
