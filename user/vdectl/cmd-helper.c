// SPDX-License-Identifier: GPL-2.0
/*
 * vdectl: the helper that serves encrypted regions - started as a daemon
 * by attach, run by "vdectl helper", restarted by "vdectl recover".
 *
 * The key is read and checked against the image's key fingerprint before
 * the helper starts; it reaches the helper in memory (fork without exec),
 * never through arguments, the environment or a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "libvde.h"
#include "vdectl.h"

/* How long attach waits for the helper, and the helper for /dev/vdecN. */
#define HELPER_READY_MS		30000
#define HELPER_NODE_WAIT_MS	5000
/* How long recover waits for vde.ko to notice that a helper died. */
#define RECOVER_LOST_MS		3000

int vdectl_helper_opt(const char *cmd, int c, const char *arg,
		      struct vdectl_helper_opts *o)
{
	switch (c) {
	case VDECTL_OPT_KEY_FILE:
		o->key_file = arg;
		break;
	case VDECTL_OPT_PASS_FILE:
		o->pass_file = arg;
		break;
	case VDECTL_OPT_HELPER_BACKEND:
		if (vde_helper_backend_parse(arg, &o->backend))
			return vdectl_usage_error(cmd,
				"bad --helper-backend '%s' (auto, io_uring or fallback)", arg);
		break;
	default:
		return -1;
	}
	if (o->key_file && o->pass_file)
		return vdectl_usage_error(cmd,
			"--passphrase-file and --key-file exclude each other");
	return 0;
}

int vdectl_helper_key(const struct vde_image *img, const char *path,
		      const struct vdectl_helper_opts *o, uint8_t **key)
{
	int ret;

	*key = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	if (!*key) {
		vdectl_err("out of memory");
		return VDECTL_EXIT_FAIL;
	}
	ret = vdectl_unlock(img, path, o->pass_file, o->key_file, *key);
	if (ret) {
		vde_secure_free(*key, VDE_XTS_KEY_SIZE);
		*key = NULL;
	}
	return ret;
}

int vdectl_helper_spawn(struct vde_helper_cfg *cfg, int keep_fd, int *pid)
{
	char msg[VDE_HELPER_MSG_MAX];
	int ret;

	if (!cfg->node_wait_ms)
		cfg->node_wait_ms = HELPER_NODE_WAIT_MS;
	fflush(NULL);
	ret = vde_helper_spawn(cfg, keep_fd, HELPER_READY_MS, pid, msg, sizeof(msg));
	if (!ret)
		return 0;
	if (ret == -ETIMEDOUT)
		vdectl_err("/dev/vde%d: the helper did not get ready within %d s",
			   cfg->index, HELPER_READY_MS / 1000);
	else if (ret == -EPROTO)
		vdectl_err("/dev/vde%d: the helper exited before it was ready (see the system log)",
			   cfg->index);
	else if (msg[0])
		vdectl_err("/dev/vde%d: the helper failed: %s", cfg->index, msg);
	else
		vdectl_err("/dev/vde%d: cannot start the helper: %s", cfg->index,
			   strerror(-ret));
	return VDECTL_EXIT_FAIL;
}

/* ---- vdectl helper, vdectl recover ---------------------------------------- */

/*
 * struct helper_ctx - a device to start a helper for
 * @backing: its backing file, from sysfs
 * @img: the image in it
 * @key: the master key, if the device has encrypted regions
 * @cfg: the helper's configuration
 */
struct helper_ctx {
	char backing[PATH_MAX];
	struct vde_image img;
	uint8_t *key;
	struct vde_helper_cfg cfg;
};

static void helper_ctx_free(struct helper_ctx *c)
{
	vde_secure_free(c->key, VDE_XTS_KEY_SIZE);
	c->key = NULL;
	vde_image_close(&c->img);
}

static int dev_info(int index, struct vde_dev_info *di)
{
	int fd = vde_ctrl_open(NULL), ret;

	if (fd < 0) {
		vdectl_err("cannot open %s: %s", VDE_CONTROL_PATH, strerror(-fd));
		return fd == -ENOENT ? VDECTL_EXIT_NODEV : VDECTL_EXIT_FAIL;
	}
	ret = vde_ctrl_get_info(fd, index, di);
	close(fd);
	if (ret)
		vdectl_err("/dev/vde%d: %s", index,
			   ret == -ENODEV ? "no such device" : strerror(-ret));
	return !ret ? 0 : ret == -ENODEV ? VDECTL_EXIT_NODEV : VDECTL_EXIT_FAIL;
}

/* Whether the device's part of the image has encrypted blocks. */
static int view_encrypted(struct helper_ctx *c, const struct vde_dev_info *di,
			  bool *encrypted)
{
	struct vde_region_entry map[VDE_MAX_REGIONS];
	uint64_t bs = c->img.block_size, off = di->data_offset - c->img.base;
	unsigned int n, i;

	if (di->data_offset < c->img.base || off % bs ||
	    vde_image_region_map(&c->img, off / bs, di->nr_blocks, map,
				 VDE_MAX_REGIONS, &n)) {
		vdectl_err("%s does not match /dev/vde%d", c->backing, c->cfg.index);
		return VDECTL_EXIT_FAIL;
	}
	*encrypted = false;
	for (i = 0; i < n; i++)
		*encrypted |= map[i].flags & VDE_REGION_ENCRYPTED;
	return 0;
}

/* Find the device's image, check it, and get its key if it needs one. */
static int helper_prepare(int index, const struct vdectl_helper_opts *o,
			  struct helper_ctx *c)
{
	struct vde_dev_info di;
	struct vde_diag diag;
	bool encrypted;
	int ret;

	memset(c, 0, sizeof(*c));
	c->img.fd = -1;
	c->cfg.index = index;
	ret = dev_info(index, &di);
	if (ret)
		return ret;
	if (vdectl_sysfs_read(index, "backing_file", c->backing, sizeof(c->backing))) {
		vdectl_err("/dev/vde%d: cannot read its backing file from sysfs", index);
		return VDECTL_EXIT_FAIL;
	}
	if (vde_image_open(c->backing, O_RDONLY, &c->img, &diag) < 0) {
		vdectl_err("%s: %s", c->backing, diag.msg);
		return VDECTL_EXIT_FAIL;
	}
	ret = view_encrypted(c, &di, &encrypted);
	if (ret)
		return ret;
	if (!encrypted && !(di.flags & VDE_DEV_VIA_HELPER)) {
		vdectl_err("/dev/vde%d has no encrypted region and is not via-helper: it needs no helper",
			   index);
		return VDECTL_EXIT_FAIL;
	}
	if (encrypted)
		ret = vdectl_helper_key(&c->img, c->backing, o, &c->key);
	c->cfg.backing_path = c->backing;
	c->cfg.image_base = c->img.base;
	c->cfg.key = c->key;
	c->cfg.backend = o->backend;
	c->cfg.ready_fd = -1;
	c->cfg.node_wait_ms = HELPER_NODE_WAIT_MS;
	return ret;
}

/* Start the daemon; it owns the key from then on. */
static int helper_start(struct helper_ctx *c)
{
	int pid = 0, ret;

	ret = vdectl_helper_spawn(&c->cfg, -1, &pid);
	if (!ret)
		printf("/dev/vde%d: helper running, pid %d\n", c->cfg.index, pid);
	return ret;
}

/*
 * Parse the options of helper and recover: the key and backend options,
 * and for helper --foreground and --daemon; then one DEV.
 */
static int helper_parse(int argc, char **argv, bool daemon_opts,
			struct vdectl_helper_opts *o, int *daemon, int *index)
{
	static const struct option opts[] = {
		VDECTL_HELPER_OPTIONS,
		{ "foreground", no_argument, NULL, VDECTL_OPT_FOREGROUND },
		{ "daemon", no_argument, NULL, VDECTL_OPT_DAEMON },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	memset(o, 0, sizeof(*o));
	*daemon = 0;
	*index = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		ret = vdectl_helper_opt(argv[0], c, optarg, o);
		if (ret > 0)
			return ret;
		if (!ret)
			continue;
		if (!daemon_opts ||
		    (c != VDECTL_OPT_FOREGROUND && c != VDECTL_OPT_DAEMON))
			return vdectl_usage_error(argv[0], "bad option");
		*daemon = c == VDECTL_OPT_DAEMON;
	}
	if (optind != argc - 1)
		return vdectl_usage_error(argv[0], "expected one DEV");
	*index = vdectl_parse_dev(argv[optind]);
	if (*index < 0)
		return vdectl_usage_error(argv[0], "'%s' is not a vde device",
					  argv[optind]);
	return 0;
}

/* The value of a line of /sys/block/vdeN/vde/helper, or "". */
static int helper_state(int index, const char *key, char *out, size_t len)
{
	char buf[512];
	int ret = vdectl_sysfs_read(index, "helper", buf, sizeof(buf));

	if (!ret)
		vdectl_field_word(buf, key, out, len);
	return ret;
}

/* The helper must be gone; give vde.ko a moment to notice a dying one. */
static int recover_check(int index)
{
	char state[32];
	int waited, ret;

	for (waited = 0;; waited += 100) {
		ret = helper_state(index, "state", state, sizeof(state));
		if (ret) {
			vdectl_err("/dev/vde%d: no such device, or no helper state in sysfs: %s",
				   index, strerror(-ret));
			return ret == -ENOENT ? VDECTL_EXIT_NODEV : VDECTL_EXIT_FAIL;
		}
		if (strcmp(state, "live"))
			return 0;
		if (waited >= RECOVER_LOST_MS)
			break;
		usleep(100000);
	}
	vdectl_err("/dev/vde%d: its helper is alive; nothing to recover", index);
	return VDECTL_EXIT_FAIL;
}

/* helper, or recover: the same but for the check and the daemon. */
static int helper_cmd(int argc, char **argv, bool recover)
{
	struct vdectl_helper_opts o;
	struct helper_ctx c;
	int daemon, index, ret;

	ret = helper_parse(argc, argv, !recover, &o, &daemon, &index);
	if (!ret && recover)
		ret = recover_check(index);
	if (ret)
		return ret;
	ret = helper_prepare(index, &o, &c);
	if (!ret && (daemon || recover))
		ret = helper_start(&c);
	else if (!ret)
		ret = vde_helper_run(&c.cfg) ? VDECTL_EXIT_FAIL : VDECTL_EXIT_OK;
	helper_ctx_free(&c);
	return ret;
}

int vdectl_cmd_helper(int argc, char **argv)
{
	return helper_cmd(argc, argv, false);
}

int vdectl_cmd_recover(int argc, char **argv)
{
	return helper_cmd(argc, argv, true);
}
