/* SPDX-License-Identifier: MIT */
/*
 * va_probe.c — where a driver places device memory, and whether a fresh process gets an
 * address back when it asks for it (cuMemAddressReserve with a hint). A zone restored into a
 * new worker needs its old device addresses; tests/gpu/va_probe.sh runs this in separate
 * processes to find out what the driver of a machine allows.
 *
 *   va_probe alloc               cuMemAlloc 16 MiB and 1 MiB; prints `alloc ADDR ADDR`, and the
 *                                VMM granularity as `granularity N`
 *   va_probe reserve ADDR SIZE   in this fresh process, reserve SIZE bytes at ADDR (hex):
 *                                prints `reserve ADDR SIZE -> GOT honoured|moved|refused CURESULT`,
 *                                then maps memory there when honoured and writes and reads it back
 *
 * Both create the primary context first, as a worker does. Exit 0 whatever the driver
 * answered (the answers are the finding); 1 when a call that must work failed.
 */
#include <cuda.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ck(CUresult r, const char *what)
{
	if (r == CUDA_SUCCESS)
		return 0;
	const char *name = NULL;
	cuGetErrorName(r, &name);
	fprintf(stderr, "va_probe: %s failed: %s (%d)\n", what, name ? name : "?", (int)r);
	return 1;
}

static size_t granularity(void)
{
	CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				     .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
	size_t g = 0;
	if (cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) != CUDA_SUCCESS || !g)
		g = 2u << 20;
	return g;
}

/* Map size bytes at addr (reserved), write a pattern, read it back. 0 when it round-trips. */
static int use_range(CUdeviceptr addr, size_t size)
{
	CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				     .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
	CUmemAccessDesc acc = { .location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
	CUmemGenericAllocationHandle h;
	unsigned char out[4096], in[4096];
	int bad = 0;

	if (ck(cuMemCreate(&h, size, &prop, 0), "cuMemCreate"))
		return 1;
	if (ck(cuMemMap(addr, size, 0, h, 0), "cuMemMap") || ck(cuMemSetAccess(addr, size, &acc, 1), "cuMemSetAccess")) {
		cuMemRelease(h);
		return 1;
	}
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (unsigned char)(i * 7 + 3);
	memset(in, 0, sizeof(in));
	bad = ck(cuMemcpyHtoD(addr, out, sizeof(out)), "cuMemcpyHtoD") ||
	      ck(cuMemcpyDtoH(in, addr, sizeof(in)), "cuMemcpyDtoH") || memcmp(in, out, sizeof(in)) != 0;
	cuMemUnmap(addr, size);
	cuMemRelease(h);
	return bad;
}

int main(int argc, char **argv)
{
	CUdevice dev;
	CUcontext ctx;

	if (argc < 2 || !strcmp(argv[1], "--help") || (strcmp(argv[1], "alloc") && strcmp(argv[1], "reserve")) ||
	    (!strcmp(argv[1], "reserve") && argc != 4)) {
		fprintf(argc < 2 || !strcmp(argv[1], "--help") ? stdout : stderr,
			"usage: va_probe alloc | va_probe reserve ADDR SIZE   (ADDR and SIZE in hex or decimal)\n"
			"Prints where cuMemAlloc places memory in this process, or whether the driver reserves\n"
			"device addresses at ADDR when asked in this fresh process.\n");
		return argc < 2 || !strcmp(argv[1], "--help") ? 0 : 2;
	}
	if (ck(cuInit(0), "cuInit") || ck(cuDeviceGet(&dev, 0), "cuDeviceGet") ||
	    ck(cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain") || ck(cuCtxSetCurrent(ctx), "cuCtxSetCurrent"))
		return 1;
	size_t g = granularity();
	if (!strcmp(argv[1], "alloc")) {
		CUdeviceptr a, b;
		if (ck(cuMemAlloc(&a, 16u << 20), "cuMemAlloc") || ck(cuMemAlloc(&b, 1u << 20), "cuMemAlloc"))
			return 1;
		printf("alloc 0x%" PRIx64 " 0x%" PRIx64 "\n", (uint64_t)a, (uint64_t)b);
		printf("granularity %zu\n", g);
		return 0;
	}
	char *end;
	uint64_t want = strtoull(argv[2], &end, 0);
	if (*end) {
		fprintf(stderr, "va_probe: '%s' is not an address\n", argv[2]);
		return 2;
	}
	uint64_t size = strtoull(argv[3], &end, 0);
	if (*end || !size) {
		fprintf(stderr, "va_probe: '%s' is not a size\n", argv[3]);
		return 2;
	}
	want &= ~(uint64_t)(g - 1);                     /* the granules that hold the address */
	size = (size + g - 1) & ~(uint64_t)(g - 1);
	CUdeviceptr got = 0;
	CUresult r = cuMemAddressReserve(&got, size, 0, want, 0);
	const char *name = NULL;
	cuGetErrorName(r, &name);
	const char *verdict = r != CUDA_SUCCESS ? "refused" : got == want ? "honoured" : "moved";
	printf("reserve 0x%" PRIx64 " 0x%" PRIx64 " -> 0x%" PRIx64 " %s %s\n", want, size, (uint64_t)got, verdict,
	       name ? name : "?");
	if (r == CUDA_SUCCESS) {
		if (got == want)
			printf("use %s\n", use_range(got, size) ? "failed" : "ok");
		cuMemAddressFree(got, size);
	}
	return 0;
}
