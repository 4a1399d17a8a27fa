#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# /dev/vdeN names that another driver already uses: the fifth virtio disk
# is /dev/vde and its partitions are /dev/vde1, /dev/vde2.  A device with
# no index asked for skips the taken names; an index whose name is taken
# is refused with a clear error and leaves nothing behind.
#
# Needs a VM with four extra disks: VDE_VM_EXTRA_DISKS=4 tools/testing/vm/run ...

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch
[ -b /dev/vde ] || ktap_skip_all "no fifth virtio disk /dev/vde (VDE_VM_EXTRA_DISKS=4)"

VDECTL=${VDECTL:-$VDE_SRC/build/user/vdectl}
dir=$VDE_SCRATCH/names
mkdir -p "$dir"
cleanup() {
	"$VDECTL" detach --all --force >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT

partition_vde() {
	printf 'label: dos\n,8M\n,\n' | sfdisk -q /dev/vde >/dev/null 2>&1 ||
		fail "sfdisk /dev/vde" || return
	wait_for 50 test -b /dev/vde2 || fail "no /dev/vde1, /dev/vde2" || return
	[ -e /sys/class/block/vde1 ] && [ -e /sys/class/block/vde2 ] ||
		fail "partitions not in sysfs"
}

any_index_skips_taken() {
	local i got=()
	for i in 1 2 3; do
		truncate -s 8M "$dir/$i.img"
		got+=("$(vde_attach_raw "$dir/$i.img")") || return 1
	done
	[ "${got[*]}" = "0 3 4" ] || fail "indices ${got[*]}, want 0 3 4" || return
	[ -b /dev/vde1 ] && [ "$(cat /sys/class/block/vde1/partition)" = 1 ] ||
		fail "the virtio partition vde1 was disturbed"
}

taken_index_refused() {
	local err
	truncate -s 8M "$dir/x.img"
	err=$(vde_attach_raw -i 2 "$dir/x.img" 2>&1) && fail "index 2 accepted" && return
	echo "$err" | grep -q 'START: File exists' || fail "error: $err" || return
	# The refused START leaves the device added, not live, for the caller
	# to remove; then the index has no device at all.
	err=$("$VDETEST" info 2 2>&1) || fail "info 2: $err" || return
	echo "$err" | grep -q '^state 1 ' || fail "info 2: $err" || return
	"$VDETEST" remove 2 || fail "remove 2" || return
	err=$("$VDETEST" info 2 2>&1) && fail "a device is left at index 2" && return
	echo "$err" | grep -q 'No such device' || fail "info 2: $err"
}

vdectl_says_why() {
	local img=$dir/std.vde err
	"$VDECTL" create --profile minimal --blocks 4096 "$img" >/dev/null || return 1
	err=$("$VDECTL" attach --index 1 "$img" 2>&1) && fail "vdectl attach --index 1 accepted" && return
	echo "$err" | grep -q 'another block device has that name' || fail "message: $err" || return
	# The failed attach did not keep the image attached.
	"$VDECTL" attach "$img" >/dev/null || fail "image still attached after the failure"
}

ktap_header 4
ktap_run partition_fifth_virtio_disk partition_vde
ktap_run any_index_skips_taken_names any_index_skips_taken
ktap_run taken_index_start_refused taken_index_refused
ktap_run vdectl_explains_name_clash vdectl_says_why
ktap_finish
