#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Exporting /dev/vdeN with the real target stacks, named by its stable
# by-id link: LIO (targetcli) through tcm_loop and through iSCSI (target
# portal in a network namespace joined by a veth pair, open-iscsi in the
# root namespace), and the kernel NVMe target over TCP on 127.0.0.1.
# Through each: bytes agree with the device and the image (plaintext for
# the encrypted region), fio crc32c verify; through tcm_loop also discard
# punching holes in the image and the VPD identifiers derived from the
# image UUID.  vdectl detach refuses an exported device and names the
# export; --force detaches it and the exporter's I/O fails cleanly.

. "$(dirname "$0")/test_common.sh"
# shellcheck source=export_common.sh
. "$(dirname "$0")/export_common.sh"
require_root
require_scratch

VDECTL=${VDECTL:-$VDE_SRC/build/user/vdectl}
dir=$VDE_SCRATCH/export
img=$dir/img.vde
key=$dir/key
tmp=/tmp/vde/export
fio_out=$tmp/fio.out
BS=4096
dev='' uuid='' byid='' sd=''
cfs=/sys/kernel/config
wwn_iscsi=iqn.2003-01.org.linux-iscsi.vde:test
nqn=nqn.2014-08.org.vde:test

# With lockdep on (the debug kernel of tools/testing/vm/debug-kernel.sh),
# 6.1's nvmet_tcp draws a circular-dependency report of its own when a
# queue is released (release_work flushing nvmet-wq; no vde frame).
# Lockdep switches itself off after its first report, so the NVMe/TCP part
# is skipped there to keep lockdep watching vde for the rest of the run.
nvme_skip=''
[ -e /proc/lockdep ] && [[ $(uname -r) == 6.1.* ]] &&
	nvme_skip="lockdep on 6.1: nvmet_tcp's own queue-release report"

for t in targetcli fio sg_vpd dbus-daemon; do
	command -v $t >/dev/null || ktap_skip_all "$t is not installed"
done
mkdir -p "$dir" "$tmp"

cleanup() {
	iscsi_teardown
	nvmet_teardown "$nqn"
	lio_teardown "$tmp"
	"$VDECTL" detach --all --force >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT

# The image: the standard profile's plain metadata regions and its
# encrypted DATA region, one device.
setup() {
	"$VDECTL" create --profile standard --size 64M --encrypt DATA \
		--key-file "$key" "$img" >/dev/null || fail "create" || return
	dev=$("$VDECTL" attach --show --key-file "$key" "$img") || fail "attach" || return
	uuid=$(cat "/sys/block/${dev#/dev/}/vde/uuid")
	[[ $uuid =~ ^[0-9a-f]{32}$ ]] || fail "uuid '$uuid'" || return
	# What 60-vde.rules makes (test_install_07 tests the rule; there is
	# no udev in the test VM).
	byid=/dev/disk/by-id/vde-$uuid
	mkdir -p /dev/disk/by-id
	ln -sfn "../../${dev#/dev/}" "$byid"
	lio_setup "$tmp" || fail "LIO setup"
}

# Extents of the device: "first count" of the first of KIND.
enc_first='' plain_first='' plain_count=''
extents() {
	read -r enc_first _ < <(vde_extent "$dev" encrypted)
	# The largest plain extent (the inode table of the standard profile).
	read -r plain_first plain_count < <(awk '$3 == "plain" && $2 > n { n = $2; f = $1 }
		END { print f, n }' "/sys/block/${dev#/dev/}/vde/region_map")
	[ -n "$enc_first" ] && [ "${plain_count:-0}" -ge 256 ] ||
		fail "no encrypted or plain extent in the map"
}

tcm_loop_export() {
	sd=$(tcm_loop_add vde_test "$byid" "$uuid") || fail "tcm_loop export of $byid" || return
	log "tcm_loop exports $byid as $sd"
}

# The identifiers an initiator sees come from the image UUID.
vpd_ids() {
	local sn naa
	sn=$(sg_vpd -p sn "$sd" | awk '/Unit serial number:/ { print $NF }')
	[ "$sn" = "$uuid" ] || fail "unit serial '$sn', not $uuid" || return
	# LIO: NAA 6, IEEE company id 0x001405, then the first 25 hex digits
	# of the serial.
	naa=$(sg_vpd -p di "$sd" | awk '/0x6001405/ { print $1; exit }')
	[ "$naa" = "0x6001405${uuid:0:25}" ] ||
		fail "NAA designator '$naa', not 0x6001405${uuid:0:25}"
}

# Limits the SCSI disk reports: what vde told LIO.
scsi_limits() {
	local s=/sys/block/${sd#/dev/}/queue
	[ "$(cat $s/logical_block_size)" = 4096 ] || fail "logical block size $(cat $s/logical_block_size)" || return
	[ "$(cat $s/discard_granularity)" = 4096 ] || fail "discard granularity $(cat $s/discard_granularity)" || return
	[ "$(cat $s/rotational)" = 0 ] || fail "rotational" || return
	grep -q 'write back' $s/write_cache || fail "write cache $(cat $s/write_cache)"
}

# Bytes written through the SCSI disk: the device reads them back, the
# image holds them as they are in the plain extent and as ciphertext in
# the encrypted one.
scsi_bytes() {
	local doff
	doff=$(cat "/sys/block/${dev#/dev/}/vde/data_offset")
	head -c $((256 * BS)) /dev/urandom >"$tmp/p"
	head -c $((256 * BS)) /dev/urandom >"$tmp/e"
	dd if="$tmp/p" of="$sd" bs=$BS seek="$plain_first" oflag=direct status=none &&
		dd if="$tmp/e" of="$sd" bs=$BS seek="$enc_first" oflag=direct status=none ||
		fail "write through $sd" || return
	cmp -s "$tmp/p" <(dd if="$dev" bs=$BS skip="$plain_first" count=256 iflag=direct status=none) &&
		cmp -s "$tmp/e" <(dd if="$dev" bs=$BS skip="$enc_first" count=256 iflag=direct status=none) ||
		fail "the vde device reads other bytes" || return
	cmp -s "$tmp/p" <(dd if="$img" bs=$BS skip=$((doff / BS + plain_first)) count=256 status=none) ||
		fail "the image's plain extent differs" || return
	cmp -s "$tmp/e" <(dd if="$img" bs=$BS skip=$((doff / BS + enc_first)) count=256 status=none) &&
		{ fail "the image holds plaintext in the encrypted region"; return; }
	cmp -s <(dd if="$sd" bs=1M iflag=direct status=none) <(dd if="$dev" bs=1M iflag=direct status=none) ||
		fail "the SCSI disk and the vde device differ"
}

# fio_verify DEV FIRST COUNT: crc32c verify of COUNT blocks from FIRST.
fio_verify() {
	fio --name=verify --filename="$1" --direct=1 --ioengine=libaio --iodepth=16 \
		--rw=randwrite --bsrange=4k-128k --offset=$(($2 * BS)) --size=$(($3 * BS)) \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 --verify_state_save=0 \
		--output="$fio_out" >/dev/null 2>&1 || { cat "$fio_out"; fail "fio verify on $1"; return 1; }
	grep -q 'err= 0' "$fio_out" || { cat "$fio_out"; fail "fio reported errors"; }
}

# A discard through SCSI UNMAP (emulate_tpu=1) punches the image.
scsi_discard() {
	local doff before after
	doff=$(cat "/sys/block/${dev#/dev/}/vde/data_offset")
	sync
	before=$(stat -c %b "$img")
	blkdiscard -o $((plain_first * BS)) -l $((256 * BS)) "$sd" || fail "blkdiscard" || return
	after=$(stat -c %b "$img")
	# stat counts 512-byte units: 256 blocks of 4 KiB are 2048.
	[ $((before - after)) -ge 2048 ] || fail "discard freed $((before - after)) sectors, not 2048" || return
	cmp -s <(head -c $((256 * BS)) /dev/zero) \
		<(dd if="$sd" bs=$BS skip="$plain_first" count=256 iflag=direct status=none) ||
		fail "discarded blocks do not read as zeros"
}

# --- iSCSI ----------------------------------------------------------------
iscsi_sd=''
iscsi_export() {
	iscsi_target_add vde_test $wwn_iscsi || fail "iSCSI target in a namespace"
}

iscsi_connect() {
	local sn
	command -v iscsiadm >/dev/null || fail "iscsiadm is not installed" || return
	iscsi_initiator_start || fail "iscsid" || return
	iscsi_sd=$(VDE_EXPORT_DISC=$tmp/disc iscsi_login $wwn_iscsi)
	grep -q "$iscsi_ip:3260,1 $wwn_iscsi" "$tmp/disc" ||
		{ cat "$tmp/disc"; fail "discovery did not find $wwn_iscsi"; return; }
	[ -b "$iscsi_sd" ] || fail "no disk from the iSCSI session" || return
	sn=$(sg_vpd -p sn "$iscsi_sd" | awk '/Unit serial number:/ { print $NF }')
	[ "$sn" = "$uuid" ] || fail "iSCSI disk serial '$sn', not $uuid" || return
	log "iSCSI session from the root namespace: $iscsi_sd"
}

# same_bytes A B FIRST COUNT: COUNT blocks from FIRST agree.
same_bytes() {
	cmp -s <(dd if="$1" bs=$BS skip="$3" count="$4" iflag=direct status=none) \
		<(dd if="$2" bs=$BS skip="$3" count="$4" iflag=direct status=none) ||
		fail "$1 and $2 differ in blocks $3+$4"
}

# exported_io DISK FIRST: fio verify of 2048 blocks from FIRST through
# DISK, then DISK and the vde device agree on everything written so far.
exported_io() {
	[ -b "$1" ] || fail "no exported disk" || return
	fio_verify "$1" "$2" 2048 || return
	same_bytes "$1" "$dev" "$enc_first" $(($2 + 2048 - enc_first)) &&
		same_bytes "$1" "$dev" "$plain_first" "$plain_count"
}

iscsi_disconnect() {
	iscsi_logout $wwn_iscsi || fail "logout, or the session outlived it"
}

# --- NVMe over TCP -------------------------------------------------------
nvme_dev=''
nvmet_export() {
	nvmet_add "$nqn" "$byid" "$uuid" || fail "nvmet subsystem and TCP port"
}

nvme_connect() {
	command -v nvme >/dev/null || fail "nvme-cli is not installed" || return
	nvme_dev=$(nvme_tcp_connect "$nqn" "$uuid") ||
		fail "no namespace with wwid uuid.$(dashed "$uuid")" || return
	log "NVMe/TCP namespace: $nvme_dev"
}

# --- detach of an exported device ----------------------------------------
detach_refused() {
	"$VDECTL" detach "$dev" >"$tmp/out" 2>&1 && { fail "detach succeeded"; return; }
	cat "$tmp/out"
	grep -q "exported by LIO backstore iblock_[0-9]*/vde_test" "$tmp/out" ||
		fail "no LIO export named" || return
	[ -n "$nvme_skip" ] || grep -q "exported by nvmet subsystem $nqn namespace 1" "$tmp/out" ||
		fail "no nvmet export named" || return
	[ -b "$dev" ] || fail "$dev is gone"
}

# --force detaches; what the exporters send afterwards fails, nothing hangs.
detach_forced() {
	"$VDECTL" detach --force "$dev" || fail "detach --force" || return
	[ -e "/sys/block/${dev#/dev/}" ] && { fail "$dev still exists"; return; }
	dd if="$sd" of=/dev/null bs=$BS count=1 iflag=direct status=none 2>/dev/null &&
		{ fail "a read through tcm_loop succeeded after the detach"; return; }
	[ -z "$nvme_skip" ] && timeout 60 dd if="$nvme_dev" of=/dev/null bs=$BS count=1 iflag=direct status=none 2>/dev/null &&
		{ fail "a read through NVMe/TCP succeeded after the detach"; return; }
	return 0
}

exports_removed() {
	if [ -z "$nvme_skip" ]; then
		nvme disconnect -n "$nqn" >/dev/null || fail "nvme disconnect" || return
		nvmet_teardown "$nqn" || fail "nvmet teardown" || return
		[ ! -e "$nvmet/subsystems/$nqn" ] || fail "the nvmet subsystem is left" || return
	fi
	targetcli clearconfig confirm=True >/dev/null || fail "targetcli clearconfig" || return
	! compgen -G "$cfs/target/core/iblock_*/*/udev_path" >/dev/null ||
		fail "a backstore is left"
}

ktap_header 19
ktap_run "setup: image with plain and encrypted regions, by-id link" setup
ktap_run "the map has a plain and an encrypted extent" extents
ktap_run "tcm_loop: targetcli block backstore on the by-id link" tcm_loop_export
ktap_run "tcm_loop: VPD unit serial and NAA id derive from the image uuid" vpd_ids
ktap_run "tcm_loop: the SCSI disk reports vde's limits" scsi_limits
ktap_run "tcm_loop: bytes agree with the device and the image" scsi_bytes
ktap_run "tcm_loop: fio verify on the encrypted extent" fio_verify "$sd" "$enc_first" 2048
ktap_run "tcm_loop: discard punches holes in the image" scsi_discard
ktap_run "iSCSI: target portal in a namespace, joined by a veth pair" iscsi_export
ktap_run "iSCSI: discovery and login from the root namespace" iscsi_connect
ktap_run "iSCSI: fio verify, bytes agree with the device" \
	exported_io "$iscsi_sd" $((enc_first + 2048))
ktap_run "iSCSI: logout" iscsi_disconnect
if [ -z "$nvme_skip" ]; then
	ktap_run "nvmet: subsystem on the by-id link, TCP port on 127.0.0.1" nvmet_export
	ktap_run "nvme: connect, namespace wwid is the image uuid" nvme_connect
	ktap_run "nvme: fio verify, bytes agree with the device" \
		exported_io "$nvme_dev" $((enc_first + 4096))
else
	for t in "nvmet: subsystem on the by-id link, TCP port on 127.0.0.1" \
		"nvme: connect, namespace wwid is the image uuid" \
		"nvme: fio verify, bytes agree with the device"; do
		ktap_result "$t" $KSFT_SKIP "$nvme_skip"
	done
fi
if [ -z "$nvme_skip" ]; then
	refused="detach of the exported device is refused, naming both exports"
else
	refused="detach of the exported device is refused, naming the LIO export"
fi
ktap_run "$refused" detach_refused
ktap_run "detach --force removes it; exporters' I/O then fails" detach_forced
ktap_run "the exports can be torn down after the forced detach" exports_removed
ktap_result "the by-id link dangles, nothing else is left" \
	"$([ ! -e "$byid" ] && ! compgen -G '/sys/block/vde*' >/dev/null && echo 0 || echo 1)"
ktap_finish
