/* SPDX-License-Identifier: MIT */
/* Six threads share one context, as vgpu-proxy's channel threads share a zone's context:
 * each loads and unloads modules, creates and destroys streams and events, allocates,
 * launches and synchronises, while others synchronise the whole context. Nothing may race
 * (run under ASan here, and TSan-clean), deadlock, or compute a wrong result. */
#include "simtest.h"

#include <pthread.h>
#include <stdint.h>

static CUcontext shared;
static void *img;

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	CK(cuCtxSetCurrent(shared));
	for (int r = 0; r < 12; r++) {
		CUmodule m;
		CUfunction f;
		CUstream s;
		CUevent e;
		CK(cuModuleLoadData(&m, img));
		CK(cuModuleGetFunction(&f, m, "vec_add"));
		CK(cuStreamCreate(&s, (r & 1) ? CU_STREAM_NON_BLOCKING : 0));
		CK(cuEventCreate(&e, 0));
		CUdeviceptr a, b, c;
		int n = 256;
		CK(cuMemAlloc(&a, 1024));
		CK(cuMemAlloc(&b, 1024));
		CK(cuMemAlloc(&c, 1024));
		/* integer bit patterns 1 and 2 are denormal floats whose sum is pattern 3 exactly */
		CK(cuMemsetD32Async(a, 1, 256, s));
		CK(cuMemsetD32Async(b, 2, 256, s));
		void *args[] = {&a, &b, &c, &n};
		CK(cuLaunchKernel(f, 4, 1, 1, 64, 1, 1, 0, s, args, NULL));
		CK(cuEventRecord(e, s));
		if (r % 3 == 0)
			CK(cuStreamWaitEvent(NULL, e, 0));
		uint32_t out[256];
		CK(cuStreamSynchronize(s));
		CK(cuMemcpyDtoH(out, c, sizeof(out)));
		for (int i = 0; i < 256; i++)
			EXPECT(out[i] == 3);
		CK(cuEventDestroy(e));
		CK(cuStreamDestroy(s));
		CK(cuMemFree(a));
		CK(cuMemFree(b));
		CK(cuMemFree(c));
		CK(cuModuleUnload(m));
		if (id == 0 && r % 4 == 0)
			CK(cuCtxSynchronize());
	}
	return NULL;
}

int main(void)
{
	setenv("VGPU_SIM_MEM", "64M", 1);
	CK(cuInit(0));
	CK(cuCtxCreate(&shared, NULL, 0, 0));
	img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	pthread_t t[6];
	for (intptr_t i = 0; i < 6; i++)
		EXPECT(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	size_t fr, tot;
	CK(cuMemGetInfo(&fr, &tot));
	EXPECT(fr == tot);
	CK(cuCtxDestroy(shared));
	free(img);
	printf("test_sim_threads: all checks passed\n");
	return 0;
}
