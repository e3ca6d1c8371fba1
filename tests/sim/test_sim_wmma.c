/* SPDX-License-Identifier: MIT */
/* The simulator's warp matrix instructions (wmma, mma.sync, ldmatrix) where programs get them
 * wrong: a fragment reaching past its allocation faults the launch with an illegal address
 * (an ldmatrix row not 16-byte aligned with a misaligned one), a warp of fewer than 32
 * threads and lanes disagreeing on the address fail it, and shapes, types and register
 * counts it does not implement are refused when the module loads, with a message. (What they
 * compute is checked by tests/runtime/wmma_gemm and tests/runtime/mma_sync against the host.) */
#include "simtest.h"

#define HDR ".version 7.0\n.target sm_75\n.address_size 64\n"

/* wl(p, off, per_lane): loads an A fragment at p + off (+ 2 * tid when per_lane) and stores
 * it back as a half accumulator... of the same 256 halves read as a 16x16 C. */
static const char ptx[] = HDR
	".visible .entry wl(.param .u64 p, .param .u32 off, .param .u32 per_lane)\n{\n"
	"\t.reg .b32 %r<16>;\n\t.reg .b64 %rd<6>;\n\t.reg .pred %q;\n"
	"\tld.param.u64 %rd1, [p];\n\tld.param.u32 %r9, [off];\n\tld.param.u32 %r10, [per_lane];\n"
	"\tmov.u32 %r11, %tid.x;\n\tsetp.ne.u32 %q, %r10, 0;\n\t@%q add.u32 %r9, %r9, %r11;\n"
	"\t@%q add.u32 %r9, %r9, %r11;\n"
	"\tcvt.u64.u32 %rd2, %r9;\n\tadd.s64 %rd3, %rd1, %rd2;\n\tmov.u32 %r12, 16;\n"
	"\twmma.load.c.sync.aligned.row.m16n16k16.global.f16 {%r1, %r2, %r3, %r4}, [%rd3], %r12;\n"
	"\twmma.store.d.sync.aligned.col.m16n16k16.global.f16 [%rd3], {%r1, %r2, %r3, %r4}, %r12;\n"
	"\tret;\n}\n";

static CUresult launch(CUfunction f, CUdeviceptr p, unsigned off, unsigned per_lane, unsigned threads)
{
	void *args[] = { &p, &off, &per_lane };
	CUresult r = cuLaunchKernel(f, 1, 1, 1, threads, 1, 1, 0, NULL, args, NULL);
	return r != CUDA_SUCCESS ? r : cuCtxSynchronize();
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CK(cuInit(0));
	CUdevice dev;
	CUcontext ctx;
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CUmodule m;
	CUfunction f;
	CK(cuModuleLoadData(&m, ptx));
	CK(cuModuleGetFunction(&f, m, "wl"));

	/* in bounds: a 16x16 half matrix loaded row-major and stored column-major transposes it */
	CUdeviceptr p;
	CK(cuMemAlloc(&p, 512));
	unsigned short h[256], back[256];
	for (int i = 0; i < 256; i++)
		h[i] = (unsigned short)(0x3c00 + i);   /* distinct halves */
	CK(cuMemcpyHtoD(p, h, sizeof(h)));
	CK(launch(f, p, 0, 0, 32));
	CK(cuMemcpyDtoH(back, p, sizeof(back)));
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 16; j++)
			EXPECT(back[j * 16 + i] == h[i * 16 + j]);

	/* a fragment past the end of its allocation */
	CK_RC(launch(f, p, 256, 0, 32), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK(cuCtxDestroy(ctx));

	/* a partial warp, and lanes naming different addresses */
	CUresult bad[2];
	for (int k = 0; k < 2; k++) {
		CK(cuCtxCreate(&ctx, NULL, 0, dev));
		CK(cuModuleLoadData(&m, ptx));
		CK(cuModuleGetFunction(&f, m, "wl"));
		CK(cuMemAlloc(&p, 4096));
		bad[k] = k == 0 ? launch(f, p, 0, 0, 16) : launch(f, p, 0, 1, 32);
		CK(cuCtxDestroy(ctx));
	}
	EXPECT(bad[0] != CUDA_SUCCESS);
	EXPECT(bad[1] != CUDA_SUCCESS);

	/* what the simulator does not implement is refused at load */
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	static const char *const refused[] = {
		/* tf32 in a shape other than m16n16k8, and half in m16n16k8 */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.a.sync.aligned.row.m16n16k16.global.tf32 {%r1, %r2, %r3, %r4}, [%rd1], 8;\nret;\n}\n",
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.a.sync.aligned.row.m16n16k8.global.f16 {%r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8}, [%rd1], 8;\n"
		"ret;\n}\n",
		/* doubles: only m8n8k4, .f64 throughout, the fragment's register count */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .f64 %fd<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.a.sync.aligned.row.m16n16k16.global.f64 {%fd1}, [%rd1], 8;\nret;\n}\n",
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .f64 %fd<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.c.sync.aligned.row.m8n8k4.global.f64 {%fd1}, [%rd1], 8;\nret;\n}\n",
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .f64 %fd<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.a.sync.aligned.row.m8n8k4.global.f32 {%fd1}, [%rd1], 8;\nret;\n}\n",
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .f64 %fd<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.mma.sync.aligned.row.col.m8n8k4.f64.f64.f64 {%fd1, %fd2}, {%fd3}, {%fd4}, {%fd5, %fd6};\nret;\n}\n",
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .f64 %fd<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.mma.sync.aligned.row.col.m8n8k4.f64.f64.f64.f64 {%fd1}, {%fd3}, {%fd4}, {%fd5, %fd6};\nret;\n}\n",
		/* 4-bit fragments */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.a.sync.aligned.row.m8n8k32.global.s4 {%r1}, [%rd1], 32;\nret;\n}\n",
		/* seven registers for an A fragment */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.a.sync.aligned.row.m16n16k16.global.f16 {%r1, %r2, %r3, %r4, %r5, %r6, %r7}, [%rd1], 16;\n"
		"ret;\n}\n",
		/* a bfloat16 A fragment of m16n16k16 holds four registers, not eight */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.a.sync.aligned.row.m16n16k16.global.bf16 {%r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8}, [%rd1], 16;\n"
		"ret;\n}\n",
		/* bfloat16 inputs accumulate in .f32 only */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<20>;\n"
		"wmma.mma.sync.aligned.row.col.m16n16k16.f16.bf16.bf16.f16 {%r1, %r2, %r3, %r4}, {%r5, %r6, %r7, %r8}, "
		"{%r9, %r10, %r11, %r12}, {%r1, %r2, %r3, %r4};\nret;\n}\n",
		/* no .aligned */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.a.sync.row.m16n16k16.global.f16 {%r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8}, [%rd1], 16;\n"
		"ret;\n}\n",
		/* nine registers in one vector: more than any operand holds */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<10>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"wmma.load.a.sync.aligned.row.m16n16k16.global.f16 {%r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8, %r9}, "
		"[%rd1], 16;\nret;\n}\n",
		/* an mma with an accumulator of the wrong size */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<20>;\n.reg .f32 %f<9>;\n"
		"wmma.mma.sync.aligned.row.col.m16n16k16.f32.f32 {%f1, %f2, %f3, %f4}, {%r1, %r2, %r3, %r4, %r5, %r6, %r7, "
		"%r8}, {%r9, %r10, %r11, %r12, %r13, %r14, %r15, %r16}, {%f1, %f2, %f3, %f4, %f5, %f6, %f7, %f8};\nret;\n}\n",
	};
	ST_REFUSED(refused);

	/* mma.sync and ldmatrix forms and operands it does not implement, refused at load too */
	static const char *const refused_sync[] = {
		/* 8-bit integers in m16n8k8, and 4-bit ones */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<20>;\n"
		"mma.sync.aligned.m16n8k8.row.col.s32.s8.s8.s32 {%r1, %r2, %r3, %r4}, {%r5}, "
		"{%r9}, {%r1, %r2, %r3, %r4};\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<20>;\n"
		"mma.sync.aligned.m16n8k64.row.col.s32.s4.s4.s32 {%r1, %r2, %r3, %r4}, {%r5, %r6, %r7, %r8}, "
		"{%r9, %r10}, {%r1, %r2, %r3, %r4};\nret;\n}\n",
		/* .satfinite on floating-point inputs */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<20>;\n.reg .f32 %f<9>;\n"
		"mma.sync.aligned.m16n8k16.row.col.satfinite.f32.f16.f16.f32 {%f1, %f2, %f3, %f4}, {%r5, %r6, %r7, %r8}, "
		"{%r9, %r10}, {%f1, %f2, %f3, %f4};\nret;\n}\n",
		/* B row-major: mma.sync has .row.col only */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<20>;\n.reg .f32 %f<9>;\n"
		"mma.sync.aligned.m16n8k16.row.row.f32.f16.f16.f32 {%f1, %f2, %f3, %f4}, {%r5, %r6, %r7, %r8}, "
		"{%r9, %r10}, {%f1, %f2, %f3, %f4};\nret;\n}\n",
		/* bf16 with f16 accumulators, and tf32 in m16n8k16 */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<20>;\n"
		"mma.sync.aligned.m16n8k16.row.col.f16.bf16.bf16.f16 {%r1, %r2}, {%r5, %r6, %r7, %r8}, "
		"{%r9, %r10}, {%r1, %r2};\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<20>;\n.reg .f32 %f<9>;\n"
		"mma.sync.aligned.m16n8k16.row.col.f32.tf32.tf32.f32 {%f1, %f2, %f3, %f4}, {%r5, %r6, %r7, %r8}, "
		"{%r9, %r10}, {%f1, %f2, %f3, %f4};\nret;\n}\n",
		/* three registers for m16n8k16's A */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<20>;\n.reg .f32 %f<9>;\n"
		"mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%f1, %f2, %f3, %f4}, {%r5, %r6, %r7}, "
		"{%r9, %r10}, {%f1, %f2, %f3, %f4};\nret;\n}\n",
		/* ldmatrix: not from shared memory, .x3, and two registers for .x4 */
		HDR ".visible .entry k(.param .u64 p)\n{\n.reg .b32 %r<9>;\n.reg .b64 %rd<2>;\nld.param.u64 %rd1, [p];\n"
		"ldmatrix.sync.aligned.m8n8.x1.global.b16 {%r1}, [%rd1];\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<9>;\n"
		"ldmatrix.sync.aligned.m8n8.x3.shared.b16 {%r1, %r2, %r3}, [%r5];\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<9>;\n"
		"ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r1, %r2}, [%r5];\nret;\n}\n",
		/* movmatrix: without .trans (the ISA has no other), of another width, one operand */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<9>;\nmovmatrix.sync.aligned.m8n8.b16 %r1, %r2;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<9>;\nmovmatrix.sync.aligned.m8n8.trans.b32 %r1, %r2;\nret;\n}\n",
		HDR ".visible .entry k()\n{\n.reg .b32 %r<9>;\nmovmatrix.sync.aligned.m8n8.trans.b16 %r1;\nret;\n}\n",
	};
	ST_REFUSED(refused_sync);
	CK(cuCtxDestroy(ctx));

	/* ldmatrix rows past shared memory or not 16-byte aligned, and a partial warp */
	static const char ptx_ld[] = HDR
		".visible .entry ldm(.param .u32 off)\n{\n.reg .b32 %r<8>;\n.shared .align 16 .b8 sm[256];\n"
		"ld.param.u32 %r1, [off];\nmov.u32 %r2, %tid.x;\nand.b32 %r2, %r2, 7;\nshl.b32 %r2, %r2, 4;\n"
		"mov.u32 %r3, sm;\nadd.u32 %r3, %r3, %r2;\nadd.u32 %r3, %r3, %r1;\n"
		"ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%r4}, [%r3];\nret;\n}\n";
	unsigned offs[3] = { 0, 8, 4096 }, threads[3] = { 32, 32, 32 };
	CUresult want[4] = { CUDA_SUCCESS, CUDA_ERROR_MISALIGNED_ADDRESS, CUDA_ERROR_ILLEGAL_ADDRESS, 0 };
	for (int k = 0; k < 4; k++) {
		CK(cuCtxCreate(&ctx, NULL, 0, dev));
		CK(cuModuleLoadData(&m, ptx_ld));
		CK(cuModuleGetFunction(&f, m, "ldm"));
		unsigned off = k < 3 ? offs[k] : 0;
		void *args[] = { &off };
		CUresult r = cuLaunchKernel(f, 1, 1, 1, k < 3 ? threads[k] : 16, 1, 1, 0, NULL, args, NULL);
		if (r == CUDA_SUCCESS)
			r = cuCtxSynchronize();
		if (k < 3)
			CK_RC(r, want[k]);
		else
			EXPECT(r != CUDA_SUCCESS);   /* 16 threads: not a full warp */
		CK(cuCtxDestroy(ctx));
	}
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuCtxDestroy(ctx));
	printf("test_sim_wmma: ok\n");
	return 0;
}
