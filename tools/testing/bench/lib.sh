# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared by the benchmarks: fio measurements of two devices in the same
# run, in rounds of A, B, B, A, and a table of ratios A / B with the
# lowest and highest ratio of a single pair (A,B or B,A) beside it: under
# emulation the same build moves by tens of percent from run to run, and
# the range says how far one number can be trusted.  Sourced; uses
# $runtime and $rounds, which it defaults (with $size, $top and $vdetest)
# from VDE_BENCH_RUNTIME, VDE_BENCH_ROUNDS (default 2) and VDE_BENCH_SIZE
# if the script has not set them.

: "${runtime:=${VDE_BENCH_RUNTIME:-8}}"
: "${rounds:=${VDE_BENCH_ROUNDS:-2}}"
: "${size:=${VDE_BENCH_SIZE:-1G}}"
: "${top:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
: "${vdetest:=$top/build/selftests/vde/vdetest}"

# Seconds of each fio run before the measured window.
ramp=2

# busy_ticks: clock ticks all CPUs spent busy (not idle, not waiting).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# measure DEV RW BS QD [FIO OPTIONS...]: "iops kib_per_s cpu_ms_per_mib" of
# one fio run.  The CPU time is the whole machine's over the measured
# window (after the ramp): the submitter, the driver, its helper or
# workers, the cipher and the backing device alike.
measure() {
	local dev=$1 rw=$2 bs=$3 qd=$4 line ticks
	shift 4
	ticks=$(mktemp)
	{ sleep "$ramp"; busy_ticks; sleep "$runtime"; busy_ticks; } >"$ticks" &
	line=$(fio --name=b --filename="$dev" --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --direct=1 --ioengine=libaio --time_based \
		--runtime="$runtime" --ramp_time="$ramp" --randrepeat=0 \
		--norandommap --output-format=terse --terse-version=3 "$@")
	wait $!
	# terse v3: 7/8 read KiB/s and IOPS, 48/49 write KiB/s and IOPS
	echo "$line" | awk -F';' -v hz="$(getconf CLK_TCK)" -v t="$runtime" \
		-v t0="$(sed -n 1p "$ticks")" -v t1="$(sed -n 2p "$ticks")" '{
		if ($8 > 0) { i = $8; k = $7 } else { i = $49; k = $48 }
		print i, k, (k > 0 ? (t1 - t0) * 1000 / hz / (k * t / 1024) : 0)
	}'
	rm -f "$ticks"
}

# measure2 DEV1 DEV2 RW BS QD [FIO OPTIONS...]:
# "iops1 kib1 iops2 kib2 lo hi cpu1 cpu2", the means over $rounds rounds of
# DEV1 DEV2 DEV2 DEV1, the lowest and highest KiB/s ratio DEV1 / DEV2 of
# one adjacent pair, and the mean CPU ms per MiB of each.
measure2() {
	local d1=$1 d2=$2 r
	shift 2
	for ((r = 0; r < rounds; r++)); do
		measure "$d1" "$@"
		measure "$d2" "$@"
		measure "$d2" "$@"
		measure "$d1" "$@"
	done | awk '
		{ i[NR % 4] += $1; k[NR % 4] += $2; c[NR % 4] += $3; v[NR] = $2 }
		NR % 4 == 0 {
			for (p = NR - 3; p <= NR; p += 3) {
				q = p == NR - 3 ? p + 1 : p - 1
				x = v[q] > 0 ? v[p] / v[q] : 0
				if (n++ == 0 || x < lo) lo = x
				if (n == 1 || x > hi) hi = x
			}
		}
		END {
			m = NR / 2
			print (i[1] + i[0]) / m, (k[1] + k[0]) / m,
			      (i[2] + i[3]) / m, (k[2] + k[3]) / m, lo, hi,
			      (c[1] + c[0]) / m, (c[2] + c[3]) / m
		}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }'; }

# table_head TITLE NAME_A NAME_B OUT: print the title and column heads.
# The last two columns are the CPU time the whole machine spent per MiB
# moved, A/B in milliseconds and as a ratio (below 1: A is cheaper).
table_head() {
	{
		echo "$1 ($rounds x A,B,B,A)"
		printf '%-22s %10s %10s %7s %10s %10s %7s %11s %13s %6s\n' test \
			"$2 IOPS" "$3 IOPS" ratio "$2 MiB/s" "$3 MiB/s" ratio \
			range "CPU ms/MiB" ratio
	} | tee -a "$4"
}

# table_rows DEV_A DEV_B OUT [FIO OPTIONS...]: the four standard tests.
table_rows() {
	local a=$1 b=$2 out=$3 t vi vb li lb lo hi vc lc
	shift 3
	for t in "randread 4k 1" "randread 4k 32" "read 128k 8" "write 128k 8"; do
		set -- $t "$@"
		read -r vi vb li lb lo hi vc lc < <(measure2 "$a" "$b" "$@")
		printf '%-22s %10.0f %10.0f %7s %10.1f %10.1f %7s %5.2f-%.2f %13s %6s\n' \
			"$1 $2 qd$3" "$vi" "$li" "$(ratio "$vi" "$li")" \
			"$(awk -v k="$vb" 'BEGIN { print k / 1024 }')" \
			"$(awk -v k="$lb" 'BEGIN { print k / 1024 }')" \
			"$(ratio "$vb" "$lb")" "$lo" "$hi" \
			"$(printf '%.2f/%.2f' "$vc" "$lc")" "$(ratio "$vc" "$lc")" |
			tee -a "$out"
		shift 3
	done
}
