#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Backing-store faults.  The image lives on ext4 over a device-mapper
# device whose table is switched between linear and error: while the
# backing disk fails, reads and writes through /dev/vdeN fail with EIO
# (never wrong data), for plain blocks (in-kernel path) and encrypted
# blocks (helper path) alike, and everything works again, with the data
# written before intact, once the disk is back.  A full backing file
# system gives ENOSPC for writes into holes of a sparse image and
# corrupts nothing written before.

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch

VDECTL=${VDECTL:-$VDE_SRC/build/user/vdectl}
BS=4096
dir=$VDE_SCRATCH/fault
mnt=$dir/mnt
mkdir -p "$mnt"
loopdev=
dev=
cleanup() {
	undisk
	rm -rf "$dir"
}
trap cleanup EXIT

command -v dmsetup >/dev/null || ktap_skip_all "dmsetup is not installed"
# No udev in the test VM: dmsetup makes its own nodes.
export DM_DISABLE_UDEV=1
modprobe loop && modprobe dm-mod || ktap_skip_all "no loop or dm-mod module"

# disk SIZE_MB: ext4 on dm-linear over a loop device, mounted at $mnt.
# The journal commits only when asked to (commit=600): a timed commit while
# the disk fails would abort the journal and leave the file system
# read-only, which is ext4's doing, not vde's; the tests flush before the
# fault and after the recovery.
sectors=
disk() {
	undisk 2>/dev/null
	truncate -s "$1"M "$dir/disk"
	loopdev=$(losetup --show --direct-io=on -f "$dir/disk") || return 1
	sectors=$(blockdev --getsz "$loopdev")
	dmsetup create vdefault --table "0 $sectors linear $loopdev 0" || return 1
	dmsetup mknodes vdefault
	mkfs.ext4 -q -F /dev/mapper/vdefault &&
		mount -o commit=600 /dev/mapper/vdefault "$mnt"
}

undisk() {
	"$VDECTL" detach --all --force >/dev/null 2>&1
	mountpoint -q "$mnt" && umount "$mnt"
	dmsetup remove vdefault 2>/dev/null
	[ -n "$loopdev" ] && losetup -d "$loopdev"
	loopdev=
	rm -f "$dir/disk"
}

# table linear|error: what the backing disk does from now on.
table() {
	local t="0 $sectors linear $loopdev 0"

	[ "$1" = error ] && t="0 $sectors error"
	dmsetup suspend --nolockfs vdefault && dmsetup load vdefault --table "$t" &&
		dmsetup resume vdefault
}

# The last extent of KIND in the device's map: "first count".
last_extent() {
	awk -v k="$2" '$3 == k { f = $1; c = $2 } END { print f, c }' \
		"/sys/block/${1#/dev/}/vde/region_map"
}

# faults_then_recovery KIND [attach options]: the whole story on one image.
faults_then_recovery() {
	local kind=$1 first off out
	shift
	dev=$("$VDECTL" attach --show "$@" "$mnt/img.vde") || fail "attach" || return
	read -r first _ < <(last_extent "$dev" "$kind")
	[ -n "$first" ] || fail "no $kind extent" || return
	off=$(((first + 31) / 16 * 16))
	head -c $((BS * 64)) /dev/urandom >"$dir/data"
	dd if="$dir/data" of="$dev" bs=64k seek=$((off / 16)) oflag=direct conv=notrunc,fsync \
		status=none || fail "write before the fault" || return
	table error || fail "dm error table" || return
	out=$(dd if="$dev" of="$dir/got" bs=64k skip=$((off / 16)) count=4 iflag=direct 2>&1) &&
		{ fail "read succeeded on a failing disk"; return; }
	echo "$out" | grep -q 'Input/output error' || fail "read: $out" || return
	# Whatever came back before the error is never wrong data.
	cmp -s "$dir/got" <(head -c "$(stat -c %s "$dir/got")" "$dir/data") ||
		fail "a failed read returned wrong bytes" || return
	out=$(dd if=/dev/urandom of="$dev" bs=64k seek=$((off / 16 + 8)) count=1 \
		oflag=direct conv=notrunc 2>&1) && { fail "write succeeded on a failing disk"; return; }
	echo "$out" | grep -q 'Input/output error' || fail "write: $out" || return
	table linear || fail "dm linear table" || return
	cmp <(dd if="$dev" bs=64k skip=$((off / 16)) count=4 iflag=direct status=none) \
		"$dir/data" || fail "data differs after recovery" || return
	dd if=/dev/urandom of="$dev" bs=64k seek=$((off / 16 + 8)) count=1 oflag=direct \
		conv=notrunc,fsync status=none || fail "write after recovery" || return
	"$VDECTL" detach "$dev" || fail "detach"
}

plain_faults() {
	disk 256 || fail "backing disk" || return
	"$VDECTL" create --profile minimal --size 128M "$mnt/img.vde" >/dev/null ||
		fail "create" || return
	faults_then_recovery plain || return
	undisk
}

encrypted_faults() {
	disk 256 || fail "backing disk" || return
	"$VDECTL" create --profile standard --size 128M --encrypt DATA \
		--key-file "$dir/key" "$mnt/img.vde" >/dev/null || fail "create" || return
	faults_then_recovery encrypted --key-file "$dir/key" || return
	undisk
}

# A 256 MiB sparse image on a 64 MiB file system.
enospc() {
	local first out
	disk 64 || fail "backing disk" || return
	"$VDECTL" create --profile minimal --size 256M "$mnt/img.vde" >/dev/null ||
		fail "create" || return
	dev=$("$VDECTL" attach --show "$mnt/img.vde") || fail "attach" || return
	read -r first _ < <(last_extent "$dev" plain)
	head -c $((BS * 256)) /dev/urandom >"$dir/data"
	dd if="$dir/data" of="$dev" bs=1M seek=$((first * BS / 1048576 + 1)) oflag=direct \
		conv=notrunc,fsync status=none || fail "first write" || return
	out=$(dd if=/dev/urandom of="$dev" bs=1M seek=$((first * BS / 1048576 + 2)) \
		count=200 oflag=direct conv=notrunc 2>&1) &&
		{ fail "200 MiB fit in a 64 MiB file system"; return; }
	echo "$out" | grep -q 'No space left on device' || fail "dd: $out" || return
	cmp <(dd if="$dev" bs=1M skip=$((first * BS / 1048576 + 1)) count=1 iflag=direct \
		status=none) "$dir/data" || fail "earlier data damaged" || return
	"$VDECTL" detach "$dev" || fail "detach" || return
	undisk
}

ktap_header 3
ktap_run plain_blocks_eio_on_disk_errors_then_recover plain_faults
ktap_run encrypted_blocks_eio_on_disk_errors_then_recover encrypted_faults
ktap_run full_backing_fs_enospc_nothing_corrupted enospc
ktap_finish
