// SPDX-License-Identifier: GPL-2.0
/*
 * libvde helper: starting a helper as a daemon.
 *
 * The caller forks; the child starts a new session and forks again, so
 * that the daemon is no session leader and the caller can reap the child
 * at once.  The daemon puts its standard streams on /dev/null, closes
 * every other descriptor but the report pipe (and one it must keep), logs
 * to syslog and runs vde_helper_run(), which writes one line to the pipe:
 * "ready PID" once every queue is armed, or "error MESSAGE".  The key is
 * handed over in memory: the daemon locks a copy of its own (memory locks
 * are not inherited) and drops the inherited one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "helper.h"

/* Close every descriptor from 3 up but @a and @b. */
static void close_others(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo < 3)
		lo = hi;
	if (lo >= 3)
		close_range(3, (unsigned int)lo - 1, 0);
	if (hi > lo)
		close_range((unsigned int)lo + 1, (unsigned int)hi - 1, 0);
	close_range((unsigned int)(hi > 2 ? hi : 2) + 1, ~0U, 0);
}

static void __attribute__((noreturn)) helper_daemon(struct vde_helper_cfg *cfg,
						    int wfd, int keep_fd)
{
	uint8_t *key = NULL;
	int fd, ret;

	/* Started with standard streams closed: keep the pipe clear of them. */
	if (wfd <= STDERR_FILENO)
		wfd = fcntl(wfd, F_DUPFD, STDERR_FILENO + 1);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (chdir("/"))
		_exit(1);
	close_others(wfd, keep_fd);
	/* Memory locks are not inherited: lock a copy, drop the parent's. */
	if (cfg->key) {
		key = vde_secure_alloc(VDE_XTS_KEY_SIZE);
		if (key)
			memcpy(key, cfg->key, VDE_XTS_KEY_SIZE);
		vde_secure_free((void *)cfg->key, VDE_XTS_KEY_SIZE);
		cfg->key = key;
	}
	cfg->ready_fd = wfd;
	cfg->syslog = true;
	ret = vde_helper_run(cfg);
	vde_secure_free(key, VDE_XTS_KEY_SIZE);
	_exit(ret ? 1 : 0);
}

/* One line from the daemon, within @timeout_ms; "" at end of file. */
static int read_reply(int fd, char *buf, size_t len, unsigned int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec start, now;
	size_t used = 0;
	long left;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (used + 1 < len && !memchr(buf, '\n', used)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long)timeout_ms - (now.tv_sec - start.tv_sec) * 1000 -
		       (now.tv_nsec - start.tv_nsec) / 1000000;
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		n = read(fd, buf + used, len - 1 - used);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (!n)
			break;
		if (n > 0)
			used += (size_t)n;
	}
	buf[used] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* What the daemon said: 0 and its PID, or why it is not serving. */
static int spawn_result(int rfd, unsigned int timeout_ms, int *pid, char *msg,
			size_t len)
{
	char reply[VDE_HELPER_MSG_MAX + 32];
	int ret = read_reply(rfd, reply, sizeof(reply), timeout_ms);

	if (ret)
		return ret;
	if (sscanf(reply, "ready %d", pid) == 1)
		return 0;
	if (strncmp(reply, "error ", 6))
		return -EPROTO;
	snprintf(msg, len, "%s", reply + 6);
	return -EIO;
}

int vde_helper_spawn(struct vde_helper_cfg *cfg, int keep_fd,
		     unsigned int timeout_ms, int *pid, char *msg, size_t len)
{
	int p[2], ret;
	pid_t child;

	if (len)
		msg[0] = '\0';
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	child = fork();
	if (!child) {
		close(p[0]);
		if (setsid() < 0)
			_exit(1);
		child = fork();
		if (child)
			_exit(child < 0);
		helper_daemon(cfg, p[1], keep_fd);
	}
	ret = -errno;
	close(p[1]);
	if (child < 0) {
		close(p[0]);
		return ret;
	}
	waitpid(child, NULL, 0);
	ret = spawn_result(p[0], timeout_ms, pid, msg, len);
	close(p[0]);
	return ret;
}
