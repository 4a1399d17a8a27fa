// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of vde_dev_users() over a fake /proc, /sys and /dev tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "devusers.h"
#include "kselftest_harness.h"

static void put(const char *root, const char *rel, const char *text)
{
	char path[4096], cmd[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	if (system(cmd))
		abort();
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void mkdirs(const char *root, const char *rel)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", root, rel);
	if (system(cmd))
		abort();
}

FIXTURE(tree) {
	char root[64];
};

FIXTURE_SETUP(tree)
{
	strcpy(self->root, "/tmp/vde-devusers-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->root));
	put(self->root, "sys/block/vde0/dev", "250:0\n");
	put(self->root, "sys/block/vde0/vde0p1/dev", "250:1\n");
	mkdirs(self->root, "sys/block/vde0/holders");
	mkdirs(self->root, "sys/block/vde0/vde0p1/holders");
	put(self->root, "sys/block/vde1/dev", "250:16\n");
	mkdirs(self->root, "sys/block/vde1/holders");
	put(self->root, "proc/self/mountinfo",
	    "22 1 0:21 / /proc rw - proc proc rw\n"
	    "40 1 250:16 / /mnt/other rw - ext4 /dev/vde1 rw\n");
}

FIXTURE_TEARDOWN(tree)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->root);
	if (system(cmd))
		TH_LOG("cleanup failed");
}

TEST_F(tree, idle_device_has_no_users)
{
	char why[256];

	EXPECT_EQ(0, vde_dev_users(self->root, "vde0", why, sizeof(why)));
	EXPECT_STREQ("", why);
}

TEST_F(tree, mounted_partition_counts)
{
	char why[256];

	put(self->root, "proc/self/mountinfo",
	    "40 1 250:1 / /srv/data rw - ext4 /dev/vde0p1 rw\n");
	EXPECT_EQ(1, vde_dev_users(self->root, "vde0", why, sizeof(why)));
	EXPECT_STREQ("mounted on /srv/data", why);
}

TEST_F(tree, holders_of_disk_and_partition)
{
	char why[256];

	mkdirs(self->root, "sys/block/vde0/holders/dm-0");
	mkdirs(self->root, "sys/block/vde0/vde0p1/holders/md127");
	EXPECT_EQ(2, vde_dev_users(self->root, "vde0", why, sizeof(why)));
	EXPECT_STREQ("held by dm-0\nvde0p1 held by md127", why);
}

TEST_F(tree, other_device_mount_is_not_ours)
{
	char why[256];

	EXPECT_EQ(1, vde_dev_users(self->root, "vde1", why, sizeof(why)));
	EXPECT_STREQ("mounted on /mnt/other", why);
	EXPECT_EQ(0, vde_dev_users(self->root, "vde0", why, sizeof(why)));
}

TEST_F(tree, lio_and_nvmet_exports)
{
	char path[256], why[512];

	if (geteuid() != 0)
		SKIP(return, "making device nodes needs root");
	snprintf(path, sizeof(path), "%s/dev/vde0", self->root);
	mkdirs(self->root, "dev/disk/by-id");
	if (mknod(path, S_IFBLK | 0600, makedev(250, 0)))
		SKIP(return, "mknod: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/dev/disk/by-id/vde-abc", self->root);
	ASSERT_EQ(0, symlink("../../vde0", path));
	put(self->root, "sys/kernel/config/target/core/iblock_0/lun0/udev_path",
	    "/dev/disk/by-id/vde-abc\n");
	put(self->root, "sys/kernel/config/target/core/iblock_0/other/udev_path",
	    "/dev/sda\n");
	put(self->root,
	    "sys/kernel/config/nvmet/subsystems/nqn.test/namespaces/1/device_path",
	    "/dev/vde0\n");
	EXPECT_EQ(2, vde_dev_users(self->root, "vde0", why, sizeof(why)));
	EXPECT_STREQ("exported by LIO backstore iblock_0/lun0\n"
		     "exported by nvmet subsystem nqn.test namespace 1", why);
}

TEST_F(tree, small_buffer_still_counts)
{
	char why[8];

	mkdirs(self->root, "sys/block/vde0/holders/dm-0");
	mkdirs(self->root, "sys/block/vde0/holders/dm-1");
	EXPECT_EQ(2, vde_dev_users(self->root, "vde0", why, sizeof(why)));
	EXPECT_GT(sizeof(why), strlen(why));
}

TEST_HARNESS_MAIN
