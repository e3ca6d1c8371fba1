/* SPDX-License-Identifier: MIT */
/* Driver API entry points for modules, functions, occupancy and kernel launches: images are
 * reduced to PTX by runtime/modimage.c, parsed once, their variables placed in device memory;
 * launches copy the parameters and queue the grid on a stream. */
#include "sim.h"
#include "hash.h"
#include "library.h"
#include "modimage.h"
#include "rdc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define SM_COUNT SIM_SM_COUNT
#define SHARED_DEFAULT 49152

#define CUR_CTX(c) \
	CUresult rc_; \
	struct sim_ctx *c = sim_ctx_current(&rc_); \
	if (!c) \
		return rc_; \
	if (c->sticky) \
		return c->sticky

void sim_module_destroy(struct sim_module *m)
{
	struct sim_func *f = m->funcs;
	while (f) {
		struct sim_func *n = f->next;
		f->magic = 0;
		sim_shell_free(SHELL_FUNC, f);
		f = n;
	}
	for (uint32_t i = 0; m->pm && i < m->pm->nvars; i++)
		if (m->pm->vars[i].addr && !m->pm->vars[i].placed)
			sim_mem_free(m->pm->vars[i].addr, ALLOC_DEVICE);
	ptx_module_free(m->pm);
	m->magic = 0;
	sim_shell_free(SHELL_MODULE, m);
}

void sim_modules_destroy_ctx(struct sim_ctx *c)
{
	pthread_mutex_lock(&g_lock);
	struct sim_module *m = c->modules;
	c->modules = NULL;
	pthread_mutex_unlock(&g_lock);
	while (m) {
		struct sim_module *n = m->next;
		sim_module_destroy(m);
		m = n;
	}
}

/*
 * VGPU_SIM_PTX_CACHE=N keeps the parsed form of the last N PTX texts loaded (at most 64, each
 * text at most 16 MiB), as a driver keeps the code it compiled: a load of the same text again
 * takes a copy of it instead of parsing (ptx_module_clone: what a load changes is the copy's
 * own). The fuzz harness sets it: the seeds that load modules made every input parse the
 * same text, 11 % of a campaign's time. Unset, or 0: every load parses.
 */
#define PCACHE_MAX 64
#define PCACHE_TEXT_MAX (16u << 20)
static struct pcache {
	uint64_t hash, used;
	size_t len;
	char *text;
	struct ptx_module *pm;
} pcache[PCACHE_MAX];
static int pcache_n = -1;   /* entries in use (-1: VGPU_SIM_PTX_CACHE not read yet) */
static uint64_t pcache_tick, pcache_hits;
static pthread_mutex_t pcache_lock = PTHREAD_MUTEX_INITIALIZER;

static int pcache_size(void)
{
	if (pcache_n < 0) {
		const char *e = getenv("VGPU_SIM_PTX_CACHE");
		long n = e ? strtol(e, NULL, 10) : 0;
		pcache_n = n < 0 ? 0 : n > PCACHE_MAX ? PCACHE_MAX : (int)n;
	}
	return pcache_n;
}

/* A copy of the parsed text, or NULL when it is not cached (or memory is short); *h: the
 * text's hash, for pcache_put after a miss (0 when the text is not to be cached). */
static struct ptx_module *pcache_get(const char *text, size_t len, uint64_t *hash)
{
	struct ptx_module *pm = NULL;
	*hash = 0;
	pthread_mutex_lock(&pcache_lock);
	if (pcache_size() && len <= PCACHE_TEXT_MAX) {
		uint64_t h = *hash = vgpu_bytes_hash(text, len);
		for (int i = 0; i < pcache_n; i++)
			if (pcache[i].pm && pcache[i].hash == h && pcache[i].len == len &&
			    !memcmp(pcache[i].text, text, len)) {
				pcache[i].used = ++pcache_tick;
				pm = ptx_module_clone(pcache[i].pm);
				pcache_hits += pm != NULL;
				break;
			}
	}
	pthread_mutex_unlock(&pcache_lock);
	return pm;
}

/* Loads that took a cached parse (a test hook). */
SIM_EXPORT uint64_t vgpu_sim_ptx_cache_hits(void)
{
	pthread_mutex_lock(&pcache_lock);
	uint64_t n = pcache_hits;
	pthread_mutex_unlock(&pcache_lock);
	return n;
}

/* Keeps a copy of pm, parsed from text (hash from pcache_get), in place of the least
 * recently used entry. */
static void pcache_put(const char *text, size_t len, uint64_t hash, const struct ptx_module *pm)
{
	if (!hash)
		return;
	char *t = malloc(len);
	struct ptx_module *c = t ? ptx_module_clone(pm) : NULL;
	if (!c) {
		free(t);
		return;
	}
	memcpy(t, text, len);
	pthread_mutex_lock(&pcache_lock);
	int v = 0;
	for (int i = 1; i < pcache_n; i++)
		if (pcache[i].used < pcache[v].used)
			v = i;
	struct pcache old = pcache[v];
	pcache[v] = (struct pcache){ hash, ++pcache_tick, len, t, c };
	pthread_mutex_unlock(&pcache_lock);
	free(old.text);
	ptx_module_free(old.pm);
}

static CUresult load(CUmodule *out, const void *image, size_t max, unsigned nopt,
                     CUjit_option *opts, void **vals)
{
	CUR_CTX(c);
	if (!out || !image)
		return CUDA_ERROR_INVALID_VALUE;
	/* in-process caller: its own wrapper struct may be followed (vgpu-proxy never passes
	 * one, vgpu_modimage_size rejects them on received bytes) */
	image = vgpu_modimage_unwrap(image);
	char msg[512];
	size_t len;
	int kind = vgpu_modimage_size(image, max, &len);
	if (kind < 0) {
		snprintf(msg, sizeof(msg), "module image is not PTX text, a cubin or a fatbin, or is "
		         "truncated/malformed");
		sim_log("cuModuleLoadData: %s", msg);
		sim_set_error("%s", msg);
		vgpu_jit_write_logs(nopt, opts, vals, msg);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	char *ptx = NULL;
	int rc = vgpu_modimage_ptx(image, max, &ptx);
	/* nvcc -rdc=true: the device-linked image is SASS; its objects' PTX, linked, runs
	 * (VGPU_SIM_RDC=0: not looked for; vgpu-proxy sets it) */
	const char *rdc_env;
	char where[PATH_MAX + 128];
	size_t ln;
	if (rc == -ENOEXEC && !((rdc_env = getenv("VGPU_SIM_RDC")) && !strcmp(rdc_env, "0")) &&
	    vgpu_rdc_image(image, len, (void **)&ptx, &ln, where, sizeof(where)) == 0) {
		sim_log("cuModuleLoadData: the module holds only SASS; running %s", where);
		rc = 0;
	}
	if (rc) {
		if (rc == -ENOEXEC) {
			/* name what was refused: a library's log then says which of its kernels */
			struct vgpu_kernel_info *ki = NULL;
			size_t nk = 0;
			char kn[160] = "";
			if (vgpu_modimage_kernels(image, len, &ki, &nk) == 0 && nk)
				snprintf(kn, sizeof(kn), " (kernel %.100s%s)", ki[0].name,
				         nk > 1 ? " and others" : "");
			vgpu_modimage_free_kernels(ki, nk);
			snprintf(msg, sizeof(msg), "module holds only SASS for real GPUs and no PTX%s; the "
			         "simulator needs PTX: rebuild with PTX included (e.g. nvcc "
			         "-gencode arch=compute_75,code=compute_75)%s", kn,
			         g_cc.major < 13 ? "; a CUDA library's kernel: VGPU_SIM_CC=13.0, a device "
			         "newer than the library knows, on which it takes the kernels it ships "
			         "as PTX" : "");
		}
		else
			snprintf(msg, sizeof(msg), "cannot extract PTX from the module image (%s)",
			         rc == -ENOMEM ? "out of memory" : "malformed or truncated fatbin entry");
		sim_log("cuModuleLoadData: %s", msg);
		sim_set_error("%s", msg);
		vgpu_jit_write_logs(nopt, opts, vals, msg);
		return rc == -ENOEXEC ? CUDA_ERROR_NO_BINARY_FOR_GPU :
		       rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_IMAGE;
	}
	size_t plen = strlen(ptx);
	struct ptx_module *pm = sim_link_parsed_take(ptx, plen);   /* a linked image, parsed */
	uint64_t phash = 0;
	if (!pm)
		pm = pcache_get(ptx, plen, &phash);
	char err[400];
	if (!pm && !(rc = ptx_module_parse(ptx, &pm, err, sizeof(err))))
		pcache_put(ptx, plen, phash, pm);
	free(ptx);
	if (rc) {
		snprintf(msg, sizeof(msg), "PTX rejected: %s", err);
		sim_log("cuModuleLoadData: %s", msg);
		sim_set_error("%s", msg);
		vgpu_jit_write_logs(nopt, opts, vals, msg);
		return rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_PTX;
	}
	struct sim_module *m = sim_shell_alloc(SHELL_MODULE, sizeof(*m));
	if (!m) {
		ptx_module_free(pm);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	m->magic = MAGIC_MODULE;
	m->ctx = sim_ctx_res(c);   /* a green context loads into its primary context */
	m->pm = pm;
	for (uint32_t i = 0; i < pm->nvars; i++) {
		struct ptx_var *v = &pm->vars[i];
		uint64_t p;
		if (sim_mem_alloc(c, c->dev, v->size, &p)) {
			sim_module_destroy(m);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		v->addr = p;
		if (v->managed)
			(void)sim_mem_set_flags(p, SIM_ALLOC_F_MANAGED_VAR);
		if (v->init)
			memcpy((void *)(uintptr_t)p, v->init, v->size);
		else
			memset((void *)(uintptr_t)p, 0, v->size);
	}
	ptx_module_bind(pm);
	pthread_mutex_lock(&g_lock);
	m->next = m->ctx->modules;
	m->ctx->modules = m;
	pthread_mutex_unlock(&g_lock);
	*out = (CUmodule)m;
	vgpu_jit_write_logs(nopt, opts, vals, NULL);
	return CUDA_SUCCESS;
}

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
	return load(module, image, SIZE_MAX >> 1, 0, NULL, NULL);
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int n,
                            CUjit_option *options, void **values)
{
	return load(module, image, SIZE_MAX >> 1, n, options, values);
}

CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin)
{
	return load(module, fatCubin, SIZE_MAX >> 1, 0, NULL, NULL);
}

CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
	if (!fname || !module)
		return CUDA_ERROR_INVALID_VALUE;
	FILE *f = fopen(fname, "rb");
	if (!f) {
		sim_log("cuModuleLoad: cannot open '%s'", fname);
		return CUDA_ERROR_FILE_NOT_FOUND;
	}
	size_t n = 0;
	char *buf = vgpu_read_file(f, 256u << 20, &n);
	fclose(f);
	if (!buf)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult rc = load(module, buf, n + 1, 0, NULL, NULL);
	free(buf);
	return rc;
}

static struct sim_module *mod_get(CUmodule h, CUresult *rc)
{
	struct sim_module *m = (struct sim_module *)h;
	if (!m || m->magic != MAGIC_MODULE) {
		*rc = CUDA_ERROR_INVALID_HANDLE;
		return NULL;
	}
	return m;
}

/* The module names its context: any context, or none, may be current. */
CUresult cuModuleUnload(CUmodule hmod)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_module *m = mod_get(hmod, &rc);
	if (!m)
		return rc;
	struct sim_ctx *mc = m->ctx;
	sim_ctx_sync(mc);
	pthread_mutex_lock(&g_lock);
	struct sim_module **pp = &mc->modules;
	while (*pp && *pp != m)
		pp = &(*pp)->next;
	if (*pp)
		*pp = m->next;
	pthread_mutex_unlock(&g_lock);
	sim_module_destroy(m);
	return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_module *m = mod_get(hmod, &rc);
	if (!m)
		return rc;
	if (!hfunc || !name)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&g_lock);
	for (struct sim_func *f = m->funcs; f; f = f->next)
		if (!strcmp(f->fn->name, name)) {
			*hfunc = (CUfunction)f;
			pthread_mutex_unlock(&g_lock);
			return CUDA_SUCCESS;
		}
	const struct ptx_func *pf = ptx_module_entry(m->pm, name);
	if (!pf) {
		pthread_mutex_unlock(&g_lock);
		return CUDA_ERROR_NOT_FOUND;
	}
	struct sim_func *f = sim_shell_alloc(SHELL_FUNC, sizeof(*f));
	if (!f) {
		pthread_mutex_unlock(&g_lock);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	f->magic = MAGIC_FUNC;
	f->mod = m;
	f->fn = pf;
	f->max_dyn_shared = SHARED_DEFAULT - (int)pf->shared_static;
	if (f->max_dyn_shared < 0)
		f->max_dyn_shared = 0;
	f->carveout = -1;
	f->next = m->funcs;
	m->funcs = f;
	*hfunc = (CUfunction)f;
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

/* Global `name` of module hmod (*mod set too), or NULL with *rc saying why. */
static struct ptx_var *global_get(CUmodule hmod, const char *name, struct sim_module **mod, CUresult *rc)
{
	if (!g_inited) {
		*rc = CUDA_ERROR_NOT_INITIALIZED;
		return NULL;
	}
	struct sim_module *m = mod_get(hmod, rc);
	if (!m)
		return NULL;
	*rc = name ? CUDA_ERROR_NOT_FOUND : CUDA_ERROR_INVALID_VALUE;
	for (uint32_t i = 0; name && i < m->pm->nvars; i++)
		if (!strcmp(m->pm->vars[i].name, name)) {
			*mod = m;
			return &m->pm->vars[i];
		}
	return NULL;
}

CUresult cuModuleGetGlobal(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name)
{
	CUresult rc;
	struct sim_module *m;
	struct ptx_var *v = global_get(hmod, name, &m, &rc);
	if (!v)
		return rc;
	if (dptr)
		*dptr = v->addr;
	if (bytes)
		*bytes = v->size;
	return CUDA_SUCCESS;
}

/*
 * The library API's cuLibraryGetManaged over a module (runtime/library.c): a __managed__
 * variable's address, which the host uses as it is (the simulator's device memory is the
 * process's own). CUDA_ERROR_INVALID_VALUE for a variable that is not managed.
 */
CUresult vgpu_sim_module_get_managed(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name)
{
	CUresult rc;
	struct sim_module *m;
	struct ptx_var *v = global_get(hmod, name, &m, &rc);
	if (!v)
		return rc;
	return v->managed ? cuModuleGetGlobal(dptr, bytes, hmod, name) : CUDA_ERROR_INVALID_VALUE;
}

/*
 * Not a driver entry point: the simulator's own, for vgpu-proxy's restore of a checkpoint
 * (proxy/ckpt.c), where a global must keep the address the program was given before. Makes
 * global `name` of the module live at [addr, addr + size), device memory of the module's
 * device that the caller allocated (and filled), instead of the storage the load gave it,
 * which is freed; kernels of the module use the new address from their next launch, and
 * cuModuleGetGlobal returns it. The caller keeps owning that memory: unloading the module
 * does not free it. A GPU driver has nothing like it (a module's globals are where the load
 * put them), so the proxy carries globals in checkpoints only on the simulator.
 */
CUresult vgpu_sim_module_place_global(CUmodule hmod, const char *name, CUdeviceptr addr, size_t size)
{
	CUresult rc;
	struct sim_module *m;
	struct sim_alloc a;
	struct ptx_var *v = global_get(hmod, name, &m, &rc);

	if (!v)
		return rc;
	if (v->size != size || sim_mem_find(addr, size, &a) || (a.kind != ALLOC_DEVICE && a.kind != ALLOC_VMM) ||
	    a.dev != m->ctx->dev)
		return CUDA_ERROR_INVALID_VALUE;
	if (v->addr == addr)
		return CUDA_SUCCESS;
	if (!v->placed)
		sim_mem_free(v->addr, ALLOC_DEVICE);
	v->addr = addr;
	v->placed = 1;
	pthread_mutex_lock(&g_lock);
	ptx_module_bind(m->pm);
	pthread_mutex_unlock(&g_lock);
	return CUDA_SUCCESS;
}

/*
 * Not a driver entry point either: global i of the module (0, 1, ... until NOT_FOUND), so
 * that a checkpoint carries every global's contents, not only those the program asked for.
 */
CUresult vgpu_sim_module_global_at(CUmodule hmod, unsigned i, const char **name, CUdeviceptr *addr, size_t *size)
{
	CUresult rc;

	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_module *m = mod_get(hmod, &rc);
	if (!m)
		return rc;
	if (!name || !addr || !size)
		return CUDA_ERROR_INVALID_VALUE;
	if (i >= m->pm->nvars)
		return CUDA_ERROR_NOT_FOUND;
	*name = m->pm->vars[i].name;
	*addr = m->pm->vars[i].addr;
	*size = m->pm->vars[i].size;
	return CUDA_SUCCESS;
}

static struct sim_func *func_get(CUfunction h, CUresult *rc)
{
	/* a CUkernel stands for its function in the current context (runtime/library.c) */
	if ((*rc = vgpu_library_resolve(&h)) != CUDA_SUCCESS)
		return NULL;
	struct sim_func *f = (struct sim_func *)h;
	if (!f || f->magic != MAGIC_FUNC) {
		*rc = CUDA_ERROR_INVALID_HANDLE;
		return NULL;
	}
	return f;
}

static int max_threads(const struct sim_func *f)
{
	return f->fn->max_ntid ? (int)f->fn->max_ntid : 1024;
}

/* The cluster shape every launch of f has: its PTX's .reqnctapercluster, else one set with
 * cuFuncSetAttribute; NULL when neither. */
static const unsigned *required_cluster(const struct sim_func *f)
{
	if (f->fn->req_cluster[0])
		return f->fn->req_cluster;
	return f->req_cluster[0] && f->req_cluster[1] && f->req_cluster[2] ? f->req_cluster : NULL;
}

static unsigned cluster_max(const struct sim_func *f)
{
	return f->nonportable_cluster ? 16 : 8;
}

/* A launch of f over grid g with the cluster shape the launch names (NULL: none) against
 * the shape f requires: the same one or none (then f's), and a grid of whole clusters; a
 * function that must be launched in clusters gets a shape. */
static CUresult cluster_launch_check(const struct sim_func *f, const unsigned g[3], const unsigned *given)
{
	const unsigned *rq = required_cluster(f);
	if (rq) {
		if (given && (given[0] != rq[0] || given[1] != rq[1] || given[2] != rq[2]))
			return CUDA_ERROR_INVALID_CLUSTER_SIZE;
		if (g[0] % rq[0] || g[1] % rq[1] || g[2] % rq[2])
			return CUDA_ERROR_INVALID_CLUSTER_SIZE;
		return CUDA_SUCCESS;
	}
	if (f->fn->explicit_cluster && !given)
		return CUDA_ERROR_INVALID_CLUSTER_SIZE;
	return CUDA_SUCCESS;
}

CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_func *f = func_get(hfunc, &rc);
	if (!f)
		return rc;
	if (!pi)
		return CUDA_ERROR_INVALID_VALUE;
	switch (attrib) {
	case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = max_threads(f); break;
	case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = (int)f->fn->shared_static; break;
	case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = 0; break;
	case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = (int)f->fn->local_size; break;
	case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = f->fn->nslots > 255 ? 255 : (int)f->fn->nslots; break;
	/* the PTX's own target, as the driver reports a kernel it compiled from PTX (cuSPARSE
	 * picks its launch shapes by it: with 75 for its compute_120 PTX it launched kernels
	 * laid out for 128 threads with 32, and double-precision SpMV added a quarter of the
	 * rows); the binary is the simulated device's */
	case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = f->mod->pm->target ? (int)f->mod->pm->target : 75; break;
	case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 75; break;
	case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *pi = 0; break;
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = f->max_dyn_shared; break;
	case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = f->carveout; break;
	/* thread-block clusters: what the PTX declares, else what was set (nothing before 9.0) */
	case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET: *pi = f->fn->explicit_cluster; break;
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: {
		const unsigned *rq = required_cluster(f);
		*pi = rq ? (int)rq[attrib - CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH] : 0;
		break;
	}
	case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED: *pi = f->nonportable_cluster; break;
	case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: *pi = f->cluster_policy; break;
	default: return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_func *f = func_get(hfunc, &rc);
	if (!f)
		return rc;
	switch (attrib) {
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
		if (value < 0 || value + (int)f->fn->shared_static > g_cc.shared_optin)
			return CUDA_ERROR_INVALID_VALUE;
		f->max_dyn_shared = value;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
		if (value < -1 || value > 100)
			return CUDA_ERROR_INVALID_VALUE;
		f->carveout = value;
		return CUDA_SUCCESS;
	/* clusters, from capability 9.0 (cuBLAS sets these on its first kernel as it starts
	 * there); a shape the PTX fixed cannot be changed */
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
		if (g_cc.major < 9)
			return CUDA_ERROR_INVALID_VALUE;
		if (f->fn->req_cluster[0])
			return CUDA_ERROR_NOT_PERMITTED;
		if (value < 0 || value > 16)
			return CUDA_ERROR_INVALID_VALUE;
		f->req_cluster[attrib - CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH] = (unsigned)value;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
		if (g_cc.major < 9 || value < 0 || value > 1)
			return CUDA_ERROR_INVALID_VALUE;
		f->nonportable_cluster = value;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
		if (g_cc.major < 9 || value < CU_CLUSTER_SCHEDULING_POLICY_DEFAULT ||
		    value > CU_CLUSTER_SCHEDULING_POLICY_LOAD_BALANCING)
			return CUDA_ERROR_INVALID_VALUE;
		f->cluster_policy = value;
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_func *f = func_get(hfunc, &rc);
	if (!f)
		return rc;
	if ((unsigned)config > CU_FUNC_CACHE_PREFER_EQUAL)
		return CUDA_ERROR_INVALID_VALUE;
	f->cache = config;
	return CUDA_SUCCESS;
}

/* ---- occupancy: a plain model of a multiprocessor of the capability's threads and shared
 * memory (1024 and 64 KiB at 7.5) and 16 blocks ---- */

static int occupancy(const struct sim_func *f, int bs, size_t dyn)
{
	if (bs <= 0 || bs > max_threads(f))
		return 0;
	int warps = (bs + 31) / 32;
	int by_threads = g_cc.threads_per_sm / 32 / warps;
	size_t sh = f->fn->shared_static + dyn;
	int by_shared = sh ? (int)((size_t)g_cc.shared_per_sm / sh) : 16;
	int n = by_threads < by_shared ? by_threads : by_shared;
	return n > 16 ? 16 : n;
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func,
                                                              int blockSize, size_t dyn, unsigned int flags)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_func *f = func_get(func, &rc);
	if (!f)
		return rc;
	if (!numBlocks || blockSize <= 0 || flags > 1)
		return CUDA_ERROR_INVALID_VALUE;
	*numBlocks = occupancy(f, blockSize, dyn);
	return CUDA_SUCCESS;
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize, size_t dyn)
{
	return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(numBlocks, func, blockSize, dyn, 0);
}

CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int *minGridSize, int *blockSize, CUfunction func,
                                                   CUoccupancyB2DSize b2d, size_t dyn, int limit,
                                                   unsigned int flags)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_func *f = func_get(func, &rc);
	if (!f)
		return rc;
	if (!minGridSize || !blockSize || flags > 1)
		return CUDA_ERROR_INVALID_VALUE;
	int maxb = max_threads(f);
	if (limit > 0 && limit < maxb)
		maxb = limit;
	int best = 0, best_bs = 32 < maxb ? 32 : maxb;
	for (int bs = maxb; bs > 0; bs -= 32) {
		size_t d = b2d ? b2d(bs) : dyn;
		int blocks = occupancy(f, bs, d);
		if (blocks * bs > best) {
			best = blocks * bs;
			best_bs = bs;
		}
		if (bs <= 32)
			break;
	}
	*blockSize = best_bs;
	*minGridSize = (best / best_bs) * SM_COUNT;
	return CUDA_SUCCESS;
}

CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
                                          CUoccupancyB2DSize b2d, size_t dyn, int limit)
{
	return cuOccupancyMaxPotentialBlockSizeWithFlags(minGridSize, blockSize, func, b2d, dyn, limit, 0);
}

/* The function and block size of an occupancy question about clusters, its cluster shape
 * checked against the device (none before 9.0) and, unless any_size, against what the
 * function may have. */
static CUresult cluster_config(CUfunction func, const CUlaunchConfig *config, struct sim_func **f, int *bs,
                               int any_size)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	if (!(*f = func_get(func, &rc)))
		return rc;
	if (!config || (config->numAttrs && !config->attrs))
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned i = 0; i < config->numAttrs; i++)
		if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION &&
		    (rc = sim_cluster_check(&config->attrs[i].value, NULL, any_size ? UINT32_MAX : cluster_max(*f))) !=
		    CUDA_SUCCESS)
			return rc;
	*bs = (int)(config->blockDimX * config->blockDimY * config->blockDimZ);
	return CUDA_SUCCESS;
}

/* Blocks in the cluster shape a launch configuration names (1 when none). */
static unsigned config_cluster_size(const CUlaunchConfig *config)
{
	for (unsigned i = 0; i < config->numAttrs; i++)
		if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
			const CUlaunchAttributeValue *v = &config->attrs[i].value;
			uint64_t n = (uint64_t)v->clusterDim.x * v->clusterDim.y * v->clusterDim.z;
			return n == 0 ? 1 : n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
		}
	return 1;
}

CUresult cuOccupancyMaxPotentialClusterSize(int *clusterSize, CUfunction func, const CUlaunchConfig *config)
{
	struct sim_func *f;
	int bs;
	CUresult rc = cluster_config(func, config, &f, &bs, 0);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!clusterSize)
		return CUDA_ERROR_INVALID_VALUE;
	/* from 9.0 the portable size, or 16 where f may have more (its blocks fit one by one) */
	*clusterSize = !occupancy(f, bs, config->sharedMemBytes) ? 0 : g_cc.major >= 9 ? (int)cluster_max(f) : 1;
	return CUDA_SUCCESS;
}

CUresult cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const CUlaunchConfig *config)
{
	struct sim_func *f;
	int bs;
	CUresult rc = cluster_config(func, config, &f, &bs, 1);
	if (rc != CUDA_SUCCESS)
		return rc;
	if (!numClusters)
		return CUDA_ERROR_INVALID_VALUE;
	/* clusters of the given shape that fit at once: the device's blocks by groups; as the
	 * driver, none of a size past what f may have (cuBLAS asks for every size up to one past
	 * the largest as it starts on a 9.0 device) */
	const unsigned csize = config_cluster_size(config);
	*numClusters = csize > cluster_max(f) ? 0 : occupancy(f, bs, config->sharedMemBytes) * SM_COUNT / (int)csize;
	return CUDA_SUCCESS;
}

/* ---- launches ---- */

int sim_launch_shape_ok(const struct ptx_func *fn, const unsigned g[3], const unsigned b[3])
{
	return g[0] && g[1] && g[2] && b[0] && b[1] && b[2] && g[1] <= 65535 && g[2] <= 65535 && b[0] <= 1024 &&
	       b[1] <= 1024 && b[2] <= 64 && (uint64_t)b[0] * b[1] * b[2] <= (fn->max_ntid ? fn->max_ntid : 1024);
}

/* A launch of f checked and made into a stream operation, not yet queued; f must be of context c. */
static CUresult kernel_op(struct sim_ctx *c, struct sim_func *f, const unsigned g[3], const unsigned b[3],
			  unsigned shmem, void **params, void **extra, int cooperative, const unsigned *cluster,
			  struct sim_op **out)
{
	if (f->mod->ctx != sim_ctx_res(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!sim_launch_shape_ok(f->fn, g, b))
		return CUDA_ERROR_INVALID_VALUE;
	if (shmem > (unsigned)f->max_dyn_shared || f->fn->shared_static + (uint64_t)shmem > (uint64_t)g_cc.shared_optin)
		return CUDA_ERROR_INVALID_VALUE;
	if (cooperative && (uint64_t)g[0] * g[1] * g[2] >
	    (uint64_t)occupancy(f, (int)(b[0] * b[1] * b[2]), shmem) * (uint64_t)sim_ctx_sm_count(c))
		return CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
	/* the cluster shape: the launch's, else the one the function requires, else none */
	const unsigned *rq = cluster ? cluster : required_cluster(f);
	if (rq && cooperative)   /* (blocks of a cooperative launch run at once, not in clusters) */
		return CUDA_ERROR_NOT_SUPPORTED;
	const struct ptx_func *fn = f->fn;
	uint8_t *buf = calloc(1, fn->param_bytes + 8);
	if (!buf)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (params && extra) {
		free(buf);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (extra) {
		const void *pb = NULL;
		size_t *psz = NULL;
		for (int i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
			if (i > 64 || !extra[i + 1]) {
				free(buf);
				return CUDA_ERROR_INVALID_VALUE;
			}
			if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
				pb = extra[i + 1];
			else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE)
				psz = extra[i + 1];
			else {
				free(buf);
				return CUDA_ERROR_INVALID_VALUE;
			}
		}
		/* the buffer holds at most this kernel's parameters (struct padding allowed); a
		 * shorter one is taken too, the rest read as zeros (NCCL passes the bytes of its
		 * 4 KiB argument block it uses) */
		if (!pb || !psz || *psz > ((fn->param_bytes + 15u) & ~15u)) {
			sim_set_error("kernel %s takes %u bytes of parameters; the extra buffer has %zu",
			              fn->name, fn->param_bytes, psz ? *psz : (size_t)0);
			free(buf);
			return CUDA_ERROR_INVALID_VALUE;
		}
		memcpy(buf, pb, *psz < fn->param_bytes ? *psz : fn->param_bytes);
	} else {
		if (fn->nparams && !params) {
			free(buf);
			return CUDA_ERROR_INVALID_VALUE;
		}
		for (uint32_t i = 0; i < fn->nparams; i++) {
			if (!params[i]) {
				free(buf);
				return CUDA_ERROR_INVALID_VALUE;
			}
			memcpy(buf + fn->param_off[i], params[i], fn->param_size[i]);
		}
	}
	struct sim_op *op = sim_op_new(OP_KERNEL);
	if (!op) {
		free(buf);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	op->u.k.params = buf;
	op->u.k.space = sim_space;
	op->u.k.mod = f->mod;
	op->u.k.l.mod = f->mod->pm;
	op->u.k.l.fn = fn;
	memcpy(op->u.k.l.grid, g, sizeof(op->u.k.l.grid));
	memcpy(op->u.k.l.block, b, sizeof(op->u.k.l.block));
	op->u.k.l.shared_dyn = shmem;
	op->u.k.l.params = buf;
	op->u.k.cooperative = cooperative;
	for (int d = 0; d < 3; d++)
		op->u.k.l.cluster[d] = rq ? rq[d] : 1;
	op->u.k.l.explicit_cluster = rq != NULL;
	*out = op;
	return CUDA_SUCCESS;
}

static CUresult launch(struct sim_func *f, const unsigned g[3], const unsigned b[3], unsigned shmem,
                       CUstream h, void **params, void **extra, int cooperative, const unsigned *cluster)
{
	CUR_CTX(c);
	struct sim_op *op = NULL;
	CUresult rc = kernel_op(c, f, g, b, shmem, params, extra, cooperative, cluster, &op);
	if (rc != CUDA_SUCCESS)
		return rc;
	struct sim_stream *s = sim_stream_get(c, h, &rc);
	if (!s) {
		sim_op_free(op);
		return rc;
	}
	uint64_t seq = sim_stream_enqueue(s, op);
	if (g_launch_blocking && seq) {   /* (sequence 0: captured, nothing runs) */
		sim_stream_wait(s, seq);
		return c->sticky;
	}
	return CUDA_SUCCESS;
}

CUresult sim_kernel_op(struct sim_ctx *c, CUfunction func, const unsigned g[3], const unsigned b[3], unsigned shmem,
		       void **params, void **extra, struct sim_op **out)
{
	CUresult rc;
	struct sim_func *f = func_get(func, &rc);
	if (!f)
		return rc;
	return kernel_op(c, f, g, b, shmem, params, extra, 0, NULL, out);
}

CUresult cuLaunchKernel(CUfunction func, unsigned int gx, unsigned int gy, unsigned int gz,
                        unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem,
                        CUstream h, void **params, void **extra)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_func *f = func_get(func, &rc);
	if (!f)
		return rc;
	unsigned g[3] = {gx, gy, gz}, b[3] = {bx, by, bz};
	if ((rc = cluster_launch_check(f, g, NULL)) != CUDA_SUCCESS)
		return rc;
	return launch(f, g, b, shmem, h, params, extra, 0, NULL);
}

CUresult cuLaunchCooperativeKernel(CUfunction func, unsigned int gx, unsigned int gy, unsigned int gz,
                                   unsigned int bx, unsigned int by, unsigned int bz,
                                   unsigned int shmem, CUstream h, void **params)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_func *f = func_get(func, &rc);
	if (!f)
		return rc;
	unsigned g[3] = {gx, gy, gz}, b[3] = {bx, by, bz};
	if ((rc = cluster_launch_check(f, g, NULL)) != CUDA_SUCCESS)
		return rc;
	return launch(f, g, b, shmem, h, params, NULL, 1, NULL);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction func, void **params, void **extra)
{
	CUresult rc;
	if (!g_inited)
		return CUDA_ERROR_NOT_INITIALIZED;
	struct sim_func *f = func_get(func, &rc);
	if (!f)
		return rc;
	if (!config || (config->numAttrs && !config->attrs))
		return CUDA_ERROR_INVALID_VALUE;
	int coop = 0;
	const unsigned *cluster = NULL;
	unsigned cdim[3];
	CUevent events[2] = {NULL, NULL};   /* a programmatic event and a completion event */
	for (unsigned i = 0; i < config->numAttrs; i++) {
		const CUlaunchAttribute *a = &config->attrs[i];
		switch (a->id) {
		case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
			coop = a->value.cooperative != 0;
			break;
		case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION: {
			unsigned grid[3] = {config->gridDimX, config->gridDimY, config->gridDimZ};
			if ((rc = sim_cluster_check(&a->value, grid, cluster_max(f))) != CUDA_SUCCESS)
				return rc;
			cdim[0] = a->value.clusterDim.x;
			cdim[1] = a->value.clusterDim.y;
			cdim[2] = a->value.clusterDim.z;
			cluster = cdim;
			break;
		}
		/* Events of programmatic dependent launch: both are recorded when the kernel has
		 * completed, the latest moment a GPU may trigger either (the simulator runs a
		 * stream's work in order, so nothing can overlap the kernel anyway). */
		case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:
		case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT: {
			const struct sim_event *e = (const struct sim_event *)a->value.programmaticEvent.event;
			if (!e || e->magic != MAGIC_EVENT)
				return CUDA_ERROR_INVALID_HANDLE;
			events[a->id == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT] = a->value.programmaticEvent.event;
			break;
		}
		/* hints: the simulated device has one memory domain, no caches to steer, no clusters
		 * to prefer, no L1/shared split, and runs a stream's work in order */
		case CU_LAUNCH_ATTRIBUTE_PRIORITY:
		case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
		case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
		case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
		case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
		case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
		case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
		case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
		case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
		case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
		case CU_LAUNCH_ATTRIBUTE_IGNORE:
			break;
		default:
			return CUDA_ERROR_NOT_SUPPORTED;
		}
	}
	unsigned g[3] = {config->gridDimX, config->gridDimY, config->gridDimZ};
	unsigned b[3] = {config->blockDimX, config->blockDimY, config->blockDimZ};
	if ((rc = cluster_launch_check(f, g, cluster)) != CUDA_SUCCESS)
		return rc;
	/* (a size of 1, 1, 1 is no cluster) */
	if (cluster && cluster[0] * cluster[1] * cluster[2] <= 1)
		cluster = NULL;
	rc = launch(f, g, b, config->sharedMemBytes, config->hStream, params, extra, coop, cluster);
	for (int i = 0; i < 2 && rc == CUDA_SUCCESS; i++)
		if (events[i])
			rc = cuEventRecord(events[i], config->hStream);
	return rc;
}
