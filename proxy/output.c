/* SPDX-License-Identifier: MIT */
/* output.c — a worker's stdout kept for its zone (see output.h). */
#include "output.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* One zone per worker process: one buffer. */
static struct {
	pthread_mutex_t lock;
	char *buf;
	size_t len;
	uint64_t dropped;
	int pending;        /* len != 0, read without the lock */
	int warned;
} out = { .lock = PTHREAD_MUTEX_INITIALIZER };

static ssize_t out_write(void *cookie, const char *p, size_t n)
{
	(void)cookie;
	pthread_mutex_lock(&out.lock);
	if (!out.buf)
		out.buf = malloc(VGPU_OUTPUT_MAX);
	size_t k = out.buf ? VGPU_OUTPUT_MAX - out.len : 0;
	if (k > n)
		k = n;
	if (k) {
		memcpy(out.buf + out.len, p, k);
		out.len += k;
		__atomic_store_n(&out.pending, 1, __ATOMIC_RELEASE);
	}
	int warn = k < n && !out.warned;
	out.dropped += n - k;
	out.warned |= warn;
	pthread_mutex_unlock(&out.lock);
	if (warn)
		vgpu_warn("device output over %u bytes not yet taken by the zone: the rest is dropped "
			  "(counted in the worker's log when the zone ends)", VGPU_OUTPUT_MAX);
	return (ssize_t)n;   /* never an error: the writer (the driver) is not the zone */
}

int vgpu_output_capture(void)
{
	cookie_io_functions_t io = { .write = out_write };
	FILE *f = fopencookie(NULL, "w", io);
	if (!f)
		return -errno;
	setvbuf(f, NULL, _IONBF, 0);
	fflush(stdout);
	stdout = f;    /* glibc's stdout is an ordinary variable: the driver writes through it */
	return 0;
}

int vgpu_output_pending(void)
{
	return __atomic_load_n(&out.pending, __ATOMIC_ACQUIRE);
}

size_t vgpu_output_take(void *buf, size_t cap)
{
	pthread_mutex_lock(&out.lock);
	size_t k = out.len < cap ? out.len : cap;
	if (k) {
		memcpy(buf, out.buf, k);
		memmove(out.buf, out.buf + k, out.len - k);
	}
	out.len -= k;
	if (!out.len) {
		__atomic_store_n(&out.pending, 0, __ATOMIC_RELEASE);
		out.warned = 0;
	}
	pthread_mutex_unlock(&out.lock);
	return k;
}

uint64_t vgpu_output_dropped(void)
{
	pthread_mutex_lock(&out.lock);
	uint64_t d = out.dropped;
	pthread_mutex_unlock(&out.lock);
	return d;
}
