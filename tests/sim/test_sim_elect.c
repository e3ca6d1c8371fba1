/* SPDX-License-Identifier: MIT */
/* libcudasim's elect.sync (sm_90): the lowest lane of the member mask that takes part leads;
 * every lane of the mask learns its number, and only the leader's predicate is true. Under a
 * full mask, under lanes 8-15's, and with the leader's lane gone from the warp. */
#include "simtest.h"

#define HDR ".version 8.0\n.target sm_90\n.address_size 64\n"

/* el(out, mask, skip): lanes of mask (and not lane `skip`) elect; out[lane] = leader | p << 8 */
static const char ptx[] = HDR
	".visible .entry el(.param .u64 out, .param .u32 mask, .param .u32 skip)\n{\n"
	"\t.reg .b32 %r<8>;\n\t.reg .b64 %rd<4>;\n\t.reg .pred %p<4>;\n"
	"\tld.param.u64 %rd1, [out];\n\tld.param.u32 %r1, [mask];\n\tld.param.u32 %r7, [skip];\n"
	"\tmov.u32 %r2, %laneid;\n\tshr.b32 %r3, %r1, %r2;\n\tand.b32 %r3, %r3, 1;\n"
	"\tsetp.eq.u32 %p1, %r3, 0;\n\tsetp.eq.u32 %p3, %r2, %r7;\n\tor.pred %p1, %p1, %p3;\n@%p1 bra DONE;\n"
	"\telect.sync %r4|%p2, %r1;\n\tselp.u32 %r5, 256, 0, %p2;\n\tor.b32 %r4, %r4, %r5;\n"
	"\tmul.wide.u32 %rd2, %r2, 4;\n\tadd.s64 %rd3, %rd1, %rd2;\n\tst.global.u32 [%rd3], %r4;\n"
	"DONE:\n\tret;\n}\n";

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CUcontext ctx;
	CUmodule m;
	CUfunction f;
	CUdeviceptr d;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, ptx));
	CK(cuModuleGetFunction(&f, m, "el"));
	CK(cuMemAlloc(&d, 128));
	const struct { unsigned mask, skip, leader; } cases[] = {
		{ 0xffffffffu, 99, 0 }, { 0x0000ff00u, 99, 8 }, { 0xffffffffu, 0, 1 },
	};
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned out[32], mask = cases[c].mask, skip = cases[c].skip;
		CK(cuMemsetD32(d, 0xdeadu, 32));
		void *args[] = { &d, &mask, &skip };
		CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
		CK(cuCtxSynchronize());
		CK(cuMemcpyDtoH(out, d, sizeof(out)));
		for (unsigned l = 0; l < 32; l++) {
			int in = (mask >> l & 1) && l != skip;
			unsigned want = !in ? 0xdeadu : cases[c].leader | (l == cases[c].leader ? 256u : 0u);
			if (out[l] != want) {
				fprintf(stderr, "case %u lane %u: 0x%x, expected 0x%x\n", c, l, out[l], want);
				return 1;
			}
		}
	}
	static const char *const refused[] = {
		HDR ".visible .entry k()\n{\n.reg .b32 %r<3>;\nelect.sync %r1, 0xffffffff;\nret;\n}\n",
	};
	ST_REFUSED(refused);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_elect: ok\n");
	return 0;
}
