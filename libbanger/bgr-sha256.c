/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SHA-256 with libcrypto's EVP interface (SHA-NI / ARMv8 SHA where the CPU
 * has them: several times faster than GLib's portable GChecksum). */
#include "config.h"

#include <openssl/evp.h>

#include "bgr-sha256-private.h"

struct _BgrSha256
{
  EVP_MD_CTX *ctx;
  char hex[65];
  gboolean done;
};

BgrSha256 *
bgr_sha256_new (void)
{
  BgrSha256 *h = g_new0 (BgrSha256, 1);

  h->ctx = EVP_MD_CTX_new ();
  if (h->ctx == NULL)
    g_error ("out of memory for a SHA-256 context");
  bgr_sha256_reset (h);
  return h;
}

void
bgr_sha256_reset (BgrSha256 *h)
{
  if (EVP_DigestInit_ex (h->ctx, EVP_sha256 (), NULL) != 1)
    g_error ("libcrypto cannot start a SHA-256 digest");
  h->done = FALSE;
  h->hex[0] = '\0';
}

void
bgr_sha256_update (BgrSha256 *h, const void *data, gsize len)
{
  g_return_if_fail (!h->done);
  if (len > 0 && EVP_DigestUpdate (h->ctx, data, len) != 1)
    g_error ("libcrypto failed to update a SHA-256 digest");
}

const char *
bgr_sha256_get_hex (BgrSha256 *h)
{
  static const char digits[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  if (h->done)
    return h->hex;
  if (EVP_DigestFinal_ex (h->ctx, md, &len) != 1 || len != 32)
    g_error ("libcrypto failed to finish a SHA-256 digest");
  for (unsigned int i = 0; i < len; i++)
    {
      h->hex[2 * i] = digits[md[i] >> 4];
      h->hex[2 * i + 1] = digits[md[i] & 0xf];
    }
  h->hex[64] = '\0';
  h->done = TRUE;
  return h->hex;
}

void
bgr_sha256_free (BgrSha256 *h)
{
  if (h == NULL)
    return;
  EVP_MD_CTX_free (h->ctx);
  g_free (h);
}

char *
bgr_sha256_hex (const void *data, gsize len)
{
  g_autoptr (BgrSha256) h = bgr_sha256_new ();

  bgr_sha256_update (h, data, len);
  return g_strdup (bgr_sha256_get_hex (h));
}
