#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark of exporting, run inside the test VM: fio through the disks
# that LIO (tcm_loop; iSCSI over a veth pair into a network namespace) and
# the NVMe target (TCP on 127.0.0.1) make of one /dev/vdeN, against the
# same /dev/vdeN used directly, in the same run (order exported, vde, vde,
# exported).  Prints a table of ratios (exported / vde) per exporter; the
# numbers are never asserted anywhere.
#
#   tools/testing/vm/run -- tools/testing/bench/export.sh
#
# VDE_BENCH_RUNTIME (seconds per measurement, default 8) and
# VDE_BENCH_SIZE (backing file size, default 1G) tune it.

set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
img=$VDE_SCRATCH/bench-export.img
out=${VDE_OUT:-/tmp}/bench-export.txt
tmp=/tmp/vde/bench-export
serial=5eedfacecafe4bedbeadf00d0ddba11a
iqn=iqn.2003-01.org.linux-iscsi.vde:bench
nqn=nqn.2014-08.org.vde:bench

. "$top/tools/testing/selftests/vde/test_common.sh"
. "$top/tools/testing/selftests/vde/export_common.sh"

mkdir -p "$tmp"
rm -f "$img"
fio --name=fill --filename="$img" --size="$size" --rw=write --bs=1M \
	--direct=1 --ioengine=libaio --iodepth=4 --output=/dev/null
vde=/dev/vde$("$vdetest" add "$img")
cleanup() {
	set +e
	iscsi_teardown
	nvmet_teardown $nqn
	lio_teardown "$tmp"
	"$vdetest" remove "${vde#/dev/vde}" -f 2>/dev/null
	rm -f "$img"
}
trap cleanup EXIT

lio_setup "$tmp"
sd=$(tcm_loop_add bench "$vde" $serial)
iscsi_target_add bench $iqn
iscsi_initiator_start
isd=$(iscsi_login $iqn)
nvmet_add $nqn "$vde" $serial
nvme=$(nvme_tcp_connect $nqn $serial)
echo "# $vde exported: tcm_loop $sd, iSCSI $isd, NVMe/TCP $nvme"

: >"$out"
for e in "tcm_loop $sd" "iSCSI $isd" "NVMe/TCP $nvme"; do
	set -- $e
	table_head "$1 vs /dev/vdeN directly (plain path), kernel $(uname -r), ${runtime}s per run" \
		"$1" vde "$out"
	table_rows "$2" "$vde" "$out" --size="$size"
	echo | tee -a "$out"
done
