/* SPDX-License-Identifier: MIT */
/* libcudasim's instructions beyond what the runtime programs reach through CUDA C++: the
 * thread's stack (alloca, stacksave, stackrestore; an alloca past the stack and a restore past
 * its end fault), vector atomics (a misaligned vector faults, red's forms, .v8 of halves),
 * 128-bit registers (moved, loaded and stored; other instructions refuse them at load), the
 * clock registers advancing while a kernel runs, the shared-memory size registers, fns at
 * offset 0, prmt's modes, testp, mul24/mad24, and tanh/ex2 of halves and bfloat16s. Every block
 * starts with its local memory, its stack and its shared memory zeroed, whatever blocks before
 * it on the same host thread left there (the simulator keeps them between blocks). */
#include "simtest.h"

#include <math.h>

#define HDR ".version 8.0\n.target sm_90\n.address_size 64\n"
#define REGS "\t.reg .b32 %r<20>;\n\t.reg .b64 %rd<20>;\n\t.reg .f32 %f<20>;\n\t.reg .pred %p<4>;\n" \
             "\t.reg .b16 %h<10>;\n\t.reg .f64 %fd<4>;\n"

static CUcontext ctx;

/* Loads text, runs entry k on one thread with an 8 KiB buffer (zeroed, then `init` when
 * given) and copies it back to out; returns the launch's first error. */
static CUresult run(const char *text, const void *init, size_t ninit, void *out, size_t nout)
{
	CUmodule m;
	CUfunction f;
	CUdeviceptr d;
	CK(cuModuleLoadData(&m, text));
	CK(cuModuleGetFunction(&f, m, "k"));
	CK(cuMemAlloc(&d, 8192));
	CK(cuMemsetD8(d, 0, 8192));
	if (init)
		CK(cuMemcpyHtoD(d, init, ninit));
	void *args[] = { &d };
	CUresult r = cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 100, NULL, args, NULL);
	if (r == CUDA_SUCCESS)
		r = cuCtxSynchronize();
	if (r == CUDA_SUCCESS && out)
		CK(cuMemcpyDtoH(out, d, nout));
	if (r != CUDA_SUCCESS) {   /* a fault is sticky: a fresh context for what follows */
		CK(cuCtxDestroy(ctx));
		CK(cuCtxCreate(&ctx, NULL, 0, 0));
		return r;
	}
	CK(cuMemFree(d));
	CK(cuModuleUnload(m));
	return r;
}

/* z(out): every thread reads a word of its local array, of its stack (64 KiB down an alloca,
 * past what a fresh thread has) and of the block's shared memory, ORs them into
 * out[block * threads + thread] and then writes its block number + 1 into all three. */
static const char fresh_ptx[] = HDR
	".visible .entry z(.param .u64 out)\n{\n" REGS
	"\t.local .align 4 .b8 l[128];\n\t.shared .align 4 .b8 s[512];\n"
	"\tld.param.u64 %rd1, [out];\n\tcvta.to.global.u64 %rd1, %rd1;\n"
	"\tmov.u32 %r1, %ctaid.x;\n\tmov.u32 %r2, %tid.x;\n\tmov.u32 %r3, %ntid.x;\n"
	"\tmov.u32 %r4, l;\n\tmov.u32 %r5, s;\n\tshl.b32 %r6, %r2, 2;\n\tadd.u32 %r5, %r5, %r6;\n"
	"\talloca.u64 %rd2, 65536, 16;\n"
	"\tld.local.u32 %r7, [%r4+124];\n\tld.shared.u32 %r8, [%r5];\n\tld.local.u32 %r9, [%rd2+65532];\n"
	"\tor.b32 %r7, %r7, %r8;\n\tor.b32 %r7, %r7, %r9;\n"
	"\tadd.u32 %r10, %r1, 1;\n\tst.local.u32 [%r4+124], %r10;\n\tst.shared.u32 [%r5], %r10;\n"
	"\tst.local.u32 [%rd2+65532], %r10;\n"
	"\tmad.lo.u32 %r11, %r1, %r3, %r2;\n\tmul.wide.u32 %rd3, %r11, 4;\n\tadd.s64 %rd4, %rd1, %rd3;\n"
	"\tst.global.u32 [%rd4], %r7;\n\tret;\n}\n";

#define KERNEL(body) HDR ".visible .entry k(.param .u64 p)\n{\n" REGS \
	"\tld.param.u64 %rd1, [p];\n\tcvta.to.global.u64 %rd1, %rd1;\n" body "\tret;\n}\n"

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	setenv("VGPU_SIM_CC", "9.0", 0);
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	unsigned long long q[16];
	unsigned u[16];

	/* stacksave, alloca, stackrestore: the same room again after the restore; an alloca's
	 * memory is the thread's (written and read back through its generic address) */
	CK(run(KERNEL("\tstacksave.u64 %rd2;\n\talloca.u64 %rd3, 64, 16;\n\tstackrestore.u64 %rd2;\n"
	              "\talloca.u64 %rd4, 64, 16;\n\tcvta.local.u64 %rd5, %rd4;\n\tst.u32 [%rd5+60], 77;\n"
	              "\tld.local.u32 %r1, [%rd4+60];\n\tsub.s64 %rd6, %rd4, %rd3;\n"
	              "\tst.global.u64 [%rd1], %rd6;\n\tst.global.u32 [%rd1+8], %r1;\n"
	              "\talloca.u64 %rd7, 3, 256;\n\tand.b64 %rd8, %rd7, 255;\n\tst.global.u64 [%rd1+16], %rd8;\n"),
	       NULL, 0, q, 24));
	EXPECT(q[0] == 0);                    /* the restore gave the room back */
	EXPECT((q[1] & 0xffffffff) == 77);
	EXPECT(q[2] == 0);                    /* alignment asked for */
	/* past the thread's stack (256 KiB), and past the end of what alloca gave */
	CK_RC(run(KERNEL("\talloca.u64 %rd2, 300000;\n"), NULL, 0, NULL, 0), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK_RC(run(KERNEL("\talloca.u64 %rd2, 16, 16;\n\tst.local.u32 [%rd2+16], 1;\n"), NULL, 0, NULL, 0),
	      CUDA_ERROR_ILLEGAL_ADDRESS);
	CK_RC(run(KERNEL("\tstacksave.u64 %rd2;\n\tadd.s64 %rd2, %rd2, 64;\n\tstackrestore.u64 %rd2;\n"), NULL, 0,
	          NULL, 0), CUDA_ERROR_LAUNCH_FAILED);

	/* vector atomics: each element added, the old values returned; red's forms and .v8 of halves */
	float fin[8] = {1, 2, 3, 4, 0, 0, 0, 0};
	float fo[8];
	CK(run(KERNEL("\tmov.f32 %f1, 0f3F000000;\n\tmov.f32 %f2, 0f40000000;\n"
	              "\tatom.global.add.v4.f32 {%f5,%f6,%f7,%f8}, [%rd1], {%f1,%f2,%f1,%f2};\n"
	              "\tred.global.add.v2.f32 [%rd1+16], {%f6,%f8};\n"
	              "\tmov.b16 %h1, 0x3c00;\n"
	              "\tred.global.add.noftz.v8.f16 [%rd1+32], {%h1,%h1,%h1,%h1,%h1,%h1,%h1,%h1};\n"
	              "\tatom.global.add.noftz.v8.f16 {%h2,%h3,%h4,%h5,%h6,%h7,%h8,%h9}, [%rd1+32], "
	              "{%h1,%h1,%h1,%h1,%h1,%h1,%h1,%h1};\n\tcvt.u32.u16 %r1, %h9;\n\tst.global.u32 [%rd1+48], %r1;\n"),
	       fin, sizeof(fin), q, 56));
	memcpy(fo, q, sizeof(fo));
	EXPECT(fo[0] == 1.5f && fo[1] == 4.0f && fo[2] == 3.5f && fo[3] == 6.0f);
	EXPECT(fo[4] == 2.0f && fo[5] == 4.0f);   /* the old second and fourth */
	unsigned short *hh = (unsigned short *)&q[4];
	EXPECT(hh[0] == 0x4000 && hh[7] == 0x4000);     /* 1 + 1 in each half */
	EXPECT((q[6] & 0xffff) == 0x3c00);               /* the eighth's old value: 1.0 */
	/* the vector's alignment, not the element's */
	CK_RC(run(KERNEL("\tmov.f32 %f1, 0f3F800000;\n"
	                 "\tatom.global.add.v4.f32 {%f5,%f6,%f7,%f8}, [%rd1+8], {%f1,%f1,%f1,%f1};\n"), NULL, 0, NULL, 0),
	      CUDA_ERROR_MISALIGNED_ADDRESS);

	/* 128-bit registers: packed, unpacked, copied, loaded and stored whole, exchanged */
	unsigned long long qin[4] = {0x1111, 0x2222, 0, 0};
	CK(run(HDR ".visible .entry k(.param .u64 p)\n{\n" REGS "\t.reg .b128 %q<4>;\n"
	       "\tld.param.u64 %rd1, [p];\n\tld.global.b128 %q1, [%rd1];\n\tmov.b128 %q2, %q1;\n"
	       "\tmov.b128 {%rd2, %rd3}, %q2;\n\tmov.b128 %q3, {%rd3, %rd2};\n\tst.global.b128 [%rd1+16], %q3;\n"
	       "\tatom.global.exch.b128 %q1, [%rd1+16], %q2;\n\tatom.global.cas.b128 %q3, [%rd1], %q2, %q1;\n"
	       "\tatom.global.cas.b128 %q3, [%rd1+16], %q1, %q1;\n"
	       "\tmov.b128 {%rd4, %rd5}, %q3;\n\tst.global.v2.u64 [%rd1+32], {%rd4, %rd5};\n\tret;\n}\n",
	       qin, sizeof(qin), q, 48));
	EXPECT(q[0] == 0x2222 && q[1] == 0x1111);   /* the first CAS matched and swapped in q1 */
	EXPECT(q[2] == 0x1111 && q[3] == 0x2222);   /* the exchange put q2 there; the second CAS failed */
	EXPECT(q[4] == 0x1111 && q[5] == 0x2222);   /* ... returning what it found */
	CK_RC(run(HDR ".visible .entry k(.param .u64 p)\n{\n\t.reg .b128 %q<2>;\n\t.reg .b64 %rd<3>;\n"
	          "\tld.param.u64 %rd1, [p];\n\tld.global.b128 %q1, [%rd1+8];\n\tret;\n}\n", NULL, 0, NULL, 0),
	      CUDA_ERROR_MISALIGNED_ADDRESS);

	/* clocks advance while the kernel runs; the shared-memory sizes of the launch */
	CK(run(KERNEL("\tmov.u64 %rd4, %globaltimer;\n\tmov.u64 %rd2, %clock64;\n\tnanosleep.u32 1000;\n"
	              "$L_spin:\n\tmov.u64 %rd3, %clock64;\n\tsub.s64 %rd5, %rd3, %rd2;\n"
	              "\tsetp.lt.u64 %p1, %rd5, 30000;\n\t@%p1 bra $L_spin;\n"
	              "\tmov.u64 %rd6, %globaltimer;\n\tsub.s64 %rd7, %rd6, %rd4;\n"
	              "\tst.global.u64 [%rd1], %rd5;\n\tst.global.u64 [%rd1+8], %rd7;\n"
	              "\tmov.u32 %r1, %dynamic_smem_size;\n\tmov.u32 %r2, %total_smem_size;\n"
	              "\tst.global.u32 [%rd1+16], %r1;\n\tst.global.u32 [%rd1+20], %r2;\n"),
	       NULL, 0, q, 24));
	EXPECT(q[0] >= 30000);
	/* the timer's interval holds the clock's: as long in nanoseconds as its cycles at 1.5 GHz */
	EXPECT(q[1] * 3 / 2 + 2 >= q[0]);
	EXPECT((q[2] & 0xffffffff) == 100 && (q[2] >> 32) == 100);

	/* fns at offset 0, and downwards; prmt's modes; testp; mul24 and mad24 */
	CK(run(KERNEL("\tmov.b32 %r1, 0x00f0;\n\tfns.b32 %r2, %r1, 4, 0;\n\tfns.b32 %r3, %r1, 3, 0;\n"
	              "\tfns.b32 %r4, %r1, 31, -2;\n\tst.global.v4.u32 [%rd1], {%r2,%r3,%r4,%r1};\n"
	              "\tmov.b32 %r5, 0x33221100;\n\tmov.b32 %r6, 0x77665544;\n"
	              "\tprmt.b32.f4e %r7, %r5, %r6, 1;\n\tprmt.b32.b4e %r8, %r5, %r6, 0;\n"
	              "\tprmt.b32.ecl %r9, %r5, %r6, 2;\n\tprmt.b32.rc16 %r10, %r5, %r6, 1;\n"
	              "\tst.global.v4.u32 [%rd1+16], {%r7,%r8,%r9,%r10};\n"
	              "\tmov.f32 %f1, 0f7F800000;\n\ttestp.infinite.f32 %p1, %f1;\n\ttestp.finite.f32 %p2, %f1;\n"
	              "\tmov.f64 %fd1, 0d0000000000000001;\n\ttestp.subnormal.f64 %p3, %fd1;\n"
	              "\tselp.u32 %r11, 1, 0, %p1;\n\tselp.u32 %r12, 1, 0, %p2;\n\tselp.u32 %r13, 1, 0, %p3;\n"
	              "\tmov.b32 %r14, 0x00fffffe;\n\tmul24.lo.s32 %r15, %r14, 3;\n\tmad24.hi.u32 %r16, %r14, %r14, 1;\n"
	              "\tst.global.v4.u32 [%rd1+32], {%r11,%r12,%r13,%r15};\n\tst.global.u32 [%rd1+48], %r16;\n"),
	       NULL, 0, u, 52));
	EXPECT(u[0] == 4 && u[1] == 0xffffffff && u[2] == 6);
	EXPECT(u[4] == 0x44332211 && u[5] == 0x55667700);   /* bytes 1 2 3 4; 0 7 6 5 */
	EXPECT(u[6] == 0x33222222 && u[7] == 0x33223322);   /* 2 2 2 3; 2 3 2 3 */
	EXPECT(u[8] == 1 && u[9] == 0 && u[10] == 1);
	EXPECT(u[11] == (unsigned)(-2 * 3));                /* 0xfffffe is -2 in 24 bits */
	EXPECT(u[12] == (unsigned)((0xfffffeull * 0xfffffeull) >> 16) + 1);

	/* tanh and ex2 .approx of halves and bfloat16s (htanh_approx, h2tanh_approx): the float
	 * function rounded once */
	CK(run(KERNEL("\tmov.b32 %r1, 0xb8003c00;\n\ttanh.approx.f16x2 %r2, %r1;\n\tex2.approx.f16x2 %r3, %r1;\n"
	              "\tmov.b16 %h1, 0x3f80;\n\ttanh.approx.bf16 %h2, %h1;\n\tmov.b16 %h3, 0x4040;\n"
	              "\tex2.approx.ftz.bf16 %h4, %h3;\n\tmov.b16 %h5, 0x3c00;\n\ttanh.approx.f16 %h6, %h5;\n"
	              "\tcvt.u32.u16 %r4, %h2;\n\tcvt.u32.u16 %r5, %h4;\n\tcvt.u32.u16 %r6, %h6;\n"
	              "\tst.global.v4.u32 [%rd1], {%r2,%r3,%r4,%r5};\n\tst.global.u32 [%rd1+16], %r6;\n"),
	       NULL, 0, u, 20));
	EXPECT(u[0] == 0xb7653a18 && u[1] == 0x39a84000);   /* tanh(1), tanh(-0.5); 2^1, 2^-0.5 */
	EXPECT(u[2] == 0x3f43 && u[3] == 0x4100 && u[4] == 0x3a18);

	/* what stays refused, at load: 128-bit registers elsewhere, vector atomics but .add */
	static const char *const refused[] = {
		HDR ".visible .entry k()\n{\n\t.reg .b128 %q<2>;\n\t.reg .b64 %rd<2>;\n\tadd.u64 %rd1, %q1, 1;\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .b128 %q<2>;\n\tmov.b128 %q1, 0;\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .b128 %q<2>;\n\t.reg .b64 %rd<2>;\n\tld.global.b128 %q1, [%q1];\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .b128 %q<2>;\n\t.reg .b64 %rd<2>;\n"
		"\tatom.global.add.b128 %q1, [%rd1], %q1;\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .f32 %f<9>;\n\t.reg .b64 %rd<2>;\n"
		"\tatom.global.max.v2.f32 {%f1,%f2}, [%rd1], {%f3,%f4};\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .f32 %f<9>;\n\t.reg .b64 %rd<2>;\n"
		"\tred.global.add.v8.f32 [%rd1], {%f1,%f2,%f3,%f4,%f5,%f6,%f7,%f8};\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .b64 %rd<3>;\n\talloca.u64 %rd1, %rd2, 3;\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .b32 %r<3>;\n\tmul24.lo.sat.s32 %r1, %r2, %r2;\n\tret;\n}\n",
		/* .relu of unsigned halves, or of an add; a saturating add of halves */
		HDR ".visible .entry k()\n{\n\t.reg .b32 %r<3>;\n\tmax.u16x2.relu %r1, %r2, %r2;\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .b32 %r<3>;\n\tadd.s16x2.relu %r1, %r2, %r2;\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .b32 %r<3>;\n\tadd.sat.s16x2 %r1, %r2, %r2;\n\tret;\n}\n",
		HDR ".visible .entry k()\n{\n\t.reg .b32 %r<3>;\n\t.reg .pred %p<2>;\n\ttestp.finite.f16 %p1, %r1;\n\tret;\n}\n",
	};
	ST_REFUSED(refused);

	/* fresh memory in every block: 64 blocks of 128 threads, twice (the second launch's
	 * blocks run where the first's did), each thread must read zeros everywhere */
	{
		CUmodule m;
		CUfunction f;
		CUdeviceptr d;
		enum { BLOCKS = 64, THREADS = 128 };
		static unsigned seen[BLOCKS * THREADS];
		CK(cuModuleLoadData(&m, fresh_ptx));
		CK(cuModuleGetFunction(&f, m, "z"));
		CK(cuMemAlloc(&d, sizeof(seen)));
		void *args[] = { &d };
		for (int round = 0; round < 2; round++) {
			CK(cuMemsetD8(d, 0xff, sizeof(seen)));
			CK(cuLaunchKernel(f, BLOCKS, 1, 1, THREADS, 1, 1, 0, NULL, args, NULL));
			CK(cuCtxSynchronize());
			CK(cuMemcpyDtoH(seen, d, sizeof(seen)));
			unsigned dirty = 0;
			for (unsigned i = 0; i < BLOCKS * THREADS; i++)
				dirty += seen[i] != 0;
			EXPECT(dirty == 0);   /* a thread found what an earlier block wrote */
		}
		CK(cuMemFree(d));
		CK(cuModuleUnload(m));
	}
	CK(cuCtxDestroy(ctx));
	printf("test_sim_stack: ok\n");
	return 0;
}
