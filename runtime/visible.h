/* SPDX-License-Identifier: MIT */
/* visible.h — CUDA_VISIBLE_DEVICES: which devices a process sees, and in what order. */
#ifndef VGPU_VISIBLE_H
#define VGPU_VISIBLE_H
#include <stddef.h>

#include <cuda.h>

/*
 * The driver's rule: a comma-separated list of device indices or UUIDs ("GPU-" and a prefix of
 * the UUID long enough to name one device); the process sees those devices in that order, as
 * ordinals 0, 1, ...; the first entry that names no device (past the count, negative, not a
 * number, an ambiguous or unknown UUID, a device listed already) ends the list, so "", "-1" or
 * an index past the last device hide every device. Unset: every device, in order.
 */

/* Fills out[0..] (at most cap) with the indices s names among n devices, whose UUIDs
 * uuid_of(i, &u, arg) gives (0 on success; asked only for "GPU-" entries); returns how many. */
int vgpu_visible_parse(const char *s, int n, int (*uuid_of)(int i, CUuuid *u, void *arg), void *arg, int *out,
		       int cap);

/* A device's UUID as NVIDIA writes it: "GPU-" and its 16 bytes as 8-4-4-4-12 hex digits. */
#define VGPU_UUID_TEXT 41
void vgpu_uuid_text(const CUuuid *u, char out[VGPU_UUID_TEXT]);

/* 1 when s hides every device whatever the devices are: its first entry is neither a
 * non-negative index nor a UUID ("", "-1", "none"). */
int vgpu_visible_none(const char *s);

/*
 * A zone's devices as a list of the proxy's device ordinals, written "1,0": what a zone's
 * process chose with its CUDA_VISIBLE_DEVICES, kept by its worker and in its checkpoint
 * (vgpu_visible_compose without a parent writes it). vgpu_visible_ordinals reads such text
 * strictly (decimal ordinals below n, distinct, separated by single commas, no
 * blanks): how many, or -1 when it is anything else.
 */
#define VGPU_VISIBLE_MAX  64
#define VGPU_VISIBLE_TEXT (VGPU_VISIBLE_MAX * 3)
int vgpu_visible_ordinals(const char *text, int n, int out[VGPU_VISIBLE_MAX]);

/*
 * The CUDA_VISIBLE_DEVICES that gives a driver whose own list is parent (NULL: unset, every
 * device) the devices ord[0..k) of what it shows under parent, in that order: parent's entries
 * ord[0], ord[1], ... (each ordinal below the number of devices the driver shows under parent,
 * so each of those entries names a device), or the ordinals themselves without a parent.
 * 0, or -1 when out (cap bytes) is too small.
 */
int vgpu_visible_compose(const char *parent, const int *ord, int k, char *out, size_t cap);
#endif
