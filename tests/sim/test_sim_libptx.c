/* SPDX-License-Identifier: MIT */
/* PTX forms the CUDA libraries' modules use (cuDNN's): 256-bit loads and stores
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
	};
	ST_REFUSED(refused);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_libptx: ok\n");
	return 0;
}
