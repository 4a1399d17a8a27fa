/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vde: VDE v2 image files as block devices - the kernel/user ABI.
 *
 * This header is the only interface between vde.ko and userspace.  Every
 * structure has fixed-width fields, natural alignment, explicit padding and
 * a size that is a multiple of 8 bytes.  Reserved fields must be zero on
 * input; the kernel rejects anything else with -EINVAL so that they can be
 * given a meaning later.  Errors are returned as -1 with errno set.
 */
#ifndef _UAPI_LINUX_VDE_H
#define _UAPI_LINUX_VDE_H

#include <linux/ioctl.h>
#include <linux/types.h>

/** VDE_CONTROL_NAME - misc device name of the control node, /dev/vde-control */
#define VDE_CONTROL_NAME	"vde-control"

/** VDE_ABI_VERSION - version of this ABI, reported by %VDE_CTL_GET_FEATURES */
#define VDE_ABI_VERSION		1

/** VDE_IOC_MAGIC - ioctl type byte shared by every vde ioctl */
#define VDE_IOC_MAGIC		0xDE

/** VDE_MAX_QUEUE_DEPTH - most tags a hardware queue of a vde device can have */
#define VDE_MAX_QUEUE_DEPTH	4096

/**
 * VDE_MAX_REGIONS - most entries in a device's region map
 *
 * A VDE v2 image has at most 127 region slots, so its map over blocks
 * 0..TotalBlocks-1 has at most 255 extents.
 */
#define VDE_MAX_REGIONS		256

/**
 * DOC: feature bits
 *
 * Bits reported in &vde_features.features.  A bit is set only when the
 * running module implements the feature; userspace must not assume a feature
 * from the ABI version alone.
 *
 * %VDE_FEAT_CONTROL: the control device answers the versioned control ioctls
 * of this header.  Always set.
 */
#define VDE_FEAT_CONTROL	(1ULL << 0)

/**
 * struct vde_features - what the running vde.ko supports
 * @size: in: must be sizeof(struct vde_features) (%VDE_FEATURES_SIZE_V1);
 *	out: the size the kernel filled in
 * @abi_version: out: %VDE_ABI_VERSION of the running module; in: must be 0
 * @features: out: %VDE_FEAT_* bits; in: must be 0
 * @max_devices: out: how many block devices may exist at once (module
 *	parameter ``max_devices``); in: must be 0
 * @max_hw_queues: out: upper bound on hardware queues per device (the
 *	number of possible CPUs); in: must be 0
 * @max_queue_depth: out: upper bound on tags per hardware queue
 *	(%VDE_MAX_QUEUE_DEPTH); in: must be 0
 * @max_regions: out: upper bound on region map entries per device
 *	(%VDE_MAX_REGIONS); in: must be 0
 * @reserved: must be zero on input; zero on output
 *
 * Read with %VDE_CTL_GET_FEATURES.  Userspace zero-fills the structure and
 * sets @size; a wrong @size or a non-zero value in any other field gives
 * -EINVAL.  Later ABI versions may only grow the structure at its end, and
 * will keep accepting this size.
 */
struct vde_features {
	__u32 size;
	__u32 abi_version;
	__u64 features;
	__u32 max_devices;
	__u32 max_hw_queues;
	__u32 max_queue_depth;
	__u32 max_regions;
	__u64 reserved[4];
};

/** VDE_FEATURES_SIZE_V1 - sizeof(struct vde_features) in ABI version 1 */
#define VDE_FEATURES_SIZE_V1	64

/**
 * VDE_CTL_GET_FEATURES - report the module's ABI version, features and limits
 *
 * Issued on /dev/vde-control with a &struct vde_features.  Needs no
 * capability beyond access to the device node.
 *
 * Return: 0 on success; -EINVAL for a wrong size or non-zero input field;
 * -EFAULT for an unreadable or unwritable argument.
 */
#define VDE_CTL_GET_FEATURES	_IOWR(VDE_IOC_MAGIC, 0x00, struct vde_features)

#endif /* _UAPI_LINUX_VDE_H */
