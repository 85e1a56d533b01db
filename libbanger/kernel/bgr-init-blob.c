/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The static banger-init program (agent/banger-init.c), embedded in
 * libbanger so that generating an initramfs needs no file lookup at run
 * time. BANGER_INIT_PATH is set by CMake to the built binary. */
#include "kernel/bgr-initramfs-private.h"

#ifndef BANGER_INIT_PATH
#error "BANGER_INIT_PATH must name the built banger-init binary"
#endif

__asm__ (".section .rodata\n"
         ".balign 16\n"
         ".globl bgr_init_blob_start\n"
         ".hidden bgr_init_blob_start\n"
         "bgr_init_blob_start:\n"
         ".incbin \"" BANGER_INIT_PATH "\"\n"
         ".globl bgr_init_blob_end\n"
         ".hidden bgr_init_blob_end\n"
         "bgr_init_blob_end:\n"
         ".previous\n");
