// SPDX-License-Identifier: GPL-2.0
/*
 * vde: the control device, /dev/vde-control.
 *
 * Every control ioctl takes a versioned structure whose first field is its
 * size.  The size and every reserved or output-only field are checked before
 * anything else is done, so that unknown input can never be half-obeyed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <uapi/linux/vde.h>

#include "vde.h"

static_assert(sizeof(struct vde_features) == VDE_FEATURES_SIZE_V1);

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
	feat->features = VDE_FEAT_CONTROL;
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

static long vde_ctl_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VDE_CTL_GET_FEATURES:
		return vde_ctl_get_features(uarg);
	default:
		return -ENOTTY;
	}
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
