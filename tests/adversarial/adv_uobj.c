/* SPDX-License-Identifier: MIT */
/* adv_uobj.c — user objects driven by hostile zones: releasing more than held (a graph's references too, and taking back more of a graph's than the zone gave it), another zone's object, a graph given references the zone does not hold. */
#include "adv.h"

#include "custom_wire.h"

/*
 * Contract (runtime/custom_wire.h, proxy/custom_hostfn.c): the worker counts the references a
 * zone holds of each user object it made; a release or a move into a graph of more than that,
 * a count of 0, flags other than a move, or a count that would pass 2^30 is INVALID_VALUE and
 * reaches no driver; an object the zone holds no reference of (released, moved to a graph,
 * another zone's, forged) is INVALID_HANDLE; the destructor is the zone's token, handed to
 * its own host-function channel once, when the driver drops the last reference.
 */

static long uo_create(struct adv_zone *z, CUuserObject *o, uint64_t token, uint32_t refs, uint32_t flags)
{
	void *av[VGPU_UOW_NARGS] = { [VGPU_UOW_OBJECT] = &o, [VGPU_UOW_TOKEN] = &token, [VGPU_UOW_REFS] = &refs,
				     [VGPU_UOW_FLAGS] = &flags };
	return adv_call(z, &vgpu_wire_uobj_create, av);
}

static long uo_refs(struct adv_zone *z, CUuserObject o, unsigned count, int release)
{
	void *av[] = { &o, &count };
	return adv_call(z, release ? &vgpu_wire_uobj_release : &vgpu_wire_uobj_retain, av);
}

static long uo_graph(struct adv_zone *z, CUgraph g, CUuserObject o, unsigned count, unsigned flags)
{
	void *av[] = { &g, &o, &count, &flags };
	return adv_call(z, &vgpu_wire_uobj_graph_retain, av);
}

static long uo_graph_release(struct adv_zone *z, CUgraph g, CUuserObject o, unsigned count)
{
	unsigned flags = 0;
	uint64_t id = (uint64_t)(uintptr_t)o;
	void *av[] = { &g, &id, &count, &flags };
	return adv_call(z, &vgpu_wire_uobj_graph_release, av);
}

/* A job the zone's channel was handed while reporting the one before (run next). */
static uint64_t next_ticket, next_token;

/* wait on hz, reporting done: the job handed over (ticket 0: none within 100 ms) */
static void hf_wait(struct adv_zone *hz, uint64_t done, uint64_t *ticket, uint64_t *token)
{
	uint64_t *pt = ticket, *pk = token;
	void *av[VGPU_HWW_NARGS] = { [VGPU_HWW_DONE] = &done, [VGPU_HWW_TICKET] = &pt, [VGPU_HWW_TOKEN] = &pk };
	*ticket = *token = 0;
	CHECK_EQ(adv_call(hz, &vgpu_wire_hostfn_wait, av), CUDA_SUCCESS);
}

/* The next destructor the zone's host-function channel is handed within 5 s: its token (its
 * run reported done), or 0 when none came. */
static uint64_t destructor(struct adv_zone *hz)
{
	uint64_t ticket = next_ticket, token = next_token;
	next_ticket = 0;
	for (int i = 0; i < 50 && !ticket; i++)
		hf_wait(hz, 0, &ticket, &token);
	if (ticket)
		hf_wait(hz, ticket, &next_ticket, &next_token);
	return ticket ? token : 0;
}

/* No destructor is due (one wait of 100 ms comes back empty). */
static int none_due(struct adv_zone *hz)
{
	uint64_t ticket, token;
	if (next_ticket)
		return 0;
	hf_wait(hz, 0, &ticket, &token);
	return ticket == 0;
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, a2, b;
	CUcontext ca = NULL, cb = NULL;
	CUuserObject o = NULL, o2 = NULL, forged = (CUuserObject)(uintptr_t)0x5eed0000abcdull;
	CUgraph g = NULL, *pg = &g;
	unsigned gflags = 0;

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "uobj", NULL), 0);
	CHECK_EQ(adv_open(&p, &a2, "uobj", a.w.token), 0);   /* the zone's host-function channel */
	CHECK_EQ(adv_open(&p, &b, "intruder", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);

	/* Made with a token and references, both non-zero and bounded. */
	CHECK_EQ(uo_create(&a, &o, 0, 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_create(&a, &o, 0x11, 0, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_create(&a, &o, 0x11, (1u << 30) + 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_create(&a, &o, 0x11, 2, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC), CUDA_SUCCESS);

	/* The zone holds 2: giving back 3, or 0, or adding past the bound, is refused. */
	CHECK_EQ(uo_refs(&a, o, 3, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_refs(&a, o, 0, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_refs(&a, o, 0, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_refs(&a, o, 1u << 30, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK(none_due(&a2));   /* nothing was destroyed */
	/* Another zone, or a forged value, names nothing. */
	CHECK_EQ(uo_refs(&b, o, 1, 1), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(uo_refs(&a, forged, 1, 1), CUDA_ERROR_INVALID_HANDLE);
	/* A graph may be given what the zone holds, moved, or references of its own. */
	void *gav[] = { &pg, &gflags };
	CHECK_EQ(adv_call(&a, &vgpu_call_cuGraphCreate, gav), CUDA_SUCCESS);
	CHECK_EQ(uo_graph(&a, g, o, 3, CU_GRAPH_USER_OBJECT_MOVE), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_graph(&a, g, o, 1, 7), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_graph(&a, g, o, 0, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_graph(&b, g, o, 1, 0), CUDA_ERROR_INVALID_HANDLE);   /* not b's graph nor object */
	/* The graph's own references are not the zone's to give back: with 2 of the zone's and 2
	 * of the graph's, a release of 3 is refused (the driver would take it and destroy the
	 * object under the graph when the zone gives back its last) */
	CHECK_EQ(uo_graph(&a, g, o, 2, 0), CUDA_SUCCESS);
	CHECK_EQ(uo_refs(&a, o, 3, 1), CUDA_ERROR_INVALID_VALUE);
	CHECK(none_due(&a2));
	/* The graph's references are taken back no more than the zone gave it: 3 of its 2 are
	 * refused, another zone names neither, one comes back, then 2 of the 1 left are refused. */
	CHECK_EQ(uo_graph_release(&a, g, o, 3), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_graph_release(&a, g, o, 0), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(uo_graph_release(&b, g, o, 1), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(uo_graph_release(&a, g, o, 1), CUDA_SUCCESS);
	CHECK_EQ(uo_graph_release(&a, g, o, 2), CUDA_ERROR_INVALID_VALUE);
	CHECK(none_due(&a2));

	/* What it holds, given back: the object leaves the zone, the graph keeps it alive. */
	CHECK_EQ(uo_refs(&a, o, 1, 0), CUDA_SUCCESS);
	CHECK_EQ(uo_refs(&a, o, 3, 1), CUDA_SUCCESS);
	CHECK_EQ(uo_refs(&a, o, 1, 0), CUDA_ERROR_INVALID_HANDLE);
	CHECK(none_due(&a2));
	/* Moved into the graph: the zone names it no more. */
	CHECK_EQ(uo_create(&a, &o2, 0x22, 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC), CUDA_SUCCESS);
	CHECK_EQ(uo_graph(&a, g, o2, 1, CU_GRAPH_USER_OBJECT_MOVE), CUDA_SUCCESS);
	CHECK_EQ(uo_refs(&a, o2, 1, 1), CUDA_ERROR_INVALID_HANDLE);
	CHECK_EQ(uo_graph(&a, g, o2, 1, 0), CUDA_ERROR_INVALID_HANDLE);
	CHECK(none_due(&a2));
	/* The graph's end runs both destructors in the zone, once each, and in no other zone (the
	 * destruction is posted: the driver may run them before it answers, as the simulator
	 * does, and the zone's own channel must be there to take them) */
	{
		struct vgpu_wbuf wb = { 0 };
		struct vgpu_bulk_list bl;
		struct vgpu_msg_hdr h;
		void *dav[] = { &g };
		CHECK_EQ(vgpu_encode_request(&vgpu_call_cuGraphDestroy, dav, &wb, &bl), 0);
		CHECK_EQ(vgpu_chan_send(a.ch, VGPU_OP_cuGraphDestroy, 0, ++a.seq, wb.data, (uint32_t)wb.len), 0);
		vgpu_chan_flush(a.ch);
		vgpu_wbuf_free(&wb);
		uint64_t t1 = destructor(&a2), t2 = destructor(&a2);
		CHECK((t1 == 0x11 && t2 == 0x22) || (t1 == 0x22 && t2 == 0x11));
		CHECK(adv_recv(&a, &h, 5000) > 0);
		CHECK_EQ(h.seq, a.seq);
	}
	CHECK(none_due(&a2));
	CHECK(none_due(&b));

	vgpu_chan_close(a2.ch);
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
