/* SPDX-License-Identifier: MIT */
/* Runs the nvcc-compiled kernels of tests/kernels/basic.cu on libcudasim from three images
 * (nvcc -ptx, the default fatbin with ZSTD-compressed PTX, an LZ4-compressed fatbin) and
 * compares every result with a host reference computed here. */
#include "simtest.h"

#include <math.h>
#include <stdint.h>

static CUmodule mod;

static CUfunction fn(const char *name)
{
	CUfunction f;
	CK(cuModuleGetFunction(&f, mod, name));
	return f;
}

static CUdeviceptr dalloc(size_t n)
{
	CUdeviceptr p;
	CK(cuMemAlloc(&p, n));
	return p;
}

static int close_to(double a, double b, double rel)
{
	return fabs(a - b) <= rel * (fabs(b) + 1e-30) || fabs(a - b) < 1e-30;
}

static void t_vec_add_saxpy(void)
{
	enum { N = 1000 };
	float a[N], b[N], c[N];
	for (int i = 0; i < N; i++) {
		a[i] = (float)i * 0.5f;
		b[i] = 3.0f - (float)i;
	}
	CUdeviceptr da = dalloc(sizeof(a)), db = dalloc(sizeof(b)), dc = dalloc(sizeof(c));
	CK(cuMemcpyHtoD(da, a, sizeof(a)));
	CK(cuMemcpyHtoD(db, b, sizeof(b)));
	int n = N;
	void *args[] = {&da, &db, &dc, &n};
	CK(cuLaunchKernel(fn("vec_add"), (N + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(c, dc, sizeof(c)));
	for (int i = 0; i < N; i++)
		EXPECT(c[i] == a[i] + b[i]);

	/* saxpy through the `extra` form: one packed buffer laid out like the kernel's params */
	struct { int n; float a; CUdeviceptr x, y; } pk = {N, 2.5f, da, db};
	size_t psz = sizeof(pk);
	void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &pk, CU_LAUNCH_PARAM_BUFFER_SIZE, &psz,
	                 CU_LAUNCH_PARAM_END};
	CK(cuLaunchKernel(fn("saxpy"), 8, 1, 1, 128, 1, 1, 0, NULL, NULL, extra));
	CK(cuMemcpyDtoH(c, db, sizeof(c)));
	for (int i = 0; i < N; i++)
		EXPECT(c[i] == fmaf(2.5f, a[i], b[i]) || c[i] == 2.5f * a[i] + b[i]);

	/* cuLaunchKernelEx with a cooperative attribute, same kernel */
	CK(cuMemcpyHtoD(db, b, sizeof(b)));
	float two = 2.0f;
	void *args2[] = {&n, &two, &da, &db};
	CUlaunchAttribute at = {.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE, .value.cooperative = 1};
	CUlaunchConfig cfg = {.gridDimX = 8, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 128,
	                      .blockDimY = 1, .blockDimZ = 1, .attrs = &at, .numAttrs = 1};
	CK(cuLaunchKernelEx(&cfg, fn("saxpy"), args2, NULL));
	CK(cuMemcpyDtoH(c, db, sizeof(c)));
	for (int i = 0; i < N; i++)
		EXPECT(c[i] == fmaf(2.0f, a[i], b[i]));
	CK(cuLaunchCooperativeKernel(fn("vec_add"), 8, 1, 1, 128, 1, 1, 0, NULL, args));
	CK(cuCtxSynchronize());
	CK(cuMemFree(da));
	CK(cuMemFree(db));
	CK(cuMemFree(dc));
}

static void t_int_ops(void)
{
	enum { N = 64 };
	int a[N], b[N], out[N * 8];
	unsigned uout[N * 4];
	long long lout[N * 2];
	for (int i = 0; i < N; i++) {
		a[i] = i == 5 ? INT32_MIN : (i * 7919 - 200000) * (i % 3 ? 1 : -1);
		b[i] = (i % 5 == 0) ? 0 : (i * 31 - 900) ^ (i << 9);
		if (i == 6) b[i] = 3;
		if (i == 7) b[i] = -1;
	}
	CUdeviceptr da = dalloc(sizeof(a)), db = dalloc(sizeof(b));
	CUdeviceptr dout = dalloc(sizeof(out)), du = dalloc(sizeof(uout)), dl = dalloc(sizeof(lout));
	CK(cuMemcpyHtoD(da, a, sizeof(a)));
	CK(cuMemcpyHtoD(db, b, sizeof(b)));
	int n = N;
	void *args[] = {&da, &db, &dout, &du, &dl, &n};
	CK(cuLaunchKernel(fn("int_ops"), 2, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(out, dout, sizeof(out)));
	CK(cuMemcpyDtoH(uout, du, sizeof(uout)));
	CK(cuMemcpyDtoH(lout, dl, sizeof(lout)));
	for (int i = 0; i < N; i++) {
		int x = a[i], y = b[i];
		unsigned ux = (unsigned)x, uy = (unsigned)y;
		int32_t e[8];
		e[0] = (int32_t)((uint32_t)x * (uint32_t)y - (uint32_t)(x >> 3));
		e[1] = y != 0 ? (x == INT32_MIN && y == -1 ? x : x / y) : -1;
		e[2] = y != 0 ? (x == INT32_MIN && y == -1 ? 0 : x % y) : -2;
		e[3] = (x < y ? x : y) ^ (x > y ? x : y);
		e[4] = (int32_t)(((uint32_t)x & 0xff0f) | ((uint32_t)y << 4));
		e[5] = (int32_t)((x < 0 ? 0u - (uint32_t)x : (uint32_t)x) + (uint32_t)~y);
		e[6] = (int32_t)(((int64_t)x * y) >> 32);
		e[7] = (x < y && ux > 7) || y == 3;
		for (int k = 0; k < 8; k++)
			if (out[i * 8 + k] != e[k]) {
				fprintf(stderr, "int_ops[%d][%d]: got %d want %d (x=%d y=%d)\n", i, k,
				        out[i * 8 + k], e[k], x, y);
				exit(1);
			}
		EXPECT(uout[i * 4 + 0] == (uy ? ux / uy : 0u));
		EXPECT(uout[i * 4 + 1] == (uy ? ux % uy : 0u));
		EXPECT(uout[i * 4 + 2] == ux >> (uy & 31));
		EXPECT(uout[i * 4 + 3] == (unsigned)(((uint64_t)ux * uy) >> 32));
		EXPECT(lout[i * 2 + 0] == (long long)x * y);
		EXPECT(lout[i * 2 + 1] == ((long long)x * (1 << 20)) / (long long)(y | 1));
	}
	CK(cuMemFree(da));
	CK(cuMemFree(db));
	CK(cuMemFree(dout));
	CK(cuMemFree(du));
	CK(cuMemFree(dl));
}

static void t_reduce_hist_atomics(void)
{
	/* shared-memory tree reduction with __syncthreads */
	enum { N = 1000, B = 256 };
	float in[N], out[4];
	for (int i = 0; i < N; i++)
		in[i] = (float)(i % 17);
	CUdeviceptr di = dalloc(sizeof(in)), dout = dalloc(sizeof(out));
	CK(cuMemcpyHtoD(di, in, sizeof(in)));
	int n = N;
	void *args[] = {&di, &dout, &n};
	CK(cuLaunchKernel(fn("block_reduce"), 4, 1, 1, B, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(out, dout, sizeof(out)));
	for (int blk = 0; blk < 4; blk++) {
		float s = 0;
		for (int i = blk * B; i < (blk + 1) * B && i < N; i++)
			s += in[i];
		EXPECT(out[blk] == s);
	}
	/* atomic histogram: shared atomics, then global atomics, grid-stride loop */
	enum { M = 3000 };
	unsigned char data[M];
	unsigned bins[16] = {0}, want[16] = {0};
	for (int i = 0; i < M; i++) {
		data[i] = (unsigned char)((i * 37) ^ (i >> 3));
		want[data[i] & 15]++;
	}
	CUdeviceptr dd = dalloc(M), dbins = dalloc(sizeof(bins));
	CK(cuMemcpyHtoD(dd, data, M));
	CK(cuMemsetD32(dbins, 0, 16));
	int m = M;
	void *hargs[] = {&dd, &m, &dbins};
	CK(cuLaunchKernel(fn("histogram"), 3, 1, 1, 64, 1, 1, 0, NULL, hargs, NULL));
	CK(cuMemcpyDtoH(bins, dbins, sizeof(bins)));
	EXPECT(!memcmp(bins, want, sizeof(bins)));
	/* every atomic operation */
	int v[5] = {0, -1, 0, 5, 0};
	unsigned u[4] = {0, 0, 0xffffffffu, 0};
	float f = 0;
	CUdeviceptr dv = dalloc(sizeof(v)), du = dalloc(sizeof(u)), df = dalloc(sizeof(f));
	CK(cuMemcpyHtoD(dv, v, sizeof(v)));
	CK(cuMemcpyHtoD(du, u, sizeof(u)));
	CK(cuMemcpyHtoD(df, &f, sizeof(f)));
	void *aargs[] = {&dv, &du, &df};
	CK(cuLaunchKernel(fn("atomics"), 2, 1, 1, 64, 1, 1, 0, NULL, aargs, NULL));
	CK(cuMemcpyDtoH(v, dv, sizeof(v)));
	CK(cuMemcpyDtoH(u, du, sizeof(u)));
	CK(cuMemcpyDtoH(&f, df, sizeof(f)));
	EXPECT(v[0] == 127 * 128 / 2);
	EXPECT(v[1] == 127);
	EXPECT(v[2] == -127);
	EXPECT(v[3] == 1005);
	EXPECT(v[4] == 7);
	EXPECT(u[0] == 0xffffffffu);
	EXPECT(u[1] == 0);       /* xor of 0..127 */
	EXPECT(u[2] == 0);
	EXPECT(u[3] == 128);
	EXPECT(f == 64.0f);
	CK(cuMemFree(di));
	CK(cuMemFree(dout));
	CK(cuMemFree(dd));
	CK(cuMemFree(dbins));
	CK(cuMemFree(dv));
	CK(cuMemFree(du));
	CK(cuMemFree(df));
}

static void t_grid_stride_params(void)
{
	enum { N = 700 };
	double x[N], y[N];
	for (int i = 0; i < N; i++)
		x[i] = (double)i * 1.25;
	CUdeviceptr dx = dalloc(sizeof(x)), dy = dalloc(sizeof(y));
	CK(cuMemcpyHtoD(dx, x, sizeof(x)));
	long long n = N;
	double k = 0.75;
	void *args[] = {&dy, &dx, &n, &k};
	CK(cuLaunchKernel(fn("grid_stride"), 3, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(y, dy, sizeof(y)));
	for (int i = 0; i < N; i++)
		EXPECT(close_to(y[i], fma(sqrt(x[i]), k, (double)i / 3.0), 1e-14));

	/* mixed-size parameters and a struct by value */
	struct params { int a; double b; char c; float d[3]; short e; } p = {-7, 2.75, 'q', {1.5f, -2.25f, 8.0f}, -300};
	char c = -5;
	short s = 1234;
	int i = -100000;
	long long ll = 1LL << 40;
	float fl = 3.5f;
	double d = -1.0 / 3.0;
	unsigned char uc = 250;
	CUdeviceptr dout = dalloc(14 * sizeof(double));
	void *pargs[] = {&c, &s, &i, &ll, &fl, &d, &p, &uc, &dout};
	CK(cuLaunchKernel(fn("many_params"), 1, 1, 1, 32, 1, 1, 0, NULL, pargs, NULL));
	double out[14];
	CK(cuMemcpyDtoH(out, dout, sizeof(out)));
	double want[14] = {c, s, i, (double)ll, fl, d, p.a, p.b, p.c, p.d[0], p.d[1], p.d[2], p.e, uc};
	for (int j = 0; j < 14; j++)
		if (out[j] != want[j]) {
			fprintf(stderr, "many_params out[%d] = %g, want %g\n", j, out[j], want[j]);
			exit(1);
		}
	CK(cuMemFree(dx));
	CK(cuMemFree(dy));
	CK(cuMemFree(dout));
}

static float poly(float x, int k)
{
	float r = 0.0f;
	for (int j = 0; j < k; j++)
		r = fmaf(r, x, (float)(j + 1));
	return r;
}

CUresult vgpu_sim_module_place_global(CUmodule hmod, const char *name, CUdeviceptr addr, size_t size);
CUresult vgpu_sim_module_global_at(CUmodule hmod, unsigned i, const char **name, CUdeviceptr *addr, size_t *size);

/*
 * The restore hooks (proxy/ckpt.c): a module's globals listed, and one placed at memory the
 * caller allocated, where the module's kernels and cuModuleGetGlobal then find it; bad
 * places are refused; unloading the module leaves the caller's memory alone.
 */
static void t_place_global(void)
{
	CUmodule m;
	void *img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&m, img));
	free(img);
	const char *name;
	CUdeviceptr a, g;
	size_t sz, gsz;
	int found = 0;
	for (unsigned i = 0; vgpu_sim_module_global_at(m, i, &name, &a, &sz) == CUDA_SUCCESS; i++) {
		CK(cuModuleGetGlobal(&g, &gsz, m, name));
		EXPECT(g == a && gsz == sz);
		found += !strcmp(name, "dev_counter") || !strcmp(name, "dev_table");
	}
	EXPECT(found == 2);
	CUdeviceptr place = dalloc(4), wrong = dalloc(8), dout = dalloc(4);
	CK_RC(vgpu_sim_module_place_global(m, "dev_counter", wrong, 8), CUDA_ERROR_INVALID_VALUE);   /* its size is 4 */
	CK_RC(vgpu_sim_module_place_global(m, "dev_counter", place + 2, 4), CUDA_ERROR_INVALID_VALUE); /* runs past */
	CK_RC(vgpu_sim_module_place_global(m, "dev_counter", 0x1000, 4), CUDA_ERROR_INVALID_VALUE);   /* not memory */
	CK_RC(vgpu_sim_module_place_global(m, "no_such_global", place, 4), CUDA_ERROR_NOT_FOUND);
	int v = 41, out = 0, after = 0;
	CK(cuMemcpyHtoD(place, &v, 4));
	CK(vgpu_sim_module_place_global(m, "dev_counter", place, 4));
	CK(cuModuleGetGlobal(&g, &gsz, m, "dev_counter"));
	EXPECT(g == place);
	CUfunction f;
	CK(cuModuleGetFunction(&f, m, "use_globals"));
	void *args[] = {&dout};
	CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(&out, dout, 4));
	CK(cuMemcpyDtoH(&after, place, 4));
	EXPECT(out == 41 && after == 141);
	CK(cuModuleUnload(m));
	CK(cuMemcpyDtoH(&after, place, 4));   /* still the caller's */
	EXPECT(after == 141);
	CK(cuMemFree(place));
	CK(cuMemFree(wrong));
	CK(cuMemFree(dout));
	printf("module globals: listed, placed at the caller's memory, kept by it after unload\n");
}

static void t_globals_calls_floats(void)
{
	/* __device__ globals written from the host, read and updated by the kernel */
	CUdeviceptr dcount, dtab;
	size_t sc, st;
	CK(cuModuleGetGlobal(&dcount, &sc, mod, "dev_counter"));
	CK(cuModuleGetGlobal(&dtab, &st, mod, "dev_table"));
	EXPECT(sc == 4 && st == 32);
	CK_RC(cuModuleGetGlobal(&dcount, &sc, mod, "no_such_global"), CUDA_ERROR_NOT_FOUND);
	int five = 5;
	float tab[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	CK(cuMemcpyHtoD(dcount, &five, 4));
	CK(cuMemcpyHtoD(dtab, tab, sizeof(tab)));
	CUdeviceptr dout = dalloc(4);
	void *args[] = {&dout};
	CK(cuLaunchKernel(fn("use_globals"), 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	int out, cnt;
	float t2[8];
	CK(cuMemcpyDtoH(&out, dout, 4));
	CK(cuMemcpyDtoH(&cnt, dcount, 4));
	CK(cuMemcpyDtoH(t2, dtab, sizeof(t2)));
	EXPECT(out == 5 && cnt == 105);
	for (int i = 0; i < 8; i++)
		EXPECT(t2[i] == tab[i] * 2.0f + 5.0f);

	/* a non-inlined __device__ function call */
	enum { N = 100 };
	float x[N], y[N];
	for (int i = 0; i < N; i++)
		x[i] = (float)i / 50.0f - 1.0f;
	CUdeviceptr dx = dalloc(sizeof(x)), dy = dalloc(sizeof(y));
	CK(cuMemcpyHtoD(dx, x, sizeof(x)));
	int n = N, k = 6;
	void *cargs[] = {&dx, &dy, &n, &k};
	CK(cuLaunchKernel(fn("call_func"), 1, 1, 1, 128, 1, 1, 0, NULL, cargs, NULL));
	CK(cuMemcpyDtoH(y, dy, sizeof(y)));
	for (int i = 0; i < N; i++)
		EXPECT(y[i] == poly(x[i], k));

	/* floating point: sqrt, rcp, ex2/lg2/sin/cos approximations, min/max, fma, cvt */
	float fy[N * 8];
	double z[N * 2];
	int iz[N * 2];
	CUdeviceptr dfy = dalloc(sizeof(fy)), dz = dalloc(sizeof(z)), diz = dalloc(sizeof(iz));
	void *fargs[] = {&dx, &dfy, &dz, &diz, &n};
	CK(cuLaunchKernel(fn("float_ops"), 1, 1, 1, 128, 1, 1, 0, NULL, fargs, NULL));
	CK(cuMemcpyDtoH(fy, dfy, sizeof(fy)));
	CK(cuMemcpyDtoH(z, dz, sizeof(z)));
	CK(cuMemcpyDtoH(iz, diz, sizeof(iz)));
	for (int i = 0; i < N; i++) {
		float v = x[i];
		EXPECT(close_to(fy[i * 8 + 0], sqrtf(fabsf(v)), 1e-6));
		EXPECT(close_to(fy[i * 8 + 1], 1.0f / (v + 10.0f), 1e-6));
		EXPECT(close_to(fy[i * 8 + 2], expf(v * 0.1f), 1e-5));
		EXPECT(close_to(fy[i * 8 + 3], logf(fabsf(v) + 1.0f), 1e-5) || fabsf(v) < 1e-3f);
		EXPECT(fabsf(fy[i * 8 + 4] - (sinf(v) + cosf(v))) < 1e-5f);
		EXPECT(fy[i * 8 + 5] == fminf(v, 2.0f) + fmaxf(v, -2.0f));
		EXPECT(close_to(fy[i * 8 + 6], 1.0f / sqrtf(fabsf(v) + 1.0f), 1e-6));
		EXPECT(close_to(fy[i * 8 + 7], fmaf(v, v, -v) / 3.0f, 1e-6));
		EXPECT(close_to(z[i * 2 + 0], (double)v * 1.5 - 2.0 / ((double)v + 100.0), 1e-15));
		EXPECT(z[i * 2 + 1] == floor((double)v * 0.7));
		EXPECT(iz[i * 2 + 0] == (int)(v * 3.7f));
		EXPECT(iz[i * 2 + 1] == (int)rintf(v * 2.5f));
	}
	CK(cuMemFree(dout));
	CK(cuMemFree(dx));
	CK(cuMemFree(dy));
	CK(cuMemFree(dfy));
	CK(cuMemFree(dz));
	CK(cuMemFree(diz));
}

static void t_warp(void)
{
	enum { N = 128 };
	int in[N], out[N * 6];
	unsigned bal[N / 32];
	for (int i = 0; i < N; i++)
		in[i] = (i * 37 + 11) % 97 - (i == 70 ? 200 : 0) + (i == 100 ? 150 : 0);
	CUdeviceptr di = dalloc(sizeof(in)), dout = dalloc(sizeof(out)), db = dalloc(sizeof(bal));
	CK(cuMemcpyHtoD(di, in, sizeof(in)));
	void *args[] = {&di, &dout, &db};
	CK(cuLaunchKernel(fn("warp_ops"), 2, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(out, dout, sizeof(out)));
	CK(cuMemcpyDtoH(bal, db, sizeof(bal)));
	for (int w = 0; w < N / 32; w++) {
		const int *v = &in[w * 32];
		int s[32], up[32], mx = v[0], any = 0, all = 1;
		unsigned ballot = 0;
		for (int l = 0; l < 32; l++) {
			s[l] = up[l] = v[l];
			mx = v[l] > mx ? v[l] : mx;
			any |= v[l] > 100;
			all &= v[l] >= 0;
			ballot |= (unsigned)(v[l] & 1) << l;
		}
		for (int o = 16; o > 0; o >>= 1) {       /* shfl.down: out-of-range lanes keep their own */
			int nx[32];
			for (int l = 0; l < 32; l++)
				nx[l] = s[l] + (l + o < 32 ? s[l + o] : s[l]);
			memcpy(s, nx, sizeof(s));
		}
		for (int o = 1; o < 32; o <<= 1) {
			int nx[32];
			for (int l = 0; l < 32; l++)
				nx[l] = up[l] + (l >= o ? up[l - o] : 0);
			memcpy(up, nx, sizeof(up));
		}
		EXPECT(bal[w] == ballot);
		for (int l = 0; l < 32; l++) {
			const int *o = &out[(w * 32 + l) * 6];
			EXPECT(o[0] == s[l]);
			EXPECT(o[1] == mx);
			EXPECT(o[2] == v[7]);
			EXPECT(o[3] == up[l]);
			EXPECT(o[4] == (any | (all << 1)));
			EXPECT((unsigned)o[5] == 0xffffffffu);
		}
	}
	CK(cuMemFree(di));
	CK(cuMemFree(dout));
	CK(cuMemFree(db));

	/* match.any / match.all: warp 0 all below 1000 (all equal in /1000), warp 1 not */
	int mi[64];
	unsigned mo[64 * 3];
	for (int i = 0; i < 64; i++)
		mi[i] = (i * 7) % 23 + (i == 40 ? 5000 : 0);
	CUdeviceptr dmi = dalloc(sizeof(mi)), dmo = dalloc(sizeof(mo));
	CK(cuMemcpyHtoD(dmi, mi, sizeof(mi)));
	void *margs[] = {&dmi, &dmo};
	CK(cuLaunchKernel(fn("warp_match"), 1, 1, 1, 64, 1, 1, 0, NULL, margs, NULL));
	CK(cuMemcpyDtoH(mo, dmo, sizeof(mo)));
	for (int i = 0; i < 64; i++) {
		int w0 = i & ~31;
		unsigned any = 0;
		int alleq = 1;
		for (int l = 0; l < 32; l++) {
			any |= (unsigned)(mi[w0 + l] % 5 == mi[i] % 5) << l;
			alleq &= mi[w0 + l] / 1000 == mi[w0] / 1000;
		}
		EXPECT(mo[i * 3 + 0] == any);
		EXPECT(mo[i * 3 + 1] == (alleq ? 0xffffffffu : 0u));
		EXPECT(mo[i * 3 + 2] == (unsigned)alleq);
	}
	CK(cuMemFree(dmi));
	CK(cuMemFree(dmo));
}

/* redux.sync (sm_80 PTX, written by hand since the kernels are built for sm_75) */
static void t_redux(void)
{
	static const char *src =
		".version 7.0\n.target sm_80\n.address_size 64\n"
		".visible .entry red(.param .u64 pin, .param .u64 pout)\n{\n"
		".reg .b32 %r<8>;\n.reg .b64 %rd<6>;\n"
		" ld.param.u64 %rd1, [pin];\n ld.param.u64 %rd2, [pout];\n"
		" mov.u32 %r1, %tid.x;\n mul.wide.u32 %rd3, %r1, 4;\n add.s64 %rd4, %rd1, %rd3;\n"
		" ld.global.u32 %r2, [%rd4];\n"
		" redux.sync.add.s32 %r3, %r2, -1;\n redux.sync.min.s32 %r4, %r2, -1;\n"
		" redux.sync.max.u32 %r5, %r2, -1;\n redux.sync.xor.b32 %r6, %r2, -1;\n"
		" mul.wide.u32 %rd3, %r1, 16;\n add.s64 %rd5, %rd2, %rd3;\n"
		" st.global.v4.u32 [%rd5], {%r3, %r4, %r5, %r6};\n ret;\n}\n";
	CUmodule m;
	CUfunction f;
	CK(cuModuleLoadData(&m, src));
	CK(cuModuleGetFunction(&f, m, "red"));
	int in[32];
	unsigned out[32 * 4];
	int sum = 0, mn = 1 << 30, x = 0;
	unsigned mx = 0;
	for (int i = 0; i < 32; i++) {
		in[i] = (i * 2654435761u) % 1000 - 500;
		sum += in[i];
		mn = in[i] < mn ? in[i] : mn;
		mx = (unsigned)in[i] > mx ? (unsigned)in[i] : mx;
		x ^= in[i];
	}
	CUdeviceptr di = dalloc(sizeof(in)), dout = dalloc(sizeof(out));
	CK(cuMemcpyHtoD(di, in, sizeof(in)));
	void *args[] = {&di, &dout};
	CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(out, dout, sizeof(out)));
	for (int i = 0; i < 32; i++) {
		EXPECT((int)out[i * 4 + 0] == sum && (int)out[i * 4 + 1] == mn);
		EXPECT(out[i * 4 + 2] == mx && (int)out[i * 4 + 3] == x);
	}
	CK(cuMemFree(di));
	CK(cuMemFree(dout));
	CK(cuModuleUnload(m));
}

/* isspacep on global and shared generic addresses; nanosleep and prefetch are accepted. */
static void t_spaces(void)
{
	static const char *src =
		".version 7.0\n.target sm_75\n.address_size 64\n"
		".visible .entry sp(.param .u64 pout)\n{\n"
		".shared .align 4 .b8 sh[16];\n.reg .pred %p<5>;\n.reg .b32 %r<6>;\n.reg .b64 %rd<5>;\n"
		" ld.param.u64 %rd1, [pout];\n mov.u64 %rd2, sh;\n cvta.shared.u64 %rd3, %rd2;\n"
		" isspacep.global %p1, %rd1;\n isspacep.shared %p2, %rd1;\n"
		" isspacep.global %p3, %rd3;\n isspacep.shared %p4, %rd3;\n"
		" nanosleep.u32 100;\n prefetch.global.L2 [%rd1];\n"
		" selp.u32 %r1, 1, 0, %p1;\n selp.u32 %r2, 1, 0, %p2;\n"
		" selp.u32 %r3, 1, 0, %p3;\n selp.u32 %r4, 1, 0, %p4;\n"
		" cvta.to.global.u64 %rd4, %rd1;\n st.global.v4.u32 [%rd4], {%r1, %r2, %r3, %r4};\n ret;\n}\n";
	CUmodule m;
	CUfunction f;
	CK(cuModuleLoadData(&m, src));
	CK(cuModuleGetFunction(&f, m, "sp"));
	CUdeviceptr d = dalloc(16);
	void *args[] = {&d};
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
	unsigned o[4];
	CK(cuMemcpyDtoH(o, d, sizeof(o)));
	EXPECT(o[0] == 1 && o[1] == 0 && o[2] == 0 && o[3] == 1);
	CK(cuMemFree(d));
	CK(cuModuleUnload(m));
}

static void t_features(void)
{
	struct big { float v[8]; int n; } p = {{1, 2, 3, 4, 5, 6, 7, 8}, 100};
	float in[64], coeffs[4] = {0.5f, -1.5f, 2.5f, 10.0f};
	for (int i = 0; i < 64; i++)
		in[i] = (float)((i * 13) % 29) - 7.0f;
	enum { BX = 8, BY = 4, GX = 2, GY = 3, T = BX * BY, N = T * GX * GY };
	CUdeviceptr dc, dout = dalloc(N * sizeof(float)), din = dalloc(sizeof(in));
	CUdeviceptr dd = dalloc(sizeof(double)), du = dalloc(2 * sizeof(unsigned long long));
	size_t csz;
	CK(cuModuleGetGlobal(&dc, &csz, mod, "coeffs"));
	EXPECT(csz == sizeof(coeffs));
	CK(cuMemcpyHtoD(dc, coeffs, sizeof(coeffs)));
	CK(cuMemcpyHtoD(din, in, sizeof(in)));
	CK(cuMemsetD8(dd, 0, sizeof(double)));
	CK(cuMemsetD8(du, 0, 2 * sizeof(unsigned long long)));
	int k = 5;
	void *args[] = {&p, &dout, &din, &dd, &du, &k};
	CK(cuLaunchKernel(fn("features"), GX, GY, 1, BX, BY, 1, T * sizeof(float), NULL, args, NULL));
	float out[N];
	double dsum;
	unsigned long long u[2];
	CK(cuMemcpyDtoH(out, dout, sizeof(out)));
	CK(cuMemcpyDtoH(&dsum, dd, sizeof(dsum)));
	CK(cuMemcpyDtoH(u, du, sizeof(u)));
	for (int blk = 0; blk < GX * GY; blk++) {
		float dyn[T];
		for (int t = 0; t < T; t++) {
			int gid = blk * T + t, j = (t + k) & 15;
			float loc = in[(gid + j) % 64] * (float)j;
			dyn[t] = loc + p.v[t & 7] + coeffs[t & 3] + (float)p.n;
		}
		for (int t = 0; t < T; t++) {
			int gid = blk * T + t;
			EXPECT(out[gid] == dyn[(t + 1) % T] + in[gid % 64]);
		}
	}
	EXPECT(dsum == (double)(N - 1) * N / 2);
	EXPECT(u[0] == (unsigned long long)(N - 1) * 1000000007ull && u[1] == N);
	/* more dynamic shared memory than the function allows */
	CK_RC(cuLaunchKernel(fn("features"), 1, 1, 1, 32, 1, 1, 1 << 17, NULL, args, NULL),
	      CUDA_ERROR_INVALID_VALUE);
	CK(cuMemFree(dout));
	CK(cuMemFree(din));
	CK(cuMemFree(dd));
	CK(cuMemFree(du));
}

static void t_func_attrs(void)
{
	CUfunction f = fn("block_reduce");
	int v;
	CK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
	EXPECT(v == 1024);
	CK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f));
	EXPECT(v >= 1024);
	CK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 8192));
	CK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f));
	EXPECT(v == 8192);
	CK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1 << 20),
	      CUDA_ERROR_INVALID_VALUE);
	CK(cuFuncSetCacheConfig(f, CU_FUNC_CACHE_PREFER_L1));
	int blocks, minGrid, bs;
	CK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, 256, 0));
	EXPECT(blocks >= 1);
	CK(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&blocks, f, 1024, 0, 0));
	EXPECT(blocks >= 1);
	CK(cuOccupancyMaxPotentialBlockSize(&minGrid, &bs, f, NULL, 0, 0));
	EXPECT(bs > 0 && bs <= 1024 && bs % 32 == 0 && minGrid > 0);
	/* introspection */
	const char *name;
	CUmodule m2;
	CK(cuFuncGetName(&name, f));
	EXPECT(!strcmp(name, "block_reduce"));
	CK(cuFuncGetModule(&m2, f));
	EXPECT(m2 == mod);
	size_t poff, psz;
	CUfunction mp = fn("many_params");
	CK(cuFuncGetParamInfo(mp, 6, &poff, &psz));
	EXPECT(poff == 32 && psz == 40);
	CK_RC(cuFuncGetParamInfo(mp, 9, &poff, &psz), CUDA_ERROR_INVALID_VALUE);
	unsigned nf;
	CK(cuModuleGetFunctionCount(&nf, mod));
	EXPECT(nf >= 14);
	CUfunction all[64];
	CK(cuModuleEnumerateFunctions(all, nf, mod));
	int seen = 0;
	for (unsigned i = 0; i < nf; i++)
		seen += all[i] == mp;
	EXPECT(seen == 1);
	size_t avail;
	CK(cuOccupancyAvailableDynamicSMemPerBlock(&avail, f, 2, 256));
	EXPECT(avail > 0 && avail < 65536);
	CK_RC(cuModuleGetFunction(&f, mod, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
	CK_RC(cuModuleGetFunction(&f, mod, "_Z4polyfi"), CUDA_ERROR_NOT_FOUND);  /* not an entry */
}

void vgpu_sim_set_space(unsigned space);

/* Address spaces (the fuzz harness's two zones in one process): a kernel reaches only memory
 * allocated in its launcher's space; the other space's memory faults as unmapped memory does. */
static void t_address_spaces(void)
{
	CUcontext c;
	CUmodule m;
	CUfunction f;
	enum { N = 256 };
	float h[N];
	int n = N;
	CK(cuCtxCreate(&c, NULL, 0, 0));
	void *img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&m, img));
	free(img);
	CK(cuModuleGetFunction(&f, m, "vec_add"));
	vgpu_sim_set_space(1);
	CUdeviceptr a1 = dalloc(sizeof(h)), b1 = dalloc(sizeof(h)), c1 = dalloc(sizeof(h));
	for (int i = 0; i < N; i++)
		h[i] = (float)i;
	CK(cuMemcpyHtoD(a1, h, sizeof(h)));
	CK(cuMemcpyHtoD(b1, h, sizeof(h)));
	void *args1[] = {&a1, &b1, &c1, &n};
	CK(cuLaunchKernel(f, 2, 1, 1, 128, 1, 1, 0, NULL, args1, NULL));
	CK(cuMemcpyDtoH(h, c1, sizeof(h)));
	EXPECT(h[7] == 14.0f && h[255] == 510.0f);   /* its own space: works */
	vgpu_sim_set_space(2);
	CUdeviceptr c2 = dalloc(sizeof(h));
	void *args2[] = {&a1, &b1, &c2, &n};          /* space 1's inputs from space 2 */
	CUresult r = cuLaunchKernel(f, 2, 1, 1, 128, 1, 1, 0, NULL, args2, NULL);
	if (r == CUDA_SUCCESS)
		r = cuCtxSynchronize();
	EXPECT(r == CUDA_ERROR_ILLEGAL_ADDRESS);
	vgpu_sim_set_space(0);
	CK(cuCtxDestroy(c));
	printf("address spaces: a kernel reaches only its launcher's space\n");
}

/* What template libraries' kernels need (Thrust, CUB): bmsk in both modes, barriers that
 * reduce a predicate over the block (bar.red popc/and/or, negated), and static shared memory
 * laid out per kernel: two kernels of 40 KiB each in one module. */
static uint32_t bmsk_ref(uint32_t a, uint32_t b, int clamp)
{
	uint32_t pos = clamp ? (a > 32 ? 32 : a) : a % 32, width = clamp ? (b > 32 ? 32 : b) : b % 32, m = 0;
	for (uint32_t i = 0; i < 32; i++)
		if (i >= pos && i < pos + width)
			m |= 1u << i;
	return m;
}

static void t_library_kernels(void)
{
	static const char *src =
		".version 7.6\n.target sm_80\n.address_size 64\n"
		".visible .entry masks(.param .u64 pin, .param .u64 pout)\n{\n"
		".reg .b32 %r<6>;\n.reg .b64 %rd<6>;\n"
		" ld.param.u64 %rd1, [pin];\n ld.param.u64 %rd2, [pout];\n"
		" mov.u32 %r1, %tid.x;\n mul.wide.u32 %rd3, %r1, 8;\n add.s64 %rd4, %rd1, %rd3;\n"
		" ld.global.v2.u32 {%r2, %r3}, [%rd4];\n"
		" bmsk.clamp.b32 %r4, %r2, %r3;\n bmsk.wrap.b32 %r5, %r2, %r3;\n"
		" add.s64 %rd5, %rd2, %rd3;\n st.global.v2.u32 [%rd5], {%r4, %r5};\n ret;\n}\n"
		".visible .entry reds(.param .u64 pout)\n{\n"
		".reg .b32 %r<8>;\n.reg .b64 %rd<4>;\n.reg .pred %p<6>;\n"
		" ld.param.u64 %rd1, [pout];\n mov.u32 %r1, %tid.x;\n"
		" rem.u32 %r2, %r1, 3;\n setp.eq.u32 %p1, %r2, 0;\n"
		" bar.red.popc.u32 %r3, 0, %p1;\n"
		" bar.red.popc.u32 %r4, 0, !%p1;\n"
		" setp.lt.u32 %p2, %r1, 1000;\n bar.red.and.pred %p3, 0, %p2;\n"
		" bar.red.or.pred %p4, 0, !%p2;\n"
		" selp.u32 %r5, 1, 0, %p3;\n selp.u32 %r6, 1, 0, %p4;\n"
		" mul.wide.u32 %rd2, %r1, 16;\n add.s64 %rd3, %rd1, %rd2;\n"
		" st.global.v4.u32 [%rd3], {%r3, %r4, %r5, %r6};\n ret;\n}\n"
		".visible .entry big1(.param .u64 pout)\n{\n"
		".shared .align 4 .b8 s1[40960];\n.reg .b32 %r<4>;\n.reg .b64 %rd<6>;\n"
		" mov.u32 %r1, %tid.x;\n mul.wide.u32 %rd1, %r1, 4;\n mov.u64 %rd2, s1;\n add.s64 %rd3, %rd2, %rd1;\n"
		" add.u32 %r2, %r1, 1000;\n st.shared.u32 [%rd3+40000], %r2;\n bar.sync 0;\n"
		" ld.shared.u32 %r3, [%rd3+40000];\n ld.param.u64 %rd4, [pout];\n add.s64 %rd5, %rd4, %rd1;\n"
		" st.global.u32 [%rd5], %r3;\n ret;\n}\n"
		".visible .entry big2(.param .u64 pout)\n{\n"
		".shared .align 4 .b8 s2[40960];\n.reg .b32 %r<4>;\n.reg .b64 %rd<6>;\n"
		" mov.u32 %r1, %tid.x;\n mul.wide.u32 %rd1, %r1, 4;\n mov.u64 %rd2, s2;\n add.s64 %rd3, %rd2, %rd1;\n"
		" add.u32 %r2, %r1, 2000;\n st.shared.u32 [%rd3+40000], %r2;\n bar.sync 0;\n"
		" ld.shared.u32 %r3, [%rd3+40000];\n ld.param.u64 %rd4, [pout];\n add.s64 %rd5, %rd4, %rd1;\n"
		" st.global.u32 [%rd5], %r3;\n ret;\n}\n";
	CUmodule m;
	CUfunction f;
	CK(cuModuleLoadData(&m, src));
	/* bmsk: positions and widths inside, at and past 32 */
	static const uint32_t ab[16][2] = { {0, 0}, {0, 1}, {0, 32}, {3, 5}, {31, 1}, {31, 4}, {32, 1}, {5, 40},
					    {40, 3}, {33, 33}, {7, 25}, {16, 16}, {1, 31}, {0, 31}, {63, 2}, {12, 0} };
	uint32_t got[32];
	CUdeviceptr di = dalloc(sizeof(ab)), dout = dalloc(64 * 16);
	CK(cuMemcpyHtoD(di, ab, sizeof(ab)));
	CK(cuModuleGetFunction(&f, m, "masks"));
	void *a1[] = {&di, &dout};
	CK(cuLaunchKernel(f, 1, 1, 1, 16, 1, 1, 0, NULL, a1, NULL));
	CK(cuMemcpyDtoH(got, dout, sizeof(got)));
	for (int i = 0; i < 16; i++) {
		if (got[2 * i] != bmsk_ref(ab[i][0], ab[i][1], 1) || got[2 * i + 1] != bmsk_ref(ab[i][0], ab[i][1], 0)) {
			fprintf(stderr, "bmsk(%u, %u): clamp 0x%08x wrap 0x%08x, expected 0x%08x 0x%08x\n", ab[i][0],
				ab[i][1], got[2 * i], got[2 * i + 1], bmsk_ref(ab[i][0], ab[i][1], 1),
				bmsk_ref(ab[i][0], ab[i][1], 0));
			exit(1);
		}
	}
	/* bar.red over 64 threads: 22 have tid % 3 == 0; all are < 1000 */
	uint32_t r[64 * 4];
	CK(cuModuleGetFunction(&f, m, "reds"));
	void *a2[] = {&dout};
	CK(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, NULL, a2, NULL));
	CK(cuMemcpyDtoH(r, dout, sizeof(r)));
	for (int i = 0; i < 64; i++)
		EXPECT(r[4 * i] == 22 && r[4 * i + 1] == 42 && r[4 * i + 2] == 1 && r[4 * i + 3] == 0);
	/* per-kernel static shared memory */
	const char *names[] = {"big1", "big2"};
	for (int k = 0; k < 2; k++) {
		int bytes = 0;
		CK(cuModuleGetFunction(&f, m, names[k]));
		CK(cuFuncGetAttribute(&bytes, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f));
		EXPECT(bytes == 40960);
		CK(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, NULL, a2, NULL));
		CK(cuMemcpyDtoH(got, dout, sizeof(got)));
		for (int i = 0; i < 32; i++)
			EXPECT(got[i] == (uint32_t)(1000 * (k + 1) + i));
	}
	CK(cuMemFree(di));
	CK(cuMemFree(dout));
	CK(cuModuleUnload(m));
}

int main(void)
{
	setenv("VGPU_SIM_MEM", "256M", 1);
	CUcontext ctx;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	const char *images[] = {"tests/kernels/basic.ptx", "tests/kernels/basic.fatbin",
	                        "tests/kernels/basic_lz4.fatbin"};
	for (int i = 0; i < 3; i++) {
		void *img = st_read(st_path(images[i]), NULL);
		CK(cuModuleLoadData(&mod, img));
		free(img);
		t_vec_add_saxpy();
		t_int_ops();
		t_reduce_hist_atomics();
		t_grid_stride_params();
		t_globals_calls_floats();
		t_warp();
		t_features();
		t_func_attrs();
		CK(cuModuleUnload(mod));
		printf("%s: all kernels match the host reference\n", images[i]);
	}
	t_redux();
	t_library_kernels();
	t_place_global();
	t_spaces();
	t_address_spaces();
	/* cuModuleLoad from a file name, and cuModuleLoadFatBinary */
	CK(cuModuleLoad(&mod, st_path("tests/kernels/basic.ptx")));
	CK(cuModuleUnload(mod));
	void *fb = st_read(st_path("tests/kernels/basic.fatbin"), NULL);
	CK(cuModuleLoadFatBinary(&mod, fb));
	CK(cuModuleUnload(mod));
	struct { unsigned magic, version; const void *data; void *unused; } wrap = {0x466243b1, 1, fb, NULL};
	CK(cuModuleLoadData(&mod, &wrap));
	t_vec_add_saxpy();
	CK(cuModuleUnload(mod));
	free(fb);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_kernels: all checks passed\n");
	return 0;
}
