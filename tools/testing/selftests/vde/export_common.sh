#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Exporting vde devices in the test VM with the real target stacks: LIO
# through targetcli (tcm_loop, iSCSI with the portal in a network
# namespace), the kernel NVMe target over TCP.  Sourced by the export test,
# the export benchmark and the demo; each function prints what it made
# (a device node) on stdout and returns non-zero on failure.

# lio_setup DIR: LIO and targetcli ready in the test VM.  LIO keeps its
# metadata (ALUA, persistent reservations) under dbroot, /etc/target by
# default, and the guest's /etc is read-only: DIR/target instead.
# targetcli keeps its preferences in ~/.targetcli and asks the system D-Bus
# for tcmu-runner's handlers: HOME=DIR and a bus of its own (killed by
# lio_teardown).
lio_setup() {
	local cfs=/sys/kernel/config
	if ! mountpoint -q $cfs; then
		modprobe configfs 2>/dev/null
		mount -t configfs configfs $cfs || return
	fi
	modprobe -a target_core_mod target_core_iblock tcm_loop sd_mod || return
	mkdir -p "$1/target"
	[ "$(cat $cfs/target/dbroot)" = "$1/target" ] ||
		echo "$1/target" >$cfs/target/dbroot || return
	export HOME=$1
	if [ ! -S "$1/dbus.sock" ]; then
		dbus-daemon --session --address="unix:path=$1/dbus.sock" --fork \
			--print-pid >"$1/dbus.pid" || return
	fi
	export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$1/dbus.sock
	# One-shot commands never save the configuration; this also writes
	# the preferences file, whose absence targetcli warns about.
	targetcli set global auto_save_on_exit=false >/dev/null
}

# lio_teardown DIR: every LIO object gone, lio_setup's bus stopped.
lio_teardown() {
	targetcli clearconfig confirm=True >/dev/null 2>&1
	[ -f "$1/dbus.pid" ] && kill "$(cat "$1/dbus.pid")" 2>/dev/null
	rm -f "$1/dbus.pid" "$1/dbus.sock"
}

# scsi_disk_of SERIAL: the sd node whose VPD unit serial is SERIAL.
scsi_disk_of() {
	local b
	for b in /sys/block/sd*; do
		[ -e "$b" ] || continue
		[ "$(sg_vpd -p sn "/dev/${b##*/}" 2>/dev/null |
		     awk '/Unit serial number:/ { print $NF }')" = "$1" ] &&
			{ echo "/dev/${b##*/}"; return; }
	done
	return 1
}

# tcm_loop_add NAME DEV SERIAL: a block backstore NAME on DEV (by path, as
# given) with unit serial SERIAL and SCSI UNMAP enabled, a tcm_loop target
# and LUN; prints the local SCSI disk.
tcm_loop_add() {
	local naa
	targetcli /backstores/block create name="$1" dev="$2" wwn="$3" >/dev/null &&
		targetcli "/backstores/block/$1" set attribute emulate_tpu=1 >/dev/null ||
		return
	naa=$(targetcli /loopback create 2>&1 | sed -n 's/.*Created target \(naa\.[0-9a-f]*\).*/\1/p')
	[ -n "$naa" ] || return
	targetcli "/loopback/$naa/luns" create "/backstores/block/$1" >/dev/null || return
	wait_for 300 scsi_disk_of "$3"
}

# iSCSI: the target's portal in the namespace vdetgt, joined to the root
# namespace (where iscsid must run) by a veth pair.
iscsi_ip=10.211.0.2

# iscsi_target_add BACKSTORE IQN: an iSCSI target IQN in demo mode (no
# ACLs, no authentication) with BACKSTORE as LUN 0, portal iscsi_ip:3260.
iscsi_target_add() {
	local t="ip netns exec vdetgt targetcli /iscsi"
	modprobe -a iscsi_target_mod iscsi_tcp veth || return
	ip netns add vdetgt &&
		ip link add vdei type veth peer name vdet &&
		ip link set vdet netns vdetgt &&
		ip addr add 10.211.0.1/24 dev vdei && ip link set vdei up && ip link set lo up &&
		ip netns exec vdetgt ip addr add $iscsi_ip/24 dev vdet &&
		ip netns exec vdetgt ip link set vdet up &&
		ip netns exec vdetgt ip link set lo up || return
	# The portal's socket lives in the namespace of whoever creates it.
	$t create "$2" >/dev/null &&
		$t/"$2"/tpg1/portals delete 0.0.0.0 3260 >/dev/null &&
		$t/"$2"/tpg1/portals create $iscsi_ip 3260 >/dev/null &&
		targetcli "/iscsi/$2/tpg1/luns" create "/backstores/block/$1" >/dev/null &&
		targetcli "/iscsi/$2/tpg1" set attribute authentication=0 \
			demo_mode_write_protect=0 generate_node_acls=1 cache_dynamic_acls=1 >/dev/null
}

# iscsi_initiator_start: iscsid with node records on a tmpfs over the
# read-only /etc/iscsi.
iscsi_initiator_start() {
	mountpoint -q /etc/iscsi || mount -t tmpfs tmpfs /etc/iscsi || return
	mkdir -p /run/lock/iscsi
	echo "InitiatorName=iqn.2003-01.org.linux-iscsi.vde:initiator" >/etc/iscsi/initiatorname.iscsi
	cat >/etc/iscsi/iscsid.conf <<-EOF
	iscsid.startup = /bin/true
	node.startup = manual
	node.session.timeo.replacement_timeout = 5
	node.conn[0].timeo.login_timeout = 15
	EOF
	iscsid
}

iscsi_disk() {
	local b
	for b in /sys/class/iscsi_session/session*/device/target*/*/block/sd*; do
		[ -e "$b" ] && { echo "/dev/${b##*/}"; return; }
	done
	return 1
}

# iscsi_login IQN: discovery of iscsi_ip, login to IQN; prints the disk.
# The discovery output is left in $VDE_EXPORT_DISC if set.
iscsi_login() {
	iscsiadm -m discovery -t sendtargets -p $iscsi_ip >"${VDE_EXPORT_DISC:-/dev/null}" 2>&1 &&
		iscsiadm -m node -T "$1" -p $iscsi_ip --login >/dev/null &&
		wait_for 300 iscsi_disk
}

iscsi_logout() {
	iscsiadm -m node -T "$1" -p $iscsi_ip --logout >/dev/null &&
		wait_for 100 sh -c '! ls /sys/class/iscsi_session/ | grep -q .'
}

# iscsi_teardown: sessions, iscsid, the namespace and the tmpfs gone.
iscsi_teardown() {
	iscsiadm -m node -u >/dev/null 2>&1
	pkill -x iscsid 2>/dev/null
	ip netns del vdetgt 2>/dev/null
	umount /etc/iscsi 2>/dev/null
}

# NVMe over TCP on 127.0.0.1:4420, port 1.
nvmet=/sys/kernel/config/nvmet

# dashed UUID: the 32 hex digits as 8-4-4-4-12.
dashed() { echo "${1:0:8}-${1:8:4}-${1:12:4}-${1:16:4}-${1:20:12}"; }

# nvmet_add NQN DEV UUID: subsystem NQN (any host) with DEV as namespace 1
# whose device_uuid is UUID, on a TCP port on 127.0.0.1:4420.
nvmet_add() {
	local s=$nvmet/subsystems/$1 p=$nvmet/ports/1
	modprobe -a nvmet nvmet_tcp nvme_tcp || return
	mkdir "$s" && echo 1 >"$s/attr_allow_any_host" &&
		mkdir "$s/namespaces/1" &&
		echo -n "$2" >"$s/namespaces/1/device_path" &&
		dashed "$3" >"$s/namespaces/1/device_uuid" &&
		echo 1 >"$s/namespaces/1/enable" || return
	mkdir "$p" && echo tcp >"$p/addr_trtype" && echo ipv4 >"$p/addr_adrfam" &&
		echo 127.0.0.1 >"$p/addr_traddr" && echo 4420 >"$p/addr_trsvcid" &&
		ln -s "$s" "$p/subsystems/$1"
}

# nvme_ns UUID: the namespace whose wwid is UUID (the multipath head
# nvmeXnY, not its hidden paths nvmeXcZnY).
nvme_ns() {
	local b
	for b in /sys/block/nvme*n*; do
		[[ ${b##*/} =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
		[ "$(cat "$b/wwid" 2>/dev/null)" = "uuid.$(dashed "$1")" ] &&
			{ echo "/dev/${b##*/}"; return; }
	done
	return 1
}

# nvme_tcp_connect NQN UUID: connect to NQN; prints the namespace of UUID.
nvme_tcp_connect() {
	nvme connect -t tcp -a 127.0.0.1 -s 4420 -n "$1" \
		--hostnqn=nqn.2014-08.org.vde:host --hostid="$(dashed "$2")" >/dev/null &&
		wait_for 300 nvme_ns "$2"
}

# nvmet_teardown NQN: disconnected, port and subsystem gone.
nvmet_teardown() {
	local s=$nvmet/subsystems/$1
	nvme disconnect -n "$1" >/dev/null 2>&1
	[ -d $nvmet ] || return 0
	rm -f "$nvmet/ports/1/subsystems/$1" 2>/dev/null
	rmdir $nvmet/ports/1 2>/dev/null
	if [ -d "$s" ]; then
		echo 0 >"$s/namespaces/1/enable" 2>/dev/null
		rmdir "$s/namespaces/1" 2>/dev/null
		rmdir "$s"
	fi
}
