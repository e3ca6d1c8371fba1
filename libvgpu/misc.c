/* SPDX-License-Identifier: MIT */
/* misc.c — the smaller hand-written calls: context creation, pointer attributes, occupancy, function names. */
#include "client.h"

#include <errno.h>
#include <string.h>

#include "custom_wire.h"
#include "kernels.h"
#include "library.h"
#include "vgpu_calls.h"
#include "vgpu_ops.h"

static const struct vgpu_call_desc desc_ctx_create =
	VGPU_WIRE_DESC("cuCtxCreate_v4", VGPU_OP_cuCtxCreate_v4, VGPU_CALLF_CUSTOM, vgpu_wire_ctx_create_args, VGPU_XW_NARGS);
static const struct vgpu_call_desc desc_pointer_attr =
	VGPU_WIRE_DESC("cuPointerGetAttribute", VGPU_OP_cuPointerGetAttribute, VGPU_CALLF_CUSTOM,
		       vgpu_wire_pointer_attr_args, VGPU_PW_NARGS);

/* CUDA 13's cuCtxCreate. Execution-affinity and CIG parameters would hand the zone control of
 * SM partitioning and graphics interop on the shared GPU: refused. */
CUresult CUDAAPI cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags, CUdevice dev)
{
	if (params && (params->numExecAffinityParams || params->execAffinityParams || params->cigParams))
		return vgpu_client_unsupported("cuCtxCreate_v4 with execution-affinity or CIG parameters");
	void *argv[VGPU_XW_NARGS] = { [VGPU_XW_PCTX] = &pctx, [VGPU_XW_FLAGS] = &flags, [VGPU_XW_DEV] = &dev };
	return vgpu_client_call(&desc_ctx_create, argv);
}

/* Bytes of *data for the attributes vgpu answers. 0 = not supported. */
static size_t attr_size(CUpointer_attribute a)
{
	switch (a) {
	case CU_POINTER_ATTRIBUTE_CONTEXT:        return sizeof(CUcontext);
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:    return sizeof(unsigned int);
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: return sizeof(CUdeviceptr);
	case CU_POINTER_ATTRIBUTE_HOST_POINTER:   return sizeof(void *);
	case CU_POINTER_ATTRIBUTE_BUFFER_ID:      return sizeof(unsigned long long);
	case CU_POINTER_ATTRIBUTE_IS_MANAGED:     return sizeof(unsigned int);
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return sizeof(int);
	case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return sizeof(CUdeviceptr);
	case CU_POINTER_ATTRIBUTE_RANGE_SIZE:     return sizeof(size_t);
	case CU_POINTER_ATTRIBUTE_MAPPED:         return sizeof(unsigned int);
	case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:    return sizeof(int);
	default:                                  return 0;
	}
}

/* A zone host pointer: answered here (the proxy knows nothing of zone memory). */
static CUresult host_pointer_attr(void *data, CUpointer_attribute a, CUdeviceptr ptr)
{
	unsigned flags;
	uint64_t dptr;

	if (vgpu_hostmem_lookup((const void *)(uintptr_t)ptr, &flags, &dptr) < 0)
		return CUDA_ERROR_INVALID_VALUE; /* not memory the driver knows, as the driver says */
	int managed = vgpu_hostmem_managed((const void *)(uintptr_t)ptr);
	switch (a) {
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
		if (!dptr)
			return CUDA_ERROR_INVALID_VALUE;
		*(CUdeviceptr *)data = (CUdeviceptr)dptr;
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:   /* managed memory is the device's, as the driver says */
		*(unsigned int *)data = managed ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_HOST_POINTER:
		*(void **)data = (void *)(uintptr_t)ptr;
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_IS_MANAGED:
		*(unsigned int *)data = managed;
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_MAPPED:
		*(unsigned int *)data = 1;
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult CUDAAPI cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
	size_t sz = attr_size(attribute);
	uint64_t value = 0;
	unsigned int a = attribute;
	CUresult r;

	if (!data || !vgpu_pointer_attr_known(a))
		return CUDA_ERROR_INVALID_VALUE;
	if (!sz)
		return vgpu_client_unsupported("cuPointerGetAttribute for this attribute");
	if (!vgpu_dmap_contains(ptr, 1)) {
		CUresult err;
		if (!vgpu_conn_get(&err))
			return err;
		return host_pointer_attr(data, attribute, ptr);
	}
	if (attribute == CU_POINTER_ATTRIBUTE_HOST_POINTER)
		return CUDA_ERROR_INVALID_VALUE; /* device memory has no host mapping in a zone */
	uint64_t *pv = &value;
	void *argv[VGPU_PW_NARGS] = { [VGPU_PW_VALUE] = &pv, [VGPU_PW_ATTR] = &a, [VGPU_PW_PTR] = &ptr };
	r = vgpu_client_call(&desc_pointer_attr, argv);
	if (r == CUDA_SUCCESS)
		memcpy(data, &value, sz); /* little-endian: the low bytes are the narrower value */
	return r;
}

CUresult CUDAAPI cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes, void **data,
					CUdeviceptr ptr)
{
	if (!attributes || !data)
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned i = 0; i < numAttributes; i++)
		if (!vgpu_pointer_attr_known(attributes[i]))
			return CUDA_ERROR_INVALID_VALUE;
	for (unsigned i = 0; i < numAttributes; i++) {
		if (!data[i])
			continue;
		CUresult r = cuPointerGetAttribute(data[i], attributes[i], ptr);
		/*
		 * As the driver: a pointer it does not know, or an attribute without a value for
		 * this pointer (the host address of device memory), gets the attribute's zero
		 * value, and the call succeeds; unsupported attributes' data is left untouched.
		 */
		if (r == CUDA_ERROR_DEVICE_UNAVAILABLE || r == CUDA_ERROR_NOT_INITIALIZED)
			return r;
		if (r != CUDA_SUCCESS && attr_size(attributes[i]))
			memset(data[i], 0, attr_size(attributes[i]));
	}
	return CUDA_SUCCESS;
}

/*
 * CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, the one attribute the driver sets (MPI libraries set it on
 * every device buffer they register), on the zone's device memory; a host pointer or another
 * attribute is CUDA_ERROR_INVALID_VALUE, as the driver answers.
 */
static const struct vgpu_call_desc desc_pointer_set_attr =
	VGPU_WIRE_DESC("cuPointerSetAttribute", VGPU_OP_cuPointerSetAttribute, VGPU_CALLF_CUSTOM,
		       vgpu_wire_pointer_set_attr_args, VGPU_PSW_NARGS);

CUresult CUDAAPI cuPointerSetAttribute(const void *value, CUpointer_attribute attribute, CUdeviceptr ptr)
{
	CUresult err;

	if (!vgpu_conn_get(&err))
		return err;
	if (!value || attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS || !vgpu_dmap_contains(ptr, 1))
		return CUDA_ERROR_INVALID_VALUE;
	uint32_t v = (uint32_t)*(const int *)value, a = attribute;
	void *argv[VGPU_PSW_NARGS] = { [VGPU_PSW_VALUE] = &v, [VGPU_PSW_ATTR] = &a, [VGPU_PSW_PTR] = &ptr };
	return vgpu_client_call(&desc_pointer_set_attr, argv);
}

/* The name is known in the zone from the cuModuleGetFunction that produced hfunc. */
CUresult CUDAAPI cuFuncGetName(const char **name, CUfunction hfunc)
{
	struct vgpu_kernel_info ki;
	CUresult r;

	if (!name || !hfunc)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = vgpu_library_resolve(&hfunc)) != CUDA_SUCCESS)
		return r;
	if (vgpu_kernels_lookup(hfunc, &ki) < 0)
		return CUDA_ERROR_INVALID_HANDLE;
	*name = vgpu_kernels_name(hfunc);
	return *name ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/*
 * The module's kernels are named by its image, which libvgpu read when it sent it: each is
 * looked up by name, so each function gets its handle and its parameter layout as from
 * cuModuleGetFunction (cuFFT finds its kernels this way, through an export table). The
 * driver's count bounds the answer, as the driver's own enumeration does.
 */
CUresult CUDAAPI cuModuleEnumerateFunctions(CUfunction *functions, unsigned int numFunctions, CUmodule mod)
{
	unsigned have = 0;
	char **names;
	size_t n;
	CUresult r = cuModuleGetFunctionCount(&have, mod);

	if (r != CUDA_SUCCESS)
		return r;
	if (!functions)   /* also for none asked, as the driver answers */
		return CUDA_ERROR_INVALID_VALUE;
	int rc = vgpu_kernels_module_names(mod, &names, &n);
	if (rc < 0) {
		vgpu_client_log(1, "cuModuleEnumerateFunctions: the module's kernels are not known in the zone (%s)",
				rc == -ENOMEM ? "out of memory" : "its image gave no kernel names");
		return rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_NOT_SUPPORTED;
	}
	if (n != have)
		vgpu_client_log(1, "cuModuleEnumerateFunctions: the image names %zu kernels, the driver counts %u",
				n, have);
	for (unsigned i = 0; r == CUDA_SUCCESS && i < numFunctions && i < n && i < have; i++)
		r = cuModuleGetFunction(&functions[i], mod, names[i]);
	vgpu_modimage_free_names(names, n);
	return r;
}

/*
 * The block-size search runs in the zone because the application's callback (dynamic shared
 * memory per block size) runs here; each candidate is one remote occupancy query.
 */
static CUresult max_potential_block_size(int *minGridSize, int *blockSize, CUfunction func,
					 CUoccupancyB2DSize cb, size_t dynamicSMemSize, int blockSizeLimit,
					 unsigned int flags)
{
	int maxThreads = 0, sms = 0, best = 0, bestBlocks = 0;
	CUdevice dev;
	CUresult r;

	if (!minGridSize || !blockSize || !func)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = vgpu_library_resolve(&func)) != CUDA_SUCCESS)
		return r;
	if ((r = cuFuncGetAttribute(&maxThreads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, func)) != CUDA_SUCCESS ||
	    (r = cuCtxGetDevice(&dev)) != CUDA_SUCCESS ||
	    (r = cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev)) != CUDA_SUCCESS)
		return r;
	if (blockSizeLimit > 0 && blockSizeLimit < maxThreads)
		maxThreads = blockSizeLimit;
	for (int bs = maxThreads - maxThreads % 32; bs > 0; bs -= 32) {
		int blocks = 0;
		size_t smem = cb ? cb(bs) : dynamicSMemSize;
		r = cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&blocks, func, bs, smem, flags);
		if (r != CUDA_SUCCESS)
			return r;
		if (blocks * bs > bestBlocks * best) {
			best = bs;
			bestBlocks = blocks;
		}
	}
	*blockSize = best;
	*minGridSize = bestBlocks * sms;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
						  CUoccupancyB2DSize cb, size_t dynamicSMemSize, int blockSizeLimit)
{
	return max_potential_block_size(minGridSize, blockSize, func, cb, dynamicSMemSize, blockSizeLimit, 0);
}

CUresult CUDAAPI cuOccupancyMaxPotentialBlockSizeWithFlags(int *minGridSize, int *blockSize, CUfunction func,
							   CUoccupancyB2DSize cb, size_t dynamicSMemSize,
							   int blockSizeLimit, unsigned int flags)
{
	return max_potential_block_size(minGridSize, blockSize, func, cb, dynamicSMemSize, blockSizeLimit, flags);
}

/* ---------------------------------------------------------------- memory pools */

static const struct vgpu_call_desc desc_pool_create =
	VGPU_WIRE_DESC("cuMemPoolCreate", VGPU_OP_cuMemPoolCreate, VGPU_CALLF_CUSTOM, vgpu_wire_pool_create_args,
		       VGPU_MPW_NARGS);
static const struct vgpu_call_desc desc_pool_set_attr =
	VGPU_WIRE_DESC("cuMemPoolSetAttribute", VGPU_OP_cuMemPoolSetAttribute, VGPU_CALLF_CUSTOM,
		       vgpu_wire_pool_set_attr_args, VGPU_PAW_NARGS);
static const struct vgpu_call_desc desc_pool_get_attr =
	VGPU_WIRE_DESC("cuMemPoolGetAttribute", VGPU_OP_cuMemPoolGetAttribute, VGPU_CALLF_CUSTOM,
		       vgpu_wire_pool_get_attr_args, VGPU_PAG_NARGS);

/* The props travel as plain numbers; the Windows-only pointer must be NULL, as on Linux. */
CUresult CUDAAPI cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)
{
	if (!pool || !poolProps || poolProps->win32SecurityAttributes)
		return CUDA_ERROR_INVALID_VALUE;
	uint32_t at = poolProps->allocType, ht = poolProps->handleTypes, lt = poolProps->location.type,
		 usage = poolProps->usage;
	int32_t lid = poolProps->location.id;
	uint64_t max = poolProps->maxSize;
	void *argv[VGPU_MPW_NARGS] = {
		[VGPU_MPW_POOL] = &pool, [VGPU_MPW_ALLOC_TYPE] = &at, [VGPU_MPW_HANDLE_TYPES] = &ht,
		[VGPU_MPW_LOC_TYPE] = &lt, [VGPU_MPW_LOC_ID] = &lid, [VGPU_MPW_MAX_SIZE] = &max,
		[VGPU_MPW_USAGE] = &usage,
	};
	return vgpu_client_call(&desc_pool_create, argv);
}

CUresult CUDAAPI cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
	uint32_t a = attr;
	uint64_t v;

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	v = vgpu_pool_attr_is_int(a) ? (uint64_t)(uint32_t)*(int *)value : *(cuuint64_t *)value;
	void *argv[VGPU_PAW_NARGS] = { [VGPU_PAW_POOL] = &pool, [VGPU_PAW_ATTR] = &a, [VGPU_PAW_VALUE] = &v };
	return vgpu_client_call(&desc_pool_set_attr, argv);
}

CUresult CUDAAPI cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
	uint32_t a = attr;
	uint64_t v = 0, *pv = &v;
	CUresult r;

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_PAG_NARGS] = { [VGPU_PAG_VALUE] = &pv, [VGPU_PAG_POOL] = &pool, [VGPU_PAG_ATTR] = &a };
	r = vgpu_client_call(&desc_pool_get_attr, argv);
	if (r == CUDA_SUCCESS) {
		if (vgpu_pool_attr_is_int(a))
			*(int *)value = (int)(uint32_t)v;
		else
			*(cuuint64_t *)value = v;
	}
	return r;
}

/* ---------------------------------------------------------------- stream capture */

static const struct vgpu_call_desc desc_capture_info =
	VGPU_WIRE_DESC("cuStreamGetCaptureInfo_v3", VGPU_OP_cuStreamGetCaptureInfo_v3, VGPU_CALLF_CUSTOM,
		       vgpu_wire_capture_info_args, VGPU_CIW_NARGS);
static const struct vgpu_call_desc desc_capture_info_ptsz =
	VGPU_WIRE_DESC("cuStreamGetCaptureInfo_v3_ptsz", VGPU_OP_cuStreamGetCaptureInfo_v3_ptsz, VGPU_CALLF_CUSTOM,
		       vgpu_wire_capture_info_args, VGPU_CIW_NARGS);

/*
 * The driver hands out pointers to its own arrays of the capture's dependencies, valid until
 * the next call on the thread; libvgpu's copies live in the calling thread's storage just as
 * long.
 */
static __thread CUgraphNode capture_deps[VGPU_CAPTURE_DEPS_MAX];
static __thread CUgraphEdgeData capture_edges[VGPU_CAPTURE_DEPS_MAX];

static CUresult capture_info(const struct vgpu_call_desc *d, CUstream hStream, CUstreamCaptureStatus *status,
			     cuuint64_t *id, CUgraph *graph, const CUgraphNode **deps,
			     const CUgraphEdgeData **edges, size_t *ndeps)
{
	uint32_t st = 0, *pst = &st;
	uint64_t n = VGPU_CAPTURE_DEPS_MAX, *pn = &n;
	CUgraphNode *pd = capture_deps;
	CUgraphEdgeData *pe = capture_edges;
	CUresult r;

	if (!status)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_CIW_NARGS] = { [VGPU_CIW_STREAM] = &hStream, [VGPU_CIW_STATUS] = &pst, [VGPU_CIW_ID] = &id,
				       [VGPU_CIW_GRAPH] = &graph, [VGPU_CIW_DEPS] = &pd, [VGPU_CIW_EDGES] = &pe,
				       [VGPU_CIW_NDEPS] = &pn };
	r = vgpu_client_call(d, argv);
	if (r != CUDA_SUCCESS)
		return r;
	*status = (CUstreamCaptureStatus)st;
	if (deps)
		*deps = n ? capture_deps : NULL;
	if (edges)
		*edges = n ? capture_edges : NULL;
	if (ndeps)
		*ndeps = (size_t)n;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamGetCaptureInfo_v3(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
					   cuuint64_t *id_out, CUgraph *graph_out, const CUgraphNode **dependencies_out,
					   const CUgraphEdgeData **edgeData_out, size_t *numDependencies_out)
{
	return capture_info(&desc_capture_info, hStream, captureStatus_out, id_out, graph_out, dependencies_out,
			    edgeData_out, numDependencies_out);
}

CUresult CUDAAPI cuStreamGetCaptureInfo_v3_ptsz(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
						cuuint64_t *id_out, CUgraph *graph_out,
						const CUgraphNode **dependencies_out,
						const CUgraphEdgeData **edgeData_out, size_t *numDependencies_out)
{
	return capture_info(&desc_capture_info_ptsz, hStream, captureStatus_out, id_out, graph_out,
			    dependencies_out, edgeData_out, numDependencies_out);
}

/* ---------------------------------------------------------------- virtual memory management */

#define VMM_DESC(var, fn, args, n) \
	static const struct vgpu_call_desc var = \
		VGPU_WIRE_DESC(#fn, VGPU_OP_##fn, VGPU_CALLF_CUSTOM, args, n)
VMM_DESC(desc_mem_create, cuMemCreate, vgpu_wire_mem_create_args, VGPU_VCW_NARGS);
VMM_DESC(desc_mem_release, cuMemRelease, vgpu_wire_mem_release_args, VGPU_VRW_NARGS);
VMM_DESC(desc_mem_map, cuMemMap, vgpu_wire_mem_map_args, VGPU_VMW_NARGS);
VMM_DESC(desc_mem_unmap, cuMemUnmap, vgpu_wire_mem_unmap_args, VGPU_VUW_NARGS);
VMM_DESC(desc_mem_granularity, cuMemGetAllocationGranularity, vgpu_wire_mem_granularity_args, VGPU_VGW_NARGS);

/* An allocation's properties as the wire's plain numbers; the Windows-only pointer must be NULL. */
#define wire_prop vgpu_wire_prop

static int prop_to_wire(const CUmemAllocationProp *p, struct wire_prop *w)
{
	if (!p || p->win32HandleMetaData)
		return -1;
	*w = (struct wire_prop){ p->type, p->requestedHandleTypes, p->location.type, p->allocFlags.compressionType,
				 p->allocFlags.gpuDirectRDMACapable, p->allocFlags.usage, p->location.id };
	return 0;
}

#define PROP_ARGV(pfx, w) \
	[pfx##_TYPE] = &(w).type, [pfx##_HTYPES] = &(w).htypes, [pfx##_LOC_TYPE] = &(w).loc_type, \
	[pfx##_LOC_ID] = &(w).loc_id, [pfx##_COMPRESSION] = &(w).compression, [pfx##_RDMA] = &(w).rdma, \
	[pfx##_USAGE] = &(w).usage

CUresult CUDAAPI cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
			     unsigned long long flags)
{
	struct wire_prop w;
	uint64_t sz = size, fl = flags, *ph = (uint64_t *)handle;

	if (!handle || prop_to_wire(prop, &w) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_VCW_NARGS] = { [VGPU_VCW_HANDLE] = &ph, [VGPU_VCW_SIZE] = &sz, PROP_ARGV(VGPU_VCW, w),
				       [VGPU_VCW_FLAGS] = &fl };
	return vgpu_client_call(&desc_mem_create, argv);
}

CUresult CUDAAPI cuMemRelease(CUmemGenericAllocationHandle handle)
{
	uint64_t h = handle;
	void *argv[VGPU_VRW_NARGS] = { [VGPU_VRW_HANDLE] = &h };
	return vgpu_client_call(&desc_mem_release, argv);
}

CUresult CUDAAPI cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
			  unsigned long long flags)
{
	uint64_t p = ptr, sz = size, off = offset, h = handle, fl = flags;
	void *argv[VGPU_VMW_NARGS] = { [VGPU_VMW_PTR] = &p, [VGPU_VMW_SIZE] = &sz, [VGPU_VMW_OFFSET] = &off,
				       [VGPU_VMW_HANDLE] = &h, [VGPU_VMW_FLAGS] = &fl };
	CUresult r = vgpu_client_call(&desc_mem_map, argv);
	if (r == CUDA_SUCCESS)
		vgpu_dmap_add(ptr, size);   /* device memory now, for copies' direction */
	return r;
}

CUresult CUDAAPI cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	uint64_t p = ptr, sz = size;
	void *argv[VGPU_VUW_NARGS] = { [VGPU_VUW_PTR] = &p, [VGPU_VUW_SIZE] = &sz };
	CUresult r = vgpu_client_call(&desc_mem_unmap, argv);
	/* the map may have been made of several ranges: forget each one inside */
	for (uint64_t q = ptr; r == CUDA_SUCCESS && q < ptr + size;) {
		uint64_t base, len;
		if (vgpu_dmap_find(q, &base, &len) < 0 || base != q)
			break;
		vgpu_dmap_del(q);
		q += len;
	}
	return r;
}

CUresult CUDAAPI cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
					       CUmemAllocationGranularity_flags option)
{
	struct wire_prop w;
	uint64_t g = 0, *pg = &g;
	uint32_t opt = option;
	CUresult r;

	if (!granularity || prop_to_wire(prop, &w) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_VGW_NARGS] = { [VGPU_VGW_GRAN] = &pg, [VGPU_VGW_OPTION] = &opt, PROP_ARGV(VGPU_VGW, w) };
	r = vgpu_client_call(&desc_mem_granularity, argv);
	if (r == CUDA_SUCCESS)
		*granularity = (size_t)g;
	return r;
}

VMM_DESC(desc_mem_address_free, cuMemAddressFree, vgpu_wire_mem_unmap_args, VGPU_VUW_NARGS);

/* (a reservation is an address range, not an allocation: it travels as plain numbers) */
CUresult CUDAAPI cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	uint64_t p = ptr, sz = size;
	void *argv[VGPU_VUW_NARGS] = { [VGPU_VUW_PTR] = &p, [VGPU_VUW_SIZE] = &sz };
	return vgpu_client_call(&desc_mem_address_free, argv);
}

/* ---------------------------------------------------------------- tensor maps */

static const struct vgpu_call_desc desc_tmap_encode =
	VGPU_WIRE_DESC("cuTensorMapEncodeTiled", VGPU_OP_cuTensorMapEncodeTiled, VGPU_CALLF_CUSTOM,
		       vgpu_wire_tmap_encode_args, VGPU_TMW_NARGS);
static const struct vgpu_call_desc desc_tmap_replace =
	VGPU_WIRE_DESC("cuTensorMapReplaceAddress", VGPU_OP_cuTensorMapReplaceAddress, VGPU_CALLF_CUSTOM,
		       vgpu_wire_tmap_replace_args, VGPU_TRW_NARGS);

/* The arrays every encoder has (dims, strides of all but the first dimension, element strides). */
static CUresult tmap_common(struct vgpu_tmap_args *a, CUtensorMapDataType type, cuuint32_t rank, void *address,
			    const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *estrides,
			    CUtensorMapInterleave il, CUtensorMapSwizzle sw, CUtensorMapL2promotion l2,
			    CUtensorMapFloatOOBfill oob)
{
	memset(a, 0, sizeof(*a));
	if (rank < 1 || rank > VGPU_TMAP_RANK_MAX || !dims || !estrides || (rank > 1 && !strides))
		return CUDA_ERROR_INVALID_VALUE;
	*a = (struct vgpu_tmap_args){ .data_type = type, .rank = rank, .interleave = il, .swizzle = sw, .l2 = l2,
				      .oob = oob, .address = (uint64_t)(uintptr_t)address };
	for (cuuint32_t i = 0; i < rank; i++) {
		a->dims[i] = dims[i];
		a->element_strides[i] = estrides[i];
		if (i + 1 < rank)
			a->strides[i] = strides[i];
	}
	return CUDA_SUCCESS;
}

static CUresult tmap_send(CUtensorMap *map, struct vgpu_tmap_args *a)
{
	if (!map)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_TMW_NARGS] = { [VGPU_TMW_MAP] = &map, [VGPU_TMW_ARGS] = &a };
	return vgpu_client_call(&desc_tmap_encode, argv);
}

CUresult CUDAAPI cuTensorMapEncodeTiled(CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType,
					cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim,
					const cuuint64_t *globalStrides, const cuuint32_t *boxDim,
					const cuuint32_t *elementStrides, CUtensorMapInterleave interleave,
					CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion,
					CUtensorMapFloatOOBfill oobFill)
{
	struct vgpu_tmap_args a;
	CUresult r = tmap_common(&a, tensorDataType, tensorRank, globalAddress, globalDim, globalStrides,
				 elementStrides, interleave, swizzle, l2Promotion, oobFill);
	if (r != CUDA_SUCCESS || !boxDim)
		return r != CUDA_SUCCESS ? r : CUDA_ERROR_INVALID_VALUE;
	a.kind = VGPU_TMAP_TILED;
	for (cuuint32_t i = 0; i < tensorRank; i++)
		a.box[i] = boxDim[i];
	return tmap_send(tensorMap, &a);
}

CUresult CUDAAPI cuTensorMapEncodeIm2col(CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType,
					 cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim,
					 const cuuint64_t *globalStrides, const int *pixelBoxLowerCorner,
					 const int *pixelBoxUpperCorner, cuuint32_t channelsPerPixel,
					 cuuint32_t pixelsPerColumn, const cuuint32_t *elementStrides,
					 CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
					 CUtensorMapL2promotion l2Promotion, CUtensorMapFloatOOBfill oobFill)
{
	struct vgpu_tmap_args a;
	CUresult r = tmap_common(&a, tensorDataType, tensorRank, globalAddress, globalDim, globalStrides,
				 elementStrides, interleave, swizzle, l2Promotion, oobFill);
	if (r != CUDA_SUCCESS)
		return r;
	if (tensorRank < 3 || !pixelBoxLowerCorner || !pixelBoxUpperCorner)
		return CUDA_ERROR_INVALID_VALUE;
	a.kind = VGPU_TMAP_IM2COL;
	a.channels_per_pixel = channelsPerPixel;
	a.pixels_per_column = pixelsPerColumn;
	for (cuuint32_t i = 0; i + 2 < tensorRank; i++) {
		a.lower[i] = pixelBoxLowerCorner[i];
		a.upper[i] = pixelBoxUpperCorner[i];
	}
	return tmap_send(tensorMap, &a);
}

CUresult CUDAAPI cuTensorMapEncodeIm2colWide(CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType,
					     cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim,
					     const cuuint64_t *globalStrides, int pixelBoxLowerCornerWidth,
					     int pixelBoxUpperCornerWidth, cuuint32_t channelsPerPixel,
					     cuuint32_t pixelsPerColumn, const cuuint32_t *elementStrides,
					     CUtensorMapInterleave interleave, CUtensorMapIm2ColWideMode mode,
					     CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion,
					     CUtensorMapFloatOOBfill oobFill)
{
	struct vgpu_tmap_args a;
	CUresult r = tmap_common(&a, tensorDataType, tensorRank, globalAddress, globalDim, globalStrides,
				 elementStrides, interleave, swizzle, l2Promotion, oobFill);
	if (r != CUDA_SUCCESS)
		return r;
	a.kind = VGPU_TMAP_IM2COL_WIDE;
	a.lower_w = pixelBoxLowerCornerWidth;
	a.upper_w = pixelBoxUpperCornerWidth;
	a.channels_per_pixel = channelsPerPixel;
	a.pixels_per_column = pixelsPerColumn;
	a.wide_mode = mode;
	return tmap_send(tensorMap, &a);
}

CUresult CUDAAPI cuTensorMapReplaceAddress(CUtensorMap *tensorMap, void *globalAddress)
{
	uint64_t addr = (uint64_t)(uintptr_t)globalAddress;

	if (!tensorMap)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_TRW_NARGS] = { [VGPU_TRW_MAP] = &tensorMap, [VGPU_TRW_ADDRESS] = &addr };
	return vgpu_client_call(&desc_tmap_replace, argv);
}

VMM_DESC(desc_mem_retain, cuMemRetainAllocationHandle, vgpu_wire_mem_retain_args, VGPU_VTW_NARGS);
VMM_DESC(desc_mem_props, cuMemGetAllocationPropertiesFromHandle, vgpu_wire_mem_props_args, VGPU_VPW_NARGS);

CUresult CUDAAPI cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
	uint64_t a = (uint64_t)(uintptr_t)addr, *ph = (uint64_t *)handle;

	if (!handle)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_VTW_NARGS] = { [VGPU_VTW_HANDLE] = &ph, [VGPU_VTW_ADDR] = &a };
	return vgpu_client_call(&desc_mem_retain, argv);
}

CUresult CUDAAPI cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop, CUmemGenericAllocationHandle handle)
{
	struct vgpu_wire_prop w, *pw = &w;
	uint64_t h = handle;
	CUresult r;

	if (!prop)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_VPW_NARGS] = { [VGPU_VPW_PROP] = &pw, [VGPU_VPW_HANDLE] = &h };
	r = vgpu_client_call(&desc_mem_props, argv);
	if (r == CUDA_SUCCESS) {
		memset(prop, 0, sizeof(*prop));
		prop->type = (CUmemAllocationType)w.type;
		prop->requestedHandleTypes = (CUmemAllocationHandleType)w.htypes;
		prop->location.type = (CUmemLocationType)w.loc_type;
		prop->location.id = w.loc_id;
		prop->allocFlags.compressionType = (unsigned char)w.compression;
		prop->allocFlags.gpuDirectRDMACapable = (unsigned char)w.rdma;
		prop->allocFlags.usage = (unsigned short)w.usage;
	}
	return r;
}

/* ---------------------------------------------------------------- stream attributes */

#define SATTR_DESC(var, fn, args, n) \
	static const struct vgpu_call_desc var = \
		VGPU_WIRE_DESC(#fn, VGPU_OP_##fn, VGPU_CALLF_CUSTOM, args, n)
SATTR_DESC(desc_sset, cuStreamSetAttribute, vgpu_wire_stream_set_attr_args, VGPU_SAW_NARGS);
SATTR_DESC(desc_sset_ptsz, cuStreamSetAttribute_ptsz, vgpu_wire_stream_set_attr_args, VGPU_SAW_NARGS);
SATTR_DESC(desc_sget, cuStreamGetAttribute, vgpu_wire_stream_get_attr_args, VGPU_SAG_NARGS);
SATTR_DESC(desc_sget_ptsz, cuStreamGetAttribute_ptsz, vgpu_wire_stream_get_attr_args, VGPU_SAG_NARGS);

static CUresult stream_set_attr(const struct vgpu_call_desc *d, CUstream s, CUstreamAttrID attr,
				const CUstreamAttrValue *value)
{
	uint32_t a = attr;

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_SAW_NARGS] = { [VGPU_SAW_STREAM] = &s, [VGPU_SAW_ATTR] = &a, [VGPU_SAW_VALUE] = &value };
	return vgpu_client_call(d, argv);
}

static CUresult stream_get_attr(const struct vgpu_call_desc *d, CUstream s, CUstreamAttrID attr,
				CUstreamAttrValue *value)
{
	uint32_t a = attr;

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_SAG_NARGS] = { [VGPU_SAG_VALUE] = &value, [VGPU_SAG_STREAM] = &s, [VGPU_SAG_ATTR] = &a };
	return vgpu_client_call(d, argv);
}

CUresult CUDAAPI cuStreamSetAttribute(CUstream hStream, CUstreamAttrID attr, const CUstreamAttrValue *value)
{
	return stream_set_attr(&desc_sset, hStream, attr, value);
}

CUresult CUDAAPI cuStreamSetAttribute_ptsz(CUstream hStream, CUstreamAttrID attr, const CUstreamAttrValue *value)
{
	return stream_set_attr(&desc_sset_ptsz, hStream, attr, value);
}

CUresult CUDAAPI cuStreamGetAttribute(CUstream hStream, CUstreamAttrID attr, CUstreamAttrValue *value)
{
	return stream_get_attr(&desc_sget, hStream, attr, value);
}

CUresult CUDAAPI cuStreamGetAttribute_ptsz(CUstream hStream, CUstreamAttrID attr, CUstreamAttrValue *value)
{
	return stream_get_attr(&desc_sget_ptsz, hStream, attr, value);
}

/* ---------------------------------------------------------------- cluster occupancy */

static const struct vgpu_call_desc desc_occ_size =
	VGPU_WIRE_DESC("cuOccupancyMaxPotentialClusterSize", VGPU_OP_cuOccupancyMaxPotentialClusterSize,
		       VGPU_CALLF_CUSTOM, vgpu_wire_occ_cluster_args, VGPU_OCW_NARGS);
static const struct vgpu_call_desc desc_occ_active =
	VGPU_WIRE_DESC("cuOccupancyMaxActiveClusters", VGPU_OP_cuOccupancyMaxActiveClusters, VGPU_CALLF_CUSTOM,
		       vgpu_wire_occ_cluster_args, VGPU_OCW_NARGS);

static CUresult occ_cluster(const struct vgpu_call_desc *d, int *out, CUfunction f, const CUlaunchConfig *c)
{
	CUresult r;

	if (!out || !c || (c->numAttrs && !c->attrs))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = vgpu_library_resolve(&f)) != CUDA_SUCCESS)
		return r;
	const void *attrs = c->attrs;
	unsigned int nattrs = c->numAttrs, g[3] = { c->gridDimX, c->gridDimY, c->gridDimZ },
		     b[3] = { c->blockDimX, c->blockDimY, c->blockDimZ }, shm = c->sharedMemBytes;
	CUstream s = c->hStream;
	int32_t v = 0, *pv = &v;
	void *argv[VGPU_OCW_NARGS] = {
		[VGPU_OCW_OUT] = &pv, [VGPU_OCW_F] = &f, [VGPU_OCW_GX] = &g[0], [VGPU_OCW_GY] = &g[1],
		[VGPU_OCW_GZ] = &g[2], [VGPU_OCW_BX] = &b[0], [VGPU_OCW_BY] = &b[1], [VGPU_OCW_BZ] = &b[2],
		[VGPU_OCW_SHMEM] = &shm, [VGPU_OCW_STREAM] = &s, [VGPU_OCW_ATTRS] = &attrs, [VGPU_OCW_NATTRS] = &nattrs,
	};
	r = vgpu_client_call(d, argv);
	if (r == CUDA_SUCCESS)
		*out = v;
	return r;
}

CUresult CUDAAPI cuOccupancyMaxPotentialClusterSize(int *clusterSize, CUfunction func, const CUlaunchConfig *config)
{
	return occ_cluster(&desc_occ_size, clusterSize, func, config);
}

CUresult CUDAAPI cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const CUlaunchConfig *config)
{
	return occ_cluster(&desc_occ_active, numClusters, func, config);
}

/* ---------------------------------------------------------------- executable graph update */

static const struct vgpu_call_desc desc_graph_update =
	VGPU_WIRE_DESC("cuGraphExecUpdate_v2", VGPU_OP_cuGraphExecUpdate_v2, VGPU_CALLF_CUSTOM,
		       vgpu_wire_graph_update_args, VGPU_GUW_NARGS);

CUresult CUDAAPI cuGraphExecUpdate_v2(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphExecUpdateResultInfo *resultInfo)
{
	uint32_t res = 0, *pres = &res, status = CUDA_ERROR_UNKNOWN, *pstatus = &status;
	CUgraphNode err = NULL, from = NULL, *perr = &err, *pfrom = &from;
	CUresult r;

	if (!resultInfo)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_GUW_NARGS] = { [VGPU_GUW_EXEC] = &hGraphExec, [VGPU_GUW_GRAPH] = &hGraph,
				       [VGPU_GUW_RESULT] = &pres, [VGPU_GUW_ERR] = &perr, [VGPU_GUW_ERR_FROM] = &pfrom,
				       [VGPU_GUW_STATUS] = &pstatus };
	r = vgpu_client_call(&desc_graph_update, argv);
	if (r != CUDA_SUCCESS)
		return r;
	resultInfo->result = (CUgraphExecUpdateResult)res;
	resultInfo->errorNode = err;
	resultInfo->errorFromNode = from;
	return (CUresult)status;
}

/* ---------------------------------------------------------------- graph node parameters and attributes */

#define NODE_DESC(var, fn, args, n) \
	static const struct vgpu_call_desc var = \
		VGPU_WIRE_DESC(#fn, VGPU_OP_##fn, VGPU_CALLF_CUSTOM, args, n)
NODE_DESC(desc_memset_node, cuGraphMemsetNodeSetParams, vgpu_wire_memset_node_args, VGPU_MNW_NARGS);
NODE_DESC(desc_exec_memset_node, cuGraphExecMemsetNodeSetParams, vgpu_wire_exec_memset_node_args, VGPU_MXW_NARGS);
NODE_DESC(desc_knode_set, cuGraphKernelNodeSetAttribute, vgpu_wire_knode_set_attr_args, VGPU_KAW_NARGS);
NODE_DESC(desc_knode_get, cuGraphKernelNodeGetAttribute, vgpu_wire_knode_get_attr_args, VGPU_KAG_NARGS);

CUresult CUDAAPI cuGraphMemsetNodeSetParams(CUgraphNode hNode, const CUDA_MEMSET_NODE_PARAMS *nodeParams)
{
	if (!nodeParams)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_MNW_NARGS] = { [VGPU_MNW_NODE] = &hNode, [VGPU_MNW_PARAMS] = &nodeParams };
	return vgpu_client_call(&desc_memset_node, argv);
}

CUresult CUDAAPI cuGraphExecMemsetNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
						const CUDA_MEMSET_NODE_PARAMS *memsetParams, CUcontext ctx)
{
	if (!memsetParams)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_MXW_NARGS] = { [VGPU_MXW_EXEC] = &hGraphExec, [VGPU_MXW_NODE] = &hNode,
				       [VGPU_MXW_PARAMS] = &memsetParams, [VGPU_MXW_CTX] = &ctx };
	return vgpu_client_call(&desc_exec_memset_node, argv);
}

NODE_DESC(desc_mcnode_get, cuGraphMemcpyNodeGetParams, vgpu_wire_mcnode_get_args, VGPU_CGW_NARGS);
NODE_DESC(desc_mcnode_set, cuGraphMemcpyNodeSetParams, vgpu_wire_mcnode_set_args, VGPU_CSW_NARGS);
NODE_DESC(desc_exec_mcnode_set, cuGraphExecMemcpyNodeSetParams, vgpu_wire_mcnode_set_args, VGPU_CSW_NARGS);

/*
 * One side of a copy node as the worker can run it: device memory as it is; the zone's pinned
 * (or registered, or managed) memory as the device address its kernels reach it at, which is
 * how captured pinned copies are recorded too. Other host memory cannot be in a graph through
 * vgpu (the worker would keep an address of its own): CUDA_ERROR_NOT_SUPPORTED.
 */
static CUresult copy_node_side(CUmemorytype *type, const void **host, CUdeviceptr *dev)
{
	uint64_t d = 0;

	switch (*type) {
	case CU_MEMORYTYPE_DEVICE:
		return CUDA_SUCCESS;
	case CU_MEMORYTYPE_HOST:
	case CU_MEMORYTYPE_UNIFIED: {
		const void *p = *type == CU_MEMORYTYPE_HOST ? *host : (const void *)(uintptr_t)*dev;
		if (vgpu_hostmem_lookup(p, NULL, &d) < 0) {
			if (*type == CU_MEMORYTYPE_UNIFIED)
				return CUDA_SUCCESS;   /* device memory */
			return vgpu_client_unsupported("a graph copy node on host memory not shared with the worker "
						       "(pageable memory)");
		}
		if (!d)
			return vgpu_client_unsupported("a graph copy node on host memory kernels cannot reach");
		*type = CU_MEMORYTYPE_DEVICE;
		*dev = (CUdeviceptr)d;
		*host = NULL;
		return CUDA_SUCCESS;
	}
	case CU_MEMORYTYPE_ARRAY:
		return vgpu_client_unsupported("a graph copy node on a CUDA array");
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

static CUresult mcnode_set(const struct vgpu_call_desc *d, CUgraphExec exec, CUgraphNode node, const CUDA_MEMCPY3D *p,
			   CUcontext ctx)
{
	CUDA_MEMCPY3D c;
	CUresult r;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	c = *p;
	if ((r = copy_node_side(&c.srcMemoryType, &c.srcHost, &c.srcDevice)) != CUDA_SUCCESS ||
	    (r = copy_node_side(&c.dstMemoryType, (const void **)&c.dstHost, &c.dstDevice)) != CUDA_SUCCESS)
		return r;
	const CUDA_MEMCPY3D *pc = &c;
	void *argv[VGPU_CSW_NARGS] = { [VGPU_CSW_EXEC] = &exec, [VGPU_CSW_NODE] = &node, [VGPU_CSW_COPY] = &pc,
				       [VGPU_CSW_CTX] = &ctx };
	return vgpu_client_call(d, argv);
}

CUresult CUDAAPI cuGraphMemcpyNodeGetParams(CUgraphNode hNode, CUDA_MEMCPY3D *nodeParams)
{
	if (!nodeParams)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_CGW_NARGS] = { [VGPU_CGW_NODE] = &hNode, [VGPU_CGW_COPY] = &nodeParams };
	return vgpu_client_call(&desc_mcnode_get, argv);
}

CUresult CUDAAPI cuGraphMemcpyNodeSetParams(CUgraphNode hNode, const CUDA_MEMCPY3D *nodeParams)
{
	return mcnode_set(&desc_mcnode_set, NULL, hNode, nodeParams, NULL);
}

CUresult CUDAAPI cuGraphExecMemcpyNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode,
						const CUDA_MEMCPY3D *copyParams, CUcontext ctx)
{
	return mcnode_set(&desc_exec_mcnode_set, hGraphExec, hNode, copyParams, ctx);
}

CUresult CUDAAPI cuGraphKernelNodeSetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr,
					       const CUkernelNodeAttrValue *value)
{
	uint32_t a = attr;

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_KAW_NARGS] = { [VGPU_KAW_NODE] = &hNode, [VGPU_KAW_ATTR] = &a, [VGPU_KAW_VALUE] = &value };
	return vgpu_client_call(&desc_knode_set, argv);
}

CUresult CUDAAPI cuGraphKernelNodeGetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr,
					       CUkernelNodeAttrValue *value_out)
{
	uint32_t a = attr;

	if (!value_out)
		return CUDA_ERROR_INVALID_VALUE;
	void *argv[VGPU_KAG_NARGS] = { [VGPU_KAG_VALUE] = &value_out, [VGPU_KAG_NODE] = &hNode, [VGPU_KAG_ATTR] = &a };
	return vgpu_client_call(&desc_knode_get, argv);
}
