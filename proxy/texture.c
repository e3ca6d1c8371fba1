/* SPDX-License-Identifier: MIT */
/* texture.c — the zone's records of its CUDA arrays' charges and its texture and surface objects. */
#include "texture.h"

#include <cuda.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "zone.h"

/* ---------------------------------------------------------------- the zone's records */

void vgpu_tex_zone_fini(struct vgpu_tex_zone *t)
{
	free(t->arrays);
	free(t->objs);
	memset(t, 0, sizeof(*t));
}

int vgpu_tex_array_note(struct vgpu_zone *z, void *array, const void *ctx, uint64_t bytes)
{
	struct vgpu_tex_zone *t = &z->tex;
	int rc = -1;
	pthread_mutex_lock(&z->lock);
	if (vgpu_room_for_one(&t->arrays, &t->carrays, t->narrays, sizeof(*t->arrays), 16) == 0) {
		t->arrays[t->narrays++] = (struct vgpu_tex_array){ array, ctx, bytes };
		rc = 0;
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

/* Forget array; returns the bytes it was charged (0: not one of the zone's). */
uint64_t vgpu_tex_array_forget(struct vgpu_zone *z, const void *array)
{
	struct vgpu_tex_zone *t = &z->tex;
	uint64_t bytes = 0;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < t->narrays; i++)
		if (t->arrays[i].array == array) {
			bytes = t->arrays[i].bytes;
			t->arrays[i] = t->arrays[--t->narrays];
			break;
		}
	pthread_mutex_unlock(&z->lock);
	return bytes;
}

int vgpu_tex_obj_add(struct vgpu_zone *z, uint64_t value, const void *ctx, uint32_t surface)
{
	struct vgpu_tex_zone *t = &z->tex;
	int rc = -1;
	pthread_mutex_lock(&z->lock);
	if (t->nobjs < VGPU_TEX_OBJ_MAX &&
	    vgpu_room_for_one(&t->objs, &t->cobjs, t->nobjs, sizeof(*t->objs), 16) == 0) {
		t->objs[t->nobjs++] = (struct vgpu_tex_obj){ value, ctx, surface };
		rc = 0;
	}
	pthread_mutex_unlock(&z->lock);
	return rc;
}

static int obj_find(const struct vgpu_tex_zone *t, uint64_t value, uint32_t surface)
{
	for (uint32_t i = 0; i < t->nobjs; i++)
		if (t->objs[i].value == value && t->objs[i].surface == surface)
			return (int)i;
	return -1;
}

int vgpu_tex_obj_has(struct vgpu_zone *z, uint64_t value, uint32_t surface)
{
	pthread_mutex_lock(&z->lock);
	int i = obj_find(&z->tex, value, surface);
	pthread_mutex_unlock(&z->lock);
	return i >= 0;
}

/* Take value out of the set before the driver destroys it, so that a second destroy of the
 * same value, racing on another channel, cannot reach the driver; *ctx gets its context. */
int vgpu_tex_obj_take(struct vgpu_zone *z, uint64_t value, uint32_t surface, const void **ctx)
{
	struct vgpu_tex_zone *t = &z->tex;
	pthread_mutex_lock(&z->lock);
	int i = obj_find(t, value, surface);
	if (i >= 0) {
		*ctx = t->objs[i].ctx;
		t->objs[i] = t->objs[--t->nobjs];
	}
	pthread_mutex_unlock(&z->lock);
	return i >= 0 ? 0 : -1;
}

unsigned vgpu_tex_context_gone(struct vgpu_zone *z, const void *ctx)
{
	struct vgpu_tex_zone *t = &z->tex;
	uint64_t bytes = 0;
	unsigned n = 0;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; i < t->narrays;)
		if (t->arrays[i].ctx == ctx) {
			bytes += t->arrays[i].bytes;
			t->arrays[i] = t->arrays[--t->narrays];
			n++;
		} else {
			i++;
		}
	for (uint32_t i = 0; i < t->nobjs;)
		if (t->objs[i].ctx == ctx) {
			t->objs[i] = t->objs[--t->nobjs];
			n++;
		} else {
			i++;
		}
	pthread_mutex_unlock(&z->lock);
	if (bytes)
		vgpu_zone_mem_release(z, bytes);
	return n;
}

uint64_t vgpu_tex_arrays_charged(const struct vgpu_zone *z)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < z->tex.narrays; i++)
		n += z->tex.arrays[i].bytes;
	return n;
}

uint64_t vgpu_tex_zone_drop(struct vgpu_zone *z)
{
	pthread_mutex_lock(&z->lock);
	uint64_t n = vgpu_tex_arrays_charged(z);
	z->tex.narrays = 0;
	z->tex.nobjs = 0;
	pthread_mutex_unlock(&z->lock);
	if (n)
		vgpu_zone_mem_release(z, n);
	return n;
}

uint32_t vgpu_tex_objects(struct vgpu_zone *z)
{
	pthread_mutex_lock(&z->lock);
	uint32_t n = z->tex.nobjs;
	pthread_mutex_unlock(&z->lock);
	return n;
}

/* Bytes of one texel, or 0 for a format whose size is not one of the classic ones. */
unsigned vgpu_tex_format_bytes(unsigned fmt)
{
	switch (fmt) {
	case CU_AD_FORMAT_UNSIGNED_INT8:
	case CU_AD_FORMAT_SIGNED_INT8: return 1;
	case CU_AD_FORMAT_UNSIGNED_INT16:
	case CU_AD_FORMAT_SIGNED_INT16:
	case CU_AD_FORMAT_HALF: return 2;
	case CU_AD_FORMAT_UNSIGNED_INT32:
	case CU_AD_FORMAT_SIGNED_INT32:
	case CU_AD_FORMAT_FLOAT: return 4;
	default: return 0;
	}
}

/*
 * The driver lays arrays out in tiles and does not say how much memory one took, so the
 * charge is an upper estimate: rows padded to 512 bytes, heights to 8 rows, the whole to
 * 64 KiB; a format outside the classic eight counts 16 bytes a texel, the widest there is.
 */
uint64_t vgpu_tex_array_charge(uint64_t w, uint64_t h, uint64_t d, unsigned fmt, unsigned ch)
{
	uint64_t texel = vgpu_tex_format_bytes(fmt), row, n;
	texel = texel ? texel * (ch ? ch : 1) : 16;
	if (!h)
		h = 1;
	if (!d)
		d = 1;
	if (!w || w > (1ull << 32) || h > (1ull << 32) || d > (1ull << 32))
		return 0;
	row = (w * texel + 511) & ~511ull;
	h = (h + 7) & ~7ull;
	if (__builtin_mul_overflow(row, h, &n) || __builtin_mul_overflow(n, d, &n) || n > UINT64_MAX - 65535)
		return 0;
	return (n + 65535) & ~65535ull;
}

