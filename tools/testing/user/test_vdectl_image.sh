#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vdectl's image commands on the host: create, info and check, their
# output, messages and exit codes.  VDECTL names the binary under test.

. "$(dirname "$0")/../selftests/vde/test_common.sh"

VDECTL=${VDECTL:?VDECTL must name the vdectl binary}
tmp=$(mktemp -d)
out=$tmp/out
err=$tmp/err
trap 'rm -rf "$tmp"' EXIT

UUID=00112233445566778899aabbccddeeff
TS=@1700000000

# expect STATUS ARGS...: run vdectl and check its exit status.
expect() {
	local want=$1 got
	shift
	"$VDECTL" "$@" >"$out" 2>"$err"
	got=$?
	[ "$got" = "$want" ] || fail "vdectl $*: exit $got, want $want ($(head -c 300 "$err"))"
}
stdout_has() { grep -q -- "$1" "$out" || fail "stdout lacks '$1': $(head -c 600 "$out")"; }
stderr_is() {
	[ "$(cat "$err")" = "$1" ] || fail "stderr is '$(cat "$err")', want '$1'"
}
stderr_has() { grep -q -- "$1" "$err" || fail "stderr lacks '$1': $(head -c 300 "$err")"; }

# mk NAME [ARGS...]: a reproducible 20000-block image.
mk() {
	local f=$tmp/$1
	shift
	"$VDECTL" create --blocks 20000 --uuid $UUID --timestamp $TS "$@" "$f" \
		>/dev/null 2>"$err" || { fail "create $f: $(cat "$err")"; return 1; }
}

t_create_output() {
	expect 0 create --blocks 20000 --uuid $UUID --timestamp $TS "$tmp/o.vde" &&
	[ "$(cat "$out")" = "$tmp/o.vde: standard profile, 20000 blocks of 4096 bytes, 12 regions, uuid $UUID" ] ||
		fail "output: $(cat "$out")" || return 1
	[ "$(stat -c %s "$tmp/o.vde")" = 81920000 ] || fail "size $(stat -c %s "$tmp/o.vde")"
}

t_create_reproducible() {
	mk r1.vde && mk r2.vde && cmp "$tmp/r1.vde" "$tmp/r2.vde" ||
		fail "two creations differ" || return 1
	# The same instant as .NET ticks.
	"$VDECTL" create --blocks 20000 --uuid $UUID --timestamp 638355968000000000 \
		"$tmp/r3.vde" >/dev/null && cmp "$tmp/r1.vde" "$tmp/r3.vde" ||
		fail "ticks and @seconds differ" || return 1
	mk r4.vde --profile minimal && ! cmp -s "$tmp/r1.vde" "$tmp/r4.vde" ||
		fail "profiles do not differ"
}

t_create_sizes() {
	expect 0 create --size 64M --block-size 8K --profile minimal "$tmp/s.vde" &&
	stdout_has "minimal profile, 8192 blocks of 8192 bytes, 7 regions" &&
	expect 0 create --size 16MiB --force "$tmp/s.vde" &&
	stdout_has "standard profile, 4096 blocks of 4096 bytes" &&
	expect 0 create --size 262144 --profile minimal --force "$tmp/s.vde" &&
	stdout_has "64 blocks of 4096 bytes" &&
	stdout_has "metadata ends at block 1099, past the 64 blocks of the device"
}

t_create_exists() {
	mk e.vde &&
	expect 1 create --blocks 20000 "$tmp/e.vde" &&
	stderr_is "vdectl: $tmp/e.vde exists (use --force to replace it)" &&
	expect 0 create --blocks 30000 --force "$tmp/e.vde" &&
	[ "$(stat -c %s "$tmp/e.vde")" = 122880000 ] || fail "not replaced" || return 1
	expect 1 create --force "$tmp" &&
	stderr_is "vdectl: cannot create $tmp: not a regular file"
}

t_create_bad_args() {
	local try="Try 'vdectl help create'."

	expect 2 create --size 4X "$tmp/x.vde" &&
	stderr_is "vdectl create: bad size '4X' (bytes, with an optional K, M, G, T or P suffix)
$try" &&
	expect 2 create --block-size 1000 "$tmp/x.vde" &&
	stderr_is "vdectl create: block size 1000 is not a power of two between 4096 and 65536
$try" &&
	expect 2 create --block-size 2K "$tmp/x.vde" &&
	stderr_has "block size 2K is not a power of two between 4096 and 65536" &&
	expect 2 create --profile enterprise "$tmp/x.vde" &&
	stderr_is "vdectl create: unknown profile 'enterprise' (minimal or standard)
$try" &&
	expect 2 create --uuid 0011 "$tmp/x.vde" &&
	stderr_is "vdectl create: bad uuid '0011' (32 hex digits)
$try" &&
	expect 2 create --uuid ${UUID%f}g "$tmp/x.vde" &&
	stderr_has "bad uuid" &&
	expect 2 create --timestamp yesterday "$tmp/x.vde" &&
	stderr_is "vdectl create: bad timestamp 'yesterday' (.NET ticks, or @ and Unix seconds)
$try" &&
	expect 2 create --size 10000 "$tmp/x.vde" &&
	stderr_is "vdectl create: size 10000 is not a multiple of the block size 4096
$try" &&
	expect 2 create --blocks 63 "$tmp/x.vde" &&
	stderr_is "vdectl create: 63 blocks are too few: the format needs at least 64
$try" &&
	expect 2 create --blocks 12x "$tmp/x.vde" &&
	stderr_has "bad block count '12x'" &&
	expect 2 create --size 1M --blocks 256 "$tmp/x.vde" &&
	stderr_has "vdectl create: --size and --blocks exclude each other" &&
	expect 2 create --label "$(printf '%065d' 0)" "$tmp/x.vde" &&
	stderr_has "vdectl create: label is 65 bytes long, at most 64 fit" &&
	expect 2 create && stderr_is "vdectl create: missing IMAGE
$try" &&
	expect 2 create a b && stderr_has "unexpected argument 'b'" &&
	expect 2 create --bogus "$tmp/x.vde" &&
	[ ! -e "$tmp/x.vde" ] || fail "a refused create left a file"
}

t_info_text() {
	mk i.vde --label "my volume" &&
	expect 0 info "$tmp/i.vde" &&
	stdout_has "^format:              VDE v2.0, revision 1$" &&
	stdout_has "^superblock:          primary (blocks 0-3)$" &&
	stdout_has "^block size:          4096$" &&
	stdout_has "^total blocks:        20000 (81920000 bytes)$" &&
	stdout_has "^free blocks:         18669$" &&
	stdout_has "^allocated blocks:    1331$" &&
	stdout_has "^uuid:                $UUID (.NET 33221100-5544-7766-8899-aabbccddeeff)$" &&
	stdout_has "^label:               my volume$" &&
	stdout_has "^modules:             0x00001c01 (Security Compression Integrity Snapshot)$" &&
	stdout_has "^inode size:          384$" &&
	stdout_has "^encryption:          none$" &&
	stdout_has "^created:             2023-11-14T22:13:20.0000000Z$" &&
	stdout_has "^regions:             12 active$" &&
	stdout_has "^  4    ENCR           12            2  -          no        encryption header (key slots), hidden$" &&
	stdout_has "^  11   DATA         1331        18669  -          no        data$"
}

t_info_json() {
	mk j.vde &&
	expect 0 info --json "$tmp/j.vde" &&
	stdout_has '^  "superblock_copy": "primary",$' &&
	stdout_has '^  "primary_problem": null,$' &&
	stdout_has '^  "block_size": 4096,$' &&
	stdout_has '^  "total_blocks": 20000,$' &&
	stdout_has '^  "device_bytes": 81920000,$' &&
	stdout_has '^  "free_blocks": 18669,$' &&
	stdout_has "^  \"uuid\": \"$UUID\",$" &&
	stdout_has '^  "module_manifest": 7169,$' &&
	stdout_has '^  "created_ticks": 638355968000000000,$' &&
	stdout_has '^      "tag": "ENCR",$' &&
	stdout_has '^      "hidden": true,$' &&
	[ "$(grep -c '"slot":' "$out")" = 12 ] || fail "not 12 regions" || return 1
	if command -v python3 >/dev/null; then
		python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["regions"][11]["start"] == 1331 and d["encryption"]["enabled"] is False' <"$out" ||
			fail "JSON does not parse or has wrong values"
	fi
}

t_check_clean() {
	mk c.vde &&
	expect 0 check "$tmp/c.vde" &&
	[ "$(cat "$out")" = "$tmp/c.vde: clean: 16 metadata blocks checked, 0 fatal, 0 errors, 0 notes" ] ||
		fail "output: $(cat "$out")"
}

t_check_primary_damaged() {
	mk p.vde && poke "$tmp/p.vde" 200 &&
	expect 1 check "$tmp/p.vde" &&
	stdout_has "^$tmp/p.vde: error: block 0 (superblock): trailer checksum = 0x" &&
	[ "$(grep -c 'error:' "$out")" = 1 ] || fail "not one error: $(cat "$out")" || return 1
	stdout_has "usable: 16 metadata blocks checked, 0 fatal, 1 errors, 1 notes$" &&
	expect 0 info "$tmp/p.vde" && stdout_has "^superblock:          mirror (blocks 4-7)" &&
	expect 0 info --json "$tmp/p.vde" && stdout_has '"superblock_copy": "mirror"'
}

t_check_both_damaged() {
	mk b.vde && poke "$tmp/b.vde" 200 && poke "$tmp/b.vde" $((4 * 4096 + 200)) &&
	expect 4 check "$tmp/b.vde" &&
	stdout_has "^$tmp/b.vde: fatal: block 0 (superblock): trailer checksum" &&
	stdout_has "^$tmp/b.vde: fatal: block 4 (mirror superblock): trailer checksum" &&
	stdout_has "unusable: 8 metadata blocks checked, 2 fatal, 0 errors, 0 notes$" &&
	expect 1 info "$tmp/b.vde" &&
	stderr_has "^vdectl: $tmp/b.vde: block 0 (superblock): trailer checksum = 0x"
}

t_check_json() {
	mk k.vde && poke "$tmp/k.vde" $((14 * 4096 + 7)) &&
	expect 1 check --json "$tmp/k.vde" &&
	stdout_has '^  "status": "usable",$' &&
	stdout_has '^  "exit_code": 1,$' &&
	stdout_has '^      "severity": "error",$' &&
	stdout_has '^      "block": 14,$' &&
	stdout_has '^      "slot": 5,$' &&
	stdout_has '^      "field": "trailer checksum",$'
}

t_check_operational_and_usage() {
	expect 8 check "$tmp/missing.vde" &&
	stderr_is "vdectl: cannot check $tmp/missing.vde: No such file or directory" &&
	expect 16 check && stderr_has "vdectl check: missing IMAGE" &&
	expect 16 check --bogus x &&
	expect 16 check a b && stderr_has "unexpected argument 'b'"
}

t_info_usage() {
	expect 2 info && stderr_has "vdectl info: missing IMAGE" &&
	expect 1 info "$tmp/missing.vde" &&
	stderr_is "vdectl: $tmp/missing.vde: file: open: No such file or directory"
}

t_check_quirk_image() {
	expect 0 create --blocks 1024 --profile minimal "$tmp/q.vde" &&
	stdout_has "metadata ends at block 1099, past the 1024 blocks of the device; there is no data region" &&
	expect 0 check "$tmp/q.vde" &&
	stdout_has "note: block 8 (region directory): slot 5 BlockCount = 64: MWAL blocks 1035-1098 end past TotalBlocks 1024 and past the end of the file (an SDK quirk of small images)$" &&
	stdout_has "clean: 13 metadata blocks checked, 0 fatal, 0 errors, 3 notes$"
}

t_help() {
	expect 0 help && stdout_has '^  create ' && stdout_has '^  info ' &&
	stdout_has '^  check ' &&
	expect 0 help create && stdout_has '^Usage: vdectl create \[--size SIZE|--blocks N\]'
}

ktap_header 15
ktap_run create_output t_create_output
ktap_run create_reproducible t_create_reproducible
ktap_run create_sizes t_create_sizes
ktap_run create_existing_file t_create_exists
ktap_run create_bad_arguments t_create_bad_args
ktap_run info_text t_info_text
ktap_run info_json t_info_json
ktap_run check_clean t_check_clean
ktap_run check_primary_damaged t_check_primary_damaged
ktap_run check_both_damaged t_check_both_damaged
ktap_run check_json t_check_json
ktap_run check_operational_and_usage t_check_operational_and_usage
ktap_run info_usage t_info_usage
ktap_run help_lists_image_commands t_help
ktap_run check_quirk_image t_check_quirk_image
ktap_finish
