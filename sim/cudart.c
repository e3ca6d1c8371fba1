/* SPDX-License-Identifier: MIT */
/* cudart.c — what the CUDA runtime needs beyond the public calls: export tables and libraries, over the simulator. */
#include "sim.h"

#include "darkapi.h"
#include "drvtab.h"
#include "library.h"

/* Context ids are unique over the process's lifetime (driver.c), so they are the keys. A
 * green context's key is its primary context's: it uses that context's modules (a library
 * loaded there is not loaded again, its __device__ variables are the same) and the runtime's
 * state made for it. */
static CUresult sim_ctx_key(CUcontext ctx, unsigned long long *key)
{
	CUcontext cur = NULL;
	if (!ctx && cuCtxGetCurrent(&cur) == CUDA_SUCCESS)
		ctx = cur;
	const struct sim_ctx *c = (const struct sim_ctx *)ctx;
	if (c && c->magic == MAGIC_CTX && c->res)
		ctx = (CUcontext)c->res;
	return cuCtxGetId(ctx, key);
}

static CUresult sim_ctx_create(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	return cuCtxCreate_v4(pctx, NULL, flags, dev);
}

static int sim_module_alive(CUmodule mod, unsigned long long ctx_key)
{
	const struct sim_module *m = (const struct sim_module *)mod;

	pthread_mutex_lock(&g_lock);
	int alive = m && m->magic == MAGIC_MODULE && m->ctx && m->ctx->id == ctx_key;
	pthread_mutex_unlock(&g_lock);
	return alive;
}

const struct vgpu_drvtab vgpu_drv = {
	VGPU_DRVTAB_PUBLIC_CALLS,
	.ctx_create = sim_ctx_create,
	.ctx_key = sim_ctx_key,
	.module_alive = sim_module_alive,
	.module_get_managed = vgpu_sim_module_get_managed,
	.devices_all = sim_devices_all,
	.log = sim_log,
};

CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
	return vgpu_darkapi_get(ppExportTable, pExportTableId);
}
