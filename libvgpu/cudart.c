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

void vgpu_cudart_after_call(const struct vgpu_call_desc *d)
{
	if (cur_ctx_known && (!strncmp(d->name, "cuCtx", 5) || !strncmp(d->name, "cuDevicePrimaryCtx", 18)))
		cur_ctx_known = 0;
}

/* A forked child starts a zone of its own: nothing it inherited names its contexts. */
static void forget_in_child(void)
{
	cur_ctx_known = 0;
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

/* Context handles are proxy-assigned ids that carry a generation: never reused, so they are keys. */
static CUresult zone_ctx_key(CUcontext ctx, unsigned long long *key)
{
	CUresult r;

	if (!ctx) {
		r = current_ctx(&ctx);
		if (r != CUDA_SUCCESS)
			return r;
		if (!ctx)
			return CUDA_ERROR_INVALID_CONTEXT;
	}
	*key = (unsigned long long)(uintptr_t)ctx;
	return CUDA_SUCCESS;
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
	.log = zone_log,
};

CUresult CUDAAPI cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
	return vgpu_darkapi_get(ppExportTable, pExportTableId);
}

