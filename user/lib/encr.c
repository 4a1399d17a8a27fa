// SPDX-License-Identifier: GPL-2.0
/*
 * libvde: the EncryptionHeader (ENCR) region's key slots, and key files.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encr.h"

#define VAL_LEN 32

static const char *const encr_roles[VDE_ENCR_BLOCKS] = {
	"encryption header block 0",
	"encryption header block 1",
};

void vde_kdf_default(struct vde_kdf *kdf)
{
	kdf->algorithm = VDE_KDF_ARGON2ID;
	kdf->iterations = VDE_KDF_ARGON2_DEFAULT_T;
	kdf->log2_mem_kib = VDE_KDF_ARGON2_DEFAULT_LOG2_MEM;
}

unsigned int vde_encr_slots_in_block0(uint32_t block_size)
{
	unsigned int k = (block_size - VDE_TRAILER_SIZE - VDE_ENCR_HEADER_SIZE) /
			 VDE_KEYSLOT_SIZE;

	return k < VDE_ENCR_MAX_SLOTS ? k : VDE_ENCR_MAX_SLOTS;
}

unsigned int vde_encr_slot_pos(uint32_t block_size, unsigned int slot,
			       size_t *offset)
{
	unsigned int k = vde_encr_slots_in_block0(block_size);

	if (slot < k) {
		*offset = VDE_ENCR_HEADER_SIZE + (size_t)slot * VDE_KEYSLOT_SIZE;
		return 0;
	}
	*offset = (size_t)(slot - k) * VDE_KEYSLOT_SIZE;
	return 1;
}

/* Bytes of block 1 taken by its slots: where rotation events start. */
static size_t events_offset(uint32_t block_size)
{
	return (size_t)(VDE_ENCR_MAX_SLOTS - vde_encr_slots_in_block0(block_size)) *
	       VDE_KEYSLOT_SIZE;
}

static bool all_zero(const uint8_t *b, size_t len)
{
	return !b[0] && !memcmp(b, b + 1, len - 1);
}

unsigned int vde_encr_active_slots(const struct vde_encr *e)
{
	unsigned int i, n = 0;

	for (i = 0; i < VDE_ENCR_MAX_SLOTS; i++)
		n += e->slots[i].status == VDE_KEYSLOT_ACTIVE;
	return n;
}

/* ---- decoding and encoding ---------------------------------------------- */

static int check_trailer(const uint8_t *b, uint32_t bs, uint64_t block,
			 unsigned int i, struct vde_diag *diag)
{
	char v[VAL_LEN], w[VAL_LEN], n1[5];
	uint32_t tag;

	if (!vde_trailer_ok(b, bs)) {
		snprintf(v, sizeof(v), "0x%016" PRIx64, vde_get_le64(b + bs - 8));
		snprintf(w, sizeof(w), "0x%016" PRIx64, vde_block_hash(b, bs));
		return vde_diag_set_role(diag, -EPROTO, (int64_t)block,
					 encr_roles[i], -1, "trailer checksum",
					 v, "does not match the block (XXH64 %s)",
					 w);
	}
	tag = vde_get_le32(b + bs - VDE_TRAILER_SIZE);
	if (tag != VDE_TAG_ENCR)
		return vde_diag_set_role(diag, -EPROTO, (int64_t)block,
					 encr_roles[i], -1, "trailer tag",
					 vde_tag_name(tag, n1),
					 "the key slot blocks are tagged ENCR");
	return 0;
}

int vde_encr_decode(const uint8_t *blocks, uint32_t bs, uint64_t first_block,
		    struct vde_encr *e, struct vde_diag *diag)
{
	const uint8_t *b1 = blocks + bs;
	uint8_t *raw = e->raw;
	unsigned int i, blk, events;
	char v[VAL_LEN];
	size_t off;
	int ret;

	if (!vde_block_size_ok(bs))
		return vde_diag_set(diag, -EINVAL, VDE_DIAG_FILE, -1, "BlockSize",
				    "", "not a supported block size");
	if (all_zero(blocks, (size_t)2 * bs)) {
		memset(e, 0, sizeof(*e));
		e->blank = true;
		e->active_index = VDE_ENCR_NO_SLOT;
		goto out_raw;
	}
	for (i = 0; i < VDE_ENCR_BLOCKS; i++) {
		ret = check_trailer(blocks + (size_t)i * bs, bs, first_block + i,
				    i, diag);
		if (ret)
			return ret;
	}
	events = vde_get_le16(blocks + VDE_ENCR_OFF_EVENT_COUNT);
	if (events_offset(bs) + events * VDE_ENCR_EVENT_SIZE >
	    bs - VDE_TRAILER_SIZE) {
		snprintf(v, sizeof(v), "%u", events);
		return vde_diag_set_role(diag, -EUCLEAN, (int64_t)first_block,
					 encr_roles[0], -1, "RotationEventCount",
					 v, "more events than fit in block 1");
	}
	memset(e, 0, sizeof(*e));
	e->active_index = blocks[VDE_ENCR_OFF_ACTIVE_INDEX];
	e->total_active = blocks[VDE_ENCR_OFF_TOTAL_ACTIVE];
	e->event_count = events;
	for (i = 0; i < VDE_ENCR_MAX_SLOTS; i++) {
		blk = vde_encr_slot_pos(bs, i, &off);
		vde_keyslot_decode((blk ? b1 : blocks) + off, &e->slots[i]);
	}
out_raw:
	e->start = first_block;
	e->block_size = bs;
	if (!raw) {
		raw = malloc((size_t)2 * bs);
		if (!raw)
			return -ENOMEM;
	}
	if (raw != blocks)
		memcpy(raw, blocks, (size_t)2 * bs);
	e->raw = raw;
	return 0;
}

void vde_encr_encode(const struct vde_encr *e, uint8_t *blocks)
{
	uint32_t bs = e->block_size;
	uint8_t active = VDE_ENCR_NO_SLOT, total = 0;
	unsigned int i, blk;
	uint8_t *p;
	size_t off;

	if (blocks != e->raw)
		memcpy(blocks, e->raw, (size_t)2 * bs);
	for (i = 0; i < VDE_ENCR_MAX_SLOTS; i++) {
		const struct vde_keyslot *s = &e->slots[i];

		blk = vde_encr_slot_pos(bs, i, &off);
		p = blocks + (size_t)blk * bs + off;
		if (s->status == VDE_KEYSLOT_EMPTY) {
			memset(p, 0, VDE_KEYSLOT_SIZE);
			continue;
		}
		vde_keyslot_encode(s, p);
		if (s->status != VDE_KEYSLOT_ACTIVE)
			continue;
		total++;
		if (active == VDE_ENCR_NO_SLOT)
			active = (uint8_t)i;
	}
	blocks[VDE_ENCR_OFF_ACTIVE_INDEX] = active;
	blocks[VDE_ENCR_OFF_TOTAL_ACTIVE] = total;
	vde_put_le16(blocks + VDE_ENCR_OFF_EVENT_COUNT, e->event_count);
	for (i = 0; i < VDE_ENCR_BLOCKS; i++)
		vde_trailer_seal(blocks + (size_t)i * bs, bs, VDE_TAG_ENCR,
				 VDE_ENCR_GENERATION);
}

void vde_encr_release(struct vde_encr *e)
{
	free(e->raw);
	e->raw = NULL;
}

/* ---- reading and writing an image's region -------------------------------- */

static int find_region(const struct vde_image *img, const struct vde_region **r,
		       struct vde_diag *diag)
{
	char v[VAL_LEN];

	*r = vde_image_find_region(img, "ENCR");
	if (!*r)
		return vde_diag_set(diag, -ENOENT, VDE_BLK_RD, -1, "RegionTypeId",
				    "", "the image has no ENCR (key slot) region");
	if ((*r)->count < VDE_ENCR_BLOCKS) {
		snprintf(v, sizeof(v), "%" PRIu64, (*r)->count);
		return vde_diag_set(diag, -EINVAL, VDE_BLK_RD, (int)(*r)->slot,
				    "BlockCount", v,
				    "the ENCR region needs %d blocks",
				    VDE_ENCR_BLOCKS);
	}
	return 0;
}

int vde_encr_read(const struct vde_image *img, struct vde_encr *e,
		  struct vde_diag *diag)
{
	uint32_t bs = img->block_size;
	const struct vde_region *r;
	uint8_t *buf;
	unsigned int i;
	int ret;

	ret = find_region(img, &r, diag);
	if (ret)
		return ret;
	buf = malloc((size_t)2 * bs);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < VDE_ENCR_BLOCKS; i++) {
		ret = vde_image_read_block(img, r->start + i, buf + (size_t)i * bs);
		if (ret) {
			vde_diag_set_role(diag, ret, (int64_t)(r->start + i),
					  encr_roles[i], -1, "read", "", "%s",
					  ret == -ENODATA ?
					  "the file ends before this block" :
					  strerror(-ret));
			goto out_free;
		}
	}
	ret = vde_encr_decode(buf, bs, r->start, e, diag);
out_free:
	free(buf);
	return ret;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	ssize_t n;

	while (len) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int vde_encr_write(const struct vde_image *img, struct vde_encr *e)
{
	size_t len = (size_t)2 * e->block_size;
	uint8_t *buf;
	int ret;

	if (img->read_only_forced)
		return -EROFS;
	if (e->block_size != img->block_size || !e->raw)
		return -EINVAL;
	if (e->start > ((uint64_t)INT64_MAX - img->base) / e->block_size - 2)
		return -ERANGE;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	vde_encr_encode(e, buf);
	ret = pwrite_all(img->fd, buf, len, img->base + e->start * e->block_size);
	if (!ret && fdatasync(img->fd) < 0)
		ret = -errno;
	if (!ret) {
		memcpy(e->raw, buf, len);
		e->blank = false;
		e->active_index = buf[VDE_ENCR_OFF_ACTIVE_INDEX];
		e->total_active = buf[VDE_ENCR_OFF_TOTAL_ACTIVE];
	}
	free(buf);
	return ret;
}

/* ---- slots ------------------------------------------------------------------ */

int vde_encr_unlock(const struct vde_encr *e, const void *pass, size_t passlen,
		    uint64_t fingerprint, uint8_t master[VDE_XTS_KEY_SIZE])
{
	bool any = false;
	unsigned int i;
	int ret;

	for (i = 0; i < VDE_ENCR_MAX_SLOTS; i++) {
		if (e->slots[i].status != VDE_KEYSLOT_ACTIVE)
			continue;
		any = true;
		ret = vde_keyslot_unwrap(&e->slots[i], pass, passlen,
					 fingerprint, master);
		if (!ret)
			return (int)i;
		/* A slot of another key, or with parameters vde cannot use. */
		if (ret != -EKEYREJECTED && ret != -EINVAL)
			return ret;
	}
	return any ? -EKEYREJECTED : -ENOKEY;
}

/* Does slot @i of the region on disk open with @pass, to @master? */
static int verify_on_disk(const struct vde_image *img, unsigned int i,
			  const uint8_t master[VDE_XTS_KEY_SIZE],
			  const void *pass, size_t passlen, struct vde_encr *now)
{
	uint8_t *key;
	int ret;

	ret = vde_encr_read(img, now, NULL);
	if (ret)
		return ret;
	key = vde_secure_alloc(VDE_XTS_KEY_SIZE);
	if (!key)
		return -ENOMEM;
	ret = vde_keyslot_unwrap(&now->slots[i], pass, passlen,
				 img->sb.key_fingerprint, key);
	if (!ret && memcmp(key, master, VDE_XTS_KEY_SIZE))
		ret = -EIO;
	vde_secure_free(key, VDE_XTS_KEY_SIZE);
	if (ret == -EKEYREJECTED || ret == -EINVAL)
		ret = -EIO;
	return ret;
}

/* Replace the region in memory with @from, keeping @e's buffer. */
static void take(struct vde_encr *e, struct vde_encr *from)
{
	uint8_t *raw = e->raw;

	memcpy(raw, from->raw, (size_t)2 * e->block_size);
	vde_encr_release(from);
	*e = *from;
	e->raw = raw;
}

int vde_encr_add(const struct vde_image *img, struct vde_encr *e,
		 const uint8_t master[VDE_XTS_KEY_SIZE], const void *pass,
		 size_t passlen, const struct vde_kdf *kdf, int64_t ticks)
{
	struct vde_keyslot old, *s;
	struct vde_encr now = { 0 };
	unsigned int i;
	uint64_t fp;
	int ret;

	ret = vde_key_fingerprint(master, &fp);
	if (ret)
		return ret;
	if (fp != img->sb.key_fingerprint)
		return -EKEYREJECTED;
	for (i = 0; i < VDE_ENCR_MAX_SLOTS; i++)
		if (e->slots[i].status == VDE_KEYSLOT_EMPTY)
			break;
	if (i == VDE_ENCR_MAX_SLOTS)
		return -ENOSPC;

	s = &e->slots[i];
	old = *s;
	memset(s, 0, sizeof(*s));
	s->slot_index = (uint8_t)i;
	s->created_ticks = ticks;
	ret = vde_keyslot_wrap(s, master, pass, passlen, kdf->algorithm,
			       kdf->iterations, kdf->log2_mem_kib);
	if (ret) {
		*s = old;
		return ret;
	}
	ret = vde_encr_write(img, e);
	if (ret) {
		*s = old;
		return ret;
	}
	ret = verify_on_disk(img, i, master, pass, passlen, &now);
	if (ret) {
		/* Put back what was there; the new slot is unusable. */
		*s = old;
		vde_encr_write(img, e);
		vde_encr_release(&now);
		return ret;
	}
	take(e, &now);
	return (int)i;
}

int vde_encr_remove(const struct vde_image *img, struct vde_encr *e,
		    unsigned int slot)
{
	struct vde_keyslot old;
	int ret;

	if (slot >= VDE_ENCR_MAX_SLOTS)
		return -EINVAL;
	if (e->slots[slot].status == VDE_KEYSLOT_EMPTY)
		return -ENOENT;
	if (e->slots[slot].status == VDE_KEYSLOT_ACTIVE &&
	    vde_encr_active_slots(e) == 1)
		return -EBUSY;
	old = e->slots[slot];
	memset(&e->slots[slot], 0, sizeof(e->slots[slot]));
	ret = vde_encr_write(img, e);
	if (ret)
		e->slots[slot] = old;
	vde_cleanse(&old, sizeof(old));
	return ret;
}

int vde_encr_change(const struct vde_image *img, struct vde_encr *e,
		    const uint8_t master[VDE_XTS_KEY_SIZE], unsigned int old_slot,
		    const void *pass, size_t passlen, const struct vde_kdf *kdf,
		    int64_t ticks)
{
	int slot, ret;

	if (old_slot >= VDE_ENCR_MAX_SLOTS ||
	    e->slots[old_slot].status != VDE_KEYSLOT_ACTIVE)
		return -ENOENT;
	slot = vde_encr_add(img, e, master, pass, passlen, kdf, ticks);
	if (slot < 0)
		return slot;
	ret = vde_encr_remove(img, e, old_slot);
	return ret ? ret : slot;
}

/* ---- key files -------------------------------------------------------------- */

int vde_key_file_write(const char *path, const uint8_t key[VDE_XTS_KEY_SIZE])
{
	size_t done = 0;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0)
		ret = -errno;
	while (!ret && done < VDE_XTS_KEY_SIZE) {
		n = write(fd, key + done, VDE_XTS_KEY_SIZE - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		else
			done += (size_t)n;
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (ret)
		unlink(path);
	return ret;
}
