/* SPDX-License-Identifier: MIT */
/* custom_calls.c — proxy handlers of the hand-written calls: context creation, module loads, launches, 2D/3D copies, pointer attributes. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "proxy.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "custom_wire.h"
#include "log.h"
#include "modimage.h"
#include "vgpu_dispatch.h"
#include "vgpu_ops.h"
#include "vmm.h"

/*
 * Every handler here runs after the framework decoded its message with the wire descriptor
 * from custom_wire.h: handles are already translated (a foreign one never gets here), the
 * declared device ranges checked, buffers staged within the zone's limits. What is left is
 * what the descriptor cannot say, checked below before the driver sees anything.
 */

#define ARG(T, i) (*(T *)argv[i])

/* ---------------------------------------------------------------- contexts */

static CUresult ctx_create(struct vgpu_proxy_call *call, void **argv)
{
	if (!call->drv->cuCtxCreate_v4)
		return CUDA_ERROR_NOT_SUPPORTED;
	return call->drv->cuCtxCreate_v4(ARG(CUcontext *, VGPU_XW_PCTX), NULL, ARG(unsigned, VGPU_XW_FLAGS),
					  ARG(CUdevice, VGPU_XW_DEV));
}

/* ---------------------------------------------------------------- modules */

/*
 * The driver parses the image without being told its length, so the image must describe
 * itself as no longer than the bytes actually received: otherwise a crafted header would make
 * the driver read past the staging buffer.
 */
static CUresult module_load(struct vgpu_proxy_call *call, void **argv)
{
	const void *image = ARG(const void *, VGPU_MW_IMAGE);
	uint64_t len = ARG(uint64_t, VGPU_MW_IMAGE_BYTES);
	size_t self_len = 0;

	if (!image || len == 0 || vgpu_modimage_size(image, len, &self_len) < 0 || self_len > len) {
		vgpu_info("%s: refused a module image of %llu bytes that is not a well-formed PTX, cubin or fatbin",
			  call->desc->name, (unsigned long long)len);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	if (!call->drv->cuModuleLoadData)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = call->drv->cuModuleLoadData(ARG(CUmodule *, VGPU_MW_MODULE), image);
	if (r == CUDA_SUCCESS)   /* a checkpoint carries the image to load it again */
		vgpu_ckpt_note_image(call->zone, *ARG(CUmodule *, VGPU_MW_MODULE), image, self_len);
	return r;
}

/* ---------------------------------------------------------------- launches */

/* Launch attributes a zone may set as they are: numbers and hints, none of them names memory
 * or another object. (A launch also takes a checked window and the zone's events: launch_attrs.) */
static int launch_attr_allowed(CUlaunchAttributeID id)
{
	switch (id) {
	case CU_LAUNCH_ATTRIBUTE_IGNORE:
	case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
	case CU_LAUNCH_ATTRIBUTE_PRIORITY:
	case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
	case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
	case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
	case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
	case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
		return 1;
	default:
		return 0;
	}
}

/*
 * A launch's attributes as the driver gets them, into out: the numbers and hints as they
 * are; the memory synchronisation domain and its map (numbers); an access policy window
 * (a cache hint over a range, which must lie in one of the zone's allocations); the events
 * a programmatic or a completion event attribute names, the zone's ids turned into the
 * driver's events. Anything else (a device-updatable node, which writes back a device
 * handle; an unknown attribute) is CUDA_ERROR_NOT_SUPPORTED.
 */
static CUresult launch_attrs(struct vgpu_proxy_call *call, const CUlaunchAttribute *in, uint32_t n,
			     CUlaunchAttribute *out)
{
	for (uint32_t i = 0; i < n; i++) {
		out[i] = in[i];
		switch (in[i].id) {
		case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
		case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
			break;
		case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
			if (in[i].value.accessPolicyWindow.num_bytes &&
			    vgpu_proxy_check_dptr(call, (uint64_t)(uintptr_t)in[i].value.accessPolicyWindow.base_ptr,
						  in[i].value.accessPolicyWindow.num_bytes) != CUDA_SUCCESS)
				return CUDA_ERROR_INVALID_VALUE;
			break;
		case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:
		case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT: {
			/* the two share a layout: the event first */
			void *real = NULL;
			uint64_t id = (uint64_t)(uintptr_t)in[i].value.programmaticEvent.event;
			if (vgpu_zone_handle_in(call->zone, VGPU_H_EVENT, id, &real) < 0 || !real)
				return CUDA_ERROR_INVALID_HANDLE;
			out[i].value.programmaticEvent.event = (CUevent)real;
			break;
		}
		default:
			if (!launch_attr_allowed(in[i].id)) {
				vgpu_info("%s: launch attribute %d refused (it names objects, or is unknown)",
					  call->desc->name, (int)in[i].id);
				return CUDA_ERROR_NOT_SUPPORTED;
			}
		}
	}
	return CUDA_SUCCESS;
}

/*
 * Parameters arrive packed, with the layout the zone learned from the module image. They are
 * copied into a buffer twice the largest parameter space that is all zeros between launches,
 * so that whatever size the driver believes a parameter has, reading it stays inside memory
 * that holds only this launch's bytes. The driver copies parameters during the launch call,
 * so the bytes are cleared again right after it. One buffer per channel thread: zeroing
 * 64 KiB per launch would cost more than the rest of the launch.
 */
static pthread_key_t launch_buf_key;
static pthread_once_t launch_buf_once = PTHREAD_ONCE_INIT;

static void launch_buf_key_make(void)
{
	pthread_key_create(&launch_buf_key, free);
}

static uint8_t *launch_buf(void)
{
	uint8_t *b;

	pthread_once(&launch_buf_once, launch_buf_key_make);
	b = pthread_getspecific(launch_buf_key);
	if (!b && (b = calloc(1, 2 * (size_t)VGPU_KPARAM_MAX)) && pthread_setspecific(launch_buf_key, b) != 0) {
		free(b);
		b = NULL;
	}
	return b;
}

/* kernelParams pointing into buf at each parameter's offset, every one inside the packed bytes. */
static CUresult launch_params(struct vgpu_proxy_call *call, const uint32_t *layout, uint32_t nparams, uint8_t *buf,
			      uint32_t pbytes, void ***kp /* out: NULL when nparams is 0 */)
{
	void **v;

	*kp = NULL;
	vgpu_ckpt_words(call->zone, buf, pbytes, 1);   /* pointers to module globals a restore moved */
	if (!nparams)
		return CUDA_SUCCESS;
	if (nparams > VGPU_KPARAM_COUNT_MAX || !layout)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(v = vgpu_arena_alloc(call->arena, (nparams + 1) * sizeof(void *))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (uint32_t i = 0; i < nparams; i++) {
		uint64_t off = layout[2 * i], sz = layout[2 * i + 1];
		if (off + sz > pbytes) {
			vgpu_debug("%s: parameter %u at [%llu, +%llu) lies outside the %u packed bytes",
				   call->desc->name, i, (unsigned long long)off, (unsigned long long)sz, pbytes);
			return CUDA_ERROR_INVALID_VALUE;
		}
		v[i] = buf + off;
	}
	*kp = v;
	return CUDA_SUCCESS;
}

static CUresult launch_call(struct vgpu_proxy_call *call, void **argv, uint8_t *buf, uint32_t pbytes)
{
	const struct vgpu_driver *drv = call->drv;
	const uint32_t *layout = ARG(const uint32_t *, VGPU_LW_LAYOUT);
	uint32_t nparams = ARG(uint32_t, VGPU_LW_NPARAMS);
	const CUlaunchAttribute *attrs = ARG(const CUlaunchAttribute *, VGPU_LW_ATTRS);
	uint32_t nattrs = ARG(uint32_t, VGPU_LW_NATTRS);
	uint32_t kind = ARG(uint32_t, VGPU_LW_KIND);
	CUfunction f = ARG(CUfunction, VGPU_LW_F);
	CUstream s = ARG(CUstream, VGPU_LW_STREAM);
	void **kp = NULL;
	CUresult r;

	if (!f || nparams > VGPU_KPARAM_COUNT_MAX || nattrs > VGPU_LAUNCH_ATTR_MAX || (nattrs && !attrs) ||
	    kind > VGPU_LAUNCH_EX || (kind != VGPU_LAUNCH_EX && nattrs))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = launch_params(call, layout, nparams, buf, pbytes, &kp)) != CUDA_SUCCESS)
		return r;
	CUlaunchAttribute checked[VGPU_LAUNCH_ATTR_MAX];
	if ((r = launch_attrs(call, attrs, nattrs, checked)) != CUDA_SUCCESS)
		return r;

	/* Without a layout (the zone could not parse the image) the packed buffer goes as `extra`. */
	size_t extra_size = pbytes;
	void *extra[] = { CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &extra_size,
			  CU_LAUNCH_PARAM_END };
	void **ex = (!nparams && pbytes) ? extra : NULL;
	unsigned gx = ARG(unsigned, VGPU_LW_GX), gy = ARG(unsigned, VGPU_LW_GY), gz = ARG(unsigned, VGPU_LW_GZ);
	unsigned bx = ARG(unsigned, VGPU_LW_BX), by = ARG(unsigned, VGPU_LW_BY), bz = ARG(unsigned, VGPU_LW_BZ);
	unsigned shm = ARG(unsigned, VGPU_LW_SHMEM);

	switch (kind) {
	case VGPU_LAUNCH_PLAIN:
		if (!drv->cuLaunchKernel)
			return CUDA_ERROR_NOT_SUPPORTED;
		return drv->cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shm, s, ex ? NULL : kp, ex);
	case VGPU_LAUNCH_COOPERATIVE:
		if (!drv->cuLaunchCooperativeKernel)
			return CUDA_ERROR_NOT_SUPPORTED;
		if (ex)
			return CUDA_ERROR_INVALID_VALUE; /* no `extra` form exists for cooperative launches */
		return drv->cuLaunchCooperativeKernel(f, gx, gy, gz, bx, by, bz, shm, s, kp);
	default: {
		CUlaunchConfig cfg = { gx, gy, gz, bx, by, bz, shm, s, checked, nattrs };
		if (!drv->cuLaunchKernelEx)
			return CUDA_ERROR_NOT_SUPPORTED;
		return drv->cuLaunchKernelEx(&cfg, f, ex ? NULL : kp, ex);
	}
	}
}

static CUresult launch(struct vgpu_proxy_call *call, void **argv)
{
	const uint8_t *params = ARG(const uint8_t *, VGPU_LW_PARAMS);
	uint32_t pbytes = ARG(uint32_t, VGPU_LW_PARAM_BYTES);
	uint8_t *buf;
	CUresult r;

	if (pbytes > VGPU_KPARAM_MAX || (pbytes && !params))
		return CUDA_ERROR_INVALID_VALUE;
	if (!(buf = launch_buf()))
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (pbytes)
		memcpy(buf, params, pbytes);
	r = launch_call(call, argv, buf, pbytes);
	memset(buf, 0, pbytes);
	return r;
}

/* ---------------------------------------------------------------- graph memory nodes */

/* The graph a stream-ordered allocation is captured into (a graph memory node), or NULL. */
const void *vgpu_proxy_captured_into(const struct vgpu_proxy_call *c)
{
	const struct vgpu_driver *drv = c->drv;
	int ptsz = c->hdr.opcode == VGPU_OP_cuMemAllocAsync_ptsz || c->hdr.opcode == VGPU_OP_cuMemAllocFromPoolAsync_ptsz;
	CUresult (*info)(CUstream, CUstreamCaptureStatus *, cuuint64_t *, CUgraph *, const CUgraphNode **,
			 const CUgraphEdgeData **, size_t *) =
		drv ? (ptsz ? drv->cuStreamGetCaptureInfo_v3_ptsz : drv->cuStreamGetCaptureInfo_v3) : NULL;

	if (!info || !c->desc || !c->argv)
		return NULL;
	for (unsigned i = 0; i < c->desc->nargs; i++) {
		if (c->desc->args[i].kind != VGPU_ARG_HANDLE || c->desc->args[i].htype != VGPU_H_STREAM)
			continue;
		CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
		CUgraph g = NULL;
		if (info(*(CUstream *)c->argv[i], &st, NULL, &g, NULL, NULL, NULL) != CUDA_SUCCESS ||
		    st != CU_STREAM_CAPTURE_STATUS_ACTIVE)
			return NULL;
		return g;
	}
	return NULL;
}

/* ---------------------------------------------------------------- 2D/3D copies */

/*
 * The bytes a w x h x d box at (x, y, z) of a pitched volume spans: it starts at
 * z*pitch*height + y*pitch + x and covers (d-1)*pitch*height + (h-1)*pitch + w bytes.
 * -1 when any step overflows or rows would overlap (pitch < w).
 */
static int box_extent(uint64_t x, uint64_t y, uint64_t z, uint64_t pitch, uint64_t height, uint64_t w,
		      uint64_t h, uint64_t d, uint64_t *first /* out */, uint64_t *len /* out */)
{
	uint64_t slice, start, span, t;

	if (w == 0 || h == 0 || d == 0) {
		*first = x;
		*len = 0;
		return 0;
	}
	if ((h > 1 || d > 1) && pitch < w)
		return -1;
	if (__builtin_mul_overflow(pitch, height, &slice) || __builtin_mul_overflow(z, slice, &start) ||
	    __builtin_mul_overflow(y, pitch, &t) || __builtin_add_overflow(start, t, &start) ||
	    __builtin_add_overflow(start, x, &start) || __builtin_mul_overflow(d - 1, slice, &span) ||
	    __builtin_mul_overflow(h - 1, pitch, &t) || __builtin_add_overflow(span, t, &span) ||
	    __builtin_add_overflow(span, w, &span))
		return -1;
	*first = start;
	*len = span;
	return 0;
}

/* Check one side of a copy: a device box inside one zone allocation (*dev translated), or the
 * staged host rows. */
static CUresult copy_side(struct vgpu_proxy_call *call, CUmemorytype type, CUdeviceptr *dev, uint64_t x, uint64_t y,
			  uint64_t z, uint64_t pitch, uint64_t height, const CUDA_MEMCPY3D *c, uint64_t host_bytes)
{
	uint64_t d = c->Depth ? c->Depth : 1, off, len, total;

	if (type == CU_MEMORYTYPE_DEVICE) {
		if (d > 1 && height < c->Height)
			return CUDA_ERROR_INVALID_VALUE;
		if (box_extent(x, y, z, pitch, height, c->WidthInBytes, c->Height, d, &off, &len) < 0)
			return CUDA_ERROR_INVALID_VALUE;
		uint64_t p = *dev;
		CUresult r = vgpu_proxy_dptr_in(call, &p, off, len);
		*dev = (CUdeviceptr)p;
		return r;
	}
	if (type == CU_MEMORYTYPE_ARRAY)
		return CUDA_SUCCESS; /* the zone's own array (translated by the caller): the driver checks the box */
	if (type != CU_MEMORYTYPE_HOST)
		return CUDA_ERROR_INVALID_VALUE;
	/* The zone sends host rows dense: exactly w*h*d bytes at (0,0,0) with pitch w. */
	if (__builtin_mul_overflow((uint64_t)c->WidthInBytes, (uint64_t)c->Height, &total) ||
	    __builtin_mul_overflow(total, d, &total) || total != host_bytes || x || y || z ||
	    pitch != c->WidthInBytes || height != c->Height)
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

/* Is opcode op one of cuMemcpy3DPeer's forms? Their CUDA_MEMCPY3D_PEER is a CUDA_MEMCPY3D
 * whose reserved0 and reserved1 are the source and destination contexts. */
static int is_peer_copy(unsigned op)
{
	return op == VGPU_OP_cuMemcpy3DPeer || op == VGPU_OP_cuMemcpy3DPeer_ptds || op == VGPU_OP_cuMemcpy3DPeerAsync ||
	       op == VGPU_OP_cuMemcpy3DPeerAsync_ptsz;
}

/* The driver call of one (translated) 2D/3D copy: a peer copy with its contexts, else a 3D copy. */
static CUresult copy3d_driver(const struct vgpu_proxy_call *call, const CUDA_MEMCPY3D *c, CUstream s, int async)
{
	const struct vgpu_driver *drv = call->drv;

	if (is_peer_copy(call->hdr.opcode)) {
		const CUDA_MEMCPY3D_PEER *p = (const CUDA_MEMCPY3D_PEER *)(const void *)c;
		if (async)
			return drv->cuMemcpy3DPeerAsync ? drv->cuMemcpy3DPeerAsync(p, s) : CUDA_ERROR_NOT_SUPPORTED;
		return drv->cuMemcpy3DPeer ? drv->cuMemcpy3DPeer(p) : CUDA_ERROR_NOT_SUPPORTED;
	}
	if (async)
		return drv->cuMemcpy3DAsync_v2 ? drv->cuMemcpy3DAsync_v2(c, s) : CUDA_ERROR_NOT_SUPPORTED;
	return drv->cuMemcpy3D_v2 ? drv->cuMemcpy3D_v2(c) : CUDA_ERROR_NOT_SUPPORTED;
}

/*
 * A 2D/3D copy's checks and translation: the zone's arrays to the driver's, both sides
 * inside what the zone may name, the host side its dense rows (in, out: where they are, or
 * NULL while they are still in the bulk stream), a peer copy's contexts the zone's own. *c is
 * what the driver is to be given.
 */
static CUresult copy3d_prepare(struct vgpu_proxy_call *call, void **argv, CUDA_MEMCPY3D *c /* out */)
{
	void *in = ARG(void *, VGPU_CW_HOST_IN), *out = ARG(void *, VGPU_CW_HOST_OUT);
	uint64_t in_bytes = ARG(uint64_t, VGPU_CW_HOST_IN_BYTES), out_bytes = ARG(uint64_t, VGPU_CW_HOST_OUT_BYTES);
	void *src_array = NULL, *dst_array = NULL;
	CUresult r;

	*c = *ARG(const CUDA_MEMCPY3D *, VGPU_CW_COPY);
	if (c->srcMemoryType == CU_MEMORYTYPE_HOST && c->dstMemoryType == CU_MEMORYTYPE_HOST)
		return CUDA_ERROR_INVALID_VALUE; /* host-to-host never leaves the zone */
	/* An array side names the zone's handle of it; an array of another zone cannot be named. */
	if ((c->srcMemoryType == CU_MEMORYTYPE_ARRAY &&
	     ((r = vgpu_proxy_handle_in(call, VGPU_H_ARRAY, (uint64_t)(uintptr_t)c->srcArray, &src_array)) != CUDA_SUCCESS ||
	      !src_array)) ||
	    (c->dstMemoryType == CU_MEMORYTYPE_ARRAY &&
	     ((r = vgpu_proxy_handle_in(call, VGPU_H_ARRAY, (uint64_t)(uintptr_t)c->dstArray, &dst_array)) != CUDA_SUCCESS ||
	      !dst_array)))
		return CUDA_ERROR_INVALID_HANDLE;
	if ((c->srcMemoryType == CU_MEMORYTYPE_HOST) != (in_bytes > 0 || in != NULL) ||
	    (c->dstMemoryType == CU_MEMORYTYPE_HOST) != (out_bytes > 0 || out != NULL))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = copy_side(call, c->srcMemoryType, &c->srcDevice, c->srcXInBytes, c->srcY, c->srcZ, c->srcPitch,
			   c->srcHeight, c, in_bytes)) != CUDA_SUCCESS ||
	    (r = copy_side(call, c->dstMemoryType, &c->dstDevice, c->dstXInBytes, c->dstY, c->dstZ, c->dstPitch,
			   c->dstHeight, c, out_bytes)) != CUDA_SUCCESS)
		return r;
	/* A peer copy's contexts (NULL stays NULL, for the driver to answer) */
	void *src_ctx = NULL, *dst_ctx = NULL;
	if (is_peer_copy(call->hdr.opcode) &&
	    ((c->reserved0 && vgpu_proxy_handle_in(call, VGPU_H_CONTEXT, (uint64_t)(uintptr_t)c->reserved0, &src_ctx) !=
				      CUDA_SUCCESS) ||
	     (c->reserved1 && vgpu_proxy_handle_in(call, VGPU_H_CONTEXT, (uint64_t)(uintptr_t)c->reserved1, &dst_ctx) !=
				      CUDA_SUCCESS)))
		return CUDA_ERROR_INVALID_CONTEXT;
	c->srcHost = in;
	c->dstHost = out;
	c->srcArray = (CUarray)src_array;
	c->dstArray = (CUarray)dst_array;
	c->reserved0 = src_ctx;
	c->reserved1 = dst_ctx;
	c->srcLOD = c->dstLOD = 0;
	return CUDA_SUCCESS;
}

static CUresult copy3d(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	CUstream s = ARG(CUstream, VGPU_CW_STREAM);
	int async = ARG(uint32_t, VGPU_CW_FLAGS) & VGPU_COPY_F_ASYNC;
	CUDA_MEMCPY3D c;
	CUresult r;

	if ((r = copy3d_prepare(call, argv, &c)) != CUDA_SUCCESS)
		return r;
	if (!async)
		return copy3d_driver(call, &c, s, 0);
	if (!drv->cuStreamSynchronize)
		return CUDA_ERROR_NOT_SUPPORTED;
	r = copy3d_driver(call, &c, s, 1);
	/* Staged host rows are released after this call: the copy must be done with them. */
	if (r == CUDA_SUCCESS && (c.srcHost || c.dstHost))
		r = drv->cuStreamSynchronize(s);
	return r;
}

/* Is opcode op one of the 2D/3D copies (copy3d serves them)? */
int vgpu_proxy_is_copy3d(unsigned op)
{
	const struct vgpu_call_desc *d;

	return vgpu_proxy_wire_get(op, &d) == copy3d;
}

/*
 * A 2D/3D copy whose host side, the zone's dense rows, may stream through the bulk area:
 * from host rows to device memory or an array (out = 0; the rows are still in the bulk
 * stream), or the mirror image (out = 1: the rows go to the zone, asked for data first).
 * Checked and translated (copy3d_prepare) before a byte moves. 0 with *c, *s and *async;
 * else -1 (an upload is then staged and run as any other call, which refuses it there if it
 * is wrong), or a download's refusal (a CUresult > 0).
 */
int vgpu_proxy_copy3d_streams(struct vgpu_proxy_call *call, void **argv, int out, CUDA_MEMCPY3D *c /* out */,
			      CUstream *s /* out */, int *async /* out */)
{
	if (!vgpu_proxy_is_copy3d(call->hdr.opcode) || !call->drv->cuMemcpy3D_v2 || !call->drv->cuMemcpy3DAsync_v2 ||
	    !call->drv->cuStreamSynchronize)
		return -1;
	const CUDA_MEMCPY3D *w = ARG(const CUDA_MEMCPY3D *, VGPU_CW_COPY);
	/* (neither host buffer is staged yet: the one side that is the host's is still in the stream) */
	if (!w || ARG(void *, VGPU_CW_HOST_IN) || ARG(void *, VGPU_CW_HOST_OUT) ||
	    (w->srcMemoryType == CU_MEMORYTYPE_HOST) == (w->dstMemoryType == CU_MEMORYTYPE_HOST) ||
	    (w->dstMemoryType == CU_MEMORYTYPE_HOST) != out)
		return -1;
	CUresult r = copy3d_prepare(call, argv, c);
	if (r != CUDA_SUCCESS)
		return out ? (int)r : -1;
	*s = ARG(CUstream, VGPU_CW_STREAM);
	*async = (ARG(uint32_t, VGPU_CW_FLAGS) & VGPU_COPY_F_ASYNC) != 0;
	return 0;
}

/*
 * Bytes [off, off + len) of a streaming copy's dense host rows (c from
 * vgpu_proxy_copy3d_streams), at buf, from it (upload) or into it (out): a piece of a row
 * where the bytes start or end inside one, whole rows of one slice, and whole slices, each
 * one driver copy, so a chunk of the stream is a few copies whatever the box's shape. An
 * asynchronous download waits for its stream: the zone reads buf when this returns. The
 * first failure is returned.
 */
CUresult vgpu_proxy_copy3d_rows(struct vgpu_proxy_call *call, const CUDA_MEMCPY3D *c, CUstream s, int async,
				int out, void *buf, uint64_t off, uint64_t len)
{
	const struct vgpu_driver *drv = call->drv;
	uint64_t w = c->WidthInBytes, h = c->Height, slice = w * h, pos = off, end = off + len;

	while (pos < end) {
		uint64_t row = pos / w, x = pos % w, y = row % h, z = row / h, n;
		CUDA_MEMCPY3D p = *c;
		if (x || end - pos < w) {                  /* inside one row */
			n = w - x < end - pos ? w - x : end - pos;
			p.WidthInBytes = n;
			p.Height = p.Depth = 1;
		} else if (y || end - pos < slice) {       /* whole rows of this slice */
			p.Height = (end - pos) / w < h - y ? (end - pos) / w : h - y;
			p.Depth = 1;
			n = p.Height * w;
		} else {                                   /* whole slices */
			p.Depth = (end - pos) / slice;
			n = p.Depth * slice;
		}
		/* the host side: dense rows at buf; the device side: the box's own place */
		uint8_t *host = (uint8_t *)buf + (pos - off);
		if (out) {
			p.dstHost = host;
			p.dstXInBytes = p.dstY = p.dstZ = 0;
			p.dstPitch = p.WidthInBytes;
			p.dstHeight = p.Height;
			p.srcXInBytes = c->srcXInBytes + x;
			p.srcY = c->srcY + y;
			p.srcZ = c->srcZ + z;
		} else {
			p.srcHost = host;
			p.srcXInBytes = p.srcY = p.srcZ = 0;
			p.srcPitch = p.WidthInBytes;
			p.srcHeight = p.Height;
			p.dstXInBytes = c->dstXInBytes + x;
			p.dstY = c->dstY + y;
			p.dstZ = c->dstZ + z;
		}
		CUresult r = copy3d_driver(call, &p, s, async);
		if (r != CUDA_SUCCESS)
			return r;
		pos += n;
	}
	return async && out ? drv->cuStreamSynchronize(s) : CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- pointer attributes */

static CUresult pointer_attr(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t *value = ARG(uint64_t *, VGPU_PW_VALUE);
	CUpointer_attribute a = (CUpointer_attribute)ARG(uint32_t, VGPU_PW_ATTR);
	uint64_t p = ARG(CUdeviceptr, VGPU_PW_PTR);
	CUresult r;

	/* (a module global a restore found elsewhere: asked about where it is, answered where
	 * the zone knows it) */
	if (!value || vgpu_proxy_dptr_in(call, &p, 0, 1) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_VALUE;
	if (!call->drv->cuPointerGetAttribute)
		return CUDA_ERROR_NOT_SUPPORTED;
	*value = 0;
	switch (a) {
	case CU_POINTER_ATTRIBUTE_CONTEXT: {
		CUcontext ctx = NULL;
		uint64_t base, size;
		const void *owner = NULL;
		if (vgpu_proxy_placed_range(call->zone, p, &base, &size, &owner) && owner)
			ctx = (CUcontext)owner;   /* the context it was allocated in, as for cuMemAlloc's */
		else if ((r = call->drv->cuPointerGetAttribute(&ctx, a, p)) != CUDA_SUCCESS)
			return r;
		/* The zone sees its own handle for the context, never the driver's pointer. */
		return vgpu_proxy_handle_new(call, VGPU_H_CONTEXT, ctx, value);
	}
	case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
	case CU_POINTER_ATTRIBUTE_RANGE_SIZE: {
		/* memory the worker placed itself: the allocation, not the mapping holding it */
		uint64_t base, size;
		if (vgpu_proxy_placed_range(call->zone, p, &base, &size, NULL)) {
			*value = a == CU_POINTER_ATTRIBUTE_RANGE_START_ADDR ? base : size;
			return CUDA_SUCCESS;
		}
		r = call->drv->cuPointerGetAttribute(value, a, p);
		if (r == CUDA_SUCCESS && a == CU_POINTER_ATTRIBUTE_RANGE_START_ADDR)
			*value = vgpu_ckpt_zone_addr(call->zone, *value);
		return r;
	}
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
		r = call->drv->cuPointerGetAttribute(value, a, p);
		if (r == CUDA_SUCCESS)
			*value = vgpu_ckpt_zone_addr(call->zone, *value);
		return r;
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
	case CU_POINTER_ATTRIBUTE_BUFFER_ID:
	case CU_POINTER_ATTRIBUTE_IS_MANAGED:
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
	case CU_POINTER_ATTRIBUTE_MAPPED:
	case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
		return call->drv->cuPointerGetAttribute(value, a, p);
	default:
		return vgpu_pointer_attr_known(a) ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
	}
}

/* cuPointerSetAttribute: CU_POINTER_ATTRIBUTE_SYNC_MEMOPS (the one attribute the driver sets)
 * on one of the zone's own allocations; anything else is the driver's INVALID_VALUE. */
static CUresult pointer_set_attr(struct vgpu_proxy_call *call, void **argv)
{
	int v = (int)ARG(uint32_t, VGPU_PSW_VALUE);
	uint64_t p = ARG(CUdeviceptr, VGPU_PSW_PTR);

	if (ARG(uint32_t, VGPU_PSW_ATTR) != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS ||
	    vgpu_proxy_dptr_in(call, &p, 0, 1) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_VALUE;
	if (!call->drv->cuPointerSetAttribute)
		return CUDA_ERROR_NOT_SUPPORTED;
	return call->drv->cuPointerSetAttribute(&v, CU_POINTER_ATTRIBUTE_SYNC_MEMOPS, (CUdeviceptr)p);
}

/* ---------------------------------------------------------------- memory pools */

/*
 * The driver's props are built here from plain numbers: no pointer of the zone reaches it.
 * An exportable pool would let its memory be imported by another process (another zone):
 * refused.
 */
static CUresult pool_create(struct vgpu_proxy_call *call, void **argv)
{
	CUmemPoolProps props;

	if (!call->drv->cuMemPoolCreate)
		return CUDA_ERROR_NOT_SUPPORTED;
	/* A pool whose memory another process could import is never made: one asked for as
	 * exportable is made without its export handles (exporting is not remoted, so the zone
	 * could not use them anyway), as libraries ask for them whether they share or not. */
	if (ARG(uint32_t, VGPU_MPW_HANDLE_TYPES) != CU_MEM_HANDLE_TYPE_NONE)
		vgpu_debug("cuMemPoolCreate: handle types 0x%x asked for; the pool is made without them",
			   ARG(uint32_t, VGPU_MPW_HANDLE_TYPES));
	memset(&props, 0, sizeof(props));
	props.allocType = (CUmemAllocationType)ARG(uint32_t, VGPU_MPW_ALLOC_TYPE);
	props.handleTypes = CU_MEM_HANDLE_TYPE_NONE;
	props.location.type = (CUmemLocationType)ARG(uint32_t, VGPU_MPW_LOC_TYPE);
	props.location.id = ARG(int32_t, VGPU_MPW_LOC_ID);
	props.maxSize = (size_t)ARG(uint64_t, VGPU_MPW_MAX_SIZE);
	props.usage = (unsigned short)ARG(uint32_t, VGPU_MPW_USAGE);
	CUmemoryPool *out = ARG(CUmemoryPool *, VGPU_MPW_POOL);
	CUresult r = call->drv->cuMemPoolCreate(out, &props);
	if (r == CUDA_SUCCESS && out && *out) {
		vgpu_ckpt_note_pool(call->zone, *out, &props);   /* the driver cannot be asked for them later */
		vgpu_devva_pool_forget(&call->zone->devva, *out);   /* a destroyed pool's handle again */
	}
	return r;
}

static CUresult pool_set_attribute(struct vgpu_proxy_call *call, void **argv)
{
	unsigned attr = ARG(uint32_t, VGPU_PAW_ATTR);
	uint64_t v = ARG(uint64_t, VGPU_PAW_VALUE);
	int iv = (int)v;

	if (!call->drv->cuMemPoolSetAttribute)
		return CUDA_ERROR_NOT_SUPPORTED;
	CUresult r = call->drv->cuMemPoolSetAttribute(ARG(CUmemoryPool, VGPU_PAW_POOL), (CUmemPool_attribute)attr,
						      vgpu_pool_attr_is_int(attr) ? (void *)&iv : (void *)&v);
	if (r == CUDA_SUCCESS && (attr == CU_MEMPOOL_ATTR_USED_MEM_HIGH || attr == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH))
		vgpu_devva_pool_reset_high(&call->zone->devva, ARG(CUmemoryPool, VGPU_PAW_POOL));
	return r;
}

static CUresult pool_get_attribute(struct vgpu_proxy_call *call, void **argv)
{
	unsigned attr = ARG(uint32_t, VGPU_PAG_ATTR);
	uint64_t *out = ARG(uint64_t *, VGPU_PAG_VALUE), v = 0;
	int iv = 0;
	CUresult r;

	if (!call->drv->cuMemPoolGetAttribute)
		return CUDA_ERROR_NOT_SUPPORTED;
	r = call->drv->cuMemPoolGetAttribute(ARG(CUmemoryPool, VGPU_PAG_POOL), (CUmemPool_attribute)attr,
					     vgpu_pool_attr_is_int(attr) ? (void *)&iv : (void *)&v);
	if (r == CUDA_SUCCESS && (attr == CU_MEMPOOL_ATTR_USED_MEM_CURRENT || attr == CU_MEMPOOL_ATTR_USED_MEM_HIGH ||
				  attr == CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT || attr == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH)) {
		/* the pool's usage, the window's stream-ordered allocations included (each holds
		 * what it asked for: reserved as used; the high marks added, an upper bound) */
		uint64_t used = 0, high = 0;
		vgpu_devva_pool_usage(&call->zone->devva, ARG(CUmemoryPool, VGPU_PAG_POOL), &used, &high);
		v += attr == CU_MEMPOOL_ATTR_USED_MEM_CURRENT || attr == CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT ? used : high;
	}
	if (r == CUDA_SUCCESS && out)
		*out = vgpu_pool_attr_is_int(attr) ? (uint64_t)(uint32_t)iv : v;
	return r;
}

/* ---------------------------------------------------------------- stream capture */

/* The driver's arrays are copied into the staged ones, whose capacity the zone announced. */
static CUresult capture_info(struct vgpu_proxy_call *call, void **argv)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	const CUgraphNode *deps = NULL;
	const CUgraphEdgeData *edges = NULL;
	uint64_t *cap = ARG(uint64_t *, VGPU_CIW_NDEPS);
	size_t n = 0;
	CUresult r;

	if (!call->drv->cuStreamGetCaptureInfo_v3 || !cap)
		return call->drv->cuStreamGetCaptureInfo_v3 ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_SUPPORTED;
	CUgraph g = NULL;
	r = call->drv->cuStreamGetCaptureInfo_v3(ARG(CUstream, VGPU_CIW_STREAM), &st, ARG(cuuint64_t *, VGPU_CIW_ID),
						 &g, &deps, &edges, &n);
	if (r != CUDA_SUCCESS)
		return r;
	if (ARG(CUgraph *, VGPU_CIW_GRAPH))
		*ARG(CUgraph *, VGPU_CIW_GRAPH) = g;
	call->node_graph = g;   /* the nodes handed out belong to the capture's graph */
	if (ARG(uint32_t *, VGPU_CIW_STATUS))
		*ARG(uint32_t *, VGPU_CIW_STATUS) = st;
	if (n > *cap) {
		vgpu_info("cuStreamGetCaptureInfo: %zu dependencies, more than the %llu announced", n,
			  (unsigned long long)*cap);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	CUgraphNode *out = ARG(CUgraphNode *, VGPU_CIW_DEPS);
	CUgraphEdgeData *eout = ARG(CUgraphEdgeData *, VGPU_CIW_EDGES);
	for (size_t i = 0; i < n; i++) {
		if (out)
			out[i] = deps ? deps[i] : NULL;
		if (eout) {
			if (edges)
				eout[i] = edges[i];
			else
				memset(&eout[i], 0, sizeof(eout[i]));
		}
	}
	*cap = n;
	return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- virtual memory management */

static void alloc_prop(CUmemAllocationProp *p, void **argv, unsigned first)
{
	/* first: the index of "type"; the other property arguments follow it in the same order
	 * in both layouts (runtime/custom_wire.h) */
	memset(p, 0, sizeof(*p));
	p->type = (CUmemAllocationType)ARG(uint32_t, first);
	p->requestedHandleTypes = (CUmemAllocationHandleType)ARG(uint32_t, first + 1);
	p->location.type = (CUmemLocationType)ARG(uint32_t, first + 2);
	p->location.id = ARG(int32_t, first + 3);
	p->allocFlags.compressionType = (unsigned char)ARG(uint32_t, first + 4);
	p->allocFlags.gpuDirectRDMACapable = (unsigned char)ARG(uint32_t, first + 5);
	p->allocFlags.usage = (unsigned short)ARG(uint32_t, first + 6);
}

/* Physical memory is charged to the zone before the driver sees the call; exportable memory is refused. */
static CUresult mem_create(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t size = ARG(uint64_t, VGPU_VCW_SIZE), *out = ARG(uint64_t *, VGPU_VCW_HANDLE);
	CUmemGenericAllocationHandle h = 0;
	CUmemAllocationProp prop;
	CUresult r;

	if (!call->drv->cuMemCreate)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !size)
		return CUDA_ERROR_INVALID_VALUE;
	alloc_prop(&prop, argv, VGPU_VCW_TYPE);
	/* Memory another process could import is never made: memory asked for as exportable
	 * (PyTorch's expandable segments and NCCL ask for a POSIX descriptor whether they share
	 * or not) is made without its export handles; exporting is not remoted, so a zone that
	 * tries gets CUDA_ERROR_NOT_SUPPORTED there. */
	if (prop.requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE) {
		vgpu_debug("cuMemCreate: handle types 0x%x asked for; the memory is made without them",
			   prop.requestedHandleTypes);
		prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
	}
	if (vgpu_vmm_create_reserve(call->zone, size) < 0) {
		vgpu_warn("cuMemCreate of %llu bytes refused: the zone holds %llu of its %llu-byte memory quota",
			  (unsigned long long)size, (unsigned long long)call->zone->mem.used,
			  (unsigned long long)call->zone->mem.limit);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	r = call->drv->cuMemCreate(&h, (size_t)size, &prop, ARG(uint64_t, VGPU_VCW_FLAGS));
	uint64_t id = 0;
	if (vgpu_vmm_create_done(call->zone, h, size, r == CUDA_SUCCESS, &id, 1) < 0) {
		if (call->drv->cuMemRelease)
			call->drv->cuMemRelease(h);
		vgpu_vmm_create_done(call->zone, h, size, 0, &id, 0);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (r == CUDA_SUCCESS)
		*out = id;   /* the zone names it by its id, which a restore keeps (the driver's handle changes) */
	return r;
}

static CUresult mem_release(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t h = 0;
	CUresult r;

	if (!call->drv->cuMemRelease)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (vgpu_vmm_handle_of(call->zone, ARG(uint64_t, VGPU_VRW_HANDLE), &h) < 0 || vgpu_vmm_release_check(call->zone, h) < 0)
		return CUDA_ERROR_INVALID_VALUE;     /* not an allocation of this zone */
	r = call->drv->cuMemRelease((CUmemGenericAllocationHandle)h);
	if (r == CUDA_SUCCESS)
		vgpu_vmm_release_done(call->zone, h);
	return r;
}

/* Only the zone's own physical memory, within its size; the range enters the zone's map. */
static CUresult mem_map(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t ptr = ARG(uint64_t, VGPU_VMW_PTR), size = ARG(uint64_t, VGPU_VMW_SIZE),
		 off = ARG(uint64_t, VGPU_VMW_OFFSET), h = 0;
	CUresult r;

	if (!call->drv->cuMemMap || !call->drv->cuMemUnmap)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!ptr || vgpu_vmm_handle_of(call->zone, ARG(uint64_t, VGPU_VMW_HANDLE), &h) < 0 || ptr > UINT64_MAX - size)
		return CUDA_ERROR_INVALID_VALUE;
	int c = vgpu_vmm_map_check(call->zone, h, off, size);
	if (c < 0)   /* past the allocation's end: the driver's answer is "not supported" */
		return c == -ERANGE ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
	r = call->drv->cuMemMap((CUdeviceptr)ptr, (size_t)size, (size_t)off, (CUmemGenericAllocationHandle)h,
				ARG(uint64_t, VGPU_VMW_FLAGS));
	if (r == CUDA_SUCCESS && vgpu_vmm_map_done(call->zone, ptr, size, h, off) < 0) {
		call->drv->cuMemUnmap((CUdeviceptr)ptr, (size_t)size);
		return CUDA_ERROR_INVALID_VALUE;
	}
	return r;
}

/* Only whole ranges the zone mapped; they leave the zone's map. */
static CUresult mem_unmap(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t ptr = ARG(uint64_t, VGPU_VUW_PTR), size = ARG(uint64_t, VGPU_VUW_SIZE);
	CUresult r;

	if (!call->drv->cuMemUnmap)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (vgpu_vmm_unmap_check(call->zone, ptr, size) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	r = call->drv->cuMemUnmap((CUdeviceptr)ptr, (size_t)size);
	if (r == CUDA_SUCCESS)
		vgpu_vmm_unmap_done(call->zone, ptr, size);
	return r;
}

/* A reservation is not an allocation: its address is checked against the zone's mapped ranges only. */
static CUresult mem_address_free(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t ptr = ARG(uint64_t, VGPU_VUW_PTR), size = ARG(uint64_t, VGPU_VUW_SIZE);

	if (!call->drv->cuMemAddressFree)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!ptr || !size || ptr > UINT64_MAX - size || vgpu_vmm_any_mapped(call->zone, ptr, size))
		return CUDA_ERROR_INVALID_VALUE;   /* still mapped: unmap first, as the driver requires */
	CUresult r = call->drv->cuMemAddressFree((CUdeviceptr)ptr, (size_t)size);
	if (r == CUDA_SUCCESS)
		vgpu_vmm_unreserved(call->zone, ptr, size);
	return r;
}

/* A handle of the zone's mapped memory, retained: one more release is then owed. */
static CUresult mem_retain(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t addr = ARG(uint64_t, VGPU_VTW_ADDR), *out = ARG(uint64_t *, VGPU_VTW_HANDLE), mine;
	CUmemGenericAllocationHandle h = 0;
	CUresult r;

	if (!call->drv->cuMemRetainAllocationHandle)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || vgpu_vmm_handle_at(call->zone, addr, &mine) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	r = call->drv->cuMemRetainAllocationHandle(&h, (void *)(uintptr_t)addr);
	if (r == CUDA_SUCCESS) {
		if (h != mine) {
			/* the driver names another handle than the zone mapped there: give it back */
			if (call->drv->cuMemRelease)
				call->drv->cuMemRelease(h);
			return CUDA_ERROR_INVALID_VALUE;
		}
		vgpu_vmm_retain_done(call->zone, h);
		*out = vgpu_vmm_id_of(call->zone, h);
	}
	return r;
}

static CUresult mem_props(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t h = 0;
	struct vgpu_wire_prop *out = ARG(struct vgpu_wire_prop *, VGPU_VPW_PROP);
	CUmemAllocationProp p;
	CUresult r;

	if (!call->drv->cuMemGetAllocationPropertiesFromHandle)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || vgpu_vmm_handle_of(call->zone, ARG(uint64_t, VGPU_VPW_HANDLE), &h) < 0 ||
	    vgpu_vmm_handle_check(call->zone, h) < 0)
		return CUDA_ERROR_INVALID_VALUE;
	memset(&p, 0, sizeof(p));
	r = call->drv->cuMemGetAllocationPropertiesFromHandle(&p, (CUmemGenericAllocationHandle)h);
	if (r == CUDA_SUCCESS)
		*out = (struct vgpu_wire_prop){ p.type, p.requestedHandleTypes, p.location.type,
						p.allocFlags.compressionType, p.allocFlags.gpuDirectRDMACapable,
						p.allocFlags.usage, p.location.id };
	return r;
}

static CUresult mem_granularity(struct vgpu_proxy_call *call, void **argv)
{
	CUmemAllocationProp prop;
	uint64_t *out = ARG(uint64_t *, VGPU_VGW_GRAN);
	size_t g = 0;
	CUresult r;

	if (!call->drv->cuMemGetAllocationGranularity)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	alloc_prop(&prop, argv, VGPU_VGW_TYPE);
	r = call->drv->cuMemGetAllocationGranularity(&g, &prop,
						     (CUmemAllocationGranularity_flags)ARG(uint32_t, VGPU_VGW_OPTION));
	if (r == CUDA_SUCCESS)
		*out = g;
	return r;
}

/* ---------------------------------------------------------------- tensor maps */

/*
 * A tensor map is numbers for the GPU's copy engine: the driver encodes them without
 * touching memory. Its address must lie in the zone's own memory (the engine, like kernels,
 * is then confined by the zone's context); the arrays are read within the announced rank.
 */
static CUresult tmap_encode(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_tmap_args *a = ARG(const struct vgpu_tmap_args *, VGPU_TMW_ARGS);
	CUtensorMap *map = ARG(CUtensorMap *, VGPU_TMW_MAP);
	const struct vgpu_driver *d = call->drv;
	void *addr;

	if (!a || !map || a->rank < 1 || a->rank > VGPU_TMAP_RANK_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	if (vgpu_proxy_check_dptr(call, a->address, 0) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_VALUE;
	addr = (void *)(uintptr_t)a->address;
	switch (a->kind) {
	case VGPU_TMAP_TILED:
		if (!d->cuTensorMapEncodeTiled)
			return CUDA_ERROR_NOT_SUPPORTED;
		return d->cuTensorMapEncodeTiled(map, a->data_type, a->rank, addr, a->dims, a->strides, a->box,
						 a->element_strides, a->interleave, a->swizzle, a->l2, a->oob);
	case VGPU_TMAP_IM2COL:
		if (!d->cuTensorMapEncodeIm2col)
			return CUDA_ERROR_NOT_SUPPORTED;
		return d->cuTensorMapEncodeIm2col(map, a->data_type, a->rank, addr, a->dims, a->strides, a->lower,
						  a->upper, a->channels_per_pixel, a->pixels_per_column,
						  a->element_strides, a->interleave, a->swizzle, a->l2, a->oob);
	case VGPU_TMAP_IM2COL_WIDE:
		if (!d->cuTensorMapEncodeIm2colWide)
			return CUDA_ERROR_NOT_SUPPORTED;
		return d->cuTensorMapEncodeIm2colWide(map, a->data_type, a->rank, addr, a->dims, a->strides, a->lower_w,
						      a->upper_w, a->channels_per_pixel, a->pixels_per_column,
						      a->element_strides, a->interleave, a->wide_mode, a->swizzle,
						      a->l2, a->oob);
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

static CUresult tmap_replace(struct vgpu_proxy_call *call, void **argv)
{
	uint64_t addr = ARG(uint64_t, VGPU_TRW_ADDRESS);
	CUtensorMap *map = ARG(CUtensorMap *, VGPU_TRW_MAP);

	if (!call->drv->cuTensorMapReplaceAddress)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!map || vgpu_proxy_check_dptr(call, addr, 0) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_VALUE;
	return call->drv->cuTensorMapReplaceAddress(map, (void *)(uintptr_t)addr);
}

/* ---------------------------------------------------------------- executable graph update */

/* The result info holds node handles: it travels as its three fields, the nodes translated. */
static CUresult graph_update(struct vgpu_proxy_call *call, void **argv)
{
	CUgraphExecUpdateResultInfo info;
	CUresult r;

	if (!call->drv->cuGraphExecUpdate_v2)
		return CUDA_ERROR_NOT_SUPPORTED;
	memset(&info, 0, sizeof(info));
	r = call->drv->cuGraphExecUpdate_v2(ARG(CUgraphExec, VGPU_GUW_EXEC), ARG(CUgraph, VGPU_GUW_GRAPH), &info);
	if (r == CUDA_SUCCESS)   /* its copy for checkpoints follows */
		vgpu_ckpt_gexec_updated(call->zone, call->backend, ARG(CUgraphExec, VGPU_GUW_EXEC), ARG(CUgraph, VGPU_GUW_GRAPH));
	if (ARG(uint32_t *, VGPU_GUW_RESULT))
		*ARG(uint32_t *, VGPU_GUW_RESULT) = info.result;
	if (ARG(CUgraphNode *, VGPU_GUW_ERR))
		*ARG(CUgraphNode *, VGPU_GUW_ERR) = info.errorNode;
	if (ARG(CUgraphNode *, VGPU_GUW_ERR_FROM))
		*ARG(CUgraphNode *, VGPU_GUW_ERR_FROM) = info.errorFromNode;
	if (!ARG(uint32_t *, VGPU_GUW_STATUS))
		return CUDA_ERROR_INVALID_VALUE;
	*ARG(uint32_t *, VGPU_GUW_STATUS) = (uint32_t)r;
	return CUDA_SUCCESS;   /* the driver's answer travels in status, with the result info */
}

/* ---------------------------------------------------------------- graph node parameters and attributes */

/* A memset node's destination is checked like a memset's: the whole box inside one allocation. */
static CUresult memset_node_check(struct vgpu_proxy_call *call, const CUDA_MEMSET_NODE_PARAMS *p)
{
	uint64_t row, span;

	if (!p || !p->width || !p->height || (p->elementSize != 1 && p->elementSize != 2 && p->elementSize != 4) ||
	    __builtin_mul_overflow((uint64_t)p->width, (uint64_t)p->elementSize, &row) ||
	    (p->height > 1 && p->pitch < row) ||
	    __builtin_mul_overflow((uint64_t)(p->height - 1), (uint64_t)(p->height > 1 ? p->pitch : 0), &span) ||
	    __builtin_add_overflow(span, row, &span))
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_proxy_check_dptr(call, p->dst, span);
}

static CUresult memset_node_set(struct vgpu_proxy_call *call, void **argv)
{
	const CUDA_MEMSET_NODE_PARAMS *p = ARG(const CUDA_MEMSET_NODE_PARAMS *, VGPU_MNW_PARAMS);
	CUresult r;

	if (!call->drv->cuGraphMemsetNodeSetParams)
		return CUDA_ERROR_NOT_SUPPORTED;
	if ((r = memset_node_check(call, p)) != CUDA_SUCCESS)
		return r;
	return call->drv->cuGraphMemsetNodeSetParams(ARG(CUgraphNode, VGPU_MNW_NODE), p);
}

static CUresult exec_memset_node_set(struct vgpu_proxy_call *call, void **argv)
{
	const CUDA_MEMSET_NODE_PARAMS *p = ARG(const CUDA_MEMSET_NODE_PARAMS *, VGPU_MXW_PARAMS);
	CUresult r;

	if (!call->drv->cuGraphExecMemsetNodeSetParams)
		return CUDA_ERROR_NOT_SUPPORTED;
	if ((r = memset_node_check(call, p)) != CUDA_SUCCESS)
		return r;
	r = call->drv->cuGraphExecMemsetNodeSetParams(ARG(CUgraphExec, VGPU_MXW_EXEC), ARG(CUgraphNode, VGPU_MXW_NODE),
						      p, ARG(CUcontext, VGPU_MXW_CTX));
	if (r == CUDA_SUCCESS)
		vgpu_ckpt_gexec_changed(call->zone, ARG(CUgraphExec, VGPU_MXW_EXEC), "cuGraphExecMemsetNodeSetParams");
	return r;
}

/* The kernel node attributes a zone may set: those a launch may carry, and a checked window. */
static int knode_attr_allowed(unsigned attr)
{
	return launch_attr_allowed((CUlaunchAttributeID)attr) || attr == CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW ||
	       attr == CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP || attr == CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN;
}

static CUresult knode_set_attr(struct vgpu_proxy_call *call, void **argv)
{
	unsigned attr = ARG(uint32_t, VGPU_KAW_ATTR);
	const CUkernelNodeAttrValue *v = ARG(const CUkernelNodeAttrValue *, VGPU_KAW_VALUE);

	if (!call->drv->cuGraphKernelNodeSetAttribute)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!v || !knode_attr_allowed(attr))
		return CUDA_ERROR_INVALID_VALUE;
	if (attr == CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW && v->accessPolicyWindow.num_bytes &&
	    vgpu_proxy_check_dptr(call, (uint64_t)(uintptr_t)v->accessPolicyWindow.base_ptr,
				  v->accessPolicyWindow.num_bytes) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = call->drv->cuGraphKernelNodeSetAttribute(ARG(CUgraphNode, VGPU_KAW_NODE), (CUkernelNodeAttrID)attr, v);
	if (r == CUDA_SUCCESS)
		vgpu_ckpt_graph_attrs(call->zone, "cuGraphKernelNodeSetAttribute");
	return r;
}

static CUresult knode_get_attr(struct vgpu_proxy_call *call, void **argv)
{
	unsigned attr = ARG(uint32_t, VGPU_KAG_ATTR);
	CUkernelNodeAttrValue *out = ARG(CUkernelNodeAttrValue *, VGPU_KAG_VALUE);

	if (!call->drv->cuGraphKernelNodeGetAttribute)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !knode_attr_allowed(attr))
		return CUDA_ERROR_INVALID_VALUE;
	return call->drv->cuGraphKernelNodeGetAttribute(ARG(CUgraphNode, VGPU_KAG_NODE), (CUkernelNodeAttrID)attr, out);
}

/*
 * A kernel node's launch read back: the function as the zone's own handle (a node can only
 * run a function the zone launched or named), the shape, and each parameter copied at its
 * offset into a buffer that is zero elsewhere, so no byte of the worker's memory travels.
 */
static CUresult knode_get_params(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	uint64_t *fid = ARG(uint64_t *, VGPU_KGW_FUNC);
	struct vgpu_knode_shape *sh = ARG(struct vgpu_knode_shape *, VGPU_KGW_SHAPE);
	uint8_t *out = ARG(uint8_t *, VGPU_KGW_PARAMS);
	uint32_t cap = ARG(uint32_t, VGPU_KGW_CAP);
	CUDA_KERNEL_NODE_PARAMS p;
	uint64_t end = 0;
	CUresult r;

	if (!drv->cuGraphKernelNodeGetParams_v2 || !drv->cuFuncGetParamInfo)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!fid || !sh || cap > VGPU_KPARAM_MAX || (cap && !out))
		return CUDA_ERROR_INVALID_VALUE;
	memset(&p, 0, sizeof(p));
	if ((r = drv->cuGraphKernelNodeGetParams_v2(ARG(CUgraphNode, VGPU_KGW_NODE), &p)) != CUDA_SUCCESS)
		return r;
	if (!p.func || vgpu_zone_handle_find(call->zone, VGPU_H_FUNCTION, p.func, fid) != 0) {
		vgpu_info("%s: the node runs a function the zone holds no handle of", call->desc->name);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if (cap)
		memset(out, 0, cap);
	for (uint32_t i = 0; i < VGPU_KPARAM_COUNT_MAX; i++) {
		size_t off, sz;
		if (drv->cuFuncGetParamInfo(p.func, i, &off, &sz) != CUDA_SUCCESS)
			break;
		if (off > VGPU_KPARAM_MAX || sz > VGPU_KPARAM_MAX - off || !p.kernelParams || !p.kernelParams[i]) {
			vgpu_info("%s: parameter %u of the node's kernel cannot be read back", call->desc->name, i);
			return CUDA_ERROR_NOT_SUPPORTED;
		}
		if (off + sz <= cap)
			memcpy(out + off, p.kernelParams[i], sz);
		if (off + sz > end)
			end = off + sz;
	}
	vgpu_ckpt_words(call->zone, out, end < cap ? end : cap, 0);   /* as the zone knows them */
	*sh = (struct vgpu_knode_shape){ { p.gridDimX, p.gridDimY, p.gridDimZ }, { p.blockDimX, p.blockDimY, p.blockDimZ },
					 p.sharedMemBytes, (uint32_t)end };
	return CUDA_SUCCESS;
}

/*
 * A kernel node's launch replaced, in the graph or in an executable graph: the parameters
 * come packed with their layout exactly as a launch's and are handed to the driver the same
 * way (kernelParams into a zeroed buffer, or `extra` when the zone knew no layout).
 */
static CUresult knode_set_params(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	const uint8_t *params = ARG(const uint8_t *, VGPU_KSW_PARAMS);
	uint32_t pbytes = ARG(uint32_t, VGPU_KSW_PARAM_BYTES);
	CUgraphExec exec = ARG(CUgraphExec, VGPU_KSW_EXEC);
	void **kp = NULL;
	uint8_t *buf;
	CUresult r;

	if (exec ? !drv->cuGraphExecKernelNodeSetParams_v2 : !drv->cuGraphKernelNodeSetParams_v2)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!ARG(CUfunction, VGPU_KSW_F) || pbytes > VGPU_KPARAM_MAX || (pbytes && !params))
		return CUDA_ERROR_INVALID_VALUE;
	if (!(buf = launch_buf()))
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (pbytes)
		memcpy(buf, params, pbytes);
	r = launch_params(call, ARG(const uint32_t *, VGPU_KSW_LAYOUT), ARG(uint32_t, VGPU_KSW_NPARAMS), buf, pbytes,
			  &kp);
	if (r == CUDA_SUCCESS) {
		size_t extra_size = pbytes;
		void *extra[] = { CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &extra_size,
				  CU_LAUNCH_PARAM_END };
		CUDA_KERNEL_NODE_PARAMS p;
		memset(&p, 0, sizeof(p));
		p.func = ARG(CUfunction, VGPU_KSW_F);
		p.gridDimX = ARG(unsigned, VGPU_KSW_GX), p.gridDimY = ARG(unsigned, VGPU_KSW_GY);
		p.gridDimZ = ARG(unsigned, VGPU_KSW_GZ);
		p.blockDimX = ARG(unsigned, VGPU_KSW_BX), p.blockDimY = ARG(unsigned, VGPU_KSW_BY);
		p.blockDimZ = ARG(unsigned, VGPU_KSW_BZ);
		p.sharedMemBytes = ARG(unsigned, VGPU_KSW_SHMEM);
		if (!kp && pbytes)
			p.extra = extra;
		else
			p.kernelParams = kp;
		CUgraphNode node = ARG(CUgraphNode, VGPU_KSW_NODE);
		r = exec ? drv->cuGraphExecKernelNodeSetParams_v2(exec, node, &p)
			 : drv->cuGraphKernelNodeSetParams_v2(node, &p);
		if (r == CUDA_SUCCESS && exec)
			vgpu_ckpt_gexec_changed(call->zone, exec, call->desc->name);
	}
	memset(buf, 0, pbytes);
	return r;
}

/* Both sides of a copy name device memory (directly or by unified address). */
static int device_sides(const CUDA_MEMCPY3D *c)
{
	return (c->srcMemoryType == CU_MEMORYTYPE_DEVICE || c->srcMemoryType == CU_MEMORYTYPE_UNIFIED) &&
	       (c->dstMemoryType == CU_MEMORYTYPE_DEVICE || c->dstMemoryType == CU_MEMORYTYPE_UNIFIED);
}

/* No host address, array or reserved field left in a copy of device memory. */
static void clear_host_fields(CUDA_MEMCPY3D *c)
{
	c->srcHost = c->dstHost = NULL;
	c->srcArray = c->dstArray = NULL;
	c->reserved0 = c->reserved1 = NULL;
}

/*
 * A copy node's copy read back. Copies made through vgpu name device memory only (pinned
 * copies are captured as device copies of their region), so anything else is not the zone's
 * to see: host addresses would be the worker's.
 */
static CUresult mcnode_get_params(struct vgpu_proxy_call *call, void **argv)
{
	CUDA_MEMCPY3D *out = ARG(CUDA_MEMCPY3D *, VGPU_CGW_COPY), c;
	CUresult r;

	if (!call->drv->cuGraphMemcpyNodeGetParams)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	memset(&c, 0, sizeof(c));
	if ((r = call->drv->cuGraphMemcpyNodeGetParams(ARG(CUgraphNode, VGPU_CGW_NODE), &c)) != CUDA_SUCCESS)
		return r;
	if (!device_sides(&c)) {
		vgpu_info("%s: the node copies host memory or arrays, which a zone's copy nodes do not", call->desc->name);
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	clear_host_fields(&c);
	*out = c;
	return CUDA_SUCCESS;
}

/* A copy node's copy replaced: each side a device box inside one of the zone's allocations
 * (or pinned regions), checked like a 2D/3D copy's. */
static CUresult mcnode_set_params(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	CUDA_MEMCPY3D c = *ARG(const CUDA_MEMCPY3D *, VGPU_CSW_COPY);
	CUgraphExec exec = ARG(CUgraphExec, VGPU_CSW_EXEC);
	CUgraphNode node = ARG(CUgraphNode, VGPU_CSW_NODE);
	CUresult r;

	if (exec ? !drv->cuGraphExecMemcpyNodeSetParams : !drv->cuGraphMemcpyNodeSetParams)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!device_sides(&c) || c.srcLOD || c.dstLOD)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = copy_side(call, CU_MEMORYTYPE_DEVICE, &c.srcDevice, c.srcXInBytes, c.srcY, c.srcZ, c.srcPitch,
			   c.srcHeight, &c, 0)) != CUDA_SUCCESS ||
	    (r = copy_side(call, CU_MEMORYTYPE_DEVICE, &c.dstDevice, c.dstXInBytes, c.dstY, c.dstZ, c.dstPitch,
			   c.dstHeight, &c, 0)) != CUDA_SUCCESS)
		return r;
	c.srcMemoryType = c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
	clear_host_fields(&c);
	r = exec ? drv->cuGraphExecMemcpyNodeSetParams(exec, node, &c, ARG(CUcontext, VGPU_CSW_CTX))
		 : drv->cuGraphMemcpyNodeSetParams(node, &c);
	if (r == CUDA_SUCCESS && exec)
		vgpu_ckpt_gexec_changed(call->zone, exec, call->desc->name);
	return r;
}

/* ---------------------------------------------------------------- cluster occupancy */

/* The configuration is rebuilt here from numbers and checked attributes; the opcode says which query. */
static CUresult occ_cluster(struct vgpu_proxy_call *call, void **argv)
{
	const CUlaunchAttribute *attrs = ARG(const CUlaunchAttribute *, VGPU_OCW_ATTRS);
	uint32_t nattrs = ARG(uint32_t, VGPU_OCW_NATTRS);
	int *out = ARG(int *, VGPU_OCW_OUT);
	int size_query = call->desc->opcode == VGPU_OP_cuOccupancyMaxPotentialClusterSize;
	CUresult (*fn)(int *, CUfunction, const CUlaunchConfig *) =
		size_query ? call->drv->cuOccupancyMaxPotentialClusterSize : call->drv->cuOccupancyMaxActiveClusters;

	if (!fn)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || nattrs > VGPU_LAUNCH_ATTR_MAX || (nattrs && !attrs))
		return CUDA_ERROR_INVALID_VALUE;
	for (uint32_t i = 0; i < nattrs; i++)
		if (!launch_attr_allowed(attrs[i].id))
			return CUDA_ERROR_NOT_SUPPORTED;
	CUlaunchConfig cfg = { ARG(unsigned, VGPU_OCW_GX), ARG(unsigned, VGPU_OCW_GY), ARG(unsigned, VGPU_OCW_GZ),
			       ARG(unsigned, VGPU_OCW_BX), ARG(unsigned, VGPU_OCW_BY), ARG(unsigned, VGPU_OCW_BZ),
			       ARG(unsigned, VGPU_OCW_SHMEM), ARG(CUstream, VGPU_OCW_STREAM),
			       (CUlaunchAttribute *)attrs, nattrs };
	return fn(out, ARG(CUfunction, VGPU_OCW_F), &cfg);
}

/* ---------------------------------------------------------------- stream attributes */

/* The stream attributes a zone may set or read: none names another object; a window's
 * address must lie in one of the zone's allocations (it is a cache hint over that range). */
static int stream_attr_allowed(unsigned attr)
{
	return attr == CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW || attr == CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY ||
	       attr == CU_LAUNCH_ATTRIBUTE_PRIORITY || attr == CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP ||
	       attr == CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN;
}

static CUresult stream_set_attr(struct vgpu_proxy_call *call, void **argv)
{
	unsigned attr = ARG(uint32_t, VGPU_SAW_ATTR);
	const CUstreamAttrValue *v = ARG(const CUstreamAttrValue *, VGPU_SAW_VALUE);
	CUstreamAttrValue copy;
	CUresult (*fn)(CUstream, CUstreamAttrID, const CUstreamAttrValue *);

	fn = call->desc->opcode == VGPU_OP_cuStreamSetAttribute ? call->drv->cuStreamSetAttribute
								  : call->drv->cuStreamSetAttribute_ptsz;
	if (!fn)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!v || !stream_attr_allowed(attr))
		return CUDA_ERROR_INVALID_VALUE;
	copy = *v;
	if (attr == CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW && copy.accessPolicyWindow.num_bytes &&
	    vgpu_proxy_check_dptr(call, (uint64_t)(uintptr_t)copy.accessPolicyWindow.base_ptr,
				  copy.accessPolicyWindow.num_bytes) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_VALUE;
	return fn(ARG(CUstream, VGPU_SAW_STREAM), (CUstreamAttrID)attr, &copy);
}

static CUresult stream_get_attr(struct vgpu_proxy_call *call, void **argv)
{
	unsigned attr = ARG(uint32_t, VGPU_SAG_ATTR);
	CUstreamAttrValue *out = ARG(CUstreamAttrValue *, VGPU_SAG_VALUE);
	CUresult (*fn)(CUstream, CUstreamAttrID, CUstreamAttrValue *);

	fn = call->desc->opcode == VGPU_OP_cuStreamGetAttribute ? call->drv->cuStreamGetAttribute
								  : call->drv->cuStreamGetAttribute_ptsz;
	if (!fn)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!out || !stream_attr_allowed(attr))
		return CUDA_ERROR_INVALID_VALUE;
	return fn(ARG(CUstream, VGPU_SAG_STREAM), (CUstreamAttrID)attr, out);
}

/* ---------------------------------------------------------------- context limits */

/*
 * cuCtxSetLimit: a limit that makes the driver reserve device memory is charged to the
 * zone's memory quota before the driver sees it (the heap and the printf buffer their size;
 * the stack its size for every thread the device holds at once, as the driver reserves it),
 * the context's earlier charge for that limit given back once the driver took the new
 * value. Over the quota: CUDA_ERROR_OUT_OF_MEMORY, the limit unchanged. Other limits pass.
 */
static CUresult set_limit(struct vgpu_proxy_call *call, void **argv)
{
	const struct vgpu_driver *drv = call->drv;
	struct vgpu_zone *z = call->zone;
	CUlimit limit = ARG(CUlimit, 0);
	size_t value = ARG(size_t, 1);
	uint64_t charge = value;
	CUcontext ctx = NULL;
	CUresult r;

	if (!drv->cuCtxSetLimit)
		return CUDA_ERROR_NOT_FOUND;
	if (limit != CU_LIMIT_STACK_SIZE && limit != CU_LIMIT_PRINTF_FIFO_SIZE && limit != CU_LIMIT_MALLOC_HEAP_SIZE)
		return drv->cuCtxSetLimit(limit, value);
	if (!drv->cuCtxGetCurrent || (r = drv->cuCtxGetCurrent(&ctx)) != CUDA_SUCCESS || !ctx)
		return ctx ? r : CUDA_ERROR_INVALID_CONTEXT;
	if (limit == CU_LIMIT_STACK_SIZE) {
		CUdevice dev;
		int per_sm = 0, sms = 0;
		if (!drv->cuCtxGetDevice || !drv->cuDeviceGetAttribute || (r = drv->cuCtxGetDevice(&dev)) ||
		    (r = drv->cuDeviceGetAttribute(&per_sm, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, dev)) ||
		    (r = drv->cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev)))
			return r ? r : CUDA_ERROR_NOT_FOUND;
		uint64_t threads = (uint64_t)(per_sm > 0 ? per_sm : 1) * (uint64_t)(sms > 0 ? sms : 1);
		if (value > UINT64_MAX / threads)
			return CUDA_ERROR_OUT_OF_MEMORY;
		charge = value * threads;
	}
	/* this context's earlier charge for this limit */
	pthread_mutex_lock(&z->lock);
	struct vgpu_limit_charge *c = NULL;
	for (uint32_t i = 0; i < z->nlimit_charge && !c; i++)
		if (z->limit_charge[i].ctx == ctx && z->limit_charge[i].limit == (uint32_t)limit)
			c = &z->limit_charge[i];
	if (!c && z->nlimit_charge < sizeof(z->limit_charge) / sizeof(z->limit_charge[0])) {
		c = &z->limit_charge[z->nlimit_charge++];
		*c = (struct vgpu_limit_charge){ ctx, (uint32_t)limit, 0 };
	}
	uint64_t old = c ? c->bytes : 0;
	pthread_mutex_unlock(&z->lock);
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;   /* more contexts and limits than are kept: refused, not uncharged */
	if (charge > old && vgpu_zone_mem_reserve(z, charge - old) < 0) {
		vgpu_debug("cuCtxSetLimit(%d, %zu): %llu bytes of device memory are over the zone's quota", (int)limit,
			   value, (unsigned long long)charge);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	if ((r = drv->cuCtxSetLimit(limit, value)) != CUDA_SUCCESS) {
		if (charge > old)
			vgpu_zone_mem_release(z, charge - old);
		return r;
	}
	if (charge < old)
		vgpu_zone_mem_release(z, old - charge);
	pthread_mutex_lock(&z->lock);
	c->bytes = charge;
	pthread_mutex_unlock(&z->lock);
	return CUDA_SUCCESS;
}

/* ---------------------------------------------------------------- registration */

#define WIRE(nm, op, fl, args, n) \
	static const struct vgpu_call_desc wire_##nm = VGPU_WIRE_DESC(#nm, op, fl, args, n)

WIRE(cuCtxCreate_v4, VGPU_OP_cuCtxCreate_v4, VGPU_CALLF_CUSTOM, vgpu_wire_ctx_create_args, VGPU_XW_NARGS);
WIRE(cuModuleLoadData, VGPU_OP_cuModuleLoadData, VGPU_CALLF_CUSTOM, vgpu_wire_module_args, VGPU_MW_NARGS);
WIRE(cuModuleLoadDataEx, VGPU_OP_cuModuleLoadDataEx, VGPU_CALLF_CUSTOM, vgpu_wire_module_args, VGPU_MW_NARGS);
WIRE(cuModuleLoadFatBinary, VGPU_OP_cuModuleLoadFatBinary, VGPU_CALLF_CUSTOM, vgpu_wire_module_args, VGPU_MW_NARGS);
#define LAUNCH_WIRE(nm) WIRE(nm, VGPU_OP_##nm, VGPU_CALLF_ASYNC | VGPU_CALLF_CUSTOM, vgpu_wire_launch_args, VGPU_LW_NARGS)
LAUNCH_WIRE(cuLaunchKernel);
LAUNCH_WIRE(cuLaunchKernel_ptsz);
LAUNCH_WIRE(cuLaunchCooperativeKernel);
LAUNCH_WIRE(cuLaunchCooperativeKernel_ptsz);
LAUNCH_WIRE(cuLaunchKernelEx);
LAUNCH_WIRE(cuLaunchKernelEx_ptsz);
#define COPY_WIRE(nm) WIRE(nm, VGPU_OP_##nm, VGPU_CALLF_CUSTOM, vgpu_wire_copy_args, VGPU_CW_NARGS)
COPY_WIRE(cuMemcpy2D_v2);
COPY_WIRE(cuMemcpy2D_v2_ptds);
COPY_WIRE(cuMemcpy2DUnaligned_v2);
COPY_WIRE(cuMemcpy2DUnaligned_v2_ptds);
COPY_WIRE(cuMemcpy2DAsync_v2);
COPY_WIRE(cuMemcpy2DAsync_v2_ptsz);
COPY_WIRE(cuMemcpy3D_v2);
COPY_WIRE(cuMemcpy3D_v2_ptds);
COPY_WIRE(cuMemcpy3DAsync_v2);
COPY_WIRE(cuMemcpy3DAsync_v2_ptsz);
WIRE(cuPointerSetAttribute, VGPU_OP_cuPointerSetAttribute, VGPU_CALLF_CUSTOM, vgpu_wire_pointer_set_attr_args,
     VGPU_PSW_NARGS);
COPY_WIRE(cuMemcpy3DPeer);
COPY_WIRE(cuMemcpy3DPeer_ptds);
COPY_WIRE(cuMemcpy3DPeerAsync);
COPY_WIRE(cuMemcpy3DPeerAsync_ptsz);
WIRE(cuMemPoolCreate, VGPU_OP_cuMemPoolCreate, VGPU_CALLF_CUSTOM, vgpu_wire_pool_create_args, VGPU_MPW_NARGS);
WIRE(cuMemPoolSetAttribute, VGPU_OP_cuMemPoolSetAttribute, VGPU_CALLF_CUSTOM, vgpu_wire_pool_set_attr_args,
     VGPU_PAW_NARGS);
WIRE(cuMemPoolGetAttribute, VGPU_OP_cuMemPoolGetAttribute, VGPU_CALLF_CUSTOM, vgpu_wire_pool_get_attr_args,
     VGPU_PAG_NARGS);
WIRE(cuStreamGetCaptureInfo_v3, VGPU_OP_cuStreamGetCaptureInfo_v3, VGPU_CALLF_CUSTOM, vgpu_wire_capture_info_args,
     VGPU_CIW_NARGS);
WIRE(cuStreamGetCaptureInfo_v3_ptsz, VGPU_OP_cuStreamGetCaptureInfo_v3_ptsz, VGPU_CALLF_CUSTOM,
     vgpu_wire_capture_info_args, VGPU_CIW_NARGS);
WIRE(cuMemCreate, VGPU_OP_cuMemCreate, VGPU_CALLF_CUSTOM, vgpu_wire_mem_create_args, VGPU_VCW_NARGS);
WIRE(cuMemRelease, VGPU_OP_cuMemRelease, VGPU_CALLF_CUSTOM, vgpu_wire_mem_release_args, VGPU_VRW_NARGS);
WIRE(cuMemMap, VGPU_OP_cuMemMap, VGPU_CALLF_CUSTOM, vgpu_wire_mem_map_args, VGPU_VMW_NARGS);
WIRE(cuMemUnmap, VGPU_OP_cuMemUnmap, VGPU_CALLF_CUSTOM, vgpu_wire_mem_unmap_args, VGPU_VUW_NARGS);
WIRE(cuMemAddressFree, VGPU_OP_cuMemAddressFree, VGPU_CALLF_CUSTOM, vgpu_wire_mem_unmap_args, VGPU_VUW_NARGS);
WIRE(cuMemRetainAllocationHandle, VGPU_OP_cuMemRetainAllocationHandle, VGPU_CALLF_CUSTOM, vgpu_wire_mem_retain_args,
     VGPU_VTW_NARGS);
WIRE(cuMemGetAllocationPropertiesFromHandle, VGPU_OP_cuMemGetAllocationPropertiesFromHandle, VGPU_CALLF_CUSTOM,
     vgpu_wire_mem_props_args, VGPU_VPW_NARGS);
WIRE(cuMemGetAllocationGranularity, VGPU_OP_cuMemGetAllocationGranularity, VGPU_CALLF_CUSTOM,
     vgpu_wire_mem_granularity_args, VGPU_VGW_NARGS);
#define TMAP_WIRE(nm) WIRE(nm, VGPU_OP_##nm, VGPU_CALLF_CUSTOM, vgpu_wire_tmap_encode_args, VGPU_TMW_NARGS)
TMAP_WIRE(cuTensorMapEncodeTiled);
TMAP_WIRE(cuTensorMapEncodeIm2col);
TMAP_WIRE(cuTensorMapEncodeIm2colWide);
WIRE(cuTensorMapReplaceAddress, VGPU_OP_cuTensorMapReplaceAddress, VGPU_CALLF_CUSTOM, vgpu_wire_tmap_replace_args,
     VGPU_TRW_NARGS);
WIRE(cuStreamSetAttribute, VGPU_OP_cuStreamSetAttribute, VGPU_CALLF_CUSTOM, vgpu_wire_stream_set_attr_args,
     VGPU_SAW_NARGS);
WIRE(cuStreamSetAttribute_ptsz, VGPU_OP_cuStreamSetAttribute_ptsz, VGPU_CALLF_CUSTOM, vgpu_wire_stream_set_attr_args,
     VGPU_SAW_NARGS);
WIRE(cuStreamGetAttribute, VGPU_OP_cuStreamGetAttribute, VGPU_CALLF_CUSTOM, vgpu_wire_stream_get_attr_args,
     VGPU_SAG_NARGS);
WIRE(cuStreamGetAttribute_ptsz, VGPU_OP_cuStreamGetAttribute_ptsz, VGPU_CALLF_CUSTOM, vgpu_wire_stream_get_attr_args,
     VGPU_SAG_NARGS);
WIRE(cuOccupancyMaxPotentialClusterSize, VGPU_OP_cuOccupancyMaxPotentialClusterSize, VGPU_CALLF_CUSTOM,
     vgpu_wire_occ_cluster_args, VGPU_OCW_NARGS);
WIRE(cuOccupancyMaxActiveClusters, VGPU_OP_cuOccupancyMaxActiveClusters, VGPU_CALLF_CUSTOM, vgpu_wire_occ_cluster_args,
     VGPU_OCW_NARGS);
WIRE(cuGraphExecUpdate_v2, VGPU_OP_cuGraphExecUpdate_v2, VGPU_CALLF_CUSTOM, vgpu_wire_graph_update_args,
     VGPU_GUW_NARGS);
WIRE(cuGraphMemsetNodeSetParams, VGPU_OP_cuGraphMemsetNodeSetParams, VGPU_CALLF_CUSTOM, vgpu_wire_memset_node_args,
     VGPU_MNW_NARGS);
WIRE(cuGraphExecMemsetNodeSetParams, VGPU_OP_cuGraphExecMemsetNodeSetParams, VGPU_CALLF_CUSTOM,
     vgpu_wire_exec_memset_node_args, VGPU_MXW_NARGS);
WIRE(cuGraphKernelNodeSetAttribute, VGPU_OP_cuGraphKernelNodeSetAttribute, VGPU_CALLF_CUSTOM,
     vgpu_wire_knode_set_attr_args, VGPU_KAW_NARGS);
WIRE(cuGraphKernelNodeGetAttribute, VGPU_OP_cuGraphKernelNodeGetAttribute, VGPU_CALLF_CUSTOM,
     vgpu_wire_knode_get_attr_args, VGPU_KAG_NARGS);
WIRE(cuGraphKernelNodeGetParams_v2, VGPU_OP_cuGraphKernelNodeGetParams_v2, VGPU_CALLF_CUSTOM,
     vgpu_wire_knode_get_args, VGPU_KGW_NARGS);
WIRE(cuGraphKernelNodeSetParams_v2, VGPU_OP_cuGraphKernelNodeSetParams_v2, VGPU_CALLF_CUSTOM,
     vgpu_wire_knode_set_args, VGPU_KSW_NARGS);
WIRE(cuGraphExecKernelNodeSetParams_v2, VGPU_OP_cuGraphExecKernelNodeSetParams_v2, VGPU_CALLF_CUSTOM,
     vgpu_wire_knode_set_args, VGPU_KSW_NARGS);
WIRE(cuGraphMemcpyNodeGetParams, VGPU_OP_cuGraphMemcpyNodeGetParams, VGPU_CALLF_CUSTOM, vgpu_wire_mcnode_get_args,
     VGPU_CGW_NARGS);
WIRE(cuGraphMemcpyNodeSetParams, VGPU_OP_cuGraphMemcpyNodeSetParams, VGPU_CALLF_CUSTOM, vgpu_wire_mcnode_set_args,
     VGPU_CSW_NARGS);
WIRE(cuGraphExecMemcpyNodeSetParams, VGPU_OP_cuGraphExecMemcpyNodeSetParams, VGPU_CALLF_CUSTOM,
     vgpu_wire_mcnode_set_args, VGPU_CSW_NARGS);
WIRE(cuPointerGetAttribute, VGPU_OP_cuPointerGetAttribute, VGPU_CALLF_CUSTOM, vgpu_wire_pointer_attr_args, VGPU_PW_NARGS);

__attribute__((constructor)) static void custom_calls_register(void)
{
	static const struct {
		const struct vgpu_call_desc *d;
		vgpu_proxy_wire_fn fn;
	} tab[] = {
		{ &wire_cuCtxCreate_v4, ctx_create },
		{ &vgpu_call_cuCtxSetLimit, set_limit },
		{ &wire_cuMemPoolCreate, pool_create },
		{ &wire_cuGraphMemsetNodeSetParams, memset_node_set },
		{ &wire_cuGraphExecMemsetNodeSetParams, exec_memset_node_set },
		{ &wire_cuGraphKernelNodeSetAttribute, knode_set_attr },
		{ &wire_cuGraphKernelNodeGetAttribute, knode_get_attr },
		{ &wire_cuGraphKernelNodeGetParams_v2, knode_get_params },
		{ &wire_cuGraphKernelNodeSetParams_v2, knode_set_params },
		{ &wire_cuGraphExecKernelNodeSetParams_v2, knode_set_params },
		{ &wire_cuGraphMemcpyNodeGetParams, mcnode_get_params },
		{ &wire_cuGraphMemcpyNodeSetParams, mcnode_set_params },
		{ &wire_cuGraphExecMemcpyNodeSetParams, mcnode_set_params },
		{ &wire_cuGraphExecUpdate_v2, graph_update },
		{ &wire_cuOccupancyMaxPotentialClusterSize, occ_cluster },
		{ &wire_cuOccupancyMaxActiveClusters, occ_cluster },
		{ &wire_cuStreamSetAttribute, stream_set_attr },
		{ &wire_cuStreamSetAttribute_ptsz, stream_set_attr },
		{ &wire_cuStreamGetAttribute, stream_get_attr },
		{ &wire_cuStreamGetAttribute_ptsz, stream_get_attr },
		{ &wire_cuTensorMapEncodeTiled, tmap_encode },
		{ &wire_cuTensorMapEncodeIm2col, tmap_encode },
		{ &wire_cuTensorMapEncodeIm2colWide, tmap_encode },
		{ &wire_cuTensorMapReplaceAddress, tmap_replace },
		{ &wire_cuMemCreate, mem_create },
		{ &wire_cuMemRelease, mem_release },
		{ &wire_cuMemMap, mem_map },
		{ &wire_cuMemUnmap, mem_unmap },
		{ &wire_cuMemRetainAllocationHandle, mem_retain },
		{ &wire_cuMemGetAllocationPropertiesFromHandle, mem_props },
		{ &wire_cuMemAddressFree, mem_address_free },
		{ &wire_cuMemGetAllocationGranularity, mem_granularity },
		{ &wire_cuStreamGetCaptureInfo_v3, capture_info },
		{ &wire_cuStreamGetCaptureInfo_v3_ptsz, capture_info },
		{ &wire_cuMemPoolSetAttribute, pool_set_attribute },
		{ &wire_cuMemPoolGetAttribute, pool_get_attribute },
		{ &wire_cuModuleLoadData, module_load },
		{ &wire_cuModuleLoadDataEx, module_load },
		{ &wire_cuModuleLoadFatBinary, module_load },
		{ &wire_cuLaunchKernel, launch },
		{ &wire_cuLaunchKernel_ptsz, launch },
		{ &wire_cuLaunchCooperativeKernel, launch },
		{ &wire_cuLaunchCooperativeKernel_ptsz, launch },
		{ &wire_cuLaunchKernelEx, launch },
		{ &wire_cuLaunchKernelEx_ptsz, launch },
		{ &wire_cuMemcpy2D_v2, copy3d },
		{ &wire_cuMemcpy2D_v2_ptds, copy3d },
		{ &wire_cuMemcpy2DUnaligned_v2, copy3d },
		{ &wire_cuMemcpy2DUnaligned_v2_ptds, copy3d },
		{ &wire_cuMemcpy2DAsync_v2, copy3d },
		{ &wire_cuMemcpy2DAsync_v2_ptsz, copy3d },
		{ &wire_cuMemcpy3D_v2, copy3d },
		{ &wire_cuMemcpy3D_v2_ptds, copy3d },
		{ &wire_cuMemcpy3DAsync_v2, copy3d },
		{ &wire_cuMemcpy3DAsync_v2_ptsz, copy3d },
		{ &wire_cuMemcpy3DPeer, copy3d },
		{ &wire_cuMemcpy3DPeer_ptds, copy3d },
		{ &wire_cuMemcpy3DPeerAsync, copy3d },
		{ &wire_cuMemcpy3DPeerAsync_ptsz, copy3d },
		{ &wire_cuPointerGetAttribute, pointer_attr },
		{ &wire_cuPointerSetAttribute, pointer_set_attr },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		vgpu_proxy_wire_register(tab[i].d->opcode, tab[i].d, tab[i].fn, tab[i].d->name);
}
