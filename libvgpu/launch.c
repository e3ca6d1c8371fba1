/* SPDX-License-Identifier: MIT */
/* launch.c — kernel launches and kernel graph nodes: parameters packed by value from the module's layout. */
#include "client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "custom_wire.h"
#include "drvtab.h"
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
 * A launch checked (its function resolved and named, its shape possible) and its parameters
 * packed for the wire. They come either as kernelParams (then the layout
 * learned from the module image says where each goes and how big it is) or as an already
 * packed `extra` buffer (sent as is; the layout, when known, travels with it). Fills l's
 * params, param_bytes, layout and nparams; buf holds VGPU_KPARAM_MAX bytes; *lay is layout or
 * a larger array the caller frees when it differs.
 */
static CUresult pack_params(const char *name, struct launch *l, void **kernelParams, void **extra, unsigned char *buf,
			    uint32_t layout[2 * 256], uint32_t **lay /* out */)
{
	struct vgpu_kernel_info ki;

	*lay = layout;
	CUresult r = vgpu_library_resolve(&l->f); /* a CUkernel launches its function */
	if (r != CUDA_SUCCESS)
		return r;
	if (!l->f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!launch_shape_ok(l))
		return CUDA_ERROR_INVALID_VALUE;
	int known = vgpu_kernels_lookup(l->f, &ki) == 0;
	if (known && ki.nparams > 256 && !(*lay = malloc(ki.nparams * 2 * sizeof(uint32_t)))) {
		*lay = layout;
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (known) {
		for (uint32_t i = 0; i < ki.nparams; i++) {
			(*lay)[2 * i] = ki.params[i].offset;
			(*lay)[2 * i + 1] = ki.params[i].size;
		}
		l->layout = *lay;
		l->nparams = ki.nparams;
	}

	if (kernelParams && extra)
		return CUDA_ERROR_INVALID_VALUE; /* the driver accepts one form or the other, not both */
	if (kernelParams) {
		if (!known) {
			vgpu_client_log(0, "%s: parameter layout of this kernel is unknown (its module image could "
					"not be parsed); use the `extra` launch form", name);
			return CUDA_ERROR_INVALID_VALUE;
		}
		if (ki.param_bytes > VGPU_KPARAM_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		memset(buf, 0, ki.param_bytes);
		for (uint32_t i = 0; i < ki.nparams; i++) {
			if (!kernelParams[i])
				return CUDA_ERROR_INVALID_VALUE;
			memcpy(buf + ki.params[i].offset, kernelParams[i], ki.params[i].size);
		}
		l->params = buf;
		l->param_bytes = ki.param_bytes;
	} else if (extra) {
		const void *p;
		size_t sz;
		CUresult r = parse_extra(extra, &p, &sz);
		if (r != CUDA_SUCCESS)
			return r;
		if (sz > VGPU_KPARAM_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		l->params = p;
		l->param_bytes = (unsigned)sz;
		if (known && sz < ki.param_bytes && ki.param_bytes <= VGPU_KPARAM_MAX) {
			/* shorter than the kernel's parameters (NCCL passes the bytes of its 4 KiB
			 * argument block it uses), as the driver takes it: the rest goes as zeros, so
			 * the proxy finds every parameter of the layout inside what it receives */
			memcpy(buf, p, sz);
			memset(buf + sz, 0, ki.param_bytes - sz);
			l->params = buf;
			l->param_bytes = ki.param_bytes;
		}
	} else if (known && ki.nparams > 0) {
		return CUDA_ERROR_INVALID_VALUE; /* the kernel takes parameters but none were given */
	}
	return CUDA_SUCCESS;
}

/* Build and post one launch. */
static CUresult launch_common(const struct vgpu_call_desc *d, struct launch *l, void **kernelParams,
			      void **extra, int ptsz)
{
	unsigned char buf[VGPU_KPARAM_MAX];
	uint32_t layout[2 * 256];
	uint32_t *lay;

	if (ptsz && !l->stream)
		l->stream = CU_STREAM_PER_THREAD;
	CUresult r = pack_params(d->name, l, kernelParams, extra, buf, layout, &lay);
	if (r == CUDA_SUCCESS && vgpu_launch_blocking() && (d->flags & VGPU_CALLF_ASYNC)) {
		/* CUDA_LAUNCH_BLOCKING=1: the zone's driver, started with it too, answers once the
		 * kernel ran, with its error */
		struct vgpu_call_desc sync = *d;
		sync.flags &= (uint16_t)~VGPU_CALLF_ASYNC;
		r = launch_send(&sync, l);
	} else if (r == CUDA_SUCCESS) {
		r = launch_send(d, l);
	}
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

/* ---------------------------------------------------------------- kernel graph nodes */

static const struct vgpu_call_desc desc_knode_get = VGPU_WIRE_DESC("cuGraphKernelNodeGetParams_v2",
	VGPU_OP_cuGraphKernelNodeGetParams_v2, VGPU_CALLF_CUSTOM, vgpu_wire_knode_get_args, VGPU_KGW_NARGS);
static const struct vgpu_call_desc desc_knode_set = VGPU_WIRE_DESC("cuGraphKernelNodeSetParams_v2",
	VGPU_OP_cuGraphKernelNodeSetParams_v2, VGPU_CALLF_CUSTOM, vgpu_wire_knode_set_args, VGPU_KSW_NARGS);
static const struct vgpu_call_desc desc_exec_knode_set = VGPU_WIRE_DESC("cuGraphExecKernelNodeSetParams_v2",
	VGPU_OP_cuGraphExecKernelNodeSetParams_v2, VGPU_CALLF_CUSTOM, vgpu_wire_knode_set_args, VGPU_KSW_NARGS);

/*
 * The parameter values a node's read handed out. The driver's pointers stay valid while the
 * node lives and its parameters do not change, so each node keeps its last read: a read that
 * finds the same values keeps the earlier pointers; a read after a change replaces them. Nodes
 * whose graph is gone are found by a sweep (one query per node kept) when the store has
 * doubled since the last one, so programs that capture a new graph each step stay bounded.
 */
struct knode_vals {
	CUgraphNode node;
	uint32_t bytes, nparams;
	void **ptrs;                /* nparams pointers into vals */
	unsigned char *vals;
	struct knode_vals *next;
};

#define KV_BUCKETS 4096u          /* nodes hashed by handle; chains stay short for graphs of thousands */
static pthread_mutex_t kv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct knode_vals *kv_bucket[KV_BUCKETS];
static unsigned kv_count, kv_sweep_at = 256;

static struct knode_vals **kv_chain(CUgraphNode node)
{
	uint64_t x = (uint64_t)(uintptr_t)node;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return &kv_bucket[x & (KV_BUCKETS - 1)];
}

/* Under kv_lock: the link that points at node's entry (or the chain's end). */
static struct knode_vals **kv_find(CUgraphNode node)
{
	struct knode_vals **pp = kv_chain(node);
	while (*pp && (*pp)->node != node)
		pp = &(*pp)->next;
	return pp;
}

static void kv_free(struct knode_vals *v)
{
	free(v->ptrs);
	free(v->vals);
	free(v);
}

/* Under kv_lock. Forgets the nodes that no longer exist. */
static void kv_sweep(void)
{
	for (unsigned b = 0; b < KV_BUCKETS; b++)
		for (struct knode_vals **pp = &kv_bucket[b]; *pp;) {
			CUgraphNodeType t;
			struct knode_vals *v = *pp;
			if (cuGraphNodeGetType(v->node, &t) == CUDA_SUCCESS) {
				pp = &v->next;
				continue;
			}
			*pp = v->next;
			kv_free(v);
			kv_count--;
		}
	kv_sweep_at = kv_count * 2 > 256 ? kv_count * 2 : 256;
}

/* The node's stored values for these bytes and layout: the earlier ones when equal. */
static CUresult kv_store(CUgraphNode node, const unsigned char *bytes, uint32_t n, const struct vgpu_kernel_info *ki,
			 void ***ptrs /* out */)
{
	struct knode_vals *v, **pp;
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&kv_lock);
	pp = kv_find(node);
	v = *pp;
	if (v && v->bytes == n && v->nparams == ki->nparams && !memcmp(v->vals, bytes, n)) {
		*ptrs = v->ptrs;
		goto out;
	}
	if (v) {                        /* changed: its earlier pointers end here, as the driver's do */
		*pp = v->next;
		kv_free(v);
		kv_count--;
	}
	if (kv_count >= kv_sweep_at)
		kv_sweep();
	v = calloc(1, sizeof(*v));
	if (!v || !(v->vals = malloc(n ? n : 1)) || !(v->ptrs = calloc(ki->nparams ? ki->nparams : 1, sizeof(void *)))) {
		if (v)
			kv_free(v);
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	memcpy(v->vals, bytes, n);
	v->node = node;
	v->bytes = n;
	v->nparams = ki->nparams;
	for (uint32_t i = 0; i < ki->nparams; i++)
		v->ptrs[i] = v->vals + ki->params[i].offset;
	pp = kv_chain(node);
	v->next = *pp;
	*pp = v;
	kv_count++;
	*ptrs = v->ptrs;
out:
	pthread_mutex_unlock(&kv_lock);
	return r;
}

/* How many parameter bytes to ask a node's read for: as many as its last read had, else as
 * many as most kernels take (a larger node is asked again for exactly its size). */
static uint32_t kv_bytes(CUgraphNode node)
{
	pthread_mutex_lock(&kv_lock);
	struct knode_vals *v = *kv_find(node);
	uint32_t n = v ? v->bytes : 256;
	pthread_mutex_unlock(&kv_lock);
	return n;
}

CUresult CUDAAPI cuGraphKernelNodeGetParams_v2(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
	uint64_t fid = 0;
	struct vgpu_knode_shape sh;
	struct vgpu_kernel_info ki;
	uint32_t cap = kv_bytes(hNode);
	unsigned char *buf = NULL;
	void **ptrs = NULL;
	CUresult r;

	if (!nodeParams)
		return CUDA_ERROR_INVALID_VALUE;
	for (int round = 0; round < 2; round++) {
		unsigned char *nb = realloc(buf, cap ? cap : 1);
		if (!nb) {
			free(buf);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		buf = nb;
		void *argv[VGPU_KGW_NARGS] = { [VGPU_KGW_NODE] = &hNode, [VGPU_KGW_FUNC] = &(uint64_t *){ &fid },
					       [VGPU_KGW_SHAPE] = &(struct vgpu_knode_shape *){ &sh },
					       [VGPU_KGW_PARAMS] = &buf, [VGPU_KGW_CAP] = &cap };
		memset(&sh, 0, sizeof(sh));
		if ((r = vgpu_client_call(&desc_knode_get, argv)) != CUDA_SUCCESS)
			goto out;
		if (sh.param_bytes <= cap)
			break;
		if (round || sh.param_bytes > VGPU_KPARAM_MAX) {
			r = CUDA_ERROR_INVALID_VALUE;
			goto out;
		}
		cap = sh.param_bytes;       /* more than asked for: ask again for all of them */
	}
	CUfunction f = (CUfunction)(uintptr_t)fid;
	if (vgpu_kernels_lookup(f, &ki) != 0) {
		vgpu_client_log(0, "cuGraphKernelNodeGetParams: parameter layout of the node's kernel is unknown (its "
				"module image could not be parsed)");
		r = CUDA_ERROR_NOT_SUPPORTED;
		goto out;
	}
	for (uint32_t i = 0; i < ki.nparams; i++)
		if ((uint64_t)ki.params[i].offset + ki.params[i].size > sh.param_bytes) {
			r = CUDA_ERROR_INVALID_VALUE;   /* the worker's layout and the image's disagree */
			goto out;
		}
	if ((r = kv_store(hNode, buf, sh.param_bytes, &ki, &ptrs)) != CUDA_SUCCESS)
		goto out;
	memset(nodeParams, 0, sizeof(*nodeParams));
	nodeParams->func = f;
	nodeParams->gridDimX = sh.grid[0], nodeParams->gridDimY = sh.grid[1], nodeParams->gridDimZ = sh.grid[2];
	nodeParams->blockDimX = sh.block[0], nodeParams->blockDimY = sh.block[1], nodeParams->blockDimZ = sh.block[2];
	nodeParams->sharedMemBytes = sh.shmem;
	nodeParams->kernelParams = ptrs;
	nodeParams->kern = vgpu_library_kernel_of(f);   /* a CUkernel's launch names it too */
	if (vgpu_drv.ctx_get_current(&nodeParams->ctx) != CUDA_SUCCESS)
		nodeParams->ctx = NULL;
out:
	free(buf);
	return r;
}

static CUresult knode_set(const struct vgpu_call_desc *d, CUgraphExec exec, CUgraphNode node,
			  const CUDA_KERNEL_NODE_PARAMS *p)
{
	unsigned char buf[VGPU_KPARAM_MAX];
	uint32_t layout[2 * 256];
	uint32_t *lay;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	struct launch l = { .f = p->func ? p->func : (CUfunction)p->kern, .grid = { p->gridDimX, p->gridDimY, p->gridDimZ },
			    .block = { p->blockDimX, p->blockDimY, p->blockDimZ }, .shmem = p->sharedMemBytes };
	CUresult r = pack_params(d->name, &l, p->kernelParams, p->extra, buf, layout, &lay);
	if (r == CUDA_SUCCESS) {
		void *argv[VGPU_KSW_NARGS] = {
			[VGPU_KSW_EXEC] = &exec, [VGPU_KSW_NODE] = &node, [VGPU_KSW_F] = &l.f,
			[VGPU_KSW_GX] = &l.grid[0], [VGPU_KSW_GY] = &l.grid[1], [VGPU_KSW_GZ] = &l.grid[2],
			[VGPU_KSW_BX] = &l.block[0], [VGPU_KSW_BY] = &l.block[1], [VGPU_KSW_BZ] = &l.block[2],
			[VGPU_KSW_SHMEM] = &l.shmem, [VGPU_KSW_PARAMS] = &l.params, [VGPU_KSW_PARAM_BYTES] = &l.param_bytes,
			[VGPU_KSW_LAYOUT] = &l.layout, [VGPU_KSW_NPARAMS] = &l.nparams,
		};
		r = vgpu_client_call(d, argv);
	}
	if (lay != layout)
		free(lay);
	return r;
}

CUresult CUDAAPI cuGraphKernelNodeSetParams_v2(CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
	return knode_set(&desc_knode_set, NULL, hNode, nodeParams);
}

CUresult CUDAAPI cuGraphExecKernelNodeSetParams_v2(CUgraphExec hGraphExec, CUgraphNode hNode,
						   const CUDA_KERNEL_NODE_PARAMS *nodeParams)
{
	return knode_set(&desc_exec_knode_set, hGraphExec, hNode, nodeParams);
}
