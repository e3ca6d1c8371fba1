# SPDX-License-Identifier: MIT
# Builds cuGetProcAddress's table from cudaTypedefs.h: for every driver function, each
# PFN_<name>_v<version>[_ptsz|_ptds] becomes { "<name>", version, "<ABI symbol>", per_thread }.
# The ABI symbol of the i-th oldest version is <name>, <name>_v2, <name>_v3, ... (libcuda's
# naming); a per-thread-stream variant is the ABI symbol of the newest version not newer than
# it, plus _ptsz/_ptds. Input: one "name version suffix" triple per line.
{
	name = $1; ver = $2 + 0; suf = $3
	if (suf == "-") {
		n = nv[name]++
		v[name, n] = ver
	} else {
		m = np[name]++
		pv[name, m] = ver; ps[name, m] = suf
	}
	names[name] = 1
}
function abi(name, rank) { return rank == 0 ? name : name "_v" (rank + 1) }
END {
	for (name in names) {
		k = nv[name]
		# insertion sort of this name's versions
		for (i = 1; i < k; i++) {
			x = v[name, i]
			for (j = i - 1; j >= 0 && v[name, j] > x; j--) v[name, j + 1] = v[name, j]
			v[name, j + 1] = x
		}
		for (i = 0; i < k; i++)
			printf "\t{ \"%s\", %d, \"%s\", 0 },\n", name, v[name, i], abi(name, i)
		for (i = 0; i < np[name]; i++) {
			r = 0
			for (j = 0; j < k; j++) if (v[name, j] <= pv[name, i]) r = j
			printf "\t{ \"%s\", %d, \"%s_%s\", 1 },\n", name, pv[name, i], abi(name, r), ps[name, i]
		}
	}
}
