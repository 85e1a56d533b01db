/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* As PID 1, before the image's init: mounts the work disk named by
 * $banger_work on /root, seeding a fresh one with the image's /root
 * (banger-agent-work.c). Does nothing when the VM has no work disk. */
void agent_mount_work_disk(void);
