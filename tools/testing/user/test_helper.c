// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the helper's request serving, without a kernel module:
 * requests are served against a temporary backing file, through the
 * synchronous core, the thread pool's worker and the io_uring path, and
 * the bytes in the file are compared with an independent AES-256-XTS
 * computation (see helper_fixture.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "helper_fixture.h"
#include "kselftest_harness.h"

FIXTURE(hreq) {
	char path[64];
	int fd;
	struct vde_hgeom g;
	struct vde_xts *x;
	uint8_t *buf;
};

FIXTURE_SETUP(hreq)
{
	uint8_t key[VDE_XTS_KEY_SIZE];

	self->fd = test_file(self->path);
	ASSERT_LE(0, self->fd);
	test_geom(&self->g);
	test_key(key);
	ASSERT_EQ(0, vde_xts_new(key, &self->x));
	self->buf = aligned_alloc(BS, 4 * BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(hreq)
{
	vde_xts_free(self->x);
	free(self->buf);
	close(self->fd);
	unlink(self->path);
}

static int32_t serve(FIXTURE_DATA(hreq) *self, uint8_t op, uint16_t flags,
		     uint64_t off, uint32_t len)
{
	struct vde_io_desc d = {
		.op = op, .flags = flags, .offset = off, .nr_bytes = len,
	};

	return vde_req_serve(&self->g, self->x, -1, self->fd, &d, self->buf);
}

/* The backing file's bytes of device blocks [first, first + n). */
static void file_blocks(int fd, unsigned int first, unsigned int n, uint8_t *out)
{
	ssize_t r = pread(fd, out, (size_t)n * BS, DATA_OFF + (off_t)first * BS);

	if (r != (ssize_t)n * BS)
		memset(out, 0xee, (size_t)n * BS);
}

/* Write @n blocks of pattern @seed at block @first through the core. */
static int32_t write_blocks(FIXTURE_DATA(hreq) *self, unsigned int first,
			    unsigned int n, unsigned int seed)
{
	pattern(self->buf, (size_t)n * BS, seed);
	return serve(self, VDE_IO_OP_WRITE, 0, (uint64_t)first * BS, n * BS);
}

TEST_F(hreq, write_plain_is_plaintext)
{
	uint8_t want[2 * BS], got[2 * BS];

	ASSERT_EQ(2 * BS, write_blocks(self, 1, 2, 1));
	pattern(want, sizeof(want), 1);
	file_blocks(self->fd, 1, 2, got);
	EXPECT_EQ(0, memcmp(want, got, sizeof(want)));
}

TEST_F(hreq, write_encrypted_matches_oracle)
{
	uint8_t plain[2 * BS], want[2 * BS], got[2 * BS];

	ASSERT_EQ(2 * BS, write_blocks(self, 7, 2, 2));
	pattern(plain, sizeof(plain), 2);
	ASSERT_EQ(0, oracle(VDE_BASE + 7 * BS, plain, want, sizeof(plain), 1));
	file_blocks(self->fd, 7, 2, got);
	EXPECT_EQ(0, memcmp(want, got, sizeof(want)));
	EXPECT_NE(0, memcmp(plain, got, sizeof(plain)));
}

/* Blocks 11 (encrypted) and 12 (plain) in one request. */
TEST_F(hreq, write_straddling)
{
	uint8_t plain[2 * BS], want[BS], got[2 * BS];

	ASSERT_EQ(2 * BS, write_blocks(self, 11, 2, 3));
	pattern(plain, sizeof(plain), 3);
	file_blocks(self->fd, 11, 2, got);
	ASSERT_EQ(0, oracle(VDE_BASE + 11 * BS, plain, want, BS, 1));
	EXPECT_EQ(0, memcmp(want, got, BS));
	EXPECT_EQ(0, memcmp(plain + BS, got + BS, BS));
}

TEST_F(hreq, read_back_plaintext)
{
	uint8_t want[2 * BS];
	unsigned int first[] = { 2, 6, 11 };
	unsigned int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(2 * BS, write_blocks(self, first[i], 2, 4 + i));
		memset(self->buf, 0, 2 * BS);
		ASSERT_EQ(2 * BS, serve(self, VDE_IO_OP_READ, 0,
					(uint64_t)first[i] * BS, 2 * BS));
		pattern(want, sizeof(want), 4 + i);
		EXPECT_EQ(0, memcmp(want, self->buf, sizeof(want))) TH_LOG("block %u", first[i]);
	}
}

/* Ciphertext written by the oracle is decrypted by the core. */
TEST_F(hreq, read_decrypts_oracle_ciphertext)
{
	uint8_t plain[BS], ct[BS];

	pattern(plain, sizeof(plain), 9);
	ASSERT_EQ(0, oracle(VDE_BASE + 9 * BS, plain, ct, BS, 1));
	ASSERT_EQ(BS, pwrite(self->fd, ct, BS, DATA_OFF + 9 * BS));
	ASSERT_EQ(BS, serve(self, VDE_IO_OP_READ, 0, 9 * BS, BS));
	EXPECT_EQ(0, memcmp(plain, self->buf, BS));
}

/* Blocks 3 (plain), 4-5 (hidden) and 6 (encrypted). */
TEST_F(hreq, hidden_reads_zeros)
{
	uint8_t junk[2 * BS], want[BS], zero[2 * BS] = { 0 };

	ASSERT_EQ(BS, write_blocks(self, 3, 1, 5));
	pattern(want, BS, 5);
	ASSERT_EQ(BS, write_blocks(self, 6, 1, 6));
	memset(junk, 0x5a, sizeof(junk));
	ASSERT_EQ((ssize_t)sizeof(junk), pwrite(self->fd, junk, sizeof(junk), DATA_OFF + 4 * BS));
	/* Two requests: the buffer holds two blocks. */
	ASSERT_EQ(2 * BS, serve(self, VDE_IO_OP_READ, 0, 3 * BS, 2 * BS));
	EXPECT_EQ(0, memcmp(want, self->buf, BS));
	EXPECT_EQ(0, memcmp(zero, self->buf + BS, BS));
	ASSERT_EQ(2 * BS, serve(self, VDE_IO_OP_READ, 0, 5 * BS, 2 * BS));
	EXPECT_EQ(0, memcmp(zero, self->buf, BS));
	pattern(want, BS, 6);
	EXPECT_EQ(0, memcmp(want, self->buf + BS, BS));
}

TEST_F(hreq, hidden_refuses_writes)
{
	uint8_t junk[BS], got[BS];

	memset(junk, 0x5a, sizeof(junk));
	ASSERT_EQ(BS, pwrite(self->fd, junk, BS, DATA_OFF + 4 * BS));
	EXPECT_EQ(-EPERM, write_blocks(self, 3, 2, 7));
	EXPECT_EQ(-EPERM, serve(self, VDE_IO_OP_WRITE_ZEROES, 0, 4 * BS, BS));
	EXPECT_EQ(-EPERM, serve(self, VDE_IO_OP_DISCARD, 0, 5 * BS, 2 * BS));
	file_blocks(self->fd, 4, 1, got);
	EXPECT_EQ(0, memcmp(junk, got, BS));
}

/* Six encrypted blocks (three buffers) and two plain ones. */
TEST_F(hreq, write_zeroes)
{
	static uint8_t zero[8 * BS], want[6 * BS], got[8 * BS];
	unsigned int i;

	for (i = 6; i < 14; i += 2)
		ASSERT_EQ(2 * BS, write_blocks(self, i, 2, i));
	ASSERT_EQ(8 * BS, serve(self, VDE_IO_OP_WRITE_ZEROES, 0, 6 * BS, 8 * BS));
	ASSERT_EQ(0, oracle(VDE_BASE + 6 * BS, zero, want, 6 * BS, 1));
	file_blocks(self->fd, 6, 8, got);
	EXPECT_EQ(0, memcmp(want, got, 6 * BS));
	EXPECT_EQ(0, memcmp(zero, got + 6 * BS, 2 * BS));
	for (i = 6; i < 14; i += 2) {
		ASSERT_EQ(2 * BS, serve(self, VDE_IO_OP_READ, 0, i * BS, 2 * BS));
		EXPECT_EQ(0, memcmp(zero, self->buf, 2 * BS)) TH_LOG("block %u", i);
	}
}

TEST_F(hreq, write_zeroes_nounmap_fua)
{
	static uint8_t zero[2 * BS], got[2 * BS];
	struct stat st;

	ASSERT_EQ(2 * BS, write_blocks(self, 12, 2, 8));
	ASSERT_EQ(2 * BS, serve(self, VDE_IO_OP_WRITE_ZEROES,
				VDE_IO_F_NOUNMAP | VDE_IO_F_FUA, 12 * BS, 2 * BS));
	file_blocks(self->fd, 12, 2, got);
	EXPECT_EQ(0, memcmp(zero, got, sizeof(got)));
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ(DATA_OFF + NR_BLOCKS * BS + BS, st.st_size);
}

/*
 * 512-byte logical blocks: requests that start or end inside an encrypted
 * unit are read, modified and written a whole unit at a time.  Offsets
 * are bytes from block 6 (blocks 6-11 encrypted, 12-13 plain).
 */
static const struct { uint32_t off, len; } partial[] = {
	{ 512, 512 },			/* inside unit 6 */
	{ BS - 512, 1024 },		/* the end of unit 6, the start of 7 */
	{ 3 * BS + 1536, 2 * BS },	/* partial units 9 and 11, all of 10 */
	{ 5 * BS + 3584, 1024 },	/* the end of unit 11 into plain 12 */
	{ 2 * BS, BS + 512 },		/* all of unit 8, the start of 9 */
	{ 0, 512 },			/* the start of unit 6 */
};

TEST_F(hreq, partial_units_read_modify_write)
{
	static uint8_t model[8 * BS], want[8 * BS], got[8 * BS];
	unsigned int i;

	/* (A write leaves ciphertext in the buffer: the model is rebuilt.) */
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(2 * BS, write_blocks(self, 6 + 2 * i, 2, 40 + i));
		pattern(model + 2 * i * BS, 2 * BS, 40 + i);
	}
	for (i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
		pattern(self->buf, partial[i].len, 50 + i);
		pattern(model + partial[i].off, partial[i].len, 50 + i);
		ASSERT_EQ((int32_t)partial[i].len,
			  serve(self, VDE_IO_OP_WRITE, 0, 6 * BS + partial[i].off,
				partial[i].len)) TH_LOG("write %u", i);
	}
	/* The file holds the model: encrypted by whole units, then plain. */
	ASSERT_EQ(0, oracle(VDE_BASE + 6 * BS, model, want, 6 * BS, 1));
	memcpy(want + 6 * BS, model + 6 * BS, 2 * BS);
	file_blocks(self->fd, 6, 8, got);
	EXPECT_EQ(0, memcmp(want, got, sizeof(want)));
	/* Partial reads return the model's bytes and nothing around them. */
	for (i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
		memset(self->buf, 0xcc, 2 * BS + 1);
		ASSERT_EQ((int32_t)partial[i].len,
			  serve(self, VDE_IO_OP_READ, 0, 6 * BS + partial[i].off,
				partial[i].len));
		EXPECT_EQ(0, memcmp(model + partial[i].off, self->buf,
				    partial[i].len)) TH_LOG("read %u", i);
		EXPECT_EQ(0xcc, self->buf[partial[i].len]);
	}
	/* Misaligned plain I/O is fine too. */
	pattern(self->buf, 512, 10);
	EXPECT_EQ(512, serve(self, VDE_IO_OP_WRITE, 0, BS + 512, 512));
	EXPECT_EQ(512, serve(self, VDE_IO_OP_READ, 0, BS + 512, 512));
}

TEST_F(hreq, partial_units_zeroes_and_discard)
{
	static uint8_t model[3 * BS], zero[BS], got[BS];

	ASSERT_EQ(2 * BS, write_blocks(self, 6, 2, 60));
	pattern(model, 2 * BS, 60);
	ASSERT_EQ(BS, write_blocks(self, 8, 1, 61));
	pattern(model + 2 * BS, BS, 61);
	/* Zeroing part of a unit: the block layer writes zeros instead. */
	EXPECT_EQ(-EOPNOTSUPP, serve(self, VDE_IO_OP_WRITE_ZEROES, 0, 6 * BS + 512, 1024));
	/* A discard from inside unit 6 to inside unit 8 punches unit 7 only. */
	EXPECT_EQ(2 * BS, serve(self, VDE_IO_OP_DISCARD, 0, 6 * BS + 2048, 2 * BS));
	file_blocks(self->fd, 7, 1, got);
	EXPECT_EQ(0, memcmp(zero, got, BS));
	ASSERT_EQ(BS, serve(self, VDE_IO_OP_READ, 0, 6 * BS, BS));
	EXPECT_EQ(0, memcmp(model, self->buf, BS));
	ASSERT_EQ(BS, serve(self, VDE_IO_OP_READ, 0, 8 * BS, BS));
	EXPECT_EQ(0, memcmp(model + 2 * BS, self->buf, BS));
	/* Inside one unit: nothing to punch, nothing changes. */
	EXPECT_EQ(1024, serve(self, VDE_IO_OP_DISCARD, 0, 8 * BS + 512, 1024));
	ASSERT_EQ(BS, serve(self, VDE_IO_OP_READ, 0, 8 * BS, BS));
	EXPECT_EQ(0, memcmp(model + 2 * BS, self->buf, BS));
}

/*
 * Two threads write 512-byte sectors of the same encrypted units, thread
 * @half into sectors 4 * half to 4 * half + 3: neither may lose the other's
 * writes.  Sector s of a half is last written in round ROUNDS - 4 + s.
 */
#define ROUNDS	200
struct rmw_writer {
	const struct vde_hgeom *g;
	int fd;
	unsigned int half;
	int bad;
};

static unsigned int sector_seed(unsigned int half, unsigned int unit,
				unsigned int round)
{
	return 1000 + half * 100000 + unit * 1000 + round;
}

static void *rmw_writer_run(void *p)
{
	struct rmw_writer *w = p;
	uint8_t key[VDE_XTS_KEY_SIZE], *buf = aligned_alloc(BS, BUF_SIZE);
	struct vde_xts *x = NULL;
	unsigned int round, unit;

	test_key(key);
	if (!buf || vde_xts_new(key, &x)) {
		w->bad = -1;
		goto out;
	}
	for (round = 0; round < ROUNDS; round++) {
		for (unit = 6; unit < 12; unit++) {
			struct vde_io_desc d = {
				.op = VDE_IO_OP_WRITE, .nr_bytes = 512,
				.offset = unit * BS + (4 * w->half + round % 4) * 512,
			};

			pattern(buf, 512, sector_seed(w->half, unit, round));
			if (vde_req_serve(w->g, x, -1, w->fd, &d, buf) != 512)
				w->bad++;
		}
	}
out:
	vde_xts_free(x);
	free(buf);
	return NULL;
}

TEST_F(hreq, partial_units_concurrent_writers)
{
	struct rmw_writer w[2] = {
		{ &self->g, self->fd, 0, 0 }, { &self->g, self->fd, 1, 0 },
	};
	pthread_t t[2];
	uint8_t want[512];
	unsigned int i, unit, sector;

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, rmw_writer_run, &w[i]));
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].bad);
	}
	for (unit = 6; unit < 12; unit++) {
		ASSERT_EQ(BS, serve(self, VDE_IO_OP_READ, 0, unit * BS, BS));
		for (sector = 0; sector < 8; sector++) {
			pattern(want, 512, sector_seed(sector / 4, unit,
						       ROUNDS - 4 + sector % 4));
			EXPECT_EQ(0, memcmp(want, self->buf + sector * 512, 512))
				TH_LOG("unit %u sector %u", unit, sector);
		}
	}
}

TEST_F(hreq, flush_discard_fua)
{
	uint8_t zero[BS] = { 0 }, got[BS];

	EXPECT_EQ(0, serve(self, VDE_IO_OP_FLUSH, 0, 0, 0));
	ASSERT_EQ(BS, write_blocks(self, 0, 1, 11));
	pattern(self->buf, BS, 12);
	EXPECT_EQ(BS, serve(self, VDE_IO_OP_WRITE, VDE_IO_F_FUA, 14 * BS, BS));
	EXPECT_EQ(BS, serve(self, VDE_IO_OP_DISCARD, VDE_IO_F_FUA, 0, BS));
	file_blocks(self->fd, 0, 1, got);
	EXPECT_EQ(0, memcmp(zero, got, BS));
}

TEST_F(hreq, bad_requests)
{
	struct vde_io_desc d = { .op = 9, .nr_bytes = BS };

	EXPECT_EQ(-EOPNOTSUPP, vde_req_serve(&self->g, self->x, -1, self->fd, &d, self->buf));
	EXPECT_EQ(-EINVAL, serve(self, VDE_IO_OP_READ, 0, 15 * BS, 2 * BS));
	EXPECT_EQ(-EINVAL, serve(self, VDE_IO_OP_READ, 0, UINT64_MAX - 100, 200));
	EXPECT_EQ(-EINVAL, serve(self, VDE_IO_OP_READ, 0, 0, 3 * BS));
	EXPECT_EQ(0, serve(self, VDE_IO_OP_READ, 0, 0, 0));
	/* Without a key, only encrypted blocks fail. */
	vde_xts_free(self->x);
	self->x = NULL;
	EXPECT_EQ(-ENOKEY, serve(self, VDE_IO_OP_READ, 0, 6 * BS, BS));
	EXPECT_EQ(BS, serve(self, VDE_IO_OP_READ, 0, 0, BS));
	/* A read-only device refuses every kind of write. */
	self->g.flags = VDE_DEV_READ_ONLY;
	EXPECT_EQ(-EROFS, serve(self, VDE_IO_OP_WRITE, 0, 0, BS));
	EXPECT_EQ(-EROFS, serve(self, VDE_IO_OP_DISCARD, 0, 0, BS));
	EXPECT_EQ(-EROFS, serve(self, VDE_IO_OP_WRITE_ZEROES, 0, 0, BS));
	EXPECT_EQ(0, serve(self, VDE_IO_OP_FLUSH, 0, 0, 0));
}

/* Reading past the end of the backing file is an error, not a short read. */
TEST_F(hreq, short_file_eio)
{
	ASSERT_EQ(0, ftruncate(self->fd, DATA_OFF + 14 * BS + 100));
	EXPECT_EQ(-EIO, serve(self, VDE_IO_OP_READ, 0, 14 * BS, 2 * BS));
}

TEST(backend_names)
{
	static const struct {
		const char *name;
		int ret;
		enum vde_helper_backend b;
	} t[] = {
		{ "auto", 0, VDE_HELPER_AUTO },
		{ "io_uring", 0, VDE_HELPER_URING },
		{ "fallback", 0, VDE_HELPER_POOL },
		{ "uring", -EINVAL, VDE_HELPER_POOL },
	};
	enum vde_helper_backend b = VDE_HELPER_POOL;
	unsigned int i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		EXPECT_EQ(t[i].ret, vde_helper_backend_parse(t[i].name, &b));
		EXPECT_EQ(t[i].b, b) TH_LOG("%s", t[i].name);
	}
}

/* ---- a helper without a kernel: descriptors and buffers in memory --------- */

struct commit_log {
	int32_t result[NR_QUEUES][DEPTH];
	unsigned int count;
};

static struct commit_log commits;

static int record_commit(struct vde_helper *h, unsigned int q,
			 unsigned int tag, int32_t result)
{
	(void)h;
	commits.result[q][tag] = result;
	commits.count++;
	return 0;
}

FIXTURE(hfake) {
	char path[64];
	struct vde_helper h;
	struct vde_io_desc desc[NR_QUEUES][DEPTH];
	const struct vde_io_desc *descp[NR_QUEUES];
	uint8_t key[VDE_XTS_KEY_SIZE];
};

/*
 * Every test runs alone and with a cipher team: the io_uring queue then
 * hands the cipher work of its requests to the team, all of it (offload
 * threshold 0) or that of large requests and, when a batch's small ones
 * add up to the threshold, shares of them (one team job per share).
 */
FIXTURE_VARIANT(hfake) {
	unsigned int team;
	unsigned int offload_min;
};

FIXTURE_VARIANT_ADD(hfake, alone) {
	.team = 0,
	.offload_min = VDE_OFFLOAD_MIN,
};

FIXTURE_VARIANT_ADD(hfake, team) {
	.team = 2,
	.offload_min = 0,
};

FIXTURE_VARIANT_ADD(hfake, team_default) {
	.team = 2,
	.offload_min = VDE_OFFLOAD_MIN,
};

/* One team thread, 8 KiB threshold: a batch of 4 KiB requests in shares. */
FIXTURE_VARIANT_ADD(hfake, team_shares) {
	.team = 1,
	.offload_min = 2 * BS,
};

FIXTURE_SETUP(hfake)
{
	struct vde_helper *h = &self->h;
	unsigned int q;

	vde_helper_init(h);
	h->fd = test_file(self->path);
	ASSERT_LE(0, h->fd);
	test_geom(&h->geom);
	h->nr_queues = NR_QUEUES;
	h->depth = DEPTH;
	memset(self->desc, 0, sizeof(self->desc));
	for (q = 0; q < NR_QUEUES; q++)
		self->descp[q] = self->desc[q];
	h->desc = self->descp;
	h->bufs = aligned_alloc(BS, NR_QUEUES * DEPTH * BUF_SIZE);
	ASSERT_NE(NULL, h->bufs);
	test_key(self->key);
	h->key = self->key;
	h->commit = record_commit;
	memset(&commits, 0, sizeof(commits));
	h->offload_min = variant->offload_min;
	ASSERT_EQ(0, vde_xts_team_new(self->key, variant->team, &h->geom.team));
}

FIXTURE_TEARDOWN(hfake)
{
	vde_xts_team_free(self->h.geom.team);
	if (self->h.fd_direct >= 0)
		close(self->h.fd_direct);
	close(self->h.fd);
	unlink(self->path);
	free(self->h.bufs);
}

static void set_desc(FIXTURE_DATA(hfake) *self, unsigned int q,
		     unsigned int tag, uint8_t op, unsigned int block,
		     unsigned int n, unsigned int seed)
{
	struct vde_io_desc *d = &self->desc[q][tag];

	memset(d, 0, sizeof(*d));
	d->op = op;
	d->offset = (uint64_t)block * BS;
	d->nr_bytes = n * BS;
	d->seq = 1;
	if (op == VDE_IO_OP_WRITE)
		pattern(vde_helper_buf(&self->h, q, tag), (size_t)n * BS, seed);
	else
		memset(vde_helper_buf(&self->h, q, tag), 0xcc, (size_t)n * BS);
}

/* Writes on two queues, then reads, through the worker on its own. */
TEST_F(hfake, pool_worker)
{
	uint8_t plain[2 * BS], want[2 * BS], got[2 * BS];
	struct vde_pool *p;

	ASSERT_EQ(0, vde_pool_new(&self->h, &p));
	set_desc(self, 0, 1, VDE_IO_OP_WRITE, 6, 2, 20);
	set_desc(self, 1, 3, VDE_IO_OP_WRITE, 11, 2, 21);
	set_desc(self, 1, 0, VDE_IO_OP_WRITE, 4, 1, 22);
	vde_pool_push(p, 0, 1);
	vde_pool_push(p, 1, 3);
	vde_pool_push(p, 1, 0);
	vde_pool_stop(p);
	EXPECT_EQ(NULL, vde_pool_worker(p));
	EXPECT_EQ(3, commits.count);
	EXPECT_EQ(2 * BS, commits.result[0][1]);
	EXPECT_EQ(2 * BS, commits.result[1][3]);
	EXPECT_EQ(-EPERM, commits.result[1][0]);

	pattern(plain, sizeof(plain), 20);
	ASSERT_EQ(0, oracle(VDE_BASE + 6 * BS, plain, want, sizeof(plain), 1));
	file_blocks(self->h.fd, 6, 2, got);
	EXPECT_EQ(0, memcmp(want, got, sizeof(want)));

	vde_pool_free(p);
	ASSERT_EQ(0, vde_pool_new(&self->h, &p));
	set_desc(self, 0, 2, VDE_IO_OP_READ, 11, 2, 0);
	vde_pool_push(p, 0, 2);
	vde_pool_stop(p);
	vde_pool_worker(p);
	EXPECT_EQ(2 * BS, commits.result[0][2]);
	pattern(want, sizeof(want), 21);
	EXPECT_EQ(0, memcmp(want, vde_helper_buf(&self->h, 0, 2), sizeof(want)));
	vde_pool_free(p);
}

TEST(pool_workers_bounds)
{
	struct vde_helper h;

	vde_helper_init(&h);
	h.nr_queues = 1;
	h.depth = 2;
	EXPECT_EQ(2, vde_pool_workers(&h));
	h.nr_queues = 64;
	h.depth = 128;
	EXPECT_LE(4, vde_pool_workers(&h));
	EXPECT_GE(64, vde_pool_workers(&h));
}

/* An io_uring queue @q, direct I/O where /tmp allows it. */
static int uring_queue(FIXTURE_DATA(hfake) *self, unsigned int q,
		       struct vde_uq **u)
{
	self->h.fd_direct = open(self->path, O_RDWR | O_DIRECT | O_CLOEXEC);
	self->h.geom.dio_align = self->h.fd_direct >= 0 ? BS : 0;
	return vde_uq_new(&self->h, q, u);
}

/* An io_uring queue, or skip the test where io_uring is unavailable. */
#define URING_QUEUE_OR_SKIP(q, u) do {					\
	int probe_ = vde_uring_probe();					\
									\
	if (probe_)							\
		SKIP(return, "io_uring unavailable: %s", strerror(-probe_)); \
	ASSERT_EQ(0, uring_queue(self, q, u));				\
} while (0)

/* The io_uring path. */
TEST_F(hfake, uring_local)
{
	uint8_t plain[2 * BS], want[2 * BS], got[2 * BS];
	unsigned int wtags[] = { 0, 1, 2 }, rtags[] = { 3 };
	int32_t res[DEPTH];
	struct vde_uq *u;

	URING_QUEUE_OR_SKIP(1, &u);

	set_desc(self, 1, 0, VDE_IO_OP_WRITE, 10, 2, 30);
	set_desc(self, 1, 1, VDE_IO_OP_WRITE_ZEROES, 6, 4, 0);
	set_desc(self, 1, 2, VDE_IO_OP_FLUSH, 0, 0, 0);
	ASSERT_EQ(0, vde_uq_serve_local(u, wtags, 3, res));
	EXPECT_EQ(2 * BS, res[0]);
	EXPECT_EQ(4 * BS, res[1]);
	EXPECT_EQ(0, res[2]);

	pattern(plain, sizeof(plain), 30);
	ASSERT_EQ(0, oracle(VDE_BASE + 10 * BS, plain, want, 2 * BS, 1));
	file_blocks(self->h.fd, 10, 2, got);
	EXPECT_EQ(0, memcmp(want, got, 2 * BS));

	/* Block 11 (encrypted, written above) and 12 (plain, never written). */
	set_desc(self, 1, 3, VDE_IO_OP_READ, 11, 2, 0);
	ASSERT_EQ(0, vde_uq_serve_local(u, rtags, 1, res));
	EXPECT_EQ(2 * BS, res[3]);
	EXPECT_EQ(0, memcmp(plain + BS, vde_helper_buf(&self->h, 1, 3), BS));
	memset(want, 0, BS);
	EXPECT_EQ(0, memcmp(want, vde_helper_buf(&self->h, 1, 3) + BS, BS));

	set_desc(self, 1, 3, VDE_IO_OP_READ, 6, 1, 0);
	ASSERT_EQ(0, vde_uq_serve_local(u, rtags, 1, res));
	memset(want, 0, BS);
	EXPECT_EQ(0, memcmp(want, vde_helper_buf(&self->h, 1, 3), BS));
	vde_uq_free(u);
}

/*
 * 512-byte writes into one encrypted unit from three tags at once: each
 * reads, modifies and writes the whole unit, one after the other (the
 * others wait), so none is lost; then a partial read of them.
 */
TEST_F(hfake, uring_partial_units)
{
	unsigned int tags[] = { 0, 1, 2 }, rtags[] = { 3 };
	uint8_t base[BS], want[BS];
	int32_t res[DEPTH];
	struct vde_uq *u;
	unsigned int i;

	URING_QUEUE_OR_SKIP(0, &u);

	set_desc(self, 0, 0, VDE_IO_OP_WRITE, 7, 1, 70);
	ASSERT_EQ(0, vde_uq_serve_local(u, tags, 1, res));
	ASSERT_EQ(BS, res[0]);
	pattern(base, BS, 70);
	memcpy(want, base, BS);
	for (i = 0; i < 3; i++) {
		struct vde_io_desc *d = &self->desc[0][i];

		memset(d, 0, sizeof(*d));
		d->op = VDE_IO_OP_WRITE;
		d->offset = 7 * BS + (1 + 2 * i) * 512;
		d->nr_bytes = 512;
		d->seq = 1;
		pattern(vde_helper_buf(&self->h, 0, i), 512, 71 + i);
		memcpy(want + (1 + 2 * i) * 512, vde_helper_buf(&self->h, 0, i), 512);
	}
	ASSERT_EQ(0, vde_uq_serve_local(u, tags, 3, res));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(512, res[i]) TH_LOG("tag %u", i);

	set_desc(self, 0, 3, VDE_IO_OP_READ, 7, 1, 0);
	ASSERT_EQ(0, vde_uq_serve_local(u, rtags, 1, res));
	EXPECT_EQ(BS, res[3]);
	EXPECT_EQ(0, memcmp(want, vde_helper_buf(&self->h, 0, 3), BS));

	self->desc[0][3].offset = 7 * BS + 1536;
	self->desc[0][3].nr_bytes = 1024;
	ASSERT_EQ(0, vde_uq_serve_local(u, rtags, 1, res));
	EXPECT_EQ(1024, res[3]);
	EXPECT_EQ(0, memcmp(want + 1536, vde_helper_buf(&self->h, 0, 3), 1024));
	vde_uq_free(u);
}

/*
 * A batch of small writes, then reads, of every encrypted block a tag
 * can reach: in the team_shares variant the first half stays in the
 * queue thread and the second half is one team job of two requests.
 */
TEST_F(hfake, uring_batch_shares)
{
	unsigned int tags[] = { 0, 1, 2, 3 }, i;
	uint8_t plain[BS], want[BS], got[BS];
	int32_t res[DEPTH];
	struct vde_uq *u;

	URING_QUEUE_OR_SKIP(0, &u);

	for (i = 0; i < DEPTH; i++)
		set_desc(self, 0, i, VDE_IO_OP_WRITE, 6 + i, 1, 90 + i);
	memset(res, 0, sizeof(res));
	ASSERT_EQ(0, vde_uq_serve_local(u, tags, DEPTH, res));
	for (i = 0; i < DEPTH; i++) {
		EXPECT_EQ(BS, res[i]) TH_LOG("write tag %u", i);
		pattern(plain, BS, 90 + i);
		ASSERT_EQ(0, oracle(VDE_BASE + (6 + i) * BS, plain, want, BS, 1));
		file_blocks(self->h.fd, 6 + i, 1, got);
		EXPECT_EQ(0, memcmp(want, got, BS)) TH_LOG("block %u", 6 + i);
	}

	for (i = 0; i < DEPTH; i++)
		set_desc(self, 0, i, VDE_IO_OP_READ, 6 + i, 1, 0);
	memset(res, 0, sizeof(res));
	ASSERT_EQ(0, vde_uq_serve_local(u, tags, DEPTH, res));
	for (i = 0; i < DEPTH; i++) {
		EXPECT_EQ(BS, res[i]) TH_LOG("read tag %u", i);
		pattern(plain, BS, 90 + i);
		EXPECT_EQ(0, memcmp(plain, vde_helper_buf(&self->h, 0, i), BS))
			TH_LOG("read tag %u", i);
	}
	vde_uq_free(u);
}

TEST_HARNESS_MAIN
