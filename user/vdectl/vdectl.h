/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdectl: shared definitions of the command-line tool.
 */
#ifndef VDECTL_H
#define VDECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "helper.h"

struct vde_image;

/*
 * Exit codes, documented in vdectl(8).
 */
enum {
	VDECTL_EXIT_OK = 0,		/* success */
	VDECTL_EXIT_FAIL = 1,		/* the operation failed */
	VDECTL_EXIT_USAGE = 2,		/* bad command line */
	VDECTL_EXIT_NODEV = 3,		/* vde.ko or the device is not there */
};

/*
 * Exit codes of "vdectl check", fsck-like, documented in vdectl(8).
 */
enum {
	VDECTL_CHECK_CLEAN = 0,		/* no problems (notes allowed) */
	VDECTL_CHECK_ERRORS = 1,	/* problems, but the image is usable */
	VDECTL_CHECK_UNUSABLE = 4,	/* problems that make it unusable */
	VDECTL_CHECK_OPERATIONAL = 8,	/* the image could not be read */
	VDECTL_CHECK_USAGE = 16,	/* bad command line */
};

/**
 * struct vdectl_cmd - one vdectl command
 * @name: what the user types
 * @args: synopsis of its arguments, for help
 * @help: one-line description, for help
 * @fn: runs the command with argv[0] = @name; returns a VDECTL_EXIT_* code
 */
struct vdectl_cmd {
	const char *name;
	const char *args;
	const char *help;
	int (*fn)(int argc, char **argv);
};

/* cmd-module.c */
int vdectl_cmd_features(int argc, char **argv);
int vdectl_cmd_version(int argc, char **argv);

/* cmd-dev.c */
int vdectl_cmd_attach(int argc, char **argv);
int vdectl_cmd_detach(int argc, char **argv);
int vdectl_cmd_list(int argc, char **argv);
int vdectl_cmd_stats(int argc, char **argv);
/* Open the control device, loading vde.ko if needed, or say why not. */
int vdectl_ctrl(void);
/* The exit code of a failed vdectl_ctrl(). */
int vdectl_ctrl_status(int fd);
/* "/dev/vde3", "vde3" or "3" -> 3; -1 if @s names no vde device. */
int vdectl_parse_dev(const char *s);
/* Read /sys/block/vdeN/vde/ATTR without its final newline; -errno. */
int vdectl_sysfs_read(int index, const char *attr, char *buf, size_t len);
/* The value of the "KEY VALUE" line of @text, or NULL. */
const char *vdectl_field(const char *text, const char *key);
/* The same value up to the end of its line, in @out; "" if none. */
void vdectl_field_word(const char *text, const char *key, char *out, size_t len);

/* cmd-helper.c */
int vdectl_cmd_helper(int argc, char **argv);
int vdectl_cmd_recover(int argc, char **argv);

/* cmd-image.c */
int vdectl_cmd_create(int argc, char **argv);
int vdectl_cmd_info(int argc, char **argv);
int vdectl_cmd_check(int argc, char **argv);

/* cmd-key.c */
int vdectl_cmd_key(int argc, char **argv);

/*
 * getopt_long() values of the long-only options that "create" and "key"
 * share.
 */
enum {
	VDECTL_OPT_PASS_FILE = 0x100,	/* --passphrase-file FILE */
	VDECTL_OPT_KEY_FILE,		/* --key-file FILE */
	VDECTL_OPT_NEW_PASS_FILE,	/* --new-passphrase-file FILE */
	VDECTL_OPT_KDF,			/* --kdf argon2id|pbkdf2 */
	VDECTL_OPT_KDF_ITER,		/* --kdf-iterations N */
	VDECTL_OPT_KDF_MEM,		/* --kdf-memory-log2 N */
	VDECTL_OPT_SLOT,		/* --slot N */
	VDECTL_OPT_ENCRYPT,		/* --encrypt [REGION] */
	VDECTL_OPT_HELPER_BACKEND,	/* --helper-backend auto|io_uring|fallback */
	VDECTL_OPT_ON_HELPER_LOSS,	/* --on-helper-loss fail|hold */
	VDECTL_OPT_VIA_HELPER,		/* --via-helper */
	VDECTL_OPT_QUEUES,		/* --queues N */
	VDECTL_OPT_QUEUE_DEPTH,		/* --queue-depth N */
	VDECTL_OPT_FOREGROUND,		/* --foreground */
	VDECTL_OPT_DAEMON,		/* --daemon */
};

/**
 * struct vdectl_helper_opts - the key and backend options of attach,
 *	helper and recover
 * @pass_file: --passphrase-file, or NULL
 * @key_file: --key-file, or NULL
 * @backend: --helper-backend
 */
struct vdectl_helper_opts {
	const char *pass_file;
	const char *key_file;
	enum vde_helper_backend backend;
};

/* The getopt_long() entries of &struct vdectl_helper_opts. */
#define VDECTL_HELPER_OPTIONS \
	{ "key-file", required_argument, NULL, VDECTL_OPT_KEY_FILE }, \
	{ "passphrase-file", required_argument, NULL, VDECTL_OPT_PASS_FILE }, \
	{ "helper-backend", required_argument, NULL, VDECTL_OPT_HELPER_BACKEND }

/**
 * vdectl_helper_opt() - take one of the options of &struct vdectl_helper_opts
 * @cmd: the command, for usage errors
 * @c: getopt_long()'s value
 * @arg: the option's argument
 * @o: updated
 *
 * Return: 0 if taken; -1 if @c is another option; VDECTL_EXIT_USAGE (after
 * printing why) for a bad value.
 */
int vdectl_helper_opt(const char *cmd, int c, const char *arg,
		      struct vdectl_helper_opts *o);

/**
 * vdectl_helper_key() - unlock an image's key for its helper
 * @img: the image
 * @path: its name
 * @o: the key options
 * @key: set to the key, in 64 bytes of vde_secure_alloc() memory
 *
 * Return: 0 or VDECTL_EXIT_FAIL after printing why.
 */
int vdectl_helper_key(const struct vde_image *img, const char *path,
		      const struct vdectl_helper_opts *o, uint8_t **key);

/**
 * vdectl_helper_spawn() - start a helper daemon, wait until it is ready
 * @cfg: the helper, as vde_helper_spawn() takes it; a @cfg->node_wait_ms
 *	of 0 means a few seconds
 * @keep_fd: a descriptor the daemon keeps, or -1
 * @pid: set to the daemon's process ID
 *
 * Return: 0, or VDECTL_EXIT_FAIL after printing the helper's message.
 */
int vdectl_helper_spawn(struct vde_helper_cfg *cfg, int keep_fd, int *pid);

/* Longest passphrase accepted, in bytes, plus its NUL. */
#define VDECTL_PASS_MAX		1024

/**
 * struct vdectl_secret - a passphrase or key typed or read by vdectl
 * @pass: the passphrase, NUL-terminated, in vde_secure_alloc() memory
 *	(2 * VDECTL_PASS_MAX bytes), or NULL
 * @passlen: its length
 * @key: a 64-byte key in vde_secure_alloc() memory, or NULL
 *
 * Start zeroed; release with vdectl_secret_free().
 */
struct vdectl_secret {
	char *pass;
	size_t passlen;
	uint8_t *key;
};

/**
 * struct vdectl_kdf_args - the KDF options as given
 * @kdf: --kdf, or NULL
 * @iterations: --kdf-iterations, or NULL
 * @memory: --kdf-memory-log2, or NULL
 */
struct vdectl_kdf_args {
	const char *kdf;
	const char *iterations;
	const char *memory;
};

struct vde_kdf;

/**
 * vdectl_read_pass() - read a passphrase
 * @file: a file whose first line is the passphrase, "-" for standard
 *	input, or NULL to prompt on standard input
 * @prompt: the prompt shown when @file is NULL and standard input is a
 *	terminal
 * @again: if not NULL, the prompt of a second entry that must match
 *	(terminals only)
 * @s: @s->pass and @s->passlen are set
 *
 * Without a terminal, one line is read without a prompt.  Errors are
 * printed.
 *
 * Return: 0 or VDECTL_EXIT_FAIL.
 */
int vdectl_read_pass(const char *file, const char *prompt, const char *again,
		     struct vdectl_secret *s);

/**
 * vdectl_read_key() - read a 64-byte key file
 * @file: the file, or "-" for standard input
 * @s: @s->key is set
 *
 * Errors are printed.
 *
 * Return: 0 or VDECTL_EXIT_FAIL.
 */
int vdectl_read_key(const char *file, struct vdectl_secret *s);

/**
 * vdectl_unlock() - the master key of an encrypted image
 * @img: the image
 * @path: its name, for messages and the passphrase prompt
 * @pass_file: a file holding the passphrase, "-" for standard input, or
 *	NULL
 * @key_file: a raw key file, "-" for standard input, or NULL; with both
 *	NULL, the passphrase is asked for on standard input (without echo on
 *	a terminal)
 * @master: receives the key, once checked against the image's key
 *	fingerprint (64 bytes of vde_secure_alloc() memory)
 *
 * Errors are printed (a wrong key: "IMAGE: wrong passphrase or key").
 *
 * Return: 0 or VDECTL_EXIT_FAIL.
 */
int vdectl_unlock(const struct vde_image *img, const char *path,
		  const char *pass_file, const char *key_file, uint8_t *master);

/**
 * vdectl_secret_free() - wipe and free a secret
 * @s: the secret; may be freed twice
 */
void vdectl_secret_free(struct vdectl_secret *s);

/**
 * vdectl_kdf_parse() - check the KDF options and fill in defaults
 * @cmd: the command, for usage errors
 * @a: the options
 * @kdf: set on success
 *
 * Return: 0 or VDECTL_EXIT_USAGE (after printing why).
 */
int vdectl_kdf_parse(const char *cmd, const struct vdectl_kdf_args *a,
		     struct vde_kdf *kdf);

/**
 * vdectl_ticks_now() - the current time in .NET ticks
 *
 * Return: the ticks.
 */
int64_t vdectl_ticks_now(void);

/* vdectl.c */
struct json_object;
/*
 * Parse a command line whose only option is --json/-J, leaving optind at
 * the first argument; returns VDECTL_EXIT_OK or a usage error's status.
 */
int vdectl_parse_json_opt(const char *cmd, int argc, char **argv, int *json);
/* Print @o as pretty JSON on stdout and release it. */
void vdectl_json_print(struct json_object *o);
void vdectl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vdectl_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* VDECTL_H */
