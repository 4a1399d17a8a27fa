// SPDX-License-Identifier: GPL-2.0
/*
 * vde: the control device, /dev/vde-control.
 *
 * Every control ioctl takes a versioned structure whose first field is its
 * size.  The size and every reserved or output-only field are checked before
 * anything else is done, so that unknown input can never be half-obeyed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cpumask.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <uapi/linux/vde.h>

#include "vde.h"

static_assert(sizeof(struct vde_features) == VDE_FEATURES_SIZE_V1);

/* Indices fit the minor space: VDE_PART_BITS minors each, 20 bits in all. */
#define VDE_MAX_INDEX		(1 << (MINORBITS - VDE_PART_BITS))
#define VDE_DEV_KNOWN_FLAGS	(VDE_DEV_READ_ONLY | VDE_DEV_VIA_HELPER | \
				 VDE_DEV_HELPER_HOLD)

static DEFINE_MUTEX(vde_ctl_mutex);
static DEFINE_IDR(vde_devices);		/* protected by vde_ctl_mutex */
static unsigned int vde_nr_devices;	/* protected by vde_ctl_mutex */

/**
 * vde_fill_features() - describe what this module supports
 * @feat: structure to fill; every field is overwritten
 *
 * Context: any context.
 */
void vde_fill_features(struct vde_features *feat)
{
	memset(feat, 0, sizeof(*feat));
	feat->size = sizeof(*feat);
	feat->abi_version = VDE_ABI_VERSION;
	feat->features = VDE_FEAT_CONTROL | VDE_FEAT_DEVICES |
			 VDE_FEAT_HELPER_URING | VDE_FEAT_HELPER_IOCTL;
	feat->max_devices = vde_max_devices;
	feat->max_hw_queues = nr_cpu_ids;
	feat->max_queue_depth = VDE_MAX_QUEUE_DEPTH;
	feat->max_regions = VDE_MAX_REGIONS;
}

/* Everything but @size is output only and must come in as zero. */
static bool vde_features_input_valid(const struct vde_features *in)
{
	return in->size == sizeof(*in) &&
	       !memchr_inv(&in->abi_version, 0,
			   sizeof(*in) - offsetof(struct vde_features, abi_version));
}

static long vde_ctl_get_features(struct vde_features __user *uarg)
{
	struct vde_features feat;

	if (copy_from_user(&feat, uarg, sizeof(feat)))
		return -EFAULT;
	if (!vde_features_input_valid(&feat))
		return -EINVAL;
	vde_fill_features(&feat);
	if (copy_to_user(uarg, &feat, sizeof(feat)))
		return -EFAULT;
	return 0;
}

/* Geometry and shape of an ADD request, before anything is allocated. */
static int vde_add_check(struct vde_dev_add *add)
{
	u64 max_blocks;

	if (add->size != sizeof(*add) || add->reserved0 ||
	    memchr_inv(add->reserved, 0, sizeof(add->reserved)))
		return -EINVAL;
	if (add->flags & ~VDE_DEV_KNOWN_FLAGS)
		return -EINVAL;
	if (!is_power_of_2(add->block_size) || add->block_size < SZ_4K ||
	    add->block_size > SZ_64K)
		return -EINVAL;
	if (add->logical_block_size != 512 && add->logical_block_size != 4096)
		return -EINVAL;
	if (add->data_offset % add->block_size)
		return -EINVAL;
	/* The device must be addressable in 512-byte sectors and bytes. */
	max_blocks = (U64_MAX >> 1) >> ilog2(add->block_size);
	if (!add->nr_blocks || add->nr_blocks > max_blocks ||
	    add->data_offset > (U64_MAX >> 1) -
			       (add->nr_blocks << ilog2(add->block_size)))
		return -EINVAL;
	if (add->nr_hw_queues > nr_cpu_ids ||
	    add->queue_depth > VDE_MAX_QUEUE_DEPTH)
		return -EINVAL;
	if (!add->nr_regions || add->nr_regions > VDE_MAX_REGIONS)
		return -EINVAL;
	if (add->index != VDE_INDEX_ANY &&
	    (add->index < 0 || add->index >= VDE_MAX_INDEX))
		return -EINVAL;
	if (!add->nr_hw_queues)
		add->nr_hw_queues = min(num_online_cpus(), nr_cpu_ids);
	if (!add->queue_depth)
		add->queue_depth = VDE_DEFAULT_QUEUE_DEPTH;
	return 0;
}

static struct vde_region_entry *vde_add_regions(const struct vde_dev_add *add)
{
	struct vde_region_entry *map;
	int ret;

	map = kvmalloc_array(add->nr_regions, sizeof(*map), GFP_KERNEL);
	if (!map)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(map, u64_to_user_ptr(add->regions),
			   add->nr_regions * sizeof(*map))) {
		ret = -EFAULT;
		goto out_free;
	}
	ret = vde_regions_check(map, add->nr_regions, add->nr_blocks);
	if (ret)
		goto out_free;
	return map;

out_free:
	kvfree(map);
	return ERR_PTR(ret);
}

static struct file *vde_add_backing(const struct vde_dev_add *add)
{
	bool writable = !(add->flags & VDE_DEV_READ_ONLY);
	struct file *file;
	struct inode *inode;
	int ret;

	file = fget(add->backing_fd);
	if (!file)
		return ERR_PTR(-EBADF);
	inode = file_inode(file);
	ret = -EISDIR;
	if (S_ISDIR(inode->i_mode))
		goto out_put;
	ret = -EINVAL;
	if (!S_ISREG(inode->i_mode) || !file->f_op->read_iter ||
	    !file->f_op->write_iter)
		goto out_put;
	ret = -EBADF;
	if (!(file->f_mode & FMODE_READ))
		goto out_put;
	ret = -EACCES;
	if (writable && !(file->f_mode & FMODE_WRITE))
		goto out_put;
	ret = -ERANGE;
	if (i_size_read(inode) < add->data_offset +
				 (add->nr_blocks << ilog2(add->block_size)))
		goto out_put;
	return file;

out_put:
	fput(file);
	return ERR_PTR(ret);
}

/* An image may be attached read-write only once, and then not read-only. */
static int vde_backing_conflict(struct file *file, bool writable)
{
	struct vde_device *vde;
	int id;

	lockdep_assert_held(&vde_ctl_mutex);
	idr_for_each_entry(&vde_devices, vde, id) {
		if (file_inode(vde->backing) != file_inode(file))
			continue;
		if (writable || !(vde->flags & VDE_DEV_READ_ONLY))
			return -EBUSY;
	}
	return 0;
}

/* Reserve an index: the one asked for, or the lowest whose name is free. */
static int vde_alloc_index(int want)
{
	int id, start = 0;

	lockdep_assert_held(&vde_ctl_mutex);
	if (want != VDE_INDEX_ANY) {
		id = idr_alloc(&vde_devices, NULL, want, want + 1, GFP_KERNEL);
		return id == -ENOSPC ? -EEXIST : id;
	}
	for (;;) {
		id = idr_alloc(&vde_devices, NULL, start, VDE_MAX_INDEX,
			       GFP_KERNEL);
		if (id < 0 || !vde_disk_name_taken(id))
			return id;
		idr_remove(&vde_devices, id);
		start = id + 1;
	}
}

static long vde_ctl_add(struct vde_dev_add __user *uarg)
{
	struct vde_region_entry *regions;
	struct vde_device *vde;
	struct vde_dev_add add;
	struct file *backing;
	int ret;

	if (copy_from_user(&add, uarg, sizeof(add)))
		return -EFAULT;
	ret = vde_add_check(&add);
	if (ret)
		return ret;
	regions = vde_add_regions(&add);
	if (IS_ERR(regions))
		return PTR_ERR(regions);
	backing = vde_add_backing(&add);
	if (IS_ERR(backing)) {
		ret = PTR_ERR(backing);
		goto out_free_regions;
	}

	mutex_lock(&vde_ctl_mutex);
	ret = -ENOSPC;
	if (vde_nr_devices >= vde_max_devices)
		goto out_unlock;
	ret = vde_backing_conflict(backing, !(add.flags & VDE_DEV_READ_ONLY));
	if (ret)
		goto out_unlock;
	ret = -ENODEV;
	if (!try_module_get(THIS_MODULE))
		goto out_unlock;
	ret = vde_alloc_index(add.index);
	if (ret < 0)
		goto out_module_put;
	add.index = ret;
	vde = vde_dev_create(&add, regions, backing);
	if (IS_ERR(vde)) {
		ret = PTR_ERR(vde);
		goto out_remove_index;
	}
	/* A caller that cannot learn the index could never remove it. */
	if (put_user(add.index, &uarg->index)) {
		idr_remove(&vde_devices, add.index);
		vde_dev_destroy(vde);
		module_put(THIS_MODULE);
		mutex_unlock(&vde_ctl_mutex);
		return -EFAULT;
	}
	idr_replace(&vde_devices, vde, add.index);
	vde_nr_devices++;
	mutex_unlock(&vde_ctl_mutex);
	return 0;

out_remove_index:
	idr_remove(&vde_devices, add.index);
out_module_put:
	module_put(THIS_MODULE);
out_unlock:
	mutex_unlock(&vde_ctl_mutex);
	fput(backing);
out_free_regions:
	kvfree(regions);
	return ret;
}

static long vde_ctl_dev_cmd(unsigned int cmd, struct vde_dev_cmd __user *uarg)
{
	struct vde_dev_cmd dc;
	struct vde_device *vde;
	bool force;
	long ret;

	if (copy_from_user(&dc, uarg, sizeof(dc)))
		return -EFAULT;
	if (dc.size != sizeof(dc) || dc.reserved0 ||
	    memchr_inv(dc.reserved, 0, sizeof(dc.reserved)))
		return -EINVAL;
	if (dc.flags & ~(cmd == VDE_CTL_START ? 0 : VDE_REMOVE_FORCE))
		return -EINVAL;
	force = dc.flags & VDE_REMOVE_FORCE;

	mutex_lock(&vde_ctl_mutex);
	vde = dc.index < 0 ? NULL : idr_find(&vde_devices, dc.index);
	if (!vde) {
		ret = -ENODEV;
		goto out_unlock;
	}
	switch (cmd) {
	case VDE_CTL_START:
		ret = vde_dev_start(vde);
		break;
	case VDE_CTL_STOP:
		ret = vde_dev_stop(vde, force);
		break;
	default:
		ret = 0;
		if (vde->state == VDE_STATE_LIVE)
			ret = vde_dev_stop(vde, force);
		if (ret)
			break;
		idr_remove(&vde_devices, dc.index);
		vde_nr_devices--;
		vde_dev_destroy(vde);
		module_put(THIS_MODULE);
		break;
	}
out_unlock:
	mutex_unlock(&vde_ctl_mutex);
	return ret;
}

static long vde_ctl_get_info(struct vde_dev_info __user *uarg)
{
	struct vde_dev_info info;
	struct vde_device *vde;
	int index;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.size != sizeof(info) ||
	    memchr_inv(&info.state, 0,
		       sizeof(info) - offsetof(struct vde_dev_info, state)))
		return -EINVAL;
	index = info.index;

	mutex_lock(&vde_ctl_mutex);
	vde = index < 0 ? NULL : idr_find(&vde_devices, index);
	if (vde)
		vde_dev_fill_info(vde, &info);
	mutex_unlock(&vde_ctl_mutex);
	if (!vde)
		return -ENODEV;
	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long vde_ctl_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VDE_CTL_GET_FEATURES:
		return vde_ctl_get_features(uarg);
	case VDE_CTL_GET_INFO:
		return vde_ctl_get_info(uarg);
	case VDE_CTL_ADD:
	case VDE_CTL_START:
	case VDE_CTL_STOP:
	case VDE_CTL_REMOVE:
		break;
	default:
		return -ENOTTY;
	}
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (cmd == VDE_CTL_ADD)
		return vde_ctl_add(uarg);
	return vde_ctl_dev_cmd(cmd, uarg);
}

static const struct file_operations vde_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= vde_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vde_ctl_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= VDE_CONTROL_NAME,
	.fops	= &vde_ctl_fops,
	.mode	= 0600,
};

/**
 * vde_control_init() - register /dev/vde-control
 *
 * Context: process context, module init.
 * Return: 0 or a negative errno from misc_register().
 */
int vde_control_init(void)
{
	int ret;

	ret = misc_register(&vde_ctl_dev);
	if (ret)
		pr_err("cannot register /dev/%s: %d\n", VDE_CONTROL_NAME, ret);
	return ret;
}

/**
 * vde_control_exit() - unregister /dev/vde-control
 *
 * Context: process context, module exit.
 */
void vde_control_exit(void)
{
	misc_deregister(&vde_ctl_dev);
}
