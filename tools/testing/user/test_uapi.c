// SPDX-License-Identifier: GPL-2.0
/*
 * The uapi layout is the ABI: every size and offset is pinned here.
 */
#include <linux/vde.h>
#include <stddef.h>

#include "kselftest_harness.h"

#define OFF(type, field, off) \
	_Static_assert(offsetof(struct type, field) == (off), #type "." #field)

_Static_assert(sizeof(struct vde_features) == VDE_FEATURES_SIZE_V1, "size");
_Static_assert(sizeof(struct vde_features) % 8 == 0, "multiple of 8");
_Static_assert(_Alignof(struct vde_features) == 8, "alignment");
OFF(vde_features, size, 0);
OFF(vde_features, abi_version, 4);
OFF(vde_features, features, 8);
OFF(vde_features, max_devices, 16);
OFF(vde_features, max_hw_queues, 20);
OFF(vde_features, max_queue_depth, 24);
OFF(vde_features, max_regions, 28);
OFF(vde_features, reserved, 32);

_Static_assert(sizeof(struct vde_region_entry) == 24, "size");
OFF(vde_region_entry, first_block, 0);
OFF(vde_region_entry, nr_blocks, 8);
OFF(vde_region_entry, flags, 16);
OFF(vde_region_entry, reserved, 20);

_Static_assert(sizeof(struct vde_dev_add) == 112, "size");
OFF(vde_dev_add, size, 0);
OFF(vde_dev_add, flags, 4);
OFF(vde_dev_add, backing_fd, 8);
OFF(vde_dev_add, index, 12);
OFF(vde_dev_add, data_offset, 16);
OFF(vde_dev_add, nr_blocks, 24);
OFF(vde_dev_add, block_size, 32);
OFF(vde_dev_add, logical_block_size, 36);
OFF(vde_dev_add, nr_hw_queues, 40);
OFF(vde_dev_add, queue_depth, 44);
OFF(vde_dev_add, nr_regions, 48);
OFF(vde_dev_add, reserved0, 52);
OFF(vde_dev_add, regions, 56);
OFF(vde_dev_add, uuid, 64);
OFF(vde_dev_add, reserved, 80);

_Static_assert(sizeof(struct vde_dev_info) == 120, "size");
OFF(vde_dev_info, size, 0);
OFF(vde_dev_info, index, 4);
OFF(vde_dev_info, state, 8);
OFF(vde_dev_info, flags, 12);
OFF(vde_dev_info, data_offset, 16);
OFF(vde_dev_info, nr_blocks, 24);
OFF(vde_dev_info, block_size, 32);
OFF(vde_dev_info, logical_block_size, 36);
OFF(vde_dev_info, nr_hw_queues, 40);
OFF(vde_dev_info, queue_depth, 44);
OFF(vde_dev_info, nr_regions, 48);
OFF(vde_dev_info, open_count, 52);
OFF(vde_dev_info, backing_dev, 56);
OFF(vde_dev_info, backing_ino, 64);
OFF(vde_dev_info, uuid, 72);
OFF(vde_dev_info, reserved, 88);

_Static_assert(sizeof(struct vde_dev_cmd) == 32, "size");
OFF(vde_dev_cmd, size, 0);
OFF(vde_dev_cmd, index, 4);
OFF(vde_dev_cmd, flags, 8);
OFF(vde_dev_cmd, reserved0, 12);
OFF(vde_dev_cmd, reserved, 16);

_Static_assert(sizeof(struct vde_io_desc) == 32, "size");
OFF(vde_io_desc, op, 0);
OFF(vde_io_desc, reserved0, 1);
OFF(vde_io_desc, flags, 2);
OFF(vde_io_desc, nr_bytes, 4);
OFF(vde_io_desc, offset, 8);
OFF(vde_io_desc, seq, 16);
OFF(vde_io_desc, reserved, 24);

/* Fits the 16 command bytes of a plain (not SQE128) io_uring SQE. */
_Static_assert(sizeof(struct vde_ring_cmd) == 16, "size");
OFF(vde_ring_cmd, q_id, 0);
OFF(vde_ring_cmd, tag, 2);
OFF(vde_ring_cmd, result, 4);
OFF(vde_ring_cmd, reserved, 8);

_Static_assert(sizeof(struct vde_ring_commit) == 8, "size");
OFF(vde_ring_commit, tag, 0);
OFF(vde_ring_commit, reserved, 2);
OFF(vde_ring_commit, result, 4);

_Static_assert(sizeof(struct vde_ring_batch) == 56, "size");
OFF(vde_ring_batch, size, 0);
OFF(vde_ring_batch, q_id, 4);
OFF(vde_ring_batch, flags, 6);
OFF(vde_ring_batch, nr_commits, 8);
OFF(vde_ring_batch, commits_done, 12);
OFF(vde_ring_batch, max_tags, 16);
OFF(vde_ring_batch, nr_tags, 20);
OFF(vde_ring_batch, commits, 24);
OFF(vde_ring_batch, tags, 32);
OFF(vde_ring_batch, reserved, 40);

_Static_assert(sizeof(struct vde_ring_info) == 96, "size");
OFF(vde_ring_info, size, 0);
OFF(vde_ring_info, index, 4);
OFF(vde_ring_info, flags, 8);
OFF(vde_ring_info, nr_hw_queues, 12);
OFF(vde_ring_info, queue_depth, 16);
OFF(vde_ring_info, buf_size, 20);
OFF(vde_ring_info, block_size, 24);
OFF(vde_ring_info, logical_block_size, 28);
OFF(vde_ring_info, data_offset, 32);
OFF(vde_ring_info, nr_blocks, 40);
OFF(vde_ring_info, max_regions, 48);
OFF(vde_ring_info, nr_regions, 52);
OFF(vde_ring_info, regions, 56);
OFF(vde_ring_info, reserved, 64);

TEST(ioctl_numbers)
{
	/* Pinned: changing any of these breaks every deployed vdectl. */
	EXPECT_EQ(0xc040de00u, (unsigned int)VDE_CTL_GET_FEATURES);
	EXPECT_EQ(0xc070de01u, (unsigned int)VDE_CTL_ADD);
	EXPECT_EQ(0x4020de02u, (unsigned int)VDE_CTL_START);
	EXPECT_EQ(0x4020de03u, (unsigned int)VDE_CTL_STOP);
	EXPECT_EQ(0x4020de04u, (unsigned int)VDE_CTL_REMOVE);
	EXPECT_EQ(0xc078de05u, (unsigned int)VDE_CTL_GET_INFO);
	EXPECT_EQ(0xc010de20u, (unsigned int)VDE_RING_FETCH);
	EXPECT_EQ(0xc010de21u, (unsigned int)VDE_RING_COMMIT_AND_FETCH);
	EXPECT_EQ(0xc060de22u, (unsigned int)VDE_RING_GET_INFO);
	EXPECT_EQ(0xc038de23u, (unsigned int)VDE_RING_WAIT);
	EXPECT_EQ(0xc038de24u, (unsigned int)VDE_RING_COMMIT);
}

TEST(get_features_encoding)
{
	EXPECT_EQ(_IOC_READ | _IOC_WRITE, _IOC_DIR(VDE_CTL_GET_FEATURES));
	EXPECT_EQ(VDE_IOC_MAGIC, _IOC_TYPE(VDE_CTL_GET_FEATURES));
	EXPECT_EQ(0, _IOC_NR(VDE_CTL_GET_FEATURES));
	EXPECT_EQ(sizeof(struct vde_features), _IOC_SIZE(VDE_CTL_GET_FEATURES));
}

TEST(constants)
{
	EXPECT_EQ(1, VDE_ABI_VERSION);
	EXPECT_EQ(0x1ULL, VDE_FEAT_CONTROL);
	EXPECT_EQ(0x2ULL, VDE_FEAT_DEVICES);
	EXPECT_EQ(0x4ULL, VDE_FEAT_HELPER_URING);
	EXPECT_EQ(0x8ULL, VDE_FEAT_HELPER_IOCTL);
	EXPECT_EQ(0x4U, VDE_DEV_HELPER_HOLD);
	EXPECT_EQ(262144U, VDE_RING_BUF_SIZE);
	EXPECT_EQ(131072U, VDE_RING_DESC_STRIDE);
	EXPECT_EQ(0x80000000ULL, VDE_RING_BUF_OFFSET);
	EXPECT_EQ(0, VDE_IO_OP_READ);
	EXPECT_EQ(1, VDE_IO_OP_WRITE);
	EXPECT_EQ(2, VDE_IO_OP_FLUSH);
	EXPECT_EQ(3, VDE_IO_OP_DISCARD);
	EXPECT_EQ(4, VDE_IO_OP_WRITE_ZEROES);
	EXPECT_EQ(4096, VDE_MAX_QUEUE_DEPTH);
	EXPECT_EQ(256, VDE_MAX_REGIONS);
	EXPECT_STREQ("vde-control", VDE_CONTROL_NAME);
}

TEST_HARNESS_MAIN
