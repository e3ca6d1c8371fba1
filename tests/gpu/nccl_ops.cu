// SPDX-License-Identifier: MIT
// NCCL in one process, as a training script's data-parallel step and torchrun with one node
// make it: ncclCommInitAll over the visible devices (at most 4; one rank where there is one
// device), then the collectives and a ring of point-to-point sends on each rank's own stream,
// every result checked on the host. NCCL opens libnvidia-ml.so.1 before anything else and
// gives up without it: in a zone that is vgpu's (libvgpu/nvml/).
//
// --no-kernels leaves out what needs NCCL's own kernels (the ring of sends; on one rank the
// collectives are copies). NCCL ships them as SASS, with the compute_120 PTX of its
// relocatable objects beside it, which the simulator links and runs on a device of that
// capability (VGPU_SIM_CC=12.0, tests/gpu/module.mk).
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpucheck.h"

#define NCCL_CHECK(call)                                                                        \
	do {                                                                                    \
		ncclResult_t r_ = (call);                                                       \
		if (r_ != ncclSuccess) {                                                        \
			printf("FAIL %s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call,          \
			       ncclGetErrorString(r_), ncclGetLastError(NULL));                \
			exit(1);                                                                \
		}                                                                               \
	} while (0)

#define MAXR 4
static int nr;
static ncclComm_t comm[MAXR];
static cudaStream_t st[MAXR];

static void sync_all(void)
{
	for (int r = 0; r < nr; r++) {
		CHECK_RT(cudaSetDevice(r));
		CHECK_RT(cudaStreamSynchronize(st[r]));
	}
}

static float val(int rank, size_t i) { return (float)((rank + 1) * 3 + (int)(i % 97)) * 0.5f; }

int main(int argc, char **argv)
{
	int ndev = 0, v = 0, kernels = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-kernels")) {
			kernels = 0;
		} else {
			printf("usage: %s [--no-kernels]\n", argv[0]);
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	CHECK_RT(cudaGetDeviceCount(&ndev));
	nr = ndev < MAXR ? ndev : MAXR;
	NCCL_CHECK(ncclGetVersion(&v));
	int devs[MAXR];
	for (int r = 0; r < nr; r++)
		devs[r] = r;
	NCCL_CHECK(ncclCommInitAll(comm, nr, devs));
	for (int r = 0; r < nr; r++) {
		int cr = -1, cn = -1, cd = -1;
		NCCL_CHECK(ncclCommUserRank(comm[r], &cr));
		NCCL_CHECK(ncclCommCount(comm[r], &cn));
		NCCL_CHECK(ncclCommCuDevice(comm[r], &cd));
		if (cr != r || cn != nr || cd != r) {
			printf("FAIL: communicator %d says rank %d of %d on device %d\n", r, cr, cn, cd);
			return 1;
		}
		CHECK_RT(cudaSetDevice(r));
		CHECK_RT(cudaStreamCreate(&st[r]));
	}
	printf("communicators: %d rank%s\n", nr, nr == 1 ? "" : "s");

	const size_t n = 300007;   // not a multiple of anything NCCL chunks by
	float *send[MAXR], *recv[MAXR], *gath[MAXR];
	float *h = (float *)malloc(n * nr * sizeof(float));
	for (int r = 0; r < nr; r++) {
		CHECK_RT(cudaSetDevice(r));
		CHECK_RT(cudaMalloc(&send[r], n * sizeof(float)));
		CHECK_RT(cudaMalloc(&recv[r], n * sizeof(float)));
		CHECK_RT(cudaMalloc(&gath[r], n * nr * sizeof(float)));
		for (size_t i = 0; i < n; i++)
			h[i] = val(r, i);
		CHECK_RT(cudaMemcpy(send[r], h, n * sizeof(float), cudaMemcpyHostToDevice));
	}
	int bad = 0;

	// all-reduce, sum, out of place
	NCCL_CHECK(ncclGroupStart());
	for (int r = 0; r < nr; r++)
		NCCL_CHECK(ncclAllReduce(send[r], recv[r], n, ncclFloat, ncclSum, comm[r], st[r]));
	NCCL_CHECK(ncclGroupEnd());
	sync_all();
	for (int r = 0; r < nr; r++) {
		CHECK_RT(cudaMemcpy(h, recv[r], n * sizeof(float), cudaMemcpyDeviceToHost));
		for (size_t i = 0; i < n; i++) {
			float want = 0;
			for (int q = 0; q < nr; q++)
				want += val(q, i);
			if (h[i] != want && bad++ < 3)
				printf("allreduce sum: rank %d [%zu] %g, want %g\n", r, i, h[i], want);
		}
	}
	printf("allreduce sum: %s\n", bad ? "WRONG" : "ok");

	// all-reduce, max, in place
	int b0 = bad;
	NCCL_CHECK(ncclGroupStart());
	for (int r = 0; r < nr; r++)
		NCCL_CHECK(ncclAllReduce(send[r], send[r], n, ncclFloat, ncclMax, comm[r], st[r]));
	NCCL_CHECK(ncclGroupEnd());
	sync_all();
	for (int r = 0; r < nr; r++) {
		CHECK_RT(cudaMemcpy(h, send[r], n * sizeof(float), cudaMemcpyDeviceToHost));
		for (size_t i = 0; i < n; i++)
			if (h[i] != val(nr - 1, i) && bad++ < b0 + 3)
				printf("allreduce max: rank %d [%zu] %g, want %g\n", r, i, h[i], val(nr - 1, i));
	}
	printf("allreduce max in place: %s\n", bad > b0 ? "WRONG" : "ok");

	// broadcast from the last rank, all-gather, reduce to rank 0, reduce-scatter
	b0 = bad;
	int root = nr - 1;
	NCCL_CHECK(ncclGroupStart());
	for (int r = 0; r < nr; r++)
		NCCL_CHECK(ncclBroadcast(send[r], recv[r], n, ncclFloat, root, comm[r], st[r]));
	NCCL_CHECK(ncclGroupEnd());
	sync_all();
	for (int r = 0; r < nr; r++) {
		CHECK_RT(cudaMemcpy(h, recv[r], n * sizeof(float), cudaMemcpyDeviceToHost));
		for (size_t i = 0; i < n; i++)
			if (h[i] != val(root, i) && bad++ < b0 + 3)
				printf("broadcast: rank %d [%zu] %g\n", r, i, h[i]);
	}
	printf("broadcast: %s\n", bad > b0 ? "WRONG" : "ok");

	b0 = bad;
	for (int r = 0; r < nr; r++) {   // each rank's own values again
		for (size_t i = 0; i < n; i++)
			h[i] = val(r, i);
		CHECK_RT(cudaSetDevice(r));
		CHECK_RT(cudaMemcpy(send[r], h, n * sizeof(float), cudaMemcpyHostToDevice));
	}
	NCCL_CHECK(ncclGroupStart());
	for (int r = 0; r < nr; r++)
		NCCL_CHECK(ncclAllGather(send[r], gath[r], n, ncclFloat, comm[r], st[r]));
	NCCL_CHECK(ncclGroupEnd());
	sync_all();
	for (int r = 0; r < nr; r++) {
		CHECK_RT(cudaMemcpy(h, gath[r], n * nr * sizeof(float), cudaMemcpyDeviceToHost));
		for (int q = 0; q < nr; q++)
			for (size_t i = 0; i < n; i++)
				if (h[q * n + i] != val(q, i) && bad++ < b0 + 3)
					printf("allgather: rank %d part %d [%zu] %g\n", r, q, i, h[q * n + i]);
	}
	printf("allgather: %s\n", bad > b0 ? "WRONG" : "ok");

	b0 = bad;
	NCCL_CHECK(ncclGroupStart());
	for (int r = 0; r < nr; r++)
		NCCL_CHECK(ncclReduceScatter(gath[r], recv[r], n, ncclFloat, ncclSum, comm[r], st[r]));
	NCCL_CHECK(ncclGroupEnd());
	sync_all();
	for (int r = 0; r < nr; r++) {   // every rank holds all parts: part r summed nr times
		CHECK_RT(cudaMemcpy(h, recv[r], n * sizeof(float), cudaMemcpyDeviceToHost));
		for (size_t i = 0; i < n; i++)
			if (h[i] != val(r, i) * nr && bad++ < b0 + 3)
				printf("reducescatter: rank %d [%zu] %g, want %g\n", r, i, h[i], val(r, i) * nr);
	}
	printf("reducescatter: %s\n", bad > b0 ? "WRONG" : "ok");

	// a ring of sends: rank r sends its values to r+1 and receives r-1's
	b0 = bad;
	if (!kernels) {
		printf("send/recv ring: not run (--no-kernels: it needs NCCL's kernels)\n");
		goto done;
	}
	NCCL_CHECK(ncclGroupStart());
	for (int r = 0; r < nr; r++) {
		NCCL_CHECK(ncclSend(send[r], n, ncclFloat, (r + 1) % nr, comm[r], st[r]));
		NCCL_CHECK(ncclRecv(recv[r], n, ncclFloat, (r + nr - 1) % nr, comm[r], st[r]));
	}
	NCCL_CHECK(ncclGroupEnd());
	sync_all();
	for (int r = 0; r < nr; r++) {
		int from = (r + nr - 1) % nr;
		CHECK_RT(cudaMemcpy(h, recv[r], n * sizeof(float), cudaMemcpyDeviceToHost));
		for (size_t i = 0; i < n; i++)
			if (h[i] != val(from, i) && bad++ < b0 + 3)
				printf("send/recv: rank %d [%zu] %g, want %g\n", r, i, h[i], val(from, i));
	}
	printf("send/recv ring: %s\n", bad > b0 ? "WRONG" : "ok");
done:

	for (int r = 0; r < nr; r++) {
		CHECK_RT(cudaSetDevice(r));
		CHECK_RT(cudaFree(send[r]));
		CHECK_RT(cudaFree(recv[r]));
		CHECK_RT(cudaFree(gath[r]));
		CHECK_RT(cudaStreamDestroy(st[r]));
		NCCL_CHECK(ncclCommDestroy(comm[r]));
	}
	free(h);
	if (bad) {
		printf("FAIL: %d wrong values\n", bad);
		return 1;
	}
	printf("PASS: NCCL %d.%d, %d rank%s, every collective verified\n", v / 10000, v / 100 % 100, nr, nr == 1 ? "" : "s");
	return 0;
}
