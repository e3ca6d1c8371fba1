// SPDX-License-Identifier: MIT
// device_malloc — kernels that allocate: malloc/free of per-thread scratch arrays, new and
// delete of objects, memory one kernel allocates and a later kernel reads and frees, and a
// request larger than the heap (malloc returns NULL, as CUDA's does). Every result is checked
// on the host.
#include <new>
#include "rt.h"

struct node {
	int value;
	node *next;
};

/* Each thread sums i*i for i < n in an array of its own. */
__global__ void scratch(int n, long long *out, int *failed)
{
	int t = blockIdx.x * blockDim.x + threadIdx.x;
	long long *a = (long long *)malloc(n * sizeof(long long));
	if (!a) {
		atomicAdd(failed, 1);
		return;
	}
	for (int i = 0; i < n; i++)
		a[i] = (long long)i * i + t;
	long long s = 0;
	for (int i = 0; i < n; i++)
		s += a[i];
	out[t] = s;
	free(a);
}

/* Thread 0 builds a list with new; a later kernel walks it and deletes it. */
__global__ void build(int n, node **head)
{
	node *h = nullptr;
	for (int i = 0; i < n; i++) {
		node *x = new node;
		if (!x)
			return;
		x->value = i * 3;
		x->next = h;
		h = x;
	}
	*head = h;
}

__global__ void walk_and_delete(node **head, long long *sum, int *count)
{
	long long s = 0;
	int c = 0;
	for (node *x = *head; x;) {
		node *nx = x->next;
		s += x->value;
		c++;
		delete x;
		x = nx;
	}
	*sum = s;
	*count = c;
	*head = nullptr;
}

/* Allocates bytes and says whether it got them. */
__global__ void try_alloc(size_t bytes, int *got)
{
	void *p = malloc(bytes);
	*got = p != nullptr;
	free(p);
}

int main()
{
	const int threads = 64, n = 100;
	long long *dout, out[threads];
	int *dfailed, failed = 0;
	CHECK(cudaMalloc(&dout, sizeof(out)));
	CHECK(cudaMalloc(&dfailed, sizeof(int)));
	CHECK(cudaMemset(dfailed, 0, sizeof(int)));
	scratch<<<2, threads / 2>>>(n, dout, dfailed);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(out, dout, sizeof(out), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(&failed, dfailed, sizeof(int), cudaMemcpyDeviceToHost));
	EXPECT(failed == 0, "%d threads got no memory from malloc", failed);
	for (int t = 0; t < threads; t++) {
		long long want = 0;
		for (int i = 0; i < n; i++)
			want += (long long)i * i + t;
		EXPECT(out[t] == want, "thread %d summed %lld, expected %lld", t, out[t], want);
	}
	printf("malloc/free: %d threads, %d values each, verified\n", threads, n);

	node **dhead;
	long long *dsum, sum = 0;
	int *dcount, count = 0;
	CHECK(cudaMalloc(&dhead, sizeof(node *)));
	CHECK(cudaMalloc(&dsum, sizeof(long long)));
	CHECK(cudaMalloc(&dcount, sizeof(int)));
	build<<<1, 1>>>(500, dhead);
	walk_and_delete<<<1, 1>>>(dhead, dsum, dcount);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(&sum, dsum, sizeof(sum), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(&count, dcount, sizeof(count), cudaMemcpyDeviceToHost));
	EXPECT(count == 500 && sum == 3LL * 499 * 500 / 2, "the list had %d nodes summing to %lld", count, sum);
	printf("new/delete across kernels: a list of %d nodes built, walked and deleted\n", count);

	/* the heap (its size a context limit): half of it is given, twice it gets NULL */
	int *dgot, got = -1;
	CHECK(cudaMalloc(&dgot, sizeof(int)));
	size_t heap = 0;
	CHECK(cudaDeviceGetLimit(&heap, cudaLimitMallocHeapSize));
	try_alloc<<<1, 1>>>(heap / 2, dgot);
	CHECK(cudaMemcpy(&got, dgot, sizeof(int), cudaMemcpyDeviceToHost));
	EXPECT(got == 1, "half the heap (%zu bytes) was not given", heap / 2);
	try_alloc<<<1, 1>>>(heap * 2, dgot);
	CHECK(cudaMemcpy(&got, dgot, sizeof(int), cudaMemcpyDeviceToHost));
	EXPECT(got == 0, "twice the heap (%zu bytes) was given", heap * 2);
	printf("a request larger than the heap gets NULL; half of it is given\n");
	CHECK(cudaFree(dout));
	CHECK(cudaFree(dfailed));
	CHECK(cudaFree(dhead));
	CHECK(cudaFree(dsum));
	CHECK(cudaFree(dcount));
	CHECK(cudaFree(dgot));
	return 0;
}
