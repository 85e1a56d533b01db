/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel catalog: a JSON document listing the kernels banger can pull,
 * either as artifacts to download (verified by size and sha256) or as a
 * package to fetch from the host's apt archive. docs/kernel-catalog.md
 * describes the format. */
#pragma once

#include <libsoup/soup.h>
#include <banger/banger.h>

G_BEGIN_DECLS

#define BGR_CATALOG_SCHEMA_VERSION 1
/* A catalog lists kernels, not kernels' bytes: anything bigger is refused
 * before it is read into memory. */
#define BGR_CATALOG_MAX_SIZE (4 * 1024 * 1024)

typedef enum {
  BGR_CATALOG_SOURCE_DOWNLOAD, /* "download": artifacts at URLs */
  BGR_CATALOG_SOURCE_APT,      /* "apt": a package of the host's archive */
} BgrCatalogSource;

typedef enum {
  BGR_CATALOG_KERNEL_FORMAT_ELF,     /* "elf": uncompressed vmlinux */
  BGR_CATALOG_KERNEL_FORMAT_BZIMAGE, /* "bzimage": x86 boot image (x86_64 only) */
  BGR_CATALOG_KERNEL_FORMAT_IMAGE,   /* "image": arm64 Image (aarch64 only) */
} BgrCatalogKernelFormat;

typedef struct {
  char *url; /* absolute: relative URLs are resolved against the catalog's */
  gint64 size; /* > 0 */
  char *sha256; /* 64 lowercase hex digits */
} BgrCatalogArtifact;

typedef struct {
  char *name;
  char *version;
  char *arch; /* "x86_64" or "aarch64" */
  char *description; /* "" when the catalog has none */
  BgrCatalogSource source;

  /* source == BGR_CATALOG_SOURCE_DOWNLOAD */
  BgrCatalogKernelFormat kernel_format;
  BgrCatalogArtifact *kernel;
  BgrCatalogArtifact *initrd; /* NULL when absent */
  BgrCatalogArtifact *modules; /* NULL when absent */

  /* source == BGR_CATALOG_SOURCE_APT */
  char *apt_package;
} BgrCatalogEntry;

/* Immutable once parsed, and reference counted, so a daemon can hand one
 * catalog to many concurrent pulls. */
typedef struct {
  char *url; /* absolute URL it was loaded from */
  gint64 schema_version;
  GPtrArray *entries; /* of BgrCatalogEntry, in document order */
} BgrCatalog;

/* Parses and validates @data (@len bytes). @url is the catalog's absolute
 * URL (http, https or file): relative artifact URLs resolve against it and
 * every message names it. Errors: BGR_ERROR_INVALID_DATA naming the entry
 * (index and name) and the field, e.g.
 *   catalog https://x/kernels.json: kernels[2] ("foo"): artifacts.kernel.sha256 is not 64 lowercase hex digits
 * and BGR_ERROR_NOT_SUPPORTED for a schema_version newer than this banger's. */
BgrCatalog *bgr_catalog_new_from_data (const char *data, gsize len, const char *url,
                                       GError **error);

/* Loads the catalog at @location: an http(s):// or file:// URL, or a plain
 * path. @session may be NULL (bgr_download_session_new() is used then).
 * Errors: those of bgr_download_bytes() and bgr_catalog_new_from_data(). */
BgrCatalog *bgr_catalog_load (SoupSession *session, const char *location,
                              GCancellable *cancellable, GError **error);

BgrCatalog *bgr_catalog_ref (BgrCatalog *catalog);
void bgr_catalog_unref (BgrCatalog *catalog);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrCatalog, bgr_catalog_unref)

/* Returns: (transfer none) (nullable): the entry called @name, owned by
 * @catalog, or NULL. */
const BgrCatalogEntry *bgr_catalog_lookup (BgrCatalog *catalog, const char *name);

/* 1 to 63 characters: lowercase letters, digits, '-' and '.', starting and
 * ending with a letter or digit, no ".." (a DNS label that may hold dots, so
 * "debian-cloud-6.1" works). Such a name is also a valid store name. */
gboolean bgr_catalog_name_is_valid (const char *name);

const char *bgr_catalog_source_to_string (BgrCatalogSource source);
const char *bgr_catalog_kernel_format_to_string (BgrCatalogKernelFormat format);

G_END_DECLS
