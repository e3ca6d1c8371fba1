/* SPDX-License-Identifier: MIT */
/* libcudasim's calls through function addresses: a table of functions in an initializer (one
 * naming functions declared only further on, as a linked module has it), an address taken
 * with mov, calls through .callprototype; what faults (an address that is no function, a
 * function of another shape, a load through a function's address); multimem instructions,
 * which load and fault where they run (no address is a multicast object's); and what is
 * refused at load. */
#include "simtest.h"

#define HDR ".version 8.0\n.target sm_90\n.address_size 64\n"

/* k(out, sel, how): out[0] = f(6, 7) where f is tbl[sel] (how 0), mul's address from mov
 * (how 1), a number that is no function (how 2), one(), a function of one parameter (how 3);
 * how 4 loads through add's address */
static const char ptx[] = HDR
	".visible .global .align 8 .u64 tbl[2] = {add, mul};\n"
	".func (.param .b32 r) add(.param .b32 a, .param .b32 b)\n{\n.reg .b32 %r<4>;\n"
	"ld.param.u32 %r1, [a];\nld.param.u32 %r2, [b];\nadd.s32 %r3, %r1, %r2;\nst.param.b32 [r], %r3;\nret;\n}\n"
	".func (.param .b32 r) mul(.param .b32 a, .param .b32 b)\n{\n.reg .b32 %r<4>;\n"
	"ld.param.u32 %r1, [a];\nld.param.u32 %r2, [b];\nmul.lo.s32 %r3, %r1, %r2;\nst.param.b32 [r], %r3;\nret;\n}\n"
	".func (.param .b32 r) one(.param .b32 a)\n{\nst.param.b32 [r], 1;\nret;\n}\n"
	".visible .entry k(.param .u64 out, .param .u32 sel, .param .u32 how)\n{\n"
	".reg .b32 %r<8>;\n.reg .b64 %rd<8>;\n.reg .pred %p<4>;\n"
	"ld.param.u64 %rd1, [out];\nld.param.u32 %r1, [sel];\nld.param.u32 %r2, [how];\n"
	"mov.u64 %rd2, tbl;\nmul.wide.u32 %rd3, %r1, 8;\nadd.s64 %rd4, %rd2, %rd3;\nld.global.u64 %rd5, [%rd4];\n"
	"setp.eq.u32 %p1, %r2, 1;\n@%p1 mov.u64 %rd5, mul;\n"
	"setp.eq.u32 %p1, %r2, 2;\n@%p1 mov.u64 %rd5, 4660;\n"
	"setp.eq.u32 %p1, %r2, 3;\n@%p1 mov.u64 %rd5, one;\n"
	"setp.eq.u32 %p1, %r2, 4;\n@%p1 bra LOAD;\n"
	"{\n.param .b32 a0;\n.param .b32 a1;\n.param .b32 rv;\n"
	"st.param.b32 [a0], 6;\nst.param.b32 [a1], 7;\n"
	"proto: .callprototype (.param .b32 _) _ (.param .b32 _, .param .b32 _);\n"
	"call (rv), %rd5, (a0, a1), proto;\nld.param.b32 %r3, [rv];\n}\n"
	"st.global.u32 [%rd1], %r3;\nret;\n"
	"LOAD:\nmov.u64 %rd6, add;\nld.global.u32 %r4, [%rd6];\nst.global.u32 [%rd1], %r4;\nret;\n}\n";

/* the table before the functions it names are declared (a linked module's order) */
static const char ptx_fwd[] = HDR
	".visible .global .align 8 .u64 tbl[1] = {twice};\n"
	".visible .func (.param .b32 r) twice(.param .b32 a)\n{\n.reg .b32 %r<3>;\n"
	"ld.param.u32 %r1, [a];\nshl.b32 %r2, %r1, 1;\nst.param.b32 [r], %r2;\nret;\n}\n"
	".visible .entry k(.param .u64 out)\n{\n.reg .b32 %r<3>;\n.reg .b64 %rd<4>;\n"
	"ld.param.u64 %rd1, [out];\nld.global.u64 %rd2, [tbl];\n"
	"{\n.param .b32 a0;\n.param .b32 rv;\nst.param.b32 [a0], 21;\n"
	"p1: .callprototype (.param .b32 _) _ (.param .b32 _);\n"
	"call (rv), %rd2, (a0), p1;\nld.param.b32 %r1, [rv];\n}\nst.global.u32 [%rd1], %r1;\nret;\n}\n";

/* multimem forms NCCL's kernels hold for NVLink SHARP */
static const char ptx_mm[] = HDR
	".visible .entry mm(.param .u64 p, .param .u32 go)\n{\n.reg .b32 %r<6>;\n.reg .b64 %rd<3>;\n.reg .f32 %f<5>;\n"
	".reg .pred %p<2>;\nld.param.u64 %rd1, [p];\nld.param.u32 %r1, [go];\nsetp.eq.u32 %p1, %r1, 0;\n@%p1 bra END;\n"
	"multimem.red.relaxed.sys.global.add.u32 [%rd1], %r1;\n"
	"multimem.ld_reduce.relaxed.sys.global.add.v4.f32 {%f1, %f2, %f3, %f4}, [%rd1];\n"
	"multimem.st.relaxed.sys.global.v4.f32 [%rd1], {%f1, %f2, %f3, %f4};\n"
	"END:\nret;\n}\n";

static CUcontext ctx;

static CUresult run(CUfunction f, CUdeviceptr d, unsigned sel, unsigned how, unsigned *out)
{
	void *args[] = { &d, &sel, &how };
	CK(cuMemsetD32(d, 0xdead, 1));
	CUresult r = st_launch1(f, args);
	if (r == CUDA_SUCCESS)
		CK(cuMemcpyDtoH(out, d, 4));
	return r;
}

/* A launch that must fault: its error, then a fresh context (the fault is sticky). */
static void faults(const char *text, const char *fn, unsigned sel, unsigned how, CUresult want)
{
	CUmodule m;
	CUfunction f;
	CUdeviceptr d;
	unsigned out;
	CK(cuModuleLoadData(&m, text));
	CK(cuModuleGetFunction(&f, m, fn));
	CK(cuMemAlloc(&d, 16));
	CK_RC(run(f, d, sel, how, &out), want);
	CK(cuCtxDestroy(ctx));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CUmodule m;
	CUfunction f;
	CUdeviceptr d;
	unsigned out = 0;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, ptx));
	CK(cuModuleGetFunction(&f, m, "k"));
	CK(cuMemAlloc(&d, 16));
	CK(run(f, d, 0, 0, &out));
	EXPECT(out == 13);   /* tbl[0]: add */
	CK(run(f, d, 1, 0, &out));
	EXPECT(out == 42);   /* tbl[1]: mul */
	CK(run(f, d, 0, 1, &out));
	EXPECT(out == 42);   /* mov of mul's name */
	/* the table holds the addresses the functions' names give, and they are not memory */
	CUdeviceptr tbl;
	size_t tsz;
	unsigned long long fa[2];
	CK(cuModuleGetGlobal(&tbl, &tsz, m, "tbl"));
	EXPECT(tsz == 16);
	CK(cuMemcpyDtoH(fa, tbl, sizeof(fa)));
	EXPECT(fa[0] && fa[1] && fa[0] != fa[1]);
	CUmodule mf;
	CK(cuModuleLoadData(&mf, ptx_fwd));
	CK(cuModuleGetFunction(&f, mf, "k"));
	void *a1[] = { &d };
	CK(st_launch1(f, a1));
	CK(cuMemcpyDtoH(&out, d, 4));
	EXPECT(out == 42);
	CK(cuCtxDestroy(ctx));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));

	faults(ptx, "k", 0, 2, CUDA_ERROR_ILLEGAL_ADDRESS);   /* a number that is no function */
	faults(ptx, "k", 0, 3, CUDA_ERROR_ILLEGAL_ADDRESS);   /* one(): another shape */
	faults(ptx, "k", 0, 4, CUDA_ERROR_ILLEGAL_ADDRESS);   /* a load through add's address */
	faults(ptx, "k", 5, 0, CUDA_ERROR_ILLEGAL_ADDRESS);   /* past the table: not a function */

	/* multimem: loads, runs where not reached, faults where reached */
	CK(cuModuleLoadData(&m, ptx_mm));
	CK(cuModuleGetFunction(&f, m, "mm"));
	CK(cuMemAlloc(&d, 64));
	unsigned go = 0;
	void *a2[] = { &d, &go };
	CK(st_launch1(f, a2));
	go = 1;
	CK_RC(st_launch1(f, a2), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK(cuCtxDestroy(ctx));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));

	static const char *const refused[] = {
		/* an indirect call without its prototype */
		HDR ".func f()\n{\nret;\n}\n.visible .entry k()\n{\n.reg .b64 %rd<2>;\nmov.u64 %rd1, f;\n"
		"call %rd1, ();\nret;\n}\n",
		/* a call of a name that is neither a function nor a register */
		HDR ".visible .entry k()\n{\ncall nowhere, ();\nret;\n}\n",
		/* an initializer naming no function of the module */
		HDR ".visible .global .align 8 .u64 t[1] = {nowhere};\n.visible .entry k()\n{\nret;\n}\n",
		/* multimem without an address */
		HDR ".visible .entry k()\n{\n.reg .b32 %r<2>;\nmultimem.red.relaxed.sys.global.add.u32 %r1, %r1;\nret;\n}\n",
	};
	ST_REFUSED(refused);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_indirect: ok\n");
	return 0;
}
