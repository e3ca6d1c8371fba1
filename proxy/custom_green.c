/* SPDX-License-Identifier: MIT */
/*
 * custom_green.c — green contexts: a zone's own work on a part of the GPU's SMs (green.h).
 *
 * A green context narrows where the zone's kernels run; it gives the zone nothing another
 * zone has. What needs care is the driver's CUdevResource, which carries bytes of the driver's
 * own: the zone gets them from the driver and hands them back, so the worker keeps every
 * resource it gave the zone and passes on only those, unchanged (a changed or invented one is
 * CUDA_ERROR_INVALID_VALUE and never reaches the driver).
 */
#define __CUDA_API_VERSION_INTERNAL 1
#include "proxy.h"

#include <errno.h>
#include <string.h>

#include "backend.h"
#include "custom_wire.h"
#include "green.h"
#include "log.h"
#include "proxyd.h"
#include "vgpu_calls.h"
#include "vgpu_dispatch.h"
#include "vgpu_ops.h"

#define ARG(T, i) (*(T *)argv[i])

_Static_assert(sizeof(CUdevResource) == VGPU_GREEN_RESOURCE_BYTES, "CUdevResource's size");

/* Remember a resource the driver gave the zone (the same bytes are kept once). 0, or -1 when
 * the zone holds VGPU_GREEN_ISSUED_MAX already or memory is short. */
static int issued_add(struct vgpu_zone *z, const CUdevResource *r)
{
	struct vgpu_green_zone *g = &z->green;
	int rc = 0;
	pthread_mutex_lock(&g->lock);
	uint32_t i = 0;
	while (i < g->nissued && memcmp(g->issued[i], r, sizeof(*r)))
		i++;
	if (i == g->nissued) {
		if (g->nissued >= VGPU_GREEN_ISSUED_MAX ||
		    vgpu_room_for_one(&g->issued, &g->capissued, g->nissued, sizeof(*g->issued), 16) < 0)
			rc = -1;
		else
			memcpy(g->issued[g->nissued++], r, sizeof(*r));
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

static int issued_has(struct vgpu_zone *z, const CUdevResource *r)
{
	struct vgpu_green_zone *g = &z->green;
	int found = 0;
	pthread_mutex_lock(&g->lock);
	for (uint32_t i = 0; i < g->nissued && !found; i++)
		found = !memcmp(g->issued[i], r, sizeof(*r));
	pthread_mutex_unlock(&g->lock);
	return found;
}

static CUresult issue(struct vgpu_proxy_call *call, CUresult r, CUdevResource *res)
{
	if (r != CUDA_SUCCESS || !res)
		return r;
	if (issued_add(call->zone, res) < 0) {
		vgpu_warn("%s: refused: the zone was given %u distinct device resources, the most it may hold",
			  call->desc->name, VGPU_GREEN_ISSUED_MAX);
		memset(res, 0, sizeof(*res));
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return r;
}

static CUresult device_resource(struct vgpu_proxy_call *call, void **argv)
{
	if (!call->drv->cuDeviceGetDevResource)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUdevResource *res = ARG(CUdevResource *, 1);
	return issue(call, call->drv->cuDeviceGetDevResource(ARG(CUdevice, 0), res, ARG(CUdevResourceType, 2)), res);
}

static CUresult ctx_resource(struct vgpu_proxy_call *call, void **argv)
{
	if (!call->drv->cuCtxGetDevResource)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUdevResource *res = ARG(CUdevResource *, 1);
	return issue(call, call->drv->cuCtxGetDevResource(ARG(CUcontext, 0), res, ARG(CUdevResourceType, 2)), res);
}

static CUresult green_resource(struct vgpu_proxy_call *call, void **argv)
{
	if (!call->drv->cuGreenCtxGetDevResource)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUdevResource *res = ARG(CUdevResource *, 1);
	return issue(call, call->drv->cuGreenCtxGetDevResource(ARG(CUgreenCtx, 0), res, ARG(CUdevResourceType, 2)), res);
}

static CUresult green_split(struct vgpu_proxy_call *call, void **argv)
{
	unsigned cap = ARG(uint32_t, VGPU_GSW_CAP), nb = cap;
	CUdevResource *result = ARG(CUdevResource *, VGPU_GSW_RESULT), *rem = ARG(CUdevResource *, VGPU_GSW_REMAINING);
	const CUdevResource *in = ARG(const CUdevResource *, VGPU_GSW_INPUT);
	unsigned *out_nb = ARG(unsigned *, VGPU_GSW_NB);

	if (!call->drv->cuDevSmResourceSplitByCount)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!in || !out_nb || !rem || cap > VGPU_GREEN_SPLIT_MAX || (cap && !result))
		return CUDA_ERROR_INVALID_VALUE;
	if (!issued_has(call->zone, in)) {
		vgpu_debug("cuDevSmResourceSplitByCount: the input is not a resource the driver gave the zone");
		return CUDA_ERROR_INVALID_VALUE;
	}
	memset(rem, 0, sizeof(*rem));
	CUresult r = call->drv->cuDevSmResourceSplitByCount(cap ? result : NULL, &nb, in,
							    ARG(uint32_t, VGPU_GSW_WANT_REM) ? rem : NULL,
							    ARG(uint32_t, VGPU_GSW_FLAGS), ARG(uint32_t, VGPU_GSW_MIN));
	if (r != CUDA_SUCCESS)
		return r;
	if (cap && nb > cap)   /* (the driver writes no more than it was given room for) */
		return CUDA_ERROR_UNKNOWN;
	*out_nb = nb;
	for (unsigned i = 0; cap && i < nb && r == CUDA_SUCCESS; i++)
		r = issue(call, r, &result[i]);
	if (r == CUDA_SUCCESS && ARG(uint32_t, VGPU_GSW_WANT_REM))
		r = issue(call, r, rem);
	return r;
}

static CUresult generate_desc(struct vgpu_proxy_call *call, void **argv)
{
	CUdevResource *res = ARG(CUdevResource *, 1);
	unsigned n = ARG(unsigned, 2);

	if (!call->drv->cuDevResourceGenerateDesc)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (n > VGPU_GREEN_SPLIT_MAX || (n && !res))
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned i = 0; i < n; i++)
		if (!issued_has(call->zone, &res[i])) {
			vgpu_debug("cuDevResourceGenerateDesc: resource %u is not one the driver gave the zone", i);
			return CUDA_ERROR_INVALID_VALUE;
		}
	return call->drv->cuDevResourceGenerateDesc(ARG(CUdevResourceDesc *, 0), res, n);
}

static CUresult green_create(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_green_zone *g = &call->zone->green;
	CUgreenCtx *out = ARG(CUgreenCtx *, 0);
	CUdevice dev = ARG(CUdevice, 2);

	if (!call->drv->cuGreenCtxCreate || !call->drv->cuGreenCtxDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = call->drv->cuGreenCtxCreate(out, ARG(CUdevResourceDesc, 1), dev, ARG(unsigned, 3));
	if (r != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&g->lock);
	int ok = vgpu_room_for_one(&g->ctx, &g->capctx, g->nctx, sizeof(*g->ctx), 4) == 0;
	if (ok)
		g->ctx[g->nctx++] = (struct vgpu_green_ctx){ .green = *out, .dev = dev };
	pthread_mutex_unlock(&g->lock);
	if (!ok) {
		call->drv->cuGreenCtxDestroy(*out);
		*out = NULL;
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

static CUresult green_destroy(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_green_zone *g = &call->zone->green;
	CUgreenCtx h = ARG(CUgreenCtx, 0);

	if (!call->drv->cuGreenCtxDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = call->drv->cuGreenCtxDestroy(h);
	if (r == CUDA_SUCCESS) {   /* (its CUcontext's handle goes with it: the green context owns it, custom.c) */
		pthread_mutex_lock(&g->lock);
		for (uint32_t i = 0; i < g->nctx; i++)
			if (g->ctx[i].green == h) {
				g->ctx[i] = g->ctx[--g->nctx];
				break;
			}
		pthread_mutex_unlock(&g->lock);
	}
	return r;
}

/* Its CUcontext, and the device's primary context, which what is made under it belongs to. */
static CUresult from_green(struct vgpu_proxy_call *call, void **argv)
{
	struct vgpu_green_zone *g = &call->zone->green;
	CUcontext *out = ARG(CUcontext *, 0);
	CUgreenCtx h = ARG(CUgreenCtx, 1);
	const struct vgpu_backend_fns *f = &call->backend->fn;

	if (!call->drv->cuCtxFromGreenCtx)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = call->drv->cuCtxFromGreenCtx(out, h);
	if (r != CUDA_SUCCESS || !out || !*out)
		return r;
	CUcontext primary = NULL;
	pthread_mutex_lock(&g->lock);
	for (uint32_t i = 0; i < g->nctx; i++) {
		if (g->ctx[i].green != h)
			continue;
		/* the green context holds the primary context retained: one more retain and its
		 * release only name it */
		if (!g->ctx[i].primary && f->cuDevicePrimaryCtxRetain && f->cuDevicePrimaryCtxRelease_v2 &&
		    f->cuDevicePrimaryCtxRetain(&primary, g->ctx[i].dev) == CUDA_SUCCESS) {
			f->cuDevicePrimaryCtxRelease_v2(g->ctx[i].dev);
			g->ctx[i].primary = primary;
		}
		g->ctx[i].alias = *out;
		break;
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}

const void *vgpu_green_owner_ctx(struct vgpu_zone *z, const void *ctx)
{
	struct vgpu_green_zone *g = &z->green;
	const void *owner = ctx;
	if (!ctx || !__atomic_load_n(&g->nctx, __ATOMIC_RELAXED))
		return ctx;
	pthread_mutex_lock(&g->lock);
	for (uint32_t i = 0; i < g->nctx; i++)
		if (g->ctx[i].alias == ctx && g->ctx[i].primary) {
			owner = g->ctx[i].primary;
			break;
		}
	pthread_mutex_unlock(&g->lock);
	return owner;
}

int vgpu_green_is_alias(struct vgpu_zone *z, const void *ctx)
{
	struct vgpu_green_zone *g = &z->green;
	int is = 0;
	pthread_mutex_lock(&g->lock);
	for (uint32_t i = 0; i < g->nctx && !is; i++)
		is = g->ctx[i].alias == ctx;
	pthread_mutex_unlock(&g->lock);
	return is;
}

unsigned vgpu_green_zone_end(struct vgpu_zone *z, const struct vgpu_backend_fns *f)
{
	struct vgpu_green_zone *g = &z->green;
	unsigned n = 0;
	pthread_mutex_lock(&g->lock);
	for (uint32_t i = 0; i < g->nctx; i++)
		n += f->cuGreenCtxDestroy && f->cuGreenCtxDestroy((CUgreenCtx)g->ctx[i].green) == CUDA_SUCCESS;
	g->nctx = 0;
	pthread_mutex_unlock(&g->lock);
	return n;
}

#define WIRE(nm, op, args, n) \
	static const struct vgpu_call_desc wire_##nm = VGPU_WIRE_DESC(#nm, op, VGPU_CALLF_CUSTOM, args, n)
WIRE(cuDevSmResourceSplitByCount, VGPU_OP_cuDevSmResourceSplitByCount, vgpu_wire_green_split_args, VGPU_GSW_NARGS);

/* The generated calls among these keep their generated layout; only the driver part is theirs. */
__attribute__((constructor)) static void green_register(void)
{
	static const struct {
		const struct vgpu_call_desc *d;
		vgpu_proxy_wire_fn fn;
	} tab[] = {
		{ &vgpu_call_cuDeviceGetDevResource, device_resource },
		{ &vgpu_call_cuCtxGetDevResource, ctx_resource },
		{ &vgpu_call_cuGreenCtxGetDevResource, green_resource },
		{ &wire_cuDevSmResourceSplitByCount, green_split },
		{ &vgpu_call_cuDevResourceGenerateDesc, generate_desc },
		{ &vgpu_call_cuGreenCtxCreate, green_create },
		{ &vgpu_call_cuGreenCtxDestroy, green_destroy },
		{ &vgpu_call_cuCtxFromGreenCtx, from_green },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		vgpu_proxy_wire_register(tab[i].d->opcode, tab[i].d, tab[i].fn, tab[i].d->name);
}
