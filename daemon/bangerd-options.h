/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bangerd's command line: one table for bangerd's GOptionContext and for
 * bangerd(8), which banger-docgen writes from it at build time. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gboolean session;
  gboolean system;
  char *address;
  gboolean replace;
  char *config;
  gboolean verbose;
  gboolean version;
} BangerdOptions;

/* "- the banger daemon": the parameter string of `bangerd --help`. */
extern const char bangerd_parameter_string[];
/* What bangerd is: `bangerd --help`'s summary and bangerd(8)'s description. */
extern const char bangerd_summary[];

/* The options, bound to @opts. Free with g_free(). */
GOptionEntry *bangerd_options_new_entries (BangerdOptions *opts);
/* Frees the strings in @opts. */
void bangerd_options_clear (BangerdOptions *opts);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BangerdOptions, bangerd_options_clear)

G_END_DECLS
