/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the ext4 editing tests (test-ext4-edit*.c) share: a sandbox
 * directory, images made by mkfs.ext4 -d from a Debian-like tree (lib ->
 * usr/lib), host files to put in, and looks inside images with debugfs. */
#pragma once

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bgr-error-private.h"
#include "ext4/bgr-ext4-writer-private.h"
#include "bgr-test-ext4.h"

#define MIB (1024 * 1024)

/* The directory for this test's files (in its isolated data directory),
 * made when missing. */
char *sandbox (void);

/* @name in the sandbox. */
char *sandbox_path (const char *name);

/* Runs debugfs -w -R @cmd on @img; it must succeed. */
void debugfs_write (const char *img, const char *cmd);

/* The content of @path in @img ("" when debugfs prints nothing). */
char *cat_of (const char *img, const char *path);

/* The number after @label in debugfs's stats of @img. */
guint64 stats_number (const char *img, const char *label);

/* A regular file with @content, @mode, owned by 0:0. */
void assert_file (const char *img, const char *path, const char *content, const char *mode);

/* A host file with @content, @mode and modification time @mtime (when not
 * 0), its parents made. */
void write_host (const char *path, const char *content, guint mode, gint64 mtime);

/* Removes @path and all it holds. */
void rm_rf (const char *path);

/* A small Debian-like rootfs made by mkfs.ext4 -d: lib -> usr/lib,
 * bin -> usr/bin, etc/hostname, and the symlinks the resolution tests
 * walk through. Owners are set to 1000 afterwards, so that 0:0 on added
 * files shows whatever user runs the test. */
char *make_debian_image_bs (const char *name, guint size_mib, const char *block_size);

/* make_debian_image_bs() with 4 KiB blocks. */
char *make_debian_image (const char *name, guint size_mib);

/* bgr_ext4_writer_open(), close_() and add_data() that must succeed. */
BgrExt4Writer *open_ok (const char *img);

void close_ok (BgrExt4Writer *w);

void add_data_ok (BgrExt4Writer *w, const char *path, const char *data, gsize len, guint mode);
