/* SPDX-License-Identifier: MIT */
/* libcudasim's fp8 conversions where tests/runtime/fp8_convert cannot reach through cuda_fp8.h:
 * the .relu forms (negatives and -0 become +0, NaN stays the canonical NaN) and the forms it
 * does not implement, refused at load with CUDA_ERROR_INVALID_PTX. */
#include "simtest.h"

#include <math.h>

#define HDR ".version 8.0\n.target sm_90\n.address_size 64\n"

static const char ptx[] = HDR
	".visible .entry k(.param .u64 p, .param .f32 a, .param .f32 b)\n{\n"
	"\t.reg .b16 %h<3>;\n\t.reg .b32 %r<3>;\n\t.reg .f32 %f<3>;\n\t.reg .b64 %rd<2>;\n"
	"\tld.param.u64 %rd1, [p];\n\tld.param.f32 %f1, [a];\n\tld.param.f32 %f2, [b];\n"
	"\tcvt.rn.satfinite.relu.e4m3x2.f32 %h1, %f1, %f2;\n"
	"\tcvt.rn.satfinite.e5m2x2.f32 %h2, %f1, %f2;\n"
	"\tcvt.rn.relu.f16x2.e5m2x2 %r1, %h2;\n"
	"\tcvt.rn.f16x2.e5m2x2 %r2, %h2;\n"
	"\tst.global.u16 [%rd1], %h1;\n\tst.global.u16 [%rd1+2], %h2;\n"
	"\tst.global.u32 [%rd1+4], %r1;\n\tst.global.u32 [%rd1+8], %r2;\n\tret;\n}\n";

static void run(CUfunction f, CUdeviceptr d, float a, float b, unsigned short *h16, unsigned *h32)
{
	void *args[] = { &d, &a, &b };
	CK(st_launch1(f, args));
	unsigned char out[12];
	CK(cuMemcpyDtoH(out, d, sizeof(out)));
	memcpy(h16, out, 4);
	memcpy(h32, out + 4, 8);
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CUcontext ctx;
	CUmodule m;
	CUfunction f;
	CUdeviceptr d;
	unsigned short h16[2];
	unsigned h32[2];
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, ptx));
	CK(cuModuleGetFunction(&f, m, "k"));
	CK(cuMemAlloc(&d, 16));

	/* a = -3 (upper), b = 2.5: relu makes the upper +0; e5m2 keeps it, relu again on the halves */
	run(f, d, -3.0f, 2.5f, h16, h32);
	EXPECT(h16[0] == 0x0042);                 /* e4m3: +0 | 2.5 = 1.25 * 2^1: (1 + 7) << 3 | 2 */
	EXPECT(h16[1] == 0xc241);                 /* e5m2: -3 = -1.5 * 2^1: 0x80 | 16 << 2 | 2; 2.5: 16 << 2 | 1 */
	EXPECT(h32[0] == 0x00004100);             /* relu: -3.0 becomes +0; 2.5 as a half */
	EXPECT(h32[1] == 0xc2004100);
	/* -0 and NaN: relu gives +0 and the canonical NaN */
	run(f, d, -0.0f, NAN, h16, h32);
	EXPECT(h16[0] == 0x007f);
	EXPECT(h16[1] == 0x807f);                 /* without relu -0 stays -0 */
	EXPECT(h32[0] == 0x00007fff);
	EXPECT(h32[1] == 0x80007fff);
	/* past the largest finite, and infinities: saturated */
	run(f, d, 1e9f, -INFINITY, h16, h32);
	EXPECT(h16[0] == 0x7e00);                 /* relu: -inf is +0 */
	EXPECT(h16[1] == 0x7bfb);                 /* e5m2: +-57344 */

	static const char *const refused[] = {
		/* no .satfinite, or another rounding */
		HDR ".visible .entry k()\n{\n.reg .b16 %h<2>;\n.reg .f32 %f<3>;\n"
		"cvt.rn.e4m3x2.f32 %h1, %f1, %f2;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b16 %h<2>;\n.reg .f32 %f<3>;\n"
		"cvt.rz.satfinite.e4m3x2.f32 %h1, %f1, %f2;\nret;\n}\n",
		/* a single fp8, and a pair to bfloat16 */
		HDR ".visible .entry k()\n{\n.reg .b16 %h<2>;\n.reg .f32 %f<3>;\n"
		"cvt.rn.satfinite.e4m3.f32 %h1, %f1;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b16 %h<2>;\n.reg .b32 %r<2>;\n"
		"cvt.rn.bf16x2.e4m3x2 %r1, %h1;\nret;\n}\n",
		/* one float for a pair */
		HDR ".visible .entry k()\n{\n.reg .b16 %h<2>;\n.reg .f32 %f<3>;\n"
		"cvt.rn.satfinite.e4m3x2.f32 %h1, %f1;\nret;\n}\n",
	};
	ST_REFUSED(refused);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_fp8: ok\n");
	return 0;
}
