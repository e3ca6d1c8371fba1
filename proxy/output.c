/* SPDX-License-Identifier: MIT */
/* output.c — a worker's stdout and stderr kept for its zone (see output.h). */
#include "output.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* One zone per worker process: one buffer per stream. */
struct outbuf {
	char *buf;
	size_t len;
	uint64_t dropped;
	int warned;
};

static struct {
	pthread_mutex_t lock;
	struct outbuf s[VGPU_OUT_STREAMS];
	int pending;        /* some stream's len != 0, read without the lock */
} out = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void pending_update(void)
{
	int any = 0;
	for (unsigned i = 0; i < VGPU_OUT_STREAMS; i++)
		any |= out.s[i].len != 0;
	__atomic_store_n(&out.pending, any, __ATOMIC_RELEASE);
}

static ssize_t keep(unsigned stream, const char *p, size_t n)
{
	struct outbuf *b = &out.s[stream];
	pthread_mutex_lock(&out.lock);
	if (!b->buf)
		b->buf = malloc(VGPU_OUTPUT_MAX);
	size_t k = b->buf ? VGPU_OUTPUT_MAX - b->len : 0;
	if (k > n)
		k = n;
	if (k) {
		memcpy(b->buf + b->len, p, k);
		b->len += k;
		pending_update();
	}
	int warn = k < n && !b->warned;
	b->dropped += n - k;
	b->warned |= warn;
	pthread_mutex_unlock(&out.lock);
	if (warn)
		vgpu_warn("device output (%s) over %u bytes not yet taken by the zone: the rest is dropped "
			  "(counted in the worker's log when the zone ends)", stream ? "stderr" : "stdout", VGPU_OUTPUT_MAX);
	return (ssize_t)n;   /* never an error: the writer (the driver) is not the zone */
}

static ssize_t out_write(void *cookie, const char *p, size_t n)
{
	(void)cookie;
	return keep(VGPU_OUT_STDOUT, p, n);
}

static ssize_t err_write(void *cookie, const char *p, size_t n)
{
	(void)cookie;
	for (size_t done = 0; done < n;) {   /* the worker's log keeps it too */
		ssize_t w = write(STDERR_FILENO, p + done, n - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	return keep(VGPU_OUT_STDERR, p, n);
}

static int replace(FILE **which, cookie_write_function_t *fn)
{
	cookie_io_functions_t io = { .write = fn };
	FILE *f = fopencookie(NULL, "w", io);
	if (!f)
		return -errno;
	setvbuf(f, NULL, _IONBF, 0);
	fflush(*which);
	*which = f;    /* glibc's stdout and stderr are ordinary variables: the driver writes through them */
	return 0;
}

int vgpu_output_capture(void)
{
	return replace(&stdout, out_write);
}

int vgpu_output_capture_stderr(void)
{
	return replace(&stderr, err_write);
}

int vgpu_output_pending(void)
{
	return __atomic_load_n(&out.pending, __ATOMIC_ACQUIRE);
}

size_t vgpu_output_take(unsigned stream, void *buf, size_t cap)
{
	if (stream >= VGPU_OUT_STREAMS)
		return 0;
	struct outbuf *b = &out.s[stream];
	pthread_mutex_lock(&out.lock);
	size_t k = b->len < cap ? b->len : cap;
	if (k) {
		memcpy(buf, b->buf, k);
		memmove(b->buf, b->buf + k, b->len - k);
		b->len -= k;
	}
	if (!b->len)
		b->warned = 0;
	pending_update();
	pthread_mutex_unlock(&out.lock);
	return k;
}

size_t vgpu_output_peek(unsigned stream, void *buf, size_t cap)
{
	if (stream >= VGPU_OUT_STREAMS)
		return 0;
	pthread_mutex_lock(&out.lock);
	size_t k = out.s[stream].len < cap ? out.s[stream].len : cap;
	if (k)
		memcpy(buf, out.s[stream].buf, k);
	pthread_mutex_unlock(&out.lock);
	return k;
}

void vgpu_output_put(unsigned stream, const void *buf, size_t len)
{
	if (stream < VGPU_OUT_STREAMS && len)
		keep(stream, buf, len);
}

uint64_t vgpu_output_dropped(void)
{
	pthread_mutex_lock(&out.lock);
	uint64_t d = 0;
	for (unsigned i = 0; i < VGPU_OUT_STREAMS; i++)
		d += out.s[i].dropped;
	pthread_mutex_unlock(&out.lock);
	return d;
}
