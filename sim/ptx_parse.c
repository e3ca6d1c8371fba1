/* SPDX-License-Identifier: MIT */
/* PTX text → pre-decoded module: a small lexer, a symbol table with block scopes, and one
 * builder per instruction family. All text handling happens here, once, at module load. */
#include "ptx.h"
#include "ptx_ops.h"
#include "hash.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lexer -------------------------------------------------------------------------- */

enum { T_EOF, T_ID, T_INT, T_FLT32, T_FLT64, T_FLTDEC, T_STR, T_P };

struct tok {
	int t;
	int c;              /* punctuation character */
	const char *s;      /* identifier/string text (not NUL-terminated) */
	size_t n;
	uint64_t v;         /* integer value or float bits */
	double d;
	uint32_t line;
};

struct lex {
	const char *p;
	uint32_t line;
	struct tok cur, peek;
	int has_peek;
};

static int id_start(int c) { return isalpha(c) || c == '_' || c == '$' || c == '%' || c == '.'; }
static int id_char(int c) { return isalnum(c) || c == '_' || c == '$' || c == '.' || c == ':'; }

static void lex_skip(struct lex *L)
{
	for (;;) {
		while (*L->p && isspace((unsigned char)*L->p)) {
			if (*L->p == '\n')
				L->line++;
			L->p++;
		}
		if (L->p[0] == '/' && L->p[1] == '/') {
			while (*L->p && *L->p != '\n')
				L->p++;
		} else if (L->p[0] == '/' && L->p[1] == '*') {
			L->p += 2;
			while (*L->p && !(L->p[0] == '*' && L->p[1] == '/')) {
				if (*L->p == '\n')
					L->line++;
				L->p++;
			}
			if (*L->p)
				L->p += 2;
		} else {
			return;
		}
	}
}

static void lex_raw(struct lex *L, struct tok *t)
{
	lex_skip(L);
	memset(t, 0, sizeof(*t));
	t->line = L->line;
	const char *p = L->p;
	if (!*p) {
		t->t = T_EOF;
		return;
	}
	unsigned char c = (unsigned char)*p;
	if (id_start(c)) {
		const char *s = p++;
		/* ':' is part of names like L1::evict_last, but a label ends with ':'. */
		while (*p && id_char((unsigned char)*p)) {
			if (*p == ':' && p[1] != ':')
				break;
			if (*p == ':')
				p++;
			p++;
		}
		t->t = T_ID;
		t->s = s;
		t->n = (size_t)(p - s);
	} else if (isdigit(c)) {
		const char *s = p;
		if (p[0] == '0' && (p[1] == 'f' || p[1] == 'F') && isxdigit((unsigned char)p[2])) {
			t->t = T_FLT32;
			t->v = strtoull(p + 2, (char **)&p, 16);
		} else if (p[0] == '0' && (p[1] == 'd' || p[1] == 'D') && isxdigit((unsigned char)p[2])) {
			t->t = T_FLT64;
			t->v = strtoull(p + 2, (char **)&p, 16);
		} else {
			const char *q = p;
			while (isalnum((unsigned char)*q) || *q == '.')
				q++;
			int isf = 0;
			for (const char *r = p; r < q; r++)
				if (*r == '.' || ((*r == 'e' || *r == 'E') && !(p[1] == 'x' || p[1] == 'X')))
					isf = 1;
			if (isf) {
				t->t = T_FLTDEC;
				t->d = strtod(p, (char **)&p);
			} else {
				t->t = T_INT;
				if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
					t->v = strtoull(p + 2, (char **)&p, 16);
				else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
					t->v = strtoull(p + 2, (char **)&p, 2);
				else if (p[0] == '0' && isdigit((unsigned char)p[1]))
					t->v = strtoull(p, (char **)&p, 8);
				else
					t->v = strtoull(p, (char **)&p, 10);
				if (*p == 'U' || *p == 'u')
					p++;
			}
		}
		if (p == s)
			p++;
	} else if (c == '"') {
		const char *s = ++p;
		while (*p && *p != '"' && *p != '\n')
			p++;
		t->t = T_STR;
		t->s = s;
		t->n = (size_t)(p - s);
		if (*p == '"')
			p++;
	} else {
		t->t = T_P;
		t->c = c;
		p++;
	}
	L->p = p;
}

static struct tok *lex_next(struct lex *L)
{
	if (L->has_peek) {
		L->cur = L->peek;
		L->has_peek = 0;
	} else {
		lex_raw(L, &L->cur);
	}
	return &L->cur;
}

static struct tok *lex_peek(struct lex *L)
{
	if (!L->has_peek) {
		lex_raw(L, &L->peek);
		L->has_peek = 1;
	}
	return &L->peek;
}

/* Equality of NUL-terminated names, for the parser's many comparisons with instruction names
 * and their parts: inline, so that a mismatch costs a byte or two (strcmp is a call, and under
 * ASan an interceptor that checks both strings first: a quarter of the time parsing NCCL). */
static inline int name_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static int tok_is(const struct tok *t, const char *s)
{
	if (t->t != T_ID)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		if (s[i] != t->s[i])   /* (s's NUL ends it too: a token holds none) */
			return 0;
	return s[t->n] == 0;
}

static int tok_isp(const struct tok *t, int c) { return t->t == T_P && t->c == c; }

/* ---- parser state ------------------------------------------------------------------- */

enum { S_REG, S_PARAM, S_LOCAL, S_SHARED, S_GLOBAL, S_DYNSHARED };

struct sym {
	char *name;         /* NUL-terminated, owned; freed when the symbol is popped */
	uint32_t nlen;
	int kind;
	uint32_t slot;      /* S_REG: register slot; others: cached value slot (0 = none) */
	uint32_t off;       /* S_PARAM/S_LOCAL: offset; S_SHARED: module shared offset */
	uint32_t size;
	uint32_t var;       /* S_GLOBAL: var index */
	uint8_t rkind;      /* S_REG: declared kind */
	uint32_t count;     /* S_REG declared as name<count>: a range, one slot per index */
	uint32_t rid;       /* S_SHARED: the region it is in (P->rg), off within it; 0: an entry's own */
	uint32_t *slots;    /* range slots, allocated on first use (0 = not yet) */
	int prev;           /* shadowed symbol with the same name, -1 */
	int hnext;
};

struct P {
	struct lex L;
	struct ptx_module *m;
	char *err;
	size_t errlen;
	int rc;
	/* symbols: module scope first, function scope on top */
	struct sym *syms;
	uint32_t nsyms, capsyms;
	int *hash;          /* name hash → latest symbol index */
	uint32_t hsize;
	uint32_t *fhash;    /* function name hash → index + 1 (0: free), open addressing */
	uint32_t fcap;
	uint32_t capslotkind, capfuncs, capvars;
	uint32_t scope[64];
	int depth;
	/* function being built */
	struct ptx_func *f;
	uint32_t capcode, capslots, capfills, capgfix;
	/* The code and slot arrays a function is built in, kept from one function to the next:
	 * growing a fresh pair for each function (doubling, copying, zeroing the new half) was a
	 * sixth of loading NCCL's kernels; a finished function gets a copy of its own size. */
	struct ptx_insn *scode;
	uint64_t *stmpl;
	uint32_t capscode, capstmpl;
	uint8_t *slotkind;
	struct { char name[128]; uint32_t insn; uint32_t line; } *fix;
	uint32_t nfix, capfix;
	struct { char name[128]; uint32_t insn; } *labels;
	uint32_t nlabels, caplabels;
	/* functions named in variables' initializers, resolved at the module's end (a linked
	 * module may define a table before the functions it names are declared) */
	struct { char *name; uint32_t var, line; uint64_t off; } *ifix;
	uint32_t nifix, capifix;
	uint32_t init_var;  /* the variable parse_init fills */
	uint32_t capcalls;
	uint32_t cc_slot;       /* the function's CC.CF register, 0 until first used */
	uint32_t fshared;       /* the entry being parsed: end of its static shared memory */
	int vec_max;            /* registers a vector operand may hold (0: 4) */
	/* static shared memory laid out per kernel once the module is parsed (layout_shared):
	 * regions, one for each module-scope .shared variable and one for each .func's own (id
	 * 1 up; frid by function index), and the slots holding their addresses (the function
	 * whose code it is, the slot, the region, the offset in it), patched then */
	uint32_t fidx;          /* index of the function being parsed */
	struct { uint32_t size, align; } *rg;
	uint32_t nrg, caprg;
	uint32_t *frid;
	uint32_t capfrid;
	struct { uint32_t func, slot, rid, off; } *sfix;
	uint32_t nsfix, capsfix;
};

static int perr(struct P *P, int rc, uint32_t line, const char *fmt, ...)
{
	if (P->rc)
		return P->rc;
	va_list ap;
	int n = snprintf(P->err, P->errlen, "line %u: ", line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < P->errlen)
		vsnprintf(P->err + n, P->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	P->rc = rc;
	return rc;
}

static void *grow(void *p, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	uint32_t nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	void *q = realloc(p, (size_t)nc * elem);
	if (!q)
		return NULL;
	memset((char *)q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
	*cap = nc;
	return q;
}

static uint32_t hstr(const char *s, size_t n) { return (uint32_t)vgpu_fnv1a(s, n); }

static int sym_find(struct P *P, const char *s, size_t n)
{
	if (n > PTX_NAME_MAX)
		return -1;
	for (int i = P->hash[hstr(s, n) & (P->hsize - 1)]; i >= 0; i = P->syms[i].hnext)
		if (P->syms[i].nlen == n && memcmp(P->syms[i].name, s, n) == 0)
			return i;
	return -1;
}

static int hash_rebuild(struct P *P, uint32_t size)
{
	int *h = malloc(sizeof(int) * size);
	if (!h)
		return -ENOMEM;
	for (uint32_t i = 0; i < size; i++)
		h[i] = -1;
	free(P->hash);
	P->hash = h;
	P->hsize = size;
	for (uint32_t i = 0; i < P->nsyms; i++) {
		struct sym *y = &P->syms[i];
		uint32_t b = hstr(y->name, y->nlen) & (size - 1);
		/* only the latest of a name is reachable; older ones are found through prev */
		int cur = sym_find(P, y->name, y->nlen);
		if (cur >= 0) {
			/* replace cur with y in its chain: y shadows cur */
			int *pp = &h[b];
			while (*pp != cur)
				pp = &P->syms[*pp].hnext;
			*pp = (int)i;
			y->hnext = P->syms[cur].hnext;
		} else {
			y->hnext = h[b];
			h[b] = (int)i;
		}
	}
	return 0;
}

static struct sym *sym_add(struct P *P, const char *s, size_t n, int kind, uint32_t line)
{
	if (n > PTX_NAME_MAX) {
		perr(P, -EINVAL, line, "name of %zu characters, longer than %d", n, PTX_NAME_MAX);
		return NULL;
	}
	struct sym *ns = grow(P->syms, &P->capsyms, P->nsyms + 1, sizeof(*ns));
	if (!ns) {
		perr(P, -ENOMEM, line, "out of memory");
		return NULL;
	}
	P->syms = ns;
	if (P->nsyms + 1 > P->hsize / 2 && hash_rebuild(P, P->hsize * 4) < 0) {
		perr(P, -ENOMEM, line, "out of memory");
		return NULL;
	}
	int prev = sym_find(P, s, n);
	struct sym *y = &P->syms[P->nsyms];
	memset(y, 0, sizeof(*y));
	if (!(y->name = strndup(s, n))) {
		perr(P, -ENOMEM, line, "out of memory");
		return NULL;
	}
	y->nlen = (uint32_t)n;
	y->kind = kind;
	y->prev = prev;
	uint32_t b = hstr(s, n) & (P->hsize - 1);
	if (prev >= 0) {
		int *pp = &P->hash[b];
		while (*pp != prev)
			pp = &P->syms[*pp].hnext;
		*pp = (int)P->nsyms;
		y->hnext = P->syms[prev].hnext;
	} else {
		y->hnext = P->hash[b];
		P->hash[b] = (int)P->nsyms;
	}
	P->nsyms++;
	return y;
}

/* Drops symbols down to count n (leaving a scope), unshadowing older ones. */
static void sym_pop(struct P *P, uint32_t n)
{
	while (P->nsyms > n) {
		int i = (int)P->nsyms - 1;
		struct sym *y = &P->syms[i];
		free(y->slots);
		y->slots = NULL;
		uint32_t b = hstr(y->name, y->nlen) & (P->hsize - 1);
		int *pp = &P->hash[b];
		while (*pp != i)
			pp = &P->syms[*pp].hnext;
		if (y->prev >= 0) {
			*pp = y->prev;
			P->syms[y->prev].hnext = y->hnext;
		} else {
			*pp = y->hnext;
		}
		free(y->name);
		y->name = NULL;
		P->nsyms--;
	}
}

/* .b128, a type of the parser's only: a register of it is two consecutive 64-bit slots (low
 * half first), which mov, ld, st and atom take apart; other instructions refuse it. */
#define K_B128 16

static int kind_of(const struct tok *t)
{
	static const struct { const char *n; int k; } tab[] = {
		{".b8", K_U8}, {".u8", K_U8}, {".s8", K_S8}, {".b16", K_U16}, {".u16", K_U16},
		{".s16", K_S16}, {".b32", K_U32}, {".u32", K_U32}, {".s32", K_S32},
		{".b64", K_U64}, {".u64", K_U64}, {".s64", K_S64}, {".f16", K_F16},
		{".f32", K_F32}, {".f64", K_F64}, {".pred", K_PRED}, {".f16x2", K_F16X2},
		{".bf16", K_BF16}, {".bf16x2", K_BF16X2}, {".b128", K_B128},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tok_is(t, tab[i].n))
			return tab[i].k;
	return -1;
}

static uint32_t kind_size(int k)
{
	static const uint8_t sz[] = {1, 1, 2, 2, 4, 4, 8, 8, 2, 4, 8, 1, 0, 4, 2, 4, 16};
	return sz[k];
}

static uint32_t new_slot(struct P *P, int kind, uint64_t init)
{
	struct ptx_func *f = P->f;
	uint32_t s = f->nslots;
	uint64_t *t = grow(f->tmpl, &P->capslots, s + 1, sizeof(uint64_t));
	uint32_t cap = P->capslots;
	if (!t) {
		perr(P, -ENOMEM, P->L.cur.line, "out of memory");
		return 1;
	}
	f->tmpl = t;
	if (cap > P->capslotkind) {   /* (only when it grew: under ASan every realloc copies) */
		uint8_t *k = realloc(P->slotkind, cap);
		if (!k) {
			perr(P, -ENOMEM, P->L.cur.line, "out of memory");
			return 1;
		}
		P->slotkind = k;
		P->capslotkind = cap;
	}
	f->tmpl[s] = init;
	P->slotkind[s] = (uint8_t)kind;
	f->nslots++;
	return s;
}

/* A register's slot: a .b128 one takes the slot after it too. */
static uint32_t reg_slot(struct P *P, int kind)
{
	uint32_t s = new_slot(P, kind, 0);
	if (kind == K_B128)
		new_slot(P, K_U64, 0);
	return s;
}

static uint32_t new_fill(struct P *P, uint32_t what, uint64_t arg)
{
	struct ptx_func *f = P->f;
	uint32_t s = new_slot(P, K_U64, 0);
	struct ptx_fill *fl = grow(f->fills, &P->capfills, f->nfills + 1, sizeof(*fl));
	if (!fl) {
		perr(P, -ENOMEM, P->L.cur.line, "out of memory");
		return 1;
	}
	f->fills = fl;
	fl[f->nfills++] = (struct ptx_fill){s, what, arg};
	return s;
}

/* ---- declarations ------------------------------------------------------------------- */

static uint32_t align_up(uint32_t v, uint32_t a) { return a ? (v + a - 1) / a * a : v; }

/* Parses "[.align N] [.ptr...] .type name[dims]" after a state-space keyword. */
struct decl { int kind; uint32_t align; uint64_t count; int array, unsized; const char *name;
              size_t nlen; uint32_t line; int vec; int managed; };

static int parse_decl(struct P *P, struct decl *d)
{
	memset(d, 0, sizeof(*d));
	d->kind = -1;
	d->count = 1;
	d->vec = 1;
	for (;;) {
		struct tok *t = lex_next(&P->L);
		d->line = t->line;
		if (t->t != T_ID)
			return perr(P, -EINVAL, t->line, "expected a declaration");
		if (tok_is(t, ".align")) {
			t = lex_next(&P->L);
			if (t->t != T_INT || t->v == 0 || t->v > 4096 || (t->v & (t->v - 1)))
				return perr(P, -EINVAL, t->line, ".align needs a power of two");
			d->align = (uint32_t)t->v;
		} else if (tok_is(t, ".v2") || tok_is(t, ".v4")) {
			d->vec = t->s[2] - '0';
		} else if (kind_of(t) >= 0) {
			d->kind = kind_of(t);
		} else if (tok_is(t, ".ptr") || tok_is(t, ".global") || tok_is(t, ".shared") ||
		           tok_is(t, ".const") || tok_is(t, ".local")) {
			continue;
		} else if (tok_is(t, ".attribute")) {
			/* .attribute(.managed): a __managed__ variable, host and kernels share it */
			uint32_t line = t->line;
			int ok = tok_isp(lex_next(&P->L), '(');
			ok = ok && tok_is(lex_next(&P->L), ".managed");
			ok = ok && tok_isp(lex_next(&P->L), ')');
			if (!ok)
				return perr(P, -ENOTSUP, line, "unsupported variable attribute (only .attribute(.managed) is)");
			d->managed = 1;
		} else if (t->s[0] == '.') {
			return perr(P, -ENOTSUP, t->line, "unsupported declaration attribute '%.*s'",
			            (int)t->n, t->s);
		} else {
			d->name = t->s;
			d->nlen = t->n;
			break;
		}
	}
	if (d->kind < 0)
		return perr(P, -EINVAL, d->line, "declaration of '%.*s' has no type", (int)d->nlen, d->name);
	while (tok_isp(lex_peek(&P->L), '[')) {
		lex_next(&P->L);
		struct tok *t = lex_next(&P->L);
		d->array = 1;
		if (tok_isp(t, ']')) {
			d->unsized = 1;
			continue;
		}
		if (t->t != T_INT || t->v > (1ull << 32))
			return perr(P, -EINVAL, t->line, "bad array size");
		d->count *= t->v;
		if (!tok_isp(lex_next(&P->L), ']'))
			return perr(P, -EINVAL, t->line, "expected ']'");
	}
	d->count *= (uint64_t)d->vec;
	if (!d->align)
		d->align = kind_size(d->kind) * (uint32_t)d->vec;
	return 0;
}

static int find_func(struct P *P, const char *s, size_t n);

/* Parses "= value" or "= { v, ... }" into buf (elem bytes each, at most cap elements). */
static int parse_init(struct P *P, uint8_t *buf, uint64_t cap, int kind)
{
	uint32_t es = kind_size(kind);
	uint64_t n = 0;
	int depth = 0;
	for (;;) {
		struct tok *t = lex_next(&P->L);
		if (tok_isp(t, '{')) {
			depth++;
			continue;
		}
		if (tok_isp(t, '}')) {
			if (--depth < 0)
				return perr(P, -EINVAL, t->line, "unbalanced '}' in initializer");
			if (depth == 0)
				break;
			continue;
		}
		if (tok_isp(t, ','))
			continue;
		if (tok_isp(t, ';') && depth == 0) {
			P->L.has_peek = 1;   /* give ';' back */
			P->L.peek = *t;
			break;
		}
		int neg = 0;
		if (tok_isp(t, '-')) {
			neg = 1;
			t = lex_next(&P->L);
		}
		uint64_t v;
		if (t->t == T_INT)
			v = neg ? 0 - t->v : t->v;
		else if (t->t == T_FLT32 || t->t == T_FLT64 || t->t == T_FLTDEC) {
			double dv;
			if (t->t == T_FLT32) { uint32_t b = (uint32_t)t->v; float f; memcpy(&f, &b, 4); dv = f; }
			else if (t->t == T_FLT64) memcpy(&dv, &t->v, 8);
			else dv = t->d;
			if (neg) dv = -dv;
			if (kind == K_F32) { float f = (float)dv; uint32_t b; memcpy(&b, &f, 4); v = b; }
			else if (kind == K_F64) memcpy(&v, &dv, 8);
			else v = (uint64_t)(int64_t)dv;
		} else if (t->t == T_ID && !neg && es == 8 && t->n <= PTX_NAME_MAX && t->s[0] != '%') {
			/* a function's address (a table of them, a vtable): filled in at the end */
			void *x = grow(P->ifix, &P->capifix, P->nifix + 1, sizeof(*P->ifix));
			if (!x)
				return perr(P, -ENOMEM, t->line, "out of memory");
			P->ifix = x;
			if (!(P->ifix[P->nifix].name = strndup(t->s, t->n)))
				return perr(P, -ENOMEM, t->line, "out of memory");
			P->ifix[P->nifix].var = P->init_var;
			P->ifix[P->nifix].line = t->line;
			P->ifix[P->nifix++].off = n * es;
			v = 0;
		} else {
			return perr(P, -ENOTSUP, t->line, "unsupported initializer '%.*s' (numbers and the "
			            "addresses of functions)", (int)t->n, t->s);
		}
		if (n >= cap)
			return perr(P, -EINVAL, t->line, "too many initializer values");
		memcpy(buf + n * es, &v, es);
		n++;
		if (depth == 0)
			break;
	}
	return 0;
}

/* .global/.const at module scope: a variable placed in device memory. */
static int parse_var(struct P *P, int space)
{
	struct decl d;
	int rc = parse_decl(P, &d);
	if (rc)
		return rc;
	uint64_t bytes = d.count * kind_size(d.kind);
	if (bytes > (1ull << 30))
		return perr(P, -EINVAL, d.line, "variable '%.*s' larger than 1 GiB", (int)d.nlen, d.name);
	struct ptx_module *m = P->m;
	struct ptx_var *v = grow(m->vars, &P->capvars, m->nvars + 1, sizeof(*v));
	if (!v)
		return perr(P, -ENOMEM, d.line, "out of memory");
	m->vars = v;
	v = &m->vars[m->nvars];
	memset(v, 0, sizeof(*v));
	if (d.nlen > PTX_NAME_MAX)
		return perr(P, -EINVAL, d.line, "variable name of %zu characters, longer than %d", (size_t)d.nlen,
			    PTX_NAME_MAX);
	if (!(v->name = strndup(d.name, d.nlen)))
		return perr(P, -ENOMEM, d.line, "out of memory");
	v->space = (uint8_t)space;
	v->managed = d.managed;
	v->align = d.align;
	v->size = bytes ? bytes : 1;
	m->nvars++;
	struct sym *y = sym_add(P, d.name, d.nlen, S_GLOBAL, d.line);
	if (!y)
		return P->rc;
	y->var = m->nvars - 1;
	if (tok_isp(lex_peek(&P->L), '=')) {
		lex_next(&P->L);
		v->init = calloc(1, v->size);
		if (!v->init)
			return perr(P, -ENOMEM, d.line, "out of memory");
		P->init_var = m->nvars - 1;
		rc = parse_init(P, v->init, d.count, d.kind);
		if (rc)
			return rc;
	}
	if (!tok_isp(lex_next(&P->L), ';'))
		return perr(P, -EINVAL, P->L.cur.line, "expected ';' after variable declaration");
	return 0;
}

static int parse_shared(struct P *P, int is_extern)
{
	struct decl d;
	int rc = parse_decl(P, &d);
	if (rc)
		return rc;
	struct sym *y;
	int i = is_extern && !P->f ? sym_find(P, d.name, d.nlen) : -1;
	if (i >= 0 && P->syms[i].kind == S_SHARED) {
		/* another input's declaration of a variable a linked module defined above (nvcc
		 * -rdc: one unit defines a __shared__ variable the others name extern) */
		y = &P->syms[i];
	} else if (is_extern || d.unsized) {
		y = sym_add(P, d.name, d.nlen, S_DYNSHARED, d.line);
	} else {
		/*
		 * An entry's own .shared variables are laid out for it alone; module-scope ones and
		 * those of a .func go in regions placed after them for each kernel that names them
		 * (as a GPU gives each kernel only the shared memory it uses). A module of many
		 * kernels (template libraries) thus stays within each kernel's 64 KiB.
		 */
		int own = P->f && P->f->is_entry;
		uint64_t bytes = d.count * kind_size(d.kind);
		uint32_t al = d.align > 16 ? d.align : 16;
		if (!own) {
			/* module-scope (each its own region) or a .func's (the function's region):
			 * placed for each kernel that names it, itself or through what it calls
			 * (layout_shared), so a kernel does not pay for the others' */
			uint32_t rid = P->f && P->fidx < P->capfrid ? P->frid[P->fidx] : 0;
			if (!rid) {
				if (!(P->rg = grow(P->rg, &P->caprg, P->nrg + 1, sizeof(*P->rg))) ||
				    (P->f && !(P->frid = grow(P->frid, &P->capfrid, P->fidx + 1, sizeof(*P->frid)))))
					return perr(P, -ENOMEM, d.line, "out of memory");
				P->rg[P->nrg] = (typeof(*P->rg)){ 0, 16 };
				rid = ++P->nrg;
				if (P->f)
					P->frid[P->fidx] = rid;
			}
			uint64_t off = align_up(P->rg[rid - 1].size, al);
			if (off + bytes > PTX_SHARED_MAX)
				return perr(P, -EINVAL, d.line, "static shared memory over %u KiB", PTX_SHARED_MAX >> 10);
			if (!(y = sym_add(P, d.name, d.nlen, S_SHARED, d.line)))
				return P->rc;
			y->off = (uint32_t)off;
			y->rid = rid;
			P->rg[rid - 1].size = (uint32_t)(off + bytes);
			if (al > P->rg[rid - 1].align)
				P->rg[rid - 1].align = al;
			if (!tok_isp(lex_next(&P->L), ';'))
				return perr(P, -EINVAL, P->L.cur.line, "expected ';' after .shared declaration");
			return 0;
		}
		uint64_t off = align_up(P->fshared, al);
		if (off + bytes > PTX_SHARED_MAX)
			return perr(P, -EINVAL, d.line, "static shared memory over %u KiB", PTX_SHARED_MAX >> 10);
		y = sym_add(P, d.name, d.nlen, S_SHARED, d.line);
		if (y) {
			y->off = (uint32_t)off;
			P->fshared = (uint32_t)(off + bytes);
		}
	}
	if (!y)
		return P->rc;
	if (!tok_isp(lex_next(&P->L), ';'))
		return perr(P, -EINVAL, P->L.cur.line, "expected ';' after .shared declaration");
	return 0;
}

/* .reg .type name<N>, name2, ...; */
static int parse_reg(struct P *P, const struct tok *typed)
{
	struct tok *t = lex_next(&P->L);
	if (typed) {   /* ".reg.b32 a, b;" (inline assembly writes it so): the type came with it */
		P->L.has_peek = 1;
		P->L.peek = *t;
		t = (struct tok *)typed;
	}
	int vec = 1;
	if (tok_is(t, ".v2") || tok_is(t, ".v4")) {
		vec = t->s[2] - '0';
		t = lex_next(&P->L);
	}
	(void)vec;
	int k = kind_of(t);
	if (k < 0)
		return perr(P, -EINVAL, t->line, "expected a register type, got '%.*s'", (int)t->n, t->s);
	for (;;) {
		t = lex_next(&P->L);
		if (t->t != T_ID || t->n > 100)
			return perr(P, -EINVAL, t->line, "expected a register name");
		char name[128];
		memcpy(name, t->s, t->n);
		size_t nl = t->n;
		uint32_t line = t->line;
		if (tok_isp(lex_peek(&P->L), '<')) {
			lex_next(&P->L);
			t = lex_next(&P->L);
			if (t->t != T_INT || t->v == 0 || t->v > (1u << 20))
				return perr(P, -EINVAL, t->line, "bad register count (1 to 1048576)");
			uint64_t cnt = t->v;
			if (!tok_isp(lex_next(&P->L), '>'))
				return perr(P, -EINVAL, t->line, "expected '>'");
			/* one symbol for the whole range: %r<1000000> costs nothing until used */
			struct sym *y = sym_add(P, name, nl, S_REG, line);
			if (!y)
				return P->rc;
			y->rkind = (uint8_t)k;
			y->count = (uint32_t)cnt;
		} else {
			struct sym *y = sym_add(P, name, nl, S_REG, line);
			if (!y)
				return P->rc;
			y->rkind = (uint8_t)k;
		}
		t = lex_next(&P->L);
		if (tok_isp(t, ';'))
			return 0;
		if (!tok_isp(t, ','))
			return perr(P, -EINVAL, t->line, "expected ',' or ';' in .reg");
	}
}

/* .param inside a body (call sites) or a parameter list; returns the symbol. */
static struct sym *param_decl(struct P *P, uint32_t *cursor)
{
	struct decl d;
	if (parse_decl(P, &d))
		return NULL;
	uint32_t bytes = (uint32_t)(d.count * kind_size(d.kind));
	if (d.count * kind_size(d.kind) > 65536) {
		perr(P, -EINVAL, d.line, "parameter larger than 64 KiB");
		return NULL;
	}
	uint32_t off = align_up(*cursor, d.align);
	*cursor = off + bytes;
	struct sym *y = sym_add(P, d.name, d.nlen, S_PARAM, d.line);
	if (y) {
		y->off = off;
		y->size = bytes;
	}
	return y;
}

static int parse_local(struct P *P)
{
	struct decl d;
	int rc = parse_decl(P, &d);
	if (rc)
		return rc;
	uint64_t bytes = d.count * kind_size(d.kind);
	uint32_t off = align_up(P->f->local_size, d.align);
	if (off + bytes > (256u << 10))
		return perr(P, -EINVAL, d.line, "local memory over 256 KiB per thread");
	P->f->local_size = off + (uint32_t)bytes;
	struct sym *y = sym_add(P, d.name, d.nlen, S_LOCAL, d.line);
	if (!y)
		return P->rc;
	y->off = off;
	if (!tok_isp(lex_next(&P->L), ';'))
		return perr(P, -EINVAL, P->L.cur.line, "expected ';' after .local declaration");
	return 0;
}

/* ---- operands ----------------------------------------------------------------------- */

enum { O_SLOT, O_ADDR, O_VEC, O_PAIR, O_LABEL };

struct opnd {
	int t;
	uint32_t slot, slot2;
	int64_t imm;
	uint32_t vec[8];     /* at most 4 (8 for wmma's fragments: P->vec_max) */
	int nvec;
	int neg;
	int is_imm;
	int vec_imm;        /* O_VEC: an element is a number (only a source may hold one) */
	char label[128];
};

/* Special registers: how a frame's slot is filled (what, and its argument) */
static const struct { const char *n; uint32_t what, arg; } specials[] = {
	{"%tid.x", FILL_TID, 0}, {"%tid.y", FILL_TID + 1, 0}, {"%tid.z", FILL_TID + 2, 0},
	{"%ntid.x", FILL_NTID, 0}, {"%ntid.y", FILL_NTID + 1, 0}, {"%ntid.z", FILL_NTID + 2, 0},
	{"%ctaid.x", FILL_CTAID, 0}, {"%ctaid.y", FILL_CTAID + 1, 0}, {"%ctaid.z", FILL_CTAID + 2, 0},
	{"%nctaid.x", FILL_NCTAID, 0}, {"%nctaid.y", FILL_NCTAID + 1, 0}, {"%nctaid.z", FILL_NCTAID + 2, 0},
	{"%laneid", FILL_LANEID, 0}, {"%warpid", FILL_WARPID, 0}, {"%nwarpid", FILL_NWARPID, 0},
	{"%smid", FILL_SMID, 0}, {"%nsmid", FILL_NSMID, 0}, {"%gridid", FILL_GRIDID, 0},
	{"%dynamic_smem_size", FILL_SMEM, SMEM_DYNAMIC}, {"%total_smem_size", FILL_SMEM, SMEM_TOTAL},
	{"%aggr_smem_size", FILL_SMEM, SMEM_AGGR},
	{"%lanemask_eq", FILL_LANEMASK_EQ, 0}, {"%lanemask_lt", FILL_LANEMASK_LT, 0},
	{"%lanemask_le", FILL_LANEMASK_LE, 0}, {"%lanemask_gt", FILL_LANEMASK_GT, 0},
	{"%lanemask_ge", FILL_LANEMASK_GE, 0},
	/* thread-block clusters (each block is a cluster of one unless launched in clusters) */
	{"%cluster_ctaid.x", FILL_CLUSTER, CL_CTAID}, {"%cluster_ctaid.y", FILL_CLUSTER, CL_CTAID + 1},
	{"%cluster_ctaid.z", FILL_CLUSTER, CL_CTAID + 2}, {"%cluster_nctaid.x", FILL_CLUSTER, CL_NCTAID},
	{"%cluster_nctaid.y", FILL_CLUSTER, CL_NCTAID + 1}, {"%cluster_nctaid.z", FILL_CLUSTER, CL_NCTAID + 2},
	{"%clusterid.x", FILL_CLUSTER, CL_ID}, {"%clusterid.y", FILL_CLUSTER, CL_ID + 1},
	{"%clusterid.z", FILL_CLUSTER, CL_ID + 2}, {"%nclusterid.x", FILL_CLUSTER, CL_NID},
	{"%nclusterid.y", FILL_CLUSTER, CL_NID + 1}, {"%nclusterid.z", FILL_CLUSTER, CL_NID + 2},
	{"%cluster_ctarank", FILL_CLUSTER, CL_RANK}, {"%cluster_nctarank", FILL_CLUSTER, CL_NRANK},
	{"%is_explicit_cluster", FILL_CLUSTER, CL_EXPLICIT},
	/* the block's reserved shared memory: where it begins and ends, its size, and the
	 * offsets of its two parts (cooperative groups' multi-warp scratch is at _1) */
	{"%reserved_smem_offset_begin", FILL_RSMEM, RSMEM_BEGIN}, {"%reserved_smem_offset_end", FILL_RSMEM, RSMEM_END},
	{"%reserved_smem_offset_cap", FILL_RSMEM, RSMEM_CAP}, {"%reserved_smem_offset_0", FILL_RSMEM, RSMEM_OFF0},
	{"%reserved_smem_offset_1", FILL_RSMEM, RSMEM_OFF1},
};

static uint32_t const_slot(struct P *P, uint64_t v) { return new_slot(P, K_U64, v); }

static struct ptx_insn *emit(struct P *P, uint32_t line);

/* Value slot for an identifier (register, special register or symbol address). */
static int ident_slot(struct P *P, const struct tok *t, uint32_t *slot)
{
	if (t->n == 1 && t->s[0] == '_') {
		*slot = new_slot(P, K_U64, 0);
		return 0;
	}
	if (tok_is(t, "WARP_SZ")) {   /* the predefined constant: a warp's width */
		*slot = const_slot(P, 32);
		return 0;
	}
	int i = sym_find(P, t->s, t->n);
	if (i < 0 && t->s[0] == '%') {
		/* %r123: member 123 of a range declared %r<N> */
		size_t pl = t->n;
		while (pl > 1 && isdigit((unsigned char)t->s[pl - 1]))
			pl--;
		int ri = pl < t->n && (t->n - pl) <= 7 && !(t->s[pl] == '0' && t->n - pl > 1)
		         ? sym_find(P, t->s, pl) : -1;
		if (ri >= 0 && P->syms[ri].kind == S_REG && P->syms[ri].count) {
			struct sym *y = &P->syms[ri];
			uint32_t idx = (uint32_t)strtoul(t->s + pl, NULL, 10);
			if (idx >= y->count)
				return perr(P, -EINVAL, t->line, "register '%.*s' beyond its declaration %s<%u>",
				            (int)t->n, t->s, y->name, y->count);
			if (!y->slots && !(y->slots = calloc(y->count, sizeof(uint32_t))))
				return perr(P, -ENOMEM, t->line, "out of memory");
			if (!y->slots[idx])
				y->slots[idx] = reg_slot(P, y->rkind);
			*slot = y->slots[idx];
			return 0;
		}
	}
	if (i < 0) {
		/* clock registers change as the thread runs: each use reads them anew, by an
		 * instruction put before the one naming them (a frame's fills are made once) */
		static const struct { const char *n; int mod; } clocks[] = {
			{"%clock64", CLK_CYCLES}, {"%clock", CLK_CYCLES32}, {"%globaltimer", CLK_NS},
			{"%globaltimer_lo", CLK_NS_LO}, {"%globaltimer_hi", CLK_NS_HI},
		};
		for (size_t k = 0; k < sizeof(clocks) / sizeof(clocks[0]); k++)
			if (tok_is(t, clocks[k].n)) {
				struct ptx_insn *in = P->f ? emit(P, t->line) : NULL;
				if (!in)
					return P->f ? P->rc : perr(P, -EINVAL, t->line, "'%s' outside a function", clocks[k].n);
				*slot = new_slot(P, K_U64, 0);
				in = &P->f->code[P->f->ncode - 1];   /* (new_slot does not move code) */
				in->op = OP_CLOCK;
				in->kind = K_U64;
				in->mod = (uint8_t)clocks[k].mod;
				in->o[0] = *slot;
				return 0;
			}
		for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++)
			if (tok_is(t, specials[k].n)) {
				if (specials[k].what == FILL_RSMEM)
					P->m->reserved_smem = 1;   /* (its blocks get the region) */
				*slot = new_fill(P, specials[k].what, specials[k].arg);
				return 0;
			}
		/* %envreg0..31: the driver's per-launch environment (cooperative groups read
		 * the grid's sync workspace from %envreg1 and %envreg2) */
		if (t->n >= 8 && t->n <= 9 && !memcmp(t->s, "%envreg", 7) && isdigit((unsigned char)t->s[7]) &&
		    (t->n == 8 || isdigit((unsigned char)t->s[8]))) {
			unsigned r = (unsigned)atoi(t->s + 7);
			if (r < 32) {
				*slot = new_fill(P, FILL_ENVREG, r);
				return 0;
			}
		}
		if (t->s[0] == '%')
			return perr(P, -ENOTSUP, t->line, "unknown or unsupported register '%.*s'",
			            (int)t->n, t->s);
		return perr(P, -EINVAL, t->line, "undeclared name '%.*s'", (int)t->n, t->s);
	}
	struct sym *y = &P->syms[i];
	int fscope = (uint32_t)i >= P->scope[0];
	switch (y->kind) {
	case S_REG:
		if (y->count)
			return perr(P, -EINVAL, t->line, "'%s' names a register range, not a register", y->name);
		if (!y->slot)
			y->slot = reg_slot(P, y->rkind);
		*slot = y->slot;
		return 0;
	case S_PARAM:
		*slot = const_slot(P, y->off);
		return 0;
	case S_LOCAL:
		if (!fscope)
			return perr(P, -EINVAL, t->line, "local '%s' used outside its function", y->name);
		*slot = new_fill(P, FILL_LOCAL, y->off);
		return 0;
	case S_SHARED:
		*slot = const_slot(P, y->off);
		if (y->rid) {   /* the region's place comes at the module's end */
			if (!(P->sfix = grow(P->sfix, &P->capsfix, P->nsfix + 1, sizeof(*P->sfix))))
				return perr(P, -ENOMEM, t->line, "out of memory");
			P->sfix[P->nsfix++] = (typeof(*P->sfix)){ P->fidx, *slot, y->rid, y->off };
		}
		return 0;
	case S_DYNSHARED:
		*slot = new_fill(P, FILL_DYNSHARED, 0);
		return 0;
	case S_GLOBAL: {
		*slot = const_slot(P, 0);
		struct ptx_func *f = P->f;
		struct ptx_gfix *g = grow(f->gfix, &P->capgfix, f->ngfix + 1, sizeof(*g));
		if (!g)
			return perr(P, -ENOMEM, t->line, "out of memory");
		f->gfix = g;
		g[f->ngfix++] = (struct ptx_gfix){*slot, y->var, 0};
		return 0;
	}
	default:
		return perr(P, -ENOTSUP, t->line, "'%s' cannot be used as a value (function addresses "
		            "are not supported)", y->name);
	}
}

static uint64_t imm_value(struct P *P, const struct tok *t, int neg, int kind)
{
	(void)P;
	if (t->t == T_INT)
		return neg ? 0 - t->v : t->v;
	double d;
	if (t->t == T_FLT32) {
		uint32_t b = (uint32_t)t->v;
		if (kind == K_F32 || kind == K_U32 || kind == K_S32)
			return neg ? b ^ 0x80000000u : b;
		float f;
		memcpy(&f, &b, 4);
		d = f;
	} else if (t->t == T_FLT64) {
		if (kind == K_F64 || kind == K_U64 || kind == K_S64)
			return neg ? t->v ^ 0x8000000000000000ull : t->v;
		memcpy(&d, &t->v, 8);
	} else {
		d = t->d;
	}
	if (neg)
		d = -d;
	if (kind == K_F32) {
		float f = (float)d;
		uint32_t b;
		memcpy(&b, &f, 4);
		return b;
	}
	uint64_t b;
	memcpy(&b, &d, 8);
	return b;
}

/* Parses one operand; kind says how to encode a decimal float immediate. */
static int parse_opnd(struct P *P, struct opnd *o, int kind)
{
	memset(o, 0, sizeof(*o));
	struct tok *t = lex_next(&P->L);
	if (tok_isp(t, '[')) {
		o->t = O_ADDR;
		t = lex_next(&P->L);
		int neg = 0;
		if (t->t == T_ID) {
			int rc = ident_slot(P, t, &o->slot);
			if (rc)
				return rc;
			t = lex_next(&P->L);
		} else {
			o->slot = 0;
			if (tok_isp(t, '-')) {
				neg = 1;
				t = lex_next(&P->L);
			}
			if (t->t != T_INT)
				return perr(P, -EINVAL, t->line, "bad address expression");
			o->imm = (int64_t)(neg ? 0 - t->v : t->v);
			t = lex_next(&P->L);
		}
		while (tok_isp(t, '+') || tok_isp(t, '-')) {
			int sub = t->c == '-';
			t = lex_next(&P->L);
			if (tok_isp(t, '-')) {
				sub = !sub;
				t = lex_next(&P->L);
			}
			if (t->t != T_INT)
				return perr(P, -EINVAL, t->line, "bad address offset");
			o->imm = (int64_t)((uint64_t)o->imm + (sub ? 0 - t->v : t->v));
			t = lex_next(&P->L);
		}
		if (!tok_isp(t, ']'))
			return perr(P, -EINVAL, t->line, "expected ']' in address");
		return 0;
	}
	if (tok_isp(t, '{')) {
		o->t = O_VEC;
		for (;;) {
			t = lex_next(&P->L);
			int fimm = t->t == T_FLT32 || t->t == T_FLT64;   /* 0f00000000: a float's bits */
			if (o->nvec >= (P->vec_max ? P->vec_max : 4) || (t->t != T_ID && t->t != T_INT && !fimm))
				return perr(P, -EINVAL, t->line, "bad vector operand");
			if (t->t == T_INT || fimm) {   /* {0, %rs1}: half-precision code packs constants too */
				o->vec[o->nvec++] = const_slot(P, t->t == T_FLT32 ? (uint32_t)t->v : t->v);
				o->vec_imm = 1;
			} else {
				int rc = ident_slot(P, t, &o->vec[o->nvec++]);
				if (rc)
					return rc;
			}
			t = lex_next(&P->L);
			if (tok_isp(t, '}'))
				return 0;
			if (!tok_isp(t, ','))
				return perr(P, -EINVAL, t->line, "expected ',' or '}' in vector operand");
		}
	}
	if (tok_isp(t, '!')) {
		o->neg = 1;
		t = lex_next(&P->L);
	}
	int neg = 0;
	if (tok_isp(t, '-')) {
		neg = 1;
		t = lex_next(&P->L);
	}
	if (t->t == T_INT || t->t == T_FLT32 || t->t == T_FLT64 || t->t == T_FLTDEC) {
		o->t = O_SLOT;
		o->is_imm = 1;
		uint64_t v = imm_value(P, t, neg, kind);
		if (t->t == T_FLTDEC && kind != K_F32 && kind != K_F64)
			return perr(P, -EINVAL, t->line, "floating-point literal in an integer instruction");
		o->imm = (int64_t)v;
		o->slot = const_slot(P, v);
		return 0;
	}
	if (t->t != T_ID)
		return perr(P, -EINVAL, t->line, "bad operand");
	/* not a declared name: a function's address, or a label (nvcc's labels and string
	 * constants both start with $) */
	if (sym_find(P, t->s, t->n) < 0 && t->s[0] != '%' && !(t->n == 1 && t->s[0] == '_') &&
	    !tok_is(t, "WARP_SZ")) {
		int fi = t->s[0] == '$' ? -1 : find_func(P, t->s, t->n);
		if (fi >= 0) {
			o->t = O_SLOT;
			o->imm = (int64_t)ptx_func_addr((uint32_t)fi);
			o->slot = const_slot(P, (uint64_t)o->imm);
			return 0;
		}
		/* a label (resolved after the body) */
		if (t->n >= sizeof(o->label))
			return perr(P, -EINVAL, t->line, "label too long");
		o->t = O_LABEL;
		memcpy(o->label, t->s, t->n);
		return 0;
	}
	int rc = ident_slot(P, t, &o->slot);
	if (rc)
		return rc;
	o->t = O_SLOT;
	if (tok_isp(lex_peek(&P->L), '|')) {
		lex_next(&P->L);
		t = lex_next(&P->L);
		if (t->t != T_ID)
			return perr(P, -EINVAL, t->line, "expected a predicate after '|'");
		rc = ident_slot(P, t, &o->slot2);
		if (rc)
			return rc;
		o->t = O_PAIR;
	} else if (tok_isp(lex_peek(&P->L), '+')) {
		/* symbol + offset as a value */
		lex_next(&P->L);
		t = lex_next(&P->L);
		if (t->t != T_INT)
			return perr(P, -EINVAL, t->line, "bad offset after '+'");
		struct ptx_func *f = P->f;
		uint32_t s = const_slot(P, 0);
		if (P->nsfix && P->sfix[P->nsfix - 1].slot == o->slot && P->sfix[P->nsfix - 1].func == P->fidx) {
			P->sfix[P->nsfix - 1].slot = s;   /* a .func's shared variable + offset */
			P->sfix[P->nsfix - 1].off += (uint32_t)t->v;
			f->tmpl[s] = f->tmpl[o->slot] + t->v;
		} else if (f->ngfix && f->gfix[f->ngfix - 1].slot == o->slot) {
			f->gfix[f->ngfix - 1].addend = t->v;
			f->gfix[f->ngfix - 1].slot = s;
		} else {
			f->tmpl[s] = f->tmpl[o->slot] + t->v;
		}
		o->slot = s;
	}
	return 0;
}


/* ---- instructions ------------------------------------------------------------------- */

struct mn {
	char part[12][40];
	int nparts;
	int kinds[3];
	int nkinds;
};

/* m->kinds: the first three parts that are types, leaving out the kinds in mask `skip`. */
static void mn_kinds(struct mn *m, uint32_t skip)
{
	m->nkinds = 0;
	for (int i = 1; i < m->nparts && m->nkinds < 3; i++) {
		struct tok k = {.t = T_ID, .s = m->part[i], .n = strlen(m->part[i])};
		int kd = kind_of(&k);
		if (kd >= 0 && !(skip >> kd & 1))
			m->kinds[m->nkinds++] = kd;
	}
}

static int mn_split(const struct tok *t, struct mn *m)
{
	memset(m, 0, sizeof(*m));
	size_t i = 0;
	while (i < t->n && m->nparts < 12) {
		size_t j = i;
		if (t->s[j] == '.')
			j++;
		while (j < t->n && t->s[j] != '.')
			j++;
		size_t len = j - i;
		if (len >= sizeof(m->part[0]))
			return -EINVAL;
		memcpy(m->part[m->nparts], t->s + i, len);
		m->nparts++;
		i = j;
	}
	mn_kinds(m, 0);
	return 0;
}

static int mn_has(const struct mn *m, const char *s)
{
	for (int i = 1; i < m->nparts; i++)
		if (name_eq(m->part[i], s))
			return 1;
	return 0;
}

static struct ptx_insn *emit(struct P *P, uint32_t line)
{
	struct ptx_func *f = P->f;
	struct ptx_insn *c = grow(f->code, &P->capcode, f->ncode + 1, sizeof(*c));
	if (!c) {
		perr(P, -ENOMEM, line, "out of memory");
		return NULL;
	}
	f->code = c;
	struct ptx_insn *in = &c[f->ncode++];
	memset(in, 0, sizeof(*in));
	in->line = line;
	return in;
}

static int unsigned_kind(int k)
{
	switch (k) {
	case K_S8: return K_U8;
	case K_S16: return K_U16;
	case K_S32: return K_U32;
	case K_S64: return K_U64;
	default: return k;
	}
}

static int is_float(int k) { return k == K_F32 || k == K_F64; }

static int space_of(const struct mn *m)
{
	if (mn_has(m, ".global")) return SP_GLOBAL;
	/* (a .shared::cluster address may name another block's: mem_ptr) */
	if (mn_has(m, ".shared") || mn_has(m, ".shared::cta") || mn_has(m, ".shared::cluster")) return SP_SHARED;
	if (mn_has(m, ".local")) return SP_LOCAL;
	if (mn_has(m, ".param")) return SP_PARAM;
	if (mn_has(m, ".const")) return SP_CONST;
	return SP_GENERIC;
}

static int rounding_of(const struct mn *m)
{
	static const char *r[] = {"", ".rn", ".rz", ".rm", ".rp", ".rni", ".rzi", ".rmi", ".rpi"};
	for (int i = 1; i < 9; i++)
		if (mn_has(m, r[i]))
			return i;
	return RND_NONE;
}

static int cmp_of(const struct mn *m)
{
	static const char *c[] = {".eq", ".ne", ".lt", ".le", ".gt", ".ge", ".lo", ".ls", ".hi",
	                          ".hs", ".equ", ".neu", ".ltu", ".leu", ".gtu", ".geu", ".num",
	                          ".nan"};
	for (int i = 0; i < 18; i++)
		if (mn_has(m, c[i]))
			return i;
	return -1;
}

/* Generic arithmetic: name → opcode and number of sources. */
static const struct { const char *n; int op; int nsrc; } arith[] = {
	{"add", OP_ADD, 2}, {"sub", OP_SUB, 2}, {"div", OP_DIV, 2}, {"rem", OP_REM, 2},
	{"min", OP_MIN, 2}, {"max", OP_MAX, 2}, {"neg", OP_NEG, 1}, {"abs", OP_ABS, 1},
	{"and", OP_AND, 2}, {"or", OP_OR, 2}, {"xor", OP_XOR, 2}, {"not", OP_NOT, 1},
	{"cnot", OP_CNOT, 1}, {"shl", OP_SHL, 2}, {"shr", OP_SHR, 2}, {"popc", OP_POPC, 1},
	{"clz", OP_CLZ, 1}, {"brev", OP_BREV, 1}, {"bfe", OP_BFE, 3}, {"bfi", OP_BFI, 4},
	{"fma", OP_FMA, 3}, {"rcp", OP_RCP, 1}, {"sqrt", OP_SQRT, 1}, {"rsqrt", OP_RSQRT, 1},
	{"ex2", OP_EX2, 1}, {"lg2", OP_LG2, 1}, {"sin", OP_SIN, 1}, {"cos", OP_COS, 1},
	{"tanh", OP_TANH, 1}, {"selp", OP_SELP, 3}, {"copysign", OP_COPYSIGN, 2},
	{"prmt", OP_PRMT, 3}, {"testp", OP_TESTP, 1}, {"bmsk", OP_BMSK, 2}, {"sad", OP_SAD, 3},
	{"lop3", OP_LOP3, 4}, {"fns", OP_FNS, 3},
};

static int parse_ops(struct P *P, struct opnd *o, int max, int kind, int *n)
{
	*n = 0;
	if (tok_isp(lex_peek(&P->L), ';')) {
		lex_next(&P->L);
		return 0;
	}
	for (;;) {
		if (*n >= max)
			return perr(P, -EINVAL, P->L.cur.line, "too many operands");
		int rc = parse_opnd(P, &o[(*n)++], kind);
		if (rc)
			return rc;
		struct tok *t = lex_next(&P->L);
		if (tok_isp(t, ';'))
			return 0;
		if (!tok_isp(t, ','))
			return perr(P, -EINVAL, t->line, "expected ',' or ';' after operand");
	}
}

static int need_slots(struct P *P, struct opnd *o, int n, int want, const char *name, uint32_t line)
{
	if (n != want)
		return perr(P, -EINVAL, line, "'%s' takes %d operands, got %d", name, want, n);
	for (int i = 0; i < n; i++)
		if (o[i].t != O_SLOT)
			return perr(P, -EINVAL, line, "operand %d of '%s' must be a register or immediate",
			            i + 1, name);
	return 0;
}

static int parse_call(struct P *P, struct ptx_insn *in, uint32_t line)
{
	struct ptx_module *m = P->m;
	struct ptx_call *c = grow(m->calls, &P->capcalls, m->ncalls + 1, sizeof(*c));
	if (!c)
		return perr(P, -ENOMEM, line, "out of memory");
	m->calls = c;
	c = &m->calls[m->ncalls];
	memset(c, 0, sizeof(*c));
	in->op = OP_CALL;
	in->imm = m->ncalls;
	c->line = line;
	struct tok *t = lex_next(&P->L);
	if (tok_isp(t, '(')) {
		t = lex_next(&P->L);
		int i = t->t == T_ID ? sym_find(P, t->s, t->n) : -1;
		if (i < 0 || P->syms[i].kind != S_PARAM)
			return perr(P, -EINVAL, t->line, "call return value must be a .param variable");
		c->ret_off = P->syms[i].off;
		c->nret = 1;
		if (!tok_isp(lex_next(&P->L), ')') || !tok_isp(lex_next(&P->L), ','))
			return perr(P, -ENOTSUP, t->line, "only one call return value is supported");
		t = lex_next(&P->L);
	}
	if (t->t != T_ID || t->n > PTX_NAME_MAX)
		return perr(P, -EINVAL, t->line, "expected a function name in call");
	int fi = find_func(P, t->s, t->n);
	if (fi >= 0) {
		c->callee = (uint32_t)fi;
	} else if (t->s[0] == '%') {
		/* call (ret), %rd, (args), prototype: through a function's address */
		int rc = ident_slot(P, t, &c->fslot);
		if (rc)
			return rc;
		c->indirect = 1;
	} else {
		return perr(P, -EINVAL, t->line, "call of '%.*s', which is neither a function nor a register",
		            (int)t->n, t->s);
	}
	t = lex_next(&P->L);
	if (tok_isp(t, ',')) {
		if (!tok_isp(lex_next(&P->L), '('))
			return perr(P, -EINVAL, t->line, "expected '(' before call arguments");
		for (;;) {
			t = lex_next(&P->L);
			if (tok_isp(t, ')'))
				break;
			if (tok_isp(t, ','))
				continue;
			int i = t->t == T_ID ? sym_find(P, t->s, t->n) : -1;
			if (i < 0 || P->syms[i].kind != S_PARAM)
				return perr(P, -EINVAL, t->line, "call arguments must be .param variables");
			if (c->nargs >= 32)
				return perr(P, -ENOTSUP, t->line, "more than 32 call arguments");
			c->arg_off[c->nargs++] = P->syms[i].off;
		}
		t = lex_next(&P->L);
	}
	if (c->indirect) {
		/* its .callprototype (or .calltargets) label: the target's shape is checked where the
		 * call runs, against the function the address names */
		if (!tok_isp(t, ',') || (t = lex_next(&P->L))->t != T_ID)
			return perr(P, -EINVAL, t->line, "an indirect call needs its prototype after the arguments");
		t = lex_next(&P->L);
	}
	if (!tok_isp(t, ';'))
		return perr(P, -EINVAL, t->line, "expected ';' after a call");
	m->ncalls++;
	return 0;
}

static int add_fix(struct P *P, const char *label, uint32_t line)
{
	void *x = grow(P->fix, &P->capfix, P->nfix + 1, sizeof(*P->fix));
	if (!x)
		return perr(P, -ENOMEM, line, "out of memory");
	P->fix = x;
	snprintf(P->fix[P->nfix].name, sizeof(P->fix[0].name), "%s", label);
	P->fix[P->nfix].insn = P->f->ncode - 1;
	P->fix[P->nfix].line = line;
	P->nfix++;
	return 0;
}

#define KB(k) (1u << (k))
#define KI (KB(K_U16) | KB(K_U32) | KB(K_U64))
#define KS (KB(K_S16) | KB(K_S32) | KB(K_S64))
#define KF (KB(K_F32) | KB(K_F64))
#define KALL (KI | KS | KF | KB(K_U8) | KB(K_S8) | KB(K_F16))
#define KH (KB(K_F16) | KB(K_F16X2) | KB(K_BF16) | KB(K_BF16X2))

/* Types the interpreter implements for each opcode (after signedness folding). */
static uint32_t op_kinds(int op)
{
	switch (op) {
	case OP_MOV: return KI | KF | KB(K_PRED) | KB(K_U8) | KH;
	case OP_ADD: case OP_SUB: case OP_MUL_LO: return KI | KF | KH;
	case OP_MAD_LO: return KI;
	case OP_NEG: return KI | KF | KH;
	case OP_SELP: return KI | KF | KB(K_F16) | KB(K_BF16);
	case OP_FMA: return KF | KH;
	case OP_RCP: case OP_SQRT: case OP_RSQRT: case OP_LG2:
	case OP_COPYSIGN: return KF;
	case OP_EX2: return KF | KH;
	case OP_SIN: case OP_COS: return KB(K_F32);
	case OP_TANH: return KB(K_F32) | KH;
	case OP_MUL_HI: return KI | KS;
	case OP_MAD_HI: return KB(K_U32) | KB(K_S32) | KB(K_U64) | KB(K_S64);
	case OP_MUL_WIDE: case OP_MAD_WIDE: return KB(K_U16) | KB(K_S16) | KB(K_U32) | KB(K_S32);
	case OP_DIV: return KI | KS | KF;
	case OP_MIN: case OP_MAX: return KI | KS | KF | KH;
	case OP_REM: return KI | KS;
	case OP_ABS: return KS | KF | KH;
	case OP_AND: case OP_OR: case OP_XOR: case OP_NOT: return KI | KB(K_PRED);
	case OP_CNOT: case OP_SHL: return KI;
	case OP_SHR: return KI | KS;
	case OP_SHF_L: case OP_SHF_R: case OP_PRMT: case OP_BMSK: case OP_DP4A: case OP_DP2A: case OP_VABSDIFF4:
	case OP_VSHIFT: case OP_CVTPACK: case OP_FNS:
		return KB(K_U32);
	case OP_MUL24: return KB(K_U32) | KB(K_S32);
	case OP_IMINMAX: return KB(K_U32);
	case OP_TESTP: return KB(K_F32) | KB(K_F64);
	case OP_STACK: return KB(K_U32) | KB(K_U64);
	case OP_LOP3: return KB(K_U32);
	case OP_POPC: case OP_CLZ: case OP_BREV: case OP_BFI: return KB(K_U32) | KB(K_U64);
	case OP_BFE: case OP_SAD: return KB(K_U32) | KB(K_S32) | KB(K_U64) | KB(K_S64);
	case OP_SETP: return KI | KS | KF | KB(K_PRED) | KB(K_F16) | KB(K_BF16);
	case OP_HSET: return KB(K_F16X2) | KB(K_BF16X2);
	case OP_CVT: return KALL | KB(K_BF16) | KB(K_BF16X2) | KB(K_F16X2);
	case OP_LD: case OP_ST: return KALL | KH;
	case OP_ATOM: return KB(K_U16) | KB(K_U32) | KB(K_S32) | KB(K_U64) | KB(K_S64) | KF | KH;
	case OP_PACK: case OP_UNPACK: return KB(K_U16) | KB(K_U32) | KB(K_U64) | KF;
	case OP_SHFL: case OP_ACTIVEMASK: case OP_ELECT: return KB(K_U32);
	case OP_CADD: case OP_CSUB: case OP_CMADLO: return KB(K_U32) | KB(K_U64);
	case OP_CMADHI: case OP_BFIND: return KB(K_U32) | KB(K_S32) | KB(K_U64) | KB(K_S64);
	case OP_FRND: return KF;
	case OP_VOTE: return KB(K_U32) | KB(K_PRED);
	case OP_MATCH: return KB(K_U32) | KB(K_U64);
	case OP_REDUX: return KB(K_U32) | KB(K_S32);
	default: return ~0u;   /* control flow, cvta, nop: type-independent */
	}
}

static int parse_insn_raw(struct P *P, const struct tok *t, uint32_t g, int gneg);

/* Parses one instruction whose mnemonic is t (guard already parsed into g/gneg), then
 * checks that the interpreter implements its opcode for its type. */
static int parse_insn(struct P *P, const struct tok *t, uint32_t g, int gneg)
{
	char name[64];
	uint32_t line = t->line;
	snprintf(name, sizeof(name), "%.*s", (int)(t->n < 60 ? t->n : 60), t->s);
	uint32_t before = P->f->ncode;
	int rc = parse_insn_raw(P, t, g, gneg);
	if (rc || P->f->ncode == before)
		return rc;
	struct ptx_insn *in = &P->f->code[P->f->ncode - 1];
	/* directed rounding on float arithmetic runs through fround.c */
	if ((in->kind == K_F32 || in->kind == K_F64) &&
	    (in->mod == RND_RZ || in->mod == RND_RM || in->mod == RND_RP) &&
	    (in->op == OP_ADD || in->op == OP_SUB || in->op == OP_MUL_LO || in->op == OP_FMA ||
	     in->op == OP_DIV || in->op == OP_SQRT || in->op == OP_RCP)) {
		in->kind2 = (uint8_t)in->op;
		in->op = OP_FRND;
	}
	if (in->kind >= 16 || !(op_kinds(in->op) & (1u << in->kind)) ||
	    (in->op == OP_CVT && (in->kind2 >= 16 || !((KALL | KB(K_BF16)) & (1u << in->kind2)))))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (type not implemented)", name);
	if ((in->op == OP_PACK || in->op == OP_UNPACK) && in->mod2 != 2 && in->mod2 != 4)
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (vector size)", name);
	if ((in->op == OP_LD || in->op == OP_ST) && LDST_VEC(in->mod2) != 1 && LDST_VEC(in->mod2) != 2 &&
	    LDST_VEC(in->mod2) != 4)
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (vector size)", name);
	return 0;
}

/* Instruction names the parser knows how to build (modifiers are checked per builder), in
 * strcmp order: every instruction asks, so by binary search. */
static int known_op(const char *op)
{
	static const char *const ops[] = {
		"abs", "activemask", "add", "addc", "alloca", "and", "applypriority", "atom", "bar",
		"barrier", "bfe", "bfi", "bfind", "bmsk", "bra", "brev", "call", "clz", "cnot",
		"copysign", "cos", "cp", "createpolicy", "cvt", "cvta", "discard", "div", "dp2a",
		"dp4a", "elect", "ex2", "exit", "fence", "fma", "fns", "getctarank", "griddepcontrol",
		"isspacep", "ld", "ldmatrix", "ldu", "lg2", "lop3", "mad", "mad24", "madc", "mapa",
		"match", "max", "mbarrier", "membar", "min", "mma", "mov", "movmatrix", "mul", "mul24", "multimem",
		"nanosleep", "neg", "not", "or", "pmevent", "popc", "prefetch", "prefetchu", "prmt",
		"rcp", "red", "redux", "rem", "ret", "rsqrt", "sad", "selp", "set", "setp", "shf",
		"shfl", "shl", "shr", "sin", "sqrt", "st", "stackrestore", "stacksave", "stmatrix",
		"sub", "subc", "suld", "suq", "sust", "tanh", "testp", "tex", "tld4", "trap", "txq",
		"vabsdiff4", "vote", "vshl", "vshr", "wmma", "xor",
	};
	size_t lo = 0, hi = sizeof(ops) / sizeof(ops[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(op, ops[mid]);
		if (!c)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* ---- texture and surface instructions ----------------------------------------------- */

static int expect_punct(struct P *P, int c, const char *name)
{
	struct tok *t = lex_next(&P->L);
	if (!tok_isp(t, c))
		return perr(P, -EINVAL, t->line, "malformed '%s': expected '%c'", name, c);
	return 0;
}

/* "[handle, coordinates]": the handle's register slot and the coordinates (a vector, or a
 * single register taken as a vector of one). */
static int parse_texaddr(struct P *P, const char *name, uint32_t *h, struct opnd *c)
{
	int rc;
	if ((rc = expect_punct(P, '[', name)))
		return rc;
	struct tok *t = lex_next(&P->L);
	if (t->t != T_ID)
		return perr(P, -EINVAL, t->line, "malformed '%s': expected a handle register after '['", name);
	int si = sym_find(P, t->s, t->n);
	if ((si >= 0 && P->syms[si].kind != S_REG) || (si < 0 && t->s[0] != '%'))
		return perr(P, -ENOTSUP, t->line, "unsupported instruction '%s' (texture, sampler and "
		            "surface references by name: only object handles in 64-bit registers)", name);
	if ((rc = ident_slot(P, t, h)))
		return rc;
	if (kind_size(P->slotkind[*h]) != 8)
		return perr(P, -EINVAL, t->line, "malformed '%s': handle '%.*s' is not a 64-bit register",
		            name, (int)t->n, t->s);
	if ((rc = expect_punct(P, ',', name)) || (rc = parse_opnd(P, c, K_F32)))
		return rc;
	if (c->t == O_SLOT) {
		c->t = O_VEC;
		c->vec[0] = c->slot;
		c->nvec = 1;
	}
	if (c->t != O_VEC)
		return perr(P, -EINVAL, P->L.cur.line, "malformed '%s': bad coordinates", name);
	t = lex_next(&P->L);
	if (tok_isp(t, ','))
		return perr(P, -ENOTSUP, t->line, "unsupported instruction '%s' (explicit sampler: "
		            "independent texture mode)", name);
	if (!tok_isp(t, ']'))
		return perr(P, -EINVAL, t->line, "malformed '%s': expected ']'", name);
	return 0;
}

/* The first of n contiguous slots holding coordinate slots c[0..n): c itself when already
 * contiguous, else fresh slots filled by moves emitted here, ahead of the instruction. A
 * texture instruction names more registers than an instruction has operand slots. */
static uint32_t coord_slots(struct P *P, const uint32_t *c, int n, uint32_t line)
{
	int contiguous = 1;
	for (int i = 1; i < n; i++)
		contiguous &= c[i] == c[0] + (uint32_t)i;
	if (contiguous)
		return c[0];
	uint32_t first = P->f->nslots;
	for (int i = 0; i < n; i++)
		new_slot(P, K_U64, 0);
	for (int i = 0; i < n && !P->rc; i++) {
		struct ptx_insn *in = emit(P, line);
		if (!in)
			break;
		in->op = OP_MOV;
		in->kind = K_U64;
		in->o[0] = first + (uint32_t)i;
		in->o[1] = c[i];
	}
	return first;
}

/* Whether every modifier of m is one of list (NULL-terminated) or a type. */
static int mn_only(const struct mn *m, const char *const *list)
{
	for (int i = 1; i < m->nparts; i++) {
		struct tok k = {.t = T_ID, .s = m->part[i], .n = strlen(m->part[i])};
		int ok = kind_of(&k) >= 0;
		for (const char *const *l = list; *l && !ok; l++)
			ok = !strcmp(m->part[i], *l);
		if (!ok)
			return 0;
	}
	return 1;
}

/* ---- warp matrix functions (wmma) ---------------------------------------------------- */

/* The first of n contiguous slots that an instruction writes and the moves emitted after it
 * put into d[0..n): d itself when already contiguous, else fresh slots. *moves tells the
 * caller to call out_moves() after emitting the instruction. */
static uint32_t out_slots(struct P *P, const uint32_t *d, int n, int *moves)
{
	int contiguous = 1;
	for (int i = 1; i < n; i++)
		contiguous &= d[i] == d[0] + (uint32_t)i;
	*moves = !contiguous;
	if (contiguous)
		return d[0];
	uint32_t first = P->f->nslots;
	for (int i = 0; i < n; i++)
		new_slot(P, K_U64, 0);
	return first;
}

static void out_moves(struct P *P, uint32_t first, const uint32_t *d, int n, uint32_t line, uint32_t g, int gneg)
{
	for (int i = 0; i < n && !P->rc; i++) {
		struct ptx_insn *in = emit(P, line);
		if (!in)
			return;
		in->op = OP_MOV;
		in->kind = K_U64;
		in->guard = g;
		in->gneg = (uint8_t)gneg;
		in->o[0] = d[i];
		in->o[1] = first + (uint32_t)i;
	}
}

/* A warp matrix instruction's operands: vectors of up to 8 registers (fragments). */
static int parse_frag_ops(struct P *P, struct opnd *o, int max, int *n)
{
	P->vec_max = 8;
	int rc = parse_ops(P, o, max, K_U32, n);
	P->vec_max = 0;
	return rc;
}

/* Emits tmpl, then (post != NULL) the moves that spread its contiguous output slots from
 * tmpl->o[0] on into the npost registers post names. */
static int emit_frag(struct P *P, struct ptx_insn *tmpl, uint32_t line, const uint32_t *post, int npost, uint32_t g,
		     int gneg)
{
	struct ptx_insn *in = P->rc ? NULL : emit(P, line);
	if (!in)
		return P->rc;
	tmpl->line = in->line;
	*in = *tmpl;
	if (post)
		out_moves(P, tmpl->o[0], post, npost, line, g, gneg);
	return P->rc;
}

/*
 * wmma.load.{a,b,c}, wmma.store.d, wmma.mma: the shapes m16n16k16, m32n8k16 and m8n32k16
 * with half inputs and f16 or f32 accumulators, or 8-bit integer inputs and s32
 * accumulators (what sm_70-sm_75 code uses; nvcc's default target). Fragments are blocks of contiguous slots (gathered by moves ahead of the
 * instruction, spread by moves after it); the interpreter runs the instruction for the whole
 * warp at once (OP_WMMA in warp_resolve).
 */
/* A wmma load's or store's fragment registers, address and stride into tmpl (whose op, mod,
 * size, kind and mod2 are set): the state space, and the slots loaded into (*post the
 * registers moved to after it, *post_moves how many) or stored from. */
static int wmma_access(struct P *P, const struct mn *m, const char *name, uint32_t line, struct ptx_insn *tmpl,
                       const struct opnd *o, int n, int nregs, int *post_moves, const struct opnd **post)
{
	int ld = mn_has(m, ".load");
	const struct opnd *regs = &o[ld ? 0 : 1], *addr = &o[ld ? 1 : 0];
	if ((n != 2 && n != 3) || regs->t != O_VEC || regs->nvec != nregs || regs->vec_imm ||
	    addr->t != O_ADDR || (n == 3 && (o[2].t != O_SLOT || o[2].neg)))
		return perr(P, -EINVAL, line, "malformed '%s': takes %s{%d registers}%s[address], stride", name,
		            ld ? "" : "[address], ", nregs, ld ? ", " : "");
	tmpl->kind2 = (uint8_t)(mn_has(m, ".global") ? SP_GLOBAL : mn_has(m, ".shared") ? SP_SHARED : SP_GENERIC);
	tmpl->o[1] = n == 3 ? o[2].slot : 0;
	tmpl->o[4] = addr->slot;
	tmpl->imm = addr->imm;
	if (ld) {
		tmpl->o[0] = out_slots(P, regs->vec, nregs, post_moves);
		*post = regs;
	} else {
		tmpl->o[0] = coord_slots(P, regs->vec, nregs, line);
	}
	return 0;
}

/*
 * wmma of doubles (sm_80's DMMA through nvcuda::wmma, as the CUDA samples' dmmaTensorCoreGemm
 * uses it): .m8n8k4 fragments of .f64, one register of A and of B a lane, two of C and D,
 * loaded and stored row- or column-major from global or shared memory with a stride;
 * wmma.mma.sync.aligned.{row,col}.{row,col}.m8n8k4.f64.f64.f64.f64{.rn}, each element of D
 * its fused multiply-adds in k's order, as mma.sync's.
 */
static int parse_wmma_f64(struct P *P, const struct mn *m, const char *name, uint32_t line, uint32_t g,
                          int gneg)
{
	static const char *const mods[] = {".load", ".store", ".mma", ".a", ".b", ".c", ".d", ".sync", ".aligned",
	                                   ".row", ".col", ".m8n8k4", ".global", ".shared", ".rn", NULL};
	int ld = mn_has(m, ".load"), st = mn_has(m, ".store"), mma = mn_has(m, ".mma"), nf64 = 0, rc, n = 0;
	for (int i = 1; i < m->nparts; i++)
		nf64 += !strcmp(m->part[i], ".f64");
	int frag = mn_has(m, ".a") ? WM_LOAD_A : mn_has(m, ".b") ? WM_LOAD_B : WM_LOAD_C;
	int row = mn_has(m, ".row"), col = mn_has(m, ".col");
	if (!mn_only(m, mods) || !mn_has(m, ".sync") || !mn_has(m, ".aligned") || ld + st + mma != 1 ||
	    (mma ? nf64 != 4 || row + col == 0 : nf64 != 1 || row == col || (st && !mn_has(m, ".d")) ||
	           (ld && mn_has(m, ".d")) || mn_has(m, ".rn")))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (wmma of doubles: load.{a,b,c} and "
		            "store.d .{row,col}.m8n8k4.f64, mma.{row,col}.{row,col}.m8n8k4.f64.f64.f64.f64)", name);
	struct opnd o[4];
	if ((rc = parse_frag_ops(P, o, 4, &n)))
		return rc;
	int post_moves = 0;
	const struct opnd *post = NULL;
	struct ptx_insn tmpl = {.guard = g, .gneg = (uint8_t)gneg, .op = OP_WMMA, .kind = K_F64, .kind2 = K_F64};
	if (mma) {
		static const int nregs[4] = {2, 1, 1, 2};
		for (int i = 0; i < 4 && n == 4; i++)
			if (o[i].t != O_VEC || o[i].nvec != nregs[i] || (i == 0 && o[i].vec_imm))
				n = -1;
		if (n != 4)
			return perr(P, -EINVAL, line, "malformed '%s': takes {d}, {a}, {b}, {c} of 2, 1, 1 and 2 "
			            "registers", name);
		tmpl.mod = WM_MMA;
		tmpl.size = WM_M8N8K4;
		for (int i = 1; i < 4; i++)
			tmpl.o[i] = coord_slots(P, o[i].vec, o[i].nvec, line);
		tmpl.o[0] = out_slots(P, o[0].vec, 2, &post_moves);
		post = &o[0];
	} else {
		tmpl.mod = (uint8_t)(st ? WM_STORE_D : frag);
		tmpl.size = WM_M8N8K4;
		tmpl.mod2 = (uint8_t)(row ? WM_ROW : 0);
		if ((rc = wmma_access(P, m, name, line, &tmpl, o, n, wm_nregs(frag, WM_M8N8K4, K_F64), &post_moves, &post)))
			return rc;
	}
	return emit_frag(P, &tmpl, line, post_moves ? post->vec : NULL, post_moves ? post->nvec : 0, g, gneg);
}

static int parse_wmma(struct P *P, const struct mn *m, const char *name, uint32_t line, uint32_t g, int gneg)
{
	static const char *const shapes[] = {".m16n16k16", ".m32n8k16", ".m8n32k16", ".m16n16k8", ".m8n8k4"};
	static const char *const mods[] = {".load", ".store", ".mma", ".a", ".b", ".c", ".d", ".sync", ".aligned",
	                                   ".row", ".col", ".m16n16k16", ".m32n8k16", ".m8n32k16", ".m16n16k8", ".global",
	                                   ".shared", ".satfinite", ".bf16", ".tf32", NULL};
	int shape = -1, rc, n = 0;
	for (int i = 0; i < 5; i++)
		if (mn_has(m, shapes[i]))
			shape = i;
	if (shape == WM_M8N8K4)
		return parse_wmma_f64(P, m, name, line, g, gneg);
	/* m16n16k8 is tf32's shape, and tf32 has no other: there, only accumulators are not tf32 */
	int k8 = shape == WM_M16N16K8, tf = mn_has(m, ".tf32"), acc = mn_has(m, ".c") || mn_has(m, ".d");
	if (shape < 0 || !mn_only(m, mods) || !mn_has(m, ".sync") || !mn_has(m, ".aligned") ||
	    (k8 ? !tf && !acc : tf))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (wmma: the .f16, .bf16, .s8 and .u8 "
		            "shapes m16n16k16, m32n8k16 and m8n32k16, and .tf32 in m16n16k8)", name);
	struct opnd o[4];
	if ((rc = parse_frag_ops(P, o, 4, &n)))
		return rc;
	int ld = mn_has(m, ".load"), st = mn_has(m, ".store"), mma = mn_has(m, ".mma");
	uint32_t pre[4] = {0};
	int post_moves = 0;
	const struct opnd *post = NULL;
	struct ptx_insn tmpl = {.guard = g, .gneg = (uint8_t)gneg, .op = OP_WMMA, .size = (uint8_t)shape};
	if (ld || st) {
		int frag = mn_has(m, ".a") ? WM_LOAD_A : mn_has(m, ".b") ? WM_LOAD_B : WM_LOAD_C;
		int kind = mn_has(m, ".bf16") ? (m->nkinds ? -1 : WM_K_BF16) : mn_has(m, ".tf32") ? (m->nkinds ? -1 : WM_K_TF32) :
		           m->nkinds == 1 ? m->kinds[0] : -1;
		int row = mn_has(m, ".row"), col = mn_has(m, ".col");
		int acc_kind = kind == K_F16 || kind == K_F32 || kind == K_S32;
		int in_kind = kind == K_F16 || kind == K_S8 || kind == K_U8 || kind == WM_K_BF16 || kind == WM_K_TF32;
		if ((st && !mn_has(m, ".d")) || (ld && mn_has(m, ".d")) || row == col || mn_has(m, ".satfinite") ||
		    (frag == WM_LOAD_C ? !acc_kind : !in_kind))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
		tmpl.mod = (uint8_t)(st ? WM_STORE_D : frag);
		/* the kind goes into the opcode's low 4 bits: tf32 (a kind of its own) is a flag */
		tmpl.kind = (uint8_t)(kind == WM_K_TF32 ? K_U32 : kind);
		tmpl.mod2 = (uint8_t)((row ? WM_ROW : 0) | (kind == WM_K_TF32 ? WM_TF32 : 0));
		if ((rc = wmma_access(P, m, name, line, &tmpl, o, n, wm_nregs(frag, shape, kind), &post_moves, &post)))
			return rc;
	} else if (mma) {
		/* .alayout.blayout, then the D and C types */
		int ar = -1, br = -1, seen = 0;
		for (int i = 1; i < m->nparts; i++)
			if (!strcmp(m->part[i], ".row") || !strcmp(m->part[i], ".col")) {
				int r = !strcmp(m->part[i], ".row");
				if (seen++ == 0)
					ar = r;
				else
					br = r;
			}
		/* floating point: .dtype.ctype; integer: .s32.atype.btype.s32 */
		int isint = m->nkinds == 3 && m->kinds[0] == K_S32, isbf = mn_has(m, ".bf16"), istf = mn_has(m, ".tf32");
		int dk = m->nkinds >= 2 ? m->kinds[0] : -1, ck = isint ? K_S32 : m->nkinds == 2 ? m->kinds[1] : -1;
		int ak = isint ? m->kinds[1] : isbf ? WM_K_BF16 : istf ? WM_K_TF32 : K_F16;
		if ((isbf || istf) && (dk != K_F32 || ck != K_F32))
			dk = -1;   /* bfloat16 and tf32 inputs accumulate in .f32 only */
		int ok = isint ? (ak == K_S8 || ak == K_U8) && m->kinds[2] == ak && !strcmp(m->part[m->nparts - 1 -
		                 mn_has(m, ".satfinite")], ".s32")
		               : m->nkinds == 2 && (dk == K_F16 || dk == K_F32) && (ck == K_F16 || ck == K_F32) &&
		                 !mn_has(m, ".satfinite");
		if (seen != 2 || !ok)
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
		int nd = wm_nregs(WM_LOAD_C, shape, dk), nc = wm_nregs(WM_LOAD_C, shape, ck);
		int na = wm_nregs(WM_LOAD_A, shape, ak), nb = wm_nregs(WM_LOAD_B, shape, ak);
		if (n != 4 || o[0].t != O_VEC || o[0].nvec != nd || o[0].vec_imm || o[1].t != O_VEC || o[1].nvec != na ||
		    o[2].t != O_VEC || o[2].nvec != nb || o[3].t != O_VEC || o[3].nvec != nc)
			return perr(P, -EINVAL, line, "malformed '%s': takes {d}, {a}, {b}, {c} of %d, %d, %d and %d "
			            "registers", name, nd, na, nb, nc);
		tmpl.mod = WM_MMA;
		tmpl.kind = (uint8_t)dk;
		tmpl.kind2 = (uint8_t)ck;
		tmpl.mod2 = (uint8_t)((ar ? WM_ROW : 0) | (br ? WM_B_ROW : 0) | (mn_has(m, ".satfinite") ? WM_SATF : 0) |
		                      (isint ? WM_INT_A : 0) | (ak == K_U8 ? WM_U8 : 0) | (isbf ? WM_BF16 : 0) |
		                      (istf ? WM_TF32 : 0));
		for (int i = 1; i < 4; i++)
			pre[i] = coord_slots(P, o[i].vec, o[i].nvec, line);
		tmpl.o[1] = pre[1];
		tmpl.o[2] = pre[2];
		tmpl.o[3] = pre[3];
		tmpl.o[0] = out_slots(P, o[0].vec, nd, &post_moves);
		post = &o[0];
	} else {
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
	}
	return emit_frag(P, &tmpl, line, post_moves ? post->vec : NULL, post_moves ? post->nvec : 0, g, gneg);
}

/*
 * mma.sync.aligned.{m16n8k16,m16n8k8,m16n8k32}.row.col{.satfinite}.dtype.atype.btype.ctype
 * d, a, b, c: the tensor-core instruction CUTLASS and hand-written kernels use, whose per-lane
 * fragments the PTX ISA fixes (unlike wmma's): f16 or bf16 inputs in m16n8k16 and m16n8k8 and
 * tf32 in m16n8k8, with f32 accumulators (f16 ones with f16 inputs); 8-bit integers (.s8 or
 * .u8 each) in m16n8k32 and m16n8k16 with s32 accumulators, wrapping or saturating. Run for
 * the whole warp at once (OP_WMMA).
 */
static int parse_mma(struct P *P, const struct mn *m, const char *name, uint32_t line, uint32_t g, int gneg)
{
	static const char *const mods[] = {".sync", ".aligned", ".m16n8k16", ".m16n8k8", ".m16n8k32", ".m8n8k4", ".row",
	                                   ".col", ".satfinite", ".f32", ".f16", ".bf16", ".tf32", ".s32", ".s8", ".u8",
	                                   ".f64", ".e4m3", ".e5m2", NULL};
	int shape = mn_has(m, ".m16n8k16") ? MS_M16N8K16 : mn_has(m, ".m16n8k8") ? MS_M16N8K8 :
	            mn_has(m, ".m16n8k32") ? MS_M16N8K32 : mn_has(m, ".m8n8k4") ? MS_M8N8K4 : -1;
	/* the four types follow .row.col, in the order D, A, B, C */
	const char *ty[4] = {"", "", "", ""};
	int nty = 0, layout_ok = 0;
	for (int i = 1; i < m->nparts; i++) {
		const char *x = m->part[i];
		if (!strcmp(x, ".row") && i + 1 < m->nparts && !strcmp(m->part[i + 1], ".col"))
			layout_ok = 1;
		else if (!strcmp(x, ".f32") || !strcmp(x, ".f16") || !strcmp(x, ".bf16") || !strcmp(x, ".tf32") ||
			 !strcmp(x, ".s32") || !strcmp(x, ".s8") || !strcmp(x, ".u8") || !strcmp(x, ".f64") ||
			 !strcmp(x, ".e4m3") || !strcmp(x, ".e5m2"))
			ty[nty < 4 ? nty++ : 3] = x;
	}
	/* m8n8k4 of doubles (sm_80, cuBLAS's, cuSOLVER's and cuSPARSE's DMMA): one double of A and
	 * of B a lane, two of C and D */
	int dmma = !strcmp(ty[0], ".f64") && !strcmp(ty[1], ".f64") && !strcmp(ty[2], ".f64") && !strcmp(ty[3], ".f64");
	if (shape == MS_M8N8K4 || dmma) {
		if (!(shape == MS_M8N8K4 && dmma && nty == 4 && layout_ok && mn_has(m, ".sync") && mn_has(m, ".aligned") &&
		      mn_only(m, mods) && !mn_has(m, ".satfinite")))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (mma of doubles: "
			            ".sync.aligned.m8n8k4.row.col.f64.f64.f64.f64)", name);
		struct opnd o[4];
		int n = 0, rc;
		if ((rc = parse_frag_ops(P, o, 4, &n)))
			return rc;
		static const int nregs[4] = { 2, 1, 1, 2 };
		for (int i = 0; i < 4 && n == 4; i++)
			if (o[i].t != O_VEC || o[i].nvec != nregs[i] || (i == 0 && o[i].vec_imm))
				n = -1;
		if (n != 4)
			return perr(P, -EINVAL, line, "malformed '%s': takes {d}, {a}, {b}, {c} of 2, 1, 1 and 2 registers", name);
		struct ptx_insn tmpl = {.guard = g, .gneg = (uint8_t)gneg, .op = OP_WMMA, .size = MS_M8N8K4,
		                        .mod = WM_MMA_SYNC, .kind = K_F64, .kind2 = K_F64};
		for (int i = 1; i < 4; i++)
			tmpl.o[i] = coord_slots(P, o[i].vec, o[i].nvec, line);
		int post_moves = 0;
		tmpl.o[0] = out_slots(P, o[0].vec, 2, &post_moves);
		return emit_frag(P, &tmpl, line, post_moves ? o[0].vec : NULL, 2, g, gneg);
	}
	int i8a = !strcmp(ty[1], ".s8") || !strcmp(ty[1], ".u8"), i8b = !strcmp(ty[2], ".s8") || !strcmp(ty[2], ".u8");
	int isint = i8a && i8b && !strcmp(ty[0], ".s32") && !strcmp(ty[3], ".s32");
	/* fp8 (sm_89, cuBLASLt's fp8 GEMMs): m16n8k32, .e4m3 or .e5m2 each, f32 or f16 accumulators */
	int f8a = !strcmp(ty[1], ".e4m3") || !strcmp(ty[1], ".e5m2"), f8b = !strcmp(ty[2], ".e4m3") || !strcmp(ty[2], ".e5m2");
	int isf8 = f8a && f8b;
	int in16 = !strcmp(ty[1], ".f16"), inbf = !strcmp(ty[1], ".bf16"), intf = !strcmp(ty[1], ".tf32");
	int dk = !strcmp(ty[0], ".f16") ? K_F16 : K_F32, ck = !strcmp(ty[3], ".f16") ? K_F16 : K_F32;
	int ok = shape >= 0 && layout_ok && nty == 4 && mn_has(m, ".sync") && mn_has(m, ".aligned") && mn_only(m, mods);
	if (ok && isint)   /* m16n8k32 and m16n8k16, s32 accumulators */
		ok = shape != MS_M16N8K8;
	else if (ok && isf8)
		ok = shape == MS_M16N8K32 && !mn_has(m, ".satfinite") && !strcmp(ty[0], dk == K_F16 ? ".f16" : ".f32") &&
		     !strcmp(ty[3], ck == K_F16 ? ".f16" : ".f32") && dk == ck;
	else if (ok)       /* f16 accumulators with f16 inputs only; tf32 in m16n8k8 only; no integer parts */
		ok = (in16 || inbf || intf) && !strcmp(ty[1], ty[2]) && shape != MS_M16N8K32 &&
		     !mn_has(m, ".satfinite") && (in16 || (dk == K_F32 && ck == K_F32)) && (!intf || shape == MS_M16N8K8) &&
		     !strcmp(ty[0], dk == K_F16 ? ".f16" : ".f32") && !strcmp(ty[3], ck == K_F16 ? ".f16" : ".f32");
	if (!ok)
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (mma: .sync.aligned .m16n8k16 and "
		            ".m16n8k8 .row.col with .f16 or .bf16 inputs, .tf32 in .m16n8k8, .f32 or .f16 accumulators; "
		            ".m16n8k32 and .m16n8k16 with .s8/.u8 inputs and .s32 accumulators; .m16n8k32 with .e4m3/.e5m2 "
		            "inputs and .f32 or .f16 accumulators)", name);
	int K = shape == MS_M16N8K32 ? 32 : shape == MS_M16N8K16 ? 16 : 8;
	/* registers: A holds 16*K elements over 32 lanes, B K*8, at 4 (8-bit), 2 (16-bit) or 1 a register */
	int per = isint || isf8 ? 4 : intf ? 1 : 2;
	int na = 16 * K / 32 / per, nb = K * 8 / 32 / per;
	int nd = isint || dk == K_F32 ? 4 : 2, nc = isint || ck == K_F32 ? 4 : 2;
	struct opnd o[4];
	int n = 0, rc;
	if ((rc = parse_frag_ops(P, o, 4, &n)))
		return rc;
	if (n != 4 || o[0].t != O_VEC || o[0].nvec != nd || o[0].vec_imm || o[1].t != O_VEC || o[1].nvec != na ||
	    o[2].t != O_VEC || o[2].nvec != nb || o[3].t != O_VEC || o[3].nvec != nc)
		return perr(P, -EINVAL, line, "malformed '%s': takes {d}, {a}, {b}, {c} of %d, %d, %d and %d "
		            "registers", name, nd, na, nb, nc);
	struct ptx_insn tmpl = {.guard = g, .gneg = (uint8_t)gneg, .op = OP_WMMA, .size = (uint8_t)shape,
	                        .mod = WM_MMA_SYNC, .kind = (uint8_t)(isint ? K_S32 : dk),
	                        .kind2 = (uint8_t)(isint ? K_S32 : ck),
	                        .mod2 = (uint8_t)(inbf ? WM_BF16 : intf ? WM_TF32 : 0)};
	if (isint)
		tmpl.mod2 = (uint8_t)(WM_INT_A | (!strcmp(ty[1], ".u8") ? WM_U8 : 0) | (!strcmp(ty[2], ".u8") ? MS_U8_B : 0) |
		                      (mn_has(m, ".satfinite") ? WM_SATF : 0));
	if (isf8)
		tmpl.mod2 = (uint8_t)(MS_FP8 | (!strcmp(ty[1], ".e5m2") ? WM_U8 : 0) | (!strcmp(ty[2], ".e5m2") ? MS_U8_B : 0));
	for (int i = 1; i < 4; i++)
		tmpl.o[i] = coord_slots(P, o[i].vec, o[i].nvec, line);
	int post_moves = 0;
	tmpl.o[0] = out_slots(P, o[0].vec, nd, &post_moves);
	return emit_frag(P, &tmpl, line, post_moves ? o[0].vec : NULL, nd, g, gneg);
}

/* ldmatrix.sync.aligned.m8n8.{x1,x2,x4}{.trans}.shared{::cta}.b16 d, [a]: 8x8 matrices of 16-bit
 * elements from shared memory, each row at an address of its own lane, into the lanes'
 * registers as mma.sync's fragments lay them out; stmatrix (sm_90) [a], d: the way back. */
static int parse_ldmatrix(struct P *P, const struct mn *m, const char *name, uint32_t line, uint32_t g, int gneg)
{
	int st = m->part[0][0] == 's';
	static const char *const mods[] = {".sync", ".aligned", ".m8n8", ".x1", ".x2", ".x4", ".trans", ".shared",
	                                   ".shared::cta", ".b16", NULL};
	int nm = mn_has(m, ".x1") ? 1 : mn_has(m, ".x2") ? 2 : mn_has(m, ".x4") ? 4 : 0;
	if (!nm || !mn_only(m, mods) || !mn_has(m, ".sync") || !mn_has(m, ".aligned") || !mn_has(m, ".m8n8") ||
	    !mn_has(m, ".b16") || !(mn_has(m, ".shared") || mn_has(m, ".shared::cta")))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (%s: .sync.aligned.m8n8 .x1, .x2 "
		            "or .x4, optionally .trans, %s .shared, of .b16)", name, st ? "stmatrix" : "ldmatrix",
		            st ? "to" : "from");
	struct opnd o[2];
	int n = 0, rc;
	if ((rc = parse_frag_ops(P, o, 2, &n)))
		return rc;
	const struct opnd *regs = &o[st ? 1 : 0], *addr = &o[st ? 0 : 1];
	int scalar = nm == 1 && regs->t == O_SLOT && !regs->neg;
	if (n != 2 || !(scalar || (regs->t == O_VEC && regs->nvec == nm && !regs->vec_imm)) || addr->t != O_ADDR)
		return perr(P, -EINVAL, line, "malformed '%s': takes %s{%d registers}%s", name, st ? "[address], " : "",
		            nm, st ? "" : ", [address]");
	struct ptx_insn tmpl = {.guard = g, .gneg = (uint8_t)gneg, .op = OP_WMMA, .size = (uint8_t)nm,
	                        .mod = (uint8_t)(st ? WM_STMATRIX : WM_LDMATRIX), .kind2 = SP_SHARED,
	                        .mod2 = (uint8_t)(mn_has(m, ".trans") ? WM_TRANS : 0)};
	tmpl.o[4] = addr->slot;
	tmpl.imm = addr->imm;
	const uint32_t *vr = scalar ? &regs->slot : regs->vec;
	if (st) {
		tmpl.o[0] = coord_slots(P, vr, nm, line);
		return emit_frag(P, &tmpl, line, NULL, 0, g, gneg);
	}
	int post_moves = 0;
	tmpl.o[0] = out_slots(P, vr, nm, &post_moves);
	return emit_frag(P, &tmpl, line, post_moves ? vr : NULL, nm, g, gneg);
}

/* movmatrix.sync.aligned.m8n8.trans.b16 d, a (sm_75): the 8x8 matrix of 16-bit elements the
 * warp holds as ldmatrix lays it out (a lane's register: two elements of a row), transposed. */
static int parse_movmatrix(struct P *P, const struct mn *m, const char *name, uint32_t line, uint32_t g, int gneg)
{
	static const char *const mods[] = {".sync", ".aligned", ".m8n8", ".trans", ".b16", NULL};
	if (!mn_only(m, mods) || !mn_has(m, ".sync") || !mn_has(m, ".aligned") || !mn_has(m, ".m8n8") ||
	    !mn_has(m, ".trans") || !mn_has(m, ".b16"))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (movmatrix: .sync.aligned.m8n8.trans.b16)",
		            name);
	struct opnd o[2];
	int n = 0, rc = parse_ops(P, o, 2, K_U32, &n);
	if (rc || (rc = need_slots(P, o, n, 2, name, line)))
		return rc;
	struct ptx_insn tmpl = {.guard = g, .gneg = (uint8_t)gneg, .op = OP_WMMA, .mod = WM_MOVMATRIX};
	tmpl.o[0] = o[0].slot;
	tmpl.o[1] = o[1].slot;
	return emit_frag(P, &tmpl, line, NULL, 0, g, gneg);
}

/*
 * The fp8 conversions of sm_89 and later (cuda_fp8.h's __nv_cvt_* on those targets):
 *   cvt.rn.satfinite{.relu}.{e4m3x2,e5m2x2}.f32 d, a, b     two floats to a pair, a above
 *   cvt.rn.satfinite{.relu}.{e4m3x2,e5m2x2}.f16x2 d, a      two halves to a pair
 *   cvt.rn{.relu}.f16x2.{e4m3x2,e5m2x2} d, a                a pair to two halves
 */
static int parse_cvt_fp8(struct P *P, const struct mn *m, const char *name, uint32_t line, uint32_t g, int gneg)
{
	static const char *const mods[] = {".rn", ".satfinite", ".relu", ".e4m3x2", ".e5m2x2", ".f32", ".f16x2", NULL};
	int e5 = mn_has(m, ".e5m2x2"), mode = -1;
	/* the destination type comes first */
	const char *dst = m->nparts > 1 ? m->part[m->nparts - 2] : "", *src = m->part[m->nparts - 1];
	if (!strcmp(src, ".f32") && (!strcmp(dst, ".e4m3x2") || !strcmp(dst, ".e5m2x2")))
		mode = FP8_FROM_F32;
	else if (!strcmp(src, ".f16x2") && (!strcmp(dst, ".e4m3x2") || !strcmp(dst, ".e5m2x2")))
		mode = FP8_FROM_F16X2;
	else if (!strcmp(dst, ".f16x2") && (!strcmp(src, ".e4m3x2") || !strcmp(src, ".e5m2x2")))
		mode = FP8_TO_F16X2;
	if (mode < 0 || !mn_only(m, mods) || !mn_has(m, ".rn") || (mn_has(m, ".e4m3x2") && e5) ||
	    (mode == FP8_TO_F16X2 ? mn_has(m, ".satfinite") : !mn_has(m, ".satfinite")))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (fp8: cvt.rn.satfinite{.relu}.{e4m3x2,"
		            "e5m2x2}.{f32,f16x2} and cvt.rn{.relu}.f16x2.{e4m3x2,e5m2x2})", name);
	struct opnd o[3];
	int n = 0, rc = parse_ops(P, o, 3, K_U32, &n);
	if (rc || (rc = need_slots(P, o, n, mode == FP8_FROM_F32 ? 3 : 2, name, line)))
		return rc;
	struct ptx_insn *in = emit(P, line);
	if (!in)
		return P->rc;
	in->guard = g;
	in->gneg = (uint8_t)gneg;
	in->op = OP_FP8;
	in->kind = K_NONE;
	in->mod = (uint8_t)mode;
	in->mod2 = (uint8_t)((e5 ? FP8_E5M2 : 0) | (mn_has(m, ".relu") ? FL_RELU : 0));
	in->o[0] = o[0].slot;
	in->o[1] = o[1].slot;
	if (mode == FP8_FROM_F32)
		in->o[2] = o[2].slot;
	return 0;
}

/* A bulk copy's direction from its spaces, the destination's the part at `at`: global to
 * shared completing on an mbarrier, shared to global in a bulk group, or neither (0). */
enum { BULK_LOAD = 1, BULK_STORE };
static int bulk_direction(const struct mn *m, int at)
{
	if (m->nparts <= at + 1)
		return 0;
	const char *d = m->part[at], *s = m->part[at + 1];
	if ((!strcmp(d, ".shared::cluster") || !strcmp(d, ".shared::cta")) && !strcmp(s, ".global") &&
	    mn_has(m, ".mbarrier::complete_tx::bytes"))
		return BULK_LOAD;
	if (!strcmp(d, ".global") && !strcmp(s, ".shared::cta") && mn_has(m, ".bulk_group"))
		return BULK_STORE;
	return 0;
}

/* A slot holding the address a names: its register, or (an offset given) a fresh slot that an
 * add emitted here fills, ahead of the instruction that uses it. */
static uint32_t addr_slot(struct P *P, const struct opnd *a, uint32_t line, uint32_t g, int gneg)
{
	if (!a->imm)
		return a->slot;
	uint32_t sum = new_slot(P, K_U64, 0), off = const_slot(P, (uint64_t)a->imm);
	struct ptx_insn *add = P->rc ? NULL : emit(P, line);
	if (add)
		*add = (struct ptx_insn){ .op = OP_ADD, .kind = K_U64, .guard = g, .gneg = (uint8_t)gneg,
		                          .line = add->line, .o = { sum, a->slot, off } };
	return sum;
}

/*
 * cp.async.bulk (sm_90's bulk copies, what cuda::memcpy_async of 16-byte-aligned sizes
 * compiles to there), its operands o[0..n) parsed: global -> shared completing its bytes on
 * an mbarrier
 *   cp.async.bulk.shared::{cluster,cta}.global.mbarrier::complete_tx::bytes [d], [s], n, [mbar]
 * shared -> global in a bulk group, and the group's commit and wait:
 *   cp.async.bulk.global.shared::cta.bulk_group [d], [s], n;  cp.async.bulk.commit_group;
 *   cp.async.bulk.wait_group{.read} N
 * and cp.async.bulk.prefetch.L2.global [a], n. The copy is made at once (the ISA promises it
 * only at the completion), so the group's commit and wait have nothing left to do, and the
 * simulator has no L2 to prefetch into. (The tensor forms: parse_tma.)
 */
static int parse_bulk(struct P *P, const struct mn *m, const char *name, uint32_t line, uint32_t g, int gneg,
		      const struct opnd *o, int n)
{
	static const char *const mods[] = {".async", ".bulk", ".shared::cluster", ".shared::cta", ".global",
	                                   ".mbarrier::complete_tx::bytes", ".bulk_group", ".L2::cache_hint",
	                                   ".commit_group", ".wait_group", ".read", NULL};
	static const char *const pf_mods[] = {".async", ".bulk", ".prefetch", ".L2", ".global", ".L2::cache_hint", NULL};
	int nop = 0;
	if (mn_has(m, ".prefetch")) {
		if (!mn_only(m, pf_mods) || !mn_has(m, ".global") || n < 2 || n > 3 || o[0].t != O_ADDR)
			return perr(P, -EINVAL, line, "malformed '%s': cp.async.bulk.prefetch.L2.global [a], size", name);
		nop = 1;
	} else if (!mn_has(m, ".async") || !mn_only(m, mods)) {
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (cp.async.bulk: global to shared on an "
		            "mbarrier, shared to global in a bulk group; no multicast form)", name);
	} else if (mn_has(m, ".commit_group") || mn_has(m, ".wait_group")) {
		if (n > 1 || (mn_has(m, ".wait_group") ? n != 1 : n != 0))
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		nop = 1;
	}
	struct ptx_insn tmpl = { .op = OP_NOP, .kind = K_NONE, .guard = g, .gneg = (uint8_t)gneg };
	if (!nop) {
		int hint = mn_has(m, ".L2::cache_hint");
		int dir = bulk_direction(m, 3), ld = dir == BULK_LOAD;
		if (!dir || n != (ld ? 4 : 3) + hint || o[0].t != O_ADDR || o[1].t != O_ADDR ||
		    o[2].t != O_SLOT || (ld && o[3].t != O_ADDR))
			return perr(P, -EINVAL, line, "malformed '%s': takes [dst], [src], size%s", name,
			            ld ? ", [mbarrier]" : "");
		tmpl.op = OP_MBAR;
		tmpl.mod = (uint8_t)(ld ? MB_BULK_LOAD : MB_BULK_STORE);
		tmpl.kind2 = SP_SHARED;
		tmpl.o[0] = o[0].slot;
		tmpl.imm = o[0].imm;
		tmpl.o[1] = o[1].slot;
		tmpl.o[3] = const_slot(P, (uint64_t)o[1].imm);
		tmpl.o[2] = o[2].slot;
		if (ld)
			tmpl.o[4] = addr_slot(P, &o[3], line, g, gneg);
	}
	struct ptx_insn *in = P->rc ? NULL : emit(P, line);
	if (!in)
		return P->rc;
	tmpl.line = in->line;
	*in = tmpl;
	return 0;
}

/*
 * The tiled tensor bulk copies of sm_90 (TMA), with a tensor map the program encoded:
 *   cp.async.bulk.tensor.Nd.shared::{cluster,cta}.global{.tile}.mbarrier::complete_tx::bytes
 *       [dst], [tmap, {c0, ...}], [mbar]{, policy}
 *   cp.async.bulk.tensor.Nd.global.shared::cta{.tile}.bulk_group [tmap, {c0, ...}], [src]{, policy}
 * (N 1 to 5, .L2::cache_hint for the policy). Multicast, im2col and gather forms are refused.
 */
static int parse_tma(struct P *P, const struct mn *m, const char *name, uint32_t line, uint32_t g, int gneg)
{
	static const char *const mods[] = {".async", ".bulk", ".tensor", ".1d", ".2d", ".3d", ".4d", ".5d",
	                                   ".shared::cluster", ".shared::cta", ".global", ".tile",
	                                   ".mbarrier::complete_tx::bytes", ".bulk_group", ".L2::cache_hint", NULL};
	int rank = 0;
	for (int i = 1; i <= 5; i++) {
		char d[4] = {'.', (char)('0' + i), 'd', 0};
		if (mn_has(m, d))
			rank = i;
	}
	/* cp .async .bulk .tensor .Nd, then the destination's space and the source's */
	int dir = bulk_direction(m, 5), ld = dir == BULK_LOAD;
	if (mn_has(m, ".prefetch")) {
		int hint = mn_has(m, ".L2::cache_hint"), rc;
		struct opnd coords, policy;
		uint32_t tmap = 0;
		/* cp.async.bulk.prefetch.tensor.Nd.L2.global{.tile} [tmap, {c...}]{, policy}: a hint into
		 * L2, which the simulator has not */
		static const char *const pf_mods[] = {".async", ".bulk", ".prefetch", ".tensor", ".1d", ".2d", ".3d", ".4d",
		                                      ".5d", ".L2", ".global", ".tile", ".L2::cache_hint", NULL};
		if (!rank || !mn_only(m, pf_mods))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (tensor prefetch: tiled)", name);
		P->vec_max = 8;
		rc = parse_texaddr(P, name, &tmap, &coords);
		if (!rc && hint && !(rc = expect_punct(P, ',', name)))
			rc = parse_opnd(P, &policy, K_U64);
		P->vec_max = 0;
		if (rc)
			return rc;
		if (!tok_isp(lex_next(&P->L), ';') || coords.nvec != rank)
			return perr(P, -EINVAL, line, "malformed '%s': takes [tensor-map, {%d coordinates}]", name, rank);
		struct ptx_insn *in = emit(P, line);
		if (!in)
			return P->rc;
		in->op = OP_NOP;
		in->kind = K_NONE;
		return 0;
	}
	if (!rank || !mn_only(m, mods) || !mn_has(m, ".async") || !dir)
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (cp.async.bulk.tensor: tiled, 1 to 5 "
		            "dimensions, global to shared on an mbarrier or shared to global in a bulk group; no "
		            "multicast, im2col or gather)", name);
	int hint = mn_has(m, ".L2::cache_hint"), rc;
	struct opnd smem, coords, mbar, policy;
	uint32_t tmap = 0;
	P->vec_max = 8;
	if (ld)
		rc = parse_opnd(P, &smem, K_U64);
	else
		rc = parse_texaddr(P, name, &tmap, &coords);
	if (!rc)
		rc = expect_punct(P, ',', name);
	if (!rc && ld)
		rc = parse_texaddr(P, name, &tmap, &coords);
	else if (!rc)
		rc = parse_opnd(P, &smem, K_U64);
	if (!rc && ld && !(rc = expect_punct(P, ',', name)))
		rc = parse_opnd(P, &mbar, K_U64);
	if (!rc && hint && !(rc = expect_punct(P, ',', name)))
		rc = parse_opnd(P, &policy, K_U64);
	P->vec_max = 0;
	if (rc)
		return rc;
	struct tok *t = lex_next(&P->L);
	if (!tok_isp(t, ';') || smem.t != O_ADDR || (ld && mbar.t != O_ADDR) || coords.nvec != rank || coords.vec_imm)
		return perr(P, -EINVAL, line, "malformed '%s': takes %s with %d coordinates", name,
		            ld ? "[dst], [tensor-map, {coordinates}], [mbarrier]" : "[tensor-map, {coordinates}], [src]",
		            rank);
	uint32_t first = coord_slots(P, coords.vec, rank, line), mb = ld ? addr_slot(P, &mbar, line, g, gneg) : 0;
	struct ptx_insn *in = P->rc ? NULL : emit(P, line);
	if (!in)
		return P->rc;
	*in = (struct ptx_insn){ .op = OP_MBAR, .kind = K_NONE, .guard = g, .gneg = (uint8_t)gneg, .line = in->line,
	                         .mod = (uint8_t)(ld ? MB_TMA_LOAD : MB_TMA_STORE), .kind2 = SP_SHARED,
	                         .size = (uint8_t)rank, .imm = smem.imm, .o = { smem.slot, tmap, first, 0, mb } };
	return P->rc;
}

/* txq/suq d, [h]: one attribute of a texture or surface object. */
static int parse_txq(struct P *P, const struct mn *m, const char *name, uint32_t line,
                     uint32_t g, int gneg)
{
	static const char *const q[] = {".width", ".height", ".depth", ".channel_data_type",
		".channel_order", ".normalized_coords", ".filter_mode", ".addr_mode_0", ".addr_mode_1",
		".addr_mode_2", ".array_size", ".num_mipmap_levels", ".num_samples", ".memory_layout"};
	int su = m->part[0][0] == 's', a = -1;
	for (int i = 0; i <= TQ_MEMORY_LAYOUT; i++)
		if (mn_has(m, q[i]))
			a = i;
	/* txq.level.{width,height,depth} d, [h], lod: an extent of one mipmap level */
	int lvl = !su && mn_has(m, ".level");
	int valid = su ? a == TQ_WIDTH || a == TQ_HEIGHT || a == TQ_DEPTH || a == TQ_CHANNEL_DATA_TYPE ||
	                 a == TQ_CHANNEL_ORDER || a == TQ_ARRAY_SIZE || a == TQ_MEMORY_LAYOUT
	               : lvl ? a == TQ_WIDTH || a == TQ_HEIGHT || a == TQ_DEPTH
	               : a >= 0 && a != TQ_MEMORY_LAYOUT;
	if (!valid || m->nparts != 3 + lvl || m->nkinds != 1 || m->kinds[0] != K_U32 || !mn_has(m, ".b32"))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
	struct opnd o[3];
	int n, rc;
	if ((rc = parse_ops(P, o, 3, K_U32, &n)))
		return rc;
	if (n != 2 + lvl || o[0].t != O_SLOT || o[0].is_imm || o[1].t != O_ADDR || o[1].imm || !o[1].slot ||
	    kind_size(P->slotkind[o[1].slot]) != 8 || (lvl && o[2].t != O_SLOT))
		return perr(P, -EINVAL, line, "malformed '%s': takes a register and [handle register]%s", name,
		            lvl ? " and a level" : "");
	struct ptx_insn *in = emit(P, line);
	if (!in)
		return P->rc;
	in->guard = g;
	in->gneg = (uint8_t)gneg;
	in->op = OP_TXQ;
	in->kind = K_U32;
	in->mod = (uint8_t)a;
	in->mod2 = (uint8_t)(su | (lvl ? TXQ_LEVEL : 0));
	in->o[0] = o[0].slot;
	in->o[1] = lvl ? o[2].slot : 0;
	in->o[4] = o[1].slot;
	return 0;
}

/* tex, tld4, suld.b, sust.b (txq and suq above): geometry, types, then the operands, the
 * coordinates gathered into contiguous slots named by imm. */
static int parse_tex(struct P *P, const struct mn *m, const char *name, uint32_t line,
                     uint32_t g, int gneg)
{
	static const char *const gn[] = {".1d", ".2d", ".3d", ".a1d", ".a2d", ".cube", ".acube"};
	static const char *const tex_mods[] = {".1d", ".2d", ".3d", ".a1d", ".a2d", ".cube", ".acube", ".v4",
	                                       ".base", ".level", ".grad", NULL};
	static const char *const tld4_mods[] = {".2d", ".a2d", ".v4", ".r", ".g", ".b", ".a", NULL};
	static const char *const su_mods[] = {".b", ".1d", ".2d", ".3d", ".a1d", ".a2d", ".v2", ".v4",
	                                      ".trap", ".clamp", ".zero", ".ca", ".cg", ".cs", ".cv",
	                                      ".wb", ".wt", NULL};
	static const int need[] = {1, 2, 3, 2, 3, 3, 4};   /* coordinates used per geometry */
	static const int vmax[] = {1, 2, 4, 2, 4, 4, 4};   /* the vector PTX writes (3d, a2d, cube: padded) */
	const char *op = m->part[0];
	if (name_eq(op, "txq") || name_eq(op, "suq"))
		return parse_txq(P, m, name, line, g, gneg);
	int tld4 = name_eq(op, "tld4"), su = op[0] == 's', st = name_eq(op, "sust");
	int geom = -1, rc;
	for (int i = 0; i < 7; i++)
		if (mn_has(m, gn[i]))
			geom = i;
	if (mn_has(m, ".2dms") || mn_has(m, ".a2dms") || (geom >= TG_CUBE && (su || tld4)))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (multisample geometries, and "
		            "cube maps other than tex's)", name);
	if (mn_has(m, ".f16x2") || mn_has(m, ".f16"))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (half-precision results: "
		            "use .v4.f32)", name);
	if (su && mn_has(m, ".p"))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (formatted surface access "
		            ".p: only .b)", name);
	if (geom < 0 || !mn_only(m, su ? su_mods : tld4 ? tld4_mods : tex_mods) ||
	    (tld4 && geom != TG_2D && geom != TG_A2D))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);

	int kind, kind2 = K_NONE, vec = 4, mod2 = 0;
	if (su) {
		vec = mn_has(m, ".v4") ? 4 : mn_has(m, ".v2") ? 2 : 1;
		kind = m->nkinds == 1 ? m->kinds[0] : -1;
		if (!mn_has(m, ".b") || (kind != K_U8 && kind != K_U16 && kind != K_U32 && kind != K_U64) ||
		    (!mn_has(m, ".b8") && !mn_has(m, ".b16") && !mn_has(m, ".b32") && !mn_has(m, ".b64")))
			return perr(P, -EINVAL, line, "malformed '%s': needs .b and one of .b8 .b16 .b32 .b64", name);
		mod2 = (mn_has(m, ".zero") ? SU_ZERO : mn_has(m, ".clamp") ? SU_CLAMP : SU_TRAP) | vec << 2;
	} else {
		kind = m->nkinds == 2 ? m->kinds[0] : -1;
		kind2 = m->nkinds == 2 ? m->kinds[1] : -1;
		if (!mn_has(m, ".v4") || (kind != K_F32 && kind != K_S32 && kind != K_U32) ||
		    (kind2 != K_F32 && kind2 != K_S32) || ((tld4 || geom >= TG_CUBE) && kind2 != K_F32))
			return perr(P, -EINVAL, line, "malformed '%s': needs .v4, a .f32, .s32 or .u32 result "
			            "and .f32 or .s32 coordinates", name);
		if (tld4) {
			static const char *const comp[] = {".r", ".g", ".b", ".a"};
			int cp = -1;
			for (int i = 0; i < 4; i++)
				if (mn_has(m, comp[i]))
					cp = i;
			if (cp < 0)
				return perr(P, -EINVAL, line, "malformed '%s': needs a component .r .g .b or .a", name);
			mod2 = TEX_TLD4 | cp;
		}
	}

	/* operands: tex/tld4/suld d, [h, c] ...; sust [h, c], v */
	struct opnd d, c, x;
	uint32_t h = 0;
	if (st) {
		if ((rc = parse_texaddr(P, name, &h, &c)) || (rc = expect_punct(P, ',', name)) ||
		    (rc = parse_opnd(P, &d, K_U32)))
			return rc;
		if (d.t == O_SLOT && vec == 1) {
			d.t = O_VEC;
			d.vec[0] = d.slot;
			d.nvec = 1;
		}
	} else {
		if ((rc = parse_opnd(P, &d, K_F32)))
			return rc;
		if (d.t == O_VEC && d.vec_imm)
			return perr(P, -EINVAL, line, "'%s' cannot load into a number", name);
		if (tok_isp(lex_peek(&P->L), '|'))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (residency predicate "
			            "destination)", name);
		if ((rc = expect_punct(P, ',', name)) || (rc = parse_texaddr(P, name, &h, &c)))
			return rc;
	}
	if (d.t != O_VEC || d.nvec != vec)
		return perr(P, -EINVAL, line, "malformed '%s': the %s must be a vector of %d", name,
		            st ? "value" : "destination", vec);
	if (c.nvec != vmax[geom] && !(vmax[geom] == 4 && c.nvec == 3 && need[geom] <= 3))
		return perr(P, -EINVAL, line, "malformed '%s': %d coordinates for a %s access", name,
		            c.nvec, gn[geom] + 1);
	/* tex.level's level of detail (one operand), tex.grad's gradients (two vectors, as wide
	 * as the coordinates without the layer): gathered after the coordinates */
	static const int gdim[] = {1, 2, 3, 1, 2, 3, 3};    /* gradient components used */
	static const int gvec[] = {1, 2, 4, 1, 2, 4, 4};    /* the vector PTX writes */
	int extra = mn_has(m, ".level") ? 1 : mn_has(m, ".grad") ? 2 : 0;
	if (extra && (su || tld4 || (mn_has(m, ".level") && mn_has(m, ".grad"))))
		return perr(P, -EINVAL, line, "malformed '%s'", name);
	uint32_t all[4 + 2 * 4];
	int nall = need[geom];
	memcpy(all, c.vec, (size_t)nall * sizeof(all[0]));
	for (int i = 0; i < extra; i++) {
		if ((rc = expect_punct(P, ',', name)) || (rc = parse_opnd(P, &x, K_F32)))
			return rc;
		if (extra == 1 && x.t == O_SLOT) {
			all[nall++] = x.slot;
			continue;
		}
		if (extra == 2 && x.t == O_SLOT && gvec[geom] == 1) {   /* a 1D gradient, unbraced */
			x.t = O_VEC;
			x.vec[0] = x.slot;
			x.nvec = 1;
		}
		if (extra == 1 || x.t != O_VEC || (x.nvec != gvec[geom] && !(gvec[geom] == 4 && x.nvec == 3)))
			return perr(P, -EINVAL, line, "malformed '%s': bad %s operand", name,
			            extra == 1 ? "level" : "gradient");
		for (int k = 0; k < gdim[geom]; k++)
			all[nall++] = x.vec[k];
	}
	struct tok *t = lex_next(&P->L);
	if (tok_isp(t, ','))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (texel offset and depth "
		            "compare operands)", name);
	if (!tok_isp(t, ';'))
		return perr(P, -EINVAL, t->line, "malformed '%s': expected ';'", name);

	uint32_t first = coord_slots(P, all, nall, line);
	struct ptx_insn *in = P->rc ? NULL : emit(P, line);
	if (!in)
		return P->rc;
	in->guard = g;
	in->gneg = (uint8_t)gneg;
	in->op = su ? (st ? OP_SUST : OP_SULD) : OP_TEX;
	in->kind = (uint8_t)kind;
	in->kind2 = (uint8_t)kind2;
	in->mod = (uint8_t)geom;
	in->mod2 = (uint8_t)(mod2 | (extra == 1 ? TEX_LEVEL : extra == 2 ? TEX_GRAD : 0));
	in->size = (uint8_t)kind_size(kind);
	for (int i = 0; i < vec; i++)
		in->o[i] = d.vec[i];
	in->o[4] = h;
	in->imm = first;
	return 0;
}

/* Whether an operand names a .b128 register (an address's base cannot be one). */
static int has_wide(const struct P *P, const struct opnd *o, int n)
{
	for (int i = 0; i < n; i++) {
		if ((o[i].t == O_SLOT || o[i].t == O_PAIR || o[i].t == O_ADDR) && P->slotkind[o[i].slot] == K_B128)
			return 1;
		for (int j = 0; o[i].t == O_VEC && j < o[i].nvec; j++)
			if (P->slotkind[o[i].vec[j]] == K_B128)
				return 1;
	}
	return 0;
}

/* The last instruction emitted, the copy for the next of its pieces: in may move. */
static struct ptx_insn *emit_copy(struct P *P, uint32_t line)
{
	struct ptx_insn prev = P->f->code[P->f->ncode - 1];
	struct ptx_insn *in = emit(P, line);
	if (in)
		*in = prev;
	return in;
}

/* Turns v, a .b128 register loaded or stored at address a (not one itself), into the vector
 * of its two slots; 0 (nothing changed) for anything else. */
static int b128_pair(const struct P *P, struct opnd *v, const struct opnd *a)
{
	if (v->t != O_SLOT || v->is_imm || P->slotkind[v->slot] != K_B128 || a->t != O_ADDR ||
	    P->slotkind[a->slot] == K_B128)
		return 0;
	uint32_t s = v->slot;
	memset(v, 0, sizeof(*v));
	v->t = O_VEC;
	v->nvec = 2;
	v->vec[0] = s;
	v->vec[1] = s + 1;
	return 1;
}

/*
 * Instructions on .b128 registers (CUDA's 128-bit atomicExch/atomicCAS and cuda::atomic_ref
 * of 16-byte types from sm_90, __int128 moved whole), each register two 64-bit slots, other
 * than loads and stores (b128_pair): mov between one and a pair of 64-bit values or another,
 * atom.exch and atom.cas as one 16-byte atomic. The instruction is emitted (P->f's last).
 */
static int parse_b128(struct P *P, const struct mn *m, const char *name, uint32_t line,
                      const struct opnd *o, int n)
{
	const char *op = m->part[0];
	struct ptx_insn *in = &P->f->code[P->f->ncode - 1];
	int k = m->nkinds ? m->kinds[m->nkinds - 1] : K_NONE;
#define WIDE(x) ((x).t == O_SLOT && !(x).is_imm && P->slotkind[(x).slot] == K_B128)
#define PAIR(x) ((x).t == O_VEC && (x).nvec == 2 && kind_size(P->slotkind[(x).vec[0]]) == 8 && \
                 kind_size(P->slotkind[(x).vec[1]]) == 8 && !(x).vec_imm)
	if (k != K_B128 || m->nkinds != 1 || mn_has(m, ".v2") || mn_has(m, ".v4"))
		goto bad;
	in->kind = K_U64;
	if (name_eq(op, "mov") && n == 2 && (WIDE(o[0]) || PAIR(o[0])) && (WIDE(o[1]) || PAIR(o[1]))) {
		/* two moves, the low halves first: no register is both a half and a pair member */
		uint32_t d[2], a[2];
		for (int h = 0; h < 2; h++) {
			d[h] = o[0].t == O_VEC ? o[0].vec[h] : o[0].slot + (uint32_t)h;
			a[h] = o[1].t == O_VEC ? o[1].vec[h] : o[1].slot + (uint32_t)h;
		}
		if (o[0].t == O_VEC && o[1].t == O_VEC)
			goto bad;
		in->op = OP_MOV;
		in->o[0] = d[0];
		in->o[1] = a[0];
		if (!(in = emit_copy(P, line)))
			return P->rc;
		in->o[0] = d[1];
		in->o[1] = a[1];
		return 0;
	}
	if (name_eq(op, "atom") && (mn_has(m, ".exch") || mn_has(m, ".cas")) && n == 3 + mn_has(m, ".cas") &&
	    WIDE(o[0]) && o[1].t == O_ADDR && P->slotkind[o[1].slot] != K_B128 && WIDE(o[2]) &&
	    (n == 3 || WIDE(o[3]))) {
		in->op = OP_ATOM;
		in->mod = mn_has(m, ".cas") ? AT_CAS : AT_EXCH;
		in->kind2 = (uint8_t)space_of(m);
		in->size = 16;
		in->o[0] = o[0].slot;
		in->o[1] = o[2].slot;
		in->o[2] = n == 4 ? o[3].slot : 0;
		in->o[4] = o[1].slot;
		in->imm = o[1].imm;
		return 0;
	}
bad:
	return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (128-bit registers: mov, ld, st, "
	            "atom.exch and atom.cas of .b128 only)", name);
#undef WIDE
#undef PAIR
}

/*
 * Vector atomics (sm_90: CUDA's atomicAdd of float2 and float4, and of vectors of halves):
 * atom.add.{v2,v4}.f32, .{v2,v4}.{f16x2,bf16x2}, .{v2,v4,v8}.{f16,bf16}, and red's forms.
 * Each element is its own atomic, as the ISA has them; the address and the sources are
 * copied first (a destination may be a later element's source), and the first element
 * checks the vector's alignment. The instruction is emitted (P->f's last).
 */
static int parse_atom_vec(struct P *P, const struct mn *m, const char *name, uint32_t line,
                          const struct opnd *o, int n)
{
	int isred = m->part[0][0] == 'r', k = m->nkinds == 1 ? m->kinds[0] : -1;
	int nv = mn_has(m, ".v2") ? 2 : mn_has(m, ".v4") ? 4 : 8;
	const struct opnd *a = &o[isred ? 0 : 1], *src = &o[isred ? 1 : 2];
	int kok = k == K_F32 || k == K_F16X2 || k == K_BF16X2 ? nv <= 4 : k == K_F16 || k == K_BF16;
	if (!mn_has(m, ".add") || !kok || n != (isred ? 2 : 3) || a->t != O_ADDR || src->t != O_VEC ||
	    src->nvec != nv || (!isred && (o[0].t != O_VEC || o[0].nvec != nv || o[0].vec_imm)))
		return perr(P, -ENOTSUP, line, "unsupported atomic '%s' (vector atomics: .add of .v2/.v4 .f32, "
		            ".f16x2 or .bf16x2, and of .v2/.v4/.v8 .f16 or .bf16)", name);
	uint32_t esz = kind_size(k), ta = new_slot(P, K_U64, 0), tb[8], dst[8];
	for (int i = 0; i < nv; i++) {
		tb[i] = new_slot(P, K_U64, 0);
		dst[i] = isred ? new_slot(P, K_U64, 0) : o[0].vec[i];
	}
	struct ptx_insn *in = &P->f->code[P->f->ncode - 1];
	in->op = OP_MOV;
	in->kind = K_U64;
	in->o[0] = ta;
	in->o[1] = a->slot;
	for (int i = 0; i < nv; i++) {
		if (!(in = emit_copy(P, line)))
			return P->rc;
		in->o[0] = tb[i];
		in->o[1] = src->vec[i];
	}
	for (int i = 0; i < nv; i++) {
		if (!(in = emit_copy(P, line)))
			return P->rc;
		in->op = OP_ATOM;
		in->kind = (uint8_t)k;
		in->kind2 = (uint8_t)space_of(m);
		in->mod = (uint8_t)(AT_ADD | (isred ? AT_RED : 0));
		in->mod2 = (uint8_t)(i == 0 ? nv * esz : 0);
		in->size = (uint8_t)esz;
		in->o[0] = dst[i];
		in->o[1] = tb[i];
		in->o[4] = ta;
		in->imm = a->imm + (int64_t)(i * esz);
	}
	return 0;
}

static int parse_insn_raw(struct P *P, const struct tok *t, uint32_t g, int gneg)
{
	uint32_t line = t->line;
	struct mn m;
	char name[64];
	size_t nn = t->n < 60 ? t->n : 60;
	memcpy(name, t->s, nn);
	name[nn] = 0;
	if (mn_split(t, &m))
		return perr(P, -EINVAL, line, "malformed instruction '%s'", name);
	const char *op = m.part[0];
	if (!known_op(op))   /* before its operands, whose syntax may be unknown too (tex, ...) */
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
	int k = m.nkinds ? m.kinds[m.nkinds - 1] : K_NONE;
	if (name_eq(op, "wmma")) {   /* its own types: .bf16 and .tf32 name fragments, not kinds */
		mn_kinds(&m, 1u << K_BF16 | 1u << K_BF16X2);
		return parse_wmma(P, &m, name, line, g, gneg);
	}
	if (name_eq(op, "mma"))
		return parse_mma(P, &m, name, line, g, gneg);
	if (name_eq(op, "cp") && mn_has(&m, ".tensor"))
		return parse_tma(P, &m, name, line, g, gneg);
	if (name_eq(op, "ldmatrix") || name_eq(op, "stmatrix"))
		return parse_ldmatrix(P, &m, name, line, g, gneg);
	if (name_eq(op, "movmatrix"))
		return parse_movmatrix(P, &m, name, line, g, gneg);
	if (name_eq(op, "cvt") && (mn_has(&m, ".e4m3x2") || mn_has(&m, ".e5m2x2")))
		return parse_cvt_fp8(P, &m, name, line, g, gneg);
	if (mn_has(&m, ".e4m3x2") || mn_has(&m, ".e5m2x2") || mn_has(&m, ".e4m3") || mn_has(&m, ".e5m2"))
		return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (fp8 types)", name);
	struct opnd o[8];
	int n = 0, rc;
	struct ptx_insn *in;

	if (name_eq(op, "tex") || name_eq(op, "tld4") || name_eq(op, "txq") || name_eq(op, "suq") ||
	    name_eq(op, "suld") || name_eq(op, "sust"))
		return parse_tex(P, &m, name, line, g, gneg);
	if (name_eq(op, "call")) {
		in = emit(P, line);
		if (!in)
			return P->rc;
		in->guard = g;
		in->gneg = (uint8_t)gneg;
		return parse_call(P, in, line);
	}
	int v8 = (name_eq(op, "ld") || name_eq(op, "st") || name_eq(op, "multimem") || name_eq(op, "atom") ||
	          name_eq(op, "red")) && mn_has(&m, ".v8");
	P->vec_max = v8 ? 8 : 0;   /* 256-bit accesses (sm_100): eight 32-bit registers */
	rc = parse_ops(P, o, 8, k, &n);
	P->vec_max = 0;
	if (rc)
		return rc;
	if (name_eq(op, "cp") && mn_has(&m, ".bulk"))
		return parse_bulk(P, &m, name, line, g, gneg, o, n);
	in = emit(P, line);
	if (!in)
		return P->rc;
	in->guard = g;
	in->gneg = (uint8_t)gneg;
	in->kind = (uint8_t)k;
	/* a .b128 load or store is the generic one of the register's two slots as a .v2.b64
	 * (16-byte aligned); other uses of 128-bit registers have their own parser */
	if (k == K_B128 && m.nkinds == 1 && (name_eq(op, "ld") || name_eq(op, "ldu") || name_eq(op, "st")) &&
	    b128_pair(P, &o[op[0] == 's' ? 1 : 0], &o[op[0] == 's' ? 0 : 1]))
		in->kind = (uint8_t)(k = K_U64);
	else if (k == K_B128 || has_wide(P, o, n))
		return parse_b128(P, &m, name, line, o, n);
	if ((name_eq(op, "atom") || name_eq(op, "red")) &&
	    (mn_has(&m, ".v2") || mn_has(&m, ".v4") || mn_has(&m, ".v8")))
		return parse_atom_vec(P, &m, name, line, o, n);

	if (name_eq(op, "mov")) {
		if (n != 2)
			return perr(P, -EINVAL, line, "'%s' takes 2 operands", name);
		if (o[0].t == O_VEC && o[0].vec_imm)
			return perr(P, -EINVAL, line, "'%s' cannot unpack into a number", name);
		if (o[0].t == O_VEC && o[1].t == O_SLOT) {
			in->op = OP_UNPACK;
			in->mod2 = (uint8_t)o[0].nvec;
			memcpy(in->o, o[0].vec, 4 * sizeof(o[0].vec[0]));
			in->o[4] = o[1].slot;
			return 0;
		}
		if (o[1].t == O_VEC && o[0].t == O_SLOT) {
			in->op = OP_PACK;
			in->mod2 = (uint8_t)o[1].nvec;
			memcpy(in->o, o[1].vec, 4 * sizeof(o[1].vec[0]));
			in->o[4] = o[0].slot;
			return 0;
		}
		if ((rc = need_slots(P, o, n, 2, name, line)))
			return rc;
		in->op = OP_MOV;
		in->kind = (uint8_t)(k == K_PRED ? K_PRED : unsigned_kind(k));
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		return 0;
	}
	if (name_eq(op, "ld") || name_eq(op, "ldu") || name_eq(op, "st")) {
		int isst = op[0] == 's';
		if (n == 3 && mn_has(&m, ".L2::cache_hint") && o[2].t == O_SLOT)
			n = 2;   /* the cache policy createpolicy made: a hint */
		if (n != 2 || o[isst ? 0 : 1].t != O_ADDR)
			return perr(P, -EINVAL, line, "'%s' needs a value and an [address]", name);
		struct opnd *v = &o[isst ? 1 : 0];
		struct opnd *a = &o[isst ? 0 : 1];
		in->op = isst ? OP_ST : OP_LD;
		in->kind2 = (uint8_t)space_of(&m);
		in->size = (uint8_t)kind_size(k);
		in->o[4] = a->slot;
		in->imm = a->imm;
		if (k == K_PRED || k == K_NONE)
			return perr(P, -EINVAL, line, "'%s' needs a value type", name);
		if (v->t == O_VEC && v->nvec == 8) {
			/* .v8 of 32-bit values: two .v4 accesses, the first checking 32-byte alignment */
			if (!v8 || kind_size(k) != 4 || (!isst && v->vec_imm) ||
			    (in->kind2 != SP_GLOBAL && in->kind2 != SP_GENERIC))
				return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
			for (int i = 0; i < 4 && !isst; i++)
				if (v->vec[i] == a->slot)
					return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (a destination is the address)", name);
			in->mod2 = (uint8_t)(4 | LDST_ALIGN32 | (mn_has(&m, ".volatile") ? LDST_VOLATILE : 0));
			memcpy(in->o, v->vec, 4 * sizeof(v->vec[0]));
			if (!isst) {   /* as below: the destination's width, 8 for a predicate */
				int dk = P->slotkind[v->vec[0]];
				in->mod = (uint8_t)(kind_size(dk) < 4 || dk == K_PRED ? 8 : kind_size(dk));
			}
			struct ptx_insn first = *in;
			struct ptx_insn *hi = emit(P, line);   /* in may move: not used after */
			if (!hi)
				return P->rc;
			*hi = first;
			hi->mod2 = (uint8_t)(first.mod2 & ~LDST_ALIGN32);
			hi->imm = first.imm + 16;
			memcpy(hi->o, v->vec + 4, 4 * sizeof(v->vec[0]));
			hi->o[4] = first.o[4];
			return 0;
		}
		if (v->t == O_VEC && v->nvec > 4)
			return perr(P, -EINVAL, line, "bad vector operand of '%s'", name);
		if (v->t == O_VEC) {
			if (!isst && v->vec_imm)
				return perr(P, -EINVAL, line, "'%s' cannot load into a number", name);
			in->mod2 = (uint8_t)v->nvec;
			memcpy(in->o, v->vec, 4 * sizeof(v->vec[0]));
		} else if (v->t == O_SLOT) {
			in->mod2 = 1;
			in->o[0] = v->slot;
		} else {
			return perr(P, -EINVAL, line, "bad value operand of '%s'", name);
		}
		/* volatile shared/global accesses are where legacy warp-synchronous code exchanges
		 * data: the interpreter runs them in warp lockstep */
		if (mn_has(&m, ".volatile") && in->kind2 != SP_LOCAL && in->kind2 != SP_PARAM)
			in->mod2 |= LDST_VOLATILE;
		if (!isst) {
			in->mod = (uint8_t)kind_size(P->slotkind[in->o[0]]);
			if (in->mod < in->size || P->slotkind[in->o[0]] == K_PRED)
				in->mod = 8;
		}
		return 0;
	}
	if (name_eq(op, "atom") || name_eq(op, "red")) {
		static const char *aops[] = {".add", ".min", ".max", ".inc", ".dec", ".and", ".or",
		                             ".xor", ".exch", ".cas"};
		int ao = -1;
		for (int i = 0; i < 10; i++)
			if (mn_has(&m, aops[i]))
				ao = i;
		int isred = op[0] == 'r';
		int want = (isred ? 2 : 3) + (ao == AT_CAS);
		if (ao < 0 || n != want || o[isred ? 0 : 1].t != O_ADDR || mn_has(&m, ".v2") ||
		    mn_has(&m, ".v4"))
			return perr(P, -ENOTSUP, line, "unsupported atomic '%s'", name);
		/* 16 bits: compare-and-swap and exchange, and half-precision add */
		if (k == K_U8 || k == K_S8 || k == K_NONE ||
		    ((k == K_U16 || k == K_S16) && ao != AT_CAS && ao != AT_EXCH) ||
		    ((k == K_F16 || k == K_BF16 || k == K_F16X2 || k == K_BF16X2) && ao != AT_ADD))
			return perr(P, -ENOTSUP, line, "unsupported atomic type in '%s'", name);
		in->op = OP_ATOM;
		in->mod = (uint8_t)(ao | (isred ? AT_RED : 0));
		in->kind2 = (uint8_t)space_of(&m);
		in->size = (uint8_t)kind_size(k);
		if (ao != AT_MIN && ao != AT_MAX)
			in->kind = (uint8_t)unsigned_kind(k);
		struct opnd *a = &o[isred ? 0 : 1];
		in->o[4] = a->slot;
		in->imm = a->imm;
		in->o[0] = isred ? new_slot(P, K_U64, 0) : o[0].slot;
		in->o[1] = o[isred ? 1 : 2].slot;
		if (ao == AT_CAS)
			in->o[2] = o[isred ? 2 : 3].slot;
		return 0;
	}
	if (name_eq(op, "setp") || name_eq(op, "set")) {
		int c = cmp_of(&m);
		if (c < 0 || (n != 3 && n != 4))
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		if (m.nkinds >= 1 && (m.kinds[m.nkinds - 1] == K_F16X2 || m.kinds[m.nkinds - 1] == K_BF16X2)) {
			/* packed: each half compared on its own */
			int isset = name_eq(op, "set"), dk = isset && m.nkinds == 2 ? unsigned_kind(m.kinds[0]) : -1;
			int fl = !isset ? HSET_PRED : dk == K_U32 ? HSET_INT : dk == K_F16X2 ? HSET_F16 :
			         dk == K_BF16X2 ? HSET_BF16 : -1;
			if (fl < 0 || n != 3 || mn_has(&m, ".and") || mn_has(&m, ".or") || mn_has(&m, ".xor") ||
			    o[1].t != O_SLOT || o[2].t != O_SLOT || (isset ? o[0].t != O_SLOT : o[0].t != O_PAIR))
				return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
			in->op = OP_HSET;
			in->mod = (uint8_t)c;
			in->kind = (uint8_t)m.kinds[m.nkinds - 1];
			in->mod2 = (uint8_t)fl;
			in->o[0] = o[0].slot;
			if (!isset)
				in->o[4] = o[0].slot2;
			in->o[1] = o[1].slot;
			in->o[2] = o[2].slot;
			return 0;
		}
		/* set.CmpOp{.BoolOp}.dtype.stype d, a, b{, c}: a setp into a predicate of its own,
		 * then d = that ? 1 (1.0 for a floating type, all ones for an integer one) : 0 */
		int isset = name_eq(op, "set"), dk = -1;
		uint32_t d_slot = o[0].slot;
		if (isset) {
			dk = m.nkinds == 2 ? unsigned_kind(m.kinds[0]) : -1;
			if ((dk != K_U32 && dk != K_F32 && dk != K_F16 && dk != K_BF16) || o[0].t != O_SLOT ||
			    m.kinds[1] >= 16 || !(op_kinds(OP_SETP) & (1u << m.kinds[1])))
				return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
			o[0].slot = new_slot(P, K_PRED, 0);
		}
		if (m.nkinds < 1 || o[0].t == O_ADDR || o[1].t != O_SLOT || o[2].t != O_SLOT ||
		    (n == 4 && o[3].t != O_SLOT))
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		in->op = OP_SETP;
		in->mod = (uint8_t)c;
		in->kind = (uint8_t)m.kinds[m.nkinds - 1];
		int comb = mn_has(&m, ".and") ? COMB_AND : mn_has(&m, ".or") ? COMB_OR :
		           mn_has(&m, ".xor") ? COMB_XOR : COMB_NONE;
		if ((comb != COMB_NONE) != (n == 4))
			return perr(P, -EINVAL, line, "'%s': combiner and third source go together", name);
		in->mod2 = (uint8_t)comb;
		in->o[0] = o[0].slot;
		if (o[0].t == O_PAIR) {
			in->mod2 |= SETP_HAS_Q;
			in->o[4] = o[0].slot2;
		}
		in->o[1] = o[1].slot;
		in->o[2] = o[2].slot;
		if (n == 4) {
			in->o[3] = o[3].slot;
			if (o[3].neg)
				in->mod2 |= SETP_NEG_C;
		}
		if (isset) {
			uint64_t one = dk == K_U32 ? 0xffffffffu : dk == K_F32 ? 0x3f800000u : dk == K_F16 ? 0x3c00u : 0x3f80u;
			uint32_t p = o[0].slot, ks = new_slot(P, K_U32, one), kz = new_slot(P, K_U32, 0);
			struct ptx_insn *sel = P->rc ? NULL : emit(P, line);   /* in may move: not used after */
			if (!sel)
				return P->rc;
			sel->guard = g;
			sel->gneg = (uint8_t)gneg;
			sel->op = OP_SELP;
			sel->kind = (uint8_t)(dk == K_F32 ? K_U32 : dk);
			sel->o[0] = d_slot;
			sel->o[1] = ks;
			sel->o[2] = kz;
			sel->o[3] = p;
		}
		return 0;
	}
	if (name_eq(op, "cvt") && mn_has(&m, ".tf32")) {
		/* cvt.rna{.satfinite}.tf32.f32: what wmma::__float_to_tf32 compiles to; .rn and .rz
		 * (sm_90, cuBLAS's): to nearest even and toward zero */
		int rnd = mn_has(&m, ".rna") ? RND_NONE : mn_has(&m, ".rn") ? RND_RN : mn_has(&m, ".rz") ? RND_RZ : -1;
		if (rnd < 0 || m.nkinds != 1 || m.kinds[0] != K_F32 || (rc = need_slots(P, o, n, 2, name, line)))
			return rc ? rc : perr(P, -ENOTSUP, line, "unsupported instruction '%s' (cvt.{rna,rn,rz}.tf32.f32 only)",
			                      name);
		in->op = OP_TF32;
		in->kind = K_U32;
		in->mod = (uint8_t)rnd;
		in->mod2 = mn_has(&m, ".satfinite") ? FL_SAT : 0;
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		return 0;
	}
	if (name_eq(op, "cvt") && mn_has(&m, ".pack")) {
		/* cvt.pack.sat.{u16,s16,u8,s8}.s32.b32 d, a, b{, c}: two saturated integers packed */
		int k0 = m.nkinds ? m.kinds[0] : -1, narrow = k0 == K_U8 || k0 == K_S8;
		if (!mn_has(&m, ".sat") || !(narrow || k0 == K_U16 || k0 == K_S16) || m.nkinds != 3 ||
		    m.kinds[1] != K_S32 || m.kinds[2] != K_U32 || !mn_has(&m, ".b32"))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' "
			            "(cvt.pack.sat.{u16,s16,u8,s8}.s32.b32 only)", name);
		if ((rc = need_slots(P, o, n, narrow ? 4 : 3, name, line)))
			return rc;
		in->op = OP_CVTPACK;
		in->kind = K_U32;
		in->mod = narrow ? 8 : 16;
		in->mod2 = k0 == K_S8 || k0 == K_S16;
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		in->o[2] = o[2].slot;
		in->o[3] = narrow ? o[3].slot : new_slot(P, K_U32, 0);
		return 0;
	}
	if (name_eq(op, "cvt")) {
		/* cvt.rn{.relu}{.satfinite}.{f16x2,bf16x2}.f32 d, a, b: a to the upper half, b the lower */
		int pair = m.nkinds == 2 && (m.kinds[0] == K_F16X2 || m.kinds[0] == K_BF16X2);
		if (m.nkinds != 2 || (rc = need_slots(P, o, n, pair ? 3 : 2, name, line)))
			return rc ? rc : perr(P, -EINVAL, line, "'%s' needs two types", name);
		int tohalf = m.kinds[0] == K_F16 || m.kinds[0] == K_BF16 || pair;
		if ((pair && m.kinds[1] != K_F32) || m.kinds[1] == K_F16X2 || m.kinds[1] == K_BF16X2 ||
		    ((mn_has(&m, ".relu") || mn_has(&m, ".satfinite")) && !tohalf) ||
		    (tohalf && (mn_has(&m, ".rs") || mn_has(&m, ".rna"))))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
		in->op = OP_CVT;
		in->kind = (uint8_t)m.kinds[0];
		in->kind2 = (uint8_t)m.kinds[1];
		in->mod = (uint8_t)rounding_of(&m);
		in->mod2 = (uint8_t)((mn_has(&m, ".sat") ? FL_SAT : 0) | (mn_has(&m, ".relu") ? FL_RELU : 0) |
		                     (mn_has(&m, ".satfinite") ? FL_SATFINITE : 0));
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		if (pair)
			in->o[2] = o[2].slot;
		return 0;
	}
	if (name_eq(op, "cvta")) {
		if ((rc = need_slots(P, o, n, 2, name, line)))
			return rc;
		in->op = mn_has(&m, ".to") ? OP_CVTA_TO : OP_CVTA_FROM;
		in->kind2 = (uint8_t)space_of(&m);
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		return 0;
	}
	/* carry chains: add.cc addc sub.cc subc mad.lo.cc madc.lo madc.hi */
	int isaddc = name_eq(op, "addc"), issubc = name_eq(op, "subc"), ismadc = name_eq(op, "madc");
	if (isaddc || issubc || ismadc || (mn_has(&m, ".cc") &&
	    (name_eq(op, "add") || name_eq(op, "sub") || name_eq(op, "mad")))) {
		int ismad = ismadc || name_eq(op, "mad");
		if ((rc = need_slots(P, o, n, ismad ? 4 : 3, name, line)))
			return rc;
		if (k != K_U32 && k != K_S32 && k != K_U64 && k != K_S64)
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (carry type)", name);
		if (ismad && !mn_has(&m, ".lo") && !mn_has(&m, ".hi"))
			return perr(P, -EINVAL, line, "'%s' needs .lo or .hi", name);
		in->op = ismad ? (mn_has(&m, ".hi") ? OP_CMADHI : OP_CMADLO) :
		         (issubc || name_eq(op, "sub")) ? OP_CSUB : OP_CADD;
		if (in->op != OP_CMADHI)
			in->kind = (uint8_t)unsigned_kind(k);
		in->mod2 = (uint8_t)((mn_has(&m, ".cc") ? CC_OUT : 0) | (isaddc || issubc || ismadc ? CC_IN : 0));
		if (!P->cc_slot)
			P->cc_slot = new_slot(P, K_U32, 0);
		in->o[4] = P->cc_slot;
		for (int i = 0; i < n; i++)
			in->o[i] = o[i].slot;
		return 0;
	}
	if (name_eq(op, "bfind")) {
		if ((rc = need_slots(P, o, n, 2, name, line)))
			return rc;
		in->op = OP_BFIND;
		in->mod = (uint8_t)mn_has(&m, ".shiftamt");
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		return 0;
	}
	if (name_eq(op, "mul") || name_eq(op, "mad") || name_eq(op, "mul24") || name_eq(op, "mad24")) {
		int ismad = op[1] == 'a';
		if ((rc = need_slots(P, o, n, ismad ? 4 : 3, name, line)))
			return rc;
		if (strstr(op, "24")) {
			/* mul24/mad24.{lo,hi}.{u32,s32} d, a, b{, c} */
			if ((k != K_U32 && k != K_S32) || mn_has(&m, ".lo") == mn_has(&m, ".hi") || m.nparts != 3)
				return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (%s.lo or .hi, .u32 or "
				            ".s32, without .sat)", name, op);
			in->op = OP_MUL24;
			in->kind = (uint8_t)k;
			in->mod = (uint8_t)((mn_has(&m, ".hi") ? M24_HI : 0) | (ismad ? M24_MAD : 0));
			for (int i = 0; i < n; i++)
				in->o[i] = o[i].slot;
			return 0;
		}
		if (is_float(k))
			in->op = ismad ? OP_FMA : OP_MUL_LO;
		else if (mn_has(&m, ".hi"))
			in->op = ismad ? OP_MAD_HI : OP_MUL_HI;
		else if (mn_has(&m, ".wide"))
			in->op = ismad ? OP_MAD_WIDE : OP_MUL_WIDE;
		else {
			in->op = ismad ? OP_MAD_LO : OP_MUL_LO;
			in->kind = (uint8_t)unsigned_kind(k);
		}
		in->mod2 = mn_has(&m, ".sat") ? FL_SAT : 0;
		in->mod = (uint8_t)rounding_of(&m);
		for (int i = 0; i < n; i++)
			in->o[i] = o[i].slot;
		return 0;
	}
	if (name_eq(op, "shf")) {
		if ((rc = need_slots(P, o, n, 4, name, line)))
			return rc;
		in->op = mn_has(&m, ".l") ? OP_SHF_L : OP_SHF_R;
		in->mod = mn_has(&m, ".clamp");
		for (int i = 0; i < n; i++)
			in->o[i] = o[i].slot;
		return 0;
	}
	if (name_eq(op, "vshl") || name_eq(op, "vshr")) {
		/* vshl/vshr.dtype.atype.u32{.sat}.{clamp,wrap}{.add,.min,.max} d, a, b{, c}: a shifted
		 * by b (clamped to 32, or taken mod 32), then with c (cuSPARSE's form); no selectors */
		int op2 = mn_has(&m, ".add") ? VOP_ADD : mn_has(&m, ".min") ? VOP_MIN : mn_has(&m, ".max") ? VOP_MAX : VOP_NONE;
		int clamp = mn_has(&m, ".clamp");
		if (m.nkinds != 3 || (m.kinds[0] != K_U32 && m.kinds[0] != K_S32) ||
		    (m.kinds[1] != K_U32 && m.kinds[1] != K_S32) || m.kinds[2] != K_U32 || clamp == mn_has(&m, ".wrap") ||
		    m.nparts != 5 + mn_has(&m, ".sat") + (op2 != VOP_NONE))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (vshl/vshr: .u32/.s32 d and a, .u32 b, "
			            "{.sat}, .clamp or .wrap, optionally .add/.min/.max; no byte or half selectors)", name);
		if ((rc = need_slots(P, o, n, op2 != VOP_NONE ? 4 : 3, name, line)))
			return rc;
		in->op = OP_VSHIFT;
		in->kind = K_U32;
		in->mod = (uint8_t)((op[3] == 'r' ? VSH_RIGHT : 0) | (clamp ? VSH_CLAMP : 0) |
		                    (m.kinds[1] == K_S32 ? VSH_ASGN : 0) | (mn_has(&m, ".sat") ? VSH_SAT : 0) |
		                    (m.kinds[0] == K_S32 ? VSH_DSGN : 0));
		in->mod2 = (uint8_t)op2;
		for (int j = 0; j < n; j++)
			in->o[j] = o[j].slot;
		return 0;
	}
	if (name_eq(op, "vabsdiff4")) {
		/* the SIMD form CUDA's __vabsdiff*4 and __vsad*4 use: each byte |a_i - b_i| (the
		 * default byte mask, so c is not merged), or with .add their sum plus c */
		int sgn = m.nkinds == 3 && m.kinds[0] == K_S32;
		if (m.nkinds != 3 || (m.kinds[0] != K_U32 && m.kinds[0] != K_S32) || m.kinds[1] != m.kinds[0] ||
		    m.kinds[2] != m.kinds[0] || mn_has(&m, ".sat") || m.nparts != 4 + mn_has(&m, ".add"))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (only vabsdiff4 with one type, "
				    "optionally .add, default masks)", name);
		if ((rc = need_slots(P, o, n, 4, name, line)))
			return rc;
		in->op = OP_VABSDIFF4;
		in->kind = K_U32;
		in->mod = (uint8_t)((sgn ? DP_A_SIGNED : 0) | (mn_has(&m, ".add") ? DP_HI : 0));
		for (int j = 0; j < 4; j++)
			in->o[j] = o[j].slot;
		return 0;
	}
	if (name_eq(op, "dp4a") || name_eq(op, "dp2a")) {
		/* dp4a.atype.btype d, a, b, c: c plus the four products of a's and b's bytes;
		 * dp2a.lo/hi: c plus a's two halves times b's lower or upper two bytes */
		int dp2 = op[2] == '2';
		if (m.nkinds != 2 || (m.kinds[0] != K_U32 && m.kinds[0] != K_S32) ||
		    (m.kinds[1] != K_U32 && m.kinds[1] != K_S32) || (dp2 && mn_has(&m, ".lo") == mn_has(&m, ".hi")))
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		if ((rc = need_slots(P, o, n, 4, name, line)))
			return rc;
		in->op = dp2 ? OP_DP2A : OP_DP4A;
		in->kind = K_U32;
		in->mod = (uint8_t)((m.kinds[0] == K_S32 ? DP_A_SIGNED : 0) | (m.kinds[1] == K_S32 ? DP_B_SIGNED : 0) |
				    (dp2 && mn_has(&m, ".hi") ? DP_HI : 0));
		for (int j = 0; j < 4; j++)
			in->o[j] = o[j].slot;
		return 0;
	}
	/* min/max{.relu}.{s16x2,u16x2}, min/max.relu.s32 and add.{s16x2,u16x2}: integer forms of
	 * their own */
	int isadd = name_eq(op, "add");
	if ((name_eq(op, "min") || name_eq(op, "max") || isadd) &&
	    (mn_has(&m, ".s16x2") || mn_has(&m, ".u16x2") || (!isadd && mn_has(&m, ".relu") && k == K_S32))) {
		int x2 = mn_has(&m, ".s16x2") || mn_has(&m, ".u16x2"), sgn = !x2 || mn_has(&m, ".s16x2");
		int relu = mn_has(&m, ".relu");
		if (m.nparts != 2 + relu || (relu && (!sgn || isadd)) || (rc = need_slots(P, o, n, 3, name, line)))
			return rc ? rc : perr(P, -ENOTSUP, line, "unsupported instruction '%s' (min/max{.relu}.s16x2, "
			                      "min/max.u16x2, min/max.relu.s32, add.s16x2, add.u16x2)", name);
		in->op = OP_IMINMAX;
		in->kind = K_U32;
		in->mod = (uint8_t)((isadd ? IMM_ADD : op[1] == 'a' ? IMM_MAX : 0) | (sgn ? IMM_SIGNED : 0) |
		                    (relu ? IMM_RELU : 0) | (x2 ? IMM_X2 : 0));
		for (int j = 0; j < 3; j++)
			in->o[j] = o[j].slot;
		return 0;
	}
	/* alloca.{u32,u64} d, size{, align}: room on the thread's stack, at a local address;
	 * stacksave.{u32,u64} d and stackrestore.{u32,u64} a (C's alloca, variable-length arrays) */
	if (name_eq(op, "alloca") || name_eq(op, "stacksave") || name_eq(op, "stackrestore")) {
		int al = op[0] == 'a', save = name_eq(op, "stacksave");
		if ((k != K_U32 && k != K_U64) || m.nparts != 2 || (al ? n != 2 && n != 3 : n != 1) ||
		    o[0].t != O_SLOT || ((al || save) && o[0].is_imm) || (al && o[1].t != O_SLOT) ||
		    (n == 3 && (o[2].t != O_SLOT || !o[2].is_imm || o[2].imm <= 0 || o[2].imm > 1024 ||
		                (o[2].imm & (o[2].imm - 1)))))
			return perr(P, -EINVAL, line, "malformed '%s': alloca.u64 d, size{, alignment (a power of "
			            "two up to 1024)}, stacksave.u64 d or stackrestore.u64 a", name);
		in->op = OP_STACK;
		in->kind = (uint8_t)k;
		in->mod = (uint8_t)(al ? STK_ALLOCA : save ? STK_SAVE : STK_RESTORE);
		in->o[0] = save || al ? o[0].slot : 0;
		in->o[1] = al ? o[1].slot : save ? 0 : o[0].slot;
		in->imm = al ? (n == 3 ? o[2].imm : 8) : 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(arith) / sizeof(arith[0]); i++) {
		if (!name_eq(op, arith[i].n))
			continue;
		if ((rc = need_slots(P, o, n, arith[i].nsrc + 1, name, line)))
			return rc;
		if (k == K_NONE)
			return perr(P, -EINVAL, line, "'%s' needs a type", name);
		in->op = (uint16_t)arith[i].op;
		int ki = k;
		switch (in->op) {
		case OP_ADD: case OP_SUB: case OP_NEG: case OP_AND: case OP_OR: case OP_XOR:
		case OP_NOT: case OP_SHL: case OP_SELP: case OP_CNOT: case OP_POPC: case OP_CLZ:
		case OP_BREV: case OP_BFI: case OP_LOP3:
			ki = unsigned_kind(k);
			break;
		default:
			break;
		}
		if ((in->op == OP_ADD || in->op == OP_SUB) && mn_has(&m, ".cc"))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (carry flags)", name);
		if ((in->op == OP_ADD || in->op == OP_SUB || in->op == OP_MIN || in->op == OP_MAX) &&
		    mn_has(&m, ".sat") && !is_float(k))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (integer saturation)", name);
		if (in->op == OP_TESTP) {
			/* testp.op.type p, a: o[0] the predicate */
			static const char *const tp[] = {".finite", ".infinite", ".number", ".notanumber", ".normal",
			                                  ".subnormal"};
			int mode = -1;
			for (int j = 0; j < 6; j++)
				if (mn_has(&m, tp[j]))
					mode = j;
			if (mode < 0 || m.nparts != 3 || (k != K_F32 && k != K_F64) || P->slotkind[o[0].slot] != K_PRED)
				return perr(P, -EINVAL, line, "malformed '%s': testp.{finite,infinite,number,notanumber,"
				            "normal,subnormal}.{f32,f64} p, a", name);
			in->kind = (uint8_t)k;
			in->mod = (uint8_t)mode;
			in->o[0] = o[0].slot;
			in->o[1] = o[1].slot;
			return 0;
		}
		if (in->op == OP_PRMT && m.nparts > 2) {
			static const char *const pm[] = {".f4e", ".b4e", ".rc8", ".ecl", ".ecr", ".rc16"};
			int mode = 0;
			for (int j = 0; j < 6; j++)
				if (mn_has(&m, pm[j]))
					mode = PRMT_F4E + j;
			if (!mode || m.nparts != 3)
				return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (prmt modes: .f4e, .b4e, "
				            ".rc8, .ecl, .ecr, .rc16)", name);
			in->kind = K_U32;
			in->mod = (uint8_t)mode;
			for (int j = 0; j < n; j++)
				in->o[j] = o[j].slot;
			return 0;
		}
		int half = k == K_F16 || k == K_F16X2 || k == K_BF16 || k == K_BF16X2;
		if ((mn_has(&m, ".relu") && !(half && in->op == OP_FMA)) ||
		    (mn_has(&m, ".NaN") && !((half || k == K_F32) && (in->op == OP_MIN || in->op == OP_MAX))) ||
		    mn_has(&m, ".xorsign") || mn_has(&m, ".oob"))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (modifier)", name);
		in->kind = (uint8_t)ki;
		in->mod = (uint8_t)rounding_of(&m);
		in->mod2 = (uint8_t)((mn_has(&m, ".sat") ? FL_SAT : 0) | (mn_has(&m, ".relu") ? FL_RELU : 0) |
		                     (mn_has(&m, ".NaN") ? FL_NAN : 0));
		if (in->op == OP_BMSK) {   /* .clamp or .wrap: how the position and width are bounded */
			if (mn_has(&m, ".clamp") == mn_has(&m, ".wrap"))
				return perr(P, -EINVAL, line, "'%s' needs one of .clamp and .wrap", name);
			in->mod = (uint8_t)mn_has(&m, ".clamp");
		}
		for (int j = 0; j < n; j++)
			in->o[j] = o[j].slot;
		return 0;
	}
	if (name_eq(op, "bra")) {
		if (n != 1 || o[0].t != O_LABEL)
			return perr(P, -ENOTSUP, line, "'%s' needs a label (indirect branches unsupported)", name);
		in->op = OP_BRA;
		return add_fix(P, o[0].label, line);
	}
	if (name_eq(op, "ret") || name_eq(op, "exit") || name_eq(op, "trap")) {
		in->op = op[0] == 'r' ? OP_RET : op[0] == 'e' ? OP_EXIT : OP_TRAP;
		in->mod = TRAP_PLAIN;
		return n ? perr(P, -EINVAL, line, "'%s' takes no operands", name) : 0;
	}
	if ((name_eq(op, "bar") || name_eq(op, "barrier")) && mn_has(&m, ".red") && !mn_has(&m, ".warp")) {
		/* bar.red.popc.u32 d, a, {!}c / bar.red.{and,or}.pred p, a, {!}c: a barrier that also
		 * reduces c over the block */
		/* ... d, a{, b}, {!}c: barrier a, b threads (else the block's) */
		int red = mn_has(&m, ".popc") ? BAR_POPC : mn_has(&m, ".and") ? BAR_AND : mn_has(&m, ".or") ? BAR_OR : -1;
		if (red < 0 || (n != 3 && n != 4) || o[0].t != O_SLOT || o[1].t != O_SLOT || o[n - 2].t != O_SLOT ||
		    o[n - 1].t != O_SLOT || (red == BAR_POPC) != (k == K_U32) || (red != BAR_POPC && k != K_PRED))
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		in->op = OP_BAR;
		in->kind = K_NONE;
		in->mod = (uint8_t)red;
		in->mod2 = (uint8_t)((o[n - 1].neg ? BAR_NEG_C : 0) | (n == 4 ? BAR_COUNT : 0));
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		in->o[2] = o[n - 1].slot;
		in->o[3] = n == 4 ? o[2].slot : 0;
		return 0;
	}
	/* barrier.cluster.arrive{.release,.relaxed}{.aligned} / barrier.cluster.wait{.acquire}{.aligned}:
	 * every thread of the cluster's blocks arrives, then waits for the others' arrivals */
	if (name_eq(op, "barrier") && mn_has(&m, ".cluster")) {
		int arr = mn_has(&m, ".arrive"), wt = mn_has(&m, ".wait");
		if (arr == wt || n != 0)
			return perr(P, -EINVAL, line, "'%s': barrier.cluster.arrive or barrier.cluster.wait, "
			            "without operands", name);
		in->op = OP_CLUSTER;
		in->kind = K_NONE;
		in->mod = arr ? CLOP_ARRIVE : CLOP_WAIT;
		return 0;
	}
	/* mapa{.shared::cluster}.{u32,u64} d, a, rank; getctarank{.shared::cluster}.{u32,u64} d, a */
	if (name_eq(op, "mapa") || name_eq(op, "getctarank")) {
		int mapa = name_eq(op, "mapa");
		if ((rc = need_slots(P, o, n, mapa ? 3 : 2, name, line)))
			return rc;
		if (k != K_U32 && k != K_U64)
			return perr(P, -EINVAL, line, "'%s' takes .u32 or .u64", name);
		in->op = OP_CLUSTER;
		in->kind = K_NONE;
		in->kind2 = (uint8_t)k;
		in->mod = mapa ? CLOP_MAPA : CLOP_RANK;
		in->mod2 = mn_has(&m, ".shared::cluster") ? 1 : 0;
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		in->o[2] = mapa ? o[2].slot : 0;
		return 0;
	}
	/* bar{.cta}.sync a{, b}, barrier{.cta}.sync{.aligned} a{, b}, bar a: wait at barrier a
	 * for b threads (else the block's); bar{.cta}.arrive a, b: count this thread and go on */
	int arrive = mn_has(&m, ".arrive");
	if ((name_eq(op, "bar") || name_eq(op, "barrier")) &&
	    (mn_has(&m, ".sync") || arrive || m.nparts == 1 || (m.nparts == 2 && mn_has(&m, ".cta"))) &&
	    !mn_has(&m, ".warp")) {
		if (n < 1 + arrive || n > 2 || o[0].t != O_SLOT || (n == 2 && o[1].t != O_SLOT))
			return perr(P, -EINVAL, line, "'%s' takes a barrier number%s", name,
			            arrive ? " and a thread count" : " and perhaps a thread count");
		in->op = OP_BAR;
		in->kind = K_NONE;
		in->mod = BAR_PLAIN;
		in->mod2 = (uint8_t)((n == 2 ? BAR_COUNT : 0) | (arrive ? BAR_ARRIVE : 0));
		in->o[1] = o[0].slot;
		in->o[3] = n == 2 ? o[1].slot : 0;
		return 0;
	}
	if (name_eq(op, "shfl")) {
		static const char *modes[] = {".up", ".down", ".bfly", ".idx"};
		int md = -1;
		for (int i = 0; i < 4; i++)
			if (mn_has(&m, modes[i]))
				md = i;
		int sync = mn_has(&m, ".sync");
		if (md < 0 || n != (sync ? 5 : 4) || o[0].t == O_ADDR || o[0].t == O_VEC)
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		for (int i = 1; i < n; i++)
			if (o[i].t != O_SLOT)
				return perr(P, -EINVAL, line, "malformed '%s'", name);
		in->op = OP_SHFL;
		in->mod = (uint8_t)md;
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		in->o[2] = o[2].slot;
		in->o[3] = o[3].slot;
		if (o[0].t == O_PAIR) {
			in->o[4] = o[0].slot2;
			in->mod2 |= WARP_HAS_P;
		}
		if (sync)
			in->imm = o[4].slot;
		else
			in->mod2 |= WARP_FULLMASK;
		return 0;
	}
	if (name_eq(op, "vote")) {
		static const char *modes[] = {".all", ".any", ".uni", ".ballot"};
		int md = -1;
		for (int i = 0; i < 4; i++)
			if (mn_has(&m, modes[i]))
				md = i;
		int sync = mn_has(&m, ".sync");
		if (md < 0 || n != (sync ? 3 : 2) || o[0].t != O_SLOT || o[1].t != O_SLOT ||
		    (sync && o[2].t != O_SLOT))
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		in->op = OP_VOTE;
		in->mod = (uint8_t)md;
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		if (o[1].neg)
			in->mod2 |= WARP_NEG_A;
		if (sync)
			in->imm = o[2].slot;
		else
			in->mod2 |= WARP_FULLMASK;
		return 0;
	}
	/* elect.sync d|p, membermask (sm_90): one lane of the mask, the lowest taking part, is the
	 * leader: d its lane number in every lane, p true in the leader alone */
	if (name_eq(op, "elect")) {
		if (m.nparts != 2 || !mn_has(&m, ".sync") || n != 2 || o[0].t != O_PAIR || o[1].t != O_SLOT)
			return perr(P, -EINVAL, line, "malformed '%s': elect.sync d|p, membermask", name);
		in->op = OP_ELECT;
		in->kind = K_U32;
		in->o[0] = o[0].slot;
		in->o[4] = o[0].slot2;
		in->mod2 |= WARP_HAS_P;
		in->imm = o[1].slot;
		return 0;
	}
	if ((name_eq(op, "bar") || name_eq(op, "barrier")) && mn_has(&m, ".warp") && mn_has(&m, ".sync")) {
		if (n != 1 || o[0].t != O_SLOT)
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		in->op = OP_WARPSYNC;
		in->kind = K_NONE;
		in->imm = o[0].slot;
		return 0;
	}
	if (name_eq(op, "match") || name_eq(op, "redux")) {
		int ismatch = op[0] == 'm';
		static const char *rops[] = {".add", ".min", ".max", ".and", ".or", ".xor"};
		int md = -1;
		if (ismatch)
			md = mn_has(&m, ".any") ? MATCH_ANY : mn_has(&m, ".all") ? MATCH_ALL : -1;
		else
			for (int i = 0; i < 6; i++)
				if (mn_has(&m, rops[i]))
					md = i;
		if (md < 0 || !mn_has(&m, ".sync") || n != 3 || o[0].t == O_ADDR || o[0].t == O_VEC ||
		    o[1].t != O_SLOT || o[2].t != O_SLOT || (!ismatch && o[0].t == O_PAIR))
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		in->op = ismatch ? OP_MATCH : OP_REDUX;
		in->mod = (uint8_t)md;
		if (!ismatch && md >= REDUX_AND)
			in->kind = K_U32;
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		if (o[0].t == O_PAIR) {
			in->o[4] = o[0].slot2;
			in->mod2 |= WARP_HAS_P;
		}
		in->imm = o[2].slot;
		return 0;
	}
	if (name_eq(op, "activemask")) {
		if (n != 1 || o[0].t != O_SLOT)
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		in->op = OP_ACTIVEMASK;
		in->o[0] = o[0].slot;
		return 0;
	}
	if (name_eq(op, "isspacep")) {
		if (n != 2 || o[0].t != O_SLOT || o[1].t != O_SLOT || space_of(&m) == SP_GENERIC)
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		in->op = OP_ISSPACEP;
		in->kind = K_NONE;
		in->kind2 = (uint8_t)space_of(&m);
		in->o[0] = o[0].slot;
		in->o[1] = o[1].slot;
		return 0;
	}
	/*
	 * cp.async (sm_80's copies from global into shared memory, what cuda::memcpy_async and
	 * the pipeline primitives compile to): the simulator copies at once, which the ISA
	 * allows (the bytes are only promised after the wait), so the group's commit and wait
	 * are no-ops. Operands: [dst], [src], cp-size{, src-size | ignore-src predicate}{,
	 * cache-policy}; the source's offset goes in a constant slot (o[3]).
	 */
	if (name_eq(op, "cp") && mn_has(&m, ".mbarrier")) {
		/* cp.async.mbarrier.arrive{.noinc}{.shared{::cta}}.b64 [a]: the copies before it are
		 * done already here, so its arrival comes at once */
		static const char *const mods[] = {".async", ".mbarrier", ".arrive", ".noinc", ".shared", ".shared::cta",
		                                   ".b64", NULL};
		if (!mn_has(&m, ".async") || !mn_has(&m, ".arrive") || !mn_only(&m, mods) || n != 1 || o[0].t != O_ADDR)
			return perr(P, -EINVAL, line, "malformed '%s': cp.async.mbarrier.arrive{.noinc}.shared.b64 [a]",
			            name);
		in->op = OP_MBAR;
		in->kind = K_NONE;
		in->mod = MB_CP_ARRIVE;
		in->mod2 = mn_has(&m, ".noinc") ? MB_NOINC : 0;
		in->kind2 = (uint8_t)(mn_has(&m, ".shared") || mn_has(&m, ".shared::cta") ? SP_SHARED : SP_GENERIC);
		in->o[4] = o[0].slot;
		in->imm = o[0].imm;
		return 0;
	}
	/*
	 * mbarrier (sm_80: what cuda::barrier and cuda::memcpy_async with a barrier compile to):
	 *   init [a], count;  arrive{_drop} state, [a]{, count};  test_wait{.parity} p, [a], state;
	 *   try_wait{.parity} p, [a], state{, hint};  pending_count c, state;  inval [a]
	 * with .release/.acquire and .cta qualifiers, .shared{::cta} or generic addresses, .b64.
	 */
	if (name_eq(op, "mbarrier")) {
		static const char *const mods[] = {".init", ".arrive", ".arrive_drop", ".test_wait", ".try_wait",
		                                   ".pending_count", ".inval", ".parity", ".release", ".acquire", ".relaxed",
		                                   ".cta", ".shared", ".shared::cta", ".b64", ".expect_tx", ".complete_tx", NULL};
		int tx = mn_has(&m, ".expect_tx") && (mn_has(&m, ".arrive") || mn_has(&m, ".arrive_drop"));
		int mb = tx ? (mn_has(&m, ".arrive") ? MB_ARRIVE : MB_ARRIVE_DROP) :
		         mn_has(&m, ".expect_tx") ? MB_EXPECT_TX : mn_has(&m, ".complete_tx") ? MB_COMPLETE_TX :
		         mn_has(&m, ".init") ? MB_INIT : mn_has(&m, ".arrive") ? MB_ARRIVE :
		         mn_has(&m, ".arrive_drop") ? MB_ARRIVE_DROP : mn_has(&m, ".test_wait") ? MB_TEST :
		         mn_has(&m, ".try_wait") ? MB_TRY : mn_has(&m, ".pending_count") ? MB_PENDING :
		         mn_has(&m, ".inval") ? MB_INVAL : -1;
		int waits = mb == MB_TEST || mb == MB_TRY, ok = mb >= 0 && mn_only(&m, mods) && mn_has(&m, ".b64") &&
		         (waits || !mn_has(&m, ".parity"));
		int addr = mb == MB_PENDING ? -1 : mb == MB_INIT || mb == MB_INVAL || mb == MB_EXPECT_TX ||
		           mb == MB_COMPLETE_TX ? 0 : 1;
		int want = mb == MB_INIT || mb == MB_EXPECT_TX || mb == MB_COMPLETE_TX ? 2 : mb == MB_INVAL ? 1 :
		           mb == MB_PENDING ? 2 : 3;
		if (ok && (mb == MB_ARRIVE || mb == MB_ARRIVE_DROP) && n == 2 && !tx)
			want = 2;   /* no count: one arrival */
		if (ok && mb == MB_TRY && n == 4)
			want = 4;   /* a suspend-time hint, which changes nothing here */
		if (!ok)
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (mbarrier: init, arrive, arrive_drop, "
			            "test_wait, try_wait, pending_count and inval of .b64 objects; no transaction counts)",
			            name);
		if (n != want || (addr >= 0 && o[addr].t != O_ADDR))
			return perr(P, -EINVAL, line, "malformed '%s'", name);
		for (int i = 0; i < n; i++)
			if (i != addr && o[i].t != O_SLOT)
				return perr(P, -EINVAL, line, "malformed '%s': operand %d", name, i + 1);
		in->op = OP_MBAR;
		in->kind = K_NONE;
		in->mod = (uint8_t)mb;
		in->mod2 = (uint8_t)((mn_has(&m, ".parity") ? MB_PARITY : 0) | (tx ? MB_TX : 0));
		in->kind2 = (uint8_t)(mn_has(&m, ".shared") || mn_has(&m, ".shared::cta") ? SP_SHARED : SP_GENERIC);
		if (addr >= 0) {
			in->o[4] = o[addr].slot;
			in->imm = o[addr].imm;
		}
		if (mb == MB_INIT || mb == MB_EXPECT_TX || mb == MB_COMPLETE_TX) {
			in->o[1] = o[1].slot;
		} else if (tx) {   /* arrive.expect_tx state, [a], bytes: one arrival */
			in->o[0] = o[0].slot;
			in->o[1] = const_slot(P, 1);
			in->o[2] = o[2].slot;
		} else if (mb != MB_INVAL) {
			in->o[0] = o[0].slot;
			in->o[1] = mb == MB_PENDING ? o[1].slot : (n > 2 ? o[2].slot : const_slot(P, 1));
		}
		return 0;
	}
	if (name_eq(op, "cp")) {
		if (mn_has(&m, ".commit_group") || mn_has(&m, ".wait_group") || mn_has(&m, ".wait_all")) {
			if (!mn_has(&m, ".async") || n > 1)
				return perr(P, -EINVAL, line, "malformed '%s'", name);
			in->op = OP_NOP;
			in->kind = K_NONE;
			return 0;
		}
		static const char *const cp_mods[] = {".async", ".ca", ".cg", ".shared", ".shared::cta", ".global",
		                                      ".L2::128B", ".L2::256B", ".L2::64B", ".L2::cache_hint", NULL};
		if (!mn_has(&m, ".async") || (!mn_has(&m, ".shared") && !mn_has(&m, ".shared::cta")) ||
		    !mn_has(&m, ".global") || mn_has(&m, ".ca") == mn_has(&m, ".cg") || !mn_only(&m, cp_mods))
			return perr(P, -ENOTSUP, line, "unsupported instruction '%s' (cp.async.{ca,cg}.shared.global "
			            "only: bulk, tensor and mbarrier forms are not simulated)", name);
		int hint = mn_has(&m, ".L2::cache_hint");
		if (n < 3 + hint || n > 4 + hint || o[0].t != O_ADDR || o[1].t != O_ADDR || o[2].t != O_SLOT ||
		    !o[2].is_imm || (n == 4 + hint && o[3].t != O_SLOT))
			return perr(P, -EINVAL, line, "malformed '%s': takes [dst], [src], size{, src-size or "
			            "predicate}%s", name, hint ? ", cache-policy" : "");
		int64_t size = P->f->tmpl[o[2].slot];
		if ((size != 4 && size != 8 && size != 16) || (mn_has(&m, ".cg") && size != 16))
			return perr(P, -EINVAL, line, "malformed '%s': copy size %lld (4, 8 or 16; .cg: 16)", name,
			            (long long)size);
		in->op = OP_CPASYNC;
		in->kind = K_NONE;
		in->size = (uint8_t)size;
		in->o[0] = o[0].slot;
		in->imm = o[0].imm;
		in->o[1] = o[1].slot;
		in->o[3] = const_slot(P, (uint64_t)o[1].imm);
		if (n == 4 + hint) {
			if (P->slotkind[o[3].slot] == K_PRED)
				in->o[4] = o[3].slot;    /* ignore-src: zeros instead of the source */
			else
				in->o[2] = o[3].slot;    /* src-size: the rest zero-filled */
		}
		return 0;
	}
	/* multimem.ld_reduce/.st/.red (NVLink SHARP, sm_90): they address a multicast object's
	 * memory, and the simulator makes none (cuMulticastCreate is not simulated), so no address
	 * is one: the instruction faults where it runs, naming its address. A module holding them
	 * loads, as NCCL's kernels do where they are only reached with multicast buffers. */
	if (name_eq(op, "multimem")) {
		const struct opnd *addr = NULL;
		for (int j = 0; j < n; j++)
			if (o[j].t == O_ADDR)
				addr = addr ? NULL : &o[j];
		if (!addr || !(mn_has(&m, ".ld_reduce") || mn_has(&m, ".st") || mn_has(&m, ".red")))
			return perr(P, -EINVAL, line, "malformed '%s': multimem.ld_reduce, .st or .red with one "
			            "[address]", name);
		in->op = OP_TRAP;
		in->kind = K_NONE;
		in->mod = TRAP_MULTIMEM;
		in->o[4] = addr->slot;
		in->imm = addr->imm;
		return 0;
	}
	/* programmatic dependent launch (cudaGridDependencySynchronize, cudaTriggerProgrammatic-
	 * LaunchCompletion): the simulator starts a kernel only after the one before it on its
	 * stream completed, so the wait has nothing to wait for and the trigger changes nothing */
	if (name_eq(op, "griddepcontrol")) {
		if (m.nparts != 2 || !(mn_has(&m, ".wait") || mn_has(&m, ".launch_dependents")) || n)
			return perr(P, -EINVAL, line, "malformed '%s': griddepcontrol.wait or .launch_dependents, "
			            "no operands", name);
		in->op = OP_NOP;
		in->kind = K_NONE;
		return 0;
	}
	/* createpolicy.{fractional,range}.L2::evict_*.b64 d, ...: a cache policy, which loads and
	 * stores with .L2::cache_hint take as a hint; the simulator has no cache to steer */
	if (name_eq(op, "createpolicy")) {
		if (n < 2 || o[0].t != O_SLOT || o[0].is_imm || k != K_U64)
			return perr(P, -EINVAL, line, "malformed '%s': createpolicy....b64 d, ...", name);
		in->op = OP_MOV;
		in->kind = K_U64;
		in->o[0] = o[0].slot;
		in->o[1] = const_slot(P, 0);
		return 0;
	}
	/* hints and delays with no effect on results: prefetches, sleeps, profiler events, L2
	 * priorities (cuda::apply_access_property) and discards (cuda::discard_memory: the
	 * bytes become unspecified, so keeping them is one of the allowed outcomes) */
	if (name_eq(op, "prefetch") || name_eq(op, "prefetchu") || name_eq(op, "nanosleep") ||
	    name_eq(op, "pmevent") || name_eq(op, "applypriority") || name_eq(op, "discard")) {
		in->op = OP_NOP;
		in->kind = K_NONE;
		return 0;
	}
	if (name_eq(op, "membar") || name_eq(op, "fence")) {
		in->op = OP_NOP;
		return 0;
	}
	return perr(P, -ENOTSUP, line, "unsupported instruction '%s'", name);
}

/* ---- functions and module ----------------------------------------------------------- */

static int parse_params(struct P *P, struct ptx_func *f, int ret)
{
	/* '(' already consumed; formal params get frame offsets in order. */
	uint32_t cursor = ret ? f->frame_param_size : 0;
	for (;;) {
		struct tok *t = lex_next(&P->L);
		if (tok_isp(t, ')'))
			break;
		if (tok_isp(t, ','))
			continue;
		if (!tok_is(t, ".param") && !tok_is(t, ".reg"))
			return perr(P, -EINVAL, t->line, "expected .param in parameter list");
		if (tok_is(t, ".reg"))
			return perr(P, -ENOTSUP, t->line, ".reg parameters are not supported");
		struct sym *y = param_decl(P, &cursor);
		if (!y)
			return P->rc;
		if (ret) {
			f->ret_off = y->off;
			f->ret_size = y->size;
		} else {
			if (f->nparams >= 64)
				return perr(P, -ENOTSUP, t->line, "more than 64 parameters");
			f->param_off[f->nparams] = y->off;
			f->param_size[f->nparams] = y->size;
			f->nparams++;
		}
	}
	f->frame_param_size = cursor;
	if (!ret)
		f->param_bytes = cursor;
	return 0;
}

/* The slot of label name nm in ht (hs slots, open addressing): its own, or the empty one
 * where it would go. */
static uint32_t label_slot(const struct P *P, const uint32_t *ht, uint32_t hs, const char *nm)
{
	uint32_t b = hstr(nm, strlen(nm)) & (hs - 1);
	while (ht[b] != UINT32_MAX && !name_eq(P->labels[ht[b]].name, nm))
		b = (b + 1) & (hs - 1);
	return b;
}

static int finish_func(struct P *P)
{
	struct ptx_func *f = P->f;
	/* branch targets by name through a table of the labels (the first of a name kept): a scan
	 * of them for every branch was quadratic in a function's size */
	uint32_t hs = 16;
	while (hs < 2 * P->nlabels)
		hs *= 2;
	uint32_t *ht = P->nfix ? malloc(hs * sizeof(*ht)) : NULL;
	if (P->nfix && !ht)
		return perr(P, -ENOMEM, P->L.cur.line, "out of memory");
	if (ht) {
		memset(ht, 0xff, hs * sizeof(*ht));
		for (uint32_t j = 0; j < P->nlabels; j++) {
			uint32_t b = label_slot(P, ht, hs, P->labels[j].name);
			if (ht[b] == UINT32_MAX)
				ht[b] = j;
		}
	}
	for (uint32_t i = 0; i < P->nfix; i++) {
		uint32_t b = label_slot(P, ht, hs, P->fix[i].name);
		if (ht[b] == UINT32_MAX) {
			free(ht);
			return perr(P, -EINVAL, P->fix[i].line, "undefined label '%s'", P->fix[i].name);
		}
		f->code[P->fix[i].insn].imm = P->labels[ht[b]].insn;
	}
	free(ht);
	/* falling off the end returns */
	struct ptx_insn *in = emit(P, P->L.cur.line);
	if (!in)
		return P->rc;
	in->op = f->is_entry ? OP_EXIT : OP_RET;
	/* combine op and kind for the interpreter's single dispatch switch */
	for (uint32_t i = 0; i < f->ncode; i++) {
		assert(f->code[i].kind < 16);
		f->code[i].op = (uint16_t)(f->code[i].op << 4 | f->code[i].kind);
	}
	P->nfix = P->nlabels = 0;
	return 0;
}

static int parse_body(struct P *P)
{
	struct ptx_func *f = P->f;
	uint32_t scopes[64];
	int depth = 0;
	uint32_t cursor = f->frame_param_size;
	for (;;) {
		struct tok *t = lex_next(&P->L);
		if (P->rc)
			return P->rc;
		if (t->t == T_EOF)
			return perr(P, -EINVAL, t->line, "unexpected end of text in '%s'", f->name);
		if (tok_isp(t, '{')) {
			if (depth >= 64)
				return perr(P, -EINVAL, t->line, "blocks nested too deeply");
			scopes[depth++] = P->nsyms;
			continue;
		}
		if (tok_isp(t, '}')) {
			if (depth == 0)
				break;
			sym_pop(P, scopes[--depth]);
			continue;
		}
		if (tok_isp(t, ';'))
			continue;
		uint32_t g = 0;
		int gneg = 0;
		if (tok_isp(t, '@')) {
			t = lex_next(&P->L);
			if (tok_isp(t, '!')) {
				gneg = 1;
				t = lex_next(&P->L);
			}
			if (t->t != T_ID)
				return perr(P, -EINVAL, t->line, "expected a predicate after '@'");
			int rc = ident_slot(P, t, &g);
			if (rc)
				return rc;
			t = lex_next(&P->L);
		}
		if (t->t != T_ID)
			return perr(P, -EINVAL, t->line, "expected an instruction");
		if (t->s[0] == '.') {
			int rc = 0;
			if (tok_is(t, ".reg"))
				rc = parse_reg(P, NULL);
			else if (t->n > 5 && !strncmp(t->s, ".reg.", 5)) {
				struct tok ty = *t;
				ty.s += 4;
				ty.n -= 4;
				rc = parse_reg(P, &ty);
			}
			else if (tok_is(t, ".local"))
				rc = parse_local(P);
			else if (tok_is(t, ".shared"))
				rc = parse_shared(P, 0);
			else if (tok_is(t, ".param")) {
				if (!param_decl(P, &cursor))
					return P->rc;
				f->frame_param_size = cursor;
				if (!tok_isp(lex_next(&P->L), ';'))
					return perr(P, -EINVAL, t->line, "expected ';' after .param");
			} else if (tok_is(t, ".callprototype")) {
				/* "name: .callprototype (.param .b32 _) _ (.param .b64 _);": the shape of
				 * indirect calls naming it, checked against their target when they run */
				struct tok *x;
				do
					x = lex_next(&P->L);
				while (x->t != T_EOF && !tok_isp(x, ';'));
			} else if (tok_is(t, ".pragma") || tok_is(t, ".loc") || tok_is(t, ".file")) {
				uint32_t l = t->line;
				while (P->L.cur.t != T_EOF && !tok_isp(&P->L.cur, ';') &&
				       lex_peek(&P->L)->line == l)
					lex_next(&P->L);
				if (tok_isp(lex_peek(&P->L), ';'))
					lex_next(&P->L);
			} else {
				return perr(P, -ENOTSUP, t->line, "unsupported directive '%.*s' in a body",
				            (int)t->n, t->s);
			}
			if (rc)
				return rc;
			continue;
		}
		if (tok_isp(lex_peek(&P->L), ':') && !g) {
			struct tok lt = *t;
			t = &lt;
			lex_next(&P->L);
			void *x = grow(P->labels, &P->caplabels, P->nlabels + 1, sizeof(*P->labels));
			if (!x || t->n >= sizeof(P->labels[0].name))
				return perr(P, -ENOMEM, t->line, "out of memory or label too long");
			P->labels = x;
			memcpy(P->labels[P->nlabels].name, t->s, t->n);
			P->labels[P->nlabels].name[t->n] = 0;
			P->labels[P->nlabels].insn = f->ncode;
			P->nlabels++;
			continue;
		}
		int rc = parse_insn(P, t, g, gneg);
		if (rc)
			return rc;
	}
	return finish_func(P);
}

/* A module's function by name, through a hash of them (a linked library has thousands, and
 * every call, address taken and label operand asks), or -1. */
static int find_func(struct P *P, const char *s, size_t n)
{
	if (!P->fcap)
		return -1;
	for (uint32_t b = hstr(s, n) & (P->fcap - 1);; b = (b + 1) & (P->fcap - 1)) {
		uint32_t e = P->fhash[b];
		if (!e)
			return -1;
		const char *name = P->m->funcs[e - 1].name;
		if (!strncmp(name, s, n) && !name[n])
			return (int)(e - 1);
	}
}

/* Puts entry e (function index + 1) into table h of cap entries, by its function's name. */
static void fhash_put(const struct P *P, uint32_t *h, uint32_t cap, uint32_t e)
{
	const char *name = P->m->funcs[e - 1].name;
	uint32_t b = hstr(name, strlen(name)) & (cap - 1);
	while (h[b])
		b = (b + 1) & (cap - 1);
	h[b] = e;
}

/* Enters function idx into the hash (at most half full). 0 or -ENOMEM. */
static int func_hash_add(struct P *P, uint32_t idx)
{
	if ((P->m->nfuncs + 1) * 2 > P->fcap) {
		uint32_t cap = P->fcap ? P->fcap * 2 : 256;
		uint32_t *h = calloc(cap, sizeof(*h));
		if (!h)
			return -ENOMEM;
		for (uint32_t i = 0; i < P->fcap; i++)
			if (P->fhash[i])
				fhash_put(P, h, cap, P->fhash[i]);
		free(P->fhash);
		P->fhash = h;
		P->fcap = cap;
	}
	fhash_put(P, P->fhash, P->fcap, idx + 1);
	return 0;
}

static void func_release(struct ptx_func *f)
{
	free(f->tmpl);
	free(f->code);
	free(f->fills);
	free(f->gfix);
}

/* Takes back the scratch arrays f is being built in (they may have moved as they grew). */
static void scratch_back(struct P *P, struct ptx_func *f)
{
	P->scode = f->code;
	P->capscode = P->capcode;
	P->stmpl = f->tmpl;
	P->capstmpl = P->capslots;
	f->code = NULL;
	f->tmpl = NULL;
}

/* A built function's code and slots copied into arrays of its own size, the scratch kept. */
static int own_arrays(struct P *P, struct ptx_func *f, uint32_t line)
{
	struct ptx_insn *code = f->ncode ? malloc((size_t)f->ncode * sizeof(*code)) : NULL;
	uint64_t *tmpl = f->nslots ? malloc((size_t)f->nslots * sizeof(*tmpl)) : NULL;
	if ((f->ncode && !code) || (f->nslots && !tmpl)) {
		free(code);
		free(tmpl);
		return perr(P, -ENOMEM, line, "out of memory");
	}
	if (code)
		memcpy(code, f->code, (size_t)f->ncode * sizeof(*code));
	if (tmpl)
		memcpy(tmpl, f->tmpl, (size_t)f->nslots * sizeof(*tmpl));
	scratch_back(P, f);
	f->code = code;
	f->tmpl = tmpl;
	return 0;
}

/* Parses a .entry/.func header and its body or ';'. Function names live in m->funcs (not in
 * the symbol table), so a function's own parameters can be popped without losing it. */
static int parse_func(struct P *P, int is_entry)
{
	struct ptx_module *m = P->m;
	struct ptx_func tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.is_entry = is_entry;
	P->fshared = 0;
	uint32_t scope0 = P->nsyms;
	P->scope[0] = scope0;
	P->f = &tmp;
	tmp.code = P->scode;
	tmp.tmpl = P->stmpl;
	P->capcode = P->capscode;
	P->capslots = P->capstmpl;
	P->capfills = P->capgfix = 0;
	P->nlabels = P->nfix = 0;
	P->cc_slot = 0;
	new_slot(P, K_U64, 0);          /* slot 0: constant zero */
	int retsym = -1;
	struct tok *t = lex_next(&P->L);
	if (!is_entry && tok_isp(t, '(')) {
		retsym = (int)P->nsyms;
		if (parse_params(P, &tmp, 1))
			goto fail;
		if (P->nsyms != (uint32_t)retsym + 1) {
			perr(P, -ENOTSUP, t->line, "only one return value is supported");
			goto fail;
		}
		t = lex_next(&P->L);
	}
	if (t->t != T_ID || t->s[0] == '.') {
		perr(P, -EINVAL, t->line, "expected a function name");
		goto fail;
	}
	if (t->n > PTX_NAME_MAX) {
		perr(P, -EINVAL, t->line, "function name of %zu characters, longer than %d", (size_t)t->n, PTX_NAME_MAX);
		goto fail;
	}
	if (!(tmp.name = strndup(t->s, t->n))) {
		perr(P, -ENOMEM, t->line, "out of memory");
		goto fail;
	}
	uint32_t line = t->line;
	tmp.frame_param_size = 0;
	if (tok_isp(lex_peek(&P->L), '(')) {
		lex_next(&P->L);
		if (parse_params(P, &tmp, 0))
			goto fail;
	}
	if (retsym >= 0) {
		uint32_t off = align_up(tmp.param_bytes, 8);
		P->syms[retsym].off = off;
		tmp.ret_off = off;
		tmp.ret_size = P->syms[retsym].size;
		tmp.frame_param_size = off + tmp.ret_size;
	}
	for (;;) {
		t = lex_next(&P->L);
		if (tok_isp(t, '{') || tok_isp(t, ';') || t->t == T_EOF)
			break;
		if (tok_is(t, ".maxntid") || tok_is(t, ".reqntid")) {
			uint32_t prod = 1;
			for (;;) {
				struct tok *v = lex_next(&P->L);
				if (v->t == T_INT && v->v > 0 && v->v <= 1024)
					prod *= (uint32_t)v->v;
				if (!tok_isp(lex_peek(&P->L), ','))
					break;
				lex_next(&P->L);
			}
			tmp.max_ntid = prod > 1024 ? 1024 : prod;
		} else if (tok_is(t, ".reqnctapercluster")) {
			/* x[, y[, z]]: the cluster shape every launch has (missing ones are 1) */
			uint32_t d[3] = {1, 1, 1};
			for (int i = 0;; i++) {
				struct tok *v = lex_next(&P->L);
				if (i >= 3 || v->t != T_INT || v->v < 1 || v->v > 1024) {
					perr(P, -EINVAL, v->line, ".reqnctapercluster wants 1 to 3 sizes of 1 to 1024");
					goto fail;
				}
				d[i] = (uint32_t)v->v;
				if (!tok_isp(lex_peek(&P->L), ','))
					break;
				lex_next(&P->L);
			}
			memcpy(tmp.req_cluster, d, sizeof(d));
			tmp.explicit_cluster = 1;
		} else if (tok_is(t, ".explicitcluster")) {
			tmp.explicit_cluster = 1;
		}
	}
	if (t->t == T_EOF) {
		perr(P, -EINVAL, t->line, "unexpected end of text after '%s'", tmp.name);
		goto fail;
	}
	int idx = find_func(P, tmp.name, strlen(tmp.name));
	if (idx < 0) {
		struct ptx_func *nf = grow(m->funcs, &P->capfuncs, m->nfuncs + 1, sizeof(*nf));
		if (!nf) {
			perr(P, -ENOMEM, line, "out of memory");
			goto fail;
		}
		m->funcs = nf;
		idx = (int)m->nfuncs++;
		memset(&m->funcs[idx], 0, sizeof(m->funcs[idx]));
		if (!(m->funcs[idx].name = strdup(tmp.name)) || func_hash_add(P, (uint32_t)idx) < 0) {
			free(m->funcs[idx].name);
			m->nfuncs--;
			perr(P, -ENOMEM, line, "out of memory");
			goto fail;
		}
	}
	struct ptx_func *dst = &m->funcs[idx];
	if (!dst->defined) {
		dst->is_entry = is_entry;
		dst->nparams = tmp.nparams;
		memcpy(dst->param_off, tmp.param_off, sizeof(tmp.param_off));
		memcpy(dst->param_size, tmp.param_size, sizeof(tmp.param_size));
		dst->param_bytes = tmp.param_bytes;
		dst->ret_off = tmp.ret_off;
		dst->ret_size = tmp.ret_size;
	}
	if (tok_isp(t, '{')) {
		if (dst->defined) {
			perr(P, -EINVAL, line, "function '%s' defined twice", tmp.name);
			goto fail;
		}
		P->fidx = (uint32_t)idx;
		if (parse_body(P) || own_arrays(P, &tmp, line))
			goto fail;
		tmp.defined = 1;
		tmp.shared_static = P->fshared;   /* its own; what it calls is added at the end */
		free(tmp.name);
		tmp.name = dst->name;   /* the module's copy stays */
		m->funcs[idx] = tmp;
	} else {
		scratch_back(P, &tmp);
		func_release(&tmp);
		free(tmp.name);
	}
	sym_pop(P, scope0);
	P->f = NULL;
	return 0;
fail:
	scratch_back(P, &tmp);
	func_release(&tmp);
	free(tmp.name);
	sym_pop(P, scope0);
	P->f = NULL;
	return P->rc ? P->rc : -EINVAL;
}

/* The device runtime's entry points that dynamic parallelism compiles to (CUDA 12's
 * __cudaCDP2*), by name and signature: parameter sizes, then the return value's. */
static uint32_t cdp_builtin(const struct ptx_func *c)
{
	static const struct { const char *name; uint32_t id, n, sz[6], ret; } t[] = {
		{ "__cudaCDP2GetParameterBufferV2", PTX_BUILTIN_CDP_PARAMBUF2, 4, {8, 12, 12, 4}, 8 },
		{ "__cudaCDP2LaunchDeviceV2", PTX_BUILTIN_CDP_LAUNCH2, 2, {8, 8}, 4 },
		{ "__cudaCDP2LaunchDeviceV2_ptsz", PTX_BUILTIN_CDP_LAUNCH2, 2, {8, 8}, 4 },
		{ "__cudaCDP2GetParameterBuffer", PTX_BUILTIN_CDP_PARAMBUF, 2, {8, 8}, 8 },
		{ "__cudaCDP2LaunchDevice", PTX_BUILTIN_CDP_LAUNCH, 6, {8, 8, 12, 12, 4, 8}, 4 },
		{ "__cudaCDP2LaunchDevice_ptsz", PTX_BUILTIN_CDP_LAUNCH, 6, {8, 8, 12, 12, 4, 8}, 4 },
		{ "__cudaCDP2GetLastError", PTX_BUILTIN_CDP_SUCCESS, 0, {0}, 4 },
		{ "__cudaCDP2PeekAtLastError", PTX_BUILTIN_CDP_SUCCESS, 0, {0}, 4 },
		{ "__cudaCDP2StreamDestroy", PTX_BUILTIN_CDP_SUCCESS, 1, {8}, 4 },
		{ "__cudaCDP2StreamCreateWithFlags", PTX_BUILTIN_CDP_STREAM, 2, {8, 4}, 4 },
		{ "__cudaCDP2GetDevice", PTX_BUILTIN_CDP_DEVICE, 1, {8}, 4 },
	};
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		if (strcmp(c->name, t[k].name) || c->nparams != t[k].n || c->ret_size != t[k].ret)
			continue;
		for (uint32_t i = 0; i < t[k].n; i++)
			if (c->param_size[i] != t[k].sz[i])
				return PTX_BUILTIN_NONE;
		return t[k].id;
	}
	return PTX_BUILTIN_NONE;
}

static void skip_line(struct P *P)
{
	uint32_t l = P->L.cur.line;
	while (lex_peek(&P->L)->t != T_EOF && lex_peek(&P->L)->line == l)
		lex_next(&P->L);
}

static int parse_module(struct P *P)
{
	int is_extern = 0;
	for (;;) {
		struct tok *t = lex_next(&P->L);
		if (P->rc)
			return P->rc;
		if (t->t == T_EOF)
			break;
		if (tok_isp(t, ';'))
			continue;
		if (t->t != T_ID || t->s[0] != '.')
			return perr(P, -EINVAL, t->line, "expected a directive, got '%.*s'",
			            t->t == T_ID ? (int)t->n : 1, t->t == T_ID ? t->s : "?");
		int rc = 0;
		if (tok_is(t, ".version")) {
			t = lex_next(&P->L);
			if (t->t != T_FLTDEC && t->t != T_INT)
				return perr(P, -EINVAL, t->line, "bad .version");
		} else if (tok_is(t, ".target")) {
			/* the first target named: sm_NN with an optional a/f suffix (cudaFuncAttributes'
			 * ptxVersion, which libraries read to know which of their builds is running) */
			struct tok *a = lex_peek(&P->L);
			if (a->t == T_ID && a->n > 3 && a->n < 12 && memcmp(a->s, "sm_", 3) == 0) {
				unsigned v = 0;
				for (size_t i = 3; i < a->n && a->s[i] >= '0' && a->s[i] <= '9'; i++)
					v = v * 10 + (unsigned)(a->s[i] - '0');
				P->m->target = v;
			}
			skip_line(P);
		} else if (tok_is(t, ".file") || tok_is(t, ".pragma") || tok_is(t, ".loc")) {
			skip_line(P);
		} else if (tok_is(t, ".address_size")) {
			t = lex_next(&P->L);
			if (t->t != T_INT || t->v != 64)
				return perr(P, -ENOTSUP, t->line, "only .address_size 64 is supported");
		} else if (tok_is(t, ".visible") || tok_is(t, ".weak") || tok_is(t, ".common")) {
			continue;
		} else if (tok_is(t, ".extern")) {
			is_extern = 1;
			continue;
		} else if (tok_is(t, ".entry")) {
			rc = parse_func(P, 1);
		} else if (tok_is(t, ".func")) {
			rc = parse_func(P, 0);
		} else if (tok_is(t, ".global") || tok_is(t, ".const")) {
			if (is_extern)
				return perr(P, -ENOTSUP, t->line, "external variables are not supported");
			rc = parse_var(P, tok_is(t, ".global") ? SP_GLOBAL : SP_CONST);
		} else if (tok_is(t, ".shared")) {
			rc = parse_shared(P, is_extern);
		} else if (tok_is(t, ".section")) {
			/* debug sections: skip the braced block */
			int depth = 0;
			do {
				t = lex_next(&P->L);
				if (tok_isp(t, '{'))
					depth++;
				else if (tok_isp(t, '}'))
					depth--;
			} while (t->t != T_EOF && depth > 0);
		} else {
			return perr(P, -ENOTSUP, t->line, "unsupported directive '%.*s'", (int)t->n, t->s);
		}
		if (rc)
			return rc;
		is_extern = 0;
	}
	struct ptx_module *m = P->m;
	for (uint32_t i = 0; i < P->nifix; i++) {
		int fi = find_func(P, P->ifix[i].name, strlen(P->ifix[i].name));
		if (fi < 0)
			return perr(P, -EINVAL, P->ifix[i].line, "initializer names '%s', which is neither a number "
			            "nor a function of the module", P->ifix[i].name);
		uint64_t a = ptx_func_addr((uint32_t)fi);
		memcpy(m->vars[P->ifix[i].var].init + P->ifix[i].off, &a, 8);
	}
	for (uint32_t i = 0; i < m->ncalls; i++) {
		if (m->calls[i].indirect)
			continue;
		const struct ptx_func *c = &m->funcs[m->calls[i].callee];
		uint32_t cdp;
		/* device printf: int vprintf(const char *format, void *args), as CUDA declares it */
		if (!c->defined && !strcmp(c->name, "vprintf") && c->nparams == 2 && c->param_size[0] == 8 &&
		    c->param_size[1] == 8 && c->ret_size == 4)
			m->calls[i].builtin = PTX_BUILTIN_VPRINTF;
		/* the device heap: void *malloc(size_t), void free(void *) */
		else if (!c->defined && !strcmp(c->name, "malloc") && c->nparams == 1 && c->param_size[0] == 8 &&
			 c->ret_size == 8)
			m->calls[i].builtin = PTX_BUILTIN_MALLOC;
		else if (!c->defined && !strcmp(c->name, "free") && c->nparams == 1 && c->param_size[0] == 8 &&
			 c->ret_size == 0)
			m->calls[i].builtin = PTX_BUILTIN_FREE;
		/* device assert(): __assertfail(message, file, line, function, char size) */
		else if (!c->defined && !strcmp(c->name, "__assertfail") && c->nparams == 5 && c->param_size[0] == 8 &&
			 c->param_size[1] == 8 && c->param_size[2] == 4 && c->param_size[3] == 8 && c->ret_size == 0)
			m->calls[i].builtin = PTX_BUILTIN_ASSERTFAIL;
		/* a graph's conditional: void cudaGraphSetConditional(handle, unsigned value) */
		else if (!c->defined && !strcmp(c->name, "cudaGraphSetConditional") && c->nparams == 2 &&
			 c->param_size[0] == 8 && c->param_size[1] == 4 && c->ret_size == 0)
			m->calls[i].builtin = PTX_BUILTIN_SETCOND;
		else if (!c->defined && (cdp = cdp_builtin(c)) != PTX_BUILTIN_NONE)
			m->calls[i].builtin = cdp;
		else if (!c->defined)
			return perr(P, -ENOTSUP, m->calls[i].line, "call to external function '%s', which "
			            "the simulator does not provide (it has vprintf, malloc, free, __assertfail, "
			            "cudaGraphSetConditional and the device runtime's launches)", c->name);
		if (m->calls[i].nargs != c->nparams || m->calls[i].nret != (c->ret_size != 0))
			return perr(P, -EINVAL, m->calls[i].line, "call to '%s' with a wrong number of "
			            "arguments", c->name);
	}
	return 0;
}

/*
 * Places the regions of static shared memory (module-scope variables, and each .func's own):
 * each kernel gets, after its own variables, the regions that its code or the code of what it
 * calls names (an indirect call may reach any function), and regions that no kernel uses
 * together may overlap, as a GPU's linker lays out each kernel alone. Patches the slots
 * holding their addresses and grows each kernel's static shared memory by its regions.
 */
static int layout_shared(struct P *P)
{
	struct ptx_module *m = P->m;
	uint32_t n = m->nfuncs, nreg = P->nrg, nent = 0, words = (nreg + 63) / 64;
	if (!nreg)
		return 0;
	/* per function: the calls it makes (direct callees; any[] for an indirect one) and the
	 * regions its code names, as lists */
	uint32_t *ncallee = calloc(n + 1, sizeof(uint32_t)), *nref = calloc(n + 1, sizeof(uint32_t));
	uint32_t *eid = calloc(n, sizeof(uint32_t)), *stack = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *seen = calloc(n, sizeof(uint32_t)), *roff = calloc(nreg, sizeof(uint32_t));
	uint32_t *callee = NULL, *ref = NULL, *top = NULL;
	uint8_t *any = calloc(n + 1, 1);
	uint64_t *reach = NULL;
	int rc = 0;
	if (!ncallee || !nref || !eid || !stack || !seen || !roff || !any)
		goto oom;
	for (uint32_t i = 0; i < n; i++) {
		const struct ptx_func *f = &m->funcs[i];
		/* (a defined function's opcodes carry their kind by now: op << 4 | kind) */
		for (uint32_t k = 0; k < f->ncode; k++)
			if (f->code[k].op >> 4 == OP_CALL && (uint64_t)f->code[k].imm < m->ncalls) {
				const struct ptx_call *c = &m->calls[f->code[k].imm];
				if (c->indirect)
					any[i] = 1;
				else if (c->callee < n)
					ncallee[i + 1]++;
			}
		if (f->is_entry && f->defined)
			eid[i] = ++nent;
	}
	for (uint32_t i = 0; i < P->nsfix; i++)
		if (P->sfix[i].func < n)
			nref[P->sfix[i].func + 1]++;
	for (uint32_t i = 0; i < n; i++) {   /* list starts (prefix sums) */
		ncallee[i + 1] += ncallee[i];
		nref[i + 1] += nref[i];
	}
	if (!nent)
		goto done;
	/* the walks and the placement cost kernels x (functions + calls + regions): bounded, so
	 * that a module made to be expensive is refused rather than worked on for minutes (the
	 * CUDA libraries' largest modules need under 2^18) */
	if ((uint64_t)nent * ((uint64_t)n + ncallee[n] + nref[n] + nreg) > (1ull << 30)) {
		rc = perr(P, -EINVAL, 0, "%u kernels over %u functions, %u calls and %u shared variables: past what "
		          "the simulator lays out", nent, n, ncallee[n], nreg);
		goto done;
	}
	if (!(callee = malloc((ncallee[n] + 1) * sizeof(uint32_t))) ||
	    !(ref = malloc((nref[n] + 1) * sizeof(uint32_t))) || !(top = calloc(nent, sizeof(uint32_t))) ||
	    !(reach = calloc((size_t)nent * words, sizeof(uint64_t))))
		goto oom;
	memset(seen, 0, n * sizeof(uint32_t));   /* (fill counters for the lists) */
	for (uint32_t i = 0; i < n; i++) {
		const struct ptx_func *f = &m->funcs[i];
		for (uint32_t k = 0; k < f->ncode; k++)
			if (f->code[k].op >> 4 == OP_CALL && (uint64_t)f->code[k].imm < m->ncalls) {
				const struct ptx_call *c = &m->calls[f->code[k].imm];
				if (!c->indirect && c->callee < n)
					callee[ncallee[i] + seen[i]++] = c->callee;
			}
	}
	memset(seen, 0, n * sizeof(uint32_t));
	for (uint32_t i = 0; i < P->nsfix; i++)
		if (P->sfix[i].func < n)
			ref[nref[P->sfix[i].func] + seen[P->sfix[i].func]++] = P->sfix[i].rid - 1;
	memset(seen, 0, n * sizeof(uint32_t));
	/* which regions each kernel uses: a walk of the calls from it */
	for (uint32_t e = 0; e < n; e++) {
		if (!eid[e])
			continue;
		uint64_t *r = reach + (size_t)(eid[e] - 1) * words;
		uint32_t sp = 0;
		stack[sp++] = e;
		seen[e] = eid[e];
		while (sp) {
			uint32_t fi = stack[--sp];
			if (any[fi])
				for (uint32_t w = 0; w < words; w++)
					r[w] = ~0ull;
			for (uint32_t k = nref[fi]; k < nref[fi + 1]; k++)
				r[ref[k] / 64] |= 1ull << (ref[k] % 64);
			for (uint32_t k = ncallee[fi]; k < ncallee[fi + 1]; k++)
				if (seen[callee[k]] != eid[e]) {
					seen[callee[k]] = eid[e];
					stack[sp++] = callee[k];
				}
		}
		top[eid[e] - 1] = m->funcs[e].shared_static;
	}
	/* each region after what every kernel using it has so far */
	for (uint32_t g = 0; g < nreg; g++) {
		uint64_t off = 0, bit = 1ull << (g % 64);
		for (uint32_t e = 0; e < nent; e++)
			if ((reach[(size_t)e * words + g / 64] & bit) && top[e] > off)
				off = top[e];
		off = align_up(off, P->rg[g].align);
		if (off + P->rg[g].size > PTX_SHARED_MAX) {
			rc = perr(P, -EINVAL, 0, "static shared memory over %u KiB in a kernel", PTX_SHARED_MAX >> 10);
			goto done;
		}
		roff[g] = (uint32_t)off;
		for (uint32_t e = 0; e < nent; e++)
			if (reach[(size_t)e * words + g / 64] & bit)
				top[e] = roff[g] + P->rg[g].size;
	}
	for (uint32_t e = 0; e < n; e++)
		if (eid[e])
			m->funcs[e].shared_static = top[eid[e] - 1];
	for (uint32_t i = 0; i < P->nsfix; i++) {
		struct ptx_func *f = P->sfix[i].func < n ? &m->funcs[P->sfix[i].func] : NULL;
		if (f && P->sfix[i].slot < f->nslots)
			f->tmpl[P->sfix[i].slot] = (uint64_t)roff[P->sfix[i].rid - 1] + P->sfix[i].off;
	}
	goto done;
oom:
	rc = perr(P, -ENOMEM, 0, "out of memory");
done:
	free(ncallee);
	free(nref);
	free(eid);
	free(stack);
	free(seen);
	free(roff);
	free(callee);
	free(ref);
	free(top);
	free(any);
	free(reach);
	return rc;
}

int ptx_module_parse(const char *text, struct ptx_module **out, char *err, size_t errlen)
{
	struct P P;
	memset(&P, 0, sizeof(P));
	char dummy[8];
	P.err = err && errlen ? err : dummy;
	P.errlen = err && errlen ? errlen : sizeof(dummy);
	P.err[0] = 0;
	P.L.p = text;
	P.L.line = 1;
	*out = NULL;
	P.m = calloc(1, sizeof(*P.m));
	if (!P.m || hash_rebuild(&P, 1024) < 0) {
		free(P.m);
		snprintf(P.err, P.errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = parse_module(&P);
	if (!rc)
		rc = layout_shared(&P);
	sym_pop(&P, 0);
	free(P.rg);
	free(P.frid);
	free(P.sfix);
	free(P.syms);
	free(P.hash);
	free(P.slotkind);
	free(P.scode);
	free(P.stmpl);
	free(P.fix);
	free(P.labels);
	free(P.fhash);
	for (uint32_t i = 0; i < P.nifix; i++)
		free(P.ifix[i].name);
	free(P.ifix);
	if (rc) {
		ptx_module_free(P.m);
		return rc;
	}
	*out = P.m;
	return 0;
}

void ptx_module_free(struct ptx_module *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nfuncs; i++) {
		func_release(&m->funcs[i]);
		free(m->funcs[i].name);
	}
	for (uint32_t i = 0; i < m->nvars; i++) {
		free(m->vars[i].init);
		free(m->vars[i].name);
	}
	free(m->funcs);
	free(m->vars);
	free(m->calls);
	free(m);
}

/* A copy of n bytes of p in fresh memory (NULL for none); *ok cleared when out of memory. */
static void *dup_bytes(const void *p, size_t n, int *ok)
{
	if (!p || !n)
		return NULL;
	void *q = malloc(n);
	if (!q)
		*ok = 0;
	else
		memcpy(q, p, n);
	return q;
}

static char *dup_name(const char *s, int *ok)
{
	return s ? dup_bytes(s, strlen(s) + 1, ok) : NULL;
}

struct ptx_module *ptx_module_clone(const struct ptx_module *m)
{
	struct ptx_module *c = malloc(sizeof(*c));
	int ok = 1;
	if (!c)
		return NULL;
	*c = *m;
	c->funcs = NULL;
	c->vars = NULL;
	c->calls = NULL;
	c->nfuncs = c->nvars = 0;
	if (m->nfuncs && !(c->funcs = calloc(m->nfuncs, sizeof(*c->funcs))))
		ok = 0;
	for (uint32_t i = 0; ok && i < m->nfuncs; i++, c->nfuncs++) {
		const struct ptx_func *f = &m->funcs[i];
		struct ptx_func *g = &c->funcs[i];
		*g = *f;
		g->name = dup_name(f->name, &ok);
		g->code = dup_bytes(f->code, (size_t)f->ncode * sizeof(*f->code), &ok);
		g->tmpl = dup_bytes(f->tmpl, (size_t)f->nslots * sizeof(*f->tmpl), &ok);
		g->fills = dup_bytes(f->fills, (size_t)f->nfills * sizeof(*f->fills), &ok);
		g->gfix = dup_bytes(f->gfix, (size_t)f->ngfix * sizeof(*f->gfix), &ok);
	}
	if (ok && m->nvars && !(c->vars = calloc(m->nvars, sizeof(*c->vars))))
		ok = 0;
	for (uint32_t i = 0; ok && i < m->nvars; i++, c->nvars++) {
		const struct ptx_var *v = &m->vars[i];
		struct ptx_var *w = &c->vars[i];
		*w = *v;
		w->name = dup_name(v->name, &ok);
		w->init = dup_bytes(v->init, v->init ? v->size : 0, &ok);
		w->addr = 0;
		w->placed = 0;
	}
	if (ok)
		c->calls = dup_bytes(m->calls, (size_t)m->ncalls * sizeof(*m->calls), &ok);
	if (!ok) {
		ptx_module_free(c);
		return NULL;
	}
	return c;
}

const struct ptx_func *ptx_module_entry(const struct ptx_module *m, const char *name)
{
	for (uint32_t i = 0; i < m->nfuncs; i++)
		if (m->funcs[i].is_entry && m->funcs[i].defined && !strcmp(m->funcs[i].name, name))
			return &m->funcs[i];
	return NULL;
}

void ptx_module_bind(struct ptx_module *m)
{
	for (uint32_t i = 0; i < m->nfuncs; i++) {
		struct ptx_func *f = &m->funcs[i];
		for (uint32_t j = 0; j < f->ngfix; j++) {
			assert(f->gfix[j].var < m->nvars && f->gfix[j].slot < f->nslots);
			f->tmpl[f->gfix[j].slot] = m->vars[f->gfix[j].var].addr + f->gfix[j].addend;
		}
	}
}
