# SPDX-License-Identifier: MIT
# Extracts the CUresult enumerators of cuda.h with the first sentence of each doc comment,
# as C initialisers { value, "NAME", "text" } for runtime/cuerr.c.
/typedef enum cudaError_enum/ { inenum = 1; next }
inenum && /^}/ { exit }
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
	text = doc
	gsub(/::/, "", text); gsub(/\\p /, "", text); gsub(/\\ref /, "", text)
	gsub(/"/, "'", text); gsub(/[ \t]+/, " ", text)
	# first sentence only, without the trailing full stop
	if (match(text, /\. /)) text = substr(text, 1, RSTART - 1)
	sub(/\.$/, "", text); sub(/^ /, "", text)
	if (text == "") text = name
	printf "\t{ %s, \"%s\", \"%s\" },\n", val, name, text
	doc = ""
}
