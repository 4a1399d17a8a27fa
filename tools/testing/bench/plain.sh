#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark of the in-kernel plain path, run inside the test VM: fio on
# /dev/vdeN against loop with direct I/O over the same backing file, in
# the same run.  Each test is measured in the order vde, loop, loop, vde
# and each device's two results averaged, so that neither device always
# runs on a warmer or colder machine.  Prints a table of ratios
# (vde / loop); the numbers are never asserted anywhere.
#
#   tools/testing/vm/run -- tools/testing/bench/plain.sh
#
# VDE_BENCH_RUNTIME (seconds per measurement, default 8) and
# VDE_BENCH_SIZE (backing file size, default 1G) tune it.

set -eu
runtime=${VDE_BENCH_RUNTIME:-8}
size=${VDE_BENCH_SIZE:-1G}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
vdetest=$top/build/selftests/vde/vdetest
img=$VDE_SCRATCH/bench.img
out=${VDE_OUT:-/tmp}/bench-plain.txt

modprobe loop
rm -f "$img"
fio --name=fill --filename="$img" --size="$size" --rw=write --bs=1M \
	--direct=1 --ioengine=libaio --iodepth=4 --output=/dev/null
vde=/dev/vde$("$vdetest" add "$img")
loop=$(losetup --direct-io=on --show -f "$img")
cleanup() {
	losetup -d "$loop" 2>/dev/null || true
	"$vdetest" remove "${vde#/dev/vde}" -f 2>/dev/null || true
	rm -f "$img"
}
trap cleanup EXIT

. "$here/lib.sh"
: >"$out"
table_head "vde plain path vs loop (direct I/O), kernel $(uname -r), ${runtime}s per run" \
	vde loop "$out"
table_rows "$vde" "$loop" "$out" --size="$size"
