/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvde key slots: the 124-byte slots of the EncryptionHeader (ENCR)
 * region (format §5.2) with vde's wrapping scheme (format §10).
 *
 * A slot holds the 64-byte master key XORed with a 64-byte key-encryption
 * key (KEK) that a KDF derives from a passphrase and the slot's random
 * salt. A passphrase is checked by comparing the unwrapped key's
 * fingerprint (vde_key_fingerprint()) with the superblock's.
 *
 * Functions return 0 on success and a negative errno on failure; they
 * never rely on the global errno.
 */
#ifndef VDE_KEYSLOT_H
#define VDE_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

/** Size of an encoded key slot, in bytes. */
#define VDE_KEYSLOT_SIZE		124
/** Size of WrappedKey; vde stores a whole 64-byte XTS key in it. */
#define VDE_KEYSLOT_WRAPPED_SIZE	64
/** Size of KeySalt, in bytes. */
#define VDE_KEYSLOT_SALT_SIZE		32

/* Byte offsets of the fields in an encoded slot (little-endian). */
#define VDE_KEYSLOT_OFF_INDEX		0	/* u8 */
#define VDE_KEYSLOT_OFF_STATUS		1	/* u8 */
#define VDE_KEYSLOT_OFF_ALGORITHM	2	/* u16 */
#define VDE_KEYSLOT_OFF_WRAPPED		4	/* u8[64] */
#define VDE_KEYSLOT_OFF_SALT		68	/* u8[32] */
#define VDE_KEYSLOT_OFF_KDF_ITER	100	/* u32 */
#define VDE_KEYSLOT_OFF_KDF_ALG		104	/* u16 */
#define VDE_KEYSLOT_OFF_KDF_LOG2_MEM	106	/* u16, "reserved" in the SDK */
#define VDE_KEYSLOT_OFF_CREATED		108	/* i64, .NET UTC ticks */
#define VDE_KEYSLOT_OFF_RETIRED		116	/* i64, .NET UTC ticks */

/* Slot status. */
#define VDE_KEYSLOT_EMPTY		0
#define VDE_KEYSLOT_ACTIVE		1
#define VDE_KEYSLOT_RETIRED		2
#define VDE_KEYSLOT_COMPROMISED		3

/** AlgorithmId of a vde slot: the wrapped key is an AES-256-XTS key. */
#define VDE_KEYSLOT_ALG_AES256_XTS	3

/* KdfAlgorithmId. */
#define VDE_KDF_PBKDF2_SHA256		0
#define VDE_KDF_ARGON2ID		1

/** Fewest PBKDF2 iterations vde_keyslot_wrap() accepts. */
#define VDE_KDF_PBKDF2_MIN_ITER		600000u
/** Default Argon2id time cost. */
#define VDE_KDF_ARGON2_DEFAULT_T	3
/** Default Argon2id memory cost, log2 KiB (16 = 64 MiB). */
#define VDE_KDF_ARGON2_DEFAULT_LOG2_MEM	16
/** Smallest Argon2id memory cost, log2 KiB (libargon2's minimum is 8). */
#define VDE_KDF_ARGON2_MIN_LOG2_MEM	3
/** Largest Argon2id memory cost, log2 KiB (22 = 4 GiB). */
#define VDE_KDF_ARGON2_MAX_LOG2_MEM	22

/**
 * struct vde_keyslot - a decoded key slot
 * @slot_index: SlotIndex, the slot's position
 * @status: VDE_KEYSLOT_EMPTY, _ACTIVE, _RETIRED or _COMPROMISED
 * @algorithm_id: AlgorithmId; VDE_KEYSLOT_ALG_AES256_XTS for vde slots
 * @wrapped_key: master key XOR KEK
 * @key_salt: KDF salt, drawn anew each time the slot is written
 * @kdf_iterations: PBKDF2 iterations or Argon2id time cost
 * @kdf_algorithm_id: VDE_KDF_PBKDF2_SHA256 or VDE_KDF_ARGON2ID
 * @kdf_log2_mem_kib: Argon2id memory cost as log2 KiB; 0 for PBKDF2
 * @created_ticks: CreatedUtcTicks (.NET ticks, 100 ns since 0001-01-01)
 * @retired_ticks: RetiredUtcTicks, 0 while not retired
 */
struct vde_keyslot {
	uint8_t slot_index;
	uint8_t status;
	uint16_t algorithm_id;
	uint8_t wrapped_key[VDE_KEYSLOT_WRAPPED_SIZE];
	uint8_t key_salt[VDE_KEYSLOT_SALT_SIZE];
	uint32_t kdf_iterations;
	uint16_t kdf_algorithm_id;
	uint16_t kdf_log2_mem_kib;
	int64_t created_ticks;
	int64_t retired_ticks;
};

/**
 * vde_keyslot_decode() - decode an on-disk key slot
 * @raw: the 124 bytes of the slot
 * @s: filled with its fields
 *
 * Decoding checks nothing; vde_keyslot_unwrap() refuses slots it cannot
 * use.
 */
void vde_keyslot_decode(const uint8_t raw[VDE_KEYSLOT_SIZE],
			struct vde_keyslot *s);

/**
 * vde_keyslot_encode() - encode a key slot for the disk
 * @s: the slot
 * @raw: filled with its 124 bytes
 */
void vde_keyslot_encode(const struct vde_keyslot *s,
			uint8_t raw[VDE_KEYSLOT_SIZE]);

/**
 * vde_keyslot_derive_kek() - derive a slot's key-encryption key
 * @s: the slot; its KDF fields and salt are used
 * @pass: passphrase
 * @passlen: size of @pass
 * @kek: the 64-byte KEK; wipe it after use
 *
 * PBKDF2-HMAC-SHA256 uses kdf_iterations (at least 1) iterations.
 * Argon2id uses time cost kdf_iterations, memory 2^kdf_log2_mem_kib KiB
 * (VDE_KDF_ARGON2_MIN_LOG2_MEM to VDE_KDF_ARGON2_MAX_LOG2_MEM) and
 * parallelism 1. Both take the 32-byte salt and produce 64 bytes.
 *
 * Context: may take long and, for Argon2id, allocate the memory cost.
 * Return: 0, -EINVAL for an unknown KDF or out-of-range parameters, -ENOMEM
 * or -EIO.
 */
int vde_keyslot_derive_kek(const struct vde_keyslot *s, const void *pass,
			   size_t passlen, uint8_t kek[VDE_XTS_KEY_SIZE]);

/**
 * vde_keyslot_wrap() - store a master key in a slot under a passphrase
 * @s: the slot to fill
 * @master: the 64-byte master key
 * @pass: passphrase
 * @passlen: size of @pass
 * @kdf: VDE_KDF_PBKDF2_SHA256 or VDE_KDF_ARGON2ID
 * @iterations: PBKDF2 iterations (at least VDE_KDF_PBKDF2_MIN_ITER) or
 *		Argon2id time cost (at least 1)
 * @log2_mem_kib: Argon2id memory cost as log2 KiB; must be 0 for PBKDF2
 *
 * Draws a new random salt, then sets status Active, algorithm
 * AES-256-XTS, the KDF fields and wrapped_key = @master XOR KEK. The
 * slot_index and tick fields are left as the caller set them. The KEK is
 * wiped before returning.
 *
 * Context: may take long (see vde_keyslot_derive_kek()).
 * Return: 0, -EINVAL for an unknown KDF or parameters out of range,
 * -ENOMEM or -EIO. On failure @s is unchanged.
 */
int vde_keyslot_wrap(struct vde_keyslot *s, const uint8_t master[VDE_XTS_KEY_SIZE],
		     const void *pass, size_t passlen, uint16_t kdf,
		     uint32_t iterations, uint16_t log2_mem_kib);

/**
 * vde_keyslot_unwrap() - recover the master key from a slot
 * @s: the slot
 * @pass: passphrase
 * @passlen: size of @pass
 * @fingerprint: the superblock's EncryptionKeyFingerprint
 * @master: receives the 64-byte master key on success; untouched on
 *	    failure
 *
 * Context: may take long (see vde_keyslot_derive_kek()).
 * Return: 0 if the unwrapped key's fingerprint is @fingerprint,
 * -EKEYREJECTED if it is not (wrong passphrase, or a slot of another key),
 * -EINVAL if the slot is not Active or names an unknown algorithm or KDF,
 * -ENOMEM or -EIO.
 */
int vde_keyslot_unwrap(const struct vde_keyslot *s, const void *pass,
		       size_t passlen, uint64_t fingerprint,
		       uint8_t master[VDE_XTS_KEY_SIZE]);

#endif /* VDE_KEYSLOT_H */
