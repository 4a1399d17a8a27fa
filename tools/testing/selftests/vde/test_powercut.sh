#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of the power-cut test (tools/testing/powercut.sh drives it):
#
#   test_powercut.sh write SEED [-N]
#                                 make ext4 on the disk with serial
#                                 "vde-disk", a plain and an encrypted
#                                 image on it, attach their DATA regions
#                                 and write both with vde_powercut until the
#                                 power is cut
#   test_powercut.sh check SEED DIR
#                                 after the cut: replay the journal, check
#                                 both images and every acknowledged write
#                                 (DIR holds the write run's logs)
#
# The kernel's direct I/O (plain image) and the helper's io_uring
# (encrypted image) carry acknowledged writes at the same time.  -N is the
# negative control: the writers acknowledge without flushing.  The
# backing file system is mounted with commit=600 so that only flushes,
# never the journal's timer, make writes durable.

. "$(dirname "$0")/test_common.sh"
require_root

VDECTL=${VDECTL:-$VDE_SRC/build/user/vdectl}
PC=$(dirname "$0")/vde_powercut
mode=$1 seed=$2
mnt=/tmp/vde/powercut
key=$mnt/key
kinds=(plain enc)
declare -A dev

disk=
for s in /sys/block/vd*/serial; do
	[ "$(cat "$s" 2>/dev/null)" = vde-disk ] && disk=/dev/$(basename "$(dirname "$s")")
done
[ -b "$disk" ] || ktap_skip_all "no disk with serial vde-disk"
mkdir -p "$mnt"

attach() {
	local k=$1 opts=()
	[ "$k" = enc ] && opts=(--key-file "$key")
	dev[$k]=$("$VDECTL" attach --show --region DATA "${opts[@]}" "$mnt/$k.vde") ||
		fail "attach $k.vde"
}

if [ "$mode" = write ]; then
	mkfs.ext4 -q -F "$disk" || exit 1
	mount -o commit=600 "$disk" "$mnt" || exit 1
	"$VDECTL" create --profile standard --size 64M "$mnt/plain.vde" >/dev/null || exit 1
	"$VDECTL" create --profile standard --size 64M --encrypt DATA \
		--key-file "$key" "$mnt/enc.vde" >/dev/null || exit 1
	sync -f "$mnt" || exit 1
	pids=()
	for k in "${kinds[@]}"; do
		attach "$k" || exit 1
		echo "# ${dev[$k]}: $k.vde DATA, seed $seed"
		"$PC" write -d "${dev[$k]}" -s "$seed" -l "$VDE_OUT/acked-$k" \
			-m "/tmp/vde/ready-$k" ${3:+"$3"} &
		pids+=($!)
	done
	# The cue for the power cut: both writers are acknowledging.
	while [ ! -e /tmp/vde/ready-plain ] || [ ! -e /tmp/vde/ready-enc ]; do
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null || { echo "# a writer died"; exit 1; }
		done
		sleep 0.2
	done
	touch "$VDE_OUT/cut-now"
	wait
	exit 1
fi

[ "$mode" = check ] || { echo "usage: $0 write|check SEED [DIR]" >&2; exit 2; }
logs=$3
cleanup() {
	"$VDECTL" detach --all >/dev/null 2>&1
	umount "$mnt" 2>/dev/null
}
trap cleanup EXIT

ktap_header 8
ktap_run "the backing file system mounts after the cut (journal replay)" \
	mount "$disk" "$mnt"
verify() {
	[ -b "${dev[$1]}" ] || fail "no device" || return
	"$PC" check -d "${dev[$1]}" -s "$seed" -l "$logs/acked-$1"
}
for k in "${kinds[@]}"; do
	opts=()
	[ "$k" = enc ] && opts=(--key-file "$key")
	ktap_run "$k: vdectl check: the image's metadata is intact" \
		"$VDECTL" check "${opts[@]}" "$mnt/$k.vde"
	ktap_run "$k: the image attaches" attach "$k"
	ktap_run "$k: every write acknowledged by a flush survived, no block torn" verify "$k"
done
fsck_clean() {
	"$VDECTL" detach --all || fail "detach" || return
	# The encrypted image's helper exits, closing the image, only once it
	# has seen its device go: umount waits for it (10 s at most).
	wait_for 100 umount "$mnt" 2>/dev/null || fail "umount" || return
	e2fsck -fn "$disk"
}
ktap_run "the backing file system is clean (e2fsck -fn)" fsck_clean
ktap_finish
