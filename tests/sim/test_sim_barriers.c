/* SPDX-License-Identifier: MIT */
/* libcudasim's numbered barriers with thread counts: barrier.sync.aligned with a number and a
 * count in registers (NCCL's form), bar.arrive counting a thread that goes on, a block whose
 * last warp is partial (a GPU counts it as a whole warp), barrier.red.or with a count; what
 * fails the launch instead of hanging it (a count no warp multiple, a number past 15, a count
 * never reached) and what is refused at load. Capability and clusters: VGPU_SIM_CC. */
#include "simtest.h"

#include <unistd.h>

#define HDR ".version 8.0\n.target sm_90\n.address_size 64\n"

/*
 * grp(out, n): threads below n form a group that waits at barrier 3 for n threads, after
 * writing their index to sh[tid]; each then writes the sum over the group's sh to out[tid].
 * Threads from n on arrive at barrier 4 (count 32 x their warps) and leave.
 */
static const char ptx_grp[] = HDR
	".visible .entry grp(.param .u64 out, .param .u32 n)\n{\n"
	".reg .b32 %r<12>;\n.reg .b64 %rd<6>;\n.reg .pred %p<3>;\n.shared .align 4 .b8 sh[4096];\n"
	"ld.param.u64 %rd1, [out];\nld.param.u32 %r1, [n];\nmov.u32 %r2, %tid.x;\n"
	"setp.ge.u32 %p1, %r2, %r1;\n@%p1 bra REST;\n"
	"shl.b32 %r3, %r2, 2;\nmov.u32 %r4, sh;\nadd.s32 %r5, %r4, %r3;\nst.shared.u32 [%r5], %r2;\n"
	"mov.u32 %r6, 3;\nbarrier.sync.aligned %r6, %r1;\n"
	"mov.u32 %r7, 0;\nmov.u32 %r8, 0;\nLOOP:\nshl.b32 %r9, %r8, 2;\nadd.s32 %r10, %r4, %r9;\n"
	"ld.shared.u32 %r11, [%r10];\nadd.s32 %r7, %r7, %r11;\nadd.s32 %r8, %r8, 1;\n"
	"setp.lt.u32 %p2, %r8, %r1;\n@%p2 bra LOOP;\n"
	"mul.wide.u32 %rd2, %r2, 4;\nadd.s64 %rd3, %rd1, %rd2;\nst.global.u32 [%rd3], %r7;\nret;\n"
	"REST:\nmov.u32 %r6, %ntid.x;\nsub.u32 %r6, %r6, %r1;\nadd.u32 %r6, %r6, 31;\nand.b32 %r6, %r6, -32;\n"
	"bar.arrive 4, %r6;\nret;\n}\n";

/* orred(out, bit): every thread of the block votes tid == bit over barrier.red.or with a
 * count of the block's threads (rounded up to warps) and writes the answer */
static const char ptx_or[] = HDR
	".visible .entry orred(.param .u64 out, .param .u32 bit, .param .u32 cnt)\n{\n"
	".reg .b32 %r<8>;\n.reg .b64 %rd<4>;\n.reg .pred %p<3>;\n"
	"ld.param.u64 %rd1, [out];\nld.param.u32 %r1, [bit];\nld.param.u32 %r5, [cnt];\nmov.u32 %r2, %tid.x;\n"
	"setp.eq.u32 %p1, %r2, %r1;\nmov.u32 %r4, 2;\nbarrier.red.or.pred %p2, %r4, %r5, %p1;\n"
	"selp.u32 %r3, 1, 0, %p2;\nmul.wide.u32 %rd2, %r2, 4;\nadd.s64 %rd3, %rd1, %rd2;\n"
	"st.global.u32 [%rd3], %r3;\nret;\n}\n";

/* bad(num, cnt): every thread waits at barrier num for cnt threads */
static const char ptx_bad[] = HDR
	".visible .entry bad(.param .u32 num, .param .u32 cnt)\n{\n.reg .b32 %r<3>;\n"
	"ld.param.u32 %r1, [num];\nld.param.u32 %r2, [cnt];\nbarrier.sync.aligned %r1, %r2;\nret;\n}\n";

/* spin(out): thread 0 waits, with no barrier, for a flag in shared memory that thread 32
 * (another warp) sets after a loop of its own; out = the flag's value. Each thread runs until
 * it waits, so thread 0 would spin forever unless a thread that loops long lets the others
 * run (cooperative groups' tiles of several warps synchronise this way). */
static const char ptx_spin[] = HDR
	".visible .entry spin(.param .u64 out)\n{\n.reg .b32 %r<6>;\n.reg .b64 %rd<3>;\n.reg .pred %p<4>;\n"
	".shared .align 4 .b32 flag;\n"
	"ld.param.u64 %rd1, [out];\nmov.u32 %r1, %tid.x;\nsetp.eq.u32 %p1, %r1, 32;\n@%p1 bra WRITER;\n"
	"setp.ne.u32 %p2, %r1, 0;\n@%p2 bra END;\n"
	"WAIT:\nld.acquire.cta.shared.u32 %r2, [flag];\nsetp.eq.u32 %p3, %r2, 0;\n@%p3 bra WAIT;\n"
	"st.global.u32 [%rd1], %r2;\nbra.uni END;\n"
	"WRITER:\nmov.u32 %r4, 0;\nLOOP:\nadd.u32 %r4, %r4, 1;\nsetp.lt.u32 %p1, %r4, 10000;\n@%p1 bra LOOP;\n"
	"st.release.cta.shared.u32 [flag], %r4;\nEND:\nret;\n}\n";

/* rsmem(out): the reserved shared memory's registers (begin, end, cap, _0, _1) and a value
 * stored through _1's generic address and read back, after 100 bytes of the kernel's own */
static const char ptx_rsmem[] = HDR
	".visible .entry rsmem(.param .u64 out)\n{\n.reg .b32 %r<9>;\n.reg .b64 %rd<4>;\n"
	".shared .align 4 .b8 own[100];\n"
	"ld.param.u64 %rd1, [out];\nmov.u32 %r1, %reserved_smem_offset_begin;\n"
	"mov.u32 %r2, %reserved_smem_offset_end;\nmov.u32 %r3, %reserved_smem_offset_cap;\n"
	"mov.u32 %r4, %reserved_smem_offset_0;\nmov.u32 %r5, %reserved_smem_offset_1;\n"
	"cvt.u64.u32 %rd2, %r5;\ncvta.shared.u64 %rd3, %rd2;\nmov.u32 %r6, 12345;\n"
	"st.u32 [%rd3+284], %r6;\nld.u32 %r7, [%rd3+284];\nst.shared.u32 [own], %r6;\n"
	"st.global.v4.u32 [%rd1], {%r1, %r2, %r3, %r4};\nst.global.v2.u32 [%rd1+16], {%r5, %r7};\nret;\n}\n";

static CUcontext ctx;

static void fresh(void)
{
	CK(cuCtxDestroy(ctx));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
}

static CUresult bad(unsigned threads, unsigned num, unsigned cnt)
{
	CUmodule m;
	CUfunction f;
	CK(cuModuleLoadData(&m, ptx_bad));
	CK(cuModuleGetFunction(&f, m, "bad"));
	void *args[] = { &num, &cnt };
	CUresult r = cuLaunchKernel(f, 1, 1, 1, threads, 1, 1, 0, NULL, args, NULL);
	if (r == CUDA_SUCCESS)
		r = cuCtxSynchronize();
	fresh();
	return r;
}

/* a kernel whose PTX fixes its cluster shape, and one that must be given one */
static const char ptx_reqc[] = HDR
	".visible .entry fixed() .reqnctapercluster 2, 1, 1\n{\nret;\n}\n"
	".visible .entry given() .explicitcluster\n{\nret;\n}\n";

static int cluster_attr(CUfunction f, CUfunction_attribute a)
{
	int v = -1;
	CK(cuFuncGetAttribute(&v, a, f));
	return v;
}

/* Cluster attributes of functions (cuBLAS sets them on its first kernel as it starts on a
 * 9.0 device and asks how many clusters of each size fit): settable from 9.0, required
 * shapes enforced at launch, a size past the largest fitting none. */
static void clusters_of_functions(CUfunction f, int maj)
{
	CUlaunchAttribute at = { .id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION };
	at.value.clusterDim.x = 8;
	at.value.clusterDim.y = 1;
	at.value.clusterDim.z = 1;
	CUlaunchConfig cfg = { .gridDimX = 8, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 64, .blockDimY = 1,
	                       .blockDimZ = 1, .attrs = &at, .numAttrs = 1 };
	int size = -1, num = -1;
	if (maj < 9) {
		CK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1),
		      CUDA_ERROR_INVALID_VALUE);
		CK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH, 2), CUDA_ERROR_INVALID_VALUE);
		EXPECT(cluster_attr(f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED) == 0);
		at.value.clusterDim.x = 1;
		CK(cuOccupancyMaxPotentialClusterSize(&size, f, &cfg));
		EXPECT(size == 1);
		return;
	}
	/* sizes: 8 portable, 16 once allowed; a 9-block cluster fits nowhere until then */
	CK(cuOccupancyMaxPotentialClusterSize(&size, f, &cfg));
	EXPECT(size == 8);
	CK(cuOccupancyMaxActiveClusters(&num, f, &cfg));
	int per_sm = 0;
	CK(cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, 64, 0));
	int sms = 0;
	CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0));
	EXPECT(per_sm > 0 && num == per_sm * sms / 8);
	at.value.clusterDim.x = 9;
	cfg.gridDimX = 9;
	CK(cuOccupancyMaxActiveClusters(&num, f, &cfg));
	EXPECT(num == 0);
	CK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 2), CUDA_ERROR_INVALID_VALUE);
	CK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1));
	EXPECT(cluster_attr(f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED) == 1);
	CK(cuOccupancyMaxActiveClusters(&num, f, &cfg));
	EXPECT(num == per_sm * sms / 9);
	CK(cuOccupancyMaxPotentialClusterSize(&size, f, &cfg));
	EXPECT(size == 16);
	at.value.clusterDim.x = 17;
	cfg.gridDimX = 17;
	CK(cuOccupancyMaxActiveClusters(&num, f, &cfg));
	EXPECT(num == 0);
	CK_RC(cuOccupancyMaxActiveClusters(&num, f, NULL), CUDA_ERROR_INVALID_VALUE);   /* (it read through NULL) */
	/* the scheduling policy: one of the three */
	CK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE,
	                      CU_CLUSTER_SCHEDULING_POLICY_SPREAD));
	EXPECT(cluster_attr(f, CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE) ==
	       CU_CLUSTER_SCHEDULING_POLICY_SPREAD);
	CK_RC(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE, 3),
	      CUDA_ERROR_INVALID_VALUE);

	/* a shape set at run time: launches without one take it, others must be it */
	CUdeviceptr d;
	CK(cuMemAlloc(&d, 64 * 4));
	unsigned n = 64;
	void *args[] = { &d, &n };
	CK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH, 2));
	CK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT, 1));
	CK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH, 1));
	EXPECT(cluster_attr(f, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH) == 2);
	CK(cuLaunchKernel(f, 4, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
	CK_RC(cuLaunchKernel(f, 3, 1, 1, 64, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_CLUSTER_SIZE);
	at.value.clusterDim.x = 4;
	cfg.gridDimX = 4;
	CK_RC(cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_INVALID_CLUSTER_SIZE);
	at.value.clusterDim.x = 2;
	CK(cuLaunchKernelEx(&cfg, f, args, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemFree(d));

	/* shapes the PTX fixes cannot change; one it asks for must come with the launch */
	CUmodule m;
	CUfunction fx, gv;
	CK(cuModuleLoadData(&m, ptx_reqc));
	CK(cuModuleGetFunction(&fx, m, "fixed"));
	CK(cuModuleGetFunction(&gv, m, "given"));
	EXPECT(cluster_attr(fx, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH) == 2 &&
	       cluster_attr(fx, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT) == 1 &&
	       cluster_attr(fx, CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET) == 1);
	CK_RC(cuFuncSetAttribute(fx, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH, 4), CUDA_ERROR_NOT_PERMITTED);
	CK(cuLaunchKernel(fx, 2, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL));
	CK_RC(cuLaunchKernel(fx, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_CLUSTER_SIZE);
	EXPECT(cluster_attr(gv, CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET) == 1 &&
	       cluster_attr(gv, CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH) == 0);
	CK_RC(cuLaunchKernel(gv, 2, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_CLUSTER_SIZE);
	at.value.clusterDim.x = 2;
	cfg.gridDimX = 2;
	cfg.blockDimX = 32;
	CK(cuLaunchKernelEx(&cfg, gv, NULL, NULL));
	CK(cuCtxSynchronize());
	CK(cuModuleUnload(m));
}

static void spin_and_reserved(int maj)
{
	CUmodule m;
	CUfunction f;
	CUdeviceptr d;
	unsigned out[6] = {0};
	CK(cuMemAlloc(&d, sizeof(out)));
	CK(cuMemsetD8(d, 0, sizeof(out)));
	void *args[] = { &d };
	CK(cuModuleLoadData(&m, ptx_spin));
	CK(cuModuleGetFunction(&f, m, "spin"));
	CK(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(out, d, 4));
	EXPECT(out[0] == 10000);
	CK(cuModuleUnload(m));

	/* 1 KiB after the block's own shared memory, 16-byte aligned, in two halves */
	int reserved = -1;
	CK(cuDeviceGetAttribute(&reserved, CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK, 0));
	EXPECT(reserved == (maj >= 8 ? 1024 : 0));
	CK(cuModuleLoadData(&m, ptx_rsmem));
	CK(cuModuleGetFunction(&f, m, "rsmem"));
	CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(out, d, sizeof(out)));
	EXPECT(out[0] >= 100 && out[0] % 16 == 0 && out[1] == out[0] + 1024 && out[2] == 1024 &&
	       out[3] == out[0] && out[4] == out[0] + 512 && out[5] == 12345);
	CK(cuModuleUnload(m));
	CK(cuMemFree(d));
}

int main(int argc, char **argv)
{
	(void)argc;
	setenv("VGPU_SIM_QUIET", "1", 0);
	CUmodule m;
	CUfunction f;
	CUdeviceptr d;
	unsigned out[1024];
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, ptx_grp));
	CK(cuModuleGetFunction(&f, m, "grp"));
	CK(cuMemAlloc(&d, sizeof(out)));
	/* (block threads, group): a group of 2 warps in 4, of 1 warp in 3, a partial last warp of
	 * a 48-thread block counted whole (group 64 = all of it), the whole of a 1024-thread block */
	const unsigned cases[][2] = { { 128, 64 }, { 96, 32 }, { 48, 64 }, { 1024, 1024 } };
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned threads = cases[c][0], n = cases[c][1], real = n < threads ? n : threads;
		void *args[] = { &d, &n };
		CK(cuMemsetD32(d, 0xdead, 1024));
		CK(cuLaunchKernel(f, 1, 1, 1, threads, 1, 1, 0, NULL, args, NULL));
		CK(cuCtxSynchronize());
		CK(cuMemcpyDtoH(out, d, sizeof(out)));
		for (unsigned t = 0; t < threads; t++) {
			unsigned want = t < real ? real * (real - 1) / 2 : 0xdead;
			if (out[t] != want) {
				fprintf(stderr, "case %u thread %u: %u, expected %u\n", c, t, out[t], want);
				return 1;
			}
		}
	}
	CK(cuModuleLoadData(&m, ptx_or));
	CK(cuModuleGetFunction(&f, m, "orred"));
	for (unsigned bit = 0; bit < 3; bit++) {
		unsigned which = bit == 2 ? 999 : bit * 37, cnt = 96;   /* 80 threads: 3 warps */
		void *args[] = { &d, &which, &cnt };
		CK(cuLaunchKernel(f, 1, 1, 1, 80, 1, 1, 0, NULL, args, NULL));
		CK(cuCtxSynchronize());
		CK(cuMemcpyDtoH(out, d, 80 * 4));
		for (unsigned t = 0; t < 80; t++)
			EXPECT(out[t] == (which < 80));
	}

	CK_RC(bad(64, 16, 64), CUDA_ERROR_LAUNCH_FAILED);     /* number past 15 */
	CK_RC(bad(64, 1, 48), CUDA_ERROR_LAUNCH_FAILED);      /* no warp multiple */
	CK_RC(bad(64, 1, 0), CUDA_ERROR_LAUNCH_FAILED);       /* a count of none */
	CK_RC(bad(64, 1, 128), CUDA_ERROR_LAUNCH_FAILED);     /* more than the block's warps */
	CK_RC(bad(128, 1, 64), CUDA_SUCCESS);                 /* twice 64: completes twice */
	/* a count never reached: 2 warps wait for 4, while the other 2 wait at another barrier */
	static const char ptx_dead[] = HDR
		".visible .entry dl()\n{\n.reg .b32 %r<3>;\n.reg .pred %p<2>;\nmov.u32 %r1, %tid.x;\n"
		"setp.lt.u32 %p1, %r1, 64;\n@%p1 bar.sync 1, 128;\n@!%p1 bar.sync 2, 128;\nret;\n}\n";
	CK(cuModuleLoadData(&m, ptx_dead));
	CK(cuModuleGetFunction(&f, m, "dl"));
	CK(cuLaunchKernel(f, 1, 1, 1, 128, 1, 1, 0, NULL, NULL, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_LAUNCH_FAILED);
	fresh();

	static const char *const refused[] = {
		HDR ".visible .entry k()\n{\nbar.arrive 1;\nret;\n}\n",            /* arrive needs a count */
		HDR ".visible .entry k()\n{\nbar.sync 1, 64, 3;\nret;\n}\n",       /* too many operands */
		HDR ".visible .entry k()\n{\n.reg .pred %p<2>;\nbarrier.red.or.pred %p1, 1;\nret;\n}\n", /* no predicate */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<2>;\nbar.red.popc.u32 %r1, 1, 64, 32, %r1;\nret;\n}\n",
		/* a cluster barrier with operands (tests/sim/test_sim_cluster has clusters) */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<2>;\nbarrier.cluster.arrive %r1;\nret;\n}\n",
	};
	ST_REFUSED(refused);

	/* the device's compute capability: 7.5 unless VGPU_SIM_CC says (the test runs at 7.5) */
	int maj = 0, min = 0, optin = 0, clusters = 1;
	CK(cuDeviceGetAttribute(&maj, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0));
	CK(cuDeviceGetAttribute(&min, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0));
	CK(cuDeviceGetAttribute(&optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 0));
	CK(cuDeviceGetAttribute(&clusters, CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH, 0));
	const char *cc = getenv("VGPU_SIM_CC");
	if (!cc || !strcmp(cc, "7.5")) {
		EXPECT(maj == 7 && min == 5 && optin == 65536 && clusters == 0);
	} else if (!strcmp(cc, "9.0")) {
		EXPECT(maj == 9 && min == 0 && optin == 232448 && clusters == 1);
	}
	/* a cluster launch: refused before 9.0; at 9.0 its blocks run, a size past 8 or one not
	 * dividing the grid refused */
	CK(cuModuleLoadData(&m, ptx_grp));
	CK(cuModuleGetFunction(&f, m, "grp"));
	CK(cuMemAlloc(&d, sizeof(out)));   /* (the context is a fresh one) */
	unsigned n = 64;
	void *args[] = { &d, &n };
	CUlaunchAttribute at = { .id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION };
	at.value.clusterDim.x = 2;
	at.value.clusterDim.y = 1;
	at.value.clusterDim.z = 1;
	CUlaunchConfig cfg = { .gridDimX = 4, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 64, .blockDimY = 1,
	                       .blockDimZ = 1, .attrs = &at, .numAttrs = 1 };
	if (maj < 9) {
		CK_RC(cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_NOT_SUPPORTED);
	} else {
		CK(cuLaunchKernelEx(&cfg, f, args, NULL));
		CK(cuCtxSynchronize());
		at.value.clusterDim.x = 3;
		CK_RC(cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_INVALID_VALUE);
		at.value.clusterDim.x = 16;
		cfg.gridDimX = 16;
		CK_RC(cuLaunchKernelEx(&cfg, f, args, NULL), CUDA_ERROR_INVALID_VALUE);
	}
	clusters_of_functions(f, maj);
	spin_and_reserved(maj);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_barriers: ok (compute capability %d.%d)\n", maj, min);
	if (!cc) {   /* once more on a device of capability 9.0 */
		fflush(stdout);
		setenv("VGPU_SIM_CC", "9.0", 1);
		execv("/proc/self/exe", argv);
		perror("test_sim_barriers: exec");
		return 1;
	}
	return 0;
}
