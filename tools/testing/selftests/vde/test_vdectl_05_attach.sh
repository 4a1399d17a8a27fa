#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vdectl attach/detach/list/stats on real VDE v2 images: the device reads
# exactly the image's bytes (the ENCR key-slot region as zeros), for the
# whole image and for a --region view; read-only attaches refuse writes;
# an image cannot be attached read-write twice; detach refuses a mounted
# device and says why.

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch

VDECTL=${VDECTL:-$VDE_SRC/build/user/vdectl}
dir=$VDE_SCRATCH/vdectl
mkdir -p "$dir"
img=$dir/std.vde
mnt=$(mktemp -d)
cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	"$VDECTL" detach --all --force >/dev/null 2>&1
	rm -rf "$dir" "$mnt"
}
trap cleanup EXIT

# 64 MiB standard image (it has an ENCR region at blocks 12-13) with junk
# written into the key-slot blocks and a recognisable data region.
"$VDECTL" create --profile standard --size 64M --uuid 00112233445566778899aabbccddeeff \
	"$img" >/dev/null || ktap_skip_all "vdectl create failed"
head -c 8192 /dev/urandom | dd of="$img" bs=4096 seek=12 conv=notrunc status=none
info=$("$VDECTL" info --json "$img")
data_start=$(echo "$info" | python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin)["regions"] if x["tag"]=="DATA"][0]; print(r["start"], r["count"])')
read -r dstart dcount <<<"$data_start"
head -c $((dcount * 4096 / 4)) /dev/urandom | dd of="$img" bs=4096 seek="$dstart" conv=notrunc status=none
# What /dev/vdeN must read: the image with blocks 12-13 zeroed.
cp --sparse=always "$img" "$dir/expected"
dd if=/dev/zero of="$dir/expected" bs=4096 seek=12 count=2 conv=notrunc status=none

dev=
attach_whole() {
	dev=$("$VDECTL" attach --show "$img") || fail "attach" || return
	[ -b "$dev" ] || fail "no block device $dev" || return
	cmp "$dev" "$dir/expected" || fail "device differs from the image"
}

list_shows_it() {
	local js
	js=$("$VDECTL" list --json) || return 1
	echo "$js" | grep -q "\"name\": \"$dev\"" || fail "list: $js" || return
	echo "$js" | grep -q '"uuid": "00112233445566778899aabbccddeeff"' || fail "uuid in list: $js" || return
	echo "$js" | grep -q "\"image\": \"$img\"" || fail "image in list: $js"
}

no_double_rw_attach() {
	local err
	err=$("$VDECTL" attach "$img" 2>&1) && fail "second read-write attach accepted" && return
	echo "$err" | grep -q 'already attached read-write' || fail "message: $err"
}

detach_refuses_mounted() {
	local err
	"$VDECTL" detach "$img" || fail "detach by image" || return
	dev=$("$VDECTL" attach --show --region DATA "$img") || fail "attach --region" || return
	mkfs.ext4 -q -F "$dev" || fail "mkfs" || return
	mount "$dev" "$mnt" || fail "mount" || return
	err=$("$VDECTL" detach "$dev" 2>&1) && fail "detach of a mounted device succeeded" && return
	echo "$err" | grep -q "mounted on $mnt" || fail "message: $err" || return
	umount "$mnt"
	"$VDECTL" detach "$dev" || fail "detach after umount"
}

region_view_bytes() {
	dev=$("$VDECTL" attach --show --read-only --region DATA "$img") || fail "attach" || return
	cmp "$dev" <(dd if="$img" bs=4096 skip="$dstart" count="$dcount" status=none) ||
		fail "region view differs from the image's DATA region"
}

read_only_refuses_writes() {
	local err
	err=$(dd if=/dev/zero of="$dev" bs=4096 count=1 oflag=direct conv=notrunc 2>&1) &&
		fail "write to a read-only device succeeded" && return
	echo "$err" | grep -Eq 'Operation not permitted|Read-only file system' || fail "dd: $err"
}

stats_report() {
	local out
	dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct status=none
	out=$("$VDECTL" stats --json "$dev") || fail "stats" || return
	echo "$out" | python3 -c '
import json, sys
s = json.load(sys.stdin)
r = s["ops"]["read"]
assert r["requests"] >= 16, r
assert r["p50_ns"] > 0 and r["p99_ns"] >= r["p50_ns"], r
assert s["errors"] == 0, s
assert "read_only" in s["capabilities"], s
' || fail "stats: $out"
}

ktap_header 8
ktap_run attach_reads_image_bytes attach_whole
ktap_run list_json_shows_device list_shows_it
ktap_run second_rw_attach_refused no_double_rw_attach
ktap_run detach_refuses_mounted_device detach_refuses_mounted
ktap_run region_view_reads_region_bytes region_view_bytes
ktap_run read_only_refuses_writes read_only_refuses_writes
ktap_run stats_json_counts_and_percentiles stats_report
ktap_run detach_all vde_detach_all
ktap_finish
