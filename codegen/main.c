/* SPDX-License-Identifier: MIT */
/* main.c — vgpu-codegen command line: cuda.h + spec/cuda.spec -> generated/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codegen.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vgpu-codegen [--header CUDA_H] [--extra-header H]... [--spec SPEC] [--out DIR]\n"
		"                    [-IDIR|-DNAME[=V]]...\n"
		"\n"
		"Walks CUDA_H (default /usr/local/cuda/include/cuda.h) with libclang, applies the\n"
		"annotations and pinned opcodes of SPEC (default spec/cuda.spec, format in docs/SPEC.md)\n"
		"and writes into DIR (default generated/): vgpu_ops.h, vgpu_calls.[ch], vgpu_client.[ch],\n"
		"vgpu_dispatch.[ch], libvgpu.map and COVERAGE.md. Output is deterministic.\n"
		"--extra-header adds the cu* functions of another header libcuda implements\n"
		"(e.g. cudaProfiler.h); at most 8.\n"
		"\n"
		"Every function of CUDA_H must be classified by the spec; errors are printed as\n"
		"FILE:LINE: error: ... and the exit status is 1 (2 for usage errors).\n"
		"\n"
		"  --help     this text\n"
		"  --version  print the version\n"
		"  --quiet    no summary line\n");
}

int main(int argc, char **argv)
{
	const char *header = "/usr/local/cuda/include/cuda.h", *spec = "spec/cuda.spec", *out = "generated";
	const char *cargs[32], *extra[8];
	int ncargs = 0, nextra = 0, quiet = 0;
	struct cg_spec s;
	struct cg_header h;
	struct stat st;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("vgpu-codegen %s\n", CG_VERSION);
			return 0;
		} else if (!strcmp(a, "--quiet")) {
			quiet = 1;
		} else if ((!strcmp(a, "--header") || !strcmp(a, "--spec") || !strcmp(a, "--out")) && i + 1 < argc) {
			if (a[2] == 'h')
				header = argv[++i];
			else if (a[2] == 's')
				spec = argv[++i];
			else
				out = argv[++i];
		} else if (!strcmp(a, "--extra-header") && i + 1 < argc && nextra < 8) {
			extra[nextra++] = argv[++i];
		} else if ((!strncmp(a, "-I", 2) || !strncmp(a, "-D", 2)) && a[2] && ncargs < 32) {
			cargs[ncargs++] = a;
		} else {
			fprintf(stderr, "vgpu-codegen: unknown or incomplete option '%s'; see --help\n", a);
			return 2;
		}
	}
	if (stat(out, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vgpu-codegen: output directory '%s' does not exist; create it or pass --out DIR\n", out);
		return 2;
	}
	int rc = 1;
	memset(&h, 0, sizeof(h));
	if (cg_spec_parse(&s, spec))
		goto out;
	if (cg_header_parse(&h, &s, header, extra, nextra, cargs, ncargs))
		goto out;
	if (cg_classify(&h, &s))
		goto out;
	if (cg_emit(&h, &s, out))
		goto out;
	rc = 0;
	if (!quiet) {
		int n[5] = { 0 };
		for (int i = 0; i < h.nfuncs; i++)
			n[h.funcs[i].cls]++;
		fprintf(stderr, "vgpu-codegen: %d functions: %d generated, %d custom, %d local, %d unsupported -> %s/\n",
			h.nfuncs, n[CG_GEN], n[CG_CUSTOM], n[CG_LOCAL], n[CG_UNSUP], out);
	}
out:
	cg_header_free(&h);
	cg_spec_free(&s);
	return rc;
}
