/* SPDX-License-Identifier: MIT */
/* graphnodes.c — kernel, memset, memcpy and host graph nodes made by hand, as the same work captured into the graph; the generic node calls. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <string.h>

/*
 * A kernel, memset or memcpy node added by hand is the node that capturing the same launch,
 * memset or copy into the graph after the same dependencies makes. Built this way over public
 * calls, the node's work goes through every check its stream form has (through vgpu: the
 * launch's parameter packing and the copies' and memsets' range checks in the proxy), in
 * libvgpu and in the simulator alike. The capture runs on a stream of the calling thread's
 * current context, made and destroyed per node, in relaxed mode so that a program's own
 * capture elsewhere is not disturbed.
 */

#include "graphnodes.h"

CUresult vgpu_graph_add_by_capture(CUgraphNode *out, CUgraph g, const CUgraphNode *deps, size_t ndeps,
				   vgpu_node_work work, const void *arg)
{
	CUstream s = NULL;
	CUgraph same = NULL;
	CUstreamCaptureStatus st;
	const CUgraphNode *frontier = NULL;
	size_t n = 0;
	CUresult r, r2;

	if (!out || !g || (ndeps && !deps))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS)
		return r;
	r = cuStreamBeginCaptureToGraph(s, g, deps, NULL, ndeps, CU_STREAM_CAPTURE_MODE_RELAXED);
	if (r == CUDA_SUCCESS) {
		r = work(s, arg);
		if (r == CUDA_SUCCESS)
			r = cuStreamGetCaptureInfo_v3(s, &st, NULL, NULL, &frontier, NULL, &n);
		/* the new node is the capture's only frontier */
		if (r == CUDA_SUCCESS && (n != 1 || !frontier))
			r = CUDA_ERROR_UNKNOWN;
		if (r == CUDA_SUCCESS)
			*out = frontier[0];
		r2 = cuStreamEndCapture(s, &same);
		if (r == CUDA_SUCCESS)
			r = r2;
	}
	cuStreamDestroy_v2(s);
	return r;
}

struct kernel_work {
	CUfunction f;
	unsigned g[3], b[3], shmem;
	void **params, **extra;
};

static CUresult launch_work(CUstream s, const void *arg)
{
	const struct kernel_work *k = arg;
	return cuLaunchKernel(k->f, k->g[0], k->g[1], k->g[2], k->b[0], k->b[1], k->b[2], k->shmem, s, k->params,
			      k->extra);
}

CUresult CUDAAPI cuGraphAddKernelNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
					 size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS *p)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	struct kernel_work k = { p->func ? p->func : (CUfunction)p->kern, { p->gridDimX, p->gridDimY, p->gridDimZ },
				 { p->blockDimX, p->blockDimY, p->blockDimZ }, p->sharedMemBytes, p->kernelParams,
				 p->extra };
	return vgpu_graph_add_by_capture(phGraphNode, hGraph, dependencies, numDependencies, launch_work, &k);
}

/* The CUDA 10-11 form: the same without kern and ctx. */
CUresult CUDAAPI cuGraphAddKernelNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
				      size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	CUDA_KERNEL_NODE_PARAMS v2;
	memset(&v2, 0, sizeof(v2));
	memcpy(&v2, p, sizeof(*p));
	return cuGraphAddKernelNode_v2(phGraphNode, hGraph, dependencies, numDependencies, &v2);
}

static CUresult memset_work(CUstream s, const void *arg)
{
	const CUDA_MEMSET_NODE_PARAMS *m = arg;
	size_t pitch = m->height > 1 ? m->pitch : m->width * m->elementSize;
	switch (m->elementSize) {
	case 1:
		return cuMemsetD2D8Async(m->dst, pitch, (unsigned char)m->value, m->width, m->height, s);
	case 2:
		return cuMemsetD2D16Async(m->dst, pitch, (unsigned short)m->value, m->width, m->height, s);
	case 4:
		return cuMemsetD2D32Async(m->dst, pitch, m->value, m->width, m->height, s);
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult CUDAAPI cuGraphAddMemsetNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
				      size_t numDependencies, const CUDA_MEMSET_NODE_PARAMS *memsetParams,
				      CUcontext ctx)
{
	(void)ctx;   /* the node runs in the current context, which must be ctx */
	if (!memsetParams)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_graph_add_by_capture(phGraphNode, hGraph, dependencies, numDependencies, memset_work, memsetParams);
}

static CUresult memcpy_work(CUstream s, const void *arg)
{
	return cuMemcpy3DAsync_v2((const CUDA_MEMCPY3D *)arg, s);
}

CUresult CUDAAPI cuGraphAddMemcpyNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
				      size_t numDependencies, const CUDA_MEMCPY3D *copyParams, CUcontext ctx)
{
	(void)ctx;
	if (!copyParams)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_graph_add_by_capture(phGraphNode, hGraph, dependencies, numDependencies, memcpy_work, copyParams);
}

/* A v3 kernel node's parameters as the v2 structure (the same fields, in the same order). */
static CUDA_KERNEL_NODE_PARAMS kernel_v2(const CUDA_KERNEL_NODE_PARAMS_v3 *p)
{
	CUDA_KERNEL_NODE_PARAMS k;
	memcpy(&k, p, sizeof(k));
	return k;
}

static CUDA_MEMSET_NODE_PARAMS memset_v1(const CUDA_MEMSET_NODE_PARAMS_v2 *p)
{
	return (CUDA_MEMSET_NODE_PARAMS){ p->dst, p->pitch, p->value, p->elementSize, p->width, p->height };
}

/* A graph host node made by hand: the same host function captured into the graph. (Its
 * parameters are read and changed by the backend's own calls: the simulator's, or libvgpu's
 * over the worker's records.) */
static CUresult host_work(CUstream s, const void *arg)
{
	const CUDA_HOST_NODE_PARAMS *p = arg;
	return cuLaunchHostFunc(s, p->fn, p->userData);
}

CUresult CUDAAPI cuGraphAddHostNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
				    size_t numDependencies, const CUDA_HOST_NODE_PARAMS *nodeParams)
{
	if (!phGraphNode || !nodeParams || !nodeParams->fn)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_graph_add_by_capture(phGraphNode, hGraph, dependencies, numDependencies, host_work, nodeParams);
}

/* The generic form, for the node types made by hand here or remoted as calls of their own. */
CUresult CUDAAPI cuGraphAddNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
				   const CUgraphEdgeData *dependencyData, size_t numDependencies,
				   CUgraphNodeParams *p)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; dependencyData && i < numDependencies; i++)
		if (dependencyData[i].from_port || dependencyData[i].to_port || dependencyData[i].type)
			return CUDA_ERROR_NOT_SUPPORTED;
	switch (p->type) {
	case CU_GRAPH_NODE_TYPE_KERNEL: {
		CUDA_KERNEL_NODE_PARAMS k = kernel_v2(&p->kernel);
		return cuGraphAddKernelNode_v2(phGraphNode, hGraph, dependencies, numDependencies, &k);
	}
	case CU_GRAPH_NODE_TYPE_MEMSET: {
		CUDA_MEMSET_NODE_PARAMS m = memset_v1(&p->memset);
		return cuGraphAddMemsetNode(phGraphNode, hGraph, dependencies, numDependencies, &m, p->memset.ctx);
	}
	case CU_GRAPH_NODE_TYPE_MEMCPY:
		return cuGraphAddMemcpyNode(phGraphNode, hGraph, dependencies, numDependencies, &p->memcpy.copyParams,
					    p->memcpy.copyCtx);
	case CU_GRAPH_NODE_TYPE_EMPTY:
		return cuGraphAddEmptyNode(phGraphNode, hGraph, dependencies, numDependencies);
	case CU_GRAPH_NODE_TYPE_GRAPH:
		return cuGraphAddChildGraphNode(phGraphNode, hGraph, dependencies, numDependencies, p->graph.graph);
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
		return cuGraphAddEventRecordNode(phGraphNode, hGraph, dependencies, numDependencies,
						 p->eventRecord.event);
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
		return cuGraphAddEventWaitNode(phGraphNode, hGraph, dependencies, numDependencies, p->eventWait.event);
	case CU_GRAPH_NODE_TYPE_MEM_ALLOC: {
		/* the v2 parameters are the v1 fields; the allocation's address comes back in them */
		CUDA_MEM_ALLOC_NODE_PARAMS a;
		memcpy(&a, &p->alloc, sizeof(a));
		CUresult r = cuGraphAddMemAllocNode(phGraphNode, hGraph, dependencies, numDependencies, &a);
		if (r == CUDA_SUCCESS)
			p->alloc.dptr = a.dptr;
		return r;
	}
	case CU_GRAPH_NODE_TYPE_MEM_FREE:
		return cuGraphAddMemFreeNode(phGraphNode, hGraph, dependencies, numDependencies, p->free.dptr);
	case CU_GRAPH_NODE_TYPE_HOST: {
		CUDA_HOST_NODE_PARAMS h = { p->host.fn, p->host.userData };
		return cuGraphAddHostNode(phGraphNode, hGraph, dependencies, numDependencies, &h);
	}
	case CU_GRAPH_NODE_TYPE_CONDITIONAL:
		return vgpu_graph_add_conditional(phGraphNode, hGraph, dependencies, numDependencies, &p->conditional);
	default:
		return CUDA_ERROR_NOT_SUPPORTED;
	}
}

CUresult CUDAAPI cuGraphAddNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
				size_t numDependencies, CUgraphNodeParams *nodeParams)
{
	return cuGraphAddNode_v2(phGraphNode, hGraph, dependencies, NULL, numDependencies, nodeParams);
}

/* The generic forms of the per-type parameter calls, in a graph (x NULL) or in an executable
 * graph: the node's type must be the one named. */
static CUresult node_set(CUgraphExec x, CUgraphNode h, CUgraphNodeParams *p)
{
	CUgraphNodeType t;
	CUresult r;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = cuGraphNodeGetType(h, &t)) != CUDA_SUCCESS)
		return r;
	if (t != p->type)
		return CUDA_ERROR_INVALID_VALUE;
	switch (p->type) {
	case CU_GRAPH_NODE_TYPE_KERNEL: {
		CUDA_KERNEL_NODE_PARAMS k = kernel_v2(&p->kernel);
		return x ? cuGraphExecKernelNodeSetParams_v2(x, h, &k) : cuGraphKernelNodeSetParams_v2(h, &k);
	}
	case CU_GRAPH_NODE_TYPE_MEMSET: {
		CUDA_MEMSET_NODE_PARAMS m = memset_v1(&p->memset);
		return x ? cuGraphExecMemsetNodeSetParams(x, h, &m, p->memset.ctx) : cuGraphMemsetNodeSetParams(h, &m);
	}
	case CU_GRAPH_NODE_TYPE_MEMCPY:
		return x ? cuGraphExecMemcpyNodeSetParams(x, h, &p->memcpy.copyParams, p->memcpy.copyCtx)
			 : cuGraphMemcpyNodeSetParams(h, &p->memcpy.copyParams);
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
		return x ? cuGraphExecEventRecordNodeSetEvent(x, h, p->eventRecord.event)
			 : cuGraphEventRecordNodeSetEvent(h, p->eventRecord.event);
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
		return x ? cuGraphExecEventWaitNodeSetEvent(x, h, p->eventWait.event)
			 : cuGraphEventWaitNodeSetEvent(h, p->eventWait.event);
	case CU_GRAPH_NODE_TYPE_HOST: {
		CUDA_HOST_NODE_PARAMS hp = { p->host.fn, p->host.userData };
		return x ? cuGraphExecHostNodeSetParams(x, h, &hp) : cuGraphHostNodeSetParams(h, &hp);
	}
	case CU_GRAPH_NODE_TYPE_GRAPH:   /* a child graph node: only in an executable graph */
		return x ? cuGraphExecChildGraphNodeSetParams(x, h, p->graph.graph) : CUDA_ERROR_NOT_SUPPORTED;
	case CU_GRAPH_NODE_TYPE_EMPTY:
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_NOT_SUPPORTED;
	}
}

CUresult CUDAAPI cuGraphNodeSetParams(CUgraphNode hNode, CUgraphNodeParams *nodeParams)
{
	return node_set(NULL, hNode, nodeParams);
}

CUresult CUDAAPI cuGraphExecNodeSetParams(CUgraphExec hGraphExec, CUgraphNode hNode, CUgraphNodeParams *nodeParams)
{
	return node_set(hGraphExec, hNode, nodeParams);
}
