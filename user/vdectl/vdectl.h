/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vdectl: shared definitions of the command-line tool.
 */
#ifndef VDECTL_H
#define VDECTL_H

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

/* vdectl.c */
struct json_object;
/* Print @o as pretty JSON on stdout and release it. */
void vdectl_json_print(struct json_object *o);
void vdectl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vdectl_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* VDECTL_H */
