/* SPDX-License-Identifier: MIT */
/* adv_cond.c — graphs owned by nodes (conditional nodes' bodies, a child graph node's graph) driven by hostile zones: destroying one, using one after its node or graph went, another zone's, more bodies than the handle quota holds. */
#include "adv.h"

#include "custom_wire.h"

/*
 * Contract (runtime/custom_wire.h, proxy/custom_graph.c): a conditional node's bodies are
 * handles of the zone owned by the node; cuGraphDestroy of one is INVALID_VALUE and reaches
 * no driver (the node would free it again); when the node or its graph goes, its bodies and
 * their nodes are forgotten, so their ids name nothing (INVALID_HANDLE) and never a freed
 * graph; another zone names none of them; a node whose bodies would pass the zone's handle
 * quota is refused (OUT_OF_MEMORY) before the driver makes it; a zone that ends with
 * conditional nodes live ends cleanly (the worker destroys the graphs, never their bodies).
 * A child graph node's graph (cuGraphChildGraphNodeGetGraph) is owned by its node the same way.
 */

static long graph_create(struct adv_zone *z, CUgraph *g)
{
	unsigned fl = 0;
	void *av[] = { &g, &fl };
	return adv_call(z, &vgpu_call_cuGraphCreate, av);
}

static long graph_destroy(struct adv_zone *z, CUgraph g)
{
	void *av[] = { &g };
	return adv_call(z, &vgpu_call_cuGraphDestroy, av);
}

static long handle_create(struct adv_zone *z, CUgraphConditionalHandle *h, CUgraph g, CUcontext ctx)
{
	unsigned dflt = 1, fl = CU_GRAPH_COND_ASSIGN_DEFAULT;
	void *av[] = { &h, &g, &ctx, &dflt, &fl };
	return adv_call(z, &vgpu_call_cuGraphConditionalHandleCreate, av);
}

static long cond_node(struct adv_zone *z, CUgraphNode *node, CUgraph g, CUgraphConditionalHandle h, unsigned type,
		      unsigned size, CUcontext ctx, CUgraph *bodies)
{
	const CUgraphNode *deps = NULL;
	uint64_t ndeps = 0;
	void *av[VGPU_CNW_NARGS] = { [VGPU_CNW_NODE] = &node, [VGPU_CNW_GRAPH] = &g, [VGPU_CNW_DEPS] = &deps,
				     [VGPU_CNW_NDEPS] = &ndeps, [VGPU_CNW_HANDLE] = &h, [VGPU_CNW_TYPE] = &type,
				     [VGPU_CNW_SIZE] = &size, [VGPU_CNW_CTX] = &ctx, [VGPU_CNW_BODIES] = &bodies };
	return adv_call(z, &vgpu_wire_cond_node, av);
}

static long empty_node(struct adv_zone *z, CUgraph g)
{
	CUgraphNode n, *pn = &n;
	const CUgraphNode *deps = NULL;
	size_t nd = 0;
	void *av[] = { &pn, &g, &deps, &nd };
	return adv_call(z, &vgpu_call_cuGraphAddEmptyNode, av);
}

static long node_count(struct adv_zone *z, CUgraph g, size_t *n)
{
	CUgraphNode *nodes = NULL;
	*n = 0;
	void *av[] = { &g, &nodes, &n };
	return adv_call(z, &vgpu_call_cuGraphGetNodes, av);
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, b;
	CUcontext ca = NULL, cb = NULL;
	CUgraph g = NULL, g2 = NULL, bodies[40], inner[1];
	CUgraphNode node = NULL, node2 = NULL, inode = NULL;
	CUgraphConditionalHandle h = 0, hi = 0;
	size_t n;

	const char *extra[] = { "--zone-handle-limit", "48", "--log-level", "debug", NULL };
	if (adv_start(&p, extra) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "cond", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "intruder", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);

	CHECK_EQ(graph_create(&a, &g), CUDA_SUCCESS);
	CHECK_EQ(handle_create(&a, &h, g, ca), CUDA_SUCCESS);
	/* no bodies, or a type the driver does not know: refused, no node */
	CHECK_EQ(cond_node(&a, &node, g, h, CU_GRAPH_COND_TYPE_IF, 0, ca, bodies), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(cond_node(&a, &node, g, h, 9, 1, ca, bodies), CUDA_ERROR_INVALID_VALUE);
	/* another zone's graph: not a handle of b's */
	CHECK_EQ(cond_node(&b, &node, g, h, CU_GRAPH_COND_TYPE_IF, 1, cb, bodies), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(node_count(&a, g, &n), CUDA_SUCCESS);
	CHECK_EQ(n, 0);

	/* IF/ELSE: two bodies, the node's */
	CHECK_EQ(cond_node(&a, &node, g, h, CU_GRAPH_COND_TYPE_IF, 2, ca, bodies), CUDA_SUCCESS);
	CHECK(bodies[0] && bodies[1] && bodies[0] != bodies[1]);
	CHECK_EQ(graph_destroy(&a, bodies[0]), CUDA_ERROR_INVALID_VALUE);   /* the node owns it */
	CHECK_EQ(empty_node(&a, bodies[0]), CUDA_SUCCESS);                  /* and it still works */
	CHECK_EQ(empty_node(&b, bodies[1]), CUDA_ERROR_INVALID_HANDLE);     /* not b's */
	CHECK_EQ(graph_destroy(&b, bodies[1]), CUDA_ERROR_INVALID_HANDLE);
	/* a WHILE in the first body, with a body of its own */
	CHECK_EQ(handle_create(&a, &hi, bodies[0], ca), CUDA_SUCCESS);
	CHECK_EQ(cond_node(&a, &inode, bodies[0], hi, CU_GRAPH_COND_TYPE_WHILE, 1, ca, inner), CUDA_SUCCESS);
	CHECK_EQ(empty_node(&a, inner[0]), CUDA_SUCCESS);
	CHECK_EQ(graph_destroy(&a, inner[0]), CUDA_ERROR_INVALID_VALUE);

	/* the node goes: its bodies, the nested node and its body name nothing from then on */
	void *dav[] = { &node };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphDestroyNode, dav), CUDA_SUCCESS);
	CHECK_EQ(empty_node(&a, bodies[0]), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(empty_node(&a, bodies[1]), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(empty_node(&a, inner[0]), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(graph_destroy(&a, bodies[1]), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(node_count(&a, g, &n), CUDA_SUCCESS);
	CHECK_EQ(n, 0);

	/* the graph goes: the same for a node's bodies */
	CHECK_EQ(cond_node(&a, &node, g, h, CU_GRAPH_COND_TYPE_WHILE, 1, ca, bodies), CUDA_SUCCESS);
	CHECK_EQ(graph_destroy(&a, g), CUDA_SUCCESS);
	CHECK_EQ(empty_node(&a, bodies[0]), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(graph_destroy(&a, bodies[0]), CUDA_ERROR_INVALID_HANDLE);

	/* a child graph node's graph: the node's, like a body */
	{
		CUgraph parent = NULL, child = NULL, got = NULL, *pg = &got;
		CUgraphNode cn = NULL, *pcn = &cn;
		const CUgraphNode *deps = NULL;
		size_t nd = 0;
		CHECK_EQ(graph_create(&a, &parent), CUDA_SUCCESS);
		CHECK_EQ(graph_create(&a, &child), CUDA_SUCCESS);
		CHECK_EQ(empty_node(&a, child), CUDA_SUCCESS);
		void *cav[] = { &pcn, &parent, &deps, &nd, &child };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphAddChildGraphNode, cav), CUDA_SUCCESS);
		void *gav[] = { &cn, &pg };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphChildGraphNodeGetGraph, gav), CUDA_SUCCESS);
		CHECK(got && got != child);
		CHECK_EQ(graph_destroy(&a, got), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(node_count(&a, got, &n), CUDA_SUCCESS);
		CHECK_EQ(n, 1);
		CHECK_EQ(node_count(&b, got, &n), CUDA_ERROR_INVALID_HANDLE);
		CHECK_EQ(adv_call(&b, &vgpu_call_cuGraphChildGraphNodeGetGraph, gav), CUDA_ERROR_INVALID_HANDLE);
		void *ndav[] = { &cn };
		CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphDestroyNode, ndav), CUDA_SUCCESS);
		CHECK_EQ(node_count(&a, got, &n), CUDA_ERROR_INVALID_HANDLE);
		CHECK_EQ(graph_destroy(&a, got), CUDA_ERROR_INVALID_HANDLE);
		CHECK_EQ(graph_destroy(&a, child), CUDA_SUCCESS);
		CHECK_EQ(graph_destroy(&a, parent), CUDA_SUCCESS);
	}

	/* more bodies than the handle quota (48) holds: refused before the driver makes any */
	CHECK_EQ(graph_create(&a, &g2), CUDA_SUCCESS);
	CHECK_EQ(handle_create(&a, &h, g2, ca), CUDA_SUCCESS);
	CHECK_EQ(cond_node(&a, &node2, g2, h, CU_GRAPH_COND_TYPE_SWITCH, 40, ca, bodies), CUDA_SUCCESS);
	CHECK_EQ(cond_node(&a, &node2, g2, h, CU_GRAPH_COND_TYPE_SWITCH, 40, ca, bodies), CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(node_count(&a, g2, &n), CUDA_SUCCESS);
	CHECK_EQ(n, 1);
	CHECK(adv_alive(&a));
	CHECK(adv_alive(&b));

	/* a's zone ends with its SWITCH node live: the worker destroys g2, never a body */
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	adv_wait_zones_ended(&p, 2);
	/* the worker refused each destroy of a body itself: the driver never saw one, nor when
	 * the zone ended (the simulator says so when it refuses one) */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "[ $(grep -c 'cuGraphDestroy: refused: the graph is a body' %s) = 3 ]", p.log);
	CHECK_EQ(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep 'vgpu-sim: cuGraphDestroy' %s", p.log);
	CHECK(system(cmd) != 0);
	adv_finish(&p);
	CHECK_DONE();
}
