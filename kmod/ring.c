// SPDX-License-Identifier: GPL-2.0
/*
 * vde: the helper data plane, /dev/vdecN.
 *
 * Requests that touch encrypted blocks (all requests, in via-helper mode)
 * are published to a userspace helper over per-queue descriptor arrays and
 * per-tag data buffers that the helper maps.  The helper is driven by
 * io_uring commands (FETCH, COMMIT_AND_FETCH) or by blocking ioctls (WAIT,
 * COMMIT).  See the "helper data plane" section of the uapi header for the
 * protocol; this file enforces it against a helper it does not trust.
 *
 * Each tag of a queue is FREE, ARMED, OWNED or ORPHAN (owned by the helper
 * after the block layer timed its request out).  A request waiting for its
 * tag to be armed is "parked" in &vde_ring_tag.rq.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blk-mq.h>
#include <linux/cdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/sched/task.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "vde.h"

static_assert(sizeof(struct vde_io_desc) * VDE_MAX_QUEUE_DEPTH ==
	      VDE_RING_DESC_STRIDE);
static_assert(sizeof(struct vde_ring_cmd) == 16);

/* Most data buffer memory one device may ask for (1 GiB). */
#define VDE_RING_MAX_TAGS	4096

enum vde_tag_state {
	VDE_TAG_FREE,
	VDE_TAG_ARMED,
	VDE_TAG_OWNED,
	VDE_TAG_ORPHAN,
};

enum vde_transport {
	VDE_TRANSPORT_NONE,
	VDE_TRANSPORT_URING,
	VDE_TRANSPORT_IOCTL,
};

/**
 * struct vde_ring_tag - helper state of one tag
 * @cmd: the armed FETCH, io_uring transport
 * @rq: the request published on the tag (OWNED) or parked on it
 * @seq: requests published on the tag
 * @state: &enum vde_tag_state
 */
struct vde_ring_tag {
	struct io_uring_cmd *cmd;
	struct request *rq;
	u64 seq;
	u8 state;
};

/**
 * struct vde_ring_queue - helper state of one hardware queue
 * @ring: the device's ring
 * @q_id: the hardware queue's index
 * @lock: protects everything below
 * @transport: &enum vde_transport of the attached helper
 * @task: the helper thread that armed the queue; holds a reference
 * @nr_fetched: FETCH commands since the helper attached
 * @descs: descriptor array, mapped read-only by the helper
 * @bufs: the data buffers in use; under @lock, or RCU for a write's copy
 * @copying: reads copying out of @bufs after @lock was dropped
 * @wait: ioctl transport: the helper thread waits here
 * @ready: ioctl transport: published tags not yet returned, a FIFO
 * @ready_head: index of the oldest entry of @ready
 * @ready_count: entries in @ready
 * @tags: per-tag state
 */
struct vde_ring_queue {
	struct vde_ring *ring;
	u16 q_id;
	spinlock_t lock;	/* protects the queue's helper state */
	u8 transport;
	struct task_struct *task;
	u32 nr_fetched;
	struct vde_io_desc *descs;
	struct vde_ring_bufs __rcu *bufs;
	atomic_t copying;
	wait_queue_head_t wait;
	u16 *ready;
	u32 ready_head;
	u32 ready_count;
	struct vde_ring_tag tags[];
};

/**
 * struct vde_ring_bufs - one generation of the data buffers
 * @shm: shmem file holding them, which helpers map
 * @pages: the pages of @shm, each holding a reference
 * @nr_pages: entries in @pages
 * @vaddr: kernel mapping of @pages
 * @gen: generation, from 1
 *
 * A lost helper may still have I/O in flight into its buffers (an O_DIRECT
 * read lands when the disk answers, after the process is gone), so the
 * next helper gets a new generation; the old pages are freed when the
 * last of that I/O lets go of them.
 */
struct vde_ring_bufs {
	struct file *shm;
	struct page **pages;
	unsigned long nr_pages;
	void *vaddr;
	u64 gen;
};

/**
 * struct vde_ring_file - an open file of /dev/vdecN
 * @vde: the device
 * @gen: generation of the data buffers last mapped through the file, or 0
 */
struct vde_ring_file {
	struct vde_device *vde;
	u64 gen;
};

/**
 * struct vde_ring - the helper data plane of a device
 * @vde: the device
 * @bufs_lock: serialises mapping and replacing the data buffers
 * @bufs: the data buffers in use, under @bufs_lock
 * @stale_bufs: a helper was lost since @bufs were last replaced: the next
 *	mapping replaces them, and no helper attaches before that
 * @buf_bytes: size of the data buffers
 * @hold: %VDE_DEV_HELPER_HOLD was given
 * @starting: the disk is being added: nothing is held
 * @stopping: the disk is going away: nothing is held any more
 * @dead: the device is gone: every helper command fails
 * @lost: a helper was attached and is gone
 * @open_count: openers of /dev/vdecN
 * @monitor: checks that helper threads are alive
 * @nr_queues: entries in @queues
 * @queues: per hardware queue state
 */
struct vde_ring {
	struct vde_device *vde;
	struct mutex bufs_lock;	/* protects @bufs, orders replacing them */
	struct vde_ring_bufs *bufs;
	bool stale_bufs;
	size_t buf_bytes;
	bool hold;
	bool starting;
	bool stopping;
	bool dead;
	bool lost;
	atomic_t open_count;
	struct delayed_work monitor;
	u32 nr_queues;
	struct vde_ring_queue *queues[];
};

/* Requests and io_uring commands to finish once the queue lock is dropped. */
struct vde_ring_done {
	atomic_t *copying;
	struct list_head rqs;
	struct list_head aborted;
	struct task_struct *put_task;
};

/* The driver's part of an io_uring command, while it is being aborted. */
struct vde_uring_pdu {
	struct list_head node;
};

static dev_t vde_ring_devt;
static struct class vde_ring_class = {
	.name = "vdec",
};

/*
 * Copy a request's data to or from its tag buffer.  Whole pages go by
 * copy_page(), which x86 runs as "rep movsq": as fast as memcpy()'s
 * "rep movsb" on hardware with fast strings, and several times faster where
 * the string instructions are emulated byte by byte (TCG).
 */
static void vde_ring_copy(struct request *rq, void *buf, bool to_buf)
{
	struct req_iterator iter;
	struct bio_vec bv;
	void *p;

	rq_for_each_segment(bv, rq, iter) {
		if (bv.bv_offset || bv.bv_len != PAGE_SIZE || !PAGE_ALIGNED(buf)) {
			if (to_buf)
				memcpy_from_bvec(buf, &bv);
			else
				memcpy_to_bvec(&bv, buf);
		} else {
			p = kmap_local_page(bv.bv_page);
			if (to_buf) {
				copy_page(buf, p);
			} else {
				copy_page(p, buf);
				flush_dcache_page(bv.bv_page);
			}
			kunmap_local(p);
		}
		buf += bv.bv_len;
	}
}

static void vde_done_init(struct vde_ring_done *done)
{
	done->copying = NULL;
	INIT_LIST_HEAD(&done->rqs);
	INIT_LIST_HEAD(&done->aborted);
	done->put_task = NULL;
}

static struct vde_uring_pdu *vde_cmd_pdu(struct io_uring_cmd *cmd)
{
	BUILD_BUG_ON(sizeof(struct vde_uring_pdu) > sizeof(cmd->pdu));
	return (struct vde_uring_pdu *)cmd->pdu;
}

static void vde_done_abort(struct vde_ring_done *done, struct io_uring_cmd *cmd)
{
	list_add_tail(&vde_cmd_pdu(cmd)->node, &done->aborted);
}

static void vde_done_rq(struct vde_ring_done *done, struct request *rq,
			long ret)
{
	struct vde_cmd *cmd = blk_mq_rq_to_pdu(rq);

	cmd->ret = ret;
	cmd->rbuf = NULL;
	list_add_tail(&cmd->node, &done->rqs);
}

/*
 * A read of @q collected by vde_done_rq() gets @buf's data before it
 * completes.  Counted in &vde_ring_queue.copying until then: the buffers
 * are not replaced under the copy.
 */
static void vde_done_rbuf(struct vde_ring_done *done, struct vde_ring_queue *q,
			  struct request *rq, void *buf)
{
	struct vde_cmd *cmd = blk_mq_rq_to_pdu(rq);

	atomic_inc(&q->copying);
	done->copying = &q->copying;
	cmd->rbuf = buf;
}

/* Finish what vde_done_rq() and friends collected; no lock held. */
static void vde_done_finish(struct vde_ring_done *done)
{
	struct vde_uring_pdu *pdu, *pnext;
	struct vde_cmd *cmd, *next;

	list_for_each_entry_safe(pdu, pnext, &done->aborted, node) {
		list_del(&pdu->node);
		io_uring_cmd_done(container_of((void *)pdu, struct io_uring_cmd,
					       pdu), -ENODEV, 0,
				  IO_URING_F_UNLOCKED);
	}
	list_for_each_entry_safe(cmd, next, &done->rqs, node) {
		list_del_init(&cmd->node);
		if (cmd->rbuf) {
			vde_ring_copy(blk_mq_rq_from_pdu(cmd), cmd->rbuf, false);
			if (atomic_dec_and_test(done->copying))
				wake_up_var(done->copying);
		}
		blk_mq_complete_request(blk_mq_rq_from_pdu(cmd));
	}
	if (done->put_task) {
		put_task_struct(done->put_task);
		done->put_task = NULL;
	}
}

static void *vde_bufs_tag(struct vde_ring_queue *q, struct vde_ring_bufs *b,
			  unsigned int tag)
{
	size_t slot = (size_t)q->q_id * q->ring->vde->queue_depth + tag;

	return b->vaddr + slot * VDE_RING_BUF_SIZE;
}

static struct vde_ring_bufs *vde_q_bufs(struct vde_ring_queue *q)
{
	return rcu_dereference_protected(q->bufs, lockdep_is_held(&q->lock));
}

static u8 vde_desc_op(struct request *rq)
{
	switch (req_op(rq)) {
	case REQ_OP_READ:
		return VDE_IO_OP_READ;
	case REQ_OP_WRITE:
		return VDE_IO_OP_WRITE;
	case REQ_OP_FLUSH:
		return VDE_IO_OP_FLUSH;
	case REQ_OP_DISCARD:
		return VDE_IO_OP_DISCARD;
	default:
		return VDE_IO_OP_WRITE_ZEROES;
	}
}

static bool vde_rq_has_data(struct request *rq)
{
	return req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE;
}

static void vde_ring_notify_tw(struct io_uring_cmd *cmd,
			       unsigned int issue_flags)
{
	io_uring_cmd_done(cmd, 0, 0, issue_flags);
}

/*
 * Hand the request parked on an ARMED tag to the helper: descriptor, data,
 * then the notification.
 */
static void vde_ring_publish(struct vde_ring_queue *q, unsigned int tag)
{
	struct vde_ring_tag *t = &q->tags[tag];
	struct request *rq = t->rq;
	struct vde_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct vde_io_desc *desc = &q->descs[tag];
	struct vde_ring_bufs *b = vde_q_bufs(q);
	u16 flags = 0;

	lockdep_assert_held(&q->lock);
	if (req_op(rq) == REQ_OP_WRITE && (rq->cmd_flags & REQ_FUA))
		flags |= VDE_IO_F_FUA;
	if (req_op(rq) == REQ_OP_WRITE_ZEROES && (rq->cmd_flags & REQ_NOUNMAP))
		flags |= VDE_IO_F_NOUNMAP;
	if (req_op(rq) == REQ_OP_WRITE && cmd->wgen != b->gen)
		vde_ring_copy(rq, vde_bufs_tag(q, b, tag), true);
	/* Published again after a lost helper, it is copied again. */
	cmd->wgen = 0;
	WRITE_ONCE(desc->op, vde_desc_op(rq));
	WRITE_ONCE(desc->reserved0, 0);
	WRITE_ONCE(desc->flags, flags);
	WRITE_ONCE(desc->nr_bytes, blk_rq_bytes(rq));
	WRITE_ONCE(desc->offset, (u64)blk_rq_pos(rq) << SECTOR_SHIFT);
	WRITE_ONCE(desc->seq, ++t->seq);
	WRITE_ONCE(desc->reserved, 0);
	WRITE_ONCE(t->state, VDE_TAG_OWNED);

	if (q->transport == VDE_TRANSPORT_URING) {
		struct io_uring_cmd *cmd = t->cmd;

		t->cmd = NULL;
		io_uring_cmd_complete_in_task(cmd, vde_ring_notify_tw);
	} else {
		u32 slot = (q->ready_head + q->ready_count) %
			   q->ring->vde->queue_depth;

		q->ready[slot] = tag;
		q->ready_count++;
		wake_up(&q->wait);
	}
}

/*
 * Whether requests without a helper wait for one.  Not while the disk is
 * being added: its partition scan runs under the control mutex and must
 * not wait for a helper that may never come.
 */
static bool vde_ring_holds(struct vde_ring *ring)
{
	return ring->hold && !READ_ONCE(ring->stopping) &&
	       !READ_ONCE(ring->starting);
}

/*
 * Reset a queue's helper state.  @detach: the helper is gone, free every
 * tag; its armed commands are aborted and the requests it owned are parked.
 * Then parked requests fail unless held; @fail_all fails them regardless.
 */
static void vde_ring_queue_reset(struct vde_ring_queue *q, bool detach,
				 bool fail_all, struct vde_ring_done *done)
{
	u32 depth = q->ring->vde->queue_depth;
	bool hold;
	u32 i;

	lockdep_assert_held(&q->lock);
	if (detach) {
		for (i = 0; i < depth; i++) {
			struct vde_ring_tag *t = &q->tags[i];

			if (t->cmd)
				vde_done_abort(done, t->cmd);
			t->cmd = NULL;
			WRITE_ONCE(t->state, VDE_TAG_FREE);
		}
		done->put_task = q->task;
		q->task = NULL;
		q->transport = VDE_TRANSPORT_NONE;
		q->nr_fetched = 0;
		q->ready_head = 0;
		q->ready_count = 0;
		wake_up_all(&q->wait);
	}
	hold = !fail_all && (q->task || vde_ring_holds(q->ring));
	for (i = 0; i < depth && !hold; i++) {
		struct vde_ring_tag *t = &q->tags[i];

		if (t->rq && t->state != VDE_TAG_OWNED) {
			vde_done_rq(done, t->rq, -EIO);
			t->rq = NULL;
		}
	}
}

/*
 * Reset every queue; see vde_ring_queue_reset().
 * Return: whether a helper was detached.
 */
static bool vde_ring_reset(struct vde_ring *ring, bool detach, bool fail_all)
{
	struct vde_ring_done done;
	bool detached = false;
	u32 i;

	vde_done_init(&done);
	for (i = 0; i < ring->nr_queues; i++) {
		struct vde_ring_queue *q = ring->queues[i];

		spin_lock_irq(&q->lock);
		if (detach && q->task) {
			WRITE_ONCE(ring->lost, true);
			WRITE_ONCE(ring->stale_bufs, true);
			detached = true;
		}
		vde_ring_queue_reset(q, detach, fail_all, &done);
		spin_unlock_irq(&q->lock);
		vde_done_finish(&done);
	}
	return detached;
}

static void vde_ring_lost(struct vde_ring *ring, const char *why)
{
	bool hold = vde_ring_holds(ring);

	if (vde_ring_reset(ring, true, false))
		pr_warn("vde%d: helper lost (%s); %s its requests\n",
			ring->vde->index, why, hold ? "holding" : "failing");
}

static void vde_ring_monitor(struct work_struct *work)
{
	struct vde_ring *ring = container_of(to_delayed_work(work),
					     struct vde_ring, monitor);
	bool attached = false, dying = false;
	u32 i;

	for (i = 0; i < ring->nr_queues; i++) {
		struct vde_ring_queue *q = ring->queues[i];

		spin_lock_irq(&q->lock);
		if (q->task) {
			attached = true;
			if (q->task->flags & PF_EXITING)
				dying = true;
		}
		spin_unlock_irq(&q->lock);
	}
	if (dying)
		vde_ring_lost(ring, "exited");
	else if (attached && !READ_ONCE(ring->dead))
		schedule_delayed_work(&ring->monitor,
				      msecs_to_jiffies(VDE_RING_MONITOR_MS));
}

/*
 * Make the current thread the helper of @q over @transport, or check that
 * it is.  io_uring commands must come from the thread that armed the
 * queue (they complete in its context); ioctls from its process.  A helper
 * attaches (@rf, the file it uses) only once it has mapped the data
 * buffers in use through that file.
 */
static int vde_ring_claim(struct vde_ring_queue *q, u8 transport,
			  const struct vde_ring_file *rf)
{
	lockdep_assert_held(&q->lock);
	if (q->ring->dead)
		return -ENODEV;
	if (q->task) {
		if (q->transport != transport ||
		    !same_thread_group(q->task, current))
			return -EBUSY;
		if (transport == VDE_TRANSPORT_URING && q->task != current)
			return -EINVAL;
		return 0;
	}
	if (!rf)
		return -EINVAL;
	if (READ_ONCE(q->ring->stale_bufs) ||
	    READ_ONCE(rf->gen) != vde_q_bufs(q)->gen)
		return -ESTALE;
	get_task_struct(current);
	q->task = current;
	q->transport = transport;
	q->nr_fetched = 0;
	schedule_delayed_work(&q->ring->monitor,
			      msecs_to_jiffies(VDE_RING_MONITOR_MS));
	return 0;
}

/* Arm a FREE tag; publish the request parked on it, if any. */
static void vde_ring_arm(struct vde_ring_queue *q, unsigned int tag,
			 struct io_uring_cmd *cmd)
{
	struct vde_ring_tag *t = &q->tags[tag];

	WRITE_ONCE(t->state, VDE_TAG_ARMED);
	t->cmd = cmd;
	if (t->rq)
		vde_ring_publish(q, tag);
}

/*
 * Apply the helper's result for an OWNED or ORPHAN tag and leave it FREE;
 * the caller arms it again.
 */
static int vde_ring_commit(struct vde_ring_queue *q, unsigned int tag,
			   s32 result, struct vde_ring_done *done)
{
	struct vde_ring_tag *t = &q->tags[tag];
	struct request *rq = t->rq;
	long ret;

	lockdep_assert_held(&q->lock);
	if (t->state == VDE_TAG_ORPHAN) {
		WRITE_ONCE(t->state, VDE_TAG_FREE);
		return 0;
	}
	if (t->state != VDE_TAG_OWNED)
		return -EINVAL;

	ret = result;
	if (ret < -MAX_ERRNO)
		ret = -EIO;
	else if (ret >= 0 && !vde_rq_has_data(rq))
		ret = 0;
	else if (ret >= blk_rq_bytes(rq))
		ret = blk_rq_bytes(rq);
	else if (ret >= 0)
		ret = -EIO;
	t->rq = NULL;
	WRITE_ONCE(t->state, VDE_TAG_FREE);
	vde_done_rq(done, rq, ret);
	/*
	 * The data is copied once the lock is dropped: the request is no
	 * longer on the tag, so nothing else completes it, and no other
	 * request uses the tag's buffer before it has completed.
	 */
	if (ret >= 0 && req_op(rq) == REQ_OP_READ)
		vde_done_rbuf(done, q, rq, vde_bufs_tag(q, vde_q_bufs(q), tag));
	return 0;
}

/**
 * vde_ring_queue_rq() - hand a request to the helper
 * @vde: the device
 * @hctx: the hardware queue
 * @rq: a started request that needs the helper
 *
 * The request is published if its tag is armed, parked if a helper is
 * attached or requests are held, and failed otherwise.
 *
 * Context: queue_rq; does not sleep.
 */
void vde_ring_queue_rq(struct vde_device *vde, struct blk_mq_hw_ctx *hctx,
		       struct request *rq)
{
	struct vde_ring *ring = vde->ring;
	struct vde_ring_queue *q = ring->queues[hctx->queue_num];
	struct vde_ring_tag *t = &q->tags[rq->tag];
	struct vde_cmd *cmd = blk_mq_rq_to_pdu(rq);
	unsigned long flags;
	bool fail = false;

	if (WARN_ON_ONCE(vde_rq_has_data(rq) &&
			 blk_rq_bytes(rq) > VDE_RING_BUF_SIZE)) {
		cmd->ret = -EIO;
		blk_mq_complete_request(rq);
		return;
	}
	/*
	 * A write's data goes to the tag buffer before the lock is taken,
	 * unless the helper still holds the buffer for the tag's previous
	 * request (ORPHAN: that request timed out).  Nothing else makes the
	 * tag ORPHAN while this request holds it, and the helper owns the
	 * buffer again only once the request is published.  If the buffers
	 * are replaced meanwhile, vde_ring_publish() copies again.
	 */
	cmd->wgen = 0;
	if (req_op(rq) == REQ_OP_WRITE &&
	    READ_ONCE(t->state) != VDE_TAG_ORPHAN) {
		struct vde_ring_bufs *b;

		rcu_read_lock();
		b = rcu_dereference(q->bufs);
		vde_ring_copy(rq, vde_bufs_tag(q, b, rq->tag), true);
		cmd->wgen = b->gen;
		rcu_read_unlock();
	}
	spin_lock_irqsave(&q->lock, flags);
	if (ring->dead || WARN_ON_ONCE(t->rq)) {
		fail = true;
	} else if (t->state == VDE_TAG_ARMED) {
		t->rq = rq;
		vde_ring_publish(q, rq->tag);
	} else if (q->task || vde_ring_holds(ring)) {
		t->rq = rq;
	} else {
		fail = true;
	}
	spin_unlock_irqrestore(&q->lock, flags);
	if (fail) {
		cmd->ret = -EIO;
		blk_mq_complete_request(rq);
	}
}

/**
 * vde_ring_timeout() - the block layer timed out a helper request
 * @vde: the device
 * @rq: the request
 *
 * A request the helper owns fails; its tag stays the helper's until it
 * commits.  A parked request fails too, unless requests are held and no
 * helper is attached.
 *
 * Context: the block layer's timeout work.
 * Return: %BLK_EH_DONE if the request was failed, else %BLK_EH_RESET_TIMER.
 */
enum blk_eh_timer_return vde_ring_timeout(struct vde_device *vde,
					  struct request *rq)
{
	struct vde_ring_queue *q = vde->ring->queues[rq->mq_hctx->queue_num];
	struct vde_ring_tag *t = &q->tags[rq->tag];
	struct vde_cmd *cmd = blk_mq_rq_to_pdu(rq);
	bool fail = false;

	spin_lock_irq(&q->lock);
	if (t->rq == rq && (q->task || !vde_ring_holds(vde->ring))) {
		if (t->state == VDE_TAG_OWNED)
			WRITE_ONCE(t->state, VDE_TAG_ORPHAN);
		t->rq = NULL;
		fail = true;
	}
	spin_unlock_irq(&q->lock);
	if (!fail)
		return BLK_EH_RESET_TIMER;
	pr_warn_ratelimited("vde%d: helper request on queue %u tag %u timed out\n",
			    vde->index, q->q_id, rq->tag);
	cmd->ret = -EIO;
	blk_mq_complete_request(rq);
	return BLK_EH_DONE;
}

static struct vde_ring *vde_file_ring(struct file *file)
{
	struct vde_ring_file *rf = file->private_data;

	return rf->vde->ring;
}

static int vde_ring_uring_cmd(struct io_uring_cmd *ioucmd,
			      unsigned int issue_flags)
{
	const struct vde_ring_cmd *ucmd = vde_uring_cmd_payload(ioucmd);
	const struct vde_ring_file *rf = ioucmd->file->private_data;
	struct vde_ring *ring = vde_file_ring(ioucmd->file);
	u32 op = ioucmd->cmd_op, depth = ring->vde->queue_depth;
	u16 q_id = READ_ONCE(ucmd->q_id), tag = READ_ONCE(ucmd->tag);
	s32 result = READ_ONCE(ucmd->result);
	struct vde_ring_done done;
	struct vde_ring_queue *q;
	int ret;

	if (op != VDE_RING_FETCH && op != VDE_RING_COMMIT_AND_FETCH)
		return -EINVAL;
	if (READ_ONCE(ucmd->reserved) || q_id >= ring->nr_queues ||
	    tag >= depth || (op == VDE_RING_FETCH && result))
		return -EINVAL;

	q = ring->queues[q_id];
	vde_done_init(&done);
	spin_lock_irq(&q->lock);
	/* A refused FETCH does not make its caller the queue's helper. */
	ret = vde_ring_claim(q, VDE_TRANSPORT_URING, NULL);
	if (ret == -EINVAL && !q->task && op == VDE_RING_FETCH &&
	    q->tags[tag].state == VDE_TAG_FREE)
		ret = vde_ring_claim(q, VDE_TRANSPORT_URING, rf);
	if (ret)
		goto out_unlock;
	if (op == VDE_RING_FETCH) {
		if (q->tags[tag].state != VDE_TAG_FREE) {
			ret = -EINVAL;
			goto out_unlock;
		}
		q->nr_fetched++;
	} else {
		ret = vde_ring_commit(q, tag, result, &done);
		if (ret)
			goto out_unlock;
	}
	vde_ring_arm(q, tag, ioucmd);
	ret = -EIOCBQUEUED;
out_unlock:
	spin_unlock_irq(&q->lock);
	vde_done_finish(&done);
	return ret;
}

/* Commits of one WAIT or COMMIT batch, applied a chunk at a time. */
static int vde_ring_batch_commits(struct vde_ring_queue *q,
				  struct vde_ring_batch *b)
{
	struct vde_ring_commit __user *uc = u64_to_user_ptr(b->commits);
	struct vde_ring_commit chunk[32];
	struct vde_ring_done done;
	int ret = 0;

	vde_done_init(&done);
	while (b->commits_done < b->nr_commits && !ret) {
		u32 n = min_t(u32, ARRAY_SIZE(chunk),
			      b->nr_commits - b->commits_done);
		u32 i;

		if (copy_from_user(chunk, uc + b->commits_done,
				   n * sizeof(chunk[0])))
			return -EFAULT;
		spin_lock_irq(&q->lock);
		ret = vde_ring_claim(q, VDE_TRANSPORT_IOCTL, NULL);
		for (i = 0; i < n && !ret; i++) {
			unsigned int tag = chunk[i].tag;

			if (chunk[i].reserved ||
			    tag >= q->ring->vde->queue_depth) {
				ret = -EINVAL;
				break;
			}
			ret = vde_ring_commit(q, tag, chunk[i].result, &done);
			if (ret)
				break;
			vde_ring_arm(q, tag, NULL);
			b->commits_done++;
		}
		spin_unlock_irq(&q->lock);
		vde_done_finish(&done);
	}
	return ret;
}

/* Whether a WAIT on @q has something to return, or must give up. */
static bool vde_ring_wait_done(struct vde_ring_queue *q)
{
	bool ret;

	spin_lock_irq(&q->lock);
	ret = q->ready_count || q->ring->dead || q->task != current;
	spin_unlock_irq(&q->lock);
	return ret;
}

/*
 * Put tags that could not be handed to the helper back at the head of the
 * ready list, in order, unless the helper was lost meanwhile.
 */
static void vde_ring_unpop(struct vde_ring_queue *q, const u16 *tags, u32 n)
{
	u32 depth = q->ring->vde->queue_depth;

	spin_lock_irq(&q->lock);
	while (q->task == current && n--) {
		q->ready_head = (q->ready_head + depth - 1) % depth;
		q->ready[q->ready_head] = tags[n];
		q->ready_count++;
	}
	spin_unlock_irq(&q->lock);
}

static int vde_ring_wait(struct vde_ring_queue *q, struct vde_ring_batch *b)
{
	u16 __user *utags = u64_to_user_ptr(b->tags);
	u32 depth = q->ring->vde->queue_depth;
	u16 tags[64];
	int ret;

	if (!(b->flags & VDE_RING_WAIT_NOWAIT)) {
		ret = wait_event_interruptible(q->wait, vde_ring_wait_done(q));
		if (ret)
			return -EINTR;
	}
	while (b->nr_tags < b->max_tags) {
		u32 n = 0;

		spin_lock_irq(&q->lock);
		ret = vde_ring_claim(q, VDE_TRANSPORT_IOCTL, NULL);
		if (ret == -EINVAL || (!ret && q->task != current))
			ret = -ENODEV;	/* the helper was lost meanwhile */
		while (!ret && q->ready_count && n < ARRAY_SIZE(tags) &&
		       b->nr_tags + n < b->max_tags) {
			tags[n++] = q->ready[q->ready_head];
			q->ready_head = (q->ready_head + 1) % depth;
			q->ready_count--;
		}
		spin_unlock_irq(&q->lock);
		if (ret)
			return ret;
		if (!n)
			break;
		if (copy_to_user(utags + b->nr_tags, tags, n * sizeof(tags[0]))) {
			vde_ring_unpop(q, tags, n);
			return -EFAULT;
		}
		b->nr_tags += n;
	}
	return 0;
}

/*
 * The first WAIT attaches the calling thread as the queue's helper thread
 * and arms every FREE tag; later WAITs must come from that thread.
 */
static int vde_ring_ioctl_attach(struct vde_ring_queue *q,
				 const struct vde_ring_file *rf)
{
	u32 depth = q->ring->vde->queue_depth;
	int ret = 0;
	u32 i;

	spin_lock_irq(&q->lock);
	if (!q->task && !q->ring->dead) {
		ret = vde_ring_claim(q, VDE_TRANSPORT_IOCTL, rf);
		for (i = 0; i < depth && !ret; i++)
			if (q->tags[i].state == VDE_TAG_FREE)
				vde_ring_arm(q, i, NULL);
		q->nr_fetched = depth;
	} else {
		ret = vde_ring_claim(q, VDE_TRANSPORT_IOCTL, NULL);
		if (!ret && q->task != current)
			ret = -EBUSY;
	}
	spin_unlock_irq(&q->lock);
	return ret;
}

static long vde_ring_ioctl_batch(struct file *file,
				 struct vde_ring_batch __user *uarg, bool wait)
{
	struct vde_ring *ring = vde_file_ring(file);
	struct vde_ring_batch b;
	struct vde_ring_queue *q;
	int ret;

	if (copy_from_user(&b, uarg, sizeof(b)))
		return -EFAULT;
	if (b.size != sizeof(b) || b.commits_done || b.nr_tags ||
	    memchr_inv(b.reserved, 0, sizeof(b.reserved)) ||
	    b.q_id >= ring->nr_queues)
		return -EINVAL;
	if (wait && (b.flags & ~VDE_RING_WAIT_NOWAIT))
		return -EINVAL;
	if (!wait && (b.flags || b.max_tags))
		return -EINVAL;
	q = ring->queues[b.q_id];
	ret = wait ? vde_ring_ioctl_attach(q, file->private_data) : 0;
	if (!ret)
		ret = vde_ring_batch_commits(q, &b);
	if (!ret && wait)
		ret = vde_ring_wait(q, &b);
	if (put_user(b.commits_done, &uarg->commits_done) ||
	    put_user(b.nr_tags, &uarg->nr_tags))
		return -EFAULT;
	return ret;
}

static long vde_ring_get_info(struct vde_ring *ring,
			      struct vde_ring_info __user *uarg)
{
	struct vde_device *vde = ring->vde;
	struct vde_ring_info info;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.size != sizeof(info) ||
	    memchr_inv(info.reserved, 0, sizeof(info.reserved)) ||
	    (info.max_regions && !info.regions))
		return -EINVAL;
	info.index = vde->index;
	info.flags = vde->flags;
	info.nr_hw_queues = vde->nr_hw_queues;
	info.queue_depth = vde->queue_depth;
	info.buf_size = VDE_RING_BUF_SIZE;
	info.block_size = vde->block_size;
	info.logical_block_size = vde->logical_block_size;
	info.data_offset = vde->data_offset;
	info.nr_blocks = vde->nr_blocks;
	info.nr_regions = vde->nr_regions;
	if (info.max_regions >= vde->nr_regions &&
	    copy_to_user(u64_to_user_ptr(info.regions), vde->regions,
			 vde->nr_regions * sizeof(*vde->regions)))
		return -EFAULT;
	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long vde_ring_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct vde_ring *ring = vde_file_ring(file);
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VDE_RING_GET_INFO:
		return vde_ring_get_info(ring, uarg);
	case VDE_RING_WAIT:
		return vde_ring_ioctl_batch(file, uarg, true);
	case VDE_RING_COMMIT:
		return vde_ring_ioctl_batch(file, uarg, false);
	default:
		return -ENOTTY;
	}
}

static void vde_ring_bufs_free(struct vde_ring_bufs *b)
{
	unsigned long i;

	if (!b)
		return;
	if (b->vaddr)
		vunmap(b->vaddr);
	for (i = 0; b->pages && i < b->nr_pages; i++)
		if (b->pages[i])
			put_page(b->pages[i]);
	kvfree(b->pages);
	if (b->shm)
		fput(b->shm);
	kfree(b);
}

static struct vde_ring_bufs *vde_ring_bufs_alloc(size_t bytes, u64 gen)
{
	struct vde_ring_bufs *b;
	int ret = -ENOMEM;
	unsigned long i;

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->gen = gen;
	b->shm = shmem_file_setup("vde-ring", bytes, 0);
	if (IS_ERR(b->shm)) {
		ret = PTR_ERR(b->shm);
		b->shm = NULL;
		goto fail;
	}
	mapping_set_unevictable(b->shm->f_mapping);
	b->nr_pages = bytes >> PAGE_SHIFT;
	b->pages = kvcalloc(b->nr_pages, sizeof(*b->pages), GFP_KERNEL);
	if (!b->pages)
		goto fail;
	for (i = 0; i < b->nr_pages; i++) {
		struct page *page;

		/* A big ADD fails with -ENOMEM rather than wake the OOM killer. */
		page = shmem_read_mapping_page_gfp(b->shm->f_mapping, i,
						   GFP_KERNEL | __GFP_RETRY_MAYFAIL |
						   __GFP_NOWARN);
		if (IS_ERR(page)) {
			ret = PTR_ERR(page);
			goto fail;
		}
		b->pages[i] = page;
	}
	b->vaddr = vmap(b->pages, b->nr_pages, VM_MAP, PAGE_KERNEL);
	if (b->vaddr)
		return b;
fail:
	vde_ring_bufs_free(b);
	return ERR_PTR(ret);
}

/*
 * Give the next helper data buffers of its own after a lost one (see
 * &struct vde_ring_bufs).  No helper attaches while @stale_bufs is set, so
 * nothing commits meanwhile; the copies that use the old buffers without
 * a queue lock are waited for before they are freed.
 */
static int vde_ring_renew_bufs(struct vde_ring *ring)
{
	struct vde_ring_bufs *old = ring->bufs, *b;
	u32 i;

	lockdep_assert_held(&ring->bufs_lock);
	b = vde_ring_bufs_alloc(ring->buf_bytes, old->gen + 1);
	if (IS_ERR(b))
		return PTR_ERR(b);
	for (i = 0; i < ring->nr_queues; i++) {
		struct vde_ring_queue *q = ring->queues[i];

		spin_lock_irq(&q->lock);
		rcu_assign_pointer(q->bufs, b);
		spin_unlock_irq(&q->lock);
	}
	ring->bufs = b;
	/* A write's copy in queue_rq, then reads' in vde_done_finish(). */
	synchronize_rcu();
	for (i = 0; i < ring->nr_queues; i++) {
		atomic_t *copying = &ring->queues[i]->copying;

		wait_var_event(copying, !atomic_read(copying));
	}
	vde_ring_bufs_free(old);
	WRITE_ONCE(ring->stale_bufs, false);
	return 0;
}

static int vde_ring_mmap_bufs(struct file *file, struct vm_area_struct *vma,
			      u64 off)
{
	struct vde_ring_file *rf = file->private_data;
	struct vde_ring *ring = rf->vde->ring;
	u64 len = vma->vm_end - vma->vm_start;
	int ret = 0;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (off > ring->buf_bytes || len > ring->buf_bytes - off)
		return -EINVAL;
	mutex_lock(&ring->bufs_lock);
	if (ring->stale_bufs && !READ_ONCE(ring->dead))
		ret = vde_ring_renew_bufs(ring);
	if (!ret) {
		vma->vm_pgoff = off >> PAGE_SHIFT;
		vma_set_file(vma, ring->bufs->shm);
		ret = call_mmap(ring->bufs->shm, vma);
	}
	if (!ret)
		WRITE_ONCE(rf->gen, ring->bufs->gen);
	mutex_unlock(&ring->bufs_lock);
	return ret;
}

static int vde_ring_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct vde_ring *ring = vde_file_ring(file);
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 len = vma->vm_end - vma->vm_start;
	u64 q_id = off / VDE_RING_DESC_STRIDE;

	if (off >= VDE_RING_BUF_OFFSET)
		return vde_ring_mmap_bufs(file, vma, off - VDE_RING_BUF_OFFSET);
	if (off % VDE_RING_DESC_STRIDE || q_id >= ring->nr_queues ||
	    len > PAGE_ALIGN(ring->vde->queue_depth *
			     sizeof(struct vde_io_desc)))
		return -EINVAL;
	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	vde_vma_clear_flags(vma, VM_MAYWRITE);
	return remap_vmalloc_range(vma, ring->queues[q_id]->descs, 0);
}

static int vde_ring_open(struct inode *inode, struct file *file)
{
	struct vde_device *vde = container_of(inode->i_cdev, struct vde_device,
					      ring_cdev);
	struct vde_ring_file *rf;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	rf = kzalloc(sizeof(*rf), GFP_KERNEL);
	if (!rf)
		return -ENOMEM;
	rf->vde = vde;
	file->private_data = rf;
	atomic_inc(&vde->ring->open_count);
	return 0;
}

static int vde_ring_release(struct inode *inode, struct file *file)
{
	struct vde_ring *ring = vde_file_ring(file);

	if (atomic_dec_and_test(&ring->open_count))
		vde_ring_lost(ring, "closed");
	kfree(file->private_data);
	return 0;
}

static const struct file_operations vde_ring_fops = {
	.owner		= THIS_MODULE,
	.open		= vde_ring_open,
	.release	= vde_ring_release,
	.unlocked_ioctl	= vde_ring_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= vde_ring_mmap,
	.uring_cmd	= vde_ring_uring_cmd,
	.llseek		= noop_llseek,
};

/**
 * vde_ring_needed() - whether a device needs a helper data plane
 * @add: the checked ADD request
 * @map: its checked region map
 *
 * Return: true for via-helper devices and maps with encrypted extents.
 */
bool vde_ring_needed(const struct vde_dev_add *add,
		     const struct vde_region_entry *map)
{
	u32 i;

	if (add->flags & VDE_DEV_VIA_HELPER)
		return true;
	for (i = 0; i < add->nr_regions; i++)
		if (map[i].flags & VDE_REGION_ENCRYPTED)
			return true;
	return false;
}

static struct vde_ring_queue *vde_ring_alloc_queue(struct vde_ring *ring,
						   u32 q_id)
{
	u32 depth = ring->vde->queue_depth;
	struct vde_ring_queue *q;

	q = kvzalloc(struct_size(q, tags, depth), GFP_KERNEL);
	if (!q)
		return NULL;
	q->ring = ring;
	q->q_id = q_id;
	spin_lock_init(&q->lock);
	init_waitqueue_head(&q->wait);
	q->descs = vmalloc_user(PAGE_ALIGN(depth * sizeof(*q->descs)));
	q->ready = kcalloc(depth, sizeof(*q->ready), GFP_KERNEL);
	if (!q->descs || !q->ready) {
		vfree(q->descs);
		kfree(q->ready);
		kvfree(q);
		return NULL;
	}
	RCU_INIT_POINTER(q->bufs, ring->bufs);
	return q;
}

/**
 * vde_ring_create() - allocate a device's helper data plane
 * @vde: a device being created, with its geometry and flags set
 *
 * Allocates the descriptor arrays and every tag's data buffer.
 *
 * Context: process context, may sleep.
 * Return: 0; -EINVAL when the device has more than 4096 tags in all;
 * -ENOMEM.  On error the caller frees with vde_ring_free().
 */
int vde_ring_create(struct vde_device *vde)
{
	u32 nr = vde->nr_hw_queues, i;
	struct vde_ring *ring;
	int ret;

	if ((u64)nr * vde->queue_depth > VDE_RING_MAX_TAGS)
		return -EINVAL;
	ring = kzalloc(struct_size(ring, queues, nr), GFP_KERNEL);
	if (!ring)
		return -ENOMEM;
	vde->ring = ring;
	ring->vde = vde;
	ring->nr_queues = nr;
	ring->hold = vde->flags & VDE_DEV_HELPER_HOLD;
	INIT_DELAYED_WORK(&ring->monitor, vde_ring_monitor);
	mutex_init(&ring->bufs_lock);
	ring->buf_bytes = (size_t)nr * vde->queue_depth * VDE_RING_BUF_SIZE;
	ring->bufs = vde_ring_bufs_alloc(ring->buf_bytes, 1);
	if (IS_ERR(ring->bufs)) {
		ret = PTR_ERR(ring->bufs);
		ring->bufs = NULL;
		return ret;
	}
	for (i = 0; i < nr; i++) {
		ring->queues[i] = vde_ring_alloc_queue(ring, i);
		if (!ring->queues[i])
			return -ENOMEM;
	}
	return 0;
}

/**
 * vde_ring_add_cdev() - create /dev/vdecN
 * @vde: a device with a ring, whose @ring_dev is initialised
 *
 * Context: process context, may sleep.
 * Return: 0 or the error of cdev_device_add().
 */
int vde_ring_add_cdev(struct vde_device *vde)
{
	int ret;

	vde->ring_dev.class = &vde_ring_class;
	vde->ring_dev.devt = MKDEV(MAJOR(vde_ring_devt), vde->index);
	ret = dev_set_name(&vde->ring_dev, VDE_RING_NAME_FMT, vde->index);
	if (ret)
		return ret;
	cdev_init(&vde->ring_cdev, &vde_ring_fops);
	vde->ring_cdev.owner = THIS_MODULE;
	return cdev_device_add(&vde->ring_cdev, &vde->ring_dev);
}

/**
 * vde_ring_starting() - the disk is being added, or is added
 * @vde: the device
 * @starting: true before device_add_disk(), false after
 *
 * While the disk is added, requests that find no helper fail instead of
 * being held, so that the partition scan cannot wait forever.
 *
 * Context: process context.
 */
void vde_ring_starting(struct vde_device *vde, bool starting)
{
	if (vde->ring)
		WRITE_ONCE(vde->ring->starting, starting);
}

/**
 * vde_ring_stopping() - the disk is about to be deleted
 * @vde: the device
 *
 * Held requests fail from now on, so that deleting the disk cannot wait
 * for a helper that may never come.  A live helper keeps serving.
 *
 * Context: process context, may sleep.
 */
void vde_ring_stopping(struct vde_device *vde)
{
	if (!vde->ring)
		return;
	WRITE_ONCE(vde->ring->stopping, true);
	vde_ring_reset(vde->ring, false, false);
}

/**
 * vde_ring_kill() - no request will reach the helper any more
 * @vde: the device; its disk deleted or never added
 *
 * Aborts the helper's armed commands with -ENODEV and makes every later
 * command fail the same way.  May be called more than once.
 *
 * Context: process context, may sleep.
 */
void vde_ring_kill(struct vde_device *vde)
{
	struct vde_ring *ring = vde->ring;
	u32 i;

	if (!ring || ring->dead)
		return;
	for (i = 0; i < ring->nr_queues; i++) {
		spin_lock_irq(&ring->queues[i]->lock);
		ring->dead = true;
		spin_unlock_irq(&ring->queues[i]->lock);
	}
	cancel_delayed_work_sync(&ring->monitor);
	vde_ring_reset(ring, true, true);
}

/**
 * vde_ring_remove() - kill the helper data plane and remove /dev/vdecN
 * @vde: the device, being removed
 *
 * Openers of /dev/vdecN keep the device's memory until they close it.
 *
 * Context: process context, may sleep.
 */
void vde_ring_remove(struct vde_device *vde)
{
	if (!vde->ring)
		return;
	vde_ring_kill(vde);
	cdev_device_del(&vde->ring_cdev, &vde->ring_dev);
}

/**
 * vde_ring_free() - free a device's helper data plane
 * @vde: the device, when its last reference is dropped
 *
 * Context: process context, may sleep.
 */
void vde_ring_free(struct vde_device *vde)
{
	struct vde_ring *ring = vde->ring;
	unsigned long i;

	if (!ring)
		return;
	cancel_delayed_work_sync(&ring->monitor);
	for (i = 0; i < ring->nr_queues; i++) {
		if (!ring->queues[i])
			continue;
		vfree(ring->queues[i]->descs);
		kfree(ring->queues[i]->ready);
		kvfree(ring->queues[i]);
	}
	vde_ring_bufs_free(ring->bufs);
	mutex_destroy(&ring->bufs_lock);
	kfree(ring);
	vde->ring = NULL;
}

/**
 * vde_ring_show() - the helper's state, for sysfs
 * @vde: the device
 * @buf: a sysfs page
 *
 * Context: process context.
 * Return: bytes written to @buf.
 */
int vde_ring_show(struct vde_device *vde, char *buf)
{
	static const char *const transports[] = { "none", "io_uring", "ioctl" };
	struct vde_ring *ring = vde->ring;
	u32 i, attached = 0, armed = 0;
	u8 transport = VDE_TRANSPORT_NONE;
	const char *state;
	pid_t pid = 0;

	if (!ring)
		return sysfs_emit(buf, "state none\ntransport none\npolicy none\n"
				  "queues_armed 0\nqueues 0\npid 0\n");
	for (i = 0; i < ring->nr_queues; i++) {
		struct vde_ring_queue *q = ring->queues[i];

		spin_lock_irq(&q->lock);
		if (q->task) {
			attached++;
			transport = q->transport;
			/* The reader's view of the process; 0 if not visible. */
			pid = task_tgid_vnr(q->task);
			if (q->nr_fetched == vde->queue_depth)
				armed++;
		}
		spin_unlock_irq(&q->lock);
	}
	state = attached ? "live" : READ_ONCE(ring->lost) ? "lost" : "none";
	return sysfs_emit(buf, "state %s\ntransport %s\npolicy %s\n"
			  "queues_armed %u\nqueues %u\npid %d\n", state,
			  transports[transport], ring->hold ? "hold" : "fail", armed,
			  ring->nr_queues, pid);
}

/**
 * vde_ring_init() - register the /dev/vdecN character devices
 *
 * Context: module init.
 * Return: 0 or a negative errno.
 */
int vde_ring_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&vde_ring_devt, 0, BIT(MINORBITS), "vdec");
	if (ret)
		return ret;
	ret = class_register(&vde_ring_class);
	if (ret)
		unregister_chrdev_region(vde_ring_devt, BIT(MINORBITS));
	return ret;
}

/**
 * vde_ring_exit() - unregister what vde_ring_init() registered
 *
 * Context: module exit.
 */
void vde_ring_exit(void)
{
	class_unregister(&vde_ring_class);
	unregister_chrdev_region(vde_ring_devt, BIT(MINORBITS));
}
