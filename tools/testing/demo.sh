#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vde's built-in example, end to end: install what is missing, build
# vde.ko for each guest kernel and vdectl, then in a VM per kernel create a
# VDE v2 image, check it, attach it as /dev/vdeN, put a file system on it,
# write and read files, and show the device's statistics; then the same
# with an image whose DATA region is encrypted, served by the helper; then
# the whole story: that image (plain metadata regions and the encrypted
# DATA region) attached as one device, exported through LIO (targetcli,
# tcm_loop) by its stable by-id name, read and written through the
# exported SCSI disk, with the statistics of both paths.

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

	. "$VDE_SRC/tools/testing/selftests/vde/test_common.sh"
	. "$VDE_SRC/tools/testing/selftests/vde/export_common.sh"
	lio=/tmp/demo-lio
	mkdir -p $lio
	trap "lio_teardown $lio" EXIT
	echo "== vdectl attach --show --key-file KEY $enc: the whole image, plain and encrypted"
	dev=$(vdectl attach --show --key-file "$VDE_SCRATCH/demo.key" "$enc")
	uuid=$(cat /sys/block/${dev#/dev/}/vde/uuid)
	# What 60-vde.rules makes where udev runs (not in this VM).
	byid=/dev/disk/by-id/vde-$uuid
	mkdir -p /dev/disk/by-id && ln -sfn ../../${dev#/dev/} $byid
	read -r plain _ < <(awk "\$3 == \"plain\" && \$2 >= 64 { print; exit }" /sys/block/${dev#/dev/}/vde/region_map)
	read -r encf _ < <(awk "\$3 == \"encrypted\" { print; exit }" /sys/block/${dev#/dev/}/vde/region_map)
	echo "== export $byid through LIO: block backstore, tcm_loop LUN"
	lio_setup $lio
	sd=$(tcm_loop_add demo $byid $uuid)
	echo "exported as $sd (vendor $(cat /sys/block/${sd#/dev/}/device/vendor)), unit serial $(sg_vpd -p sn $sd | awk "/serial number:/ { print \$NF }")"
	echo "== write one block through $sd into plain block $plain and encrypted block $encf"
	msg="vde demo block written through LIO at $(date -u +%FT%TZ)"
	printf "%-4096s" "$msg" >/tmp/demo-block
	dd if=/tmp/demo-block of=$sd bs=4096 seek=$plain oflag=direct status=none
	dd if=/tmp/demo-block of=$sd bs=4096 seek=$encf oflag=direct status=none
	for b in $plain $encf; do
		cmp <(dd if=$sd bs=4096 skip=$b count=1 iflag=direct status=none) /tmp/demo-block
	done
	echo "both blocks read back identical through $sd and through $dev:"
	cmp <(dd if=$dev bs=4096 skip=$encf count=1 iflag=direct status=none) /tmp/demo-block
	echo "copies of the text in the image file: $(grep -c -a "$msg" "$enc") (the plain block; the encrypted one is ciphertext)"
	echo "== fio: 16 MiB of verified random writes through $sd into the encrypted region"
	fio --name=demo --filename=$sd --direct=1 --ioengine=libaio --iodepth=16 \
		--rw=randwrite --bs=64k --offset=$((encf * 4096)) --size=16M \
		--verify=crc32c --verify_state_save=0 --output=/tmp/demo-fio >/dev/null
	grep -E "err=|WRITE:|READ:" /tmp/demo-fio | sed "s/^ *//"
	echo "== vdectl detach $dev while exported"
	vdectl detach "$dev" || echo "(refused, as it should be: take the export down first)"
	echo "== vdectl stats $dev"
	vdectl stats "$dev"
	lio_teardown $lio
	trap - EXIT
	vdectl detach "$dev"
	echo "== exported, written, read, detached"
'
