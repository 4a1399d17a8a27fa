/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvde secret input: passphrases and raw key files.
 *
 * Callers pass buffers from vde_secure_alloc() and wipe them with
 * vde_secure_free(). Functions return 0 on success and a negative errno on
 * failure; they never rely on the global errno. On failure the output
 * buffer has been wiped.
 */
#ifndef VDE_SECRET_H
#define VDE_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

/**
 * vde_read_passphrase() - read one passphrase
 * @prompt: text shown before reading from a terminal, or NULL for none
 * @fd_in: where to read from
 * @buf: receives the passphrase, NUL-terminated
 * @len: size of @buf; the passphrase may have at most @len - 1 bytes
 * @outlen: set to the passphrase's length, without the NUL
 *
 * If @fd_in is a terminal, @prompt is written to that terminal (to @fd_in
 * itself when it is open for writing, else to the device ttyname() names,
 * else to stderr), echo is turned off while one line is read, and the
 * terminal's settings are restored before returning, also on error; a
 * newline is then written in place of the one that was not echoed.
 * Otherwise one line is read from @fd_in without a prompt. Reading stops at
 * the first newline, which is not stored, or at end of file; nothing past
 * the newline is consumed.
 *
 * Return: 0; -ENODATA at end of file before any byte; -EMSGSIZE if the line
 * does not fit in @buf; -EINVAL if @len is 0; -EINTR if a signal
 * interrupted the read; or another negative errno from the system.
 */
int vde_read_passphrase(const char *prompt, int fd_in, char *buf, size_t len,
			size_t *outlen);

/**
 * vde_read_key_file() - read a raw 64-byte master key
 * @path: file to read, or "-" for standard input (which is not closed)
 * @key: receives the key
 *
 * The file must hold exactly 64 bytes; at most 65 bytes are read.
 *
 * Return: 0; -EINVAL if the file is shorter or longer than 64 bytes; or a
 * negative errno from opening or reading it.
 */
int vde_read_key_file(const char *path, uint8_t key[VDE_XTS_KEY_SIZE]);

#endif /* VDE_SECRET_H */
