#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vdectl's command line on the host: exit codes and messages that need no
# kernel module.  VDECTL names the binary under test.

. "$(dirname "$0")/../selftests/vde/test_common.sh"

VDECTL=${VDECTL:?VDECTL must name the vdectl binary}
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# expect STATUS ARGS...: run vdectl and check its exit status.
expect() {
	local want=$1 got
	shift
	"$VDECTL" "$@" >"$out" 2>"$err"
	got=$?
	[ "$got" = "$want" ] || fail "vdectl $*: exit $got, want $want ($(head -c 300 "$err"))"
}
stdout_has() { grep -q -- "$1" "$out" || fail "stdout lacks '$1': $(head -c 300 "$out")"; }
stderr_has() { grep -q -- "$1" "$err" || fail "stderr lacks '$1': $(head -c 300 "$err")"; }

t_no_args() { expect 2 && stderr_has '^Usage: vdectl COMMAND'; }
t_help() { expect 0 help && stdout_has '^  features ' && stdout_has '^  version '; }
t_help_cmd() { expect 0 help features && stdout_has '^Usage: vdectl features \[--json\]'; }
t_help_unknown() { expect 2 help frobnicate && stderr_has "unknown command 'frobnicate'"; }
t_unknown() { expect 2 frobnicate && stderr_has "unknown command 'frobnicate'"; }
t_version() { expect 0 version && stdout_has '(uapi ABI 1)' && expect 0 --version; }
t_features_missing() {
	expect 3 features --control /nonexistent/vde-control &&
	stderr_has 'cannot open /nonexistent/vde-control: No such file or directory'
}
t_features_not_vde() {
	expect 1 features --control /dev/null && stderr_has 'not a vde control device'
}
t_features_extra_arg() { expect 2 features extra && stderr_has "unexpected argument 'extra'"; }
t_features_bad_option() { expect 2 features --bogus; }

ktap_header 10
ktap_run no_args_usage t_no_args
ktap_run help_lists_commands t_help
ktap_run help_of_command t_help_cmd
ktap_run help_of_unknown_command t_help_unknown
ktap_run unknown_command t_unknown
ktap_run version t_version
ktap_run features_without_module t_features_missing
ktap_run features_on_other_device t_features_not_vde
ktap_run features_extra_argument t_features_extra_arg
ktap_run features_bad_option t_features_bad_option
ktap_finish
