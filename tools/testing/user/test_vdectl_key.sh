#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vdectl's encryption commands on the host: create --encrypt, key verify,
# add, remove, passwd and list, check with a key; their output, messages
# and exit codes, and that no key material is ever printed.  VDECTL names
# the binary under test.

. "$(dirname "$0")/../selftests/vde/test_common.sh"

VDECTL=${VDECTL:?VDECTL must name the vdectl binary}
VDECTL_REAL=$VDECTL
tmp=$(mktemp -d)
out=$tmp/out
err=$tmp/err
all=$tmp/all-output
trap 'rm -rf "$tmp"' EXIT
: >"$all"

UUID=00112233445566778899aabbccddeeff
TS=@1700000000
# Cheap Argon2id costs, so that the tests are fast.
KDF="--kdf-iterations 1 --kdf-memory-log2 10"
P1='Tr0ub4dor&3-alpha'
P2='correct horse battery staple'
P3='p@ssw0rd number three'
P4='fourth of the passphrases'
for i in 1 2 3 4; do
	eval "printf '%s\n' \"\$P$i\"" >"$tmp/p$i"
done
printf 'not the passphrase\n' >"$tmp/wrong"

# Every output of vdectl is kept, to look for secrets in it at the end.
keep() { cat "$out" "$err" >>"$all"; }

# expect STATUS ARGS...: run vdectl and check its exit status.
expect() {
	local want=$1 got
	shift
	"$VDECTL" "$@" >"$out" 2>"$err" </dev/null
	got=$?
	keep
	[ "$got" = "$want" ] || fail "vdectl $*: exit $got, want $want ($(head -c 300 "$err"))"
}
# expect_in STATUS INPUT ARGS...: the same with INPUT on standard input.
expect_in() {
	local want=$1 input=$2 got
	shift 2
	printf '%s' "$input" | "$VDECTL" "$@" >"$out" 2>"$err"
	got=$?
	keep
	[ "$got" = "$want" ] || fail "vdectl $*: exit $got, want $want ($(head -c 300 "$err"))"
}
stdout_is() {
	[ "$(cat "$out")" = "$1" ] || fail "stdout is '$(cat "$out")', want '$1'"
}
stdout_has() { grep -q -- "$1" "$out" || fail "stdout lacks '$1': $(head -c 600 "$out")"; }
stderr_is() {
	[ "$(cat "$err")" = "$1" ] || fail "stderr is '$(cat "$err")', want '$1'"
}
stderr_has() { grep -q -- "$1" "$err" || fail "stderr lacks '$1': $(head -c 300 "$err")"; }

# json EXPR: evaluate a Python expression on the JSON in $out (as d).
json() {
	command -v python3 >/dev/null || return 0
	python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)" <"$out" ||
		fail "JSON: not ($1): $(head -c 600 "$out")"
}

# on_tty ARGS...: run vdectl on a new terminal and type the lines of
# $TYPE, each once a prompt has appeared and echo is off; $out gets what
# the terminal shows.
on_tty() {
	python3 - "$VDECTL" "$@" >"$out" 2>"$err" <<'EOF'
import os, pty, select, sys, termios, time

lines = os.environ["TYPE"].split("\n")
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
shown, done, deadline = b"", False, time.time() + 60

def pump():
    global shown, done
    if select.select([fd], [], [], 0.01)[0]:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        shown += data
        done = not data

for n, line in enumerate(lines, 1):
    while not done and time.time() < deadline:
        pump()
        prompts = shown.count(b"Enter ") + shown.count(b"Verify ")
        if prompts >= n and not termios.tcgetattr(fd)[3] & termios.ECHO:
            break
    if done:
        break
    os.write(fd, line.encode() + b"\n")
while not done and time.time() < deadline:
    pump()
status = os.waitpid(pid, 0)[1]
sys.stdout.write(shown.decode(errors="replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
}

# mk NAME ARGS...: a 20000-block image, created with ARGS.
mk() {
	local f=$tmp/$1
	shift
	expect 0 create --blocks 20000 --uuid $UUID --timestamp $TS "$@" "$f"
}

# fingerprint: the key fingerprint create printed.
fingerprint() { sed -n 's/.*key fingerprint \(0x[0-9a-f]\{16\}\).*/\1/p' "$out"; }

# nr_slots IMAGE: how many key slots key list shows.
nr_slots() { "$VDECTL" key list "$1" 2>/dev/null | tail -n +2 | grep -c active; }

t_create_standard() {
	local fp
	mk s.vde --encrypt --passphrase-file "$tmp/p1" $KDF || return 1
	fp=$(fingerprint)
	[ -n "$fp" ] || fail "no fingerprint: $(cat "$out")" || return 1
	stdout_is "$tmp/s.vde: standard profile, 20000 blocks of 4096 bytes, 12 regions, uuid $UUID
$tmp/s.vde: region DATA encrypted with AES-256-XTS, key fingerprint $fp, passphrase in key slot 0 (argon2id)" &&
	expect 0 info --json "$tmp/s.vde" &&
	json "d['encryption']['enabled'] is True and d['encryption']['algorithm'] == 3 and d['encryption']['key_fingerprint'] == '$fp'" &&
	json "[r['encrypted'] for r in d['regions'] if r['tag'] == 'DATA'] == [True]" &&
	json "d['features']['incompatible_names'] == ['EncryptionEnabled']" &&
	json "[r['tag'] for r in d['regions'] if r['encrypted']] == ['DATA']" &&
	expect 0 info "$tmp/s.vde" &&
	stdout_has "^encryption:          AES-256-XTS, key fingerprint $fp$" &&
	stdout_has "^  11   DATA         1331        18669  Encrypted  yes       data$" &&
	# The two key slot blocks now carry trailers and are checked.
	expect 0 check "$tmp/s.vde" &&
	stdout_is "$tmp/s.vde: clean: 18 metadata blocks checked, 0 fatal, 0 errors, 0 notes" &&
	expect 0 key list "$tmp/s.vde" &&
	stdout_has '^slot  status       kdf       cost                      created$' &&
	stdout_has '^0     active       argon2id  t=1 m=2^10 KiB p=1        2023-11-14T22:13:20.0000000Z$' &&
	[ "$(wc -l <"$out")" = 2 ] || fail "not one slot: $(cat "$out")"
}

t_create_from_stdin() {
	# Created without a terminal: one line of standard input.
	printf '%s\n' "$P2" | "$VDECTL" create --blocks 20000 --encrypt $KDF \
		"$tmp/in2.vde" >"$out" 2>"$err" || fail "create: $(cat "$err")" || return 1
	keep
	stdout_has "passphrase in key slot 0 (argon2id)$" &&
	expect_in 0 "$P2
" key verify "$tmp/in2.vde" &&
	stdout_is "$tmp/in2.vde: key slot 0 opens the image" &&
	expect 0 key verify --passphrase-file "$tmp/p2" "$tmp/in2.vde" &&
	# --passphrase-file - reads standard input too.
	printf '%s\n' "$P3" | "$VDECTL" create --blocks 20000 --encrypt=DATA \
		--passphrase-file - $KDF "$tmp/in3.vde" >"$out" 2>"$err" ||
		fail "create: $(cat "$err")" || return 1
	keep
	expect 0 key verify --passphrase-file "$tmp/p3" "$tmp/in3.vde"
}

t_create_minimal_key_file() {
	local fp
	mk m.vde --profile minimal --encrypt --key-file "$tmp/m.key" || return 1
	fp=$(fingerprint)
	stdout_has "^$tmp/m.vde: region DATA encrypted with AES-256-XTS, key fingerprint 0x[0-9a-f]\{16\}, key in $tmp/m.key (created)$" &&
	[ "$(stat -c '%a %s' "$tmp/m.key")" = "600 64" ] ||
		fail "key file is $(stat -c '%a %s' "$tmp/m.key")" || return 1
	expect 0 info --json "$tmp/m.vde" &&
	json "d['encryption']['enabled'] is True and d['encryption']['key_fingerprint'] == '$fp'" &&
	json "[r['encrypted'] for r in d['regions'] if r['tag'] == 'DATA'] == [True]" &&
	# An existing key file is used, never overwritten.
	cp "$tmp/m.key" "$tmp/m.key.orig" &&
	mk m.vde --profile minimal --encrypt --key-file "$tmp/m.key" --force &&
	stdout_has "key fingerprint $fp, key in $tmp/m.key$" &&
	cmp -s "$tmp/m.key" "$tmp/m.key.orig" || fail "key file changed" || return 1
	# The same key from standard input.
	"$VDECTL" create --blocks 20000 --profile minimal --encrypt --key-file - \
		"$tmp/m2.vde" <"$tmp/m.key" >"$out" 2>"$err" || fail "create: $(cat "$err")" || return 1
	keep
	stdout_has "key fingerprint $fp, key in -$" &&
	expect 0 key verify --key-file "$tmp/m.key" "$tmp/m.vde" &&
	stdout_is "$tmp/m.vde: the key file matches the key fingerprint" &&
	expect 0 key list "$tmp/m.vde" &&
	stdout_is "$tmp/m.vde: no key slot region (ENCR): only its key file opens it" &&
	expect 0 check --key-file "$tmp/m.key" "$tmp/m.vde" &&
	stdout_has "clean: 13 metadata blocks checked, 0 fatal, 0 errors, 0 notes$"
}

t_create_standard_key_file() {
	mk sk.vde --encrypt --key-file "$tmp/sk.key" || return 1
	stdout_has "key in $tmp/sk.key (created)$" &&
	expect 0 key list "$tmp/sk.vde" &&
	[ "$(wc -l <"$out")" = 1 ] || fail "slots listed: $(cat "$out")" || return 1
	# No slot yet; the key file adds one.
	expect 1 key verify --passphrase-file "$tmp/p1" "$tmp/sk.vde" &&
	stderr_is "vdectl: $tmp/sk.vde: no active key slot: only its key file opens it" &&
	expect 0 key add --key-file "$tmp/sk.key" --new-passphrase-file "$tmp/p1" $KDF "$tmp/sk.vde" &&
	stdout_is "$tmp/sk.vde: key slot 0 added" &&
	expect 0 key verify --passphrase-file "$tmp/p1" "$tmp/sk.vde" &&
	expect 0 check --passphrase-file "$tmp/p1" "$tmp/sk.vde" &&
	# The region, attached to the option or as the next argument.
	mk pv.vde --encrypt POLV --key-file "$tmp/sk.key" &&
	stdout_has "^$tmp/pv.vde: region POLV encrypted with AES-256-XTS, key fingerprint" &&
	expect 0 info --json "$tmp/pv.vde" &&
	json "[r['tag'] for r in d['regions'] if r['encrypted']] == ['POLV']" &&
	mk pv2.vde --encrypt=polv --key-file "$tmp/sk.key" &&
	stdout_has "region POLV encrypted" &&
	expect 0 info --json "$tmp/pv2.vde" &&
	json "[r['tag'] for r in d['regions'] if r['encrypted']] == ['POLV']"
}

t_create_pbkdf2() {
	mk pb.vde --encrypt --passphrase-file "$tmp/p1" --kdf pbkdf2 || return 1
	stdout_has "passphrase in key slot 0 (pbkdf2)$" &&
	expect 0 key list "$tmp/pb.vde" &&
	stdout_has '^0     active       pbkdf2    600000 iterations ' &&
	expect 0 key verify --passphrase-file "$tmp/p1" "$tmp/pb.vde" &&
	expect 1 key verify --passphrase-file "$tmp/p2" "$tmp/pb.vde"
}

t_create_bad_arguments() {
	local try="Try 'vdectl help create'."

	expect 2 create --blocks 20000 --profile minimal --encrypt --passphrase-file "$tmp/p1" "$tmp/x.vde" &&
	stderr_is "vdectl create: the minimal profile has no key slot region: --encrypt needs --key-file
$try" &&
	expect 2 create --blocks 20000 --passphrase-file "$tmp/p1" "$tmp/x.vde" &&
	stderr_is "vdectl create: --passphrase-file needs --encrypt
$try" &&
	expect 2 create --blocks 20000 --kdf-iterations 2 "$tmp/x.vde" &&
	stderr_is "vdectl create: --kdf-iterations needs --encrypt
$try" &&
	expect 2 create --blocks 20000 --encrypt --passphrase-file "$tmp/p1" --key-file "$tmp/k" "$tmp/x.vde" &&
	stderr_is "vdectl create: --passphrase-file and --key-file exclude each other
$try" &&
	expect 2 create --blocks 20000 --encrypt=INOD --passphrase-file "$tmp/p1" "$tmp/x.vde" &&
	stderr_is "vdectl create: cannot encrypt region 'INOD': the standard profile has no such region that creation leaves unwritten (DATA, POLV, STRE)
$try" &&
	expect 2 create --blocks 20000 --encrypt=STRE --passphrase-file "$tmp/p1" "$tmp/x.vde" &&
	stderr_has "cannot encrypt region 'STRE'" &&
	expect 2 create --blocks 20000 --encrypt --kdf scrypt "$tmp/x.vde" &&
	stderr_is "vdectl create: unknown KDF 'scrypt' (argon2id or pbkdf2)
$try" &&
	expect 2 create --blocks 20000 --encrypt --kdf pbkdf2 --kdf-iterations 1000 "$tmp/x.vde" &&
	stderr_is "vdectl create: pbkdf2 needs at least 600000 iterations
$try" &&
	expect 2 create --blocks 20000 --encrypt --kdf pbkdf2 --kdf-memory-log2 10 "$tmp/x.vde" &&
	stderr_is "vdectl create: --kdf-memory-log2 applies to argon2id only
$try" &&
	expect 2 create --blocks 20000 --encrypt --kdf-memory-log2 23 "$tmp/x.vde" &&
	stderr_is "vdectl create: bad KDF memory '23' (log2 KiB, 3 to 22)
$try" &&
	expect 2 create --blocks 20000 --encrypt --kdf-iterations 0 "$tmp/x.vde" &&
	stderr_is "vdectl create: bad KDF iteration count '0'
$try" &&
	expect 2 create --blocks 20000 --encrypt --key-file "$tmp/k" --kdf argon2id "$tmp/x.vde" &&
	stderr_is "vdectl create: --kdf, --kdf-iterations and --kdf-memory-log2 need a passphrase, not --key-file
$try" &&
	[ ! -e "$tmp/x.vde" ] && [ ! -e "$tmp/k" ] || fail "a refused create left a file"
}

t_create_bad_input() {
	: >"$tmp/empty"
	expect 1 create --blocks 20000 --encrypt --passphrase-file "$tmp/empty" "$tmp/x.vde" &&
	stderr_is "vdectl: no passphrase: $tmp/empty is empty" &&
	printf '\n' >"$tmp/blank" &&
	expect 1 create --blocks 20000 --encrypt --passphrase-file "$tmp/blank" "$tmp/x.vde" &&
	stderr_is "vdectl: the passphrase is empty" &&
	expect 1 create --blocks 20000 --encrypt --passphrase-file "$tmp/nonesuch" "$tmp/x.vde" &&
	stderr_is "vdectl: cannot read a passphrase from $tmp/nonesuch: No such file or directory" &&
	head -c 63 /dev/zero >"$tmp/short.key" &&
	expect 1 create --blocks 20000 --profile minimal --encrypt --key-file "$tmp/short.key" "$tmp/x.vde" &&
	stderr_is "vdectl: $tmp/short.key is not a key file: it must hold exactly 64 bytes" &&
	head -c 64 /dev/zero >"$tmp/zero.key" &&
	expect 1 create --blocks 20000 --profile minimal --encrypt --key-file "$tmp/zero.key" "$tmp/x.vde" &&
	stderr_is "vdectl: $tmp/zero.key: the two halves of the key are equal, which XTS forbids" &&
	[ ! -e "$tmp/x.vde" ] || fail "a failed create left an image" || return 1
	# An existing image is refused before a key file is made.
	mk e.vde &&
	expect 1 create --blocks 20000 --profile minimal --encrypt --key-file "$tmp/e.key" "$tmp/e.vde" &&
	stderr_is "vdectl: $tmp/e.vde exists (use --force to replace it)" &&
	[ ! -e "$tmp/e.key" ] || fail "key file created for a refused image" || return 1
	# A failed create removes the key file it made.
	expect 1 create --blocks 20000 --profile minimal --encrypt --key-file "$tmp/f.key" "$tmp/nodir/f.vde" &&
	stderr_is "vdectl: cannot create $tmp/nodir/f.vde: No such file or directory" &&
	[ ! -e "$tmp/f.key" ] || fail "key file left behind"
}

t_verify() {
	mk v.vde --encrypt --passphrase-file "$tmp/p1" $KDF || return 1
	expect 0 key verify --passphrase-file "$tmp/p1" "$tmp/v.vde" &&
	stdout_is "$tmp/v.vde: key slot 0 opens the image" &&
	expect 1 key verify --passphrase-file "$tmp/wrong" "$tmp/v.vde" &&
	stderr_is "vdectl: $tmp/v.vde: wrong passphrase or key" &&
	[ ! -s "$out" ] || fail "stdout: $(cat "$out")" || return 1
	expect_in 0 "$P1
" key verify "$tmp/v.vde" &&
	expect_in 1 "$P2
" key verify "$tmp/v.vde" &&
	stderr_is "vdectl: $tmp/v.vde: wrong passphrase or key" &&
	expect_in 0 "$P1" key verify --passphrase-file - "$tmp/v.vde" &&
	head -c 64 /dev/urandom >"$tmp/random.key" &&
	expect 1 key verify --key-file "$tmp/random.key" "$tmp/v.vde" &&
	stderr_is "vdectl: $tmp/v.vde: wrong passphrase or key" &&
	expect 1 key verify "$tmp/v.vde" &&
	stderr_is "vdectl: no passphrase: standard input is empty" &&
	mk plain.vde &&
	expect 1 key verify --passphrase-file "$tmp/p1" "$tmp/plain.vde" &&
	stderr_is "vdectl: $tmp/plain.vde: not encrypted" &&
	mk vm.vde --profile minimal --encrypt --key-file "$tmp/vm.key" &&
	expect 0 key verify --key-file "$tmp/vm.key" "$tmp/vm.vde" &&
	expect 1 key verify --key-file "$tmp/random.key" "$tmp/vm.vde" &&
	stderr_is "vdectl: $tmp/vm.vde: wrong passphrase or key" &&
	expect 1 key verify --passphrase-file "$tmp/p1" "$tmp/vm.vde" &&
	stderr_is "vdectl: $tmp/vm.vde: no key slot region (ENCR): only its key file opens it"
}

t_add() {
	mk a.vde --encrypt --passphrase-file "$tmp/p1" $KDF || return 1
	expect 0 key add --passphrase-file "$tmp/p1" --new-passphrase-file "$tmp/p2" $KDF "$tmp/a.vde" &&
	stdout_is "$tmp/a.vde: key slot 1 added" &&
	expect 0 key verify --passphrase-file "$tmp/p2" "$tmp/a.vde" &&
	stdout_is "$tmp/a.vde: key slot 1 opens the image" &&
	expect 0 key verify --passphrase-file "$tmp/p1" "$tmp/a.vde" &&
	stdout_is "$tmp/a.vde: key slot 0 opens the image" &&
	# A wrong old passphrase adds nothing.
	expect 1 key add --passphrase-file "$tmp/wrong" --new-passphrase-file "$tmp/p3" $KDF "$tmp/a.vde" &&
	stderr_is "vdectl: $tmp/a.vde: wrong passphrase or key" &&
	[ "$(nr_slots "$tmp/a.vde")" = 2 ] || fail "slots: $(nr_slots "$tmp/a.vde")" || return 1
	# Old, then new passphrase, from standard input.
	expect_in 0 "$P2
$P3
" key add $KDF "$tmp/a.vde" &&
	stdout_is "$tmp/a.vde: key slot 2 added" &&
	expect 0 key verify --passphrase-file "$tmp/p3" "$tmp/a.vde" &&
	stdout_is "$tmp/a.vde: key slot 2 opens the image" &&
	expect_in 1 "$P2
" key add $KDF "$tmp/a.vde" &&
	stderr_is "vdectl: no passphrase: standard input is empty" &&
	[ "$(nr_slots "$tmp/a.vde")" = 3 ] || fail "slots: $(nr_slots "$tmp/a.vde")"
}

t_passwd() {
	mk pw.vde --encrypt --passphrase-file "$tmp/p1" $KDF || return 1
	expect 0 key add --passphrase-file "$tmp/p1" --new-passphrase-file "$tmp/p2" $KDF "$tmp/pw.vde" &&
	expect 0 key passwd --passphrase-file "$tmp/p2" --new-passphrase-file "$tmp/p3" $KDF "$tmp/pw.vde" &&
	stdout_is "$tmp/pw.vde: passphrase changed: key slot 1 replaced by key slot 2" &&
	expect 1 key verify --passphrase-file "$tmp/p2" "$tmp/pw.vde" &&
	expect 0 key verify --passphrase-file "$tmp/p3" "$tmp/pw.vde" &&
	stdout_is "$tmp/pw.vde: key slot 2 opens the image" &&
	expect 0 key verify --passphrase-file "$tmp/p1" "$tmp/pw.vde" &&
	# Old, then new passphrase, from standard input; slot 1 is free again.
	expect_in 0 "$P1
$P4
" key passwd $KDF "$tmp/pw.vde" &&
	stdout_is "$tmp/pw.vde: passphrase changed: key slot 0 replaced by key slot 1" &&
	expect 1 key verify --passphrase-file "$tmp/p1" "$tmp/pw.vde" &&
	expect 0 key verify --passphrase-file "$tmp/p4" "$tmp/pw.vde" &&
	[ "$(nr_slots "$tmp/pw.vde")" = 2 ] || fail "slots: $(nr_slots "$tmp/pw.vde")" || return 1
	expect 1 key passwd --passphrase-file "$tmp/wrong" --new-passphrase-file "$tmp/p1" $KDF "$tmp/pw.vde" &&
	stderr_is "vdectl: $tmp/pw.vde: wrong passphrase or key" &&
	expect 1 key passwd --passphrase-file "$tmp/p4" --new-passphrase-file "$tmp/blank" $KDF "$tmp/pw.vde" &&
	stderr_is "vdectl: the new passphrase is empty" &&
	expect 0 check --passphrase-file "$tmp/p3" "$tmp/pw.vde"
}

t_remove() {
	mk r.vde --encrypt --passphrase-file "$tmp/p1" $KDF || return 1
	expect 1 key remove --passphrase-file "$tmp/p1" --slot 0 "$tmp/r.vde" &&
	stderr_is "vdectl: $tmp/r.vde: key slot 0 is the last active one; add another first" &&
	expect 0 key add --passphrase-file "$tmp/p1" --new-passphrase-file "$tmp/p2" $KDF "$tmp/r.vde" &&
	expect 1 key remove --passphrase-file "$tmp/wrong" --slot 0 "$tmp/r.vde" &&
	stderr_is "vdectl: $tmp/r.vde: wrong passphrase or key" &&
	expect 1 key remove --passphrase-file "$tmp/p1" --slot 5 "$tmp/r.vde" &&
	stderr_is "vdectl: $tmp/r.vde: key slot 5 is empty" &&
	# Any working passphrase may remove any slot, its own included.
	expect 0 key remove --passphrase-file "$tmp/p1" --slot 0 "$tmp/r.vde" &&
	stdout_is "$tmp/r.vde: key slot 0 removed" &&
	expect 1 key verify --passphrase-file "$tmp/p1" "$tmp/r.vde" &&
	expect 0 key verify --passphrase-file "$tmp/p2" "$tmp/r.vde" &&
	expect 1 key remove --passphrase-file "$tmp/p2" --slot 1 "$tmp/r.vde" &&
	stderr_is "vdectl: $tmp/r.vde: key slot 1 is the last active one; add another first" &&
	expect 0 key verify --passphrase-file "$tmp/p2" "$tmp/r.vde" &&
	expect 0 key list --json "$tmp/r.vde" &&
	json "d['active_slot_index'] == 1 and d['total_active_slots'] == 1 and [s['slot'] for s in d['slots']] == [1]"
}

t_list() {
	mk l.vde --encrypt --passphrase-file "$tmp/p1" $KDF || return 1
	expect 0 key add --passphrase-file "$tmp/p1" --new-passphrase-file "$tmp/p2" \
		--kdf-iterations 2 --kdf-memory-log2 11 "$tmp/l.vde" &&
	expect 0 key list "$tmp/l.vde" &&
	[ "$(wc -l <"$out")" = 3 ] || fail "lines: $(cat "$out")" || return 1
	stdout_has '^1     active       argon2id  t=2 m=2^11 KiB p=1        [0-9-]*T' &&
	expect 0 key list --json "$tmp/l.vde" &&
	json "d['key_slot_region'] is True and d['first_block'] == 12 and d['active_slot_index'] == 0" &&
	json "d['total_active_slots'] == 2 and d['rotation_events'] == 0" &&
	json "[(s['slot'], s['status'], s['kdf'], s['kdf_iterations'], s['kdf_memory_kib']) for s in d['slots']] == [(0, 'active', 'argon2id', 1, 1024), (1, 'active', 'argon2id', 2, 2048)]" &&
	json "d['slots'][0]['created'] == '2023-11-14T22:13:20.0000000Z' and d['slots'][0]['algorithm_id'] == 3" &&
	json "not any(k in s for s in d['slots'] for k in ('wrapped_key', 'key_salt', 'salt', 'key'))"
}

t_check_key() {
	local fp
	mk c.vde --encrypt --passphrase-file "$tmp/p1" $KDF || return 1
	fp=$(fingerprint)
	expect 0 check --passphrase-file "$tmp/p1" "$tmp/c.vde" &&
	stdout_is "$tmp/c.vde: clean: 18 metadata blocks checked, 0 fatal, 0 errors, 0 notes" &&
	expect 4 check --passphrase-file "$tmp/wrong" "$tmp/c.vde" &&
	stdout_is "$tmp/c.vde: fatal: block 0 (superblock): EncryptionKeyFingerprint = $fp: no active key slot opens with the passphrase
$tmp/c.vde: unusable: 18 metadata blocks checked, 1 fatal, 0 errors, 0 notes" &&
	expect 4 check --key-file "$tmp/random.key" "$tmp/c.vde" &&
	stdout_has "^$tmp/c.vde: fatal: block 0 (superblock): EncryptionKeyFingerprint = $fp: the key file does not match$" &&
	expect 4 check --json --passphrase-file "$tmp/wrong" "$tmp/c.vde" &&
	json "d['exit_code'] == 4 and d['fatal'] == 1 and len(d['problems']) == 1" &&
	json "d['problems'][0]['block'] == 0 and d['problems'][0]['field'] == 'EncryptionKeyFingerprint' and d['problems'][0]['errno'] == 'EKEYREJECTED'" &&
	mk cm.vde --profile minimal --encrypt --key-file "$tmp/cm.key" &&
	expect 0 check --key-file "$tmp/cm.key" "$tmp/cm.vde" &&
	expect 4 check --key-file "$tmp/random.key" "$tmp/cm.vde" &&
	stdout_has "the key file does not match$" &&
	expect 4 check --passphrase-file "$tmp/p1" "$tmp/cm.vde" &&
	stdout_has "EncryptionKeyFingerprint = 0x[0-9a-f]*: no key slot region (ENCR): only a key file opens the image$" &&
	[ "$(grep -c fatal: "$out")" = 1 ] || fail "not once: $(cat "$out")" || return 1
	expect 0 check --key-file "$tmp/cm.key" "$tmp/plain.vde" &&
	stdout_has "note: block 0 (superblock): EncryptionKeyFingerprint = 0x0000000000000000: the image is not encrypted; the key is not used$" &&
	expect 16 check --key-file "$tmp/cm.key" --passphrase-file "$tmp/p1" "$tmp/c.vde" &&
	stderr_is "vdectl check: --passphrase-file and --key-file exclude each other
Try 'vdectl help check'." &&
	expect 8 check --key-file "$tmp/nonesuch" "$tmp/c.vde" &&
	stderr_is "vdectl: cannot read key file $tmp/nonesuch: No such file or directory"
}

t_check_damaged_slots() {
	mk d.vde --encrypt --passphrase-file "$tmp/p1" $KDF || return 1
	# Flip a byte of key slot 0 (block 12): its trailer no longer verifies.
	poke "$tmp/d.vde" $((12 * 4096 + 40))
	expect 1 check "$tmp/d.vde" &&
	stdout_has "error: block 12 (encryption header (key slots)): slot 4 trailer checksum = 0x" &&
	expect 4 check --passphrase-file "$tmp/p1" "$tmp/d.vde" &&
	stdout_has "fatal: block 0 (superblock): EncryptionKeyFingerprint = 0x[0-9a-f]*: the key slots cannot be read: block 12 (encryption header block 0): trailer checksum" &&
	expect 1 key verify --passphrase-file "$tmp/p1" "$tmp/d.vde" &&
	stderr_has "^vdectl: $tmp/d.vde: block 12 (encryption header block 0): trailer checksum = 0x" &&
	expect 1 key add --passphrase-file "$tmp/p1" --new-passphrase-file "$tmp/p2" $KDF "$tmp/d.vde" &&
	stderr_has "block 12 (encryption header block 0): trailer checksum"
}

t_key_usage() {
	local try="Try 'vdectl help key'."

	expect 2 key && stderr_is "vdectl key: missing subcommand (verify, add, remove, passwd or list)
$try" &&
	expect 2 key rotate x && stderr_is "vdectl key: unknown subcommand 'rotate'
$try" &&
	expect 2 key verify && stderr_is "vdectl key verify: missing IMAGE
Try 'vdectl help key verify'." &&
	expect 2 key verify a b && stderr_has "vdectl key verify: unexpected argument 'b'" &&
	expect 2 key verify --passphrase-file "$tmp/p1" --key-file "$tmp/k" "$tmp/v.vde" &&
	stderr_is "vdectl key verify: --passphrase-file and --key-file exclude each other
Try 'vdectl help key verify'." &&
	expect 2 key verify --bogus "$tmp/v.vde" && stderr_has "vdectl key verify: bad option" &&
	expect 2 key add --key-file - "$tmp/v.vde" &&
	stderr_is "vdectl key add: --key-file - needs --new-passphrase-file FILE
Try 'vdectl help key add'." &&
	expect 2 key add --kdf md5 "$tmp/v.vde" && stderr_has "vdectl key add: unknown KDF 'md5' (argon2id or pbkdf2)" &&
	expect 2 key remove "$tmp/v.vde" && stderr_is "vdectl key remove: missing --slot N
Try 'vdectl help key remove'." &&
	expect 2 key remove --slot 63 "$tmp/v.vde" && stderr_is "vdectl key remove: bad slot '63' (0 to 62)
Try 'vdectl help key remove'." &&
	expect 2 key remove --slot x "$tmp/v.vde" && stderr_has "bad slot 'x'" &&
	expect 2 key passwd --key-file "$tmp/k" "$tmp/v.vde" && stderr_has "vdectl key passwd: bad option" &&
	expect 2 key list && stderr_has "vdectl key list: missing IMAGE" &&
	expect 1 key list "$tmp/nonesuch.vde" &&
	stderr_is "vdectl: $tmp/nonesuch.vde: file: open: No such file or directory" &&
	expect 0 help key && stdout_has '^Usage: vdectl key verify \[--passphrase-file FILE|--key-file FILE\] IMAGE$' &&
	stdout_has '^       vdectl key remove \[--passphrase-file FILE|--key-file FILE\] --slot N IMAGE$' &&
	expect 0 help && stdout_has '^  key ' &&
	expect 0 help create && stdout_has '\[--encrypt \[REGION\] \[--passphrase-file FILE|--key-file FILE\]$'
}

t_tty_prompts() {
	local rc
	command -v python3 >/dev/null || return $KSFT_SKIP
	TYPE="$P1
$P1" on_tty create --blocks 20000 --encrypt $KDF "$tmp/t.vde" ||
		fail "create: $(cat "$out" "$err")" || return 1
	keep
	stdout_has "^Enter passphrase for $tmp/t.vde: $" && stdout_has "^Verify passphrase: $" &&
	stdout_has "passphrase in key slot 0 (argon2id)$" &&
	expect 0 key verify --passphrase-file "$tmp/p1" "$tmp/t.vde" || return 1
	TYPE="$P1
$P2" on_tty create --blocks 20000 --encrypt $KDF "$tmp/t2.vde"
	rc=$?
	[ $rc = 1 ] || fail "mismatch: exit $rc" || return 1
	keep
	stdout_has "^vdectl: the passphrases do not match$" &&
	[ ! -e "$tmp/t2.vde" ] || fail "image created" || return 1
	TYPE="$P1
$P2
$P2" on_tty key passwd $KDF "$tmp/t.vde" || fail "passwd: $(cat "$out" "$err")" || return 1
	keep
	stdout_has "^Enter passphrase for $tmp/t.vde: $" &&
	stdout_has "^Enter new passphrase for $tmp/t.vde: $" && stdout_has "^Verify new passphrase: $" &&
	stdout_has "key slot 0 replaced by key slot 1$" || return 1
	TYPE="$P2" on_tty key verify "$tmp/t.vde" || fail "verify: $(cat "$out" "$err")" || return 1
	keep
	stdout_has "^$tmp/t.vde: key slot 1 opens the image$" &&
	# Nothing typed was echoed.
	! grep -qF -e "$P1" -e "$P2" "$out" || fail "echoed: $(cat "$out")"
}

# attach checks the key before it looks for vde.ko: without the module a
# wrong key fails with the key's error, a right one with the module's.
# modprobe is kept out of reach, so that no host module is ever loaded.
t_attach_key_first() {
	local VDECTL=$tmp/vdectl-noload rc nomod="cannot open /dev/vde-control: No such file or directory (vde.ko is not loaded and modprobe vde failed)"
	[ -e /dev/vde-control ] && return $KSFT_SKIP
	printf '#!/bin/sh\nPATH=/nonexistent exec "%s" "$@"\n' \
		"$(realpath "$(command -v "$VDECTL_REAL")")" >"$VDECTL"
	chmod +x "$VDECTL"
	mk h1.vde --encrypt --passphrase-file "$tmp/p1" $KDF &&
	mk h2.vde --profile minimal --encrypt --key-file "$tmp/h2.key" &&
	mk h3.vde --profile minimal &&
	head -c 64 /dev/zero | tr '\0' 'k' >"$tmp/wrong.key" || return 1
	expect 1 attach --passphrase-file "$tmp/wrong" "$tmp/h1.vde" &&
	stderr_is "vdectl: $tmp/h1.vde: wrong passphrase or key" &&
	expect 1 attach --key-file "$tmp/wrong.key" "$tmp/h2.vde" &&
	stderr_is "vdectl: $tmp/h2.vde: wrong passphrase or key" &&
	expect_in 1 "$(cat "$tmp/wrong.key")" attach --key-file - "$tmp/h2.vde" &&
	stderr_is "vdectl: $tmp/h2.vde: wrong passphrase or key" &&
	expect 1 attach --via-helper "$tmp/h1.vde" &&
	stderr_is "vdectl: no passphrase: standard input is empty" &&
	expect 1 attach --passphrase-file "$tmp/p1" "$tmp/h2.vde" &&
	stderr_is "vdectl: $tmp/h2.vde: no key slot region (ENCR): only its key file opens it" &&
	expect 3 attach --passphrase-file "$tmp/p1" --on-helper-loss hold "$tmp/h1.vde" &&
	stderr_is "vdectl: $nomod" &&
	expect_in 3 "$P1" attach "$tmp/h1.vde" && stderr_is "vdectl: $nomod" &&
	expect 3 attach --key-file "$tmp/h2.key" --helper-backend fallback "$tmp/h2.vde" &&
	stderr_is "vdectl: $nomod" &&
	# Nothing encrypted attached: no key asked for, even via the helper.
	expect 3 attach --via-helper "$tmp/h3.vde" && stderr_is "vdectl: $nomod" &&
	expect 3 attach --region INOD "$tmp/h1.vde" && stderr_is "vdectl: $nomod" &&
	expect 3 attach --key-file "$tmp/h2.key" "$tmp/h3.vde" &&
	stderr_is "vdectl: $tmp/h3.vde: nothing encrypted is attached; the key is not used
vdectl: $nomod" &&
	# 512-byte sectors over encrypted regions: the key is checked first.
	expect 3 attach --logical-block-size 512 --key-file "$tmp/h2.key" "$tmp/h2.vde" &&
	stderr_is "vdectl: $nomod" || return 1
	command -v python3 >/dev/null || return 0
	TYPE="not it" on_tty attach "$tmp/h1.vde"
	rc=$?
	[ $rc = 1 ] || fail "attach on a terminal: exit $rc" || return 1
	keep
	stdout_has "^Enter passphrase for $tmp/h1.vde: $" &&
	stdout_has "^vdectl: $tmp/h1.vde: wrong passphrase or key$" &&
	! grep -qF "not it" "$out" || fail "echoed: $(cat "$out")"
}

t_attach_usage() {
	expect 2 attach --key-file "$tmp/h2.key" --passphrase-file "$tmp/p1" "$tmp/h2.vde" &&
	stderr_is "vdectl attach: --passphrase-file and --key-file exclude each other
Try 'vdectl help attach'." &&
	expect 2 attach --on-helper-loss retry "$tmp/h1.vde" &&
	stderr_has "bad --on-helper-loss 'retry' (fail or hold)" &&
	expect 2 attach --helper-backend uring "$tmp/h1.vde" &&
	stderr_has "bad --helper-backend 'uring' (auto, io_uring or fallback)" &&
	expect 2 attach --queues 0 "$tmp/h1.vde" && stderr_has "bad --queues '0' (1 to 65535)" &&
	expect 2 attach --queue-depth 4097 "$tmp/h1.vde" &&
	stderr_has "bad --queue-depth '4097' (1 to 4096)" &&
	expect 2 attach --queue-depth -1 "$tmp/h1.vde" && stderr_has "bad --queue-depth '-1'" &&
	expect 2 attach --via-helper && stderr_has "expected one IMAGE" &&
	expect 2 helper && stderr_has "vdectl helper: expected one DEV" &&
	expect 2 helper foo && stderr_has "'foo' is not a vde device" &&
	expect 2 helper --key-file a --passphrase-file b 0 &&
	stderr_has "exclude each other" &&
	expect 2 helper --helper-backend none 0 && stderr_has "bad --helper-backend 'none'" &&
	expect 2 recover --daemon 0 && stderr_has "vdectl recover: bad option" &&
	expect 2 recover 0 1 && stderr_has "expected one DEV" &&
	expect 2 detach --wait -1 0 && stderr_has "bad --wait '-1' (0 to 3600)" &&
	expect 2 detach --wait 3601 0 && stderr_has "bad --wait '3601' (0 to 3600)" &&
	expect 2 detach --wait 1s 0 && stderr_has "bad --wait '1s' (0 to 3600)" &&
	expect 0 help attach && stdout_has '\[--key-file FILE|--passphrase-file FILE\] \[--via-helper\]$' &&
	stdout_has '\[--on-helper-loss fail|hold\] \[--helper-backend auto|io_uring|fallback\] IMAGE$' &&
	expect 0 help helper && stdout_has '\[--foreground|--daemon\] DEV$' &&
	expect 0 help && stdout_has '^  helper ' && stdout_has '^  recover '
}

# Without the module or the device, helper and recover say so (exit 3).
t_helper_no_device() {
	[ -e /dev/vde-control ] && return $KSFT_SKIP
	expect 3 helper --key-file "$tmp/h2.key" 0 &&
	stderr_is "vdectl: cannot open /dev/vde-control: No such file or directory" &&
	expect 3 helper --daemon 0 && expect 3 recover 0 &&
	stderr_has "^vdectl: /dev/vde0: no such device"
}

# The XTS key never shows, nor the passphrases.
t_no_secrets_printed() {
	local f hex n=0
	for f in "$tmp"/*.key; do
		hex=$(od -An -tx1 -v "$f" | tr -d ' \n')
		[ ${#hex} = 128 ] || continue
		n=$((n + 1))
		grep -qi -- "$hex" "$all" && { fail "the key of $f was printed"; return 1; }
		grep -qi -- "${hex:0:32}" "$all" && { fail "half the key of $f was printed"; return 1; }
		grep -qi -- "$(od -An -tx1 -v "$f" | tr -d '\n' | sed 's/^ //')" "$all" &&
			{ fail "the key of $f was printed with spaces"; return 1; }
	done
	[ $n -ge 4 ] || fail "only $n key files looked at" || return 1
	for p in "$P1" "$P2" "$P3" "$P4"; do
		grep -qF -- "$p" "$all" && { fail "passphrase '$p' was printed"; return 1; }
	done
	[ -s "$all" ] || fail "no output was kept"
}

ktap_header 20
ktap_run create_encrypt_standard t_create_standard
ktap_run create_encrypt_passphrase_from_stdin t_create_from_stdin
ktap_run create_encrypt_minimal_key_file t_create_minimal_key_file
ktap_run create_encrypt_standard_key_file t_create_standard_key_file
ktap_run create_encrypt_pbkdf2 t_create_pbkdf2
ktap_run create_encrypt_bad_arguments t_create_bad_arguments
ktap_run create_encrypt_bad_input t_create_bad_input
ktap_run key_verify t_verify
ktap_run key_add t_add
ktap_run key_passwd t_passwd
ktap_run key_remove t_remove
ktap_run key_list t_list
ktap_run check_with_key t_check_key
ktap_run check_damaged_key_slots t_check_damaged_slots
ktap_run key_usage_errors t_key_usage
ktap_run passphrases_prompted_on_terminal t_tty_prompts
ktap_run attach_checks_key_first t_attach_key_first
ktap_run attach_helper_usage_errors t_attach_usage
ktap_run helper_recover_without_device t_helper_no_device
ktap_run no_key_material_printed t_no_secrets_printed
ktap_finish
