#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A file system on /dev/vdeN survives detach and re-attach: mkfs.ext4,
# mount, write a tree of files, unmount, fsck -n clean, detach,
# re-attach, contents identical.  Plus: a flush makes writes visible in
# the image file through a fresh open.

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch

img=$VDE_SCRATCH/fs.img
mnt=$(mktemp -d)
sums=$(mktemp)
idx=
cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	[ -n "$idx" ] && vde_detach_raw "$idx" -f 2>/dev/null
	rm -rf "$img" "$mnt" "$sums"
}
trap cleanup EXIT
truncate -s 0 "$img"
truncate -s 256M "$img"

make_fs() {
	idx=$(vde_attach_raw "$img") || return 1
	mkfs.ext4 -q -F "/dev/vde$idx" || fail "mkfs.ext4" || return
	mount "/dev/vde$idx" "$mnt" || fail "mount" || return
	mkdir -p "$mnt/tree" &&
	cp -a "$VDE_SRC/kmod" "$VDE_SRC/include" "$mnt/tree/" || fail "copy" || return
	local i
	for i in $(seq 1 40); do
		head -c $((i * 7919)) /dev/urandom >"$mnt/tree/file$i" || return 1
	done
	dd if=/dev/urandom of="$mnt/tree/big" bs=1M count=32 status=none || return 1
	(cd "$mnt" && find tree -type f -print0 | sort -z | xargs -0 sha256sum) >"$sums"
	[ "$(wc -l <"$sums")" -gt 40 ] || fail "checksum list too short"
}

unmount_fsck() {
	umount "$mnt" || fail "umount" || return
	local out
	out=$(fsck.ext4 -fn "/dev/vde$idx" 2>&1) || fail "fsck -n found problems: $out"
}

reattach_same() {
	vde_detach_raw "$idx" || fail "detach" || return
	idx=$(vde_attach_raw "$img") || fail "re-attach" || return
	mount -o ro "/dev/vde$idx" "$mnt" || fail "mount after re-attach" || return
	(cd "$mnt" && sha256sum --quiet -c "$sums") || fail "contents differ"
	umount "$mnt"
}

flush_reaches_file() {
	local want got
	want=$(head -c 65536 /dev/urandom | tee "$VDE_SCRATCH/chunk" | sha256sum)
	dd if="$VDE_SCRATCH/chunk" of="/dev/vde$idx" bs=64k seek=100 oflag=direct conv=fsync status=none ||
		fail "dd to device" || return
	got=$(dd if="$img" bs=64k skip=100 count=1 iflag=direct status=none | sha256sum)
	rm -f "$VDE_SCRATCH/chunk"
	[ "$want" = "$got" ] || fail "image file does not hold the flushed data"
}

ktap_header 4
ktap_run mkfs_and_write_tree make_fs
ktap_run unmount_and_fsck_clean unmount_fsck
ktap_run reattach_contents_identical reattach_same
ktap_run flush_reaches_image_file flush_reaches_file
ktap_finish
