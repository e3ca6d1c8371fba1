/* SPDX-License-Identifier: MIT */
/* client.h — libvgpu internals: the zone connection, per-thread channels and the call path. */
#ifndef VGPU_LIBVGPU_CLIENT_H
#define VGPU_LIBVGPU_CLIENT_H

#include <stdint.h>
#include <cuda.h>

#include "chan.h"
#include "codec.h"
#include "vgpu_client.h"

/* One application thread's channel to the proxy (created lazily, closed at thread exit). */
struct vgpu_conn {
	struct vgpu_chan *chan;
	uint32_t seq;            /* sequence number of the last request sent */
	uint64_t generation;     /* client generation it was opened in (changes on fork) */
	struct vgpu_wbuf wbuf;   /* request encoding buffer, reused */
	uint8_t *rbuf;           /* reply buffer, VGPU_CLIENT_MAX_MSG bytes */
	int broken;              /* the channel failed; every call returns DEVICE_UNAVAILABLE */
	int output_more;         /* the last reply said the zone has device output waiting */
};

/* Largest message libvgpu accepts; larger payloads travel on the bulk stream. */
#define VGPU_CLIENT_MAX_MSG VGPU_MSG_MAX
/*
 * Channel geometry libvgpu asks for: room for a burst of async calls, and a 1 MiB bulk area
 * per direction. Bytes stream through the bulk area while both sides copy (a quarter of it
 * per step), so a small area is reused while it is still in the caches: with 1 MiB (and
 * 512 KiB) pageable device-to-host copies of 1-16 MiB ran at 22-26 GB/s on the simulator
 * where a 4 MiB area gave 5-13 GB/s on the same machine in the same run, and host-to-device
 * ones gained 5-40 %. A larger copy only takes more steps.
 */
#define VGPU_CLIENT_RING_BYTES (256u << 10)
#define VGPU_CLIENT_BULK_BYTES (1u << 20)

/*
 * The calling thread's channel, opening it (JOIN) on first use. NULL when cuInit has not
 * succeeded in this process (*err = CUDA_ERROR_NOT_INITIALIZED) or the proxy is unreachable
 * (*err = CUDA_ERROR_DEVICE_UNAVAILABLE, one log line says why).
 */
struct vgpu_conn *vgpu_conn_get(CUresult *err /* out */);

/*
 * Send one call described by d with arguments argv (argv[i] points at parameter i) on the
 * thread's channel and, unless d is async, wait for and decode its reply.
 */
CUresult vgpu_call_on(struct vgpu_conn *c, const struct vgpu_call_desc *d, void *const *argv);

/* Pageable copies of VGPU_PCOPY_MIN bytes or more through the bulk area, each step split
 * between the caller and helper threads (pcopy.c; VGPU_COPY_THREADS); smaller ones, or
 * while another thread's copy has the helpers, as vgpu_chan_bulk_write/read. */
#define VGPU_PCOPY_MIN (1u << 20)
int vgpu_pcopy_write(struct vgpu_chan *ch, const void *src, uint64_t n);
int vgpu_pcopy_read(struct vgpu_chan *ch, void *dst, uint64_t n);

/*
 * The host side of a 2D/3D copy whose rows are not one dense block in the program's memory
 * (memcpy.c): w bytes of each of h rows of d slices, at (x, y, z) of a box of the given pitch
 * and height at base. vgpu_client_call_rows sends such a copy, its rows gathered into the
 * bulk stream (out = 0) or scattered from it as they arrive (out = 1, data first) by
 * vgpu_rows_piece, instead of through a dense copy of them.
 */
struct vgpu_rows {
	uint8_t *base;
	size_t x, y, z, pitch, height, w, h;
	int out;
	uint8_t *stage;     /* uploads: rows gathered here first, VGPU_ROWS_STAGE bytes (or NULL) */
};
#define VGPU_ROWS_STAGE (64u << 10)
CUresult vgpu_client_call_rows(const struct vgpu_call_desc *d, void *const *argv, const struct vgpu_rows *rows);
/* Address of row (row_y, row_z) of the box at (x, y, z) of a host volume of that pitch and height. */
char *vgpu_host_row(const void *base, size_t x, size_t y, size_t z, size_t pitch, size_t height, size_t row_y,
		    size_t row_z);
int vgpu_rows_piece(void *ctx, void *chunk, uint64_t len, uint64_t off);

/*
 * Copies on pageable host memory into a stream being captured (gcopy.c): captured as a child
 * graph of a copy through pinned staging and a host node run in the zone. Each returns 1 with
 * *res when it captured the copy (or the capture refused it), 0 when the stream is not being
 * captured and the copy takes its usual path. vgpu_gcopy_captured takes the copy as a 3D copy
 * (unified sides resolved); vgpu_gcopy_call the generated HtoD/DtoH async calls.
 * vgpu_client_captures_open: captures begun and not ended in this process (call.c).
 */
int vgpu_gcopy_captured(CUstream st, int ptsz, const CUDA_MEMCPY3D *c, CUresult *res);
int vgpu_gcopy_call(const struct vgpu_call_desc *d, void *const *argv, CUresult *res);
int vgpu_client_captures_open(void);

/*
 * Queries answered in the zone (qcache.c): vgpu_qcache_lookup fills the outputs of a query
 * whose answer is known in the current generation (1, with *res) or returns 0;
 * vgpu_qcache_after records a forwarded call's answer for generation g (taken with
 * vgpu_qcache_gen before the call) or, for a call that may change one, ends the generation.
 * vgpu_qcache_reset forgets everything (a forked child, a zone restored elsewhere).
 */
int vgpu_qcache_lookup(const struct vgpu_call_desc *d, void *const *argv, CUresult *res /* out */);
void vgpu_qcache_after(const struct vgpu_call_desc *d, void *const *argv, CUresult r, uint64_t g);
uint64_t vgpu_qcache_gen(void);
void vgpu_qcache_reset(void);

/* cuInit's connection step: opens the zone on first use. CUDA_ERROR_NO_DEVICE when unreachable. */
CUresult vgpu_zone_open(void);
/* 1 = real driver behind the proxy, 2 = simulator (test double), 0 = not connected. */
uint32_t vgpu_zone_backend(void);
/* 1 in a Xen guest (VGPU_TRANSPORT=xen): the channels are granted pages, not a socket. */
int vgpu_client_xen(void);

/* Log a line to stderr prefixed "vgpu: " when VGPU_LOG allows level (0 err, 1 warn, 2 info, 3 debug). */
void vgpu_client_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * CUDA_VISIBLE_DEVICES (devices.c): vgpu_devices_none is 1 when the list hides every device
 * (cuInit then fails with CUDA_ERROR_NO_DEVICE before the zone is opened); vgpu_devices_list
 * gives the list a new zone's hello carries (NULL when unset): 0, or -E2BIG (said) when it is
 * longer than a hello takes.
 */
int vgpu_devices_none(void);
int vgpu_devices_list(const char **out /* out */);
/* The process's driver settings for a new zone's hello (drvenv.h; VGPU_HELLO_ENV_BYTES):
 * 1 when there are some. vgpu_launch_blocking: 1 when CUDA_LAUNCH_BLOCKING=1, so that every
 * kernel launch waits for its answer, which the zone's driver gives once the kernel ran. */
int vgpu_devices_env(char *env);
/* The zone's devices before its CUDA_VISIBLE_DEVICES (vgpu_drv.devices_all; conn.c). */
int vgpu_zone_devices_all(int *all, int *ord, int cap);
int vgpu_launch_blocking(void);

/* After any call: forget the thread's cached current context if the call may change it, and
 * follow primary contexts going idle and coming back (cudart.c). */
void vgpu_cudart_after_call(const struct vgpu_call_desc *d, void *const *argv, CUresult res);

/*
 * __managed__ variables (mglobal.c): the zone keeps a copy of each at its device address.
 * Before each call, what the host changed goes to the device; after a call that waited for
 * the device, the variables come back. Both are no-ops until a variable exists
 * (vgpu_mglobal_active).
 */
extern int vgpu_mglobal_active;
void vgpu_mglobal_before(const struct vgpu_call_desc *d);
void vgpu_mglobal_after(const struct vgpu_call_desc *d, CUresult res);
/* runtime/drvtab.h's module_get_managed: the variable's address, now the zone's copy's. */
CUresult vgpu_mglobal_get(CUdeviceptr *dptr, size_t *bytes, CUmodule mod, const char *name);

/* After a successful call: keep the kernel-layout registry in step (module.c). */
void vgpu_modules_after_call(const struct vgpu_call_desc *d, void *const *argv);

/*
 * A pinned-memory message (runtime/custom_wire.h) on the thread's channel, passing fd beside
 * the ring first when fd >= 0 (CUDA_ERROR_NOT_SUPPORTED when the transport cannot).
 */
CUresult vgpu_pinned_call(const struct vgpu_call_desc *d, void *const *argv, int fd);

/* [p, p + n) inside one pinned region shared with the worker: 0 with its id and the offset. */
int vgpu_hostmem_pinned(const void *p, size_t n, uint64_t *id /* out */, uint64_t *off /* out */);

/* 0 when p lies in host memory from cuMemHostAlloc/cuMemHostRegister, else -1; then flags
 * (DEVICEMAP added when kernels reach it) and p's device address for kernels (0: none). */
int vgpu_hostmem_lookup(const void *p, unsigned *flags /* out, may be NULL */, uint64_t *dptr /* out, may be NULL */);
/* p is managed memory (cuMemAllocManaged): 1, else 0. */
int vgpu_hostmem_managed(const void *p);
/* cuMemFree of p: 0 when p was managed memory, now freed; -1 when it is not (send the call). */
int vgpu_hostmem_free_managed(CUdeviceptr p);
/* [p, p + n) inside one pinned region the zone's kernels reach (its writes may still be queued). */
int vgpu_hostmem_kernel_reachable(const void *p, size_t n);
/* Rejoining a restored zone: send the memfd of every pinned region shared with the zone on
 * sock (vgpu_rejoin_pinned records, session.h), then the last record. 0 or -errno. */
int vgpu_hostmem_offer(int sock);

/* Device-allocation bookkeeping of this process, to tell device from host pointers. */
void vgpu_dmap_add(CUdeviceptr p, size_t len);
void vgpu_dmap_del(CUdeviceptr p);
int vgpu_dmap_contains(CUdeviceptr p, size_t len);
/* The recorded range holding p: 0 with *base and *len set, or -1. */
int vgpu_dmap_find(CUdeviceptr p, uint64_t *base /* out */, uint64_t *len /* out */);

#endif
