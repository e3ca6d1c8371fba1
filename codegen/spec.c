/* SPDX-License-Identifier: MIT */
/* spec.c — reads spec/cuda.spec (format in docs/SPEC.md) into struct cg_spec, reporting file:LINE: errors. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "wire.h"

int cg_nerrors;

void cg_error(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(stderr, "%s:%d: error: ", file, line);
	else
		fprintf(stderr, "%s: error: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cg_nerrors++;
}

void *cg_xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (!p) {
		fprintf(stderr, "vgpu-codegen: out of memory\n");
		exit(2);
	}
	return p;
}

void *cg_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "vgpu-codegen: out of memory\n");
		exit(2);
	}
	return p;
}

char *cg_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = cg_xmalloc(n);

	memcpy(d, s, n);
	return d;
}

#define MAX_TOK 64

/* One line split into tokens; quoted strings keep a leading '"' marker and lose the quotes. */
struct toks {
	char *t[MAX_TOK];
	int n;
};

/* Splits `line` in place. Returns 0, or -EINVAL with *why set on an unterminated string. */
static int tokenize(char *line, struct toks *tk, const char **why)
{
	char *p = line;

	tk->n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			return 0;
		if (tk->n == MAX_TOK) {
			*why = "too many words on one line";
			return -EINVAL;
		}
		if (*p == '"') {
			char *start = p; /* keep the opening quote as a marker */
			p++;
			while (*p && *p != '"')
				p++;
			if (*p != '"') {
				*why = "unterminated string (missing closing '\"')";
				return -EINVAL;
			}
			*p++ = 0;
			tk->t[tk->n++] = start;
			continue;
		}
		tk->t[tk->n++] = p;
		while (*p && !isspace((unsigned char)*p) && *p != '#')
			p++;
		if (*p == '#') {
			*p = 0;
			return 0;
		}
		if (*p)
			*p++ = 0;
	}
}

static int is_ident(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

/* Parses a decimal opcode in [1, 0xfeff]; -1 if not a number or out of range. */
static int parse_opcode(const char *s)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v >= 0xff00)
		return -1;
	return (int)v;
}

static const struct { const char *word; int kind; int takes_expr; } ann_words[] = {
	{ "in", A_IN, 1 }, { "out", A_OUT, 1 }, { "inout", A_INOUT, -1 }, { "outstr", A_OUTSTR, 1 },
	{ "range", A_RANGE, 1 }, { "alloc", A_ALLOC, 1 }, { "free", A_FREE, 0 },
	{ "destroy", A_DESTROY, 0 }, { "new", A_NEW, 0 }, { "string", A_STRING, 0 },
	{ "scalar", A_SCALAR, 0 }, { "max", A_MAX, 1 }, { "opaque", A_OPAQUE, 0 },
};

/* Parses "param:kind" or "param:kind(expr)" into *a. Returns 0 or -EINVAL after reporting. */
static int parse_ann(const char *file, int line, const char *tok, struct cg_ann *a)
{
	const char *colon = strchr(tok, ':');
	const char *word, *paren;
	size_t wlen;
	unsigned i;

	if (!colon || colon == tok) {
		cg_error(file, line, "unexpected '%s': expected a flag (async, sync, ptds=N, ptsz=N) or PARAM:KIND", tok);
		return -EINVAL;
	}
	a->param = cg_xmalloc((size_t)(colon - tok) + 1);
	memcpy(a->param, tok, (size_t)(colon - tok));
	word = colon + 1;
	paren = strchr(word, '(');
	wlen = paren ? (size_t)(paren - word) : strlen(word);
	for (i = 0; i < sizeof(ann_words) / sizeof(ann_words[0]); i++)
		if (strlen(ann_words[i].word) == wlen && !strncmp(word, ann_words[i].word, wlen))
			break;
	if (i == sizeof(ann_words) / sizeof(ann_words[0])) {
		cg_error(file, line, "unknown parameter kind '%.*s' in '%s' (known: in, out, inout, outstr, range, alloc, free, destroy, new, string, scalar, max, opaque)",
			 (int)wlen, word, tok);
		return -EINVAL;
	}
	a->kind = ann_words[i].kind;
	if (paren) {
		size_t n = strlen(paren);
		if (ann_words[i].takes_expr == 0 || n < 3 || paren[n - 1] != ')') {
			cg_error(file, line, "bad length expression in '%s': expected %s(EXPR)", tok, ann_words[i].word);
			return -EINVAL;
		}
		a->expr = cg_xmalloc(n - 1);
		memcpy(a->expr, paren + 1, n - 2);
	} else if (ann_words[i].takes_expr == 1) {
		cg_error(file, line, "'%s' needs a length expression: %s(EXPR)", tok, ann_words[i].word);
		return -EINVAL;
	}
	if (a->kind == A_MAX) {
		char *end;
		errno = 0;
		a->num = strtoull(a->expr, &end, 0);
		if (errno || *end || !a->num) {
			cg_error(file, line, "max(%s): expected a positive number", a->expr);
			return -EINVAL;
		}
	}
	return 0;
}

/* Parses the words after "NAME OPCODE" / "NAME custom H [OPCODE]": flags and annotations. */
static int parse_call_tail(const char *file, int line, struct toks *tk, int i, struct cg_call *c)
{
	int rc = 0;

	for (; i < tk->n; i++) {
		const char *w = tk->t[i];
		if (!strcmp(w, "async"))
			c->flags |= VGPU_CALLF_ASYNC;
		else if (!strcmp(w, "sync"))
			c->flags |= VGPU_CALLF_SYNC;
		else if (!strncmp(w, "ptds=", 5) || !strncmp(w, "ptsz=", 5)) {
			int op = parse_opcode(w + 5);
			if (op < 0) {
				cg_error(file, line, "bad opcode in '%s': expected a number from 1 to 65279", w);
				rc = -EINVAL;
				continue;
			}
			if (w[3] == 's')
				c->ptds_op = op;
			else
				c->ptsz_op = op;
		} else {
			struct cg_ann a = { 0 };
			if (parse_ann(file, line, w, &a)) {
				free(a.param);
				free(a.expr);
				rc = -EINVAL;
				continue;
			}
			c->ann = cg_xrealloc(c->ann, sizeof(*c->ann) * (size_t)(c->nann + 1));
			c->ann[c->nann++] = a;
		}
	}
	if ((c->flags & VGPU_CALLF_ASYNC) && (c->flags & VGPU_CALLF_SYNC)) {
		cg_error(file, line, "%s: a call cannot be both async and sync", c->name);
		rc = -EINVAL;
	}
	return rc;
}

/* Parses a class word at tk->t[i]: local, or unsupported "reason". */
static int parse_simple_class(const char *file, int line, struct toks *tk, int i, int *cls, char **reason)
{
	if (i >= tk->n) {
		cg_error(file, line, "expected a class after '%s': local, unsupported \"REASON\", custom HANDLER or an opcode",
			 tk->t[i - 1]);
		return -EINVAL;
	}
	if (!strcmp(tk->t[i], "local")) {
		*cls = CG_LOCAL;
		if (i + 1 < tk->n) {
			cg_error(file, line, "unexpected '%s' after 'local'", tk->t[i + 1]);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(tk->t[i], "unsupported")) {
		if (i + 1 >= tk->n || tk->t[i + 1][0] != '"' || !tk->t[i + 1][1]) {
			cg_error(file, line, "'unsupported' needs a reason in double quotes");
			return -EINVAL;
		}
		if (i + 2 < tk->n) {
			cg_error(file, line, "unexpected '%s' after the reason", tk->t[i + 2]);
			return -EINVAL;
		}
		*cls = CG_UNSUP;
		*reason = cg_xstrdup(tk->t[i + 1] + 1);
		return 0;
	}
	cg_error(file, line, "unexpected '%s': expected local, unsupported \"REASON\", custom HANDLER or an opcode", tk->t[i]);
	return -EINVAL;
}

static int parse_line(struct cg_spec *s, int line, struct toks *tk)
{
	const char *file = s->path;
	const char *w0 = tk->t[0];

	if (w0[0] == '"') {
		cg_error(file, line, "a line starts with a function name, 'handle', 'rule' or 'hole', not a string");
		return -EINVAL;
	}
	if (!strcmp(w0, "handle")) {
		struct cg_handle h;
		if (tk->n != 3 || !is_ident(tk->t[1]) || !is_ident(tk->t[2])) {
			cg_error(file, line, "expected: handle TYPEDEF HANDLE_TYPE (e.g. handle CUcontext CONTEXT)");
			return -EINVAL;
		}
		h.type = cg_xstrdup(tk->t[1]);
		h.htype = cg_xstrdup(tk->t[2]);
		h.line = line;
		s->handles = cg_xrealloc(s->handles, sizeof(h) * (size_t)(s->nhandles + 1));
		s->handles[s->nhandles++] = h;
		return 0;
	}
	if (!strcmp(w0, "rule")) {
		struct cg_rule r = { 0 };
		if (tk->n < 3 || tk->t[1][0] == '"') {
			cg_error(file, line, "expected: rule GLOB local | rule GLOB unsupported \"REASON\"");
			return -EINVAL;
		}
		if (parse_simple_class(file, line, tk, 2, &r.cls, &r.reason))
			return -EINVAL;
		r.glob = cg_xstrdup(tk->t[1]);
		r.line = line;
		s->rules = cg_xrealloc(s->rules, sizeof(r) * (size_t)(s->nrules + 1));
		s->rules[s->nrules++] = r;
		return 0;
	}
	if (!strcmp(w0, "hole")) {
		struct cg_hole h;
		if (tk->n < 2 || tk->n > 3 || (h.opcode = parse_opcode(tk->t[1])) < 0 ||
		    (tk->n == 3 && tk->t[2][0] != '"')) {
			cg_error(file, line, "expected: hole OPCODE [\"WHY\"] (a retired opcode, never reused)");
			return -EINVAL;
		}
		h.line = line;
		s->holes = cg_xrealloc(s->holes, sizeof(h) * (size_t)(s->nholes + 1));
		s->holes[s->nholes++] = h;
		return 0;
	}
	if (!is_ident(w0) || strncmp(w0, "cu", 2)) {
		cg_error(file, line, "'%s' is not a cu* function name", w0);
		return -EINVAL;
	}
	struct cg_call c = { 0 };
	c.name = cg_xstrdup(w0);
	c.line = line;
	if (tk->n < 2) {
		cg_error(file, line, "%s: expected an opcode, local, unsupported \"REASON\" or custom HANDLER", w0);
		goto bad;
	}
	if (!strcmp(tk->t[1], "custom")) {
		int i = 3;
		if (tk->n < 3 || !is_ident(tk->t[2])) {
			cg_error(file, line, "%s: expected: custom HANDLER [OPCODE] [FLAGS] [ANNOTATIONS]", w0);
			goto bad;
		}
		c.cls = CG_CUSTOM;
		c.custom = cg_xstrdup(tk->t[2]);
		c.flags |= VGPU_CALLF_CUSTOM;
		if (i < tk->n && isdigit((unsigned char)tk->t[i][0])) {
			if ((c.opcode = parse_opcode(tk->t[i])) < 0) {
				cg_error(file, line, "%s: bad opcode '%s': expected a number from 1 to 65279", w0, tk->t[i]);
				goto bad;
			}
			i++;
		}
		if (parse_call_tail(file, line, tk, i, &c))
			goto bad;
	} else if (isdigit((unsigned char)tk->t[1][0])) {
		if ((c.opcode = parse_opcode(tk->t[1])) < 0) {
			cg_error(file, line, "%s: bad opcode '%s': expected a number from 1 to 65279", w0, tk->t[1]);
			goto bad;
		}
		c.cls = CG_GEN;
		if (parse_call_tail(file, line, tk, 2, &c))
			goto bad;
	} else if (parse_simple_class(file, line, tk, 1, &c.cls, &c.reason)) {
		goto bad;
	}
	for (int i = 0; i < s->ncalls; i++)
		if (!strcmp(s->calls[i].name, c.name)) {
			cg_error(file, line, "%s is already classified at line %d", c.name, s->calls[i].line);
			goto bad;
		}
	s->calls = cg_xrealloc(s->calls, sizeof(c) * (size_t)(s->ncalls + 1));
	s->calls[s->ncalls++] = c;
	return 0;
bad:
	for (int k = 0; k < c.nann; k++) {
		free(c.ann[k].param);
		free(c.ann[k].expr);
	}
	free(c.ann);
	free(c.name);
	free(c.custom);
	free(c.reason);
	return -EINVAL;
}

/* Checks that no opcode is used twice (calls, their variants, holes). */
static void check_opcodes(struct cg_spec *s)
{
	enum { N = 0xff00 };
	int *owner_line = cg_xmalloc(sizeof(int) * N);
	const char **owner = cg_xmalloc(sizeof(char *) * N);

	for (int i = 0; i < s->nholes; i++) {
		int op = s->holes[i].opcode;
		if (owner_line[op])
			cg_error(s->path, s->holes[i].line, "opcode %d already used by %s (line %d)", op, owner[op], owner_line[op]);
		else {
			owner_line[op] = s->holes[i].line;
			owner[op] = "a hole";
		}
	}
	for (int i = 0; i < s->ncalls; i++) {
		struct cg_call *c = &s->calls[i];
		int ops[3] = { c->opcode, c->ptds_op, c->ptsz_op };
		for (int k = 0; k < 3; k++) {
			int op = ops[k];
			if (op <= 0)
				continue;
			if (owner_line[op])
				cg_error(s->path, c->line, "opcode %d already used by %s (line %d); opcodes are pinned and never reused",
					 op, owner[op], owner_line[op]);
			else {
				owner_line[op] = c->line;
				owner[op] = c->name;
			}
		}
	}
	free(owner_line);
	free(owner);
}

int cg_spec_parse(struct cg_spec *s, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *p;
	size_t len = 0, cap = 0, n;
	int line = 0, errs0 = cg_nerrors;

	memset(s, 0, sizeof(*s));
	s->path = path;
	if (!f) {
		cg_error(path, 0, "cannot open the spec: %s", strerror(errno));
		return -errno;
	}
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = cg_xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = 0;
	cg_sha256(buf, len, s->sha256);
	for (p = buf; *p;) {
		char *nl = strchr(p, '\n');
		struct toks tk;
		const char *why = NULL;
		if (nl)
			*nl = 0;
		line++;
		if (tokenize(p, &tk, &why))
			cg_error(path, line, "%s", why);
		else if (tk.n)
			parse_line(s, line, &tk);
		if (!nl)
			break;
		p = nl + 1;
	}
	free(buf);
	check_opcodes(s);
	return cg_nerrors > errs0 ? -EINVAL : 0;
}

void cg_spec_free(struct cg_spec *s)
{
	for (int i = 0; i < s->ncalls; i++) {
		struct cg_call *c = &s->calls[i];
		for (int k = 0; k < c->nann; k++) {
			free(c->ann[k].param);
			free(c->ann[k].expr);
		}
		free(c->ann);
		free(c->name);
		free(c->custom);
		free(c->reason);
	}
	for (int i = 0; i < s->nrules; i++) {
		free(s->rules[i].glob);
		free(s->rules[i].reason);
	}
	for (int i = 0; i < s->nhandles; i++) {
		free(s->handles[i].type);
		free(s->handles[i].htype);
	}
	free(s->calls);
	free(s->rules);
	free(s->handles);
	free(s->holes);
	memset(s, 0, sizeof(*s));
}
