/* SPDX-License-Identifier: MIT */
/* graphnodes.h — a graph node made by hand as the same work captured into the graph (graphnodes.c). */
#ifndef VGPU_RUNTIME_GRAPHNODES_H
#define VGPU_RUNTIME_GRAPHNODES_H

#include <cuda.h>

typedef CUresult (*vgpu_node_work)(CUstream s, const void *arg);

/* Capture work(s, arg) into g after deps (on a stream of the calling thread's current
 * context, made for it), and give the node it made in *out. */
CUresult vgpu_graph_add_by_capture(CUgraphNode *out, CUgraph g, const CUgraphNode *deps, size_t ndeps,
				   vgpu_node_work work, const void *arg);

/* The generic cuGraphAddNode's conditional form, the backend's own (the simulator's graphs,
 * or a call to the proxy): the node after deps, and its bodies in p->phGraph_out, an array
 * the backend keeps for the node's lifetime. */
CUresult vgpu_graph_add_conditional(CUgraphNode *out, CUgraph g, const CUgraphNode *deps, size_t ndeps,
				    CUDA_CONDITIONAL_NODE_PARAMS *p);

#endif
