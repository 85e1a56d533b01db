/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* banger-vsock-agent --assemble-pack (agent-pack.c). */
#pragma once

/* Makes GITDIR's pack from GITDIR/banger-pack.recipe; 0 or 1 (a message
 * on stderr). */
int agent_assemble_pack(const char *gitdir);
