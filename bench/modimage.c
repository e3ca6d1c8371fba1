/* SPDX-License-Identifier: MIT */
/* Benchmark of a PTX module image's check (vgpu_modimage_size: where its text ends, and that
 * it is text): every cuModuleLoadData of PTX runs it on the proxy, and the simulator again.
 * Compared in the same run against the byte-by-byte check it replaced. */
#include "modimage.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The baseline: the text's NUL found with memchr, then every byte before it looked at. */
static int bytewise(const void *image, size_t max, size_t *len)
{
	const unsigned char *p = image;
	const unsigned char *nul = memchr(p, 0, max);
	if (!nul || nul == p)
		return -EINVAL;
	const unsigned char *q0 = p;
	while (q0 < nul && isspace(*q0))
		q0++;
	if (q0 == nul || (*q0 != '.' && *q0 != '/'))
		return -EINVAL;
	for (const unsigned char *q = p; q < nul; q++)
		if (*q < 0x20 && !isspace(*q))
			return -EINVAL;
	*len = (size_t)(nul - p) + 1;
	return VGPU_MODIMAGE_PTX;
}

/* Best of 5 rounds of n checks: seconds per check. */
static double best(int (*fn)(const void *, size_t, size_t *), const char *text, size_t max, long n, size_t *len)
{
	double b = 1e9;
	for (int r = 0; r < 5; r++) {
		double t0 = now();
		for (long i = 0; i < n; i++) {
			if (fn(text, max, len) != VGPU_MODIMAGE_PTX) {
				fprintf(stderr, "bench/modimage: the text was refused\n");
				exit(1);
			}
			__asm__ volatile("" ::: "memory");
		}
		double t = (now() - t0) / (double)n;
		b = t < b ? t : b;
	}
	return b;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: bench/modimage [PTX-FILE [N]]\n"
		       "Times the check of a PTX module image (vgpu_modimage_size, runtime/modimage.c:\n"
		       "where the text ends and that it is text), run on every PTX module load by the\n"
		       "proxy and by the simulator, against the byte-by-byte check it replaced, on the\n"
		       "same text in the same run; prints MB/s of each and the ratio. PTX-FILE defaults\n"
		       "to $VGPU_BUILD/tests/kernels/math.ptx (VGPU_BUILD: build/rel), N to 2000 checks.\n");
		return 0;
	}
	const char *b = getenv("VGPU_BUILD");
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/kernels/math.ptx", b ? b : "build/rel");
	const char *file = argc > 1 ? argv[1] : path;
	long n = argc > 2 ? atol(argv[2]) : 2000;
	if (n <= 0) {
		fprintf(stderr, "bench/modimage: N must be a positive number of checks, not '%s'\n", argv[2]);
		return 2;
	}
	FILE *f = fopen(file, "rb");
	if (!f) {
		fprintf(stderr, "bench/modimage: cannot open %s: %s\n", file, strerror(errno));
		return 1;
	}
	char *text = malloc(1 << 24);
	size_t got = text ? fread(text, 1, (1 << 24) - 1, f) : 0;
	fclose(f);
	if (!text || !got) {
		fprintf(stderr, "bench/modimage: %s is empty or cannot be read\n", file);
		free(text);
		return 1;
	}
	text[got] = 0;
	size_t max = got + 1, l1 = 0, l2 = 0;
	double tb = best(bytewise, text, max, n, &l1);
	double tw = best(vgpu_modimage_size, text, max, n, &l2);
	if (l1 != l2 || l1 != max) {
		fprintf(stderr, "bench/modimage: the checks disagree on the text's length (%zu, %zu)\n", l1, l2);
		free(text);
		return 1;
	}
	printf("PTX module image check, %s (%zu bytes), best of 5 x %ld\n", file, got, n);
	printf("  byte by byte (baseline)  %8.2f us  %8.0f MB/s\n", tb * 1e6, (double)max / tb / 1e6);
	printf("  vgpu_modimage_size       %8.2f us  %8.0f MB/s\n", tw * 1e6, (double)max / tw / 1e6);
	printf("  ratio (baseline / ours)  %8.2fx\n", tb / tw);
	free(text);
	return 0;
}
