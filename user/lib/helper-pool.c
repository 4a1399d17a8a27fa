// SPDX-License-Identifier: GPL-2.0
/*
 * libvde helper: the fallback backend, for systems where io_uring is
 * disabled (kernel.io_uring_disabled, seccomp) or vde.ko lacks the
 * io_uring commands.
 *
 * One thread per hardware queue arms the queue and waits for published
 * tags with VDE_RING_WAIT; it queues them for a pool of worker threads,
 * which serve each request with pread/pwrite on the tag's buffer and
 * complete it with VDE_RING_COMMIT (which any thread of the helper may
 * issue).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "helper.h"

/*
 * struct vde_pool - the work queue shared by the workers
 * @h: the helper
 * @lock: protects everything below
 * @cond: signalled when work is queued or the pool stops
 * @items: ring of (queue << 16 | tag) entries, one per tag at most
 * @cap: size of @items: every tag of every queue
 * @head: first queued entry
 * @count: entries queued
 * @stop: return once @count is 0
 */
struct vde_pool {
	struct vde_helper *h;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t *items;
	unsigned int cap;
	unsigned int head;
	unsigned int count;
	bool stop;
};

int vde_pool_new(struct vde_helper *h, struct vde_pool **out)
{
	struct vde_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->h = h;
	p->cap = h->nr_queues * h->depth;
	p->items = calloc(p->cap, sizeof(*p->items));
	if (!p->items) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	*out = p;
	return 0;
}

void vde_pool_free(struct vde_pool *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->items);
	free(p);
}

void vde_pool_push(struct vde_pool *p, unsigned int q, unsigned int tag)
{
	pthread_mutex_lock(&p->lock);
	/* A tag is published again only after its commit: never full. */
	if (p->count < p->cap) {
		p->items[(p->head + p->count) % p->cap] = q << 16 | tag;
		p->count++;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
}

void vde_pool_stop(struct vde_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static bool pool_pop(struct vde_pool *p, unsigned int *q, unsigned int *tag)
{
	uint32_t item;

	pthread_mutex_lock(&p->lock);
	while (!p->count && !p->stop)
		pthread_cond_wait(&p->cond, &p->lock);
	if (!p->count) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	item = p->items[p->head];
	p->head = (p->head + 1) % p->cap;
	p->count--;
	pthread_mutex_unlock(&p->lock);
	*q = item >> 16;
	*tag = item & 0xffff;
	return true;
}

void *vde_pool_worker(void *arg)
{
	struct vde_pool *p = arg;
	struct vde_helper *h = p->h;
	struct vde_io_desc d;
	struct vde_xts *x;
	unsigned int q, tag;
	int32_t res;
	int ret;

	/* Without a cipher, encrypted requests fail with -ENOKEY. */
	if (vde_helper_cipher(h, &x))
		vde_hlog(LOG_ERR, "/dev/vde%d: no cipher for a worker thread",
			 h->index);
	while (pool_pop(p, &q, &tag)) {
		d = h->desc[q][tag];
		res = vde_req_serve(&h->geom, x, h->fd_direct, h->fd, &d,
				    vde_helper_buf(h, q, tag));
		ret = h->commit(h, q, tag, res);
		if (ret && ret != -ENODEV && !atomic_load(&h->stop))
			vde_hlog(LOG_ERR, "/dev/vde%d: queue %u tag %u: commit refused: %s",
				 h->index, q, tag, strerror(-ret));
	}
	vde_xts_free(x);
	return NULL;
}

/* Issue VDE_RING_WAIT or VDE_RING_COMMIT; -errno on failure. */
static int ring_ioctl(int fd, unsigned long cmd, struct vde_ring_batch *b)
{
	int ret;

	do {
		ret = ioctl(fd, cmd, b);
	} while (ret < 0 && errno == EINTR && cmd == VDE_RING_COMMIT);
	return ret < 0 ? -errno : 0;
}

int vde_pool_commit_ioctl(struct vde_helper *h, unsigned int q,
			  unsigned int tag, int32_t result)
{
	struct vde_ring_commit c = { .tag = (uint16_t)tag, .result = result };
	struct vde_ring_batch b = {
		.size = sizeof(b),
		.q_id = (uint16_t)q,
		.nr_commits = 1,
		.commits = (uintptr_t)&c,
	};

	return ring_ioctl(h->ring_fd, VDE_RING_COMMIT, &b);
}

unsigned int vde_pool_workers(const struct vde_helper *h)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n = cpus > 0 ? 2 * (unsigned int)cpus : 4;

	if (n < 4)
		n = 4;
	if (n > 64)
		n = 64;
	if (n > h->nr_queues * h->depth)
		n = h->nr_queues * h->depth;
	return n;
}

/* Arm (the first call, with VDE_RING_WAIT_NOWAIT), then wait for tags. */
static int pool_wait(struct vde_helper *h, unsigned int q, uint16_t *tags,
		     uint16_t flags)
{
	struct vde_ring_batch b = {
		.size = sizeof(b),
		.q_id = (uint16_t)q,
		.flags = flags,
		.max_tags = h->depth,
		.tags = (uintptr_t)tags,
	};
	int ret = ring_ioctl(h->ring_fd, VDE_RING_WAIT, &b);

	return ret ? ret : (int)b.nr_tags;
}

static int pool_serve_queue(struct vde_qarg *a, uint16_t *tags)
{
	struct vde_helper *h = a->h;
	int i, n;

	n = pool_wait(h, a->q, tags, VDE_RING_WAIT_NOWAIT);
	vde_helper_report(h, a->q, n < 0 ? n : 0);
	while (n >= 0 || n == -EINTR) {
		for (i = 0; i < n; i++)
			vde_pool_push(a->pool, a->q, tags[i]);
		if (atomic_load(&h->stop))
			return 0;
		n = pool_wait(h, a->q, tags, 0);
	}
	return n;
}

void *vde_pool_queue_thread(void *arg)
{
	struct vde_qarg *a = arg;
	struct vde_helper *h = a->h;
	uint16_t *tags;
	int ret;

	vde_helper_wakeable();
	tags = calloc(h->depth, sizeof(*tags));
	if (!tags) {
		vde_helper_report(h, a->q, -ENOMEM);
		ret = -ENOMEM;
	} else {
		ret = pool_serve_queue(a, tags);
	}
	free(tags);
	vde_helper_exit(h, a->q, ret);
	return NULL;
}
