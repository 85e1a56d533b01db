/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The static guest agent (agent/banger-vsock-agent.c), embedded in
 * libbanger: VM creation writes it into each VM's rootfs, so no file has to
 * be found at run time. BANGER_AGENT_PATH is set by CMake. */
#ifndef BANGER_AGENT_PATH
#error "BANGER_AGENT_PATH must name the built banger-vsock-agent binary"
#endif

__asm__ (".section .rodata\n"
         ".balign 16\n"
         ".globl bgr_agent_blob_start\n"
         ".hidden bgr_agent_blob_start\n"
         "bgr_agent_blob_start:\n"
         ".incbin \"" BANGER_AGENT_PATH "\"\n"
         ".globl bgr_agent_blob_end\n"
         ".hidden bgr_agent_blob_end\n"
         "bgr_agent_blob_end:\n"
         ".previous\n");
