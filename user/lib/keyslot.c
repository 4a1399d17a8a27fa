// SPDX-License-Identifier: GPL-2.0
/*
 * libvde key slots: encoding, KEK derivation, wrapping and unwrapping.
 */
#include <argon2.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "keyslot.h"

static uint64_t get_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

void vde_keyslot_decode(const uint8_t raw[VDE_KEYSLOT_SIZE],
			struct vde_keyslot *s)
{
	s->slot_index = raw[VDE_KEYSLOT_OFF_INDEX];
	s->status = raw[VDE_KEYSLOT_OFF_STATUS];
	s->algorithm_id = (uint16_t)get_le(raw + VDE_KEYSLOT_OFF_ALGORITHM, 2);
	memcpy(s->wrapped_key, raw + VDE_KEYSLOT_OFF_WRAPPED,
	       sizeof(s->wrapped_key));
	memcpy(s->key_salt, raw + VDE_KEYSLOT_OFF_SALT, sizeof(s->key_salt));
	s->kdf_iterations = (uint32_t)get_le(raw + VDE_KEYSLOT_OFF_KDF_ITER, 4);
	s->kdf_algorithm_id = (uint16_t)get_le(raw + VDE_KEYSLOT_OFF_KDF_ALG, 2);
	s->kdf_log2_mem_kib =
		(uint16_t)get_le(raw + VDE_KEYSLOT_OFF_KDF_LOG2_MEM, 2);
	s->created_ticks = (int64_t)get_le(raw + VDE_KEYSLOT_OFF_CREATED, 8);
	s->retired_ticks = (int64_t)get_le(raw + VDE_KEYSLOT_OFF_RETIRED, 8);
}

void vde_keyslot_encode(const struct vde_keyslot *s,
			uint8_t raw[VDE_KEYSLOT_SIZE])
{
	raw[VDE_KEYSLOT_OFF_INDEX] = s->slot_index;
	raw[VDE_KEYSLOT_OFF_STATUS] = s->status;
	put_le(raw + VDE_KEYSLOT_OFF_ALGORITHM, s->algorithm_id, 2);
	memcpy(raw + VDE_KEYSLOT_OFF_WRAPPED, s->wrapped_key,
	       sizeof(s->wrapped_key));
	memcpy(raw + VDE_KEYSLOT_OFF_SALT, s->key_salt, sizeof(s->key_salt));
	put_le(raw + VDE_KEYSLOT_OFF_KDF_ITER, s->kdf_iterations, 4);
	put_le(raw + VDE_KEYSLOT_OFF_KDF_ALG, s->kdf_algorithm_id, 2);
	put_le(raw + VDE_KEYSLOT_OFF_KDF_LOG2_MEM, s->kdf_log2_mem_kib, 2);
	put_le(raw + VDE_KEYSLOT_OFF_CREATED, (uint64_t)s->created_ticks, 8);
	put_le(raw + VDE_KEYSLOT_OFF_RETIRED, (uint64_t)s->retired_ticks, 8);
}

static int argon2_errno(int rc)
{
	switch (rc) {
	case ARGON2_OK:
		return 0;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		return -ENOMEM;
	case ARGON2_OUTPUT_PTR_NULL:
	case ARGON2_OUTPUT_TOO_SHORT:
	case ARGON2_OUTPUT_TOO_LONG:
	case ARGON2_PWD_TOO_SHORT:
	case ARGON2_PWD_TOO_LONG:
	case ARGON2_SALT_TOO_SHORT:
	case ARGON2_SALT_TOO_LONG:
	case ARGON2_TIME_TOO_SMALL:
	case ARGON2_TIME_TOO_LARGE:
	case ARGON2_MEMORY_TOO_LITTLE:
	case ARGON2_MEMORY_TOO_MUCH:
	case ARGON2_LANES_TOO_FEW:
	case ARGON2_LANES_TOO_MANY:
	case ARGON2_PWD_PTR_MISMATCH:
		return -EINVAL;
	default:
		return -EIO;
	}
}

static int derive_argon2id(const struct vde_keyslot *s, const void *pass,
			   size_t passlen, uint8_t kek[VDE_XTS_KEY_SIZE])
{
	if (s->kdf_iterations < 1 ||
	    s->kdf_log2_mem_kib < VDE_KDF_ARGON2_MIN_LOG2_MEM ||
	    s->kdf_log2_mem_kib > VDE_KDF_ARGON2_MAX_LOG2_MEM ||
	    passlen > UINT32_MAX)
		return -EINVAL;

	return argon2_errno(argon2id_hash_raw(s->kdf_iterations,
					      1u << s->kdf_log2_mem_kib, 1,
					      pass, passlen, s->key_salt,
					      sizeof(s->key_salt), kek,
					      VDE_XTS_KEY_SIZE));
}

int vde_keyslot_derive_kek(const struct vde_keyslot *s, const void *pass,
			   size_t passlen, uint8_t kek[VDE_XTS_KEY_SIZE])
{
	switch (s->kdf_algorithm_id) {
	case VDE_KDF_PBKDF2_SHA256:
		return vde_pbkdf2_sha256(pass, passlen, s->key_salt,
					 sizeof(s->key_salt),
					 s->kdf_iterations, kek,
					 VDE_XTS_KEY_SIZE);
	case VDE_KDF_ARGON2ID:
		return derive_argon2id(s, pass, passlen, kek);
	default:
		return -EINVAL;
	}
}

static void xor_key(uint8_t *dst, const uint8_t *a, const uint8_t *b)
{
	size_t i;

	for (i = 0; i < VDE_XTS_KEY_SIZE; i++)
		dst[i] = a[i] ^ b[i];
}

static int check_wrap_params(uint16_t kdf, uint32_t iterations,
			     uint16_t log2_mem_kib)
{
	switch (kdf) {
	case VDE_KDF_PBKDF2_SHA256:
		if (iterations < VDE_KDF_PBKDF2_MIN_ITER ||
		    iterations > INT_MAX || log2_mem_kib)
			return -EINVAL;
		return 0;
	case VDE_KDF_ARGON2ID:
		if (iterations < 1 ||
		    log2_mem_kib < VDE_KDF_ARGON2_MIN_LOG2_MEM ||
		    log2_mem_kib > VDE_KDF_ARGON2_MAX_LOG2_MEM)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

int vde_keyslot_wrap(struct vde_keyslot *s, const uint8_t master[VDE_XTS_KEY_SIZE],
		     const void *pass, size_t passlen, uint16_t kdf,
		     uint32_t iterations, uint16_t log2_mem_kib)
{
	uint8_t kek[VDE_XTS_KEY_SIZE];
	struct vde_keyslot n = *s;
	int ret;

	ret = check_wrap_params(kdf, iterations, log2_mem_kib);
	if (ret)
		return ret;

	n.status = VDE_KEYSLOT_ACTIVE;
	n.algorithm_id = VDE_KEYSLOT_ALG_AES256_XTS;
	n.kdf_algorithm_id = kdf;
	n.kdf_iterations = iterations;
	n.kdf_log2_mem_kib = log2_mem_kib;
	ret = vde_random_bytes(n.key_salt, sizeof(n.key_salt));
	if (ret)
		goto out_wipe;
	ret = vde_keyslot_derive_kek(&n, pass, passlen, kek);
	if (ret)
		goto out_wipe;
	xor_key(n.wrapped_key, master, kek);
	*s = n;

out_wipe:
	vde_cleanse(kek, sizeof(kek));
	vde_cleanse(&n, sizeof(n));
	return ret;
}

int vde_keyslot_unwrap(const struct vde_keyslot *s, const void *pass,
		       size_t passlen, uint64_t fingerprint,
		       uint8_t master[VDE_XTS_KEY_SIZE])
{
	uint8_t kek[VDE_XTS_KEY_SIZE];
	uint8_t key[VDE_XTS_KEY_SIZE];
	uint64_t fp;
	int ret;

	if (s->status != VDE_KEYSLOT_ACTIVE ||
	    s->algorithm_id != VDE_KEYSLOT_ALG_AES256_XTS)
		return -EINVAL;

	ret = vde_keyslot_derive_kek(s, pass, passlen, kek);
	if (ret)
		goto out_wipe;
	xor_key(key, s->wrapped_key, kek);
	ret = vde_key_fingerprint(key, &fp);
	if (ret)
		goto out_wipe;
	if (fp != fingerprint) {
		ret = -EKEYREJECTED;
		goto out_wipe;
	}
	memcpy(master, key, sizeof(key));

out_wipe:
	vde_cleanse(kek, sizeof(kek));
	vde_cleanse(key, sizeof(key));
	return ret;
}
