/* SPDX-License-Identifier: MIT */
/* libcudasim conditional graph nodes: IF, WHILE and SWITCH decided by kernels calling
 * cudaGraphSetConditional; a handle's default value given back at each launch; what the
 * driver's rules refuse (flags, body counts, a handle of another context, a body or a child
 * graph node's graph destroyed by itself, bodies holding host or event nodes); and a kernel naming a made-up handle or
 * another context's faults without touching any. */
#include "simtest.h"

#include <stdint.h>

static const char ptx[] =
	".version 8.0\n.target sm_75\n.address_size 64\n"
	".extern .func cudaGraphSetConditional (.param .b64 h, .param .b32 v);\n"
	".visible .entry setc(.param .u64 h, .param .u32 v)\n{\n"
	"  .reg .b64 %rd<2>;\n  .reg .b32 %r<2>;\n"
	"  ld.param.u64 %rd1, [h];\n  ld.param.u32 %r1, [v];\n"
	"  {\n  .param .b64 p0;\n  st.param.b64 [p0+0], %rd1;\n  .param .b32 p1;\n  st.param.b32 [p1+0], %r1;\n"
	"  call.uni cudaGraphSetConditional, (p0, p1);\n  }\n  ret;\n}\n"
	".visible .entry inc(.param .u64 p)\n{\n"
	"  .reg .b64 %rd<2>;\n  .reg .b32 %r<2>;\n"
	"  ld.param.u64 %rd1, [p];\n  ld.global.u32 %r1, [%rd1];\n  add.u32 %r1, %r1, 1;\n"
	"  st.global.u32 [%rd1], %r1;\n  ret;\n}\n"
	/* one round of a loop: *p -= 1, and go on while it is not 0 */
	".visible .entry down(.param .u64 h, .param .u64 p)\n{\n"
	"  .reg .b64 %rd<3>;\n  .reg .b32 %r<3>;\n  .reg .pred %q;\n"
	"  ld.param.u64 %rd1, [h];\n  ld.param.u64 %rd2, [p];\n  ld.global.u32 %r1, [%rd2];\n"
	"  sub.u32 %r1, %r1, 1;\n  st.global.u32 [%rd2], %r1;\n  setp.ne.u32 %q, %r1, 0;\n  selp.u32 %r2, 1, 0, %q;\n"
	"  {\n  .param .b64 p0;\n  st.param.b64 [p0+0], %rd1;\n  .param .b32 p1;\n  st.param.b32 [p1+0], %r2;\n"
	"  call.uni cudaGraphSetConditional, (p0, p1);\n  }\n  ret;\n}\n";

static CUmodule mod;
static CUfunction f_setc, f_inc, f_down;
static CUstream s;
static CUdeviceptr word;

static void load(void)
{
	CK(cuModuleLoadData(&mod, ptx));
	CK(cuModuleGetFunction(&f_setc, mod, "setc"));
	CK(cuModuleGetFunction(&f_inc, mod, "inc"));
	CK(cuModuleGetFunction(&f_down, mod, "down"));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&word, 4));
}

/* A kernel node after dep (NULL: none). */
static CUgraphNode knode(CUgraph g, CUgraphNode dep, CUfunction f, void **args)
{
	CUDA_KERNEL_NODE_PARAMS p;
	memset(&p, 0, sizeof(p));
	p.func = f;
	p.gridDimX = p.gridDimY = p.gridDimZ = 1;
	p.blockDimX = p.blockDimY = p.blockDimZ = 1;
	p.kernelParams = args;
	CUgraphNode n;
	CK(cuGraphAddKernelNode(&n, g, dep ? &dep : NULL, dep ? 1 : 0, &p));
	return n;
}

static CUresult cnode(CUgraphNode *n, CUgraph g, CUgraphNode dep, CUgraphConditionalHandle h,
		      CUgraphConditionalNodeType type, unsigned size, CUgraph **bodies)
{
	CUgraphNodeParams p;
	memset(&p, 0, sizeof(p));
	p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
	p.conditional.handle = h;
	p.conditional.type = type;
	p.conditional.size = size;
	CUresult r = cuGraphAddNode(n, g, dep ? &dep : NULL, NULL, dep ? 1 : 0, &p);
	if (bodies)
		*bodies = p.conditional.phGraph_out;
	return r;
}

static unsigned word_get(void)
{
	unsigned v;
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(&v, word, 4));
	return v;
}

static void word_set(unsigned v)
{
	CK(cuMemcpyHtoD(word, &v, 4));
}

static void run(CUgraphExec x)
{
	CK(cuGraphLaunch(x, s));
	CK(cuStreamSynchronize(s));
}

/* IF decided by a kernel before it; a default value given back at each launch. */
static void t_if_default(void)
{
	CUgraph g, *body;
	CUgraphExec x;
	CUgraphConditionalHandle h;
	CUgraphNode n;
	unsigned v = 0;
	CK(cuGraphCreate(&g, 0));
	CK(cuGraphConditionalHandleCreate(&h, g, NULL, 1, CU_GRAPH_COND_ASSIGN_DEFAULT));
	void *a_set[] = { &h, &v }, *a_inc[] = { &word };
	CK(cnode(&n, g, NULL, h, CU_GRAPH_COND_TYPE_IF, 1, &body));
	knode(body[0], NULL, f_inc, a_inc);
	CK(cuGraphInstantiate(&x, g, 0));
	word_set(0);
	run(x);
	run(x);
	EXPECT(word_get() == 2);   /* the default (1) each time */
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	/* a kernel first setting 0: no round */
	CK(cuGraphCreate(&g, 0));
	CK(cuGraphConditionalHandleCreate(&h, g, NULL, 1, CU_GRAPH_COND_ASSIGN_DEFAULT));
	CUgraphNode k = knode(g, NULL, f_setc, a_set);
	CK(cnode(&n, g, k, h, CU_GRAPH_COND_TYPE_IF, 1, &body));
	knode(body[0], NULL, f_inc, a_inc);
	CK(cuGraphInstantiate(&x, g, 0));
	run(x);
	EXPECT(word_get() == 2);
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
}

/* WHILE: the loop runs until its kernel says stop; without the default flag the value the
 * last launch left stays (0: the next launch runs no round). */
static void t_while(void)
{
	CUgraph g, *body;
	CUgraphExec x;
	CUgraphConditionalHandle h;
	CUgraphNode n;
	CK(cuGraphCreate(&g, 0));
	CK(cuGraphConditionalHandleCreate(&h, g, NULL, 1, 0));
	CK(cnode(&n, g, NULL, h, CU_GRAPH_COND_TYPE_WHILE, 1, &body));
	void *a_down[] = { &h, &word };
	knode(body[0], NULL, f_down, a_down);
	CK(cuGraphInstantiate(&x, g, 0));
	word_set(7);
	run(x);
	EXPECT(word_get() == 0);
	word_set(7);
	run(x);
	EXPECT(word_get() == 7);
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
}

/* A WHILE loop that cannot end fails its context (CUDA_ERROR_LAUNCH_TIMEOUT) instead of
 * holding the stream for ever: a body with no kernel, which nothing can make stop; a kernel
 * that never clears the condition, once the loop is past the instruction budget (each
 * iteration counted as 10,000 at least). Each in a context of its own (the error sticks). */
static void t_runaway(int with_kernel)
{
	CUcontext c;
	CUgraph g, *body;
	CUgraphExec x;
	CUgraphConditionalHandle h;
	CUgraphNode n;
	CK(cuCtxCreate(&c, NULL, 0, 0));
	load();
	CK(cuStreamCreate(&s, 0));
	CK(cuGraphCreate(&g, 0));
	CK(cuGraphConditionalHandleCreate(&h, g, NULL, 1, CU_GRAPH_COND_ASSIGN_DEFAULT));
	CK(cnode(&n, g, NULL, h, CU_GRAPH_COND_TYPE_WHILE, 1, &body));
	void *a_inc[] = { &word };
	if (with_kernel)
		knode(body[0], NULL, f_inc, a_inc);
	CK(cuGraphInstantiate(&x, g, 0));
	CK(cuGraphLaunch(x, s));
	CK_RC(cuStreamSynchronize(s), CUDA_ERROR_LAUNCH_TIMEOUT);
	CK(cuGraphExecDestroy(x));
	CK(cuGraphDestroy(g));
	CK(cuCtxDestroy(c));
}

/* What the driver's rules refuse. */
static void t_refused(CUcontext other)
{
	CUgraph g, g2, *body;
	CUgraphConditionalHandle h, h2;
	CUgraphNode n;
	CK(cuGraphCreate(&g, 0));
	CK_RC(cuGraphConditionalHandleCreate(&h, g, NULL, 0, 2), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuGraphConditionalHandleCreate(&h, g, other, 0, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuGraphConditionalHandleCreate(NULL, g, NULL, 0, 0), CUDA_ERROR_INVALID_VALUE);
	CK(cuGraphConditionalHandleCreate(&h, g, NULL, 0, 0));
	CK_RC(cnode(&n, g, NULL, h, CU_GRAPH_COND_TYPE_IF, 3, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cnode(&n, g, NULL, h, CU_GRAPH_COND_TYPE_IF, 0, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cnode(&n, g, NULL, h, CU_GRAPH_COND_TYPE_WHILE, 2, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cnode(&n, g, NULL, h, CU_GRAPH_COND_TYPE_SWITCH, 0, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cnode(&n, g, NULL, h, (CUgraphConditionalNodeType)7, 1, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cnode(&n, g, NULL, 0x1234, CU_GRAPH_COND_TYPE_IF, 1, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cnode(&n, g, NULL, h + 1000, CU_GRAPH_COND_TYPE_IF, 1, NULL), CUDA_ERROR_INVALID_VALUE);
	/* a handle of another context's graph */
	CK(cuCtxPushCurrent(other));
	CK(cuGraphCreate(&g2, 0));
	CK(cuGraphConditionalHandleCreate(&h2, g2, NULL, 0, 0));
	CK(cuCtxPopCurrent(NULL));
	CK_RC(cnode(&n, g, NULL, h2, CU_GRAPH_COND_TYPE_IF, 1, NULL), CUDA_ERROR_INVALID_VALUE);
	CK(cuGraphDestroy(g2));
	size_t nn = 0;
	CK(cuGraphGetNodes(g, NULL, &nn));
	EXPECT(nn == 0);
	/* a body is its node's: not destroyed by itself */
	CK(cnode(&n, g, NULL, h, CU_GRAPH_COND_TYPE_SWITCH, 3, &body));
	CK_RC(cuGraphDestroy(body[1]), CUDA_ERROR_INVALID_VALUE);
	CUgraphNodeType t;
	CK(cuGraphNodeGetType(n, &t));
	EXPECT(t == CU_GRAPH_NODE_TYPE_CONDITIONAL);
	/* nor is a child graph node's graph */
	CUgraph child, inner;
	CUgraphNode chn;
	CK(cuGraphCreate(&child, 0));
	CK(cuGraphAddChildGraphNode(&chn, g, NULL, 0, child));
	CK(cuGraphChildGraphNodeGetGraph(chn, &inner));
	EXPECT(inner != child);
	CK_RC(cuGraphDestroy(inner), CUDA_ERROR_INVALID_VALUE);
	CK(cuGraphDestroy(child));
	CK(cuGraphDestroyNode(chn));
	/* a body holding an event record node or a host node cannot be instantiated */
	CUevent e;
	CUgraphNode en;
	CUgraphExec x;
	CK(cuEventCreate(&e, 0));
	CK(cuGraphAddEventRecordNode(&en, body[2], NULL, 0, e));
	CK_RC(cuGraphInstantiate(&x, g, 0), CUDA_ERROR_INVALID_VALUE);
	CK(cuGraphDestroyNode(en));
	CK(cuGraphInstantiate(&x, g, 0));   /* (empty bodies are fine) */
	CK(cuGraphExecDestroy(x));
	CK(cuEventDestroy(e));
	CK(cuGraphDestroy(g));
}

/* A kernel naming a made-up handle, or one of another context, faults; the word it would
 * have decided on is untouched. */
static void t_fault(CUcontext other, CUgraphConditionalHandle forged)
{
	CUcontext c;
	CK(cuCtxCreate(&c, NULL, 0, 0));
	load();
	unsigned v = 1;
	void *a_set[] = { &forged, &v };
	EXPECT(st_launch1(f_setc, a_set) == CUDA_ERROR_LAUNCH_FAILED);
	CK(cuCtxDestroy(c));
	(void)other;
}

int main(void)
{
	setenv("VGPU_SIM_MEM", "64M", 1);
	setenv("VGPU_SIM_WATCHDOG_INSNS", "100000000", 1);   /* (the runaway loop's budget) */
	CUcontext ctx, other;
	CK(cuInit(0));
	CK(cuCtxCreate(&other, NULL, 0, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	load();
	t_if_default();
	t_while();
	t_refused(other);
	/* a handle of the context `other`, named by a kernel of another context */
	CUgraph g;
	CUgraphConditionalHandle ho;
	CK(cuCtxPushCurrent(other));
	CK(cuGraphCreate(&g, 0));
	CK(cuGraphConditionalHandleCreate(&ho, g, NULL, 0, 0));
	CK(cuCtxPopCurrent(NULL));
	t_fault(other, ho);
	t_fault(other, (CUgraphConditionalHandle)0x1234);
	t_fault(other, ho + 4096);
	CK(cuGraphDestroy(g));
	t_runaway(0);
	t_runaway(1);
	printf("test_sim_cond: ok\n");
	return 0;
}
