/* SPDX-License-Identifier: MIT */
/* libcudasim's thread-block clusters (a device of capability 9.0): the cluster registers with
 * and without a cluster launch (each block a cluster of one), the cluster barrier across
 * blocks, distributed shared memory through .shared::cluster and generic addresses (mapa,
 * getctarank, ld/st/atom), a graph's kernel node given a cluster shape, and what fails the launch instead of hanging it: an address past
 * the cluster's blocks, a wait without an arrival, a barrier a block can never reach, another
 * block's fault; a cooperative launch in clusters is refused. */
#include "simtest.h"

#define HDR ".version 8.0\n.target sm_90\n.address_size 64\n"

/* regs(out): per block, its cluster registers: ctarank, nctarank, clusterid.x, nclusterid.x,
 * cluster_ctaid.x, cluster_nctaid.x, is_explicit_cluster; thread 0 writes */
static const char ptx_regs[] = HDR
	".visible .entry regs(.param .u64 out)\n{\n.reg .b32 %r<10>;\n.reg .b64 %rd<4>;\n.reg .pred %p<2>;\n"
	"ld.param.u64 %rd1, [out];\nmov.u32 %r1, %tid.x;\nsetp.ne.u32 %p1, %r1, 0;\n@%p1 bra END;\n"
	"mov.u32 %r2, %cluster_ctarank;\nmov.u32 %r3, %cluster_nctarank;\nmov.u32 %r4, %clusterid.x;\n"
	"mov.u32 %r5, %nclusterid.x;\nmov.u32 %r6, %cluster_ctaid.x;\nmov.u32 %r7, %cluster_nctaid.x;\n"
	"mov.u32 %r8, %is_explicit_cluster;\nmov.u32 %r9, %ctaid.x;\nmul.wide.u32 %rd2, %r9, 32;\n"
	"add.s64 %rd3, %rd1, %rd2;\nst.global.v4.u32 [%rd3], {%r2, %r3, %r4, %r5};\n"
	"st.global.v4.u32 [%rd3+16], {%r6, %r7, %r8, %r9};\nEND:\nret;\n}\n";

/* ring(out, mode): each block stores (rank + 1) * 10 into its shared word, crosses the cluster
 * barrier, then thread 0 reads the next rank's word and the getctarank of its address: through
 * a .shared::cluster address (mode 0) or a generic one (mode 1); an atomic add of 1 into the
 * next block's word, a second barrier, and its own word (now + 1) is written too.
 * out[block] = {read, rank of the address, own word after} */
static const char ptx_ring[] = HDR
	".visible .entry ring(.param .u64 out, .param .u32 mode)\n{\n.reg .b32 %r<16>;\n.reg .b64 %rd<10>;\n"
	".reg .pred %p<3>;\n.shared .align 4 .b32 w;\n"
	"ld.param.u64 %rd1, [out];\nld.param.u32 %r10, [mode];\nmov.u32 %r1, %tid.x;\n"
	"mov.u32 %r2, %cluster_ctarank;\nmov.u32 %r3, %cluster_nctarank;\nsetp.ne.u32 %p1, %r1, 0;\n"
	"add.u32 %r4, %r2, 1;\nmul.lo.u32 %r5, %r4, 10;\n@!%p1 st.shared.u32 [w], %r5;\n"
	"barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n"
	"rem.u32 %r6, %r4, %r3;\n@%p1 bra SYNC2;\n"
	"setp.ne.u32 %p2, %r10, 0;\n@%p2 bra GENERIC;\n"
	"mov.u32 %r7, w;\nmapa.shared::cluster.u32 %r8, %r7, %r6;\nld.shared::cluster.u32 %r11, [%r8];\n"
	"getctarank.shared::cluster.u32 %r12, %r8;\natom.shared::cluster.add.u32 %r13, [%r8], 1;\nbra.uni SYNC2;\n"
	"GENERIC:\nmov.u64 %rd2, w;\ncvta.shared.u64 %rd3, %rd2;\nmapa.u64 %rd4, %rd3, %r6;\nld.u32 %r11, [%rd4];\n"
	"getctarank.u64 %r12, %rd4;\natom.add.u32 %r13, [%rd4], 1;\n"
	"SYNC2:\nbarrier.cluster.arrive;\nbarrier.cluster.wait;\n@%p1 bra END;\n"
	"ld.shared.u32 %r14, [w];\nmov.u32 %r9, %ctaid.x;\nmul.wide.u32 %rd5, %r9, 12;\nadd.s64 %rd6, %rd1, %rd5;\n"
	"st.global.u32 [%rd6], %r11;\nst.global.u32 [%rd6+4], %r12;\nst.global.u32 [%rd6+8], %r14;\nEND:\nret;\n}\n";

/* bad(mode): mode 0 reads the shared word of rank nctarank (past the cluster); 1 waits without
 * arriving; 2 arrives twice; 3: rank 1's threads but thread 0 wait at bar.sync 0 while thread 0
 * and rank 0 wait at the cluster barrier, which can never complete; 4: rank 1 faults (a load
 * from address 8) while rank 0 waits at the cluster barrier; 6: rank 1 exits at once, rank 0
 * crosses the barrier alone (exited threads are not waited for); 5 (or more): every thread
 * arrives and waits */
static const char ptx_bad[] = HDR
	".visible .entry bad(.param .u32 mode)\n{\n.reg .b32 %r<8>;\n.reg .b64 %rd<4>;\n.reg .pred %p<4>;\n"
	".shared .align 4 .b32 w;\nld.param.u32 %r1, [mode];\nmov.u32 %r2, %cluster_ctarank;\n"
	"mov.u32 %r3, %tid.x;\nsetp.eq.u32 %p1, %r1, 0;\n@%p1 bra PAST;\nsetp.eq.u32 %p1, %r1, 1;\n@%p1 bra NOARR;\n"
	"setp.eq.u32 %p1, %r1, 2;\n@%p1 bra TWICE;\nsetp.eq.u32 %p1, %r1, 3;\n@%p1 bra STUCK;\n"
	"setp.eq.u32 %p2, %r2, 1;\nsetp.eq.u32 %p1, %r1, 4;\nand.pred %p1, %p1, %p2;\n@%p1 bra FAULT;\n"
	"setp.eq.u32 %p1, %r1, 6;\nand.pred %p1, %p1, %p2;\n@%p1 bra END;\n"
	"barrier.cluster.arrive;\nbarrier.cluster.wait;\nEND:\nret;\n"
	"FAULT:\nmov.u64 %rd1, 8;\nld.global.u32 %r4, [%rd1];\nret;\n"
	"PAST:\nmov.u32 %r5, %cluster_nctarank;\nmov.u32 %r6, w;\nmapa.shared::cluster.u32 %r7, %r6, %r5;\n"
	"ld.shared::cluster.u32 %r4, [%r7];\nret;\n"
	"NOARR:\nbarrier.cluster.wait;\nret;\n"
	"TWICE:\nbarrier.cluster.arrive;\nbarrier.cluster.arrive;\nret;\n"
	"STUCK:\nsetp.eq.u32 %p2, %r2, 1;\nsetp.ne.u32 %p3, %r3, 0;\nand.pred %p2, %p2, %p3;\n@%p2 bra BAR0;\n"
	"barrier.cluster.arrive;\nbarrier.cluster.wait;\nBAR0:\nbar.sync 0;\nret;\n}\n";

static CUresult launch(CUfunction f, unsigned grid, unsigned threads, unsigned cluster, void **args, int coop)
{
	CUlaunchAttribute at[2];
	unsigned n = 0;
	if (cluster) {
		at[n].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
		at[n].value.clusterDim.x = cluster;
		at[n].value.clusterDim.y = 1;
		at[n].value.clusterDim.z = 1;
		n++;
	}
	if (coop) {
		at[n].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
		at[n].value.cooperative = 1;
		n++;
	}
	CUlaunchConfig cfg = { .gridDimX = grid, .gridDimY = 1, .gridDimZ = 1, .blockDimX = threads, .blockDimY = 1,
	                       .blockDimZ = 1, .attrs = at, .numAttrs = n };
	CUresult r = cuLaunchKernelEx(&cfg, f, args, NULL);
	return r != CUDA_SUCCESS ? r : cuCtxSynchronize();
}

static CUcontext ctx;

static CUresult bad(unsigned mode)
{
	CUmodule m;
	CUfunction f;
	CK(cuModuleLoadData(&m, ptx_bad));
	CK(cuModuleGetFunction(&f, m, "bad"));
	void *args[] = { &mode };
	CUresult r = launch(f, 2, 32, 2, args, 0);
	CK(cuCtxDestroy(ctx));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	return r;
}

int main(void)
{
	setenv("VGPU_SIM_CC", "9.0", 1);
	setenv("VGPU_SIM_QUIET", "1", 0);
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CUmodule m;
	CUfunction f;
	CUdeviceptr d;
	uint32_t out[8 * 8];
	CK(cuMemAlloc(&d, sizeof(out)));
	void *args[] = { &d };

	/* registers: without clusters each block is a cluster of one; with clusters of 2 */
	CK(cuModuleLoadData(&m, ptx_regs));
	CK(cuModuleGetFunction(&f, m, "regs"));
	for (unsigned cl = 0; cl <= 2; cl += 2) {
		CK(launch(f, 4, 32, cl, args, 0));
		CK(cuMemcpyDtoH(out, d, 4 * 32));
		for (unsigned b = 0; b < 4; b++) {
			const uint32_t *o = &out[b * 8];
			unsigned n = cl ? cl : 1;
			EXPECT(o[0] == b % n && o[1] == n && o[2] == b / n && o[3] == 4 / n && o[4] == b % n &&
			       o[5] == n && o[6] == (cl != 0) && o[7] == b);
		}
	}

	/* distributed shared memory around a cluster of 4 (and 2 clusters), both address kinds */
	CK(cuModuleLoadData(&m, ptx_ring));
	CK(cuModuleGetFunction(&f, m, "ring"));
	for (unsigned mode = 0; mode < 2; mode++) {
		void *rargs[] = { &d, &mode };
		CK(cuMemsetD8(d, 0, sizeof(out)));
		CK(launch(f, 8, 64, 4, rargs, 0));
		CK(cuMemcpyDtoH(out, d, 8 * 12));
		for (unsigned b = 0; b < 8; b++) {
			unsigned rank = b % 4, next = (rank + 1) % 4;
			EXPECT(out[b * 3] == (next + 1) * 10 && out[b * 3 + 1] == next && out[b * 3 + 2] == (rank + 1) * 10 + 1);
		}
	}

	/* a kernel node given a cluster shape (4) in a graph: the same ring */
	{
		unsigned mode0 = 0;
		void *gargs[] = { &d, &mode0 };
		CUDA_KERNEL_NODE_PARAMS kp = { .func = f, .gridDimX = 8, .gridDimY = 1, .gridDimZ = 1, .blockDimX = 64,
		                               .blockDimY = 1, .blockDimZ = 1, .kernelParams = gargs };
		CUgraph g;
		CUgraphNode kn;
		CUgraphExec x;
		CUkernelNodeAttrValue v;
		memset(&v, 0, sizeof(v));
		v.clusterDim.x = 4;
		v.clusterDim.y = 1;
		v.clusterDim.z = 1;
		CK(cuGraphCreate(&g, 0));
		CK(cuGraphAddKernelNode(&kn, g, NULL, 0, &kp));
		CK(cuGraphKernelNodeSetAttribute(kn, CU_KERNEL_NODE_ATTRIBUTE_CLUSTER_DIMENSION, &v));
		CK(cuGraphInstantiate(&x, g, 0));
		for (int round = 0; round < 2; round++) {
			/* the second time with new parameters for the executable graph's node: its
			 * cluster shape stays */
			if (round)
				CK(cuGraphExecKernelNodeSetParams(x, kn, &kp));
			CK(cuMemsetD8(d, 0, sizeof(out)));
			CK(cuGraphLaunch(x, NULL));
			CK(cuCtxSynchronize());
			CK(cuMemcpyDtoH(out, d, 8 * 12));
			for (unsigned b = 0; b < 8; b++) {
				unsigned rank = b % 4, next = (rank + 1) % 4;
				EXPECT(out[b * 3] == (next + 1) * 10 && out[b * 3 + 1] == next);
			}
		}
		CK(cuGraphExecDestroy(x));
		CK(cuGraphDestroy(g));
	}

	/* what fails the launch */
	CK_RC(bad(0), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK_RC(bad(1), CUDA_ERROR_LAUNCH_FAILED);
	CK_RC(bad(2), CUDA_ERROR_LAUNCH_FAILED);
	CK_RC(bad(3), CUDA_ERROR_LAUNCH_FAILED);
	CK_RC(bad(4), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK(cuModuleLoadData(&m, ptx_bad));
	CK(cuModuleGetFunction(&f, m, "bad"));
	unsigned mode = 5;   /* (every thread arrives and waits) */
	void *bargs[] = { &mode };
	CK(launch(f, 2, 32, 2, bargs, 0));
	CK_RC(launch(f, 2, 32, 2, bargs, 1), CUDA_ERROR_NOT_SUPPORTED);
	mode = 6;
	CK(launch(f, 2, 32, 2, bargs, 0));
	CK(cuCtxDestroy(ctx));
	printf("test_sim_cluster: ok\n");
	return 0;
}
