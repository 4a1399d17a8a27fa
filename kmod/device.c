// SPDX-License-Identifier: GPL-2.0
/*
 * vde: a device's life - creating the tag set and disk, starting and
 * stopping /dev/vdeN, and freeing it all.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/slab.h>

#include "vde.h"

/* Largest request handed to the backing file at once (1 MiB). */
#define VDE_MAX_HW_SECTORS	2048

/* Requests for the helper must fit a tag's data buffer. */
static unsigned int vde_max_hw_sectors(struct vde_device *vde)
{
	return vde->ring ? VDE_RING_BUF_SIZE >> SECTOR_SHIFT :
			   VDE_MAX_HW_SECTORS;
}

static int vde_bdev_open(VDE_BDEV_OPEN_ARGS)
{
	struct vde_device *vde = VDE_BDEV_OPEN_DISK->private_data;

	lockdep_assert_held(&vde->disk->open_mutex);
	if (vde->state != VDE_STATE_LIVE)
		return -ENXIO;
	vde->open_count++;
	return 0;
}

static void vde_bdev_release(VDE_BDEV_RELEASE_ARGS)
{
	struct vde_device *vde = disk->private_data;

	lockdep_assert_held(&disk->open_mutex);
	vde->open_count--;
}

/* The last reference to the device is gone: free it. */
static void vde_dev_release(struct device *dev)
{
	struct vde_device *vde = container_of(dev, struct vde_device, ring_dev);

	vde_ring_free(vde);
	free_percpu(vde->stats);
	kvfree(vde->regions);
	kfree(vde);
	atomic_dec(&vde_live_devices);
}

/* The disk's reference to the device goes with the disk. */
static void vde_free_disk(struct gendisk *disk)
{
	struct vde_device *vde = disk->private_data;

	put_device(&vde->ring_dev);
}

/*
 * Drop the disk and, with it, its reference to @vde.  The block layer
 * calls ->free_disk only for a disk that was added: for one that never
 * was (never started, or START failed), the reference is dropped here.
 */
static void vde_dev_put_disk(struct vde_device *vde)
{
	bool added = vde->state != VDE_STATE_ADDED;

	put_disk(vde->disk);
	if (!added)
		put_device(&vde->ring_dev);
}

static const struct block_device_operations vde_bdev_ops = {
	.owner		= THIS_MODULE,
	.open		= vde_bdev_open,
	.release	= vde_bdev_release,
	.free_disk	= vde_free_disk,
};

/**
 * vde_disk_name_taken() - whether a block device named vdeN exists
 * @index: N
 *
 * /dev/vdeN can collide with the partitions of a fifth virtio disk
 * (vde1, vde2, ...).  Looking the name up in sysfs finds any block device
 * of that name, whoever registered it.
 *
 * Context: process context, may sleep.
 * Return: true if the name is in use.
 */
int vde_disk_name_taken(int index)
{
	char name[48];
	struct path path;

	snprintf(name, sizeof(name), "/sys/class/block/vde%d", index);
	if (kern_path(name, 0, &path))
		return false;
	path_put(&path);
	return true;
}

#ifdef VDE_HAVE_BLK_FEATURES
static struct gendisk *vde_alloc_disk(struct vde_device *vde)
{
	struct queue_limits lim = {
		.logical_block_size	= vde->logical_block_size,
		.physical_block_size	= max_t(u32, vde->logical_block_size,
						SZ_4K),
		.io_min			= SZ_4K,
		.io_opt			= vde->block_size,
		.max_hw_sectors		= vde_max_hw_sectors(vde),
		.dma_alignment		= vde->dio_align - 1,
		/* Non-rotational: BLK_FEAT_ROTATIONAL is not set. */
		.features		= BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA,
	};

	if (vde->can_discard && !(vde->flags & VDE_DEV_READ_ONLY)) {
		lim.max_hw_discard_sectors = UINT_MAX >> SECTOR_SHIFT;
		lim.max_write_zeroes_sectors = UINT_MAX >> SECTOR_SHIFT;
		lim.discard_granularity = vde->block_size;
	}
	return vde_alloc_disk_compat(&vde->tag_set, &lim, vde);
}
#else
static struct gendisk *vde_alloc_disk(struct vde_device *vde)
{
	struct request_queue *q;
	struct gendisk *disk;

	disk = vde_alloc_disk_compat(&vde->tag_set, NULL, vde);
	if (IS_ERR(disk))
		return disk;
	q = disk->queue;
	blk_queue_logical_block_size(q, vde->logical_block_size);
	blk_queue_physical_block_size(q, max_t(u32, vde->logical_block_size,
					       SZ_4K));
	blk_queue_io_min(q, SZ_4K);
	blk_queue_io_opt(q, vde->block_size);
	blk_queue_max_hw_sectors(q, vde_max_hw_sectors(vde));
	blk_queue_dma_alignment(q, vde->dio_align - 1);
	blk_queue_write_cache(q, true, true);
	/* 6.1 makes new queues rotational; ours is not. */
	blk_queue_flag_set(QUEUE_FLAG_NONROT, q);
	blk_queue_flag_clear(QUEUE_FLAG_ADD_RANDOM, q);
	if (vde->can_discard && !(vde->flags & VDE_DEV_READ_ONLY)) {
		blk_queue_max_discard_sectors(q, UINT_MAX >> SECTOR_SHIFT);
		blk_queue_max_write_zeroes_sectors(q, UINT_MAX >> SECTOR_SHIFT);
		q->limits.discard_granularity = vde->block_size;
	}
	return disk;
}
#endif

static int vde_init_tag_set(struct vde_device *vde)
{
	struct blk_mq_tag_set *set = &vde->tag_set;

	set->ops = &vde_mq_ops;
	set->nr_hw_queues = vde->nr_hw_queues;
	set->queue_depth = vde->queue_depth;
	set->numa_node = NUMA_NO_NODE;
	set->cmd_size = sizeof(struct vde_cmd);
	set->flags = BLK_MQ_F_SHOULD_MERGE | BLK_MQ_F_STACKING |
		     BLK_MQ_F_NO_SCHED_BY_DEFAULT;
	set->driver_data = vde;
	return blk_mq_alloc_tag_set(set);
}

/**
 * vde_dev_create() - allocate a device in state ADDED
 * @add: the checked ADD request; @add->index is the index to use
 * @regions: the checked region map; owned by the device on success
 * @backing: the backing file; its reference is owned by the device on
 *	success
 *
 * Context: process context, may sleep; vde_ctl_mutex held.
 * Return: the device or an ERR_PTR().
 */
struct vde_device *vde_dev_create(const struct vde_dev_add *add,
				  struct vde_region_entry *regions,
				  struct file *backing)
{
	struct vde_device *vde;
	struct gendisk *disk;
	int ret;

	vde = kzalloc(sizeof(*vde), GFP_KERNEL);
	if (!vde)
		return ERR_PTR(-ENOMEM);
	atomic_inc(&vde_live_devices);
	device_initialize(&vde->ring_dev);
	vde->ring_dev.release = vde_dev_release;
	vde->index = add->index;
	vde->state = VDE_STATE_ADDED;
	vde->flags = add->flags;
	vde->data_offset = add->data_offset;
	vde->nr_blocks = add->nr_blocks;
	vde->block_size = add->block_size;
	vde->block_shift = ilog2(add->block_size);
	vde->logical_block_size = add->logical_block_size;
	vde->nr_hw_queues = add->nr_hw_queues;
	vde->queue_depth = add->queue_depth;
	vde->nr_regions = add->nr_regions;
	memcpy(vde->uuid, add->uuid, sizeof(vde->uuid));
	vde->backing = backing;

	ret = vde_backing_check(vde);
	if (ret)
		goto out_put;
	ret = -ENOMEM;
	vde->stats = alloc_percpu(struct vde_stats);
	if (!vde->stats)
		goto out_put;
	if (vde_ring_needed(add, regions)) {
		ret = vde_ring_create(vde);
		if (ret)
			goto out_put;
	}
	ret = -ENOMEM;
	vde->wq = alloc_workqueue("vde%d", WQ_UNBOUND | WQ_MEM_RECLAIM, 0,
				  vde->index);
	if (!vde->wq)
		goto out_put;
	ret = vde_init_tag_set(vde);
	if (ret)
		goto out_destroy_wq;
	disk = vde_alloc_disk(vde);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto out_free_tags;
	}
	disk->major = vde_major;
	disk->first_minor = vde->index << VDE_PART_BITS;
	disk->minors = 1 << VDE_PART_BITS;
	disk->fops = &vde_bdev_ops;
	disk->private_data = vde;
	snprintf(disk->disk_name, sizeof(disk->disk_name), "vde%d", vde->index);
	set_capacity(disk, vde->nr_blocks << (vde->block_shift - SECTOR_SHIFT));
	set_disk_ro(disk, vde->flags & VDE_DEV_READ_ONLY);
	vde->disk = disk;
	/*
	 * From here on the disk holds a reference to @vde, which
	 * vde_dev_put_disk() drops.
	 */
	vde->regions = regions;
	if (vde->ring) {
		ret = vde_ring_add_cdev(vde);
		if (ret) {
			vde->regions = NULL;
			destroy_workqueue(vde->wq);
			blk_mq_free_tag_set(&vde->tag_set);
			vde_dev_put_disk(vde);
			return ERR_PTR(ret);
		}
	}
	return vde;

out_free_tags:
	blk_mq_free_tag_set(&vde->tag_set);
out_destroy_wq:
	destroy_workqueue(vde->wq);
out_put:
	put_device(&vde->ring_dev);
	return ERR_PTR(ret);
}

/**
 * vde_dev_start() - create /dev/vdeN
 * @vde: a device in state ADDED
 *
 * Context: process context, may sleep; vde_ctl_mutex held.
 * Return: 0; -EBUSY if not in state ADDED; -EEXIST if the name is taken;
 * or the error of device_add_disk().
 */
int vde_dev_start(struct vde_device *vde)
{
	int ret;

	if (vde->state != VDE_STATE_ADDED)
		return -EBUSY;
	if (vde_disk_name_taken(vde->index))
		return -EEXIST;
	vde_ring_starting(vde, true);
	ret = device_add_disk(NULL, vde->disk, vde_disk_groups);
	vde_ring_starting(vde, false);
	if (ret)
		return ret;
	vde->state = VDE_STATE_LIVE;
	return 0;
}

/**
 * vde_dev_stop() - remove /dev/vdeN
 * @vde: a device in state LIVE
 * @force: stop even while the block device is open
 *
 * New opens fail from the moment the open count is found acceptable;
 * del_gendisk() then waits for requests in flight.
 *
 * Context: process context, may sleep; vde_ctl_mutex held.
 * Return: 0; -EINVAL if not LIVE; -EBUSY if open and not @force.
 */
int vde_dev_stop(struct vde_device *vde, bool force)
{
	if (vde->state != VDE_STATE_LIVE)
		return -EINVAL;
	mutex_lock(&vde->disk->open_mutex);
	if (vde->open_count && !force) {
		mutex_unlock(&vde->disk->open_mutex);
		return -EBUSY;
	}
	vde->state = VDE_STATE_STOPPED;
	mutex_unlock(&vde->disk->open_mutex);
	vde_ring_stopping(vde);
	del_gendisk(vde->disk);
	vde_ring_kill(vde);
	return 0;
}

/**
 * vde_dev_destroy() - free a device that is not LIVE
 * @vde: the device, in state ADDED or STOPPED
 *
 * No request can be in flight: the disk was never added or has been
 * deleted.  The structure itself goes when the disk's last reference and
 * /dev/vdecN's do (vde_dev_release()), which may be later if the block
 * device or the helper data plane is still open.
 *
 * Context: process context, may sleep; vde_ctl_mutex held.
 */
void vde_dev_destroy(struct vde_device *vde)
{
	vde_ring_remove(vde);
	destroy_workqueue(vde->wq);
	fput(vde->backing);
	vde->backing = NULL;
	blk_mq_free_tag_set(&vde->tag_set);
	vde_dev_put_disk(vde);
}

/**
 * vde_dev_fill_info() - describe a device for GET_INFO
 * @vde: the device
 * @info: filled except @size and @index
 *
 * Context: process context; vde_ctl_mutex held.
 */
void vde_dev_fill_info(struct vde_device *vde, struct vde_dev_info *info)
{
	struct inode *inode = file_inode(vde->backing);

	info->state = vde->state;
	info->flags = vde->flags;
	info->data_offset = vde->data_offset;
	info->nr_blocks = vde->nr_blocks;
	info->block_size = vde->block_size;
	info->logical_block_size = vde->logical_block_size;
	info->nr_hw_queues = vde->nr_hw_queues;
	info->queue_depth = vde->queue_depth;
	info->nr_regions = vde->nr_regions;
	mutex_lock(&vde->disk->open_mutex);
	info->open_count = vde->open_count;
	mutex_unlock(&vde->disk->open_mutex);
	info->backing_dev = new_encode_dev(inode->i_sb->s_dev);
	info->backing_ino = inode->i_ino;
	memcpy(info->uuid, vde->uuid, sizeof(info->uuid));
}
