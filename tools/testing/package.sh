#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host tests of vde's packaging and installation, one per subcommand, run
# by check.sh (Documentation/install.rst, "Testing the packaging").
#
#   tools/testing/package.sh build         make deb: both packages exist
#   tools/testing/package.sh contents      exact file lists of the .debs
#   tools/testing/package.sh lintian       no lintian errors
#   tools/testing/package.sh dkms KVER     DKMS builds and installs a
#                                          signed vde.ko for KVER from the
#                                          vde-dkms .deb (private trees)
#   tools/testing/package.sh dkms-old      DKMS refuses a kernel < 6.1
#   tools/testing/package.sh install       make install DESTDIR=build/destdir
#                                          (used by test_install_07.sh)
#   tools/testing/package.sh systemd       systemd-analyze verify the units
#   tools/testing/package.sh generator     the generator's wants links
#   tools/testing/package.sh completion    every vdectl command and option
#                                          is completed

set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
debs=$top/build/deb
version=$(dpkg-parsechangelog -l debian/changelog -SVersion)
upstream=${version%-*}
vdectl=${VDECTL:-$top/build/user/vdectl}

die() { echo "FAIL: $*"; exit 1; }

deb_of() {
	local f
	f=$(ls "$debs/${1}_${version}_"*.deb 2>/dev/null) || die "no $1 .deb in $debs"
	echo "$f"
}

# same_list WHAT EXPECTED ACTUAL: the two sorted lists are equal.
same_list() {
	if ! diff -u <(echo "$2" | sort) <(echo "$3" | sort); then
		die "$1: file list differs (- expected, + found)"
	fi
}

# files_of DEB: the files and symlinks of a .deb, without the leading ".".
files_of() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }'; }

# files_in DIR: the files under DIR, without DIR.
files_in() { (cd "$1" && find . ! -type d | sed 's/^\.//'); }

do_build() {
	make -s deb
	deb_of vde-dkms >/dev/null
	deb_of vdectl >/dev/null
}

do_contents() {
	local src=/usr/src/vde-$upstream f want
	grep -qx "PACKAGE_VERSION=\"$upstream\"" dkms.conf ||
		die "PACKAGE_VERSION of dkms.conf is not $upstream (debian/changelog)"
	want="$src/Kbuild
$src/dkms.conf
$src/include/uapi/linux/vde.h
/usr/share/doc/vde-dkms/changelog.Debian.gz
/usr/share/doc/vde-dkms/copyright"
	for f in kmod/*.[ch]; do want="$want
$src/$f"; done
	same_list vde-dkms "$want" "$(files_of "$(deb_of vde-dkms)")"

	same_list vdectl "/etc/modprobe.d/vde.conf
/etc/vdetab
/lib/systemd/system-generators/vde-attach-generator
/lib/systemd/system/vde-attach.target
/lib/systemd/system/vde-attach@.service
/lib/udev/rules.d/60-vde.rules
/usr/lib/vde/vde-attach
/usr/sbin/vdectl
/usr/share/bash-completion/completions/vdectl
/usr/share/doc/vdectl/changelog.Debian.gz
/usr/share/doc/vdectl/copyright
/usr/share/lintian/overrides/vdectl
/usr/share/man/man4/vde.4.gz
/usr/share/man/man5/vdetab.5.gz
/usr/share/man/man8/vdectl.8.gz" "$(files_of "$(deb_of vdectl)")"

	# Relationships and configuration files.
	dpkg-deb -f "$(deb_of vde-dkms)" Depends | grep -q '\bdkms\b' ||
		die "vde-dkms does not depend on dkms"
	dpkg-deb -f "$(deb_of vde-dkms)" Architecture | grep -qx all ||
		die "vde-dkms is not Architecture: all"
	dpkg-deb -f "$(deb_of vdectl)" Depends | grep -q 'libjson-c' ||
		die "vdectl lacks its shared library dependencies"
	same_list conffiles "/etc/modprobe.d/vde.conf
/etc/vdetab" "$(dpkg-deb --ctrl-tarfile "$(deb_of vdectl)" | tar -xOf - ./conffiles)"
	# The dkms.conf in the package is the tree's.
	cmp <(dpkg-deb --fsys-tarfile "$(deb_of vde-dkms)" | tar -xOf - ".$src/dkms.conf") dkms.conf
	# The packaged vdectl runs and knows the package's version.
	tmp=$(mktemp -d)
	dpkg-deb -x "$(deb_of vdectl)" "$tmp"
	"$tmp/usr/sbin/vdectl" version | grep -q "^vdectl $version (uapi ABI [0-9]*)\$" ||
		die "vdectl version: $("$tmp/usr/sbin/vdectl" version)"
}

do_lintian() {
	local out
	out=$(lintian --fail-on error "$debs/vde_${version}_"*.changes 2>&1) || {
		echo "$out"
		die "lintian failed"
	}
	echo "$out"
	! echo "$out" | grep '^E:'
}

# dkms_build TMP KVER: dkms build of the packaged source for KVER in a
# private DKMS tree, with a throw-away signing key.
dkms_build() {
	local t=$1 kver=$2
	mkdir -p "$t/root" "$t/dkms"
	dpkg-deb -x "$(deb_of vde-dkms)" "$t/root"
	mok_signing_key=$t/mok.key mok_certificate=$t/mok.pub \
		dkms build --dkmstree "$t/dkms" --sourcetree "$t/root/usr/src" \
		-m vde -v "$upstream" -k "$kver" \
		--kernelsourcedir "/usr/src/linux-headers-$kver"
}

tmp=
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT

do_dkms() {
	local kver=$1 ko vermagic signer
	tmp=$(mktemp -d)
	dkms_build "$tmp" "$kver" || die "dkms build failed"
	ko=$(ls "$tmp/dkms/vde/$upstream/$kver"/*/module/vde.ko* 2>/dev/null | head -n 1)
	[ -n "$ko" ] || die "dkms built no vde.ko"
	echo "built $ko"
	vermagic=$(modinfo -F vermagic "$ko")
	echo "vermagic: $vermagic"
	[ "${vermagic%% *}" = "$kver" ] || die "vermagic '$vermagic' is not for $kver"
	signer=$(modinfo -F signer "$ko")
	[ "$signer" = "DKMS module signing key" ] || die "signer '$signer'"
	[ "$(modinfo -F license "$ko")" = GPL ] || die "license"
	# dkms install puts it in updates/dkms/ (Debian), whatever
	# DEST_MODULE_LOCATION says; --no-depmod and a private install tree
	# leave the system's /lib/modules alone.
	mkdir -p "$tmp/lib/modules/$kver"
	dkms install --no-depmod --dkmstree "$tmp/dkms" --sourcetree "$tmp/root/usr/src" \
		--installtree "$tmp/lib/modules" -m vde -v "$upstream" -k "$kver" ||
		die "dkms install failed"
	same_list "dkms install" "/$kver/updates/dkms/${ko##*/}" "$(files_in "$tmp/lib/modules")"
}

do_dkms_old() {
	local out
	tmp=$(mktemp -d)
	out=$(dkms_build "$tmp" 6.0.0-1-amd64 2>&1) && die "dkms built for 6.0: $out"
	echo "$out"
	echo "$out" | grep -q 'BUILD_EXCLUSIVE directive which does not match'
}

installed="/etc/modprobe.d/vde.conf
/etc/vdetab
/usr/lib/systemd/system-generators/vde-attach-generator
/usr/lib/systemd/system/vde-attach.target
/usr/lib/systemd/system/vde-attach@.service
/usr/lib/udev/rules.d/60-vde.rules
/usr/lib/vde/vde-attach
/usr/sbin/vdectl
/usr/share/bash-completion/completions/vdectl
/usr/share/man/man4/vde.4
/usr/share/man/man5/vdetab.5
/usr/share/man/man8/vdectl.8"

# make install into build/destdir (kept for test_install_07.sh), then
# install, edit a configuration file, and uninstall in a scratch DESTDIR.
do_install() {
	local d=$top/build/destdir f
	rm -rf "$d"
	make -s install DESTDIR="$d" >/dev/null
	same_list "make install" "$installed" "$(files_in "$d")"
	for f in /usr/sbin/vdectl /usr/lib/vde/vde-attach \
		 /usr/lib/systemd/system-generators/vde-attach-generator; do
		[ -x "$d$f" ] || die "$f is not executable"
	done
	tmp=$(mktemp -d)
	make -s install DESTDIR="$tmp" >/dev/null
	echo "/srv/a.vde ro" >>"$tmp/etc/vdetab"
	make -s install DESTDIR="$tmp" >/dev/null
	grep -qx "/srv/a.vde ro" "$tmp/etc/vdetab" || die "install replaced an edited vdetab"
	make -s uninstall DESTDIR="$tmp" >/dev/null
	same_list "make uninstall" "/etc/vdetab" "$(files_in "$tmp")"
}

# Install with a prefix inside build/, so that the units name programs that
# exist, and verify them with their man pages on MANPATH.
prefix=$top/build/prefix
install_prefix() {
	rm -rf "$prefix"
	make -s install PREFIX="$prefix/usr" SYSCONFDIR="$prefix/etc" >/dev/null
}

do_systemd() {
	local u=$prefix/usr/lib/systemd/system
	install_prefix
	grep -qx "ExecStart=$prefix/usr/lib/vde/vde-attach attach %f" "$u/vde-attach@.service"
	MANPATH=$prefix/usr/share/man SYSTEMD_LOG_LEVEL=notice \
		systemd-analyze verify "$u/vde-attach@.service" "$u/vde-attach.target"
}

do_generator() {
	local out=$prefix/gen wants unit_dir=$prefix/usr/lib/systemd/system
	install_prefix
	cat >"$prefix/vdetab" <<-EOF
	# comment
	/srv/img/data.vde   region=DATA,ro
	/srv/img/spare.vde  noauto
	/srv/img/my-disk.vde
	relative.vde        ro
	EOF
	mkdir -p "$out"
	VDETAB=$prefix/vdetab "$prefix/usr/lib/systemd/system-generators/vde-attach-generator" \
		"$out" "$out.early" "$out.late"
	wants=$out/vde-attach.target.wants
	same_list generator "vde-attach@srv-img-data.vde.service
vde-attach@srv-img-my\\x2ddisk.vde.service" "$(ls "$wants")"
	for l in "$wants"/*; do
		[ "$(readlink "$l")" = "$unit_dir/vde-attach@.service" ] || die "$l -> $(readlink "$l")"
	done
	# No vdetab: nothing, silently.
	rm -rf "$out"
	mkdir -p "$out"
	[ -z "$(VDETAB=$prefix/none "$prefix/usr/lib/systemd/system-generators/vde-attach-generator" "$out" 2>&1)" ]
	[ -z "$(ls "$out")" ]
}

# complete_words WORD...: what the completion offers for the last word.
complete_words() {
	bash -c '. user/etc/bash-completion/vdectl
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vdectl
		printf "%s\n" "${COMPREPLY[@]}"' complete vdectl "$@"
}

do_completion() {
	local cmds c sub o missing=
	cmds=$("$vdectl" help | awk '/^Commands:/ { on = 1; next } on && NF { print $1 } !NF && on { exit }')
	[ -n "$cmds" ] || die "no commands in vdectl help"
	for c in $cmds; do
		complete_words "" | grep -qx "$c" || missing="$missing $c"
	done
	for c in $cmds; do
		if [ "$c" = key ]; then
			# "SUB OPTION" pairs (OPTION "-" for none) from the usage,
			# whose lines continue a subcommand until the next one.
			while read -r sub o; do
				complete_words key "" | grep -qx "$sub" || missing="$missing key:$sub"
				[ "$o" = - ] && continue
				complete_words key "$sub" -- | grep -qx -- "$o" ||
					missing="$missing key-$sub:$o"
			done < <("$vdectl" help key | awk '
				!NF { exit }
				match($0, /vdectl key [a-z]+/) {
					sub_ = substr($0, RSTART + 11, RLENGTH - 11); print sub_, "-" }
				{ s = $0; while (match(s, /--[a-z0-9-]+/)) {
					print sub_, substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH) } }')
			continue
		fi
		for o in $("$vdectl" help "$c" | sed '/^$/q' | grep -oE -- '--[a-z0-9-]+' | sort -u); do
			complete_words "$c" -- | grep -qx -- "$o" || missing="$missing $c:$o"
		done
	done
	[ -z "$missing" ] || die "not completed:$missing"
	echo "commands: $(echo "$cmds" | tr '\n' ' ')"
}

case ${1:-} in
build) do_build ;;
contents) do_contents ;;
lintian) do_lintian ;;
dkms) [ $# = 2 ] || die "usage: $0 dkms KVER"; do_dkms "$2" ;;
dkms-old) do_dkms_old ;;
install) do_install ;;
systemd) do_systemd ;;
generator) do_generator ;;
completion) do_completion ;;
*) sed -n '4,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
