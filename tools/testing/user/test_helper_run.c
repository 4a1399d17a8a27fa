// SPDX-License-Identifier: GPL-2.0
/*
 * vde_helper_run() end to end, without a kernel module: a fake
 * /dev/vdecN and /dev/vde-control (regular files in a temporary
 * directory, whose ioctl() and mmap() this program answers in place of
 * the kernel: its definitions win over the C library's for libvde's
 * calls) serve scripted requests to the thread pool backend, over the
 * uapi's WAIT and COMMIT ioctls.  The helper runs in a child process; its
 * readiness report, exit status, commits and the bytes it wrote are
 * checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "helper_fixture.h"
#include "libvde.h"
#include "kselftest_harness.h"

#define INDEX		7
#define MAX_SCRIPT	4
#define PAGE		4096u

/*
 * struct fake_req - a request the fake kernel publishes
 * @tag: on this tag
 * @d: with this descriptor
 * @seed: a write's data is pattern(@seed)
 */
struct fake_req {
	uint16_t tag;
	struct vde_io_desc d;
	unsigned int seed;
};

/*
 * struct fake - the fake kernel's state, shared with the test process
 * @ring_ino, @ctl_ino: inodes of the fake /dev/vdecN and control device
 * @backing_dev, @backing_ino: what VDE_CTL_GET_INFO reports
 * @features: what VDE_CTL_GET_FEATURES reports
 * @removed: once the scripts are done, WAIT fails with -ENODEV
 * @script, @nr_script: the requests of each queue, in order
 * @next: requests published per queue
 * @commits: results received per queue
 * @log: the results, per queue, in order
 * @waits: WAIT calls per queue; @first_flags: the flags of the first
 */
struct fake {
	ino_t ring_ino;
	ino_t ctl_ino;
	uint64_t backing_dev;
	uint64_t backing_ino;
	uint64_t features;
	bool removed;
	struct fake_req script[NR_QUEUES][MAX_SCRIPT];
	unsigned int nr_script[NR_QUEUES];
	unsigned int next[NR_QUEUES];
	unsigned int commits[NR_QUEUES];
	struct vde_ring_commit log[NR_QUEUES][MAX_SCRIPT];
	unsigned int waits[NR_QUEUES];
	uint16_t first_flags[NR_QUEUES];
};

/* Shared memory: the state, a page of descriptors per queue, the buffers. */
static struct fake *F;
static uint8_t *fake_mem;
#define DESC_PAGE(q)	(fake_mem + (size_t)(q) * PAGE)
#define BUFS		(fake_mem + NR_QUEUES * PAGE)
#define MEM_SIZE	(NR_QUEUES * PAGE + NR_QUEUES * DEPTH * BUF_SIZE)

static ino_t fd_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

static int fake_ctl(unsigned long req, void *arg)
{
	struct vde_features *f = arg;
	struct vde_dev_info *di = arg;

	if (req == VDE_CTL_GET_FEATURES) {
		f->features = F->features;
		return 0;
	}
	if (req == VDE_CTL_GET_INFO && di->index == INDEX) {
		di->backing_dev = F->backing_dev;
		di->backing_ino = F->backing_ino;
		return 0;
	}
	errno = req == VDE_CTL_GET_INFO ? ENODEV : ENOTTY;
	return -1;
}

static int fake_info(struct vde_ring_info *i)
{
	struct vde_hgeom g;

	test_geom(&g);
	i->index = INDEX;
	i->nr_hw_queues = NR_QUEUES;
	i->queue_depth = DEPTH;
	i->buf_size = BUF_SIZE;
	i->block_size = BS;
	i->logical_block_size = BS;
	i->data_offset = DATA_OFF;
	i->nr_blocks = NR_BLOCKS;
	i->nr_regions = g.nr_regions;
	memcpy((void *)(uintptr_t)i->regions, g.regions,
	       g.nr_regions * sizeof(g.regions[0]));
	return 0;
}

static int fake_commit(const struct vde_ring_batch *b)
{
	const struct vde_ring_commit *c = (const void *)(uintptr_t)b->commits;
	unsigned int n;

	if (b->nr_commits != 1 || b->q_id >= NR_QUEUES) {
		errno = EINVAL;
		return -1;
	}
	n = __atomic_load_n(&F->commits[b->q_id], __ATOMIC_ACQUIRE);
	if (n < MAX_SCRIPT)
		F->log[b->q_id][n] = c[0];
	__atomic_store_n(&F->commits[b->q_id], n + 1, __ATOMIC_RELEASE);
	return 0;
}

/* Sleep a millisecond; false if a signal came (the helper is stopping). */
static bool nap(void)
{
	struct timespec ts = { 0, 1000000 };

	return nanosleep(&ts, NULL) == 0;
}

static void fake_publish(unsigned int q, const struct fake_req *r)
{
	struct vde_io_desc *desc = (struct vde_io_desc *)DESC_PAGE(q);

	desc[r->tag] = r->d;
	if (r->d.op == VDE_IO_OP_WRITE)
		pattern(BUFS + ((size_t)q * DEPTH + r->tag) * BUF_SIZE,
			r->d.nr_bytes, r->seed);
}

static bool scripts_done(void)
{
	unsigned int q;

	for (q = 0; q < NR_QUEUES; q++)
		if (__atomic_load_n(&F->commits[q], __ATOMIC_ACQUIRE) < F->nr_script[q])
			return false;
	return true;
}

/*
 * Arm (NOWAIT), then publish the queue's requests one at a time, each once
 * the one before is committed; then block until interrupted, or fail with
 * -ENODEV once the device is "removed".
 */
static int fake_wait(struct vde_ring_batch *b)
{
	uint16_t *tags = (uint16_t *)(uintptr_t)b->tags;
	unsigned int q = b->q_id, n;

	if (!F->waits[q]++)
		F->first_flags[q] = b->flags;
	if (b->flags & VDE_RING_WAIT_NOWAIT)
		return 0;
	n = F->next[q];
	while (__atomic_load_n(&F->commits[q], __ATOMIC_ACQUIRE) < n)
		if (!nap())
			goto intr;
	if (n < F->nr_script[q]) {
		fake_publish(q, &F->script[q][n]);
		F->next[q]++;
		tags[0] = F->script[q][n].tag;
		b->nr_tags = 1;
		return 0;
	}
	/* Removal fails every queue's WAIT, once all the scripts are done. */
	while (!F->removed || !scripts_done())
		if (!nap())
			goto intr;
	errno = ENODEV;
	return -1;
intr:
	errno = EINTR;
	return -1;
}

int ioctl(int fd, unsigned long req, ...)
{
	ino_t ino = fd_ino(fd);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!F || !ino || (ino != F->ring_ino && ino != F->ctl_ino))
		return (int)syscall(SYS_ioctl, fd, req, arg);
	if (ino == F->ctl_ino)
		return fake_ctl(req, arg);
	if (req == VDE_RING_GET_INFO)
		return fake_info(arg);
	if (req == VDE_RING_WAIT)
		return fake_wait(arg);
	if (req == VDE_RING_COMMIT)
		return fake_commit(arg);
	errno = ENOTTY;
	return -1;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (F && fd >= 0 && fd_ino(fd) == F->ring_ino) {
		if ((uint64_t)off >= VDE_RING_BUF_OFFSET)
			return BUFS;
		return DESC_PAGE((uint64_t)off / VDE_RING_DESC_STRIDE);
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

FIXTURE(hrun) {
	char dir[64];
	char node[96];
	char ctl[96];
	char backing[96];
	uint8_t key[VDE_XTS_KEY_SIZE];
	struct vde_helper_cfg cfg;
};

/* Create an empty file; its inode number, or 0. */
static ino_t touch(const char *path)
{
	int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	ino_t ino = fd < 0 ? 0 : fd_ino(fd);

	if (fd >= 0)
		close(fd);
	return ino;
}

FIXTURE_SETUP(hrun)
{
	struct stat st;
	int fd;

	F = mmap(NULL, sizeof(*F), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fake_mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, F);
	ASSERT_NE(MAP_FAILED, fake_mem);
	memset(F, 0, sizeof(*F));
	strcpy(self->dir, "/tmp/vde-test-run-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->node, sizeof(self->node), "%s/vdec%d", self->dir, INDEX);
	snprintf(self->ctl, sizeof(self->ctl), "%s/control", self->dir);
	F->ring_ino = touch(self->node);
	F->ctl_ino = touch(self->ctl);
	fd = test_file(self->backing);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	close(fd);
	F->backing_dev = vde_encode_dev(st.st_dev);
	F->backing_ino = st.st_ino;
	F->features = VDE_FEAT_CONTROL | VDE_FEAT_DEVICES | VDE_FEAT_HELPER_IOCTL;
	F->removed = true;
	test_key(self->key);
	self->cfg = (struct vde_helper_cfg){
		.index = INDEX,
		.backing_path = self->backing,
		.image_base = IMAGE_BASE,
		.key = self->key,
		.dev_dir = self->dir,
		.control_path = self->ctl,
		.ready_fd = -1,
		.node_wait_ms = 200,
	};
}

FIXTURE_TEARDOWN(hrun)
{
	unlink(self->node);
	unlink(self->ctl);
	unlink(self->backing);
	rmdir(self->dir);
	munmap(fake_mem, MEM_SIZE);
	munmap(F, sizeof(*F));
	F = NULL;
}

/*
 * Run the helper in a child; return its exit status (-1 if killed) and
 * the line it reported in @line.  With @term, SIGTERM it once ready.
 */
static int run(struct vde_helper_cfg *cfg, char *line, size_t len, bool term)
{
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(p))
		return -2;
	pid = fork();
	if (!pid) {
		close(p[0]);
		cfg->ready_fd = p[1];
		_exit(vde_helper_run(cfg) < 0 ? 1 : 0);
	}
	close(p[1]);
	n = read(p[0], line, len - 1);
	line[n > 0 ? n : 0] = '\0';
	close(p[0]);
	if (term)
		kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void script(unsigned int q, uint16_t tag, uint8_t op, unsigned int block,
		   unsigned int n, unsigned int seed)
{
	struct fake_req *r = &F->script[q][F->nr_script[q]++];

	r->tag = tag;
	r->seed = seed;
	r->d = (struct vde_io_desc){
		.op = op, .offset = (uint64_t)block * BS, .nr_bytes = n * BS,
		.seq = 1,
	};
}

/* Requests on both queues, served until the device goes away. */
TEST_F(hrun, serves_until_removed)
{
	uint8_t plain[2 * BS], want[2 * BS], got[2 * BS];
	char line[512];
	int fd;

	script(0, 2, VDE_IO_OP_WRITE, 6, 2, 50);
	script(0, 1, VDE_IO_OP_READ, 6, 2, 0);
	script(1, 3, VDE_IO_OP_WRITE, 12, 1, 51);
	script(1, 0, VDE_IO_OP_FLUSH, 0, 0, 0);
	script(1, 2, VDE_IO_OP_WRITE, 4, 1, 52);
	EXPECT_EQ(0, run(&self->cfg, line, sizeof(line), false));
	EXPECT_EQ(0, strncmp(line, "ready ", 6)) TH_LOG("%s", line);

	EXPECT_EQ(VDE_RING_WAIT_NOWAIT, F->first_flags[0]);
	EXPECT_EQ(VDE_RING_WAIT_NOWAIT, F->first_flags[1]);
	ASSERT_EQ(2, F->commits[0]);
	ASSERT_EQ(3, F->commits[1]);
	EXPECT_EQ(2, F->log[0][0].tag);
	EXPECT_EQ(2 * BS, F->log[0][0].result);
	EXPECT_EQ(1, F->log[0][1].tag);
	EXPECT_EQ(2 * BS, F->log[0][1].result);
	EXPECT_EQ(BS, F->log[1][0].result);
	EXPECT_EQ(0, F->log[1][1].result);
	EXPECT_EQ(-EPERM, F->log[1][2].result);

	/* The read got the plaintext back, the file holds ciphertext. */
	pattern(plain, sizeof(plain), 50);
	EXPECT_EQ(0, memcmp(plain, BUFS + (0 * DEPTH + 1) * BUF_SIZE, sizeof(plain)));
	ASSERT_EQ(0, oracle(VDE_BASE + 6 * BS, plain, want, sizeof(plain), 1));
	fd = open(self->backing, O_RDONLY | O_CLOEXEC);
	ASSERT_EQ((ssize_t)sizeof(got), pread(fd, got, sizeof(got), DATA_OFF + 6 * BS));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
	pattern(plain, BS, 51);
	ASSERT_EQ(BS, pread(fd, got, BS, DATA_OFF + 12 * BS));
	EXPECT_EQ(0, memcmp(plain, got, BS));
	close(fd);
}

TEST_F(hrun, stops_on_sigterm)
{
	char line[512];

	F->removed = false;
	EXPECT_EQ(0, run(&self->cfg, line, sizeof(line), true));
	EXPECT_EQ(0, strncmp(line, "ready ", 6)) TH_LOG("%s", line);
	EXPECT_LE(2, F->waits[0]);
}

TEST_F(hrun, reports_missing_node)
{
	char line[512];

	unlink(self->node);
	EXPECT_EQ(1, run(&self->cfg, line, sizeof(line), false));
	EXPECT_EQ(0, strncmp(line, "error cannot open ", 18)) TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, "/vdec7: No such file or directory"));
	EXPECT_EQ('\n', line[strlen(line) - 1]);
}

TEST_F(hrun, reports_not_a_ring)
{
	char line[512];

	F->ring_ino = 0;
	EXPECT_EQ(1, run(&self->cfg, line, sizeof(line), false));
	EXPECT_STREQ("error /dev/vdec7: VDE_RING_GET_INFO: Inappropriate ioctl for device\n",
		     line);
}

TEST_F(hrun, reports_no_key)
{
	char line[512];

	self->cfg.key = NULL;
	EXPECT_EQ(1, run(&self->cfg, line, sizeof(line), false));
	EXPECT_STREQ("error /dev/vde7 has encrypted regions and no key was given\n", line);
}

TEST_F(hrun, reports_other_backing_file)
{
	char line[512], want[256];

	F->backing_ino++;
	EXPECT_EQ(1, run(&self->cfg, line, sizeof(line), false));
	snprintf(want, sizeof(want), "error %s is not the backing file of /dev/vde7\n",
		 self->backing);
	EXPECT_STREQ(want, line);
}

TEST_F(hrun, reports_no_uring)
{
	char line[512];

	self->cfg.backend = VDE_HELPER_URING;
	EXPECT_EQ(1, run(&self->cfg, line, sizeof(line), false));
	EXPECT_STREQ("error cannot use io_uring: vde.ko does not offer the io_uring commands\n",
		     line);
	F->features = VDE_FEAT_CONTROL | VDE_FEAT_DEVICES;
	self->cfg.backend = VDE_HELPER_AUTO;
	EXPECT_EQ(1, run(&self->cfg, line, sizeof(line), false));
	EXPECT_STREQ("error cannot serve /dev/vde7: vde.ko does not offer the io_uring commands, and vde.ko has no ioctl transport\n",
		     line);
}

/* The helper's process may not be dumped: it holds the key. */
TEST_F(hrun, not_dumpable)
{
	int p[2], d = -1, status;
	pid_t pid;

	unlink(self->node);
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	if (!pid) {
		vde_helper_run(&self->cfg);
		d = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
		_exit(write(p[1], &d, sizeof(d)) == sizeof(d) ? 0 : 1);
	}
	close(p[1]);
	EXPECT_EQ((ssize_t)sizeof(d), read(p[0], &d, sizeof(d)));
	EXPECT_EQ(0, d);
	close(p[0]);
	waitpid(pid, &status, 0);
}

/* As attach starts it: a daemon in its own session, until removal. */
TEST_F(hrun, spawn_daemon)
{
	char msg[VDE_HELPER_MSG_MAX];
	int pid = 0, status = -1;
	uint8_t *key;

	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	key = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	ASSERT_NE(NULL, key);
	memcpy(key, self->key, VDE_XTS_KEY_SIZE);
	self->cfg.key = key;
	script(1, 3, VDE_IO_OP_WRITE, 7, 1, 60);
	ASSERT_EQ(0, vde_helper_spawn(&self->cfg, -1, 10000, &pid, msg, sizeof(msg)));
	EXPECT_STREQ("", msg);
	ASSERT_LT(0, pid);
	EXPECT_NE(getsid(0), getsid(pid));
	EXPECT_NE(pid, getsid(pid));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	EXPECT_EQ(1, F->commits[1]);
	EXPECT_EQ(BS, F->log[1][0].result);
	/* The caller's copy of the key is still its own. */
	EXPECT_EQ(0, memcmp(key, self->key, VDE_XTS_KEY_SIZE));
	vde_secure_free(key, VDE_XTS_KEY_SIZE);
}

TEST_F(hrun, spawn_reports_error)
{
	char msg[VDE_HELPER_MSG_MAX];
	int pid = 0;

	self->cfg.key = NULL;
	EXPECT_EQ(-EIO, vde_helper_spawn(&self->cfg, -1, 10000, &pid, msg, sizeof(msg)));
	EXPECT_STREQ("/dev/vde7 has encrypted regions and no key was given", msg);
	EXPECT_EQ(0, pid);
}

TEST_HARNESS_MAIN
