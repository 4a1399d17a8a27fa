// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of libvde's key slots (encoding, KDFs, wrap and unwrap) and of the
 * secret input helpers (key files, passphrases from pipes and terminals).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "keyslot.h"
#include "secret.h"
#include "kselftest_harness.h"
#include "test_util.h"

#define PASS		"correct horse battery staple"
#define PASSLEN		(sizeof(PASS) - 1)
#define SALT		"somesaltsomesaltsomesaltsomesalt"
/* Small Argon2id costs that keep the tests fast. */
#define FAST_T		1
#define FAST_LOG2_MEM	10

/* Fingerprint of the master key 00 01 .. 3f (see test_crypto.c). */
#define FP_0_63		0x54f8dddd1e9c4febull

static void master_0_63(uint8_t key[VDE_XTS_KEY_SIZE])
{
	size_t i;

	for (i = 0; i < VDE_XTS_KEY_SIZE; i++)
		key[i] = (uint8_t)i;
}

static void argon2_slot(struct vde_keyslot *s, uint32_t t, uint16_t log2_mem)
{
	memset(s, 0, sizeof(*s));
	s->status = VDE_KEYSLOT_ACTIVE;
	s->algorithm_id = VDE_KEYSLOT_ALG_AES256_XTS;
	s->kdf_algorithm_id = VDE_KDF_ARGON2ID;
	s->kdf_iterations = t;
	s->kdf_log2_mem_kib = log2_mem;
	memcpy(s->key_salt, SALT, sizeof(s->key_salt));
}

TEST(keyslot_encode_byte_offsets)
{
	struct vde_keyslot s, d;
	uint8_t raw[VDE_KEYSLOT_SIZE], again[VDE_KEYSLOT_SIZE];
	size_t i;

	memset(&s, 0, sizeof(s));
	s.slot_index = 0x07;
	s.status = VDE_KEYSLOT_RETIRED;
	s.algorithm_id = 0x1203;
	for (i = 0; i < sizeof(s.wrapped_key); i++)
		s.wrapped_key[i] = (uint8_t)(0x80 + i);
	for (i = 0; i < sizeof(s.key_salt); i++)
		s.key_salt[i] = (uint8_t)(0x40 + i);
	s.kdf_iterations = 0x0a0b0c0d;
	s.kdf_algorithm_id = 0x0e01;
	s.kdf_log2_mem_kib = 0x1110;
	s.created_ticks = 0x0123456789abcdefll;
	s.retired_ticks = -2;

	memset(raw, 0xee, sizeof(raw));
	vde_keyslot_encode(&s, raw);

	EXPECT_EQ(0x07, raw[0]);
	EXPECT_EQ(0x02, raw[1]);
	EXPECT_EQ(0x03, raw[2]);
	EXPECT_EQ(0x12, raw[3]);
	for (i = 0; i < 64; i++)
		ASSERT_EQ((uint8_t)(0x80 + i), raw[4 + i]);
	for (i = 0; i < 32; i++)
		ASSERT_EQ((uint8_t)(0x40 + i), raw[68 + i]);
	EXPECT_EQ(0x0d, raw[100]);
	EXPECT_EQ(0x0c, raw[101]);
	EXPECT_EQ(0x0b, raw[102]);
	EXPECT_EQ(0x0a, raw[103]);
	EXPECT_EQ(0x01, raw[104]);
	EXPECT_EQ(0x0e, raw[105]);
	EXPECT_EQ(0x10, raw[106]);
	EXPECT_EQ(0x11, raw[107]);
	EXPECT_EQ(0xef, raw[108]);
	EXPECT_EQ(0xcd, raw[109]);
	EXPECT_EQ(0xab, raw[110]);
	EXPECT_EQ(0x89, raw[111]);
	EXPECT_EQ(0x67, raw[112]);
	EXPECT_EQ(0x45, raw[113]);
	EXPECT_EQ(0x23, raw[114]);
	EXPECT_EQ(0x01, raw[115]);
	EXPECT_EQ(0xfe, raw[116]);
	for (i = 117; i < 124; i++)
		ASSERT_EQ(0xff, raw[i]);

	memset(&d, 0x33, sizeof(d));
	vde_keyslot_decode(raw, &d);
	EXPECT_EQ(s.slot_index, d.slot_index);
	EXPECT_EQ(s.status, d.status);
	EXPECT_EQ(s.algorithm_id, d.algorithm_id);
	EXPECT_EQ(0, memcmp(s.wrapped_key, d.wrapped_key, 64));
	EXPECT_EQ(0, memcmp(s.key_salt, d.key_salt, 32));
	EXPECT_EQ(s.kdf_iterations, d.kdf_iterations);
	EXPECT_EQ(s.kdf_algorithm_id, d.kdf_algorithm_id);
	EXPECT_EQ(s.kdf_log2_mem_kib, d.kdf_log2_mem_kib);
	EXPECT_EQ(s.created_ticks, d.created_ticks);
	EXPECT_EQ(-2, d.retired_ticks);

	vde_keyslot_encode(&d, again);
	EXPECT_EQ(0, memcmp(raw, again, sizeof(raw)));
}

/*
 * A slot built outside vde: KEK = Argon2id(PASS, SALT, t=1, m=1024 KiB,
 * p=1, 64 bytes) from the argon2 command-line tool, wrapped = 00 01 .. 3f
 * XOR KEK, slot index 5, created 638000000000000000 ticks.
 */
static const char known_slot[] =
	"050103002ab3cf36f22e7e28015073cef87a8effa9bda4804ce2cfb166f7ac33"
	"b795be4696994e1750a3372ebfabc7400f988f7e756a56ac91fd36e9da061013"
	"c57508bc736f6d6573616c74736f6d6573616c74736f6d6573616c74736f6d65"
	"73616c740100000001000a000000b3a69ea1da080000000000000000";

TEST(keyslot_unwrap_known_slot)
{
	uint8_t raw[VDE_KEYSLOT_SIZE], again[VDE_KEYSLOT_SIZE];
	uint8_t master[VDE_XTS_KEY_SIZE], want[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s;

	ASSERT_EQ(sizeof(raw), unhex(known_slot, raw, sizeof(raw)));
	vde_keyslot_decode(raw, &s);
	EXPECT_EQ(5, s.slot_index);
	EXPECT_EQ(VDE_KEYSLOT_ACTIVE, s.status);
	EXPECT_EQ(VDE_KEYSLOT_ALG_AES256_XTS, s.algorithm_id);
	EXPECT_EQ(0, memcmp(s.key_salt, SALT, 32));
	EXPECT_EQ(1, s.kdf_iterations);
	EXPECT_EQ(VDE_KDF_ARGON2ID, s.kdf_algorithm_id);
	EXPECT_EQ(10, s.kdf_log2_mem_kib);
	EXPECT_EQ(638000000000000000ll, s.created_ticks);
	EXPECT_EQ(0, s.retired_ticks);
	vde_keyslot_encode(&s, again);
	EXPECT_EQ(0, memcmp(raw, again, sizeof(raw)));

	master_0_63(want);
	memset(master, 0, sizeof(master));
	ASSERT_EQ(0, vde_keyslot_unwrap(&s, PASS, PASSLEN, FP_0_63, master));
	EXPECT_EQ(0, memcmp(master, want, sizeof(master)));
}

/*
 * Argon2id(PASS, SALT, t=1, m=2^10 KiB, p=1, 64 bytes), from
 * `argon2 SALT -id -t 1 -m 10 -p 1 -l 64 -r` (Debian's argon2 0~20171227).
 */
TEST(derive_kek_argon2id_known_answer)
{
	uint8_t kek[VDE_XTS_KEY_SIZE], want[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s;

	argon2_slot(&s, FAST_T, FAST_LOG2_MEM);
	ASSERT_EQ(0, vde_keyslot_derive_kek(&s, PASS, PASSLEN, kek));
	ASSERT_EQ(sizeof(want),
		  unhex("2ab2cd35f62b782f095979c5f47780f0"
			"b9acb69358f7d9a67eeeb628ab88a059"
			"b6b86c34748611099782ed6b23b5a151"
			"455b649fa5c800dee23f2a28f9483683", want, sizeof(want)));
	EXPECT_EQ(0, memcmp(kek, want, sizeof(kek)));
}

/* The default cost, t=3 and 64 MiB: `argon2 SALT -id -t 3 -m 16 -p 1 -l 64`. */
TEST(derive_kek_argon2id_default_cost)
{
	uint8_t kek[VDE_XTS_KEY_SIZE], want[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s;

	argon2_slot(&s, VDE_KDF_ARGON2_DEFAULT_T,
		    VDE_KDF_ARGON2_DEFAULT_LOG2_MEM);
	ASSERT_EQ(0, vde_keyslot_derive_kek(&s, PASS, PASSLEN, kek));
	ASSERT_EQ(sizeof(want),
		  unhex("1ba7ef87d6a0665924fa9dbabd628bf3"
			"2890c448f58ec472bba7c1747dab9c8c"
			"bf51f895259ac293f2d7d29433f8a8c6"
			"ee4a8c441f9ad7be3fa9ef92f0514901", want, sizeof(want)));
	EXPECT_EQ(0, memcmp(kek, want, sizeof(kek)));
}

/* PBKDF2-HMAC-SHA256(PASS, SALT, 1000, 64 bytes), from Python's hashlib. */
TEST(derive_kek_pbkdf2_known_answer)
{
	uint8_t kek[VDE_XTS_KEY_SIZE], want[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s;

	argon2_slot(&s, 1000, 0);
	s.kdf_algorithm_id = VDE_KDF_PBKDF2_SHA256;
	/* Reading accepts fewer iterations than writing does. */
	ASSERT_EQ(0, vde_keyslot_derive_kek(&s, PASS, PASSLEN, kek));
	ASSERT_EQ(sizeof(want),
		  unhex("806d9c3e134010bdf7f1466fd107631f"
			"1d99d9e54d5f382835661d0211388e89"
			"5549b53a9790c506807c8bf2544a398c"
			"904a42be05c5b90ddcab43e617f18bc6", want, sizeof(want)));
	EXPECT_EQ(0, memcmp(kek, want, sizeof(kek)));
}

TEST(derive_kek_bad_parameters)
{
	uint8_t kek[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s;

	argon2_slot(&s, FAST_T, FAST_LOG2_MEM);
	s.kdf_algorithm_id = 2;		/* scrypt: named by the SDK, unused */
	EXPECT_EQ(-EINVAL, vde_keyslot_derive_kek(&s, PASS, PASSLEN, kek));

	argon2_slot(&s, 0, FAST_LOG2_MEM);
	EXPECT_EQ(-EINVAL, vde_keyslot_derive_kek(&s, PASS, PASSLEN, kek));
	argon2_slot(&s, FAST_T, VDE_KDF_ARGON2_MIN_LOG2_MEM - 1);
	EXPECT_EQ(-EINVAL, vde_keyslot_derive_kek(&s, PASS, PASSLEN, kek));
	argon2_slot(&s, FAST_T, VDE_KDF_ARGON2_MAX_LOG2_MEM + 1);
	EXPECT_EQ(-EINVAL, vde_keyslot_derive_kek(&s, PASS, PASSLEN, kek));

	argon2_slot(&s, 0, 0);
	s.kdf_algorithm_id = VDE_KDF_PBKDF2_SHA256;
	EXPECT_EQ(-EINVAL, vde_keyslot_derive_kek(&s, PASS, PASSLEN, kek));
}

TEST(wrap_unwrap_argon2id_round_trip)
{
	uint8_t master[VDE_XTS_KEY_SIZE], out[VDE_XTS_KEY_SIZE];
	uint8_t kek[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s;
	uint64_t fp;
	size_t i;

	ASSERT_EQ(0, vde_random_bytes(master, sizeof(master)));
	ASSERT_EQ(0, vde_key_fingerprint(master, &fp));
	memset(&s, 0, sizeof(s));
	s.slot_index = 9;
	s.created_ticks = 638000000000000001ll;

	ASSERT_EQ(0, vde_keyslot_wrap(&s, master, PASS, PASSLEN,
				      VDE_KDF_ARGON2ID, FAST_T,
				      FAST_LOG2_MEM));
	EXPECT_EQ(9, s.slot_index);
	EXPECT_EQ(VDE_KEYSLOT_ACTIVE, s.status);
	EXPECT_EQ(VDE_KEYSLOT_ALG_AES256_XTS, s.algorithm_id);
	EXPECT_EQ(VDE_KDF_ARGON2ID, s.kdf_algorithm_id);
	EXPECT_EQ(FAST_T, s.kdf_iterations);
	EXPECT_EQ(FAST_LOG2_MEM, s.kdf_log2_mem_kib);
	EXPECT_EQ(638000000000000001ll, s.created_ticks);
	EXPECT_EQ(0, s.retired_ticks);

	/* wrapped_key is exactly master XOR KEK. */
	ASSERT_EQ(0, vde_keyslot_derive_kek(&s, PASS, PASSLEN, kek));
	for (i = 0; i < sizeof(master); i++)
		ASSERT_EQ(master[i], s.wrapped_key[i] ^ kek[i]);

	memset(out, 0, sizeof(out));
	ASSERT_EQ(0, vde_keyslot_unwrap(&s, PASS, PASSLEN, fp, out));
	EXPECT_EQ(0, memcmp(out, master, sizeof(out)));
}

TEST(wrap_unwrap_pbkdf2_round_trip)
{
	uint8_t raw[VDE_KEYSLOT_SIZE], out[VDE_XTS_KEY_SIZE];
	uint8_t master[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s, d;

	master_0_63(master);
	memset(&s, 0, sizeof(s));
	ASSERT_EQ(0, vde_keyslot_wrap(&s, master, "pw", 2,
				      VDE_KDF_PBKDF2_SHA256,
				      VDE_KDF_PBKDF2_MIN_ITER, 0));
	EXPECT_EQ(VDE_KDF_PBKDF2_SHA256, s.kdf_algorithm_id);
	EXPECT_EQ(600000, s.kdf_iterations);
	EXPECT_EQ(0, s.kdf_log2_mem_kib);

	/* Through the on-disk encoding and back. */
	vde_keyslot_encode(&s, raw);
	vde_keyslot_decode(raw, &d);
	ASSERT_EQ(0, vde_keyslot_unwrap(&d, "pw", 2, FP_0_63, out));
	EXPECT_EQ(0, memcmp(out, master, sizeof(out)));
}

TEST(unwrap_wrong_passphrase_rejected)
{
	uint8_t master[VDE_XTS_KEY_SIZE], out[VDE_XTS_KEY_SIZE];
	uint8_t untouched[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s;

	master_0_63(master);
	memset(&s, 0, sizeof(s));
	ASSERT_EQ(0, vde_keyslot_wrap(&s, master, PASS, PASSLEN,
				      VDE_KDF_ARGON2ID, FAST_T,
				      FAST_LOG2_MEM));
	memset(out, 0x77, sizeof(out));
	memset(untouched, 0x77, sizeof(untouched));
	EXPECT_EQ(-EKEYREJECTED, vde_keyslot_unwrap(&s, "wrong", 5, FP_0_63,
						    out));
	EXPECT_EQ(-EKEYREJECTED, vde_keyslot_unwrap(&s, PASS, PASSLEN - 1,
						    FP_0_63, out));
	EXPECT_EQ(0, memcmp(out, untouched, sizeof(out)));
	/* The right passphrase against another key's fingerprint. */
	EXPECT_EQ(-EKEYREJECTED, vde_keyslot_unwrap(&s, PASS, PASSLEN,
						    FP_0_63 ^ 1, out));
	EXPECT_EQ(0, memcmp(out, untouched, sizeof(out)));
	EXPECT_EQ(0, vde_keyslot_unwrap(&s, PASS, PASSLEN, FP_0_63, out));
}

TEST(wrap_draws_a_new_salt_each_time)
{
	uint8_t master[VDE_XTS_KEY_SIZE], out[VDE_XTS_KEY_SIZE];
	struct vde_keyslot a, b;

	master_0_63(master);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ASSERT_EQ(0, vde_keyslot_wrap(&a, master, PASS, PASSLEN,
				      VDE_KDF_ARGON2ID, FAST_T,
				      FAST_LOG2_MEM));
	b = a;
	ASSERT_EQ(0, vde_keyslot_wrap(&b, master, PASS, PASSLEN,
				      VDE_KDF_ARGON2ID, FAST_T,
				      FAST_LOG2_MEM));
	EXPECT_NE(0, memcmp(a.key_salt, b.key_salt, sizeof(a.key_salt)));
	EXPECT_NE(0, memcmp(a.wrapped_key, b.wrapped_key,
			    sizeof(a.wrapped_key)));
	ASSERT_EQ(0, vde_keyslot_unwrap(&a, PASS, PASSLEN, FP_0_63, out));
	EXPECT_EQ(0, memcmp(out, master, sizeof(out)));
	ASSERT_EQ(0, vde_keyslot_unwrap(&b, PASS, PASSLEN, FP_0_63, out));
	EXPECT_EQ(0, memcmp(out, master, sizeof(out)));
}

TEST(wrap_refuses_weak_or_unknown_parameters)
{
	uint8_t master[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s, orig;

	master_0_63(master);
	memset(&s, 0x3c, sizeof(s));
	orig = s;
	EXPECT_EQ(-EINVAL, vde_keyslot_wrap(&s, master, PASS, PASSLEN,
					    VDE_KDF_PBKDF2_SHA256,
					    VDE_KDF_PBKDF2_MIN_ITER - 1, 0));
	EXPECT_EQ(-EINVAL, vde_keyslot_wrap(&s, master, PASS, PASSLEN,
					    VDE_KDF_PBKDF2_SHA256, 100000, 0));
	EXPECT_EQ(-EINVAL, vde_keyslot_wrap(&s, master, PASS, PASSLEN,
					    VDE_KDF_PBKDF2_SHA256,
					    VDE_KDF_PBKDF2_MIN_ITER, 16));
	EXPECT_EQ(-EINVAL, vde_keyslot_wrap(&s, master, PASS, PASSLEN,
					    VDE_KDF_ARGON2ID, 0,
					    FAST_LOG2_MEM));
	EXPECT_EQ(-EINVAL, vde_keyslot_wrap(&s, master, PASS, PASSLEN,
					    VDE_KDF_ARGON2ID, FAST_T, 2));
	EXPECT_EQ(-EINVAL, vde_keyslot_wrap(&s, master, PASS, PASSLEN,
					    VDE_KDF_ARGON2ID, FAST_T, 23));
	EXPECT_EQ(-EINVAL, vde_keyslot_wrap(&s, master, PASS, PASSLEN, 2,
					    FAST_T, FAST_LOG2_MEM));
	EXPECT_EQ(0, memcmp(&s, &orig, sizeof(s)));
}

TEST(unwrap_refuses_unusable_slots)
{
	uint8_t master[VDE_XTS_KEY_SIZE], out[VDE_XTS_KEY_SIZE];
	struct vde_keyslot s, t;

	master_0_63(master);
	memset(&s, 0, sizeof(s));
	ASSERT_EQ(0, vde_keyslot_wrap(&s, master, PASS, PASSLEN,
				      VDE_KDF_ARGON2ID, FAST_T,
				      FAST_LOG2_MEM));

	t = s;
	t.status = VDE_KEYSLOT_EMPTY;
	EXPECT_EQ(-EINVAL, vde_keyslot_unwrap(&t, PASS, PASSLEN, FP_0_63, out));
	t.status = VDE_KEYSLOT_RETIRED;
	EXPECT_EQ(-EINVAL, vde_keyslot_unwrap(&t, PASS, PASSLEN, FP_0_63, out));
	t.status = VDE_KEYSLOT_COMPROMISED;
	EXPECT_EQ(-EINVAL, vde_keyslot_unwrap(&t, PASS, PASSLEN, FP_0_63, out));

	t = s;
	t.algorithm_id = 1;		/* AES-256-GCM in the SDK */
	EXPECT_EQ(-EINVAL, vde_keyslot_unwrap(&t, PASS, PASSLEN, FP_0_63, out));

	t = s;
	t.kdf_algorithm_id = 2;
	EXPECT_EQ(-EINVAL, vde_keyslot_unwrap(&t, PASS, PASSLEN, FP_0_63, out));

	EXPECT_EQ(0, vde_keyslot_unwrap(&s, PASS, PASSLEN, FP_0_63, out));
}

/* Writes @len bytes 0, 1, 2, ... to a new temporary file named in @path. */
static int make_key_file(char *path, size_t pathlen, size_t len)
{
	uint8_t buf[128];
	size_t i;
	int fd;

	snprintf(path, pathlen, "/tmp/vde-test-key.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)i;
	if (write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

TEST(read_key_file_exact_length)
{
	uint8_t key[VDE_XTS_KEY_SIZE], want[VDE_XTS_KEY_SIZE];
	static const size_t lens[] = { 0, 63, 64, 65, 128 };
	char path[64];
	size_t i;

	master_0_63(want);
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		ASSERT_EQ(0, make_key_file(path, sizeof(path), lens[i]));
		memset(key, 0xcc, sizeof(key));
		if (lens[i] == 64) {
			EXPECT_EQ(0, vde_read_key_file(path, key));
			EXPECT_EQ(0, memcmp(key, want, sizeof(key)));
		} else {
			EXPECT_EQ(-EINVAL, vde_read_key_file(path, key))
				TH_LOG("%zu-byte key file", lens[i]);
		}
		unlink(path);
	}
	EXPECT_EQ(-ENOENT, vde_read_key_file("/nonexistent/vde-key", key));
}

TEST(read_key_file_from_stdin)
{
	uint8_t key[VDE_XTS_KEY_SIZE], want[VDE_XTS_KEY_SIZE];
	int p[2];

	master_0_63(want);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(64, write(p[1], want, 64));
	close(p[1]);
	ASSERT_EQ(STDIN_FILENO, dup2(p[0], STDIN_FILENO));
	close(p[0]);
	EXPECT_EQ(0, vde_read_key_file("-", key));
	EXPECT_EQ(0, memcmp(key, want, sizeof(key)));
	/* Standard input stays open. */
	EXPECT_EQ(0, fcntl(STDIN_FILENO, F_GETFD) & ~FD_CLOEXEC);
}

TEST(read_passphrase_from_pipe)
{
	static const char input[] = "hunter2\n\nlast line";
	size_t len = 64, n = 99;
	char *buf = vde_secure_alloc(len);
	int p[2];

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ((ssize_t)sizeof(input) - 1,
		  write(p[1], input, sizeof(input) - 1));
	close(p[1]);

	ASSERT_EQ(0, vde_read_passphrase("unused: ", p[0], buf, len, &n));
	EXPECT_EQ(7, n);
	EXPECT_STREQ("hunter2", buf);
	/* Nothing past the newline was consumed. */
	ASSERT_EQ(0, vde_read_passphrase(NULL, p[0], buf, len, &n));
	EXPECT_EQ(0, n);
	EXPECT_STREQ("", buf);
	/* A last line without a newline ends at end of file. */
	ASSERT_EQ(0, vde_read_passphrase(NULL, p[0], buf, len, &n));
	EXPECT_EQ(9, n);
	EXPECT_STREQ("last line", buf);
	EXPECT_EQ(-ENODATA, vde_read_passphrase(NULL, p[0], buf, len, &n));
	close(p[0]);
	vde_secure_free(buf, len);
}

TEST(read_passphrase_too_long)
{
	char buf[8];
	size_t n = 99, i;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(9, write(p[1], "12345678\n", 9));
	close(p[1]);
	/* 7 bytes fit with the NUL; 8 do not. */
	EXPECT_EQ(-EMSGSIZE, vde_read_passphrase(NULL, p[0], buf, sizeof(buf),
						 &n));
	EXPECT_EQ(99, n);
	for (i = 0; i < sizeof(buf); i++)
		ASSERT_EQ(0, buf[i]);
	EXPECT_EQ(-EINVAL, vde_read_passphrase(NULL, p[0], buf, 0, &n));
	close(p[0]);
}

struct typist {
	int master;
	int ret;
};

/* Types a line once the reader has turned echo off, as a person would. */
static void *type_passphrase(void *arg)
{
	struct typist *t = arg;
	struct timespec ts = { 0, 1000000 };
	struct termios tio;
	int i;

	t->ret = -ETIMEDOUT;
	for (i = 0; i < 5000; i++) {
		if (tcgetattr(t->master, &tio) < 0) {
			t->ret = -errno;
			return NULL;
		}
		if (!(tio.c_lflag & ECHO)) {
			t->ret = write(t->master, "s3cret\n", 7) == 7 ? 0 : -EIO;
			return NULL;
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

TEST(read_passphrase_from_terminal)
{
	struct typist t = { .ret = -1 };
	struct termios tio;
	char buf[32], out[64];
	size_t n = 0, got = 0;
	pthread_t thread;
	struct pollfd pfd;
	ssize_t r;
	int slave;

	t.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t.master < 0)
		SKIP(return, "no pseudo-terminals: %s", strerror(errno));
	ASSERT_EQ(0, grantpt(t.master));
	ASSERT_EQ(0, unlockpt(t.master));
	slave = open(ptsname(t.master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	ASSERT_LE(0, slave);
	ASSERT_EQ(0, tcgetattr(slave, &tio));
	ASSERT_NE(0, tio.c_lflag & ECHO);

	ASSERT_EQ(0, pthread_create(&thread, NULL, type_passphrase, &t));
	EXPECT_EQ(0, vde_read_passphrase("Passphrase: ", slave, buf,
					 sizeof(buf), &n));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(0, t.ret);
	EXPECT_EQ(6, n);
	EXPECT_STREQ("s3cret", buf);

	/* Echo is back on. */
	ASSERT_EQ(0, tcgetattr(slave, &tio));
	EXPECT_NE(0, tio.c_lflag & ECHO);

	/* The terminal showed the prompt and a newline, not the secret. */
	pfd.fd = t.master;
	pfd.events = POLLIN;
	while (got < sizeof(out) && poll(&pfd, 1, 200) == 1) {
		r = read(t.master, out + got, sizeof(out) - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	ASSERT_EQ(14, got);
	EXPECT_EQ(0, memcmp(out, "Passphrase: \r\n", 14));

	close(slave);
	close(t.master);
}

TEST_HARNESS_MAIN
