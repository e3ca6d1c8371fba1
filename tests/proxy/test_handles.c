/* SPDX-License-Identifier: MIT */
/* test_handles.c — unit tests of the per-zone opaque handle table (proxy/handles.c). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../../proxy/handles.h"
#include "check.h"

#define P(x) ((void *)(uintptr_t)(x))

static void test_basic(void)
{
	struct vgpu_htab t;
	uint64_t a, b, c, again;
	void *r;
	int added;

	CHECK_EQ(vgpu_htab_init(&t, 0), -EINVAL);
	CHECK_EQ(vgpu_htab_init(&t, 100), 0);
	CHECK_EQ(vgpu_htab_insert(&t, 1, P(0x1000), &a, &added), 0);
	CHECK_EQ(added, 1);
	CHECK(a != 0);
	CHECK_EQ(vgpu_htab_insert(&t, 2, P(0x2000), &b, NULL), 0);
	/* Same real pointer, different type: a distinct handle. */
	CHECK_EQ(vgpu_htab_insert(&t, 2, P(0x1000), &c, NULL), 0);
	CHECK(a != b && b != c && a != c);
	/* Same (type, real) again: the existing id, nothing added. */
	CHECK_EQ(vgpu_htab_insert(&t, 1, P(0x1000), &again, &added), 0);
	CHECK_EQ(added, 0);
	CHECK_EQ(again, a);
	CHECK_EQ(vgpu_htab_count(&t, 1), 1);
	CHECK_EQ(vgpu_htab_count(&t, 2), 2);
	CHECK_EQ(vgpu_htab_count(&t, VGPU_HTAB_MAX_TYPES), 3);

	CHECK_EQ(vgpu_htab_lookup(&t, 1, a, &r), 0);
	CHECK(r == P(0x1000));
	CHECK_EQ(vgpu_htab_lookup(&t, 2, c, &r), 0);
	CHECK(r == P(0x1000));
	/* Wrong type. */
	CHECK_EQ(vgpu_htab_lookup(&t, 2, a, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 1, b, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, VGPU_HTAB_MAX_TYPES, a, &r), -EBADF);
	/* NULL id. */
	CHECK_EQ(vgpu_htab_lookup(&t, 1, 0, &r), -ENOENT);
	/* Foreign / made-up ids: index out of range, index 0 with a generation, generation 0,
	 * a generation never issued, and all-ones. */
	CHECK_EQ(vgpu_htab_lookup(&t, 1, (1ull << 32) | 99, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 1, 1ull << 32, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 1, a & 0xffffffffu, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 1, a + (5ull << 32), &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 1, UINT64_MAX, &r), -EBADF);
	/* Bad inserts. */
	CHECK_EQ(vgpu_htab_insert(&t, 1, NULL, &again, NULL), -EINVAL);
	CHECK_EQ(vgpu_htab_insert(&t, VGPU_HTAB_MAX_TYPES, P(8), &again, NULL), -EINVAL);
	vgpu_htab_destroy(&t);
}

static void test_stale_and_reuse(void)
{
	struct vgpu_htab t;
	uint64_t a, a2;
	void *r;

	CHECK_EQ(vgpu_htab_init(&t, 4), 0);
	CHECK_EQ(vgpu_htab_insert(&t, 3, P(0x10), &a, NULL), 0);
	CHECK_EQ(vgpu_htab_remove(&t, 3, a, &r), 0);
	CHECK(r == P(0x10));
	CHECK_EQ(vgpu_htab_count(&t, 3), 0);
	/* Removed: stale; removing twice fails too. */
	CHECK_EQ(vgpu_htab_lookup(&t, 3, a, &r), -EBADF);
	CHECK_EQ(vgpu_htab_remove(&t, 3, a, &r), -EBADF);
	/* The slot is reused (same index) with a new generation: the old id stays stale. */
	CHECK_EQ(vgpu_htab_insert(&t, 3, P(0x20), &a2, NULL), 0);
	CHECK_EQ((uint32_t)a2, (uint32_t)a);
	CHECK((a2 >> 32) != (a >> 32));
	CHECK_EQ(vgpu_htab_lookup(&t, 3, a, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 3, a2, &r), 0);
	CHECK(r == P(0x20));
	/* The same real pointer re-registered after removal gets a fresh id, not the stale one. */
	CHECK_EQ(vgpu_htab_remove_real(&t, 3, P(0x20)), 0);
	CHECK_EQ(vgpu_htab_remove_real(&t, 3, P(0x20)), -ENOENT);
	CHECK_EQ(vgpu_htab_lookup(&t, 3, a2, &r), -EBADF);
	CHECK_EQ(vgpu_htab_insert(&t, 3, P(0x20), &a, NULL), 0);
	CHECK(a != a2);
	vgpu_htab_destroy(&t);
}

static void test_quota(void)
{
	struct vgpu_htab t;
	uint64_t ids[40], x;

	CHECK_EQ(vgpu_htab_init(&t, 33), 0);
	for (int i = 0; i < 33; i++)
		CHECK_EQ(vgpu_htab_insert(&t, i % 5, P(0x1000 + 16 * i), &ids[i], NULL), 0);
	CHECK_EQ(vgpu_htab_insert(&t, 0, P(0x9990), &x, NULL), -EDQUOT);
	/* A known handle is still answered at the quota (nothing new is stored). */
	CHECK_EQ(vgpu_htab_insert(&t, 0, P(0x1000), &x, NULL), 0);
	CHECK_EQ(x, ids[0]);
	CHECK_EQ(vgpu_htab_remove(&t, 1, ids[6], NULL), 0);
	CHECK_EQ(vgpu_htab_insert(&t, 0, P(0x9990), &x, NULL), 0);
	CHECK_EQ(vgpu_htab_insert(&t, 0, P(0x9999), &x, NULL), -EDQUOT);
	CHECK(t.cap <= 33);
	vgpu_htab_destroy(&t);
}

/* Random operations checked against a plain model array. */
static void test_model(void)
{
	enum { N = 3000, LIMIT = 2000 };
	static uint64_t id[N];
	static int live[N];
	struct vgpu_htab t;
	uint64_t rnd = 0x1234567;
	uint32_t nlive = 0;

	memset(live, 0, sizeof(live));
	CHECK_EQ(vgpu_htab_init(&t, LIMIT), 0);
	for (int step = 0; step < 200000; step++) {
		rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
		unsigned k = (unsigned)(rnd >> 33) % N, type = k % 7;
		void *real = P(0x100000 + 64ull * k), *r;
		if (!live[k]) {
			int rc = vgpu_htab_insert(&t, type, real, &id[k], NULL);
			if (nlive >= LIMIT) {
				CHECK_EQ(rc, -EDQUOT);
			} else {
				CHECK_EQ(rc, 0);
				live[k] = 1;
				nlive++;
			}
		} else if ((rnd >> 20) & 1) {
			CHECK_EQ(vgpu_htab_lookup(&t, type, id[k], &r), 0);
			CHECK(r == real);
			CHECK_EQ(vgpu_htab_lookup(&t, (type + 1) % 7, id[k], &r), -EBADF);
		} else {
			CHECK_EQ(vgpu_htab_remove(&t, type, id[k], NULL), 0);
			CHECK_EQ(vgpu_htab_lookup(&t, type, id[k], &r), -EBADF);
			live[k] = 0;
			nlive--;
		}
		if (check_failures > 10)
			break;
	}
	CHECK_EQ(vgpu_htab_count(&t, VGPU_HTAB_MAX_TYPES), nlive);
	/* Drain with pop: every live handle comes out exactly once. */
	uint32_t popped = 0;
	for (unsigned type = 0; type < 7; type++) {
		uint64_t pid;
		void *r;
		while (vgpu_htab_pop(&t, type, &pid, &r) == 0) {
			unsigned k = (unsigned)(((uintptr_t)r - 0x100000) / 64);
			CHECK(k < N && live[k] && id[k] == pid && k % 7 == type);
			if (k < N)
				live[k] = 0;
			popped++;
		}
	}
	CHECK_EQ(popped, nlive);
	CHECK_EQ(vgpu_htab_count(&t, VGPU_HTAB_MAX_TYPES), 0);
	vgpu_htab_destroy(&t);
}

/* Two tables with different keys: the same slot numbering never gives the same ids. */
static void test_keys(void)
{
	struct vgpu_htab a, b;
	uint64_t ia[16], ib[16];
	void *r;

	CHECK_EQ(vgpu_htab_init(&a, 64), 0);
	CHECK_EQ(vgpu_htab_init(&b, 64), 0);
	vgpu_htab_set_key(&a, 0x1234567800000000ull);
	vgpu_htab_set_key(&b, 0x0badcafe00abcdefull);
	for (int i = 0; i < 16; i++) {
		CHECK_EQ(vgpu_htab_insert(&a, 1, P(0x1000 + 16 * i), &ia[i], NULL), 0);
		CHECK_EQ(vgpu_htab_insert(&b, 1, P(0x1000 + 16 * i), &ib[i], NULL), 0);
		CHECK(ia[i] != 0 && ib[i] != 0);
	}
	for (int i = 0; i < 16; i++) {
		CHECK_EQ(vgpu_htab_lookup(&a, 1, ia[i], &r), 0);
		CHECK(r == P(0x1000 + 16 * i));
		CHECK_EQ(vgpu_htab_lookup(&b, 1, ia[i], &r), -EBADF);   /* a's id is foreign in b */
		CHECK_EQ(vgpu_htab_lookup(&a, 1, ib[i], &r), -EBADF);
	}
	/* Keyed ids are still stale after removal and never 0, even with an all-zero key. */
	CHECK_EQ(vgpu_htab_remove(&a, 1, ia[3], NULL), 0);
	CHECK_EQ(vgpu_htab_lookup(&a, 1, ia[3], &r), -EBADF);
	vgpu_htab_destroy(&a);
	vgpu_htab_destroy(&b);
	CHECK_EQ(vgpu_htab_init(&a, 8), 0);
	vgpu_htab_set_key(&a, 0);
	CHECK_EQ(vgpu_htab_insert(&a, 0, P(0x10), &ia[0], NULL), 0);
	CHECK(ia[0] != 0);
	CHECK_EQ(vgpu_htab_lookup(&a, 0, 0, &r), -ENOENT);
	vgpu_htab_destroy(&a);
}

/* Destroy in two steps: a detached entry does not resolve, and the same pointer re-registers. */
static void test_detach(void)
{
	struct vgpu_htab t;
	uint64_t a, a2, again, b;
	void *r;

	CHECK_EQ(vgpu_htab_init(&t, 8), 0);
	vgpu_htab_set_key(&t, 0x5555aaaa00000000ull);
	CHECK_EQ(vgpu_htab_insert(&t, 2, P(0x100), &a, NULL), 0);
	CHECK_EQ(vgpu_htab_detach(&t, 2, P(0x100), &again), 0);
	CHECK_EQ(again, a);
	CHECK_EQ(vgpu_htab_lookup(&t, 2, a, &r), -EBADF);
	CHECK_EQ(vgpu_htab_detach(&t, 2, P(0x100), &again), -ENOENT);
	/* The driver refused: the same id resolves again. */
	CHECK_EQ(vgpu_htab_reattach(&t, 2, a), 0);
	CHECK_EQ(vgpu_htab_reattach(&t, 2, a), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 2, a, &r), 0);
	CHECK(r == P(0x100));
	/* The driver destroyed it and at once handed the same pointer to a new object. */
	CHECK_EQ(vgpu_htab_detach(&t, 2, P(0x100), &again), 0);
	CHECK_EQ(vgpu_htab_insert(&t, 2, P(0x100), &a2, NULL), 0);
	CHECK(a2 != a);
	CHECK_EQ(vgpu_htab_remove(&t, 2, a, NULL), 0);          /* the old entry goes */
	CHECK_EQ(vgpu_htab_lookup(&t, 2, a2, &r), 0);           /* the new one stays */
	CHECK(r == P(0x100));
	CHECK_EQ(vgpu_htab_insert(&t, 2, P(0x100), &b, NULL), 0);
	CHECK_EQ(b, a2);                                         /* and is what the pointer maps to */
	CHECK_EQ(vgpu_htab_count(&t, 2), 1);
	/* Detached entries count against the quota until removed, and pop drains them. */
	CHECK_EQ(vgpu_htab_detach(&t, 2, P(0x100), &again), 0);
	uint64_t pid;
	CHECK_EQ(vgpu_htab_pop(&t, 2, &pid, &r), 0);
	CHECK_EQ(vgpu_htab_count(&t, 2), 0);
	vgpu_htab_destroy(&t);
}

/* Purging an owner takes what it owns, and what those own (context > module > function). */
static void test_purge_nested(void)
{
	struct vgpu_htab t;
	uint64_t ctx, mod, fn1, fn2, other, st;
	void *r;

	CHECK_EQ(vgpu_htab_init(&t, 64), 0);
	CHECK_EQ(vgpu_htab_insert_owned(&t, 1, P(0x10), NULL, &ctx, NULL), 0);
	CHECK_EQ(vgpu_htab_insert_owned(&t, 2, P(0x20), P(0x10), &mod, NULL), 0);
	CHECK_EQ(vgpu_htab_insert_owned(&t, 3, P(0x30), P(0x20), &fn1, NULL), 0);
	CHECK_EQ(vgpu_htab_insert_owned(&t, 3, P(0x31), P(0x20), &fn2, NULL), 0);
	CHECK_EQ(vgpu_htab_insert_owned(&t, 11, P(0x40), P(0x10), &st, NULL), 0);
	CHECK_EQ(vgpu_htab_insert_owned(&t, 11, P(0x41), P(0x99), &other, NULL), 0);
	/* Unloading the module alone takes its functions only. */
	CHECK_EQ(vgpu_htab_purge(&t, P(0x20)), 2);
	CHECK_EQ(vgpu_htab_lookup(&t, 3, fn1, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 2, mod, &r), 0);
	CHECK_EQ(vgpu_htab_insert_owned(&t, 3, P(0x30), P(0x20), &fn1, NULL), 0);
	/* The context takes the module, its function and the stream; nothing else. */
	CHECK_EQ(vgpu_htab_remove(&t, 1, ctx, NULL), 0);
	CHECK_EQ(vgpu_htab_purge(&t, P(0x10)), 3);
	CHECK_EQ(vgpu_htab_lookup(&t, 2, mod, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 3, fn1, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 11, st, &r), -EBADF);
	CHECK_EQ(vgpu_htab_lookup(&t, 11, other, &r), 0);
	CHECK_EQ(vgpu_htab_count(&t, VGPU_HTAB_MAX_TYPES), 1);
	CHECK_EQ(vgpu_htab_purge(&t, NULL), 0);
	vgpu_htab_destroy(&t);
}

/* A table rebuilt slot by slot from another (checkpoint/restore): every live id names the
 * new object, stale ids stay stale, new ids never repeat an id the old table issued. */
static void test_restore(void)
{
	struct vgpu_htab a, b, small;
	uint64_t ids[8], stale[3], id;
	void *r;

	CHECK_EQ(vgpu_htab_init(&a, 64), 0);
	vgpu_htab_set_key(&a, 0x1234567800000000ull);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(vgpu_htab_insert_owned(&a, 1 + i % 3, P(0x1000 * (i + 1)), i ? P(0x1000) : NULL, &ids[i], NULL), 0);
	/* three destroyed: their ids are stale, their slots free with a newer generation */
	for (int i = 0; i < 3; i++) {
		stale[i] = ids[5 + i];
		CHECK_EQ(vgpu_htab_remove(&a, 1 + (5 + i) % 3, stale[i], NULL), 0);
	}
	CHECK_EQ(vgpu_htab_init(&b, 64), 0);
	CHECK_EQ(vgpu_htab_restore_begin(&b, a.key, a.used), 0);
	for (uint32_t i = 0; i < a.used; i++) {
		unsigned t = 0;
		void *real = NULL;
		const void *own = NULL;
		uint32_t gen = 0;
		int live = vgpu_htab_slot(&a, i, &t, &real, &own, &gen);
		CHECK(live == 0 || live == 1);
		/* the new objects live elsewhere; owners translated the same way */
		CHECK_EQ(vgpu_htab_restore_slot(&b, i, gen, t, live ? P((uintptr_t)real + 0x100000) : NULL,
						 own ? P((uintptr_t)own + 0x100000) : NULL), 0);
	}
	CHECK_EQ(vgpu_htab_slot(&a, a.used, &(unsigned){0}, &r, &(const void *){NULL}, &(uint32_t){0}), -ENOENT);
	/* a slot set twice, and the same object twice, are refused */
	CHECK_EQ(vgpu_htab_restore_slot(&b, 0, 1, 1, P(0x999000), NULL), -EEXIST);
	vgpu_htab_restore_end(&b);
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(vgpu_htab_lookup(&b, 1 + i % 3, ids[i], &r), 0);
		CHECK(r == P(0x1000 * (i + 1) + 0x100000));
		CHECK_EQ(vgpu_htab_find(&b, 1 + i % 3, r, &id), 0);
		CHECK_EQ(id, ids[i]);
	}
	for (int i = 0; i < 3; i++)
		CHECK_EQ(vgpu_htab_lookup(&b, 1 + (5 + i) % 3, stale[i], &r), -EBADF);
	CHECK_EQ(vgpu_htab_count(&b, VGPU_HTAB_MAX_TYPES), 5);
	/* new handles reuse the free slots with new generations: never an old id */
	for (int i = 0; i < 6; i++) {
		CHECK_EQ(vgpu_htab_insert(&b, 2, P(0x900000 + 0x1000 * i), &id, NULL), 0);
		for (int j = 0; j < 8; j++)
			CHECK(id != ids[j]);
	}
	/* owners came along: destroying the owner forgets what it owned */
	CHECK_EQ(vgpu_htab_purge(&b, P(0x101000)), 4);
	CHECK_EQ(vgpu_htab_lookup(&b, 2, ids[1], &r), -EBADF);
	/* only an empty table is rebuilt, within its limit */
	CHECK_EQ(vgpu_htab_restore_begin(&b, a.key, 4), -EBUSY);
	CHECK_EQ(vgpu_htab_init(&small, 4), 0);
	CHECK_EQ(vgpu_htab_restore_begin(&small, a.key, 8), -EDQUOT);
	vgpu_htab_destroy(&small);
	vgpu_htab_destroy(&a);
	vgpu_htab_destroy(&b);
}

int main(void)
{
	test_restore();
	test_purge_nested();
	test_detach();
	test_keys();
	test_basic();
	test_stale_and_reuse();
	test_quota();
	test_model();
	CHECK_DONE();
}
