/* SPDX-License-Identifier: MIT */
/* Internal interfaces of libcudasim: the device-memory arena, contexts, streams, events,
 * modules, and the block thread pool. CUresult appears only at the API layer. */
#ifndef VGPU_SIM_H
#define VGPU_SIM_H

#include <cuda.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "ptx.h"

#define SIM_EXPORT __attribute__((visibility("default")))
#define SIM_MAX_DEVICES 16
#define SIM_SM_COUNT 8            /* multiprocessors of each simulated device */

/* MAGIC_CTX_IDLE: a primary context after its reset or last release (its handle stays
 * valid to make current; work on it fails with CUDA_ERROR_CONTEXT_IS_DESTROYED). */
enum { MAGIC_CTX = 0x43545831, MAGIC_CTX_IDLE = 0x43545830, MAGIC_STREAM = 0x5354524d, MAGIC_EVENT = 0x45564e54,
       MAGIC_MODULE = 0x4d4f4455, MAGIC_FUNC = 0x46554e43,
       MAGIC_LINK = 0x4c494e4b /* a JIT link state (link.c) */ };

/* ---- handle object storage (shell.c): destroyed objects keep their memory for reuse, so
 * a stale handle fails its magic check instead of reading freed memory ---- */
enum { SHELL_STREAM, SHELL_EVENT, SHELL_MODULE, SHELL_FUNC, SHELL_LINK, SHELL_TYPES };
void *sim_shell_alloc(int type, size_t size);   /* zeroed */
void sim_shell_free(int type, void *p);         /* caller has cleared the magic */

/* ---- memory (mem.c) ---- */
enum { ALLOC_DEVICE = 1, ALLOC_HOST = 2, ALLOC_REGISTERED = 3, ALLOC_VMM = 4 /* mapped by vmm.c */,
       ALLOC_MANAGED = 5 /* cuMemAllocManaged: host memory that kernels and the host share */,
       ALLOC_ARRAY = 6 /* a CUDA array's texels (api_tex.c): device memory that kernels reach through
                        * texture and surface objects, never a pointer the program may free or name */,
       ALLOC_IPC = 7 /* another process's device memory, opened by cuIpcOpenMemHandle (ipc.c): mapped
                      * into this process's arena, not charged to its device */ };

struct sim_alloc {
	uint64_t base, size;
	int kind;
	int dev;
	unsigned flags;
	struct sim_ctx *ctx;
	uint64_t id;
	unsigned space;          /* address space of the thread that made it (vgpu_sim_set_space) */
	int dormant;             /* a graph's allocation outside its alloc..free span (graph.c): API
				  * checks still find it, but copies, memsets and kernels fault */
	uint32_t ipc_slot;       /* exported (cuIpcGetMemHandle): its entry in the export directory, */
	uint64_t ipc_serial;     /* and the serial its handles carry (0: never exported) */
};

/*
 * Address spaces (a test hook, vgpu_sim_set_space): memory belongs to the space of the
 * thread that allocated it, and a kernel reaches only memory of its launcher's space, as a
 * GPU kernel reaches only what its process mapped. Everything is space 0 unless a caller
 * (the fuzz harness, serving two zones in one process) says otherwise.
 */
extern __thread unsigned sim_space;
extern __thread unsigned sim_kernel_space;   /* while running a kernel: its space + 1, else 0 */
extern int sim_space_checks;                 /* 0: kernels reach every space (a sabotage for tests) */
/* The calling thread's stream capture mode (graph.c); set to *set first when set is not NULL. */
CUstreamCaptureMode sim_capture_mode(const CUstreamCaptureMode *set);

int sim_mem_init(void);
uint64_t sim_mem_total(void);                     /* per device */
uint64_t sim_mem_used(int dev);
/* Device memory held outside the arena (physical allocations, vmm.c): counted like the
 * arena's, so that cuMemGetInfo and the device's limit see it. 0 or -ENOMEM. */
int sim_mem_charge(int dev, uint64_t size);
void sim_mem_uncharge(int dev, uint64_t size);
/* Allocates size bytes of device memory (256-byte aligned). -ENOMEM when over budget. */
int sim_mem_alloc(struct sim_ctx *ctx, int dev, uint64_t size, uint64_t *dptr);
/* The same, recorded as kind (ALLOC_DEVICE or ALLOC_ARRAY); free it with that kind. */
int sim_mem_alloc_kind(struct sim_ctx *ctx, int dev, uint64_t size, int kind, uint64_t *dptr);
int sim_mem_free(uint64_t dptr, int kind);        /* -EINVAL when not a live base */
int sim_mem_add_host(struct sim_ctx *ctx, void *p, uint64_t size, int kind, unsigned flags);
/* A range mapped by virtual memory management (vmm.c), reachable as device memory of dev. */
int sim_mem_add_vmm(uint64_t base, uint64_t size, int dev);
/* The mapping (cuMemMap) holding p: 1 with its range, else 0. */
int sim_vmm_mapping(uint64_t p, uint64_t *base, uint64_t *size);
/* Copy of the live allocation containing [a, a+len), or -EINVAL. */
int sim_mem_find(uint64_t a, uint64_t len, struct sim_alloc *out);
/* The same, but -EFAULT for a dormant graph allocation: what work that runs may touch. */
int sim_mem_find_live(uint64_t a, uint64_t len);
/* Marks the allocation at base dormant (1) or usable (0); -EINVAL when not a live base. */
int sim_mem_set_dormant(uint64_t base, int dormant);
/* Device memory of a module's __managed__ variable (an ALLOC_DEVICE flag): the host reaches
 * it at the same address, and pointer attributes call it managed. */
#define SIM_ALLOC_F_MANAGED_VAR 0x80000000u
/* Memory of cuMemAlloc or cuMemAllocPitch (an ALLOC_DEVICE flag): what cuIpcGetMemHandle may
 * export. Pools, graphs, modules and the kernels' heap take device memory without it. */
#define SIM_ALLOC_F_EXPORTABLE 0x40000000u
/* Memory of a pool (cuMemAllocAsync, cuMemAllocFromPoolAsync; an ALLOC_DEVICE flag): no
 * context's, as cuCtxDestroy's documentation says. It outlives the context it was made in
 * (whose ctx it keeps until that context goes, then NULL) and goes when freed, when its
 * device is reset, or with the process. */
#define SIM_ALLOC_F_ORDERED 0x20000000u
/* Adds flags to the allocation at base; -EINVAL when not a live base. */
int sim_mem_set_flags(uint64_t base, unsigned flags);
/* cuLibraryGetManaged's module step (module.c; runtime/drvtab.h's module_get_managed). */
CUresult vgpu_sim_module_get_managed(CUdeviceptr *dptr, size_t *bytes, CUmodule hmod, const char *name);
/* 1 if a lies in the device arena (live or not). */
int sim_mem_in_arena(uint64_t a);
void sim_mem_free_ctx(struct sim_ctx *ctx);
/* Frees the stream-ordered allocations (SIM_ALLOC_F_ORDERED) of device dev in the calling
 * thread's address space: what a reset of the device takes with the primary context. */
void sim_mem_free_ordered(int dev);
/* A kernel's global access: ctx is its address space (cast); memory of another space faults. */
int sim_mem_resolve(void *space, uint64_t addr, uint64_t len, struct ptx_range *out);

/*
 * CUDA IPC memory handles (mem.c, ipc.c): the bytes of a CUipcMemHandle. The exporter's arena
 * pages under an exported allocation are a mapping of one memfd (the whole arena's, at the
 * same offsets), which another process opens through /proc/<pid>/fd/<fd> and maps into its
 * own arena; a directory after the arena's span in that memfd lists the live exports, so a
 * handle that names no live export (forged, altered, of a freed allocation) opens nothing.
 */
#define SIM_IPC_MEM_MAGIC 0x484d5356u     /* "VSMH" */
#define SIM_IPC_EVENT_MAGIC 0x48455356u   /* "VSEH" */
struct sim_ipc_mem {
	uint32_t magic;          /* SIM_IPC_MEM_MAGIC */
	int32_t pid;             /* the exporting process */
	int32_t fd;              /* its memfd, as numbered in that process */
	uint32_t slot;           /* the export's directory entry */
	uint64_t ino, dev;       /* the memfd's inode and device: checked once opened */
	uint64_t off, size;      /* the allocation: offset in the arena (and the memfd), bytes */
	uint64_t serial;         /* this export's number in the exporting process */
	uint64_t nonce;          /* the exporter's memfd's random number, in its directory too */
};
/* Fills *out for the allocation at base, made by cuMemAlloc and live (the same bytes for every
 * export of one allocation); -EINVAL for anything else, -ENOMEM or -EIO when it cannot be
 * shared. The first export of a part of the arena waits until no operation runs. */
int sim_mem_ipc_export(uint64_t base, struct sim_ipc_mem *out);
/* Maps the exported allocation *h into this arena for ctx: *dptr its first byte. The same
 * handle opened again in ctx gives the same pointer and counts a reference. -ENOENT: *h names
 * no live export (nothing mapped); -ENOMEM: no room in the arena; -EIO: it cannot be mapped. */
int sim_mem_ipc_open(struct sim_ctx *ctx, const struct sim_ipc_mem *h, uint64_t *dptr);
/* Drops a reference of the import at dptr, unmapping it at the last; -EINVAL when dptr is not
 * a pointer sim_mem_ipc_open gave. */
int sim_mem_ipc_close(uint64_t dptr);
/* The file /proc/<pid>/fd/<fd> opened read-write when it is the regular file (ino, dev),
 * else -1 (ipc.c). */
int sim_ipc_open_fd(int32_t pid, int32_t fd, uint64_t ino, uint64_t dev);

/* access hook for the memory oracle */
extern void (*sim_hook_fn)(void *ctx, uint64_t dptr, uint64_t len, int write);
extern void *sim_hook_ctx;
static inline void sim_hook(uint64_t p, uint64_t len, int write)
{
	if (sim_hook_fn && len)
		sim_hook_fn(sim_hook_ctx, p, len, write);
}

/* ---- contexts (driver.c) ---- */
struct sim_stream;
struct sim_module;

struct sim_ctx {
	uint32_t magic;
	int dev;
	unsigned flags;
	int is_primary;
	CUresult sticky;                /* ILLEGAL_ADDRESS etc. after a fault */
	struct sim_stream *null_stream;
	struct sim_stream *streams;     /* created streams, under g_lock */
	struct sim_module *modules;
	size_t limits[16];
	CUfunc_cache cache_config;
	CUsharedconfig shared_config;
	uint64_t id;                    /* cuCtxGetId: unique over the process lifetime */
	struct sim_ctx *peers[SIM_MAX_DEVICES * 4];   /* cuCtxEnablePeerAccess, NULL-padded */
	struct sim_heap *heap;          /* kernels' malloc/free, made at the first malloc (heap.c) */
	/* Green contexts (green.c): a green context is a context of its own for streams, events,
	 * the current-context stack and sticky errors, but the memory, modules, arrays and graphs
	 * made while it is current are its primary context's (res), which it keeps retained. */
	struct sim_ctx *res;            /* a green context's primary context, else NULL */
	struct sim_green *green;        /* a green context's handle, else NULL */
	struct sim_ctx *greens;         /* a primary context's live green contexts, under g_lock, */
	struct sim_ctx *green_next;     /* linked by this */
};

/* The context whose memory, modules and other objects c uses: c itself, or a green
 * context's primary context. */
static inline struct sim_ctx *sim_ctx_res(struct sim_ctx *c)
{
	return c && c->res ? c->res : c;
}
/* ---- green contexts (green.c; driver.c makes and ends their contexts) ---- */
struct sim_green;
/* A context for a green context on dev sharing primary's objects (linked into its greens),
 * or NULL; not current anywhere. */
struct sim_ctx *sim_ctx_new_green(int dev, struct sim_ctx *primary);
/* Unlinks it from the calling thread's context stack and tears it down (its work finished,
 * its streams destroyed); its storage stays a destroyed context's. */
void sim_ctx_end_green(struct sim_ctx *c);
/* The multiprocessors that run c's kernels: the device's, or its green context's share. */
int sim_ctx_sm_count(const struct sim_ctx *c);
/* A stream s of green context c was made: it waits for what cuGreenCtxWaitEvent asked. */
void sim_green_stream_added(struct sim_ctx *c, struct sim_stream *s);
/* A stream of context c (created, not the NULL stream) with flags and priority (clamped). */
CUresult sim_stream_create(struct sim_ctx *c, unsigned flags, int priority, CUstream *ph);

/* The device heap of kernels' malloc and free (heap.c): CU_LIMIT_MALLOC_HEAP_SIZE bytes of
 * the context's device memory in the launcher's address space, made at the first malloc. */
uint64_t sim_heap_malloc(void *ctx, unsigned space, uint64_t size);     /* 0: none left */
int sim_heap_free(void *ctx, uint64_t p);                               /* -EINVAL: not malloc's */
void sim_heap_destroy(struct sim_ctx *c);

extern pthread_mutex_t g_lock;      /* streams, events, contexts, modules */
extern pthread_cond_t g_done;       /* broadcast whenever an op completes */
extern int g_ndev;
/* The simulated device behind visible ordinal dev (CUDA_VISIBLE_DEVICES may hide and reorder
 * them, as the driver's devices): what its UUID and PCI location are made of. */
int sim_dev_phys(CUdevice dev);
extern int g_inited;
/* CUDA_LAUNCH_BLOCKING=1 at cuInit: a kernel launch returns once the kernel ran, with the
 * context's error (a launch captured into a graph runs nothing and returns at once) */
extern int g_launch_blocking;

/*
 * The simulated device's compute capability and what goes with it (VGPU_SIM_CC, default 7.5):
 * a program that sizes shared memory by the capability its PTX was built for (NCCL, whose
 * device code was built for the newest target) needs the device to report it. The
 * interpreter runs the same PTX whatever the capability; clusters stay unsimulated.
 */
struct sim_cc {
	int major, minor;
	int shared_optin;     /* most shared memory a block may opt in to */
	int shared_per_sm;
	int threads_per_sm;
};
extern struct sim_cc g_cc;
/* A launch's cluster dimension: none (1x1x1) always; more only on a device of capability 9.0
 * or later, where up to 8 blocks a cluster (the portable size) dividing grid (when not NULL)
 * run as ordinary blocks, one after another. CUDA_SUCCESS, CUDA_ERROR_NOT_SUPPORTED or
 * CUDA_ERROR_INVALID_VALUE. */
/* A cluster shape checked against the device (none before 9.0) and the grid (NULL: not yet
 * known); max_blocks is 8, or 16 for a function allowed non-portable sizes. */
CUresult sim_cluster_check(const CUlaunchAttributeValue *v, const unsigned *grid, unsigned max_blocks);
/* The module cuLinkComplete parsed from this text (n bytes, without the NUL), handed over once
 * to the cuModuleLoadData of it, or NULL (link.c). */
struct ptx_module;
struct ptx_module *sim_link_parsed_take(const char *text, size_t n);
/* The simulated devices before CUDA_VISIBLE_DEVICES, and which the process sees (vgpu_drv.devices_all). */
extern int g_ndev_all;
int sim_devices_all(int *all, int *ord, int cap);

void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sim_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The calling thread's current context after checking initialisation; NULL sets *rc. */
struct sim_ctx *sim_ctx_current(CUresult *rc);
int sim_ctx_valid(const struct sim_ctx *c);
CUresult sim_errno_to_cu(int rc);

/* ---- streams and events (stream.c) ---- */
enum { OP_KERNEL, OP_COPY, OP_SET, OP_EVENT, OP_WAITONLY, OP_HOSTFN, OP_CALLBACK, OP_MEMFREE,
       OP_MEMVAL, OP_GMEM /* a graph's alloc or free node reached (graph.c) */,
       OP_COND /* a graph's conditional node reached: runs a body or none (graph.c) */,
       OP_CONDSET /* a graph launch begins: its conditionals take their default values */,
       OP_IPCWAIT /* cuStreamWaitEvent on an interprocess event: waits on its shared page */ };
struct sim_gmem;
struct sim_cond;
struct sim_gexec;

struct sim_copy3d {              /* a generic strided copy: depth × height rows of width */
	uint64_t src, dst;       /* addresses (host or device, all resolved as host addresses) */
	uint64_t width, height, depth;
	uint64_t spitch, sheight, dpitch, dheight;
	int src_dev, dst_dev;    /* which sides are device memory (hook reporting) */
	int src_alloc, dst_alloc; /* which sides were an allocation when queued: checked again when the
				   * copy runs (a graph may run it after the memory is gone) */
	void *owned;             /* staging copy of a pageable source, freed with the op */
	CUarray src_array, dst_array; /* the arrays whose storage the sides are in, else NULL
				   * (a graph's copy node reads its parameters back as given) */
};

struct sim_launch_op {
	struct ptx_launch l;
	struct sim_module *mod;
	uint8_t *params;
	unsigned space;          /* the launcher's address space */
	int cooperative;         /* its blocks run at once, each on a thread of its own */
	int depth;               /* dynamic parallelism: 0 for the host's launch, 1 for its children... */
};

struct sim_event {
	uint32_t magic;
	struct sim_event *next;          /* all events, under g_lock */
	struct sim_ctx *ctx;
	unsigned flags;
	struct sim_stream *stream;       /* last record, NULL if never recorded */
	uint64_t seq;
	uint64_t gen;
	struct timespec ts;
	int has_ts;
	struct sim_graph *capture;       /* recorded inside this capture (graph.c), under g_lock */
	struct sim_ipcev *ipc;           /* CU_EVENT_INTERPROCESS: the page its state is shared in */
};

/*
 * An interprocess event's shared state (ipc.c): a page of a memfd mapped by every process
 * that made or opened the event, counting the records issued and the highest completed.
 * Each record takes the next number; the event is complete when the completed number reaches
 * the issued one seen when asked. Referenced by its events and by queued operations.
 */
struct sim_ipcev;
/* A new page (one reference), or NULL. */
struct sim_ipcev *sim_ipcev_new(void);
void sim_ipcev_ref(struct sim_ipcev *p);
void sim_ipcev_unref(struct sim_ipcev *p);
uint64_t sim_ipcev_issue(struct sim_ipcev *p);                 /* a record: its number */
void sim_ipcev_complete(struct sim_ipcev *p, uint64_t ticket); /* a record ran */
uint64_t sim_ipcev_issued(const struct sim_ipcev *p);
int sim_ipcev_reached(const struct sim_ipcev *p, uint64_t target);
void sim_ipcev_wait(const struct sim_ipcev *p, uint64_t target);  /* sleeps, never spins */
/* An event of context c with flags; ipc (a reference passes) its shared page, or NULL to make
 * one when flags ask for an interprocess event (api_stream.c). */
CUresult sim_event_create(struct sim_ctx *c, unsigned flags, struct sim_ipcev *ipc, CUevent *ph);

struct sim_op {
	int kind;
	uint64_t seq;
	struct sim_op *next;
	struct sim_dep { struct sim_stream *s; uint64_t seq; } *deps;  /* malloc'd */
	int ndeps;
	union {
		struct sim_launch_op k;
		struct sim_copy3d c;
		struct { uint64_t dst, pitch, width, height; uint32_t value; int esize; } set;
		/* OP_EVENT; an interprocess event's record also holds a reference to its page and
		 * the number it took (ipc NULL otherwise) */
		struct { struct sim_event *e; uint64_t gen; struct sim_ipcev *ipc; uint64_t ticket; } ev;
		struct { struct sim_ipcev *p; uint64_t target; } iw;                  /* OP_IPCWAIT */
		struct { void (*fn)(void *); void *data; } host;
		struct { CUstreamCallback fn; void *data; } cb;
		uint64_t free_dptr;      /* OP_MEMFREE (cuMemFreeAsync) */
		struct { uint64_t addr, value; int size, wait; unsigned flags; } mv;   /* OP_MEMVAL */
		struct { struct sim_gmem *r; int alloc; } gm;                         /* OP_GMEM */
		/* OP_COND: the node's handle, type and bodies (executable graphs), owned by the
		 * executable graph's template (owns), borrowed by each launch's copy */
		struct { struct sim_cond *c; unsigned type, size; struct sim_gexec **bodies; int owns; } cond;
		struct { struct sim_cond *const *v; size_t n; } condset;           /* OP_CONDSET */
	} u;
};

struct sim_stream {
	uint32_t magic;
	struct sim_ctx *ctx;
	unsigned flags;
	int priority;
	int is_null;
	pthread_t thread;
	int started, stop;
	int inline_busy;                 /* head is being run by a caller (sim_stream_run_sync, sim_stream_wait) */
	int running;                     /* head is being run by the stream's thread */
	struct sim_op *head, *tail;
	uint64_t enq_seq, done_seq;
	uint64_t id;                     /* cuStreamGetId */
	pthread_cond_t cond;             /* work arrived / stop */
	struct sim_stream *next;         /* in ctx->streams */
	struct sim_stream *gnext;        /* in the process-wide list (stream.c) */
	struct sim_graph *capture;       /* the capture this stream's work goes to (graph.c) */
	CUstreamAttrValue attrs[11];     /* stream attributes set, by CUlaunchAttributeID (api_stream.c) */
};

struct sim_stream *sim_stream_new(struct sim_ctx *ctx, unsigned flags, int prio);
void sim_stream_destroy(struct sim_stream *s);   /* waits for pending work */
/* Resolves a CUstream handle (NULL/legacy/per-thread → the context's NULL stream). */
struct sim_stream *sim_stream_get(struct sim_ctx *ctx, CUstream h, CUresult *rc);
/* Enqueues op (ownership passes) with the legacy-stream dependencies; returns its seq. */
uint64_t sim_stream_enqueue(struct sim_stream *s, struct sim_op *op);
/* Enqueue op and wait for it. When nothing is queued before it, it runs in the calling
 * thread (no hand-off to the stream's worker and back), in the same order. */
void sim_stream_run_sync(struct sim_stream *s, struct sim_op *op);
/* An asynchronous op that reads the caller's memory (a copy from pageable host memory): on
 * an idle stream it runs in the calling thread now, where the stream would run it next, and
 * needs no copy of its input; otherwise own(op) gives it a private copy of its input and it
 * is queued (when own fails, the caller waits for it instead). */
void sim_stream_run_or_queue(struct sim_stream *s, struct sim_op *op, int (*own)(struct sim_op *op));
/* An asynchronous op that costs less than waking the stream's thread (a small copy between
 * device and pinned memory): run by the caller when the stream is idle, as a GPU starts such
 * a copy at once; queued as sim_stream_enqueue otherwise. Returns its sequence number. */
#define SIM_INLINE_COPY_MAX (1u << 20)
uint64_t sim_stream_enqueue_or_run(struct sim_stream *s, struct sim_op *op);
void sim_stream_wait(struct sim_stream *s, uint64_t seq);
void sim_ctx_sync(struct sim_ctx *ctx);
struct sim_op *sim_op_new(int kind);
void sim_op_free(struct sim_op *op);
/* A launch of func (or a CUkernel's function) in context c, checked, as an operation not yet
 * queued (graph kernel nodes' new parameters). */
CUresult sim_kernel_op(struct sim_ctx *c, CUfunction func, const unsigned g[3], const unsigned b[3], unsigned shmem,
		       void **params, void **extra, struct sim_op **out);
/* A 3D copy checked and made into an operation not yet queued (graph copy nodes' new
 * parameters; host memory is read and written when it runs). */
CUresult sim_copy_op(const CUDA_MEMCPY3D *p, struct sim_op **out);
/* Every stream of the process (linked by gnext), under g_lock. */
struct sim_stream *sim_streams_all(void);
/* Returns with g_lock held once no stream runs an operation that may touch memory (waits for
 * other processes' events or for values are let be): nothing starts until it is released. */
void sim_streams_quiesce(void);

/* ---- memory pools (pool.c) ---- */
CUresult sim_mem_alloc_async(CUdeviceptr *dptr, size_t size, CUstream h);
/* Device memory at base was freed: the pool it came from, if any, no longer counts it. */
void sim_pool_forget(uint64_t base);

/* ---- graphs (graph.c) ---- */
struct sim_graph;
/* g_lock held: op (ownership passes) goes into s's capture instead of running. */
/* g_lock held, s capturing: an event record or wait node for e (external events) at the
 * capture's frontier */
CUresult sim_graph_capture_event(struct sim_stream *s, struct sim_event *e, CUgraphNodeType type);
void sim_graph_capture_op(struct sim_stream *s, struct sim_op *op);
/* g_lock held, s capturing: an operation not allowed during a capture was asked for; the
 * capture ends in error (CUDA_ERROR_STREAM_CAPTURE_INVALIDATED), as the driver's does. */
void sim_graph_capture_invalidate(struct sim_stream *s);
/* s is being destroyed (g_lock held): it leaves its capture, which is invalidated. When no other
 * stream is in that capture any more, the capture ends: a program's own graph (captured into by
 * cuStreamBeginCaptureToGraph) is the program's again, to destroy or capture into; a graph the
 * capture made stays the driver's until the program destroys it (it may hold it). */
void sim_graph_capture_leave(struct sim_stream *s);
/* Graph memory (graph.c). When stream h of c is capturing, the stream-ordered allocation or
 * free becomes a node of the capture: 1 with *rc its answer; 0 when h is not capturing. */
int sim_graph_capture_alloc(struct sim_ctx *c, CUstream h, int dev, size_t size, CUdeviceptr *dptr, CUresult *rc);
int sim_graph_capture_free(struct sim_ctx *c, CUstream h, CUdeviceptr dptr, CUresult *rc);
/* A free outside graphs (cuMemFree: sync 1; cuMemFreeAsync at its call: 0) of dptr: 1 with *rc
 * its answer when dptr is a graph's allocation, 0 otherwise. */
int sim_graph_mem_user_free(CUdeviceptr dptr, int sync, CUresult *rc);
/* The stream reached a cuMemFreeAsync of dptr: 1 when it was a graph's allocation (handled). */
int sim_graph_mem_stream_free(uint64_t dptr);
/* The stream reached a graph's alloc (alloc 1) or free node. */
void sim_graph_mem_run(struct sim_gmem *r, int alloc);
/* Context c is going: its graph allocations go with its memory. */
void sim_graph_mem_ctx_gone(struct sim_ctx *c);
/* cuMemPoolCreate's pools not destroyed yet (pool.c; vgpu_sim_live_objects). */
long sim_pool_live(void);
/* Stream-ordered allocations not freed yet, every device and address space (vgpu_sim_live_objects). */
long sim_pool_live_allocs(void);
/* Conditional nodes (graph.c): run the node on s's worker (g_lock not held); free what an
 * OP_COND template owns; a kernel's cudaGraphSetConditional (ctx: the launching context):
 * 0, or -EINVAL for a handle naming no conditional of ctx. */
void sim_graph_cond_run(struct sim_stream *s, struct sim_op *op);
void sim_graph_cond_free(struct sim_op *op);
int sim_graph_cond_set(void *ctx, uint64_t handle, uint32_t value);
/* Runs one op as the stream's worker would (stream.c; g_lock not held). */
void sim_op_run(struct sim_stream *s, struct sim_op *op);

/* ---- launches (exec.c) ---- */
int sim_pool_run(struct sim_launch_op *k, char *err, size_t errlen);
extern _Atomic uint64_t g_insn_count;
/* 1 when a launch of fn may have grid g and block b (the device's limits, fn's .maxntid):
 * the host's launches and those kernels make (module.c). */
int sim_launch_shape_ok(const struct ptx_func *fn, const unsigned g[3], const unsigned b[3]);
/* The instruction budget of a block and of a launch (VGPU_SIM_WATCHDOG_INSNS; 0: none). */
uint64_t sim_watchdog_insns(void);

/* ---- modules (module.c) ---- */
struct sim_func {
	uint32_t magic;
	struct sim_module *mod;
	const struct ptx_func *fn;
	int max_dyn_shared;
	int carveout;
	CUfunc_cache cache;
	unsigned req_cluster[3];    /* set at run time (zeros: none); the PTX's own come first */
	int nonportable_cluster;    /* clusters past 8 blocks allowed */
	int cluster_policy;         /* a CUclusterSchedulingPolicy: a hint */
	struct sim_func *next;
};

struct sim_module {
	uint32_t magic;
	struct sim_ctx *ctx;
	struct ptx_module *pm;
	struct sim_func *funcs;
	struct sim_module *next;
};

void sim_module_destroy(struct sim_module *m);

/* ---- CUDA arrays, texture and surface objects (api_tex.c) ---- */
struct sim_array_info {          /* an array's dense storage, as copies address it */
	uint64_t base, bytes;    /* ALLOC_ARRAY device memory */
	uint64_t pitch;          /* bytes of one row: width x texel */
	uint64_t rows;           /* rows of one slice: height, 1 for 1D arrays */
	uint64_t slices;         /* depth or layers, 1 for 1D and 2D arrays */
	unsigned texel;          /* bytes of one element */
};
/* 0 and *out for a live array, -EINVAL for anything else (forged, destroyed, NULL). */
int sim_array_info(CUarray h, struct sim_array_info *out);
/* ptx_env.tex: ctx is the launching context (an object of another context faults). */
int sim_tex_lookup(void *ctx, uint64_t handle, int surface, struct ptx_tex *out);
/* A context's arrays and objects go with it (its work has finished). */
void sim_tex_destroy_ctx(struct sim_ctx *c);
/* The context's events destroyed with it (api_stream.c). */
void sim_events_destroy_ctx(struct sim_ctx *c);

#endif
