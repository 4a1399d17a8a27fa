// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of the helper data plane, /dev/vdecN (include/uapi/linux/vde.h,
 * "helper data plane"): the test program plays the userspace helper itself,
 * over io_uring (VDE_RING_FETCH, VDE_RING_COMMIT_AND_FETCH) and over the
 * ioctls (VDE_RING_WAIT, VDE_RING_COMMIT), while other threads read and
 * write /dev/vdeN with O_DIRECT.  No crypto is involved: the kernel does not
 * look at what the helper puts in its buffers, so the "helper" answers
 * reads with a pattern of its own and checks that writes arrive unchanged.
 *
 * Every test bounds its waits (WAIT_MS and friends, alarm() around blocking
 * ioctls), so that a kernel bug shows as a failure rather than a hang, and
 * removes its devices in the teardown even after a failed assertion.
 *
 * Assumptions beyond the letter of the header are marked "ASSUMPTION:".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <liburing.h>
#include <linux/vde.h>

#include "vde_ring_util.h"

#include "kselftest_harness.h"

#define CONTROL		"/dev/" VDE_CONTROL_NAME

#define BS		4096
#define FILE_BLOCKS	4096		/* 16 MiB backing file */
#define DATA_BLOCKS	64		/* device block 0 is file block 64 */
#define DATA_OFF	((unsigned long long)DATA_BLOCKS * BS)
#define DEV_BLOCKS	4000
/* The region map: plain [0, 1000), encrypted [1000, 2000), plain [2000, 4000) */
#define ENC_FIRST	1000
#define ENC_BLOCKS	1000
#define ENC_END		(ENC_FIRST + ENC_BLOCKS)
#define ENC_OFF		(1500ULL * BS)
#define PLAIN_OFF	(100ULL * BS)
#define PLAIN2_OFF	(3000ULL * BS)
#define DEPTH		4

#define MAX_Q		2
#define DEPTH_MAX	8
#define NJOBS		8
#define SLOT		(64 * 1024)	/* bytes of I/O buffer per job */

/* Bound on anything that must happen "soon" (a completion, a CQE). */
#define WAIT_MS		5000
/* Bound on REMOVE, which may have to wait for the blk-mq timeout. */
#define REMOVE_MS	15000
/* No CQE within this long means that a command was accepted (pending). */
#define QUIET_MS	200

/* ------------------------------------------------------------------------
 * Data patterns.  The backing file holds pattern(file offset) ^ 0; the
 * helper answers with pattern(device offset) ^ salt, salt != 0, which
 * differs from the file's bytes everywhere.
 */
static unsigned char pattern_byte(unsigned long long off)
{
	return (unsigned char)((off * 2654435761ULL) >> 13);
}

static void fill_pattern(unsigned char *buf, size_t len,
			 unsigned long long off, unsigned char salt)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(off + i) ^ salt;
}

static bool is_pattern(const unsigned char *buf, size_t len,
		       unsigned long long off, unsigned char salt)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != (pattern_byte(off + i) ^ salt))
			return false;
	return true;
}

/* Does any 512-byte sector of buf hold the helper's data for it? */
static bool any_sector_is_pattern(const unsigned char *buf, size_t len,
				  unsigned long long off, unsigned char salt)
{
	size_t s;

	for (s = 0; s < len; s += 512)
		if (is_pattern(buf + s, 512, off + s, salt))
			return true;
	return false;
}

/* ------------------------------------------------------------------------
 * I/O and ioctls run in threads of their own, so that the test thread can
 * play the helper meanwhile.  Threads are created with every signal blocked:
 * SIGALRM, which bounds the test thread's blocking ioctls, must reach the
 * test thread.
 */
enum { JOB_READ, JOB_WRITE, JOB_FSYNC, JOB_IOCTL };

struct job {
	pthread_t th;
	bool started, joined;
	int kind;
	int fd;
	unsigned char *buf;
	size_t len;
	off_t off;
	unsigned long req;	/* JOB_IOCTL */
	void *arg;
	int cpu;		/* run on this CPU if >= 0 */
	int cpu_ok;
	int delay_ms;		/* sleep this long first */
	int done;
	long long ret;
	int err;
};

static void *job_fn(void *p)
{
	struct job *j = p;
	long long r = -1;

	if (j->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(j->cpu, &set);
		j->cpu_ok = !sched_setaffinity(0, sizeof(set), &set);
	}
	if (j->delay_ms)
		sleep_ms(j->delay_ms);
	errno = 0;
	switch (j->kind) {
	case JOB_READ:
		r = pread(j->fd, j->buf, j->len, j->off);
		break;
	case JOB_WRITE:
		r = pwrite(j->fd, j->buf, j->len, j->off);
		break;
	case JOB_FSYNC:
		r = fsync(j->fd);
		break;
	case JOB_IOCTL:
		r = ioctl(j->fd, j->req, j->arg);
		break;
	}
	j->err = r < 0 ? errno : 0;
	j->ret = r;
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int job_run(struct job *j, int kind, int fd, void *buf, size_t len,
		   off_t off, int cpu, unsigned long req, void *arg,
		   int delay_ms)
{
	sigset_t all, old;
	int r;

	if (j->started && !j->joined)
		return -EBUSY;
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->fd = fd;
	j->buf = buf;
	j->len = len;
	j->off = off;
	j->cpu = cpu;
	j->req = req;
	j->arg = arg;
	j->delay_ms = delay_ms;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&j->th, NULL, job_fn, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	j->started = true;
	return 0;
}

static int job_start(struct job *j, int kind, int fd, void *buf, size_t len,
		     off_t off)
{
	return job_run(j, kind, fd, buf, len, off, -1, 0, NULL, 0);
}

static int job_ioctl(struct job *j, int fd, unsigned long req, void *arg)
{
	return job_run(j, JOB_IOCTL, fd, NULL, 0, 0, -1, req, arg, 0);
}

static bool job_done(struct job *j)
{
	return __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
}

/* Wait up to ms for the job to end; true if it ended (and was joined). */
static bool job_wait(struct job *j, int ms)
{
	struct timespec ts;

	if (!j->started)
		return false;
	if (j->joined)
		return true;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(j->th, NULL, &ts))
		return false;
	j->joined = true;
	return true;
}

/* The job ends within WAIT_MS and returns exactly n. */
#define ASSERT_JOB_RET(j, n) do {					\
		ASSERT_TRUE(job_wait(j, WAIT_MS))			\
			TH_LOG("I/O still pending after %d ms", WAIT_MS); \
		ASSERT_EQ((long long)(n), (j)->ret)			\
			TH_LOG("errno %d (%s)", (j)->err, strerror((j)->err)); \
	} while (0)

/* The job ends within ms and fails with errno e. */
#define ASSERT_JOB_ERR(j, e, ms) do {					\
		ASSERT_TRUE(job_wait(j, ms))				\
			TH_LOG("I/O still pending after %d ms", ms);	\
		ASSERT_EQ(-1LL, (j)->ret)				\
			TH_LOG("expected errno %d, got ret %lld", e, (j)->ret); \
		ASSERT_EQ(e, (j)->err)					\
			TH_LOG("errno %d (%s)", (j)->err, strerror((j)->err)); \
	} while (0)

/* ------------------------------------------------------------------------
 * The helper: /dev/vdecN opened, its descriptors and buffers mapped, and
 * for the io_uring transport a ring.  These functions return 0 or -errno and
 * use no harness macros, so that forked child helpers can use them.
 */
struct helper {
	int fd;
	struct vde_ring_info info;
	struct vde_region_entry regions[8];
	void *desc_map[MAX_Q];
	size_t desc_len;
	unsigned char *bufs;
	size_t bufs_len;
	struct io_uring ring;
	bool ring_ok;
	/* Check vde_io_desc.seq against the publications counted here. */
	bool check_seq;
	__u64 seq[MAX_Q][DEPTH_MAX];
	/* CQEs read while arming, not yet handed out */
	unsigned int nstash;
	__u64 stash_ud[16];
	int stash_res[16];
};

/* user_data of a command: its cmd_op, queue and tag */
#define UD(op, q, tag)	(((__u64)(__u32)(op) << 32) | ((__u64)(q) << 16) | (tag))
#define UD_OP(ud)	((__u32)((ud) >> 32))
#define UD_Q(ud)	((unsigned int)((ud) >> 16) & 0xffff)
#define UD_TAG(ud)	((unsigned int)(ud) & 0xffff)

static void helper_init(struct helper *h)
{
	memset(h, 0, sizeof(*h));
	h->fd = -1;
}

static int ring_info(int fd, struct vde_ring_info *info,
		     struct vde_region_entry *regions, __u32 max)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->max_regions = max;
	info->regions = (uintptr_t)regions;
	return ioctl(fd, VDE_RING_GET_INFO, info) ? -errno : 0;
}

static int helper_map_bufs(struct helper *h)
{
	void *p;

	h->bufs_len = (size_t)h->info.nr_hw_queues * h->info.queue_depth *
		      h->info.buf_size;
	p = mmap(NULL, h->bufs_len, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd,
		 (off_t)VDE_RING_BUF_OFFSET);
	if (p == MAP_FAILED)
		return -errno;
	h->bufs = p;
	return 0;
}

/*
 * A helper was lost after h mapped the data buffers (attaching says
 * ESTALE): map the buffers that are in use now.
 */
static int helper_remap_bufs(struct helper *h)
{
	if (h->bufs)
		munmap(h->bufs, h->bufs_len);
	h->bufs = NULL;
	return helper_map_bufs(h);
}

static int helper_map(struct helper *h)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned int q;
	void *p;

	h->desc_len = (h->info.queue_depth * sizeof(struct vde_io_desc) +
		       page - 1) & ~(page - 1);
	for (q = 0; q < h->info.nr_hw_queues; q++) {
		p = mmap(NULL, h->desc_len, PROT_READ, MAP_SHARED, h->fd,
			 (off_t)q * VDE_RING_DESC_STRIDE);
		if (p == MAP_FAILED)
			return -errno;
		h->desc_map[q] = p;
	}
	return helper_map_bufs(h);
}

static int helper_open(struct helper *h, int index)
{
	char name[64];
	int r;

	snprintf(name, sizeof(name), "/dev/" VDE_RING_NAME_FMT, index);
	h->fd = open(name, O_RDWR | O_CLOEXEC);
	if (h->fd < 0)
		return -errno;
	r = ring_info(h->fd, &h->info, h->regions, 8);
	if (r)
		return r;
	if (!h->info.nr_hw_queues || h->info.nr_hw_queues > MAX_Q ||
	    !h->info.queue_depth || h->info.queue_depth > DEPTH_MAX ||
	    h->info.buf_size != VDE_RING_BUF_SIZE)
		return -ERANGE;
	return helper_map(h);
}

static void helper_unmap_close(struct helper *h)
{
	unsigned int q;

	for (q = 0; q < MAX_Q; q++) {
		if (h->desc_map[q])
			munmap(h->desc_map[q], h->desc_len);
		h->desc_map[q] = NULL;
	}
	if (h->bufs)
		munmap(h->bufs, h->bufs_len);
	h->bufs = NULL;
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

static void helper_close(struct helper *h)
{
	if (h->ring_ok)
		io_uring_queue_exit(&h->ring);
	h->ring_ok = false;
	helper_unmap_close(h);
}

static struct vde_io_desc desc_get(const struct helper *h, unsigned int q,
				   unsigned int tag)
{
	struct vde_io_desc d;

	memcpy(&d, (const unsigned char *)h->desc_map[q] + tag * sizeof(d),
	       sizeof(d));
	return d;
}

static unsigned char *buf_of(const struct helper *h, unsigned int q,
			     unsigned int tag)
{
	return h->bufs + ((size_t)q * h->info.queue_depth + tag) *
			 h->info.buf_size;
}

static int ring_init(struct helper *h)
{
	int r = io_uring_queue_init(64, &h->ring, 0);

	if (!r)
		h->ring_ok = true;
	return r;
}

/* Queue one command (not submitted). */
static int ring_queue_cmd(struct helper *h, __u32 op, unsigned int q,
			  unsigned int tag, __s32 result, __u64 reserved)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&h->ring);
	struct vde_ring_cmd c = {
		.q_id = (__u16)q, .tag = (__u16)tag, .result = result,
		.reserved = reserved,
	};

	if (!sqe)
		return -EBUSY;
	vde_prep_ring_cmd(sqe, h->fd, op, &c, UD(op, q, tag));
	return 0;
}

/* Queue and submit one command: 1 (submitted) or -errno. */
static int ring_cmd(struct helper *h, __u32 op, unsigned int q,
		    unsigned int tag, __s32 result, __u64 reserved)
{
	int r = ring_queue_cmd(h, op, q, tag, result, reserved);

	return r ? r : io_uring_submit(&h->ring);
}

/* The next CQE from the ring within ms: 0 with ud and res, or -ETIME. */
static int ring_next_raw(struct helper *h, int ms, __u64 *ud, int *res)
{
	long long end = now_ms() + ms;
	struct io_uring_cqe *cqe;
	int r;

	for (;;) {
		long long left = end - now_ms();
		struct __kernel_timespec ts;

		if (left < 0)
			left = 0;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000LL;
		r = io_uring_wait_cqe_timeout(&h->ring, &cqe, &ts);
		if (r == -EINTR && left > 0)
			continue;
		if (r)
			return r;
		*ud = cqe->user_data;
		*res = cqe->res;
		io_uring_cqe_seen(&h->ring, cqe);
		return 0;
	}
}

/* The next CQE, stashed ones first. */
static int ring_next(struct helper *h, int ms, __u64 *ud, int *res)
{
	if (h->nstash) {
		*ud = h->stash_ud[0];
		*res = h->stash_res[0];
		h->nstash--;
		memmove(h->stash_ud, h->stash_ud + 1, h->nstash * sizeof(__u64));
		memmove(h->stash_res, h->stash_res + 1, h->nstash * sizeof(int));
		return 0;
	}
	return ring_next_raw(h, ms, ud, res);
}

static void ring_stash(struct helper *h, __u64 ud, int res)
{
	if (h->nstash < 16) {
		h->stash_ud[h->nstash] = ud;
		h->stash_res[h->nstash] = res;
		h->nstash++;
	}
}

/* One VDE_RING_WAIT or VDE_RING_COMMIT; 0 or -errno, b holds the result. */
static int batch(int fd, unsigned long req, unsigned int q, unsigned int flags,
		 struct vde_ring_commit *c, unsigned int nc, __u16 *tags,
		 unsigned int max, struct vde_ring_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->q_id = (__u16)q;
	b->flags = (__u16)flags;
	b->nr_commits = nc;
	b->commits = (uintptr_t)c;
	b->max_tags = max;
	b->tags = (uintptr_t)tags;
	return ioctl(fd, req, b) ? -errno : 0;
}

/* A blocking VDE_RING_WAIT, ended by SIGALRM (-EINTR) after 10 s. */
static int batch_wait(int fd, unsigned int q, struct vde_ring_commit *c,
		      unsigned int nc, __u16 *tags, unsigned int max,
		      struct vde_ring_batch *b)
{
	int r;

	alarm(10);
	r = batch(fd, VDE_RING_WAIT, q, 0, c, nc, tags, max, b);
	alarm(0);
	return r;
}

/* ------------------------------------------------------------------------
 * Forked helper processes: they report over a pipe.
 */
enum { MSG_ARMED = 1, MSG_OWNED, MSG_ERROR, MSG_RESULTS };

struct child_msg {
	int what;
	int err;
	__u32 tag;
	__u32 op;
	__u32 nr_bytes;
	__u32 pad;
	__u64 offset;
	int res[8];
};

static void child_send(int wfd, struct child_msg *m)
{
	if (write(wfd, m, sizeof(*m)) != sizeof(*m))
		_exit(3);
}

/* What a forked helper does once it owns a request. */
enum child_end {
	CHILD_SIT,		/* sit until killed */
	CHILD_EXIT,		/* _exit(0) at once without committing */
	CHILD_SCRIBBLE_EXIT,	/* overwrite the tag's buffer, then exit */
	CHILD_STALE_READ_EXIT,	/* start a slow read into it, then exit */
};

/*
 * The block device CHILD_STALE_READ_EXIT reads from (a dm-delay device
 * whose reads take STALE_DELAY_MS), set before the fork.
 */
static char stale_src[128];
#define STALE_DELAY_MS	2000
#define STALE_BYTE	0x77

/* The byte CHILD_SCRIBBLE_EXIT fills the tag buffer with. */
#define CHILD_SCRIBBLE	0x5a

/*
 * A helper process: arm every tag of queue 0 with io_uring, report ARMED,
 * wait for one request, report it (OWNED) and then end as @end says.
 */
static void __attribute__((noreturn))
child_helper(int index, int wfd, enum child_end end)
{
	struct child_msg m;
	struct helper h;
	struct vde_io_desc d;
	unsigned int t;
	__u64 ud;
	int r, res = 0;

	helper_init(&h);
	memset(&m, 0, sizeof(m));
	r = helper_open(&h, index);
	if (!r)
		r = ring_init(&h);
	for (t = 0; !r && t < h.info.queue_depth; t++)
		r = ring_queue_cmd(&h, VDE_RING_FETCH, 0, t, 0, 0);
	if (!r) {
		r = io_uring_submit(&h.ring);
		r = r == (int)h.info.queue_depth ? 0 : r < 0 ? r : -EIO;
	}
	if (r) {
		m.what = MSG_ERROR;
		m.err = r;
		child_send(wfd, &m);
		_exit(1);
	}
	m.what = MSG_ARMED;
	child_send(wfd, &m);

	r = ring_next(&h, 20000, &ud, &res);
	if (r || res) {
		m.what = MSG_ERROR;
		m.err = r ? r : res;
		child_send(wfd, &m);
		_exit(1);
	}
	d = desc_get(&h, UD_Q(ud), UD_TAG(ud));
	m.what = MSG_OWNED;
	m.tag = UD_TAG(ud);
	m.op = d.op;
	m.nr_bytes = d.nr_bytes;
	m.offset = d.offset;
	child_send(wfd, &m);
	if (end == CHILD_SCRIBBLE_EXIT)
		memset(buf_of(&h, UD_Q(ud), UD_TAG(ud)), CHILD_SCRIBBLE,
		       h.info.buf_size);
	if (end == CHILD_STALE_READ_EXIT) {
		int src = open(stale_src, O_RDONLY | O_DIRECT | O_CLOEXEC);
		struct io_uring_sqe *sqe = io_uring_get_sqe(&h.ring);

		if (src < 0 || !sqe)
			_exit(4);
		io_uring_prep_read(sqe, src, buf_of(&h, UD_Q(ud), UD_TAG(ud)),
				   BS, 0);
		if (io_uring_submit(&h.ring) != 1)
			_exit(5);
		/* Let an io-wq worker issue it, if it was punted to one. */
		sleep_ms(200);
	}
	if (end != CHILD_SIT)
		_exit(0);
	for (;;)
		pause();
}

/* ------------------------------------------------------------------------
 * The fixture: a 16 MiB backing file and the default device description
 * (depth 4, one hardware queue, plain | encrypted | plain).
 */
FIXTURE(ring) {
	int ctl;
	int file;
	char path[512];
	int file2;
	char path2[512];
	struct vde_region_entry map[4];
	struct vde_dev_add add;
	struct vde_features features;
	int index;
	int index2;
	int bdev;
	struct helper h;
	struct job jobs[NJOBS];
	unsigned char *mem;
	pid_t child;
	int pipe_rd;
	struct vde_dev_cmd dc;
	struct job rmjob;		/* the teardown's REMOVE */
	struct vde_dev_cmd rmcmd;
	struct vde_ring_batch batch;
	struct vde_ring_commit commits[8];
	__u16 tags[DEPTH_MAX];
	char delay_file[512];		/* stale_src: its file, loop, dm name */
	char delay_loop[64];
	char delay_dm[64];
};

#define IOBUF(i)	(self->mem + (size_t)(i) * SLOT)

FIXTURE_SETUP(ring)
{
	const char *dir = getenv("VDE_SCRATCH");
	const __u64 need = VDE_FEAT_HELPER_URING | VDE_FEAT_HELPER_IOCTL;
	struct sigaction sa;
	unsigned char *buf;
	ssize_t n;

	self->ctl = self->file = self->file2 = self->bdev = self->pipe_rd = -1;
	self->index = self->index2 = -1;
	self->child = 0;
	self->mem = NULL;
	self->delay_file[0] = self->delay_loop[0] = self->delay_dm[0] = '\0';
	helper_init(&self->h);
	if (geteuid() != 0)
		SKIP(return, "needs root");
	self->ctl = open(CONTROL, O_RDWR);
	if (self->ctl < 0 && errno == ENOENT)
		SKIP(return, "vde.ko is not loaded");
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", CONTROL, strerror(errno));
	memset(&self->features, 0, sizeof(self->features));
	self->features.size = sizeof(self->features);
	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_GET_FEATURES, &self->features));
	if ((self->features.features & need) != need)
		SKIP(return, "no helper data plane (features 0x%llx)",
		     (unsigned long long)self->features.features);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: interrupt the call */
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));

	self->mem = mmap(NULL, NJOBS * SLOT, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);

	if (!dir)
		dir = "/tmp";
	snprintf(self->path, sizeof(self->path), "%s/vde_ring_test.%d.img",
		 dir, (int)getpid());
	snprintf(self->path2, sizeof(self->path2), "%s/vde_ring_test.%d.2.img",
		 dir, (int)getpid());
	self->file = open(self->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0600);
	ASSERT_LE(0, self->file) TH_LOG("%s: %s", self->path, strerror(errno));
	buf = malloc((size_t)FILE_BLOCKS * BS);
	ASSERT_NE(NULL, buf);
	fill_pattern(buf, (size_t)FILE_BLOCKS * BS, 0, 0);
	/* No partition table signature for the scan at START to follow. */
	memset(buf + DATA_OFF, 0, 16 * BS);
	n = pwrite(self->file, buf, (size_t)FILE_BLOCKS * BS, 0);
	free(buf);
	ASSERT_EQ((ssize_t)FILE_BLOCKS * BS, n);
	ASSERT_EQ(0, fsync(self->file));

	memset(self->map, 0, sizeof(self->map));
	self->map[0].first_block = 0;
	self->map[0].nr_blocks = ENC_FIRST;
	self->map[1].first_block = ENC_FIRST;
	self->map[1].nr_blocks = ENC_BLOCKS;
	self->map[1].flags = VDE_REGION_ENCRYPTED;
	self->map[2].first_block = ENC_END;
	self->map[2].nr_blocks = DEV_BLOCKS - ENC_END;

	memset(&self->add, 0, sizeof(self->add));
	self->add.size = sizeof(self->add);
	self->add.backing_fd = self->file;
	self->add.index = VDE_INDEX_ANY;
	self->add.data_offset = DATA_OFF;
	self->add.nr_blocks = DEV_BLOCKS;
	self->add.block_size = BS;
	self->add.logical_block_size = 4096;
	self->add.nr_hw_queues = 1;
	self->add.queue_depth = DEPTH;
	self->add.nr_regions = 3;
	self->add.regions = (uintptr_t)self->map;
	memcpy(self->add.uuid, "vde-ring-test-01", 16);
}

static int dev_cmd(int ctl, unsigned long cmd, int index, __u32 flags)
{
	struct vde_dev_cmd dc = { .size = sizeof(dc), .index = index,
				  .flags = flags };

	return ioctl(ctl, cmd, &dc);
}

/* waitpid() bounded to ms; the status, or -1 if the child did not end. */
static int reap(pid_t pid, int ms)
{
	long long end = now_ms() + ms;
	int status;

	do {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		sleep_ms(20);
	} while (now_ms() < end);
	return -1;
}

/* Run a shell command: its exit status, or -1. */
static int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shell(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	st = system(cmd);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void delay_remove(FIXTURE_DATA(ring) *self)
{
	if (self->delay_dm[0])
		shell("dmsetup remove --retry %s", self->delay_dm);
	if (self->delay_loop[0])
		shell("losetup -d %s", self->delay_loop);
	if (self->delay_file[0])
		unlink(self->delay_file);
	self->delay_file[0] = self->delay_loop[0] = self->delay_dm[0] = '\0';
}

FIXTURE_TEARDOWN(ring)
{
	unsigned int i;
	bool all_joined = true;

	alarm(0);
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		if (reap(self->child, 10000) == -1)
			TH_LOG("helper child %d did not exit", (int)self->child);
	}
	/*
	 * Removal from another thread: a kernel that waited here for the
	 * helper thread (this one) would otherwise hang the test.
	 */
	if (self->index >= 0 && self->ctl >= 0) {
		struct job *rm = &self->rmjob;

		self->rmcmd = (struct vde_dev_cmd){ .size = sizeof(self->rmcmd),
						    .index = self->index,
						    .flags = VDE_REMOVE_FORCE };
		if (!job_ioctl(rm, self->ctl, VDE_CTL_REMOVE, &self->rmcmd)) {
			if (!job_wait(rm, 30000)) {
				TH_LOG("REMOVE of vde%d hung in teardown", self->index);
				_metadata->passed = 0;
				pthread_detach(rm->th);
			} else if (rm->ret) {
				TH_LOG("REMOVE of vde%d: %s", self->index,
				       strerror(rm->err));
			}
		}
	}
	if (self->index2 >= 0 && self->ctl >= 0)
		dev_cmd(self->ctl, VDE_CTL_REMOVE, self->index2, VDE_REMOVE_FORCE);
	for (i = 0; i < NJOBS; i++) {
		struct job *j = &self->jobs[i];

		if (j->started && !j->joined && !job_wait(j, WAIT_MS)) {
			TH_LOG("job %u still blocked after removal", i);
			_metadata->passed = 0;
			pthread_detach(j->th);
			all_joined = false;
		}
	}
	helper_close(&self->h);
	if (self->pipe_rd >= 0)
		close(self->pipe_rd);
	if (self->bdev >= 0)
		close(self->bdev);
	if (self->file >= 0) {
		close(self->file);
		unlink(self->path);
	}
	if (self->file2 >= 0) {
		close(self->file2);
		unlink(self->path2);
	}
	if (self->mem && all_joined)
		munmap(self->mem, NJOBS * SLOT);
	delay_remove(self);
	if (self->ctl >= 0)
		close(self->ctl);
}

#define REQUIRE_SETUP() do { if (_metadata->skip) return; } while (0)

static void vdec_path(char *buf, size_t len, int index)
{
	snprintf(buf, len, "/dev/" VDE_RING_NAME_FMT, index);
}

static bool node_exists(const char *path, mode_t type)
{
	struct stat st;

	return !stat(path, &st) && (st.st_mode & S_IFMT) == type;
}

static bool node_absent(const char *path)
{
	struct stat st;

	return stat(path, &st) && errno == ENOENT;
}

/* ADD (and START, and open /dev/vdeN with O_DIRECT) self->add. */
static void attach(struct __test_metadata *_metadata,
		   FIXTURE_DATA(ring) *self, bool start)
{
	struct vde_dev_add a = self->add;
	char name[64];

	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_ADD, &a))
		TH_LOG("ADD: %s", strerror(errno));
	self->index = a.index;
	ASSERT_LE(0, a.index);
	if (!start)
		return;
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_START, a.index, 0))
		TH_LOG("START: %s", strerror(errno));
	snprintf(name, sizeof(name), "/dev/vde%d", a.index);
	self->bdev = open(name, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, self->bdev) TH_LOG("%s: %s", name, strerror(errno));
}

static void set_io_timeout(struct __test_metadata *_metadata, int index,
			   int ms)
{
	char path[128], val[32];
	int fd, len;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/block/vde%d/queue/io_timeout", index);
	fd = open(path, O_WRONLY);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	len = snprintf(val, sizeof(val), "%d\n", ms);
	ASSERT_EQ(len, write(fd, val, len)) TH_LOG("%s: %s", path, strerror(errno));
	close(fd);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, val, sizeof(val) - 1);
	ASSERT_LT(0, n);
	val[n] = '\0';
	EXPECT_EQ(ms, atoi(val));
	close(fd);
}

/* Open /dev/vdecN for self->h, with a ring if asked. */
static void open_helper(struct __test_metadata *_metadata,
			FIXTURE_DATA(ring) *self, bool with_ring)
{
	int r = helper_open(&self->h, self->index);

	ASSERT_EQ(0, r) TH_LOG("opening and mapping vdec%d: %s", self->index,
			       strerror(-r));
	if (with_ring) {
		r = ring_init(&self->h);
		ASSERT_EQ(0, r) TH_LOG("io_uring_queue_init: %s", strerror(-r));
	}
}

/* A plain O_DIRECT read in the test thread: the file's bytes come back. */
static void read_plain(struct __test_metadata *_metadata,
		       FIXTURE_DATA(ring) *self, int slot,
		       unsigned long long off)
{
	struct job *j = &self->jobs[slot];

	memset(IOBUF(slot), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(slot), BS, off));
	ASSERT_JOB_RET(j, BS);
	EXPECT_TRUE(is_pattern(IOBUF(slot), BS, DATA_OFF + off, 0))
		TH_LOG("plain block at %llu is not the file's", off);
}

/* --- the io_uring helper, in the test thread --------------------------- */

/* No CQE for ms: every command so far is pending. */
static void expect_no_cqe(struct __test_metadata *_metadata,
			  struct helper *h, int ms)
{
	__u64 ud = 0;
	int res = 0;

	EXPECT_EQ(-ETIME, ring_next(h, ms, &ud, &res))
		TH_LOG("unexpected CQE: op 0x%x q %u tag %u res %d",
		       UD_OP(ud), UD_Q(ud), UD_TAG(ud), res);
}

/* The next CQE is exactly (ud, res): a refused command. */
static void expect_cqe(struct __test_metadata *_metadata, struct helper *h,
		       __u64 want_ud, int want_res)
{
	__u64 ud = 0;
	int res = 0;

	ASSERT_EQ(0, ring_next(h, WAIT_MS, &ud, &res))
		TH_LOG("no CQE for op 0x%x q %u tag %u", UD_OP(want_ud),
		       UD_Q(want_ud), UD_TAG(want_ud));
	EXPECT_EQ(want_ud, ud) TH_LOG("CQE for op 0x%x q %u tag %u, res %d",
				      UD_OP(ud), UD_Q(ud), UD_TAG(ud), res);
	EXPECT_EQ(want_res, res) TH_LOG("op 0x%x q %u tag %u",
					UD_OP(want_ud), UD_Q(want_ud),
					UD_TAG(want_ud));
}

/* Submit one command that the kernel must refuse with res. */
static void refused(struct __test_metadata *_metadata, struct helper *h,
		    __u32 op, unsigned int q, unsigned int tag, __s32 result,
		    __u64 reserved, int res)
{
	ASSERT_EQ(1, ring_cmd(h, op, q, tag, result, reserved));
	expect_cqe(_metadata, h, UD(op, q, tag), res);
}

/*
 * Arm every tag of queue q; none may be refused.  A publication arriving
 * meanwhile (a held request) is kept for next_request().
 */
static void fetch_all(struct __test_metadata *_metadata, struct helper *h,
		      unsigned int q)
{
	unsigned int t, depth = h->info.queue_depth;
	__u64 ud;
	int res;

	for (t = 0; t < depth; t++)
		ASSERT_EQ(0, ring_queue_cmd(h, VDE_RING_FETCH, q, t, 0, 0));
	ASSERT_EQ((int)depth, io_uring_submit(&h->ring));
	while (!ring_next_raw(h, QUIET_MS, &ud, &res)) {
		ASSERT_EQ(0, res) TH_LOG("FETCH q %u tag %u refused: %d (%s)",
					 UD_Q(ud), UD_TAG(ud), res,
					 strerror(-res));
		ring_stash(h, ud, res);
	}
}

/*
 * Arm queue q as a new helper after the old one was lost: the kernel may
 * take up to VDE_RING_MONITOR_MS (and some) to notice, and says -EBUSY
 * (or -ENODEV, "the helper is going away") meanwhile; -ESTALE if it
 * noticed after h mapped the data buffers: h maps them again.
 */
static void fetch_all_retry(struct __test_metadata *_metadata,
			    struct helper *h, unsigned int q, int ms)
{
	unsigned int t, depth = h->info.queue_depth;
	long long end = now_ms() + ms;
	__u64 ud;
	int res, r;

	for (;;) {
		ASSERT_EQ(1, ring_cmd(h, VDE_RING_FETCH, q, 0, 0, 0));
		r = ring_next_raw(h, QUIET_MS, &ud, &res);
		if (r == -ETIME)
			break;			/* armed */
		ASSERT_EQ(0, r);
		if (res == 0) {			/* armed and already published */
			ring_stash(h, ud, res);
			break;
		}
		if (res == -ESTALE) {
			ASSERT_EQ(0, helper_remap_bufs(h));
			continue;
		}
		ASSERT_TRUE(res == -EBUSY || res == -ENODEV)
			TH_LOG("FETCH by the new helper: %d (%s)", res,
			       strerror(-res));
		ASSERT_GT(end, now_ms())
			TH_LOG("the lost helper's queue stayed busy for %d ms", ms);
		sleep_ms(50);
	}
	for (t = 1; t < depth; t++)
		ASSERT_EQ(0, ring_queue_cmd(h, VDE_RING_FETCH, q, t, 0, 0));
	ASSERT_EQ((int)depth - 1, io_uring_submit(&h->ring));
	while (!ring_next_raw(h, QUIET_MS, &ud, &res)) {
		ASSERT_EQ(0, res) TH_LOG("FETCH q %u tag %u refused: %d",
					 UD_Q(ud), UD_TAG(ud), res);
		ring_stash(h, ud, res);
	}
}

/* The next published request: its queue, tag and descriptor. */
static void next_request(struct __test_metadata *_metadata, struct helper *h,
			 int ms, unsigned int *q, unsigned int *tag,
			 struct vde_io_desc *d)
{
	__u64 ud = 0;
	int res = 0;

	ASSERT_EQ(0, ring_next(h, ms, &ud, &res))
		TH_LOG("no request published within %d ms", ms);
	ASSERT_EQ(0, res) TH_LOG("CQE op 0x%x q %u tag %u: %d (%s)", UD_OP(ud),
				 UD_Q(ud), UD_TAG(ud), res, strerror(-res));
	ASSERT_TRUE(UD_OP(ud) == (__u32)VDE_RING_FETCH ||
		    UD_OP(ud) == (__u32)VDE_RING_COMMIT_AND_FETCH);
	*q = UD_Q(ud);
	*tag = UD_TAG(ud);
	ASSERT_GT(h->info.nr_hw_queues, *q);
	ASSERT_GT(h->info.queue_depth, *tag);
	*d = desc_get(h, *q, *tag);
	h->seq[*q][*tag]++;
	if (h->check_seq)
		EXPECT_EQ(h->seq[*q][*tag], d->seq) TH_LOG("q %u tag %u", *q, *tag);
	EXPECT_EQ(0, d->reserved0);
	EXPECT_EQ(0, d->reserved);
}

/* The next published request is exactly (op, off, nr). */
static void expect_request(struct __test_metadata *_metadata,
			   struct helper *h, __u8 op, unsigned long long off,
			   __u32 nr, unsigned int *q, unsigned int *tag)
{
	struct vde_io_desc d;

	next_request(_metadata, h, WAIT_MS, q, tag, &d);
	EXPECT_EQ(op, d.op);
	EXPECT_EQ(nr, d.nr_bytes);
	if (op != VDE_IO_OP_FLUSH)
		EXPECT_EQ(off, d.offset);
	EXPECT_EQ(0, d.flags);
}

static void commit(struct __test_metadata *_metadata, struct helper *h,
		   unsigned int q, unsigned int tag, __s32 result)
{
	ASSERT_EQ(1, ring_cmd(h, VDE_RING_COMMIT_AND_FETCH, q, tag, result, 0));
}

/* Serve the next request, a read of (off, nr), with the salted pattern. */
static void serve_read(struct __test_metadata *_metadata, struct helper *h,
		       unsigned long long off, __u32 nr, unsigned char salt)
{
	unsigned int q, t;

	expect_request(_metadata, h, VDE_IO_OP_READ, off, nr, &q, &t);
	fill_pattern(buf_of(h, q, t), nr, off, salt);
	commit(_metadata, h, q, t, (__s32)nr);
}

/* An encrypted read served by the io_uring helper returns its bytes. */
static void round_trip(struct __test_metadata *_metadata,
		       FIXTURE_DATA(ring) *self, int slot,
		       unsigned long long off, unsigned char salt)
{
	struct job *j = &self->jobs[slot];

	memset(IOBUF(slot), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(slot), BS, off));
	serve_read(_metadata, &self->h, off, BS, salt);
	ASSERT_JOB_RET(j, BS);
	EXPECT_TRUE(is_pattern(IOBUF(slot), BS, off, salt));
}

/* --- the ioctl helper, in the test thread ------------------------------- */

/*
 * Arm queue q with WAIT NOWAIT, retrying while a lost helper is cleaned up
 * (-EBUSY, or -ENODEV while "the helper is going away"), and mapping the
 * data buffers again if a helper was lost since h mapped them (-ESTALE).
 */
static void wait_arm_retry(struct __test_metadata *_metadata,
			   struct helper *h, unsigned int q, int ms)
{
	long long end = now_ms() + ms;
	struct vde_ring_batch b;
	__u16 tags[DEPTH_MAX];
	int r;

	for (;;) {
		r = batch(h->fd, VDE_RING_WAIT, q, VDE_RING_WAIT_NOWAIT, NULL, 0,
			  tags, DEPTH_MAX, &b);
		if (r == -ESTALE) {
			ASSERT_EQ(0, helper_remap_bufs(h));
			continue;
		}
		if (r != -EBUSY && r != -ENODEV)
			break;
		ASSERT_GT(end, now_ms())
			TH_LOG("the lost helper's queue stayed busy for %d ms", ms);
		sleep_ms(50);
	}
	ASSERT_EQ(0, r) TH_LOG("WAIT NOWAIT: %s", strerror(-r));
	EXPECT_EQ(0, b.nr_tags);
	EXPECT_EQ(0, b.commits_done);
}

/* Blocking WAITs until n tags of queue q are published. */
static void wait_tags(struct __test_metadata *_metadata, struct helper *h,
		      unsigned int q, unsigned int n, __u16 *tags)
{
	struct vde_ring_batch b;
	unsigned int got = 0;
	int r;

	while (got < n) {
		r = batch_wait(h->fd, q, NULL, 0, tags + got, n - got, &b);
		ASSERT_EQ(0, r) TH_LOG("WAIT: %s", strerror(-r));
		ASSERT_GE(n - got, b.nr_tags);
		EXPECT_EQ(0, b.commits_done);
		got += b.nr_tags;
	}
}

/* ==========================================================================
 * The tests
 */

/* The ABI is the numbers: sizes and ioctl numbers must not move. */
TEST(uapi_ring_numbers)
{
	ASSERT_EQ(32, sizeof(struct vde_io_desc));
	ASSERT_EQ(16, offsetof(struct vde_io_desc, seq));
	ASSERT_EQ(16, sizeof(struct vde_ring_cmd));
	ASSERT_EQ(8, sizeof(struct vde_ring_commit));
	ASSERT_EQ(56, sizeof(struct vde_ring_batch));
	ASSERT_EQ(96, sizeof(struct vde_ring_info));
	ASSERT_EQ(0xc010de20u, (unsigned int)VDE_RING_FETCH);
	ASSERT_EQ(0xc010de21u, (unsigned int)VDE_RING_COMMIT_AND_FETCH);
	ASSERT_EQ(0xc060de22u, (unsigned int)VDE_RING_GET_INFO);
	ASSERT_EQ(0xc038de23u, (unsigned int)VDE_RING_WAIT);
	ASSERT_EQ(0xc038de24u, (unsigned int)VDE_RING_COMMIT);
	ASSERT_EQ(VDE_MAX_QUEUE_DEPTH * sizeof(struct vde_io_desc),
		  VDE_RING_DESC_STRIDE);
	/* The command fits the 16 bytes of a plain 64-byte SQE. */
	ASSERT_EQ(48, offsetof(struct io_uring_sqe, cmd));
	ASSERT_EQ(sizeof(struct io_uring_sqe) - 48, sizeof(struct vde_ring_cmd));
}

/*
 * Both transports are announced; /dev/vdecN exists from ADD to REMOVE for
 * a device that needs a helper, and never for a plain-only one.
 */
TEST_F(ring, features_and_nodes)
{
	struct vde_region_entry plain = { .first_block = 0,
					  .nr_blocks = DEV_BLOCKS };
	char vdec[64], vde[64];

	REQUIRE_SETUP();
	EXPECT_EQ(VDE_FEAT_CONTROL | VDE_FEAT_DEVICES | VDE_FEAT_HELPER_URING |
		  VDE_FEAT_HELPER_IOCTL,
		  self->features.features & (VDE_FEAT_CONTROL | VDE_FEAT_DEVICES |
					     VDE_FEAT_HELPER_URING |
					     VDE_FEAT_HELPER_IOCTL));
	EXPECT_EQ(VDE_ABI_VERSION, self->features.abi_version);

	/* Plain only: no data plane, neither after ADD nor after START. */
	self->add.nr_regions = 1;
	self->add.regions = (uintptr_t)&plain;
	attach(_metadata, self, false);
	vdec_path(vdec, sizeof(vdec), self->index);
	EXPECT_TRUE(node_absent(vdec)) TH_LOG("%s exists", vdec);
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_START, self->index, 0));
	EXPECT_TRUE(node_absent(vdec)) TH_LOG("%s exists after START", vdec);
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_REMOVE, self->index, 0));
	self->index = -1;

	/* An encrypted extent: /dev/vdecN right after ADD, before /dev/vdeN. */
	self->add.nr_regions = 3;
	self->add.regions = (uintptr_t)self->map;
	attach(_metadata, self, false);
	vdec_path(vdec, sizeof(vdec), self->index);
	snprintf(vde, sizeof(vde), "/dev/vde%d", self->index);
	EXPECT_TRUE(node_exists(vdec, S_IFCHR)) TH_LOG("%s missing after ADD", vdec);
	EXPECT_TRUE(node_absent(vde)) TH_LOG("%s exists before START", vde);
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_START, self->index, 0));
	EXPECT_TRUE(node_exists(vdec, S_IFCHR));
	EXPECT_TRUE(node_exists(vde, S_IFBLK));
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_STOP, self->index, 0));
	/* STOP keeps the device, and its data plane, until REMOVE. */
	EXPECT_TRUE(node_exists(vdec, S_IFCHR)) TH_LOG("%s gone after STOP", vdec);
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_REMOVE, self->index, 0));
	self->index = -1;
	EXPECT_TRUE(node_absent(vdec)) TH_LOG("%s left after REMOVE", vdec);

	/* Via helper over an all-plain map: a data plane too. */
	self->add.flags = VDE_DEV_VIA_HELPER;
	self->add.nr_regions = 1;
	self->add.regions = (uintptr_t)&plain;
	attach(_metadata, self, false);
	vdec_path(vdec, sizeof(vdec), self->index);
	EXPECT_TRUE(node_exists(vdec, S_IFCHR)) TH_LOG("%s missing", vdec);
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_REMOVE, self->index, 0));
	self->index = -1;
	EXPECT_TRUE(node_absent(vdec));
}

/* VDE_RING_GET_INFO: every field exact, its input checked. */
TEST_F(ring, get_info_exact)
{
	struct vde_region_entry regions[8], fill;
	struct vde_ring_info info;
	unsigned int i;
	int fd;

	REQUIRE_SETUP();
	self->add.flags = VDE_DEV_HELPER_HOLD;
	self->add.queue_depth = 8;
	attach(_metadata, self, false);
	{
		char name[64];

		vdec_path(name, sizeof(name), self->index);
		fd = open(name, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd) TH_LOG("%s: %s", name, strerror(errno));
		self->h.fd = fd;	/* closed in the teardown */
	}
	memset(&fill, 0xab, sizeof(fill));
	for (i = 0; i < 8; i++)
		regions[i] = fill;

	ASSERT_EQ(0, ring_info(fd, &info, regions, 8)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(sizeof(info), info.size);
	EXPECT_EQ(self->index, info.index);
	EXPECT_EQ(VDE_DEV_HELPER_HOLD, info.flags);
	EXPECT_EQ(1, info.nr_hw_queues);
	EXPECT_EQ(8, info.queue_depth);
	EXPECT_EQ(VDE_RING_BUF_SIZE, info.buf_size);
	EXPECT_EQ(BS, info.block_size);
	EXPECT_EQ(4096, info.logical_block_size);
	EXPECT_EQ(DATA_OFF, info.data_offset);
	EXPECT_EQ(DEV_BLOCKS, info.nr_blocks);
	EXPECT_EQ(8, info.max_regions);
	EXPECT_EQ(3, info.nr_regions);
	EXPECT_EQ((uintptr_t)regions, info.regions);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, info.reserved[i]);
	EXPECT_EQ(0, memcmp(regions, self->map, 3 * sizeof(regions[0])));
	for (i = 3; i < 8; i++)
		EXPECT_EQ(0, memcmp(&regions[i], &fill, sizeof(fill)))
			TH_LOG("entry %u written past the map", i);

	/* Too little room: the count, and nothing copied. */
	for (i = 0; i < 8; i++)
		regions[i] = fill;
	ASSERT_EQ(0, ring_info(fd, &info, regions, 2));
	EXPECT_EQ(3, info.nr_regions);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0, memcmp(&regions[i], &fill, sizeof(fill)))
			TH_LOG("entry %u written", i);
	/* No room at all, no address: the count. */
	ASSERT_EQ(0, ring_info(fd, &info, NULL, 0));
	EXPECT_EQ(3, info.nr_regions);
	EXPECT_EQ(VDE_RING_BUF_SIZE, info.buf_size);

	/* Wrong sizes and non-zero reserved words are refused. */
	{
		const __u32 sizes[] = { 0, 8, sizeof(info) - 8, sizeof(info) + 8,
					~0u };

		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			memset(&info, 0, sizeof(info));
			info.size = sizes[i];
			errno = 0;
			EXPECT_EQ(-1, ioctl(fd, VDE_RING_GET_INFO, &info))
				TH_LOG("size %u", sizes[i]);
			EXPECT_EQ(EINVAL, errno) TH_LOG("size %u", sizes[i]);
		}
	}
	for (i = 0; i < 4; i++) {
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		info.reserved[i] = 1;
		errno = 0;
		EXPECT_EQ(-1, ioctl(fd, VDE_RING_GET_INFO, &info));
		EXPECT_EQ(EINVAL, errno) TH_LOG("reserved[%u]", i);
	}
	/* An unwritable map address. */
	errno = 0;
	EXPECT_EQ(-EFAULT, ring_info(fd, &info, (void *)8, 8));
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, VDE_RING_GET_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* ASSUMPTION: an ioctl number the data plane does not know: ENOTTY. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, _IO(VDE_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);

	/* The same after START. */
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_START, self->index, 0));
	ASSERT_EQ(0, ring_info(fd, &info, regions, 8));
	EXPECT_EQ(self->index, info.index);
	EXPECT_EQ(8, info.queue_depth);
	EXPECT_EQ(3, info.nr_regions);
	EXPECT_EQ(0, memcmp(regions, self->map, 3 * sizeof(regions[0])));
}

/*
 * The mmap layout: descriptors read only, buffers shared and writable,
 * nothing past the ends, and the buffers usable as io_uring fixed buffers.
 *
 * ASSUMPTION: a writable mapping of the descriptors fails with EPERM, the
 * convention of drivers that map kernel-owned memory read-only (ublk).  The
 * header only says "read only"; EACCES would be the other plausible code.
 */
TEST_F(ring, mmap_layout)
{
	const long page = sysconf(_SC_PAGESIZE);
	const size_t total = (size_t)DEPTH * VDE_RING_BUF_SIZE;
	const off_t boff = (off_t)VDE_RING_BUF_OFFSET;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned char *d, *b, *one;
	struct iovec iov[DEPTH];
	void *p;
	int fd, dfd, r;
	unsigned int i;

	REQUIRE_SETUP();
	attach(_metadata, self, false);
	{
		char name[64];

		vdec_path(name, sizeof(name), self->index);
		fd = open(name, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd) TH_LOG("%s: %s", name, strerror(errno));
		self->h.fd = fd;	/* closed in the teardown */
	}

#define EXPECT_MMAP_FAILS(err, len, prot, flags, off) do {		\
		errno = 0;						\
		p = mmap(NULL, len, prot, flags, fd, off);		\
		EXPECT_EQ(MAP_FAILED, p) TH_LOG("mmap at 0x%llx",	\
			(unsigned long long)(off));			\
		if (p != MAP_FAILED)					\
			munmap(p, len);					\
		else							\
			EXPECT_EQ(err, errno) TH_LOG("mmap at 0x%llx: %s", \
				(unsigned long long)(off), strerror(errno)); \
	} while (0)

	/* Descriptors: read only. */
	d = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, d) TH_LOG("%s", strerror(errno));
	{
		volatile unsigned char first = d[0];	/* readable */

		(void)first;
	}
	munmap(d, page);
	EXPECT_MMAP_FAILS(EPERM, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	/* Queue 1 of a device with one queue, and the gap before the buffers. */
	EXPECT_MMAP_FAILS(EINVAL, page, PROT_READ, MAP_SHARED,
			  (off_t)VDE_RING_DESC_STRIDE);
	EXPECT_MMAP_FAILS(EINVAL, page, PROT_READ, MAP_SHARED, boff - page);

	/* Buffers: shared, writable, one VDE_RING_BUF_SIZE per tag. */
	b = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, boff);
	ASSERT_NE(MAP_FAILED, b) TH_LOG("%s", strerror(errno));
	self->h.bufs = b;
	self->h.bufs_len = total;
	fill_pattern(b, total, 0, 0x3c);
	/* Tag 2's buffer on its own is the same memory. */
	one = mmap(NULL, VDE_RING_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, boff + 2 * (off_t)VDE_RING_BUF_SIZE);
	ASSERT_NE(MAP_FAILED, one);
	EXPECT_TRUE(is_pattern(one, VDE_RING_BUF_SIZE, 2ULL * VDE_RING_BUF_SIZE,
			       0x3c));
	memset(one, 0x11, BS);
	EXPECT_EQ(0x11, b[2 * VDE_RING_BUF_SIZE]);
	EXPECT_EQ(0x11, b[2 * VDE_RING_BUF_SIZE + BS - 1]);
	munmap(one, VDE_RING_BUF_SIZE);
	fill_pattern(b + 2 * VDE_RING_BUF_SIZE, BS, 2ULL * VDE_RING_BUF_SIZE,
		     0x3c);
	/* The pages are the device's: they outlive the mapping. */
	munmap(b, total);
	self->h.bufs = NULL;
	b = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, boff);
	ASSERT_NE(MAP_FAILED, b);
	self->h.bufs = b;
	EXPECT_TRUE(is_pattern(b, total, 0, 0x3c)) TH_LOG("buffers lost on munmap");

	EXPECT_MMAP_FAILS(EINVAL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE, boff);
	EXPECT_MMAP_FAILS(EINVAL, page, PROT_READ | PROT_WRITE, MAP_SHARED,
			  boff + (off_t)total);
	EXPECT_MMAP_FAILS(EINVAL, total + page, PROT_READ | PROT_WRITE,
			  MAP_SHARED, boff);

	/* The buffers register as io_uring fixed buffers, whole or per tag. */
	ASSERT_EQ(0, ring_init(&self->h));
	iov[0].iov_base = b;
	iov[0].iov_len = total;
	r = io_uring_register_buffers(&self->h.ring, iov, 1);
	ASSERT_EQ(0, r) TH_LOG("register_buffers: %s", strerror(-r));
	ASSERT_EQ(0, io_uring_unregister_buffers(&self->h.ring));
	for (i = 0; i < DEPTH; i++) {
		iov[i].iov_base = b + (size_t)i * VDE_RING_BUF_SIZE;
		iov[i].iov_len = VDE_RING_BUF_SIZE;
	}
	r = io_uring_register_buffers(&self->h.ring, iov, DEPTH);
	ASSERT_EQ(0, r) TH_LOG("register_buffers: %s", strerror(-r));

	/* ...and a fixed-buffer O_DIRECT read of the image lands in tag 1's. */
	dfd = open(self->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (dfd < 0 && errno == EINVAL)	/* no O_DIRECT on this file system */
		dfd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, dfd);
	sqe = io_uring_get_sqe(&self->h.ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_read_fixed(sqe, dfd, iov[1].iov_base, SLOT,
				 DATA_OFF + ENC_OFF, 1);
	ASSERT_EQ(1, io_uring_submit(&self->h.ring));
	ASSERT_EQ(0, io_uring_wait_cqe(&self->h.ring, &cqe));
	EXPECT_EQ(SLOT, cqe->res) TH_LOG("read_fixed: %s", strerror(-cqe->res));
	io_uring_cqe_seen(&self->h.ring, cqe);
	EXPECT_TRUE(is_pattern(iov[1].iov_base, SLOT, DATA_OFF + ENC_OFF, 0));
	close(dfd);
	ASSERT_EQ(0, io_uring_unregister_buffers(&self->h.ring));
#undef EXPECT_MMAP_FAILS
}

/*
 * io_uring round trips: an encrypted read is published with an exact
 * descriptor and returns the helper's bytes; an encrypted write arrives in
 * the buffer unchanged and never reaches the file from the kernel; requests
 * crossing into encrypted blocks go to the helper whole; plain requests are
 * served in the kernel without a CQE.
 */
TEST_F(ring, uring_round_trip)
{
	struct job *r0 = &self->jobs[0], *w = &self->jobs[1];
	unsigned char *file = malloc(BS);
	struct vde_io_desc d;
	unsigned int q, t;
	unsigned long long off;

	REQUIRE_SETUP();
	ASSERT_NE(NULL, file);
	attach(_metadata, self, true);
	open_helper(_metadata, self, true);
	EXPECT_EQ(0, self->h.info.flags);
	self->h.check_seq = true;
	fetch_all(_metadata, &self->h, 0);

	/* Read */
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(r0, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	next_request(_metadata, &self->h, WAIT_MS, &q, &t, &d);
	EXPECT_EQ(0, q);
	EXPECT_EQ(VDE_IO_OP_READ, d.op);
	EXPECT_EQ(0, d.flags);
	EXPECT_EQ(BS, d.nr_bytes);
	EXPECT_EQ(ENC_OFF, d.offset);
	EXPECT_EQ(1, d.seq);
	EXPECT_FALSE(job_done(r0)) TH_LOG("read completed before the commit");
	fill_pattern(buf_of(&self->h, q, t), BS, ENC_OFF, 0x5a);
	commit(_metadata, &self->h, q, t, BS);
	ASSERT_JOB_RET(r0, BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, ENC_OFF, 0x5a))
		TH_LOG("the reader did not get the helper's bytes");
	expect_no_cqe(_metadata, &self->h, QUIET_MS);

	/* Write: the writer's bytes in the tag's buffer; the file untouched. */
	off = ENC_OFF + BS;
	ASSERT_EQ(BS, pread(self->file, file, BS, DATA_OFF + off));
	fill_pattern(IOBUF(1), BS, off, 0x22);
	ASSERT_EQ(0, job_start(w, JOB_WRITE, self->bdev, IOBUF(1), BS, off));
	expect_request(_metadata, &self->h, VDE_IO_OP_WRITE, off, BS, &q, &t);
	EXPECT_TRUE(is_pattern(buf_of(&self->h, q, t), BS, off, 0x22))
		TH_LOG("the buffer does not hold the written data");
	EXPECT_FALSE(job_done(w));
	commit(_metadata, &self->h, q, t, BS);
	ASSERT_JOB_RET(w, BS);
	ASSERT_EQ(BS, pread(self->file, IOBUF(2), BS, DATA_OFF + off));
	EXPECT_EQ(0, memcmp(file, IOBUF(2), BS))
		TH_LOG("the kernel wrote an encrypted block to the file");

	/* A request that touches an encrypted block goes to the helper whole. */
	off = (ENC_FIRST - 1ULL) * BS;
	memset(IOBUF(0), 0xee, 2 * BS);
	ASSERT_EQ(0, job_start(r0, JOB_READ, self->bdev, IOBUF(0), 2 * BS, off));
	serve_read(_metadata, &self->h, off, 2 * BS, 0x77);
	ASSERT_JOB_RET(r0, 2 * BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), 2 * BS, off, 0x77));
	off = (ENC_END - 1ULL) * BS;
	memset(IOBUF(0), 0xee, 2 * BS);
	ASSERT_EQ(0, job_start(r0, JOB_READ, self->bdev, IOBUF(0), 2 * BS, off));
	serve_read(_metadata, &self->h, off, 2 * BS, 0x78);
	ASSERT_JOB_RET(r0, 2 * BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), 2 * BS, off, 0x78));

	/* Plain blocks: served in the kernel, no CQE, bytes at data_offset. */
	read_plain(_metadata, self, 0, PLAIN_OFF);
	read_plain(_metadata, self, 0, (ENC_FIRST - 1ULL) * BS);
	read_plain(_metadata, self, 0, (unsigned long long)ENC_END * BS);
	fill_pattern(IOBUF(1), BS, PLAIN2_OFF, 0x44);
	ASSERT_EQ(0, job_start(w, JOB_WRITE, self->bdev, IOBUF(1), BS, PLAIN2_OFF));
	ASSERT_JOB_RET(w, BS);
	ASSERT_EQ(BS, pread(self->file, IOBUF(2), BS, DATA_OFF + PLAIN2_OFF));
	EXPECT_TRUE(is_pattern(IOBUF(2), BS, PLAIN2_OFF, 0x44))
		TH_LOG("the plain write did not land at data_offset + offset");
	expect_no_cqe(_metadata, &self->h, QUIET_MS);

	/* The ring keeps serving: a few more round trips, seq counting up. */
	round_trip(_metadata, self, 0, ENC_OFF + 5 * BS, 0x19);
	round_trip(_metadata, self, 0, ENC_OFF + 6 * BS, 0x1a);
	round_trip(_metadata, self, 0, ENC_OFF + 7 * BS, 0x1b);
	free(file);
}

/*
 * The kernel copies between a request's pages and its tag buffer, whole
 * pages one way (copy_page()) and partial ones another: every byte lands
 * where it belongs for page-aligned buffers and for buffers that start
 * 512 bytes into a page (every segment partial, the last one 512 bytes at
 * the start of a page), and nothing outside the request is touched.
 *
 * ASSUMPTION: the backing file (ext4 on a 512-byte-sector disk) takes
 * O_DIRECT at 512-byte memory alignment, so the device does too.
 */
TEST_F(ring, copy_alignments)
{
	static const size_t shifts[] = { 0, 512 };
	const size_t len = 4 * BS, guard = 512;
	unsigned long long off;
	unsigned char *buf;
	unsigned int q, t;
	size_t i;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	open_helper(_metadata, self, true);
	fetch_all(_metadata, &self->h, 0);
	ASSERT_LE(2 * guard + len + BS, (size_t)SLOT);

	for (i = 0; i < ARRAY_SIZE(shifts); i++) {
		/* Read: the helper's bytes, and the guards around them kept. */
		off = ENC_OFF + i * len;
		buf = IOBUF(0) + BS + shifts[i];
		memset(IOBUF(0), 0xee, SLOT);
		ASSERT_EQ(0, job_start(&self->jobs[0], JOB_READ, self->bdev,
				       buf, len, off));
		serve_read(_metadata, &self->h, off, len, 0x3c);
		ASSERT_JOB_RET(&self->jobs[0], len);
		EXPECT_TRUE(is_pattern(buf, len, off, 0x3c))
			TH_LOG("read at page offset %zu: wrong bytes", shifts[i]);
		EXPECT_EQ(0xee, buf[-1]);
		EXPECT_EQ(0xee, buf[len]);
		EXPECT_EQ(0xee, buf[len + guard - 1])
			TH_LOG("read at page offset %zu wrote past the request",
			       shifts[i]);

		/* Write: the writer's bytes in the tag's buffer, in order. */
		off = ENC_OFF + (i + 4) * len;
		buf = IOBUF(1) + BS + shifts[i];
		fill_pattern(buf, len, off, 0x4b);
		ASSERT_EQ(0, job_start(&self->jobs[1], JOB_WRITE, self->bdev,
				       buf, len, off));
		expect_request(_metadata, &self->h, VDE_IO_OP_WRITE, off, len,
			       &q, &t);
		EXPECT_TRUE(is_pattern(buf_of(&self->h, q, t), len, off, 0x4b))
			TH_LOG("write at page offset %zu: wrong bytes", shifts[i]);
		commit(_metadata, &self->h, q, t, (__s32)len);
		ASSERT_JOB_RET(&self->jobs[1], len);
	}
}

/*
 * VDE_DEV_VIA_HELPER over an all-plain map: every request is the helper's,
 * reads, writes, flushes and discards.  A flush or discard succeeds with
 * any non-negative result (struct vde_ring_commit), even one that is not
 * its nr_bytes.
 *
 * ASSUMPTION: the device advertises a write-back cache and discard like a
 * plain device, so fsync() sends exactly one FLUSH and a 64 KiB BLKDISCARD
 * exactly one DISCARD; a FLUSH's offset is not checked.
 */
TEST_F(ring, via_helper_all_plain)
{
	struct vde_region_entry plain = { .first_block = 0,
					  .nr_blocks = DEV_BLOCKS };
	struct job *j = &self->jobs[0];
	__u64 range[2] = { PLAIN_OFF, 64 * 1024 };
	struct vde_dev_info info;
	unsigned int q, t;

	REQUIRE_SETUP();
	self->add.flags = VDE_DEV_VIA_HELPER;
	self->add.nr_regions = 1;
	self->add.regions = (uintptr_t)&plain;
	/* START first: its partition scan must not reach this test's helper. */
	attach(_metadata, self, true);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.index = self->index;
	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_GET_INFO, &info));
	EXPECT_EQ(VDE_DEV_VIA_HELPER, info.flags);
	open_helper(_metadata, self, true);
	EXPECT_EQ(VDE_DEV_VIA_HELPER, self->h.info.flags);
	EXPECT_EQ(1, self->h.info.nr_regions);
	self->h.check_seq = true;
	fetch_all(_metadata, &self->h, 0);

	/* A plain read returns the helper's bytes, not the file's. */
	round_trip(_metadata, self, 0, PLAIN_OFF, 0x21);

	/* A plain write goes to the helper; the kernel leaves the file alone. */
	fill_pattern(IOBUF(1), BS, PLAIN2_OFF, 0x23);
	ASSERT_EQ(0, job_start(j, JOB_WRITE, self->bdev, IOBUF(1), BS, PLAIN2_OFF));
	expect_request(_metadata, &self->h, VDE_IO_OP_WRITE, PLAIN2_OFF, BS, &q, &t);
	EXPECT_TRUE(is_pattern(buf_of(&self->h, q, t), BS, PLAIN2_OFF, 0x23));
	commit(_metadata, &self->h, q, t, BS);
	ASSERT_JOB_RET(j, BS);
	ASSERT_EQ(BS, pread(self->file, IOBUF(2), BS, DATA_OFF + PLAIN2_OFF));
	EXPECT_TRUE(is_pattern(IOBUF(2), BS, DATA_OFF + PLAIN2_OFF, 0));

	/* fsync: one FLUSH, nr_bytes 0. */
	ASSERT_EQ(0, job_start(j, JOB_FSYNC, self->bdev, NULL, 0, 0));
	expect_request(_metadata, &self->h, VDE_IO_OP_FLUSH, 0, 0, &q, &t);
	commit(_metadata, &self->h, q, t, 12345);
	ASSERT_JOB_RET(j, 0);

	/* BLKDISCARD: one DISCARD of the range. */
	ASSERT_EQ(0, job_ioctl(j, self->bdev, BLKDISCARD, range));
	expect_request(_metadata, &self->h, VDE_IO_OP_DISCARD, PLAIN_OFF,
		       64 * 1024, &q, &t);
	commit(_metadata, &self->h, q, t, 0);
	ASSERT_JOB_RET(j, 0);

	/* A negative result fails a flush with that errno. */
	ASSERT_EQ(0, job_start(j, JOB_FSYNC, self->bdev, NULL, 0, 0));
	expect_request(_metadata, &self->h, VDE_IO_OP_FLUSH, 0, 0, &q, &t);
	commit(_metadata, &self->h, q, t, -EIO);
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);
	expect_no_cqe(_metadata, &self->h, QUIET_MS);
}

/*
 * The helper is not trusted: every malformed or out-of-turn command is
 * refused with -EINVAL and changes nothing; results are clamped or turned
 * into errors exactly as documented.
 */
TEST_F(ring, hostile_commands)
{
	struct helper *h = &self->h;
	struct job *j = &self->jobs[0];
	unsigned int q, t;
	unsigned long long off;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	open_helper(_metadata, self, true);
	h->check_seq = true;

	/* Nothing armed: committing a FREE tag. */
	refused(_metadata, h, VDE_RING_COMMIT_AND_FETCH, 0, 0, BS, 0, -EINVAL);
	/* Queue and tag out of range. */
	refused(_metadata, h, VDE_RING_FETCH, 1, 0, 0, 0, -EINVAL);
	refused(_metadata, h, VDE_RING_FETCH, 0xffff, 0, 0, 0, -EINVAL);
	refused(_metadata, h, VDE_RING_FETCH, 0, DEPTH, 0, 0, -EINVAL);
	refused(_metadata, h, VDE_RING_FETCH, 0, 0xffff, 0, 0, -EINVAL);
	/* Reserved bits, and a FETCH with a result. */
	refused(_metadata, h, VDE_RING_FETCH, 0, 0, 0, 1, -EINVAL);
	refused(_metadata, h, VDE_RING_FETCH, 0, 0, 0, 1ULL << 63, -EINVAL);
	refused(_metadata, h, VDE_RING_FETCH, 0, 0, 1, 0, -EINVAL);
	refused(_metadata, h, VDE_RING_FETCH, 0, 0, -EIO, 0, -EINVAL);

	fetch_all(_metadata, h, 0);
	/* Arming an armed tag; committing an armed tag that owns nothing. */
	refused(_metadata, h, VDE_RING_FETCH, 0, 0, 0, 0, -EINVAL);
	refused(_metadata, h, VDE_RING_FETCH, 0, DEPTH - 1, 0, 0, -EINVAL);
	refused(_metadata, h, VDE_RING_COMMIT_AND_FETCH, 0, 1, BS, 0, -EINVAL);
	expect_no_cqe(_metadata, h, QUIET_MS);

	/*
	 * An owned tag: a commit with reserved bits is refused and leaves it
	 * owned; then two commits in one submission: the second is refused.
	 */
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	expect_request(_metadata, h, VDE_IO_OP_READ, ENC_OFF, BS, &q, &t);
	fill_pattern(buf_of(h, q, t), BS, ENC_OFF, 0x61);
	refused(_metadata, h, VDE_RING_COMMIT_AND_FETCH, q, t, BS, 1, -EINVAL);
	refused(_metadata, h, VDE_RING_FETCH, q, t, 0, 0, -EINVAL);
	EXPECT_FALSE(job_done(j)) TH_LOG("a refused commit completed the request");
	ASSERT_EQ(0, ring_queue_cmd(h, VDE_RING_COMMIT_AND_FETCH, q, t, BS, 0));
	ASSERT_EQ(0, ring_queue_cmd(h, VDE_RING_COMMIT_AND_FETCH, q, t, BS, 0));
	ASSERT_EQ(2, io_uring_submit(&h->ring));
	expect_cqe(_metadata, h, UD(VDE_RING_COMMIT_AND_FETCH, q, t), -EINVAL);
	ASSERT_JOB_RET(j, BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, ENC_OFF, 0x61));
	expect_no_cqe(_metadata, h, QUIET_MS);

	/* A result larger than the request is clamped: full success. */
	off = ENC_OFF + BS;
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, off));
	expect_request(_metadata, h, VDE_IO_OP_READ, off, BS, &q, &t);
	fill_pattern(buf_of(h, q, t), BS, off, 0x62);
	commit(_metadata, h, q, t, INT_MAX);
	ASSERT_JOB_RET(j, BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, off, 0x62));

	/* A short result: EIO, and none of the helper's bytes reach the reader. */
	off = ENC_OFF + 2 * BS;
	memset(IOBUF(0), 0xee, 2 * BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), 2 * BS, off));
	expect_request(_metadata, h, VDE_IO_OP_READ, off, 2 * BS, &q, &t);
	fill_pattern(buf_of(h, q, t), 2 * BS, off, 0x63);
	commit(_metadata, h, q, t, BS);
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);
	EXPECT_FALSE(any_sector_is_pattern(IOBUF(0), 2 * BS, off, 0x63))
		TH_LOG("a failed read returned the helper's buffer");

	/* Zero bytes: EIO. */
	off = ENC_OFF + 4 * BS;
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, off));
	expect_request(_metadata, h, VDE_IO_OP_READ, off, BS, &q, &t);
	fill_pattern(buf_of(h, q, t), BS, off, 0x64);
	commit(_metadata, h, q, t, 0);
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);
	EXPECT_FALSE(any_sector_is_pattern(IOBUF(0), BS, off, 0x64));

	/* -EIO on a read: EIO, no data. */
	off = ENC_OFF + 5 * BS;
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, off));
	expect_request(_metadata, h, VDE_IO_OP_READ, off, BS, &q, &t);
	fill_pattern(buf_of(h, q, t), BS, off, 0x65);
	commit(_metadata, h, q, t, -EIO);
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);
	EXPECT_FALSE(any_sector_is_pattern(IOBUF(0), BS, off, 0x65));

	/*
	 * -ENOSPC on a write: the writer sees ENOSPC (errno_to_blk_status()
	 * gives BLK_STS_NOSPC, which the block layer returns as -ENOSPC).
	 */
	off = ENC_OFF + 6 * BS;
	fill_pattern(IOBUF(1), BS, off, 0x66);
	ASSERT_EQ(0, job_start(j, JOB_WRITE, self->bdev, IOBUF(1), BS, off));
	expect_request(_metadata, h, VDE_IO_OP_WRITE, off, BS, &q, &t);
	commit(_metadata, h, q, t, -ENOSPC);
	ASSERT_JOB_ERR(j, ENOSPC, WAIT_MS);

	/* After all that, the queue serves normally. */
	expect_no_cqe(_metadata, h, QUIET_MS);
	round_trip(_metadata, self, 0, ENC_OFF + 7 * BS, 0x67);
}

/*
 * Another process cannot drive a queue that this one serves: -EBUSY from
 * io_uring and from the ioctls; GET_INFO still works.  Its attempts and its
 * exit leave the helper intact.
 */
TEST_F(ring, foreign_process_refused)
{
	struct helper *h = &self->h;
	struct job *j = &self->jobs[0];
	struct child_msg m;
	unsigned int q, t, other;
	int p[2], status;
	pid_t pid;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	open_helper(_metadata, self, true);
	fetch_all(_metadata, h, 0);
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	expect_request(_metadata, h, VDE_IO_OP_READ, ENC_OFF, BS, &q, &t);
	other = (t + 1) % DEPTH;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct vde_ring_commit c = { .tag = (__u16)t, .result = BS };
		struct vde_ring_info info;
		struct vde_ring_batch b;
		struct helper ch;
		__u16 tags[DEPTH_MAX];
		__u64 ud;
		int res = 0;

		close(p[0]);
		/* Not the parent's ring or file: a fresh open. */
		if (h->ring_ok)
			close(h->ring.ring_fd);
		close(h->fd);
		memset(&m, 0, sizeof(m));
		m.what = MSG_RESULTS;
		helper_init(&ch);
		{
			char name[64];

			vdec_path(name, sizeof(name), self->index);
			ch.fd = open(name, O_RDWR | O_CLOEXEC);
		}
		if (ch.fd < 0 || ring_init(&ch))
			_exit(2);
		m.res[0] = ring_info(ch.fd, &info, NULL, 0);
		m.res[1] = ring_cmd(&ch, VDE_RING_FETCH, 0, other, 0, 0) == 1 &&
			   !ring_next(&ch, WAIT_MS, &ud, &res) ? res : 1;
		m.res[2] = ring_cmd(&ch, VDE_RING_COMMIT_AND_FETCH, 0, t, BS, 0) == 1 &&
			   !ring_next(&ch, WAIT_MS, &ud, &res) ? res : 1;
		m.res[3] = batch(ch.fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT,
				 NULL, 0, tags, DEPTH_MAX, &b);
		m.res[4] = batch(ch.fd, VDE_RING_COMMIT, 0, 0, &c, 1, NULL, 0, &b);
		child_send(p[1], &m);
		_exit(0);
	}
	close(p[1]);
	self->pipe_rd = p[0];
	{
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };

		ASSERT_EQ(1, poll(&pfd, 1, 3 * WAIT_MS));
		ASSERT_EQ(sizeof(m), read(p[0], &m, sizeof(m)));
	}
	status = reap(pid, WAIT_MS);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status 0x%x", status);
	EXPECT_EQ(MSG_RESULTS, m.what);
	EXPECT_EQ(0, m.res[0]) TH_LOG("GET_INFO from another process: %d", m.res[0]);
	EXPECT_EQ(-EBUSY, m.res[1]) TH_LOG("FETCH from another process");
	EXPECT_EQ(-EBUSY, m.res[2]) TH_LOG("COMMIT_AND_FETCH from another process");
	EXPECT_EQ(-EBUSY, m.res[3]) TH_LOG("WAIT from another process");
	EXPECT_EQ(-EBUSY, m.res[4]) TH_LOG("COMMIT from another process");

	/* The request is still the helper's, and the helper still serves. */
	EXPECT_FALSE(job_done(j));
	fill_pattern(buf_of(h, q, t), BS, ENC_OFF, 0x71);
	commit(_metadata, h, q, t, BS);
	ASSERT_JOB_RET(j, BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, ENC_OFF, 0x71));
	/* Well past the monitor's period: the child's exit lost nothing. */
	sleep_ms(3 * VDE_RING_MONITOR_MS);
	expect_no_cqe(_metadata, h, QUIET_MS);
	round_trip(_metadata, self, 0, ENC_OFF + BS, 0x72);
}

/*
 * The ioctl transport: WAIT NOWAIT arms, a blocking WAIT returns the
 * published tags, COMMIT works from any thread of the helper, and bad
 * batches say exactly how many commits went before the bad one.
 *
 * ASSUMPTION: VDE_RING_WAIT_NOWAIT is refused (EINVAL) by COMMIT ("WAIT
 * only"), and a tag is returned by WAIT once.
 */
TEST_F(ring, ioctl_round_trip)
{
	struct helper *h = &self->h;
	struct vde_ring_commit *c = self->commits;
	struct vde_ring_batch b;
	struct vde_io_desc d;
	__u16 tags[DEPTH_MAX];
	unsigned int i;
	int fd;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	open_helper(_metadata, self, false);
	fd = h->fd;

	/* Arming returns at once with nothing. */
	ASSERT_EQ(0, batch(fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT, NULL, 0,
			   tags, DEPTH_MAX, &b));
	EXPECT_EQ(0, b.nr_tags);
	EXPECT_EQ(0, b.commits_done);

	/* Malformed batches. */
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b) - 8;
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, VDE_RING_WAIT, &b));
	EXPECT_EQ(EINVAL, errno);
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.flags = VDE_RING_WAIT_NOWAIT;
	b.reserved[1] = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, VDE_RING_WAIT, &b));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, batch(fd, VDE_RING_WAIT, 1, VDE_RING_WAIT_NOWAIT,
				 NULL, 0, tags, DEPTH_MAX, &b));
	EXPECT_EQ(-EINVAL, batch(fd, VDE_RING_WAIT, 0, 0x8000, NULL, 0, tags,
				 DEPTH_MAX, &b));
	EXPECT_EQ(-EINVAL, batch(fd, VDE_RING_COMMIT, 0, 0, NULL, 0, tags,
				 DEPTH_MAX, &b)) TH_LOG("COMMIT with max_tags");
	EXPECT_EQ(-EINVAL, batch(fd, VDE_RING_COMMIT, 0, VDE_RING_WAIT_NOWAIT,
				 NULL, 0, NULL, 0, &b)) TH_LOG("COMMIT with NOWAIT");
	/* Bad commits: an armed tag, a tag out of range, reserved bits. */
	c[0] = (struct vde_ring_commit){ .tag = 0, .result = BS };
	EXPECT_EQ(-EINVAL, batch(fd, VDE_RING_COMMIT, 0, 0, c, 1, NULL, 0, &b));
	EXPECT_EQ(0, b.commits_done);
	c[0] = (struct vde_ring_commit){ .tag = DEPTH, .result = BS };
	EXPECT_EQ(-EINVAL, batch(fd, VDE_RING_COMMIT, 0, 0, c, 1, NULL, 0, &b));
	EXPECT_EQ(0, b.commits_done);
	c[0] = (struct vde_ring_commit){ .tag = 0, .reserved = 1, .result = BS };
	EXPECT_EQ(-EINVAL, batch(fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT, c, 1,
				 tags, DEPTH_MAX, &b));
	EXPECT_EQ(0, b.commits_done);

	/* One read: a blocking WAIT returns its tag. */
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(&self->jobs[0], JOB_READ, self->bdev, IOBUF(0),
			       BS, ENC_OFF));
	ASSERT_EQ(0, batch_wait(fd, 0, NULL, 0, tags, DEPTH_MAX, &b))
		TH_LOG("WAIT: %s", strerror(errno));
	ASSERT_EQ(1, b.nr_tags);
	EXPECT_EQ(0, b.commits_done);
	ASSERT_GT(DEPTH, tags[0]);
	d = desc_get(h, 0, tags[0]);
	EXPECT_EQ(VDE_IO_OP_READ, d.op);
	EXPECT_EQ(ENC_OFF, d.offset);
	EXPECT_EQ(BS, d.nr_bytes);
	EXPECT_EQ(1, d.seq);
	fill_pattern(buf_of(h, 0, tags[0]), BS, ENC_OFF, 0x81);
	/* ...committed by another thread of the helper process. */
	self->commits[0] = (struct vde_ring_commit){ .tag = tags[0], .result = BS };
	memset(&self->batch, 0, sizeof(self->batch));
	self->batch.size = sizeof(self->batch);
	self->batch.nr_commits = 1;
	self->batch.commits = (uintptr_t)self->commits;
	ASSERT_EQ(0, job_ioctl(&self->jobs[1], fd, VDE_RING_COMMIT, &self->batch));
	ASSERT_JOB_RET(&self->jobs[1], 0);
	EXPECT_EQ(1, self->batch.commits_done);
	EXPECT_EQ(0, self->batch.nr_tags);
	ASSERT_JOB_RET(&self->jobs[0], BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, ENC_OFF, 0x81));

	/* Two reads owned; a batch whose second commit is bad applies one. */
	for (i = 0; i < 2; i++) {
		memset(IOBUF(i), 0xee, BS);
		ASSERT_EQ(0, job_start(&self->jobs[i], JOB_READ, self->bdev,
				       IOBUF(i), BS, ENC_OFF + (i + 1) * BS));
	}
	wait_tags(_metadata, h, 0, 2, tags);
	ASSERT_NE(tags[0], tags[1]);
	for (i = 0; i < 2; i++) {
		d = desc_get(h, 0, tags[i]);
		EXPECT_EQ(VDE_IO_OP_READ, d.op);
		EXPECT_EQ(BS, d.nr_bytes);
		EXPECT_TRUE(d.offset == ENC_OFF + BS || d.offset == ENC_OFF + 2 * BS)
			TH_LOG("offset %llu", (unsigned long long)d.offset);
		fill_pattern(buf_of(h, 0, tags[i]), BS, d.offset, 0x82);
	}
	EXPECT_NE(desc_get(h, 0, tags[0]).offset, desc_get(h, 0, tags[1]).offset);
	c[0] = (struct vde_ring_commit){ .tag = tags[0], .result = BS };
	c[1] = (struct vde_ring_commit){ .tag = tags[0], .result = BS };
	c[2] = (struct vde_ring_commit){ .tag = tags[1], .result = BS };
	EXPECT_EQ(-EINVAL, batch(fd, VDE_RING_COMMIT, 0, 0, c, 3, NULL, 0, &b));
	EXPECT_EQ(1, b.commits_done);
	{
		/* Which job read which offset: job i read ENC_OFF + (i+1)*BS. */
		unsigned int first = desc_get(h, 0, tags[0]).offset ==
				     ENC_OFF + BS ? 0 : 1;

		ASSERT_JOB_RET(&self->jobs[first], BS);
		EXPECT_TRUE(is_pattern(IOBUF(first), BS, ENC_OFF + (first + 1) * BS,
				       0x82));
		sleep_ms(QUIET_MS);
		EXPECT_FALSE(job_done(&self->jobs[!first]))
			TH_LOG("the commit after the bad one was applied");
		/* The rest, through WAIT's own commits. */
		c[0] = (struct vde_ring_commit){ .tag = tags[1], .result = BS };
		EXPECT_EQ(0, batch(fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT, c, 1,
				   tags + 2, DEPTH_MAX - 2, &b));
		EXPECT_EQ(1, b.commits_done);
		EXPECT_EQ(0, b.nr_tags);
		ASSERT_JOB_RET(&self->jobs[!first], BS);
		EXPECT_TRUE(is_pattern(IOBUF(!first), BS,
				       ENC_OFF + (!first + 1) * BS, 0x82));
	}

	/* max_tags 1 with two published: one now, the other next time. */
	for (i = 0; i < 2; i++) {
		memset(IOBUF(i), 0xee, BS);
		ASSERT_EQ(0, job_start(&self->jobs[i], JOB_READ, self->bdev,
				       IOBUF(i), BS, ENC_OFF + (i + 8) * BS));
	}
	sleep_ms(QUIET_MS);	/* let both be published before the first WAIT */
	for (i = 0; i < 2; i++) {
		tags[i + 1] = 0xffff;	/* past the room given */
		ASSERT_EQ(0, batch_wait(fd, 0, NULL, 0, tags + i, 1, &b));
		ASSERT_EQ(1, b.nr_tags);
		EXPECT_EQ(0xffff, tags[i + 1]) TH_LOG("WAIT wrote past max_tags");
		d = desc_get(h, 0, tags[i]);
		fill_pattern(buf_of(h, 0, tags[i]), BS, d.offset, 0x83);
	}
	ASSERT_NE(tags[0], tags[1]);
	c[0] = (struct vde_ring_commit){ .tag = tags[0], .result = BS };
	c[1] = (struct vde_ring_commit){ .tag = tags[1], .result = BS };
	EXPECT_EQ(0, batch(fd, VDE_RING_COMMIT, 0, 0, c, 2, NULL, 0, &b));
	EXPECT_EQ(2, b.commits_done);
	for (i = 0; i < 2; i++) {
		ASSERT_JOB_RET(&self->jobs[i], BS);
		EXPECT_TRUE(is_pattern(IOBUF(i), BS, ENC_OFF + (i + 8) * BS, 0x83));
	}
	/* Nothing left published. */
	EXPECT_EQ(0, batch(fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT, NULL, 0,
			   tags, DEPTH_MAX, &b));
	EXPECT_EQ(0, b.nr_tags);
}

/*
 * One thread waits on a queue at a time: while the helper thread sleeps in
 * WAIT, another thread's WAIT is refused with -EBUSY; the sleeping WAIT
 * still returns the next request.
 *
 * ASSUMPTION: a refused WAIT does not make its thread the helper thread,
 * so that thread's exit loses nothing.  The other thread and the reader
 * start after 500 ms and 1000 ms, by which time this thread sleeps in WAIT.
 */
TEST_F(ring, ioctl_one_waiter)
{
	struct helper *h = &self->h;
	struct job *r = &self->jobs[0], *other = &self->jobs[1];
	struct vde_ring_commit c;
	struct vde_ring_batch b;
	struct vde_io_desc d;
	__u16 tags[DEPTH_MAX];
	int i;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	open_helper(_metadata, self, false);
	wait_arm_retry(_metadata, h, 0, 0);

	memset(&self->batch, 0, sizeof(self->batch));
	self->batch.size = sizeof(self->batch);
	self->batch.flags = VDE_RING_WAIT_NOWAIT;
	self->batch.max_tags = DEPTH_MAX;
	self->batch.tags = (uintptr_t)self->tags;
	ASSERT_EQ(0, job_run(other, JOB_IOCTL, h->fd, NULL, 0, 0, -1,
			     VDE_RING_WAIT, &self->batch, 500));
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_run(r, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF, -1,
			     0, NULL, 1000));
	ASSERT_EQ(0, batch_wait(h->fd, 0, NULL, 0, tags, DEPTH_MAX, &b))
		TH_LOG("WAIT: %s", strerror(errno));
	ASSERT_EQ(1, b.nr_tags);
	ASSERT_TRUE(job_wait(other, WAIT_MS));
	EXPECT_EQ(-1, other->ret);
	EXPECT_EQ(EBUSY, other->err) TH_LOG("second waiter: %s",
					    strerror(other->err));
	d = desc_get(h, 0, tags[0]);
	EXPECT_EQ(VDE_IO_OP_READ, d.op);
	EXPECT_EQ(ENC_OFF, d.offset);
	EXPECT_EQ(BS, d.nr_bytes);
	fill_pattern(buf_of(h, 0, tags[0]), BS, ENC_OFF, 0x85);
	c = (struct vde_ring_commit){ .tag = tags[0], .result = BS };
	EXPECT_EQ(0, batch(h->fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT, &c, 1,
			   tags, DEPTH_MAX, &b));
	EXPECT_EQ(1, b.commits_done);
	EXPECT_EQ(0, b.nr_tags);
	ASSERT_JOB_RET(r, BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, ENC_OFF, 0x85));

	/* The refused thread is gone; well past the monitor, still served. */
	sleep_ms(3 * VDE_RING_MONITOR_MS);
	for (i = 1; i <= 2; i++) {
		unsigned long long off = ENC_OFF + i * BS;

		memset(IOBUF(0), 0xee, BS);
		ASSERT_EQ(0, job_start(r, JOB_READ, self->bdev, IOBUF(0), BS, off));
		wait_tags(_metadata, h, 0, 1, tags);
		d = desc_get(h, 0, tags[0]);
		EXPECT_EQ(off, d.offset);
		fill_pattern(buf_of(h, 0, tags[0]), BS, off, 0x86);
		c = (struct vde_ring_commit){ .tag = tags[0], .result = BS };
		EXPECT_EQ(0, batch(h->fd, VDE_RING_COMMIT, 0, 0, &c, 1, NULL, 0,
				   &b));
		ASSERT_JOB_RET(r, BS);
		EXPECT_TRUE(is_pattern(IOBUF(0), BS, off, 0x86));
	}
}

/*
 * Two queues, two transports: a queue served by ioctl refuses io_uring and
 * the other way round; both serve their own requests.
 *
 * ASSUMPTION: blk-mq maps the two CPUs of the test VM to different queues,
 * so reads pinned to CPU 0 and to CPU 1 arrive on different queues.
 */
TEST_F(ring, mixed_transports)
{
	struct helper *h = &self->h;
	struct vde_ring_commit c;
	struct vde_ring_batch b;
	struct vde_io_desc d;
	__u16 tags[DEPTH_MAX];
	int served_q[2] = { -1, -1 };
	unsigned int cpu;

	REQUIRE_SETUP();
	if (self->features.max_hw_queues < 2)
		SKIP(return, "one possible CPU: no second hardware queue");
	self->add.nr_hw_queues = 2;
	attach(_metadata, self, true);
	open_helper(_metadata, self, true);
	ASSERT_EQ(2, h->info.nr_hw_queues);

	ASSERT_EQ(0, batch(h->fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT, NULL, 0,
			   tags, DEPTH_MAX, &b));
	EXPECT_EQ(0, b.nr_tags);
	refused(_metadata, h, VDE_RING_FETCH, 0, 0, 0, 0, -EBUSY);
	refused(_metadata, h, VDE_RING_FETCH, 0, DEPTH - 1, 0, 0, -EBUSY);
	fetch_all(_metadata, h, 1);
	EXPECT_EQ(-EBUSY, batch(h->fd, VDE_RING_WAIT, 1, VDE_RING_WAIT_NOWAIT,
				NULL, 0, tags, DEPTH_MAX, &b));
	c = (struct vde_ring_commit){ .tag = 0, .result = BS };
	EXPECT_EQ(-EBUSY, batch(h->fd, VDE_RING_COMMIT, 1, 0, &c, 1, NULL, 0, &b));

	for (cpu = 0; cpu < 2; cpu++) {
		struct job *j = &self->jobs[cpu];
		unsigned long long off = ENC_OFF + cpu * BS;
		unsigned char salt = (unsigned char)(0x91 + cpu);
		long long end;
		bool served = false;

		memset(IOBUF(cpu), 0xee, BS);
		ASSERT_EQ(0, job_run(j, JOB_READ, self->bdev, IOBUF(cpu), BS, off,
				     (int)cpu, 0, NULL, 0));
		end = now_ms() + WAIT_MS;
		while (!served && now_ms() < end) {
			__u64 ud;
			int res;

			/* Queue 0, by ioctl */
			ASSERT_EQ(0, batch(h->fd, VDE_RING_WAIT, 0,
					   VDE_RING_WAIT_NOWAIT, NULL, 0, tags,
					   DEPTH_MAX, &b));
			ASSERT_GE(1, b.nr_tags);
			if (b.nr_tags == 1) {
				d = desc_get(h, 0, tags[0]);
				EXPECT_EQ(VDE_IO_OP_READ, d.op);
				EXPECT_EQ(off, d.offset);
				EXPECT_EQ(BS, d.nr_bytes);
				fill_pattern(buf_of(h, 0, tags[0]), BS, off, salt);
				c = (struct vde_ring_commit){ .tag = tags[0],
							      .result = BS };
				EXPECT_EQ(0, batch(h->fd, VDE_RING_COMMIT, 0, 0, &c, 1,
						   NULL, 0, &b));
				EXPECT_EQ(1, b.commits_done);
				served_q[cpu] = 0;
				served = true;
				break;
			}
			/* Queue 1, by io_uring */
			if (!ring_next(h, 20, &ud, &res)) {
				ASSERT_EQ(0, res);
				ASSERT_EQ(1, UD_Q(ud));
				d = desc_get(h, 1, UD_TAG(ud));
				EXPECT_EQ(VDE_IO_OP_READ, d.op);
				EXPECT_EQ(off, d.offset);
				EXPECT_EQ(BS, d.nr_bytes);
				fill_pattern(buf_of(h, 1, UD_TAG(ud)), BS, off, salt);
				commit(_metadata, h, 1, UD_TAG(ud), BS);
				served_q[cpu] = 1;
				served = true;
			}
		}
		ASSERT_TRUE(served) TH_LOG("read from CPU %u never published", cpu);
		ASSERT_JOB_RET(j, BS);
		EXPECT_TRUE(is_pattern(IOBUF(cpu), BS, off, salt));
		if (!j->cpu_ok)
			served_q[cpu] = -1 - (int)cpu;	/* could not pin */
	}
	if (served_q[0] >= 0 && served_q[1] >= 0)
		EXPECT_NE(served_q[0], served_q[1])
			TH_LOG("reads from CPU 0 and CPU 1 both on queue %d",
			       served_q[0]);
}

static void read_msg(struct __test_metadata *_metadata, int fd,
		     struct child_msg *m, int what, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	ASSERT_EQ(1, poll(&pfd, 1, ms)) TH_LOG("no word from the helper child");
	ASSERT_EQ(sizeof(*m), read(fd, m, sizeof(*m)));
	ASSERT_EQ(what, m->what) TH_LOG("helper child: message %d, error %d (%s)",
					m->what, m->err, strerror(-m->err));
}

static void spawn_child_helper(struct __test_metadata *_metadata,
			       FIXTURE_DATA(ring) *self, enum child_end end)
{
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	fflush(stdout);
	fflush(stderr);
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (self->child == 0) {
		close(p[0]);
		child_helper(self->index, p[1], end);
	}
	close(p[1]);
	self->pipe_rd = p[0];
}

/*
 * stale_src: a dm-delay device whose reads take STALE_DELAY_MS, over a
 * loop device on a file of STALE_BYTE.
 */
static void delay_setup(struct __test_metadata *_metadata,
			FIXTURE_DATA(ring) *self)
{
	const char *dir = getenv("VDE_SCRATCH");
	unsigned char *buf;
	char cmd[640];
	FILE *f;
	int fd;

	if (shell("modprobe dm-delay && modprobe loop") != 0)
		SKIP(return, "no dm-delay or loop module");
	snprintf(self->delay_file, sizeof(self->delay_file),
		 "%s/vde_ring_test.%d.delay", dir ? dir : "/tmp", (int)getpid());
	fd = open(self->delay_file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", self->delay_file, strerror(errno));
	buf = malloc(1 << 20);
	ASSERT_NE(NULL, buf);
	memset(buf, STALE_BYTE, 1 << 20);
	ASSERT_EQ(1 << 20, write(fd, buf, 1 << 20));
	free(buf);
	close(fd);
	snprintf(cmd, sizeof(cmd), "losetup --find --show --direct-io=on %s",
		 self->delay_file);
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f);
	if (!fgets(self->delay_loop, sizeof(self->delay_loop), f))
		self->delay_loop[0] = '\0';
	pclose(f);
	self->delay_loop[strcspn(self->delay_loop, "\n")] = '\0';
	ASSERT_EQ(0, strncmp(self->delay_loop, "/dev/loop", 9))
		TH_LOG("losetup gave '%s'", self->delay_loop);
	snprintf(self->delay_dm, sizeof(self->delay_dm), "vde-ring-test-%d",
		 (int)getpid());
	/* No udev in the test VM: dmsetup makes the node itself. */
	ASSERT_EQ(0, shell("dmsetup create %s --table '0 2048 delay %s 0 %d' && "
			   "dmsetup mknodes %s", self->delay_dm, self->delay_loop,
			   STALE_DELAY_MS, self->delay_dm));
	snprintf(stale_src, sizeof(stale_src), "/dev/mapper/%s", self->delay_dm);
	ASSERT_TRUE(node_exists(stale_src, S_IFBLK)) TH_LOG("no %s", stale_src);
}

/*
 * A child helper that exits once it owns a request: it reported the
 * request of @op at ENC_OFF, BS bytes, and exited with status 0.
 */
static void child_owned_and_exited(struct __test_metadata *_metadata,
				   FIXTURE_DATA(ring) *self, __u32 op)
{
	struct child_msg m;
	int status;

	read_msg(_metadata, self->pipe_rd, &m, MSG_OWNED, WAIT_MS);
	EXPECT_EQ(op, m.op);
	EXPECT_EQ(ENC_OFF, m.offset);
	EXPECT_EQ(BS, m.nr_bytes);
	status = reap(self->child, 10000);
	ASSERT_NE(-1, status) TH_LOG("the helper did not exit");
	self->child = 0;
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Helper loss, fail policy: a helper process killed while it owns a read;
 * the read fails with EIO, plain I/O never stops, reads of encrypted blocks
 * fail while there is no helper, and a new helper process takes over.
 */
TEST_F_TIMEOUT(ring, helper_loss_fail, 60)
{
	struct job *j = &self->jobs[0];
	struct child_msg m;
	int status;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	spawn_child_helper(_metadata, self, CHILD_SIT);
	read_msg(_metadata, self->pipe_rd, &m, MSG_ARMED, 10000);

	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	read_msg(_metadata, self->pipe_rd, &m, MSG_OWNED, WAIT_MS);
	EXPECT_EQ(VDE_IO_OP_READ, m.op);
	EXPECT_EQ(ENC_OFF, m.offset);
	EXPECT_EQ(BS, m.nr_bytes);

	/* Plain I/O while the helper owns a request. */
	read_plain(_metadata, self, 1, PLAIN_OFF);
	EXPECT_FALSE(job_done(j));

	ASSERT_EQ(0, kill(self->child, SIGKILL));
	status = reap(self->child, 10000);
	ASSERT_NE(-1, status) TH_LOG("the killed helper did not exit");
	self->child = 0;
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);

	/* No helper: plain reads work, encrypted ones fail at once. */
	read_plain(_metadata, self, 1, PLAIN2_OFF);
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF + BS));
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);

	/* A new helper process (this one) arms the queue and serves. */
	open_helper(_metadata, self, true);
	fetch_all_retry(_metadata, &self->h, 0, 3000);
	round_trip(_metadata, self, 0, ENC_OFF, 0xa1);
	round_trip(_metadata, self, 0, ENC_OFF + BS, 0xa2);
	read_plain(_metadata, self, 1, PLAIN_OFF);
}

/*
 * Helper loss by closing: an ioctl helper that unmaps and closes its last
 * reference to /dev/vdecN while owning a read is lost; the read fails with
 * EIO; opening the data plane again gives a working helper.
 */
TEST_F_TIMEOUT(ring, helper_loss_on_close, 60)
{
	struct helper *h = &self->h;
	struct job *j = &self->jobs[0];
	struct vde_ring_commit c;
	struct vde_ring_batch b;
	struct vde_io_desc d;
	__u16 tags[DEPTH_MAX];

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	open_helper(_metadata, self, false);
	wait_arm_retry(_metadata, h, 0, 0);
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	wait_tags(_metadata, h, 0, 1, tags);

	helper_unmap_close(h);
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);
	read_plain(_metadata, self, 1, PLAIN_OFF);
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF + BS));
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);

	open_helper(_metadata, self, false);
	wait_arm_retry(_metadata, h, 0, 3000);
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	wait_tags(_metadata, h, 0, 1, tags);
	d = desc_get(h, 0, tags[0]);
	EXPECT_EQ(VDE_IO_OP_READ, d.op);
	EXPECT_EQ(ENC_OFF, d.offset);
	fill_pattern(buf_of(h, 0, tags[0]), BS, ENC_OFF, 0xb1);
	c = (struct vde_ring_commit){ .tag = tags[0], .result = BS };
	EXPECT_EQ(0, batch(h->fd, VDE_RING_COMMIT, 0, 0, &c, 1, NULL, 0, &b));
	EXPECT_EQ(1, b.commits_done);
	ASSERT_JOB_RET(j, BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, ENC_OFF, 0xb1));
}

/*
 * Helper loss by thread exit: the thread that armed the queue (with WAIT)
 * exits; encrypted reads fail with EIO; another thread can become the
 * helper.
 */
TEST_F_TIMEOUT(ring, helper_thread_exit, 60)
{
	struct helper *h = &self->h;
	struct job *j = &self->jobs[0];
	struct vde_ring_commit c;
	struct vde_ring_batch b;
	struct vde_io_desc d;
	__u16 tags[DEPTH_MAX];

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	open_helper(_metadata, self, false);
	memset(&self->batch, 0, sizeof(self->batch));
	self->batch.size = sizeof(self->batch);
	self->batch.flags = VDE_RING_WAIT_NOWAIT;
	self->batch.max_tags = DEPTH_MAX;
	self->batch.tags = (uintptr_t)self->tags;
	ASSERT_EQ(0, job_ioctl(&self->jobs[1], h->fd, VDE_RING_WAIT, &self->batch));
	ASSERT_JOB_RET(&self->jobs[1], 0);	/* armed, and the thread is gone */
	EXPECT_EQ(0, self->batch.nr_tags);

	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);

	wait_arm_retry(_metadata, h, 0, 3000);
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF + BS));
	wait_tags(_metadata, h, 0, 1, tags);
	d = desc_get(h, 0, tags[0]);
	EXPECT_EQ(VDE_IO_OP_READ, d.op);
	EXPECT_EQ(ENC_OFF + BS, d.offset);
	fill_pattern(buf_of(h, 0, tags[0]), BS, ENC_OFF + BS, 0xc1);
	c = (struct vde_ring_commit){ .tag = tags[0], .result = BS };
	EXPECT_EQ(0, batch(h->fd, VDE_RING_COMMIT, 0, 0, &c, 1, NULL, 0, &b));
	ASSERT_JOB_RET(j, BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, ENC_OFF + BS, 0xc1));
}

/*
 * Helper loss, hold policy: a read issued before any helper waits for one;
 * the first helper receives it and dies without committing; the read stays
 * pending (past io_timeout too) while there is no helper; a new helper
 * receives the same request and its answer reaches the reader.
 */
TEST_F_TIMEOUT(ring, helper_loss_hold, 60)
{
	struct job *j = &self->jobs[0];
	struct child_msg m;
	unsigned int q, t;

	REQUIRE_SETUP();
	self->add.flags = VDE_DEV_HELPER_HOLD;
	attach(_metadata, self, true);
	set_io_timeout(_metadata, self->index, 1000);

	/* Before any helper: held. */
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	sleep_ms(500);
	EXPECT_FALSE(job_done(j)) TH_LOG("read ended (%lld, %s) with no helper",
					 j->ret, strerror(j->err));
	read_plain(_metadata, self, 1, PLAIN_OFF);

	/* The first helper gets it, then exits without committing. */
	spawn_child_helper(_metadata, self, CHILD_EXIT);
	read_msg(_metadata, self->pipe_rd, &m, MSG_ARMED, 10000);
	child_owned_and_exited(_metadata, self, VDE_IO_OP_READ);

	/* Lost helper, io_timeout passed twice over: still pending. */
	sleep_ms(2500);
	EXPECT_FALSE(job_done(j)) TH_LOG("held read ended: %lld, %s", j->ret,
					 strerror(j->err));
	read_plain(_metadata, self, 1, PLAIN2_OFF);

	/* A new helper gets the same request. */
	open_helper(_metadata, self, true);
	fetch_all_retry(_metadata, &self->h, 0, 3000);
	expect_request(_metadata, &self->h, VDE_IO_OP_READ, ENC_OFF, BS, &q, &t);
	EXPECT_FALSE(job_done(j));
	fill_pattern(buf_of(&self->h, q, t), BS, ENC_OFF, 0xd1);
	commit(_metadata, &self->h, q, t, BS);
	ASSERT_JOB_RET(j, BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, ENC_OFF, 0xd1));
	expect_no_cqe(_metadata, &self->h, QUIET_MS);
	round_trip(_metadata, self, 0, ENC_OFF + BS, 0xd2);
}

/*
 * Helper loss, hold policy, a write: the helper that owned it wrote over
 * the tag buffer (as encrypting in place does) and exited; the next
 * helper gets the request with the caller's data in the buffer again.
 */
TEST_F_TIMEOUT(ring, helper_loss_hold_write, 60)
{
	struct job *j = &self->jobs[0];
	struct child_msg m;
	unsigned int q, t;
	unsigned char *b;

	REQUIRE_SETUP();
	self->add.flags = VDE_DEV_HELPER_HOLD;
	attach(_metadata, self, true);
	spawn_child_helper(_metadata, self, CHILD_SCRIBBLE_EXIT);
	read_msg(_metadata, self->pipe_rd, &m, MSG_ARMED, 10000);

	fill_pattern(IOBUF(1), BS, ENC_OFF, 0xe1);
	ASSERT_EQ(0, job_start(j, JOB_WRITE, self->bdev, IOBUF(1), BS, ENC_OFF));
	child_owned_and_exited(_metadata, self, VDE_IO_OP_WRITE);
	sleep_ms(300);
	EXPECT_FALSE(job_done(j)) TH_LOG("held write ended: %lld, %s", j->ret,
					 strerror(j->err));

	open_helper(_metadata, self, true);
	fetch_all_retry(_metadata, &self->h, 0, 3000);
	expect_request(_metadata, &self->h, VDE_IO_OP_WRITE, ENC_OFF, BS, &q, &t);
	b = buf_of(&self->h, q, t);
	EXPECT_TRUE(is_pattern(b, BS, ENC_OFF, 0xe1))
		TH_LOG("republished write: buffer starts %02x %02x", b[0], b[1]);
	commit(_metadata, &self->h, q, t, BS);
	ASSERT_JOB_RET(j, BS);
	expect_no_cqe(_metadata, &self->h, QUIET_MS);
	round_trip(_metadata, self, 0, ENC_OFF + BS, 0xe2);
}

/*
 * The first FETCH of a would-be helper once the kernel has noticed that
 * the old one is gone: -EBUSY and -ENODEV (not noticed yet) are retried.
 */
static int first_fetch_after_loss(struct __test_metadata *_metadata,
				  struct helper *h)
{
	long long end = now_ms() + WAIT_MS;
	__u64 ud;
	int res;

	for (;;) {
		ASSERT_EQ(1, ring_cmd(h, VDE_RING_FETCH, 0, 0, 0, 0));
		ASSERT_EQ(0, ring_next_raw(h, WAIT_MS, &ud, &res));
		if (res != -EBUSY && res != -ENODEV)
			return res;
		ASSERT_GT(end, now_ms()) TH_LOG("the loss went unnoticed");
		sleep_ms(50);
	}
}

/*
 * Helper loss with the lost helper's I/O still in flight: a helper starts
 * a slow O_DIRECT read into the tag buffer of the write it owns and dies.
 * The read lands seconds later, long after a new helper took the write
 * over (hold policy) in the same tag: its buffer must still hold the
 * caller's data then.  The new helper gets buffers of its own: helpers
 * that mapped the buffers before the loss cannot attach (ESTALE) until
 * they map them again.
 */
TEST_F_TIMEOUT(ring, helper_loss_stale_read, 60)
{
	struct job *j = &self->jobs[0];
	struct helper h2;
	struct child_msg m;
	unsigned int q, t;
	unsigned char *b;
	long long landed;
	__u64 ud;
	int res;

	REQUIRE_SETUP();
	delay_setup(_metadata, self);
	REQUIRE_SETUP();
	self->add.flags = VDE_DEV_HELPER_HOLD;
	attach(_metadata, self, true);
	spawn_child_helper(_metadata, self, CHILD_STALE_READ_EXIT);
	read_msg(_metadata, self->pipe_rd, &m, MSG_ARMED, 10000);
	/* Two would-be helpers map the buffers while the child serves. */
	open_helper(_metadata, self, true);
	helper_init(&h2);
	ASSERT_EQ(0, helper_open(&h2, self->index));
	ASSERT_EQ(0, ring_init(&h2));

	fill_pattern(IOBUF(1), BS, ENC_OFF, 0xe3);
	ASSERT_EQ(0, job_start(j, JOB_WRITE, self->bdev, IOBUF(1), BS, ENC_OFF));
	landed = now_ms() + STALE_DELAY_MS;
	child_owned_and_exited(_metadata, self, VDE_IO_OP_WRITE);

	EXPECT_EQ(-ESTALE, first_fetch_after_loss(_metadata, &self->h));
	ASSERT_EQ(0, helper_remap_bufs(&self->h));
	/* h2's mapping is of the lost helper's buffers too. */
	EXPECT_EQ(1, ring_cmd(&h2, VDE_RING_FETCH, 0, 0, 0, 0));
	EXPECT_EQ(0, ring_next_raw(&h2, WAIT_MS, &ud, &res));
	EXPECT_EQ(-ESTALE, res);
	helper_close(&h2);

	fetch_all(_metadata, &self->h, 0);
	expect_request(_metadata, &self->h, VDE_IO_OP_WRITE, ENC_OFF, BS, &q, &t);
	b = buf_of(&self->h, q, t);
	EXPECT_TRUE(is_pattern(b, BS, ENC_OFF, 0xe3))
		TH_LOG("republished write: buffer starts %02x %02x", b[0], b[1]);
	EXPECT_GT(landed, now_ms()) TH_LOG("too slow to test the late read");
	sleep_ms((int)(landed - now_ms()) + 1000);
	EXPECT_TRUE(is_pattern(b, BS, ENC_OFF, 0xe3))
		TH_LOG("the lost helper's read landed in the new helper's buffer (%02x %02x)",
		       b[0], b[1]);
	commit(_metadata, &self->h, q, t, BS);
	ASSERT_JOB_RET(j, BS);
	expect_no_cqe(_metadata, &self->h, QUIET_MS);
}

/*
 * Forced removal while a live helper owns a request it never commits:
 * REMOVE returns (at the latest when the blk-mq timeout ends the request),
 * the reader gets EIO, the helper's armed FETCHes complete with -ENODEV and
 * so does every later command, and the index is free for a new device even
 * while the old data plane is still open.
 *
 * ASSUMPTION: the reader's errno is EIO (BLK_STS_IOERR), both when the
 * request times out and when removal ends it.
 */
TEST_F_TIMEOUT(ring, remove_with_owned_request, 60)
{
	struct helper *h = &self->h;
	struct job *j = &self->jobs[0], *rm = &self->jobs[1];
	struct vde_region_entry map2 = { .first_block = 0, .nr_blocks = 256,
					 .flags = VDE_REGION_ENCRYPTED };
	struct vde_dev_info info;
	struct vde_dev_add a;
	struct vde_ring_batch b;
	__u16 tags[DEPTH_MAX];
	unsigned int q, t, i, seen = 0;
	char vdec[64], vde[64];
	int idx;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	idx = self->index;
	set_io_timeout(_metadata, idx, 2000);
	open_helper(_metadata, self, true);
	fetch_all(_metadata, h, 0);
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	expect_request(_metadata, h, VDE_IO_OP_READ, ENC_OFF, BS, &q, &t);
	fill_pattern(buf_of(h, q, t), BS, ENC_OFF, 0xe1);

	self->dc = (struct vde_dev_cmd){ .size = sizeof(self->dc), .index = idx,
					 .flags = VDE_REMOVE_FORCE };
	ASSERT_EQ(0, job_ioctl(rm, self->ctl, VDE_CTL_REMOVE, &self->dc));
	ASSERT_TRUE(job_wait(rm, REMOVE_MS)) TH_LOG("REMOVE hung");
	ASSERT_EQ(0, rm->ret) TH_LOG("REMOVE: %s", strerror(rm->err));
	self->index = -1;
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);
	EXPECT_FALSE(any_sector_is_pattern(IOBUF(0), BS, ENC_OFF, 0xe1));

	/* The armed FETCHes of the other tags: -ENODEV, one each. */
	for (i = 0; i < DEPTH - 1; i++) {
		__u64 ud = 0;
		int res = 0;

		ASSERT_EQ(0, ring_next(h, WAIT_MS, &ud, &res))
			TH_LOG("only %u FETCHes completed", i);
		EXPECT_EQ((__u32)VDE_RING_FETCH, UD_OP(ud));
		EXPECT_EQ(0, UD_Q(ud));
		EXPECT_NE(t, UD_TAG(ud));
		EXPECT_EQ(-ENODEV, res);
		EXPECT_FALSE(seen & (1u << UD_TAG(ud)));
		seen |= 1u << UD_TAG(ud);
	}
	EXPECT_EQ(((1u << DEPTH) - 1) & ~(1u << t), seen);
	expect_no_cqe(_metadata, h, QUIET_MS);

	/* Later commands, on the owned tag and any other. */
	refused(_metadata, h, VDE_RING_COMMIT_AND_FETCH, q, t, BS, 0, -ENODEV);
	refused(_metadata, h, VDE_RING_FETCH, q, t, 0, 0, -ENODEV);
	refused(_metadata, h, VDE_RING_FETCH, q, (t + 1) % DEPTH, 0, 0, -ENODEV);
	EXPECT_EQ(-ENODEV, batch(h->fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT,
				 NULL, 0, tags, DEPTH_MAX, &b));

	/* Gone, and the index is free. */
	vdec_path(vdec, sizeof(vdec), idx);
	snprintf(vde, sizeof(vde), "/dev/vde%d", idx);
	EXPECT_TRUE(node_absent(vdec));
	EXPECT_TRUE(node_absent(vde));
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.index = idx;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, VDE_CTL_GET_INFO, &info));
	EXPECT_EQ(ENODEV, errno);

	self->file2 = open(self->path2, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			   0600);
	ASSERT_LE(0, self->file2);
	ASSERT_EQ(0, ftruncate(self->file2, 256 * BS));
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.backing_fd = self->file2;
	a.index = idx;
	a.nr_blocks = 256;
	a.block_size = BS;
	a.logical_block_size = 4096;
	a.nr_hw_queues = 1;
	a.queue_depth = DEPTH;
	a.nr_regions = 1;
	a.regions = (uintptr_t)&map2;
	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_ADD, &a))
		TH_LOG("ADD at the freed index %d: %s", idx, strerror(errno));
	self->index2 = a.index;
	EXPECT_EQ(idx, a.index);
	EXPECT_TRUE(node_exists(vdec, S_IFCHR));
	/* The old data plane does not reach the new device. */
	refused(_metadata, h, VDE_RING_FETCH, 0, 0, 0, 0, -ENODEV);
	EXPECT_EQ(0, dev_cmd(self->ctl, VDE_CTL_REMOVE, a.index, 0));
	self->index2 = -1;
}

/*
 * Forced removal, hold policy, no helper at all: the held read fails and
 * REMOVE succeeds.
 */
TEST_F_TIMEOUT(ring, remove_hold_no_helper, 60)
{
	struct job *j = &self->jobs[0], *rm = &self->jobs[1];
	char vdec[64];

	REQUIRE_SETUP();
	self->add.flags = VDE_DEV_HELPER_HOLD;
	attach(_metadata, self, true);
	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	sleep_ms(500);
	EXPECT_FALSE(job_done(j)) TH_LOG("read ended (%lld, %s) with no helper",
					 j->ret, strerror(j->err));

	self->dc = (struct vde_dev_cmd){ .size = sizeof(self->dc),
					 .index = self->index,
					 .flags = VDE_REMOVE_FORCE };
	ASSERT_EQ(0, job_ioctl(rm, self->ctl, VDE_CTL_REMOVE, &self->dc));
	ASSERT_TRUE(job_wait(rm, REMOVE_MS)) TH_LOG("REMOVE hung");
	ASSERT_EQ(0, rm->ret) TH_LOG("REMOVE: %s", strerror(rm->err));
	vdec_path(vdec, sizeof(vdec), self->index);
	self->index = -1;
	ASSERT_JOB_ERR(j, EIO, WAIT_MS);
	EXPECT_TRUE(node_absent(vdec));
}

/*
 * A WAIT whose tag array cannot be written fails with EFAULT and loses
 * nothing: the next WAIT returns the published tag.
 */
TEST_F(ring, wait_efault_keeps_tags)
{
	struct helper *h = &self->h;
	struct job *r = &self->jobs[0];
	struct vde_ring_commit c;
	struct vde_ring_batch b;
	__u16 tags[DEPTH_MAX], *ro;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	open_helper(_metadata, self, false);
	ASSERT_EQ(0, batch(h->fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT, NULL, 0,
			   tags, DEPTH_MAX, &b));
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, job_start(r, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF));
	sleep_ms(300);
	EXPECT_EQ(-EFAULT, batch(h->fd, VDE_RING_WAIT, 0, VDE_RING_WAIT_NOWAIT,
				 NULL, 0, ro, DEPTH_MAX, &b));
	munmap(ro, 4096);
	ASSERT_EQ(0, batch_wait(h->fd, 0, NULL, 0, tags, DEPTH_MAX, &b));
	ASSERT_EQ(1, b.nr_tags);
	EXPECT_EQ(ENC_OFF, desc_get(h, 0, tags[0]).offset);
	fill_pattern(buf_of(h, 0, tags[0]), BS, ENC_OFF, 0x91);
	c = (struct vde_ring_commit){ .tag = tags[0], .result = BS };
	EXPECT_EQ(0, batch(h->fd, VDE_RING_COMMIT, 0, 0, &c, 1, NULL, 0, &b));
	ASSERT_JOB_RET(r, BS);
	EXPECT_TRUE(is_pattern(IOBUF(0), BS, ENC_OFF, 0x91));
}

/*
 * START of a hold-policy device whose block 0 is encrypted, with no helper:
 * the partition scan must not be held (it runs under the control mutex),
 * so START returns at once; afterwards requests are held again.
 */
TEST_F_TIMEOUT(ring, start_hold_no_helper_does_not_hang, 60)
{
	struct job *j = &self->jobs[0], *st = &self->jobs[1];
	struct vde_dev_add a;

	REQUIRE_SETUP();
	self->map[0].flags = VDE_REGION_ENCRYPTED;
	self->map[1].flags = 0;
	self->add.flags = VDE_DEV_HELPER_HOLD;
	a = self->add;
	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_ADD, &a)) TH_LOG("ADD: %s", strerror(errno));
	self->index = a.index;
	self->dc = (struct vde_dev_cmd){ .size = sizeof(self->dc), .index = a.index };
	ASSERT_EQ(0, job_ioctl(st, self->ctl, VDE_CTL_START, &self->dc));
	ASSERT_TRUE(job_wait(st, WAIT_MS)) TH_LOG("START hung on the partition scan");
	ASSERT_EQ(0, st->ret) TH_LOG("START: %s", strerror(st->err));

	/* Control ioctls are not blocked. */
	struct vde_dev_info info = { .size = sizeof(info), .index = a.index };
	EXPECT_EQ(0, ioctl(self->ctl, VDE_CTL_GET_INFO, &info));
	EXPECT_EQ(VDE_STATE_LIVE, info.state);

	/* After START, a request with no helper is held again. */
	{
		char name[64];

		snprintf(name, sizeof(name), "/dev/vde%d", a.index);
		self->bdev = open(name, O_RDWR | O_DIRECT | O_CLOEXEC);
		ASSERT_LE(0, self->bdev);
	}
	ASSERT_EQ(0, job_start(j, JOB_READ, self->bdev, IOBUF(0), BS, 0));
	sleep_ms(500);
	EXPECT_FALSE(job_done(j)) TH_LOG("read ended (%lld, %s) with no helper",
					 j->ret, strerror(j->err));
}

/*
 * A live helper that sits on a request past io_timeout: the reader gets
 * EIO; the tag stays owned (FETCH is refused) until the helper's late
 * commit, which is accepted and discarded; the tag then serves its next
 * request normally.  The reads run on CPU 0, so they share one hardware
 * queue; then as many reads at once as the queue has tags must use it.
 */
TEST_F_TIMEOUT(ring, io_timeout_live_helper, 60)
{
	struct helper *h = &self->h;
	struct job *j = &self->jobs[0];
	unsigned int q, t, q2, t2, i;
	bool reused = false;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	set_io_timeout(_metadata, self->index, 1000);
	open_helper(_metadata, self, true);
	h->check_seq = true;
	fetch_all(_metadata, h, 0);

	memset(IOBUF(0), 0xee, BS);
	ASSERT_EQ(0, job_run(j, JOB_READ, self->bdev, IOBUF(0), BS, ENC_OFF, 0,
			     0, NULL, 0));
	expect_request(_metadata, h, VDE_IO_OP_READ, ENC_OFF, BS, &q, &t);
	fill_pattern(buf_of(h, q, t), BS, ENC_OFF, 0xf1);
	ASSERT_JOB_ERR(j, EIO, 10000);
	EXPECT_FALSE(any_sector_is_pattern(IOBUF(0), BS, ENC_OFF, 0xf1));

	/* Still owned: it cannot be armed. */
	refused(_metadata, h, VDE_RING_FETCH, q, t, 0, 0, -EINVAL);
	/* The late commit is accepted (pending re-arm, no CQE). */
	commit(_metadata, h, q, t, BS);
	expect_no_cqe(_metadata, h, QUIET_MS);

	/* Every tag of the queue at once, that one too; all are served. */
	for (i = 0; i < DEPTH; i++) {
		memset(IOBUF(i), 0xee, BS);
		ASSERT_EQ(0, job_run(&self->jobs[i], JOB_READ, self->bdev, IOBUF(i),
				     BS, ENC_OFF + (i + 1ULL) * BS, 0, 0, NULL, 0));
	}
	for (i = 0; i < DEPTH; i++) {
		struct vde_io_desc d;

		next_request(_metadata, h, WAIT_MS, &q2, &t2, &d);
		EXPECT_EQ(VDE_IO_OP_READ, d.op);
		EXPECT_EQ(BS, d.nr_bytes);
		fill_pattern(buf_of(h, q2, t2), BS, d.offset, 0xf2);
		commit(_metadata, h, q2, t2, BS);
		reused = reused || (q2 == q && t2 == t);
	}
	for (i = 0; i < DEPTH; i++) {
		ASSERT_JOB_RET(&self->jobs[i], BS);
		EXPECT_TRUE(is_pattern(IOBUF(i), BS, ENC_OFF + (i + 1ULL) * BS, 0xf2));
	}
	EXPECT_TRUE(reused) TH_LOG("tag %u never carried another request", t);
	expect_no_cqe(_metadata, h, QUIET_MS);
}

/*
 * A write that timed out leaves its tag ORPHAN: the helper still holds
 * the buffer.  A new write given that tag waits; until the late commit
 * its data must not reach the buffer, and after it the helper gets it
 * with its own data.
 */
TEST_F_TIMEOUT(ring, io_timeout_orphan_write, 60)
{
	struct helper *h = &self->h;
	struct job *j = &self->jobs[0];
	unsigned int q, t, q2, t2, i, nq[DEPTH], nt[DEPTH];
	struct vde_io_desc d;

	REQUIRE_SETUP();
	attach(_metadata, self, true);
	set_io_timeout(_metadata, self->index, 1000);
	open_helper(_metadata, self, true);
	fetch_all(_metadata, h, 0);

	fill_pattern(IOBUF(0), BS, ENC_OFF, 0xa1);
	ASSERT_EQ(0, job_run(j, JOB_WRITE, self->bdev, IOBUF(0), BS, ENC_OFF, 0,
			     0, NULL, 0));
	expect_request(_metadata, h, VDE_IO_OP_WRITE, ENC_OFF, BS, &q, &t);
	EXPECT_TRUE(is_pattern(buf_of(h, q, t), BS, ENC_OFF, 0xa1));
	ASSERT_JOB_ERR(j, EIO, 10000);

	/* As many writes as tags: one of them gets the orphaned tag. */
	for (i = 0; i < DEPTH; i++) {
		fill_pattern(IOBUF(i), BS, ENC_OFF + (i + 1ULL) * BS, 0xa2);
		ASSERT_EQ(0, job_run(&self->jobs[i], JOB_WRITE, self->bdev,
				     IOBUF(i), BS, ENC_OFF + (i + 1ULL) * BS, 0,
				     0, NULL, 0));
	}
	for (i = 0; i + 1 < DEPTH; i++) {
		next_request(_metadata, h, WAIT_MS, &nq[i], &nt[i], &d);
		EXPECT_EQ(VDE_IO_OP_WRITE, d.op);
		EXPECT_TRUE(is_pattern(buf_of(h, nq[i], nt[i]), BS, d.offset, 0xa2));
		EXPECT_FALSE(nq[i] == q && nt[i] == t);
	}
	sleep_ms(300);
	expect_no_cqe(_metadata, h, QUIET_MS);
	EXPECT_TRUE(is_pattern(buf_of(h, q, t), BS, ENC_OFF, 0xa1))
		TH_LOG("a new write reached the orphaned tag's buffer");

	/* The late commit re-arms the tag and hands over the waiting write. */
	commit(_metadata, h, q, t, BS);
	next_request(_metadata, h, WAIT_MS, &q2, &t2, &d);
	EXPECT_EQ(VDE_IO_OP_WRITE, d.op);
	EXPECT_TRUE(is_pattern(buf_of(h, q2, t2), BS, d.offset, 0xa2));
	EXPECT_TRUE(q2 == q && t2 == t) TH_LOG("got tag %u, not %u", t2, t);
	nq[DEPTH - 1] = q2;
	nt[DEPTH - 1] = t2;
	for (i = 0; i < DEPTH; i++)
		commit(_metadata, h, nq[i], nt[i], BS);
	for (i = 0; i < DEPTH; i++)
		ASSERT_JOB_RET(&self->jobs[i], BS);
	expect_no_cqe(_metadata, h, QUIET_MS);
}

TEST_HARNESS_MAIN
