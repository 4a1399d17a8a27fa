// SPDX-License-Identifier: GPL-2.0
/*
 * vdetest: attach any file as a vde device with an explicit region map,
 * for selftests that need no VDE image.
 *
 *   vdetest add FILE [-r] [-b BLOCK_SIZE] [-l LOGICAL] [-o OFFSET_BLOCKS]
 *                    [-n NR_BLOCKS] [-m FIRST:COUNT:FLAGS,...] [-i INDEX]
 *                    [-q QUEUES] [-d DEPTH] [-V] [-H] [-S]
 *       prints the index of the device; -V: via helper, -H: hold requests
 *       while no helper, -S: add only, do not start
 *   vdetest start INDEX
 *   vdetest remove INDEX [-f]
 *   vdetest info INDEX
 *   vdetest churn ROUNDS FILE...
 *       attach every FILE, then detach them all, ROUNDS times, in one process
 *
 * FLAGS of a map entry: p (plain), e (encrypted), h (hidden).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vde.h>

static int ctl(void)
{
	int fd = open("/dev/" VDE_CONTROL_NAME, O_RDWR);

	if (fd < 0) {
		perror("open /dev/vde-control");
		exit(1);
	}
	return fd;
}

static int parse_map(char *spec, struct vde_region_entry *map)
{
	char *tok, *save = NULL;
	int n = 0;

	for (tok = strtok_r(spec, ",", &save); tok && n < VDE_MAX_REGIONS;
	     tok = strtok_r(NULL, ",", &save), n++) {
		unsigned long long first, count;
		char kind;

		if (sscanf(tok, "%llu:%llu:%c", &first, &count, &kind) != 3)
			return -1;
		map[n].first_block = first;
		map[n].nr_blocks = count;
		map[n].flags = kind == 'e' ? VDE_REGION_ENCRYPTED :
			       kind == 'h' ? VDE_REGION_HIDDEN : 0;
	}
	return n;
}

static int cmd_add(int argc, char **argv)
{
	static struct vde_region_entry map[VDE_MAX_REGIONS];
	struct vde_dev_add add = { .size = sizeof(add) };
	struct vde_dev_cmd dc = { .size = sizeof(dc) };
	unsigned long long off = 0, nr = 0;
	char *spec = NULL;
	int fd, cfd, c, nmap, nostart = 0;
	struct stat st;

	add.block_size = 4096;
	add.logical_block_size = 4096;
	add.index = VDE_INDEX_ANY;
	optind = 2;
	while ((c = getopt(argc, argv, "rb:l:o:n:m:i:q:d:VHS")) != -1) {
		switch (c) {
		case 'r': add.flags |= VDE_DEV_READ_ONLY; break;
		case 'V': add.flags |= VDE_DEV_VIA_HELPER; break;
		case 'H': add.flags |= VDE_DEV_HELPER_HOLD; break;
		case 'S': nostart = 1; break;
		case 'q': add.nr_hw_queues = strtoul(optarg, NULL, 0); break;
		case 'd': add.queue_depth = strtoul(optarg, NULL, 0); break;
		case 'b': add.block_size = strtoul(optarg, NULL, 0); break;
		case 'l': add.logical_block_size = strtoul(optarg, NULL, 0); break;
		case 'o': off = strtoull(optarg, NULL, 0); break;
		case 'n': nr = strtoull(optarg, NULL, 0); break;
		case 'm': spec = optarg; break;
		case 'i': add.index = atoi(optarg); break;
		default: return 2;
		}
	}
	if (optind != argc - 1)
		return 2;
	fd = open(argv[optind], add.flags & VDE_DEV_READ_ONLY ? O_RDONLY : O_RDWR);
	if (fd < 0 || fstat(fd, &st)) {
		perror(argv[optind]);
		return 1;
	}
	if (!nr)
		nr = st.st_size / add.block_size - off;
	if (spec) {
		nmap = parse_map(spec, map);
		if (nmap < 1) {
			fprintf(stderr, "bad map\n");
			return 2;
		}
	} else {
		map[0].nr_blocks = nr;
		nmap = 1;
	}
	add.backing_fd = fd;
	add.data_offset = off * add.block_size;
	add.nr_blocks = nr;
	add.nr_regions = nmap;
	add.regions = (unsigned long)map;
	memset(add.uuid, 0xab, sizeof(add.uuid));
	cfd = ctl();
	if (ioctl(cfd, VDE_CTL_ADD, &add)) {
		fprintf(stderr, "ADD: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	dc.index = add.index;
	if (!nostart && ioctl(cfd, VDE_CTL_START, &dc)) {
		fprintf(stderr, "START: %s\n", strerror(errno));
		return 1;
	}
	printf("%d\n", add.index);
	return 0;
}

/* vdetest start|remove INDEX [-f] */
static int cmd_dev(int argc, char **argv, unsigned long req, const char *name)
{
	struct vde_dev_cmd dc = { .size = sizeof(dc) };

	if (argc < 3)
		return 2;
	dc.index = atoi(argv[2]);
	if (argc > 3 && !strcmp(argv[3], "-f"))
		dc.flags = VDE_REMOVE_FORCE;
	if (ioctl(ctl(), req, &dc)) {
		fprintf(stderr, "%s: %s\n", name, strerror(errno));
		return 1;
	}
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	struct vde_dev_info info = { .size = sizeof(info) };

	if (argc < 3)
		return 2;
	info.index = atoi(argv[2]);
	if (ioctl(ctl(), VDE_CTL_GET_INFO, &info)) {
		fprintf(stderr, "GET_INFO: %s\n", strerror(errno));
		return 1;
	}
	printf("state %u flags %u blocks %llu block_size %u lbs %u queues %u depth %u regions %u open %u\n",
	       info.state, info.flags, (unsigned long long)info.nr_blocks,
	       info.block_size, info.logical_block_size, info.nr_hw_queues,
	       info.queue_depth, info.nr_regions, info.open_count);
	return 0;
}

static int cmd_churn(int argc, char **argv)
{
	struct vde_region_entry map = { 0 };
	int nfiles = argc - 3, rounds, r, i, cfd = ctl();
	int fds[64], idx[64];
	struct stat st;

	if (argc < 4 || nfiles > 64)
		return 2;
	rounds = atoi(argv[2]);
	for (i = 0; i < nfiles; i++) {
		fds[i] = open(argv[3 + i], O_RDWR);
		if (fds[i] < 0 || fstat(fds[i], &st)) {
			perror(argv[3 + i]);
			return 1;
		}
	}
	map.nr_blocks = st.st_size / 4096;
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < nfiles; i++) {
			struct vde_dev_add add = {
				.size = sizeof(add), .backing_fd = fds[i],
				.index = VDE_INDEX_ANY, .nr_blocks = map.nr_blocks,
				.block_size = 4096, .logical_block_size = 4096,
				.nr_regions = 1, .regions = (unsigned long)&map,
			};
			struct vde_dev_cmd dc = { .size = sizeof(dc) };

			if (ioctl(cfd, VDE_CTL_ADD, &add)) {
				fprintf(stderr, "round %d ADD: %s\n", r, strerror(errno));
				return 1;
			}
			dc.index = idx[i] = add.index;
			if (ioctl(cfd, VDE_CTL_START, &dc)) {
				fprintf(stderr, "round %d START: %s\n", r, strerror(errno));
				return 1;
			}
		}
		for (i = 0; i < nfiles; i++) {
			struct vde_dev_cmd dc = { .size = sizeof(dc), .index = idx[i] };

			if (ioctl(cfd, VDE_CTL_REMOVE, &dc)) {
				fprintf(stderr, "round %d REMOVE: %s\n", r, strerror(errno));
				return 1;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "add"))
		return cmd_add(argc, argv);
	if (!strcmp(argv[1], "start"))
		return cmd_dev(argc, argv, VDE_CTL_START, "START");
	if (!strcmp(argv[1], "remove"))
		return cmd_dev(argc, argv, VDE_CTL_REMOVE, "REMOVE");
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc, argv);
	if (!strcmp(argv[1], "churn"))
		return cmd_churn(argc, argv);
	return 2;
}
