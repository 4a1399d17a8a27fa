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

/* vdectl.c */
void vdectl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vdectl_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* VDECTL_H */
