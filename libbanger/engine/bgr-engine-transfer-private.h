/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Moving files through the guest agent (bgr-engine-transfer.c): a tar
 * stream piped into a guest command's stdin (workspaces, vm cp to a VM) or
 * read from its stdout (vm cp from a VM), and small guest scripts whose
 * output the engine reads. */
#pragma once

#include "agent-proto/bgr-agent-client-private.h"
#include "engine/bgr-engine-core-private.h"

G_BEGIN_DECLS

/* A shell function for the guest scripts that unpack a stream: `bgr_untar
 * DIR [OPTION...]` unpacks the tar on stdin into DIR. GNU tar reads it in
 * whole 1 MiB records: an emulated guest pays dearly for each switch
 * between the agent and tar, and tar's default 10 KiB reads took it nearly
 * twice as long (bench/workspace.py); it also gets the OPTIONs. `tar`
 * first, then GNU tar by its path (a busybox shell runs its own applet for
 * `tar`); any other tar reads it as it does. Shell functions share the
 * caller's variables: it sets only bgr_untar_t and bgr_untar_d. */
#define BGR_GUEST_UNTAR_FN                                                                        \
  "bgr_untar() {\n"                                                                               \
  "  bgr_untar_d=$1; shift\n"                                                                     \
  "  for bgr_untar_t in tar /usr/bin/tar /bin/tar; do\n"                                          \
  "    if \"$bgr_untar_t\" --version </dev/null 2>/dev/null | grep -q 'GNU tar'; then\n"          \
  "      \"$bgr_untar_t\" -x -B -b 2048 \"$@\" -f - -C \"$bgr_untar_d\"; return; fi\n"             \
  "  done\n"                                                                                      \
  "  tar -x -f - -C \"$bgr_untar_d\"\n"                                                            \
  "}\n"

/* Writes the stream to @fd; runs in the calling thread while the guest
 * command reads it. */
typedef gboolean (*BgrStreamWriter) (int fd, gpointer data, GCancellable *cancellable,
                                     GError **error);
/* Reads the stream from @fd (the guest command's stdout). */
typedef gboolean (*BgrStreamReader) (int fd, gpointer data, GCancellable *cancellable,
                                     GError **error);

/* Runs @argv in the guest. With @writer, what it writes is the command's
 * stdin; with @reader, the command's stdout is given to it. The command's
 * stderr (at most 64 KiB) goes to *out_err when not NULL. A non-zero exit
 * is an error naming @what with the guest's message. */
gboolean bgr_vm_guest_pipe (BgrAgentConn *conn, const char *what, const char *const *argv,
                            BgrStreamWriter writer, BgrStreamReader reader, gpointer data,
                            GCancellable *cancellable, GError **error);
/* Runs @argv in the guest and returns its stdout (at most 1 MiB) and exit
 * status; stderr is dropped. NULL when it could not run. */
char *bgr_vm_guest_output (BgrAgentConn *conn, const char *const *argv, gint *out_status,
                           GCancellable *cancellable, GError **error);
/* A guest path a transfer may write: absolute, no "." or ".." parts, no
 * empty parts, and under @root ("/root") unless @root is NULL. */
gboolean bgr_guest_path_check (const char *option, const char *path, const char *root,
                               GError **error);

G_END_DECLS
