/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the pieces of the ext4 writer share (bgr-ext4-writer*.c); the
 * outside interface is bgr-ext4-writer-private.h. Each file calls only
 * those listed before it:
 *   -dirs.c     inodes, directory entries (cached), symlink targets
 *   -resolve.c  layer paths resolved in the image, layer errors
 *   -data.c     metadata, xattrs, file data
 *   -layer.c    a layer replayed: entries, hardlinks, whiteouts
 *   -add.c      host files added to an existing image
 *   -tree.c     host directories added
 *   -room.c     a growable image grown between entries
 * and bgr-ext4-writer.c creates, opens and closes images. */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <ext2fs/ext2_err.h>
#include <ext2fs/ext2fs.h>
#include <gio/gio.h>
#include <stddef.h>
#include <time.h>

#include "ext4/bgr-ext4-paths-private.h"
#include "ext4/bgr-ext4-writer-private.h"

G_BEGIN_DECLS

/* Data is read and written in chunks of this size (a multiple of 4 KiB). */
#define CHUNK_SIZE (1024 * 1024)

/* Symlinks followed while resolving one path, at most. */
#define MAX_SYMLINKS 40

struct _BgrExt4Writer
{
  ext2_filsys fs;
  char *path;
  guint64 fs_bytes;
  gboolean growable; /* bgr_ext4_writer_set_growable() */
  int sync_fd;          /* the image file, for writeback hints; -1 until needed */
  GSourceFunc tick;     /* bgr_ext4_writer_set_tick() */
  gpointer tick_data;
  gint64 last_tick;
  guint64 written_back; /* blocks in use when writeback last started */
};

/* One layer being applied. */
typedef struct
{
  BgrExt4Writer *w;
  ext2_filsys fs;
  const char *layer;
  char *entry; /* the entry's path as the tar has it, escaped, for messages */
  /* Folded paths this layer created or replaced, and all their ancestors:
   * what an opaque marker of the same layer must keep. */
  GHashTable *touched;
  char *buf; /* one block: file data split between two read buffers */
} Apply;

/* One bgr_ext4_writer_add_*() call. */
typedef struct
{
  BgrExt4Writer *w;
  ext2_filsys fs;
  GCancellable *cancellable;
  gint64 now;
  long now_ns;
  char *buf;
} Edit;

/* An entry of a directory, from bgr_ext4_list_children(). */
typedef struct
{
  char *name;
  ext2_ino_t ino;
} Child;

/* ---- bgr-ext4-writer-room.c: growing while layers are replayed -------- */

/* Before each layer entry: for a growable writer, grows the image (w->fs
 * changes) unless @bytes more and a margin fit and inodes are left; for
 * every writer, starts the image's writeback now and then, and calls its
 * tick. */
gboolean bgr_ext4_writer_make_room (BgrExt4Writer *w, guint64 bytes, GError **error);

/* ---- bgr-ext4-writer-dirs.c: inodes and directory entries ------------ */

errcode_t bgr_ext4_read_inode (ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode);
errcode_t bgr_ext4_write_inode (ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode);
/* Whether @inode's extra part reaches @field_end (an offset in it). */
gboolean bgr_ext4_has_extra (struct ext2_inode_large *inode, size_t field_end);
/* Sets a time field and its extra part (NULL when the inode has none). */
void bgr_ext4_set_time (__u32 *field, __u32 *extra, gint64 sec, long nsec);
/* The extra part of time field @f of @inode, NULL unless @large inodes
 * have room for it. */
#define TIME_EXTRA(inode, large, f)                                                          \
  ((large) && bgr_ext4_has_extra ((inode), offsetof (struct ext2_inode_large, f) + 4)        \
     ? &(inode)->f                                                                           \
     : NULL)

/* ---- bgr-ext4-writer-caches.c: what the writer keeps for an image ---- */

/* Kept in fs->priv_data: each directory's names, read once (inode -> (name
 * -> inode)); the last block of the directory entries are being appended
 * to, written once something else may read that directory; file data
 * waiting for the data that follows it on disk (small files' blocks are
 * allocated in a row), so that they go in one write; and where the next
 * file's data is allocated from. bgr_ext4_release_inode() flushes them
 * before any block is freed, so that no pending block is ever another
 * file's. Flush before the image is closed. */
typedef struct _BgrExt4Caches BgrExt4Caches;
typedef struct _BgrExt4OpenBlock BgrExt4OpenBlock;
GHashTable *bgr_ext4_dir_tables (ext2_filsys fs);
BgrExt4OpenBlock **bgr_ext4_open_block_of (ext2_filsys fs);
/* Writes the block being appended to: libext2fs is about to read or change
 * a directory. */
errcode_t bgr_ext4_close_open_block (ext2_filsys fs);
/* Writes @n blocks of file data at @pblk, now or with the next. */
errcode_t bgr_ext4_write_data (ext2_filsys fs, blk64_t pblk, blk64_t n, const char *buf);
blk64_t *bgr_ext4_data_goal_of (ext2_filsys fs);
/* Writes what the caches hold back. */
errcode_t bgr_ext4_caches_flush (ext2_filsys fs);
/* Takes the caches off @fs, flushed (for closing and reopening it). */
errcode_t bgr_ext4_caches_steal (ext2_filsys fs, BgrExt4Caches **out);
void bgr_ext4_caches_put (ext2_filsys fs, BgrExt4Caches *c);
void bgr_ext4_caches_free (BgrExt4Caches *c);
/* Drops the caches of @fs, written or not. */
void bgr_ext4_caches_drop (ext2_filsys fs);

/* A directory block entries are appended to (bgr-ext4-writer-append.c). */
/* Puts the entry in the last block of @dir when it has room, opening that
 * block in *ob (after closing the one there, of another directory).
 * *done FALSE: nothing done (no room there, or the directory is kept in a
 * form this does not handle); ext2fs_link() is for those. */
errcode_t bgr_ext4_open_block_append (ext2_filsys fs, BgrExt4OpenBlock **ob, ext2_ino_t dir,
                                      const char *name, ext2_ino_t ino, int type,
                                      gboolean *done);
/* Writes *ob if it changed, and forgets it. */
errcode_t bgr_ext4_open_block_close (ext2_filsys fs, BgrExt4OpenBlock **ob);
void bgr_ext4_open_block_free (BgrExt4OpenBlock *ob);
errcode_t bgr_ext4_lookup (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t *ino);
gboolean bgr_ext4_is_known_dir (ext2_filsys fs, ext2_ino_t ino);
errcode_t bgr_ext4_link_entry (ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino,
                               guint16 mode);
/* *out: the Child entries of @dir, without "." and "..". */
errcode_t bgr_ext4_list_children (ext2_filsys fs, ext2_ino_t dir, GPtrArray **out);
errcode_t bgr_ext4_release_inode (ext2_filsys fs, ext2_ino_t ino);
errcode_t bgr_ext4_remove_entry (ext2_filsys fs, ext2_ino_t dir, const char *name,
                                 ext2_ino_t ino);
errcode_t bgr_ext4_new_plain_inode (ext2_filsys fs, ext2_ino_t parent, guint16 mode,
                                    gboolean extents, const __u32 *i_block2, ext2_ino_t *out);
errcode_t bgr_ext4_make_dir (ext2_filsys fs, ext2_ino_t parent, const char *name,
                             ext2_ino_t *out);
errcode_t bgr_ext4_read_symlink (ext2_filsys fs, ext2_ino_t ino, struct ext2_inode_large *inode,
                                 char **out);

/* ---- bgr-ext4-writer-resolve.c: layer paths and errors --------------- */

/* "layer L: entry "E": why" (BGR_ERROR_INVALID_DATA); FALSE. */
gboolean bgr_ext4_apply_refuse (Apply *a, GError **error, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);
/* A libext2fs failure on the current entry; FALSE. */
gboolean bgr_ext4_apply_fail (Apply *a, errcode_t rc, GError **error, const char *what);
void bgr_ext4_push_names (GPtrArray *todo, const char *path);
gboolean bgr_ext4_resolve_dir (Apply *a, GPtrArray *comps, guint n, gboolean create,
                               time_t mtime, ext2_ino_t *out, char **real, GError **error);
char *bgr_ext4_child_path (const char *dir, const char *name);
void bgr_ext4_mark_touched (Apply *a, const char *path);
gboolean bgr_ext4_resolve_link_target (Apply *a, const char *target, ext2_ino_t *out,
                                       GError **error);

/* ---- bgr-ext4-writer-data.c: metadata, xattrs, file data ------------- */

errcode_t bgr_ext4_set_metadata (ext2_filsys fs, ext2_ino_t ino, struct archive_entry *e);
gboolean bgr_ext4_set_xattrs (Apply *a, ext2_ino_t ino, struct archive_entry *e,
                              gboolean replace, GError **error);
/* Copies the current tar entry's data into new file @ino. */
gboolean bgr_ext4_write_file_data (Apply *a, struct archive *ar, ext2_ino_t ino,
                                   GCancellable *cancellable, GError **error);

/* ---- bgr-ext4-writer-blocks.c: file blocks --------------------------- */

/* Writes @len bytes of @buf (whole blocks) as blocks from @lblk of file
 * @ino, all-zero blocks left as holes. */
errcode_t bgr_ext4_write_blocks (ext2_filsys fs, ext2_ino_t ino, const char *buf, gsize len,
                                 blk64_t lblk);

/* The same for a new file written from its start to its end, its inode
 * kept in memory meanwhile; close sets its size and writes the inode. */
typedef struct
{
  ext2_filsys fs;
  ext2_ino_t ino;
  struct ext2_inode_large inode;
  gboolean in_memory; /* the extents are set on @inode, not in the image */
} BgrExt4FileBlocks;
errcode_t bgr_ext4_file_blocks_open (ext2_filsys fs, ext2_ino_t ino, BgrExt4FileBlocks *fb);
errcode_t bgr_ext4_file_blocks_write (BgrExt4FileBlocks *fb, const char *buf, gsize len,
                                      blk64_t lblk);
errcode_t bgr_ext4_file_blocks_close (BgrExt4FileBlocks *fb, guint64 size);

/* ---- bgr-ext4-writer-add.c: host files added ------------------------- */

void bgr_ext4_edit_init (Edit *e, BgrExt4Writer *w, GCancellable *cancellable);
gboolean bgr_ext4_edit_refuse (Edit *e, GError **error, int code, const char *guest,
                               const char *fmt, ...) G_GNUC_PRINTF (5, 6);
gboolean bgr_ext4_edit_fail (Edit *e, errcode_t rc, GError **error, const char *guest,
                             const char *what);
errcode_t bgr_ext4_set_added_metadata (Edit *e, ext2_ino_t ino, guint perm, gint64 mtime,
                                       long mtime_ns);
errcode_t bgr_ext4_make_added_dir (Edit *e, ext2_ino_t dir, const char *name, ext2_ino_t *out);
gboolean bgr_ext4_resolve_for_add (Edit *e, const char *guest_path, gboolean follow_last,
                                   ext2_ino_t *out_dir, char **out_base, GError **error);
gboolean bgr_ext4_put_regular (Edit *e, ext2_ino_t dir, const char *name, const char *guest,
                               int fd, const char *host_path, const void *data, gsize len,
                               guint perm, gint64 mtime, long mtime_ns, GError **error);
gboolean bgr_ext4_put_symlink (Edit *e, ext2_ino_t dir, const char *name, const char *guest,
                               const char *target, gint64 mtime, long mtime_ns,
                               GError **error);

G_END_DECLS
