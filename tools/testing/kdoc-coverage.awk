# SPDX-License-Identifier: GPL-2.0
#
# Every non-static function defined in kmod/ and every VDE_ macro and
# struct in the uapi header must carry a kernel-doc comment ("/** ... */")
# right above it.  Prints each item that has none; exit status 1 if any.
#
#   awk -f kdoc-coverage.awk kmod/*.c include/uapi/linux/vde.h

FNR == 1 { indoc = 0; lastdoc = 0; prev = "" }

/^\/\*\*/ { indoc = 1 }
indoc && /\*\// { indoc = 0; lastdoc = FNR; prev = "doc"; next }
indoc { next }

# A function definition: starts in column 0, not static, has "(", and is
# not a prototype (the line does not end with ";").
FILENAME ~ /\.c$/ && /^[a-z_][a-z0-9_ *]*[a-z0-9_]+\(/ && !/^static/ &&
    !/;[ \t]*$/ && !/^(module_|MODULE_|EXPORT_|late_initcall|device_initcall)/ {
	if (prev != "doc") {
		printf "%s:%d: no kernel-doc: %s\n", FILENAME, FNR, $0
		bad = 1
	}
}

# A run of adjacent #defines right after a DOC comment is documented by it.
FILENAME ~ /\.h$/ && (/^#define VDE_/ || /^struct vde_[a-z0-9_]+ \{/) {
	if (prev != "doc" && !(prev == "define" && /^#define/)) {
		printf "%s:%d: no kernel-doc: %s\n", FILENAME, FNR, $0
		bad = 1
	}
	prev = /^#define/ ? "define" : "code"
	next
}

/[^ \t]/ { prev = "code" }

END { exit bad }
