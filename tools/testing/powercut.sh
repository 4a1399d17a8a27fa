#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Power-cut consistency, as KTAP: boot a VM that writes to a vde device
# (plain and encrypted extents, image on ext4 on a virtual disk) and
# acknowledges writes with flushes; kill QEMU at a random moment during
# the writes; boot a second VM on the same disk and check that every
# acknowledged write survived (tools/testing/selftests/vde/test_powercut.sh,
# vde_powercut).
#
#   tools/testing/powercut.sh [--kernel 6.1|6.12|debug] [--rounds N] [--seed S]
#                             [--out DIR] [--no-flush]
#
# Each round uses a new seed and cut time, printed; --seed replays a seed
# (the cut time still varies).  --no-flush is the negative control: the
# writers acknowledge without flushing, and the check is expected to find
# lost writes (the round's checks then fail).

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
kernel=6.1
rounds=1
seed=
out=
noflush=
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--no-flush) noflush=-N; shift ;;
	*) sed -n '11,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
[ -n "$out" ] || out=$(mktemp -d "$top/.cache/powercut.XXXXXX")
mkdir -p "$out"
out=$(cd "$out" && pwd)
run=tools/testing/vm/run
t=build/selftests/vde/test_powercut.sh

n=0
failed=0
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=1
	fi
}

echo "TAP version 13"
echo "1..$((rounds * 11))"
for r in $(seq 1 "$rounds"); do
	s=${seed:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
	cut=$(( $(od -An -N1 -tu1 /dev/urandom) % 4 + 1 )).$(( $(od -An -N1 -tu1 /dev/urandom) % 10 ))
	echo "# round $r: seed $s, power cut ${cut}s after the 20th acknowledgement"
	disk=$out/disk$r.img
	rm -f "$disk"
	truncate -s 1G "$disk"
	w=$out/write$r c=$out/check$r
	$run --kernel "$kernel" --out "$w" --disk "$disk" --power-cut "cut-now:$cut" \
		--timeout "${VDE_VM_TIMEOUT:-600}" -- "$t" write "$s" $noflush >"$out/write$r.log" 2>&1
	wrc=$?
	d=$w/$kernel
	acks=$(cat "$d/acked-plain" "$d/acked-enc" 2>/dev/null | grep -c '^D ')
	result "$([ -f "$d/power-cut" ] && [ "${acks:-0}" -ge 40 ] && echo 0 || echo 1)" \
		"round $r: the power was cut during acknowledged writes (${acks:-0} flushes acknowledged)"
	[ -f "$d/power-cut" ] || tail -n 20 "$out/write$r.log" | sed 's/^/# /'
	result "$([ $wrc = 0 ] && [ "$(cat "$d/health" 2>/dev/null)" = ok ] && echo 0 || echo 1)" \
		"round $r: the kernel was healthy up to the cut"

	$run --kernel "$kernel" --out "$c" --disk "$disk" --timeout "${VDE_VM_TIMEOUT:-600}" \
		-- "$t" check "$s" "$d" >"$out/check$r.log" 2>&1
	crc=$?
	# The check VM's own results, renumbered into this round.
	got=0
	while read -r line; do
		case $line in
		ok\ *|not\ ok\ *)
			got=$((got + 1))
			v=0
			case $line in not*) v=1 ;; esac
			result $v "round $r: $(echo "$line" | sed -E 's/^(not )?ok [0-9]+ //')"
			;;
		\#*) echo "$line" ;;
		esac
	done < <(cat "$c/$kernel/output" 2>/dev/null)
	while [ $got -lt 8 ]; do
		got=$((got + 1))
		result 1 "round $r: check result $got missing"
	done
	result "$([ "$(cat "$c/$kernel/health" 2>/dev/null)" = ok ] && echo 0 || echo 1)" \
		"round $r: the kernel was healthy after the cut"
	[ $crc = 0 ] || tail -n 20 "$out/check$r.log" | sed 's/^/# /'
	rm -f "$disk"
done
exit $failed
