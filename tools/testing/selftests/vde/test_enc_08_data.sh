#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Encrypted regions end to end, with the real helper started by vdectl:
# data written through /dev/vdeN is ciphertext in the image and reads back
# identical; dm-crypt (aes-xts-plain64, 4096-byte sectors, iv_large_sectors)
# over the same image agrees both ways; fio verify on the encrypted region
# and across a plain/encrypted boundary; a wrong key attaches nothing; the
# thread-pool fallback serves the same data; with 512-byte logical blocks
# the helper reads, modifies and writes whole encrypted units.

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch

VDECTL=${VDECTL:-$VDE_SRC/build/user/vdectl}
dir=$VDE_SCRATCH/enc
mkdir -p "$dir"
img=$dir/enc.vde
key=$dir/key
fio_out=$dir/fio.out
BS=4096
dev=
loopdev=
cleanup() {
	[ -e /dev/mapper/vdetest ] && cryptsetup close vdetest
	[ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
	"$VDECTL" detach --all --force >/dev/null 2>&1
	sysctl -qw kernel.io_uring_disabled=0 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

command -v cryptsetup >/dev/null || ktap_skip_all "cryptsetup is not installed"
modprobe loop && modprobe dm-crypt || ktap_skip_all "no loop or dm-crypt module"
cd "$dir" || exit 1

# 64 MiB standard image whose DATA region is encrypted with a raw key.
"$VDECTL" create --profile standard --size 64M --encrypt DATA --key-file "$key" \
	"$img" >/dev/null || ktap_skip_all "vdectl create --encrypt failed"

# The encrypted extent and the plain extent just before it.
enc_first='' plain_last=
find_extents() {
	read -r enc_first _ < <(vde_extent "$dev" encrypted)
	[ -n "$enc_first" ] || fail "no encrypted extent in the map" || return
	awk -v e="$enc_first" '$1 + $2 == e { exit $3 != "plain" }' \
		"/sys/block/${dev#/dev/}/vde/region_map" ||
		fail "the block before the encrypted extent is not plain" || return
	plain_last=$((enc_first - 1))
}

attach() {
	dev=$("$VDECTL" attach --show --key-file "$key" "$@" "$img") ||
		fail "attach $*" || return
	[ -b "$dev" ] || fail "no block device $dev"
}

detach() { "$VDECTL" detach "$dev" || fail "detach $dev"; }

# Write random blocks into the encrypted region and read them back; the
# image holds something else at the same place.
plain_in=$dir/plain.in
write_read_ciphertext() {
	local off
	attach || return
	find_extents || return
	[ "$(vde_helper_state "$dev")" = live ] || fail "helper not live" || return
	off=$((enc_first + 7))
	head -c $((BS * 64)) /dev/urandom >"$plain_in"
	dd if="$plain_in" of="$dev" bs=$BS seek="$off" oflag=direct conv=notrunc \
		status=none || fail "write through $dev" || return
	cmp <(dd if="$dev" bs=$BS skip="$off" count=64 iflag=direct status=none) \
		"$plain_in" || fail "read back differs" || return
	sync
	cmp -s <(dd if="$img" bs=$BS skip="$off" count=64 status=none) "$plain_in" && { fail "the image holds the plaintext"; return; }
	# No 4 KiB block of the image equals its plaintext block.
	python3 - "$img" "$plain_in" "$off" <<-'EOF' || fail "a block was stored in clear"
	import sys
	img, pt, off = open(sys.argv[1], "rb"), open(sys.argv[2], "rb").read(), int(sys.argv[3])
	img.seek(off * 4096)
	ct = img.read(len(pt))
	sys.exit(any(ct[i:i + 4096] == pt[i:i + 4096] for i in range(0, len(pt), 4096)))
	EOF
}

dm_open() {
	loopdev=$(losetup --show -f "$img") || fail "losetup" || return
	cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 \
		--sector-size 4096 --iv-large-sectors --key-file "$key" \
		"$loopdev" vdetest || fail "cryptsetup open"
}

dm_close() {
	cryptsetup close vdetest
	losetup -d "$loopdev"
	loopdev=
}

# dm-crypt over the same image reads what vde wrote, and vde reads what
# dm-crypt wrote.
dm_crypt_agrees() {
	local off=$((enc_first + 7)) off2=$((enc_first + 200))
	detach || return
	dm_open || return
	cmp <(dd if=/dev/mapper/vdetest bs=$BS skip="$off" count=64 status=none) \
		"$plain_in" || fail "dm-crypt reads other plaintext than vde wrote" || return
	head -c $((BS * 32)) /dev/urandom >"$dir/dm.in"
	dd if="$dir/dm.in" of=/dev/mapper/vdetest bs=$BS seek="$off2" oflag=direct \
		conv=notrunc status=none || fail "write through dm-crypt" || return
	dm_close
	attach || return
	cmp <(dd if="$dev" bs=$BS skip="$off2" count=32 iflag=direct status=none) \
		"$dir/dm.in" || fail "vde reads other plaintext than dm-crypt wrote"
}

# fio_verify DEV OFFSET SIZE [fio options]: write then verify, crc32c.
fio_verify() {
	local d=$1 o=$2 s=$3
	shift 3
	[ -b "$d" ] || fail "$d is not a block device" || return
	fio --name=v --filename="$d" --offset="$o" --size="$s" --direct=1 \
		--ioengine=libaio --iodepth=16 --rw=randwrite --bsrange=4k-256k \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
		--verify_state_save=0 "$@" --output="$fio_out" || { cat "$fio_out"; fail "fio verify"; }
}

fio_encrypted() {
	fio_verify "$dev" $(((enc_first + 256) * BS)) 16M
}

# Requests that straddle the boundary go to the helper whole; the helper
# writes the plain block in clear and the encrypted ones encrypted.
fio_straddle() {
	local off=$(((plain_last - 3) * BS))
	fio_verify "$dev" "$off" 64k --bsrange=8k-64k --rw=randwrite || return
	dd if=/dev/urandom of="$plain_in" bs=$BS count=2 status=none
	dd if="$plain_in" of="$dev" bs=$BS seek="$plain_last" oflag=direct \
		conv=notrunc status=none || fail "straddling write" || return
	sync
	cmp <(dd if="$img" bs=$BS skip="$plain_last" count=1 status=none) \
		<(head -c $BS "$plain_in") || fail "plain half not stored in clear" || return
	cmp -s <(dd if="$img" bs=$BS skip="$enc_first" count=1 status=none) \
		<(tail -c $BS "$plain_in") && { fail "encrypted half stored in clear"; return; }
	detach
}

wrong_key_refused() {
	local err n
	head -c 64 /dev/urandom >"$dir/badkey"
	n=$(vde_devs | wc -l)
	err=$("$VDECTL" attach --key-file "$dir/badkey" "$img" 2>&1) && { fail "attach with a wrong key succeeded"; return; }
	echo "$err" | grep -qi 'key' || fail "message: $err" || return
	[ "$(vde_devs | wc -l)" = "$n" ] || fail "a device was left"
}

# The thread-pool backend, forced, serves the same bytes.
fallback_forced() {
	attach --helper-backend fallback || return
	grep -qx 'transport ioctl' "/sys/block/${dev#/dev/}/vde/helper" ||
		fail "transport: $(cat "/sys/block/${dev#/dev/}/vde/helper")" || return
	cmp <(dd if="$dev" bs=$BS skip=$((enc_first + 200)) count=32 iflag=direct status=none) \
		"$dir/dm.in" || fail "fallback reads other plaintext" || return
	fio_verify "$dev" $(((enc_first + 256) * BS)) 8M || return
	detach
}

# With io_uring disabled by sysctl (6.6+), the helper falls back by itself.
io_uring_disabled() {
	sysctl -qw kernel.io_uring_disabled=2 2>/dev/null || return 4
	attach || return
	grep -qx 'transport ioctl' "/sys/block/${dev#/dev/}/vde/helper" ||
		fail "transport: $(cat "/sys/block/${dev#/dev/}/vde/helper")" || return
	fio_verify "$dev" $(((enc_first + 256) * BS)) 8M || return
	detach
	sysctl -qw kernel.io_uring_disabled=0
}

# 512-byte logical blocks over encrypted 4096-byte units: the helper reads,
# modifies and writes whole units.  fio verify with 512-byte aligned
# requests, many in flight (some into different sectors of one unit), then
# dm-crypt, which only knows whole units, reads the same plaintext.
logical_512() {
	local q first=$((enc_first + 4096)) n=2048
	attach --logical-block-size 512 || return
	q=/sys/block/${dev#/dev/}/queue
	[ "$(cat $q/logical_block_size)/$(cat $q/physical_block_size)" = 512/4096 ] ||
		fail "block sizes $(cat $q/logical_block_size)/$(cat $q/physical_block_size)" || return
	fio_verify "$dev" $((first * BS)) $((n * BS)) --bsrange=512-16k --blockalign=512 \
		--iodepth=32 || return
	# Sectors written one by one, each into a different place of its unit.
	head -c $((BS * 8)) /dev/urandom >"$dir/s512"
	for i in 0 1 2 3 4 5 6 7; do
		dd if="$dir/s512" of="$dev" bs=512 skip=$((i * 9)) seek=$(((first + n) * 8 + i * 9)) \
			count=1 oflag=direct conv=notrunc status=none || fail "512-byte write $i" || return
	done
	dd if="$dev" of="$dir/vde512" bs=$BS skip="$first" count=$((n + 9)) iflag=direct status=none ||
		fail "read through vde" || return
	detach || return
	dm_open || return
	cmp "$dir/vde512" <(dd if=/dev/mapper/vdetest bs=$BS skip="$first" count=$((n + 9)) \
		iflag=direct status=none) || fail "dm-crypt reads other plaintext" || return
	dm_close
	for i in 0 1 2 3 4 5 6 7; do
		cmp <(dd if="$dir/vde512" bs=512 skip=$((n * 8 + i * 9)) count=1 status=none) \
			<(dd if="$dir/s512" bs=512 skip=$((i * 9)) count=1 status=none) ||
			fail "sector $i lost" || return
	done
}

stats_show_helper() {
	local out
	attach || return
	dd if="$dev" of=/dev/null bs=$BS skip=$((enc_first + 8)) count=16 iflag=direct status=none
	out=$("$VDECTL" stats --json "$dev") || fail "stats" || return
	echo "$out" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["helper_requests"] >= 16, s
assert s["helper"]["state"] == "live", s
assert s["helper"]["transport"] == "io_uring", s
' || fail "stats: $out" || return
	detach
}

ktap_header 10
ktap_run written_data_is_ciphertext_and_reads_back write_read_ciphertext
ktap_run dm_crypt_agrees_both_ways dm_crypt_agrees
ktap_run fio_verify_encrypted_region fio_encrypted
ktap_run fio_verify_across_plain_encrypted_boundary fio_straddle
ktap_run wrong_key_attaches_nothing wrong_key_refused
ktap_run stats_show_helper_state_and_counts stats_show_helper
ktap_run logical_512_read_modify_write_of_encrypted_units logical_512
ktap_run fallback_backend_forced fallback_forced
if io_uring_disabled; then rc=0; else rc=$?; fi
ktap_result fallback_when_io_uring_disabled "$rc" \
	"$([ "$rc" = 4 ] && echo "no kernel.io_uring_disabled sysctl")"
ktap_run detach_all_leaves_nothing vde_detach_all
ktap_finish
