/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the selftests that drive the helper data plane themselves
 * (vde_ring_test, vde_fuzz): clocks, a no-op signal handler, and the
 * hand-built io_uring command (liburing 2.3 has no helper for it).
 */
#ifndef VDE_RING_UTIL_H
#define VDE_RING_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <liburing.h>
#include <linux/vde.h>

static inline long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A handler that only interrupts a blocking call with EINTR. */
static inline void on_alarm(int sig)
{
	(void)sig;
}

/* Fill @sqe with the helper command @op carrying @c on /dev/vdecN @fd. */
static inline void vde_prep_ring_cmd(struct io_uring_sqe *sqe, int fd, __u32 op,
				     const struct vde_ring_cmd *c, __u64 ud)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	/* The 16 command bytes of a 64-byte SQE */
	memcpy((unsigned char *)sqe + offsetof(struct io_uring_sqe, cmd), c,
	       sizeof(*c));
	sqe->user_data = ud;
}

#endif /* VDE_RING_UTIL_H */
