/* SPDX-License-Identifier: MIT */
/* output.h — what a zone's kernels print (device printf), kept by its worker for the zone. */
#ifndef VGPU_PROXY_OUTPUT_H
#define VGPU_PROXY_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

/* Most bytes kept for the zone before it takes them (a GPU's printf buffer is 1 MiB by
 * default); what comes beyond is dropped and counted. */
#define VGPU_OUTPUT_MAX (1u << 20)

/*
 * In a worker, before the driver is loaded: the C library's stdout becomes the zone's output
 * buffer (unbuffered), where the driver (and the simulator) write device printf's text. The
 * worker's own logs go to stderr as before. Returns 0 or -errno.
 */
int vgpu_output_capture(void);

/* Whether the zone has output it has not taken: one relaxed load, on every reply. */
int vgpu_output_pending(void);

/* Moves up to cap bytes of output into buf; returns how many. */
size_t vgpu_output_take(void *buf, size_t cap);

/* Bytes dropped so far because the zone did not take its output in time. */
uint64_t vgpu_output_dropped(void);

#endif
