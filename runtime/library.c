/* SPDX-License-Identifier: MIT */
/* library.c — cuLibrary* and cuKernel*: context-independent libraries as per-context modules (see library.h). */
#include "library.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custom_wire.h"
#include "drvtab.h"
#include "modimage.h"

#define MAGIC_LIB    0x4c494256u /* "LIBV" */
#define MAGIC_KERNEL 0x4b524e56u /* "KRNV" */

/* The library loaded as a module into one context. */
struct lib_module {
	unsigned long long ctx_key;
	CUmodule mod;
	struct lib_module *next;
};

struct lib {
	uint32_t magic;
	void *image;                 /* our copy, len bytes (+1 NUL for PTX text) */
	size_t len;
	struct lib_module *mods;
	struct kernel *kernels;
	/* the image's kernel names, sorted, listed at the first lookup (a library of thousands
	 * of kernels, cuDNN's, is asked for each: listing them every time, decompressing the
	 * image again, took minutes); names_state 0: not listed yet, 1: listed, -1: cannot be */
	char **names;
	size_t nnames;
	int names_state;
};

struct kernel {
	uint32_t magic;
	struct lib *lib;
	char *name;
	unsigned long long cache_key; /* context of cache_fn; 0: none */
	CUfunction cache_fn;
	struct kernel *next;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void lib_free_names(struct lib *l)
{
	for (size_t i = 0; i < l->nnames; i++)
		free(l->names[i]);
	free(l->names);
}

/*
 * Every live library and kernel, by address. A handle the application passes is looked up
 * here before it is dereferenced, so a stale or forged one is INVALID_HANDLE, never a crash.
 * Open addressing with linear probing; deleted slots hold TOMB.
 */
#define TOMB ((void *)1)
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void **set;
static size_t set_cap, set_used, set_live;
static unsigned n_libs;
static atomic_uint n_kernels; /* read without the lock on the launch path */

static size_t set_slot(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33;
	return (size_t)x & (set_cap - 1);
}

static int set_has(const void *p)
{
	if (!set_cap || !p || p == TOMB)
		return 0;
	for (size_t i = set_slot(p), n = 0; n < set_cap && set[i]; i = (i + 1) & (set_cap - 1), n++)
		if (set[i] == p)
			return 1;
	return 0;
}

static int set_add(void *p)
{
	if ((set_used + 1) * 2 > set_cap) {
		size_t ncap = set_cap ? set_cap : 64;
		while ((set_live + 1) * 4 > ncap) /* live entries fill at most a quarter */
			ncap *= 2;
		void **old = set, **nset = calloc(ncap, sizeof(*nset));
		size_t ocap = set_cap;
		if (!nset)
			return -ENOMEM;
		set = nset;
		set_cap = ncap;
		set_used = set_live = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i] && old[i] != TOMB)
				set_add(old[i]);
		free(old);
	}
	size_t i = set_slot(p);
	while (set[i] && set[i] != TOMB)
		i = (i + 1) & (set_cap - 1);
	if (!set[i])
		set_used++;
	set[i] = p;
	set_live++;
	return 0;
}

static void set_del(const void *p)
{
	for (size_t i = set_slot(p), n = 0; n < set_cap && set[i]; i = (i + 1) & (set_cap - 1), n++)
		if (set[i] == p) {
			set[i] = TOMB;
			set_live--;
			return;
		}
}

static struct lib *lib_get(CUlibrary h)
{
	struct lib *l = (struct lib *)h;
	return set_has(l) && l->magic == MAGIC_LIB ? l : NULL;
}

static struct kernel *kernel_get(const void *h)
{
	struct kernel *k = (struct kernel *)h;
	return set_has(k) && k->magic == MAGIC_KERNEL ? k : NULL;
}

/* The library's module in the current context, loading it there first if needed. Under lock. */
static CUresult lib_module(struct lib *l, CUmodule *mod /* out */, unsigned long long *key /* out */)
{
	unsigned long long k;
	CUresult r = vgpu_drv.ctx_key(NULL, &k);

	if (r != CUDA_SUCCESS)
		return r;
	for (struct lib_module *m = l->mods; m; m = m->next)
		if (m->ctx_key == k) {
			*mod = m->mod;
			if (key)
				*key = k;
			return CUDA_SUCCESS;
		}
	struct lib_module *m = calloc(1, sizeof(*m));
	if (!m)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = vgpu_drv.module_load_data(&m->mod, l->image);
	if (r != CUDA_SUCCESS) {
		free(m);
		return r;
	}
	m->ctx_key = k;
	m->next = l->mods;
	l->mods = m;
	*mod = m->mod;
	if (key)
		*key = k;
	return CUDA_SUCCESS;
}

/* The kernel's function in the current context. Under lock. */
static CUresult kernel_function(struct kernel *k, CUfunction *f /* out */)
{
	unsigned long long key;
	CUmodule mod;
	CUresult r = lib_module(k->lib, &mod, &key);

	if (r != CUDA_SUCCESS)
		return r;
	if (k->cache_key != key) {
		r = vgpu_drv.module_get_function(&k->cache_fn, mod, k->name);
		if (r != CUDA_SUCCESS)
			return r;
		k->cache_key = key;
	}
	*f = k->cache_fn;
	return CUDA_SUCCESS;
}

CUresult vgpu_library_resolve(CUfunction *f)
{
	CUresult r = CUDA_SUCCESS;

	if (!atomic_load_explicit(&n_kernels, memory_order_relaxed))
		return CUDA_SUCCESS; /* no kernel exists: f cannot be one */
	pthread_mutex_lock(&lock);
	struct kernel *k = kernel_get(*f);
	if (k)
		r = kernel_function(k, f);
	pthread_mutex_unlock(&lock);
	return r;
}

/*
 * The CUkernel whose function in the current context is f, or NULL. Graph nodes keep the
 * function a CUkernel launched; the runtime finds its own kernel again from the node's
 * `kern`, so a node's parameters read back name the kernel too. Rare (per node read), so a
 * scan: the kernels of f's name whose library is loaded in this context.
 */
CUkernel vgpu_library_kernel_of(CUfunction f)
{
	const char *name = NULL;
	unsigned long long key;
	CUkernel found = NULL;

	if (!f || !atomic_load_explicit(&n_kernels, memory_order_relaxed) ||
	    vgpu_drv.func_get_name(&name, f) != CUDA_SUCCESS || !name || vgpu_drv.ctx_key(NULL, &key) != CUDA_SUCCESS)
		return NULL;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < set_cap && !found; i++) {
		struct kernel *k = set[i] && set[i] != TOMB ? kernel_get(set[i]) : NULL;
		if (!k || strcmp(k->name, name))
			continue;
		if (k->cache_key == key && k->cache_fn == f) {
			found = (CUkernel)k;
			break;
		}
		for (struct lib_module *m = k->lib->mods; m; m = m->next) {
			CUfunction g = NULL;
			if (m->ctx_key == key && vgpu_drv.module_get_function(&g, m->mod, k->name) == CUDA_SUCCESS &&
			    g == f)
				found = (CUkernel)k;
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

void vgpu_library_counts(unsigned *libraries, unsigned *kernels)
{
	pthread_mutex_lock(&lock);
	*libraries = n_libs;
	*kernels = atomic_load(&n_kernels);
	pthread_mutex_unlock(&lock);
}

/* CUDA_MODULE_LOADING=EAGER loads at cuLibraryLoadData; LAZY (the default) at first use. */
static int eager_loading(CUlibraryOption *opts, void **vals, unsigned n)
{
	const char *e = getenv("CUDA_MODULE_LOADING");

	for (unsigned i = 0; opts && i < n; i++)
		if (opts[i] == CU_LIBRARY_HOST_UNIVERSAL_FUNCTION_AND_DATA_TABLE && vals && vals[i])
			return -1;
	return e && !strcmp(e, "EAGER");
}

CUresult CUDAAPI cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
				   void **jitOptionsValues, unsigned int numJitOptions,
				   CUlibraryOption *libraryOptions, void **libraryOptionValues,
				   unsigned int numLibraryOptions)
{
	const void *img;
	size_t len;
	int eager;

	/* JIT options tune the driver's compiler and may point at the caller's buffers: not used. */
	(void)jitOptions;
	(void)jitOptionsValues;
	(void)numJitOptions;
	if (!library || !code)
		return CUDA_ERROR_INVALID_VALUE;
	*library = NULL;
	eager = eager_loading(libraryOptions, libraryOptionValues, numLibraryOptions);
	if (eager < 0) {
		vgpu_drv.log("cuLibraryLoadData: a host table of universal functions is not supported");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	img = vgpu_modimage_unwrap(code);
	if (vgpu_modimage_size(img, VGPU_MODULE_IMAGE_MAX, &len) < 0) {
		vgpu_drv.log("cuLibraryLoadData: not a PTX, cubin or fatbin image (or longer than %llu bytes)",
			     VGPU_MODULE_IMAGE_MAX);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	struct lib *l = calloc(1, sizeof(*l));
	if (!l || !(l->image = calloc(1, len + 1))) {
		free(l);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	memcpy(l->image, img, len);
	l->len = len;
	l->magic = MAGIC_LIB;
	pthread_mutex_lock(&lock);
	if (set_add(l) < 0) {
		pthread_mutex_unlock(&lock);
		free(l->image);
		free(l);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	n_libs++;
	if (eager) {
		CUmodule mod;
		CUresult r = lib_module(l, &mod, NULL);
		if (r != CUDA_SUCCESS && r != CUDA_ERROR_INVALID_CONTEXT) {
			set_del(l);
			n_libs--;
			pthread_mutex_unlock(&lock);
			free(l->image);
			free(l);
			return r;
		}
	}
	pthread_mutex_unlock(&lock);
	*library = (CUlibrary)l;
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLibraryLoadFromFile(CUlibrary *library, const char *fileName, CUjit_option *jitOptions,
				       void **jitOptionsValues, unsigned int numJitOptions,
				       CUlibraryOption *libraryOptions, void **libraryOptionValues,
				       unsigned int numLibraryOptions)
{
	CUresult r = CUDA_ERROR_FILE_NOT_FOUND;
	char *buf = NULL;
	long n;
	FILE *f;

	if (!library || !fileName)
		return CUDA_ERROR_INVALID_VALUE;
	f = fopen(fileName, "rb");
	if (!f) {
		vgpu_drv.log("cuLibraryLoadFromFile: cannot open %s", fileName);
		return CUDA_ERROR_FILE_NOT_FOUND;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && (unsigned long long)n <= VGPU_MODULE_IMAGE_MAX &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n)
		r = cuLibraryLoadData(library, buf, jitOptions, jitOptionsValues, numJitOptions,
				      libraryOptions, libraryOptionValues, numLibraryOptions);
	else if (!buf)
		r = CUDA_ERROR_OUT_OF_MEMORY;
	fclose(f);
	free(buf);
	return r;
}

CUresult CUDAAPI cuLibraryUnload(CUlibrary library)
{
	pthread_mutex_lock(&lock);
	struct lib *l = lib_get(library);
	if (!l) {
		pthread_mutex_unlock(&lock);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	set_del(l);
	n_libs--;
	for (struct kernel *k = l->kernels, *next; k; k = next) {
		next = k->next;
		set_del(k);
		atomic_fetch_sub(&n_kernels, 1);
		k->magic = 0;
		free(k->name);
		free(k);
	}
	l->magic = 0;
	pthread_mutex_unlock(&lock);
	for (struct lib_module *m = l->mods, *next; m; m = next) {
		next = m->next;
		/* a module of a context destroyed since went with it */
		if (vgpu_drv.module_alive(m->mod, m->ctx_key))
			vgpu_drv.module_unload(m->mod);
		free(m);
	}
	lib_free_names(l);
	free(l->image);
	free(l);
	return CUDA_SUCCESS;
}

/* A new kernel object for name in l (its function is looked up on first use). Under lock. */
static CUresult kernel_new(struct lib *l, const char *name, CUkernel *out)
{
	for (struct kernel *k = l->kernels; k; k = k->next)
		if (!strcmp(k->name, name)) {
			*out = (CUkernel)k;
			return CUDA_SUCCESS;
		}
	struct kernel *k = calloc(1, sizeof(*k));
	if (!k || !(k->name = strdup(name)) || set_add(k) < 0) {
		if (k)
			free(k->name);
		free(k);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	k->magic = MAGIC_KERNEL;
	k->lib = l;
	k->next = l->kernels;
	l->kernels = k;
	atomic_fetch_add(&n_kernels, 1);
	*out = (CUkernel)k;
	return CUDA_SUCCESS;
}

/* 1 when the image names kernel `name`, 0 when it does not, -1 when its kernels cannot be
 * listed. The caller holds lock. */
static int image_has_kernel(struct lib *l, const char *name)
{
	if (l->names_state == 0) {
		struct vgpu_kernel_info *k = NULL;
		size_t n = 0;
		if (vgpu_modimage_kernels(l->image, l->len, &k, &n) < 0) {
			l->names_state = -1;
			return -1;
		}
		/* the names move from the layouts into the list (out of memory: asked again next time) */
		char **v = n ? calloc(n, sizeof(*v)) : NULL;
		if (n && !v) {
			vgpu_modimage_free_kernels(k, n);
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			v[i] = k[i].name;
			k[i].name = NULL;
		}
		vgpu_modimage_free_kernels(k, n);
		if (n)   /* v is NULL then, and qsort's and bsearch's arrays must not be */
			qsort(v, n, sizeof(*v), name_cmp);
		l->names = v;
		l->nnames = n;
		l->names_state = 1;
	}
	if (l->names_state < 0)
		return -1;
	return l->nnames && bsearch(&name, l->names, l->nnames, sizeof(*l->names), name_cmp) != NULL;
}

/*
 * cudart asks for its kernels before it makes a context current, so the name is checked in
 * the image itself; only an image whose kernels cannot be listed (a SASS-only cubin without
 * parameter records) is checked by loading it into the current context.
 */
CUresult CUDAAPI cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name)
{
	CUfunction f;
	CUmodule mod;
	CUresult r = CUDA_SUCCESS;

	if (!pKernel || !name)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	struct lib *l = lib_get(library);
	if (!l) {
		pthread_mutex_unlock(&lock);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	switch (image_has_kernel(l, name)) {
	case 0:
		r = CUDA_ERROR_NOT_FOUND;
		break;
	case 1:
		break;
	default:
		r = lib_module(l, &mod, NULL);
		if (r == CUDA_SUCCESS)
			r = vgpu_drv.module_get_function(&f, mod, name);
		break;
	}
	if (r == CUDA_SUCCESS)
		r = kernel_new(l, name, pKernel);
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuLibraryGetModule(CUmodule *pMod, CUlibrary library)
{
	CUresult r;

	if (!pMod)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	struct lib *l = lib_get(library);
	r = l ? lib_module(l, pMod, NULL) : CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuLibraryGetKernelCount(unsigned int *count, CUlibrary lib)
{
	CUmodule mod;
	CUresult r;

	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	struct lib *l = lib_get(lib);
	r = l ? lib_module(l, &mod, NULL) : CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS)
		r = vgpu_drv.module_get_function_count(count, mod);
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuLibraryEnumerateKernels(CUkernel *kernels, unsigned int numKernels, CUlibrary lib)
{
	CUfunction *fns = NULL;
	unsigned int have = 0;
	CUmodule mod;
	CUresult r;

	if (!kernels || !numKernels)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	struct lib *l = lib_get(lib);
	r = l ? lib_module(l, &mod, NULL) : CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS)
		r = vgpu_drv.module_get_function_count(&have, mod);
	if (r == CUDA_SUCCESS && numKernels > have)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && !(fns = calloc(numKernels, sizeof(*fns))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS)
		r = vgpu_drv.module_enumerate_functions(fns, numKernels, mod);
	for (unsigned i = 0; r == CUDA_SUCCESS && i < numKernels; i++) {
		const char *name = NULL;
		r = vgpu_drv.func_get_name(&name, fns[i]);
		if (r == CUDA_SUCCESS)
			r = name ? kernel_new(l, name, &kernels[i]) : CUDA_ERROR_NOT_FOUND;
	}
	pthread_mutex_unlock(&lock);
	free(fns);
	return r;
}

CUresult CUDAAPI cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
	CUmodule mod;
	CUresult r;

	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	struct lib *l = lib_get(library);
	r = l ? lib_module(l, &mod, NULL) : CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS)
		r = vgpu_drv.module_get_global(dptr, bytes, mod, name);
	pthread_mutex_unlock(&lock);
	return r;
}

/*
 * A __managed__ variable: cudart asks for each one it registered as soon as it has loaded
 * the library, before any context exists, and the program's host code then uses the address
 * as the variable itself. A driver keeps such variables with the library; here they are the
 * variables of the library's module in the calling thread's context or, when none is
 * current, in device 0's primary context, retained for the rest of the process (kernels
 * that cudart launches there use the same module). Kernels in another device's context use
 * their own module's copy.
 */
CUresult CUDAAPI cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes, CUlibrary library, const char *name)
{
	static CUcontext primary;
	CUcontext cur = NULL, popped;
	CUmodule mod;
	CUresult r;
	int pushed = 0;

	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	struct lib *l = lib_get(library);
	r = l ? vgpu_drv.ctx_get_current(&cur) : CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS && !cur) {
		if (!primary)
			r = vgpu_drv.primary_ctx_retain(&primary, 0);
		if (r == CUDA_SUCCESS)
			r = vgpu_drv.ctx_push_current(primary);
		pushed = r == CUDA_SUCCESS;
	}
	if (r == CUDA_SUCCESS)
		r = lib_module(l, &mod, NULL);
	if (r == CUDA_SUCCESS)
		r = vgpu_drv.module_get_managed(dptr, bytes, mod, name);
	if (pushed)
		(void)vgpu_drv.ctx_pop_current(&popped);
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
	CUresult r;

	if (!pFunc)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	struct kernel *k = kernel_get(kernel);
	r = k ? kernel_function(k, pFunc) : CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuKernelGetLibrary(CUlibrary *pLib, CUkernel kernel)
{
	CUresult r = CUDA_ERROR_INVALID_HANDLE;

	if (!pLib)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	struct kernel *k = kernel_get(kernel);
	if (k) {
		*pLib = (CUlibrary)k->lib;
		r = CUDA_SUCCESS;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuKernelGetName(const char **name, CUkernel hfunc)
{
	CUresult r = CUDA_ERROR_INVALID_HANDLE;

	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&lock);
	struct kernel *k = kernel_get(hfunc);
	if (k) {
		*name = k->name;
		r = CUDA_SUCCESS;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

/*
 * The per-device kernel calls act on the kernel's function in the current context, which
 * must be on dev (cudart makes the device's primary context current first).
 */
static CUresult kernel_function_on(CUkernel kernel, CUdevice dev, CUfunction *f)
{
	CUresult r;

	(void)dev;
	pthread_mutex_lock(&lock);
	struct kernel *k = kernel_get(kernel);
	r = k ? kernel_function(k, f) : CUDA_ERROR_INVALID_HANDLE;
	pthread_mutex_unlock(&lock);
	return r;
}

CUresult CUDAAPI cuKernelGetAttribute(int *pi, CUfunction_attribute attrib, CUkernel kernel, CUdevice dev)
{
	CUfunction f;
	CUresult r = kernel_function_on(kernel, dev, &f);

	return r == CUDA_SUCCESS ? vgpu_drv.func_get_attribute(pi, attrib, f) : r;
}

CUresult CUDAAPI cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel kernel, CUdevice dev)
{
	CUfunction f;
	CUresult r = kernel_function_on(kernel, dev, &f);

	return r == CUDA_SUCCESS ? vgpu_drv.func_set_attribute(f, attrib, val) : r;
}

CUresult CUDAAPI cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config, CUdevice dev)
{
	CUfunction f;
	CUresult r = kernel_function_on(kernel, dev, &f);

	return r == CUDA_SUCCESS ? vgpu_drv.func_set_cache_config(f, config) : r;
}

CUresult CUDAAPI cuKernelGetParamInfo(CUkernel kernel, size_t paramIndex, size_t *paramOffset, size_t *paramSize)
{
	CUfunction f;
	CUresult r = kernel_function_on(kernel, 0, &f);

	return r == CUDA_SUCCESS ? vgpu_drv.func_get_param_info(f, paramIndex, paramOffset, paramSize) : r;
}
