/* SPDX-License-Identifier: MIT */
/* Kernel execution: the blocks of a launch are handed out one at a time to a small pool
 * of worker threads (plus the launching stream's own thread) through an atomic counter. */
#include "sim.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Atomic uint64_t g_insn_count;

/* Dynamic parallelism: a parameter buffer a kernel asked for, then the grid it launched with
 * it (in launch order); the children run once their launching grid has, before it counts as
 * complete, as on a GPU. */
struct cdp_child {
	const struct ptx_func *fn;     /* NULL until launched (a buffer asked for without one) */
	uint32_t grid[3], block[3], shmem;
	uint64_t buf, size;            /* the parameters, in the launching context's device heap */
	int launched;
	struct cdp_child *next;        /* the next buffer asked for before it */
	struct cdp_child *next_launched;
};

struct job {
	struct sim_launch_op *k;
	pthread_mutex_t cdp_lock;
	struct cdp_child *cdp;         /* buffers asked for, newest first */
	struct cdp_child *launched, **launched_tail;   /* launched ones, in order */
	struct ptx_env env;
	uint64_t nblocks;
	_Atomic uint64_t next;
	_Atomic int rc;
	_Atomic uint64_t insns;     /* interpreted so far, all participants */
	_Atomic int stop;           /* a cooperative launch: one of its blocks failed */
	int active;                 /* participants, under pool_lock */
	char err[512];
	pthread_mutex_t err_lock;
	struct job *nextjob;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;   /* new job */
static pthread_cond_t pool_idle = PTHREAD_COND_INITIALIZER;   /* a participant left */
static struct job *jobs;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static uint64_t shared_win, local_win, param_win;
static uint64_t max_insns;

/* The launch's error is its first block's failure (rc, err); later ones are dropped. */
static void job_fail(struct job *j, int rc, const char *err)
{
	int expect = 0;
	if (atomic_compare_exchange_strong(&j->rc, &expect, rc)) {
		pthread_mutex_lock(&j->err_lock);
		snprintf(j->err, sizeof(j->err), "%s", err);
		pthread_mutex_unlock(&j->err_lock);
	}
}

/* Block number b of the launch (x fastest), counting its instructions into *n. */
static int job_block(struct job *j, uint64_t b, uint64_t *n, char *err, size_t errlen)
{
	const struct ptx_launch *l = &j->k->l;
	uint64_t gx = l->grid[0], gxy = (uint64_t)l->grid[0] * l->grid[1];
	return ptx_block_run(l, &j->env, (uint32_t)(b % gx), (uint32_t)((b / gx) % l->grid[1]),
	                     (uint32_t)(b / gxy), n, err, errlen);
}

static void job_work(struct job *j)
{
	const struct ptx_launch *l = &j->k->l;
	unsigned outer = sim_kernel_space;
	sim_kernel_space = j->k->space + 1;
	uint64_t n = 0;
	for (;;) {
		uint64_t b = atomic_fetch_add(&j->next, 1);
		if (b >= j->nblocks)
			break;
		char err[512] = "";
		uint64_t before = n;
		int rc = job_block(j, b, &n, err, sizeof(err));
		/* the watchdog also bounds the whole launch, however many blocks it has */
		uint64_t total = atomic_fetch_add(&j->insns, n - before) + (n - before);
		if (!rc && max_insns && total > max_insns && b + 1 < j->nblocks) {
			rc = -ETIMEDOUT;
			snprintf(err, sizeof(err), "watchdog: launch of %.200s exceeded %llu instructions after "
			         "%llu of %llu blocks (VGPU_SIM_WATCHDOG_INSNS)", l->fn->name,
			         (unsigned long long)max_insns, (unsigned long long)b + 1,
			         (unsigned long long)j->nblocks);
		}
		if (rc) {
			job_fail(j, rc, err);
			atomic_store(&j->next, j->nblocks);   /* stop handing out blocks */
			break;
		}
	}
	atomic_fetch_add(&g_insn_count, n);
	sim_kernel_space = outer;
}

static void *pool_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		struct job *j = jobs;
		while (j && atomic_load(&j->next) >= j->nblocks)
			j = j->nextjob;
		if (!j) {
			pthread_cond_wait(&pool_cond, &pool_lock);
			continue;
		}
		j->active++;
		pthread_mutex_unlock(&pool_lock);
		job_work(j);
		pthread_mutex_lock(&pool_lock);
		j->active--;
		pthread_cond_broadcast(&pool_idle);
	}
	return NULL;
}

static void pool_init(void)
{
	long nc = sysconf(_SC_NPROCESSORS_ONLN);
	const char *wd = getenv("VGPU_SIM_WATCHDOG_INSNS");
	max_insns = wd ? strtoull(wd, NULL, 0) : 10000000000ull;
	const char *e = getenv("VGPU_SIM_THREADS");
	long n = e ? atol(e) : nc;
	if (n < 1)
		n = 1;
	if (n > 64)
		n = 64;
	/* the launching stream thread works too, so n - 1 helpers */
	for (long i = 0; i + 1 < n; i++) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, pool_main, NULL))
			sim_log("cannot start pool thread %ld; continuing with fewer", i);
		pthread_attr_destroy(&a);
	}
	/* generic-address windows: reserved, never readable, so never host memory */
	void *w = mmap(NULL, 3ull << 32, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (w != MAP_FAILED) {
		shared_win = (uint64_t)(uintptr_t)w;
		local_win = shared_win + (1ull << 32);
		param_win = local_win + (1ull << 32);
	} else {
		shared_win = 0xffff000000000000ull;
		local_win = 0xffff800000000000ull;
		param_win = 0xfffe000000000000ull;
	}
}

/*
 * A cooperative launch: every block at once, each on a thread of its own (the grid was
 * checked at launch to fit what the device holds at once), sharing a zeroed grid workspace in
 * the launcher's device memory where cooperative groups' grid sync counts arrivals. One
 * block's failure stops the others at their next loop instead of leaving them waiting.
 */
struct coop_block {
	struct job *j;
	uint64_t b;
	pthread_t t;
	int started;
};

static void *coop_main(void *arg)
{
	struct coop_block *cb = arg;
	struct job *j = cb->j;
	unsigned outer = sim_kernel_space;
	sim_kernel_space = j->k->space + 1;
	uint64_t n = 0;
	char err[512] = "";
	int rc = job_block(j, cb->b, &n, err, sizeof(err));
	atomic_fetch_add(&j->insns, n);
	atomic_fetch_add(&g_insn_count, n);
	if (rc) {
		if (rc != -ECANCELED)   /* the others only stopped because of the first */
			job_fail(j, rc, err);
		atomic_store(&j->stop, 1);
	}
	sim_kernel_space = outer;
	return NULL;
}

static int coop_run(struct job *j, char *err, size_t errlen)
{
	struct sim_launch_op *k = j->k;
	uint64_t ws = 0;
	unsigned saved = sim_space;
	sim_space = k->space;   /* the workspace belongs to the launcher's address space */
	int rc = sim_mem_alloc(k->mod->ctx, k->mod->ctx->dev, 64, &ws);
	sim_space = saved;
	if (rc) {
		snprintf(err, errlen, "no device memory for the cooperative launch's grid workspace");
		return -ENOMEM;
	}
	memset((void *)(uintptr_t)ws, 0, 64);
	k->l.grid_ws = ws;
	j->env.stop = &j->stop;
	struct coop_block *cb = calloc(j->nblocks, sizeof(*cb));
	if (!cb) {
		sim_mem_free(ws, ALLOC_DEVICE);
		snprintf(err, errlen, "out of host memory starting a cooperative launch");
		return -ENOMEM;
	}
	for (uint64_t b = 0; b < j->nblocks; b++) {
		cb[b] = (struct coop_block){ .j = j, .b = b };
		cb[b].started = pthread_create(&cb[b].t, NULL, coop_main, &cb[b]) == 0;
		if (!cb[b].started) {
			char why[96];
			snprintf(why, sizeof(why), "cannot start a thread for block %llu of a cooperative launch",
			         (unsigned long long)b);
			job_fail(j, -ENOMEM, why);
			atomic_store(&j->stop, 1);
			break;
		}
	}
	for (uint64_t b = 0; b < j->nblocks; b++)
		if (cb[b].started)
			pthread_join(cb[b].t, NULL);
	free(cb);
	k->l.grid_ws = 0;
	sim_mem_free(ws, ALLOC_DEVICE);
	if (j->rc)
		snprintf(err, errlen, "%s", j->err);
	return j->rc;
}

/*
 * A launch in thread-block clusters: cluster after cluster, the blocks of each at once, each
 * on a thread of its own (rank 0 on the launching one), sharing the cluster's barrier and
 * their shared memory, which lives until the last of them ends (distributed shared memory).
 * A block's failure stops the others of its cluster and the clusters after it.
 */
struct cluster_block {
	struct job *j;
	const struct ptx_env *env;
	uint32_t x, y, z;
	uint64_t n;
	int rc;
	char err[512];
	pthread_t t;
	int started;
};

static void *cluster_block_main(void *arg)
{
	struct cluster_block *cb = arg;
	unsigned outer = sim_kernel_space;
	sim_kernel_space = cb->j->k->space + 1;
	cb->rc = ptx_block_run(&cb->j->k->l, cb->env, cb->x, cb->y, cb->z, &cb->n, cb->err, sizeof(cb->err));
	sim_kernel_space = outer;
	return NULL;
}

static int cluster_run(struct job *j, char *err, size_t errlen)
{
	const struct ptx_launch *l = &j->k->l;
	const uint32_t *cd = l->cluster;
	const uint32_t nb = cd[0] * cd[1] * cd[2];
	const uint64_t size = ptx_block_shared_size(l);
	const uint32_t ncl[3] = {l->grid[0] / cd[0], l->grid[1] / cd[1], l->grid[2] / cd[2]};
	const uint64_t nclusters = (uint64_t)ncl[0] * ncl[1] * ncl[2];
	struct cluster_block cb[PTX_CLUSTER_MAX];
	uint8_t *shared[PTX_CLUSTER_MAX];
	int rc = 0;
	if (nb > PTX_CLUSTER_MAX || l->grid[0] % cd[0] || l->grid[1] % cd[1] || l->grid[2] % cd[2]) {
		snprintf(err, errlen, "cluster of %u blocks does not divide the grid or is past %d", nb, PTX_CLUSTER_MAX);
		return -EINVAL;
	}
	for (uint64_t c = 0; c < nclusters && !rc; c++) {
		struct ptx_cluster cl;
		memset(&cl, 0, sizeof(cl));
		pthread_mutex_init(&cl.lock, NULL);
		pthread_cond_init(&cl.cond, NULL);
		cl.nblocks = cl.live = nb;
		cl.expected = nb * l->block[0] * l->block[1] * l->block[2];
		cl.shared = shared;
		cl.shared_size = size;
		struct ptx_env env = j->env;
		env.cluster = &cl;
		env.stop = &cl.stop;
		memset(shared, 0, sizeof(shared));
		for (uint32_t r = 0; r < nb && !rc; r++)
			if (!(shared[r] = calloc(1, size ? size : 1)))
				rc = -ENOMEM;
		const uint32_t cx = (uint32_t)(c % ncl[0]), cy = (uint32_t)((c / ncl[0]) % ncl[1]),
		               cz = (uint32_t)(c / ((uint64_t)ncl[0] * ncl[1]));
		for (uint32_t r = 0; r < nb; r++)
			cb[r] = (struct cluster_block){ .j = j, .env = &env,
				.x = cx * cd[0] + r % cd[0], .y = cy * cd[1] + (r / cd[0]) % cd[1],
				.z = cz * cd[2] + r / (cd[0] * cd[1]) };
		for (uint32_t r = 1; r < nb && !rc; r++)
			if (!(cb[r].started = pthread_create(&cb[r].t, NULL, cluster_block_main, &cb[r]) == 0)) {
				/* the blocks started would wait for this one: stop them */
				rc = -ENOMEM;
				snprintf(err, errlen, "cannot start a thread for block %u of a cluster", r);
				pthread_mutex_lock(&cl.lock);
				atomic_store(&cl.stop, 1);
				pthread_cond_broadcast(&cl.cond);
				pthread_mutex_unlock(&cl.lock);
			}
		if (!rc)
			cluster_block_main(&cb[0]);
		else if (rc == -ENOMEM && !err[0])
			snprintf(err, errlen, "out of host memory for a cluster's shared memory");
		for (uint32_t r = 1; r < nb; r++)
			if (cb[r].started)
				pthread_join(cb[r].t, NULL);
		for (uint32_t r = 0; r < nb; r++) {
			if (!rc && cb[r].rc && cb[r].rc != -ECANCELED) {
				rc = cb[r].rc;
				snprintf(err, errlen, "%s", cb[r].err);
			}
			atomic_fetch_add(&g_insn_count, cb[r].n);
			free(shared[r]);
		}
		pthread_mutex_destroy(&cl.lock);
		pthread_cond_destroy(&cl.cond);
	}
	return rc;
}

/* Nesting of device launches: as the device runtime's default limit */
#define CDP_MAX_DEPTH 24

static uint64_t cdp_buffer_cb(void *ctx, const struct ptx_func *fn, const uint32_t grid[3], const uint32_t block[3],
                              uint32_t shmem, uint64_t size)
{
	struct job *j = ctx;
	const struct sim_launch_op *k = j->k;
	struct cdp_child *c = calloc(1, sizeof(*c));
	if (!c)
		return 0;
	c->size = size ? size : 8;
	c->buf = sim_heap_malloc(k->mod->ctx, k->space, c->size);
	if (!c->buf) {
		free(c);
		return 0;
	}
	if (fn) {
		c->fn = fn;
		memcpy(c->grid, grid, sizeof(c->grid));
		memcpy(c->block, block, sizeof(c->block));
		c->shmem = shmem;
	}
	pthread_mutex_lock(&j->cdp_lock);
	c->next = j->cdp;
	j->cdp = c;
	pthread_mutex_unlock(&j->cdp_lock);
	return c->buf;
}

static int cdp_launch_cb(void *ctx, uint64_t buf, const struct ptx_func *fn, const uint32_t grid[3],
                         const uint32_t block[3], uint32_t shmem)
{
	struct job *j = ctx;
	int err = 1;   /* cudaErrorInvalidValue: no buffer of this launch's, or launched already */
	pthread_mutex_lock(&j->cdp_lock);
	for (struct cdp_child *c = j->cdp; c; c = c->next) {
		if (c->buf != buf || c->launched)
			continue;
		if (fn) {   /* (the configuration comes with the launch) */
			c->fn = fn;
			memcpy(c->grid, grid, sizeof(c->grid));
			memcpy(c->block, block, sizeof(c->block));
			c->shmem = shmem;
		}
		if (!c->fn)   /* (a buffer without a configuration, launched without one) */
			break;
		c->launched = 1;
		*j->launched_tail = c;
		j->launched_tail = &c->next_launched;
		err = 0;
		break;
	}
	pthread_mutex_unlock(&j->cdp_lock);
	return err;
}

/* The grids the launch's kernels launched, in order, each with its own children; then every
 * parameter buffer goes back to the heap. The first failure is the launch's. */
static int cdp_run(struct job *j, int rc, char *err, size_t errlen)
{
	const struct sim_launch_op *k = j->k;
	for (const struct cdp_child *c = j->launched; c && rc == 0; c = c->next_launched) {
		const uint32_t *g = c->grid, *b = c->block;
		if (k->depth + 1 >= CDP_MAX_DEPTH) {
			snprintf(err, errlen, "a kernel launched from a kernel nested %d deep (the device runtime's "
			         "limit is %d)", k->depth + 1, CDP_MAX_DEPTH);
			rc = -EINVAL;
			break;
		}
		if (!sim_launch_shape_ok(c->fn, g, b)) {
			snprintf(err, errlen, "a kernel launched %s from a kernel with a grid (%u,%u,%u) or block "
			         "(%u,%u,%u) it cannot have", c->fn->name, g[0], g[1], g[2], b[0], b[1], b[2]);
			rc = -EINVAL;
			break;
		}
		struct sim_launch_op ck = *k;
		ck.depth = k->depth + 1;
		ck.cooperative = 0;
		ck.l.fn = c->fn;
		memcpy(ck.l.grid, g, sizeof(ck.l.grid));
		memcpy(ck.l.block, b, sizeof(ck.l.block));
		ck.l.shared_dyn = c->shmem;
		ck.l.grid_ws = 0;
		for (int d = 0; d < 3; d++)
			ck.l.cluster[d] = c->fn->req_cluster[0] ? c->fn->req_cluster[d] : 1;
		ck.l.explicit_cluster = c->fn->explicit_cluster;
		/* its parameters: what the launching kernel wrote into the buffer */
		struct ptx_range r;
		uint8_t *params = calloc(1, c->fn->param_bytes + 8);
		if (!params) {
			rc = -ENOMEM;
			break;
		}
		if (c->fn->param_bytes && c->fn->param_bytes <= c->size &&
		    sim_mem_resolve((void *)(uintptr_t)k->space, c->buf, c->fn->param_bytes, &r) == 0)
			memcpy(params, (const void *)(uintptr_t)(c->buf + (uint64_t)r.delta), c->fn->param_bytes);
		ck.params = params;
		ck.l.params = params;
		rc = sim_pool_run(&ck, err, errlen);
		free(params);
	}
	for (struct cdp_child *c = j->cdp, *n; c; c = n) {
		n = c->next;
		sim_heap_free(k->mod->ctx, c->buf);
		free(c);
	}
	return rc;
}

uint64_t sim_watchdog_insns(void)
{
	pthread_once(&pool_once, pool_init);
	return max_insns;
}

/* The blocks of an ordinary launch, handed out to the pool and the launching thread. */
static int pool_job_run(struct job *j, char *err, size_t errlen)
{
	pthread_mutex_lock(&pool_lock);
	j->nextjob = jobs;
	jobs = j;
	j->active = 1;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	job_work(j);
	pthread_mutex_lock(&pool_lock);
	j->active--;
	while (j->active > 0)
		pthread_cond_wait(&pool_idle, &pool_lock);
	assert(j->active == 0 && atomic_load(&j->next) >= j->nblocks);
	struct job **pp = &jobs;
	while (*pp != j)
		pp = &(*pp)->nextjob;
	*pp = j->nextjob;
	pthread_mutex_unlock(&pool_lock);
	if (j->rc)
		snprintf(err, errlen, "%s", j->err);
	return j->rc;
}

int sim_pool_run(struct sim_launch_op *k, char *err, size_t errlen)
{
	pthread_once(&pool_once, pool_init);
	struct job j;
	memset(&j, 0, sizeof(j));
	j.k = k;
	j.env.resolve = sim_mem_resolve;
	j.env.resolve_ctx = (void *)(uintptr_t)k->space;
	j.env.hook = sim_hook_fn;
	j.env.hook_ctx = sim_hook_ctx;
	j.env.shared_win = shared_win;
	j.env.local_win = local_win;
	j.env.param_win = param_win;
	j.env.max_insns = max_insns;
	j.env.heap_malloc = sim_heap_malloc;
	j.env.heap_free = sim_heap_free;
	j.env.heap_ctx = k->mod->ctx;
	j.env.heap_space = k->space;
	/* texture and surface objects of the launching context (api_tex.c); a cooperative launch
	 * runs over this same environment */
	j.env.tex = sim_tex_lookup;
	j.env.tex_ctx = k->mod->ctx;
	j.env.set_cond = sim_graph_cond_set;   /* graph.c */
	j.env.cond_ctx = k->mod->ctx;
	j.env.cdp_buffer = cdp_buffer_cb;
	j.env.cdp_launch = cdp_launch_cb;
	j.env.cdp_ctx = &j;
	j.launched_tail = &j.launched;
	pthread_mutex_init(&j.cdp_lock, NULL);
	j.nblocks = (uint64_t)k->l.grid[0] * k->l.grid[1] * k->l.grid[2];
	pthread_mutex_init(&j.err_lock, NULL);
	int rc;
	if ((uint64_t)k->l.cluster[0] * k->l.cluster[1] * k->l.cluster[2] > 1)
		rc = cluster_run(&j, err, errlen);
	else if (k->cooperative)
		rc = coop_run(&j, err, errlen);
	else
		rc = pool_job_run(&j, err, errlen);
	rc = cdp_run(&j, rc, err, errlen);   /* the grids its kernels launched */
	pthread_mutex_destroy(&j.err_lock);
	pthread_mutex_destroy(&j.cdp_lock);
	return rc;
}
