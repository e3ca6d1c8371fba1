/* SPDX-License-Identifier: MIT */
/* Driver API entry points for memory: device and pinned host allocations, pointer
 * attributes, copies (1D, 2D, 3D, sync and async) and memsets. Every device range is
 * checked against the live allocation table before any byte moves. */
#include "sim.h"
#include "advice.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CUR_CTX(c) \
	CUresult rc_; \
	struct sim_ctx *c = sim_ctx_current(&rc_); \
	if (!c) \
		return rc_; \
	if (c->sticky) \
		return c->sticky

/* Classifies [p, p+len): 1 live device/pinned memory (is_dev set for device kind),
 * 0 ordinary host memory, -1 invalid (NULL, freed or out-of-range device pointer). */
static int ptr_check(uint64_t p, uint64_t len, int *is_dev)
{
	struct sim_alloc a;
	*is_dev = 0;
	if (!p)
		return -1;
	if (p + len < p)
		return -1;
	if (sim_mem_find(p, len ? len : 1, &a) == 0) {
		if (a.kind == ALLOC_ARRAY)
			return -1;      /* an array's storage is reached only through its CUarray */
		*is_dev = a.kind == ALLOC_DEVICE || a.kind == ALLOC_VMM || a.kind == ALLOC_IPC;
		return 1;
	}
	if (sim_mem_in_arena(p) || sim_mem_find(p, 1, NULL) == 0)
		return -1;      /* device pointer not live, or a pinned range overrun */
	return 0;
}

/* Device memory of c with flags (SIM_ALLOC_F_EXPORTABLE: cuMemAlloc's, which
 * cuIpcGetMemHandle may export; stream-ordered memory may not be). */
static CUresult mem_alloc(struct sim_ctx *c, CUdeviceptr *dptr, size_t size, unsigned flags)
{
	if (!dptr || size == 0)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t p;
	int rc = sim_mem_alloc(c, c->dev, size, &p);
	if (rc)
		return rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_VALUE;
	if (flags)
		(void)sim_mem_set_flags(p, flags);
	*dptr = (CUdeviceptr)p;
	return CUDA_SUCCESS;
}

CUresult cuMemAlloc(CUdeviceptr *dptr, size_t size)
{
	CUR_CTX(c);
	return mem_alloc(c, dptr, size, SIM_ALLOC_F_EXPORTABLE);
}

CUresult cuMemAllocPitch(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                         unsigned int esize)
{
	CUR_CTX(c);
	if (!dptr || !pitch || !width || !height || (esize != 4 && esize != 8 && esize != 16))
		return CUDA_ERROR_INVALID_VALUE;
	size_t pp = (width + 511) & ~(size_t)511;
	if (pp < width || height > SIZE_MAX / pp)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = mem_alloc(c, dptr, pp * height, SIM_ALLOC_F_EXPORTABLE);
	if (rc == CUDA_SUCCESS)
		*pitch = pp;
	return rc;
}

/* As the driver, the pointer names its allocation and its context: any context, or none, may
 * be current (FFmpeg's filters free theirs at the end with none). */
CUresult cuMemFree(CUdeviceptr dptr)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!dptr)
		return CUDA_SUCCESS;
	struct sim_alloc a;
	if (sim_mem_find(dptr, 1, &a) < 0 || a.base != dptr || (a.kind != ALLOC_DEVICE && a.kind != ALLOC_MANAGED))
		return CUDA_ERROR_INVALID_VALUE;
	if (sim_graph_mem_user_free(dptr, 1, &rc))
		return rc;        /* a graph's allocation goes back to its graph */
	/* like the real driver, freeing synchronises: no queued work may still use it */
	if (sim_ctx_valid(a.ctx))
		sim_ctx_sync(a.ctx);
	if (a.kind == ALLOC_MANAGED) {
		if (sim_mem_free(dptr, ALLOC_MANAGED))
			return CUDA_ERROR_INVALID_VALUE;
		free((void *)(uintptr_t)dptr);
		vgpu_advice_untrack(dptr);
		return CUDA_SUCCESS;
	}
	return sim_mem_free(dptr, ALLOC_DEVICE) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

/* Zeroed, page-aligned host memory recorded as kind (pinned or managed memory). */
static CUresult host_alloc(struct sim_ctx *c, void **pp, size_t size, int kind, unsigned flags)
{
	void *p;
	if (size > (size_t)1 << 40 || posix_memalign(&p, 4096, size))
		return CUDA_ERROR_OUT_OF_MEMORY;
	memset(p, 0, size);
	if (sim_mem_add_host(c, p, size, kind, flags)) {
		free(p);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*pp = p;
	return CUDA_SUCCESS;
}

/*
 * Managed memory: one allocation of host memory that the program and its kernels use under
 * the same pointer (the simulated device is the host). Prefetching and advice therefore have
 * nothing to move; they check their range and succeed.
 */
CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t size, unsigned int flags)
{
	CUR_CTX(c);
	if (!dptr || !size || (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST))
		return CUDA_ERROR_INVALID_VALUE;
	void *p;
	CUresult r = host_alloc(c, &p, size, ALLOC_MANAGED, flags);
	if (r == CUDA_SUCCESS && vgpu_advice_track((uint64_t)(uintptr_t)p, size) < 0) {
		sim_mem_free((CUdeviceptr)(uintptr_t)p, ALLOC_MANAGED);
		free(p);
		r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS)
		*dptr = (CUdeviceptr)(uintptr_t)p;
	return r;
}

static CUresult managed_range(CUdeviceptr p, size_t n)
{
	struct sim_alloc a;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!n || sim_mem_find(p, n, &a) < 0 || a.kind != ALLOC_MANAGED)
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

CUresult cuMemPrefetchAsync_v2(CUdeviceptr p, size_t n, CUmemLocation loc, unsigned int flags, CUstream s)
{
	(void)s;
	if (flags || !vgpu_advice_location_ok(loc))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = managed_range(p, n);
	if (r == CUDA_SUCCESS)
		(void)vgpu_advice_prefetch(p, n, loc);   /* answered by cuMemRangeGetAttribute */
	return r;
}

CUresult cuMemAdvise_v2(CUdeviceptr p, size_t n, CUmem_advise advice, CUmemLocation loc)
{
	if ((unsigned)advice < CU_MEM_ADVISE_SET_READ_MOSTLY || (unsigned)advice > CU_MEM_ADVISE_UNSET_ACCESSED_BY)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = managed_range(p, n);
	if (r == CUDA_SUCCESS)
		(void)vgpu_advice_advise(p, n, advice, loc);
	return r;
}

CUresult cuMemGetInfo(size_t *free_b, size_t *total)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (!free_b || !total)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t t = sim_mem_total(), u = sim_mem_used(c->dev);
	*total = t;
	*free_b = u < t ? t - u : 0;
	return CUDA_SUCCESS;
}

CUresult cuMemGetAddressRange(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	struct sim_alloc a;
	uint64_t mb, ms;
	if (sim_mem_find(dptr, 1, &a) < 0 || (a.kind != ALLOC_DEVICE && a.kind != ALLOC_VMM && a.kind != ALLOC_IPC))
		return CUDA_ERROR_NOT_FOUND;
	/* memory of the virtual memory calls: the mapping holding it, as the driver answers */
	if (a.kind == ALLOC_VMM && sim_vmm_mapping(dptr, &mb, &ms)) {
		a.base = mb;
		a.size = ms;
	}
	if (pbase)
		*pbase = a.base;
	if (psize)
		*psize = a.size;
	return CUDA_SUCCESS;
}

CUresult cuMemHostAlloc(void **pp, size_t size, unsigned int flags)
{
	CUR_CTX(c);
	if (!pp || !size || (flags & ~(unsigned)(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP |
	                                      CU_MEMHOSTALLOC_WRITECOMBINED)))
		return CUDA_ERROR_INVALID_VALUE;
	return host_alloc(c, pp, size, ALLOC_HOST, flags);
}

CUresult cuMemAllocHost(void **pp, size_t size)
{
	return cuMemHostAlloc(pp, size, 0);
}

/* Also with any context or none current; NULL frees nothing, as free(NULL). */
CUresult cuMemFreeHost(void *p)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!p)
		return CUDA_SUCCESS;
	struct sim_alloc a;
	if (sim_mem_find((uint64_t)(uintptr_t)p, 1, &a) < 0 || a.base != (uint64_t)(uintptr_t)p ||
	    a.kind != ALLOC_HOST)
		return CUDA_ERROR_INVALID_VALUE;
	if (sim_ctx_valid(a.ctx))
		sim_ctx_sync(a.ctx);
	if (sim_mem_free(a.base, ALLOC_HOST))
		return CUDA_ERROR_INVALID_VALUE;
	free(p);
	return CUDA_SUCCESS;
}

CUresult cuMemHostRegister(void *p, size_t size, unsigned int flags)
{
	CUR_CTX(c);
	if (!p || !size)
		return CUDA_ERROR_INVALID_VALUE;
	if (flags & ~(unsigned)(CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP |
	                        CU_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY))
		return CUDA_ERROR_INVALID_VALUE;
	if (sim_mem_in_arena((uint64_t)(uintptr_t)p))
		return CUDA_ERROR_INVALID_VALUE;
	int rc = sim_mem_add_host(c, p, size, ALLOC_REGISTERED, flags);
	if (rc == -EEXIST)
		return CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	return rc ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

CUresult cuMemHostUnregister(void *p)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	struct sim_alloc a;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;   /* as the driver: not "not registered" */
	if (sim_mem_find((uint64_t)(uintptr_t)p, 1, &a) < 0 || a.kind != ALLOC_REGISTERED ||
	    a.base != (uint64_t)(uintptr_t)p)
		return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
	if (sim_ctx_valid(a.ctx))
		sim_ctx_sync(a.ctx);
	return sim_mem_free(a.base, ALLOC_REGISTERED) ? CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED
	                                               : CUDA_SUCCESS;
}

CUresult cuMemHostGetDevicePointer(CUdeviceptr *pdptr, void *p, unsigned int flags)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	struct sim_alloc a;
	if (!pdptr || flags || !p || sim_mem_find((uint64_t)(uintptr_t)p, 1, &a) < 0 ||
	    a.kind == ALLOC_DEVICE || a.kind == ALLOC_ARRAY || a.kind == ALLOC_IPC)
		return CUDA_ERROR_INVALID_VALUE;
	*pdptr = (CUdeviceptr)(uintptr_t)p;      /* unified addressing: same value */
	return CUDA_SUCCESS;
}

CUresult cuMemHostGetFlags(unsigned int *pflags, void *p)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	struct sim_alloc a;
	if (!pflags || !p || sim_mem_find((uint64_t)(uintptr_t)p, 1, &a) < 0 || a.kind == ALLOC_DEVICE ||
	    a.kind == ALLOC_ARRAY || a.kind == ALLOC_IPC)
		return CUDA_ERROR_INVALID_VALUE;
	*pflags = a.flags | CU_MEMHOSTALLOC_DEVICEMAP;
	return CUDA_SUCCESS;
}

static CUresult ptr_attr(void *data, CUpointer_attribute attr, CUdeviceptr ptr, int strict)
{
	struct sim_alloc a;
	/* an array's storage is no pointer of the program's: answered as unknown memory */
	int found = sim_mem_find(ptr, 1, &a) == 0 && a.kind != ALLOC_ARRAY;
	if (!found && strict)
		return CUDA_ERROR_INVALID_VALUE;
	switch (attr) {
	case CU_POINTER_ATTRIBUTE_CONTEXT:
		*(CUcontext *)data = found ? (CUcontext)a.ctx : NULL;
		break;
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
		*(unsigned *)data = !found ? 0 : a.kind == ALLOC_DEVICE || a.kind == ALLOC_VMM || a.kind == ALLOC_MANAGED ||
		                                         a.kind == ALLOC_IPC ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
		break;
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
		if (!found)
			return CUDA_ERROR_INVALID_VALUE;
		*(CUdeviceptr *)data = ptr;
		break;
	case CU_POINTER_ATTRIBUTE_HOST_POINTER:
		if (!found || a.kind == ALLOC_DEVICE || a.kind == ALLOC_VMM || a.kind == ALLOC_IPC)
			return CUDA_ERROR_INVALID_VALUE;
		*(void **)data = (void *)(uintptr_t)ptr;
		break;
	case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
	case CU_POINTER_ATTRIBUTE_MAPPED:
		*(int *)data = found;
		break;
	case CU_POINTER_ATTRIBUTE_BUFFER_ID:
		*(unsigned long long *)data = found ? a.id : 0;
		break;
	case CU_POINTER_ATTRIBUTE_IS_MANAGED:
		*(int *)data = found && (a.kind == ALLOC_MANAGED ||
					 (a.kind == ALLOC_DEVICE && (a.flags & SIM_ALLOC_F_MANAGED_VAR)));
		break;
	case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:   /* what cuIpcGetMemHandle exports */
		*(int *)data = found && a.kind == ALLOC_DEVICE && (a.flags & SIM_ALLOC_F_EXPORTABLE);
		break;
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
		*(int *)data = found ? a.dev : -2;
		break;
	case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
		*(CUdeviceptr *)data = found ? a.base : 0;
		break;
	case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
		*(size_t *)data = found ? a.size : 0;
		break;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!data)
		return CUDA_ERROR_INVALID_VALUE;
	return ptr_attr(data, attribute, ptr, 1);
}

CUresult cuPointerGetAttributes(unsigned int n, CUpointer_attribute *attrs, void **data, CUdeviceptr ptr)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!attrs || !data)
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned i = 0; i < n; i++) {
		if (!data[i])
			return CUDA_ERROR_INVALID_VALUE;
		CUresult rc = ptr_attr(data[i], attrs[i], ptr, 0);
		if (rc && attrs[i] != CU_POINTER_ATTRIBUTE_DEVICE_POINTER &&
		    attrs[i] != CU_POINTER_ATTRIBUTE_HOST_POINTER)
			return rc;
	}
	return CUDA_SUCCESS;
}

/* ---- copies ---- */

/* own: an asynchronous op that reads the caller's memory runs now or gets a copy of it
 * (sim_stream_run_or_queue); NULL for any other. */
static CUresult submit(struct sim_ctx *c, CUstream h, struct sim_op *op, int sync, int (*own)(struct sim_op *op))
{
	CUresult rc = CUDA_SUCCESS;
	struct sim_stream *s = sim_stream_get(c, h, &rc);
	if (!s) {
		free(op);
		return rc;
	}
	if (sync) {
		sim_stream_run_sync(s, op);
		return c->sticky;
	}
	if (own) {
		sim_stream_run_or_queue(s, op, own);
		return CUDA_SUCCESS;
	}
	if (op->kind == OP_COPY && (unsigned __int128)op->u.c.width * op->u.c.height * op->u.c.depth <= SIM_INLINE_COPY_MAX)
		sim_stream_enqueue_or_run(s, op);
	else
		sim_stream_enqueue(s, op);
	return CUDA_SUCCESS;
}

/* Checks a copy's shape and sides and notes which sides are device memory and allocations;
 * *ss the source's span. *_mode: 1 must be live device/pinned, 0 must be host, 2 either
 * (unified), 3 an array's storage, already checked against the array (array_side). 1 when
 * there is nothing to copy, 0 checked, or a CUresult error (negated). */
static int copy_check(struct sim_copy3d *cp, int smode, int dmode, unsigned __int128 *ss_out, int *sk_out,
		      int *dk_out)
{
	if (cp->width == 0 || cp->height == 0 || cp->depth == 0)
		return 1;
	if ((cp->height > 1 || cp->depth > 1) && (cp->spitch < cp->width || cp->dpitch < cp->width))
		return -CUDA_ERROR_INVALID_VALUE;
	if ((cp->depth > 1) && (cp->sheight < cp->height || cp->dheight < cp->height))
		return -CUDA_ERROR_INVALID_VALUE;
	/* span of each side: ((D-1)*H' + (H-1))*pitch + W, with overflow checks */
	unsigned __int128 ss = ((unsigned __int128)(cp->depth - 1) * cp->sheight + (cp->height - 1)) *
	                       cp->spitch + cp->width;
	unsigned __int128 ds = ((unsigned __int128)(cp->depth - 1) * cp->dheight + (cp->height - 1)) *
	                       cp->dpitch + cp->width;
	if (ss > (1ull << 48) || ds > (1ull << 48))
		return -CUDA_ERROR_INVALID_VALUE;
	int sdev = 1, ddev = 1;
	int sk = smode == 3 ? 1 : ptr_check(cp->src, (uint64_t)ss, &sdev);
	int dk = dmode == 3 ? 1 : ptr_check(cp->dst, (uint64_t)ds, &ddev);
	if (sk < 0 || dk < 0)
		return -CUDA_ERROR_INVALID_VALUE;
	if (((smode == 1 || smode == 3) && sk != 1) || ((dmode == 1 || dmode == 3) && dk != 1))
		return -CUDA_ERROR_INVALID_VALUE;
	cp->src_dev = sdev;
	cp->dst_dev = ddev;
	cp->src_alloc = sk == 1;
	cp->dst_alloc = dk == 1;
	*ss_out = ss;
	*sk_out = sk;
	*dk_out = dk;
	return 0;
}

/* A queued copy from pageable host memory reads a private copy of it (the caller may reuse
 * its memory once the call returns): 0, or -1 without memory for it. */
static int own_source(struct sim_op *op)
{
	struct sim_copy3d *cp = &op->u.c;
	size_t ss = (size_t)(((cp->depth - 1) * cp->sheight + (cp->height - 1)) * cp->spitch + cp->width);
	if (!(cp->owned = malloc(ss)))
		return -1;
	memcpy(cp->owned, (const void *)(uintptr_t)cp->src, ss);
	cp->src = (uint64_t)(uintptr_t)cp->owned;
	return 0;
}

/* Validates a copy and submits it (modes as copy_check). */
static CUresult copy_submit(struct sim_ctx *c, struct sim_copy3d *cp, int smode, int dmode,
                            CUstream h, int sync)
{
	unsigned __int128 ss;
	int sk, dk, k = copy_check(cp, smode, dmode, &ss, &sk, &dk);
	if (k)
		return k > 0 ? CUDA_SUCCESS : (CUresult)-k;
	/* pageable host memory, as the real driver treats it: a device-to-host copy into it is
	 * synchronous, and a copy out of it is staged before the call returns */
	if (!sync && dk == 0)
		sync = 1;
	struct sim_op *op = sim_op_new(OP_COPY);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.c = *cp;
	return submit(c, h, op, sync, sk == 0 ? own_source : NULL);
}

static CUresult copy1d(uint64_t dst, uint64_t src, size_t n, int smode, int dmode, CUstream h, int sync)
{
	CUR_CTX(c);
	struct sim_copy3d cp = {.src = src, .dst = dst, .width = n, .height = 1, .depth = 1};
	return copy_submit(c, &cp, smode, dmode, h, sync);
}

CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ return copy1d(dst, src, n, 2, 2, NULL, 1); }
CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{ return copy1d(dst, src, n, 2, 2, h, 0); }
CUresult cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t n)
{ return copy1d(dst, (uint64_t)(uintptr_t)src, n, 2, 1, NULL, 1); }
CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t n, CUstream h)
{ return copy1d(dst, (uint64_t)(uintptr_t)src, n, 2, 1, h, 0); }
CUresult cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t n)
{ return copy1d((uint64_t)(uintptr_t)dst, src, n, 1, 2, NULL, 1); }
CUresult cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t n, CUstream h)
{ return copy1d((uint64_t)(uintptr_t)dst, src, n, 1, 2, h, 0); }
CUresult cuMemcpyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t n)
{ return copy1d(dst, src, n, 1, 1, NULL, 1); }
CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h)
{ return copy1d(dst, src, n, 1, 1, h, 0); }

/* The 1D copies with an array: offsets are bytes into its dense, row-major storage, as the
 * driver documents them. */
static CUresult array_range(const char *call, CUarray a, size_t off, size_t n, uint64_t *addr)
{
	struct sim_array_info ai;
	if (sim_array_info(a, &ai))
		return CUDA_ERROR_INVALID_HANDLE;
	if (off > ai.bytes || n > ai.bytes - off) {
		sim_log("%s: %zu bytes at offset %zu of an array of %llu bytes", call, n, off,
		        (unsigned long long)ai.bytes);
		return CUDA_ERROR_INVALID_VALUE;
	}
	*addr = ai.base + off;
	return CUDA_SUCCESS;
}

/* A 1D copy where either side may be an array (its mode 3; the address is then found here). */
static CUresult copy1d_array(const char *call, CUarray da, size_t doff, uint64_t dst, int dmode, CUarray sa,
			     size_t soff, uint64_t src, int smode, size_t n, CUstream h, int sync)
{
	CUR_CTX(c);
	CUresult rc;
	if (dmode == 3 && (rc = array_range(call, da, doff, n, &dst)) != CUDA_SUCCESS)
		return rc;
	if (smode == 3 && (rc = array_range(call, sa, soff, n, &src)) != CUDA_SUCCESS)
		return rc;
	struct sim_copy3d cp = {.src = src, .dst = dst, .width = n, .height = 1, .depth = 1,
	                        .src_array = smode == 3 ? sa : NULL, .dst_array = dmode == 3 ? da : NULL};
	return copy_submit(c, &cp, smode, dmode, h, sync);
}

#define HOSTP(p) ((uint64_t)(uintptr_t)(p))
CUresult cuMemcpyHtoA(CUarray dst, size_t doff, const void *src, size_t n)
{ return copy1d_array("cuMemcpyHtoA", dst, doff, 0, 3, NULL, 0, HOSTP(src), 2, n, NULL, 1); }
CUresult cuMemcpyAtoH(void *dst, CUarray src, size_t soff, size_t n)
{ return copy1d_array("cuMemcpyAtoH", NULL, 0, HOSTP(dst), 2, src, soff, 0, 3, n, NULL, 1); }
CUresult cuMemcpyDtoA(CUarray dst, size_t doff, CUdeviceptr src, size_t n)
{ return copy1d_array("cuMemcpyDtoA", dst, doff, 0, 3, NULL, 0, src, 1, n, NULL, 1); }
CUresult cuMemcpyAtoD(CUdeviceptr dst, CUarray src, size_t soff, size_t n)
{ return copy1d_array("cuMemcpyAtoD", NULL, 0, dst, 1, src, soff, 0, 3, n, NULL, 1); }
CUresult cuMemcpyAtoA(CUarray dst, size_t doff, CUarray src, size_t soff, size_t n)
{ return copy1d_array("cuMemcpyAtoA", dst, doff, 0, 3, src, soff, 0, 3, n, NULL, 1); }
CUresult cuMemcpyHtoAAsync(CUarray dst, size_t doff, const void *src, size_t n, CUstream h)
{ return copy1d_array("cuMemcpyHtoAAsync", dst, doff, 0, 3, NULL, 0, HOSTP(src), 2, n, h, 0); }
CUresult cuMemcpyAtoHAsync(void *dst, CUarray src, size_t soff, size_t n, CUstream h)
{ return copy1d_array("cuMemcpyAtoHAsync", NULL, 0, HOSTP(dst), 2, src, soff, 0, 3, n, h, 0); }

/* One side of a 2D/3D copy as given: memory type, where, offsets (bytes, rows, slices), and
 * for memory its pitch and rows per slice (an array has its own). */
struct copy_side {
	CUmemorytype type;
	const void *host;
	CUdeviceptr dev;
	CUarray array;
	size_t x, y, z, pitch, height;
};

/* The address of a side's first byte, its pitch, rows per slice and mode (as copy_check's)
 * for a copy of width bytes x height rows x depth slices. An array side is checked against
 * the array here, before any byte moves: whole elements, nothing outside it. */
static CUresult side_resolve(const struct copy_side *sd, uint64_t width, uint64_t height, uint64_t depth,
			     uint64_t *addr, uint64_t *pitch, uint64_t *rows, int *mode)
{
	uint64_t base;
	switch (sd->type) {
	case CU_MEMORYTYPE_HOST: base = HOSTP(sd->host); *mode = 2; break;
	case CU_MEMORYTYPE_DEVICE: base = sd->dev; *mode = 1; break;
	case CU_MEMORYTYPE_UNIFIED: base = sd->dev; *mode = 2; break;
	case CU_MEMORYTYPE_ARRAY: {
		struct sim_array_info ai;
		if (sim_array_info(sd->array, &ai))
			return CUDA_ERROR_INVALID_HANDLE;
		if (sd->x % ai.texel || width % ai.texel || sd->x > ai.pitch || width > ai.pitch - sd->x ||
		    sd->y > ai.rows || height > ai.rows - sd->y || sd->z > ai.slices || depth > ai.slices - sd->z) {
			sim_log("array copy: %llu bytes x %llu rows x %llu slices at (%zu bytes, %zu, %zu) of an array "
			        "of %llu bytes x %llu rows x %llu slices, %u-byte elements", (unsigned long long)width,
			        (unsigned long long)height, (unsigned long long)depth, sd->x, sd->y, sd->z,
			        (unsigned long long)ai.pitch, (unsigned long long)ai.rows,
			        (unsigned long long)ai.slices, ai.texel);
			return CUDA_ERROR_INVALID_VALUE;
		}
		*addr = ai.base + (sd->z * ai.rows + sd->y) * ai.pitch + sd->x;
		*pitch = ai.pitch;
		*rows = ai.rows;
		*mode = 3;
		return CUDA_SUCCESS;
	}
	default: return CUDA_ERROR_INVALID_VALUE;
	}
	unsigned __int128 off = ((unsigned __int128)sd->z * sd->height + sd->y) * sd->pitch + sd->x;
	if (off > (1ull << 48))
		return CUDA_ERROR_INVALID_VALUE;
	*addr = base + (uint64_t)off;
	*pitch = sd->pitch;
	*rows = sd->height;
	return CUDA_SUCCESS;
}

/* Both sides of a copy of width x height x depth into cp, with their modes. */
static CUresult sides_resolve(const struct copy_side *s, const struct copy_side *d, struct sim_copy3d *cp,
			      int *smode, int *dmode)
{
	CUresult rc = side_resolve(s, cp->width, cp->height, cp->depth, &cp->src, &cp->spitch, &cp->sheight, smode);
	if (rc == CUDA_SUCCESS)
		rc = side_resolve(d, cp->width, cp->height, cp->depth, &cp->dst, &cp->dpitch, &cp->dheight, dmode);
	if (rc == CUDA_SUCCESS) {
		cp->src_array = *smode == 3 ? s->array : NULL;
		cp->dst_array = *dmode == 3 ? d->array : NULL;
	}
	return rc;
}

static CUresult copy2d(const CUDA_MEMCPY2D *p, CUstream h, int sync)
{
	CUR_CTX(c);
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	struct copy_side s = {p->srcMemoryType, p->srcHost, p->srcDevice, p->srcArray, p->srcXInBytes, p->srcY, 0,
	                      p->srcPitch, p->Height};
	struct copy_side d = {p->dstMemoryType, p->dstHost, p->dstDevice, p->dstArray, p->dstXInBytes, p->dstY, 0,
	                      p->dstPitch, p->Height};
	struct sim_copy3d cp = {.width = p->WidthInBytes, .height = p->Height, .depth = 1};
	int sm, dm;
	CUresult rc = sides_resolve(&s, &d, &cp, &sm, &dm);
	if (rc)
		return rc;
	return copy_submit(c, &cp, sm, dm, h, sync);
}

CUresult cuMemcpy2D(const CUDA_MEMCPY2D *p) { return copy2d(p, NULL, 1); }
CUresult cuMemcpy2DUnaligned(const CUDA_MEMCPY2D *p) { return copy2d(p, NULL, 1); }
CUresult cuMemcpy2DAsync(const CUDA_MEMCPY2D *p, CUstream h) { return copy2d(p, h, 0); }

/* A 3D copy's parameters as one strided copy with its sides' addresses and modes. */
static CUresult copy3d_shape(const CUDA_MEMCPY3D *p, struct sim_copy3d *out, int *smode, int *dmode)
{
	if (!p || p->srcLOD || p->dstLOD)
		return CUDA_ERROR_INVALID_VALUE;
	size_t sh = p->srcHeight, dh = p->dstHeight;
	if (p->Depth <= 1) {
		sh = sh ? sh : p->Height;
		dh = dh ? dh : p->Height;
	}
	struct copy_side s = {p->srcMemoryType, p->srcHost, p->srcDevice, p->srcArray, p->srcXInBytes, p->srcY,
	                      p->srcZ, p->srcPitch, sh};
	struct copy_side d = {p->dstMemoryType, p->dstHost, p->dstDevice, p->dstArray, p->dstXInBytes, p->dstY,
	                      p->dstZ, p->dstPitch, dh};
	struct sim_copy3d cp = {.width = p->WidthInBytes, .height = p->Height, .depth = p->Depth};
	CUresult rc = sides_resolve(&s, &d, &cp, smode, dmode);
	if (rc)
		return rc;
	*out = cp;
	return CUDA_SUCCESS;
}

static CUresult copy3d(const CUDA_MEMCPY3D *p, CUstream h, int sync)
{
	CUR_CTX(c);
	struct sim_copy3d cp;
	int sm, dm;
	CUresult rc = copy3d_shape(p, &cp, &sm, &dm);
	if (rc)
		return rc;
	return copy_submit(c, &cp, sm, dm, h, sync);
}

/* A copy node's new parameters as an operation (graph.c): checked like a copy, host memory
 * read and written where it is when the graph runs, as captured copies are. */
CUresult sim_copy_op(const CUDA_MEMCPY3D *p, struct sim_op **out)
{
	struct sim_copy3d cp;
	int sm, dm;
	CUresult rc = copy3d_shape(p, &cp, &sm, &dm);
	if (rc)
		return rc;
	unsigned __int128 ss;
	int sk, dk, k = copy_check(&cp, sm, dm, &ss, &sk, &dk);
	if (k < 0)
		return (CUresult)-k;
	struct sim_op *op = sim_op_new(OP_COPY);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.c = cp;
	*out = op;
	return CUDA_SUCCESS;
}

CUresult cuMemcpy3D(const CUDA_MEMCPY3D *p) { return copy3d(p, NULL, 1); }
CUresult cuMemcpy3DAsync(const CUDA_MEMCPY3D *p, CUstream h) { return copy3d(p, h, 0); }

/* ---- memsets ---- */

static CUresult memset2d(uint64_t dst, size_t pitch, uint32_t v, size_t w, size_t hgt, int esize,
                         CUstream h, int sync)
{
	CUR_CTX(c);
	if (w == 0 || hgt == 0)
		return CUDA_SUCCESS;
	if ((esize > 1 && (dst % (uint64_t)esize)) || (hgt > 1 && pitch < w * (size_t)esize))
		return CUDA_ERROR_INVALID_VALUE;
	unsigned __int128 span = (unsigned __int128)(hgt - 1) * pitch + (unsigned __int128)w * (unsigned)esize;
	if (span > (1ull << 48))
		return CUDA_ERROR_INVALID_VALUE;
	int isdev;
	if (ptr_check(dst, (uint64_t)span, &isdev) != 1)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_op *op = sim_op_new(OP_SET);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.set.dst = dst;
	op->u.set.pitch = pitch;
	op->u.set.width = w;
	op->u.set.height = hgt;
	op->u.set.value = v;
	op->u.set.esize = esize;
	return submit(c, h, op, sync, NULL);
}

CUresult cuMemsetD8(CUdeviceptr d, unsigned char v, size_t n) { return memset2d(d, n, v, n, 1, 1, NULL, 1); }
CUresult cuMemsetD16(CUdeviceptr d, unsigned short v, size_t n) { return memset2d(d, n * 2, v, n, 1, 2, NULL, 1); }
CUresult cuMemsetD32(CUdeviceptr d, unsigned int v, size_t n) { return memset2d(d, n * 4, v, n, 1, 4, NULL, 1); }
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream h) { return memset2d(d, n, v, n, 1, 1, h, 0); }
CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream h) { return memset2d(d, n * 2, v, n, 1, 2, h, 0); }
CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream h) { return memset2d(d, n * 4, v, n, 1, 4, h, 0); }
CUresult cuMemsetD2D8(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t hh) { return memset2d(d, p, v, w, hh, 1, NULL, 1); }
CUresult cuMemsetD2D16(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t hh) { return memset2d(d, p, v, w, hh, 2, NULL, 1); }
CUresult cuMemsetD2D32(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t hh) { return memset2d(d, p, v, w, hh, 4, NULL, 1); }
CUresult cuMemsetD2D8Async(CUdeviceptr d, size_t p, unsigned char v, size_t w, size_t hh, CUstream h) { return memset2d(d, p, v, w, hh, 1, h, 0); }
CUresult cuMemsetD2D16Async(CUdeviceptr d, size_t p, unsigned short v, size_t w, size_t hh, CUstream h) { return memset2d(d, p, v, w, hh, 2, h, 0); }
CUresult cuMemsetD2D32Async(CUdeviceptr d, size_t p, unsigned int v, size_t w, size_t hh, CUstream h) { return memset2d(d, p, v, w, hh, 4, h, 0); }

/* ---- peers and stream-ordered allocation ---- */

static CUresult peer_check(CUcontext dst, CUcontext src)
{
	if (!sim_ctx_valid((struct sim_ctx *)dst) || !sim_ctx_valid((struct sim_ctx *)src))
		return CUDA_ERROR_INVALID_CONTEXT;
	return CUDA_SUCCESS;
}

/* All devices share one address space here, so a peer copy is an ordinary copy. */
CUresult cuMemcpyPeer(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx, size_t n)
{
	CUresult rc = peer_check(dctx, sctx);
	return rc ? rc : copy1d(dst, src, n, 1, 1, NULL, 1);
}

CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx,
                           size_t n, CUstream h)
{
	CUresult rc = peer_check(dctx, sctx);
	return rc ? rc : copy1d(dst, src, n, 1, 1, h, 0);
}

static CUresult copy3d_peer(const CUDA_MEMCPY3D_PEER *p, CUstream h, int sync)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = peer_check(p->dstContext, p->srcContext);
	if (rc)
		return rc;
	CUDA_MEMCPY3D c = {
		.srcXInBytes = p->srcXInBytes, .srcY = p->srcY, .srcZ = p->srcZ, .srcLOD = p->srcLOD,
		.srcMemoryType = p->srcMemoryType, .srcHost = p->srcHost, .srcDevice = p->srcDevice,
		.srcArray = p->srcArray, .srcPitch = p->srcPitch, .srcHeight = p->srcHeight,
		.dstXInBytes = p->dstXInBytes, .dstY = p->dstY, .dstZ = p->dstZ, .dstLOD = p->dstLOD,
		.dstMemoryType = p->dstMemoryType, .dstHost = p->dstHost, .dstDevice = p->dstDevice,
		.dstArray = p->dstArray, .dstPitch = p->dstPitch, .dstHeight = p->dstHeight,
		.WidthInBytes = p->WidthInBytes, .Height = p->Height, .Depth = p->Depth,
	};
	return copy3d(&c, h, sync);
}

CUresult cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER *p) { return copy3d_peer(p, NULL, 1); }
CUresult cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER *p, CUstream h) { return copy3d_peer(p, h, 0); }
CUresult cuMemcpyPeer_ptds(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx, size_t n);
CUresult cuMemcpyPeer_ptds(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx, size_t n)
{ return cuMemcpyPeer(dst, dctx, src, sctx, n); }
CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx,
                                size_t n, CUstream h);
CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx,
                                size_t n, CUstream h)
{ return cuMemcpyPeerAsync(dst, dctx, src, sctx, n, h); }
CUresult cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER *p);
CUresult cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER *p) { return copy3d_peer(p, NULL, 1); }
CUresult cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER *p, CUstream h);
CUresult cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER *p, CUstream h) { return copy3d_peer(p, h, 0); }

/* Stream-ordered allocation: the memory is taken at once (earlier than the stream would,
 * which is allowed) and given back when the stream reaches the free. */
/* Stream-ordered allocation without a pool's bookkeeping (pool.c keeps that). */
CUresult sim_mem_alloc_async(CUdeviceptr *dptr, size_t size, CUstream h)
{
	CUR_CTX(c);
	CUresult rc = CUDA_SUCCESS;
	if (!sim_stream_get(c, h, &rc))
		return rc;
	return mem_alloc(c, dptr, size, SIM_ALLOC_F_ORDERED);
}

CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream h)
{
	CUR_CTX(c);
	struct sim_alloc a;
	CUresult rc;
	if (!dptr || sim_mem_find(dptr, 1, &a) < 0 || a.base != dptr || a.kind != ALLOC_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	/* in a capture, a free node of a graph's allocation; outside, a graph's allocation may be
	 * freed only when its graph does not free it and a launch left it allocated */
	if (sim_graph_capture_free(c, h, dptr, &rc) || (sim_graph_mem_user_free(dptr, 0, &rc) && rc != CUDA_SUCCESS))
		return rc;
	struct sim_op *op = sim_op_new(OP_MEMFREE);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.free_dptr = dptr;
	return submit(c, h, op, 0, NULL);
}

CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t size, CUstream h);
CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t size, CUstream h) { return cuMemAllocAsync(dptr, size, h); }
CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream h);
CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream h) { return cuMemFreeAsync(dptr, h); }

CUresult cuPointerSetAttribute(const void *value, CUpointer_attribute attribute, CUdeviceptr ptr)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_alloc a;
	if (!value || attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS || sim_mem_find(ptr, 1, &a) < 0 ||
	    a.kind == ALLOC_ARRAY)
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;      /* every copy is already synchronous with respect to memory */
}

/* Attaching managed memory to a stream: one memory for host and kernels, nothing to restrict;
 * the attachment is checked (flags, managed memory, 0 or the whole allocation). */
CUresult cuStreamAttachMemAsync(CUstream s, CUdeviceptr p, size_t length, unsigned int flags)
{
	CUR_CTX(c);
	(void)s;
	struct sim_alloc a;
	if ((flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST && flags != CU_MEM_ATTACH_SINGLE) ||
	    sim_mem_find(p, 1, &a) < 0 || a.kind != ALLOC_MANAGED || (length && (p != a.base || length != a.size)))
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}
