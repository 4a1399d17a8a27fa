/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdectl: shared definitions of the command-line tool.
 */
#ifndef VDECTL_H
#define VDECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
};

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
