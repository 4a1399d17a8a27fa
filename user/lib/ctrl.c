// SPDX-License-Identifier: GPL-2.0
/*
 * libvde: wrappers for the control device's ioctls.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libvde.h"

int vde_ctrl_open(const char *path)
{
	int fd = open(path ? path : VDE_CONTROL_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int vde_modprobe(void)
{
	char *argv[] = { "modprobe", "-q", "vde", NULL };
	extern char **environ;
	int status;
	pid_t pid;

	if (posix_spawnp(&pid, "modprobe", NULL, NULL, argv, environ))
		return -ENOENT;
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ENOENT;
}

int vde_ctrl_open_or_load(void)
{
	int fd = vde_ctrl_open(NULL);

	if (fd != -ENOENT || vde_modprobe())
		return fd;
	return vde_ctrl_open(NULL);
}

int vde_ctrl_add(int fd, struct vde_dev_add *add)
{
	add->size = sizeof(*add);
	return ioctl(fd, VDE_CTL_ADD, add) < 0 ? -errno : 0;
}

int vde_ctrl_dev_cmd(int fd, unsigned long cmd, int index, uint32_t flags)
{
	struct vde_dev_cmd dc = {
		.size = sizeof(dc), .index = index, .flags = flags,
	};

	return ioctl(fd, cmd, &dc) < 0 ? -errno : 0;
}

int vde_ctrl_get_info(int fd, int index, struct vde_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->index = index;
	return ioctl(fd, VDE_CTL_GET_INFO, info) < 0 ? -errno : 0;
}

int vde_ctrl_get_features(int fd, struct vde_features *feat)
{
	memset(feat, 0, sizeof(*feat));
	feat->size = sizeof(*feat);
	if (ioctl(fd, VDE_CTL_GET_FEATURES, feat) < 0)
		return -errno;
	return 0;
}

uint64_t vde_encode_dev(dev_t dev)
{
	uint64_t ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffULL) << 12);
}

static const char *const vde_feature_names[64] = {
	[0] = "control",
	[1] = "devices",
	[2] = "helper_uring",
	[3] = "helper_ioctl",
};

const char *vde_feature_name(unsigned int bit)
{
	return bit < 64 ? vde_feature_names[bit] : NULL;
}

int vde_features_describe(uint64_t features, char *buf, size_t len)
{
	size_t used = 0;
	unsigned int bit;
	int n;

	if (len)
		buf[0] = '\0';
	for (bit = 0; bit < 64; bit++) {
		const char *name = vde_feature_name(bit);
		char *p = used < len ? buf + used : NULL;
		size_t room = used < len ? len - used : 0;
		const char *sep = used ? " " : "";

		if (!(features & (1ULL << bit)))
			continue;
		n = name ? snprintf(p, room, "%s%s", sep, name) :
			   snprintf(p, room, "%sbit%u", sep, bit);
		used += n;
	}
	return used < len ? (int)used : -ENOSPC;
}
