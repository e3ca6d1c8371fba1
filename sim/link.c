/* SPDX-License-Identifier: MIT */
/*
 * link.c — the JIT linker (cuLinkCreate/AddData/AddFile/Complete/Destroy) of the simulator.
 *
 * The simulator runs PTX, so "linking" here means joining the PTX texts of the inputs into
 * one PTX module its own cuModuleLoadData accepts: the texts concatenated, one header
 * (.version/.target/.address_size) kept, each `.extern` declaration satisfied by the
 * definition another input gives. No SASS is made; the "cubin" cuLinkComplete returns is
 * that PTX text, NUL-terminated, its size counting the NUL.
 *
 * The PTX parser (ptx_parse.c) takes a function declaration followed later by its
 * definition, but refuses `.extern .global`/`.const` variables and reads a module in one
 * pass (a symbol must be declared before its use). So the linker works on whole top-level
 * statements: it moves a variable's definition to where the first input declared it extern,
 * drops the other declarations of it, turns a duplicate weak definition into a declaration,
 * and renames an input's internal (non-.visible) symbol that another input also names.
 */
#include "sim.h"
#include "modimage.h"
#include "hash.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#undef cuLinkCreate
#undef cuLinkAddData
#undef cuLinkAddFile

#define LINK_MAX_INPUT_BYTES (256u << 20)   /* all inputs' PTX together */

/* ---- top-level statements of a PTX text ---- */

enum { ST_OTHER, ST_HEADER, ST_FUNC, ST_VAR };

struct stmt {
	size_t off, len;         /* in the input's text */
	uint32_t line;           /* line of its first character */
	uint8_t kind;
	uint8_t is_def, is_extern, is_weak, is_visible, is_entry;
	size_t hdr_len;          /* ST_FUNC definitions: bytes before the body's '{' */
	char *name;              /* ST_FUNC, ST_VAR: malloc'd */
	/* set by the link */
	uint8_t drop;            /* not emitted */
	uint8_t proto;           /* emitted as a declaration (a definition another input wins) */
	const struct stmt *subst; /* emitted as this (another input's definition) instead */
	unsigned subst_in;
};

struct input {
	char *name;
	char *ptx;               /* NUL-terminated, owned */
	size_t len;
	struct stmt *st;
	size_t nst;
	double version;          /* of its .version, 0 when none */
	char **ren;              /* internal symbols renamed in this input (link time) */
	size_t nren;
};

struct jitopts {
	char *ibuf, *ebuf;
	size_t icap, ecap;
	int isz, esz, wall;      /* indexes of the options written back, -1 when absent */
	int verbose;
};

struct sim_link {
	uint32_t magic;
	struct sim_ctx *ctx;
	/* cuLinkCreate's options, kept: the driver writes its logs and times through them until
	 * cuLinkDestroy (the caller keeps the arrays alive, as cuda.h requires) */
	unsigned nopt;
	void **vals;
	struct jitopts o;        /* read at cuLinkCreate */
	int verbose;
	struct input *in;
	unsigned nin;
	size_t total;            /* bytes of all inputs' PTX */
	char *ilog, *elog;       /* accumulated logs, NUL-terminated */
	size_t ilen, elen;
	double ms;               /* time spent in AddData/AddFile/Complete */
	char *out;               /* the linked image, owned until cuLinkDestroy */
	size_t outlen;
};

static int is_sym(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

/* Skips a comment or string at s[i] (returns the index after it), or returns i. */
static size_t skip_lexeme(const char *s, size_t i, size_t n, uint32_t *line)
{
	if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
		while (i < n && s[i] != '\n')
			i++;
		return i;
	}
	if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
		for (i += 2; i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/'); i++)
			if (s[i] == '\n')
				(*line)++;
		return i + 2 < n ? i + 2 : n;
	}
	if (s[i] == '"') {
		for (i++; i < n && s[i] != '"' && s[i] != '\n'; i++)
			if (s[i] == '\\' && i + 1 < n)
				i++;
		return i < n ? i + 1 : n;
	}
	return i;
}

static size_t skip_space(const char *s, size_t i, size_t n, uint32_t *line)
{
	while (i < n) {
		if (s[i] == '\n') {
			(*line)++;
			i++;
		} else if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v') {
			i++;
		} else {
			size_t j = skip_lexeme(s, i, n, line);
			if (j == i || s[i] == '"')
				break;
			i = j;
		}
	}
	return i;
}

static int word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && !memcmp(s, w, n);
}

/* Fills in what kind of statement st is, its name and linkage. */
static int classify(const char *s, struct stmt *st)
{
	size_t i = st->off, end = st->off + st->len;
	uint32_t dummy = 0;
	int depth = 0, after_func = 0;
	const char *nm = NULL;
	size_t nlen = 0;
	while (i < end) {
		size_t j = skip_lexeme(s, i, end, &dummy);
		if (j != i) {
			i = j;
			continue;
		}
		char c = s[i];
		if (c == '{' || c == ';' || (c == '=' && !depth))
			break;
		if (c == '(' || c == '[') {
			depth++;
			i++;
			continue;
		}
		if (c == ')' || c == ']') {
			depth--;
			i++;
			continue;
		}
		if (c == '.' || is_sym(c) || c == '%') {
			size_t b = i++;
			while (i < end && is_sym(s[i]))
				i++;
			const char *w = s + b;
			size_t wn = i - b;
			if (depth)
				continue;
			if (word_is(w, wn, ".extern"))
				st->is_extern = 1;
			else if (word_is(w, wn, ".weak") || word_is(w, wn, ".common"))
				st->is_weak = 1;
			else if (word_is(w, wn, ".visible"))
				st->is_visible = 1;
			else if (word_is(w, wn, ".entry") || word_is(w, wn, ".func")) {
				if (st->kind == ST_OTHER) {
					st->kind = ST_FUNC;
					st->is_entry = w[1] == 'e';
					after_func = 1;
				}
			} else if ((word_is(w, wn, ".global") || word_is(w, wn, ".const")) && st->kind == ST_OTHER) {
				st->kind = ST_VAR;
			} else if ((word_is(w, wn, ".version") || word_is(w, wn, ".target") ||
				    word_is(w, wn, ".address_size")) && st->kind == ST_OTHER) {
				st->kind = ST_HEADER;
				return 0;
			} else if (w[0] != '.' && !(w[0] >= '0' && w[0] <= '9')) {
				if (st->kind == ST_FUNC && after_func) {
					nm = w;
					nlen = wn;
					after_func = 0;
				} else if (st->kind == ST_VAR) {
					nm = w;     /* the last identifier before '[', '=' or ';' */
					nlen = wn;
				}
			}
			continue;
		}
		i++;
	}
	if (st->kind == ST_FUNC) {
		st->is_def = i < end && s[i] == '{';
		st->hdr_len = i - st->off;
	} else if (st->kind == ST_VAR) {
		st->is_def = !st->is_extern;
	}
	if ((st->kind == ST_FUNC || st->kind == ST_VAR) && nm) {
		if (!(st->name = strndup(nm, nlen)))
			return -ENOMEM;
	} else if (st->kind == ST_FUNC || st->kind == ST_VAR) {
		st->kind = ST_OTHER;   /* unnamed: left to the parser to judge */
	}
	return 0;
}

/* Splits a PTX text into its top-level statements. */
static int split(struct input *in)
{
	const char *s = in->ptx;
	size_t n = in->len, i = 0, cap = 0;
	uint32_t line = 1;
	for (;;) {
		i = skip_space(s, i, n, &line);
		if (i >= n)
			break;
		struct stmt st = {.off = i, .line = line};
		size_t j = i;
		if (s[j] == '.') {
			size_t k = j + 1;
			while (k < n && is_sym(s[k]))
				k++;
			const char *w = s + j;
			size_t wn = k - j;
			if (word_is(w, wn, ".version") || word_is(w, wn, ".target") ||
			    word_is(w, wn, ".address_size") || word_is(w, wn, ".file")) {
				/* line directives: no ';' ends them */
				while (k < n && s[k] != '\n' && !(s[k] == '/' && k + 1 < n && s[k + 1] == '/'))
					k++;
				st.len = k - i;
				if (word_is(w, wn, ".version"))
					in->version = strtod(w + wn, NULL);
				goto add;
			}
		}
		int depth = 0;
		while (j < n) {
			size_t k = skip_lexeme(s, j, n, &line);
			if (k != j) {
				j = k;
				continue;
			}
			char c = s[j++];
			if (c == '\n')
				line++;
			else if (c == '{')
				depth++;
			else if (c == '}' && depth > 0 && --depth == 0) {
				/* a body ends the statement; an initializer's '}' is followed by ';' */
				uint32_t l2 = line;
				size_t k2 = skip_space(s, j, n, &l2);
				if (k2 < n && s[k2] == ';') {
					line = l2;
					j = k2 + 1;
				}
				break;
			} else if (c == ';' && depth == 0)
				break;
		}
		st.len = j - i;
	add:
		if (in->nst == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct stmt *v = realloc(in->st, nc * sizeof(*v));
			if (!v)
				return -ENOMEM;
			in->st = v;
			cap = nc;
		}
		if (classify(s, &st))
			return -ENOMEM;
		in->st[in->nst++] = st;
		i = st.off + st.len;
	}
	return 0;
}

/* ---- a growing text buffer ---- */

struct buf {
	char *p;
	size_t n, cap;
	int oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->n + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (k > 0)
		put(b, tmp, (size_t)k < sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
}

static int name_in(char *const *v, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i]) == len && !memcmp(v[i], s, len))
			return 1;
	return 0;
}

/* Copies text, renaming the identifiers listed in in->ren to name$lnkN (comments and
 * strings untouched; '$' is a PTX identifier character that CUDA C++ names never hold). */
static void put_renamed(struct buf *b, const struct input *in, unsigned idx, const char *s, size_t n)
{
	if (!in->nren) {
		put(b, s, n);
		return;
	}
	size_t i = 0, from = 0;
	uint32_t dummy = 0;
	while (i < n) {
		size_t j = skip_lexeme(s, i, n, &dummy);
		if (j != i) {
			i = j;
			continue;
		}
		if (s[i] == '.' || (s[i] >= '0' && s[i] <= '9') || s[i] == '%') {
			i++;
			while (i < n && (is_sym(s[i]) || s[i] == '.'))
				i++;
			continue;
		}
		if (is_sym(s[i])) {
			size_t k = i;
			while (k < n && is_sym(s[k]))
				k++;
			if (name_in(in->ren, in->nren, s + i, k - i)) {
				put(b, s + from, k - from);
				putf(b, "$lnk%u", idx);
				from = k;
			}
			i = k;
			continue;
		}
		i++;
	}
	put(b, s + from, n - from);
}

/* ---- JIT options and logs ---- */


static CUresult opts_read(unsigned n, const CUjit_option *opts, void *const *vals, struct jitopts *o,
			  const char *call)
{
	memset(o, 0, sizeof(*o));
	o->isz = o->esz = o->wall = -1;
	if (n && (!opts || !vals)) {
		sim_log("%s: %u JIT options but no option or value array", call, n);
		return CUDA_ERROR_INVALID_VALUE;
	}
	for (unsigned i = 0; i < n; i++) {
		switch (opts[i]) {
		case CU_JIT_INFO_LOG_BUFFER: o->ibuf = vals[i]; break;
		case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES: o->icap = (unsigned)(uintptr_t)vals[i]; o->isz = (int)i; break;
		case CU_JIT_ERROR_LOG_BUFFER: o->ebuf = vals[i]; break;
		case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES: o->ecap = (unsigned)(uintptr_t)vals[i]; o->esz = (int)i; break;
		case CU_JIT_WALL_TIME: o->wall = (int)i; break;
		case CU_JIT_LOG_VERBOSE: o->verbose = (int)(uintptr_t)vals[i] != 0; break;
		/* code-generation choices: nothing to choose when the PTX is interpreted */
		case CU_JIT_MAX_REGISTERS: case CU_JIT_THREADS_PER_BLOCK: case CU_JIT_OPTIMIZATION_LEVEL:
		case CU_JIT_TARGET_FROM_CUCONTEXT: case CU_JIT_TARGET: case CU_JIT_FALLBACK_STRATEGY:
		case CU_JIT_GENERATE_DEBUG_INFO: case CU_JIT_GENERATE_LINE_INFO: case CU_JIT_CACHE_MODE:
		case CU_JIT_NEW_SM3X_OPT: case CU_JIT_FAST_COMPILE: case CU_JIT_LTO: case CU_JIT_FTZ:
		case CU_JIT_PREC_DIV: case CU_JIT_PREC_SQRT: case CU_JIT_FMA:
		case CU_JIT_OPTIMIZE_UNUSED_DEVICE_VARIABLES: case CU_JIT_POSITION_INDEPENDENT_CODE:
		case CU_JIT_MIN_CTA_PER_SM: case CU_JIT_MAX_THREADS_PER_BLOCK:
		case CU_JIT_OVERRIDE_DIRECTIVE_VALUES: case CU_JIT_SPLIT_COMPILE:
		case CU_JIT_REFERENCED_KERNEL_NAMES: case CU_JIT_REFERENCED_KERNEL_COUNT:
		case CU_JIT_REFERENCED_VARIABLE_NAMES: case CU_JIT_REFERENCED_VARIABLE_COUNT:
			break;
		/* host addresses for unresolved symbols: nothing in the simulator resolves them */
		case CU_JIT_GLOBAL_SYMBOL_NAMES: case CU_JIT_GLOBAL_SYMBOL_ADDRESSES: case CU_JIT_GLOBAL_SYMBOL_COUNT:
			sim_log("%s: JIT option %d (global symbol addresses) is not supported by the simulator",
				call, (int)opts[i]);
			return CUDA_ERROR_NOT_SUPPORTED;
		default:
			sim_log("%s: unknown JIT option %d", call, (int)opts[i]);
			return CUDA_ERROR_INVALID_VALUE;
		}
	}
	return CUDA_SUCCESS;
}

/* Writes log (len bytes) into a caller's buffer, cut to fit with its NUL; the size option's
 * value becomes the bytes filled: the text written plus its NUL, 0 when the log is empty. */
static void log_out(char *dst, size_t cap, int szidx, void **vals, const char *log, size_t len)
{
	if (!dst || !cap)
		return;
	size_t k = len < cap - 1 ? len : cap - 1;
	memcpy(dst, log, k);
	dst[k] = 0;
	if (szidx >= 0)
		vals[szidx] = (void *)(uintptr_t)(k ? k + 1 : 0);
}

/* CU_JIT_WALL_TIME: the float is written into the value slot itself, as the driver does. */
static void wall_out(int idx, void **vals, double ms)
{
	if (idx < 0)
		return;
	float f = (float)ms;
	vals[idx] = NULL;
	memcpy(&vals[idx], &f, sizeof(f));
}

static void emit_opts(const struct jitopts *o, void **vals, const char *ilog, size_t ilen, const char *elog,
		      size_t elen, double ms)
{
	log_out(o->ibuf, o->icap, o->isz, vals, ilog ? ilog : "", ilog ? ilen : 0);
	log_out(o->ebuf, o->ecap, o->esz, vals, elog ? elog : "", elog ? elen : 0);
	wall_out(o->wall, vals, ms);
}

static void log_append(char **log, size_t *len, const char *msg)
{
	size_t k = strlen(msg);
	char *p = realloc(*log, *len + k + 2);
	if (!p)
		return;
	memcpy(p + *len, msg, k);
	p[*len + k] = '\n';
	p[*len + k + 1] = 0;
	*log = p;
	*len += k + 1;
}

/* A call's messages: logged to the state (and so to cuLinkCreate's buffers), and to the
 * call's own log options. */
struct calllog {
	struct buf info, err;
};

static void note(struct sim_link *l, struct calllog *cl, int error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void note(struct sim_link *l, struct calllog *cl, int error, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char line[1300];
	snprintf(line, sizeof(line), "vgpu-sim: %s%s", error ? "error: " : "", msg);
	if (error) {
		log_append(&l->elog, &l->elen, line);
		sim_set_error("%s", msg);
		sim_log("%s", msg);
	} else {
		log_append(&l->ilog, &l->ilen, line);
	}
	if (cl) {
		struct buf *b = error ? &cl->err : &cl->info;
		put(b, line, strlen(line));
		put(b, "\n", 1);
	}
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Writes the state's logs and time through cuLinkCreate's options (with the buffer sizes
 * read at cuLinkCreate: the size values have been overwritten with the bytes filled). */
static void state_out(struct sim_link *l)
{
	if (l->nopt)
		emit_opts(&l->o, l->vals, l->ilog, l->ilen, l->elog, l->elen, l->ms);
}

static struct sim_link *link_get(CUlinkState h, CUresult *rc)
{
	struct sim_link *l = (struct sim_link *)h;
	if (!g_inited) {
		*rc = CUDA_ERROR_NOT_INITIALIZED;
		return NULL;
	}
	if (!l || l->magic != MAGIC_LINK) {
		*rc = CUDA_ERROR_INVALID_HANDLE;
		return NULL;
	}
	return l;
}

static void input_free(struct input *in)
{
	for (size_t i = 0; i < in->nst; i++)
		free(in->st[i].name);
	for (size_t i = 0; i < in->nren; i++)
		free(in->ren[i]);
	free(in->ren);
	free(in->st);
	free(in->ptx);
	free(in->name);
}

/* ---- the API ---- */

CUresult cuLinkCreate_v2(unsigned int n, CUjit_option *opts, void **vals, CUlinkState *state)
{
	CUresult rc;
	struct sim_ctx *c = sim_ctx_current(&rc);
	if (!c)
		return rc;
	if (!state)
		return CUDA_ERROR_INVALID_VALUE;
	struct jitopts o;
	if ((rc = opts_read(n, opts, vals, &o, "cuLinkCreate")) != CUDA_SUCCESS)
		return rc;
	struct sim_link *l = sim_shell_alloc(SHELL_LINK, sizeof(*l));
	if (!l)
		return CUDA_ERROR_OUT_OF_MEMORY;
	l->magic = MAGIC_LINK;
	l->ctx = sim_ctx_res(c);
	l->nopt = n;
	l->vals = n ? vals : NULL;
	l->o = o;
	l->verbose = o.verbose;
	/* both logs start empty (the driver's do too) */
	emit_opts(&o, vals, NULL, 0, NULL, 0, 0);
	*state = (CUlinkState)l;
	return CUDA_SUCCESS;
}

CUresult cuLinkCreate(unsigned int n, CUjit_option *opts, void **vals, CUlinkState *state);
CUresult cuLinkCreate(unsigned int n, CUjit_option *opts, void **vals, CUlinkState *state)
{
	return cuLinkCreate_v2(n, opts, vals, state);
}

static const char *type_name(CUjitInputType t)
{
	switch (t) {
	case CU_JIT_INPUT_CUBIN: return "CUBIN";
	case CU_JIT_INPUT_PTX: return "PTX";
	case CU_JIT_INPUT_FATBINARY: return "FATBINARY";
	case CU_JIT_INPUT_OBJECT: return "OBJECT";
	case CU_JIT_INPUT_LIBRARY: return "LIBRARY";
	case CU_JIT_INPUT_NVVM: return "NVVM (LTO IR)";
	default: return "?";
	}
}

static int is_builtin(const char *name)
{
	return !strcmp(name, "vprintf") || !strcmp(name, "malloc") || !strcmp(name, "free") ||
	       !strcmp(name, "__assertfail") || !strcmp(name, "cudaGraphSetConditional");
}

/*
 * The input alone, made loadable for a syntax check with its line numbers unchanged: its
 * extern variables made definitions, its extern functions given an empty body (both are
 * satisfied by other inputs only at cuLinkComplete).
 */
static char *check_text(const struct input *in)
{
	struct buf b = {0};
	size_t at = 0;
	for (size_t i = 0; i < in->nst; i++) {
		const struct stmt *st = &in->st[i];
		int fdecl = st->kind == ST_FUNC && !st->is_def && !st->is_entry && !is_builtin(st->name);
		if (fdecl)   /* a definition in this input makes the declaration a plain one */
			for (size_t j = 0; j < in->nst; j++)
				if (in->st[j].kind == ST_FUNC && in->st[j].is_def && !strcmp(in->st[j].name, st->name))
					fdecl = 0;
		int vdecl = st->kind == ST_VAR && st->is_extern;
		if (!fdecl && !vdecl)
			continue;
		put(&b, in->ptx + at, st->off - at);
		const char *s = in->ptx + st->off;
		if (fdecl) {
			/* the statement ends with its ';' */
			put(&b, s, st->len - 1);
			put(&b, "{ ret; }", 8);
		} else {
			size_t k = 0;
			while (k < st->len) {
				if (k + 7 <= st->len && !memcmp(s + k, ".extern", 7)) {
					put(&b, "       ", 7);
					k += 7;
				} else if (k + 2 <= st->len && !memcmp(s + k, "[]", 2)) {
					put(&b, "[1]", 3);
					k += 2;
				} else {
					put(&b, s + k, 1);
					k++;
				}
			}
		}
		at = st->off + st->len;
	}
	put(&b, in->ptx + at, in->len - at);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p ? b.p : strdup(in->ptx);
}

static CUresult add(struct sim_link *l, CUjitInputType type, const void *data, size_t size, const char *name,
		   const struct jitopts *o, struct calllog *cl, const char *call);

struct host_walk {
	struct sim_link *l;
	const char *name;
	const struct jitopts *o;
	struct calllog *cl;
	const char *call;
	CUresult rc;
};

/* One fatbin of an object's device code, added as the fatbin input it is. */
static int host_fatbin(void *ctx, const void *fatbin, size_t len, const char *member)
{
	struct host_walk *w = ctx;
	char label[512];
	vgpu_modimage_member_label(label, sizeof(label), w->name, member);
	w->rc = add(w->l, CU_JIT_INPUT_FATBINARY, fatbin, len, label, w->o, w->cl, w->call);
	return w->rc != CUDA_SUCCESS;
}

/*
 * A host object or a static library of them (libcudadevrt.a, a library built with -rdc):
 * the device code the objects carry, container by container, as the driver's linker takes
 * it from them. CUDA's device runtime among them is left out (add(): the simulator provides
 * it).
 */
static CUresult add_host_file(struct sim_link *l, CUjitInputType type, const void *data, size_t size,
			      const char *name, const struct jitopts *o, struct calllog *cl, const char *call)
{
	struct host_walk w = {l, name, o, cl, call, CUDA_SUCCESS};
	unsigned n = 0;
	int rc = vgpu_modimage_devcode(data, size, host_fatbin, &w, &n);
	if (rc < 0) {
		note(l, cl, 1, "%s: input '%s' is not %s (or is truncated)", call, name,
		     type == CU_JIT_INPUT_LIBRARY ? "an ar archive of ELF objects" : "an ELF object");
		return CUDA_ERROR_INVALID_IMAGE;
	}
	if (rc > 0)
		return w.rc;
	if (l->verbose || o->verbose)
		note(l, cl, 0, "%s: %s input '%s': %u fatbins of device code", call, type_name(type), name, n);
	return CUDA_SUCCESS;
}

static CUresult add(struct sim_link *l, CUjitInputType type, const void *data, size_t size, const char *name,
		    const struct jitopts *o, struct calllog *cl, const char *call)
{
	char label[64];
	if (!name || !*name) {
		snprintf(label, sizeof(label), "input %u", l->nin);
		name = label;
	}
	if (l->out) {
		note(l, cl, 1, "%s: input '%s' added after cuLinkComplete", call, name);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if ((unsigned)type >= CU_JIT_NUM_INPUT_TYPES) {
		note(l, cl, 1, "%s: input '%s' has an unknown input type %d", call, name, (int)type);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (type == CU_JIT_INPUT_NVVM) {
		note(l, cl, 1, "%s: input '%s' is of type %s, which the simulator cannot link: it runs PTX only "
		     "(give the PTX of that code instead)", call, name, type_name(type));
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if (!data || !size) {
		note(l, cl, 1, "%s: input '%s' has no data", call, name);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (type == CU_JIT_INPUT_OBJECT || type == CU_JIT_INPUT_LIBRARY)
		return add_host_file(l, type, data, size, name, o, cl, call);
	char *ptx = NULL;
	size_t len;
	if (type == CU_JIT_INPUT_PTX) {
		/* NUL-terminated within size, or exactly size bytes of text */
		const char *z = memchr(data, 0, size);
		len = z ? (size_t)(z - (const char *)data) : size;
		if (len > LINK_MAX_INPUT_BYTES || l->total + len > LINK_MAX_INPUT_BYTES) {
			note(l, cl, 1, "%s: input '%s' would take the inputs past %u MiB", call, name,
			     LINK_MAX_INPUT_BYTES >> 20);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		if (!(ptx = malloc(len + 1)))
			return CUDA_ERROR_OUT_OF_MEMORY;
		memcpy(ptx, data, len);
		ptx[len] = 0;
	} else {
		size_t ilen;
		if (vgpu_modimage_size(data, size, &ilen) < 0) {
			note(l, cl, 1, "%s: input '%s' (%s) is not a cubin, fatbin or PTX image, or is truncated",
			     call, name, type_name(type));
			return CUDA_ERROR_INVALID_IMAGE;
		}
		int rc = vgpu_modimage_ptx(data, ilen, &ptx);
		if (rc == -ENOEXEC) {
			note(l, cl, 1, "%s: input '%s' holds only SASS for real GPUs and no PTX; the simulator needs "
			     "PTX: rebuild with PTX included (e.g. nvcc -gencode arch=compute_75,code=compute_75)",
			     call, name);
			return CUDA_ERROR_NO_BINARY_FOR_GPU;
		}
		if (rc) {
			note(l, cl, 1, "%s: cannot extract PTX from input '%s' (%s)", call, name,
			     rc == -ENOMEM ? "out of memory" : "malformed or truncated fatbin entry");
			return rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_IMAGE;
		}
		len = strlen(ptx);
		if (vgpu_modimage_is_devrt(ptx)) {
			free(ptx);
			if (l->verbose || o->verbose)
				note(l, cl, 0, "%s: input '%s' is CUDA's device runtime, which the simulator provides "
				     "itself: left out", call, name);
			return CUDA_SUCCESS;
		}
		if (l->total + len > LINK_MAX_INPUT_BYTES) {
			free(ptx);
			note(l, cl, 1, "%s: input '%s' would take the inputs past %u MiB", call, name,
			     LINK_MAX_INPUT_BYTES >> 20);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	struct input in = {.ptx = ptx, .len = len, .name = strdup(name)};
	if (!in.name || split(&in)) {
		input_free(&in);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	/* parsed once now, so a syntax error is reported at the input it is in */
	char *chk = check_text(&in);
	if (!chk) {
		input_free(&in);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	struct ptx_module *pm;
	char err[400];
	int prc = ptx_module_parse(chk, &pm, err, sizeof(err));
	free(chk);
	if (prc) {
		note(l, cl, 1, "%s: PTX of input '%s' rejected: %s", call, name, err);
		input_free(&in);
		return prc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_PTX;
	}
	unsigned ne = 0;
	for (uint32_t i = 0; i < pm->nfuncs; i++)
		ne += pm->funcs[i].is_entry && pm->funcs[i].defined;
	ptx_module_free(pm);
	struct input *v = realloc(l->in, (l->nin + 1) * sizeof(*v));
	if (!v) {
		input_free(&in);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	l->in = v;
	l->in[l->nin++] = in;
	l->total += len;
	if (l->verbose || o->verbose)
		note(l, cl, 0, "%s: added %s input '%s': %zu bytes of PTX, %u entry points", call,
		     type_name(type), name, len, ne);
	return CUDA_SUCCESS;
}

/* Runs one AddData/AddFile: its options read, the input added, the logs and times written. */
static CUresult add_call(CUlinkState state, CUjitInputType type, const void *data, size_t size, const char *name,
			 unsigned n, CUjit_option *opts, void **vals, const char *call)
{
	CUresult rc;
	struct sim_link *l = link_get(state, &rc);
	if (!l)
		return rc;
	double t0 = now_ms();
	struct jitopts o;
	struct calllog cl = {{0}, {0}};
	rc = opts_read(n, opts, vals, &o, call);
	int opts_ok = rc == CUDA_SUCCESS;
	if (opts_ok)
		rc = add(l, type, data, size, name, &o, &cl, call);
	double dt = now_ms() - t0;
	l->ms += dt;
	/* this input's own messages and time go to the call's own log options (cuda.h says
	 * cuLinkAddData takes compiler options only; the simulator honours these too) */
	if (opts_ok && n)
		emit_opts(&o, vals, cl.info.p, cl.info.n, cl.err.p, cl.err.n, dt);
	state_out(l);
	free(cl.info.p);
	free(cl.err.p);
	return rc;
}

CUresult cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
			  unsigned int n, CUjit_option *opts, void **vals)
{
	return add_call(state, type, data, size, name, n, opts, vals, "cuLinkAddData");
}

CUresult cuLinkAddData(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
		       unsigned int n, CUjit_option *opts, void **vals);
CUresult cuLinkAddData(CUlinkState state, CUjitInputType type, void *data, size_t size, const char *name,
		       unsigned int n, CUjit_option *opts, void **vals)
{
	return cuLinkAddData_v2(state, type, data, size, name, n, opts, vals);
}

CUresult cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char *path, unsigned int n,
			  CUjit_option *opts, void **vals)
{
	CUresult rc;
	struct sim_link *l = link_get(state, &rc);
	if (!l)
		return rc;
	if (!path)
		return CUDA_ERROR_INVALID_VALUE;
	FILE *f = fopen(path, "rb");
	if (!f) {
		note(l, NULL, 1, "cuLinkAddFile: cannot open '%s'", path);
		state_out(l);
		return CUDA_ERROR_FILE_NOT_FOUND;
	}
	size_t len = 0;
	char *buf = vgpu_read_file(f, LINK_MAX_INPUT_BYTES, &len);
	fclose(f);
	if (!buf) {
		note(l, NULL, 1, "cuLinkAddFile: '%s' is larger than %u MiB or memory ran out", path,
		     LINK_MAX_INPUT_BYTES >> 20);
		state_out(l);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	buf[len] = 0;
	/* an empty file holds no image: the driver's CUDA_ERROR_INVALID_IMAGE (empty data passed
	 * to cuLinkAddData is an invalid value instead) */
	if (!len) {
		free(buf);
		note(l, NULL, 1, "cuLinkAddFile: '%s' is empty", path);
		state_out(l);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	rc = add_call(state, type, buf, len, path, n, opts, vals, "cuLinkAddFile");
	free(buf);
	return rc;
}

CUresult cuLinkAddFile(CUlinkState state, CUjitInputType type, const char *path, unsigned int n,
		       CUjit_option *opts, void **vals);
CUresult cuLinkAddFile(CUlinkState state, CUjitInputType type, const char *path, unsigned int n,
		       CUjit_option *opts, void **vals)
{
	return cuLinkAddFile_v2(state, type, path, n, opts, vals);
}

/* Where a statement of the output came from, to name an input's line in messages. */
struct origin {
	uint32_t out_line, in_line;
	unsigned in;
};

static uint32_t count_lines(const char *s, size_t n)
{
	uint32_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

struct def {
	const char *name;
	unsigned in;
	struct stmt *st;
};

/*
 * Names of the inputs' statements, for the passes below (a library's objects hold tens of
 * thousands of statements: comparing each with every other was most of linking NCCL): open
 * addressing, a name's value an int the pass gives it.
 */
struct names {
	const char **key;
	int *val;
	size_t cap;
};

/* The slot of name (its key NULL when absent). */
static size_t names_slot(const struct names *t, const char *name)
{
	size_t b = (size_t)vgpu_fnv1a(name, strlen(name)) & (t->cap - 1);
	while (t->key[b] && strcmp(t->key[b], name))
		b = (b + 1) & (t->cap - 1);
	return b;
}

static int names_init(struct names *t, size_t n)
{
	t->cap = 64;
	while (t->cap < 2 * n + 2)
		t->cap *= 2;
	t->key = calloc(t->cap, sizeof(*t->key));
	t->val = calloc(t->cap, sizeof(*t->val));
	return t->key && t->val ? 0 : -1;
}

static void names_free(struct names *t)
{
	free(t->key);
	free(t->val);
}

/*
 * The module cuLinkComplete parsed to check its result, kept for the cuModuleLoadData that
 * follows with the same text (what a program does with a linked image: parsing NCCL's 136 MB
 * once more took 5 s, 25 s under ASan). One slot; the module is handed over once; the text is
 * known by its length and a 64-bit hash of its bytes.
 */
static pthread_mutex_t parsed_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { size_t len; uint64_t hash; struct ptx_module *pm; } parsed;

static void parsed_keep(const char *text, size_t n, struct ptx_module *pm)
{
	uint64_t h = vgpu_bytes_hash(text, n);
	pthread_mutex_lock(&parsed_lock);
	struct ptx_module *old = parsed.pm;
	parsed.len = n;
	parsed.hash = h;
	parsed.pm = pm;
	pthread_mutex_unlock(&parsed_lock);
	ptx_module_free(old);
}

struct ptx_module *sim_link_parsed_take(const char *text, size_t n)
{
	struct ptx_module *pm = NULL;
	pthread_mutex_lock(&parsed_lock);
	int maybe = parsed.pm && parsed.len == n;
	pthread_mutex_unlock(&parsed_lock);
	if (!maybe)
		return NULL;
	uint64_t h = vgpu_bytes_hash(text, n);
	pthread_mutex_lock(&parsed_lock);
	if (parsed.pm && parsed.len == n && parsed.hash == h) {
		pm = parsed.pm;
		parsed.pm = NULL;
	}
	pthread_mutex_unlock(&parsed_lock);
	return pm;
}

/* Joins the inputs into l->out. Returns CUDA_SUCCESS or the error (noted). */
static CUresult do_link(struct sim_link *l)
{
	/* every name, with the input naming it first (-1: more than one input names it) */
	size_t nall = 0;
	for (unsigned a = 0; a < l->nin; a++)
		nall += l->in[a].nst;
	struct names byname;
	if (names_init(&byname, nall) < 0) {
		names_free(&byname);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	for (unsigned a = 0; a < l->nin; a++)
		for (size_t j = 0; j < l->in[a].nst; j++) {
			const char *nm = l->in[a].st[j].name;
			if (!nm)
				continue;
			size_t k = names_slot(&byname, nm);
			if (!byname.key[k]) {
				byname.key[k] = nm;
				byname.val[k] = (int)a;
			} else if (byname.val[k] != (int)a) {
				byname.val[k] = -1;
			}
		}
	/* 1. internal symbols another input also names are renamed in their own input */
	for (unsigned a = 0; a < l->nin; a++) {
		struct input *ia = &l->in[a];
		for (size_t i = 0; i < ia->nst; i++) {
			struct stmt *st = &ia->st[i];
			if ((st->kind != ST_FUNC && st->kind != ST_VAR) || !st->is_def || st->is_visible ||
			    st->is_weak || st->is_extern || name_in(ia->ren, ia->nren, st->name, strlen(st->name)))
				continue;
			if (byname.val[names_slot(&byname, st->name)] != -1)
				continue;   /* no other input names it */
			char **v = realloc(ia->ren, (ia->nren + 1) * sizeof(*v));
			if (!v) {
				names_free(&byname);
				return CUDA_ERROR_OUT_OF_MEMORY;
			}
			ia->ren = v;
			if (!(ia->ren[ia->nren] = strdup(st->name))) {
				names_free(&byname);
				return CUDA_ERROR_OUT_OF_MEMORY;
			}
			ia->nren++;
			if (l->verbose)
				note(l, NULL, 0, "cuLinkComplete: internal symbol '%s' of '%s' renamed '%s$lnk%u' (another "
				     "input names it too)", st->name, ia->name, st->name, a);
		}
	}
	/* 2. the winning definition of each external symbol: the strong one, else the first weak */
	struct def *defs = NULL;
	size_t ndefs = 0, capdefs = 0;
	CUresult rc = CUDA_SUCCESS;
	struct names bydef;   /* a defined name -> its defs[] index + 1 */
	if (names_init(&bydef, nall) < 0)
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	for (unsigned a = 0; a < l->nin && rc == CUDA_SUCCESS; a++) {
		struct input *ia = &l->in[a];
		for (size_t i = 0; i < ia->nst; i++) {
			struct stmt *st = &ia->st[i];
			if ((st->kind != ST_FUNC && st->kind != ST_VAR) || !st->is_def ||
			    name_in(ia->ren, ia->nren, st->name, strlen(st->name)))
				continue;
			size_t slot = names_slot(&bydef, st->name);
			size_t d = bydef.key[slot] ? (size_t)bydef.val[slot] - 1 : ndefs;
			if (d == ndefs) {
				struct def *v = ndefs < capdefs ? defs :
				                realloc(defs, (capdefs = capdefs ? 2 * capdefs : 256) * sizeof(*v));
				if (!v) {
					rc = CUDA_ERROR_OUT_OF_MEMORY;
					break;
				}
				defs = v;
				defs[ndefs++] = (struct def){st->name, a, st};
				bydef.key[slot] = st->name;
				bydef.val[slot] = (int)ndefs;
				continue;
			}
			struct def *w = &defs[d];
			if (!w->st->is_weak && !st->is_weak) {
				/* cuda.h lists no link-failure code for cuLinkComplete; a set of inputs that
				 * cannot make one module is an invalid image (see cuLinkComplete below) */
				note(l, NULL, 1, "cuLinkComplete: symbol '%s' defined in both '%s' (line %u) and '%s' "
				     "(line %u)", st->name, l->in[w->in].name, w->st->line, ia->name, st->line);
				rc = CUDA_ERROR_INVALID_IMAGE;
				break;
			}
			struct stmt *loser = st;
			if (w->st->is_weak && !st->is_weak) {
				loser = w->st;
				*w = (struct def){st->name, a, st};
			}
			if (loser->kind == ST_FUNC)
				loser->proto = 1;
			else
				loser->drop = 1;
		}
	}
	unsigned char *placed = rc == CUDA_SUCCESS ? calloc(ndefs + 1, 1) : NULL;
	if (rc == CUDA_SUCCESS && !placed)
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (rc != CUDA_SUCCESS) {
		free(defs);
		names_free(&byname);
		names_free(&bydef);
		return rc;
	}
	/* 3. variables: the definition goes where the first input declared it (a use follows the
	 * declaration; the parser reads in one pass), other declarations of it go: one pass in the
	 * inputs' order */
	for (unsigned a = 0; a < l->nin; a++)
		for (size_t i = 0; i < l->in[a].nst; i++) {
			struct stmt *st = &l->in[a].st[i];
			if (st->kind != ST_VAR || !st->name)
				continue;
			size_t slot = names_slot(&bydef, st->name);
			if (!bydef.key[slot])
				continue;
			size_t d = (size_t)bydef.val[slot] - 1;
			if (defs[d].st->kind != ST_VAR || (st->is_def && st != defs[d].st) ||
			    name_in(l->in[a].ren, l->in[a].nren, st->name, strlen(st->name)))
				continue;
			if (!placed[d]) {
				placed[d] = 1;
				if (st != defs[d].st) {
					st->subst = defs[d].st;
					st->subst_in = defs[d].in;
				}
			} else {
				st->drop = 1;
			}
		}
	free(placed);
	names_free(&byname);
	names_free(&bydef);
	/* an extern variable nobody defines: the parser would only say "external variables are not
	 * supported", so it is named here */
	for (unsigned a = 0; a < l->nin && rc == CUDA_SUCCESS; a++)
		for (size_t i = 0; i < l->in[a].nst; i++) {
			struct stmt *st = &l->in[a].st[i];
			if (st->kind != ST_VAR || !st->is_extern || st->subst || st->drop)
				continue;
			note(l, NULL, 1, "cuLinkComplete: unresolved extern variable '%s' (declared in '%s', line %u)",
			     st->name, l->in[a].name, st->line);
			rc = CUDA_ERROR_INVALID_IMAGE;
			break;
		}
	free(defs);
	if (rc != CUDA_SUCCESS)
		return rc;

	/* 4. the text: one header (the highest .version), then every input's statements */
	struct buf b = {0};
	struct origin *org = NULL;
	size_t norg = 0, caporg = 0;
	uint32_t line = 1;
	double ver = 0;
	const struct stmt *tgt = NULL;
	for (unsigned a = 0; a < l->nin; a++) {
		if (l->in[a].version > ver)
			ver = l->in[a].version;
		for (size_t i = 0; !tgt && a == 0 && i < l->in[0].nst; i++)
			if (l->in[0].st[i].kind == ST_HEADER && !strncmp(l->in[0].ptx + l->in[0].st[i].off, ".target", 7))
				tgt = &l->in[0].st[i];
	}
	putf(&b, "// linked by vgpu-sim from %u input%s\n", l->nin, l->nin == 1 ? "" : "s");
	if (ver > 0)
		putf(&b, ".version %.1f\n", ver);
	if (tgt) {
		put(&b, l->in[0].ptx + tgt->off, tgt->len);
		put(&b, "\n", 1);
	}
	put(&b, ".address_size 64\n", 17);
	line += count_lines(b.p, b.n);
	for (unsigned a = 0; a < l->nin; a++) {
		struct input *ia = &l->in[a];
		putf(&b, "\n// ---- input %u: ", a);
		for (const char *p = ia->name; *p; p++)   /* the name on one line */
			put(&b, *p == '\n' || *p == '\r' ? " " : p, 1);
		put(&b, "\n", 1);
		line += 2;
		for (size_t i = 0; i < ia->nst; i++) {
			const struct stmt *st = &ia->st[i];
			if (st->kind == ST_HEADER || st->drop)
				continue;
			unsigned src = a;
			if (st->subst) {
				src = st->subst_in;
				st = st->subst;
			}
			struct origin *v = norg < caporg ? org : realloc(org, (caporg = caporg ? 2 * caporg : 256) * sizeof(*v));
			if (!v) {
				b.oom = 1;
				break;
			}
			org = v;
			org[norg++] = (struct origin){line, st->line, src};
			const char *s = l->in[src].ptx + st->off;
			size_t n = st->proto ? st->hdr_len : st->len;
			put_renamed(&b, &l->in[src], src, s, n);
			if (st->proto)
				put(&b, ";", 1);
			put(&b, "\n", 1);
			line += count_lines(s, n) + 1;
		}
	}
	if (b.oom) {
		free(b.p);
		free(org);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	/* 5. the result must load: parsed as cuModuleLoadData will */
	struct ptx_module *pm;
	char err[400];
	int prc = ptx_module_parse(b.p, &pm, err, sizeof(err));
	if (prc) {
		/* "line N: what" of the joined text, told as the input's line */
		unsigned long n = 0;
		const char *what = err;
		if (!strncmp(err, "line ", 5)) {
			n = strtoul(err + 5, NULL, 10);
			const char *c = strstr(err, ": ");
			what = c ? c + 2 : err;
		}
		size_t k = norg;
		while (k > 0 && org[k - 1].out_line > n)
			k--;
		if (n && k > 0)
			note(l, NULL, 1, "cuLinkComplete: link failed: '%s' line %lu: %s", l->in[org[k - 1].in].name,
			     (unsigned long)org[k - 1].in_line + (n - org[k - 1].out_line), what);
		else
			note(l, NULL, 1, "cuLinkComplete: link failed: %s", err);
		free(b.p);
		free(org);
		return prc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_IMAGE;
	}
	unsigned ne = 0, nf = 0;
	for (uint32_t i = 0; i < pm->nfuncs; i++) {
		ne += pm->funcs[i].is_entry && pm->funcs[i].defined;
		nf += !pm->funcs[i].is_entry && pm->funcs[i].defined;
	}
	struct buf names = {0};
	for (unsigned a = 0; a < l->nin; a++) {
		if (a)
			put(&names, ", ", 2);
		put(&names, l->in[a].name, strlen(l->in[a].name));
	}
	note(l, NULL, 0, "linked %u PTX input%s (%s) into one PTX module of %zu bytes: %u entry point%s, %u "
	     "device function%s, %u variable%s (the simulator runs PTX; no SASS is generated)", l->nin,
	     l->nin == 1 ? "" : "s", names.p ? names.p : "", b.n + 1, ne, ne == 1 ? "" : "s", nf,
	     nf == 1 ? "" : "s", pm->nvars, pm->nvars == 1 ? "" : "s");
	free(names.p);
	parsed_keep(b.p, b.n, pm);
	free(org);
	l->out = b.p;
	l->outlen = b.n + 1;
	return CUDA_SUCCESS;
}

/*
 * cuda.h documents only CUDA_SUCCESS, CUDA_ERROR_INVALID_HANDLE and CUDA_ERROR_OUT_OF_MEMORY
 * for cuLinkComplete, yet linking fails for reasons beyond those. Inputs that cannot make
 * one module (an unresolved extern, a symbol defined twice) are answered
 * CUDA_ERROR_INVALID_IMAGE: the image the link would produce is not a valid one, and the
 * error log names the symbol and input. CUDA_ERROR_INVALID_PTX is kept for PTX the parser
 * rejects on its own, which cuLinkAddData reports when the input is added.
 */
CUresult cuLinkComplete(CUlinkState state, void **cubin, size_t *size)
{
	CUresult rc;
	struct sim_link *l = link_get(state, &rc);
	if (!l)
		return rc;
	if (!cubin)
		return CUDA_ERROR_INVALID_VALUE;
	double t0 = now_ms();
	rc = CUDA_SUCCESS;   /* a second call returns the same image */
	if (!l->out) {
		if (!l->nin) {
			note(l, NULL, 1, "cuLinkComplete: nothing to link (no input was added)");
			rc = CUDA_ERROR_INVALID_VALUE;
		} else {
			rc = do_link(l);
		}
	}
	l->ms += now_ms() - t0;
	state_out(l);
	if (rc != CUDA_SUCCESS)
		return rc;
	*cubin = l->out;
	if (size)
		*size = l->outlen;
	return CUDA_SUCCESS;
}

CUresult cuLinkDestroy(CUlinkState state)
{
	CUresult rc;
	struct sim_link *l = link_get(state, &rc);
	if (!l)
		return rc;
	for (unsigned i = 0; i < l->nin; i++)
		input_free(&l->in[i]);
	free(l->in);
	free(l->ilog);
	free(l->elog);
	free(l->out);
	l->magic = 0;
	sim_shell_free(SHELL_LINK, l);
	return CUDA_SUCCESS;
}
