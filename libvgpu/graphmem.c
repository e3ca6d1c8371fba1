/* SPDX-License-Identifier: MIT */
/* graphmem.c — graph memory nodes made by hand: the stream-ordered allocation or free captured into the graph. */
#include "client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "graphnodes.h"

/*
 * An alloc node added by hand is the node a cuMemAllocAsync captured into the graph makes,
 * and a free node a captured cuMemFreeAsync: the proxy sees the same calls as in a program's
 * own capture, so the allocation becomes the graph's (charged to the zone while the graph
 * lives) and the free passes its checks. The pool the node describes must be what
 * cuMemAllocAsync draws from: device memory of the current context's device, not
 * exportable, no peer access list.
 */

struct alloc_work {
	size_t bytes;
	CUdeviceptr dptr;
};

static CUresult alloc_work(CUstream s, const void *arg)
{
	struct alloc_work *w = (struct alloc_work *)arg;
	return cuMemAllocAsync(&w->dptr, w->bytes, s);
}

static CUresult free_work(CUstream s, const void *arg)
{
	return cuMemFreeAsync(*(const CUdeviceptr *)arg, s);
}

/* The alloc nodes made here, with what they were made with: cuGraphMemAllocNodeGetParams
 * answers from this record (the driver's answer would point at its own memory). */
struct alloc_rec {
	CUgraphNode node;
	CUDA_MEM_ALLOC_NODE_PARAMS p;
};
static pthread_mutex_t recs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct alloc_rec *recs;
static size_t nrecs, crecs;

static void rec_put(CUgraphNode node, const CUDA_MEM_ALLOC_NODE_PARAMS *p)
{
	pthread_mutex_lock(&recs_lock);
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].node == node) {   /* a node handle reused after its graph went */
			recs[i].p = *p;
			pthread_mutex_unlock(&recs_lock);
			return;
		}
	if (nrecs == crecs) {
		size_t c = crecs ? crecs * 2 : 16;
		struct alloc_rec *r = realloc(recs, c * sizeof(*r));
		if (!r) {
			pthread_mutex_unlock(&recs_lock);
			return;   /* only the read-back is lost */
		}
		recs = r;
		crecs = c;
	}
	recs[nrecs].node = node;
	recs[nrecs++].p = *p;
	pthread_mutex_unlock(&recs_lock);
}

CUresult CUDAAPI cuGraphAddMemAllocNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
					size_t numDependencies, CUDA_MEM_ALLOC_NODE_PARAMS *nodeParams)
{
	CUcontext ctx = NULL;
	CUdevice dev = -1;

	if (!nodeParams || !nodeParams->bytesize)
		return CUDA_ERROR_INVALID_VALUE;
	const CUmemPoolProps *pp = &nodeParams->poolProps;
	if (cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || !ctx || cuCtxGetDevice(&dev) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (pp->allocType != CU_MEM_ALLOCATION_TYPE_PINNED || pp->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (pp->location.id != dev || pp->handleTypes != CU_MEM_HANDLE_TYPE_NONE || pp->win32SecurityAttributes ||
	    nodeParams->accessDescCount)
		return vgpu_client_unsupported("an alloc node on another device, exportable, or with a peer access list");
	struct alloc_work w = { nodeParams->bytesize, 0 };
	CUresult r = vgpu_graph_add_by_capture(phGraphNode, hGraph, dependencies, numDependencies, alloc_work, &w);
	if (r != CUDA_SUCCESS)
		return r;
	nodeParams->dptr = w.dptr;
	rec_put(*phGraphNode, nodeParams);
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphAddMemFreeNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
				       size_t numDependencies, CUdeviceptr dptr)
{
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_graph_add_by_capture(phGraphNode, hGraph, dependencies, numDependencies, free_work, &dptr);
}

CUresult CUDAAPI cuGraphMemAllocNodeGetParams(CUgraphNode hNode, CUDA_MEM_ALLOC_NODE_PARAMS *params_out)
{
	CUgraphNodeType t;
	CUresult r;

	if (!params_out)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = cuGraphNodeGetType(hNode, &t)) != CUDA_SUCCESS)
		return r;
	if (t != CU_GRAPH_NODE_TYPE_MEM_ALLOC)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&recs_lock);
	for (size_t i = 0; i < nrecs; i++)
		if (recs[i].node == hNode) {
			*params_out = recs[i].p;
			params_out->accessDescs = NULL;
			params_out->accessDescCount = 0;
			pthread_mutex_unlock(&recs_lock);
			return CUDA_SUCCESS;
		}
	pthread_mutex_unlock(&recs_lock);
	return vgpu_client_unsupported("reading back the parameters of an alloc node a stream capture made");
}
