/* SPDX-License-Identifier: MIT */
/* ckpt.c — checkpoint files: writing a stopped zone's device state, checking a file as hostile input, recreating the zone. */
#include "ckpt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "modimage.h"
#include "output.h"
#include "wire.h"
#include "zone.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

enum rec {
	R_ZONE = 1, R_RANGES, R_SLOTS, R_CTX, R_MODULE, R_FUNC, R_STREAM, R_EVENT, R_ALLOC, R_END,
	R_POOL,   /* added after the others: it comes between the events and the allocations */
	R_GLOBAL, /* and the ones from here between the allocations and the end */
	R_PINNED, R_CHAN,
	R_GRAPH, R_GEXEC, /* between the globals and the pinned regions */
	R_VMEM, R_VMAP,   /* between the allocations and the globals */
	R_GVAL,           /* after the globals: a module global's value, by name */
	R_OUTPUT,         /* after the channels: device output the zone had not taken */
};
/* Where each record type comes in a file (the numbers above are fixed by the format). */
static unsigned rank(uint32_t type)
{
	static const uint8_t order[] = {
		[R_ZONE] = 1, [R_RANGES] = 2, [R_SLOTS] = 3, [R_CTX] = 4, [R_MODULE] = 5, [R_FUNC] = 6,
		[R_STREAM] = 7, [R_EVENT] = 8, [R_POOL] = 9, [R_ALLOC] = 10, [R_VMEM] = 11, [R_VMAP] = 12,
		[R_GLOBAL] = 13, [R_GVAL] = 14, [R_GRAPH] = 15, [R_GEXEC] = 16, [R_PINNED] = 17, [R_CHAN] = 18,
		[R_OUTPUT] = 19, [R_END] = 20,
	};
	return type < sizeof(order) ? order[type] : 0;
}
/* R_CTX's kind: 0 created, 1 a retained primary context, 2 a primary context the zone reset or
 * released for the last time (its handle still the zone's; nothing made in it) */
#define CTX_PRIMARY_IDLE 2u
#define PINNED_BODY 40u     /* slot, 0, bytes, memfd inode, id key, address in the saving worker */
#define PINNED_BODY_V0 32u  /* the same without the address (files written before it was kept) */
/* CHAN: ring memfd inode, current context slot, how many contexts lie below it on the thread's
 * stack, four ring indices, then the slots of those below (bottom first); files written
 * before stacks were kept have none */
#define CHAN_BODY 32u
/* Graphs: a graph's or executable graph's nodes, each { u32 slot, u32 type, u32 dependencies,
 * u32 body bytes, u32 dependency[] (indices of nodes before it), body }; bounds of what a
 * reader accepts */
#define GRAPH_MAX_NODES 65536u
#define GRAPH_MAX_PARAMS 1024u
#define GRAPH_MAX_PARAM_BYTES 32768u
#define GRAPH_MAX_BODY (64u << 20)
#define GRAPH_MAX_DEPTH 8u  /* child graphs within child graphs */
#define GEXEC_FLAGS 0xfull  /* auto free on launch, upload, device launch, node priority */
/* Virtual memory management: a physical allocation { u64 id, u64 size, u64 id key, u32
 * allocation type, u32 location type, i32 location id, u32 references, its bytes } and a
 * mapped range { u64 address, u64 size, u64 offset, u64 allocation id, u32 access, u32 0 };
 * the reservations ride in the ranges record, after the allocations' ranges */
#define VMEM_HEAD 40u
#define VMAP_BODY 40u
/* A module global's value, where its address is not kept: { u32 module slot, u32 name bytes,
 * u64 value bytes, name, value } */
#define GVAL_HEAD 16u
#define GVAL_MAX (64ull << 20)
/* An allocation record's flag: the range is a module global's, written by a worker whose
 * driver cannot put a global at a given address; a restorer with the same limit keeps the
 * bytes for the global record that follows and only holds the addresses (no memory there) */
#define ALLOC_GLOBAL 1u
/* An allocation record's kind: a stream-ordered allocation, which no context owns (its owner
 * slot NO_SLOT), of the device in the word's bits 8-15 (ALLOC_DEVICE); it comes back as that
 * device's in the zone's map (zone->ordered) */
#define ALLOC_ORDERED 2u
#define ALLOC_KIND(w) ((w) & 0xffu)
#define ALLOC_DEVICE(w) ((w) >> 8)
#define POOL_BODY 56u       /* slot, owner, kind, device, type, location, usage, current, max, threshold, reuse, 0 */
#define POOL_REUSE_ALL 7u   /* follow event dependencies, opportunistic, internal dependencies */
/* In an event record's flags: the event had been recorded and its work was done (a timing
 * event: cuEventElapsedTime(e, e) tells; without timing, recorded and never recorded behave
 * alike). The restorer records it again, so that an elapsed time spanning the move works. */
#define EV_RECORDED (1u << 31)
#define NO_SLOT UINT32_MAX
#define SPAN_ALIGN (2ull << 20)      /* the virtual memory API's granularity on every backend we know */
#define COPY_STEP (4u << 20)

static int fail(char *why, size_t cap, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t cap, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return err;
}

/* ---------------------------------------------------------------- CRC-32C */

static uint32_t crc_table[256];

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c64 = _mm_crc32_u64(c64, v);
	}
	c = (uint32_t)c64;
	for (; n; n--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}
#endif

uint32_t vgpu_crc32c(uint32_t crc, const void *data, size_t n)
{
	static int hw = -1;
	const uint8_t *p = data;
	uint32_t c = ~crc;

	if (hw < 0) {
#if defined(__x86_64__)
		hw = __builtin_cpu_supports("sse4.2");
#else
		hw = 0;
#endif
		crc_table_init();
	}
#if defined(__x86_64__)
	if (hw)
		return ~crc_hw(c, p, n);
#endif
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* ---------------------------------------------------------------- per-zone bookkeeping */

/* Room for one more of the n elements of *arr (capacity *cap, elem bytes each); -1 when out
 * of memory (the array is left as it was). */
void vgpu_ckpt_note_image(struct vgpu_zone *z, const void *module, const void *image, size_t len)
{
	struct vgpu_ckpt_zone *ck = &z->ck;
	uint8_t *copy = len <= VGPU_CKPT_MAX_IMAGE ? malloc(len) : NULL;
	if (copy)
		memcpy(copy, image, len);
	pthread_mutex_lock(&z->lock);
	uint32_t i = 0;
	while (i < ck->nimg && ck->img[i].module != module)
		i++;
	if (i == ck->nimg && vgpu_room_for_one(&ck->img, &ck->capimg, ck->nimg, sizeof(*ck->img), 8) < 0) {
		pthread_mutex_unlock(&z->lock);
		free(copy);
		return;
	}
	if (i == ck->nimg)
		ck->nimg++;
	else
		free(ck->img[i].bytes);   /* the driver reused a freed module's handle */
	ck->img[i] = (struct vgpu_ckpt_image){ module, copy, copy ? len : 0 };
	pthread_mutex_unlock(&z->lock);
}

void vgpu_ckpt_forget_image(struct vgpu_zone *z, const void *module)
{
	struct vgpu_ckpt_zone *ck = &z->ck;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < ck->nimg; i++)
		if (ck->img[i].module == module) {
			free(ck->img[i].bytes);
			ck->img[i] = ck->img[--ck->nimg];
			break;
		}
	pthread_mutex_unlock(&z->lock);
}

void vgpu_ckpt_note_event(struct vgpu_zone *z, const void *event, unsigned flags)
{
	struct vgpu_ckpt_zone *ck = &z->ck;
	pthread_mutex_lock(&z->lock);
	uint32_t i = 0;
	/* an entry of an event destroyed since (its handle reused, or no longer in the table) is
	 * overwritten: the table stays as large as the zone's live events at most twice over */
	while (i < ck->nev && ck->ev[i].event != event && vgpu_htab_find(&z->htab, VGPU_H_EVENT, ck->ev[i].event, &(uint64_t){0}) == 0)
		i++;
	if (i == ck->nev && vgpu_room_for_one(&ck->ev, &ck->capev, ck->nev, sizeof(*ck->ev), 16) < 0) {
		pthread_mutex_unlock(&z->lock);
		return;   /* only costs the flags in a checkpoint */
	}
	if (i == ck->nev)
		ck->nev++;
	ck->ev[i] = (struct vgpu_ckpt_event){ event, flags };
	pthread_mutex_unlock(&z->lock);
}

void vgpu_ckpt_note_pool(struct vgpu_zone *z, const void *pool, const CUmemPoolProps *props)
{
	struct vgpu_ckpt_zone *ck = &z->ck;
	pthread_mutex_lock(&z->lock);
	uint32_t i = 0;
	/* as for events: an entry of a pool no longer in the table is overwritten */
	while (i < ck->npool && ck->pool[i].pool != pool &&
	       vgpu_htab_find(&z->htab, VGPU_H_MEMORY_POOL, ck->pool[i].pool, &(uint64_t){0}) == 0)
		i++;
	if (i == ck->npool && vgpu_room_for_one(&ck->pool, &ck->cappool, ck->npool, sizeof(*ck->pool), 8) < 0) {
		pthread_mutex_unlock(&z->lock);
		return;   /* only costs the ability to checkpoint the pool */
	}
	if (i == ck->npool)
		ck->npool++;
	ck->pool[i] = (struct vgpu_ckpt_pool){ pool, (uint32_t)props->allocType, (uint32_t)props->location.type,
					       props->usage, props->location.id, props->maxSize };
	pthread_mutex_unlock(&z->lock);
}

int vgpu_ckpt_pool_props(struct vgpu_zone *z, const void *pool, struct vgpu_ckpt_pool *out)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < z->ck.npool && rc; i++)
		if (z->ck.pool[i].pool == pool) {
			*out = z->ck.pool[i];
			rc = 0;
		}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

static const struct vgpu_ckpt_pool *pool_props(const struct vgpu_zone *z, const void *pool)
{
	for (uint32_t i = 0; i < z->ck.npool; i++)
		if (z->ck.pool[i].pool == pool)
			return &z->ck.pool[i];
	return NULL;
}

static unsigned event_flags(const struct vgpu_zone *z, const void *event)
{
	for (uint32_t i = 0; i < z->ck.nev; i++)
		if (z->ck.ev[i].event == event)
			return z->ck.ev[i].flags & (CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING);
	return 0;
}

/* Note a global the zone knows at zaddr and the module has at addr; -ENOMEM when it could
 * not be noted. */
static int note_global(struct vgpu_zone *z, const void *module, const char *name, uint64_t addr, uint64_t size,
		       uint64_t zaddr)
{
	struct vgpu_ckpt_zone *ck = &z->ck;
	char *copy = name ? strndup(name, VGPU_CKPT_NAME_MAX) : NULL;
	int rc = 0;
	pthread_mutex_lock(&z->lock);
	uint32_t i = 0;
	while (i < ck->nglob && !(ck->glob[i].module == module && ck->glob[i].addr == addr))
		i++;
	if (i < ck->nglob) {
		free(copy);   /* asked for again */
	} else if (vgpu_room_for_one(&ck->glob, &ck->capglob, ck->nglob, sizeof(*ck->glob), 8) == 0) {
		/* a NULL name (out of memory) is kept too: the writer refuses a zone with one */
		ck->glob[ck->nglob++] = (struct vgpu_ckpt_global){ module, addr, size, copy, zaddr };
		if (zaddr != addr)
			__atomic_store_n(&ck->nmoved, ck->nmoved + 1, __ATOMIC_RELEASE);
	} else {
		free(copy);
		ck->glob_lost = 1;
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

void vgpu_ckpt_note_global(struct vgpu_zone *z, const void *module, const char *name, uint64_t addr, uint64_t size)
{
	note_global(z, module, name, addr, size, addr);
}

/* Under the zone's lock, or with the zone stopped: the global a restore moved whose old
 * range (to_real) or new one (!to_real) holds [p, p+len) (len 0: p), or NULL. */
static const struct vgpu_ckpt_global *moved_at(const struct vgpu_ckpt_zone *ck, uint64_t p, uint64_t len, int to_real)
{
	for (uint32_t i = 0; i < ck->nglob; i++) {
		const struct vgpu_ckpt_global *g = &ck->glob[i];
		uint64_t from = to_real ? g->zaddr : g->addr;
		if (g->zaddr != g->addr && p >= from && p - from < g->size && len <= g->size - (p - from))
			return g;
	}
	return NULL;
}

static uint64_t moved_real(const struct vgpu_ckpt_zone *ck, uint64_t p, uint64_t len)
{
	const struct vgpu_ckpt_global *g = moved_at(ck, p, len, 1);
	return g ? g->addr + (p - g->zaddr) : p;
}

static uint64_t moved_zone(const struct vgpu_ckpt_zone *ck, uint64_t p)
{
	const struct vgpu_ckpt_global *g = moved_at(ck, p, 0, 0);
	return g ? g->zaddr + (p - g->addr) : p;
}

/* Every aligned word of buf that points into a moved global's range (to_real: its old one),
 * made to point at the same byte of its other one. */
static void moved_words(const struct vgpu_ckpt_zone *ck, uint8_t *buf, size_t n, int to_real)
{
	for (size_t off = 0; off + 8 <= n; off += 8) {
		uint64_t w;
		memcpy(&w, buf + off, 8);
		if (!w)
			continue;
		const struct vgpu_ckpt_global *g = moved_at(ck, w, 0, to_real);
		if (g) {
			w = to_real ? g->addr + (w - g->zaddr) : g->zaddr + (w - g->addr);
			memcpy(buf + off, &w, 8);
		}
	}
}

uint64_t vgpu_ckpt_real_addr(struct vgpu_zone *z, uint64_t p, uint64_t len)
{
	if (!__atomic_load_n(&z->ck.nmoved, __ATOMIC_ACQUIRE))
		return p;
	pthread_mutex_lock(&z->lock);
	p = moved_real(&z->ck, p, len);
	pthread_mutex_unlock(&z->lock);
	return p;
}

uint64_t vgpu_ckpt_zone_addr(struct vgpu_zone *z, uint64_t p)
{
	if (!__atomic_load_n(&z->ck.nmoved, __ATOMIC_ACQUIRE))
		return p;
	pthread_mutex_lock(&z->lock);
	p = moved_zone(&z->ck, p);
	pthread_mutex_unlock(&z->lock);
	return p;
}

void vgpu_ckpt_words(struct vgpu_zone *z, void *buf, size_t n, int to_real)
{
	if (!__atomic_load_n(&z->ck.nmoved, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&z->lock);
	moved_words(&z->ck, buf, n, to_real);
	pthread_mutex_unlock(&z->lock);
}

void vgpu_ckpt_module_gone(struct vgpu_zone *z, const struct vgpu_backend *be, const void *module)
{
	struct vgpu_ckpt_zone *ck = &z->ck;
	vgpu_ckpt_forget_image(z, module);
	for (;;) {
		uint64_t addr = 0;
		int found = 0;
		pthread_mutex_lock(&z->lock);
		for (uint32_t i = 0; i < ck->nglob; i++)
			if (ck->glob[i].module == module) {
				addr = ck->glob[i].addr;
				if (ck->glob[i].zaddr != addr)
					__atomic_store_n(&ck->nmoved, ck->nmoved - 1, __ATOMIC_RELEASE);
				free(ck->glob[i].name);
				ck->glob[i] = ck->glob[--ck->nglob];
				found = 1;
				break;
			}
		pthread_mutex_unlock(&z->lock);
		if (!found)
			break;
		/* a restored global lives in memory the restore mapped (vgpu_ckpt_free: no-op otherwise) */
		int res;
		vgpu_ckpt_free(z, be, addr, &res);
	}
}

static struct vgpu_ckpt_gexec *gexec_of(struct vgpu_zone *z, const void *exec)
{
	for (uint32_t i = 0; i < z->ck.ngx; i++)
		if (z->ck.gx[i].exec == exec)
			return &z->ck.gx[i];
	return NULL;
}

/* 1 when graph holds memory of graph memory nodes (allocations the zone's map gives it). */
static int graph_holds_memory(struct vgpu_zone *z, const void *graph)
{
	int held = 0;
	pthread_mutex_lock(&z->lock);
	for (uint32_t a = 0; a < z->amap.n && !held; a++)
		held = z->amap.v[a].owner == graph;
	pthread_mutex_unlock(&z->lock);
	return held;
}

/* A copy of graph (NULL if the driver cannot make one: a graph with memory nodes cannot be
 * cloned, so none is asked for; checkpoints refuse such zones anyway). Under no lock. */
static void *graph_copy(struct vgpu_zone *z, const struct vgpu_backend *be, void *graph)
{
	CUgraph c = NULL;
	if (graph_holds_memory(z, graph))
		return NULL;
	if (!be->fn.cuGraphClone || be->fn.cuGraphClone(&c, (CUgraph)graph) != CUDA_SUCCESS)
		return NULL;
	return c;
}

void vgpu_ckpt_gexec_made(struct vgpu_zone *z, const struct vgpu_backend *be, const void *exec, void *graph,
			  uint64_t flags)
{
	void *c = graph_copy(z, be, graph);
	pthread_mutex_lock(&z->lock);
	struct vgpu_ckpt_gexec *g = gexec_of(z, exec);
	/* (the copy of an entry for exec made before; a new slot's old contents are a removed
	 * entry's, possibly of an executable graph at the same address, whose copy is gone) */
	void *old = g ? g->clone : NULL;
	if (!g && vgpu_room_for_one(&z->ck.gx, &z->ck.capgx, z->ck.ngx, sizeof(*z->ck.gx), 8) == 0)
		g = &z->ck.gx[z->ck.ngx++];
	if (g)
		*g = (struct vgpu_ckpt_gexec){ .exec = exec, .clone = c, .flags = flags, .src = graph };
	if (!g || !c)
		z->ck.gx_lost = 1;
	pthread_mutex_unlock(&z->lock);
	if (!g && c)
		be->fn.cuGraphDestroy(c);
	if (old)
		be->fn.cuGraphDestroy(old);
}

void vgpu_ckpt_gexec_updated(struct vgpu_zone *z, const struct vgpu_backend *be, const void *exec, void *graph)
{
	void *c = graph_copy(z, be, graph), *old = NULL;
	pthread_mutex_lock(&z->lock);
	struct vgpu_ckpt_gexec *g = gexec_of(z, exec);
	if (g) {
		old = g->clone;
		g->clone = c;
		c = NULL;
		if (!g->clone)
			z->ck.gx_lost = 1;
	}
	pthread_mutex_unlock(&z->lock);
	if (c)
		be->fn.cuGraphDestroy(c);
	if (old)
		be->fn.cuGraphDestroy(old);
}

void vgpu_ckpt_gexec_changed(struct vgpu_zone *z, const void *exec, const char *call)
{
	pthread_mutex_lock(&z->lock);
	struct vgpu_ckpt_gexec *g = gexec_of(z, exec);
	if (g && !g->changed)
		g->changed = call;
	pthread_mutex_unlock(&z->lock);
}

void vgpu_ckpt_gexec_gone(struct vgpu_zone *z, const struct vgpu_backend *be, const void *exec)
{
	void *old = NULL;
	pthread_mutex_lock(&z->lock);
	struct vgpu_ckpt_gexec *g = gexec_of(z, exec);
	if (g) {
		old = g->clone;
		*g = z->ck.gx[--z->ck.ngx];
	}
	pthread_mutex_unlock(&z->lock);
	if (old)
		be->fn.cuGraphDestroy(old);
}

const void *vgpu_ckpt_gexec_heir(struct vgpu_zone *z, const void *gone)
{
	const void *heir = NULL;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < z->ck.ngx && !heir; i++)
		if (z->ck.gx[i].src == gone && z->ck.gx[i].exec != gone)
			heir = z->ck.gx[i].exec;
	for (uint32_t i = 0; heir && i < z->ck.ngx; i++)   /* the rest of the family follows the heir */
		if (z->ck.gx[i].src == gone)
			z->ck.gx[i].src = heir;
	pthread_mutex_unlock(&z->lock);
	return heir;
}

void vgpu_ckpt_graph_attrs(struct vgpu_zone *z, const char *call)
{
	pthread_mutex_lock(&z->lock);
	if (!z->ck.graph_attrs)
		z->ck.graph_attrs = call;
	pthread_mutex_unlock(&z->lock);
}

void vgpu_ckpt_zone_fini(struct vgpu_ckpt_zone *ck)
{
	for (uint32_t i = 0; i < ck->nimg; i++)
		free(ck->img[i].bytes);
	for (uint32_t i = 0; i < ck->nglob; i++)
		free(ck->glob[i].name);
	free(ck->glob);
	free(ck->img);
	free(ck->ev);
	free(ck->pool);
	free(ck->span);
	free(ck->chan);
	free(ck->pin);
	free(ck->gx);   /* the copies went with the driver's state (vgpu_ckpt_release_all) */
	memset(ck, 0, sizeof(*ck));
}

/* ---------------------------------------------------------------- writing */

struct writer {
	int fd;
	uint8_t *buf;
	size_t n, cap;
	uint64_t done;     /* payload bytes handed to write() */
	uint32_t crc;      /* of the payload written so far (buf included once flushed) */
	int err;
};

static void w_flush(struct writer *w)
{
	size_t off = 0;
	if (w->err || !w->n)
		return;
	while (off < w->n) {
		ssize_t r = write(w->fd, w->buf + off, w->n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			w->err = r < 0 ? -errno : -EIO;
			return;
		}
		off += (size_t)r;
	}
	w->n = 0;
}

static void w_bytes(struct writer *w, const void *p, size_t n)
{
	const uint8_t *s = p;
	w->crc = vgpu_crc32c(w->crc, p, n);
	w->done += n;
	while (n && !w->err) {
		if (w->n == w->cap)
			w_flush(w);
		size_t k = w->cap - w->n < n ? w->cap - w->n : n;
		memcpy(w->buf + w->n, s, k);
		w->n += k;
		s += k;
		n -= k;
	}
}

static void w_u32(struct writer *w, uint32_t v) { w_bytes(w, &v, 4); }
static void w_u64(struct writer *w, uint64_t v) { w_bytes(w, &v, 8); }
static void w_rec(struct writer *w, uint32_t type, uint64_t len) { w_u32(w, type); w_u32(w, 0); w_u64(w, len); }
static void w_str(struct writer *w, const char *s) { w_u32(w, (uint32_t)strlen(s)); w_bytes(w, s, strlen(s)); }

/* Slot of a live handle of type whose real handle is real, NO_SLOT if none. */
static uint32_t slot_of_real(const struct vgpu_zone *z, unsigned type, const void *real)
{
	uint64_t id;
	if (!real || vgpu_htab_find(&z->htab, type, real, &id) < 0)
		return NO_SLOT;
	return (uint32_t)(id ^ z->htab.key) - 1u;
}

/* The owner's slot: a context or a module (what vgpu_htab_insert_owned recorded). */
static uint32_t owner_slot(const struct vgpu_zone *z, const void *owner)
{
	uint32_t s = slot_of_real(z, VGPU_H_CONTEXT, owner);
	return s != NO_SLOT ? s : slot_of_real(z, VGPU_H_MODULE, owner);
}

static const char *htype_name(unsigned t)
{
	static const char *const n[VGPU_H_COUNT] = {
		[VGPU_H_CONTEXT] = "context", [VGPU_H_MODULE] = "module", [VGPU_H_FUNCTION] = "function",
		[VGPU_H_LIBRARY] = "library", [VGPU_H_KERNEL] = "kernel", [VGPU_H_ARRAY] = "array",
		[VGPU_H_MIPMAPPED_ARRAY] = "mipmapped array", [VGPU_H_TEXREF] = "texture reference",
		[VGPU_H_SURFREF] = "surface reference", [VGPU_H_EVENT] = "event", [VGPU_H_STREAM] = "stream",
		[VGPU_H_GRAPHICS_RESOURCE] = "graphics resource", [VGPU_H_EXTERNAL_MEMORY] = "external memory",
		[VGPU_H_EXTERNAL_SEMAPHORE] = "external semaphore", [VGPU_H_GRAPH] = "graph",
		[VGPU_H_GRAPH_NODE] = "graph node", [VGPU_H_GRAPH_EXEC] = "executable graph",
		[VGPU_H_MEMORY_POOL] = "memory pool", [VGPU_H_USER_OBJECT] = "user object",
		[VGPU_H_LINK_STATE] = "link state", [VGPU_H_GREEN_CTX] = "green context",
		[VGPU_H_DEV_RESOURCE_DESC] = "device resource descriptor",
	};
	return t < VGPU_H_COUNT && n[t] ? n[t] : "handle";
}

static int blockers(const struct vgpu_zone *z, const struct vgpu_backend *be, char *why, size_t cap)
{
	for (unsigned t = 1; t < VGPU_H_COUNT; t++) {
		if (t == VGPU_H_CONTEXT || t == VGPU_H_MODULE || t == VGPU_H_FUNCTION || t == VGPU_H_STREAM ||
		    t == VGPU_H_EVENT || t == VGPU_H_MEMORY_POOL || t == VGPU_H_GRAPH || t == VGPU_H_GRAPH_NODE ||
		    t == VGPU_H_GRAPH_EXEC || !z->htab.count[t])
			continue;
		return fail(why, cap, -EOPNOTSUPP, "the zone holds %u %s handle%s, which checkpoints do not carry "
			    "(supported: contexts, modules, functions, streams, events, memory pools, graphs, "
			    "executable graphs, device memory)",
			    z->htab.count[t], htype_name(t), z->htab.count[t] == 1 ? "" : "s");
	}
	for (uint32_t a = 0; a < z->amap.n; a++) {
		uint64_t id;
		if (z->amap.v[a].owner && (vgpu_htab_find(&z->htab, VGPU_H_GRAPH, z->amap.v[a].owner, &id) == 0 ||
					   vgpu_htab_find(&z->htab, VGPU_H_GRAPH_EXEC, z->amap.v[a].owner, &id) == 0))
			return fail(why, cap, -EOPNOTSUPP, "the zone's graphs hold memory of graph memory nodes "
				    "(stream-ordered allocations captured into them), which checkpoints do not carry");
	}
	if (z->tex.nobjs)
		return fail(why, cap, -EOPNOTSUPP, "the zone holds %u texture or surface object%s, which checkpoints "
			    "do not carry", z->tex.nobjs, z->tex.nobjs == 1 ? "" : "s");
	if (z->uobj_made)
		return fail(why, cap, -EOPNOTSUPP, "the zone made user objects (their destructors are its host "
			    "functions), which checkpoints do not carry");
	if (z->ipc.used)
		return fail(why, cap, -EOPNOTSUPP, "the zone exported or opened IPC handles (shared with other zones "
			    "of its registration), which checkpoints do not carry");
	if (z->cond_made)
		return fail(why, cap, -EOPNOTSUPP, "the zone made conditional graph nodes or their handles (the "
			    "handles its kernels hold are the driver's values), which checkpoints do not carry");
	if (z->hostfn) {
		uint32_t persistent, queued;
		vgpu_hostfn_counts(z->hostfn, &persistent, &queued);
		if (persistent || queued)
			return fail(why, cap, -EOPNOTSUPP, "the zone's graphs hold %u host function%s and %u more wait "
				    "to run, which checkpoints do not carry", persistent, persistent == 1 ? "" : "s",
				    queued);
	}
	if (z->htab.count[VGPU_H_GRAPH] || z->htab.count[VGPU_H_GRAPH_EXEC]) {
		const struct vgpu_backend_fns *g = &be->fn;
		if (!g->cuGraphGetNodes || !g->cuGraphNodeGetType || !g->cuGraphNodeGetDependencies_v2 ||
		    !g->cuGraphCreate || !g->cuGraphDestroy || !g->cuGraphInstantiateWithFlags)
			return fail(why, cap, -EOPNOTSUPP, "the driver lacks the graph queries checkpoints need");
		if (z->ck.graph_attrs)
			return fail(why, cap, -EOPNOTSUPP, "the zone set kernel node attributes (%s), which checkpoints "
				    "do not carry", z->ck.graph_attrs);
		if (z->ck.gx_lost)
			return fail(why, cap, -ENOMEM, "an executable graph's copy of its graph could not be made "
				    "(out of memory when it was instantiated or updated)");
	}
	if (z->vmm.n || z->vmm.ranges.n || z->vmm.nres) {
		const struct vgpu_backend_fns *v = &be->fn;
		if (!v->cuMemGetAllocationPropertiesFromHandle || !v->cuMemGetAccess || !v->cuMemAddressReserve ||
		    !v->cuMemAddressFree || !v->cuMemMap || !v->cuMemUnmap || !v->cuMemSetAccess || !v->cuMemCreate ||
		    !v->cuMemRelease)
			return fail(why, cap, -EOPNOTSUPP, "the driver lacks the virtual memory queries checkpoints need");
		if (z->vmm.res_lost)
			return fail(why, cap, -ENOMEM, "an address reservation of the zone could not be noted (out of memory)");
		if (z->vmm.nres > VGPU_CKPT_MAX_ALLOCS || z->vmm.n > VGPU_CKPT_MAX_ALLOCS ||
		    z->vmm.ranges.n > VGPU_CKPT_MAX_ALLOCS)
			return fail(why, cap, -E2BIG, "the zone has more than %u physical allocations, mappings or "
				    "reservations", VGPU_CKPT_MAX_ALLOCS);
	}
	if (z->ck.glob_lost)
		return fail(why, cap, -ENOMEM, "a module global the zone took the address of was not noted "
			    "(out of memory when it was asked for)");
	for (uint32_t i = 0; i < z->ck.nglob; i++) {
		const struct vgpu_ckpt_global *g = &z->ck.glob[i];
		const struct vgpu_alloc *a = vgpu_allocmap_at(&z->amap, g->addr);
		if (!g->name || !a || a->size != g->size || a->owner != g->module ||
		    slot_of_real(z, VGPU_H_MODULE, g->module) == NO_SLOT)
			return fail(why, cap, -EOPNOTSUPP, "module global %s at 0x%llx is not one of the zone's "
				    "ranges of a loaded module (its size was not asked for)", g->name ? g->name : "(unnamed)",
				    (unsigned long long)g->addr);
	}
	uint32_t granted = vgpu_pinned_granted((struct vgpu_pinned *)&z->pinned);
	if (granted)
		return fail(why, cap, -EOPNOTSUPP, "the zone has %u pinned regions of granted pages (a Xen guest's), which "
			    "checkpoints do not carry", granted);
	const struct vgpu_backend_fns *f = &be->fn;
	if (!f->cuCtxSetCurrent || !f->cuCtxGetDevice || !f->cuCtxGetFlags || !f->cuFuncGetName ||
	    !f->cuStreamGetFlags || !f->cuStreamGetPriority || !f->cuMemcpyDtoH_v2 || !f->cuCtxSynchronize)
		return fail(why, cap, -EOPNOTSUPP, "the driver lacks an entry point checkpoints need");
	if (z->htab.count[VGPU_H_MEMORY_POOL] && (!f->cuDeviceGetDefaultMemPool || !f->cuDeviceGetMemPool ||
						   !f->cuMemPoolGetAttribute || !f->cuDeviceGetCount))
		return fail(why, cap, -EOPNOTSUPP, "the driver lacks the memory-pool queries checkpoints need");
	return 0;
}

/*
 * A module global keeps what the kernels left in it even if the program never asked for its
 * address: where the backend can list a module's globals (the simulator), every one of every
 * loaded module is taken as if the program had asked (noted, its range recorded as the
 * module's), so that its bytes and its place go into the checkpoint. A GPU driver lists
 * none: there a restored module's globals start from their initial values
 * (docs/ARCHITECTURE.md). The zone is stopped.
 */
static void take_all_globals(struct vgpu_zone *z, const struct vgpu_backend *be)
{
	const struct vgpu_backend_fns *f = &be->fn;
	if (!f->vgpu_sim_module_global_at || !f->vgpu_sim_module_place_global)
		return;
	for (uint32_t i = 0;; i++) {
		unsigned t; void *real; const void *own; uint32_t gen;
		pthread_mutex_lock(&z->lock);
		int more = i < z->htab.used;
		int have = more && vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen) == 1 && t == VGPU_H_MODULE;
		pthread_mutex_unlock(&z->lock);
		if (!more)
			break;
		if (!have)
			continue;
		const char *name;
		CUdeviceptr addr;
		size_t size;
		for (unsigned k = 0; f->vgpu_sim_module_global_at((CUmodule)real, k, &name, &addr, &size) == CUDA_SUCCESS; k++) {
			if (vgpu_zone_dptr_add_owned(z, addr, size, real, NULL) >= 0)
				vgpu_ckpt_note_global(z, real, name, addr, size);
		}
	}
}

static const struct vgpu_ckpt_image *image_of(const struct vgpu_zone *z, const void *module)
{
	for (uint32_t i = 0; i < z->ck.nimg; i++)
		if (z->ck.img[i].module == module && z->ck.img[i].bytes)
			return &z->ck.img[i];
	return NULL;
}

/* One handle record to write, gathered (with its driver queries) before anything is written,
 * so that the header can announce the payload's exact length. */
struct plan {
	uint32_t type, slot, owner, a, b;
	const void *bytes;     /* module image, function name */
	uint64_t len;
	uint32_t pool[6];      /* R_POOL: kind, device, type, location, usage, current */
	uint64_t pool_max, pool_threshold;
	uint32_t pool_reuse;
};

/* R_POOL: what a pool is (a device's default pool, or one the zone created, by its noted
 * properties), its attributes and whether it is its device's current pool. */
static int plan_pool(const struct vgpu_zone *z, const struct vgpu_backend_fns *f, const void *real, struct plan *q,
		     char *why, size_t cap)
{
	int ndev = 0;
	CUresult r;
	q->type = R_POOL;
	if ((r = f->cuDeviceGetCount(&ndev)))
		goto drv;
	q->pool[0] = UINT32_MAX;
	for (int d = 0; d < ndev && d < (int)VGPU_ZONE_MAX_DEVICES; d++) {
		CUmemoryPool p = NULL;
		if (f->cuDeviceGetDefaultMemPool(&p, (CUdevice)d) == CUDA_SUCCESS && p == real) {
			q->pool[0] = 0;
			q->pool[1] = (uint32_t)d;
		}
	}
	const struct vgpu_ckpt_pool *pp = q->pool[0] ? pool_props(z, real) : NULL;
	if (q->pool[0]) {
		if (!pp || pp->loc_type != CU_MEM_LOCATION_TYPE_DEVICE || pp->loc_id < 0 ||
		    pp->loc_id >= (int32_t)VGPU_ZONE_MAX_DEVICES || pp->alloc_type != CU_MEM_ALLOCATION_TYPE_PINNED)
			return fail(why, cap, -EOPNOTSUPP, "memory pool slot %u is not a device's default pool nor one the "
				    "zone created on a device", q->slot);
		q->pool[0] = 1;
		q->pool[1] = (uint32_t)pp->loc_id;
		q->pool[2] = pp->alloc_type;
		q->pool[3] = pp->loc_type;
		q->pool[4] = pp->usage;
		q->pool_max = pp->max_size;
	}
	CUmemoryPool cur = NULL;
	q->pool[5] = f->cuDeviceGetMemPool(&cur, (CUdevice)q->pool[1]) == CUDA_SUCCESS && cur == real;
	CUmemoryPool h = (CUmemoryPool)(uintptr_t)real;
	cuuint64_t thr = 0;
	int reuse;
	if ((r = f->cuMemPoolGetAttribute(h, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr)))
		goto drv;
	q->pool_threshold = thr;
	for (unsigned k = 0; k < 3; k++) {
		reuse = 0;
		if ((r = f->cuMemPoolGetAttribute(h, (CUmemPool_attribute)(CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES + k),
						  &reuse)))
			goto drv;
		if (reuse)
			q->pool_reuse |= 1u << k;
	}
	return 0;
drv:
	return fail(why, cap, -EIO, "the driver failed a query while planning the checkpoint (CUresult %d)", (int)r);
}

static void ctx_current(const struct vgpu_zone *z, const struct vgpu_backend_fns *f, uint32_t ctx_slot)
{
	void *c = NULL;
	if (ctx_slot != NO_SLOT && vgpu_htab_lookup(&z->htab, VGPU_H_CONTEXT, vgpu_htab_id_of(&z->htab, ctx_slot), &c) == 0 && c)
		f->cuCtxSetCurrent(c);
}

/* The slot of a context of device dev that is not an idle primary context, or NO_SLOT. */
static uint32_t live_ctx_on(const struct plan *pl, uint32_t npl, int dev)
{
	for (uint32_t i = 0; i < npl; i++)
		if (pl[i].type == R_CTX && pl[i].b == (uint32_t)dev && pl[i].a != CTX_PRIMARY_IDLE)
			return pl[i].slot;
	return NO_SLOT;
}

/* The handle records, in dependency order; *n of them in *out (free it). */
static int plan_handles(struct vgpu_zone *z, const struct vgpu_backend_fns *f, struct plan **out, uint32_t *n,
			char *why, size_t why_len)
{
	static const unsigned order[] = { VGPU_H_CONTEXT, VGPU_H_MODULE, VGPU_H_FUNCTION, VGPU_H_STREAM, VGPU_H_EVENT,
					  VGPU_H_MEMORY_POOL };
	uint32_t used = z->htab.used, k = 0;
	struct plan *p = calloc(used ? used : 1, sizeof(*p));
	CUresult r = CUDA_SUCCESS;
	if (!p)
		return fail(why, why_len, -ENOMEM, "out of memory");
	for (unsigned o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		for (uint32_t i = 0; i < used; i++) {
			unsigned t; void *real; const void *own; uint32_t gen;
			if (vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen) != 1 || t != order[o])
				continue;
			struct plan *q = &p[k];
			*q = (struct plan){ .slot = i, .owner = own ? owner_slot(z, own) : NO_SLOT };
			switch (t) {
			case VGPU_H_CONTEXT: {
				CUdevice dev = 0;
				unsigned flags = 0;
				int idle = vgpu_zone_primary_idle(z, f->cuDevicePrimaryCtxGetState, real, &dev, &flags);
				if (idle < 0) {
					r = CUDA_ERROR_INVALID_CONTEXT;
					goto drv;
				}
				if (!idle && ((r = f->cuCtxSetCurrent(real)) || (r = f->cuCtxGetDevice(&dev)) ||
					      (r = f->cuCtxGetFlags(&flags))))
					goto drv;
				q->type = R_CTX;
				q->a = idle ? CTX_PRIMARY_IDLE :
				       dev >= 0 && dev < (int)VGPU_ZONE_MAX_DEVICES && z->primary[dev] == real;
				q->b = (uint32_t)dev;
				q->len = flags;
				q->owner = NO_SLOT;
				break;
			}
			case VGPU_H_MODULE: {
				const struct vgpu_ckpt_image *im = image_of(z, real);
				if (!im) {
					free(p);
					return fail(why, why_len, -EOPNOTSUPP, "module slot %u was loaded in a way whose image "
						    "the proxy did not keep (a JIT-linked image)", i);
				}
				q->type = R_MODULE;
				q->bytes = im->bytes;
				q->len = im->len;
				break;
			}
			case VGPU_H_FUNCTION: {
				const char *name = NULL;
				if ((r = f->cuFuncGetName(&name, real)) || !name)
					goto drv;
				size_t nl = strnlen(name, VGPU_CKPT_NAME_MAX + 1);
				if (nl == 0 || nl > VGPU_CKPT_NAME_MAX || slot_of_real(z, VGPU_H_MODULE, own) == NO_SLOT) {
					free(p);
					return fail(why, why_len, -EOPNOTSUPP, "function slot %u has no module the checkpoint "
						    "can name (or a %zu-byte name)", i, nl);
				}
				q->type = R_FUNC;
				q->bytes = name;   /* the driver's, valid while the module is loaded */
				q->len = nl;
				break;
			}
			case VGPU_H_STREAM: {
				unsigned flags = 0;
				int prio = 0;
				ctx_current(z, f, q->owner);
				if ((r = f->cuStreamGetFlags(real, &flags)) || (r = f->cuStreamGetPriority(real, &prio)))
					goto drv;
				q->type = R_STREAM;
				q->a = flags;
				q->b = (uint32_t)prio;
				break;
			}
			case VGPU_H_EVENT: {
				float ms;
				q->type = R_EVENT;
				q->a = event_flags(z, real);
				if (!(q->a & CU_EVENT_DISABLE_TIMING) && f->cuEventElapsedTime_v2) {
					ctx_current(z, f, q->owner);
					if (f->cuEventElapsedTime_v2(&ms, real, real) == CUDA_SUCCESS)
						q->a |= EV_RECORDED;
				}
				break;
			}
			case VGPU_H_MEMORY_POOL: {
				int prc = plan_pool(z, f, real, q, why, why_len);
				if (prc < 0) {
					free(p);
					return prc;
				}
				break;
			}
			}
			k++;
		}
	}
	*out = p;
	*n = k;
	return 0;
drv:
	free(p);
	return fail(why, why_len, -EIO, "the driver failed a query while planning the checkpoint (CUresult %d)", (int)r);
}

static uint64_t plan_bytes(const struct plan *q)
{
	switch (q->type) {
	case R_CTX:    return 16 + 16;
	case R_MODULE: return 16 + 16 + q->len;
	case R_FUNC:   return 16 + 12 + q->len;
	case R_STREAM: return 16 + 16;
	case R_POOL:   return 16 + POOL_BODY;
	default:       return 16 + 12;   /* R_EVENT */
	}
}

/* ---------------------------------------------------------------- graphs */

struct gbuf { uint8_t *p; size_t n, cap; int err; };

static void gb_put(struct gbuf *b, const void *v, size_t k)
{
	if (b->err)
		return;
	if (b->n + k > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + k)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, v, k);
	b->n += k;
}
static void gb_u32(struct gbuf *b, uint32_t v) { gb_put(b, &v, 4); }
static void gb_u64(struct gbuf *b, uint64_t v) { gb_put(b, &v, 8); }

static const char *node_type_name(unsigned t)
{
	switch (t) {
	case CU_GRAPH_NODE_TYPE_HOST:            return "host function";
	case CU_GRAPH_NODE_TYPE_GRAPH:           return "child graph";
	case CU_GRAPH_NODE_TYPE_EXT_SEMAS_SIGNAL:
	case CU_GRAPH_NODE_TYPE_EXT_SEMAS_WAIT:  return "external semaphore";
	case CU_GRAPH_NODE_TYPE_MEM_ALLOC:       return "memory allocation";
	case CU_GRAPH_NODE_TYPE_MEM_FREE:        return "memory free";
	case CU_GRAPH_NODE_TYPE_BATCH_MEM_OP:    return "batch memory operation";
	case CU_GRAPH_NODE_TYPE_CONDITIONAL:     return "conditional";
	default:                                 return "unknown";
	}
}

static uint32_t node_index(CUgraphNode *nodes, size_t n, CUgraphNode x)
{
	for (size_t i = 0; i < n; i++)
		if (nodes[i] == x)
			return (uint32_t)i;
	return NO_SLOT;
}

/* Node x's dependencies as indices into nodes (NULL and *k 0 when it has none; -1 on error). */
static int node_deps(const struct vgpu_backend_fns *f, CUgraphNode *nodes, size_t n, CUgraphNode x,
		     uint32_t **out, size_t *k)
{
	size_t m = 0;
	*out = NULL;
	*k = 0;
	if (f->cuGraphNodeGetDependencies_v2(x, NULL, NULL, &m) != CUDA_SUCCESS || m > n)
		return -1;
	if (!m)
		return 0;
	CUgraphNode *d = calloc(m, sizeof(*d));
	uint32_t *idx = calloc(m, sizeof(*idx));
	size_t got = m;
	int rc = d && idx && f->cuGraphNodeGetDependencies_v2(x, d, NULL, &got) == CUDA_SUCCESS && got == m ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < m; i++)
		if ((idx[i] = node_index(nodes, n, d[i])) == NO_SLOT)
			rc = -1;
	free(d);
	if (rc < 0) {
		free(idx);
		return -1;
	}
	*out = idx;
	*k = m;
	return 0;
}

static int graph_describe(const struct vgpu_zone *z, const struct vgpu_backend_fns *f, CUgraph g, int with_slots,
			  uint32_t *nslots, struct gbuf *b, unsigned depth, char *why, size_t cap);

/* What rebuilding node x takes (its body), by type; 0 or -errno with why. */
static int node_body(const struct vgpu_zone *z, const struct vgpu_backend_fns *f, CUgraphNode x, unsigned type,
		     struct gbuf *nb, unsigned depth, char *why, size_t cap)
{
	CUresult r = CUDA_SUCCESS;
	switch (type) {
	case CU_GRAPH_NODE_TYPE_KERNEL: {
		CUDA_KERNEL_NODE_PARAMS p;
		memset(&p, 0, sizeof(p));
		if (!f->cuGraphKernelNodeGetParams_v2 || !f->cuFuncGetParamInfo ||
		    (r = f->cuGraphKernelNodeGetParams_v2(x, &p)) != CUDA_SUCCESS)
			break;
		uint32_t fs = p.func ? slot_of_real(z, VGPU_H_FUNCTION, p.func) : NO_SLOT;
		if (fs == NO_SLOT)
			return fail(why, cap, -EOPNOTSUPP, "a kernel node runs a function the zone holds no handle of "
				    "(a library's kernel?), which checkpoints do not carry");
		uint32_t np = 0, total = 0;
		size_t sizes[GRAPH_MAX_PARAMS];
		for (; np < GRAPH_MAX_PARAMS; np++) {
			size_t off, sz;
			if (f->cuFuncGetParamInfo(p.func, np, &off, &sz) != CUDA_SUCCESS)
				break;
			sizes[np] = sz;
			total += (uint32_t)sz;
		}
		if (total > GRAPH_MAX_PARAM_BYTES || (np && !p.kernelParams))
			return fail(why, cap, -EOPNOTSUPP, "a kernel node's %u parameters (%u bytes) cannot be read back",
				    np, total);
		gb_u32(nb, fs);
		gb_u32(nb, p.gridDimX); gb_u32(nb, p.gridDimY); gb_u32(nb, p.gridDimZ);
		gb_u32(nb, p.blockDimX); gb_u32(nb, p.blockDimY); gb_u32(nb, p.blockDimZ);
		gb_u32(nb, p.sharedMemBytes);
		gb_u32(nb, np);
		for (uint32_t i = 0; i < np; i++) {
			if (!p.kernelParams[i])
				return fail(why, cap, -EOPNOTSUPP, "a kernel node's parameter %u cannot be read back", i);
			gb_u32(nb, (uint32_t)sizes[i]);
			if (z->ck.nmoved) {   /* pointers to moved globals as the zone knows them */
				uint8_t v[GRAPH_MAX_PARAM_BYTES];
				memcpy(v, p.kernelParams[i], sizes[i]);
				moved_words(&z->ck, v, sizes[i], 0);
				gb_put(nb, v, sizes[i]);
			} else {
				gb_put(nb, p.kernelParams[i], sizes[i]);
			}
		}
		return 0;
	}
	case CU_GRAPH_NODE_TYPE_MEMCPY: {
		CUDA_MEMCPY3D c;
		memset(&c, 0, sizeof(c));
		if (!f->cuGraphMemcpyNodeGetParams || (r = f->cuGraphMemcpyNodeGetParams(x, &c)) != CUDA_SUCCESS)
			break;
		if (c.srcMemoryType != CU_MEMORYTYPE_DEVICE || c.dstMemoryType != CU_MEMORYTYPE_DEVICE ||
		    c.srcXInBytes || c.srcY || c.srcZ || c.srcLOD || c.dstXInBytes || c.dstY || c.dstZ || c.dstLOD)
			return fail(why, cap, -EOPNOTSUPP, "a copy node that is not a plain copy between device addresses");
		gb_u64(nb, moved_zone(&z->ck, c.srcDevice)); gb_u64(nb, moved_zone(&z->ck, c.dstDevice));
		gb_u64(nb, c.srcPitch); gb_u64(nb, c.srcHeight); gb_u64(nb, c.dstPitch); gb_u64(nb, c.dstHeight);
		gb_u64(nb, c.WidthInBytes); gb_u64(nb, c.Height); gb_u64(nb, c.Depth);
		return 0;
	}
	case CU_GRAPH_NODE_TYPE_MEMSET: {
		CUDA_MEMSET_NODE_PARAMS m;
		if (!f->cuGraphMemsetNodeGetParams || (r = f->cuGraphMemsetNodeGetParams(x, &m)) != CUDA_SUCCESS)
			break;
		gb_u64(nb, moved_zone(&z->ck, m.dst)); gb_u64(nb, m.pitch); gb_u32(nb, m.value); gb_u32(nb, m.elementSize);
		gb_u64(nb, m.width); gb_u64(nb, m.height);
		return 0;
	}
	case CU_GRAPH_NODE_TYPE_EMPTY:
		return 0;
	case CU_GRAPH_NODE_TYPE_GRAPH: {
		/* a child graph: its own nodes, described the same way (none is a zone's handle) */
		CUgraph child = NULL;
		if (!f->cuGraphChildGraphNodeGetGraph || (r = f->cuGraphChildGraphNodeGetGraph(x, &child)) != CUDA_SUCCESS)
			break;
		if (depth + 1 >= GRAPH_MAX_DEPTH)
			return fail(why, cap, -E2BIG, "child graphs nested more than %u deep", GRAPH_MAX_DEPTH);
		return graph_describe(z, f, child, 0, NULL, nb, depth + 1, why, cap);
	}
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT: {
		CUevent e = NULL;
		CUresult (*get)(CUgraphNode, CUevent *) = type == CU_GRAPH_NODE_TYPE_EVENT_RECORD ?
			f->cuGraphEventRecordNodeGetEvent : f->cuGraphEventWaitNodeGetEvent;
		if (!get || (r = get(x, &e)) != CUDA_SUCCESS)
			break;
		uint32_t es = slot_of_real(z, VGPU_H_EVENT, e);
		if (es == NO_SLOT)
			return fail(why, cap, -EOPNOTSUPP, "an event node names an event the zone holds no handle of");
		gb_u32(nb, es);
		return 0;
	}
	default:
		return fail(why, cap, -EOPNOTSUPP, "the zone holds a graph with a %s node (type %u), which checkpoints "
			    "do not carry (supported: kernel, copy, memset, empty, child graph, event record and wait nodes)",
			    node_type_name(type), type);
	}
	return fail(why, cap, -EIO, "reading a graph node of type %u back failed (CUresult %d)", type, (int)r);
}

/*
 * Describe graph g into b: its node count, then its nodes in an order where every node comes
 * after its dependencies, each with the zone's slot of it (with_slots; a node the zone holds no
 * handle of, or any node of an executable graph's copy: NO_SLOT) and what rebuilding it takes.
 * Counts the nodes with a slot in *nslots (with_slots).
 */
static int graph_describe(const struct vgpu_zone *z, const struct vgpu_backend_fns *f, CUgraph g, int with_slots,
			  uint32_t *nslots, struct gbuf *b, unsigned depth, char *why, size_t cap)
{
	size_t n = 0, got;
	CUresult r;
	int rc = 0;
	if ((r = f->cuGraphGetNodes(g, NULL, &n)) != CUDA_SUCCESS)
		return fail(why, cap, -EIO, "listing a graph's nodes failed (CUresult %d)", (int)r);
	if (n > GRAPH_MAX_NODES)
		return fail(why, cap, -E2BIG, "a graph of %zu nodes (a checkpoint holds graphs of up to %u)", n,
			    GRAPH_MAX_NODES);
	CUgraphNode *nodes = calloc(n + 1, sizeof(*nodes));
	uint32_t *order = calloc(n + 1, sizeof(*order)), *pos = calloc(n + 1, sizeof(*pos));
	struct gbuf nb = { 0 };
	if (!nodes || !order || !pos) {
		rc = fail(why, cap, -ENOMEM, "out of memory describing a graph");
		goto out;
	}
	got = n;
	if (n && (f->cuGraphGetNodes(g, nodes, &got) != CUDA_SUCCESS || got != n)) {
		rc = fail(why, cap, -EIO, "listing a graph's nodes failed");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		pos[i] = NO_SLOT;
	/* a topological order: repeated passes place each node whose dependencies are placed */
	uint32_t placed = 0;
	for (int progress = 1; placed < n && progress;) {
		progress = 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t *d;
			size_t k, j;
			if (pos[i] != NO_SLOT)
				continue;
			if (node_deps(f, nodes, n, nodes[i], &d, &k) < 0) {
				rc = fail(why, cap, -EIO, "reading a graph node's dependencies failed");
				goto out;
			}
			for (j = 0; j < k && pos[d[j]] != NO_SLOT; j++)
				;
			free(d);
			if (j == k) {
				pos[i] = placed;
				order[placed++] = (uint32_t)i;
				progress = 1;
			}
		}
	}
	if (placed < n) {
		rc = fail(why, cap, -EPROTO, "a graph's dependencies form a cycle");
		goto out;
	}
	gb_u32(b, (uint32_t)n);
	gb_u32(b, 0);
	for (uint32_t k = 0; k < n && rc == 0; k++) {
		CUgraphNode x = nodes[order[k]];
		CUgraphNodeType type;
		uint32_t *d;
		size_t nd;
		if (f->cuGraphNodeGetType(x, &type) != CUDA_SUCCESS || node_deps(f, nodes, n, x, &d, &nd) < 0) {
			rc = fail(why, cap, -EIO, "reading a graph node back failed");
			break;
		}
		nb.n = 0;
		if ((rc = node_body(z, f, x, type, &nb, depth, why, cap)) == 0) {
			uint32_t slot = with_slots ? slot_of_real(z, VGPU_H_GRAPH_NODE, x) : NO_SLOT;
			if (slot != NO_SLOT)
				(*nslots)++;
			gb_u32(b, slot);
			gb_u32(b, (uint32_t)type);
			gb_u32(b, (uint32_t)nd);
			gb_u32(b, (uint32_t)nb.n);
			for (size_t j = 0; j < nd; j++)
				gb_u32(b, pos[d[j]]);
			gb_put(b, nb.p, nb.n);
		}
		free(d);
	}
	if (rc == 0 && (b->err || nb.err))
		rc = fail(why, cap, -ENOMEM, "out of memory describing a graph");
	if (rc == 0 && b->n > GRAPH_MAX_BODY)
		rc = fail(why, cap, -E2BIG, "a graph takes %zu bytes to describe (a checkpoint holds up to %u)", b->n,
			  GRAPH_MAX_BODY);
out:
	free(nb.p);
	free(nodes);
	free(order);
	free(pos);
	return rc;
}

/* One graph or executable graph to write (described before anything is written); nodes:
 * how many of its nodes the zone holds handles of. */
struct gplan { uint32_t type, slot, owner, nodes; uint64_t flags; struct gbuf b; };

/* Describe every graph and executable graph of the zone; node slots no graph holds (nodes
 * of a graph destroyed since: stale handles) are not written, so they stay stale. */
static int plan_graphs(struct vgpu_zone *z, const struct vgpu_backend_fns *f, struct gplan **out, uint32_t *nout,
		       char *why, size_t cap)
{
	uint32_t used = z->htab.used, n = 0;
	int rc = 0;
	*out = NULL;
	*nout = 0;
	if (!z->htab.count[VGPU_H_GRAPH] && !z->htab.count[VGPU_H_GRAPH_EXEC])
		return 0;
	struct gplan *g = calloc((size_t)z->htab.count[VGPU_H_GRAPH] + z->htab.count[VGPU_H_GRAPH_EXEC] + 1, sizeof(*g));
	if (!g)
		return fail(why, cap, -ENOMEM, "out of memory planning the zone's graphs");
	for (uint32_t i = 0; i < used && rc == 0; i++) {
		unsigned t; void *real; const void *own; uint32_t gen;
		if (vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen) != 1 ||
		    (t != VGPU_H_GRAPH && t != VGPU_H_GRAPH_EXEC))
			continue;
		struct gplan *q = &g[n++];
		*q = (struct gplan){ .type = t == VGPU_H_GRAPH ? R_GRAPH : R_GEXEC, .slot = i, .owner = owner_slot(z, own) };
		if (t == VGPU_H_GRAPH) {
			rc = graph_describe(z, f, (CUgraph)real, 1, &q->nodes, &q->b, 0, why, cap);
			continue;
		}
		const struct vgpu_ckpt_gexec *x = gexec_of(z, real);
		if (!x || !x->clone)
			rc = fail(why, cap, -EOPNOTSUPP, "executable graph of slot %u has no copy of its graph (out of memory "
				  "when it was made)", i);
		else if (x->changed)
			rc = fail(why, cap, -EOPNOTSUPP, "executable graph of slot %u was changed by %s, which checkpoints do "
				  "not follow", i, x->changed);
		else {
			q->flags = x->flags;
			rc = graph_describe(z, f, (CUgraph)x->clone, 0, NULL, &q->b, 0, why, cap);
		}
	}
	if (rc < 0) {
		for (uint32_t i = 0; i < n; i++)
			free(g[i].b.p);
		free(g);
		return rc;
	}
	*out = g;
	*nout = n;
	return 0;
}

static uint64_t gplan_bytes(const struct gplan *q)
{
	return 16 + (q->type == R_GRAPH ? 8 : 16) + q->b.n;
}

/* ---------------------------------------------------------------- virtual memory management */

/* A temporary mapping of physical allocation h (size bytes, on device dev) where the proxy
 * can copy its bytes; *at gets its address. */
static CUresult vmem_window(const struct vgpu_backend_fns *f, CUmemGenericAllocationHandle h, uint64_t size, int dev,
			    CUdeviceptr *at)
{
	CUmemAccessDesc acc = { .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev },
				.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
	CUresult r;
	*at = 0;
	if ((r = f->cuMemAddressReserve(at, size, 0, 0, 0)) != CUDA_SUCCESS)
		return r;
	if ((r = f->cuMemMap(*at, size, 0, h, 0)) != CUDA_SUCCESS) {
		f->cuMemAddressFree(*at, size);
		return r;
	}
	if ((r = f->cuMemSetAccess(*at, size, &acc, 1)) != CUDA_SUCCESS) {
		f->cuMemUnmap(*at, size);
		f->cuMemAddressFree(*at, size);
	}
	return r;
}

static void vmem_window_close(const struct vgpu_backend_fns *f, CUdeviceptr at, uint64_t size)
{
	f->cuMemUnmap(at, size);
	f->cuMemAddressFree(at, size);
}

/* A context of the zone to make current for the virtual memory calls (they need one). */
static uint32_t any_ctx_slot(const struct vgpu_zone *z)
{
	for (uint32_t i = 0; i < z->htab.used; i++) {
		unsigned t; void *real; const void *own; uint32_t gen;
		if (vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen) == 1 && t == VGPU_H_CONTEXT)
			return i;
	}
	return NO_SLOT;
}

/* VMEM and VMAP records: each physical allocation with its bytes, read through a window;
 * then each mapped range with its offset and access. An allocation the zone released but
 * keeps mapped has no valid handle: the driver gives one back for one of its mappings
 * (cuMemRetainAllocationHandle), released again once read. */
static int write_vmm(struct writer *w, struct vgpu_zone *z, const struct vgpu_backend_fns *f, uint32_t *nrec,
		     char *why, size_t cap)
{
	const struct vgpu_vmm *m = &z->vmm;
	int *dev = calloc(m->n + 1, sizeof(*dev));
	int rc = 0;
	if (!dev)
		return fail(why, cap, -ENOMEM, "out of memory");
	ctx_current(z, f, any_ctx_slot(z));
	for (uint32_t i = 0; i < m->n && !w->err && rc == 0; i++, (*nrec)++) {
		const struct vgpu_vmm_phys *p = &m->v[i];
		CUmemGenericAllocationHandle h = (CUmemGenericAllocationHandle)p->handle, again = 0;
		CUmemAllocationProp prop;
		CUdeviceptr at = 0;
		CUresult r = CUDA_SUCCESS;
		if (!p->refs) {
			for (uint32_t k = 0; k < m->ranges.n && !again; k++)
				if ((uint64_t)(uintptr_t)m->ranges.v[k].owner == p->handle && f->cuMemRetainAllocationHandle)
					r = f->cuMemRetainAllocationHandle(&again, (void *)(uintptr_t)m->ranges.v[k].base);
			if (!again) {
				rc = fail(why, cap, -EIO, "physical allocation 0x%llx was released and its mapping gives no handle "
					  "back (CUresult %d)", (unsigned long long)p->id, (int)r);
				break;
			}
			h = again;
		}
		memset(&prop, 0, sizeof(prop));
		if ((r = f->cuMemGetAllocationPropertiesFromHandle(&prop, h)) ||
		    (r = vmem_window(f, h, p->size, prop.location.id, &at))) {
			rc = fail(why, cap, -EIO, "reading physical allocation 0x%llx (%llu bytes) failed (CUresult %d)",
				  (unsigned long long)p->id, (unsigned long long)p->size, (int)r);
			if (again)
				f->cuMemRelease(again);
			break;
		}
		dev[i] = prop.location.id;
		w_rec(w, R_VMEM, VMEM_HEAD + p->size);
		w_u64(w, p->id); w_u64(w, p->size); w_u64(w, m->key);
		w_u32(w, (uint32_t)prop.type); w_u32(w, (uint32_t)prop.location.type); w_u32(w, (uint32_t)prop.location.id);
		w_u32(w, p->refs);
		for (uint64_t done = 0; done < p->size && !w->err;) {
			if (w->n == w->cap)
				w_flush(w);
			if (w->err)
				break;
			uint64_t k = p->size - done < w->cap - w->n ? p->size - done : w->cap - w->n;
			if ((r = f->cuMemcpyDtoH_v2(w->buf + w->n, at + done, (size_t)k))) {
				rc = fail(why, cap, -EIO, "reading physical allocation 0x%llx failed (CUresult %d)",
					  (unsigned long long)p->id, (int)r);
				break;
			}
			w->crc = vgpu_crc32c(w->crc, w->buf + w->n, (size_t)k);
			w->done += k;
			w->n += k;
			done += k;
		}
		vmem_window_close(f, at, p->size);
		if (again)
			f->cuMemRelease(again);
	}
	for (uint32_t i = 0; i < m->ranges.n && !w->err && rc == 0; i++, (*nrec)++) {
		const struct vgpu_alloc *a = &m->ranges.v[i];
		uint64_t h = (uint64_t)(uintptr_t)a->owner, id = 0;
		CUmemLocation loc = { .type = CU_MEM_LOCATION_TYPE_DEVICE };
		unsigned long long flags = 0;
		for (uint32_t k = 0; k < m->n; k++)
			if (m->v[k].handle == h) {
				id = m->v[k].id;
				loc.id = dev[k];
			}
		if (!id || f->cuMemGetAccess(&flags, &loc, (CUdeviceptr)a->base)) {
			rc = fail(why, cap, -EIO, "the mapping at 0x%llx cannot be described", (unsigned long long)a->base);
			break;
		}
		w_rec(w, R_VMAP, VMAP_BODY);
		w_u64(w, a->base); w_u64(w, a->size); w_u64(w, vgpu_vmm_offset_of(m, a->base)); w_u64(w, id);
		w_u32(w, (uint32_t)flags); w_u32(w, 0);
	}
	free(dev);
	return rc;
}

/* The zone's pinned regions that have a memfd, with its inode (for a rejoining program to
 * offer them again); at most VGPU_PINNED_MAX_REGIONS. */
static uint32_t pinned_list(struct vgpu_zone *z, struct vgpu_ckpt_pin *out)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < VGPU_PINNED_MAX_REGIONS; i++) {
		int fd;
		uint64_t bytes;
		struct stat st;
		uint64_t addr;
		int e = vgpu_pinned_export(&z->pinned, i, &fd, &bytes, &addr);
		if (e < 0)
			break;
		if (e == 1 && fstat(fd, &st) == 0)
			out[n++] = (struct vgpu_ckpt_pin){ .ino = (uint64_t)st.st_ino, .bytes = bytes, .slot = i,
							   .addr = addr };
	}
	return n;
}

/* A module global carried by value (GVAL): where the backend cannot keep its address. */
struct gval {
	uint32_t mslot, cslot;   /* its module's slot and that module's context's */
	char *name;
	uint64_t addr, size;
};

static void gvals_free(struct gval *gv, uint32_t n)
{
	for (uint32_t i = 0; gv && i < n; i++)
		free(gv[i].name);
	free(gv);
}

/*
 * Every module global whose address the checkpoint does not keep (a GPU driver cannot put a
 * module's global anywhere but where it loads it): named from the module's image, found with
 * cuModuleGetGlobal, its value read at write time and put into the restored module's own
 * global by name. Globals the zone took the address of are kept by address or refused
 * (blockers); on the simulator every global is (take_all_globals), and none is left here.
 */
static int plan_gvals(struct vgpu_zone *z, const struct vgpu_backend_fns *f, struct gval **out, uint32_t *nout,
		      char *why, size_t why_len)
{
	struct gval *gv = NULL;
	uint32_t n = 0, cap = 0;
	*out = NULL;
	*nout = 0;
	if (f->vgpu_sim_module_place_global && f->vgpu_sim_module_global_at)
		return 0;   /* every global is kept by address (take_all_globals): none is left */
	for (uint32_t i = 0; i < z->htab.used; i++) {
		unsigned t; void *real; const void *own; uint32_t gen;
		if (vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen) != 1 || t != VGPU_H_MODULE)
			continue;
		const struct vgpu_ckpt_image *img = image_of(z, real);
		char **names = NULL;
		size_t nn = 0;
		if (!img)
			continue;
		if (!f->cuModuleGetGlobal_v2) {
			gvals_free(gv, n);
			return fail(why, why_len, -EOPNOTSUPP, "the driver lacks cuModuleGetGlobal, which carries "
				    "module globals");
		}
		if (vgpu_modimage_globals(img->bytes, img->len, &names, &nn) < 0) {
			gvals_free(gv, n);
			return fail(why, why_len, -EPROTO, "the image of module slot %u does not list its globals", i);
		}
		for (size_t k = 0; k < nn; k++) {
			CUdeviceptr addr;
			size_t size;
			int kept = 0;
			if (f->cuModuleGetGlobal_v2(&addr, &size, (CUmodule)real, names[k]) != CUDA_SUCCESS || !size)
				continue;   /* not a global the driver knows by that name */
			for (uint32_t g = 0; g < z->ck.nglob && !kept; g++)
				kept = z->ck.glob[g].module == real && z->ck.glob[g].addr == addr;
			if (kept)
				continue;
			if (size > GVAL_MAX || strlen(names[k]) > VGPU_CKPT_NAME_MAX) {
				int rc = fail(why, why_len, -E2BIG, "module global %.200s is %zu bytes; a checkpoint carries "
					      "globals of up to %llu bytes and names of up to %u characters", names[k], size,
					      (unsigned long long)GVAL_MAX, VGPU_CKPT_NAME_MAX);
				vgpu_modimage_free_names(names, nn);
				gvals_free(gv, n);
				return rc;
			}
			if (n == cap) {
				struct gval *g2 = realloc(gv, sizeof(*gv) * (cap = cap ? 2 * cap : 16));
				if (!g2) {
					vgpu_modimage_free_names(names, nn);
					gvals_free(gv, n);
					return fail(why, why_len, -ENOMEM, "out of memory listing module globals");
				}
				gv = g2;
			}
			gv[n++] = (struct gval){ i, slot_of_real(z, VGPU_H_CONTEXT, own), names[k], addr, size };
			names[k] = NULL;
		}
		vgpu_modimage_free_names(names, nn);
	}
	*out = gv;
	*nout = n;
	return 0;
}

/* size bytes of device memory at base, through the write buffer (the right context is current) */
static int w_device(struct writer *w, const struct vgpu_backend_fns *f, uint64_t base, uint64_t size,
		    const char *what, char *why, size_t why_len)
{
	CUresult r;
	for (uint64_t done = 0; done < size && !w->err;) {
		if (w->n == w->cap)
			w_flush(w);
		if (w->err)
			break;
		uint64_t k = size - done;
		if (k > w->cap - w->n)
			k = w->cap - w->n;
		if ((r = f->cuMemcpyDtoH_v2(w->buf + w->n, (CUdeviceptr)(base + done), (size_t)k)))
			return fail(why, why_len, -EIO, "reading %s at 0x%llx failed (CUresult %d)", what,
				    (unsigned long long)base, (int)r);
		w->crc = vgpu_crc32c(w->crc, w->buf + w->n, (size_t)k);
		w->done += k;
		w->n += k;
		done += k;
	}
	return 0;
}

struct zrange { uint64_t zbase; uint32_t a; };

static int zrange_cmp(const void *x, const void *y)
{
	const struct zrange *p = x, *q = y;
	return p->zbase < q->zbase ? -1 : p->zbase > q->zbase;
}

/*
 * The zone's allocations by the addresses it knows them at, in that order (the order of the
 * ranges record): a module global a restore found elsewhere is written at its old address,
 * where the zone still names it. NULL when out of memory.
 */
static struct zrange *zone_ranges(const struct vgpu_zone *z)
{
	struct zrange *v = malloc(sizeof(*v) * (z->amap.n + 1));
	if (!v)
		return NULL;
	for (uint32_t a = 0; a < z->amap.n; a++)
		v[a] = (struct zrange){ moved_zone(&z->ck, z->amap.v[a].base), a };
	if (z->ck.nmoved)
		qsort(v, z->amap.n, sizeof(*v), zrange_cmp);
	return v;
}

int vgpu_ckpt_write(int fd, struct vgpu_zone *z, const struct vgpu_backend *be, uint32_t backend_kind,
		    const char *reg, const char *source, const struct vgpu_ckpt_chan *chans, uint32_t nchan,
		    struct vgpu_ckpt_sum *sum, char *why, size_t why_len)
{
	struct vgpu_ckpt_pin *pins = NULL;
	struct gplan *gp = NULL;
	struct gval *gv = NULL;
	struct zrange *zr = NULL;
	uint32_t npins = 0, ngp = 0, ngv = 0;
	const struct vgpu_backend_fns *f = &be->fn;
	struct writer w = { .fd = fd, .cap = 4u << 20 };
	char *outb[VGPU_OUT_STREAMS] = { NULL };
	size_t outn[VGPU_OUT_STREAMS] = { 0 };
	struct plan *pl = NULL;
	uint32_t used = z->htab.used, npl = 0, nrec = 0;
	int rc;
	CUresult r;

	memset(sum, 0, sizeof(*sum));
	take_all_globals(z, be);
	pthread_mutex_lock(&z->lock);
	rc = blockers(z, be, why, why_len);
	pthread_mutex_unlock(&z->lock);
	if (rc < 0)
		return rc;
	/* Finish the zone's device work: what is written is what its programs would read. */
	for (uint32_t i = 0; i < used; i++) {
		unsigned t; void *real; const void *own; uint32_t gen;
		/* (an idle primary context has no work; the plan asks again) */
		if (vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen) == 1 && t == VGPU_H_CONTEXT &&
		    vgpu_zone_primary_idle(z, f->cuDevicePrimaryCtxGetState, real, NULL, NULL) == 0) {
			if ((r = f->cuCtxSetCurrent(real)) != CUDA_SUCCESS || (r = f->cuCtxSynchronize()) != CUDA_SUCCESS)
				return fail(why, why_len, -EIO, "finishing the work of context slot %u failed (CUresult %d): "
					    "the zone's device state is not consistent", i, (int)r);
		}
	}
	if ((rc = plan_handles(z, f, &pl, &npl, why, why_len)) < 0)
		goto out;
	if ((rc = plan_graphs(z, f, &gp, &ngp, why, why_len)) < 0)
		goto out;
	if ((rc = plan_gvals(z, f, &gv, &ngv, why, why_len)) < 0)
		goto out;
	if (nchan > VGPU_CKPT_MAX_CHANS) {
		rc = fail(why, why_len, -E2BIG, "the zone has %u channels; a checkpoint holds at most %u", nchan,
			  VGPU_CKPT_MAX_CHANS);
		goto out;
	}
	for (uint32_t i = 0; i < nchan; i++) {
		if (chans[i].nctx > VGPU_CKPT_CTX_MAX) {
			rc = fail(why, why_len, -E2BIG, "a thread of the zone has %u or more contexts on its stack "
				  "(cuCtxCreate, cuCtxPushCurrent); a checkpoint carries at most %u", chans[i].nctx,
				  VGPU_CKPT_CTX_MAX);
			goto out;
		}
		for (uint32_t k = 0; k < chans[i].nctx; k++)
			if (slot_of_real(z, VGPU_H_CONTEXT, chans[i].ctx[k]) == NO_SLOT) {
				rc = fail(why, why_len, -EINVAL, "a thread of the zone has a context on its stack that is "
					  "not one of the zone's");
				goto out;
			}
	}
	pins = calloc(VGPU_PINNED_MAX_REGIONS, sizeof(*pins));
	w.buf = malloc(w.cap);
	zr = zone_ranges(z);
	if (!w.buf || !pins || !zr) {
		rc = fail(why, why_len, -ENOMEM, "out of memory for the write buffer");
		goto out;
	}
	npins = pinned_list(z, pins);
	/* OUTPUT: what its kernels printed that the zone has not taken yet (a copy: a zone that
	 * goes on here still takes it), one record per stream that has some */
	for (unsigned s = 0; s < VGPU_OUT_STREAMS && vgpu_output_pending(); s++) {
		if (!(outb[s] = malloc(VGPU_OUTPUT_MAX))) {
			rc = fail(why, why_len, -ENOMEM, "out of memory");
			goto out;
		}
		outn[s] = vgpu_output_peek(s, outb[s], VGPU_OUTPUT_MAX);
	}
	/* the payload's length, announced in the header (a reader of a stream knows its end) */
	const char *s_reg = reg ? reg : "", *s_src = source ? source : "";
	/* the zone's devices and driver settings only where its process chose some (the devices,
	 * "" for all, before settings): a file without them reads as before */
	int tail = z->devices[0] || z->env[0];
	uint64_t zone_len = 4 + 4 + 8 + 16 + 12 + strlen(z->name) + strlen(s_reg) + strlen(s_src) +
			    (tail ? 4 + strlen(z->devices) : 0) + (z->env[0] ? 4 + strlen(z->env) : 0);
	uint64_t payload = 16 + zone_len + 16 + 8 + 16ull * (z->amap.n + z->vmm.nres) + 16 + 4 + 4ull * used + 16 + 8;
	for (uint32_t i = 0; i < z->vmm.n; i++)
		payload += 16 + VMEM_HEAD + z->vmm.v[i].size;
	payload += (16ull + VMAP_BODY) * z->vmm.ranges.n;
	for (uint32_t i = 0; i < npl; i++)
		payload += plan_bytes(&pl[i]);
	for (uint32_t a = 0; a < z->amap.n; a++)
		payload += 16 + 24 + z->amap.v[a].size;
	for (uint32_t g = 0; g < z->ck.nglob; g++)
		payload += 16 + 24 + strlen(z->ck.glob[g].name);
	for (uint32_t g = 0; g < ngv; g++)
		payload += 16 + GVAL_HEAD + strlen(gv[g].name) + gv[g].size;
	payload += (16ull + PINNED_BODY) * npins + (16ull + CHAN_BODY) * nchan;
	for (uint32_t i = 0; i < nchan; i++)
		payload += 4ull * (chans[i].nctx ? chans[i].nctx - 1 : 0);
	for (unsigned s = 0; s < VGPU_OUT_STREAMS; s++)
		payload += outn[s] ? 16 + 8 + outn[s] : 0;
	for (uint32_t i = 0; i < ngp; i++)
		payload += gplan_bytes(&gp[i]);

	uint8_t hdr[VGPU_CKPT_HDR_BYTES] = { 0 };
	uint32_t v32;
	memcpy(hdr, VGPU_CKPT_MAGIC, 8);
	v32 = VGPU_CKPT_VERSION; memcpy(hdr + 8, &v32, 4);
	v32 = VGPU_CKPT_HDR_BYTES; memcpy(hdr + 12, &v32, 4);
	memcpy(hdr + 16, &payload, 8);
	memcpy(hdr + 28, &backend_kind, 4);
	memcpy(w.buf, hdr, sizeof(hdr));   /* outside the payload: no CRC, not counted */
	w.n = sizeof(hdr);

	w_rec(&w, R_ZONE, zone_len);
	w_u32(&w, z->id);
	w_u32(&w, used);
	w_u64(&w, z->htab.key);
	w_bytes(&w, z->token, 16);
	w_str(&w, z->name);
	w_str(&w, s_reg);
	w_str(&w, s_src);
	if (tail)
		w_str(&w, z->devices);
	if (z->env[0])
		w_str(&w, z->env);
	nrec++;
	/* RANGES: every allocation's range, before anything that needs memory in the reader */
	w_rec(&w, R_RANGES, 8 + 16ull * (z->amap.n + z->vmm.nres));
	w_u32(&w, z->amap.n);
	w_u32(&w, z->vmm.nres);   /* the zone's address reservations follow its allocations */
	for (uint32_t a = 0; a < z->amap.n; a++) {
		w_u64(&w, zr[a].zbase);
		w_u64(&w, z->amap.v[zr[a].a].size);
	}
	vgpu_vmm_sort_res(&z->vmm);
	for (uint32_t a = 0; a < z->vmm.nres; a++) {
		w_u64(&w, z->vmm.res[a].base);
		w_u64(&w, z->vmm.res[a].size);
	}
	nrec++;
	/* SLOTS: every slot's generation, so ids given out before stay stale after */
	w_rec(&w, R_SLOTS, 4 + 4ull * used);
	w_u32(&w, used);
	for (uint32_t i = 0; i < used; i++) {
		unsigned t; void *real; const void *own; uint32_t gen = 0;
		vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen);
		w_u32(&w, gen);
	}
	nrec++;
	for (uint32_t i = 0; i < npl && !w.err; i++, nrec++) {
		const struct plan *q = &pl[i];
		w_rec(&w, q->type, plan_bytes(q) - 16);
		w_u32(&w, q->slot);
		switch (q->type) {
		case R_CTX:    w_u32(&w, q->a); w_u32(&w, q->b); w_u32(&w, (uint32_t)q->len); break;
		case R_MODULE: w_u32(&w, q->owner); w_u64(&w, q->len); w_bytes(&w, q->bytes, q->len); break;
		case R_FUNC:   w_u32(&w, q->owner); w_u32(&w, (uint32_t)q->len); w_bytes(&w, q->bytes, q->len); break;
		case R_STREAM: w_u32(&w, q->owner); w_u32(&w, q->a); w_u32(&w, q->b); break;
		case R_POOL:
			w_u32(&w, q->owner);
			for (unsigned k = 0; k < 6; k++)
				w_u32(&w, q->pool[k]);
			w_u64(&w, q->pool_max);
			w_u64(&w, q->pool_threshold);
			w_u32(&w, q->pool_reuse);
			w_u32(&w, 0);
			break;
		default:       w_u32(&w, q->owner); w_u32(&w, q->a); break;
		}
		sum->handles++;
	}
	/* allocations with their bytes, from the device into the write buffer */
	for (uint32_t a = 0; a < z->amap.n && !w.err; a++) {
		const struct vgpu_alloc *al = &z->amap.v[zr[a].a];
		/* made in a context, or a module's global: then its module's context (its device);
		 * stream-ordered: its device's, read through a live context of that device */
		int odev = vgpu_zone_ordered_dev(z, al->owner);
		uint32_t os = al->owner && odev < 0 ? slot_of_real(z, VGPU_H_CONTEXT, al->owner) : NO_SLOT;
		uint32_t ms = al->owner && odev < 0 && os == NO_SLOT ? slot_of_real(z, VGPU_H_MODULE, al->owner) : NO_SLOT;
		if (ms != NO_SLOT) {
			unsigned t; void *real; const void *own; uint32_t gen;
			if (vgpu_htab_slot(&z->htab, ms, &t, &real, &own, &gen) == 1 && own)
				os = slot_of_real(z, VGPU_H_CONTEXT, own);
		}
		ctx_current(z, f, odev >= 0 ? live_ctx_on(pl, npl, odev) : os);
		w_rec(&w, R_ALLOC, 24 + al->size);
		w_u64(&w, zr[a].zbase); w_u64(&w, al->size); w_u32(&w, os);
		w_u32(&w, odev >= 0 ? ALLOC_ORDERED | (uint32_t)odev << 8 :
		      ms != NO_SLOT && !f->vgpu_sim_module_place_global ? ALLOC_GLOBAL : 0);
		if ((rc = w_device(&w, f, al->base, al->size, "the allocation", why, why_len)) < 0)
			goto out;
		nrec++;
		sum->allocs++;
		sum->mem_bytes += al->size;
	}
	/* VMEM, VMAP: the zone's physical allocations with their bytes, and its mappings */
	if (!w.err && (rc = write_vmm(&w, z, f, &nrec, why, why_len)) < 0)
		goto out;
	/* GLOBAL: module globals the zone holds the address of (their bytes came with the
	 * allocations above) */
	for (uint32_t g = 0; g < z->ck.nglob && !w.err; g++, nrec++) {
		const struct vgpu_ckpt_global *gl = &z->ck.glob[g];
		uint32_t len = (uint32_t)strlen(gl->name);
		w_rec(&w, R_GLOBAL, 24ull + len);
		w_u32(&w, slot_of_real(z, VGPU_H_MODULE, gl->module));
		w_u32(&w, len);
		w_u64(&w, gl->zaddr);
		w_u64(&w, gl->size);
		w_bytes(&w, gl->name, len);
	}
	/* GVAL: the values of the other module globals, by name */
	for (uint32_t g = 0; g < ngv && !w.err; g++, nrec++) {
		uint32_t len = (uint32_t)strlen(gv[g].name);
		ctx_current(z, f, gv[g].cslot);
		w_rec(&w, R_GVAL, GVAL_HEAD + len + gv[g].size);
		w_u32(&w, gv[g].mslot);
		w_u32(&w, len);
		w_u64(&w, gv[g].size);
		w_bytes(&w, gv[g].name, len);
		if ((rc = w_device(&w, f, gv[g].addr, gv[g].size, "a module global", why, why_len)) < 0)
			goto out;
	}
	/* GRAPH and GEXEC: graphs and executable graphs, node by node (after the memory their
	 * nodes name) */
	for (uint32_t i = 0; i < ngp && !w.err; i++, nrec++) {
		const struct gplan *q = &gp[i];
		w_rec(&w, q->type, gplan_bytes(q) - 16);
		w_u32(&w, q->slot);
		w_u32(&w, q->owner);
		if (q->type == R_GEXEC)
			w_u64(&w, q->flags);
		w_bytes(&w, q->b.p, q->b.n);
		sum->handles += 1 + q->nodes;
	}
	/* PINNED and CHAN: what a program must offer again to rejoin a restore of the zone
	 * should this worker vanish while the zone is saved */
	for (uint32_t i = 0; i < npins && !w.err; i++, nrec++) {
		w_rec(&w, R_PINNED, PINNED_BODY);
		w_u32(&w, pins[i].slot);
		w_u32(&w, 0);
		w_u64(&w, pins[i].bytes);
		w_u64(&w, pins[i].ino);
		w_u64(&w, z->pinned.key);
		w_u64(&w, pins[i].addr);
	}
	for (uint32_t i = 0; i < nchan && !w.err; i++, nrec++) {
		uint32_t n = chans[i].nctx, below = n ? n - 1 : 0;
		w_rec(&w, R_CHAN, CHAN_BODY + 4 * below);
		w_u64(&w, chans[i].ino);
		w_u32(&w, n ? slot_of_real(z, VGPU_H_CONTEXT, chans[i].ctx[n - 1]) : NO_SLOT);
		w_u32(&w, below);
		for (unsigned k = 0; k < 4; k++)
			w_u32(&w, chans[i].pos[k]);
		for (uint32_t k = 0; k < below; k++)
			w_u32(&w, slot_of_real(z, VGPU_H_CONTEXT, chans[i].ctx[k]));
	}
	for (unsigned s = 0; s < VGPU_OUT_STREAMS && !w.err; s++) {
		if (!outn[s])
			continue;
		w_rec(&w, R_OUTPUT, 8 + outn[s]);
		w_u32(&w, s);
		w_u32(&w, 0);
		w_bytes(&w, outb[s], outn[s]);
		nrec++;
	}
	/* END: how many records came before it, and the CRC-32C of every payload byte before it */
	uint32_t crc = w.crc;
	w_rec(&w, R_END, 8);
	w_u32(&w, nrec);
	w_u32(&w, crc);
	w_flush(&w);
	if (w.err) {
		rc = fail(why, why_len, w.err, "writing the checkpoint failed: %s%s", strerror(-w.err),
			  w.err == -EPIPE ? " (the reader went away)" : "");
		goto out;
	}
	if (w.done != payload) {
		rc = fail(why, why_len, -EIO, "wrote %llu payload bytes, announced %llu",
			  (unsigned long long)w.done, (unsigned long long)payload);
		goto out;
	}
	sum->file_bytes = VGPU_CKPT_HDR_BYTES + payload;
	rc = 0;
out:
	f->cuCtxSetCurrent(NULL);
	free(pl);
	for (uint32_t i = 0; i < ngp; i++)
		free(gp[i].b.p);
	free(gp);
	gvals_free(gv, ngv);
	free(zr);
	free(pins);
	for (unsigned s = 0; s < VGPU_OUT_STREAMS; s++)
		free(outb[s]);
	free(w.buf);
	return rc;
}

/* ---------------------------------------------------------------- reading */

/*
 * The payload, read once and in order from a buffer (the fuzz target, vgpu_ckpt_check) or a
 * descriptor (a file or a stream from the writing worker): every byte read is checked against
 * the length the header announced and goes into the CRC that the end record must match.
 */
struct src {
	const uint8_t *buf;     /* buffer source, else NULL */
	int fd;
	uint64_t total, off;    /* payload length announced, bytes taken */
	uint32_t crc;
	int err;                /* -errno of a failed read, -EPROTO past the announced length */
	uint8_t *ra;            /* a descriptor's bytes read ahead, ra[ra_pos..ra_len) not taken yet */
	size_t ra_pos, ra_len;
};

/* A descriptor is read SRC_AHEAD bytes at a time, never past the announced payload (a
 * migration's stream may carry more after it): a record's header and body are two small
 * reads, and a checkpoint holds thousands of records. A read of at least SRC_AHEAD bytes
 * into memory (an allocation's contents) goes straight from the descriptor. */
#define SRC_AHEAD (64u << 10)

static int src_read(struct src *s, void *dst, uint64_t n)
{
	if (s->err)
		return s->err;
	if (n > s->total - s->off)
		return s->err = -EPROTO;
	if (s->buf) {
		if (dst)
			memcpy(dst, s->buf + VGPU_CKPT_HDR_BYTES + s->off, (size_t)n);
		s->crc = vgpu_crc32c(s->crc, s->buf + VGPU_CKPT_HDR_BYTES + s->off, (size_t)n);
		s->off += n;
		return 0;
	}
	while (n) {
		size_t k;
		const uint8_t *from;
		if (s->ra_pos < s->ra_len) {
			k = s->ra_len - s->ra_pos < n ? s->ra_len - s->ra_pos : (size_t)n;
			from = s->ra + s->ra_pos;
			s->ra_pos += k;
			if (dst)
				memcpy(dst, from, k);
		} else {
			/* nothing read ahead: every byte the descriptor has left is the payload's */
			int direct = dst && n >= SRC_AHEAD;
			if (!direct && !s->ra && !(s->ra = malloc(SRC_AHEAD)))
				return s->err = -ENOMEM;
			uint64_t left = s->total - s->off;
			size_t want = direct ? (size_t)n : (size_t)(left < SRC_AHEAD ? left : SRC_AHEAD);
			uint8_t *to = direct ? dst : s->ra;
			ssize_t r = read(s->fd, to, want);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return s->err = r < 0 ? -errno : -ENODATA;
			if (!direct) {
				s->ra_pos = 0;
				s->ra_len = (size_t)r;
				continue;
			}
			k = (size_t)r;
			from = to;
		}
		s->crc = vgpu_crc32c(s->crc, from, k);
		s->off += k;
		n -= k;
		if (dst)
			dst = (uint8_t *)dst + k;
	}
	return 0;
}

struct rd {
	const uint8_t *p;
	size_t n, off;
	int bad;
};

static int rd_take(struct rd *r, void *dst, size_t n)
{
	if (r->bad || n > r->n - r->off) {
		r->bad = 1;
		if (dst)
			memset(dst, 0, n);
		return -1;
	}
	if (dst)
		memcpy(dst, r->p + r->off, n);
	r->off += n;
	return 0;
}
static uint32_t rd_u32(struct rd *r) { uint32_t v; rd_take(r, &v, 4); return v; }
static uint64_t rd_u64(struct rd *r) { uint64_t v; rd_take(r, &v, 8); return v; }

/* A length-prefixed string of at most cap-1 bytes, no NUL inside, into out (NUL-terminated). */
static int rd_str(struct rd *r, char *out, size_t cap)
{
	uint32_t n = rd_u32(r);
	out[0] = '\0';
	if (r->bad || n >= cap || n > r->n - r->off) {
		r->bad = 1;
		return -1;
	}
	memcpy(out, r->p + r->off, n);
	out[n] = '\0';
	r->off += n;
	return strlen(out) == n ? 0 : (r->bad = 1, -1);
}

/* The zone record's body: 0, or -1 when malformed. */
static int zone_rec(struct rd *b, struct vgpu_ckpt_meta *z, uint64_t *key)
{
	z->zone_id = rd_u32(b);
	z->slots = rd_u32(b);
	*key = rd_u64(b);
	rd_take(b, z->token, 16);
	rd_str(b, z->name, sizeof(z->name));
	rd_str(b, z->reg, sizeof(z->reg));
	rd_str(b, z->source, sizeof(z->source));
	z->devices[0] = z->env[0] = '\0';
	if (!b->bad && b->off < b->n) {
		/* the devices its process chose: ordinals, checked against the restoring proxy's
		 * devices when its worker starts (devsel.c); here only their form. "" (all) only
		 * before driver settings, which must then be some the proxy passes on (drvenv.h). */
		int ord[VGPU_VISIBLE_MAX];
		rd_str(b, z->devices, sizeof(z->devices));
		if (!b->bad && z->devices[0] && vgpu_visible_ordinals(z->devices, VGPU_VISIBLE_MAX, ord) <= 0)
			b->bad = 1;
		if (!b->bad && b->off < b->n) {
			rd_str(b, z->env, sizeof(z->env));
			if (!b->bad && (!z->env[0] || vgpu_drvenv_check(z->env) < 0))
				b->bad = 1;
		} else if (!b->bad && !z->devices[0]) {
			b->bad = 1;
		}
	}
	return b->bad || b->off != b->n || z->slots > VGPU_CKPT_MAX_SLOTS || !(*key & 0x80000000ull) ? -1 : 0;
}

/* Header checks (the payload length against the file's when it has one, else 0). */
static int hdr_check(const uint8_t *buf, size_t len, uint64_t file_len, uint64_t *payload, uint32_t *backend,
		     uint32_t *version_out, char *why, size_t cap)
{
	uint32_t version, hdr_bytes;
	if (len < VGPU_CKPT_HDR_BYTES || memcmp(buf, VGPU_CKPT_MAGIC, 8))
		return fail(why, cap, -EINVAL, "not a vgpu checkpoint (no %s header)", VGPU_CKPT_MAGIC);
	memcpy(&version, buf + 8, 4);
	memcpy(&hdr_bytes, buf + 12, 4);
	memcpy(payload, buf + 16, 8);
	memcpy(backend, buf + 28, 4);
	if (version < VGPU_CKPT_VERSION_MIN || version > VGPU_CKPT_VERSION || hdr_bytes != VGPU_CKPT_HDR_BYTES)
		return fail(why, cap, -EPROTO, "checkpoint format version %u (header %u bytes); this proxy reads versions %u to %u",
			    version, hdr_bytes, VGPU_CKPT_VERSION_MIN, VGPU_CKPT_VERSION);
	*version_out = version;
	for (unsigned i = 24; i < VGPU_CKPT_HDR_BYTES; i++)
		if (buf[i] && (i < 28 || i >= 32))
			return fail(why, cap, -EPROTO, "reserved header byte %u is not zero", i);
	if (*payload > VGPU_CKPT_MAX_BYTES)
		return fail(why, cap, -EFBIG, "the header announces %llu bytes, more than the %llu this proxy reads",
			    (unsigned long long)*payload, (unsigned long long)VGPU_CKPT_MAX_BYTES);
	if (file_len && *payload != file_len - VGPU_CKPT_HDR_BYTES)
		return fail(why, cap, -EPROTO, "the header announces %llu bytes after it, the file has %llu (truncated or extended)",
			    (unsigned long long)*payload, (unsigned long long)(file_len - VGPU_CKPT_HDR_BYTES));
	if (*backend != VGPU_BACKEND_CUDA && *backend != VGPU_BACKEND_SIM)
		return fail(why, cap, -EPROTO, "unknown backend kind %u", *backend);
	return 0;
}

/* What each slot holds, as the records build it up (the checker's and the restorer's view). */
struct model {
	uint32_t used;
	uint8_t *type;        /* per slot: 0 free, else vgpu_handle_type */
	uint32_t *gen;
	int32_t *dev;         /* contexts: their device */
	uint64_t *range;      /* RANGES: base, size pairs */
	uint32_t nrange, nalloc;
	uint32_t npin, last_pin_slot;
	uint64_t pin_key;
	uint64_t *chan_ino;   /* CHAN: the rings' inodes so far (no ring twice) */
	uint32_t nchan;
	uint32_t nout, last_out; /* OUTPUT: records so far and the last one's stream (ascending, each once) */
	uint64_t *res;        /* RANGES: the address reservations, base, size pairs */
	uint32_t nres;
	uint64_t *vmem;       /* VMEM: id, size pairs so far */
	uint32_t nvmem;
	uint64_t vmem_key;
	uint64_t *vmap;       /* VMAP: mapped ranges so far, base, size pairs (ascending) */
	uint32_t nvmap;
};

/* One parsed record, handed to the restorer. */
struct item {
	uint32_t type;
	uint32_t slot, owner, a, b;   /* meaning per type (see parse) */
	uint64_t base, size;
	const uint8_t *data;          /* image or name (ALLOC: its bytes are read from src by the restorer) */
	size_t len;
	struct src *src;
	uint32_t pool[6];             /* POOL: kind, device, type, location, usage, current */
	uint64_t key;                 /* PINNED, VMEM: the id key */
	uint64_t off, id;             /* VMAP: offset into its allocation, the allocation's id; PINNED: off is
				       * the region's address in the saving worker */
	uint32_t pos[4];              /* CHAN: ring indices */
};

/* The restorer's steps: each handle and allocation record once it has passed its checks
 * (ALLOC: the restorer reads its bytes from it->src, or they are skipped without one). */
typedef int (*apply_fn)(void *ctx, const struct model *m, const struct item *it, char *why, size_t cap);

static int slot_is(const struct model *m, uint32_t s, unsigned type)
{
	return s < m->used && m->type[s] == type;
}

static void model_free(struct model *m)
{
	free(m->type);
	free(m->gen);
	free(m->dev);
	free(m->range);
	free(m->chan_ino);
	free(m->res);
	free(m->vmem);
	free(m->vmap);
	memset(m, 0, sizeof(*m));
}

/* Largest body read into memory per record type (ALLOC's bytes are streamed). */
static uint64_t body_max(uint32_t type)
{
	switch (type) {
	case R_ZONE:   return 4096;
	case R_RANGES: return 8 + 16ull * VGPU_CKPT_MAX_ALLOCS;
	case R_SLOTS:  return 4 + 4ull * VGPU_CKPT_MAX_SLOTS;
	case R_MODULE: return 16 + VGPU_CKPT_MAX_IMAGE;
	case R_FUNC:   return 12 + VGPU_CKPT_NAME_MAX;
	case R_POOL:   return POOL_BODY;
	case R_GLOBAL: return 24 + VGPU_CKPT_NAME_MAX;
	case R_GVAL:   return GVAL_HEAD + VGPU_CKPT_NAME_MAX + GVAL_MAX;
	case R_PINNED: return PINNED_BODY;
	case R_CHAN:   return CHAN_BODY + 4 * (VGPU_CKPT_CTX_MAX - 1);
	case R_OUTPUT: return 8 + VGPU_OUTPUT_MAX;
	case R_VMEM:   return VMEM_HEAD;
	case R_VMAP:   return VMAP_BODY;
	case R_GRAPH:  return 8 + GRAPH_MAX_BODY;
	case R_GEXEC:  return 16 + GRAPH_MAX_BODY;
	default:       return 24;
	}
}

/*
 * Check a graph's nodes (after its record's slot fields): every node's dependencies name
 * nodes before it, its body is what its type needs and names slots of the right type; a
 * node's own slot is free (then taken) or NO_SLOT (always, in an executable graph's copy).
 */
/* Is [base, base + len) (len > 0) inside one of the n (base, size) pairs of v? */
static int pairs_hold(const uint64_t *v, uint32_t n, uint64_t base, uint64_t len)
{
	for (uint32_t k = 0; len && k < n; k++)
		if (base >= v[2 * k] && base - v[2 * k] <= v[2 * k + 1] && len <= v[2 * k + 1] - (base - v[2 * k]))
			return 1;
	return 0;
}

/* [base, base + len) inside one of the allocations read before (the ranges record). */
static int in_alloc(const struct model *m, uint64_t base, uint64_t len)
{
	uint32_t lo = 0, hi = m->nalloc;
	while (lo < hi) {   /* the last range starting at or below base */
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->range[2 * mid] <= base)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (len && lo) {
		uint64_t rb = m->range[2 * (lo - 1)], rs = m->range[2 * (lo - 1) + 1];
		if (base - rb <= rs && len <= rs - (base - rb))
			return 1;
	}
	/* or one of the zone's mappings (virtual memory management) */
	return pairs_hold(m->vmap, m->nvmap, base, len);
}

/* The bytes a strided box covers from its start: rows of width, pitch apart, in layers of
 * rows_per_layer rows; 0 on overflow or a pitch shorter than a row. */
static uint64_t box_span(uint64_t width, uint64_t height, uint64_t depth, uint64_t pitch, uint64_t rows_per_layer)
{
	uint64_t rows, span;
	if ((height > 1 || depth > 1) && pitch < width)
		return 0;
	if (depth > 1 && rows_per_layer < height)
		return 0;
	if (__builtin_mul_overflow(depth - 1, rows_per_layer, &rows) || __builtin_add_overflow(rows, height - 1, &rows) ||
	    __builtin_mul_overflow(rows, pitch, &span) || __builtin_add_overflow(span, width, &span))
		return 0;
	return span;
}

static int graph_check(struct model *m, struct rd *b, int exec, unsigned depth)
{
	uint32_t n = rd_u32(b), pad = rd_u32(b);
	if (b->bad || pad || n > GRAPH_MAX_NODES)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = rd_u32(b), type = rd_u32(b), nd = rd_u32(b), blen = rd_u32(b);
		if (b->bad || nd > i || blen > b->n - b->off)
			return -1;
		for (uint32_t j = 0; j < nd; j++)
			if (rd_u32(b) >= i)
				return -1;
		if (b->bad || blen > b->n - b->off)
			return -1;
		struct rd nb = { b->p + b->off, blen, 0, 0 };
		b->off += blen;
		switch (type) {
		case CU_GRAPH_NODE_TYPE_KERNEL: {
			uint32_t fs = rd_u32(&nb), dim[7], np;
			for (unsigned k = 0; k < 7; k++)
				dim[k] = rd_u32(&nb);
			np = rd_u32(&nb);
			if (nb.bad || !slot_is(m, fs, VGPU_H_FUNCTION) || np > GRAPH_MAX_PARAMS)
				return -1;
			for (unsigned k = 0; k < 6; k++)
				if (!dim[k])
					return -1;
			uint64_t total = 0;
			for (uint32_t k = 0; k < np; k++) {
				uint32_t sz = rd_u32(&nb);
				total += sz;
				if (nb.bad || !sz || sz > nb.n - nb.off || total > GRAPH_MAX_PARAM_BYTES)
					return -1;
				nb.off += sz;
			}
			break;
		}
		case CU_GRAPH_NODE_TYPE_MEMCPY: {
			uint64_t v[9];
			for (unsigned k = 0; k < 9; k++)
				v[k] = rd_u64(&nb);
			/* src, dst, src pitch and height, dst pitch and height, width, height, depth: each
			 * side inside one of the zone's allocations, as a copy through the wire */
			if (nb.bad || !v[6] || !v[7] || !v[8] ||
			    !in_alloc(m, v[0], box_span(v[6], v[7], v[8], v[2], v[3])) ||
			    !in_alloc(m, v[1], box_span(v[6], v[7], v[8], v[4], v[5])))
				return -1;
			break;
		}
		case CU_GRAPH_NODE_TYPE_MEMSET: {
			uint64_t dst = rd_u64(&nb), pitch = rd_u64(&nb);
			uint32_t value = rd_u32(&nb), es = rd_u32(&nb);
			uint64_t w = rd_u64(&nb), h = rd_u64(&nb);
			uint64_t row;
			(void)value;
			if (nb.bad || (es != 1 && es != 2 && es != 4) || !w || !h || __builtin_mul_overflow(w, es, &row) ||
			    !in_alloc(m, dst, box_span(row, h, 1, h > 1 ? pitch : row, h)))
				return -1;
			break;
		}
		case CU_GRAPH_NODE_TYPE_EMPTY:
			break;
		case CU_GRAPH_NODE_TYPE_GRAPH:   /* a child graph: its nodes, none with a slot */
			if (depth + 1 >= GRAPH_MAX_DEPTH || graph_check(m, &nb, 1, depth + 1) < 0)
				return -1;
			break;
		case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
		case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
			if (!slot_is(m, rd_u32(&nb), VGPU_H_EVENT) || nb.bad)
				return -1;
			break;
		default:
			return -1;
		}
		if (nb.off != nb.n)
			return -1;
		if (slot != NO_SLOT) {
			if (exec || slot >= m->used || m->type[slot])
				return -1;
			m->type[slot] = VGPU_H_GRAPH_NODE;
		}
	}
	return b->off == b->n ? 0 : -1;
}

/*
 * Read n (base, size) pairs into out: each non-empty, after the one before it without
 * overlapping it, inside user address space, base and size multiples of align_mask + 1, and
 * overlapping none of the navoid sorted pairs of avoid. NO_SLOT when all are, else the index
 * of the first that is not (its pair is in out).
 */
static uint32_t sorted_ranges(struct rd *b, uint64_t *out, uint32_t n, uint64_t align_mask, const uint64_t *avoid,
			      uint32_t navoid)
{
	uint64_t last = 0;
	for (uint32_t i = 0, k = 0; i < n; i++) {
		uint64_t base = rd_u64(b), size = rd_u64(b);
		out[2 * i] = base;
		out[2 * i + 1] = size;
		while (k < navoid && avoid[2 * k] + avoid[2 * k + 1] <= base)
			k++;
		if (size == 0 || ((base | size) & align_mask) || base < last || base + size < base || base < SPAN_ALIGN ||
		    base + size > (1ull << 47) || (k < navoid && avoid[2 * k] < base + size))
			return i;
		last = base + size;
	}
	return NO_SLOT;
}

/*
 * Walk the payload from s, checking every record against the model; call apply (if any)
 * for each record once it has passed. Stops after the zone and ranges records when
 * stop_after_ranges (the reader then reserves addresses before going on). meta gets the
 * zone record and counts.
 */
struct parser {
	struct src *s;
	struct model m;
	uint64_t key;          /* the zone record's handle-table key */
	uint64_t last_end;
	uint32_t nrec, stage;
	uint32_t version;      /* the file's format version (what record kinds it may hold) */
	int ended;
};

static int parse(struct parser *ps, struct vgpu_ckpt_meta *meta, apply_fn apply, void *actx, int stop_after_ranges,
		 char *why, size_t cap)
{
	struct src *s = ps->s;
	struct model *m = &ps->m;
	uint8_t *body = NULL;
	int rc = 0;

	while (!ps->ended) {
		uint64_t at = VGPU_CKPT_HDR_BYTES + s->off;
		uint32_t crc_before = s->crc;
		uint8_t rh[16];
		if (s->off == s->total) {
			rc = fail(why, cap, -EPROTO, "the checkpoint ends without its end record (truncated?)");
			break;
		}
		if (src_read(s, rh, 16) < 0) {
			rc = fail(why, cap, -EPROTO, "record at offset %llu: %s", (unsigned long long)at,
				  s->err == -EPROTO ? "header runs past the announced length" : "cut short");
			break;
		}
		uint32_t type, zero;
		uint64_t blen;
		memcpy(&type, rh, 4);
		memcpy(&zero, rh + 4, 4);
		memcpy(&blen, rh + 8, 8);
		if (zero || blen > s->total - s->off) {
			rc = fail(why, cap, -EPROTO, "record at offset %llu: %s", (unsigned long long)at,
				  zero ? "reserved field not zero" : "length runs past the announced end");
			break;
		}
		/* records come in a fixed order: zone, ranges, slots, handles by type, allocations, end */
		if ((ps->nrec == 0) != (type == R_ZONE) || (ps->nrec == 1) != (type == R_RANGES) ||
		    (ps->nrec == 2) != (type == R_SLOTS) || type < R_ZONE || type > R_OUTPUT ||
		    (type >= R_CTX && rank(type) < ps->stage)) {
			rc = fail(why, cap, -EPROTO, "record at offset %llu: type %u out of order or unknown",
				  (unsigned long long)at, type);
			break;
		}
		if (type >= R_CTX)
			ps->stage = rank(type);
		ps->nrec++;
		/* the body, except an allocation's bytes, into memory */
		uint64_t inmem = type == R_ALLOC ? (blen < 24 ? blen : 24) : type == R_VMEM ? (blen < VMEM_HEAD ? blen : VMEM_HEAD) : blen;
		if (inmem > body_max(type)) {
			rc = fail(why, cap, -EFBIG, "record at offset %llu: a type %u body of %llu bytes is over its limit",
				  (unsigned long long)at, type, (unsigned long long)blen);
			break;
		}
		free(body);
		body = malloc(inmem ? (size_t)inmem : 1);
		if (!body) {
			rc = fail(why, cap, -ENOMEM, "out of memory reading a %llu-byte record", (unsigned long long)inmem);
			break;
		}
		if (src_read(s, body, inmem) < 0) {
			rc = fail(why, cap, -EPROTO, "record at offset %llu is cut short", (unsigned long long)at);
			break;
		}
		struct rd b = { body, (size_t)inmem, 0, 0 };
		struct item it = { .type = type, .owner = NO_SLOT, .src = s };
		switch (type) {
		case R_ZONE: {
			struct vgpu_ckpt_meta z = { 0 };
			uint64_t key;
			if (zone_rec(&b, &z, &key) < 0) {
				rc = fail(why, cap, -EPROTO, "zone record at offset %llu is malformed", (unsigned long long)at);
				goto out;
			}
			if (meta) {
				uint32_t backend = meta->backend, version = meta->version;
				*meta = z;
				meta->backend = backend;
				meta->version = version;
			}
			m->used = z.slots;
			m->type = calloc(m->used ? m->used : 1, 1);
			m->gen = calloc(m->used ? m->used : 1, 4);
			m->dev = calloc(m->used ? m->used : 1, 4);
			if (!m->type || !m->gen || !m->dev) {
				rc = fail(why, cap, -ENOMEM, "out of memory for %u handle slots", m->used);
				goto out;
			}
			ps->key = key;
			break;
		}
		case R_RANGES: {
			uint32_t n = rd_u32(&b), nres = rd_u32(&b);
			if (b.bad || n > VGPU_CKPT_MAX_ALLOCS || nres > VGPU_CKPT_MAX_ALLOCS ||
			    b.n != 8 + 16ull * n + 16ull * nres) {
				rc = fail(why, cap, -EPROTO, "ranges record at offset %llu is malformed", (unsigned long long)at);
				goto out;
			}
			m->range = calloc(2ull * n + 1, 8);
			m->res = calloc(2ull * nres + 1, 8);
			if (!m->range || !m->res) {
				rc = fail(why, cap, -ENOMEM, "out of memory for %u ranges", n);
				goto out;
			}
			/* the allocations' ranges, then the address reservations (page-aligned, apart from
			 * every allocation) */
			uint32_t bad = sorted_ranges(&b, m->range, n, 0, NULL, 0);
			if (bad != NO_SLOT) {
				rc = fail(why, cap, -EPROTO, "range %u [0x%llx, +0x%llx) is empty, out of order, overlaps the "
					  "one before it or lies outside user address space", bad,
					  (unsigned long long)m->range[2 * bad], (unsigned long long)m->range[2 * bad + 1]);
				goto out;
			}
			m->nrange = n;
			if (meta) {
				meta->allocs = n;
				for (uint32_t i = 0; i < n; i++)
					meta->mem_bytes += m->range[2 * i + 1];
			}
			if ((bad = sorted_ranges(&b, m->res, nres, 4095, m->range, n)) != NO_SLOT) {
				rc = fail(why, cap, -EPROTO, "address reservation %u [0x%llx, +0x%llx) is empty, unaligned, out "
					  "of order, overlaps another or an allocation, or lies outside user address space", bad,
					  (unsigned long long)m->res[2 * bad], (unsigned long long)m->res[2 * bad + 1]);
				goto out;
			}
			m->nres = nres;
			break;
		}
		case R_SLOTS:
			if (rd_u32(&b) != m->used || b.n != 4 + 4ull * m->used) {
				rc = fail(why, cap, -EPROTO, "slots record at offset %llu does not list the zone's %u slots",
					  (unsigned long long)at, m->used);
				goto out;
			}
			for (uint32_t i = 0; i < m->used; i++)
				if ((m->gen[i] = rd_u32(&b)) == 0) {
					rc = fail(why, cap, -EPROTO, "slot %u has generation 0", i);
					goto out;
				}
			break;
		case R_CTX:
			it.slot = rd_u32(&b); it.a = rd_u32(&b); it.b = rd_u32(&b); it.size = rd_u32(&b);
			if (b.bad || b.off != b.n || it.slot >= m->used || m->type[it.slot] || it.a > CTX_PRIMARY_IDLE ||
			    it.b >= VGPU_ZONE_MAX_DEVICES) {
				rc = fail(why, cap, -EPROTO, "context record at offset %llu is malformed or names a bad slot/device",
					  (unsigned long long)at);
				goto out;
			}
			m->type[it.slot] = VGPU_H_CONTEXT;
			m->dev[it.slot] = (int32_t)it.b;
			break;
		case R_MODULE:
			it.slot = rd_u32(&b); it.owner = rd_u32(&b); it.len = rd_u64(&b);
			it.data = b.p + b.off;
			if (b.bad || it.len == 0 || it.len > VGPU_CKPT_MAX_IMAGE || it.len != b.n - b.off ||
			    it.slot >= m->used || m->type[it.slot] || (it.owner != NO_SLOT && !slot_is(m, it.owner, VGPU_H_CONTEXT))) {
				rc = fail(why, cap, -EPROTO, "module record at offset %llu is malformed or names a bad slot",
					  (unsigned long long)at);
				goto out;
			}
			m->type[it.slot] = VGPU_H_MODULE;
			break;
		case R_FUNC:
			it.slot = rd_u32(&b); it.owner = rd_u32(&b); it.len = rd_u32(&b);
			it.data = b.p + b.off;
			if (b.bad || it.len == 0 || it.len > VGPU_CKPT_NAME_MAX || it.len != b.n - b.off ||
			    memchr(it.data, 0, it.len) || it.slot >= m->used || m->type[it.slot] ||
			    !slot_is(m, it.owner, VGPU_H_MODULE)) {
				rc = fail(why, cap, -EPROTO, "function record at offset %llu is malformed or names a bad slot",
					  (unsigned long long)at);
				goto out;
			}
			m->type[it.slot] = VGPU_H_FUNCTION;
			break;
		case R_STREAM:
		case R_EVENT:
			it.slot = rd_u32(&b); it.owner = rd_u32(&b); it.a = rd_u32(&b);
			if (type == R_STREAM)
				it.b = rd_u32(&b);
			if (b.bad || b.off != b.n || it.slot >= m->used || m->type[it.slot] ||
			    (it.owner != NO_SLOT && !slot_is(m, it.owner, VGPU_H_CONTEXT)) ||
			    it.a & ~(type == R_STREAM ? (uint32_t)CU_STREAM_NON_BLOCKING :
				     (uint32_t)(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | EV_RECORDED)) ||
			    (type == R_EVENT && (it.a & EV_RECORDED) && (it.a & CU_EVENT_DISABLE_TIMING))) {
				rc = fail(why, cap, -EPROTO, "%s record at offset %llu is malformed or names a bad slot",
					  type == R_STREAM ? "stream" : "event", (unsigned long long)at);
				goto out;
			}
			m->type[it.slot] = type == R_STREAM ? VGPU_H_STREAM : VGPU_H_EVENT;
			break;
		case R_POOL: {
			it.slot = rd_u32(&b); it.owner = rd_u32(&b);
			for (unsigned k = 0; k < 6; k++)
				it.pool[k] = rd_u32(&b);
			it.size = rd_u64(&b);    /* max size */
			it.base = rd_u64(&b);    /* release threshold */
			it.a = rd_u32(&b);       /* reuse flags */
			uint32_t pad = rd_u32(&b);
			int created = it.pool[0] == 1;
			if (b.bad || b.off != b.n || it.slot >= m->used || m->type[it.slot] || pad ||
			    (it.owner != NO_SLOT && !slot_is(m, it.owner, VGPU_H_CONTEXT)) || it.pool[0] > 1 ||
			    it.pool[1] >= VGPU_ZONE_MAX_DEVICES || it.pool[5] > 1 || it.a & ~POOL_REUSE_ALL ||
			    (created ? it.pool[2] != CU_MEM_ALLOCATION_TYPE_PINNED || it.pool[3] != CU_MEM_LOCATION_TYPE_DEVICE ||
				       it.pool[4] > 0xffff
				     : it.pool[2] || it.pool[3] || it.pool[4] || it.size)) {
				rc = fail(why, cap, -EPROTO, "memory pool record at offset %llu is malformed or names a bad "
					  "slot, device or property", (unsigned long long)at);
				goto out;
			}
			m->type[it.slot] = VGPU_H_MEMORY_POOL;
			break;
		}
		case R_GLOBAL: {
			it.owner = rd_u32(&b); it.len = rd_u32(&b); it.base = rd_u64(&b); it.size = rd_u64(&b);
			it.data = b.p + b.off;
			/* the range must be one whose allocation record came before */
			uint32_t lo = 0, hi = m->nalloc;
			while (lo < hi) {
				uint32_t mid = lo + (hi - lo) / 2;
				if (m->range[2 * mid] < it.base)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (b.bad || it.len == 0 || it.len > VGPU_CKPT_NAME_MAX || it.len != b.n - b.off ||
			    memchr(it.data, 0, it.len) || !slot_is(m, it.owner, VGPU_H_MODULE) || lo == m->nalloc ||
			    m->range[2 * lo] != it.base || m->range[2 * lo + 1] != it.size) {
				rc = fail(why, cap, -EPROTO, "global record at offset %llu is malformed, names no module or "
					  "is not the range of an allocation before it", (unsigned long long)at);
				goto out;
			}
			break;
		}
		case R_GVAL:
			/* module slot, name length, value length; the name, then the value */
			it.owner = rd_u32(&b); it.len = rd_u32(&b); it.size = rd_u64(&b);
			it.data = b.p + b.off;
			if (b.bad || it.len == 0 || it.len > VGPU_CKPT_NAME_MAX || it.size == 0 || it.size > GVAL_MAX ||
			    blen != GVAL_HEAD + it.len + it.size || memchr(it.data, 0, it.len) ||
			    !slot_is(m, it.owner, VGPU_H_MODULE)) {
				rc = fail(why, cap, -EPROTO, "global value record at offset %llu is malformed or names no "
					  "module", (unsigned long long)at);
				goto out;
			}
			break;
		case R_VMEM: {
			/* id, size, key, type, location type and id, references; then the bytes */
			it.id = rd_u64(&b); it.size = rd_u64(&b); it.key = rd_u64(&b);
			it.a = rd_u32(&b); it.b = rd_u32(&b); it.owner = rd_u32(&b); it.slot = rd_u32(&b);
			int dup = 0;
			for (uint32_t k = 0; k < m->nvmem; k++)
				dup |= m->vmem[2 * k] == it.id;
			if (!m->vmem && !(m->vmem = calloc(2ull * VGPU_CKPT_MAX_ALLOCS, 8))) {
				rc = fail(why, cap, -ENOMEM, "out of memory reading the physical allocations");
				goto out;
			}
			if (b.bad || blen != VMEM_HEAD + it.size || !it.size || it.size > VGPU_CKPT_MAX_BYTES || dup ||
			    !(it.key >> 63) || (it.key & 0xffffffffull) || !(it.id ^ it.key) || ((it.id ^ it.key) >> 32) ||
			    (m->nvmem && it.key != m->vmem_key) || m->nvmem >= VGPU_CKPT_MAX_ALLOCS ||
			    it.a != CU_MEM_ALLOCATION_TYPE_PINNED || it.b != CU_MEM_LOCATION_TYPE_DEVICE ||
			    it.owner >= VGPU_ZONE_MAX_DEVICES || it.slot > (1u << 20)) {
				rc = fail(why, cap, -EPROTO, "physical allocation record at offset %llu is malformed, repeats an "
					  "id or is not device memory", (unsigned long long)at);
				goto out;
			}
			m->vmem[2 * m->nvmem] = it.id;
			m->vmem[2 * m->nvmem + 1] = it.size;
			m->nvmem++;
			m->vmem_key = it.key;
			it.src = s;
			break;
		}
		case R_VMAP: {
			/* address, size, offset, allocation id, access, 0: inside one reservation, after the
			 * mapping before it, within its allocation */
			it.base = rd_u64(&b); it.size = rd_u64(&b); it.off = rd_u64(&b); it.id = rd_u64(&b);
			it.a = rd_u32(&b); it.b = rd_u32(&b);
			uint64_t psize = 0;
			for (uint32_t k = 0; k < m->nvmem; k++)
				if (m->vmem[2 * k] == it.id)
					psize = m->vmem[2 * k + 1];
			int inres = pairs_hold(m->res, m->nres, it.base, it.size);
			if (!m->vmap && !(m->vmap = calloc(2ull * VGPU_CKPT_MAX_ALLOCS, 8))) {
				rc = fail(why, cap, -ENOMEM, "out of memory reading the mappings");
				goto out;
			}
			if (b.bad || it.b || !it.size || !psize || it.off > psize || it.size > psize - it.off || !inres ||
			    (it.a != 0 && it.a != CU_MEM_ACCESS_FLAGS_PROT_READ && it.a != CU_MEM_ACCESS_FLAGS_PROT_READWRITE) ||
			    (m->nvmap && it.base < m->vmap[2 * (m->nvmap - 1)] + m->vmap[2 * (m->nvmap - 1) + 1]) ||
			    m->nvmap >= VGPU_CKPT_MAX_ALLOCS) {
				rc = fail(why, cap, -EPROTO, "mapping record at offset %llu is malformed, out of order, outside "
					  "the zone's reservations or past its allocation", (unsigned long long)at);
				goto out;
			}
			m->vmap[2 * m->nvmap] = it.base;
			m->vmap[2 * m->nvmap + 1] = it.size;
			m->nvmap++;
			break;
		}
		case R_GRAPH:
		case R_GEXEC: {
			it.slot = rd_u32(&b); it.owner = rd_u32(&b);
			if (type == R_GEXEC)
				it.base = rd_u64(&b);   /* its instantiation flags */
			it.data = b.p + b.off;
			it.len = b.n - b.off;
			int bad = b.bad || it.slot >= m->used || m->type[it.slot] ||
				  (it.owner != NO_SLOT && !slot_is(m, it.owner, VGPU_H_CONTEXT)) || (it.base & ~GEXEC_FLAGS);
			if (!bad) {
				m->type[it.slot] = type == R_GRAPH ? VGPU_H_GRAPH : VGPU_H_GRAPH_EXEC;
				bad = graph_check(m, &b, type == R_GEXEC, 0) < 0;
			}
			if (bad) {
				rc = fail(why, cap, -EPROTO, "%s record at offset %llu is malformed, names a bad slot, or has a "
					  "node that is malformed, of a type checkpoints do not carry, or depends on a node "
					  "after it", type == R_GRAPH ? "graph" : "executable graph", (unsigned long long)at);
				goto out;
			}
			break;
		}
		case R_PINNED: {
			/* base: the memfd's inode; size: the region's bytes; slots ascending, one key */
			it.slot = rd_u32(&b); it.a = rd_u32(&b); it.size = rd_u64(&b); it.base = rd_u64(&b); it.key = rd_u64(&b);
			it.off = b.n == PINNED_BODY ? rd_u64(&b) : 0;   /* only a hint: any value is safe */
			if (b.bad || (b.n != PINNED_BODY && b.n != PINNED_BODY_V0) || it.a || it.slot >= VGPU_PINNED_MAX_REGIONS ||
			    !it.size || it.size > VGPU_CKPT_MAX_BYTES || !it.base || !(it.key >> 63) || (m->npin && (it.slot <= m->last_pin_slot || it.key != m->pin_key))) {
				rc = fail(why, cap, -EPROTO, "pinned region record at offset %llu is malformed, out of order "
					  "or of another key", (unsigned long long)at);
				goto out;
			}
			m->npin++;
			m->last_pin_slot = it.slot;
			m->pin_key = it.key;
			break;
		}
		case R_CHAN: {
			/* base: the ring memfd's inode; owner: the thread's current context slot; a: how
			 * many contexts lie below it on the thread's stack, their slots after the ring
			 * indices (data) */
			it.base = rd_u64(&b); it.owner = rd_u32(&b); it.a = rd_u32(&b);
			for (unsigned k = 0; k < 4; k++)
				it.pos[k] = rd_u32(&b);
			int dup = 0, stack_ok = it.a < VGPU_CKPT_CTX_MAX && (it.owner != NO_SLOT || !it.a);
			it.data = b.p + b.off;
			it.len = 4ull * it.a;
			for (uint32_t k = 0; stack_ok && k < it.a; k++)
				stack_ok = slot_is(m, rd_u32(&b), VGPU_H_CONTEXT);
			for (uint32_t k = 0; k < m->nchan; k++)
				dup |= m->chan_ino[k] == it.base;
			if (!m->chan_ino && !(m->chan_ino = calloc(VGPU_CKPT_MAX_CHANS, sizeof(*m->chan_ino)))) {
				rc = fail(why, cap, -ENOMEM, "out of memory reading the channel records");
				goto out;
			}
			if (b.bad || b.off != b.n || !stack_ok || !it.base || dup || m->nchan >= VGPU_CKPT_MAX_CHANS ||
			    (it.owner != NO_SLOT && !slot_is(m, it.owner, VGPU_H_CONTEXT)) ||
			    ((it.pos[0] | it.pos[2]) & 15)) {
				rc = fail(why, cap, -EPROTO, "channel record at offset %llu is malformed, names no context, "
					  "more than %u contexts on a thread's stack, a ring twice or more than %u rings",
					  (unsigned long long)at, VGPU_CKPT_CTX_MAX, VGPU_CKPT_MAX_CHANS);
				goto out;
			}
			m->chan_ino[m->nchan++] = it.base;
			break;
		}
		case R_OUTPUT: {
			/* a: the stream (0 stdout, 1 stderr); b: 0; then the text, at least one byte */
			it.a = rd_u32(&b); it.b = rd_u32(&b);
			it.data = b.p + b.off;
			it.len = b.n - b.off;
			if (b.bad || it.b || it.a >= VGPU_OUT_STREAMS || (m->nout && it.a <= m->last_out) || !it.len ||
			    it.len > VGPU_OUTPUT_MAX) {
				rc = fail(why, cap, -EPROTO, "device output record at offset %llu is malformed, of no stream, "
					  "out of order or empty", (unsigned long long)at);
				goto out;
			}
			m->nout++;
			m->last_out = it.a;
			break;
		}
		case R_ALLOC: {
			it.base = rd_u64(&b); it.size = rd_u64(&b); it.owner = rd_u32(&b); it.a = rd_u32(&b);
			uint32_t k = m->nalloc;
			uint32_t kind = ALLOC_KIND(it.a), adev = ALLOC_DEVICE(it.a);
			if (b.bad || kind > ALLOC_ORDERED || (kind != ALLOC_ORDERED && adev) ||
			    (kind == ALLOC_ORDERED && ps->version < 2) ||
			    (kind == ALLOC_ORDERED && (adev >= VGPU_ZONE_MAX_DEVICES || it.owner != NO_SLOT)) ||
			    (kind == ALLOC_GLOBAL && it.size > GVAL_MAX) || blen != 24 + it.size ||
			    k >= m->nrange ||
			    it.base != m->range[2 * k] || it.size != m->range[2 * k + 1] ||
			    (it.owner != NO_SLOT && !slot_is(m, it.owner, VGPU_H_CONTEXT))) {
				rc = fail(why, cap, -EPROTO, "allocation record at offset %llu is malformed or is not range %u "
					  "of the ranges record", (unsigned long long)at, k);
				goto out;
			}
			m->nalloc++;
			break;
		}
		case R_END: {
			uint32_t n = rd_u32(&b), crc = rd_u32(&b);
			if (b.bad || b.n != 8 || n != ps->nrec - 1) {
				rc = fail(why, cap, -EPROTO, "end record at offset %llu does not count the %u records before it",
					  (unsigned long long)at, ps->nrec - 1);
				goto out;
			}
			if (crc != crc_before) {
				rc = fail(why, cap, -EPROTO, "checksum mismatch (the end record says 0x%08x, the contents give "
					  "0x%08x): corrupted", crc, crc_before);
				goto out;
			}
			if (m->nalloc != m->nrange) {
				rc = fail(why, cap, -EPROTO, "%u allocations for %u ranges", m->nalloc, m->nrange);
				goto out;
			}
			if (s->off != s->total) {
				rc = fail(why, cap, -EPROTO, "%llu bytes after the end record", (unsigned long long)(s->total - s->off));
				goto out;
			}
			ps->ended = 1;
			break;
		}
		}
		if (((type >= R_CTX && type <= R_EVENT) || type == R_POOL || type == R_GRAPH || type == R_GEXEC) && meta)
			meta->handles++;
		if (apply && (rc = apply(actx, m, &it, why, cap)) < 0)
			goto out;
		if ((type == R_ALLOC || type == R_VMEM) && (!apply || it.src)) {
			/* no restorer read its bytes: skip them (they still count for the checksum) */
			if (src_read(s, NULL, it.size) < 0) {
				rc = fail(why, cap, -EPROTO, "the bytes of the allocation at offset %llu are cut short",
					  (unsigned long long)at);
				goto out;
			}
		}
		if (stop_after_ranges && type == R_RANGES)
			break;
	}
out:
	free(body);
	return rc;
}

int vgpu_ckpt_check(const uint8_t *buf, size_t len, struct vgpu_ckpt_meta *meta, char *why, size_t cap)
{
	struct vgpu_ckpt_meta tmp;
	uint64_t payload;
	uint32_t backend;

	if (!meta)
		meta = &tmp;
	memset(meta, 0, sizeof(*meta));
	int rc = hdr_check(buf, len, len, &payload, &backend, &meta->version, why, cap);
	if (rc < 0)
		return rc;
	meta->backend = backend;
	struct src s = { .buf = buf, .fd = -1, .total = payload };
	struct parser ps = { .s = &s, .version = meta->version };
	rc = parse(&ps, meta, NULL, NULL, 0, why, cap);
	model_free(&ps.m);
	meta->file_bytes = len;
	return rc;
}

/* The header from fd (consumed; fewer bytes at the end of a short file or stream) and
 * what fstat says of fd: 0, or -errno with why. */
static int hdr_read(int fd, uint8_t hdr[VGPU_CKPT_HDR_BYTES], size_t *got, struct stat *st, char *why, size_t cap)
{
	*got = 0;
	if (fstat(fd, st) < 0)
		return fail(why, cap, -errno, "cannot stat the checkpoint: %s", strerror(errno));
	while (*got < VGPU_CKPT_HDR_BYTES) {
		ssize_t n = read(fd, hdr + *got, VGPU_CKPT_HDR_BYTES - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(why, cap, -errno, "cannot read the checkpoint: %s", strerror(errno));
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

int vgpu_ckpt_verify(int fd, struct vgpu_ckpt_meta *meta, char *why, size_t cap)
{
	uint8_t hdr[VGPU_CKPT_HDR_BYTES];
	struct stat st;
	uint32_t backend;
	size_t got;

	memset(meta, 0, sizeof(*meta));
	int rc = hdr_read(fd, hdr, &got, &st, why, cap);
	if (rc < 0)
		return rc;
	struct src s = { .fd = fd };
	rc = hdr_check(hdr, got, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, &s.total, &backend, &meta->version,
		       why, cap);
	if (rc < 0)
		return rc;
	meta->backend = backend;
	struct parser ps = { .s = &s, .version = meta->version };
	rc = parse(&ps, meta, NULL, NULL, 0, why, cap);
	model_free(&ps.m);
	free(s.ra);
	meta->file_bytes = VGPU_CKPT_HDR_BYTES + s.total;
	return rc;
}

/* Read the header and the zone record from fd without consuming them (pread on a file,
 * MSG_PEEK on a socket). */
int vgpu_ckpt_peek(int fd, struct vgpu_ckpt_meta *meta, char *why, size_t cap)
{
	uint8_t b[VGPU_CKPT_HDR_BYTES + 16 + 4096];
	struct stat st;
	uint64_t payload;
	uint32_t backend;
	ssize_t n;

	memset(meta, 0, sizeof(*meta));
	if (fstat(fd, &st) < 0)
		return fail(why, cap, -errno, "cannot stat the checkpoint: %s", strerror(errno));
	int sock = S_ISSOCK(st.st_mode);
	if (!sock && !S_ISREG(st.st_mode))
		return fail(why, cap, -EINVAL, "the checkpoint is neither a regular file nor a stream");
	if (sock) {
		/* the writer sends the header and zone record first: wait for them, consume nothing */
		size_t want = VGPU_CKPT_HDR_BYTES + 16;
		for (int waited = 0;; waited++) {
			n = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return fail(why, cap, -errno, "cannot read the checkpoint stream: %s", strerror(errno));
			if (n >= (ssize_t)VGPU_CKPT_HDR_BYTES + 16) {
				uint64_t blen;
				memcpy(&blen, b + VGPU_CKPT_HDR_BYTES + 8, 8);
				want = VGPU_CKPT_HDR_BYTES + 16 + (blen <= 4096 ? (size_t)blen : 0);
			}
			if (n >= (ssize_t)want || n == 0)
				break;   /* enough, or the writer ended early (checked below) */
			if (waited >= 60000)
				return fail(why, cap, -ETIMEDOUT, "no checkpoint arrived on the stream within 60 s");
			struct pollfd p = { fd, POLLIN, 0 };
			poll(&p, 1, 1);
		}
		if (n < 0)
			n = 0;
	} else {
		n = pread(fd, b, sizeof(b), 0);
		if (n < 0)
			return fail(why, cap, -errno, "cannot read the checkpoint: %s", strerror(errno));
	}
	int rc = hdr_check(b, (size_t)n, sock ? 0 : (uint64_t)st.st_size, &payload, &backend, &meta->version, why, cap);
	if (rc < 0)
		return rc;
	struct rd r = { b + VGPU_CKPT_HDR_BYTES, (size_t)n - VGPU_CKPT_HDR_BYTES, 0, 0 };
	uint32_t type = rd_u32(&r), zero = rd_u32(&r);
	uint64_t blen = rd_u64(&r), key;
	if (r.bad || type != R_ZONE || zero || blen > r.n - r.off)
		return fail(why, cap, -EPROTO, "the checkpoint does not start with a whole zone record");
	struct rd z = { r.p + r.off, (size_t)blen, 0, 0 };
	if (zone_rec(&z, meta, &key) < 0)
		return fail(why, cap, -EPROTO, "the checkpoint's zone record is malformed");
	meta->backend = backend;
	meta->file_bytes = VGPU_CKPT_HDR_BYTES + payload;
	return 0;
}

/* ---------------------------------------------------------------- restoring */

struct vgpu_ckpt_reader {
	struct src s;
	struct parser ps;
	struct vgpu_ckpt_meta meta;
	struct vgpu_ckpt_span *span;   /* the ranges' granules, reserved (PROT_NONE) */
	uint32_t nspan;
	struct vgpu_ckpt_span *vres;   /* the zone's address reservations, held (PROT_NONE) */
	uint32_t nvres;
};

/* The granule-aligned spans the ranges need, merged (allocations share granules). */
static int spans_of(const struct model *m, struct vgpu_ckpt_span **out, uint32_t *nout, char *why, size_t cap)
{
	struct vgpu_ckpt_span *v = calloc(m->nrange ? m->nrange : 1, sizeof(*v));
	uint32_t n = 0;
	if (!v)
		return fail(why, cap, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < m->nrange; i++) {
		uint64_t base = m->range[2 * i], size = m->range[2 * i + 1];
		uint64_t lo = base & ~(SPAN_ALIGN - 1), hi = (base + size + SPAN_ALIGN - 1) & ~(SPAN_ALIGN - 1);
		if (n && lo <= v[n - 1].base + v[n - 1].size) {
			if (hi > v[n - 1].base + v[n - 1].size)
				v[n - 1].size = hi - v[n - 1].base;
			continue;
		}
		v[n++] = (struct vgpu_ckpt_span){ lo, hi - lo, 0, 0 };
	}
	*out = v;
	*nout = n;
	return 0;
}

void vgpu_ckpt_close(struct vgpu_ckpt_reader *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->nspan; i++)
		munmap((void *)(uintptr_t)r->span[i].base, r->span[i].size);
	for (uint32_t i = 0; i < r->nvres; i++)
		if (r->vres[i].size)
			munmap((void *)(uintptr_t)r->vres[i].base, r->vres[i].size);
	free(r->span);
	free(r->vres);
	model_free(&r->ps.m);
	free(r->s.ra);
	free(r);
}

int vgpu_ckpt_open(int fd, struct vgpu_ckpt_reader **out, struct vgpu_ckpt_meta *meta, char *why, size_t cap)
{
	uint8_t hdr[VGPU_CKPT_HDR_BYTES];
	struct stat st;
	uint32_t backend;
	size_t got;
	int rc;

	*out = NULL;
	if ((rc = hdr_read(fd, hdr, &got, &st, why, cap)) < 0)
		return rc;
	struct vgpu_ckpt_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return fail(why, cap, -ENOMEM, "out of memory");
	r->s.fd = fd;
	r->ps.s = &r->s;
	if ((rc = hdr_check(hdr, got, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, &r->s.total, &backend,
			    &r->meta.version, why, cap)) < 0)
		goto fail;
	r->meta.backend = backend;
	r->ps.version = r->meta.version;
	/* the zone and ranges records only: nothing else maps memory before the ranges are held */
	if ((rc = parse(&r->ps, &r->meta, NULL, NULL, 1, why, cap)) < 0)
		goto fail;
	if (r->ps.ended || r->ps.nrec != 2) {
		rc = fail(why, cap, -EPROTO, "the checkpoint has no ranges record");
		goto fail;
	}
	if ((rc = spans_of(&r->ps.m, &r->span, &r->nspan, why, cap)) < 0)
		goto fail;
	for (uint32_t i = 0; i < r->nspan; i++) {
		void *p = mmap((void *)(uintptr_t)r->span[i].base, r->span[i].size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED || (uint64_t)(uintptr_t)p != r->span[i].base) {
			if (p != MAP_FAILED)
				munmap(p, r->span[i].size);
			rc = fail(why, cap, -EADDRINUSE, "device addresses [0x%llx, +0x%llx) are in use in this worker; "
				  "the zone's pointers cannot keep their values here",
				  (unsigned long long)r->span[i].base, (unsigned long long)r->span[i].size);
			r->nspan = i;
			goto fail;
		}
	}
	/* and the zone's address reservations (virtual memory management), exactly */
	const struct model *mm = &r->ps.m;
	if (mm->nres && !(r->vres = calloc(mm->nres, sizeof(*r->vres)))) {
		rc = fail(why, cap, -ENOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < mm->nres; i++) {
		uint64_t base = mm->res[2 * i], size = mm->res[2 * i + 1];
		void *p = mmap((void *)(uintptr_t)base, size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED || (uint64_t)(uintptr_t)p != base) {
			if (p != MAP_FAILED)
				munmap(p, size);
			rc = fail(why, cap, -EADDRINUSE, "the zone's reserved addresses [0x%llx, +0x%llx) are in use in this "
				  "worker", (unsigned long long)base, (unsigned long long)size);
			goto fail;
		}
		r->vres[r->nvres++] = (struct vgpu_ckpt_span){ base, size, 0, 0 };
	}
	*meta = r->meta;
	meta->file_bytes = VGPU_CKPT_HDR_BYTES + r->s.total;
	*out = r;
	return 0;
fail:
	vgpu_ckpt_close(r);
	return rc;
}

/*
 * An allocation's bytes reach the device through two buffers: while a helper thread copies
 * one to the device, the restorer reads the next from the source, so reading the stream and
 * the driver's copy (for a fresh allocation, mostly its first touch) overlap.
 */
struct copier {
	const struct vgpu_backend_fns *f;
	pthread_t th;
	int started, quit;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct { uint8_t *buf; size_t len; uint64_t dst; void *ctx; int full; } slot[2];
	unsigned next;            /* the slot the restorer fills next */
	CUresult err;             /* the first failed copy's */
};

static void *copier_main(void *p)
{
	struct copier *c = p;
	void *cur = NULL;
	unsigned i = 0;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->slot[i].full && !c->quit)
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->slot[i].full)
			break;
		pthread_mutex_unlock(&c->mu);
		CUresult r = CUDA_SUCCESS;
		if (c->slot[i].ctx != cur && (r = c->f->cuCtxSetCurrent(c->slot[i].ctx)) == CUDA_SUCCESS)
			cur = c->slot[i].ctx;
		if (r == CUDA_SUCCESS)
			r = c->f->cuMemcpyHtoD_v2((CUdeviceptr)c->slot[i].dst, c->slot[i].buf, c->slot[i].len);
		pthread_mutex_lock(&c->mu);
		if (r != CUDA_SUCCESS && c->err == CUDA_SUCCESS)
			c->err = r;
		c->slot[i].full = 0;
		pthread_cond_broadcast(&c->cv);
		i ^= 1;
	}
	pthread_mutex_unlock(&c->mu);
	if (cur)
		c->f->cuCtxSetCurrent(NULL);
	return NULL;
}

static int copier_start(struct copier *c, const struct vgpu_backend_fns *f)
{
	memset(c, 0, sizeof(*c));
	c->f = f;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	for (int i = 0; i < 2; i++)
		if (!(c->slot[i].buf = malloc(COPY_STEP)))
			return -ENOMEM;
	if (pthread_create(&c->th, NULL, copier_main, c) != 0)
		return -EAGAIN;
	c->started = 1;
	return 0;
}

/* The next buffer to fill, once the helper is done with it. */
static uint8_t *copier_buf(struct copier *c)
{
	pthread_mutex_lock(&c->mu);
	while (c->slot[c->next].full)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	return c->slot[c->next].buf;
}

static void copier_submit(struct copier *c, size_t len, uint64_t dst, void *ctx)
{
	pthread_mutex_lock(&c->mu);
	c->slot[c->next].len = len;
	c->slot[c->next].dst = dst;
	c->slot[c->next].ctx = ctx;
	c->slot[c->next].full = 1;
	c->next ^= 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* Wait until every submitted copy is done: the first failure's CUresult, or success. */
static CUresult copier_drain(struct copier *c)
{
	pthread_mutex_lock(&c->mu);
	while (c->slot[0].full || c->slot[1].full)
		pthread_cond_wait(&c->cv, &c->mu);
	CUresult r = c->err;
	pthread_mutex_unlock(&c->mu);
	return r;
}

static void copier_stop(struct copier *c)
{
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->quit = 1;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->th, NULL);
	}
	for (int i = 0; i < 2; i++)
		free(c->slot[i].buf);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
}

struct restorer {
	struct vgpu_zone *z;
	const struct vgpu_backend_fns *f;
	void **real;              /* per slot: the new real handle */
	struct vgpu_ckpt_sum *sum;
	uint64_t key;
	struct copier cp;         /* an allocation's bytes on their way to the device */
	struct vgpu_ckpt_span *vres;  /* the zone's reservations, held until taken back (size 0 then) */
	uint32_t nvres;
	int vres_done;
	struct gbytes { uint64_t base, size; uint8_t *bytes; } *gb;   /* ALLOC_GLOBAL records' bytes */
	uint32_t ngb;
};

static CUresult set_ctx(struct restorer *rs, uint32_t ctx_slot)
{
	if (ctx_slot == NO_SLOT)
		return CUDA_SUCCESS;
	return rs->f->cuCtxSetCurrent(rs->real[ctx_slot]);
}

/* A module global back at the address the zone knows it by: its range is its module's again. */
static int global_home(struct vgpu_zone *z, const struct item *it, CUmodule mod, const char *name, char *why,
		       size_t cap)
{
	pthread_mutex_lock(&z->lock);
	int rc = vgpu_allocmap_set_owner(&z->amap, it->base, mod);
	pthread_mutex_unlock(&z->lock);
	if (rc < 0)
		return fail(why, cap, -EPROTO, "module global %.200s: no allocation at 0x%llx", name,
			    (unsigned long long)it->base);
	vgpu_ckpt_note_global(z, mod, name, it->base, it->size);
	return 0;
}

/*
 * An allocation record that is a module global's (ALLOC_GLOBAL), on a driver that cannot put
 * the global there: its bytes are kept for the global record, which writes them into the
 * reloaded module's global, and nothing is mapped at the old addresses, which stay held as
 * open reserved them (unless memory restored beside them shares their granule), so nothing
 * else is placed where the zone still points.
 */
static int global_bytes(struct restorer *rs, struct item *it, char *why, size_t cap)
{
	struct gbytes g = { it->base, it->size, malloc(it->size ? it->size : 1) };
	struct gbytes *v = g.bytes ? realloc(rs->gb, (rs->ngb + 1) * sizeof(*v)) : NULL;
	if (!v) {
		free(g.bytes);
		return fail(why, cap, -ENOMEM, "out of memory for a module global's %llu bytes",
			    (unsigned long long)it->size);
	}
	rs->gb = v;
	if (src_read(it->src, g.bytes, it->size) < 0) {
		free(g.bytes);
		return fail(why, cap, -EPROTO, "the bytes of the module global at 0x%llx are cut short",
			    (unsigned long long)it->base);
	}
	it->src = NULL;   /* read */
	rs->gb[rs->ngb++] = g;
	return 0;
}

/*
 * A module global the zone knows at it->base, on a driver that puts a module's globals only
 * where it loads them (a GPU's; the simulator's with --checkpoint-globals copy): its value,
 * restored at the old address by its allocation record, goes into the reloaded module's own
 * global, found by name, and from then on the zone's old range means that global
 * (vgpu_ckpt_real_addr: the worker translates the addresses the zone names, and back the
 * ones it is given). The memory the old range was restored into stays mapped, out of the
 * zone's reach, until the zone ends: nothing else can be placed where the zone still points.
 */
static int global_moved(struct restorer *rs, const struct item *it, CUmodule mod, const char *name, char *why,
			size_t cap)
{
	struct vgpu_zone *z = rs->z;
	const struct vgpu_backend_fns *f = rs->f;
	unsigned t; void *real; const void *own = NULL; uint32_t gen;
	CUdeviceptr addr = 0;
	size_t size = 0;
	CUresult r;
	int rc;

	if (vgpu_htab_slot(&z->htab, it->owner, &t, &real, &own, &gen) == 1 && own &&
	    (r = f->cuCtxSetCurrent((CUcontext)own)) != CUDA_SUCCESS)
		return fail(why, cap, -EIO, "module global %.200s: its module's context cannot be made current "
			    "(CUresult %d)", name, (int)r);
	if (!f->cuModuleGetGlobal_v2 || !f->cuMemcpyDtoD_v2 ||
	    (r = f->cuModuleGetGlobal_v2(&addr, &size, mod, name)) != CUDA_SUCCESS)
		return fail(why, cap, -EPROTO, "module global %.200s is not in its restored module", name);
	if (size != it->size)
		return fail(why, cap, -EPROTO, "module global %.200s is %zu bytes in its restored module, %llu in "
			    "the checkpoint", name, size, (unsigned long long)it->size);
	const struct gbytes *kept = NULL;
	for (uint32_t i = 0; i < rs->ngb && !kept; i++)
		if (rs->gb[i].base == it->base && rs->gb[i].size == it->size)
			kept = &rs->gb[i];
	/* its bytes, kept from its allocation record */
	if (kept && (r = f->cuMemcpyHtoD_v2(addr, kept->bytes, size)) != CUDA_SUCCESS)
		return fail(why, cap, -EIO, "writing module global %.200s failed (CUresult %d)", name, (int)r);
	if (addr == it->base) {   /* where it was (the driver had those addresses free) */
		if (kept && vgpu_zone_dptr_add_owned(z, addr, size, mod, NULL) != 0)
			return fail(why, cap, -EPROTO, "module global %.200s at 0x%llx overlaps memory of the zone", name,
				    (unsigned long long)addr);
		return global_home(z, it, mod, name, why, cap);
	}
	if (!kept) {   /* restored as memory at the old address (a file of a worker that could place it) */
		if ((r = f->cuMemcpyDtoD_v2(addr, (CUdeviceptr)it->base, size)) != CUDA_SUCCESS ||
		    (r = f->cuCtxSynchronize()) != CUDA_SUCCESS)
			return fail(why, cap, -EIO, "writing module global %.200s failed (CUresult %d)", name, (int)r);
		if (vgpu_zone_dptr_remove(z, it->base) < 0)
			return fail(why, cap, -EPROTO, "module global %.200s: no allocation at 0x%llx", name,
				    (unsigned long long)it->base);
	}
	if ((rc = vgpu_zone_dptr_add_owned(z, addr, size, mod, NULL)) != 0)
		return fail(why, cap, -EPROTO, "module global %.200s: where its module has it, [0x%llx, +0x%zx), is "
			    "named twice or overlaps memory of the zone", name, (unsigned long long)addr, size);
	if (note_global(z, mod, name, addr, size, it->base) < 0)
		return fail(why, cap, -ENOMEM, "out of memory noting module global %.200s", name);
	vgpu_info("module global %.200s: known to the zone at 0x%llx, its module has it at 0x%llx; "
		  "translated", name, (unsigned long long)it->base, (unsigned long long)addr);
	return 0;
}

/* Map a span at its old address: reserve there, then back it (vgpu_devva_back). */
static int span_map(struct restorer *rs, struct vgpu_ckpt_span *sp, int dev, char *why, size_t cap)
{
	const struct vgpu_backend_fns *f = rs->f;
	CUdeviceptr got = 0;
	uint64_t h = 0;
	int created;
	CUresult r;

	/* give the placeholder back to the driver, which takes the same range at once */
	munmap((void *)(uintptr_t)sp->base, sp->size);
	if ((r = f->cuMemAddressReserve(&got, sp->size, 0, sp->base, 0)) != CUDA_SUCCESS || got != sp->base) {
		if (r == CUDA_SUCCESS)
			f->cuMemAddressFree(got, sp->size);
		return fail(why, cap, -EADDRINUSE, "the driver would not give back device addresses [0x%llx, +0x%llx) "
			    "(CUresult %d; it offered 0x%llx)", (unsigned long long)sp->base, (unsigned long long)sp->size,
			    (int)r, (unsigned long long)got);
	}
	if ((r = vgpu_devva_back(f, sp->base, sp->size, dev, &h, &created)) != CUDA_SUCCESS) {
		f->cuMemAddressFree(got, sp->size);
		if (!created)
			return fail(why, cap, -ENOMEM, "cannot allocate %llu bytes of device memory (CUresult %d)",
				    (unsigned long long)sp->size, (int)r);
		return fail(why, cap, -EIO, "cannot map device memory at 0x%llx (CUresult %d)",
			    (unsigned long long)sp->base, (int)r);
	}
	sp->handle = h;
	vgpu_devva_block(&rs->z->devva, sp->base, sp->size);   /* the window's new allocations go elsewhere */
	return 0;
}

/*
 * Rebuild a graph's nodes (checked by graph_check) into the empty graph g, in the current
 * context ctx: each node after its dependencies, through the driver's node calls; a node
 * with a slot takes it. 0 or -errno with why.
 */
static int graph_build(struct restorer *rs, const struct model *m, CUgraph g, CUcontext ctx, const uint8_t *p,
		       size_t len, char *why, size_t cap)
{
	const struct vgpu_backend_fns *f = rs->f;
	struct rd b = { p, len, 0, 0 };
	uint32_t n = rd_u32(&b);
	rd_u32(&b);
	CUgraphNode *made = calloc(n + 1, sizeof(*made)), *deps = calloc(n + 1, sizeof(*deps));
	int rc = 0;
	if (!made || !deps) {
		rc = fail(why, cap, -ENOMEM, "out of memory rebuilding a graph");
		goto out;
	}
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		uint32_t slot = rd_u32(&b), type = rd_u32(&b), nd = rd_u32(&b), blen = rd_u32(&b);
		for (uint32_t j = 0; j < nd; j++)
			deps[j] = made[rd_u32(&b)];
		struct rd nb = { b.p + b.off, blen, 0, 0 };
		b.off += blen;
		CUresult r = CUDA_ERROR_NOT_SUPPORTED;
		CUgraphNode x = NULL;
		switch (type) {
		case CU_GRAPH_NODE_TYPE_KERNEL: {
			CUDA_KERNEL_NODE_PARAMS k;
			void *params[GRAPH_MAX_PARAMS];
			memset(&k, 0, sizeof(k));
			k.func = rs->real[rd_u32(&nb)];
			k.gridDimX = rd_u32(&nb); k.gridDimY = rd_u32(&nb); k.gridDimZ = rd_u32(&nb);
			k.blockDimX = rd_u32(&nb); k.blockDimY = rd_u32(&nb); k.blockDimZ = rd_u32(&nb);
			k.sharedMemBytes = rd_u32(&nb);
			uint32_t np = rd_u32(&nb);
			uint8_t *moved = NULL;   /* the parameters, pointers to moved globals translated */
			if (rs->z->ck.nmoved && !(moved = malloc(GRAPH_MAX_PARAM_BYTES))) {
				rc = fail(why, cap, -ENOMEM, "out of memory rebuilding a graph");
				break;
			}
			for (uint32_t q = 0, at = 0; q < np; q++) {
				uint32_t sz = rd_u32(&nb);
				params[q] = (void *)(nb.p + nb.off);
				if (moved) {   /* (graph_check: the sizes add up to at most the buffer) */
					memcpy(moved + at, params[q], sz);
					moved_words(&rs->z->ck, moved + at, sz, 1);
					params[q] = moved + at;
					at += sz;
				}
				nb.off += sz;
			}
			k.kernelParams = np ? params : NULL;
			if (f->cuGraphAddKernelNode_v2)
				r = f->cuGraphAddKernelNode_v2(&x, g, deps, nd, &k);
			free(moved);
			break;
		}
		case CU_GRAPH_NODE_TYPE_MEMCPY: {
			CUDA_MEMCPY3D c;
			memset(&c, 0, sizeof(c));
			c.srcMemoryType = c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
			c.srcDevice = rd_u64(&nb); c.dstDevice = rd_u64(&nb);
			c.srcPitch = rd_u64(&nb); c.srcHeight = rd_u64(&nb); c.dstPitch = rd_u64(&nb); c.dstHeight = rd_u64(&nb);
			c.WidthInBytes = rd_u64(&nb); c.Height = rd_u64(&nb); c.Depth = rd_u64(&nb);
			c.srcDevice = moved_real(&rs->z->ck, c.srcDevice, 0);
			c.dstDevice = moved_real(&rs->z->ck, c.dstDevice, 0);
			if (f->cuGraphAddMemcpyNode)
				r = f->cuGraphAddMemcpyNode(&x, g, deps, nd, &c, ctx);
			break;
		}
		case CU_GRAPH_NODE_TYPE_MEMSET: {
			CUDA_MEMSET_NODE_PARAMS ms;
			ms.dst = rd_u64(&nb); ms.pitch = rd_u64(&nb); ms.value = rd_u32(&nb); ms.elementSize = rd_u32(&nb);
			ms.dst = moved_real(&rs->z->ck, ms.dst, 0);
			ms.width = rd_u64(&nb); ms.height = rd_u64(&nb);
			if (f->cuGraphAddMemsetNode)
				r = f->cuGraphAddMemsetNode(&x, g, deps, nd, &ms, ctx);
			break;
		}
		case CU_GRAPH_NODE_TYPE_EMPTY:
			if (f->cuGraphAddEmptyNode)
				r = f->cuGraphAddEmptyNode(&x, g, deps, nd);
			break;
		case CU_GRAPH_NODE_TYPE_GRAPH: {
			/* the child graph built apart, then added (the node keeps its own copy) */
			CUgraph child = NULL;
			if (!f->cuGraphAddChildGraphNode || (r = f->cuGraphCreate(&child, 0)) != CUDA_SUCCESS)
				break;
			if ((rc = graph_build(rs, m, child, ctx, nb.p, nb.n, why, cap)) == 0)
				r = f->cuGraphAddChildGraphNode(&x, g, deps, nd, child);
			f->cuGraphDestroy(child);
			break;
		}
		case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
			if (f->cuGraphAddEventRecordNode)
				r = f->cuGraphAddEventRecordNode(&x, g, deps, nd, rs->real[rd_u32(&nb)]);
			break;
		case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
			if (f->cuGraphAddEventWaitNode)
				r = f->cuGraphAddEventWaitNode(&x, g, deps, nd, rs->real[rd_u32(&nb)]);
			break;
		}
		if (rc < 0)
			break;
		if (r != CUDA_SUCCESS || !x) {
			rc = fail(why, cap, -EIO, "rebuilding node %u (type %u) of a graph failed (CUresult %d)", i, type, (int)r);
			break;
		}
		made[i] = x;
		if (slot != NO_SLOT) {
			struct vgpu_zone *z = rs->z;
			pthread_mutex_lock(&z->lock);
			int e = vgpu_htab_restore_slot(&z->htab, slot, m->gen[slot], VGPU_H_GRAPH_NODE, x, g);
			pthread_mutex_unlock(&z->lock);
			if (e < 0)
				rc = fail(why, cap, e, "a graph node cannot take its slot %u (%s)", slot, strerror(-e));
			rs->real[slot] = x;
			rs->sum->handles++;
		}
	}
out:
	free(made);
	free(deps);
	return rc;
}

static void vmm_release(uint64_t handle, void *ctx)
{
	const struct vgpu_backend_fns *f = ctx;
	f->cuMemRelease((CUmemGenericAllocationHandle)handle);
}

/* A context restored so far, made current (the virtual memory calls need one). */
static void any_ctx_current(struct restorer *rs, const struct model *m)
{
	for (uint32_t i = 0; i < m->used; i++)
		if (m->type[i] == VGPU_H_CONTEXT && rs->real && rs->real[i]) {
			rs->f->cuCtxSetCurrent(rs->real[i]);
			return;
		}
}

/*
 * The driver counts a physical allocation's references as the zone did: the restore made
 * each with one, so one the zone held more of (it had retained a mapping's handle) is
 * retained again, through one of its mappings or a temporary one, until the counts agree;
 * otherwise the zone's last release would find the handle already gone. (Ones the zone held
 * none of go in vgpu_vmm_restored.)
 */
static int vmm_retain_refs(struct restorer *rs, const struct model *m, char *why, size_t cap)
{
	struct vgpu_zone *z = rs->z;
	const struct vgpu_backend_fns *f = rs->f;
	any_ctx_current(rs, m);
	for (uint32_t i = 0;; i++) {
		uint64_t h = 0, size = 0, at = 0;
		uint32_t refs = 0;
		pthread_mutex_lock(&z->lock);
		int more = i < z->vmm.n;
		if (more) {
			h = z->vmm.v[i].handle;
			size = z->vmm.v[i].size;
			refs = z->vmm.v[i].refs;
			for (uint32_t k = 0; k < z->vmm.ranges.n && !at; k++)
				if (z->vmm.ranges.v[k].owner == (const void *)(uintptr_t)h)
					at = z->vmm.ranges.v[k].base;
		}
		pthread_mutex_unlock(&z->lock);
		if (!more)
			return 0;
		if (refs <= 1)
			continue;
		CUdeviceptr win = 0;
		CUmemAllocationProp prop;
		CUresult r;
		memset(&prop, 0, sizeof(prop));
		if (!f->cuMemRetainAllocationHandle)
			return fail(why, cap, -EOPNOTSUPP, "the driver cannot retain a physical allocation's handle");
		if (!at && ((r = f->cuMemGetAllocationPropertiesFromHandle(&prop, (CUmemGenericAllocationHandle)h)) ||
			    (r = vmem_window(f, (CUmemGenericAllocationHandle)h, size, prop.location.id, &win))))
			return fail(why, cap, -EIO, "cannot map a physical allocation to retain it (CUresult %d)", (int)r);
		for (uint32_t k = 1; k < refs; k++) {
			CUmemGenericAllocationHandle h2 = 0;
			if ((r = f->cuMemRetainAllocationHandle(&h2, (void *)(uintptr_t)(at ? at : win))) || h2 != h) {
				if (win)
					vmem_window_close(f, win, size);
				return fail(why, cap, -EIO, "retaining a physical allocation %u times failed (CUresult %d)",
					    refs - 1, (int)r);
			}
		}
		if (win)
			vmem_window_close(f, win, size);
	}
}

/* The zone's address reservations, taken back at their addresses (once, before the first
 * physical allocation or at the end). */
static int vres_restore(struct restorer *rs, const struct model *m, char *why, size_t cap)
{
	const struct vgpu_backend_fns *f = rs->f;
	rs->vres_done = 1;
	any_ctx_current(rs, m);
	for (uint32_t i = 0; i < rs->nvres; i++) {
		struct vgpu_ckpt_span *v = &rs->vres[i];
		CUdeviceptr got = 0;
		CUresult r;
		munmap((void *)(uintptr_t)v->base, v->size);   /* the placeholder, for the driver to take */
		uint64_t size = v->size;
		v->size = 0;
		if ((r = f->cuMemAddressReserve(&got, size, 0, v->base, 0)) != CUDA_SUCCESS || got != v->base) {
			if (r == CUDA_SUCCESS)
				f->cuMemAddressFree(got, size);
			return fail(why, cap, -EADDRINUSE, "the driver would not give the zone's reserved addresses "
				    "[0x%llx, +0x%llx) back (CUresult %d; it offered 0x%llx)", (unsigned long long)v->base,
				    (unsigned long long)size, (int)r, (unsigned long long)got);
		}
		vgpu_vmm_reserved(rs->z, v->base, size);
		vgpu_devva_block(&rs->z->devva, v->base, size);
	}
	return 0;
}

/* A physical allocation with its bytes (through a window), under its old id. */
static int vmem_restore(struct restorer *rs, const struct model *m, struct item *it, char *why, size_t cap)
{
	const struct vgpu_backend_fns *f = rs->f;
	struct vgpu_zone *z = rs->z;
	int rc;
	if (!rs->vres_done && (rc = vres_restore(rs, m, why, cap)) < 0)
		return rc;
	any_ctx_current(rs, m);
	if (vgpu_vmm_create_reserve(z, it->size) < 0)
		return fail(why, cap, -EDQUOT, "a physical allocation of %llu bytes is over this proxy's memory limit "
			    "for the zone", (unsigned long long)it->size);
	CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				     .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = (int)it->owner } };
	CUmemGenericAllocationHandle h = 0;
	CUdeviceptr at = 0;
	CUresult r;
	uint64_t id = it->id;
	if ((r = f->cuMemCreate(&h, (size_t)it->size, &prop, 0)) != CUDA_SUCCESS) {
		vgpu_vmm_create_done(z, 0, it->size, 0, &id, 0);
		return fail(why, cap, -ENOMEM, "cannot make a physical allocation of %llu bytes (CUresult %d)",
			    (unsigned long long)it->size, (int)r);
	}
	pthread_mutex_lock(&z->lock);
	z->vmm.key = it->key;   /* later ids follow the zone's */
	pthread_mutex_unlock(&z->lock);
	if (vgpu_vmm_create_done(z, h, it->size, 1, &id, it->slot) < 0) {
		f->cuMemRelease(h);
		vgpu_vmm_create_done(z, h, it->size, 0, &id, 0);
		return fail(why, cap, -ENOMEM, "out of memory noting a physical allocation");
	}
	if ((r = vmem_window(f, h, it->size, (int)it->owner, &at)) != CUDA_SUCCESS)
		return fail(why, cap, -EIO, "cannot map a physical allocation to fill it (CUresult %d)", (int)r);
	uint8_t *buf = malloc(COPY_STEP);
	rc = buf ? 0 : fail(why, cap, -ENOMEM, "out of memory");
	for (uint64_t done = 0; rc == 0 && done < it->size;) {
		uint64_t k = it->size - done < COPY_STEP ? it->size - done : COPY_STEP;
		if (src_read(it->src, buf, k) < 0)
			rc = fail(why, cap, -EPROTO, "the bytes of a physical allocation are cut short");
		else if ((r = f->cuMemcpyHtoD_v2(at + done, buf, (size_t)k)) != CUDA_SUCCESS)
			rc = fail(why, cap, -EIO, "filling a physical allocation failed (CUresult %d)", (int)r);
		done += k;
	}
	free(buf);
	vmem_window_close(f, at, it->size);
	it->src = NULL;   /* its bytes are read */
	rs->sum->mem_bytes += it->size;
	return rc;
}

/* A mapping at its old address, of the allocation its id names, with its access. */
static int vmap_restore(struct restorer *rs, const struct model *m, const struct item *it, char *why, size_t cap)
{
	const struct vgpu_backend_fns *f = rs->f;
	uint64_t h = 0;
	CUmemAllocationProp prop;
	CUresult r;
	any_ctx_current(rs, m);
	memset(&prop, 0, sizeof(prop));
	if (vgpu_vmm_handle_of(rs->z, it->id, &h) < 0 ||
	    f->cuMemGetAllocationPropertiesFromHandle(&prop, (CUmemGenericAllocationHandle)h) != CUDA_SUCCESS)
		return fail(why, cap, -EPROTO, "a mapping names physical allocation 0x%llx, which is not there",
			    (unsigned long long)it->id);
	CUmemAccessDesc acc = { .location = prop.location, .flags = (CUmemAccess_flags)it->a };
	if ((r = f->cuMemMap((CUdeviceptr)it->base, (size_t)it->size, (size_t)it->off, (CUmemGenericAllocationHandle)h, 0)) ||
	    (it->a && (r = f->cuMemSetAccess((CUdeviceptr)it->base, (size_t)it->size, &acc, 1))))
		return fail(why, cap, -EIO, "cannot map 0x%llx again (CUresult %d)", (unsigned long long)it->base, (int)r);
	if (vgpu_vmm_map_done(rs->z, it->base, it->size, h, it->off) < 0)
		return fail(why, cap, -EPROTO, "the mapping at 0x%llx overlaps another", (unsigned long long)it->base);
	return 0;
}

static int restore_apply(void *ctx, const struct model *m, const struct item *cit, char *why, size_t cap)
{
	struct restorer *rs = ctx;
	const struct vgpu_backend_fns *f = rs->f;
	struct vgpu_zone *z = rs->z;
	struct item *it = (struct item *)cit;
	void *real = NULL;
	const void *owner = NULL;
	unsigned htype = 0;
	CUresult r = CUDA_SUCCESS;
	int rc;

	switch (it->type) {
	case R_SLOTS:
		if (!(rs->real = calloc(m->used ? m->used : 1, sizeof(void *))))
			return fail(why, cap, -ENOMEM, "out of memory");
		if ((rc = vgpu_htab_restore_begin(&z->htab, rs->key, m->used)) < 0)
			return fail(why, cap, rc, rc == -EDQUOT ? "the zone had %u handle slots; this proxy's handle limit is lower" :
				    "cannot set up %u handle slots", m->used);
		for (uint32_t i = 0; i < m->used; i++)
			vgpu_htab_restore_slot(&z->htab, i, m->gen[i], 0, NULL, NULL);
		return 0;
	case R_CTX: {
		CUcontext c = NULL;
		htype = VGPU_H_CONTEXT;
		if (it->a) {
			if (!f->cuDevicePrimaryCtxRetain || (r = f->cuDevicePrimaryCtxRetain(&c, (CUdevice)it->b)))
				break;
			z->primary[it->b] = c;
			/* idle in the zone: the handle without the zone's reference (nothing was made in it) */
			if (it->a == CTX_PRIMARY_IDLE &&
			    (!f->cuDevicePrimaryCtxRelease_v2 || (r = f->cuDevicePrimaryCtxRelease_v2((CUdevice)it->b))))
				break;
		} else {
			if (!f->cuCtxCreate_v2 || (r = f->cuCtxCreate_v2(&c, (unsigned)it->size, (CUdevice)it->b)))
				break;
		}
		real = c;
		break;
	}
	case R_MODULE: {
		CUmodule mod = NULL;
		size_t self_len = 0;
		htype = VGPU_H_MODULE;
		owner = it->owner != NO_SLOT ? rs->real[it->owner] : NULL;
		/* like a zone's own load: the image must describe itself within its bytes */
		if (vgpu_modimage_size(it->data, it->len, &self_len) < 0 || self_len > it->len)
			return fail(why, cap, -EPROTO, "module slot %u: not a well-formed PTX, cubin or fatbin image", it->slot);
		if ((r = set_ctx(rs, it->owner)) || !f->cuModuleLoadData || (r = f->cuModuleLoadData(&mod, it->data)))
			break;
		real = mod;
		break;
	}
	case R_FUNC: {
		CUfunction fn = NULL;
		char name[VGPU_CKPT_NAME_MAX + 1];
		htype = VGPU_H_FUNCTION;
		owner = rs->real[it->owner];
		memcpy(name, it->data, it->len);
		name[it->len] = '\0';
		if (!f->cuModuleGetFunction || (r = f->cuModuleGetFunction(&fn, (CUmodule)rs->real[it->owner], name)))
			break;
		real = fn;
		break;
	}
	case R_STREAM: {
		CUstream s = NULL;
		htype = VGPU_H_STREAM;
		owner = it->owner != NO_SLOT ? rs->real[it->owner] : NULL;
		if ((r = set_ctx(rs, it->owner)) || !f->cuStreamCreateWithPriority ||
		    (r = f->cuStreamCreateWithPriority(&s, it->a, (int)it->b)))
			break;
		real = s;
		break;
	}
	case R_EVENT: {
		CUevent e = NULL;
		htype = VGPU_H_EVENT;
		owner = it->owner != NO_SLOT ? rs->real[it->owner] : NULL;
		if ((r = set_ctx(rs, it->owner)) || !f->cuEventCreate || (r = f->cuEventCreate(&e, it->a & ~EV_RECORDED)))
			break;
		if ((it->a & EV_RECORDED) && f->cuEventRecord && f->cuEventSynchronize &&
		    ((r = f->cuEventRecord(e, NULL)) || (r = f->cuEventSynchronize(e)))) {
			if (f->cuEventDestroy_v2)
				f->cuEventDestroy_v2(e);
			break;
		}
		real = e;
		break;
	}
	case R_POOL: {
		CUmemoryPool pool = NULL;
		CUdevice dev = (CUdevice)it->pool[1];
		htype = VGPU_H_MEMORY_POOL;
		owner = it->owner != NO_SLOT ? rs->real[it->owner] : NULL;
		if (!f->cuDeviceGetDefaultMemPool || !f->cuMemPoolCreate || !f->cuMemPoolSetAttribute ||
		    !f->cuDeviceSetMemPool)
			return fail(why, cap, -EOPNOTSUPP, "memory pool slot %u: the driver lacks the memory-pool calls", it->slot);
		CUmemPoolProps props;
		memset(&props, 0, sizeof(props));
		if (it->pool[0] == 0) {
			if ((r = f->cuDeviceGetDefaultMemPool(&pool, dev)))
				break;
		} else {
			props.allocType = (CUmemAllocationType)it->pool[2];
			props.handleTypes = CU_MEM_HANDLE_TYPE_NONE;
			props.location.type = (CUmemLocationType)it->pool[3];
			props.location.id = (int)it->pool[1];
			props.usage = (unsigned short)it->pool[4];
			props.maxSize = (size_t)it->size;
			if ((r = set_ctx(rs, it->owner)) || (r = f->cuMemPoolCreate(&pool, &props)))
				break;
		}
		cuuint64_t thr = it->base;
		if ((r = f->cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr)))
			break;
		for (unsigned k = 0; k < 3 && !r; k++) {
			int v = (it->a >> k) & 1;
			r = f->cuMemPoolSetAttribute(pool, (CUmemPool_attribute)(CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES + k), &v);
		}
		if (!r && it->pool[5])
			r = f->cuDeviceSetMemPool(dev, pool);
		if (!r && it->pool[0] == 1)
			vgpu_ckpt_note_pool(z, pool, &props);
		real = pool;
		break;
	}
	case R_ALLOC: {
		struct vgpu_ckpt_zone *ck = &z->ck;
		uint32_t s = 0;
		while (s < ck->nspan && !(it->base >= ck->span[s].base && it->base - ck->span[s].base < ck->span[s].size))
			s++;
		if (s == ck->nspan)
			return fail(why, cap, -EPROTO, "allocation at 0x%llx lies in no reserved range",
				    (unsigned long long)it->base);
		if (it->a == ALLOC_GLOBAL && !f->vgpu_sim_module_place_global)
			return global_bytes(rs, it, why, cap);
		int ordered = ALLOC_KIND(it->a) == ALLOC_ORDERED;
		int dev = ordered ? (int)ALLOC_DEVICE(it->a) : it->owner != NO_SLOT ? m->dev[it->owner] : 0;
		if ((r = set_ctx(rs, it->owner)))
			break;
		if (!ck->span[s].handle && (rc = span_map(rs, &ck->span[s], dev, why, cap)) < 0)
			return rc;
		/* the bytes from the source to the device, a step at a time, reading the next step
		 * while the helper copies the last */
		void *ctx = NULL;
		if (it->owner != NO_SLOT)
			ctx = rs->real[it->owner];
		else if (f->cuCtxGetCurrent)
			f->cuCtxGetCurrent((CUcontext *)&ctx);
		for (uint64_t done = 0; done < it->size;) {
			size_t k = it->size - done < COPY_STEP ? (size_t)(it->size - done) : COPY_STEP;
			uint8_t *buf = copier_buf(&rs->cp);
			if (src_read(it->src, buf, k) < 0) {
				copier_drain(&rs->cp);
				return fail(why, cap, -EPROTO, "the bytes of the allocation at 0x%llx are cut short",
					    (unsigned long long)it->base);
			}
			copier_submit(&rs->cp, k, it->base + done, ctx);
			done += k;
		}
		it->src = NULL;   /* read */
		if ((r = copier_drain(&rs->cp)))
			break;
		uint64_t reserved = 0;
		if ((rc = vgpu_zone_dptr_add_owned(z, it->base, it->size,
						   ordered ? (const void *)&z->ordered[dev] :
						   it->owner != NO_SLOT ? rs->real[it->owner] : NULL, &reserved)) < 0)
			return fail(why, cap, rc, "cannot record the allocation at 0x%llx", (unsigned long long)it->base);
		ck->span[s].refs++;
		rs->sum->allocs++;
		rs->sum->mem_bytes += it->size;
		return 0;
	}
	case R_GLOBAL: {
		/* the global's bytes are in place (its allocation record): the module's global moves
		 * there, and the range belongs to its module again */
		char name[VGPU_CKPT_NAME_MAX + 1];
		CUmodule mod = rs->real[it->owner];
		memcpy(name, it->data, it->len);
		name[it->len] = 0;
		if (!f->vgpu_sim_module_place_global)
			return global_moved(rs, it, mod, name, why, cap);
		if ((r = f->vgpu_sim_module_place_global(mod, name, (CUdeviceptr)it->base, (size_t)it->size)))
			return fail(why, cap, -EIO, "module global %s cannot take its address 0x%llx back (CUresult %d)",
				    name, (unsigned long long)it->base, (int)r);
		return global_home(z, it, mod, name, why, cap);
	}
	case R_GVAL: {
		/* the restored module's own global of that name takes the value */
		char name[VGPU_CKPT_NAME_MAX + 1];
		CUmodule mod = rs->real[it->owner];
		CUdeviceptr addr;
		size_t size;
		unsigned t; void *real; const void *own = NULL; uint32_t gen;
		memcpy(name, it->data, it->len);
		name[it->len] = 0;
		if (vgpu_htab_slot(&z->htab, it->owner, &t, &real, &own, &gen) == 1 && own)
			f->cuCtxSetCurrent((CUcontext)own);   /* its module's context */
		if (!f->cuModuleGetGlobal_v2 || (r = f->cuModuleGetGlobal_v2(&addr, &size, mod, name)) != CUDA_SUCCESS)
			return fail(why, cap, -EPROTO, "module global %.200s is not in its restored module", name);
		if (size != it->size)
			return fail(why, cap, -EPROTO, "module global %.200s is %zu bytes in its restored module, %llu in "
				    "the checkpoint", name, size, (unsigned long long)it->size);
		if ((r = f->cuMemcpyHtoD_v2(addr, it->data + it->len, size)) != CUDA_SUCCESS)
			return fail(why, cap, -EIO, "writing module global %.200s failed (CUresult %d)", name, (int)r);
		return 0;
	}
	case R_VMEM:
		return vmem_restore(rs, m, it, why, cap);
	case R_VMAP:
		return vmap_restore(rs, m, it, why, cap);
	case R_GRAPH:
	case R_GEXEC: {
		/* the graph, its nodes at their slots; an executable graph instantiated from such a
		 * graph, which it keeps as its copy */
		CUgraph g = NULL;
		CUcontext cctx = it->owner != NO_SLOT ? rs->real[it->owner] : NULL;
		owner = cctx;
		if ((r = set_ctx(rs, it->owner)) || (r = f->cuGraphCreate(&g, 0)))
			break;
		if ((rc = graph_build(rs, m, g, cctx, it->data, it->len, why, cap)) < 0) {
			f->cuGraphDestroy(g);
			return rc;
		}
		if (it->type == R_GRAPH) {
			htype = VGPU_H_GRAPH;
			real = g;
			break;
		}
		CUgraphExec e = NULL;
		htype = VGPU_H_GRAPH_EXEC;
		if ((r = f->cuGraphInstantiateWithFlags(&e, g, it->base)) != CUDA_SUCCESS) {
			f->cuGraphDestroy(g);
			break;
		}
		pthread_mutex_lock(&z->lock);
		if (vgpu_room_for_one(&z->ck.gx, &z->ck.capgx, z->ck.ngx, sizeof(*z->ck.gx), 8) == 0)
			z->ck.gx[z->ck.ngx++] = (struct vgpu_ckpt_gexec){ .exec = e, .clone = g, .flags = it->base };
		else
			z->ck.gx_lost = 1;
		pthread_mutex_unlock(&z->lock);
		real = e;
		break;
	}
	case R_OUTPUT:   /* the zone takes it from this worker now, in order before anything new */
		vgpu_output_put(it->a, it->data, it->len);
		return 0;
	case R_PINNED:
	case R_CHAN: {
		/* kept for the program's channels to rejoin, should the source be gone */
		struct vgpu_ckpt_zone *ck = &z->ck;
		if (it->type == R_PINNED) {
			if (!ck->pin && !(ck->pin = calloc(VGPU_PINNED_MAX_REGIONS, sizeof(*ck->pin))))
				return fail(why, cap, -ENOMEM, "out of memory for the pinned region records");
			ck->pin[ck->npin++] = (struct vgpu_ckpt_pin){ .ino = it->base, .bytes = it->size, .slot = it->slot,
								      .addr = it->off };
			ck->pin_key = it->key;
		} else {
			if (!ck->chan && !(ck->chan = calloc(VGPU_CKPT_MAX_CHANS, sizeof(*ck->chan))))
				return fail(why, cap, -ENOMEM, "out of memory for the channel records");
			struct vgpu_ckpt_chan *c = &ck->chan[ck->nchan++];
			c->ino = it->base;
			c->nctx = 0;
			for (uint32_t k = 0; it->owner != NO_SLOT && k < it->a; k++) {
				uint32_t s;
				memcpy(&s, it->data + 4 * k, 4);
				c->ctx[c->nctx++] = rs->real[s];
			}
			if (it->owner != NO_SLOT)
				c->ctx[c->nctx++] = rs->real[it->owner];
			memcpy(c->pos, it->pos, sizeof(c->pos));
		}
		return 0;
	}
	default:
		return 0;
	}
	if (r != CUDA_SUCCESS || !real)
		return fail(why, cap, -EIO, "recreating the %s of slot %u failed (CUresult %d)", htype_name(htype),
			    it->slot, (int)r);
	pthread_mutex_lock(&z->lock);
	rc = vgpu_htab_restore_slot(&z->htab, it->slot, m->gen[it->slot], htype, real, owner);
	pthread_mutex_unlock(&z->lock);
	if (rc < 0)
		return fail(why, cap, rc, "the %s of slot %u cannot take its place in the handle table (%s)",
			    htype_name(htype), it->slot, strerror(-rc));
	rs->real[it->slot] = real;
	rs->sum->handles++;
	if (it->type == R_MODULE)
		vgpu_ckpt_note_image(z, real, it->data, it->len);
	if (it->type == R_EVENT && (it->a & ~EV_RECORDED))
		vgpu_ckpt_note_event(z, real, it->a & ~EV_RECORDED);
	return 0;
}

int vgpu_ckpt_restore(struct vgpu_ckpt_reader *rd, struct vgpu_zone *z, const struct vgpu_backend *be,
		      struct vgpu_ckpt_sum *sum, char *why, size_t why_len)
{
	const struct vgpu_backend_fns *f = &be->fn;
	struct restorer rs = { .z = z, .f = f, .sum = sum };
	int rc;

	memset(sum, 0, sizeof(*sum));
	if (!f->cuCtxSetCurrent || !f->cuMemAddressReserve || !f->cuMemCreate || !f->cuMemMap ||
	    !f->cuMemSetAccess || !f->cuMemRelease || !f->cuMemAddressFree || !f->cuMemUnmap || !f->cuMemcpyHtoD_v2) {
		vgpu_ckpt_close(rd);
		return fail(why, why_len, -EOPNOTSUPP, "the driver lacks an entry point restoring needs");
	}
	rs.key = rd->ps.key;   /* from the zone record, read at open */
	if (copier_start(&rs.cp, f) < 0) {
		copier_stop(&rs.cp);
		vgpu_ckpt_close(rd);
		return fail(why, why_len, -ENOMEM, "cannot start the copy helper");
	}
	/* the spans reserved at open become the zone's restored spans */
	z->ck.span = rd->span;
	z->ck.nspan = rd->nspan;
	rd->span = NULL;
	rd->nspan = 0;
	rs.vres = rd->vres;      /* still held by the reader until taken back */
	rs.nvres = rd->nvres;
	rc = parse(&rd->ps, NULL, restore_apply, &rs, 0, why, why_len);
	if (rc == 0 && !rs.vres_done && rs.nvres)
		rc = vres_restore(&rs, &rd->ps.m, why, why_len);
	if (rc == 0)   /* allocations the zone holds more references to: the driver's count too */
		rc = vmm_retain_refs(&rs, &rd->ps.m, why, why_len);
	if (rc == 0)   /* allocations the zone had released but kept mapped: the driver's reference goes */
		vgpu_vmm_restored(z, vmm_release, (void *)f);
	pthread_mutex_lock(&z->lock);
	vgpu_htab_restore_end(&z->htab);
	pthread_mutex_unlock(&z->lock);
	if (rc == 0 && z->mem.limit && z->mem.used > z->mem.limit)
		rc = fail(why, why_len, -EDQUOT, "the zone holds %llu bytes of device memory; this proxy's limit for it is %llu",
			  (unsigned long long)z->mem.used, (unsigned long long)z->mem.limit);
	if (rc == 0)
		vgpu_zone_tables_restored(z);
	sum->file_bytes = VGPU_CKPT_HDR_BYTES + rd->s.off;
	f->cuCtxSetCurrent(NULL);
	free(rs.real);
	for (uint32_t i = 0; i < rs.ngb; i++)
		free(rs.gb[i].bytes);
	free(rs.gb);
	copier_stop(&rs.cp);
	vgpu_ckpt_close(rd);
	return rc;
}

/* ---------------------------------------------------------------- restored memory */

static void span_release(const struct vgpu_backend_fns *f, struct vgpu_ckpt_span *sp)
{
	f->cuMemUnmap((CUdeviceptr)sp->base, sp->size);
	f->cuMemRelease((CUmemGenericAllocationHandle)sp->handle);
	f->cuMemAddressFree((CUdeviceptr)sp->base, sp->size);
	sp->handle = 0;
}

int vgpu_ckpt_free(struct vgpu_zone *z, const struct vgpu_backend *be, uint64_t base, int *res)
{
	struct vgpu_ckpt_zone *ck = &z->ck;
	struct vgpu_ckpt_span sp = { 0 };
	int found = 0;

	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < ck->nspan; i++) {
		if (!ck->span[i].handle || base < ck->span[i].base || base - ck->span[i].base >= ck->span[i].size)
			continue;
		found = 1;
		if (--ck->span[i].refs == 0) {
			sp = ck->span[i];
			ck->span[i] = ck->span[--ck->nspan];
		}
		break;
	}
	pthread_mutex_unlock(&z->lock);
	if (!found)
		return 0;
	/* like cuMemFree: the device is done with the memory before it goes */
	if (be->fn.cuCtxSynchronize)
		be->fn.cuCtxSynchronize();
	if (sp.handle)
		span_release(&be->fn, &sp);
	*res = CUDA_SUCCESS;
	return 1;
}

void vgpu_ckpt_release_all(struct vgpu_zone *z, const struct vgpu_backend *be)
{
	struct vgpu_ckpt_zone *ck = &z->ck;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < ck->nspan; i++) {
		/* their allocations leave the map: cuMemFree does not apply to them */
		for (uint32_t a = 0; a < z->amap.n;) {
			uint64_t b = z->amap.v[a].base;
			if (b >= ck->span[i].base && b - ck->span[i].base < ck->span[i].size)
				vgpu_allocmap_remove(&z->amap, b, NULL);
			else
				a++;
		}
		if (ck->span[i].handle)
			span_release(&be->fn, &ck->span[i]);
	}
	ck->nspan = 0;
	for (uint32_t i = 0; i < ck->ngx; i++)
		if (ck->gx[i].clone && be->fn.cuGraphDestroy)
			be->fn.cuGraphDestroy(ck->gx[i].clone);
	ck->ngx = 0;
	pthread_mutex_unlock(&z->lock);
}
