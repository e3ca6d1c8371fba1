/* SPDX-License-Identifier: MIT */
/* launch.c — kernel launches: parameters packed by value from the module's layout, posted without waiting. */
#include "client.h"

#include <stdlib.h>
#include <string.h>

#include "custom_wire.h"
#include "kernels.h"
#include "library.h"
#include "vgpu_ops.h"

#define LAUNCH_DESC(fn) \
	static const struct vgpu_call_desc desc_##fn = \
		VGPU_WIRE_DESC(#fn, VGPU_OP_##fn, VGPU_CALLF_ASYNC | VGPU_CALLF_CUSTOM, vgpu_wire_launch_args, VGPU_LW_NARGS)
/*
 * A cooperative launch waits for its answer: the driver refuses a grid larger than the device
 * holds at once when it is launched (cudaErrorCooperativeLaunchTooLarge), and programs size
 * their grids by trying. The proxy answers a launch sent without VGPU_MSG_F_ASYNC.
 */
#define LAUNCH_DESC_SYNC(fn, op) \
	static const struct vgpu_call_desc desc_##fn = \
		VGPU_WIRE_DESC(#op, VGPU_OP_##op, VGPU_CALLF_CUSTOM, vgpu_wire_launch_args, VGPU_LW_NARGS)
LAUNCH_DESC(cuLaunchKernel);
LAUNCH_DESC(cuLaunchKernel_ptsz);
LAUNCH_DESC_SYNC(cuLaunchCooperativeKernel, cuLaunchCooperativeKernel);
LAUNCH_DESC_SYNC(cuLaunchCooperativeKernel_ptsz, cuLaunchCooperativeKernel_ptsz);
LAUNCH_DESC_SYNC(cuLaunchKernelEx_coop, cuLaunchKernelEx);
LAUNCH_DESC_SYNC(cuLaunchKernelEx_ptsz_coop, cuLaunchKernelEx_ptsz);
LAUNCH_DESC(cuLaunchKernelEx);
LAUNCH_DESC(cuLaunchKernelEx_ptsz);

/* Everything a launch message carries, as C values the encoder reads through argv. */
struct launch {
	CUfunction f;
	unsigned int grid[3], block[3], shmem;
	CUstream stream;
	const void *params;
	unsigned int param_bytes;
	const void *layout;
	unsigned int nparams;
	const void *attrs;
	unsigned int nattrs;
	unsigned int kind;
};

static CUresult launch_send(const struct vgpu_call_desc *d, struct launch *l)
{
	void *argv[VGPU_LW_NARGS] = {
		[VGPU_LW_F] = &l->f, [VGPU_LW_GX] = &l->grid[0], [VGPU_LW_GY] = &l->grid[1],
		[VGPU_LW_GZ] = &l->grid[2], [VGPU_LW_BX] = &l->block[0], [VGPU_LW_BY] = &l->block[1],
		[VGPU_LW_BZ] = &l->block[2], [VGPU_LW_SHMEM] = &l->shmem, [VGPU_LW_STREAM] = &l->stream,
		[VGPU_LW_PARAMS] = &l->params, [VGPU_LW_PARAM_BYTES] = &l->param_bytes,
		[VGPU_LW_LAYOUT] = &l->layout, [VGPU_LW_NPARAMS] = &l->nparams,
		[VGPU_LW_ATTRS] = &l->attrs, [VGPU_LW_NATTRS] = &l->nattrs, [VGPU_LW_KIND] = &l->kind,
	};
	return vgpu_client_call(d, argv);
}

/* The packed buffer and size of an `extra` array (CU_LAUNCH_PARAM_BUFFER_POINTER/SIZE). */
static CUresult parse_extra(void **extra, const void **buf /* out */, size_t *size /* out */)
{
	const void *p = NULL;
	size_t sz = 0;
	int have_size = 0;

	for (unsigned i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
		if (i >= 64)
			return CUDA_ERROR_INVALID_VALUE; /* unterminated */
		if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
			p = extra[i + 1];
		} else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
			if (!extra[i + 1])
				return CUDA_ERROR_INVALID_VALUE;
			sz = *(size_t *)extra[i + 1];
			have_size = 1;
		} else {
			return CUDA_ERROR_INVALID_VALUE;
		}
	}
	if (!p || !have_size)
		return CUDA_ERROR_INVALID_VALUE;
	*buf = p;
	*size = sz;
	return CUDA_SUCCESS;
}

/*
 * A launch is posted without waiting, but the driver refuses an impossible shape at the
 * call, and programs check for that right after (cudaGetLastError): the limits every CUDA
 * device shares are checked here, so the error comes back where the driver gives it.
 * Device-specific limits (shared memory, a kernel's own thread limit) are the proxy's and
 * surface at the next synchronising call.
 */
static int launch_shape_ok(const struct launch *l)
{
	const unsigned *g = l->grid, *b = l->block;

	if (!g[0] || !g[1] || !g[2] || !b[0] || !b[1] || !b[2])
		return 0;
	if (g[1] > 65535 || g[2] > 65535 || b[0] > 1024 || b[1] > 1024 || b[2] > 64)
		return 0;
	return (uint64_t)b[0] * b[1] * b[2] <= 1024;
}

/*
 * Build and post one launch. Parameters come either as kernelParams (then the layout learned
 * from the module image says where each goes and how big it is) or as an already packed
 * `extra` buffer (sent as is; the layout, when known, travels with it).
 */
static CUresult launch_common(const struct vgpu_call_desc *d, struct launch *l, void **kernelParams,
			      void **extra, int ptsz)
{
	struct vgpu_kernel_info ki;
	unsigned char buf[VGPU_KPARAM_MAX];
	uint32_t layout[2 * 256];
	uint32_t *lay = layout;
	CUresult r = vgpu_library_resolve(&l->f); /* a CUkernel launches its function */

	if (r != CUDA_SUCCESS)
		return r;
	int known = vgpu_kernels_lookup(l->f, &ki) == 0;

	if (!l->f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!launch_shape_ok(l))
		return CUDA_ERROR_INVALID_VALUE;
	if (ptsz && !l->stream)
		l->stream = CU_STREAM_PER_THREAD;
	if (known && ki.nparams > 256) {
		lay = malloc(ki.nparams * 2 * sizeof(uint32_t));
		if (!lay)
			return CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (known) {
		for (uint32_t i = 0; i < ki.nparams; i++) {
			lay[2 * i] = ki.params[i].offset;
			lay[2 * i + 1] = ki.params[i].size;
		}
		l->layout = lay;
		l->nparams = ki.nparams;
	}

	if (kernelParams && extra) {
		r = CUDA_ERROR_INVALID_VALUE; /* the driver accepts one form or the other, not both */
		goto out;
	} else if (kernelParams) {
		if (!known) {
			vgpu_client_log(0, "%s: parameter layout of this kernel is unknown (its module image could "
					"not be parsed); use the `extra` launch form", d->name);
			r = CUDA_ERROR_INVALID_VALUE;
			goto out;
		}
		if (ki.param_bytes > sizeof(buf)) {
			r = CUDA_ERROR_INVALID_VALUE;
			goto out;
		}
		memset(buf, 0, ki.param_bytes);
		for (uint32_t i = 0; i < ki.nparams; i++) {
			if (!kernelParams[i]) {
				r = CUDA_ERROR_INVALID_VALUE;
				goto out;
			}
			memcpy(buf + ki.params[i].offset, kernelParams[i], ki.params[i].size);
		}
		l->params = buf;
		l->param_bytes = ki.param_bytes;
	} else if (extra) {
		const void *p;
		size_t sz;
		r = parse_extra(extra, &p, &sz);
		if (r != CUDA_SUCCESS)
			goto out;
		if (sz > VGPU_KPARAM_MAX) {
			r = CUDA_ERROR_INVALID_VALUE;
			goto out;
		}
		l->params = p;
		l->param_bytes = (unsigned)sz;
	} else if (known && ki.nparams > 0) {
		r = CUDA_ERROR_INVALID_VALUE; /* the kernel takes parameters but none were given */
		goto out;
	}
	r = launch_send(d, l);
out:
	if (lay != layout)
		free(lay);
	return r;
}

#define LAUNCH_ARGS unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ, \
	unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ, unsigned int sharedMemBytes, \
	CUstream hStream

#define LAUNCH_INIT(kindv) { .f = f, .grid = { gridDimX, gridDimY, gridDimZ }, \
	.block = { blockDimX, blockDimY, blockDimZ }, .shmem = sharedMemBytes, .stream = hStream, .kind = (kindv) }

CUresult CUDAAPI cuLaunchKernel(CUfunction f, LAUNCH_ARGS, void **kernelParams, void **extra)
{
	struct launch l = LAUNCH_INIT(VGPU_LAUNCH_PLAIN);
	return launch_common(&desc_cuLaunchKernel, &l, kernelParams, extra, 0);
}

CUresult CUDAAPI cuLaunchKernel_ptsz(CUfunction f, LAUNCH_ARGS, void **kernelParams, void **extra)
{
	struct launch l = LAUNCH_INIT(VGPU_LAUNCH_PLAIN);
	return launch_common(&desc_cuLaunchKernel_ptsz, &l, kernelParams, extra, 1);
}

CUresult CUDAAPI cuLaunchCooperativeKernel(CUfunction f, LAUNCH_ARGS, void **kernelParams)
{
	struct launch l = LAUNCH_INIT(VGPU_LAUNCH_COOPERATIVE);
	return launch_common(&desc_cuLaunchCooperativeKernel, &l, kernelParams, NULL, 0);
}

CUresult CUDAAPI cuLaunchCooperativeKernel_ptsz(CUfunction f, LAUNCH_ARGS, void **kernelParams)
{
	struct launch l = LAUNCH_INIT(VGPU_LAUNCH_COOPERATIVE);
	return launch_common(&desc_cuLaunchCooperativeKernel_ptsz, &l, kernelParams, NULL, 1);
}

static CUresult launch_ex(const struct vgpu_call_desc *d, const CUlaunchConfig *config, CUfunction f,
			  void **kernelParams, void **extra, int ptsz)
{
	if (!config || (config->numAttrs && !config->attrs) || config->numAttrs > VGPU_LAUNCH_ATTR_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	struct launch l = {
		.f = f, .grid = { config->gridDimX, config->gridDimY, config->gridDimZ },
		.block = { config->blockDimX, config->blockDimY, config->blockDimZ },
		.shmem = config->sharedMemBytes, .stream = config->hStream,
		.attrs = config->attrs, .nattrs = config->numAttrs, .kind = VGPU_LAUNCH_EX,
	};
	for (unsigned i = 0; i < config->numAttrs; i++)
		if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE && config->attrs[i].value.cooperative)
			d = ptsz ? &desc_cuLaunchKernelEx_ptsz_coop : &desc_cuLaunchKernelEx_coop;
	return launch_common(d, &l, kernelParams, extra, ptsz);
}

CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
	return launch_ex(&desc_cuLaunchKernelEx, config, f, kernelParams, extra, 0);
}

CUresult CUDAAPI cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra)
{
	return launch_ex(&desc_cuLaunchKernelEx_ptsz, config, f, kernelParams, extra, 1);
}
