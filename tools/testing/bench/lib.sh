# SPDX-License-Identifier: GPL-2.0
#
# Shared by the benchmarks: fio measurements of two devices in the same
# run, in the order A, B, B, A, and a table of ratios A / B.  Sourced;
# uses $runtime, which it defaults (with $size, $top and $vdetest) from
# VDE_BENCH_RUNTIME and VDE_BENCH_SIZE if the script has not set them.

: "${runtime:=${VDE_BENCH_RUNTIME:-8}}"
: "${size:=${VDE_BENCH_SIZE:-1G}}"
: "${top:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}"
: "${vdetest:=$top/build/selftests/vde/vdetest}"

# measure DEV RW BS QD [FIO OPTIONS...]: "iops kib_per_s" of one fio run.
measure() {
	local dev=$1 rw=$2 bs=$3 qd=$4 line
	shift 4
	line=$(fio --name=b --filename="$dev" --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --direct=1 --ioengine=libaio --time_based \
		--runtime="$runtime" --ramp_time=2 --randrepeat=0 \
		--norandommap --output-format=terse --terse-version=3 "$@")
	# terse v3: 7/8 read KiB/s and IOPS, 48/49 write KiB/s and IOPS
	echo "$line" | awk -F';' '{ if ($8 > 0) print $8, $7; else print $49, $48 }'
}

# measure2 DEV1 DEV2 RW BS QD [FIO OPTIONS...]: "iops1 kib1 iops2 kib2",
# each the mean of two runs in the order DEV1 DEV2 DEV2 DEV1.
measure2() {
	local d1=$1 d2=$2 a b c d
	shift 2
	a=$(measure "$d1" "$@")
	b=$(measure "$d2" "$@")
	c=$(measure "$d2" "$@")
	d=$(measure "$d1" "$@")
	echo "$a $d $b $c" | awk '{ print ($1 + $3) / 2, ($2 + $4) / 2, ($5 + $7) / 2, ($6 + $8) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }'; }

# table_head TITLE NAME_A NAME_B OUT: print the title and column heads.
table_head() {
	{
		echo "$1"
		printf '%-22s %10s %10s %7s %10s %10s %7s\n' test "$2 IOPS" \
			"$3 IOPS" ratio "$2 MiB/s" "$3 MiB/s" ratio
	} | tee -a "$4"
}

# table_rows DEV_A DEV_B OUT [FIO OPTIONS...]: the four standard tests.
table_rows() {
	local a=$1 b=$2 out=$3 t vi vb li lb
	shift 3
	for t in "randread 4k 1" "randread 4k 32" "read 128k 8" "write 128k 8"; do
		set -- $t "$@"
		read -r vi vb li lb < <(measure2 "$a" "$b" "$@")
		printf '%-22s %10.0f %10.0f %7s %10.1f %10.1f %7s\n' "$1 $2 qd$3" \
			"$vi" "$li" "$(ratio "$vi" "$li")" \
			"$(awk -v k="$vb" 'BEGIN { print k / 1024 }')" \
			"$(awk -v k="$lb" 'BEGIN { print k / 1024 }')" \
			"$(ratio "$vb" "$lb")" | tee -a "$out"
		shift 3
	done
}
