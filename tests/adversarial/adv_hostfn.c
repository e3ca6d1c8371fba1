/* SPDX-License-Identifier: MIT */
/* adv_hostfn.c — host functions driven by hostile zones: forged tokens and tickets, other zones' functions, a zone that never runs its own, the record cap. */
#include "adv.h"

/*
 * Contract (runtime/custom_wire.h, proxy/custom_hostfn.c, proxy/hostfn.c): a zone's token is
 * only a number the worker hands back to that zone; token 0 is INVALID_VALUE and a forged
 * stream INVALID_HANDLE; a zone's wait sees only its own zone's host functions and returns
 * within VGPU_HOSTFN_WAIT_MS when none is due; a ticket the zone was not given, or gave
 * back already, changes nothing; the stream waits until the zone reports its function done;
 * a zone that goes away with a host function pending ends cleanly, its neighbour unharmed;
 * a zone holds at most VGPU_HOSTFN_MAX records of graphs' host nodes (OUT_OF_MEMORY after).
 */

static long hf_launch(struct adv_zone *z, CUstream s, uint64_t token, uint32_t *kept)
{
	uint32_t *pk = kept;
	void *av[VGPU_HFW_NARGS] = { [VGPU_HFW_STREAM] = &s, [VGPU_HFW_TOKEN] = &token, [VGPU_HFW_KEPT] = &pk };
	return adv_call(z, &vgpu_wire_hostfn_launch, av);
}

static long hf_wait(struct adv_zone *z, uint64_t done, uint64_t *ticket, uint64_t *token)
{
	uint64_t *pt = ticket, *pk = token;
	void *av[VGPU_HWW_NARGS] = { [VGPU_HWW_DONE] = &done, [VGPU_HWW_TICKET] = &pt, [VGPU_HWW_TOKEN] = &pk };
	return adv_call(z, &vgpu_wire_hostfn_wait, av);
}

static long ctx_sync(struct adv_zone *z)
{
	return adv_call(z, &vgpu_call_cuCtxSynchronize, NULL);
}

static long stream_create(struct adv_zone *z, CUstream *s)
{
	unsigned flags = 0;
	void *av[] = { &s, &flags };
	return adv_call(z, &vgpu_call_cuStreamCreate, av);
}

/* Launches of tokens t0, t0 + 1, ... on s, posted 256 at a time before their replies are
 * read (one round trip each would take minutes here): how many succeeded before the first
 * failure, whose result goes to *first_err (CUDA_SUCCESS: none failed). */
static uint64_t launch_many(struct adv_zone *z, CUstream s, uint64_t t0, uint64_t n, long *first_err)
{
	uint64_t ok = 0, sent = 0;
	*first_err = CUDA_SUCCESS;
	while (sent < n) {
		uint32_t batch = n - sent < 256 ? (uint32_t)(n - sent) : 256;
		for (uint32_t i = 0; i < batch; i++) {
			struct vgpu_wbuf wb = { 0 };
			struct vgpu_bulk_list bl;
			uint64_t token = t0 + sent + i;
			uint32_t kept, *pk = &kept;
			void *av[VGPU_HFW_NARGS] = { [VGPU_HFW_STREAM] = &s, [VGPU_HFW_TOKEN] = &token,
						     [VGPU_HFW_KEPT] = &pk };
			CHECK_EQ(vgpu_encode_request(&vgpu_wire_hostfn_launch, av, &wb, &bl), 0);
			CHECK_EQ(vgpu_chan_send(z->ch, VGPU_OP_cuLaunchHostFunc, 0, ++z->seq, wb.data, (uint32_t)wb.len), 0);
			vgpu_wbuf_free(&wb);
		}
		vgpu_chan_flush(z->ch);
		for (uint32_t i = 0; i < batch; i++) {
			struct vgpu_msg_hdr h;
			struct vgpu_bulk_list bl;
			uint32_t kept, *pk = &kept;
			CUstream s2;
			uint64_t token;
			void *av[VGPU_HFW_NARGS] = { [VGPU_HFW_STREAM] = &s2, [VGPU_HFW_TOKEN] = &token,
						     [VGPU_HFW_KEPT] = &pk };
			CUresult res = CUDA_ERROR_UNKNOWN;
			int rc = adv_recv(z, &h, 10000);
			CHECK(rc > 0);
			if (rc <= 0)
				return ok;
			CHECK_EQ(vgpu_decode_reply(&vgpu_wire_hostfn_launch, av, adv_rbuf, (uint32_t)rc, &res, &bl), 0);
			if (res == CUDA_SUCCESS && *first_err == CUDA_SUCCESS)
				ok++;
			else if (*first_err == CUDA_SUCCESS)
				*first_err = res;
		}
		sent += batch;
	}
	return ok;
}

/* A synchronous call posted (not waited for): its reply is read later with adv_recv. */
static int post_sync(struct adv_zone *z)
{
	struct vgpu_wbuf wb = { 0 };
	struct vgpu_bulk_list bl;
	int rc = vgpu_encode_request(&vgpu_call_cuCtxSynchronize, NULL, &wb, &bl);
	if (rc == 0)
		rc = vgpu_chan_send(z->ch, VGPU_OP_cuCtxSynchronize, 0, ++z->seq, wb.data, (uint32_t)wb.len);
	vgpu_chan_flush(z->ch);
	vgpu_wbuf_free(&wb);
	return rc;
}

int main(void)
{
	struct ptest_proxy p;
	struct adv_zone a, a2, b, c;
	CUcontext ca = NULL, cb = NULL, cc = NULL;
	uint64_t ticket, token;
	uint32_t kept = 7;
	struct vgpu_msg_hdr h;

	if (adv_start(&p, NULL) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "hostfn", NULL), 0);
	CHECK_EQ(adv_open(&p, &a2, "hostfn", a.w.token), 0);   /* the zone's host-function channel */
	CHECK_EQ(adv_open(&p, &b, "intruder", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);

	/* Refused before the driver: token 0, a forged stream. */
	CHECK_EQ(hf_launch(&a, NULL, 0, &kept), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(hf_launch(&a, (CUstream)(uintptr_t)0x5eed0000beefull, 1, &kept), CUDA_ERROR_INVALID_HANDLE);

	/* Host nodes' parameters name only the zone's own nodes and executable graphs. */
	{
		CUgraphNode forged = (CUgraphNode)(uintptr_t)0x77770000deadull;
		CUgraphExec fx = (CUgraphExec)(uintptr_t)0x77770000beefull;
		uint64_t tok = 9, *pt = &tok;
		void *gav[] = { &forged, &pt }, *sav[] = { &forged, &tok }, *xav[] = { &fx, &forged, &tok };
		CHECK_EQ(adv_call(&a, &vgpu_wire_host_node_get, gav), CUDA_ERROR_INVALID_HANDLE);
		CHECK_EQ(adv_call(&a, &vgpu_wire_host_node_set, sav), CUDA_ERROR_INVALID_HANDLE);
		CHECK_EQ(adv_call(&a, &vgpu_wire_exec_host_node_set, xav), CUDA_ERROR_INVALID_HANDLE);
	}

	/* Nothing due: a wait comes back empty, and a ticket never given changes nothing. */
	CHECK_EQ(hf_wait(&a2, 0, &ticket, &token), CUDA_SUCCESS);
	CHECK_EQ(ticket, 0);
	CHECK_EQ(hf_wait(&a2, 12345, &ticket, &token), CUDA_SUCCESS);
	CHECK_EQ(ticket, 0);

	/* A host function on the legacy stream: the call returns at once, the stream waits. */
	CHECK_EQ(hf_launch(&a, NULL, 0xabcdef, &kept), CUDA_SUCCESS);
	CHECK_EQ(kept, 0);   /* outside a capture it runs once */
	CHECK_EQ(post_sync(&a), 0);
	CHECK_EQ(adv_recv(&a, &h, 300), -ETIMEDOUT);   /* the synchronisation waits for the zone */
	/* the other zone never sees it */
	CHECK_EQ(hf_wait(&b, 0, &ticket, &token), CUDA_SUCCESS);
	CHECK_EQ(ticket, 0);
	/* the zone's own wait hands it over; a wrong ticket back does not end it */
	CHECK_EQ(hf_wait(&a2, 0, &ticket, &token), CUDA_SUCCESS);
	CHECK(ticket != 0);
	CHECK_EQ(token, 0xabcdef);
	uint64_t mine = ticket;
	CHECK_EQ(hf_wait(&a2, mine + 1, &ticket, &token), CUDA_SUCCESS);
	CHECK_EQ(ticket, 0);
	CHECK_EQ(adv_recv(&a, &h, 200), -ETIMEDOUT);
	/* another zone reporting the ticket done does not end it either */
	CHECK_EQ(hf_wait(&b, mine, &ticket, &token), CUDA_SUCCESS);
	CHECK_EQ(adv_recv(&a, &h, 200), -ETIMEDOUT);
	/* the right ticket does: the synchronisation completes */
	CHECK_EQ(hf_wait(&a2, mine, &ticket, &token), CUDA_SUCCESS);
	CHECK(adv_recv(&a, &h, 5000) > 0);
	CHECK_EQ(h.seq, a.seq);
	/* a ticket given back twice changes nothing */
	CHECK_EQ(hf_wait(&a2, mine, &ticket, &token), CUDA_SUCCESS);
	CHECK_EQ(ticket, 0);
	CHECK_EQ(ctx_sync(&a), CUDA_SUCCESS);

	/* A zone that goes away with a host function pending: its worker ends, nothing hangs. */
	CHECK_EQ(adv_open(&p, &c, "leaver", NULL), 0);
	CHECK_EQ(adv_init_ctx(&c, &cc), CUDA_SUCCESS);
	CHECK_EQ(hf_launch(&c, NULL, 77, &kept), CUDA_SUCCESS);
	CHECK_EQ(post_sync(&c), 0);
	CHECK_EQ(ptest_zone_count(&p), 3);
	vgpu_chan_close(c.ch);
	CHECK_EQ(ptest_wait_zones(&p, 2), 0);
	CHECK_EQ(ctx_sync(&b), CUDA_SUCCESS);

	/* Graphs' host nodes: kept records, one per token, at most VGPU_HOSTFN_MAX. */
	CUstream s = NULL;
	CHECK_EQ(stream_create(&b, &s), CUDA_SUCCESS);
	unsigned mode = CU_STREAM_CAPTURE_MODE_RELAXED;
	void *bav[] = { &s, &mode };
	CHECK_EQ(adv_call(&b, &vgpu_call_cuStreamBeginCapture_v2, bav), CUDA_SUCCESS);
	CHECK_EQ(hf_launch(&b, s, 5, &kept), CUDA_SUCCESS);
	CHECK_EQ(kept, 1);
	CHECK_EQ(hf_launch(&b, s, 5, &kept), CUDA_SUCCESS);   /* the same token: the same record */
	long r = CUDA_SUCCESS;
	uint64_t made = 1 + launch_many(&b, s, 6, VGPU_HOSTFN_MAX + 10, &r);
	CHECK_EQ(r, CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(made, VGPU_HOSTFN_MAX);   /* records 1..MAX made, the next refused */
	CUgraph g = NULL, *pg = &g;
	void *eav[] = { &s, &pg };
	CHECK_EQ(adv_call(&b, &vgpu_call_cuStreamEndCapture, eav), CUDA_SUCCESS);
	void *dav[] = { &g };
	CHECK_EQ(adv_call(&b, &vgpu_call_cuGraphDestroy, dav), CUDA_SUCCESS);

	vgpu_chan_close(a2.ch);
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);
	adv_finish(&p);
	CHECK_DONE();
}
