#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark of the encrypted path, run inside the test VM: fio on the
# encrypted region of /dev/vdeN (served by the helper) against dm-crypt
# (plain aes-xts-plain64, 4096-byte sectors, iv_large_sectors: the same
# cipher and layout) on a direct-I/O loop device over the same image, same
# offsets, same run; then a via-helper attach of a plain image (every
# request through the helper) against loop.  Prints ratios; the numbers are
# never asserted anywhere.
#
#   tools/testing/vm/run -- tools/testing/bench/enc.sh
#
# VDE_BENCH_RUNTIME (seconds per measurement, default 8) and
# VDE_BENCH_SIZE (image size, default 1G) tune it.

set -eu
runtime=${VDE_BENCH_RUNTIME:-8}
size=${VDE_BENCH_SIZE:-1G}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
vdectl=$top/build/user/vdectl
dir=$VDE_SCRATCH/bench-enc
out=${VDE_OUT:-/tmp}/bench-enc.txt
img=$dir/enc.vde
key=$dir/key

modprobe loop
modprobe dm-crypt
mkdir -p "$dir"
vde='' loop='' dm=''
cleanup() {
	[ -n "$dm" ] && cryptsetup close vdebench
	[ -n "$loop" ] && losetup -d "$loop"
	"$vdectl" detach --all --force >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

. "$here/lib.sh"
: >"$out"

"$vdectl" create --profile minimal --size "$size" --encrypt DATA \
	--key-file "$key" "$img" >/dev/null
vde=$("$vdectl" attach --show --key-file "$key" "$img")
read -r first count < <(awk '$3 == "encrypted" { print $1, $2; exit }' \
	"/sys/block/${vde#/dev/}/vde/region_map")
off=$((first * 4096))
len=$(((count * 4096) & ~(1024 * 1024 - 1)))
# Real ciphertext everywhere the tests read, not holes.
fio --name=fill --filename="$vde" --offset="$off" --size="$len" --rw=write \
	--bs=256k --direct=1 --ioengine=libaio --iodepth=8 --output=/dev/null
loop=$(losetup --direct-io=on --show -f "$img")
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 \
	--sector-size 4096 --iv-large-sectors --key-file "$key" "$loop" vdebench
dm=/dev/mapper/vdebench

table_head "vde encrypted region (helper, $(sed -n 's/^transport //p' \
	"/sys/block/${vde#/dev/}/vde/helper")) vs dm-crypt on loop, kernel $(uname -r), ${runtime}s per run" \
	vde dm-crypt "$out"
table_rows "$vde" "$dm" "$out" --offset="$off" --size="$len"

cryptsetup close vdebench
dm=
losetup -d "$loop"
loop=
"$vdectl" detach "$vde"

# Via-helper mode on a plain image: the whole helper round trip, no cipher.
"$vdectl" create --profile minimal --size "$size" "$dir/plain.vde" >/dev/null
vde=$("$vdectl" attach --show --via-helper "$dir/plain.vde")
read -r first count < <(awk '$3 == "plain" { f = $1; c = $2 } END { print f, c }' \
	"/sys/block/${vde#/dev/}/vde/region_map")
off=$((first * 4096))
len=$(((count * 4096) & ~(1024 * 1024 - 1)))
fio --name=fill --filename="$vde" --offset="$off" --size="$len" --rw=write \
	--bs=256k --direct=1 --ioengine=libaio --iodepth=8 --output=/dev/null
loop=$(losetup --direct-io=on --show -f "$dir/plain.vde")
echo | tee -a "$out"
table_head "vde via helper (plain image) vs loop (direct I/O)" vde loop "$out"
table_rows "$vde" "$loop" "$out" --offset="$off" --size="$len"
echo "ublk: not compared: no ublk server in Debian 12's packages, and none in" \
	"linux-source-6.1 or linux-source-6.12 (whose tools/testing/selftests/ublk/" \
	"holds one test script, not the kublk server)" | tee -a "$out"
