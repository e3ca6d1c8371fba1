/* SPDX-License-Identifier: MIT */
/* move_floor.c — the baseline of bench/migrate.sh: moving a zone's device memory inside one process (device to fresh host memory, then into fresh device memory), the least any migration of it costs. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CK(call) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { \
	fprintf(stderr, "move_floor: %s failed (%d)\n", #call, (int)r_); return 1; } } while (0)

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--help")) {
		printf("usage: move_floor [BYTES [RUNS]]\nCopies BYTES (default 64 MiB) of device memory to fresh host memory and "
		       "into a fresh device allocation, RUNS times (default 1); prints `floor_ms VALUE ms` per run.\n");
		return 0;
	}
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 64u << 20;
	int runs = argc > 2 ? atoi(argv[2]) : 1;
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr src;
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&src, n));
	CK(cuMemsetD8(src, 0x5a, n));
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		char *host = malloc(n);
		CUdeviceptr dst;
		if (!host)
			return 1;
		CK(cuMemcpyDtoH(host, src, n));
		CK(cuMemAlloc(&dst, n));
		CK(cuMemcpyHtoD(dst, host, n));
		double t1 = now_ms();
		printf("floor_ms %.1f ms\n", t1 - t0);
		CK(cuMemFree(dst));
		free(host);
	}
	return 0;
}
