/* SPDX-License-Identifier: MIT */
/* classify.c — applies spec/cuda.spec to the cuda.h functions: wire kinds from types and annotations, rules, and the unclassified check. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "wire.h"

static struct cg_func *find_func(struct cg_header *h, const char *name)
{
	for (int i = 0; i < h->nfuncs; i++)
		if (!strcmp(h->funcs[i].name, name))
			return &h->funcs[i];
	return NULL;
}

static int find_param(const struct cg_func *f, const char *name)
{
	for (int i = 0; i < f->nparams; i++)
		if (!strcmp(f->p[i].name, name))
			return i;
	return -1;
}

static void param_list(const struct cg_func *f, char *buf, size_t n)
{
	size_t off = 0;

	buf[0] = 0;
	for (int i = 0; i < f->nparams && off < n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "", f->p[i].name);
	if (!f->nparams)
		snprintf(buf, n, "none");
}

/* Integer value usable in a length expression: an integer scalar or a pointer to one. */
static int is_len_param(const struct cg_param *p)
{
	if (p->tclass == T_SCALAR)
		return !p->is_float;
	return p->tclass == T_PTR && p->pointee == T_SCALAR && !p->pointee_is_float && !p->pointee_char;
}

/*
 * Parses EXPR = FACTOR ('*' FACTOR)*, FACTOR = parameter name | positive number; at most two
 * parameters. Sets p->len_arg, len_arg2, len_mul (times elem). Returns 0 or -EINVAL (reported).
 */
static int parse_len_expr(const char *file, int line, const struct cg_func *f, struct cg_param *p, const char *expr,
			  uint64_t elem)
{
	char buf[256], *save = NULL, *tok;
	uint64_t mul = 1;
	int nargs = 0;
	char pl[1024];

	if (strlen(expr) >= sizeof(buf) || !expr[0] || expr[0] == '*' || expr[strlen(expr) - 1] == '*' || strstr(expr, "**")) {
		cg_error(file, line, "%s: length expression '%s' of '%s': expected PARAM, NUMBER or a product of them (e.g. ByteCount, N*4, pitch*Height)",
			 f->name, expr, p->name);
		return -EINVAL;
	}
	strcpy(buf, expr);
	for (tok = strtok_r(buf, "*", &save); tok; tok = strtok_r(NULL, "*", &save)) {
		if (isdigit((unsigned char)tok[0])) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(tok, &end, 0);
			if (errno || *end || !v || v > (1ull << 32)) {
				cg_error(file, line, "%s: length expression '%s' of '%s': '%s' is not a number from 1 to 2^32",
					 f->name, expr, p->name, tok);
				return -EINVAL;
			}
			mul *= v;
			continue;
		}
		int k = find_param(f, tok);
		if (k < 0) {
			param_list(f, pl, sizeof(pl));
			cg_error(file, line, "%s: length expression '%s' of '%s' names no parameter '%s' (parameters: %s)",
				 f->name, expr, p->name, tok, pl);
			return -EINVAL;
		}
		if (!is_len_param(&f->p[k])) {
			cg_error(file, line, "%s: length expression '%s' of '%s': '%s' (type '%s') is not an integer parameter",
				 f->name, expr, p->name, tok, f->p[k].type);
			return -EINVAL;
		}
		if (&f->p[k] == p) {
			cg_error(file, line, "%s: length expression '%s' of '%s' refers to the parameter itself", f->name, expr, p->name);
			return -EINVAL;
		}
		if (nargs == 2) {
			cg_error(file, line, "%s: length expression '%s' of '%s': at most two parameters may be multiplied",
				 f->name, expr, p->name);
			return -EINVAL;
		}
		if (nargs++ == 0)
			p->len_arg = k;
		else
			p->len_arg2 = k;
	}
	p->len_mul = mul * elem;
	return 0;
}

/* Why a parameter needs an annotation, for the error message. */
static const char *hint(const struct cg_param *p)
{
	if (p->tclass == T_PTR && p->pointee_record && p->pointee_size < 0)
		return "its type is an opaque handle: add 'handle TYPEDEF NAME' to the spec";
	if (p->tclass == T_PTR && p->pointee_record && p->pointee_has_ptr)
		return "the struct holds host pointers: make the call custom";
	if (p->tclass == T_PTR && p->pointee_char)
		return "annotate it PARAM:outstr(EXPR)";
	if (p->tclass == T_PTR && (p->pointee_void || p->pointee == T_SCALAR))
		return "annotate it PARAM:in(EXPR), PARAM:out(EXPR) or PARAM:inout(EXPR)";
	if (p->tclass == T_PTR && p->pointee == T_HANDLE)
		return "an array of handles: annotate it PARAM:in(COUNT) or PARAM:out(COUNT)";
	return "no wire form fits it: make the call custom or unsupported";
}

/* Default wire kind from the type alone (0 if the spec must say). */
static void infer(struct cg_param *p)
{
	p->kind = 0;
	p->max_len = 0;
	switch (p->tclass) {
	case T_SCALAR:
		p->kind = VGPU_ARG_SCALAR;
		p->wire_size = p->size;
		if (p->is_signed)
			p->flags |= VGPU_ARGF_SIGNED;
		if (p->is_float)
			p->flags |= VGPU_ARGF_FLOAT;
		return;
	case T_HANDLE:
		p->kind = VGPU_ARG_HANDLE;
		p->wire_size = 8;
		return;
	case T_DPTR:
		p->kind = VGPU_ARG_DPTR;
		p->wire_size = 8;
		return;
	case T_PTR:
		break;
	default:
		return;
	}
	if (p->pointee == T_HANDLE && !p->pointee_const) {
		p->kind = VGPU_ARG_OUT_HANDLE;
		p->wire_size = 8;
	} else if (p->pointee == T_DPTR && !p->pointee_const) {
		p->kind = VGPU_ARG_OUT_DPTR;
		p->wire_size = 8;
	} else if (p->pointee == T_SCALAR && p->pointee_char) {
		if (p->pointee_const) {
			p->kind = VGPU_ARG_STRING;
			p->max_len = 4096;
		}
	} else if (p->pointee == T_SCALAR && !p->pointee_const) {
		p->kind = VGPU_ARG_OUT_SCALAR;
		p->wire_size = p->pointee_size;
		if (p->pointee_is_signed)
			p->flags |= VGPU_ARGF_SIGNED;
		if (p->pointee_is_float)
			p->flags |= VGPU_ARGF_FLOAT;
	} else if (p->pointee_record && p->pointee_size > 0 && !p->pointee_has_ptr) {
		p->kind = p->pointee_const ? VGPU_ARG_IN_STRUCT : VGPU_ARG_OUT_STRUCT;
		p->struct_size = p->pointee_size;
		p->max_len = (uint64_t)p->pointee_size;
	}
}

/* Applies one annotation to parameter p of f. Returns 0 or -EINVAL (reported). */
static int apply_ann(const char *file, int line, const struct cg_func *f, struct cg_param *p, const struct cg_ann *a)
{
	const char *bad = NULL;
	uint64_t elem = p->pointee_size > 0 ? (uint64_t)p->pointee_size : 1;

	switch (a->kind) {
	case A_IN: case A_OUT: case A_INOUT:
		if (a->kind == A_INOUT && !a->expr) {
			if (p->tclass == T_PTR && p->pointee == T_SCALAR && !p->pointee_const && !p->pointee_char) {
				p->kind = VGPU_ARG_INOUT_SCALAR;
				return 0;
			}
			if (p->tclass == T_PTR && p->pointee_record && p->pointee_size > 0 && !p->pointee_has_ptr && !p->pointee_const) {
				p->kind = VGPU_ARG_INOUT_STRUCT;
				return 0;
			}
			bad = "inout without a length needs a pointer to a non-const scalar or POD struct";
			break;
		}
		if (p->tclass == T_PTR && p->pointee == T_HANDLE && a->kind != A_INOUT) {
			if (a->kind == A_OUT && p->pointee_const) {
				bad = "an output handle array cannot be const";
				break;
			}
			p->kind = a->kind == A_IN ? VGPU_ARG_IN_HANDLE_ARRAY : VGPU_ARG_OUT_HANDLE_ARRAY;
			p->wire_size = 8;
			p->max_len = VGPU_HANDLE_ARRAY_MAX;
			return parse_len_expr(file, line, f, p, a->expr, 1);
		}
		if (p->tclass != T_PTR || p->pointee == T_PTR || p->pointee == T_HANDLE ||
		    (p->pointee_record && (p->pointee_has_ptr || p->pointee_size <= 0))) {
			bad = "a buffer must be a pointer to bytes, scalars or POD structs";
			break;
		}
		if (a->kind != A_IN && p->pointee_const) {
			bad = "an output buffer cannot be const";
			break;
		}
		/* the defaults of a lone struct (its own size) or string do not bound an array of them */
		int was_single = p->kind == VGPU_ARG_IN_STRUCT || p->kind == VGPU_ARG_OUT_STRUCT;
		p->kind = a->kind == A_IN ? VGPU_ARG_IN_BUF : a->kind == A_OUT ? VGPU_ARG_OUT_BUF : VGPU_ARG_INOUT_BUF;
		p->wire_size = 0;
		p->flags &= ~(unsigned)(VGPU_ARGF_SIGNED | VGPU_ARGF_FLOAT);
		if (!p->max_len || p->max_len == 4096 || was_single)
			p->max_len = 1ull << 40;
		return parse_len_expr(file, line, f, p, a->expr, elem);
	case A_OUTSTR:
		if (p->tclass != T_PTR || !p->pointee_char || p->pointee_const) {
			bad = "outstr needs a char * parameter";
			break;
		}
		p->kind = VGPU_ARG_OUT_STRING;
		p->max_len = 4096;
		return parse_len_expr(file, line, f, p, a->expr, 1);
	case A_RANGE: case A_FREE:
		if (p->kind != VGPU_ARG_DPTR) {
			bad = "range/free need a CUdeviceptr parameter";
			break;
		}
		if (a->kind == A_FREE) {
			p->flags |= VGPU_ARGF_FREES;
			return 0;
		}
		p->flags |= VGPU_ARGF_RANGE;
		p->max_len = 1ull << 40;
		return parse_len_expr(file, line, f, p, a->expr, 1);
	case A_ALLOC:
		if (p->kind != VGPU_ARG_OUT_DPTR) {
			bad = "alloc needs a CUdeviceptr * parameter";
			break;
		}
		p->flags |= VGPU_ARGF_ALLOC;
		p->max_len = 1ull << 40;
		return parse_len_expr(file, line, f, p, a->expr, 1);
	case A_DESTROY:
		if (p->kind != VGPU_ARG_HANDLE) {
			bad = "destroy needs a handle parameter";
			break;
		}
		p->flags |= VGPU_ARGF_DESTROYS;
		return 0;
	case A_NEW:
		if (p->kind != VGPU_ARG_OUT_HANDLE) {
			bad = "new needs a handle * parameter";
			break;
		}
		p->flags |= VGPU_ARGF_NEW;
		return 0;
	case A_STRING:
		if (p->tclass != T_PTR || !p->pointee_char) {
			bad = "string needs a char * parameter";
			break;
		}
		p->kind = VGPU_ARG_STRING;
		p->max_len = 4096;
		return 0;
	case A_SCALAR:
		if (p->tclass != T_SCALAR) {
			bad = "scalar needs an integer, enum or floating-point parameter";
			break;
		}
		return 0;
	case A_MAX:
		if (!p->kind || p->kind == VGPU_ARG_SCALAR || p->kind == VGPU_ARG_HANDLE) {
			bad = "max applies to buffers, strings and ranges (after their kind)";
			break;
		}
		p->max_len = a->num;
		return 0;
	case A_OPAQUE:
		p->kind = VGPU_ARG_OPAQUE;
		return 0;
	}
	cg_error(file, line, "%s: parameter '%s' (type '%s'): %s", f->name, p->name, p->type, bad ? bad : "bad annotation");
	return -EINVAL;
}

static int count_out(const struct cg_func *f)
{
	int n = 0;

	for (int i = 0; i < f->nparams; i++)
		switch (f->p[i].kind) {
		case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_OUT_HANDLE: case VGPU_ARG_OUT_DPTR: case VGPU_ARG_INOUT_SCALAR:
		case VGPU_ARG_OUT_BUF: case VGPU_ARG_INOUT_BUF: case VGPU_ARG_OUT_STRING: case VGPU_ARG_OUT_STRUCT:
		case VGPU_ARG_INOUT_STRUCT: case VGPU_ARG_OUT_HANDLE_ARRAY:
			n++;
			break;
		default:
			break;
		}
	return n;
}

/* Classifies f from spec call c (opcode op). Returns 0 or -EINVAL (reported). */
static int classify_call(const struct cg_spec *s, struct cg_func *f, const struct cg_call *c, int op)
{
	int rc = 0;
	char pl[1024];

	f->cls = c->cls;
	f->opcode = op;
	f->flags = c->flags;
	f->custom = c->custom;
	f->reason = c->reason;
	f->spec_line = c->line;
	if (c->cls != CG_GEN && !(c->cls == CG_CUSTOM && op > 0))
		return 0;
	if (strcmp(f->ret, "CUresult")) {
		cg_error(s->path, c->line, "%s returns '%s', not CUresult: it cannot be remoted; make it local or unsupported",
			 f->name, f->ret);
		return -EINVAL;
	}
	if (f->nparams > VGPU_MAX_ARGS) {
		cg_error(s->path, c->line, "%s has %d parameters, more than %d", f->name, f->nparams, VGPU_MAX_ARGS);
		return -EINVAL;
	}
	for (int i = 0; i < f->nparams; i++)
		infer(&f->p[i]);
	for (int k = 0; k < c->nann; k++) {
		int i = find_param(f, c->ann[k].param);
		if (i < 0) {
			param_list(f, pl, sizeof(pl));
			cg_error(s->path, c->line, "%s has no parameter '%s' (parameters: %s)", f->name, c->ann[k].param, pl);
			rc = -EINVAL;
			continue;
		}
		if (apply_ann(s->path, c->line, f, &f->p[i], &c->ann[k]))
			rc = -EINVAL;
	}
	f->wire_ok = 1;
	for (int i = 0; i < f->nparams; i++) {
		struct cg_param *p = &f->p[i];
		if (p->kind && p->kind != VGPU_ARG_OPAQUE)
			continue;
		f->wire_ok = 0;
		if (c->cls == CG_CUSTOM) {
			p->kind = VGPU_ARG_OPAQUE;
			continue;
		}
		cg_error(s->path, c->line, "%s: parameter '%s' (type '%s') needs an annotation: %s", f->name, p->name, p->type,
			 hint(p));
		rc = -EINVAL;
	}
	if ((f->flags & VGPU_CALLF_ASYNC) && count_out(f)) {
		cg_error(s->path, c->line, "%s is async but has output parameters (nothing comes back from an async call)",
			 f->name);
		rc = -EINVAL;
	}
	return rc;
}

static int by_line(const void *a, const void *b)
{
	const struct cg_func *x = *(const struct cg_func *const *)a, *y = *(const struct cg_func *const *)b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return strcmp(x->name, y->name);
}

int cg_classify(struct cg_header *h, struct cg_spec *s)
{
	int errs0 = cg_nerrors;

	for (int i = 0; i < s->ncalls; i++) {
		struct cg_call *c = &s->calls[i];
		struct cg_func *f = find_func(h, c->name);
		if (!f) {
			cg_error(s->path, c->line, "%s: no such function in %s", c->name, h->base);
			continue;
		}
		if (c->ptds_op && c->ptsz_op) {
			cg_error(s->path, c->line, "%s: give ptds= or ptsz=, not both (cuda.h declares one variant per call)", c->name);
			continue;
		}
		classify_call(s, f, c, c->opcode);
		if (c->ptds_op || c->ptsz_op) {
			char vname[256];
			snprintf(vname, sizeof(vname), "%s_%s", c->name, c->ptds_op ? "ptds" : "ptsz");
			struct cg_func *v = find_func(h, vname);
			if (!v) {
				cg_error(s->path, c->line, "%s: no per-thread-stream variant %s in %s", c->name, vname, h->base);
				continue;
			}
			if (v->cls) {
				cg_error(s->path, c->line, "%s is classified twice (line %d)", vname, v->spec_line);
				continue;
			}
			classify_call(s, v, c, c->ptds_op ? c->ptds_op : c->ptsz_op);
		}
	}
	for (int i = 0; i < h->nfuncs; i++) {
		struct cg_func *f = &h->funcs[i];
		if (f->cls)
			continue;
		for (int k = 0; k < s->nrules; k++) {
			struct cg_rule *r = &s->rules[k];
			int hit = !strcmp(r->glob, "@legacy") ? f->legacy : !fnmatch(r->glob, f->name, 0);
			if (!hit)
				continue;
			f->cls = r->cls;
			f->reason = r->reason;
			f->spec_line = r->line;
			f->by_rule = 1;
			r->hits++;
			break;
		}
	}
	int nun = 0;
	struct cg_func **un = cg_xmalloc(sizeof(*un) * (size_t)(h->nfuncs + 1));
	for (int i = 0; i < h->nfuncs; i++)
		if (!h->funcs[i].cls)
			un[nun++] = &h->funcs[i];
	qsort(un, (size_t)nun, sizeof(*un), by_line);
	for (int i = 0; i < nun; i++)
		cg_error(un[i]->file, (int)un[i]->line,
			 "%s is not classified: give it an opcode, 'custom', 'local' or 'unsupported \"REASON\"' in %s, or a rule",
			 un[i]->name, s->path);
	free(un);
	return cg_nerrors > errs0 ? -EINVAL : 0;
}
