/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* image pull's layer fetches, up to three at once, in layer order, each
 * handed to the replay through a feed while it downloads
 * (bgr-engine-oci-fetch.c). */
#pragma once

#include <gio/gio.h>

#include "bgr-feed-private.h"
#include "bgr-operation-private.h"
#include "oci/bgr-oci-private.h"

G_BEGIN_DECLS

typedef struct _BgrPullFetch BgrPullFetch;

/* Starts fetching the layers of @img into the blob cache under @cache
 * (bgr_oci_registry_fetch_blob()), reporting the bytes of all layers on
 * @op ("pulling", "layer I of N"). @img and @registry must outlive it;
 * cancelling @cancellable cancels the fetches. The first failure cancels
 * the others. */
BgrPullFetch *bgr_pull_fetch_start (BgrOciRegistry *registry, const BgrOciImage *img,
                                    const char *cache, BgrOperation *op,
                                    GCancellable *cancellable);
/* Layer @i's bytes as they arrive; it ends once the blob is in the cache,
 * verified, or fails with the fetch's error. */
BgrFeed *bgr_pull_fetch_get_feed (BgrPullFetch *f, guint i);
/* Reports the progress so far from the calling thread: the fetch threads'
 * reports reach @op's own thread only when its main context runs, which a
 * sync call's does not. */
void bgr_pull_fetch_report (BgrPullFetch *f);
/* Stops the fetches not done yet (they fail as cancelled). */
void bgr_pull_fetch_cancel (BgrPullFetch *f);
/* Waits for every fetch and frees @f; FALSE with the first failure. */
gboolean bgr_pull_fetch_finish (BgrPullFetch *f, GError **error);

G_END_DECLS
