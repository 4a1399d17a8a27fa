#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vde's whole test suite: dependencies, builds for every guest kernel, style
# gates, host unit tests (plain and ASan/UBSan) and the selftests inside a
# VM per guest kernel.  Ends with "N passed, N failed, N skipped" and exits
# non-zero if anything failed.
#
#   tools/testing/check.sh [--kernel 6.1|6.12|all|debug] [--no-vm] [--no-deps]
#                          [--vm-only]
#
# --vm-only runs only the VM suite (make debug-check uses it with the debug
# kernel of tools/testing/vm/debug-kernel.sh).
#
# Logs and KTAP files are kept in build/test-results/.

set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
res=$top/build/test-results
kernel=all
vm=1
deps=1
vmonly=0
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--kernel=*) kernel=${1#*=}; shift ;;
	--no-vm) vm=0; shift ;;
	--no-deps) deps=0; shift ;;
	--vm-only) vmonly=1; deps=0; shift ;;
	*) echo "usage: $0 [--kernel 6.1|6.12|all|debug] [--no-vm] [--no-deps] [--vm-only]" >&2; exit 2 ;;
	esac
done

start=$(date +%s)
pass=0 fail=0 skip=0
failures=()
rm -rf "$res"
mkdir -p "$res"

# record VERDICT NAME: count one test.
record() {
	case $1 in
	PASS) pass=$((pass + 1)); echo "ok - $2" ;;
	SKIP) skip=$((skip + 1)); echo "ok - $2 # SKIP" ;;
	*) fail=$((fail + 1)); failures+=("$2"); echo "not ok - $2" ;;
	esac
}

# step NAME CMD...: one test whose verdict is CMD's exit status.
step() {
	local name=$1 log
	shift
	log=$res/$(echo "$name" | tr -c 'A-Za-z0-9._-' '_').log
	if "$@" >"$log" 2>&1; then
		record PASS "$name"
	else
		record FAIL "$name"
		tail -n 25 "$log" | sed 's/^/    /'
	fi
}

# ktap NESTED PREFIX FILE: count the tests of a KTAP file.
ktap() {
	local v name
	while IFS=$'\t' read -r v name; do
		record "$v" "$2: $name"
	done < <(awk -v nested="$1" -f tools/testing/ktap.awk "$3")
}

# run_ktap PREFIX CMD...: run a KTAP-printing program and count its tests;
# a non-zero exit without a failing result of its own is a failure too.
run_ktap() {
	local prefix=$1 out before rc
	shift
	out=$res/$(echo "$prefix" | tr -c 'A-Za-z0-9._-' '_').tap
	"$@" >"$out" 2>&1
	rc=$?
	before=$fail
	ktap 0 "$prefix" "$out"
	if [ $rc != 0 ] && [ $rc != 4 ] && [ $fail = "$before" ]; then
		record FAIL "$prefix: exit status $rc"
	fi
	[ $fail = "$before" ] || grep -v '^ok ' "$out" | tail -n 25 | sed 's/^/    /'
}

labels=()
while read -r label _rest; do
	case $label in ''|\#*) continue ;; esac
	if [ "$kernel" = all ] || [ "$kernel" = "$label" ]; then
		labels+=("$label")
	fi
done <tools/testing/vm/kernels.conf
[ "$kernel" = debug ] && labels=(debug)

echo "# vde test suite"
if [ $deps = 1 ] && ! tools/testing/deps.sh >"$res/deps.log" 2>&1; then
	record FAIL "dependencies installed"
	tail -n 25 "$res/deps.log"
	echo "$pass passed, $fail failed, $skip skipped"
	exit 1
fi

kvers=()
for label in "${labels[@]}"; do
	kvers+=("$(cat .cache/kernels/"$label".kver)")
done
echo "# kernels: $(for i in "${!labels[@]}"; do printf '%s=%s ' "${labels[$i]}" "${kvers[$i]}"; done)"

# Everything up to the VM suite is skipped by --vm-only (the block is not
# indented, to keep the sections readable).
if [ $vmonly = 0 ]; then
# A pin that has left the archive falls back to the metapackage's kernel of
# the same series, one that apt can still fetch.
pin_fallback() {
	local got
	got=$(tools/testing/deps.sh --resolve "$1" "$2") || return 1
	echo "$1 pinned $2 -> $got"
	echo "$got" | grep -Eq "$3" || { echo "unexpected release '$got'"; return 1; }
	apt-cache show "linux-image-$got-unsigned" >/dev/null
}
step "deps: vanished 6.1 pin falls back to linux-image-amd64" \
	pin_fallback 6.1 6.1.0-1-amd64 '^6\.1\.0-[0-9]+-amd64$'
step "deps: vanished 6.12 pin falls back to backports linux-image-amd64" \
	pin_fallback 6.12 6.12.1+deb12-amd64 '^6\.12\.[0-9]+\+(deb12|bpo)-amd64$'

# --- builds and style gates ---------------------------------------------
cp=.tools/linux/scripts/checkpatch.pl
kdoc=.tools/linux/scripts/kernel-doc
ksrc=(kmod/*.c kmod/*.h include/uapi/linux/vde.h)

build_kmod() {
	make KDIR=/usr/src/linux-headers-"$1" KBUILD_ARGS="W=1 C=2" module \
		>"$res/build-$1.log" 2>&1
}
# W=1 C=2: extra warnings and sparse on every file, with zero findings.
# The CHECK lines prove that sparse looked at every source file.
sparse_clean() {
	local log=$res/build-$1.log nsrc nchk
	[ -f "$log" ] || { echo "no build log"; return 1; }
	nsrc=$(ls kmod/*.c | wc -l)
	nchk=$(grep -c '^  CHECK ' "$log")
	[ "$nchk" -ge "$nsrc" ] || { echo "sparse checked $nchk of $nsrc files"; return 1; }
	! grep -E 'warning:|error:' "$log"
}
for i in "${!labels[@]}"; do
	kver=${kvers[$i]}
	step "build: vde.ko for ${labels[$i]} ($kver)" build_kmod "$kver"
	step "style: W=1 C=2 (sparse) clean for ${labels[$i]}" sparse_clean "$kver"
done
step "style: checkpatch --strict" \
	sh -c "perl $cp --strict --no-tree --terse --show-types -f ${ksrc[*]} | tee /dev/stderr | (! grep -q .)"
step "style: kernel-doc -Werror" perl "$kdoc" -none -Werror "${ksrc[@]}"
step "style: kernel-doc on every non-static function and uapi item" \
	awk -f tools/testing/kdoc-coverage.awk kmod/*.c include/uapi/linux/vde.h
# Every tracked shell script, sourced files followed (-x): no warning.
shell_clean() {
	local f files=()
	while read -r f; do
		case $f in
		*.sh) files+=("$f") ;;
		*) head -n 1 "$f" | grep -q '^#!.*sh$' && files+=("$f") ;;
		esac
	done < <(git ls-files)
	[ "${#files[@]}" -gt 30 ] || { echo "found only ${#files[@]} shell scripts"; return 1; }
	shellcheck -x -P SCRIPTDIR -S warning -f gcc "${files[@]}"
}
step "style: shellcheck -S warning on every shell script" shell_clean
docs_render() {
	local f rc=0
	for f in Documentation/*.rst; do
		python3 -m docutils --halt=warning "$f" /dev/null >/dev/null || rc=1
	done
	return $rc
}
step "docs: every Documentation/*.rst renders without a warning" docs_render
step "build: userspace" make -s -C user
step "build: userspace with ASan/UBSan" make -s -C user SAN=1
step "build: uapi header alone (c99 -pedantic)" make -s -C tools/testing/user "$top/build/tests-user/uapi_alone.o"
step "build: host unit tests" make -s -C tools/testing/user all
step "build: selftests" make -s -C tools/testing/selftests/vde
step "build: benchmark programs" make -s -C tools/testing/bench

# --- host tests -----------------------------------------------------------
for v in plain san; do
	for t in build/tests-user/$v/test_*; do
		run_ktap "host/$v: ${t##*/}" "$t"
	done
done
run_ktap "host/plain: vdectl cli" env VDECTL=build/user/vdectl tools/testing/user/test_vdectl.sh
run_ktap "host/san: vdectl cli" env VDECTL=build/user-san/vdectl tools/testing/user/test_vdectl.sh
run_ktap "host/plain: vdectl image cli" env VDECTL=build/user/vdectl tools/testing/user/test_vdectl_image.sh
run_ktap "host/san: vdectl image cli" env VDECTL=build/user-san/vdectl tools/testing/user/test_vdectl_image.sh
run_ktap "host/plain: vdectl key cli" env VDECTL=build/user/vdectl tools/testing/user/test_vdectl_key.sh
run_ktap "host/san: vdectl key cli" env VDECTL=build/user-san/vdectl tools/testing/user/test_vdectl_key.sh
run_ktap "host/plain: corpus" env VDECTL=build/user/vdectl tools/testing/user/test_corpus.sh
run_ktap "host/san: corpus" env VDECTL=build/user-san/vdectl tools/testing/user/test_corpus.sh
run_ktap "host/plain: power-cut checker" \
	env POWERCUT=build/selftests/vde/vde_powercut tools/testing/user/test_powercut_checker.sh
step "fuzz: image parser, ${FUZZ_SECONDS:-60}s under ASan/UBSan, no crash" \
	make -s -C tools/testing/fuzz run

# --- packaging and installation (Documentation/install.rst) ---------------
pkg=tools/testing/package.sh
step "package: dpkg-buildpackage builds vde-dkms and vdectl" $pkg build
step "package: the .debs hold exactly the expected files" $pkg contents
step "package: lintian reports no errors" $pkg lintian
for i in "${!labels[@]}"; do
	step "package: DKMS builds and installs a signed vde.ko for ${labels[$i]}" $pkg dkms "${kvers[$i]}"
done
step "package: DKMS refuses kernels older than 6.1" $pkg dkms-old
step "install: make install DESTDIR=build/destdir" $pkg install
step "systemd: unit files pass systemd-analyze verify" $pkg systemd
step "systemd: generator wants one unit per vdetab image" $pkg generator
step "completion: every vdectl command and option" $pkg completion

else
	for i in "${!labels[@]}"; do
		step "build: vde.ko for ${labels[$i]} (${kvers[$i]})" make -s KDIR="$(
			[ "${labels[$i]}" = debug ] && echo .cache/debug-kernel/build ||
			echo /usr/src/linux-headers-"${kvers[$i]}")" module
	done
	step "build: userspace" make -s -C user
	step "build: selftests" make -s -C tools/testing/selftests/vde
	# test_install_07 runs what make install installs.
	step "install: make install DESTDIR=build/destdir" tools/testing/package.sh install
fi

# --- VM suite -------------------------------------------------------------
# vm_health LABEL OUTDIR LOG [WHAT]: the VM's kernel health as one test.
vm_health() {
	local name="vm/$1: ${4:-suite VM} kernel healthy (no splat, no new taint, clean rmmod)"
	if [ "$(cat "$2/$1/health" 2>/dev/null)" = ok ]; then
		record PASS "$name"
	else
		record FAIL "$name"
		grep '^vm:\|^    ' "$3" | tail -n 40
	fi
}

# vm_script LABEL NAME WHAT TIMEOUT CMD...: CMD's KTAP in a VM of its own.
vm_script() {
	local label=$1 name=$2 what=$3 timeout=$(($4 * slow))
	shift 4
	echo "# vm $label: $what"
	tools/testing/vm/run --kernel "$label" --out "$res/vm-$name" \
		--timeout "$timeout" -- "$@" >"$res/vm-$name-$label.log" 2>&1
	if [ -s "$res/vm-$name/$label/output" ]; then
		ktap 0 "vm/$label: $name" "$res/vm-$name/$label/output"
	else
		record FAIL "vm/$label: $name produced no output"
	fi
	vm_health "$label" "$res/vm-$name" "$res/vm-$name-$label.log" "$what"
}

if [ $vm = 1 ]; then
	for label in "${labels[@]}"; do
		# The debug kernel runs everything several times slower: its
		# selftests get a build of their own with longer per-test timeouts.
		slow=1 ksft=build/selftests/vde
		if [ "$label" = debug ]; then
			slow=${VDE_DEBUG_SLOWDOWN:-6} ksft=build/selftests-debug/vde
			make -s -C tools/testing/selftests/vde OUTPUT="$top/$ksft"
			sed -i "s/^timeout=.*/timeout=$((300 * slow))/" "$ksft/settings"
		fi
		echo "# vm $label: selftests"
		tools/testing/vm/run --kernel "$label" --out "$res/vm" --timeout $((900 * slow)) \
			-- make -s -C tools/testing/selftests/vde OUTPUT="$top/$ksft" run_tests \
			>"$res/vm-$label.log" 2>&1
		if [ -s "$res/vm/$label/output" ]; then
			ktap 1 "vm/$label" "$res/vm/$label/output"
		else
			record FAIL "vm/$label: selftests produced no output"
		fi
		vm_health "$label" "$res/vm" "$res/vm-$label.log"

		# Name clashes need a fifth virtio disk: a VM of their own.
		VDE_VM_EXTRA_DISKS=4 vm_script "$label" names "names VM" 300 \
			build/selftests/vde/test_dev_06_names.sh
		# The soak and the ioctl/ring fuzzer get fresh VMs too.
		vm_script "$label" soak "soak VM" 900 \
			env VDE_SOAK_SECONDS="${SOAK_SECONDS:-60}" \
			build/selftests/vde/test_soak.sh
		# A new seed each run, printed: rerun with FUZZ_SEED to replay.
		vm_script "$label" ioctl-fuzz "ioctl and ring fuzz VM" 900 \
			build/selftests/vde/vde_fuzz -s "${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}" \
			-t "${FUZZ_SECONDS:-60}"
		# Power cut during acknowledged writes: two VMs on one disk.
		echo "# vm $label: power cut"
		VDE_VM_TIMEOUT=$((600 * slow)) run_ktap "vm/$label: power cut" \
			tools/testing/powercut.sh --kernel "$label" --out "$res/vm-powercut-$label"
	done
fi

elapsed=$(( $(date +%s) - start ))
echo "#"
echo "# kernels tested: $(for i in "${!labels[@]}"; do printf '%s=%s ' "${labels[$i]}" "${kvers[$i]}"; done)"
echo "# wall time: ${elapsed}s"
for f in "${failures[@]}"; do echo "# FAILED: $f"; done
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
