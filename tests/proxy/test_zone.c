/* SPDX-License-Identifier: MIT */
/* test_zone.c — unit tests of quota arithmetic, size parsing, a zone's keys and its shared tables under threads. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "../../proxy/quota.h"
#include "../../proxy/zone.h"
#include "check.h"

static void test_size_parse(void)
{
	uint64_t v;
	CHECK_EQ(vgpu_size_parse("0", &v), 0);        CHECK_EQ(v, 0);
	CHECK_EQ(vgpu_size_parse("4096", &v), 0);     CHECK_EQ(v, 4096);
	CHECK_EQ(vgpu_size_parse("3K", &v), 0);       CHECK_EQ(v, 3072);
	CHECK_EQ(vgpu_size_parse("64m", &v), 0);      CHECK_EQ(v, 64ull << 20);
	CHECK_EQ(vgpu_size_parse("2G", &v), 0);       CHECK_EQ(v, 2ull << 30);
	CHECK_EQ(vgpu_size_parse("2GiB", &v), 0);     CHECK_EQ(v, 2ull << 30);
	CHECK_EQ(vgpu_size_parse("1TB", &v), 0);      CHECK_EQ(v, 1ull << 40);
	CHECK_EQ(vgpu_size_parse("18446744073709551615", &v), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ(vgpu_size_parse("18446744073709551616", &v), -ERANGE);
	CHECK_EQ(vgpu_size_parse("16777216T", &v), -ERANGE);
	CHECK_EQ(vgpu_size_parse("16777215T", &v), 0);
	CHECK_EQ(vgpu_size_parse("", &v), -EINVAL);
	CHECK_EQ(vgpu_size_parse("-1", &v), -EINVAL);
	CHECK_EQ(vgpu_size_parse(" 1", &v), -EINVAL);
	CHECK_EQ(vgpu_size_parse("1 K", &v), -EINVAL);
	CHECK_EQ(vgpu_size_parse("1X", &v), -EINVAL);
	CHECK_EQ(vgpu_size_parse("1KK", &v), -EINVAL);
	CHECK_EQ(vgpu_size_parse("K", &v), -EINVAL);
	CHECK_EQ(vgpu_size_parse(NULL, &v), -EINVAL);
}

static void test_quota(void)
{
	struct vgpu_quota q = { .limit = 1000, .used = 0 };
	CHECK_EQ(vgpu_quota_reserve(&q, 600), 0);
	CHECK_EQ(vgpu_quota_reserve(&q, 401), -EDQUOT);
	CHECK_EQ(vgpu_quota_reserve(&q, 400), 0);
	CHECK_EQ(vgpu_quota_reserve(&q, 1), -EDQUOT);
	CHECK_EQ(vgpu_quota_reserve(&q, 0), 0);
	CHECK_EQ(vgpu_quota_reserve(&q, UINT64_MAX), -EDQUOT);
	vgpu_quota_release(&q, 1000);
	CHECK_EQ(q.used, 0);
	CHECK_EQ(vgpu_quota_reserve(&q, UINT64_MAX), -EDQUOT);
	/* Unlimited: only 2^64 wrap-around is refused. */
	struct vgpu_quota u = { .limit = 0, .used = 0 };
	CHECK_EQ(vgpu_quota_reserve(&u, UINT64_MAX - 5), 0);
	CHECK_EQ(vgpu_quota_reserve(&u, 5), 0);
	CHECK_EQ(vgpu_quota_reserve(&u, 1), -EDQUOT);
	uint64_t used = 0;
	CHECK_EQ(vgpu_quota_reserve_atomic(&used, 10, 10), 0);
	CHECK_EQ(vgpu_quota_reserve_atomic(&used, 10, 1), -EDQUOT);
	vgpu_quota_release_atomic(&used, 10);
	CHECK_EQ(used, 0);
}

static void test_zone_accounting(void)
{
	struct vgpu_zone z;
	struct vgpu_zone_limits lim = { .mem_bytes = 1 << 20, .handles = 8, .bulk_inflight = 0 };
	uint64_t res, id;
	void *r;

	CHECK_EQ(vgpu_zone_init(&z, 1, "a-name-that-is-longer-than-sixty-four-bytes-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", &lim, NULL), 0);
	CHECK_EQ(z.name[64], '\0');
	/* Reservation converted into an allocation. */
	CHECK_EQ(vgpu_zone_mem_reserve(&z, 600 << 10), 0);
	res = 600 << 10;
	CHECK_EQ(vgpu_zone_mem_reserve(&z, 500 << 10), -EDQUOT);  /* 600K reserved + 500K > 1M */
	CHECK_EQ(vgpu_zone_dptr_add(&z, 0x10000000, 600 << 10, &res), 0);
	CHECK_EQ(res, 0);
	CHECK_EQ(z.mem.used, 600 << 10);
	CHECK_EQ(z.stats->mem_bytes, 600 << 10);
	CHECK_EQ(z.stats->allocs, 1);
	/* A failed allocation call gives its reservation back. */
	CHECK_EQ(vgpu_zone_mem_reserve(&z, 400 << 10), 0);
	vgpu_zone_mem_release(&z, 400 << 10);
	CHECK_EQ(z.mem.used, 600 << 10);
	CHECK_EQ(vgpu_zone_mem_reserve(&z, 425 << 10), -EDQUOT);
	CHECK_EQ(vgpu_zone_dptr_check(&z, 0x10000000 + 100, 200), 0);
	CHECK_EQ(vgpu_zone_dptr_check(&z, 0x10000000 + (600 << 10) - 1, 2), -EFAULT);
	CHECK_EQ(vgpu_zone_dptr_remove(&z, 0x10000000 + 1), -ENOENT);
	CHECK_EQ(vgpu_zone_dptr_remove(&z, 0x10000000), 0);
	CHECK_EQ(z.mem.used, 0);
	/* A module's global asked for twice: the same range of the same owner is recorded and
	 * charged once; any other overlap is refused; unloading the module forgets it. */
	const void *mod = (const void *)(uintptr_t)0x5000, *other = (const void *)(uintptr_t)0x6000;
	res = 0;
	CHECK_EQ(vgpu_zone_dptr_add_owned(&z, 0x20000000, 64, mod, &res), 0);
	CHECK_EQ(vgpu_zone_dptr_add_owned(&z, 0x20000000, 64, mod, &res), 1);
	CHECK_EQ(z.mem.used, 64);
	CHECK_EQ(vgpu_zone_dptr_add_owned(&z, 0x20000000, 64, other, &res), -EEXIST);
	CHECK_EQ(vgpu_zone_dptr_add_owned(&z, 0x20000000, 128, mod, &res), -EEXIST);
	CHECK_EQ(vgpu_zone_dptr_add_owned(&z, 0x20000000 + 8, 8, mod, &res), -EEXIST);
	CHECK_EQ(z.mem.used, 64);
	vgpu_zone_purge_owner(&z, mod, NULL, NULL, NULL);
	CHECK_EQ(z.mem.used, 0);
	CHECK_EQ(vgpu_zone_dptr_check(&z, 0x20000000, 4), -EFAULT);
	CHECK_EQ(z.stats->mem_bytes, 0);
	CHECK_EQ(z.stats->mem_peak, 600 << 10);
	/* Handles: NULL passes through both ways, quota is the zone's handle limit. */
	CHECK_EQ(vgpu_zone_handle_in(&z, 1, 0, &r), 0);
	CHECK(r == NULL);
	CHECK_EQ(vgpu_zone_handle_new(&z, 1, NULL, &id), 0);
	CHECK_EQ(id, 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(vgpu_zone_handle_new(&z, 2, (void *)(uintptr_t)(0x100 + 16 * i), &id), 0);
	CHECK_EQ(vgpu_zone_handle_new(&z, 2, (void *)(uintptr_t)0x900, &id), -EDQUOT);
	CHECK_EQ(z.stats->handles, 8);
	CHECK_EQ(z.stats->handles_by_type[2], 8);
	vgpu_zone_handle_drop(&z, 2, id);
	CHECK_EQ(z.stats->handles, 7);
	CHECK_EQ(vgpu_zone_handle_in(&z, 2, id, &r), -EBADF);
	int n = 0;
	while (vgpu_zone_pop_handle(&z, 2, &r) == 0)
		n++;
	CHECK_EQ(n, 7);
	CHECK_EQ(z.stats->handles, 0);
	vgpu_zone_destroy(&z);
}

/* Several channel threads of one zone allocate/free against one quota: never above it. */
struct worker_arg { struct vgpu_zone *z; unsigned idx; int failures; };

static void *hammer(void *p)
{
	struct worker_arg *a = p;
	for (unsigned i = 0; i < 20000; i++) {
		uint64_t base = 0x1000000000ull + ((uint64_t)a->idx << 28) + (uint64_t)(i % 64) * 0x10000;
		uint64_t res = 0x8000;
		if (vgpu_zone_mem_reserve(a->z, res) < 0)
			continue;
		if (vgpu_zone_dptr_check(a->z, base, 1) == 0) {  /* still allocated from a previous round */
			vgpu_zone_mem_release(a->z, res);
			if (vgpu_zone_dptr_remove(a->z, base) < 0)
				a->failures++;
			continue;
		}
		if (vgpu_zone_dptr_add(a->z, base, 0x8000, &res) < 0 || res != 0)
			a->failures++;
		if (a->z->mem.used > a->z->mem.limit)   /* racy read, but must never be seen above */
			a->failures++;
	}
	return NULL;
}

static void test_zone_threads(void)
{
	struct vgpu_zone z;
	struct vgpu_zone_limits lim = { .mem_bytes = 40 * 0x8000, .handles = 16, .bulk_inflight = 1 << 20 };
	pthread_t th[4];
	struct worker_arg a[4];

	CHECK_EQ(vgpu_zone_init(&z, 2, "t", &lim, NULL), 0);
	for (unsigned i = 0; i < 4; i++) {
		a[i] = (struct worker_arg){ &z, i, 0 };
		CHECK_EQ(pthread_create(&th[i], NULL, hammer, &a[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(a[i].failures, 0);
	}
	CHECK(z.mem.used <= lim.mem_bytes);
	CHECK_EQ(z.mem.used, z.amap.bytes);
	CHECK_EQ(vgpu_zone_bulk_reserve(&z, 1 << 20), 0);
	CHECK_EQ(vgpu_zone_bulk_reserve(&z, 1), -EDQUOT);
	vgpu_zone_bulk_release(&z, 1 << 20);
	vgpu_zone_destroy(&z);
}

/* Destroying a context forgets what was made in it, and nothing else. */
static void test_purge(void)
{
	struct vgpu_zone z;
	struct vgpu_zone_limits lim = { .mem_bytes = 0, .handles = 64, .bulk_inflight = 0 };
	void *ctx1 = (void *)(uintptr_t)0x1000, *ctx2 = (void *)(uintptr_t)0x2000, *r;
	uint64_t c1, c2, s1, s2, e2, res = 0;
	unsigned h, a;
	uint64_t b;

	CHECK_EQ(vgpu_zone_init(&z, 3, "p", &lim, NULL), 0);
	CHECK_EQ(vgpu_zone_handle_new_owned(&z, 1, ctx1, NULL, &c1), 0);
	CHECK_EQ(vgpu_zone_handle_new_owned(&z, 1, ctx2, NULL, &c2), 0);
	CHECK_EQ(vgpu_zone_handle_new_owned(&z, 11, (void *)(uintptr_t)0x3000, ctx1, &s1), 0);
	CHECK_EQ(vgpu_zone_handle_new_owned(&z, 11, (void *)(uintptr_t)0x3100, ctx2, &s2), 0);
	CHECK_EQ(vgpu_zone_handle_new_owned(&z, 10, (void *)(uintptr_t)0x3200, ctx2, &e2), 0);
	CHECK_EQ(vgpu_zone_dptr_add_owned(&z, 0x100000, 0x1000, ctx1, &res), 0);
	CHECK_EQ(vgpu_zone_dptr_add_owned(&z, 0x200000, 0x2000, ctx1, &res), 0);
	CHECK_EQ(vgpu_zone_dptr_add_owned(&z, 0x300000, 0x4000, ctx2, &res), 0);
	CHECK_EQ(z.mem.used, 0x7000);
	/* each context's limits charged as cuCtxSetLimit's handler does */
	CHECK_EQ(vgpu_zone_mem_reserve(&z, 0x18000), 0);
	z.limit_charge[z.nlimit_charge++] = (struct vgpu_limit_charge){ ctx2, CU_LIMIT_STACK_SIZE, 0x8000 };
	z.limit_charge[z.nlimit_charge++] = (struct vgpu_limit_charge){ ctx1, CU_LIMIT_MALLOC_HEAP_SIZE, 0x8000 };
	z.limit_charge[z.nlimit_charge++] = (struct vgpu_limit_charge){ ctx1, CU_LIMIT_STACK_SIZE, 0x8000 };
	CHECK_EQ(z.mem.used, 0x1f000);
	CHECK_EQ(vgpu_zone_handle_take(&z, 1, c1, &r), 0);
	CHECK(r == ctx1);
	vgpu_zone_purge_owner(&z, ctx1, &h, &a, &b);
	CHECK_EQ(h, 1);
	CHECK_EQ(a, 2);
	CHECK_EQ(b, 0x13000);                  /* two allocations and two limits of ctx1 */
	CHECK_EQ(z.mem.used, 0xc000);          /* ctx2's allocation and its limit */
	CHECK_EQ(z.nlimit_charge, 1);
	CHECK(z.limit_charge[0].ctx == ctx2);
	CHECK_EQ(vgpu_zone_limits_drop(&z), 0x8000);
	CHECK_EQ(z.mem.used, 0x4000);
	CHECK_EQ(z.stats->mem_bytes, 0x4000);
	CHECK_EQ(z.stats->handles, 3);
	CHECK_EQ(vgpu_zone_handle_in(&z, 11, s1, &r), -EBADF);      /* made in ctx1: gone */
	CHECK_EQ(vgpu_zone_handle_in(&z, 11, s2, &r), 0);           /* ctx2's: kept */
	CHECK_EQ(vgpu_zone_handle_in(&z, 1, c2, &r), 0);
	CHECK_EQ(vgpu_zone_dptr_check(&z, 0x100000, 1), -EFAULT);
	CHECK_EQ(vgpu_zone_dptr_check(&z, 0x300000, 0x4000), 0);
	vgpu_zone_purge_owner(&z, NULL, &h, &a, &b);                /* NULL owner: nothing */
	CHECK_EQ(h + a, 0);
	vgpu_zone_destroy(&z);
}

/* Arrays' charges and texture objects follow their context (texture.c). */
static void test_texture_records(void)
{
	struct vgpu_zone z;
	struct vgpu_zone_limits lim = { .mem_bytes = 4u << 20, .handles = 64, .bulk_inflight = 0 };
	const void *ctx1 = (void *)(uintptr_t)0x1000, *ctx2 = (void *)(uintptr_t)0x2000, *got = NULL;

	/* the estimate: rows padded to 512 bytes, heights to 8, the whole to 64 KiB */
	CHECK_EQ(vgpu_tex_array_charge(256, 1024, 0, CU_AD_FORMAT_FLOAT, 1), 1u << 20);
	CHECK_EQ(vgpu_tex_array_charge(1, 0, 0, CU_AD_FORMAT_UNSIGNED_INT8, 1), 64u << 10);
	CHECK_EQ(vgpu_tex_array_charge(100, 3, 2, CU_AD_FORMAT_HALF, 4), 64u << 10);  /* 1024 x 8 x 2 */
	CHECK_EQ(vgpu_tex_array_charge(4096, 4096, 4, CU_AD_FORMAT_FLOAT, 4), 1ull << 30);
	CHECK_EQ(vgpu_tex_array_charge(64, 64, 1, 0xb0 /* NV12: 16 bytes a texel assumed */, 3), 64u << 10);
	CHECK_EQ(vgpu_tex_array_charge(0, 1, 1, CU_AD_FORMAT_FLOAT, 1), 0);
	CHECK_EQ(vgpu_tex_array_charge(1ull << 32, 1ull << 32, 1ull << 20, CU_AD_FORMAT_FLOAT, 4), 0);
	CHECK_EQ(vgpu_tex_array_charge(1ull << 33, 1, 1, CU_AD_FORMAT_FLOAT, 1), 0);

	CHECK_EQ(vgpu_zone_init(&z, 4, "t", &lim, NULL), 0);
	CHECK_EQ(vgpu_zone_mem_reserve(&z, 3u << 20), 0);
	CHECK_EQ(vgpu_tex_array_note(&z, (void *)(uintptr_t)0x10, ctx1, 1u << 20), 0);
	CHECK_EQ(vgpu_tex_array_note(&z, (void *)(uintptr_t)0x20, ctx2, 1u << 20), 0);
	CHECK_EQ(vgpu_tex_array_note(&z, (void *)(uintptr_t)0x30, ctx1, 1u << 20), 0);
	CHECK_EQ(vgpu_zone_mem_reserve(&z, 2u << 20), -EDQUOT);
	CHECK_EQ(vgpu_tex_obj_add(&z, 7, ctx1, 0), 0);
	CHECK_EQ(vgpu_tex_obj_add(&z, 7, ctx2, 1), 0);   /* the same value as a surface: another object */
	CHECK_EQ(vgpu_tex_obj_add(&z, 9, ctx2, 0), 0);
	CHECK_EQ(vgpu_tex_objects(&z), 3);
	CHECK(vgpu_tex_obj_has(&z, 7, 0) && vgpu_tex_obj_has(&z, 7, 1) && !vgpu_tex_obj_has(&z, 9, 1));
	CHECK_EQ(vgpu_tex_obj_take(&z, 9, 0, &got), 0);
	CHECK(got == ctx2);
	CHECK_EQ(vgpu_tex_obj_take(&z, 9, 0, &got), -1);
	CHECK_EQ(vgpu_tex_array_forget(&z, (void *)(uintptr_t)0x20), 1u << 20);
	CHECK_EQ(vgpu_tex_array_forget(&z, (void *)(uintptr_t)0x20), 0);
	vgpu_zone_mem_release(&z, 1u << 20);
	/* ctx1 goes: its two arrays' charges come back, its texture is forgotten */
	CHECK_EQ(vgpu_tex_context_gone(&z, ctx1), 3);
	CHECK_EQ(z.mem.used, 0);
	CHECK(!vgpu_tex_obj_has(&z, 7, 0) && vgpu_tex_obj_has(&z, 7, 1));
	CHECK_EQ(vgpu_tex_context_gone(&z, ctx1), 0);
	/* at most VGPU_TEX_OBJ_MAX objects */
	for (uint32_t i = 1; i < VGPU_TEX_OBJ_MAX; i++)
		CHECK_EQ(vgpu_tex_obj_add(&z, 100 + i, ctx2, 0), 0);
	CHECK_EQ(vgpu_tex_obj_add(&z, 1, ctx2, 0), -1);
	CHECK_EQ(vgpu_tex_objects(&z), VGPU_TEX_OBJ_MAX);
	vgpu_zone_destroy(&z);
}

/* Each zone's handle, physical-memory and pinned-region keys are its own: different from
 * another zone's and from each other (one draw, three keys). */
static void test_keys(void)
{
	struct vgpu_zone a, b;
	struct vgpu_zone_limits lim = { .mem_bytes = 1 << 20, .handles = 8 };
	CHECK_EQ(vgpu_zone_init(&a, 1, "a", &lim, NULL), 0);
	CHECK_EQ(vgpu_zone_init(&b, 2, "b", &lim, NULL), 0);
	CHECK(a.htab.key != b.htab.key);
	CHECK(a.vmm.key != b.vmm.key);
	CHECK(a.pinned.key != b.pinned.key);
	CHECK((a.htab.key ^ a.vmm.key) >> 32 != 0 && (a.vmm.key ^ a.pinned.key) >> 32 != 0);
	CHECK(a.vmm.key >> 63 && a.pinned.key >> 63);   /* ids never 0 */
	vgpu_zone_destroy(&a);
	vgpu_zone_destroy(&b);
}

int main(void)
{
	test_keys();
	test_texture_records();
	test_purge();
	test_size_parse();
	test_quota();
	test_zone_accounting();
	test_zone_threads();
	CHECK_DONE();
}
