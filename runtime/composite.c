/* SPDX-License-Identifier: MIT */
/* composite.c — driver calls that are sequences of other calls: batches, instantiation with parameters, a graph as DOT. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <stdio.h>

/*
 * Each call here does what a sequence of public calls does, in stream order (never looser
 * than the batch's own ordering hints), so libvgpu and the simulator share it and through
 * vgpu every element passes the checks of its single form.
 */

/* ---- batched copies: each copy in turn on the stream; a failure names its index ---- */

static CUresult copy_batch(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, size_t *failIdx,
			   CUstream hStream)
{
	if (!count || !dsts || !srcs || !sizes)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < count; i++) {
		CUresult r = cuMemcpyAsync(dsts[i], srcs[i], sizes[i], hStream);
		if (r != CUDA_SUCCESS) {
			if (failIdx)
				*failIdx = i;
			return r;
		}
	}
	if (failIdx)
		*failIdx = SIZE_MAX;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyBatchAsync_v2(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
				       CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, CUstream hStream)
{
	(void)attrs;       /* access-order and location hints: stream order satisfies all of them */
	(void)attrsIdxs;
	(void)numAttrs;
	return copy_batch(dsts, srcs, sizes, count, NULL, hStream);
}

CUresult CUDAAPI cuMemcpyBatchAsync_v2_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
					    CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs,
					    CUstream hStream)
{
	(void)attrs;
	(void)attrsIdxs;
	(void)numAttrs;
	return copy_batch(dsts, srcs, sizes, count, NULL, hStream ? hStream : CU_STREAM_PER_THREAD);
}

CUresult CUDAAPI cuMemcpyBatchAsync(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
				    CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, size_t *failIdx,
				    CUstream hStream)
{
	(void)attrs;
	(void)attrsIdxs;
	(void)numAttrs;
	return copy_batch(dsts, srcs, sizes, count, failIdx, hStream);
}

CUresult CUDAAPI cuMemcpyBatchAsync_ptsz(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
					 CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, size_t *failIdx,
					 CUstream hStream)
{
	(void)attrs;
	(void)attrsIdxs;
	(void)numAttrs;
	return copy_batch(dsts, srcs, sizes, count, failIdx, hStream ? hStream : CU_STREAM_PER_THREAD);
}

/* ---- batched stream memory operations ---- */

static CUresult memop_batch(CUstream s, unsigned int count, CUstreamBatchMemOpParams *ops, unsigned int flags)
{
	if (!count || !ops || flags)
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned int i = 0; i < count; i++) {
		const CUstreamBatchMemOpParams *o = &ops[i];
		CUresult r;
		switch (o->operation) {
		case CU_STREAM_MEM_OP_WAIT_VALUE_32:
			r = cuStreamWaitValue32_v2(s, o->waitValue.address, o->waitValue.value, o->waitValue.flags);
			break;
		case CU_STREAM_MEM_OP_WAIT_VALUE_64:
			r = cuStreamWaitValue64_v2(s, o->waitValue.address, o->waitValue.value64, o->waitValue.flags);
			break;
		case CU_STREAM_MEM_OP_WRITE_VALUE_32:
			r = cuStreamWriteValue32_v2(s, o->writeValue.address, o->writeValue.value, o->writeValue.flags);
			break;
		case CU_STREAM_MEM_OP_WRITE_VALUE_64:
			r = cuStreamWriteValue64_v2(s, o->writeValue.address, o->writeValue.value64,
						    o->writeValue.flags);
			break;
		case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES:
		case CU_STREAM_MEM_OP_BARRIER:
			r = CUDA_SUCCESS;   /* each operation above is already ordered and visible in turn */
			break;
		default:
			r = CUDA_ERROR_INVALID_VALUE;
			break;
		}
		if (r != CUDA_SUCCESS)
			return r;
	}
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamBatchMemOp_v2(CUstream stream, unsigned int count, CUstreamBatchMemOpParams *paramArray,
				       unsigned int flags)
{
	return memop_batch(stream, count, paramArray, flags);
}

CUresult CUDAAPI cuStreamBatchMemOp_v2_ptsz(CUstream stream, unsigned int count, CUstreamBatchMemOpParams *paramArray,
					    unsigned int flags)
{
	return memop_batch(stream ? stream : CU_STREAM_PER_THREAD, count, paramArray, flags);
}

CUresult CUDAAPI cuStreamBatchMemOp(CUstream stream, unsigned int count, CUstreamBatchMemOpParams *paramArray,
				    unsigned int flags)
{
	return memop_batch(stream, count, paramArray, flags);
}

CUresult CUDAAPI cuStreamBatchMemOp_ptsz(CUstream stream, unsigned int count, CUstreamBatchMemOpParams *paramArray,
					 unsigned int flags)
{
	return memop_batch(stream ? stream : CU_STREAM_PER_THREAD, count, paramArray, flags);
}

/* ---- instantiation with parameters: instantiate, then upload where asked ---- */

static CUresult instantiate_params(CUgraphExec *exec, CUgraph g, CUDA_GRAPH_INSTANTIATE_PARAMS *p, int ptsz)
{
	CUresult r;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	p->hErrNode_out = NULL;
	r = cuGraphInstantiateWithFlags(exec, g, p->flags & ~(cuuint64_t)CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD);
	p->result_out = r == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
	if (r == CUDA_SUCCESS && (p->flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD))
		r = ptsz ? cuGraphUpload_ptsz(*exec, p->hUploadStream) : cuGraphUpload(*exec, p->hUploadStream);
	return r;
}

CUresult CUDAAPI cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
					      CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
	return instantiate_params(phGraphExec, hGraph, instantiateParams, 0);
}

CUresult CUDAAPI cuGraphInstantiateWithParams_ptsz(CUgraphExec *phGraphExec, CUgraph hGraph,
						   CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams)
{
	return instantiate_params(phGraphExec, hGraph, instantiateParams, 1);
}

/* ---- a graph as a DOT file, written where the program runs ---- */

static const char *type_name(CUgraphNodeType t)
{
	switch (t) {
	case CU_GRAPH_NODE_TYPE_KERNEL: return "kernel";
	case CU_GRAPH_NODE_TYPE_MEMCPY: return "memcpy";
	case CU_GRAPH_NODE_TYPE_MEMSET: return "memset";
	case CU_GRAPH_NODE_TYPE_HOST: return "host";
	case CU_GRAPH_NODE_TYPE_GRAPH: return "graph";
	case CU_GRAPH_NODE_TYPE_EMPTY: return "empty";
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT: return "wait_event";
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD: return "event_record";
	default: return "node";
	}
}

/* Nodes are named by their index in cuGraphGetNodes' order. */
static long node_index(const CUgraphNode *nodes, size_t n, CUgraphNode x)
{
	for (size_t i = 0; i < n; i++)
		if (nodes[i] == x)
			return (long)i;
	return -1;
}

CUresult CUDAAPI cuGraphDebugDotPrint(CUgraph hGraph, const char *path, unsigned int flags)
{
	/* (1024 is the most handles one call carries through vgpu; a larger graph is refused) */
	CUgraphNode nodes[1024], from[1024], to[1024];
	size_t n = 0, e = 0;
	CUresult r;
	FILE *f;

	(void)flags;   /* the level of detail: only the structure is printed */
	if (!path)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = cuGraphGetNodes(hGraph, NULL, &n)) != CUDA_SUCCESS ||
	    (r = cuGraphGetEdges_v2(hGraph, NULL, NULL, NULL, &e)) != CUDA_SUCCESS)
		return r;
	if (n > 1024 || e > 1024)
		return CUDA_ERROR_NOT_SUPPORTED;
	if ((n && (r = cuGraphGetNodes(hGraph, nodes, &n)) != CUDA_SUCCESS) ||
	    (e && (r = cuGraphGetEdges_v2(hGraph, from, to, NULL, &e)) != CUDA_SUCCESS))
		return r;
	if (!(f = fopen(path, "w")))
		return CUDA_ERROR_OPERATING_SYSTEM;
	fprintf(f, "digraph cuda_graph {\n");
	for (size_t i = 0; i < n; i++) {
		CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
		cuGraphNodeGetType(nodes[i], &t);
		fprintf(f, "  n%zu [label=\"%zu: %s\"];\n", i, i, type_name(t));
	}
	for (size_t i = 0; i < e; i++)
		fprintf(f, "  n%ld -> n%ld;\n", node_index(nodes, n, from[i]), node_index(nodes, n, to[i]));
	fprintf(f, "}\n");
	return fclose(f) == 0 ? CUDA_SUCCESS : CUDA_ERROR_OPERATING_SYSTEM;
}
