/* SPDX-License-Identifier: MIT */
/* libcudasim streams and events: asynchronous work really is pending (Query returns
 * NOT_READY) until a gate opens; ordering within streams, across streams through events,
 * and the legacy NULL stream's rules; callbacks; timing; concurrent contexts on several
 * threads; and the memory-access hook used by the fuzzer's oracle. */
#include "simtest.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

void vgpu_sim_set_access_hook(void (*fn)(void *ctx, uint64_t dptr, uint64_t len, int write), void *ctx);

static CUmodule mod;

struct gate { pthread_mutex_t m; pthread_cond_t c; int open; };
static struct gate G = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void gate_wait(void *arg)
{
	struct gate *g = arg;
	pthread_mutex_lock(&g->m);
	while (!g->open)
		pthread_cond_wait(&g->c, &g->m);
	pthread_mutex_unlock(&g->m);
}

static void gate_set(int open)
{
	pthread_mutex_lock(&G.m);
	G.open = open;
	pthread_cond_broadcast(&G.c);
	pthread_mutex_unlock(&G.m);
}

static void *open_later(void *arg)
{
	(void)arg;
	usleep(50000);
	gate_set(1);
	return NULL;
}

static void launch_add(CUdeviceptr a, CUdeviceptr b, CUdeviceptr c, int n, CUstream s)
{
	CUfunction f;
	CK(cuModuleGetFunction(&f, mod, "vec_add"));
	void *args[] = {&a, &b, &c, &n};
	CK(cuLaunchKernel(f, (unsigned)(n + 63) / 64, 1, 1, 64, 1, 1, 0, s, args, NULL));
}

enum { N = 256 };
static float ha[N], hb[N];
static CUdeviceptr da, db, dc, dd;

static void check_sum(CUdeviceptr d)
{
	float out[N];
	CK(cuMemcpyDtoH(out, d, sizeof(out)));
	for (int i = 0; i < N; i++)
		EXPECT(out[i] == ha[i] + hb[i]);
}

static void t_async(void)
{
	CUstream s;
	CUevent ev;
	CK(cuStreamCreate(&s, 0));
	CK(cuEventCreate(&ev, 0));
	CK_RC(cuEventQuery(ev), CUDA_SUCCESS);           /* never recorded: complete */
	gate_set(0);
	CK(cuLaunchHostFunc(s, gate_wait, &G));
	CK(cuMemsetD32Async(dc, 0, N, s));
	launch_add(da, db, dc, N, s);
	CK(cuEventRecord(ev, s));
	CK_RC(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
	CK_RC(cuEventQuery(ev), CUDA_ERROR_NOT_READY);
	usleep(20000);
	CK_RC(cuStreamQuery(s), CUDA_ERROR_NOT_READY);    /* still gated: nothing ran */
	gate_set(1);
	CK(cuEventSynchronize(ev));
	CK(cuEventQuery(ev));
	CK(cuStreamQuery(s));
	check_sum(dc);

	/* cross-stream ordering through an event */
	CUstream s2;
	CK(cuStreamCreateWithPriority(&s2, CU_STREAM_NON_BLOCKING, -1));
	unsigned fl;
	int pr;
	CK(cuStreamGetFlags(s2, &fl));
	CK(cuStreamGetPriority(s2, &pr));
	EXPECT(fl == CU_STREAM_NON_BLOCKING && pr == -1);
	gate_set(0);
	CK(cuMemsetD32(dc, 0, N));
	CK(cuMemsetD32(dd, 0, N));
	CK(cuLaunchHostFunc(s, gate_wait, &G));
	launch_add(da, db, dc, N, s);
	CK(cuEventRecord(ev, s));
	CK(cuStreamWaitEvent(s2, ev, 0));
	CK(cuMemcpyDtoDAsync(dd, dc, N * sizeof(float), s2));
	usleep(10000);
	CK_RC(cuStreamQuery(s2), CUDA_ERROR_NOT_READY);
	gate_set(1);
	CK(cuStreamSynchronize(s2));
	check_sum(dd);

	/* the legacy NULL stream waits for blocking streams (s), not for non-blocking (s2) */
	gate_set(0);
	CK(cuLaunchHostFunc(s2, gate_wait, &G));
	CK(cuMemsetD32(dd, 0, N));                 /* returns although s2 is gated */
	CK_RC(cuStreamQuery(s2), CUDA_ERROR_NOT_READY);
	gate_set(1);
	CK(cuStreamSynchronize(s2));
	gate_set(0);
	CK(cuMemsetD32(dc, 0, N));
	CK(cuLaunchHostFunc(s, gate_wait, &G));
	launch_add(da, db, dc, N, s);
	pthread_t t;
	EXPECT(pthread_create(&t, NULL, open_later, NULL) == 0);
	CK(cuMemcpyDtoD(dd, dc, N * sizeof(float)));   /* NULL stream: after the kernel on s */
	pthread_join(t, NULL);
	check_sum(dd);

	/* destroying a stream with queued work waits for it */
	gate_set(0);
	CK(cuLaunchHostFunc(s, gate_wait, &G));
	launch_add(da, db, dc, N, s);
	EXPECT(pthread_create(&t, NULL, open_later, NULL) == 0);
	CK(cuStreamDestroy(s));
	pthread_join(t, NULL);
	check_sum(dc);
	CK(cuStreamDestroy(s2));
	CK(cuEventDestroy(ev));
	CK_RC(cuStreamDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);
}

static int cb_order[4], cb_n;
static void CUDA_CB cb(CUstream s, CUresult status, void *data)
{
	(void)s;
	EXPECT(status == CUDA_SUCCESS);
	cb_order[cb_n++] = (int)(intptr_t)data;
}

static void t_events_callbacks(void)
{
	CUstream s;
	CUevent e0, e1, nt;
	float ms = -1;
	CK(cuStreamCreate(&s, 0));
	CK(cuEventCreate(&e0, CU_EVENT_DEFAULT));
	CK(cuEventCreate(&e1, CU_EVENT_BLOCKING_SYNC));
	CK(cuEventCreate(&nt, CU_EVENT_DISABLE_TIMING));
	CK_RC(cuEventElapsedTime(&ms, e0, e1), CUDA_ERROR_INVALID_HANDLE);  /* not recorded */
	CK(cuEventRecord(e0, s));
	for (int i = 0; i < 4; i++) {
		launch_add(da, db, dc, N, s);
		CK(cuStreamAddCallback(s, cb, (void *)(intptr_t)i, 0));
	}
	CK(cuEventRecordWithFlags(e1, s, 0));
	CK(cuEventRecord(nt, s));
	CK(cuEventSynchronize(e1));
	CK(cuEventElapsedTime(&ms, e0, e1));
	EXPECT(ms >= 0.0f);
	CK_RC(cuEventElapsedTime(&ms, e0, nt), CUDA_ERROR_INVALID_HANDLE);
	CK(cuStreamSynchronize(s));
	EXPECT(cb_n == 4);
	for (int i = 0; i < 4; i++)
		EXPECT(cb_order[i] == i);
	/* events on the NULL stream */
	CK(cuEventRecord(e0, NULL));
	launch_add(da, db, dc, N, NULL);
	CK(cuEventRecord(e1, NULL));
	CK(cuEventSynchronize(e1));
	CK(cuEventElapsedTime(&ms, e0, e1));
	EXPECT(ms >= 0.0f);
	CK(cuEventDestroy(e0));
	CK(cuEventDestroy(e1));
	CK(cuEventDestroy(nt));
	CK(cuStreamDestroy(s));
	CK(cuStreamSynchronize(NULL));
	CK(cuStreamQuery(NULL));
}

/* several host threads, each with its own context, module and stream, at the same time */
static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	CUcontext c;
	CUmodule m;
	CUstream s;
	CK(cuCtxCreate(&c, NULL, 0, 0));
	void *img = st_read(st_path("tests/kernels/basic.fatbin"), NULL);
	CK(cuModuleLoadData(&m, img));
	free(img);
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	float a[N], b[N], out[N];
	for (int i = 0; i < N; i++) {
		a[i] = (float)(i * id);
		b[i] = (float)id;
	}
	CUdeviceptr x, y, z;
	CK(cuMemAlloc(&x, sizeof(a)));
	CK(cuMemAlloc(&y, sizeof(b)));
	CK(cuMemAlloc(&z, sizeof(out)));
	for (int round = 0; round < 5; round++) {
		CK(cuMemcpyHtoDAsync(x, a, sizeof(a), s));
		CK(cuMemcpyHtoDAsync(y, b, sizeof(b), s));
		CUfunction f;
		CK(cuModuleGetFunction(&f, m, "vec_add"));
		int n = N;
		void *args[] = {&x, &y, &z, &n};
		CK(cuLaunchKernel(f, N / 32, 1, 1, 32, 1, 1, 0, s, args, NULL));
		CK(cuMemcpyDtoHAsync(out, z, sizeof(out), s));
		CK(cuStreamSynchronize(s));
		for (int i = 0; i < N; i++)
			EXPECT(out[i] == a[i] + b[i]);
		a[round] += 1.0f;
	}
	CK(cuCtxDestroy(c));    /* frees its memory, module and stream */
	return NULL;
}

struct hook_log { pthread_mutex_t m; uint64_t lo, hi; uint64_t reads, writes; };
static void hook(void *ctx, uint64_t p, uint64_t len, int write)
{
	struct hook_log *h = ctx;
	pthread_mutex_lock(&h->m);
	if (p >= h->lo && p + len <= h->hi) {
		if (write)
			h->writes += len;
		else
			h->reads += len;
	}
	pthread_mutex_unlock(&h->m);
}

/* cuStreamWaitValue/WriteValue: one stream waits for a flag another stream writes. */
static void t_memops(void)
{
	CUstream a, b;
	CUdeviceptr flag, data;
	CK(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
	CK(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&flag, 16));
	CK(cuMemAlloc(&data, 4));
	CK(cuMemsetD8(flag, 0, 16));
	CK(cuMemsetD32(data, 0, 1));
	CK(cuStreamWaitValue32(a, flag, 1, CU_STREAM_WAIT_VALUE_EQ));
	CK(cuMemsetD32Async(data, 77, 1, a));
	CK(cuStreamWaitValue64(a, flag + 8, 5, CU_STREAM_WAIT_VALUE_GEQ));
	usleep(20000);
	CK_RC(cuStreamQuery(a), CUDA_ERROR_NOT_READY);      /* still waiting for the flag */
	gate_set(0);
	CK(cuLaunchHostFunc(b, gate_wait, &G));
	CK(cuStreamWriteValue32(b, flag, 1, 0));
	CK(cuStreamWriteValue64(b, flag + 8, 9, CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER));
	usleep(10000);
	CK_RC(cuStreamQuery(a), CUDA_ERROR_NOT_READY);
	gate_set(1);
	CK(cuStreamSynchronize(a));
	unsigned v;
	CK(cuMemcpyDtoH(&v, data, 4));
	EXPECT(v == 77);
	CK_RC(cuStreamWaitValue32(a, flag + 1, 1, 0), CUDA_ERROR_INVALID_VALUE);    /* misaligned */
	CK_RC(cuStreamWriteValue32(a, 0x1000, 1, 0), CUDA_ERROR_INVALID_VALUE);     /* not memory */
	int nor;
	CK(cuDeviceGetAttribute(&nor, CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR, 0));
	EXPECT(nor == 1);
	CK(cuStreamDestroy(a));
	CK(cuStreamDestroy(b));
	CK(cuMemFree(flag));
	CK(cuMemFree(data));
}

/* a stream of another context is asked about its capture as the driver answers, whatever
 * context is current (NCCL asks for each rank's stream with the first device's current) */
static void t_other_context(CUcontext mine)
{
	CUcontext other;
	CUstream s;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_ACTIVE;
	cuuint64_t id = 7;
	CK(cuCtxCreate(&other, NULL, 0, 0));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuCtxSetCurrent(mine));
	CK(cuStreamIsCapturing(s, &st));
	EXPECT(st == CU_STREAM_CAPTURE_STATUS_NONE);
	st = CU_STREAM_CAPTURE_STATUS_ACTIVE;
	CK(cuStreamGetCaptureInfo(s, &st, &id, NULL, NULL, NULL, NULL));
	EXPECT(st == CU_STREAM_CAPTURE_STATUS_NONE);
	CK(cuCtxSetCurrent(other));
	CK(cuStreamDestroy(s));
	CK(cuCtxDestroy(other));
	CK(cuCtxSetCurrent(mine));
}

int main(void)
{
	setenv("VGPU_SIM_MEM", "128M", 1);
	CUcontext ctx;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
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
	t_async();
	t_events_callbacks();
	t_memops();
	t_other_context(ctx);

	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		EXPECT(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)(i + 1)) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);

	/* the access hook sees copies, memsets and each kernel access */
	struct hook_log h = {PTHREAD_MUTEX_INITIALIZER, dc, dc + sizeof(ha), 0, 0};
	vgpu_sim_set_access_hook(hook, &h);
	CK(cuMemsetD32(dc, 0, N));
	EXPECT(h.writes == sizeof(ha) && h.reads == 0);
	launch_add(da, db, dc, N, NULL);
	CK(cuCtxSynchronize());
	EXPECT(h.writes == 2 * sizeof(ha) && h.reads == 0);
	float out[N];
	CK(cuMemcpyDtoH(out, dc, sizeof(out)));
	EXPECT(h.reads == sizeof(ha));
	vgpu_sim_set_access_hook(NULL, NULL);
	CK(cuMemsetD32(dc, 0, N));
	EXPECT(h.writes == 2 * sizeof(ha));

	CK(cuCtxDestroy(ctx));
	printf("test_sim_streams: all checks passed\n");
	return 0;
}
