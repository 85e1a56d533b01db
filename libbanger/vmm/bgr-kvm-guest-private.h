/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The KVM probe's parts (bgr-kvm-guest.c): the /dev/kvm checks and the
 * test guest, run in a child process that is killed at its deadline. */
#pragma once

#include "vmm/bgr-kvm-probe-private.h"

G_BEGIN_DECLS

/* -1 when /dev/kvm opens and speaks our API version (*kvm_fd is then an
 * open descriptor), else the verdict that settles it (ABSENT, NO_ACCESS)
 * with *why. */
int bgr_kvm_guest_check_device (int *kvm_fd, char **why);
/* The loaded kvm_* modules, space-separated ("" when none are listed). */
char *bgr_kvm_guest_modules (void);
/* Runs the test guest on @kvm (spinning forever with @spin) for at most
 * @timeout_ms; *cacheable says whether the verdict is about the host (and
 * not a setup failure of ours). */
BgrKvmVerdict bgr_kvm_guest_run (int kvm, gboolean spin, guint timeout_ms, char **why,
                                 gboolean *cacheable);

G_END_DECLS
