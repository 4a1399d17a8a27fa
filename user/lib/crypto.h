/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvde crypto backend: AES-256-XTS for encrypted regions, hashes, MACs,
 * key derivation, random bytes and locked memory for secrets.
 *
 * This header is the only interface to the cryptographic library; nothing
 * outside crypto.c sees its types. Functions return 0 or a non-negative
 * result on success and a negative errno on failure (-EINVAL for bad
 * arguments, -ENOMEM when memory runs out, -EIO when the cryptographic
 * library fails); they never rely on the global errno and never abort.
 */
#ifndef VDE_CRYPTO_H
#define VDE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Size of an AES-256-XTS key (key1 || key2), in bytes. */
#define VDE_XTS_KEY_SIZE	64
/** Size of an XTS tweak (the initial value of one data unit), in bytes. */
#define VDE_XTS_TWEAK_SIZE	16
/** The XTS data unit of encrypted regions, whatever the VDE block size. */
#define VDE_XTS_UNIT_SIZE	4096
/** log2(VDE_XTS_UNIT_SIZE). */
#define VDE_XTS_UNIT_SHIFT	12
/** Smallest data unit that XTS can process (one AES block). */
#define VDE_XTS_MIN_UNIT	16
/** Largest data unit accepted by vde_xts_crypt_unit() (2^20 AES blocks). */
#define VDE_XTS_MAX_UNIT	(16u << 20)
/** Size of a SHA-256 digest, in bytes. */
#define VDE_SHA256_SIZE		32
/** Message authenticated by the key fingerprint (format §10, "Key check"). */
#define VDE_KEY_CHECK_MSG	"vde-xts-key-check"

struct vde_xts;

/**
 * vde_xts_new() - create an AES-256-XTS cipher handle
 * @key: 64-byte key; bytes 0-31 encrypt the data (key1), bytes 32-63
 *	 encrypt the tweak (key2)
 * @out: set to the new handle on success, untouched on failure
 *
 * The handle keeps its own copy of the expanded key, so @key may be wiped
 * as soon as this returns. IEEE 1619-2018 forbids key1 == key2; such a key
 * is refused.
 *
 * Context: a handle holds per-operation state and must be used by one
 * thread at a time; give each thread its own handle.
 * Return: 0, -EINVAL if the two key halves are equal, -ENOMEM or -EIO.
 */
int vde_xts_new(const uint8_t key[VDE_XTS_KEY_SIZE], struct vde_xts **out);

/**
 * vde_xts_free() - wipe and free a cipher handle
 * @x: handle from vde_xts_new(), or NULL
 *
 * Key material held by the handle is overwritten before it is released.
 */
void vde_xts_free(struct vde_xts *x);

/**
 * vde_xts_crypt_unit() - encrypt or decrypt one XTS data unit
 * @x: cipher handle
 * @tweak: the data unit's 16-byte tweak, as IEEE 1619 defines it
 * @in: @len bytes of input
 * @out: @len bytes of output; may equal @in (in place), must not otherwise
 *	 overlap it
 * @len: size of the data unit, VDE_XTS_MIN_UNIT to VDE_XTS_MAX_UNIT bytes;
 *	 a length that is not a multiple of 16 uses ciphertext stealing
 * @encrypt: true to encrypt, false to decrypt
 *
 * Context: the handle must not be used by another thread meanwhile.
 * Return: 0, -EINVAL for a bad length, or -EIO.
 */
int vde_xts_crypt_unit(struct vde_xts *x, const uint8_t tweak[VDE_XTS_TWEAK_SIZE],
		       const void *in, void *out, size_t len, bool encrypt);

/**
 * vde_xts_tweak() - the tweak of the data unit at a VDE byte offset
 * @vde_offset: byte offset from VDE block 0 (after any preamble)
 * @tweak: filled with @vde_offset / 4096 as a 128-bit little-endian integer
 *
 * This is dm-crypt's "plain64" IV with sector_size=4096 and
 * iv_large_sectors. Bits of @vde_offset below 4096 are ignored.
 */
void vde_xts_tweak(uint64_t vde_offset, uint8_t tweak[VDE_XTS_TWEAK_SIZE]);

/**
 * vde_xts_encrypt() - encrypt whole data units of an encrypted region
 * @x: cipher handle
 * @vde_offset: VDE byte offset of the first unit, a multiple of 4096
 * @in: @len bytes of plaintext
 * @out: @len bytes of ciphertext; may equal @in, must not otherwise overlap
 * @len: a multiple of 4096, possibly 0; @vde_offset + @len must not exceed
 *	 2^64
 *
 * Each 4096-byte unit is encrypted with the tweak vde_xts_tweak() gives
 * for its own offset.
 *
 * Context: the handle must not be used by another thread meanwhile.
 * Return: 0, -EINVAL for a misaligned offset or length, or -EIO. On -EIO
 * @out may hold a mix of input and output.
 */
int vde_xts_encrypt(struct vde_xts *x, uint64_t vde_offset, const void *in,
		    void *out, size_t len);

/**
 * vde_xts_decrypt() - decrypt whole data units of an encrypted region
 * @x: cipher handle
 * @vde_offset: VDE byte offset of the first unit, a multiple of 4096
 * @in: @len bytes of ciphertext
 * @out: @len bytes of plaintext; may equal @in, must not otherwise overlap
 * @len: a multiple of 4096, possibly 0; @vde_offset + @len must not exceed
 *	 2^64
 *
 * Context: the handle must not be used by another thread meanwhile.
 * Return: as vde_xts_encrypt().
 */
int vde_xts_decrypt(struct vde_xts *x, uint64_t vde_offset, const void *in,
		    void *out, size_t len);

/**
 * vde_random_bytes() - fill a buffer from the private DRBG
 * @buf: output
 * @len: number of bytes
 *
 * Uses the cryptographic library's private random generator, the one
 * meant for key material and salts.
 *
 * Context: thread-safe.
 * Return: 0 or -EIO.
 */
int vde_random_bytes(void *buf, size_t len);

/**
 * vde_key_fingerprint() - the superblock's EncryptionKeyFingerprint
 * @key: the 64-byte master key
 * @fp: set to the first 8 bytes, read as a little-endian u64, of
 *	HMAC-SHA256(key = @key, message = "vde-xts-key-check")
 *
 * Context: thread-safe.
 * Return: 0 or -EIO.
 */
int vde_key_fingerprint(const uint8_t key[VDE_XTS_KEY_SIZE], uint64_t *fp);

/**
 * vde_sha256() - SHA-256 of a buffer
 * @buf: input
 * @len: size of @buf
 * @out: the 32-byte digest
 *
 * Context: thread-safe.
 * Return: 0 or -EIO.
 */
int vde_sha256(const void *buf, size_t len, uint8_t out[VDE_SHA256_SIZE]);

/**
 * vde_pbkdf2_sha256() - PBKDF2 with HMAC-SHA256 (RFC 8018)
 * @pass: password
 * @passlen: size of @pass
 * @salt: salt
 * @saltlen: size of @salt
 * @iterations: iteration count, 1 to INT_MAX
 * @out: derived key
 * @outlen: size of @out, 1 to INT_MAX
 *
 * Context: thread-safe; may take long for large @iterations.
 * Return: 0, -EINVAL for out-of-range counts or sizes, or -EIO.
 */
int vde_pbkdf2_sha256(const void *pass, size_t passlen, const uint8_t *salt,
		      size_t saltlen, uint32_t iterations, uint8_t *out,
		      size_t outlen);

/**
 * vde_cleanse() - overwrite memory in a way the compiler cannot elide
 * @p: memory to wipe, or NULL
 * @len: size of @p
 */
void vde_cleanse(void *p, size_t len);

/**
 * vde_secure_alloc() - allocate zeroed memory for secrets
 * @len: size in bytes, greater than 0
 *
 * The memory is page-aligned, excluded from core dumps and locked into RAM
 * where RLIMIT_MEMLOCK allows; when it does not, the memory is still
 * returned, unlocked.
 *
 * Return: the memory, or NULL if @len is 0 or no memory is left. Release it
 * with vde_secure_free() and the same @len.
 */
void *vde_secure_alloc(size_t len);

/**
 * vde_secure_free() - wipe, unlock and free memory from vde_secure_alloc()
 * @p: the memory, or NULL
 * @len: the size passed to vde_secure_alloc()
 */
void vde_secure_free(void *p, size_t len);

#endif /* VDE_CRYPTO_H */
