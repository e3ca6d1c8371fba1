/* SPDX-License-Identifier: MIT */
/* test_allocmap.c — unit tests of the per-zone device allocation map (proxy/allocmap.c). */
#include <errno.h>
#include <stdint.h>

#include "../../proxy/allocmap.h"
#include "check.h"

static void test_bounds(void)
{
	struct vgpu_allocmap m;
	uint64_t base;

	vgpu_allocmap_init(&m);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1000, 1, NULL), -EFAULT);  /* empty map */
	CHECK_EQ(vgpu_allocmap_add(&m, 0x1000, 0x100), 0);
	CHECK_EQ(vgpu_allocmap_add(&m, 0x3000, 0x1000), 0);
	CHECK_EQ(m.bytes, 0x1100);
	/* Whole allocation, first byte, last byte. */
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1000, 0x100, &base), 0);
	CHECK_EQ(base, 0x1000);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1000, 1, NULL), 0);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x10ff, 1, NULL), 0);
	/* One past the end, one byte too long, one before the start. */
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1100, 1, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1000, 0x101, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x10ff, 2, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0xfff, 1, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0xfff, 2, NULL), -EFAULT);
	/* A range spanning two allocations (and the gap) is not inside ONE allocation. */
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1000, 0x3000, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x2000, 0x10, NULL), -EFAULT);
	/* len 0: p must still be inside an allocation (one past the end is not). */
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1050, 0, NULL), 0);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x10ff, 0, NULL), 0);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1100, 0, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1101, 0, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0, 0, NULL), -EFAULT);
	/* Lengths that would wrap p+len. */
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1000, UINT64_MAX, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x10ff, UINT64_MAX - 0x10fe, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x3fff, 1, NULL), 0);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x4000, 1, NULL), -EFAULT);
	vgpu_allocmap_destroy(&m);
}

static void test_top_of_space(void)
{
	struct vgpu_allocmap m;

	vgpu_allocmap_init(&m);
	/* An allocation ending exactly at 2^64 is representable; one past it is not. */
	CHECK_EQ(vgpu_allocmap_add(&m, UINT64_MAX - 0xff, 0x100), 0);
	CHECK_EQ(vgpu_allocmap_add(&m, UINT64_MAX - 0xff, 0x101), -EINVAL);  /* wraps */
	CHECK_EQ(vgpu_allocmap_add(&m, UINT64_MAX - 0x1ff, 0x201), -EINVAL);
	CHECK_EQ(vgpu_allocmap_add(&m, UINT64_MAX - 0x1ff, 0x200), -EEXIST);  /* fits, overlaps */
	CHECK_EQ(vgpu_allocmap_add(&m, UINT64_MAX, 2), -EINVAL);
	CHECK_EQ(vgpu_allocmap_add(&m, 2, UINT64_MAX), -EINVAL);
	CHECK_EQ(vgpu_allocmap_add(&m, 1, UINT64_MAX), -EEXIST);             /* ends at 2^64 */
	CHECK_EQ(vgpu_allocmap_add(&m, 5, 0), -EINVAL);
	CHECK_EQ(vgpu_allocmap_check(&m, UINT64_MAX, 1, NULL), 0);
	CHECK_EQ(vgpu_allocmap_check(&m, UINT64_MAX, 2, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, UINT64_MAX - 0xff, 0x100, NULL), 0);
	CHECK_EQ(vgpu_allocmap_check(&m, UINT64_MAX - 0xff, 0x101, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, UINT64_MAX - 0x10, UINT64_MAX, NULL), -EFAULT);
	vgpu_allocmap_destroy(&m);
}

static void test_overlap_and_remove(void)
{
	struct vgpu_allocmap m;
	uint64_t size;

	vgpu_allocmap_init(&m);
	CHECK_EQ(vgpu_allocmap_add(&m, 0x2000, 0x1000), 0);
	CHECK_EQ(vgpu_allocmap_add(&m, 0x2000, 0x10), -EEXIST);   /* same base */
	CHECK_EQ(vgpu_allocmap_add(&m, 0x2fff, 0x10), -EEXIST);   /* overlaps the tail */
	CHECK_EQ(vgpu_allocmap_add(&m, 0x1ff0, 0x11), -EEXIST);   /* overlaps the head */
	CHECK_EQ(vgpu_allocmap_add(&m, 0x1000, 0x4000), -EEXIST); /* covers it */
	CHECK_EQ(vgpu_allocmap_add(&m, 0x1ff0, 0x10), 0);         /* adjacent below */
	CHECK_EQ(vgpu_allocmap_add(&m, 0x3000, 0x10), 0);         /* adjacent above */
	CHECK_EQ(m.n, 3);
	/* Adjacent allocations stay separate: a range crossing the seam is refused. */
	CHECK_EQ(vgpu_allocmap_check(&m, 0x2ff0, 0x20, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x3000, 0x10, NULL), 0);
	/* Removal only by base. */
	CHECK_EQ(vgpu_allocmap_remove(&m, 0x2001, &size), -ENOENT);
	CHECK_EQ(vgpu_allocmap_remove(&m, 0x2000, &size), 0);
	CHECK_EQ(size, 0x1000);
	CHECK_EQ(vgpu_allocmap_remove(&m, 0x2000, &size), -ENOENT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x2000, 1, NULL), -EFAULT);
	CHECK_EQ(vgpu_allocmap_check(&m, 0x1ff0, 0x10, NULL), 0);
	CHECK_EQ(m.bytes, 0x20);
	struct vgpu_alloc a;
	int n = 0;
	while (vgpu_allocmap_pop(&m, &a) == 0)
		n++;
	CHECK_EQ(n, 2);
	CHECK_EQ(m.bytes, 0);
	vgpu_allocmap_destroy(&m);
}

/* Many allocations inserted in scrambled order; every byte boundary checked. */
static void test_many(void)
{
	enum { N = 5000 };
	struct vgpu_allocmap m;

	vgpu_allocmap_init(&m);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t k = (i * 2654435761u) % N;   /* a permutation of 0..N-1 (N and the factor coprime) */
		CHECK_EQ(vgpu_allocmap_add(&m, 0x100000 + k * 0x1000, 0x800 + k % 0x800), 0);
	}
	CHECK_EQ(m.n, N);
	for (uint64_t k = 0; k < N; k += 7) {
		uint64_t b = 0x100000 + k * 0x1000, s = 0x800 + k % 0x800, got;
		CHECK_EQ(vgpu_allocmap_check(&m, b, s, &got), 0);
		CHECK_EQ(got, b);
		CHECK_EQ(vgpu_allocmap_check(&m, b + s - 1, 1, NULL), 0);
		CHECK_EQ(vgpu_allocmap_check(&m, b + s, 1, NULL), -EFAULT);
		CHECK_EQ(vgpu_allocmap_check(&m, b - 1, 1, NULL), -EFAULT);
	}
	for (uint64_t k = 0; k < N; k += 2)
		CHECK_EQ(vgpu_allocmap_remove(&m, 0x100000 + k * 0x1000, NULL), 0);
	for (uint64_t k = 0; k < N; k++)
		CHECK_EQ(vgpu_allocmap_check(&m, 0x100000 + k * 0x1000 + 1, 1, NULL), (k % 2) ? 0 : -EFAULT);
	vgpu_allocmap_destroy(&m);
}

/* The gap around a range: none when any allocation overlaps it; otherwise bounded by the
 * nearest allocations on each side. Every change of the map takes a new generation. */
static void test_gap_and_gen(void)
{
	struct vgpu_allocmap m;
	uint64_t lo = 0, hi = UINT64_MAX, g[8];
	int ng = 0;

	vgpu_allocmap_init(&m);
	CHECK_EQ(m.gen, 0);
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x5000, 0x10, &lo, &hi), 0);   /* empty: the whole space */
	CHECK_EQ(lo, 0);
	CHECK_EQ(hi, UINT64_MAX);
	CHECK_EQ(vgpu_allocmap_add(&m, 0x1000, 0x100), 0);
	g[ng++] = m.gen;
	CHECK_EQ(vgpu_allocmap_add(&m, 0x3000, 0x1000), 0);
	g[ng++] = m.gen;
	CHECK_EQ(vgpu_allocmap_add(&m, 0x8000, 0x100), 0);
	g[ng++] = m.gen;
	CHECK_EQ(vgpu_allocmap_add(&m, 0x3000, 0x10), -EEXIST);      /* refused: no change */
	CHECK_EQ(m.gen, g[ng - 1]);
	lo = 0, hi = UINT64_MAX;
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x2000, 0x100, &lo, &hi), 0);
	CHECK_EQ(lo, 0x1100);
	CHECK_EQ(hi, 0x3000);
	lo = 0, hi = UINT64_MAX;
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x1100, 0x1f00, &lo, &hi), 0);  /* the whole gap, ends touching */
	CHECK_EQ(lo, 0x1100);
	CHECK_EQ(hi, 0x3000);
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x10ff, 1, &lo, &hi), -EEXIST);  /* last byte of one */
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x2fff, 2, &lo, &hi), -EEXIST);  /* into the next */
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x2000, 0x7000, &lo, &hi), -EEXIST);  /* one wholly inside */
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x3800, 1, &lo, &hi), -EEXIST);
	lo = 0, hi = UINT64_MAX;
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x10, 0x10, &lo, &hi), 0);       /* below the first */
	CHECK_EQ(lo, 0);
	CHECK_EQ(hi, 0x1000);
	lo = 0, hi = UINT64_MAX;
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x9000, 0x10, &lo, &hi), 0);     /* above the last */
	CHECK_EQ(lo, 0x8100);
	CHECK_EQ(hi, UINT64_MAX);
	lo = 0x5000, hi = 0x6000;                                        /* only ever narrowed */
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x5800, 0x10, &lo, &hi), 0);
	CHECK_EQ(lo, 0x5000);
	CHECK_EQ(hi, 0x6000);
	CHECK_EQ(vgpu_allocmap_remove(&m, 0x3000, NULL), 0);
	g[ng++] = m.gen;
	lo = 0, hi = UINT64_MAX;
	CHECK_EQ(vgpu_allocmap_gap(&m, 0x3800, 1, &lo, &hi), 0);        /* freed: part of the gap now */
	CHECK_EQ(lo, 0x1100);
	CHECK_EQ(hi, 0x8000);
	CHECK_EQ(vgpu_allocmap_drop_range(&m, 0x8000, 1, NULL), 1u);
	g[ng++] = m.gen;
	CHECK_EQ(vgpu_allocmap_drop_range(&m, 0x8000, 1, NULL), 0u);     /* nothing dropped: no change */
	CHECK_EQ(m.gen, g[ng - 1]);
	struct vgpu_alloc a;
	CHECK_EQ(vgpu_allocmap_pop(&m, &a), 0);
	g[ng++] = m.gen;
	/* a second map's changes take generations the first never had */
	struct vgpu_allocmap m2;
	vgpu_allocmap_init(&m2);
	CHECK_EQ(vgpu_allocmap_add(&m2, 0x1000, 0x100), 0);
	g[ng++] = m2.gen;
	for (int i = 0; i < ng; i++) {
		CHECK(g[i] != 0);
		for (int j = 0; j < i; j++)
			CHECK(g[i] != g[j]);
	}
	vgpu_allocmap_destroy(&m2);
	vgpu_allocmap_destroy(&m);
}

int main(void)
{
	test_bounds();
	test_gap_and_gen();
	test_top_of_space();
	test_overlap_and_remove();
	test_many();
	CHECK_DONE();
}
