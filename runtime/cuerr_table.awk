# SPDX-License-Identifier: MIT
# Makes runtime/cuerr.c's table of CUresult codes, { value, "NAME", "text" } initialisers, from cuda.h.
#
# Usage: awk -f cuerr_table.awk cuerr_strings.txt cuda.h
# The text of a code is the driver's cuGetErrorString string from the first file (NAME, blanks,
# text); for a code that file lacks, the first sentence of the enumerator's doc comment in cuda.h.
# Fails (exit 1, a message on stderr) when the first file is malformed, names a code twice or
# names one that cuda.h's CUresult does not have, or when cuda.h's values are not ascending.

function fail(msg) {
	printf "cuerr_table.awk: %s\n", msg > "/dev/stderr"
	failed = 1
	exit 1
}

# C string literal contents for s.
function cstr(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	return s
}

# ---- the driver's strings ----
FILENAME == ARGV[1] {
	if ($0 ~ /^[ \t]*(#|$)/)
		next
	if (!match($0, /^CUDA_[A-Z0-9_]+[ \t]+/))
		fail(FILENAME ":" FNR ": expected a CUresult name, blanks and the string")
	name = $1
	text = substr($0, RLENGTH + 1)
	if (text ~ /[ \t]$/)
		fail(FILENAME ":" FNR ": trailing blanks after the string of " name)
	if (name in drv)
		fail(FILENAME ":" FNR ": " name " is given twice (first on line " drvline[name] ")")
	drv[name] = text
	drvline[name] = FNR
	strfile = FILENAME
	next
}

# ---- cuda.h ----
/typedef enum cudaError_enum/ { inenum = 1; next }
inenum && /^}/ { done = 1; exit }
inenum && /\/\*\*/ { doc = ""; indoc = 1; next }
inenum && indoc && /\*\// { indoc = 0; next }
inenum && indoc {
	line = $0
	sub(/^[ \t]*\*[ \t]?/, "", line)
	if (line ~ /^\\deprecated/) next
	doc = doc (doc == "" ? "" : " ") line
	next
}
inenum && /^[ \t]*CUDA_[A-Z0-9_]+[ \t]*=[ \t]*[0-9]+/ {
	name = $1; val = $3; sub(/,.*/, "", val)
	if (count && val + 0 <= last + 0)
		fail(FILENAME ":" FNR ": " name " = " val " does not follow " last "; the table must be sorted")
	last = val
	count++
	seen[name] = 1
	if (name in drv) {
		text = cstr(drv[name])
	} else {
		text = doc
		gsub(/::/, "", text); gsub(/\\p /, "", text); gsub(/\\ref /, "", text)
		gsub(/"/, "'", text); gsub(/[ \t]+/, " ", text)
		# first sentence only, without the trailing full stop
		if (match(text, /\. /)) text = substr(text, 1, RSTART - 1)
		sub(/\.$/, "", text); sub(/^ /, "", text)
		if (text == "") text = name
		text = cstr(text)
	}
	printf "\t{ %s, \"%s\", \"%s\" },\n", val, name, text
	doc = ""
}

END {
	if (failed)
		exit 1
	if (!done || !count) {
		printf "cuerr_table.awk: no CUresult enum (typedef enum cudaError_enum) in %s\n", ARGV[2] > "/dev/stderr"
		exit 1
	}
	bad = 0
	for (name in drv)
		if (!(name in seen)) {
			printf "cuerr_table.awk: %s:%d: %s is not a CUresult code of %s\n", strfile, drvline[name], name, ARGV[2] > "/dev/stderr"
			bad = 1
		}
	if (bad)
		exit 1
}
