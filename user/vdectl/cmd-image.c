// SPDX-License-Identifier: GPL-2.0
/*
 * vdectl: commands about image files (create, info, check).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "encr.h"
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

/*
 * struct create_enc - what create --encrypt needs
 * @region: the region to encrypt, NULL when not encrypting
 * @pass_file: --passphrase-file, or NULL
 * @key_file: --key-file, or NULL
 * @ka: the KDF options
 * @kdf: the KDF of key slot 0
 * @slots: a passphrase is stored in key slot 0 (else the key file is the key)
 * @key_created: @key_file was created here
 * @secret: the passphrase or the key read
 * @master: the master key (secure memory)
 */
struct create_enc {
	const char *region;
	const char *pass_file;
	const char *key_file;
	struct vdectl_kdf_args ka;
	struct vde_kdf kdf;
	bool slots;
	bool key_created;
	struct vdectl_secret secret;
	uint8_t *master;
};

static void enc_free(struct create_enc *c)
{
	vdectl_secret_free(&c->secret);
	vde_secure_free(c->master, VDE_XTS_KEY_SIZE);
	c->master = NULL;
}

/* Check the encryption options against the layout they apply to. */
static int enc_check_args(const char *cmd, struct vde_create_opts *o,
			  const char *profile, struct create_enc *c)
{
	struct vde_layout *l;
	bool has_encr = false;
	unsigned int i;
	int ret;

	if (c->pass_file && c->key_file)
		return vdectl_usage_error(cmd,
					  "--passphrase-file and --key-file exclude each other");
	if (c->key_file && (c->ka.kdf || c->ka.iterations || c->ka.memory))
		return vdectl_usage_error(cmd,
					  "--kdf, --kdf-iterations and --kdf-memory-log2 need a passphrase, not --key-file");
	ret = vdectl_kdf_parse(cmd, &c->ka, &c->kdf);
	if (ret)
		return ret;
	l = malloc(sizeof(*l));
	if (!l) {
		vdectl_err("out of memory");
		return VDECTL_EXIT_FAIL;
	}
	o->encrypt_region = c->region;
	if (vde_layout_compute(o, l) < 0) {
		o->encrypt_region = NULL;
		ret = vde_layout_compute(o, l);
		o->encrypt_region = c->region;
		free(l);
		if (ret < 0)
			return 0;	/* another problem, which create reports */
		return vdectl_usage_error(cmd,
					  "cannot encrypt region '%s': the %s profile has no such region that creation leaves unwritten (DATA, POLV, STRE)",
					  c->region, profile);
	}
	for (i = 0; i < l->nr_regions; i++)
		has_encr |= l->regions[i].slot.tag == VDE_TAG_ENCR;
	free(l);
	if (!has_encr && !c->key_file)
		return vdectl_usage_error(cmd,
					  "the %s profile has no key slot region: --encrypt needs --key-file",
					  profile);
	c->slots = !c->key_file;
	return 0;
}

/* The key from an existing key file, or a new one saved in a new file. */
static int enc_key_file(struct create_enc *c)
{
	int fd, ret;

	if (strcmp(c->key_file, "-")) {
		fd = open(c->key_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno != ENOENT) {
			vdectl_err("cannot read key file %s: %s", c->key_file,
				   strerror(errno));
			return VDECTL_EXIT_FAIL;
		}
		if (fd < 0) {
			if (vde_random_bytes(c->master, VDE_XTS_KEY_SIZE) < 0) {
				vdectl_err("cannot generate a key");
				return VDECTL_EXIT_FAIL;
			}
			ret = vde_key_file_write(c->key_file, c->master);
			if (ret < 0) {
				vdectl_err("cannot create key file %s: %s",
					   c->key_file, strerror(-ret));
				return VDECTL_EXIT_FAIL;
			}
			c->key_created = true;
			return 0;
		}
		close(fd);
	}
	ret = vdectl_read_key(c->key_file, &c->secret);
	if (ret)
		return ret;
	memcpy(c->master, c->secret.key, VDE_XTS_KEY_SIZE);
	if (!memcmp(c->master, c->master + VDE_XTS_KEY_SIZE / 2,
		    VDE_XTS_KEY_SIZE / 2)) {
		vdectl_err("%s: the two halves of the key are equal, which XTS forbids",
			   c->key_file);
		return VDECTL_EXIT_FAIL;
	}
	return 0;
}

/* The master key and its fingerprint, from a key file or a passphrase. */
static int enc_get_key(const char *path, struct create_enc *c,
		       struct vde_create_opts *o)
{
	char prompt[PATH_MAX + 64];
	int ret;

	c->master = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	if (!c->master) {
		vdectl_err("out of memory");
		return VDECTL_EXIT_FAIL;
	}
	if (c->key_file) {
		ret = enc_key_file(c);
	} else {
		snprintf(prompt, sizeof(prompt), "Enter passphrase for %s: ", path);
		ret = vdectl_read_pass(c->pass_file, prompt, "Verify passphrase: ",
				       &c->secret);
		if (!ret && !c->secret.passlen) {
			vdectl_err("the passphrase is empty");
			ret = VDECTL_EXIT_FAIL;
		}
		if (!ret && vde_random_bytes(c->master, VDE_XTS_KEY_SIZE) < 0) {
			vdectl_err("cannot generate a key");
			ret = VDECTL_EXIT_FAIL;
		}
	}
	if (!ret && vde_key_fingerprint(c->master, &o->key_fingerprint) < 0) {
		vdectl_err("cannot compute the key fingerprint");
		ret = VDECTL_EXIT_FAIL;
	}
	return ret;
}

/* Wrap the master key into key slot 0 of the new image. */
static int enc_write_slot(const char *path, struct create_enc *c,
			  int64_t ticks)
{
	struct vde_encr e = { 0 };
	struct vde_image img;
	struct vde_diag d;
	int ret;

	ret = vde_image_open(path, O_RDWR, &img, &d);
	if (ret < 0) {
		vdectl_err("%s: %s", path, d.msg);
		return ret;
	}
	ret = vde_encr_read(&img, &e, &d);
	if (ret < 0) {
		vdectl_err("%s: %s", path, d.msg);
	} else {
		ret = vde_encr_add(&img, &e, c->master, c->secret.pass,
				   c->secret.passlen, &c->kdf, ticks);
		if (ret < 0)
			vdectl_err("cannot write key slot 0 of %s: %s", path,
				   strerror(-ret));
	}
	vde_encr_release(&e);
	vde_image_close(&img);
	return ret;
}

static const char *const kdf_names[] = {
	[VDE_KDF_PBKDF2_SHA256] = "pbkdf2",
	[VDE_KDF_ARGON2ID] = "argon2id",
};

static void enc_report(const char *path, const struct create_enc *c,
		       uint64_t fp, int slot)
{
	char name[5] = "?";
	uint32_t tag;

	if (!vde_tag_parse(c->region, &tag))
		vde_tag_name(tag, name);
	printf("%s: region %s encrypted with AES-256-XTS, key fingerprint 0x%016" PRIx64,
	       path, name, fp);
	if (c->slots)
		printf(", passphrase in key slot %d (%s)\n", slot,
		       kdf_names[c->kdf.algorithm]);
	else
		printf(", key in %s%s\n", c->key_file,
		       c->key_created ? " (created)" : "");
}

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
		{ "encrypt", optional_argument, NULL, VDECTL_OPT_ENCRYPT },
		{ "passphrase-file", required_argument, NULL, VDECTL_OPT_PASS_FILE },
		{ "key-file", required_argument, NULL, VDECTL_OPT_KEY_FILE },
		{ "kdf", required_argument, NULL, VDECTL_OPT_KDF },
		{ "kdf-iterations", required_argument, NULL, VDECTL_OPT_KDF_ITER },
		{ "kdf-memory-log2", required_argument, NULL, VDECTL_OPT_KDF_MEM },
		{ NULL, 0, NULL, 0 },
	};
	const char *size_arg = NULL, *blocks_arg = NULL, *uuid_arg = NULL;
	const char *ts_arg = NULL, *label = NULL, *path;
	enum vde_profile profile = VDE_PROFILE_STANDARD;
	const char *profile_name = "standard";
	uint64_t bs = VDE_MIN_BLOCK_SIZE, size = 0, blocks;
	struct create_enc enc = { .region = NULL };
	const char *needs_encrypt = NULL;
	struct vde_create_opts o;
	struct vde_layout l;
	bool force = false, encrypt = false;
	struct stat st;
	char ubuf[33];
	int c, ret, slot = -1;

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
		case VDECTL_OPT_ENCRYPT:
			enc.region = optarg;
			encrypt = true;
			break;
		case VDECTL_OPT_PASS_FILE:
			enc.pass_file = optarg;
			needs_encrypt = needs_encrypt ? : "--passphrase-file";
			break;
		case VDECTL_OPT_KEY_FILE:
			enc.key_file = optarg;
			needs_encrypt = needs_encrypt ? : "--key-file";
			break;
		case VDECTL_OPT_KDF:
			enc.ka.kdf = optarg;
			needs_encrypt = needs_encrypt ? : "--kdf";
			break;
		case VDECTL_OPT_KDF_ITER:
			enc.ka.iterations = optarg;
			needs_encrypt = needs_encrypt ? : "--kdf-iterations";
			break;
		case VDECTL_OPT_KDF_MEM:
			enc.ka.memory = optarg;
			needs_encrypt = needs_encrypt ? : "--kdf-memory-log2";
			break;
		default:
			return vdectl_usage_error(argv[0], "bad option");
		}
	}
	/* "--encrypt REGION IMAGE" as well as "--encrypt=REGION IMAGE". */
	if (encrypt && !enc.region && optind + 2 == argc)
		enc.region = argv[optind++];
	if (encrypt && !enc.region)
		enc.region = "DATA";
	if (optind == argc)
		return vdectl_usage_error(argv[0], "missing IMAGE");
	if (optind + 1 != argc)
		return vdectl_usage_error(argv[0], "unexpected argument '%s'",
					  argv[optind + 1]);
	path = argv[optind];
	if (needs_encrypt && !enc.region)
		return vdectl_usage_error(argv[0], "%s needs --encrypt", needs_encrypt);

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
	if (enc.region) {
		ret = enc_check_args(argv[0], &o, profile_name, &enc);
		if (ret)
			return ret;
	}

	if (force && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		vdectl_err("cannot create %s: not a regular file", path);
		return VDECTL_EXIT_FAIL;
	}
	/* Before asking for a passphrase or making a key. */
	if (!force && enc.region && lstat(path, &st) == 0) {
		vdectl_err("%s exists (use --force to replace it)", path);
		return VDECTL_EXIT_FAIL;
	}
	if (enc.region) {
		ret = enc_get_key(path, &enc, &o);
		if (ret)
			goto out_enc;
	}
	ret = vde_image_create(path, &o, &l);
	if (ret == -EEXIST)
		vdectl_err("%s exists (use --force to replace it)", path);
	else if (ret < 0)
		vdectl_err("cannot create %s: %s", path, strerror(-ret));
	if (!ret && enc.slots) {
		slot = enc_write_slot(path, &enc, o.timestamp);
		if (slot < 0) {
			unlink(path);
			ret = slot;
		}
	}
	if (ret < 0) {
		ret = VDECTL_EXIT_FAIL;
		goto out_enc;
	}
	printf("%s: %s profile, %" PRIu64 " blocks of %u bytes, %u regions, uuid %s\n",
	       path, profile_name, l.total_blocks, l.block_size, l.nr_regions,
	       vde_uuid_format(o.uuid, ubuf));
	if (l.file_blocks > l.total_blocks)
		printf("%s: metadata ends at block %" PRIu64 ", past the %" PRIu64 " blocks of the device; there is no data region\n",
		       path, l.metadata_blocks, l.total_blocks);
	if (enc.region)
		enc_report(path, &enc, o.key_fingerprint, slot);
	ret = VDECTL_EXIT_OK;
out_enc:
	if (ret && enc.key_created)
		unlink(enc.key_file);
	enc_free(&enc);
	return ret;
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
	struct vde_image img;
	struct vde_diag d;
	int json = 0, c, ret;

	c = vdectl_parse_json_opt(argv[0], argc, argv, &json);
	if (c)
		return c;
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

/* Report one problem found by the key check. */
static void key_problem(struct check_out *out, struct vde_check_result *res,
			enum vde_severity sev, int err, const char *value,
			const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void key_problem(struct check_out *out, struct vde_check_result *res,
			enum vde_severity sev, int err, const char *value,
			const char *fmt, ...)
{
	struct vde_diag d;
	char reason[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	vde_diag_set(&d, err, VDE_BLK_SUPERBLOCK, -1, "EncryptionKeyFingerprint",
		     value, "%s", reason);
	if (sev == VDE_SEV_FATAL)
		res->fatal++;
	else
		res->notes++;
	check_report(sev, &d, out);
}

/* Does an active key slot open with the passphrase? */
static int check_key_slots(struct check_out *out, struct vde_check_result *res,
			   const struct vde_image *img, const char *v,
			   const struct vdectl_secret *s)
{
	struct vde_encr e = { 0 };
	struct vde_diag d;
	uint8_t *master;
	int ret;

	ret = vde_encr_read(img, &e, &d);
	if (ret == -ENOENT) {
		key_problem(out, res, VDE_SEV_FATAL, -EKEYREJECTED, v,
			    "no key slot region (ENCR): only a key file opens the image");
		return 0;
	}
	if (ret) {
		key_problem(out, res, VDE_SEV_FATAL, -EKEYREJECTED, v,
			    "the key slots cannot be read: %s", d.msg);
		return 0;
	}
	master = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	ret = master ? vde_encr_unlock(&e, s->pass, s->passlen,
				       img->sb.key_fingerprint, master) : -ENOMEM;
	vde_secure_free(master, VDE_XTS_KEY_SIZE);
	vde_encr_release(&e);
	if (ret == -ENOKEY)
		key_problem(out, res, VDE_SEV_FATAL, -EKEYREJECTED, v,
			    "no active key slot: only a key file opens the image");
	else if (ret == -EKEYREJECTED)
		key_problem(out, res, VDE_SEV_FATAL, -EKEYREJECTED, v,
			    "no active key slot opens with the passphrase");
	else if (ret < 0)
		return ret;
	return 0;
}

/* Does the key file, or the passphrase, fit the image? */
static int check_key(struct check_out *out, struct vde_check_result *res,
		     const struct vdectl_secret *s)
{
	struct vde_image img;
	struct vde_diag d;
	char v[24];
	uint64_t fp;
	int ret = 0;

	/* An image that does not open was reported as fatal already. */
	if (vde_image_open(out->path, O_RDONLY, &img, &d) < 0)
		return 0;
	snprintf(v, sizeof(v), "0x%016" PRIx64, img.sb.key_fingerprint);
	if (!(img.sb.incompat & VDE_INCOMPAT_ENCRYPTION)) {
		key_problem(out, res, VDE_SEV_NOTE, 0, v,
			    "the image is not encrypted; the key is not used");
	} else if (s->key) {
		ret = vde_key_fingerprint(s->key, &fp);
		if (!ret && fp != img.sb.key_fingerprint)
			key_problem(out, res, VDE_SEV_FATAL, -EKEYREJECTED, v,
				    "the key file does not match");
	} else {
		ret = check_key_slots(out, res, &img, v, s);
	}
	vde_image_close(&img);
	return ret;
}

int vdectl_cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "key-file", required_argument, NULL, VDECTL_OPT_KEY_FILE },
		{ "passphrase-file", required_argument, NULL, VDECTL_OPT_PASS_FILE },
		{ NULL, 0, NULL, 0 },
	};
	struct check_out out = { NULL, NULL };
	struct vdectl_secret secret = { NULL, 0, NULL };
	const char *key_file = NULL, *pass_file = NULL;
	struct vde_check_result res;
	struct json_object *o;
	int json = 0, c, ret, code;

	optind = 1;
	while ((c = getopt_long(argc, argv, "J", opts, NULL)) != -1) {
		switch (c) {
		case 'J':
			json = 1;
			break;
		case VDECTL_OPT_KEY_FILE:
			key_file = optarg;
			break;
		case VDECTL_OPT_PASS_FILE:
			pass_file = optarg;
			break;
		default:
			vdectl_usage_error(argv[0], "bad option");
			return VDECTL_CHECK_USAGE;
		}
	}
	if (key_file && pass_file) {
		vdectl_usage_error(argv[0],
				   "--passphrase-file and --key-file exclude each other");
		return VDECTL_CHECK_USAGE;
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
	if ((key_file && vdectl_read_key(key_file, &secret)) ||
	    (pass_file && vdectl_read_pass(pass_file, NULL, NULL, &secret))) {
		vdectl_secret_free(&secret);
		return VDECTL_CHECK_OPERATIONAL;
	}
	out.path = argv[optind];
	if (json)
		out.problems = json_object_new_array();
	ret = vde_image_check(out.path, check_report, &out, &res);
	if (!ret && (key_file || pass_file) && !res.fatal)
		ret = check_key(&out, &res, &secret);
	vdectl_secret_free(&secret);
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
