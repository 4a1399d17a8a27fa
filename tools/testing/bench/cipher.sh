#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark of the cipher alone, run inside the test VM: libvde's
# AES-256-XTS (OpenSSL, what the helper runs; build/bench/xts_speed)
# against the kernel's xts(aes) (what dm-crypt runs; tcrypt's speed test
# of the async AES modes), one thread, 4096-byte data units, same run.
# It tells what the cipher costs apart from the rest of the data path in
# the tables of enc.sh.  Prints ratios; never asserted.
#
#   tools/testing/vm/run -- tools/testing/bench/cipher.sh
#
# tcrypt times every AES mode it knows, a second per key and block size
# (about five minutes under emulation), and stays unloaded: modprobe
# reports EAGAIN by design.  libvde is timed before and after it, for
# VDE_BENCH_RUNTIME seconds (default 2) per direction, and averaged.

set -eu -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
runtime=${VDE_BENCH_RUNTIME:-2}
out=${VDE_OUT:-/tmp}/bench-cipher.txt
speed=$top/build/bench/xts_speed
. "$here/lib.sh"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

before=$("$speed" "$runtime")
dmesg --clear
modprobe tcrypt mode=500 sec=1 2>/dev/null || true
dmesg >"$log"
after=$("$speed" "$runtime")

# "DRIVER ENC_MB_S DEC_MB_S" of xts(aes), 512-bit key, 4096-byte blocks.
kernel=$(awk '
	/testing speed of async/ {
		dir = ""
		if (match($0, /async xts\(aes\) \([^)]*\) (en|de)cryption/)) {
			s = substr($0, RSTART, RLENGTH)
			split(s, w, /[()]/)
			drv = w[4]
			dir = s ~ /encryption$/ ? "enc" : "dec"
		}
	}
	dir != "" && /512 bit key, 4096 byte blocks/ &&
	match($0, /operations in [0-9]+ seconds \([0-9]+ bytes\)/) {
		split(substr($0, RSTART, RLENGTH), w, /[ (]+/)
		mb[dir] = w[5] / w[3] / 1e6
	}
	END { if ("enc" in mb && "dec" in mb) print drv, mb["enc"], mb["dec"] }' "$log")
[ -n "$kernel" ] || { echo "cipher.sh: no xts(aes) result from tcrypt" >&2; exit 1; }
read -r driver kenc kdec <<<"$kernel"
# libvde's mean MB/s in direction $1 over the runs before and after.
ours() { printf '%s\n%s\n' "$before" "$after" |
	awk -v d="$1" '$1 == d { s += $2; n++ } END { printf "%.1f", s / n }'; }

{
	echo "cipher alone, one thread, 4096-byte data units: libvde (OpenSSL $(openssl version | awk '{ print $2 }')) vs kernel $driver (tcrypt), kernel $(uname -r)"
	printf '%-22s %12s %12s %7s\n' test "libvde MB/s" "kernel MB/s" ratio
	for d in decrypt encrypt; do
		k=$kdec
		[ "$d" = encrypt ] && k=$kenc
		o=$(ours "$d")
		printf '%-22s %12.1f %12.1f %7s\n' "aes-xts $d" "$o" "$k" \
			"$(ratio "$o" "$k")"
	done
} | tee "$out"
