/* SPDX-License-Identifier: MIT */
/* PTX forms the CUDA libraries' modules use (cuDNN's, cuBLAS's and cuBLASLt's): min/max.NaN
 * of floats, cvt.{rn,rz}.tf32, vector stores of float immediates, cache policies, ".reg.b32",
 * mma of doubles (m8n8k4) and of fp8 (m16n8k32), video shifts (vshr.clamp.add), saturating
 * packs of integers (cvt.pack.sat); 256-bit
 * loads and stores
 * (ld/st.global.v8.b32, sm_100's): eight words moved, the address 32-byte aligned or the
 * launch fails as misaligned, outside the allocation an illegal address, other spaces and
 * widths refused at load; the predefined constant WARP_SZ as an operand; a function's PTX
 * version is its module's .target, which cuSPARSE chooses its launch shapes by. */
#include "simtest.h"

#define HDR ".version 8.8\n.target sm_100\n.address_size 64\n"

/* cp(src, dst, off): dst[off..off+32) = src[off..off+32) + 1 per word */
static const char ptx[] = HDR
	".visible .entry cp(.param .u64 src, .param .u64 dst, .param .u64 off)\n{\n"
	"\t.reg .b32 %r<9>;\n\t.reg .b64 %rd<6>;\n"
	"\tld.param.u64 %rd1, [src];\n\tld.param.u64 %rd2, [dst];\n\tld.param.u64 %rd3, [off];\n"
	"\tadd.s64 %rd4, %rd1, %rd3;\n\tadd.s64 %rd5, %rd2, %rd3;\n"
	"\tld.global.v8.b32 {%r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8}, [%rd4];\n"
	"\tadd.u32 %r1, %r1, 1;\n\tadd.u32 %r2, %r2, 1;\n\tadd.u32 %r3, %r3, 1;\n\tadd.u32 %r4, %r4, 1;\n"
	"\tadd.u32 %r5, %r5, 1;\n\tadd.u32 %r6, %r6, 1;\n\tadd.u32 %r7, %r7, 1;\n\tadd.u32 %r8, %r8, 1;\n"
	"\tst.global.v8.b32 [%rd5], {%r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8};\n"
	"\tret;\n}\n"
	/* ws(dst): dst[0] = WARP_SZ * 2 */
	".visible .entry ws(.param .u64 dst)\n{\n\t.reg .b32 %r<3>;\n\t.reg .b64 %rd<2>;\n"
	"\tld.param.u64 %rd1, [dst];\n\tmov.u32 %r1, WARP_SZ;\n\tshl.b32 %r2, %r1, 1;\n"
	"\tst.global.u32 [%rd1], %r2;\n\tret;\n}\n";

/*
 * forms(in, out): out[] from in[] through the forms cuBLAS, cuBLASLt and cuDNN's modules hold:
 * out[0..1] min.NaN/max.NaN.f32 of in[0], in[1]; out[2..4] cvt.{rn,rna,rz}.tf32.f32 of in[2];
 * out[6..7] a vector store of a register and a float immediate; out[8] in[3] loaded with a
 * cache policy createpolicy made; out[9] a register declared ".reg.b32" (as inline assembly
 * writes it) holding in[3] + 1.
 */
static const char forms[] = HDR
	".visible .entry forms(.param .u64 in, .param .u64 out)\n{\n"
	".reg .b32 %r<12>;\n.reg .f32 %f<8>;\n.reg .b64 %rd<8>;\n"
	"ld.param.u64 %rd1, [in];\nld.param.u64 %rd2, [out];\n"
	"ld.global.f32 %f1, [%rd1];\nld.global.f32 %f2, [%rd1+4];\n"
	"min.NaN.f32 %f3, %f1, %f2;\nmax.NaN.f32 %f4, %f1, %f2;\n"
	"st.global.f32 [%rd2], %f3;\nst.global.f32 [%rd2+4], %f4;\n"
	"ld.global.f32 %f5, [%rd1+8];\ncvt.rn.tf32.f32 %r1, %f5;\ncvt.rna.tf32.f32 %r2, %f5;\n"
	"cvt.rz.tf32.f32 %r3, %f5;\nst.global.u32 [%rd2+8], %r1;\nst.global.u32 [%rd2+12], %r2;\n"
	"st.global.u32 [%rd2+16], %r3;\n"
	"mov.b32 %r4, 7;\nst.global.v2.b32 [%rd2+24], {%r4, 0f3F800000};\n"
	"createpolicy.fractional.L2::evict_last.b64 %rd3, 0f3F800000;\n"
	"ld.global.L2::cache_hint.u32 %r5, [%rd1+12], %rd3;\nst.global.u32 [%rd2+32], %r5;\n"
	"{\n.reg.b32 t;\nadd.u32 t, %r5, 1;\nst.global.u32 [%rd2+36], t;\n}\n"
	"ret;\n}\n";

/* dmma(a, b, c, d): one warp, D = A B + C for 8x4 A, 4x8 B, 8x8 C and D of doubles (row-major
 * in memory), each lane's fragment at the place the PTX ISA gives it */
static const char dmma[] = HDR
	".visible .entry dmma(.param .u64 a, .param .u64 b, .param .u64 c, .param .u64 d)\n{\n"
	".reg .b32 %r<8>;\n.reg .f64 %fd<8>;\n.reg .b64 %rd<16>;\n"
	"ld.param.u64 %rd1, [a];\nld.param.u64 %rd2, [b];\nld.param.u64 %rd3, [c];\nld.param.u64 %rd4, [d];\n"
	"mov.u32 %r1, %laneid;\nshr.u32 %r2, %r1, 2;\nand.b32 %r3, %r1, 3;\n"
	/* A[g][t] at (g * 4 + t) * 8; B[t][g] at (t * 8 + g) * 8; C/D[g][2t + i] at (g * 8 + 2t + i) * 8 */
	"shl.b32 %r4, %r2, 2;\nadd.u32 %r4, %r4, %r3;\nmul.wide.u32 %rd5, %r4, 8;\nadd.s64 %rd5, %rd1, %rd5;\n"
	"ld.global.f64 %fd1, [%rd5];\n"
	"shl.b32 %r5, %r3, 3;\nadd.u32 %r5, %r5, %r2;\nmul.wide.u32 %rd6, %r5, 8;\nadd.s64 %rd6, %rd2, %rd6;\n"
	"ld.global.f64 %fd2, [%rd6];\n"
	"shl.b32 %r6, %r2, 3;\nshl.b32 %r7, %r3, 1;\nadd.u32 %r6, %r6, %r7;\nmul.wide.u32 %rd7, %r6, 8;\n"
	"add.s64 %rd8, %rd3, %rd7;\nld.global.f64 %fd3, [%rd8];\nld.global.f64 %fd4, [%rd8+8];\n"
	"mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {%fd5, %fd6}, {%fd1}, {%fd2}, {%fd3, %fd4};\n"
	"add.s64 %rd9, %rd4, %rd7;\nst.global.f64 [%rd9], %fd5;\nst.global.f64 [%rd9+8], %fd6;\nret;\n}\n";

/* f8(x, y, d): one warp, m16n8k32 of e4m3 A (every element x's low byte) and e5m2 B (y's),
 * f32 accumulators from 0.5: every D element 32 a b + 0.5 */
static const char f8mma[] = HDR
	".visible .entry f8(.param .u32 x, .param .u32 y, .param .u64 d)\n{\n"
	".reg .b32 %r<16>;\n.reg .f32 %f<12>;\n.reg .b64 %rd<4>;\n"
	"ld.param.u32 %r1, [x];\nld.param.u32 %r2, [y];\nld.param.u64 %rd1, [d];\n"
	"mov.f32 %f1, 0f3F000000;\n"
	"mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e5m2.f32 {%f2, %f3, %f4, %f5}, {%r1, %r1, %r1, %r1}, "
	"{%r2, %r2}, {%f1, %f1, %f1, %f1};\n"
	"mov.u32 %r3, %laneid;\nmul.wide.u32 %rd2, %r3, 16;\nadd.s64 %rd3, %rd1, %rd2;\n"
	"st.global.v4.f32 [%rd3], {%f2, %f3, %f4, %f5};\nret;\n}\n";

/* vs(in, out): cuSPARSE's video shift, out[0] = (in[0] >> min(in[1], 32)) + in[2]; out[1] an
 * arithmetic shift right by in[1] mod 32; out[2] a left shift by min(in[1], 32) kept in 32 bits
 * plus in[2]; out[3] the same saturated to s32 */
static const char vsh[] = HDR
	".visible .entry vs(.param .u64 in, .param .u64 out)\n{\n.reg .b32 %r<10>;\n.reg .b64 %rd<3>;\n"
	"ld.param.u64 %rd1, [in];\nld.param.u64 %rd2, [out];\n"
	"ld.global.u32 %r1, [%rd1];\nld.global.u32 %r2, [%rd1+4];\nld.global.u32 %r3, [%rd1+8];\n"
	"vshr.u32.u32.u32.clamp.add %r4, %r1, %r2, %r3;\nvshr.s32.s32.u32.wrap %r5, %r1, %r2;\n"
	"vshl.u32.u32.u32.clamp.add %r6, %r1, %r2, %r3;\nvshl.s32.s32.u32.sat.clamp %r7, %r1, %r2;\n"
	"st.global.v4.u32 [%rd2], {%r4, %r5, %r6, %r7};\nret;\n}\n";

/* pk(in, out): cuBLASLt's int8 epilogue, four s32 saturated to s8 and packed as two
 * cvt.pack.sat.s8 (out[0], bytes in[3], in[2], in[1], in[0] from the top), the same as u8
 * (out[1]), and in[0], in[1] saturated to s16 and u16 pairs (out[2], out[3]) */
static const char pack[] = HDR
	".visible .entry pk(.param .u64 in, .param .u64 out)\n{\n.reg .b32 %r<12>;\n.reg .b64 %rd<3>;\n"
	"ld.param.u64 %rd1, [in];\nld.param.u64 %rd2, [out];\nld.global.v4.u32 {%r1, %r2, %r3, %r4}, [%rd1];\n"
	"{ .reg .u32 t;\ncvt.pack.sat.s8.s32.b32 t, %r4, %r3, 0;\ncvt.pack.sat.s8.s32.b32 %r5, %r2, %r1, t;\n}\n"
	"{ .reg .u32 t;\ncvt.pack.sat.u8.s32.b32 t, %r4, %r3, 0;\ncvt.pack.sat.u8.s32.b32 %r6, %r2, %r1, t;\n}\n"
	"cvt.pack.sat.s16.s32.b32 %r7, %r2, %r1;\ncvt.pack.sat.u16.s32.b32 %r8, %r2, %r1;\n"
	"st.global.v4.u32 [%rd2], {%r5, %r6, %r7, %r8};\nret;\n}\n";

static uint32_t sat_to(int64_t x, int bits, int sgn)
{
	int64_t lo = sgn ? -(1ll << (bits - 1)) : 0, hi = sgn ? (1ll << (bits - 1)) - 1 : (1ll << bits) - 1;
	return (uint32_t)(x < lo ? lo : x > hi ? hi : x) & (uint32_t)((1ull << bits) - 1);
}

static void packs(void)
{
	CUmodule m;
	CUfunction f;
	CUdeviceptr din, dout;
	CK(cuModuleLoadData(&m, pack));
	CK(cuModuleGetFunction(&f, m, "pk"));
	CK(cuMemAlloc(&din, 16));
	CK(cuMemAlloc(&dout, 16));
	static const int32_t cases[][4] = {
		{ 1, -2, 127, -128 }, { 300, -300, 65536, -70000 }, { 0, 255, 128, -1 }, { INT32_MAX, INT32_MIN, 40000, 5 },
	};
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const int32_t *v = cases[c];
		uint32_t out[4];
		CK(cuMemcpyHtoD(din, v, 16));
		void *args[] = { &din, &dout };
		CK(st_launch1(f, args));
		CK(cuMemcpyDtoH(out, dout, sizeof(out)));
		uint32_t want[4] = {
			sat_to(v[0], 8, 1) | sat_to(v[1], 8, 1) << 8 | sat_to(v[2], 8, 1) << 16 | sat_to(v[3], 8, 1) << 24,
			sat_to(v[0], 8, 0) | sat_to(v[1], 8, 0) << 8 | sat_to(v[2], 8, 0) << 16 | sat_to(v[3], 8, 0) << 24,
			sat_to(v[0], 16, 1) | sat_to(v[1], 16, 1) << 16,
			sat_to(v[0], 16, 0) | sat_to(v[1], 16, 0) << 16,
		};
		for (int i = 0; i < 4; i++)
			if (out[i] != want[i]) {
				fprintf(stderr, "cvt.pack case %u result %d: 0x%08x, expected 0x%08x\n", c, i, out[i], want[i]);
				exit(1);
			}
	}
	CK(cuModuleUnload(m));
}

static uint32_t sat32(int64_t x) { return (uint32_t)(x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : x); }

static void video_shifts(CUcontext ctx)
{
	CUmodule m;
	CUfunction f;
	CUdeviceptr din, dout;
	(void)ctx;
	CK(cuModuleLoadData(&m, vsh));
	CK(cuModuleGetFunction(&f, m, "vs"));
	CK(cuMemAlloc(&din, 16));
	CK(cuMemAlloc(&dout, 16));
	static const uint32_t cases[][3] = {
		{ 0xf0000000u, 4, 5 }, { 0x80000001u, 33, 7 }, { 0x12345678u, 40, 1 }, { 0x00000003u, 31, 0 }, { 0x40000000u, 1, 0 },
	};
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t a = cases[c][0], b = cases[c][1], k = cases[c][2], out[4];
		CK(cuMemcpyHtoD(din, cases[c], 12));
		void *args[] = { &din, &dout };
		CK(st_launch1(f, args));
		CK(cuMemcpyDtoH(out, dout, sizeof(out)));
		uint32_t cl = b > 32 ? 32 : b;
		uint32_t want[4] = {
			(uint32_t)(((uint64_t)a >> cl) + k),
			(uint32_t)((int32_t)a >> (b & 31)),
			(uint32_t)((cl >= 32 ? 0 : a << cl) + k),
			sat32(cl >= 32 ? ((int32_t)a ? ((int32_t)a < 0 ? INT64_MIN : INT64_MAX) : 0) : (int64_t)(int32_t)a * ((int64_t)1 << cl)),
		};
		for (int i = 0; i < 4; i++)
			if (out[i] != want[i]) {
				fprintf(stderr, "video shift case %u result %d: 0x%08x, expected 0x%08x\n", c, i, out[i], want[i]);
				exit(1);
			}
	}
}

static void library_forms(CUdevice dev)
{
	CUcontext ctx;
	CUmodule m;
	CUfunction f;
	CUdeviceptr din, dout;
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuModuleLoadData(&m, forms));
	CK(cuModuleGetFunction(&f, m, "forms"));
	CK(cuMemAlloc(&din, 16));
	CK(cuMemAlloc(&dout, 64));
	/* (min/max operands, tf32 input, loaded word) and the expected words */
	static const struct { uint32_t in[4]; uint32_t want[10]; } cases[] = {
		/* 2 and -3; 1 + 2^-11 (a tie, even below); 42 */
		{ { 0x40000000u, 0xc0400000u, 0x3f801000u, 42 },
		  { 0xc0400000u, 0x40000000u, 0x3f800000u, 0x3f802000u, 0x3f800000u, 0, 7, 0x3f800000u, 42, 43 } },
		/* NaN and 1: the canonical NaN either way; a tie with the last kept bit odd goes up to
		 * even; past it, up */
		{ { 0x7fc00001u, 0x3f800000u, 0x3f803000u, 5 },
		  { 0x7fffffffu, 0x7fffffffu, 0x3f804000u, 0x3f804000u, 0x3f802000u, 0, 7, 0x3f800000u, 5, 6 } },
		{ { 0x3f800000u, 0xff800001u, 0x3f801fffu, 0 },
		  { 0x7fffffffu, 0x7fffffffu, 0x3f802000u, 0x3f802000u, 0x3f800000u, 0, 7, 0x3f800000u, 0, 1 } },
	};
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t out[10];
		CK(cuMemcpyHtoD(din, cases[c].in, 16));
		CK(cuMemsetD32(dout, 0, 16));
		void *args[] = { &din, &dout };
		CK(st_launch1(f, args));
		CK(cuMemcpyDtoH(out, dout, sizeof(out)));
		for (unsigned k = 0; k < 10; k++)
			if (out[k] != cases[c].want[k]) {
				fprintf(stderr, "forms case %u word %u: 0x%08x, expected 0x%08x\n", c, k, out[k], cases[c].want[k]);
				exit(1);
			}
	}
	/* DMMA against the host: small integers and halves, so every sum is exact */
	double A[32], B[32], C[64], D[64];
	for (int i = 0; i < 32; i++) {
		A[i] = (double)(i % 7) - 3.0 + 0.5 * (i % 2);
		B[i] = (double)((i * 5) % 9) - 4.0;
	}
	for (int i = 0; i < 64; i++)
		C[i] = (double)(i % 11) * 0.25;
	CUdeviceptr da, db, dc, dd;
	CK(cuMemAlloc(&da, sizeof(A)));
	CK(cuMemAlloc(&db, sizeof(B)));
	CK(cuMemAlloc(&dc, sizeof(C)));
	CK(cuMemAlloc(&dd, sizeof(D)));
	CK(cuMemcpyHtoD(da, A, sizeof(A)));
	CK(cuMemcpyHtoD(db, B, sizeof(B)));
	CK(cuMemcpyHtoD(dc, C, sizeof(C)));
	CK(cuModuleLoadData(&m, dmma));
	CK(cuModuleGetFunction(&f, m, "dmma"));
	void *dargs[] = { &da, &db, &dc, &dd };
	CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, dargs, NULL));
	CK(cuMemcpyDtoH(D, dd, sizeof(D)));
	for (int r = 0; r < 8; r++)
		for (int c = 0; c < 8; c++) {
			double want = C[r * 8 + c];
			for (int k = 0; k < 4; k++)
				want += A[r * 4 + k] * B[k * 8 + c];
			EXPECT(D[r * 8 + c] == want);
		}
	/* fp8: e4m3 0x38 is 1.0, 0x40 2.0, 0xb8 -1.0; e5m2 0x3c is 1.0, 0x42 3.0 */
	static const struct { uint32_t x, y; float want; } f8c[] = {
		{ 0x38383838u, 0x3c3c3c3cu, 32.5f }, { 0x40404040u, 0x42424242u, 192.5f }, { 0xb8b8b8b8u, 0x42424242u, -95.5f },
	};
	CK(cuModuleLoadData(&m, f8mma));
	CK(cuModuleGetFunction(&f, m, "f8"));
	for (unsigned c = 0; c < sizeof(f8c) / sizeof(f8c[0]); c++) {
		float out[128];
		uint32_t x = f8c[c].x, y = f8c[c].y;
		void *fargs[] = { &x, &y, &dd };
		CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, fargs, NULL));
		CK(cuMemcpyDtoH(out, dd, sizeof(out)));
		for (int i = 0; i < 128; i++)
			EXPECT(out[i] == f8c[c].want);
	}
	video_shifts(ctx);
	packs();
	CK(cuCtxDestroy(ctx));
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CK(cuInit(0));
	CUdevice dev;
	CK(cuDeviceGet(&dev, 0));
	static const struct { unsigned long long off; CUresult want; } cases[] = {
		{ 0, CUDA_SUCCESS },
		{ 32, CUDA_SUCCESS },                        /* the last 32 bytes */
		{ 16, CUDA_ERROR_MISALIGNED_ADDRESS },       /* 16-byte aligned only */
		{ 64, CUDA_ERROR_ILLEGAL_ADDRESS },          /* past the 64-byte allocations */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CUcontext ctx;
		CUmodule m;
		CUfunction f;
		CUdeviceptr src, dst;
		uint32_t in[16], out[16];
		CK(cuCtxCreate(&ctx, NULL, 0, dev));
		CK(cuModuleLoadData(&m, ptx));
		CK(cuModuleGetFunction(&f, m, "cp"));
		CK(cuMemAlloc(&src, sizeof(in)));
		CK(cuMemAlloc(&dst, sizeof(out)));
		for (int k = 0; k < 16; k++)
			in[k] = 100u * (unsigned)k;
		CK(cuMemcpyHtoD(src, in, sizeof(in)));
		CK(cuMemsetD32(dst, 7, 16));
		unsigned long long off = cases[i].off;
		void *args[] = { &src, &dst, &off };
		CUresult r = st_launch1(f, args);
		CK_RC(r, cases[i].want);
		if (r == CUDA_SUCCESS) {
			CK(cuMemcpyDtoH(out, dst, sizeof(out)));
			for (unsigned k = 0; k < 16; k++) {
				unsigned w = (unsigned)(off / 4);
				EXPECT(out[k] == (k >= w && k < w + 8 ? in[k] + 1 : 7u));
			}
		}
		if (i == 0) {
			uint32_t ws = 0;
			CUfunction g;
			CK(cuModuleGetFunction(&g, m, "ws"));
			void *wargs[] = { &dst };
			CK(cuLaunchKernel(g, 1, 1, 1, 1, 1, 1, 0, NULL, wargs, NULL));
			CK(cuMemcpyDtoH(&ws, dst, sizeof(ws)));
			EXPECT(ws == 64);
			/* the function's PTX version is its module's target (the libraries pick launch
			 * shapes by it); the binary version is the simulated device's */
			int pv = 0, bv = 0;
			CK(cuFuncGetAttribute(&pv, CU_FUNC_ATTRIBUTE_PTX_VERSION, g));
			CK(cuFuncGetAttribute(&bv, CU_FUNC_ATTRIBUTE_BINARY_VERSION, g));
			EXPECT(pv == 100 && bv == 75);
			CUmodule m2;
			CK(cuModuleLoadData(&m2, ".version 8.0\n.target sm_90a\n.address_size 64\n"
						 ".visible .entry e()\n{\nret;\n}\n"));
			CK(cuModuleGetFunction(&g, m2, "e"));
			CK(cuFuncGetAttribute(&pv, CU_FUNC_ATTRIBUTE_PTX_VERSION, g));
			EXPECT(pv == 90);
			CK(cuModuleUnload(m2));
		}
		CK(cuCtxDestroy(ctx));
	}
	library_forms(dev);
	CUcontext ctx;
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	static const char *const refused[] = {
		/* shared memory has no 256-bit access */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<9>;\n.shared .align 32 .b8 s[32];\nmov.u32 %r1, s;\n"
		"ld.shared.v8.b32 {%r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8}, [%r1];\nret;\n}\n",
		/* eight 64-bit values would be 512 bits */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b64 %rd<10>;\nld.param.u64 %rd1, [p];\n"
		"ld.global.v8.b64 {%rd2, %rd3, %rd4, %rd5, %rd6, %rd7, %rd8, %rd9}, [%rd1];\nret;\n}\n",
		/* nine registers */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<10>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"ld.global.v8.b32 {%r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8, %r9}, [%rd1];\nret;\n}\n",
		/* a pack without .sat, to 4 bits, from u32, or of 8 bits without the third operand */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<4>;\ncvt.pack.s8.s32.b32 %r1, %r2, %r3, 0;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<4>;\ncvt.pack.sat.s4.s32.b32 %r1, %r2, %r3, 0;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<4>;\ncvt.pack.sat.s8.u32.b32 %r1, %r2, %r3, 0;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<4>;\ncvt.pack.sat.s8.s32.b32 %r1, %r2, %r3;\nret;\n}\n",
		/* .NaN on a double, cvt.rm to tf32, a cache hint without a policy register */
		HDR ".visible .entry k()\n{\n.reg .f64 %fd<3>;\nmin.NaN.f64 %fd1, %fd1, %fd2;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<2>;\n.reg .f32 %f<2>;\ncvt.rm.tf32.f32 %r1, %f1;\nret;\n}\n",
		/* DMMA in another shape or with a float accumulator; fp8 in m16n8k16 */
		HDR ".visible .entry k()\n{\n.reg .f64 %fd<8>;\nmma.sync.aligned.m16n8k4.row.col.f64.f64.f64.f64 "
		"{%fd1, %fd2}, {%fd3}, {%fd4}, {%fd5, %fd6};\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<8>;\n.reg .f32 %f<8>;\nmma.sync.aligned.m16n8k16.row.col.f32.e4m3.e4m3.f32 "
		"{%f1, %f2, %f3, %f4}, {%r1, %r2}, {%r3}, {%f5, %f6, %f7, %f1};\nret;\n}\n",
	};
	ST_REFUSED(refused);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_libptx: ok\n");
	return 0;
}
