// SPDX-License-Identifier: GPL-2.0
/*
 * Power-cut consistency: write records to a block device, acknowledge
 * them with a flush, and after the machine lost power, check that every
 * acknowledged record survived.
 *
 *   vde_powercut write -d DEV -s SEED -l LOG [-o FIRST -n COUNT] [-m MARKER]
 *                      [-t SECS] [-F] [-N]
 *   vde_powercut check -d DEV -s SEED -l LOG [-o FIRST -n COUNT] [-F]
 *
 * write first fills every 4 KiB block with a record of sequence number 0,
 * flushes and logs "D 0".  It then writes extents of 1 to 16 blocks whose
 * place and length follow from (SEED, seq), and every 1 to MAXK writes
 * flushes (fdatasync, a REQ_PREFLUSH for the device) and appends "D seq"
 * to LOG: all writes up to seq are acknowledged as durable.  After 20
 * acknowledgements it creates MARKER (the cue for the power cut).  It runs
 * until killed, or for SECS seconds.
 *
 * check reads LOG's last acknowledged seq D and every block of DEV.  Each
 * block must hold a whole record (magic, seed, its own block number, the
 * fill of its seq) of a seq that covers the block and was issued (at most
 * D + MAXK), no older than the last write up to D that covered the block.
 * Anything else is a lost acknowledged write or a torn block; check prints
 * each (up to 20) and exits 1.  -o and -n limit both to COUNT blocks from
 * block FIRST (block numbers in records are relative to FIRST).  -F skips
 * O_DIRECT (for regular files on file systems without it).  -N makes write
 * acknowledge without flushing: the negative control, whose writes a power
 * cut is expected to lose.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BS		4096u
#define MAX_EXT		16u
#define MAXK		32u
#define MAGIC		0x7664652d70637574ull	/* "vde-pcut" */
#define MARK_AFTER	20u
#define WORDS		(BS / 8)

static uint64_t seed;
static uint64_t nblocks;	/* blocks in the window */
static uint64_t first;		/* the window's first block */
static uint64_t count;		/* -n, or 0 for the whole device */
static bool no_flush;		/* -N */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vde_powercut: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The extent written by @seq (seq 0 is the whole-device fill). */
static void extent(uint64_t seq, uint64_t *start, uint64_t *len)
{
	uint64_t r = mix(seed ^ mix(seq));

	*len = 1 + r % MAX_EXT;
	if (*len > nblocks)
		*len = nblocks;
	*start = (r >> 8) % (nblocks - *len + 1);
}

/* How many writes go between two flushes, after the flush that ended @seq. */
static uint64_t flush_gap(uint64_t seq)
{
	return 1 + mix(seed ^ 0x5eed ^ mix(seq)) % MAXK;
}

static void fill(uint64_t *w, uint64_t seq, uint64_t block)
{
	uint64_t x = mix(seed ^ (seq << 24) ^ block);

	w[0] = MAGIC;
	w[1] = seed;
	w[2] = seq;
	w[3] = block;
	for (unsigned int i = 4; i < WORDS; i++)
		w[i] = x = mix(x);
}

static int open_dev(const char *path, bool no_direct, int flags)
{
	struct stat st;
	int fd;

	fd = open(path, flags | (no_direct ? 0 : O_DIRECT));
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (fstat(fd, &st))
		die("stat %s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes;

		if (ioctl(fd, BLKGETSIZE64, &bytes))
			die("BLKGETSIZE64 %s: %s", path, strerror(errno));
		nblocks = bytes / BS;
	} else {
		nblocks = st.st_size / BS;
	}
	if (first + count > nblocks || (!count && first >= nblocks))
		die("%s: blocks %" PRIu64 "+%" PRIu64 " are beyond its %" PRIu64,
		    path, first, count, nblocks);
	nblocks = count ? count : nblocks - first;
	if (nblocks < MAX_EXT)
		die("%s: %" PRIu64 " blocks is too small", path, nblocks);
	return fd;
}

static void ack(int log, uint64_t seq)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "D %" PRIu64 "\n", seq);

	if (write(log, line, n) != n)
		die("log write: %s", strerror(errno));
}

static void pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n = pwrite(fd, buf, len, off + first * BS);

	if (n != (ssize_t)len)
		die("write of %zu bytes at %" PRIu64 ": %s", len, off,
		    n < 0 ? strerror(errno) : "short write");
}

static void sync_dev(int fd)
{
	if (!no_flush && fdatasync(fd))
		die("fdatasync: %s", strerror(errno));
}

static int do_write(const char *dev, const char *logp, const char *marker,
		    unsigned int secs, bool no_direct)
{
	uint64_t *buf, seq, next_flush, acks = 0;
	int fd, log;
	time_t end = secs ? time(NULL) + secs : 0;

	fd = open_dev(dev, no_direct, O_RDWR);
	log = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (log < 0)
		die("open %s: %s", logp, strerror(errno));
	buf = aligned_alloc(BS, MAX_EXT * BS);
	if (!buf)
		die("out of memory");

	/* Seq 0: every block gets a record, so that check needs no zeros. */
	for (uint64_t b = 0; b < nblocks; b += MAX_EXT) {
		uint64_t n = nblocks - b < MAX_EXT ? nblocks - b : MAX_EXT;

		for (uint64_t i = 0; i < n; i++)
			fill(buf + i * WORDS, 0, b + i);
		pwrite_all(fd, buf, n * BS, b * BS);
	}
	sync_dev(fd);
	ack(log, 0);
	printf("# filled %" PRIu64 " blocks\n", nblocks);
	fflush(stdout);

	next_flush = flush_gap(0);
	for (seq = 1; !end || time(NULL) < end; seq++) {
		uint64_t start, len;

		extent(seq, &start, &len);
		for (uint64_t i = 0; i < len; i++)
			fill(buf + i * WORDS, seq, start + i);
		pwrite_all(fd, buf, len * BS, start * BS);
		if (seq < next_flush)
			continue;
		sync_dev(fd);
		ack(log, seq);
		next_flush = seq + flush_gap(seq);
		if (++acks == MARK_AFTER && marker) {
			int m = open(marker, O_WRONLY | O_CREAT, 0644);

			if (m < 0)
				die("open %s: %s", marker, strerror(errno));
			close(m);
		}
	}
	sync_dev(fd);
	ack(log, seq - 1);
	printf("# wrote %" PRIu64 " extents, %" PRIu64 " acknowledged flushes\n",
	       seq - 1, acks);
	close(log);
	close(fd);
	free(buf);
	return 0;
}

/* The last acknowledged seq in @logp; a torn last line is ignored. */
static uint64_t durable_seq(const char *logp)
{
	FILE *f = fopen(logp, "r");
	char line[64];
	uint64_t d = 0, v;
	bool any = false;

	if (!f)
		die("open %s: %s", logp, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n') || sscanf(line, "D %" SCNu64, &v) != 1)
			continue;
		if (v < d)
			die("%s: acknowledgements go backwards (%" PRIu64
			    " after %" PRIu64 ")", logp, v, d);
		d = v;
		any = true;
	}
	fclose(f);
	if (!any)
		die("%s: no acknowledgement at all", logp);
	return d;
}

static bool covers(uint64_t seq, uint64_t block)
{
	uint64_t start, len;

	if (seq == 0)
		return true;
	extent(seq, &start, &len);
	return block >= start && block < start + len;
}

static int do_check(const char *dev, const char *logp, bool no_direct)
{
	uint64_t d, *last, *buf, *want, newer = 0, bad = 0;
	int fd;

	fd = open_dev(dev, no_direct, O_RDONLY);
	d = durable_seq(logp);
	last = calloc(nblocks, sizeof(*last));
	buf = aligned_alloc(BS, 256 * BS);
	want = malloc(BS);
	if (!last || !buf || !want)
		die("out of memory");
	for (uint64_t s = 1; s <= d; s++) {
		uint64_t start, len;

		extent(s, &start, &len);
		for (uint64_t i = 0; i < len; i++)
			last[start + i] = s;
	}

	for (uint64_t b0 = 0; b0 < nblocks; b0 += 256) {
		uint64_t n = nblocks - b0 < 256 ? nblocks - b0 : 256;
		ssize_t got = pread(fd, buf, n * BS, (first + b0) * BS);

		if (got != (ssize_t)(n * BS))
			die("read at block %" PRIu64 ": %s", b0,
			    got < 0 ? strerror(errno) : "short read");
		for (uint64_t i = 0; i < n; i++) {
			uint64_t *w = buf + i * WORDS, b = b0 + i, s = w[2];
			const char *why = NULL;

			if (w[0] != MAGIC || w[1] != seed || w[3] != b)
				why = "holds no record of its own";
			else if (s > d + MAXK || !covers(s, b))
				why = "holds a seq that never wrote it";
			else if (s < last[b])
				why = "lost an acknowledged write";
			if (!why) {
				fill(want, s, b);
				if (memcmp(w, want, BS))
					why = "holds a torn or corrupt record";
			}
			if (why) {
				if (bad++ < 20)
					printf("# block %" PRIu64 " %s (seq %" PRIu64
					       ", last acknowledged %" PRIu64 ")\n",
					       b, why, w[0] == MAGIC ? s : 0, last[b]);
				continue;
			}
			newer += s > last[b];
		}
	}
	printf("# %" PRIu64 " blocks, acknowledged up to seq %" PRIu64
	       ", %" PRIu64 " blocks hold later unacknowledged writes, %" PRIu64
	       " bad\n", nblocks, d, newer, bad);
	free(want);
	free(buf);
	free(last);
	close(fd);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *logp = NULL, *marker = NULL, *mode;
	unsigned int secs = 0;
	bool no_direct = false, have_seed = false;
	int c;

	if (argc < 2)
		die("usage: vde_powercut write|check -d DEV -s SEED -l LOG [-o FIRST -n COUNT] [-m MARKER] [-t SECS] [-F] [-N]");
	mode = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "d:s:l:m:o:n:t:FN")) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 0); have_seed = true; break;
		case 'l': logp = optarg; break;
		case 'm': marker = optarg; break;
		case 'o': first = strtoull(optarg, NULL, 0); break;
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 't': secs = strtoul(optarg, NULL, 0); break;
		case 'F': no_direct = true; break;
		case 'N': no_flush = true; break;
		default: die("unknown option");
		}
	}
	if (!dev || !logp || !have_seed)
		die("-d, -s and -l are required");
	if (!strcmp(mode, "write"))
		return do_write(dev, logp, marker, secs, no_direct);
	if (!strcmp(mode, "check"))
		return do_check(dev, logp, no_direct);
	die("unknown mode %s", mode);
}
