#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The malformed-image corpus: every image in corpus/ (one defect each, see
# corpus/make-corpus.sh) must get exactly the exit status and message that
# corpus/expected.txt gives, from "vdectl info" and from "vdectl check".
# One result per image.  VDECTL names the binary under test.

. "$(dirname "$0")/../selftests/vde/test_common.sh"

VDECTL=${VDECTL:?VDECTL must name the vdectl binary}
corpus=$(cd "$(dirname "$0")/corpus" && pwd)
tmp=$(mktemp -d)
out=$tmp/out
err=$tmp/err
trap 'rm -rf "$tmp"' EXIT

declare -A info_rc info_text check_rc check_text

trim() {
	local s=$1

	s=${s#"${s%%[![:space:]]*}"}
	echo "${s%"${s##*[![:space:]]}"}"
}

while IFS='|' read -r name ie it ce ct; do
	case $name in ''|\#*) continue ;; esac
	name=$(trim "$name")
	info_rc[$name]=$(trim "$ie")
	info_text[$name]=$(trim "$it")
	check_rc[$name]=$(trim "$ce")
	check_text[$name]=$(trim "$ct")
done <"$corpus/expected.txt"

# Every image, and every expectation even without its image.
mapfile -t names < <({
	for f in "$corpus"/*.vde.xz; do basename "$f" .vde.xz; done
	printf '%s\n' "${!info_rc[@]}"
} | sort -u)

# run STATUS ARGS...: run vdectl and check its exit status.
run() {
	local want=$1 got
	shift
	"$VDECTL" "$@" >"$out" 2>"$err"
	got=$?
	[ "$got" = "$want" ] ||
		fail "vdectl $*: exit $got, want $want: $(head -c 400 "$err")$(tail -n 3 "$out")"
}

t_info() {
	local img=$1 name=$2 line

	run "${info_rc[$name]}" info "$img" || return 1
	if [ "${info_rc[$name]}" = 0 ]; then
		[ ! -s "$err" ] || fail "info printed on stderr: $(head -c 300 "$err")" || return 1
		grep -qF -- "${info_text[$name]}" "$out" ||
			fail "info stdout lacks '${info_text[$name]}'"
		return
	fi
	[ "$(wc -l <"$err")" = 1 ] || fail "info stderr is not one line: $(cat "$err")" || return 1
	line=$(cat "$err")
	case $line in
	"vdectl: $img: "*"${info_text[$name]}"*) ;;
	*) fail "info said '$line', want 'vdectl: $img: ...${info_text[$name]}...'" ;;
	esac
}

t_check() {
	local img=$1 name=$2 status

	run "${check_rc[$name]}" check "$img" || return 1
	case ${check_rc[$name]} in
	0) status=clean ;;
	1) status=usable ;;
	*) status=unusable ;;
	esac
	tail -n 1 "$out" | grep -q "^$img: $status: [0-9]* metadata blocks checked, " ||
		fail "check summary: $(tail -n 1 "$out"), want $status" || return 1
	if [ -z "${check_text[$name]}" ]; then
		[ "$(wc -l <"$out")" = 1 ] || fail "check found problems: $(cat "$out")"
		return
	fi
	grep -qF -- "$img: ${check_text[$name]}" "$out" ||
		fail "check lacks '${check_text[$name]}': $(head -c 600 "$out")"
}

t_image() {
	local name=$1 img=$tmp/$1.vde rc

	[ -f "$corpus/$name.vde.xz" ] || fail "no image $name.vde.xz" || return 1
	[ -n "${info_rc[$name]}" ] || fail "no line for $name in expected.txt" || return 1
	xz -dc "$corpus/$name.vde.xz" >"$img" || fail "cannot decompress $name" || return 1
	t_info "$img" "$name" && t_check "$img" "$name"
	rc=$?
	rm -f "$img"
	return $rc
}

ktap_header "${#names[@]}"
for n in "${names[@]}"; do
	ktap_run "corpus_$n" t_image "$n"
done
ktap_finish
