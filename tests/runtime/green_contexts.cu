/* SPDX-License-Identifier: MIT */
/* green_contexts.cu — two green contexts over halves of the device's SMs, each running kernels on its own stream with the runtime API. */
#include <cuda.h>

#include "rt.h"

/*
 * As an inference server partitions a GPU between prefill and decode (and as PyTorch's green
 * contexts do): the device's SMs are split in two groups with the driver API, each group
 * becomes a green context, and the runtime API then works in each as in any context: memory
 * the primary context allocated, kernels launched with <<<>>> on the green context's stream,
 * cudaMalloc and cudaMemcpy while a green context is current, and events ordering one green
 * context's work after the other's.
 */

#define CU(call)                                                                             \
	do {                                                                                 \
		CUresult r_ = (call);                                                        \
		if (r_ != CUDA_SUCCESS) {                                                    \
			const char *name_ = "?";                                             \
			cuGetErrorName(r_, &name_);                                          \
			printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, name_);     \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

/* the first half: base[i % 4] + i, for long enough that the second green context's reads
 * of it would see zeros if they were not ordered after it */
__global__ void produce(int *out, const int *base, int n)
{
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
		int v = base[i % 4] + i;
		for (int k = 0; k < 64; k++)
			v = (v * 3 + k) % 1000003;
		out[i] = v;
	}
}

/* the second half, from the first */
__global__ void consume(int *out, const int *in, int n)
{
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
		out[i] = 2 * in[i] + 1;
}

int main()
{
	const int n = 1 << 14;     /* elements in each half */
	CHECK(cudaSetDevice(0));
	CHECK(cudaFree(0));        /* the primary context, current */
	CUcontext primary;
	CU(cuCtxGetCurrent(&primary));
	int *buf;
	CHECK(cudaMalloc(&buf, 2 * n * sizeof(int)));
	CHECK(cudaMemset(buf, 0, 2 * n * sizeof(int)));

	/* the device's SMs in two disjoint groups: two of half the SMs each where the device's
	 * granularity allows, else one group and what remains; a device whose granularity leaves
	 * nothing for a second group (8 SMs in groups of 8) is split SM by SM */
	CUdevice dev;
	CU(cuDeviceGet(&dev, 0));
	CUdevResource all;
	CU(cuDeviceGetDevResource(dev, &all, CU_DEV_RESOURCE_TYPE_SM));
	int sms = 0;
	CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
	EXPECT(all.type == CU_DEV_RESOURCE_TYPE_SM && (int)all.sm.smCount == sms, "device resource: %u SMs of %d",
	       all.sm.smCount, sms);
	unsigned ngroups = 2;
	CUdevResource groups[2], rest;
	CU(cuDevSmResourceSplitByCount(groups, &ngroups, &all, &rest, 0, all.sm.smCount / 2));
	if (ngroups < 2 && rest.type != CU_DEV_RESOURCE_TYPE_SM) {
		ngroups = 2;
		CU(cuDevSmResourceSplitByCount(groups, &ngroups, &all, &rest, CU_DEV_SM_RESOURCE_SPLIT_IGNORE_SM_COSCHEDULING,
					       all.sm.smCount / 2));
	}
	EXPECT(ngroups >= 1 && ngroups <= 2, "%u groups", ngroups);
	CUdevResource part[2] = { groups[0], ngroups == 2 ? groups[1] : rest };
	EXPECT(part[1].type == CU_DEV_RESOURCE_TYPE_SM, "no second group");
	EXPECT(part[0].sm.smCount + part[1].sm.smCount <= all.sm.smCount && part[0].sm.smCount >= all.sm.smCount / 2,
	       "groups of %u and %u SMs of %u", part[0].sm.smCount, part[1].sm.smCount, all.sm.smCount);
	printf("device SMs split in two disjoint groups, the first at least half of them\n");

	CUgreenCtx green[2];
	CUcontext ctx[2];
	CUstream stream[2];
	for (int i = 0; i < 2; i++) {
		CUdevResourceDesc desc;
		CU(cuDevResourceGenerateDesc(&desc, &part[i], 1));
		CU(cuGreenCtxCreate(&green[i], desc, dev, CU_GREEN_CTX_DEFAULT_STREAM));
		CU(cuCtxFromGreenCtx(&ctx[i], green[i]));
		CU(cuGreenCtxStreamCreate(&stream[i], green[i], CU_STREAM_NON_BLOCKING, 0));
		CUdevResource mine;
		CU(cuCtxGetDevResource(ctx[i], &mine, CU_DEV_RESOURCE_TYPE_SM));
		EXPECT(mine.sm.smCount == part[i].sm.smCount, "green context %d has %u SMs, its group %u", i,
		       mine.sm.smCount, part[i].sm.smCount);
		CUgreenCtx of = NULL;
		CU(cuStreamGetGreenCtx(stream[i], &of));
		EXPECT(of == green[i], "stream %d belongs to %p, not its green context %p", i, (void *)of,
		       (void *)green[i]);
	}
	EXPECT(ctx[0] != ctx[1] && ctx[0] != primary && ctx[1] != primary, "three distinct contexts");
	printf("two green contexts, each with its group's SMs and a stream of its own\n");

	/* the first green context: memory and a copy made while it is current, a kernel on its
	 * stream writing the primary context's buffer, an event after it */
	cudaEvent_t done[2];
	CU(cuCtxSetCurrent(ctx[0]));
	CUcontext cur;
	CU(cuCtxGetCurrent(&cur));
	EXPECT(cur == ctx[0], "the first green context is current");
	int *base;
	const int host_base[4] = { 11, 22, 33, 44 };
	CHECK(cudaMalloc(&base, sizeof(host_base)));
	CHECK(cudaMemcpy(base, host_base, sizeof(host_base), cudaMemcpyHostToDevice));
	CHECK(cudaEventCreateWithFlags(&done[0], cudaEventDisableTiming));
	produce<<<64, 128, 0, (cudaStream_t)stream[0]>>>(buf, base, n);
	CHECK(cudaGetLastError());
	CHECK(cudaEventRecord(done[0], (cudaStream_t)stream[0]));

	/* the second: its stream waits for the first's event, then reads what that wrote */
	CU(cuCtxSetCurrent(ctx[1]));
	CHECK(cudaEventCreateWithFlags(&done[1], cudaEventDisableTiming));
	CHECK(cudaStreamWaitEvent((cudaStream_t)stream[1], done[0], 0));
	consume<<<32, 256, 0, (cudaStream_t)stream[1]>>>(buf + n, buf, n);
	CHECK(cudaGetLastError());
	CHECK(cudaEventRecord(done[1], (cudaStream_t)stream[1]));
	CHECK(cudaEventSynchronize(done[1]));

	/* back in the primary context: read it all */
	CU(cuCtxSetCurrent(primary));
	int *got = (int *)malloc(2 * n * sizeof(int)), *want = (int *)malloc(2 * n * sizeof(int));
	EXPECT(got && want, "host memory");
	CHECK(cudaMemcpy(got, buf, 2 * n * sizeof(int), cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++) {
		int v = host_base[i % 4] + i;
		for (int k = 0; k < 64; k++)
			v = (v * 3 + k) % 1000003;
		want[i] = v;
		want[n + i] = 2 * v + 1;
	}
	VERIFY(got, want, 2 * n, 0, "two green contexts, ordered by an event");

	for (int i = 0; i < 2; i++) {
		CHECK(cudaEventDestroy(done[i]));
		CU(cuStreamDestroy(stream[i]));
		CU(cuGreenCtxDestroy(green[i]));
	}
	CHECK(cudaFree(base));
	CHECK(cudaFree(buf));
	CHECK(cudaDeviceSynchronize());
	free(got);
	free(want);
	printf("green contexts destroyed\n");
	return 0;
}
