// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: libvde's image parser (vde_image_open()), the region
 * map built from it and the check engine (vde_image_check()), fed an
 * image file made from the input.
 *
 * The first byte of the input selects how the file is made:
 *
 *   bits 0-1  0: the rest of the input is the file;
 *             1, 2, 3: a valid image (standard profile, 2048 blocks;
 *             minimal profile, 1024 blocks, whose metadata runs past
 *             TotalBlocks; standard with an encrypted DATA region) with
 *             the rest of the input applied as patches
 *   bit 2     reseal: after patching, recompute the trailer checksum of
 *             every patched block, the Region Directory's Block0Hash if
 *             block 8 was patched and the preamble's HeaderChecksum, so
 *             that the rules behind the checksums are reached
 *   bit 3     a patch to blocks 0-3 is also applied to the mirror, 4-7
 *   bit 4     put a 4096-byte bootable preamble (VdeOffset 4096) in front
 *   bit 5     truncate: a u32 (LE) after the mode byte gives the file size,
 *             modulo the full size + 1
 *
 * A patch is five bytes: a file offset (u32, LE) and the byte to store.
 * The offset is taken modulo the first 64 blocks of the file, or, with
 * bit 31 set, modulo the whole file.
 *
 * Beyond what the sanitizers find, a violated property aborts:
 *  - a refusal has a documented errno and a diagnosis naming it;
 *  - an accepted image has a valid block size, and the file holds every
 *    block of the device;
 *  - every region map tiles its view exactly, merges equal neighbours and
 *    gives each block the flags of the first region that holds it;
 *  - vde_image_check() reports a fatal problem if and only if
 *    vde_image_open() refuses the image, fatal problems carry an errno
 *    and notes do not;
 *  - no file descriptor is left open.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypto.h"
#include "format.h"

#define BS		4096	/* block size of the base images */
#define WINDOW_BLOCKS	64	/* patches fall in these blocks of the file */
#define MAX_PATCHED	64	/* blocks one input may patch */
#define BRUTE_BLOCKS	4096	/* maps of views up to this size: every block */

#define MODE_BASE	0x03
#define MODE_RESEAL	0x04
#define MODE_MIRROR	0x08
#define MODE_PREAMBLE	0x10
#define MODE_TRUNCATE	0x20

struct base {
	const char *what;
	uint8_t *data;
	size_t size;
	uint32_t *nonzero;	/* blocks that are not all zero */
	unsigned int nr_nonzero;
};

struct patched {
	uint64_t block;		/* file block */
	uint8_t data[BS];
};

static struct base bases[3];
static uint8_t preamble[BS];
static struct patched patched[MAX_PATCHED];
static unsigned int nr_patched;
static int memfd = -1;
static int free_fd;		/* the lowest free descriptor between runs */
static char path[64];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_image: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- base images ------------------------------------------------------- */

static bool all_zero(const uint8_t *b, size_t len)
{
	return !b[0] && !memcmp(b, b + 1, len - 1);
}

static void make_base(struct base *b, const char *what, enum vde_profile prof,
		      uint64_t blocks, const char *encrypt)
{
	struct vde_create_opts o;
	char dir[] = "/tmp/vde-fuzz-XXXXXX", file[64];
	unsigned int i, n;
	ssize_t got;
	int fd, ret;

	ret = vde_create_opts_init(&o, prof);
	if (ret < 0)
		die("create opts: %s", strerror(-ret));
	o.total_blocks = blocks;
	memset(o.uuid, 0x5a, sizeof(o.uuid));
	o.timestamp = VDE_TICKS_UNIX_EPOCH + 1700000000LL * VDE_TICKS_PER_SEC;
	o.encrypt_region = encrypt;
	o.key_fingerprint = encrypt ? 0x0123456789abcdefULL : 0;
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(file, sizeof(file), "%s/base.vde", dir);
	ret = vde_image_create(file, &o, NULL);
	if (ret < 0)
		die("create %s image: %s", what, strerror(-ret));
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", file, strerror(errno));
	b->size = (size_t)lseek(fd, 0, SEEK_END);
	b->data = malloc(b->size);
	b->nonzero = calloc(b->size / BS, sizeof(*b->nonzero));
	if (!b->data || !b->nonzero || b->size % BS)
		die("%s image: %zu bytes", what, b->size);
	got = pread(fd, b->data, b->size, 0);
	if (got < 0 || (size_t)got != b->size)
		die("read %s: short read", file);
	close(fd);
	unlink(file);
	rmdir(dir);

	b->what = what;
	n = (unsigned int)(b->size / BS);
	for (i = 0; i < n; i++)
		if (!all_zero(b->data + (size_t)i * BS, BS))
			b->nonzero[b->nr_nonzero++] = i;
}

static void seal_preamble(uint8_t *h)
{
	uint8_t digest[VDE_SHA256_SIZE];

	if (vde_sha256(h, 56, digest) < 0)
		die("SHA-256 failed");
	memcpy(h + 56, digest, 8);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	make_base(&bases[0], "standard", VDE_PROFILE_STANDARD, 2048, NULL);
	make_base(&bases[1], "minimal", VDE_PROFILE_MINIMAL, 1024, NULL);
	make_base(&bases[2], "encrypted", VDE_PROFILE_STANDARD, 2048, "DATA");

	memcpy(preamble, VDE_PREAMBLE_MAGIC, 8);
	vde_put_le16(preamble + 8, 1);		/* PreambleVersion */
	vde_put_le64(preamble + 16, VDE_PREAMBLE_SIZE);	/* PreambleTotalSize */
	vde_put_le64(preamble + 24, BS);	/* VdeOffset */
	seal_preamble(preamble);

	memfd = memfd_create("vde-fuzz-image", MFD_CLOEXEC);
	if (memfd < 0)
		die("memfd_create: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	free_fd = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
	if (free_fd < 0)
		die("dup: %s", strerror(errno));
	close(free_fd);
	return 0;
}

/* ---- building the file ------------------------------------------------- */

/* The unpatched content of file block @fb. */
static void base_block(const struct base *b, bool pre, uint64_t fb,
		       uint8_t *dst)
{
	if (pre && fb == 0)
		memcpy(dst, preamble, BS);
	else
		memcpy(dst, b->data + (fb - pre) * BS, BS);
}

static struct patched *get_block(const struct base *b, bool pre, uint64_t fb)
{
	unsigned int i;

	for (i = 0; i < nr_patched; i++)
		if (patched[i].block == fb)
			return &patched[i];
	if (nr_patched == MAX_PATCHED)
		return NULL;
	patched[nr_patched].block = fb;
	base_block(b, pre, fb, patched[nr_patched].data);
	return &patched[nr_patched++];
}

static bool is_patched(uint64_t fb)
{
	unsigned int i;

	for (i = 0; i < nr_patched; i++)
		if (patched[i].block == fb)
			return true;
	return false;
}

static void patch(const struct base *b, bool pre, bool mirror, uint64_t size,
		  uint64_t off, uint8_t val)
{
	uint64_t fb = off / BS, vb = fb - pre;
	struct patched *p;

	p = get_block(b, pre, fb);
	if (p)
		p->data[off % BS] = val;
	/* Blocks 0-3 of the image and their mirror 4-7 */
	if (mirror && !(pre && fb == 0) && vb < VDE_BLK_MIRROR &&
	    off + VDE_BLK_MIRROR * BS < size) {
		p = get_block(b, pre, fb + VDE_BLK_MIRROR);
		if (p)
			p->data[off % BS] = val;
	}
}

static void reseal(const struct base *b, bool pre)
{
	struct patched *rd = NULL, *hdr;
	unsigned int i;

	for (i = 0; i < nr_patched; i++)
		if (patched[i].block == VDE_BLK_RD + (uint64_t)pre)
			rd = &patched[i];
	if (rd) {
		hdr = get_block(b, pre, VDE_BLK_RD_HEADER + (uint64_t)pre);
		if (hdr)
			vde_put_le64(hdr->data + 8, vde_block_hash(rd->data, BS));
	}
	for (i = 0; i < nr_patched; i++) {
		uint8_t *d = patched[i].data;

		if (pre && patched[i].block == 0)
			seal_preamble(d);
		else
			vde_trailer_seal(d, BS, vde_get_le32(d + BS - 16),
					 vde_get_le32(d + BS - 12));
	}
}

static void put(const void *buf, size_t len, uint64_t off)
{
	ssize_t n = pwrite(memfd, buf, len, (off_t)off);

	if (n < 0 || (size_t)n != len)
		die("pwrite: %s", n < 0 ? strerror(errno) : "short");
}

static void resize(uint64_t size)
{
	if (ftruncate(memfd, (off_t)size) < 0)
		die("ftruncate: %s", strerror(errno));
}

static void build_file(const uint8_t *data, size_t len)
{
	uint8_t mode = data[0];
	const struct base *b;
	uint64_t size, window, trunc = 0, off;
	unsigned int i;
	bool pre;

	resize(0);
	if (!(mode & MODE_BASE)) {
		put(data + 1, len - 1, 0);
		return;
	}
	b = &bases[(mode & MODE_BASE) - 1];
	pre = mode & MODE_PREAMBLE;
	size = b->size + (pre ? BS : 0);
	window = size < WINDOW_BLOCKS * BS ? size : WINDOW_BLOCKS * BS;
	data++;
	len--;
	if (mode & MODE_TRUNCATE) {
		if (len < 4)
			return;
		trunc = vde_get_le32(data) % (size + 1);
		data += 4;
		len -= 4;
	}

	nr_patched = 0;
	for (; len >= 5; data += 5, len -= 5) {
		off = vde_get_le32(data);
		off = off & 0x80000000 ? (off & 0x7fffffff) % size : off % window;
		patch(b, pre, mode & MODE_MIRROR, size, off, data[4]);
	}
	if (mode & MODE_RESEAL)
		reseal(b, pre);

	resize(size);
	if (pre && !is_patched(0))
		put(preamble, BS, 0);
	for (i = 0; i < b->nr_nonzero; i++) {
		uint64_t fb = b->nonzero[i] + (uint64_t)pre;

		if (!is_patched(fb))
			put(b->data + (size_t)b->nonzero[i] * BS, BS, fb * BS);
	}
	for (i = 0; i < nr_patched; i++)
		put(patched[i].data, BS, patched[i].block * BS);
	if (mode & MODE_TRUNCATE)
		resize(trunc);
}

/* ---- properties -------------------------------------------------------- */

static void check_refusal(int ret, const struct vde_diag *d,
			  const struct vde_image *img)
{
	switch (ret) {
	case -EINVAL:
	case -EPROTO:
	case -EOPNOTSUPP:
	case -EUCLEAN:
	case -ENODATA:
		break;
	default:
		die("vde_image_open: undocumented error %d (%s): %s", ret,
		    strerror(-ret), d->msg);
	}
	if (d->err != ret || !d->msg[0] || !d->field[0])
		die("vde_image_open: %d with diagnosis err %d field '%s' msg '%s'",
		    ret, d->err, d->field, d->msg);
	if (img->fd != -1)
		die("vde_image_open: failed but left fd %d", img->fd);
}

/* The flags a block's map entry must have (format.h, region map). */
static uint32_t want_flags(const struct vde_image *img, uint64_t block)
{
	const struct vde_region *r = vde_image_region_for_block(img, block);

	if (!r)
		return 0;
	if (r->tag == VDE_TAG_ENCR)
		return VDE_REGION_HIDDEN;
	return r->flags & VDE_RF_ENCRYPTED ? VDE_REGION_ENCRYPTED : 0;
}

/* Entry @i of a map of the view [@first, @first + @count), after @next blocks. */
static void check_entry(const struct vde_image *img, uint64_t first,
			uint64_t count, const struct vde_region_entry *map,
			unsigned int i, uint64_t next)
{
	const uint32_t known = VDE_REGION_ENCRYPTED | VDE_REGION_HIDDEN;
	const struct vde_region_entry *e = &map[i];
	uint64_t blk, end;

	if (e->first_block != next || !e->nr_blocks ||
	    e->nr_blocks > count - next || e->reserved ||
	    (e->flags & ~known) || e->flags == known ||
	    (i && e->flags == map[i - 1].flags))
		die("map of %" PRIu64 "+%" PRIu64 ": entry %u %" PRIu64 "+%" PRIu64 " 0x%x",
		    first, count, i, (uint64_t)e->first_block,
		    (uint64_t)e->nr_blocks, e->flags);
	/* Every block when that is cheap, else both ends. */
	end = e->first_block + e->nr_blocks;
	for (blk = e->first_block; blk < end; blk++) {
		if (count > BRUTE_BLOCKS && blk != e->first_block && blk != end - 1)
			blk = end - 1;
		if (want_flags(img, first + blk) != e->flags)
			die("map of %" PRIu64 "+%" PRIu64 ": block %" PRIu64 " is not 0x%x",
			    first, count, blk, e->flags);
	}
}

static void check_map(const struct vde_image *img, uint64_t first,
		      uint64_t count)
{
	static struct vde_region_entry map[VDE_MAX_REGIONS];
	static struct vde_region_entry part[VDE_MAX_REGIONS];
	unsigned int nr, need, i;
	uint64_t next = 0;
	int ret;

	ret = vde_image_region_map(img, first, count, NULL, 0, &need);
	if (ret != -E2BIG || !need)
		die("map of %" PRIu64 "+%" PRIu64 ": sizing gave %d, %u entries",
		    first, count, ret, need);
	ret = vde_image_region_map(img, first, count, map, VDE_MAX_REGIONS, &nr);
	if (ret < 0 || nr != need)
		die("map of %" PRIu64 "+%" PRIu64 ": %d, %u entries (sizing said %u)",
		    first, count, ret, nr, need);
	for (i = 0; i < nr; i++) {
		check_entry(img, first, count, map, i, next);
		next += map[i].nr_blocks;
	}
	if (next != count)
		die("map of %" PRIu64 "+%" PRIu64 ": covers %" PRIu64 " blocks",
		    first, count, next);

	/* Too small an array: -E2BIG, the size needed, a correct prefix. */
	if (nr > 1) {
		ret = vde_image_region_map(img, first, count, part, nr - 1, &i);
		if (ret != -E2BIG || i != nr ||
		    memcmp(part, map, (nr - 1) * sizeof(map[0])))
			die("map of %" PRIu64 "+%" PRIu64 " into %u entries: %d, %u",
			    first, count, nr - 1, ret, i);
	}
}

static void check_image(const struct vde_image *img, const uint8_t *data,
			size_t len)
{
	static uint8_t buf[VDE_MAX_BLOCK_SIZE];
	uint64_t first, count, n = img->nr_blocks;
	unsigned int i, nr;
	int ret;

	if (img->fd < 0 || !vde_block_size_ok(img->block_size) || !n ||
	    img->nr_regions > VDE_NR_SLOTS)
		die("vde_image_open: accepted fd %d, block size %u, %" PRIu64 " blocks, %u regions",
		    img->fd, img->block_size, n, img->nr_regions);
	ret = vde_image_read_block(img, n - 1, buf);
	if (ret < 0)
		die("vde_image_open: accepted, but block %" PRIu64 " is unreadable: %s",
		    n - 1, strerror(-ret));

	check_map(img, 0, n);
	for (i = 0; i < img->nr_regions; i++) {
		const struct vde_region *r = &img->regions[i];

		if (vde_image_region_view(img, r->name, &first, &count) == 0)
			check_map(img, first, count);
		vde_image_region_for_block(img, r->start);
		vde_image_region_for_block(img, r->start + r->count);
		vde_image_region_for_block(img, r->start + r->count - 1);
	}
	/* A view chosen by the input. */
	if (len >= 8) {
		first = vde_get_le32(data + len - 8) % n;
		count = vde_get_le32(data + len - 4) % (n - first) + 1;
		check_map(img, first, count);
	}
	vde_image_region_for_block(img, n);
	vde_image_region_for_block(img, UINT64_MAX);
	if (vde_image_find_region(img, "data") != vde_image_find_region(img, "DATA"))
		die("vde_image_find_region: names are not case-insensitive");
	if (vde_image_region_map(img, 0, n + 1, NULL, 0, &nr) != -ERANGE ||
	    vde_image_region_map(img, n, 1, NULL, 0, &nr) != -ERANGE ||
	    vde_image_region_map(img, 0, 0, NULL, 0, &nr) != -EINVAL)
		die("region map: a view past the device or an empty one was not refused");
}

static void on_problem(enum vde_severity sev, const struct vde_diag *d,
		       void *arg)
{
	(void)arg;
	if (!d->msg[0] || sev > VDE_SEV_FATAL)
		die("check: problem without a message");
	if (sev == VDE_SEV_FATAL && d->err >= 0)
		die("check: fatal problem without an errno: %s", d->msg);
	if (sev == VDE_SEV_NOTE && d->err)
		die("check: note with errno %d: %s", d->err, d->msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct vde_check_result res;
	struct vde_image img;
	struct vde_diag d;
	int ret, fd;

	if (!len)
		return 0;
	build_file(data, len);

	ret = vde_image_open(path, O_RDONLY, &img, &d);
	if (ret < 0) {
		check_refusal(ret, &d, &img);
	} else {
		check_image(&img, data, len);
		vde_image_close(&img);
	}

	if (vde_image_check(path, on_problem, NULL, &res) < 0)
		die("vde_image_check: failed on a readable file");
	if ((ret < 0) != (res.fatal > 0))
		die("vde_image_open gives %d (%s) but check finds %u fatal problems",
		    ret, ret < 0 ? d.msg : "accepted", res.fatal);

	fd = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
	if (fd != free_fd)
		die("file descriptor leak: lowest free fd %d, was %d", fd, free_fd);
	close(fd);
	return 0;
}
