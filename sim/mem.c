/* SPDX-License-Identifier: MIT */
/* Device memory of the simulator: one lazily-backed mmap arena (device pointers are its
 * host addresses, so no host allocation can ever alias one) plus a sorted table of live
 * allocations, device and pinned host alike, searched in O(log n). */
#include "sim.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALIGN 256

static pthread_rwlock_t mem_lock = PTHREAD_RWLOCK_INITIALIZER;
static uint8_t *arena;
static uint64_t arena_size, per_dev;
/* VGPU_SIM_KEEP_FREED: freed device memory up to this size keeps its pages, zeroed in place */
static uint64_t keep_freed;
static uint64_t used[SIM_MAX_DEVICES];
static struct sim_alloc *tab;      /* sorted by base */
static size_t ntab, captab;
static uint64_t next_id = 1;
/* free extents of the arena, sorted by offset */
static struct ext { uint64_t off, len; } *fr;
static size_t nfr, capfr;

void (*sim_hook_fn)(void *ctx, uint64_t dptr, uint64_t len, int write);
void *sim_hook_ctx;

/*
 * Sharing with other processes (cuIpc*): made at the first export, under mem_lock. ipc_fd is
 * one sparse memfd as long as the arena plus a directory of the live exports; the arena's
 * 2 MiB chunks that an export touched (ipc_chunks, a bitmap) map it at their own offsets, so
 * device pointers never move. Pages of a shared chunk are given back by punching a hole in
 * the file (MADV_DONTNEED would only drop this process's view of them).
 */
#define IPC_CHUNK (2ull << 20)
#define IPC_PAGE 4096ull
#define IPC_SLOTS 65536u                  /* exports live at once */
#define IPC_DIR_MAGIC 0x5249445653494d00ull
/* The memfd: this header, the directory's entries, then the arena (a page-aligned offset). */
struct ipc_dir_head { uint64_t magic, nonce, span, slots; };
struct ipc_dir_entry { uint64_t serial, off, size, unused; };   /* serial 0: a free entry */
#define IPC_DIR_BYTES (IPC_PAGE + (uint64_t)IPC_SLOTS * sizeof(struct ipc_dir_entry))
static int ipc_fd = -1;
static uint64_t ipc_ino, ipc_dev, ipc_nonce;
static uint64_t ipc_span;                 /* the arena's length in whole pages, in the memfd after the directory */
static uint8_t *ipc_chunks;
static uint64_t ipc_serial_next = 1;
static uint32_t *ipc_slot_free, ipc_nslot_free, ipc_slot_next;
/* Other processes' memory mapped here, under mem_lock. */
static struct ipc_import {
	struct sim_ctx *ctx;
	struct sim_ipc_mem h;                 /* the handle it was opened with */
	uint64_t moff, mlen;                  /* the mapping: arena offset, bytes (whole pages) */
	uint64_t base;                        /* the pointer open gave */
	int refs;
} *ipc_imports;
static size_t ipc_nimports, ipc_capimports;
static void ipc_dir_clear(uint32_t slot);
static void ipc_release(size_t i);
static int ipc_touches_shared(uint64_t off, uint64_t len);
static void give_back(uint64_t off, uint64_t len);

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
	const char *kf = getenv("VGPU_SIM_KEEP_FREED");
	keep_freed = kf && *kf ? parse_size(kf, 0) : 0;
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
	ctx = sim_ctx_res(ctx);     /* a green context's memory is its primary context's */
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

/* Whether the 4 KiB page at p is all zero bytes: the words of each 256 bytes or'ed together
 * (which the compiler vectorises) before one test. */
static int page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	for (size_t i = 0; i < 4096 / 8; i += 32) {
		uint64_t acc = 0;
		for (size_t k = 0; k < 32; k++)
			acc |= w[i + k];
		if (acc)
			return 0;
	}
	return 1;
}

/*
 * Freed memory reads zero when it is next allocated. Giving its pages back (MADV_DONTNEED, or
 * a hole punched in the memfd of a chunk shared with other processes) does that, and the next
 * allocation there faults each page in again; a process that allocates and frees the same
 * memory over and over (the fuzz harness: thousands of inputs a second) spends more on those
 * faults than on its work. With VGPU_SIM_KEEP_FREED, a free of up to that many bytes clears
 * the pages that are resident in place instead (mincore: pages never touched stay untouched),
 * and of those only the ones not already zero: such a process's resident pages are mostly ones
 * cleared before and only read since (the harness's queue: 1,220,000 of 1,221,000), and reading
 * a page costs less than writing it. 0 when it did, -1 when the pages are to be given back.
 */
static int clear_in_place(uint8_t *p, uint64_t len, uint64_t freed)
{
	if (!keep_freed || freed > keep_freed)
		return -1;
	unsigned char vec[1024];
	for (uint64_t at = 0; at < len;) {
		uint64_t n = (len - at) / 4096 < sizeof(vec) ? (len - at) / 4096 : sizeof(vec);
		if (mincore(p + at, n * 4096, vec) != 0) {
			memset(p + at, 0, len - at);   /* (cannot fail on the arena's own pages) */
			return 0;
		}
		for (uint64_t i = 0; i < n; i++)
			if ((vec[i] & 1) && !page_zero(p + at + i * 4096))
				memset(p + at + i * 4096, 0, 4096);
		at += n * 4096;
	}
	return 0;
}

/* Removes entry i (device memory goes back to the arena, zero when next used). */
static void tab_remove(size_t i)
{
	assert(i < ntab);
	struct sim_alloc a = tab[i];
	memmove(&tab[i], &tab[i + 1], (ntab - i - 1) * sizeof(*tab));
	ntab--;
	if (a.kind == ALLOC_IPC) {
		for (size_t k = 0; k < ipc_nimports; k++)
			if (ipc_imports[k].base == a.base) {
				ipc_release(k);
				break;
			}
		return;
	}
	if (a.kind != ALLOC_DEVICE && a.kind != ALLOC_ARRAY)
		return;
	uint64_t sz = (a.size + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	uint64_t off = a.base - (uint64_t)(uintptr_t)arena;
	assert(off < arena_size && sz <= arena_size - off && used[a.dev] >= sz);
	used[a.dev] -= sz;
	if (a.ipc_serial)
		ipc_dir_clear(a.ipc_slot);
	if (sz >= 65536)
		give_back(off, sz);   /* its whole pages: an allocation is only 256-byte aligned */
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
	ctx = sim_ctx_res(ctx);
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

/* Frees what the table holds that matches: the context's memory (ctx), or the stream-ordered
 * memory of a device in the calling thread's space (ctx NULL, dev). */
static void free_matching(struct sim_ctx *ctx, int dev)
{
	/* device memory a pool gave out: its pool forgets it (as sim_mem_free does), or the pool's
	 * count would keep it and a later allocation at the same address be taken for it */
	uint64_t *pooled = NULL;
	size_t npooled = 0, cap = 0;
	pthread_rwlock_wrlock(&mem_lock);
	for (size_t i = ntab; i-- > 0;) {
		int ordered = tab[i].kind == ALLOC_DEVICE && (tab[i].flags & SIM_ALLOC_F_ORDERED);
		if (ctx && tab[i].ctx == ctx && ordered) {
			tab[i].ctx = NULL;   /* no context's any more: it stays (SIM_ALLOC_F_ORDERED) */
			continue;
		}
		if (ctx ? tab[i].ctx == ctx : ordered && tab[i].dev == dev && tab[i].space == sim_space) {
			if (tab[i].kind == ALLOC_HOST || tab[i].kind == ALLOC_MANAGED)
				free((void *)(uintptr_t)tab[i].base);
			if (tab[i].kind == ALLOC_DEVICE) {
				if (npooled == cap) {
					size_t nc = cap ? cap * 2 : 16;
					uint64_t *n = realloc(pooled, nc * sizeof(*n));
					if (n) {
						pooled = n;
						cap = nc;
					}
				}
				if (npooled < cap)
					pooled[npooled++] = tab[i].base;
			}
			tab_remove(i);
		}
	}
	pthread_rwlock_unlock(&mem_lock);
	for (size_t i = 0; i < npooled; i++)
		sim_pool_forget(pooled[i]);
	free(pooled);
}

void sim_mem_free_ctx(struct sim_ctx *ctx)
{
	free_matching(ctx, -1);
}

void sim_mem_free_ordered(int dev)
{
	free_matching(NULL, dev);
}

/* ---- sharing device memory with other processes (cuIpc*) ---- */

static int ipc_chunk_shared(uint64_t c)
{
	return ipc_chunks && (ipc_chunks[c / 8] >> (c % 8) & 1);
}

static int ipc_touches_shared(uint64_t off, uint64_t len)
{
	for (uint64_t c = off / IPC_CHUNK; c <= (off + len - 1) / IPC_CHUNK; c++)
		if (ipc_chunk_shared(c))
			return 1;
	return 0;
}

/* The memfd and the bitmap, at the first export: 0 or -ENOMEM. */
static int ipc_file(void)
{
	if (ipc_fd >= 0)
		return 0;
	uint64_t span = (arena_size + IPC_PAGE - 1) & ~(IPC_PAGE - 1);
	uint64_t nchunks = (span + IPC_CHUNK - 1) / IPC_CHUNK;
	uint8_t *bits = calloc((size_t)(nchunks + 7) / 8, 1);
	uint32_t *slots = malloc(IPC_SLOTS * sizeof(*slots));
	int fd = bits && slots ? memfd_create("vgpu-sim-ipc", MFD_CLOEXEC) : -1;
	uint64_t nonce = 0;
	if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != (ssize_t)sizeof(nonce)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		nonce = ((uint64_t)ts.tv_sec << 32 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 16) *
			0x9e3779b97f4a7c15ull;
	}
	struct ipc_dir_head hd = {IPC_DIR_MAGIC, nonce, span, IPC_SLOTS};
	struct stat st;
	if (fd < 0 || ftruncate(fd, (off_t)(IPC_DIR_BYTES + span)) < 0 || fstat(fd, &st) < 0 ||
	    pwrite(fd, &hd, sizeof(hd), 0) != (ssize_t)sizeof(hd)) {
		sim_log("cannot make the memory file that IPC handles share device memory through: %s",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		free(bits);
		free(slots);
		return -ENOMEM;
	}
	ipc_fd = fd;
	ipc_ino = (uint64_t)st.st_ino;
	ipc_dev = (uint64_t)st.st_dev;
	ipc_nonce = nonce;
	ipc_span = span;
	ipc_chunks = bits;
	ipc_slot_free = slots;
	return 0;
}

/* [off, off+len) of the arena (whole pages) becomes the memfd's, holding what it held. The
 * mapping is made elsewhere, filled, then moved over the old one in one step. */
static int ipc_share_piece(uint64_t off, uint64_t len)
{
	uint8_t *tmp = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ipc_fd, (off_t)(IPC_DIR_BYTES + off));
	if (tmp == MAP_FAILED)
		return -ENOMEM;
	for (uint64_t pg = 0; pg < len; pg += IPC_PAGE)
		if (!page_zero(arena + off + pg))     /* untouched pages stay holes in the file */
			memcpy(tmp + pg, arena + off + pg, IPC_PAGE);
	if (mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, arena + off) == MAP_FAILED) {
		munmap(tmp, len);
		return -ENOMEM;
	}
	return 0;
}

/* Chunk c becomes shared, except where other processes' memory is mapped in it (it stays
 * theirs; closing it maps the memfd there, ipc_restore). */
static int ipc_share_chunk(uint64_t c)
{
	uint64_t at = c * IPC_CHUNK, end = at + IPC_CHUNK < ipc_span ? at + IPC_CHUNK : ipc_span;
	while (at < end) {
		uint64_t next = end;
		int inside = 0;
		for (size_t k = 0; k < ipc_nimports; k++) {
			const struct ipc_import *im = &ipc_imports[k];
			if (im->moff <= at && at < im->moff + im->mlen) {
				at = im->moff + im->mlen;
				inside = 1;
				break;
			}
			if (im->moff > at && im->moff < next)
				next = im->moff;
		}
		if (inside)
			continue;
		int rc = ipc_share_piece(at, next - at);
		if (rc)
			return rc;
		at = next;
	}
	ipc_chunks[c / 8] |= (uint8_t)(1u << (c % 8));
	return 0;
}

/* Freed memory [off, off+len): its whole pages read zero when next used, cleared in place
 * (clear_in_place) or given back: dropped from the anonymous arena, or a hole punched in the
 * memfd in a chunk shared with other processes (MADV_DONTNEED would only drop this process's
 * view of them). */
static void give_back(uint64_t off, uint64_t len)
{
	uint64_t lo = (off + IPC_PAGE - 1) & ~(IPC_PAGE - 1), hi = (off + len) & ~(IPC_PAGE - 1);
	if (hi <= lo || clear_in_place(arena + lo, hi - lo, len) == 0)
		return;
	if (!ipc_touches_shared(lo, hi - lo)) {
		madvise(arena + lo, hi - lo, MADV_DONTNEED);
		return;
	}
	while (lo < hi) {
		uint64_t c = lo / IPC_CHUNK, e = (c + 1) * IPC_CHUNK < hi ? (c + 1) * IPC_CHUNK : hi;
		if (ipc_chunk_shared(c))
			fallocate(ipc_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(IPC_DIR_BYTES + lo),
				  (off_t)(e - lo));
		else
			madvise(arena + lo, e - lo, MADV_DONTNEED);
		lo = e;
	}
}

/* [off, off+len) (whole pages), where another process's memory was mapped, is the arena's
 * again: reserved anonymous memory, or the memfd (emptied) in a shared chunk. */
static void ipc_restore(uint64_t off, uint64_t len)
{
	for (uint64_t at = off, end = off + len; at < end;) {
		uint64_t c = at / IPC_CHUNK, e = (c + 1) * IPC_CHUNK < end ? (c + 1) * IPC_CHUNK : end;
		void *p;
		if (ipc_chunk_shared(c)) {
			fallocate(ipc_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(IPC_DIR_BYTES + at),
				  (off_t)(e - at));
			p = mmap(arena + at, e - at, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ipc_fd,
				 (off_t)(IPC_DIR_BYTES + at));
		} else {
			p = mmap(arena + at, e - at, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
		}
		if (p == MAP_FAILED)
			sim_log("cannot restore device memory at 0x%llx after an IPC mapping: %s",
				(unsigned long long)(uintptr_t)(arena + at), strerror(errno));
		at = e;
	}
}

static void ipc_dir_clear(uint32_t slot)
{
	struct ipc_dir_entry z = {0};
	if (pwrite(ipc_fd, &z, sizeof(z), (off_t)(IPC_PAGE + (uint64_t)slot * sizeof(z))) != (ssize_t)sizeof(z))
		sim_log("cannot withdraw an IPC export: %s", strerror(errno));
	ipc_slot_free[ipc_nslot_free++] = slot;
}

int sim_mem_ipc_export(uint64_t base, struct sim_ipc_mem *out)
{
	int quiet = 0, rc;
	pthread_rwlock_wrlock(&mem_lock);
again:;
	size_t i = upper(base);
	struct sim_alloc *a = i > 0 ? &tab[i - 1] : NULL;
	if (!a || a->base != base || a->kind != ALLOC_DEVICE || !(a->flags & SIM_ALLOC_F_EXPORTABLE) || a->dormant) {
		rc = -EINVAL;
		goto out;
	}
	uint64_t off = base - (uint64_t)(uintptr_t)arena;
	if (!a->ipc_serial) {
		if ((rc = ipc_file()) < 0)
			goto out;
		uint64_t lo = off & ~(IPC_PAGE - 1), hi = (off + a->size + IPC_PAGE - 1) & ~(IPC_PAGE - 1);
		int todo = 0;
		for (uint64_t c = lo / IPC_CHUNK; c <= (hi - 1) / IPC_CHUNK; c++)
			todo |= !ipc_chunk_shared(c);
		if (todo && !quiet) {
			/* pages about to be copied must not change meanwhile: no kernel, copy or
			 * memset may run until they are the memfd's */
			pthread_rwlock_unlock(&mem_lock);
			sim_streams_quiesce();
			quiet = 1;
			pthread_rwlock_wrlock(&mem_lock);
			goto again;
		}
		for (uint64_t c = lo / IPC_CHUNK; c <= (hi - 1) / IPC_CHUNK; c++)
			if (!ipc_chunk_shared(c) && (rc = ipc_share_chunk(c)) < 0) {
				sim_log("cannot share device memory for an IPC handle: %s", strerror(-rc));
				goto out;
			}
		uint32_t slot;
		if (ipc_nslot_free)
			slot = ipc_slot_free[--ipc_nslot_free];
		else if (ipc_slot_next < IPC_SLOTS)
			slot = ipc_slot_next++;
		else {
			sim_log("more than %u allocations exported at once", IPC_SLOTS);
			rc = -ENOMEM;
			goto out;
		}
		struct ipc_dir_entry de = {ipc_serial_next, off, a->size, 0};
		if (pwrite(ipc_fd, &de, sizeof(de), (off_t)(IPC_PAGE + (uint64_t)slot * sizeof(de))) !=
		    (ssize_t)sizeof(de)) {
			ipc_slot_free[ipc_nslot_free++] = slot;
			rc = -EIO;
			goto out;
		}
		a->ipc_slot = slot;
		a->ipc_serial = ipc_serial_next++;
	}
	*out = (struct sim_ipc_mem){.magic = SIM_IPC_MEM_MAGIC, .pid = (int32_t)getpid(), .fd = ipc_fd,
				    .slot = a->ipc_slot, .ino = ipc_ino, .dev = ipc_dev, .off = off,
				    .size = a->size, .serial = a->ipc_serial, .nonce = ipc_nonce};
	rc = 0;
out:
	pthread_rwlock_unlock(&mem_lock);
	if (quiet)
		pthread_mutex_unlock(&g_lock);
	return rc;
}

/* Takes whole pages [*out, *out+len) from the free extents. */
static int ext_take_pages(uint64_t len, uint64_t *out)
{
	if (nfr == capfr) {      /* room for a split, before anything changes */
		struct ext *n = realloc(fr, capfr * 2 * sizeof(*fr));
		if (!n)
			return -ENOMEM;
		fr = n;
		capfr *= 2;
	}
	for (size_t i = 0; i < nfr; i++) {
		uint64_t a = (fr[i].off + IPC_PAGE - 1) & ~(IPC_PAGE - 1), head = a - fr[i].off;
		if (head > fr[i].len || fr[i].len - head < len)
			continue;
		uint64_t tail = fr[i].len - head - len;
		if (head && tail) {
			memmove(&fr[i + 2], &fr[i + 1], (nfr - i - 1) * sizeof(*fr));
			fr[i + 1] = (struct ext){a + len, tail};
			fr[i].len = head;
			nfr++;
		} else if (head) {
			fr[i].len = head;
		} else if (tail) {
			fr[i] = (struct ext){a + len, tail};
		} else {
			memmove(&fr[i], &fr[i + 1], (nfr - i - 1) * sizeof(*fr));
			nfr--;
		}
		*out = a;
		return 0;
	}
	return -ENOMEM;
}

/* The handle names a live export of the file fd: its directory says so. */
static int ipc_handle_live(int fd, const struct sim_ipc_mem *h)
{
	struct stat st;
	struct ipc_dir_head hd;
	struct ipc_dir_entry de;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_ino != h->ino || (uint64_t)st.st_dev != h->dev ||
	    pread(fd, &hd, sizeof(hd), 0) != (ssize_t)sizeof(hd) || hd.magic != IPC_DIR_MAGIC ||
	    hd.nonce != h->nonce || hd.slots != IPC_SLOTS || h->slot >= hd.slots || hd.span > (1ull << 48) ||
	    (uint64_t)st.st_size < IPC_DIR_BYTES + hd.span || h->off > hd.span || h->size > hd.span - h->off ||
	    pread(fd, &de, sizeof(de), (off_t)(IPC_PAGE + (uint64_t)h->slot * sizeof(de))) != (ssize_t)sizeof(de))
		return 0;
	return de.serial && de.serial == h->serial && de.off == h->off && de.size == h->size;
}

int sim_mem_ipc_open(struct sim_ctx *ctx, const struct sim_ipc_mem *h, uint64_t *dptr)
{
	ctx = sim_ctx_res(ctx);
	int rc = -ENOENT, fd = -1;
	pthread_rwlock_wrlock(&mem_lock);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < ipc_nimports; k++)
			if (ipc_imports[k].ctx == ctx && !memcmp(&ipc_imports[k].h, h, sizeof(*h))) {
				ipc_imports[k].refs++;
				*dptr = ipc_imports[k].base;
				rc = 0;
				goto out;
			}
		if (pass)
			break;
		/* checked without the lock (the exporter may be slow to answer): opened again
		 * meanwhile by another thread, the second pass finds it */
		pthread_rwlock_unlock(&mem_lock);
		if (h->size == 0 || h->off > (1ull << 48) || h->size > (1ull << 48))
			return -ENOENT;
		fd = sim_ipc_open_fd(h->pid, h->fd, h->ino, h->dev);
		if (fd < 0)
			return -ENOENT;
		if (!ipc_handle_live(fd, h)) {
			close(fd);
			return -ENOENT;
		}
		pthread_rwlock_wrlock(&mem_lock);
	}
	uint64_t head = h->off & (IPC_PAGE - 1);
	uint64_t mlen = (head + h->size + IPC_PAGE - 1) & ~(IPC_PAGE - 1), moff;
	if (ipc_nimports == ipc_capimports) {
		size_t nc = ipc_capimports ? ipc_capimports * 2 : 8;
		struct ipc_import *n = realloc(ipc_imports, nc * sizeof(*n));
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		ipc_imports = n;
		ipc_capimports = nc;
	}
	if ((rc = ext_take_pages(mlen, &moff)) < 0)
		goto out;
	if (mmap(arena + moff, mlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)(IPC_DIR_BYTES + h->off - head)) == MAP_FAILED) {
		sim_log("cannot map another process's device memory: %s", strerror(errno));
		ipc_restore(moff, mlen);
		ext_add(moff, mlen);
		rc = -EIO;
		goto out;
	}
	struct sim_alloc a = {.base = (uint64_t)(uintptr_t)arena + moff + head, .size = h->size, .kind = ALLOC_IPC,
			      .dev = ctx->dev, .ctx = ctx};
	if ((rc = tab_insert(&a)) < 0) {
		ipc_restore(moff, mlen);
		ext_add(moff, mlen);
		goto out;
	}
	ipc_imports[ipc_nimports++] = (struct ipc_import){.ctx = ctx, .h = *h, .moff = moff, .mlen = mlen,
							  .base = a.base, .refs = 1};
	*dptr = a.base;
out:
	pthread_rwlock_unlock(&mem_lock);
	if (fd >= 0)
		close(fd);          /* the mapping holds the file */
	return rc;
}

/* Import k goes: its mapping, its extent, its record (mem_lock held; its table entry is gone). */
static void ipc_release(size_t k)
{
	struct ipc_import im = ipc_imports[k];
	ipc_imports[k] = ipc_imports[--ipc_nimports];
	ipc_restore(im.moff, im.mlen);
	if (ext_add(im.moff, im.mlen) < 0)
		sim_log("out of memory tracking free device memory; %llu bytes leak", (unsigned long long)im.mlen);
}

int sim_mem_ipc_close(uint64_t dptr)
{
	int rc = -EINVAL;
	pthread_rwlock_wrlock(&mem_lock);
	for (size_t k = 0; k < ipc_nimports; k++)
		if (ipc_imports[k].base == dptr) {
			rc = 0;
			if (--ipc_imports[k].refs > 0)
				break;
			size_t i = upper(dptr);
			if (i > 0 && tab[i - 1].base == dptr && tab[i - 1].kind == ALLOC_IPC)
				tab_remove(i - 1);      /* releases the import */
			else
				ipc_release(k);
			break;
		}
	pthread_rwlock_unlock(&mem_lock);
	return rc;
}
