/* SPDX-License-Identifier: MIT */
/* codegen.h — vgpu-codegen's model of cuda.h functions and spec/cuda.spec, shared by its parser, header walker and emitters. */
#ifndef VGPU_CODEGEN_H
#define VGPU_CODEGEN_H

#include <stddef.h>
#include <stdint.h>

#define CG_VERSION "0.1"

/* Classification of one cuda.h function. */
enum cg_class { CG_NONE = 0, CG_GEN, CG_CUSTOM, CG_LOCAL, CG_UNSUP };

/* What the header says about a parameter's type (before spec annotations). */
enum cg_tclass {
	T_OTHER = 0,   /* function pointer, struct by value, pointer to pointer...: needs the spec */
	T_SCALAR,      /* integer, enum, float, double */
	T_HANDLE,      /* typedef of a pointer to an opaque struct, mapped by a `handle` line */
	T_DPTR,        /* CUdeviceptr */
	T_PTR,         /* pointer to something; see pointee */
};

struct cg_param {
	char *name;
	char *type;        /* C spelling, e.g. "const void *" */
	int tclass;        /* enum cg_tclass */
	int size;          /* scalar: sizeof */
	int is_signed, is_float;
	int htype;         /* handle: index into spec handles, else -1 */
	/* pointers */
	int pointee;       /* enum cg_tclass of the pointee, or T_PTR for char/void/record below */
	int pointee_const;
	int pointee_char, pointee_void, pointee_record;
	int pointee_size;  /* sizeof pointee (void: 1) */
	int pointee_has_ptr; /* record with pointer members (not POD across address spaces) */
	int pointee_is_signed, pointee_is_float, pointee_htype;
	/* result after defaults + annotations */
	int kind;          /* enum vgpu_arg_kind, 0 = unresolved */
	unsigned flags;    /* VGPU_ARGF_* */
	int len_arg, len_arg2;
	uint64_t len_mul, max_len;
	int struct_size;
	int wire_size;     /* the descriptor's size field */
};

struct cg_func {
	char *name;
	char *ret;         /* return type spelling */
	char *file;
	unsigned line;
	int nparams;
	struct cg_param *p;
	int in_public;     /* declared by plain #include <cuda.h> */
	int in_internal;   /* declared with __CUDA_API_VERSION_INTERNAL (libcuda's own view) */
	int legacy;        /* only in the internal view and not a _ptds/_ptsz variant */
	/* classification */
	int cls;
	int opcode;        /* > 0 when it travels on the wire */
	unsigned flags;    /* VGPU_CALLF_* */
	char *custom;      /* custom handler name */
	char *reason;      /* unsupported reason */
	int spec_line;     /* line that classified it (call or rule) */
	int by_rule;
	int wire_ok;       /* descriptor fully describes the parameters */
};

enum cg_ann_kind { A_IN = 1, A_OUT, A_INOUT, A_OUTSTR, A_RANGE, A_ALLOC, A_FREE, A_DESTROY, A_NEW,
		   A_STRING, A_SCALAR, A_MAX, A_OPAQUE };

struct cg_ann {
	char *param;
	int kind;          /* enum cg_ann_kind */
	char *expr;        /* length expression text, or NULL */
	uint64_t num;      /* A_MAX */
};

struct cg_call {
	char *name;
	int line;
	int cls;
	int opcode;
	int ptds_op, ptsz_op;
	unsigned flags;
	char *custom;
	char *reason;
	int nann;
	struct cg_ann *ann;
	int used;
};

struct cg_rule {
	char *glob;        /* fnmatch pattern, or "@legacy" */
	int line;
	int cls;
	char *reason;
	int hits;
};

struct cg_handle {
	char *type;        /* typedef name, e.g. CUcontext */
	char *htype;       /* VGPU_H_ suffix, e.g. CONTEXT */
	int line;
};

struct cg_hole {
	int opcode;
	int line;
};

struct cg_spec {
	const char *path;
	uint8_t sha256[32];
	struct cg_call *calls;   int ncalls;
	struct cg_rule *rules;   int nrules;
	struct cg_handle *handles; int nhandles;
	struct cg_hole *holes;   int nholes;
};

struct cg_header {
	const char *path;
	const char *base;        /* basename for messages */
	long cuda_version;
	const char *extra[8];     /* more headers declaring cu* functions (e.g. cudaProfiler.h) */
	int nextra;
	struct cg_func *funcs;
	int nfuncs;
};

/* Reports "file:line: error: ..." on stderr and counts it. */
void cg_error(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
extern int cg_nerrors;

void *cg_xmalloc(size_t n);
void *cg_xrealloc(void *p, size_t n);
char *cg_xstrdup(const char *s);

int cg_spec_parse(struct cg_spec *s, const char *path);
int cg_header_parse(struct cg_header *h, const struct cg_spec *s, const char *path, const char *const *extra,
		    int nextra, const char *const *clang_args, int nclang_args);
int cg_classify(struct cg_header *h, struct cg_spec *s);
int cg_emit(const struct cg_header *h, const struct cg_spec *s, const char *outdir);
/* Release everything the parsers allocated (strings in cg_func point into the spec: free the header first). */
void cg_header_free(struct cg_header *h);
void cg_spec_free(struct cg_spec *s);
void cg_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
