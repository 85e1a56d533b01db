/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What banger-docgen's files share (banger-docgen.c, docgen-completion.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The option takes a value (not G_OPTION_ARG_NONE). */
gboolean banger_docgen_option_takes_value (const GOptionEntry *e);
/* banger's global options (--json, --local, -c...), NULL-terminated. */
GOptionEntry *banger_docgen_global_options (void);
/* The bash completion script (banger.bash). */
char *banger_docgen_completion (void);

G_END_DECLS
