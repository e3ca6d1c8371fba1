/* SPDX-License-Identifier: MIT */
/* Shared and local addresses in the simulator are 32 bits, as the hardware's: [%r+imm] over a
 * 32-bit register wraps. nvcc's code indexes shared arrays so (cuRAND's MT19937 jump-ahead
 * adds 0xfffffff4, -12, to a base it then offsets by a positive immediate): the wrapped
 * address is the array's, and only an address past the block's shared memory faults. */
#include "simtest.h"

#define HDR ".version 7.0\n.target sm_75\n.address_size 64\n"

/* k(out, delta): s[i] = i and l[i] = 100 + i for 16 words of shared and local memory, then
 * out[0] = the shared word at [s + delta + 16] (16 the immediate), out[1] = the local word at
 * [l + delta + 16]. */
static const char ptx[] = HDR
	".visible .entry k(.param .u64 out, .param .u32 delta)\n{\n"
	"\t.reg .pred %p<2>;\n\t.reg .b32 %r<12>;\n\t.reg .b64 %rd<4>;\n\t.shared .align 4 .b8 s[64];\n"
	"\t.local .align 4 .b8 l[64];\n"
	"\tld.param.u64 %rd1, [out];\n\tld.param.u32 %r1, [delta];\n"
	"\tmov.u32 %r2, s;\n\tmov.u32 %r3, l;\n\tmov.u32 %r4, 0;\n"
	"$fill:\n\tshl.b32 %r5, %r4, 2;\n\tadd.u32 %r6, %r2, %r5;\n\tst.shared.u32 [%r6], %r4;\n"
	"\tadd.u32 %r7, %r3, %r5;\n\tadd.u32 %r8, %r4, 100;\n\tst.local.u32 [%r7], %r8;\n"
	"\tadd.u32 %r4, %r4, 1;\n\tsetp.lt.u32 %p1, %r4, 16;\n\t@%p1 bra $fill;\n"
	"\tadd.u32 %r9, %r2, %r1;\n\tld.shared.u32 %r10, [%r9+16];\n\tst.global.u32 [%rd1], %r10;\n"
	"\tadd.u32 %r9, %r3, %r1;\n\tld.local.u32 %r11, [%r9+16];\n\tst.global.u32 [%rd1+4], %r11;\n"
	"\tret;\n}\n";

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CK(cuInit(0));
	CUdevice dev;
	CK(cuDeviceGet(&dev, 0));
	static const struct { unsigned delta; CUresult want; unsigned shared, local; } cases[] = {
		{ 0, CUDA_SUCCESS, 4, 104 },                     /* [s + 16]: word 4 */
		{ 0xfffffff4u, CUDA_SUCCESS, 1, 101 },           /* -12 + 16 = 4: word 1 */
		{ 0xfffffff0u, CUDA_SUCCESS, 0, 100 },           /* -16 + 16 = 0: word 0 */
		{ 44, CUDA_SUCCESS, 15, 115 },                   /* 60: the last word */
		{ 48, CUDA_ERROR_ILLEGAL_ADDRESS, 0, 0 },        /* 64: past the 64 bytes */
		{ 0xffffffecu, CUDA_ERROR_ILLEGAL_ADDRESS, 0, 0 }, /* -20 + 16 = -4: before them */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CUcontext ctx;
		CUmodule m;
		CUfunction f;
		CUdeviceptr p;
		CK(cuCtxCreate(&ctx, NULL, 0, dev));
		CK(cuModuleLoadData(&m, ptx));
		CK(cuModuleGetFunction(&f, m, "k"));
		CK(cuMemAlloc(&p, 8));
		CK(cuMemsetD32(p, 0xdead, 2));
		unsigned delta = cases[i].delta;
		void *args[] = { &p, &delta };
		CK_RC(st_launch1(f, args), cases[i].want);
		if (cases[i].want == CUDA_SUCCESS) {
			unsigned got[2];
			CK(cuMemcpyDtoH(got, p, sizeof(got)));
			EXPECT(got[0] == cases[i].shared && got[1] == cases[i].local);
		}
		CK(cuCtxDestroy(ctx));
	}
	printf("test_sim_shared32: ok\n");
	return 0;
}
