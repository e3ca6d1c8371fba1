/* SPDX-License-Identifier: MIT */
/* The simulator's bfloat16 conversions at their edges: ties to even, overflow to infinity or
 * (.rz, .satfinite) to the largest finite, subnormals, .relu and the canonical NaN, the
 * order of cvt.rn.bf16x2.f32's halves, set's results, packed comparisons of .f16x2 and
 * .bf16x2; fp8 types and modifiers it does not
 * implement are refused at load. (Arithmetic against the host: tests/runtime/bf16_native.) */
#include "simtest.h"

#define HDR ".version 7.8\n.target sm_90\n.address_size 64\n"

/* k(in, out): out[i] = the conversions of the float bits in[i], one 32-bit word each */
static const char ptx[] = HDR
	".visible .entry k(.param .u64 in, .param .u64 out)\n{\n"
	"\t.reg .b16 %h<8>;\n\t.reg .b32 %r<16>;\n\t.reg .f32 %f<4>;\n\t.reg .b64 %rd<6>;\n"
	"\tld.param.u64 %rd1, [in];\n\tld.param.u64 %rd2, [out];\n"
	"\tmov.u32 %r1, %tid.x;\n\tmul.wide.u32 %rd3, %r1, 4;\n\tadd.s64 %rd4, %rd1, %rd3;\n"
	"\tld.global.f32 %f1, [%rd4];\n\tmul.wide.u32 %rd3, %r1, 32;\n\tadd.s64 %rd5, %rd2, %rd3;\n"
	"\tcvt.rn.bf16.f32 %h1, %f1;\n\tcvt.u32.u16 %r2, %h1;\n\tst.global.u32 [%rd5], %r2;\n"
	"\tcvt.rz.bf16.f32 %h2, %f1;\n\tcvt.u32.u16 %r3, %h2;\n\tst.global.u32 [%rd5+4], %r3;\n"
	"\tcvt.rn.satfinite.bf16.f32 %h3, %f1;\n\tcvt.u32.u16 %r4, %h3;\n\tst.global.u32 [%rd5+8], %r4;\n"
	"\tcvt.rn.relu.bf16.f32 %h4, %f1;\n\tcvt.u32.u16 %r5, %h4;\n\tst.global.u32 [%rd5+12], %r5;\n"
	"\tmov.f32 %f2, 0f3F800000;\n\tcvt.rn.bf16x2.f32 %r6, %f1, %f2;\n\tst.global.u32 [%rd5+16], %r6;\n"
	"\tcvt.f32.bf16 %f3, %h1;\n\tst.global.f32 [%rd5+20], %f3;\n"
	"\tset.lt.u32.bf16 %r7, %h1, %h4;\n\tst.global.u32 [%rd5+24], %r7;\n"
	"\tset.nan.bf16.bf16 %h5, %h1, %h1;\n\tcvt.u32.u16 %r8, %h5;\n\tst.global.u32 [%rd5+28], %r8;\n"
	"\tret;\n}\n";

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CK(cuInit(0));
	CUdevice dev;
	CUcontext ctx;
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	/* float bits in; then rn, rz, rn.satfinite, rn.relu, bf16x2(in, 1.0), back to float,
	 * set.lt(rn, relu) (all ones for the negative ones: their relu is +0), set.nan(rn) */
	static const struct { uint32_t in, rn, rz, satf, relu; } c[] = {
		{ 0x3f800000, 0x3f80, 0x3f80, 0x3f80, 0x3f80 },   /* 1.0: exact */
		{ 0x3f808000, 0x3f80, 0x3f80, 0x3f80, 0x3f80 },   /* a tie: to even (down) */
		{ 0x3f818000, 0x3f82, 0x3f81, 0x3f82, 0x3f82 },   /* a tie: to even (up) */
		{ 0x3f808001, 0x3f81, 0x3f80, 0x3f81, 0x3f81 },   /* just above a tie */
		{ 0xbf818000, 0xbf82, 0xbf81, 0xbf82, 0x0000 },   /* negative: relu gives +0 */
		{ 0x80000000, 0x8000, 0x8000, 0x8000, 0x0000 },   /* -0: relu gives +0 too (an H200 does) */
		{ 0x7f7f8000, 0x7f80, 0x7f7f, 0x7f7f, 0x7f80 },   /* halfway past the largest: infinity */
		{ 0x7f800000, 0x7f80, 0x7f80, 0x7f7f, 0x7f80 },   /* infinity (satfinite: the largest) */
		{ 0xff800000, 0xff80, 0xff80, 0xff7f, 0x0000 },
		{ 0x00018000, 0x0002, 0x0001, 0x0002, 0x0002 },   /* subnormal tie: to even (up) */
		{ 0x00008000, 0x0000, 0x0000, 0x0000, 0x0000 },   /* subnormal tie: to even (zero) */
		{ 0x7fc00001, 0x7fff, 0x7fff, 0x7fff, 0x7fff },   /* NaN: the canonical one */
	};
	enum { N = sizeof(c) / sizeof(c[0]) };
	uint32_t in[N], out[N * 8];
	for (int i = 0; i < N; i++)
		in[i] = c[i].in;
	CUmodule m;
	CUfunction f;
	CUdeviceptr din, dout;
	CK(cuModuleLoadData(&m, ptx));
	CK(cuModuleGetFunction(&f, m, "k"));
	CK(cuMemAlloc(&din, sizeof(in)));
	CK(cuMemAlloc(&dout, sizeof(out)));
	CK(cuMemcpyHtoD(din, in, sizeof(in)));
	void *args[] = { &din, &dout };
	CK(cuLaunchKernel(f, 1, 1, 1, N, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(out, dout, sizeof(out)));
	for (int i = 0; i < N; i++) {
		const uint32_t *o = &out[i * 8];
		int nan = c[i].rn == 0x7fff, neg = !nan && (c[i].rn & 0x8000) && (c[i].rn & 0x7fff);
		uint32_t back = c[i].rn << 16;
		if (o[0] != c[i].rn || o[1] != c[i].rz || o[2] != c[i].satf || o[3] != c[i].relu ||
		    o[4] != (c[i].rn << 16 | 0x3f80) || o[5] != back || o[6] != (neg ? 0xffffffffu : 0) ||
		    o[7] != (nan ? 0x3f80u : 0)) {
			fprintf(stderr, "case %d (0x%08x): rn %04x rz %04x satfinite %04x relu %04x x2 %08x f32 %08x "
				"set.lt %08x set.nan %04x; expected %04x %04x %04x %04x %08x %08x %08x %04x\n", i,
				c[i].in, o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], c[i].rn, c[i].rz, c[i].satf,
				c[i].relu, c[i].rn << 16 | 0x3f80, back, neg ? 0xffffffffu : 0, nan ? 0x3f80u : 0);
			return 1;
		}
	}
	CK(cuCtxDestroy(ctx));

	/* packed comparisons, each half on its own: set to all-ones halves or to 1.0 halves,
	 * setp to a predicate per half (the lower half's first) */
	static const char packed[] = HDR
		".visible .entry p(.param .u64 out, .param .b32 a, .param .b32 b)\n{\n"
		"\t.reg .pred %p<3>;\n\t.reg .b32 %r<12>;\n\t.reg .b64 %rd<2>;\n"
		"\tld.param.u64 %rd1, [out];\n\tld.param.b32 %r1, [a];\n\tld.param.b32 %r2, [b];\n"
		"\tset.lt.u32.f16x2 %r3, %r1, %r2;\n\tst.global.u32 [%rd1], %r3;\n"
		"\tset.lt.f16x2.f16x2 %r4, %r1, %r2;\n\tst.global.u32 [%rd1+4], %r4;\n"
		"\tset.lt.u32.bf16x2 %r5, %r1, %r2;\n\tst.global.u32 [%rd1+8], %r5;\n"
		"\tset.lt.bf16x2.bf16x2 %r6, %r1, %r2;\n\tst.global.u32 [%rd1+12], %r6;\n"
		"\tsetp.lt.f16x2 %p1|%p2, %r1, %r2;\n\tselp.u32 %r7, 1, 0, %p1;\n\tselp.u32 %r8, 2, 0, %p2;\n"
		"\tor.b32 %r9, %r7, %r8;\n\tst.global.u32 [%rd1+16], %r9;\n"
		"\tsetp.equ.bf16x2 %p1|%p2, %r1, %r2;\n\tselp.u32 %r7, 1, 0, %p1;\n\tselp.u32 %r8, 2, 0, %p2;\n"
		"\tor.b32 %r10, %r7, %r8;\n\tst.global.u32 [%rd1+20], %r10;\n"
		"\tret;\n}\n";
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuModuleLoadData(&m, packed));
	CK(cuModuleGetFunction(&f, m, "p"));
	CK(cuMemAlloc(&dout, 24));
	/* half: a = (upper 2.0, lower 1.0), b = (upper 1.0, lower 3.0): lower a < b only.
	 * bfloat16 reading the same bits: a = (0x4000, 0x3c00) = (2.0, 0.0117...), b = (0x3c00,
	 * 0x4200) = (0.0117..., 32.0): lower a < b only, upper unordered-equal false */
	uint32_t a = 0x40003c00u, bb = 0x3c004200u, res[6];
	void *pargs[] = { &dout, &a, &bb };
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, pargs, NULL));
	CK(cuMemcpyDtoH(res, dout, sizeof(res)));
	EXPECT(res[0] == 0x0000ffffu && res[1] == 0x00003c00u && res[2] == 0x0000ffffu && res[3] == 0x00003f80u);
	EXPECT(res[4] == 1 && res[5] == 0);
	a = 0x7fff3c00u;   /* an upper NaN: unordered comparisons hold there */
	bb = 0x3c003c00u;
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, pargs, NULL));
	CK(cuMemcpyDtoH(res, dout, sizeof(res)));
	EXPECT(res[0] == 0 && res[5] == 3);
	CK(cuCtxDestroy(ctx));

	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	static const char *const refused[] = {
		/* fp8 arithmetic (only the pair conversions are simulated: tests/sim/test_sim_fp8) */
		HDR ".visible .entry k()\n{\n.reg .b16 %h<3>;\n"
		"add.rn.e4m3x2 %h1, %h2, %h2;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .f32 %f<3>;\nmov.f32 %f1, 0f3F800000;\n"
		"min.xorsign.abs.f32 %f2, %f1, %f1;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .f64 %fd<3>;\nmov.f64 %fd1, 0d3FF0000000000000;\n"
		"max.NaN.f64 %fd2, %fd1, %fd1;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b16 %h<2>;\n.reg .f32 %f<2>;\nmov.f32 %f1, 0f3F800000;\n"
		"cvt.rs.bf16.f32 %h1, %f1;\nret;\n}\n",
		/* a packed comparison with a combiner */
		HDR ".visible .entry k()\n{\n.reg .pred %p<3>;\n.reg .b32 %r<2>;\nmov.b32 %r1, 0;\n"
		"setp.lt.and.f16x2 %p1|%p2, %r1, %r1, %p1;\nret;\n}\n",
	};
	ST_REFUSED(refused);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_bf16: ok\n");
	return 0;
}
