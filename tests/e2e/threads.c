/* SPDX-License-Identifier: MIT */
/* threads.c — end to end: four application threads at once, each with its own channel, sharing one context. */
#include "e2e.h"

#include <pthread.h>

static CUcontext ctx;
static CUmodule mod;

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	const int n = 2048;
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
	CUdeviceptr da, db, dc;
	CUfunction f;
	CUstream s;

	CK(cuCtxSetCurrent(ctx));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuModuleGetFunction(&f, mod, "vec_add"));
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < n; i++) {
			a[i] = (float)(i + id);
			b[i] = (float)(round * 3);
		}
		CK(cuMemAlloc(&da, n * sizeof(float)));
		CK(cuMemAlloc(&db, n * sizeof(float)));
		CK(cuMemAlloc(&dc, n * sizeof(float)));
		CK(cuMemcpyHtoDAsync(da, a, n * sizeof(float), s));
		CK(cuMemcpyHtoDAsync(db, b, n * sizeof(float), s));
		int nn = n;
		void *args[] = { &da, &db, &dc, &nn };
		CK(cuLaunchKernel(f, n / 256, 1, 1, 256, 1, 1, 0, s, args, NULL));
		CK(cuMemcpyDtoHAsync(c, dc, n * sizeof(float), s));
		CK(cuStreamSynchronize(s));
		for (int i = 0; i < n; i++)
			EXPECT(c[i] == a[i] + b[i]);
		CK(cuMemFree(da));
		CK(cuMemFree(db));
		CK(cuMemFree(dc));
	}
	CK(cuStreamDestroy(s));
	free(a);
	free(b);
	free(c);
	return NULL;
}

int main(void)
{
	CUdevice dev;
	pthread_t t[4];

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuModuleLoad(&mod, e2e_kernel_path("basic.ptx")));
	for (int i = 0; i < 4; i++)
		EXPECT(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CK(cuModuleUnload(mod));
	CK(cuDevicePrimaryCtxRelease(dev));
	printf("threads: ok\n");
	return 0;
}
