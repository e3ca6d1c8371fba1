/* SPDX-License-Identifier: MIT */
/* ring_test.h — small helpers shared by the grant-ring tests (checks, patterns, child processes). */
#ifndef VGPU_RING_TEST_H
#define VGPU_RING_TEST_H

#ifdef NDEBUG
#error "tests rely on assert(); do not build them with NDEBUG"
#endif

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chan.h"
#include "ring.h"
#include "session.h"

static int ring_test_failures;

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	ring_test_failures++; } } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); if (_a != _b) { \
	fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, \
		#a, #b, _a, _b); ring_test_failures++; } } while (0)
#define CHECK_ERR(c, expr, err, substr) do { int _r = (expr); if (_r != (err)) { \
	fprintf(stderr, "%s:%d: %s returned %d, expected %d (%s)\n", __FILE__, __LINE__, #expr, \
		_r, (err), vgpu_chan_strerror(c)); ring_test_failures++; } \
	else if (!strstr(vgpu_chan_strerror(c), (substr))) { \
	fprintf(stderr, "%s:%d: reason '%s' does not mention '%s'\n", __FILE__, __LINE__, \
		vgpu_chan_strerror(c), (substr)); ring_test_failures++; } } while (0)
#define MUST(expr) do { int _r = (expr); if (_r < 0) { \
	fprintf(stderr, "%s:%d: %s failed: %d (%s)\n", __FILE__, __LINE__, #expr, _r, \
		vgpu_chan_setup_error()); exit(1); } } while (0)

static inline int ring_test_done(const char *name)
{
	if (ring_test_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, ring_test_failures);
		return 1;
	}
	printf("%s: all checks passed\n", name);
	return 0;
}

/* A pseudo-random pattern with a prime period, so a stream's bytes never line up with the
 * power-of-two ring sizes: byte `off` of stream `stream` is pat[(off + stream * 7919) % P]. */
#define RING_TEST_PERIOD 1048573u
static uint8_t *ring_test_pat;

static inline void ring_test_pattern_init(void)
{
	uint64_t x = 0x243f6a8885a308d3ull;

	if (ring_test_pat)
		return;
	ring_test_pat = malloc(RING_TEST_PERIOD);
	if (!ring_test_pat)
		abort();
	for (uint32_t i = 0; i < RING_TEST_PERIOD; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		ring_test_pat[i] = (uint8_t)(x >> 24);
	}
}

static inline uint64_t ring_test_pos(uint32_t stream, uint64_t off)
{
	return (off + (uint64_t)stream * 7919u) % RING_TEST_PERIOD;
}

static inline void ring_test_fill(uint32_t stream, uint64_t off, uint8_t *p, uint64_t n)
{
	ring_test_pattern_init();
	while (n) {
		uint64_t i = ring_test_pos(stream, off), k = RING_TEST_PERIOD - i;

		if (k > n)
			k = n;
		memcpy(p, ring_test_pat + i, k);
		p += k; off += k; n -= k;
	}
}

/* Index of the first mismatch, or -1. */
static inline int64_t ring_test_verify(uint32_t stream, uint64_t off, const uint8_t *p, uint64_t n)
{
	uint64_t done = 0;

	ring_test_pattern_init();
	while (done < n) {
		uint64_t i = ring_test_pos(stream, off + done), k = RING_TEST_PERIOD - i;

		if (k > n - done)
			k = n - done;
		if (memcmp(p + done, ring_test_pat + i, k)) {
			for (uint64_t j = 0; j < k; j++)
				if (p[done + j] != ring_test_pat[i + j])
					return (int64_t)(done + j);
		}
		done += k;
	}
	return -1;
}

/* Wait for a child; returns its exit status, or 128+signal. */
static inline int ring_test_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
