/* SPDX-License-Identifier: MIT */
/* ckpt.c — checkpoint files: writing a stopped zone's device state, checking a file as hostile input, recreating the zone. */
#include "ckpt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "wire.h"
#include "zone.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

enum rec {
	R_ZONE = 1, R_SLOTS, R_CTX, R_MODULE, R_FUNC, R_STREAM, R_EVENT, R_ALLOC, R_END,
};
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
	if (i == ck->nimg && ck->nimg == ck->capimg) {
		uint32_t ncap = ck->capimg ? ck->capimg * 2 : 8;
		struct vgpu_ckpt_image *n = realloc(ck->img, ncap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&z->lock);
			free(copy);
			return;
		}
		ck->img = n;
		ck->capimg = ncap;
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

void vgpu_ckpt_zone_fini(struct vgpu_ckpt_zone *ck)
{
	for (uint32_t i = 0; i < ck->nimg; i++)
		free(ck->img[i].bytes);
	free(ck->img);
	free(ck->span);
	memset(ck, 0, sizeof(*ck));
}

/* ---------------------------------------------------------------- writing */

struct writer {
	int fd;
	uint8_t *buf;
	size_t n, cap;
	uint64_t off;      /* file offset of buf[0] */
	uint32_t crc;
	int err;
};

static void w_flush(struct writer *w)
{
	size_t done = 0;
	if (w->err || !w->n)
		return;
	w->crc = vgpu_crc32c(w->crc, w->buf, w->n);
	while (done < w->n) {
		ssize_t r = pwrite(w->fd, w->buf + done, w->n - done, (off_t)(w->off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			w->err = r < 0 ? -errno : -EIO;
			return;
		}
		done += (size_t)r;
	}
	w->off += w->n;
	w->n = 0;
}

static void w_bytes(struct writer *w, const void *p, size_t n)
{
	const uint8_t *s = p;
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

/* What the format cannot carry yet; "" when the zone can be written. */
static int blockers(const struct vgpu_zone *z, const struct vgpu_backend *be, char *why, size_t cap)
{
	for (unsigned t = 1; t < VGPU_H_COUNT; t++) {
		if (t == VGPU_H_CONTEXT || t == VGPU_H_MODULE || t == VGPU_H_FUNCTION || t == VGPU_H_STREAM ||
		    t == VGPU_H_EVENT || !z->htab.count[t])
			continue;
		return fail(why, cap, -EOPNOTSUPP, "the zone holds %u %s handle%s, which checkpoints do not carry "
			    "(supported: contexts, modules, functions, streams, events, device memory)",
			    z->htab.count[t], htype_name(t), z->htab.count[t] == 1 ? "" : "s");
	}
	if (z->vmm.n || z->vmm.ranges.n)
		return fail(why, cap, -EOPNOTSUPP, "the zone uses the virtual memory management API "
			    "(%u physical allocations), which checkpoints do not carry", z->vmm.n);
	if (z->pinned.bytes)
		return fail(why, cap, -EOPNOTSUPP, "the zone shares %llu bytes of pinned host memory with the "
			    "proxy, which a checkpoint cannot carry (it is the process's own memory)",
			    (unsigned long long)z->pinned.bytes);
	if (z->ck.globals)
		return fail(why, cap, -EOPNOTSUPP, "the zone took the address of a module global "
			    "(cuModuleGetGlobal), which cannot keep its address in a restored module");
	const struct vgpu_backend_fns *f = &be->fn;
	if (!f->cuCtxSetCurrent || !f->cuCtxGetDevice || !f->cuCtxGetFlags || !f->cuFuncGetName ||
	    !f->cuStreamGetFlags || !f->cuStreamGetPriority || !f->cuMemcpyDtoH_v2 || !f->cuCtxSynchronize)
		return fail(why, cap, -EOPNOTSUPP, "the driver lacks an entry point checkpoints need");
	return 0;
}

static const struct vgpu_ckpt_image *image_of(const struct vgpu_zone *z, const void *module)
{
	for (uint32_t i = 0; i < z->ck.nimg; i++)
		if (z->ck.img[i].module == module && z->ck.img[i].bytes)
			return &z->ck.img[i];
	return NULL;
}

int vgpu_ckpt_write(int fd, struct vgpu_zone *z, const struct vgpu_backend *be, uint32_t backend_kind,
		    const char *reg, const char *source, struct vgpu_ckpt_sum *sum, char *why, size_t why_len)
{
	const struct vgpu_backend_fns *f = &be->fn;
	struct writer w = { .fd = fd, .cap = 4u << 20, .off = VGPU_CKPT_HDR_BYTES };
	uint32_t used = z->htab.used, nrec = 0;
	int rc;
	CUresult r;

	memset(sum, 0, sizeof(*sum));
	pthread_mutex_lock(&z->lock);
	rc = blockers(z, be, why, why_len);
	pthread_mutex_unlock(&z->lock);
	if (rc < 0)
		return rc;
	/* Finish the zone's device work: what is written is what its programs would read. */
	for (uint32_t i = 0; i < used; i++) {
		unsigned t; void *real; const void *own; uint32_t gen;
		if (vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen) == 1 && t == VGPU_H_CONTEXT) {
			if ((r = f->cuCtxSetCurrent(real)) != CUDA_SUCCESS || (r = f->cuCtxSynchronize()) != CUDA_SUCCESS)
				return fail(why, why_len, -EIO, "finishing the work of context slot %u failed (CUresult %d): "
					    "the zone's device state is not consistent", i, (int)r);
		}
	}
	w.buf = malloc(w.cap);
	if (!w.buf)
		return fail(why, why_len, -ENOMEM, "out of memory for the write buffer");

	/* ZONE */
	const char *s_reg = reg ? reg : "", *s_src = source ? source : "";
	w_rec(&w, R_ZONE, 4 + 4 + 8 + 16 + 12 + strlen(z->name) + strlen(s_reg) + strlen(s_src));
	w_u32(&w, z->id);
	w_u32(&w, used);
	w_u64(&w, z->htab.key);
	w_bytes(&w, z->token, 16);
	w_str(&w, z->name);
	w_str(&w, s_reg);
	w_str(&w, s_src);
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
	/* handles, one pass per type in dependency order */
	static const unsigned order[] = { VGPU_H_CONTEXT, VGPU_H_MODULE, VGPU_H_FUNCTION, VGPU_H_STREAM, VGPU_H_EVENT };
	for (unsigned o = 0; o < sizeof(order) / sizeof(order[0]) && !w.err; o++) {
		for (uint32_t i = 0; i < used && !w.err; i++) {
			unsigned t; void *real; const void *own; uint32_t gen;
			if (vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen) != 1 || t != order[o])
				continue;
			uint32_t os = own ? owner_slot(z, own) : NO_SLOT;
			switch (t) {
			case VGPU_H_CONTEXT: {
				CUdevice dev = 0;
				unsigned flags = 0, primary = 0;
				if ((r = f->cuCtxSetCurrent(real)) || (r = f->cuCtxGetDevice(&dev)) ||
				    (r = f->cuCtxGetFlags(&flags)))
					goto drv;
				primary = dev >= 0 && dev < (int)VGPU_ZONE_MAX_DEVICES && z->primary[dev] == real;
				w_rec(&w, R_CTX, 16);
				w_u32(&w, i); w_u32(&w, primary); w_u32(&w, (uint32_t)dev); w_u32(&w, flags);
				break;
			}
			case VGPU_H_MODULE: {
				const struct vgpu_ckpt_image *im = image_of(z, real);
				if (!im) {
					rc = fail(why, why_len, -EOPNOTSUPP, "module slot %u was loaded in a way whose image "
						  "the proxy did not keep (a file path or JIT-linked image)", i);
					goto out;
				}
				w_rec(&w, R_MODULE, 16 + im->len);
				w_u32(&w, i); w_u32(&w, os); w_u64(&w, im->len);
				w_bytes(&w, im->bytes, im->len);
				break;
			}
			case VGPU_H_FUNCTION: {
				const char *name = NULL;
				if ((r = f->cuFuncGetName(&name, real)) || !name)
					goto drv;
				size_t nl = strnlen(name, VGPU_CKPT_NAME_MAX + 1);
				if (nl == 0 || nl > VGPU_CKPT_NAME_MAX || slot_of_real(z, VGPU_H_MODULE, own) == NO_SLOT) {
					rc = fail(why, why_len, -EOPNOTSUPP, "function slot %u has no module the checkpoint "
						  "can name (or a %zu-byte name)", i, nl);
					goto out;
				}
				w_rec(&w, R_FUNC, 12 + nl);
				w_u32(&w, i); w_u32(&w, os); w_u32(&w, (uint32_t)nl);
				w_bytes(&w, name, nl);
				break;
			}
			case VGPU_H_STREAM: {
				unsigned flags = 0;
				int prio = 0;
				if (os != NO_SLOT) {
					void *c = NULL;
					vgpu_htab_lookup(&z->htab, VGPU_H_CONTEXT, vgpu_htab_id_of(&z->htab, os), &c);
					if (c)
						f->cuCtxSetCurrent(c);
				}
				if ((r = f->cuStreamGetFlags(real, &flags)) || (r = f->cuStreamGetPriority(real, &prio)))
					goto drv;
				w_rec(&w, R_STREAM, 16);
				w_u32(&w, i); w_u32(&w, os); w_u32(&w, flags); w_u32(&w, (uint32_t)prio);
				break;
			}
			case VGPU_H_EVENT:
				w_rec(&w, R_EVENT, 12);
				w_u32(&w, i); w_u32(&w, os); w_u32(&w, 0);
				break;
			}
			nrec++;
			sum->handles++;
		}
	}
	/* allocations with their bytes, straight from the device into the write buffer */
	for (uint32_t a = 0; a < z->amap.n && !w.err; a++) {
		const struct vgpu_alloc *al = &z->amap.v[a];
		uint32_t os = al->owner ? slot_of_real(z, VGPU_H_CONTEXT, al->owner) : NO_SLOT;
		if (os != NO_SLOT) {
			void *c = NULL;
			vgpu_htab_lookup(&z->htab, VGPU_H_CONTEXT, vgpu_htab_id_of(&z->htab, os), &c);
			if (c)
				f->cuCtxSetCurrent(c);
		}
		w_rec(&w, R_ALLOC, 24 + al->size);
		w_u64(&w, al->base); w_u64(&w, al->size); w_u32(&w, os); w_u32(&w, 0);
		for (uint64_t done = 0; done < al->size && !w.err;) {
			if (w.n == w.cap)
				w_flush(&w);
			if (w.err)
				break;
			uint64_t k = al->size - done;
			if (k > w.cap - w.n)
				k = w.cap - w.n;
			if ((r = f->cuMemcpyDtoH_v2(w.buf + w.n, (CUdeviceptr)(al->base + done), (size_t)k)))
				goto drv;
			w.n += k;
			done += k;
		}
		nrec++;
		sum->allocs++;
		sum->mem_bytes += al->size;
	}
	w_rec(&w, R_END, 4);
	w_u32(&w, nrec);
	w_flush(&w);
	if (w.err) {
		rc = fail(why, why_len, w.err, "writing the checkpoint failed: %s", strerror(-w.err));
		goto out;
	}
	uint8_t hdr[VGPU_CKPT_HDR_BYTES] = { 0 };
	uint32_t v32;
	uint64_t payload = w.off - VGPU_CKPT_HDR_BYTES;
	memcpy(hdr, VGPU_CKPT_MAGIC, 8);
	v32 = VGPU_CKPT_VERSION; memcpy(hdr + 8, &v32, 4);
	v32 = VGPU_CKPT_HDR_BYTES; memcpy(hdr + 12, &v32, 4);
	memcpy(hdr + 16, &payload, 8);
	memcpy(hdr + 24, &w.crc, 4);
	memcpy(hdr + 28, &backend_kind, 4);
	if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) || ftruncate(fd, (off_t)w.off) < 0) {
		rc = fail(why, why_len, -errno ? -errno : -EIO, "writing the checkpoint header failed: %s", strerror(errno));
		goto out;
	}
	sum->file_bytes = w.off;
	rc = 0;
	goto out;
drv:
	rc = fail(why, why_len, -EIO, "the driver failed a query while writing (CUresult %d)", (int)r);
out:
	f->cuCtxSetCurrent(NULL);
	free(w.buf);
	return rc;
}

/* ---------------------------------------------------------------- reading */

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
	return b->bad || b->off != b->n || z->slots > (1u << 30) - 1 || !(*key & 0x80000000ull) ? -1 : 0;
}

/* What each slot holds, as the records build it up (the checker's and the restorer's view). */
struct model {
	uint32_t used;
	uint8_t *type;        /* per slot: 0 free, else vgpu_handle_type */
	uint32_t *gen;
	int32_t *dev;         /* contexts: their device */
};

/* One parsed record, handed to the restorer. */
struct item {
	uint32_t type;
	uint32_t slot, owner, a, b;   /* meaning per type (see parse) */
	uint64_t base, size;
	const uint8_t *data;          /* image, name or allocation bytes */
	size_t len;
};

typedef int (*apply_fn)(void *ctx, const struct model *m, const struct item *it, char *why, size_t cap);

static int slot_is(const struct model *m, uint32_t s, unsigned type)
{
	return s < m->used && m->type[s] == type;
}

/*
 * Walk the payload, checking every record against the model; call apply (if any) for each
 * handle and allocation record once it has passed. meta gets the zone record.
 */
static int parse(const uint8_t *buf, size_t len, struct vgpu_ckpt_meta *meta, apply_fn apply, void *actx,
		 char *why, size_t cap)
{
	struct rd r = { buf + VGPU_CKPT_HDR_BYTES, len - VGPU_CKPT_HDR_BYTES, 0, 0 };
	struct model m = { 0 };
	uint64_t last_end = 0;
	uint32_t nrec = 0, stage = 0;
	int rc = 0, ended = 0;

	while (r.off < r.n) {
		size_t at = r.off + VGPU_CKPT_HDR_BYTES;
		uint32_t type = rd_u32(&r), zero = rd_u32(&r);
		uint64_t blen = rd_u64(&r);
		if (r.bad || zero || blen > r.n - r.off) {
			rc = fail(why, cap, -EPROTO, "record at offset %zu: %s", at,
				  r.bad ? "truncated header" : zero ? "reserved field not zero" :
				  "length runs past the end of the file");
			goto out;
		}
		if (ended) {
			rc = fail(why, cap, -EPROTO, "record at offset %zu follows the end record", at);
			goto out;
		}
		struct rd b = { r.p + r.off, (size_t)blen, 0, 0 };
		struct item it = { .type = type, .owner = NO_SLOT };
		r.off += (size_t)blen;
		/* records come in a fixed order: zone, slots, handles by type, allocations, end */
		if ((nrec == 0) != (type == R_ZONE) || (nrec == 1) != (type == R_SLOTS) ||
		    (type >= R_CTX && type <= R_ALLOC && type < stage) || type < R_ZONE || type > R_END) {
			rc = fail(why, cap, -EPROTO, "record at offset %zu: type %u out of order or unknown", at, type);
			goto out;
		}
		if (type >= R_CTX)
			stage = type;
		nrec++;
		switch (type) {
		case R_ZONE: {
			struct vgpu_ckpt_meta z = { 0 };
			uint64_t key;
			if (zone_rec(&b, &z, &key) < 0) {
				rc = fail(why, cap, -EPROTO, "zone record at offset %zu is malformed", at);
				goto out;
			}
			if (meta) {
				uint32_t backend = meta->backend;
				*meta = z;
				meta->backend = backend;
			}
			m.used = z.slots;
			m.type = calloc(m.used ? m.used : 1, 1);
			m.gen = calloc(m.used ? m.used : 1, 4);
			m.dev = calloc(m.used ? m.used : 1, 4);
			if (!m.type || !m.gen || !m.dev) {
				rc = fail(why, cap, -ENOMEM, "out of memory for %u handle slots", m.used);
				goto out;
			}
			it.base = key;
			break;
		}
		case R_SLOTS:
			if (rd_u32(&b) != m.used || b.n != 4 + 4ull * m.used) {
				rc = fail(why, cap, -EPROTO, "slots record at offset %zu does not list the zone's %u slots", at, m.used);
				goto out;
			}
			for (uint32_t i = 0; i < m.used; i++)
				if ((m.gen[i] = rd_u32(&b)) == 0) {
					rc = fail(why, cap, -EPROTO, "slot %u has generation 0", i);
					goto out;
				}
			break;
		case R_CTX:
			it.slot = rd_u32(&b); it.a = rd_u32(&b); it.b = rd_u32(&b); it.size = rd_u32(&b);
			if (b.bad || b.off != b.n || it.slot >= m.used || m.type[it.slot] || it.a > 1 ||
			    it.b >= VGPU_ZONE_MAX_DEVICES) {
				rc = fail(why, cap, -EPROTO, "context record at offset %zu is malformed or names a bad slot/device", at);
				goto out;
			}
			m.type[it.slot] = VGPU_H_CONTEXT;
			m.dev[it.slot] = (int32_t)it.b;
			break;
		case R_MODULE:
			it.slot = rd_u32(&b); it.owner = rd_u32(&b); it.len = rd_u64(&b);
			it.data = b.p + b.off;
			if (b.bad || it.len == 0 || it.len > VGPU_CKPT_MAX_IMAGE || it.len != b.n - b.off ||
			    it.slot >= m.used || m.type[it.slot] || (it.owner != NO_SLOT && !slot_is(&m, it.owner, VGPU_H_CONTEXT))) {
				rc = fail(why, cap, -EPROTO, "module record at offset %zu is malformed or names a bad slot", at);
				goto out;
			}
			m.type[it.slot] = VGPU_H_MODULE;
			break;
		case R_FUNC:
			it.slot = rd_u32(&b); it.owner = rd_u32(&b); it.len = rd_u32(&b);
			it.data = b.p + b.off;
			if (b.bad || it.len == 0 || it.len > VGPU_CKPT_NAME_MAX || it.len != b.n - b.off ||
			    memchr(it.data, 0, it.len) || it.slot >= m.used || m.type[it.slot] ||
			    !slot_is(&m, it.owner, VGPU_H_MODULE)) {
				rc = fail(why, cap, -EPROTO, "function record at offset %zu is malformed or names a bad slot", at);
				goto out;
			}
			m.type[it.slot] = VGPU_H_FUNCTION;
			break;
		case R_STREAM:
		case R_EVENT:
			it.slot = rd_u32(&b); it.owner = rd_u32(&b); it.a = rd_u32(&b);
			if (type == R_STREAM)
				it.b = rd_u32(&b);
			if (b.bad || b.off != b.n || it.slot >= m.used || m.type[it.slot] ||
			    (it.owner != NO_SLOT && !slot_is(&m, it.owner, VGPU_H_CONTEXT)) ||
			    it.a & ~(type == R_STREAM ? (uint32_t)CU_STREAM_NON_BLOCKING :
				     (uint32_t)(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING))) {
				rc = fail(why, cap, -EPROTO, "%s record at offset %zu is malformed or names a bad slot",
					  type == R_STREAM ? "stream" : "event", at);
				goto out;
			}
			m.type[it.slot] = type == R_STREAM ? VGPU_H_STREAM : VGPU_H_EVENT;
			break;
		case R_ALLOC:
			it.base = rd_u64(&b); it.size = rd_u64(&b); it.owner = rd_u32(&b); it.a = rd_u32(&b);
			it.data = b.p + b.off;
			it.len = b.n - b.off;
			if (b.bad || it.a || it.size == 0 || it.size != it.len || it.base + it.size < it.base ||
			    it.base < last_end || it.base < SPAN_ALIGN || it.base + it.size > (1ull << 47) ||
			    (it.owner != NO_SLOT && !slot_is(&m, it.owner, VGPU_H_CONTEXT))) {
				rc = fail(why, cap, -EPROTO, "allocation record at offset %zu is malformed, out of order, "
					  "overlaps the one before it or lies outside user address space", at);
				goto out;
			}
			last_end = it.base + it.size;
			if (meta) {
				meta->allocs++;
				meta->mem_bytes += it.size;
			}
			break;
		case R_END:
			if (rd_u32(&b) != nrec - 1 || b.n != 4) {
				rc = fail(why, cap, -EPROTO, "end record at offset %zu does not count the %u records before it", at, nrec - 1);
				goto out;
			}
			ended = 1;
			break;
		}
		if (type >= R_CTX && type <= R_EVENT && meta)
			meta->handles++;
		if (apply && type != R_END && (rc = apply(actx, &m, &it, why, cap)) < 0)
			goto out;
	}
	if (!ended)
		rc = fail(why, cap, -EPROTO, "the file ends without its end record (truncated?)");
out:
	free(m.type);
	free(m.gen);
	free(m.dev);
	return rc;
}

static int hdr_check(const uint8_t *buf, size_t len, uint64_t file_len, uint32_t *crc, uint32_t *backend,
		     char *why, size_t cap);

int vgpu_ckpt_check(const uint8_t *buf, size_t len, struct vgpu_ckpt_meta *meta, char *why, size_t cap)
{
	struct vgpu_ckpt_meta tmp;
	uint32_t crc, backend;

	if (!meta)
		meta = &tmp;
	memset(meta, 0, sizeof(*meta));
	int rc = hdr_check(buf, len, len, &crc, &backend, why, cap);
	if (rc < 0)
		return rc;
	uint32_t got = vgpu_crc32c(0, buf + VGPU_CKPT_HDR_BYTES, len - VGPU_CKPT_HDR_BYTES);
	if (got != crc)
		return fail(why, cap, -EPROTO, "checksum mismatch (file says 0x%08x, contents give 0x%08x): corrupted", crc, got);
	meta->backend = backend;
	rc = parse(buf, len, meta, NULL, NULL, why, cap);
	meta->file_bytes = len;
	return rc;
}

/* Header checks shared by check and peek (the payload length against the file's). */
static int hdr_check(const uint8_t *buf, size_t len, uint64_t file_len, uint32_t *crc, uint32_t *backend,
		     char *why, size_t cap)
{
	uint32_t version, hdr_bytes;
	uint64_t payload;
	if (len < VGPU_CKPT_HDR_BYTES || memcmp(buf, VGPU_CKPT_MAGIC, 8))
		return fail(why, cap, -EINVAL, "not a vgpu checkpoint (no %s header)", VGPU_CKPT_MAGIC);
	memcpy(&version, buf + 8, 4);
	memcpy(&hdr_bytes, buf + 12, 4);
	memcpy(&payload, buf + 16, 8);
	memcpy(crc, buf + 24, 4);
	memcpy(backend, buf + 28, 4);
	if (version != VGPU_CKPT_VERSION || hdr_bytes != VGPU_CKPT_HDR_BYTES)
		return fail(why, cap, -EPROTO, "checkpoint format version %u (header %u bytes); this proxy reads version %u",
			    version, hdr_bytes, VGPU_CKPT_VERSION);
	for (unsigned i = 32; i < VGPU_CKPT_HDR_BYTES; i++)
		if (buf[i])
			return fail(why, cap, -EPROTO, "reserved header byte %u is not zero", i);
	if (payload != file_len - VGPU_CKPT_HDR_BYTES)
		return fail(why, cap, -EPROTO, "the header announces %llu bytes after it, the file has %llu (truncated or extended)",
			    (unsigned long long)payload, (unsigned long long)(file_len - VGPU_CKPT_HDR_BYTES));
	if (*backend != VGPU_BACKEND_CUDA && *backend != VGPU_BACKEND_SIM)
		return fail(why, cap, -EPROTO, "unknown backend kind %u", *backend);
	return 0;
}

int vgpu_ckpt_peek(int fd, struct vgpu_ckpt_meta *meta, char *why, size_t cap)
{
	uint8_t b[VGPU_CKPT_HDR_BYTES + 16 + 4096];
	struct stat st;
	uint32_t crc, backend;
	memset(meta, 0, sizeof(*meta));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return fail(why, cap, -EINVAL, "the checkpoint is not a regular file");
	ssize_t n = pread(fd, b, sizeof(b), 0);
	if (n < 0)
		return fail(why, cap, -errno, "cannot read the checkpoint: %s", strerror(errno));
	int rc = hdr_check(b, (size_t)n, (uint64_t)st.st_size, &crc, &backend, why, cap);
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
	meta->file_bytes = (uint64_t)st.st_size;
	return 0;
}

int vgpu_ckpt_load(int fd, uint8_t **out, size_t *outlen, struct vgpu_ckpt_meta *meta, char *why, size_t cap)
{
	struct stat st;
	*out = NULL;
	*outlen = 0;
	if (fstat(fd, &st) < 0)
		return fail(why, cap, -errno, "cannot stat the checkpoint: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(why, cap, -EINVAL, "the checkpoint is not a regular file");
	if ((uint64_t)st.st_size > VGPU_CKPT_MAX_BYTES)
		return fail(why, cap, -EFBIG, "checkpoint of %lld bytes is larger than the %llu this proxy reads",
			    (long long)st.st_size, (unsigned long long)VGPU_CKPT_MAX_BYTES);
	size_t len = (size_t)st.st_size, got = 0;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return fail(why, cap, -ENOMEM, "out of memory reading a %zu-byte checkpoint", len);
	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int rc = vgpu_ckpt_check(buf, got, meta, why, cap);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = got;
	return 0;
}

/* ---------------------------------------------------------------- address ranges */

/* The granule-aligned ranges the allocations need, merged (allocations share granules). */
struct spans { struct vgpu_ckpt_span *v; uint32_t n, cap; };

static int spans_apply(void *ctx, const struct model *m, const struct item *it, char *why, size_t cap)
{
	struct spans *s = ctx;
	(void)m;
	if (it->type != R_ALLOC)
		return 0;
	uint64_t lo = it->base & ~(SPAN_ALIGN - 1), hi = (it->base + it->size + SPAN_ALIGN - 1) & ~(SPAN_ALIGN - 1);
	if (s->n && lo <= s->v[s->n - 1].base + s->v[s->n - 1].size) {
		struct vgpu_ckpt_span *l = &s->v[s->n - 1];
		if (hi > l->base + l->size)
			l->size = hi - l->base;
		return 0;
	}
	if (s->n == s->cap) {
		uint32_t nc = s->cap ? s->cap * 2 : 16;
		struct vgpu_ckpt_span *nv = realloc(s->v, nc * sizeof(*nv));
		if (!nv)
			return fail(why, cap, -ENOMEM, "out of memory");
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = (struct vgpu_ckpt_span){ lo, hi - lo, 0, 0 };
	return 0;
}

static struct spans held;   /* reserved before the backend loads (one restore per worker) */

int vgpu_ckpt_reserve(int fd, char *why, size_t cap)
{
	struct spans s = { 0 };
	struct stat st;
	uint64_t off = VGPU_CKPT_HDR_BYTES, last_end = 0;
	int rc = 0;

	/* Only the record headers and the allocations' ranges are read here, so that nothing of
	 * this process (not even the buffer the file is then read into) takes those addresses
	 * first; vgpu_ckpt_load checks the whole file afterwards. */
	if (fstat(fd, &st) < 0)
		return fail(why, cap, -errno, "cannot stat the checkpoint: %s", strerror(errno));
	while (off + 16 <= (uint64_t)st.st_size) {
		uint8_t h[32];
		if (pread(fd, h, sizeof(h), (off_t)off) < 16)
			break;
		uint32_t type;
		uint64_t blen;
		memcpy(&type, h, 4);
		memcpy(&blen, h + 8, 8);
		if (blen > (uint64_t)st.st_size - off - 16)
			break;   /* malformed: vgpu_ckpt_load says where */
		if (type == R_ALLOC && blen >= 24) {
			struct item it = { .type = R_ALLOC };
			memcpy(&it.base, h + 16, 8);
			memcpy(&it.size, h + 24, 8);
			if (it.size == 0 || it.base < last_end || it.base + it.size < it.base ||
			    it.base < SPAN_ALIGN || it.base + it.size > (1ull << 47))
				break;
			last_end = it.base + it.size;
			if ((rc = spans_apply(&s, NULL, &it, why, cap)) < 0) {
				free(s.v);
				return rc;
			}
		}
		off += 16 + blen;
	}
	for (uint32_t i = 0; i < s.n; i++) {
		void *p = mmap((void *)(uintptr_t)s.v[i].base, s.v[i].size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED || (uint64_t)(uintptr_t)p != s.v[i].base) {
			if (p != MAP_FAILED)
				munmap(p, s.v[i].size);
			rc = fail(why, cap, -EADDRINUSE, "device addresses [0x%llx, +0x%llx) are in use in this worker; "
				  "the zone's pointers cannot keep their values here",
				  (unsigned long long)s.v[i].base, (unsigned long long)s.v[i].size);
			for (uint32_t j = 0; j < i; j++)
				munmap((void *)(uintptr_t)s.v[j].base, s.v[j].size);
			free(s.v);
			return rc;
		}
	}
	held = s;
	return 0;
}

void vgpu_ckpt_unreserve(void)
{
	for (uint32_t i = 0; i < held.n; i++)
		munmap((void *)(uintptr_t)held.v[i].base, held.v[i].size);
	free(held.v);
	memset(&held, 0, sizeof(held));
}

/* ---------------------------------------------------------------- restoring */

struct restorer {
	struct vgpu_zone *z;
	const struct vgpu_backend_fns *f;
	void **real;              /* per slot: the new real handle */
	struct vgpu_ckpt_sum *sum;
	uint64_t key;
};

static CUresult set_ctx(struct restorer *rs, uint32_t ctx_slot)
{
	if (ctx_slot == NO_SLOT)
		return CUDA_SUCCESS;
	return rs->f->cuCtxSetCurrent(rs->real[ctx_slot]);
}

/* Map a span at its old address: reserve there, create, map, allow access. */
static int span_map(struct restorer *rs, struct vgpu_ckpt_span *sp, int dev, char *why, size_t cap)
{
	const struct vgpu_backend_fns *f = rs->f;
	CUdeviceptr got = 0;
	CUmemGenericAllocationHandle h = 0;
	CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				     .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev } };
	CUmemAccessDesc acc = { .location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE };
	CUresult r;

	/* give the placeholder back to the driver, which takes the same range at once */
	munmap((void *)(uintptr_t)sp->base, sp->size);
	if ((r = f->cuMemAddressReserve(&got, sp->size, 0, sp->base, 0)) != CUDA_SUCCESS || got != sp->base) {
		if (r == CUDA_SUCCESS)
			f->cuMemAddressFree(got, sp->size);
		return fail(why, cap, -EADDRINUSE, "the driver would not give back device addresses [0x%llx, +0x%llx) "
			    "(CUresult %d)", (unsigned long long)sp->base, (unsigned long long)sp->size, (int)r);
	}
	if ((r = f->cuMemCreate(&h, sp->size, &prop, 0)) != CUDA_SUCCESS) {
		f->cuMemAddressFree(got, sp->size);
		return fail(why, cap, -ENOMEM, "cannot allocate %llu bytes of device memory (CUresult %d)",
			    (unsigned long long)sp->size, (int)r);
	}
	if ((r = f->cuMemMap(sp->base, sp->size, 0, h, 0)) != CUDA_SUCCESS ||
	    (r = f->cuMemSetAccess(sp->base, sp->size, &acc, 1)) != CUDA_SUCCESS) {
		f->cuMemRelease(h);
		f->cuMemAddressFree(got, sp->size);
		return fail(why, cap, -EIO, "cannot map device memory at 0x%llx (CUresult %d)",
			    (unsigned long long)sp->base, (int)r);
	}
	sp->handle = h;
	return 0;
}

static int restore_apply(void *ctx, const struct model *m, const struct item *it, char *why, size_t cap)
{
	struct restorer *rs = ctx;
	const struct vgpu_backend_fns *f = rs->f;
	struct vgpu_zone *z = rs->z;
	void *real = NULL;
	const void *owner = NULL;
	unsigned htype = 0;
	CUresult r = CUDA_SUCCESS;
	int rc;

	switch (it->type) {
	case R_ZONE:
		rs->key = it->base;
		return 0;
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
		} else {
			if (!f->cuCtxCreate_v2 || (r = f->cuCtxCreate_v2(&c, (unsigned)it->size, (CUdevice)it->b)))
				break;
		}
		real = c;
		break;
	}
	case R_MODULE: {
		CUmodule mod = NULL;
		htype = VGPU_H_MODULE;
		owner = it->owner != NO_SLOT ? rs->real[it->owner] : NULL;
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
		if ((r = set_ctx(rs, it->owner)) || !f->cuEventCreate || (r = f->cuEventCreate(&e, it->a)))
			break;
		real = e;
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
		int dev = it->owner != NO_SLOT ? m->dev[it->owner] : 0;
		if ((r = set_ctx(rs, it->owner)))
			break;
		if (!ck->span[s].handle && (rc = span_map(rs, &ck->span[s], dev, why, cap)) < 0)
			return rc;
		for (uint64_t done = 0; done < it->size; done += COPY_STEP) {
			size_t k = it->size - done < COPY_STEP ? (size_t)(it->size - done) : COPY_STEP;
			if ((r = f->cuMemcpyHtoD_v2((CUdeviceptr)(it->base + done), it->data + done, k)))
				break;
		}
		if (r)
			break;
		uint64_t reserved = 0;
		if ((rc = vgpu_zone_dptr_add_owned(z, it->base, it->size,
						   it->owner != NO_SLOT ? rs->real[it->owner] : NULL, &reserved)) < 0)
			return fail(why, cap, rc, "cannot record the allocation at 0x%llx", (unsigned long long)it->base);
		ck->span[s].refs++;
		rs->sum->allocs++;
		rs->sum->mem_bytes += it->size;
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
	return 0;
}

int vgpu_ckpt_restore(const uint8_t *buf, size_t len, struct vgpu_zone *z, const struct vgpu_backend *be,
		      struct vgpu_ckpt_sum *sum, char *why, size_t why_len)
{
	const struct vgpu_backend_fns *f = &be->fn;
	struct restorer rs = { .z = z, .f = f, .sum = sum };
	memset(sum, 0, sizeof(*sum));
	if (!f->cuCtxSetCurrent || !f->cuMemAddressReserve || !f->cuMemCreate || !f->cuMemMap ||
	    !f->cuMemSetAccess || !f->cuMemRelease || !f->cuMemAddressFree || !f->cuMemUnmap || !f->cuMemcpyHtoD_v2)
		return fail(why, why_len, -EOPNOTSUPP, "the driver lacks an entry point restoring needs");
	/* the ranges reserved before the backend loaded become the zone's restored spans */
	z->ck.span = held.v;
	z->ck.nspan = held.n;
	memset(&held, 0, sizeof(held));
	int rc = parse(buf, len, NULL, restore_apply, &rs, why, why_len);
	pthread_mutex_lock(&z->lock);
	vgpu_htab_restore_end(&z->htab);
	pthread_mutex_unlock(&z->lock);
	if (rc == 0 && z->mem.limit && z->mem.used > z->mem.limit)
		rc = fail(why, why_len, -EDQUOT, "the zone holds %llu bytes of device memory; this proxy's limit for it is %llu",
			  (unsigned long long)z->mem.used, (unsigned long long)z->mem.limit);
	if (rc == 0) {
		/* spans no allocation used (none: they were computed from the allocations) */
		for (uint32_t i = 0; i < z->ck.nspan; i++)
			if (!z->ck.span[i].handle)
				munmap((void *)(uintptr_t)z->ck.span[i].base, z->ck.span[i].size);
		vgpu_zone_tables_restored(z);
	}
	f->cuCtxSetCurrent(NULL);
	free(rs.real);
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
	pthread_mutex_unlock(&z->lock);
}
