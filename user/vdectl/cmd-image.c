// SPDX-License-Identifier: GPL-2.0
/*
 * vdectl: commands about image files (create, info, check).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "format.h"
#include "vdectl.h"

/* ---- argument parsing ------------------------------------------------- */

/* A byte count with an optional K, M, G, T or P suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTP";
	unsigned long long v;
	const char *u;
	char *end;
	int shift;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (!*end) {
		*out = v;
		return 0;
	}
	u = strchr(units, end[0] & ~0x20);
	if (!u || !end[0])
		return -EINVAL;
	if (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return -EINVAL;
	shift = 10 * (int)(u - units + 1);
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* .NET ticks, or @S for S seconds since the Unix epoch. */
static int parse_timestamp(const char *s, int64_t *ticks)
{
	const int64_t max_ticks = 3155378975999999999LL;
	long long secs;
	uint64_t v;
	char *end;

	if (*s == '@') {
		errno = 0;
		secs = strtoll(s + 1, &end, 10);
		if (errno || end == s + 1 || *end)
			return -EINVAL;
		if (secs < -VDE_TICKS_UNIX_EPOCH / VDE_TICKS_PER_SEC ||
		    secs > (max_ticks - VDE_TICKS_UNIX_EPOCH) / VDE_TICKS_PER_SEC)
			return -ERANGE;
		*ticks = VDE_TICKS_UNIX_EPOCH + secs * VDE_TICKS_PER_SEC;
		return 0;
	}
	if (parse_u64(s, &v) < 0)
		return -EINVAL;
	if (v > (uint64_t)max_ticks)
		return -ERANGE;
	*ticks = (int64_t)v;
	return 0;
}

/* ---- create -------------------------------------------------------------- */

int vdectl_cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "blocks", required_argument, NULL, 'n' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "profile", required_argument, NULL, 'p' },
		{ "uuid", required_argument, NULL, 'u' },
		{ "timestamp", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'L' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *size_arg = NULL, *blocks_arg = NULL, *uuid_arg = NULL;
	const char *ts_arg = NULL, *label = NULL, *path;
	enum vde_profile profile = VDE_PROFILE_STANDARD;
	const char *profile_name = "standard";
	uint64_t bs = VDE_MIN_BLOCK_SIZE, size = 0, blocks;
	struct vde_create_opts o;
	struct vde_layout l;
	bool force = false;
	struct stat st;
	char ubuf[33];
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:n:b:p:u:t:L:f", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			size_arg = optarg;
			break;
		case 'n':
			blocks_arg = optarg;
			break;
		case 'b':
			if (parse_size(optarg, &bs) < 0)
				return vdectl_usage_error(argv[0], "bad block size '%s'",
							  optarg);
			if (!vde_block_size_ok((int64_t)(bs > INT64_MAX ? 0 : bs)))
				return vdectl_usage_error(argv[0],
							  "block size %s is not a power of two between %d and %d",
							  optarg, VDE_MIN_BLOCK_SIZE,
							  VDE_MAX_BLOCK_SIZE);
			break;
		case 'p':
			if (vde_profile_parse(optarg, &profile) < 0)
				return vdectl_usage_error(argv[0],
							  "unknown profile '%s' (minimal or standard)",
							  optarg);
			profile_name = optarg;
			break;
		case 'u':
			uuid_arg = optarg;
			break;
		case 't':
			ts_arg = optarg;
			break;
		case 'L':
			label = optarg;
			break;
		case 'f':
			force = true;
			break;
		default:
			return vdectl_usage_error(argv[0], "bad option");
		}
	}
	if (optind == argc)
		return vdectl_usage_error(argv[0], "missing IMAGE");
	if (optind + 1 != argc)
		return vdectl_usage_error(argv[0], "unexpected argument '%s'",
					  argv[optind + 1]);
	path = argv[optind];

	ret = vde_create_opts_init(&o, profile);
	if (ret < 0) {
		vdectl_err("cannot initialise: %s", strerror(-ret));
		return VDECTL_EXIT_FAIL;
	}
	o.block_size = (uint32_t)bs;
	o.force = force;
	if (size_arg && blocks_arg)
		return vdectl_usage_error(argv[0], "--size and --blocks exclude each other");
	if (size_arg) {
		if (parse_size(size_arg, &size) < 0)
			return vdectl_usage_error(argv[0],
						  "bad size '%s' (bytes, with an optional K, M, G, T or P suffix)",
						  size_arg);
		if (size % bs)
			return vdectl_usage_error(argv[0],
						  "size %s is not a multiple of the block size %" PRIu64,
						  size_arg, bs);
		o.total_blocks = size / bs;
	}
	if (blocks_arg) {
		if (parse_u64(blocks_arg, &blocks) < 0)
			return vdectl_usage_error(argv[0], "bad block count '%s'",
						  blocks_arg);
		o.total_blocks = blocks;
	}
	if (o.total_blocks < VDE_MIN_TOTAL_BLOCKS)
		return vdectl_usage_error(argv[0],
					  "%" PRIu64 " blocks are too few: the format needs at least %d",
					  o.total_blocks, VDE_MIN_TOTAL_BLOCKS);
	if (o.total_blocks > (uint64_t)INT64_MAX / bs / 2)
		return vdectl_usage_error(argv[0], "%" PRIu64 " blocks are too many",
					  o.total_blocks);
	if (uuid_arg && vde_uuid_parse(uuid_arg, o.uuid) < 0)
		return vdectl_usage_error(argv[0], "bad uuid '%s' (32 hex digits)",
					  uuid_arg);
	if (ts_arg && parse_timestamp(ts_arg, &o.timestamp) < 0)
		return vdectl_usage_error(argv[0],
					  "bad timestamp '%s' (.NET ticks, or @ and Unix seconds)",
					  ts_arg);
	if (label) {
		if (strlen(label) > VDE_LABEL_SIZE)
			return vdectl_usage_error(argv[0],
						  "label is %zu bytes long, at most %d fit",
						  strlen(label), VDE_LABEL_SIZE);
		memcpy(o.label, label, strlen(label));
	}

	if (force && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		vdectl_err("cannot create %s: not a regular file", path);
		return VDECTL_EXIT_FAIL;
	}
	ret = vde_image_create(path, &o, &l);
	if (ret == -EEXIST) {
		vdectl_err("%s exists (use --force to replace it)", path);
		return VDECTL_EXIT_FAIL;
	}
	if (ret < 0) {
		vdectl_err("cannot create %s: %s", path, strerror(-ret));
		return VDECTL_EXIT_FAIL;
	}
	printf("%s: %s profile, %" PRIu64 " blocks of %u bytes, %u regions, uuid %s\n",
	       path, profile_name, l.total_blocks, l.block_size, l.nr_regions,
	       vde_uuid_format(o.uuid, ubuf));
	if (l.file_blocks > l.total_blocks)
		printf("%s: metadata ends at block %" PRIu64 ", past the %" PRIu64 " blocks of the device; there is no data region\n",
		       path, l.metadata_blocks, l.total_blocks);
	return VDECTL_EXIT_OK;
}

/* ---- info ------------------------------------------------------------------ */

static const char *yes_no(bool v)
{
	return v ? "yes" : "no";
}

static void print_flags(const char *label, enum vde_flag_set set, uint32_t v)
{
	char names[512];

	vde_flags_describe(set, v, names, sizeof(names));
	printf("%-20s 0x%x%s%s%s\n", label, v, *names ? " (" : "", names,
	       *names ? ")" : "");
}

static void info_text(const char *path, const struct vde_image *img)
{
	const struct vde_superblock *sb = &img->sb;
	char ubuf[33], gbuf[37], t1[40], t2[40], names[512];
	unsigned int i;

	printf("%-20s %s\n", "image:", path);
	printf("%-20s VDE v%u.%u, revision %u\n", "format:", sb->major, sb->minor,
	       sb->revision);
	if (img->has_preamble)
		printf("%-20s VdeOffset %" PRIu64 ", PreambleTotalSize %" PRIu64 "\n",
		       "preamble:", img->preamble.vde_offset,
		       img->preamble.total_size);
	else
		printf("%-20s none\n", "preamble:");
	if (img->sb_copy == VDE_SB_MIRROR)
		printf("%-20s mirror (blocks 4-7); primary unusable: %s\n",
		       "superblock:", img->primary_diag.msg);
	else
		printf("%-20s primary (blocks 0-3)\n", "superblock:");
	printf("%-20s %u/%u\n", "min reader/writer:", sb->min_reader,
	       sb->min_writer);
	printf("%-20s %u\n", "block size:", img->block_size);
	printf("%-20s %" PRIu64 " (%" PRIu64 " bytes)\n", "total blocks:",
	       img->nr_blocks, img->nr_blocks * img->block_size);
	printf("%-20s %" PRIu64 "\n", "file size:", img->file_size);
	printf("%-20s %" PRId64 "\n", "free blocks:", sb->free_blocks);
	printf("%-20s %" PRId64 "\n", "allocated blocks:",
	       sb->total_allocated_blocks);
	printf("%-20s %" PRId64 "\n", "expected file size:",
	       sb->expected_file_size);
	printf("%-20s %s (.NET %s)\n", "uuid:", vde_uuid_format(sb->uuid, ubuf),
	       vde_guid_format(sb->uuid, gbuf));
	printf("%-20s %s\n", "label:", sb->label);
	print_flags("incompatible:", VDE_FLAGS_INCOMPAT, sb->incompat);
	print_flags("ro-compatible:", VDE_FLAGS_ROCOMPAT, sb->ro_compat);
	print_flags("compatible:", VDE_FLAGS_COMPAT, sb->compat);
	printf("%-20s %s\n", "read-only forced:", yes_no(img->read_only_forced));
	vde_flags_describe(VDE_FLAGS_MODULES, sb->manifest, names, sizeof(names));
	printf("%-20s 0x%08x%s%s%s\n", "modules:", sb->manifest,
	       *names ? " (" : "", names, *names ? ")" : "");
	printf("%-20s 0x%016" PRIx64 " 0x%016" PRIx64 "\n", "module config:",
	       sb->module_config, sb->module_config_ext);
	printf("%-20s %u\n", "inode size:", sb->inode_size);
	if (sb->incompat & VDE_INCOMPAT_ENCRYPTION)
		printf("%-20s AES-256-XTS, key fingerprint 0x%016" PRIx64 "\n",
		       "encryption:", sb->key_fingerprint);
	else
		printf("%-20s none\n", "encryption:");
	printf("%-20s %s\n", "created:", vde_ticks_format(sb->created, t1, sizeof(t1)));
	printf("%-20s %s\n", "modified:",
	       vde_ticks_format(sb->modified, t2, sizeof(t2)));
	printf("%-20s %" PRId64 "\n", "checkpoint:", sb->checkpoint_seq);
	printf("%-20s %u active\n", "regions:", img->nr_regions);
	printf("  %-4s %-4s %12s %12s  %-10s %-9s %s\n", "slot", "tag", "start",
	       "count", "flags", "encrypted", "what");
	for (i = 0; i < img->nr_regions; i++) {
		const struct vde_region *r = &img->regions[i];
		const char *what = vde_tag_describe(r->tag);

		vde_flags_describe(VDE_FLAGS_REGION, r->flags & ~VDE_RF_ACTIVE,
				   names, sizeof(names));
		printf("  %-4u %-4s %12" PRIu64 " %12" PRIu64 "  %-10s %-9s %s%s%s%s\n",
		       r->slot, r->name, r->start, r->count, *names ? names : "-",
		       yes_no(r->flags & VDE_RF_ENCRYPTED), what ? what : "unknown",
		       r->tag == VDE_TAG_ENCR ? ", hidden" : "",
		       r->notes & VDE_RN_PAST_DEVICE ? ", past TotalBlocks" : "",
		       r->notes & VDE_RN_PAST_EOF ? ", past end of file" : "");
	}
}

static struct json_object *json_names(enum vde_flag_set set, uint32_t bits)
{
	struct json_object *a = json_object_new_array();
	unsigned int bit;
	char unknown[16];

	for (bit = 0; bit < 32; bit++) {
		const char *name = vde_flag_name(set, bit);

		if (!(bits & (1U << bit)))
			continue;
		if (!name) {
			snprintf(unknown, sizeof(unknown), "bit%u", bit);
			name = unknown;
		}
		json_object_array_add(a, json_object_new_string(name));
	}
	return a;
}

#define J_U64(o, k, v) json_object_object_add(o, k, json_object_new_uint64(v))
#define J_I64(o, k, v) json_object_object_add(o, k, json_object_new_int64(v))
#define J_STR(o, k, v) json_object_object_add(o, k, json_object_new_string(v))
#define J_BOOL(o, k, v) json_object_object_add(o, k, json_object_new_boolean(v))

static struct json_object *json_region(const struct vde_region *r)
{
	struct json_object *o = json_object_new_object();
	const char *what = vde_tag_describe(r->tag);

	J_U64(o, "slot", r->slot);
	J_STR(o, "tag", r->name);
	J_U64(o, "tag_value", r->tag);
	json_object_object_add(o, "description",
			       what ? json_object_new_string(what) : NULL);
	J_U64(o, "start", r->start);
	J_U64(o, "count", r->count);
	J_U64(o, "used", r->used);
	J_U64(o, "flags", r->flags);
	json_object_object_add(o, "flag_names", json_names(VDE_FLAGS_REGION, r->flags));
	J_BOOL(o, "encrypted", r->flags & VDE_RF_ENCRYPTED);
	J_BOOL(o, "hidden", r->tag == VDE_TAG_ENCR);
	J_BOOL(o, "past_total_blocks", r->notes & VDE_RN_PAST_DEVICE);
	J_BOOL(o, "past_end_of_file", r->notes & VDE_RN_PAST_EOF);
	return o;
}

static void info_json(const char *path, const struct vde_image *img)
{
	const struct vde_superblock *sb = &img->sb;
	struct json_object *o = json_object_new_object(), *x, *a;
	char ubuf[33], gbuf[37], t[40], fp[24];
	unsigned int i;

	J_STR(o, "image", path);
	J_U64(o, "file_size", img->file_size);
	if (img->has_preamble) {
		x = json_object_new_object();
		J_U64(x, "version", img->preamble.version);
		J_U64(x, "flags", img->preamble.flags);
		J_U64(x, "total_size", img->preamble.total_size);
		J_U64(x, "vde_offset", img->preamble.vde_offset);
		json_object_object_add(o, "preamble", x);
	} else {
		json_object_object_add(o, "preamble", NULL);
	}
	J_STR(o, "superblock_copy", img->sb_copy == VDE_SB_MIRROR ? "mirror" : "primary");
	json_object_object_add(o, "primary_problem", img->sb_copy == VDE_SB_MIRROR ?
			       json_object_new_string(img->primary_diag.msg) : NULL);
	x = json_object_new_object();
	J_U64(x, "major", sb->major);
	J_U64(x, "minor", sb->minor);
	J_U64(x, "revision", sb->revision);
	J_U64(x, "min_reader", sb->min_reader);
	J_U64(x, "min_writer", sb->min_writer);
	json_object_object_add(o, "format", x);
	J_U64(o, "block_size", img->block_size);
	J_U64(o, "total_blocks", img->nr_blocks);
	J_U64(o, "device_bytes", img->nr_blocks * img->block_size);
	J_I64(o, "free_blocks", sb->free_blocks);
	J_I64(o, "total_allocated_blocks", sb->total_allocated_blocks);
	J_I64(o, "expected_file_size", sb->expected_file_size);
	J_STR(o, "uuid", vde_uuid_format(sb->uuid, ubuf));
	J_STR(o, "guid", vde_guid_format(sb->uuid, gbuf));
	J_STR(o, "label", sb->label);
	x = json_object_new_object();
	J_U64(x, "incompatible", sb->incompat);
	json_object_object_add(x, "incompatible_names",
			       json_names(VDE_FLAGS_INCOMPAT, sb->incompat));
	J_U64(x, "ro_compatible", sb->ro_compat);
	json_object_object_add(x, "ro_compatible_names",
			       json_names(VDE_FLAGS_ROCOMPAT, sb->ro_compat));
	J_U64(x, "compatible", sb->compat);
	json_object_object_add(x, "compatible_names",
			       json_names(VDE_FLAGS_COMPAT, sb->compat));
	json_object_object_add(o, "features", x);
	J_BOOL(o, "read_only_forced", img->read_only_forced);
	J_U64(o, "module_manifest", sb->manifest);
	json_object_object_add(o, "modules", json_names(VDE_FLAGS_MODULES, sb->manifest));
	J_U64(o, "module_config", sb->module_config);
	J_U64(o, "module_config_ext", sb->module_config_ext);
	J_U64(o, "inode_size", sb->inode_size);
	x = json_object_new_object();
	J_BOOL(x, "enabled", sb->incompat & VDE_INCOMPAT_ENCRYPTION);
	J_U64(x, "algorithm", sb->encryption_algo);
	snprintf(fp, sizeof(fp), "0x%016" PRIx64, sb->key_fingerprint);
	J_STR(x, "key_fingerprint", fp);
	json_object_object_add(o, "encryption", x);
	J_I64(o, "created_ticks", sb->created);
	J_STR(o, "created", vde_ticks_format(sb->created, t, sizeof(t)));
	J_I64(o, "modified_ticks", sb->modified);
	J_STR(o, "modified", vde_ticks_format(sb->modified, t, sizeof(t)));
	J_I64(o, "checkpoint_sequence", sb->checkpoint_seq);
	x = json_object_new_object();
	J_U64(x, "generation", img->rd_generation);
	J_U64(x, "active_count", img->rd_active_count);
	json_object_object_add(o, "region_directory", x);
	a = json_object_new_array();
	for (i = 0; i < img->nr_regions; i++)
		json_object_array_add(a, json_region(&img->regions[i]));
	json_object_object_add(o, "regions", a);
	vdectl_json_print(o);
}

int vdectl_cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	struct vde_image img;
	struct vde_diag d;
	int json = 0, c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "J", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = 1;
			break;
		default:
			return vdectl_usage_error(argv[0], "bad option");
		}
	}
	if (optind == argc)
		return vdectl_usage_error(argv[0], "missing IMAGE");
	if (optind + 1 != argc)
		return vdectl_usage_error(argv[0], "unexpected argument '%s'",
					  argv[optind + 1]);
	ret = vde_image_open(argv[optind], O_RDONLY, &img, &d);
	if (ret < 0) {
		vdectl_err("%s: %s", argv[optind], d.msg);
		return VDECTL_EXIT_FAIL;
	}
	if (json)
		info_json(argv[optind], &img);
	else
		info_text(argv[optind], &img);
	vde_image_close(&img);
	return VDECTL_EXIT_OK;
}

/* ---- check ----------------------------------------------------------------- */

static const char *const severity_names[] = {
	[VDE_SEV_NOTE] = "note",
	[VDE_SEV_ERROR] = "error",
	[VDE_SEV_FATAL] = "fatal",
};

struct check_out {
	const char *path;
	struct json_object *problems;	/* NULL for text output */
};

static void check_report(enum vde_severity sev, const struct vde_diag *d,
			 void *arg)
{
	struct check_out *out = arg;
	struct json_object *o;
	const char *ename;

	if (!out->problems) {
		printf("%s: %s: %s\n", out->path, severity_names[sev], d->msg);
		return;
	}
	o = json_object_new_object();
	J_STR(o, "severity", severity_names[sev]);
	J_I64(o, "block", d->block);
	json_object_object_add(o, "slot", d->slot >= 0 ?
			       json_object_new_int(d->slot) : NULL);
	J_STR(o, "field", d->field);
	J_STR(o, "value", d->value);
	ename = d->err ? strerrorname_np(-d->err) : NULL;
	json_object_object_add(o, "errno", ename ? json_object_new_string(ename) : NULL);
	J_STR(o, "message", d->msg);
	json_object_array_add(out->problems, o);
}

static int check_exit(const struct vde_check_result *r)
{
	if (r->fatal)
		return VDECTL_CHECK_UNUSABLE;
	if (r->errors)
		return VDECTL_CHECK_ERRORS;
	return VDECTL_CHECK_CLEAN;
}

static const char *check_status(int code)
{
	switch (code) {
	case VDECTL_CHECK_CLEAN:
		return "clean";
	case VDECTL_CHECK_ERRORS:
		return "usable";
	default:
		return "unusable";
	}
}

int vdectl_cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	struct check_out out = { NULL, NULL };
	struct vde_check_result res;
	struct json_object *o;
	int json = 0, c, ret, code;

	optind = 1;
	while ((c = getopt_long(argc, argv, "J", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = 1;
			break;
		default:
			vdectl_usage_error(argv[0], "bad option");
			return VDECTL_CHECK_USAGE;
		}
	}
	if (optind == argc) {
		vdectl_usage_error(argv[0], "missing IMAGE");
		return VDECTL_CHECK_USAGE;
	}
	if (optind + 1 != argc) {
		vdectl_usage_error(argv[0], "unexpected argument '%s'",
				   argv[optind + 1]);
		return VDECTL_CHECK_USAGE;
	}
	out.path = argv[optind];
	if (json)
		out.problems = json_object_new_array();
	ret = vde_image_check(out.path, check_report, &out, &res);
	if (ret < 0) {
		json_object_put(out.problems);
		vdectl_err("cannot check %s: %s", out.path, strerror(-ret));
		return VDECTL_CHECK_OPERATIONAL;
	}
	code = check_exit(&res);
	if (!json) {
		printf("%s: %s: %u metadata blocks checked, %u fatal, %u errors, %u notes\n",
		       out.path, check_status(code), res.blocks_checked,
		       res.fatal, res.errors, res.notes);
		return code;
	}
	o = json_object_new_object();
	J_STR(o, "image", out.path);
	J_STR(o, "status", check_status(code));
	J_I64(o, "exit_code", code);
	J_U64(o, "blocks_checked", res.blocks_checked);
	J_U64(o, "fatal", res.fatal);
	J_U64(o, "errors", res.errors);
	J_U64(o, "notes", res.notes);
	json_object_object_add(o, "problems", out.problems);
	vdectl_json_print(o);
	return code;
}
