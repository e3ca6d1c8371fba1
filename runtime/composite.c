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

/* ---- batched 3D copies: each one a cuMemcpy3DAsync on the stream ---- */

/* Bytes of one element of a CUDA array (format size times channels): 0 for a format the
 * plain copies do not describe. */
static size_t array_elem(CUarray a, CUresult *r)
{
	CUDA_ARRAY3D_DESCRIPTOR d;
	size_t ch;
	if ((*r = cuArray3DGetDescriptor_v2(&d, a)) != CUDA_SUCCESS)
		return 0;
	switch (d.Format) {
	case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: ch = 1; break;
	case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: ch = 2; break;
	case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: ch = 4; break;
	default:
		*r = CUDA_ERROR_NOT_SUPPORTED;
		return 0;
	}
	return ch * d.NumChannels;
}

/* One side of a CUDA_MEMCPY3D from an operand: 0, or a CUresult. */
static CUresult operand_side(const CUmemcpy3DOperand *o, size_t elem, const CUextent3D *e, CUmemorytype *type,
			     CUdeviceptr *ptr, CUarray *arr, size_t *x, size_t *y, size_t *z, size_t *pitch,
			     size_t *height)
{
	if (o->type == CU_MEMCPY_OPERAND_TYPE_POINTER) {
		if ((o->op.ptr.rowLength && o->op.ptr.rowLength < e->width) ||
		    (o->op.ptr.layerHeight && o->op.ptr.layerHeight < e->height))
			return CUDA_ERROR_INVALID_VALUE;
		*type = CU_MEMORYTYPE_UNIFIED;   /* device or host memory: the copy tells them apart */
		*ptr = o->op.ptr.ptr;
		*pitch = (o->op.ptr.rowLength ? o->op.ptr.rowLength : e->width) * elem;
		*height = o->op.ptr.layerHeight ? o->op.ptr.layerHeight : e->height;
		return CUDA_SUCCESS;
	}
	if (o->type != CU_MEMCPY_OPERAND_TYPE_ARRAY || !o->op.array.array)
		return CUDA_ERROR_INVALID_VALUE;
	*type = CU_MEMORYTYPE_ARRAY;
	*arr = o->op.array.array;
	*x = o->op.array.offset.x * elem;
	*y = o->op.array.offset.y;
	*z = o->op.array.offset.z;
	return CUDA_SUCCESS;
}

static CUresult copy3d_batch(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *ops, size_t *failIdx, unsigned long long flags,
			     CUstream hStream)
{
	int during_call = 0;
	if (failIdx)
		*failIdx = SIZE_MAX;
	if (!numOps || !ops || flags || !hStream)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < numOps; i++) {
		const CUDA_MEMCPY3D_BATCH_OP *o = &ops[i];
		CUDA_MEMCPY3D c = { 0 };
		CUresult r = CUDA_SUCCESS;
		size_t elem = 1, se = 0, de = 0;
		if (o->src.type == CU_MEMCPY_OPERAND_TYPE_ARRAY && o->src.op.array.array)
			elem = se = array_elem(o->src.op.array.array, &r);
		if (r == CUDA_SUCCESS && o->dst.type == CU_MEMCPY_OPERAND_TYPE_ARRAY && o->dst.op.array.array)
			elem = de = array_elem(o->dst.op.array.array, &r);
		if (r == CUDA_SUCCESS && (!elem || (se && de && se != de) || !o->extent.width || !o->extent.height ||
					  !o->extent.depth || o->srcAccessOrder == CU_MEMCPY_SRC_ACCESS_ORDER_INVALID ||
					  o->srcAccessOrder > CU_MEMCPY_SRC_ACCESS_ORDER_ANY))
			r = CUDA_ERROR_INVALID_VALUE;
		if (r == CUDA_SUCCESS)
			r = operand_side(&o->src, elem, &o->extent, &c.srcMemoryType, &c.srcDevice, &c.srcArray, &c.srcXInBytes,
					 &c.srcY, &c.srcZ, &c.srcPitch, &c.srcHeight);
		if (r == CUDA_SUCCESS)
			r = operand_side(&o->dst, elem, &o->extent, &c.dstMemoryType, &c.dstDevice, &c.dstArray, &c.dstXInBytes,
					 &c.dstY, &c.dstZ, &c.dstPitch, &c.dstHeight);
		if (r == CUDA_SUCCESS) {
			c.WidthInBytes = o->extent.width * elem;
			c.Height = o->extent.height;
			c.Depth = o->extent.depth;
			r = cuMemcpy3DAsync_v2(&c, hStream);
		}
		if (r != CUDA_SUCCESS) {
			if (failIdx)
				*failIdx = i;
			return r;
		}
		during_call |= o->srcAccessOrder == CU_MEMCPY_SRC_ACCESS_ORDER_DURING_API_CALL;
	}
	/* sources read before the call returns, as promised to the caller (a stack buffer) */
	return during_call ? cuStreamSynchronize(hStream) : CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpy3DBatchAsync_v2(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, unsigned long long flags,
					 CUstream hStream)
{
	return copy3d_batch(numOps, opList, NULL, flags, hStream);
}

CUresult CUDAAPI cuMemcpy3DBatchAsync_v2_ptsz(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, unsigned long long flags,
					      CUstream hStream)
{
	return copy3d_batch(numOps, opList, NULL, flags, hStream ? hStream : CU_STREAM_PER_THREAD);
}

CUresult CUDAAPI cuMemcpy3DBatchAsync(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, size_t *failIdx,
				      unsigned long long flags, CUstream hStream)
{
	return copy3d_batch(numOps, opList, failIdx, flags, hStream);
}

CUresult CUDAAPI cuMemcpy3DBatchAsync_ptsz(size_t numOps, CUDA_MEMCPY3D_BATCH_OP *opList, size_t *failIdx,
					   unsigned long long flags, CUstream hStream)
{
	return copy3d_batch(numOps, opList, failIdx, flags, hStream ? hStream : CU_STREAM_PER_THREAD);
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
