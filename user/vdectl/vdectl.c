// SPDX-License-Identifier: GPL-2.0
/*
 * vdectl: create, inspect, attach and report on VDE v2 images and devices.
 *
 * The commands are one table; help is generated from it.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "vdectl.h"

static int vdectl_cmd_help(int argc, char **argv);

static const struct vdectl_cmd vdectl_cmds[] = {
	{ "features", "[--json] [--control PATH]",
	  "show the ABI version, features and limits of the loaded vde.ko",
	  vdectl_cmd_features },
	{ "version", "", "show vdectl's version and the uapi ABI it speaks",
	  vdectl_cmd_version },
	{ "create",
	  "[--size SIZE|--blocks N] [--block-size BS] [--profile minimal|standard]\n"
	  "       [--uuid HEX] [--timestamp TICKS|@SECONDS] [--label LABEL] [--force]\n"
	  "       [--encrypt [REGION] [--passphrase-file FILE|--key-file FILE]\n"
	  "        [--kdf argon2id|pbkdf2] [--kdf-iterations N] [--kdf-memory-log2 N]] IMAGE",
	  "create a VDE v2 image file as the DataWarehouse SDK does",
	  vdectl_cmd_create },
	{ "info", "[--json] IMAGE",
	  "validate an image and show its superblock and regions",
	  vdectl_cmd_info },
	{ "check", "[--json] [--key-file FILE|--passphrase-file FILE] IMAGE",
	  "check an image's metadata (exit 0 clean, 1 usable, 4 unusable, 8 unreadable, 16 usage)",
	  vdectl_cmd_check },
	{ "key",
	  "verify [--passphrase-file FILE|--key-file FILE] IMAGE\n"
	  "       vdectl key add [--passphrase-file FILE|--key-file FILE] [--new-passphrase-file FILE]\n"
	  "                      [--kdf argon2id|pbkdf2] [--kdf-iterations N] [--kdf-memory-log2 N] IMAGE\n"
	  "       vdectl key remove [--passphrase-file FILE|--key-file FILE] --slot N IMAGE\n"
	  "       vdectl key passwd [--passphrase-file FILE] [--new-passphrase-file FILE]\n"
	  "                         [--kdf argon2id|pbkdf2] [--kdf-iterations N] [--kdf-memory-log2 N] IMAGE\n"
	  "       vdectl key list [--json] IMAGE",
	  "verify, add, remove, change and list the passphrases of an encrypted image",
	  vdectl_cmd_key },
	{ "attach",
	  "[--read-only] [--region NAME] [--show] [--logical-block-size 512|4096]\n"
	  "       [--index N] [--queues N] [--queue-depth N]\n"
	  "       [--key-file FILE|--passphrase-file FILE] [--via-helper]\n"
	  "       [--on-helper-loss fail|hold] [--helper-backend auto|io_uring|fallback] IMAGE",
	  "attach an image as /dev/vdeN (loads vde.ko if needed; starts the helper of encrypted regions)",
	  vdectl_cmd_attach },
	{ "detach", "[--force] [--wait SECS] DEV|IMAGE | --all [--force] [--wait SECS]",
	  "detach a device (and wait for its helper to exit); refuses one that is mounted, held, open or exported",
	  vdectl_cmd_detach },
	{ "helper",
	  "[--key-file FILE|--passphrase-file FILE]\n"
	  "       [--helper-backend auto|io_uring|fallback] [--foreground|--daemon] DEV",
	  "run the helper of a device's encrypted regions (in the foreground by default)",
	  vdectl_cmd_helper },
	{ "recover",
	  "[--key-file FILE|--passphrase-file FILE]\n"
	  "       [--helper-backend auto|io_uring|fallback] DEV",
	  "start a new helper for a device whose helper was lost",
	  vdectl_cmd_recover },
	{ "list", "[--json]", "list vde devices", vdectl_cmd_list },
	{ "stats", "[--json] DEV",
	  "show a device's capabilities, counters and p50/p99 latency",
	  vdectl_cmd_stats },
	{ "help", "[COMMAND]", "show this help", vdectl_cmd_help },
};

#define VDECTL_NR_CMDS (sizeof(vdectl_cmds) / sizeof(vdectl_cmds[0]))

int vdectl_parse_json_opt(const char *cmd, int argc, char **argv, int *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*json = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "J", opts, NULL)) != -1) {
		if (c != 'J')
			return vdectl_usage_error(cmd, "bad option");
		*json = 1;
	}
	return VDECTL_EXIT_OK;
}

void vdectl_json_print(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					       JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void vdectl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("vdectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int vdectl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vdectl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'vdectl help %s'.\n", cmd);
	return VDECTL_EXIT_USAGE;
}

static const struct vdectl_cmd *vdectl_find(const char *name)
{
	size_t i;

	for (i = 0; i < VDECTL_NR_CMDS; i++)
		if (!strcmp(vdectl_cmds[i].name, name))
			return &vdectl_cmds[i];
	return NULL;
}

static void vdectl_print_usage(FILE *out)
{
	size_t i;

	fputs("Usage: vdectl COMMAND [OPTIONS] [ARGS]\n\nCommands:\n", out);
	for (i = 0; i < VDECTL_NR_CMDS; i++)
		fprintf(out, "  %-10s %s\n", vdectl_cmds[i].name,
			vdectl_cmds[i].help);
	fputs("\nExit codes: 0 success, 1 failure, 2 usage error, "
	      "3 vde.ko or device missing.\n", out);
}

static int vdectl_cmd_help(int argc, char **argv)
{
	const struct vdectl_cmd *cmd;

	if (argc < 2) {
		vdectl_print_usage(stdout);
		return VDECTL_EXIT_OK;
	}
	cmd = vdectl_find(argv[1]);
	if (!cmd)
		return vdectl_usage_error("help", "unknown command '%s'", argv[1]);
	printf("Usage: vdectl %s %s\n\n%s\n", cmd->name, cmd->args, cmd->help);
	return VDECTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct vdectl_cmd *cmd;

	if (argc < 2) {
		vdectl_print_usage(stderr);
		return VDECTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return vdectl_cmd_help(1, argv);
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		return vdectl_cmd_version(1, argv + 1);
	cmd = vdectl_find(argv[1]);
	if (!cmd) {
		vdectl_err("unknown command '%s'", argv[1]);
		vdectl_print_usage(stderr);
		return VDECTL_EXIT_USAGE;
	}
	return cmd->fn(argc - 1, argv + 1);
}
