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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <json-c/json.h>

#include "devusers.h"
#include "format.h"
#include "libvde.h"
#include "vdectl.h"

/* Open the control device, loading vde.ko if needed, or explain. */
static int vdectl_ctrl(void)
{
	int fd = vde_ctrl_open_or_load();

	if (fd < 0)
		vdectl_err("cannot open %s: %s%s", VDE_CONTROL_PATH, strerror(-fd),
			   fd == -ENOENT ? " (vde.ko is not loaded and modprobe vde failed)" : "");
	return fd;
}

static int vdectl_ctrl_status(int fd)
{
	return fd == -ENOENT ? VDECTL_EXIT_NODEV : VDECTL_EXIT_FAIL;
}

/* "/dev/vde3", "vde3" or "3" -> 3; -1 if @s names no vde device. */
static int vdectl_parse_dev(const char *s)
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

static int vdectl_sysfs_read(int index, const char *attr, char *buf, size_t len)
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

int vdectl_cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "read-only", no_argument, NULL, 'r' },
		{ "region", required_argument, NULL, 'R' },
		{ "show", no_argument, NULL, 's' },
		{ "logical-block-size", required_argument, NULL, 'l' },
		{ "index", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct vde_region_entry map[VDE_MAX_REGIONS];
	struct vde_dev_add add = { .index = VDE_INDEX_ANY,
				   .logical_block_size = 4096 };
	const char *region = NULL;
	uint64_t first = 0, nr;
	struct vde_image img;
	struct vde_diag diag;
	unsigned int nmap, i;
	int show = 0, ro = 0;
	int c, ret, fd;

	optind = 1;
	while ((c = getopt_long(argc, argv, "rR:sl:i:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			ro = 1;
			break;
		case 'R':
			region = optarg;
			break;
		case 's':
			show = 1;
			break;
		case 'l':
			add.logical_block_size = strtoul(optarg, NULL, 10);
			if (add.logical_block_size != 512 &&
			    add.logical_block_size != 4096)
				return vdectl_usage_error(argv[0],
					"--logical-block-size must be 512 or 4096");
			break;
		case 'i':
			add.index = vdectl_parse_dev(optarg);
			if (add.index < 0)
				return vdectl_usage_error(argv[0], "bad --index '%s'", optarg);
			break;
		default:
			return vdectl_usage_error(argv[0], "bad option");
		}
	}
	if (optind != argc - 1)
		return vdectl_usage_error(argv[0], "expected one IMAGE");

	ret = vde_image_open(argv[optind], (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC,
			     &img, &diag);
	if (ret < 0) {
		vdectl_err("%s: %s", argv[optind], diag.msg[0] ? diag.msg : strerror(-ret));
		return VDECTL_EXIT_FAIL;
	}
	ret = VDECTL_EXIT_FAIL;
	if (img.read_only_forced && !ro) {
		vdectl_err("%s: the image has read-only-compatible features this vdectl does not know; attach it with --read-only",
			   argv[optind]);
		goto out_close;
	}
	nr = img.nr_blocks;
	if (region && vde_image_region_view(&img, region, &first, &nr)) {
		vdectl_err("%s: no region '%s' with blocks below TotalBlocks",
			   argv[optind], region);
		goto out_close;
	}
	if (vde_image_region_map(&img, first, nr, map, VDE_MAX_REGIONS, &nmap)) {
		vdectl_err("%s: cannot build the region map", argv[optind]);
		goto out_close;
	}
	for (i = 0; i < nmap; i++) {
		if (map[i].flags & VDE_REGION_ENCRYPTED) {
			vdectl_err("%s: the image has encrypted regions, which need the vde helper; this vdectl cannot attach them",
				   argv[optind]);
			goto out_close;
		}
	}

	fd = vdectl_ctrl();
	if (fd < 0) {
		ret = vdectl_ctrl_status(fd);
		goto out_close;
	}
	add.flags = ro ? VDE_DEV_READ_ONLY : 0;
	add.backing_fd = img.fd;
	add.data_offset = img.base + first * img.block_size;
	add.nr_blocks = nr;
	add.block_size = img.block_size;
	add.nr_regions = nmap;
	add.regions = (uintptr_t)map;
	memcpy(add.uuid, img.sb.uuid, sizeof(add.uuid));
	c = vde_ctrl_add(fd, &add);
	if (c < 0) {
		vdectl_err("%s: cannot attach: %s%s", argv[optind], strerror(-c),
			   c == -EBUSY ? " (the image is already attached read-write)" :
			   c == -EEXIST ? " (that index is in use)" : "");
		goto out_ctl;
	}
	c = vde_ctrl_dev_cmd(fd, VDE_CTL_START, add.index, 0);
	if (c < 0) {
		vdectl_err("/dev/vde%d: cannot start: %s%s", add.index, strerror(-c),
			   c == -EEXIST ? " (another block device has that name)" : "");
		vde_ctrl_dev_cmd(fd, VDE_CTL_REMOVE, add.index, 0);
		goto out_ctl;
	}
	if (show)
		printf("/dev/vde%d\n", add.index);
	ret = VDECTL_EXIT_OK;
out_ctl:
	close(fd);
out_close:
	vde_image_close(&img);
	return ret;
}

/* The kernel's new_encode_dev() form of a device number. */
static uint64_t vdectl_encode_dev(dev_t dev)
{
	uint64_t ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffULL) << 12);
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
			     info.backing_dev != vdectl_encode_dev(st.st_dev)))
			continue;
		out[n++] = i;
	}
	return n;
}

static int vdectl_detach_one(int fd, int index, int force)
{
	char name[32], why[2048];
	int ret;

	snprintf(name, sizeof(name), "vde%d", index);
	if (!force && vde_dev_users("", name, why, sizeof(why)) > 0) {
		vdectl_err("/dev/%s is busy, not detached (use --force):\n%s", name, why);
		return VDECTL_EXIT_FAIL;
	}
	ret = vde_ctrl_dev_cmd(fd, VDE_CTL_REMOVE, index,
			       force ? VDE_REMOVE_FORCE : 0);
	if (ret == -EBUSY) {
		vdectl_err("/dev/%s is open by another process, not detached (use --force)",
			   name);
		return VDECTL_EXIT_FAIL;
	}
	if (ret) {
		vdectl_err("/dev/%s: cannot detach: %s", name, strerror(-ret));
		return ret == -ENODEV ? VDECTL_EXIT_NODEV : VDECTL_EXIT_FAIL;
	}
	return VDECTL_EXIT_OK;
}

int vdectl_cmd_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	int force = 0, all = 0, c, fd, n, i, ret = VDECTL_EXIT_OK, r;
	int idx[1024];

	optind = 1;
	while ((c = getopt_long(argc, argv, "fa", opts, NULL)) != -1) {
		if (c == 'f')
			force = 1;
		else if (c == 'a')
			all = 1;
		else
			return vdectl_usage_error(argv[0], "bad option");
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
		r = vdectl_detach_one(fd, idx[i], force);
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

static unsigned long long vdectl_stat(const char *stats, const char *key)
{
	const char *p = stats;
	size_t n = strlen(key);

	while (p && *p) {
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

int vdectl_cmd_stats(int argc, char **argv)
{
	static char stats[4096], lat[8192], caps[256];
	unsigned long long hist[NR_OPS][NR_BUCKETS] = { { 0 } };
	int json = 0, c, index, op, b;
	char key[64], *line, *save = NULL;

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
	return VDECTL_EXIT_OK;
}
