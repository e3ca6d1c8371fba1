/* SPDX-License-Identifier: MIT */
/* libcudasim's dynamic parallelism: the device runtime's entry points (__cudaCDP2*) a kernel
 * calls to launch a kernel. A child grid runs after the grid that launched it and before the
 * launch counts as complete; what is refused answers as the device runtime does (a NULL
 * buffer, an error code) and what cannot run fails the launch: a child grid's impossible
 * shape, nesting past 24, a buffer launched twice or never asked for. */
#include "simtest.h"

#define HDR ".version 8.0\n.target sm_75\n.address_size 64\n"
#define DECLS \
	".extern .func (.param .b64 r) __cudaCDP2GetParameterBufferV2(.param .b64 f, .param .align 4 .b8 g[12], " \
	".param .align 4 .b8 b[12], .param .b32 s);\n" \
	".extern .func (.param .b32 r) __cudaCDP2LaunchDeviceV2(.param .b64 p, .param .b64 s);\n"

/* child(out, v): out[tid] = v + tid. spawn(out, mode, threads): thread 0 asks for a buffer for
 * child with a block of `threads`, writes (out, 7) into it and launches it (mode 1: twice;
 * mode 2: a buffer for spawn itself, nested until the device runtime's depth is past;
 * mode 3: launches an address no buffer has; mode 4: asks for a buffer for a function
 * address that is no kernel). out[100] = the first launch's result, out[101] the second's
 * or whether the buffer was NULL. */
static const char ptx[] = HDR DECLS
	".visible .entry child(.param .u64 out, .param .u32 v)\n{\n.reg .b32 %r<4>;\n.reg .b64 %rd<4>;\n"
	"ld.param.u64 %rd1, [out];\nld.param.u32 %r1, [v];\nmov.u32 %r2, %tid.x;\nadd.u32 %r3, %r1, %r2;\n"
	"mul.wide.u32 %rd2, %r2, 4;\nadd.s64 %rd3, %rd1, %rd2;\nst.global.u32 [%rd3], %r3;\nret;\n}\n"
	".visible .entry spawn(.param .u64 out, .param .u32 mode, .param .u32 threads)\n{\n"
	".reg .b32 %r<12>;\n.reg .b64 %rd<8>;\n.reg .pred %p<4>;\n"
	"ld.param.u64 %rd1, [out];\nld.param.u32 %r1, [mode];\nld.param.u32 %r2, [threads];\n"
	"mov.u32 %r3, %tid.x;\nsetp.ne.u32 %p1, %r3, 0;\n@%p1 bra END;\n"
	"mov.u64 %rd2, child;\nsetp.eq.u32 %p2, %r1, 2;\n@%p2 mov.u64 %rd2, spawn;\n"
	"setp.eq.u32 %p2, %r1, 4;\n@%p2 add.u64 %rd2, %rd2, 8;\n"
	"{\n.param .b64 a0;\nst.param.b64 [a0], %rd2;\n.param .align 4 .b8 a1[12];\n"
	"st.param.b32 [a1], 1;\nst.param.b32 [a1+4], 1;\nst.param.b32 [a1+8], 1;\n.param .align 4 .b8 a2[12];\n"
	"st.param.b32 [a2], %r2;\nst.param.b32 [a2+4], 1;\nst.param.b32 [a2+8], 1;\n.param .b32 a3;\n"
	"st.param.b32 [a3], 0;\n.param .b64 rv;\n"
	"call.uni (rv), __cudaCDP2GetParameterBufferV2, (a0, a1, a2, a3);\nld.param.b64 %rd3, [rv];\n}\n"
	"setp.eq.u64 %p3, %rd3, 0;\nselp.u32 %r9, 1, 0, %p3;\nst.global.u32 [%rd1+404], %r9;\n@%p3 bra END;\n"
	"st.u64 [%rd3], %rd1;\nmov.u32 %r4, 7;\nst.u32 [%rd3+8], %r4;\n"
	"setp.ne.u32 %p2, %r1, 2;\n@%p2 bra LAUNCH;\nst.u32 [%rd3+8], %r1;\nst.u32 [%rd3+12], %r2;\n"
	"LAUNCH:\nsetp.eq.u32 %p2, %r1, 3;\n@%p2 add.u64 %rd3, %rd3, 64;\n"
	"{\n.param .b64 b0;\nst.param.b64 [b0], %rd3;\n.param .b64 b1;\nst.param.b64 [b1], 0;\n.param .b32 rv;\n"
	"call.uni (rv), __cudaCDP2LaunchDeviceV2, (b0, b1);\nld.param.b32 %r5, [rv];\n}\n"
	"st.global.u32 [%rd1+400], %r5;\nsetp.ne.u32 %p2, %r1, 1;\n@%p2 bra END;\n"
	"{\n.param .b64 c0;\nst.param.b64 [c0], %rd3;\n.param .b64 c1;\nst.param.b64 [c1], 0;\n.param .b32 rv;\n"
	"call.uni (rv), __cudaCDP2LaunchDeviceV2, (c0, c1);\nld.param.b32 %r6, [rv];\n}\n"
	"st.global.u32 [%rd1+404], %r6;\nEND:\nret;\n}\n";

static CUmodule m;
static CUfunction spawn;
static CUdeviceptr d;

static CUresult run(unsigned mode, unsigned threads, uint32_t *out)
{
	void *args[] = { &d, &mode, &threads };
	CK(cuMemsetD32(d, 0xffffffffu, 102));
	CUresult r = cuLaunchKernel(spawn, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL);
	if (r == CUDA_SUCCESS)
		r = cuCtxSynchronize();
	if (r == CUDA_SUCCESS)
		CK(cuMemcpyDtoH(out, d, 102 * 4));
	return r;
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CK(cuInit(0));
	CUcontext ctx;
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, ptx));
	CK(cuModuleGetFunction(&spawn, m, "spawn"));
	CK(cuMemAlloc(&d, 102 * 4));
	uint32_t out[102];

	/* a child of 32 threads: it ran before the launch completed */
	CK(run(0, 32, out));
	for (unsigned i = 0; i < 32; i++)
		EXPECT(out[i] == 7 + i);
	EXPECT(out[32] == 0xffffffffu && out[100] == 0 && out[101] == 0);
	/* the same buffer launched twice: the second is cudaErrorInvalidValue (1) */
	CK(run(1, 32, out));
	EXPECT(out[0] == 7 && out[100] == 0 && out[101] == 1);
	/* an address no buffer has: 1; a function address that is no kernel: a NULL buffer */
	CK(run(3, 32, out));
	EXPECT(out[100] == 1 && out[0] == 0xffffffffu);
	CK(run(4, 32, out));
	EXPECT(out[101] == 1 && out[100] == 0xffffffffu);
	/* a child with a block of 2048 threads, and a recursion past 24: the launch fails */
	CK_RC(run(0, 2048, out), CUDA_ERROR_LAUNCH_FAILED);
	CK(cuCtxDestroy(ctx));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, ptx));
	CK(cuModuleGetFunction(&spawn, m, "spawn"));
	CK(cuMemAlloc(&d, 102 * 4));
	CK_RC(run(2, 32, out), CUDA_ERROR_LAUNCH_FAILED);
	CK(cuCtxDestroy(ctx));
	printf("test_sim_cdp: ok\n");
	return 0;
}
