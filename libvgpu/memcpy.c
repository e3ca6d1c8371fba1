/* SPDX-License-Identifier: MIT */
/* memcpy.c — copies whose C arguments cannot cross the wire as is: 2D/3D copies and unified-address cuMemcpy. */
#include "client.h"

#include <stdlib.h>
#include <string.h>

#include "custom_wire.h"
#include "trace.h"
#include "vgpu_calls.h"
#include "vgpu_ops.h"

#define COPY_DESC(fn) \
	static const struct vgpu_call_desc desc_##fn = \
		VGPU_WIRE_DESC(#fn, VGPU_OP_##fn, VGPU_CALLF_CUSTOM, vgpu_wire_copy_args, VGPU_CW_NARGS)
COPY_DESC(cuMemcpy2D_v2);
COPY_DESC(cuMemcpy2D_v2_ptds);
COPY_DESC(cuMemcpy2DUnaligned_v2);
COPY_DESC(cuMemcpy2DUnaligned_v2_ptds);
COPY_DESC(cuMemcpy2DAsync_v2);
COPY_DESC(cuMemcpy2DAsync_v2_ptsz);
COPY_DESC(cuMemcpy3D_v2);
COPY_DESC(cuMemcpy3D_v2_ptds);
COPY_DESC(cuMemcpy3DAsync_v2);
COPY_DESC(cuMemcpy3DAsync_v2_ptsz);
COPY_DESC(cuMemcpy3DPeer);
COPY_DESC(cuMemcpy3DPeer_ptds);
COPY_DESC(cuMemcpy3DPeerAsync);
COPY_DESC(cuMemcpy3DPeerAsync_ptsz);

/* Unified addressing: a pointer is device memory when it lies in one of the zone's allocations. */
static void resolve_unified(CUmemorytype *type, const void **host, CUdeviceptr *dev)
{
	if (*type != CU_MEMORYTYPE_UNIFIED)
		return;
	if (vgpu_dmap_contains(*dev, 1)) {
		*type = CU_MEMORYTYPE_DEVICE;
	} else {
		*type = CU_MEMORYTYPE_HOST;
		*host = (const void *)(uintptr_t)*dev;
	}
}

/*
 * A host side of a 2D/3D copy wholly inside pinned memory that the zone's kernels reach
 * (cuMemAllocHost, cuMemHostAlloc, registered whole pages: shared with the worker) is named
 * by its device address instead, as the driver names mapped host memory: the worker copies
 * on its own mapping, no byte crosses the ring, and an asynchronous copy stays asynchronous
 * (a program's 2D copy into a pinned frame on a stream returns at once, as with the driver).
 */
static void pinned_side(CUmemorytype *type, const void **host, CUdeviceptr *dev, size_t *x, size_t *y, size_t *z,
			size_t pitch, size_t height, size_t w, size_t h, size_t d)
{
	uint64_t start, span, dptr = 0;

	if (*type != CU_MEMORYTYPE_HOST || !*host || w == 0 || h == 0 || d == 0 ||
	    ((h > 1 || d > 1) && pitch < w) || (d > 1 && height < h))
		return;
	/* the box's first byte and its extent, overflow-checked */
	if (__builtin_mul_overflow((uint64_t)*z, (uint64_t)height, &start) || __builtin_add_overflow(start, *y, &start) ||
	    __builtin_mul_overflow(start, (uint64_t)pitch, &start) || __builtin_add_overflow(start, *x, &start) ||
	    __builtin_mul_overflow((uint64_t)(d - 1), (uint64_t)height, &span) || __builtin_add_overflow(span, h - 1, &span) ||
	    __builtin_mul_overflow(span, (uint64_t)pitch, &span) || __builtin_add_overflow(span, w, &span))
		return;
	const char *first = (const char *)*host + start;
	if (!vgpu_hostmem_kernel_reachable(first, span) || vgpu_hostmem_lookup(first, NULL, &dptr) < 0 || !dptr)
		return;
	*type = CU_MEMORYTYPE_DEVICE;
	*dev = (CUdeviceptr)dptr;
	*host = NULL;
	*x = *y = *z = 0;
}

char *vgpu_host_row(const void *base, size_t x, size_t y, size_t z, size_t pitch, size_t height, size_t row_y,
		    size_t row_z)
{
	return (char *)(uintptr_t)base + ((z + row_z) * height + (y + row_y)) * pitch + x;
}

/* One host side's rows (struct vgpu_rows), to gather (out = 0) or scatter. */
static struct vgpu_rows rows_of(const void *base, size_t x, size_t y, size_t z, size_t pitch, size_t height, size_t w,
				size_t h, int out)
{
	return (struct vgpu_rows){ .base = (uint8_t *)(uintptr_t)base, .x = x, .y = y, .z = z, .pitch = pitch,
				   .height = height, .w = w, .h = h, .out = out };
}

/*
 * The one implementation of every 2D/3D copy. The host side (at most one: host-to-host is
 * done here) travels packed row after row, so the proxy sees a dense rectangle and never a
 * zone pointer; device sides are checked by the proxy against the zone's allocations, and an
 * array side carries the zone's handle of the array, which the proxy translates.
 */
static CUresult copy3d(const struct vgpu_call_desc *d, CUDA_MEMCPY3D c, CUstream stream, int async, int ptsz)
{
	const void *src_host = c.srcHost;
	void *dst_host = c.dstHost;
	size_t w = c.WidthInBytes, h = c.Height, dp = c.Depth ? c.Depth : 1;
	uint64_t total, in_bytes = 0, out_bytes = 0;
	const void *host_in = NULL;
	void *host_out = NULL, *tmp = NULL;
	unsigned flags = async ? VGPU_COPY_F_ASYNC : 0;
	CUresult r;

	resolve_unified(&c.srcMemoryType, &src_host, &c.srcDevice);
	resolve_unified(&c.dstMemoryType, (const void **)&dst_host, &c.dstDevice);
	if (__builtin_mul_overflow(w, h, &total) || __builtin_mul_overflow(total, dp, &total))
		return CUDA_ERROR_INVALID_VALUE;
	if (ptsz && !stream)
		stream = CU_STREAM_PER_THREAD;
	c.Depth = dp;
	if (!(c.srcMemoryType == CU_MEMORYTYPE_HOST && c.dstMemoryType == CU_MEMORYTYPE_HOST)) {
		pinned_side(&c.srcMemoryType, &src_host, &c.srcDevice, &c.srcXInBytes, &c.srcY, &c.srcZ, c.srcPitch,
			    c.srcHeight, w, h, dp);
		pinned_side(&c.dstMemoryType, (const void **)&dst_host, &c.dstDevice, &c.dstXInBytes, &c.dstY, &c.dstZ,
			    c.dstPitch, c.dstHeight, w, h, dp);
	}

	/* pageable host memory into a graph: through staging (gcopy.c; a peer copy's contexts
	 * would not follow it there) */
	if (async && (c.srcMemoryType == CU_MEMORYTYPE_HOST || c.dstMemoryType == CU_MEMORYTYPE_HOST) &&
	    d != &desc_cuMemcpy3DPeerAsync && d != &desc_cuMemcpy3DPeerAsync_ptsz && vgpu_gcopy_captured(stream, ptsz, &c, &r))
		return r;
	if (c.srcMemoryType == CU_MEMORYTYPE_HOST && c.dstMemoryType == CU_MEMORYTYPE_HOST) {
		CUresult err;
		if (!vgpu_conn_get(&err))
			return err;
		for (size_t z = 0; z < dp; z++)
			for (size_t y = 0; y < h; y++)
				memmove(vgpu_host_row(dst_host, c.dstXInBytes, c.dstY, c.dstZ, c.dstPitch, c.dstHeight, y, z),
					vgpu_host_row(src_host, c.srcXInBytes, c.srcY, c.srcZ, c.srcPitch, c.srcHeight, y, z), w);
		return CUDA_SUCCESS;
	}
	/* Rows that are not one dense block: gathered into the bulk stream or scattered from it
	 * (vgpu_rows_piece) where they travel there, else through a dense copy of them. */
	struct vgpu_rows rows = { .base = NULL };
	int spread = total > VGPU_INLINE_MAX && !vgpu_trace_enabled;
	if (c.srcMemoryType == CU_MEMORYTYPE_HOST) {
		if (!src_host)
			return CUDA_ERROR_INVALID_VALUE;
		const char *first = vgpu_host_row(src_host, c.srcXInBytes, c.srcY, c.srcZ, c.srcPitch, c.srcHeight, 0, 0);
		if ((c.srcPitch == w || h * dp == 1) && (dp == 1 || c.srcHeight == h)) {
			host_in = first; /* already dense: send in place */
		} else if (spread) {
			host_in = first;
			rows = rows_of(src_host, c.srcXInBytes, c.srcY, c.srcZ, c.srcPitch, c.srcHeight, w, h, 0);
		} else {
			char *p = tmp = malloc(total ? total : 1);
			if (!p)
				return CUDA_ERROR_OUT_OF_MEMORY;
			for (size_t z = 0; z < dp; z++)
				for (size_t y = 0; y < h; y++, p += w)
					memcpy(p, vgpu_host_row(src_host, c.srcXInBytes, c.srcY, c.srcZ, c.srcPitch, c.srcHeight, y, z), w);
			host_in = tmp;
		}
		in_bytes = total;
		c.srcHost = NULL;
		c.srcXInBytes = c.srcY = c.srcZ = 0;
		c.srcPitch = w;
		c.srcHeight = h;
	}
	/* Where the rows go on the zone's side once they come back (before c is rewritten). */
	const size_t dx = c.dstXInBytes, dy = c.dstY, dz = c.dstZ, dpitch = c.dstPitch, dheight = c.dstHeight;
	int out_in_place = 0;
	if (c.dstMemoryType == CU_MEMORYTYPE_HOST) {
		if (!dst_host) {
			free(tmp);
			return CUDA_ERROR_INVALID_VALUE;
		}
		char *first = vgpu_host_row(dst_host, c.dstXInBytes, c.dstY, c.dstZ, c.dstPitch, c.dstHeight, 0, 0);
		void *o;
		if ((c.dstPitch == w || h * dp == 1) && (dp == 1 || c.dstHeight == h)) {
			o = first;   /* dense: the rows come back in place */
			out_in_place = 1;
		} else if (spread) {
			o = first;   /* each row to its place as it comes */
			out_in_place = 1;
			rows = rows_of(dst_host, c.dstXInBytes, c.dstY, c.dstZ, c.dstPitch, c.dstHeight, w, h, 1);
		} else if (!(o = malloc(total ? total : 1))) {
			free(tmp);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		host_out = o;
		out_bytes = total;
		c.dstHost = NULL;
		c.dstXInBytes = c.dstY = c.dstZ = 0;
		c.dstPitch = w;
		c.dstHeight = h;
	}

	const CUDA_MEMCPY3D *cp = &c;
	void *argv[VGPU_CW_NARGS] = {
		[VGPU_CW_COPY] = &cp, [VGPU_CW_HOST_IN] = &host_in, [VGPU_CW_HOST_IN_BYTES] = &in_bytes,
		[VGPU_CW_HOST_OUT] = &host_out, [VGPU_CW_HOST_OUT_BYTES] = &out_bytes,
		[VGPU_CW_STREAM] = &stream, [VGPU_CW_FLAGS] = &flags,
	};
	if (rows.base && !rows.out)
		rows.stage = malloc(VGPU_ROWS_STAGE);   /* (without it, the rows go straight into the chunks) */
	r = rows.base ? vgpu_client_call_rows(d, argv, &rows) : vgpu_client_call(d, argv);
	free(rows.stage);
	if (r == CUDA_SUCCESS && host_out && !out_in_place) {
		const char *p = host_out;
		for (size_t z = 0; z < dp; z++)
			for (size_t y = 0; y < h; y++, p += w)
				memcpy(vgpu_host_row(dst_host, dx, dy, dz, dpitch, dheight, y, z), p, w);
	}
	if (!out_in_place)
		free(host_out);
	free(tmp);
	return r;
}

/* Bytes [off, off + len) of a copy's host rows (struct vgpu_rows) from or into p: row by row,
 * a piece of a row where the range starts or ends inside one. */
static void rows_copy(const struct vgpu_rows *r, uint8_t *p, uint64_t off, uint64_t len)
{
	for (uint64_t end = off + len; off < end;) {
		uint64_t row = off / r->w, x = off % r->w, n = r->w - x < end - off ? r->w - x : end - off;
		uint8_t *h = (uint8_t *)vgpu_host_row(r->base, r->x, r->y, r->z, r->pitch, r->height, row % r->h, row / r->h) + x;
		if (r->out)
			memcpy(h, p, n);
		else
			memcpy(p, h, n);
		p += n;
		off += n;
	}
}

/*
 * A chunk of the bulk stream: bytes [off, off + len) of the rows. Uploads gather the rows
 * into the stage (in this CPU's caches) and copy it into the chunk in one piece: written a
 * row at a time, the bulk area's lines, last read by the other side, cost more (4 MiB of
 * 4 KiB rows: 18 against 21 GB/s on the simulator).
 */
int vgpu_rows_piece(void *ctx, void *chunk, uint64_t len, uint64_t off)
{
	const struct vgpu_rows *r = ctx;
	uint8_t *p = chunk;

	if (r->out || !r->stage) {
		rows_copy(r, p, off, len);
		return 0;
	}
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < VGPU_ROWS_STAGE ? len - done : VGPU_ROWS_STAGE;
		rows_copy(r, r->stage, off + done, n);
		memcpy(p + done, r->stage, n);
		done += n;
	}
	return 0;
}

/* A 2D copy is a 3D copy of depth 1. */
static CUresult copy2d(const struct vgpu_call_desc *d, const CUDA_MEMCPY2D *p, CUstream stream, int async, int ptsz)
{
	CUDA_MEMCPY3D c;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	memset(&c, 0, sizeof(c));
	c.srcXInBytes = p->srcXInBytes;
	c.srcY = p->srcY;
	c.srcMemoryType = p->srcMemoryType;
	c.srcHost = p->srcHost;
	c.srcDevice = p->srcDevice;
	c.srcArray = p->srcArray;
	c.srcPitch = p->srcPitch;
	c.srcHeight = p->Height;
	c.dstXInBytes = p->dstXInBytes;
	c.dstY = p->dstY;
	c.dstMemoryType = p->dstMemoryType;
	c.dstHost = p->dstHost;
	c.dstDevice = p->dstDevice;
	c.dstArray = p->dstArray;
	c.dstPitch = p->dstPitch;
	c.dstHeight = p->Height;
	c.WidthInBytes = p->WidthInBytes;
	c.Height = p->Height;
	c.Depth = 1;
	return copy3d(d, c, stream, async, ptsz);
}

static CUresult copy3d_p(const struct vgpu_call_desc *d, const CUDA_MEMCPY3D *p, CUstream stream, int async, int ptsz)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	return copy3d(d, *p, stream, async, ptsz);
}

CUresult CUDAAPI cuMemcpy2D_v2(const CUDA_MEMCPY2D *p) { return copy2d(&desc_cuMemcpy2D_v2, p, NULL, 0, 0); }
CUresult CUDAAPI cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *p) { return copy2d(&desc_cuMemcpy2D_v2_ptds, p, NULL, 0, 1); }
CUresult CUDAAPI cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *p) { return copy2d(&desc_cuMemcpy2DUnaligned_v2, p, NULL, 0, 0); }
CUresult CUDAAPI cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *p) { return copy2d(&desc_cuMemcpy2DUnaligned_v2_ptds, p, NULL, 0, 1); }
CUresult CUDAAPI cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *p, CUstream s) { return copy2d(&desc_cuMemcpy2DAsync_v2, p, s, 1, 0); }
CUresult CUDAAPI cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *p, CUstream s) { return copy2d(&desc_cuMemcpy2DAsync_v2_ptsz, p, s, 1, 1); }
CUresult CUDAAPI cuMemcpy3D_v2(const CUDA_MEMCPY3D *p) { return copy3d_p(&desc_cuMemcpy3D_v2, p, NULL, 0, 0); }
CUresult CUDAAPI cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D *p) { return copy3d_p(&desc_cuMemcpy3D_v2_ptds, p, NULL, 0, 1); }
CUresult CUDAAPI cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *p, CUstream s) { return copy3d_p(&desc_cuMemcpy3DAsync_v2, p, s, 1, 0); }
CUresult CUDAAPI cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D *p, CUstream s) { return copy3d_p(&desc_cuMemcpy3DAsync_v2_ptsz, p, s, 1, 1); }

/*
 * cuMemcpy3DPeer: the same copy between memory of two contexts (devices), which it names.
 * It travels as a 3D copy carrying the zone's context handles where CUDA_MEMCPY3D has its
 * reserved pointers (custom_wire.h), which the proxy translates; host sides go as any 3D
 * copy's.
 */
static CUresult copy3d_peer(const struct vgpu_call_desc *d, const CUDA_MEMCPY3D_PEER *p, CUstream stream, int async,
			    int ptsz)
{
	CUDA_MEMCPY3D c;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&c, p, sizeof(c));
	return copy3d(d, c, stream, async, ptsz);
}

CUresult CUDAAPI cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER *p) { return copy3d_peer(&desc_cuMemcpy3DPeer, p, NULL, 0, 0); }
CUresult CUDAAPI cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER *p) { return copy3d_peer(&desc_cuMemcpy3DPeer_ptds, p, NULL, 0, 1); }
CUresult CUDAAPI cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER *p, CUstream s) { return copy3d_peer(&desc_cuMemcpy3DPeerAsync, p, s, 1, 0); }
CUresult CUDAAPI cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER *p, CUstream s) { return copy3d_peer(&desc_cuMemcpy3DPeerAsync_ptsz, p, s, 1, 1); }

/*
 * cuMemcpy / cuMemcpyAsync take unified addresses: either side may be zone host memory, which
 * the proxy must never be asked to touch. Both pointers are classified with the zone's record
 * of its allocations and the matching directed copy is sent; host-to-host stays in the zone.
 */
static CUresult memcpy_unified(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s, int async, int ptsz)
{
	int ddev = vgpu_dmap_contains(dst, n ? n : 1), sdev = vgpu_dmap_contains(src, n ? n : 1);
	const struct vgpu_call_desc *d;
	CUresult err;

	if (!ddev && !sdev) {
		if (!vgpu_conn_get(&err))
			return err;
		if (async && n) {   /* into a graph: when it runs (gcopy.c) */
			CUDA_MEMCPY3D c = { .srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = (const void *)(uintptr_t)src,
					    .srcPitch = n, .srcHeight = 1, .dstMemoryType = CU_MEMORYTYPE_HOST,
					    .dstHost = (void *)(uintptr_t)dst, .dstPitch = n, .dstHeight = 1,
					    .WidthInBytes = n, .Height = 1, .Depth = 1 };
			if (vgpu_gcopy_captured(s, ptsz, &c, &err))
				return err;
		}
		/* memory kernels write (managed, mapped pinned): after the work queued before the copy */
		if ((vgpu_hostmem_kernel_reachable((const void *)(uintptr_t)dst, n) ||
		     vgpu_hostmem_kernel_reachable((const void *)(uintptr_t)src, n)) &&
		    (err = cuStreamSynchronize(async ? s : ptsz ? CU_STREAM_PER_THREAD : CU_STREAM_LEGACY)) != CUDA_SUCCESS)
			return err;
		memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
		return CUDA_SUCCESS;
	}
	if (ddev && sdev) {
		void *a[4] = { &dst, &src, &n, &s };
		d = async ? (ptsz ? &vgpu_call_cuMemcpyDtoDAsync_v2_ptsz : &vgpu_call_cuMemcpyDtoDAsync_v2)
			  : (ptsz ? &vgpu_call_cuMemcpyDtoD_v2_ptds : &vgpu_call_cuMemcpyDtoD_v2);
		return vgpu_client_call(d, a);
	}
	if (ddev) {
		const void *h = (const void *)(uintptr_t)src;
		void *a[4] = { &dst, &h, &n, &s };
		d = async ? (ptsz ? &vgpu_call_cuMemcpyHtoDAsync_v2_ptsz : &vgpu_call_cuMemcpyHtoDAsync_v2)
			  : (ptsz ? &vgpu_call_cuMemcpyHtoD_v2_ptds : &vgpu_call_cuMemcpyHtoD_v2);
		return vgpu_client_call(d, a);
	}
	void *h = (void *)(uintptr_t)dst;
	void *a[4] = { &h, &src, &n, &s };
	d = async ? (ptsz ? &vgpu_call_cuMemcpyDtoHAsync_v2_ptsz : &vgpu_call_cuMemcpyDtoHAsync_v2)
		  : (ptsz ? &vgpu_call_cuMemcpyDtoH_v2_ptds : &vgpu_call_cuMemcpyDtoH_v2);
	return vgpu_client_call(d, a);
}

CUresult CUDAAPI cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n) { return memcpy_unified(dst, src, n, NULL, 0, 0); }
CUresult CUDAAPI cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n) { return memcpy_unified(dst, src, n, NULL, 0, 1); }
CUresult CUDAAPI cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) { return memcpy_unified(dst, src, n, s, 1, 0); }
CUresult CUDAAPI cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) { return memcpy_unified(dst, src, n, s, 1, 1); }
