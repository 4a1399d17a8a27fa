// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of libvde's control wrappers and feature naming.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "libvde.h"
#include "kselftest_harness.h"

TEST(open_missing_enoent)
{
	EXPECT_EQ(-ENOENT, vde_ctrl_open("/nonexistent/vde-control"));
}

TEST(open_is_cloexec)
{
	int fd = vde_ctrl_open("/dev/null");

	ASSERT_LE(0, fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

TEST(get_features_on_other_device_enotty)
{
	struct vde_features f;
	int fd = vde_ctrl_open("/dev/null");

	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-ENOTTY, vde_ctrl_get_features(fd, &f));
	/* The caller's request was set up as the ABI demands. */
	EXPECT_EQ(sizeof(f), f.size);
	EXPECT_EQ(0, f.abi_version);
	close(fd);
}

TEST(get_features_bad_fd_ebadf)
{
	struct vde_features f;

	EXPECT_EQ(-EBADF, vde_ctrl_get_features(-1, &f));
}

TEST(feature_names)
{
	EXPECT_STREQ("control", vde_feature_name(0));
	EXPECT_STREQ("devices", vde_feature_name(1));
	EXPECT_STREQ("helper_uring", vde_feature_name(2));
	EXPECT_STREQ("helper_ioctl", vde_feature_name(3));
	EXPECT_EQ(NULL, vde_feature_name(4));
	EXPECT_EQ(NULL, vde_feature_name(63));
	EXPECT_EQ(NULL, vde_feature_name(64));
	EXPECT_EQ(NULL, vde_feature_name(~0u));
}

TEST(describe_features)
{
	char buf[64];

	memset(buf, 'x', sizeof(buf));
	EXPECT_EQ(0, vde_features_describe(0, buf, sizeof(buf)));
	EXPECT_STREQ("", buf);
	EXPECT_EQ(7, vde_features_describe(VDE_FEAT_CONTROL, buf, sizeof(buf)));
	EXPECT_STREQ("control", buf);
	EXPECT_EQ(18, vde_features_describe(1ULL | 1ULL << 5 | 1ULL << 63,
					    buf, sizeof(buf)));
	EXPECT_STREQ("control bit5 bit63", buf);
}

TEST(describe_too_small_enospc)
{
	char buf[8];

	memset(buf, 'x', sizeof(buf));
	EXPECT_EQ(-ENOSPC, vde_features_describe(1ULL | 1ULL << 5, buf, sizeof(buf)));
	/* Truncated, but always terminated within the buffer. */
	EXPECT_STREQ("control", buf);
	EXPECT_EQ(-ENOSPC, vde_features_describe(1ULL | 1ULL << 5, buf, 3));
	EXPECT_STREQ("co", buf);
	EXPECT_EQ(-ENOSPC, vde_features_describe(1ULL, NULL, 0));
}

TEST_HARNESS_MAIN
