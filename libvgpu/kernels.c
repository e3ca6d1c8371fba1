/* SPDX-License-Identifier: MIT */
/* kernels.c — what libvgpu knows about the zone's modules and functions: each kernel's parameter layout. */
#include "kernels.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Modules keep the kernel layouts parsed from the image they were loaded from; functions
 * point at one of them. Functions live in an open-addressing hash keyed by the handle
 * value (the opaque id the proxy gave), because every launch looks one up.
 */
struct kmodule {
	CUmodule mod;
	struct vgpu_kernel_info *k;
	size_t n;
	struct kmodule *next;
};

struct kfunc {
	CUfunction f;  /* NULL: empty slot; KFUNC_TOMB: deleted */
	CUmodule mod;
	const struct vgpu_kernel_info *info;
};

#define KFUNC_TOMB ((CUfunction)(uintptr_t)-1)

static struct {
	pthread_rwlock_t lock;
	struct kmodule *mods;
	struct kfunc *f;
	size_t cap, used; /* used counts live + tombstones */
} kt = { .lock = PTHREAD_RWLOCK_INITIALIZER };

static size_t kfunc_hash(CUfunction f)
{
	uint64_t x = (uint64_t)(uintptr_t)f;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (size_t)x;
}

/* Slot for f (existing, or the first free one). Caller holds the lock; cap > used. */
static struct kfunc *kfunc_slot(CUfunction f)
{
	size_t mask = kt.cap - 1, i = kfunc_hash(f) & mask;
	struct kfunc *tomb = NULL;

	for (;;) {
		struct kfunc *s = &kt.f[i];
		if (s->f == f)
			return s;
		if (s->f == NULL)
			return tomb ? tomb : s;
		if (s->f == KFUNC_TOMB && !tomb)
			tomb = s;
		i = (i + 1) & mask;
	}
}

static int kfunc_grow(void)
{
	size_t cap = kt.cap ? kt.cap * 2 : 64, old = kt.cap;
	struct kfunc *of = kt.f;

	kt.f = calloc(cap, sizeof(*kt.f));
	if (!kt.f) {
		kt.f = of;
		return -1;
	}
	kt.cap = cap;
	kt.used = 0;
	for (size_t i = 0; i < old; i++) {
		if (of[i].f && of[i].f != KFUNC_TOMB) {
			*kfunc_slot(of[i].f) = of[i];
			kt.used++;
		}
	}
	free(of);
	return 0;
}

void vgpu_kernels_module_add(CUmodule mod, struct vgpu_kernel_info *k, size_t n)
{
	struct kmodule *m = malloc(sizeof(*m));

	if (!m) {
		vgpu_modimage_free_kernels(k, n);
		return;
	}
	*m = (struct kmodule){ mod, k, n, NULL };
	pthread_rwlock_wrlock(&kt.lock);
	m->next = kt.mods;
	kt.mods = m;
	pthread_rwlock_unlock(&kt.lock);
}

void vgpu_kernels_module_remove(CUmodule mod)
{
	struct kmodule **pp, *m = NULL;

	pthread_rwlock_wrlock(&kt.lock);
	for (pp = &kt.mods; *pp; pp = &(*pp)->next) {
		if ((*pp)->mod == mod) {
			m = *pp;
			*pp = m->next;
			break;
		}
	}
	for (size_t i = 0; m && i < kt.cap; i++) {
		if (kt.f[i].f && kt.f[i].f != KFUNC_TOMB && kt.f[i].mod == mod)
			kt.f[i].f = KFUNC_TOMB;
	}
	pthread_rwlock_unlock(&kt.lock);
	if (m) {
		vgpu_modimage_free_kernels(m->k, m->n);
		free(m);
	}
}

void vgpu_kernels_function_add(CUfunction f, CUmodule mod, const char *name)
{
	const struct vgpu_kernel_info *info = NULL;

	pthread_rwlock_wrlock(&kt.lock);
	for (struct kmodule *m = kt.mods; m && !info; m = m->next) {
		if (m->mod != mod)
			continue;
		for (size_t i = 0; i < m->n; i++) {
			if (strcmp(m->k[i].name, name) == 0) {
				info = &m->k[i];
				break;
			}
		}
	}
	if ((kt.used + 1) * 2 > kt.cap && kfunc_grow() < 0)
		goto out;
	struct kfunc *s = kfunc_slot(f);
	if (s->f == NULL)
		kt.used++;
	*s = (struct kfunc){ f, mod, info };
out:
	pthread_rwlock_unlock(&kt.lock);
}

int vgpu_kernels_lookup(CUfunction f, struct vgpu_kernel_info *out /* out */)
{
	int rc = -1;

	pthread_rwlock_rdlock(&kt.lock);
	if (kt.cap) {
		struct kfunc *s = kfunc_slot(f);
		if (s->f == f && s->info) {
			*out = *s->info; /* params stay valid until the module is unloaded */
			rc = 0;
		}
	}
	pthread_rwlock_unlock(&kt.lock);
	return rc;
}

const char *vgpu_kernels_name(CUfunction f)
{
	const char *name = NULL;

	pthread_rwlock_rdlock(&kt.lock);
	if (kt.cap) {
		struct kfunc *s = kfunc_slot(f);
		if (s->f == f && s->info)
			name = s->info->name;
	}
	pthread_rwlock_unlock(&kt.lock);
	return name;
}

int vgpu_kernels_module_names(CUmodule mod, char ***names, size_t *n)
{
	int rc = -ENOENT;

	*names = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&kt.lock);
	for (struct kmodule *m = kt.mods; m; m = m->next) {
		if (m->mod != mod)
			continue;
		rc = 0;
		char **v = m->n ? calloc(m->n, sizeof(*v)) : NULL;
		if (m->n && !v) {
			rc = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < m->n; i++) {
			if (!(v[i] = strdup(m->k[i].name))) {
				vgpu_modimage_free_names(v, i);
				v = NULL;
				rc = -ENOMEM;
				break;
			}
		}
		if (!rc) {
			*names = v;
			*n = m->n;
		}
		break;
	}
	pthread_rwlock_unlock(&kt.lock);
	return rc;
}
