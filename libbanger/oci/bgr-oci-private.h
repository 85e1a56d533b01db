/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pulling OCI images from a registry (distribution API v2): references,
 * manifest and index validation, registry authentication, and a layer
 * cache. Only what `image pull` needs: read-only, by tag or digest.
 *
 * Transport: plain http is used for loopback registries (localhost,
 * 127.0.0.0/8, [::1]) and, with BGR_OCI_INSECURE, for any host; every other
 * registry is https only. Nothing here reads the OCI JSON schemas at run
 * time: their rules are written out in bgr-oci-manifest.c. */
#pragma once

#include <json-glib/json-glib.h>
#include <banger/banger.h>

#include "net/bgr-download-private.h"

G_BEGIN_DECLS

#define BGR_OCI_MEDIA_TYPE_INDEX "application/vnd.oci.image.index.v1+json"
#define BGR_OCI_MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define BGR_OCI_MEDIA_TYPE_CONFIG "application/vnd.oci.image.config.v1+json"
#define BGR_DOCKER_MEDIA_TYPE_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define BGR_DOCKER_MEDIA_TYPE_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define BGR_DOCKER_MEDIA_TYPE_MANIFEST_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define BGR_DOCKER_MEDIA_TYPE_CONFIG "application/vnd.docker.container.image.v1+json"

/* Where Docker Hub's API lives; "docker.io" and "index.docker.io" map here. */
#define BGR_OCI_DOCKER_HUB "registry-1.docker.io"

/* ---- references (bgr-oci-ref.c) ---- */

typedef struct {
  char *registry;   /* host[:port], IPv6 literals in brackets */
  char *repository; /* "library/alpine" */
  char *tag;        /* NULL only when pulled by digest without a tag */
  char *digest;     /* "sha256:<64 hex>" or NULL */
} BgrOciRef;

/* Parses "alpine", "alpine:3.19", "library/alpine@sha256:…",
 * "127.0.0.1:5000/x/y:tag", "ghcr.io/o/r:t" with the grammar of
 * distribution's reference package. The first path component is a registry
 * when it holds a '.' or a ':', is "localhost" or a bracketed IPv6 literal;
 * otherwise the registry is Docker Hub, where one-part names get "library/".
 * Without a tag or digest the tag is "latest". When both are given the
 * digest decides what is pulled. Only sha256 digests are accepted.
 * Errors: BGR_ERROR_INVALID_ARGUMENT naming the offending part. */
gboolean bgr_oci_ref_parse (const char *text, BgrOciRef *out, GError **error);
void bgr_oci_ref_clear (BgrOciRef *ref);
/* "registry/repository:tag@digest", for messages. */
char *bgr_oci_ref_to_string (const BgrOciRef *ref);

/* TRUE for "localhost", 127.0.0.0/8 and [::1], with or without a port. */
gboolean bgr_oci_registry_is_loopback (const char *registry);

/* The OCI descriptor digest rules: "algorithm:encoded" as the schema's
 * pattern says, and for the registered algorithms the exact form (sha256:
 * 64 lowercase hex digits, sha512: 128). */
gboolean bgr_oci_digest_is_valid (const char *digest);

/* ---- manifests, indexes and configs (bgr-oci-manifest.c) ---- */

typedef struct {
  char *media_type;
  char *digest;
  gint64 size;
} BgrOciDescriptor;

void bgr_oci_descriptor_free (BgrOciDescriptor *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrOciDescriptor, bgr_oci_descriptor_free)

/* One entry of an image index / manifest list. */
typedef struct {
  BgrOciDescriptor desc;
  char *os;           /* NULL when the entry has no platform */
  char *architecture;
  char *variant;
} BgrOciIndexEntry;

typedef struct {
  gboolean is_index;
  char *media_type;            /* what the document is, never NULL */
  /* Image manifest: */
  BgrOciDescriptor *config;
  GPtrArray *layers;           /* BgrOciDescriptor*, at least one */
  /* Index: */
  GPtrArray *manifests;        /* BgrOciIndexEntry*, may be empty */
} BgrOciManifest;

/* Parses and validates an image manifest or an index (OCI, or Docker
 * schema 2 and manifest list). @media_type is what the document claims to
 * be (a Content-Type or the descriptor that pointed at it); NULL or
 * "application/json" means "take the document's own mediaType", and
 * without one it is told apart by its members. A document whose mediaType
 * disagrees with @media_type is refused.
 * Errors: BGR_ERROR_INVALID_DATA with the JSON path of the first problem;
 * BGR_ERROR_NOT_SUPPORTED for Docker schema 1 and unknown document types. */
BgrOciManifest *bgr_oci_manifest_parse (GBytes *data, const char *media_type, GError **error);
void bgr_oci_manifest_free (BgrOciManifest *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrOciManifest, bgr_oci_manifest_free)

/* "os/arch[/variant]" of this host, e.g. "linux/amd64", "linux/arm64/v8". */
char *bgr_oci_platform_host (void);

/* The index entry for @platform ("os/arch[/variant]"; architecture aliases
 * such as x86_64 and aarch64 are understood; without a variant any variant
 * matches). Errors: BGR_ERROR_INVALID_ARGUMENT for a malformed @platform,
 * BGR_ERROR_NOT_FOUND listing the platforms the index has. */
const BgrOciIndexEntry *bgr_oci_manifest_select (const BgrOciManifest *index,
                                                 const char *platform, GError **error);

/* Parses and validates an image config (required: architecture, os,
 * rootfs with type "layers" and diff_ids). Errors: BGR_ERROR_INVALID_DATA. */
JsonObject *bgr_oci_config_parse (GBytes *data, GError **error);

/* ---- credentials (bgr-oci-auth.c) ---- */

/* Finds credentials for @registry (and @repository, for auth files with
 * per-namespace keys) in an auth file's JSON: `auths` → key → `auth`, the
 * base64 of "user:password". Keys may carry a scheme and a path
 * ("https://index.docker.io/v1/"); Docker Hub's names are one registry.
 * The longest matching key wins. Returns TRUE with *user = NULL when the
 * file has no entry. Credential helpers (`credsStore`, `credHelpers`) are
 * left to bgr_oci_auth_lookup().
 * Errors: BGR_ERROR_INVALID_CONFIG for malformed JSON or a bad `auth`. */
gboolean bgr_oci_auth_parse (const char *json, gssize length, const char *source,
                             const char *registry, const char *repository,
                             char **user, char **password, GError **error);

/* Reads $REGISTRY_AUTH_FILE when set, else ~/.docker/config.json; a missing
 * file means no credentials. A credential helper the file names for
 * @registry (credHelpers, else credsStore) is asked first; when it has
 * nothing, the file's `auths` entry counts. *source gets the file's name
 * (and the helper's) when credentials were found. */
gboolean bgr_oci_auth_lookup (const char *registry, const char *repository, char **user,
                              char **password, char **source, GError **error);

/* TRUE when auth file key @key ("host", "https://host/v1/", "host/path")
 * names @registry's host; Docker Hub's names are one registry. */
gboolean bgr_oci_auth_key_matches_host (const char *key, const char *registry);
/* An auth file key's host and repository path ("" for none; a legacy
 * "/v1/" is no path). */
void bgr_oci_auth_split_key (const char *key, char **host, char **path);

/* ---- credential helpers (bgr-oci-credhelper.c) ---- */

/* The helper the auth file's JSON @root names for @registry:
 * `credHelpers` keyed by its host, else `credsStore` ("" is none). *helper
 * is NULL when there is none. A malformed entry or a name that is not
 * [A-Za-z0-9._-]+ is BGR_ERROR_INVALID_CONFIG, naming @source. */
gboolean bgr_oci_auth_find_helper (JsonObject *root, const char *source, const char *registry,
                                   char **helper, GError **error);

/* A helper that has not answered after this long is killed, and the error
 * says so; _set_timeout() changes it (tests), 0 restores it. */
#define BGR_OCI_CREDHELPER_TIMEOUT_MS 30000
void bgr_oci_credhelper_set_timeout (guint ms);

/* Runs `docker-credential-HELPER get` (looked up in PATH) with @registry's
 * server URL on stdin ("https://index.docker.io/v1/" for Docker Hub, else
 * host[:port]) and returns the Username and Secret it answers; *user is
 * NULL when it has no credentials for @registry. Errors: the helper
 * missing (BGR_ERROR_INVALID_CONFIG), failing (BGR_ERROR_PERMISSION_DENIED,
 * with its message, escaped), answering no JSON (BGR_ERROR_INVALID_DATA),
 * giving an identity token (BGR_ERROR_NOT_SUPPORTED), or not answering
 * in time (BGR_ERROR_TIMED_OUT). */
gboolean bgr_oci_credhelper_get (const char *helper, const char *registry, const char *source,
                                 char **user, char **password, GError **error);

/* Parses one WWW-Authenticate challenge: "Bearer realm="…",service="…"".
 * Returns the scheme (lowercased) and its parameters (keys lowercased). */
char *bgr_oci_auth_parse_challenge (const char *header, GHashTable **params);

/* ---- registry client (bgr-oci-registry.c, bgr-oci-http.c, bgr-oci-resolve.c,
 *      bgr-oci-blobs.c; their shared insides: bgr-oci-client-private.h) ---- */

typedef enum {
  BGR_OCI_NONE = 0,
  /* Plain http for a registry that is not on loopback. */
  BGR_OCI_INSECURE = 1 << 0,
  /* Ignore the auth files: anonymous access only. */
  BGR_OCI_NO_CREDENTIALS = 1 << 1,
} BgrOciFlags;

/* One repository on one registry, with its auth state. Safe to share
 * between threads (for parallel blob fetches). */
typedef struct _BgrOciRegistry BgrOciRegistry;

BgrOciRegistry *bgr_oci_registry_new (const BgrOciRef *ref, guint flags, GError **error);
void bgr_oci_registry_free (BgrOciRegistry *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrOciRegistry, bgr_oci_registry_free)
/* Whether a request to @from may follow a redirect to @to: not from https
 * to plain http, not to plain http on a host that is not on loopback
 * (unless @insecure), and never to anything but http(s). *why says what
 * was wrong. */
gboolean bgr_oci_redirect_allowed (GUri *from, GUri *to, gboolean insecure, const char **why);
/* "http://127.0.0.1:5000" or "https://ghcr.io". */
const char *bgr_oci_registry_get_base_url (BgrOciRegistry *r);

typedef struct {
  char *digest;        /* the image manifest's digest */
  char *media_type;    /* the image manifest's media type */
  char *ref_digest;    /* what the reference resolved to (an index's digest, or == digest) */
  GPtrArray *layers;   /* BgrOciDescriptor*, in order (base first) */
  JsonObject *config;
  char *config_digest;
} BgrOciImage;

void bgr_oci_image_free (BgrOciImage *img);
/* The config's rootfs.diff_ids[@i]: the digest of layer @i uncompressed
 * (resolve() checked there is one per layer, each a sha256 digest). */
const char *bgr_oci_image_get_diff_id (const BgrOciImage *img, guint i);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrOciImage, bgr_oci_image_free)

/* Resolves the reference to one image manifest for @platform
 * ("linux/amd64"; NULL = this host): fetches the manifest, verifies its
 * digest (against the reference's digest, and the registry's
 * Docker-Content-Digest when it sends one), follows an index to the
 * platform's manifest, validates it and fetches and validates the config.
 * A single-platform image whose config names another platform is refused.
 * Errors: BGR_ERROR_NOT_FOUND (unknown repository, tag or digest, naming
 * the reference; no such platform, listing those there are),
 * BGR_ERROR_PERMISSION_DENIED (credentials missing or refused),
 * BGR_ERROR_INVALID_DATA (bad JSON, media type, digest or size),
 * BGR_ERROR_NOT_SUPPORTED (schema 1, nested indexes, unknown layer types),
 * BGR_ERROR_NETWORK / TIMED_OUT after retries, BGR_ERROR_CANCELLED. */
/* Lets resolve() take the config blob from, and keep it in, the blob cache
 * under @cache_dir (as bgr_oci_registry_fetch_blob() does for layers). */
void bgr_oci_registry_set_cache_dir (BgrOciRegistry *r, const char *cache_dir);
BgrOciImage *bgr_oci_registry_resolve (BgrOciRegistry *r, const char *platform,
                                       GCancellable *cancellable, GError **error);

/* Progress of bgr_oci_registry_fetch_blob(): as BgrDownloadProgress, and
 * @waiting is TRUE while another pull (in this process or another) is
 * downloading the blob: @done is then the size of its part file. */
typedef void (*BgrOciBlobProgress) (guint64 done, guint64 total, gboolean waiting,
                                    gpointer user_data);

/* Returns CACHE_DIR/oci/blobs/sha256/HEX, downloading the blob there first
 * unless it is already cached (then no request is made). The download goes
 * to HEX.part, resumes a part left by an earlier call, and is renamed only
 * once its size and sha256 match @d. While another pull holds HEX.part, this
 * one waits (reporting the part's growth with @waiting set, every 100 ms),
 * then uses the finished blob, or takes the part over when the other pull
 * went away without finishing it. */
char *bgr_oci_registry_fetch_blob (BgrOciRegistry *r, const BgrOciDescriptor *d,
                                   const char *cache_dir, BgrOciBlobProgress progress,
                                   gpointer user_data, GCancellable *cancellable, GError **error);

/* ---- blob leases (bgr-oci-lease.c): pulls and prunes sharing a cache_dir,
 *      in any number of processes ---- */

typedef struct _BgrOciLease BgrOciLease;

/* A lease on blob @digest (sha256:HEX) of the cache under @cache_dir:
 * CACHE/oci/leases/HEX, flock()ed. Shared (@exclusive FALSE): what a pull
 * holds while it uses the blob; it waits only while a prune holds the
 * lease, which is never long. Exclusive: what a prune takes before it
 * removes the blob; it does not wait, and fails with BGR_ERROR_BUSY while
 * a pull holds the lease. */
BgrOciLease *bgr_oci_lease_take (const char *cache_dir, const char *digest, gboolean exclusive,
                                 GError **error);
void bgr_oci_lease_release (BgrOciLease *lease);
/* Releases an exclusive lease, removing its file first. */
void bgr_oci_lease_release_removing (BgrOciLease *lease);
/* Whether a pull holds a lease on @digest now. */
gboolean bgr_oci_lease_is_held (const char *cache_dir, const char *digest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BgrOciLease, bgr_oci_lease_release)

G_END_DECLS
