// SPDX-License-Identifier: MIT
// managed_memory — cudaMallocManaged as programs use it: the host fills memory, kernels work
// on it in place under the same pointer, the host reads the result after a synchronisation;
// a linked list built by the host and walked by a kernel; cudaMemset, cudaMemcpy in every
// direction, cudaMemPrefetchAsync/cudaMemAdvise/cudaStreamAttachMemAsync on it; its pointer attributes; the device
// attributes that say managed memory is there. Every result is checked on the host.
#include "rt.h"

struct item {
	int value;
	item *next;
};

__global__ void square_add(float *v, int n, float k)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		v[i] = v[i] * v[i] + k;
}

/* One thread walks the host-built list, summing and doubling every value. */
__global__ void walk(item *head, long long *sum)
{
	long long s = 0;
	for (item *p = head; p; p = p->next) {
		s += p->value;
		p->value *= 2;
	}
	*sum = s;
}

int main()
{
	int managed = 0;
	CHECK(cudaDeviceGetAttribute(&managed, cudaDevAttrManagedMemory, 0));
	EXPECT(managed == 1, "cudaDevAttrManagedMemory is %d", managed);

	const int n = 1 << 18;
	float *v = nullptr;
	CHECK(cudaMallocManaged(&v, n * sizeof(float)));
	for (int i = 0; i < n; i++)
		v[i] = (float)(i % 100);
	square_add<<<n / 256, 256>>>(v, n, 1.5f);
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < n; i++) {
		float x = (float)(i % 100);
		EXPECT(v[i] == x * x + 1.5f, "element %d is %g", i, v[i]);
	}
	printf("managed memory: %d values written by the host, squared by a kernel, read back in place\n", n);

	/* a list of structs pointing at each other, made on the host, walked on the device */
	const int len = 1000;
	item *items = nullptr;
	long long *sum = nullptr;
	CHECK(cudaMallocManaged(&items, len * sizeof(item)));
	CHECK(cudaMallocManaged(&sum, sizeof(long long), cudaMemAttachGlobal));
	long long want = 0;
	for (int i = 0; i < len; i++) {
		items[i].value = i * 3 + 1;
		items[i].next = i + 1 < len ? &items[i + 1] : nullptr;
		want += items[i].value;
	}
	walk<<<1, 1>>>(items, sum);
	CHECK(cudaDeviceSynchronize());
	EXPECT(*sum == want, "the kernel summed %lld, expected %lld", *sum, want);
	for (int i = 0; i < len; i++)
		EXPECT(items[i].value == 2 * (i * 3 + 1), "item %d is %d", i, items[i].value);
	printf("linked list: %d host-built items walked and changed by a kernel\n", len);

	/* memset, copies to and from device memory and the host, prefetch and advice */
	int dev = 0;
	CHECK(cudaGetDevice(&dev));
	cudaMemLocation loc = {};
	loc.type = cudaMemLocationTypeDevice;
	loc.id = dev;
	CHECK(cudaMemAdvise(v, n * sizeof(float), cudaMemAdviseSetPreferredLocation, loc));
	cudaStream_t st;
	CHECK(cudaStreamCreate(&st));
	CHECK(cudaStreamAttachMemAsync(st, sum, 0, cudaMemAttachSingle));
	CHECK(cudaStreamAttachMemAsync(st, sum, sizeof(long long), cudaMemAttachGlobal));
	CHECK(cudaStreamSynchronize(st));
	CHECK(cudaStreamDestroy(st));
	CHECK(cudaMemPrefetchAsync(v, n * sizeof(float), loc, 0, 0));

	/* what was advised and prefetched, read back by range (cudaMemRangeGetAttribute(s)) */
	{
		const size_t all = n * sizeof(float), page = 4096;
		int pref = -9, last = -9, rm = -9, acc[3] = { -9, -9, -9 };
		CHECK(cudaMemRangeGetAttribute(&pref, 4, cudaMemRangeAttributePreferredLocation, v, all));
		CHECK(cudaMemRangeGetAttribute(&last, 4, cudaMemRangeAttributeLastPrefetchLocation, v, all));
		CHECK(cudaMemRangeGetAttribute(&rm, 4, cudaMemRangeAttributeReadMostly, v, all));
		EXPECT(pref == dev && last == dev && rm == 0, "preferred %d, last prefetch %d, read mostly %d", pref, last, rm);
		CHECK(cudaMemAdvise(v, page, cudaMemAdviseSetReadMostly, loc));
		CHECK(cudaMemRangeGetAttribute(&rm, 4, cudaMemRangeAttributeReadMostly, v, page));
		EXPECT(rm == 1, "read mostly over the advised page: %d", rm);
		CHECK(cudaMemRangeGetAttribute(&rm, 4, cudaMemRangeAttributeReadMostly, v, all));
		EXPECT(rm == 0, "read mostly over the whole range, one page advised: %d", rm);
		CHECK(cudaMemAdvise(v, all, cudaMemAdviseSetAccessedBy, loc));
		CHECK(cudaMemRangeGetAttribute(acc, sizeof(acc), cudaMemRangeAttributeAccessedBy, v, all));
		EXPECT(acc[0] == dev && acc[1] == cudaInvalidDeviceId && acc[2] == cudaInvalidDeviceId,
		       "accessed by %d %d %d", acc[0], acc[1], acc[2]);
		cudaMemLocation host = {};
		host.type = cudaMemLocationTypeHost;
		CHECK(cudaMemPrefetchAsync(v, page, host, 0, 0));
		CHECK(cudaMemRangeGetAttribute(&last, 4, cudaMemRangeAttributeLastPrefetchLocation, v, page));
		EXPECT(last == cudaCpuDeviceId, "last prefetch of the first page: %d", last);
		CHECK(cudaMemRangeGetAttribute(&last, 4, cudaMemRangeAttributeLastPrefetchLocation, v, all));
		EXPECT(last == cudaInvalidDeviceId, "last prefetch of pages prefetched to two places: %d", last);
		cudaMemLocationType lt = cudaMemLocationTypeInvalid;
		int lid = -9;
		void *data[2] = { &lt, &lid };
		size_t sizes[2] = { sizeof(lt), sizeof(lid) };
		cudaMemRangeAttribute which[2] = { cudaMemRangeAttributePreferredLocationType,
						   cudaMemRangeAttributePreferredLocationId };
		CHECK(cudaMemRangeGetAttributes(data, sizes, which, 2, v + 1, all - sizeof(float)));
		EXPECT(lt == cudaMemLocationTypeDevice && lid == dev, "preferred location type %d id %d", (int)lt, lid);
		CHECK(cudaMemAdvise(v, all, cudaMemAdviseUnsetPreferredLocation, loc));
		CHECK(cudaMemRangeGetAttribute(&pref, 4, cudaMemRangeAttributePreferredLocation, v, all));
		EXPECT(pref == cudaInvalidDeviceId, "preferred location after unset: %d", pref);
		EXPECT(cudaMemRangeGetAttribute(&rm, 4, cudaMemRangeAttributeReadMostly, v, all + page) ==
		       cudaErrorInvalidValue, "a range past the allocation was answered");
		EXPECT(cudaMemRangeGetAttribute(&rm, 2, cudaMemRangeAttributeReadMostly, v, all) == cudaErrorInvalidValue,
		       "a 2-byte answer was accepted");
		cudaGetLastError();
		printf("range attributes: preferred and last prefetch locations, read mostly, accessed by, by page\n");

		/* CUDA 13's batches: two ranges prefetched to the device and one to the host in one
		 * call, then discarded and prefetched again */
		cudaStream_t bs;
		CHECK(cudaStreamCreateWithFlags(&bs, cudaStreamNonBlocking));
		void *ptrs[3] = { v, v + page / sizeof(float), v + 2 * page / sizeof(float) };
		size_t lens[3] = { page, page, page };
		cudaMemLocation locs[2] = { loc, host };
		size_t idxs[2] = { 0, 2 };
		CHECK(cudaMemPrefetchBatchAsync(ptrs, lens, 3, locs, idxs, 2, 0, bs));
		int l0 = -9, l2 = -9;
		CHECK(cudaMemRangeGetAttribute(&l0, 4, cudaMemRangeAttributeLastPrefetchLocation, ptrs[0], 2 * page));
		CHECK(cudaMemRangeGetAttribute(&l2, 4, cudaMemRangeAttributeLastPrefetchLocation, ptrs[2], page));
		EXPECT(l0 == dev && l2 == cudaCpuDeviceId, "batch prefetch locations %d and %d", l0, l2);
		CHECK(cudaMemDiscardBatchAsync(ptrs, lens, 3, 0, bs));
		CHECK(cudaMemDiscardAndPrefetchBatchAsync(ptrs, lens, 3, locs, idxs, 1, 0, bs));
		CHECK(cudaMemRangeGetAttribute(&l2, 4, cudaMemRangeAttributeLastPrefetchLocation, ptrs[2], page));
		EXPECT(l2 == dev, "one location for the whole batch: %d", l2);
		size_t bad_idxs[2] = { 1, 2 };
		EXPECT(cudaMemPrefetchBatchAsync(ptrs, lens, 3, locs, bad_idxs, 2, 0, bs) == cudaErrorInvalidValue,
		       "a batch whose first location index is not 0 was accepted");
		size_t past[1] = { all };
		void *end[1] = { v + n - 1 };
		EXPECT(cudaMemDiscardBatchAsync(end, past, 1, 0, bs) == cudaErrorInvalidValue,
		       "a discard past the allocation was accepted");
		cudaGetLastError();
		CHECK(cudaStreamSynchronize(bs));
		CHECK(cudaStreamDestroy(bs));
		printf("batches: prefetches to two locations, discards, discard-and-prefetch\n");
	}
	CHECK(cudaMemset(v, 0, n * sizeof(float)));
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < n; i++)
		EXPECT(v[i] == 0.0f, "element %d is %g after cudaMemset", i, v[i]);
	float *d = nullptr, *h = (float *)malloc(n * sizeof(float));
	EXPECT(h, "out of host memory");
	CHECK(cudaMalloc(&d, n * sizeof(float)));
	for (int i = 0; i < n; i++)
		h[i] = (float)(i % 64);   /* (63^2)^2 + 2 < 2^24: every result exact in float */
	CHECK(cudaMemcpy(v, h, n * sizeof(float), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(d, v, n * sizeof(float), cudaMemcpyDeviceToDevice));
	square_add<<<n / 256, 256>>>(d, n, 0.0f);
	CHECK(cudaMemcpy(v, d, n * sizeof(float), cudaMemcpyDefault));
	for (int i = 0; i < n; i++)
		EXPECT(v[i] == (float)((i % 64) * (i % 64)), "element %d is %g after the copies", i, v[i]);
	memset(h, 0, n * sizeof(float));
	square_add<<<n / 256, 256>>>(v, n, 2.0f);
	CHECK(cudaMemcpy(h, v, n * sizeof(float), cudaMemcpyDeviceToHost));
	for (int i = 0; i < n; i++) {
		float x = (float)((i % 64) * (i % 64));
		EXPECT(h[i] == x * x + 2.0f, "element %d copied out as %g", i, h[i]);
	}
	printf("memset, copies in every direction, prefetch and advice: %d values verified\n", n);

	cudaPointerAttributes attr;
	CHECK(cudaPointerGetAttributes(&attr, v + 7));
	EXPECT(attr.type == cudaMemoryTypeManaged && attr.devicePointer == v + 7 && attr.hostPointer == v + 7,
	       "managed pointer typed %d, device %p, host %p", (int)attr.type, attr.devicePointer, attr.hostPointer);
	EXPECT(cudaMemPrefetchAsync(d, 16, loc, 0, 0) == cudaErrorInvalidValue, "prefetching device memory succeeded");
	cudaGetLastError();
	printf("attributes: managed pointer, device memory not prefetchable\n");

	CHECK(cudaFree(v));
	CHECK(cudaFree(items));
	CHECK(cudaFree(sum));
	CHECK(cudaFree(d));
	free(h);
	return 0;
}
