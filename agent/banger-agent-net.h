/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Configures the interface named by the kernel command line's ip=
 * argument when the kernel left it unconfigured (banger-agent-net.c). */
void agent_configure_network(void);
