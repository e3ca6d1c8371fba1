/* SPDX-License-Identifier: MIT */
/* Module image inspection (see modimage.h): fatbin entry walking, cubin .nv.info parsing,
 * PTX .entry signature scanning, ZSTD/LZ4 decompression of compressed fatbin entries. */
#include "modimage.h"

#include <ctype.h>
#include <errno.h>
#include <lz4.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Fatbin entry header (observed layout, little-endian):
 *   0 u16 kind (1 = PTX, 2 = ELF)   2 u16 version   4 u32 header size
 *   8 u64 payload size (padded)     16 u32 compressed size (0 if not compressed)
 *   28 u32 sm arch                  40 u64 flags (0x2000 LZ4, 0x8000 ZSTD)
 *   56 u64 uncompressed size */
#define FB_KIND_PTX 1
#define FB_KIND_ELF 2
#define FB_FLAG_LZ4  0x2000ull
#define FB_FLAG_ZSTD 0x8000ull
#define MAX_DECOMPRESSED (64u << 20)   /* bounds a decompression bomb */

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

struct wrapper { uint32_t magic, version; const void *data; const void *filename; };

static int magic_is(const uint8_t *p, size_t max, uint32_t magic);

/* Whether one of the eight bytes of x is below 0x09 (NUL and the control bytes before the
 * tab) or from 0x0e to 0x1f (the control bytes after the blanks "\t\n\v\f\r"): the
 * bytes that end or spoil a PTX text. Exact as a test over the word (the classic "has a
 * byte less than n" and "has a byte between m and n" tricks, both exact for n <= 128). */
static inline int ptx_word_stops(uint64_t x)
{
	const uint64_t ones = ~0ull / 255, high = ones * 128, low7 = ones * 127;
	uint64_t below9 = (x - ones * 9) & ~x & high;
	uint64_t within = (ones * (127 + 0x20) - (x & low7)) & ~x & ((x & low7) + ones * (127 - 0x0d)) & high;
	return (below9 | within) != 0;
}

/*
 * The length of a PTX text at p, up to its NUL, within max bytes: max when there is no NUL,
 * 0 when the text is empty or a control byte other than a blank comes before its NUL (then it
 * is not text). Callers pass a bound, not the buffer's size (a program's PTX is a C string
 * and cuModuleLoadData takes no length): nothing past the NUL may be read, so memchr finds it
 * first (reading no further), and the text before it is then read eight bytes at a time, a
 * word looked at byte by byte only when it holds a byte that spoils the text. A module load
 * checks the whole text, on the proxy and again in the driver, and a kernel's runs to tens
 * of kilobytes.
 */
static size_t ptx_text_len(const uint8_t *p, size_t max)
{
	const uint8_t *nul = memchr(p, 0, max);
	if (!nul)
		return max;
	size_t n = (size_t)(nul - p);
	for (size_t i = 0; i < n;) {
		if (i + 8 <= n && !ptx_word_stops(rd64(p + i))) {
			i += 8;
			continue;
		}
		for (size_t end = i + 8 <= n ? i + 8 : n; i < end; i++)
			if (p[i] < 0x20 && !isspace(p[i]))
				return 0;
	}
	return n;
}

const void *vgpu_modimage_unwrap(const void *image)
{
	if (!image || !magic_is(image, 4, VGPU_FATBIN_WRAPPER_MAGIC))
		return image;
	struct wrapper w;
	memcpy(&w, image, sizeof(w));
	return w.data;
}

/* ELF64 extent: the furthest byte any header or section refers to. */
static int elf_size(const uint8_t *p, size_t max, size_t *len)
{
	if (max < 64 || p[4] != 2 /* ELFCLASS64 */ || p[5] != 1 /* little-endian */)
		return -EINVAL;
	uint64_t phoff = rd64(p + 0x20), shoff = rd64(p + 0x28);
	uint16_t phentsize = rd16(p + 0x36), phnum = rd16(p + 0x38);
	uint16_t shentsize = rd16(p + 0x3a), shnum = rd16(p + 0x3c);
	uint64_t end = 64;
	if (phnum) {
		if (phentsize < 56 || phoff > max || (uint64_t)phnum * phentsize > max - phoff)
			return -EINVAL;
		end = phoff + (uint64_t)phnum * phentsize > end ? phoff + (uint64_t)phnum * phentsize : end;
	}
	if (shnum) {
		if (shentsize < 64 || shoff > max || (uint64_t)shnum * shentsize > max - shoff)
			return -EINVAL;
		uint64_t e = shoff + (uint64_t)shnum * shentsize;
		end = e > end ? e : end;
		for (uint32_t i = 0; i < shnum; i++) {
			const uint8_t *sh = p + shoff + (uint64_t)i * shentsize;
			uint32_t type = rd32(sh + 4);
			uint64_t off = rd64(sh + 0x18), size = rd64(sh + 0x20);
			if (type == 8 /* SHT_NOBITS */ || type == 0)
				continue;
			if (off > max || size > max - off)
				return -EINVAL;
			end = off + size > end ? off + size : end;
		}
	}
	if (end > max)
		return -EINVAL;
	*len = (size_t)end;
	return 0;
}

static int fatbin_size(const uint8_t *p, size_t max, size_t *len)
{
	if (max < 16)
		return -EINVAL;
	uint16_t hs = rd16(p + 6);
	uint64_t fs = rd64(p + 8);
	if (hs < 16 || hs > max || fs > max - hs)
		return -EINVAL;
	*len = hs + (size_t)fs;
	return 0;
}

/* Whether the image starts with the 4 bytes of magic (little-endian). Reads byte by byte so
 * that a short NUL-terminated text of unknown length is never over-read: every magic byte is
 * non-zero, so the next byte is only read after a non-NUL one. */
static int magic_is(const uint8_t *p, size_t max, uint32_t magic)
{
	for (unsigned i = 0; i < 4; i++)
		if (i >= max || p[i] != ((magic >> (8 * i)) & 0xff))
			return 0;
	return 1;
}

int vgpu_modimage_size(const void *image, size_t max, size_t *len)
{
	const uint8_t *p = image;
	if (!p || !len || max < 1)
		return -EINVAL;
	uint32_t magic = magic_is(p, max, VGPU_FATBIN_WRAPPER_MAGIC) ? VGPU_FATBIN_WRAPPER_MAGIC :
	                 magic_is(p, max, VGPU_FATBIN_MAGIC) ? VGPU_FATBIN_MAGIC :
	                 magic_is(p, max, 0x464c457fu) ? 0x464c457fu : 0;
	if (magic == VGPU_FATBIN_WRAPPER_MAGIC)
		return -EINVAL;     /* holds a pointer: only vgpu_modimage_unwrap may follow it */
	if (magic == VGPU_FATBIN_MAGIC) {
		int rc = fatbin_size(p, max, len);
		return rc ? rc : VGPU_MODIMAGE_FATBIN;
	}
	if (magic == 0x464c457fu) {
		int rc = elf_size(p, max, len);
		return rc ? rc : VGPU_MODIMAGE_CUBIN;
	}
	/* PTX: text up to a NUL, starting (after blanks) with a directive or a comment */
	size_t n = ptx_text_len(p, max);
	if (n == 0 || n == max)
		return -EINVAL;     /* no NUL, an empty text or a control byte that is not a blank */
	const uint8_t *q0 = p;
	while (isspace(*q0))
		q0++;
	if (*q0 != '.' && *q0 != '/')
		return -EINVAL;
	*len = n + 1;
	return VGPU_MODIMAGE_PTX;
}

/* One fatbin entry, validated against the image bounds. */
struct fb_entry {
	uint16_t kind;
	uint32_t arch;
	uint64_t flags, usize;
	const uint8_t *payload;
	size_t plen;      /* bytes of (possibly compressed) payload */
};

/* Iterates entries: *off is the cursor (start at 0). Returns 1 with e filled, 0 at the end,
 * -EINVAL when an entry runs out of bounds. */
static int fb_next(const uint8_t *p, size_t len, size_t *off, struct fb_entry *e)
{
	size_t hs = rd16(p + 6);
	size_t end = hs + (size_t)rd64(p + 8);
	if (end > len)
		return -EINVAL;
	size_t o = *off ? *off : hs;
	if (o >= end)
		return 0;
	if (end - o < 16)
		return -EINVAL;
	const uint8_t *h = p + o;
	uint32_t ehs = rd32(h + 4);
	uint64_t psize = rd64(h + 8);
	if (ehs < 16 || ehs > end - o || psize > end - o - ehs)
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	e->kind = rd16(h);
	if (ehs >= 64) {
		e->arch = rd32(h + 28);
		e->flags = rd64(h + 40);
		e->usize = rd64(h + 56);
		uint32_t csize = rd32(h + 16);
		e->plen = csize && csize <= psize && (e->flags & (FB_FLAG_LZ4 | FB_FLAG_ZSTD)) ? csize : psize;
	} else {
		e->plen = psize;
	}
	e->payload = h + ehs;
	*off = o + ehs + psize;
	return 1;
}

/* The entry's payload, decompressed: malloc'd with a NUL appended; *n excludes the NUL. */
static int fb_payload(const struct fb_entry *e, char **out, size_t *n)
{
	char *buf;
	size_t sz;
	if (e->flags & (FB_FLAG_LZ4 | FB_FLAG_ZSTD)) {
		if (e->usize == 0 || e->usize > MAX_DECOMPRESSED || e->plen > INT32_MAX)
			return -EINVAL;
		buf = malloc(e->usize + 1);
		if (!buf)
			return -ENOMEM;
		if (e->flags & FB_FLAG_ZSTD) {
			size_t r = ZSTD_decompress(buf, e->usize, e->payload, e->plen);
			if (ZSTD_isError(r)) {
				free(buf);
				return -EINVAL;
			}
			sz = r;
		} else {
			int r = LZ4_decompress_safe((const char *)e->payload, buf, (int)e->plen, (int)e->usize);
			if (r < 0) {
				free(buf);
				return -EINVAL;
			}
			sz = (size_t)r;
		}
	} else {
		buf = malloc(e->plen + 1);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, e->payload, e->plen);
		sz = e->plen;
	}
	buf[sz] = 0;
	*out = buf;
	*n = sz;
	return 0;
}

int vgpu_modimage_has_ptx(const void *image, size_t len)
{
	size_t real;
	int kind = vgpu_modimage_size(image, len, &real);
	if (kind < 0)
		return kind;
	if (kind != VGPU_MODIMAGE_FATBIN)
		return kind == VGPU_MODIMAGE_PTX;
	size_t off = 0;
	struct fb_entry e;
	int rc;
	while ((rc = fb_next(image, real, &off, &e)) > 0)
		if (e.kind == FB_KIND_PTX)
			return 1;
	return rc < 0 ? rc : 0;
}

int vgpu_modimage_ptx(const void *image, size_t len, char **ptx)
{
	const uint8_t *p = image;
	*ptx = NULL;
	size_t real;
	int kind = vgpu_modimage_size(image, len, &real);
	if (kind < 0)
		return kind;
	if (kind == VGPU_MODIMAGE_PTX) {
		char *s = malloc(real);
		if (!s)
			return -ENOMEM;
		memcpy(s, p, real);
		*ptx = s;
		return 0;
	}
	if (kind == VGPU_MODIMAGE_CUBIN)
		return -ENOEXEC;
	/* fatbin: the PTX entry with the lowest architecture */
	size_t off = 0;
	struct fb_entry e, best;
	int found = 0, rc;
	while ((rc = fb_next(p, real, &off, &e)) > 0)
		if (e.kind == FB_KIND_PTX && (!found || e.arch < best.arch)) {
			best = e;
			found = 1;
		}
	if (rc < 0)
		return rc;
	if (!found)
		return -ENOEXEC;
	size_t n;
	rc = fb_payload(&best, ptx, &n);
	if (rc)
		return rc;
	/* the payload may be padded with NULs; the text must be printable up to there */
	size_t tl = strlen(*ptx);
	for (size_t i = 0; i < tl; i++)
		if ((unsigned char)(*ptx)[i] < 0x20 && !isspace((unsigned char)(*ptx)[i])) {
			free(*ptx);
			*ptx = NULL;
			return -EINVAL;
		}
	return 0;
}

void vgpu_modimage_free_kernels(struct vgpu_kernel_info *k, size_t n)
{
	if (!k)
		return;
	for (size_t i = 0; i < n; i++) {
		free(k[i].name);
		free(k[i].params);
	}
	free(k);
}

static int kernels_add(struct vgpu_kernel_info **arr, size_t *n, const char *name, size_t nlen)
{
	struct vgpu_kernel_info *a = realloc(*arr, sizeof(*a) * (*n + 1));
	if (!a)
		return -ENOMEM;
	*arr = a;
	memset(&a[*n], 0, sizeof(a[*n]));
	if (nlen > VGPU_MODIMAGE_NAME_MAX)
		nlen = VGPU_MODIMAGE_NAME_MAX;
	if (!(a[*n].name = strndup(name, nlen)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int kparam_set(struct vgpu_kernel_info *k, uint32_t ord, uint32_t off, uint32_t size)
{
	if (ord >= 4096 || size > 32768 || off > 65536)
		return -EINVAL;
	if (ord >= k->nparams) {
		struct vgpu_kparam *p = realloc(k->params, sizeof(*p) * (ord + 1));
		if (!p)
			return -ENOMEM;
		memset(p + k->nparams, 0, sizeof(*p) * (ord + 1 - k->nparams));
		k->params = p;
		k->nparams = ord + 1;
	}
	k->params[ord].offset = off;
	k->params[ord].size = size;
	if (off + size > k->param_bytes)
		k->param_bytes = off + size;
	return 0;
}

/* PTX: ".entry name ( .param [.align N] .type pname[N], ... )" */
static const char *skip_ws(const char *s, const char *e)
{
	for (;;) {
		while (s < e && isspace((unsigned char)*s))
			s++;
		if (e - s >= 2 && s[0] == '/' && s[1] == '/') {
			while (s < e && *s != '\n')
				s++;
		} else if (e - s >= 2 && s[0] == '/' && s[1] == '*') {
			const char *c = s + 2;
			while (e - c >= 2 && !(c[0] == '*' && c[1] == '/'))
				c++;
			s = e - c >= 2 ? c + 2 : e;
		} else {
			return s;
		}
	}
}

static size_t word_len(const char *s, const char *e)
{
	size_t n = 0;
	while (s + n < e && (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '$' ||
	                     s[n] == '.' || s[n] == '%'))
		n++;
	return n;
}

static uint32_t ptx_type_size(const char *t, size_t n)
{
	if (n < 3)
		return 0;
	unsigned bits = (unsigned)atoi(t + 2);
	if (!strncmp(t, ".pred", 5) && n == 5)
		return 1;
	if (strchr("busf", t[1]) && (bits == 8 || bits == 16 || bits == 32 || bits == 64))
		return bits / 8;
	return 0;
}

static int ptx_kernels(const char *s, size_t len, struct vgpu_kernel_info **arr, size_t *n)
{
	const char *e = s + len;
	static const char key[] = ".entry";
	for (const char *q = s; q < e; ) {
		const char *hit = memmem(q, (size_t)(e - q), key, sizeof(key) - 1);
		if (!hit)
			break;
		q = hit + sizeof(key) - 1;
		if (q < e && !isspace((unsigned char)*q))
			continue;
		q = skip_ws(q, e);
		size_t nl = word_len(q, e);
		if (!nl)
			return -EINVAL;
		int rc = kernels_add(arr, n, q, nl);
		if (rc)
			return rc;
		struct vgpu_kernel_info *k = &(*arr)[*n - 1];
		q = skip_ws(q + nl, e);
		if (q >= e || *q != '(')
			continue;       /* no parameters */
		q++;
		uint32_t cursor = 0, ord = 0;
		for (;;) {
			q = skip_ws(q, e);
			if (q >= e)
				return -EINVAL;
			if (*q == ')')
				break;
			if (*q == ',') {
				q++;
				continue;
			}
			uint32_t align = 0, tsize = 0, count = 1;
			/* ".param" then attributes, type, name, optional [N] */
			for (;;) {
				q = skip_ws(q, e);
				size_t wl = word_len(q, e);
				if (!wl)
					return -EINVAL;
				if (wl == 6 && !memcmp(q, ".align", 6)) {
					q = skip_ws(q + wl, e);
					align = (uint32_t)strtoul(q, NULL, 10);
					q += word_len(q, e);
					continue;
				}
				if (*q == '.') {
					uint32_t ts = ptx_type_size(q, wl);
					if (ts)
						tsize = ts;
					q += wl;
					continue;
				}
				q += wl;       /* the name */
				break;
			}
			q = skip_ws(q, e);
			if (q < e && *q == '[') {
				count = (uint32_t)strtoul(q + 1, NULL, 10);
				const char *cb = memchr(q, ']', (size_t)(e - q));
				if (!cb)
					return -EINVAL;
				q = cb + 1;
			}
			if (!tsize || count == 0 || count > 65536)
				return -EINVAL;
			if (!align)
				align = tsize;
			if (align > 4096 || (align & (align - 1)))
				return -EINVAL;
			uint32_t off = (cursor + align - 1) & ~(align - 1);
			rc = kparam_set(k, ord++, off, tsize * count);
			if (rc)
				return rc;
			cursor = off + tsize * count;
		}
	}
	return 0;
}

/* A cubin's section headers and section-name table, bounds-checked once. */
struct elf_view {
	size_t real;                 /* the image's measured length */
	uint64_t shoff, stroff, strsize;
	uint16_t shentsize, shnum;
};

static int elf_view(const uint8_t *p, size_t len, struct elf_view *v)
{
	if (elf_size(p, len, &v->real))
		return -EINVAL;
	v->shoff = rd64(p + 0x28);
	v->shentsize = rd16(p + 0x3a);
	v->shnum = rd16(p + 0x3c);
	uint16_t shstrndx = rd16(p + 0x3e);
	if (shstrndx >= v->shnum)
		return -EINVAL;
	const uint8_t *strsh = p + v->shoff + (uint64_t)shstrndx * v->shentsize;
	v->stroff = rd64(strsh + 0x18);
	v->strsize = rd64(strsh + 0x20);
	return v->stroff > v->real || v->strsize > v->real - v->stroff ? -EINVAL : 0;
}

static const uint8_t *elf_section(const uint8_t *p, const struct elf_view *v, uint32_t i)
{
	return p + v->shoff + (uint64_t)i * v->shentsize;
}

/* cubin: .nv.info.<kernel> sections, EIATTR_KPARAM_INFO (0x17) and CBANK_PARAM_SIZE (0x19). */
static int elf_kernels(const uint8_t *p, size_t len, struct vgpu_kernel_info **arr, size_t *n)
{
	struct elf_view v;
	if (elf_view(p, len, &v))
		return -EINVAL;
	size_t real = v.real;
	uint64_t stroff = v.stroff, strsize = v.strsize;
	for (uint32_t i = 0; i < v.shnum; i++) {
		const uint8_t *sh = elf_section(p, &v, i);
		uint32_t nameoff = rd32(sh);
		uint64_t off = rd64(sh + 0x18), size = rd64(sh + 0x20);
		if (nameoff >= strsize)
			return -EINVAL;
		const char *nm = (const char *)p + stroff + nameoff;
		size_t nmax = strsize - nameoff;
		size_t nlen = strnlen(nm, nmax);
		if (nlen == nmax)
			return -EINVAL;
		if (nlen <= 9 || memcmp(nm, ".nv.info.", 9))
			continue;
		if (off > real || size > real - off)
			return -EINVAL;
		int rc = kernels_add(arr, n, nm + 9, nlen - 9);
		if (rc)
			return rc;
		struct vgpu_kernel_info *k = &(*arr)[*n - 1];
		const uint8_t *r = p + off, *end = p + off + size;
		uint32_t cbank = 0;
		while (end - r >= 2) {
			uint8_t fmt = r[0], attr = r[1];
			if (fmt == 4) {            /* EIFMT_SVAL: u16 size + payload */
				if (end - r < 4)
					return -EINVAL;
				uint16_t sz = rd16(r + 2);
				if (sz > end - r - 4)
					return -EINVAL;
				if (attr == 0x17 && sz >= 12) {
					uint32_t fl = rd32(r + 12);
					rc = kparam_set(k, rd16(r + 8), rd16(r + 10), (fl >> 18) & 0x3fff);
					if (rc)
						return rc;
				}
				r += 4 + sz;
			} else if (fmt == 3) {     /* EIFMT_HVAL: u16 value */
				if (end - r < 4)
					return -EINVAL;
				if (attr == 0x19)
					cbank = rd16(r + 2);
				r += 4;
			} else if (fmt == 2) {     /* EIFMT_BVAL */
				r += 4;
			} else {                   /* EIFMT_NVAL */
				r += 4;
			}
		}
		if (cbank > k->param_bytes)
			k->param_bytes = cbank;
	}
	return 0;
}

/*
 * Every entry of a fatbin is the same module for another target: the payload (malloc'd,
 * decompressed) of its first ELF entry, else of its first PTX. Returns 1 for ELF, 0 for
 * PTX (NUL-terminated), -EINVAL when it has neither or is malformed, -ENOMEM.
 */
static int fb_first_module(const uint8_t *p, size_t real, char **buf, size_t *bn)
{
	size_t off = 0;
	struct fb_entry e, elf, ptx;
	int have_elf = 0, have_ptx = 0, rc;
	while ((rc = fb_next(p, real, &off, &e)) > 0) {
		if (e.kind == FB_KIND_ELF && !have_elf) { elf = e; have_elf = 1; }
		if (e.kind == FB_KIND_PTX && !have_ptx) { ptx = e; have_ptx = 1; }
	}
	if (rc < 0)
		return rc;
	if (!have_elf && !have_ptx)
		return -EINVAL;
	if ((rc = fb_payload(have_elf ? &elf : &ptx, buf, bn)) < 0)
		return rc;
	return have_elf;
}

int vgpu_modimage_kernels(const void *image, size_t len, struct vgpu_kernel_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t real;
	int kind = vgpu_modimage_size(image, len, &real);
	if (kind < 0)
		return kind;
	const uint8_t *p = image;
	int rc = 0;
	if (kind == VGPU_MODIMAGE_PTX) {
		rc = ptx_kernels((const char *)p, real - 1, out, n);
	} else if (kind == VGPU_MODIMAGE_CUBIN) {
		rc = elf_kernels(p, real, out, n);
	} else {
		/* prefer an ELF entry's .nv.info; fall back to the PTX */
		char *buf;
		size_t bn;
		int elf = fb_first_module(p, real, &buf, &bn);
		if (elf < 0)
			return elf;
		rc = elf ? elf_kernels((const uint8_t *)buf, bn, out, n) : ptx_kernels(buf, strlen(buf), out, n);
		free(buf);
	}
	if (rc) {
		vgpu_modimage_free_kernels(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* ---------------------------------------------------------------- module-scope variables */

static int names_add(char ***arr, size_t *n, const char *name, size_t nlen)
{
	if (!nlen || nlen > VGPU_MODIMAGE_NAME_MAX)
		return 0;               /* not a name a call could ask for */
	if (name[0] == '$')
		return 0;               /* made by the compiler ($str: a printf format), never written */
	for (size_t i = 0; i < *n; i++)
		if (strlen((*arr)[i]) == nlen && !memcmp((*arr)[i], name, nlen))
			return 0;
	char **a = realloc(*arr, sizeof(*a) * (*n + 1));
	if (!a)
		return -ENOMEM;
	*arr = a;
	if (!(a[*n] = strndup(name, nlen)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

/*
 * PTX: statements at module scope (outside every function body) that declare a variable in
 * the .global or .const state space and are not .extern: "[.visible|.weak] .global [.align N]
 * .type name[N] [= {...}];". Opaque texture, sampler and surface references are left out.
 */
static int ptx_globals(const char *s, size_t len, char ***arr, size_t *n)
{
	const char *e = s + len;
	int depth = 0;
	for (const char *q = skip_ws(s, e); q < e; q = skip_ws(q, e)) {
		if (*q == '{' || *q == '}') {
			depth += *q == '{' ? 1 : -1;
			if (depth < 0)
				return -EINVAL;
			q++;
			continue;
		}
		size_t wl = word_len(q, e);
		if (depth > 0 || !wl) {
			q += wl ? wl : 1;
			continue;
		}
		/* one statement at module scope: its words up to ';', '{' or an initializer */
		int space = 0, ext = 0, opaque = 0;
		const char *name = NULL;
		size_t nlen = 0;
		while (q < e && *q != ';' && *q != '{' && *q != '=') {
			wl = word_len(q, e);
			if (!wl) {
				q++;
				q = skip_ws(q, e);
				continue;
			}
			if ((wl == 7 && !memcmp(q, ".global", 7)) || (wl == 6 && !memcmp(q, ".const", 6)))
				space = 1;
			else if (wl == 7 && !memcmp(q, ".extern", 7))
				ext = 1;
			else if ((wl == 7 && !memcmp(q, ".texref", 7)) || (wl == 11 && !memcmp(q, ".samplerref", 11)) ||
				 (wl == 7 && !memcmp(q, ".surfref", 7)))
				opaque = 1;
			else if (space && !name && *q != '.' && !isdigit((unsigned char)*q)) {
				name = q;
				nlen = wl;
			}
			q = skip_ws(q + wl, e);
		}
		if (q < e && *q == '=') {      /* an initializer, braces and all, up to its ';' */
			const char *sc = memchr(q, ';', (size_t)(e - q));
			q = sc ? sc : e;
		}
		if (q < e && *q == ';') {
			q++;
			if (space && !ext && !opaque && name) {
				int rc = names_add(arr, n, name, nlen);
				if (rc)
					return rc;
			}
		}
	}
	return depth ? -EINVAL : 0;
}

/* cubin: defined STT_OBJECT symbols in a .nv.global* or .nv.constant* section (file-scope
 * variables are local symbols, extern "C" ones global). */
static int elf_globals(const uint8_t *p, size_t len, char ***arr, size_t *n)
{
	struct elf_view v;
	if (elf_view(p, len, &v))
		return -EINVAL;
	size_t real = v.real;
	uint16_t shnum = v.shnum;
	uint64_t shstroff = v.stroff, shstrsize = v.strsize;
	for (uint32_t i = 0; i < shnum; i++) {
		const uint8_t *sh = elf_section(p, &v, i);
		if (rd32(sh + 4) != 2 /* SHT_SYMTAB */)
			continue;
		uint64_t off = rd64(sh + 0x18), size = rd64(sh + 0x20), ent = rd64(sh + 0x38);
		uint32_t link = rd32(sh + 0x28);
		if (ent < 24 || off > real || size > real - off || link >= shnum)
			return -EINVAL;
		const uint8_t *ssh = elf_section(p, &v, link);
		uint64_t stroff = rd64(ssh + 0x18), strsize = rd64(ssh + 0x20);
		if (stroff > real || strsize > real - stroff)
			return -EINVAL;
		for (uint64_t k = 0; k + 24 <= size; k += ent) {
			const uint8_t *sym = p + off + k;
			uint32_t nameoff = rd32(sym);
			uint8_t info = sym[4];
			uint16_t shndx = rd16(sym + 6);
			if ((info & 0xf) != 1 /* STT_OBJECT */ || (info >> 4) > 2 /* local, global, weak */ ||
			    shndx == 0 || shndx >= shnum || nameoff >= strsize)
				continue;
			const uint8_t *tsh = elf_section(p, &v, shndx);
			uint32_t tname = rd32(tsh);
			if (tname >= shstrsize)
				continue;
			const char *sec = (const char *)p + shstroff + tname;
			size_t secmax = shstrsize - tname;
			if (strnlen(sec, secmax) == secmax ||
			    (strncmp(sec, ".nv.global", 10) && strncmp(sec, ".nv.constant", 12)))
				continue;
			const char *nm = (const char *)p + stroff + nameoff;
			size_t nmax = strsize - nameoff, nl = strnlen(nm, nmax);
			if (nl == nmax)
				return -EINVAL;
			int rc = names_add(arr, n, nm, nl);
			if (rc)
				return rc;
		}
	}
	return 0;
}

void vgpu_modimage_free_names(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int vgpu_modimage_globals(const void *image, size_t len, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t real;
	int kind = vgpu_modimage_size(image, len, &real);
	if (kind < 0)
		return kind;
	const uint8_t *p = image;
	int rc;
	if (kind == VGPU_MODIMAGE_PTX) {
		rc = ptx_globals((const char *)p, real - 1, out, n);
	} else if (kind == VGPU_MODIMAGE_CUBIN) {
		rc = elf_globals(p, real, out, n);
	} else {
		char *buf;
		size_t bn;
		int elf = fb_first_module(p, real, &buf, &bn);
		if (elf < 0)
			return elf;
		rc = elf ? elf_globals((const uint8_t *)buf, bn, out, n) : ptx_globals(buf, strlen(buf), out, n);
		free(buf);
	}
	if (rc) {
		vgpu_modimage_free_names(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* ---- device code inside host objects and static libraries ---- */

/* The section of an ELF object named `want` (its bytes and length), or NULL. */
static const uint8_t *elf_named(const uint8_t *p, size_t len, const char *want, size_t *slen)
{
	struct elf_view v;
	size_t wl = strlen(want);
	if (!magic_is(p, len, 0x464c457fu) || elf_view(p, len, &v))
		return NULL;
	for (uint32_t i = 0; i < v.shnum; i++) {
		const uint8_t *sh = elf_section(p, &v, i);
		uint32_t name = rd32(sh), type = rd32(sh + 4);
		uint64_t off = rd64(sh + 0x18), size = rd64(sh + 0x20);
		if (type == 8 /* SHT_NOBITS */ || type == 0 || name >= v.strsize || v.strsize - name < wl + 1 ||
		    memcmp(p + v.stroff + name, want, wl + 1))
			continue;
		*slen = (size_t)size;   /* within the image: elf_size checked every section */
		return p + off;
	}
	return NULL;
}

int vgpu_modimage_section_fatbins(const void *section, size_t len, const char *member, vgpu_devcode_fn fn, void *ctx,
				  unsigned *count)
{
	const uint8_t *sec = section;
	for (size_t off = 0; off + 16 <= len;) {
		size_t clen;
		if (!magic_is(sec + off, len - off, VGPU_FATBIN_MAGIC) || fatbin_size(sec + off, len - off, &clen)) {
			off += 8;   /* containers are 8-byte aligned, with padding between them */
			continue;
		}
		int rc = fn(ctx, sec + off, clen, member);
		if (rc)
			return rc;
		(*count)++;
		off += (clen + 7) & ~(size_t)7;
	}
	return 0;
}

/* Each fatbin container of one object's device code, in order. */
static int object_fatbins(const uint8_t *p, size_t len, const char *member, vgpu_devcode_fn fn, void *ctx,
			  unsigned *count)
{
	size_t slen = 0;
	const uint8_t *sec = elf_named(p, len, "__nv_relfatbin", &slen);
	if (!sec)
		sec = elf_named(p, len, ".nv_fatbin", &slen);
	if (!sec)
		return 0;   /* an object with no device code */
	return vgpu_modimage_section_fatbins(sec, slen, member, fn, ctx, count);
}

int vgpu_modimage_devcode(const void *data, size_t len, vgpu_devcode_fn fn, void *ctx, unsigned *count)
{
	const uint8_t *p = data;
	static const char armag[8] = { '!', '<', 'a', 'r', 'c', 'h', '>', '\n' };
	*count = 0;
	if (!p)
		return -EINVAL;
	if (magic_is(p, len, 0x464c457fu))
		return elf_size(p, len, &(size_t){ 0 }) ? -EINVAL : object_fatbins(p, len, "", fn, ctx, count);
	if (len < sizeof(armag) || memcmp(p, armag, sizeof(armag)))
		return -EINVAL;
	/* an ar archive: 60-byte member headers (name, dates, ids, mode, decimal size, "`\n"),
	 * each member padded to an even length; "/" and "//" members are the symbol table and
	 * the long names */
	for (size_t off = sizeof(armag); off < len;) {
		char name[17], num[11];
		if (len - off < 60 || p[off + 58] != '`' || p[off + 59] != '\n')
			return -EINVAL;
		memcpy(name, p + off, 16);
		name[16] = 0;
		memcpy(num, p + off + 48, 10);
		num[10] = 0;
		char *end;
		errno = 0;
		unsigned long long msize = strtoull(num, &end, 10);
		if (errno || end == num || msize > len - off - 60)
			return -EINVAL;
		const uint8_t *m = p + off + 60;
		for (int k = 15; k >= 0 && name[k] == ' '; k--)
			name[k] = 0;
		int table = !strcmp(name, "/") || !strcmp(name, "//") || !strcmp(name, "/SYM64/");
		size_t nl = strlen(name);
		if (nl > 1 && name[nl - 1] == '/')
			name[nl - 1] = 0;   /* "foo.o/": the short name; "/123": a long one, by its offset */
		if (!table && magic_is(m, msize, 0x464c457fu)) {
			int rc = elf_size(m, msize, &(size_t){ 0 }) ? -EINVAL
								  : object_fatbins(m, msize, name, fn, ctx, count);
			if (rc)
				return rc;
		}
		off += 60 + msize + (msize & 1);
	}
	return 0;
}

void vgpu_modimage_member_label(char *buf, size_t n, const char *file, const char *member)
{
	if (member && *member)
		snprintf(buf, n, "%s(%s)", file, member);
	else
		snprintf(buf, n, "%s", file);
}

int vgpu_modimage_is_devrt(const char *ptx)
{
	static const char name[] = "__cudaCDP2LaunchDeviceV2(";
	for (const char *p = strstr(ptx, name); p; p = strstr(p + 1, name)) {
		const char *ls = p;
		while (ls > ptx && ls[-1] != '\n')
			ls--;
		if (!strncmp(ls, ".visible", 8) || !strncmp(ls, ".weak", 5))
			return 1;
	}
	return 0;
}

void *vgpu_read_file(FILE *f, size_t max, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);

	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		if (cap >= max) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
		char *nb = realloc(buf, cap * 2 + 1);
		if (!nb)
			free(buf);
		buf = nb;
		cap *= 2;
	}
	if (!buf) {
		errno = ENOMEM;
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/*
 * What the driver writes back through cuModuleLoadDataEx's options: each log (err is the
 * error log, NULL or "" when the load went well; the info log says nothing) cut to its
 * buffer and NUL-terminated, the bytes filled into its size option (0 for an empty log), and
 * a wall time of 0 ms.
 */
void vgpu_jit_write_logs(unsigned n, const CUjit_option *opts, void **vals, const char *err)
{
	size_t info_cap = 0, err_cap = 0;
	for (unsigned j = 0; opts && vals && j < n; j++) {
		if (opts[j] == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES)
			info_cap = (size_t)(uintptr_t)vals[j];
		else if (opts[j] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
			err_cap = (size_t)(uintptr_t)vals[j];
	}
	size_t err_len = err && *err && err_cap ? strnlen(err, err_cap - 1) + 1 : 0;
	for (unsigned i = 0; opts && vals && i < n; i++) {
		switch (opts[i]) {
		case CU_JIT_INFO_LOG_BUFFER:
			if (vals[i] && info_cap)
				*(char *)vals[i] = 0;
			break;
		case CU_JIT_ERROR_LOG_BUFFER:
			if (vals[i] && err_cap)
				snprintf(vals[i], err_cap, "%s", err ? err : "");
			break;
		case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
		case CU_JIT_WALL_TIME:
			vals[i] = NULL;
			break;
		case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
			vals[i] = (void *)(uintptr_t)err_len;
			break;
		default:
			break;
		}
	}
}
