// SPDX-License-Identifier: GPL-2.0
/*
 * vde: VDE v2 image files as block devices - module entry points.
 *
 * vde.ko never parses the image format.  vdectl validates an image in
 * userspace and hands the kernel a backing file and a region map; plain
 * regions are served in the kernel by direct I/O on the backing file and
 * encrypted regions by a userspace helper over a shared ring.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bits.h>
#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <uapi/linux/vde.h>

#include "vde.h"

/* Keeps every device index in the minor range of one block major. */
#define VDE_MAX_DEVICES_LIMIT	BIT(16)

unsigned int vde_max_devices = 256;
int vde_major;
/* Device structures not yet freed: none may be left when the module goes. */
atomic_t vde_live_devices = ATOMIC_INIT(0);

static int vde_set_max_devices(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (n < 1 || n > VDE_MAX_DEVICES_LIMIT)
		return -EINVAL;
	*(unsigned int *)kp->arg = n;
	return 0;
}

static const struct kernel_param_ops vde_max_devices_ops = {
	.set = vde_set_max_devices,
	.get = param_get_uint,
};

module_param_cb(max_devices, &vde_max_devices_ops, &vde_max_devices, 0444);
MODULE_PARM_DESC(max_devices,
		 "Most /dev/vdeN devices that may exist at once (1-65536, default 256)");

static int __init vde_init(void)
{
	int ret;

	ret = register_blkdev(0, "vde");
	if (ret < 0)
		return ret;
	vde_major = ret;
	ret = vde_ring_init();
	if (ret)
		goto out_unregister_blkdev;
	ret = vde_control_init();
	if (ret)
		goto out_ring_exit;
	pr_info("loaded, ABI version %d, max_devices %u\n",
		VDE_ABI_VERSION, vde_max_devices);
	return 0;

out_ring_exit:
	vde_ring_exit();
out_unregister_blkdev:
	unregister_blkdev(vde_major, "vde");
	return ret;
}

static void __exit vde_exit(void)
{
	vde_control_exit();
	vde_ring_exit();
	unregister_blkdev(vde_major, "vde");
	WARN(atomic_read(&vde_live_devices), "vde: %d device structures leaked\n",
	     atomic_read(&vde_live_devices));
	pr_info("unloaded\n");
}

module_init(vde_init);
module_exit(vde_exit);

MODULE_DESCRIPTION("VDE v2 image files as block devices");
MODULE_AUTHOR("The vde authors");
MODULE_LICENSE("GPL");
