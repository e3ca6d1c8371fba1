/* SPDX-License-Identifier: MIT */
/* test_pool.c — unit tests of a registration's shared budgets and IPC table (proxy/pool.c): slots, charges, exports, and a worker dying with the lock held. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../proxy/pool.h"
#include "check.h"

static const uint8_t drv[64] = { 1, 2, 3 };

/* Live entries of slot s, counted in the table itself. */
static unsigned entries_of(const struct vgpu_pool *p, int s)
{
	unsigned n = 0;
	for (unsigned e = 0; e < VGPU_IPC_ENTRIES; e++)
		n += p->ipc[e].kind && p->ipc[e].slot == s;
	return n;
}

/* Charges go to the slot and the total; a dropped slot's share leaves the total. */
static void test_charges(void)
{
	int fd;
	struct vgpu_pool *p = vgpu_pool_create(1000, 0, &fd);
	CHECK(p != NULL);
	int a = vgpu_pool_slot_take(p), b = vgpu_pool_slot_take(p);
	CHECK(a >= 0 && b >= 0 && a != b);
	CHECK_EQ(vgpu_pool_charge(p, a, VGPU_POOL_MEM, 600, 0), 0);
	CHECK_EQ(vgpu_pool_charge(p, b, VGPU_POOL_MEM, 500, 0), -EDQUOT);   /* 1,100 > 1,000 */
	CHECK_EQ(vgpu_pool_charge(p, b, VGPU_POOL_MEM, 400, 0), 0);
	CHECK_EQ(vgpu_pool_total(p, VGPU_POOL_MEM), 1000);
	vgpu_pool_uncharge(p, b, VGPU_POOL_MEM, 1 << 20);   /* more than it holds: only its own */
	CHECK_EQ(vgpu_pool_total(p, VGPU_POOL_MEM), 600);
	vgpu_pool_slot_drop(p, a);
	CHECK_EQ(vgpu_pool_total(p, VGPU_POOL_MEM), 0);
	vgpu_pool_slot_drop(p, b);
	vgpu_pool_destroy(p);
	close(fd);
}

/* A slot's exports go with it, and only its own; counts follow puts, drops and slot drops. */
static void test_exports(void)
{
	int fd;
	struct vgpu_pool *p = vgpu_pool_create(0, 0, &fd);
	CHECK(p != NULL);
	int a = vgpu_pool_slot_take(p), b = vgpu_pool_slot_take(p);
	uint32_t ia[3], ib;
	uint8_t na[3][16], nb[16], got[64];
	uint64_t size;
	int slot;
	for (int i = 0; i < 3; i++)
		CHECK_EQ(vgpu_pool_ipc_put(p, a, 1, drv, 4096u << i, &ia[i], na[i]), 0);
	CHECK_EQ(vgpu_pool_ipc_put(p, b, 2, drv, 64, &ib, nb), 0);
	CHECK_EQ(p->ipc_n[a], 3);
	CHECK_EQ(p->ipc_n[b], 1);
	CHECK_EQ(vgpu_pool_ipc_get(p, ia[1], na[1], 1, got, &size, &slot), 0);
	CHECK_EQ(size, 8192);
	CHECK_EQ(slot, a);
	CHECK_EQ(vgpu_pool_ipc_get(p, ia[1], na[0], 1, got, &size, &slot), -ENOENT);   /* wrong nonce */
	CHECK_EQ(vgpu_pool_ipc_get(p, ib, nb, 1, got, &size, &slot), -ENOENT);         /* wrong kind */
	vgpu_pool_ipc_drop(p, b, ia[0]);   /* not b's: stays */
	CHECK_EQ(entries_of(p, a), 3);
	vgpu_pool_ipc_drop(p, a, ia[0]);
	CHECK_EQ(entries_of(p, a), 2);
	CHECK_EQ(p->ipc_n[a], 2);
	vgpu_pool_slot_drop(p, a);
	CHECK_EQ(entries_of(p, a), 0);
	CHECK_EQ(p->ipc_n[a], 0);
	CHECK_EQ(entries_of(p, b), 1);   /* the other zone's export stays */
	CHECK_EQ(vgpu_pool_ipc_get(p, ib, nb, 2, got, &size, &slot), 0);
	/* the slot taken again starts empty */
	CHECK_EQ(vgpu_pool_slot_take(p), a);
	CHECK_EQ(entries_of(p, a), 0);
	vgpu_pool_slot_drop(p, b);
	CHECK_EQ(entries_of(p, b), 0);
	vgpu_pool_destroy(p);
	close(fd);
}

/* A worker that died holding the lock, mid-way through an export: the next locker counts the
 * entries again, so the dead zone's slot drop still clears every entry it left. */
static void test_owner_died(void)
{
	int fd;
	struct vgpu_pool *p = vgpu_pool_create(100, 0, &fd);
	CHECK(p != NULL);
	int a = vgpu_pool_slot_take(p);
	uint32_t idx;
	uint8_t nonce[16];
	CHECK_EQ(vgpu_pool_ipc_put(p, a, 1, drv, 64, &idx, nonce), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct vgpu_pool *q = vgpu_pool_map(fd);   /* as a worker does */
		if (!q || pthread_mutex_lock(&q->lock))
			_exit(1);
		/* an export written, its count not yet; a charge in the slot, not the total */
		q->ipc[VGPU_IPC_ENTRIES - 1].kind = 1;
		q->ipc[VGPU_IPC_ENTRIES - 1].slot = a;
		q->slot[a][VGPU_POOL_MEM] = 7;
		_exit(0);   /* with the lock held */
	}
	int st = 0;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ(vgpu_pool_total(p, VGPU_POOL_MEM), 7);   /* recomputed on EOWNERDEAD */
	CHECK_EQ(p->ipc_n[a], 2);
	vgpu_pool_slot_drop(p, a);
	CHECK_EQ(entries_of(p, a), 0);
	CHECK_EQ(vgpu_pool_total(p, VGPU_POOL_MEM), 0);
	vgpu_pool_destroy(p);
	close(fd);
}

int main(void)
{
	test_charges();
	test_exports();
	test_owner_died();
	CHECK_DONE();
}
