// SPDX-License-Identifier: GPL-2.0
/*
 * libvde helper: the io_uring backend.
 *
 * Each hardware queue has its own thread and ring.  The thread arms every
 * tag with a VDE_RING_FETCH command; when one completes, the request in
 * the tag's descriptor is served with READ_FIXED / WRITE_FIXED (and
 * FSYNC, FALLOCATE) straight into the tag's buffer, registered as fixed
 * buffer number tag, on the registered backing file, then completed and
 * re-armed with one VDE_RING_COMMIT_AND_FETCH.  Everything a loop
 * iteration prepares goes to the kernel with one io_uring_submit_and_wait().
 *
 * With a key and a cipher team (more than one CPU), the cipher work of a
 * request (encrypting a new write, decrypting a finished read) is a job
 * for the team, so that the queue thread goes on fetching, submitting and
 * committing meanwhile: it serves the I/O of a queue while the team keeps
 * every CPU on the cipher.  A small request whose queue has nothing else
 * to do (4 KiB at queue depth 1) keeps its cipher work in the queue
 * thread: the two thread wake-ups would cost more than they save.  A
 * finished job puts its tag on the queue's done list and, if the list was
 * empty, writes the queue's eventfd, which the ring always has a read
 * armed on.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <liburing.h>

#include "helper.h"

/* user_data: the kind of operation in bits 32-39, the tag below. */
#define UQ_CMD		(1ULL << 32)
#define UQ_IO		(2ULL << 32)
#define UQ_EVENT	(3ULL << 32)
#define UQ_KIND_MASK	(0xffULL << 32)
#define UQ_TAG_MASK	0xffffULL

_Static_assert(offsetof(struct io_uring_sqe, cmd) + sizeof(struct vde_ring_cmd) <=
	       sizeof(struct io_uring_sqe), "the command fits a 64-byte SQE");

/*
 * struct vde_uq - one queue's ring
 * @h: the helper
 * @q: the hardware queue
 * @ring: its ring
 * @x: the thread's cipher, or NULL
 * @reqs: the request of each tag
 * @file_direct: file of the O_DIRECT backing descriptor in SQEs
 * @file: file of the buffered backing descriptor in SQEs
 * @fixed_files: @file_direct and @file are indices of registered files
 * @fixed_bufs: the tag buffers are registered
 * @io_inflight: backing-file operations submitted and not completed
 * @gone: a command failed: the device or the helper is gone
 * @err: the first error other than -ENODEV
 * @results: serving local requests: their results, by tag, instead of
 *	COMMIT_AND_FETCH commands
 * @pending: serving local requests: requests not finished
 * @later: completions whose handling runs the cipher, put off in uq_reap()
 * @nr_later: entries at @later
 * @where: where the cipher work of each entry at @later runs (UQ_HERE...)
 * @jobs: the cipher job of each tag
 * @efd: eventfd the team writes when @done goes from empty to not, or -1
 *	if there is no team to hand cipher work to
 * @event: what the armed eventfd read reads
 * @done_lock: protects @done and @nr_done
 * @done: tags whose cipher job has finished
 * @nr_done: entries at @done
 * @taken: @done as the queue thread took it
 * @nr_jobs: tags handed to the team and not taken back
 * @nr_groups: the shares small cipher work of a batch is cut into: one
 *	for the queue thread, one for each team thread
 * @group: the first tag of each team share being gathered, or UQ_NO_TAG
 */
struct vde_uq {
	struct vde_helper *h;
	unsigned int q;
	struct io_uring ring;
	struct vde_xts *x;
	struct vde_req *reqs;
	int file_direct;
	int file;
	bool fixed_files;
	bool fixed_bufs;
	unsigned int io_inflight;
	bool gone;
	int err;
	int32_t *results;
	unsigned int pending;
	struct io_uring_cqe *later;
	unsigned int nr_later;
	unsigned int *where;
	struct uq_job *jobs;
	int efd;
	uint64_t event;
	pthread_mutex_t done_lock;
	unsigned int *done;
	unsigned int nr_done;
	unsigned int *taken;
	unsigned int nr_jobs;
	unsigned int nr_groups;
	unsigned int *group;
};

/*
 * struct uq_job - the cipher work of one tag's request, run by the team
 * @w: the team's job
 * @u: the queue
 * @tag: the tag
 * @next: the next tag whose work the same team job does, or UQ_NO_TAG
 * @more: what vde_req_next() returned
 */
struct uq_job {
	struct vde_team_work w;
	struct vde_uq *u;
	unsigned int tag;
	unsigned int next;
	bool more;
};

#define UQ_NO_TAG	(~0U)

/*
 * Where the cipher work of a request runs: in the queue thread, as a team
 * job of its own, or in share UQ_GROUP + i of a batch's small requests,
 * which one team job does.
 */
enum {
	UQ_HERE,
	UQ_TEAM,
	UQ_GROUP,
};

int vde_uring_probe(void)
{
	struct io_uring ring;
	int ret = io_uring_queue_init(2, &ring, 0);

	if (!ret)
		io_uring_queue_exit(&ring);
	return ret;
}

/* The cheapest task-work mode the kernel knows, down to none. */
static int uq_ring_init(struct io_uring *ring, unsigned int entries)
{
	static const unsigned int modes[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	unsigned int i;
	int ret = -EINVAL;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]) && ret == -EINVAL; i++)
		ret = io_uring_queue_init(entries, ring, modes[i]);
	return ret;
}

static void uq_register(struct vde_uq *u)
{
	struct vde_helper *h = u->h;
	int files[2], n = 0;
	struct iovec *iov;
	unsigned int t;

	if (h->fd_direct >= 0)
		files[n++] = h->fd_direct;
	files[n++] = h->fd;
	u->file_direct = h->fd_direct;
	u->file = h->fd;
	if (!io_uring_register_files(&u->ring, files, n)) {
		u->fixed_files = true;
		u->file_direct = 0;
		u->file = n - 1;
	}

	iov = calloc(h->depth, sizeof(*iov));
	if (!iov)
		return;
	for (t = 0; t < h->depth; t++) {
		iov[t].iov_base = vde_helper_buf(h, u->q, t);
		iov[t].iov_len = h->geom.buf_size;
	}
	t = (unsigned int)-io_uring_register_buffers(&u->ring, iov, h->depth);
	u->fixed_bufs = !t;
	if (t && !u->q)
		vde_hlog(LOG_WARNING, "/dev/vde%d: cannot register the tag buffers with io_uring (%s): using unregistered buffers",
			 h->index, strerror((int)t));
	free(iov);
}

static void uq_job_fn(struct vde_team_work *w, struct vde_xts *x);
static void uq_arm_event(struct vde_uq *u);

/* Cipher jobs and their done list, if there is a team to run them. */
static int uq_jobs_new(struct vde_uq *u)
{
	struct vde_helper *h = u->h;
	unsigned int t;

	if (!h->geom.team || !h->key)
		return 0;
	u->jobs = calloc(h->depth, sizeof(*u->jobs));
	u->done = calloc(h->depth, sizeof(*u->done));
	u->taken = calloc(h->depth, sizeof(*u->taken));
	u->nr_groups = vde_xts_team_size(h->geom.team) + 1;
	u->group = calloc(u->nr_groups, sizeof(*u->group));
	if (!u->jobs || !u->done || !u->taken || !u->group)
		return -ENOMEM;
	for (t = 0; t < u->nr_groups; t++)
		u->group[t] = UQ_NO_TAG;
	for (t = 0; t < h->depth; t++) {
		u->jobs[t].w.fn = uq_job_fn;
		u->jobs[t].u = u;
		u->jobs[t].tag = t;
	}
	u->efd = eventfd(0, EFD_CLOEXEC);
	return u->efd < 0 ? -errno : 0;
}

static void uq_jobs_free(struct vde_uq *u)
{
	if (u->efd >= 0)
		close(u->efd);
	pthread_mutex_destroy(&u->done_lock);
	free(u->group);
	free(u->taken);
	free(u->done);
	free(u->jobs);
}

int vde_uq_new(struct vde_helper *h, unsigned int q, struct vde_uq **out)
{
	struct vde_uq *u = calloc(1, sizeof(*u));
	int ret = -ENOMEM;

	if (!u)
		return -ENOMEM;
	u->h = h;
	u->q = q;
	u->efd = -1;
	pthread_mutex_init(&u->done_lock, NULL);
	u->reqs = calloc(h->depth, sizeof(*u->reqs));
	u->later = calloc(h->depth, sizeof(*u->later));
	u->where = calloc(h->depth, sizeof(*u->where));
	if (!u->reqs || !u->later || !u->where)
		goto out_free;
	ret = uq_jobs_new(u);
	if (ret)
		goto out_free;
	ret = vde_helper_cipher(h, &u->x);
	if (ret)
		goto out_free;
	ret = uq_ring_init(&u->ring, h->depth);
	if (ret)
		goto out_free;
	uq_register(u);
	uq_arm_event(u);
	*out = u;
	return 0;

out_free:
	uq_jobs_free(u);
	vde_xts_free(u->x);
	free(u->where);
	free(u->later);
	free(u->reqs);
	free(u);
	return ret;
}

void vde_uq_free(struct vde_uq *u)
{
	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	uq_jobs_free(u);
	vde_xts_free(u->x);
	free(u->where);
	free(u->later);
	free(u->reqs);
	free(u);
}

/* An SQE, flushing the submission queue to the kernel if it is full. */
static struct io_uring_sqe *uq_sqe(struct vde_uq *u)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&u->ring)))
		io_uring_submit(&u->ring);
	return sqe;
}

static void uq_prep_cmd(struct vde_uq *u, unsigned int tag, uint32_t op,
			int32_t result)
{
	struct vde_ring_cmd c = {
		.q_id = (uint16_t)u->q,
		.tag = (uint16_t)tag,
		.result = result,
	};
	struct io_uring_sqe *sqe = uq_sqe(u);

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = u->h->ring_fd;
	sqe->cmd_op = op;
	memcpy((uint8_t *)sqe + offsetof(struct io_uring_sqe, cmd), &c, sizeof(c));
	io_uring_sqe_set_data64(sqe, UQ_CMD | tag);
}

static void uq_prep_rw(struct vde_uq *u, struct io_uring_sqe *sqe, int fd,
		       const struct vde_step *s, unsigned int tag)
{
	bool rd = s->op == VDE_STEP_READ;
	bool fixed = u->fixed_bufs && !s->own_buf;

	if (fixed && rd)
		io_uring_prep_read_fixed(sqe, fd, s->buf, s->len, s->off, tag);
	else if (fixed)
		io_uring_prep_write_fixed(sqe, fd, s->buf, s->len, s->off, tag);
	else if (rd)
		io_uring_prep_read(sqe, fd, s->buf, s->len, s->off);
	else
		io_uring_prep_write(sqe, fd, s->buf, s->len, s->off);
	sqe->rw_flags = s->dsync ? RWF_DSYNC : 0;
}

/* How long a request waits for a partial unit another write holds. */
static struct __kernel_timespec uq_wait = { .tv_nsec = 20000 };

static void uq_prep_io(struct vde_uq *u, unsigned int tag)
{
	const struct vde_step *s = &u->reqs[tag].step;
	struct io_uring_sqe *sqe = uq_sqe(u);
	int fd = s->direct && u->h->fd_direct >= 0 ? u->file_direct : u->file;

	switch (s->op) {
	case VDE_STEP_READ:
	case VDE_STEP_WRITE:
		uq_prep_rw(u, sqe, fd, s, tag);
		break;
	case VDE_STEP_WAIT:
		io_uring_prep_timeout(sqe, &uq_wait, 0, 0);
		io_uring_sqe_set_data64(sqe, UQ_IO | tag);
		u->io_inflight++;
		return;
	case VDE_STEP_FSYNC:
		io_uring_prep_fsync(sqe, u->file,
				    s->dsync ? IORING_FSYNC_DATASYNC : 0);
		break;
	default:
		io_uring_prep_fallocate(sqe, u->file, s->mode, (off_t)s->off,
					(off_t)s->len);
		break;
	}
	if (u->fixed_files)
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, UQ_IO | tag);
	u->io_inflight++;
}

/* Submit the step vde_req_next() set for a tag, or complete the request. */
static void uq_step(struct vde_uq *u, unsigned int tag, bool more)
{
	struct vde_req *r = &u->reqs[tag];

	if (more) {
		uq_prep_io(u, tag);
	} else if (u->results) {
		u->results[tag] = r->result;
		u->pending--;
	} else {
		uq_prep_cmd(u, tag, VDE_RING_COMMIT_AND_FETCH, r->result);
	}
}

/*
 * Team thread: the cipher work of a tag's request, or of each request of
 * a group, then the done list.
 */
static void uq_job_fn(struct vde_team_work *w, struct vde_xts *x)
{
	struct uq_job *j = (struct uq_job *)w;
	struct vde_uq *u = j->u;
	unsigned int tag;
	bool first;

	for (tag = j->tag; tag != UQ_NO_TAG; tag = u->jobs[tag].next)
		u->jobs[tag].more = vde_req_next(&u->h->geom, x, &u->reqs[tag]);
	pthread_mutex_lock(&u->done_lock);
	first = !u->nr_done;
	for (tag = j->tag; tag != UQ_NO_TAG; tag = u->jobs[tag].next)
		u->done[u->nr_done++] = tag;
	pthread_mutex_unlock(&u->done_lock);
	if (first)
		eventfd_write(u->efd, 1);
}

/* Keep a read armed on the eventfd of the team's finished jobs. */
static void uq_arm_event(struct vde_uq *u)
{
	struct io_uring_sqe *sqe;

	if (u->efd < 0)
		return;
	sqe = uq_sqe(u);
	io_uring_prep_read(sqe, u->efd, &u->event, sizeof(u->event), 0);
	io_uring_sqe_set_data64(sqe, UQ_EVENT);
}

/* The team finished jobs: go on with their requests. */
static void uq_event(struct vde_uq *u, const struct io_uring_cqe *cqe)
{
	unsigned int i, n;

	pthread_mutex_lock(&u->done_lock);
	n = u->nr_done;
	memcpy(u->taken, u->done, n * sizeof(*u->taken));
	u->nr_done = 0;
	pthread_mutex_unlock(&u->done_lock);
	for (i = 0; i < n; i++) {
		u->io_inflight--;
		u->nr_jobs--;
		uq_step(u, u->taken[i], u->jobs[u->taken[i]].more);
	}
	if (cqe->res >= 0 || cqe->res == -EINTR || cqe->res == -EAGAIN)
		uq_arm_event(u);
}

/*
 * Go on with a tag's request: @where (UQ_HERE, UQ_TEAM, UQ_GROUP + i) the
 * next vde_req_next() runs, if it encrypts or decrypts; anything else
 * runs here.  Work for the team counts as I/O in flight until the queue
 * thread takes it back.
 */
static void uq_advance(struct vde_uq *u, unsigned int tag, unsigned int where)
{
	unsigned int g = where - UQ_GROUP;

	if (where == UQ_HERE || !u->jobs) {
		uq_step(u, tag, vde_req_next(&u->h->geom, u->x, &u->reqs[tag]));
		return;
	}
	u->io_inflight++;
	u->nr_jobs++;
	if (where == UQ_TEAM) {
		u->jobs[tag].next = UQ_NO_TAG;
		vde_xts_team_queue(u->h->geom.team, &u->jobs[tag].w);
		return;
	}
	/* Gathered; uq_groups_queue() hands the share to the team. */
	u->jobs[tag].next = u->group[g];
	u->group[g] = tag;
}

/* Hand each gathered share of small requests to the team as one job. */
static void uq_groups_queue(struct vde_uq *u)
{
	unsigned int g;

	for (g = 0; g < u->nr_groups; g++) {
		if (u->group[g] == UQ_NO_TAG)
			continue;
		vde_xts_team_queue(u->h->geom.team, &u->jobs[u->group[g]].w);
		u->group[g] = UQ_NO_TAG;
	}
}

static void uq_start(struct vde_uq *u, unsigned int tag, unsigned int where)
{
	struct vde_helper *h = u->h;

	vde_req_init(&u->reqs[tag], &h->desc[u->q][tag],
		     vde_helper_buf(h, u->q, tag));
	uq_advance(u, tag, where);
}

static void uq_cqe(struct vde_uq *u, const struct io_uring_cqe *cqe,
		   unsigned int where)
{
	unsigned int tag = (unsigned int)(cqe->user_data & UQ_TAG_MASK);
	uint64_t kind = cqe->user_data & UQ_KIND_MASK;

	if (kind == UQ_EVENT) {
		uq_event(u, cqe);
		return;
	}
	if (tag >= u->h->depth)
		return;
	if (kind == UQ_IO) {
		u->io_inflight--;
		vde_req_done(&u->reqs[tag], cqe->res);
		uq_advance(u, tag, where);
		return;
	}
	if (!cqe->res) {
		uq_start(u, tag, where);
		return;
	}
	if (cqe->res != -ENODEV && !u->err) {
		u->err = cqe->res;
		vde_hlog(LOG_ERR, "/dev/vdec%d: queue %u tag %u: command refused: %s",
			 u->h->index, u->q, tag, strerror(-cqe->res));
	}
	u->gone = true;
}

/*
 * Whether handling @cqe means running the cipher: a new write (encrypted
 * before it is written) or a finished read (decrypted before it is
 * committed), of a device with a key.
 */
static bool uq_cqe_costly(struct vde_uq *u, const struct io_uring_cqe *cqe)
{
	unsigned int tag = (unsigned int)(cqe->user_data & UQ_TAG_MASK);
	uint64_t kind = cqe->user_data & UQ_KIND_MASK;

	if (!u->x || tag >= u->h->depth || cqe->res < 0 || kind == UQ_EVENT)
		return false;
	if (kind == UQ_IO)
		return u->reqs[tag].step.op == VDE_STEP_READ;
	return u->h->desc[u->q][tag].op == VDE_IO_OP_WRITE;
}

/* Bytes of the request a costly completion goes on with. */
static uint32_t uq_cqe_bytes(struct vde_uq *u, const struct io_uring_cqe *cqe)
{
	unsigned int tag = (unsigned int)(cqe->user_data & UQ_TAG_MASK);

	if ((cqe->user_data & UQ_KIND_MASK) == UQ_IO)
		return u->reqs[tag].d.nr_bytes;
	return u->h->desc[u->q][tag].nr_bytes;
}

/*
 * Run the cipher work of a batch's costly completions.  A request of
 * offload_min bytes or more is a team job of its own.  Smaller ones stay
 * in this thread while they add up to less than offload_min: handing work
 * over costs two thread wake-ups, more than a few 4 KiB units of cipher.
 * Beyond that they are cut into shares of about equal bytes, one per team
 * thread and one for this thread, so that a whole share, not each request,
 * pays for the hand-over.  Team work is queued first, then this thread's
 * share runs, each request's next SQE submitted at once.
 */
static void uq_costly(struct vde_uq *u, const struct io_uring_cqe *cqes,
		      unsigned int n)
{
	unsigned int i, g, *where = u->where;
	uint64_t small = 0, acc = 0;
	uint32_t bytes;

	for (i = 0; u->jobs && i < n; i++) {
		bytes = uq_cqe_bytes(u, &cqes[i]);
		if (bytes < u->h->offload_min)
			small += bytes;
	}
	if (small < u->h->offload_min)
		small = 0;
	for (i = 0; i < n; i++) {
		where[i] = UQ_HERE;
		if (!u->jobs)
			continue;
		bytes = uq_cqe_bytes(u, &cqes[i]);
		if (bytes >= u->h->offload_min) {
			where[i] = UQ_TEAM;
		} else if (small) {
			g = (unsigned int)(acc * u->nr_groups / small);
			acc += bytes;
			if (g)
				where[i] = UQ_GROUP + g;
		}
		if (where[i] != UQ_HERE)
			uq_cqe(u, &cqes[i], where[i]);
	}
	uq_groups_queue(u);
	for (i = 0; i < n; i++) {
		if (where[i] != UQ_HERE)
			continue;
		io_uring_submit(&u->ring);
		uq_cqe(u, &cqes[i], UQ_HERE);
	}
}

/* Handle @cqe now, or keep it for uq_costly() if it runs the cipher. */
static void uq_sort(struct vde_uq *u, const struct io_uring_cqe *cqe)
{
	if (uq_cqe_costly(u, cqe))
		u->later[u->nr_later++] = *cqe;
	else
		uq_cqe(u, cqe, UQ_HERE);
}

/*
 * Handle the completions.  Those that cost only a new SQE go first and
 * their SQEs are submitted before any cipher work starts, so that the
 * backing file is busy while the cipher runs.
 */
static void uq_reap(struct vde_uq *u)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	u->nr_later = 0;
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		uq_sort(u, cqe);
		n++;
	}
	io_uring_cq_advance(&u->ring, n);
	uq_costly(u, u->later, u->nr_later);
}

/* Until told to stop or the device goes, and no I/O is in flight. */
static int uq_loop(struct vde_uq *u)
{
	int ret;

	for (;;) {
		if ((u->gone || atomic_load(&u->h->stop)) && !u->io_inflight)
			break;
		ret = io_uring_submit_and_wait(&u->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			vde_hlog(LOG_ERR, "/dev/vde%d: queue %u: io_uring_enter: %s",
				 u->h->index, u->q, strerror(-ret));
			return ret;
		}
		uq_reap(u);
	}
	/* Completions prepared last go out; nothing waits for them. */
	io_uring_submit(&u->ring);
	return u->err ? u->err : u->gone ? -ENODEV : 0;
}

/* Arm every tag; a FETCH the kernel refused at once fails the queue. */
static int uq_arm(struct vde_uq *u)
{
	struct io_uring_cqe *cqe;
	unsigned int tag, head;
	int ret;

	for (tag = 0; tag < u->h->depth; tag++)
		uq_prep_cmd(u, tag, VDE_RING_FETCH, 0);
	ret = io_uring_submit(&u->ring);
	if (ret < 0)
		return ret;
	io_uring_for_each_cqe(&u->ring, head, cqe)
		if ((cqe->user_data & UQ_KIND_MASK) == UQ_CMD && cqe->res < 0)
			return cqe->res;
	return 0;
}

int vde_uq_serve_local(struct vde_uq *u, const unsigned int *tags,
		       unsigned int n, int32_t *results)
{
	unsigned int i;
	int ret;

	u->results = results;
	u->pending = n;
	/* As if FETCH had completed on each tag, in one batch. */
	u->nr_later = 0;
	for (i = 0; i < n; i++) {
		struct io_uring_cqe c = { .user_data = UQ_CMD | tags[i] };

		uq_sort(u, &c);
	}
	uq_costly(u, u->later, u->nr_later);
	while (u->pending) {
		ret = io_uring_submit_and_wait(&u->ring, 1);
		if (ret < 0 && ret != -EINTR)
			return ret;
		uq_reap(u);
	}
	u->results = NULL;
	return 0;
}

void *vde_uring_queue_thread(void *arg)
{
	struct vde_qarg *a = arg;
	struct vde_uq *u = NULL;
	int ret;

	vde_helper_wakeable();
	ret = vde_uq_new(a->h, a->q, &u);
	if (!ret)
		ret = uq_arm(u);
	vde_helper_report(a->h, a->q, ret);
	if (!ret)
		ret = uq_loop(u);
	vde_uq_free(u);
	vde_helper_exit(a->h, a->q, ret);
	return NULL;
}
