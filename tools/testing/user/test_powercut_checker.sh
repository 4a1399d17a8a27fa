#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The power-cut checker (vde_powercut check) against regular files with
# known damage: it must pass an intact image, one cut between a write and
# its acknowledgement, and fail exactly the lost write, the zeroed block
# and the torn record.  POWERCUT names the binary under test.

. "$(dirname "$0")/../selftests/vde/test_common.sh"

PC=${POWERCUT:?POWERCUT must name the vde_powercut binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
img=$tmp/img
logf=$tmp/log
out=$tmp/out
seed=1234
win=(-o 8 -n 512)

check() { "$PC" check -d "$img" -s $seed -l "$1" "${win[@]}" -F >"$out" 2>&1; }

# expect LOG RC TEXT: check exits RC and its report names TEXT.
expect() {
	local rc
	check "$1"
	rc=$?
	[ "$rc" = "$2" ] || { fail "check exited $rc, not $2"; cat "$out"; return 1; }
	grep -q -- "$3" "$out" || { fail "no '$3' in the report"; cat "$out"; return 1; }
}

# A block's bytes at relative block B of the window.
poke() { dd of="$img" bs=1 seek=$(( (8 + $1) * 4096 + $2 )) conv=notrunc status=none; }

ktap_header 6

truncate -s 4M "$img"
"$PC" write -d "$img" -s $seed -l "$logf" "${win[@]}" -t 1 -F >/dev/null ||
	{ fail "write failed"; exit 1; }
d=$(tail -n 1 "$logf" | cut -d' ' -f2)
ktap_run "intact image passes, every block at its last write" \
	expect "$logf" 0 "acknowledged up to seq $d, 0 blocks hold later unacknowledged writes, 0 bad"

# The cut fell after the last writes but before their acknowledgement
# reached the log: later writes on the medium are fine.
grep -v "^D $d\$" "$logf" >"$tmp/early"
newer_accepted() {
	expect "$tmp/early" 0 "blocks hold later unacknowledged writes, 0 bad" || return
	! grep -q ' 0 blocks hold later' "$out" || fail "no block newer than the cut: $(cat "$out")"
}
ktap_run "writes newer than the last acknowledgement are accepted" newer_accepted

# An acknowledgement for writes that never reached the medium.
{ cat "$logf"; echo "D $((d + 300))"; } >"$tmp/claim"
ktap_run "an acknowledged write missing from the medium is caught" \
	expect "$tmp/claim" 1 "lost an acknowledged write"

cp "$img" "$tmp/orig"
head -c 4096 /dev/zero | poke 100 0
ktap_run "a zeroed block is caught" expect "$logf" 1 "block 100 holds no record of its own"

cp "$tmp/orig" "$img"
printf '\xff' | poke 200 2000
ktap_run "a torn record is caught" expect "$logf" 1 "block 200 holds a torn or corrupt record"

cp "$tmp/orig" "$img"
"$PC" check -d "$img" -s $((seed + 1)) -l "$logf" "${win[@]}" -F >"$out" 2>&1
ktap_result "another seed's records are not accepted" \
	"$(grep -q ' 512 bad$' "$out" && echo 0 || echo 1)"
ktap_finish
