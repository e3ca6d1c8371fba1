/* SPDX-License-Identifier: MIT */
/* test_pinned.c — unit tests of a zone's pinned regions mapped by the worker itself (proxy/pinned.c, a Xen guest's granted pages): sizes, the quota, ids, ranges and release. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proxy/pinned.h"
#include "check.h"

/* Stand-in for gntdev: plain memory, and a count of what was released. */
static int released;
static uint64_t released_bytes;

static void *fake_map(uint64_t bytes)
{
	void *p = NULL;
	CHECK_EQ(posix_memalign(&p, 4096, bytes), 0);
	return p;
}

static void fake_release(void *ctx, void *base, uint64_t bytes)
{
	CHECK(ctx == &released);
	released++;
	released_bytes += bytes;
	free(base);
}

int main(void)
{
	struct vgpu_pinned p;
	struct vgpu_pinned_drv d = { 0 };
	const char *why = NULL;
	uint64_t id = 0, id2 = 0;

	CHECK_EQ(vgpu_pinned_init(&p, 64 << 10), 0);   /* a 64 KiB quota */
	/* Not a page multiple, or empty: refused, the mapping released at once. */
	CHECK_EQ(vgpu_pinned_map_mem(&p, fake_map(4096), 4095, fake_release, &released, &d, &id, &why),
		 CUDA_ERROR_INVALID_VALUE);
	CHECK(why && *why);
	CHECK_EQ(vgpu_pinned_map_mem(&p, fake_map(4096), 0, fake_release, &released, &d, &id, &why),
		 CUDA_ERROR_INVALID_VALUE);
	CHECK_EQ(released, 2);
	CHECK_EQ(p.bytes, 0);
	/* A region within the quota: named by an id, its ranges checked like a memfd region's. */
	uint8_t *base = fake_map(32 << 10);
	CHECK_EQ(vgpu_pinned_map_mem(&p, base, 32 << 10, fake_release, &released, &d, &id, &why), CUDA_SUCCESS);
	CHECK(id != 0);
	CHECK_EQ(p.bytes, 32 << 10);
	uint8_t *h = vgpu_pinned_get(&p, id, 4096, 8192);
	CHECK(h == base + 4096);
	if (h)
		vgpu_pinned_put(&p);
	CHECK(vgpu_pinned_get(&p, id, (32 << 10) - 1, 2) == NULL);   /* straddles its end */
	CHECK(vgpu_pinned_get(&p, id, UINT64_MAX, 2) == NULL);
	CHECK(vgpu_pinned_get(&p, id ^ 1, 0, 1) == NULL);             /* no such region */
	/* Over the quota: refused, released, nothing counted. */
	CHECK_EQ(vgpu_pinned_map_mem(&p, fake_map(36 << 10), 36 << 10, fake_release, &released, &d, &id2, &why),
		 CUDA_ERROR_OUT_OF_MEMORY);
	CHECK_EQ(released, 3);
	CHECK_EQ(p.bytes, 32 << 10);
	/* It cannot be handed to another worker (no descriptor): export skips it. */
	int fd = -1;
	uint64_t bytes = 0;
	CHECK_EQ(vgpu_pinned_export(&p, 0, &fd, &bytes), 0);
	/* Unmapped: released through the mapper, the quota free again. */
	CHECK_EQ(vgpu_pinned_unmap(&p, id, &d), CUDA_SUCCESS);
	CHECK_EQ(released, 4);
	CHECK_EQ(p.bytes, 0);
	CHECK_EQ(vgpu_pinned_unmap(&p, id, &d), CUDA_ERROR_INVALID_VALUE);
	/* What is left at the zone's end is released too. */
	CHECK_EQ(vgpu_pinned_map_mem(&p, fake_map(64 << 10), 64 << 10, fake_release, &released, &d, &id, &why), CUDA_SUCCESS);
	vgpu_pinned_fini(&p, &d);
	CHECK_EQ(released, 5);
	CHECK_EQ(released_bytes, 4095 + 0 + (32 << 10) + (36 << 10) + (64 << 10));
	CHECK_DONE();
}
