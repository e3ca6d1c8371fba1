/* SPDX-License-Identifier: MIT */
/* header.c — walks cuda.h with libclang: every cu* function with its parameters' C types, in the public and libcuda-internal views. */
#include <clang-c/Index.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

struct walk {
	struct cg_header *h;
	const struct cg_spec *s;
	int internal;
	CXFile main_file;
	const char *path;
};

static char *dup_cx(CXString s)
{
	char *r = cg_xstrdup(clang_getCString(s) ? clang_getCString(s) : "");

	clang_disposeString(s);
	return r;
}

static CXType strip_elaborated(CXType t)
{
	while (t.kind == CXType_Elaborated)
		t = clang_Type_getNamedType(t);
	return t;
}

/* Follows the typedef chain of t looking for a spec handle typedef or CUdeviceptr. */
static void typedef_chain(const struct cg_spec *s, CXType t, int *htype /* out */, int *dptr /* out */)
{
	*htype = -1;
	*dptr = 0;
	for (int depth = 0; depth < 32; depth++) {
		t = strip_elaborated(t);
		if (t.kind != CXType_Typedef)
			return;
		CXString n = clang_getTypedefName(t);
		const char *name = clang_getCString(n);
		for (int i = 0; i < s->nhandles; i++)
			if (!strcmp(name, s->handles[i].type))
				*htype = i;
		if (!strcmp(name, "CUdeviceptr") || !strcmp(name, "CUdeviceptr_v2"))
			*dptr = 1;
		clang_disposeString(n);
		if (*htype >= 0 || *dptr)
			return;
		t = clang_getTypedefDeclUnderlyingType(clang_getTypeDeclaration(t));
	}
}

/* Integer/float/enum: fills size and signedness; returns 1 if t is such a scalar. */
static int scalar_info(CXType t, int *size, int *is_signed, int *is_float)
{
	CXType c = clang_getCanonicalType(t);

	*is_float = 0;
	switch (c.kind) {
	case CXType_Bool: case CXType_Char_U: case CXType_UChar: case CXType_UShort:
	case CXType_UInt: case CXType_ULong: case CXType_ULongLong:
		*is_signed = 0;
		break;
	case CXType_Char_S: case CXType_SChar: case CXType_Short: case CXType_Int:
	case CXType_Long: case CXType_LongLong:
		*is_signed = 1;
		break;
	case CXType_Float: case CXType_Double:
		*is_signed = 1;
		*is_float = 1;
		break;
	case CXType_Enum: {
		CXType it = clang_getCanonicalType(clang_getEnumDeclIntegerType(clang_getTypeDeclaration(c)));
		int sz, sg, fl;
		if (!scalar_info(it, &sz, &sg, &fl))
			return 0;
		*is_signed = sg;
		break;
	}
	default:
		return 0;
	}
	*size = (int)clang_Type_getSizeOf(c);
	return *size == 1 || *size == 2 || *size == 4 || *size == 8;
}

static enum CXVisitorResult field_has_ptr(CXCursor c, CXClientData d);

/* 1 if the record (or array/record member, recursively) holds a pointer. */
static int type_has_ptr(CXType t)
{
	int found = 0;

	t = clang_getCanonicalType(t);
	while (t.kind == CXType_ConstantArray || t.kind == CXType_IncompleteArray)
		t = clang_getCanonicalType(clang_getArrayElementType(t));
	if (t.kind == CXType_Pointer || t.kind == CXType_BlockPointer)
		return 1;
	if (t.kind == CXType_Record)
		clang_Type_visitFields(t, field_has_ptr, &found);
	return found;
}

static enum CXVisitorResult field_has_ptr(CXCursor c, CXClientData d)
{
	if (type_has_ptr(clang_getCursorType(c))) {
		*(int *)d = 1;
		return CXVisit_Break;
	}
	return CXVisit_Continue;
}

/* Fills the type facts of p from its clang type. */
static void analyse_param(const struct cg_spec *s, CXType t, struct cg_param *p)
{
	int htype, dptr;
	CXType c;

	p->htype = p->pointee_htype = -1;
	typedef_chain(s, t, &htype, &dptr);
	if (htype >= 0) {
		p->tclass = T_HANDLE;
		p->htype = htype;
		p->size = 8;
		return;
	}
	if (dptr) {
		p->tclass = T_DPTR;
		p->size = 8;
		return;
	}
	if (scalar_info(t, &p->size, &p->is_signed, &p->is_float)) {
		p->tclass = T_SCALAR;
		return;
	}
	c = clang_getCanonicalType(t);
	if (c.kind != CXType_Pointer) {
		p->tclass = T_OTHER;
		return;
	}
	p->tclass = T_PTR;
	CXType pt = clang_getPointeeType(t);
	CXType pc = clang_getCanonicalType(pt);
	p->pointee_const = clang_isConstQualifiedType(pc);
	typedef_chain(s, pt, &htype, &dptr);
	if (htype >= 0) {
		p->pointee = T_HANDLE;
		p->pointee_htype = htype;
		p->pointee_size = 8;
	} else if (dptr) {
		p->pointee = T_DPTR;
		p->pointee_size = 8;
	} else if (pc.kind == CXType_Void) {
		p->pointee = T_OTHER;
		p->pointee_void = 1;
		p->pointee_size = 1;
	} else if (pc.kind == CXType_Char_S || pc.kind == CXType_Char_U) {
		p->pointee = T_SCALAR;
		p->pointee_char = 1;
		p->pointee_size = 1;
		p->pointee_is_signed = 1;
	} else if (scalar_info(pt, &p->pointee_size, &p->pointee_is_signed, &p->pointee_is_float)) {
		p->pointee = T_SCALAR;
	} else if (pc.kind == CXType_Record) {
		long long sz = clang_Type_getSizeOf(pc);
		p->pointee = T_OTHER;
		p->pointee_record = 1;
		p->pointee_size = sz > 0 && sz < (1 << 20) ? (int)sz : -1;
		p->pointee_has_ptr = sz > 0 ? type_has_ptr(pc) : 1;
	} else {
		p->pointee = pc.kind == CXType_Pointer ? T_PTR : T_OTHER;
	}
}

static struct cg_func *find_or_add(struct cg_header *h, const char *name)
{
	for (int i = 0; i < h->nfuncs; i++)
		if (!strcmp(h->funcs[i].name, name))
			return &h->funcs[i];
	h->funcs = cg_xrealloc(h->funcs, sizeof(*h->funcs) * (size_t)(h->nfuncs + 1));
	memset(&h->funcs[h->nfuncs], 0, sizeof(*h->funcs));
	h->funcs[h->nfuncs].name = cg_xstrdup(name);
	return &h->funcs[h->nfuncs++];
}

static enum CXChildVisitResult visit(CXCursor cur, CXCursor parent, CXClientData data)
{
	struct walk *w = data;
	(void)parent;

	if (clang_getCursorKind(cur) == CXCursor_LinkageSpec)
		return CXChildVisit_Recurse;
	if (clang_getCursorKind(cur) != CXCursor_FunctionDecl)
		return CXChildVisit_Continue;
	/* Expansion location: names renamed by cuda.h's macros (cuMemAlloc -> cuMemAlloc_v2) are
	 * spelled inside a macro, but declared at a line of the header itself. */
	CXFile file;
	unsigned line, col, off;
	clang_getExpansionLocation(clang_getCursorLocation(cur), &file, &line, &col, &off);
	if (!file || !clang_File_isEqual(file, w->main_file))
		return CXChildVisit_Continue;
	if (clang_isCursorDefinition(cur) || clang_Cursor_getStorageClass(cur) == CX_SC_Static)
		return CXChildVisit_Continue;
	CXString ns = clang_getCursorSpelling(cur);
	const char *name = clang_getCString(ns);
	if (strncmp(name, "cu", 2)) {
		clang_disposeString(ns);
		return CXChildVisit_Continue;
	}
	struct cg_func *f = find_or_add(w->h, name);
	clang_disposeString(ns);
	if (w->internal)
		f->in_internal = 1;
	else
		f->in_public = 1;
	if (f->p || f->nparams)
		return CXChildVisit_Continue; /* first view (public) wins; prototypes agree */
	f->file = cg_xstrdup(w->path);
	f->line = line;
	CXType ft = clang_getCursorType(cur);
	f->ret = dup_cx(clang_getTypeSpelling(clang_getResultType(ft)));
	int n = clang_Cursor_getNumArguments(cur);
	f->nparams = n < 0 ? 0 : n;
	f->p = cg_xmalloc(sizeof(*f->p) * (size_t)(f->nparams + 1));
	for (int i = 0; i < f->nparams; i++) {
		CXCursor a = clang_Cursor_getArgument(cur, (unsigned)i);
		struct cg_param *p = &f->p[i];
		CXType t = clang_getCursorType(a);
		p->name = dup_cx(clang_getCursorSpelling(a));
		if (!p->name[0]) {
			free(p->name);
			p->name = cg_xmalloc(16);
			snprintf(p->name, 16, "arg%d", i);
		}
		p->type = dup_cx(clang_getTypeSpelling(t));
		p->len_arg = p->len_arg2 = -1;
		analyse_param(w->s, t, p);
	}
	return CXChildVisit_Continue;
}

static int parse_view(struct cg_header *h, const struct cg_spec *s, CXIndex idx, const char *path,
		      const char *const *args, int nargs, int internal)
{
	const char *argv[64];
	int n = 0;
	CXTranslationUnit tu;
	enum CXErrorCode ec;
	int rc = 0;

	argv[n++] = "-x";
	argv[n++] = "c";
	argv[n++] = "-std=gnu11";
	if (internal)
		argv[n++] = "-D__CUDA_API_VERSION_INTERNAL";
	/* the header's own directory, for its <cuda.h> includes */
	char idir[4096];
	const char *slash = strrchr(path, '/');
	snprintf(idir, sizeof(idir), "-I%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	argv[n++] = idir;
	for (int i = 0; i < nargs && n < 63; i++)
		argv[n++] = args[i];
	ec = clang_parseTranslationUnit2(idx, path, argv, n, NULL, 0, CXTranslationUnit_SkipFunctionBodies, &tu);
	if (ec != CXError_Success) {
		cg_error(path, 0, "libclang could not parse the header (error %d); check the path and -I options", (int)ec);
		return -EINVAL;
	}
	for (unsigned i = 0; i < clang_getNumDiagnostics(tu); i++) {
		CXDiagnostic d = clang_getDiagnostic(tu, i);
		if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
			CXString m = clang_formatDiagnostic(d, CXDiagnostic_DisplaySourceLocation);
			fprintf(stderr, "%s%s\n", clang_getCString(m), internal ? " (internal view)" : "");
			clang_disposeString(m);
			cg_nerrors++;
			rc = -EINVAL;
		}
		clang_disposeDiagnostic(d);
	}
	struct walk w = { h, s, internal, clang_getFile(tu, path), path };
	clang_visitChildren(clang_getTranslationUnitCursor(tu), visit, &w);
	clang_disposeTranslationUnit(tu);
	return rc;
}

/* Reads "#define CUDA_VERSION N" from the header text (the only macro value codegen needs). */
static long read_cuda_version(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncmp(p, "#define", 7)) {
			p += 7;
			while (*p == ' ' || *p == '\t')
				p++;
			if (!strncmp(p, "CUDA_VERSION", 12) && (p[12] == ' ' || p[12] == '\t')) {
				v = strtol(p + 12, NULL, 10);
				break;
			}
		}
	}
	fclose(f);
	return v;
}

static int is_variant(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && (!strcmp(name + n - 5, "_ptds") || !strcmp(name + n - 5, "_ptsz"));
}

int cg_header_parse(struct cg_header *h, const struct cg_spec *s, const char *path, const char *const *extra,
		    int nextra, const char *const *clang_args, int nclang_args)
{
	CXIndex idx;
	int rc;
	const char *slash = strrchr(path, '/');

	memset(h, 0, sizeof(*h));
	h->path = path;
	h->base = slash ? slash + 1 : path;
	FILE *probe = fopen(path, "r");
	if (!probe) {
		cg_error(path, 0, "cannot open the header: %s (give its path with --header)", strerror(errno));
		return -ENOENT;
	}
	fclose(probe);
	for (int i = 0; i < nextra; i++) {
		if (!(probe = fopen(extra[i], "r"))) {
			cg_error(extra[i], 0, "cannot open the header: %s (check --extra-header)", strerror(errno));
			return -ENOENT;
		}
		fclose(probe);
	}
	h->cuda_version = read_cuda_version(path);
	if (h->cuda_version < 0) {
		cg_error(path, 0, "no '#define CUDA_VERSION N' found; is this cuda.h?");
		return -EINVAL;
	}
	idx = clang_createIndex(0, 0);
	rc = parse_view(h, s, idx, path, clang_args, nclang_args, 0);
	if (!rc)
		rc = parse_view(h, s, idx, path, clang_args, nclang_args, 1);
	for (int i = 0; i < nextra && i < 8 && !rc; i++) {
		h->extra[h->nextra++] = extra[i];
		rc = parse_view(h, s, idx, extra[i], clang_args, nclang_args, 0);
		if (!rc)
			rc = parse_view(h, s, idx, extra[i], clang_args, nclang_args, 1);
	}
	clang_disposeIndex(idx);
	for (int i = 0; i < h->nfuncs; i++) {
		struct cg_func *f = &h->funcs[i];
		f->legacy = !f->in_public && !is_variant(f->name);
	}
	return rc;
}

void cg_header_free(struct cg_header *h)
{
	for (int i = 0; i < h->nfuncs; i++) {
		struct cg_func *f = &h->funcs[i];
		for (int k = 0; k < f->nparams; k++) {
			free(f->p[k].name);
			free(f->p[k].type);
		}
		free(f->p);
		free(f->name);
		free(f->ret);
		free(f->file);
	}
	free(h->funcs);
	memset(h, 0, sizeof(*h));
}
