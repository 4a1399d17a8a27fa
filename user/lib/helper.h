/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvde: the userspace helper that serves the requests vde.ko routes to
 * it over /dev/vdecN (include/uapi/linux/vde.h, "helper data plane"):
 * every request that touches an encrypted block, or every request of a
 * device attached with VDE_DEV_VIA_HELPER.
 *
 * Three layers:
 *
 * - request serving (helper-req.c): a request is a small state machine
 *   that yields one backing-file I/O step at a time (read, write, fsync,
 *   fallocate) and does the CPU work (AES-256-XTS in place in the tag's
 *   buffer) between steps.  vde_req_serve() runs the steps synchronously.
 * - backends: io_uring (helper-uring.c: one ring and one thread per
 *   hardware queue, FETCH / COMMIT_AND_FETCH commands, registered files
 *   and buffers) and the fallback thread pool (helper-pool.c: the
 *   VDE_RING_WAIT / VDE_RING_COMMIT ioctls, pread/pwrite on the slot
 *   buffers).
 * - setup (helper.c): open and map /dev/vdecN, check the backing file,
 *   pick a backend, arm every queue, report readiness, run until the
 *   device goes away or a signal arrives, then wipe the key.
 *
 * Functions return 0 or a non-negative result on success and a negative
 * errno on failure; they never rely on the global errno.
 */
#ifndef VDE_HELPER_H
#define VDE_HELPER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vde.h>

#include "crypto.h"
#include "xts-team.h"

/* ---- geometry and request serving (helper-req.c) ------------------------ */

/**
 * struct vde_hgeom - what serving a request needs to know of the device
 * @data_offset: backing file offset of device byte 0
 * @vde_base: VDE byte offset of device byte 0 (the tweak origin; a
 *	multiple of 4096: 0 unless a region view was attached)
 * @dev_bytes: size of the device in bytes
 * @block_size: the image's block size
 * @buf_size: bytes of one tag buffer
 * @flags: %VDE_DEV_* flags
 * @dio_align: alignment of offsets, lengths and buffers that the direct
 *	file descriptor accepts; 0 if there is none
 * @nr_regions: entries at @regions
 * @regions: the device's region map (sorted, tiles the device)
 * @team: threads that share the cipher of large requests, or NULL
 */
struct vde_hgeom {
	uint64_t data_offset;
	uint64_t vde_base;
	uint64_t dev_bytes;
	uint32_t block_size;
	uint32_t buf_size;
	uint32_t flags;
	uint32_t dio_align;
	unsigned int nr_regions;
	struct vde_region_entry regions[VDE_MAX_REGIONS];
	struct vde_xts_team *team;
};

/**
 * vde_hgeom_encrypted() - does the region map have encrypted blocks
 * @g: the geometry
 *
 * Return: true if any entry is %VDE_REGION_ENCRYPTED.
 */
bool vde_hgeom_encrypted(const struct vde_hgeom *g);

/** enum vde_step_op - one backing-file operation of a request */
enum vde_step_op {
	VDE_STEP_READ,
	VDE_STEP_WRITE,
	VDE_STEP_FSYNC,
	VDE_STEP_FALLOCATE,
	VDE_STEP_WAIT,
};

/**
 * struct vde_step - the backing-file operation a request waits for
 * @op: what to do
 * @dsync: WRITE: with RWF_DSYNC; FSYNC: fdatasync rather than fsync
 * @direct: use the O_DIRECT file descriptor (offset, length and buffer
 *	are aligned to &vde_hgeom.dio_align)
 * @own_buf: READ, WRITE: @buf is the request's own memory, not in the
 *	tag's buffer (so not a registered buffer)
 * @mode: FALLOCATE: the fallocate(2) mode
 * @off: backing file offset
 * @len: bytes
 * @buf: READ, WRITE: memory in the tag's buffer, or of the request
 *
 * %VDE_STEP_WAIT is no I/O: wait a moment (another request holds an
 * encrypted unit this one must read, modify and write), then ask again.
 */
struct vde_step {
	enum vde_step_op op;
	bool dsync;
	bool direct;
	bool own_buf;
	int mode;
	uint64_t off;
	uint64_t len;
	uint8_t *buf;
};

/**
 * struct vde_req - a request being served
 * @d: the descriptor, copied when the request was taken
 * @buf: the tag's buffer
 * @pos: bytes of the request done
 * @result: the result to commit once @done
 * @done: finished; @result is final
 * @checked: the request was checked
 * @prepared: WRITE: the partial units are read and merged, the buffer is
 *	encrypted
 * @zero_fill: WRITE_ZEROES: the current plain extent is zeroed by writing
 *	zeros, fallocate(2) having refused
 * @synced: the trailing fdatasync of a FUA discard or write-zeroes is done
 * @nr_units: encrypted 4096-byte units the request covers only in part (at
 *	its start or end, with 512-byte logical blocks): 0, 1 or 2
 * @unit_steps: unit reads (then, for a write, unit writes) done
 * @locked: a write holds its partial units against other writes
 * @units: the partial units' device offsets
 * @rmw: memory for the partial units, 4096 bytes each
 * @mid: request bytes [@mid, @end) are read or written in the tag's
 *	buffer; the rest lies in partial units
 * @end: see @mid
 * @g: the device, for the unit locks
 * @step: the step in flight, valid between vde_req_next() and
 *	vde_req_done()
 */
struct vde_req {
	struct vde_io_desc d;
	uint8_t *buf;
	uint64_t pos;
	int32_t result;
	bool done;
	bool checked;
	bool prepared;
	bool zero_fill;
	bool synced;
	uint8_t nr_units;
	uint8_t unit_steps;
	bool locked;
	uint64_t units[2];
	uint8_t *rmw;
	uint64_t mid;
	uint64_t end;
	const struct vde_hgeom *g;
	struct vde_step step;
};

/**
 * vde_req_init() - take a request
 * @r: the request state
 * @d: its descriptor (copied)
 * @buf: the tag's buffer, &vde_hgeom.buf_size bytes
 */
void vde_req_init(struct vde_req *r, const struct vde_io_desc *d, uint8_t *buf);

/**
 * vde_req_next() - advance a request to its next backing-file step
 * @g: the device
 * @x: the thread's cipher, or NULL if the key is not known
 * @r: the request
 *
 * Checks the request when it starts (range, hidden blocks, read-only
 * device, write-zeroes of part of an encrypted unit) and does the
 * CPU work due before the next step: encrypting a write's encrypted
 * extents in place, filling a chunk of encrypted zeros, decrypting a
 * read's encrypted extents and zeroing its hidden ones once it is read.
 *
 * Return: true with @r->step set when a step must run (then call
 * vde_req_done() with its result); false when the request is finished
 * and @r->result is to be committed: the request's nr_bytes on success,
 * else a negative errno (never a short success).
 */
bool vde_req_next(const struct vde_hgeom *g, struct vde_xts *x,
		  struct vde_req *r);

/**
 * vde_req_done() - account the result of the step in flight
 * @r: the request
 * @res: what the operation returned: bytes transferred (or 0) or a
 *	negative errno
 */
void vde_req_done(struct vde_req *r, long res);

/**
 * vde_step_run() - run a step synchronously
 * @s: the step
 * @fd_direct: the backing file opened with O_DIRECT, or -1
 * @fd: the backing file, buffered
 *
 * Return: bytes transferred (READ, WRITE), 0 (FSYNC, FALLOCATE) or a
 * negative errno.
 */
long vde_step_run(const struct vde_step *s, int fd_direct, int fd);

/**
 * vde_req_serve() - serve a whole request synchronously
 * @g: the device
 * @x: the thread's cipher, or NULL
 * @fd_direct: the backing file opened with O_DIRECT, or -1
 * @fd: the backing file, buffered
 * @d: the request's descriptor
 * @buf: the tag's buffer
 *
 * Return: the result to commit (nr_bytes or a negative errno).
 */
int32_t vde_req_serve(const struct vde_hgeom *g, struct vde_xts *x,
		      int fd_direct, int fd, const struct vde_io_desc *d,
		      uint8_t *buf);

/* ---- the helper (helper.c) ------------------------------------------------- */

/**
 * enum vde_helper_backend - how requests are fetched and committed
 * @VDE_HELPER_AUTO: io_uring when the kernel and vde.ko allow it, else the
 *	thread pool
 * @VDE_HELPER_URING: io_uring only
 * @VDE_HELPER_POOL: the thread pool and the blocking ioctls
 */
enum vde_helper_backend {
	VDE_HELPER_AUTO,
	VDE_HELPER_URING,
	VDE_HELPER_POOL,
};

/**
 * vde_helper_backend_parse() - "auto", "io_uring" or "fallback"
 * @s: the name
 * @out: set on success
 *
 * Return: 0 or -EINVAL.
 */
int vde_helper_backend_parse(const char *s, enum vde_helper_backend *out);

struct vde_helper;
struct vde_pool;

/**
 * typedef vde_commit_fn - complete a request of the thread pool
 * @h: the helper
 * @q: hardware queue
 * @tag: tag
 * @result: nr_bytes or a negative errno
 *
 * Return: 0 or a negative errno (-ENODEV: the device is gone).
 */
typedef int (*vde_commit_fn)(struct vde_helper *h, unsigned int q,
			     unsigned int tag, int32_t result);

/** VDE_HELPER_MSG_MAX - longest error message of a helper, with its NUL */
#define VDE_HELPER_MSG_MAX	256

/**
 * struct vde_helper - a helper serving one device
 * @index: N of /dev/vdeN
 * @geom: the device's geometry and region map
 * @nr_queues: hardware queues
 * @depth: tags per queue
 * @ring_fd: /dev/vdecN, or -1
 * @fd_direct: the backing file opened with O_DIRECT, or -1
 * @fd: the backing file, buffered
 * @desc: the descriptor array of each queue (mapped from /dev/vdecN)
 * @bufs: the tag buffers (mapped from /dev/vdecN): queue q, tag t at
 *	(q * @depth + t) * buf_size
 * @key: the master key in locked memory, or NULL
 * @commit: how pool workers complete requests (vde_pool_commit_ioctl())
 * @stop: set to make every thread finish what it holds and return
 * @lock: protects the fields below
 * @cond: signalled when a queue thread reports
 * @reported: queue threads that armed their queue or failed to
 * @exited: queue threads that returned
 * @failed: the first error of a thread (negative errno), or 0
 * @gone: a queue thread saw the device or the helper go (-ENODEV)
 * @msg: the first error message
 * @main_thread: the thread running vde_helper_run(), told of exits
 * @backend: the backend in use
 * @offload_min: io_uring backend with a cipher team: a request of at least
 *	this many bytes hands its cipher work to the team as a job of its
 *	own; smaller ones of one batch of completions run it in the queue
 *	thread while they add up to less, else in shares, one per team
 *	thread and one for the queue thread (a hand-over costs two thread
 *	wake-ups); %VDE_OFFLOAD_MIN
 *
 * vde_helper_run() sets everything up; tests fill one in by hand after
 * vde_helper_init().
 */
struct vde_helper {
	int index;
	struct vde_hgeom geom;
	unsigned int nr_queues;
	unsigned int depth;
	int ring_fd;
	int fd_direct;
	int fd;
	const struct vde_io_desc **desc;
	uint8_t *bufs;
	uint8_t *key;
	vde_commit_fn commit;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int reported;
	unsigned int exited;
	int failed;
	bool gone;
	char msg[VDE_HELPER_MSG_MAX];
	pthread_t main_thread;
	enum vde_helper_backend backend;
	unsigned int offload_min;
};

/** VDE_OFFLOAD_MIN - default of &vde_helper.offload_min, in bytes */
#define VDE_OFFLOAD_MIN	(32 * 1024)

/**
 * vde_helper_init() - an empty helper
 * @h: set to no files, no mappings, no key, vde_pool_commit_ioctl(),
 *	%VDE_OFFLOAD_MIN
 */
void vde_helper_init(struct vde_helper *h);

/**
 * vde_helper_buf() - the buffer of a tag
 * @h: the helper
 * @q: hardware queue
 * @tag: tag
 *
 * Return: &vde_hgeom.buf_size bytes.
 */
static inline uint8_t *vde_helper_buf(const struct vde_helper *h,
				      unsigned int q, unsigned int tag)
{
	return h->bufs + ((size_t)q * h->depth + tag) * h->geom.buf_size;
}

/**
 * vde_helper_cipher() - a cipher handle for one thread
 * @h: the helper
 * @x: set to a new handle, or to NULL when the helper has no key
 *
 * Return: 0 or a negative errno.
 */
int vde_helper_cipher(const struct vde_helper *h, struct vde_xts **x);

/**
 * vde_helper_fail() - record and log why the helper fails
 * @h: the helper
 * @err: a negative errno, returned
 * @fmt: printf format of the message
 *
 * The first message is the one reported on the readiness pipe.
 *
 * Return: @err.
 */
int vde_helper_fail(struct vde_helper *h, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * vde_helper_report() - a queue thread has armed its queue, or failed to
 * @h: the helper
 * @q: the queue
 * @err: 0, or the negative errno that stops the helper
 */
void vde_helper_report(struct vde_helper *h, unsigned int q, int err);

/**
 * vde_helper_exit() - a queue thread returns, and the helper stops
 * @h: the helper
 * @q: the queue
 * @err: 0 when told to stop, -ENODEV when the device or the helper went
 *	away, another negative errno on failure
 */
void vde_helper_exit(struct vde_helper *h, unsigned int q, int err);

/**
 * vde_helper_wakeable() - let SIGUSR1 interrupt this thread's system calls
 *
 * For queue threads, so that vde_helper_run() can wake them to stop.
 */
void vde_helper_wakeable(void);

/**
 * vde_hlog() - log a message of the helper
 * @prio: a syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO)
 * @fmt: printf format
 *
 * To standard error, prefixed "vde-helper: ", or to syslog once
 * vde_helper_run() was asked to.  Never give it key material.
 */
void vde_hlog(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * struct vde_helper_cfg - how to run a helper
 * @index: N of /dev/vdeN
 * @backing_path: the file to open for I/O; it must be the device's backing
 *	file (the st_dev and st_ino VDE_CTL_GET_INFO reports)
 * @image_base: file offset of VDE block 0 (after a preamble), the origin
 *	of the tweaks
 * @key: the verified 64-byte master key, or NULL; copied into locked
 *	memory
 * @backend: the backend to use
 * @ready_fd: where to write "ready PID\n" once every queue is armed, or
 *	"error MESSAGE\n" if the helper cannot start; -1 for nowhere
 * @syslog: log to syslog rather than standard error
 * @dev_dir: directory of the device nodes, "/dev" if NULL
 * @control_path: the control device, VDE_CONTROL_PATH if NULL
 * @node_wait_ms: how long to wait for /dev/vdecN to appear
 */
struct vde_helper_cfg {
	int index;
	const char *backing_path;
	uint64_t image_base;
	const uint8_t *key;
	enum vde_helper_backend backend;
	int ready_fd;
	bool syslog;
	const char *dev_dir;
	const char *control_path;
	unsigned int node_wait_ms;
};

/**
 * vde_helper_run() - serve a device until it goes away or SIGTERM/SIGINT
 * @cfg: what to serve and how
 *
 * Makes the process non-dumpable and an I/O flusher, opens and maps
 * /dev/vdecN, checks the backing file, picks the backend, arms every
 * hardware queue, reports readiness on @cfg->ready_fd, and serves
 * requests until the device is removed (commands fail with -ENODEV),
 * SIGTERM or SIGINT arrives, or a thread fails.  The key is wiped before
 * this returns.
 *
 * Context: call from a process without other threads; blocks SIGTERM,
 * SIGINT, SIGUSR1 and SIGUSR2 in the calling thread.
 * Return: 0 when stopped by the device going away or a signal; a negative
 * errno when the helper could not start or failed.
 */
int vde_helper_run(const struct vde_helper_cfg *cfg);

/**
 * vde_helper_spawn() - start a helper daemon and wait until it is ready
 * @cfg: the helper; @cfg->ready_fd and @cfg->syslog are set here; a key
 *	at @cfg->key must be 64 bytes of vde_secure_alloc() memory, which the
 *	daemon wipes and frees on its side (the caller keeps its own)
 * @keep_fd: a descriptor the daemon must keep open (one that
 *	@cfg->backing_path names through /proc/self/fd), or -1
 * @timeout_ms: how long to wait for the daemon's report
 * @pid: set to the daemon's process ID
 * @msg: set to the daemon's error message, or ""
 * @len: size of @msg
 *
 * Forks twice: the daemon runs in a new session, with its standard
 * streams on /dev/null, its other descriptors closed, logging to syslog.
 * Flush stdio buffers first.
 *
 * Return: 0 once every queue is armed; -EIO with @msg set if the helper
 * failed to start; -EPROTO if it exited without saying why; -ETIMEDOUT;
 * or the error of pipe2(2) or fork(2).
 */
int vde_helper_spawn(struct vde_helper_cfg *cfg, int keep_fd,
		     unsigned int timeout_ms, int *pid, char *msg, size_t len);

/* ---- backends (helper-uring.c, helper-pool.c) ---------------------------- */

/**
 * struct vde_qarg - argument of a queue thread
 * @h: the helper
 * @q: the hardware queue
 * @thread: the thread
 * @pool: the work queue (pool backend)
 */
struct vde_qarg {
	struct vde_helper *h;
	unsigned int q;
	pthread_t thread;
	struct vde_pool *pool;
};

/**
 * vde_uring_probe() - can this process use io_uring at all
 *
 * Return: 0, or the error of io_uring_queue_init() (-ENOSYS; -EPERM when
 * kernel.io_uring_disabled or seccomp forbid it...).
 */
int vde_uring_probe(void);

struct vde_uq;

/**
 * vde_uq_new() - the ring of one hardware queue
 * @h: the helper
 * @q: the queue
 * @out: the ring, with the backing files and the queue's tag buffers
 *	registered where the kernel allows it
 *
 * Context: the thread that will use the ring.
 * Return: 0 or a negative errno.
 */
int vde_uq_new(struct vde_helper *h, unsigned int q, struct vde_uq **out);

/**
 * vde_uq_free() - close a queue's ring
 * @u: the ring, or NULL
 */
void vde_uq_free(struct vde_uq *u);

/**
 * vde_uq_serve_local() - serve requests without /dev/vdecN
 * @u: the ring
 * @tags: tags whose descriptors hold requests
 * @n: entries at @tags
 * @results: set, by tag, to each request's result instead of committing
 *	it
 *
 * Runs the requests through the same io_uring path as the queue thread
 * does; for tests.
 *
 * Return: 0 or the error of io_uring_submit_and_wait().
 */
int vde_uq_serve_local(struct vde_uq *u, const unsigned int *tags,
		       unsigned int n, int32_t *results);

/**
 * vde_uring_queue_thread() - the io_uring thread of one hardware queue
 * @arg: a struct vde_qarg
 *
 * Return: NULL.
 */
void *vde_uring_queue_thread(void *arg);

/**
 * vde_pool_new() - the work queue of a thread pool
 * @h: the helper; its @commit completes the requests
 * @out: the pool
 *
 * Return: 0 or -ENOMEM.
 */
int vde_pool_new(struct vde_helper *h, struct vde_pool **out);

/**
 * vde_pool_free() - free a pool whose workers have returned
 * @p: the pool, or NULL
 */
void vde_pool_free(struct vde_pool *p);

/**
 * vde_pool_push() - queue a published tag for a worker
 * @p: the pool
 * @q: hardware queue
 * @tag: tag
 */
void vde_pool_push(struct vde_pool *p, unsigned int q, unsigned int tag);

/**
 * vde_pool_stop() - make the workers return once the queue is empty
 * @p: the pool
 */
void vde_pool_stop(struct vde_pool *p);

/**
 * vde_pool_worker() - a worker: serve queued tags until stopped
 * @arg: the pool
 *
 * Each tag's request is served with vde_req_serve() on the tag's buffer
 * and completed with the helper's @commit.
 *
 * Return: NULL.
 */
void *vde_pool_worker(void *arg);

/**
 * vde_pool_queue_thread() - the VDE_RING_WAIT thread of one hardware queue
 * @arg: a struct vde_qarg
 *
 * Return: NULL.
 */
void *vde_pool_queue_thread(void *arg);

/**
 * vde_pool_commit_ioctl() - commit one result with VDE_RING_COMMIT
 * @h: the helper
 * @q: hardware queue
 * @tag: tag
 * @result: nr_bytes or a negative errno
 *
 * The default &vde_commit_fn.
 *
 * Return: 0 or a negative errno.
 */
int vde_pool_commit_ioctl(struct vde_helper *h, unsigned int q,
			  unsigned int tag, int32_t result);

/**
 * vde_pool_workers() - how many workers to start
 * @h: the helper
 *
 * Return: twice the online CPUs, at least 4, at most 64 and at most the
 * number of tags.
 */
unsigned int vde_pool_workers(const struct vde_helper *h);

#endif /* VDE_HELPER_H */
