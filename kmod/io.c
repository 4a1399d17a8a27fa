// SPDX-License-Identifier: GPL-2.0
/*
 * vde: the in-kernel data path.
 *
 * Requests that touch only plain regions are served here, zero copy: the
 * request's own pages go to the backing file as an asynchronous direct-I/O
 * kiocb over a bvec iterator, issued from a workqueue because a file
 * system's ->read_iter()/->write_iter() may sleep.  Where direct I/O is not
 * possible the same path runs buffered and synchronously.
 *
 * Requests touching hidden regions (key material) are split by region:
 * hidden parts read as zeros and any write to them is refused.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blk-mq.h>
#include <linux/bvec.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/stat.h>
#include <linux/uio.h>

#include "vde.h"

static struct vde_device *vde_rq_dev(struct request *rq)
{
	return rq->q->queuedata;
}

static loff_t vde_rq_pos(struct vde_device *vde, struct request *rq)
{
	return vde->data_offset + ((loff_t)blk_rq_pos(rq) << SECTOR_SHIFT);
}

/* Device blocks [*first, *first + *count) that @rq touches. */
static void vde_rq_blocks(struct vde_device *vde, struct request *rq,
			  u64 *first, u64 *count)
{
	u64 start = (u64)blk_rq_pos(rq) << SECTOR_SHIFT;
	u64 end = start + max(blk_rq_bytes(rq), 1U);

	*first = start >> vde->block_shift;
	*count = ((end - 1) >> vde->block_shift) - *first + 1;
}

/* Finish a request whose result is in cmd->ret (see vde_complete_rq()). */
static void vde_cmd_done(struct vde_cmd *cmd)
{
	kfree(cmd->bvec);
	cmd->bvec = NULL;
	blk_mq_complete_request(blk_mq_rq_from_pdu(cmd));
}

/*
 * An async kiocb holds two references: the submitter's, dropped once
 * ->read_iter()/->write_iter() returned, and the completion's.  Whichever
 * comes last finishes the request, so the bvec array outlives both.
 */
static void vde_cmd_put(struct vde_cmd *cmd)
{
	if (atomic_dec_and_test(&cmd->ref))
		vde_cmd_done(cmd);
}

static void vde_aio_complete(struct kiocb *iocb, long ret)
{
	struct vde_cmd *cmd = container_of(iocb, struct vde_cmd, iocb);

	cmd->ret = ret;
	vde_cmd_put(cmd);
}

/*
 * Point @iter at the whole request.  A request of one bio uses the bio's
 * own bvec table; several bios need a flat copy of their bvecs.
 */
static int vde_rq_iter(struct vde_cmd *cmd, struct request *rq,
		       unsigned int dir, struct iov_iter *iter)
{
	struct bio *bio = rq->bio;
	struct req_iterator rq_iter;
	struct bio_vec tmp;
	unsigned int nr = 0;

	/*
	 * Multi-page bvecs: bio_segments() counts pages, and an iterator
	 * told of more segments than the array has reads past its end.
	 */
	rq_for_each_bvec(tmp, rq, rq_iter)
		nr++;
	if (bio == rq->biotail) {
		struct bio_vec *bvec = __bvec_iter_bvec(bio->bi_io_vec,
							bio->bi_iter);

		iov_iter_bvec(iter, dir, bvec, nr, blk_rq_bytes(rq));
		iter->iov_offset = bio->bi_iter.bi_bvec_done;
		return 0;
	}

	cmd->bvec = kmalloc_array(nr, sizeof(*cmd->bvec), GFP_NOIO);
	if (!cmd->bvec)
		return -ENOMEM;
	nr = 0;
	rq_for_each_bvec(tmp, rq, rq_iter)
		cmd->bvec[nr++] = tmp;
	iov_iter_bvec(iter, dir, cmd->bvec, nr, blk_rq_bytes(rq));
	return 0;
}

static int vde_kiocb_flags(struct request *rq, bool dio)
{
	int flags = dio ? IOCB_DIRECT : 0;

	if (op_is_write(req_op(rq)) && (rq->cmd_flags & REQ_FUA))
		flags |= IOCB_DSYNC;
	return flags;
}

static ssize_t vde_call_iter(struct file *file, struct kiocb *iocb,
			     struct iov_iter *iter, bool write)
{
	ssize_t ret;

	if (!write)
		return file->f_op->read_iter(iocb, iter);
	if (is_sync_kiocb(iocb))
		file_start_write(file);
	ret = file->f_op->write_iter(iocb, iter);
	if (is_sync_kiocb(iocb))
		file_end_write(file);
	return ret;
}

/*
 * Synchronous read or write of @len bytes of @iter at backing offset @pos.
 * Return: bytes transferred or a negative errno.
 */
static ssize_t vde_rw_sync(struct vde_device *vde, struct request *rq,
			   struct iov_iter *iter, loff_t pos, size_t len,
			   bool write, bool dio)
{
	struct iov_iter part = *iter;
	struct kiocb kiocb;

	iov_iter_truncate(&part, len);
	init_sync_kiocb(&kiocb, vde->backing);
	kiocb.ki_pos = pos;
	kiocb.ki_flags |= vde_kiocb_flags(rq, dio);
	kiocb.ki_ioprio = req_get_ioprio(rq);
	return vde_call_iter(vde->backing, &kiocb, &part, write);
}

/*
 * The fast path: the whole request as one kiocb.  Direct I/O completes
 * asynchronously through vde_aio_complete(); buffered I/O completes before
 * the call returns.
 */
static long vde_rw(struct vde_device *vde, struct vde_cmd *cmd,
		   struct request *rq, bool write)
{
	struct iov_iter iter, saved;
	long ret;

	ret = vde_rq_iter(cmd, rq, write ? ITER_SOURCE : ITER_DEST, &iter);
	if (ret)
		return ret;

	if (!vde->use_dio)
		return vde_rw_sync(vde, rq, &iter, vde_rq_pos(vde, rq),
				   blk_rq_bytes(rq), write, false);

	atomic_set(&cmd->ref, 2);
	cmd->iocb.ki_pos = vde_rq_pos(vde, rq);
	cmd->iocb.ki_filp = vde->backing;
	cmd->iocb.ki_complete = vde_aio_complete;
	cmd->iocb.ki_flags = vde_kiocb_flags(rq, true);
	cmd->iocb.ki_ioprio = req_get_ioprio(rq);

	saved = iter;
	ret = vde_call_iter(vde->backing, &cmd->iocb, &iter, write);
	if (ret == -EIOCBQUEUED) {
		vde_cmd_put(cmd);
		return -EIOCBQUEUED;
	}
	/*
	 * Finished or refused before the call returned: ->ki_complete() is
	 * not called then.  A refusal for alignment the backing file system
	 * cannot do directly is redone buffered.
	 */
	if (ret == -EINVAL)
		ret = vde_rw_sync(vde, rq, &saved, vde_rq_pos(vde, rq),
				  blk_rq_bytes(rq), write, false);
	return ret;
}

/*
 * A read touching hidden regions, region by region: hidden parts read as
 * zeros, the rest comes from the backing file synchronously.
 */
static long vde_read_split(struct vde_device *vde, struct vde_cmd *cmd,
			   struct request *rq)
{
	u64 dev_pos = (u64)blk_rq_pos(rq) << SECTOR_SHIFT;
	size_t left = blk_rq_bytes(rq);
	struct iov_iter iter;
	long ret;

	ret = vde_rq_iter(cmd, rq, ITER_DEST, &iter);
	if (ret)
		return ret;
	while (left) {
		u64 block = dev_pos >> vde->block_shift;
		u64 span;
		size_t len;
		u32 flags;

		span = vde_regions_span(vde, block, &flags) << vde->block_shift;
		span -= dev_pos & (vde->block_size - 1);
		len = min_t(u64, span, left);
		if (flags & VDE_REGION_HIDDEN) {
			if (iov_iter_zero(len, &iter) != len)
				return -EIO;
		} else {
			ret = vde_rw_sync(vde, rq, &iter,
					  vde->data_offset + dev_pos, len,
					  false, vde->use_dio);
			if (ret < 0)
				return ret;
			if (ret != len)
				return -EIO;
			iov_iter_advance(&iter, len);
		}
		dev_pos += len;
		left -= len;
	}
	return blk_rq_bytes(rq);
}

static long vde_fallocate(struct vde_device *vde, struct request *rq,
			  int mode)
{
	long ret;

	if (!vde->can_discard)
		return -EOPNOTSUPP;
	ret = vfs_fallocate(vde->backing, mode | FALLOC_FL_KEEP_SIZE,
			    vde_rq_pos(vde, rq), blk_rq_bytes(rq));
	if (ret == -EOPNOTSUPP || ret == -EINVAL)
		return -EOPNOTSUPP;
	return ret;
}

static bool vde_rq_writes(struct request *rq)
{
	switch (req_op(rq)) {
	case REQ_OP_WRITE:
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		return true;
	default:
		return false;
	}
}

/*
 * Checks that do not depend on who serves the request; notes in
 * cmd->rflags which kinds of region it touches.
 */
static int vde_rq_prepare(struct vde_device *vde, struct vde_cmd *cmd,
			  struct request *rq)
{
	u64 first, count;

	cmd->rflags = 0;
	if (vde_rq_writes(rq) && (vde->flags & VDE_DEV_READ_ONLY))
		return -EROFS;
	if (req_op(rq) == REQ_OP_FLUSH)
		return 0;
	vde_rq_blocks(vde, rq, &first, &count);
	cmd->rflags = vde_regions_flags(vde, first, count);
	if ((cmd->rflags & VDE_REGION_HIDDEN) && vde_rq_writes(rq)) {
		pr_warn_ratelimited("vde%d: write to hidden blocks %llu+%llu refused\n",
				    vde->index, first, count);
		return -EPERM;
	}
	return 0;
}

/*
 * The helper serves every request of a via-helper device, and reads,
 * writes and write-zeroes that touch encrypted blocks.  Flushes and
 * discards of other devices stay in the kernel: they act on the whole
 * backing file, whoever wrote it.
 */
static bool vde_rq_for_helper(struct vde_device *vde, struct vde_cmd *cmd,
			      struct request *rq)
{
	if (!vde->ring)
		return false;
	if (vde->flags & VDE_DEV_VIA_HELPER)
		return true;
	if (!(cmd->rflags & VDE_REGION_ENCRYPTED))
		return false;
	switch (req_op(rq)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
	case REQ_OP_WRITE_ZEROES:
		return true;
	default:
		return false;
	}
}

/* Return: bytes (reads and writes), 0, -EIOCBQUEUED or a negative errno. */
static long vde_handle_rq(struct vde_device *vde, struct vde_cmd *cmd,
			  struct request *rq)
{
	switch (req_op(rq)) {
	case REQ_OP_FLUSH:
		return vfs_fsync(vde->backing, 0);
	case REQ_OP_DISCARD:
		return vde_fallocate(vde, rq, FALLOC_FL_PUNCH_HOLE);
	case REQ_OP_WRITE_ZEROES:
		return vde_fallocate(vde, rq, (rq->cmd_flags & REQ_NOUNMAP) ?
				     FALLOC_FL_ZERO_RANGE :
				     FALLOC_FL_PUNCH_HOLE);
	case REQ_OP_READ:
		if (cmd->rflags & VDE_REGION_HIDDEN)
			return vde_read_split(vde, cmd, rq);
		return vde_rw(vde, cmd, rq, false);
	case REQ_OP_WRITE:
		return vde_rw(vde, cmd, rq, true);
	default:
		return -EOPNOTSUPP;
	}
}

static void vde_queue_work(struct work_struct *work)
{
	struct vde_queue *vq = container_of(work, struct vde_queue, work);
	unsigned int noio = memalloc_noio_save();
	struct vde_cmd *cmd, *next;
	LIST_HEAD(batch);

	for (;;) {
		spin_lock_irq(&vq->lock);
		list_splice_init(&vq->pending, &batch);
		spin_unlock_irq(&vq->lock);
		if (list_empty(&batch))
			break;
		list_for_each_entry_safe(cmd, next, &batch, node) {
			struct request *rq = blk_mq_rq_from_pdu(cmd);
			long ret;

			list_del_init(&cmd->node);
			ret = vde_handle_rq(vq->vde, cmd, rq);
			if (ret != -EIOCBQUEUED) {
				cmd->ret = ret;
				vde_cmd_done(cmd);
			}
		}
	}
	memalloc_noio_restore(noio);
}

static blk_status_t vde_queue_rq(struct blk_mq_hw_ctx *hctx,
				 const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct vde_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct vde_queue *vq = hctx->driver_data;
	struct vde_device *vde = vq->vde;
	unsigned long flags;
	int ret;

	/* A requeued remainder keeps the original start time. */
	if (!(rq->rq_flags & RQF_DONTPREP)) {
		cmd->start_ns = ktime_get_ns();
		rq->rq_flags |= RQF_DONTPREP;
	}
	cmd->bvec = NULL;
	cmd->ret = 0;
	cmd->helper = false;
	blk_mq_start_request(rq);
	ret = vde_rq_prepare(vde, cmd, rq);
	if (ret) {
		cmd->ret = ret;
		blk_mq_complete_request(rq);
		return BLK_STS_OK;
	}
	if (vde_rq_for_helper(vde, cmd, rq)) {
		cmd->helper = true;
		vde_ring_queue_rq(vde, hctx, rq);
		return BLK_STS_OK;
	}
	spin_lock_irqsave(&vq->lock, flags);
	list_add_tail(&cmd->node, &vq->pending);
	spin_unlock_irqrestore(&vq->lock, flags);
	queue_work(vde->wq, &vq->work);
	return BLK_STS_OK;
}

static void vde_zero_fill_rq(struct request *rq)
{
	struct bio *bio;

	for (bio = rq->bio; bio; bio = bio->bi_next)
		zero_fill_bio(bio);
}

static void vde_complete_rq(struct request *rq)
{
	struct vde_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct vde_device *vde = vde_rq_dev(rq);
	long ret = cmd->ret;
	blk_status_t sts = BLK_STS_OK;

	if (ret < 0) {
		sts = errno_to_blk_status(ret);
		/* Never hand back whatever the pages held before. */
		if (req_op(rq) == REQ_OP_READ)
			vde_zero_fill_rq(rq);
	} else if ((req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE) &&
		   ret < blk_rq_bytes(rq)) {
		if (ret > 0) {
			/* Short transfer: keep what was done, redo the rest. */
			blk_update_request(rq, BLK_STS_OK, ret);
			blk_mq_requeue_request(rq, true);
			return;
		}
		/* No progress at all, e.g. reading past the end of the file. */
		if (req_op(rq) == REQ_OP_READ)
			vde_zero_fill_rq(rq);
		sts = BLK_STS_IOERR;
	}
	vde_stats_account(vde, rq, sts, cmd->start_ns, cmd->helper);
	blk_mq_end_request(rq, sts);
}

/*
 * The helper may hang; a request in the kernel's hands will finish (the
 * backing file system has its own timeouts), so its timer is restarted.
 */
static enum blk_eh_timer_return vde_timeout_rq(struct request *rq)
{
	struct vde_cmd *cmd = blk_mq_rq_to_pdu(rq);

	if (cmd->helper)
		return vde_ring_timeout(vde_rq_dev(rq), rq);
	return BLK_EH_RESET_TIMER;
}

static int vde_init_hctx(struct blk_mq_hw_ctx *hctx, void *data,
			 unsigned int hctx_idx)
{
	struct vde_queue *vq;

	vq = kzalloc_node(sizeof(*vq), GFP_KERNEL, hctx->numa_node);
	if (!vq)
		return -ENOMEM;
	vq->vde = data;
	spin_lock_init(&vq->lock);
	INIT_LIST_HEAD(&vq->pending);
	INIT_WORK(&vq->work, vde_queue_work);
	hctx->driver_data = vq;
	return 0;
}

/*
 * The disk is gone and the device's workqueue drained and destroyed:
 * nothing is pending or running.
 */
static void vde_exit_hctx(struct blk_mq_hw_ctx *hctx, unsigned int hctx_idx)
{
	struct vde_queue *vq = hctx->driver_data;

	WARN_ON_ONCE(!list_empty(&vq->pending));
	kfree(vq);
	hctx->driver_data = NULL;
}

const struct blk_mq_ops vde_mq_ops = {
	.queue_rq	= vde_queue_rq,
	.complete	= vde_complete_rq,
	.timeout	= vde_timeout_rq,
	.init_hctx	= vde_init_hctx,
	.exit_hctx	= vde_exit_hctx,
};

/**
 * vde_backing_check() - decide how the backing file can be used
 * @vde: the device, with @backing and @logical_block_size set
 *
 * Direct I/O is used when the file system supports it with alignment that
 * the device's logical block size satisfies; otherwise I/O is buffered.
 * Discard and write-zeroes need ->fallocate().
 *
 * Context: process context, may sleep.
 * Return: 0 or a negative errno from vfs_getattr().
 */
int vde_backing_check(struct vde_device *vde)
{
	struct file *file = vde->backing;
	struct kstat st = {};
	int ret;

	ret = vfs_getattr(&file->f_path, &st, STATX_DIOALIGN,
			  AT_STATX_SYNC_AS_STAT);
	if (ret)
		return ret;
	vde->use_dio = (file->f_mode & FMODE_CAN_ODIRECT) &&
		       (st.result_mask & STATX_DIOALIGN) &&
		       st.dio_offset_align && st.dio_mem_align &&
		       !(vde->logical_block_size % st.dio_offset_align) &&
		       st.dio_mem_align <= PAGE_SIZE;
	vde->dio_align = vde->use_dio ?
			 max3(st.dio_offset_align, st.dio_mem_align, 512U) : 512;
	vde->can_discard = !!file->f_op->fallocate;
	return 0;
}
