// SPDX-License-Identifier: GPL-2.0
/*
 * libvde: names of the VDE v2 format's tags, flags and fixed blocks, and
 * text forms of UUIDs and timestamps.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "format.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	uint32_t tag;
	const char *what;
} vde_tags[] = {
	{ VDE_TAG('S', 'U', 'P', 'B'), "superblock" },
	{ VDE_TAG('R', 'M', 'A', 'P'), "region map" },
	{ VDE_TAG('P', 'O', 'L', 'V'), "policy vault" },
	{ VDE_TAG('E', 'N', 'C', 'R'), "encryption header (key slots)" },
	{ VDE_TAG('B', 'M', 'A', 'P'), "allocation bitmap" },
	{ VDE_TAG('I', 'N', 'O', 'D'), "inode table" },
	{ VDE_TAG('T', 'A', 'G', 'I'), "tag index" },
	{ VDE_TAG('M', 'W', 'A', 'L'), "metadata write-ahead log" },
	{ VDE_TAG('M', 'T', 'R', 'K'), "integrity tree" },
	{ VDE_TAG('B', 'T', 'R', 'E'), "B-tree index forest" },
	{ VDE_TAG('S', 'N', 'A', 'P'), "snapshot table" },
	{ VDE_TAG('R', 'E', 'P', 'L'), "replication state" },
	{ VDE_TAG('R', 'A', 'I', 'D'), "RAID metadata" },
	{ VDE_TAG('C', 'O', 'M', 'P'), "compression metadata" },
	{ VDE_TAG('I', 'N', 'T', 'E'), "intelligence cache" },
	{ VDE_TAG('S', 'T', 'R', 'E'), "streaming append" },
	{ VDE_TAG('X', 'R', 'E', 'F'), "cross-VDE reference table" },
	{ VDE_TAG('W', 'O', 'R', 'M'), "WORM region" },
	{ VDE_TAG('C', 'O', 'D', 'E'), "compute code cache" },
	{ VDE_TAG('D', 'W', 'A', 'L'), "data write-ahead log" },
	{ VDE_TAG('D', 'A', 'T', 'A'), "data" },
	{ VDE_TAG('F', 'R', 'E', 'E'), "free" },
	{ VDE_TAG('C', 'M', 'V', 'T'), "compliance vault" },
	{ VDE_TAG('A', 'L', 'O', 'G'), "audit log" },
	{ VDE_TAG('C', 'M', 'A', 'L'), "compliance audit log" },
	{ VDE_TAG('C', 'L', 'O', 'G'), "consensus log" },
	{ VDE_TAG('D', 'I', 'C', 'T'), "compression dictionary" },
	{ VDE_TAG('A', 'N', 'O', 'N'), "anonymization table" },
	{ VDE_TAG('M', 'L', 'O', 'G'), "metrics log" },
	{ VDE_TAG('E', 'R', 'C', 'V'), "emergency recovery" },
	{ VDE_TAG('R', 'C', 'V', 'R'), "recovery" },
	{ VDE_TAG('E', 'X', 'T', 'N'), "extent tree node" },
	{ VDE_TAG('E', 'X', 'M', 'D'), "extended metadata" },
	{ VDE_TAG('I', 'A', 'N', 'T'), "integrity anchor" },
	{ VDE_TAG('C', 'O', 'L', 'R'), "colour" },
	{ VDE_TAG('Z', 'M', 'A', 'P'), "zone map" },
	{ VDE_TAG('W', 'A', 'L', 'S'), "WAL subscriber cursors" },
	{ VDE_TAG('Z', 'N', 'S', 'M'), "ZNS zone map" },
	{ VDE_TAG('O', 'P', 'J', 'R'), "online operations journal" },
	{ VDE_TAG('T', 'R', 'L', 'R'), "trailer" },
};

const char *vde_tag_name(uint32_t tag, char buf[5])
{
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)(tag >> (24 - 8 * i));

		buf[i] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
	}
	buf[4] = '\0';
	return buf;
}

int vde_tag_parse(const char *name, uint32_t *tag)
{
	uint32_t t = 0;
	int i;

	if (!name || strlen(name) != 4)
		return -EINVAL;
	for (i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c >= 0x7f)
			return -EINVAL;
		t = t << 8 | (uint32_t)toupper(c);
	}
	*tag = t;
	return 0;
}

const char *vde_tag_describe(uint32_t tag)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vde_tags); i++)
		if (vde_tags[i].tag == tag)
			return vde_tags[i].what;
	return NULL;
}

static const char *const vde_incompat_names[32] = {
	"EncryptionEnabled", "WormRegionActive", "RaidEnabled",
	"ComputeCacheActive", "FabricLinksActive", "ConsensusLogActive",
	[8] = "HasPreamble",
};

static const char *const vde_rocompat_names[32] = {
	"CompressionEnabled", "ReplicationEnabled", "StreamingRegionActive",
	"SnapshotActive", "IntelligenceCacheActive",
};

static const char *const vde_compat_names[32] = {
	"TagIndexActive", "PolicyEngineActive", "TamperProofChainActive",
	"ComplianceVaultActive", "AirgapMode", "FuseCompatMode", "DirtyFlag",
};

static const char *const vde_region_flag_names[32] = {
	"Active", "Encrypted", "Compressed", "Worm", "ReadOnly", "Migrating",
};

static const char *const vde_module_names[32] = {
	"Security", "Compliance", "Intelligence", "Tags", "Replication",
	"RAID", "Streaming", "Compute", "Fabric", "Consensus", "Compression",
	"Integrity", "Snapshot", "Query", "Privacy", "Sustainability",
	"Transit", "Observability", "AuditLog", "ComputePushdown",
	"EphemeralKey", "WalSubscribers", "DeltaExtents", "ZnsZoneMap",
	"SpatioTemporal", "SemanticDedup", "ZkpCompliance", "StoragePolicy",
	"OnlineOps", "DisasterRecovery", "GdprTombstone", "SemanticWearLevel",
};

const char *vde_flag_name(enum vde_flag_set set, unsigned int bit)
{
	if (bit >= 32)
		return NULL;
	switch (set) {
	case VDE_FLAGS_INCOMPAT:
		return vde_incompat_names[bit];
	case VDE_FLAGS_ROCOMPAT:
		return vde_rocompat_names[bit];
	case VDE_FLAGS_COMPAT:
		return vde_compat_names[bit];
	case VDE_FLAGS_REGION:
		return vde_region_flag_names[bit];
	case VDE_FLAGS_MODULES:
		return vde_module_names[bit];
	}
	return NULL;
}

int vde_flags_describe(enum vde_flag_set set, uint32_t flags, char *buf,
		       size_t len)
{
	size_t used = 0;
	unsigned int bit;
	int n;

	if (len)
		buf[0] = '\0';
	for (bit = 0; bit < 32; bit++) {
		const char *name = vde_flag_name(set, bit);
		char *p = used < len ? buf + used : NULL;
		size_t room = used < len ? len - used : 0;
		const char *sep = used ? " " : "";

		if (!(flags & (1U << bit)))
			continue;
		n = name ? snprintf(p, room, "%s%s", sep, name) :
			   snprintf(p, room, "%sbit%u", sep, bit);
		used += (size_t)n;
	}
	return used < len ? (int)used : -ENOSPC;
}

static const char *const vde_block_roles[VDE_FIXED_BLOCKS] = {
	"superblock", "region pointer table", "extended metadata",
	"integrity anchor", "mirror superblock",
	"mirror region pointer table", "mirror extended metadata",
	"mirror integrity anchor", "region directory",
	"region directory header",
};

const char *vde_block_role(int64_t block)
{
	if (block == VDE_DIAG_FILE)
		return "file";
	if (block == VDE_DIAG_PREAMBLE)
		return "preamble";
	if (block >= 0 && block < VDE_FIXED_BLOCKS)
		return vde_block_roles[block];
	return NULL;
}

const char *vde_uuid_format(const uint8_t uuid[16], char buf[33])
{
	int i;

	for (i = 0; i < 16; i++)
		snprintf(buf + 2 * i, 3, "%02x", uuid[i]);
	return buf;
}

const char *vde_guid_format(const uint8_t u[16], char buf[37])
{
	snprintf(buf, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[3], u[2], u[1], u[0], u[5], u[4], u[7], u[6], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int vde_uuid_parse(const char *s, uint8_t uuid[16])
{
	uint8_t out[16];
	int n = 0, v;

	for (; *s; s++) {
		if (*s == '-')
			continue;
		v = hexval(*s);
		if (v < 0 || n == 32)
			return -EINVAL;
		if (n % 2)
			out[n / 2] |= (uint8_t)v;
		else
			out[n / 2] = (uint8_t)(v << 4);
		n++;
	}
	if (n != 32)
		return -EINVAL;
	memcpy(uuid, out, 16);
	return 0;
}

const char *vde_ticks_format(int64_t ticks, char *buf, size_t len)
{
	/* .NET DateTime ends at 9999-12-31T23:59:59.9999999. */
	const int64_t max_ticks = 3155378975999999999LL;
	int64_t rel, secs, frac;
	struct tm tm;
	time_t t;

	if (!ticks) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (ticks < 0 || ticks > max_ticks) {
		snprintf(buf, len, "ticks %" PRId64, ticks);
		return buf;
	}
	rel = ticks - VDE_TICKS_UNIX_EPOCH;
	secs = rel / VDE_TICKS_PER_SEC;
	frac = rel % VDE_TICKS_PER_SEC;
	if (frac < 0) {
		frac += VDE_TICKS_PER_SEC;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, len, "ticks %" PRId64, ticks);
		return buf;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%07" PRId64 "Z",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, frac);
	return buf;
}

const char *vde_val_dec(char *buf, int64_t v)
{
	snprintf(buf, VDE_VAL_LEN, "%" PRId64, v);
	return buf;
}

const char *vde_val_hex(char *buf, uint64_t v)
{
	snprintf(buf, VDE_VAL_LEN, "0x%" PRIx64, v);
	return buf;
}

const char *vde_val_hex16(char *buf, uint64_t v)
{
	snprintf(buf, VDE_VAL_LEN, "0x%016" PRIx64, v);
	return buf;
}
