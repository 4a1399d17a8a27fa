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
 *
 * %VDE_FEAT_HELPER_URING: devices with encrypted regions or
 * %VDE_DEV_VIA_HELPER have a helper data plane, /dev/vdecN, driven by
 * io_uring %IORING_OP_URING_CMD commands %VDE_RING_FETCH and
 * %VDE_RING_COMMIT_AND_FETCH.
 *
 * %VDE_FEAT_HELPER_IOCTL: the same data plane can be driven with the
 * blocking ioctls %VDE_RING_WAIT and %VDE_RING_COMMIT.
 */
#define VDE_FEAT_CONTROL	(1ULL << 0)
#define VDE_FEAT_DEVICES	(1ULL << 1)
#define VDE_FEAT_HELPER_URING	(1ULL << 2)
#define VDE_FEAT_HELPER_IOCTL	(1ULL << 3)

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
 *
 * %VDE_DEV_HELPER_HOLD: when the helper is lost (or before one is
 * attached), requests that need it are held until a new helper arms the
 * ring, then reissued to it.  Without this flag they fail with -EIO.  The
 * blk-mq timeout does not end held requests; removing the device does.
 * During %VDE_CTL_START (the partition scan) nothing is held: attach the
 * helper before START.
 */
#define VDE_DEV_READ_ONLY	(1U << 0)
#define VDE_DEV_VIA_HELPER	(1U << 1)
#define VDE_DEV_HELPER_HOLD	(1U << 2)

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
 *	%VDE_MAX_QUEUE_DEPTH; a device with a helper allocates one
 *	%VDE_RING_BUF_SIZE data buffer per tag of every queue, and may have
 *	at most 4096 tags in all
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

/**
 * DOC: helper data plane
 *
 * A device whose region map has %VDE_REGION_ENCRYPTED extents, or that was
 * added with %VDE_DEV_VIA_HELPER, gets a character device /dev/vdecN (same
 * N as /dev/vdeN) from %VDE_CTL_ADD until %VDE_CTL_REMOVE; from
 * %VDE_CTL_STOP on, FETCH, COMMIT_AND_FETCH, WAIT and COMMIT fail with
 * -ENODEV (GET_INFO and mmap still work).  A userspace
 * helper serves, through it, every request that touches an encrypted block
 * (every request, in via-helper mode); all other requests never leave the
 * kernel.
 *
 * Memory, mapped with mmap() on /dev/vdecN:
 *
 * - The descriptor array of hardware queue q, read only, at offset
 *   q * %VDE_RING_DESC_STRIDE: queue_depth entries of
 *   &struct vde_io_desc, indexed by tag.
 * - The data buffers, shared and writable, at %VDE_RING_BUF_OFFSET: one
 *   buffer of %VDE_RING_BUF_SIZE bytes per tag, the buffer of tag t of
 *   queue q at %VDE_RING_BUF_OFFSET + (q * queue_depth + t) *
 *   %VDE_RING_BUF_SIZE.  The pages belong to the kernel and are
 *   allocated when the device is added; the mapping is shmem-backed, so
 *   the helper can register it with io_uring as fixed buffers and read and
 *   write the backing file straight into it with O_DIRECT.  After a
 *   helper is lost, the next mapping of the buffers gets new pages (the
 *   lost helper's I/O may still land in the old ones), and a helper
 *   attaches only through a file whose last mapping of the buffers is of
 *   the pages in use.
 *
 * Ownership of a tag moves between the kernel and the helper:
 *
 * 1. FREE: the helper has not armed the tag.  A request that arrives for
 *    it waits (%VDE_DEV_HELPER_HOLD) or fails with -EIO.
 * 2. ARMED: the helper has armed it (%VDE_RING_FETCH, or any
 *    %VDE_RING_WAIT on its queue) and owns nothing.
 * 3. OWNED: the kernel has published a request: it wrote the descriptor
 *    and, for a write, copied the data into the tag's buffer, and then
 *    completed the FETCH (CQE res 0) or returned the tag from
 *    %VDE_RING_WAIT.  The helper now owns the descriptor and buffer.
 * 4. The helper commits a result (%VDE_RING_COMMIT_AND_FETCH,
 *    %VDE_RING_COMMIT, or the commits of %VDE_RING_WAIT); the kernel
 *    copies a read's data out of the buffer, completes the request and
 *    the tag is ARMED again.
 *
 * Memory ordering: the kernel writes a descriptor and buffer before it
 * publishes the tag; the CQE (or the return of %VDE_RING_WAIT) orders
 * them for the helper.  The helper's writes to a buffer are ordered
 * before the kernel reads it by the commit system call.
 *
 * The helper is not trusted: a command for a queue or tag out of range,
 * for a tag the helper does not own, or from another process fails with
 * -EINVAL (-EBUSY while another process is the helper); a result larger
 * than the request is clamped; a short or negative result fails the
 * request with -EIO (or the negative errno), and a failed read never
 * returns the buffer's contents.
 *
 * The helper is lost when a thread that armed a queue exits or its last
 * reference to /dev/vdecN is closed; the kernel notices within
 * %VDE_RING_MONITOR_MS.  Its armed FETCH commands then complete with
 * -ENODEV, requests it owned fail with -EIO or are held
 * (%VDE_DEV_HELPER_HOLD), and every tag is FREE for a new helper, which
 * must map the data buffers after the loss was noticed: the first FETCH
 * or WAIT of a helper whose mapping is older fails with -ESTALE.  A
 * request a live helper keeps longer than the block layer's timeout
 * (/sys/block/vdeN/queue/io_timeout) fails with -EIO; its tag stays
 * OWNED until the helper commits, and that late result is discarded.
 */

/** VDE_RING_NAME_FMT - name of the helper data plane of device N */
#define VDE_RING_NAME_FMT	"vdec%d"

/** VDE_RING_BUF_SIZE - bytes of one tag's data buffer; largest helper request */
#define VDE_RING_BUF_SIZE	(256U * 1024)

/** VDE_RING_DESC_STRIDE - mmap offset between two queues' descriptor arrays */
#define VDE_RING_DESC_STRIDE	(VDE_MAX_QUEUE_DEPTH * 32U)

/** VDE_RING_BUF_OFFSET - mmap offset of the data buffers */
#define VDE_RING_BUF_OFFSET	(1ULL << 31)

/** VDE_RING_MONITOR_MS - how often the kernel checks that the helper lives */
#define VDE_RING_MONITOR_MS	200

/**
 * DOC: helper operations
 *
 * Values of &vde_io_desc.op:
 *
 * %VDE_IO_OP_READ: read @nr_bytes at device byte @offset into the tag's
 * buffer, decrypting encrypted blocks; zeros for hidden blocks.
 *
 * %VDE_IO_OP_WRITE: write @nr_bytes from the tag's buffer, encrypting
 * encrypted blocks.  The helper may encrypt in place; the kernel copies
 * the data again if it has to reissue the request.
 *
 * %VDE_IO_OP_FLUSH: make every completed write durable (fsync).
 *
 * %VDE_IO_OP_DISCARD: deallocate the range (via-helper mode only).
 *
 * %VDE_IO_OP_WRITE_ZEROES: make the range read back as zeros; for
 * encrypted blocks, write encrypted zeros.  @nr_bytes may exceed
 * %VDE_RING_BUF_SIZE; the buffer holds nothing.
 *
 * Flags of &vde_io_desc.flags: %VDE_IO_F_FUA: the write must be durable
 * when committed.  %VDE_IO_F_NOUNMAP: write-zeroes must not deallocate.
 */
#define VDE_IO_OP_READ		0
#define VDE_IO_OP_WRITE		1
#define VDE_IO_OP_FLUSH		2
#define VDE_IO_OP_DISCARD	3
#define VDE_IO_OP_WRITE_ZEROES	4

#define VDE_IO_F_FUA		(1U << 0)
#define VDE_IO_F_NOUNMAP	(1U << 1)

/**
 * struct vde_io_desc - a request published to the helper
 * @op: %VDE_IO_OP_*
 * @reserved0: zero
 * @flags: %VDE_IO_F_*
 * @nr_bytes: length in bytes; 0 for a flush
 * @offset: device byte offset (the backing file offset is this plus the
 *	device's data_offset)
 * @seq: how many requests this tag has carried, this one included
 * @reserved: zero
 */
struct vde_io_desc {
	__u8 op;
	__u8 reserved0;
	__u16 flags;
	__u32 nr_bytes;
	__u64 offset;
	__u64 seq;
	__u64 reserved;
};

/**
 * struct vde_ring_cmd - payload of a helper io_uring command
 * @q_id: hardware queue
 * @tag: tag within the queue
 * @result: %VDE_RING_COMMIT_AND_FETCH: the request's result (see
 *	&struct vde_ring_commit); %VDE_RING_FETCH: must be 0
 * @reserved: must be zero
 *
 * Sent in the 16 command bytes of an %IORING_OP_URING_CMD SQE on
 * /dev/vdecN, with the command number in the SQE's cmd_op.  A FETCH or
 * COMMIT_AND_FETCH completes (CQE res 0) when a request has been published
 * on @tag; -ENODEV when the device or the helper goes away; another
 * negative errno when the command itself was refused.
 */
struct vde_ring_cmd {
	__u16 q_id;
	__u16 tag;
	__s32 result;
	__u64 reserved;
};

/**
 * struct vde_ring_commit - one result in a batch
 * @tag: tag within the batch's queue
 * @reserved: must be zero
 * @result: for a read or write, the bytes transferred: less than the
 *	request's length fails it with -EIO, more is clamped; for a flush,
 *	discard or write-zeroes, any non-negative value is success; or a
 *	negative errno, which the request fails with
 */
struct vde_ring_commit {
	__u16 tag;
	__u16 reserved;
	__s32 result;
};

/** VDE_RING_WAIT_NOWAIT - &vde_ring_batch.flags: arm and return at once */
#define VDE_RING_WAIT_NOWAIT	(1U << 0)

/**
 * struct vde_ring_batch - argument of %VDE_RING_WAIT and %VDE_RING_COMMIT
 * @size: sizeof(struct vde_ring_batch)
 * @q_id: hardware queue
 * @flags: %VDE_RING_WAIT_NOWAIT (WAIT only)
 * @nr_commits: entries at @commits
 * @commits_done: out: how many of them were applied, in order
 * @max_tags: room at @tags (WAIT); must be 0 for COMMIT
 * @nr_tags: out: tags returned at @tags
 * @commits: user address of &struct vde_ring_commit entries
 * @tags: user address of an array of __u16 tags
 * @reserved: must be zero
 */
struct vde_ring_batch {
	__u32 size;
	__u16 q_id;
	__u16 flags;
	__u32 nr_commits;
	__u32 commits_done;
	__u32 max_tags;
	__u32 nr_tags;
	__u64 commits;
	__u64 tags;
	__u64 reserved[2];
};

/**
 * struct vde_ring_info - geometry of a device, for its helper
 * @size: sizeof(struct vde_ring_info)
 * @index: out: N of /dev/vdeN
 * @flags: out: %VDE_DEV_* flags
 * @nr_hw_queues: out: hardware queues
 * @queue_depth: out: tags per queue
 * @buf_size: out: bytes per tag buffer (%VDE_RING_BUF_SIZE)
 * @block_size: out: the image's block size
 * @logical_block_size: out: the device's logical block size
 * @data_offset: out: backing file offset of device block 0
 * @nr_blocks: out: device size in blocks
 * @max_regions: in: room at @regions
 * @nr_regions: out: entries in the region map (copied if they fit)
 * @regions: in: user address for the region map, or 0
 * @reserved: must be zero
 */
struct vde_ring_info {
	__u32 size;
	__s32 index;
	__u32 flags;
	__u32 nr_hw_queues;
	__u32 queue_depth;
	__u32 buf_size;
	__u32 block_size;
	__u32 logical_block_size;
	__u64 data_offset;
	__u64 nr_blocks;
	__u32 max_regions;
	__u32 nr_regions;
	__u64 regions;
	__u64 reserved[4];
};

/**
 * VDE_RING_FETCH - io_uring command: arm a tag
 *
 * The tag must be FREE.  The first command on a queue makes the calling
 * thread that queue's helper thread.
 */
#define VDE_RING_FETCH		_IOWR(VDE_IOC_MAGIC, 0x20, struct vde_ring_cmd)

/**
 * VDE_RING_COMMIT_AND_FETCH - io_uring command: complete and re-arm a tag
 *
 * The tag must be OWNED by the helper.
 */
#define VDE_RING_COMMIT_AND_FETCH \
	_IOWR(VDE_IOC_MAGIC, 0x21, struct vde_ring_cmd)

/**
 * VDE_RING_GET_INFO - ioctl on /dev/vdecN: the device's geometry and map
 *
 * Return: 0; -EINVAL; -EFAULT.
 */
#define VDE_RING_GET_INFO	_IOWR(VDE_IOC_MAGIC, 0x22, struct vde_ring_info)

/**
 * VDE_RING_WAIT - ioctl on /dev/vdecN: commit results, then wait for work
 *
 * The blocking equivalent of the io_uring commands, for systems without
 * io_uring.  The first WAIT on a queue arms all its FREE tags and makes
 * the calling thread the queue's helper thread, whose exit means the
 * helper is lost; later WAITs on the queue must come from that thread.
 * Applies the commits, then sleeps until at least one request is
 * published on the queue (unless %VDE_RING_WAIT_NOWAIT), and returns up
 * to @max_tags published tags.
 *
 * Return: 0; -EINVAL for a bad argument or commit (@commits_done says how
 * many went before it); -EBUSY when another process, another thread or
 * io_uring serves the queue; -ESTALE when a helper was lost since the
 * data buffers were mapped through this file (map them again); -ENODEV
 * when the device or the helper is going away; -EINTR.
 */
#define VDE_RING_WAIT		_IOWR(VDE_IOC_MAGIC, 0x23, struct vde_ring_batch)

/**
 * VDE_RING_COMMIT - ioctl on /dev/vdecN: commit results without waiting
 *
 * May be called by any thread of the helper process.
 *
 * Return: as %VDE_RING_WAIT.
 */
#define VDE_RING_COMMIT		_IOWR(VDE_IOC_MAGIC, 0x24, struct vde_ring_batch)

#endif /* _UAPI_LINUX_VDE_H */
