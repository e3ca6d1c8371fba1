/* SPDX-License-Identifier: MIT */
/* The simulator's cp.async (sm_80's copies into shared memory) where programs get it wrong: a
 * source past its allocation or a destination past the block's shared memory faults the
 * launch with an illegal address, a misaligned copy with a misaligned address, and the forms
 * it does not implement (bulk, tensor, mbarrier transaction counts) or malformed sizes are
 * refused at load with a message; mbarrier misuse (a phase no thread completes, an object
 * never initialised or misaligned, too many arrivals) fails the launch instead of hanging it.
 * (What they do is checked by tests/runtime/async_copy and tests/runtime/mbarrier.) */
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
		/* the im2col tensor form, a tensor copy with the wrong number of coordinates, and the
		 * multicast bulk form */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<6>;\n.reg .b16 %h<2>;\n.reg .b64 %rd<3>;\n"
		".shared .b8 s[16];\nld.param.u64 %rd1, [p];\nmov.u32 %r1, s;\ncp.async.bulk.tensor.3d.shared::cluster."
		"global.im2col.mbarrier::complete_tx::bytes [%r1], [%rd1, {%r2, %r3, %r4}], [%r5], {%h1};\nret;\n}\n",
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<6>;\n.reg .b64 %rd<3>;\n.shared .b8 s[16];\n"
		"ld.param.u64 %rd1, [p];\nmov.u32 %r1, s;\ncp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::"
		"complete_tx::bytes [%r1], [%rd1, {%r2}], [%r3];\nret;\n}\n",
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<4>;\n.reg .b16 %h<2>;\n.reg .b64 %rd<3>;\n"
		".shared .b8 s[16];\nld.param.u64 %rd1, [p];\nmov.u32 %r1, s;\ncp.async.bulk.shared::cluster.global."
		"mbarrier::complete_tx::bytes.multicast::cluster [%r1], [%rd1], 16, [%r2], %h1;\nret;\n}\n",
		/* mbarriers of cluster scope, and a transaction count without its bytes */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<3>;\n.reg .b64 %rd<2>;\n.shared .b64 bar;\nmov.u32 %r1, bar;\n"
		"mbarrier.arrive.release.cluster.shared.b64 %rd1, [%r1];\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<3>;\n.reg .b64 %rd<2>;\n.shared .b64 bar;\nmov.u32 %r1, bar;\n"
		"mbarrier.expect_tx.relaxed.cluster.shared::cta.b64 [%r1], 16;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<3>;\n.reg .b64 %rd<2>;\n.shared .b64 bar;\nmov.u32 %r1, bar;\n"
		"mbarrier.expect_tx.shared.b64 [%r1];\nret;\n}\n",
		/* an mbarrier without its address, and .parity on an arrive */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<3>;\n.reg .b64 %rd<2>;\n"
		"mbarrier.init.shared.b64 %r1, 2;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<3>;\n.reg .b64 %rd<2>;\n.shared .b64 bar;\nmov.u32 %r1, bar;\n"
		"mbarrier.arrive.parity.shared.b64 %rd1, [%r1];\nret;\n}\n",
	};
	ST_REFUSED(refused);
	CK(cuCtxDestroy(ctx));

	/* mbarrier misuse fails the launch, never hangs it: a wait for a phase no thread can
	 * complete (count 2, one arrival), an arrival on an object never initialised, a
	 * misaligned object, more arrivals than pending */
	static const char mb_ptx[] = HDR
		".visible .entry mb(.param .u32 mode)\n{\n.reg .b32 %r<6>;\n.reg .b64 %rd<3>;\n.reg .pred %p<4>;\n"
		".shared .align 16 .b64 bar[2];\n"
		"ld.param.u32 %r1, [mode];\nmov.u32 %r2, bar;\nsetp.eq.u32 %p1, %r1, 2;\n@%p1 add.u32 %r2, %r2, 4;\n"
		"setp.ne.u32 %p2, %r1, 1;\n@%p2 mbarrier.init.shared.b64 [%r2], 2;\n"
		"mbarrier.arrive.shared.b64 %rd1, [%r2];\n"
		"setp.eq.u32 %p3, %r1, 3;\n@%p3 mbarrier.arrive.shared.b64 %rd2, [%r2], 5;\n"
		"WAIT:\nmbarrier.test_wait.shared.b64 %p1, [%r2], %rd1;\n@!%p1 bra WAIT;\nret;\n}\n";
	const CUresult mb_want[4] = { CUDA_ERROR_LAUNCH_FAILED, CUDA_ERROR_LAUNCH_FAILED, CUDA_ERROR_MISALIGNED_ADDRESS,
				      CUDA_ERROR_LAUNCH_FAILED };
	for (unsigned mode = 0; mode < 4; mode++) {
		CUmodule m;
		CUfunction f;
		CK(cuCtxCreate(&ctx, NULL, 0, dev));
		CK(cuModuleLoadData(&m, mb_ptx));
		CK(cuModuleGetFunction(&f, m, "mb"));
		void *args[] = { &mode };
		CK_RC(st_launch1(f, args), mb_want[mode]);
		CK(cuCtxDestroy(ctx));
	}

	/* a tensor copy with a map the driver made runs; one whose "map" is not one (zeros in
	 * global memory), or whose box lands in shared memory not 128-byte aligned, fails */
	static const char tma_ptx[] = HDR
		".visible .entry tm(.param .u64 map, .param .u32 off)\n{\n.reg .b32 %r<6>;\n.reg .b64 %rd<3>;\n"
		".shared .align 128 .b8 s[256];\n.shared .align 8 .b64 bar;\n"
		"ld.param.u64 %rd1, [map];\nld.param.u32 %r4, [off];\nmov.u32 %r1, s;\nadd.u32 %r1, %r1, %r4;\n"
		"mov.u32 %r2, 0;\nmov.u32 %r3, bar;\nmbarrier.init.shared.b64 [%r3], 1;\n"
		/* (the prefetches into L2 are hints, whatever the map) */
		"prefetch.tensormap [%rd1];\ncp.async.bulk.prefetch.L2.global [%rd1], 128;\n"
		"cp.async.bulk.prefetch.tensor.1d.L2.global.tile [%rd1, {%r2}];\n"
		"cp.async.bulk.tensor.1d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%r1], [%rd1, {%r2}], "
		"[%r3];\nret;\n}\n";
	const CUresult tma_want[3] = { CUDA_SUCCESS, CUDA_ERROR_MISALIGNED_ADDRESS, CUDA_ERROR_LAUNCH_FAILED };
	for (unsigned k = 0; k < 3; k++) {
		CUmodule m;
		CUfunction f;
		CUdeviceptr data, map;
		CUtensorMap tmap;
		cuuint64_t dims[1] = { 64 };
		cuuint32_t box[1] = { 32 }, es[1] = { 1 };
		unsigned off = k == 1 ? 16 : 0;
		CK(cuCtxCreate(&ctx, NULL, 0, dev));
		CK(cuModuleLoadData(&m, tma_ptx));
		CK(cuModuleGetFunction(&f, m, "tm"));
		CK(cuMemAlloc(&data, 256));
		CK(cuMemAlloc(&map, sizeof(tmap)));
		CK(cuTensorMapEncodeTiled(&tmap, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 1, (void *)data, dims, NULL, box, es,
					  CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
					  CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));
		if (k == 2)
			memset(&tmap, 0, sizeof(tmap));
		CK(cuMemcpyHtoD(map, &tmap, sizeof(tmap)));
		void *args[] = { &map, &off };
		CK_RC(st_launch1(f, args), tma_want[k]);
		CK(cuCtxDestroy(ctx));
	}
	printf("test_sim_cpasync: ok\n");
	return 0;
}
