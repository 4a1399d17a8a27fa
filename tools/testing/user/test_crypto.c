// SPDX-License-Identifier: GPL-2.0
/*
 * Known-answer and behaviour tests of libvde's crypto backend: AES-256-XTS
 * (IEEE 1619 and NIST CAVP vectors), vde's data-unit tweak, the key
 * fingerprint, SHA-256, PBKDF2, random bytes and secure memory.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "kselftest_harness.h"
#include "test_util.h"

static void fill_pattern(uint8_t *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/*
 * IEEE P1619/D16 (IEEE Std 1619-2007) Annex B, XTS-AES-256 vectors 10 and
 * 11: Key1 = digits of e, Key2 = digits of pi, 512-byte data units with
 * sequence numbers 0xff and 0xffff, plaintext 00 01 .. ff 00 01 .. ff.
 * Ciphertexts as published in Annex B (copied from GaloisInc/cryptol-specs
 * AES256_XTS.cry and cross-checked byte for byte against BoringSSL's
 * xts_test.cc).
 */
static const char ieee_key[] =
	"2718281828459045235360287471352662497757247093699959574966967627"
	"3141592653589793238462643383279502884197169399375105820974944592";

static const char ieee_vec10_ct[] =
	"1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b"
	"5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd"
	"5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0"
	"c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca"
	"2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0"
	"b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f"
	"93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec"
	"583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a"
	"84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1"
	"505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae"
	"9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29"
	"a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac"
	"6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f"
	"645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385"
	"1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa"
	"773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151";

static const char ieee_vec11_ct[] =
	"77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11"
	"e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2"
	"469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d"
	"3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b201"
	"3fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca179"
	"8d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922a"
	"aa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c6"
	"9aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80"
	"470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888a"
	"bf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab0"
	"18bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75"
	"bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63"
	"094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a"
	"7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca68"
	"6e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc090"
	"54fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803";

/*
 * NIST CAVP XTSGenAES256.rsp (SP 800-38E validation), 128-bit hex tweak
 * format, DataUnitLen = 256 bits (32-byte data units), COUNT = 1 and 2.
 */
static const struct {
	const char *key, *tweak, *pt, *ct;
} cavp[] = {
	{
		"1ea661c58d943a0e4801e42f4b0947149e7f9f8e3e68d0c7505210bd311a0e7c"
		"d6e13ffdf2418d8d1911c004cda58da3d619b7e2b9141e58318eea392cf41b08",
		"adf8d92627464ad2f0428e84a9f87564",
		"2eedea52cd8215e1acc647e810bbc3642e87287f8d2e57e36c0a24fbc12a202e",
		"cbaad0e2f6cea3f50b37f934d46a9b130b9d54f07e34f36af793e86f73c6d7db",
	},
	{
		"e149be00177d76b7c1d85bcbb6b5054ee10b9f51cd73f59e0840628b9e7d854e"
		"2e1c0ab0537186a2a7c314bbc5eb23b6876a26bcdbf9e6b758d1cae053c2f278",
		"0ea18818fab95289b1caab4e61349501",
		"f5f101d8e3a7681b1ddb21bd2826b24e32990bca49b39291b5369a9bca277d75",
		"5bf2479393cc673306fbb15e72600598e33d4d8a470727ce098730fd80afa959",
	},
};

static void ieee_vector(struct __test_metadata *_metadata, const char *ct_hex,
			uint64_t seqno)
{
	uint8_t key[VDE_XTS_KEY_SIZE], tweak[VDE_XTS_TWEAK_SIZE];
	uint8_t pt[512], ct[512], buf[512];
	struct vde_xts *x = NULL;
	size_t i;

	ASSERT_EQ(sizeof(key), unhex(ieee_key, key, sizeof(key)));
	ASSERT_EQ(sizeof(ct), unhex(ct_hex, ct, sizeof(ct)));
	for (i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	/* The data unit sequence number as a 128-bit little-endian tweak. */
	memset(tweak, 0, sizeof(tweak));
	for (i = 0; i < 8; i++)
		tweak[i] = (uint8_t)(seqno >> (8 * i));

	ASSERT_EQ(0, vde_xts_new(key, &x));
	memset(buf, 0xaa, sizeof(buf));
	ASSERT_EQ(0, vde_xts_crypt_unit(x, tweak, pt, buf, sizeof(pt), true));
	EXPECT_EQ(0, memcmp(buf, ct, sizeof(ct)));
	memset(buf, 0xaa, sizeof(buf));
	ASSERT_EQ(0, vde_xts_crypt_unit(x, tweak, ct, buf, sizeof(ct), false));
	EXPECT_EQ(0, memcmp(buf, pt, sizeof(pt)));
	vde_xts_free(x);
}

TEST(xts_ieee1619_vector10_aes256)
{
	/* The opening bytes of vector 10 as printed in the standard. */
	static const uint8_t head[32] = {
		0x1c, 0x3b, 0x3a, 0x10, 0x2f, 0x77, 0x03, 0x86,
		0xe4, 0x83, 0x6c, 0x99, 0xe3, 0x70, 0xcf, 0x9b,
		0xea, 0x00, 0x80, 0x3f, 0x5e, 0x48, 0x23, 0x57,
		0xa4, 0xae, 0x12, 0xd4, 0x14, 0xa3, 0xe6, 0x3b,
	};
	uint8_t ct[512];

	ASSERT_EQ(sizeof(ct), unhex(ieee_vec10_ct, ct, sizeof(ct)));
	ASSERT_EQ(0, memcmp(head, ct, sizeof(head)));
	ieee_vector(_metadata, ieee_vec10_ct, 0xff);
}

TEST(xts_ieee1619_vector11_aes256)
{
	ieee_vector(_metadata, ieee_vec11_ct, 0xffff);
}

TEST(xts_ieee1619_vector10_in_place)
{
	uint8_t key[VDE_XTS_KEY_SIZE], tweak[VDE_XTS_TWEAK_SIZE];
	uint8_t ct[512], buf[512];
	struct vde_xts *x = NULL;
	size_t i;

	ASSERT_EQ(sizeof(key), unhex(ieee_key, key, sizeof(key)));
	ASSERT_EQ(sizeof(ct), unhex(ieee_vec10_ct, ct, sizeof(ct)));
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	/* Sequence number 0xff is the unit at VDE offset 0xff * 4096. */
	vde_xts_tweak(0xffull << 12, tweak);

	ASSERT_EQ(0, vde_xts_new(key, &x));
	ASSERT_EQ(0, vde_xts_crypt_unit(x, tweak, buf, buf, sizeof(buf), true));
	EXPECT_EQ(0, memcmp(buf, ct, sizeof(ct)));
	ASSERT_EQ(0, vde_xts_crypt_unit(x, tweak, buf, buf, sizeof(buf), false));
	for (i = 0; i < sizeof(buf); i++)
		ASSERT_EQ((uint8_t)i, buf[i]);
	vde_xts_free(x);
}

TEST(xts_cavp_aes256_32_byte_units)
{
	size_t v;

	for (v = 0; v < ARRAY_SIZE(cavp); v++) {
		uint8_t key[VDE_XTS_KEY_SIZE], tweak[VDE_XTS_TWEAK_SIZE];
		uint8_t pt[32], ct[32], buf[32];
		struct vde_xts *x = NULL;

		ASSERT_EQ(sizeof(key), unhex(cavp[v].key, key, sizeof(key)));
		ASSERT_EQ(sizeof(tweak),
			  unhex(cavp[v].tweak, tweak, sizeof(tweak)));
		ASSERT_EQ(sizeof(pt), unhex(cavp[v].pt, pt, sizeof(pt)));
		ASSERT_EQ(sizeof(ct), unhex(cavp[v].ct, ct, sizeof(ct)));

		ASSERT_EQ(0, vde_xts_new(key, &x));
		ASSERT_EQ(0, vde_xts_crypt_unit(x, tweak, pt, buf, 32, true));
		EXPECT_EQ(0, memcmp(buf, ct, 32));
		ASSERT_EQ(0, vde_xts_crypt_unit(x, tweak, ct, buf, 32, false));
		EXPECT_EQ(0, memcmp(buf, pt, 32));
		vde_xts_free(x);
	}
}

TEST(xts_unit_length_limits)
{
	uint8_t key[VDE_XTS_KEY_SIZE], tweak[VDE_XTS_TWEAK_SIZE] = { 0 };
	uint8_t buf[32] = { 0 }, want[17];
	struct vde_xts *x = NULL;

	fill_pattern(key, sizeof(key), 1);
	ASSERT_EQ(0, vde_xts_new(key, &x));
	EXPECT_EQ(-EINVAL, vde_xts_crypt_unit(x, tweak, buf, buf, 0, true));
	EXPECT_EQ(-EINVAL, vde_xts_crypt_unit(x, tweak, buf, buf, 15, true));
	EXPECT_EQ(-EINVAL, vde_xts_crypt_unit(x, tweak, buf, buf, 15, false));
	EXPECT_EQ(-EINVAL, vde_xts_crypt_unit(x, tweak, buf, buf,
					      VDE_XTS_MAX_UNIT + 16, true));
	/* Ciphertext stealing: 17 bytes round-trip. */
	fill_pattern(buf, 17, 3);
	EXPECT_EQ(0, vde_xts_crypt_unit(x, tweak, buf, buf, 17, true));
	EXPECT_EQ(0, vde_xts_crypt_unit(x, tweak, buf, buf, 17, false));
	fill_pattern(want, sizeof(want), 3);
	EXPECT_EQ(0, memcmp(buf, want, sizeof(want)));
	vde_xts_free(x);
}

TEST(xts_new_refuses_equal_key_halves)
{
	uint8_t key[VDE_XTS_KEY_SIZE];
	struct vde_xts *x = NULL;

	fill_pattern(key, 32, 5);
	memcpy(key + 32, key, 32);
	EXPECT_EQ(-EINVAL, vde_xts_new(key, &x));
	EXPECT_EQ(NULL, x);
	vde_xts_free(NULL);
}

/*
 * dm-crypt aes-xts-plain64 with sector_size=4096 and iv_large_sectors: the
 * IV is the little-endian 64-bit number offset / 4096, zero-padded to 16
 * bytes.
 */
TEST(tweak_is_plain64_with_large_sectors)
{
	static const struct {
		uint64_t offset;
		uint8_t iv[16];
	} t[] = {
		{ 0, { 0 } },
		{ 4096, { 0x01 } },
		{ 8192, { 0x02 } },
		{ 4096ull * 0x123456789ull,
		  { 0x89, 0x67, 0x45, 0x23, 0x01 } },
		{ (1ull << 52) * 4096 - 4096,
		  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f } },
	};
	uint8_t tweak[VDE_XTS_TWEAK_SIZE];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		memset(tweak, 0x5a, sizeof(tweak));
		vde_xts_tweak(t[i].offset, tweak);
		EXPECT_EQ(0, memcmp(tweak, t[i].iv, sizeof(tweak)))
			TH_LOG("offset %#llx",
			       (unsigned long long)t[i].offset);
	}
}

TEST(xts_encrypt_is_per_unit)
{
	const uint64_t off = 4096ull * 0x123456789ull;
	uint8_t key[VDE_XTS_KEY_SIZE], tweak[VDE_XTS_TWEAK_SIZE];
	static uint8_t pt[8192], a[8192], b[8192], c[8192];
	struct vde_xts *x = NULL;

	fill_pattern(key, sizeof(key), 11);
	fill_pattern(pt, sizeof(pt), 13);
	ASSERT_EQ(0, vde_xts_new(key, &x));

	ASSERT_EQ(0, vde_xts_encrypt(x, off, pt, a, sizeof(pt)));

	vde_xts_tweak(off, tweak);
	ASSERT_EQ(0, vde_xts_crypt_unit(x, tweak, pt, b, 4096, true));
	vde_xts_tweak(off + 4096, tweak);
	ASSERT_EQ(0, vde_xts_crypt_unit(x, tweak, pt + 4096, b + 4096, 4096,
					true));
	EXPECT_EQ(0, memcmp(a, b, sizeof(a)));

	ASSERT_EQ(0, vde_xts_encrypt(x, off, pt, c, 4096));
	ASSERT_EQ(0, vde_xts_encrypt(x, off + 4096, pt + 4096, c + 4096, 4096));
	EXPECT_EQ(0, memcmp(a, c, sizeof(a)));

	/* The two units differ although only their tweaks set them apart. */
	memcpy(c, pt, 4096);
	memcpy(c + 4096, pt, 4096);
	ASSERT_EQ(0, vde_xts_encrypt(x, off, c, c, sizeof(c)));
	EXPECT_NE(0, memcmp(c, c + 4096, 4096));

	ASSERT_EQ(0, vde_xts_decrypt(x, off, a, b, sizeof(a)));
	EXPECT_EQ(0, memcmp(b, pt, sizeof(pt)));
	vde_xts_free(x);
}

TEST(xts_round_trip_in_place)
{
	static uint8_t buf[16 * 4096], orig[16 * 4096];
	uint8_t key[VDE_XTS_KEY_SIZE];
	struct vde_xts *x = NULL;

	fill_pattern(key, sizeof(key), 17);
	fill_pattern(orig, sizeof(orig), 19);
	memcpy(buf, orig, sizeof(buf));
	ASSERT_EQ(0, vde_xts_new(key, &x));
	ASSERT_EQ(0, vde_xts_encrypt(x, 40960, buf, buf, sizeof(buf)));
	EXPECT_NE(0, memcmp(buf, orig, 4096));
	EXPECT_NE(0, memcmp(buf + 15 * 4096, orig + 15 * 4096, 4096));
	ASSERT_EQ(0, vde_xts_decrypt(x, 40960, buf, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, orig, sizeof(buf)));
	/* Decrypting at another offset gives garbage, not the plaintext. */
	ASSERT_EQ(0, vde_xts_encrypt(x, 40960, buf, buf, 4096));
	ASSERT_EQ(0, vde_xts_decrypt(x, 45056, buf, buf, 4096));
	EXPECT_NE(0, memcmp(buf, orig, 4096));
	vde_xts_free(x);
}

TEST(xts_misaligned_einval)
{
	static uint8_t buf[8192], orig[8192];
	uint8_t key[VDE_XTS_KEY_SIZE];
	struct vde_xts *x = NULL;

	fill_pattern(key, sizeof(key), 23);
	fill_pattern(orig, sizeof(orig), 29);
	memcpy(buf, orig, sizeof(buf));
	ASSERT_EQ(0, vde_xts_new(key, &x));

	EXPECT_EQ(-EINVAL, vde_xts_encrypt(x, 512, buf, buf, 4096));
	EXPECT_EQ(-EINVAL, vde_xts_encrypt(x, 4095, buf, buf, 4096));
	EXPECT_EQ(-EINVAL, vde_xts_encrypt(x, 0, buf, buf, 4095));
	EXPECT_EQ(-EINVAL, vde_xts_encrypt(x, 0, buf, buf, 4097));
	EXPECT_EQ(-EINVAL, vde_xts_decrypt(x, 512, buf, buf, 4096));
	EXPECT_EQ(-EINVAL, vde_xts_decrypt(x, 0, buf, buf, 512));
	/* Past the end of the 64-bit offset space. */
	EXPECT_EQ(-EINVAL, vde_xts_encrypt(x, UINT64_MAX - 4095, buf, buf,
					   8192));
	EXPECT_EQ(0, memcmp(buf, orig, sizeof(buf)));

	EXPECT_EQ(0, vde_xts_encrypt(x, 0, buf, buf, 0));
	EXPECT_EQ(0, memcmp(buf, orig, sizeof(buf)));
	vde_xts_free(x);
}

TEST(xts_last_unit_of_offset_space)
{
	const uint64_t off = UINT64_MAX - 4095;
	static const uint8_t want_tweak[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f,
	};
	uint8_t key[VDE_XTS_KEY_SIZE], tweak[VDE_XTS_TWEAK_SIZE];
	static uint8_t pt[4096], a[4096], b[4096];
	struct vde_xts *x = NULL;

	fill_pattern(key, sizeof(key), 31);
	fill_pattern(pt, sizeof(pt), 37);
	vde_xts_tweak(off, tweak);
	ASSERT_EQ(0, memcmp(tweak, want_tweak, sizeof(tweak)));

	ASSERT_EQ(0, vde_xts_new(key, &x));
	ASSERT_EQ(0, vde_xts_encrypt(x, off, pt, a, sizeof(pt)));
	ASSERT_EQ(0, vde_xts_crypt_unit(x, want_tweak, pt, b, sizeof(pt),
					true));
	EXPECT_EQ(0, memcmp(a, b, sizeof(a)));
	vde_xts_free(x);
}

/*
 * Expected value from the openssl command-line tool:
 *   printf 'vde-xts-key-check' | openssl dgst -sha256 -mac HMAC \
 *	-macopt hexkey:000102...3f
 *   = eb4f9c1eddddf854d60c7ee46bb4ca6e1e1fed1707ae39f8ab361c871d7e798a
 */
TEST(key_fingerprint_known_answer)
{
	uint8_t key[VDE_XTS_KEY_SIZE];
	uint64_t fp = 0;
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	ASSERT_EQ(0, vde_key_fingerprint(key, &fp));
	EXPECT_EQ(0x54f8dddd1e9c4febull, fp);

	key[63] ^= 1;
	ASSERT_EQ(0, vde_key_fingerprint(key, &fp));
	EXPECT_NE(0x54f8dddd1e9c4febull, fp);
}

/* FIPS 180-2 Appendix B.1 and the empty message. */
TEST(sha256_known_answers)
{
	uint8_t out[VDE_SHA256_SIZE], want[VDE_SHA256_SIZE];

	ASSERT_EQ(0, vde_sha256("abc", 3, out));
	ASSERT_EQ(sizeof(want), unhex("ba7816bf8f01cfea414140de5dae2223"
				      "b00361a396177a9cb410ff61f20015ad",
				      want, sizeof(want)));
	EXPECT_EQ(0, memcmp(out, want, sizeof(out)));

	ASSERT_EQ(0, vde_sha256("", 0, out));
	ASSERT_EQ(sizeof(want), unhex("e3b0c44298fc1c149afbf4c8996fb924"
				      "27ae41e4649b934ca495991b7852b855",
				      want, sizeof(want)));
	EXPECT_EQ(0, memcmp(out, want, sizeof(out)));
}

/* RFC 7914 §11, the two PBKDF2-HMAC-SHA256 vectors. */
TEST(pbkdf2_sha256_rfc7914)
{
	uint8_t out[64], want[64];

	ASSERT_EQ(0, vde_pbkdf2_sha256("passwd", 6, (const uint8_t *)"salt", 4,
				       1, out, sizeof(out)));
	ASSERT_EQ(sizeof(want),
		  unhex("55ac046e56e3089fec1691c22544b605"
			"f94185216dde0465e68b9d57c20dacbc"
			"49ca9cccf179b645991664b39d77ef31"
			"7c71b845b1e30bd509112041d3a19783", want, sizeof(want)));
	EXPECT_EQ(0, memcmp(out, want, sizeof(out)));

	ASSERT_EQ(0, vde_pbkdf2_sha256("Password", 8, (const uint8_t *)"NaCl",
				       4, 80000, out, sizeof(out)));
	ASSERT_EQ(sizeof(want),
		  unhex("4ddcd8f60b98be21830cee5ef22701f9"
			"641a4418d04c0414aeff08876b34ab56"
			"a1d425a1225833549adb841b51c9b317"
			"6a272bdebba1d078478f62b397f33c8d", want, sizeof(want)));
	EXPECT_EQ(0, memcmp(out, want, sizeof(out)));
}

TEST(pbkdf2_sha256_bad_arguments)
{
	uint8_t out[64];

	EXPECT_EQ(-EINVAL, vde_pbkdf2_sha256("p", 1, (const uint8_t *)"s", 1,
					     0, out, sizeof(out)));
	EXPECT_EQ(-EINVAL, vde_pbkdf2_sha256("p", 1, (const uint8_t *)"s", 1,
					     1, out, 0));
	EXPECT_EQ(-EINVAL, vde_pbkdf2_sha256("p", 1, (const uint8_t *)"s", 1,
					     0x80000000u, out, sizeof(out)));
}

TEST(random_bytes_differ)
{
	uint8_t a[64], b[64], zero[64] = { 0 };

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	ASSERT_EQ(0, vde_random_bytes(a, sizeof(a)));
	ASSERT_EQ(0, vde_random_bytes(b, sizeof(b)));
	EXPECT_NE(0, memcmp(a, b, sizeof(a)));
	EXPECT_NE(0, memcmp(a, zero, sizeof(a)));
	EXPECT_EQ(0, vde_random_bytes(a, 0));
}

TEST(cleanse_zeroes)
{
	uint8_t buf[37];
	size_t i;

	memset(buf, 0xa5, sizeof(buf));
	vde_cleanse(buf, sizeof(buf));
	for (i = 0; i < sizeof(buf); i++)
		ASSERT_EQ(0, buf[i]);
	vde_cleanse(NULL, 10);
}

TEST(secure_alloc_free)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), i;
	uint8_t *p = vde_secure_alloc(page + 1);

	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % page);
	for (i = 0; i < page + 1; i++)
		ASSERT_EQ(0, p[i]);
	memset(p, 0x5a, page + 1);
	vde_secure_free(p, page + 1);

	EXPECT_EQ(NULL, vde_secure_alloc(0));
	vde_secure_free(NULL, 16);
}

TEST_HARNESS_MAIN
