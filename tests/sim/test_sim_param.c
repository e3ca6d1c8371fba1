/* SPDX-License-Identifier: MIT */
/* libcudasim's generic addresses of kernel parameters (cvta.param, what taking the address of a
 * __grid_constant__ parameter compiles to): read through them, isspacep.param says so and
 * isspacep.global does not; a store through one, or a read past the parameters, faults. */
#include "simtest.h"

#define HDR ".version 8.0\n.target sm_80\n.address_size 64\n"

/* pk(out, v, mode): out[0] = v read back through its generic address, out[1] = isspacep.param,
 * out[2] = isspacep.global; mode 1 also stores through it, mode 2 reads 4 KiB past it */
static const char ptx[] = HDR
	".visible .entry pk(.param .u64 out, .param .u32 v, .param .u32 mode)\n{\n"
	"\t.reg .b32 %r<8>;\n\t.reg .b64 %rd<6>;\n\t.reg .pred %p<4>;\n"
	"\tld.param.u64 %rd1, [out];\n\tld.param.u32 %r7, [mode];\n\tmov.b64 %rd2, v;\n\tcvta.param.u64 %rd3, %rd2;\n"
	"\tsetp.eq.u32 %p3, %r7, 2;\n\t@%p3 add.s64 %rd3, %rd3, 4096;\n"
	"\tld.u32 %r1, [%rd3];\n\tisspacep.param %p1, %rd3;\n\tisspacep.global %p2, %rd3;\n"
	"\tselp.u32 %r2, 1, 0, %p1;\n\tselp.u32 %r3, 1, 0, %p2;\n"
	"\tst.global.u32 [%rd1], %r1;\n\tst.global.u32 [%rd1+4], %r2;\n\tst.global.u32 [%rd1+8], %r3;\n"
	"\tsetp.eq.u32 %p3, %r7, 1;\n\t@%p3 st.u32 [%rd3], %r1;\n\tret;\n}\n";

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CUresult want[3] = { CUDA_SUCCESS, CUDA_ERROR_ILLEGAL_ADDRESS, CUDA_ERROR_ILLEGAL_ADDRESS };
	CK(cuInit(0));
	for (unsigned mode = 0; mode < 3; mode++) {
		CUcontext ctx;
		CUmodule m;
		CUfunction f;
		CUdeviceptr d;
		unsigned v = 0x5eed1234u, out[3] = { 0, 0, 0 };
		CK(cuCtxCreate(&ctx, NULL, 0, 0));
		CK(cuModuleLoadData(&m, ptx));
		CK(cuModuleGetFunction(&f, m, "pk"));
		CK(cuMemAlloc(&d, 16));
		void *args[] = { &d, &v, &mode };
		CK_RC(st_launch1(f, args), want[mode]);
		if (mode == 0) {
			CK(cuMemcpyDtoH(out, d, sizeof(out)));
			EXPECT(out[0] == v && out[1] == 1 && out[2] == 0);
		}
		CK(cuCtxDestroy(ctx));
	}
	printf("test_sim_param: ok\n");
	return 0;
}
