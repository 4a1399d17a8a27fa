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

TEST_F(hreq, misaligned_encrypted_einval)
{
	/* Starts inside a data unit; ends inside one; a partial unit. */
	EXPECT_EQ(-EINVAL, serve(self, VDE_IO_OP_READ, 0, 6 * BS + 512, BS));
	EXPECT_EQ(-EINVAL, serve(self, VDE_IO_OP_READ, 0, 5 * BS, BS + 512));
	EXPECT_EQ(-EINVAL, serve(self, VDE_IO_OP_WRITE, 0, 7 * BS, 512));
	EXPECT_EQ(-EINVAL, serve(self, VDE_IO_OP_WRITE_ZEROES, 0, 8 * BS, 1024));
	/* Misaligned plain I/O is fine. */
	pattern(self->buf, 512, 10);
	EXPECT_EQ(512, serve(self, VDE_IO_OP_WRITE, 0, BS + 512, 512));
	EXPECT_EQ(512, serve(self, VDE_IO_OP_READ, 0, BS + 512, 512));
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
}

FIXTURE_TEARDOWN(hfake)
{
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

/* The io_uring path, direct I/O where /tmp allows it. */
TEST_F(hfake, uring_local)
{
	uint8_t plain[2 * BS], want[2 * BS], got[2 * BS];
	unsigned int wtags[] = { 0, 1, 2 }, rtags[] = { 3 };
	int32_t res[DEPTH];
	struct vde_uq *u;
	int ret;

	ret = vde_uring_probe();
	if (ret)
		SKIP(return, "io_uring unavailable: %s", strerror(-ret));
	self->h.fd_direct = open(self->path, O_RDWR | O_DIRECT | O_CLOEXEC);
	self->h.geom.dio_align = self->h.fd_direct >= 0 ? BS : 0;
	ASSERT_EQ(0, vde_uq_new(&self->h, 1, &u));

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

TEST_HARNESS_MAIN
