// SPDX-License-Identifier: GPL-2.0
/*
 * libvde crypto backend on OpenSSL 3. This is the only file of vde that
 * includes OpenSSL headers; everything else goes through crypto.h.
 *
 * Failures of the library are reported as -EIO (or -ENOMEM) and its error
 * queue is cleared, so that one failure does not leak into the next call's
 * diagnostics.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "crypto.h"

/*
 * One context per direction, each keyed once in vde_xts_new(); a data unit
 * only sets the tweak, which does not redo the key schedule.
 */
struct vde_xts {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

static int ossl_fail(int err)
{
	ERR_clear_error();
	return err;
}

int vde_xts_new(const uint8_t key[VDE_XTS_KEY_SIZE], struct vde_xts **out)
{
	const size_t half = VDE_XTS_KEY_SIZE / 2;
	struct vde_xts *x;
	int ret = -ENOMEM;

	if (CRYPTO_memcmp(key, key + half, half) == 0)
		return -EINVAL;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->enc = EVP_CIPHER_CTX_new();
	x->dec = EVP_CIPHER_CTX_new();
	if (!x->enc || !x->dec)
		goto out_free;

	ret = -EIO;
	if (EVP_EncryptInit_ex(x->enc, EVP_aes_256_xts(), NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(x->dec, EVP_aes_256_xts(), NULL, key, NULL) != 1)
		goto out_free;

	*out = x;
	return 0;

out_free:
	vde_xts_free(x);
	return ossl_fail(ret);
}

void vde_xts_free(struct vde_xts *x)
{
	if (!x)
		return;
	/* EVP_CIPHER_CTX_free() cleanses the expanded keys. */
	EVP_CIPHER_CTX_free(x->enc);
	EVP_CIPHER_CTX_free(x->dec);
	OPENSSL_cleanse(x, sizeof(*x));
	free(x);
}

int vde_xts_crypt_unit(struct vde_xts *x, const uint8_t tweak[VDE_XTS_TWEAK_SIZE],
		       const void *in, void *out, size_t len, bool encrypt)
{
	EVP_CIPHER_CTX *ctx = encrypt ? x->enc : x->dec;
	int outl = 0;

	if (len < VDE_XTS_MIN_UNIT || len > VDE_XTS_MAX_UNIT)
		return -EINVAL;

	/* NULL cipher and key: keep the key schedule, set the tweak only. */
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, tweak, -1) != 1 ||
	    EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1)
		return ossl_fail(-EIO);
	if ((size_t)outl != len)
		return -EIO;
	return 0;
}

void vde_xts_tweak(uint64_t vde_offset, uint8_t tweak[VDE_XTS_TWEAK_SIZE])
{
	uint64_t unit = vde_offset >> VDE_XTS_UNIT_SHIFT;
	int i;

	for (i = 0; i < 8; i++)
		tweak[i] = (uint8_t)(unit >> (8 * i));
	memset(tweak + 8, 0, VDE_XTS_TWEAK_SIZE - 8);
}

static int vde_xts_crypt(struct vde_xts *x, uint64_t vde_offset,
			 const void *in, void *out, size_t len, bool encrypt)
{
	uint8_t tweak[VDE_XTS_TWEAK_SIZE];
	size_t done;
	int ret;

	if ((vde_offset | len) & (VDE_XTS_UNIT_SIZE - 1))
		return -EINVAL;
	if (len && len - 1 > UINT64_MAX - vde_offset)
		return -EINVAL;

	for (done = 0; done < len; done += VDE_XTS_UNIT_SIZE) {
		vde_xts_tweak(vde_offset + done, tweak);
		ret = vde_xts_crypt_unit(x, tweak, (const uint8_t *)in + done,
					 (uint8_t *)out + done,
					 VDE_XTS_UNIT_SIZE, encrypt);
		if (ret)
			return ret;
	}
	return 0;
}

int vde_xts_encrypt(struct vde_xts *x, uint64_t vde_offset, const void *in,
		    void *out, size_t len)
{
	return vde_xts_crypt(x, vde_offset, in, out, len, true);
}

int vde_xts_decrypt(struct vde_xts *x, uint64_t vde_offset, const void *in,
		    void *out, size_t len)
{
	return vde_xts_crypt(x, vde_offset, in, out, len, false);
}

int vde_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		int n = len > INT_MAX ? INT_MAX : (int)len;

		if (RAND_priv_bytes(p, n) != 1)
			return ossl_fail(-EIO);
		p += n;
		len -= n;
	}
	return 0;
}

int vde_key_fingerprint(const uint8_t key[VDE_XTS_KEY_SIZE], uint64_t *fp)
{
	static const char msg[] = VDE_KEY_CHECK_MSG;
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	uint64_t v = 0;
	int i;

	if (!HMAC(EVP_sha256(), key, VDE_XTS_KEY_SIZE,
		  (const unsigned char *)msg, sizeof(msg) - 1, mac, &maclen) ||
	    maclen != VDE_SHA256_SIZE)
		return ossl_fail(-EIO);

	for (i = 7; i >= 0; i--)
		v = (v << 8) | mac[i];
	*fp = v;
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int vde_sha256(const void *buf, size_t len, uint8_t out[VDE_SHA256_SIZE])
{
	unsigned int outl = 0;

	if (EVP_Digest(buf, len, out, &outl, EVP_sha256(), NULL) != 1 ||
	    outl != VDE_SHA256_SIZE)
		return ossl_fail(-EIO);
	return 0;
}

int vde_pbkdf2_sha256(const void *pass, size_t passlen, const uint8_t *salt,
		      size_t saltlen, uint32_t iterations, uint8_t *out,
		      size_t outlen)
{
	if (iterations < 1 || iterations > INT_MAX || passlen > INT_MAX ||
	    saltlen > INT_MAX || outlen < 1 || outlen > INT_MAX)
		return -EINVAL;

	if (PKCS5_PBKDF2_HMAC(pass, (int)passlen, salt, (int)saltlen,
			      (int)iterations, EVP_sha256(), (int)outlen,
			      out) != 1)
		return ossl_fail(-EIO);
	return 0;
}

void vde_cleanse(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

static size_t secure_len(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) & ~(page - 1);
}

void *vde_secure_alloc(size_t len)
{
	size_t maplen;
	void *p;

	if (!len || len > SIZE_MAX / 2)
		return NULL;
	maplen = secure_len(len);
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Both are best effort: RLIMIT_MEMLOCK may be too small. */
	(void)madvise(p, maplen, MADV_DONTDUMP);
	(void)mlock(p, maplen);
	return p;
}

void vde_secure_free(void *p, size_t len)
{
	size_t maplen;

	if (!p || !len)
		return;
	maplen = secure_len(len);
	OPENSSL_cleanse(p, maplen);
	(void)munlock(p, maplen);
	munmap(p, maplen);
}
