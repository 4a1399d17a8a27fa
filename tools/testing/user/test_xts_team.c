// SPDX-License-Identifier: GPL-2.0
/*
 * The cipher team gives exactly the bytes one thread would, for every
 * size and split, and refuses what one thread refuses.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "kselftest_harness.h"
#include "test_util.h"
#include "xts-team.h"

#define BIG	(1024 * 1024 + 3 * 4096)

FIXTURE(team) {
	uint8_t key[VDE_XTS_KEY_SIZE];
	struct vde_xts *x;
	uint8_t *a, *b;
};

FIXTURE_SETUP(team)
{
	unsigned int i;

	for (i = 0; i < sizeof(self->key); i++)
		self->key[i] = (uint8_t)(i * 13 + 1);
	ASSERT_EQ(0, vde_xts_new(self->key, &self->x));
	self->a = malloc(BIG);
	self->b = malloc(BIG);
	ASSERT_NE(NULL, self->a);
	ASSERT_NE(NULL, self->b);
	for (i = 0; i < BIG; i++)
		self->a[i] = (uint8_t)(i * 31 + (i >> 12));
	memcpy(self->b, self->a, BIG);
}

FIXTURE_TEARDOWN(team)
{
	vde_xts_free(self->x);
	free(self->a);
	free(self->b);
}

/* Team of @nr threads vs one thread, @len bytes at VDE offset @off. */
static void same_bytes(struct __test_metadata *_metadata,
		       FIXTURE_DATA(team) *self, unsigned int nr, size_t len,
		       uint64_t off)
{
	struct vde_xts_team *t;

	ASSERT_EQ(0, vde_xts_team_new(self->key, nr, &t));
	EXPECT_EQ(nr == 0, t == NULL);
	ASSERT_EQ(0, vde_xts_encrypt(self->x, off, self->a, self->a, len));
	ASSERT_EQ(0, vde_xts_team_crypt(t, self->x, off, self->b, len, true));
	EXPECT_EQ(0, memcmp(self->a, self->b, len)) TH_LOG("nr %u len %zu", nr, len);
	ASSERT_EQ(0, vde_xts_team_crypt(t, self->x, off, self->b, len, false));
	ASSERT_EQ(0, vde_xts_decrypt(self->x, off, self->a, self->a, len));
	EXPECT_EQ(0, memcmp(self->a, self->b, len));
	vde_xts_team_free(t);
}

TEST_F(team, matches_one_thread)
{
	static const size_t lens[] = { 4096, 60 * 1024, 64 * 1024, 68 * 1024,
				       128 * 1024, 256 * 1024, BIG };
	static const unsigned int nrs[] = { 0, 1, 3, 7 };
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(nrs); i++)
		for (j = 0; j < ARRAY_SIZE(lens); j++)
			same_bytes(_metadata, self, nrs[i], lens[j],
				   0x123456000ULL + j * 4096);
}

TEST_F(team, many_callers_share_one_team)
{
	struct vde_xts_team *t;
	int i;

	ASSERT_EQ(0, vde_xts_team_new(self->key, 2, &t));
	for (i = 0; i < 50; i++)
		ASSERT_EQ(0, vde_xts_team_crypt(t, self->x, 8192, self->b, BIG,
						i % 2 == 0));
	EXPECT_EQ(0, memcmp(self->a, self->b, BIG));
	vde_xts_team_free(t);
}

TEST_F(team, misaligned_refused)
{
	struct vde_xts_team *t;

	ASSERT_EQ(0, vde_xts_team_new(self->key, 2, &t));
	EXPECT_EQ(-EINVAL, vde_xts_team_crypt(t, self->x, 512, self->b,
					      256 * 1024, true));
	EXPECT_EQ(-EINVAL, vde_xts_team_crypt(t, self->x, 0, self->b,
					      256 * 1024 + 512, true));
	EXPECT_EQ(0, memcmp(self->a, self->b, BIG));
	vde_xts_team_free(t);
}

TEST_HARNESS_MAIN
