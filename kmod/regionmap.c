// SPDX-License-Identifier: GPL-2.0
/*
 * vde: the region map - checking the map userspace hands over, and
 * finding the regions a request touches.
 *
 * The kernel never parses the image format.  It checks only that the map
 * is well formed: sorted extents that tile the device exactly, with known
 * flags.  Whatever an image says, a bad map cannot reach the I/O path.
 */
#include <linux/errno.h>
#include <linux/kernel.h>

#include "vde.h"

#define VDE_REGION_KNOWN_FLAGS	(VDE_REGION_ENCRYPTED | VDE_REGION_HIDDEN)

/**
 * vde_regions_check() - check that a region map tiles a device exactly
 * @map: the entries
 * @nr: number of entries
 * @nr_blocks: device size in blocks
 *
 * Context: any context.
 * Return: 0 if @map starts at block 0, each entry is non-empty, starts
 * where the previous one ended and has known flags (ENCRYPTED and HIDDEN
 * not both) and zero reserved bits, and the last entry ends at @nr_blocks;
 * -EINVAL otherwise.
 */
int vde_regions_check(const struct vde_region_entry *map, u32 nr,
		      u64 nr_blocks)
{
	u64 next = 0;
	u32 i;

	if (nr < 1 || nr > VDE_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		const struct vde_region_entry *e = &map[i];

		if (e->first_block != next || e->nr_blocks == 0 ||
		    e->nr_blocks > nr_blocks - next)
			return -EINVAL;
		if (e->flags & ~VDE_REGION_KNOWN_FLAGS || e->reserved)
			return -EINVAL;
		if ((e->flags & VDE_REGION_KNOWN_FLAGS) == VDE_REGION_KNOWN_FLAGS)
			return -EINVAL;
		next += e->nr_blocks;
	}
	return next == nr_blocks ? 0 : -EINVAL;
}

/* Index of the entry holding @block, which must be below nr_blocks. */
static u32 vde_region_find(const struct vde_device *vde, u64 block)
{
	u32 lo = 0, hi = vde->nr_regions;

	while (hi - lo > 1) {
		u32 mid = lo + (hi - lo) / 2;

		if (vde->regions[mid].first_block <= block)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/**
 * vde_regions_flags() - the region flags a range of blocks touches
 * @vde: the device
 * @first: first block of the range
 * @count: blocks in the range, at least 1, within the device
 *
 * Context: any context.
 * Return: the OR of the flags of every region overlapping the range; 0
 * means the range lies wholly in plain regions.
 */
u32 vde_regions_flags(const struct vde_device *vde, u64 first, u64 count)
{
	u64 end = first + count;
	u32 i = vde_region_find(vde, first);
	u32 flags = 0;

	for (; i < vde->nr_regions && vde->regions[i].first_block < end; i++)
		flags |= vde->regions[i].flags;
	return flags;
}

/**
 * vde_regions_span() - how far the region holding a block extends
 * @vde: the device
 * @block: a block of the device
 * @flags: set to the flags of the region holding @block
 *
 * Context: any context.
 * Return: the number of blocks from @block to the end of its region.
 */
u64 vde_regions_span(const struct vde_device *vde, u64 block, u32 *flags)
{
	const struct vde_region_entry *e =
		&vde->regions[vde_region_find(vde, block)];

	*flags = e->flags;
	return e->first_block + e->nr_blocks - block;
}
