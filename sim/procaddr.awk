# SPDX-License-Identifier: MIT
# Turns "name version [suffix]" lines (one per PFN_<name>_v<version>[_ptds|_ptsz] typedef of
# cudaTypedefs.h) into the simulator's cuGetProcAddress table rows:
#   { "name", version, "ABI symbol", per_thread },
# libcuda names the versions of a function, oldest first, <name>, <name>_v2, <name>_v3, ...;
# a per-thread-stream variant is the newest plain version not newer than it plus its suffix.
{
	if (NF == 2) { plain[$1, cnt[$1]++] = $2 + 0 }
	else { m = pcnt[$1]++; ptv[$1, m] = $2 + 0; pts[$1, m] = $3 }
	seen[$1] = 1
}
END {
	for (f in seen) {
		n = cnt[f]
		for (i = 1; i < n; i++) {          # sort this function's versions, oldest first
			x = plain[f, i]
			for (j = i - 1; j >= 0 && plain[f, j] > x; j--)
				plain[f, j + 1] = plain[f, j]
			plain[f, j + 1] = x
		}
		for (i = 0; i < n; i++)
			printf "\t{\"%s\", %d, \"%s%s\", 0},\n", f, plain[f, i], f, i ? "_v" (i + 1) : ""
		for (k = 0; k < pcnt[f]; k++) {
			r = -1
			for (i = 0; i < n; i++)
				if (plain[f, i] <= ptv[f, k])
					r = i
			if (r >= 0)
				printf "\t{\"%s\", %d, \"%s%s_%s\", 1},\n", f, ptv[f, k], f, r ? "_v" (r + 1) : "", pts[f, k]
		}
	}
}
