// SPDX-License-Identifier: GPL-2.0
/*
 * vde: /sys/block/vdeN/vde/ - what a device is, what it can do, and its
 * statistics.
 */
#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/percpu.h>
#include <linux/sysfs.h>

#include "vde.h"

static struct vde_device *vde_from_dev(struct device *dev)
{
	return dev_to_disk(dev)->private_data;
}

static ssize_t backing_file_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct vde_device *vde = vde_from_dev(dev);
	char *p;

	p = file_path(vde->backing, buf, PAGE_SIZE - 1);
	if (IS_ERR(p))
		return PTR_ERR(p);
	memmove(buf, p, strlen(p) + 1);
	return strlcat(buf, "\n", PAGE_SIZE);
}
static DEVICE_ATTR_RO(backing_file);

static ssize_t uuid_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%16phN\n", vde_from_dev(dev)->uuid);
}
static DEVICE_ATTR_RO(uuid);

static ssize_t block_size_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", vde_from_dev(dev)->block_size);
}
static DEVICE_ATTR_RO(block_size);

static ssize_t data_offset_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", vde_from_dev(dev)->data_offset);
}
static DEVICE_ATTR_RO(data_offset);

static ssize_t direct_io_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", vde_from_dev(dev)->use_dio);
}
static DEVICE_ATTR_RO(direct_io);

static const char *vde_region_kind(u32 flags)
{
	if (flags & VDE_REGION_ENCRYPTED)
		return "encrypted";
	if (flags & VDE_REGION_HIDDEN)
		return "hidden";
	return "plain";
}

/* One extent a line: first block, block count, kind. */
static ssize_t region_map_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct vde_device *vde = vde_from_dev(dev);
	int len = 0;
	u32 i;

	for (i = 0; i < vde->nr_regions; i++)
		len += sysfs_emit_at(buf, len, "%llu %llu %s\n",
				     vde->regions[i].first_block,
				     vde->regions[i].nr_blocks,
				     vde_region_kind(vde->regions[i].flags));
	return len;
}
static DEVICE_ATTR_RO(region_map);

/* What the device does, as space-separated words. */
static ssize_t capabilities_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct vde_device *vde = vde_from_dev(dev);
	bool ro = vde->flags & VDE_DEV_READ_ONLY;
	int len;

	len = sysfs_emit(buf, "fast_path");
	if (vde->use_dio)
		len += sysfs_emit_at(buf, len, " direct_io zero_copy");
	else
		len += sysfs_emit_at(buf, len, " buffered_io");
	len += sysfs_emit_at(buf, len, " write_cache fua");
	if (vde->can_discard && !ro)
		len += sysfs_emit_at(buf, len, " discard write_zeroes");
	if (ro)
		len += sysfs_emit_at(buf, len, " read_only");
	if (vde->ring)
		len += sysfs_emit_at(buf, len, " helper%s",
				     (vde->flags & VDE_DEV_VIA_HELPER) ?
				     " via_helper" : "");
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}
static DEVICE_ATTR_RO(capabilities);

/*
 * The userspace helper: "name value" lines state (none, live, lost),
 * transport (none, io_uring, ioctl), policy (fail, hold, or none without
 * a helper data plane), queues_armed, queues and pid (the helper process
 * as the reader's PID namespace sees it; 0 if none or not visible).
 */
static ssize_t helper_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return vde_ring_show(vde_from_dev(dev), buf);
}
static DEVICE_ATTR_RO(helper);

static const char *const vde_op_names[VDE_NR_OPS] = {
	[VDE_OP_READ]		= "read",
	[VDE_OP_WRITE]		= "write",
	[VDE_OP_FLUSH]		= "flush",
	[VDE_OP_DISCARD]	= "discard",
	[VDE_OP_WRITE_ZEROES]	= "write_zeroes",
};

static void vde_stats_sum(struct vde_device *vde, struct vde_stats *sum)
{
	int cpu, op, b;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		struct vde_stats *s = per_cpu_ptr(vde->stats, cpu);

		for (op = 0; op < VDE_NR_OPS; op++) {
			sum->requests[op] += READ_ONCE(s->requests[op]);
			sum->blocks[op] += READ_ONCE(s->blocks[op]);
			for (b = 0; b < VDE_LAT_BUCKETS; b++)
				sum->latency[op][b] +=
					READ_ONCE(s->latency[op][b]);
		}
		sum->fast_path += READ_ONCE(s->fast_path);
		sum->helper += READ_ONCE(s->helper);
		sum->errors += READ_ONCE(s->errors);
	}
}

/*
 * "name value" lines: <op>_requests and <op>_sectors (512-byte units) for
 * each operation, then fast_path_requests, helper_requests and errors.
 */
static ssize_t stats_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct vde_stats *sum;
	int len = 0, op;

	sum = kmalloc(sizeof(*sum), GFP_KERNEL);
	if (!sum)
		return -ENOMEM;
	vde_stats_sum(vde_from_dev(dev), sum);
	for (op = 0; op < VDE_NR_OPS; op++)
		len += sysfs_emit_at(buf, len,
				     "%s_requests %llu\n%s_sectors %llu\n",
				     vde_op_names[op], sum->requests[op],
				     vde_op_names[op], sum->blocks[op]);
	len += sysfs_emit_at(buf, len,
			     "fast_path_requests %llu\nhelper_requests %llu\nerrors %llu\n",
			     sum->fast_path, sum->helper, sum->errors);
	kfree(sum);
	return len;
}
static DEVICE_ATTR_RO(stats);

/*
 * One line per operation: its name, then VDE_LAT_BUCKETS counts; bucket i
 * counts requests that took [2^i, 2^(i+1)) nanoseconds (bucket 0 also
 * those under 1 ns, the last also everything longer).
 */
static ssize_t latency_ns_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct vde_stats *sum;
	int len = 0, op, b;

	sum = kmalloc(sizeof(*sum), GFP_KERNEL);
	if (!sum)
		return -ENOMEM;
	vde_stats_sum(vde_from_dev(dev), sum);
	for (op = 0; op < VDE_NR_OPS; op++) {
		len += sysfs_emit_at(buf, len, "%s", vde_op_names[op]);
		for (b = 0; b < VDE_LAT_BUCKETS; b++)
			len += sysfs_emit_at(buf, len, " %llu",
					     sum->latency[op][b]);
		len += sysfs_emit_at(buf, len, "\n");
	}
	kfree(sum);
	return len;
}
static DEVICE_ATTR_RO(latency_ns);

static struct attribute *vde_attrs[] = {
	&dev_attr_backing_file.attr,
	&dev_attr_uuid.attr,
	&dev_attr_block_size.attr,
	&dev_attr_data_offset.attr,
	&dev_attr_direct_io.attr,
	&dev_attr_region_map.attr,
	&dev_attr_capabilities.attr,
	&dev_attr_stats.attr,
	&dev_attr_latency_ns.attr,
	&dev_attr_helper.attr,
	NULL,
};

static const struct attribute_group vde_attr_group = {
	.name	= "vde",
	.attrs	= vde_attrs,
};

const struct attribute_group *vde_disk_groups[] = {
	&vde_attr_group,
	NULL,
};

static int vde_stat_op(struct request *rq)
{
	switch (req_op(rq)) {
	case REQ_OP_READ:
		return VDE_OP_READ;
	case REQ_OP_WRITE:
		return VDE_OP_WRITE;
	case REQ_OP_FLUSH:
		return VDE_OP_FLUSH;
	case REQ_OP_DISCARD:
		return VDE_OP_DISCARD;
	case REQ_OP_WRITE_ZEROES:
		return VDE_OP_WRITE_ZEROES;
	default:
		return -1;
	}
}

/**
 * vde_stats_account() - count a finished request
 * @vde: the device
 * @rq: the request, before blk_mq_end_request()
 * @status: its final status
 * @start_ns: when it was first started
 * @helper: the userspace helper served it
 *
 * Context: any context; interrupt safe (per-CPU operations).
 */
void vde_stats_account(struct vde_device *vde, struct request *rq,
		       blk_status_t status, u64 start_ns, bool helper)
{
	u64 ns = ktime_get_ns() - start_ns;
	int op = vde_stat_op(rq);
	int bucket;

	if (helper)
		this_cpu_inc(vde->stats->helper);
	else
		this_cpu_inc(vde->stats->fast_path);
	if (status != BLK_STS_OK)
		this_cpu_inc(vde->stats->errors);
	if (op < 0)
		return;
	bucket = ns ? min(fls64(ns) - 1, VDE_LAT_BUCKETS - 1) : 0;
	this_cpu_inc(vde->stats->requests[op]);
	this_cpu_add(vde->stats->blocks[op], blk_rq_sectors(rq));
	this_cpu_inc(vde->stats->latency[op][bucket]);
}
