/* SPDX-License-Identifier: MIT */
/* PTX front end and interpreter of the simulator: a module parsed once into pre-decoded
 * instructions over a flat register-slot file, and a block executor that interleaves the
 * threads of one block so bar.sync and shared memory behave as on a GPU. */
#ifndef VGPU_SIM_PTX_H
#define VGPU_SIM_PTX_H

/* Longest identifier accepted (without its NUL). Mangled names of template code run to
 * thousands of characters; the bound is the longest string a call can carry. */
#define PTX_NAME_MAX 4096

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Value kinds of registers and instruction types (.b types map to the .u kind). */
enum ptx_kind { K_U8, K_S8, K_U16, K_S16, K_U32, K_S32, K_U64, K_S64, K_F16, K_F32, K_F64,
                K_PRED, K_NONE, K_F16X2, K_BF16, K_BF16X2 };   /* at most 16: C() in ptx_exec.c */

/* State spaces. */
enum ptx_space { SP_GENERIC, SP_GLOBAL, SP_SHARED, SP_LOCAL, SP_PARAM, SP_CONST, SP_REG };

/* One pre-decoded instruction. Every operand is a slot of the frame's register file:
 * registers, immediates (constant slots), symbol addresses and special registers alike. */
struct ptx_insn {
	uint16_t op;        /* enum ptx_op (ptx_parse.c) */
	uint8_t kind;       /* operation type */
	uint8_t kind2;      /* cvt: source type; ld/st/atom/cvta: state space */
	uint8_t mod;        /* compare op, rounding mode, atomic op */
	uint8_t mod2;       /* setp combiner, vector count, flags */
	uint8_t size;       /* memory access size in bytes (per vector element) */
	uint8_t gneg;       /* guard predicate negated */
	uint32_t guard;     /* predicate slot, 0 = unguarded */
	uint32_t o[5];      /* operand slots: d, a, b, c, extra */
	int64_t imm;        /* address offset, branch target, call-site index */
	uint32_t line;      /* source line, for messages */
};

/* How a frame slot is filled when a frame is created (special registers, local symbols). */
struct ptx_fill { uint32_t slot; uint32_t what; uint64_t arg; };
enum { FILL_TID, FILL_NTID = 3, FILL_CTAID = 6, FILL_NCTAID = 9, FILL_LANEID = 12, FILL_WARPID,
       FILL_NWARPID, FILL_SMID, FILL_NSMID, FILL_GRIDID, FILL_LOCAL, FILL_DYNSHARED,
       FILL_LANEMASK_EQ, FILL_LANEMASK_LT, FILL_LANEMASK_LE, FILL_LANEMASK_GT, FILL_LANEMASK_GE,
       FILL_ENVREG /* arg: the register's number */,
       FILL_RSMEM /* arg: RSMEM_* */, FILL_CLUSTER /* arg: CL_* */, FILL_SMEM /* arg: SMEM_* */ };
/* %dynamic_smem_size, %total_smem_size (static and dynamic), %aggr_smem_size (the block's
 * whole shared memory, the reserved region included) */
enum { SMEM_DYNAMIC, SMEM_TOTAL, SMEM_AGGR };
/* Cluster registers: %cluster_ctaid.{x,y,z}, %cluster_nctaid, %clusterid, %nclusterid (three
 * each), %cluster_ctarank, %cluster_nctarank, %is_explicit_cluster. */
enum { CL_CTAID = 0, CL_NCTAID = 3, CL_ID = 6, CL_NID = 9, CL_RANK = 12, CL_NRANK, CL_EXPLICIT };
/* The block's reserved shared memory (sm_80 on: cooperative groups keep the scratch of tiles
 * of several warps there): RSMEM_BYTES after the block's own shared memory, in two halves. */
enum { RSMEM_BEGIN, RSMEM_END, RSMEM_CAP, RSMEM_OFF0, RSMEM_OFF1 };
#define RSMEM_BYTES 1024u

/* A module-scope variable (.global/.const) placed in device memory at bind time. */
struct ptx_var {
	char *name;         /* NUL-terminated, owned */
	uint8_t space;
	uint8_t managed;    /* .attribute(.managed): a __managed__ variable */
	uint32_t align;
	uint64_t size;
	uint8_t *init;      /* size bytes of initial value or NULL (zero) */
	uint64_t addr;      /* device address after ptx_module_bind() */
	int placed;         /* addr was given by vgpu_sim_module_place_global: not the module's to free */
};

struct ptx_gfix { uint32_t slot; uint32_t var; uint64_t addend; };

struct ptx_call {
	uint32_t callee;    /* function index (direct calls) */
	uint32_t indirect;  /* nonzero: the callee is the function whose address is in register fslot */
	uint32_t fslot;
	uint32_t nargs, nret;
	uint32_t arg_off[32]; /* caller frame param offsets of the arguments */
	uint32_t ret_off;   /* caller frame param offset receiving the return value */
	uint32_t line;      /* of the call, for messages */
	uint32_t builtin;   /* PTX_BUILTIN_*: an external function the simulator provides */
};

/* The simulated device's clock rate (CU_DEVICE_ATTRIBUTE_CLOCK_RATE), at which a kernel's
 * %clock64 advances. */
#define PTX_CLOCK_KHZ 1500000

/* The most shared memory a module may declare statically: what the largest capability lets a
 * block opt in to (227 KiB); a launch checks the device's own (VGPU_SIM_CC). */
#define PTX_SHARED_MAX 232448u

/*
 * A function's address, as a kernel takes it (mov of its name, a table of them in an
 * initializer, a C++ vtable) and calls through it: a window no memory is in, 16 bytes a
 * function by its index in the module, so a load or store through one faults and an
 * indirect call checks that its target is a function of the module it runs in.
 */
#define PTX_FUNC_WIN 0xfffd000000000000ull
static inline uint64_t ptx_func_addr(uint32_t fi) { return PTX_FUNC_WIN + (uint64_t)fi * 16; }

/* External functions a module may call that the simulator provides itself. */
enum { PTX_BUILTIN_NONE, PTX_BUILTIN_VPRINTF, PTX_BUILTIN_MALLOC, PTX_BUILTIN_FREE, PTX_BUILTIN_ASSERTFAIL,
       PTX_BUILTIN_SETCOND /* cudaGraphSetConditional */,
       /* dynamic parallelism (the device runtime's __cudaCDP2* entry points): a launch's
        * parameter buffer with (V2) or without its configuration, the launch of one, what
        * answers success (GetLastError, PeekAtLastError, StreamDestroy), a stream made (its
        * handle a token: children run in the order launched), the device (0) */
       PTX_BUILTIN_CDP_PARAMBUF2, PTX_BUILTIN_CDP_LAUNCH2, PTX_BUILTIN_CDP_PARAMBUF, PTX_BUILTIN_CDP_LAUNCH,
       PTX_BUILTIN_CDP_SUCCESS, PTX_BUILTIN_CDP_STREAM, PTX_BUILTIN_CDP_DEVICE };

struct ptx_func {
	char *name;         /* NUL-terminated, owned by the module */
	uint32_t shared_static;       /* an entry's static shared memory: its own .shared variables,
	                               * then the module-scope ones and those of .func's that its
	                               * code and what it calls name */
	int is_entry, defined;
	struct ptx_insn *code;
	uint32_t ncode;
	uint32_t nslots;
	uint64_t *tmpl;               /* nslots initial values (constants, symbol addresses) */
	struct ptx_fill *fills;
	uint32_t nfills;
	struct ptx_gfix *gfix;
	uint32_t ngfix;
	uint32_t nparams;
	uint32_t param_off[64], param_size[64];
	uint32_t param_bytes;         /* bytes of the formal parameters (entries: launch buffer) */
	uint32_t ret_off, ret_size;   /* .func return value in its frame param buffer */
	uint32_t frame_param_size;    /* formal params + return + callsite .param variables */
	uint32_t local_size;          /* .local bytes per frame */
	uint32_t max_ntid;            /* .maxntid / .reqntid product, 0 = none */
	uint32_t req_cluster[3];      /* .reqnctapercluster x, y, z; zeros = none */
	uint8_t explicit_cluster;     /* .explicitcluster: launches must give a cluster size */
};

struct ptx_module {
	struct ptx_func *funcs;
	uint32_t nfuncs;
	struct ptx_var *vars;
	uint32_t nvars;
	struct ptx_call *calls;
	uint32_t ncalls;
	uint32_t target;              /* .target sm_NN as NN (e.g. 120 for compute_120 PTX); 0: none */
	uint8_t reserved_smem;        /* reads %reserved_smem_*: blocks get the reserved region */
};

/* Parses NUL-terminated PTX text. Returns 0 and *out (free with ptx_module_free), or
 * -EINVAL for malformed text, -ENOTSUP for an instruction or feature outside the
 * simulator's set, -ENOMEM; on error err holds "line N: what". */
int ptx_module_parse(const char *text, struct ptx_module **out, char *err, size_t errlen);
void ptx_module_free(struct ptx_module *m);
/* A deep copy of a module as ptx_module_parse made it (never bound nor loaded): what a
 * load changes (its variables' addresses, the symbol slots ptx_module_bind fills) is the
 * copy's own. NULL when out of memory. */
struct ptx_module *ptx_module_clone(const struct ptx_module *m);
/* Returns the entry named name or NULL. */
const struct ptx_func *ptx_module_entry(const struct ptx_module *m, const char *name);
/* Fills every function's symbol-address slots once vars[i].addr are set. */
void ptx_module_bind(struct ptx_module *m);

/* A range of memory the interpreter may access directly: device addresses [lo, lo+len)
 * live at host address lo + delta. */
struct ptx_range { uint64_t lo, len; int64_t delta; };

/* A texture or surface object as a kernel's tex/tld4/txq/suld/sust/suq instruction sees it,
 * filled by the driver from the object's handle at the instruction (ptx_env.tex). The texels
 * live in device memory: every access goes through ptx_env.resolve like a load, so memory
 * freed under a running kernel faults instead of being read. */
struct ptx_tex {
	uint64_t addr;          /* device address of texel (0, 0, 0) of layer 0 */
	uint64_t bytes;         /* bytes from addr the resource spans (no access beyond) */
	uint64_t width, height, depth;  /* in texels; 1 for dimensions the resource lacks */
	uint64_t layers;        /* layered arrays: number of layers; 0 when not layered */
	uint64_t pitch;         /* bytes between rows */
	uint64_t slice;         /* bytes between 2D slices (of depth, or layers) */
	uint32_t dims;          /* 1, 2 or 3: dimensions of one layer */
	uint32_t format;        /* CUarray_format: UNSIGNED_INT8/16/32, SIGNED_INT8/16/32, HALF, FLOAT */
	uint32_t channels;      /* 1, 2 or 4 */
	uint32_t texel;         /* bytes per texel: channels x the format's size */
	uint32_t linear;        /* resource is linear memory (CU_RESOURCE_TYPE_LINEAR: tex1Dfetch) */
	uint32_t cube;          /* a cubemap array: layers are faces, six to a cubemap */
	/* sampling state (texture objects; zero for surfaces) */
	uint32_t addr_mode[3];  /* CUaddress_mode per coordinate */
	uint32_t filter;        /* CUfilter_mode */
	uint32_t flags;         /* CU_TRSF_READ_AS_INTEGER, CU_TRSF_NORMALIZED_COORDINATES, ... */
	float border[4];        /* CU_TR_ADDRESS_MODE_BORDER's colour */
	/* mipmaps: levels (0 or 1: none) stored one after another from addr, each dense, level i
	 * max(1, extent >> i) in the dimensions of one layer (layers do not shrink); the view's
	 * geometry and bytes are level 0's. Sampling state: how tex.level/tex.grad pick levels. */
	uint32_t levels;
	uint32_t mip_filter;    /* CUfilter_mode between levels */
	float lod_bias, lod_min, lod_max;
};

/* Level l of mipmapped view v (v itself for l 0) into *out: its address, extents, pitch,
 * slice and bytes, the rest as v's. -ERANGE when l is not below v's levels or the geometry
 * is not a dense mipmap's (bytes or offsets past 2^48). */
int ptx_tex_level(const struct ptx_tex *v, unsigned l, struct ptx_tex *out);

/* What the executor needs from the driver: resolve a global address (returns 0 and the
 * containing live range, or -EFAULT) and an optional access hook. */
struct ptx_env {
	int (*resolve)(void *ctx, uint64_t addr, uint64_t len, struct ptx_range *out);
	void *resolve_ctx;
	void (*hook)(void *ctx, uint64_t dptr, uint64_t len, int write);
	void *hook_ctx;
	uint64_t shared_win, local_win; /* generic-address windows (reserved, never host memory) */
	uint64_t param_win;             /* ... and the kernel's parameters' (cvta.param), read only */
	uint64_t max_insns;             /* per-block watchdog: -ETIMEDOUT past it (0: none) */
	const _Atomic int *stop;        /* a cooperative launch or a cluster: set when one of its blocks failed */
	struct ptx_cluster *cluster;    /* the cluster the blocks run in (NULL: each block is its own) */
	/* kernels' malloc and free: the launching context's device heap (NULL: none) */
	uint64_t (*heap_malloc)(void *ctx, unsigned space, uint64_t size);
	/* texture (surface = 0) and surface (surface = 1) objects: 0 and *out for a live object
	 * of that kind, -EFAULT for any other value (forged, destroyed, the other kind); NULL:
	 * the launch has none, every handle faults */
	int (*tex)(void *ctx, uint64_t handle, int surface, struct ptx_tex *out);
	void *tex_ctx;
	int (*heap_free)(void *ctx, uint64_t p);
	void *heap_ctx;
	unsigned heap_space;
	/* cudaGraphSetConditional(handle, value): 0, or < 0 for a handle naming no conditional
	 * of the launching context (the kernel faults); NULL: every handle faults */
	int (*set_cond)(void *ctx, uint64_t handle, uint32_t value);
	void *cond_ctx;
	/* dynamic parallelism: a parameter buffer (device memory) for a launch of entry fn of the
	 * running module (fn NULL: its configuration comes with the launch), 0 when refused;
	 * a launch of one (the child grid runs once the launching grid has), 0 or a cudaError_t.
	 * NULL: kernels cannot launch kernels */
	uint64_t (*cdp_buffer)(void *ctx, const struct ptx_func *fn, const uint32_t grid[3],
	                       const uint32_t block[3], uint32_t shmem, uint64_t size);
	int (*cdp_launch)(void *ctx, uint64_t buf, const struct ptx_func *fn, const uint32_t grid[3],
	                  const uint32_t block[3], uint32_t shmem);
	void *cdp_ctx;
};

struct ptx_launch {
	const struct ptx_module *mod;
	const struct ptx_func *fn;
	uint32_t grid[3], block[3];
	uint32_t shared_dyn;
	const uint8_t *params;        /* fn->param_bytes bytes */
	uint64_t grid_ws;             /* a cooperative launch's grid workspace (%envreg1:%envreg2), else 0 */
	uint32_t cluster[3];          /* blocks per cluster in each dimension (all 1: none) */
	uint8_t explicit_cluster;     /* launched with a cluster shape (%is_explicit_cluster) */
};

#define PTX_CLUSTER_MAX 16        /* blocks in a cluster (non-portable sizes included) */

/* The blocks of one thread-block cluster, run at once (each on a thread of its own): their
 * shared memory, which the launcher allocates (ptx_block_shared_size bytes each) and frees
 * after the last, so that one block reaches another's (distributed shared memory); the
 * cluster barrier (barrier.cluster.arrive/wait over all their threads). */
struct ptx_cluster {
	uint32_t nblocks;
	uint8_t **shared;             /* by rank (x fastest within the cluster) */
	uint64_t shared_size;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic uint64_t phase;       /* completed barrier phases */
	uint32_t expected, arrived;   /* threads that have not exited; arrivals in this phase */
	uint32_t live, blocked;       /* blocks running; blocks whose threads all wait for a phase */
	_Atomic int stop;             /* a block failed: the others stop */
};

/* Bytes of shared memory a block of launch l has: its static and dynamic shared memory and,
 * for modules that read it, the reserved region. */
uint64_t ptx_block_shared_size(const struct ptx_launch *l);

/* Runs block (bx, by, bz) of a launch to completion. Returns 0, -EFAULT for an illegal
 * address, -EILSEQ for a misaligned one, -EDOM for a failed device assert(), -EINVAL for a trap or call-stack overflow (err says
 * which instruction and line), -ETIMEDOUT past env->max_insns, -ENOMEM. Thread-safe: blocks
 * of one launch may run concurrently. */
int ptx_block_run(const struct ptx_launch *l, const struct ptx_env *env, uint32_t bx,
                  uint32_t by, uint32_t bz, uint64_t *ninsn, char *err, size_t errlen);

#endif
