/* SPDX-License-Identifier: MIT */
/*
 * Green contexts (CUDA 12.4+): a device's multiprocessors as a resource, split into groups,
 * made into descriptors, and green contexts over them (docs/SIM.md, "Green contexts").
 *
 * A resource names its multiprocessors by a mask kept in the struct's internal padding, with
 * where it came from, the split that made it, and a tag (a keyed hash of all of it and of the
 * public fields) so that a resource the simulator did not make, or one changed since, is
 * refused as an input. A green context is a context of its own (driver.c makes it) whose
 * memory, modules and other objects are its primary context's (sim_ctx_res); its records and
 * waits of cuGreenCtxRecordEvent and cuGreenCtxWaitEvent go through a stream of its own,
 * "order", that no program sees.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAGIC_GREEN = 0x47524e43, MAGIC_GREEN_DEAD = 0x47524e30, MAGIC_GREEN_BUSY = 0x47524e31,
       MAGIC_DESC = 0x44455343, RES_MAGIC = 0x53524553 };

/* where a resource came from: what may be split (the first three) and what may not */
enum { RES_DEVICE = 1, RES_CTX, RES_GREEN, RES_GROUP, RES_REMAINDER };

struct res_internal {
	uint32_t magic;          /* RES_MAGIC */
	uint32_t origin;         /* RES_* */
	int32_t dev;
	uint32_t zero;
	uint64_t mask;           /* its multiprocessors: bit i is SM i */
	uint64_t split;          /* the split call that made it (0: none) */
	uint64_t tag;            /* res_tag of the rest */
};
_Static_assert(sizeof(struct res_internal) <= sizeof(((CUdevResource *)0)->_internal_padding),
	       "the simulator's part of a resource fits its internal padding");
_Static_assert(SIM_SM_COUNT <= 64, "a mask holds every multiprocessor");

struct sim_green {
	uint32_t magic;
	struct sim_green *next;      /* every green context made, live or not, under lock */
	struct sim_ctx *ctx;         /* its CUcontext */
	int dev;
	uint64_t mask;
	struct sim_stream *order;    /* runs its event records and waits */
	uint64_t gate;               /* order's operation its work waits for (cuGreenCtxWaitEvent) */
};

struct sim_desc {
	uint32_t magic;
	struct sim_desc *next;       /* every descriptor, under lock (the API has no destroy) */
	int dev;
	uint64_t mask;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_green *greens;
static struct sim_desc *descs;
static uint64_t splits;          /* split calls so far, under lock */
static uint64_t key;             /* the tags' key, chosen at the first use */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void key_init(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	key = mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid() ^
		  (uint64_t)(uintptr_t)&ts);
}

static uint64_t res_tag(const CUdevResource *r, const struct res_internal *in)
{
	pthread_once(&key_once, key_init);
	uint64_t h = mix(key ^ in->magic);
	h = mix(h ^ ((uint64_t)in->origin << 32 | (uint32_t)in->dev));
	h = mix(h ^ in->mask);
	h = mix(h ^ in->split);
	h = mix(h ^ ((uint64_t)r->sm.smCount << 32 | r->sm.minSmPartitionSize));
	return mix(h ^ r->sm.smCoscheduledAlignment ^ (uint64_t)r->type << 32);
}

static uint64_t device_mask(void)
{
	return SIM_SM_COUNT == 64 ? ~0ull : (1ull << SIM_SM_COUNT) - 1;
}

/*
 * The smallest group and the granularity of groups, as cuda.h's guideline has them for the
 * device's capability: 2 and 2 before 8.0, 4 and 2 on 8.x, 8 and 8 from 9.0. Ignoring
 * co-scheduling treats each multiprocessor on its own: 1 and 1.
 */
static void sm_limits(unsigned flags, unsigned *min, unsigned *align)
{
	if (flags & CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING)
		*min = 1, *align = 1;
	else if (g_cc.major >= 9)
		*min = 8, *align = 8;
	else if (g_cc.major == 8)
		*min = 4, *align = 2;
	else
		*min = 2, *align = 2;
}

static void res_fill(CUdevResource *r, unsigned origin, int dev, uint64_t mask, uint64_t split, unsigned min,
		     unsigned align)
{
	memset(r, 0, sizeof(*r));
	if (!mask)
		return;              /* none left: CU_DEV_RESOURCE_TYPE_INVALID */
	r->type = CU_DEV_RESOURCE_TYPE_SM;
	r->sm.smCount = (unsigned)__builtin_popcountll(mask);
	r->sm.minSmPartitionSize = min;
	r->sm.smCoscheduledAlignment = align;
	struct res_internal in = { .magic = RES_MAGIC, .origin = origin, .dev = dev, .mask = mask, .split = split };
	in.tag = res_tag(r, &in);
	memcpy(r->_internal_padding, &in, sizeof(in));
}

/* An input resource: one the simulator made, unchanged since. */
static CUresult res_check(const CUdevResource *r, struct res_internal *out)
{
	if (!r)
		return CUDA_ERROR_INVALID_VALUE;
	if (r->type != CU_DEV_RESOURCE_TYPE_SM)
		return CUDA_ERROR_INVALID_RESOURCE_TYPE;
	memcpy(out, r->_internal_padding, sizeof(*out));
	if (out->magic != RES_MAGIC || out->tag != res_tag(r, out) || out->dev < 0 || out->dev >= g_ndev ||
	    !out->mask || (out->mask & ~device_mask()) ||
	    (unsigned)__builtin_popcountll(out->mask) != r->sm.smCount)
		return CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION;
	return CUDA_SUCCESS;
}

static void res_device(CUdevResource *r, unsigned origin, int dev, uint64_t mask)
{
	unsigned min, align;
	sm_limits(0, &min, &align);
	res_fill(r, origin, dev, mask, 0, min, align);
}

/* A live green context, or NULL with *rc: CONTEXT_IS_DESTROYED for a destroyed one's handle,
 * INVALID_CONTEXT for anything else (looked up before it is read: a forged one is refused). */
static struct sim_green *green_get(CUgreenCtx h, CUresult *rc)
{
	if (!g_inited) {
		*rc = CUDA_ERROR_NOT_INITIALIZED;
		return NULL;
	}
	pthread_mutex_lock(&lock);
	struct sim_green *g = greens;
	while (g && g != (struct sim_green *)h)
		g = g->next;
	*rc = !g ? CUDA_ERROR_INVALID_CONTEXT : g->magic != MAGIC_GREEN ? CUDA_ERROR_CONTEXT_IS_DESTROYED : CUDA_SUCCESS;
	pthread_mutex_unlock(&lock);
	return *rc ? NULL : g;
}

static struct sim_event *event_get(CUevent h)
{
	struct sim_event *e = (struct sim_event *)h;
	return e && e->magic == MAGIC_EVENT ? e : NULL;
}

int sim_ctx_sm_count(const struct sim_ctx *c)
{
	return c->green ? __builtin_popcountll(c->green->mask) : SIM_SM_COUNT;
}

/* ---- resources ---- */

CUresult cuDeviceGetDevResource(CUdevice dev, CUdevResource *resource, CUdevResourceType type)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!resource)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev < 0 || dev >= g_ndev)
		return CUDA_ERROR_INVALID_DEVICE;
	if (type != CU_DEV_RESOURCE_TYPE_SM)
		return CUDA_ERROR_INVALID_RESOURCE_TYPE;
	res_device(resource, RES_DEVICE, dev, device_mask());
	return CUDA_SUCCESS;
}

CUresult cuCtxGetDevResource(CUcontext ctx, CUdevResource *resource, CUdevResourceType type)
{
	CUresult rc;
	struct sim_ctx *c = (struct sim_ctx *)ctx;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!c && !(c = sim_ctx_current(&rc)))
		return rc;
	if (!sim_ctx_valid(c))
		return c->magic == MAGIC_CTX_IDLE ? CUDA_ERROR_CONTEXT_IS_DESTROYED : CUDA_ERROR_INVALID_CONTEXT;
	if (!resource)
		return CUDA_ERROR_INVALID_VALUE;
	if (type != CU_DEV_RESOURCE_TYPE_SM)
		return CUDA_ERROR_INVALID_RESOURCE_TYPE;
	if (c->green)
		res_device(resource, RES_GREEN, c->dev, c->green->mask);
	else
		res_device(resource, RES_CTX, c->dev, device_mask());
	return CUDA_SUCCESS;
}

CUresult cuGreenCtxGetDevResource(CUgreenCtx h, CUdevResource *resource, CUdevResourceType type)
{
	CUresult rc;
	struct sim_green *g = green_get(h, &rc);
	if (!g)
		return rc;
	if (!resource)
		return CUDA_ERROR_INVALID_VALUE;
	if (type != CU_DEV_RESOURCE_TYPE_SM)
		return CUDA_ERROR_INVALID_RESOURCE_TYPE;
	res_device(resource, RES_GREEN, g->dev, g->mask);
	return CUDA_SUCCESS;
}

/*
 * Groups of minCount multiprocessors (at least the smallest group, rounded up to the
 * granularity), taken from the input's in ascending order; what is left is the remainder.
 * Only what cuDeviceGetDevResource, cuCtxGetDevResource and cuGreenCtxGetDevResource gave is
 * split: a split's outputs are not, as cuda.h says.
 */
CUresult cuDevSmResourceSplitByCount(CUdevResource *result, unsigned int *nbGroups, const CUdevResource *input,
				     CUdevResource *remaining, unsigned int useFlags, unsigned int minCount)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!nbGroups || (result && !*nbGroups))
		return CUDA_ERROR_INVALID_VALUE;
	struct res_internal in;
	CUresult rc = res_check(input, &in);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (in.origin != RES_DEVICE && in.origin != RES_CTX && in.origin != RES_GREEN)
		return CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION;
	const unsigned known = CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING |
			       CU_DEV_SM_RESOURCE_SPLIT_MAX_POTENTIAL_CLUSTER_SIZE;
	if ((useFlags & ~known) || ((useFlags & CU_DEV_SM_RESOURCE_SPLIT_MAX_POTENTIAL_CLUSTER_SIZE) && g_cc.major < 9))
		return CUDA_ERROR_INVALID_VALUE;
	unsigned n = input->sm.smCount;
	if (minCount > n)
		return CUDA_ERROR_INVALID_VALUE;
	unsigned min, align;
	sm_limits(useFlags, &min, &align);
	/* (clusters of up to 8 blocks fit any group of 8 from 9.0 already: that flag changes nothing) */
	unsigned size = minCount > min ? minCount : min;
	size = (size + align - 1) / align * align;
	unsigned most = size <= n ? n / size : 0;
	if (!most)
		return CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION;   /* not one group fits */
	if (!result) {
		*nbGroups = most;
		return CUDA_SUCCESS;
	}
	unsigned count = *nbGroups < most ? *nbGroups : most;
	pthread_mutex_lock(&lock);
	uint64_t split = ++splits;
	pthread_mutex_unlock(&lock);
	uint64_t left = in.mask;
	for (unsigned i = 0; i < count; i++) {
		uint64_t group = 0;
		for (unsigned k = 0; k < size; k++) {
			uint64_t low = left & -left;
			group |= low;
			left &= ~low;
		}
		res_fill(&result[i], RES_GROUP, in.dev, group, split, min, align);
	}
	if (remaining) {
		unsigned rest = (unsigned)__builtin_popcountll(left);
		res_fill(remaining, RES_REMAINDER, in.dev, left, split, min, rest % align ? 1 : align);
	}
	*nbGroups = count;
	return CUDA_SUCCESS;
}

CUresult cuDevResourceGenerateDesc(CUdevResourceDesc *phDesc, CUdevResource *resources, unsigned int nbResources)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!phDesc || !resources || !nbResources)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t mask = 0;
	struct res_internal first;
	for (unsigned i = 0; i < nbResources; i++) {
		struct res_internal in;
		CUresult rc = res_check(&resources[i], &in);
		if (rc != CUDA_SUCCESS)
			return rc;
		if (!i)
			first = in;
		/* several: of one device, from one split call, each multiprocessor once */
		if (nbResources > 1 && (in.dev != first.dev || !in.split || in.split != first.split))
			return CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION;
		if (mask & in.mask)
			return CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION;
		mask |= in.mask;
	}
	struct sim_desc *d = calloc(1, sizeof(*d));
	if (!d)
		return CUDA_ERROR_OUT_OF_MEMORY;
	d->magic = MAGIC_DESC;
	d->dev = first.dev;
	d->mask = mask;
	pthread_mutex_lock(&lock);
	d->next = descs;
	descs = d;
	pthread_mutex_unlock(&lock);
	*phDesc = (CUdevResourceDesc)d;
	return CUDA_SUCCESS;
}

/* ---- green contexts ---- */

CUresult cuGreenCtxCreate(CUgreenCtx *phCtx, CUdevResourceDesc desc, CUdevice dev, unsigned int flags)
{
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!phCtx)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev < 0 || dev >= g_ndev)
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_mutex_lock(&lock);
	const struct sim_desc *d = descs;
	while (d && d != (const struct sim_desc *)desc)
		d = d->next;
	pthread_mutex_unlock(&lock);
	if (!d || d->magic != MAGIC_DESC || d->dev != dev || flags != CU_GREEN_CTX_DEFAULT_STREAM)
		return CUDA_ERROR_INVALID_VALUE;
	CUcontext primary;
	CUresult rc = cuDevicePrimaryCtxRetain(&primary, dev);
	if (rc != CUDA_SUCCESS)
		return rc;
	struct sim_ctx *c = sim_ctx_new_green(dev, (struct sim_ctx *)primary);
	struct sim_stream *order = c ? sim_stream_new(c, CU_STREAM_NON_BLOCKING, 0) : NULL;
	/* a destroyed green context's storage is reused: its handle stays one the lookup knows */
	pthread_mutex_lock(&lock);
	struct sim_green *g = greens;
	while (g && g->magic != MAGIC_GREEN_DEAD)
		g = g->next;
	if (!g && (g = calloc(1, sizeof(*g)))) {
		g->next = greens;
		greens = g;
	}
	if (g)
		g->magic = MAGIC_GREEN_BUSY;   /* taken: neither live nor free */
	pthread_mutex_unlock(&lock);
	if (!g || !order) {
		if (order)
			sim_stream_destroy(order);
		if (c)
			sim_ctx_end_green(c);
		if (g) {
			pthread_mutex_lock(&lock);
			g->magic = MAGIC_GREEN_DEAD;
			pthread_mutex_unlock(&lock);
		}
		cuDevicePrimaryCtxRelease(dev);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	g->ctx = c;
	g->dev = dev;
	g->mask = d->mask;
	g->order = order;
	g->gate = 0;
	c->green = g;
	pthread_mutex_lock(&lock);
	g->magic = MAGIC_GREEN;
	pthread_mutex_unlock(&lock);
	*phCtx = (CUgreenCtx)g;
	return CUDA_SUCCESS;
}

/* Its work is finished first, as the driver's destruction of a context waits for it; its
 * streams go with it (the driver leaves them, answering CUDA_ERROR_CONTEXT_IS_DESTROYED). */
CUresult cuGreenCtxDestroy(CUgreenCtx hCtx)
{
	CUresult rc;
	struct sim_green *g = green_get(hCtx, &rc);
	if (!g)
		return rc;
	pthread_mutex_lock(&lock);
	int mine = g->magic == MAGIC_GREEN;   /* (two threads destroying it: one does) */
	g->magic = MAGIC_GREEN_BUSY;          /* neither live nor reusable until it is gone */
	pthread_mutex_unlock(&lock);
	if (!mine)
		return CUDA_ERROR_CONTEXT_IS_DESTROYED;
	int dev = g->dev;
	sim_stream_destroy(g->order);         /* (its records wait for the context's streams) */
	sim_ctx_end_green(g->ctx);
	pthread_mutex_lock(&lock);
	g->ctx = NULL;
	g->order = NULL;
	g->magic = MAGIC_GREEN_DEAD;
	pthread_mutex_unlock(&lock);
	cuDevicePrimaryCtxRelease(dev);
	return CUDA_SUCCESS;
}

CUresult cuCtxFromGreenCtx(CUcontext *pContext, CUgreenCtx hCtx)
{
	CUresult rc;
	struct sim_green *g = green_get(hCtx, &rc);
	if (!g)
		return rc;
	if (!pContext)
		return CUDA_ERROR_INVALID_VALUE;
	*pContext = (CUcontext)g->ctx;
	return CUDA_SUCCESS;
}

CUresult cuGreenCtxGetId(CUgreenCtx greenCtx, unsigned long long *greenCtxId)
{
	CUresult rc;
	struct sim_green *g;
	if (!greenCtx) {
		/* the current context's, when that is a green context's */
		struct sim_ctx *c = sim_ctx_current(&rc);
		if (!c)
			return rc;
		if (!c->green)
			return CUDA_ERROR_INVALID_CONTEXT;
		g = c->green;
	} else if (!(g = green_get(greenCtx, &rc))) {
		return rc;
	}
	if (!greenCtxId)
		return CUDA_ERROR_INVALID_VALUE;
	*greenCtxId = g->ctx->id;
	return CUDA_SUCCESS;
}

CUresult cuGreenCtxStreamCreate(CUstream *phStream, CUgreenCtx greenCtx, unsigned int flags, int priority)
{
	CUresult rc;
	struct sim_green *g = green_get(greenCtx, &rc);
	if (!g)
		return rc;
	if (!phStream || flags != CU_STREAM_NON_BLOCKING)
		return CUDA_ERROR_INVALID_VALUE;
	return sim_stream_create(g->ctx, flags, priority, phStream);
}

CUresult cuStreamGetGreenCtx(CUstream hStream, CUgreenCtx *phCtx)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!phCtx)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_ctx *c;
	if (!hStream || hStream == CU_STREAM_LEGACY || hStream == CU_STREAM_PER_THREAD) {
		if (!(c = sim_ctx_current(&rc)))
			return rc;
	} else {
		const struct sim_stream *s = (const struct sim_stream *)hStream;
		if (s->magic != MAGIC_STREAM)
			return CUDA_ERROR_INVALID_HANDLE;
		c = s->ctx;
	}
	*phCtx = (CUgreenCtx)c->green;
	return CUDA_SUCCESS;
}

/* g_lock held: the green context's streams (its NULL stream first, if it has one) into v (at
 * most cap); how many it has. */
static size_t ctx_streams(struct sim_ctx *c, struct sim_stream **v, size_t cap)
{
	size_t n = 0;
	if (c->null_stream && n++ < cap)
		v[n - 1] = c->null_stream;
	for (struct sim_stream *s = c->streams; s; s = s->next)
		if (n++ < cap)
			v[n - 1] = s;
	return n;
}

/* g_lock held: 1 when a stream of c is capturing, whose captures are then ended in error (as
 * the driver's green event calls do: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED). */
static int ctx_capturing(struct sim_ctx *c)
{
	int any = 0;
	if (c->null_stream && c->null_stream->capture) {
		sim_graph_capture_invalidate(c->null_stream);
		any = 1;
	}
	for (struct sim_stream *s = c->streams; s; s = s->next)
		if (s->capture) {
			sim_graph_capture_invalidate(s);
			any = 1;
		}
	return any;
}

/* A wait of the green context's streams: its dependencies on what they hold now (g_lock held). */
static struct sim_op *join_op(struct sim_ctx *c)
{
	struct sim_op *op = sim_op_new(OP_WAITONLY);
	if (!op)
		return NULL;
	size_t n = ctx_streams(c, NULL, 0);
	struct sim_stream **v = malloc((n ? n : 1) * sizeof(*v));
	op->deps = malloc((n ? n : 1) * sizeof(*op->deps));
	if (!v || !op->deps) {
		free(v);
		sim_op_free(op);
		return NULL;
	}
	ctx_streams(c, v, n);
	for (size_t i = 0; i < n; i++)
		if (v[i]->done_seq < v[i]->enq_seq)
			op->deps[op->ndeps++] = (struct sim_dep){ v[i], v[i]->enq_seq };
	free(v);
	return op;
}

/* An event that completes once the work every stream of the green context holds now is done:
 * recorded on its order stream behind a wait for all of them. */
CUresult cuGreenCtxRecordEvent(CUgreenCtx hCtx, CUevent hEvent)
{
	CUresult rc;
	struct sim_green *g = green_get(hCtx, &rc);
	if (!g)
		return rc;
	struct sim_event *e = event_get(hEvent);
	if (!e || sim_ctx_res(e->ctx) != g->ctx->res)
		return CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_lock(&g_lock);
	if (ctx_capturing(g->ctx)) {
		pthread_mutex_unlock(&g_lock);
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	}
	struct sim_op *op = join_op(g->ctx);
	pthread_mutex_unlock(&g_lock);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	sim_stream_enqueue(g->order, op);
	return cuEventRecord(hEvent, (CUstream)g->order);
}

/* g_lock not held: s waits for its green context's gate (order's operation) when not done. */
static CUresult gate_wait(struct sim_green *g, struct sim_stream *s, uint64_t gate)
{
	struct sim_op *op = sim_op_new(OP_WAITONLY);
	if (!op || !(op->deps = malloc(sizeof(*op->deps)))) {
		free(op);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	op->deps[0] = (struct sim_dep){ g->order, gate };
	op->ndeps = 1;
	sim_stream_enqueue(s, op);
	return CUDA_SUCCESS;
}

/* All work the green context is given from now on waits for the event: its order stream waits
 * for it, and every stream of the context (those made later too) waits for that wait. */
CUresult cuGreenCtxWaitEvent(CUgreenCtx hCtx, CUevent hEvent)
{
	CUresult rc;
	struct sim_green *g = green_get(hCtx, &rc);
	if (!g)
		return rc;
	struct sim_event *e = event_get(hEvent);
	if (!e)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!sim_stream_get(g->ctx, NULL, &rc))     /* its NULL stream waits too */
		return rc;
	pthread_mutex_lock(&g_lock);
	int capturing = ctx_capturing(g->ctx);
	if (e->capture) {
		capturing = 1;
		for (struct sim_stream *s = sim_streams_all(); s; s = s->gnext)
			if (s->capture == e->capture) {
				sim_graph_capture_invalidate(s);
				break;
			}
	}
	pthread_mutex_unlock(&g_lock);
	if (capturing)
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	if ((rc = cuStreamWaitEvent((CUstream)g->order, hEvent, 0)) != CUDA_SUCCESS)
		return rc;
	pthread_mutex_lock(&g_lock);
	uint64_t gate = g->gate = g->order->enq_seq;
	size_t n = ctx_streams(g->ctx, NULL, 0);
	struct sim_stream **v = malloc((n ? n : 1) * sizeof(*v));
	if (v)
		ctx_streams(g->ctx, v, n);
	pthread_mutex_unlock(&g_lock);
	if (!v)
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (size_t i = 0; i < n && rc == CUDA_SUCCESS; i++)
		rc = gate_wait(g, v[i], gate);
	free(v);
	return rc;
}

void sim_green_stream_added(struct sim_ctx *c, struct sim_stream *s)
{
	struct sim_green *g = c->green;
	pthread_mutex_lock(&g_lock);
	uint64_t gate = g->gate;
	int pending = g->order->done_seq < gate;
	pthread_mutex_unlock(&g_lock);
	if (pending && gate_wait(g, s, gate) != CUDA_SUCCESS) {
		/* cannot queue the wait: the stream starts once the gate is passed instead */
		sim_stream_wait(g->order, gate);
	}
}
