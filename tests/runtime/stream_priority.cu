// SPDX-License-Identifier: MIT
// stream_priority — the priority range, streams at both ends of it, their queried priorities, and stream attributes.
#include "rt.h"

__global__ void mark(int *p, int v) { p[threadIdx.x] = v; }

int main()
{
	int least = 0, greatest = 0, pl = 1, pg = 1;
	cudaStream_t lo, hi;
	CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
	EXPECT(greatest <= least, "range %d..%d", least, greatest);
	CHECK(cudaStreamCreateWithPriority(&lo, cudaStreamNonBlocking, least));
	CHECK(cudaStreamCreateWithPriority(&hi, cudaStreamNonBlocking, greatest));
	CHECK(cudaStreamGetPriority(lo, &pl));
	CHECK(cudaStreamGetPriority(hi, &pg));
	EXPECT(pl == least && pg == greatest, "priorities %d %d", pl, pg);
	unsigned flags = 0;
	CHECK(cudaStreamGetFlags(hi, &flags));
	EXPECT(flags == cudaStreamNonBlocking, "flags %u", flags);
	/* the same through stream attributes: the priority, and a synchronization policy */
	cudaStreamAttrValue v = {}, back = {};
	v.priority = greatest;
	CHECK(cudaStreamSetAttribute(lo, cudaStreamAttributePriority, &v));
	CHECK(cudaStreamGetAttribute(lo, cudaStreamAttributePriority, &back));
	EXPECT(back.priority == greatest, "priority attribute %d", back.priority);
	v.syncPolicy = cudaSyncPolicyYield;
	CHECK(cudaStreamSetAttribute(hi, cudaStreamAttributeSynchronizationPolicy, &v));
	CHECK(cudaStreamGetAttribute(hi, cudaStreamAttributeSynchronizationPolicy, &back));
	EXPECT(back.syncPolicy == cudaSyncPolicyYield, "sync policy %d", (int)back.syncPolicy);
	/* copied to another stream with the rest of its attributes (cudaStreamCopyAttributes) */
	cudaStream_t copy;
	CHECK(cudaStreamCreate(&copy));
	CHECK(cudaStreamGetAttribute(copy, cudaStreamAttributeSynchronizationPolicy, &back));
	EXPECT(back.syncPolicy != cudaSyncPolicyYield, "a new stream's sync policy %d", (int)back.syncPolicy);
	CHECK(cudaStreamCopyAttributes(copy, hi));
	CHECK(cudaStreamGetAttribute(copy, cudaStreamAttributeSynchronizationPolicy, &back));
	EXPECT(back.syncPolicy == cudaSyncPolicyYield, "copied sync policy %d", (int)back.syncPolicy);
	CHECK(cudaStreamDestroy(copy));
	int *d, h[64], want[64];
	CHECK(cudaMalloc(&d, sizeof(h)));
	mark<<<1, 32, 0, lo>>>(d, 1);
	mark<<<1, 32, 0, hi>>>(d + 32, 2);
	CHECK(cudaStreamSynchronize(lo));
	CHECK(cudaStreamSynchronize(hi));
	CHECK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	for (int i = 0; i < 64; i++)
		want[i] = i < 32 ? 1 : 2;
	VERIFY(h, want, 64, 0, "stream_priority");
	printf("stream_priority: range %d..%d\n", least, greatest);
	CHECK(cudaStreamDestroy(lo));
	CHECK(cudaStreamDestroy(hi));
	CHECK(cudaFree(d));
	return 0;
}
