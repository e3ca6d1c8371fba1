/* SPDX-License-Identifier: MIT */
/* gcopy.c — copies on pageable host memory captured into graphs: pinned staging plus a host node, run in the zone. */
#include "client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vgpu_ops.h"

/*
 * A graph's copy reads or writes host memory when the graph runs, not when it is made. The
 * driver records the program's host address; through vgpu the worker cannot reach pageable
 * memory of the zone, and an address of its own staging would be stale by then (the proxy
 * refuses such a capture: chanloop.c). So the zone captures the copy as what the worker can
 * run, a child graph of two nodes:
 *
 *   host to device:  host node (program's rows -> staging)  ->  copy (staging -> device)
 *   device to host:  copy (device -> staging)  ->  host node (staging -> program's rows)
 *   host to host:    host node (rows -> rows)
 *
 * The staging is pinned memory shared with the worker, which copy nodes name by the device
 * address kernels reach it at (as captured pinned copies); the host node runs in this process
 * (hostfunc.c) each time the graph runs. One child node stands for the copy, so dependencies
 * added to it later order both halves. The staging lives as long as the graph: a user object
 * that the capture's graph owns (and its clones, child-graph copies and executable graphs
 * with it) marks the staging free when the driver drops its last reference, and a later
 * captured copy reuses it (with the same host-node token: the worker's record is reused too).
 * Staging is kept for reuse until the process ends; small ones are carved from shared slabs.
 */
struct hrect {
	char *base;
	size_t x, y, z, pitch, height;
};

struct stage {
	struct hrect from, to;   /* the host node copies w x h x d bytes from one to the other */
	size_t w, h, d;
	void *buf;               /* pinned, shared with the worker */
	size_t cap;
	int own;                 /* buf is an allocation of its own (else carved from a slab) */
	int live;                /* a graph (or this capture) holds it */
	struct stage *next;
};

#define SLAB_BYTES (64u << 10)
#define SMALL_MAX (16u << 10)   /* stagings up to this are carved from slabs */

static pthread_mutex_t glock = PTHREAD_MUTEX_INITIALIZER;
static __thread int staging;       /* this thread is capturing a staged copy's own nodes */
static struct stage *stages;       /* every staging record made; never freed (tokens name them) */
static char *slab;                 /* the slab being carved */
static size_t slab_used = SLAB_BYTES;

/* A forked child's zone is a new one: the parent's staging is not shared with its worker.
 * (The records stay allocated, unreferenced: the parent's graphs are not the child's.) */
static void gcopy_atfork_child(void)
{
	pthread_mutex_init(&glock, NULL);
	stages = NULL;
	slab = NULL;
	slab_used = SLAB_BYTES;
}

__attribute__((constructor)) static void gcopy_atfork(void)
{
	pthread_atfork(NULL, NULL, gcopy_atfork_child);
}

static char *rect_row(const struct hrect *r, size_t y, size_t z)
{
	return vgpu_host_row(r->base, r->x, r->y, r->z, r->pitch, r->height, y, z);
}

/* The host node: the copy's host half, when the graph runs. */
static void stage_run(void *arg)
{
	const struct stage *s = arg;

	for (size_t z = 0; z < s->d; z++)
		for (size_t y = 0; y < s->h; y++)
			memmove(rect_row(&s->to, y, z), rect_row(&s->from, y, z), s->w);
}

/* The user object's destructor: no graph holds the staging any more. (No CUDA call here.) */
static void stage_release(void *arg)
{
	struct stage *s = arg;

	pthread_mutex_lock(&glock);
	s->live = 0;
	pthread_mutex_unlock(&glock);
}

static size_t round_cap(size_t n)
{
	size_t c = 64;
	while (c < n)
		c <<= 1;
	return c;
}

/* Pinned memory for a staging of cap bytes. Not under glock (it calls the proxy). */
static CUresult stage_alloc(struct stage *s, size_t cap)
{
	CUresult r;
	void *p = NULL;

	if (cap > SMALL_MAX) {
		if ((r = cuMemAllocHost_v2(&p, cap)) != CUDA_SUCCESS)
			return r;
		s->buf = p;
		s->cap = cap;
		s->own = 1;
		return CUDA_SUCCESS;
	}
	pthread_mutex_lock(&glock);
	if (slab_used + cap > SLAB_BYTES) {
		pthread_mutex_unlock(&glock);
		if ((r = cuMemAllocHost_v2(&p, SLAB_BYTES)) != CUDA_SUCCESS)
			return r;
		pthread_mutex_lock(&glock);
		slab = p;   /* (the old slab's tail stays unused: its carved stagings are in use) */
		slab_used = 0;
	}
	s->buf = slab + slab_used;
	slab_used += cap;
	pthread_mutex_unlock(&glock);
	s->cap = cap;
	s->own = 0;
	return CUDA_SUCCESS;
}

/* A staging record of at least `bytes` (0: host to host, none needed), marked live. */
static struct stage *stage_take(size_t bytes, CUresult *err)
{
	struct stage *s, *best = NULL, *any = NULL;

	pthread_mutex_lock(&glock);
	for (s = stages; s; s = s->next) {
		if (s->live)
			continue;
		if (s->cap >= bytes && (!best || s->cap < best->cap))
			best = s;
		if (!any && (s->own || !s->buf))
			any = s;
	}
	s = best ? best : any;
	if (s)
		s->live = 1;
	pthread_mutex_unlock(&glock);
	if (!s) {
		if (!(s = calloc(1, sizeof(*s)))) {
			*err = CUDA_ERROR_OUT_OF_MEMORY;
			return NULL;
		}
		s->live = 1;
		pthread_mutex_lock(&glock);
		s->next = stages;
		stages = s;
		pthread_mutex_unlock(&glock);
	}
	if (s->cap < bytes) {   /* a record whose staging is too small (or none): a new one */
		if (s->own)
			cuMemFreeHost(s->buf);
		s->buf = NULL;
		s->cap = 0;
		if ((*err = stage_alloc(s, round_cap(bytes))) != CUDA_SUCCESS) {
			stage_release(s);
			return NULL;
		}
	}
	return s;
}

/* One side of the copy node: the staging, its rows dense from its start. */
static void staging_side(const struct stage *s, CUmemorytype *type, const void **host, size_t *x, size_t *y, size_t *z,
			 size_t *pitch, size_t *height)
{
	*type = CU_MEMORYTYPE_HOST;
	*host = s->buf;
	*x = *y = *z = 0;
	*pitch = s->w;
	*height = s->h;
}

/* The child graph that does the copy (described by c, whose host side(s) s holds). */
static CUresult child_graph(const CUDA_MEMCPY3D *c, struct stage *s, int htod, int dtoh, CUgraph *out)
{
	CUstream t = NULL;
	CUgraph g = NULL;
	CUresult r, r2;
	CUDA_MEMCPY3D cc = *c;

	if ((r = cuStreamCreate(&t, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS)
		return r;
	if ((r = cuStreamBeginCapture_v2(t, CU_STREAM_CAPTURE_MODE_RELAXED)) == CUDA_SUCCESS) {
		if (htod)
			staging_side(s, &cc.srcMemoryType, &cc.srcHost, &cc.srcXInBytes, &cc.srcY, &cc.srcZ, &cc.srcPitch,
				     &cc.srcHeight);
		if (dtoh)
			staging_side(s, &cc.dstMemoryType, (const void **)&cc.dstHost, &cc.dstXInBytes, &cc.dstY, &cc.dstZ,
				     &cc.dstPitch, &cc.dstHeight);
		if (!dtoh)
			r = cuLaunchHostFunc(t, stage_run, s);
		if (r == CUDA_SUCCESS && (htod || dtoh))
			r = cuMemcpy3DAsync_v2(&cc, t);
		if (r == CUDA_SUCCESS && dtoh)
			r = cuLaunchHostFunc(t, stage_run, s);
		r2 = cuStreamEndCapture(t, &g);
		if (r == CUDA_SUCCESS)
			r = r2;
	}
	cuStreamDestroy_v2(t);
	if (r != CUDA_SUCCESS && g)
		cuGraphDestroy(g);
	*out = r == CUDA_SUCCESS ? g : NULL;
	return r;
}

static CUresult staged(CUstream st, const CUDA_MEMCPY3D *c)
{
	int htod = c->srcMemoryType == CU_MEMORYTYPE_HOST && c->dstMemoryType != CU_MEMORYTYPE_HOST;
	int dtoh = c->dstMemoryType == CU_MEMORYTYPE_HOST && c->srcMemoryType != CU_MEMORYTYPE_HOST;
	size_t w = c->WidthInBytes, h = c->Height ? c->Height : 1, d = c->Depth ? c->Depth : 1, bytes = 0;
	CUstreamCaptureStatus cs = CU_STREAM_CAPTURE_STATUS_NONE;
	const CUgraphNode *frontier = NULL;
	CUgraphNode *deps = NULL, node = NULL;
	CUgraph g = NULL, child = NULL;
	CUuserObject uo = NULL;
	size_t nd = 0;
	CUresult r;

	if ((htod || dtoh) && (__builtin_mul_overflow(w, h, &bytes) || __builtin_mul_overflow(bytes, d, &bytes)))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = cuStreamGetCaptureInfo_v3(st, &cs, NULL, &g, &frontier, NULL, &nd)) != CUDA_SUCCESS)
		return r;
	if (nd && !(deps = malloc(nd * sizeof(*deps))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (nd)
		memcpy(deps, frontier, nd * sizeof(*deps));
	struct stage *s = stage_take(bytes, &r);
	if (!s) {
		free(deps);
		return r;
	}
	if ((htod || dtoh) && !vgpu_hostmem_kernel_reachable(s->buf, bytes)) {
		stage_release(s);
		free(deps);
		return vgpu_client_unsupported("a captured copy on pageable host memory (no pinned memory kernels "
					       "reach for its staging)");
	}
	s->w = w;
	s->h = h;
	s->d = d;
	struct hrect dense = { .base = s->buf, .pitch = w, .height = h };
	s->from = c->srcMemoryType == CU_MEMORYTYPE_HOST
		? (struct hrect){ (char *)(uintptr_t)c->srcHost, c->srcXInBytes, c->srcY, c->srcZ, c->srcPitch, c->srcHeight }
		: dense;
	s->to = c->dstMemoryType == CU_MEMORYTYPE_HOST
		? (struct hrect){ c->dstHost, c->dstXInBytes, c->dstY, c->dstZ, c->dstPitch, c->dstHeight }
		: dense;
	if ((r = child_graph(c, s, htod, dtoh, &child)) != CUDA_SUCCESS) {
		stage_release(s);
		free(deps);
		return r;
	}
	/* from here the staging's life is the capture's graph's */
	r = cuUserObjectCreate(&uo, s, stage_release, 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC);
	if (r != CUDA_SUCCESS)
		stage_release(s);
	else if ((r = cuGraphRetainUserObject(g, uo, 1, CU_GRAPH_USER_OBJECT_MOVE)) != CUDA_SUCCESS)
		cuUserObjectRelease(uo, 1);
	if (r == CUDA_SUCCESS)
		r = cuGraphAddChildGraphNode(&node, g, deps, nd, child);
	cuGraphDestroy(child);
	free(deps);
	if (r == CUDA_SUCCESS)
		r = cuStreamUpdateCaptureDependencies_v2(st, &node, NULL, 1, CU_STREAM_SET_CAPTURE_DEPENDENCIES);
	vgpu_client_log(2, "captured a %s copy of %zu x %zu x %zu bytes on pageable memory through staging %p: %d",
			htod ? "host-to-device" : dtoh ? "device-to-host" : "host-to-host", w, h, d, s->buf, (int)r);
	return r;
}

int vgpu_gcopy_captured(CUstream st, int ptsz, const CUDA_MEMCPY3D *c, CUresult *res)
{
	CUstreamCaptureStatus cs = CU_STREAM_CAPTURE_STATUS_NONE;
	CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;

	if (staging || !vgpu_client_captures_open() || (!ptsz && !st) || st == CU_STREAM_LEGACY)
		return 0;   /* (the legacy stream is never captured) */
	if (ptsz && !st)
		st = CU_STREAM_PER_THREAD;
	if (cuStreamIsCapturing(st, &cs) != CUDA_SUCCESS || cs == CU_STREAM_CAPTURE_STATUS_NONE)
		return 0;
	if (cs != CU_STREAM_CAPTURE_STATUS_ACTIVE) {
		*res = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
		return 1;
	}
	/* this thread's calls below are not the program's: none may disturb a capture */
	if ((*res = cuThreadExchangeStreamCaptureMode(&mode)) != CUDA_SUCCESS)
		return 1;
	staging = 1;
	*res = staged(st, c);
	staging = 0;
	cuThreadExchangeStreamCaptureMode(&mode);
	return 1;
}

int vgpu_gcopy_call(const struct vgpu_call_desc *d, void *const *argv, CUresult *res)
{
	int htod, ptsz;

	switch (d->opcode) {
	case VGPU_OP_cuMemcpyHtoDAsync_v2: htod = 1; ptsz = 0; break;
	case VGPU_OP_cuMemcpyHtoDAsync_v2_ptsz: htod = 1; ptsz = 1; break;
	case VGPU_OP_cuMemcpyDtoHAsync_v2: htod = 0; ptsz = 0; break;
	case VGPU_OP_cuMemcpyDtoHAsync_v2_ptsz: htod = 0; ptsz = 1; break;
	default: return 0;
	}
	if (!vgpu_client_captures_open())
		return 0;
	/* HtoD (dst device, src host, n, stream); DtoH (dst host, src device, n, stream) */
	size_t n = *(const size_t *)argv[2];
	CUDA_MEMCPY3D c;
	memset(&c, 0, sizeof(c));
	c.WidthInBytes = c.srcPitch = c.dstPitch = n;
	c.Height = c.Depth = c.srcHeight = c.dstHeight = 1;
	if (htod) {
		c.srcMemoryType = CU_MEMORYTYPE_HOST;
		c.srcHost = *(const void *const *)argv[1];
		c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
		c.dstDevice = *(const CUdeviceptr *)argv[0];
	} else {
		c.dstMemoryType = CU_MEMORYTYPE_HOST;
		c.dstHost = *(void *const *)argv[0];
		c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
		c.srcDevice = *(const CUdeviceptr *)argv[1];
	}
	if (!n || !(htod ? c.srcHost : c.dstHost))
		return 0;   /* the driver's answer, from the usual path */
	return vgpu_gcopy_captured(*(const CUstream *)argv[3], ptsz, &c, res);
}
