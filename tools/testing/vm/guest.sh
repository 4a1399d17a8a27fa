#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs as PID 1 inside the test VM, chrooted into the host's root (read-only
# over 9p).  Sets up the guest, loads vde.ko, runs the command from the env
# file with a timeout, records the kernel's state and powers off.
#
# Layout seen by the command:
#   $VDE_SRC       the checkout, at its host path, read-only
#   $VDE_SCRATCH   /tmp/vde/scratch, ext4 on a virtio disk (for backing files)
#   $VDE_OUT       /tmp/vde/out, writable share whose files the host keeps
#   $VDE_KO        the vde.ko built for this kernel (already loaded)
#   $VDE_KVER      the kernel release

set -u
out=/tmp/vde/out
. $out/env
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TERM=dumb LANG=C.UTF-8
export VDE_SRC VDE_KVER VDE_SCRATCH=/tmp/vde/scratch VDE_OUT=$out
export VDE_KO=$VDE_SRC/build/$VDE_KVER/vde.ko
tty=/dev/ttyS1

note() { echo "vde-vm: $*" >$tty; echo "vde-vm: $*" >/dev/kmsg; }
finish() {
	dmesg >$out/dmesg 2>&1
	cat /proc/sys/kernel/tainted >$out/taint.after
	echo "$1" >$out/status
	umount $VDE_SCRATCH 2>/dev/null
	sync
	echo o >/proc/sysrq-trigger
	# PID 1 must not exit while the power-off runs: wait with builtins only,
	# since executables may no longer be reachable.
	while :; do
		read -r -t 5 _ </dev/console 2>/dev/null || :
	done
}

# What udev would make: /dev/fd and the standard streams.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t configfs configfs /sys/kernel/config 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# The kernel's own modules, in place of the host's /lib/modules.
mount --bind "$VDE_SRC/.cache/kernels/$VDE_KVER/lib/modules" /lib/modules
hostname vde-vm

cat /proc/sys/kernel/tainted >$out/taint.before
# On a kmemleak kernel (the debug kernel), only leaks from now on count.
kmemleak=/sys/kernel/debug/kmemleak
[ -w $kmemleak ] && echo clear >$kmemleak
echo "${VDE_HUNG_TASK_SECS:-60}" >/proc/sys/kernel/hung_task_timeout_secs

if ! modprobe -q virtio_blk || ! modprobe -q ext4 ||
   ! mount -t ext4 /dev/vda $VDE_SCRATCH; then
	note "cannot mount the scratch disk"
	finish 125
fi
if ! insmod "$VDE_KO" $VDE_MODPARAMS; then
	note "cannot load $VDE_KO"
	finish 125
fi

cd "$VDE_SRC" || finish 125
echo "vde-vm: start: $VDE_CMD" >/dev/kmsg
timeout -k 10 "$VDE_TIMEOUT" bash -c "$VDE_CMD" </dev/null 2>&1 |
	tee $out/output >$tty
status=${PIPESTATUS[0]}
[ "$status" = 124 ] && note "command timed out after ${VDE_TIMEOUT}s"
echo "vde-vm: end: status $status" >/dev/kmsg

# Leaks of objects whose allocation went through vde, found while the module
# is still loaded (so that its frames have names).  kmemleak reports objects
# at least 5 s old, hence the second scan.
if [ -w $kmemleak ]; then
	echo scan >$kmemleak
	sleep 6
	echo scan >$kmemleak
	awk '/^unreferenced object/ { if (blk ~ /vde/) printf "%s", blk; blk = "" }
	     { blk = blk $0 "\n" }
	     END { if (blk ~ /vde/) printf "%s", blk }' $kmemleak >$out/kmemleak
fi

# Unloading must work after any test: it is part of every run's verdict.
if [ -e /sys/module/vde ] && ! rmmod vde 2>$out/rmmod; then
	note "rmmod vde failed: $(cat $out/rmmod)"
	echo failed >>$out/rmmod
fi
finish "$status"
