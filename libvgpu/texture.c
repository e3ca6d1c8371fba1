/* SPDX-License-Identifier: MIT */
/* texture.c — texture and surface objects: the resource's array travels as the zone's handle. */
#include "client.h"

#include <string.h>

#include "custom_wire.h"
#include "vgpu_ops.h"

static const struct vgpu_call_desc desc_tex_create =
	VGPU_WIRE_DESC("cuTexObjectCreate", VGPU_OP_cuTexObjectCreate, VGPU_CALLF_CUSTOM, vgpu_wire_texobj_create_args,
		       VGPU_TXW_NARGS);
static const struct vgpu_call_desc desc_surf_create =
	VGPU_WIRE_DESC("cuSurfObjectCreate", VGPU_OP_cuSurfObjectCreate, VGPU_CALLF_CUSTOM,
		       vgpu_wire_texobj_create_args, VGPU_TXW_NARGS);
static const struct vgpu_call_desc desc_tex_resource =
	VGPU_WIRE_DESC("cuTexObjectGetResourceDesc", VGPU_OP_cuTexObjectGetResourceDesc, VGPU_CALLF_CUSTOM,
		       vgpu_wire_texobj_resource_args, VGPU_TOW_NARGS);
static const struct vgpu_call_desc desc_surf_resource =
	VGPU_WIRE_DESC("cuSurfObjectGetResourceDesc", VGPU_OP_cuSurfObjectGetResourceDesc, VGPU_CALLF_CUSTOM,
		       vgpu_wire_texobj_resource_args, VGPU_TOW_NARGS);

/*
 * The resource descriptor without a host pointer in it: an array resource's handle (the
 * zone's id of it) goes beside the struct, where the proxy translates it like any handle; a
 * mipmapped array's id stays in the struct, where the proxy translates it the same way.
 */
static CUresult send_create(const struct vgpu_call_desc *d, void *pobj, const CUDA_RESOURCE_DESC *res,
			    const CUDA_TEXTURE_DESC *tex, const CUDA_RESOURCE_VIEW_DESC *view)
{
	CUDA_RESOURCE_DESC r;
	CUDA_TEXTURE_DESC t;
	CUDA_RESOURCE_VIEW_DESC v;
	uint64_t array = 0;
	uint32_t has_view = view != NULL;

	if (!pobj || !res)
		return CUDA_ERROR_INVALID_VALUE;
	r = *res;
	if (r.resType == CU_RESOURCE_TYPE_ARRAY) {
		array = (uint64_t)(uintptr_t)r.res.array.hArray;
		r.res.array.hArray = NULL;
		if (!array)
			return CUDA_ERROR_INVALID_VALUE;
	} else if (r.resType == CU_RESOURCE_TYPE_MIPMAPPED_ARRAY) {
		/* the zone's handle stays in the descriptor, which the proxy translates itself */
		if (!r.res.mipmap.hMipmappedArray)
			return CUDA_ERROR_INVALID_VALUE;
	}
	memset(&t, 0, sizeof(t));
	memset(&v, 0, sizeof(v));
	if (tex)
		t = *tex;
	if (view)
		v = *view;
	void *argv[VGPU_TXW_NARGS] = {
		[VGPU_TXW_OBJ] = &pobj, [VGPU_TXW_RES] = &(const CUDA_RESOURCE_DESC *){ &r },
		[VGPU_TXW_ARRAY] = &array, [VGPU_TXW_TEX] = &(const CUDA_TEXTURE_DESC *){ &t },
		[VGPU_TXW_VIEW] = &(const CUDA_RESOURCE_VIEW_DESC *){ &v }, [VGPU_TXW_HAS_VIEW] = &has_view,
	};
	return vgpu_client_call(d, argv);
}

CUresult CUDAAPI cuTexObjectCreate(CUtexObject *pTexObject, const CUDA_RESOURCE_DESC *pResDesc,
				   const CUDA_TEXTURE_DESC *pTexDesc, const CUDA_RESOURCE_VIEW_DESC *pResViewDesc)
{
	if (!pTexDesc)
		return CUDA_ERROR_INVALID_VALUE;
	return send_create(&desc_tex_create, pTexObject, pResDesc, pTexDesc, pResViewDesc);
}

CUresult CUDAAPI cuSurfObjectCreate(CUsurfObject *pSurfObject, const CUDA_RESOURCE_DESC *pResDesc)
{
	return send_create(&desc_surf_create, pSurfObject, pResDesc, NULL, NULL);
}

static CUresult get_resource(const struct vgpu_call_desc *d, CUDA_RESOURCE_DESC *pResDesc, uint64_t obj)
{
	uint64_t array = 0;

	if (!pResDesc)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_TOW_NARGS] = { [VGPU_TOW_RES] = &pResDesc, [VGPU_TOW_ARRAY] = &(uint64_t *){ &array },
				       [VGPU_TOW_OBJ] = &obj };
	CUresult r = vgpu_client_call(d, argv);
	if (r == CUDA_SUCCESS && pResDesc->resType == CU_RESOURCE_TYPE_ARRAY)
		pResDesc->res.array.hArray = (CUarray)(uintptr_t)array;
	else if (r == CUDA_SUCCESS && pResDesc->resType == CU_RESOURCE_TYPE_MIPMAPPED_ARRAY)
		pResDesc->res.mipmap.hMipmappedArray = (CUmipmappedArray)(uintptr_t)array;
	return r;
}

CUresult CUDAAPI cuTexObjectGetResourceDesc(CUDA_RESOURCE_DESC *pResDesc, CUtexObject texObject)
{
	return get_resource(&desc_tex_resource, pResDesc, texObject);
}

CUresult CUDAAPI cuSurfObjectGetResourceDesc(CUDA_RESOURCE_DESC *pResDesc, CUsurfObject surfObject)
{
	return get_resource(&desc_surf_resource, pResDesc, surfObject);
}
