// SPDX-License-Identifier: GPL-2.0
/*
 * vdectl: commands about the module itself (features, version).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "libvde.h"
#include "vdectl.h"

#ifndef VDE_VERSION
#define VDE_VERSION "unknown"
#endif

static void vdectl_features_json(const struct vde_features *f)
{
	struct json_object *o = json_object_new_object();
	struct json_object *names = json_object_new_array();
	unsigned int bit;

	json_object_object_add(o, "abi_version",
			       json_object_new_int64(f->abi_version));
	json_object_object_add(o, "features",
			       json_object_new_uint64(f->features));
	for (bit = 0; bit < 64; bit++) {
		const char *name = vde_feature_name(bit);
		char unknown[16];

		if (!(f->features & (1ULL << bit)))
			continue;
		if (!name) {
			snprintf(unknown, sizeof(unknown), "bit%u", bit);
			name = unknown;
		}
		json_object_array_add(names, json_object_new_string(name));
	}
	json_object_object_add(o, "feature_names", names);
	json_object_object_add(o, "max_devices",
			       json_object_new_int64(f->max_devices));
	json_object_object_add(o, "max_hw_queues",
			       json_object_new_int64(f->max_hw_queues));
	json_object_object_add(o, "max_queue_depth",
			       json_object_new_int64(f->max_queue_depth));
	json_object_object_add(o, "max_regions",
			       json_object_new_int64(f->max_regions));
	vdectl_json_print(o);
}

static void vdectl_features_text(const struct vde_features *f)
{
	char names[1024];

	vde_features_describe(f->features, names, sizeof(names));
	printf("abi version:     %u\n", f->abi_version);
	printf("features:        0x%llx (%s)\n",
	       (unsigned long long)f->features, names);
	printf("max devices:     %u\n", f->max_devices);
	printf("max hw queues:   %u\n", f->max_hw_queues);
	printf("max queue depth: %u\n", f->max_queue_depth);
	printf("max regions:     %u\n", f->max_regions);
}

int vdectl_cmd_features(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "control", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	struct vde_features f;
	int json = 0;
	int fd, ret, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "Jc:", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = 1;
			break;
		case 'c':
			path = optarg;
			break;
		default:
			return vdectl_usage_error(argv[0], "bad option");
		}
	}
	if (optind != argc)
		return vdectl_usage_error(argv[0], "unexpected argument '%s'",
					  argv[optind]);

	fd = vde_ctrl_open(path);
	if (fd < 0) {
		vdectl_err("cannot open %s: %s%s", path ? path : VDE_CONTROL_PATH,
			   strerror(-fd),
			   fd == -ENOENT ? " (is vde.ko loaded? try 'modprobe vde')" : "");
		return fd == -ENOENT ? VDECTL_EXIT_NODEV : VDECTL_EXIT_FAIL;
	}
	ret = vde_ctrl_get_features(fd, &f);
	close(fd);
	if (ret < 0) {
		vdectl_err("GET_FEATURES failed: %s%s", strerror(-ret),
			   ret == -ENOTTY ? " (not a vde control device)" : "");
		return VDECTL_EXIT_FAIL;
	}
	if (json)
		vdectl_features_json(&f);
	else
		vdectl_features_text(&f);
	return VDECTL_EXIT_OK;
}

int vdectl_cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return vdectl_usage_error("version", "unexpected argument");
	printf("vdectl %s (uapi ABI %d)\n", VDE_VERSION, VDE_ABI_VERSION);
	return VDECTL_EXIT_OK;
}
