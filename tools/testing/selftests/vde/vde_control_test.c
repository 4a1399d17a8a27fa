// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of /dev/vde-control: GET_FEATURES, ioctl argument checking and
 * concurrent use of the control device.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vde.h>

#include "kselftest_harness.h"

#define CONTROL "/dev/" VDE_CONTROL_NAME

static int open_control(struct __test_metadata *_metadata)
{
	int fd;

	if (geteuid() != 0)
		SKIP(return -1, "needs root");
	fd = open(CONTROL, O_RDWR);
	if (fd < 0 && errno == ENOENT)
		SKIP(return -1, "vde.ko is not loaded");
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", CONTROL, strerror(errno));
	return fd;
}

static unsigned long read_ulong(const char *path)
{
	unsigned long v = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* nr_cpu_ids: one more than the highest CPU in the "possible" mask. */
static unsigned int possible_cpus(void)
{
	unsigned int lo, hi = 0;
	char buf[256], *p;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	for (p = strtok(buf, ",\n"); p; p = strtok(NULL, ",\n")) {
		if (sscanf(p, "%u-%u", &lo, &hi) < 2)
			hi = lo;
	}
	return hi + 1;
}

static int get_features(int fd, struct vde_features *f)
{
	return ioctl(fd, VDE_CTL_GET_FEATURES, f);
}

TEST(uapi_numbers)
{
	/* The ABI is the numbers: a header change must not move them. */
	ASSERT_EQ(64, sizeof(struct vde_features));
	ASSERT_EQ(0xc040de00u, (unsigned int)VDE_CTL_GET_FEATURES);
	ASSERT_EQ(0xc070de01u, (unsigned int)VDE_CTL_ADD);
}

TEST(get_features_exact)
{
	struct vde_features f;
	unsigned int i;
	int fd = open_control(_metadata);

	memset(&f, 0, sizeof(f));
	f.size = sizeof(f);
	ASSERT_EQ(0, get_features(fd, &f)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(VDE_FEATURES_SIZE_V1, f.size);
	EXPECT_EQ(VDE_ABI_VERSION, f.abi_version);
	EXPECT_EQ(VDE_FEAT_CONTROL | VDE_FEAT_DEVICES | VDE_FEAT_HELPER_URING |
		  VDE_FEAT_HELPER_IOCTL, f.features);
	EXPECT_EQ(read_ulong("/sys/module/vde/parameters/max_devices"),
		  f.max_devices);
	EXPECT_EQ(possible_cpus(), f.max_hw_queues);
	EXPECT_EQ(VDE_MAX_QUEUE_DEPTH, f.max_queue_depth);
	EXPECT_EQ(VDE_MAX_REGIONS, f.max_regions);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, f.reserved[i]);
	close(fd);
}

TEST(unknown_ioctl_enotty)
{
	const unsigned long cmds[] = {
		_IO(VDE_IOC_MAGIC, 0x7f),
		_IOWR(VDE_IOC_MAGIC, 0xff, struct vde_features),
		_IOWR('x', 0x00, struct vde_features),
		/* GET_FEATURES' number with the wrong size or direction */
		_IOWR(VDE_IOC_MAGIC, 0x00, __u64),
		_IOR(VDE_IOC_MAGIC, 0x00, struct vde_features),
		_IOW(VDE_IOC_MAGIC, 0x00, struct vde_features),
		0,
	};
	struct vde_features f;
	unsigned int i;
	int fd = open_control(_metadata);

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		memset(&f, 0, sizeof(f));
		f.size = sizeof(f);
		errno = 0;
		EXPECT_EQ(-1, ioctl(fd, cmds[i], &f))
			TH_LOG("cmd 0x%lx", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd 0x%lx", cmds[i]);
	}
	close(fd);
}

TEST(wrong_size_einval)
{
	const __u32 sizes[] = { 0, 1, 8, 56, 63, 65, 72, 128, 4096, ~0u };
	struct vde_features f, before;
	unsigned int i;
	int fd = open_control(_metadata);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(&f, 0, sizeof(f));
		f.size = sizes[i];
		before = f;
		errno = 0;
		EXPECT_EQ(-1, get_features(fd, &f)) TH_LOG("size %u", sizes[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("size %u", sizes[i]);
		/* A refused call writes nothing back. */
		EXPECT_EQ(0, memcmp(&f, &before, sizeof(f)));
	}
	close(fd);
}

TEST(nonzero_input_field_einval)
{
	struct vde_features f, before;
	unsigned int off;
	int fd = open_control(_metadata);

	/* Every byte after @size is output only and must come in as zero. */
	for (off = sizeof(__u32); off < sizeof(f); off++) {
		memset(&f, 0, sizeof(f));
		f.size = sizeof(f);
		((unsigned char *)&f)[off] = 0x80;
		before = f;
		errno = 0;
		EXPECT_EQ(-1, get_features(fd, &f)) TH_LOG("byte %u", off);
		EXPECT_EQ(EINVAL, errno) TH_LOG("byte %u", off);
		EXPECT_EQ(0, memcmp(&f, &before, sizeof(f)));
	}
	close(fd);
}

TEST(bad_pointer_efault)
{
	void *page;
	int fd = open_control(_metadata);

	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, VDE_CTL_GET_FEATURES, NULL));
	EXPECT_EQ(EFAULT, errno);

	page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, VDE_CTL_GET_FEATURES, page));
	EXPECT_EQ(EFAULT, errno);

	/* Readable but not writable: the result cannot be stored. */
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ | PROT_WRITE));
	memset(page, 0, sizeof(struct vde_features));
	((struct vde_features *)page)->size = sizeof(struct vde_features);
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ));
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, VDE_CTL_GET_FEATURES, page));
	EXPECT_EQ(EFAULT, errno);
	munmap(page, 4096);
	close(fd);
}

TEST(unprivileged_open_refused)
{
	pid_t pid;
	int status;
	int fd = open_control(_metadata);

	close(fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		fd = open(CONTROL, O_RDWR);
		_exit(fd < 0 && errno == EACCES ? 0 : 11);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

#define NPROC	32
#define ROUNDS	300

TEST(concurrent_open_close)
{
	pid_t pids[NPROC];
	unsigned int i, ok = 0;
	int status;
	int fd = open_control(_metadata);

	close(fd);
	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			struct vde_features f;
			unsigned int r;

			for (r = 0; r < ROUNDS; r++) {
				int cfd = open(CONTROL, O_RDWR);

				if (cfd < 0)
					_exit(1);
				memset(&f, 0, sizeof(f));
				f.size = sizeof(f);
				if (get_features(cfd, &f) ||
				    f.abi_version != VDE_ABI_VERSION)
					_exit(2);
				if (close(cfd))
					_exit(3);
			}
			_exit(0);
		}
	}
	for (i = 0; i < NPROC; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
		else
			TH_LOG("child %u: status 0x%x", i, status);
	}
	EXPECT_EQ(NPROC, ok);
}

TEST_HARNESS_MAIN
