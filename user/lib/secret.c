// SPDX-License-Identifier: GPL-2.0
/*
 * libvde secret input: passphrases from a terminal or a pipe, raw key files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "secret.h"

/* Read one line a byte at a time, so that nothing after it is consumed. */
static int read_line(int fd, char *buf, size_t len, size_t *outlen)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0)
			return -errno;
		if (r == 0) {
			if (!n)
				return -ENODATA;
			break;
		}
		if (c == '\n')
			break;
		if (n + 1 >= len)
			return -EMSGSIZE;
		buf[n++] = c;
	}
	buf[n] = '\0';
	*outlen = n;
	return 0;
}

static int write_all(int fd, const char *s, size_t len)
{
	ssize_t r;

	while (len) {
		r = write(fd, s, len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += r;
		len -= (size_t)r;
	}
	return 0;
}

/* The terminal @fd is on, opened for writing; -1 if none can be had. */
static int open_tty_out(int fd, bool *opened)
{
	char name[PATH_MAX];
	int flags = fcntl(fd, F_GETFL);
	int out;

	*opened = false;
	if (flags >= 0 && (flags & O_ACCMODE) == O_RDWR)
		return fd;
	if (ttyname_r(fd, name, sizeof(name)) == 0) {
		out = open(name, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (out >= 0) {
			*opened = true;
			return out;
		}
	}
	return STDERR_FILENO;
}

static int read_tty(const char *prompt, int fd, char *buf, size_t len,
		    size_t *outlen)
{
	struct termios old, noecho;
	bool opened;
	int out, ret, ret2;

	if (tcgetattr(fd, &old) < 0)
		return -errno;
	out = open_tty_out(fd, &opened);
	if (prompt) {
		ret = write_all(out, prompt, strlen(prompt));
		if (ret)
			goto out_close;
	}

	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	if (tcsetattr(fd, TCSAFLUSH, &noecho) < 0) {
		ret = -errno;
		goto out_close;
	}
	ret = read_line(fd, buf, len, outlen);
	if (tcsetattr(fd, TCSAFLUSH, &old) < 0 && !ret)
		ret = -errno;
	ret2 = write_all(out, "\n", 1);
	if (!ret)
		ret = ret2;

out_close:
	if (opened)
		close(out);
	return ret;
}

int vde_read_passphrase(const char *prompt, int fd_in, char *buf, size_t len,
			size_t *outlen)
{
	int ret;

	if (!len)
		return -EINVAL;
	if (isatty(fd_in))
		ret = read_tty(prompt, fd_in, buf, len, outlen);
	else
		ret = read_line(fd_in, buf, len, outlen);
	if (ret)
		vde_cleanse(buf, len);
	return ret;
}

/* Read until @len bytes or end of file; returns the count or -errno. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t r;

	while (done < len) {
		r = read(fd, (char *)buf + done, len - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int vde_read_key_file(const char *path, uint8_t key[VDE_XTS_KEY_SIZE])
{
	bool use_stdin = strcmp(path, "-") == 0;
	ssize_t n, extra = 0;
	uint8_t more;
	int fd, ret = 0;

	fd = use_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;

	n = read_full(fd, key, VDE_XTS_KEY_SIZE);
	if (n == VDE_XTS_KEY_SIZE)
		extra = read_full(fd, &more, 1);
	if (n < 0)
		ret = (int)n;
	else if (extra < 0)
		ret = (int)extra;
	else if (n != VDE_XTS_KEY_SIZE || extra)
		ret = -EINVAL;

	if (!use_stdin)
		close(fd);
	if (ret)
		vde_cleanse(key, VDE_XTS_KEY_SIZE);
	vde_cleanse(&more, sizeof(more));
	return ret;
}
