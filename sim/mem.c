/* SPDX-License-Identifier: MIT */
/* Device memory of the simulator: one lazily-backed mmap arena (device pointers are its
 * host addresses, so no host allocation can ever alias one) plus a sorted table of live
 * allocations, device and pinned host alike, searched in O(log n). */
#include "sim.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ALIGN 256

static pthread_rwlock_t mem_lock = PTHREAD_RWLOCK_INITIALIZER;
static uint8_t *arena;
static uint64_t arena_size, per_dev;
static uint64_t used[SIM_MAX_DEVICES];
static struct sim_alloc *tab;      /* sorted by base */
static size_t ntab, captab;
static uint64_t next_id = 1;
/* free extents of the arena, sorted by offset */
static struct ext { uint64_t off, len; } *fr;
static size_t nfr, capfr;

void (*sim_hook_fn)(void *ctx, uint64_t dptr, uint64_t len, int write);
void *sim_hook_ctx;

static uint64_t parse_size(const char *s, uint64_t dflt)
{
	if (!s || !*s)
		return dflt;
	char *e;
	unsigned long long v = strtoull(s, &e, 0);
	switch (*e) {
	case 'k': case 'K': v <<= 10; break;
	case 'm': case 'M': v <<= 20; break;
	case 'g': case 'G': v <<= 30; break;
	default: break;
	}
	return v ? v : dflt;
}

int sim_mem_init(void)
{
	per_dev = parse_size(getenv("VGPU_SIM_MEM"), 4ull << 30);
	if (per_dev < (1u << 20))
		per_dev = 1u << 20;
	if (per_dev > (1ull << 40))
		per_dev = 1ull << 40;
	per_dev = (per_dev + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	arena_size = per_dev * (uint64_t)g_ndev;
	/* reserved, backed lazily: untouched pages cost nothing. VGPU_SIM_ARENA_BASE (hex, a
	 * test hook) places it at a fixed address when that is free, so device pointers repeat
	 * from run to run: a session recorded against one simulator replays into another with
	 * the same pointers, even inside kernel parameters (the fuzz harness's seeds). */
	void *p = MAP_FAILED;
	const char *fixed = getenv("VGPU_SIM_ARENA_BASE");
	uint64_t want = fixed && *fixed ? strtoull(fixed, NULL, 16) & ~(uint64_t)0xfffff : 0;
	if (want) {
		p = mmap((void *)(uintptr_t)want, arena_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != MAP_FAILED && (uint64_t)(uintptr_t)p != want) {
			munmap(p, arena_size);
			p = MAP_FAILED;
		}
		if (p == MAP_FAILED)
			sim_log("VGPU_SIM_ARENA_BASE=%s: that range is taken; device memory goes elsewhere", fixed);
	}
	if (p == MAP_FAILED)
		p = mmap(NULL, arena_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		sim_log("cannot reserve %llu bytes of address space for device memory (VGPU_SIM_MEM); "
		        "set VGPU_SIM_MEM lower", (unsigned long long)arena_size);
		return -ENOMEM;
	}
	arena = p;
	fr = malloc(sizeof(*fr) * 16);
	if (!fr)
		return -ENOMEM;
	capfr = 16;
	nfr = 1;
	fr[0] = (struct ext){0, arena_size};
	return 0;
}

uint64_t sim_mem_total(void) { return per_dev; }

uint64_t sim_mem_used(int dev)
{
	pthread_rwlock_rdlock(&mem_lock);
	uint64_t u = dev >= 0 && dev < SIM_MAX_DEVICES ? used[dev] : 0;
	pthread_rwlock_unlock(&mem_lock);
	return u;
}

int sim_mem_charge(int dev, uint64_t size)
{
	int rc = -ENOMEM;
	pthread_rwlock_wrlock(&mem_lock);
	if (dev >= 0 && dev < SIM_MAX_DEVICES && size <= per_dev && used[dev] + size <= per_dev) {
		used[dev] += size;
		rc = 0;
	}
	pthread_rwlock_unlock(&mem_lock);
	return rc;
}

void sim_mem_uncharge(int dev, uint64_t size)
{
	pthread_rwlock_wrlock(&mem_lock);
	if (dev >= 0 && dev < SIM_MAX_DEVICES)
		used[dev] -= size <= used[dev] ? size : used[dev];
	pthread_rwlock_unlock(&mem_lock);
}

int sim_mem_in_arena(uint64_t a)
{
	return arena && a >= (uint64_t)(uintptr_t)arena && a - (uint64_t)(uintptr_t)arena < arena_size;
}

/* index of the first entry with base > a */
static size_t upper(uint64_t a)
{
	size_t lo = 0, hi = ntab;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (tab[mid].base <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int tab_insert(const struct sim_alloc *a)
{
	if (ntab == captab) {
		size_t nc = captab ? captab * 2 : 64;
		struct sim_alloc *t = realloc(tab, nc * sizeof(*t));
		if (!t)
			return -ENOMEM;
		tab = t;
		captab = nc;
	}
	size_t i = upper(a->base);
	if (i > 0 && tab[i - 1].base + tab[i - 1].size > a->base)
		return -EEXIST;
	if (i < ntab && a->base + a->size > tab[i].base)
		return -EEXIST;
	memmove(&tab[i + 1], &tab[i], (ntab - i) * sizeof(*tab));
	tab[i] = *a;
	tab[i].id = next_id++;
	tab[i].space = sim_space;
	ntab++;
	return 0;
}

static int ext_add(uint64_t off, uint64_t len)
{
	size_t i = 0;
	while (i < nfr && fr[i].off < off)
		i++;
	/* merge with neighbours */
	int left = i > 0 && fr[i - 1].off + fr[i - 1].len == off;
	int right = i < nfr && off + len == fr[i].off;
	if (left && right) {
		fr[i - 1].len += len + fr[i].len;
		memmove(&fr[i], &fr[i + 1], (nfr - i - 1) * sizeof(*fr));
		nfr--;
	} else if (left) {
		fr[i - 1].len += len;
	} else if (right) {
		fr[i].off = off;
		fr[i].len += len;
	} else {
		if (nfr == capfr) {
			struct ext *n = realloc(fr, capfr * 2 * sizeof(*fr));
			if (!n)
				return -ENOMEM;
			fr = n;
			capfr *= 2;
		}
		memmove(&fr[i + 1], &fr[i], (nfr - i) * sizeof(*fr));
		fr[i] = (struct ext){off, len};
		nfr++;
	}
	return 0;
}

int sim_mem_alloc(struct sim_ctx *ctx, int dev, uint64_t size, uint64_t *dptr)
{
	return sim_mem_alloc_kind(ctx, dev, size, ALLOC_DEVICE, dptr);
}

int sim_mem_alloc_kind(struct sim_ctx *ctx, int dev, uint64_t size, int kind, uint64_t *dptr)
{
	if (size == 0 || size > per_dev)
		return size ? -ENOMEM : -EINVAL;
	uint64_t sz = (size + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	pthread_rwlock_wrlock(&mem_lock);
	int rc = -ENOMEM;
	if (used[dev] + sz > per_dev)
		goto out;
	for (size_t i = 0; i < nfr; i++) {
		if (fr[i].len < sz)
			continue;
		uint64_t off = fr[i].off;
		struct sim_alloc a = {.base = (uint64_t)(uintptr_t)arena + off, .size = size,
		                      .kind = kind, .dev = dev, .ctx = ctx};
		rc = tab_insert(&a);
		if (rc)
			goto out;
		fr[i].off += sz;
		fr[i].len -= sz;
		if (fr[i].len == 0) {
			memmove(&fr[i], &fr[i + 1], (nfr - i - 1) * sizeof(*fr));
			nfr--;
		}
		used[dev] += sz;
		*dptr = a.base;
		rc = 0;
		break;
	}
out:
	pthread_rwlock_unlock(&mem_lock);
	return rc;
}

/* Removes entry i (device memory goes back to the arena, zeroed by MADV_DONTNEED). */
static void tab_remove(size_t i)
{
	assert(i < ntab);
	struct sim_alloc a = tab[i];
	memmove(&tab[i], &tab[i + 1], (ntab - i - 1) * sizeof(*tab));
	ntab--;
	if (a.kind != ALLOC_DEVICE && a.kind != ALLOC_ARRAY)
		return;
	uint64_t sz = (a.size + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	uint64_t off = a.base - (uint64_t)(uintptr_t)arena;
	assert(off < arena_size && sz <= arena_size - off && used[a.dev] >= sz);
	used[a.dev] -= sz;
	if (sz >= 65536)
		madvise(arena + off, sz & ~(uint64_t)4095, MADV_DONTNEED);
	if (ext_add(off, sz) < 0)
		sim_log("out of memory tracking free device memory; %llu bytes leak",
		        (unsigned long long)sz);
}

int sim_mem_free(uint64_t dptr, int kind)
{
	pthread_rwlock_wrlock(&mem_lock);
	size_t i = upper(dptr);
	int rc = -EINVAL;
	if (i > 0 && tab[i - 1].base == dptr && tab[i - 1].kind == kind) {
		tab_remove(i - 1);
		rc = 0;
	}
	pthread_rwlock_unlock(&mem_lock);
	if (rc == 0 && kind == ALLOC_DEVICE)
		sim_pool_forget(dptr);
	return rc;
}

int sim_mem_add_vmm(uint64_t base, uint64_t size, int dev)
{
	struct sim_alloc a = {.base = base, .size = size, .kind = ALLOC_VMM, .dev = dev};
	pthread_rwlock_wrlock(&mem_lock);
	int rc = tab_insert(&a);
	pthread_rwlock_unlock(&mem_lock);
	return rc;
}

int sim_mem_add_host(struct sim_ctx *ctx, void *p, uint64_t size, int kind, unsigned flags)
{
	struct sim_alloc a = {.base = (uint64_t)(uintptr_t)p, .size = size, .kind = kind,
	                      .dev = ctx ? ctx->dev : 0, .ctx = ctx, .flags = flags};
	pthread_rwlock_wrlock(&mem_lock);
	int rc = tab_insert(&a);
	pthread_rwlock_unlock(&mem_lock);
	return rc;
}

int sim_mem_find(uint64_t a, uint64_t len, struct sim_alloc *out)
{
	pthread_rwlock_rdlock(&mem_lock);
	size_t i = upper(a);
	int rc = -EINVAL;
	if (i > 0) {
		const struct sim_alloc *e = &tab[i - 1];
		uint64_t off = a - e->base;
		if (off < e->size && len <= e->size - off) {
			if (out)
				*out = *e;
			rc = 0;
		} else if (off < e->size && e->kind == ALLOC_VMM) {
			/* mapped ranges that follow each other make one span (a segment grown by
			 * granules): the answer is that span, as one allocation */
			struct sim_alloc span = *e;
			for (size_t j = i; j < ntab && tab[j].kind == ALLOC_VMM && tab[j].base == span.base + span.size &&
			     len > span.size - off; j++)
				span.size += tab[j].size;
			if (len <= span.size - off) {
				if (out)
					*out = span;
				rc = 0;
			}
		}
	}
	pthread_rwlock_unlock(&mem_lock);
	return rc;
}

int sim_mem_find_live(uint64_t a, uint64_t len)
{
	struct sim_alloc e;
	if (sim_mem_find(a, len, &e) < 0)
		return -EINVAL;
	return e.dormant ? -EFAULT : 0;
}

int sim_mem_set_dormant(uint64_t base, int dormant)
{
	pthread_rwlock_wrlock(&mem_lock);
	size_t i = upper(base);
	int rc = -EINVAL;
	if (i > 0 && tab[i - 1].base == base) {
		tab[i - 1].dormant = dormant;
		rc = 0;
	}
	pthread_rwlock_unlock(&mem_lock);
	return rc;
}

int sim_mem_set_flags(uint64_t base, unsigned flags)
{
	pthread_rwlock_wrlock(&mem_lock);
	size_t i = upper(base);
	int rc = -EINVAL;
	if (i > 0 && tab[i - 1].base == base) {
		tab[i - 1].flags |= flags;
		rc = 0;
	}
	pthread_rwlock_unlock(&mem_lock);
	return rc;
}

__thread unsigned sim_space, sim_kernel_space;
int sim_space_checks = 1;

int sim_mem_resolve(void *space, uint64_t addr, uint64_t len, struct ptx_range *out)
{
	struct sim_alloc a;
	if (sim_mem_find(addr, len, &a) < 0 || (a.space != (unsigned)(uintptr_t)space && sim_space_checks) ||
	    a.dormant)
		return -EFAULT;
	out->lo = a.base;
	out->len = a.size;
	out->delta = 0;
	return 0;
}

void sim_mem_free_ctx(struct sim_ctx *ctx)
{
	pthread_rwlock_wrlock(&mem_lock);
	for (size_t i = ntab; i-- > 0;)
		if (tab[i].ctx == ctx) {
			if (tab[i].kind == ALLOC_HOST || tab[i].kind == ALLOC_MANAGED)
				free((void *)(uintptr_t)tab[i].base);
			tab_remove(i);
		}
	pthread_rwlock_unlock(&mem_lock);
}
