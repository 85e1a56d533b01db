/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger.h: the one header C programs include to use libbanger. */
#pragma once

#define __BANGER_H_INSIDE__

#include <banger/bgr-macros.h>
#include <banger/bgr-version.h>
#include <banger/bgr-error.h>
#include <banger/bgr-config.h>
#include <banger/bgr-doctor.h>
#include <banger/bgr-daemon-info.h>
#include <banger/bgr-kernel.h>
#include <banger/bgr-image.h>
#include <banger/bgr-catalog-kernel.h>
#include <banger/bgr-cache-blob.h>
#include <banger/bgr-vm.h>
#include <banger/bgr-options.h>
#include <banger/bgr-operation.h>
#include <banger/bgr-client.h>
#include <banger/bgr-workspace.h>
#include <banger/bgr-session.h>

#undef __BANGER_H_INSIDE__
