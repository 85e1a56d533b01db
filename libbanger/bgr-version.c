/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <banger/banger.h>

/**
 * bgr_get_major_version:
 *
 * Returns: the major version of the loaded libbanger
 * Since: 0.1
 */
guint
bgr_get_major_version (void)
{
  return BGR_MAJOR_VERSION;
}

guint
bgr_get_minor_version (void)
{
  return BGR_MINOR_VERSION;
}

guint
bgr_get_micro_version (void)
{
  return BGR_MICRO_VERSION;
}

/**
 * bgr_get_version_string:
 *
 * Returns: (transfer none): the version of the loaded libbanger, e.g. "0.2.0"
 * Since: 0.1
 */
const char *
bgr_get_version_string (void)
{
  return BGR_VERSION_STRING;
}
