/* SPDX-License-Identifier: MIT */
/* custom_texture.c — proxy handlers of CUDA arrays (charged to the zone's memory quota) and texture and surface objects. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "proxy.h"

#include <stdlib.h>
#include <string.h>

#include "custom_wire.h"
#include "log.h"
#include "proxyd.h"
#include "texture.h"
#include "vgpu_calls.h"
#include "vgpu_dispatch.h"
#include "vgpu_ops.h"

#define ARG(T, i) (*(T *)argv[i])

/* ---------------------------------------------------------------- arrays */

/* Create through the driver with the charge reserved first; the array is recorded with the
 * context it belongs to so that the charge goes back when either goes. */
static CUresult array_made(struct vgpu_proxy_call *call, CUresult r, CUarray *out, uint64_t bytes)
{
	if (r != CUDA_SUCCESS || !*out) {
		vgpu_zone_mem_release(call->zone, bytes);
		return r != CUDA_SUCCESS ? r : CUDA_ERROR_UNKNOWN;
	}
	if (vgpu_tex_array_note(call->zone, *out, vgpu_proxy_current_ctx(call), bytes) < 0) {
		call->drv->cuArrayDestroy(*out);
		*out = NULL;
		vgpu_zone_mem_release(call->zone, bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

static CUresult reserve(struct vgpu_proxy_call *call, uint64_t bytes, const char *what)
{
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if (vgpu_zone_mem_reserve(call->zone, bytes) < 0) {
		vgpu_info("%s of %llu bytes refused: over the zone's device memory quota", what,
			  (unsigned long long)bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

static CUresult array_create(struct vgpu_proxy_call *call, void **argv)
{
	CUarray *out = ARG(CUarray *, 0);
	const CUDA_ARRAY_DESCRIPTOR *d = ARG(const CUDA_ARRAY_DESCRIPTOR *, 1);
	CUresult r;

	if (!call->drv->cuArrayCreate_v2 || !call->drv->cuArrayDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !d)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t bytes = vgpu_tex_array_charge(d->Width, d->Height, 1, d->Format, d->NumChannels);
	if ((r = reserve(call, bytes, "cuArrayCreate")) != CUDA_SUCCESS)
		return r;
	return array_made(call, call->drv->cuArrayCreate_v2(out, d), out, bytes);
}

static CUresult array3d_create(struct vgpu_proxy_call *call, void **argv)
{
	CUarray *out = ARG(CUarray *, 0);
	const CUDA_ARRAY3D_DESCRIPTOR *d = ARG(const CUDA_ARRAY3D_DESCRIPTOR *, 1);
	CUresult r;

	if (!call->drv->cuArray3DCreate_v2 || !call->drv->cuArrayDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !d)
		return CUDA_ERROR_INVALID_VALUE;
	/* a cubemap has 6 faces (6 x layers when layered) in Depth already */
	uint64_t bytes = vgpu_tex_array_charge(d->Width, d->Height, d->Depth, d->Format, d->NumChannels);
	if ((r = reserve(call, bytes, "cuArray3DCreate")) != CUDA_SUCCESS)
		return r;
	return array_made(call, call->drv->cuArray3DCreate_v2(out, d), out, bytes);
}

static CUresult array_destroy(struct vgpu_proxy_call *call, void **argv)
{
	CUarray a = ARG(CUarray, 0);

	if (!call->drv->cuArrayDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = call->drv->cuArrayDestroy(a);
	if (r == CUDA_SUCCESS) {
		uint64_t bytes = vgpu_tex_array_forget(call->zone, a);
		if (bytes)
			vgpu_zone_mem_release(call->zone, bytes);
	}
	return r;
}

/* ---------------------------------------------------------------- mipmapped arrays */

/* What every level of a mipmapped array is charged: each level halves the extents that are
 * extents (width, height, and depth of a 3D array; a layered or cubemap array's layers stay),
 * never below 1. 0 when the shape overflows or the level count is impossible. */
static uint64_t mipmap_charge(const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels)
{
	uint64_t w = d->Width, h = d->Height, dep = d->Depth, total = 0;
	int layers = (d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0;

	if (!levels || levels > 64 || !w)
		return 0;
	for (unsigned i = 0; i < levels; i++) {
		uint64_t b = vgpu_tex_array_charge(w, h, dep, d->Format, d->NumChannels);
		if (!b || __builtin_add_overflow(total, b, &total))
			return 0;
		w = w > 1 ? w >> 1 : 1;
		if (h)
			h = h > 1 ? h >> 1 : 1;
		if (dep && !layers)
			dep = dep > 1 ? dep >> 1 : 1;
	}
	return total;
}

static CUresult mipmap_create(struct vgpu_proxy_call *call, void **argv)
{
	CUmipmappedArray *out = ARG(CUmipmappedArray *, 0);
	const CUDA_ARRAY3D_DESCRIPTOR *d = ARG(const CUDA_ARRAY3D_DESCRIPTOR *, 1);
	unsigned levels = ARG(unsigned, 2);
	CUresult r;

	if (!call->drv->cuMipmappedArrayCreate || !call->drv->cuMipmappedArrayDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !d)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t bytes = mipmap_charge(d, levels);
	if ((r = reserve(call, bytes, "cuMipmappedArrayCreate")) != CUDA_SUCCESS)
		return r;
	r = call->drv->cuMipmappedArrayCreate(out, d, levels);
	if (r != CUDA_SUCCESS || !*out) {
		vgpu_zone_mem_release(call->zone, bytes);
		return r != CUDA_SUCCESS ? r : CUDA_ERROR_UNKNOWN;
	}
	/* recorded (and its charge returned) like an array's, by its handle */
	if (vgpu_tex_array_note(call->zone, *out, vgpu_proxy_current_ctx(call), bytes) < 0) {
		call->drv->cuMipmappedArrayDestroy(*out);
		*out = NULL;
		vgpu_zone_mem_release(call->zone, bytes);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

static CUresult mipmap_destroy(struct vgpu_proxy_call *call, void **argv)
{
	CUmipmappedArray m = ARG(CUmipmappedArray, 0);

	if (!call->drv->cuMipmappedArrayDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = call->drv->cuMipmappedArrayDestroy(m);
	if (r == CUDA_SUCCESS) {   /* (its levels' handles go with it: they are its, custom.c) */
		uint64_t bytes = vgpu_tex_array_forget(call->zone, m);
		if (bytes)
			vgpu_zone_mem_release(call->zone, bytes);
	}
	return r;
}

int vgpu_proxy_array_is_level(struct vgpu_zone *z, const void *array)
{
	uint64_t id;
	const void *owner = vgpu_zone_handle_owner(z, VGPU_H_ARRAY, array);
	return owner && vgpu_zone_handle_find(z, VGPU_H_MIPMAPPED_ARRAY, owner, &id) == 0;
}

/* ---------------------------------------------------------------- texture and surface objects */

/*
 * The resource the object will read (or, for a surface, write): the zone's own array, or a
 * device range of its own memory. Nothing else reaches the driver.
 */
static CUresult resource_check(struct vgpu_proxy_call *call, CUDA_RESOURCE_DESC *res, void *array, int surface)
{
	uint64_t len, t;

	if (res->flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (surface && res->resType != CU_RESOURCE_TYPE_ARRAY)
		return CUDA_ERROR_INVALID_VALUE;
	switch (res->resType) {
	case CU_RESOURCE_TYPE_ARRAY:
		if (!array)
			return CUDA_ERROR_INVALID_HANDLE;
		res->res.array.hArray = (CUarray)array;
		return CUDA_SUCCESS;
	case CU_RESOURCE_TYPE_LINEAR:
		if (!res->res.linear.sizeInBytes)
			return CUDA_ERROR_INVALID_VALUE;
		return vgpu_proxy_check_dptr(call, res->res.linear.devPtr, res->res.linear.sizeInBytes);
	case CU_RESOURCE_TYPE_PITCH2D: {
		uint64_t w = res->res.pitch2D.width, h = res->res.pitch2D.height, pitch = res->res.pitch2D.pitchInBytes;
		uint64_t texel = vgpu_tex_format_bytes(res->res.pitch2D.format) * (uint64_t)res->res.pitch2D.numChannels;
		if (!w || !h || !texel)
			return CUDA_ERROR_INVALID_VALUE;
		/* the rows the object can read: h-1 whole pitches and one row of w texels */
		if (__builtin_mul_overflow(h - 1, pitch, &len) || __builtin_mul_overflow(w, texel, &t) ||
		    __builtin_add_overflow(len, t, &len))
			return CUDA_ERROR_INVALID_VALUE;
		return vgpu_proxy_check_dptr(call, res->res.pitch2D.devPtr, len);
	}
	case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY: {
		/* the zone's handle travels in the descriptor (libvgpu/texture.c): translated as the
		 * decoder translates handles, by the zone's table and of this type only */
		void *real = NULL;
		if (vgpu_zone_handle_in(call->zone, VGPU_H_MIPMAPPED_ARRAY,
					(uint64_t)(uintptr_t)res->res.mipmap.hMipmappedArray, &real) < 0 || !real)
			return CUDA_ERROR_INVALID_HANDLE;
		res->res.mipmap.hMipmappedArray = (CUmipmappedArray)real;
		return CUDA_SUCCESS;
	}
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

static CUresult object_create(struct vgpu_proxy_call *call, void **argv)
{
	int surface = call->hdr.opcode == VGPU_OP_cuSurfObjectCreate;
	uint64_t *out = ARG(uint64_t *, VGPU_TXW_OBJ);
	CUDA_RESOURCE_DESC res = *ARG(const CUDA_RESOURCE_DESC *, VGPU_TXW_RES);
	const CUDA_TEXTURE_DESC *tex = ARG(const CUDA_TEXTURE_DESC *, VGPU_TXW_TEX);
	const CUDA_RESOURCE_VIEW_DESC *view = ARG(const CUDA_RESOURCE_VIEW_DESC *, VGPU_TXW_VIEW);
	uint32_t has_view = ARG(uint32_t, VGPU_TXW_HAS_VIEW);
	CUresult r;

	if (!out || !tex || !view)
		return CUDA_ERROR_INVALID_VALUE;
	if (surface ? !call->drv->cuSurfObjectCreate || !call->drv->cuSurfObjectDestroy
		    : !call->drv->cuTexObjectCreate || !call->drv->cuTexObjectDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (surface && has_view)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = resource_check(call, &res, ARG(void *, VGPU_TXW_ARRAY), surface)) != CUDA_SUCCESS)
		return r;
	uint64_t v = 0;
	if (surface) {
		CUsurfObject s = 0;
		r = call->drv->cuSurfObjectCreate(&s, &res);
		v = s;
	} else {
		CUtexObject o = 0;
		r = call->drv->cuTexObjectCreate(&o, &res, tex, has_view ? view : NULL);
		v = o;
	}
	if (r != CUDA_SUCCESS)
		return r;
	if (vgpu_tex_obj_add(call->zone, v, vgpu_proxy_current_ctx(call), (uint32_t)surface) < 0) {
		if (surface)
			call->drv->cuSurfObjectDestroy(v);
		else
			call->drv->cuTexObjectDestroy(v);
		vgpu_info("%s refused: the zone holds %u texture and surface objects, the most it may",
			  surface ? "cuSurfObjectCreate" : "cuTexObjectCreate", VGPU_TEX_OBJ_MAX);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*out = v;
	return CUDA_SUCCESS;
}

static CUresult object_destroy(struct vgpu_proxy_call *call, void **argv)
{
	int surface = call->hdr.opcode == VGPU_OP_cuSurfObjectDestroy;
	uint64_t v = ARG(uint64_t, 0);
	const void *ctx = NULL;

	if (surface ? !call->drv->cuSurfObjectDestroy : !call->drv->cuTexObjectDestroy)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (vgpu_tex_obj_take(call->zone, v, (uint32_t)surface, &ctx) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = surface ? call->drv->cuSurfObjectDestroy(v) : call->drv->cuTexObjectDestroy(v);
	if (r != CUDA_SUCCESS && vgpu_tex_obj_add(call->zone, v, ctx, (uint32_t)surface) < 0)
		vgpu_warn("texture object 0x%llx: kept by the driver, forgotten by the zone", (unsigned long long)v);
	return r;
}

static CUresult object_resource(struct vgpu_proxy_call *call, void **argv)
{
	int surface = call->hdr.opcode == VGPU_OP_cuSurfObjectGetResourceDesc;
	CUDA_RESOURCE_DESC *res = ARG(CUDA_RESOURCE_DESC *, VGPU_TOW_RES);
	uint64_t *array = ARG(uint64_t *, VGPU_TOW_ARRAY);
	uint64_t v = ARG(uint64_t, VGPU_TOW_OBJ);

	if (!res || !array)
		return CUDA_ERROR_INVALID_VALUE;
	memset(res, 0, sizeof(*res));
	*array = 0;
	if (surface ? !call->drv->cuSurfObjectGetResourceDesc : !call->drv->cuTexObjectGetResourceDesc)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!vgpu_tex_obj_has(call->zone, v, (uint32_t)surface))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = surface ? call->drv->cuSurfObjectGetResourceDesc(res, v) : call->drv->cuTexObjectGetResourceDesc(res, v);
	*array = 0;
	if (r != CUDA_SUCCESS)
		return r;
	/* The zone sees its own handle of the array, and no driver pointer: an array it no longer
	 * holds a handle of reads as 0. */
	if (res->resType == CU_RESOURCE_TYPE_ARRAY) {
		uint64_t id = 0;
		if (vgpu_zone_handle_find(call->zone, VGPU_H_ARRAY, res->res.array.hArray, &id) == 0)
			*array = id;
		res->res.array.hArray = NULL;
	} else if (res->resType == CU_RESOURCE_TYPE_MIPMAPPED_ARRAY) {
		uint64_t id = 0;
		if (vgpu_zone_handle_find(call->zone, VGPU_H_MIPMAPPED_ARRAY, res->res.mipmap.hMipmappedArray, &id) == 0)
			*array = id;
		res->res.mipmap.hMipmappedArray = NULL;
	}
	return CUDA_SUCCESS;
}

/* cuTexObjectGetTextureDesc / GetResourceViewDesc: the generated layout, a checked value. */
static CUresult object_desc(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t v = ARG(uint64_t, 1);

	if (!vgpu_tex_obj_has(call->zone, v, 0))
		return CUDA_ERROR_INVALID_VALUE;
	if (call->hdr.opcode == VGPU_OP_cuTexObjectGetTextureDesc)
		return call->drv->cuTexObjectGetTextureDesc
			       ? call->drv->cuTexObjectGetTextureDesc(ARG(CUDA_TEXTURE_DESC *, 0), v)
			       : CUDA_ERROR_NOT_SUPPORTED;
	return call->drv->cuTexObjectGetResourceViewDesc
		       ? call->drv->cuTexObjectGetResourceViewDesc(ARG(CUDA_RESOURCE_VIEW_DESC *, 0), v)
		       : CUDA_ERROR_NOT_SUPPORTED;
}

#define WIRE(nm, op, args, n) \
	static const struct vgpu_call_desc wire_##nm = VGPU_WIRE_DESC(#nm, op, VGPU_CALLF_CUSTOM, args, n)
WIRE(cuTexObjectCreate, VGPU_OP_cuTexObjectCreate, vgpu_wire_texobj_create_args, VGPU_TXW_NARGS);
WIRE(cuSurfObjectCreate, VGPU_OP_cuSurfObjectCreate, vgpu_wire_texobj_create_args, VGPU_TXW_NARGS);
WIRE(cuTexObjectGetResourceDesc, VGPU_OP_cuTexObjectGetResourceDesc, vgpu_wire_texobj_resource_args, VGPU_TOW_NARGS);
WIRE(cuSurfObjectGetResourceDesc, VGPU_OP_cuSurfObjectGetResourceDesc, vgpu_wire_texobj_resource_args,
     VGPU_TOW_NARGS);

/* The generated calls among these keep their generated layout (handles translated, destroys
 * finished by the framework); only the driver part is replaced. */
__attribute__((constructor)) static void texture_register(void)
{
	static const struct {
		const struct vgpu_call_desc *d;
		vgpu_proxy_wire_fn fn;
	} tab[] = {
		{ &vgpu_call_cuArrayCreate_v2, array_create },
		{ &vgpu_call_cuArray3DCreate_v2, array3d_create },
		{ &vgpu_call_cuArrayDestroy, array_destroy },
		{ &vgpu_call_cuMipmappedArrayCreate, mipmap_create },
		{ &vgpu_call_cuMipmappedArrayDestroy, mipmap_destroy },
		{ &wire_cuTexObjectCreate, object_create },
		{ &wire_cuSurfObjectCreate, object_create },
		{ &vgpu_call_cuTexObjectDestroy, object_destroy },
		{ &vgpu_call_cuSurfObjectDestroy, object_destroy },
		{ &wire_cuTexObjectGetResourceDesc, object_resource },
		{ &wire_cuSurfObjectGetResourceDesc, object_resource },
		{ &vgpu_call_cuTexObjectGetTextureDesc, object_desc },
		{ &vgpu_call_cuTexObjectGetResourceViewDesc, object_desc },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		vgpu_proxy_wire_register(tab[i].d->opcode, tab[i].d, tab[i].fn, tab[i].d->name);
}
