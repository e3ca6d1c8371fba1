/* SPDX-License-Identifier: MIT */
/* PTX interpreter: runs one block of a launch. Each thread runs until bar.sync or exit,
 * then the next one; when every live thread waits at the barrier, all are released.
 * Dispatch is one switch over (opcode << 4 | type); every operand is a register slot. */
#include "ptx.h"
#include "ptx_ops.h"
#include "tmap.h"
#include "fround.h"
#include "ptx_tex.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct frame {
	const struct ptx_func *fn;
	uint64_t *r;
	uint8_t *param;
	uint32_t local_base;
	uint32_t ret_pc;
	uint32_t callsite;
	int heap;                 /* malloc'd (calls) rather than in the block's arena */
	struct frame *parent;
};

enum { TS_RUN, TS_BAR, TS_DONE, TS_WARP, TS_SPIN /* an mbarrier wait found its phase open, or the thread
       ran YIELD_INSNS: the others go first */, TS_CWAIT /* at barrier.cluster.wait, its phase open */ };

#define RCACHE 4

/* Instructions a thread runs before it lets the block's other threads run, at its next
 * backward branch (each otherwise runs until it waits: at a barrier, a warp collective, an
 * mbarrier, a volatile access). */
#define YIELD_INSNS 4096

struct thr {
	struct frame *fr;
	uint32_t pc;
	uint8_t state;
	uint8_t *local;
	uint32_t local_cap, local_top;
	uint32_t local_hw;        /* the most of local that was ever below local_top (dirtied) */
	uint32_t tid[3], lin;
	uint32_t depth;           /* call depth */
	int vol_pass;             /* released to perform the volatile access it is parked at */
	uint64_t cl_phase;        /* the cluster barrier's phase this thread arrived in */
	uint8_t cl_arrived;       /* arrived and not yet waited */
};

struct blk {
	const struct ptx_launch *l;
	const struct ptx_env *env;
	uint8_t *shared;
	uint64_t shared_size;
	uint32_t dyn_base;
	uint32_t rsmem_base;      /* the reserved shared memory's offset (modules that read it) */
	uint32_t ctaid[3];
	uint32_t nthreads;
	struct thr *th;           /* all threads of the block */
	struct ptx_range c[RCACHE]; /* recently used live allocations, most recent first */
	int fault;
	char *err;
	size_t errlen;
	uint64_t ninsn;
	uint32_t loops;           /* backward branches taken (a cooperative launch yields now and then) */
	int yielded;              /* a thread gave the others a turn (YIELD_INSNS) in this pass */
	uint64_t mbar_gen;        /* mbarrier arrivals, inits and invalidations so far (progress for waiters) */
	uint32_t bar_arrived[BAR_IDS]; /* bar.arrive's arrivals at each barrier since it last completed */
	struct ptx_cluster *cl;   /* the block's cluster (a cluster of one when not launched in them) */
	uint32_t crank;           /* the block's rank in it */
	uint32_t cctaid[3];       /* its position in the cluster */
	uint32_t cdim[3];         /* the cluster's shape (1, 1, 1 when not launched in clusters) */
};

struct thr;
struct ptx_insn;
static int mbar_exec(struct blk *b, struct thr *t, const struct ptx_insn *in, uint64_t *r, int *spin);
static uint32_t bar_weight(const struct blk *b, const struct thr *t);
static int bar_release(struct blk *b);

static inline float f32(uint64_t v) { uint32_t b = (uint32_t)v; float f; memcpy(&f, &b, 4); return f; }
static inline double f64(uint64_t v) { double d; memcpy(&d, &v, 8); return d; }
static inline uint64_t pf32(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
static inline uint64_t pf64(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }

/* IEEE half precision <-> double. Every half is exact in a double, and so are sums and
 * products of two halves and a*b+c of three, so computing in double and rounding once
 * (to nearest even) gives the correctly rounded half result. */
static inline double h2d(uint64_t v)
{
	uint32_t h = (uint32_t)v & 0xffff, e = (h >> 10) & 31, m = h & 1023;
	double r = e == 0 ? ldexp((double)m, -24) : e == 31 ? (m ? NAN : INFINITY) :
	           ldexp((double)(1024 + m), (int)e - 25);
	return (h & 0x8000) ? -r : r;
}

static uint64_t d2h(double x)
{
	uint32_t sign = signbit(x) ? 0x8000 : 0;
	if (isnan(x))
		return sign | 0x7e00;
	double a = fabs(x);
	if (a >= 65520.0)                 /* halfway above 65504 and beyond round to infinity */
		return sign | 0x7c00;
	int e;
	frexp(a, &e);
	double q = a >= 0x1p-14 ? ldexp(1.0, e - 11) : 0x1p-24;   /* spacing of halves near a */
	double r = nearbyint(a / q) * q;
	if (r < 0x1p-14)
		return sign | (uint32_t)(r / 0x1p-24);
	int e2;
	double mant = frexp(r, &e2);      /* r = mant * 2^e2, mant in [0.5, 1) */
	return sign | (uint32_t)(e2 + 14) << 10 | (uint32_t)((mant * 2.0 - 1.0) * 1024.0);
}

/* bfloat16 <-> double: a bfloat16 is the top half of a float. d2b rounds once from the exact
 * value, to nearest even (or toward zero: rz); NaN becomes the canonical 0x7fff. */
static inline double b2d(uint64_t v) { return (double)f32((v & 0xffff) << 16); }

static uint64_t d2b(double x, int rz)
{
	uint32_t sign = signbit(x) ? 0x8000 : 0;
	if (isnan(x))
		return 0x7fff;
	double a = fabs(x);
	if (isinf(a))
		return sign | 0x7f80;
	if (a >= (rz ? 0x1.fep127 : 0x1.ffp127))   /* halfway above the largest finite: infinity */
		return sign | (rz ? 0x7f7f : 0x7f80);
	int e;
	frexp(a, &e);
	double q = ldexp(1.0, (e < -125 ? -125 : e) - 8);    /* spacing of bfloat16s near a */
	double r = (rz ? trunc(a / q) : nearbyint(a / q)) * q;
	return sign | (uint32_t)(pf32((float)r) >> 16);      /* r has at most 8 significant bits */
}

/* One half (f16) or bfloat16 lane of add, sub, mul, fma, min or max: computed in double,
 * rounded once (fma of bfloat16s, whose products and sums may not fit, rounds in fma()
 * first). fl: FL_SAT clamps to [0, 1], FL_RELU negatives and -0 to +0, FL_NAN makes min/max of a
 * NaN the canonical NaN. */
static inline uint64_t hb_lane(uint64_t a, uint64_t b, uint64_t c, int op, int bf, int fl)
{
	double x = bf ? b2d(a) : h2d(a), y = bf ? b2d(b) : h2d(b), v;
	switch (op) {
	case OP_ADD: v = x + y; break;
	case OP_SUB: v = x - y; break;
	case OP_MUL_LO: v = x * y; break;
	case OP_FMA: v = fma(x, y, bf ? b2d(c) : h2d(c)); break;
	case OP_MIN: v = (fl & FL_NAN) && (isnan(x) || isnan(y)) ? NAN : fmin(x, y); break;
	default: v = (fl & FL_NAN) && (isnan(x) || isnan(y)) ? NAN : fmax(x, y); break;
	}
	if (fl & FL_SAT)
		v = isnan(v) ? 0.0 : v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
	if ((fl & FL_RELU) && v <= 0.0)   /* -0 too: +0 (as an H200 gives) */
		v = 0.0;
	return bf ? d2b(v, 0) : (isnan(v) && (fl & (FL_NAN | FL_RELU)) ? 0x7fff : d2h(v));
}

static inline uint64_t h2op(uint64_t a, uint64_t b, uint64_t c, int op, int bf, int fl)
{
	return hb_lane(a & 0xffff, b & 0xffff, c & 0xffff, op, bf, fl) |
	       hb_lane((a >> 16) & 0xffff, (b >> 16) & 0xffff, (c >> 16) & 0xffff, op, bf, fl) << 16;
}

static const char *space_name(int sp)
{
	static const char *n[] = {"generic", "global", "shared", "local", "param", "const", "reg"};
	return sp >= 0 && sp <= SP_REG ? n[sp] : "?";
}

static void fault(struct blk *b, const struct thr *t, const struct ptx_insn *in, int rc,
                  const char *what, uint64_t addr)
{
	if (b->fault)
		return;
	b->fault = rc;
	int mem = (in->op >> 4) == OP_LD || (in->op >> 4) == OP_ST || (in->op >> 4) == OP_ATOM;
	snprintf(b->err, b->errlen, "%s 0x%llx%s%s%s in %s (PTX line %u) block (%u,%u,%u) thread "
	         "(%u,%u,%u)", what, (unsigned long long)addr, mem ? " (" : "",
	         mem ? space_name(in->kind2) : "", mem ? " space)" : "", t->fr->fn->name, in->line,
	         b->ctaid[0], b->ctaid[1], b->ctaid[2], t->tid[0], t->tid[1], t->tid[2]);
}

/* Miss path: the other cached ranges, then the allocation table (which takes a lock). The
 * found range goes to entry 0 so that the fast path tries it first next time. */
static uint8_t *global_slow(struct blk *b, uint64_t a, uint32_t n)
{
	for (int i = 1; i < RCACHE; i++) {
		uint64_t off = a - b->c[i].lo;
		if (off < b->c[i].len && n <= b->c[i].len - off) {
			struct ptx_range t = b->c[0];
			b->c[0] = b->c[i];
			b->c[i] = t;
			return (uint8_t *)(uintptr_t)(a + (uint64_t)b->c[0].delta);
		}
	}
	struct ptx_range r;
	if (b->env->resolve(b->env->resolve_ctx, a, n, &r) < 0)
		return NULL;
	memmove(&b->c[1], &b->c[0], sizeof(b->c[0]) * (RCACHE - 1));
	b->c[0] = r;
	return (uint8_t *)(uintptr_t)(a + (uint64_t)r.delta);
}

/* The hook sees each access the kernel makes (one that resolved), never a refused one. */
static inline uint8_t *global_ptr(struct blk *b, uint64_t a, uint32_t n, int w)
{
	uint64_t off = a - b->c[0].lo;
	uint8_t *p;
	if (likely(off < b->c[0].len && n <= b->c[0].len - off))
		p = (uint8_t *)(uintptr_t)(a + (uint64_t)b->c[0].delta);
	else
		p = global_slow(b, a, n);
	if (unlikely(b->env->hook != NULL) && p)
		b->env->hook(b->env->hook_ctx, a, n, w);
	return p;
}

/* Texture and surface instructions reach texels as global loads and stores do. */
static uint8_t *tex_mem(void *ctx, uint64_t a, uint32_t n, int w)
{
	return global_ptr(ctx, a, n, w);
}

/* A generic access to the kernel's parameters (a __grid_constant__ one whose address the
 * program took: cvta.param), read only: the entry frame's parameter buffer. */
static uint8_t *param_ptr(struct thr *t, uint64_t off, uint32_t n, int w)
{
	struct frame *f = t->fr;
	while (f->parent)
		f = f->parent;
	uint32_t sz = f->fn->frame_param_size;
	return !w && off < sz && n <= sz - off ? f->param + off : NULL;
}

/* Shared addresses of the cluster's blocks (OP_CLUSTER in ptx_ops.h): block rank r's at
 * (r + 1) << 24, below CLUSTER_WIN. */
#define CLUSTER_WIN ((uint64_t)(PTX_CLUSTER_MAX + 1) << 24)
__attribute__((noinline, cold)) static uint8_t *cluster_ptr(const struct blk *b, uint64_t a, uint32_t n)
{
	uint64_t r = (a >> 24) - 1, off = a & 0xffffff;
	if (a < (1u << 24) || r >= b->cl->nblocks || off >= b->cl->shared_size || n > b->cl->shared_size - off)
		return NULL;
	return b->cl->shared[r] + off;
}

/* The cluster barrier: a thread's arrival completes the phase when every thread of the
 * cluster that has not exited has arrived; an exit completes it when the others all have. */
static void cluster_complete_locked(struct ptx_cluster *cl)
{
	if (cl->arrived && cl->arrived >= cl->expected) {
		cl->arrived = 0;
		cl->blocked = 0;   /* every block waiting waited for this phase */
		atomic_fetch_add_explicit(&cl->phase, 1, memory_order_release);
		pthread_cond_broadcast(&cl->cond);
	}
}

/* A block that is a cluster of its own counts on its host thread alone: no lock (every
 * exiting thread counts itself out, so a lock would cost each of them) */
static void cluster_lock(struct ptx_cluster *cl)
{
	if (cl->nblocks > 1)
		pthread_mutex_lock(&cl->lock);
}

static void cluster_unlock(struct ptx_cluster *cl)
{
	if (cl->nblocks > 1)
		pthread_mutex_unlock(&cl->lock);
}

static void cluster_arrive(struct blk *b, struct thr *t)
{
	struct ptx_cluster *cl = b->cl;
	cluster_lock(cl);
	t->cl_phase = atomic_load_explicit(&cl->phase, memory_order_relaxed);
	t->cl_arrived = 1;
	cl->arrived++;
	cluster_complete_locked(cl);
	cluster_unlock(cl);
}

static void cluster_leave(struct blk *b)
{
	struct ptx_cluster *cl = b->cl;
	cluster_lock(cl);
	cl->expected--;
	cluster_complete_locked(cl);
	cluster_unlock(cl);
}

/* Every thread of block b that can run waits at the cluster barrier for a phase the cluster's
 * other blocks are to complete: wait for them. A phase no block can complete (every running
 * block waits) fails the launch; so does another block's failure. */
static int cluster_block_wait(struct blk *b, struct thr *t)
{
	struct ptx_cluster *cl = b->cl;
	int rc = 0;
	pthread_mutex_lock(&cl->lock);
	/* t's phase (the earliest of the block's waiters) may have completed since it looked */
	const uint64_t ph0 = atomic_load_explicit(&cl->phase, memory_order_relaxed);
	if (ph0 <= t->cl_phase) {
		cl->blocked++;
		pthread_cond_broadcast(&cl->cond);   /* (a waiter may now see every block blocked) */
	}
	while (atomic_load_explicit(&cl->phase, memory_order_relaxed) <= t->cl_phase) {
		if (atomic_load(&cl->stop)) {
			rc = -ECANCELED;
			break;
		}
		if (cl->blocked >= cl->live) {
			rc = -EINVAL;
			break;
		}
		pthread_cond_wait(&cl->cond, &cl->lock);
	}
	if (atomic_load_explicit(&cl->phase, memory_order_relaxed) == ph0 && ph0 <= t->cl_phase)
		cl->blocked--;   /* (a completed phase set it to 0) */
	pthread_mutex_unlock(&cl->lock);
	if (rc == -EINVAL)
		fault(b, t, &t->fr->fn->code[t->pc], -EINVAL, "deadlock: waiting at barrier.cluster for threads "
		      "that never arrive (arrivals in this phase, of the cluster's threads):",
		      (uint64_t)cl->arrived << 32 | cl->expected);
	else if (rc == -ECANCELED)
		fault(b, t, &t->fr->fn->code[t->pc], -ECANCELED, "stopped: another block of the cluster failed; pc",
		      t->pc);
	return rc;
}

/* A block leaves its cluster (done or failed): blocks waiting on one another see it. */
static void cluster_block_end(struct blk *b, int failed)
{
	struct ptx_cluster *cl = b->cl;
	pthread_mutex_lock(&cl->lock);
	cl->live--;
	if (failed)
		atomic_store(&cl->stop, 1);
	pthread_cond_broadcast(&cl->cond);
	pthread_mutex_unlock(&cl->lock);
}

uint64_t ptx_block_shared_size(const struct ptx_launch *l)
{
	uint64_t n = (uint64_t)((l->fn->shared_static + 15) & ~15u) + l->shared_dyn;
	if (l->mod && l->mod->reserved_smem)
		n = ((n + 15) & ~15ull) + RSMEM_BYTES;
	return n;
}

/*
 * Host pointer for an access of n bytes at address a in space sp, or NULL (fault). Shared
 * and local addresses are 32 bits, as the hardware's: [%r+imm] over a 32-bit register wraps
 * (nvcc's code for a negative index does so: cuRAND's MT19937 adds -12 as 0xfffffff4), and
 * the high half of a 64-bit one is not part of it.
 */
static inline uint8_t *mem_ptr(struct blk *b, struct thr *t, int sp, uint64_t a, uint32_t n, int w)
{
	switch (sp) {
	case SP_GLOBAL:
	case SP_CONST:
		return global_ptr(b, a, n, w);
	case SP_SHARED:
		a = (uint32_t)a;
		if (likely(a < b->shared_size))
			return n <= b->shared_size - a ? b->shared + a : NULL;
		return cluster_ptr(b, a, n);
	case SP_LOCAL:
		a = (uint32_t)a;
		return a < t->local_top && n <= t->local_top - a ? t->local + a : NULL;
	case SP_PARAM: {
		uint32_t sz = t->fr->fn->frame_param_size;
		return a < sz && n <= sz - a ? t->fr->param + a : NULL;
	}
	default: {
		uint64_t s = a - b->env->shared_win;
		if (s < b->shared_size)
			return n <= b->shared_size - s ? b->shared + s : NULL;
		if (s < CLUSTER_WIN)
			return cluster_ptr(b, s, n);
		uint64_t lo = a - b->env->local_win;
		if (lo < (1ull << 32))
			return lo < t->local_top && n <= t->local_top - lo ? t->local + lo : NULL;
		if (unlikely(a - b->env->param_win < (1ull << 32)))
			return param_ptr(t, a - b->env->param_win, n, w);
		return global_ptr(b, a, n, w);
	}
	}
}

/* ---- device printf ----------------------------------------------------------------- */

#define PRINTF_MAX 4096u     /* longest format string or %s argument read, and output of one call */

/* The NUL-terminated string at generic address a (at most PRINTF_MAX - 1 bytes) into out;
 * -1 when a byte of it is not the kernel's to read. */
static int device_str(struct blk *b, struct thr *t, uint64_t a, char *out)
{
	for (uint32_t i = 0; i < PRINTF_MAX - 1; i++) {
		const uint8_t *p = mem_ptr(b, t, SP_GENERIC, a + i, 1, 0);
		if (!p)
			return -1;
		out[i] = (char)*p;
		if (!*p)
			return 0;
	}
	out[PRINTF_MAX - 1] = 0;
	return 0;
}

/*
 * vprintf(format, args) as CUDA's device printf calls it: args points at the arguments packed
 * in order, each aligned to its size (4 bytes for int, char and unsigned of no length
 * modifier; 8 for l/ll integers, doubles — floats are passed as double — strings and
 * pointers). The text goes to the process's stdout (the zone's, through vgpu-proxy) in one
 * write; returns the number of arguments, or -1 when the format or an argument cannot be
 * read (the launch then fails with an illegal address, as a bad pointer would).
 */
static int device_printf(struct blk *b, struct thr *t, uint64_t fmt_a, uint64_t args_a, int *nargs)
{
	char fmt[PRINTF_MAX], out[PRINTF_MAX], str[PRINTF_MAX], spec[32];
	size_t o = 0;
	uint64_t off = 0;
	*nargs = 0;
	if (device_str(b, t, fmt_a, fmt) < 0)
		return -1;
	for (const char *f = fmt; *f && o < sizeof(out) - 1;) {
		if (*f != '%' || f[1] == '%') {
			out[o++] = *f;
			f += *f == '%' ? 2 : 1;
			continue;
		}
		/* %[flags][width][.precision][length]conversion, rebuilt for the host's snprintf */
		const char *st = f++;
		while (*f && strchr("-+ #0", *f))
			f++;
		while (*f >= '0' && *f <= '9')
			f++;
		if (*f == '.')
			for (f++; *f >= '0' && *f <= '9'; f++)
				;
		int longs = 0;
		while (*f == 'l' || *f == 'h' || *f == 'z' || *f == 'j' || *f == 't') {
			longs += *f == 'l' || *f == 'z' || *f == 'j' || *f == 't' ? 2 : 0;
			f++;
		}
		char conv = *f ? *f++ : 0;
		size_t body = (size_t)(f - st) - 1;   /* up to the conversion, without it */
		if (!conv || !strchr("diouxXcfFeEgGaAsp", conv) || body + 4 > sizeof(spec)) {
			size_t k = (size_t)(f - st);      /* not a conversion: printed as it stands */
			if (k > sizeof(out) - 1 - o)
				k = sizeof(out) - 1 - o;
			memcpy(out + o, st, k);
			o += k;
			continue;
		}
		/* the spec without its length modifiers, then the host's own for the widened value */
		size_t sl = 0;
		for (const char *q = st; q < st + body; q++)
			if (!strchr("lhzjt", *q))
				spec[sl++] = *q;
		int wide = strchr("fFeEgGaAsp", conv) || longs;
		uint32_t size = wide ? 8 : 4;
		off = (off + size - 1) & ~(uint64_t)(size - 1);
		const uint8_t *ap = args_a ? mem_ptr(b, t, SP_GENERIC, args_a + off, size, 0) : NULL;
		if (!ap)
			return -1;
		off += size;
		(*nargs)++;
		uint64_t v = 0;
		memcpy(&v, ap, size);
		int n;
		if (strchr("fFeEgGaA", conv)) {
			double d;
			memcpy(&d, &v, 8);
			spec[sl++] = conv;
			spec[sl] = 0;
			n = snprintf(out + o, sizeof(out) - o, spec, d);
		} else if (conv == 's') {
			if (!v)
				strcpy(str, "(null)");
			else if (device_str(b, t, v, str) < 0)
				return -1;
			spec[sl++] = 's';
			spec[sl] = 0;
			n = snprintf(out + o, sizeof(out) - o, spec, str);
		} else if (conv == 'p') {
			spec[sl++] = 'p';
			spec[sl] = 0;
			n = snprintf(out + o, sizeof(out) - o, spec, (void *)(uintptr_t)v);
		} else if (conv == 'c') {
			spec[sl++] = 'c';
			spec[sl] = 0;
			n = snprintf(out + o, sizeof(out) - o, spec, (int)(unsigned char)v);
		} else {
			int sgn = conv == 'd' || conv == 'i';
			spec[sl++] = 'l';
			spec[sl++] = 'l';
			spec[sl++] = conv;
			spec[sl] = 0;
			if (size == 4)
				v = sgn ? (uint64_t)(int64_t)(int32_t)v : (uint32_t)v;
			n = sgn ? snprintf(out + o, sizeof(out) - o, spec, (long long)v)
			        : snprintf(out + o, sizeof(out) - o, spec, (unsigned long long)v);
		}
		if (n > 0)
			o += (size_t)n < sizeof(out) - o ? (size_t)n : sizeof(out) - 1 - o;
	}
	fwrite(out, 1, o, stdout);
	return 0;
}

static uint64_t fill_value(const struct blk *b, const struct thr *t, const struct frame *fr,
                           const struct ptx_fill *f)
{
	const struct ptx_launch *l = b->l;
	uint32_t w = f->what;
	if (w < FILL_NTID)
		return t->tid[w - FILL_TID];
	if (w < FILL_CTAID)
		return l->block[w - FILL_NTID];
	if (w < FILL_NCTAID)
		return b->ctaid[w - FILL_CTAID];
	if (w < FILL_LANEID)
		return l->grid[w - FILL_NCTAID];
	uint32_t lane = t->lin & 31;
	switch (w) {
	case FILL_LANEID: return lane;
	case FILL_WARPID: return t->lin / 32;
	case FILL_NWARPID: return (b->nthreads + 31) / 32;
	case FILL_SMID: return 0;
	case FILL_NSMID: return 1;
	case FILL_GRIDID: return 1;
	case FILL_ENVREG:   /* a cooperative launch's grid workspace: high half in 1, low in 2 */
		return f->arg == 1 ? l->grid_ws >> 32 : f->arg == 2 ? l->grid_ws & 0xffffffffu : 0;
	case FILL_SMEM:
		return f->arg == SMEM_DYNAMIC ? l->shared_dyn : f->arg == SMEM_TOTAL ?
		       (uint64_t)b->dyn_base + l->shared_dyn : b->shared_size;
	case FILL_LOCAL: return fr->local_base + f->arg;
	case FILL_DYNSHARED: return b->dyn_base;
	case FILL_CLUSTER: {
		const uint32_t *cd = b->cdim, a = (uint32_t)f->arg;
		if (a < CL_NCTAID)
			return b->cctaid[a];
		if (a < CL_ID)
			return cd[a - CL_NCTAID];
		if (a < CL_NID)
			return b->ctaid[a - CL_ID] / cd[a - CL_ID];
		if (a < CL_RANK)
			return l->grid[a - CL_NID] / cd[a - CL_NID];
		if (a == CL_RANK)
			return b->crank;
		if (a == CL_NRANK)
			return cd[0] * cd[1] * cd[2];
		return l->explicit_cluster;
	}
	case FILL_RSMEM:
		switch (f->arg) {
		case RSMEM_BEGIN: case RSMEM_OFF0: return b->rsmem_base;
		case RSMEM_END: return b->rsmem_base + RSMEM_BYTES;
		case RSMEM_CAP: return RSMEM_BYTES;
		default: return b->rsmem_base + RSMEM_BYTES / 2;
		}
	case FILL_LANEMASK_EQ: return 1u << lane;
	case FILL_LANEMASK_LT: return (1u << lane) - 1;
	case FILL_LANEMASK_LE: return (uint32_t)((2ull << lane) - 1);
	case FILL_LANEMASK_GT: return ~(uint32_t)((2ull << lane) - 1);
	case FILL_LANEMASK_GE: return ~((1u << lane) - 1);
	default: return 0;
	}
}

/* ---- dynamic parallelism: the device runtime's calls (PTX_BUILTIN_CDP_*) ---- */

static uint64_t cdp_arg(const struct frame *fr, const struct ptx_call *cs, unsigned i, unsigned n)
{
	uint64_t v = 0;
	if (cs->arg_off[i] + n <= fr->fn->frame_param_size)
		memcpy(&v, fr->param + cs->arg_off[i], n);
	return v;
}

static void cdp_dim(const struct frame *fr, const struct ptx_call *cs, unsigned i, uint32_t d[3])
{
	memset(d, 0, 12);
	if (cs->arg_off[i] + 12 <= fr->fn->frame_param_size)
		memcpy(d, fr->param + cs->arg_off[i], 12);
}

static void cdp_ret(struct frame *fr, const struct ptx_call *cs, const void *v, unsigned n)
{
	if (cs->nret && cs->ret_off + n <= fr->fn->frame_param_size)
		memcpy(fr->param + cs->ret_off, v, n);
}

/* The kernel a function address names: an entry of the running module with a body. */
static const struct ptx_func *cdp_func(const struct ptx_module *mod, uint64_t a)
{
	uint64_t fi = (a - PTX_FUNC_WIN) / 16;
	if (a < PTX_FUNC_WIN || (a & 15) || fi >= mod->nfuncs || !mod->funcs[fi].is_entry || !mod->funcs[fi].defined)
		return NULL;
	return &mod->funcs[fi];
}

/* One of the device runtime's calls; 0, or < 0 with the fault recorded. */
__attribute__((noinline)) static int cdp_call(struct blk *b, struct thr *t, const struct ptx_insn *in,
                                              struct frame *fr, const struct ptx_call *cs)
{
	const struct ptx_env *e = b->env;
	const struct ptx_module *mod = b->l->mod;
	uint32_t g[3], bl[3];
	int32_t err = 0;
	switch (cs->builtin) {
	case PTX_BUILTIN_CDP_PARAMBUF2:
	case PTX_BUILTIN_CDP_PARAMBUF: {
		uint64_t p = 0;
		if (e->cdp_buffer && cs->builtin == PTX_BUILTIN_CDP_PARAMBUF2) {
			const struct ptx_func *fn = cdp_func(mod, cdp_arg(fr, cs, 0, 8));
			cdp_dim(fr, cs, 1, g);
			cdp_dim(fr, cs, 2, bl);
			if (fn)
				p = e->cdp_buffer(e->cdp_ctx, fn, g, bl, (uint32_t)cdp_arg(fr, cs, 3, 4), fn->param_bytes);
		} else if (e->cdp_buffer) {
			p = e->cdp_buffer(e->cdp_ctx, NULL, NULL, NULL, 0, cdp_arg(fr, cs, 1, 8));
		}
		cdp_ret(fr, cs, &p, 8);   /* NULL: no buffer, as the device runtime answers */
		return 0;
	}
	case PTX_BUILTIN_CDP_LAUNCH2:
	case PTX_BUILTIN_CDP_LAUNCH:
		err = 1;   /* cudaErrorInvalidValue */
		if (e->cdp_launch && cs->builtin == PTX_BUILTIN_CDP_LAUNCH2) {
			err = e->cdp_launch(e->cdp_ctx, cdp_arg(fr, cs, 0, 8), NULL, NULL, NULL, 0);
		} else if (e->cdp_launch) {
			const struct ptx_func *fn = cdp_func(mod, cdp_arg(fr, cs, 0, 8));
			cdp_dim(fr, cs, 2, g);
			cdp_dim(fr, cs, 3, bl);
			err = fn ? e->cdp_launch(e->cdp_ctx, cdp_arg(fr, cs, 1, 8), fn, g, bl, (uint32_t)cdp_arg(fr, cs, 4, 4))
			         : 98;   /* cudaErrorInvalidDeviceFunction */
		}
		break;
	case PTX_BUILTIN_CDP_STREAM:
	case PTX_BUILTIN_CDP_DEVICE: {
		/* a stream is a token (children run in the order launched); the device is 0 */
		uint64_t a = cdp_arg(fr, cs, 0, 8), v = cs->builtin == PTX_BUILTIN_CDP_STREAM ? 0x5ull : 0;
		unsigned n = cs->builtin == PTX_BUILTIN_CDP_STREAM ? 8 : 4;
		uint8_t *p = mem_ptr(b, t, SP_GENERIC, a, n, 1);
		if (!p) {
			fault(b, t, in, -EFAULT, "illegal address: the device runtime's result to", a);
			return -EFAULT;
		}
		memcpy(p, &v, n);
		break;
	}
	default:
		break;
	}
	cdp_ret(fr, cs, &err, 4);
	return 0;
}

/* Local memory per thread, all its frames and alloca's together. */
#define LOCAL_MAX (256u << 10)

/* Grows thread t's stack to hold need bytes (zeroed when new). 0 or -ENOMEM. */
static int local_reserve(struct thr *t, uint64_t need)
{
	if (need > t->local_hw && need <= LOCAL_MAX)
		t->local_hw = (uint32_t)need;
	if (need <= t->local_cap)
		return 0;
	uint32_t nc = t->local_cap ? t->local_cap : 256;
	while (nc < need)
		nc *= 2;
	uint8_t *nl = realloc(t->local, nc);
	if (!nl)
		return -ENOMEM;
	memset(nl + t->local_cap, 0, nc - t->local_cap);
	t->local = nl;
	t->local_cap = nc;
	return 0;
}

/* alloca, stacksave, stackrestore (OP_STACK) on thread t's stack: 0, or < 0 with the fault set */
static __attribute__((noinline)) int stack_op(struct blk *b, struct thr *t, const struct ptx_insn *in, uint64_t *r)
{
	uint64_t a = r[in->o[1]];
	if (in->mod == STK_SAVE) {
		r[in->o[0]] = t->local_top;
	} else if (in->mod == STK_RESTORE) {
		/* back to where the stack ended before: the thread's own memory only */
		if (a > t->local_top) {
			fault(b, t, in, -EINVAL, "stackrestore past the stack's end, to", a);
			return -EINVAL;
		}
		t->local_top = (uint32_t)a;
	} else {
		uint64_t al = (uint64_t)in->imm, base = ((uint64_t)t->local_top + al - 1) & ~(al - 1);
		if (a > LOCAL_MAX || base + a > LOCAL_MAX || local_reserve(t, base + a)) {
			fault(b, t, in, -EFAULT, "stack overflow: alloca of bytes", a);
			return -EFAULT;
		}
		t->local_top = (uint32_t)(base + a);
		r[in->o[0]] = base;
	}
	return 0;
}

/* Creates a frame for fn on thread t (local memory from the thread's stack). */
static size_t frame_bytes(const struct ptx_func *fn)
{
	return (sizeof(struct frame) + (size_t)fn->nslots * 8 + fn->frame_param_size + 15) & ~(size_t)15;
}

/* Creates a frame for fn on thread t in mem (frame_bytes(fn) bytes, e.g. the block's entry
 * frame arena) or, when mem is NULL, on the heap (calls). */
static struct frame *frame_new(struct blk *b, struct thr *t, const struct ptx_func *fn, void *mem)
{
	assert(fn->defined && fn->nslots > 0);
	size_t rs = (size_t)fn->nslots * 8;
	struct frame *fr = mem ? mem : malloc(frame_bytes(fn));
	if (!fr)
		return NULL;
	fr->heap = !mem;
	fr->fn = fn;
	fr->r = (uint64_t *)(fr + 1);
	fr->param = (uint8_t *)fr->r + rs;
	memcpy(fr->r, fn->tmpl, rs);
	memset(fr->param, 0, fn->frame_param_size);
	fr->parent = NULL;
	uint32_t base = (t->local_top + 15) & ~15u;
	if (fn->local_size) {
		uint64_t need = (uint64_t)base + fn->local_size;
		if (need > LOCAL_MAX || local_reserve(t, need)) {
			if (fr->heap)
				free(fr);
			return NULL;
		}
		t->local_top = (uint32_t)need;
	}
	fr->local_base = base;
	for (uint32_t i = 0; i < fn->nfills; i++)
		fr->r[fn->fills[i].slot] = fill_value(b, t, fr, &fn->fills[i]);
	return fr;
}

static inline int64_t sx(uint64_t v, unsigned bytes)
{
	unsigned sh = 64 - bytes * 8;
	return (int64_t)(v << sh) >> sh;
}

static inline uint64_t mask_of(unsigned bytes) { return bytes >= 8 ? ~0ull : (1ull << (bytes * 8)) - 1; }

static double round_mode(double v, int mode)
{
	switch (mode) {
	case RND_RNI: return nearbyint(v);
	case RND_RZI: return trunc(v);
	case RND_RMI: return floor(v);
	case RND_RPI: return ceil(v);
	default: return v;
	}
}

static uint64_t sat_int(double v, int k)
{
	/* float → integer conversion saturates on a GPU; NaN gives 0 */
	if (isnan(v))
		return 0;
	switch (k) {
	case K_U8: return v <= 0 ? 0 : v >= 255 ? 255 : (uint64_t)v;
	case K_S8: return (uint8_t)(v <= -128 ? -128 : v >= 127 ? 127 : (int64_t)v);
	case K_U16: return v <= 0 ? 0 : v >= 65535 ? 65535 : (uint64_t)v;
	case K_S16: return (uint16_t)(v <= -32768 ? -32768 : v >= 32767 ? 32767 : (int64_t)v);
	case K_U32: return v <= 0 ? 0 : v >= 4294967295.0 ? 4294967295u : (uint64_t)v;
	case K_S32: return (uint32_t)(v <= -2147483648.0 ? INT32_MIN : v >= 2147483647.0 ? INT32_MAX : (int32_t)v);
	case K_U64: return v <= 0 ? 0 : v >= 18446744073709551615.0 ? ~0ull : (uint64_t)v;
	default: return (uint64_t)(v <= -9223372036854775808.0 ? INT64_MIN :
	                           v >= 9223372036854775807.0 ? INT64_MAX : (int64_t)v);
	}
}

/* An exact value to half (bf 0) or bfloat16 (bf 1) as cvt's rounding and flags say: one
 * rounding (toward zero for bfloat16's .rz, else to nearest even). */
static uint64_t cvt_half(const struct ptx_insn *in, double v, int bf)
{
	v = round_mode(v, in->mod);
	if ((in->mod2 & FL_RELU) && v <= 0)   /* -0 too: +0 */
		v = 0;
	if (in->mod2 & FL_SAT)
		v = isnan(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
	if (in->mod2 & FL_SATFINITE) {
		double mx = bf ? 0x1.fep127 : 65504.0;
		v = v > mx ? mx : v < -mx ? -mx : v;
	}
	if (bf)
		return d2b(v, in->mod == RND_RZ);
	return isnan(v) && (in->mod2 & (FL_RELU | FL_SATFINITE)) ? 0x7fff : d2h(v);
}

/* fp8 (OP_FP8): e4m3 (bias 7, 3 mantissa bits, no infinities, NaN S.1111.111, largest 448)
 * or e5m2 (bias 15, 2 mantissa bits, IEEE-like, largest finite 57344). */
static uint32_t fp8_enc(double x, int e5, int relu)
{
	const int mb = e5 ? 2 : 3, bias = e5 ? 15 : 7;
	const uint32_t maxbits = e5 ? 0x7b : 0x7e, nan = 0x7f;
	if (isnan(x))
		return nan;
	if (relu && signbit(x))
		return 0;                                 /* .relu: negatives (and -0) are +0 */
	uint32_t s = signbit(x) ? 0x80 : 0, bits;
	double a = fabs(x);
	if (isinf(a))
		return s | maxbits;                       /* .satfinite */
	int e;
	frexp(a, &e);
	e -= 1;                                           /* a = 1.f * 2^e */
	if (a == 0) {
		bits = 0;
	} else if (e < 1 - bias) {                        /* subnormal: steps of 2^(1-bias-mb) */
		bits = (uint32_t)nearbyint(ldexp(a, bias - 1 + mb));   /* 2^mb: the smallest normal */
	} else {
		uint32_t q = (uint32_t)nearbyint(ldexp(a, mb - e)) - (1u << mb);
		if (q == (1u << mb)) {
			q = 0;
			e++;
		}
		bits = (uint32_t)(e + bias) << mb | q;
	}
	return s | (bits > maxbits ? maxbits : bits);
}

static double fp8_dec(uint32_t b, int e5)
{
	const int mb = e5 ? 2 : 3, bias = e5 ? 15 : 7;
	uint32_t e = (b & 0x7f) >> mb, m = b & ((1u << mb) - 1);
	double v;
	if (e5 ? e == 0x1f : (b & 0x7f) == 0x7f)
		v = e5 && !m ? INFINITY : NAN;
	else
		v = e ? ldexp(1.0 + m / (double)(1u << mb), (int)e - bias) : ldexp(m, 1 - bias - mb);
	return (b & 0x80) ? -v : v;
}

static uint64_t do_fp8(const struct ptx_insn *in, uint64_t a, uint64_t b)
{
	int e5 = (in->mod2 & FP8_E5M2) != 0, relu = (in->mod2 & FL_RELU) != 0;
	switch (in->mod) {
	case FP8_FROM_F32:
		return fp8_enc(f32(a), e5, relu) << 8 | fp8_enc(f32(b), e5, relu);
	case FP8_FROM_F16X2:
		return fp8_enc(h2d(a >> 16 & 0xffff), e5, relu) << 8 | fp8_enc(h2d(a & 0xffff), e5, relu);
	default: {   /* (exact: every fp8 value is a half; a NaN is the canonical 0x7fff) */
		double dh = fp8_dec(a >> 8 & 0xff, e5), dl = fp8_dec(a & 0xff, e5);
		uint64_t hi = isnan(dh) ? 0x7fff : d2h(dh), lo = isnan(dl) ? 0x7fff : d2h(dl);
		if (relu && (hi & 0x8000) && (hi & 0x7fff) <= 0x7c00)
			hi = 0;
		if (relu && (lo & 0x8000) && (lo & 0x7fff) <= 0x7c00)
			lo = 0;
		return (hi & 0xffff) << 16 | (lo & 0xffff);
	}
	}
}

static uint64_t do_cvt(const struct ptx_insn *in, uint64_t a)
{
	int dk = in->kind, sk = in->kind2;
	if (sk == K_F32 || sk == K_F64 || sk == K_F16 || sk == K_BF16) {
		double v = sk == K_F32 ? f32(a) : sk == K_F64 ? f64(a) : sk == K_F16 ? h2d(a) : b2d(a);
		if (dk == K_F16 || dk == K_BF16)
			return cvt_half(in, v, dk == K_BF16);
		if (dk == K_F32 && sk == K_F64 &&
		    (in->mod == RND_RZ || in->mod == RND_RM || in->mod == RND_RP))
			return sim_fround_cvt(dk, in->mod, 0, 0, 0, 1, a);
		if (dk == K_F32 || dk == K_F64) {
			v = round_mode(v, in->mod);
			if (in->mod2 & FL_SAT)
				v = isnan(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
			return dk == K_F32 ? pf32((float)v) : pf64(v);
		}
		int m = in->mod == RND_NONE ? RND_RZI : in->mod;
		return sat_int(round_mode(v, m), dk);
	}
	/* integer source: extend by the source type */
	unsigned ss = sk == K_U8 || sk == K_S8 ? 1 : sk == K_U16 || sk == K_S16 ? 2 :
	              sk == K_U32 || sk == K_S32 ? 4 : 8;
	int ssigned = sk == K_S8 || sk == K_S16 || sk == K_S32 || sk == K_S64;
	uint64_t v = ssigned ? (uint64_t)sx(a, ss) : a & mask_of(ss);
	if ((dk == K_F32 || dk == K_F64) && (in->mod == RND_RZ || in->mod == RND_RM || in->mod == RND_RP))
		return sim_fround_cvt(dk, in->mod, (int64_t)v, v, ssigned, 0, 0);
	if (dk == K_F16 || dk == K_BF16)   /* |v| >= 2^53 is far beyond the half range either way */
		return cvt_half(in, ssigned ? (double)(int64_t)v : (double)v, dk == K_BF16);
	if (dk == K_F32)
		return pf32(ssigned ? (float)(int64_t)v : (float)v);
	if (dk == K_F64)
		return pf64(ssigned ? (double)(int64_t)v : (double)v);
	unsigned ds = dk == K_U8 || dk == K_S8 ? 1 : dk == K_U16 || dk == K_S16 ? 2 :
	              dk == K_U32 || dk == K_S32 ? 4 : 8;
	if (in->mod2 & FL_SAT) {
		int dsigned = dk == K_S8 || dk == K_S16 || dk == K_S32 || dk == K_S64;
		int64_t lo = dsigned ? -(int64_t)(mask_of(ds) >> 1) - 1 : 0;
		uint64_t hi = dsigned ? mask_of(ds) >> 1 : mask_of(ds);
		if (ssigned && (int64_t)v < lo)
			v = (uint64_t)lo;
		else if ((!ssigned || (int64_t)v >= 0) && v > hi)
			v = hi;
	}
	return v & mask_of(ds);
}

static int cmp_int(int c, uint64_t a, uint64_t b, int sgn)
{
	int64_t x = (int64_t)a, y = (int64_t)b;
	switch (c) {
	case CMP_EQ: return a == b;
	case CMP_NE: return a != b;
	case CMP_LT: return sgn ? x < y : a < b;
	case CMP_LE: return sgn ? x <= y : a <= b;
	case CMP_GT: return sgn ? x > y : a > b;
	case CMP_GE: return sgn ? x >= y : a >= b;
	case CMP_LO: return a < b;
	case CMP_LS: return a <= b;
	case CMP_HI: return a > b;
	case CMP_HS: return a >= b;
	default: return 0;
	}
}

static int cmp_flt(int c, double a, double b)
{
	int un = isnan(a) || isnan(b);
	switch (c) {
	case CMP_EQ: return !un && a == b;
	case CMP_NE: return !un && a != b;
	case CMP_LT: return !un && a < b;
	case CMP_LE: return !un && a <= b;
	case CMP_GT: return !un && a > b;
	case CMP_GE: return !un && a >= b;
	case CMP_EQU: return un || a == b;
	case CMP_NEU: return un || a != b;
	case CMP_LTU: return un || a < b;
	case CMP_LEU: return un || a <= b;
	case CMP_GTU: return un || a > b;
	case CMP_GEU: return un || a >= b;
	case CMP_NUM: return !un;
	case CMP_NAN: return un;
	default: return 0;
	}
}

static int do_setp(const struct ptx_insn *in, const uint64_t *r)
{
	uint64_t a = r[in->o[1]], b = r[in->o[2]];
	switch (in->kind) {
	case K_F32: return cmp_flt(in->mod, f32(a), f32(b));
	case K_F64: return cmp_flt(in->mod, f64(a), f64(b));
	case K_F16: return cmp_flt(in->mod, h2d(a), h2d(b));
	case K_BF16: return cmp_flt(in->mod, b2d(a), b2d(b));
	case K_S16: return cmp_int(in->mod, (uint64_t)sx(a, 2), (uint64_t)sx(b, 2), 1);
	case K_S32: return cmp_int(in->mod, (uint64_t)sx(a, 4), (uint64_t)sx(b, 4), 1);
	case K_S64: return cmp_int(in->mod, a, b, 1);
	case K_U16: return cmp_int(in->mod, a & 0xffff, b & 0xffff, 0);
	case K_U32: return cmp_int(in->mod, a & 0xffffffffu, b & 0xffffffffu, 0);
	case K_PRED: return cmp_int(in->mod, a & 1, b & 1, 0);
	default: return cmp_int(in->mod, a, b, 0);
	}
}

/* Atomic read-modify-write at p; returns the old value. */
static uint64_t do_atom(const struct ptx_insn *in, uint8_t *p, uint64_t v, uint64_t c)
{
	int op = in->mod & 0x7f;
	if (in->size == 2) {   /* half: add (atomicAdd(__half *)), exchange, compare-and-swap */
		uint16_t *q = (uint16_t *)p, old = __atomic_load_n(q, __ATOMIC_RELAXED), nw;
		do {
			if (op == AT_CAS && old != (uint16_t)v)
				return old;
			nw = op == AT_ADD && in->kind == K_F16 ? (uint16_t)d2h(h2d(old) + h2d(v)) :
			     op == AT_ADD && in->kind == K_BF16 ? (uint16_t)d2b(b2d(old) + b2d(v), 0) :
			     op == AT_CAS ? (uint16_t)c : (uint16_t)v;
		} while (!__atomic_compare_exchange_n(q, &old, nw, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
		return old;
	}
	if (in->size == 4) {
		uint32_t *q = (uint32_t *)p, old = __atomic_load_n(q, __ATOMIC_RELAXED), nw;
		do {
			uint32_t x = (uint32_t)v;
			switch (op) {
			case AT_ADD: nw = in->kind == K_F32 ? (uint32_t)pf32(f32(old) + f32(x)) :
			                  in->kind == K_F16X2 || in->kind == K_BF16X2 ?
			                  (uint32_t)h2op(old, x, 0, OP_ADD, in->kind == K_BF16X2, 0) : old + x; break;
			case AT_MIN: nw = in->kind == K_S32 ? ((int32_t)old < (int32_t)x ? old : x) :
			                  in->kind == K_F32 ? (uint32_t)pf32(fminf(f32(old), f32(x))) : (old < x ? old : x); break;
			case AT_MAX: nw = in->kind == K_S32 ? ((int32_t)old > (int32_t)x ? old : x) :
			                  in->kind == K_F32 ? (uint32_t)pf32(fmaxf(f32(old), f32(x))) : (old > x ? old : x); break;
			case AT_INC: nw = old >= x ? 0 : old + 1; break;
			case AT_DEC: nw = (old == 0 || old > x) ? x : old - 1; break;
			case AT_AND: nw = old & x; break;
			case AT_OR: nw = old | x; break;
			case AT_XOR: nw = old ^ x; break;
			case AT_EXCH: nw = x; break;
			default: /* CAS */
				if (old != x)
					return old;
				nw = (uint32_t)c;
				break;
			}
		} while (!__atomic_compare_exchange_n(q, &old, nw, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
		return old;
	}
	uint64_t *q = (uint64_t *)p, old = __atomic_load_n(q, __ATOMIC_RELAXED), nw;
	do {
		switch (op) {
		case AT_ADD: nw = in->kind == K_F64 ? pf64(f64(old) + f64(v)) : old + v; break;
		case AT_MIN: nw = in->kind == K_S64 ? ((int64_t)old < (int64_t)v ? old : v) :
		                  in->kind == K_F64 ? pf64(fmin(f64(old), f64(v))) : (old < v ? old : v); break;
		case AT_MAX: nw = in->kind == K_S64 ? ((int64_t)old > (int64_t)v ? old : v) :
		                  in->kind == K_F64 ? pf64(fmax(f64(old), f64(v))) : (old > v ? old : v); break;
		case AT_INC: nw = old >= v ? 0 : old + 1; break;
		case AT_DEC: nw = (old == 0 || old > v) ? v : old - 1; break;
		case AT_AND: nw = old & v; break;
		case AT_OR: nw = old | v; break;
		case AT_XOR: nw = old ^ v; break;
		case AT_EXCH: nw = v; break;
		default:
			if (old != v)
				return old;
			nw = c;
			break;
		}
	} while (!__atomic_compare_exchange_n(q, &old, nw, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return old;
}

/* 128-bit exchange and compare-and-swap (two slots each: low half first), atomic with respect
 * to each other: under one of a set of locks chosen by the address. */
static void atom128(const struct ptx_insn *in, uint8_t *p, uint64_t *d, const uint64_t *v, const uint64_t *c)
{
	static atomic_flag locks[64];
	atomic_flag *l = &locks[((uintptr_t)p >> 4) & 63];
	while (atomic_flag_test_and_set_explicit(l, memory_order_acquire))
		sched_yield();
	uint64_t old[2], nw[2] = {v[0], v[1]};
	memcpy(old, p, 16);
	if ((in->mod & 0x7f) == AT_CAS) {
		nw[0] = c[0];
		nw[1] = c[1];
	}
	if ((in->mod & 0x7f) != AT_CAS || (old[0] == v[0] && old[1] == v[1]))
		memcpy(p, nw, 16);
	atomic_flag_clear_explicit(l, memory_order_release);
	d[0] = old[0];
	d[1] = old[1];
}

/* Integer min/max of 32-bit values or of 16-bit pairs, .relu, and the pairs' add (OP_IMINMAX) */
static __attribute__((noinline)) uint32_t iminmax(uint32_t a, uint32_t b, unsigned mod)
{
	uint32_t d = 0, lanes = (mod & IMM_X2) ? 2 : 1, bits = 32 / lanes;
	for (uint32_t h = 0; h < lanes; h++) {
		uint32_t ua = a >> (h * bits), ub = b >> (h * bits);
		int64_t x = (mod & IMM_SIGNED) ? sx(ua, bits / 8) : (int64_t)(ua & mask_of(bits / 8));
		int64_t y = (mod & IMM_SIGNED) ? sx(ub, bits / 8) : (int64_t)(ub & mask_of(bits / 8));
		int64_t v = (mod & IMM_ADD) ? x + y : (mod & IMM_MAX) ? (x > y ? x : y) : (x < y ? x : y);
		if ((mod & IMM_RELU) && v < 0)
			v = 0;
		d |= (uint32_t)((uint64_t)v & mask_of(bits / 8)) << (h * bits);
	}
	return d;
}

/* mul24/mad24: the 48-bit product of the low 24 bits, its low or middle 32 bits, plus c */
static __attribute__((noinline)) uint32_t mul24(const struct ptx_insn *in, uint64_t a, uint64_t b, uint64_t c)
{
	int64_t x = in->kind == K_S32 ? sx(a, 3) : (int64_t)(a & mask_of(3));
	int64_t y = in->kind == K_S32 ? sx(b, 3) : (int64_t)(b & mask_of(3));
	uint64_t p = (uint64_t)(x * y);
	return (uint32_t)(((in->mod & M24_HI) ? p >> 16 : p) + ((in->mod & M24_MAD) ? (uint32_t)c : 0));
}

static __attribute__((noinline)) int testp(const struct ptx_insn *in, uint64_t a)
{
	double v = in->kind == K_F32 ? (double)f32(a) : f64(a);
	int c = in->kind == K_F32 ? fpclassify(f32(a)) : fpclassify(v);
	return in->mod == TP_FINITE ? isfinite(v) : in->mod == TP_INFINITE ? isinf(v) :
	       in->mod == TP_NUMBER ? !isnan(v) : in->mod == TP_NOTANUMBER ? isnan(v) :
	       in->mod == TP_NORMAL ? c == FP_NORMAL : c == FP_SUBNORMAL;
}

/* tanh.approx and ex2.approx of halves and bfloat16s, one or a pair (cuda_fp16.h's
 * htanh_approx, h2tanh_approx): the float function, rounded once */
static __attribute__((noinline)) uint64_t half_approx(const struct ptx_insn *in, uint64_t a)
{
	int tanh_ = in->op >> 4 == OP_TANH, bf = in->kind == K_BF16 || in->kind == K_BF16X2;
	int pair = in->kind == K_F16X2 || in->kind == K_BF16X2;
	uint64_t d = 0;
	for (int h = 0; h <= pair; h++) {
		uint64_t x = a >> (16 * h);
		float v = bf ? (float)b2d(x) : (float)h2d(x);
		v = tanh_ ? tanhf(v) : exp2f(v);
		d |= (bf ? d2b(v, 0) : d2h(v)) << (16 * h);
	}
	return d;
}

/* A clock register (OP_CLOCK's mod), now */
static __attribute__((noinline)) uint64_t clock_read(unsigned mod)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	uint64_t cyc = (uint64_t)((unsigned __int128)ns * PTX_CLOCK_KHZ / 1000000);
	return mod == CLK_CYCLES ? cyc : mod == CLK_CYCLES32 ? (uint32_t)cyc : mod == CLK_NS ? ns :
	       mod == CLK_NS_LO ? (uint32_t)ns : ns >> 32;
}

#define C(o, k) ((o) << 4 | (k))
#define RD r[in->o[0]]
#define RA r[in->o[1]]
#define RB r[in->o[2]]
#define RC r[in->o[3]]

/* unsigned-typed integer ops for 16/32/64 bits (wrapping, no UB) */
#define U3(OP, E) \
	case C(OP, K_U16): { uint32_t a = (uint16_t)RA, b = (uint16_t)RB; (void)b; RD = (uint16_t)(E); break; } \
	case C(OP, K_U32): { uint32_t a = (uint32_t)RA, b = (uint32_t)RB; (void)b; RD = (uint32_t)(E); break; } \
	case C(OP, K_U64): { uint64_t a = RA, b = RB; (void)b; RD = (E); break; }
#define S3(OP, E) \
	case C(OP, K_S16): { int32_t a = (int16_t)RA, b = (int16_t)RB; (void)b; RD = (uint16_t)(E); break; } \
	case C(OP, K_S32): { int32_t a = (int32_t)RA, b = (int32_t)RB; (void)b; RD = (uint32_t)(E); break; } \
	case C(OP, K_S64): { int64_t a = (int64_t)RA, b = (int64_t)RB; (void)b; RD = (uint64_t)(E); break; }
#define F2(OP, EF, ED) \
	case C(OP, K_F32): { float a = f32(RA), b = f32(RB); (void)b; float v = (EF); \
		if (in->mod2 & FL_SAT) v = isnan(v) ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; \
		RD = pf32(v); break; } \
	case C(OP, K_F64): { double a = f64(RA), b = f64(RB); (void)b; double v = (ED); \
		if (in->mod2 & FL_SAT) v = isnan(v) ? 0.0 : v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; \
		RD = pf64(v); break; }

/* vshl/vshr: a (signed or not) shifted by b, clamped to 32 or taken mod 32, in 64 bits; .sat
 * clamps that to d's range (else a left shift keeps its low 32 bits); then .add/.min/.max with
 * c, as the ISA orders them; d the low 32 bits */
static uint32_t vshift(uint32_t a, uint32_t b, uint32_t c, int mod, int op2)
{
	int64_t x = (mod & VSH_ASGN) ? (int64_t)(int32_t)a : (int64_t)a;
	uint32_t sh = (mod & VSH_CLAMP) ? (b > 32 ? 32 : b) : b & 31;
	x = (mod & VSH_RIGHT) ? x >> sh : (int64_t)((uint64_t)x << sh);
	if (mod & VSH_SAT) {
		int64_t lo = (mod & VSH_DSGN) ? INT32_MIN : 0, hi = (mod & VSH_DSGN) ? INT32_MAX : UINT32_MAX;
		x = x < lo ? lo : x > hi ? hi : x;
	} else if (!(mod & VSH_RIGHT)) {
		x = (mod & VSH_ASGN) ? (int64_t)(int32_t)(uint32_t)x : (int64_t)(uint32_t)x;   /* the bits kept */
	}
	int64_t y = (mod & VSH_DSGN) ? (int64_t)(int32_t)c : (int64_t)c;
	if (op2 == VOP_ADD)
		x += y;
	else if (op2 == VOP_MIN)
		x = x < y ? x : y;
	else if (op2 == VOP_MAX)
		x = x > y ? x : y;
	return (uint32_t)x;
}

/* min/max.NaN.f32's answer when an operand is NaN: the canonical NaN, 0x7fffffff */
static inline float nan_canon(void) { return f32(0x7fffffffu); }

static inline uint32_t shl32(uint32_t a, uint32_t b) { return b >= 32 ? 0 : a << b; }
static inline uint64_t shl64(uint64_t a, uint32_t b) { return b >= 64 ? 0 : a << b; }
static inline uint32_t shr32(uint32_t a, uint32_t b) { return b >= 32 ? 0 : a >> b; }
static inline uint64_t shr64(uint64_t a, uint32_t b) { return b >= 64 ? 0 : a >> b; }
static inline int32_t sar32(int32_t a, uint32_t b) { return a >> (b >= 32 ? 31 : b); }
static inline int64_t sar64(int64_t a, uint32_t b) { return a >> (b >= 64 ? 63 : b); }

#define UDIV(a, b, T) ((b) == 0 ? (T)~(T)0 : (a) / (b))
#define UREM(a, b) ((b) == 0 ? (a) : (a) % (b))
#define SDIV(a, b, MIN) ((b) == 0 ? -1 : ((a) == (MIN) && (b) == -1) ? (a) : (a) / (b))
#define SREM(a, b, MIN) ((b) == 0 ? (a) : ((a) == (MIN) && (b) == -1) ? 0 : (a) % (b))

/* fns.b32: the position of the |offset|-th set bit of mask counting from bit base (base
 * included), towards the top for a positive offset, the bottom for a negative one; offset 0
 * asks whether bit base itself is set. 0xffffffff when there is none (cooperative groups'
 * coalesced shuffles find their source lanes so). */
static __attribute__((noinline)) uint32_t fns(uint32_t mask, uint32_t base, int32_t offset)
{
	if (base > 31)
		return 0xffffffffu;
	if (offset == 0)
		return (mask >> base & 1) ? base : 0xffffffffu;
	int inc = offset > 0 ? 1 : -1;
	uint32_t left = offset > 0 ? (uint32_t)offset - 1 : (uint32_t)(-(int64_t)offset) - 1;
	for (int pos = (int)base; pos >= 0 && pos < 32; pos += inc)
		if (mask >> pos & 1) {
			if (!left)
				return (uint32_t)pos;
			left--;
		}
	return 0xffffffffu;
}

/* bmsk: a mask of width b from bit a; .clamp bounds both at 32, .wrap takes them mod 32 */
static uint32_t bmsk(uint32_t a, uint32_t b, int clamp)
{
	uint32_t pos = clamp ? (a > 32 ? 32 : a) : a & 31, width = clamp ? (b > 32 ? 32 : b) : b & 31;
	uint64_t lo = pos >= 32 ? 0 : 0xffffffffull << pos, hi = pos + width >= 32 ? 0 : 0xffffffffull << (pos + width);
	return (uint32_t)(lo & ~hi);
}

/* dp4a/dp2a: c plus products of a's bytes (dp2a: 16-bit halves) and b's bytes, each
 * sign-extended or not as its type says, wrapping at 32 bits */
static uint32_t dpa(uint32_t a, uint32_t b, uint32_t c, unsigned mod, int halves)
{
	int64_t acc = (int32_t)c;
	for (unsigned i = 0; i < (halves ? 2u : 4u); i++) {
		int64_t x = halves ? (int64_t)(mod & DP_A_SIGNED ? (int16_t)(a >> (16 * i)) : (uint16_t)(a >> (16 * i)))
				   : (int64_t)(mod & DP_A_SIGNED ? (int8_t)(a >> (8 * i)) : (uint8_t)(a >> (8 * i)));
		unsigned bi = halves ? i + (mod & DP_HI ? 2 : 0) : i;
		int64_t y = mod & DP_B_SIGNED ? (int8_t)(b >> (8 * bi)) : (uint8_t)(b >> (8 * bi));
		acc += x * y;
	}
	return (uint32_t)acc;
}

/* lop3: any function of three inputs, bit by bit, given by its truth table lut (bit
 * a*4 + b*2 + c of lut is the result for those input bits) */
static uint32_t lop3(uint32_t a, uint32_t b, uint32_t c, uint32_t lut)
{
	uint32_t d = 0;
	for (unsigned i = 0; i < 8; i++)
		if (lut >> i & 1)
			d |= (i & 4 ? a : ~a) & (i & 2 ? b : ~b) & (i & 1 ? c : ~c);
	return d;
}

/* vabsdiff4: per byte |a_i - b_i| (signed or not); with .add (DP_HI) their sum plus c */
static uint32_t vabsdiff4(uint32_t a, uint32_t b, uint32_t c, unsigned mod)
{
	uint32_t d = 0, sum = 0;
	for (unsigned i = 0; i < 4; i++) {
		int x = mod & DP_A_SIGNED ? (int8_t)(a >> (8 * i)) : (uint8_t)(a >> (8 * i));
		int y = mod & DP_A_SIGNED ? (int8_t)(b >> (8 * i)) : (uint8_t)(b >> (8 * i));
		uint32_t v = (uint32_t)(x > y ? x - y : y - x);
		sum += v;
		d |= (v & 0xff) << (8 * i);
	}
	return mod & DP_HI ? c + sum : d;
}

static uint32_t prmt(uint32_t a, uint32_t b, uint32_t s, int mode)
{
	uint64_t src = (uint64_t)b << 32 | a;
	uint32_t d = 0;
	if (mode != PRMT_DEFAULT) {
		/* the byte of b:a each of d's bytes takes (d.b0 first), by s's low two bits */
		static const uint8_t pick[6][4][4] = {
			{{0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 6}},   /* f4e */
			{{0, 7, 6, 5}, {1, 0, 7, 6}, {2, 1, 0, 7}, {3, 2, 1, 0}},   /* b4e */
			{{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}},   /* rc8 */
			{{0, 1, 2, 3}, {1, 1, 2, 3}, {2, 2, 2, 3}, {3, 3, 3, 3}},   /* ecl */
			{{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 1, 2, 2}, {0, 1, 2, 3}},   /* ecr */
			{{0, 1, 0, 1}, {2, 3, 2, 3}, {0, 1, 0, 1}, {2, 3, 2, 3}},   /* rc16 */
		};
		for (int i = 0; i < 4; i++)
			d |= (uint32_t)(src >> (8 * pick[mode - 1][s & 3][i]) & 0xff) << (8 * i);
		return d;
	}
	for (int i = 0; i < 4; i++) {
		uint32_t sel = (s >> (4 * i)) & 0xf;
		uint32_t byte = (uint32_t)(src >> (8 * (sel & 7))) & 0xff;
		if (sel & 8)
			byte = (byte & 0x80) ? 0xff : 0;
		d |= byte << (8 * i);
	}
	return d;
}

static uint64_t bfe(uint64_t a, uint32_t pos, uint32_t len, unsigned bits, int sgn)
{
	pos &= 0xff;
	len &= 0xff;
	if (len == 0)
		return 0;
	uint64_t v = pos >= bits ? (sgn && ((a >> (bits - 1)) & 1) ? ~0ull : 0) : a >> pos;
	if (len < 64)
		v &= (1ull << len) - 1;
	if (sgn && len < 64) {
		unsigned top = pos + len - 1 >= bits ? bits - 1 : pos + len - 1;
		if ((a >> top) & 1)
			v |= ~0ull << len;
	}
	return v & mask_of(bits / 8);
}

/* Runs thread t until it exits, waits at a barrier or faults. Returns 0 or -errno. */
static int run_thread(struct blk *b, struct thr *t)
{
	struct frame *fr = t->fr;
	const struct ptx_insn *code = fr->fn->code;
	uint64_t *r = fr->r;
	uint32_t pc = t->pc;
	uint64_t n = 0;
	int rc = 0;
	for (;;) {
		const struct ptx_insn *in = &code[pc++];
		n++;
		if (in->guard && (r[in->guard] & 1) == in->gneg)
			continue;
		switch (in->op) {
		case C(OP_NOP, K_NONE): case C(OP_NOP, K_U32): case C(OP_NOP, K_U64):
			break;
		case C(OP_MOV, K_U8): case C(OP_MOV, K_U16): case C(OP_MOV, K_U32): case C(OP_MOV, K_U64):
		case C(OP_MOV, K_F32): case C(OP_MOV, K_F64): case C(OP_MOV, K_PRED):
			RD = RA;
			break;
		U3(OP_ADD, a + b)
		F2(OP_ADD, a + b, a + b)
		U3(OP_SUB, a - b)
		F2(OP_SUB, a - b, a - b)
		U3(OP_MUL_LO, a * b)
		F2(OP_MUL_LO, a * b, a * b)
		case C(OP_MAD_LO, K_U16): RD = (uint16_t)((uint32_t)(uint16_t)RA * (uint16_t)RB + (uint16_t)RC); break;
		case C(OP_MAD_LO, K_U32): RD = (uint32_t)((uint32_t)RA * (uint32_t)RB + (uint32_t)RC); break;
		case C(OP_MAD_LO, K_U64): RD = RA * RB + RC; break;
		case C(OP_FMA, K_F32): {
			float v = fmaf(f32(RA), f32(RB), f32(RC));
			if (in->mod2 & FL_SAT)
				v = isnan(v) ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
			RD = pf32(v);
			break;
		}
		case C(OP_FMA, K_F64): RD = pf64(fma(f64(RA), f64(RB), f64(RC))); break;
		case C(OP_MUL_HI, K_U16): RD = ((uint32_t)(uint16_t)RA * (uint16_t)RB) >> 16; break;
		case C(OP_MUL_HI, K_S16): RD = (uint16_t)(((int32_t)(int16_t)RA * (int16_t)RB) >> 16); break;
		case C(OP_MUL_HI, K_U32): RD = ((uint64_t)(uint32_t)RA * (uint32_t)RB) >> 32; break;
		case C(OP_MUL_HI, K_S32): RD = (uint32_t)(((int64_t)(int32_t)RA * (int32_t)RB) >> 32); break;
		case C(OP_MUL_HI, K_U64): RD = (uint64_t)(((unsigned __int128)RA * RB) >> 64); break;
		case C(OP_MUL_HI, K_S64): RD = (uint64_t)(((__int128)(int64_t)RA * (int64_t)RB) >> 64); break;
		case C(OP_MAD_HI, K_U32): RD = (uint32_t)((((uint64_t)(uint32_t)RA * (uint32_t)RB) >> 32) + (uint32_t)RC); break;
		case C(OP_MAD_HI, K_S32): RD = (uint32_t)((uint64_t)(((int64_t)(int32_t)RA * (int32_t)RB) >> 32) + (uint32_t)RC); break;
		case C(OP_MAD_HI, K_U64): RD = (uint64_t)(((unsigned __int128)RA * RB) >> 64) + RC; break;
		case C(OP_MAD_HI, K_S64): RD = (uint64_t)(((__int128)(int64_t)RA * (int64_t)RB) >> 64) + RC; break;
		case C(OP_MUL_WIDE, K_U16): RD = (uint32_t)(uint16_t)RA * (uint16_t)RB; break;
		case C(OP_MUL_WIDE, K_S16): RD = (uint32_t)((int32_t)(int16_t)RA * (int16_t)RB); break;
		case C(OP_MUL_WIDE, K_U32): RD = (uint64_t)(uint32_t)RA * (uint32_t)RB; break;
		case C(OP_MUL_WIDE, K_S32): RD = (uint64_t)((int64_t)(int32_t)RA * (int32_t)RB); break;
		case C(OP_MAD_WIDE, K_U16): RD = (uint32_t)((uint32_t)(uint16_t)RA * (uint16_t)RB + (uint32_t)RC); break;
		case C(OP_MAD_WIDE, K_S16): RD = (uint32_t)((uint32_t)((int32_t)(int16_t)RA * (int16_t)RB) + (uint32_t)RC); break;
		case C(OP_MAD_WIDE, K_U32): RD = (uint64_t)(uint32_t)RA * (uint32_t)RB + RC; break;
		case C(OP_MAD_WIDE, K_S32): RD = (uint64_t)((int64_t)(int32_t)RA * (int32_t)RB) + RC; break;
		case C(OP_DIV, K_U16): { uint32_t a = (uint16_t)RA, b = (uint16_t)RB; RD = b ? a / b : 0xffff; break; }
		case C(OP_DIV, K_U32): { uint32_t a = (uint32_t)RA, b = (uint32_t)RB; RD = UDIV(a, b, uint32_t); break; }
		case C(OP_DIV, K_U64): { uint64_t a = RA, b = RB; RD = UDIV(a, b, uint64_t); break; }
		case C(OP_DIV, K_S16): { int32_t a = (int16_t)RA, b = (int16_t)RB; RD = (uint16_t)(b ? a / b : -1); break; }
		case C(OP_DIV, K_S32): { int32_t a = (int32_t)RA, b = (int32_t)RB; RD = (uint32_t)SDIV(a, b, INT32_MIN); break; }
		case C(OP_DIV, K_S64): { int64_t a = (int64_t)RA, b = (int64_t)RB; RD = (uint64_t)SDIV(a, b, INT64_MIN); break; }
		F2(OP_DIV, a / b, a / b)
		case C(OP_REM, K_U16): { uint32_t a = (uint16_t)RA, b = (uint16_t)RB; RD = UREM(a, b); break; }
		case C(OP_REM, K_U32): { uint32_t a = (uint32_t)RA, b = (uint32_t)RB; RD = UREM(a, b); break; }
		case C(OP_REM, K_U64): { uint64_t a = RA, b = RB; RD = UREM(a, b); break; }
		case C(OP_REM, K_S16): { int32_t a = (int16_t)RA, b = (int16_t)RB; RD = (uint16_t)(b ? a % b : a); break; }
		case C(OP_REM, K_S32): { int32_t a = (int32_t)RA, b = (int32_t)RB; RD = (uint32_t)SREM(a, b, INT32_MIN); break; }
		case C(OP_REM, K_S64): { int64_t a = (int64_t)RA, b = (int64_t)RB; RD = (uint64_t)SREM(a, b, INT64_MIN); break; }
		U3(OP_MIN, a < b ? a : b)
		S3(OP_MIN, a < b ? a : b)
		F2(OP_MIN, (in->mod2 & FL_NAN) && (isnan(a) || isnan(b)) ? nan_canon() : fminf(a, b), fmin(a, b))
		U3(OP_MAX, a > b ? a : b)
		S3(OP_MAX, a > b ? a : b)
		F2(OP_MAX, (in->mod2 & FL_NAN) && (isnan(a) || isnan(b)) ? nan_canon() : fmaxf(a, b), fmax(a, b))
		U3(OP_NEG, 0 - a)
		F2(OP_NEG, -a, -a)
		case C(OP_ABS, K_S16): { int32_t a = (int16_t)RA; RD = (uint16_t)(a < 0 ? -a : a); break; }
		case C(OP_ABS, K_S32): { uint32_t a = (uint32_t)RA; RD = (int32_t)a < 0 ? 0u - a : a; break; }
		case C(OP_ABS, K_S64): { uint64_t a = RA; RD = (int64_t)a < 0 ? 0u - a : a; break; }
		F2(OP_ABS, fabsf(a), fabs(a))
		U3(OP_AND, a & b)
		U3(OP_OR, a | b)
		U3(OP_XOR, a ^ b)
		U3(OP_NOT, ~a)
		U3(OP_CNOT, a == 0)
		case C(OP_AND, K_PRED): RD = (RA & RB) & 1; break;
		case C(OP_OR, K_PRED): RD = (RA | RB) & 1; break;
		case C(OP_XOR, K_PRED): RD = (RA ^ RB) & 1; break;
		case C(OP_NOT, K_PRED): RD = !(RA & 1); break;
		case C(OP_SHL, K_U16): RD = (uint16_t)shl32((uint16_t)RA, (uint32_t)RB); break;
		case C(OP_SHL, K_U32): RD = shl32((uint32_t)RA, (uint32_t)RB); break;
		case C(OP_SHL, K_U64): RD = shl64(RA, (uint32_t)RB); break;
		case C(OP_SHR, K_U16): RD = (uint16_t)shr32((uint16_t)RA, (uint32_t)RB); break;
		case C(OP_SHR, K_U32): RD = shr32((uint32_t)RA, (uint32_t)RB); break;
		case C(OP_SHR, K_U64): RD = shr64(RA, (uint32_t)RB); break;
		case C(OP_SHR, K_S16): RD = (uint16_t)sar32((int16_t)RA, (uint32_t)RB); break;
		case C(OP_SHR, K_S32): RD = (uint32_t)sar32((int32_t)RA, (uint32_t)RB); break;
		case C(OP_SHR, K_S64): RD = (uint64_t)sar64((int64_t)RA, (uint32_t)RB); break;
		case C(OP_SHF_L, K_U32): {
			uint32_t s = (uint32_t)RC;
			s = in->mod ? (s > 32 ? 32 : s) : s & 31;
			RD = (uint32_t)(((((uint64_t)(uint32_t)RB << 32) | (uint32_t)RA) << s) >> 32);
			break;
		}
		case C(OP_SHF_R, K_U32): {
			uint32_t s = (uint32_t)RC;
			s = in->mod ? (s > 32 ? 32 : s) : s & 31;
			RD = (uint32_t)((((uint64_t)(uint32_t)RB << 32) | (uint32_t)RA) >> s);
			break;
		}
		case C(OP_POPC, K_U32): RD = (uint32_t)__builtin_popcount((uint32_t)RA); break;
		case C(OP_POPC, K_U64): RD = (uint32_t)__builtin_popcountll(RA); break;
		case C(OP_CLZ, K_U32): RD = (uint32_t)RA ? (uint32_t)__builtin_clz((uint32_t)RA) : 32; break;
		case C(OP_CLZ, K_U64): RD = RA ? (uint32_t)__builtin_clzll(RA) : 64; break;
		case C(OP_BREV, K_U32): {
			uint32_t v = (uint32_t)RA, o = 0;
			for (int i = 0; i < 32; i++)
				o |= ((v >> i) & 1u) << (31 - i);
			RD = o;
			break;
		}
		case C(OP_BREV, K_U64): {
			uint64_t v = RA, o = 0;
			for (int i = 0; i < 64; i++)
				o |= ((v >> i) & 1ull) << (63 - i);
			RD = o;
			break;
		}
		case C(OP_BFE, K_U32): RD = bfe((uint32_t)RA, (uint32_t)RB, (uint32_t)RC, 32, 0); break;
		case C(OP_BFE, K_S32): RD = bfe((uint32_t)RA, (uint32_t)RB, (uint32_t)RC, 32, 1); break;
		case C(OP_BFE, K_U64): RD = bfe(RA, (uint32_t)RB, (uint32_t)RC, 64, 0); break;
		case C(OP_BFE, K_S64): RD = bfe(RA, (uint32_t)RB, (uint32_t)RC, 64, 1); break;
		case C(OP_BFI, K_U32): case C(OP_BFI, K_U64): {
			unsigned bits = in->kind == K_U32 ? 32 : 64;
			uint32_t pos = (uint32_t)RC & 0xff, len = (uint32_t)r[in->o[4]] & 0xff;
			uint64_t v = RB;
			if (len && pos < bits) {
				uint64_t m = (len >= 64 ? ~0ull : (1ull << len) - 1) << pos;
				v = (v & ~m) | ((RA << pos) & m);
			}
			RD = v & mask_of(bits / 8);
			break;
		}
		case C(OP_PRMT, K_U32): RD = prmt((uint32_t)RA, (uint32_t)RB, (uint32_t)RC, in->mod); break;
		case C(OP_BMSK, K_U32): RD = bmsk((uint32_t)RA, (uint32_t)RB, in->mod); break;
		/* sad: c plus |a - b| */
		case C(OP_SAD, K_U32): RD = (uint32_t)((uint32_t)RC + ((uint32_t)RA > (uint32_t)RB ? (uint32_t)RA - (uint32_t)RB
								     : (uint32_t)RB - (uint32_t)RA)); break;
		case C(OP_SAD, K_S32): RD = (uint32_t)((uint32_t)RC + (uint32_t)((int32_t)RA > (int32_t)RB ?
								     (int64_t)(int32_t)RA - (int32_t)RB :
								     (int64_t)(int32_t)RB - (int32_t)RA)); break;
		case C(OP_SAD, K_U64): RD = RC + (RA > RB ? RA - RB : RB - RA); break;
		case C(OP_SAD, K_S64): RD = RC + ((int64_t)RA > (int64_t)RB ? RA - RB : RB - RA); break;
		case C(OP_LOP3, K_U32): RD = lop3((uint32_t)RA, (uint32_t)RB, (uint32_t)RC, (uint32_t)r[in->o[4]]); break;
		case C(OP_CVTPACK, K_U32): {
			const int bits = in->mod;
			const int64_t lo = in->mod2 ? -(1ll << (bits - 1)) : 0;
			const int64_t hi = in->mod2 ? (1ll << (bits - 1)) - 1 : (1ll << bits) - 1;
			int64_t a = (int32_t)RA, bv = (int32_t)RB;
			a = a < lo ? lo : a > hi ? hi : a;
			bv = bv < lo ? lo : bv > hi ? hi : bv;
			const uint32_t mask = (uint32_t)((1ull << bits) - 1);
			uint64_t d = ((uint32_t)bv & mask) | (((uint32_t)a & mask) << bits);
			RD = (uint32_t)(d | ((uint64_t)(uint32_t)RC << (2 * bits)));
			break;
		}
		case C(OP_VSHIFT, K_U32): RD = vshift((uint32_t)RA, (uint32_t)RB, (uint32_t)RC, in->mod, in->mod2); break;
		case C(OP_VABSDIFF4, K_U32): RD = vabsdiff4((uint32_t)RA, (uint32_t)RB, (uint32_t)RC, in->mod); break;
		case C(OP_DP4A, K_U32): RD = dpa((uint32_t)RA, (uint32_t)RB, (uint32_t)RC, in->mod, 0); break;
		case C(OP_DP2A, K_U32): RD = dpa((uint32_t)RA, (uint32_t)RB, (uint32_t)RC, in->mod, 1); break;
		case C(OP_SELP, K_U16): case C(OP_SELP, K_U32): case C(OP_SELP, K_U64):
		case C(OP_SELP, K_F32): case C(OP_SELP, K_F64):
			RD = (RC & 1) ? RA : RB;
			break;
		case C(OP_RCP, K_F32): RD = pf32(1.0f / f32(RA)); break;
		case C(OP_RCP, K_F64): RD = pf64(1.0 / f64(RA)); break;
		case C(OP_SQRT, K_F32): RD = pf32(sqrtf(f32(RA))); break;
		case C(OP_SQRT, K_F64): RD = pf64(sqrt(f64(RA))); break;
		case C(OP_RSQRT, K_F32): RD = pf32(1.0f / sqrtf(f32(RA))); break;
		case C(OP_RSQRT, K_F64): RD = pf64(1.0 / sqrt(f64(RA))); break;
		case C(OP_EX2, K_F32): RD = pf32(exp2f(f32(RA))); break;
		case C(OP_EX2, K_F64): RD = pf64(exp2(f64(RA))); break;
		case C(OP_LG2, K_F32): RD = pf32(log2f(f32(RA))); break;
		case C(OP_LG2, K_F64): RD = pf64(log2(f64(RA))); break;
		case C(OP_SIN, K_F32): RD = pf32(sinf(f32(RA))); break;
		case C(OP_COS, K_F32): RD = pf32(cosf(f32(RA))); break;
		case C(OP_TANH, K_F32): RD = pf32(tanhf(f32(RA))); break;
		case C(OP_COPYSIGN, K_F32): RD = pf32(copysignf(f32(RB), f32(RA))); break;
		case C(OP_COPYSIGN, K_F64): RD = pf64(copysign(f64(RB), f64(RA))); break;
		case C(OP_MOV, K_F16): case C(OP_MOV, K_F16X2): case C(OP_MOV, K_BF16): case C(OP_MOV, K_BF16X2):
			RD = RA;
			break;
		case C(OP_SELP, K_F16): case C(OP_SELP, K_BF16):
			RD = (RC & 1) ? RA : RB;
			break;
		case C(OP_ADD, K_F16): case C(OP_SUB, K_F16): case C(OP_MUL_LO, K_F16):
		case C(OP_FMA, K_F16): case C(OP_MIN, K_F16): case C(OP_MAX, K_F16):
		case C(OP_ADD, K_BF16): case C(OP_SUB, K_BF16): case C(OP_MUL_LO, K_BF16):
		case C(OP_FMA, K_BF16): case C(OP_MIN, K_BF16): case C(OP_MAX, K_BF16):
			RD = hb_lane(RA & 0xffff, RB & 0xffff, RC & 0xffff, in->op >> 4, in->kind == K_BF16, in->mod2);
			break;
		case C(OP_NEG, K_F16): case C(OP_NEG, K_BF16): RD = (RA ^ 0x8000) & 0xffff; break;
		case C(OP_ABS, K_F16): case C(OP_ABS, K_BF16): RD = RA & 0x7fff; break;
		case C(OP_NEG, K_F16X2): case C(OP_NEG, K_BF16X2): RD = (RA ^ 0x80008000u) & 0xffffffffu; break;
		case C(OP_ABS, K_F16X2): case C(OP_ABS, K_BF16X2): RD = RA & 0x7fff7fffu; break;
		case C(OP_ADD, K_F16X2): case C(OP_SUB, K_F16X2): case C(OP_MUL_LO, K_F16X2):
		case C(OP_FMA, K_F16X2): case C(OP_MIN, K_F16X2): case C(OP_MAX, K_F16X2):
		case C(OP_ADD, K_BF16X2): case C(OP_SUB, K_BF16X2): case C(OP_MUL_LO, K_BF16X2):
		case C(OP_FMA, K_BF16X2): case C(OP_MIN, K_BF16X2): case C(OP_MAX, K_BF16X2):
			RD = h2op(RA, RB, RC, in->op >> 4, in->kind == K_BF16X2, in->mod2);
			break;
		default:
			goto slow;
		}
		continue;
slow:
		switch (in->op >> 4) {
		case OP_SETP: {
			int v = do_setp(in, r);
			int c = (in->mod2 & SETP_NEG_C) ? !(RC & 1) : (int)(RC & 1);
			int q = !v;
			switch (in->mod2 & 3) {
			case COMB_AND: v = v && c; q = q && c; break;
			case COMB_OR: v = v || c; q = q || c; break;
			case COMB_XOR: v = v ^ c; q = q ^ c; break;
			default: break;
			}
			RD = (uint64_t)v;
			if (in->mod2 & SETP_HAS_Q)
				r[in->o[4]] = (uint64_t)q;
			break;
		}
		case OP_HSET: {
			int bf = in->kind == K_BF16X2;
			uint64_t v = 0;
			for (int i = 0; i < 2; i++) {
				uint64_t x = (RA >> (16 * i)) & 0xffff, y = (RB >> (16 * i)) & 0xffff;
				int c = cmp_flt(in->mod, bf ? b2d(x) : h2d(x), bf ? b2d(y) : h2d(y));
				if (in->mod2 == HSET_PRED)
					r[i ? in->o[4] : in->o[0]] = (uint64_t)c;
				else if (c)
					v |= (uint64_t)(in->mod2 == HSET_INT ? 0xffff : in->mod2 == HSET_F16 ? 0x3c00 : 0x3f80) << (16 * i);
			}
			if (in->mod2 != HSET_PRED)
				RD = v;
			break;
		}
		case OP_CVT:
			if (in->kind == K_F16X2 || in->kind == K_BF16X2)   /* a to the upper half, b the lower */
				RD = cvt_half(in, f32(RA), in->kind == K_BF16X2) << 16 |
				     cvt_half(in, f32(RB), in->kind == K_BF16X2);
			else
				RD = do_cvt(in, RA);
			break;
		case OP_ISSPACEP: {
			uint64_t a = RA;
			int sh = a - b->env->shared_win < (1ull << 32);
			int lo = a - b->env->local_win < (1ull << 32);
			int pa = a - b->env->param_win < (1ull << 32);
			RD = in->kind2 == SP_SHARED ? sh : in->kind2 == SP_LOCAL ? lo : in->kind2 == SP_PARAM ? pa :
			     in->kind2 == SP_GLOBAL || in->kind2 == SP_CONST ? (!sh && !lo && !pa) : 0;
			break;
		}
		case OP_TEX:
		case OP_TXQ:
		case OP_SULD:
		case OP_SUST: {
			char what[320];
			uint64_t fa = 0;
			rc = ptx_tex_exec(in, r, b->env, tex_mem, b, what, sizeof(what), &fa);
			if (unlikely(rc)) {
				fault(b, t, in, rc, what, fa);
				goto out;
			}
			break;
		}
		case OP_FRND:
			RD = sim_fround_op(in->kind2, in->kind, in->mod, RA, RB, RC, in->mod2 & FL_SAT);
			break;
		case OP_CADD: case OP_CSUB: case OP_CMADLO: case OP_CMADHI: {
			uint64_t cin = (in->mod2 & CC_IN) ? (r[in->o[4]] & 1) : 0, cout;
			unsigned __int128 v;
			int sub = (in->op >> 4) == OP_CSUB;
			if ((in->kind & ~1) == K_U32) {
				uint64_t a = (uint32_t)RA, bb = (uint32_t)RB, cc = (uint32_t)RC, w;
				if (sub) {
					w = a - bb - cin;
					cout = a < bb + cin;          /* borrow */
				} else {
					uint64_t addend = (in->op >> 4) == OP_CADD ? bb :
					    (in->op >> 4) == OP_CMADLO ? (uint32_t)(a * bb) :
					    in->kind == K_S32 ? (uint32_t)((uint64_t)((int64_t)(int32_t)a * (int32_t)bb) >> 32)
					                      : (a * bb) >> 32;
					uint64_t third = (in->op >> 4) == OP_CADD ? 0 : cc;
					if ((in->op >> 4) == OP_CADD) {
						w = a + bb + cin;
					} else {
						w = addend + third + cin;
					}
					cout = w >> 32;
				}
				RD = (uint32_t)w;
			} else {
				uint64_t a = RA, bb = RB, cc = RC;
				if (sub) {
					RD = a - bb - cin;
					cout = (unsigned __int128)a < (unsigned __int128)bb + cin;
				} else {
					if ((in->op >> 4) == OP_CADD)
						v = (unsigned __int128)a + bb + cin;
					else {
						uint64_t pr = (in->op >> 4) == OP_CMADLO ? a * bb :
						    in->kind == K_S64 ? (uint64_t)(((__int128)(int64_t)a * (int64_t)bb) >> 64)
						                      : (uint64_t)(((unsigned __int128)a * bb) >> 64);
						v = (unsigned __int128)pr + cc + cin;
					}
					RD = (uint64_t)v;
					cout = (uint64_t)(v >> 64);
				}
			}
			if (in->mod2 & CC_OUT)
				r[in->o[4]] = cout & 1;
			break;
		}
		case OP_BFIND: {
			unsigned bits = (in->kind == K_U32 || in->kind == K_S32) ? 32 : 64;
			uint64_t a = bits == 32 ? (uint32_t)RA : RA;
			if ((in->kind == K_S32 || in->kind == K_S64) && ((a >> (bits - 1)) & 1))
				a = ~a & (bits == 32 ? 0xffffffffull : ~0ull);   /* first bit unlike the sign */
			uint32_t res;
			if (!a)
				res = 0xffffffffu;
			else {
				uint32_t pos = 63 - (uint32_t)__builtin_clzll(a);
				res = in->mod ? bits - 1 - pos : pos;
			}
			RD = res;
			break;
		}
		case OP_CVTA_TO:
			RD = in->kind2 == SP_SHARED ? RA - b->env->shared_win :
			     in->kind2 == SP_LOCAL ? RA - b->env->local_win :
			     in->kind2 == SP_PARAM ? RA - b->env->param_win : RA;
			if (in->kind == K_U32)
				RD = (uint32_t)RD;
			break;
		case OP_CVTA_FROM:
			RD = in->kind2 == SP_SHARED ? (uint32_t)RA + b->env->shared_win :
			     in->kind2 == SP_LOCAL ? (uint32_t)RA + b->env->local_win :
			     in->kind2 == SP_PARAM ? (uint32_t)RA + b->env->param_win : RA;
			break;
		case OP_LD: {
			if (unlikely(in->mod2 & LDST_VOLATILE)) {
				if (!t->vol_pass) {
					t->state = TS_WARP;     /* warp lockstep: see warp_resolve() */
					pc--;
					goto out;
				}
				t->vol_pass = 0;
			}
			uint64_t a = r[in->o[4]] + (uint64_t)in->imm;
			uint32_t sz = in->size, nv = LDST_VEC(in->mod2);
			if (unlikely(a & ((sz * nv - 1) | ((in->mod2 & LDST_ALIGN32) ? 31 : 0))) && in->kind2 != SP_PARAM) {
				fault(b, t, in, -EILSEQ, "misaligned address: load from", a);
				rc = -EILSEQ;
				goto out;
			}
			uint8_t *p = mem_ptr(b, t, in->kind2, a, sz * nv, 0);
			if (unlikely(!p)) {
				fault(b, t, in, -EFAULT, "illegal address: load from", a);
				rc = -EFAULT;
				goto out;
			}
			int sgn = in->kind == K_S8 || in->kind == K_S16 || in->kind == K_S32;
			for (uint32_t i = 0; i < nv; i++) {
				uint64_t v = 0;
				memcpy(&v, p + i * sz, sz);
				if (sgn)
					v = (uint64_t)sx(v, sz) & mask_of(in->mod);
				r[in->o[i]] = v;
			}
			break;
		}
		case OP_ST: {
			if (unlikely(in->mod2 & LDST_VOLATILE)) {
				if (!t->vol_pass) {
					t->state = TS_WARP;
					pc--;
					goto out;
				}
				t->vol_pass = 0;
			}
			uint64_t a = r[in->o[4]] + (uint64_t)in->imm;
			uint32_t sz = in->size, nv = LDST_VEC(in->mod2);
			if (unlikely(a & ((sz * nv - 1) | ((in->mod2 & LDST_ALIGN32) ? 31 : 0))) && in->kind2 != SP_PARAM) {
				fault(b, t, in, -EILSEQ, "misaligned address: store to", a);
				rc = -EILSEQ;
				goto out;
			}
			uint8_t *p = mem_ptr(b, t, in->kind2, a, sz * nv, 1);
			if (unlikely(!p) || in->kind2 == SP_CONST) {
				fault(b, t, in, -EFAULT, "illegal address: store to", a);
				rc = -EFAULT;
				goto out;
			}
			for (uint32_t i = 0; i < nv; i++)
				memcpy(p + i * sz, &r[in->o[i]], sz);
			break;
		}
		case OP_ATOM: {
			uint64_t a = r[in->o[4]] + (uint64_t)in->imm;
			uint8_t *p = mem_ptr(b, t, in->kind2, a, in->size, 1);
			if (unlikely(!p) || (a & ((in->mod2 > in->size ? in->mod2 : in->size) - 1))) {
				rc = p ? -EILSEQ : -EFAULT;
				fault(b, t, in, rc, p ? "misaligned address: atomic on" : "illegal address: atomic on", a);
				goto out;
			}
			if (unlikely(in->size == 16)) {
				atom128(in, p, &r[in->o[0]], &r[in->o[1]], &r[in->o[2]]);
				break;
			}
			uint64_t old = do_atom(in, p, RA, RB);
			RD = old;
			break;
		}
		case OP_PACK: {
			unsigned es = (in->kind == K_U64 || in->kind == K_F64 ? 64 : in->kind == K_U32 ||
			               in->kind == K_F32 ? 32 : 16) / in->mod2;
			uint64_t v = 0;
			for (unsigned i = 0; i < in->mod2; i++)
				v |= (r[in->o[i]] & (es >= 64 ? ~0ull : (1ull << es) - 1)) << (i * es);
			r[in->o[4]] = v;
			break;
		}
		case OP_UNPACK: {
			unsigned es = (in->kind == K_U64 || in->kind == K_F64 ? 64 : in->kind == K_U32 ||
			               in->kind == K_F32 ? 32 : 16) / in->mod2;
			uint64_t v = r[in->o[4]];
			for (unsigned i = 0; i < in->mod2; i++)
				r[in->o[i]] = (v >> (i * es)) & (es >= 64 ? ~0ull : (1ull << es) - 1);
			break;
		}
		case OP_BRA:
			if ((uint32_t)in->imm < pc && b->env->max_insns &&
			    unlikely(b->ninsn + n > b->env->max_insns)) {
				fault(b, t, in, -ETIMEDOUT, "watchdog: instruction budget exhausted at pc", pc - 1);
				rc = -ETIMEDOUT;
				goto out;
			}
			/* A cooperative launch's blocks each have a thread and may wait for each
			 * other (grid sync spins on a flag): let the others run now and then, and
			 * stop when one of them failed. */
			if (unlikely(b->env->stop != NULL) && (uint32_t)in->imm < pc && (++b->loops & 63) == 0) {
				if (atomic_load(b->env->stop)) {
					fault(b, t, in, -ECANCELED, "stopped: another block of the cooperative launch failed; pc",
					      pc - 1);
					rc = -ECANCELED;
					goto out;
				}
				sched_yield();
			}
			/* A thread that loops long lets the block's others run: one may be spinning
			 * on memory another thread of the block is to write (cooperative groups'
			 * tiles of several warps synchronise so, through shared memory). */
			if (unlikely(n >= YIELD_INSNS) && (uint32_t)in->imm < pc && b->nthreads > 1) {
				pc = (uint32_t)in->imm;
				t->state = TS_SPIN;
				b->yielded = 1;
				goto out;
			}
			pc = (uint32_t)in->imm;
			break;
		case OP_CALL: {
			if (unlikely(++t->depth > 1024)) {
				fault(b, t, in, -EINVAL, "call stack overflow (recursion deeper than 1024) at pc", pc - 1);
				rc = -EINVAL;
				goto out;
			}
			const struct ptx_call *cs = &b->l->mod->calls[in->imm];
			const struct ptx_func *cf;
			if (unlikely(cs->indirect)) {
				/* through a function's address: one of this module's functions with a body,
				 * taking what the call passes */
				const struct ptx_module *mod = b->l->mod;
				uint64_t fa = r[cs->fslot], fi = (fa - PTX_FUNC_WIN) / 16;
				cf = fa >= PTX_FUNC_WIN && !(fa & 15) && fi < mod->nfuncs ? &mod->funcs[fi] : NULL;
				if (!cf || cf->is_entry || !cf->defined || cf->nparams != cs->nargs ||
				    (cf->ret_size != 0) != (cs->nret != 0)) {
					fault(b, t, in, -EFAULT, cf ? "indirect call to a function of another shape, or "
					      "one without a body, at" : "indirect call through an address that is no "
					      "function of the module:", fa);
					rc = -EFAULT;
					goto out;
				}
			} else {
				cf = &b->l->mod->funcs[cs->callee];
			}
			if (cs->builtin == PTX_BUILTIN_VPRINTF) {
				uint64_t fa = 0, aa = 0;
				int nargs;
				t->depth--;
				if (cs->arg_off[0] + 8 <= fr->fn->frame_param_size)
					memcpy(&fa, fr->param + cs->arg_off[0], 8);
				if (cs->arg_off[1] + 8 <= fr->fn->frame_param_size)
					memcpy(&aa, fr->param + cs->arg_off[1], 8);
				if (device_printf(b, t, fa, aa, &nargs) < 0) {
					fault(b, t, in, -EFAULT, "printf: its format or an argument is not readable; format at",
					      fa);
					rc = -EFAULT;
					goto out;
				}
				if (cs->ret_off + 4 <= fr->fn->frame_param_size)
					memcpy(fr->param + cs->ret_off, &nargs, 4);
				break;
			}
			if (cs->builtin == PTX_BUILTIN_ASSERTFAIL) {
				/* as a GPU reports it on stderr; the launch ends with CUDA_ERROR_ASSERT */
				uint64_t a[4] = { 0 };
				uint32_t line = 0;
				static const unsigned which[4] = { 0, 1, 3, 2 };
				for (unsigned i = 0; i < 3; i++)
					if (cs->arg_off[which[i]] + 8 <= fr->fn->frame_param_size)
						memcpy(&a[i], fr->param + cs->arg_off[which[i]], 8);
				if (cs->arg_off[2] + 4 <= fr->fn->frame_param_size)
					memcpy(&line, fr->param + cs->arg_off[2], 4);
				char msg[PRINTF_MAX], file[PRINTF_MAX], func[PRINTF_MAX];
				if (device_str(b, t, a[0], msg) < 0)
					strcpy(msg, "?");
				if (device_str(b, t, a[1], file) < 0)
					strcpy(file, "?");
				if (device_str(b, t, a[2], func) < 0)
					strcpy(func, "?");
				fprintf(stderr, "%s:%u: %s: block: [%u,%u,%u], thread: [%u,%u,%u] Assertion `%s` failed.\n",
				        file, line, func, b->ctaid[0], b->ctaid[1], b->ctaid[2], t->tid[0], t->tid[1],
				        t->tid[2], msg);
				fault(b, t, in, -EDOM, "device assert failed at pc", pc - 1);
				rc = -EDOM;
				goto out;
			}
			if (cs->builtin == PTX_BUILTIN_SETCOND) {
				uint64_t h = 0;
				uint32_t v = 0;
				t->depth--;
				if (cs->arg_off[0] + 8 <= fr->fn->frame_param_size)
					memcpy(&h, fr->param + cs->arg_off[0], 8);
				if (cs->arg_off[1] + 4 <= fr->fn->frame_param_size)
					memcpy(&v, fr->param + cs->arg_off[1], 4);
				const struct ptx_env *e = b->env;
				if (!e->set_cond || e->set_cond(e->cond_ctx, h, v) < 0) {
					fault(b, t, in, -EINVAL, "cudaGraphSetConditional with a handle that names no "
					      "conditional of this context:", h);
					rc = -EINVAL;
					goto out;
				}
				break;
			}
			if (cs->builtin >= PTX_BUILTIN_CDP_PARAMBUF2) {
				t->depth--;
				if ((rc = cdp_call(b, t, in, fr, cs)) != 0)
					goto out;
				break;
			}
			if (cs->builtin == PTX_BUILTIN_MALLOC || cs->builtin == PTX_BUILTIN_FREE) {
				uint64_t a = 0, p = 0;
				t->depth--;
				if (cs->arg_off[0] + 8 <= fr->fn->frame_param_size)
					memcpy(&a, fr->param + cs->arg_off[0], 8);
				const struct ptx_env *e = b->env;
				if (cs->builtin == PTX_BUILTIN_MALLOC) {
					p = e->heap_malloc ? e->heap_malloc(e->heap_ctx, e->heap_space, a) : 0;
					if (cs->ret_off + 8 <= fr->fn->frame_param_size)
						memcpy(fr->param + cs->ret_off, &p, 8);
				} else if (!e->heap_free || e->heap_free(e->heap_ctx, a) < 0) {
					fault(b, t, in, -EINVAL, "free of a pointer malloc did not return:", a);
					rc = -EINVAL;
					goto out;
				}
				break;
			}
			struct frame *nf = frame_new(b, t, cf, NULL);
			if (!nf) {
				fault(b, t, in, -ENOMEM, "out of memory (call stack) at pc", pc);
				rc = -ENOMEM;
				goto out;
			}
			for (uint32_t i = 0; i < cs->nargs; i++) {
				uint32_t so = cs->arg_off[i], sz = cf->param_size[i];
				if (so + sz > fr->fn->frame_param_size)
					sz = so < fr->fn->frame_param_size ? fr->fn->frame_param_size - so : 0;
				memcpy(nf->param + cf->param_off[i], fr->param + so, sz);
			}
			nf->parent = fr;
			nf->ret_pc = pc;
			nf->callsite = (uint32_t)in->imm;
			fr = t->fr = nf;
			code = cf->code;
			r = nf->r;
			pc = 0;
			break;
		}
		case OP_RET:
			if (fr->parent) {
				struct frame *pf = fr->parent;
				const struct ptx_call *cs = &b->l->mod->calls[fr->callsite];
				if (cs->nret && fr->fn->ret_size &&
				    cs->ret_off + fr->fn->ret_size <= pf->fn->frame_param_size)
					memcpy(pf->param + cs->ret_off, fr->param + fr->fn->ret_off, fr->fn->ret_size);
				pc = fr->ret_pc;
				t->depth--;
				t->local_top = fr->local_base;
				free(fr);
				fr = t->fr = pf;
				code = fr->fn->code;
				r = fr->r;
				break;
			}
			/* returning from the entry ends the thread */
			__attribute__((fallthrough));
		case OP_EXIT:
			t->state = TS_DONE;
			cluster_leave(b);
			goto out;
		case OP_BAR: {
			uint64_t id = r[in->o[1]], cnt = (in->mod2 & BAR_COUNT) ? (uint32_t)r[in->o[3]] : 0;
			if (unlikely(id >= BAR_IDS)) {
				fault(b, t, in, -EINVAL, "barrier number past 15:", id);
				rc = -EINVAL;
				goto out;
			}
			if (unlikely((in->mod2 & BAR_COUNT) && (!cnt || cnt % 32 || cnt > ((b->nthreads + 31) & ~31u)))) {
				fault(b, t, in, -EINVAL, "barrier thread count that is no multiple of the warp size "
				      "up to the block's warps:", cnt);
				rc = -EINVAL;
				goto out;
			}
			if (in->mod2 & BAR_ARRIVE) {
				b->bar_arrived[id] += bar_weight(b, t);
				break;
			}
			t->state = TS_BAR;
			goto out;
		}
		case OP_SHFL:
		case OP_VOTE:
		case OP_WARPSYNC:
		case OP_ACTIVEMASK:
		case OP_MATCH:
		case OP_REDUX:
		case OP_ELECT:
		case OP_WMMA:
			/* park here; warp_resolve() runs it for all lanes at once */
			t->state = TS_WARP;
			pc--;
			goto out;
		case OP_FP8:
			r[in->o[0]] = do_fp8(in, r[in->o[1]], r[in->o[2]]);
			break;
		case OP_CLOCK:
			RD = clock_read(in->mod);
			break;
		/* rare ones, kept out of the first switch (its code is the interpreter's hot loop) */
		case OP_MUL24: RD = mul24(in, RA, RB, RC); break;
		case OP_TESTP: RD = testp(in, RA); break;
		case OP_FNS: RD = fns((uint32_t)RA, (uint32_t)RB, (int32_t)RC); break;
		case OP_IMINMAX: RD = iminmax((uint32_t)RA, (uint32_t)RB, in->mod); break;
		case OP_TANH: case OP_EX2:   /* (the float ones are in the first switch) */
			RD = half_approx(in, RA);
			break;
		case OP_STACK:
			if ((rc = stack_op(b, t, in, r)) < 0)
				goto out;
			break;
		case OP_CLUSTER:
			switch (in->mod) {
			case CLOP_ARRIVE:
				if (unlikely(t->cl_arrived)) {
					fault(b, t, in, -EINVAL, "barrier.cluster.arrive twice without a wait; pc", pc - 1);
					rc = -EINVAL;
					goto out;
				}
				cluster_arrive(b, t);
				break;
			case CLOP_WAIT:
				if (unlikely(!t->cl_arrived)) {
					fault(b, t, in, -EINVAL, "barrier.cluster.wait without an arrival; pc", pc - 1);
					rc = -EINVAL;
					goto out;
				}
				if (atomic_load_explicit(&b->cl->phase, memory_order_acquire) <= t->cl_phase) {
					t->state = TS_CWAIT;   /* the others of the cluster go on; look again after */
					pc--;
					goto out;
				}
				t->cl_arrived = 0;
				break;
			case CLOP_MAPA: {
				/* the same offset in block rank o[2]'s shared memory */
				uint64_t a = RA, rk = (uint32_t)RB;
				if (in->mod2) {
					RD = (((uint32_t)a & 0xffffff) | ((rk + 1) << 24));
				} else {
					uint64_t s = a - b->env->shared_win;
					RD = s < CLUSTER_WIN ? b->env->shared_win + ((s & 0xffffff) | ((rk + 1) << 24)) : 0;
				}
				if (in->kind2 == K_U32)
					RD = (uint32_t)RD;
				break;
			}
			default: {   /* CLOP_RANK */
				uint64_t s = in->mod2 ? (uint32_t)RA : RA - b->env->shared_win;
				RD = s < (1u << 24) ? b->crank : s < CLUSTER_WIN ? (s >> 24) - 1 : 0;
				break;
			}
			}
			break;
		case OP_MBAR: {
			int spin = 0;
			rc = mbar_exec(b, t, in, r, &spin);
			if (rc)
				goto out;
			if (spin) {
				t->state = TS_SPIN;   /* let the others arrive before this thread looks again */
				goto out;
			}
			break;
		}
		case OP_TF32: {
			uint32_t x = (uint32_t)r[in->o[1]];
			if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu))
				x = 0x7fffffffu;                        /* NaN */
			else if ((x & 0x7f800000u) != 0x7f800000u)   /* .rna nearest, ties away; .rn to even */
				x = in->mod == RND_RZ ? x & ~0x1fffu :
				    (x + (in->mod == RND_RN ? 0xfffu + ((x >> 13) & 1) : 0x1000u)) & ~0x1fffu;
			if ((in->mod2 & FL_SAT) && (x & 0x7fffffffu) == 0x7f800000u)
				x = (x & 0x80000000u) | 0x7f7fe000u;    /* the largest finite tf32 */
			r[in->o[0]] = x;
			break;
		}
		case OP_CPASYNC: {
			uint64_t da = r[in->o[0]] + (uint64_t)in->imm, sa = r[in->o[1]] + r[in->o[3]];
			uint32_t n = in->size, from = n;
			if (in->o[2])
				from = r[in->o[2]] < n ? (uint32_t)r[in->o[2]] : n;
			if (in->o[4] && (r[in->o[4]] & 1))
				from = 0;
			if ((da | sa) & (n - 1)) {
				fault(b, t, in, -EILSEQ, "misaligned address: cp.async at", (da & (n - 1)) ? da : sa);
				rc = -EILSEQ;
				goto out;
			}
			uint8_t *d = mem_ptr(b, t, SP_SHARED, da, n, 1);
			const uint8_t *src = from ? mem_ptr(b, t, SP_GLOBAL, sa, from, 0) : NULL;
			if (!d || (from && !src)) {
				fault(b, t, in, -EFAULT, !d ? "illegal address: cp.async to shared" :
				      "illegal address: cp.async from", !d ? da : sa);
				rc = -EFAULT;
				goto out;
			}
			if (from)
				memcpy(d, src, from);
			memset(d + from, 0, n - from);
			break;
		}
		case OP_TRAP:
			if (in->mod == TRAP_MULTIMEM) {
				fault(b, t, in, -EFAULT, "illegal address: multimem on memory of no multicast "
				      "object (the simulator has none) at", r[in->o[4]] + (uint64_t)in->imm);
				rc = -EFAULT;
				goto out;
			}
			fault(b, t, in, -EINVAL, "trap instruction executed at pc", pc - 1);
			rc = -EINVAL;
			goto out;
		default:
			fault(b, t, in, -EINVAL, "internal error: no handler for opcode", in->op);
			rc = -EINVAL;
			goto out;
		}
	}
out:
	t->pc = pc;
	b->ninsn += n;
	return rc;
}

/* Lane j's view of a shuffle (PTX ISA shfl semantics): source lane and validity. */
static uint32_t shfl_src(int mode, uint32_t lane, uint32_t bval, uint32_t c, int *ok)
{
	uint32_t cval = c & 31, seg = (c >> 8) & 31;
	uint32_t maxl = (lane & seg) | (cval & ~seg), minl = lane & seg;
	int32_t j;
	switch (mode) {
	case SHFL_UP: j = (int32_t)lane - (int32_t)(bval & 31); *ok = j >= (int32_t)maxl; break;
	case SHFL_DOWN: j = (int32_t)(lane + (bval & 31)); *ok = j <= (int32_t)maxl; break;
	case SHFL_BFLY: j = (int32_t)(lane ^ (bval & 31)); *ok = j <= (int32_t)maxl; break;
	default: j = (int32_t)(minl | ((bval & 31) & ~seg)); *ok = j <= (int32_t)maxl; break;
	}
	return *ok ? (uint32_t)j : lane;
}

/* Runs every warp collective whose participating lanes are all parked at it. Returns 1 if
 * one ran, 0 if none could, -EINVAL (fault set) on lanes parked at different collectives. */
/* ---- warp matrix functions ---------------------------------------------------------- */

/*
 * A fragment is a logical matrix (rows x cols, row-major element numbers e) spread over the
 * registers of the warp's 32 lanes: lane l holds slots l*L .. l*L+L-1 (L = registers x
 * elements per register), slot q holding element q mod rows*cols (so small fragments are
 * held more than once, as on a GPU). The layout is the simulator's own: PTX leaves it
 * unspecified, and programs only load, store, multiply and change every element alike.
 */
struct wfrag {
	uint32_t rows, cols, nregs, epr, ebits;
	int kind;
};

static struct wfrag wm_frag(int frag, int shape, int kind)
{
	static const uint8_t dims[5][3] = {{16, 16, 16}, {32, 8, 16}, {8, 32, 16}, {16, 16, 8}, {8, 8, 4}};   /* M, N, K */
	const uint8_t *d = dims[shape];
	struct wfrag f = {.kind = kind};
	f.rows = frag == WM_LOAD_B ? d[2] : d[0];
	f.cols = frag == WM_LOAD_A ? d[2] : d[1];
	f.ebits = kind == K_F16 || kind == WM_K_BF16 ? 16 : kind == K_S8 || kind == K_U8 ? 8 : kind == K_F64 ? 64 : 32;
	f.epr = f.ebits >= 32 ? 1 : 32 / f.ebits;
	f.nregs = (uint32_t)wm_nregs(frag, shape, kind);
	return f;
}

/* Element e's bits (zero-extended) from the lanes' registers. */
static uint64_t wm_bits(const struct thr *lanes, const struct wfrag *f, uint32_t first, uint32_t e)
{
	uint32_t per = f->nregs * f->epr, idx = e % per;
	uint64_t v = lanes[e / per].fr->r[first + idx / f->epr] >> (f->ebits >= 32 ? 0 : f->ebits * (idx % f->epr));
	return f->ebits == 64 ? v : f->ebits == 32 ? (uint32_t)v : (uint32_t)v & ((1u << f->ebits) - 1);
}

static double wm_get(const struct thr *lanes, const struct wfrag *f, uint32_t first, uint32_t e)
{
	uint64_t v = wm_bits(lanes, f, first, e);
	switch (f->kind) {
	case K_F64: return f64(v);
	case K_F16: return h2d(v);
	case WM_K_BF16: return (double)f32((uint64_t)v << 16);
	case WM_K_TF32: return (double)f32(v & ~0x1fffu);   /* the multiplier reads 10 mantissa bits */
	case K_F32: return (double)f32(v);
	case K_S8: return (double)(int8_t)v;
	case K_U8: return (double)v;
	default: return (double)(int32_t)v;
	}
}

/* Element values (bits of each element) into every lane's registers. */
static void wm_put(struct thr *lanes, const struct wfrag *f, uint32_t first, const uint64_t *bits)
{
	uint32_t per = f->nregs * f->epr, n = f->rows * f->cols;
	for (uint32_t l = 0; l < 32; l++)
		for (uint32_t k = 0; k < f->nregs; k++) {
			uint64_t v = 0;
			for (uint32_t h = 0; h < f->epr; h++)
				v |= bits[(l * per + k * f->epr + h) % n] << (f->ebits >= 32 ? 0 : f->ebits * h);
			lanes[l].fr->r[first + k] = v;
		}
}

/*
 * mma.sync's fragments, as the PTX ISA lays them out over the lanes (groupID = lane / 4,
 * threadID_in_group = lane % 4), for element i of a lane's fragment with `per` elements to a
 * register (4 8-bit, 2 16-bit, 1 tf32; the lowest bits first): A (16 x K), B (K x 8) and
 * C/D (16 x 8, one element a register).
 */
static void ms_a(int per, uint32_t lane, uint32_t i, uint32_t *row, uint32_t *col)
{
	uint32_t gid = lane >> 2, tig = lane & 3;
	if (per == 1) {                         /* m16n8k8 .tf32 */
		*row = gid + (i & 1) * 8;
		*col = tig + (i >> 1) * 4;
	} else if (per == 2) {                  /* .f16/.bf16: a0-a3 (k8), a0-a7 (k16) */
		*row = gid + ((i >> 1) & 1) * 8;
		*col = tig * 2 + (i & 1) + (i >> 2) * 8;
	} else {                                /* .s8/.u8: a0-a7 (k16), a0-a15 (k32) */
		*row = gid + ((i >> 2) & 1) * 8;
		*col = tig * 4 + (i & 3) + (i >> 3) * 16;
	}
}

static void ms_b(int per, uint32_t lane, uint32_t i, uint32_t *k, uint32_t *n)
{
	uint32_t gid = lane >> 2, tig = lane & 3;
	*k = per == 1 ? tig + i * 4 : per == 2 ? tig * 2 + (i & 1) + (i >> 1) * 8 : tig * 4 + (i & 3) + (i >> 2) * 16;
	*n = gid;
}

/* element i of a lane's registers from slot first on, `per` to a register */
static uint32_t ms_elem(const struct thr *t, uint32_t first, uint32_t i, int per)
{
	uint32_t bits = 32 / (uint32_t)per;
	uint64_t r = t->fr->r[first + i / (uint32_t)per] >> (bits * (i % (uint32_t)per));
	return bits == 32 ? (uint32_t)r : (uint32_t)r & ((1u << bits) - 1);
}

enum { MS_K_E4M3 = 40, MS_K_E5M2 };   /* mma.sync's fp8 elements (kinds of their own) */

static double ms_val(uint32_t bits, int kind)
{
	switch (kind) {
	case MS_K_E4M3: return fp8_dec(bits, 0);
	case MS_K_E5M2: return fp8_dec(bits, 1);
	case K_F16: return h2d(bits);
	case WM_K_BF16: return (double)f32((uint64_t)bits << 16);
	case WM_K_TF32: return (double)f32(bits & ~0x1fffu);   /* the multiplier reads 10 mantissa bits */
	case K_S8: return (double)(int8_t)bits;
	case K_U8: return (double)bits;
	case K_S32: return (double)(int32_t)bits;
	default: return (double)f32(bits);
	}
}

/* mma.m8n8k4 of doubles: lane l holds A[l/4][l%4], B[l%4][l/4], and C and D's row l/4,
 * columns 2(l%4) and 2(l%4)+1. Each element one fused multiply-add after another, in k's order,
 * from C: rounded at each step, as a GPU's may not be in the last bit (exact where the sums
 * are) */
static void dmma_run(struct thr *lanes, const struct ptx_insn *in)
{
	double A[8][4], B[4][8], C[8][8];
	for (uint32_t l = 0; l < 32; l++) {
		uint32_t g = l >> 2, t = l & 3;
		A[g][t] = f64(lanes[l].fr->r[in->o[1]]);
		B[t][g] = f64(lanes[l].fr->r[in->o[2]]);
		C[g][2 * t] = f64(lanes[l].fr->r[in->o[3]]);
		C[g][2 * t + 1] = f64(lanes[l].fr->r[in->o[3] + 1]);
	}
	uint64_t out[32][2];
	for (uint32_t l = 0; l < 32; l++)
		for (uint32_t i = 0; i < 2; i++) {
			uint32_t r = l >> 2, c = (l & 3) * 2 + i;
			double acc = C[r][c];
			for (uint32_t k = 0; k < 4; k++)
				acc = fma(A[r][k], B[k][c], acc);
			out[l][i] = pf64(acc);
		}
	for (uint32_t l = 0; l < 32; l++)
		for (uint32_t i = 0; i < 2; i++)
			lanes[l].fr->r[in->o[0] + i] = out[l][i];
}

static void mma_sync_run(struct thr *lanes, const struct ptx_insn *in)
{
	if (in->size == MS_M8N8K4) {
		dmma_run(lanes, in);
		return;
	}
	int isint = (in->mod2 & WM_INT_A) != 0, tf = !isint && (in->mod2 & WM_TF32), f8 = !isint && (in->mod2 & MS_FP8);
	int per = isint || f8 ? 4 : tf ? 1 : 2;
	int ak = isint ? ((in->mod2 & WM_U8) ? K_U8 : K_S8) : f8 ? ((in->mod2 & WM_U8) ? MS_K_E5M2 : MS_K_E4M3) :
	         tf ? WM_K_TF32 : (in->mod2 & WM_BF16) ? WM_K_BF16 : K_F16;
	int bk = isint ? ((in->mod2 & MS_U8_B) ? K_U8 : K_S8) : f8 ? ((in->mod2 & MS_U8_B) ? MS_K_E5M2 : MS_K_E4M3) : ak;
	uint32_t K = in->size == MS_M16N8K32 ? 32 : in->size == MS_M16N8K16 ? 16 : 8;
	uint32_t na = 16 * K / 32, nb = K * 8 / 32;
	double A[16][32], B[32][8], C[16][8];
	for (uint32_t l = 0; l < 32; l++) {
		uint32_t r, c;
		for (uint32_t i = 0; i < na; i++) {
			ms_a(per, l, i, &r, &c);
			A[r][c] = ms_val(ms_elem(&lanes[l], in->o[1], i, per), ak);
		}
		for (uint32_t i = 0; i < nb; i++) {
			ms_b(per, l, i, &r, &c);
			B[r][c] = ms_val(ms_elem(&lanes[l], in->o[2], i, per), bk);
		}
		for (uint32_t i = 0; i < 4; i++)
			C[(l >> 2) + (i >> 1) * 8][(l & 3) * 2 + (i & 1)] =
				ms_val(ms_elem(&lanes[l], in->o[3], i, in->kind2 == K_F16 ? 2 : 1), in->kind2);
	}
	uint64_t out[32][4] = {{0}};
	for (uint32_t l = 0; l < 32; l++)
		for (uint32_t i = 0; i < 4; i++) {
			uint32_t r = (l >> 2) + (i >> 1) * 8, c = (l & 3) * 2 + (i & 1);
			double acc = C[r][c];   /* exact: the products of 8-bit, 16-bit and tf32 inputs fit a
			                         * double, and so do 32 fp8 products' sums */
			for (uint32_t k = 0; k < K; k++)
				acc += A[r][k] * B[k][c];
			if (in->kind == K_S32) {
				if (in->mod2 & WM_SATF)
					acc = acc > 2147483647.0 ? 2147483647.0 : acc < -2147483648.0 ? -2147483648.0 : acc;
				out[l][i] = (uint32_t)(uint64_t)(int64_t)acc;   /* wraps without .satfinite */
			} else if (in->kind == K_F16) {
				out[l][i / 2] |= (uint64_t)(d2h(acc) & 0xffff) << (16 * (i & 1));
			} else {
				out[l][i] = pf32((float)acc);
			}
		}
	for (uint32_t l = 0; l < 32; l++)
		for (uint32_t i = 0; i < (in->kind == K_F16 ? 2u : 4u); i++)
			lanes[l].fr->r[in->o[0] + i] = out[l][i];
}

/* ldmatrix: matrix j's row r is at lane (8j + r)'s address; lane l receives, of each matrix,
 * row l/4's elements 2(l%4) and 2(l%4)+1 (with .trans: column l/4's). stmatrix writes the
 * same elements back. 0 or a fault. */
static int ldmatrix_run(struct blk *b, struct thr *lanes, const struct ptx_insn *in)
{
	int st = in->mod == WM_STMATRIX;
	uint16_t M[4][8][8];
	uint8_t *row[4][8];
	for (uint32_t j = 0; j < in->size; j++)
		for (uint32_t r = 0; r < 8; r++) {
			struct thr *t = &lanes[j * 8 + r];
			uint64_t a = t->fr->r[in->o[4]] + (uint64_t)in->imm;
			if (a & 15) {
				fault(b, t, in, -EILSEQ, st ? "misaligned address: stmatrix row at" :
				      "misaligned address: ldmatrix row at", a);
				return -EILSEQ;
			}
			row[j][r] = mem_ptr(b, t, in->kind2, a, 16, st);
			if (!row[j][r]) {
				fault(b, t, in, -EFAULT, st ? "illegal address: stmatrix to" : "illegal address: ldmatrix from",
				      a);
				return -EFAULT;
			}
			memcpy(M[j][r], row[j][r], 16);
		}
	for (uint32_t l = 0; l < 32; l++)
		for (uint32_t j = 0; j < in->size; j++) {
			uint32_t x = l >> 2, y = (l & 3) * 2;
			uint16_t *e0 = (in->mod2 & WM_TRANS) ? &M[j][y][x] : &M[j][x][y];
			uint16_t *e1 = (in->mod2 & WM_TRANS) ? &M[j][y + 1][x] : &M[j][x][y + 1];
			uint64_t *reg = &lanes[l].fr->r[in->o[0] + j];
			if (st) {
				*e0 = (uint16_t)*reg;
				*e1 = (uint16_t)(*reg >> 16);
			} else {
				*reg = (uint64_t)*e0 | (uint64_t)*e1 << 16;
			}
		}
	for (uint32_t j = 0; st && j < in->size; j++)
		for (uint32_t r = 0; r < 8; r++)
			memcpy(row[j][r], M[j][r], 16);
	return 0;
}

/*
 * mbarrier objects (OP_MBAR): pending arrivals (bits 0-19), arrivals expected per phase
 * (20-39), the transaction count (40-61, signed: a bulk copy may complete its bytes before
 * they are expected) and the phase (63). A phase completes when no arrival is pending and the
 * transaction count is 0; the next one then waits for all again. A token (an arrival's state)
 * holds the phase it was taken in (63) and the arrivals then pending (0-19).
 */
#define MB_TX_BITS 22
static int64_t mb_tx(uint64_t w)
{
	int64_t v = (int64_t)(w >> 40 & ((1ull << MB_TX_BITS) - 1));
	return v >= (1ll << (MB_TX_BITS - 1)) ? v - (1ll << MB_TX_BITS) : v;
}

static uint64_t mb_make(uint64_t phase, uint64_t exp, int64_t tx, uint64_t pend)
{
	if (!pend && !tx) {   /* the phase completes */
		phase ^= 1;
		pend = exp;
	}
	return phase << 63 | ((uint64_t)tx & ((1ull << MB_TX_BITS) - 1)) << 40 | exp << 20 | pend;
}

/*
 * A tiled tensor bulk copy (TMA): the box at the given coordinates of the tensor a map of
 * tmap.c describes, between global memory and shared memory where the box lies dimension 0
 * first, swizzled as the map asks (the 16-byte unit at bits 4 and up of a shared address
 * exchanged, by XOR, with bits 7 and up: 3 bits for 128B, 2 for 64B, 1 for 32B). Elements
 * outside the tensor read as 0 (NaN with the NaN fill, for floating-point types) and are not
 * written. *bytes: the box's size.
 */
static int tma_copy(struct blk *b, struct thr *t, const struct ptx_insn *in, const uint64_t *r, uint64_t *bytes)
{
	static const uint8_t esz[] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4};   /* by CUtensorMapDataType */
	int ld = in->mod == MB_TMA_LOAD, rank = in->size;
	uint64_t ma = r[in->o[1]];
	uint8_t *mp = (ma & 63) ? NULL : mem_ptr(b, t, SP_GENERIC, ma, sizeof(struct sim_tmap), 0);
	struct sim_tmap m;
	if (!mp) {
		fault(b, t, in, -EFAULT, "cp.async.bulk.tensor: no readable, 64-byte aligned tensor map at", ma);
		return -EFAULT;
	}
	memcpy(&m, mp, sizeof(m));
	uint32_t swz = m.flags >> 4 & 0xf, oob = m.flags >> 12 & 0xf, es = m.type < sizeof(esz) ? esz[m.type] : 0;
	int ok = m.magic == SIM_TMAP_MAGIC && m.layout == 0 && m.rank == rank && es && !(m.flags & 0xf) && swz <= 3;
	for (int d = 0; ok && d < rank; d++)
		ok = m.estrides[d] == 1 && m.box[d];
	if (!ok) {
		fault(b, t, in, -EINVAL, "cp.async.bulk.tensor: not a tiled tensor map of this rank the simulator copies "
		      "(element strides 1, no interleave, swizzle none/32B/64B/128B, whole-byte elements) at", ma);
		return -EINVAL;
	}
	uint64_t n = 1;
	for (int d = 0; d < rank; d++)
		n *= m.box[d];
	uint64_t inner = (uint64_t)m.box[0] * es, span = swz ? 16ull << swz : 0;
	uint64_t sa = r[in->o[0]] + (uint64_t)in->imm;
	if ((sa & 127) || (swz && inner > span)) {
		fault(b, t, in, -EILSEQ, "cp.async.bulk.tensor: shared memory not 128-byte aligned, or the box's rows "
		      "wider than its swizzle, at", sa);
		return -EILSEQ;
	}
	uint8_t *sm = mem_ptr(b, t, SP_SHARED, sa, (uint32_t)(n * es), ld);
	if (!sm || n * es >> 31) {
		fault(b, t, in, -EFAULT, "illegal address: cp.async.bulk.tensor's box in shared memory at", sa);
		return -EFAULT;
	}
	for (uint64_t e = 0; e < n; e++) {
		uint64_t rest = e, ga = m.address;
		int inside = 1;
		for (int d = 0; d < rank; d++) {
			int64_t c = (int64_t)(int32_t)r[in->o[2] + d] + (int64_t)(rest % m.box[d]);
			rest /= m.box[d];
			inside &= c >= 0 && (uint64_t)c < m.dims[d];
			ga += (uint64_t)c * (d ? m.strides[d - 1] : es);
		}
		uint64_t s = sa + e * es;
		if (swz)
			s ^= (s >> 7 & ((1u << swz) - 1)) << 4;
		uint8_t *se = sm + (s - sa);
		if (!inside) {
			if (ld) {
				/* the NaN fill: floating-point types' (CU_TENSOR_MAP_DATA_TYPE_FLOAT16 and
				 * after) canonical NaN; zeros otherwise */
				uint64_t fill = !oob || m.type < 6 ? 0 : es == 2 ? 0x7fff : es == 4 ? 0x7fffffff :
						0x7fffffffffffffffull;
				memcpy(se, &fill, es);
			}
			continue;
		}
		uint8_t *gp = mem_ptr(b, t, SP_GLOBAL, ga, es, !ld);
		if (!gp) {
			fault(b, t, in, -EFAULT, "illegal address: cp.async.bulk.tensor's element in global memory at", ga);
			return -EFAULT;
		}
		if (ld)
			memcpy(se, gp, es);
		else
			memcpy(gp, se, es);
	}
	*bytes = n * es;
	return 0;
}

/* Runs an mbarrier instruction or a bulk copy (which completes bytes on one). 0, *spin when
 * a wait found its phase open, or a fault. */
static int mbar_exec(struct blk *b, struct thr *t, const struct ptx_insn *in, uint64_t *r, int *spin)
{
	uint64_t n = r[in->o[1]];
	if (in->mod == MB_PENDING) {
		r[in->o[0]] = n & 0xfffff;
		return 0;
	}
	if (in->mod == MB_BULK_LOAD || in->mod == MB_BULK_STORE) {
		/* the copy is made now (its completion is only promised later), then its bytes count */
		int ld = in->mod == MB_BULK_LOAD;
		uint64_t da = r[in->o[0]] + (uint64_t)in->imm, sa = r[in->o[1]] + r[in->o[3]], len = r[in->o[2]];
		if ((da | sa | len) & 15) {
			fault(b, t, in, -EILSEQ, "misaligned address or size (16 bytes): cp.async.bulk at",
			      ((da | sa) & 15) ? ((da & 15) ? da : sa) : len);
			return -EILSEQ;
		}
		uint8_t *d = len ? mem_ptr(b, t, ld ? SP_SHARED : SP_GLOBAL, da, (uint32_t)len, 1) : NULL;
		uint8_t *s = len ? mem_ptr(b, t, ld ? SP_GLOBAL : SP_SHARED, sa, (uint32_t)len, 0) : NULL;
		if (len && (len >> 32 || !d || !s)) {
			fault(b, t, in, -EFAULT, "illegal address: cp.async.bulk", !d ? da : sa);
			return -EFAULT;
		}
		if (len)
			memmove(d, s, len);
		if (!ld)
			return 0;
		n = len;
	}
	if (in->mod == MB_TMA_LOAD || in->mod == MB_TMA_STORE) {
		uint64_t len;
		int rc = tma_copy(b, t, in, r, &len);
		if (rc || in->mod == MB_TMA_STORE)
			return rc;
		n = len;
	}
	int copied = in->mod == MB_BULK_LOAD || in->mod == MB_TMA_LOAD;   /* its bytes complete on the mbarrier */
	uint64_t a = r[in->o[4]] + (copied ? 0 : (uint64_t)in->imm);
	if (a & 7) {
		fault(b, t, in, -EILSEQ, "misaligned address: mbarrier at", a);
		return -EILSEQ;
	}
	int look = in->mod == MB_TEST || in->mod == MB_TRY;
	uint8_t *p = mem_ptr(b, t, copied ? SP_SHARED : in->kind2, a, 8, !look);
	if (!p) {
		fault(b, t, in, -EFAULT, "illegal address: mbarrier at", a);
		return -EFAULT;
	}
	uint64_t w;
	memcpy(&w, p, 8);
	uint64_t pend = w & 0xfffff, exp = w >> 20 & 0xfffff, phase = w >> 63;
	int64_t tx = mb_tx(w), lim = (1ll << (MB_TX_BITS - 1)) - 1;
	switch (in->mod) {
	case MB_INIT:
		if (n < 1 || n > 0xfffff) {
			fault(b, t, in, -EINVAL, "mbarrier.init with a count out of 1..2^20-1:", n);
			return -EINVAL;
		}
		w = n << 20 | n;
		break;
	case MB_INVAL:
		w = 0;
		break;
	case MB_TEST:
	case MB_TRY: {
		uint64_t want = (in->mod2 & MB_PARITY) ? (n & 1) : n >> 63;
		r[in->o[0]] = phase != want;   /* that phase has completed */
		*spin = phase == want;
		return 0;
	}
	case MB_EXPECT_TX:
	case MB_COMPLETE_TX:
	case MB_BULK_LOAD:
	case MB_TMA_LOAD:
		if (!exp || n > (uint64_t)lim || (in->mod == MB_EXPECT_TX ? tx + (int64_t)n > lim : tx - (int64_t)n < -lim)) {
			fault(b, t, in, -EINVAL, !exp ? "mbarrier transaction on an object not initialised:" :
			      "mbarrier transaction count out of range at", a);
			return -EINVAL;
		}
		tx += in->mod == MB_EXPECT_TX ? (int64_t)n : -(int64_t)n;
		w = mb_make(phase, exp, tx, pend);
		break;
	default: {   /* an arrival of n (cp.async's: of 1, none without .noinc), after expect_tx's bytes */
		if (in->mod == MB_CP_ARRIVE)
			n = (in->mod2 & MB_NOINC) ? 1 : 0;
		uint64_t txn = (in->mod2 & MB_TX) ? r[in->o[2]] : 0;
		if (!exp || n > pend || txn > (uint64_t)lim || tx + (int64_t)txn > lim) {
			fault(b, t, in, -EINVAL, !exp ? "mbarrier arrival on an object not initialised:" :
			      "mbarrier arrivals beyond those pending in its phase, or too many bytes, at", a);
			return -EINVAL;
		}
		if (in->mod != MB_CP_ARRIVE)
			r[in->o[0]] = phase << 63 | (pend - n);
		if (in->mod == MB_ARRIVE_DROP)
			exp -= n;
		w = mb_make(phase, exp, tx + (int64_t)txn, pend - n);
		break;
	}
	}
	memcpy(p, &w, 8);
	b->mbar_gen++;
	return 0;
}

/* Runs one wmma instruction for the warp: 1 done, 0 not every lane there yet, <0 a fault. */
static int wmma_resolve(struct blk *b, struct thr *lanes, uint32_t nl, struct thr *lead, const struct ptx_insn *in)
{
	if (nl != 32) {
		fault(b, lead, in, -EINVAL, in->mod >= WM_MMA_SYNC ? "mma.sync and ldmatrix need a full warp; threads in this warp:" : "wmma needs a full warp; threads in this warp:", nl);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < 32; i++) {
		struct thr *t = &lanes[i];
		if (t->state == TS_RUN)
			return 0;
		if (t->state != TS_WARP || t->fr->fn != lead->fr->fn || t->pc != lead->pc) {
			fault(b, t, in, -EINVAL, "wmma needs every lane of the warp at the same instruction; lane", i);
			return -EINVAL;
		}
	}
	int op = in->mod;
	uint64_t bits[512];
	if (op == WM_MMA_SYNC) {
		mma_sync_run(lanes, in);
	} else if (op == WM_LDMATRIX || op == WM_STMATRIX) {
		int rc = ldmatrix_run(b, lanes, in);
		if (rc < 0)
			return rc;
	} else if (op == WM_MOVMATRIX) {
		/* lane l holds row l/4's elements 2(l%4) and 2(l%4)+1; it receives column l/4's */
		uint16_t M[8][8];
		for (uint32_t l = 0; l < 32; l++) {
			uint32_t v = (uint32_t)lanes[l].fr->r[in->o[1]];
			M[l >> 2][(l & 3) * 2] = (uint16_t)v;
			M[l >> 2][(l & 3) * 2 + 1] = (uint16_t)(v >> 16);
		}
		for (uint32_t l = 0; l < 32; l++)
			lanes[l].fr->r[in->o[0]] = (uint64_t)M[(l & 3) * 2][l >> 2] |
						   (uint64_t)M[(l & 3) * 2 + 1][l >> 2] << 16;
	} else if (op == WM_MMA) {
		int ak = in->kind == K_F64 ? K_F64 : (in->mod2 & WM_BF16) ? WM_K_BF16 : (in->mod2 & WM_TF32) ? WM_K_TF32 :
			 !(in->mod2 & WM_INT_A) ? K_F16 : (in->mod2 & WM_U8) ? K_U8 : K_S8;
		struct wfrag fa = wm_frag(WM_LOAD_A, in->size, ak), fb = wm_frag(WM_LOAD_B, in->size, ak);
		struct wfrag fc = wm_frag(WM_LOAD_C, in->size, in->kind2), fd = wm_frag(WM_LOAD_C, in->size, in->kind);
		double ma[512], mb[512];   /* A and B as numbers, gathered once */
		for (uint32_t e = 0; e < fa.rows * fa.cols; e++)
			ma[e] = wm_get(lanes, &fa, in->o[1], e);
		for (uint32_t e = 0; e < fb.rows * fb.cols; e++)
			mb[e] = wm_get(lanes, &fb, in->o[2], e);
		for (uint32_t i = 0; i < fd.rows; i++)
			for (uint32_t j = 0; j < fd.cols; j++) {
				/* exact: halves' products and 8-bit integers' sums fit a double */
				double acc = wm_get(lanes, &fc, in->o[3], i * fc.cols + j);
				for (uint32_t k = 0; k < fa.cols; k++)   /* doubles: a fused multiply-add each */
					acc = fd.kind == K_F64 ? fma(ma[i * fa.cols + k], mb[k * fb.cols + j], acc) :
					      acc + ma[i * fa.cols + k] * mb[k * fb.cols + j];
				uint64_t v;
				if (fd.kind == K_F64) {
					v = pf64(acc);
				} else if (fd.kind == K_S32) {
					if (in->mod2 & WM_SATF)
						acc = acc > 2147483647.0 ? 2147483647.0 : acc < -2147483648.0 ? -2147483648.0 : acc;
					v = (uint32_t)(uint64_t)(int64_t)acc;   /* wraps without .satfinite */
				} else {
					v = fd.kind == K_F16 ? (uint32_t)d2h(acc) : (uint32_t)pf32((float)acc);
				}
				bits[i * fd.cols + j] = v;
			}
		wm_put(lanes, &fd, in->o[0], bits);
	} else {
		struct wfrag f = wm_frag(op == WM_STORE_D ? WM_LOAD_C : op, in->size,
					 (in->mod2 & WM_TF32) ? WM_K_TF32 : in->kind);
		int row = in->mod2 & WM_ROW, st = op == WM_STORE_D;
		uint64_t base = lead->fr->r[in->o[4]] + (uint64_t)in->imm;
		uint32_t stride = in->o[1] ? (uint32_t)lead->fr->r[in->o[1]] : row ? f.cols : f.rows;
		uint32_t esz = f.ebits / 8;
		for (uint32_t i = 0; i < 32; i++)
			if (lanes[i].fr->r[in->o[4]] != lead->fr->r[in->o[4]] ||
			    (in->o[1] && (uint32_t)lanes[i].fr->r[in->o[1]] != stride)) {
				fault(b, &lanes[i], in, -EINVAL, "wmma needs the same address and stride in every "
				      "lane; lane", i);
				return -EINVAL;
			}
		if (base & (esz - 1)) {
			fault(b, lead, in, -EILSEQ, "misaligned address: wmma at", base);
			return -EILSEQ;
		}
		for (uint32_t e = 0; e < f.rows * f.cols; e++) {
			uint32_t i = e / f.cols, j = e % f.cols;
			uint64_t a = base + (uint64_t)(row ? i * stride + j : j * stride + i) * esz;
			uint8_t *p = mem_ptr(b, lead, in->kind2, a, esz, st);
			if (!p) {
				fault(b, lead, in, -EFAULT, st ? "illegal address: wmma store to" : "illegal address: wmma "
				      "load from", a);
				return -EFAULT;
			}
			if (st) {
				uint64_t v = wm_bits(lanes, &f, in->o[0], e);
				memcpy(p, &v, esz);
			} else {
				bits[e] = 0;
				memcpy(&bits[e], p, esz);
			}
		}
		if (!st)
			wm_put(lanes, &f, in->o[0], bits);
	}
	for (uint32_t i = 0; i < 32; i++) {
		lanes[i].pc++;
		lanes[i].state = TS_RUN;
	}
	return 1;
}

/* The collective lead is parked at, over its mask's lanes (activemask: the lanes converged
 * there): 1 when performed, 0 when a lane it waits for is not there yet, < 0 on a fault. */
static int warp_group(struct blk *b, struct thr *lanes, uint32_t nl, struct thr *lead)
{
	const struct ptx_insn *in = &lead->fr->fn->code[lead->pc];
	const uint32_t op = in->op >> 4;
	if (op == OP_WMMA)
		return wmma_resolve(b, lanes, nl, lead, in);
	uint32_t mask = (in->mod2 & WARP_FULLMASK) || op == OP_ACTIVEMASK ? ~0u
	                : (uint32_t)lead->fr->r[in->imm];
	uint32_t part = 0;
	for (uint32_t i = 0; i < nl; i++) {
		struct thr *t = &lanes[i];
		if (!(mask >> i & 1) || t->state == TS_DONE)
			continue;
		/* activemask: the lanes converged here, whatever the others wait for */
		if (op == OP_ACTIVEMASK && (t->state == TS_BAR || (t->state == TS_WARP &&
		    (t->fr->fn != lead->fr->fn || t->pc != lead->pc))))
			continue;
		/* a lane still running, or waiting elsewhere (a barrier, another collective whose
		 * own lanes may complete it first): not yet */
		if (t->state != TS_WARP || t->fr->fn != lead->fr->fn || t->pc != lead->pc)
			return 0;
		part |= 1u << i;
	}
	uint64_t res[32], pres[32];
	uint32_t ballot = 0;
	int all = 1, any = 0;
	for (uint32_t i = 0; i < nl; i++)
		if (part >> i & 1) {
			int p = (int)(lanes[i].fr->r[in->o[1]] & 1) ^ !!(in->mod2 & WARP_NEG_A);
			ballot |= (uint32_t)p << i;
			all &= p;
			any |= p;
		}
	for (uint32_t i = 0; i < nl; i++) {
		if (!(part >> i & 1))
			continue;
		uint64_t *r = lanes[i].fr->r;
		if (op == OP_SHFL) {
			int ok;
			uint32_t j = shfl_src(in->mod, i, (uint32_t)r[in->o[2]], (uint32_t)r[in->o[3]], &ok);
			if (j >= nl || !(part >> j & 1))
				j = i;      /* inactive source lane: undefined on a GPU, own value here */
			res[i] = (uint32_t)lanes[j].fr->r[in->o[1]];
			pres[i] = (uint64_t)ok;
		} else if (op == OP_VOTE) {
			res[i] = in->mod == VOTE_ALL ? (uint64_t)all : in->mod == VOTE_ANY ? (uint64_t)any :
			         in->mod == VOTE_UNI ? (uint64_t)(all || !any) : ballot;
		}
	}
	/* match and redux: over the participants' source values */
	uint64_t red = 0;
	int red_init = 0, all_eq = 1;
	uint64_t first = 0;
	for (uint32_t i = 0; i < nl; i++) {
		if (!(part >> i & 1) || (op != OP_MATCH && op != OP_REDUX))
			continue;
		uint64_t v = lanes[i].fr->r[in->o[1]];
		if (op == OP_MATCH && in->kind == K_U32)
			v = (uint32_t)v;
		if (!red_init) {
			first = v;
			red = (uint32_t)v;
			red_init = 1;
			continue;
		}
		all_eq &= v == first;
		if (op == OP_REDUX) {
			uint32_t x = (uint32_t)v, acc = (uint32_t)red;
			int sgn = in->kind == K_S32;
			switch (in->mod) {
			case REDUX_ADD: acc += x; break;
			case REDUX_MIN: acc = sgn ? ((int32_t)x < (int32_t)acc ? x : acc) : (x < acc ? x : acc); break;
			case REDUX_MAX: acc = sgn ? ((int32_t)x > (int32_t)acc ? x : acc) : (x > acc ? x : acc); break;
			case REDUX_AND: acc &= x; break;
			case REDUX_OR: acc |= x; break;
			default: acc ^= x; break;
			}
			red = acc;
		}
	}
	for (uint32_t i = 0; i < nl; i++) {
		if (!(part >> i & 1))
			continue;
		uint64_t *r = lanes[i].fr->r;
		if (op == OP_MATCH) {
			uint64_t mine = r[in->o[1]], same = 0;
			if (in->kind == K_U32)
				mine = (uint32_t)mine;
			for (uint32_t j = 0; j < nl; j++)
				if (part >> j & 1) {
					uint64_t o = lanes[j].fr->r[in->o[1]];
					if (in->kind == K_U32)
						o = (uint32_t)o;
					same |= (uint64_t)(o == mine) << j;
				}
			res[i] = in->mod == MATCH_ANY ? same : all_eq ? part : 0;
			pres[i] = (uint64_t)all_eq;
		}
	}
	for (uint32_t i = 0; i < nl; i++) {
		if (!(part >> i & 1))
			continue;
		uint64_t *r = lanes[i].fr->r;
		if (op == OP_MATCH) {
			r[in->o[0]] = res[i];
			if (in->mod2 & WARP_HAS_P)
				r[in->o[4]] = pres[i];
		} else if (op == OP_REDUX) {
			r[in->o[0]] = (uint32_t)red;
		} else if (op == OP_ELECT) {
			uint32_t leader = (uint32_t)__builtin_ctz(part);
			r[in->o[0]] = leader;
			r[in->o[4]] = i == leader;
		} else if (op == OP_ACTIVEMASK) {
			r[in->o[0]] = part;
		} else if (op == OP_SHFL) {
			r[in->o[0]] = res[i];
			if (in->mod2 & WARP_HAS_P)
				r[in->o[4]] = pres[i];
		} else if (op == OP_VOTE) {
			r[in->o[0]] = res[i];
		}
		lanes[i].pc++;
		lanes[i].state = TS_RUN;
	}
	return 1;
}

static int warp_resolve(struct blk *b)
{
	int progress = 0;
	for (uint32_t w0 = 0; w0 < b->nthreads; w0 += 32) {
		uint32_t nl = b->nthreads - w0 < 32 ? b->nthreads - w0 : 32;
		struct thr *lanes = &b->th[w0], *lead = NULL;
		for (uint32_t i = 0; i < nl && !lead; i++)
			if (lanes[i].state == TS_WARP)
				lead = &lanes[i];
		if (!lead)
			continue;
		/* Volatile loads and stores first: the lanes parked at the earliest one all perform
		 * it before any goes further, which is the lockstep order legacy warp-synchronous
		 * code (volatile shared memory without __syncwarp) relies on. */
		struct thr *vlead = NULL;
		for (uint32_t i = 0; i < nl; i++) {
			struct thr *t = &lanes[i];
			if (t->state != TS_WARP)
				continue;
			const struct ptx_insn *ti = &t->fr->fn->code[t->pc];
			uint32_t top = ti->op >> 4;
			if ((top == OP_LD || top == OP_ST) && (ti->mod2 & LDST_VOLATILE) &&
			    (!vlead || (t->fr->fn == vlead->fr->fn && t->pc < vlead->pc)))
				vlead = t;
		}
		if (vlead) {
			for (uint32_t i = 0; i < nl; i++) {
				struct thr *t = &lanes[i];
				if (t->state == TS_WARP && t->fr->fn == vlead->fr->fn && t->pc == vlead->pc) {
					t->vol_pass = 1;
					t->state = TS_RUN;
				}
			}
			progress = 1;
			continue;
		}
		/* Each group of lanes parked at one collective goes as soon as the lanes it waits
		 * for are there: groups of a partition (disjoint masks) independently, activemask's
		 * first (it answers for the lanes converged there, which may be a branch the others
		 * left for a collective of the whole warp, as cooperative groups' coalesced_threads()
		 * does). */
		uint32_t tried = 0;
		for (int am = 1; am >= 0; am--)
			for (uint32_t i = 0; i < nl; i++) {
				struct thr *t = &lanes[i];
				if (t->state != TS_WARP || (tried >> i & 1) ||
				    ((t->fr->fn->code[t->pc].op >> 4) == OP_ACTIVEMASK) != am)
					continue;
				for (uint32_t j = i; j < nl; j++)
					if (lanes[j].state == TS_WARP && lanes[j].fr->fn == t->fr->fn && lanes[j].pc == t->pc)
						tried |= 1u << j;
				int rc = warp_group(b, lanes, nl, t);
				if (rc < 0)
					return rc;
				progress |= rc;
			}
	}
	return progress;
}

/*
 * What a thread adds to a barrier's count. A GPU counts whole warps, so the first lane of a
 * block's last, partial warp stands for its missing lanes too: a barrier waiting for the
 * block's warps (its count rounded up to 32) completes when they arrive.
 */
static uint32_t bar_weight(const struct blk *b, const struct thr *t)
{
	uint32_t tail = b->nthreads % 32;
	return tail && t->lin == b->nthreads - tail ? 1 + 32 - tail : 1;
}

/*
 * Releases the threads of every barrier that completed, once all threads that could run have
 * stopped: a barrier with a thread count when its waiting threads and bar.arrive's arrivals
 * reach it; one without (bar.sync 0, __syncthreads) when every live thread waits at it. A
 * bar.red's reduction is over the threads released together. Returns how many barriers
 * completed.
 */
static int bar_release(struct blk *b)
{
	uint32_t live = 0, at[BAR_IDS] = {0}, weight[BAR_IDS] = {0}, need[BAR_IDS] = {0};
	for (uint32_t i = 0; i < b->nthreads; i++) {
		const struct thr *t = &b->th[i];
		live += t->state != TS_DONE;
		if (t->state != TS_BAR)
			continue;
		const struct ptx_insn *bi = &t->fr->fn->code[t->pc - 1];
		uint32_t id = (uint32_t)t->fr->r[bi->o[1]];
		at[id]++;
		weight[id] += bar_weight(b, t);
		if (bi->mod2 & BAR_COUNT)
			need[id] = (uint32_t)t->fr->r[bi->o[3]];
	}
	int done = 0;
	for (uint32_t id = 0; id < BAR_IDS; id++) {
		if (!at[id] || (need[id] ? weight[id] + b->bar_arrived[id] < need[id] : at[id] != live))
			continue;
		uint32_t count = 0;
		for (uint32_t i = 0; i < b->nthreads; i++) {
			const struct thr *t = &b->th[i];
			const struct ptx_insn *bi;
			if (t->state == TS_BAR && (bi = &t->fr->fn->code[t->pc - 1])->mod != BAR_PLAIN &&
			    (uint32_t)t->fr->r[bi->o[1]] == id)
				count += (uint32_t)((t->fr->r[bi->o[2]] & 1) ^ (bi->mod2 & BAR_NEG_C));
		}
		for (uint32_t i = 0; i < b->nthreads; i++) {
			struct thr *t = &b->th[i];
			const struct ptx_insn *bi;
			if (t->state != TS_BAR || (uint32_t)t->fr->r[(bi = &t->fr->fn->code[t->pc - 1])->o[1]] != id)
				continue;
			if (bi->mod == BAR_POPC)
				t->fr->r[bi->o[0]] = count;
			else if (bi->mod != BAR_PLAIN)
				t->fr->r[bi->o[0]] = bi->mod == BAR_AND ? count == at[id] : count != 0;
			t->state = TS_RUN;
		}
		/* arrivals past the count (bar.arrive for the barrier's next use) stay counted */
		uint32_t total = weight[id] + b->bar_arrived[id];
		b->bar_arrived[id] = need[id] && total > need[id] ?
		                     (b->bar_arrived[id] < total - need[id] ? b->bar_arrived[id] : total - need[id]) : 0;
		done++;
	}
	return done;
}

static void thr_frames_free(struct thr *t)
{
	struct frame *f = t->fr;
	while (f) {
		struct frame *p = f->parent;
		if (f->heap)
			free(f);
		f = p;
	}
	t->fr = NULL;
}

static void thr_release(struct thr *t)
{
	thr_frames_free(t);
	free(t->local);
	t->local = NULL;
}

/* What a host thread keeps between the blocks it runs: the threads (their stacks kept, zeroed
 * as far as the last block dirtied them), the arena of their entry frames and the shared
 * memory of a block outside a cluster. Allocated afresh for every block they cost more than
 * many blocks' work: a kernel with 2,000 registers needs a 4 MiB arena for 256 threads, and
 * under a sanitizer's allocator every such allocation is a fresh mapping whose pages fault
 * in again (3.7x the run time of cuRAND's host API test). A block run while the
 * thread's kept set is in use (none does today) allocates its own; more than KEEP_MAX bytes
 * are not kept. The set goes with its thread. */
#define KEEP_MAX (64u << 20)
struct blk_keep {
	int busy;
	struct thr *th;
	uint32_t th_cap;
	uint8_t *arena, *shared;
	size_t arena_cap, shared_cap;
};
static pthread_key_t keep_key;   /* each thread's set; freed as the thread ends */
static pthread_once_t keep_once = PTHREAD_ONCE_INIT;

static void keep_drop(struct blk_keep *k)
{
	for (uint32_t i = 0; i < k->th_cap; i++)
		free(k->th[i].local);
	free(k->th);
	free(k->arena);
	free(k->shared);
	memset(k, 0, sizeof(*k));
}

static void keep_free(void *p)
{
	keep_drop(p);
	free(p);
}

static void keep_key_make(void) { pthread_key_create(&keep_key, keep_free); }

/* The calling thread's kept set, taken for one block; NULL when it is in use or cannot be had. */
static struct blk_keep *keep_take(void)
{
	pthread_once(&keep_once, keep_key_make);
	struct blk_keep *k = pthread_getspecific(keep_key);
	if (!k) {
		if (!(k = calloc(1, sizeof(*k))))
			return NULL;
		if (pthread_setspecific(keep_key, k)) {
			free(k);
			return NULL;
		}
	}
	if (k->busy)
		return NULL;
	k->busy = 1;
	return k;
}

/* n threads, zeroed but for their kept stacks (zero themselves), from k: NULL without memory */
static struct thr *keep_threads(struct blk_keep *k, uint32_t n)
{
	if (n > k->th_cap) {
		struct thr *nt = realloc(k->th, n * sizeof(*nt));
		if (!nt)
			return NULL;
		memset(nt + k->th_cap, 0, (n - k->th_cap) * sizeof(*nt));
		k->th = nt;
		k->th_cap = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct thr *t = &k->th[i];
		uint8_t *local = t->local;
		uint32_t cap = t->local_cap;
		memset(t, 0, sizeof(*t));
		t->local = local;
		t->local_cap = cap;
	}
	return k->th;
}

/* at least n bytes of k's buffer *p (capacity *cap), contents undefined: NULL without memory */
static uint8_t *keep_bytes(uint8_t **p, size_t *cap, size_t n)
{
	if (n > *cap) {
		free(*p);
		*cap = 0;
		if (!(*p = malloc(n)))
			return NULL;
		*cap = n;
	}
	return *p;
}

/* Gives k back after a block of n threads: their frames freed, their stacks zeroed where
 * dirtied; all of it freed instead when it grew past KEEP_MAX. */
static void keep_give(struct blk_keep *k, uint32_t n)
{
	size_t total = k->arena_cap + k->shared_cap + (size_t)k->th_cap * sizeof(struct thr);
	for (uint32_t i = 0; i < n && i < k->th_cap; i++) {
		struct thr *t = &k->th[i];
		thr_frames_free(t);
		if (t->local)
			memset(t->local, 0, t->local_hw < t->local_cap ? t->local_hw : t->local_cap);
		t->local_hw = 0;
	}
	for (uint32_t i = 0; i < k->th_cap; i++)
		total += k->th[i].local_cap;
	if (total > KEEP_MAX)
		keep_drop(k);
	k->busy = 0;
}

int ptx_block_run(const struct ptx_launch *l, const struct ptx_env *env, uint32_t bx,
                  uint32_t by, uint32_t bz, uint64_t *ninsn, char *err, size_t errlen)
{
	struct blk b;
	memset(&b, 0, sizeof(b));
	b.l = l;
	b.env = env;
	b.err = err;
	b.errlen = errlen;
	b.ctaid[0] = bx;
	b.ctaid[1] = by;
	b.ctaid[2] = bz;
	b.nthreads = l->block[0] * l->block[1] * l->block[2];
	b.dyn_base = (l->fn->shared_static + 15) & ~15u;
	b.shared_size = ptx_block_shared_size(l);
	if (l->mod && l->mod->reserved_smem)   /* zeroed, like the rest, past the block's own */
		b.rsmem_base = (uint32_t)(b.shared_size - RSMEM_BYTES);
	int rc = 0;
	const int bad = b.nthreads == 0 || b.nthreads > 1024;
	/* the block's place in its cluster; not launched in clusters, it is a cluster of one */
	struct ptx_cluster one;
	for (int d = 0; d < 3; d++) {
		b.cdim[d] = l->cluster[d] ? l->cluster[d] : 1;
		b.cctaid[d] = b.ctaid[d] % b.cdim[d];
	}
	b.crank = b.cctaid[0] + b.cdim[0] * (b.cctaid[1] + b.cdim[1] * b.cctaid[2]);
	if (env->cluster) {
		b.cl = env->cluster;
		if (bad || b.crank >= b.cl->nblocks || b.cl->shared_size != b.shared_size) {
			cluster_block_end(&b, 1);   /* (the others would wait for it) */
			return -EINVAL;
		}
		b.shared = b.cl->shared[b.crank];
	} else if (bad) {
		return -EINVAL;
	} else {
		memset(&one, 0, sizeof(one));
		pthread_mutex_init(&one.lock, NULL);
		pthread_cond_init(&one.cond, NULL);
		one.nblocks = one.live = 1;
		one.expected = b.nthreads;
		one.shared = &b.shared;
		one.shared_size = b.shared_size;
		b.cl = &one;
	}
	struct blk_keep *keep = keep_take();
	size_t fb = frame_bytes(l->fn);
	struct thr *th;
	uint8_t *arena;   /* all entry frames in one allocation */
	if (keep) {
		th = keep_threads(keep, b.nthreads);
		arena = keep_bytes(&keep->arena, &keep->arena_cap, fb * b.nthreads);
		if (b.cl == &one && (b.shared = keep_bytes(&keep->shared, &keep->shared_cap, b.shared_size ? b.shared_size : 1)))
			memset(b.shared, 0, b.shared_size);
	} else {
		th = calloc(b.nthreads, sizeof(*th));
		arena = malloc(fb * b.nthreads);
		if (b.cl == &one)
			b.shared = calloc(1, b.shared_size ? b.shared_size : 1);
	}
	if (!b.shared || !th || !arena) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < b.nthreads; i++) {
		struct thr *t = &th[i];
		t->lin = i;
		t->tid[0] = i % l->block[0];
		t->tid[1] = (i / l->block[0]) % l->block[1];
		t->tid[2] = i / (l->block[0] * l->block[1]);
		t->fr = frame_new(&b, t, l->fn, arena + fb * i);
		if (!t->fr) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(t->fr->param, l->params, l->fn->param_bytes);
	}
	b.th = th;
	for (;;) {
		uint32_t done = 0, warp = 0, spin = 0, cwait = 0;
		uint64_t gen0 = b.mbar_gen;
		int moved = 0;   /* a thread went past where it stood, or an mbarrier changed */
		for (uint32_t i = 0; i < b.nthreads; i++) {
			struct thr *t = &th[i];
			if (t->state == TS_RUN) {
				uint32_t pc0 = t->pc;
				const struct frame *f0 = t->fr;
				rc = run_thread(&b, t);
				if (rc)
					goto out;
				moved |= (t->state != TS_SPIN && t->state != TS_CWAIT) || t->pc != pc0 || t->fr != f0 ||
				         b.yielded;
				b.yielded = 0;
			}
			done += t->state == TS_DONE;
			warp += t->state == TS_WARP;
			cwait += t->state == TS_CWAIT;
			spin += t->state == TS_SPIN;
		}
		if (done == b.nthreads)
			break;
		if (bar_release(&b))
			continue;
		if (cwait) {
			/* threads at barrier.cluster.wait go on once their phase completed; when
			 * nothing else here can move, the cluster's other blocks complete it */
			uint32_t rel = 0;
			uint64_t ph = atomic_load_explicit(&b.cl->phase, memory_order_acquire);
			for (uint32_t i = 0; i < b.nthreads; i++)
				if (th[i].state == TS_CWAIT && ph > th[i].cl_phase) {
					th[i].state = TS_RUN;
					rel++;
				}
			if (rel)
				continue;
			if (!spin && !warp) {
				if (moved)   /* (others of this block may still arrive) */
					continue;
				struct thr *w = NULL;
				for (uint32_t i = 0; i < b.nthreads; i++)
					if (th[i].state == TS_CWAIT && (!w || th[i].cl_phase < w->cl_phase))
						w = &th[i];
				if ((rc = cluster_block_wait(&b, w)))
					goto out;
				continue;
			}
		}
		if (spin) {
			/* threads waiting on mbarriers look again while anything else moves (a warp
			 * collective of the others included) */
			if (warp) {
				rc = warp_resolve(&b);
				if (rc < 0)
					goto out;
				moved |= rc > 0;
				rc = 0;
			}
			if (!moved && b.mbar_gen == gen0) {
				for (uint32_t i = 0; i < b.nthreads; i++)
					if (th[i].state == TS_SPIN) {
						fault(&b, &th[i], &th[i].fr->fn->code[th[i].pc - 1], -EINVAL,
						      "deadlock: waiting on an mbarrier phase no thread can complete; pc",
						      th[i].pc - 1);
						break;
					}
				rc = -EINVAL;
				goto out;
			}
			for (uint32_t i = 0; i < b.nthreads; i++)
				if (th[i].state == TS_SPIN)
					th[i].state = TS_RUN;
			continue;
		}
		if (warp) {
			rc = warp_resolve(&b);
			if (rc > 0) {
				rc = 0;
				continue;
			}
			if (rc < 0)
				goto out;
			/* lanes wait for a collective while others wait at bar.sync: deadlock */
			for (uint32_t i = 0; i < b.nthreads; i++)
				if (th[i].state == TS_WARP) {
					fault(&b, &th[i], &th[i].fr->fn->code[th[i].pc], -EINVAL,
					      "deadlock: warp-synchronous instruction whose lanes never all arrive "
					      "(they wait at bar.sync or at another warp-synchronous instruction); pc",
					      th[i].pc);
					break;
				}
			rc = -EINVAL;
			goto out;
		}
		/* threads wait at barriers none of which can complete */
		for (uint32_t i = 0; i < b.nthreads; i++)
			if (th[i].state == TS_BAR) {
				const struct ptx_insn *bi = &th[i].fr->fn->code[th[i].pc - 1];
				fault(&b, &th[i], bi, -EINVAL, "deadlock: waiting at a barrier for threads that "
				      "never arrive; barrier", th[i].fr->r[bi->o[1]]);
				break;
			}
		rc = -EINVAL;
		goto out;
	}
out:
	if (keep) {
		keep_give(keep, b.nthreads);
	} else {
		if (th)
			for (uint32_t i = 0; i < b.nthreads; i++)
				thr_release(&th[i]);
		free(th);
		free(arena);
		if (b.cl == &one)
			free(b.shared);
	}
	if (b.cl == &one) {
		pthread_mutex_destroy(&one.lock);
		pthread_cond_destroy(&one.cond);
	} else {
		cluster_block_end(&b, rc != 0);   /* its shared memory stays the launcher's */
	}
	if (ninsn)
		*ninsn += b.ninsn;
	if (rc == -ENOMEM && err && !err[0])
		snprintf(err, errlen, "out of host memory running block (%u,%u,%u)", bx, by, bz);
	return rc;
}
