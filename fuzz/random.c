/* SPDX-License-Identifier: MIT */
/* random.c — the proxy's getrandom() in the fuzz target (linked with --wrap): keys from a generator seeded once per process. */
/*
 * Why: every input makes two zones, and each zone draws its keys (handle ids, physical-memory
 * and pinned-region keys: proxy/zone.c) from getrandom, a system call: 1.5 % of a
 * campaign's time on a virtual machine where a system call costs microseconds. Here the
 * first call of a process (and the first after a fork: AFL++'s fork server forks the
 * process that runs the inputs) seeds a generator from the real getrandom, and every call
 * is answered from it.
 *
 * What stays the same: keys differ from zone to zone and from process to process, and an
 * input cannot know them in advance (it never sees the seed), so a handle copied from the
 * other zone still names nothing there. They are not a cryptographic stream, which the
 * oracles do not need; the proxy itself, outside this target, calls the real getrandom.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

ssize_t __real_getrandom(void *buf, size_t len, unsigned int flags);
ssize_t __wrap_getrandom(void *buf, size_t len, unsigned int flags);

static uint64_t state[2];
static int seeded, atfork;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void forked(void)
{
	seeded = 0;
}

/* xorshift128+ */
static uint64_t next(void)
{
	uint64_t a = state[0];
	const uint64_t b = state[1];
	state[0] = b;
	a ^= a << 23;
	state[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return state[1] + b;
}

ssize_t __wrap_getrandom(void *buf, size_t len, unsigned int flags)
{
	pthread_mutex_lock(&lock);
	if (!atfork) {
		pthread_atfork(NULL, NULL, forked);
		atfork = 1;
	}
	if (!seeded) {
		if (__real_getrandom(state, sizeof(state), 0) != (ssize_t)sizeof(state)) {
			pthread_mutex_unlock(&lock);
			return __real_getrandom(buf, len, flags);
		}
		state[1] |= 1;   /* never the all-zero state */
		seeded = 1;
	}
	for (size_t at = 0; at < len; at += 8) {
		uint64_t r = next();
		memcpy((uint8_t *)buf + at, &r, len - at < 8 ? len - at : 8);
	}
	pthread_mutex_unlock(&lock);
	return (ssize_t)len;
}
