// SPDX-License-Identifier: GPL-2.0
/*
 * vdectl: commands about devices - attach, detach, list, stats.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "devusers.h"
#include "format.h"
#include "libvde.h"
#include "vdectl.h"

int vdectl_ctrl(void)
{
	int fd = vde_ctrl_open_or_load();

	if (fd < 0)
		vdectl_err("cannot open %s: %s%s", VDE_CONTROL_PATH, strerror(-fd),
			   fd == -ENOENT ? " (vde.ko is not loaded and modprobe vde failed)" : "");
	return fd;
}

int vdectl_ctrl_status(int fd)
{
	return fd == -ENOENT ? VDECTL_EXIT_NODEV : VDECTL_EXIT_FAIL;
}

int vdectl_parse_dev(const char *s)
{
	char *end;
	long n;

	if (!strncmp(s, "/dev/", 5))
		s += 5;
	if (!strncmp(s, "vde", 3))
		s += 3;
	if (!isdigit((unsigned char)*s))
		return -1;
	n = strtol(s, &end, 10);
	return *end || n < 0 || n > INT_MAX ? -1 : (int)n;
}

int vdectl_sysfs_read(int index, const char *attr, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/block/vde%d/vde/%s", index, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

/* Helper devices: fewer, shallower queues; every tag has a 256 KiB buffer. */
#define HELPER_QUEUE_DEPTH	64
#define HELPER_MAX_QUEUES	4
/* vde.ko's limit on the tags (and buffers) of a device with a helper. */
#define HELPER_MAX_TAGS		4096

/*
 * struct attach_args - the command line of attach
 * @image: the image
 * @region: --region, or NULL
 * @ro: --read-only
 * @show: --show
 * @via_helper: --via-helper
 * @hold: --on-helper-loss hold
 * @ho: the key and backend options
 * @add: the ADD request: index, logical block size, queues and depth
 */
struct attach_args {
	const char *image;
	const char *region;
	int ro;
	int show;
	int via_helper;
	int hold;
	struct vdectl_helper_opts ho;
	struct vde_dev_add add;
};

/* A decimal option value from @min to @max, or a usage error. */
static int parse_count(const char *cmd, const char *opt, const char *s,
		       unsigned long min, unsigned long max, uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || *s == '-' || v < min || v > max)
		return vdectl_usage_error(cmd, "bad %s '%s' (%lu to %lu)", opt, s,
					  min, max);
	*out = (uint32_t)v;
	return 0;
}

/* One option of attach; the key and backend ones are vdectl_helper_opt()'s. */
static int attach_opt(const char *cmd, int c, const char *arg,
		      struct attach_args *a)
{
	switch (c) {
	case 'r':
		a->ro = 1;
		return 0;
	case 'R':
		a->region = arg;
		return 0;
	case 's':
		a->show = 1;
		return 0;
	case 'l':
		a->add.logical_block_size = strtoul(arg, NULL, 10);
		if (a->add.logical_block_size != 512 &&
		    a->add.logical_block_size != 4096)
			return vdectl_usage_error(cmd,
				"--logical-block-size must be 512 or 4096");
		return 0;
	case 'i':
		a->add.index = vdectl_parse_dev(arg);
		if (a->add.index < 0)
			return vdectl_usage_error(cmd, "bad --index '%s'", arg);
		return 0;
	case VDECTL_OPT_VIA_HELPER:
		a->via_helper = 1;
		return 0;
	case VDECTL_OPT_ON_HELPER_LOSS:
		if (strcmp(arg, "fail") && strcmp(arg, "hold"))
			return vdectl_usage_error(cmd,
				"bad --on-helper-loss '%s' (fail or hold)", arg);
		a->hold = !strcmp(arg, "hold");
		return 0;
	case VDECTL_OPT_QUEUES:
		return parse_count(cmd, "--queues", arg, 1, 0xffff, &a->add.nr_hw_queues);
	case VDECTL_OPT_QUEUE_DEPTH:
		return parse_count(cmd, "--queue-depth", arg, 1, VDE_MAX_QUEUE_DEPTH,
				   &a->add.queue_depth);
	default:
		c = vdectl_helper_opt(cmd, c, arg, &a->ho);
		return c < 0 ? vdectl_usage_error(cmd, "bad option") : c;
	}
}

static int attach_parse(int argc, char **argv, struct attach_args *a)
{
	static const struct option opts[] = {
		{ "read-only", no_argument, NULL, 'r' },
		{ "region", required_argument, NULL, 'R' },
		{ "show", no_argument, NULL, 's' },
		{ "logical-block-size", required_argument, NULL, 'l' },
		{ "index", required_argument, NULL, 'i' },
		VDECTL_HELPER_OPTIONS,
		{ "via-helper", no_argument, NULL, VDECTL_OPT_VIA_HELPER },
		{ "on-helper-loss", required_argument, NULL, VDECTL_OPT_ON_HELPER_LOSS },
		{ "queues", required_argument, NULL, VDECTL_OPT_QUEUES },
		{ "queue-depth", required_argument, NULL, VDECTL_OPT_QUEUE_DEPTH },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	memset(a, 0, sizeof(*a));
	a->add.index = VDE_INDEX_ANY;
	a->add.logical_block_size = 4096;
	optind = 1;
	while ((c = getopt_long(argc, argv, "rR:sl:i:", opts, NULL)) != -1) {
		ret = attach_opt(argv[0], c, optarg, a);
		if (ret)
			return ret;
	}
	if (optind != argc - 1)
		return vdectl_usage_error(argv[0], "expected one IMAGE");
	a->image = argv[optind];
	return 0;
}

/*
 * Open the image and build the map of the part attached; *first is its
 * first image block.
 */
static int attach_open(struct attach_args *a, struct vde_image *img,
		       struct vde_region_entry *map, unsigned int *nmap,
		       uint64_t *first)
{
	struct vde_diag diag;
	uint64_t nr;
	int ret;

	ret = vde_image_open(a->image, (a->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC,
			     img, &diag);
	if (ret < 0) {
		vdectl_err("%s: %s", a->image, diag.msg[0] ? diag.msg : strerror(-ret));
		return VDECTL_EXIT_FAIL;
	}
	if (img->read_only_forced && !a->ro) {
		vdectl_err("%s: the image has read-only-compatible features this vdectl does not know; attach it with --read-only",
			   a->image);
		return VDECTL_EXIT_FAIL;
	}
	*first = 0;
	nr = img->nr_blocks;
	if (a->region && vde_image_region_view(img, a->region, first, &nr)) {
		vdectl_err("%s: no region '%s' with blocks below TotalBlocks",
			   a->image, a->region);
		return VDECTL_EXIT_FAIL;
	}
	if (vde_image_region_map(img, *first, nr, map, VDE_MAX_REGIONS, nmap)) {
		vdectl_err("%s: cannot build the region map", a->image);
		return VDECTL_EXIT_FAIL;
	}
	a->add.nr_blocks = nr;
	return 0;
}

static bool map_encrypted(const struct vde_region_entry *map, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (map[i].flags & VDE_REGION_ENCRYPTED)
			return true;
	return false;
}

/* A helper device needs the helper data plane of vde.ko. */
static int attach_check_helper(int fd, const char *image)
{
	struct vde_features f;

	if (!vde_ctrl_get_features(fd, &f) &&
	    (f.features & (VDE_FEAT_HELPER_URING | VDE_FEAT_HELPER_IOCTL)))
		return 0;
	vdectl_err("%s: the loaded vde.ko has no helper data plane: it cannot attach encrypted or via-helper devices",
		   image);
	return VDECTL_EXIT_FAIL;
}

static void attach_helper_defaults(struct vde_dev_add *add)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!add->queue_depth)
		add->queue_depth = HELPER_QUEUE_DEPTH;
	if (!add->nr_hw_queues)
		add->nr_hw_queues = cpus > 0 && cpus < HELPER_MAX_QUEUES ?
				    (uint32_t)cpus : HELPER_MAX_QUEUES;
}

/* Start the device's helper; on failure the device is removed. */
static int attach_helper(int fd, const struct attach_args *a,
			 const struct vde_image *img, const uint8_t *key)
{
	struct vde_helper_cfg cfg = {
		.index = a->add.index,
		.image_base = img->base,
		.key = key,
		.backend = a->ho.backend,
	};
	char path[64];
	int pid, ret;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", img->fd);
	cfg.backing_path = path;
	ret = vdectl_helper_spawn(&cfg, img->fd, &pid);
	if (ret)
		vde_ctrl_dev_cmd(fd, VDE_CTL_REMOVE, a->add.index, VDE_REMOVE_FORCE);
	return ret;
}

/* ADD, start the helper if the device has one, START. */
static int attach_dev(int fd, struct attach_args *a, const struct vde_image *img,
		      const uint8_t *key, bool helper)
{
	int ret;

	ret = vde_ctrl_add(fd, &a->add);
	if (ret < 0) {
		vdectl_err("%s: cannot attach: %s%s", a->image, strerror(-ret),
			   ret == -EBUSY ? " (the image is already attached read-write)" :
			   ret == -EEXIST ? " (that index is in use)" :
			   ret == -EINVAL && helper &&
			   a->add.nr_hw_queues * a->add.queue_depth > HELPER_MAX_TAGS ?
			   " (a device with a helper has at most 4096 tags: --queues times --queue-depth)" : "");
		return VDECTL_EXIT_FAIL;
	}
	if (helper && attach_helper(fd, a, img, key))
		return VDECTL_EXIT_FAIL;
	ret = vde_ctrl_dev_cmd(fd, VDE_CTL_START, a->add.index, 0);
	if (ret < 0) {
		vdectl_err("/dev/vde%d: cannot start: %s%s", a->add.index, strerror(-ret),
			   ret == -EEXIST ? " (another block device has that name)" : "");
		vde_ctrl_dev_cmd(fd, VDE_CTL_REMOVE, a->add.index, 0);
		return VDECTL_EXIT_FAIL;
	}
	if (a->show)
		printf("/dev/vde%d\n", a->add.index);
	return VDECTL_EXIT_OK;
}

int vdectl_cmd_attach(int argc, char **argv)
{
	struct vde_region_entry map[VDE_MAX_REGIONS];
	struct attach_args a;
	struct vde_image img = { .fd = -1 };
	uint8_t *key = NULL;
	unsigned int nmap;
	bool encrypted, helper;
	uint64_t first;
	int ret, fd;

	ret = attach_parse(argc, argv, &a);
	if (ret)
		return ret;
	ret = attach_open(&a, &img, map, &nmap, &first);
	if (ret)
		goto out_close;
	encrypted = map_encrypted(map, nmap);
	helper = encrypted || a.via_helper;
	/* The key is checked before vde.ko is even looked for. */
	if (encrypted)
		ret = vdectl_helper_key(&img, a.image, &a.ho, &key);
	else if (a.ho.key_file || a.ho.pass_file)
		vdectl_err("%s: nothing encrypted is attached; the key is not used",
			   a.image);
	if (ret)
		goto out_close;

	fd = vdectl_ctrl();
	if (fd < 0) {
		ret = vdectl_ctrl_status(fd);
		goto out_close;
	}
	ret = helper ? attach_check_helper(fd, a.image) : 0;
	if (!ret) {
		a.add.flags = (a.ro ? VDE_DEV_READ_ONLY : 0) |
			      (a.via_helper ? VDE_DEV_VIA_HELPER : 0) |
			      (helper && a.hold ? VDE_DEV_HELPER_HOLD : 0);
		if (helper)
			attach_helper_defaults(&a.add);
		a.add.backing_fd = img.fd;
		a.add.data_offset = img.base + first * img.block_size;
		a.add.block_size = img.block_size;
		a.add.nr_regions = nmap;
		a.add.regions = (uintptr_t)map;
		memcpy(a.add.uuid, img.sb.uuid, sizeof(a.add.uuid));
		ret = attach_dev(fd, &a, &img, key, helper);
	}
	close(fd);
out_close:
	vde_secure_free(key, VDE_XTS_KEY_SIZE);
	vde_image_close(&img);
	return ret;
}

/* Indices of devices whose backing file is @path (all devices if NULL). */
static int vdectl_find_devs(int fd, const char *path, int *out, int max)
{
	struct vde_features feat;
	struct vde_dev_info info;
	struct stat st;
	int i, n = 0, limit;

	if (path && stat(path, &st))
		return -errno;
	if (vde_ctrl_get_features(fd, &feat))
		return -EIO;
	/* Indices skip names taken by other disks: look a little further. */
	limit = (int)feat.max_devices + 64;
	for (i = 0; i < limit && n < max; i++) {
		if (vde_ctrl_get_info(fd, i, &info))
			continue;
		if (path && (info.backing_ino != st.st_ino ||
			     info.backing_dev != vde_encode_dev(st.st_dev)))
			continue;
		out[n++] = i;
	}
	return n;
}

static pid_t helper_pid(int index);

/*
 * The helper process of device @index as a pidfd, or -1 if it has none or
 * it cannot be opened.  The pid is read again once the pidfd is open, so
 * the pidfd is the helper's and not a process that took a freed pid.
 */
static int helper_pidfd(int index, pid_t *pid)
{
	int fd;

	*pid = helper_pid(index);
	if (*pid <= 0)
		return -1;
	fd = pidfd_open(*pid, 0);
	if (fd >= 0 && helper_pid(index) != *pid) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * A detached device's helper exits once its commands fail; until then it
 * holds the image open (and the file system it is on busy).
 */
static int wait_helper(const char *name, int pidfd, pid_t pid, int secs)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, secs * 1000);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		return VDECTL_EXIT_OK;
	vdectl_err("/dev/%s is detached, but its helper (pid %d) has not exited after %d s",
		   name, (int)pid, secs);
	return VDECTL_EXIT_FAIL;
}

static int vdectl_detach_one(int fd, int index, int force, int wait_secs)
{
	char name[32], why[2048];
	int ret, pidfd = -1;
	pid_t pid = 0;

	snprintf(name, sizeof(name), "vde%d", index);
	if (!force && vde_dev_users("", name, why, sizeof(why)) > 0) {
		vdectl_err("/dev/%s is busy, not detached (use --force):\n%s", name, why);
		return VDECTL_EXIT_FAIL;
	}
	if (wait_secs > 0)
		pidfd = helper_pidfd(index, &pid);
	ret = vde_ctrl_dev_cmd(fd, VDE_CTL_REMOVE, index,
			       force ? VDE_REMOVE_FORCE : 0);
	if (!ret && pidfd >= 0)
		ret = wait_helper(name, pidfd, pid, wait_secs);
	if (pidfd >= 0)
		close(pidfd);
	if (ret == -EBUSY) {
		vdectl_err("/dev/%s is open by another process, not detached (use --force)",
			   name);
		return VDECTL_EXIT_FAIL;
	}
	if (ret < 0) {
		vdectl_err("/dev/%s: cannot detach: %s", name, strerror(-ret));
		return ret == -ENODEV ? VDECTL_EXIT_NODEV : VDECTL_EXIT_FAIL;
	}
	return ret;
}

int vdectl_cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "all", no_argument, NULL, 'a' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	int force = 0, all = 0, c, fd, n, i, ret = VDECTL_EXIT_OK, r;
	int idx[1024];
	uint32_t wait_secs = 10;

	optind = 1;
	while ((c = getopt_long(argc, argv, "faw:", opts, NULL)) != -1) {
		if (c == 'f') {
			force = 1;
		} else if (c == 'a') {
			all = 1;
		} else if (c == 'w') {
			if (parse_count(argv[0], "--wait", optarg, 0, 3600, &wait_secs))
				return VDECTL_EXIT_USAGE;
		} else {
			return vdectl_usage_error(argv[0], "bad option");
		}
	}
	if (all != (optind == argc))
		return vdectl_usage_error(argv[0], "expected DEV or IMAGE, or --all");
	if (!all && optind != argc - 1)
		return vdectl_usage_error(argv[0], "expected one DEV or IMAGE");

	fd = vdectl_ctrl();
	if (fd < 0)
		return vdectl_ctrl_status(fd);
	if (!all && vdectl_parse_dev(argv[optind]) >= 0) {
		idx[0] = vdectl_parse_dev(argv[optind]);
		n = 1;
	} else {
		n = vdectl_find_devs(fd, all ? NULL : argv[optind], idx, 1024);
		if (n < 0) {
			vdectl_err("%s: %s", argv[optind], strerror(-n));
			close(fd);
			return VDECTL_EXIT_FAIL;
		}
		if (!n && !all) {
			vdectl_err("%s is not attached", argv[optind]);
			close(fd);
			return VDECTL_EXIT_NODEV;
		}
	}
	for (i = 0; i < n; i++) {
		r = vdectl_detach_one(fd, idx[i], force, wait_secs);
		if (r)
			ret = r;
	}
	close(fd);
	return ret;
}

static const char *vdectl_state_name(uint32_t state)
{
	switch (state) {
	case VDE_STATE_ADDED:
		return "added";
	case VDE_STATE_LIVE:
		return "live";
	case VDE_STATE_STOPPED:
		return "stopped";
	default:
		return "unknown";
	}
}

int vdectl_cmd_list(int argc, char **argv)
{
	struct json_object *root = NULL, *arr = NULL;
	int json = 0, c, fd, n, i;
	struct vde_dev_info info;
	char backing[PATH_MAX], uuid[64], dio[8];
	int idx[1024];

	c = vdectl_parse_json_opt(argv[0], argc, argv, &json);
	if (c)
		return c;
	if (optind != argc)
		return vdectl_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	fd = vdectl_ctrl();
	if (fd < 0)
		return vdectl_ctrl_status(fd);
	n = vdectl_find_devs(fd, NULL, idx, 1024);
	if (json) {
		root = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(root, "devices", arr);
	} else {
		printf("%-8s %-7s %12s %5s %3s %3s %-32s %s\n", "NAME", "STATE",
		       "SIZE", "BS", "RO", "DIO", "UUID", "IMAGE");
	}
	for (i = 0; i < n; i++) {
		if (vde_ctrl_get_info(fd, idx[i], &info))
			continue;
		if (vdectl_sysfs_read(idx[i], "backing_file", backing, sizeof(backing)))
			snprintf(backing, sizeof(backing), "-");
		if (vdectl_sysfs_read(idx[i], "direct_io", dio, sizeof(dio)))
			snprintf(dio, sizeof(dio), "-");
		vde_uuid_format(info.uuid, uuid);
		if (json) {
			struct json_object *o = json_object_new_object();
			char name[32];

			snprintf(name, sizeof(name), "/dev/vde%d", idx[i]);
			json_object_object_add(o, "name", json_object_new_string(name));
			json_object_object_add(o, "index", json_object_new_int(idx[i]));
			json_object_object_add(o, "state",
					       json_object_new_string(vdectl_state_name(info.state)));
			json_object_object_add(o, "image", json_object_new_string(backing));
			json_object_object_add(o, "uuid", json_object_new_string(uuid));
			json_object_object_add(o, "size",
					       json_object_new_uint64(info.nr_blocks * info.block_size));
			json_object_object_add(o, "block_size",
					       json_object_new_int64(info.block_size));
			json_object_object_add(o, "logical_block_size",
					       json_object_new_int64(info.logical_block_size));
			json_object_object_add(o, "data_offset",
					       json_object_new_uint64(info.data_offset));
			json_object_object_add(o, "read_only",
					       json_object_new_boolean(info.flags & VDE_DEV_READ_ONLY));
			json_object_object_add(o, "direct_io",
					       json_object_new_boolean(!strcmp(dio, "1")));
			json_object_object_add(o, "open_count",
					       json_object_new_int64(info.open_count));
			json_object_array_add(arr, o);
		} else {
			printf("vde%-5d %-7s %12llu %5u %3d %3s %-32s %s\n", idx[i],
			       vdectl_state_name(info.state),
			       (unsigned long long)(info.nr_blocks * info.block_size),
			       info.block_size, !!(info.flags & VDE_DEV_READ_ONLY),
			       dio, uuid, backing);
		}
	}
	if (json) {
		vdectl_json_print(root);
	}
	close(fd);
	return VDECTL_EXIT_OK;
}

#define NR_OPS		5
#define NR_BUCKETS	40

static const char *const vdectl_ops[NR_OPS] = {
	"read", "write", "flush", "discard", "write_zeroes",
};

/* Upper bound in ns of the bucket holding the @pct percentile. */
static unsigned long long vdectl_percentile(const unsigned long long *h,
					    unsigned int pct)
{
	unsigned long long total = 0, sum = 0;
	int b;

	for (b = 0; b < NR_BUCKETS; b++)
		total += h[b];
	if (!total)
		return 0;
	for (b = 0; b < NR_BUCKETS; b++) {
		sum += h[b];
		if (sum * 100 >= total * pct)
			return 1ULL << (b + 1);
	}
	return 1ULL << NR_BUCKETS;
}

const char *vdectl_field(const char *text, const char *key)
{
	const char *p = text;
	size_t n = strlen(key);

	while (p && *p) {
		if (!strncmp(p, key, n) && p[n] == ' ')
			return p + n + 1;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static unsigned long long vdectl_stat(const char *stats, const char *key)
{
	const char *v = vdectl_field(stats, key);

	return v ? strtoull(v, NULL, 10) : 0;
}

/*
 * The helper's state from /sys/block/vdeN/vde/helper (state, transport,
 * policy, queues_armed, queues); "" where it says nothing.
 */
struct helper_info {
	char state[16];
	char transport[16];
	char policy[16];
	unsigned long long armed;
	unsigned long long queues;
	long long pid;
};

void vdectl_field_word(const char *text, const char *key, char *out, size_t len)
{
	const char *v = vdectl_field(text, key);

	snprintf(out, len, "%.*s", v ? (int)strcspn(v, "\n") : 0, v ? v : "");
}

static void helper_info(int index, struct helper_info *hi)
{
	char buf[512] = "";

	vdectl_sysfs_read(index, "helper", buf, sizeof(buf));
	vdectl_field_word(buf, "state", hi->state, sizeof(hi->state));
	vdectl_field_word(buf, "transport", hi->transport, sizeof(hi->transport));
	vdectl_field_word(buf, "policy", hi->policy, sizeof(hi->policy));
	hi->armed = vdectl_stat(buf, "queues_armed");
	hi->queues = vdectl_stat(buf, "queues");
	hi->pid = (long long)vdectl_stat(buf, "pid");
}

/* The helper process of device @index; 0 if none, or not known. */
static pid_t helper_pid(int index)
{
	struct helper_info hi;

	helper_info(index, &hi);
	return strcmp(hi.state, "live") ? 0 : (pid_t)hi.pid;
}

/* Devices without a helper data plane have policy "none" (or no file). */
static bool helper_present(const struct helper_info *hi)
{
	return hi->policy[0] && strcmp(hi->policy, "none");
}

static struct json_object *helper_json(const struct helper_info *hi,
				       unsigned long long requests)
{
	struct json_object *h = json_object_new_object();

	json_object_object_add(h, "present", json_object_new_boolean(helper_present(hi)));
	json_object_object_add(h, "state", json_object_new_string(hi->state[0] ? hi->state : "none"));
	json_object_object_add(h, "transport",
			       json_object_new_string(hi->transport[0] ? hi->transport : "none"));
	json_object_object_add(h, "policy", json_object_new_string(hi->policy[0] ? hi->policy : "none"));
	json_object_object_add(h, "queues_armed", json_object_new_uint64(hi->armed));
	json_object_object_add(h, "queues", json_object_new_uint64(hi->queues));
	json_object_object_add(h, "pid", json_object_new_int64(hi->pid));
	json_object_object_add(h, "requests", json_object_new_uint64(requests));
	return h;
}

static void helper_text(const struct helper_info *hi)
{
	if (!helper_present(hi))
		return;
	printf("helper state:  %s, transport %s, on loss %s, %llu/%llu queues armed",
	       hi->state, hi->transport, hi->policy, hi->armed, hi->queues);
	if (hi->pid > 0)
		printf(", pid %lld", hi->pid);
	putchar('\n');
}

int vdectl_cmd_stats(int argc, char **argv)
{
	static char stats[4096], lat[8192], caps[256];
	unsigned long long hist[NR_OPS][NR_BUCKETS] = { { 0 } };
	int json = 0, c, index, op, b;
	char key[64], *line, *save = NULL;
	struct helper_info hi;

	c = vdectl_parse_json_opt(argv[0], argc, argv, &json);
	if (c)
		return c;
	if (optind != argc - 1)
		return vdectl_usage_error(argv[0], "expected one DEV");
	index = vdectl_parse_dev(argv[optind]);
	if (index < 0)
		return vdectl_usage_error(argv[0], "'%s' is not a vde device", argv[optind]);
	if (vdectl_sysfs_read(index, "stats", stats, sizeof(stats)) ||
	    vdectl_sysfs_read(index, "latency_ns", lat, sizeof(lat)) ||
	    vdectl_sysfs_read(index, "capabilities", caps, sizeof(caps))) {
		vdectl_err("/dev/vde%d does not exist", index);
		return VDECTL_EXIT_NODEV;
	}
	helper_info(index, &hi);
	for (line = strtok_r(lat, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tok, *s2 = NULL;

		tok = strtok_r(line, " ", &s2);
		for (op = 0; op < NR_OPS && strcmp(tok, vdectl_ops[op]); op++)
			;
		if (op == NR_OPS)
			continue;
		for (b = 0; b < NR_BUCKETS && (tok = strtok_r(NULL, " ", &s2)); b++)
			hist[op][b] = strtoull(tok, NULL, 10);
	}

	if (json) {
		struct json_object *o = json_object_new_object();
		struct json_object *ops = json_object_new_object();

		json_object_object_add(o, "device", json_object_new_string(argv[optind]));
		json_object_object_add(o, "capabilities", json_object_new_string(caps));
		for (op = 0; op < NR_OPS; op++) {
			struct json_object *j = json_object_new_object();

			snprintf(key, sizeof(key), "%s_requests", vdectl_ops[op]);
			json_object_object_add(j, "requests",
					       json_object_new_uint64(vdectl_stat(stats, key)));
			snprintf(key, sizeof(key), "%s_sectors", vdectl_ops[op]);
			json_object_object_add(j, "sectors",
					       json_object_new_uint64(vdectl_stat(stats, key)));
			json_object_object_add(j, "p50_ns",
					       json_object_new_uint64(vdectl_percentile(hist[op], 50)));
			json_object_object_add(j, "p99_ns",
					       json_object_new_uint64(vdectl_percentile(hist[op], 99)));
			json_object_object_add(ops, vdectl_ops[op], j);
		}
		json_object_object_add(o, "ops", ops);
		json_object_object_add(o, "fast_path_requests",
				       json_object_new_uint64(vdectl_stat(stats, "fast_path_requests")));
		json_object_object_add(o, "helper_requests",
				       json_object_new_uint64(vdectl_stat(stats, "helper_requests")));
		json_object_object_add(o, "errors",
				       json_object_new_uint64(vdectl_stat(stats, "errors")));
		json_object_object_add(o, "helper",
				       helper_json(&hi, vdectl_stat(stats, "helper_requests")));
		vdectl_json_print(o);
		return VDECTL_EXIT_OK;
	}
	printf("device:        /dev/vde%d\ncapabilities:  %s\n", index, caps);
	printf("%-13s %12s %14s %12s %12s\n", "op", "requests", "sectors",
	       "p50 <= ns", "p99 <= ns");
	for (op = 0; op < NR_OPS; op++) {
		unsigned long long r, s;

		snprintf(key, sizeof(key), "%s_requests", vdectl_ops[op]);
		r = vdectl_stat(stats, key);
		snprintf(key, sizeof(key), "%s_sectors", vdectl_ops[op]);
		s = vdectl_stat(stats, key);
		printf("%-13s %12llu %14llu %12llu %12llu\n", vdectl_ops[op], r, s,
		       vdectl_percentile(hist[op], 50), vdectl_percentile(hist[op], 99));
	}
	printf("fast path:     %llu requests\nhelper:        %llu requests\nerrors:        %llu\n",
	       vdectl_stat(stats, "fast_path_requests"),
	       vdectl_stat(stats, "helper_requests"), vdectl_stat(stats, "errors"));
	helper_text(&hi);
	return VDECTL_EXIT_OK;
}
