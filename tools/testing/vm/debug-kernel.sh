#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a debug kernel (KASAN, lockdep, kmemleak and friends) from Debian's
# linux-source-6.1, for running vde's VM suite on request:
#
#   tools/testing/vm/debug-kernel.sh          build it (once; later runs reuse it)
#   make debug-check                          build it and run the VM suite on it
#   tools/testing/vm/run --kernel debug -- CMD
#
# The configuration is x86_64_defconfig plus kvm_guest.config, minus the
# hardware a QEMU guest does not have, plus the selftests' config fragment
# (tools/testing/selftests/vde/config), what the VM suite loads (dm, loop,
# crypto, LIO, nvmet) and the debug options below.  The result is laid out
# like an unpacked Debian kernel: .cache/kernels/<release>/boot/vmlinuz-*,
# .cache/kernels/<release>/lib/modules/<release>, and the label file
# .cache/kernels/debug.kver that tools/testing/vm/run --kernel debug reads.
# The build tree .cache/debug-kernel/build is the KDIR vde.ko is built in.
#
# Needs flex, bison, libelf-dev and bc (installed if missing) and about
# 6 GB of disk.  See Documentation/reliability.rst for how long it takes.

set -eu
top=$(cd "$(dirname "$0")/../../.." && pwd)
work=$top/.cache/debug-kernel
src=$work/src
obj=$work/build
tarball=${VDE_LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
jobs=${JOBS:-$(nproc)}
localversion=-vde-debug

log() { printf 'debug-kernel: %s\n' "$*" >&2; }

need=()
for p in flex bison bc; do command -v $p >/dev/null || need+=("$p"); done
[ -f /usr/include/libelf.h ] || need+=(libelf-dev)
[ -f "$tarball" ] || need+=(linux-source-6.1)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p "$work"
start=$(date +%s)

if [ ! -f "$src/Makefile" ] || [ "$tarball" -nt "$src/Makefile" ]; then
	log "unpacking $tarball"
	rm -rf "$src"
	mkdir -p "$src"
	tar -xJf "$tarball" -C "$src" --strip-components=1
fi

# config_fragment: what this script adds on top of defconfig.
config_fragment() {
	cat "$top/tools/testing/selftests/vde/config"
	cat <<EOF
CONFIG_LOCALVERSION="$localversion"
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
# CONFIG_MODULE_SIG is not set
CONFIG_DEBUG_INFO_NONE=y
# CONFIG_DEBUG_INFO_BTF is not set
CONFIG_KALLSYMS_ALL=y
CONFIG_MAGIC_SYSRQ=y
CONFIG_DEVTMPFS=y
CONFIG_TMPFS=y
CONFIG_CONFIGFS_FS=y
CONFIG_DEBUG_FS=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=m
CONFIG_NET_9P=m
CONFIG_NET_9P_VIRTIO=m
CONFIG_9P_FS=m
CONFIG_9P_FS_POSIX_ACL=y
CONFIG_EXT4_FS=m
CONFIG_XFS_FS=m
CONFIG_IO_URING=y
CONFIG_BLK_DEV_LOOP=m
CONFIG_MD=y
CONFIG_BLK_DEV_DM=m
CONFIG_DM_CRYPT=m
CONFIG_DM_FLAKEY=m
CONFIG_DM_UEVENT=y
CONFIG_CRYPTO_XTS=y
CONFIG_CRYPTO_AES_NI_INTEL=y
CONFIG_CRYPTO_USER_API_HASH=m
CONFIG_CRYPTO_USER_API_SKCIPHER=m
CONFIG_CRYPTO_CRC32C=y
CONFIG_NET_NS=y
CONFIG_VETH=m
CONFIG_SCSI=y
CONFIG_BLK_DEV_SD=m
CONFIG_CHR_DEV_SG=m
CONFIG_TARGET_CORE=m
CONFIG_TCM_IBLOCK=m
CONFIG_TCM_FILEIO=m
CONFIG_LOOPBACK_TARGET=m
CONFIG_ISCSI_TARGET=m
CONFIG_ISCSI_TCP=m
CONFIG_SCSI_ISCSI_ATTRS=m
CONFIG_NVME_CORE=m
CONFIG_NVME_TCP=m
CONFIG_NVME_TARGET=m
CONFIG_NVME_TARGET_TCP=m
CONFIG_NVME_TARGET_LOOP=m
CONFIG_BLK_DEV_UBLK=m
# The debug options.
CONFIG_KASAN=y
CONFIG_KASAN_GENERIC=y
CONFIG_KASAN_INLINE=y
CONFIG_KASAN_VMALLOC=y
CONFIG_PROVE_LOCKING=y
CONFIG_DEBUG_LOCKDEP=y
CONFIG_DEBUG_ATOMIC_SLEEP=y
CONFIG_DEBUG_KMEMLEAK=y
CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN=y
CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE=32000
CONFIG_DEBUG_LIST=y
CONFIG_DEBUG_SG=y
CONFIG_DEBUG_OBJECTS=y
CONFIG_DEBUG_OBJECTS_WORK=y
CONFIG_DEBUG_OBJECTS_TIMERS=y
CONFIG_DEBUG_VM=y
CONFIG_UBSAN=y
CONFIG_UBSAN_BOUNDS=y
# CONFIG_UBSAN_ALIGNMENT is not set
CONFIG_DETECT_HUNG_TASK=y
CONFIG_SOFTLOCKUP_DETECTOR=y
CONFIG_WQ_WATCHDOG=y
EOF
}

# What a QEMU guest does not need: keeps the build to a few thousand files.
drop=(DRM SOUND WLAN WIRELESS CFG80211 MAC80211 USB_SUPPORT AGP FB INPUT_JOYSTICK
      INPUT_TABLET INPUT_TOUCHSCREEN HID_SUPPORT ETHERNET WIRELESS_EXT RFKILL
      BT NFC MEDIA_SUPPORT HAMRADIO CAN INFINIBAND FTRACE KPROBES PROFILING
      PCCARD ATA_SFF HWMON THERMAL_HWMON NFS_FS NETWORK_FILESYSTEMS_NFS)

stamp=$work/config.stamp
frag=$work/fragment.config
config_fragment >"$frag"
if [ ! -f "$obj/.config" ] || ! cmp -s "$frag" "$stamp" 2>/dev/null; then
	log "configuring in $obj"
	mkdir -p "$obj"
	make -s -C "$src" O="$obj" x86_64_defconfig
	make -s -C "$src" O="$obj" kvm_guest.config
	for o in "${drop[@]}"; do "$src/scripts/config" --file "$obj/.config" -d "$o"; done
	"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag" >/dev/null
	make -s -C "$src" O="$obj" olddefconfig
	# Every debug option must have survived olddefconfig.
	missing=0
	while IFS= read -r line; do
		case $line in CONFIG_*=y) ;; *) continue ;; esac
		grep -qx "$line" "$obj/.config" || { log "not set: $line"; missing=1; }
	done < <(sed -n '/^# The debug options/,$p' "$frag")
	[ $missing = 0 ] || { log "the configuration lost debug options"; exit 1; }
	cp "$frag" "$stamp"
fi

log "building with $jobs jobs"
make -s -C "$src" O="$obj" -j"$jobs" bzImage modules
kver=$(make -s -C "$src" O="$obj" kernelrelease)
dest=$top/.cache/kernels/$kver
rm -rf "$dest"
mkdir -p "$dest/boot"
cp "$obj/arch/x86/boot/bzImage" "$dest/boot/vmlinuz-$kver"
make -s -C "$src" O="$obj" INSTALL_MOD_PATH="$dest" INSTALL_MOD_STRIP=1 \
	DEPMOD=/sbin/depmod modules_install
rm -f "$dest/lib/modules/$kver/build" "$dest/lib/modules/$kver/source"
echo "$kver" >"$top/.cache/kernels/debug.kver"
# Under emulation, ACPI's PCI interrupt routing methods run into the AML
# loop timeout (30 s each) with KASAN and lockdep: PCI without ACPI.
# 5-level paging (QEMU's -cpu max) is turned off: an early-boot KASAN
# report from the interrupt code, seen with it now and then, turns
# lockdep off for the whole run.
echo "pci=noacpi no5lvl" >"$top/.cache/kernels/debug.append"

log "building vde.ko for $kver"
make -s -C "$top" KDIR="$obj" module
log "done in $(( $(date +%s) - start ))s: $kver"
