// SPDX-License-Identifier: GPL-2.0
/*
 * libvde: who is using a /dev/vdeN.
 */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "devusers.h"

struct users {
	char *why;
	size_t len;
	size_t used;
	int count;
};

static void add_user(struct users *u, const char *fmt, ...)
{
	va_list ap;
	int n;

	u->count++;
	if (u->used >= u->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(u->why + u->used, u->len - u->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		u->used += (size_t)n;
	if (u->used >= u->len) {
		/* Truncated: keep what fits, stop adding. */
		u->used = u->len;
		return;
	}
	if (u->used < u->len - 1) {
		u->why[u->used++] = '\n';
		u->why[u->used] = '\0';
	}
}

/* Is @name the disk @disk or one of its partitions (vde0, vde0p1)? */
static int is_disk_or_part(const char *name, const char *disk)
{
	size_t n = strlen(disk);

	if (strncmp(name, disk, n))
		return 0;
	return name[n] == '\0' || (name[n] == 'p' && name[n + 1] >= '0' &&
				   name[n + 1] <= '9');
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char *nl;

	if (!f)
		return -1;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	return 0;
}

/* The device numbers of the disk and its partitions, from sysfs. */
static int disk_devs(const char *root, const char *disk, dev_t *devs, int max)
{
	char path[PATH_MAX], buf[64];
	struct dirent *de;
	unsigned int ma, mi;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/sys/block/%s/dev", root, disk);
	if (read_line(path, buf, sizeof(buf)) == 0 &&
	    sscanf(buf, "%u:%u", &ma, &mi) == 2)
		devs[n++] = makedev(ma, mi);
	snprintf(path, sizeof(path), "%s/sys/block/%s", root, disk);
	d = opendir(path);
	if (!d)
		return n;
	while ((de = readdir(d)) && n < max) {
		if (!is_disk_or_part(de->d_name, disk) || !strcmp(de->d_name, disk))
			continue;
		snprintf(path, sizeof(path), "%s/sys/block/%s/%s/dev", root,
			 disk, de->d_name);
		if (read_line(path, buf, sizeof(buf)) == 0 &&
		    sscanf(buf, "%u:%u", &ma, &mi) == 2)
			devs[n++] = makedev(ma, mi);
	}
	closedir(d);
	return n;
}

static void find_mounts(const char *root, const dev_t *devs, int ndev,
			struct users *u)
{
	char path[PATH_MAX], line[4096], mnt[PATH_MAX];
	unsigned int ma, mi;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/proc/self/mountinfo", root);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &ma, &mi, mnt) != 3)
			continue;
		for (i = 0; i < ndev; i++)
			if (devs[i] == makedev(ma, mi))
				add_user(u, "mounted on %s", mnt);
	}
	fclose(f);
}

static void find_holders(const char *root, const char *disk, struct users *u)
{
	char path[PATH_MAX];
	struct dirent *de, *pe;
	DIR *d, *pd;

	snprintf(path, sizeof(path), "%s/sys/block/%s/holders", root, disk);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				add_user(u, "held by %s", de->d_name);
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/sys/block/%s", root, disk);
	pd = opendir(path);
	if (!pd)
		return;
	while ((pe = readdir(pd))) {
		if (!is_disk_or_part(pe->d_name, disk) || !strcmp(pe->d_name, disk))
			continue;
		snprintf(path, sizeof(path), "%s/sys/block/%s/%s/holders", root,
			 disk, pe->d_name);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				add_user(u, "%s held by %s", pe->d_name, de->d_name);
		closedir(d);
	}
	closedir(pd);
}

/* Does the block device path @dev (as written in configfs) name our disk? */
static int names_disk(const char *root, const char *dev, const dev_t *devs,
		      int ndev)
{
	char path[PATH_MAX];
	struct stat st;
	int i;

	if (!dev[0])
		return 0;
	snprintf(path, sizeof(path), "%s%s", root, dev);
	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return 0;
	for (i = 0; i < ndev; i++)
		if (devs[i] == st.st_rdev)
			return 1;
	return 0;
}

/* LIO: /sys/kernel/config/target/core/<hba>/<backstore>/udev_path */
static void find_lio(const char *root, const dev_t *devs, int ndev,
		     struct users *u)
{
	char path[PATH_MAX], val[PATH_MAX];
	struct dirent *h, *b;
	DIR *hd, *bd;

	snprintf(path, sizeof(path), "%s/sys/kernel/config/target/core", root);
	hd = opendir(path);
	if (!hd)
		return;
	while ((h = readdir(hd))) {
		if (h->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/sys/kernel/config/target/core/%s",
			 root, h->d_name);
		bd = opendir(path);
		if (!bd)
			continue;
		while ((b = readdir(bd))) {
			if (b->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path),
				 "%s/sys/kernel/config/target/core/%s/%s/udev_path",
				 root, h->d_name, b->d_name);
			if (read_line(path, val, sizeof(val)) == 0 &&
			    names_disk(root, val, devs, ndev))
				add_user(u, "exported by LIO backstore %s/%s",
					 h->d_name, b->d_name);
		}
		closedir(bd);
	}
	closedir(hd);
}

/* nvmet: /sys/kernel/config/nvmet/subsystems/<nqn>/namespaces/<n>/device_path */
static void find_nvmet(const char *root, const dev_t *devs, int ndev,
		       struct users *u)
{
	char path[PATH_MAX], val[PATH_MAX];
	struct dirent *s, *n;
	DIR *sd, *nd;

	snprintf(path, sizeof(path), "%s/sys/kernel/config/nvmet/subsystems",
		 root);
	sd = opendir(path);
	if (!sd)
		return;
	while ((s = readdir(sd))) {
		if (s->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path),
			 "%s/sys/kernel/config/nvmet/subsystems/%s/namespaces",
			 root, s->d_name);
		nd = opendir(path);
		if (!nd)
			continue;
		while ((n = readdir(nd))) {
			if (n->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path),
				 "%s/sys/kernel/config/nvmet/subsystems/%s/namespaces/%s/device_path",
				 root, s->d_name, n->d_name);
			if (read_line(path, val, sizeof(val)) == 0 &&
			    names_disk(root, val, devs, ndev))
				add_user(u, "exported by nvmet subsystem %s namespace %s",
					 s->d_name, n->d_name);
		}
		closedir(nd);
	}
	closedir(sd);
}

int vde_dev_users(const char *root, const char *name, char *why, size_t len)
{
	struct users u = { .why = why, .len = len };
	dev_t devs[64];
	int ndev;

	if (len)
		why[0] = '\0';
	ndev = disk_devs(root, name, devs, 64);
	find_mounts(root, devs, ndev, &u);
	find_holders(root, name, &u);
	find_lio(root, devs, ndev, &u);
	find_nvmet(root, devs, ndev, &u);
	if (u.used && u.used < len && u.why[u.used - 1] == '\n')
		u.why[u.used - 1] = '\0';
	return u.count;
}
