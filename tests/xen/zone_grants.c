/* SPDX-License-Identifier: MIT */
/* zone_grants.c — in a Xen guest, a hostile client of the Dom0 proxy's granted pinned memory: references never granted, granted read-only, too few, then a true region (make test-xen step 2). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xengnttab.h>

#include "chan.h"
#include "codec.h"
#include "custom_wire.h"
#include "session.h"
#include "xenbus.h"

static uint8_t rbuf[VGPU_MSG_MAX];
static struct vgpu_chan *ch;
static uint32_t seq;
static int failures;

/* One request and its reply's CUresult, or -errno when the channel failed. */
static long call(const struct vgpu_call_desc *d, void **argv)
{
	struct vgpu_wbuf wb = { 0 };
	struct vgpu_bulk_list bl;
	struct vgpu_msg_hdr h;
	CUresult res = CUDA_ERROR_UNKNOWN;
	int rc = vgpu_encode_request(d, argv, &wb, &bl);
	if (rc >= 0 && bl.n)
		rc = -E2BIG;   /* every request here is small enough to travel inline */
	if (rc >= 0)
		rc = vgpu_chan_send(ch, d->opcode, 0, ++seq, wb.data, (uint32_t)wb.len);
	if (rc >= 0)
		rc = vgpu_chan_flush(ch);
	if (rc >= 0)
		rc = vgpu_chan_recv(ch, &h, rbuf, sizeof(rbuf));
	if (rc >= 0 && (h.seq != seq || vgpu_decode_reply(d, argv, rbuf, (uint32_t)rc, &res, &bl) < 0))
		rc = -EBADMSG;
	vgpu_wbuf_free(&wb);
	return rc < 0 ? rc : (long)res;
}

static long grant(uint64_t bytes, uint32_t n, const uint32_t *refs, uint64_t *id)
{
	uint64_t *pid = id;
	void *av[VGPU_PGW_NARGS] = { [VGPU_PGW_BYTES] = &bytes, [VGPU_PGW_NREFS] = &n, [VGPU_PGW_REFS] = &refs,
				     [VGPU_PGW_ID] = &pid };
	return call(&vgpu_wire_pinned_grant, av);
}

static long unmap(uint64_t id)
{
	void *av[VGPU_PUW_NARGS] = { [VGPU_PUW_ID] = &id };
	return call(&vgpu_wire_pinned_unmap, av);
}

static void expect(const char *what, long got, long want)
{
	printf("zone_grants: %s: %ld (%s)\n", what, got, got == want ? "as expected" : "WRONG");
	if (got != want)
		failures++;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--help")) {
		printf("usage: zone_grants   (in a Xen guest, VGPU_TRANSPORT=xen)\nOpens a zone on the Dom0 proxy and "
		       "offers it pinned regions that lie: grant references never granted, granted read-only, fewer "
		       "than the pages declared; each must be refused (CUDA_ERROR_INVALID_VALUE) with the channel "
		       "still served; then a true region is mapped and unmapped. Prints PASS or FAIL.\n");
		return 0;
	}
	struct vgpu_hello h;
	struct vgpu_msg_hdr mh;
	struct vgpu_welcome w;
	struct vgpu_chan_geom g = { 256u << 10, 1u << 20 };
	memset(&h, 0, sizeof(h));
	h.magic = VGPU_HELLO_MAGIC;
	h.version = VGPU_PROTO_VERSION;
	h.kind = VGPU_HELLO_NEW_ZONE;
	h.pid = (uint32_t)getpid();
	snprintf(h.name, sizeof(h.name), "zone_grants");
	char hex[80];
	if (vgpu_xs_zone_token(hex, sizeof(hex)) == 0)   /* the registration Dom0 made for this guest */
		vgpu_token_parse(hex, 1, h.token);
	int rc = vgpu_xs_connect(&h, NULL, NULL, &g, 30000, &ch);
	if (rc < 0 || vgpu_chan_recv(ch, &mh, &w, sizeof(w)) != (int)sizeof(w) || w.status) {
		printf("zone_grants: FAIL: no zone on the Dom0 proxy (%s: %s)\n", strerror(-rc), vgpu_chan_setup_error());
		return 1;
	}
	xengntshr_handle *gs = xengntshr_open(NULL, 0);
	if (!gs) {
		printf("zone_grants: FAIL: no gntalloc: %s\n", strerror(errno));
		return 1;
	}
	uint32_t refs[4], ro[4], bogus[4] = { 0x7ffffff0u, 0x7ffffff1u, 0x7ffffff2u, 0x7ffffff3u };
	uint64_t id = 0;
	/* references this domain never granted: the hypervisor refuses to map them */
	expect("4 references never granted", grant(4 * 4096, 4, bogus, &id), CUDA_ERROR_INVALID_VALUE);
	/* granted read-only: the worker maps regions to write into them, which the grant forbids */
	void *r = xengntshr_share_pages(gs, 0, 4, ro, 0);
	expect("4 pages granted read-only", r ? grant(4 * 4096, 4, ro, &id) : -ENOMEM, CUDA_ERROR_INVALID_VALUE);
	/* a region of 4 pages with 3 references, and one whose second half is not granted */
	void *p = xengntshr_share_pages(gs, 0, 4, refs, 1);
	expect("3 references for 4 pages", p ? grant(4 * 4096, 3, refs, &id) : -ENOMEM, CUDA_ERROR_INVALID_VALUE);
	uint32_t mixed[4] = { refs[0], refs[1], bogus[0], bogus[1] };
	expect("2 of 4 references never granted", grant(4 * 4096, 4, mixed, &id), CUDA_ERROR_INVALID_VALUE);
	/* the channel is still served: a true region maps, and unmaps once */
	expect("4 pages granted to Dom0", p ? grant(4 * 4096, 4, refs, &id) : -ENOMEM, CUDA_SUCCESS);
	expect("unmapping it", unmap(id), CUDA_SUCCESS);
	expect("unmapping it again", unmap(id), CUDA_ERROR_INVALID_VALUE);
	if (p)
		xengntshr_unshare(gs, p, 4);
	if (r)
		xengntshr_unshare(gs, r, 4);
	xengntshr_close(gs);
	vgpu_chan_close(ch);
	printf("zone_grants: %s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
