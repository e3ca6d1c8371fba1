/* SPDX-License-Identifier: MIT */
/* Benchmark of the simulator's PTX interpreter: interpreted PTX instructions per second per
 * core on vector add and saxpy, and the slowdown against the same loop compiled natively. */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t vgpu_sim_insn_count(void);

#define CK(call) do { CUresult r_ = (call); if (r_) { \
	fprintf(stderr, "bench/sim: %s failed with %d\n", #call, r_); exit(1); } } while (0)

/* Process CPU time: with one interpreter thread and the caller blocked in the synchronising
 * call, it is the interpreter's own time, unaffected by other load on the machine. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void native_add(const float *a, const float *b, float *c, int n)
{
	for (int i = 0; i < n; i++)
		c[i] = a[i] + b[i];
}

static void native_saxpy(int n, float s, const float *x, float *y)
{
	for (int i = 0; i < n; i++)
		y[i] = s * x[i] + y[i];
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: bench/sim [N]\n"
		       "Runs vec_add and saxpy (tests/kernels/basic.cu, PTX from $VGPU_BUILD/tests/kernels)\n"
		       "on libcudasim with one interpreter thread, and reports interpreted PTX\n"
		       "instructions per second per core (process CPU time, so other load on the\n"
		       "machine does not skew it) and the slowdown against native C.\n"
		       "Goal: >= 50 M instructions/s/core. N defaults to 1048576 elements.\n");
		return 0;
	}
	int n = argc > 1 ? atoi(argv[1]) : 1 << 20;
	if (n <= 0)
		n = 1 << 20;
	setenv("VGPU_SIM_THREADS", "1", 1);     /* per-core figure: one interpreter thread */
	const char *b = getenv("VGPU_BUILD");
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/kernels/basic.ptx", b ? b : "build/rel");
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "bench/sim: cannot open %s; build the kernels first (make)\n", path);
		return 1;
	}
	static char img[1 << 20];
	size_t len = fread(img, 1, sizeof(img) - 1, f);
	fclose(f);
	img[len] = 0;

	CUcontext ctx;
	CUmodule mod;
	CUfunction fadd, fsaxpy;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&mod, img));
	CK(cuModuleGetFunction(&fadd, mod, "vec_add"));
	CK(cuModuleGetFunction(&fsaxpy, mod, "saxpy"));
	size_t bytes = (size_t)n * sizeof(float);
	float *ha = malloc(bytes), *hb = malloc(bytes), *hc = malloc(bytes);
	for (int i = 0; i < n; i++) {
		ha[i] = (float)i;
		hb[i] = (float)(n - i);
	}
	CUdeviceptr da, db, dc;
	CK(cuMemAlloc(&da, bytes));
	CK(cuMemAlloc(&db, bytes));
	CK(cuMemAlloc(&dc, bytes));
	CK(cuMemcpyHtoD(da, ha, bytes));
	CK(cuMemcpyHtoD(db, hb, bytes));

	const char *names[2] = {"vec_add", "saxpy"};
	for (int k = 0; k < 2; k++) {
		float s = 2.0f;
		void *aadd[] = {&da, &db, &dc, &n};
		void *asax[] = {&n, &s, &da, &db};
		double best = 1e30, bestwall = 1e30;
		uint64_t insns = 0;
		for (int rep = 0; rep < 3; rep++) {
			uint64_t i0 = vgpu_sim_insn_count();
			double t0 = now(), w0 = wall();
			CK(cuLaunchKernel(k ? fsaxpy : fadd, (unsigned)(n + 255) / 256, 1, 1, 256, 1, 1, 0,
			                  NULL, k ? asax : aadd, NULL));
			CK(cuCtxSynchronize());
			double t = now() - t0, w = wall() - w0;
			if (w < bestwall)
				bestwall = w;
			if (t < best) {
				best = t;
				insns = vgpu_sim_insn_count() - i0;
			}
		}
		double nbest = 1e30;
		for (int rep = 0; rep < 5; rep++) {
			double t0 = now();
			if (k)
				native_saxpy(n, 2.0f, ha, hc);
			else
				native_add(ha, hb, hc, n);
			__asm__ volatile("" : : "r"(hc) : "memory");
			double t = now() - t0;
			if (t < nbest)
				nbest = t;
		}
		printf("%-8s n=%d: %.1f M PTX insns/s/core (%llu insns, %.1f per element, %.3f s CPU, "
		       "%.3f s wall); native C %.4f s; simulator/native = %.0fx\n", names[k], n,
		       (double)insns / best / 1e6, (unsigned long long)insns, (double)insns / n, best,
		       bestwall, nbest, best / nbest);
	}
	/* three saxpy runs with a = 2 left y = b + 6a: a wrong answer makes the figures void */
	CK(cuMemcpyDtoH(hc, db, bytes));
	for (int i = 0; i < n; i++)
		if (hc[i] != hb[i] + 6.0f * ha[i]) {
			fprintf(stderr, "bench/sim: wrong saxpy result at %d: %g\n", i, (double)hc[i]);
			return 1;
		}
	CK(cuCtxDestroy(ctx));
	free(ha);
	free(hb);
	free(hc);
	return 0;
}
