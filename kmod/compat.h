/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vde: differences between the kernels vde supports (6.1 and 6.12).
 *
 * Debian's stable kernels carry backported APIs, so features are probed
 * (a macro the API defines, or a probe run by Kbuild over the headers),
 * never inferred from LINUX_VERSION_CODE.  Nothing outside this file
 * depends on which kernel it is built for.
 */
#ifndef VDE_COMPAT_H
#define VDE_COMPAT_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>

/*
 * Queue limits: 6.11+ describe a queue entirely in struct queue_limits,
 * with feature flags (BLK_FEAT_*) replacing the queue flags and setters.
 */
#ifdef BLK_FEAT_WRITE_CACHE
#define VDE_HAVE_BLK_FEATURES 1
#endif

/*
 * blk_mq_alloc_disk() takes the queue limits since 6.9; Kbuild defines
 * VDE_HAVE_ALLOC_DISK_LIMITS when the header says so.
 */
#ifdef VDE_HAVE_ALLOC_DISK_LIMITS
#define vde_alloc_disk_compat(set, lim, data)	blk_mq_alloc_disk(set, lim, data)
#else
#define vde_alloc_disk_compat(set, lim, data)	blk_mq_alloc_disk(set, data)
#endif

/*
 * Block device open and release: 6.5+ pass the gendisk and a blk_mode_t,
 * before that the block_device (open) and an fmode_t.
 */
#ifdef BLK_OPEN_READ
#define VDE_BDEV_OPEN_ARGS	struct gendisk *disk, blk_mode_t mode
#define VDE_BDEV_OPEN_DISK	disk
#define VDE_BDEV_RELEASE_ARGS	struct gendisk *disk
#else
#define VDE_BDEV_OPEN_ARGS	struct block_device *bdev, fmode_t mode
#define VDE_BDEV_OPEN_DISK	bdev->bd_disk
#define VDE_BDEV_RELEASE_ARGS	struct gendisk *disk, fmode_t mode
#endif

/*
 * io_uring driver commands: 6.6+ declare them in <linux/io_uring/cmd.h> and
 * keep the SQE rather than a pointer to its command bytes.  Kbuild defines
 * VDE_HAVE_IO_URING_CMD_H when that header exists.
 */
#ifdef VDE_HAVE_IO_URING_CMD_H
#include <linux/io_uring/cmd.h>
#define vde_uring_cmd_payload(ioucmd)	io_uring_sqe_cmd((ioucmd)->sqe)
#else
#include <linux/io_uring.h>
#define vde_uring_cmd_payload(ioucmd)	((ioucmd)->cmd)
#endif

/* VMA flags are changed through helpers since 6.3. */
#ifdef VDE_HAVE_VM_FLAGS_CLEAR
#define vde_vma_clear_flags(vma, flags)	vm_flags_clear(vma, flags)
#else
#define vde_vma_clear_flags(vma, flags)	((vma)->vm_flags &= ~(flags))
#endif

#endif /* VDE_COMPAT_H */
