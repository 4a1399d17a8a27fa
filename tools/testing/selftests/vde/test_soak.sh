#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bounded soak: for VDE_SOAK_SECONDS (default 60), fio verify workloads run
# at once on a plain device, on the encrypted region of another, and across
# that device's plain/encrypted boundary, while other images are attached
# and detached in a loop (plain and encrypted in turn).  Every fio job must
# end with zero errors and the churn must never fail; the VM runner fails
# the run on any kernel splat.
#
#   make soak [SOAK_SECONDS=600]

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch

VDECTL=${VDECTL:-$VDE_SRC/build/user/vdectl}
secs=${VDE_SOAK_SECONDS:-60}
dir=$VDE_SCRATCH/soak
mkdir -p "$dir"
cd "$dir" || exit 1
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	"$VDECTL" detach --all --force >/dev/null 2>&1
	cd / && rm -rf "$dir"
}
trap cleanup EXIT

key=$dir/key
"$VDECTL" create --profile minimal --size 256M "$dir/plain.vde" >/dev/null &&
	"$VDECTL" create --profile standard --size 256M --encrypt DATA --key-file "$key" \
		"$dir/enc.vde" >/dev/null &&
	"$VDECTL" create --profile minimal --size 32M "$dir/churn-plain.vde" >/dev/null &&
	"$VDECTL" create --profile standard --size 32M --encrypt DATA --key-file "$key" \
		"$dir/churn-enc.vde" >/dev/null || ktap_skip_all "vdectl create failed"

plain=$("$VDECTL" attach --show "$dir/plain.vde") &&
	enc=$("$VDECTL" attach --show --key-file "$key" "$dir/enc.vde") ||
	ktap_skip_all "attach failed"
read -r pfirst _ < <(awk '$3 == "plain" { f = $1; c = $2 } END { print f, c }' \
	"/sys/block/${plain#/dev/}/vde/region_map")
read -r efirst _ < <(vde_extent "$enc" encrypted)

# soak_fio NAME DEV OFFSET SIZE: random mixed I/O with verification of
# everything written, for $secs seconds.
soak_fio() {
	fio --name="$1" --filename="$2" --offset="$3" --size="$4" --direct=1 \
		--ioengine=libaio --iodepth=16 --rw=randrw --bsrange=4k-256k \
		--verify=crc32c --verify_fatal=1 --verify_backlog=64 \
		--verify_state_save=0 --time_based --runtime="$secs" \
		--randrepeat=0 --output="$dir/$1.out"
}

churn() {
	local end=$((SECONDS + secs)) n=0 d
	while [ $SECONDS -lt $end ]; do
		d=$("$VDECTL" attach --show "$dir/churn-plain.vde") || return 1
		dd if="$d" of=/dev/null bs=64k count=16 iflag=direct status=none || return 1
		"$VDECTL" detach "$d" || return 1
		d=$("$VDECTL" attach --show --key-file "$key" "$dir/churn-enc.vde") || return 1
		dd if="$d" of=/dev/null bs=64k count=16 iflag=direct status=none || return 1
		"$VDECTL" detach "$d" || return 1
		n=$((n + 1))
	done
	echo "$n" >"$dir/churn.count"
}

soak_fio plain "$plain" $((pfirst * 4096)) 64M &
p1=$!
soak_fio encrypted "$enc" $(((efirst + 64) * 4096)) 64M &
p2=$!
soak_fio boundary "$enc" $(((efirst - 8) * 4096)) 1M &
p3=$!
churn >"$dir/churn.log" 2>&1 &
p4=$!

# fio_ok NAME PID: the job ended well and reported no error.
fio_ok() {
	wait "$2" || { cat "$dir/$1.out"; fail "fio $1 failed"; } || return
	grep -q 'err= 0' "$dir/$1.out" || { cat "$dir/$1.out"; fail "fio $1 errors"; } || return
	log "$1: $(grep -E '^ +(read|write):' "$dir/$1.out" | tr -s ' ' | tr '\n' ' ')"
}

churn_ok() {
	wait "$p4" || { cat "$dir/churn.log"; fail "attach/detach churn failed"; } || return
	log "churn: $(cat "$dir/churn.count") rounds of two attach/read/detach"
}

ktap_header 5
log "soak for ${secs}s"
ktap_run fio_verify_plain_device fio_ok plain "$p1"
ktap_run fio_verify_encrypted_region fio_ok encrypted "$p2"
ktap_run fio_verify_plain_encrypted_boundary fio_ok boundary "$p3"
ktap_run attach_detach_churn churn_ok
ktap_run detach_all vde_detach_all
ktap_finish
