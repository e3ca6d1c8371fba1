/* SPDX-License-Identifier: MIT */
/* custom_wire.c — the argument tables of the hand-written calls' messages (see custom_wire.h). */
#include "custom_wire.h"

#include <cuda.h>

#include "session.h"
#include "vgpu_ops.h"

#define N VGPU_LEN_NONE
#define SCALAR(nm, sz) { .name = nm, .kind = VGPU_ARG_SCALAR, .size = sz, .len_arg = N, .len_arg2 = N }
#define HANDLE(nm, ht) { .name = nm, .kind = VGPU_ARG_HANDLE, .size = 8, .htype = ht, .len_arg = N, .len_arg2 = N }
#define INBUF(nm, la, mul, max) \
	{ .name = nm, .kind = VGPU_ARG_IN_BUF, .len_arg = la, .len_arg2 = N, .len_mul = mul, .max_len = max }

const struct vgpu_arg_desc vgpu_wire_launch_args[VGPU_LW_NARGS] = {
	[VGPU_LW_F]       = HANDLE("f", VGPU_H_FUNCTION),
	[VGPU_LW_GX]      = SCALAR("gridDimX", 4),
	[VGPU_LW_GY]      = SCALAR("gridDimY", 4),
	[VGPU_LW_GZ]      = SCALAR("gridDimZ", 4),
	[VGPU_LW_BX]      = SCALAR("blockDimX", 4),
	[VGPU_LW_BY]      = SCALAR("blockDimY", 4),
	[VGPU_LW_BZ]      = SCALAR("blockDimZ", 4),
	[VGPU_LW_SHMEM]   = SCALAR("sharedMemBytes", 4),
	[VGPU_LW_STREAM]  = HANDLE("hStream", VGPU_H_STREAM),
	[VGPU_LW_PARAMS]  = INBUF("params", VGPU_LW_PARAM_BYTES, 1, VGPU_KPARAM_MAX),
	[VGPU_LW_PARAM_BYTES] = SCALAR("paramBytes", 4),
	[VGPU_LW_LAYOUT]  = INBUF("layout", VGPU_LW_NPARAMS, 8, 8ull * VGPU_KPARAM_COUNT_MAX),
	[VGPU_LW_NPARAMS] = SCALAR("nparams", 4),
	[VGPU_LW_ATTRS]   = INBUF("attrs", VGPU_LW_NATTRS, sizeof(CUlaunchAttribute),
				  sizeof(CUlaunchAttribute) * VGPU_LAUNCH_ATTR_MAX),
	[VGPU_LW_NATTRS]  = SCALAR("numAttrs", 4),
	[VGPU_LW_KIND]    = SCALAR("kind", 4),
};

const struct vgpu_arg_desc vgpu_wire_module_args[VGPU_MW_NARGS] = {
	[VGPU_MW_MODULE] = { .name = "module", .kind = VGPU_ARG_OUT_HANDLE, .size = 8, .htype = VGPU_H_MODULE,
			     .len_arg = N, .len_arg2 = N, .flags = VGPU_ARGF_NEW },
	[VGPU_MW_IMAGE]  = INBUF("image", VGPU_MW_IMAGE_BYTES, 1, VGPU_MODULE_IMAGE_MAX),
	[VGPU_MW_IMAGE_BYTES] = SCALAR("imageBytes", 8),
};

const struct vgpu_arg_desc vgpu_wire_copy_args[VGPU_CW_NARGS] = {
	[VGPU_CW_COPY] = { .name = "copy", .kind = VGPU_ARG_IN_STRUCT, .len_arg = N, .len_arg2 = N,
			   .struct_size = sizeof(CUDA_MEMCPY3D), .len_mul = sizeof(CUDA_MEMCPY3D),
			   .max_len = sizeof(CUDA_MEMCPY3D) },
	[VGPU_CW_HOST_IN] = INBUF("hostIn", VGPU_CW_HOST_IN_BYTES, 1, 1ull << 40),
	[VGPU_CW_HOST_IN_BYTES] = SCALAR("hostInBytes", 8),
	[VGPU_CW_HOST_OUT] = { .name = "hostOut", .kind = VGPU_ARG_OUT_BUF, .len_arg = VGPU_CW_HOST_OUT_BYTES,
			       .len_arg2 = N, .len_mul = 1, .max_len = 1ull << 40 },
	[VGPU_CW_HOST_OUT_BYTES] = SCALAR("hostOutBytes", 8),
	[VGPU_CW_STREAM] = HANDLE("hStream", VGPU_H_STREAM),
	[VGPU_CW_FLAGS] = SCALAR("flags", 4),
};

const struct vgpu_arg_desc vgpu_wire_ctx_create_args[VGPU_XW_NARGS] = {
	[VGPU_XW_PCTX] = { .name = "pctx", .kind = VGPU_ARG_OUT_HANDLE, .size = 8, .htype = VGPU_H_CONTEXT,
			   .len_arg = N, .len_arg2 = N, .flags = VGPU_ARGF_NEW },
	[VGPU_XW_FLAGS] = SCALAR("flags", 4),
	[VGPU_XW_DEV] = { .name = "dev", .kind = VGPU_ARG_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N,
			  .flags = VGPU_ARGF_SIGNED },
};

const struct vgpu_arg_desc vgpu_wire_pointer_attr_args[VGPU_PW_NARGS] = {
	[VGPU_PW_VALUE] = { .name = "value", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_PW_ATTR] = SCALAR("attribute", 4),
	[VGPU_PW_PTR] = { .name = "ptr", .kind = VGPU_ARG_DPTR, .size = 8, .len_arg = N, .len_arg2 = N },
};

const struct vgpu_arg_desc vgpu_wire_pointer_set_attr_args[VGPU_PSW_NARGS] = {
	[VGPU_PSW_VALUE] = SCALAR("value", 4),
	[VGPU_PSW_ATTR] = SCALAR("attribute", 4),
	[VGPU_PSW_PTR] = { .name = "ptr", .kind = VGPU_ARG_DPTR, .size = 8, .len_arg = N, .len_arg2 = N },
};

const struct vgpu_arg_desc vgpu_wire_pool_create_args[VGPU_MPW_NARGS] = {
	[VGPU_MPW_POOL] = { .name = "pool", .kind = VGPU_ARG_OUT_HANDLE, .size = 8, .htype = VGPU_H_MEMORY_POOL,
			    .len_arg = N, .len_arg2 = N, .flags = VGPU_ARGF_NEW },
	[VGPU_MPW_ALLOC_TYPE] = SCALAR("allocType", 4),
	[VGPU_MPW_HANDLE_TYPES] = SCALAR("handleTypes", 4),
	[VGPU_MPW_LOC_TYPE] = SCALAR("locationType", 4),
	[VGPU_MPW_LOC_ID] = { .name = "locationId", .kind = VGPU_ARG_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N,
			      .flags = VGPU_ARGF_SIGNED },
	[VGPU_MPW_MAX_SIZE] = SCALAR("maxSize", 8),
	[VGPU_MPW_USAGE] = SCALAR("usage", 4),
};

const struct vgpu_arg_desc vgpu_wire_pool_set_attr_args[VGPU_PAW_NARGS] = {
	[VGPU_PAW_POOL] = HANDLE("pool", VGPU_H_MEMORY_POOL),
	[VGPU_PAW_ATTR] = SCALAR("attr", 4),
	[VGPU_PAW_VALUE] = SCALAR("value", 8),
};

const struct vgpu_arg_desc vgpu_wire_pool_get_attr_args[VGPU_PAG_NARGS] = {
	[VGPU_PAG_VALUE] = { .name = "value", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_PAG_POOL] = HANDLE("pool", VGPU_H_MEMORY_POOL),
	[VGPU_PAG_ATTR] = SCALAR("attr", 4),
};

const struct vgpu_arg_desc vgpu_wire_capture_info_args[VGPU_CIW_NARGS] = {
	[VGPU_CIW_STREAM] = HANDLE("hStream", VGPU_H_STREAM),
	[VGPU_CIW_STATUS] = { .name = "captureStatus", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N,
			      .len_arg2 = N },
	[VGPU_CIW_ID] = { .name = "id", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_CIW_GRAPH] = { .name = "graph", .kind = VGPU_ARG_OUT_HANDLE, .size = 8, .htype = VGPU_H_GRAPH,
			     .len_arg = N, .len_arg2 = N },
	[VGPU_CIW_DEPS] = { .name = "dependencies", .kind = VGPU_ARG_OUT_HANDLE_ARRAY, .size = 8,
			    .htype = VGPU_H_GRAPH_NODE, .len_arg = VGPU_CIW_NDEPS, .len_arg2 = N, .len_mul = 1,
			    .max_len = VGPU_CAPTURE_DEPS_MAX },
	[VGPU_CIW_EDGES] = { .name = "edgeData", .kind = VGPU_ARG_OUT_BUF, .len_arg = VGPU_CIW_NDEPS, .len_arg2 = N,
			     .len_mul = sizeof(CUgraphEdgeData), .max_len = sizeof(CUgraphEdgeData) * VGPU_CAPTURE_DEPS_MAX },
	[VGPU_CIW_NDEPS] = { .name = "numDependencies", .kind = VGPU_ARG_INOUT_SCALAR, .size = 8, .len_arg = N,
			     .len_arg2 = N },
};

#define PROP_ARGS(pfx) \
	[pfx##_TYPE] = SCALAR("type", 4), \
	[pfx##_HTYPES] = SCALAR("requestedHandleTypes", 4), \
	[pfx##_LOC_TYPE] = SCALAR("locationType", 4), \
	[pfx##_LOC_ID] = { .name = "locationId", .kind = VGPU_ARG_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N, \
			   .flags = VGPU_ARGF_SIGNED }, \
	[pfx##_COMPRESSION] = SCALAR("compressionType", 4), \
	[pfx##_RDMA] = SCALAR("gpuDirectRDMACapable", 4), \
	[pfx##_USAGE] = SCALAR("usage", 4)

const struct vgpu_arg_desc vgpu_wire_mem_create_args[VGPU_VCW_NARGS] = {
	[VGPU_VCW_HANDLE] = { .name = "handle", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_VCW_SIZE] = SCALAR("size", 8),
	PROP_ARGS(VGPU_VCW),
	[VGPU_VCW_FLAGS] = SCALAR("flags", 8),
};

const struct vgpu_arg_desc vgpu_wire_mem_granularity_args[VGPU_VGW_NARGS] = {
	[VGPU_VGW_GRAN] = { .name = "granularity", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N,
			    .len_arg2 = N },
	[VGPU_VGW_OPTION] = SCALAR("option", 4),
	PROP_ARGS(VGPU_VGW),
};

const struct vgpu_arg_desc vgpu_wire_mem_map_args[VGPU_VMW_NARGS] = {
	[VGPU_VMW_PTR] = SCALAR("ptr", 8),
	[VGPU_VMW_SIZE] = SCALAR("size", 8),
	[VGPU_VMW_OFFSET] = SCALAR("offset", 8),
	[VGPU_VMW_HANDLE] = SCALAR("handle", 8),
	[VGPU_VMW_FLAGS] = SCALAR("flags", 8),
};

const struct vgpu_arg_desc vgpu_wire_mem_unmap_args[VGPU_VUW_NARGS] = {
	[VGPU_VUW_PTR] = SCALAR("ptr", 8),
	[VGPU_VUW_SIZE] = SCALAR("size", 8),
};

const struct vgpu_arg_desc vgpu_wire_mem_release_args[VGPU_VRW_NARGS] = {
	[VGPU_VRW_HANDLE] = SCALAR("handle", 8),
};

const struct vgpu_arg_desc vgpu_wire_tmap_encode_args[VGPU_TMW_NARGS] = {
	[VGPU_TMW_MAP] = { .name = "tensorMap", .kind = VGPU_ARG_OUT_STRUCT, .len_arg = N, .len_arg2 = N,
			   .struct_size = sizeof(CUtensorMap), .len_mul = sizeof(CUtensorMap),
			   .max_len = sizeof(CUtensorMap) },
	[VGPU_TMW_ARGS] = { .name = "args", .kind = VGPU_ARG_IN_STRUCT, .len_arg = N, .len_arg2 = N,
			    .struct_size = sizeof(struct vgpu_tmap_args), .len_mul = sizeof(struct vgpu_tmap_args),
			    .max_len = sizeof(struct vgpu_tmap_args) },
};

const struct vgpu_arg_desc vgpu_wire_tmap_replace_args[VGPU_TRW_NARGS] = {
	[VGPU_TRW_MAP] = { .name = "tensorMap", .kind = VGPU_ARG_INOUT_STRUCT, .len_arg = N, .len_arg2 = N,
			   .struct_size = sizeof(CUtensorMap), .len_mul = sizeof(CUtensorMap),
			   .max_len = sizeof(CUtensorMap) },
	[VGPU_TRW_ADDRESS] = SCALAR("globalAddress", 8),
};

const struct vgpu_arg_desc vgpu_wire_mem_retain_args[VGPU_VTW_NARGS] = {
	[VGPU_VTW_HANDLE] = { .name = "handle", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_VTW_ADDR] = SCALAR("addr", 8),
};

const struct vgpu_arg_desc vgpu_wire_mem_props_args[VGPU_VPW_NARGS] = {
	[VGPU_VPW_PROP] = { .name = "prop", .kind = VGPU_ARG_OUT_STRUCT, .len_arg = N, .len_arg2 = N,
			    .struct_size = sizeof(struct vgpu_wire_prop), .len_mul = sizeof(struct vgpu_wire_prop),
			    .max_len = sizeof(struct vgpu_wire_prop) },
	[VGPU_VPW_HANDLE] = SCALAR("handle", 8),
};

const struct vgpu_arg_desc vgpu_wire_green_split_args[VGPU_GSW_NARGS] = {
	[VGPU_GSW_CAP] = SCALAR("cap", 4),
	[VGPU_GSW_RESULT] = { .name = "result", .kind = VGPU_ARG_OUT_BUF, .len_arg = VGPU_GSW_CAP, .len_arg2 = N,
			      .len_mul = sizeof(CUdevResource), .max_len = VGPU_GREEN_SPLIT_MAX * sizeof(CUdevResource) },
	[VGPU_GSW_NB] = { .name = "nbGroups", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N },
	[VGPU_GSW_INPUT] = { .name = "input", .kind = VGPU_ARG_IN_STRUCT, .len_arg = N, .len_arg2 = N,
			     .struct_size = sizeof(CUdevResource), .len_mul = sizeof(CUdevResource),
			     .max_len = sizeof(CUdevResource) },
	[VGPU_GSW_REMAINING] = { .name = "remaining", .kind = VGPU_ARG_OUT_STRUCT, .len_arg = N, .len_arg2 = N,
				 .struct_size = sizeof(CUdevResource), .len_mul = sizeof(CUdevResource),
				 .max_len = sizeof(CUdevResource) },
	[VGPU_GSW_WANT_REM] = SCALAR("wantRemaining", 4),
	[VGPU_GSW_FLAGS] = SCALAR("useFlags", 4),
	[VGPU_GSW_MIN] = SCALAR("minCount", 4),
};

#define IPC_HANDLE(nm, k) { .name = nm, .kind = k, .len_arg = N, .len_arg2 = N, \
		.struct_size = sizeof(struct vgpu_ipc_wire_handle), .len_mul = sizeof(struct vgpu_ipc_wire_handle), \
		.max_len = sizeof(struct vgpu_ipc_wire_handle) }
_Static_assert(sizeof(struct vgpu_ipc_wire_handle) == CU_IPC_HANDLE_SIZE, "an IPC handle is 64 bytes");

const struct vgpu_arg_desc vgpu_wire_ipc_get_mem_args[VGPU_IGW_NARGS] = {
	[VGPU_IGW_HANDLE] = IPC_HANDLE("pHandle", VGPU_ARG_OUT_STRUCT),
	[VGPU_IGW_DPTR] = SCALAR("dptr", 8),
};

const struct vgpu_arg_desc vgpu_wire_ipc_open_mem_args[VGPU_IOW_NARGS] = {
	[VGPU_IOW_DPTR] = { .name = "pdptr", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_IOW_SIZE] = { .name = "size", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_IOW_HANDLE] = IPC_HANDLE("handle", VGPU_ARG_IN_STRUCT),
	[VGPU_IOW_FLAGS] = SCALAR("Flags", 4),
};

const struct vgpu_arg_desc vgpu_wire_ipc_close_mem_args[VGPU_ICW_NARGS] = {
	[VGPU_ICW_DPTR] = SCALAR("dptr", 8),
};

const struct vgpu_arg_desc vgpu_wire_ipc_get_event_args[VGPU_IEW_NARGS] = {
	[VGPU_IEW_HANDLE] = IPC_HANDLE("pHandle", VGPU_ARG_OUT_STRUCT),
	[VGPU_IEW_EVENT] = HANDLE("event", VGPU_H_EVENT),
};

const struct vgpu_arg_desc vgpu_wire_ipc_open_event_args[VGPU_IVW_NARGS] = {
	[VGPU_IVW_EVENT] = { .name = "phEvent", .kind = VGPU_ARG_OUT_HANDLE, .size = 8, .htype = VGPU_H_EVENT,
			     .len_arg = N, .len_arg2 = N, .flags = VGPU_ARGF_NEW },
	[VGPU_IVW_HANDLE] = IPC_HANDLE("handle", VGPU_ARG_IN_STRUCT),
};

const struct vgpu_arg_desc vgpu_wire_stream_set_attr_args[VGPU_SAW_NARGS] = {
	[VGPU_SAW_STREAM] = HANDLE("hStream", VGPU_H_STREAM),
	[VGPU_SAW_ATTR] = SCALAR("attr", 4),
	[VGPU_SAW_VALUE] = { .name = "value", .kind = VGPU_ARG_IN_STRUCT, .len_arg = N, .len_arg2 = N,
			     .struct_size = sizeof(CUstreamAttrValue), .len_mul = sizeof(CUstreamAttrValue),
			     .max_len = sizeof(CUstreamAttrValue) },
};

const struct vgpu_arg_desc vgpu_wire_stream_get_attr_args[VGPU_SAG_NARGS] = {
	[VGPU_SAG_VALUE] = { .name = "value", .kind = VGPU_ARG_OUT_STRUCT, .len_arg = N, .len_arg2 = N,
			     .struct_size = sizeof(CUstreamAttrValue), .len_mul = sizeof(CUstreamAttrValue),
			     .max_len = sizeof(CUstreamAttrValue) },
	[VGPU_SAG_STREAM] = HANDLE("hStream", VGPU_H_STREAM),
	[VGPU_SAG_ATTR] = SCALAR("attr", 4),
};

const struct vgpu_arg_desc vgpu_wire_occ_cluster_args[VGPU_OCW_NARGS] = {
	[VGPU_OCW_OUT] = { .name = "result", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N,
			   .flags = VGPU_ARGF_SIGNED },
	[VGPU_OCW_F] = HANDLE("func", VGPU_H_FUNCTION),
	[VGPU_OCW_GX] = SCALAR("gridDimX", 4),
	[VGPU_OCW_GY] = SCALAR("gridDimY", 4),
	[VGPU_OCW_GZ] = SCALAR("gridDimZ", 4),
	[VGPU_OCW_BX] = SCALAR("blockDimX", 4),
	[VGPU_OCW_BY] = SCALAR("blockDimY", 4),
	[VGPU_OCW_BZ] = SCALAR("blockDimZ", 4),
	[VGPU_OCW_SHMEM] = SCALAR("sharedMemBytes", 4),
	[VGPU_OCW_STREAM] = HANDLE("hStream", VGPU_H_STREAM),
	[VGPU_OCW_ATTRS] = INBUF("attrs", VGPU_OCW_NATTRS, sizeof(CUlaunchAttribute),
				 sizeof(CUlaunchAttribute) * VGPU_LAUNCH_ATTR_MAX),
	[VGPU_OCW_NATTRS] = SCALAR("numAttrs", 4),
};

const struct vgpu_arg_desc vgpu_wire_graph_update_args[VGPU_GUW_NARGS] = {
	[VGPU_GUW_EXEC] = HANDLE("hGraphExec", VGPU_H_GRAPH_EXEC),
	[VGPU_GUW_GRAPH] = HANDLE("hGraph", VGPU_H_GRAPH),
	[VGPU_GUW_RESULT] = { .name = "result", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N },
	[VGPU_GUW_ERR] = { .name = "errorNode", .kind = VGPU_ARG_OUT_HANDLE, .size = 8, .htype = VGPU_H_GRAPH_NODE,
			   .len_arg = N, .len_arg2 = N },
	[VGPU_GUW_ERR_FROM] = { .name = "errorFromNode", .kind = VGPU_ARG_OUT_HANDLE, .size = 8,
				.htype = VGPU_H_GRAPH_NODE, .len_arg = N, .len_arg2 = N },
	[VGPU_GUW_STATUS] = { .name = "status", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N },
};

#define INSTRUCT(nm, T) { .name = nm, .kind = VGPU_ARG_IN_STRUCT, .len_arg = N, .len_arg2 = N, \
			  .struct_size = sizeof(T), .len_mul = sizeof(T), .max_len = sizeof(T) }
#define OUTSTRUCT(nm, T) { .name = nm, .kind = VGPU_ARG_OUT_STRUCT, .len_arg = N, .len_arg2 = N, \
			   .struct_size = sizeof(T), .len_mul = sizeof(T), .max_len = sizeof(T) }

const struct vgpu_arg_desc vgpu_wire_memset_node_args[VGPU_MNW_NARGS] = {
	[VGPU_MNW_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_MNW_PARAMS] = INSTRUCT("nodeParams", CUDA_MEMSET_NODE_PARAMS),
};

const struct vgpu_arg_desc vgpu_wire_exec_memset_node_args[VGPU_MXW_NARGS] = {
	[VGPU_MXW_EXEC] = HANDLE("hGraphExec", VGPU_H_GRAPH_EXEC),
	[VGPU_MXW_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_MXW_PARAMS] = INSTRUCT("memsetParams", CUDA_MEMSET_NODE_PARAMS),
	[VGPU_MXW_CTX] = HANDLE("ctx", VGPU_H_CONTEXT),
};

const struct vgpu_arg_desc vgpu_wire_knode_set_attr_args[VGPU_KAW_NARGS] = {
	[VGPU_KAW_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_KAW_ATTR] = SCALAR("attr", 4),
	[VGPU_KAW_VALUE] = INSTRUCT("value", CUkernelNodeAttrValue),
};

const struct vgpu_arg_desc vgpu_wire_knode_get_attr_args[VGPU_KAG_NARGS] = {
	[VGPU_KAG_VALUE] = OUTSTRUCT("value_out", CUkernelNodeAttrValue),
	[VGPU_KAG_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_KAG_ATTR] = SCALAR("attr", 4),
};

const struct vgpu_arg_desc vgpu_wire_knode_get_args[VGPU_KGW_NARGS] = {
	[VGPU_KGW_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_KGW_FUNC] = { .name = "func", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_KGW_SHAPE] = OUTSTRUCT("shape", struct vgpu_knode_shape),
	[VGPU_KGW_PARAMS] = { .name = "params", .kind = VGPU_ARG_OUT_BUF, .len_arg = VGPU_KGW_CAP, .len_arg2 = N,
			      .len_mul = 1, .max_len = VGPU_KPARAM_MAX },
	[VGPU_KGW_CAP] = SCALAR("cap", 4),
};

const struct vgpu_arg_desc vgpu_wire_knode_set_args[VGPU_KSW_NARGS] = {
	[VGPU_KSW_EXEC]   = HANDLE("hGraphExec", VGPU_H_GRAPH_EXEC),
	[VGPU_KSW_NODE]   = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_KSW_F]      = HANDLE("f", VGPU_H_FUNCTION),
	[VGPU_KSW_GX]     = SCALAR("gridDimX", 4),
	[VGPU_KSW_GY]     = SCALAR("gridDimY", 4),
	[VGPU_KSW_GZ]     = SCALAR("gridDimZ", 4),
	[VGPU_KSW_BX]     = SCALAR("blockDimX", 4),
	[VGPU_KSW_BY]     = SCALAR("blockDimY", 4),
	[VGPU_KSW_BZ]     = SCALAR("blockDimZ", 4),
	[VGPU_KSW_SHMEM]  = SCALAR("sharedMemBytes", 4),
	[VGPU_KSW_PARAMS] = INBUF("params", VGPU_KSW_PARAM_BYTES, 1, VGPU_KPARAM_MAX),
	[VGPU_KSW_PARAM_BYTES] = SCALAR("paramBytes", 4),
	[VGPU_KSW_LAYOUT] = INBUF("layout", VGPU_KSW_NPARAMS, 8, 8ull * VGPU_KPARAM_COUNT_MAX),
	[VGPU_KSW_NPARAMS] = SCALAR("nparams", 4),
};

const struct vgpu_arg_desc vgpu_wire_mcnode_get_args[VGPU_CGW_NARGS] = {
	[VGPU_CGW_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_CGW_COPY] = OUTSTRUCT("nodeParams", CUDA_MEMCPY3D),
};

const struct vgpu_arg_desc vgpu_wire_mcnode_set_args[VGPU_CSW_NARGS] = {
	[VGPU_CSW_EXEC] = HANDLE("hGraphExec", VGPU_H_GRAPH_EXEC),
	[VGPU_CSW_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_CSW_COPY] = INSTRUCT("nodeParams", CUDA_MEMCPY3D),
	[VGPU_CSW_CTX] = HANDLE("ctx", VGPU_H_CONTEXT),
};

const struct vgpu_arg_desc vgpu_wire_texobj_create_args[VGPU_TXW_NARGS] = {
	[VGPU_TXW_OBJ] = { .name = "pObject", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_TXW_RES] = INSTRUCT("pResDesc", CUDA_RESOURCE_DESC),
	[VGPU_TXW_ARRAY] = HANDLE("hArray", VGPU_H_ARRAY),
	[VGPU_TXW_TEX] = INSTRUCT("pTexDesc", CUDA_TEXTURE_DESC),
	[VGPU_TXW_VIEW] = INSTRUCT("pResViewDesc", CUDA_RESOURCE_VIEW_DESC),
	[VGPU_TXW_HAS_VIEW] = SCALAR("hasView", 4),
};

const struct vgpu_arg_desc vgpu_wire_texobj_resource_args[VGPU_TOW_NARGS] = {
	[VGPU_TOW_RES] = OUTSTRUCT("pResDesc", CUDA_RESOURCE_DESC),
	[VGPU_TOW_ARRAY] = { .name = "hArray", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_TOW_OBJ] = SCALAR("object", 8),
};

const struct vgpu_arg_desc vgpu_wire_hostfn_launch_args[VGPU_HFW_NARGS] = {
	[VGPU_HFW_STREAM] = HANDLE("hStream", VGPU_H_STREAM),
	[VGPU_HFW_TOKEN] = SCALAR("token", 8),
	[VGPU_HFW_KEPT] = { .name = "kept", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N },
};

const struct vgpu_arg_desc vgpu_wire_host_node_get_args[VGPU_HNW_NARGS] = {
	[VGPU_HNW_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_HNW_TOKEN] = { .name = "token", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
};
const struct vgpu_arg_desc vgpu_wire_host_node_set_args[VGPU_HNW_NARGS] = {
	[VGPU_HNW_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_HNW_TOKEN] = SCALAR("token", 8),
};
const struct vgpu_arg_desc vgpu_wire_exec_host_node_set_args[VGPU_HXW_NARGS] = {
	[VGPU_HXW_EXEC] = HANDLE("hGraphExec", VGPU_H_GRAPH_EXEC),
	[VGPU_HXW_NODE] = HANDLE("hNode", VGPU_H_GRAPH_NODE),
	[VGPU_HXW_TOKEN] = SCALAR("token", 8),
};

const struct vgpu_call_desc vgpu_wire_hostfn_launch = VGPU_WIRE_DESC("cuLaunchHostFunc",
	VGPU_OP_cuLaunchHostFunc, VGPU_CALLF_CUSTOM, vgpu_wire_hostfn_launch_args, VGPU_HFW_NARGS);
const struct vgpu_call_desc vgpu_wire_hostfn_launch_ptsz = VGPU_WIRE_DESC("cuLaunchHostFunc_ptsz",
	VGPU_OP_cuLaunchHostFunc_ptsz, VGPU_CALLF_CUSTOM, vgpu_wire_hostfn_launch_args, VGPU_HFW_NARGS);
const struct vgpu_call_desc vgpu_wire_host_node_get = VGPU_WIRE_DESC("cuGraphHostNodeGetParams",
	VGPU_OP_cuGraphHostNodeGetParams, VGPU_CALLF_CUSTOM, vgpu_wire_host_node_get_args, VGPU_HNW_NARGS);
const struct vgpu_call_desc vgpu_wire_host_node_set = VGPU_WIRE_DESC("cuGraphHostNodeSetParams",
	VGPU_OP_cuGraphHostNodeSetParams, VGPU_CALLF_CUSTOM, vgpu_wire_host_node_set_args, VGPU_HNW_NARGS);
const struct vgpu_call_desc vgpu_wire_exec_host_node_set = VGPU_WIRE_DESC("cuGraphExecHostNodeSetParams",
	VGPU_OP_cuGraphExecHostNodeSetParams, VGPU_CALLF_CUSTOM, vgpu_wire_exec_host_node_set_args, VGPU_HXW_NARGS);

static const struct vgpu_arg_desc uobj_create_args[VGPU_UOW_NARGS] = {
	[VGPU_UOW_OBJECT] = { .name = "object_out", .kind = VGPU_ARG_OUT_HANDLE, .size = 8, .htype = VGPU_H_USER_OBJECT,
			      .flags = VGPU_ARGF_NEW, .len_arg = N, .len_arg2 = N },
	[VGPU_UOW_TOKEN] = SCALAR("token", 8),
	[VGPU_UOW_REFS] = SCALAR("initialRefcount", 4),
	[VGPU_UOW_FLAGS] = SCALAR("flags", 4),
};
const struct vgpu_call_desc vgpu_wire_uobj_create = VGPU_WIRE_DESC("cuUserObjectCreate",
	VGPU_OP_cuUserObjectCreate, VGPU_CALLF_CUSTOM, uobj_create_args, VGPU_UOW_NARGS);
static const struct vgpu_arg_desc uobj_refs_args[VGPU_URW_NARGS] = {
	[VGPU_URW_OBJECT] = HANDLE("object", VGPU_H_USER_OBJECT),
	[VGPU_URW_COUNT] = SCALAR("count", 4),
};
static const struct vgpu_arg_desc uobj_graph_args[VGPU_UGW_NARGS] = {
	[VGPU_UGW_GRAPH] = HANDLE("graph", VGPU_H_GRAPH),
	[VGPU_UGW_OBJECT] = HANDLE("object", VGPU_H_USER_OBJECT),
	[VGPU_UGW_COUNT] = SCALAR("count", 4),
	[VGPU_UGW_FLAGS] = SCALAR("flags", 4),
};
const struct vgpu_call_desc vgpu_wire_uobj_retain = VGPU_WIRE_DESC("cuUserObjectRetain",
	VGPU_OP_cuUserObjectRetain, VGPU_CALLF_CUSTOM, uobj_refs_args, VGPU_URW_NARGS);
const struct vgpu_call_desc vgpu_wire_uobj_release = VGPU_WIRE_DESC("cuUserObjectRelease",
	VGPU_OP_cuUserObjectRelease, VGPU_CALLF_CUSTOM, uobj_refs_args, VGPU_URW_NARGS);
const struct vgpu_call_desc vgpu_wire_uobj_graph_retain = VGPU_WIRE_DESC("cuGraphRetainUserObject",
	VGPU_OP_cuGraphRetainUserObject, VGPU_CALLF_CUSTOM, uobj_graph_args, VGPU_UGW_NARGS);
/* (the object travels as the zone's id, untranslated: the zone may hold no reference of it
 * any more, and the worker finds it among what the zone gave the graph) */
static const struct vgpu_arg_desc uobj_graph_release_args[VGPU_UGW_NARGS] = {
	[VGPU_UGW_GRAPH] = HANDLE("graph", VGPU_H_GRAPH),
	[VGPU_UGW_OBJECT] = SCALAR("object", 8),
	[VGPU_UGW_COUNT] = SCALAR("count", 4),
	[VGPU_UGW_FLAGS] = SCALAR("flags", 4),
};
const struct vgpu_call_desc vgpu_wire_uobj_graph_release = VGPU_WIRE_DESC("cuGraphReleaseUserObject",
	VGPU_OP_cuGraphReleaseUserObject, VGPU_CALLF_CUSTOM, uobj_graph_release_args, VGPU_UGW_NARGS);

static const struct vgpu_arg_desc cond_node_args[VGPU_CNW_NARGS] = {
	[VGPU_CNW_NODE] = { .name = "phGraphNode", .kind = VGPU_ARG_OUT_HANDLE, .size = 8, .htype = VGPU_H_GRAPH_NODE,
			    .flags = VGPU_ARGF_NEW, .len_arg = N, .len_arg2 = N },
	[VGPU_CNW_GRAPH] = HANDLE("hGraph", VGPU_H_GRAPH),
	[VGPU_CNW_DEPS] = { .name = "dependencies", .kind = VGPU_ARG_IN_HANDLE_ARRAY, .size = 8, .htype = VGPU_H_GRAPH_NODE,
			    .len_arg = VGPU_CNW_NDEPS, .len_arg2 = N, .len_mul = 1, .max_len = 1024 },
	[VGPU_CNW_NDEPS] = SCALAR("numDependencies", 8),
	[VGPU_CNW_HANDLE] = SCALAR("handle", 8),
	[VGPU_CNW_TYPE] = SCALAR("type", 4),
	[VGPU_CNW_SIZE] = SCALAR("size", 4),
	[VGPU_CNW_CTX] = HANDLE("ctx", VGPU_H_CONTEXT),
	[VGPU_CNW_BODIES] = { .name = "phGraph_out", .kind = VGPU_ARG_OUT_HANDLE_ARRAY, .size = 8, .htype = VGPU_H_GRAPH,
			      .len_arg = VGPU_CNW_SIZE, .len_arg2 = N, .len_mul = 1, .max_len = VGPU_COND_BODIES_MAX },
};
const struct vgpu_call_desc vgpu_wire_cond_node = VGPU_WIRE_DESC("cuGraphAddNode_v2", VGPU_OP_cuGraphAddNode_v2,
	VGPU_CALLF_CUSTOM, cond_node_args, VGPU_CNW_NARGS);

static const struct vgpu_arg_desc hostfn_wait_args[VGPU_HWW_NARGS] = {
	[VGPU_HWW_DONE] = SCALAR("done", 8),
	[VGPU_HWW_TICKET] = { .name = "ticket", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_HWW_TOKEN] = { .name = "token", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
};
/* nout set by hand: the reply carries the ticket even when an async error is pending */
const struct vgpu_call_desc vgpu_wire_hostfn_wait = {
	.name = "vgpuHostFnWait", .opcode = VGPU_OP_HOSTFN, .flags = VGPU_CALLF_CUSTOM,
	.nargs = VGPU_HWW_NARGS, .nout = 2, .args = hostfn_wait_args, .custom = "vgpuHostFnWait" };

const struct vgpu_arg_desc vgpu_wire_link_destroy_args[1] = {
	{ .name = "state", .kind = VGPU_ARG_HANDLE, .size = 8, .htype = VGPU_H_LINK_STATE, .len_arg = N, .len_arg2 = N,
	  .flags = VGPU_ARGF_DESTROYS },
};

#define LINK_LOGS(P) \
	[P##_LOG] = { .name = "log", .kind = VGPU_ARG_OUT_BUF, .len_arg = P##_LOG_CAP, .len_arg2 = N, .len_mul = 1, \
		      .max_len = 2ull * VGPU_LINK_LOG_MAX }, \
	[P##_LOG_CAP] = SCALAR("logCap", 4), \
	[P##_INFO_LEN] = { .name = "infoLen", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N }, \
	[P##_ERR_LEN] = { .name = "errLen", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N }, \
	[P##_WALL] = { .name = "wallTime", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N, \
		       .flags = VGPU_ARGF_FLOAT }, \
	[P##_INFO_CAP] = SCALAR("infoCap", 4), \
	[P##_ERR_CAP] = SCALAR("errCap", 4), \
	[P##_STATUS] = { .name = "status", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N }

const struct vgpu_arg_desc vgpu_wire_link_create_args[VGPU_LKW_NARGS] = {
	[VGPU_LKW_STATE] = { .name = "stateOut", .kind = VGPU_ARG_OUT_HANDLE, .size = 8, .htype = VGPU_H_LINK_STATE,
			     .len_arg = N, .len_arg2 = N, .flags = VGPU_ARGF_NEW },
	[VGPU_LKW_NOPT] = SCALAR("numOptions", 4),
	[VGPU_LKW_KEYS] = INBUF("options", VGPU_LKW_NOPT, 4, 4ull * VGPU_LINK_OPT_MAX),
	[VGPU_LKW_VALS] = INBUF("optionValues", VGPU_LKW_NOPT, 8, 8ull * VGPU_LINK_OPT_MAX),
	LINK_LOGS(VGPU_LKW),
};

const struct vgpu_arg_desc vgpu_wire_link_add_args[VGPU_LAW_NARGS] = {
	[VGPU_LAW_STATE] = HANDLE("state", VGPU_H_LINK_STATE),
	[VGPU_LAW_TYPE] = SCALAR("type", 4),
	[VGPU_LAW_DATA] = INBUF("data", VGPU_LAW_SIZE, 1, VGPU_LINK_INPUT_MAX),
	[VGPU_LAW_SIZE] = SCALAR("size", 8),
	[VGPU_LAW_NAME] = { .name = "name", .kind = VGPU_ARG_STRING, .len_arg = N, .len_arg2 = N, .max_len = 4096 },
	[VGPU_LAW_NOPT] = SCALAR("numOptions", 4),
	[VGPU_LAW_KEYS] = INBUF("options", VGPU_LAW_NOPT, 4, 4ull * VGPU_LINK_OPT_MAX),
	[VGPU_LAW_VALS] = INBUF("optionValues", VGPU_LAW_NOPT, 8, 8ull * VGPU_LINK_OPT_MAX),
	LINK_LOGS(VGPU_LAW),
};

const struct vgpu_arg_desc vgpu_wire_link_complete_args[VGPU_LCW_NARGS] = {
	[VGPU_LCW_STATE] = HANDLE("state", VGPU_H_LINK_STATE),
	[VGPU_LCW_IMAGE] = { .name = "cubinOut", .kind = VGPU_ARG_OUT_BUF, .len_arg = VGPU_LCW_CAP, .len_arg2 = N,
			     .len_mul = 1, .max_len = VGPU_LINK_IMAGE_MAX },
	[VGPU_LCW_CAP] = SCALAR("cap", 8),
	[VGPU_LCW_SIZE] = { .name = "sizeOut", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	LINK_LOGS(VGPU_LCW),
};

static const struct vgpu_arg_desc pinned_map_args[VGPU_PMW_NARGS] = {
	[VGPU_PMW_BYTES] = SCALAR("bytes", 8),
	[VGPU_PMW_ID] = { .name = "id", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
};
static const struct vgpu_arg_desc pinned_grant_args[VGPU_PGW_NARGS] = {
	[VGPU_PGW_BYTES] = SCALAR("bytes", 8),
	[VGPU_PGW_NREFS] = SCALAR("nrefs", 4),
	[VGPU_PGW_REFS] = INBUF("refs", VGPU_PGW_NREFS, 4, 4ull * VGPU_PINNED_GRANT_MAX_PAGES),
	[VGPU_PGW_ID] = { .name = "id", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
};
static const struct vgpu_arg_desc pinned_unmap_args[VGPU_PUW_NARGS] = {
	[VGPU_PUW_ID] = SCALAR("id", 8),
};
static const struct vgpu_arg_desc pinned_where_args[VGPU_PWW_NARGS] = {
	[VGPU_PWW_ID] = SCALAR("id", 8),
	[VGPU_PWW_ADDR] = { .name = "addr", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
	[VGPU_PWW_DPTR] = { .name = "dptr", .kind = VGPU_ARG_OUT_SCALAR, .size = 8, .len_arg = N, .len_arg2 = N },
};
static const struct vgpu_arg_desc pinned_copy_args[VGPU_PCW_NARGS] = {
	[VGPU_PCW_ID]     = SCALAR("id", 8),
	[VGPU_PCW_DIR]    = SCALAR("dir", 4),
	[VGPU_PCW_FLAGS]  = SCALAR("flags", 4),
	[VGPU_PCW_OFFSET] = SCALAR("offset", 8),
	[VGPU_PCW_BYTES]  = SCALAR("bytes", 8),
	[VGPU_PCW_DPTR]   = { .name = "dptr", .kind = VGPU_ARG_DPTR, .size = 8, .len_arg = VGPU_PCW_BYTES,
			      .len_arg2 = N, .len_mul = 1, .max_len = UINT64_MAX, .flags = VGPU_ARGF_RANGE },
	[VGPU_PCW_STREAM] = HANDLE("stream", VGPU_H_STREAM),
};

/* nout set by hand: a map's reply carries the new id even when an async error is pending. */
const struct vgpu_call_desc vgpu_wire_pinned_map = {
	.name = "vgpuPinnedMap", .opcode = VGPU_OP_PINNED_MAP, .flags = VGPU_CALLF_CUSTOM,
	.nargs = VGPU_PMW_NARGS, .nout = 1, .args = pinned_map_args, .custom = "vgpuPinnedMap" };
const struct vgpu_call_desc vgpu_wire_pinned_grant = {
	.name = "vgpuPinnedGrant", .opcode = VGPU_OP_PINNED_GRANT, .flags = VGPU_CALLF_CUSTOM,
	.nargs = VGPU_PGW_NARGS, .nout = 1, .args = pinned_grant_args, .custom = "vgpuPinnedGrant" };
const struct vgpu_call_desc vgpu_wire_pinned_where = {
	.name = "vgpuPinnedWhere", .opcode = VGPU_OP_PINNED_WHERE, .flags = VGPU_CALLF_CUSTOM,
	.nargs = VGPU_PWW_NARGS, .nout = 2, .args = pinned_where_args, .custom = "vgpuPinnedWhere" };
const struct vgpu_call_desc vgpu_wire_pinned_unmap = VGPU_WIRE_DESC("vgpuPinnedUnmap", VGPU_OP_PINNED_UNMAP,
	VGPU_CALLF_CUSTOM | VGPU_CALLF_SYNC, pinned_unmap_args, VGPU_PUW_NARGS);
const struct vgpu_call_desc vgpu_wire_pinned_copy = VGPU_WIRE_DESC("vgpuPinnedCopy", VGPU_OP_PINNED_COPY,
	VGPU_CALLF_CUSTOM | VGPU_CALLF_SYNC, pinned_copy_args, VGPU_PCW_NARGS);
const struct vgpu_call_desc vgpu_wire_pinned_copy_async = VGPU_WIRE_DESC("vgpuPinnedCopyAsync",
	VGPU_OP_PINNED_COPY, VGPU_CALLF_CUSTOM | VGPU_CALLF_ASYNC, pinned_copy_args, VGPU_PCW_NARGS);

static const struct vgpu_arg_desc output_args[VGPU_OW_NARGS] = {
	[VGPU_OW_BYTES] = { .name = "bytes", .kind = VGPU_ARG_OUT_BUF, .len_arg = VGPU_OW_CAP, .len_arg2 = N,
			    .len_mul = 1, .max_len = VGPU_OUTPUT_STEP },
	[VGPU_OW_CAP] = SCALAR("cap", 4),
	[VGPU_OW_STREAM] = SCALAR("stream", 4),
	[VGPU_OW_LEN] = { .name = "len", .kind = VGPU_ARG_OUT_SCALAR, .size = 4, .len_arg = N, .len_arg2 = N },
};
/* nout set by hand: the reply carries the bytes even when an async error is pending */
const struct vgpu_call_desc vgpu_wire_output = {
	.name = "vgpuOutput", .opcode = VGPU_OP_OUTPUT, .flags = VGPU_CALLF_CUSTOM,
	.nargs = VGPU_OW_NARGS, .nout = 2, .args = output_args, .custom = "vgpuOutput" };
