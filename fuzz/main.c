/* SPDX-License-Identifier: MIT */
/* main.c — entry point of the decoder/dispatch fuzz target: AFL++ persistent mode, or a plain replayer of input files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vgpu-fuzz [FILE...]\n"
		"Runs vgpu-proxy's call path (channel loop, decoder, dispatch, zone tables) on session\n"
		"scripts for two zones, against the simulator, with isolation oracles that abort on a\n"
		"violation (docs/SECURITY.md). Built by afl-clang-fast it is an AFL++ persistent-mode\n"
		"target (input from afl-fuzz); built by gcc it replays each FILE (or stdin) once.\n"
		"Script format: fuzz/harness.h. Environment: VGPU_SIM_LIB (simulator path),\n"
		"VGPU_FUZZ_LOG=error|warn|info|debug (proxy log level, default silent),\n"
		"VGPU_FUZZ_TRACE=1 (a line per reply: zone, opcode, sequence, length, result; for\n"
		"checking that a change of the harness leaves runs as they were),\n"
		"VGPU_FUZZ_TIME=1 (a line per FILE: microseconds it took, its size, its name; for\n"
		"finding what makes executions slow), VGPU_FUZZ_MAPS=1 (the process's memory\n"
		"mappings after the last FILE: what a run leaves mapped for the next one to find).\n");
}

/* The process's memory mappings now (/proc/self/maps lines), or -1. */
static int count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	int n = 0, c;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int run_file(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "vgpu-fuzz: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, len = 0, n;
	unsigned char *buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			unsigned char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!buf) {
		fprintf(stderr, "vgpu-fuzz: out of memory reading %s\n", path);
		return -1;
	}
	static int timed = -1;
	if (timed < 0)
		timed = getenv("VGPU_FUZZ_TIME") && atoi(getenv("VGPU_FUZZ_TIME"));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fz_run_one(buf, len);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (timed)
		fprintf(stderr, "vgpu-fuzz: time %.0f us %zu bytes %s\n",
			(t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3, len, path);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
#ifdef __AFL_FUZZ_TESTCASE_LEN
	if (argc < 2) {
		/* Fork server first: the zones' fibers and the simulator's threads must be started
		 * in the process that runs the test cases (a fork keeps only the calling thread). */
		__AFL_INIT();
		if (fz_setup() < 0)
			return 2;
		unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;
		while (__AFL_LOOP(100000))
			fz_run_one(buf, (size_t)__AFL_FUZZ_TESTCASE_LEN);
		return 0;
	}
#endif
	if (fz_setup() < 0)
		return 2;
	int failed = 0;
	if (argc < 2)
		return run_file("-") < 0;
	for (int i = 1; i < argc; i++)
		failed |= run_file(argv[i]) < 0;
	if (getenv("VGPU_FUZZ_MAPS") && atoi(getenv("VGPU_FUZZ_MAPS")))
		fprintf(stderr, "vgpu-fuzz: %d mappings\n", count_mappings());
	return failed;
}
