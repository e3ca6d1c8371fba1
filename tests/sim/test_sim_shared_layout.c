/* SPDX-License-Identifier: MIT */
/* libcudasim's layout of static shared memory per kernel: module-scope .shared variables and
 * a .func's own are given to each kernel that names them, in its code or in the functions it
 * calls (transitively), and to no other, as a GPU lays out each kernel alone. Four module
 * arrays of 20,000 bytes (80,000 together, past the 64 KiB of a 7.5 device) leave each kernel
 * its own few; a kernel and a function it calls both use one array at the same place; a
 * function calling another keeps both regions apart; what each kernel reports is what it uses;
 * the data written through each variable is read back; a kernel whose regions add up past
 * the largest block is refused at load. */
#include "simtest.h"

#define HDR ".version 7.0\n.target sm_75\n.address_size 64\n"
#define N "20000"

/* f1 adds 1 to m1[tid]; f2 (its own fo[100]) calls f1, then adds m2[tid] and fo[tid % 100];
 * k1 uses m3 and calls f1; k2 calls f2; k3 uses m4 alone; k0 uses nothing shared */
static const char ptx[] = HDR
	".shared .align 4 .b8 m1[" N "];\n.shared .align 4 .b8 m2[" N "];\n"
	".shared .align 4 .b8 m3[" N "];\n.shared .align 4 .b8 m4[" N "];\n"
	".func (.param .b32 r) f1(.param .b32 t)\n{\n\t.reg .b32 %r<6>;\n\tld.param.u32 %r1, [t];\n"
	"\tshl.b32 %r2, %r1, 2;\n\tmov.u32 %r3, m1;\n\tadd.u32 %r3, %r3, %r2;\n\tld.shared.u32 %r4, [%r3];\n"
	"\tadd.u32 %r4, %r4, 1;\n\tst.shared.u32 [%r3], %r4;\n\tst.param.u32 [r], %r4;\n\tret;\n}\n"
	".func (.param .b32 r) f2(.param .b32 t)\n{\n\t.shared .align 4 .b8 fo[100];\n\t.reg .b32 %r<12>;\n"
	"\tld.param.u32 %r1, [t];\n\tshl.b32 %r2, %r1, 2;\n\tmov.u32 %r3, m2;\n\tadd.u32 %r3, %r3, %r2;\n"
	"\tst.shared.u32 [%r3], 1000;\n\tand.b32 %r5, %r1, 15;\n\tshl.b32 %r5, %r5, 2;\n\tmov.u32 %r6, fo;\n"
	"\tadd.u32 %r6, %r6, %r5;\n\tst.shared.u32 [%r6], 7;\n"
	"\t{\n\t.param .b32 a;\n\t.param .b32 b;\n\tst.param.b32 [a], %r1;\n"
	"\tcall.uni (b), f1, (a);\n\tld.param.b32 %r7, [b];\n\t}\n"
	"\tld.shared.u32 %r8, [%r3];\n\tld.shared.u32 %r9, [%r6];\n\tadd.u32 %r10, %r7, %r8;\n\tadd.u32 %r10, %r10, %r9;\n"
	"\tst.param.u32 [r], %r10;\n\tret;\n}\n"
	".visible .entry k1(.param .u64 out)\n{\n\t.reg .b32 %r<8>;\n\t.reg .b64 %rd<4>;\n"
	"\tld.param.u64 %rd1, [out];\n\tmov.u32 %r1, %tid.x;\n\tshl.b32 %r2, %r1, 2;\n"
	"\tmov.u32 %r3, m1;\n\tadd.u32 %r3, %r3, %r2;\n\tst.shared.u32 [%r3], 40;\n"
	"\tmov.u32 %r4, m3;\n\tadd.u32 %r4, %r4, %r2;\n\tst.shared.u32 [%r4], 300;\n"
	"\t{\n\t.param .b32 a;\n\t.param .b32 b;\n\tst.param.b32 [a], %r1;\n"
	"\tcall.uni (b), f1, (a);\n\tld.param.b32 %r5, [b];\n\t}\n"
	"\tld.shared.u32 %r6, [%r4];\n\tadd.u32 %r5, %r5, %r6;\n"
	"\tmul.wide.u32 %rd2, %r1, 4;\n\tadd.s64 %rd3, %rd1, %rd2;\n\tst.global.u32 [%rd3], %r5;\n\tret;\n}\n"
	".visible .entry k2(.param .u64 out)\n{\n\t.reg .b32 %r<8>;\n\t.reg .b64 %rd<4>;\n"
	"\tld.param.u64 %rd1, [out];\n\tmov.u32 %r1, %tid.x;\n\tshl.b32 %r2, %r1, 2;\n"
	"\tmov.u32 %r3, m1;\n\tadd.u32 %r3, %r3, %r2;\n\tst.shared.u32 [%r3], 20;\n"
	"\t{\n\t.param .b32 a;\n\t.param .b32 b;\n\tst.param.b32 [a], %r1;\n"
	"\tcall.uni (b), f2, (a);\n\tld.param.b32 %r5, [b];\n\t}\n"
	"\tmul.wide.u32 %rd2, %r1, 4;\n\tadd.s64 %rd3, %rd1, %rd2;\n\tst.global.u32 [%rd3], %r5;\n\tret;\n}\n"
	".visible .entry k3(.param .u64 out)\n{\n\t.reg .b32 %r<8>;\n\t.reg .b64 %rd<4>;\n"
	"\tld.param.u64 %rd1, [out];\n\tmov.u32 %r1, %tid.x;\n\tshl.b32 %r2, %r1, 2;\n"
	"\tmov.u32 %r3, m4+16;\n\tadd.u32 %r3, %r3, %r2;\n\tst.shared.u32 [%r3], 5;\n\tld.shared.u32 %r4, [%r3];\n"
	"\tmul.wide.u32 %rd2, %r1, 4;\n\tadd.s64 %rd3, %rd1, %rd2;\n\tst.global.u32 [%rd3], %r4;\n\tret;\n}\n"
	".visible .entry k0(.param .u64 out)\n{\n\t.reg .b64 %rd<2>;\n\tld.param.u64 %rd1, [out];\n"
	"\tst.global.u32 [%rd1], 9;\n\tret;\n}\n";

static void launch(CUmodule m, const char *name, CUdeviceptr d, unsigned *out, int *shared)
{
	CUfunction f;
	CK(cuModuleGetFunction(&f, m, name));
	CK(cuFuncGetAttribute(shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f));
	void *args[] = { &d };
	CK(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(out, d, 64 * 4));
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CUcontext ctx;
	CUmodule m;
	CUdeviceptr d;
	unsigned out[64];
	int sh;
	CK(cuInit(0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, ptx));
	CK(cuMemAlloc(&d, 64 * 4));
	launch(m, "k1", d, out, &sh);
	EXPECT(sh == 40000);                       /* m1 (through f1) and m3 */
	for (int t = 0; t < 64; t++)
		EXPECT(out[t] == 41 + 300);           /* f1 saw k1's m1 value: one place for both */
	launch(m, "k2", d, out, &sh);
	EXPECT(sh == 40000 + 100);                 /* m1, m2 and f2's fo, apart */
	for (int t = 0; t < 64; t++)
		EXPECT(out[t] == 21 + 1000 + 7);
	launch(m, "k3", d, out, &sh);
	EXPECT(sh == 20000);
	for (int t = 0; t < 64; t++)
		EXPECT(out[t] == 5);
	launch(m, "k0", d, out, &sh);
	EXPECT(sh == 0 && out[0] == 9);

	/* a kernel using arrays past the largest block (227 KiB) is refused; so is an indirect
	 * call from one that then reaches every region (it may call any function) */
	static const char *const refused[] = {
		HDR ".shared .b8 a[120000];\n.shared .b8 b[120000];\n"
		".visible .entry k()\n{\n\t.reg .b32 %r<3>;\n\tmov.u32 %r1, a;\n\tmov.u32 %r2, b;\n\tret;\n}\n",
		HDR ".shared .b8 a[120000];\n.shared .b8 b[120000];\n"
		".func g()\n{\n\t.reg .b32 %r<2>;\n\tmov.u32 %r1, a;\n\tret;\n}\n"
		".func h()\n{\n\t.reg .b32 %r<2>;\n\tmov.u32 %r1, b;\n\tret;\n}\n"
		".visible .entry k()\n{\n\t.reg .b64 %rd<2>;\n\tmov.u64 %rd1, g;\n\tprototype_0 : .callprototype ()_ ();\n"
		"\tcall %rd1, (), prototype_0;\n\tret;\n}\n",
	};
	ST_REFUSED(refused);
	/* a module made to be expensive to lay out (kernels x shared variables past 2^30) is
	 * refused at load, quickly */
	{
		size_t cap = 40u << 20, len = 0;
		char *big = malloc(cap);
		EXPECT(big);
		len += (size_t)snprintf(big + len, cap - len, HDR);
		for (int i = 0; i < 33000; i++)
			len += (size_t)snprintf(big + len, cap - len, ".shared .b8 s%d[4];\n", i);
		for (int i = 0; i < 33000; i++)
			len += (size_t)snprintf(big + len, cap - len, ".visible .entry e%d()\n{\nret;\n}\n", i);
		EXPECT(len < cap - 1);
		CUmodule mb;
		CK_RC(cuModuleLoadData(&mb, big), CUDA_ERROR_INVALID_PTX);
		free(big);
	}
	/* the same two arrays in kernels of their own load, each with its own */
	static const char apart[] = HDR ".shared .b8 a[120000];\n.shared .b8 b[120000];\n"
		".visible .entry ka()\n{\n\t.reg .b32 %r<2>;\n\tmov.u32 %r1, a;\n\tret;\n}\n"
		".visible .entry kb()\n{\n\t.reg .b32 %r<2>;\n\tmov.u32 %r1, b;\n\tret;\n}\n";
	CUmodule m2;
	CUfunction f;
	CK(cuModuleLoadData(&m2, apart));
	CK(cuModuleGetFunction(&f, m2, "kb"));
	CK(cuFuncGetAttribute(&sh, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f));
	EXPECT(sh == 120000);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_shared_layout: ok\n");
	return 0;
}
