/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvde: who is using a /dev/vdeN - mounts, holders, LIO and nvmet
 * exports.  Used by vdectl detach to refuse a busy device with a reason.
 */
#ifndef VDE_DEVUSERS_H
#define VDE_DEVUSERS_H

#include <stddef.h>

/**
 * vde_dev_users() - describe what uses a device
 * @root: prefix of /proc, /sys and /dev paths ("" for the real system; a
 *	directory holding a fake tree in tests)
 * @name: the disk's name, e.g. "vde0"
 * @why: filled with one line per user found ("mounted on /mnt",
 *	"held by dm-0", "exported by LIO backstore iblock_0/vde0",
 *	"exported by nvmet subsystem nqn.x namespace 1")
 * @len: size of @why
 *
 * Partitions of the disk count as the disk.  Export paths are compared
 * after resolving symbolic links, so /dev/disk/by-id/... names match.
 *
 * Return: the number of users found (0 if none).
 */
int vde_dev_users(const char *root, const char *name, char *why, size_t len);

#endif /* VDE_DEVUSERS_H */
