/* SPDX-License-Identifier: MIT */
/* libcudasim green contexts: SM resources and their splits (counts, remainders, granularity,
 * refusals of forged, altered and split-again resources), descriptors, green contexts made,
 * current on threads, running kernels on the primary context's memory and modules, events
 * across green and ordinary streams, cuGreenCtxRecordEvent/WaitEvent, capture refusals, the
 * partition's SM count for cooperative launches, sticky errors, and destruction with work
 * queued and use after it. */
#include "simtest.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

static CUmodule mod;
static CUcontext primary;
static CUdevice dev;

struct gate { pthread_mutex_t m; pthread_cond_t c; int open; };
static struct gate G1 = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
static struct gate G2 = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void gate_wait(void *arg)
{
	struct gate *g = arg;
	pthread_mutex_lock(&g->m);
	while (!g->open)
		pthread_cond_wait(&g->c, &g->m);
	pthread_mutex_unlock(&g->m);
}

static void gate_set(struct gate *g, int open)
{
	pthread_mutex_lock(&g->m);
	g->open = open;
	pthread_cond_broadcast(&g->c);
	pthread_mutex_unlock(&g->m);
}

static void *open_later(void *arg)
{
	usleep(50000);
	gate_set(arg, 1);
	return NULL;
}

enum { N = 4096 };
static float ha[N], hb[N];
static CUdeviceptr da, db, dc, dd;

static void launch_add(CUdeviceptr a, CUdeviceptr b, CUdeviceptr c, CUstream s)
{
	CUfunction f;
	CK(cuModuleGetFunction(&f, mod, "vec_add"));
	int n = N;
	void *args[] = {&a, &b, &c, &n};
	CK(cuLaunchKernel(f, N / 64, 1, 1, 64, 1, 1, 0, s, args, NULL));
}

/* d holds a + b (or, with zero, nothing but zeros) */
static int is_sum(CUdeviceptr d)
{
	static float out[N];
	CK(cuMemcpyDtoH(out, d, sizeof(out)));
	for (int i = 0; i < N; i++)
		if (out[i] != ha[i] + hb[i])
			return 0;
	return 1;
}

/* Polls until the stream has finished (1) or a few seconds passed (0). */
static int finishes(CUstream s)
{
	for (int i = 0; i < 500; i++) {
		CUresult r = cuStreamQuery(s);
		if (r == CUDA_SUCCESS)
			return 1;
		EXPECT(r == CUDA_ERROR_NOT_READY);
		usleep(10000);
	}
	return 0;
}

static void split2(const CUdevResource *in, unsigned min_count, CUdevResource out[2], CUdevResource *rest)
{
	unsigned n = 2;
	CK(cuDevSmResourceSplitByCount(out, &n, in, rest, 0, min_count));
	EXPECT(n == 2);
}

static CUgreenCtx make_green(const CUdevResource *r, unsigned n)
{
	CUdevResourceDesc d;
	CUgreenCtx g;
	CK(cuDevResourceGenerateDesc(&d, (CUdevResource *)r, n));
	CK(cuGreenCtxCreate(&g, d, dev, CU_GREEN_CTX_DEFAULT_STREAM));
	return g;
}

static CUcontext ctx_of(CUgreenCtx g)
{
	CUcontext c;
	CK(cuCtxFromGreenCtx(&c, g));
	return c;
}

/* ---- resources, splits, descriptors ---- */

static void t_resources(void)
{
	int sms, major;
	CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
	CK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
	EXPECT(sms == 8 && major == 7);     /* the values below are the default device's */
	CUdevResource all, r;
	memset(&all, 0xa5, sizeof(all));
	CK(cuDeviceGetDevResource(dev, &all, CU_DEV_RESOURCE_TYPE_SM));
	EXPECT(all.type == CU_DEV_RESOURCE_TYPE_SM && all.sm.smCount == 8);
	EXPECT(all.sm.minSmPartitionSize == 2 && all.sm.smCoscheduledAlignment == 2);
	CK_RC(cuDeviceGetDevResource(dev, &r, CU_DEV_RESOURCE_TYPE_INVALID), CUDA_ERROR_INVALID_RESOURCE_TYPE);
	CK_RC(cuDeviceGetDevResource(dev, &r, (CUdevResourceType)2), CUDA_ERROR_INVALID_RESOURCE_TYPE);
	CK_RC(cuDeviceGetDevResource(7, &r, CU_DEV_RESOURCE_TYPE_SM), CUDA_ERROR_INVALID_DEVICE);
	CK_RC(cuDeviceGetDevResource(dev, NULL, CU_DEV_RESOURCE_TYPE_SM), CUDA_ERROR_INVALID_VALUE);
	CK(cuCtxGetDevResource(primary, &r, CU_DEV_RESOURCE_TYPE_SM));
	EXPECT(r.type == CU_DEV_RESOURCE_TYPE_SM && r.sm.smCount == 8);
	CK(cuCtxGetDevResource(NULL, &r, CU_DEV_RESOURCE_TYPE_SM));     /* the current context's */
	EXPECT(r.sm.smCount == 8);
	CK_RC(cuCtxGetDevResource(primary, &r, (CUdevResourceType)5), CUDA_ERROR_INVALID_RESOURCE_TYPE);

	/* how many groups: minCount rounded up to the granularity, at least the smallest group */
	static const struct { unsigned min_count, flags, groups; } counts[] = {
		{0, 0, 4}, {1, 0, 4}, {2, 0, 4}, {3, 0, 2}, {4, 0, 2}, {5, 0, 1}, {6, 0, 1}, {8, 0, 1},
		{1, CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING, 8},
		{3, CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING, 2},
		{5, CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING, 1},
	};
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		unsigned n = 99;
		CK(cuDevSmResourceSplitByCount(NULL, &n, &all, NULL, counts[i].flags, counts[i].min_count));
		EXPECT(n == counts[i].groups);
	}
	unsigned n = 4;
	CK_RC(cuDevSmResourceSplitByCount(NULL, &n, &all, NULL, 0, 9), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuDevSmResourceSplitByCount(NULL, NULL, &all, NULL, 0, 2), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuDevSmResourceSplitByCount(NULL, &n, &all, NULL, 4, 2), CUDA_ERROR_INVALID_VALUE);
	/* clusters past one SM's blocks are Hopper's */
	CK_RC(cuDevSmResourceSplitByCount(NULL, &n, &all, NULL, CU_DEV_SM_RESOURCE_SPLIT_MAX_POTENTIAL_CLUSTER_SIZE, 2),
	      CUDA_ERROR_INVALID_VALUE);

	/* groups and remainders */
	CUdevResource g[8], rest;
	n = 8;
	memset(&rest, 0xa5, sizeof(rest));
	CK(cuDevSmResourceSplitByCount(g, &n, &all, &rest, 0, 3));
	EXPECT(n == 2 && g[0].type == CU_DEV_RESOURCE_TYPE_SM && g[0].sm.smCount == 4 && g[1].sm.smCount == 4);
	EXPECT(g[0].sm.smCoscheduledAlignment == 2 && g[0].sm.minSmPartitionSize == 2);
	EXPECT(rest.type == CU_DEV_RESOURCE_TYPE_INVALID && rest.sm.smCount == 0);   /* none left */
	n = 8;
	CK(cuDevSmResourceSplitByCount(g, &n, &all, &rest, 0, 5));
	EXPECT(n == 1 && g[0].sm.smCount == 6 && rest.type == CU_DEV_RESOURCE_TYPE_SM && rest.sm.smCount == 2);
	n = 1;    /* fewer groups than fit: the rest is the remainder */
	CK(cuDevSmResourceSplitByCount(g, &n, &all, &rest, 0, 2));
	EXPECT(n == 1 && g[0].sm.smCount == 2 && rest.sm.smCount == 6);
	n = 0;
	CK_RC(cuDevSmResourceSplitByCount(g, &n, &all, &rest, 0, 2), CUDA_ERROR_INVALID_VALUE);
	n = 8;
	CK(cuDevSmResourceSplitByCount(g, &n, &all, &rest, CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING, 3));
	EXPECT(n == 2 && g[0].sm.smCount == 3 && g[1].sm.smCount == 3 && rest.sm.smCount == 2);
	EXPECT(g[0].sm.smCoscheduledAlignment == 1);
	n = 8;
	CK(cuDevSmResourceSplitByCount(g, &n, &all, NULL, 0, 0));    /* remaining may be NULL */
	EXPECT(n == 4 && g[3].sm.smCount == 2);

	/* outputs are not split again; forged and altered resources are refused */
	split2(&all, 4, g, &rest);
	n = 2;
	CK_RC(cuDevSmResourceSplitByCount(NULL, &n, &g[0], NULL, 0, 2), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	CK_RC(cuDevSmResourceSplitByCount(g + 2, &n, &g[1], NULL, 0, 2), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	CUdevResource g6[2], rest2;
	n = 1;
	CK(cuDevSmResourceSplitByCount(g6, &n, &all, &rest2, 0, 6));
	CK_RC(cuDevSmResourceSplitByCount(NULL, &n, &rest2, NULL, 0, 2), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	CUdevResource forged;
	memset(&forged, 0, sizeof(forged));
	forged.type = CU_DEV_RESOURCE_TYPE_SM;
	forged.sm.smCount = 8;
	forged.sm.minSmPartitionSize = 2;
	forged.sm.smCoscheduledAlignment = 2;
	CK_RC(cuDevSmResourceSplitByCount(NULL, &n, &forged, NULL, 0, 2), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	CUdevResourceDesc d;
	CK_RC(cuDevResourceGenerateDesc(&d, &forged, 1), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	CUdevResource altered = g[0];
	altered.sm.smCount = 8;                       /* claims more SMs than it was given */
	CK_RC(cuDevResourceGenerateDesc(&d, &altered, 1), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	altered = all;
	altered._internal_padding[20] ^= 1;           /* the simulator's part changed */
	CK_RC(cuDevSmResourceSplitByCount(NULL, &n, &altered, NULL, 0, 2), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	altered = all;
	altered.type = CU_DEV_RESOURCE_TYPE_INVALID;
	CK_RC(cuDevSmResourceSplitByCount(NULL, &n, &altered, NULL, 0, 2), CUDA_ERROR_INVALID_RESOURCE_TYPE);
	CK(cuDevSmResourceSplitByCount(NULL, &n, &all, NULL, 0, 2));   /* the original still splits */

	/* descriptors: one resource of any kind; several only from one split, disjoint */
	CK(cuDevResourceGenerateDesc(&d, &all, 1));
	CK(cuDevResourceGenerateDesc(&d, g, 2));
	CUdevResource twice[2] = { g[0], g[0] };
	CK_RC(cuDevResourceGenerateDesc(&d, twice, 2), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	CUdevResource mixed[2] = { g[0], g6[0] };      /* two splits' outputs */
	CK_RC(cuDevResourceGenerateDesc(&d, mixed, 2), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	CUdevResource whole[2] = { all, all };
	CK_RC(cuDevResourceGenerateDesc(&d, whole, 2), CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION);
	CUdevResource with_rest[2] = { g6[0], rest2 };
	CK(cuDevResourceGenerateDesc(&d, with_rest, 2));
	CUdevResource empty[2] = { g[0], rest };       /* rest: none left, type INVALID */
	CK_RC(cuDevResourceGenerateDesc(&d, empty, 2), CUDA_ERROR_INVALID_RESOURCE_TYPE);
	CK_RC(cuDevResourceGenerateDesc(&d, g, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuDevResourceGenerateDesc(NULL, g, 1), CUDA_ERROR_INVALID_VALUE);
}

/* ---- creation, identity, current on threads ---- */

struct on_thread { CUcontext c; CUgreenCtx g; int step; pthread_mutex_t m; pthread_cond_t cv; CUresult after; };

static void step_to(struct on_thread *t, int step)
{
	pthread_mutex_lock(&t->m);
	t->step = step;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->m);
}

static void step_wait(struct on_thread *t, int step)
{
	pthread_mutex_lock(&t->m);
	while (t->step < step)
		pthread_cond_wait(&t->cv, &t->m);
	pthread_mutex_unlock(&t->m);
}

/* makes the green context current here, checks what that means, waits until it is destroyed,
 * then uses it once more */
static void *current_elsewhere(void *arg)
{
	struct on_thread *t = arg;
	CUcontext cur;
	CUdevice d = -1;
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == NULL);
	CK(cuCtxSetCurrent(t->c));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == t->c);
	CK(cuCtxGetDevice(&d));
	EXPECT(d == dev);
	CUgreenCtx g = NULL;
	CK(cuStreamGetGreenCtx(NULL, &g));
	EXPECT(g == t->g);
	unsigned long long id, gid;
	CK(cuCtxGetId(NULL, &id));
	CK(cuGreenCtxGetId(NULL, &gid));
	EXPECT(id == gid);
	CK(cuCtxPushCurrent(primary));
	CK(cuStreamGetGreenCtx(NULL, &g));
	EXPECT(g == NULL);
	CK(cuCtxPopCurrent(&cur));
	EXPECT(cur == primary);
	CUdeviceptr p;
	CK(cuMemAlloc(&p, 256));      /* the primary context's memory */
	CK(cuMemFree(p));
	step_to(t, 1);
	step_wait(t, 2);              /* destroyed meanwhile */
	t->after = cuMemAlloc(&p, 256);
	return NULL;
}

static void t_create(void)
{
	CUdevResource all, g[2], rest;
	CK(cuDeviceGetDevResource(dev, &all, CU_DEV_RESOURCE_TYPE_SM));
	split2(&all, 4, g, &rest);
	CUdevResourceDesc d;
	CK(cuDevResourceGenerateDesc(&d, &g[0], 1));
	CUgreenCtx green;
	CK_RC(cuGreenCtxCreate(&green, d, dev, 0), CUDA_ERROR_INVALID_VALUE);   /* DEFAULT_STREAM is required */
	CK_RC(cuGreenCtxCreate(&green, d, dev, CU_GREEN_CTX_DEFAULT_STREAM | 2), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuGreenCtxCreate(&green, NULL, dev, CU_GREEN_CTX_DEFAULT_STREAM), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuGreenCtxCreate(&green, (CUdevResourceDesc)&all, dev, CU_GREEN_CTX_DEFAULT_STREAM),
	      CUDA_ERROR_INVALID_VALUE);                                       /* not a descriptor */
	CK_RC(cuGreenCtxCreate(&green, d, 9, CU_GREEN_CTX_DEFAULT_STREAM), CUDA_ERROR_INVALID_DEVICE);
	CK_RC(cuGreenCtxCreate(NULL, d, dev, CU_GREEN_CTX_DEFAULT_STREAM), CUDA_ERROR_INVALID_VALUE);
	CK(cuGreenCtxCreate(&green, d, dev, CU_GREEN_CTX_DEFAULT_STREAM));
	CUgreenCtx other = make_green(&g[1], 1);

	/* it holds the primary context: the test's own reference can go and come back */
	unsigned flags;
	int active;
	CK(cuDevicePrimaryCtxRelease(dev));
	CK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
	EXPECT(active == 1);
	CUcontext again;
	CK(cuDevicePrimaryCtxRetain(&again, dev));
	EXPECT(again == primary);

	CUcontext c = ctx_of(green), c2;
	CK(cuCtxFromGreenCtx(&c2, green));
	EXPECT(c == c2 && c != primary && c != ctx_of(other));
	CK_RC(cuCtxFromGreenCtx(NULL, green), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuCtxFromGreenCtx(&c2, (CUgreenCtx)&all), CUDA_ERROR_INVALID_CONTEXT);
	CK_RC(cuCtxFromGreenCtx(&c2, NULL), CUDA_ERROR_INVALID_CONTEXT);
	CK_RC(cuCtxDestroy(c), CUDA_ERROR_INVALID_CONTEXT);          /* cuGreenCtxDestroy's */
	unsigned long long id, pid, gid, oid;
	CK(cuCtxGetId(c, &id));
	CK(cuCtxGetId(primary, &pid));
	CK(cuGreenCtxGetId(green, &gid));
	CK(cuGreenCtxGetId(other, &oid));
	EXPECT(id != pid && gid == id && oid != gid);
	CK_RC(cuGreenCtxGetId(NULL, &gid), CUDA_ERROR_INVALID_CONTEXT);  /* the primary is current */
	CK_RC(cuGreenCtxGetId(green, NULL), CUDA_ERROR_INVALID_VALUE);

	CUdevResource r;
	CK(cuCtxGetDevResource(c, &r, CU_DEV_RESOURCE_TYPE_SM));
	EXPECT(r.sm.smCount == 4);
	CK(cuGreenCtxGetDevResource(green, &r, CU_DEV_RESOURCE_TYPE_SM));
	EXPECT(r.sm.smCount == 4 && r.sm.minSmPartitionSize == 2);
	CK_RC(cuGreenCtxGetDevResource(green, &r, CU_DEV_RESOURCE_TYPE_INVALID), CUDA_ERROR_INVALID_RESOURCE_TYPE);
	CK_RC(cuGreenCtxGetDevResource((CUgreenCtx)&all, &r, CU_DEV_RESOURCE_TYPE_SM), CUDA_ERROR_INVALID_CONTEXT);
	unsigned n = 4;                /* a green context's SMs split again */
	CK(cuDevSmResourceSplitByCount(NULL, &n, &r, NULL, 0, 2));
	EXPECT(n == 2);

	/* streams */
	CUstream s, sp;
	CK_RC(cuGreenCtxStreamCreate(&s, green, 0, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuGreenCtxStreamCreate(NULL, green, CU_STREAM_NON_BLOCKING, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuGreenCtxStreamCreate(&s, (CUgreenCtx)&all, CU_STREAM_NON_BLOCKING, 0), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuGreenCtxStreamCreate(&s, green, CU_STREAM_NON_BLOCKING, -9));
	int prio;
	CK(cuStreamGetPriority(s, &prio));
	EXPECT(prio == -5);                      /* clamped */
	CK(cuStreamCreate(&sp, 0));
	CUgreenCtx sg;
	CUcontext sc;
	CK(cuStreamGetGreenCtx(s, &sg));
	EXPECT(sg == green);
	CK(cuStreamGetGreenCtx(sp, &sg));
	EXPECT(sg == NULL);
	CK(cuStreamGetCtx(s, &sc));
	EXPECT(sc == c);
	CK(cuStreamGetCtx_v2(s, &sc, &sg));
	EXPECT(sc == primary && sg == green);
	CK(cuStreamGetCtx_v2(sp, &sc, &sg));
	EXPECT(sc == primary && sg == NULL);
	CK(cuCtxSetCurrent(c));
	CK(cuStreamGetCtx_v2(NULL, &sc, &sg));
	EXPECT(sc == primary && sg == green);
	CK_RC(cuStreamGetCtx_v2(CU_STREAM_PER_THREAD, &sc, &sg), CUDA_ERROR_INVALID_HANDLE);
	CK(cuGreenCtxGetId(NULL, &gid));
	EXPECT(gid == id);

	/* a kernel of the primary context's module on the green stream, over its memory; a copy
	 * made while the green context is current */
	CK(cuMemsetD32(dc, 0, N));
	launch_add(da, db, dc, s);
	CK(cuStreamSynchronize(s));
	CK_RC(cuLaunchKernel(NULL, 1, 1, 1, 1, 1, 1, 0, sp, NULL, NULL), CUDA_ERROR_INVALID_HANDLE);
	/* the primary context's stream takes its green contexts' work, an unrelated context's not */
	CK(cuMemsetD32(dd, 0, N));
	launch_add(da, db, dd, sp);
	CK(cuStreamSynchronize(sp));
	EXPECT(is_sum(dd));
	CUcontext plain;
	CUstream sx;
	CK(cuCtxCreate(&plain, NULL, 0, dev));
	CK(cuStreamCreate(&sx, 0));
	CK(cuCtxSetCurrent(c));
	CUfunction f;
	CK(cuModuleGetFunction(&f, mod, "vec_add"));
	void *args[] = {&da, &db, &dd, &(int){N}};
	CK_RC(cuLaunchKernel(f, N / 64, 1, 1, 64, 1, 1, 0, sx, args, NULL), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuStreamDestroy(sx));
	CK(cuCtxDestroy(plain));
	CK(cuCtxSetCurrent(c));
	/* a module loaded while it is current is its primary context's, and outlives it */
	void *img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CUmodule m2;
	CK(cuModuleLoadData(&m2, img));
	free(img);
	CUdeviceptr kept;
	CK(cuMemAlloc(&kept, 4096));       /* the primary context's memory too */
	CK(cuCtxSetCurrent(primary));
	EXPECT(is_sum(dc));
	CUfunction f2;
	CK(cuModuleGetFunction(&f2, m2, "vec_add"));
	void *args2[] = {&da, &db, &dd, &(int){N}};
	CK(cuMemsetD32(dd, 0, N));
	CK(cuLaunchKernel(f2, N / 64, 1, 1, 64, 1, 1, 0, sp, args2, NULL));
	CK(cuStreamSynchronize(sp));
	EXPECT(is_sum(dd));

	/* current on another thread; destroyed here while it is; the context's storage says so */
	struct on_thread t = { .c = c, .g = green, .m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	pthread_t th;
	pthread_create(&th, NULL, current_elsewhere, &t);
	step_wait(&t, 1);
	CK(cuStreamDestroy(s));
	CK(cuCtxPushCurrent(c));
	CK(cuGreenCtxDestroy(green));
	CUcontext cur;
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == primary);             /* taken off this thread's stack */
	step_to(&t, 2);
	pthread_join(th, NULL);
	EXPECT(t.after == CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK_RC(cuCtxSetCurrent(c), CUDA_ERROR_INVALID_CONTEXT);
	CK_RC(cuCtxPushCurrent(c), CUDA_ERROR_INVALID_CONTEXT);
	CK_RC(cuGreenCtxDestroy(green), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK_RC(cuCtxFromGreenCtx(&c2, green), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK_RC(cuGreenCtxStreamCreate(&s, green, CU_STREAM_NON_BLOCKING, 0), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK(cuMemsetD32(kept, 7, 1024));
	CK(cuMemFree(kept));
	CK(cuModuleGetFunction(&f2, m2, "vec_add"));
	CK(cuModuleUnload(m2));
	CK(cuStreamDestroy(sp));
	CK(cuGreenCtxDestroy(other));
}

/* ---- ordering ---- */

static void t_events(void)
{
	CUdevResource all, g[2], rest;
	CK(cuDeviceGetDevResource(dev, &all, CU_DEV_RESOURCE_TYPE_SM));
	split2(&all, 4, g, &rest);
	CUgreenCtx green = make_green(&g[0], 1), other = make_green(&g[1], 1);
	CUcontext c = ctx_of(green);
	CUstream s, s2, so, sp;
	CK(cuGreenCtxStreamCreate(&s, green, CU_STREAM_NON_BLOCKING, 0));
	CK(cuGreenCtxStreamCreate(&s2, green, CU_STREAM_NON_BLOCKING, 0));
	CK(cuGreenCtxStreamCreate(&so, other, CU_STREAM_NON_BLOCKING, 0));
	CK(cuStreamCreate(&sp, CU_STREAM_NON_BLOCKING));
	CUevent e, ep, ew;
	CK(cuCtxSetCurrent(c));
	CK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));     /* the green context's */
	CK(cuCtxSetCurrent(primary));
	CK(cuEventCreate(&ep, 0));
	CK(cuEventCreate(&ew, 0));

	/* a long (gated) kernel on the green stream; a primary stream waits for its event */
	gate_set(&G1, 0);
	CK(cuMemsetD32(dc, 0, N));
	CK(cuMemsetD32(dd, 0, N));
	CK(cuLaunchHostFunc(s, gate_wait, &G1));
	launch_add(da, db, dc, s);
	CK(cuEventRecord(e, s));
	CK(cuStreamWaitEvent(sp, e, 0));
	CK(cuMemcpyDtoDAsync(dd, dc, N * sizeof(float), sp));
	CK(cuEventRecord(ep, sp));                 /* a primary context's event on its stream */
	usleep(20000);
	CK_RC(cuEventQuery(e), CUDA_ERROR_NOT_READY);
	CK_RC(cuStreamQuery(sp), CUDA_ERROR_NOT_READY);
	gate_set(&G1, 1);
	CK(cuEventSynchronize(ep));
	EXPECT(is_sum(dd));
	/* events of the primary and its green contexts are recorded on each other's streams */
	CK(cuEventRecord(ep, s));
	CK(cuEventRecord(e, sp));
	CK(cuCtxSynchronize());
	CUcontext plain;
	CUevent ex;
	CK(cuCtxCreate(&plain, NULL, 0, dev));
	CK(cuEventCreate(&ex, 0));
	CK_RC(cuEventRecord(ex, s), CUDA_ERROR_INVALID_CONTEXT);   /* another context's */
	CK(cuCtxPopCurrent(NULL));

	/* cuGreenCtxRecordEvent: all the green context's streams, as of the call */
	gate_set(&G1, 0);
	gate_set(&G2, 0);
	CK(cuLaunchHostFunc(s, gate_wait, &G1));
	CK(cuMemsetD32Async(dc, 0, N, s2));
	CK(cuGreenCtxRecordEvent(green, ew));
	CK(cuLaunchHostFunc(s2, gate_wait, &G2));   /* after the record: not in it */
	usleep(20000);
	CK_RC(cuEventQuery(ew), CUDA_ERROR_NOT_READY);
	gate_set(&G1, 1);
	CK(cuEventSynchronize(ew));
	CK_RC(cuStreamQuery(s2), CUDA_ERROR_NOT_READY);
	/* the same through cuCtxRecordEvent of its context (its NULL stream alone would be done) */
	gate_set(&G1, 0);
	CK(cuLaunchHostFunc(s, gate_wait, &G1));
	CK(cuCtxRecordEvent(c, ew));
	usleep(20000);
	CK_RC(cuEventQuery(ew), CUDA_ERROR_NOT_READY);
	gate_set(&G1, 1);
	gate_set(&G2, 1);
	CK(cuEventSynchronize(ew));
	CK_RC(cuGreenCtxRecordEvent(green, ex), CUDA_ERROR_INVALID_HANDLE);     /* another context's */
	CK_RC(cuGreenCtxRecordEvent(green, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuGreenCtxRecordEvent((CUgreenCtx)&all, ew), CUDA_ERROR_INVALID_CONTEXT);

	/* cuGreenCtxWaitEvent: its work from now on, on streams old and new, waits for an event
	 * of the primary context; the other green context's does not */
	gate_set(&G1, 0);
	CK(cuMemsetD32(dc, 0, N));
	CK(cuLaunchHostFunc(sp, gate_wait, &G1));
	CK(cuEventRecord(ep, sp));
	CK(cuGreenCtxWaitEvent(green, ep));
	launch_add(da, db, dc, s);
	CUstream later;
	CK(cuGreenCtxStreamCreate(&later, green, CU_STREAM_NON_BLOCKING, 0));
	CK(cuMemsetD32Async(dd, 0, N, later));
	CK(cuCtxSetCurrent(c));
	CK(cuMemsetD32Async(dd, 0, N, NULL));      /* its NULL stream */
	CK(cuCtxSetCurrent(primary));
	launch_add(da, db, dd, so);
	EXPECT(finishes(so));                      /* while the gate is closed */
	usleep(20000);
	CK_RC(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
	CK_RC(cuStreamQuery(later), CUDA_ERROR_NOT_READY);
	CK(cuCtxSetCurrent(c));
	CK_RC(cuStreamQuery(NULL), CUDA_ERROR_NOT_READY);
	CK(cuCtxSetCurrent(primary));
	EXPECT(is_sum(dd));                        /* the other green context's kernel ran */
	EXPECT(!is_sum(dc));
	gate_set(&G1, 1);
	CK(cuStreamSynchronize(s));
	CK(cuStreamSynchronize(later));
	EXPECT(is_sum(dc));
	CK(cuCtxSetCurrent(c));
	CK(cuCtxSynchronize());
	CK(cuCtxSetCurrent(primary));
	CK_RC(cuGreenCtxWaitEvent(green, NULL), CUDA_ERROR_INVALID_HANDLE);

	/* a capturing stream of the green context: both calls refused, the capture ended; a
	 * graph captured on a green stream runs there */
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK_RC(cuGreenCtxRecordEvent(green, ew), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	CUgraph graph;
	CK_RC(cuStreamEndCapture(s, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	CK_RC(cuGreenCtxWaitEvent(green, ew), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	CK_RC(cuStreamEndCapture(s, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	CK(cuMemsetD32(dc, 0, N));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	launch_add(da, db, dc, s);
	CK(cuStreamEndCapture(s, &graph));
	CUgraphExec x;
	CK(cuGraphInstantiate(&x, graph, 0));
	CK(cuGraphLaunch(x, s));
	CK(cuStreamSynchronize(s));
	EXPECT(is_sum(dc));
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(graph));

	/* destroyed with work queued: it finishes first (read back through the primary context's
	 * NULL stream, which does not wait for green streams) */
	gate_set(&G1, 0);
	CK(cuMemsetD32(dd, 0, N));
	CK(cuLaunchHostFunc(s, gate_wait, &G1));
	launch_add(da, db, dd, s);
	pthread_t th;
	pthread_create(&th, NULL, open_later, &G1);
	CK(cuStreamDestroy(s2));
	CK(cuStreamDestroy(later));
	CK(cuGreenCtxDestroy(green));
	EXPECT(is_sum(dd));
	pthread_join(th, NULL);
	CK_RC(cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);     /* its streams went with it */
	CK_RC(cuGreenCtxRecordEvent(green, ew), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK_RC(cuGreenCtxWaitEvent(green, ew), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	CK(cuEventSynchronize(e));                  /* its events stay */
	CK(cuEventDestroy(e));
	CK(cuEventDestroy(ep));
	CK(cuEventDestroy(ew));
	CK(cuCtxPushCurrent(plain));
	CK(cuEventDestroy(ex));
	CK(cuCtxPopCurrent(NULL));
	CK(cuCtxDestroy(plain));
	CK(cuStreamDestroy(so));
	CK(cuStreamDestroy(sp));
	CK(cuGreenCtxDestroy(other));
}

/* ---- the partition's SMs, sticky errors ---- */

static void t_partition(void)
{
	CUdevResource all, g[2], rest;
	CK(cuDeviceGetDevResource(dev, &all, CU_DEV_RESOURCE_TYPE_SM));
	split2(&all, 4, g, &rest);
	CUgreenCtx green = make_green(&g[0], 1), whole = make_green(&all, 1);
	CUfunction f;
	CK(cuModuleGetFunction(&f, mod, "vec_add"));
	int per_sm;
	CK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, 64, 0));
	EXPECT(per_sm > 0);
	int n = N;
	void *args[] = {&da, &db, &dd, &n};
	/* a cooperative grid fits what the context's SMs hold at once */
	CK(cuLaunchCooperativeKernel(f, (unsigned)per_sm * 8, 1, 1, 64, 1, 1, 0, NULL, args));
	CK(cuCtxSynchronize());
	CK(cuCtxSetCurrent(ctx_of(green)));
	CK(cuLaunchCooperativeKernel(f, (unsigned)per_sm * 4, 1, 1, 64, 1, 1, 0, NULL, args));
	CK_RC(cuLaunchCooperativeKernel(f, (unsigned)per_sm * 4 + 1, 1, 1, 64, 1, 1, 0, NULL, args),
	      CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
	CK(cuCtxSynchronize());
	int attr;
	CK(cuDeviceGetAttribute(&attr, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
	EXPECT(attr == 8);                /* the device's, whatever is current */

	/* a fault in a green context is its own: the primary context goes on */
	CK(cuCtxSetCurrent(ctx_of(whole)));
	CUfunction oob;
	CK(cuModuleGetFunction(&oob, mod, "oob_write"));
	CUdeviceptr p;
	CK(cuMemAlloc(&p, 256));
	long long off = 1 << 30;
	void *oargs[] = {&p, &off};
	CK(cuLaunchKernel(oob, 1, 1, 1, 1, 1, 1, 0, NULL, oargs, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);    /* sticky */
	CK(cuCtxSetCurrent(primary));
	CK(cuCtxSynchronize());
	CK(cuMemFree(p));
	EXPECT(is_sum(dd));
	CK(cuGreenCtxDestroy(whole));
	CK(cuGreenCtxDestroy(green));
}

int main(void)
{
	setenv("VGPU_SIM_MEM", "128M", 1);
	unsetenv("VGPU_SIM_CC");
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CUgreenCtx g;
	CUdevResource r;
	memset(&r, 0, sizeof(r));
	CK(cuDevicePrimaryCtxRetain(&primary, dev));
	CK(cuCtxSetCurrent(primary));
	void *img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&mod, img));
	free(img);
	for (int i = 0; i < N; i++) {
		ha[i] = (float)i;
		hb[i] = (float)(N - 2 * i);
	}
	CK(cuMemAlloc(&da, sizeof(ha)));
	CK(cuMemAlloc(&db, sizeof(hb)));
	CK(cuMemAlloc(&dc, sizeof(ha)));
	CK(cuMemAlloc(&dd, sizeof(ha)));
	CK(cuMemcpyHtoD(da, ha, sizeof(ha)));
	CK(cuMemcpyHtoD(db, hb, sizeof(hb)));
	CK_RC(cuGreenCtxDestroy(NULL), CUDA_ERROR_INVALID_CONTEXT);
	CK_RC(cuGreenCtxDestroy((CUgreenCtx)&r), CUDA_ERROR_INVALID_CONTEXT);
	(void)g;
	t_resources();
	t_create();
	t_events();
	t_partition();
	/* every green context gone: the test's reference is the primary context's last */
	CK(cuCtxSetCurrent(NULL));
	CK(cuDevicePrimaryCtxRelease(dev));
	unsigned flags;
	int active;
	CK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
	EXPECT(active == 0);
	printf("test_sim_green: OK\n");
	return 0;
}
