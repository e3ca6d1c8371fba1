/* SPDX-License-Identifier: MIT */
/* graphcond.c — conditional graph nodes through the proxy: the node, and its bodies as graphs of the zone. */
#include "client.h"

#include <pthread.h>
#include <stdlib.h>

#include "custom_wire.h"
#include "graphnodes.h"

/*
 * cuGraphAddNode of a CU_GRAPH_NODE_TYPE_CONDITIONAL node (IF, WHILE, SWITCH; CUDA 12.4):
 * one message to the proxy, which makes the node with the worker's driver and answers with
 * handles of the node and of its body graphs. The program fills the bodies like any graph
 * (node by node or with cuStreamBeginCaptureToGraph); the node owns them, so the proxy
 * refuses to destroy one and forgets them when the node or its graph goes. The handle
 * (cuGraphConditionalHandleCreate, a generated call) is the driver's value: the program's
 * kernels hand it to cudaGraphSetConditional.
 *
 * The body array is the driver's ("CUDA-owned", valid for the node's lifetime): here it is
 * libvgpu's, kept until the process ends (a node's graph may be destroyed with no call that
 * names the node).
 */

struct bodies {
	struct bodies *next;
	CUgraph g[];
};

static pthread_mutex_t bodies_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bodies *bodies_all;

CUresult vgpu_graph_add_conditional(CUgraphNode *out, CUgraph g, const CUgraphNode *deps, size_t ndeps,
				    CUDA_CONDITIONAL_NODE_PARAMS *p)
{
	if (!out || !p || !p->size || p->size > VGPU_COND_BODIES_MAX || (ndeps && !deps))
		return CUDA_ERROR_INVALID_VALUE;
	struct bodies *b = calloc(1, sizeof(*b) + p->size * sizeof(CUgraph));
	if (!b)
		return CUDA_ERROR_OUT_OF_MEMORY;
	unsigned type = (unsigned)p->type, size = p->size;
	CUgraph *arr = b->g;
	void *av[VGPU_CNW_NARGS] = { [VGPU_CNW_NODE] = &out, [VGPU_CNW_GRAPH] = &g, [VGPU_CNW_DEPS] = &deps,
				     [VGPU_CNW_NDEPS] = &ndeps, [VGPU_CNW_HANDLE] = &p->handle, [VGPU_CNW_TYPE] = &type,
				     [VGPU_CNW_SIZE] = &size, [VGPU_CNW_CTX] = &p->ctx, [VGPU_CNW_BODIES] = &arr };
	CUresult r = vgpu_client_call(&vgpu_wire_cond_node, av);
	if (r != CUDA_SUCCESS) {
		free(b);
		return r;
	}
	pthread_mutex_lock(&bodies_lock);
	b->next = bodies_all;
	bodies_all = b;
	pthread_mutex_unlock(&bodies_lock);
	p->phGraph_out = b->g;
	return CUDA_SUCCESS;
}
