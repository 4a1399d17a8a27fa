#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Helpers shared by vde's shell selftests: KTAP output, skips, module
# handling.  Source it; tests run as root inside the test VM, where
# $VDE_KO names the vde.ko built for the running kernel.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

_ktap_n=0
_ktap_fail=0

ktap_header() { echo "TAP version 13"; echo "1..$1"; }

# ktap_result NAME STATUS [REASON]: STATUS 0 = ok, 4 = skip, else not ok.
ktap_result() {
	_ktap_n=$((_ktap_n + 1))
	case $2 in
	0) echo "ok $_ktap_n $1" ;;
	4) echo "ok $_ktap_n $1 # SKIP ${3:-}" ;;
	*) echo "not ok $_ktap_n $1${3:+ # $3}"; _ktap_fail=1 ;;
	esac
}

# ktap_run NAME FUNCTION [ARGS...]: run a test function (in this shell, so
# that it can leave state for later tests and for the cleanup trap).
ktap_run() {
	local name=$1 rc
	shift
	"$@"
	rc=$?
	ktap_result "$name" "$rc"
}

ktap_finish() { exit $((_ktap_fail ? KSFT_FAIL : KSFT_PASS)); }

ktap_skip_all() {
	echo "TAP version 13"
	echo "1..0 # SKIP $1"
	exit $KSFT_SKIP
}

log() { echo "# $*"; }

# fail MESSAGE: report why a test function fails and return non-zero.
fail() { echo "# FAIL: $*"; return 1; }

require_root() { [ "$(id -u)" = 0 ] || ktap_skip_all "needs root"; }

require_ko() {
	[ -n "${VDE_KO:-}" ] && [ -f "$VDE_KO" ] ||
		ktap_skip_all "VDE_KO does not name a built vde.ko"
}

vde_loaded() { [ -d /sys/module/vde ]; }

# poke FILE OFFSET: flip the low bit of one byte.
poke() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# wait_for COUNT CMD...: poll CMD every 0.1 s, COUNT times at most.
wait_for() {
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# vde_reload [PARAMS]: make sure vde.ko is loaded (with PARAMS if given).
# shellcheck disable=SC2120 # the tests that source this pass PARAMS
vde_reload() {
	vde_loaded && { rmmod vde || return 1; }
	insmod "$VDE_KO" "$@" || return 1
	wait_for 50 test -c /dev/vde-control
}

VDETEST=${VDETEST:-$(dirname "$0")/vdetest}

# require_scratch: skip unless the VM's scratch file system is there.
require_scratch() {
	[ -n "${VDE_SCRATCH:-}" ] && [ -d "$VDE_SCRATCH" ] ||
		ktap_skip_all "VDE_SCRATCH is not set (run in the test VM)"
	vde_loaded || vde_reload || ktap_skip_all "cannot load vde.ko"
}

# vde_attach_raw FILE [vdetest add options]: attach FILE, print the index.
# vde_devs: the names of the vde block devices, one per line.
vde_devs() {
	local d
	for d in /sys/block/vde[0-9]*; do
		[ -e "$d" ] && echo "${d##*/}"
	done
	return 0
}

# vde_detach_all: vdectl detach --all ($VDECTL), and no vde device is left.
vde_detach_all() {
	"$VDECTL" detach --all || fail "detach --all" || return
	[ -z "$(vde_devs)" ] || fail "devices left: $(vde_devs | tr '\n' ' ')"
}

vde_attach_raw() { "$VDETEST" add "$@"; }

vde_detach_raw() { "$VDETEST" remove "$@"; }

# vde_extent DEV KIND: "first count" of the first extent of KIND (plain,
# encrypted, hidden) in DEV's region map.
vde_extent() {
	awk -v k="$2" '$3 == k { print $1, $2; exit }' \
		"/sys/block/${1#/dev/}/vde/region_map"
}

# vde_helper_state DEV: the state of DEV's helper (none, live, lost).
vde_helper_state() {
	awk '$1 == "state" { print $2 }' "/sys/block/${1#/dev/}/vde/helper"
}
