/* SPDX-License-Identifier: MIT */
/* emit.c — writes generated/: opcode enum, call descriptors, client stubs, proxy dispatch, export map and COVERAGE.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen.h"
#include "wire.h"

struct out {
	FILE *f;
	char path[4096];
	char tmp[4096];
};

static const struct cg_header *H;
static const struct cg_spec *S;
static struct cg_func **byop, **byname;
static int nbyop, nbyname;

static char stamp[256];

static int out_open(struct out *o, const char *dir, const char *name)
{
	snprintf(o->path, sizeof(o->path), "%s/%s", dir, name);
	snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.tmp", dir, name);
	o->f = fopen(o->tmp, "w");
	if (!o->f) {
		cg_error(o->tmp, 0, "cannot write: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* 1 if files a and b have the same bytes. */
static int same_content(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;
	char ba[8192], bb[8192];

	while (same) {
		size_t na = fread(ba, 1, sizeof(ba), fa), nb = fread(bb, 1, sizeof(bb), fb);
		if (na != nb || memcmp(ba, bb, na))
			same = 0;
		else if (na == 0)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/*
 * Moves the finished file into place (a failed run never leaves a half-written output);
 * an unchanged file keeps its timestamp, so a no-op regen rebuilds nothing.
 */
static int out_close(struct out *o)
{
	if (fclose(o->f)) {
		cg_error(o->tmp, 0, "write failed: %s", strerror(errno));
		return -EIO;
	}
	if (same_content(o->tmp, o->path)) {
		unlink(o->tmp);
		return 0;
	}
	if (rename(o->tmp, o->path)) {
		cg_error(o->path, 0, "cannot replace: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static const char *kind_name(int k)
{
	static const char *const n[] = {
		[VGPU_ARG_SCALAR] = "VGPU_ARG_SCALAR", [VGPU_ARG_HANDLE] = "VGPU_ARG_HANDLE",
		[VGPU_ARG_DPTR] = "VGPU_ARG_DPTR", [VGPU_ARG_OUT_SCALAR] = "VGPU_ARG_OUT_SCALAR",
		[VGPU_ARG_OUT_HANDLE] = "VGPU_ARG_OUT_HANDLE", [VGPU_ARG_OUT_DPTR] = "VGPU_ARG_OUT_DPTR",
		[VGPU_ARG_INOUT_SCALAR] = "VGPU_ARG_INOUT_SCALAR", [VGPU_ARG_IN_BUF] = "VGPU_ARG_IN_BUF",
		[VGPU_ARG_OUT_BUF] = "VGPU_ARG_OUT_BUF", [VGPU_ARG_INOUT_BUF] = "VGPU_ARG_INOUT_BUF",
		[VGPU_ARG_STRING] = "VGPU_ARG_STRING", [VGPU_ARG_OUT_STRING] = "VGPU_ARG_OUT_STRING",
		[VGPU_ARG_IN_STRUCT] = "VGPU_ARG_IN_STRUCT", [VGPU_ARG_OUT_STRUCT] = "VGPU_ARG_OUT_STRUCT",
		[VGPU_ARG_INOUT_STRUCT] = "VGPU_ARG_INOUT_STRUCT", [VGPU_ARG_OPAQUE] = "VGPU_ARG_OPAQUE",
		[VGPU_ARG_IN_HANDLE_ARRAY] = "VGPU_ARG_IN_HANDLE_ARRAY", [VGPU_ARG_OUT_HANDLE_ARRAY] = "VGPU_ARG_OUT_HANDLE_ARRAY",
	};
	return k > 0 && k < VGPU_ARG_KIND_MAX ? n[k] : "0";
}

static void print_flags(FILE *f, unsigned fl, int call)
{
	static const char *const argn[] = { "VGPU_ARGF_SIGNED", "VGPU_ARGF_FLOAT", "VGPU_ARGF_NEW", "VGPU_ARGF_DESTROYS",
					    "VGPU_ARGF_ALLOC", "VGPU_ARGF_FREES", "VGPU_ARGF_RANGE" };
	static const char *const calln[] = { "VGPU_CALLF_ASYNC", "VGPU_CALLF_SYNC", "VGPU_CALLF_CUSTOM" };
	const char *const *n = call ? calln : argn;
	int max = call ? 3 : 7, any = 0;

	for (int b = 0; b < max; b++)
		if (fl & (1u << b)) {
			fprintf(f, "%s%s", any ? " | " : "", n[b]);
			any = 1;
		}
	if (!any)
		fputc('0', f);
}

static void header(FILE *f, const char *open, const char *close)
{
	fprintf(f, "%s %s %s\n", open, stamp, close);
}

static int is_remoted(const struct cg_func *f)
{
	return f->opcode > 0;
}

static int cmp_op(const void *a, const void *b)
{
	return (*(const struct cg_func *const *)a)->opcode - (*(const struct cg_func *const *)b)->opcode;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(const struct cg_func *const *)a)->name, (*(const struct cg_func *const *)b)->name);
}

/* "TYPE NAME" for a declaration, with no space after a '*'. */
static void decl(FILE *f, const struct cg_param *p)
{
	size_t n = strlen(p->type);

	fprintf(f, "%s%s%s", p->type, n && p->type[n - 1] == '*' ? "" : " ", p->name);
}

static void proto(FILE *f, const struct cg_func *fn, const char *name_prefix, const char *name)
{
	fprintf(f, "%s CUDAAPI %s%s(", fn->ret, name_prefix, name);
	if (!fn->nparams)
		fputs("void", f);
	for (int i = 0; i < fn->nparams; i++) {
		if (i)
			fputs(", ", f);
		decl(f, &fn->p[i]);
	}
	fputc(')', f);
}

/* #include lines for the extra headers (by basename, found on the include path). */
static void include_extra(FILE *f)
{
	for (int i = 0; i < H->nextra; i++) {
		const char *b = strrchr(H->extra[i], '/');
		fprintf(f, "#include <%s>\n", b ? b + 1 : H->extra[i]);
	}
}

static int op_count(void)
{
	int max = 0;

	for (int i = 0; i < nbyop; i++)
		if (byop[i]->opcode > max)
			max = byop[i]->opcode;
	for (int i = 0; i < S->nholes; i++)
		if (S->holes[i].opcode > max)
			max = S->holes[i].opcode;
	return max + 1;
}

static int emit_ops(const char *dir)
{
	struct out o;
	int count = op_count();

	if (out_open(&o, dir, "vgpu_ops.h"))
		return -EIO;
	header(o.f, "/*", "*/");
	fprintf(o.f, "/* vgpu_ops.h — wire opcodes of the remoted CUDA calls, pinned in spec/cuda.spec (values never change). */\n");
	fprintf(o.f, "#ifndef VGPU_OPS_H\n#define VGPU_OPS_H\n\n#define VGPU_CUDA_VERSION %ld\n\nenum vgpu_op {\n", H->cuda_version);
	fprintf(o.f, "\tVGPU_OP_NONE = 0,\n");
	for (int op = 1, i = 0; op < count; op++) {
		while (i < nbyop && byop[i]->opcode < op)
			i++;
		if (i < nbyop && byop[i]->opcode == op)
			fprintf(o.f, "\tVGPU_OP_%s = %d,\n", byop[i]->name, op);
		else
			for (int k = 0; k < S->nholes; k++)
				if (S->holes[k].opcode == op)
					fprintf(o.f, "\t/* %d: retired (spec line %d) */\n", op, S->holes[k].line);
	}
	fprintf(o.f, "\tVGPU_OP_COUNT = %d\n};\n\n#endif\n", count);
	return out_close(&o);
}

static int emit_calls(const char *dir)
{
	struct out o;

	if (out_open(&o, dir, "vgpu_calls.h"))
		return -EIO;
	header(o.f, "/*", "*/");
	fprintf(o.f, "/* vgpu_calls.h — one descriptor per remoted call and the table indexed by opcode. */\n");
	fprintf(o.f, "#ifndef VGPU_CALLS_H\n#define VGPU_CALLS_H\n\n#include \"wire.h\"\n#include \"vgpu_ops.h\"\n\n");
	fprintf(o.f, "/* Indexed by enum vgpu_op; NULL for holes and 0. Check op < VGPU_OP_COUNT first. */\n");
	fprintf(o.f, "extern const struct vgpu_call_desc *const vgpu_call_table[VGPU_OP_COUNT];\n\n");
	for (int i = 0; i < nbyop; i++)
		fprintf(o.f, "extern const struct vgpu_call_desc vgpu_call_%s;\n", byop[i]->name);
	fprintf(o.f, "\n#endif\n");
	if (out_close(&o))
		return -EIO;

	if (out_open(&o, dir, "vgpu_calls.c"))
		return -EIO;
	header(o.f, "/*", "*/");
	fprintf(o.f, "/* vgpu_calls.c — call descriptors (data walked by runtime/codec.c), one per remoted call. */\n");
	fprintf(o.f, "#include <stddef.h>\n\n#include \"vgpu_calls.h\"\n");
	for (int i = 0; i < nbyop; i++) {
		const struct cg_func *fn = byop[i];
		int nout = 0;
		if (fn->nparams) {
			fprintf(o.f, "\nstatic const struct vgpu_arg_desc args_%s[%d] = {\n", fn->name, fn->nparams);
			for (int k = 0; k < fn->nparams; k++) {
				const struct cg_param *p = &fn->p[k];
				int ht = p->kind == VGPU_ARG_HANDLE ? p->htype :
					 p->kind == VGPU_ARG_OUT_HANDLE || p->kind == VGPU_ARG_IN_HANDLE_ARRAY ||
					 p->kind == VGPU_ARG_OUT_HANDLE_ARRAY ? p->pointee_htype : -1;
				fprintf(o.f, "\t{ .name = \"%s\", .kind = %s, .size = %d, .htype = ", p->name, kind_name(p->kind),
					p->kind == VGPU_ARG_OPAQUE ? 0 : p->wire_size);
				if (ht >= 0)
					fprintf(o.f, "VGPU_H_%s", S->handles[ht].htype);
				else
					fputs("VGPU_H_NONE", o.f);
				fputs(", .len_arg = ", o.f);
				if (p->len_arg >= 0)
					fprintf(o.f, "%d", p->len_arg);
				else
					fputs("VGPU_LEN_NONE", o.f);
				fputs(", .len_arg2 = ", o.f);
				if (p->len_arg2 >= 0)
					fprintf(o.f, "%d", p->len_arg2);
				else
					fputs("VGPU_LEN_NONE", o.f);
				fputs(", .flags = ", o.f);
				print_flags(o.f, p->flags, 0);
				fprintf(o.f, ", .struct_size = %d, .len_mul = %lluull, .max_len = %lluull },\n", p->struct_size,
					(unsigned long long)p->len_mul, (unsigned long long)p->max_len);
				switch (p->kind) {
				case VGPU_ARG_OUT_SCALAR: case VGPU_ARG_OUT_HANDLE: case VGPU_ARG_OUT_DPTR:
				case VGPU_ARG_INOUT_SCALAR: case VGPU_ARG_OUT_BUF: case VGPU_ARG_INOUT_BUF:
				case VGPU_ARG_OUT_STRING: case VGPU_ARG_OUT_STRUCT: case VGPU_ARG_INOUT_STRUCT:
				case VGPU_ARG_OUT_HANDLE_ARRAY:
					nout++;
					break;
				}
			}
			fprintf(o.f, "};\n");
		}
		fprintf(o.f, "\nconst struct vgpu_call_desc vgpu_call_%s = {\n", fn->name);
		fprintf(o.f, "\t.name = \"%s\", .opcode = VGPU_OP_%s, .flags = ", fn->name, fn->name);
		print_flags(o.f, fn->flags, 1);
		fprintf(o.f, ",\n\t.nargs = %d, .nout = %d, .args = %s%s, .custom = ", fn->nparams, nout,
			fn->nparams ? "args_" : "NULL", fn->nparams ? fn->name : "");
		if (fn->custom)
			fprintf(o.f, "\"%s\"", fn->custom);
		else
			fputs("NULL", o.f);
		fprintf(o.f, ",\n};\n");
	}
	fprintf(o.f, "\nconst struct vgpu_call_desc *const vgpu_call_table[VGPU_OP_COUNT] = {\n");
	for (int i = 0; i < nbyop; i++)
		fprintf(o.f, "\t[VGPU_OP_%s] = &vgpu_call_%s,\n", byop[i]->name, byop[i]->name);
	fprintf(o.f, "};\n");
	return out_close(&o);
}

/* A stub of fn (prefixed by attr) that ignores its arguments and returns what say("name")
 * answers (0 of its type when it is no CUresult). */
static void stub(FILE *f, const struct cg_func *fn, const char *attr, const char *say)
{
	fprintf(f, "\n%s", attr);
	proto(f, fn, "", fn->name);
	fprintf(f, "\n{\n");
	for (int k = 0; k < fn->nparams; k++)
		fprintf(f, "\t(void)%s;\n", fn->p[k].name);
	if (strcmp(fn->ret, "CUresult"))
		fprintf(f, "\t(void)%s(\"%s\");\n\treturn (%s)0;\n}\n", say, fn->name, fn->ret);
	else
		fprintf(f, "\treturn %s(\"%s\");\n}\n", say, fn->name);
}

static int emit_client(const char *dir)
{
	struct out o;

	if (out_open(&o, dir, "vgpu_client.h"))
		return -EIO;
	header(o.f, "/*", "*/");
	fprintf(o.f, "/* vgpu_client.h — what the generated client stubs call; libvgpu implements both functions. */\n");
	fprintf(o.f, "#ifndef VGPU_CLIENT_H\n#define VGPU_CLIENT_H\n\n#include <cuda.h>\n#include \"vgpu_calls.h\"\n\n");
	fprintf(o.f, "/* Sends call d with argv[i] = &parameter i and waits for the reply (unless async). */\n");
	fprintf(o.f, "CUresult vgpu_client_call(const struct vgpu_call_desc *d, void *const *argv);\n");
	fprintf(o.f, "/* Logs once per name that the call is not supported; returns CUDA_ERROR_NOT_SUPPORTED. */\n");
	fprintf(o.f, "CUresult vgpu_client_unsupported(const char *name);\n\n#endif\n");
	if (out_close(&o))
		return -EIO;

	if (out_open(&o, dir, "vgpu_client.c"))
		return -EIO;
	header(o.f, "/*", "*/");
	fprintf(o.f, "/* vgpu_client.c — libvgpu's exported cu* entry points: thin calls of the generic encoder, and unsupported stubs.\n");
	fprintf(o.f, " * Custom and local calls are hand-written in libvgpu/. Built in libcuda's own view of cuda.h so that the\n");
	fprintf(o.f, " * versioned, per-thread-stream and legacy ABI names can all be defined. */\n");
	fprintf(o.f, "#define __CUDA_API_VERSION_INTERNAL 1\n#include <cuda.h>\n");
	include_extra(o.f);
	fprintf(o.f, "\n#include \"vgpu_client.h\"\n");
	for (int i = 0; i < nbyop; i++) {
		const struct cg_func *fn = byop[i];
		if (fn->cls != CG_GEN)
			continue;
		fputc('\n', o.f);
		proto(o.f, fn, "", fn->name);
		fprintf(o.f, "\n{\n");
		if (fn->nparams) {
			fprintf(o.f, "\tvoid *argv[%d] = { ", fn->nparams);
			for (int k = 0; k < fn->nparams; k++)
				fprintf(o.f, "%s&%s", k ? ", " : "", fn->p[k].name);
			fprintf(o.f, " };\n\n\treturn vgpu_client_call(&vgpu_call_%s, argv);\n}\n", fn->name);
		} else {
			fprintf(o.f, "\treturn vgpu_client_call(&vgpu_call_%s, NULL);\n}\n", fn->name);
		}
	}
	for (int i = 0; i < nbyname; i++)
		if (byname[i]->cls == CG_UNSUP)
			stub(o.f, byname[i], "", "vgpu_client_unsupported");
	return out_close(&o);
}

/*
 * sim_absent.c: every function of cuda.h, under every ABI name, as a weak definition for the
 * simulator. Its own definitions replace them at link time; a program that links against a
 * function the simulator does not have, or looks it up, still loads, and calling it says so.
 */
static int emit_sim_absent(const char *dir)
{
	struct out o;

	if (out_open(&o, dir, "sim_absent.c"))
		return -EIO;
	header(o.f, "/*", "*/");
	fprintf(o.f, "/* sim_absent.c — the functions of cuda.h the simulator (libcudasim.so, the CPU test double of the\n");
	fprintf(o.f, " * driver) does not define: weak stubs that its own definitions replace when the library is linked;\n");
	fprintf(o.f, " * each says on stderr that the simulator lacks it and returns CUDA_ERROR_NOT_SUPPORTED. Built in\n");
	fprintf(o.f, " * libcuda's own view of cuda.h so that every ABI name is defined, as the driver defines them. */\n");
	fprintf(o.f, "#define __CUDA_API_VERSION_INTERNAL 1\n#include <cuda.h>\n");
	include_extra(o.f);
	fprintf(o.f, "\nCUresult sim_absent(const char *name);\n");
	for (int i = 0; i < nbyname; i++)
		stub(o.f, byname[i], "__attribute__((weak)) ", "sim_absent");
	return out_close(&o);
}

static int emit_dispatch(const char *dir)
{
	struct out o;

	if (out_open(&o, dir, "vgpu_dispatch.h"))
		return -EIO;
	header(o.f, "/*", "*/");
	fprintf(o.f, "/* vgpu_dispatch.h — the proxy's view: driver entry points (dlsym'd) and the opcode-indexed dispatch table. */\n");
	fprintf(o.f, "#ifndef VGPU_DISPATCH_H\n#define VGPU_DISPATCH_H\n\n#include <cuda.h>\n");
	include_extra(o.f);
	fprintf(o.f, "#include \"vgpu_calls.h\"\n\n");
	fprintf(o.f, "/* One pointer per remoted call (generated and custom); NULL when the backend lacks it. */\n");
	fprintf(o.f, "struct vgpu_driver {\n");
	for (int i = 0; i < nbyop; i++) {
		const struct cg_func *fn = byop[i];
		fprintf(o.f, "\t%s (CUDAAPI *%s)(", fn->ret, fn->name);
		if (!fn->nparams)
			fputs("void", o.f);
		for (int k = 0; k < fn->nparams; k++)
			fprintf(o.f, "%s%s", k ? ", " : "", fn->p[k].type);
		fprintf(o.f, ");\n");
	}
	fprintf(o.f, "};\n\n");
	fprintf(o.f, "/*\n * Fills *drv with dlsym(dl_handle, name) for every remoted call; missing ones stay NULL and\n");
	fprintf(o.f, " * are counted in one log line on stderr. Returns how many were missing, or -EINVAL.\n */\n");
	fprintf(o.f, "int vgpu_driver_load(void *dl_handle, struct vgpu_driver *drv /* out */);\n\n");
	fprintf(o.f, "/* Calls the driver with argv[i] pointing at the decoded value of parameter i. */\n");
	fprintf(o.f, "typedef CUresult (*vgpu_thunk_fn)(const struct vgpu_driver *drv, void *const *argv);\n\n");
	fprintf(o.f, "/* thunk is NULL for custom calls whose parameters the generic codec cannot carry (VGPU_ARG_OPAQUE). */\n");
	fprintf(o.f, "struct vgpu_dispatch_entry {\n\tconst struct vgpu_call_desc *desc;\n\tvgpu_thunk_fn thunk;\n};\n\n");
	fprintf(o.f, "/* Indexed by opcode; check op < VGPU_OP_COUNT and desc != NULL before use. */\n");
	fprintf(o.f, "extern const struct vgpu_dispatch_entry vgpu_dispatch_table[VGPU_OP_COUNT];\n\n#endif\n");
	if (out_close(&o))
		return -EIO;

	if (out_open(&o, dir, "vgpu_dispatch.c"))
		return -EIO;
	header(o.f, "/*", "*/");
	fprintf(o.f, "/* vgpu_dispatch.c — proxy side: dlsym of the driver's entry points, one thunk per remoted call, the dispatch table. */\n");
	fprintf(o.f, "#define __CUDA_API_VERSION_INTERNAL 1\n#include <cuda.h>\n");
	include_extra(o.f);
	fprintf(o.f, "\n#include <dlfcn.h>\n#include <errno.h>\n#include <stddef.h>\n#include <stdio.h>\n#include <string.h>\n\n#include \"vgpu_dispatch.h\"\n\n");
	fprintf(o.f, "static const struct {\n\tconst char *name;\n\tsize_t off;\n} syms[] = {\n");
	for (int i = 0; i < nbyop; i++)
		fprintf(o.f, "\t{ \"%s\", offsetof(struct vgpu_driver, %s) },\n", byop[i]->name, byop[i]->name);
	fprintf(o.f, "};\n\n");
	fprintf(o.f, "int vgpu_driver_load(void *dl_handle, struct vgpu_driver *drv)\n{\n");
	fprintf(o.f, "\tconst char *first = NULL;\n\tint missing = 0;\n\n\tif (!dl_handle || !drv)\n\t\treturn -EINVAL;\n");
	fprintf(o.f, "\tmemset(drv, 0, sizeof(*drv));\n\tfor (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {\n");
	fprintf(o.f, "\t\tvoid *p = dlsym(dl_handle, syms[i].name);\n\n\t\tif (!p) {\n\t\t\tif (!first)\n\t\t\t\tfirst = syms[i].name;\n\t\t\tmissing++;\n\t\t}\n");
	fprintf(o.f, "\t\tmemcpy((char *)drv + syms[i].off, &p, sizeof(p));\n\t}\n");
	fprintf(o.f, "\tif (missing)\n\t\tfprintf(stderr, \"vgpu: the CUDA backend lacks %%d of %%zu remoted entry points (first: %%s); those calls fail with CUDA_ERROR_NOT_FOUND\\n\",\n\t\t\tmissing, sizeof(syms) / sizeof(syms[0]), first);\n");
	fprintf(o.f, "\treturn missing;\n}\n");
	for (int i = 0; i < nbyop; i++) {
		const struct cg_func *fn = byop[i];
		if (!fn->wire_ok)
			continue;
		fprintf(o.f, "\nstatic CUresult thunk_%s(const struct vgpu_driver *d, void *const *a)\n{\n", fn->name);
		if (!fn->nparams)
			fprintf(o.f, "\t(void)a;\n");
		fprintf(o.f, "\tif (!d->%s)\n\t\treturn CUDA_ERROR_NOT_FOUND;\n\treturn d->%s(", fn->name, fn->name);
		for (int k = 0; k < fn->nparams; k++) {
			const char *t = fn->p[k].type;
			size_t n = strlen(t);
			fprintf(o.f, "%s*(%s%s*)a[%d]", k ? ", " : "", t, n && t[n - 1] == '*' ? "" : " ", k);
		}
		fprintf(o.f, ");\n}\n");
	}
	fprintf(o.f, "\nconst struct vgpu_dispatch_entry vgpu_dispatch_table[VGPU_OP_COUNT] = {\n");
	for (int i = 0; i < nbyop; i++) {
		const struct cg_func *fn = byop[i];
		if (fn->wire_ok)
			fprintf(o.f, "\t[VGPU_OP_%s] = { &vgpu_call_%s, thunk_%s },\n", fn->name, fn->name, fn->name);
		else
			fprintf(o.f, "\t[VGPU_OP_%s] = { &vgpu_call_%s, NULL },\n", fn->name, fn->name);
	}
	fprintf(o.f, "};\n");
	return out_close(&o);
}

static int emit_map(const char *dir)
{
	struct out o;

	if (out_open(&o, dir, "libvgpu.map"))
		return -EIO;
	header(o.f, "/*", "*/");
	fprintf(o.f, "/* libvgpu.map — linker version script: libvgpu exports exactly the cu* names of cuda.h (generated,\n");
	fprintf(o.f, " * custom, local and unsupported stubs) and nothing else. */\n{\n\tglobal:\n");
	for (int i = 0; i < nbyname; i++)
		fprintf(o.f, "\t\t%s;\n", byname[i]->name);
	fprintf(o.f, "\tlocal:\n\t\t*;\n};\n");
	return out_close(&o);
}

static const char *cls_name(int c)
{
	switch (c) {
	case CG_GEN: return "generated";
	case CG_CUSTOM: return "custom";
	case CG_LOCAL: return "local";
	case CG_UNSUP: return "unsupported";
	}
	return "?";
}

static int emit_coverage(const char *dir)
{
	struct out o;
	int n[5] = { 0 }, wire = 0;

	for (int i = 0; i < nbyname; i++) {
		n[byname[i]->cls]++;
		wire += is_remoted(byname[i]);
	}
	if (out_open(&o, dir, "COVERAGE.md"))
		return -EIO;
	header(o.f, "<!--", "-->");
	fprintf(o.f, "# CUDA driver API coverage (%s, CUDA_VERSION %ld)\n\n", H->base, H->cuda_version);
	fprintf(o.f, "Every `cu*` function that %s", H->base);
	for (int i = 0; i < H->nextra; i++) {
		const char *b = strrchr(H->extra[i], '/');
		fprintf(o.f, "%s%s", i + 1 == H->nextra ? " and " : ", ", b ? b + 1 : H->extra[i]);
	}
	fprintf(o.f, " declare%s (public view plus libcuda's internal view: versioned,\n", H->nextra ? "" : "s");
	fprintf(o.f, "per-thread-stream and legacy ABI names), with its class from `spec/cuda.spec`.\n\n");
	fprintf(o.f, "| class | count | meaning |\n|---|---:|---|\n");
	fprintf(o.f, "| generated | %d | stub, descriptor and thunk all generated |\n", n[CG_GEN]);
	fprintf(o.f, "| custom | %d | hand-written client stub and/or proxy handler (libvgpu/, proxy/) |\n", n[CG_CUSTOM]);
	fprintf(o.f, "| local | %d | answered inside libvgpu without the proxy |\n", n[CG_LOCAL]);
	fprintf(o.f, "| unsupported | %d | stub returns CUDA_ERROR_NOT_SUPPORTED (reason below) |\n", n[CG_UNSUP]);
	fprintf(o.f, "| **total** | **%d** | |\n\n", nbyname);
	fprintf(o.f, "Generated + custom: %d. Calls that travel on the wire (have an opcode): %d.\n\n", n[CG_GEN] + n[CG_CUSTOM], wire);
	fprintf(o.f, "## Remoted calls (the backend, real libcuda or libcudasim.so, must export these)\n\n");
	fprintf(o.f, "| opcode | function | class | flags |\n|---:|---|---|---|\n");
	for (int i = 0; i < nbyop; i++) {
		const struct cg_func *fn = byop[i];
		fprintf(o.f, "| %d | `%s` | %s%s%s | %s%s |\n", fn->opcode, fn->name, cls_name(fn->cls),
			fn->custom ? " " : "", fn->custom ? fn->custom : "",
			fn->flags & VGPU_CALLF_ASYNC ? "async" : fn->flags & VGPU_CALLF_SYNC ? "sync" : "",
			fn->wire_ok ? "" : " (hand-written payload)");
	}
	fprintf(o.f, "\n## All functions\n\n| function | class | detail |\n|---|---|---|\n");
	for (int i = 0; i < nbyname; i++) {
		const struct cg_func *fn = byname[i];
		fprintf(o.f, "| `%s` | %s | ", fn->name, cls_name(fn->cls));
		if (fn->opcode)
			fprintf(o.f, "opcode %d", fn->opcode);
		if (fn->custom)
			fprintf(o.f, "%shandler `%s`", fn->opcode ? ", " : "", fn->custom);
		if (fn->reason)
			fprintf(o.f, "%s", fn->reason);
		if (fn->by_rule)
			fprintf(o.f, " (rule, spec line %d)", fn->spec_line);
		fprintf(o.f, " |\n");
	}
	return out_close(&o);
}

int cg_emit(const struct cg_header *h, const struct cg_spec *s, const char *outdir)
{
	int rc = 0;
	char hex[65];

	H = h;
	S = s;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", s->sha256[i]);
	snprintf(stamp, sizeof(stamp), "Generated by vgpu-codegen %s from %s CUDA_VERSION %ld, spec SHA256 %s — do not edit.",
		 CG_VERSION, h->base, h->cuda_version, hex);
	byop = cg_xmalloc(sizeof(*byop) * (size_t)(h->nfuncs + 1));
	byname = cg_xmalloc(sizeof(*byname) * (size_t)(h->nfuncs + 1));
	nbyop = nbyname = 0;
	for (int i = 0; i < h->nfuncs; i++) {
		struct cg_func *f = &h->funcs[i];
		byname[nbyname++] = f;
		if (is_remoted(f))
			byop[nbyop++] = f;
	}
	qsort(byop, (size_t)nbyop, sizeof(*byop), cmp_op);
	qsort(byname, (size_t)nbyname, sizeof(*byname), cmp_name);
	if (emit_ops(outdir) || emit_calls(outdir) || emit_client(outdir) || emit_sim_absent(outdir) ||
	    emit_dispatch(outdir) || emit_map(outdir) || emit_coverage(outdir))
		rc = -EIO;
	free(byop);
	free(byname);
	return rc;
}
