#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Module lifecycle: load and unload 20 times, parameter checking, and
# refusing to unload while the control device is open.

. "$(dirname "$0")/test_common.sh"
require_root
require_ko

VDECTL=${VDECTL:-$VDE_SRC/build/user/vdectl}

load_unload_20() {
	local i
	vde_loaded && { rmmod vde || return 1; }
	for i in $(seq 1 20); do
		insmod "$VDE_KO" || fail "insmod $i" || return
		wait_for 50 test -c /dev/vde-control || fail "no control device after load $i" || return
		rmmod vde || fail "rmmod $i" || return
		wait_for 50 test ! -e /dev/vde-control || fail "control device left after unload $i" || return
		[ ! -d /sys/module/vde ] || fail "module still present after unload $i" || return
	done
	vde_reload
}

# insmod with max_devices=$1 must fail with EINVAL ("Invalid parameters" from kmod).
bad_param() {
	local err
	vde_loaded && { rmmod vde || return 1; }
	err=$(insmod "$VDE_KO" "max_devices=$1" 2>&1) && { rmmod vde; fail "max_devices=$1 accepted"; return; }
	echo "$err" | grep -q 'Invalid param' || fail "max_devices=$1: $err" || return
	[ ! -d /sys/module/vde ] || fail "module present after refused load" || return
	vde_reload
}

param_reported() {
	local got
	vde_reload max_devices=17 || return 1
	[ "$(cat /sys/module/vde/parameters/max_devices)" = 17 ] || fail "sysfs max_devices" || return
	got=$("$VDECTL" features --json | sed -n 's/.*"max_devices": *\([0-9]*\).*/\1/p')
	[ "$got" = 17 ] || fail "GET_FEATURES max_devices is '$got', want 17" || return
	vde_reload
}

busy_while_open() {
	local err
	vde_reload || return 1
	exec 3</dev/vde-control
	err=$(rmmod vde 2>&1) && { exec 3<&-; fail "rmmod succeeded with the control device open"; return; }
	exec 3<&-
	echo "$err" | grep -q 'in use' || fail "rmmod error: $err" || return
	rmmod vde || fail "rmmod after close" || return
	vde_reload
}

ktap_header 6
ktap_run load_unload_20 load_unload_20
ktap_run max_devices_0_refused bad_param 0
ktap_run max_devices_65537_refused bad_param 65537
ktap_run max_devices_junk_refused bad_param 12abc
ktap_run max_devices_reported param_reported
ktap_run rmmod_busy_while_open busy_while_open
ktap_finish
