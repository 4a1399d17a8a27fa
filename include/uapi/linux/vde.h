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
 * %VDE_FEAT_CONTROL: the control device answers GET_FEATURES.  Always set.
 *
 * %VDE_FEAT_DEVICES: ADD, START, STOP, REMOVE and GET_INFO create and manage
 * /dev/vdeN devices whose plain regions are served in the kernel.
 */
#define VDE_FEAT_CONTROL	(1ULL << 0)
#define VDE_FEAT_DEVICES	(1ULL << 1)

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
 * DOC: region map
 *
 * A device's region map tells the kernel, for every block of the device,
 * how to serve it.  It is a sorted array of &struct vde_region_entry that
 * covers blocks 0..nr_blocks-1 of the device exactly: the first entry starts
 * at block 0, each next entry starts where the previous one ended, the last
 * one ends at nr_blocks, and no entry is empty.  Blocks are counted in the
 * device's block size (the image's block size), from device block 0.
 *
 * %VDE_REGION_ENCRYPTED: the blocks are encrypted in the backing file and
 * are served by the userspace helper.
 *
 * %VDE_REGION_HIDDEN: the blocks read as zeros and writes to them fail
 * (key material that must not be exported).
 *
 * An entry with neither flag is plain: served by the kernel straight from
 * the backing file.
 */
#define VDE_REGION_ENCRYPTED	(1U << 0)
#define VDE_REGION_HIDDEN	(1U << 1)

/**
 * struct vde_region_entry - one extent of a device's region map
 * @first_block: first device block of the extent
 * @nr_blocks: number of blocks, at least 1
 * @flags: %VDE_REGION_* bits; ENCRYPTED and HIDDEN are exclusive
 * @reserved: must be zero
 */
struct vde_region_entry {
	__u64 first_block;
	__u64 nr_blocks;
	__u32 flags;
	__u32 reserved;
};

/**
 * DOC: device flags
 *
 * Flags of &vde_dev_add.flags, also reported in &vde_dev_info.flags.
 *
 * %VDE_DEV_READ_ONLY: the device refuses writes, discards and
 * write-zeroes; the backing file may be opened read-only.
 *
 * %VDE_DEV_VIA_HELPER: every request goes to the userspace helper, plain
 * regions included.
 */
#define VDE_DEV_READ_ONLY	(1U << 0)
#define VDE_DEV_VIA_HELPER	(1U << 1)

/** VDE_INDEX_ANY - &vde_dev_add.index value asking for any free index */
#define VDE_INDEX_ANY		(-1)

/**
 * struct vde_dev_add - describe a new device (%VDE_CTL_ADD)
 * @size: sizeof(struct vde_dev_add)
 * @flags: %VDE_DEV_* bits
 * @backing_fd: open file descriptor of the image file; the kernel takes its
 *	own reference, the caller may close it afterwards
 * @index: in: the N of /dev/vdeN wanted, or %VDE_INDEX_ANY; out: the index
 *	given
 * @data_offset: byte offset in the backing file of device block 0; a
 *	multiple of @block_size
 * @nr_blocks: device size in blocks of @block_size
 * @block_size: the image's block size: a power of two, 4096 to 65536
 * @logical_block_size: the logical block size the device advertises: 512
 *	or 4096
 * @nr_hw_queues: hardware queues, 0 for the default (one per CPU, at most
 *	&vde_features.max_hw_queues)
 * @queue_depth: tags per hardware queue, 0 for the default (128), at most
 *	%VDE_MAX_QUEUE_DEPTH
 * @nr_regions: entries at @regions, 1 to %VDE_MAX_REGIONS
 * @reserved0: must be zero
 * @regions: user address of the region map, nr_regions entries of
 *	&struct vde_region_entry
 * @uuid: the image's volume UUID, shown in sysfs as 32 hex digits
 * @reserved: must be zero
 */
struct vde_dev_add {
	__u32 size;
	__u32 flags;
	__s32 backing_fd;
	__s32 index;
	__u64 data_offset;
	__u64 nr_blocks;
	__u32 block_size;
	__u32 logical_block_size;
	__u32 nr_hw_queues;
	__u32 queue_depth;
	__u32 nr_regions;
	__u32 reserved0;
	__u64 regions;
	__u8 uuid[16];
	__u64 reserved[4];
};

/**
 * DOC: device states
 *
 * %VDE_STATE_ADDED: set up by %VDE_CTL_ADD, no block device yet.
 *
 * %VDE_STATE_LIVE: /dev/vdeN exists and serves I/O (%VDE_CTL_START).
 *
 * %VDE_STATE_STOPPED: the block device was removed (%VDE_CTL_STOP); only
 * %VDE_CTL_REMOVE and %VDE_CTL_GET_INFO remain.
 */
#define VDE_STATE_ADDED		1
#define VDE_STATE_LIVE		2
#define VDE_STATE_STOPPED	3

/**
 * struct vde_dev_info - the state of one device (%VDE_CTL_GET_INFO)
 * @size: sizeof(struct vde_dev_info)
 * @index: in: the device's index
 * @state: out: %VDE_STATE_*
 * @flags: out: %VDE_DEV_* flags given at ADD
 * @data_offset: out: as given at ADD
 * @nr_blocks: out: as given at ADD
 * @block_size: out: as given at ADD
 * @logical_block_size: out: as given at ADD
 * @nr_hw_queues: out: hardware queues in use
 * @queue_depth: out: tags per hardware queue
 * @nr_regions: out: entries in the region map
 * @open_count: out: how many times the block device is open now
 * @backing_dev: out: st_dev of the backing file (new_encode_dev() form)
 * @backing_ino: out: st_ino of the backing file
 * @uuid: out: as given at ADD
 * @reserved: out: zero; in: everything but @size and @index must be zero
 */
struct vde_dev_info {
	__u32 size;
	__s32 index;
	__u32 state;
	__u32 flags;
	__u64 data_offset;
	__u64 nr_blocks;
	__u32 block_size;
	__u32 logical_block_size;
	__u32 nr_hw_queues;
	__u32 queue_depth;
	__u32 nr_regions;
	__u32 open_count;
	__u64 backing_dev;
	__u64 backing_ino;
	__u8 uuid[16];
	__u64 reserved[4];
};

/**
 * DOC: remove flags
 *
 * %VDE_REMOVE_FORCE: stop and remove the device even while its block
 * device is open; I/O still in flight completes, later I/O fails.
 */
#define VDE_REMOVE_FORCE	(1U << 0)

/**
 * struct vde_dev_cmd - name a device for START, STOP and REMOVE
 * @size: sizeof(struct vde_dev_cmd)
 * @index: the device's index
 * @flags: %VDE_REMOVE_FORCE for STOP and REMOVE; 0 for START
 * @reserved0: must be zero
 * @reserved: must be zero
 */
struct vde_dev_cmd {
	__u32 size;
	__s32 index;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

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

/**
 * VDE_CTL_ADD - set up a device over a backing file and a region map
 *
 * Needs CAP_SYS_ADMIN.  Validates everything (see &struct vde_dev_add) and
 * allocates the device in state %VDE_STATE_ADDED; &vde_dev_add.index
 * returns its index.
 *
 * Return: 0; -EINVAL for a malformed request or region map; -EBADF for a
 * bad @backing_fd; -EISDIR for a directory; -EACCES for a read-only file
 * and a writable device; -ERANGE when the device ends past the end of the
 * backing file; -EEXIST for an index in use; -ENOSPC when max_devices
 * exist; -EPERM without CAP_SYS_ADMIN; -EFAULT; -ENOMEM.
 */
#define VDE_CTL_ADD		_IOWR(VDE_IOC_MAGIC, 0x01, struct vde_dev_add)

/**
 * VDE_CTL_START - create /dev/vdeN for an added device
 *
 * Return: 0; -ENODEV for no such device; -EBUSY if it is not in state
 * %VDE_STATE_ADDED; -EEXIST when the name is taken by another disk.
 */
#define VDE_CTL_START		_IOW(VDE_IOC_MAGIC, 0x02, struct vde_dev_cmd)

/**
 * VDE_CTL_STOP - remove /dev/vdeN, keeping the device's state
 *
 * Return: 0; -ENODEV; -EBUSY while the block device is open unless
 * %VDE_REMOVE_FORCE.
 */
#define VDE_CTL_STOP		_IOW(VDE_IOC_MAGIC, 0x03, struct vde_dev_cmd)

/**
 * VDE_CTL_REMOVE - stop if needed and free a device and its index
 *
 * Return: 0; -ENODEV; -EBUSY while the block device is open unless
 * %VDE_REMOVE_FORCE.
 */
#define VDE_CTL_REMOVE		_IOW(VDE_IOC_MAGIC, 0x04, struct vde_dev_cmd)

/**
 * VDE_CTL_GET_INFO - report one device (&struct vde_dev_info)
 *
 * Return: 0; -ENODEV for no such device; -EINVAL; -EFAULT.
 */
#define VDE_CTL_GET_INFO	_IOWR(VDE_IOC_MAGIC, 0x05, struct vde_dev_info)

#endif /* _UAPI_LINUX_VDE_H */
