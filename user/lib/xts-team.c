// SPDX-License-Identifier: GPL-2.0
/*
 * vde: a team of threads that share large AES-XTS jobs with their caller.
 *
 * One queue thread of the helper serves every request its hardware queue
 * receives, and a single submitter lands all its I/O on one queue, so the
 * cipher of large requests would otherwise run on one CPU while dm-crypt
 * spreads it over all of them.  A request of at least VDE_TEAM_MIN bytes
 * is cut into whole 4 KiB data units: the caller keeps the first part and
 * hands the others to the team, then waits for them, running queued parts
 * (its own or another caller's) while it waits.
 *
 * The team also runs whole jobs (vde_xts_team_queue()): the io_uring
 * queue threads hand it the cipher work of requests, so that they keep
 * submitting and completing I/O while the team encrypts and decrypts.  A
 * job may cut its buffer into parts like any caller; parts go before
 * jobs, and waiters run only parts, so a team whose every thread runs a
 * job still finishes them.
 *
 * Parts only pay when team threads would otherwise be idle: while parts
 * or jobs are queued, every thread has work, and cutting a buffer would
 * only add hand-overs (a wake-up each, and a wait for the slowest part).
 * A call made then does all its work in the calling thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "crypto.h"
#include "xts-team.h"

#define VDE_TEAM_MIN	(64 * 1024)
#define VDE_TEAM_PART	(32 * 1024)
#define VDE_TEAM_QUEUE	64

/* One call of vde_xts_team_crypt(): parts still running, first error. */
struct team_call {
	unsigned int left;
	int err;
};

struct team_job {
	struct team_call *call;
	uint64_t off;
	uint8_t *buf;
	size_t len;
	bool encrypt;
};

struct vde_xts_team {
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t done;
	struct team_job jobs[VDE_TEAM_QUEUE];
	unsigned int head;
	unsigned int count;
	struct vde_team_work *work_head;
	struct vde_team_work **work_tail;
	bool stop;
	unsigned long parts;
	unsigned int nr_threads;
	pthread_t *threads;
	struct vde_xts **x;
};

static int job_run(struct vde_xts *x, const struct team_job *j)
{
	if (j->encrypt)
		return vde_xts_encrypt(x, j->off, j->buf, j->buf, j->len);
	return vde_xts_decrypt(x, j->off, j->buf, j->buf, j->len);
}

struct team_arg {
	struct vde_xts_team *t;
	struct vde_xts *x;
};

/* Run the oldest queued part and account it to its call; t->lock held. */
static void part_run(struct vde_xts_team *t, struct vde_xts *x)
{
	struct team_job j = t->jobs[t->head];
	int ret;

	t->head = (t->head + 1) % VDE_TEAM_QUEUE;
	t->count--;
	pthread_mutex_unlock(&t->lock);
	ret = job_run(x, &j);
	pthread_mutex_lock(&t->lock);
	if (ret && !j.call->err)
		j.call->err = ret;
	if (!--j.call->left)
		pthread_cond_broadcast(&t->done);
}

static void *team_thread(void *arg)
{
	struct vde_xts_team *t = ((struct team_arg *)arg)->t;
	struct vde_xts *x = ((struct team_arg *)arg)->x;
	struct vde_team_work *w;

	free(arg);
	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (!t->count && !t->work_head && !t->stop)
			pthread_cond_wait(&t->work, &t->lock);
		if (t->count) {
			part_run(t, x);
			continue;
		}
		w = t->work_head;
		if (!w)
			break;
		t->work_head = w->next;
		if (!t->work_head)
			t->work_tail = &t->work_head;
		pthread_mutex_unlock(&t->lock);
		w->fn(w, x);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

void vde_xts_team_queue(struct vde_xts_team *t, struct vde_team_work *w)
{
	w->next = NULL;
	pthread_mutex_lock(&t->lock);
	*t->work_tail = w;
	t->work_tail = &w->next;
	pthread_cond_signal(&t->work);
	pthread_mutex_unlock(&t->lock);
}

unsigned int vde_xts_team_size(const struct vde_xts_team *t)
{
	return t ? t->nr_threads : 0;
}

unsigned long vde_xts_team_parts(struct vde_xts_team *t)
{
	unsigned long n;

	pthread_mutex_lock(&t->lock);
	n = t->parts;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int vde_xts_team_new(const uint8_t key[VDE_XTS_KEY_SIZE], unsigned int nr,
		     struct vde_xts_team **out)
{
	struct vde_xts_team *t;
	int ret = -ENOMEM;

	*out = NULL;
	if (!nr)
		return 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->work, NULL);
	pthread_cond_init(&t->done, NULL);
	t->work_tail = &t->work_head;
	t->threads = calloc(nr, sizeof(*t->threads));
	t->x = calloc(nr, sizeof(*t->x));
	if (!t->threads || !t->x)
		goto out_free;
	for (; t->nr_threads < nr; t->nr_threads++) {
		struct team_arg *a = malloc(sizeof(*a));
		unsigned int i = t->nr_threads;

		if (!a)
			goto out_free;
		ret = vde_xts_new(key, &t->x[i]);
		if (!ret) {
			a->t = t;
			a->x = t->x[i];
			ret = -pthread_create(&t->threads[i], NULL, team_thread, a);
		}
		if (ret) {
			vde_xts_free(t->x[i]);
			t->x[i] = NULL;
			free(a);
			goto out_free;
		}
	}
	*out = t;
	return 0;

out_free:
	vde_xts_team_free(t);
	return ret;
}

void vde_xts_team_free(struct vde_xts_team *t)
{
	unsigned int i;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);
	for (i = 0; i < t->nr_threads; i++)
		pthread_join(t->threads[i], NULL);
	for (i = 0; t->x && i < t->nr_threads; i++)
		vde_xts_free(t->x[i]);
	pthread_cond_destroy(&t->done);
	pthread_cond_destroy(&t->work);
	pthread_mutex_destroy(&t->lock);
	free(t->threads);
	free(t->x);
	free(t);
}

int vde_xts_team_crypt(struct vde_xts_team *t, struct vde_xts *x,
		       uint64_t off, uint8_t *buf, size_t len, bool encrypt)
{
	struct team_call call = { 0 };
	struct team_job first = {
		.off = off, .buf = buf, .len = len, .encrypt = encrypt,
	};
	size_t units, per, done;
	unsigned int parts;
	int ret;

	if (!t || len < VDE_TEAM_MIN || ((off | len) & (VDE_XTS_UNIT_SIZE - 1)))
		return job_run(x, &first);
	parts = len / VDE_TEAM_PART;
	if (parts > t->nr_threads + 1)
		parts = t->nr_threads + 1;
	units = len / VDE_XTS_UNIT_SIZE;
	per = (units + parts - 1) / parts * VDE_XTS_UNIT_SIZE;
	first.len = per;

	pthread_mutex_lock(&t->lock);
	if (t->count || t->work_head) {
		pthread_mutex_unlock(&t->lock);
		first.len = len;
		return job_run(x, &first);
	}
	for (done = per; done < len && t->count < VDE_TEAM_QUEUE; done += per) {
		struct team_job *j = &t->jobs[(t->head + t->count) % VDE_TEAM_QUEUE];

		*j = (struct team_job){
			.call = &call, .off = off + done, .buf = buf + done,
			.len = len - done < per ? len - done : per,
			.encrypt = encrypt,
		};
		t->count++;
		t->parts++;
		call.left++;
	}
	pthread_cond_broadcast(&t->work);
	pthread_mutex_unlock(&t->lock);

	/* The first part, and whatever did not fit the queue, is ours. */
	ret = job_run(x, &first);
	if (!ret && done < len) {
		struct team_job rest = {
			.off = off + done, .buf = buf + done, .len = len - done,
			.encrypt = encrypt,
		};

		ret = job_run(x, &rest);
	}
	pthread_mutex_lock(&t->lock);
	while (call.left) {
		if (t->count)
			part_run(t, x);
		else
			pthread_cond_wait(&t->done, &t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return ret ? ret : call.err;
}
