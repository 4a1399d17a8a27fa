#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Eight devices attached and detached in a loop, 100 rounds, while fio
# verifies data on another device: no errors, and no device numbers or
# names leak.  Then the module life cycle around live devices: unload is
# refused while a device exists, max_devices is enforced.

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch

rounds=${VDE_CHURN_ROUNDS:-100}
dir=$VDE_SCRATCH/churn
mkdir -p "$dir"
for i in $(seq 0 7); do truncate -s 8M "$dir/$i.img"; done
truncate -s 128M "$dir/busy.img"
busy=
cleanup() {
	[ -n "$busy" ] && vde_detach_raw "$busy" -f 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

churn() {
	local fio_pid rc=0 err
	busy=$(vde_attach_raw "$dir/busy.img") || return 1
	fio --name=busy --filename="/dev/vde$busy" --direct=1 --ioengine=libaio \
		--iodepth=8 --rw=randwrite --bs=16k --size=96M --rate_iops=400 \
		--time_based --runtime=3600 --verify=crc32c --verify_fatal=1 \
		--verify_backlog=64 --verify_state_save=0 --randrepeat=0 \
		--output="$dir/fio.out" &
	fio_pid=$!
	err=$("$VDETEST" churn "$rounds" "$dir"/[0-7].img 2>&1) || rc=1
	kill -INT $fio_pid
	wait $fio_pid
	local frc=$?
	[ $rc = 0 ] || fail "attach/detach failed: $err" || return
	grep -q 'verify' "$dir/fio.out" && grep -qi 'bad\|mismatch' "$dir/fio.out" &&
		fail "fio verify errors: $(grep -i 'bad\|mismatch' "$dir/fio.out" | head -3)" && return
	grep -q 'err= 0' "$dir/fio.out" || fail "fio ended with an error (rc $frc): $(tail -5 "$dir/fio.out")"
}

no_leaks() {
	local left
	left=$(vde_devs | grep -vx "vde$busy")
	[ -z "$left" ] || fail "devices left: $left" || return
	# The lowest free index is reused: nothing was leaked.
	local idx
	idx=$(vde_attach_raw "$dir/0.img") || return 1
	vde_detach_raw "$idx"
	[ "$idx" -le 1 ] || fail "next index is $idx, want 0 or 1"
}

unload_refused_with_device() {
	local err
	err=$(rmmod vde 2>&1) && fail "rmmod succeeded with a device attached" && return
	echo "$err" | grep -q 'in use' || fail "rmmod: $err" || return
	[ -d /sys/module/vde ] || fail "module gone"
}

unload_after_detach() {
	vde_detach_raw "$busy" || return 1
	busy=
	rmmod vde || fail "rmmod after detach" || return
	vde_reload
}

max_devices_enforced() {
	local a b err
	vde_reload max_devices=2 || return 1
	a=$(vde_attach_raw "$dir/0.img") && b=$(vde_attach_raw "$dir/1.img") ||
		fail "two devices with max_devices=2" || return
	err=$(vde_attach_raw "$dir/2.img" 2>&1) && fail "third device accepted" && return
	echo "$err" | grep -q 'No space left' || fail "third ADD: $err"
	vde_detach_raw "$a"
	vde_detach_raw "$b"
	vde_reload
}

ktap_header 5
ktap_run "attach_detach_8x${rounds}_under_fio" churn
ktap_run no_device_leaks no_leaks
ktap_run rmmod_refused_while_device_exists unload_refused_with_device
ktap_run rmmod_after_detach unload_after_detach
ktap_run max_devices_enforced max_devices_enforced
ktap_finish
