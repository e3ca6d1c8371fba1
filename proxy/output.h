/* SPDX-License-Identifier: MIT */
/* output.h — what a zone's kernels print (device printf, failed assertions), kept by its worker for the zone. */
#ifndef VGPU_PROXY_OUTPUT_H
#define VGPU_PROXY_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

/* Most bytes kept per stream for the zone before it takes them (a GPU's printf buffer is
 * 1 MiB by default); what comes beyond is dropped and counted. */
#define VGPU_OUTPUT_MAX (1u << 20)

/* The streams: the driver writes printf's text to stdout, failed device assertions to stderr. */
enum { VGPU_OUT_STDOUT = 0, VGPU_OUT_STDERR = 1, VGPU_OUT_STREAMS = 2 };

/*
 * In a worker, before the driver is loaded: the C library's stdout becomes the zone's output
 * buffer (unbuffered), where the driver (and the simulator) write device printf's text.
 * Returns 0 or -errno.
 */
int vgpu_output_capture(void);

/*
 * After the driver is loaded: the C library's stderr is kept for the zone too (the driver's
 * reports of failed device assertions, the simulator's diagnostics), and still written to
 * the worker's log. The worker's own log lines go to descriptor 2 directly, not through it.
 * Returns 0 or -errno.
 */
int vgpu_output_capture_stderr(void);

/* Whether the zone has output it has not taken, on either stream: one relaxed load, on
 * every reply. */
int vgpu_output_pending(void);

/* Moves up to cap bytes of the stream's output into buf; returns how many (0 for a stream
 * that is not one). */
size_t vgpu_output_take(unsigned stream, void *buf, size_t cap);

/* Copies up to cap bytes of the stream's output into buf without taking them (a checkpoint);
 * returns how many. */
size_t vgpu_output_peek(unsigned stream, void *buf, size_t cap);
/* Appends len bytes to the stream's output as if the zone's kernels had printed them (a
 * restore of output the zone had not taken); what does not fit is dropped and counted. */
void vgpu_output_put(unsigned stream, const void *buf, size_t len);

/* Bytes dropped so far, both streams, because the zone did not take its output in time. */
uint64_t vgpu_output_dropped(void);

#endif
