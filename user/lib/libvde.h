/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvde: vde's internal userspace library (not installed).
 *
 * Functions return 0 or a non-negative result on success and a negative
 * errno on failure; they never rely on the global errno.
 */
#ifndef LIBVDE_H
#define LIBVDE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/vde.h>

/** Path of the control device. */
#define VDE_CONTROL_PATH "/dev/" VDE_CONTROL_NAME

/**
 * vde_ctrl_open() - open the control device
 * @path: device path, or NULL for VDE_CONTROL_PATH
 *
 * Return: a file descriptor (close-on-exec) or a negative errno.
 */
int vde_ctrl_open(const char *path);

/**
 * vde_ctrl_get_features() - issue VDE_CTL_GET_FEATURES
 * @fd: the control device
 * @feat: filled on success
 *
 * Return: 0 or a negative errno.
 */
int vde_ctrl_get_features(int fd, struct vde_features *feat);

/**
 * vde_ctrl_open_or_load() - open the control device, loading vde.ko first
 *	if the device is missing
 *
 * Runs "modprobe vde" once when the device does not exist, then retries.
 *
 * Return: a file descriptor or a negative errno.
 */
int vde_ctrl_open_or_load(void);

/**
 * vde_ctrl_add() - issue VDE_CTL_ADD
 * @fd: the control device
 * @add: the request; @add->size is set here; @add->index is updated
 *
 * Return: 0 or a negative errno.
 */
int vde_ctrl_add(int fd, struct vde_dev_add *add);

/**
 * vde_ctrl_dev_cmd() - issue VDE_CTL_START, VDE_CTL_STOP or VDE_CTL_REMOVE
 * @fd: the control device
 * @cmd: the ioctl
 * @index: the device
 * @flags: VDE_REMOVE_FORCE or 0
 *
 * Return: 0 or a negative errno.
 */
int vde_ctrl_dev_cmd(int fd, unsigned long cmd, int index, uint32_t flags);

/**
 * vde_ctrl_get_info() - issue VDE_CTL_GET_INFO
 * @fd: the control device
 * @index: the device
 * @info: filled on success
 *
 * Return: 0 or a negative errno (-ENODEV for no such device).
 */
int vde_ctrl_get_info(int fd, int index, struct vde_dev_info *info);

/**
 * vde_encode_dev() - a device number as &vde_dev_info.backing_dev has it
 * @dev: st_dev of a file
 *
 * Return: the kernel's new_encode_dev() form of @dev.
 */
uint64_t vde_encode_dev(dev_t dev);

/**
 * vde_feature_name() - name of one VDE_FEAT_* bit
 * @bit: bit number, 0-63
 *
 * Return: a static lower-case name, or NULL for a bit this build does not
 * know.
 */
const char *vde_feature_name(unsigned int bit);

/**
 * vde_features_describe() - the feature bits as a space-separated list
 * @features: VDE_FEAT_* bits
 * @buf: output buffer
 * @len: size of @buf
 *
 * Known bits are named; unknown ones are written as "bitN".
 *
 * Return: the length of the full description (as snprintf), or a negative
 * errno if @len is too small to hold it.
 */
int vde_features_describe(uint64_t features, char *buf, size_t len);

#endif /* LIBVDE_H */
