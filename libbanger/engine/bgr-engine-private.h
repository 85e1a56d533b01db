/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine: owns the state directory and does the work. Used in-process
 * by the local backend (and so by bangerd). */
#pragma once

#include <banger/banger.h>
#include "store/bgr-store-private.h"

G_BEGIN_DECLS

typedef struct _BgrEngine BgrEngine;

BgrEngine *bgr_engine_new (BgrConfig *config, GError **error);
void bgr_engine_free (BgrEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrEngine, bgr_engine_free)

BgrConfig *bgr_engine_get_config (BgrEngine *engine);
BgrStore *bgr_engine_get_store (BgrEngine *engine);
BgrDaemonInfo *bgr_engine_get_info (BgrEngine *engine);

G_END_DECLS
