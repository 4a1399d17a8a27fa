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
