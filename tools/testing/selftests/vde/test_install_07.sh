#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What "make install" installs, used as installed (from build/destdir, made
# on the host by tools/testing/package.sh install): udev's by-id links of a
# device and of its partition (udevadm test with 60-vde.rules), the
# vde-attach helper with a vdetab (options, noauto, key files, idempotent attach,
# detach), the man pages and the bash completion.

. "$(dirname "$0")/test_common.sh"
require_root
require_scratch

dest=${VDE_DESTDIR:-$VDE_SRC/build/destdir}
[ -x "$dest/usr/sbin/vdectl" ] ||
	ktap_skip_all "no installed tree at $dest (tools/testing/package.sh install)"
VDECTL=$dest/usr/sbin/vdectl
attach_helper=$dest/usr/lib/vde/vde-attach
uuid=00112233445566778899aabbccddeeff
dir=$VDE_SCRATCH/install
mkdir -p "$dir"
cleanup() {
	"$VDECTL" detach --all --force >/dev/null 2>&1
	rm -rf "$dir" /run/udev/rules.d/60-vde.rules
}
trap cleanup EXIT

img=$dir/a.vde
"$VDECTL" create --blocks 4096 --uuid $uuid "$img" >/dev/null ||
	ktap_skip_all "vdectl create failed"
"$VDECTL" create --blocks 4096 --uuid ffeeddccbbaa99887766554433221100 \
	"$dir/b.vde" >/dev/null || ktap_skip_all "vdectl create failed"
"$VDECTL" create --profile standard --size 16M --encrypt DATA --key-file "$dir/d.key" \
	"$dir/d.vde" >/dev/null || ktap_skip_all "vdectl create --encrypt failed"

mkdir -p /run/udev/rules.d
cp "$dest/usr/lib/udev/rules.d/60-vde.rules" /run/udev/rules.d/

# devlinks SYSPATH: the DEVLINKS udev computes for a device, one a line.
devlinks() {
	udevadm test "$1" 2>/dev/null | sed -n 's/^DEVLINKS=//p' | tr ' ' '\n'
}

dev=
udev_disk_link() {
	local links
	dev=$("$VDECTL" attach --show "$img") || fail "attach" || return
	links=$(devlinks "/sys/class/block/${dev#/dev/}")
	echo "$links" | grep -qx "/dev/disk/by-id/vde-$uuid" ||
		fail "links of $dev: $(echo "$links" | tr '\n' ' ')"
}

udev_partition_link() {
	local part links
	echo 'start=2048, type=83' | sfdisk -q --label dos "$dev" >/dev/null ||
		fail "sfdisk" || return
	part=${dev#/dev/}p1
	wait_for 50 test -e "/sys/class/block/$part" || fail "no $part" || return
	links=$(devlinks "/sys/class/block/$part")
	echo "$links" | grep -qx "/dev/disk/by-id/vde-$uuid-part1" ||
		fail "links of $part: $(echo "$links" | tr '\n' ' ')" || return
	# The disk keeps its own link only; the partition gets no disk link.
	echo "$links" | grep -qx "/dev/disk/by-id/vde-$uuid" &&
		fail "the partition has the disk's link"
	"$VDECTL" detach "$dev" || fail "detach"
}

# vde_devs: "NAME RO LBS BACKING" for every vde device, sorted.
vde_devs() {
	local d
	for d in /sys/block/vde*; do
		[ -d "$d/vde" ] || continue
		echo "${d##*/} $(cat "$d/ro") $(cat "$d/queue/logical_block_size") $(cat "$d/vde/backing_file")"
	done | sort
}

# helper ARGS...: the installed vde-attach on the test's vdetab; its messages
# become KTAP diagnostics.
helper() {
	local rc
	VDETAB=$dir/vdetab VDECTL=$VDECTL "$attach_helper" "$@" 2>"$dir/helper.err"
	rc=$?
	sed 's/^/# /' "$dir/helper.err" >&2
	return $rc
}

helper_attach_all() {
	local got
	cat >"$dir/vdetab" <<-EOF
	# test vdetab
	$img	ro,region=DATA
	$dir/b.vde	noauto,logical-block-size=512
	$dir/d.vde	noauto,region=DATA,key-file=$dir/d.key
	EOF
	helper check || fail "check" || return
	[ "$(helper list --auto)" = "$img" ] || fail "list --auto: $(helper list --auto)" || return
	helper attach --all || fail "attach --all" || return
	got=$(vde_devs)
	[ "$(echo "$got" | wc -l)" = 1 ] || fail "devices: $got" || return
	echo "$got" | grep -q "^vde[0-9]* 1 4096 $img\$" || fail "devices: $got" || return
	# The DATA region only: smaller than the 4096-block image.
	local n=${got%% *}
	[ "$(cat "/sys/block/$n/size")" -lt $((4096 * 8)) ] || fail "not the DATA region"
}

helper_attach_idempotent() {
	helper attach --all || fail "second attach --all" || return
	[ "$(vde_devs | wc -l)" = 1 ] || fail "devices: $(vde_devs)"
}

helper_attach_noauto() {
	helper attach "$dir/b.vde" || fail "attach b" || return
	vde_devs | grep -q "^vde[0-9]* 0 512 $dir/b.vde\$" || fail "devices: $(vde_devs)"
}

# An encrypted image with its key file: the helper serves the device.
helper_attach_key() {
	local n
	helper attach "$dir/d.vde" || fail "attach d" || return
	n=$(vde_devs | awk -v i="$dir/d.vde" '$4 == i { print $1 }')
	[ -n "$n" ] || fail "devices: $(vde_devs)" || return
	[ "$(vde_helper_state "/dev/$n")" = live ] || fail "helper of $n: $(vde_helper_state "/dev/$n")" || return
	head -c 65536 /dev/urandom >"$dir/blk"
	dd if="$dir/blk" of="/dev/$n" bs=65536 oflag=direct status=none &&
		cmp -s "$dir/blk" <(dd if="/dev/$n" bs=65536 count=1 iflag=direct status=none) ||
		fail "encrypted data does not read back"
}

helper_bad_line() {
	local err
	echo "$dir/c.vde bogus" >>"$dir/vdetab"
	err=$(helper attach "$dir/c.vde" 2>&1)
	[ $? = 2 ] || fail "bad line accepted: $err" || return
	echo "$err" | grep -q "vdetab:5: unknown option 'bogus'" || fail "message: $err"
}

helper_detach() {
	helper detach "$img" || fail "detach a" || return
	vde_devs | grep -q " $img\$" && fail "a still attached" && return
	helper detach "$img" || fail "detach of a detached image" || return
	helper detach --all
	[ $? = 2 ] || fail "detach --all ignored the bad line" || return
	[ -z "$(vde_devs)" ] || fail "devices left: $(vde_devs)"
}

# Each page renders with its title line and a NAME section (groff's layout
# warnings on a dumb terminal do not count).
man_pages_render() {
	local p out
	for p in man8/vdectl.8:VDECTL man4/vde.4:VDE man5/vdetab.5:VDETAB; do
		out=$(MANWIDTH=80 man -l "$dest/usr/share/man/${p%%:*}" 2>/dev/null)
		echo "$out" | head -n 1 | grep -q "^${p##*:}(" &&
			echo "$out" | grep -qx NAME ||
			fail "${p%%:*}: $(echo "$out" | head -n 3)" || return
	done
}

completion_loads() {
	local out
	out=$(bash -c '. "$1" && complete -p vdectl' - \
		"$dest/usr/share/bash-completion/completions/vdectl" 2>&1)
	[ "$out" = "complete -F _vdectl vdectl" ] || fail "$out"
}

ktap_header 10
ktap_run udev_by_id_link_of_device udev_disk_link
ktap_run udev_by_id_link_of_partition udev_partition_link
ktap_run vde_attach_all_uses_vdetab_options helper_attach_all
ktap_run vde_attach_all_is_idempotent helper_attach_idempotent
ktap_run vde_attach_noauto_image_by_name helper_attach_noauto
ktap_run vde_attach_encrypted_image_with_key_file helper_attach_key
ktap_run vde_attach_refuses_bad_line helper_bad_line
ktap_run vde_detach_image_and_all helper_detach
ktap_run man_pages_render man_pages_render
ktap_run bash_completion_loads completion_loads
ktap_finish
