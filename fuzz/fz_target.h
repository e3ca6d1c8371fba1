/* SPDX-License-Identifier: MIT */
/*
 * fz_target.h — main() of a small fuzz target: AFL++ persistent mode when built by
 * afl-clang-fast, else replays each FILE once (make test). Include once, at the end of the
 * target's .c file: FZ_TARGET_MAIN(name, usage text, function taking (const uint8_t *, size_t)).
 */
#ifndef VGPU_FZ_TARGET_H
#define VGPU_FZ_TARGET_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#define FZ_AFL_LOOP(one)                                                 \
	if (argc < 2) {                                                  \
		__AFL_INIT();                                            \
		unsigned char *b_ = __AFL_FUZZ_TESTCASE_BUF;             \
		while (__AFL_LOOP(100000))                               \
			one(b_, (size_t)__AFL_FUZZ_TESTCASE_LEN);        \
		return 0;                                                \
	}
#else
#define FZ_AFL_LOOP(one)
#endif

#define FZ_TARGET_MAIN(name, usage, one)                                                   \
	int main(int argc, char **argv)                                                    \
	{                                                                                  \
		if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) { \
			printf("usage: " name " [FILE...]\n" usage                         \
			       "AFL++ persistent mode when built by afl-clang-fast; else "  \
			       "replays each FILE once.\n");                                \
			return 0;                                                          \
		}                                                                          \
		FZ_AFL_LOOP(one)                                                           \
		for (int i = 1; i < argc; i++) {                                           \
			static uint8_t data[1 << 20];                                      \
			FILE *f = fopen(argv[i], "rb");                                    \
			if (!f) {                                                          \
				fprintf(stderr, name ": cannot open %s\n", argv[i]);       \
				return 1;                                                  \
			}                                                                  \
			size_t n = fread(data, 1, sizeof(data), f);                        \
			fclose(f);                                                         \
			one(data, n);                                                      \
		}                                                                          \
		return 0;                                                                  \
	}

#endif
