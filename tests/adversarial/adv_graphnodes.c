/* SPDX-License-Identifier: MIT */
/* adv_graphnodes.c — kernel node parameters read and replaced by a hostile zone, and graph node handles outliving their graph. */
#include "adv.h"

#include "custom_wire.h"
#include "vgpu_ops.h"

/*
 * Contract (runtime/custom_wire.h, proxy/custom_calls.c knode_*): a kernel node's read gives
 * the zone its own handle of the node's function, the shape, and exactly the parameters'
 * bytes at their offsets, the rest of the buffer zero (no byte of the worker's memory); a
 * node, function or executable graph of another zone is INVALID_HANDLE; packed parameters
 * whose layout points outside them are INVALID_VALUE and change nothing. A graph's node
 * handles end with the graph (cuGraphDestroy) or with their context: using one afterwards is
 * INVALID_HANDLE and never reaches the freed node. A copy node's copy read back names device
 * memory only (no host address, array or reserved field of the worker); a new copy must be
 * device boxes inside the zone's own allocations.
 */

static const struct vgpu_call_desc launch =
	VGPU_WIRE_DESC("cuLaunchKernel", VGPU_OP_cuLaunchKernel, VGPU_CALLF_ASYNC | VGPU_CALLF_CUSTOM,
		       vgpu_wire_launch_args, VGPU_LW_NARGS);
static const struct vgpu_call_desc cget =
	VGPU_WIRE_DESC("cuGraphMemcpyNodeGetParams", VGPU_OP_cuGraphMemcpyNodeGetParams, VGPU_CALLF_CUSTOM,
		       vgpu_wire_mcnode_get_args, VGPU_CGW_NARGS);
static const struct vgpu_call_desc cset =
	VGPU_WIRE_DESC("cuGraphMemcpyNodeSetParams", VGPU_OP_cuGraphMemcpyNodeSetParams, VGPU_CALLF_CUSTOM,
		       vgpu_wire_mcnode_set_args, VGPU_CSW_NARGS);
static const struct vgpu_call_desc cxset =
	VGPU_WIRE_DESC("cuGraphExecMemcpyNodeSetParams", VGPU_OP_cuGraphExecMemcpyNodeSetParams, VGPU_CALLF_CUSTOM,
		       vgpu_wire_mcnode_set_args, VGPU_CSW_NARGS);
static const struct vgpu_call_desc capinfo =
	VGPU_WIRE_DESC("cuStreamGetCaptureInfo_v3", VGPU_OP_cuStreamGetCaptureInfo_v3, VGPU_CALLF_CUSTOM,
		       vgpu_wire_capture_info_args, VGPU_CIW_NARGS);
static const struct vgpu_call_desc kget =
	VGPU_WIRE_DESC("cuGraphKernelNodeGetParams_v2", VGPU_OP_cuGraphKernelNodeGetParams_v2, VGPU_CALLF_CUSTOM,
		       vgpu_wire_knode_get_args, VGPU_KGW_NARGS);
static const struct vgpu_call_desc kset =
	VGPU_WIRE_DESC("cuGraphKernelNodeSetParams_v2", VGPU_OP_cuGraphKernelNodeSetParams_v2, VGPU_CALLF_CUSTOM,
		       vgpu_wire_knode_set_args, VGPU_KSW_NARGS);
static const struct vgpu_call_desc kxset =
	VGPU_WIRE_DESC("cuGraphExecKernelNodeSetParams_v2", VGPU_OP_cuGraphExecKernelNodeSetParams_v2,
		       VGPU_CALLF_CUSTOM, vgpu_wire_knode_set_args, VGPU_KSW_NARGS);

/* put(p, v): *p = v */
static const char ptx[] =
	".version 7.0\n.target sm_75\n.address_size 64\n"
	".visible .entry put(.param .u64 p, .param .u32 v)\n{\n.reg .b64 %rd<3>;\n.reg .b32 %r<2>;\n"
	" ld.param.u64 %rd1, [p];\n cvta.to.global.u64 %rd2, %rd1;\n ld.param.u32 %r1, [v];\n"
	" st.global.u32 [%rd2], %r1;\n ret;\n}\n";

struct zk {
	struct adv_zone z;
	CUcontext ctx;
	CUfunction f;
	CUdeviceptr d;
	CUstream s;
	CUgraph g;
	CUgraphNode node;
	CUgraphExec ge;
};

struct packed {
	CUdeviceptr p;
	uint32_t v;
};

/* One zone with put() captured into a graph as its only node, and the graph instantiated. */
static void setup(const struct ptest_proxy *p, struct zk *k, const char *name, uint32_t v)
{
	CHECK_EQ(adv_open(p, &k->z, name, NULL), 0);
	CHECK_EQ(adv_init_ctx(&k->z, &k->ctx), CUDA_SUCCESS);
	CHECK_EQ(adv_ptx_function(&k->z, ptx, sizeof(ptx), "put", &k->f), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&k->z, &k->d, 64), CUDA_SUCCESS);
	CUstream *ps = &k->s;
	unsigned sfl = CU_STREAM_NON_BLOCKING, mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
	void *sa[] = { &ps, &sfl };
	CHECK_EQ(adv_call(&k->z, &vgpu_call_cuStreamCreate, sa), CUDA_SUCCESS);
	void *ba[] = { &k->s, &mode };
	CHECK_EQ(adv_call(&k->z, &vgpu_call_cuStreamBeginCapture_v2, ba), CUDA_SUCCESS);
	struct packed pk = { k->d, v };
	uint32_t lay[4] = { 0, 8, 8, 4 };
	unsigned one = 1, shm = 0, np = 2, na = 0, kind = VGPU_LAUNCH_PLAIN, pb = 12;
	const void *params = &pk, *attrs = NULL;
	const uint32_t *playout = lay;
	void *av[VGPU_LW_NARGS] = { &k->f, &one, &one, &one, &one, &one, &one, &shm, &k->s, &params, &pb,
				    &playout, &np, &attrs, &na, &kind };
	CHECK_EQ(adv_call(&k->z, &launch, av), 0);
	CUgraph *pg = &k->g;
	void *ea[] = { &k->s, &pg };
	CHECK_EQ(adv_call(&k->z, &vgpu_call_cuStreamEndCapture, ea), CUDA_SUCCESS);
	CUgraphNode *pn = &k->node;
	size_t nn = 1, *pnn = &nn;
	void *na2[] = { &k->g, &pn, &pnn };
	CHECK_EQ(adv_call(&k->z, &vgpu_call_cuGraphGetNodes, na2), CUDA_SUCCESS);
	CHECK_EQ(nn, 1);
	CUgraphExec *pge = &k->ge;
	unsigned long long gfl = 0;
	void *ia[] = { &pge, &k->g, &gfl };
	CHECK_EQ(adv_call(&k->z, &vgpu_call_cuGraphInstantiateWithFlags, ia), CUDA_SUCCESS);
}

static long get(struct zk *k, CUgraphNode node, uint64_t *fid, struct vgpu_knode_shape *sh, uint8_t *buf,
		uint32_t cap)
{
	void *av[VGPU_KGW_NARGS] = { [VGPU_KGW_NODE] = &node, [VGPU_KGW_FUNC] = &fid, [VGPU_KGW_SHAPE] = &sh,
				     [VGPU_KGW_PARAMS] = &buf, [VGPU_KGW_CAP] = &cap };
	return adv_call(&k->z, &kget, av);
}

static long set(struct zk *k, CUgraphExec exec, CUgraphNode node, CUfunction f, const struct packed *pk,
		const uint32_t *lay, uint32_t np, uint32_t pb)
{
	unsigned one = 1, shm = 0;
	const void *params = pk;
	void *av[VGPU_KSW_NARGS] = {
		[VGPU_KSW_EXEC] = &exec, [VGPU_KSW_NODE] = &node, [VGPU_KSW_F] = &f, [VGPU_KSW_GX] = &one,
		[VGPU_KSW_GY] = &one, [VGPU_KSW_GZ] = &one, [VGPU_KSW_BX] = &one, [VGPU_KSW_BY] = &one,
		[VGPU_KSW_BZ] = &one, [VGPU_KSW_SHMEM] = &shm, [VGPU_KSW_PARAMS] = &params, [VGPU_KSW_PARAM_BYTES] = &pb,
		[VGPU_KSW_LAYOUT] = &lay, [VGPU_KSW_NPARAMS] = &np,
	};
	return adv_call(&k->z, exec ? &kxset : &kset, av);
}

/* Launch the executable graph, wait, and read the first word of the zone's buffer. */
static uint32_t run(struct zk *k)
{
	uint32_t w = 0;
	void *la[] = { &k->ge, &k->s };
	CHECK_EQ(adv_call(&k->z, &vgpu_call_cuGraphLaunch, la), CUDA_SUCCESS);
	void *ya[] = { &k->s };
	CHECK_EQ(adv_call(&k->z, &vgpu_call_cuStreamSynchronize, ya), CUDA_SUCCESS);
	CHECK_EQ(adv_dtoh(&k->z, &w, k->d, 4), CUDA_SUCCESS);
	return w;
}

int main(void)
{
	struct ptest_proxy p;
	static struct zk a, b;
	static uint8_t buf[VGPU_INLINE_MAX];
	static const uint32_t lay[4] = { 0, 8, 8, 4 };
	uint64_t fid = 0;
	struct vgpu_knode_shape sh;

	if (adv_start(&p, NULL) < 0)
		return 1;
	setup(&p, &a, "nodes-a", 0x1111);
	setup(&p, &b, "nodes-b", 0x2222);
	CHECK_EQ(run(&a), 0x1111);

	/* The read: the zone's own function handle, the shape, the bytes, zero beyond them. */
	memset(buf, 0xa5, sizeof(buf));
	CHECK_EQ(get(&a, a.node, &fid, &sh, buf, sizeof(buf)), CUDA_SUCCESS);
	CHECK_EQ(fid, (uint64_t)(uintptr_t)a.f);
	CHECK_EQ(sh.param_bytes, 12);
	CHECK(sh.grid[0] == 1 && sh.block[0] == 1 && sh.shmem == 0);
	struct packed back;
	memcpy(&back, buf, 12);
	CHECK_EQ(back.p, a.d);
	CHECK_EQ(back.v, 0x1111);
	int dirty = 0;
	for (size_t i = 12; i < sizeof(buf); i++)
		dirty |= buf[i];
	CHECK_EQ(dirty, 0);
	/* cap 0: the size only; cap 4 (too small): the size, and nothing written */
	CHECK_EQ(get(&a, a.node, &fid, &sh, NULL, 0), CUDA_SUCCESS);
	CHECK_EQ(sh.param_bytes, 12);
	memset(buf, 0xa5, 4);
	CHECK_EQ(get(&a, a.node, &fid, &sh, buf, 4), CUDA_SUCCESS);
	CHECK_EQ(sh.param_bytes, 12);
	CHECK_EQ(buf[0], 0);   /* zeroed, not the parameter */

	/* Another zone's node, function or executable graph: not this zone's handles. */
	CHECK_EQ(get(&a, b.node, &fid, &sh, buf, sizeof(buf)), CUDA_ERROR_INVALID_HANDLE);
	struct packed mine = { a.d, 0x3333 };
	CHECK_EQ(set(&a, NULL, b.node, a.f, &mine, lay, 2, 12), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(set(&a, NULL, a.node, b.f, &mine, lay, 2, 12), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(set(&a, b.ge, a.node, a.f, &mine, lay, 2, 12), CUDA_ERROR_INVALID_HANDLE);
	/* A layout that points past the packed bytes changes nothing. */
	static const uint32_t wild[4] = { 0, 8, 4096, 4 }, huge[4] = { 0, 8, 8, 0xfffffff8u };
	CHECK_EQ(set(&a, NULL, a.node, a.f, &mine, wild, 2, 12), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(set(&a, a.ge, a.node, a.f, &mine, huge, 2, 12), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(run(&a), 0x1111);
	CHECK_EQ(run(&b), 0x2222);
	/* More parameters than any kernel has, a null function: refused before the driver. */
	CHECK_EQ(set(&a, NULL, a.node, a.f, &mine, lay, VGPU_KPARAM_COUNT_MAX + 1, 12) != CUDA_SUCCESS, 1);
	CHECK_EQ(set(&a, NULL, a.node, NULL, &mine, lay, 2, 12), CUDA_ERROR_INVALID_VALUE);

	/* The executable graph's node changed: it writes the new value, the graph's node keeps the old. */
	CHECK_EQ(set(&a, a.ge, a.node, a.f, &mine, lay, 2, 12), CUDA_SUCCESS);
	CHECK_EQ(run(&a), 0x3333);
	CHECK_EQ(get(&a, a.node, &fid, &sh, buf, sizeof(buf)), CUDA_SUCCESS);
	memcpy(&back, buf, 12);
	CHECK_EQ(back.v, 0x1111);
	/* The graph's node changed: read back as set. */
	struct packed again = { a.d, 0x4444 };
	CHECK_EQ(set(&a, NULL, a.node, a.f, &again, lay, 2, 12), CUDA_SUCCESS);
	CHECK_EQ(get(&a, a.node, &fid, &sh, buf, sizeof(buf)), CUDA_SUCCESS);
	memcpy(&back, buf, 12);
	CHECK_EQ(back.v, 0x4444);
	CHECK_EQ(run(&b), 0x2222);

	/* Copy nodes: a device copy captured, then read and pointed at other memory. */
	{
		CUdeviceptr src = 0, dst = 0;
		CHECK_EQ(adv_alloc(&a.z, &src, 256), CUDA_SUCCESS);
		CHECK_EQ(adv_alloc(&a.z, &dst, 256), CUDA_SUCCESS);
		unsigned mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
		void *ba[] = { &a.s, &mode };
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuStreamBeginCapture_v2, ba), CUDA_SUCCESS);
		size_t cn = 256;
		void *ca[] = { &dst, &src, &cn, &a.s };
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuMemcpyDtoDAsync_v2, ca), CUDA_SUCCESS);
		CUgraph cg = NULL, *pcg = &cg;
		void *ea[] = { &a.s, &pcg };
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuStreamEndCapture, ea), CUDA_SUCCESS);
		CUgraphNode cnode = NULL, *pcn = &cnode;
		size_t nn = 1, *pnn = &nn;
		void *gn[] = { &cg, &pcn, &pnn };
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuGraphGetNodes, gn), CUDA_SUCCESS);
		CUDA_MEMCPY3D c, *pc = &c;
		memset(&c, 0xa5, sizeof(c));
		void *gv[VGPU_CGW_NARGS] = { [VGPU_CGW_NODE] = &cnode, [VGPU_CGW_COPY] = &pc };
		CHECK_EQ(adv_call(&a.z, &cget, gv), CUDA_SUCCESS);
		CHECK(c.srcDevice == src && c.dstDevice == dst && c.WidthInBytes == 256);
		CHECK(!c.srcHost && !c.dstHost && !c.srcArray && !c.dstArray && !c.reserved0 && !c.reserved1);
		void *gb[VGPU_CGW_NARGS] = { [VGPU_CGW_NODE] = &cnode, [VGPU_CGW_COPY] = &pc };
		CHECK_EQ(adv_call(&b.z, &cget, gb), CUDA_ERROR_INVALID_HANDLE);
		CUgraphExec none = NULL;
		CUcontext nctx = NULL;
		const CUDA_MEMCPY3D *pk = &c;
		void *sv[VGPU_CSW_NARGS] = { [VGPU_CSW_EXEC] = &none, [VGPU_CSW_NODE] = &cnode, [VGPU_CSW_COPY] = &pk,
					     [VGPU_CSW_CTX] = &nctx };
		/* into the other zone's memory, past the allocation, from host memory, from an array */
		c.dstDevice = b.d;
		CHECK_EQ(adv_call(&a.z, &cset, sv), CUDA_ERROR_INVALID_VALUE);
		c.dstDevice = dst;
		c.WidthInBytes = 257;
		CHECK_EQ(adv_call(&a.z, &cset, sv), CUDA_ERROR_INVALID_VALUE);
		c.WidthInBytes = 256;
		c.srcMemoryType = CU_MEMORYTYPE_HOST;
		c.srcHost = &c;
		CHECK_EQ(adv_call(&a.z, &cset, sv), CUDA_ERROR_INVALID_VALUE);
		c.srcMemoryType = CU_MEMORYTYPE_ARRAY;
		CHECK_EQ(adv_call(&a.z, &cset, sv), CUDA_ERROR_INVALID_VALUE);
		c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
		c.srcHost = NULL;
		c.srcY = 1;                /* a pitched box whose second row leaves the allocation */
		c.srcPitch = 256;
		c.Height = 2;
		CHECK_EQ(adv_call(&a.z, &cset, sv), CUDA_ERROR_INVALID_VALUE);
		c.srcY = 0;
		c.srcPitch = 0;
		c.Height = 1;
		/* another zone's executable graph, with this zone's node */
		void *xv[VGPU_CSW_NARGS] = { [VGPU_CSW_EXEC] = &b.ge, [VGPU_CSW_NODE] = &cnode, [VGPU_CSW_COPY] = &pk,
					     [VGPU_CSW_CTX] = &nctx };
		CHECK_EQ(adv_call(&a.z, &cxset, xv), CUDA_ERROR_INVALID_HANDLE);
		/* within the zone's own memory: accepted, and read back */
		c.srcDevice = dst;
		c.dstDevice = src;
		CHECK_EQ(adv_call(&a.z, &cset, sv), CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a.z, &cget, gv), CUDA_SUCCESS);
		CHECK(c.srcDevice == dst && c.dstDevice == src);
		void *dg[] = { &cg };
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuGraphDestroy, dg), CUDA_SUCCESS);
	}

	/* A node handle after its graph is destroyed: refused, never the freed node. */
	void *da[] = { &a.g };
	CHECK_EQ(adv_call(&a.z, &vgpu_call_cuGraphDestroy, da), CUDA_SUCCESS);
	CUgraphNodeType t, *pt = &t;
	void *ta[] = { &a.node, &pt };
	CHECK_EQ(adv_call(&a.z, &vgpu_call_cuGraphNodeGetType, ta), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(get(&a, a.node, &fid, &sh, buf, sizeof(buf)), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(set(&a, NULL, a.node, a.f, &mine, lay, 2, 12), CUDA_ERROR_INVALID_HANDLE);
	void *xa[] = { &a.node };
	CHECK_EQ(adv_call(&a.z, &vgpu_call_cuGraphDestroyNode, xa), CUDA_ERROR_INVALID_HANDLE);
	/* the executable graph is its own copy: it still runs */
	CHECK_EQ(run(&a), 0x3333);

	/* A capture that fails takes its graph with it: the graph and node handles the zone was
	 * given of it meanwhile end too. (A free of ordinary memory cannot be captured here, so
	 * the capture ends in error.) */
	{
		unsigned mode = CU_STREAM_CAPTURE_MODE_RELAXED;
		void *ba[] = { &a.s, &mode };
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuStreamBeginCapture_v2, ba), CUDA_SUCCESS);
		struct packed pk = { a.d, 0x5555 };
		uint32_t pbytes = 12, np = 2, na = 0, kind = VGPU_LAUNCH_PLAIN;
		unsigned one = 1, shm = 0;
		const void *params = &pk, *attrs = NULL;
		const uint32_t *playout = lay;
		void *av[VGPU_LW_NARGS] = { &a.f, &one, &one, &one, &one, &one, &one, &shm, &a.s, &params, &pbytes,
					    &playout, &np, &attrs, &na, &kind };
		CHECK_EQ(adv_call(&a.z, &launch, av), 0);
		uint32_t st = 0, *pst = &st;
		uint64_t cid = 0, *pcid = &cid, nd = 4, *pnd = &nd;
		CUgraph cg = NULL, *pcg = &cg;
		CUgraphNode deps[4] = { 0 }, *pdeps = deps;
		CUgraphEdgeData *pedges = NULL;
		void *ci[VGPU_CIW_NARGS] = { [VGPU_CIW_STREAM] = &a.s, [VGPU_CIW_STATUS] = &pst, [VGPU_CIW_ID] = &pcid,
					     [VGPU_CIW_GRAPH] = &pcg, [VGPU_CIW_DEPS] = &pdeps, [VGPU_CIW_EDGES] = &pedges,
					     [VGPU_CIW_NDEPS] = &pnd };
		CHECK_EQ(adv_call(&a.z, &capinfo, ci), CUDA_SUCCESS);
		CHECK_EQ(nd, 1);
		CHECK(cg != NULL && deps[0] != NULL);
		void *tc[] = { &deps[0], &pt };
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuGraphNodeGetType, tc), CUDA_SUCCESS);
		CUdeviceptr extra = 0;
		CHECK_EQ(adv_alloc(&a.z, &extra, 64), CUDA_SUCCESS);
		void *fa[] = { &extra, &a.s };
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuMemFreeAsync, fa), CUDA_SUCCESS);
		CUgraph eg = NULL, *peg = &eg;
		void *ea[] = { &a.s, &peg };
		CHECK(adv_call(&a.z, &vgpu_call_cuStreamEndCapture, ea) != CUDA_SUCCESS);
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuGraphNodeGetType, tc), CUDA_ERROR_INVALID_HANDLE);
		void *dg[] = { &cg };
		CHECK_EQ(adv_call(&a.z, &vgpu_call_cuGraphDestroy, dg), CUDA_ERROR_INVALID_HANDLE);
		CHECK_EQ(run(&a), 0x3333);
	}

	/* Node handles of a reset context's graph end with it. */
	CUdevice dev = 0;
	void *cd[] = { &dev };
	CHECK_EQ(adv_call(&b.z, &vgpu_call_cuDevicePrimaryCtxReset_v2, cd), CUDA_SUCCESS);
	void *tb[] = { &b.node, &pt };
	CHECK_EQ(adv_call(&b.z, &vgpu_call_cuGraphNodeGetType, tb), CUDA_ERROR_INVALID_HANDLE);

	CHECK(adv_alive(&a.z));
	CHECK(adv_alive(&b.z));
	vgpu_chan_close(a.z.ch);
	vgpu_chan_close(b.z.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
