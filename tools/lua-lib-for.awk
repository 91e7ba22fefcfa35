# Usage: awk -f lua-lib-for.awk LIB.lua SCRIPT.lua
# Prints the parts of LIB.lua that SCRIPT.lua needs: what comes before
# LIB's first top-level "local function NAME" or "local NAME =", then each
# such definition whose NAME the script uses, directly or through another
# definition it includes, in LIB's order. A script's chunk runs at every
# call, and every local function in it is made again each time: a lib
# function a script never calls costs every call of it (bench/FINDINGS.md).
# A name counts as used wherever it appears as a word, comments included:
# at worst a definition is kept for nothing.

# Split s into identifier-like words; mark those naming a definition as
# wanted and queue them.
function want_words(s,    n, i, w) {
	n = split(s, w, /[^A-Za-z0-9_]+/)
	for (i = 1; i <= n; i++)
		if ((w[i] in def) && !(w[i] in wanted)) {
			wanted[w[i]] = 1
			queue[++nq] = w[i]
		}
}

BEGIN { nb = 0 }

FNR == NR {
	name = ""
	if ($0 ~ /^local function [A-Za-z_][A-Za-z0-9_]*/) {
		name = $0
		sub(/^local function /, "", name)
		sub(/[^A-Za-z0-9_].*$/, "", name)
	} else if ($0 ~ /^local [A-Za-z_][A-Za-z0-9_]* *=/) {
		name = $0
		sub(/^local /, "", name)
		sub(/[^A-Za-z0-9_].*$/, "", name)
	}
	if (name != "") {
		nb++
		def[name] = nb
		bname[nb] = name
	}
	text[nb] = text[nb] $0 "\n"
	next
}

{ script = script $0 "\n" }

END {
	want_words(script)
	for (i = 1; i <= nq; i++)
		want_words(text[def[queue[i]]])
	printf "%s", text[0]
	for (b = 1; b <= nb; b++)
		if (bname[b] in wanted)
			printf "%s", text[b]
}
