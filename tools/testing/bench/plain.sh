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

# measure DEV RW BS QD: print "iops kib_per_s" of one fio run.
measure() {
	local dev=$1 rw=$2 bs=$3 qd=$4 line
	line=$(fio --name=b --filename="$dev" --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --direct=1 --ioengine=libaio --time_based \
		--runtime="$runtime" --ramp_time=2 --size="$size" \
		--randrepeat=0 --norandommap --output-format=terse \
		--terse-version=3)
	# terse v3: 7/8 read KiB/s and IOPS, 48/49 write KiB/s and IOPS
	echo "$line" | awk -F';' '{ if ($8 > 0) print $8, $7; else print $49, $48 }'
}

# measure2 DEV1 DEV2 RW BS QD: "iops1 kib1 iops2 kib2", each the mean of
# two runs in the order DEV1 DEV2 DEV2 DEV1.
measure2() {
	local a b c d
	a=$(measure "$1" "$3" "$4" "$5")
	b=$(measure "$2" "$3" "$4" "$5")
	c=$(measure "$2" "$3" "$4" "$5")
	d=$(measure "$1" "$3" "$4" "$5")
	echo "$a $d $b $c" | awk '{ print ($1 + $3) / 2, ($2 + $4) / 2, ($5 + $7) / 2, ($6 + $8) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }'; }

{
	echo "vde plain path vs loop (direct I/O), kernel $(uname -r), ${runtime}s per run"
	printf '%-22s %10s %10s %7s %10s %10s %7s\n' test "vde IOPS" "loop IOPS" ratio \
		"vde MiB/s" "loop MiB/s" ratio
} | tee "$out"
for t in "randread 4k 1" "randread 4k 32" "read 128k 8" "write 128k 8"; do
	set -- $t
	read -r vi vb li lb < <(measure2 "$vde" "$loop" "$1" "$2" "$3")
	printf '%-22s %10.0f %10.0f %7s %10.1f %10.1f %7s\n' "$1 $2 qd$3" \
		"$vi" "$li" "$(ratio "$vi" "$li")" \
		"$(awk -v k="$vb" 'BEGIN { print k / 1024 }')" \
		"$(awk -v k="$lb" 'BEGIN { print k / 1024 }')" \
		"$(ratio "$vb" "$lb")" | tee -a "$out"
done
