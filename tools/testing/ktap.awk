# SPDX-License-Identifier: GPL-2.0
#
# Turn KTAP into one line per test: "PASS|FAIL|SKIP<TAB>name".
#
#   awk -v nested=0 -f ktap.awk   a program's own KTAP (top-level results)
#   awk -v nested=1 -f ktap.awk   the kselftest runner's output, whose
#                                 programs' results are nested under "# "
#
# With nested=1 a program's own results are reported in its place; a program
# that failed without a failing result of its own (a crash, a timeout, a bad
# exit status) is reported as failed too.  Fewer results than the plan
# announced count as one more failure.

function verdict(line,    s) {
	if (line ~ /^not ok/)
		return "FAIL"
	if (line ~ /# *[Ss][Kk][Ii][Pp]/)
		return "SKIP"
	return "PASS"
}

function name_of(line,    s) {
	s = line
	sub(/^(not )?ok [0-9]+ *(- )?/, "", s)
	sub(/ *# .*$/, "", s)
	return s
}

BEGIN { n = 0; pf = 0; plan = -1; seen = 0 }

/^1\.\.[0-9]+/ && plan < 0 {
	plan = substr($1, 4) + 0
	next
}

nested && /^# (not )?ok [0-9]+/ {
	line = substr($0, 3)
	v = verdict(line)
	pending[n++] = v "\t" name_of(line)
	if (v == "FAIL")
		pf++
	next
}

/^(not )?ok [0-9]+/ {
	seen++
	v = verdict($0)
	top = name_of($0)
	sub(/^selftests: [^:]*: /, "", top)
	if (n > 0) {
		for (i = 0; i < n; i++) {
			split(pending[i], p, "\t")
			print p[1] "\t" top ": " p[2]
		}
		if (v == "FAIL" && pf == 0)
			print "FAIL\t" top ": " substr($0, index($0, "#"))
	} else {
		print v "\t" top
	}
	n = 0
	pf = 0
}

END {
	if (plan >= 0 && seen < plan)
		print "FAIL\tonly " seen " of " plan " results reported"
	if (plan < 0 && seen == 0)
		print "FAIL\tno KTAP results"
}
