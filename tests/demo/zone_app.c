/* SPDX-License-Identifier: MIT */
/* zone_app.c — the demo's tenant program: an ordinary CUDA driver-API application (vector add or reduction) that checks its own results. */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *who = "zone";

static void check(CUresult r, const char *what)
{
	if (r != CUDA_SUCCESS) {
		const char *n = NULL;
		cuGetErrorName(r, &n);
		fprintf(stderr, "[%s] %s failed: %s\n", who, what, n ? n : "?");
		exit(1);
	}
}

static CUfunction get(CUmodule m, const char *name)
{
	CUfunction f;
	check(cuModuleGetFunction(&f, m, name), name);
	return f;
}

/* vecadd: c = a + b over 1M floats, repeated; checks every element each round. */
static int vecadd(CUmodule m, int rounds, const char *share)
{
	const int n = 1 << 20;
	float *a = malloc(n * 4), *b = malloc(n * 4), *c = malloc(n * 4);
	CUdeviceptr da, db, dc;
	CUfunction f = get(m, "vec_add");
	int rc = 0;

	if (!a || !b || !c) {
		fprintf(stderr, "[%s] out of host memory\n", who);
		return 1;
	}
	check(cuMemAlloc(&da, n * 4), "cuMemAlloc");
	check(cuMemAlloc(&db, n * 4), "cuMemAlloc");
	check(cuMemAlloc(&dc, n * 4), "cuMemAlloc");
	if (share) {
		/* Publish a device address, so the demo's intruder can try to read it. */
		FILE *fp = fopen(share, "w");
		if (fp) {
			fprintf(fp, "0x%llx\n", (unsigned long long)da);
			fclose(fp);
		}
	}
	for (int r = 0; r < rounds && !rc; r++) {
		for (int i = 0; i < n; i++) {
			a[i] = (float)(i % 1000) * 0.5f;
			b[i] = (float)r;
		}
		check(cuMemcpyHtoD(da, a, n * 4), "cuMemcpyHtoD");
		check(cuMemcpyHtoD(db, b, n * 4), "cuMemcpyHtoD");
		int nn = n;
		void *args[] = { &da, &db, &dc, &nn };
		check(cuLaunchKernel(f, n / 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL), "cuLaunchKernel");
		check(cuMemcpyDtoH(c, dc, n * 4), "cuMemcpyDtoH");
		for (int i = 0; i < n && !rc; i++) {
			if (c[i] != a[i] + b[i]) {
				fprintf(stderr, "[%s] round %d: c[%d] = %g, expected %g\n", who, r, i, c[i], a[i] + b[i]);
				rc = 1;
			}
		}
		if (!rc) {
			printf("[%s] round %d: %d-element vector add verified\n", who, r + 1, n);
			fflush(stdout);
		}
	}
	check(cuMemFree(da), "cuMemFree");
	check(cuMemFree(db), "cuMemFree");
	check(cuMemFree(dc), "cuMemFree");
	free(a);
	free(b);
	free(c);
	return rc;
}

/* reduce: sums 256K values with a shared-memory block reduction, repeated. */
static int reduce(CUmodule m, int rounds)
{
	const int n = 1 << 18, blocks = n / 256;
	float *in = malloc(n * 4), *part = malloc(blocks * 4);
	CUdeviceptr din, dpart;
	CUfunction f = get(m, "block_reduce");
	int rc = 0;

	if (!in || !part) {
		fprintf(stderr, "[%s] out of host memory\n", who);
		return 1;
	}
	check(cuMemAlloc(&din, n * 4), "cuMemAlloc");
	check(cuMemAlloc(&dpart, blocks * 4), "cuMemAlloc");
	for (int r = 0; r < rounds && !rc; r++) {
		double ref = 0, sum = 0;
		for (int i = 0; i < n; i++) {
			in[i] = (float)((i * 7 + r) % 13) - 6.0f;
			ref += in[i];
		}
		check(cuMemcpyHtoD(din, in, n * 4), "cuMemcpyHtoD");
		int nn = n;
		void *args[] = { &din, &dpart, &nn };
		check(cuLaunchKernel(f, blocks, 1, 1, 256, 1, 1, 0, NULL, args, NULL), "cuLaunchKernel");
		check(cuMemcpyDtoH(part, dpart, blocks * 4), "cuMemcpyDtoH");
		for (int i = 0; i < blocks; i++)
			sum += part[i];
		if (sum != ref) {
			fprintf(stderr, "[%s] round %d: sum %g, expected %g\n", who, r, sum, ref);
			rc = 1;
		} else {
			printf("[%s] round %d: reduction of %d values = %.0f verified\n", who, r + 1, n, sum);
			fflush(stdout);
		}
	}
	check(cuMemFree(din), "cuMemFree");
	check(cuMemFree(dpart), "cuMemFree");
	free(in);
	free(part);
	return rc;
}

/* intruder: tries to read another zone's device memory, and to take more than its quota. */
static int intruder(const char *share, size_t quota)
{
	unsigned long long addr = 0;
	FILE *fp = fopen(share, "r");
	char buf[64];
	CUdeviceptr p;
	CUresult r;
	const char *n = NULL;

	if (!fp || fscanf(fp, "%llx", &addr) != 1) {
		fprintf(stderr, "[%s] no address published in %s\n", who, share);
		return 1;
	}
	fclose(fp);
	r = cuMemcpyDtoH(buf, (CUdeviceptr)addr, sizeof(buf));
	cuGetErrorName(r, &n);
	printf("[%s] read 64 bytes of another zone's memory at 0x%llx -> %s\n", who, addr, n);
	if (r == CUDA_SUCCESS)
		return 1;
	r = cuMemAlloc(&p, quota + 1);
	cuGetErrorName(r, &n);
	printf("[%s] allocate %zu MiB + 1 byte, more than its quota -> %s\n", who, quota >> 20, n);
	if (r != CUDA_ERROR_OUT_OF_MEMORY)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	CUdevice dev;
	CUcontext ctx;
	CUmodule m;
	char name[128];

	if (argc < 3 || strcmp(argv[1], "--help") == 0) {
		printf("usage: zone_app vecadd|reduce KERNEL_IMAGE [ROUNDS] [SHARE_FILE]\n"
		       "       zone_app intruder KERNEL_IMAGE SHARE_FILE QUOTA_BYTES\n"
		       "An ordinary CUDA driver-API program used by `make demo` as a zone's workload.\n");
		return argc < 3 ? 2 : 0;
	}
	who = argv[1];
	check(cuInit(0), "cuInit");
	check(cuDeviceGet(&dev, 0), "cuDeviceGet");
	check(cuDeviceGetName(name, sizeof(name), dev), "cuDeviceGetName");
	check(cuCtxCreate(&ctx, NULL, 0, dev), "cuCtxCreate");
	check(cuModuleLoad(&m, argv[2]), "cuModuleLoad");
	printf("[%s] pid %d sees device 0: %s\n", who, (int)getpid(), name);
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	int rc;
	if (strcmp(who, "vecadd") == 0)
		rc = vecadd(m, rounds, argc > 4 ? argv[4] : NULL);
	else if (strcmp(who, "reduce") == 0)
		rc = reduce(m, rounds);
	else if (strcmp(who, "intruder") == 0 && argc > 4)
		rc = intruder(argv[3], strtoull(argv[4], NULL, 0));
	else
		rc = 2;
	check(cuModuleUnload(m), "cuModuleUnload");
	check(cuCtxDestroy(ctx), "cuCtxDestroy");
	printf("[%s] %s\n", who, rc == 0 ? "done: all results correct" : "FAILED");
	return rc;
}
