/* SPDX-License-Identifier: MIT */
/* rdc.c — PTX for relocatable device code (nvcc -rdc=true) whose linked image holds only SASS. */
#include "rdc.h"
#include "hash.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

struct search {
	const struct vgpu_kernel_info *want;  /* the linked image's kernels */
	size_t nwant;
	struct rdc_inputs *out;
	int found;
};

struct file_ptx_walk {
	char **out;
	size_t n;
	int with_runtime;
};

static int collect_ptx(void *ctx, const void *fatbin, size_t len, const char *member)
{
	struct file_ptx_walk *w = ctx;
	char *ptx = NULL;
	(void)member;
	if (vgpu_modimage_ptx(fatbin, len, &ptx) != 0 || !ptx)
		return 0;
	if (!w->with_runtime && vgpu_modimage_is_devrt(ptx)) {
		free(ptx);
		return 0;
	}
	char **grown = realloc(w->out, (w->n + 1) * sizeof(*grown));
	if (!grown) {
		free(ptx);
		return 1;
	}
	w->out = grown;
	w->out[w->n++] = ptx;
	return 0;
}

/* The PTX texts of one file's relocatable fatbins (NULL when it has none; *n of them), the
 * device runtime's left out unless with_runtime. */
static char **file_ptx(const char *path, size_t *n, int with_runtime)
{
	size_t len = 0;
	unsigned count = 0;
	struct file_ptx_walk w = { NULL, 0, with_runtime };
	unsigned char *sec = elf_section(path, "__nv_relfatbin", &len);
	*n = 0;
	if (!sec)
		return NULL;
	(void)vgpu_modimage_section_fatbins(sec, len, "", collect_ptx, &w, &count);
	free(sec);
	*n = w.n;
	return w.out;
}

/*
 * Every file of the process is searched for each image that holds only SASS, and a library
 * built with -rdc carries a large section (NCCL's: 126 MB, 127 fatbins, 136 MB of PTX once
 * decompressed), while a program may load dozens of such images (NCCL loads its kernels'
 * image once per context and stream kind). So each file is read once: what is kept is the set
 * of names its PTX defines (collect_names below); the texts are read again only for an image
 * whose every name is in the set, to be linked. A file mapped into the process does
 * not change under it; its identity (device, inode, size, time) is checked anyway.
 */
struct file_names {
	struct file_names *next;
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char **slot;    /* open addressing: names, NULL where free */
	size_t cap, n;
};

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct file_names *names_head;

static int names_has(const struct file_names *f, const char *s, size_t n)
{
	if (!f->cap)
		return 0;
	for (size_t i = vgpu_fnv1a(s, n) & (f->cap - 1);; i = (i + 1) & (f->cap - 1)) {
		if (!f->slot[i])
			return 0;
		if (!strncmp(f->slot[i], s, n) && !f->slot[i][n])
			return 1;
	}
}

static int names_add(struct file_names *f, const char *s, size_t n)
{
	if (names_has(f, s, n))
		return 0;
	if (2 * (f->n + 1) > f->cap) {   /* at most half full */
		size_t cap = f->cap ? 2 * f->cap : 1024;
		char **slot = calloc(cap, sizeof(*slot));
		if (!slot)
			return -1;
		for (size_t i = 0; i < f->cap; i++) {
			if (!f->slot[i])
				continue;
			size_t j = vgpu_fnv1a(f->slot[i], strlen(f->slot[i])) & (cap - 1);
			while (slot[j])
				j = (j + 1) & (cap - 1);
			slot[j] = f->slot[i];
		}
		free(f->slot);
		f->slot = slot;
		f->cap = cap;
	}
	char *copy = strndup(s, n);
	if (!copy)
		return -1;
	size_t j = vgpu_fnv1a(s, n) & (f->cap - 1);
	while (f->slot[j])
		j = (j + 1) & (f->cap - 1);
	f->slot[j] = copy;
	f->n++;
	return 0;
}

static int ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

/* the functions ptx names as such (an image's records name its device functions as well as its
 * kernels): a name after a blank, then blanks, then '(' */
static int collect_names(struct file_names *f, const char *ptx)
{
	for (const char *p = ptx; (p = strchr(p, '(')); p++) {
		const char *e = p;
		while (e > ptx && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		const char *b = e;
		while (b > ptx && ident_char(b[-1]))
			b--;
		if (b < e && b > ptx && (b[-1] == ' ' || b[-1] == '\t') && names_add(f, b, (size_t)(e - b)) < 0)
			return -1;
	}
	return 0;
}

static void file_names_free(struct file_names *f)
{
	for (size_t i = 0; i < f->cap; i++)
		free(f->slot[i]);
	free(f->slot);
	free(f->path);
	free(f);
}

/* The names of path's relocatable PTX (an empty set for a file without any); NULL when out of
 * memory or the file cannot be looked at. Called with names_lock held. */
static struct file_names *file_names(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return NULL;
	for (struct file_names *f = names_head; f; f = f->next)
		if (!strcmp(f->path, path) && f->dev == st.st_dev && f->ino == st.st_ino && f->size == st.st_size &&
		    f->mtime.tv_sec == st.st_mtim.tv_sec && f->mtime.tv_nsec == st.st_mtim.tv_nsec)
			return f;
	struct file_names *f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return NULL;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	size_t n = 0;
	char **ptx = file_ptx(path, &n, 1);   /* (the device runtime's kernels count as defined) */
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		bad = bad || collect_names(f, ptx[i]) < 0;
		free(ptx[i]);
	}
	free(ptx);
	if (bad) {
		file_names_free(f);
		return NULL;
	}
	f->next = names_head;
	names_head = f;
	return f;
}

/* 1 when the file's relocatable PTX names every wanted function (0 also when unknown) */
/*
 * Functions the device linker adds to an image from its own library (__cuda_sm70_warpsync,
 * __cuda_sm70_shflsync_idx, ...: what PTX of targets before sm_70 calls for the *_sync warp
 * intrinsics). The image lists them with its kernels, but no object's PTX defines them, and
 * PTX of a later target never calls them (NCCL's image has __cuda_sm70_warpsync; its
 * compute_120 PTX uses bar.warp.sync); were one called, the link would name it unresolved.
 */
static int linker_builtin(const char *name)
{
	return !strncmp(name, "__cuda_sm", 9);
}

static int names_all(const char *path, const struct vgpu_kernel_info *want, size_t nwant)
{
	pthread_mutex_lock(&names_lock);
	const struct file_names *f = file_names(path);
	int all = f && f->n > 0;
	for (size_t i = 0; all && i < nwant; i++)
		all = linker_builtin(want[i].name) || names_has(f, want[i].name, strlen(want[i].name));
	pthread_mutex_unlock(&names_lock);
	return all;
}

/* The PTX texts of one file's relocatable fatbins, when they define every wanted kernel. */
static int search_file(struct search *s, const char *path)
{
	if (!names_all(path, s->want, s->nwant))
		return 0;
	struct rdc_inputs in = { .path = NULL };
	in.ptx = file_ptx(path, &in.n, 0);
	if (!in.n || !(in.path = strdup(path))) {
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

/*
 * Images no file has the PTX of, or whose objects' PTX the linker refused, remembered: listing
 * an image's functions means decompressing its SASS (60 MB of fatbin for NCCL's kernels),
 * linking NCCL's objects takes seconds, and a program may load the same image dozens of times
 * (NCCL did 40, relinking each time while the link failed). An image is known by its length
 * and a hash of its bytes (not its address: memory is reused), and the answer holds while the
 * process has the same number of files loaded.
 */
#define MISSES 16
static struct miss {
	size_t len;
	uint64_t hash;
	int nobj;
} misses[MISSES];
static unsigned nmisses;

static int count_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info;
	(void)size;
	++*(int *)arg;
	return 0;
}

static void miss_add(const struct miss *key)
{
	pthread_mutex_lock(&names_lock);
	misses[nmisses++ % MISSES] = *key;
	pthread_mutex_unlock(&names_lock);
}

int vgpu_rdc_image(const void *image, size_t len, void **out, size_t *out_len, char *where, size_t where_cap)
{
	struct rdc_inputs in;
	struct miss key = { .len = len, .hash = vgpu_bytes_hash(image, len) };
	dl_iterate_phdr(count_object, &key.nobj);
	pthread_mutex_lock(&names_lock);
	for (unsigned i = 0; i < nmisses && i < MISSES; i++)
		if (misses[i].len == key.len && misses[i].hash == key.hash && misses[i].nobj == key.nobj) {
			pthread_mutex_unlock(&names_lock);
			return -ENOENT;
		}
	pthread_mutex_unlock(&names_lock);
	int rc = find_inputs(image, len, &in);
	if (rc == -ENOENT)
		miss_add(&key);
	if (rc < 0)
		return rc;
	CUresult lr = link_inputs(&in, out, out_len);
	if (lr == CUDA_ERROR_INVALID_PTX || lr == CUDA_ERROR_INVALID_IMAGE)
		miss_add(&key);   /* the same objects are refused the same way (not so a lack of memory) */
	rc = lr == CUDA_SUCCESS ? 0 : -EIO;
	if (!rc)
		snprintf(where, where_cap, "the PTX of the %zu relocatable objects it was linked from "
		         "(nvcc -rdc=true), found in %s", in.n, in.path);
	inputs_free(&in);
	return rc;
}
