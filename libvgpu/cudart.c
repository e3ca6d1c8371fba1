/* SPDX-License-Identifier: MIT */
/* cudart.c — what the CUDA runtime needs beyond the public calls, in the zone: export tables and libraries. */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>

#include "darkapi.h"
#include "drvtab.h"
#include "library.h"

/*
 * runtime/darkapi.c and runtime/library.c run here, in the zone, over libvgpu's own entry
 * points: a library is loaded into the proxy as ordinary modules (image checked, quota and
 * handles charged as for cuModuleLoadData), so the proxy sees nothing new to trust.
 */

/* Context handles are proxy-assigned ids that carry a generation: never reused, so they are keys. */
static CUresult zone_ctx_key(CUcontext ctx, unsigned long long *key)
{
	CUresult r;

	if (!ctx) {
		r = cuCtxGetCurrent(&ctx);
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

