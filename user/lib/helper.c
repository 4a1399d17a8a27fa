// SPDX-License-Identifier: GPL-2.0
/*
 * libvde helper: setting up and running the helper of one device.
 *
 * Open /dev/vdecN (waiting for udev), read the geometry and region map,
 * open the backing file and check it is the device's, map the descriptors
 * and buffers, pick the backend, start one thread per hardware queue (and
 * the pool's workers), wait until every queue is armed, report, and serve
 * until the device goes away or SIGTERM/SIGINT.  The key lives in locked
 * memory and is wiped on the way out.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "helper.h"
#include "libvde.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER	57
#endif

static bool hlog_syslog;

void vde_hlog(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (hlog_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		flockfile(stderr);
		fputs("vde-helper: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
	}
	va_end(ap);
}

int vde_helper_fail(struct vde_helper *h, int err, const char *fmt, ...)
{
	char msg[VDE_HELPER_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vde_hlog(LOG_ERR, "%s", msg);
	pthread_mutex_lock(&h->lock);
	if (!h->msg[0])
		memcpy(h->msg, msg, sizeof(msg));
	if (!h->failed)
		h->failed = err;
	pthread_mutex_unlock(&h->lock);
	return err;
}

int vde_helper_backend_parse(const char *s, enum vde_helper_backend *out)
{
	static const char *const names[] = { "auto", "io_uring", "fallback" };
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum vde_helper_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

void vde_helper_init(struct vde_helper *h)
{
	memset(h, 0, sizeof(*h));
	h->ring_fd = -1;
	h->fd_direct = -1;
	h->fd = -1;
	h->commit = vde_pool_commit_ioctl;
	h->offload_min = VDE_OFFLOAD_MIN;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->main_thread = pthread_self();
}

int vde_helper_cipher(const struct vde_helper *h, struct vde_xts **x)
{
	*x = NULL;
	return h->key ? vde_xts_new(h->key, x) : 0;
}

void vde_helper_report(struct vde_helper *h, unsigned int q, int err)
{
	if (err)
		vde_helper_fail(h, err, "/dev/vdec%d: cannot arm hardware queue %u: %s%s",
				h->index, q, strerror(-err),
				err == -EBUSY ? " (another helper serves the device)" :
				err == -ESTALE ? " (the previous helper was lost meanwhile; start again)" :
				"");
	pthread_mutex_lock(&h->lock);
	h->reported++;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

void vde_helper_exit(struct vde_helper *h, unsigned int q, int err)
{
	pthread_mutex_lock(&h->lock);
	h->exited++;
	if (err == -ENODEV)
		h->gone = true;
	else if (err && !h->failed)
		h->failed = err;
	pthread_mutex_unlock(&h->lock);
	(void)q;
	pthread_kill(h->main_thread, SIGUSR2);
}

static void wake_noop(int sig)
{
	(void)sig;
}

void vde_helper_wakeable(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* Block what the main thread waits for; SIGUSR1 interrupts, no restart. */
static void helper_signals(sigset_t *wait)
{
	struct sigaction sa = { .sa_handler = wake_noop };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(wait);
	sigaddset(wait, SIGTERM);
	sigaddset(wait, SIGINT);
	sigaddset(wait, SIGUSR2);
	block = *wait;
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
}

static void helper_process(void)
{
	static bool warned;

	/* No core dumps, no ptrace by others: the key is in memory. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Writeback may wait for us: do not recurse into it. */
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) && !warned) {
		warned = true;
		vde_hlog(LOG_WARNING, "cannot become an I/O flusher (%s): memory reclaim may stall on this helper",
			 strerror(errno));
	}
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* /dev/vdecN appears when udev (or devtmpfs) has made it: wait a little. */
static int open_node(struct vde_helper *h, const struct vde_helper_cfg *cfg)
{
	unsigned int waited = 0;
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/" VDE_RING_NAME_FMT,
		 cfg->dev_dir ? cfg->dev_dir : "/dev", cfg->index);
	for (;;) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || waited >= cfg->node_wait_ms)
			break;
		sleep_ms(50);
		waited += 50;
	}
	if (fd < 0)
		return vde_helper_fail(h, -errno, "cannot open %s: %s%s", path,
				       strerror(errno),
				       errno == ENOENT ? " (no helper data plane: is the device encrypted or via-helper?)" : "");
	h->ring_fd = fd;
	return 0;
}

static bool info_sane(const struct vde_ring_info *i)
{
	return i->nr_hw_queues && i->nr_hw_queues <= 0xffff &&
	       i->queue_depth && i->queue_depth <= VDE_MAX_QUEUE_DEPTH &&
	       i->buf_size >= VDE_XTS_UNIT_SIZE && !(i->buf_size % VDE_XTS_UNIT_SIZE) &&
	       i->block_size >= VDE_XTS_UNIT_SIZE &&
	       !(i->block_size & (i->block_size - 1)) &&
	       i->nr_regions && i->nr_regions <= VDE_MAX_REGIONS &&
	       i->nr_blocks && i->nr_blocks <= UINT64_MAX / i->block_size;
}

static int ring_info(struct vde_helper *h, const struct vde_helper_cfg *cfg)
{
	struct vde_hgeom *g = &h->geom;
	struct vde_ring_info i = {
		.size = sizeof(i),
		.max_regions = VDE_MAX_REGIONS,
		.regions = (uintptr_t)g->regions,
	};

	if (ioctl(h->ring_fd, VDE_RING_GET_INFO, &i) < 0)
		return vde_helper_fail(h, -errno, "/dev/vdec%d: VDE_RING_GET_INFO: %s",
				       cfg->index, strerror(errno));
	if (!info_sane(&i))
		return vde_helper_fail(h, -EPROTO, "/dev/vdec%d: the device's geometry makes no sense",
				       cfg->index);
	if (i.data_offset < cfg->image_base ||
	    (i.data_offset - cfg->image_base) % VDE_XTS_UNIT_SIZE)
		return vde_helper_fail(h, -EPROTO, "/dev/vdec%d: data offset %llu is not within the image",
				       cfg->index, (unsigned long long)i.data_offset);
	h->nr_queues = i.nr_hw_queues;
	h->depth = i.queue_depth;
	g->data_offset = i.data_offset;
	g->vde_base = i.data_offset - cfg->image_base;
	g->dev_bytes = i.nr_blocks * i.block_size;
	g->block_size = i.block_size;
	g->buf_size = i.buf_size;
	g->flags = i.flags;
	g->nr_regions = i.nr_regions;
	return 0;
}

/* Open the backing file; it must be the one the device was added with. */
static int open_backing(struct vde_helper *h, const char *path, int flags,
			const struct vde_dev_info *di)
{
	struct stat st;
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (uint64_t)st.st_ino != di->backing_ino ||
	    vde_encode_dev(st.st_dev) != di->backing_dev) {
		close(fd);
		return vde_helper_fail(h, -ESTALE, "%s is not the backing file of /dev/vde%d",
				       path, h->index);
	}
	return fd;
}

/* The alignment O_DIRECT needs; 0 if the file system cannot do it. */
static uint32_t dio_align(int fd)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) ||
	    !(stx.stx_mask & STATX_DIOALIGN))
		return VDE_XTS_UNIT_SIZE;	/* unknown: be safe */
	if (!stx.stx_dio_offset_align)
		return 0;
	return stx.stx_dio_offset_align > stx.stx_dio_mem_align ?
	       stx.stx_dio_offset_align : stx.stx_dio_mem_align;
}

static int backing(struct vde_helper *h, const struct vde_helper_cfg *cfg,
		   int ctl)
{
	int flags = h->geom.flags & VDE_DEV_READ_ONLY ? O_RDONLY : O_RDWR;
	struct vde_dev_info di;
	int ret;

	ret = vde_ctrl_get_info(ctl, h->index, &di);
	if (ret)
		return vde_helper_fail(h, ret, "/dev/vde%d: VDE_CTL_GET_INFO: %s",
				       h->index, strerror(-ret));
	h->fd = open_backing(h, cfg->backing_path, flags, &di);
	if (h->fd == -ESTALE)
		return h->fd;
	if (h->fd < 0)
		return vde_helper_fail(h, h->fd, "cannot open %s: %s",
				       cfg->backing_path, strerror(-h->fd));
	h->geom.dio_align = dio_align(h->fd);
	if (h->geom.dio_align)
		h->fd_direct = open_backing(h, cfg->backing_path, flags | O_DIRECT, &di);
	if (h->fd_direct == -ESTALE)
		return h->fd_direct;
	if (h->fd_direct < 0) {
		vde_hlog(LOG_INFO, "%s: no direct I/O (%s): using buffered I/O",
			 cfg->backing_path, strerror(h->geom.dio_align ? -h->fd_direct : EINVAL));
		h->fd_direct = -1;
		h->geom.dio_align = 0;
	}
	return 0;
}

static int map_ring(struct vde_helper *h)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t dlen = (h->depth * sizeof(struct vde_io_desc) + page - 1) & ~(page - 1);
	size_t blen = (size_t)h->nr_queues * h->depth * h->geom.buf_size;
	unsigned int q;
	void *p;

	h->desc = calloc(h->nr_queues, sizeof(*h->desc));
	if (!h->desc)
		return vde_helper_fail(h, -ENOMEM, "out of memory");
	for (q = 0; q < h->nr_queues; q++) {
		p = mmap(NULL, dlen, PROT_READ, MAP_SHARED, h->ring_fd,
			 (off_t)q * VDE_RING_DESC_STRIDE);
		if (p == MAP_FAILED)
			return vde_helper_fail(h, -errno, "/dev/vdec%d: cannot map the descriptors of queue %u: %s",
					       h->index, q, strerror(errno));
		h->desc[q] = p;
	}
	p = mmap(NULL, blen, PROT_READ | PROT_WRITE, MAP_SHARED, h->ring_fd,
		 (off_t)VDE_RING_BUF_OFFSET);
	if (p == MAP_FAILED)
		return vde_helper_fail(h, -errno, "/dev/vdec%d: cannot map the data buffers: %s",
				       h->index, strerror(errno));
	h->bufs = p;
	return 0;
}

static void unmap_ring(struct vde_helper *h)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t dlen = (h->depth * sizeof(struct vde_io_desc) + page - 1) & ~(page - 1);
	unsigned int q;

	for (q = 0; h->desc && q < h->nr_queues; q++)
		if (h->desc[q])
			munmap((void *)h->desc[q], dlen);
	free(h->desc);
	h->desc = NULL;
	if (h->bufs)
		munmap(h->bufs, (size_t)h->nr_queues * h->depth * h->geom.buf_size);
	h->bufs = NULL;
}

static int take_key(struct vde_helper *h, const uint8_t *key)
{
	struct vde_xts *x;
	int ret;

	if (!key) {
		if (vde_hgeom_encrypted(&h->geom))
			return vde_helper_fail(h, -ENOKEY, "/dev/vde%d has encrypted regions and no key was given",
					       h->index);
		return 0;
	}
	h->key = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	if (!h->key)
		return vde_helper_fail(h, -ENOMEM, "out of memory");
	memcpy(h->key, key, VDE_XTS_KEY_SIZE);
	ret = vde_xts_new(h->key, &x);
	vde_xts_free(x);
	if (ret)
		return vde_helper_fail(h, ret, "the key cannot be used with AES-256-XTS: %s",
				       strerror(-ret));
	return 0;
}

/*
 * io_uring if it can be had; else the pool, announced by one log line
 * saying why.
 */
static int pick_backend(struct vde_helper *h, enum vde_helper_backend want,
			int ctl)
{
	struct vde_features f;
	char why[160];
	int err;

	if (vde_ctrl_get_features(ctl, &f))
		f.features = 0;
	if (want == VDE_HELPER_POOL) {
		snprintf(why, sizeof(why), "the fallback backend was asked for");
	} else if (!(f.features & VDE_FEAT_HELPER_URING)) {
		snprintf(why, sizeof(why), "vde.ko does not offer the io_uring commands");
	} else if ((err = vde_uring_probe())) {
		snprintf(why, sizeof(why), "io_uring is not available: %s%s",
			 strerror(-err), err == -EPERM || err == -EACCES ?
			 " (kernel.io_uring_disabled or a seccomp filter)" : "");
	} else {
		h->backend = VDE_HELPER_URING;
		return 0;
	}
	if (want == VDE_HELPER_URING)
		return vde_helper_fail(h, -EOPNOTSUPP, "cannot use io_uring: %s", why);
	if (!(f.features & VDE_FEAT_HELPER_IOCTL))
		return vde_helper_fail(h, -EOPNOTSUPP, "cannot serve /dev/vde%d: %s, and vde.ko has no ioctl transport",
				       h->index, why);
	h->backend = VDE_HELPER_POOL;
	vde_hlog(LOG_WARNING, "/dev/vde%d: using the fallback backend (a thread pool with pread/pwrite and blocking ioctls): %s",
		 h->index, why);
	return 0;
}

static int helper_setup(struct vde_helper *h, const struct vde_helper_cfg *cfg)
{
	int ctl, ret;

	h->index = cfg->index;
	ret = open_node(h, cfg);
	if (!ret)
		ret = ring_info(h, cfg);
	if (!ret)
		ret = take_key(h, cfg->key);
	if (ret)
		return ret;
	ctl = vde_ctrl_open(cfg->control_path);
	if (ctl < 0)
		return vde_helper_fail(h, ctl, "cannot open %s: %s",
				       cfg->control_path ? cfg->control_path : VDE_CONTROL_PATH,
				       strerror(-ctl));
	ret = backing(h, cfg, ctl);
	if (!ret)
		ret = map_ring(h);
	if (!ret)
		ret = pick_backend(h, cfg->backend, ctl);
	close(ctl);
	return ret;
}

/* ---- threads ------------------------------------------------------------- */

/*
 * struct helper_threads - the threads of a running helper
 * @qa: one per hardware queue
 * @workers: the pool's workers
 * @nr_q: queue threads started
 * @nr_w: workers started
 * @pool: the pool's work queue
 */
struct helper_threads {
	struct vde_qarg *qa;
	pthread_t *workers;
	unsigned int nr_q;
	unsigned int nr_w;
	struct vde_pool *pool;
};

static int start_workers(struct vde_helper *h, struct helper_threads *t)
{
	unsigned int n = vde_pool_workers(h);
	int ret;

	ret = vde_pool_new(h, &t->pool);
	if (ret)
		return ret;
	t->workers = calloc(n, sizeof(*t->workers));
	if (!t->workers)
		return -ENOMEM;
	for (t->nr_w = 0; t->nr_w < n; t->nr_w++) {
		ret = -pthread_create(&t->workers[t->nr_w], NULL, vde_pool_worker,
				      t->pool);
		if (ret)
			return ret;
	}
	return 0;
}

static int start_queues(struct vde_helper *h, struct helper_threads *t)
{
	void *(*fn)(void *) = h->backend == VDE_HELPER_URING ?
			      vde_uring_queue_thread : vde_pool_queue_thread;
	char name[16];
	int ret;

	t->qa = calloc(h->nr_queues, sizeof(*t->qa));
	if (!t->qa)
		return -ENOMEM;
	for (t->nr_q = 0; t->nr_q < h->nr_queues; t->nr_q++) {
		struct vde_qarg *a = &t->qa[t->nr_q];

		a->h = h;
		a->q = t->nr_q;
		a->pool = t->pool;
		ret = -pthread_create(&a->thread, NULL, fn, a);
		if (ret)
			return ret;
		snprintf(name, sizeof(name), "vde%d-q%u", h->index, a->q);
		pthread_setname_np(a->thread, name);
	}
	return 0;
}

/*
 * A queue thread serves all of its queue, and one submitter's I/O lands
 * on one queue: the CPUs share the cipher work.  The io_uring queue
 * threads hand all of it to the team, a thread per CPU; the pool's
 * workers do their own and the team, a thread per other CPU, helps with
 * large requests.
 */
static int start_team(struct vde_helper *h)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!h->key || cpus < 2)
		return 0;
	if (h->backend == VDE_HELPER_POOL)
		cpus--;
	return vde_xts_team_new(h->key, (unsigned int)cpus, &h->geom.team);
}

static int start_threads(struct vde_helper *h, struct helper_threads *t)
{
	int ret;

	ret = start_team(h);
	if (!ret && h->backend == VDE_HELPER_POOL)
		ret = start_workers(h, t);
	if (!ret)
		ret = start_queues(h, t);
	if (ret)
		return vde_helper_fail(h, ret, "cannot start the helper's threads: %s",
				       strerror(-ret));
	pthread_mutex_lock(&h->lock);
	while (h->reported < h->nr_queues && !h->failed)
		pthread_cond_wait(&h->cond, &h->lock);
	ret = h->failed;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

/*
 * Let the workers commit what they hold while the queues are still
 * served, then wake the queue threads until they have returned.
 */
static void stop_threads(struct vde_helper *h, struct helper_threads *t)
{
	unsigned int i, tries;

	atomic_store(&h->stop, true);
	if (t->pool)
		vde_pool_stop(t->pool);
	for (i = 0; i < t->nr_w; i++)
		pthread_join(t->workers[i], NULL);
	for (i = 0; i < t->nr_q; i++) {
		for (tries = 0; pthread_tryjoin_np(t->qa[i].thread, NULL) == EBUSY;
		     tries++) {
			if (!(tries % 10))
				pthread_kill(t->qa[i].thread, SIGUSR1);
			sleep_ms(10);
		}
	}
	vde_pool_free(t->pool);
	free(t->workers);
	free(t->qa);
	vde_xts_team_free(h->geom.team);
	h->geom.team = NULL;
}

/* Serve until a signal, or until a queue thread returns. */
static int helper_wait(struct vde_helper *h, const sigset_t *set)
{
	int sig;

	for (;;) {
		sig = sigwaitinfo(set, NULL);
		if (sig == SIGTERM || sig == SIGINT) {
			vde_hlog(LOG_INFO, "/dev/vde%d: stopping on signal %d", h->index, sig);
			return 0;
		}
		pthread_mutex_lock(&h->lock);
		sig = h->exited ? (h->failed ? h->failed : 1) : 0;
		pthread_mutex_unlock(&h->lock);
		if (sig == 1 && h->gone)
			vde_hlog(LOG_INFO, "/dev/vde%d is gone: exiting", h->index);
		if (sig)
			return sig < 0 ? sig : 0;
	}
}

static void ready_report(const struct vde_helper_cfg *cfg,
			 const struct vde_helper *h, int ret)
{
	char line[VDE_HELPER_MSG_MAX + 16];
	int n;

	if (cfg->ready_fd < 0)
		return;
	if (ret)
		n = snprintf(line, sizeof(line), "error %s\n",
			     h->msg[0] ? h->msg : strerror(-ret));
	else
		n = snprintf(line, sizeof(line), "ready %d\n", (int)getpid());
	if (write(cfg->ready_fd, line, (size_t)n) < 0)
		vde_hlog(LOG_WARNING, "cannot report readiness: %s", strerror(errno));
}

static void helper_release(struct vde_helper *h)
{
	unmap_ring(h);
	vde_secure_free(h->key, VDE_XTS_KEY_SIZE);
	h->key = NULL;
	if (h->fd_direct >= 0)
		close(h->fd_direct);
	if (h->fd >= 0)
		close(h->fd);
	if (h->ring_fd >= 0)
		close(h->ring_fd);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
}

int vde_helper_run(const struct vde_helper_cfg *cfg)
{
	struct helper_threads t = { 0 };
	struct vde_helper *h;
	sigset_t set;
	int ret;

	hlog_syslog = cfg->syslog;
	if (cfg->syslog)
		openlog("vde-helper", LOG_PID, LOG_DAEMON);
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	vde_helper_init(h);
	snprintf(h->msg, 16, "vde%d-helper", cfg->index);
	prctl(PR_SET_NAME, h->msg, 0, 0, 0);
	h->msg[0] = '\0';
	helper_signals(&set);
	helper_process();
	ret = helper_setup(h, cfg);
	if (!ret)
		ret = start_threads(h, &t);
	ready_report(cfg, h, ret);
	if (!ret) {
		vde_hlog(LOG_INFO, "serving /dev/vde%d: %u queues of %u tags, %s backend",
			 h->index, h->nr_queues, h->depth,
			 h->backend == VDE_HELPER_URING ? "io_uring" : "fallback");
		ret = helper_wait(h, &set);
	}
	stop_threads(h, &t);
	helper_release(h);
	free(h);
	return ret;
}
