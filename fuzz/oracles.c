/* SPDX-License-Identifier: MIT */
/* oracles.c — the isolation oracles of the decoder/dispatch fuzz target (docs/SECURITY.md lists what each guards). */
/* vgpu_dispatch.h names the driver's _v2 entry points itself: keep cuda.h's renaming macros off. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <dlfcn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "fz.h"
#include "htab_peek.h"
#include "session.h"
#include "vgpu_dispatch.h"

int fz_sabotage;

void fz_violation(const char *fmt, ...)
{
	va_list ap;
	fputs("vgpu-fuzz: ISOLATION ORACLE VIOLATED: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- the reply oracle: a reply is exactly one msgpack array [CUresult, ...] ---- */

struct vals { uint64_t *v; unsigned n, cap; const uint8_t *p; };
static void collect_u64(void *ctx, size_t off)
{
	struct vals *vs = ctx;
	if (vs->n < vs->cap)
		vs->v[vs->n++] = fz_rd_be64(vs->p + off + 1);
}

void fz_check_reply(struct fz_zone *zz, uint16_t opcode, uint16_t flags, uint32_t seq,
			const uint8_t *p, uint32_t len)
{
	size_t o = 0;
	struct vals vs = { zz->last_vals, 0, FZ_MAX_VALS, p };
	FZ_CHECK(zz->want_reply, "zone %d: a reply (opcode %u) for an asynchronous request", zz->idx, opcode);
	FZ_CHECK(flags & VGPU_MSG_F_REPLY, "zone %d: a message without F_REPLY", zz->idx);
	FZ_CHECK(opcode == zz->hdr.opcode && seq == zz->hdr.seq,
		 "zone %d: reply opcode %u seq %u answers request opcode %u seq %u", zz->idx, opcode, seq,
		 zz->hdr.opcode, zz->hdr.seq);
	/* The array header: fixarray, array16 or array32 (a call with 15+ parameters). */
	size_t at = 1;
	uint32_t cnt = 0;
	if (len >= 1 && (p[0] & 0xf0) == 0x90)
		cnt = p[0] & 0x0f;
	else if (len >= 3 && p[0] == 0xdc)
		cnt = (uint32_t)p[1] << 8 | p[2], at = 3;
	else if (len >= 5 && p[0] == 0xdd)
		cnt = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4], at = 5;
	FZ_CHECK(cnt >= 1 && at < len, "zone %d opcode %u: reply is not a non-empty msgpack array (len %u, first byte 0x%02x)",
		 zz->idx, opcode, len, len ? p[0] : 0);
	FZ_CHECK(p[at] <= 0x7f || p[at] == 0xcc || p[at] == 0xcd || p[at] == 0xce,
		 "zone %d opcode %u: reply's result is not an unsigned integer (0x%02x)", zz->idx, opcode, p[at]);
	FZ_CHECK(fz_mp_walk(p, len, &o, 0, collect_u64, &vs) == 0 && o == len,
		 "zone %d opcode %u: reply of %u bytes is not exactly one well-formed msgpack object (%zu used)",
		 zz->idx, opcode, len, o);
	zz->n_last = vs.n;
	if (fz.trace) {
		unsigned w = p[at] <= 0x7f ? 0 : p[at] == 0xcc ? 1 : p[at] == 0xcd ? 2 : 4;
		uint32_t res = w ? 0 : p[at];
		for (unsigned i = 1; i <= w && at + i < len; i++)
			res = res << 8 | p[at + i];
		fprintf(stderr, "vgpu-fuzz: zone %d reply opcode %u seq %u len %u result %u\n", zz->idx, opcode, seq,
			len, res);
	}
}

/* ---- ownership, quota, memory, dispatch ---- */


uint64_t fz_zone_digest(struct vgpu_zone *z)
{
	uint64_t h = 0xcbf29ce484222325ull;
	pthread_mutex_lock(&z->lock);
	h = fz_htab_digest(&z->htab, h);
	h = fz_hash(h, &z->amap.n, sizeof(z->amap.n));
	h = fz_hash(h, &z->amap.bytes, sizeof(z->amap.bytes));
	if (z->amap.v)
		h = fz_hash(h, z->amap.v, (size_t)z->amap.n * sizeof(*z->amap.v));
	h = fz_hash(h, &z->mem, sizeof(z->mem));
	pthread_mutex_unlock(&z->lock);
	return h;
}

struct xcheck { const struct vgpu_htab *other; int zone; unsigned type; void *real; int found; };

static void find_real(void *ctx, unsigned type, void *real)
{
	struct xcheck *x = ctx;
	if (type == x->type && real == x->real)
		x->found = 1;
}

/*
 * 1 when pool is a device's default or current memory pool: state of the device in the
 * process (cuDeviceGetDefaultMemPool, cuDeviceSetMemPool/GetMemPool), which both zones reach
 * here, in one simulator, and which each zone's worker process has on its own in the proxy.
 */
static int device_pool(void *pool)
{
	static CUresult (*get_default)(CUmemoryPool *, CUdevice), (*get_current)(CUmemoryPool *, CUdevice),
		(*count)(int *);
	static int looked;
	int n = 0;

	if (!looked) {
		*(void **)&get_default = dlsym(fz.be.dl, "cuDeviceGetDefaultMemPool");
		*(void **)&get_current = dlsym(fz.be.dl, "cuDeviceGetMemPool");
		*(void **)&count = dlsym(fz.be.dl, "cuDeviceGetCount");
		looked = 1;
	}
	if (!get_default || !get_current || !count || count(&n) != CUDA_SUCCESS)
		return 0;
	for (int d = 0; d < n; d++) {
		CUmemoryPool p = NULL;
		if ((get_default(&p, d) == CUDA_SUCCESS && p == pool) ||
		    (get_current(&p, d) == CUDA_SUCCESS && p == pool))
			return 1;
	}
	return 0;
}

static void check_foreign(void *ctx, unsigned type, void *real)
{
	struct xcheck *x = ctx;
	/*
	 * Contexts are exempt: both zones run in ONE simulator here, so both legitimately hold
	 * the device's primary context; in the proxy each zone's worker process has its own.
	 * The same holds for the device's default and current memory pools.
	 */
	if (type == VGPU_H_CONTEXT || (type == VGPU_H_MEMORY_POOL && device_pool(real)))
		return;
	x->type = type;
	x->real = real;
	x->found = 0;
	fz_htab_walk(x->other, find_real, x);
	FZ_CHECK(!x->found, "zone %d's table maps a type-%u object (%p) that zone %d's table maps too",
		 x->zone, type, real, !x->zone);
}

static void check_zone_counters(struct fz_zone *zz)
{
	struct vgpu_zone *z = &zz->zone;
	pthread_mutex_lock(&z->lock);
	FZ_CHECK(z->htab.live <= z->htab.limit, "zone %d holds %u handles over its quota %u", zz->idx,
		 z->htab.live, z->htab.limit);
	FZ_CHECK(z->mem.used == z->amap.bytes + z->vmm.bytes + vgpu_zone_limits_charged(z) + vgpu_tex_arrays_charged(z),
		 "zone %d: device-memory counter %llu differs from its allocation map's %llu bytes plus %llu bytes "
		 "of physical memory plus %llu bytes of context limits plus %llu bytes of arrays between calls", zz->idx,
		 (unsigned long long)z->mem.used, (unsigned long long)z->amap.bytes, (unsigned long long)z->vmm.bytes,
		 (unsigned long long)vgpu_zone_limits_charged(z), (unsigned long long)vgpu_tex_arrays_charged(z));
	FZ_CHECK(atomic_load((_Atomic uint64_t *)&z->bulk_used) == 0,
		 "zone %d: %llu in-flight bulk bytes still reserved between calls", zz->idx,
		 (unsigned long long)z->bulk_used);
	pthread_mutex_unlock(&z->lock);
}

/* After a message of zone z: the other zone's state is untouched, no object is in both tables. */
void fz_check_after_message(int z, uint64_t other_before)
{
	struct fz_zone *me = &fz.z[z], *other = &fz.z[!z];
	FZ_CHECK(fz_zone_digest(&other->zone) == other_before,
		 "a message of zone %d (opcode %u) changed zone %d's handle table or allocation map", z,
		 me->hdr.opcode, !z);
	check_zone_counters(me);
	struct xcheck x = { .other = &other->zone.htab, .zone = z };
	fz_htab_walk(&me->zone.htab, check_foreign, &x);
}

/*
 * Ranges known to hold none of a zone's memory, kept per thread (the threads that run
 * kernels): an answer holds while the zone's allocation map, mapped ranges and pinned table
 * keep the generations it was found at. Every change of one of them takes a generation no
 * table had before (vgpu_table_gen_next), so the first access after the other zone's memory
 * changed in any way is looked up again, and a kernel's many accesses to one buffer cost one
 * lookup. What is checked is the whole range [p, p + len), not only its ends.
 */
#define FZ_CLEAR_SLOTS 4
struct clear_range { uint64_t lo, hi, ga, gv, gp; int zone; };
static __thread struct clear_range clear_cache[FZ_CLEAR_SLOTS];
static __thread unsigned clear_next;

static inline uint64_t gen_of(const uint64_t *g)
{
	return __atomic_load_n(g, __ATOMIC_ACQUIRE);
}

/* Does [p, p + len) (len >= 1) touch memory of zone zi (an allocation, a mapped range, or a
 * pinned region its kernels reach)? */
static int touches(int zi, uint64_t p, uint64_t len)
{
	struct vgpu_zone *z = &fz.z[zi].zone;
	if (p + len - 1 < p)
		len = 0 - p;   /* (a range past 2^64 resolves nowhere; its part below is checked) */
	uint64_t ga = gen_of(&z->amap.gen), gv = gen_of(&z->vmm.ranges.gen), gp = gen_of(&z->pinned.gen);
	for (unsigned i = 0; i < FZ_CLEAR_SLOTS; i++) {
		const struct clear_range *c = &clear_cache[i];
		if (c->hi && c->zone == zi && p - c->lo < c->hi - c->lo && len <= c->hi - p && c->ga == ga &&
		    c->gv == gv && c->gp == gp)
			return 0;
	}
	uint64_t lo = 0, hi = UINT64_MAX;
	pthread_mutex_lock(&z->lock);
	ga = z->amap.gen;
	gv = z->vmm.ranges.gen;
	int hit = vgpu_allocmap_gap(&z->amap, p, len, &lo, &hi) != 0 ||
		  vgpu_allocmap_gap(&z->vmm.ranges, p, len, &lo, &hi) != 0;
	pthread_mutex_unlock(&z->lock);
	if (!hit)
		hit = vgpu_pinned_gap(&z->pinned, p, len, &lo, &hi, &gp) != 0;
	if (!hit)
		clear_cache[clear_next++ % FZ_CLEAR_SLOTS] =
			(struct clear_range){ .lo = lo, .hi = hi, .ga = ga, .gv = gv, .gp = gp, .zone = zi };
	return hit;
}

/*
 * The simulator reports every device range it reads or writes for an API call, and each
 * global access a kernel makes (after the address resolved). Copies and memsets were
 * range-checked by the proxy and must lie inside one of the calling zone's allocations.
 * Kernel accesses are not the proxy's to check (pointers inside kernel parameters): there
 * isolation comes from each zone's worker being its own process, which the simulator's
 * address spaces model here (each zone's fiber allocates and launches in its own; a kernel
 * reaching another space's memory faults, CUDA_ERROR_ILLEGAL_ADDRESS). The oracle: no
 * access a kernel of one zone makes touches the other zone's memory.
 */
void fz_mem_hook(void *ctx, uint64_t p, uint64_t len, int write)
{
	(void)ctx;
	unsigned ks = fz.kernel_space();
	if (ks) {
		int kz = (int)ks - 2;          /* space = zone + 1, ks = space + 1 */
		if (kz < 0 || kz >= FZ_ZONES || !len)
			return;                /* the harness's own kernels (none), or nothing touched */
		int other = fz_sabotage == SAB_KERNEL ? kz : !kz;
		FZ_CHECK(!touches(other, p, len), "a kernel of zone %d %s zone %d's memory [0x%llx, +0x%llx)",
			 kz, write ? "wrote" : "read", other, (unsigned long long)p, (unsigned long long)len);
		return;
	}
	int z = atomic_load(&fz.active);
	if (z < 0 || atomic_load(&fz.kernel_msg))
		return;   /* teardown of the harness itself, or a graph launch's copies (checked when captured) */
	struct vgpu_zone *zn = &fz.z[fz_sabotage == SAB_MEMORY ? !z : z].zone;
	pthread_mutex_lock(&zn->lock);
	int rc = vgpu_allocmap_check(&zn->amap, p, len, NULL);
	if (rc != 0)
		rc = vgpu_vmm_covers(&zn->vmm, p, len);
	pthread_mutex_unlock(&zn->lock);
	if (rc != 0)   /* its own pinned regions are device memory for its calls (mapped, managed) */
		rc = vgpu_pinned_covers(&zn->pinned, p, len);
	FZ_CHECK(rc == 0, "zone %d's call made the backend %s device range [0x%llx, +0x%llx), which is not inside "
		 "one of the zone's allocations or kernel-reachable pinned regions", z, write ? "write" : "read", (unsigned long long)p,
		 (unsigned long long)len);
}

/* Only calls the spec classifies as remoted have a thunk; hand-written ones have none. */
void fz_check_dispatch_table(void)
{
	for (unsigned op = 0; op < VGPU_OP_COUNT; op++) {
		const struct vgpu_dispatch_entry *e = &vgpu_dispatch_table[op];
		if (!e->thunk)
			continue;
		FZ_CHECK(e->desc && e->desc->opcode == op, "dispatch entry %u has a thunk but no matching descriptor", op);
		FZ_CHECK(!(e->desc->flags & VGPU_CALLF_CUSTOM), "dispatch entry %u (%s) is custom but has a generated thunk",
			 op, e->desc->name);
	}
}
