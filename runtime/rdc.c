/* SPDX-License-Identifier: MIT */
/* rdc.c — PTX for relocatable device code (nvcc -rdc=true) whose linked image holds only SASS. */
#include "rdc.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modimage.h"

struct rdc_inputs {
	char *path;     /* the file of the process whose __nv_relfatbin held them */
	char **ptx;     /* NUL-terminated PTX texts, one per relocatable object */
	size_t n;
};

static void inputs_free(struct rdc_inputs *in);

/*
 * A program built with -rdc=true (CMake's CUDA_SEPARABLE_COMPILATION) carries two kinds of
 * device code: the image its device link step made, which cudart loads (SASS only: the
 * device linker links machine code), and, in the section __nv_relfatbin, each object's
 * relocatable fatbin, PTX included. A device that runs only PTX can run the program from
 * the latter: the PTX of the objects of one file, linked. The files are the process's own
 * (the executable and its shared libraries), read through their section headers.
 */

#define SECTION_MAX (256u << 20)   /* the longest __nv_relfatbin read */

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* The contents of section `want` of the ELF file at path (malloc'd, *len bytes), or NULL. */
static void *elf_section(const char *path, const char *want, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	void *out = NULL;
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL;
	char *names = NULL;
	if (pread_all(fd, &eh, sizeof(eh), 0) < 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) || !eh.e_shnum ||
	    eh.e_shnum > 65000 || eh.e_shstrndx >= eh.e_shnum)
		goto out;
	sh = malloc((size_t)eh.e_shnum * sizeof(*sh));
	if (!sh || pread_all(fd, sh, (size_t)eh.e_shnum * sizeof(*sh), (off_t)eh.e_shoff) < 0)
		goto out;
	const Elf64_Shdr *ns = &sh[eh.e_shstrndx];
	if (ns->sh_size > (1u << 24) || !(names = malloc(ns->sh_size + 1)) ||
	    pread_all(fd, names, ns->sh_size, (off_t)ns->sh_offset) < 0)
		goto out;
	names[ns->sh_size] = 0;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_name >= ns->sh_size || strcmp(names + sh[i].sh_name, want) || sh[i].sh_type == SHT_NOBITS)
			continue;
		if (!sh[i].sh_size || sh[i].sh_size > SECTION_MAX || !(out = malloc(sh[i].sh_size)))
			break;
		if (pread_all(fd, out, sh[i].sh_size, (off_t)sh[i].sh_offset) < 0) {
			free(out);
			out = NULL;
			break;
		}
		*len = sh[i].sh_size;
		break;
	}
out:
	free(names);
	free(sh);
	close(fd);
	return out;
}

/* 1 when one of the texts names `name` as a function: the name followed by its parameter
 * list (an image's records name its device functions as well as its kernels). */
static int defines(char *const *ptx, size_t n, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < n; i++)
		for (const char *p = ptx[i]; (p = strstr(p, name)); p += nl) {
			const char *q = p + nl;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '(' && p > ptx[i] && (p[-1] == ' ' || p[-1] == '\t'))
				return 1;
		}
	return 0;
}

struct search {
	const struct vgpu_kernel_info *want;  /* the linked image's kernels */
	size_t nwant;
	struct rdc_inputs *out;
	int found;
};

/* The PTX texts of one file's relocatable fatbins, when they define every wanted kernel. */
static int search_file(struct search *s, const char *path)
{
	size_t len = 0;
	unsigned char *sec = elf_section(path, "__nv_relfatbin", &len);
	if (!sec)
		return 0;
	struct rdc_inputs in = { .path = NULL };
	for (size_t off = 0; off + 16 <= len;) {
		uint32_t magic;
		memcpy(&magic, sec + off, 4);
		size_t clen;
		if (magic != VGPU_FATBIN_MAGIC || vgpu_modimage_size(sec + off, len - off, &clen) != VGPU_MODIMAGE_FATBIN) {
			off += 8;   /* containers are 8-byte aligned; padding between them */
			continue;
		}
		char *ptx = NULL;
		if (vgpu_modimage_ptx(sec + off, clen, &ptx) == 0) {
			char **grown = realloc(in.ptx, (in.n + 1) * sizeof(*grown));
			if (!grown) {
				free(ptx);
				break;
			}
			in.ptx = grown;
			in.ptx[in.n++] = ptx;
		}
		off += (clen + 7) & ~(size_t)7;
	}
	free(sec);
	int all = in.n > 0;
	for (size_t i = 0; all && i < s->nwant; i++)
		all = defines(in.ptx, in.n, s->want[i].name);
	if (!all || !(in.path = strdup(path))) {
		inputs_free(&in);
		return 0;
	}
	*s->out = in;
	s->found = 1;
	return 1;
}

static int each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct search *s = arg;
	char exe[4096];
	const char *path = info->dlpi_name;
	if (!path || !path[0]) {   /* the executable: its name, for the log */
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n > 0)
			exe[n] = 0;
		path = n > 0 ? exe : "/proc/self/exe";
	}
	return search_file(s, path);
}

/* The inputs for image: 0, -ENOENT or -EINVAL (vgpu_rdc_image). */
static int find_inputs(const void *image, size_t len, struct rdc_inputs *out)
{
	struct vgpu_kernel_info *k = NULL;
	size_t nk = 0;
	memset(out, 0, sizeof(*out));
	if (vgpu_modimage_kernels(image, len, &k, &nk) < 0)
		return -EINVAL;
	struct search s = { .want = k, .nwant = nk, .out = out };
	if (nk)
		dl_iterate_phdr(each_object, &s);
	vgpu_modimage_free_kernels(k, nk);
	return s.found ? 0 : -ENOENT;
}

static void inputs_free(struct rdc_inputs *in)
{
	for (size_t i = 0; i < in->n; i++)
		free(in->ptx[i]);
	free(in->ptx);
	free(in->path);
	memset(in, 0, sizeof(*in));
}

/* The inputs linked into one image (malloc'd copy of what cuLinkComplete made). */
static CUresult link_inputs(const struct rdc_inputs *in, void **image, size_t *len)
{
	CUlinkState st;
	CUresult r = cuLinkCreate_v2(0, NULL, NULL, &st);
	if (r != CUDA_SUCCESS)
		return r;
	for (size_t i = 0; r == CUDA_SUCCESS && i < in->n; i++)
		r = cuLinkAddData_v2(st, CU_JIT_INPUT_PTX, in->ptx[i], strlen(in->ptx[i]) + 1, "relocatable object",
				     0, NULL, NULL);
	void *out = NULL;
	size_t n = 0;
	if (r == CUDA_SUCCESS)
		r = cuLinkComplete(st, &out, &n);
	if (r == CUDA_SUCCESS && !(*image = malloc(n)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) {
		memcpy(*image, out, n);
		*len = n;
	}
	cuLinkDestroy(st);
	return r;
}

int vgpu_rdc_image(const void *image, size_t len, void **out, size_t *out_len, char *where, size_t where_cap)
{
	struct rdc_inputs in;
	int rc = find_inputs(image, len, &in);
	if (rc < 0)
		return rc;
	rc = link_inputs(&in, out, out_len) == CUDA_SUCCESS ? 0 : -EIO;
	if (!rc)
		snprintf(where, where_cap, "the PTX of the %zu relocatable objects it was linked from "
		         "(nvcc -rdc=true), found in %s", in.n, in.path);
	inputs_free(&in);
	return rc;
}
