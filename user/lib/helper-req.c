// SPDX-License-Identifier: GPL-2.0
/*
 * libvde helper: serving one request of /dev/vdecN.
 *
 * A request covers one or more extents of the region map.  Plain extents
 * are copied as they are, encrypted ones are decrypted after reading and
 * encrypted before writing (AES-256-XTS, 4096-byte data units, in place
 * in the tag's buffer), hidden ones read as zeros and refuse writes.  The
 * backing-file I/O is yielded step by step, so that the io_uring backend
 * can run the steps asynchronously and the thread pool synchronously.
 *
 * With 512-byte logical blocks a request may start or end inside an
 * encrypted 4096-byte unit.  Such a partial unit is read whole into the
 * request's own memory and decrypted; a read copies its bytes out, a write
 * lays its bytes over it, encrypts it again and writes it whole.  Writes
 * hold their partial units against each other (any queue's thread) from
 * before the read until after the write, so that two writes of different
 * sectors of one unit never lose each other's data.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "helper.h"

#define UNIT		((uint64_t)VDE_XTS_UNIT_SIZE)
#define XTS_MASK	(UNIT - 1)

/* One extent of a request: bytes [pos, pos + len) of it, all of @flags. */
struct seg {
	uint64_t pos;
	uint64_t len;
	uint32_t flags;
};

bool vde_hgeom_encrypted(const struct vde_hgeom *g)
{
	unsigned int i;

	for (i = 0; i < g->nr_regions; i++)
		if (g->regions[i].flags & VDE_REGION_ENCRYPTED)
			return true;
	return false;
}

/* The region map entry holding device byte @off (binary search). */
static const struct vde_region_entry *region_at(const struct vde_hgeom *g,
						uint64_t off)
{
	uint64_t block = off / g->block_size;
	unsigned int lo = 0, hi = g->nr_regions;

	while (hi - lo > 1) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (g->regions[mid].first_block <= block)
			lo = mid;
		else
			hi = mid;
	}
	return &g->regions[lo];
}

/* The extent of @r that starts at request byte @pos. */
static void seg_at(const struct vde_hgeom *g, const struct vde_req *r,
		   uint64_t pos, struct seg *s)
{
	const struct vde_region_entry *e = region_at(g, r->d.offset + pos);
	uint64_t end = (e->first_block + e->nr_blocks) * g->block_size;

	s->pos = pos;
	s->flags = e->flags;
	s->len = end - (r->d.offset + pos);
	if (s->len > r->d.nr_bytes - pos)
		s->len = r->d.nr_bytes - pos;
}

/* The first extent of @r, or the one after @s; false past the end. */
static bool seg_next(const struct vde_hgeom *g, const struct vde_req *r,
		     struct seg *s, bool first)
{
	uint64_t pos = first ? 0 : s->pos + s->len;

	if (pos >= r->d.nr_bytes)
		return false;
	seg_at(g, r, pos, s);
	return true;
}

/* Every extent of request @r, in order, in *@s. */
#define for_each_seg(g, r, s) \
	for (bool _first = true; seg_next(g, r, s, _first); _first = false)

static bool op_writes(uint8_t op)
{
	return op == VDE_IO_OP_WRITE || op == VDE_IO_OP_DISCARD ||
	       op == VDE_IO_OP_WRITE_ZEROES;
}

/* Is device byte @off in an encrypted extent? */
static bool enc_at(const struct vde_hgeom *g, uint64_t off)
{
	uint32_t f = region_at(g, off)->flags;

	return (f & (VDE_REGION_ENCRYPTED | VDE_REGION_HIDDEN)) ==
	       VDE_REGION_ENCRYPTED;
}

/*
 * Partial units held by writes in progress, over all queues' threads.  A
 * write that finds one of its units held waits (%VDE_STEP_WAIT) and tries
 * again; it never blocks its thread, which may be serving the holder.
 */
#define RMW_SLOTS	256
static pthread_mutex_t rmw_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const struct vde_hgeom *g;
	uint64_t unit;
} rmw_busy[RMW_SLOTS];
static unsigned int rmw_nr;

static bool rmw_held(const struct vde_hgeom *g, uint64_t unit)
{
	unsigned int i;

	for (i = 0; i < rmw_nr; i++)
		if (rmw_busy[i].g == g && rmw_busy[i].unit == unit)
			return true;
	return false;
}

/* Take every partial unit of @r, or none. */
static bool rmw_lock(struct vde_req *r)
{
	unsigned int i;
	bool ok;

	pthread_mutex_lock(&rmw_mutex);
	ok = rmw_nr + r->nr_units <= RMW_SLOTS;
	for (i = 0; ok && i < r->nr_units; i++)
		ok = !rmw_held(r->g, r->units[i]);
	for (i = 0; ok && i < r->nr_units; i++)
		rmw_busy[rmw_nr++] = (typeof(rmw_busy[0])){ r->g, r->units[i] };
	pthread_mutex_unlock(&rmw_mutex);
	r->locked = ok;
	return ok;
}

static void rmw_unlock(struct vde_req *r)
{
	unsigned int i, j;

	pthread_mutex_lock(&rmw_mutex);
	for (i = 0; i < r->nr_units; i++) {
		for (j = 0; j < rmw_nr; j++) {
			if (rmw_busy[j].g == r->g && rmw_busy[j].unit == r->units[i]) {
				rmw_busy[j] = rmw_busy[--rmw_nr];
				break;
			}
		}
	}
	pthread_mutex_unlock(&rmw_mutex);
	r->locked = false;
}

/*
 * Find a READ's or WRITE's partial units (at most one at each end: extent
 * boundaries are 4096-byte aligned) and the part [mid, end) of the request
 * served in the tag's buffer.
 */
static int plan_units(const struct vde_hgeom *g, struct vde_req *r)
{
	uint64_t off = r->d.offset, end = off + r->d.nr_bytes;
	uint64_t head = off & ~XTS_MASK, tail = (end - 1) & ~XTS_MASK;

	/* vde_req_init() left [mid, end) the whole request. */
	if (!r->d.nr_bytes)
		return 0;
	if ((off & XTS_MASK) && enc_at(g, off)) {
		r->units[r->nr_units++] = head;
		r->mid = (head + UNIT < end ? head + UNIT : end) - off;
	}
	if ((end & XTS_MASK) && enc_at(g, end - 1)) {
		if (!r->nr_units || tail != head)
			r->units[r->nr_units++] = tail;
		r->end = tail > off ? tail - off : 0;
	}
	if (r->end < r->mid)
		r->end = r->mid;
	r->pos = r->mid;
	if (r->nr_units &&
	    posix_memalign((void **)&r->rmw, UNIT, r->nr_units * UNIT))
		return -ENOMEM;
	return 0;
}

/* Is the request acceptable?  0 or the errno to fail it with. */
static int req_check(const struct vde_hgeom *g, struct vde_xts *x,
		     const struct vde_req *r)
{
	const struct vde_io_desc *d = &r->d;
	struct seg s;

	if (d->op > VDE_IO_OP_WRITE_ZEROES)
		return -EOPNOTSUPP;
	if (op_writes(d->op) && (g->flags & VDE_DEV_READ_ONLY))
		return -EROFS;
	if (d->op == VDE_IO_OP_FLUSH)
		return 0;
	if (d->offset > g->dev_bytes || d->nr_bytes > g->dev_bytes - d->offset)
		return -EINVAL;
	if ((d->op == VDE_IO_OP_READ || d->op == VDE_IO_OP_WRITE) &&
	    d->nr_bytes > g->buf_size)
		return -EINVAL;
	for_each_seg(g, r, &s) {
		if ((s.flags & VDE_REGION_HIDDEN) && op_writes(d->op))
			return -EPERM;
		if (!(s.flags & VDE_REGION_ENCRYPTED) ||
		    d->op == VDE_IO_OP_DISCARD)
			continue;
		/* Zeroing part of a unit would need a read-modify-write:
		 * the block layer then writes zeros instead.
		 */
		if (d->op == VDE_IO_OP_WRITE_ZEROES &&
		    ((d->offset + s.pos) & XTS_MASK || s.len & XTS_MASK))
			return -EOPNOTSUPP;
		if (!x)
			return -ENOKEY;
	}
	return 0;
}

void vde_req_init(struct vde_req *r, const struct vde_io_desc *d, uint8_t *buf)
{
	memset(r, 0, sizeof(*r));
	r->d = *d;
	r->buf = buf;
	r->end = d->nr_bytes;
}

static bool finish(struct vde_req *r, int32_t result)
{
	if (r->locked)
		rmw_unlock(r);
	free(r->rmw);
	r->rmw = NULL;
	r->result = result;
	r->done = true;
	return false;
}

/* Encrypt or decrypt @len bytes of the buffer at request byte @pos. */
static int crypt_at(const struct vde_hgeom *g, struct vde_xts *x,
		    struct vde_req *r, uint64_t pos, uint64_t len, bool encrypt)
{
	uint64_t vde_off = g->vde_base + r->d.offset + pos;
	uint8_t *p = r->buf + pos;

	return vde_xts_team_crypt(g->team, x, vde_off, p, len, encrypt);
}

/*
 * Decrypt a read's encrypted extents, or encrypt a write's, in place in the
 * tag's buffer: the whole units, in [mid, end).
 */
static int crypt_all(const struct vde_hgeom *g, struct vde_xts *x,
		     struct vde_req *r, bool encrypt)
{
	uint64_t a, b;
	struct seg s;
	int ret;

	for_each_seg(g, r, &s) {
		if (s.flags & VDE_REGION_HIDDEN) {
			memset(r->buf + s.pos, 0, s.len);
		} else if (s.flags & VDE_REGION_ENCRYPTED) {
			a = s.pos > r->mid ? s.pos : r->mid;
			b = s.pos + s.len < r->end ? s.pos + s.len : r->end;
			if (a >= b)
				continue;
			ret = crypt_at(g, x, r, a, b - a, encrypt);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * Partial unit @i, read whole: decrypt it, then for a read copy the
 * request's bytes out of it; for a write lay them over it and encrypt it.
 */
static int unit_apply(const struct vde_hgeom *g, struct vde_xts *x,
		      struct vde_req *r, unsigned int i, bool write)
{
	uint8_t *u = r->rmw + i * UNIT;
	uint64_t uoff = r->units[i], off = r->d.offset;
	uint64_t end = off + r->d.nr_bytes;
	uint64_t a = uoff > off ? uoff : off;
	uint64_t b = uoff + UNIT < end ? uoff + UNIT : end;
	int ret;

	ret = vde_xts_decrypt(x, g->vde_base + uoff, u, u, UNIT);
	if (ret)
		return ret;
	if (!write) {
		memcpy(r->buf + (a - off), u + (a - uoff), b - a);
		return 0;
	}
	memcpy(u + (a - uoff), r->buf + (a - off), b - a);
	return vde_xts_encrypt(x, g->vde_base + uoff, u, u, UNIT);
}

/*
 * Set up a read or write of @len bytes of @buf at backing file offset @off;
 * @own_buf: @buf is the request's own memory, not the tag's buffer.
 */
static void step_io(const struct vde_hgeom *g, struct vde_req *r,
		    enum vde_step_op op, uint64_t off, uint64_t len,
		    uint8_t *buf, bool own_buf)
{
	struct vde_step *s = &r->step;
	uint64_t a = g->dio_align;

	s->op = op;
	s->off = off;
	s->len = len;
	s->buf = buf;
	s->dsync = op == VDE_STEP_WRITE && (r->d.flags & VDE_IO_F_FUA);
	s->direct = a && !((s->off | s->len | (uintptr_t)buf) & (a - 1));
	s->own_buf = own_buf;
	s->mode = 0;
}

/* Set up a read or write of @len bytes of @buf at request byte @pos. */
static void step_rw(const struct vde_hgeom *g, struct vde_req *r,
		    enum vde_step_op op, uint64_t pos, uint64_t len,
		    uint8_t *buf)
{
	step_io(g, r, op, g->data_offset + r->d.offset + pos, len, buf, false);
}

/* Set up a read or write of partial unit @i, whole, in the request's memory. */
static void step_unit(const struct vde_hgeom *g, struct vde_req *r,
		      enum vde_step_op op, unsigned int i)
{
	step_io(g, r, op, g->data_offset + r->units[i], UNIT,
		r->rmw + i * UNIT, true);
}

static void step_other(struct vde_req *r, enum vde_step_op op, int mode,
		       uint64_t off, uint64_t len, bool dsync)
{
	r->step = (struct vde_step){
		.op = op, .mode = mode, .off = off, .len = len, .dsync = dsync,
	};
}

/*
 * The next step of a READ or WRITE: [mid, end) in one step from the tag's
 * buffer; partial units read before a write is prepared, or after a
 * read's buffer part, and written after a write's buffer part.
 */
static bool next_rw(const struct vde_hgeom *g, struct vde_xts *x,
		    struct vde_req *r)
{
	bool rd = r->d.op == VDE_IO_OP_READ;
	unsigned int i;
	int ret = 0;

	/* Writes never reach hidden extents: req_check() refused them. */
	if (!rd && !r->prepared) {
		if (r->nr_units && !r->locked && !rmw_lock(r)) {
			step_other(r, VDE_STEP_WAIT, 0, 0, 0, false);
			return true;
		}
		if (r->unit_steps < r->nr_units) {
			step_unit(g, r, VDE_STEP_READ, r->unit_steps);
			return true;
		}
		for (i = 0; !ret && i < r->nr_units; i++)
			ret = unit_apply(g, x, r, i, true);
		if (!ret)
			ret = crypt_all(g, x, r, true);
		if (ret)
			return finish(r, ret);
		r->prepared = true;
	}
	if (r->pos < r->end) {
		step_rw(g, r, rd ? VDE_STEP_READ : VDE_STEP_WRITE, r->pos,
			r->end - r->pos, r->buf + r->pos);
		return true;
	}
	if (r->unit_steps < r->nr_units) {
		step_unit(g, r, VDE_STEP_READ, r->unit_steps);
		return true;
	}
	if (!rd && r->unit_steps < 2 * r->nr_units) {
		step_unit(g, r, VDE_STEP_WRITE, r->unit_steps - r->nr_units);
		return true;
	}
	if (rd) {
		ret = crypt_all(g, x, r, false);
		for (i = 0; !ret && i < r->nr_units; i++)
			ret = unit_apply(g, x, r, i, false);
	}
	return finish(r, ret ? ret : (int32_t)r->d.nr_bytes);
}

/*
 * The next step of a write-zeroes: plain extents are zeroed with
 * fallocate(2) (or by writing zeros once it refused), encrypted ones by
 * writing encrypted zeros, a buffer at a time from the buffer's start.
 */
static bool next_zeroes(const struct vde_hgeom *g, struct vde_xts *x,
			struct vde_req *r)
{
	int mode = FALLOC_FL_KEEP_SIZE;
	struct seg s;
	int ret;

	seg_at(g, r, r->pos, &s);
	if (!(s.flags & VDE_REGION_ENCRYPTED) && !r->zero_fill) {
		mode |= r->d.flags & VDE_IO_F_NOUNMAP ? FALLOC_FL_ZERO_RANGE :
							FALLOC_FL_PUNCH_HOLE;
		step_other(r, VDE_STEP_FALLOCATE, mode,
			   g->data_offset + r->d.offset + s.pos, s.len, false);
		return true;
	}
	if (s.len > g->buf_size)
		s.len = g->buf_size;
	memset(r->buf, 0, s.len);
	if (s.flags & VDE_REGION_ENCRYPTED) {
		ret = vde_xts_encrypt(x, g->vde_base + r->d.offset + s.pos,
				      r->buf, r->buf, s.len);
		if (ret)
			return finish(r, ret);
	}
	step_rw(g, r, VDE_STEP_WRITE, s.pos, s.len, r->buf);
	return true;
}

bool vde_req_next(const struct vde_hgeom *g, struct vde_xts *x,
		  struct vde_req *r)
{
	int ret;

	if (r->done)
		return false;
	if (!r->checked) {
		r->checked = true;
		ret = req_check(g, x, r);
		r->g = g;
		if (!ret && (r->d.op == VDE_IO_OP_READ ||
			     r->d.op == VDE_IO_OP_WRITE))
			ret = plan_units(g, r);
		if (ret)
			return finish(r, ret);
	}
	switch (r->d.op) {
	case VDE_IO_OP_READ:
	case VDE_IO_OP_WRITE:
		return next_rw(g, x, r);
	case VDE_IO_OP_FLUSH:
		if (r->synced)
			return finish(r, (int32_t)r->d.nr_bytes);
		step_other(r, VDE_STEP_FSYNC, 0, 0, 0, false);
		return true;
	case VDE_IO_OP_DISCARD:
		if (r->pos < r->d.nr_bytes) {
			/* Never a hole in part of an encrypted unit: the
			 * rest of the unit would no longer decrypt.
			 */
			uint64_t a = r->d.offset, b = a + r->d.nr_bytes;

			if ((a & XTS_MASK) && enc_at(g, a))
				a = (a | XTS_MASK) + 1;
			if ((b & XTS_MASK) && enc_at(g, b - 1))
				b &= ~XTS_MASK;
			if (a >= b) {
				r->pos = r->d.nr_bytes;
				break;
			}
			step_other(r, VDE_STEP_FALLOCATE,
				   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   g->data_offset + a, b - a, false);
			return true;
		}
		break;
	default:
		if (r->pos < r->d.nr_bytes)
			return next_zeroes(g, x, r);
		break;
	}
	/* A FUA discard or write-zeroes ends with an fdatasync. */
	if ((r->d.flags & VDE_IO_F_FUA) && !r->synced) {
		step_other(r, VDE_STEP_FSYNC, 0, 0, 0, true);
		return true;
	}
	return finish(r, (int32_t)r->d.nr_bytes);
}

void vde_req_done(struct vde_req *r, long res)
{
	const struct vde_step *s = &r->step;

	if (s->op == VDE_STEP_WAIT)
		return;
	if (s->own_buf) {
		if (res == (long)UNIT)
			r->unit_steps++;
		else
			finish(r, res < 0 ? (int32_t)res : -EIO);
		return;
	}
	if (s->op == VDE_STEP_FSYNC)
		r->synced = true;
	/* Writing zeros is as good where fallocate(2) cannot zero. */
	if (s->op == VDE_STEP_FALLOCATE && res == -EOPNOTSUPP &&
	    r->d.op == VDE_IO_OP_WRITE_ZEROES) {
		r->zero_fill = true;
		return;
	}
	if (res < 0) {
		finish(r, (int32_t)res);
		return;
	}
	if (s->op == VDE_STEP_FSYNC)
		return;
	if (s->op == VDE_STEP_FALLOCATE) {
		/* A discard is one step, however much it left out. */
		r->pos = r->d.op == VDE_IO_OP_DISCARD ? r->d.nr_bytes :
							r->pos + s->len;
		return;
	}
	/*
	 * Zero bytes is the end of the file: never a short success.  A short
	 * read or write is continued, but a chunk of zeros is written whole.
	 */
	if (!res || (r->d.op == VDE_IO_OP_WRITE_ZEROES &&
		     (uint64_t)res != s->len)) {
		finish(r, -EIO);
		return;
	}
	r->pos += (uint64_t)res;
}

long vde_step_run(const struct vde_step *s, int fd_direct, int fd)
{
	struct iovec iov = { .iov_base = s->buf, .iov_len = s->len };
	int use = s->direct && fd_direct >= 0 ? fd_direct : fd;
	long ret;

	switch (s->op) {
	case VDE_STEP_READ:
		ret = preadv2(use, &iov, 1, (off_t)s->off, 0);
		break;
	case VDE_STEP_WRITE:
		ret = pwritev2(use, &iov, 1, (off_t)s->off,
			       s->dsync ? RWF_DSYNC : 0);
		break;
	case VDE_STEP_FSYNC:
		ret = s->dsync ? fdatasync(fd) : fsync(fd);
		break;
	case VDE_STEP_WAIT:
		ret = nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
		break;
	default:
		ret = fallocate(fd, s->mode, (off_t)s->off, (off_t)s->len);
		break;
	}
	return ret < 0 ? -errno : ret;
}

int32_t vde_req_serve(const struct vde_hgeom *g, struct vde_xts *x,
		      int fd_direct, int fd, const struct vde_io_desc *d,
		      uint8_t *buf)
{
	struct vde_req r;
	long res;

	vde_req_init(&r, d, buf);
	while (vde_req_next(g, x, &r)) {
		do {
			res = vde_step_run(&r.step, fd_direct, fd);
		} while (res == -EINTR);
		vde_req_done(&r, res);
	}
	return r.result;
}
