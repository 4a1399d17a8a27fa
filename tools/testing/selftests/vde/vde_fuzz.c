// SPDX-License-Identifier: GPL-2.0
/*
 * vde_fuzz: a seeded, time-bounded fuzzer of vde's control ioctls
 * (/dev/vde-control) and of the helper data plane (/dev/vdecN: mmap,
 * VDE_RING_GET_INFO, VDE_RING_WAIT, VDE_RING_COMMIT and the io_uring
 * commands VDE_RING_FETCH and VDE_RING_COMMIT_AND_FETCH), while forked
 * children do O_DIRECT I/O on the devices and play helpers that serve
 * well, serve garbage, or die owning requests.
 *
 *   vde_fuzz [-s SEED] [-t SECONDS] [-n STEPS] [-v]
 *
 * -s SEED     seed of the run (default: from the clock; always printed)
 * -t SECONDS  how long to fuzz (default 60)
 * -n STEPS    also stop after STEPS operations (default: no limit)
 * -v          log every operation, its arguments and its result to stderr
 *
 * Reproducing a run: every run prints "# seed S".  The main process draws
 * every decision from one xorshift64* stream seeded with S, so
 *
 *   vde_fuzz -s S -t T -v 2>ops.log
 *
 * replays the same sequence of operations on the same kernel, as long as
 * the kernel answers the same way.  What the children do, and when the
 * requests they cause are published to the fuzzer, depends on timing, and
 * choices that follow from those answers can then differ.  To bisect a
 * failing seed, bound the run by steps (-n) rather than by time, and halve
 * -n until the failure goes; the -v log says what each step did, with the
 * step number in brackets.
 *
 * KTAP results: the fuzz loop itself (no ABI invariant broken, no fault
 * touching memory the kernel let us map), a forced REMOVE of every device
 * left (0 or ENODEV each), the children's exit, /dev/vde-control still
 * answering GET_FEATURES, and no vde block device or /dev/vdecN left.  A
 * watchdog thread prints "not ok ... hung" and exits 1 if the run has not
 * ended 60 s after its time limit.
 *
 * Run as root with vde.ko loaded, in a test VM: the fuzzer creates devices
 * over scratch files in $VDE_SCRATCH (or /tmp) and at the end force-removes
 * every vde device backed by one of its files.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <liburing.h>
#include <linux/vde.h>

#include "vde_ring_util.h"

/*
 * Rules that keep the fuzzer from hurting the machine or hanging itself.
 * Each is enforced at one place, named here.
 *
 * 1. Never ADD a device with more than MAX_TAGS (64) tags in all
 *    (nr_hw_queues * queue_depth, 0 counting as the kernel's defaults:
 *    every CPU, depth 128) unless the request is invalid anyway.  A device
 *    with a helper allocates and pins one 256 KiB buffer per tag at ADD, so
 *    a big valid ADD would take up to 1 GiB.  Likewise never more than
 *    MAX_DEVS devices alive.  gate_add() looks at every ADD after all
 *    mutation, just before it is issued, and if the request could succeed
 *    and is too big (or would be one device too many) makes it invalid
 *    with a field the kernel checks before it allocates anything: size,
 *    a reserved word or an unknown flag.
 * 2. Never START a device whose partition scan could wait for a helper
 *    that will not answer.  START scans the partition table (the first
 *    64 KiB, see 5) while it holds the control mutex; a read held for a
 *    missing helper (VDE_DEV_HELPER_HOLD), or published to this very
 *    thread, would block it, and every control ioctl after it, for
 *    io_timeout (30 s: the disk is new) or forever.  gate_start() makes
 *    such a START invalid (flags or reserved0) unless the scanned blocks
 *    are served in the kernel, or there is no helper and no hold (the
 *    reads fail at once), or a helper child armed every queue and serves.
 *    This thread counts as a possible helper of a device from its first
 *    FETCH or WAIT on a valid queue of it, for good: pending FETCHes and
 *    descriptor mappings keep /dev/vdecN open past close().
 * 3. Never block without a bound: VDE_RING_WAIT (and every other ioctl on
 *    /dev/vdecN) runs under a 50 ms one-shot timer whose SIGALRM interrupts
 *    it; CQEs are peeked or waited for with a timeout; the io_timeout of
 *    every started device is set to 1-3 s (io_timeout_set()), so that a
 *    request nobody serves fails soon, and STOP and REMOVE, which wait for
 *    the requests in flight, return soon.
 * 4. Each I/O child issues one request at a time, at most 256 KiB (one
 *    blk-mq request on every vde device; discard and zero-out at most
 *    64 KiB within an aligned 64 KiB), on devices of its own (index
 *    parity), so that no task ever sleeps for a tag that a held request
 *    keeps: only in the waits the hung task detector knows are long.
 * 5. Data written anywhere (I/O, helper buffers) is one byte, 0x40..0x7f,
 *    repeated over each 4 KiB, so no partition table signature can appear
 *    and the scan at START never reads beyond its first 64 KiB.
 * 6. A structure is passed from our own copy (maybe misaligned, read-only
 *    or cut by an unmapped page) or from an address nothing can be read
 *    from, never from other readable memory: the kernel would act on
 *    whatever older request it holds, which the gates never saw.
 */

#define CONTROL		"/dev/" VDE_CONTROL_NAME
#define PAGE_SZ		4096UL
#define BS		4096U
#define NFILES		10		/* scratch files */
#define FILE_BLOCKS	1024U		/* 4 MiB each */
#define MAX_DEVS	8		/* devices alive at once */
#define SLOTS		16		/* device table */
#define MAX_TAGS	64		/* tags of any ADD that may succeed */
#define MAX_Q		64		/* hence queues of a device of ours */
#define MAX_MAPS	12		/* fuzz mappings kept */
#define MAX_STALE	4		/* /dev/vdecN fds of removed devices */
#define MAX_HELPERS	4		/* helper children alive */
#define NR_IOCHILD	2
#define MAX_CHILDREN	64
#define SCAN_BYTES	65536ULL	/* what the partition scan may read */
#define ERRMAX		134
#define HUNG_GRACE_S	60
#define WAIT_TIMER_US	50000
#define MAX_INDEX	65536		/* indices are below this (uapi.rst) */
#define NR_CMDS		64		/* commits of one batch we build */
#define NR_TAGS_BUF	4096		/* room for tags returned by WAIT */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* ------------------------------------------------------------------------
 * PRNG: splitmix64 to seed, xorshift64* to draw.
 */
struct rng {
	__u64 s;
};

static __u64 splitmix64(__u64 *x)
{
	__u64 z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, __u64 seed)
{
	__u64 x = seed;

	r->s = splitmix64(&x);
	if (!r->s)
		r->s = 1;
}

static __u64 rng_next(struct rng *r)
{
	__u64 x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static __u64 r_below(struct rng *r, __u64 n)
{
	return n ? rng_next(r) % n : 0;
}

static bool r_chance(struct rng *r, unsigned int permille)
{
	return r_below(r, 1000) < permille;
}

/* A byte for data: one value repeated, never a partition table (rule 5). */
static unsigned char r_fill(struct rng *r)
{
	return 0x40 | (rng_next(r) & 0x3f);
}

/* The main process' stream: every decision of the fuzz loop. */
static struct rng R;

static __u64 rnd(void)
{
	return rng_next(&R);
}

static __u32 rnd32(void)
{
	return (__u32)(rnd() >> 32);
}

static __u64 below(__u64 n)
{
	return r_below(&R, n);
}

static bool chance(unsigned int permille)
{
	return r_chance(&R, permille);
}

static long long range(long long lo, long long hi)
{
	return lo + (long long)below((__u64)(hi - lo) + 1);
}

#define PICK(arr)	((arr)[below(ARRAY_SIZE(arr))])

static const __s32 interesting_s32[] = {
	0, 1, -1, 511, 512, 4095, 4096, 4097, 65536, 262144, 262145,
	INT_MAX, INT_MIN, -EIO, -ENOSPC, -EINVAL, -EAGAIN, -4095, -4096,
	-4097, INT_MIN + 1,
};

static const __u32 interesting_u32[] = {
	0, 1, 2, 7, 8, 63, 64, 65, 255, 256, 257, 4095, 4096, 4097, 65535,
	65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
};

/* ------------------------------------------------------------------------
 * State
 */
enum { HM_GOOD, HM_GARBAGE, HM_CRASH };
static const char *const hm_name[] = { "good", "garbage", "crash" };

enum { CK_IO, CK_HELPER };

struct child {
	pid_t pid;
	int kind;
	int slot;		/* device table slot of a helper */
	unsigned int uid;
	bool killed;
};

struct dev {
	bool used;
	bool adopted;		/* found after an ADD that said EFAULT */
	bool ring;		/* has /dev/vdecN */
	bool routed_scan;	/* the partition scan may need the helper */
	bool main_touched;	/* this thread may be a helper of it */
	bool helper_armed;	/* the helper child armed every queue */
	int helper_mode;
	pid_t helper;		/* helper child, 0 if none */
	unsigned int uid;	/* tells a slot's devices apart in CQEs */
	int index;
	int state;		/* VDE_STATE_* as we believe it */
	__u32 flags;
	unsigned int nq, depth;
	__u64 nr_blocks;
	__u32 block_size;
	int file;		/* scratch file slot, -1 for other files */
	int fd[2];		/* our /dev/vdecN: [0] O_RDWR, [1] any mode */
	__u64 owned_uring;	/* bit q * depth + tag: published to us */
	__u64 owned_ioctl;
	void *sdesc[MAX_Q];	/* mappings for serving */
	size_t sdesc_len;
	void *sbuf;
	size_t sbuf_len;
};

struct mapping {
	void *addr;
	size_t len;
	int prot;
	bool desc;		/* a descriptor array */
	int index;		/* device index it came from, -1 if unknown */
};

/* Shared with the children (MAP_SHARED): what runs, and their counters. */
struct shared {
	int stop;
	int live[SLOTS];	/* indices of LIVE devices, -1 for none */
	unsigned long ios;
	unsigned long io_errors;
	unsigned long io_errs[ERRMAX + 1];
	unsigned long served;
	unsigned long garbage;
	unsigned long junk;
	unsigned long junk_accepted;	/* must stay 0 */
	unsigned long crashes;
};

static struct {
	int ctl;
	struct vde_features feat;
	bool ring_feat;		/* both transports announced */
	bool verbose;
	__u64 seed;
	unsigned long step, max_steps;
	int limit_s;
	long long start_ms, end_ms;
	pid_t main_pid;

	char dir[256];
	int file_fd[NFILES];
	int file_ro[NFILES];
	int file_wo;
	int path_fd;
	int dir_fd;
	int pipe_fd[2];
	int null_fd;
	int small_fd;
	int mem_fd;
	struct { __u64 dev, ino; } backing[NFILES + 2];
	unsigned int nbacking;

	struct dev devs[SLOTS];
	unsigned int next_uid;
	struct mapping maps[MAX_MAPS];
	int stale[MAX_STALE];
	struct child children[MAX_CHILDREN];
	pid_t io_pid[NR_IOCHILD];
	unsigned long io_respawns;

	struct io_uring ring;
	bool ring_ok;

	unsigned char *arg;	/* where structures are passed from */
	unsigned char *ro;	/* a read-only page */
	unsigned char *edge;	/* a page, then a PROT_NONE page */
	unsigned char *rndbuf;	/* random bytes */
	struct vde_region_entry *map;
	struct vde_region_entry *map2;
	struct vde_ring_commit *commits;
	__u16 *tags;

	unsigned long n_ioctl, n_ring, n_mmap, n_open, n_cqe;
	unsigned long errs[ERRMAX + 1];
	unsigned long violations, faults, notes, adopted;
	unsigned long gated_add, gated_start;
	struct shared *sh;
} g;

/* The test the watchdog reports as hung. */
static volatile int cur_test = 1;
static const char *volatile cur_name = "fuzz loop";

/* ------------------------------------------------------------------------
 * Small helpers
 */
static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...)
{
	va_list ap;

	if (!g.verbose)
		return;
	fprintf(stderr, "[%lu] ", g.step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *ename(int e)
{
	const char *n = e ? strerrorname_np(e) : "OK";

	return n ? n : "E?";
}

/* "0" or "-1 EINVAL", from a call's return and errno */
static const char *res(long r, int e)
{
	static char buf[4][32];
	static unsigned int i;
	char *b = buf[i++ % 4];

	if (r < 0)
		snprintf(b, sizeof(buf[0]), "%ld %s", r, ename(e));
	else
		snprintf(b, sizeof(buf[0]), "%ld", r);
	return b;
}

static void note_errno(int e)
{
	g.errs[e > 0 && e < ERRMAX ? e : ERRMAX]++;
}

/* A broken promise of the ABI: fails the fuzz loop's test. */
static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	va_list ap;

	g.violations++;
	printf("# step %lu: VIOLATION: ", g.step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Something worth a look that the ABI does not forbid. */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	if (g.notes++ >= 20 && !g.verbose)
		return;
	printf("# step %lu: note: ", g.step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void flip_bits(void *p, size_t len, unsigned int n)
{
	unsigned char *b = p;

	while (n--)
		b[below(len)] ^= 1U << below(8);
}

/* Store v at byte offset off of a structure, whatever the field there. */
static void set_u32(void *base, size_t off, __u32 v)
{
	memcpy((unsigned char *)base + off, &v, sizeof(v));
}

/* Whether bytes [from, len) of a structure are all zero */
static bool zero_from(const void *base, size_t from, size_t len)
{
	const unsigned char *b = base;

	for (; from < len; from++)
		if (b[from])
			return false;
	return true;
}

static __u32 pick_size(__u32 real)
{
	const __u32 sizes[] = { 0, real - 8, real + 8, real - 1, real + 1,
				real * 2, real / 2, 4, 64, 0xffffffff };

	return chance(850) ? PICK(sizes) : rnd32();
}

static __u64 encode_dev(dev_t dev)
{
	__u64 ma = major(dev), mi = minor(dev);

	/* new_encode_dev() */
	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffULL) << 12);
}

static bool node_is(const char *path, mode_t type)
{
	struct stat st;

	return !stat(path, &st) && (st.st_mode & S_IFMT) == type;
}

/* ------------------------------------------------------------------------
 * Where arguments live.  Most go from an ordinary buffer; some from a
 * misaligned address, a read-only page, across the end of the mapped
 * memory, or from addresses that are no user memory at all.
 */
enum { P_OK, P_MISALIGNED, P_RO, P_STRADDLE, P_BAD };
static const char *const p_name[] = { "ok", "misaligned", "ro", "straddle", "bad" };

static void ro_write(const void *src, size_t len)
{
	mprotect(g.ro, PAGE_SZ, PROT_READ | PROT_WRITE);
	memset(g.ro, 0, PAGE_SZ);
	memcpy(g.ro, src, MIN(len, PAGE_SZ));
	mprotect(g.ro, PAGE_SZ, PROT_READ);
}

/*
 * An address no structure can be read from.  Never readable memory: the
 * kernel would act on whatever it holds (an older request, never seen by
 * gate_add() or gate_start()).
 */
static void *bad_ptr(void)
{
	static const uintptr_t bad[] = {
		0, 8, 0xdead0000UL, 0xffff888000000000UL,
		0xffffffff81000000UL, 0xffffffffff600000UL, 0x7ffffffff000UL,
		0xfffffffffffff000UL, 0x800000000000UL,
	};

	if (chance(200))
		return g.edge + PAGE_SZ;		/* PROT_NONE */
	return (void *)PICK(bad);
}

/* For arrays (regions, commits, tags): bad, read-only or a vdec mapping. */
static void *odd_ptr(void)
{
	unsigned int i;

	switch (below(4)) {
	case 0:
		for (i = 0; i < MAX_MAPS; i++)
			if (g.maps[i].addr && (g.maps[i].prot & PROT_READ))
				return g.maps[i].addr;
		return g.ro;
	case 1:
		return g.ro;
	default:
		return bad_ptr();
	}
}

/* Copy a structure where it will be passed from; *mode says where. */
static void *place(const void *src, size_t len, int *mode)
{
	unsigned int c = below(1000);
	unsigned char *p;

	if (c < 860) {
		*mode = P_OK;
		memcpy(g.arg, src, len);
		return g.arg;
	}
	if (c < 900) {
		*mode = P_MISALIGNED;
		p = g.arg + 1 + below(7);
		memcpy(p, src, len);
		return p;
	}
	if (c < 940) {
		*mode = P_RO;
		ro_write(src, len);
		return g.ro;
	}
	if (c < 970) {
		*mode = P_STRADDLE;
		p = g.edge + PAGE_SZ - len / 2;
		memcpy(p, src, len / 2);
		return p;
	}
	*mode = P_BAD;
	return bad_ptr();
}

static bool readable(int mode)
{
	return mode == P_OK || mode == P_MISALIGNED || mode == P_RO;
}

/* ------------------------------------------------------------------------
 * Touching mapped memory: a fault there is a finding, not a crash.
 */
static sigjmp_buf touch_jmp;
static volatile sig_atomic_t touching;

static void on_fault(int sig)
{
	if (touching)
		siglongjmp(touch_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Run fn(arg); the signal number if it faulted, else 0. */
static int guarded(void (*fn)(void *), void *arg)
{
	int sig;

	touching = 1;
	sig = sigsetjmp(touch_jmp, 1);
	if (!sig)
		fn(arg);
	touching = 0;
	return sig;
}

/* ------------------------------------------------------------------------
 * ioctl wrappers
 */
static int ctl_ioctl(int fd, unsigned long req, void *arg, int *err)
{
	int r;

	g.n_ioctl++;
	errno = 0;
	r = ioctl(fd, req, arg);
	*err = r < 0 ? errno : 0;
	if (r < 0)
		note_errno(*err);
	return r;
}

/* An ioctl that may block (VDE_RING_WAIT): interrupted after 50 ms. */
static int timed_ioctl(int fd, unsigned long req, void *arg, int *err)
{
	struct itimerval it = { .it_value = { 0, WAIT_TIMER_US } };
	int r;

	setitimer(ITIMER_REAL, &it, NULL);
	r = ctl_ioctl(fd, req, arg, err);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	return r;
}

/* ------------------------------------------------------------------------
 * Device table
 */
static struct dev *dev_by_index(int index)
{
	unsigned int i;

	for (i = 0; i < SLOTS; i++)
		if (g.devs[i].used && g.devs[i].index == index)
			return &g.devs[i];
	return NULL;
}

static unsigned int alive_count(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < SLOTS; i++)
		n += g.devs[i].used;
	return n;
}

static unsigned int slot_of(const struct dev *d)
{
	return (unsigned int)(d - g.devs);
}

static void publish_live(void)
{
	unsigned int i;

	for (i = 0; i < SLOTS; i++) {
		const struct dev *d = &g.devs[i];
		int v = d->used && d->state == VDE_STATE_LIVE ? d->index : -1;

		__atomic_store_n(&g.sh->live[i], v, __ATOMIC_RELEASE);
	}
}

/* A random device of the table for which ok(d), or NULL. */
static struct dev *pick_dev(bool (*ok)(const struct dev *))
{
	struct dev *c[SLOTS];
	unsigned int i, n = 0;

	for (i = 0; i < SLOTS; i++)
		if (g.devs[i].used && (!ok || ok(&g.devs[i])))
			c[n++] = &g.devs[i];
	return n ? c[below(n)] : NULL;
}

static bool is_added(const struct dev *d)
{
	return d->state == VDE_STATE_ADDED;
}

static bool has_ring(const struct dev *d)
{
	return d->ring;
}

static int random_index(void)
{
	const int odd[] = { INT_MAX, INT_MIN, MAX_INDEX - 1, MAX_INDEX,
			    1 << 20, -1000, -3 };

	return chance(880) ? (int)range(-2, 70) : PICK(odd);
}

static void remember_backing(int fd)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || g.nbacking >= ARRAY_SIZE(g.backing))
		return;
	g.backing[g.nbacking].dev = encode_dev(st.st_dev);
	g.backing[g.nbacking].ino = st.st_ino;
	g.nbacking++;
}

static bool backing_is_ours(const struct vde_dev_info *info)
{
	unsigned int i;

	for (i = 0; i < g.nbacking; i++)
		if (g.backing[i].dev == info->backing_dev &&
		    g.backing[i].ino == info->backing_ino)
			return true;
	return false;
}

static int get_info(int index, struct vde_dev_info *info)
{
	int e;

	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->index = index;
	return ctl_ioctl(g.ctl, VDE_CTL_GET_INFO, info, &e) ? -e : 0;
}

/*
 * Would the partition scan at START need the helper?  It reads the first
 * pages of the device (rule 5 keeps it there): a via-helper device, or an
 * encrypted extent starting in the first SCAN_BYTES.
 */
static bool scan_routed(__u32 flags, const struct vde_region_entry *map,
			unsigned int n, __u32 block_size)
{
	unsigned int i;

	if (flags & VDE_DEV_VIA_HELPER)
		return true;
	if (!map)
		return true;
	for (i = 0; i < n; i++)
		if ((map[i].flags & VDE_REGION_ENCRYPTED) &&
		    map[i].first_block < SCAN_BYTES / block_size + 1)
			return true;
	return false;
}

static bool map_has_enc(const struct vde_region_entry *map, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (map[i].flags & VDE_REGION_ENCRYPTED)
			return true;
	return false;
}

static struct dev *dev_new_slot(void)
{
	unsigned int i, j;

	for (i = 0; i < SLOTS; i++) {
		struct dev *d = &g.devs[i];

		if (d->used)
			continue;
		memset(d, 0, sizeof(*d));
		d->used = true;
		d->fd[0] = -1;
		d->fd[1] = -1;
		d->file = -1;
		g.next_uid = (g.next_uid + 1) & 0xffff;
		if (!g.next_uid)
			g.next_uid = 1;
		d->uid = g.next_uid;
		for (j = 0; j < MAX_Q; j++)
			d->sdesc[j] = NULL;
		return d;
	}
	return NULL;
}

/* Fill in what GET_INFO says; false if the device is not there. */
static bool dev_fill(struct dev *d)
{
	struct vde_dev_info info;
	char path[64];

	if (get_info(d->index, &info))
		return false;
	d->state = (int)info.state;
	d->flags = info.flags;
	d->nq = info.nr_hw_queues;
	d->depth = info.queue_depth;
	d->nr_blocks = info.nr_blocks;
	d->block_size = info.block_size;
	snprintf(path, sizeof(path), "/dev/" VDE_RING_NAME_FMT, d->index);
	d->ring = node_is(path, S_IFCHR);
	if ((__u64)d->nq * d->depth > MAX_TAGS || d->nq > MAX_Q) {
		violation("vde%d has %u x %u tags, gate_add() allows %u",
			  d->index, d->nq, d->depth, MAX_TAGS);
		d->nq = MIN(d->nq, 1U);
		d->depth = MIN(d->depth, (unsigned int)MAX_TAGS);
	}
	return true;
}

static void dev_register(int index, const struct vde_dev_add *a,
			 const struct vde_region_entry *map, int file)
{
	struct dev *d = dev_new_slot();

	if (!d) {
		note("no table slot for vde%d", index);
		return;
	}
	d->index = index;
	d->file = file;
	if (!dev_fill(d)) {
		note("vde%d added but GET_INFO fails", index);
		d->used = false;
		return;
	}
	if (d->state != VDE_STATE_ADDED)
		violation("vde%d in state %d right after ADD", index, d->state);
	if (d->flags != a->flags)
		violation("vde%d: GET_INFO flags 0x%x, ADD gave 0x%x", index,
			  d->flags, a->flags);
	if (map && d->ring != ((a->flags & VDE_DEV_VIA_HELPER) ||
			       map_has_enc(map, a->nr_regions)))
		violation("vde%d: /dev/vdec%d %s", index, index,
			  d->ring ? "exists for a device without a helper" :
				    "missing for a device with a helper");
	d->routed_scan = d->ring && scan_routed(a->flags, map, a->nr_regions,
						 d->block_size);
	vlog("  registered vde%d slot %u: %u x %u tags, %llu blocks, ring %d, routed scan %d",
	     index, slot_of(d), d->nq, d->depth,
	     (unsigned long long)d->nr_blocks, d->ring, d->routed_scan);
}

/*
 * An ADD whose structure was readable but not writable: the device may
 * exist though the caller was told EFAULT.  Take in any device we do not
 * know among the indices it could have got.
 */
static void adopt_unknown(int want)
{
	int lo = want >= 0 ? want : 0, hi = want >= 0 ? want : 127, i;
	struct vde_dev_info info;

	for (i = lo; i <= hi; i++) {
		struct dev *d;

		if (dev_by_index(i) || get_info(i, &info))
			continue;
		if (!backing_is_ours(&info))
			continue;
		note("ADD said EFAULT but vde%d was created; adopting it", i);
		g.adopted++;
		d = dev_new_slot();
		if (!d)
			return;
		d->index = i;
		d->adopted = true;
		if (!dev_fill(d)) {
			d->used = false;
			continue;
		}
		d->routed_scan = d->ring;
	}
}

static void io_timeout_set(struct dev *d)
{
	char path[96], val[16];
	int fd, len, ms = 1000 * (int)range(1, 3);

	snprintf(path, sizeof(path), "/sys/block/vde%d/queue/io_timeout",
		 d->index);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		note("%s: %s", path, strerror(errno));
		return;
	}
	len = snprintf(val, sizeof(val), "%d\n", ms);
	if (write(fd, val, len) != len)
		note("%s: %s", path, strerror(errno));
	close(fd);
	vlog("  io_timeout of vde%d: %d ms", d->index, ms);
}

static void unmap_serve(struct dev *d)
{
	unsigned int q;

	for (q = 0; q < MAX_Q; q++) {
		if (d->sdesc[q])
			munmap(d->sdesc[q], d->sdesc_len);
		d->sdesc[q] = NULL;
	}
	if (d->sbuf)
		munmap(d->sbuf, d->sbuf_len);
	d->sbuf = NULL;
}

static void stale_add(int fd)
{
	unsigned int i;

	if (fd < 0)
		return;
	for (i = 0; i < MAX_STALE; i++) {
		if (g.stale[i] < 0) {
			g.stale[i] = fd;
			return;
		}
	}
	i = below(MAX_STALE);
	close(g.stale[i]);
	g.stale[i] = fd;
}

static void kill_child_pid(pid_t pid)
{
	unsigned int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (g.children[i].pid == pid) {
			kill(pid, SIGKILL);
			g.children[i].killed = true;
		}
	}
}

/* The device is gone (REMOVE said 0): drop it from the table. */
static void dev_forget(struct dev *d)
{
	unsigned int i;

	unmap_serve(d);
	for (i = 0; i < MAX_MAPS; i++) {
		/* Keep some mappings of removed devices to touch later. */
		if (g.maps[i].addr && g.maps[i].index == d->index &&
		    chance(700)) {
			munmap(g.maps[i].addr, g.maps[i].len);
			g.maps[i].addr = NULL;
		} else if (g.maps[i].addr && g.maps[i].index == d->index) {
			g.maps[i].index = -1;
		}
	}
	for (i = 0; i < 2; i++) {
		if (d->fd[i] >= 0 && chance(500))
			stale_add(d->fd[i]);
		else if (d->fd[i] >= 0)
			close(d->fd[i]);
		d->fd[i] = -1;
	}
	if (d->helper)
		kill_child_pid(d->helper);
	d->helper = 0;
	d->used = false;
	publish_live();
}

/* ------------------------------------------------------------------------
 * Children bookkeeping
 */
static void child_add(pid_t pid, int kind, int slot, unsigned int uid)
{
	unsigned int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (!g.children[i].pid) {
			g.children[i] = (struct child){ .pid = pid, .kind = kind,
						       .slot = slot, .uid = uid };
			return;
		}
	}
	note("child table full; pid %d not tracked", (int)pid);
}

static unsigned int helpers_alive(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < MAX_CHILDREN; i++)
		n += g.children[i].pid && g.children[i].kind == CK_HELPER;
	return n;
}

static void child_exited(pid_t pid, int status)
{
	unsigned int i, j;

	for (i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = &g.children[i];

		if (c->pid != pid)
			continue;
		vlog("  child %d (%s) exited: %s %d", (int)pid,
		     c->kind == CK_IO ? "io" : "helper",
		     WIFSIGNALED(status) ? "signal" : "status",
		     WIFSIGNALED(status) ? WTERMSIG(status) :
					   WEXITSTATUS(status));
		if (c->kind == CK_HELPER && c->slot >= 0) {
			struct dev *d = &g.devs[c->slot];

			if (d->used && d->uid == c->uid && d->helper == pid)
				d->helper = 0;
		}
		if (c->kind == CK_IO) {
			for (j = 0; j < NR_IOCHILD; j++)
				if (g.io_pid[j] == pid)
					g.io_pid[j] = 0;
			if (!c->killed)
				note("I/O child %d ended by itself", (int)pid);
		}
		c->pid = 0;
	}
}

static void reap_children(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		child_exited(pid, status);
}

/* In a child: die with the parent, forget its signals and descriptors. */
static void child_setup(int keep)
{
	struct sigaction sa;
	sigset_t all;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != g.main_pid)
		_exit(0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (fd = 3; fd < 1024; fd++)
		if (fd != keep)
			close(fd);
}

/* ------------------------------------------------------------------------
 * The I/O children: one O_DIRECT request at a time (rule 4) on the LIVE
 * devices whose index is id modulo NR_IOCHILD.  Errors are expected.
 */
static void io_count(long r, int e)
{
	__atomic_fetch_add(&g.sh->ios, 1, __ATOMIC_RELAXED);
	if (r < 0) {
		__atomic_fetch_add(&g.sh->io_errors, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&g.sh->io_errs[e > 0 && e < ERRMAX ? e : ERRMAX],
				   1, __ATOMIC_RELAXED);
	}
}

static void __attribute__((noreturn)) io_child(unsigned int id, __u64 seed)
{
	unsigned long long size = 0;
	int fd = -1, cur = -1, uses = 0, limit = 0;
	unsigned char *buf;
	struct rng r;

	child_setup(-1);
	rng_seed(&r, seed);
	buf = mmap(NULL, VDE_RING_BUF_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(3);
	for (;;) {
		unsigned long long off, len;
		int cand[SLOTS], n = 0, i, idx, what;
		char name[64];
		long ret;

		if (__atomic_load_n(&g.sh->stop, __ATOMIC_ACQUIRE))
			_exit(0);
		for (i = 0; i < SLOTS; i++) {
			int v = __atomic_load_n(&g.sh->live[i], __ATOMIC_ACQUIRE);

			if (v >= 0 && (unsigned int)v % NR_IOCHILD == id)
				cand[n++] = v;
		}
		if (!n) {
			if (fd >= 0)
				close(fd);
			fd = -1;
			sleep_ms(5);
			continue;
		}
		idx = cand[r_below(&r, n)];
		if (fd < 0 || idx != cur || uses >= limit) {
			if (fd >= 0)
				close(fd);
			snprintf(name, sizeof(name), "/dev/vde%d", idx);
			fd = open(name, O_RDWR | O_DIRECT | O_CLOEXEC);
			if (fd < 0 && (errno == EACCES || errno == EROFS))
				fd = open(name, O_RDONLY | O_DIRECT | O_CLOEXEC);
			if (fd < 0) {
				io_count(-1, errno);
				sleep_ms(2);
				continue;
			}
			if (ioctl(fd, BLKGETSIZE64, &size))
				size = 0;
			cur = idx;
			uses = 0;
			limit = 1 + (int)r_below(&r, 16);
		}
		uses++;
		if (size < BS) {
			sleep_ms(2);
			continue;
		}
		len = BS * (1 + r_below(&r, VDE_RING_BUF_SIZE / BS));
		off = BS * r_below(&r, size / BS);
		if (off + len > size)
			len = size - off;
		if (r_chance(&r, 20))
			off = size + BS * r_below(&r, 4);
		what = (int)r_below(&r, 100);
		errno = 0;
		if (what < 45) {
			ret = pread(fd, buf, len, off);
		} else if (what < 90) {
			memset(buf, r_fill(&r), len);
			ret = pwrite(fd, buf, len, off);
		} else if (what < 94) {
			ret = fsync(fd);
		} else {
			/* one bio: at most 64 KiB, within a 64 KiB-aligned span */
			__u64 rg[2];

			rg[0] = (off & ~65535ULL);
			rg[1] = BS * (1 + r_below(&r, 16));
			ret = ioctl(fd, what < 97 ? BLKZEROOUT : BLKDISCARD, rg);
		}
		io_count(ret, errno);
	}
}

static void spawn_io_children(void)
{
	unsigned int i;
	pid_t pid;

	for (i = 0; i < NR_IOCHILD; i++) {
		if (g.io_pid[i] || g.io_respawns >= 4 * NR_IOCHILD)
			continue;
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			note("fork: %s", strerror(errno));
			return;
		}
		if (!pid)
			io_child(i, g.seed ^ (0x10c0ffeeULL + i + 977 * g.io_respawns));
		g.io_pid[i] = pid;
		g.io_respawns++;
		child_add(pid, CK_IO, -1, 0);
		vlog("  I/O child %u: pid %d", i, (int)pid);
	}
}

/* ------------------------------------------------------------------------
 * Helper children: attach to /dev/vdecN of one device and serve it, over
 * io_uring (one thread) or the ioctls (one thread per queue), well
 * (HM_GOOD), with garbage results and refused junk commands between
 * (HM_GARBAGE), or until a chosen request that they die owning (HM_CRASH).
 * They report 0 on the pipe once every queue is armed, or -errno.
 *
 * Junk is invalid by construction (queue or tag out of range, reserved
 * bits, a FETCH with a result): it must be refused without changing any
 * state, so a garbage helper still answers every request it gets.
 */
struct hctx {
	int fd;
	int mode;
	unsigned int crash_after;
	unsigned int served;
	unsigned int nq, depth;
	unsigned char *desc[MAX_Q];
	unsigned char *bufs;
	struct rng rng;
};

#define HUD(kind, q, t)	(((__u64)(kind) << 32) | ((__u64)(q) << 16) | (t))
enum { HK_FETCH = 1, HK_CAF, HK_JUNK };

static void __attribute__((noreturn)) idle_forever(void)
{
	for (;;)
		pause();
}

static void helper_report(int wfd, int status)
{
	if (write(wfd, &status, sizeof(status)) != sizeof(status))
		_exit(4);
	close(wfd);
}

/* Map the data buffers (again: after ESTALE, a helper was lost since). */
static int helper_map_bufs(struct hctx *h)
{
	size_t len = (size_t)h->nq * h->depth * VDE_RING_BUF_SIZE;
	void *p;

	if (h->bufs)
		munmap(h->bufs, len);
	h->bufs = NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd,
		 (off_t)VDE_RING_BUF_OFFSET);
	if (p == MAP_FAILED)
		return -errno;
	h->bufs = p;
	return 0;
}

static int helper_open(struct hctx *h, int index)
{
	struct vde_ring_info info;
	char name[64];
	size_t len;
	unsigned int q;
	void *p;

	snprintf(name, sizeof(name), "/dev/" VDE_RING_NAME_FMT, index);
	h->fd = open(name, O_RDWR | O_CLOEXEC);
	if (h->fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	if (ioctl(h->fd, VDE_RING_GET_INFO, &info))
		return -errno;
	if (!info.nr_hw_queues || info.nr_hw_queues > MAX_Q ||
	    !info.queue_depth ||
	    (__u64)info.nr_hw_queues * info.queue_depth > MAX_TAGS)
		return -ERANGE;
	h->nq = info.nr_hw_queues;
	h->depth = info.queue_depth;
	len = (h->depth * sizeof(struct vde_io_desc) + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
	for (q = 0; q < h->nq; q++) {
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, h->fd,
			 (off_t)q * VDE_RING_DESC_STRIDE);
		if (p == MAP_FAILED)
			return -errno;
		h->desc[q] = p;
	}
	return helper_map_bufs(h);
}

static __s32 garbage_result(struct rng *r, __s32 proper)
{
	const __s32 g2[] = { 0, proper - 512, proper + 1, proper / 2, -1,
			     -EIO, -ENOSPC, -4095, -4096, INT_MIN, INT_MAX,
			     proper - 1, 1 };

	return g2[r_below(r, ARRAY_SIZE(g2))];
}

/* The helper's answer to the request published on (q, t). */
static __s32 helper_handle(struct hctx *h, struct rng *r, unsigned int q,
			   unsigned int t)
{
	struct vde_io_desc d;
	__s32 proper;

	if (q >= h->nq || t >= h->depth)
		return 0;
	memcpy(&d, h->desc[q] + t * sizeof(d), sizeof(d));
	if (h->mode == HM_CRASH &&
	    __atomic_load_n(&h->served, __ATOMIC_RELAXED) >= h->crash_after) {
		__atomic_fetch_add(&g.sh->crashes, 1, __ATOMIC_RELAXED);
		if (r_chance(r, 500))
			_exit(0);
		raise(SIGKILL);
	}
	__atomic_fetch_add(&h->served, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&g.sh->served, 1, __ATOMIC_RELAXED);
	proper = d.op == VDE_IO_OP_READ || d.op == VDE_IO_OP_WRITE ?
		 (__s32)d.nr_bytes : 0;
	if (d.op == VDE_IO_OP_READ)
		memset(h->bufs + ((size_t)q * h->depth + t) * VDE_RING_BUF_SIZE,
		       r_fill(r), MIN(d.nr_bytes, VDE_RING_BUF_SIZE));
	if (h->mode == HM_GARBAGE && r_chance(r, 500)) {
		__atomic_fetch_add(&g.sh->garbage, 1, __ATOMIC_RELAXED);
		return garbage_result(r, proper);
	}
	return proper;
}

static struct io_uring_sqe *prep_cmd(struct io_uring *ring, int fd, __u32 op,
				     const struct vde_ring_cmd *c, __u64 ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
		if (!sqe)
			return NULL;
	}
	vde_prep_ring_cmd(sqe, fd, op, c, ud);
	return sqe;
}

static void h_cmd(struct hctx *h, struct io_uring *ring, int kind,
		  unsigned int q, unsigned int t, __s32 result)
{
	struct vde_ring_cmd c = { .q_id = (__u16)q, .tag = (__u16)t,
				  .result = result };

	prep_cmd(ring, h->fd, kind == HK_FETCH ? VDE_RING_FETCH :
			      VDE_RING_COMMIT_AND_FETCH, &c, HUD(kind, q, t));
}

/* A command that must be refused without any effect. */
static void h_junk(struct hctx *h, struct io_uring *ring, struct rng *r)
{
	struct vde_ring_cmd c = {
		.q_id = (__u16)r_below(r, h->nq),
		.tag = (__u16)r_below(r, h->depth),
	};
	__u32 op = r_chance(r, 500) ? VDE_RING_FETCH : VDE_RING_COMMIT_AND_FETCH;

	switch (r_below(r, 5)) {
	case 0:
		c.q_id = (__u16)(h->nq + r_below(r, 0x10000 - h->nq));
		break;
	case 1:
		c.tag = (__u16)(h->depth + r_below(r, 0x10000 - h->depth));
		break;
	case 2:
		c.reserved = rng_next(r) | 1;
		break;
	case 3:
		op = VDE_RING_FETCH;
		c.result = (__s32)(rng_next(r) | 1);
		break;
	default:
		op = (__u32)rng_next(r);
		if (op == VDE_RING_FETCH || op == VDE_RING_COMMIT_AND_FETCH)
			op = 0;
		break;
	}
	__atomic_fetch_add(&g.sh->junk, 1, __ATOMIC_RELAXED);
	prep_cmd(ring, h->fd, op, &c, HUD(HK_JUNK, 0, 0));
}

static void __attribute__((noreturn)) helper_uring(struct hctx *h, int wfd)
{
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	struct __kernel_timespec ts;
	long long deadline = now_ms() + 1500;
	bool retry[MAX_TAGS] = { false }, remap = false;
	unsigned int q, t, nretry = 0;
	int status = 0, r;

	r = io_uring_queue_init(256, &ring, 0);
	if (r) {
		helper_report(wfd, r);
		idle_forever();
	}
	for (q = 0; q < h->nq; q++)
		for (t = 0; t < h->depth; t++)
			h_cmd(h, &ring, HK_FETCH, q, t, 0);
	io_uring_submit(&ring);
	/*
	 * Collect refusals for a while; retry EBUSY and ENODEV (a lost
	 * helper's queue is being cleaned up), and ESTALE after mapping the
	 * data buffers again (a helper was lost since they were mapped).
	 * Publications are served in the loop below, from the same CQEs.
	 */
	for (;;) {
		if (now_ms() > deadline + 500) {
			/* publications keep coming: stop looking for refusals */
			if (nretry && !status)
				status = -EBUSY;
			break;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = 100 * 1000000LL;
		r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		if (r == -EINTR)
			continue;
		if (r) {
			if (!nretry)
				break;
			if (now_ms() > deadline) {
				status = -EBUSY;
				break;
			}
			r = remap ? helper_map_bufs(h) : 0;
			if (r) {
				status = r;
				break;
			}
			remap = false;
			for (t = 0; t < MAX_TAGS; t++) {
				if (!retry[t])
					continue;
				retry[t] = false;
				h_cmd(h, &ring, HK_FETCH, t / h->depth,
				      t % h->depth, 0);
			}
			nretry = 0;
			io_uring_submit(&ring);
			sleep_ms(50);
			continue;
		}
		{
			__u64 ud = cqe->user_data;
			int res = cqe->res;

			q = (ud >> 16) & 0xffff;
			t = ud & 0xffff;
			io_uring_cqe_seen(&ring, cqe);
			if (!res && q < h->nq && t < h->depth) {
				h_cmd(h, &ring, HK_CAF, q, t,
				      helper_handle(h, &h->rng, q, t));
				io_uring_submit(&ring);
			} else if (!res) {
				continue;
			} else if ((res == -EBUSY || res == -ENODEV ||
				    res == -ESTALE) &&
				   now_ms() < deadline && q < h->nq &&
				   t < h->depth) {
				retry[q * h->depth + t] = true;
				nretry++;
				remap |= res == -ESTALE;
			} else if (!status) {
				status = res;
			}
		}
	}
	helper_report(wfd, status);

	for (;;) {
		ts.tv_sec = 0;
		ts.tv_nsec = 200 * 1000000LL;
		r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		if (r == -EINTR || r == -ETIME)
			goto junk;
		if (r) {
			sleep_ms(100);
			continue;
		}
		{
			__u64 ud = cqe->user_data;
			int kind = (int)(ud >> 32), res = cqe->res;

			q = (ud >> 16) & 0xffff;
			t = ud & 0xffff;
			io_uring_cqe_seen(&ring, cqe);
			if (kind == HK_JUNK) {
				/* invalid by construction: must be refused */
				if (res >= 0)
					__atomic_fetch_add(&g.sh->junk_accepted, 1,
							   __ATOMIC_RELAXED);
			} else if (!res && q < h->nq && t < h->depth) {
				h_cmd(h, &ring, HK_CAF, q, t,
				      helper_handle(h, &h->rng, q, t));
			} else if (kind == HK_CAF && res != -ENODEV &&
				   q < h->nq && t < h->depth) {
				/* refused commit: arm the tag again */
				h_cmd(h, &ring, HK_FETCH, q, t, 0);
			}
		}
junk:
		if (h->mode == HM_GARBAGE && r_chance(&h->rng, 200))
			h_junk(h, &ring, &h->rng);
		io_uring_submit(&ring);
	}
}

struct hthread {
	struct hctx *h;
	unsigned int q;
	struct rng rng;
	int status;
	int ready;
	pthread_t th;
};

static int h_batch(int fd, unsigned long req, unsigned int q, unsigned int flags,
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

/*
 * The queue threads of an ioctl helper share one open file: the first to
 * see ESTALE maps the buffers again, the others retry on its mapping.
 */
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int map_epoch;

static int helper_ioctl_remap(struct hctx *h, unsigned int *seen)
{
	int r = 0;

	pthread_mutex_lock(&map_lock);
	if (*seen == map_epoch) {
		r = helper_map_bufs(h);
		map_epoch++;
	}
	*seen = map_epoch;
	pthread_mutex_unlock(&map_lock);
	return r;
}

static void *helper_ioctl_thread(void *p)
{
	struct hthread *th = p;
	struct hctx *h = th->h;
	struct vde_ring_commit c[MAX_TAGS], junk;
	__u16 tags[MAX_TAGS];
	struct vde_ring_batch b;
	long long deadline = now_ms() + 1500;
	unsigned int nc = 0, i, seen = 0;
	int r;

	for (;;) {
		r = h_batch(h->fd, VDE_RING_WAIT, th->q, VDE_RING_WAIT_NOWAIT,
			    NULL, 0, tags, h->depth, &b);
		if (r == -ESTALE && now_ms() < deadline)
			r = helper_ioctl_remap(h, &seen) ?: -EBUSY;
		if ((r == -EBUSY || r == -ENODEV) && now_ms() < deadline) {
			sleep_ms(50);
			continue;
		}
		break;
	}
	/* h->bufs as the last remap left it */
	pthread_mutex_lock(&map_lock);
	pthread_mutex_unlock(&map_lock);
	th->status = r;
	__atomic_store_n(&th->ready, 1, __ATOMIC_RELEASE);
	if (r)
		idle_forever();
	for (i = 0; i < b.nr_tags && i < MAX_TAGS && tags[i] < h->depth; i++)
		c[nc++] = (struct vde_ring_commit){
			.tag = tags[i],
			.result = helper_handle(h, &th->rng, th->q, tags[i]) };
	for (;;) {
		if (h->mode == HM_GARBAGE && r_chance(&th->rng, 200)) {
			junk = (struct vde_ring_commit){
				.tag = (__u16)(h->depth +
					       r_below(&th->rng, 0x10000 - h->depth)),
				.result = (__s32)rng_next(&th->rng) };
			if (r_chance(&th->rng, 500)) {
				junk.tag = (__u16)r_below(&th->rng, h->depth);
				junk.reserved = 1 + (__u16)r_below(&th->rng, 0xffff);
			}
			__atomic_fetch_add(&g.sh->junk, 1, __ATOMIC_RELAXED);
			if (!h_batch(h->fd, VDE_RING_COMMIT, th->q, 0, &junk, 1,
				     NULL, 0, &b))
				__atomic_fetch_add(&g.sh->junk_accepted, 1,
						   __ATOMIC_RELAXED);
		}
		r = h_batch(h->fd, VDE_RING_WAIT, th->q, 0, c, nc, tags,
			    h->depth, &b);
		if (!r) {
			nc = 0;
		} else if (r == -EINTR || r == -EINVAL) {
			/* drop what was applied, and a refused commit */
			i = MIN(b.commits_done + (r == -EINVAL), nc);
			memmove(c, c + i, (nc - i) * sizeof(c[0]));
			nc -= i;
		} else {
			nc = 0;
			sleep_ms(200);
			continue;
		}
		for (i = 0; i < b.nr_tags && nc < MAX_TAGS && tags[i] < h->depth; i++)
			c[nc++] = (struct vde_ring_commit){
				.tag = tags[i],
				.result = helper_handle(h, &th->rng, th->q,
							tags[i]) };
	}
	return NULL;
}

static void __attribute__((noreturn)) helper_ioctl(struct hctx *h, int wfd)
{
	static struct hthread th[MAX_Q];
	long long deadline = now_ms() + 3000;
	unsigned int q, ready;
	int status = 0;

	for (q = 0; q < h->nq; q++) {
		th[q].h = h;
		th[q].q = q;
		rng_seed(&th[q].rng, rng_next(&h->rng));
		if (pthread_create(&th[q].th, NULL, helper_ioctl_thread, &th[q])) {
			helper_report(wfd, -EAGAIN);
			idle_forever();
		}
	}
	do {
		ready = 0;
		for (q = 0; q < h->nq; q++)
			ready += __atomic_load_n(&th[q].ready, __ATOMIC_ACQUIRE);
		if (ready < h->nq)
			sleep_ms(10);
	} while (ready < h->nq && now_ms() < deadline);
	for (q = 0; q < h->nq; q++)
		if (!status && (!th[q].ready || th[q].status))
			status = th[q].ready ? th[q].status : -ETIMEDOUT;
	helper_report(wfd, status);
	idle_forever();
}

static void __attribute__((noreturn))
helper_child(int index, int mode, bool uring, __u64 seed, int wfd)
{
	struct hctx h;
	int r;

	child_setup(wfd);
	memset(&h, 0, sizeof(h));
	rng_seed(&h.rng, seed);
	h.mode = mode;
	h.crash_after = (unsigned int)r_below(&h.rng, 4);
	r = helper_open(&h, index);
	if (r) {
		helper_report(wfd, r);
		idle_forever();
	}
	if (uring)
		helper_uring(&h, wfd);
	helper_ioctl(&h, wfd);
}

/* ------------------------------------------------------------------------
 * Control operations
 */

/* Everything vde_add_check() refuses before it allocates anything. */
static bool add_surely_invalid(const struct vde_dev_add *a)
{
	unsigned int i;

	if (a->size != sizeof(*a) || a->reserved0)
		return true;
	for (i = 0; i < ARRAY_SIZE(a->reserved); i++)
		if (a->reserved[i])
			return true;
	if (a->flags & ~(VDE_DEV_READ_ONLY | VDE_DEV_VIA_HELPER |
			 VDE_DEV_HELPER_HOLD))
		return true;
	if (a->queue_depth > VDE_MAX_QUEUE_DEPTH ||
	    a->nr_hw_queues > g.feat.max_hw_queues)
		return true;
	if (!a->nr_regions || a->nr_regions > VDE_MAX_REGIONS)
		return true;
	if (a->block_size < 4096 || a->block_size > 65536 ||
	    (a->block_size & (a->block_size - 1)))
		return true;
	return false;
}

/*
 * Rule 1: an ADD that could succeed has at most MAX_TAGS tags and makes at
 * most MAX_DEVS devices; else it is made invalid here.
 */
static bool gate_add(struct vde_dev_add *a)
{
	__u64 tags;

	if (add_surely_invalid(a))
		return false;
	tags = (__u64)(a->nr_hw_queues ? a->nr_hw_queues : g.feat.max_hw_queues) *
	       (a->queue_depth ? a->queue_depth : 128);
	if (tags <= MAX_TAGS && alive_count() < MAX_DEVS)
		return false;
	switch (below(4)) {
	case 0:
		a->size = sizeof(*a) - 8;
		break;
	case 1:
		a->reserved0 = rnd32() | 1;
		break;
	case 2:
		a->reserved[below(ARRAY_SIZE(a->reserved))] = rnd() | 1;
		break;
	default:
		a->flags |= 1U << range(3, 31);
		break;
	}
	g.gated_add++;
	return true;
}

/*
 * Rule 2: START only devices whose partition scan cannot wait for an
 * absent or unserving helper: no routed blocks in the scanned area; or no
 * helper and no hold (helper requests fail at once); or a helper child
 * that armed every queue and serves (a crashing one only without hold).
 * This thread may be a helper of any device it sent FETCH or WAIT to, and
 * cannot serve while it is in START.
 */
static bool start_safe(const struct dev *d)
{
	bool hold = d->flags & VDE_DEV_HELPER_HOLD;

	if (!d->ring || !d->routed_scan)
		return true;
	if (d->main_touched)
		return false;
	if (d->helper)
		return d->helper_armed && !(hold && d->helper_mode == HM_CRASH);
	return !hold;
}

static bool gate_start(struct vde_dev_cmd *dc)
{
	struct dev *d;

	if (dc->size != sizeof(*dc) || dc->reserved0 || dc->reserved[0] ||
	    dc->reserved[1] || dc->flags)
		return false;	/* refused before the device is looked at */
	d = dev_by_index(dc->index);
	if (!d || d->state != VDE_STATE_ADDED || start_safe(d))
		return false;
	if (chance(500))
		dc->flags = 1U << below(32);
	else
		dc->reserved0 = rnd32() | 1;
	g.gated_start++;
	return true;
}

/* Does a map tile [0, nr) exactly, with known flags? (vde_regions_check()) */
static bool map_tiles(const struct vde_region_entry *map, __u32 n, __u64 nr)
{
	__u64 next = 0;
	__u32 i;

	for (i = 0; i < n; i++) {
		if (map[i].first_block != next || !map[i].nr_blocks ||
		    map[i].nr_blocks > nr - next || map[i].reserved ||
		    (map[i].flags & ~(VDE_REGION_ENCRYPTED | VDE_REGION_HIDDEN)) ||
		    map[i].flags == (VDE_REGION_ENCRYPTED | VDE_REGION_HIDDEN))
			return false;
		next += map[i].nr_blocks;
	}
	return next == nr;
}

/* The documented checks of ADD that do not depend on the file */
static bool add_valid(const struct vde_dev_add *a,
		      const struct vde_region_entry *map)
{
	if (add_surely_invalid(a))
		return false;
	if (a->logical_block_size != 512 && a->logical_block_size != 4096)
		return false;
	if (a->data_offset % a->block_size || !a->nr_blocks)
		return false;
	if (a->index != VDE_INDEX_ANY && (a->index < 0 || a->index >= MAX_INDEX))
		return false;
	return !map || map_tiles(map, a->nr_regions, a->nr_blocks);
}

static int pick_free_file(void)
{
	bool busy[NFILES] = { false };
	int c[NFILES], n = 0, i;

	for (i = 0; i < SLOTS; i++)
		if (g.devs[i].used && g.devs[i].file >= 0)
			busy[g.devs[i].file] = true;
	for (i = 0; i < NFILES; i++)
		if (!busy[i])
			c[n++] = i;
	return n ? c[below(n)] : (int)below(NFILES);
}

/* A region map tiling [0, nr) exactly; zeroed entries after it. */
static unsigned int gen_map(struct vde_region_entry *map, __u64 nr)
{
	unsigned int n, i;
	__u64 next = 0;

	n = (unsigned int)(chance(60) ? 1 + below(MIN(nr, (__u64)VDE_MAX_REGIONS)) :
			   1 + below(MIN(nr, 8ULL)));
	memset(map, 0, (VDE_MAX_REGIONS + 8) * sizeof(*map));
	for (i = 0; i < n; i++) {
		__u64 left = n - i - 1, room = nr - next - left, len;
		unsigned int c = below(100);

		if (i == n - 1)
			len = nr - next;
		else
			len = 1 + below(MAX(1ULL, MIN(room, 2 * (nr - next) / (left + 1))));
		map[i].first_block = next;
		map[i].nr_blocks = len;
		map[i].flags = c < 40 ? VDE_REGION_ENCRYPTED :
			       c < 55 ? VDE_REGION_HIDDEN : 0;
		next += len;
	}
	return n;
}

static void mutate_map(struct vde_region_entry *map, unsigned int n)
{
	unsigned int i = below(n), j;
	struct vde_region_entry tmp;

	switch (below(10)) {
	case 0:		/* gap or overlap */
		if (map[i].first_block && chance(500))
			map[i].first_block -= 1 + below(map[i].first_block);
		else
			map[i].first_block += 1 + below(3);
		break;
	case 1:
		map[i].nr_blocks = 0;
		break;
	case 2:
		map[i].flags = VDE_REGION_ENCRYPTED | VDE_REGION_HIDDEN;
		break;
	case 3:
		map[i].flags |= 1U << range(2, 31);
		break;
	case 4:
		map[i].reserved = rnd32() | 1;
		break;
	case 5:		/* last entry short or long */
		if (chance(500) || map[n - 1].nr_blocks == 1)
			map[n - 1].nr_blocks++;
		else
			map[n - 1].nr_blocks--;
		break;
	case 6:		/* wrap around */
		map[i].nr_blocks = ~0ULL - below(4);
		break;
	case 7:
		map[0].first_block = 1 + below(8);
		break;
	case 8:		/* unsorted */
		j = below(n);
		tmp = map[i];
		map[i] = map[j];
		map[j] = tmp;
		break;
	default:
		flip_bits(map, n * sizeof(*map), 1 + below(4));
		break;
	}
}

static int bad_fd(void)
{
	int c[] = { -1, 1000, INT_MAX, g.dir_fd, g.pipe_fd[0], g.null_fd,
		    g.file_ro[below(NFILES)], g.file_wo, g.path_fd, g.ctl,
		    g.small_fd, g.mem_fd, 0, -100 };
	unsigned int i;

	/* sometimes a /dev/vdecN */
	for (i = 0; i < SLOTS && chance(100); i++)
		if (g.devs[i].used && g.devs[i].fd[0] >= 0)
			return g.devs[i].fd[0];
	return PICK(c);
}

static const char *fd_name(int fd)
{
	static char buf[32];
	unsigned int i;

	for (i = 0; i < NFILES; i++) {
		if (fd == g.file_fd[i])
			return snprintf(buf, sizeof(buf), "file%u", i), buf;
		if (fd == g.file_ro[i])
			return snprintf(buf, sizeof(buf), "file%u-ro", i), buf;
	}
	if (fd == g.file_wo)
		return "file-wo";
	if (fd == g.path_fd)
		return "O_PATH";
	if (fd == g.dir_fd)
		return "dir";
	if (fd == g.pipe_fd[0])
		return "pipe";
	if (fd == g.null_fd)
		return "/dev/null";
	if (fd == g.small_fd)
		return "small-file";
	if (fd == g.mem_fd)
		return "memfd";
	if (fd == g.ctl)
		return "vde-control";
	snprintf(buf, sizeof(buf), "%d", fd);
	return buf;
}

static void mutate_add(struct vde_dev_add *a, struct vde_region_entry *map,
		       unsigned int n, bool *map_ours)
{
	const __u32 bsz[] = { 0, 512, 1000, 2048, 4097, 8192, 16384, 65536,
			      131072, 0x80000000 };
	const __u32 lbsz[] = { 0, 1, 1024, 2048, 4095, 8192, 65536 };
	const __u64 offs[] = { 512, 4095, ~0ULL & ~4095ULL, 1ULL << 62,
			       (__u64)FILE_BLOCKS * BS, 1ULL << 63 };
	const __u64 nbs[] = { 0, FILE_BLOCKS + 1, ~0ULL >> 4, ~0ULL,
			      1ULL << 52, 1ULL << 51 };
	unsigned int k = 1 + below(3);

	while (k--) {
		switch (below(15)) {
		case 0:
			flip_bits(a, sizeof(*a), 1 + below(4));
			break;
		case 1:
			a->size = pick_size(sizeof(*a));
			break;
		case 2:
			if (chance(500))
				a->reserved0 = rnd32() | 1;
			else
				a->reserved[below(4)] = rnd() | 1;
			break;
		case 3:
			a->flags |= chance(700) ? 1U << range(3, 31) : rnd32();
			break;
		case 4:
			a->block_size = chance(800) ? PICK(bsz) : rnd32();
			break;
		case 5:
			a->logical_block_size = chance(800) ? PICK(lbsz) : rnd32();
			break;
		case 6:
			a->data_offset = chance(800) ? PICK(offs) : rnd();
			break;
		case 7:
			a->nr_blocks = chance(800) ? PICK(nbs) : rnd();
			break;
		case 8:
			a->nr_hw_queues = chance(300) ? g.feat.max_hw_queues + 1 :
					  PICK(interesting_u32);
			break;
		case 9:
			a->queue_depth = chance(300) ? VDE_MAX_QUEUE_DEPTH + 1 :
					 PICK(interesting_u32);
			break;
		case 10:
			a->nr_regions = chance(500) ? n + (unsigned int)range(-1, 1) :
					PICK(interesting_u32);
			break;
		case 11:
			*map_ours = false;
			if (chance(300)) {
				/* the entries run into the PROT_NONE page */
				unsigned int fit = (unsigned int)below(MIN(n, 4U));
				unsigned char *p = g.edge + PAGE_SZ -
						   fit * sizeof(*map);

				memcpy(p, map, fit * sizeof(*map));
				a->regions = (uintptr_t)p;
				if (!fit)
					a->nr_regions = MAX(a->nr_regions, 1U);
			} else {
				a->regions = (uintptr_t)odd_ptr();
			}
			break;
		case 12:
			mutate_map(map, n);
			break;
		case 13:
			a->backing_fd = bad_fd();
			break;
		default:
			a->index = random_index();
			break;
		}
	}
}

static void op_add(void)
{
	struct vde_region_entry *map = g.map;
	bool valid = alive_count() < 2 ? chance(900) : chance(450);
	bool map_ours = true, gated;
	struct vde_dev_add a, out;
	unsigned int n, nqmax, i;
	__u64 off, nb;
	int file, mode, r, e;
	void *p;

	file = pick_free_file();
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	if (chance(150))
		a.flags |= VDE_DEV_READ_ONLY;
	if (chance(300))
		a.flags |= VDE_DEV_VIA_HELPER;
	if (chance(300))
		a.flags |= VDE_DEV_HELPER_HOLD;
	a.backing_fd = g.file_fd[file];
	if ((a.flags & VDE_DEV_READ_ONLY) && chance(500))
		a.backing_fd = g.file_ro[file];
	a.index = chance(850) ? VDE_INDEX_ANY : (int)below(72);
	off = below(16);
	nb = chance(300) ? 1 + below(64) : 1 + below(FILE_BLOCKS - off);
	a.data_offset = off * BS;
	a.nr_blocks = nb;
	a.block_size = BS;
	a.logical_block_size = chance(500) ? 512 : 4096;
	nqmax = MIN(2U, g.feat.max_hw_queues);
	a.nr_hw_queues = 1 + (__u32)below(nqmax);
	a.queue_depth = 1 + (__u32)below(MIN(16U, MAX_TAGS / a.nr_hw_queues));
	n = gen_map(map, nb);
	a.nr_regions = n;
	a.regions = (uintptr_t)map;
	for (i = 0; i < sizeof(a.uuid); i++)
		a.uuid[i] = (__u8)rnd();
	if (!valid)
		mutate_add(&a, map, n, &map_ours);
	gated = gate_add(&a);
	p = place(&a, sizeof(a), &mode);
	r = ctl_ioctl(g.ctl, VDE_CTL_ADD, p, &e);
	memset(&out, 0, sizeof(out));
	if (readable(mode))
		memcpy(&out, p, sizeof(out));
	vlog("ADD%s%s size %u flags 0x%x fd %s index %d off %llu blocks %llu bs %u lbs %u q %u depth %u regions %u%s at %s -> %s index %d",
	     valid ? "" : " (mutated)", gated ? " (gated)" : "", a.size,
	     a.flags, fd_name(a.backing_fd), a.index,
	     (unsigned long long)a.data_offset,
	     (unsigned long long)a.nr_blocks, a.block_size,
	     a.logical_block_size, a.nr_hw_queues, a.queue_depth,
	     a.nr_regions, map_ours ? "" : " (odd map pointer)",
	     p_name[mode], res(r, e), out.index);
	if (!r) {
		if (!add_valid(&a, map_ours ? map : NULL))
			violation("ADD of a malformed request succeeded (vde%d)",
				  out.index);
		if (!readable(mode) || mode == P_RO) {
			violation("ADD succeeded from a %s argument", p_name[mode]);
			adopt_unknown(a.index);
			return;
		}
		if (a.index != VDE_INDEX_ANY && out.index != a.index)
			violation("ADD asked for index %d, got %d", a.index,
				  out.index);
		if (dev_by_index(out.index)) {
			violation("ADD gave index %d, which vde%d already has",
				  out.index, out.index);
			return;
		}
		dev_register(out.index, &a, map_ours ? map : NULL,
			     a.backing_fd == g.file_fd[file] ||
			     a.backing_fd == g.file_ro[file] ? file : -1);
	} else if (e == EFAULT && mode == P_RO) {
		adopt_unknown(a.index);
	}
}

static void mutate_devcmd(struct vde_dev_cmd *dc)
{
	switch (below(5)) {
	case 0:
		flip_bits(dc, sizeof(*dc), 1 + below(3));
		break;
	case 1:
		dc->size = pick_size(sizeof(*dc));
		break;
	case 2:
		dc->reserved0 = rnd32() | 1;
		break;
	case 3:
		dc->reserved[below(2)] = rnd() | 1;
		break;
	default:
		dc->flags = chance(500) ? rnd32() : 1U << below(32);
		break;
	}
}

static bool is_live(const struct dev *d)
{
	return d->state == VDE_STATE_LIVE;
}

static void op_devcmd(unsigned long req)
{
	const char *name = req == VDE_CTL_START ? "START" :
			   req == VDE_CTL_STOP ? "STOP" : "REMOVE";
	struct vde_dev_cmd dc;
	struct dev *d = NULL;
	bool mutated = false, gated = false;
	int mode, r, e;
	void *p;

	if (req == VDE_CTL_START)
		d = chance(800) ? pick_dev(is_added) : NULL;
	else if (req == VDE_CTL_STOP)
		d = chance(700) ? pick_dev(is_live) : NULL;
	if (!d)
		d = pick_dev(NULL);
	memset(&dc, 0, sizeof(dc));
	dc.size = sizeof(dc);
	dc.index = d && chance(880) ? d->index : random_index();
	if (req != VDE_CTL_START && chance(600))
		dc.flags = VDE_REMOVE_FORCE;
	if (chance(250)) {
		mutate_devcmd(&dc);
		mutated = true;
	}
	if (req == VDE_CTL_START)
		gated = gate_start(&dc);
	p = place(&dc, sizeof(dc), &mode);
	r = ctl_ioctl(g.ctl, req, p, &e);
	vlog("%s%s%s size %u index %d flags 0x%x res0 %u at %s -> %s", name,
	     mutated ? " (mutated)" : "", gated ? " (gated)" : "", dc.size,
	     dc.index, dc.flags, dc.reserved0, p_name[mode], res(r, e));
	if (r)
		return;
	if (dc.size != sizeof(dc) || dc.reserved0 || dc.reserved[0] ||
	    dc.reserved[1] ||
	    (dc.flags & ~(req == VDE_CTL_START ? 0U : VDE_REMOVE_FORCE)))
		violation("%s accepted size %u flags 0x%x reserved %u/%llx/%llx",
			  name, dc.size, dc.flags, dc.reserved0,
			  (unsigned long long)dc.reserved[0],
			  (unsigned long long)dc.reserved[1]);
	d = dev_by_index(dc.index);
	if (!d) {
		note("%s of vde%d, a device we do not know, succeeded", name,
		     dc.index);
		return;
	}
	if (req == VDE_CTL_START) {
		if (d->state != VDE_STATE_ADDED)
			violation("START of vde%d in state %d succeeded",
				  d->index, d->state);
		d->state = VDE_STATE_LIVE;
		io_timeout_set(d);
	} else if (req == VDE_CTL_STOP) {
		if (d->state != VDE_STATE_LIVE)
			violation("STOP of vde%d in state %d succeeded",
				  d->index, d->state);
		d->state = VDE_STATE_STOPPED;
	} else {
		dev_forget(d);
	}
	publish_live();
}

static void op_start(void)
{
	op_devcmd(VDE_CTL_START);
}

static void op_stop(void)
{
	op_devcmd(VDE_CTL_STOP);
}

static void op_remove(void)
{
	op_devcmd(VDE_CTL_REMOVE);
}

static void op_get_features(void)
{
	struct vde_features f, out;
	bool mutated = chance(400);
	int mode, r, e;
	void *p;

	memset(&f, 0, sizeof(f));
	f.size = sizeof(f);
	if (mutated) {
		switch (below(4)) {
		case 0:
			flip_bits(&f, sizeof(f), 1 + below(3));
			break;
		case 1:
			f.size = pick_size(sizeof(f));
			break;
		case 2:
			f.reserved[below(4)] = rnd() | 1;
			break;
		default:
			set_u32(&f, 4 * (1 + below(sizeof(f) / 4 - 1)), rnd32() | 1);
			break;
		}
	}
	p = place(&f, sizeof(f), &mode);
	r = ctl_ioctl(g.ctl, VDE_CTL_GET_FEATURES, p, &e);
	vlog("GET_FEATURES%s size %u at %s -> %s", mutated ? " (mutated)" : "",
	     f.size, p_name[mode], res(r, e));
	if (r || !readable(mode))
		return;
	if (f.size != sizeof(f) || !zero_from(&f, 4, sizeof(f)))
		violation("GET_FEATURES accepted size %u with non-zero input",
			  f.size);
	memcpy(&out, p, sizeof(out));
	if (out.size != VDE_FEATURES_SIZE_V1 || out.abi_version != VDE_ABI_VERSION ||
	    !(out.features & VDE_FEAT_CONTROL) ||
	    out.max_queue_depth != VDE_MAX_QUEUE_DEPTH ||
	    out.max_regions != VDE_MAX_REGIONS ||
	    out.max_hw_queues != g.feat.max_hw_queues ||
	    out.reserved[0] || out.reserved[1] || out.reserved[2] ||
	    out.reserved[3])
		violation("GET_FEATURES answered size %u abi %u features 0x%llx depth %u regions %u queues %u",
			  out.size, out.abi_version,
			  (unsigned long long)out.features, out.max_queue_depth,
			  out.max_regions, out.max_hw_queues);
}

static void op_get_info(void)
{
	struct vde_dev_info info, out;
	struct dev *d = pick_dev(NULL);
	bool mutated = chance(300);
	int mode, r, e;
	void *p;

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.index = d && chance(850) ? d->index : random_index();
	if (mutated) {
		switch (below(4)) {
		case 0:
			flip_bits(&info, sizeof(info), 1 + below(3));
			break;
		case 1:
			info.size = pick_size(sizeof(info));
			break;
		case 2:
			info.reserved[below(4)] = rnd() | 1;
			break;
		default:	/* an output field set on input */
			set_u32(&info, 4 * (2 + below(sizeof(info) / 4 - 2)),
				rnd32() | 1);
			break;
		}
	}
	p = place(&info, sizeof(info), &mode);
	r = ctl_ioctl(g.ctl, VDE_CTL_GET_INFO, p, &e);
	vlog("GET_INFO%s size %u index %d at %s -> %s",
	     mutated ? " (mutated)" : "", info.size, info.index, p_name[mode],
	     res(r, e));
	if (r || !readable(mode))
		return;
	if (info.size != sizeof(info) ||
	    !zero_from(&info, offsetof(struct vde_dev_info, state), sizeof(info)))
		violation("GET_INFO accepted size %u with non-zero input",
			  info.size);
	memcpy(&out, p, sizeof(out));
	d = dev_by_index(info.index);
	if (out.size != sizeof(out) || out.index != info.index ||
	    out.state < VDE_STATE_ADDED || out.state > VDE_STATE_STOPPED ||
	    out.reserved[0] || out.reserved[1] || out.reserved[2] ||
	    out.reserved[3])
		violation("GET_INFO of vde%d: size %u index %d state %u",
			  info.index, out.size, out.index, out.state);
	if (!d) {
		note("GET_INFO found vde%d, which is not in our table",
		     info.index);
		return;
	}
	if (d->adopted)
		return;
	if ((int)out.state != d->state || out.flags != d->flags ||
	    out.nr_hw_queues != d->nq || out.queue_depth != d->depth ||
	    out.nr_blocks != d->nr_blocks)
		violation("GET_INFO of vde%d: state %u flags 0x%x %u x %u blocks %llu; we expect state %d flags 0x%x %u x %u blocks %llu",
			  d->index, out.state, out.flags, out.nr_hw_queues,
			  out.queue_depth, (unsigned long long)out.nr_blocks,
			  d->state, d->flags, d->nq, d->depth,
			  (unsigned long long)d->nr_blocks);
}

static const unsigned long real_cmds[] = {
	VDE_CTL_GET_FEATURES, VDE_CTL_ADD, VDE_CTL_START, VDE_CTL_STOP,
	VDE_CTL_REMOVE, VDE_CTL_GET_INFO, VDE_RING_FETCH,
	VDE_RING_COMMIT_AND_FETCH, VDE_RING_GET_INFO, VDE_RING_WAIT,
	VDE_RING_COMMIT,
};

static bool is_real_cmd(unsigned long cmd)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(real_cmds); i++)
		if ((unsigned int)cmd == (unsigned int)real_cmds[i])
			return true;
	return false;
}

/*
 * A random ioctl number: mostly of vde's type; never one of vde's own
 * commands, nor of the types the VFS answers for every file (FIOCLEX,
 * FIFREEZE, FS_IOC_*, FICLONE, ...) or the block layer's.
 */
static unsigned long random_cmd(void)
{
	static const unsigned char avoid[] = { 0x00, 0x12, 0x15, 0x54, 0x58,
					       0x66, 0x94 };
	const unsigned int sizes[] = { 0, 8, 16, 32, 56, 64, 96, 128, 4096 };

	for (;;) {
		unsigned int dir = (unsigned int)below(4), type, nr, size, i;
		unsigned long cmd;
		bool bad = false;

		type = chance(700) ? VDE_IOC_MAGIC : (unsigned int)below(256);
		nr = chance(700) ? (unsigned int)below(0x40) : (unsigned int)below(256);
		size = chance(600) ? PICK(sizes) : (unsigned int)below(1 << 14);
		cmd = _IOC(dir, type, nr, size);
		if (chance(50))
			cmd = rnd32();
		for (i = 0; i < ARRAY_SIZE(avoid); i++)
			if (((cmd >> _IOC_TYPESHIFT) & 0xff) == avoid[i])
				bad = true;
		if (!bad && !is_real_cmd(cmd))
			return cmd;
	}
}

/* A real command with the wrong size or direction encoded in it. */
static unsigned long wrong_cmd(unsigned long real)
{
	unsigned int size = _IOC_SIZE(real), dir = _IOC_DIR(real), nsize;

	if (chance(300)) {
		unsigned int ndir = (dir + 1 + (unsigned int)below(3)) & 3;

		return _IOC(ndir, VDE_IOC_MAGIC, _IOC_NR(real), size);
	}
	do {
		nsize = chance(700) ? size + 8 * (unsigned int)range(-4, 4) :
				      (unsigned int)below(1 << 14);
	} while (nsize == size || nsize >= (1 << 14));
	return _IOC(dir, VDE_IOC_MAGIC, _IOC_NR(real), nsize);
}

static void *random_arg(void)
{
	unsigned int i;

	for (i = 0; i < 64; i++)
		g.rndbuf[below(PAGE_SZ)] = (unsigned char)rnd();
	switch (below(6)) {
	case 0:
		return bad_ptr();
	case 1:
		return (void *)(uintptr_t)below(4096);
	case 2:
		return g.ro;
	default:
		return g.rndbuf;
	}
}

static void op_ctl_random(void)
{
	unsigned long cmd = random_cmd();
	void *arg = random_arg();
	int r, e;

	r = ctl_ioctl(g.ctl, cmd, arg, &e);
	vlog("control ioctl 0x%lx arg %p -> %s", cmd, arg, res(r, e));
	if (!r || e != ENOTTY)
		violation("unknown control ioctl 0x%lx: %s, not ENOTTY", cmd,
			  res(r, e));
}

/* ------------------------------------------------------------------------
 * The data plane, seen from this thread
 */
struct target {
	int fd;
	struct dev *d;		/* NULL for a stale or odd descriptor */
	const char *what;
};

static int vdec_open(int index, int flags)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "/dev/" VDE_RING_NAME_FMT, index);
	g.n_open++;
	fd = open(name, flags | O_CLOEXEC);
	if (fd < 0)
		note_errno(errno);
	return fd;
}

/* Our O_RDWR /dev/vdecN of d, opened on demand. */
static int dev_fd(struct dev *d)
{
	if (d->fd[0] < 0) {
		d->fd[0] = vdec_open(d->index, O_RDWR);
		vlog("  open /dev/vdec%d -> %d", d->index, d->fd[0]);
	}
	return d->fd[0];
}

/* Where a data plane operation goes: mostly a device of ours. */
static bool pick_ring(struct target *t, bool odd)
{
	struct dev *d = pick_dev(has_ring);
	unsigned int c = below(1000), i, n = 0;
	int st[MAX_STALE];

	for (i = 0; i < MAX_STALE; i++)
		if (g.stale[i] >= 0)
			st[n++] = g.stale[i];
	t->d = NULL;
	if (d && (c < 880 || !odd)) {
		t->d = d;
		t->fd = d->fd[1] >= 0 && chance(250) ? d->fd[1] : dev_fd(d);
		t->what = "dev";
		return t->fd >= 0;
	}
	if (n && c < 950) {
		t->fd = st[below(n)];
		t->what = "stale";
		return true;
	}
	if (!odd)
		return false;
	switch (below(4)) {
	case 0:
		t->fd = g.ctl;
		break;
	case 1:
		t->fd = g.file_fd[0];
		break;
	case 2:
		t->fd = g.null_fd;
		break;
	default:
		t->fd = 1000;		/* not open */
		break;
	}
	t->what = "odd";
	return true;
}

static void op_vdec_open(void)
{
	const int modes[] = { O_RDWR, O_RDWR, O_RDONLY, O_WRONLY,
			      O_RDWR | O_NONBLOCK, O_RDONLY | O_NONBLOCK };
	struct dev *d = pick_dev(has_ring);
	int flags = PICK(modes), index, fd;

	index = d && chance(950) ? d->index : (int)range(0, 70);
	fd = vdec_open(index, flags);
	vlog("open /dev/vdec%d flags 0x%x -> %d%s", index, flags, fd,
	     fd < 0 ? res(-1, errno) : "");
	if (fd < 0)
		return;
	d = dev_by_index(index);
	if (!d || !d->ring) {
		if (!d)
			note("/dev/vdec%d opened, but vde%d is not ours",
			     index, index);
		else
			violation("/dev/vdec%d opened, vde%d has no helper",
				  index, index);
		close(fd);
		return;
	}
	if (d->fd[1] >= 0) {
		if (chance(500))
			stale_add(d->fd[1]);
		else
			close(d->fd[1]);
	}
	d->fd[1] = fd;
}

static void op_vdec_close(void)
{
	struct dev *d = pick_dev(has_ring);
	unsigned int i;
	int fd = -1;

	if (d && chance(850)) {
		i = below(2);
		fd = d->fd[i];
		d->fd[i] = -1;
		vlog("close /dev/vdec%d fd[%u] %d", d->index, i, fd);
	} else {
		i = below(MAX_STALE);
		fd = g.stale[i];
		g.stale[i] = -1;
		vlog("close stale fd %d", fd);
	}
	if (fd >= 0)
		close(fd);
}

static size_t desc_len_of(unsigned int depth)
{
	return (depth * sizeof(struct vde_io_desc) + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
}

/* Descriptor checks: the kernel writes only these values. */
static void check_descs(const unsigned char *p, size_t len, int index)
{
	size_t i;

	for (i = 0; i + sizeof(struct vde_io_desc) <= len;
	     i += sizeof(struct vde_io_desc)) {
		struct vde_io_desc d;

		memcpy(&d, p + i, sizeof(d));
		if (d.op > VDE_IO_OP_WRITE_ZEROES || d.reserved0 ||
		    (d.flags & ~(VDE_IO_F_FUA | VDE_IO_F_NOUNMAP)) ||
		    d.reserved)
			violation("descriptor %zu of vdec%d: op %u res0 %u flags 0x%x reserved 0x%llx",
				  i / sizeof(d), index, d.op, d.reserved0,
				  d.flags, (unsigned long long)d.reserved);
	}
}

struct touch_arg {
	struct mapping *m;
	size_t pages[6];
	unsigned int n;
	unsigned char fill;
};

static void touch_fn(void *p)
{
	struct touch_arg *t = p;
	volatile unsigned char sink;
	unsigned int i;

	for (i = 0; i < t->n; i++) {
		unsigned char *a = (unsigned char *)t->m->addr + t->pages[i] * PAGE_SZ;

		if (t->m->prot & PROT_READ) {
			if (t->m->desc)
				check_descs(a, PAGE_SZ, t->m->index);
			sink = a[0];
			sink = a[PAGE_SZ - 1];
			(void)sink;
		}
		if ((t->m->prot & PROT_WRITE) && !t->m->desc)
			memset(a, t->fill, PAGE_SZ);
	}
}

static void touch_map(struct mapping *m)
{
	size_t pages = m->len / PAGE_SZ;
	struct touch_arg t = { .m = m, .fill = r_fill(&R) };
	int sig;

	if (!pages || !(m->prot & (PROT_READ | PROT_WRITE)))
		return;
	t.pages[t.n++] = 0;
	t.pages[t.n++] = pages - 1;
	while (t.n < ARRAY_SIZE(t.pages))
		t.pages[t.n++] = below(pages);
	sig = guarded(touch_fn, &t);
	vlog("  touch %p len %zu prot %d%s -> %s", m->addr, m->len, m->prot,
	     m->desc ? " (descriptors)" : "", sig ? strsignal(sig) : "ok");
	if (sig) {
		g.faults++;
		violation("%s touching a mapping of vdec%d (%zu bytes, prot %d, %s)",
			  strsignal(sig), m->index, m->len, m->prot,
			  m->desc ? "descriptors" : "buffers");
		munmap(m->addr, m->len);
		m->addr = NULL;
	}
}

static struct mapping *map_slot(void)
{
	unsigned int i = below(MAX_MAPS), j;

	for (j = 0; j < MAX_MAPS; j++)
		if (!g.maps[j].addr)
			return &g.maps[j];
	munmap(g.maps[i].addr, g.maps[i].len);
	g.maps[i].addr = NULL;
	return &g.maps[i];
}

static void op_mmap(void)
{
	const int prots[] = { PROT_READ, PROT_READ, PROT_READ | PROT_WRITE,
			      PROT_READ | PROT_WRITE, PROT_WRITE, PROT_NONE,
			      PROT_READ | PROT_EXEC,
			      PROT_READ | PROT_WRITE | PROT_EXEC };
	unsigned int nq = 1, depth = 1, q;
	size_t dlen, blen, len;
	struct mapping *m;
	struct target t;
	int prot, flags, e;
	__u64 off;
	void *p;

	if (!pick_ring(&t, chance(50)))
		return;
	if (t.d) {
		nq = t.d->nq;
		depth = t.d->depth;
	}
	dlen = desc_len_of(depth);
	blen = (size_t)nq * depth * VDE_RING_BUF_SIZE;
	q = (unsigned int)below(nq + 1);
	switch (below(9)) {
	case 0:
	case 1:
		off = (__u64)q * VDE_RING_DESC_STRIDE;
		break;
	case 2:
		off = (__u64)q * VDE_RING_DESC_STRIDE + PAGE_SZ * range(1, 31);
		break;
	case 3:
	case 4:
		off = VDE_RING_BUF_OFFSET;
		break;
	case 5:
		off = VDE_RING_BUF_OFFSET + VDE_RING_BUF_SIZE * below(nq * depth + 2);
		break;
	case 6:
		off = VDE_RING_BUF_OFFSET + PAGE_SZ * below(blen / PAGE_SZ + 4);
		break;
	case 7:
		off = chance(500) ? VDE_RING_BUF_OFFSET - PAGE_SZ :
				    PAGE_SZ * below(1ULL << 32);
		break;
	default:
		off = below(PAGE_SZ);	/* mostly unaligned */
		break;
	}
	switch (below(8)) {
	case 0:
		len = PAGE_SZ;
		break;
	case 1:
	case 2:
		len = off < VDE_RING_BUF_OFFSET ? dlen : blen;
		break;
	case 3:
		len = (off < VDE_RING_BUF_OFFSET ? dlen : blen) + PAGE_SZ;
		break;
	case 4:
		len = VDE_RING_BUF_SIZE * (1 + below(nq * depth));
		break;
	case 5:
		len = PAGE_SZ * (1 + below(4096));
		break;
	case 6:
		len = chance(500) ? 0 : 1ULL << 30;
		break;
	default:
		len = 1 + below(3 * PAGE_SZ);
		break;
	}
	prot = PICK(prots);
	flags = chance(650) ? MAP_SHARED : chance(850) ? MAP_PRIVATE :
		MAP_SHARED_VALIDATE;
	if (chance(100))
		flags |= MAP_POPULATE;
	if (chance(30))
		flags |= MAP_NORESERVE;
	g.n_mmap++;
	p = mmap(NULL, len, prot, flags, t.fd, (off_t)off);
	e = p == MAP_FAILED ? errno : 0;
	vlog("mmap %s fd %d (vdec%d) off 0x%llx len %zu prot %d flags 0x%x -> %s",
	     t.what, t.fd, t.d ? t.d->index : -1, (unsigned long long)off, len,
	     prot, flags, p == MAP_FAILED ? res(-1, e) : "ok");
	if (p == MAP_FAILED) {
		note_errno(e);
		return;
	}
	madvise(p, len, MADV_DONTFORK);
	if (!t.d && t.fd != g.file_fd[0] && t.fd != g.null_fd && !strcmp(t.what, "odd"))
		note("mmap of odd fd %d succeeded", t.fd);
	if (t.d && off < VDE_RING_BUF_OFFSET && (prot & PROT_WRITE))
		violation("vdec%d: writable mapping of descriptors at 0x%llx",
			  t.d->index, (unsigned long long)off);
	if (t.d && off >= VDE_RING_BUF_OFFSET && !(flags & MAP_SHARED))
		violation("vdec%d: private mapping of buffers", t.d->index);
	if (strcmp(t.what, "odd") == 0) {
		munmap(p, len);
		return;
	}
	m = map_slot();
	m->addr = p;
	m->len = (len + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
	m->prot = prot;
	m->desc = off < VDE_RING_BUF_OFFSET;
	m->index = t.d ? t.d->index : -1;
	if (chance(700))
		touch_map(m);
	if (chance(300)) {
		munmap(m->addr, m->len);
		m->addr = NULL;
	}
}

static struct mapping *pick_map(void)
{
	struct mapping *c[MAX_MAPS];
	unsigned int i, n = 0;

	for (i = 0; i < MAX_MAPS; i++)
		if (g.maps[i].addr)
			c[n++] = &g.maps[i];
	return n ? c[below(n)] : NULL;
}

static void op_touch(void)
{
	struct mapping *m = pick_map();

	if (m)
		touch_map(m);
}

static void op_munmap(void)
{
	struct mapping *m = pick_map();
	int r;

	if (!m)
		return;
	if (m->len > PAGE_SZ && chance(300)) {
		/* split the mapping: drop its first or last page */
		if (chance(500)) {
			r = munmap(m->addr, PAGE_SZ);
			m->addr = (unsigned char *)m->addr + PAGE_SZ;
		} else {
			r = munmap((unsigned char *)m->addr + m->len - PAGE_SZ,
				   PAGE_SZ);
		}
		m->len -= PAGE_SZ;
		vlog("munmap one page of %p -> %d", m->addr, r);
		return;
	}
	r = munmap(m->addr, m->len);
	vlog("munmap %p len %zu -> %d", m->addr, m->len, r);
	m->addr = NULL;
}

static void op_ring_info(void)
{
	struct vde_ring_info in, out;
	bool mutated = chance(300);
	struct target t;
	int mode, r, e;
	void *p;

	if (!pick_ring(&t, true))
		return;
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	in.max_regions = chance(800) ? VDE_MAX_REGIONS : (__u32)below(4);
	in.regions = (uintptr_t)g.map2;
	if (chance(100)) {
		in.max_regions = 0;
		in.regions = 0;
	}
	if (mutated) {
		switch (below(6)) {
		case 0:
			flip_bits(&in, sizeof(in), 1 + below(3));
			break;
		case 1:
			in.size = pick_size(sizeof(in));
			break;
		case 2:
			in.reserved[below(4)] = rnd() | 1;
			break;
		case 3:
			in.regions = 0;
			in.max_regions = 1 + rnd32() % 300;
			break;
		case 4:
			in.regions = (uintptr_t)odd_ptr();
			break;
		default:	/* output fields on input are overwritten */
			set_u32(&in, 4 * (1 + below(7)), rnd32());
			break;
		}
	}
	memset(g.map2, 0, VDE_MAX_REGIONS * sizeof(*g.map2));
	p = place(&in, sizeof(in), &mode);
	r = timed_ioctl(t.fd, VDE_RING_GET_INFO, p, &e);
	vlog("RING_GET_INFO%s %s fd %d (vdec%d) size %u max_regions %u regions 0x%llx at %s -> %s",
	     mutated ? " (mutated)" : "", t.what, t.fd, t.d ? t.d->index : -1,
	     in.size, in.max_regions, (unsigned long long)in.regions,
	     p_name[mode], res(r, e));
	if (r || !readable(mode))
		return;
	if (in.size != sizeof(in) || in.reserved[0] || in.reserved[1] ||
	    in.reserved[2] || in.reserved[3] || (in.max_regions && !in.regions))
		violation("RING_GET_INFO accepted size %u, reserved words, or regions %u at 0",
			  in.size, in.max_regions);
	if (!t.d || t.d->adopted)
		return;
	memcpy(&out, p, sizeof(out));
	if (out.index != t.d->index || out.nr_hw_queues != t.d->nq ||
	    out.queue_depth != t.d->depth || out.buf_size != VDE_RING_BUF_SIZE ||
	    out.flags != t.d->flags || out.nr_blocks != t.d->nr_blocks ||
	    !out.nr_regions || out.nr_regions > VDE_MAX_REGIONS)
		violation("RING_GET_INFO of vdec%d: index %d %u x %u buf %u flags 0x%x blocks %llu regions %u",
			  t.d->index, out.index, out.nr_hw_queues,
			  out.queue_depth, out.buf_size, out.flags,
			  (unsigned long long)out.nr_blocks, out.nr_regions);
	if (in.regions == (uintptr_t)g.map2 && in.max_regions >= out.nr_regions &&
	    out.nr_regions <= VDE_MAX_REGIONS && !mutated) {
		__u64 next = 0;
		unsigned int i;

		for (i = 0; i < out.nr_regions; i++) {
			if (g.map2[i].first_block != next || !g.map2[i].nr_blocks)
				break;
			next += g.map2[i].nr_blocks;
		}
		if (i != out.nr_regions || next != out.nr_blocks)
			violation("RING_GET_INFO of vdec%d: the map does not tile %llu blocks",
				  t.d->index, (unsigned long long)out.nr_blocks);
	}
}

/* Map what serving a device needs: its descriptors and buffers. */
static bool serve_maps(struct dev *d, unsigned int q)
{
	int fd = dev_fd(d);
	void *p;

	if (fd < 0 || q >= MAX_Q)
		return false;
	d->sdesc_len = desc_len_of(d->depth);
	if (!d->sdesc[q]) {
		g.n_mmap++;
		p = mmap(NULL, d->sdesc_len, PROT_READ, MAP_SHARED, fd,
			 (off_t)q * VDE_RING_DESC_STRIDE);
		if (p == MAP_FAILED) {
			note_errno(errno);
			vlog("  serve map of vdec%d q %u descriptors: %s",
			     d->index, q, strerror(errno));
			return false;
		}
		madvise(p, d->sdesc_len, MADV_DONTFORK);
		d->sdesc[q] = p;
	}
	if (!d->sbuf) {
		d->sbuf_len = (size_t)d->nq * d->depth * VDE_RING_BUF_SIZE;
		g.n_mmap++;
		p = mmap(NULL, d->sbuf_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, (off_t)VDE_RING_BUF_OFFSET);
		if (p == MAP_FAILED) {
			note_errno(errno);
			vlog("  serve map of vdec%d buffers: %s", d->index,
			     strerror(errno));
			return false;
		}
		madvise(p, d->sbuf_len, MADV_DONTFORK);
		d->sbuf = p;
	}
	return true;
}

struct serve_arg {
	struct dev *d;
	unsigned int q, t;
	struct vde_io_desc desc;
	bool fill;
	unsigned char byte;
};

static void serve_fn(void *p)
{
	struct serve_arg *s = p;
	struct dev *d = s->d;

	memcpy(&s->desc, (unsigned char *)d->sdesc[s->q] +
	       s->t * sizeof(s->desc), sizeof(s->desc));
	check_descs((unsigned char *)&s->desc, sizeof(s->desc), d->index);
	if (s->fill && s->desc.op == VDE_IO_OP_READ)
		memset((unsigned char *)d->sbuf +
		       ((size_t)s->q * d->depth + s->t) * VDE_RING_BUF_SIZE,
		       s->byte, MIN(s->desc.nr_bytes, VDE_RING_BUF_SIZE));
}

/*
 * The result for a tag we own: what the request asks (a proper answer,
 * the data in the buffer for a read) or, sometimes, garbage.
 */
static __s32 serve_result(struct dev *d, unsigned int q, unsigned int t,
			  bool proper)
{
	struct serve_arg s = { .d = d, .q = q, .t = t, .fill = proper,
			       .byte = r_fill(&R) };
	__s32 want;
	int sig;

	if (!serve_maps(d, q))
		return proper ? 4096 : PICK(interesting_s32);
	sig = guarded(serve_fn, &s);
	if (sig) {
		g.faults++;
		violation("%s reading descriptor %u/%u of vdec%d", strsignal(sig),
			  q, t, d->index);
		return -EIO;
	}
	want = s.desc.op == VDE_IO_OP_READ || s.desc.op == VDE_IO_OP_WRITE ?
	       (__s32)s.desc.nr_bytes : 0;
	vlog("  desc vdec%d q %u tag %u: op %u flags 0x%x bytes %u off %llu seq %llu",
	     d->index, q, t, s.desc.op, s.desc.flags, s.desc.nr_bytes,
	     (unsigned long long)s.desc.offset, (unsigned long long)s.desc.seq);
	if (s.desc.op <= VDE_IO_OP_WRITE && s.desc.nr_bytes > VDE_RING_BUF_SIZE)
		note("vdec%d q %u tag %u: %u bytes to %s, more than a buffer",
		     d->index, q, t, s.desc.nr_bytes,
		     s.desc.op ? "write" : "read");
	return proper ? want : garbage_result(&R, want);
}

/* Bits of d->owned_* that belong to queue q */
static __u64 queue_bits(const struct dev *d, unsigned int q)
{
	__u64 m = d->depth >= 64 ? ~0ULL : (1ULL << d->depth) - 1;

	return q * d->depth >= 64 ? 0 : m << (q * d->depth);
}

static int pick_bit(__u64 bits)
{
	int c[64], n = 0, i;

	for (i = 0; i < 64; i++)
		if (bits & (1ULL << i))
			c[n++] = i;
	return n ? c[below(n)] : -1;
}

static void mutate_batch(struct vde_ring_batch *b)
{
	switch (below(11)) {
	case 0:
		flip_bits(b, sizeof(*b), 1 + below(3));
		break;
	case 1:
		b->size = pick_size(sizeof(*b));
		break;
	case 2:
		b->commits_done = rnd32() | 1;
		break;
	case 3:
		b->nr_tags = rnd32() | 1;
		break;
	case 4:
		b->reserved[below(2)] = rnd() | 1;
		break;
	case 5:
		b->flags = (__u16)rnd();
		break;
	case 6:		/* reads run into whatever follows the array */
		b->nr_commits = chance(500) ? 0xffffffff : (__u32)range(NR_CMDS, 1 << 20);
		break;
	case 7:
		b->max_tags = chance(500) ? 0xffffffff : (__u32)range(65, 1 << 16);
		break;
	case 8:
		b->commits = (uintptr_t)(chance(500) ? odd_ptr() :
			     (void *)(g.edge + PAGE_SZ - sizeof(struct vde_ring_commit)));
		if (!b->nr_commits)
			b->nr_commits = 1 + (__u32)below(8);
		break;
	case 9:
		b->tags = (uintptr_t)odd_ptr();
		break;
	default:
		b->q_id = (__u16)rnd();
		break;
	}
}

/* VDE_RING_WAIT (wait) or VDE_RING_COMMIT with a batch we own or invent. */
static void op_batch(bool wait)
{
	unsigned int nq = 1, depth = 1, q, nc = 0, i, nproper = 0;
	int proper_bit[NR_CMDS], mode, r, e;

	/*
	 * Commits of tags we own (proper or garbage results), and invented
	 * ones; the batch itself sometimes mutated.
	 */
	struct vde_ring_batch b, out;
	bool mutated = chance(250);
	struct dev *d;
	struct target t;
	void *p;

	if (!pick_ring(&t, true))
		return;
	d = t.d;
	if (d) {
		nq = d->nq;
		depth = d->depth;
	}
	q = chance(880) ? (unsigned int)below(nq) :
	    chance(500) ? nq + (unsigned int)below(3) : (unsigned int)below(0x10000);
	memset(g.commits, 0, 2 * NR_CMDS * sizeof(*g.commits));
	if (chance(600)) {
		nc = (unsigned int)below(9);
		for (i = 0; i < nc; i++) {
			int bit = d && q < nq ? pick_bit(d->owned_ioctl & queue_bits(d, q) &
						       ~0ULL) : -1;
			unsigned int k;

			for (k = 0; k < nproper && bit >= 0; k++)
				if (proper_bit[k] == bit)
					bit = -1;
			if (bit >= 0 && chance(750)) {
				unsigned int tag = (unsigned int)bit - q * depth;

				g.commits[i].tag = (__u16)tag;
				g.commits[i].result = serve_result(d, q, tag,
								   chance(800));
				proper_bit[nproper++] = bit;
				continue;
			}
			g.commits[i].tag = chance(700) ? (__u16)below(depth) : (__u16)rnd();
			g.commits[i].reserved = chance(900) ? 0 : (__u16)(rnd() | 1);
			g.commits[i].result = PICK(interesting_s32);
		}
	}
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.q_id = (__u16)q;
	b.nr_commits = nc;
	b.commits = (uintptr_t)g.commits;
	if (wait) {
		b.flags = chance(800) ? VDE_RING_WAIT_NOWAIT : 0;
		b.max_tags = chance(850) ? MAX_TAGS : PICK(interesting_u32);
		b.tags = (uintptr_t)g.tags;
	}
	if (mutated)
		mutate_batch(&b);
	if (d && b.q_id < nq && wait)
		d->main_touched = true;
	p = place(&b, sizeof(b), &mode);
	r = timed_ioctl(t.fd, wait ? VDE_RING_WAIT : VDE_RING_COMMIT, p, &e);
	memset(&out, 0, sizeof(out));
	/*
	 * commits_done and nr_tags are written back once the batch passed
	 * its checks; a refused batch leaves what we passed, which must then
	 * have been zero for the read-back to mean anything.
	 */
	if (readable(mode) && !b.commits_done && !b.nr_tags)
		memcpy(&out, p, sizeof(out));
	vlog("%s%s %s fd %d (vdec%d) q %u flags 0x%x commits %u (%u ours) max_tags %u at %s -> %s done %u tags %u",
	     wait ? "WAIT" : "COMMIT", mutated ? " (mutated)" : "", t.what,
	     t.fd, d ? d->index : -1, b.q_id, b.flags, b.nr_commits, nproper,
	     b.max_tags, p_name[mode], res(r, e), out.commits_done, out.nr_tags);
	if (!d || mode == P_RO || !readable(mode))
		return;
	if (out.commits_done > b.nr_commits || out.nr_tags > b.max_tags)
		violation("%s on vdec%d: %u of %u commits done, %u of %u tags",
			  wait ? "WAIT" : "COMMIT", d->index, out.commits_done,
			  b.nr_commits, out.nr_tags, b.max_tags);
	if (!r && !mutated && out.commits_done != b.nr_commits)
		violation("%s on vdec%d succeeded with %u of %u commits done",
			  wait ? "WAIT" : "COMMIT", d->index, out.commits_done,
			  b.nr_commits);
	if (!r && (b.size != sizeof(b) || b.commits_done || b.nr_tags ||
		   b.reserved[0] || b.reserved[1] || b.q_id >= nq ||
		   (wait ? (b.flags & ~VDE_RING_WAIT_NOWAIT) :
			   (b.flags || b.max_tags))))
		violation("%s on vdec%d accepted size %u q %u flags 0x%x done %u tags %u max_tags %u reserved %llx/%llx",
			  wait ? "WAIT" : "COMMIT", d->index, b.size, b.q_id,
			  b.flags, b.commits_done, b.nr_tags, b.max_tags,
			  (unsigned long long)b.reserved[0],
			  (unsigned long long)b.reserved[1]);
	if (b.commits != (uintptr_t)g.commits || b.q_id != q || q >= nq)
		goto tags;
	for (i = 0; i < MIN(out.commits_done, 2U * NR_CMDS); i++) {
		const struct vde_ring_commit *c = &g.commits[i];

		if (c->reserved || c->tag >= depth) {
			violation("%s on vdec%d applied commit %u: tag %u of %u, reserved %u",
				  wait ? "WAIT" : "COMMIT", d->index, i, c->tag,
				  depth, c->reserved);
			break;
		}
		/* applied: the tag is no longer ours */
		if (q * depth + c->tag < 64)
			d->owned_ioctl &= ~(1ULL << (q * depth + c->tag));
	}
tags:
	if (wait && b.tags == (uintptr_t)g.tags && b.q_id < nq) {
		for (i = 0; i < out.nr_tags && i < NR_TAGS_BUF; i++) {
			if (g.tags[i] >= depth) {
				violation("WAIT on vdec%d q %u returned tag %u of %u",
					  d->index, b.q_id, g.tags[i], depth);
				continue;
			}
			if (b.q_id * depth + g.tags[i] < 64)
				d->owned_ioctl |= 1ULL << (b.q_id * depth + g.tags[i]);
		}
	}
}

static void op_wait(void)
{
	op_batch(true);
}

static void op_commit(void)
{
	op_batch(false);
}

/* user_data of this thread's io_uring commands */
#define MUD(d, kind, q, t)	(((__u64)(d)->uid << 48) | ((__u64)slot_of(d) << 40) | \
				 ((__u64)(kind) << 32) | ((__u64)(q) << 16) | (t))
enum { MK_FETCH = 1, MK_CAF, MK_OTHER, MK_NODEV, MK_REFUSE = 0x80 };

static void main_cqe(__u64 ud, int cres)
{
	unsigned int uid = (unsigned int)(ud >> 48), slot = (ud >> 40) & 0xff;
	unsigned int kind = (ud >> 32) & 0xff, q = (ud >> 16) & 0xffff;
	unsigned int t = ud & 0xffff;
	struct dev *d;

	g.n_cqe++;
	if (cres < 0)
		note_errno(-cres);
	vlog("  CQE kind 0x%x slot %u q %u tag %u -> %d %s", kind, slot, q, t,
	     cres, cres < 0 ? ename(-cres) : "");
	if ((kind & MK_REFUSE) && cres >= 0)
		violation("io_uring command %s on q %u tag %u (invalid: cmd_op, range, reserved or result) completed with %d",
			  (kind & ~MK_REFUSE) == MK_FETCH ? "FETCH" :
			  (kind & ~MK_REFUSE) == MK_CAF ? "COMMIT_AND_FETCH" :
			  "(random cmd_op)", q, t, cres);
	if (slot >= SLOTS || kind == MK_NODEV || (kind & MK_REFUSE))
		return;
	d = &g.devs[slot];
	if (!d->used || d->uid != uid)
		return;
	if ((kind == MK_FETCH || kind == MK_CAF) && !cres) {
		if (q >= d->nq || t >= d->depth) {
			violation("vdec%d published q %u tag %u of %u x %u",
				  d->index, q, t, d->nq, d->depth);
			return;
		}
		if (q * d->depth + t < 64)
			d->owned_uring |= 1ULL << (q * d->depth + t);
	}
}

static void reap_main(int wait_ms)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;

	if (!g.ring_ok)
		return;
	if (wait_ms > 0) {
		struct __kernel_timespec ts = { .tv_sec = 0,
						.tv_nsec = wait_ms * 1000000LL };

		if (!io_uring_wait_cqe_timeout(&g.ring, &cqe, &ts)) {
			main_cqe(cqe->user_data, cqe->res);
			io_uring_cqe_seen(&g.ring, cqe);
			n++;
		}
	}
	while (n < 1024 && !io_uring_peek_cqe(&g.ring, &cqe)) {
		main_cqe(cqe->user_data, cqe->res);
		io_uring_cqe_seen(&g.ring, cqe);
		n++;
	}
}

static void submit_main(void)
{
	int r = io_uring_submit(&g.ring);

	if (r < 0) {
		note_errno(-r);
		vlog("  submit -> %d", r);
	} else {
		g.n_ring += (unsigned int)r;
	}
}

static void op_uring(void)
{
	unsigned int n = 1 + (unsigned int)below(8), i;
	struct target t;

	if (!g.ring_ok || !pick_ring(&t, chance(60)))
		return;
	for (i = 0; i < n; i++) {
		struct dev *d = t.d;
		unsigned int nq = d ? d->nq : 1, depth = d ? d->depth : 1;
		struct vde_ring_cmd c;
		unsigned int kind, c2 = (unsigned int)below(100);
		__u32 op;
		int bit;

		memset(&c, 0, sizeof(c));
		c.q_id = (__u16)(chance(880) ? below(nq) : rnd());
		c.tag = (__u16)(chance(850) ? below(depth) : rnd());
		if (c2 < 50) {
			kind = MK_FETCH;
			op = VDE_RING_FETCH;
			if (chance(100))
				c.result = PICK(interesting_s32);
		} else if (c2 < 85) {
			kind = MK_CAF;
			op = VDE_RING_COMMIT_AND_FETCH;
			bit = d ? pick_bit(d->owned_uring) : -1;
			if (bit >= 0 && chance(700)) {
				c.q_id = (__u16)(bit / depth);
				c.tag = (__u16)(bit % depth);
				c.result = serve_result(d, c.q_id, c.tag, chance(700));
				d->owned_uring &= ~(1ULL << bit);
			} else {
				c.result = PICK(interesting_s32);
			}
		} else {
			kind = MK_OTHER;
			op = chance(500) ? (__u32)wrong_cmd(PICK(real_cmds)) :
			     (__u32)random_cmd();
			if (op == VDE_RING_FETCH || op == VDE_RING_COMMIT_AND_FETCH)
				op = VDE_RING_GET_INFO;
			c.result = (__s32)rnd32();
		}
		if (chance(100))
			c.reserved = rnd() | (1ULL << below(64));
		/* the first FETCH on a queue makes this thread its helper */
		if (d && kind == MK_FETCH && c.q_id < nq)
			d->main_touched = true;
		/* invalid by construction: must complete with an error */
		if (d && !d->adopted &&
		    (kind == MK_OTHER || c.q_id >= nq || c.tag >= depth ||
		     c.reserved || (kind == MK_FETCH && c.result)))
			kind |= MK_REFUSE;
		if (!prep_cmd(&g.ring, t.fd, op, &c,
			      d ? MUD(d, kind, c.q_id, c.tag) :
				  ((__u64)MK_NODEV << 32)))
			break;
		vlog("uring %s fd %d (vdec%d) cmd_op 0x%x q %u tag %u result %d reserved 0x%llx",
		     t.what, t.fd, d ? d->index : -1, op, c.q_id, c.tag, c.result,
		     (unsigned long long)c.reserved);
	}
	submit_main();
	reap_main(0);
}

static void op_uring_other(void)
{
	struct vde_ring_cmd c = { 0 };
	struct io_uring_sqe *sqe;
	int fds[] = { g.ctl, g.file_fd[0], g.null_fd, g.pipe_fd[0], -1 };
	int fd = PICK(fds);
	unsigned int i;

	if (!g.ring_ok)
		return;
	if (chance(500)) {
		/* plain reads and writes on /dev/vdecN, which has neither */
		struct target t;

		if (!pick_ring(&t, false))
			return;
		sqe = io_uring_get_sqe(&g.ring);
		if (!sqe)
			return;
		i = (unsigned int)below(PAGE_SZ);
		if (chance(500))
			io_uring_prep_read(sqe, t.fd, g.rndbuf, i, 0);
		else
			io_uring_prep_write(sqe, t.fd, g.rndbuf, i, 0);
		sqe->user_data = (__u64)MK_NODEV << 32;
		vlog("uring %s on vdec fd %d len %u", sqe->opcode == IORING_OP_READ ?
		     "READ" : "WRITE", t.fd, i);
	} else {
		c.q_id = (__u16)below(2);
		prep_cmd(&g.ring, fd, chance(500) ? VDE_RING_FETCH :
			 (__u32)random_cmd(), &c, (__u64)MK_NODEV << 32);
		vlog("uring command on %s", fd_name(fd));
	}
	submit_main();
	reap_main(5);
}

static void op_reap(void)
{
	reap_main((int)range(1, 30));
}

/* Serve a request published to this thread, or let one come. */
static void op_serve(void)
{
	struct dev *c[SLOTS];
	unsigned int i, n = 0, q, tag;
	struct vde_ring_batch b;
	struct vde_ring_commit cm;
	bool proper = chance(800), uring;
	struct dev *d;
	__s32 result;
	int bit, r, e;

	reap_main(0);
	for (i = 0; i < SLOTS; i++)
		if (g.devs[i].used && (g.devs[i].owned_uring || g.devs[i].owned_ioctl))
			c[n++] = &g.devs[i];
	if (!n) {
		reap_main(20);
		return;
	}
	d = c[below(n)];
	uring = d->owned_uring && (!d->owned_ioctl || chance(500));
	bit = pick_bit(uring ? d->owned_uring : d->owned_ioctl);
	q = (unsigned int)bit / d->depth;
	tag = (unsigned int)bit % d->depth;
	result = serve_result(d, q, tag, proper);
	if (uring) {
		struct vde_ring_cmd cmd = { .q_id = (__u16)q, .tag = (__u16)tag,
					    .result = result };

		d->owned_uring &= ~(1ULL << bit);
		if (!g.ring_ok || dev_fd(d) < 0)
			return;
		prep_cmd(&g.ring, dev_fd(d), VDE_RING_COMMIT_AND_FETCH, &cmd,
			 MUD(d, MK_CAF, q, tag));
		submit_main();
		vlog("serve vdec%d q %u tag %u over io_uring: result %d%s",
		     d->index, q, tag, result, proper ? "" : " (garbage)");
		reap_main(0);
		return;
	}
	d->owned_ioctl &= ~(1ULL << bit);
	if (dev_fd(d) < 0)
		return;
	cm = (struct vde_ring_commit){ .tag = (__u16)tag, .result = result };
	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.q_id = (__u16)q;
	b.nr_commits = 1;
	b.commits = (uintptr_t)&cm;
	r = timed_ioctl(dev_fd(d), VDE_RING_COMMIT, &b, &e);
	vlog("serve vdec%d q %u tag %u with COMMIT: result %d%s -> %s done %u",
	     d->index, q, tag, result, proper ? "" : " (garbage)", res(r, e),
	     b.commits_done);
}

static void op_vdec_random(void)
{
	unsigned long cmd = chance(400) ? wrong_cmd(PICK(real_cmds)) : random_cmd();
	void *arg = random_arg();
	struct target t;
	int r, e;

	/* never one of the ring's commands: cannot make this thread a helper */
	if (!pick_ring(&t, true))
		return;
	r = timed_ioctl(t.fd, cmd, arg, &e);
	vlog("vdec ioctl %s fd %d (vdec%d) 0x%lx arg %p -> %s", t.what, t.fd,
	     t.d ? t.d->index : -1, cmd, arg, res(r, e));
	if (t.d && (!r || e != ENOTTY))
		violation("unknown ioctl 0x%lx on vdec%d: %s, not ENOTTY", cmd,
			  t.d->index, res(r, e));
}

/* Real commands with a wrong size or direction: ENOTTY, never obeyed. */
static void op_wrong_size(void)
{
	unsigned long real = PICK(real_cmds), cmd = wrong_cmd(real);
	bool ring = _IOC_NR(real) >= 0x20;
	struct target t;
	int fd = g.ctl, r, e;

	memset(g.arg, 0, 256);
	set_u32(g.arg, 0, _IOC_SIZE(real));
	if (ring) {
		if (!pick_ring(&t, false))
			return;
		fd = t.fd;
	}
	r = ring ? timed_ioctl(fd, cmd, g.arg, &e) : ctl_ioctl(fd, cmd, g.arg, &e);
	vlog("%s ioctl 0x%lx (0x%lx with a wrong size or direction) -> %s",
	     ring ? "vdec" : "control", cmd, real, res(r, e));
	if (r != -1 || e != ENOTTY)
		violation("ioctl 0x%lx (0x%lx with the wrong size or direction) on %s: %s",
			  cmd, real, ring ? "a vdec" : "vde-control", res(r, e));
}

static void op_spawn_helper(void)
{
	struct dev *d = pick_dev(has_ring);
	int p[2], status = -ETIMEDOUT, mode;
	struct pollfd pfd;
	bool uring;
	pid_t pid;
	unsigned int c = below(100);

	if (!d || d->helper || helpers_alive() >= MAX_HELPERS)
		return;
	if ((d->state == VDE_STATE_STOPPED || d->main_touched) && chance(800))
		return;
	mode = c < 50 ? HM_GOOD : c < 80 ? HM_GARBAGE : HM_CRASH;
	uring = g.ring_ok && chance(600);
	if (pipe2(p, O_CLOEXEC))
		return;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (!pid)
		helper_child(d->index, mode, uring, rnd(), p[1]);
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 3000) == 1 &&
	    read(p[0], &status, sizeof(status)) != sizeof(status))
		status = -EPIPE;
	close(p[0]);
	d->helper = pid;
	d->helper_mode = mode;
	d->helper_armed = !status;
	child_add(pid, CK_HELPER, (int)slot_of(d), d->uid);
	vlog("helper child %d for vdec%d: %s over %s -> %d %s", (int)pid,
	     d->index, hm_name[mode], uring ? "io_uring" : "ioctl", status,
	     status < 0 ? ename(-status) : "");
}

static void op_kill_helper(void)
{
	struct dev *d = pick_dev(NULL);

	if (!d || !d->helper)
		return;
	vlog("kill helper child %d of vdec%d", (int)d->helper, d->index);
	kill_child_pid(d->helper);
	d->helper = 0;
}

/* ------------------------------------------------------------------------
 * The loop
 */
struct op {
	const char *name;
	void (*fn)(void);
	unsigned int weight;
	bool ring;
};

static const struct op ops[] = {
	{ "get_features", op_get_features, 25, false },
	{ "get_info", op_get_info, 45, false },
	{ "add", op_add, 100, false },
	{ "start", op_start, 60, false },
	{ "stop", op_stop, 25, false },
	{ "remove", op_remove, 35, false },
	{ "ctl_random", op_ctl_random, 20, false },
	{ "wrong_size", op_wrong_size, 20, false },
	{ "vdec_open", op_vdec_open, 25, true },
	{ "vdec_close", op_vdec_close, 12, true },
	{ "mmap", op_mmap, 60, true },
	{ "touch", op_touch, 25, true },
	{ "munmap", op_munmap, 20, true },
	{ "ring_info", op_ring_info, 30, true },
	{ "wait", op_wait, 55, true },
	{ "commit", op_commit, 35, true },
	{ "uring", op_uring, 80, true },
	{ "uring_other", op_uring_other, 6, true },
	{ "reap", op_reap, 25, true },
	{ "serve", op_serve, 80, true },
	{ "vdec_random", op_vdec_random, 20, true },
	{ "spawn_helper", op_spawn_helper, 12, true },
	{ "kill_helper", op_kill_helper, 7, true },
};

static const struct op *pick_op(void)
{
	unsigned int total = 0, i, x;

	for (i = 0; i < ARRAY_SIZE(ops); i++)
		if (g.ring_feat || !ops[i].ring)
			total += ops[i].weight;
	x = (unsigned int)below(total);
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		if (!g.ring_feat && ops[i].ring)
			continue;
		if (x < ops[i].weight)
			return &ops[i];
		x -= ops[i].weight;
	}
	return &ops[0];
}

static void fuzz_loop(void)
{
	while (now_ms() < g.end_ms && (!g.max_steps || g.step < g.max_steps)) {
		const struct op *op;

		g.step++;
		reap_children();
		if (!__atomic_load_n(&g.sh->stop, __ATOMIC_RELAXED))
			spawn_io_children();
		reap_main(0);
		op = pick_op();
		op->fn();
	}
}

/* ------------------------------------------------------------------------
 * Watchdog: the run must end by time limit + HUNG_GRACE_S.
 */
static void *watchdog(void *arg)
{
	struct timespec ts;
	long long deadline = g.end_ms + HUNG_GRACE_S * 1000LL;
	char msg[256];
	unsigned int i;
	int n;

	(void)arg;
	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (deadline % 1000) * 1000000L;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
	n = snprintf(msg, sizeof(msg),
		     "not ok %d %s # hung: not done %d s after the time limit (seed %llu, step %lu)\n",
		     cur_test, cur_name, HUNG_GRACE_S,
		     (unsigned long long)g.seed, g.step);
	if (write(STDOUT_FILENO, msg, n) < 0)
		_exit(1);
	for (i = 0; i < MAX_CHILDREN; i++)
		if (g.children[i].pid > 0)
			kill(g.children[i].pid, SIGKILL);
	_exit(1);
}

/* ------------------------------------------------------------------------
 * Setup and the final checks
 */
static int scratch_setup(void)
{
	const char *dir = getenv("VDE_SCRATCH");
	char path[512];
	unsigned int i;
	int fd;

	snprintf(g.dir, sizeof(g.dir), "%s", dir && *dir ? dir : "/tmp");
	for (i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "%s/vde_fuzz.%d.%u.img", g.dir,
			 (int)getpid(), i);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, (off_t)FILE_BLOCKS * BS)) {
			printf("# %s: %s\n", path, strerror(errno));
			return -1;
		}
		g.file_fd[i] = fd;
		g.file_ro[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (!i) {
			g.file_wo = open(path, O_WRONLY | O_CLOEXEC);
			g.path_fd = open(path, O_PATH | O_CLOEXEC);
		}
		remember_backing(fd);
		unlink(path);	/* nothing left behind, whatever happens */
	}
	snprintf(path, sizeof(path), "%s/vde_fuzz.%d.small", g.dir, (int)getpid());
	g.small_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (g.small_fd >= 0) {
		if (ftruncate(g.small_fd, 3 * BS))
			note("ftruncate %s: %s", path, strerror(errno));
		remember_backing(g.small_fd);
		unlink(path);
	}
	g.mem_fd = memfd_create("vde_fuzz", MFD_CLOEXEC);
	if (g.mem_fd >= 0) {
		if (ftruncate(g.mem_fd, 64 * BS))
			note("ftruncate memfd: %s", strerror(errno));
		remember_backing(g.mem_fd);
	}
	g.dir_fd = open(g.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (pipe2(g.pipe_fd, O_CLOEXEC)) {
		g.pipe_fd[0] = -1;
		g.pipe_fd[1] = -1;
	}
	return 0;
}

static int mem_setup(void)
{
	unsigned int i;
	void *p;

	p = mmap(NULL, 64 * PAGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	g.arg = p;
	g.rndbuf = g.arg + 2 * PAGE_SZ;
	g.map = (struct vde_region_entry *)(g.arg + 4 * PAGE_SZ);
	g.map2 = (struct vde_region_entry *)(g.arg + 12 * PAGE_SZ);
	g.commits = (struct vde_ring_commit *)(g.arg + 20 * PAGE_SZ);
	g.tags = (__u16 *)(g.arg + 24 * PAGE_SZ);
	for (i = 0; i < PAGE_SZ; i++)
		g.rndbuf[i] = (unsigned char)rnd();
	p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	g.ro = p;
	p = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	g.edge = p;
	mprotect(g.edge + PAGE_SZ, PAGE_SZ, PROT_NONE);
	p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	g.sh = p;
	for (i = 0; i < SLOTS; i++)
		g.sh->live[i] = -1;
	return 0;
}

static int test_no = 1;
static int failed;

static void result(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d ", ok ? "ok" : "not ok", test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failed += !ok;
	cur_test = ++test_no;
}

static void print_errnos(char *buf, size_t len, const unsigned long *errs)
{
	size_t off = 0;
	int e;

	buf[0] = '\0';
	for (e = 1; e <= ERRMAX && off < len; e++) {
		if (!errs[e])
			continue;
		off += snprintf(buf + off, len - off, "%s%s %lu",
				off ? ", " : "", e == ERRMAX ? "other" : ename(e),
				errs[e]);
	}
	if (!off)
		snprintf(buf, len, "none");
}

static void print_summary(void)
{
	unsigned long all[ERRMAX + 1];
	char buf[2048];
	int e;

	for (e = 0; e <= ERRMAX; e++)
		all[e] = g.errs[e] + g.sh->io_errs[e];
	print_errnos(buf, sizeof(buf), all);
	printf("# ops: %lu ioctls, %lu ring commands, %lu mmaps, %lu I/Os; errnos seen: %s\n",
	       g.n_ioctl, g.n_ring, g.n_mmap, g.sh->ios, buf);
	print_errnos(buf, sizeof(buf), g.sh->io_errs);
	printf("# I/O: %lu requests, %lu failed (%s)\n", g.sh->ios,
	       g.sh->io_errors, buf);
	printf("# main thread: %lu steps, %lu CQEs, %lu opens; ADDs gated %lu, STARTs gated %lu, devices adopted %lu, notes %lu\n",
	       g.step, g.n_cqe, g.n_open, g.gated_add, g.gated_start,
	       g.adopted, g.notes);
	printf("# helper children: %lu requests served, %lu garbage results, %lu junk commands, %lu crashes\n",
	       g.sh->served, g.sh->garbage, g.sh->junk, g.sh->crashes);
}

/* Wait for every child to end; true if they all did within ms. */
static bool reap_all(int ms)
{
	long long end = now_ms() + ms;
	unsigned int i, left;
	int status;
	pid_t pid;

	do {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			child_exited(pid, status);
		left = 0;
		for (i = 0; i < MAX_CHILDREN; i++)
			left += g.children[i].pid != 0;
		if (left)
			sleep_ms(20);
	} while (left && now_ms() < end);
	for (i = 0; i < MAX_CHILDREN; i++) {
		if (!g.children[i].pid)
			continue;
		printf("# child %d (%s) has not exited\n", (int)g.children[i].pid,
		       g.children[i].kind == CK_IO ? "I/O" : "helper");
		kill(g.children[i].pid, SIGKILL);
	}
	return !left;
}

static void close_everything(void)
{
	unsigned int i, j;

	for (i = 0; i < MAX_MAPS; i++) {
		if (g.maps[i].addr)
			munmap(g.maps[i].addr, g.maps[i].len);
		g.maps[i].addr = NULL;
	}
	for (i = 0; i < SLOTS; i++) {
		struct dev *d = &g.devs[i];

		unmap_serve(d);
		for (j = 0; j < 2; j++) {
			if (d->fd[j] >= 0)
				close(d->fd[j]);
			d->fd[j] = -1;
		}
	}
	for (i = 0; i < MAX_STALE; i++) {
		if (g.stale[i] >= 0)
			close(g.stale[i]);
		g.stale[i] = -1;
	}
	if (g.ring_ok)
		io_uring_queue_exit(&g.ring);
	g.ring_ok = false;
}

/*
 * Force-remove every device of ours: those in the table, and any other
 * over one of our files (an ADD can create one and still fail).
 */
static void remove_all(void)
{
	static bool present[MAX_INDEX];
	unsigned int nfound = 0, nremoved = 0, nbad = 0, foreign = 0;
	struct vde_dev_info info;
	struct vde_dev_cmd dc;
	unsigned int i;
	int idx, r, e;

	for (idx = 0; idx < MAX_INDEX; idx++) {
		present[idx] = false;
		if (get_info(idx, &info))
			continue;
		if (!dev_by_index(idx) && !backing_is_ours(&info)) {
			printf("# vde%d is not ours (backing %llx:%llu); left alone\n",
			       idx, (unsigned long long)info.backing_dev,
			       (unsigned long long)info.backing_ino);
			foreign++;
			continue;
		}
		present[idx] = true;
		nfound++;
	}
	for (i = 0; i < SLOTS; i++)
		if (g.devs[i].used && g.devs[i].index >= 0 &&
		    g.devs[i].index < MAX_INDEX && !present[g.devs[i].index]) {
			printf("# vde%d of our table is already gone\n",
			       g.devs[i].index);
			present[g.devs[i].index] = true;
		}
	for (idx = 0; idx < MAX_INDEX; idx++) {
		if (!present[idx])
			continue;
		memset(&dc, 0, sizeof(dc));
		dc.size = sizeof(dc);
		dc.index = idx;
		dc.flags = VDE_REMOVE_FORCE;
		r = ctl_ioctl(g.ctl, VDE_CTL_REMOVE, &dc, &e);
		if (!r) {
			nremoved++;
		} else if (e != ENODEV) {
			nbad++;
			printf("# forced REMOVE of vde%d: %s\n", idx, strerror(e));
		}
		vlog("final REMOVE vde%d -> %s", idx, res(r, e));
	}
	/* nothing of ours may answer GET_INFO any more */
	for (idx = 0; idx < MAX_INDEX; idx++) {
		if (!present[idx] || get_info(idx, &info))
			continue;
		nbad++;
		printf("# vde%d still there after its forced REMOVE\n", idx);
	}
	for (i = 0; i < SLOTS; i++)
		g.devs[i].used = false;
	publish_live();
	result(!nbad, "forced REMOVE of every device left (%u found, %u removed%s)",
	       nfound, nremoved, foreign ? ", foreign devices left alone" : "");
}

static void check_control(void)
{
	struct vde_features f;
	bool ok = true;
	int fd, e;

	memset(&f, 0, sizeof(f));
	f.size = sizeof(f);
	if (ctl_ioctl(g.ctl, VDE_CTL_GET_FEATURES, &f, &e) || f.size != sizeof(f)) {
		printf("# GET_FEATURES on the old descriptor: %s\n", strerror(e));
		ok = false;
	}
	fd = open(CONTROL, O_RDWR | O_CLOEXEC);
	memset(&f, 0, sizeof(f));
	f.size = sizeof(f);
	if (fd < 0 || ctl_ioctl(fd, VDE_CTL_GET_FEATURES, &f, &e) ||
	    f.abi_version != VDE_ABI_VERSION) {
		printf("# GET_FEATURES on a new descriptor: %s\n",
		       strerror(fd < 0 ? errno : e));
		ok = false;
	}
	if (fd >= 0)
		close(fd);
	result(ok, "/dev/vde-control answers GET_FEATURES");
}

/* Entries of dir named prefix + digits */
static unsigned int count_nodes(const char *dir, const char *prefix)
{
	size_t plen = strlen(prefix);
	unsigned int n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		const char *s = de->d_name + plen;

		if (strncmp(de->d_name, prefix, plen) || !*s ||
		    strspn(s, "0123456789") != strlen(s))
			continue;
		printf("# %s/%s is still there\n", dir, de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-s SEED] [-t SECONDS] [-n STEPS] [-v]\n",
		argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct timespec ts;
	bool seeded = false;
	pthread_t wd;
	sigset_t all, old;
	unsigned int i;
	int c, r, e;

	setvbuf(stdout, NULL, _IOLBF, 0);
	g.limit_s = 60;
	while ((c = getopt(argc, argv, "s:t:n:v")) != -1) {
		switch (c) {
		case 's':
			g.seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 't':
			g.limit_s = atoi(optarg);
			break;
		case 'n':
			g.max_steps = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			g.verbose = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc || g.limit_s < 0)
		usage(argv[0]);
	if (!seeded) {
		clock_gettime(CLOCK_REALTIME, &ts);
		g.seed = ((__u64)ts.tv_sec * 1000000007ULL) ^ (__u64)ts.tv_nsec ^
			 ((__u64)getpid() << 32);
	}
	rng_seed(&R, g.seed);
	g.main_pid = getpid();
	g.ctl = -1;
	for (i = 0; i < MAX_STALE; i++)
		g.stale[i] = -1;
	for (i = 0; i < NFILES; i++) {
		g.file_fd[i] = -1;
		g.file_ro[i] = -1;
	}

	printf("TAP version 13\n");
	printf("# seed %llu\n", (unsigned long long)g.seed);
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 4;
	}
	g.ctl = open(CONTROL, O_RDWR | O_CLOEXEC);
	if (g.ctl < 0) {
		printf("1..0 # SKIP %s: %s\n", CONTROL, strerror(errno));
		return 4;
	}
	memset(&g.feat, 0, sizeof(g.feat));
	g.feat.size = sizeof(g.feat);
	if (ctl_ioctl(g.ctl, VDE_CTL_GET_FEATURES, &g.feat, &e)) {
		printf("1..1\nnot ok 1 GET_FEATURES: %s\n", strerror(e));
		return 1;
	}
	if (!(g.feat.features & VDE_FEAT_DEVICES) || !g.feat.max_hw_queues) {
		printf("1..0 # SKIP no devices (features 0x%llx)\n",
		       (unsigned long long)g.feat.features);
		return 4;
	}
	g.ring_feat = (g.feat.features & (VDE_FEAT_HELPER_URING | VDE_FEAT_HELPER_IOCTL)) ==
		      (VDE_FEAT_HELPER_URING | VDE_FEAT_HELPER_IOCTL);
	printf("1..6\n");
	printf("# features 0x%llx, max_devices %u, max_hw_queues %u; time limit %d s%s\n",
	       (unsigned long long)g.feat.features, g.feat.max_devices,
	       g.feat.max_hw_queues, g.limit_s, g.ring_feat ? "" :
	       "; no helper data plane: control ioctls only");
	if (mem_setup() || scratch_setup()) {
		printf("not ok 1 setup\n");
		return 1;
	}
	r = io_uring_queue_init(256, &g.ring, 0);
	g.ring_ok = !r;
	if (r)
		printf("# io_uring_queue_init: %s; no io_uring commands\n",
		       strerror(-r));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: interrupt the ioctl */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_fault;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	g.start_ms = now_ms();
	g.end_ms = g.start_ms + g.limit_s * 1000LL;
	/* the watchdog takes no signal: SIGALRM is this thread's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&wd, NULL, watchdog, NULL)) {
		printf("not ok 1 watchdog thread\n");
		return 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	fuzz_loop();

	reap_children();
	if (g.sh->junk_accepted)
		violation("%lu junk helper commands (queue or tag out of range, reserved bits) were accepted",
			  g.sh->junk_accepted);
	print_summary();
	result(!g.violations && !g.faults,
	       "fuzz loop: %lu steps in %lld s, %lu violations, %lu faults",
	       g.step, (now_ms() - g.start_ms) / 1000, g.violations, g.faults);

	/* The end: children, our descriptors, then every device. */
	cur_name = "forced REMOVE of every device left";
	__atomic_store_n(&g.sh->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < MAX_CHILDREN; i++) {
		if (g.children[i].pid > 0) {
			kill(g.children[i].pid, SIGKILL);
			g.children[i].killed = true;
		}
	}
	close_everything();
	remove_all();

	cur_name = "children exited";
	result(reap_all(20000), "children exited");

	cur_name = "/dev/vde-control answers GET_FEATURES";
	check_control();

	cur_name = "no vde block devices left";
	result(!count_nodes("/sys/block", "vde"), "no vde block devices left in /sys/block");

	cur_name = "no vdec devices left";
	result(!count_nodes("/sys/class/vdec", "vdec"),
	       "no vdec devices left in /sys/class/vdec");

	printf("# seed %llu: %s; replay with: %s -s %llu -t %d -n %lu -v\n",
	       (unsigned long long)g.seed, failed ? "FAILED" : "passed", argv[0],
	       (unsigned long long)g.seed, g.limit_s, g.step);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n",
	       test_no - 1 - failed, failed);
	return failed ? 1 : 0;
}
