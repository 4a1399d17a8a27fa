// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of vde devices: ADD argument checking with exact errnos, the
 * device life cycle, the in-kernel data path (bytes compared against the
 * backing file), hidden regions, read-only devices, busy removal, sysfs
 * and statistics.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/vde.h>

#include "kselftest_harness.h"

#define BS		4096
#define FILE_BLOCKS	4096	/* 16 MiB backing file */

static unsigned char pattern_byte(unsigned long long off)
{
	return (unsigned char)((off * 2654435761ULL) >> 13);
}

static void fill_pattern(unsigned char *buf, size_t len, unsigned long long off)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(off + i);
}

FIXTURE(dev) {
	int ctl;
	int fd;
	char path[256];
	struct vde_region_entry map[8];
	struct vde_dev_add add;
	int index;
};

FIXTURE_SETUP(dev)
{
	const char *dir = getenv("VDE_SCRATCH");
	unsigned char *buf;
	ssize_t n;

	self->index = -1;
	self->fd = -1;
	if (geteuid() != 0)
		SKIP(return, "needs root");
	if (!dir)
		SKIP(return, "VDE_SCRATCH is not set (run in the test VM)");
	self->ctl = open("/dev/" VDE_CONTROL_NAME, O_RDWR);
	if (self->ctl < 0 && errno == ENOENT)
		SKIP(return, "vde.ko is not loaded");
	ASSERT_LE(0, self->ctl);
	snprintf(self->path, sizeof(self->path), "%s/dev_test.img", dir);
	self->fd = open(self->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, self->fd);
	buf = malloc(FILE_BLOCKS * BS);
	ASSERT_NE(NULL, buf);
	fill_pattern(buf, FILE_BLOCKS * BS, 0);
	n = pwrite(self->fd, buf, FILE_BLOCKS * BS, 0);
	free(buf);
	ASSERT_EQ(FILE_BLOCKS * BS, n);
	ASSERT_EQ(0, fsync(self->fd));

	memset(&self->add, 0, sizeof(self->add));
	self->add.size = sizeof(self->add);
	self->add.backing_fd = self->fd;
	self->add.index = VDE_INDEX_ANY;
	self->add.nr_blocks = FILE_BLOCKS;
	self->add.block_size = BS;
	self->add.logical_block_size = 4096;
	self->add.nr_regions = 1;
	self->add.regions = (unsigned long)self->map;
	memcpy(self->add.uuid, "0123456789abcdef", 16);
	memset(self->map, 0, sizeof(self->map));
	self->map[0].nr_blocks = FILE_BLOCKS;
}

static int dev_cmd(int ctl, unsigned long cmd, int index, __u32 flags)
{
	struct vde_dev_cmd dc = { .size = sizeof(dc), .index = index,
				  .flags = flags };

	return ioctl(ctl, cmd, &dc);
}

FIXTURE_TEARDOWN(dev)
{
	if (self->index >= 0)
		dev_cmd(self->ctl, VDE_CTL_REMOVE, self->index, VDE_REMOVE_FORCE);
	if (self->fd >= 0) {
		close(self->fd);
		unlink(self->path);
	}
}

/* ADD and START; returns the index. */
static int attach(struct __test_metadata *_metadata, int ctl,
		  struct vde_dev_add *add)
{
	struct vde_dev_add a = *add;

	ASSERT_EQ(0, ioctl(ctl, VDE_CTL_ADD, &a)) TH_LOG("ADD: %s", strerror(errno));
	EXPECT_EQ(0, dev_cmd(ctl, VDE_CTL_START, a.index, 0))
		TH_LOG("START: %s", strerror(errno));
	return a.index;
}

static int open_dev(int index, int flags)
{
	char name[64];

	snprintf(name, sizeof(name), "/dev/vde%d", index);
	return open(name, flags);
}

static int read_sysfs(int index, const char *attr, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/block/vde%d/vde/%s", index, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

static unsigned long long stat_value(int index, const char *key)
{
	char buf[4096], *p;
	size_t klen = strlen(key);

	if (read_sysfs(index, "stats", buf, sizeof(buf)) < 0)
		return ~0ULL;
	for (p = strtok(buf, "\n"); p; p = strtok(NULL, "\n"))
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoull(p + klen + 1, NULL, 10);
	return ~0ULL;
}

/* Each malformed ADD gives its exact errno and leaves nothing behind. */
TEST_F(dev, add_refuses_bad_requests)
{
	struct vde_dev_add a;
	struct vde_region_entry good = self->map[0];
	int dirfd, rofd, wofd, closedfd;

	closedfd = 999;
	ASSERT_EQ(-1, fcntl(closedfd, F_GETFD));
	dirfd = open("/", O_RDONLY | O_DIRECTORY);
	rofd = open(self->path, O_RDONLY);
	wofd = open(self->path, O_WRONLY);
	ASSERT_LE(0, dirfd);
	ASSERT_LE(0, rofd);
	ASSERT_LE(0, wofd);

#define BAD(errnum, what, ...) do {					\
		a = self->add;						\
		self->map[0] = good;					\
		self->map[1] = (struct vde_region_entry){0};		\
		__VA_ARGS__;						\
		errno = 0;						\
		EXPECT_EQ(-1, ioctl(self->ctl, VDE_CTL_ADD, &a)) TH_LOG("%s", what); \
		EXPECT_EQ(errnum, errno) TH_LOG("%s: %s", what, strerror(errno)); \
	} while (0)

	BAD(EINVAL, "size", a.size = sizeof(a) - 8);
	BAD(EINVAL, "reserved0", a.reserved0 = 1);
	BAD(EINVAL, "reserved[3]", a.reserved[3] = 1);
	BAD(EINVAL, "unknown flag", a.flags = 1U << 7);
	BAD(EINVAL, "block size 1000", a.block_size = 1000);
	BAD(EINVAL, "block size 2048", a.block_size = 2048);
	BAD(EINVAL, "block size 128 KiB", a.block_size = 131072);
	BAD(EINVAL, "logical block size 1024", a.logical_block_size = 1024);
	BAD(EINVAL, "misaligned data offset", a.data_offset = 512);
	BAD(EINVAL, "zero blocks", a.nr_blocks = 0);
	BAD(EINVAL, "absurd block count", a.nr_blocks = ~0ULL >> 4);
	BAD(EINVAL, "offset overflow", a.data_offset = ~0ULL & ~4095ULL);
	BAD(EINVAL, "too many queues", a.nr_hw_queues = 100000);
	BAD(EINVAL, "queue too deep", a.queue_depth = VDE_MAX_QUEUE_DEPTH + 1);
	BAD(EINVAL, "no regions", a.nr_regions = 0);
	BAD(EINVAL, "too many regions", a.nr_regions = VDE_MAX_REGIONS + 1);
	BAD(EINVAL, "negative index", a.index = -5);
	BAD(EINVAL, "index past the minor space", a.index = 1 << 16);
	BAD(EINVAL, "helper buffers for 2 x 2049 tags",
	    a.flags = VDE_DEV_VIA_HELPER; a.nr_hw_queues = 2; a.queue_depth = 2049);
	BAD(EFAULT, "region pointer", a.regions = 8);
	BAD(EINVAL, "map short of the device", self->map[0].nr_blocks = FILE_BLOCKS - 1);
	BAD(EINVAL, "map past the device", self->map[0].nr_blocks = FILE_BLOCKS + 1);
	BAD(EINVAL, "empty region", a.nr_regions = 2;
	    self->map[1].first_block = FILE_BLOCKS);
	BAD(EINVAL, "overlapping regions", a.nr_regions = 2;
	    self->map[0].nr_blocks = 10;
	    self->map[1].first_block = 5; self->map[1].nr_blocks = FILE_BLOCKS - 5);
	BAD(EINVAL, "unsorted regions", a.nr_regions = 2;
	    self->map[0].first_block = 10; self->map[0].nr_blocks = FILE_BLOCKS - 10;
	    self->map[1].first_block = 0; self->map[1].nr_blocks = 10);
	BAD(EINVAL, "gap between regions", a.nr_regions = 2;
	    self->map[0].nr_blocks = 10;
	    self->map[1].first_block = 11; self->map[1].nr_blocks = FILE_BLOCKS - 11);
	BAD(EINVAL, "unknown region flag", self->map[0].flags = 1U << 5);
	BAD(EINVAL, "encrypted and hidden", self->map[0].flags =
	    VDE_REGION_ENCRYPTED | VDE_REGION_HIDDEN);
	BAD(EINVAL, "region reserved", self->map[0].reserved = 1);
	BAD(EBADF, "closed fd", a.backing_fd = closedfd);
	BAD(EISDIR, "directory fd", a.backing_fd = dirfd);
	BAD(EACCES, "read-only fd for a writable device", a.backing_fd = rofd);
	BAD(EBADF, "write-only fd", a.backing_fd = wofd);
	BAD(ERANGE, "device past the end of the file",
	    a.nr_blocks = FILE_BLOCKS + 1; self->map[0].nr_blocks = FILE_BLOCKS + 1);
	BAD(ERANGE, "offset view past the end of the file",
	    a.data_offset = BS);
#undef BAD
	close(dirfd);
	close(rofd);
	close(wofd);

	/*
	 * A structure the index cannot be written back to: the device would
	 * be unreachable, so none is left.
	 */
	{
		struct vde_dev_add *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ASSERT_NE(MAP_FAILED, ro);
		*ro = self->add;
		self->map[0] = good;
		ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->ctl, VDE_CTL_ADD, ro));
		EXPECT_EQ(EFAULT, errno);
		munmap(ro, 4096);
	}

	/* Nothing was created along the way. */
	{
		struct vde_dev_info info = { .size = sizeof(info), .index = 0 };
		int i;

		for (i = 0; i < 4; i++) {
			info.index = i;
			errno = 0;
			EXPECT_EQ(-1, ioctl(self->ctl, VDE_CTL_GET_INFO, &info));
			EXPECT_EQ(ENODEV, errno);
		}
	}
}

TEST_F(dev, add_needs_cap_sys_admin)
{
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct vde_dev_add a = self->add;

		if (setresuid(65534, 65534, 65534))
			_exit(10);
		if (ioctl(self->ctl, VDE_CTL_ADD, &a) == 0)
			_exit(11);
		_exit(errno == EPERM ? 0 : 12);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(dev, life_cycle)
{
	struct vde_dev_info info;
	struct vde_dev_add a = self->add;
	struct stat st;
	char name[64];
	int fd;

	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_ADD, &a));
	self->index = a.index;
	ASSERT_LE(0, a.index);
	snprintf(name, sizeof(name), "/dev/vde%d", a.index);

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.index = a.index;
	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_GET_INFO, &info));
	EXPECT_EQ(VDE_STATE_ADDED, info.state);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(FILE_BLOCKS, info.nr_blocks);
	EXPECT_EQ(BS, info.block_size);
	EXPECT_EQ(4096, info.logical_block_size);
	EXPECT_LE(1, info.nr_hw_queues);
	EXPECT_EQ(128, info.queue_depth);
	EXPECT_EQ(1, info.nr_regions);
	EXPECT_EQ(0, info.open_count);
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ(st.st_ino, info.backing_ino);
	EXPECT_EQ(0, memcmp(info.uuid, "0123456789abcdef", 16));
	EXPECT_NE(0, stat(name, &st)) TH_LOG("%s exists before START", name);

	/* GET_INFO checks its input like every other ioctl. */
	info.state = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, VDE_CTL_GET_INFO, &info));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_START, a.index, 0));
	ASSERT_EQ(0, stat(name, &st));
	EXPECT_TRUE(S_ISBLK(st.st_mode));
	fd = open(name, O_RDONLY);
	ASSERT_LE(0, fd);
	{
		unsigned long long bytes = 0;
		int lbs = 0, pbs = 0;

		EXPECT_EQ(0, ioctl(fd, BLKGETSIZE64, &bytes));
		EXPECT_EQ((unsigned long long)FILE_BLOCKS * BS, bytes);
		EXPECT_EQ(0, ioctl(fd, BLKSSZGET, &lbs));
		EXPECT_EQ(4096, lbs);
		EXPECT_EQ(0, ioctl(fd, BLKPBSZGET, &pbs));
		EXPECT_EQ(4096, pbs);
	}
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.index = a.index;
	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_GET_INFO, &info));
	EXPECT_EQ(VDE_STATE_LIVE, info.state);
	EXPECT_EQ(1, info.open_count);
	close(fd);

	errno = 0;
	EXPECT_EQ(-1, dev_cmd(self->ctl, VDE_CTL_START, a.index, 0));
	EXPECT_EQ(EBUSY, errno);
	errno = 0;
	EXPECT_EQ(-1, dev_cmd(self->ctl, VDE_CTL_START, a.index, VDE_REMOVE_FORCE));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_STOP, a.index, 0));
	EXPECT_NE(0, stat(name, &st)) TH_LOG("%s left after STOP", name);
	errno = 0;
	EXPECT_EQ(-1, dev_cmd(self->ctl, VDE_CTL_STOP, a.index, 0));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_REMOVE, a.index, 0));
	self->index = -1;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.index = a.index;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, VDE_CTL_GET_INFO, &info));
	EXPECT_EQ(ENODEV, errno);
	errno = 0;
	EXPECT_EQ(-1, dev_cmd(self->ctl, VDE_CTL_REMOVE, a.index, 0));
	EXPECT_EQ(ENODEV, errno);
}

TEST_F(dev, explicit_index_and_conflicts)
{
	struct vde_dev_add a = self->add;
	int rofd;

	a.index = 7;
	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_ADD, &a));
	self->index = 7;
	EXPECT_EQ(7, a.index);

	/* The same image cannot be attached read-write twice... */
	a = self->add;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, VDE_CTL_ADD, &a));
	EXPECT_EQ(EBUSY, errno);
	/* ...nor read-only while attached read-write. */
	rofd = open(self->path, O_RDONLY);
	ASSERT_LE(0, rofd);
	a.backing_fd = rofd;
	a.flags = VDE_DEV_READ_ONLY;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, VDE_CTL_ADD, &a));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_REMOVE, 7, 0));
	self->index = -1;

	/* Read-only twice is fine. */
	a = self->add;
	a.backing_fd = rofd;
	a.flags = VDE_DEV_READ_ONLY;
	a.index = 7;
	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_ADD, &a));
	self->index = 7;
	a = self->add;
	a.backing_fd = rofd;
	a.flags = VDE_DEV_READ_ONLY;
	a.index = 7;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, VDE_CTL_ADD, &a));
	EXPECT_EQ(EEXIST, errno) TH_LOG("index 7 taken");
	a.index = VDE_INDEX_ANY;
	ASSERT_EQ(0, ioctl(self->ctl, VDE_CTL_ADD, &a));
	EXPECT_NE(7, a.index);
	EXPECT_EQ(0, dev_cmd(self->ctl, VDE_CTL_REMOVE, a.index, 0));
	close(rofd);
}

/* Device bytes are the backing file's bytes, both ways. */
TEST_F(dev, data_round_trip)
{
	const size_t len = 1 << 20;
	const off_t off = 123 * BS;
	unsigned char *buf, *back;
	int fd, i;

	self->index = attach(_metadata, self->ctl, &self->add);
	fd = open_dev(self->index, O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd);
	buf = aligned_alloc(4096, len);
	back = aligned_alloc(4096, len);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, back);

	/* What the image holds reads back unchanged, at several offsets. */
	for (i = 0; i < 4; i++) {
		off_t o = (off_t)i * 1000 * BS;

		ASSERT_EQ((ssize_t)len, pread(fd, back, len, o));
		fill_pattern(buf, len, o);
		EXPECT_EQ(0, memcmp(buf, back, len)) TH_LOG("offset %lld", (long long)o);
	}

	/* Written through the device, found in the file after a flush. */
	for (i = 0; i < (int)len; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	ASSERT_EQ((ssize_t)len, pwrite(fd, buf, len, off));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ((ssize_t)len, pread(self->fd, back, len, off));
	EXPECT_EQ(0, memcmp(buf, back, len));
	memset(back, 0, len);
	ASSERT_EQ((ssize_t)len, pread(fd, back, len, off));
	EXPECT_EQ(0, memcmp(buf, back, len));

	/* A read past the end of the device is refused. */
	EXPECT_EQ(0, pread(fd, back, BS, (off_t)FILE_BLOCKS * BS));
	free(buf);
	free(back);
	close(fd);
}

/* data_offset and nr_blocks give a view of part of the file. */
TEST_F(dev, offset_view)
{
	unsigned char buf[BS], want[BS];
	int fd;

	self->add.data_offset = 16 * BS;
	self->add.nr_blocks = 100;
	self->map[0].nr_blocks = 100;
	self->index = attach(_metadata, self->ctl, &self->add);
	fd = open_dev(self->index, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(BS, pread(fd, buf, BS, 0));
	fill_pattern(want, BS, 16 * BS);
	EXPECT_EQ(0, memcmp(buf, want, BS));
	ASSERT_EQ(BS, pread(fd, buf, BS, 99 * BS));
	fill_pattern(want, BS, 115 * BS);
	EXPECT_EQ(0, memcmp(buf, want, BS));
	EXPECT_EQ(0, pread(fd, buf, BS, 100 * BS));
	close(fd);
}

/* Hidden blocks read as zeros whatever the file holds; writes fail. */
TEST_F(dev, hidden_region)
{
	const size_t len = 4 * BS;
	unsigned char *buf, *want, *file;
	int fd;

	self->add.nr_regions = 3;
	self->map[0].nr_blocks = 10;
	self->map[1].first_block = 10;
	self->map[1].nr_blocks = 2;
	self->map[1].flags = VDE_REGION_HIDDEN;
	self->map[2].first_block = 12;
	self->map[2].nr_blocks = FILE_BLOCKS - 12;
	self->index = attach(_metadata, self->ctl, &self->add);
	fd = open_dev(self->index, O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd);
	buf = aligned_alloc(4096, len);
	want = aligned_alloc(4096, len);
	file = malloc(len);

	/* Blocks 9..12: plain, hidden, hidden, plain. */
	ASSERT_EQ((ssize_t)len, pread(fd, buf, len, 9 * BS));
	fill_pattern(want, len, 9 * BS);
	memset(want + BS, 0, 2 * BS);
	EXPECT_EQ(0, memcmp(buf, want, len));

	ASSERT_EQ((ssize_t)len, pread(self->fd, file, len, 9 * BS));
	memset(buf, 0x5a, len);
	errno = 0;
	EXPECT_EQ(-1, pwrite(fd, buf, BS, 10 * BS));
	EXPECT_EQ(EIO, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(fd, buf, len, 9 * BS));
	EXPECT_EQ(EIO, errno);
	{
		__u64 range[2] = { 8 * BS, 4 * BS };

		errno = 0;
		EXPECT_EQ(-1, ioctl(fd, BLKDISCARD, range));
		EXPECT_EQ(EIO, errno);
		errno = 0;
		EXPECT_EQ(-1, ioctl(fd, BLKZEROOUT, range));
		EXPECT_EQ(EIO, errno);
	}
	/* The refused writes changed nothing in the file. */
	ASSERT_EQ((ssize_t)len, pread(self->fd, buf, len, 9 * BS));
	EXPECT_EQ(0, memcmp(buf, file, len));
	EXPECT_LE(4, stat_value(self->index, "errors"));
	free(buf);
	free(want);
	free(file);
	close(fd);
}

TEST_F(dev, read_only)
{
	unsigned char buf[BS];
	int rofd, fd;

	rofd = open(self->path, O_RDONLY);
	ASSERT_LE(0, rofd);
	self->add.backing_fd = rofd;
	self->add.flags = VDE_DEV_READ_ONLY;
	self->index = attach(_metadata, self->ctl, &self->add);
	close(rofd);

	fd = open_dev(self->index, O_RDONLY);
	ASSERT_LE(0, fd);
	{
		int ro = 0;

		EXPECT_EQ(0, ioctl(fd, BLKROGET, &ro));
		EXPECT_EQ(1, ro);
	}
	close(fd);
	fd = open_dev(self->index, O_RDWR);
	if (fd < 0) {
		EXPECT_TRUE(errno == EROFS || errno == EACCES || errno == EPERM)
			TH_LOG("open O_RDWR: %s", strerror(errno));
	} else {
		memset(buf, 1, sizeof(buf));
		errno = 0;
		EXPECT_EQ(-1, pwrite(fd, buf, BS, 0));
		EXPECT_TRUE(errno == EPERM || errno == EROFS)
			TH_LOG("write: %s", strerror(errno));
		close(fd);
	}
}

TEST_F(dev, remove_while_open)
{
	unsigned char *buf = aligned_alloc(4096, BS);
	struct stat st;
	char name[64];
	int fd;

	self->index = attach(_metadata, self->ctl, &self->add);
	fd = open_dev(self->index, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, dev_cmd(self->ctl, VDE_CTL_REMOVE, self->index, 0));
	EXPECT_EQ(EBUSY, errno);
	errno = 0;
	EXPECT_EQ(-1, dev_cmd(self->ctl, VDE_CTL_STOP, self->index, 0));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(BS, pread(fd, buf, BS, 0));

	/* Forced: the device goes, the opener's I/O fails, close works. */
	ASSERT_EQ(0, dev_cmd(self->ctl, VDE_CTL_REMOVE, self->index,
			     VDE_REMOVE_FORCE));
	snprintf(name, sizeof(name), "/dev/vde%d", self->index);
	self->index = -1;
	EXPECT_NE(0, stat(name, &st));
	errno = 0;
	EXPECT_GE(0, pread(fd, buf, BS, BS));
	EXPECT_EQ(0, close(fd));
	free(buf);
}

TEST_F(dev, sysfs_attributes)
{
	char buf[4096], want[512];
	int n;

	self->add.nr_regions = 3;
	self->map[0].nr_blocks = 10;
	self->map[1].first_block = 10;
	self->map[1].nr_blocks = 2;
	self->map[1].flags = VDE_REGION_HIDDEN;
	self->map[2].first_block = 12;
	self->map[2].nr_blocks = FILE_BLOCKS - 12;
	self->index = attach(_metadata, self->ctl, &self->add);

	ASSERT_LT(0, read_sysfs(self->index, "uuid", buf, sizeof(buf)));
	EXPECT_STREQ("30313233343536373839616263646566\n", buf);
	ASSERT_LT(0, read_sysfs(self->index, "block_size", buf, sizeof(buf)));
	EXPECT_STREQ("4096\n", buf);
	ASSERT_LT(0, read_sysfs(self->index, "data_offset", buf, sizeof(buf)));
	EXPECT_STREQ("0\n", buf);
	ASSERT_LT(0, read_sysfs(self->index, "region_map", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "0 10 plain\n10 2 hidden\n12 %d plain\n",
		 FILE_BLOCKS - 12);
	EXPECT_STREQ(want, buf);
	ASSERT_LT(0, read_sysfs(self->index, "backing_file", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%s\n", self->path);
	EXPECT_STREQ(want, buf);
	/* ext4 on the scratch disk does direct I/O. */
	ASSERT_LT(0, read_sysfs(self->index, "direct_io", buf, sizeof(buf)));
	EXPECT_STREQ("1\n", buf);
	ASSERT_LT(0, read_sysfs(self->index, "capabilities", buf, sizeof(buf)));
	EXPECT_STREQ("fast_path direct_io zero_copy write_cache fua discard write_zeroes\n",
		     buf);
	n = read_sysfs(self->index, "latency_ns", buf, sizeof(buf));
	ASSERT_LT(0, n);
	EXPECT_EQ(0, strncmp(buf, "read ", 5));
	/* No attribute is named "serial". */
	EXPECT_EQ(-ENOENT, read_sysfs(self->index, "serial", buf, sizeof(buf)));
}

TEST_F(dev, statistics_count_exactly)
{
	unsigned char *buf = aligned_alloc(4096, 8 * BS);
	unsigned long long r0, s0, w0, f0, fp0;
	int fd, i;

	self->index = attach(_metadata, self->ctl, &self->add);
	fd = open_dev(self->index, O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd);
	/* Let the partition scan's reads finish before counting. */
	ASSERT_EQ(BS, pread(fd, buf, BS, 0));
	r0 = stat_value(self->index, "read_requests");
	s0 = stat_value(self->index, "read_sectors");
	w0 = stat_value(self->index, "write_requests");
	f0 = stat_value(self->index, "flush_requests");
	fp0 = stat_value(self->index, "fast_path_requests");
	for (i = 0; i < 5; i++)
		ASSERT_EQ(2 * BS, pread(fd, buf, 2 * BS, (off_t)(i * 10) * BS));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(BS, pwrite(fd, buf, BS, (off_t)(i * 10 + 200) * BS));
	ASSERT_EQ(0, fsync(fd));
	EXPECT_EQ(r0 + 5, stat_value(self->index, "read_requests"));
	EXPECT_EQ(s0 + 5 * 16, stat_value(self->index, "read_sectors"));
	EXPECT_EQ(w0 + 3, stat_value(self->index, "write_requests"));
	EXPECT_EQ(f0 + 1, stat_value(self->index, "flush_requests"));
	EXPECT_EQ(fp0 + 9, stat_value(self->index, "fast_path_requests"));
	EXPECT_EQ(0, stat_value(self->index, "errors"));
	close(fd);
	free(buf);
}

/* Discard punches holes in the image; write-zeroes reads back zeros. */
TEST_F(dev, discard_punches_holes)
{
	unsigned char *buf = aligned_alloc(4096, 64 * BS);
	unsigned char *zero = calloc(1, 64 * BS);
	__u64 range[2] = { 1024 * BS, 64 * BS };
	struct stat before, after;
	int fd;

	self->index = attach(_metadata, self->ctl, &self->add);
	fd = open_dev(self->index, O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(self->fd, &before));
	ASSERT_EQ(0, ioctl(fd, BLKDISCARD, range));
	ASSERT_EQ(0, fsync(fd));
	ASSERT_EQ(0, fstat(self->fd, &after));
	EXPECT_EQ(before.st_blocks - 64 * BS / 512, after.st_blocks);
	ASSERT_EQ(64 * BS, pread(fd, buf, 64 * BS, 1024 * BS));
	EXPECT_EQ(0, memcmp(buf, zero, 64 * BS));

	range[0] = 2048 * BS;
	ASSERT_EQ(0, ioctl(fd, BLKZEROOUT, range));
	ASSERT_EQ(64 * BS, pread(fd, buf, 64 * BS, 2048 * BS));
	EXPECT_EQ(0, memcmp(buf, zero, 64 * BS));
	ASSERT_EQ(64 * BS, pread(self->fd, buf, 64 * BS, 2048 * BS));
	EXPECT_EQ(0, memcmp(buf, zero, 64 * BS));
	close(fd);
	free(buf);
	free(zero);
}

static int read_queue_attr(int index, const char *attr, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/vde%d/queue/%s", index, attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

#define EXPECT_QUEUE(idx, attr, want) do {				\
		char _v[128];						\
		ASSERT_EQ(0, read_queue_attr(idx, attr, _v, sizeof(_v))); \
		EXPECT_STREQ(want, _v) TH_LOG("queue/%s", attr);	\
	} while (0)

/* The limits exporters see are the same on both kernels. */
TEST_F(dev, queue_limits)
{
	int idx;

	self->index = idx = attach(_metadata, self->ctl, &self->add);
	EXPECT_QUEUE(idx, "logical_block_size", "4096");
	EXPECT_QUEUE(idx, "physical_block_size", "4096");
	EXPECT_QUEUE(idx, "minimum_io_size", "4096");
	EXPECT_QUEUE(idx, "optimal_io_size", "4096");
	EXPECT_QUEUE(idx, "max_hw_sectors_kb", "1024");
	EXPECT_QUEUE(idx, "rotational", "0");
	EXPECT_QUEUE(idx, "discard_granularity", "4096");
	EXPECT_QUEUE(idx, "write_cache", "write back");
	EXPECT_QUEUE(idx, "fua", "1");
	EXPECT_QUEUE(idx, "add_random", "0");
	dev_cmd(self->ctl, VDE_CTL_REMOVE, idx, 0);

	/* 512-byte logical blocks for initiators that need them. */
	self->add.logical_block_size = 512;
	self->index = idx = attach(_metadata, self->ctl, &self->add);
	EXPECT_QUEUE(idx, "logical_block_size", "512");
	EXPECT_QUEUE(idx, "physical_block_size", "4096");
	dev_cmd(self->ctl, VDE_CTL_REMOVE, idx, 0);

	/* 64 KiB image blocks: discard and optimal I/O follow them. */
	self->add.logical_block_size = 4096;
	self->add.block_size = 65536;
	self->add.nr_blocks = FILE_BLOCKS / 16;
	self->map[0].nr_blocks = FILE_BLOCKS / 16;
	self->index = idx = attach(_metadata, self->ctl, &self->add);
	EXPECT_QUEUE(idx, "optimal_io_size", "65536");
	EXPECT_QUEUE(idx, "discard_granularity", "65536");
	{
		int fd = open_dev(idx, O_RDONLY);
		unsigned long long bytes = 0;

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, ioctl(fd, BLKGETSIZE64, &bytes));
		EXPECT_EQ((unsigned long long)FILE_BLOCKS * BS, bytes);
		close(fd);
	}

	/* Read-only devices advertise no discard. */
	dev_cmd(self->ctl, VDE_CTL_REMOVE, idx, 0);
	self->add.flags = VDE_DEV_READ_ONLY;
	self->index = idx = attach(_metadata, self->ctl, &self->add);
	EXPECT_QUEUE(idx, "discard_granularity", "0");
}

/*
 * Where the backing file system cannot do direct I/O (tmpfs), I/O is
 * buffered, said so in sysfs, and still correct.
 */
TEST(buffered_fallback_on_tmpfs)
{
	struct vde_region_entry map = { .nr_blocks = 256 };
	struct vde_dev_add add = {
		.size = sizeof(add), .index = VDE_INDEX_ANY, .nr_blocks = 256,
		.block_size = BS, .logical_block_size = 4096, .nr_regions = 1,
		.regions = (unsigned long)&map,
	};
	char path[] = "/dev/shm/vde-buffered-XXXXXX", buf[256];
	unsigned char *data = aligned_alloc(4096, 64 * BS);
	unsigned char *back = aligned_alloc(4096, 64 * BS);
	int ctl, fd, dfd;

	if (geteuid() != 0)
		SKIP(return, "needs root");
	ctl = open("/dev/" VDE_CONTROL_NAME, O_RDWR);
	if (ctl < 0)
		SKIP(return, "vde.ko is not loaded");
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	unlink(path);
	fill_pattern(data, 64 * BS, 0);
	ASSERT_EQ(0, ftruncate(fd, 256 * BS));
	ASSERT_EQ(64 * BS, pwrite(fd, data, 64 * BS, 0));
	add.backing_fd = fd;
	ASSERT_EQ(0, ioctl(ctl, VDE_CTL_ADD, &add));
	ASSERT_EQ(0, dev_cmd(ctl, VDE_CTL_START, add.index, 0));
	ASSERT_LT(0, read_sysfs(add.index, "direct_io", buf, sizeof(buf)));
	EXPECT_STREQ("0\n", buf);
	ASSERT_LT(0, read_sysfs(add.index, "capabilities", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "buffered_io"));
	EXPECT_EQ(NULL, strstr(buf, "zero_copy"));

	dfd = open_dev(add.index, O_RDWR | O_DIRECT);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(64 * BS, pread(dfd, back, 64 * BS, 0));
	EXPECT_EQ(0, memcmp(data, back, 64 * BS));
	memset(data, 0x3c, 64 * BS);
	ASSERT_EQ(64 * BS, pwrite(dfd, data, 64 * BS, 128 * BS));
	ASSERT_EQ(0, fsync(dfd));
	ASSERT_EQ(64 * BS, pread(fd, back, 64 * BS, 128 * BS));
	EXPECT_EQ(0, memcmp(data, back, 64 * BS));
	close(dfd);
	EXPECT_EQ(0, dev_cmd(ctl, VDE_CTL_REMOVE, add.index, 0));
	close(fd);
	close(ctl);
	free(data);
	free(back);
}

TEST_HARNESS_MAIN
