/* SPDX-License-Identifier: MIT */
/*
 * mglobal.c — __managed__ variables in the zone.
 *
 * A module's __managed__ variable lives where the driver put it, in the worker's address
 * space, and the program's host code reads and writes it through the address cudart got
 * from cuLibraryGetManaged. The zone cannot share the driver's memory, so libvgpu keeps a
 * copy of each variable in the zone, mapped at the variable's device address (so the one
 * pointer is right for the host and, passed as an argument, for kernels), and keeps the two
 * coherent at the points where CUDA lets the host look:
 *
 *  - before a call that makes the device work (launches, graph launches, copies, memsets)
 *    or waits for it, bytes the host changed since the copy was last in step (found by
 *    comparing with a second copy, the snapshot) go to the device, span by span;
 *  - after a call that waited for the device (context, stream and event synchronisation, a
 *    completed query, a synchronous copy), when the device may have worked since, every
 *    variable comes back.
 *
 * So a value the host writes before a launch is what the kernel reads, and a value a kernel
 * writes is what the host reads after synchronising, as programs are written. What this
 * does not give is a host thread watching a variable change while a kernel runs (a spin on
 * a __managed__ flag): there it sees the value of the last synchronisation.
 */
#include "client.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "drvtab.h"

struct mvar {
	CUdeviceptr dptr;     /* the variable's device address */
	uint8_t *host;        /* the zone's copy: at dptr, or elsewhere when that was taken */
	uint8_t *snap;        /* what host held when last in step with the device */
	size_t size;
	CUcontext ctx;        /* the context of the module it belongs to */
	int dead;             /* its module or context is gone: no longer kept in step */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mvar *vars;
static size_t nvars, capvars;
/* pages libvgpu mapped at device addresses (several variables may share one) */
static uintptr_t *pages;
static size_t npages, cappages;
/* the device may have written a variable since they were last fetched */
static int device_dirty;
/* nonzero while this thread moves variables (its own copies must not trigger more) */
static __thread int busy;
/* read without the lock on every call: nonzero once a variable exists */
int vgpu_mglobal_active;

static int page_ours(uintptr_t pg)
{
	for (size_t i = 0; i < npages; i++)
		if (pages[i] == pg)
			return 1;
	return 0;
}

/* Maps [d, d + size) in the zone at the same address, reusing pages it mapped before. 0 or -errno. */
static int map_at(CUdeviceptr d, size_t size)
{
	uintptr_t psz = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)d & ~(psz - 1), hi = ((uintptr_t)d + size + psz - 1) & ~(psz - 1);
	size_t added = 0;

	if ((uintptr_t)d + size < (uintptr_t)d)
		return -EINVAL;
	for (uintptr_t pg = lo; pg < hi; pg += psz) {
		if (page_ours(pg))
			continue;
		if (npages == cappages) {
			size_t nc = cappages ? cappages * 2 : 16;
			uintptr_t *np = realloc(pages, nc * sizeof(*np));
			if (!np)
				goto undo;
			pages = np;
			cappages = nc;
		}
		void *p = mmap((void *)pg, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			       -1, 0);
		if (p == MAP_FAILED || p != (void *)pg) {
			if (p != MAP_FAILED)
				munmap(p, psz);   /* a kernel without MAP_FIXED_NOREPLACE placed it elsewhere */
			goto undo;
		}
		pages[npages++] = pg;
		added++;
	}
	return 0;
undo:
	while (added--)
		munmap((void *)pages[--npages], psz);
	return -EEXIST;
}

/* The variable's context current on this thread around a copy: 1 when one was pushed. */
static int enter_ctx(CUcontext ctx)
{
	CUcontext cur = NULL;

	if (cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == ctx)
		return 0;
	return cuCtxPushCurrent_v2(ctx) == CUDA_SUCCESS;
}

static void leave_ctx(int pushed)
{
	CUcontext dummy;

	if (pushed)
		(void)cuCtxPopCurrent_v2(&dummy);
}

/* A copy failed: its context or module is gone, or the context has a sticky error. */
static void var_failed(struct mvar *v, CUresult r, const char *what)
{
	v->dead = 1;
	vgpu_client_log(r == CUDA_ERROR_INVALID_CONTEXT || r == CUDA_ERROR_CONTEXT_IS_DESTROYED ? 3 : 1,
			"__managed__ variable at 0x%llx (%zu bytes) no longer kept in step with the device: %s failed (%d)",
			(unsigned long long)v->dptr, v->size, what, (int)r);
}

/* Sends what the host changed in v since it was last in step; called with the lock held. */
static void push_var(struct mvar *v)
{
	size_t lo = 0, hi = v->size;

	while (lo < hi && v->host[lo] == v->snap[lo])
		lo++;
	if (lo == hi)
		return;
	while (v->host[hi - 1] == v->snap[hi - 1])
		hi--;
	int pushed = enter_ctx(v->ctx);
	CUresult r = cuMemcpyHtoD_v2(v->dptr + lo, v->host + lo, hi - lo);
	leave_ctx(pushed);
	if (r != CUDA_SUCCESS) {
		var_failed(v, r, "sending the host's changes");
		return;
	}
	memcpy(v->snap + lo, v->host + lo, hi - lo);
}

/* Fetches v from the device into both copies; called with the lock held. */
static void pull_var(struct mvar *v)
{
	int pushed = enter_ctx(v->ctx);
	CUresult r = cuMemcpyDtoH_v2(v->host, v->dptr, v->size);
	leave_ctx(pushed);
	if (r != CUDA_SUCCESS) {
		var_failed(v, r, "fetching the device's value");
		return;
	}
	memcpy(v->snap, v->host, v->size);
}

enum { MG_WORK = 1, MG_SYNC = 2 };

static int starts(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* What a call means for the variables: MG_WORK (the device may read or write them after
 * it), MG_SYNC (it waits for the device), both, or neither. */
static int classify(const struct vgpu_call_desc *d)
{
	const char *n = d->name;

	if (starts(n, "cuLaunch") || starts(n, "cuGraphLaunch") || starts(n, "cuMemset"))
		return MG_WORK;
	if (starts(n, "cuMemcpy") || starts(n, "vgpuPinnedCopy"))
		return MG_WORK | (strstr(n, "Async") ? 0 : MG_SYNC);
	if (starts(n, "cuCtxSynchronize") || starts(n, "cuStreamSynchronize") || starts(n, "cuEventSynchronize") ||
	    starts(n, "cuStreamQuery") || starts(n, "cuEventQuery"))
		return MG_SYNC;
	return 0;
}

void vgpu_mglobal_before(const struct vgpu_call_desc *d)
{
	int c;

	if (busy || !(c = classify(d)))
		return;
	busy = 1;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nvars; i++)
		if (!vars[i].dead)
			push_var(&vars[i]);
	if (c & MG_WORK)
		device_dirty = 1;
	pthread_mutex_unlock(&lock);
	busy = 0;
}

void vgpu_mglobal_after(const struct vgpu_call_desc *d, CUresult res)
{
	if (busy || res != CUDA_SUCCESS || !(classify(d) & MG_SYNC))
		return;
	busy = 1;
	pthread_mutex_lock(&lock);
	if (device_dirty) {
		device_dirty = 0;
		for (size_t i = 0; i < nvars; i++)
			if (!vars[i].dead)
				pull_var(&vars[i]);
	}
	pthread_mutex_unlock(&lock);
	busy = 0;
}

CUresult vgpu_mglobal_get(CUdeviceptr *dptr, size_t *bytes, CUmodule mod, const char *name)
{
	CUdeviceptr d;
	size_t n;
	int managed = 0;
	CUcontext ctx = NULL;
	CUresult r = cuModuleGetGlobal_v2(&d, &n, mod, name);

	if (r == CUDA_SUCCESS)
		r = cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d);
	if (r == CUDA_SUCCESS && !managed)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = cuCtxGetCurrent(&ctx);
	if (r != CUDA_SUCCESS)
		return r;

	busy = 1;
	pthread_mutex_lock(&lock);
	struct mvar *v = NULL;
	for (size_t i = 0; i < nvars && !v; i++)
		if (vars[i].dptr == d && vars[i].ctx == ctx)
			v = &vars[i];
	if (v) {
		/* Asked again: cudart loaded the library again (after cudaDeviceReset, the variable is
		 * the new module's, at its initial value, often at the same address): in step anew. */
		v->dead = 0;
		pull_var(v);
		if (v->dead) {
			r = CUDA_ERROR_INVALID_VALUE;
			goto out;
		}
	} else {
		if (nvars == capvars) {
			size_t nc = capvars ? capvars * 2 : 8;
			struct mvar *nv = realloc(vars, nc * sizeof(*nv));
			if (!nv) {
				r = CUDA_ERROR_OUT_OF_MEMORY;
				goto out;
			}
			vars = nv;
			capvars = nc;
		}
		struct mvar nv = { .dptr = d, .size = n, .ctx = ctx, .snap = malloc(n ? n : 1) };
		if (!nv.snap) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
			goto out;
		}
		if (map_at(d, n) == 0) {
			nv.host = (uint8_t *)(uintptr_t)d;
		} else {
			/* Something of the program's already sits there: the host's pointer cannot be
			 * the kernels'. Host code and kernels naming the variable still agree. */
			nv.host = malloc(n ? n : 1);
			if (!nv.host) {
				free(nv.snap);
				r = CUDA_ERROR_OUT_OF_MEMORY;
				goto out;
			}
			vgpu_client_log(1, "__managed__ %s: address 0x%llx is taken in this process; the host's copy is "
					"elsewhere, so passing its address to a kernel will not reach the variable",
					name, (unsigned long long)d);
		}
		vars[nvars] = nv;
		v = &vars[nvars++];
		pull_var(v);
		if (v->dead) {
			r = CUDA_ERROR_INVALID_VALUE;
			goto out;
		}
		__atomic_store_n(&vgpu_mglobal_active, 1, __ATOMIC_RELEASE);
		vgpu_client_log(3, "__managed__ %s: %zu bytes at 0x%llx kept in step with the device", name, n,
				(unsigned long long)d);
	}
	if (dptr)
		*dptr = (CUdeviceptr)(uintptr_t)v->host;
	if (bytes)
		*bytes = v->size;
out:
	pthread_mutex_unlock(&lock);
	busy = 0;
	return r;
}
