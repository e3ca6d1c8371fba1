/* SPDX-License-Identifier: MIT */
/* custom_wire.h — wire descriptors of the hand-written calls, shared by libvgpu's stubs and the proxy's handlers. */
#ifndef VGPU_CUSTOM_WIRE_H
#define VGPU_CUSTOM_WIRE_H

#include <cuda.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.h"

/*
 * A custom call's C signature cannot cross the wire as is (kernelParams, struct pointers
 * with host pointers inside, images without a length). libvgpu rewrites it into one of the
 * messages below, sent under the call's own opcode; the proxy handler registered for that
 * opcode decodes it with the same descriptor through the generic, bounded decoder.
 */

/* Largest packed kernel parameter buffer the driver accepts (CUDA 12.1+: 32764 bytes). */
#define VGPU_KPARAM_MAX 32764u
/* Most kernel parameters and launch attributes one launch may carry. */
#define VGPU_KPARAM_COUNT_MAX 4096u
#define VGPU_LAUNCH_ATTR_MAX 32u
/* Largest module image accepted (PTX, cubin or fatbin). */
#define VGPU_MODULE_IMAGE_MAX (256ull << 20)

/* Launch kinds (wire_launch argument `kind`). */
enum vgpu_launch_kind {
	VGPU_LAUNCH_PLAIN = 0,       /* cuLaunchKernel */
	VGPU_LAUNCH_COOPERATIVE = 1, /* cuLaunchCooperativeKernel */
	VGPU_LAUNCH_EX = 2,          /* cuLaunchKernelEx (attributes in attrs) */
};

/*
 * Launch: [f, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMem, stream,
 *          params (bin, packed by value), paramBytes, layout (bin, nparams x {u32 offset,
 *          u32 size}), nparams, attrs (bin, nattrs x CUlaunchAttribute), nattrs, kind].
 * Async: no reply; a failure surfaces at the next synchronising call.
 */
enum {
	VGPU_LW_F, VGPU_LW_GX, VGPU_LW_GY, VGPU_LW_GZ, VGPU_LW_BX, VGPU_LW_BY, VGPU_LW_BZ,
	VGPU_LW_SHMEM, VGPU_LW_STREAM, VGPU_LW_PARAMS, VGPU_LW_PARAM_BYTES, VGPU_LW_LAYOUT,
	VGPU_LW_NPARAMS, VGPU_LW_ATTRS, VGPU_LW_NATTRS, VGPU_LW_KIND, VGPU_LW_NARGS
};
extern const struct vgpu_arg_desc vgpu_wire_launch_args[VGPU_LW_NARGS];

/* Module load: [module (out, new handle), image (bin), imageBytes]. */
enum { VGPU_MW_MODULE, VGPU_MW_IMAGE, VGPU_MW_IMAGE_BYTES, VGPU_MW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_module_args[VGPU_MW_NARGS];

/*
 * 2D/3D copy, normalised by the client to a CUDA_MEMCPY3D with at most one host side:
 * [copy (struct CUDA_MEMCPY3D, host pointers zeroed), hostIn (bin: the host rectangle
 *  packed row after row, HtoD), hostInBytes, hostOut (out bin, DtoH), hostOutBytes,
 *  stream, flags]. A peer copy (cuMemcpy3DPeer) is the same, its CUDA_MEMCPY3D_PEER laid out
 * as a CUDA_MEMCPY3D with the zone's source and destination context handles in reserved0/1.
 */
_Static_assert(sizeof(CUDA_MEMCPY3D) == sizeof(CUDA_MEMCPY3D_PEER) &&
		       offsetof(CUDA_MEMCPY3D, reserved0) == offsetof(CUDA_MEMCPY3D_PEER, srcContext) &&
		       offsetof(CUDA_MEMCPY3D, reserved1) == offsetof(CUDA_MEMCPY3D_PEER, dstContext) &&
		       offsetof(CUDA_MEMCPY3D, Depth) == offsetof(CUDA_MEMCPY3D_PEER, Depth),
	       "a peer copy travels as a CUDA_MEMCPY3D carrying its contexts in reserved0/1");
enum { VGPU_CW_COPY, VGPU_CW_HOST_IN, VGPU_CW_HOST_IN_BYTES, VGPU_CW_HOST_OUT,
       VGPU_CW_HOST_OUT_BYTES, VGPU_CW_STREAM, VGPU_CW_FLAGS, VGPU_CW_NARGS };
#define VGPU_COPY_F_ASYNC 0x1u
extern const struct vgpu_arg_desc vgpu_wire_copy_args[VGPU_CW_NARGS];

/* Context creation (cuCtxCreate_v4 without affinity/CIG parameters): [pctx (out, new), flags, dev]. */
enum { VGPU_XW_PCTX, VGPU_XW_FLAGS, VGPU_XW_DEV, VGPU_XW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_ctx_create_args[VGPU_XW_NARGS];

/*
 * One pointer attribute of a device pointer: [value (out u64), attribute, ptr]. The client
 * narrows value to the attribute's C type; the proxy answers only attributes it can express
 * in the zone's terms (a context becomes the zone's handle id).
 */
enum { VGPU_PW_VALUE, VGPU_PW_ATTR, VGPU_PW_PTR, VGPU_PW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_pointer_attr_args[VGPU_PW_NARGS];
/* Whether a is a number some CUpointer_attribute has: the driver answers INVALID_VALUE for
 * any other, where vgpu answers NOT_SUPPORTED for attributes it does not remote. */
static inline int vgpu_pointer_attr_known(unsigned a)
{
	return a >= CU_POINTER_ATTRIBUTE_CONTEXT && a <= CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE;
}
/* cuPointerSetAttribute: the value (an int: CU_POINTER_ATTRIBUTE_SYNC_MEMOPS is the one
 * attribute the driver sets), the attribute, the zone's device pointer. */
enum { VGPU_PSW_VALUE, VGPU_PSW_ATTR, VGPU_PSW_PTR, VGPU_PSW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_pointer_set_attr_args[VGPU_PSW_NARGS];

/*
 * A memory pool from its properties, pointer-free: [pool (out handle), allocType, handleTypes,
 * locationType, locationId, maxSize, usage]. The proxy builds the driver's CUmemPoolProps
 * itself (no host pointer of the zone ever reaches the driver).
 */
enum { VGPU_MPW_POOL, VGPU_MPW_ALLOC_TYPE, VGPU_MPW_HANDLE_TYPES, VGPU_MPW_LOC_TYPE, VGPU_MPW_LOC_ID,
       VGPU_MPW_MAX_SIZE, VGPU_MPW_USAGE, VGPU_MPW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_pool_create_args[VGPU_MPW_NARGS];

/*
 * A memory pool attribute, its value widened to 64 bits whatever its C type (int or
 * cuuint64_t by attribute): set [pool, attr, value], get [value (out), pool, attr].
 */
enum { VGPU_PAW_POOL, VGPU_PAW_ATTR, VGPU_PAW_VALUE, VGPU_PAW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_pool_set_attr_args[VGPU_PAW_NARGS];
enum { VGPU_PAG_VALUE, VGPU_PAG_POOL, VGPU_PAG_ATTR, VGPU_PAG_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_pool_get_attr_args[VGPU_PAG_NARGS];

/*
 * A stream's capture state: [stream, status (out), id (out), graph (out handle), deps (out
 * handle array of capacity ndeps), edges (out, ndeps CUgraphEdgeData), ndeps (inout)]. The
 * driver answers with pointers into its own memory; the proxy copies the arrays out.
 */
#define VGPU_CAPTURE_DEPS_MAX 256
enum { VGPU_CIW_STREAM, VGPU_CIW_STATUS, VGPU_CIW_ID, VGPU_CIW_GRAPH, VGPU_CIW_DEPS, VGPU_CIW_EDGES,
       VGPU_CIW_NDEPS, VGPU_CIW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_capture_info_args[VGPU_CIW_NARGS];

/*
 * Virtual memory management. An allocation's properties travel as plain numbers (the
 * props' Windows-only pointer never does): [type, requested handle types, location type,
 * location id, compression type, RDMA capable, usage], after the call's own leading
 * arguments. Handles (CUmemGenericAllocationHandle) and addresses are plain 64-bit numbers
 * that the proxy checks against the zone's own records.
 */
enum { VGPU_VCW_HANDLE, VGPU_VCW_SIZE, VGPU_VCW_TYPE, VGPU_VCW_HTYPES, VGPU_VCW_LOC_TYPE, VGPU_VCW_LOC_ID,
       VGPU_VCW_COMPRESSION, VGPU_VCW_RDMA, VGPU_VCW_USAGE, VGPU_VCW_FLAGS, VGPU_VCW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_mem_create_args[VGPU_VCW_NARGS];
enum { VGPU_VGW_GRAN, VGPU_VGW_OPTION, VGPU_VGW_TYPE, VGPU_VGW_HTYPES, VGPU_VGW_LOC_TYPE, VGPU_VGW_LOC_ID,
       VGPU_VGW_COMPRESSION, VGPU_VGW_RDMA, VGPU_VGW_USAGE, VGPU_VGW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_mem_granularity_args[VGPU_VGW_NARGS];
enum { VGPU_VMW_PTR, VGPU_VMW_SIZE, VGPU_VMW_OFFSET, VGPU_VMW_HANDLE, VGPU_VMW_FLAGS, VGPU_VMW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_mem_map_args[VGPU_VMW_NARGS];
enum { VGPU_VUW_PTR, VGPU_VUW_SIZE, VGPU_VUW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_mem_unmap_args[VGPU_VUW_NARGS];
enum { VGPU_VRW_HANDLE, VGPU_VRW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_mem_release_args[VGPU_VRW_NARGS];

/*
 * Tensor map encoding (the TMA descriptors of compute capability 9.0 and up, a pure
 * encoding of numbers): every argument of the three encoders in one fixed struct, and the
 * 128-byte map back. Rank is at most 5.
 */
#define VGPU_TMAP_RANK_MAX 5
enum { VGPU_TMAP_TILED, VGPU_TMAP_IM2COL, VGPU_TMAP_IM2COL_WIDE };
struct vgpu_tmap_args {
	uint32_t kind, data_type, rank, interleave, swizzle, l2, oob, wide_mode;
	uint32_t channels_per_pixel, pixels_per_column;
	int32_t lower_w, upper_w;
	uint64_t address;
	uint64_t dims[VGPU_TMAP_RANK_MAX], strides[VGPU_TMAP_RANK_MAX];
	uint32_t box[VGPU_TMAP_RANK_MAX], element_strides[VGPU_TMAP_RANK_MAX];
	int32_t lower[VGPU_TMAP_RANK_MAX], upper[VGPU_TMAP_RANK_MAX];
};
enum { VGPU_TMW_MAP, VGPU_TMW_ARGS, VGPU_TMW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_tmap_encode_args[VGPU_TMW_NARGS];
enum { VGPU_TRW_MAP, VGPU_TRW_ADDRESS, VGPU_TRW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_tmap_replace_args[VGPU_TRW_NARGS];

/* cuMemRetainAllocationHandle: [handle (out), address]; cuMemGetAllocationPropertiesFromHandle: [props (out), handle]. */
struct vgpu_wire_prop {
	uint32_t type, htypes, loc_type, compression, rdma, usage;
	int32_t loc_id;
};
enum { VGPU_VTW_HANDLE, VGPU_VTW_ADDR, VGPU_VTW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_mem_retain_args[VGPU_VTW_NARGS];
enum { VGPU_VPW_PROP, VGPU_VPW_HANDLE, VGPU_VPW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_mem_props_args[VGPU_VPW_NARGS];

/*
 * IPC handles (proxy/ipc.c). What the zone holds is the proxy's handle (struct
 * vgpu_ipc_wire_handle in the 64 bytes of a CUipcMemHandle / CUipcEventHandle), never the
 * driver's. cuIpcGetMemHandle: [handle (out), dptr]; cuIpcOpenMemHandle_v2: [dptr (out),
 * size (out: libvgpu then knows the range is device memory), handle, flags]; cuIpcCloseMemHandle: [dptr]; cuIpcGetEventHandle: [handle (out), event];
 * cuIpcOpenEventHandle: [event (out, new), handle].
 */
/*
 * cuDevSmResourceSplitByCount (proxy/custom_green.c): [cap (how many results the caller has
 * room for; 0: only count them), result (out, cap resources), nbGroups (out), input,
 * remaining (out), want_remaining, useFlags, minCount]. At most VGPU_GREEN_SPLIT_MAX results.
 */
#define VGPU_GREEN_SPLIT_MAX 256u
enum { VGPU_GSW_CAP, VGPU_GSW_RESULT, VGPU_GSW_NB, VGPU_GSW_INPUT, VGPU_GSW_REMAINING, VGPU_GSW_WANT_REM,
       VGPU_GSW_FLAGS, VGPU_GSW_MIN, VGPU_GSW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_green_split_args[VGPU_GSW_NARGS];

#define VGPU_IPC_MAGIC 0x43504967u      /* "gIPC" */
#define VGPU_IPC_KIND_MEM 1u
#define VGPU_IPC_KIND_EVENT 2u
struct vgpu_ipc_wire_handle {
	uint32_t magic;
	uint16_t version;                /* 1 */
	uint16_t kind;                   /* VGPU_IPC_KIND_* */
	uint32_t entry;                  /* index in the registration's table */
	uint32_t zero;
	uint8_t nonce[16];               /* the entry's random name: a guessed index names nothing */
	uint8_t pad[32];
};
enum { VGPU_IGW_HANDLE, VGPU_IGW_DPTR, VGPU_IGW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_ipc_get_mem_args[VGPU_IGW_NARGS];
enum { VGPU_IOW_DPTR, VGPU_IOW_SIZE, VGPU_IOW_HANDLE, VGPU_IOW_FLAGS, VGPU_IOW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_ipc_open_mem_args[VGPU_IOW_NARGS];
enum { VGPU_ICW_DPTR, VGPU_ICW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_ipc_close_mem_args[VGPU_ICW_NARGS];
enum { VGPU_IEW_HANDLE, VGPU_IEW_EVENT, VGPU_IEW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_ipc_get_event_args[VGPU_IEW_NARGS];
enum { VGPU_IVW_EVENT, VGPU_IVW_HANDLE, VGPU_IVW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_ipc_open_event_args[VGPU_IVW_NARGS];

/*
 * A stream attribute: set [stream, attr, value (the CUstreamAttrValue union's bytes)], get
 * [value (out), stream, attr]. Only the stream attributes that name no object are carried;
 * an access policy window's address must lie in the zone's memory.
 */
enum { VGPU_SAW_STREAM, VGPU_SAW_ATTR, VGPU_SAW_VALUE, VGPU_SAW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_stream_set_attr_args[VGPU_SAW_NARGS];
enum { VGPU_SAG_VALUE, VGPU_SAG_STREAM, VGPU_SAG_ATTR, VGPU_SAG_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_stream_get_attr_args[VGPU_SAG_NARGS];

/*
 * Cluster occupancy of a launch configuration: [result (out), f, grid, block, shared memory,
 * stream, attributes (n), n, which (0: potential cluster size, 1: active clusters)].
 */
enum { VGPU_OCW_OUT, VGPU_OCW_F, VGPU_OCW_GX, VGPU_OCW_GY, VGPU_OCW_GZ, VGPU_OCW_BX, VGPU_OCW_BY, VGPU_OCW_BZ,
       VGPU_OCW_SHMEM, VGPU_OCW_STREAM, VGPU_OCW_ATTRS, VGPU_OCW_NATTRS, VGPU_OCW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_occ_cluster_args[VGPU_OCW_NARGS];

/*
 * cuGraphExecUpdate: [exec, graph, result (out), error node (out handle), its upstream node
 * (out handle), the driver's CUresult (out)]. The result info matters most when the update
 * fails, so the message itself succeeds and carries the driver's answer as a field.
 */
enum { VGPU_GUW_EXEC, VGPU_GUW_GRAPH, VGPU_GUW_RESULT, VGPU_GUW_ERR, VGPU_GUW_ERR_FROM, VGPU_GUW_STATUS,
       VGPU_GUW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_graph_update_args[VGPU_GUW_NARGS];

/*
 * Graph node parameters and attributes: a memset node's parameters [node, params] and in an
 * executable graph [exec, node, params, ctx] (the destination checked like a memset's); a
 * kernel node's attribute set [node, attr, value], get [value (out), node, attr].
 */
enum { VGPU_MNW_NODE, VGPU_MNW_PARAMS, VGPU_MNW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_memset_node_args[VGPU_MNW_NARGS];
enum { VGPU_MXW_EXEC, VGPU_MXW_NODE, VGPU_MXW_PARAMS, VGPU_MXW_CTX, VGPU_MXW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_exec_memset_node_args[VGPU_MXW_NARGS];
enum { VGPU_KAW_NODE, VGPU_KAW_ATTR, VGPU_KAW_VALUE, VGPU_KAW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_knode_set_attr_args[VGPU_KAW_NARGS];
enum { VGPU_KAG_VALUE, VGPU_KAG_NODE, VGPU_KAG_ATTR, VGPU_KAG_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_knode_get_attr_args[VGPU_KAG_NARGS];

/*
 * A kernel node's launch.
 *   read: [node, function (out u64: the zone's handle of it), shape (out), parameters (out,
 *         cap bytes: each parameter at its offset in the driver's layout, the rest zero), cap]
 *         The shape's param_bytes is the end of the last parameter; when it exceeds cap the
 *         bytes were not written, and the zone asks again with cap = param_bytes.
 *   set:  [exec (0: the graph's own node), node, then a launch's function, shape and packed
 *         parameters with their layout (as vgpu_wire_launch_args)]
 */
struct vgpu_knode_shape {
	uint32_t grid[3], block[3], shmem, param_bytes;
};
enum { VGPU_KGW_NODE, VGPU_KGW_FUNC, VGPU_KGW_SHAPE, VGPU_KGW_PARAMS, VGPU_KGW_CAP, VGPU_KGW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_knode_get_args[VGPU_KGW_NARGS];
enum { VGPU_KSW_EXEC, VGPU_KSW_NODE, VGPU_KSW_F, VGPU_KSW_GX, VGPU_KSW_GY, VGPU_KSW_GZ, VGPU_KSW_BX, VGPU_KSW_BY,
       VGPU_KSW_BZ, VGPU_KSW_SHMEM, VGPU_KSW_PARAMS, VGPU_KSW_PARAM_BYTES, VGPU_KSW_LAYOUT, VGPU_KSW_NPARAMS,
       VGPU_KSW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_knode_set_args[VGPU_KSW_NARGS];

/*
 * A copy node's copy: read [node, copy (out CUDA_MEMCPY3D)]; set [exec (0: the graph's own
 * node), node, copy, ctx]. Both sides are device memory (a pinned region by the device
 * address its kernels reach it at): no host address crosses in either direction.
 */
enum { VGPU_CGW_NODE, VGPU_CGW_COPY, VGPU_CGW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_mcnode_get_args[VGPU_CGW_NARGS];
enum { VGPU_CSW_EXEC, VGPU_CSW_NODE, VGPU_CSW_COPY, VGPU_CSW_CTX, VGPU_CSW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_mcnode_set_args[VGPU_CSW_NARGS];

/*
 * Pinned host memory shared with the zone's worker (session.h VGPU_OP_PINNED_*, proxy/pinned.h).
 *   map:   [bytes, id (out u64)]            after the region's memfd was passed beside the ring
 *   grant: [bytes, nrefs, refs (nrefs u32 grant references, one per 4 KiB page), id (out u64)]
 *          a Xen guest's region: pages it granted to Dom0, mapped by the zone's worker
 *   unmap: [id]
 *   where: [id, addr (out u64), dptr (out u64)]   the worker's address of the region and the
 *          device address its kernels reach it at (0: they cannot); with unified addressing
 *          they are equal, and the zone maps the region at that address if it can
 *   copy:  [id, dir, flags, offset, bytes, dptr (range-checked over bytes), stream]
 * The copy is sent under the async descriptor (no reply) when flags has VGPU_PINNED_F_ASYNC.
 */
enum { VGPU_PINNED_HTOD = 1, VGPU_PINNED_DTOH = 2 };
#define VGPU_PINNED_F_ASYNC 1u /* the Async form: queued on stream, no reply */
#define VGPU_PINNED_F_PTDS  2u /* the _ptds/_ptsz form: the NULL stream is the per-thread one */
enum { VGPU_PMW_BYTES, VGPU_PMW_ID, VGPU_PMW_NARGS };
enum { VGPU_PGW_BYTES, VGPU_PGW_NREFS, VGPU_PGW_REFS, VGPU_PGW_ID, VGPU_PGW_NARGS };
#define VGPU_PINNED_GRANT_MAX_PAGES 16384u   /* 64 MiB: the references fit one message or bulk step */
enum { VGPU_PUW_ID, VGPU_PUW_NARGS };
enum { VGPU_PWW_ID, VGPU_PWW_ADDR, VGPU_PWW_DPTR, VGPU_PWW_NARGS };
enum { VGPU_PCW_ID, VGPU_PCW_DIR, VGPU_PCW_FLAGS, VGPU_PCW_OFFSET, VGPU_PCW_BYTES, VGPU_PCW_DPTR,
       VGPU_PCW_STREAM, VGPU_PCW_NARGS };
extern const struct vgpu_call_desc vgpu_wire_pinned_map, vgpu_wire_pinned_unmap, vgpu_wire_pinned_copy,
	vgpu_wire_pinned_copy_async, vgpu_wire_pinned_grant, vgpu_wire_pinned_where;

/*
 * The zone's device output (what its kernels printed, on stdout, and the driver's reports of
 * failed device assertions, on stderr), VGPU_OP_OUTPUT: [bytes (out, capacity cap), cap,
 * stream (0 stdout, 1 stderr), len (out: how many of them are output)]. Never a
 * synchronising call: a pending asynchronous error stays for the program's own next call.
 */
#define VGPU_OUTPUT_STEP (60u << 10)
enum { VGPU_OW_BYTES, VGPU_OW_CAP, VGPU_OW_STREAM, VGPU_OW_LEN, VGPU_OW_NARGS };
extern const struct vgpu_call_desc vgpu_wire_output;

/*
 * Texture and surface objects (libvgpu/texture.c, proxy/texture.c).
 *   create: [obj (out u64: the driver's value, which kernels take as a parameter), res
 *           (CUDA_RESOURCE_DESC with its array and mipmapped-array fields zeroed), array (the
 *           zone's handle of the array a CU_RESOURCE_TYPE_ARRAY resource names, else 0), tex
 *           (CUDA_TEXTURE_DESC; zero for a surface), view (CUDA_RESOURCE_VIEW_DESC), hasView]
 *           cuSurfObjectCreate sends the same layout with tex and view zero.
 *   resource: [res (out CUDA_RESOURCE_DESC, array fields zeroed), array (out u64: the zone's
 *           handle of its array while the zone holds one, else 0), obj]
 * A linear or pitched resource is a device range the proxy checks against the zone's memory.
 */
enum { VGPU_TXW_OBJ, VGPU_TXW_RES, VGPU_TXW_ARRAY, VGPU_TXW_TEX, VGPU_TXW_VIEW, VGPU_TXW_HAS_VIEW, VGPU_TXW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_texobj_create_args[VGPU_TXW_NARGS];
enum { VGPU_TOW_RES, VGPU_TOW_ARRAY, VGPU_TOW_OBJ, VGPU_TOW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_texobj_resource_args[VGPU_TOW_NARGS];

/*
 * The JIT linker (libvgpu/link.c, proxy/custom_link.c). Options travel as numbers only: keys
 * (u32) and values (u64) of the scalar options; the log buffers stay in the zone, which
 * sends their capacities, and every call's reply carries what the driver has written in them
 * so far (info log, then error log, in one buffer of infoCap + errCap bytes) with their
 * lengths and the wall time. Options whose values are host pointers (symbol addresses,
 * name lists) are refused. The call's own result travels as `status` in a successful reply,
 * so that a failed link still brings back the error log that says why.
 *   create:   [state (out handle), nopt, keys, vals, infoCap, errCap, logs...]
 *   add:      [state, type, data (bulk), size, name, nopt, keys, vals, infoCap, errCap, logs...]
 *   complete: [state, image (out, cap bytes), cap, size (out: the image's bytes; more than cap
 *             and nothing was written: ask again with cap = size), infoCap, errCap, logs...]
 *   destroy:  [state]
 */
#define VGPU_LINK_OPT_MAX 32u
#define VGPU_LINK_LOG_MAX (64u << 10)       /* per log: a longer zone buffer gets this much */
#define VGPU_LINK_INPUT_MAX (256ull << 20)  /* bytes of one input */
#define VGPU_LINK_IMAGE_MAX (256ull << 20)
enum { VGPU_LKW_STATE, VGPU_LKW_NOPT, VGPU_LKW_KEYS, VGPU_LKW_VALS, VGPU_LKW_INFO_CAP, VGPU_LKW_ERR_CAP,
       VGPU_LKW_LOG, VGPU_LKW_LOG_CAP, VGPU_LKW_INFO_LEN, VGPU_LKW_ERR_LEN, VGPU_LKW_WALL, VGPU_LKW_STATUS, VGPU_LKW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_link_create_args[VGPU_LKW_NARGS];
enum { VGPU_LAW_STATE, VGPU_LAW_TYPE, VGPU_LAW_DATA, VGPU_LAW_SIZE, VGPU_LAW_NAME, VGPU_LAW_NOPT, VGPU_LAW_KEYS,
       VGPU_LAW_VALS, VGPU_LAW_INFO_CAP, VGPU_LAW_ERR_CAP, VGPU_LAW_LOG, VGPU_LAW_LOG_CAP, VGPU_LAW_INFO_LEN,
       VGPU_LAW_ERR_LEN, VGPU_LAW_WALL, VGPU_LAW_STATUS, VGPU_LAW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_link_add_args[VGPU_LAW_NARGS];
enum { VGPU_LCW_STATE, VGPU_LCW_IMAGE, VGPU_LCW_CAP, VGPU_LCW_SIZE, VGPU_LCW_INFO_CAP, VGPU_LCW_ERR_CAP,
       VGPU_LCW_LOG, VGPU_LCW_LOG_CAP, VGPU_LCW_INFO_LEN, VGPU_LCW_ERR_LEN, VGPU_LCW_WALL, VGPU_LCW_STATUS, VGPU_LCW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_link_complete_args[VGPU_LCW_NARGS];
/* destroy: [state] (the handle is dropped on success) */
extern const struct vgpu_arg_desc vgpu_wire_link_destroy_args[1];

/*
 * Host functions (cuLaunchHostFunc, graph host nodes): a zone's function pointer means
 * nothing to the proxy, so the zone names each (function, data) pair by a token of its own
 * and the worker gives the driver a function of its own that hands the token back to the
 * zone's host-function thread and waits until that thread says it ran (docs/ARCHITECTURE.md).
 *   launch (VGPU_OP_cuLaunchHostFunc, _ptsz): [hStream, token, kept (out: 1 when the worker
 *     keeps the record, a captured launch that is a graph's host node; 0: it runs once)]
 *   wait (VGPU_OP_HOSTFN, control): [done (the ticket of the function the zone just ran, 0:
 *     none), ticket (out: the next function to run, 0: none yet), token (out)]
 * A wait returns within VGPU_HOSTFN_WAIT_MS when nothing is due, so a zone's waiting
 * channel never holds up the worker for longer.
 */
#define VGPU_HOSTFN_WAIT_MS 100u
#define VGPU_HOSTFN_MAX 65536u    /* a zone's host-function records (the graphs' host nodes) */
enum { VGPU_HFW_STREAM, VGPU_HFW_TOKEN, VGPU_HFW_KEPT, VGPU_HFW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_hostfn_launch_args[VGPU_HFW_NARGS];
enum { VGPU_HWW_DONE, VGPU_HWW_TICKET, VGPU_HWW_TOKEN, VGPU_HWW_NARGS };
/* A graph host node's parameters as tokens: get (VGPU_OP_cuGraphHostNodeGetParams):
 * [hNode, token (out)]; set (..._cuGraphHostNodeSetParams): [hNode, token]; set in an
 * executable graph (..._cuGraphExecHostNodeSetParams): [hGraphExec, hNode, token]. */
enum { VGPU_HNW_NODE, VGPU_HNW_TOKEN, VGPU_HNW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_host_node_get_args[VGPU_HNW_NARGS];
extern const struct vgpu_arg_desc vgpu_wire_host_node_set_args[VGPU_HNW_NARGS];
enum { VGPU_HXW_EXEC, VGPU_HXW_NODE, VGPU_HXW_TOKEN, VGPU_HXW_NARGS };
extern const struct vgpu_arg_desc vgpu_wire_exec_host_node_set_args[VGPU_HXW_NARGS];
/* Their call descriptors (opcodes of spec/cuda.spec), shared by libvgpu, the proxy and tests. */
extern const struct vgpu_call_desc vgpu_wire_hostfn_launch, vgpu_wire_hostfn_launch_ptsz;
extern const struct vgpu_call_desc vgpu_wire_host_node_get, vgpu_wire_host_node_set, vgpu_wire_exec_host_node_set;
extern const struct vgpu_call_desc vgpu_wire_hostfn_wait;

/*
 * User objects (cuUserObjectCreate): the destructor and its argument stay in the zone as a
 * host-function token (one run); the worker gives the driver its own function with a record
 * of the token.
 *   create (VGPU_OP_cuUserObjectCreate): [object (out handle), token, initialRefcount, flags]
 * Every one goes to a handler that counts the references the zone holds.
 */
enum { VGPU_UOW_OBJECT, VGPU_UOW_TOKEN, VGPU_UOW_REFS, VGPU_UOW_FLAGS, VGPU_UOW_NARGS };
extern const struct vgpu_call_desc vgpu_wire_uobj_create;
/*   retain, release (VGPU_OP_cuUserObjectRetain, ..._cuUserObjectRelease): [object, count]
 *   a graph's retain (VGPU_OP_cuGraphRetainUserObject): [graph, object, count, flags] */
enum { VGPU_URW_OBJECT, VGPU_URW_COUNT, VGPU_URW_NARGS };
enum { VGPU_UGW_GRAPH, VGPU_UGW_OBJECT, VGPU_UGW_COUNT, VGPU_UGW_FLAGS, VGPU_UGW_NARGS };
extern const struct vgpu_call_desc vgpu_wire_uobj_retain, vgpu_wire_uobj_release, vgpu_wire_uobj_graph_retain;
/* cuGraphReleaseUserObject: the same arguments, flags 0 */
extern const struct vgpu_call_desc vgpu_wire_uobj_graph_release;

/*
 * Conditional nodes (VGPU_OP_cuGraphAddNode_v2, whose only wire form this is: the generic
 * call's other node types are made of other calls in the zone, runtime/graphnodes.c):
 *   [node (out handle), graph, dependencies (numDependencies node handles), numDependencies,
 *    handle (the driver's cuGraphConditionalHandleCreate value), type, size, ctx,
 *    bodies (out: size graph handles, owned by the node)]
 * size is at most VGPU_COND_BODIES_MAX (a SWITCH node's bodies).
 */
#define VGPU_COND_BODIES_MAX 1024u
enum { VGPU_CNW_NODE, VGPU_CNW_GRAPH, VGPU_CNW_DEPS, VGPU_CNW_NDEPS, VGPU_CNW_HANDLE, VGPU_CNW_TYPE, VGPU_CNW_SIZE,
       VGPU_CNW_CTX, VGPU_CNW_BODIES, VGPU_CNW_NARGS };
extern const struct vgpu_call_desc vgpu_wire_cond_node;

/* 1 when a memory pool attribute's value is an int (the reuse flags), 0 for a cuuint64_t. */
static inline int vgpu_pool_attr_is_int(unsigned attr)
{
	return attr >= 1 && attr <= 3; /* CU_MEMPOOL_ATTR_REUSE_* */
}

/* Build a call descriptor for one of the wire layouts above under opcode op. */
#define VGPU_WIRE_DESC(nm, op, fl, argtab, n) \
	{ .name = (nm), .opcode = (op), .flags = (fl), .nargs = (n), .nout = 0, .args = (argtab), .custom = (nm) }

#endif
