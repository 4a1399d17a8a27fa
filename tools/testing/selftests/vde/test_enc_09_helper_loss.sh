#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kill -9 of the helper under fio load.  Plain-region I/O keeps succeeding
# throughout; with the fail policy encrypted I/O gets EIO until `vdectl
# recover` starts a new helper; with the hold policy a verifying fio run
# finishes with no error at all once the helper is recovered.  The kernel
# must stay healthy (the VM runner checks dmesg and taint).

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch

VDECTL=${VDECTL:-$VDE_SRC/build/user/vdectl}
dir=$VDE_SCRATCH/loss
mkdir -p "$dir"
img=$dir/enc.vde
key=$dir/key
BS=4096
dev=
cleanup() {
	"$VDECTL" detach --all --force >/dev/null 2>&1
	umount "$dir/mnt" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

"$VDECTL" create --profile standard --size 64M --encrypt DATA --key-file "$key" \
	"$img" >/dev/null || ktap_skip_all "vdectl create --encrypt failed"

# helper_pids DEV: processes that hold /dev/vdecN open.
helper_pids() {
	find /proc/[0-9]*/fd -maxdepth 1 -lname "/dev/vdec${1#/dev/vde}" \
		2>/dev/null | cut -d/ -f3 | sort -u
}

helper_is() { [ "$(vde_helper_state "$dev")" = "$1" ]; }

kill_helper() {
	local pids
	pids=$(helper_pids "$dev")
	[ -n "$pids" ] || fail "no helper process for $dev" || return
	kill -9 $pids
	wait_for 50 helper_is lost ||
		fail "helper state is $(vde_helper_state "$dev"), not lost"
}

enc_first='' plain_first='' plain_count=''
attach() {
	dev=$("$VDECTL" attach --show --key-file "$key" "$@" "$img") ||
		fail "attach $*" || return
	read -r enc_first _ < <(vde_extent "$dev" encrypted)
	read -r plain_first plain_count < <(vde_extent "$dev" plain)
	[ -n "$enc_first" ] && [ -n "$plain_first" ] || fail "region map"
}

# Reads of plain blocks for SECONDS, in the background; errors are fatal.
plain_reader() {
	fio --name=plain --filename="$dev" --offset=$((plain_first * BS)) \
		--size=$((plain_count * BS)) --rw=randread --bs=4k --direct=1 \
		--ioengine=libaio --iodepth=8 --time_based --runtime="$1" \
		--output="$dir/plain.out"
}

fail_policy() {
	local plain_pid enc_pid out
	attach || return
	dd if=/dev/urandom of="$dev" bs=$BS seek=$((enc_first + 4)) count=16 \
		oflag=direct conv=notrunc status=none || fail "seed write" || return
	plain_reader 8 &
	plain_pid=$!
	fio --name=enc --filename="$dev" --offset=$((enc_first * BS)) \
		--size=16M --rw=randread --bs=4k --direct=1 --ioengine=libaio \
		--iodepth=8 --time_based --runtime=8 --output="$dir/enc.out" &
	enc_pid=$!
	sleep 2
	kill_helper || return
	wait "$enc_pid" && { fail "encrypted fio saw no error"; return; }
	grep -q 'Input/output error' "$dir/enc.out" ||
		{ cat "$dir/enc.out"; fail "encrypted fio failed otherwise"; } || return
	# Encrypted I/O fails at once now; plain I/O goes on.
	out=$(dd if="$dev" of=/dev/null bs=$BS skip=$((enc_first + 4)) count=1 \
		iflag=direct 2>&1) && { fail "encrypted read without a helper"; return; }
	echo "$out" | grep -q 'Input/output error' || fail "dd: $out" || return
	wait "$plain_pid" || { cat "$dir/plain.out"; fail "plain fio failed"; } || return
	grep -q 'err= 0' "$dir/plain.out" || fail "plain fio errors" || return
	"$VDECTL" recover --key-file "$key" "$dev" || fail "recover" || return
	[ "$(vde_helper_state "$dev")" = live ] || fail "not live after recover" || return
	dd if="$dev" of=/dev/null bs=$BS skip=$((enc_first + 4)) count=16 \
		iflag=direct status=none || fail "read after recover" || return
	"$VDECTL" detach "$dev" || fail "detach"
}

hold_policy() {
	local fio_pid plain_pid
	attach --on-helper-loss hold || return
	grep -qx 'policy hold' "/sys/block/${dev#/dev/}/vde/helper" || fail "policy" || return
	plain_reader 10 &
	plain_pid=$!
	fio --name=hold --filename="$dev" --offset=$((enc_first * BS)) \
		--size=16M --rw=randwrite --bs=4k --direct=1 --ioengine=libaio \
		--iodepth=16 --rate_iops=1500 --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --randrepeat=0 --verify_state_save=0 --output="$dir/hold.out" &
	fio_pid=$!
	sleep 2
	kill_helper || return
	sleep 2
	kill -0 "$fio_pid" 2>/dev/null || fail "fio ended while the helper was gone" || return
	"$VDECTL" recover --key-file "$key" "$dev" || fail "recover" || return
	wait "$fio_pid" || { cat "$dir/hold.out"; fail "fio failed"; } || return
	grep -q 'err= 0' "$dir/hold.out" || { cat "$dir/hold.out"; fail "fio errors"; } || return
	wait "$plain_pid" || { cat "$dir/plain.out"; fail "plain fio failed"; } || return
	"$VDECTL" detach "$dev" || fail "detach"
}

# Removing a device whose helper is gone and whose requests are held
# fails them and succeeds.
hold_then_remove() {
	local pid
	attach --on-helper-loss hold || return
	kill_helper || return
	dd if="$dev" of=/dev/null bs=$BS skip="$enc_first" count=1 iflag=direct \
		status=none 2>/dev/null &
	pid=$!
	sleep 1
	kill -0 "$pid" 2>/dev/null || fail "the read was not held" || return
	"$VDECTL" detach --force "$dev" || fail "detach --force" || return
	wait "$pid" && { fail "the held read succeeded"; return; }
	[ ! -e "$dev" ] || fail "$dev still exists"
}

# The helper's pid in sysfs and in `vdectl stats` is the process that
# holds /dev/vdecN; `vdectl detach` returns once it has exited (here a
# second late: it is stopped until then), so the file system the image is
# on can be unmounted at once.
detach_waits_for_helper() {
	local mnt=$dir/mnt fsimg=$dir/fs.img pid spid out
	modprobe loop 2>/dev/null
	truncate -s 256M "$fsimg" && mkfs.ext4 -q "$fsimg" && mkdir -p "$mnt" &&
		mount -o loop "$fsimg" "$mnt" || fail "mount a file system" || return
	"$VDECTL" create --profile minimal --size 16M --encrypt DATA \
		--key-file "$mnt/key" "$mnt/enc.vde" >/dev/null || fail "create" || return
	dev=$("$VDECTL" attach --show --key-file "$mnt/key" "$mnt/enc.vde") ||
		fail "attach" || return
	pid=$(helper_pids "$dev")
	spid=$(awk '$1 == "pid" { print $2 }' "/sys/block/${dev#/dev/}/vde/helper")
	[ -n "$pid" ] && [ "$spid" = "$pid" ] ||
		fail "sysfs pid '$spid', the process holding /dev/vdec: '$pid'" || return
	out=$("$VDECTL" stats "$dev") || fail "stats" || return
	echo "$out" | grep -q "^helper state:  live, .*, pid $pid\$" ||
		fail "stats: $out" || return
	kill -STOP "$pid"
	(sleep 1; kill -CONT "$pid") &
	"$VDECTL" detach "$dev" || fail "detach" || return
	umount "$mnt" || fail "the image's file system is still busy after detach"
}

# A helper that does not exit (stopped) is reported after --wait seconds;
# the device is detached all the same.
detach_reports_stuck_helper() {
	local pid err
	attach || return
	pid=$(helper_pids "$dev")
	[ -n "$pid" ] || fail "no helper process" || return
	kill -STOP $pid
	err=$("$VDECTL" detach --wait 2 "$dev" 2>&1) &&
		{ kill -CONT $pid; fail "detach succeeded with a stopped helper"; return; }
	kill -CONT $pid
	echo "$err" | grep -q "^vdectl: $dev is detached, but its helper (pid $pid) has not exited after 2 s\$" ||
		fail "detach said: $err" || return
	[ ! -e "$dev" ] || fail "$dev still exists" || return
	wait_for 50 sh -c "! grep -qs '^State:[[:space:]]*[RSD]' /proc/$pid/status" ||
		fail "the helper did not exit once continued"
}

ktap_header 5
ktap_run fail_policy_eio_plain_unaffected_recover fail_policy
ktap_run hold_policy_fio_verify_zero_errors hold_policy
ktap_run held_requests_fail_on_remove hold_then_remove
ktap_run detach_waits_for_helper detach_waits_for_helper
ktap_run detach_reports_stuck_helper detach_reports_stuck_helper
ktap_finish
