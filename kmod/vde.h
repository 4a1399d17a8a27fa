/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vde: VDE v2 image files as block devices - internal definitions.
 *
 * Locking
 * =======
 *
 * vde_ctl_mutex (control.c)
 *	Serialises every control ioctl that creates, starts, stops, removes or
 *	looks up a device.  Protects vde_devices (the index -> device IDR),
 *	vde_device.state and the existence of vde_device.disk.  Process
 *	context only; outermost lock of the driver.
 *
 * gendisk.open_mutex (block layer)
 *	Held by the block layer around vde_bdev_open() and vde_bdev_release().
 *	Taken by vde_dev_stop() inside vde_ctl_mutex to check the open count
 *	and shut out new openers atomically.  Order: vde_ctl_mutex, then
 *	open_mutex.
 *
 * vde_device.open_count is only changed under gendisk.open_mutex.
 *
 * vde_queue.lock (io.c)
 *	Protects vde_queue.pending.  Taken in queue_rq (any context blk-mq
 *	calls it from) and by the queue's work item; never held across I/O.
 *	Innermost.
 *
 * vde_ring_queue.lock (ring.c)
 *	Protects the helper state of one hardware queue: its tags, helper
 *	thread and transport, and the ioctl transport's ready list.  Taken
 *	in queue_rq, by the blk-mq timeout handler, by helper commands and
 *	by the helper monitor; never held while a request is completed or an
 *	io_uring command is finished.  Innermost.
 *
 * vde_ring.bufs_lock (ring.c)
 *	Serialises mapping the helper data buffers with replacing them after
 *	a lost helper.  Taken in mmap (under the mm's mmap_lock); the queues'
 *	ring locks nest inside it.  A write's copy into a tag buffer without
 *	a lock runs under rcu_read_lock(), a read's copy out of one is
 *	counted in vde_ring_queue.copying; replacing the buffers waits for
 *	both.
 *
 * The in-kernel I/O path takes no driver lock: a device's geometry, backing
 * file and region map are immutable between ADD and REMOVE, statistics are
 * per-CPU, and blk-mq guarantees that no request is in flight when the disk
 * is deleted and the tag set freed.
 *
 * Lifetime: &vde_device.ring_dev holds the structure.  The gendisk owns one
 * reference (dropped in free_disk) and /dev/vdecN's cdev another (dropped
 * when its last opener is gone), so the helper data plane outlives REMOVE
 * for as long as a helper keeps it open or mapped.
 *
 * Module parameters are read-only after load.
 */
#ifndef VDE_H
#define VDE_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <uapi/linux/vde.h>

#include "compat.h"

/* Minors per device: the whole disk and 15 partitions. */
#define VDE_PART_BITS		4
#define VDE_DEFAULT_QUEUE_DEPTH	128

/* Operations counted in the statistics, in the order shown in sysfs. */
enum vde_stat_op {
	VDE_OP_READ,
	VDE_OP_WRITE,
	VDE_OP_FLUSH,
	VDE_OP_DISCARD,
	VDE_OP_WRITE_ZEROES,
	VDE_NR_OPS,
};

/* Buckets of the log2 latency histogram: bucket i counts [2^i, 2^(i+1)) ns. */
#define VDE_LAT_BUCKETS		40

/**
 * struct vde_stats - per-CPU statistics of a device
 * @requests: completed requests per operation
 * @blocks: 512-byte sectors transferred per operation
 * @fast_path: requests served in the kernel
 * @helper: requests routed to the userspace helper
 * @errors: requests completed with an error
 * @latency: log2 histogram of request latency in nanoseconds, per operation
 */
struct vde_stats {
	u64 requests[VDE_NR_OPS];
	u64 blocks[VDE_NR_OPS];
	u64 fast_path;
	u64 helper;
	u64 errors;
	u64 latency[VDE_NR_OPS][VDE_LAT_BUCKETS];
};

/**
 * struct vde_device - one attached image
 * @index: N of /dev/vdeN
 * @state: VDE_STATE_*; protected by vde_ctl_mutex
 * @flags: VDE_DEV_* flags given at ADD
 * @backing: the image file; holds a reference
 * @data_offset: byte offset of device block 0 in @backing
 * @nr_blocks: device size in @block_size blocks
 * @block_size: the image's block size
 * @block_shift: log2(@block_size)
 * @logical_block_size: advertised logical block size
 * @nr_hw_queues: hardware queues
 * @queue_depth: tags per hardware queue
 * @use_dio: plain I/O goes to @backing with direct I/O (else buffered)
 * @dio_align: alignment direct I/O needs of the request's memory and length
 * @can_discard: @backing supports punching holes
 * @regions: the region map, sorted and tiling [0, @nr_blocks)
 * @nr_regions: entries in @regions
 * @uuid: image UUID
 * @tag_set: blk-mq tag set
 * @disk: the gendisk; NULL before ADD finished; protected by vde_ctl_mutex
 * @wq: workqueue that issues plain I/O to @backing
 * @open_count: openers of the block device; protected by disk->open_mutex
 * @stats: per-CPU statistics
 * @ring: the helper data plane; NULL when no request needs a helper
 * @ring_dev: the device of /dev/vdecN; its reference count is the
 *	structure's
 * @ring_cdev: the character device /dev/vdecN
 */
struct vde_device {
	int index;
	u32 state;
	u32 flags;
	struct file *backing;
	u64 data_offset;
	u64 nr_blocks;
	u32 block_size;
	unsigned int block_shift;
	u32 logical_block_size;
	u32 nr_hw_queues;
	u32 queue_depth;
	bool use_dio;
	u32 dio_align;
	bool can_discard;
	struct vde_region_entry *regions;
	u32 nr_regions;
	u8 uuid[16];
	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;
	struct workqueue_struct *wq;
	unsigned int open_count;
	struct vde_stats __percpu *stats;
	struct vde_ring *ring;
	struct device ring_dev;
	struct cdev ring_cdev;
};

/**
 * struct vde_queue - per hardware queue state
 * @vde: the device
 * @lock: protects @pending
 * @pending: requests queued by queue_rq, not yet taken by @work
 * @work: issues the pending requests to the backing file, in order
 *
 * One work item per hardware queue lets a burst of requests cost one
 * wake-up instead of one each.
 */
struct vde_queue {
	struct vde_device *vde;
	spinlock_t lock;	/* protects @pending */
	struct list_head pending;
	struct work_struct work;
};

/**
 * struct vde_cmd - per-request driver data (the blk-mq PDU)
 * @node: entry in &vde_queue.pending
 * @iocb: kiocb of an async direct-I/O read or write
 * @bvec: bvec array when the request spans several bios, else NULL
 * @ref: two references for async I/O: the submitter's and the completion's
 * @ret: result: bytes transferred or a negative errno
 * @start_ns: when the request was started, for the latency histogram
 * @rflags: VDE_REGION_* flags of the blocks the request touches
 * @helper: the request is served by the userspace helper
 * @wgen: a helper write's data is in its tag buffer already, copied
 *	before the queue's ring lock was taken: the generation of the data
 *	buffers it went to; 0 if not copied, and once published
 * @rbuf: a helper read's data, in its tag buffer, to copy into the
 *	request before it completes (outside the queue's ring lock)
 */
struct vde_cmd {
	struct list_head node;
	struct kiocb iocb;
	struct bio_vec *bvec;
	atomic_t ref;
	long ret;
	u64 start_ns;
	u32 rflags;
	bool helper;
	u64 wgen;
	void *rbuf;
};

/* main.c */
extern unsigned int vde_max_devices;
extern int vde_major;
extern atomic_t vde_live_devices;

/* control.c */
int vde_control_init(void);
void vde_control_exit(void);
void vde_fill_features(struct vde_features *feat);

/* device.c */
struct vde_device *vde_dev_create(const struct vde_dev_add *add,
				  struct vde_region_entry *regions,
				  struct file *backing);
int vde_dev_start(struct vde_device *vde);
int vde_dev_stop(struct vde_device *vde, bool force);
void vde_dev_destroy(struct vde_device *vde);
void vde_dev_fill_info(struct vde_device *vde, struct vde_dev_info *info);
int vde_disk_name_taken(int index);

/* regionmap.c */
int vde_regions_check(const struct vde_region_entry *map, u32 nr,
		      u64 nr_blocks);
u32 vde_regions_flags(const struct vde_device *vde, u64 first, u64 count);
u64 vde_regions_span(const struct vde_device *vde, u64 block, u32 *flags);

/* io.c */
extern const struct blk_mq_ops vde_mq_ops;
int vde_backing_check(struct vde_device *vde);

/* ring.c */
int vde_ring_init(void);
void vde_ring_exit(void);
bool vde_ring_needed(const struct vde_dev_add *add,
		     const struct vde_region_entry *map);
int vde_ring_create(struct vde_device *vde);
int vde_ring_add_cdev(struct vde_device *vde);
void vde_ring_starting(struct vde_device *vde, bool starting);
void vde_ring_stopping(struct vde_device *vde);
void vde_ring_kill(struct vde_device *vde);
void vde_ring_remove(struct vde_device *vde);
void vde_ring_free(struct vde_device *vde);
void vde_ring_queue_rq(struct vde_device *vde, struct blk_mq_hw_ctx *hctx,
		       struct request *rq);
enum blk_eh_timer_return vde_ring_timeout(struct vde_device *vde,
					  struct request *rq);
int vde_ring_show(struct vde_device *vde, char *buf);

/* sysfs.c */
extern const struct attribute_group *vde_disk_groups[];
void vde_stats_account(struct vde_device *vde, struct request *rq,
		       blk_status_t status, u64 start_ns, bool helper);

#endif /* VDE_H */
