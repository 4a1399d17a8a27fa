#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vde's built-in example, end to end: install what is missing, build
# vde.ko for each guest kernel and vdectl, then in a VM per kernel create a
# VDE v2 image, check it, attach it as /dev/vdeN, put a file system on it,
# write and read files, and show the device's statistics; then the same
# with an image whose DATA region is encrypted, served by the helper.

set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

tools/testing/deps.sh
make -s modules-all user >/dev/null
exec tools/testing/vm/run --kernel "${1:-all}" -- bash -c '
	set -e
	PATH=$VDE_SRC/build/user:$PATH
	img=$VDE_SCRATCH/demo.vde
	echo "== $(uname -r): vdectl features"
	vdectl features
	echo "== vdectl create --profile standard --size 256M $img"
	vdectl create --profile standard --size 256M "$img"
	vdectl check "$img"
	vdectl info "$img" | sed -n "/^regions/,\$p"
	echo "== vdectl attach --show --region DATA $img"
	dev=$(vdectl attach --show --region DATA "$img")
	vdectl list
	echo "== mkfs.ext4 $dev, write and read back"
	mkfs.ext4 -q "$dev"
	mkdir -p /tmp/demo && mount "$dev" /tmp/demo
	cp -a "$VDE_SRC/kmod" /tmp/demo/
	sync
	umount /tmp/demo && mount "$dev" /tmp/demo
	diff -r "$VDE_SRC/kmod" /tmp/demo/kmod && echo "files read back identical"
	umount /tmp/demo
	echo "== vdectl stats $dev"
	vdectl stats "$dev"
	vdectl detach "$img"
	echo "== detached; vdectl check $img"
	vdectl check "$img"

	enc=$VDE_SCRATCH/demo-enc.vde
	echo "== vdectl create --profile standard --size 256M --encrypt DATA --key-file KEY $enc"
	vdectl create --profile standard --size 256M --encrypt DATA \
		--key-file "$VDE_SCRATCH/demo.key" "$enc"
	echo "== vdectl attach --show --key-file KEY $enc: plain metadata, encrypted DATA"
	dev=$(vdectl attach --show --key-file "$VDE_SCRATCH/demo.key" "$enc")
	cat /sys/block/${dev#/dev/}/vde/region_map
	vdectl detach "$dev"
	echo "== vdectl attach --show --region DATA --key-file KEY $enc"
	dev=$(vdectl attach --show --region DATA --key-file "$VDE_SCRATCH/demo.key" "$enc")
	mkfs.ext4 -q "$dev"
	mount "$dev" /tmp/demo
	cp -a "$VDE_SRC/kmod" /tmp/demo/
	sync
	umount /tmp/demo && mount "$dev" /tmp/demo
	diff -r "$VDE_SRC/kmod" /tmp/demo/kmod && echo "files read back identical"
	umount /tmp/demo
	if grep -q "SPDX-License-Identifier" "$enc"; then
		echo "plaintext found in the image"; exit 1
	fi
	echo "the image holds no plaintext of the files"
	echo "== vdectl stats $dev"
	vdectl stats "$dev"
	vdectl detach "$dev"
'
