// SPDX-License-Identifier: GPL-2.0
/*
 * vdectl: the key slots of encrypted images (key verify, add, remove,
 * passwd, list), and the passphrase and key input that create shares.
 *
 * Secrets are kept in vde_secure_alloc() memory and never printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "encr.h"
#include "secret.h"
#include "vdectl.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- secrets -------------------------------------------------------------- */

void vdectl_secret_free(struct vdectl_secret *s)
{
	vde_secure_free(s->pass, 2 * VDECTL_PASS_MAX);
	vde_secure_free(s->key, VDE_XTS_KEY_SIZE);
	s->pass = NULL;
	s->key = NULL;
	s->passlen = 0;
}

static int pass_error(int err, const char *from)
{
	if (err == -ENODATA)
		vdectl_err("no passphrase: %s is empty", from);
	else if (err == -EMSGSIZE)
		vdectl_err("the passphrase from %s is longer than %d bytes", from,
			   VDECTL_PASS_MAX - 1);
	else
		vdectl_err("cannot read a passphrase from %s: %s", from,
			   strerror(-err));
	return VDECTL_EXIT_FAIL;
}

int vdectl_read_pass(const char *file, const char *prompt, const char *again,
		     struct vdectl_secret *s)
{
	bool named = file && strcmp(file, "-");
	const char *from = named ? file : "standard input";
	int fd = STDIN_FILENO, ret;
	char *second;
	size_t len2;

	if (!s->pass)
		s->pass = vde_secure_alloc(2 * VDECTL_PASS_MAX);
	if (!s->pass) {
		vdectl_err("out of memory");
		return VDECTL_EXIT_FAIL;
	}
	second = s->pass + VDECTL_PASS_MAX;
	if (file) {
		prompt = NULL;
		again = NULL;
	}
	if (named) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return pass_error(-errno, from);
	}
	ret = vde_read_passphrase(prompt, fd, s->pass, VDECTL_PASS_MAX,
				  &s->passlen);
	if (!ret && again && isatty(fd)) {
		ret = vde_read_passphrase(again, fd, second, VDECTL_PASS_MAX,
					  &len2);
		if (!ret && (len2 != s->passlen || memcmp(s->pass, second, len2)))
			ret = -EKEYREJECTED;
		vde_cleanse(second, VDECTL_PASS_MAX);
	}
	if (named)
		close(fd);
	if (ret == -EKEYREJECTED) {
		vde_cleanse(s->pass, VDECTL_PASS_MAX);
		vdectl_err("the passphrases do not match");
		return VDECTL_EXIT_FAIL;
	}
	return ret ? pass_error(ret, from) : 0;
}

/* A passphrase for a new key slot: not empty. */
static int read_new_pass(const char *file, const char *image,
			 struct vdectl_secret *s)
{
	char prompt[PATH_MAX + 64];
	int ret;

	snprintf(prompt, sizeof(prompt), "Enter new passphrase for %s: ", image);
	ret = vdectl_read_pass(file, prompt, "Verify new passphrase: ", s);
	if (ret)
		return ret;
	if (!s->passlen) {
		vdectl_err("the new passphrase is empty");
		return VDECTL_EXIT_FAIL;
	}
	return 0;
}

int vdectl_read_key(const char *file, struct vdectl_secret *s)
{
	int ret;

	if (!s->key)
		s->key = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	if (!s->key) {
		vdectl_err("out of memory");
		return VDECTL_EXIT_FAIL;
	}
	ret = vde_read_key_file(file, s->key);
	if (ret == -EINVAL)
		vdectl_err("%s is not a key file: it must hold exactly %d bytes",
			   strcmp(file, "-") ? file : "standard input",
			   VDE_XTS_KEY_SIZE);
	else if (ret)
		vdectl_err("cannot read key file %s: %s", file, strerror(-ret));
	return ret ? VDECTL_EXIT_FAIL : 0;
}

/* ---- options ----------------------------------------------------------------- */

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int vdectl_kdf_parse(const char *cmd, const struct vdectl_kdf_args *a,
		     struct vde_kdf *kdf)
{
	unsigned long v;

	vde_kdf_default(kdf);
	if (a->kdf && !strcmp(a->kdf, "pbkdf2")) {
		kdf->algorithm = VDE_KDF_PBKDF2_SHA256;
		kdf->iterations = VDE_KDF_PBKDF2_MIN_ITER;
		kdf->log2_mem_kib = 0;
	} else if (a->kdf && strcmp(a->kdf, "argon2id")) {
		return vdectl_usage_error(cmd, "unknown KDF '%s' (argon2id or pbkdf2)",
					  a->kdf);
	}
	if (a->iterations) {
		if (parse_uint(a->iterations, INT_MAX, &v) < 0 || !v)
			return vdectl_usage_error(cmd, "bad KDF iteration count '%s'",
						  a->iterations);
		if (kdf->algorithm == VDE_KDF_PBKDF2_SHA256 &&
		    v < VDE_KDF_PBKDF2_MIN_ITER)
			return vdectl_usage_error(cmd,
						  "pbkdf2 needs at least %u iterations",
						  VDE_KDF_PBKDF2_MIN_ITER);
		kdf->iterations = (uint32_t)v;
	}
	if (a->memory) {
		if (kdf->algorithm != VDE_KDF_ARGON2ID)
			return vdectl_usage_error(cmd,
						  "--kdf-memory-log2 applies to argon2id only");
		if (parse_uint(a->memory, VDE_KDF_ARGON2_MAX_LOG2_MEM, &v) < 0 ||
		    v < VDE_KDF_ARGON2_MIN_LOG2_MEM)
			return vdectl_usage_error(cmd,
						  "bad KDF memory '%s' (log2 KiB, %d to %d)",
						  a->memory, VDE_KDF_ARGON2_MIN_LOG2_MEM,
						  VDE_KDF_ARGON2_MAX_LOG2_MEM);
		kdf->log2_mem_kib = (uint16_t)v;
	}
	return 0;
}

int64_t vdectl_ticks_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return VDE_TICKS_UNIX_EPOCH + (int64_t)ts.tv_sec * VDE_TICKS_PER_SEC +
	       ts.tv_nsec / 100;
}

/* ---- the image and its key slots ------------------------------------------- */

/*
 * struct key_ctx - an encrypted image opened by a key subcommand
 * @path: the image as named
 * @img: the open image
 * @encr: its key slot region, if @has_encr
 * @has_encr: the key slots were read
 * @encr_err: why they were not: -ENOENT without an ENCR region
 * @encr_diag: the reason of another @encr_err
 * @secret: the passphrase or key file that unlocked it
 * @master: the master key, once unlocked (secure memory)
 * @slot: the slot that opened, or -1 for a key file
 */
struct key_ctx {
	const char *path;
	struct vde_image img;
	struct vde_encr encr;
	bool has_encr;
	int encr_err;
	struct vde_diag encr_diag;
	struct vdectl_secret secret;
	uint8_t *master;
	int slot;
};

/* Everything but the image. */
static void key_release(struct key_ctx *k)
{
	vdectl_secret_free(&k->secret);
	vde_secure_free(k->master, VDE_XTS_KEY_SIZE);
	k->master = NULL;
	vde_encr_release(&k->encr);
}

static void key_close(struct key_ctx *k)
{
	key_release(k);
	vde_image_close(&k->img);
}

/*
 * Open an encrypted image and read its key slots, if it has any; a key
 * file opens it even if they are damaged.
 */
static int key_open(struct key_ctx *k, const char *path, int flags)
{
	struct vde_diag d;

	memset(k, 0, sizeof(*k));
	k->path = path;
	k->slot = -1;
	k->img.fd = -1;
	if (vde_image_open(path, flags, &k->img, &d) < 0) {
		vdectl_err("%s: %s", path, d.msg);
		return VDECTL_EXIT_FAIL;
	}
	if (!(k->img.sb.incompat & VDE_INCOMPAT_ENCRYPTION)) {
		vdectl_err("%s: not encrypted", path);
		return VDECTL_EXIT_FAIL;
	}
	k->encr_err = vde_encr_read(&k->img, &k->encr, &k->encr_diag);
	k->has_encr = !k->encr_err;
	return 0;
}

static int need_slots(const struct key_ctx *k)
{
	if (k->has_encr)
		return 0;
	if (k->encr_err == -ENOENT)
		vdectl_err("%s: no key slot region (ENCR): only its key file opens it",
			   k->path);
	else
		vdectl_err("%s: %s", k->path, k->encr_diag.msg);
	return VDECTL_EXIT_FAIL;
}

static int wrong_key(const struct key_ctx *k)
{
	vdectl_err("%s: wrong passphrase or key", k->path);
	return VDECTL_EXIT_FAIL;
}

/* Unlock with a key file or a passphrase; sets k->master and k->slot. */
static int key_unlock(struct key_ctx *k, const char *pass_file,
		      const char *key_file)
{
	char prompt[PATH_MAX + 64];
	uint64_t fp;
	int ret;

	k->master = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	if (!k->master) {
		vdectl_err("out of memory");
		return VDECTL_EXIT_FAIL;
	}
	if (key_file) {
		ret = vdectl_read_key(key_file, &k->secret);
		if (ret)
			return ret;
		if (vde_key_fingerprint(k->secret.key, &fp) < 0) {
			vdectl_err("cannot compute the key fingerprint");
			return VDECTL_EXIT_FAIL;
		}
		if (fp != k->img.sb.key_fingerprint)
			return wrong_key(k);
		memcpy(k->master, k->secret.key, VDE_XTS_KEY_SIZE);
		return 0;
	}
	ret = need_slots(k);
	if (ret)
		return ret;
	snprintf(prompt, sizeof(prompt), "Enter passphrase for %s: ", k->path);
	ret = vdectl_read_pass(pass_file, prompt, NULL, &k->secret);
	if (ret)
		return ret;
	ret = vde_encr_unlock(&k->encr, k->secret.pass, k->secret.passlen,
			      k->img.sb.key_fingerprint, k->master);
	if (ret == -EKEYREJECTED)
		return wrong_key(k);
	if (ret == -ENOKEY) {
		vdectl_err("%s: no active key slot: only its key file opens it",
			   k->path);
		return VDECTL_EXIT_FAIL;
	}
	if (ret < 0) {
		vdectl_err("%s: cannot open a key slot: %s", k->path,
			   strerror(-ret));
		return VDECTL_EXIT_FAIL;
	}
	k->slot = ret;
	return 0;
}

int vdectl_unlock(const struct vde_image *img, const char *path,
		  const char *pass_file, const char *key_file, uint8_t *master)
{
	struct key_ctx k;
	int ret;

	memset(&k, 0, sizeof(k));
	k.path = path;
	k.img = *img;
	k.slot = -1;
	if (!key_file) {
		k.encr_err = vde_encr_read(img, &k.encr, &k.encr_diag);
		k.has_encr = !k.encr_err;
	}
	ret = key_unlock(&k, pass_file, key_file);
	if (!ret)
		memcpy(master, k.master, VDE_XTS_KEY_SIZE);
	key_release(&k);
	return ret;
}

static const char *kdf_name(uint16_t kdf)
{
	switch (kdf) {
	case VDE_KDF_ARGON2ID:
		return "argon2id";
	case VDE_KDF_PBKDF2_SHA256:
		return "pbkdf2";
	default:
		return "unknown";
	}
}

static const char *status_name(uint8_t status)
{
	switch (status) {
	case VDE_KEYSLOT_EMPTY:
		return "empty";
	case VDE_KEYSLOT_ACTIVE:
		return "active";
	case VDE_KEYSLOT_RETIRED:
		return "retired";
	case VDE_KEYSLOT_COMPROMISED:
		return "compromised";
	default:
		return "unknown";
	}
}

static int slot_error(const struct key_ctx *k, int err)
{
	switch (err) {
	case -ENOSPC:
		vdectl_err("%s: all %d key slots are in use", k->path,
			   VDE_ENCR_MAX_SLOTS);
		break;
	case -EIO:
		vdectl_err("%s: the key slot written does not open; nothing was changed",
			   k->path);
		break;
	case -EROFS:
		vdectl_err("%s: has read-only-compatible features vdectl does not know; not writing",
			   k->path);
		break;
	default:
		vdectl_err("%s: cannot write the key slots: %s", k->path,
			   strerror(-err));
	}
	return VDECTL_EXIT_FAIL;
}

/* Both option values, when given together, are an error. */
static int exclusive(const char *cmd, const char *pass_file, const char *key_file)
{
	if (pass_file && key_file)
		return vdectl_usage_error(cmd,
					  "--passphrase-file and --key-file exclude each other");
	return 0;
}

static int one_image(const char *cmd, int argc, char **argv)
{
	if (optind == argc)
		return vdectl_usage_error(cmd, "missing IMAGE");
	if (optind + 1 != argc)
		return vdectl_usage_error(cmd, "unexpected argument '%s'",
					  argv[optind + 1]);
	return 0;
}

/* ---- subcommands --------------------------------------------------------------- */

/* The options of the key subcommands; each accepts those in its mask. */
enum {
	KEY_OPT_PASS	= 1 << 0,	/* --passphrase-file */
	KEY_OPT_KEY	= 1 << 1,	/* --key-file */
	KEY_OPT_NEW	= 1 << 2,	/* --new-passphrase-file */
	KEY_OPT_KDF	= 1 << 3,	/* --kdf, --kdf-iterations, --kdf-memory-log2 */
	KEY_OPT_SLOT	= 1 << 4,	/* --slot */
};

struct key_opts {
	const char *pass_file;
	const char *key_file;
	const char *new_file;
	const char *slot;
	struct vdectl_kdf_args ka;
};

static int key_parse(const char *cmd, int argc, char **argv,
		     unsigned int allowed, struct key_opts *o)
{
	static const struct option opts[] = {
		{ "passphrase-file", required_argument, NULL, VDECTL_OPT_PASS_FILE },
		{ "key-file", required_argument, NULL, VDECTL_OPT_KEY_FILE },
		{ "new-passphrase-file", required_argument, NULL, VDECTL_OPT_NEW_PASS_FILE },
		{ "kdf", required_argument, NULL, VDECTL_OPT_KDF },
		{ "kdf-iterations", required_argument, NULL, VDECTL_OPT_KDF_ITER },
		{ "kdf-memory-log2", required_argument, NULL, VDECTL_OPT_KDF_MEM },
		{ "slot", required_argument, NULL, VDECTL_OPT_SLOT },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int opt;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case VDECTL_OPT_PASS_FILE:
			opt = KEY_OPT_PASS;
			o->pass_file = optarg;
			break;
		case VDECTL_OPT_KEY_FILE:
			opt = KEY_OPT_KEY;
			o->key_file = optarg;
			break;
		case VDECTL_OPT_NEW_PASS_FILE:
			opt = KEY_OPT_NEW;
			o->new_file = optarg;
			break;
		case VDECTL_OPT_KDF:
			opt = KEY_OPT_KDF;
			o->ka.kdf = optarg;
			break;
		case VDECTL_OPT_KDF_ITER:
			opt = KEY_OPT_KDF;
			o->ka.iterations = optarg;
			break;
		case VDECTL_OPT_KDF_MEM:
			opt = KEY_OPT_KDF;
			o->ka.memory = optarg;
			break;
		case VDECTL_OPT_SLOT:
			opt = KEY_OPT_SLOT;
			o->slot = optarg;
			break;
		default:
			opt = 0;
			break;
		}
		if (!(opt & allowed))
			return vdectl_usage_error(cmd, "bad option");
	}
	return 0;
}

static int key_verify(int argc, char **argv)
{
	const char *cmd = "key verify";
	struct key_opts o;
	struct key_ctx k;
	int ret;

	ret = key_parse(cmd, argc, argv, KEY_OPT_PASS | KEY_OPT_KEY, &o);
	if (ret)
		return ret;
	ret = exclusive(cmd, o.pass_file, o.key_file);
	if (!ret)
		ret = one_image(cmd, argc, argv);
	if (ret)
		return ret;
	ret = key_open(&k, argv[optind], O_RDONLY);
	if (!ret)
		ret = key_unlock(&k, o.pass_file, o.key_file);
	if (!ret) {
		if (k.slot >= 0)
			printf("%s: key slot %d opens the image\n", k.path, k.slot);
		else
			printf("%s: the key file matches the key fingerprint\n",
			       k.path);
	}
	key_close(&k);
	return ret;
}

static int key_add(int argc, char **argv)
{
	const char *cmd = "key add";
	struct vdectl_secret np = { NULL, 0, NULL };
	struct vde_kdf kdf;
	struct key_opts o;
	struct key_ctx k;
	int c, ret;

	ret = key_parse(cmd, argc, argv,
			KEY_OPT_PASS | KEY_OPT_KEY | KEY_OPT_NEW | KEY_OPT_KDF, &o);
	if (ret)
		return ret;
	ret = exclusive(cmd, o.pass_file, o.key_file);
	if (!ret && o.key_file && !strcmp(o.key_file, "-") &&
	    (!o.new_file || !strcmp(o.new_file, "-")))
		ret = vdectl_usage_error(cmd,
					 "--key-file - needs --new-passphrase-file FILE");
	if (!ret)
		ret = vdectl_kdf_parse(cmd, &o.ka, &kdf);
	if (!ret)
		ret = one_image(cmd, argc, argv);
	if (ret)
		return ret;

	ret = key_open(&k, argv[optind], O_RDWR);
	if (!ret)
		ret = need_slots(&k);
	if (!ret)
		ret = key_unlock(&k, o.pass_file, o.key_file);
	if (!ret)
		ret = read_new_pass(o.new_file, k.path, &np);
	if (!ret) {
		c = vde_encr_add(&k.img, &k.encr, k.master, np.pass, np.passlen,
				 &kdf, vdectl_ticks_now());
		if (c < 0)
			ret = slot_error(&k, c);
		else
			printf("%s: key slot %d added\n", k.path, c);
	}
	vdectl_secret_free(&np);
	key_close(&k);
	return ret;
}

static int key_remove(int argc, char **argv)
{
	const char *cmd = "key remove";
	unsigned long slot = 0;
	struct key_opts o;
	struct key_ctx k;
	int c, ret;

	ret = key_parse(cmd, argc, argv, KEY_OPT_PASS | KEY_OPT_KEY | KEY_OPT_SLOT,
			&o);
	if (ret)
		return ret;
	if (o.slot && parse_uint(o.slot, VDE_ENCR_MAX_SLOTS - 1, &slot) < 0)
		return vdectl_usage_error(cmd, "bad slot '%s' (0 to %d)", o.slot,
					  VDE_ENCR_MAX_SLOTS - 1);
	ret = exclusive(cmd, o.pass_file, o.key_file);
	if (!ret && !o.slot)
		ret = vdectl_usage_error(cmd, "missing --slot N");
	if (!ret)
		ret = one_image(cmd, argc, argv);
	if (ret)
		return ret;

	ret = key_open(&k, argv[optind], O_RDWR);
	if (!ret)
		ret = need_slots(&k);
	if (!ret && k.encr.slots[slot].status == VDE_KEYSLOT_EMPTY) {
		vdectl_err("%s: key slot %lu is empty", k.path, slot);
		ret = VDECTL_EXIT_FAIL;
	}
	if (!ret && k.encr.slots[slot].status == VDE_KEYSLOT_ACTIVE &&
	    vde_encr_active_slots(&k.encr) == 1) {
		vdectl_err("%s: key slot %lu is the last active one; add another first",
			   k.path, slot);
		ret = VDECTL_EXIT_FAIL;
	}
	if (!ret)
		ret = key_unlock(&k, o.pass_file, o.key_file);
	if (!ret) {
		c = vde_encr_remove(&k.img, &k.encr, (unsigned int)slot);
		if (c < 0)
			ret = slot_error(&k, c);
		else
			printf("%s: key slot %lu removed\n", k.path, slot);
	}
	key_close(&k);
	return ret;
}

static int key_passwd(int argc, char **argv)
{
	const char *cmd = "key passwd";
	struct vdectl_secret np = { NULL, 0, NULL };
	struct vde_kdf kdf;
	struct key_opts o;
	struct key_ctx k;
	int c, ret;

	ret = key_parse(cmd, argc, argv, KEY_OPT_PASS | KEY_OPT_NEW | KEY_OPT_KDF,
			&o);
	if (ret)
		return ret;
	ret = vdectl_kdf_parse(cmd, &o.ka, &kdf);
	if (!ret)
		ret = one_image(cmd, argc, argv);
	if (ret)
		return ret;

	ret = key_open(&k, argv[optind], O_RDWR);
	if (!ret)
		ret = need_slots(&k);
	if (!ret)
		ret = key_unlock(&k, o.pass_file, NULL);
	if (!ret)
		ret = read_new_pass(o.new_file, k.path, &np);
	if (!ret) {
		c = vde_encr_change(&k.img, &k.encr, k.master, (unsigned int)k.slot,
				    np.pass, np.passlen, &kdf, vdectl_ticks_now());
		if (c < 0)
			ret = slot_error(&k, c);
		else
			printf("%s: passphrase changed: key slot %d replaced by key slot %d\n",
			       k.path, k.slot, c);
	}
	vdectl_secret_free(&np);
	key_close(&k);
	return ret;
}

static void list_text(const struct key_ctx *k)
{
	const struct vde_encr *e = &k->encr;
	char cost[48], t[40];
	unsigned int i;

	printf("%-4s  %-11s  %-8s  %-24s  %s\n", "slot", "status", "kdf", "cost",
	       "created");
	for (i = 0; i < VDE_ENCR_MAX_SLOTS; i++) {
		const struct vde_keyslot *s = &e->slots[i];

		if (s->status == VDE_KEYSLOT_EMPTY)
			continue;
		if (s->kdf_algorithm_id == VDE_KDF_ARGON2ID)
			snprintf(cost, sizeof(cost), "t=%" PRIu32 " m=2^%u KiB p=1",
				 s->kdf_iterations, s->kdf_log2_mem_kib);
		else
			snprintf(cost, sizeof(cost), "%" PRIu32 " iterations",
				 s->kdf_iterations);
		printf("%-4u  %-11s  %-8s  %-24s  %s\n", i, status_name(s->status),
		       kdf_name(s->kdf_algorithm_id), cost,
		       vde_ticks_format(s->created_ticks, t, sizeof(t)));
	}
}

#define J_U64(o, k, v) json_object_object_add(o, k, json_object_new_uint64(v))
#define J_I64(o, k, v) json_object_object_add(o, k, json_object_new_int64(v))
#define J_STR(o, k, v) json_object_object_add(o, k, json_object_new_string(v))
#define J_BOOL(o, k, v) json_object_object_add(o, k, json_object_new_boolean(v))

static void list_json(const struct key_ctx *k)
{
	struct json_object *o = json_object_new_object(), *a, *x;
	const struct vde_encr *e = &k->encr;
	char t[40], fp[24];
	unsigned int i;

	J_STR(o, "image", k->path);
	snprintf(fp, sizeof(fp), "0x%016" PRIx64, k->img.sb.key_fingerprint);
	J_STR(o, "key_fingerprint", fp);
	J_BOOL(o, "key_slot_region", k->has_encr);
	if (k->has_encr) {
		J_U64(o, "first_block", e->start);
		json_object_object_add(o, "active_slot_index",
				       e->active_index == VDE_ENCR_NO_SLOT ? NULL :
				       json_object_new_int(e->active_index));
		J_U64(o, "total_active_slots", e->total_active);
		J_U64(o, "rotation_events", e->event_count);
	}
	a = json_object_new_array();
	for (i = 0; k->has_encr && i < VDE_ENCR_MAX_SLOTS; i++) {
		const struct vde_keyslot *s = &e->slots[i];
		bool argon2 = s->kdf_algorithm_id == VDE_KDF_ARGON2ID;

		if (s->status == VDE_KEYSLOT_EMPTY)
			continue;
		x = json_object_new_object();
		J_U64(x, "slot", i);
		J_STR(x, "status", status_name(s->status));
		J_U64(x, "algorithm_id", s->algorithm_id);
		J_STR(x, "kdf", kdf_name(s->kdf_algorithm_id));
		J_U64(x, "kdf_iterations", s->kdf_iterations);
		json_object_object_add(x, "kdf_memory_kib", argon2 &&
				       s->kdf_log2_mem_kib < 63 ?
				       json_object_new_uint64(1ULL << s->kdf_log2_mem_kib) :
				       NULL);
		J_I64(x, "created_ticks", s->created_ticks);
		J_STR(x, "created", vde_ticks_format(s->created_ticks, t, sizeof(t)));
		J_I64(x, "retired_ticks", s->retired_ticks);
		json_object_array_add(a, x);
	}
	json_object_object_add(o, "slots", a);
	vdectl_json_print(o);
}

static int key_list(int argc, char **argv)
{
	const char *cmd = "key list";
	struct key_ctx k;
	int json = 0, c, ret;

	c = vdectl_parse_json_opt(cmd, argc, argv, &json);
	if (c)
		return c;
	ret = one_image(cmd, argc, argv);
	if (ret)
		return ret;
	ret = key_open(&k, argv[optind], O_RDONLY);
	if (!ret && k.encr_err && k.encr_err != -ENOENT)
		ret = need_slots(&k);
	if (!ret && json)
		list_json(&k);
	else if (!ret && !k.has_encr)
		printf("%s: no key slot region (ENCR): only its key file opens it\n",
		       k.path);
	else if (!ret)
		list_text(&k);
	key_close(&k);
	return ret;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} key_cmds[] = {
	{ "verify", key_verify },
	{ "add", key_add },
	{ "remove", key_remove },
	{ "passwd", key_passwd },
	{ "list", key_list },
};

int vdectl_cmd_key(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return vdectl_usage_error("key",
					  "missing subcommand (verify, add, remove, passwd or list)");
	for (i = 0; i < ARRAY_SIZE(key_cmds); i++)
		if (!strcmp(key_cmds[i].name, argv[1]))
			return key_cmds[i].fn(argc - 1, argv + 1);
	return vdectl_usage_error("key", "unknown subcommand '%s'", argv[1]);
}
