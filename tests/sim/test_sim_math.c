/* SPDX-License-Identifier: MIT */
/* Runs tests/kernels/math.cu on libcudasim: a tiled matrix multiply, CUDA's accurate float
 * and double math library (whose PTX uses carry chains, bfind and directed rounding), bit
 * intrinsics and conversions, each against a host reference (exact where the operation is
 * exact, within a few ulp for transcendental functions). */
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

static CUdeviceptr up(const void *h, size_t n)
{
	CUdeviceptr p;
	CK(cuMemAlloc(&p, n));
	if (h)
		CK(cuMemcpyHtoD(p, h, n));
	return p;
}

static int near_rel(double got, double want, double rel, double abs_tol)
{
	if (isnan(want))
		return isnan(got);
	if (got == want)          /* also equal infinities */
		return 1;
	return fabs(got - want) <= rel * fabs(want) + abs_tol;
}

#define NEAR(got, want, rel, abs_tol, what, i) do { \
	double g_ = (got), w_ = (want); \
	if (!near_rel(g_, w_, rel, abs_tol)) { \
		fprintf(stderr, "%s[%d]: got %.17g want %.17g\n", what, i, g_, w_); \
		exit(1); \
	} } while (0)

static void t_matmul(void)
{
	enum { N = 40 };
	static float a[N * N], b[N * N], c[N * N];
	for (int i = 0; i < N * N; i++) {
		a[i] = (float)((i * 7) % 13) - 6.0f;
		b[i] = (float)((i * 5) % 11) * 0.5f;
	}
	CUdeviceptr da = up(a, sizeof(a)), db = up(b, sizeof(b)), dc = up(NULL, sizeof(c));
	int n = N;
	void *args[] = {&da, &db, &dc, &n};
	CK(cuLaunchKernel(fn("matmul"), 3, 3, 1, 16, 16, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(c, dc, sizeof(c)));
	for (int r = 0; r < N; r++)
		for (int col = 0; col < N; col++) {
			float s = 0;
			for (int k = 0; k < N; k++)
				s += a[r * N + k] * b[k * N + col];
			EXPECT(c[r * N + col] == s);    /* small integers and halves: exact */
		}
	CK(cuMemFree(da));
	CK(cuMemFree(db));
	CK(cuMemFree(dc));
}

static void t_mathf(void)
{
	enum { N = 96 };
	float x[N], y[N * 12];
	for (int i = 0; i < N; i++)   /* includes large arguments that take the slow sin/cos path */
		x[i] = (i % 3 == 0) ? (float)i * 1234.5678f - 40000.0f : (float)i / 7.0f - 6.0f;
	CUdeviceptr dx = up(x, sizeof(x)), dy = up(NULL, sizeof(y));
	int n = N;
	void *args[] = {&dx, &dy, &n};
	CK(cuLaunchKernel(fn("mathf"), 1, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(y, dy, sizeof(y)));
	for (int i = 0; i < N; i++) {
		double v = x[i];
		const float *o = &y[i * 12];
		NEAR(o[0], exp(v), 4e-7, 1e-38, "expf", i);
		NEAR(o[1], log(fabs(v) + 1), 4e-7, 1e-7, "logf", i);
		NEAR(o[2], sin(v), 4e-7, 1e-7, "sinf", i);
		NEAR(o[3], cos(v), 4e-7, 1e-7, "cosf", i);
		NEAR(o[4], pow(fabs(v), 1.5), 4e-7, 1e-30, "powf", i);
		NEAR(o[5], tanh(v), 4e-7, 1e-7, "tanhf", i);
		EXPECT(o[6] == floorf(x[i]) + ceilf(x[i]) + roundf(x[i]) + truncf(x[i]));
		EXPECT(o[7] == sqrtf(fabsf(x[i])));
		NEAR(o[8], atan2(v, 1.5), 4e-7, 1e-7, "atan2f", i);
		EXPECT(o[9] == fmodf(x[i], 0.7f));
		NEAR(o[10], erf(v), 4e-7, 1e-7, "erff", i);
		EXPECT(o[11] == x[i] / 3.3f);
	}
	CK(cuMemFree(dx));
	CK(cuMemFree(dy));
}

static void t_mathd(void)
{
	enum { N = 64 };
	double x[N], y[N * 6];
	for (int i = 0; i < N; i++)
		x[i] = (i % 4 == 0) ? (double)i * 98765.4321 - 3e6 : (double)i / 9.0 - 3.0;
	CUdeviceptr dx = up(x, sizeof(x)), dy = up(NULL, sizeof(y));
	int n = N;
	void *args[] = {&dx, &dy, &n};
	CK(cuLaunchKernel(fn("mathd"), 1, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(y, dy, sizeof(y)));
	for (int i = 0; i < N; i++) {
		double v = x[i];
		const double *o = &y[i * 6];
		NEAR(o[0], exp(v), 1e-15, 1e-300, "exp", i);
		NEAR(o[1], log(fabs(v) + 1), 1e-15, 1e-16, "log", i);
		NEAR(o[2], sin(v), 1e-15, 1e-16, "sin", i);
		NEAR(o[3], pow(fabs(v), 1.5), 1e-15, 1e-300, "pow", i);
		EXPECT(o[4] == v / 3.3);
		NEAR(o[5], sqrt(fabs(v)) + 1.0 / sqrt(fabs(v) + 1), 1e-15, 1e-16, "sqrt+rsqrt", i);
	}
	CK(cuMemFree(dx));
	CK(cuMemFree(dy));
}

static uint32_t brev32(uint32_t v)
{
	uint32_t o = 0;
	for (int i = 0; i < 32; i++)
		o |= ((v >> i) & 1u) << (31 - i);
	return o;
}

static uint32_t byte_perm(uint32_t x, uint32_t y, uint32_t s)
{
	uint64_t v = ((uint64_t)y << 32) | x;
	uint32_t r = 0;
	for (int i = 0; i < 4; i++)
		r |= (uint32_t)((v >> (8 * ((s >> (4 * i)) & 7))) & 0xff) << (8 * i);
	return r;
}

static void t_bits(void)
{
	enum { N = 64 };
	unsigned a[N], o[N * 8];
	unsigned long long b[N], o2[(N + 1) * 4];
	for (int i = 0; i < N; i++) {
		a[i] = i == 0 ? 0 : 0x9e3779b9u * (unsigned)i ^ (unsigned)(i << 20);
		b[i] = i == 1 ? 0 : 0xbf58476d1ce4e5b9ull * (unsigned long long)(i + 3);
	}
	CUdeviceptr da = up(a, sizeof(a)), db = up(b, sizeof(b)), dout = up(NULL, sizeof(o));
	CUdeviceptr do2 = up(NULL, sizeof(o2));
	CK(cuMemsetD8(do2, 0, sizeof(o2)));
	int n = N;
	void *args[] = {&da, &db, &dout, &do2, &n};
	CK(cuLaunchKernel(fn("bits"), 2, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(o, dout, sizeof(o)));
	CK(cuMemcpyDtoH(o2, do2, sizeof(o2)));
	unsigned long long sum = 0;
	for (int i = 0; i < N; i++) {
		unsigned x = a[i];
		unsigned long long y = b[i];
		sum += y;
		EXPECT(o[i * 8 + 0] == (unsigned)__builtin_popcount(x));
		EXPECT(o[i * 8 + 1] == (x ? (unsigned)__builtin_clz(x) : 32u));
		EXPECT(o[i * 8 + 2] == brev32(x));
		EXPECT(o[i * 8 + 3] == (unsigned)__builtin_ffs((int)x));
		EXPECT(o[i * 8 + 4] == byte_perm(x, x >> 3, 0x3210u ^ (unsigned)(i & 7)));
		EXPECT(o[i * 8 + 5] == (unsigned)__builtin_popcountll(y));
		EXPECT(o[i * 8 + 6] == (y ? (unsigned)__builtin_clzll(y) : 64u));
		unsigned sh = (unsigned)i & 31;
		EXPECT(o[i * 8 + 7] == (sh ? (x * 3u) << sh | x >> (32 - sh) : x * 3u));
		const unsigned long long *q = &o2[(i + 1) * 4];
		EXPECT(q[0] == y / (x | 1));
		EXPECT(q[1] == y % (x | 1));
		EXPECT(q[2] == (unsigned long long)((long long)y / -(long long)(x | 1)));
		EXPECT(q[3] == (unsigned long long)(((unsigned __int128)y * y) >> 64));
	}
	EXPECT(o2[0] == 12345ull && o2[1] == sum);
	CK(cuMemFree(da));
	CK(cuMemFree(db));
	CK(cuMemFree(dout));
	CK(cuMemFree(do2));
}

static void t_conv(void)
{
	enum { N = 64 };
	float f[N], fo[N];
	double d[N];
	int i32[N];
	long long i64[N];
	unsigned u32[N];
	for (int i = 0; i < N; i++) {
		f[i] = (float)i * 1.37f - 40.5f;
		d[i] = (double)i * -2.71 + 30.5 + (i == 7 ? 0.5 : 0);
	}
	CUdeviceptr df = up(f, sizeof(f)), dd = up(d, sizeof(d)), d32 = up(NULL, sizeof(i32));
	CUdeviceptr d64 = up(NULL, sizeof(i64)), du = up(NULL, sizeof(u32)), dfo = up(NULL, sizeof(fo));
	int n = N;
	void *args[] = {&df, &dd, &d32, &d64, &du, &dfo, &n};
	CK(cuLaunchKernel(fn("conv"), 1, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(i32, d32, sizeof(i32)));
	CK(cuMemcpyDtoH(i64, d64, sizeof(i64)));
	CK(cuMemcpyDtoH(u32, du, sizeof(u32)));
	CK(cuMemcpyDtoH(fo, dfo, sizeof(fo)));
	for (int i = 0; i < N; i++) {
		EXPECT(i32[i] == (int)f[i] + (int)floorf(f[i]) + (int)ceilf(f[i]) + (int)d[i]);
		EXPECT(i64[i] == (long long)d[i] + (long long)nearbyint(d[i]));
		EXPECT(u32[i] == (unsigned)fabsf(f[i]) + (unsigned)nearbyintf(fabsf(f[i])));
		/* int → float rounded toward zero: the largest float not above |i * 1000003| */
		int iv = i * 1000003;
		float rz = (float)iv;
		if ((long long)rz > iv)
			rz = nextafterf(rz, 0.0f);
		float want = (float)d[i] + rz + (float)u32[i] + (float)(i64[i] >> 2);
		EXPECT(fo[i] == want);
	}
	CK(cuMemFree(df));
	CK(cuMemFree(dd));
	CK(cuMemFree(d32));
	CK(cuMemFree(d64));
	CK(cuMemFree(du));
	CK(cuMemFree(dfo));
}

/* Half precision against GCC's _Float16 (each operation computed exactly in double and
 * rounded once, as a GPU rounds it). */
static int same_half(float got, _Float16 want)
{
	return (isnan(got) && isnan((float)want)) || got == (float)want;
}

static void t_half(void)
{
	static const float xs[] = {0.0f, -0.0f, 1.0f, -1.5f, 3.14159f, 1000.5f, -65504.0f, 70000.0f,
	                           1e-6f, -3e-5f, 6e-8f, 2.0e-7f, 123.456f, -7.77f, 0.333333f, 4096.3f};
	enum { N = 64 };
	float x[N], y[N * 8];
	uint16_t h[N];
	for (int i = 0; i < N; i++)
		x[i] = i < 16 ? xs[i] : (float)(i * 37 % 101) / 7.0f - 6.0f;
	CUdeviceptr dx = up(x, sizeof(x)), dy = up(NULL, sizeof(y)), dh = up(NULL, sizeof(h));
	int n = N;
	void *args[] = {&dx, &dy, &dh, &n};
	CK(cuLaunchKernel(fn("half_ops"), 1, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(y, dy, sizeof(y)));
	CK(cuMemcpyDtoH(h, dh, sizeof(h)));
	for (int i = 0; i < N; i++) {
		_Float16 a = (_Float16)x[i], b = (_Float16)fmaf(x[i], 0.25f, 1.0f);
		_Float16 s = (_Float16)((double)a + (double)b);
		_Float16 p = (_Float16)((double)a * (double)b);
		_Float16 f = (_Float16)((double)a * (double)b + (double)s);
		_Float16 d = (_Float16)((double)a - (double)b);
		_Float16 wa = (_Float16)((double)a * a), wb = (_Float16)((double)b * b);
		_Float16 za = (_Float16)((double)a * wa + a), zb = (_Float16)((double)b * wb + b);
		const float *o = &y[i * 8];
		if (!same_half(o[0], s) || !same_half(o[1], p) || !same_half(o[2], f) ||
		    !same_half(o[3], d) || !same_half(o[4], za) || !same_half(o[5], zb)) {
			fprintf(stderr, "half[%d] x=%g: got %g %g %g %g %g %g want %g %g %g %g %g %g\n", i,
			        (double)x[i], (double)o[0], (double)o[1], (double)o[2], (double)o[3],
			        (double)o[4], (double)o[5], (double)s, (double)p, (double)f, (double)d,
			        (double)za, (double)zb);
			exit(1);
		}
		EXPECT(o[6] == ((float)a < (float)b ? 1.0f : 0.0f));
		float mx = (float)a > (float)b ? (float)a : (float)b;
		float w7 = mx + (float)(-a);
		EXPECT((isnan(o[7]) && isnan(w7)) || o[7] == w7);
		_Float16 q = (_Float16)((double)a / (double)b);
		uint16_t qb;
		memcpy(&qb, &q, 2);
		int diff = (int)h[i] - (int)qb;
		EXPECT(diff >= -1 && diff <= 1);      /* __hdiv: within one unit in the last place */
	}
	CK(cuMemFree(dx));
	CK(cuMemFree(dy));
	CK(cuMemFree(dh));
}

/* Legacy warp-synchronous code: volatile shared memory in warp lockstep. */
static void t_legacy_reduce(void)
{
	enum { N = 5000 };
	static float in[N];
	float part[4];
	double want = 0;
	for (int i = 0; i < N; i++) {
		in[i] = (float)(i % 7);
		want += in[i];
	}
	CUdeviceptr di = up(in, sizeof(in)), dout = up(NULL, sizeof(part));
	unsigned n = N;
	void *args[] = {&di, &dout, &n};
	CK(cuLaunchKernel(fn("legacy_reduce"), 4, 1, 1, 256, 1, 1, 256 * sizeof(float), NULL, args, NULL));
	CK(cuMemcpyDtoH(part, dout, sizeof(part)));
	EXPECT((double)part[0] + part[1] + part[2] + part[3] == want);   /* small integers: exact */
	CK(cuMemFree(di));
	CK(cuMemFree(dout));
}

static void t_struct_index(void)
{
	struct { int a[40]; } s;
	int out[64];
	for (int i = 0; i < 40; i++)
		s.a[i] = i * i - 7;
	CUdeviceptr dout = up(NULL, sizeof(out));
	void *args[] = {&s, &dout};
	CK(cuLaunchKernel(fn("struct_index"), 1, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(out, dout, sizeof(out)));
	for (int i = 0; i < 64; i++)
		EXPECT(out[i] == s.a[i % 40] * 2);
	CK(cuMemFree(dout));
}

int main(void)
{
	setenv("VGPU_SIM_MEM", "64M", 1);
	CUcontext ctx;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoad(&mod, st_path("tests/kernels/math.ptx")));
	t_matmul();
	t_mathf();
	t_mathd();
	t_bits();
	t_conv();
	t_half();
	t_legacy_reduce();
	t_struct_index();
	CK(cuCtxDestroy(ctx));
	printf("test_sim_math: all checks passed\n");
	return 0;
}
