/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vde: AES-256-XTS of large buffers shared by a team of threads.
 */
#ifndef VDE_XTS_TEAM_H
#define VDE_XTS_TEAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

struct vde_xts_team;

/**
 * struct vde_team_work - a job for a team thread
 * @next: the team's queue (the team's own)
 * @fn: what to run, with the team thread's cipher; it may call
 *	vde_xts_team_crypt() with the same team and that cipher
 *
 * The caller owns the memory; it must stay valid until @fn has returned.
 */
struct vde_team_work {
	struct vde_team_work *next;
	void (*fn)(struct vde_team_work *w, struct vde_xts *x);
};

/**
 * vde_xts_team_new() - start a team of cipher threads
 * @key: the 64-byte AES-256-XTS key; each thread keeps its own schedule
 * @nr: threads; 0 makes no team (*@out is NULL)
 * @out: the team
 *
 * Return: 0 or a negative errno.
 */
int vde_xts_team_new(const uint8_t key[VDE_XTS_KEY_SIZE], unsigned int nr,
		     struct vde_xts_team **out);

/**
 * vde_xts_team_free() - stop the threads and wipe their keys
 * @t: the team, or NULL
 */
void vde_xts_team_free(struct vde_xts_team *t);

/**
 * vde_xts_team_crypt() - encrypt or decrypt a buffer in place
 * @t: a team, or NULL to do it all in the calling thread
 * @x: the calling thread's cipher
 * @off: VDE byte offset of @buf (the tweak origin), a multiple of 4096
 * @buf: the data
 * @len: bytes, a multiple of 4096
 * @encrypt: encrypt, else decrypt
 *
 * Buffers of 64 KiB and more are cut into parts of whole data units that
 * the team and the caller transform at the same time, unless the team has
 * queued work (parts or jobs), which keeps all its threads busy: then the
 * caller does it all.  The call returns when all parts are done.
 *
 * Return: 0, -EINVAL for misaligned input, or -EIO.
 */
int vde_xts_team_crypt(struct vde_xts_team *t, struct vde_xts *x,
		       uint64_t off, uint8_t *buf, size_t len, bool encrypt);

/**
 * vde_xts_team_queue() - run a job on a team thread
 * @t: the team
 * @w: the job
 *
 * Jobs run in the order they were queued, each on one team thread, while
 * the caller goes on.  A thread waiting in vde_xts_team_crypt() runs the
 * parts of large buffers that are queued, never jobs, so jobs that cut
 * their own buffers into parts always make progress.
 */
void vde_xts_team_queue(struct vde_xts_team *t, struct vde_team_work *w);

/**
 * vde_xts_team_size() - the number of threads of a team
 * @t: the team, or NULL
 *
 * Return: the threads vde_xts_team_new() started, 0 for NULL.
 */
unsigned int vde_xts_team_size(const struct vde_xts_team *t);

/**
 * vde_xts_team_parts() - the parts a team has been handed
 * @t: the team
 *
 * Return: the parts vde_xts_team_crypt() has queued since the team
 * started (the caller's own part of each call not counted).
 */
unsigned long vde_xts_team_parts(struct vde_xts_team *t);

#endif /* VDE_XTS_TEAM_H */
