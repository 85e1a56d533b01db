/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Does KVM run guests on this host? Shared by `banger doctor` and
 * qemu_accel = "auto" / hypervisor = "auto".
 *
 * Being able to open /dev/kvm and create a VM and a vCPU is not enough:
 * some hosts (nested setups whose KVM emulates guest code instead of
 * running it on hardware virtualization) accept all of that, yet a Linux
 * guest crawls so slowly that it never gets past its first lines. So the
 * probe boots a tiny guest (64-bit long mode, paging, kernel-style high
 * addresses) that runs ~150 M instructions and reports over port I/O, and
 * requires it to finish within BGR_KVM_PROBE_TIMEOUT_MS. Hardware
 * virtualization does that in tens of milliseconds.
 *
 * The guest runs in a forked child that is SIGKILLed at the deadline, so a
 * wedged vCPU never blocks the caller. The verdict is cached per host boot
 * (keyed by /proc/sys/kernel/random/boot_id) in CACHE_DIR/kvm-probe.json,
 * so only the first probe of a boot pays for it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BGR_KVM_ABSENT,    /* no /dev/kvm */
  BGR_KVM_NO_ACCESS, /* /dev/kvm cannot be opened, or speaks another API version */
  BGR_KVM_NO_GUESTS, /* it opens, but a test guest could not be run to its end in time */
  BGR_KVM_USABLE,    /* a test guest ran to its end at hardware speed */
} BgrKvmVerdict;

#define BGR_KVM_PROBE_TIMEOUT_MS 3000

/* The verdict for this host; *why (nullable) says what was found.
 * @cache_dir (nullable: no cache) holds this boot's verdict;
 * *from_cache (nullable) says whether it was reused rather than probed.
 * Thread-safe: concurrent callers wait for one probe. */
BgrKvmVerdict bgr_kvm_probe (const char *cache_dir, char **why, gboolean *from_cache);

/* Records that guests do not run under KVM on this host (a real guest was
 * seen hanging): later probes in this process, and in others through the
 * cache in @cache_dir (nullable), say BGR_KVM_NO_GUESTS until the host
 * reboots. */
void bgr_kvm_probe_record_no_guests (const char *cache_dir, const char *why);

/* Where the verdict is cached for @cache_dir (nullable: NULL). */
char *bgr_kvm_probe_dup_cache_path (const char *cache_dir);

/* A short name for a verdict ("absent", "no-access", "no-guests", "usable"). */
const char *bgr_kvm_verdict_to_string (BgrKvmVerdict verdict);

/* For tests. */
/* Points the boot id and the cache file at other files (NULL: the real
 * boot id, CACHE_DIR/kvm-probe.json), and forgets what this process knew. */
void bgr_kvm_probe_set_test_paths (const char *boot_id_path, const char *cache_path);
/* How many test guests this process has run. */
guint bgr_kvm_probe_get_n_runs (void);
/* Runs the test guest once, uncached (after the /dev/kvm checks): with
 * @spin the guest loops forever, to check that it is stopped in time. */
BgrKvmVerdict bgr_kvm_probe_run_guest (gboolean spin, guint timeout_ms, char **why);

G_END_DECLS
