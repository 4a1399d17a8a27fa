#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vde's built-in example, end to end: install what is missing, build
# vde.ko for each guest kernel and vdectl, then boot each kernel, load the
# module and show what it offers.

set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

tools/testing/deps.sh
make -s modules-all user >/dev/null
exec tools/testing/vm/run --kernel "${1:-all}" -- bash -c '
	set -e
	echo "== $(uname -r): vde.ko loaded"
	grep -E "^vde " /proc/modules
	ls -l /dev/vde-control
	echo "== vdectl features"
	build/user/vdectl features
	echo "== vdectl features --json"
	build/user/vdectl features --json
'
