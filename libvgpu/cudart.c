/* SPDX-License-Identifier: MIT */
/* cudart.c — what the CUDA runtime needs beyond the public calls, in the zone: export tables and libraries. */
#include "client.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "darkapi.h"
#include "drvtab.h"
#include "library.h"

/*
 * runtime/darkapi.c and runtime/library.c run here, in the zone, over libvgpu's own entry
 * points: a library is loaded into the proxy as ordinary modules (image checked, quota and
 * handles charged as for cuModuleLoadData), so the proxy sees nothing new to trust.
 */

/*
 * The calling thread's current context, asked of the proxy once and kept until this thread
 * makes a call that can change it (any cuCtx* or cuDevicePrimaryCtx* call): a CUkernel launch
 * resolves its function in the current context, and must not cost a round trip each time.
 */
static __thread int cur_ctx_known;
static __thread CUcontext cur_ctx;

/*
 * Each device's primary context as this process retained it. The driver keeps a primary
 * context's handle across cuDevicePrimaryCtxReset and a last cuDevicePrimaryCtxRelease: the
 * context goes idle (calls on it fail with CUDA_ERROR_CONTEXT_IS_DESTROYED) and the next
 * retain brings it back, empty, under the same handle. The CUDA runtime keys its per-context
 * state by vgpu_drv.ctx_key and learns that cudaDeviceReset emptied a context from that key's
 * answer, as from the driver's context ids: an error while the context is idle, a new key once
 * it lives again (so nothing of its former life is found). Tracked here from the calls that
 * make the change, so that a key costs no round trip.
 */
#define PRIM_MAX 16
static pthread_mutex_t prim_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { CUcontext ctx; unsigned long long life; int idle; } prim[PRIM_MAX];

/* A context's key in its current life: the handle itself (never reused), mixed with the life. */
static unsigned long long life_key(CUcontext ctx, unsigned long long life)
{
	return (unsigned long long)(uintptr_t)ctx ^ (life * 0x9e3779b97f4a7c15ull);
}

static void primary_changed(int dev, CUcontext ctx, int idle)
{
	unsigned long long gone = 0;
	int forget = 0;

	if (dev < 0 || dev >= PRIM_MAX)
		return;
	pthread_mutex_lock(&prim_lock);
	if (idle && prim[dev].ctx && !prim[dev].idle) {
		gone = life_key(prim[dev].ctx, prim[dev].life);
		forget = 1;
		prim[dev].idle = 1;
	} else if (!idle) {
		if (prim[dev].ctx != ctx) {
			prim[dev].ctx = ctx;
			prim[dev].life = 0;
		} else if (prim[dev].idle) {
			prim[dev].life++;
		}
		prim[dev].idle = 0;
	}
	pthread_mutex_unlock(&prim_lock);
	if (forget)
		vgpu_darkapi_ctx_gone(gone);
}

void vgpu_cudart_after_call(const struct vgpu_call_desc *d, void *const *argv, CUresult res)
{
	if (cur_ctx_known && (!strncmp(d->name, "cuCtx", 5) || !strncmp(d->name, "cuDevicePrimaryCtx", 18)))
		cur_ctx_known = 0;
	if (res != CUDA_SUCCESS)
		return;
	if (d == &vgpu_call_cuDevicePrimaryCtxRetain) {
		CUcontext *out = *(CUcontext *const *)argv[0];
		if (out && *out)
			primary_changed(*(const CUdevice *)argv[1], *out, 0);
	} else if (d == &vgpu_call_cuDevicePrimaryCtxReset || d == &vgpu_call_cuDevicePrimaryCtxReset_v2) {
		primary_changed(*(const CUdevice *)argv[0], NULL, 1);
	} else if (d == &vgpu_call_cuDevicePrimaryCtxRelease || d == &vgpu_call_cuDevicePrimaryCtxRelease_v2) {
		/* idle only after the last release: the driver says (a call of its own, rare) */
		CUdevice dev = *(const CUdevice *)argv[0];
		unsigned flags = 0;
		int active = 1;
		if (cuDevicePrimaryCtxGetState(dev, &flags, &active) == CUDA_SUCCESS && !active)
			primary_changed(dev, NULL, 1);
	} else if (d == &vgpu_call_cuCtxDestroy || d == &vgpu_call_cuCtxDestroy_v2) {
		vgpu_darkapi_ctx_gone(life_key(*(const CUcontext *)argv[0], 0));
	}
}

/* A forked child starts a zone of its own: nothing it inherited names its contexts. */
static void forget_in_child(void)
{
	cur_ctx_known = 0;
	memset(prim, 0, sizeof(prim));
}

__attribute__((constructor)) static void cudart_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_in_child);
}

static CUresult current_ctx(CUcontext *ctx)
{
	CUresult r;

	if (!cur_ctx_known) {
		r = cuCtxGetCurrent(&cur_ctx);
		if (r != CUDA_SUCCESS)
			return r;
		cur_ctx_known = 1;
	}
	*ctx = cur_ctx;
	return CUDA_SUCCESS;
}

/* Context handles are proxy-assigned ids that carry a generation: never reused, so with a
 * primary context's life they are keys. */
static CUresult zone_ctx_key(CUcontext ctx, unsigned long long *key)
{
	CUresult r = CUDA_SUCCESS;
	unsigned long long life = 0;

	if (!ctx) {
		r = current_ctx(&ctx);
		if (r != CUDA_SUCCESS)
			return r;
		if (!ctx)
			return CUDA_ERROR_INVALID_CONTEXT;
	}
	pthread_mutex_lock(&prim_lock);
	for (int d = 0; d < PRIM_MAX; d++)
		if (prim[d].ctx == ctx) {
			life = prim[d].life;
			if (prim[d].idle)
				r = CUDA_ERROR_CONTEXT_IS_DESTROYED;
			break;
		}
	pthread_mutex_unlock(&prim_lock);
	*key = life_key(ctx, life);
	return r;
}

/* A stale module id is refused by the proxy (INVALID_HANDLE), never taken for another module. */
static int zone_module_alive(CUmodule mod, unsigned long long ctx_key)
{
	(void)mod;
	(void)ctx_key;
	return 1;
}

static CUresult zone_ctx_create(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	return cuCtxCreate_v2(pctx, flags, dev);
}

static void zone_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	vgpu_client_log(1, "%s", buf);
}

const struct vgpu_drvtab vgpu_drv = {
	VGPU_DRVTAB_PUBLIC_CALLS,
	.ctx_create = zone_ctx_create,
	.ctx_key = zone_ctx_key,
	.module_alive = zone_module_alive,
	.module_get_managed = vgpu_mglobal_get,
	.devices_all = vgpu_zone_devices_all,
	.log = zone_log,
};

CUresult CUDAAPI cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
	return vgpu_darkapi_get(ppExportTable, pExportTableId);
}

