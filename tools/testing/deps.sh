#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything vde needs to build and test on a Debian 12 machine, and
# fetch the guest kernels named in tools/testing/vm/kernels.conf.
#
#   tools/testing/deps.sh            install what is missing, fetch kernels
#   tools/testing/deps.sh --kernels  only resolve and fetch the guest kernels
#   tools/testing/deps.sh --resolve LABEL PINNED
#                                    print the kernel release that would be
#                                    used for LABEL if PINNED were the pin
#
# Downloads are cached under .cache/ (git-ignored); a second run downloads
# nothing.  Resolved kernel releases are written to .cache/kernels/<label>.kver.

set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cache=$top/.cache
conf=$top/tools/testing/vm/kernels.conf
only_kernels=0
resolve_only=0
case ${1:-} in
--kernels) only_kernels=1 ;;
--resolve) resolve_only=1 ;;
esac

log() { printf 'deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || SUDO=sudo
SUDO=${SUDO:-}

apt_updated=0
apt_update() {
	[ $apt_updated = 1 ] && return
	log "apt-get update"
	$SUDO apt-get update -qq
	apt_updated=1
}

# The 6.12 kernel comes from bookworm-backports, on the same mirror and keyring
# as the system's own Debian source.
ensure_backports() {
	if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return
	fi
	local uri
	uri=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	uri=${uri:-http://deb.debian.org/debian}
	log "adding bookworm-backports ($uri)"
	$SUDO tee /etc/apt/sources.list.d/vde-bookworm-backports.sources >/dev/null <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt_updated=0
}

pkg_known() { apt-cache show "$1" >/dev/null 2>&1; }

# resolve_kernel LABEL PINNED: print the kernel release to use.
resolve_kernel() {
	local label=$1 pinned=$2 ver dep
	if pkg_known "linux-image-$pinned-unsigned" && pkg_known "linux-headers-$pinned"; then
		echo "$pinned"
		return
	fi
	# The pinned release left the archive: follow the metapackage of the
	# same series (e.g. the newest linux-image-amd64 whose version is 6.1.*).
	ver=$(apt-cache madison linux-image-amd64 | awk -v s="$label." \
		'index($3, s) == 1 { print $3 }' | sort -V | tail -n 1)
	[ -n "$ver" ] || die "no linux-image-amd64 $label.* in the archive"
	dep=$(apt-cache depends "linux-image-amd64=$ver" |
		awk '/Depends: linux-image-/ { sub("linux-image-", "", $2); print $2; exit }')
	[ -n "$dep" ] || die "cannot resolve linux-image-amd64=$ver"
	log "kernel $label: pinned $pinned is gone, using $dep (linux-image-amd64 $ver)"
	echo "$dep"
}

# fetch_kernel KVER: unpack the unsigned image and its modules into
# .cache/kernels/KVER and index the modules.
fetch_kernel() {
	local kver=$1 dir=$cache/kernels/$1 pkg deb
	[ -f "$dir/.done" ] && return
	pkg=linux-image-$kver-unsigned
	mkdir -p "$cache/debs" "$dir"
	deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		log "downloading $pkg"
		(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$pkg" >/dev/null)
		deb=$(ls "$cache/debs/${pkg}_"*.deb | head -n 1)
	fi
	log "unpacking $(basename "$deb")"
	dpkg-deb -x "$deb" "$dir"
	depmod -b "$dir" "$kver"
	touch "$dir/.done"
}

# The kselftest harness, checkpatch and kernel-doc come from Debian's
# linux-source-6.1; only the few files we use are extracted.
extract_kernel_tools() {
	local out=$top/.tools/linux tarball
	[ -f "$out/.done" ] && return
	tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
	[ -n "$tarball" ] || die "linux-source-6.1 is not installed"
	log "extracting kselftest, checkpatch and kernel-doc from $tarball"
	rm -rf "$out"
	mkdir -p "$out"
	tar -xJf "$tarball" -C "$out" --strip-components=1 --wildcards \
		'*/tools/testing/selftests/kselftest.h' \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest/*' \
		'*/scripts/checkpatch.pl' \
		'*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch' \
		'*/scripts/kernel-doc'
	touch "$out/.done"
}

packages=(
	build-essential bc kmod sparse pkg-config shellcheck
	liburing-dev libssl-dev libxxhash-dev libargon2-dev libjson-c-dev
	linux-source-6.1
	qemu-system-x86 busybox-static cpio e2fsprogs xz-utils
	fio util-linux fdisk python3 cryptsetup-bin dmsetup
	clang libclang-rt-14-dev
	dpkg-dev debhelper dh-dkms dkms lintian python3-docutils
	systemd udev man-db bash-completion
	targetcli-fb open-iscsi nvme-cli sg3-utils iproute2
)

ensure_backports
if ! pkg_known linux-image-amd64; then apt_update; fi

if [ $resolve_only = 1 ]; then
	[ $# = 3 ] || die "usage: $0 --resolve LABEL PINNED"
	resolve_kernel "$2" "$3"
	exit
fi

labels=()
kvers=()
while read -r label pinned _suite; do
	case $label in ''|\#*) continue ;; esac
	if ! pkg_known "linux-image-$pinned-unsigned"; then apt_update; fi
	kver=$(resolve_kernel "$label" "$pinned")
	labels+=("$label")
	kvers+=("$kver")
done <"$conf"

if [ $only_kernels = 0 ]; then
	want=("${packages[@]}")
	for kver in "${kvers[@]}"; do
		want+=("linux-headers-$kver")
	done
	missing=()
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		apt_update
		log "installing: ${missing[*]}"
		$SUDO env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	extract_kernel_tools
fi

mkdir -p "$cache/kernels"
for i in "${!labels[@]}"; do
	fetch_kernel "${kvers[$i]}"
	echo "${kvers[$i]}" >"$cache/kernels/${labels[$i]}.kver"
	log "kernel ${labels[$i]}: ${kvers[$i]}"
done
