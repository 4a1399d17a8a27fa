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
	EXPECT_EQ(4096, VDE_MAX_QUEUE_DEPTH);
	EXPECT_EQ(256, VDE_MAX_REGIONS);
	EXPECT_STREQ("vde-control", VDE_CONTROL_NAME);
}

TEST_HARNESS_MAIN
