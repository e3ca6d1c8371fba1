/* SPDX-License-Identifier: MIT */
/* texture.h — what a zone holds of CUDA arrays and texture/surface objects beyond its handle table. */
#ifndef VGPU_PROXY_TEXTURE_H
#define VGPU_PROXY_TEXTURE_H

#include <stdint.h>

/* At most this many texture and surface objects per zone (the driver's table is larger; a
 * zone past this gets CUDA_ERROR_OUT_OF_MEMORY). */
#define VGPU_TEX_OBJ_MAX 65536u

/*
 * Under the zone's lock. Arrays: the device memory each is charged to the zone's quota (the
 * driver does not say how much it used: an estimate of its tiled layout, see texture.c), by
 * the context it was made in. Objects: the values the driver gave for the zone's texture and
 * surface objects, which kernels take as parameters; no other value is passed to the driver.
 */
struct vgpu_tex_zone {
	struct vgpu_tex_array { void *array; const void *ctx; uint64_t bytes; } *arrays;
	uint32_t narrays, carrays;
	struct vgpu_tex_obj { uint64_t value; const void *ctx; uint32_t surface; } *objs;
	uint32_t nobjs, cobjs;
};

struct vgpu_zone;

void vgpu_tex_zone_fini(struct vgpu_tex_zone *t);
/* A context is gone (destroyed, reset, released for the last time): its arrays' charges go
 * back to the quota, its objects are forgotten. Returns how many of each were dropped. */
unsigned vgpu_tex_context_gone(struct vgpu_zone *z, const void *ctx);
/* Record an array made in ctx and charged bytes (-1: out of memory); forget it, returning
 * its charge (0: not one of the zone's). */
int vgpu_tex_array_note(struct vgpu_zone *z, void *array, const void *ctx, uint64_t bytes);
uint64_t vgpu_tex_array_forget(struct vgpu_zone *z, const void *array);
/* Objects: add (-1: VGPU_TEX_OBJ_MAX reached or out of memory), ask, and take out before the
 * driver destroys one (-1: not the zone's; *ctx gets the context it was made in). */
int vgpu_tex_obj_add(struct vgpu_zone *z, uint64_t value, const void *ctx, uint32_t surface);
int vgpu_tex_obj_has(struct vgpu_zone *z, uint64_t value, uint32_t surface);
int vgpu_tex_obj_take(struct vgpu_zone *z, uint64_t value, uint32_t surface, const void **ctx);
/* Bytes the zone's arrays are charged (under z->lock). */
uint64_t vgpu_tex_arrays_charged(const struct vgpu_zone *z);
/* The zone's contexts are gone: every array's charge is given back (returns the bytes) and
 * every object forgotten. */
uint64_t vgpu_tex_zone_drop(struct vgpu_zone *z);
/* Texture and surface objects the zone holds (checkpoints refuse them). */
uint32_t vgpu_tex_objects(struct vgpu_zone *z);
/* Bytes of one texel of a CUarray_format, per channel; 0 for the formats beyond the classic
 * eight (8-, 16- and 32-bit integers, half, float). */
unsigned vgpu_tex_format_bytes(unsigned fmt);
/* Device bytes an array of w x h x d texels of format fmt with ch channels is charged (0: the
 * shape overflows). Exposed for the tests. */
uint64_t vgpu_tex_array_charge(uint64_t w, uint64_t h, uint64_t d, unsigned fmt, unsigned ch);

#endif
