/* SPDX-License-Identifier: MIT */
/* cudart_abi.c — a program as an older nvcc builds it, against the CUDA runtime library named
 * on the command line (CUDA 11.8's libcudart.so.11.0, as PyTorch's cu118 builds and most
 * deployed CUDA 11 software ship it, or any other): its fatbin registered the way nvcc's host
 * stubs register it, then kernels, streams, events, pinned and mapped memory, a stream
 * captured into a graph and replayed, a __device__ variable read by symbol, stream-ordered
 * allocation, attributes and occupancy. Each result is checked; the output is the same on
 * every backend (tests/gpu/cudart_abi.sh compares it directly and through vgpu).
 * usage: cudart_abi LIBCUDART FATBIN   (FATBIN: cudart_abi.fatbin, built from
 * tests/kernels/cudart_abi.cu) */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { unsigned x, y, z; } dim3;
/* the fatbin wrapper nvcc's host code hands __cudaRegisterFatBinary */
struct wrapper { int magic, version; const void *data; void *unused; };
static struct wrapper w;
/* the host-side stubs whose addresses name the kernels and the variable */
static void add_stub(void) {}
static void scale_stub(void) {}
static void bump_stub(void) {}
static int counter_shadow;
static void *h;
#define F(name, ...) ((int (*)(__VA_ARGS__))dlsym(h, name))
static const char *es(int r) { return ((const char *(*)(int))dlsym(h, "cudaGetErrorString"))(r); }
#define CK(x) do { int r_ = (x); if (r_) { printf("FAIL %s: %d %s\n", #x, r_, es(r_)); bad++; } else printf("ok   %s\n", #x); } while (0)

int main(int argc, char **argv)
{
	int bad = 0;
	if (argc != 3) {
		fprintf(stderr, "usage: %s LIBCUDART FATBIN\n", argv[0]);
		return 2;
	}
	if (!(h = dlopen(argv[1], RTLD_NOW))) {
		fprintf(stderr, "cudart_abi: cannot load %s: %s\n", argv[1], dlerror());
		return 2;
	}
	FILE *fb = fopen(argv[2], "rb");
	if (!fb) {
		perror(argv[2]);
		return 2;
	}
	fseek(fb, 0, SEEK_END);
	long flen = ftell(fb);
	fseek(fb, 0, SEEK_SET);
	void *al = aligned_alloc(8, ((size_t)flen + 7) & ~7ul);
	if (!al || flen <= 0 || fread(al, 1, (size_t)flen, fb) != (size_t)flen) {
		fprintf(stderr, "cudart_abi: cannot read %s\n", argv[2]);
		return 2;
	}
	fclose(fb);
	void **(*reg)(void *) = (void **(*)(void *))dlsym(h, "__cudaRegisterFatBinary");
	void (*regf)(void **, const char *, char *, const char *, int, void *, void *, void *, void *, int *) =
		(void (*)(void **, const char *, char *, const char *, int, void *, void *, void *, void *, int *))dlsym(h, "__cudaRegisterFunction");
	void (*regv)(void **, char *, char *, const char *, int, size_t, int, int) =
		(void (*)(void **, char *, char *, const char *, int, size_t, int, int))dlsym(h, "__cudaRegisterVar");
	void (*rege)(void **) = (void (*)(void **))dlsym(h, "__cudaRegisterFatBinaryEnd");
	if (!reg || !regf || !regv || !rege) {
		fprintf(stderr, "cudart_abi: %s lacks nvcc's registration entry points\n", argv[1]);
		return 2;
	}
	w.magic = 0x466243b1;
	w.version = 1;
	w.data = al;
	void **hd = reg(&w);
	regf(hd, (const char *)add_stub, "add", "add", -1, 0, 0, 0, 0, 0);
	regf(hd, (const char *)scale_stub, "scale", "scale", -1, 0, 0, 0, 0, 0);
	regf(hd, (const char *)bump_stub, "bump", "bump", -1, 0, 0, 0, 0, 0);
	regv(hd, (char *)&counter_shadow, "counter", "counter", 0, 4, 0, 0);
	rege(hd);
	int rtv = 0;
	CK(F("cudaRuntimeGetVersion", int *)(&rtv));
	printf("     runtime %d.%d\n", rtv / 1000, rtv % 1000 / 10);
	int n = 4096;
	size_t sz = 4 * (size_t)n;
	float *a = malloc(sz), *b = malloc(sz), *c = malloc(sz);
	for (int i = 0; i < n; i++) {
		a[i] = (float)i;
		b[i] = 2.0f * (float)i;
	}
	float *da, *db, *dc, *ph;
	void *s = 0, *s2 = 0, *e1 = 0, *e2 = 0, *g = 0, *ge = 0;
	char prop[4096];
	CK(F("cudaSetDevice", int)(0));
	CK(F("cudaGetDeviceProperties", void *, int)(prop, 0));
	CK(F("cudaMalloc", void **, size_t)((void **)&da, sz));
	CK(F("cudaMalloc", void **, size_t)((void **)&db, sz));
	CK(F("cudaMalloc", void **, size_t)((void **)&dc, sz));
	CK(F("cudaStreamCreateWithFlags", void **, unsigned)(&s, 1 /* non-blocking */));
	CK(F("cudaStreamCreate", void **)(&s2));
	CK(F("cudaEventCreate", void **)(&e1));
	CK(F("cudaEventCreate", void **)(&e2));
	CK(F("cudaMallocHost", void **, size_t)((void **)&ph, sz));
	memcpy(ph, a, sz);
	CK(F("cudaMemcpyAsync", void *, const void *, size_t, int, void *)(da, ph, sz, 1, s));
	CK(F("cudaMemcpy", void *, const void *, size_t, int)(db, b, sz, 1));
	void *args[] = { &da, &db, &dc, &n };
	dim3 grid = { 16, 1, 1 }, block = { 256, 1, 1 }, one = { 1, 1, 1 }, warp = { 32, 1, 1 };
	CK(F("cudaEventRecord", void *, void *)(e1, s));
	CK(F("cudaLaunchKernel", const void *, dim3, dim3, void **, size_t, void *)((const void *)add_stub, grid, block, args, 0, s));
	CK(F("cudaEventRecord", void *, void *)(e2, s));
	CK(F("cudaStreamSynchronize", void *)(s));
	float ms = -1;
	CK(F("cudaEventElapsedTime", float *, void *, void *)(&ms, e1, e2));
	CK(F("cudaMemcpy", void *, const void *, size_t, int)(c, dc, sz, 2));
	int wrong = 0;
	for (int i = 0; i < n; i++)
		wrong += c[i] != 3.0f * (float)i;
	printf("%s a kernel on a stream, timed by events (%d wrong)\n", wrong || ms < 0 ? "FAIL" : "ok  ", wrong);
	bad += wrong || ms < 0;

	/* a stream captured into a graph, instantiated in CUDA 11's five-argument form, replayed */
	float sc = 2;
	void *sargs[] = { &dc, &sc, &n };
	size_t nn = 0;
	CK(F("cudaStreamBeginCapture", void *, int)(s2, 0));
	CK(F("cudaLaunchKernel", const void *, dim3, dim3, void **, size_t, void *)((const void *)scale_stub, grid, block, sargs, 0, s2));
	CK(F("cudaLaunchKernel", const void *, dim3, dim3, void **, size_t, void *)((const void *)bump_stub, one, warp, NULL, 0, s2));
	CK(F("cudaStreamEndCapture", void *, void **)(s2, &g));
	CK(F("cudaGraphGetNodes", void *, void *, size_t *)(g, NULL, &nn));
	printf("%s the captured graph has %zu nodes\n", nn == 2 ? "ok  " : "FAIL", nn);
	bad += nn != 2;
	CK(F("cudaGraphInstantiate", void **, void *, void *, char *, size_t)(&ge, g, NULL, NULL, 0));
	for (int k = 0; k < 3; k++)
		CK(F("cudaGraphLaunch", void *, void *)(ge, s2));
	CK(F("cudaStreamSynchronize", void *)(s2));
	CK(F("cudaMemcpy", void *, const void *, size_t, int)(c, dc, sz, 2));
	wrong = 0;
	for (int i = 0; i < n; i++)
		wrong += c[i] != 24.0f * (float)i;
	printf("%s three replays of the graph (%d wrong)\n", wrong ? "FAIL" : "ok  ", wrong);
	bad += !!wrong;
	int cnt = 0;
	CK(F("cudaMemcpyFromSymbol", void *, const void *, size_t, size_t, int)(&cnt, &counter_shadow, 4, 0, 2));
	printf("%s a __device__ variable read by its symbol: %d\n", cnt == 96 ? "ok  " : "FAIL", cnt);
	bad += cnt != 96;

	void *pa = 0, *mapped = 0, *dmapped = 0;
	CK(F("cudaMallocAsync", void **, size_t, void *)(&pa, 1 << 20, s));
	CK(F("cudaMemsetAsync", void *, int, size_t, void *)(pa, 7, 1 << 20, s));
	CK(F("cudaFreeAsync", void *, void *)(pa, s));
	CK(F("cudaStreamSynchronize", void *)(s));
	/* cudaFuncAttributes: sharedSizeBytes, constSizeBytes, localSizeBytes, maxThreadsPerBlock, numRegs, ... */
	struct { size_t sh, cs, ls; int max_threads, regs; char rest[256]; } fa;
	int nb = 0;
	CK(F("cudaFuncGetAttributes", void *, const void *)(&fa, (const void *)add_stub));
	CK(F("cudaOccupancyMaxActiveBlocksPerMultiprocessor", int *, const void *, int, size_t)(&nb, (const void *)add_stub, 256, 0));
	printf("%s a kernel's attributes and occupancy\n", fa.max_threads >= 256 && fa.regs > 0 && nb > 0 ? "ok  " : "FAIL");
	bad += !(fa.max_threads >= 256 && fa.regs > 0 && nb > 0);
	size_t fr = 0, tt = 0;
	CK(F("cudaMemGetInfo", size_t *, size_t *)(&fr, &tt));
	CK(F("cudaHostAlloc", void **, size_t, unsigned)(&mapped, 4096, 2 /* cudaHostAllocMapped */));
	CK(F("cudaHostGetDevicePointer", void **, void *, unsigned)(&dmapped, mapped, 0));
	CK(F("cudaFreeHost", void *)(mapped));
	CK(F("cudaFreeHost", void *)(ph));
	CK(F("cudaGraphExecDestroy", void *)(ge));
	CK(F("cudaGraphDestroy", void *)(g));
	CK(F("cudaDeviceSynchronize", void)());
	CK(F("cudaGetLastError", void)());
	CK(F("cudaDeviceReset", void)());
	free(a);
	free(b);
	free(c);
	free(al);
	printf("cudart_abi: %d failed\n", bad);
	return bad != 0;
}
