/* SPDX-License-Identifier: MIT */
/*
 * zone_hold.c — a tenant that allocates BYTES of device memory, fills and checks it, says
 * "ready free=F total=T" (what cuMemGetInfo then tells it), then waits for a line on stdin
 * and touches the memory again. Used to observe a
 * live zone from outside (stats, registrations) and what happens to it when its
 * registration is dropped. Prints the CUresult name of the first failing call and exits 3
 * when it fails after "ready", 1 before.
 */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *rname(CUresult r)
{
	const char *n = NULL;
	return cuGetErrorName(r, &n) == CUDA_SUCCESS && n ? n : "?";
}

#define TRY(call, code) do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { \
	printf("%s failed: %s\n", #call, rname(r_)); fflush(stdout); exit(code); } } while (0)

/* Global, so that exiting from TRY does not count as a leak. */
static unsigned char *h, *back;

int main(int argc, char **argv)
{
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr p;
	char line[16];

	if (argc != 2 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: zone_hold BYTES\n");
		return 2;
	}
	size_t n = strtoull(argv[1], NULL, 0);
	h = malloc(n);
	back = malloc(n);
	if (!h || !back)
		return 2;
	for (size_t i = 0; i < n; i++)
		h[i] = (unsigned char)(i * 7 + 1);
	TRY(cuInit(0), 1);
	TRY(cuDeviceGet(&dev, 0), 1);
	TRY(cuCtxCreate(&ctx, NULL, 0, dev), 1);
	TRY(cuMemAlloc(&p, n), 1);
	TRY(cuMemcpyHtoD(p, h, n), 1);
	TRY(cuMemcpyDtoH(back, p, n), 1);
	if (memcmp(h, back, n) != 0) {
		printf("data mismatch\n");
		return 1;
	}
	size_t fr = 0, tot = 0;
	TRY(cuMemGetInfo(&fr, &tot), 1);
	printf("ready free=%zu total=%zu\n", fr, tot);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	TRY(cuMemcpyDtoH(back, p, n), 3);
	TRY(cuMemFree(p), 3);
	printf("done\n");
	return 0;
}
