/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256 through libcrypto, which uses the CPU's SHA extensions where
 * there are some: blob digests and layer diff_ids go through here. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BgrSha256 BgrSha256;

BgrSha256 *bgr_sha256_new (void);
void bgr_sha256_update (BgrSha256 *h, const void *data, gsize len);
/* Starts over, as if new. */
void bgr_sha256_reset (BgrSha256 *h);
/* The digest of what was fed so far, 64 lowercase hex digits, owned by
 * @h; after this only reset() and free() may be called. */
const char *bgr_sha256_get_hex (BgrSha256 *h);
void bgr_sha256_free (BgrSha256 *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrSha256, bgr_sha256_free)

/* The hex digest of @len bytes at @data. */
char *bgr_sha256_hex (const void *data, gsize len);

G_END_DECLS
