#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Regenerate the malformed-image corpus: NAME.vde.xz next to this script,
# each a complete image with one defect (or none, for the controls).  The
# outcome vdectl must give for each is in expected.txt, which is written by
# hand; test_corpus.sh checks it.
#
#   tools/testing/user/corpus/make-corpus.sh [VDECTL]
#
# VDECTL defaults to build/user/vdectl.  Every image starts as the same
# "vdectl create" (standard profile, 2048 blocks of 4096 bytes, fixed UUID
# and timestamp), so the output is the same on every run.  Bytes are
# patched with printf and dd; where the defect is behind valid checksums,
# reseal.c (compiled here) recomputes them.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../../.." && pwd)
VDECTL=${1:-${VDECTL:-$top/build/user/vdectl}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

B=4096			# block size
MIRROR=$((4 * B))	# block 4
RPT=$((1 * B))		# block 1; its mirror is block 5
RPT_M=$((5 * B))
RD=$((8 * B))		# block 8
RD_HDR=$((9 * B))	# block 9

gcc -O2 -Wall -Wextra -Werror -o "$tmp/reseal" "$here/reseal.c" -lxxhash -lcrypto
reseal() { "$tmp/reseal" "$@"; }

# put FILE OFFSET HEX...: overwrite bytes at OFFSET.
put() {
	local f=$1 off=$(($2)) s='' b
	shift 2
	for b; do s+="\\x$b"; done
	printf '%b' "$s" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# le FILE OFFSET WIDTH VALUE: store VALUE as a little-endian integer.
le() {
	local f=$1 off=$2 w=$3 v=$4 i bytes=()
	for ((i = 0; i < w; i++)); do
		bytes+=("$(printf '%02x' $(((v >> (8 * i)) & 255)))")
	done
	put "$f" "$off" "${bytes[@]}"
}

# sb FILE OFFSET WIDTH VALUE: set a superblock field in both copies and
# reseal them.
sb() {
	le "$1" "$2" "$3" "$4"
	le "$1" $((MIRROR + $2)) "$3" "$4"
	reseal "$1" 0 4
}

# slot FILE SLOT FIELD_OFFSET WIDTH VALUE TABLES: set a field of one region
# slot in the tables named (rpt: blocks 1 and 5, rd: block 8) and reseal.
slot() {
	local f=$1 off=$(($2 * 32 + $3)) w=$4 v=$5 t
	shift 5
	for t; do
		case $t in
		rpt)
			le "$f" $((RPT + off)) "$w" "$v"
			le "$f" $((RPT_M + off)) "$w" "$v"
			reseal "$f" 1 5
			;;
		rd)
			le "$f" $((RD + off)) "$w" "$v"
			reseal "$f" 8 rd
			;;
		esac
	done
}

# flip FILE OFFSET: invert one byte.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	le "$1" "$2" 1 $((b ^ 0xff))
}

# A preamble block: DWVD-BOO, version 1, PreambleTotalSize 64,
# VdeOffset 4096, valid HeaderChecksum.
preamble() {
	local f=$1 img=$2
	truncate -s $B "$f"
	put "$f" 0 44 57 56 44 2d 42 4f 4f
	le "$f" 8 2 1
	le "$f" 16 8 64
	le "$f" 24 8 $B
	reseal "$f" preamble
	cat "$img" >>"$f"
}

# ---- the defects, one function each: FILE is a fresh image -------------

valid() { :; }
valid_preamble() { mv "$1" "$tmp/p.img" && preamble "$1" "$tmp/p.img"; }
truncated_metadata() { truncate -s $((RD + B / 2)) "$1"; }
bad_magic() { put "$1" 0 58 && put "$1" $MIRROR 58; }
primary_trailer() { flip "$1" $((B - 8)); }
both_trailers() { flip "$1" $((B - 8)) && flip "$1" $((MIRROR + B - 8)); }
mirror_differs() { put "$1" $((MIRROR + 0x98)) 6d && reseal "$1" 4; }
block_size_1000() { sb "$1" 0x34 4 1000; }
total_blocks_zero() { sb "$1" 0x38 8 0; }
major_version_3() { sb "$1" 4 1 3; }
min_reader_3() { sb "$1" 0x10 2 3; }
incompat_0x40() { sb "$1" 0x14 4 0x40; }
rocompat_unknown() { sb "$1" 0x18 4 0x80; }
encryption_algo() { sb "$1" 0x14 4 1; }
rd_trailer() { flip "$1" $((RD + B - 8)); }
rd_version_2() { le "$1" "$RD_HDR" 2 2 && reseal "$1" 9; }
rd_block0_hash() { flip "$1" $((RD_HDR + 8)) && reseal "$1" 9; }
rd_active_count() { le "$1" $((RD_HDR + 4)) 2 11 && reseal "$1" 9; }
rpt_rd_disagree() { slot "$1" 7 16 8 65 rpt; }
overlap() { slot "$1" 11 8 8 1290 rpt rd && slot "$1" 11 16 8 758 rpt rd; }
start_negative() { slot "$1" 11 8 8 -1 rpt rd; }
region_past_eof() { truncate -s $((1800 * B)) "$1"; }
encrypted_no_feature() { slot "$1" 11 4 4 3 rpt rd; }
bitmap_trailer() { flip "$1" $((14 * B + B - 8)); }

preamble_offset_past_eof() {
	valid_preamble "$1"
	le "$1" 24 8 $((1 << 30))
	reseal "$1" preamble
}

preamble_bad_checksum() { valid_preamble "$1" && flip "$1" 56; }

# A format v1 container (VirtualDiskEngine): 512-byte superblock with the
# magic stored little-endian ("DVWD"), FormatVersion 1, mirror in block 1.
format_v1() {
	local f=$1 o
	rm -f "$f"
	truncate -s $((2048 * B)) "$f"
	for o in 0 $B; do
		put "$f" "$o" 44 56 57 44
		le "$f" $((o + 4)) 2 1		# FormatVersion
		le "$f" $((o + 8)) 4 $B		# BlockSize
		le "$f" $((o + 12)) 8 2048	# TotalBlocks
		le "$f" $((o + 20)) 8 763	# FreeBlocks
		le "$f" $((o + 28)) 8 3		# InodeTableBlock
		le "$f" $((o + 36)) 8 2		# BitmapStartBlock
		le "$f" $((o + 44)) 8 1		# BitmapBlockCount
		le "$f" $((o + 52)) 8 1284	# BTreeRootBlock
		le "$f" $((o + 60)) 8 1027	# WalStartBlock
		le "$f" $((o + 68)) 8 256	# WalBlockCount
		le "$f" $((o + 76)) 8 1283	# ChecksumTableBlock
		le "$f" $((o + 84)) 8 1700000000	# Created
		le "$f" $((o + 92)) 8 1700000000	# Modified
		le "$f" $((o + 100)) 8 1	# CheckpointSequence
	done
	reseal "$1" v1
}

names=(
	valid valid_preamble truncated_metadata bad_magic primary_trailer
	both_trailers mirror_differs block_size_1000 total_blocks_zero
	major_version_3 min_reader_3 incompat_0x40 rocompat_unknown
	encryption_algo rd_trailer rd_version_2 rd_block0_hash rd_active_count
	rpt_rd_disagree overlap start_negative region_past_eof
	encrypted_no_feature bitmap_trailer preamble_offset_past_eof
	preamble_bad_checksum format_v1
)

rm -f "$here"/*.vde.xz
for n in "${names[@]}"; do
	f=$tmp/$n.vde
	"$VDECTL" create --blocks 2048 --uuid 00112233445566778899aabbccddeeff \
		--timestamp @1700000000 "$f" >/dev/null
	"$n" "$f"
	xz -9 --threads=1 -c "$f" >"$here/${n//_/-}.vde.xz"
	rm -f "$f"
done
echo "${#names[@]} images in $here"
