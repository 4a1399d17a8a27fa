#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fio with crc32c verification on /dev/vdeN: random writes then verified
# reads, 4 KiB / 64 KiB / 1 MiB blocks at queue depth 1 and 32, two jobs
# on separate halves of the device.  Zero verify errors allowed.

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch
command -v fio >/dev/null || ktap_skip_all "fio is not installed"

img=$VDE_SCRATCH/fio.img
truncate -s 0 "$img"
truncate -s 256M "$img"
idx=$(vde_attach_raw "$img") || ktap_skip_all "cannot attach $img"
trap 'vde_detach_raw "$idx" -f; rm -f "$img"' EXIT

fio_verify() {
	local bs=$1 qd=$2 out
	out=$(fio --name="verify-$bs-qd$qd" --filename="/dev/vde$idx" \
		--direct=1 --ioengine=libaio --iodepth="$qd" --rw=randwrite \
		--bs="$bs" --size=48M --numjobs=2 --offset_increment=128M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		--randrepeat=0 --group_reporting --output-format=terse \
		--terse-version=3 2>&1)
	local rc=$?
	# terse v3: field 5 is the job's error number.
	local err
	err=$(echo "$out" | awk -F';' 'NF > 10 { print $5; exit }')
	[ $rc = 0 ] && [ "$err" = 0 ] || fail "fio bs=$bs qd=$qd: rc $rc err '$err': $(echo "$out" | tail -n 5)"
}

no_errors_counted() {
	local e
	e=$(sed -n 's/^errors //p' "/sys/block/vde$idx/vde/stats")
	[ "$e" = 0 ] || fail "device counted $e errors"
}

ktap_header 7
for bs in 4k 64k 1M; do
	for qd in 1 32; do
		ktap_run "fio_verify_bs${bs}_qd$qd" fio_verify "$bs" "$qd"
	done
done
ktap_run no_errors_counted no_errors_counted
ktap_finish
