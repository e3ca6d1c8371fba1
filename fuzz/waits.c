/* SPDX-License-Identifier: MIT */
/* waits.c — stream waits on memory (cuStreamWaitValue*) that nothing in a session script could end are refused by the harness's driver, not left to block the run forever. */
/* vgpu_dispatch.h names the driver's _v2 entry points itself: keep cuda.h's renaming macros off. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <stdatomic.h>

#include "fz.h"
#include "vgpu_dispatch.h"

/*
 * A zone may ask a stream to wait until a word of its memory has some value. On a GPU, and
 * in the simulator, the stream then waits as long as it takes: forever, if nothing writes
 * the value. That is the zone stalling its own stream (docs/SECURITY.md, "denial of service
 * by GPU time": not protected), not an isolation failure, but in the harness it is a hang:
 * every message ends with the zone's work synchronised, so a wait that is not satisfied
 * when it reaches the head of its stream can never end (a later message that would write
 * the value is never served), and AFL saves a "hang" after its timeout. Mutating the value
 * or the address of a wait in a seed finds one within seconds.
 *
 * So the harness's driver, between the proxy and the simulator, lets a wait through only
 * when it would end at once: its stream is drained first, then the word is read and the
 * condition evaluated exactly as the simulator will (sim/stream.c, OP_MEMVAL); unmet, the
 * call fails with CUDA_ERROR_NOT_SUPPORTED, which the proxy relays like any driver error.
 * A wait on a stream being captured is refused too (a graph launched later would wait
 * then). Everything the proxy does for these calls (decoding, handle translation, the
 * device-range check) runs as before; only the driver's answer differs. An address that is
 * not the calling zone's memory is passed through unread: the simulator refuses it, or the
 * memory oracle sees the access when the wait runs (before it waits).
 */

struct waits_real {
	CUresult (*w32)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
	CUresult (*w32_ptsz)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
	CUresult (*w64)(CUstream, CUdeviceptr, cuuint64_t, unsigned int);
	CUresult (*w64_ptsz)(CUstream, CUdeviceptr, cuuint64_t, unsigned int);
};
static struct waits_real real;

/* The condition of a wait on the word v (size 4 or 8 bytes), as the simulator tests it. */
static int wait_met(uint64_t v, uint64_t want, unsigned flags, int size)
{
	switch (flags & 3) {
	case CU_STREAM_WAIT_VALUE_GEQ:
		return size == 4 ? (int32_t)((uint32_t)v - (uint32_t)want) >= 0 : (int64_t)(v - want) >= 0;
	case CU_STREAM_WAIT_VALUE_EQ:
		return v == want;
	case CU_STREAM_WAIT_VALUE_AND:
		return (v & want) != 0;
	default:
		return (~(v | want) & (size == 4 ? 0xffffffffull : ~0ull)) != 0;
	}
}

/* 1: the wait may go to the simulator (it ends at once, or is not the harness's to judge); 0: refuse. */
static int wait_may_pass(CUstream s, CUdeviceptr addr, uint64_t want, unsigned flags, int size)
{
	const struct vgpu_backend_fns *f = &fz.be.fn;
	struct vgpu_zone *z;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;

	if (fz_self < 0 || (addr & (uint64_t)(size - 1)) || (flags & ~(3u | CU_STREAM_WAIT_VALUE_FLUSH)))
		return 1;   /* not a zone's call, or one the simulator refuses itself */
	if (f->cuStreamIsCapturing && f->cuStreamIsCapturing(s, &st) == CUDA_SUCCESS &&
	    st != CU_STREAM_CAPTURE_STATUS_NONE)
		return 0;
	z = &fz.z[fz_self].zone;
	pthread_mutex_lock(&z->lock);
	int mine = vgpu_allocmap_check(&z->amap, addr, (uint64_t)size, NULL) == 0 ||
		   vgpu_vmm_covers(&z->vmm, addr, (uint64_t)size) == 0;
	pthread_mutex_unlock(&z->lock);
	if (!mine || !f->cuStreamSynchronize || f->cuStreamSynchronize(s) != CUDA_SUCCESS)
		return 1;   /* the simulator answers (a failed stream refuses the wait at once) */
	const void *p = (const void *)(uintptr_t)addr;
	uint64_t v = size == 4 ? __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST)
			       : __atomic_load_n((const uint64_t *)p, __ATOMIC_SEQ_CST);
	return wait_met(v, want, flags, size);
}

static CUresult w32(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned int fl)
{
	return wait_may_pass(s, a, v, fl, 4) ? real.w32(s, a, v, fl) : CUDA_ERROR_NOT_SUPPORTED;
}

static CUresult w32_ptsz(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned int fl)
{
	return wait_may_pass(s ? s : CU_STREAM_PER_THREAD, a, v, fl, 4) ? real.w32_ptsz(s, a, v, fl)
									 : CUDA_ERROR_NOT_SUPPORTED;
}

static CUresult w64(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned int fl)
{
	return wait_may_pass(s, a, v, fl, 8) ? real.w64(s, a, v, fl) : CUDA_ERROR_NOT_SUPPORTED;
}

static CUresult w64_ptsz(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned int fl)
{
	return wait_may_pass(s ? s : CU_STREAM_PER_THREAD, a, v, fl, 8) ? real.w64_ptsz(s, a, v, fl)
									 : CUDA_ERROR_NOT_SUPPORTED;
}

void fz_waits_install(void)
{
	struct vgpu_driver *d = fz.be.drv;
	if (!d)
		return;
	real.w32 = d->cuStreamWaitValue32_v2;
	real.w32_ptsz = d->cuStreamWaitValue32_v2_ptsz;
	real.w64 = d->cuStreamWaitValue64_v2;
	real.w64_ptsz = d->cuStreamWaitValue64_v2_ptsz;
	/* an entry point the backend lacks stays NULL: the thunk answers CUDA_ERROR_NOT_FOUND */
	if (real.w32)
		d->cuStreamWaitValue32_v2 = w32;
	if (real.w32_ptsz)
		d->cuStreamWaitValue32_v2_ptsz = w32_ptsz;
	if (real.w64)
		d->cuStreamWaitValue64_v2 = w64;
	if (real.w64_ptsz)
		d->cuStreamWaitValue64_v2_ptsz = w64_ptsz;
}
