/* SPDX-License-Identifier: MIT */
/* adv_pinned.c — pinned host memory shared with the worker: lying regions, ranges outside them, other zones' ids and memory, the quota, granted pages outside Xen. */
#include "adv.h"
#include "custom_wire.h"

#include <fcntl.h>
#include <sys/mman.h>

/* Contract (proxy/pinned.h, session.h): a region is a memfd sealed against shrinking and
 * growing, exactly the declared size, within the zone's --zone-pinned-limit; a copy names a
 * region of its own zone and a range inside it, and a device range inside one of the zone's
 * allocations; anything else is CUDA_ERROR_INVALID_VALUE (the quota: OUT_OF_MEMORY) and
 * nothing is read or written. Where a region is (VGPU_OP_PINNED_WHERE) is told for the
 * zone's own regions only; a region's device range may be named as device memory by its own
 * zone only, inside it, and only while it is mapped. A malformed message closes the channel. */

enum { R = 64 << 10 };

/* A memfd of bytes, sealed (SHRINK|GROW) when sealed; mapped into *map when map != NULL. */
static int region_fd(size_t bytes, int sealed, void **map)
{
	int fd = memfd_create("adv-pinned", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)bytes), 0);
	if (sealed)
		CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	if (map) {
		*map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK(*map != MAP_FAILED);
	}
	return fd;
}

static long map(struct adv_zone *z, uint64_t bytes, int fd, uint64_t *id)
{
	void *av[VGPU_PMW_NARGS] = { [VGPU_PMW_BYTES] = &bytes, [VGPU_PMW_ID] = &id };
	long r = 0;
	if (fd >= 0)
		r = vgpu_chan_send_fd(z->ch, fd);
	if (r == 0)
		r = adv_call(z, &vgpu_wire_pinned_map, av);
	if (fd >= 0)
		close(fd);
	return r;
}

static long copy_full(struct adv_zone *z, uint64_t id, uint32_t dir, uint32_t flags, uint64_t off, uint64_t n,
		      CUdeviceptr d, CUstream s)
{
	uint64_t dp = d;
	void *av[VGPU_PCW_NARGS] = {
		[VGPU_PCW_ID] = &id, [VGPU_PCW_DIR] = &dir, [VGPU_PCW_FLAGS] = &flags, [VGPU_PCW_OFFSET] = &off,
		[VGPU_PCW_BYTES] = &n, [VGPU_PCW_DPTR] = &dp, [VGPU_PCW_STREAM] = &s,
	};
	return adv_call(z, &vgpu_wire_pinned_copy, av);
}

static long copy(struct adv_zone *z, uint64_t id, uint32_t dir, uint64_t off, uint64_t n, CUdeviceptr d)
{
	return copy_full(z, id, dir, 0, off, n, d, NULL);
}

static long where(struct adv_zone *z, uint64_t id, uint64_t *addr, uint64_t *dptr)
{
	void *av[VGPU_PWW_NARGS] = { [VGPU_PWW_ID] = &id, [VGPU_PWW_ADDR] = &addr, [VGPU_PWW_DPTR] = &dptr };
	return adv_call(z, &vgpu_wire_pinned_where, av);
}

static long unmap(struct adv_zone *z, uint64_t id)
{
	void *av[VGPU_PUW_NARGS] = { [VGPU_PUW_ID] = &id };
	return adv_call(z, &vgpu_wire_pinned_unmap, av);
}

/* A region's copy captured into a graph (as a copy from the region's device address), the
 * region then unmapped, the graph launched: the launch or its stream fails (the driver no
 * longer knows the address), and the worker goes on serving the zone. */
static void captured_then_unmapped(struct ptest_proxy *p)
{
	struct adv_zone z;
	CUcontext ctx = NULL;
	CUdeviceptr dev = 0;
	uint8_t *rmap = NULL, want[64];
	uint64_t rid = 0;
	CUstream s = NULL, *ps = &s;
	unsigned sfl = 0;
	CUgraph g = NULL, *pg = &g;
	CUgraphExec ge = NULL, *pge = &ge;
	unsigned long long gfl = 0;
	unsigned mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

	CHECK_EQ(adv_open(p, &z, "grapher", NULL), 0);
	CHECK_EQ(adv_init_ctx(&z, &ctx), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&z, &dev, 64), CUDA_SUCCESS);
	memset(want, 0x17, sizeof(want));
	CHECK_EQ(adv_htod(&z, dev, want, sizeof(want)), CUDA_SUCCESS);
	CHECK_EQ(map(&z, R, region_fd(R, 1, (void **)&rmap), &rid), CUDA_SUCCESS);
	memset(rmap, 0x99, 64);
	void *sa[] = { &ps, &sfl };
	CHECK_EQ(adv_call(&z, &vgpu_call_cuStreamCreate, sa), CUDA_SUCCESS);
	void *ba[] = { &s, &mode };
	CHECK_EQ(adv_call(&z, &vgpu_call_cuStreamBeginCapture_v2, ba), CUDA_SUCCESS);
	{
		uint64_t dp = dev, off = 0, n = 64;
		uint32_t dir = VGPU_PINNED_HTOD, fl = VGPU_PINNED_F_ASYNC;
		void *av[VGPU_PCW_NARGS] = {
			[VGPU_PCW_ID] = &rid, [VGPU_PCW_DIR] = &dir, [VGPU_PCW_FLAGS] = &fl, [VGPU_PCW_OFFSET] = &off,
			[VGPU_PCW_BYTES] = &n, [VGPU_PCW_DPTR] = &dp, [VGPU_PCW_STREAM] = &s,
		};
		CHECK_EQ(adv_call(&z, &vgpu_wire_pinned_copy_async, av), 0);   /* posted */
	}
	void *ea[] = { &s, &pg };
	CHECK_EQ(adv_call(&z, &vgpu_call_cuStreamEndCapture, ea), CUDA_SUCCESS);
	CHECK(g != NULL);
	void *ia[] = { &pge, &g, &gfl };
	CHECK_EQ(adv_call(&z, &vgpu_call_cuGraphInstantiateWithFlags, ia), CUDA_SUCCESS);
	CHECK_EQ(unmap(&z, rid), CUDA_SUCCESS);
	munmap(rmap, R);
	void *la[] = { &ge, &s };
	long lr = adv_call(&z, &vgpu_call_cuGraphLaunch, la);
	void *ya[] = { &s };
	long yr = adv_call(&z, &vgpu_call_cuStreamSynchronize, ya);
	if (lr == CUDA_SUCCESS && yr == CUDA_SUCCESS) {
		fprintf(stderr, "a graph copying from an unmapped pinned region ran without an error\n");
		check_failures++;
	}
	CHECK(adv_alive(&z));
	vgpu_chan_close(z.ch);
}

int main(void)
{
	static const char *const opts[] = { "--zone-pinned-limit", "256K", NULL };
	struct ptest_proxy p;
	struct adv_zone a, b, a2;
	CUcontext ca = NULL, cb = NULL;
	CUdeviceptr pa = 0, pb = 0;
	static uint8_t da[R], db[R], back[R];
	uint8_t *ra = NULL;
	uint64_t ida = 0, idb = 0, id = 0, region_dptr = 0;

	if (adv_start(&p, opts) < 0)
		return 1;
	CHECK_EQ(adv_open(&p, &a, "attacker", NULL), 0);
	CHECK_EQ(adv_open(&p, &b, "victim", NULL), 0);
	CHECK_EQ(adv_init_ctx(&a, &ca), CUDA_SUCCESS);
	CHECK_EQ(adv_init_ctx(&b, &cb), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&a, &pa, R), CUDA_SUCCESS);
	CHECK_EQ(adv_alloc(&b, &pb, R), CUDA_SUCCESS);
	for (unsigned i = 0; i < R; i++) {
		da[i] = (uint8_t)(i ^ 0x5a);
		db[i] = (uint8_t)(i * 7 + 3);
	}
	CHECK_EQ(adv_htod(&a, pa, da, R), CUDA_SUCCESS);
	CHECK_EQ(adv_htod(&b, pb, db, R), CUDA_SUCCESS);

	/* Regions that lie: none passed, unsealed, another size, not a memfd. */
	CHECK_EQ(map(&a, R, -1, &id), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(map(&a, R, region_fd(R, 0, NULL), &id), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(map(&a, 2 * R, region_fd(R, 1, NULL), &id), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(map(&a, R + 1, region_fd(R + 1, 1, NULL), &id), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(map(&a, 0, region_fd(R, 1, NULL), &id), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(map(&a, R, open("/dev/zero", O_RDWR | O_CLOEXEC), &id), CUDA_ERROR_INVALID_VALUE);
	CHECK(adv_alive(&a));
	/* Granted pages (a Xen guest's regions) on a zone whose channel is not Xen: refused, and
	 * nothing mapped (the worker has no domain to map them from). */
	{
		uint64_t gb = 4 * 4096;
		uint32_t gn = 4, grefs[4] = { 8, 9, 10, 11 };
		const uint32_t *gp = grefs;
		uint64_t *gid = &id;
		void *gav[VGPU_PGW_NARGS] = { [VGPU_PGW_BYTES] = &gb, [VGPU_PGW_NREFS] = &gn, [VGPU_PGW_REFS] = &gp,
					      [VGPU_PGW_ID] = &gid };
		CHECK_EQ(adv_call(&a, &vgpu_wire_pinned_grant, gav), CUDA_ERROR_NOT_SUPPORTED);
		CHECK(adv_alive(&a));
	}

	/* A true region: a copy through it moves the zone's bytes both ways. */
	CHECK_EQ(map(&a, R, region_fd(R, 1, (void **)&ra), &ida), CUDA_SUCCESS);
	CHECK(ida != 0);
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_DTOH, 0, R, pa), CUDA_SUCCESS);
	CHECK(memcmp(ra, da, R) == 0);
	for (unsigned i = 0; i < R; i++)
		ra[i] = (uint8_t)~da[i];
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_HTOD, 13, R - 100, pa + 7), CUDA_SUCCESS);
	CHECK_EQ(adv_dtoh(&a, back, pa, R), CUDA_SUCCESS);
	CHECK(memcmp(back, da, 7) == 0);
	CHECK(memcmp(back + 7, ra + 13, R - 100) == 0);
	CHECK(memcmp(back + 7 + R - 100, da + 7 + R - 100, 93) == 0);
	CHECK_EQ(adv_htod(&a, pa, da, R), CUDA_SUCCESS);
	memset(ra, 0xee, R);

	/* Outside the region: past its end, straddling it, wrapping around 2^64. */
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_HTOD, R, 1, pa), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_HTOD, R - 1, 2, pa), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_DTOH, 1, R, pa), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_DTOH, UINT64_MAX, 2, pa), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_HTOD, 2, UINT64_MAX, pa), CUDA_ERROR_INVALID_VALUE);
	/* Device memory that is not the zone's: the other zone's, or past its own allocation. */
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_DTOH, 0, 16, pb), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_HTOD, 0, 16, pb), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_HTOD, 0, 2, pa + R - 1), CUDA_ERROR_INVALID_VALUE);
	/* Bad directions and flags, the async flag on a message that waits for its reply, a
	 * stream that is not the zone's. */
	CHECK_EQ(copy(&a, ida, 3, 0, 16, pa), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy_full(&a, ida, VGPU_PINNED_HTOD, 8, 0, 16, pa, NULL), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy_full(&a, ida, VGPU_PINNED_HTOD, VGPU_PINNED_F_ASYNC, 0, 16, pa, NULL), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy_full(&a, ida, VGPU_PINNED_HTOD, 0, 0, 16, pa, (CUstream)0x1234), CUDA_ERROR_INVALID_HANDLE);
	/* Another zone's region id names nothing in this zone, and the reverse. */
	CHECK_EQ(map(&b, R, region_fd(R, 1, NULL), &idb), CUDA_SUCCESS);
	CHECK_EQ(copy(&b, ida, VGPU_PINNED_DTOH, 0, 16, pb), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy(&a, idb, VGPU_PINNED_HTOD, 0, 16, pa), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(copy(&a, ida ^ 1, VGPU_PINNED_HTOD, 0, 16, pa), CUDA_ERROR_INVALID_VALUE);
	/* Where a region is: the zone's own only (the simulator maps it for kernels at the
	 * worker's address of it, as a driver with unified addressing does). */
	{
		uint64_t addr = 0, dptr = 0;
		CHECK_EQ(where(&a, ida, &addr, &dptr), CUDA_SUCCESS);
		CHECK(addr != 0 && addr % 4096 == 0);
		CHECK_EQ(dptr, addr);
		CHECK_EQ(where(&b, ida, &addr, &dptr), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(where(&a, idb, &addr, &dptr), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(where(&a, ida ^ 2, &addr, &dptr), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(where(&a, 0, &addr, &dptr), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(where(&a, ida, NULL, &dptr), CUDA_ERROR_INVALID_VALUE);   /* nowhere to answer */
		CHECK(adv_alive(&a) && adv_alive(&b));
		/* its device range is the zone's device memory (managed and mapped memory): read
		 * through it, the region's bytes; past its end, from the other zone: refused */
		CHECK_EQ(where(&a, ida, &addr, &dptr), CUDA_SUCCESS);
		memset(ra, 0xee, R);
		ra[100] = 0x42;
		CHECK_EQ(adv_dtoh(&a, back, dptr + 96, 8), CUDA_SUCCESS);
		CHECK(back[4] == 0x42 && back[0] == 0xee);
		CHECK_EQ(adv_dtoh(&a, back, dptr + R - 4, 8), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(adv_dtoh(&a, back, dptr - 4, 8), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(adv_dtoh(&b, back, dptr, 8), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(adv_htod(&b, dptr, db, 8), CUDA_ERROR_INVALID_VALUE);
		ra[100] = 0xee;
		region_dptr = dptr;
	}
	/* Nothing was read or written by any of them. */
	for (unsigned i = 0; i < R; i++)
		CHECK(ra[i] == 0xee);
	CHECK_EQ(adv_dtoh(&a, back, pa, R), CUDA_SUCCESS);
	CHECK(memcmp(back, da, R) == 0);
	CHECK_EQ(adv_dtoh(&b, back, pb, R), CUDA_SUCCESS);
	CHECK(memcmp(back, db, R) == 0);

	/* The quota (256K): three more regions of 64K fit, the next does not. */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(map(&a, R, region_fd(R, 1, NULL), &id), CUDA_SUCCESS);
	CHECK_EQ(map(&a, R, region_fd(R, 1, NULL), &id), CUDA_ERROR_OUT_OF_MEMORY);
	/* Unmapped, a region is gone; its quota is free again. */
	CHECK_EQ(unmap(&a, ida), CUDA_SUCCESS);
	CHECK_EQ(unmap(&a, ida), CUDA_ERROR_INVALID_VALUE);
	{
		uint64_t addr = 0, dptr = 0;
		CHECK_EQ(where(&a, ida, &addr, &dptr), CUDA_ERROR_INVALID_VALUE);
		CHECK_EQ(adv_dtoh(&a, back, region_dptr, 8), CUDA_ERROR_INVALID_VALUE);   /* unmapped */
	}
	CHECK_EQ(copy(&a, ida, VGPU_PINNED_HTOD, 0, 16, pa), CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(map(&a, R, region_fd(R, 1, NULL), &id), CUDA_SUCCESS);
	CHECK_EQ(unmap(&b, idb + 1), CUDA_ERROR_INVALID_VALUE);
	CHECK(adv_alive(&a) && adv_alive(&b));

	/* A malformed message (not msgpack) closes that channel only. */
	CHECK_EQ(adv_open(&p, &a2, "attacker", a.w.token), 0);
	static const uint8_t junk[] = { 0x97, 0xc1, 0xff };
	CHECK_EQ(adv_raw(&a2, VGPU_OP_PINNED_COPY, 0, junk, sizeof(junk)), -EPIPE);
	CHECK(adv_alive(&a) && adv_alive(&b));
	vgpu_chan_close(a2.ch);

	munmap(ra, R);
	vgpu_chan_close(a.ch);
	vgpu_chan_close(b.ch);
	/* Both zones end with their regions unmapped, before the proxy is stopped. */
	adv_wait_zones_ended(&p, 2);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "grep -q 'zone unmapped 262144 bytes of pinned' %s", p.log);
	CHECK_EQ(system(cmd), 0);
	captured_then_unmapped(&p);
	adv_wait_zones_ended(&p, 3);
	adv_finish(&p);
	CHECK_DONE();
}
