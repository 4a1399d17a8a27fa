/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vde: VDE v2 image files as block devices - internal definitions.
 *
 * Locking
 * =======
 *
 * There are no driver locks yet: the control ioctls read only immutable
 * module state.  Each lock is listed here when it is introduced, with what it
 * protects, its place in the lock order and the contexts that take it.
 *
 * Module parameters are read-only after load and need no lock.
 */
#ifndef VDE_H
#define VDE_H

#include <linux/types.h>

struct vde_features;

/* main.c */
extern unsigned int vde_max_devices;

/* control.c */
int vde_control_init(void);
void vde_control_exit(void);
void vde_fill_features(struct vde_features *feat);

#endif /* VDE_H */
