/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Details of the Firecracker driver that the engine and the tests need.
 * See docs/firecracker.md. */
#pragma once

#include "vmm/bgr-vmm-private.h"

G_BEGIN_DECLS

/* What the driver puts in BgrVmmConfig.run_dir. The sockets must fit in a
 * sockaddr_un (108 bytes with the NUL), so run_dir may be at most
 * BGR_FC_RUN_DIR_MAX (90) bytes long; start() refuses a longer one. */
#define BGR_FC_API_SOCKET_NAME "firecracker.sock"   /* --api-sock */
#define BGR_FC_VSOCK_SOCKET_NAME "vsock.sock"       /* hybrid vsock, host side */
#define BGR_FC_LOG_NAME "firecracker-log"           /* Firecracker's own log (PUT /logger) */
#define BGR_FC_METRICS_NAME "firecracker-metrics"   /* JSON lines (PUT /metrics) */
/* The driver's running sums of the metrics, next to the metrics file. */
#define BGR_FC_METRICS_TOTALS_SUFFIX ".totals"
#define BGR_FC_METRICS_TOTALS_NAME BGR_FC_METRICS_NAME BGR_FC_METRICS_TOTALS_SUFFIX
#define BGR_FC_RUN_DIR_MAX (108 - sizeof ("/" BGR_FC_API_SOCKET_NAME))

/* The guest's vsock context id (2 is the host; the guest may use any
 * other, and Firecracker's hybrid vsock ignores it on the host side). */
#define BGR_FC_GUEST_CID 3

/* Checks that @path is a kernel Firecracker can load: an uncompressed ELF
 * vmlinux on x86_64 (a bzImage is refused with BGR_ERROR_NOT_SUPPORTED), an
 * arm64 Image on aarch64. */
gboolean bgr_vmm_firecracker_check_kernel (const char *path, GError **error);

/* Adds the complete lines of the metrics file @metrics_path that earlier
 * calls have not read to the running sums kept next to it
 * (BGR_FC_METRICS_TOTALS_NAME), and sets the disk and net fields of @out
 * from the sums; a class no line ever had is left alone. Each metrics line
 * counts what happened since the previous one. */
void bgr_vmm_firecracker_read_metrics (const char *metrics_path, BgrVmmMetrics *out);

G_END_DECLS
