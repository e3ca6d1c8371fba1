/* SPDX-License-Identifier: MIT */
/* Less common driver API entry points of libcudasim: context and stream queries, peer
 * access, function and module introspection, legacy configuration calls, and the
 * pre-_v2 ABI names whose signatures are unchanged (vgpu-proxy resolves those too). */
#include "sim.h"
#include "library.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern struct sim_event *g_events;

/* A function of cuda.h the simulator does not implement (the weak stubs of
 * generated/sim_absent.c): said on stderr once per function (unless VGPU_SIM_QUIET), and
 * refused as a driver without it would. */
CUresult sim_absent(const char *name);
CUresult sim_absent(const char *name)
{
	static const char *said[256];   /* each stub passes its own string literal */
	static unsigned nsaid;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int first = 1;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nsaid && first; i++)
		first = said[i] != name;
	if (first && nsaid < sizeof(said) / sizeof(said[0]))
		said[nsaid++] = name;
	pthread_mutex_unlock(&lock);
	if (first)
		sim_log("%s is not implemented by the simulator (a CPU test double of the driver): CUDA_ERROR_NOT_SUPPORTED",
			name);
	return CUDA_ERROR_NOT_SUPPORTED;
}

static struct sim_ctx *ctx_or_current(CUcontext h, CUresult *rc)
{
	if (!g_inited) {
		*rc = CUDA_ERROR_NOT_INITIALIZED;
		return NULL;
	}
	if (!h)
		return sim_ctx_current(rc);
	struct sim_ctx *c = (struct sim_ctx *)h;
	if (!sim_ctx_valid(c)) {
		*rc = c->magic == MAGIC_CTX_IDLE ? CUDA_ERROR_CONTEXT_IS_DESTROYED : CUDA_ERROR_INVALID_CONTEXT;
		return NULL;
	}
	*rc = CUDA_SUCCESS;
	return c;
}

CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
	CUresult rc;
	struct sim_ctx *c = ctx_or_current(ctx, &rc);
	if (!c)
		return rc;
	sim_ctx_sync(c);
	return c->sticky;
}

CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx)
{
	CUresult rc;
	struct sim_ctx *c = ctx_or_current(ctx, &rc);
	if (!c)
		return rc;
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	*device = c->dev;
	return CUDA_SUCCESS;
}

CUresult cuCtxGetId(CUcontext ctx, unsigned long long *id)
{
	CUresult rc;
	struct sim_ctx *c = ctx_or_current(ctx, &rc);
	if (!c)
		return rc;
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	*id = c->id;
	return CUDA_SUCCESS;
}

CUresult cuCtxSetFlags(unsigned int flags)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (flags & ~(unsigned)(CU_CTX_SCHED_MASK | CU_CTX_MAP_HOST | CU_CTX_LMEM_RESIZE_TO_MAX |
	                        CU_CTX_SYNC_MEMOPS))
		return CUDA_ERROR_INVALID_VALUE;
	c->flags = flags;
	return CUDA_SUCCESS;
}

CUresult cuCtxResetPersistingL2Cache(void)
{
	CUresult rc;
	return sim_ctx_current(&rc) ? CUDA_SUCCESS : rc;
}

CUresult cuCtxGetSharedMemConfig(CUsharedconfig *cfg)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (!cfg)
		return CUDA_ERROR_INVALID_VALUE;
	*cfg = c->shared_config;
	return CUDA_SUCCESS;
}

CUresult cuCtxSetSharedMemConfig(CUsharedconfig cfg)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if ((unsigned)cfg > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE)
		return CUDA_ERROR_INVALID_VALUE;
	c->shared_config = cfg;
	return CUDA_SUCCESS;
}

/* An event recorded on, or waited for by, the context's legacy NULL stream: it orders
 * against all of the context's blocking streams. A green context's records and waits take in
 * all of its streams (green.c), as cuda.h says. */
CUresult cuCtxRecordEvent(CUcontext hctx, CUevent ev)
{
	CUresult rc;
	struct sim_ctx *c = ctx_or_current(hctx, &rc);
	if (!c)
		return rc;
	if (c->green)
		return cuGreenCtxRecordEvent((CUgreenCtx)c->green, ev);
	struct sim_stream *s = sim_stream_get(c, NULL, &rc);
	return s ? cuEventRecord(ev, (CUstream)s) : rc;
}

CUresult cuCtxWaitEvent(CUcontext hctx, CUevent ev)
{
	CUresult rc;
	struct sim_ctx *c = ctx_or_current(hctx, &rc);
	if (!c)
		return rc;
	if (c->green)
		return cuGreenCtxWaitEvent((CUgreenCtx)c->green, ev);
	struct sim_stream *s = sim_stream_get(c, NULL, &rc);
	return s ? cuStreamWaitEvent((CUstream)s, ev, 0) : rc;
}

static struct sim_stream *stream_q(CUstream h, CUresult *rc)
{
	if (!g_inited) {
		*rc = CUDA_ERROR_NOT_INITIALIZED;
		return NULL;
	}
	if (h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
		struct sim_ctx *c = sim_ctx_current(rc);
		return c ? sim_stream_get(c, h, rc) : NULL;
	}
	struct sim_stream *s = (struct sim_stream *)h;
	*rc = s->magic == MAGIC_STREAM ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
	return *rc ? NULL : s;
}

CUresult cuStreamGetCtx(CUstream h, CUcontext *pctx)
{
	CUresult rc;
	struct sim_stream *s = stream_q(h, &rc);
	if (!s)
		return rc;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = (CUcontext)s->ctx;
	return CUDA_SUCCESS;
}

/* A green context's stream (or special stream, the green context current): the green context,
 * and its device's primary context as the context, as cuda.h says. */
CUresult cuStreamGetCtx_v2(CUstream h, CUcontext *pctx, CUgreenCtx *pgreen)
{
	if (!pctx || !pgreen)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc;
	struct sim_stream *s = stream_q(h, &rc);
	if (!s)
		return rc;
	struct sim_ctx *c = s->ctx;
	if (c->green && h == CU_STREAM_PER_THREAD)
		return CUDA_ERROR_INVALID_HANDLE;
	*pgreen = (CUgreenCtx)c->green;
	*pctx = (CUcontext)sim_ctx_res(c);
	return CUDA_SUCCESS;
}

CUresult cuStreamGetId(CUstream h, unsigned long long *id)
{
	CUresult rc;
	struct sim_stream *s = stream_q(h, &rc);
	if (!s)
		return rc;
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	*id = s->id;
	return CUDA_SUCCESS;
}

CUresult cuStreamGetDevice(CUstream h, CUdevice *dev)
{
	CUresult rc;
	struct sim_stream *s = stream_q(h, &rc);
	if (!s)
		return rc;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	*dev = s->ctx->dev;
	return CUDA_SUCCESS;
}

CUresult cuStreamGetCtx_ptsz(CUstream h, CUcontext *pctx);
CUresult cuStreamGetCtx_ptsz(CUstream h, CUcontext *pctx) { return cuStreamGetCtx(h, pctx); }
CUresult cuStreamGetCtx_v2_ptsz(CUstream h, CUcontext *pctx, CUgreenCtx *pg);
CUresult cuStreamGetCtx_v2_ptsz(CUstream h, CUcontext *pctx, CUgreenCtx *pg) { return cuStreamGetCtx_v2(h, pctx, pg); }
CUresult cuStreamGetId_ptsz(CUstream h, unsigned long long *id);
CUresult cuStreamGetId_ptsz(CUstream h, unsigned long long *id) { return cuStreamGetId(h, id); }
CUresult cuStreamGetDevice_ptsz(CUstream h, CUdevice *dev);
CUresult cuStreamGetDevice_ptsz(CUstream h, CUdevice *dev) { return cuStreamGetDevice(h, dev); }

/* ---- stream memory operations ---- */

static CUresult memval(CUstream h, CUdeviceptr addr, uint64_t value, int size, int wait,
                       unsigned flags)
{
	CUresult rc;
	struct sim_stream *s = stream_q(h, &rc);
	if (!s)
		return rc;
	if (s->ctx->sticky)
		return s->ctx->sticky;
	unsigned allowed = wait ? 3u | CU_STREAM_WAIT_VALUE_FLUSH : CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER;
	if ((flags & ~allowed) || (addr & (uint64_t)(size - 1)) || sim_mem_find(addr, (uint64_t)size, NULL) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_op *op = sim_op_new(OP_MEMVAL);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.mv.addr = addr;
	op->u.mv.value = value;
	op->u.mv.size = size;
	op->u.mv.wait = wait;
	op->u.mv.flags = flags;
	sim_stream_enqueue(s, op);
	return CUDA_SUCCESS;
}

CUresult cuStreamWriteValue32(CUstream h, CUdeviceptr addr, cuuint32_t v, unsigned int flags)
{ return memval(h, addr, v, 4, 0, flags); }
CUresult cuStreamWaitValue32(CUstream h, CUdeviceptr addr, cuuint32_t v, unsigned int flags)
{ return memval(h, addr, v, 4, 1, flags); }
CUresult cuStreamWriteValue64(CUstream h, CUdeviceptr addr, cuuint64_t v, unsigned int flags)
{ return memval(h, addr, v, 8, 0, flags); }
CUresult cuStreamWaitValue64(CUstream h, CUdeviceptr addr, cuuint64_t v, unsigned int flags)
{ return memval(h, addr, v, 8, 1, flags); }
CUresult cuStreamWriteValue32_v2_ptsz(CUstream h, CUdeviceptr addr, cuuint32_t v, unsigned int flags);
CUresult cuStreamWriteValue32_v2_ptsz(CUstream h, CUdeviceptr addr, cuuint32_t v, unsigned int flags)
{ return memval(h, addr, v, 4, 0, flags); }
CUresult cuStreamWaitValue32_v2_ptsz(CUstream h, CUdeviceptr addr, cuuint32_t v, unsigned int flags);
CUresult cuStreamWaitValue32_v2_ptsz(CUstream h, CUdeviceptr addr, cuuint32_t v, unsigned int flags)
{ return memval(h, addr, v, 4, 1, flags); }
CUresult cuStreamWriteValue64_v2_ptsz(CUstream h, CUdeviceptr addr, cuuint64_t v, unsigned int flags);
CUresult cuStreamWriteValue64_v2_ptsz(CUstream h, CUdeviceptr addr, cuuint64_t v, unsigned int flags)
{ return memval(h, addr, v, 8, 0, flags); }
CUresult cuStreamWaitValue64_v2_ptsz(CUstream h, CUdeviceptr addr, cuuint64_t v, unsigned int flags);
CUresult cuStreamWaitValue64_v2_ptsz(CUstream h, CUdeviceptr addr, cuuint64_t v, unsigned int flags)
{ return memval(h, addr, v, 8, 1, flags); }

/* ---- devices and peers: every simulated device shares one host address space ---- */

#define CHECK_DEV(d) do { if (!g_inited) return CUDA_ERROR_NOT_INITIALIZED; \
	if ((d) < 0 || (d) >= g_ndev) return CUDA_ERROR_INVALID_DEVICE; } while (0)

CUresult cuDeviceCanAccessPeer(int *can, CUdevice dev, CUdevice peer)
{
	CHECK_DEV(dev);
	CHECK_DEV(peer);
	if (!can)
		return CUDA_ERROR_INVALID_VALUE;
	*can = dev != peer;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetP2PAttribute(int *value, CUdevice_P2PAttribute attr, CUdevice src, CUdevice dst)
{
	CHECK_DEV(src);
	CHECK_DEV(dst);
	/* as the driver: nowhere to write first, then a device with itself, then the attribute */
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	if (src == dst)
		return CUDA_ERROR_INVALID_DEVICE;
	switch (attr) {
	case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK: *value = 0; break;
	case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED: *value = 1; break;
	case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED: *value = 1; break;
	case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED: *value = 0; break;
	default: return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

CUresult cuCtxEnablePeerAccess(CUcontext peer, unsigned int flags)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc), *p = (struct sim_ctx *)peer;
	if (!c)
		return rc;
	if (flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (!sim_ctx_valid(p))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (p->dev == c->dev)
		return CUDA_ERROR_INVALID_DEVICE;
	size_t free_slot = SIZE_MAX, n = sizeof(c->peers) / sizeof(c->peers[0]);
	for (size_t i = 0; i < n; i++) {
		if (c->peers[i] == p)
			return CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED;
		if (!c->peers[i] && free_slot == SIZE_MAX)
			free_slot = i;
	}
	if (free_slot == SIZE_MAX)
		return CUDA_ERROR_TOO_MANY_PEERS;
	c->peers[free_slot] = p;
	return CUDA_SUCCESS;
}

CUresult cuCtxDisablePeerAccess(CUcontext peer)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	for (size_t i = 0; i < sizeof(c->peers) / sizeof(c->peers[0]); i++)
		if (peer && c->peers[i] == (struct sim_ctx *)peer) {
			c->peers[i] = NULL;
			return CUDA_SUCCESS;
		}
	return CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
}

CUresult cuDeviceGetPCIBusId(char *id, int len, CUdevice dev)
{
	CHECK_DEV(dev);
	if (!id || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(id, (size_t)len, "0000:%02x:00.0", 0x40 + sim_dev_phys(dev));
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *id)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	unsigned dom, bus, slot, fn;
	if (!dev || !id || sscanf(id, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4)
		return CUDA_ERROR_INVALID_VALUE;
	for (CUdevice d = 0; d < g_ndev && !dom && !slot && !fn; d++)
		if (bus == 0x40u + (unsigned)sim_dev_phys(d)) {   /* a visible device's */
			*dev = d;
			return CUDA_SUCCESS;
		}
	return CUDA_ERROR_INVALID_DEVICE;
}

/* ---- functions and modules ---- */

static struct sim_func *func_q(CUfunction h, CUresult *rc)
{
	/* a CUkernel stands for its function in the current context (runtime/library.c) */
	if (g_inited && (*rc = vgpu_library_resolve(&h)) != CUDA_SUCCESS)
		return NULL;
	struct sim_func *f = (struct sim_func *)h;
	*rc = !g_inited ? CUDA_ERROR_NOT_INITIALIZED :
	      (!f || f->magic != MAGIC_FUNC) ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
	return *rc ? NULL : f;
}

static struct sim_module *mod_q(CUmodule h, CUresult *rc)
{
	struct sim_module *m = (struct sim_module *)h;
	*rc = !g_inited ? CUDA_ERROR_NOT_INITIALIZED :
	      (!m || m->magic != MAGIC_MODULE) ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
	return *rc ? NULL : m;
}

CUresult cuFuncGetName(const char **name, CUfunction h)
{
	CUresult rc;
	struct sim_func *f = func_q(h, &rc);
	if (!f)
		return rc;
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	*name = f->fn->name;
	return CUDA_SUCCESS;
}

CUresult cuFuncGetModule(CUmodule *mod, CUfunction h)
{
	CUresult rc;
	struct sim_func *f = func_q(h, &rc);
	if (!f)
		return rc;
	if (!mod)
		return CUDA_ERROR_INVALID_VALUE;
	*mod = (CUmodule)f->mod;
	return CUDA_SUCCESS;
}

CUresult cuFuncGetParamInfo(CUfunction h, size_t index, size_t *off, size_t *size)
{
	CUresult rc;
	struct sim_func *f = func_q(h, &rc);
	if (!f)
		return rc;
	if (index >= f->fn->nparams)
		return CUDA_ERROR_INVALID_VALUE;
	if (off)
		*off = f->fn->param_off[index];
	if (size)
		*size = f->fn->param_size[index];
	return CUDA_SUCCESS;
}

CUresult cuFuncIsLoaded(CUfunctionLoadingState *state, CUfunction h)
{
	CUresult rc;
	struct sim_func *f = func_q(h, &rc);
	if (!f)
		return rc;
	if (!state)
		return CUDA_ERROR_INVALID_VALUE;
	*state = CU_FUNCTION_LOADING_STATE_LOADED;
	return CUDA_SUCCESS;
}

CUresult cuFuncLoad(CUfunction h)
{
	CUresult rc;
	return func_q(h, &rc) ? CUDA_SUCCESS : rc;
}

CUresult cuFuncSetSharedMemConfig(CUfunction h, CUsharedconfig cfg)
{
	CUresult rc;
	if (!func_q(h, &rc))
		return rc;
	return (unsigned)cfg > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE ? CUDA_ERROR_INVALID_VALUE
	                                                                 : CUDA_SUCCESS;
}

CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!mode)
		return CUDA_ERROR_INVALID_VALUE;
	*mode = CU_MODULE_EAGER_LOADING;
	return CUDA_SUCCESS;
}

CUresult cuModuleGetFunctionCount(unsigned int *count, CUmodule h)
{
	CUresult rc;
	struct sim_module *m = mod_q(h, &rc);
	if (!m)
		return rc;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	unsigned n = 0;
	for (uint32_t i = 0; i < m->pm->nfuncs; i++)
		n += m->pm->funcs[i].is_entry && m->pm->funcs[i].defined;
	*count = n;
	return CUDA_SUCCESS;
}

CUresult cuModuleEnumerateFunctions(CUfunction *fns, unsigned int num, CUmodule h)
{
	CUresult rc;
	struct sim_module *m = mod_q(h, &rc);
	if (!m)
		return rc;
	if (!fns)   /* also for none asked, as the driver answers */
		return CUDA_ERROR_INVALID_VALUE;
	unsigned k = 0;
	for (uint32_t i = 0; i < m->pm->nfuncs && k < num; i++) {
		const struct ptx_func *pf = &m->pm->funcs[i];
		if (!pf->is_entry || !pf->defined)
			continue;
		rc = cuModuleGetFunction(&fns[k++], h, pf->name);
		if (rc)
			return rc;
	}
	return CUDA_SUCCESS;
}

CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t *size, CUfunction h, int blocks, int bs)
{
	CUresult rc;
	struct sim_func *f = func_q(h, &rc);
	if (!f)
		return rc;
	if (!size || blocks <= 0 || bs <= 0 || bs > 1024)
		return CUDA_ERROR_INVALID_VALUE;
	size_t per = (size_t)g_cc.shared_per_sm / (size_t)blocks, stat = f->fn->shared_static;
	size_t avail = per > stat ? per - stat : 0;
	*size = avail < (size_t)f->max_dyn_shared ? avail : (size_t)f->max_dyn_shared;
	return CUDA_SUCCESS;
}

/* ---- pre-_v2 ABI names with the same signatures ---- */

#undef cuCtxDestroy
#undef cuCtxPopCurrent
#undef cuCtxPushCurrent
#undef cuStreamDestroy
#undef cuEventDestroy
#undef cuDevicePrimaryCtxRelease
#undef cuDevicePrimaryCtxReset
#undef cuDevicePrimaryCtxSetFlags
#undef cuCtxCreate

CUresult cuCtxDestroy(CUcontext ctx);
CUresult cuCtxDestroy(CUcontext ctx) { return cuCtxDestroy_v2(ctx); }
CUresult cuCtxPopCurrent(CUcontext *pctx);
CUresult cuCtxPopCurrent(CUcontext *pctx) { return cuCtxPopCurrent_v2(pctx); }
CUresult cuCtxPushCurrent(CUcontext ctx);
CUresult cuCtxPushCurrent(CUcontext ctx) { return cuCtxPushCurrent_v2(ctx); }
CUresult cuStreamDestroy(CUstream h);
CUresult cuStreamDestroy(CUstream h) { return cuStreamDestroy_v2(h); }
CUresult cuEventDestroy(CUevent h);
CUresult cuEventDestroy(CUevent h) { return cuEventDestroy_v2(h); }
CUresult cuDevicePrimaryCtxRelease(CUdevice dev);
CUresult cuDevicePrimaryCtxRelease(CUdevice dev) { return cuDevicePrimaryCtxRelease_v2(dev); }
CUresult cuDevicePrimaryCtxReset(CUdevice dev);
CUresult cuDevicePrimaryCtxReset(CUdevice dev) { return cuDevicePrimaryCtxReset_v2(dev); }
CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags);
CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{ return cuDevicePrimaryCtxSetFlags_v2(dev, flags); }
/* cuCtxCreate before CUDA 11.4 and at 3.2: (pctx, flags, dev), no creation parameters. */
CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev);
CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev) { return cuCtxCreate_v4(pctx, NULL, flags, dev); }
CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);
CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev) { return cuCtxCreate_v4(pctx, NULL, flags, dev); }
