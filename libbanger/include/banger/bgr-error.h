/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <banger/bgr-macros.h>

G_BEGIN_DECLS

/**
 * BGR_ERROR:
 *
 * The error domain of every error libbanger reports. Errors of other
 * libraries (GIO, libsoup, libarchive, libext2fs, libgit2) are converted to
 * this domain at the edge, keeping their message.
 *
 * Since: 0.1
 */
#define BGR_ERROR (bgr_error_quark ())

/**
 * BgrError:
 * @BGR_ERROR_FAILED: generic failure that fits no other code
 * @BGR_ERROR_INVALID_ARGUMENT: a caller passed a bad argument
 * @BGR_ERROR_NOT_FOUND: the named object or file does not exist
 * @BGR_ERROR_EXISTS: an object with that name already exists
 * @BGR_ERROR_INVALID_CONFIG: the configuration file is malformed or holds a bad value
 * @BGR_ERROR_LOCKED: the state directory is owned by another engine
 * @BGR_ERROR_CORRUPT: a stored document cannot be read
 * @BGR_ERROR_NOT_SUPPORTED: the operation or input is not supported
 * @BGR_ERROR_PERMISSION_DENIED: the caller lacks a permission
 * @BGR_ERROR_IO: reading or writing a file failed
 * @BGR_ERROR_NETWORK: a network operation failed
 * @BGR_ERROR_CANCELLED: the operation was cancelled
 * @BGR_ERROR_DAEMON_UNAVAILABLE: bangerd cannot be reached
 * @BGR_ERROR_TIMED_OUT: the operation took too long
 * @BGR_ERROR_INVALID_DATA: data from outside (registry, archive, agent) is malformed
 * @BGR_ERROR_NOTHING_TO_DO: the request is already satisfied
 * @BGR_ERROR_BUSY: the object is in use (by a VM, an operation...)
 * @BGR_ERROR_NO_SPACE: not enough disk space
 * @BGR_ERROR_PROTOCOL: a peer violated a protocol
 *
 * Error codes of the %BGR_ERROR domain. Values are explicit and append-only:
 * a released code never changes its number. Each code has its own D-Bus
 * error name, `org.banger.Banger1.Error.<Name>` (see docs/errors.md).
 *
 * Since: 0.1
 */
typedef enum {
  BGR_ERROR_FAILED = 0,
  BGR_ERROR_INVALID_ARGUMENT = 1,
  BGR_ERROR_NOT_FOUND = 2,
  BGR_ERROR_EXISTS = 3,
  BGR_ERROR_INVALID_CONFIG = 4,
  BGR_ERROR_LOCKED = 5,
  BGR_ERROR_CORRUPT = 6,
  BGR_ERROR_NOT_SUPPORTED = 7,
  BGR_ERROR_PERMISSION_DENIED = 8,
  BGR_ERROR_IO = 9,
  BGR_ERROR_NETWORK = 10,
  BGR_ERROR_CANCELLED = 11,
  BGR_ERROR_DAEMON_UNAVAILABLE = 12,
  BGR_ERROR_TIMED_OUT = 13,
  BGR_ERROR_INVALID_DATA = 14,
  BGR_ERROR_NOTHING_TO_DO = 15,
  BGR_ERROR_BUSY = 16,
  BGR_ERROR_NO_SPACE = 17,
  BGR_ERROR_PROTOCOL = 18
} BgrError;

BGR_EXTERN GQuark bgr_error_quark (void);

BGR_EXTERN const char *bgr_error_code_to_name (int code);

BGR_EXTERN int bgr_error_code_to_exit_status (int code);

G_END_DECLS
