/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bgr-macros.h: export and attribute macros shared by all public headers. */
#pragma once

#if !defined(__BANGER_H_INSIDE__) && !defined(BANGER_COMPILATION)
#error "Only <banger/banger.h> can be included directly."
#endif

#include <glib.h>

/**
 * BGR_EXTERN:
 *
 * Marks a symbol as part of libbanger's public ABI. libbanger is built with
 * hidden visibility; only symbols carrying this mark (and listed in the
 * version map) are exported.
 */
#if defined(__GNUC__) || defined(__clang__)
#define BGR_EXTERN __attribute__((visibility("default"))) extern
#else
#define BGR_EXTERN extern
#endif
