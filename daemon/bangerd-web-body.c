/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web API's request bodies: a JSON object with known members of known
 * types, checked before anything is done (bad ones: InvalidArgument, 400). */
#define G_LOG_DOMAIN "bangerd"
#include "config.h"

#include "bangerd-web.h"

static gboolean
member_uint (JsonObject *o, const char *member, guint64 *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, member);

  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64
      || json_node_get_int (n) < 1)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "\"%s\" must be a positive whole number", member);
      return FALSE;
    }
  *out = (guint64) json_node_get_int (n);
  return TRUE;
}

static gboolean
member_string (JsonObject *o, const char *member, const char **out, GError **error)
{
  JsonNode *n = json_object_get_member (o, member);

  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "\"%s\" must be a string",
                   member);
      return FALSE;
    }
  *out = json_node_get_string (n);
  return TRUE;
}

/* The body as a JSON object whose members are all in @known; NULL (and
 * @error) otherwise. */
static JsonObject *
body_object (SoupServerMessage *msg, const char *const *known, GError **error)
{
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GList) members = NULL;
  g_autoptr (GError) parse_error = NULL;
  gsize length = 0;
  const char *data = g_bytes_get_data (bytes, &length);
  JsonNode *root;
  JsonObject *o;

  if (length > BGRD_WEB_MAX_BODY)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "the body is larger than 64 KiB");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, data != NULL ? data : "", length, &parse_error))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "the body is not JSON: %s",
                   parse_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "the body is not a JSON object");
      return NULL;
    }
  o = json_node_get_object (root);
  members = json_object_get_members (o);
  for (GList *l = members; l != NULL; l = l->next)
    if (!g_strv_contains (known, l->data))
      {
        g_autofree char *list = g_strjoinv (", ", (char **) known);
        g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                     "unknown member \"%s\" (known: %s)", (const char *) l->data, list);
        return NULL;
      }
  return json_object_ref (o);
}

BgrVmSpec *
bgrd_web_vm_spec_from_body (SoupServerMessage *msg, GError **error)
{
  static const char *const known[] = { "name", "image", "vcpus", "memory_mib", "disk_size", NULL };
  g_autoptr (JsonObject) o = body_object (msg, known, error);
  g_autoptr (BgrVmSpec) spec = NULL;
  const char *name = NULL, *image = NULL;
  guint64 vcpus = 0, memory = 0, disk = 0;

  if (o == NULL)
    return NULL;
  if (!member_string (o, "name", &name, error) || !member_string (o, "image", &image, error))
    return NULL;
  if (name == NULL)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "\"name\" (a string) is missing");
      return NULL;
    }
  if (!member_uint (o, "vcpus", &vcpus, error) || !member_uint (o, "memory_mib", &memory, error)
      || !member_uint (o, "disk_size", &disk, error))
    return NULL;
  if (vcpus > 256)
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT, "\"vcpus\" is at most 256");
      return NULL;
    }
  spec = bgr_vm_spec_new (name);
  if (image != NULL)
    bgr_vm_spec_set_image (spec, image);
  if (vcpus > 0)
    bgr_vm_spec_set_vcpus (spec, (guint) vcpus);
  if (memory > 0)
    bgr_vm_spec_set_memory_mib (spec, memory);
  if (disk > 0)
    bgr_vm_spec_set_disk_size (spec, disk);
  return g_steal_pointer (&spec);
}

BgrPullOptions *
bgrd_web_pull_from_body (SoupServerMessage *msg, char **out_reference, GError **error)
{
  static const char *const known[] = { "reference", "name", "kernel", NULL };
  g_autoptr (JsonObject) o = body_object (msg, known, error);
  g_autoptr (BgrPullOptions) options = NULL;
  const char *reference = NULL, *name = NULL, *kernel = NULL;

  if (o == NULL)
    return NULL;
  if (!member_string (o, "reference", &reference, error) || !member_string (o, "name", &name, error)
      || !member_string (o, "kernel", &kernel, error))
    return NULL;
  if (reference == NULL || *reference == '\0')
    {
      g_set_error (error, BGR_ERROR, BGR_ERROR_INVALID_ARGUMENT,
                   "\"reference\" (a string, e.g. docker.io/library/alpine:3.20) is missing");
      return NULL;
    }
  options = bgr_pull_options_new ();
  /* "" is what an empty form field sends: the name from the reference. */
  if (name != NULL && *name != '\0')
    bgr_pull_options_set_name (options, name);
  if (kernel != NULL && *kernel != '\0')
    bgr_pull_options_set_kernel (options, kernel);
  *out_reference = g_strdup (reference);
  return g_steal_pointer (&options);
}
