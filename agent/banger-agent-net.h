/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Configures the interface named by the kernel command line's ip=
 * argument when the kernel left it unconfigured (banger-agent-net.c). */
void agent_configure_network(void);

/* As PID 1, before the image's init: the hostname from the environment
 * (BGR_AGENT_HOSTNAME_ENV) becomes the kernel's and /etc/hostname's. */
void agent_set_hostname(void);
