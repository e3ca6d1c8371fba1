/* SPDX-License-Identifier: MIT */
/* The simulator's cp.async (sm_80's copies into shared memory) where programs get it wrong: a
 * source past its allocation or a destination past the block's shared memory faults the
 * launch with an illegal address, a misaligned copy with a misaligned address, and the forms
 * it does not implement (bulk, tensor, mbarrier) or malformed sizes are refused at load with
 * a message. (What it copies is checked by tests/runtime/async_copy against the host.) */
#include "simtest.h"

#define HDR ".version 7.0\n.target sm_80\n.address_size 64\n"

/* cp(src, soff, doff): one 16-byte copy from src + soff to shared + doff, the tile stored back. */
static const char ptx[] = HDR
	".visible .entry cp(.param .u64 src, .param .u32 soff, .param .u32 doff)\n{\n"
	"\t.reg .b32 %r<6>;\n\t.reg .b64 %rd<5>;\n\t.shared .align 16 .b8 s[64];\n"
	"\tld.param.u64 %rd1, [src];\n\tld.param.u32 %r1, [soff];\n\tld.param.u32 %r2, [doff];\n"
	"\tcvt.u64.u32 %rd2, %r1;\n\tadd.s64 %rd3, %rd1, %rd2;\n\tmov.u32 %r3, s;\n\tadd.u32 %r4, %r3, %r2;\n"
	"\tcp.async.cg.shared.global [%r4], [%rd3], 16;\n\tcp.async.commit_group;\n\tcp.async.wait_all;\n"
	"\tret;\n}\n";

static CUresult run(CUfunction f, CUdeviceptr p, unsigned soff, unsigned doff)
{
	void *args[] = { &p, &soff, &doff };
	return st_launch1(f, args);
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CK(cuInit(0));
	CUdevice dev;
	CK(cuDeviceGet(&dev, 0));
	static const struct { unsigned soff, doff; CUresult want; } cases[] = {
		{ 0, 0, CUDA_SUCCESS },
		{ 240, 48, CUDA_SUCCESS },                     /* the last 16 bytes of each */
		{ 256, 0, CUDA_ERROR_ILLEGAL_ADDRESS },        /* past the 256-byte allocation */
		{ 0, 64, CUDA_ERROR_ILLEGAL_ADDRESS },         /* past the 64 bytes of shared memory */
		{ 8, 0, CUDA_ERROR_MISALIGNED_ADDRESS },       /* not 16-byte aligned */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CUcontext ctx;
		CUmodule m;
		CUfunction f;
		CUdeviceptr p;
		CK(cuCtxCreate(&ctx, NULL, 0, dev));
		CK(cuModuleLoadData(&m, ptx));
		CK(cuModuleGetFunction(&f, m, "cp"));
		CK(cuMemAlloc(&p, 256));
		CK_RC(run(f, p, cases[i].soff, cases[i].doff), cases[i].want);
		CK(cuCtxDestroy(ctx));
	}

	CUcontext ctx;
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	static const char *const refused[] = {
		/* .cg copies 16 bytes only */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<2>;\n.reg .b64 %rd<2>;\n.shared .b8 s[16];\n"
		"ld.param.u64 %rd1, [p];\nmov.u32 %r1, s;\ncp.async.cg.shared.global [%r1], [%rd1], 8;\nret;\n}\n",
		/* a size that is not 4, 8 or 16 */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<2>;\n.reg .b64 %rd<2>;\n.shared .b8 s[16];\n"
		"ld.param.u64 %rd1, [p];\nmov.u32 %r1, s;\ncp.async.ca.shared.global [%r1], [%rd1], 12;\nret;\n}\n",
		/* the bulk form */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<3>;\n.reg .b64 %rd<3>;\n.shared .b8 s[16];\n"
		"ld.param.u64 %rd1, [p];\nmov.u32 %r1, s;\ncp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes "
		"[%r1], [%rd1], 16, [%r2];\nret;\n}\n",
		/* the mbarrier arrive */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<2>;\n.shared .b64 bar;\nmov.u32 %r1, bar;\n"
		"cp.async.mbarrier.arrive.shared.b64 [%r1];\nret;\n}\n",
	};
	ST_REFUSED(refused);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_cpasync: ok\n");
	return 0;
}
