// SPDX-License-Identifier: GPL-2.0
/*
 * The cipher team gives exactly the bytes one thread would, for every
 * size and split, and refuses what one thread refuses; queued jobs that
 * cut their own buffers into parts on the same team all finish.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "kselftest_harness.h"
#include "test_util.h"
#include "xts-team.h"

#define BIG	(1024 * 1024 + 3 * 4096)
#define NR_JOBS	12
#define JOB_LEN	(256 * 1024)

static void pattern_job(uint8_t *p, unsigned int seed)
{
	size_t i;

	for (i = 0; i < JOB_LEN; i++)
		p[i] = (uint8_t)(i * 7 + seed * 29 + (i >> 12));
}

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

/* A queued job: encrypt its own buffer with the team that runs it. */
struct qjob {
	struct vde_team_work w;
	struct vde_xts_team *t;
	uint8_t *buf;
	uint64_t off;
	int ret;
	pthread_t thread;
	pthread_mutex_t *lock;
	pthread_cond_t *cond;
	unsigned int *left;
	pthread_barrier_t *both;
};

static void qjob_fn(struct vde_team_work *w, struct vde_xts *x)
{
	struct qjob *j = (struct qjob *)w;

	if (j->both)
		pthread_barrier_wait(j->both);
	j->ret = vde_xts_team_crypt(j->t, x, j->off, j->buf, JOB_LEN, true);
	j->thread = pthread_self();
	pthread_mutex_lock(j->lock);
	if (!--*j->left)
		pthread_cond_signal(j->cond);
	pthread_mutex_unlock(j->lock);
}

/*
 * More jobs than threads, every one calling on the team that runs it.
 * The first two jobs wait for each other, so both team threads are in a
 * job when they call: whichever of them cuts its buffer into parts (the
 * team has no queued work) must finish while the other thread is busy.
 */
TEST_F(team, queued_jobs_split_on_their_own_team)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	unsigned int left = NR_JOBS, i;
	pthread_barrier_t both;
	struct qjob jobs[NR_JOBS];
	struct vde_xts_team *t;
	uint8_t *want;

	want = malloc(JOB_LEN);
	ASSERT_NE(NULL, want);
	ASSERT_EQ(0, pthread_barrier_init(&both, NULL, 2));
	ASSERT_EQ(0, vde_xts_team_new(self->key, 2, &t));
	for (i = 0; i < NR_JOBS; i++) {
		jobs[i] = (struct qjob){
			.w.fn = qjob_fn, .t = t, .off = (uint64_t)i * JOB_LEN,
			.ret = 1, .lock = &lock, .cond = &cond, .left = &left,
			.both = i < 2 ? &both : NULL,
		};
		jobs[i].buf = malloc(JOB_LEN);
		ASSERT_NE(NULL, jobs[i].buf);
		pattern_job(jobs[i].buf, i);
	}
	for (i = 0; i < NR_JOBS; i++)
		vde_xts_team_queue(t, &jobs[i].w);
	pthread_mutex_lock(&lock);
	while (left)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	for (i = 0; i < NR_JOBS; i++) {
		EXPECT_EQ(0, jobs[i].ret);
		EXPECT_EQ(0, pthread_equal(jobs[i].thread, pthread_self()));
		pattern_job(want, i);
		ASSERT_EQ(0, vde_xts_encrypt(self->x, jobs[i].off, want, want, JOB_LEN));
		EXPECT_EQ(0, memcmp(want, jobs[i].buf, JOB_LEN)) TH_LOG("job %u", i);
	}
	EXPECT_EQ(0, pthread_equal(jobs[0].thread, jobs[1].thread));
	vde_xts_team_free(t);
	pthread_barrier_destroy(&both);
	for (i = 0; i < NR_JOBS; i++)
		free(jobs[i].buf);
	free(want);
}

/* Blocks a team thread until the test lets it go. */
struct hold {
	struct vde_team_work w;
	pthread_barrier_t *go;
};

static void hold_fn(struct vde_team_work *w, struct vde_xts *x)
{
	(void)x;
	if (((struct hold *)w)->go)
		pthread_barrier_wait(((struct hold *)w)->go);
}

/*
 * An idle team takes parts of a large buffer (3 parts on 2 threads: the
 * caller keeps one); a team with queued work takes none, the caller does
 * it all, and the bytes are the same either way.
 */
TEST_F(team, parts_only_for_an_idle_team)
{
	struct hold holds[3];
	pthread_barrier_t go;
	struct vde_xts_team *t;
	unsigned int i;

	ASSERT_EQ(0, vde_xts_encrypt(self->x, 0, self->a, self->a, JOB_LEN));
	ASSERT_EQ(0, vde_xts_team_new(self->key, 2, &t));
	ASSERT_EQ(0, vde_xts_team_crypt(t, self->x, 0, self->b, JOB_LEN, true));
	EXPECT_EQ(2, vde_xts_team_parts(t));
	EXPECT_EQ(0, memcmp(self->a, self->b, JOB_LEN));

	/* Both threads held, a third job queued behind them. */
	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, 3));
	for (i = 0; i < 3; i++) {
		holds[i] = (struct hold){ .w.fn = hold_fn, .go = i < 2 ? &go : NULL };
		vde_xts_team_queue(t, &holds[i].w);
	}
	ASSERT_EQ(0, vde_xts_team_crypt(t, self->x, 0, self->b, JOB_LEN, false));
	EXPECT_EQ(2, vde_xts_team_parts(t)) TH_LOG("parts for a busy team");
	ASSERT_EQ(0, vde_xts_decrypt(self->x, 0, self->a, self->a, JOB_LEN));
	EXPECT_EQ(0, memcmp(self->a, self->b, JOB_LEN));
	pthread_barrier_wait(&go);
	vde_xts_team_free(t);
	pthread_barrier_destroy(&go);
}

TEST_HARNESS_MAIN
