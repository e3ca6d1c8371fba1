/* SPDX-License-Identifier: MIT */
/* ckpt.h — a zone's device state written to a checkpoint file and recreated from one, same handle values and addresses. */
#ifndef VGPU_PROXY_CKPT_H
#define VGPU_PROXY_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include <cuda.h>

#include "drvenv.h"
#include "visible.h"

/*
 * Format (docs/ARCHITECTURE.md, "Checkpoint, restore and migration"): a 64-byte header
 *   "VGPUCKPT", u32 version, u32 header bytes (64), u64 payload bytes, 4 zero bytes,
 *   u32 backend kind, zeros
 * then records { u32 type, u32 zero, u64 body length, body }, little-endian, in this order:
 * ZONE, RANGES (every allocation's address range, then the zone's address reservations,
 * as many as its second word says), SLOTS, contexts, modules, functions,
 * streams, events, memory pools (record type 11: a device's default pool, or a created
 * one with its properties; attributes and which pool is the device's current one),
 * allocations (with their bytes), physical allocations of the virtual memory API (type 17:
 * the zone's id, size, id key, properties, references, bytes) and mappings (type 18: address,
 * size, offset, allocation id, access), module globals the zone was given the address of (record
 * type 12: module slot, address, size, name; only on a backend that can place a global at
 * an address, the simulator), graphs and executable graphs (types 15 and 16: slot, owner
 * context slot, for an executable graph its instantiation flags, then the nodes in dependency
 * order, each with its slot or none, type, dependencies and what rebuilding it takes; an
 * executable graph is written as the copy of its graph kept since it was instantiated),
 * pinned host memory regions (type 13: slot, size, the
 * memfd's inode, the zone's region-id key), channels (type 14: the ring memfd's inode, the
 * thread's current context slot, the server end's four ring indices), and END (the number of records before it
 * and the CRC-32C of every payload byte before it). It is written and read in one pass, so
 * the same code reads a file and the stream of a migration; the payload length is known
 * before writing. Handles are named by their slot in the zone's handle table, so the table
 * is rebuilt slot by slot and every id the zone holds names the same object afterwards.
 * The reader trusts nothing: header, every record (bounds, order, references to earlier
 * slots of the right type, allocations exactly as the ranges announced them) and the
 * checksum are checked; a restore that fails at any point leaves its new zone to be
 * discarded, and the zone's channels are taken over only after the end record checked out.
 */
#define VGPU_CKPT_MAGIC      "VGPUCKPT"
#define VGPU_CKPT_VERSION    2u         /* written; 2 added the stream-ordered allocation kind */
#define VGPU_CKPT_VERSION_MIN 1u         /* the oldest read (a version 1 file has no such kind) */
#define VGPU_CKPT_HDR_BYTES  64u
#define VGPU_CKPT_MAX_BYTES  (1ull << 40)   /* larger payloads are refused before reading */
#define VGPU_CKPT_MAX_IMAGE  (256u << 20)   /* one module image */
#define VGPU_CKPT_NAME_MAX   4096u          /* one function or global name (as long as a call carries) */
#define VGPU_CKPT_MAX_SLOTS  (1u << 24)     /* handle-table slots (vgpuctl --handles' bound) */
#define VGPU_CKPT_MAX_ALLOCS (1u << 20)     /* device allocations */
#define VGPU_CKPT_MAX_CHANS  1024u          /* channels (threads) of a zone */

/* What a checkpoint says about its zone (read before a worker exists for it). */
struct vgpu_ckpt_meta {
	uint32_t backend;          /* enum vgpu_backend_kind it was taken on */
	uint32_t version;          /* the file's format version */
	uint32_t zone_id;          /* on the proxy it was taken on */
	uint32_t slots;            /* handle table slots */
	uint32_t handles, allocs;  /* live handles, device allocations (as far as read) */
	uint64_t mem_bytes;        /* bytes in those allocations */
	uint64_t file_bytes;       /* header + announced payload */
	char name[65];
	char reg[64];              /* registration it was opened with, "" if none */
	uint8_t token[16];         /* the zone's JOIN token: a credential, the file is 0600 */
	char source[108];          /* the source worker's state socket, "" if none */
	char devices[VGPU_VISIBLE_TEXT];         /* the devices the zone's process chose ("1,0"), "" for all */
	char env[VGPU_DRVENV_BYTES];             /* its driver settings (drvenv.h), "" for none */
};

/* Per-zone bookkeeping the checkpoint needs, kept while the zone runs (zone.h embeds it). */
struct vgpu_ckpt_image { const void *module; uint8_t *bytes; size_t len; };
struct vgpu_ckpt_span { uint64_t base, size, handle; uint32_t refs; };
struct vgpu_ckpt_event { const void *event; unsigned flags; };
/* A pool the zone created: its properties (the driver has no query for them). */
struct vgpu_ckpt_pool { const void *pool; uint32_t alloc_type, loc_type, usage; int32_t loc_id; uint64_t max_size; };
/* A module global the zone was given the address of (cuModuleGetGlobal): it must keep it.
 * addr is where the module has it in this worker, zaddr where the zone knows it: the same,
 * unless a restore on a driver that cannot put a global at a given address found the
 * reloaded module's global elsewhere (then the worker translates, vgpu_ckpt_real_addr). */
struct vgpu_ckpt_global { const void *module; uint64_t addr, size; char *name; uint64_t zaddr; };
/* A channel of the zone when it was saved: its ring (the memfd's inode), its thread's context
 * stack, bottom first, the last the current one (writer: the real contexts; restored: the new
 * real contexts; nctx 0: none current), and the server end's position (vgpu_chan_position),
 * which a rejoining ring must still be at. A thread's stack holds what cuCtxCreate and
 * cuCtxPushCurrent put over the context before; a checkpoint carries up to
 * VGPU_CKPT_CTX_MAX of them. */
#define VGPU_CKPT_CTX_MAX 8u
struct vgpu_ckpt_chan { uint64_t ino; const void *ctx[VGPU_CKPT_CTX_MAX]; uint32_t nctx; uint32_t pos[4]; uint32_t rejoined; };
/* A pinned host memory region of the zone when it was saved: its slot and size, and the
 * memfd's inode the rejoining program must offer it with. */
struct vgpu_ckpt_pin { uint64_t ino, bytes; uint32_t slot, mapped; uint64_t addr; /* where the saving worker had it */ };
/* An executable graph: a copy of the graph it was instantiated from (the driver cannot
 * describe an executable graph), kept up to date by cuGraphExecUpdate; changed names the
 * first call that changed the executable graph in a way the copy does not follow; src is the
 * graph it was instantiated from (or the executable graph that took over that graph's memory
 * nodes' allocations when the graph went: vgpu_ckpt_gexec_heir). */
struct vgpu_ckpt_gexec { const void *exec; void *clone; uint64_t flags; const char *changed; const void *src; };
struct vgpu_ckpt_zone {
	struct vgpu_ckpt_image *img;    /* images of loaded modules, by real module */
	uint32_t nimg, capimg;
	struct vgpu_ckpt_event *ev;     /* events' creation flags (the driver has no query for them) */
	uint32_t nev, capev;
	struct vgpu_ckpt_pool *pool;    /* created pools' properties */
	uint32_t npool, cappool;
	struct vgpu_ckpt_span *span;    /* restored allocations' address ranges (virtual memory API) */
	uint32_t nspan;
	struct vgpu_ckpt_global *glob;  /* module globals handed out (their addresses cannot move) */
	uint32_t nglob, capglob;
	int glob_lost;                  /* a global could not be noted (out of memory) */
	uint32_t nmoved;                /* how many of them have zaddr != addr (read without the lock) */
	struct vgpu_ckpt_gexec *gx;     /* executable graphs and their graphs' copies */
	uint32_t ngx, capgx;
	int gx_lost;                    /* one could not be copied (out of memory, driver refusal) */
	const char *graph_attrs;        /* the call that set kernel node attributes (not carried) */
	/* restored: the channels and pinned regions the zone had, to be rejoined */
	struct vgpu_ckpt_chan *chan;
	uint32_t nchan;
	struct vgpu_ckpt_pin *pin;
	uint32_t npin;
	uint64_t pin_key;               /* the regions' id key */
};

struct vgpu_zone;
struct vgpu_backend;

/* Keep a copy of a module's image (after a successful load) / forget it (after unload).
 * Under no lock: takes the zone's. Out of memory only costs the ability to checkpoint. */
void vgpu_ckpt_note_image(struct vgpu_zone *z, const void *module, const void *image, size_t len);
void vgpu_ckpt_forget_image(struct vgpu_zone *z, const void *module);
void vgpu_ckpt_zone_fini(struct vgpu_ckpt_zone *ck);
/* An event was created with flags (after a successful cuEventCreate; takes the zone's lock). */
void vgpu_ckpt_note_event(struct vgpu_zone *z, const void *event, unsigned flags);
/* A pool was created with these properties (after a successful cuMemPoolCreate; takes the
 * zone's lock). */
void vgpu_ckpt_note_pool(struct vgpu_zone *z, const void *pool, const CUmemPoolProps *props);
/* The properties a pool the zone created was made with: 0, or -ENOENT (not one it created). */
int vgpu_ckpt_pool_props(struct vgpu_zone *z, const void *pool, struct vgpu_ckpt_pool *out);
/* The zone was given the address of a module's global (after a successful cuModuleGetGlobal;
 * takes the zone's lock). Out of memory makes the zone impossible to checkpoint. */
void vgpu_ckpt_note_global(struct vgpu_zone *z, const void *module, const char *name, uint64_t addr, uint64_t size);
/*
 * Module globals a restore found elsewhere (under no lock: they take the zone's; nothing to
 * do, and no lock taken, in a zone without any). real_addr: the driver's address of
 * [p, p+len) the zone names, p itself unless the range lies inside one such global's old
 * range (len 0: p inside it). zone_addr: the reverse, for an address the driver gives out.
 * words: every 8-byte-aligned word of buf (a kernel's parameters) that points into such a
 * global's old range (to_real) or new one (!to_real), made to point at the same byte of the
 * other.
 */
uint64_t vgpu_ckpt_real_addr(struct vgpu_zone *z, uint64_t p, uint64_t len);
uint64_t vgpu_ckpt_zone_addr(struct vgpu_zone *z, uint64_t p);
void vgpu_ckpt_words(struct vgpu_zone *z, void *buf, size_t n, int to_real);
/* A module was unloaded: forget its image and globals, and release the memory a restore
 * placed its globals in (under no lock: takes the zone's). */
void vgpu_ckpt_module_gone(struct vgpu_zone *z, const struct vgpu_backend *be, const void *module);

/* Executable graphs (after successful calls; under no lock: they take the zone's). made:
 * instantiated from graph with flags (a copy of graph is kept); updated: cuGraphExecUpdate
 * from graph; changed: a call changed it in a way the copy does not follow (its checkpoint
 * is then refused, naming call); gone: destroyed. attrs: kernel node attributes were set. */
void vgpu_ckpt_gexec_made(struct vgpu_zone *z, const struct vgpu_backend *be, const void *exec, void *graph,
			  uint64_t flags);
void vgpu_ckpt_gexec_updated(struct vgpu_zone *z, const struct vgpu_backend *be, const void *exec, void *graph);
void vgpu_ckpt_gexec_changed(struct vgpu_zone *z, const void *exec, const char *call);
void vgpu_ckpt_gexec_gone(struct vgpu_zone *z, const struct vgpu_backend *be, const void *exec);
/* A graph or executable graph `gone` is being destroyed: an executable graph made from it (or
 * from the graph it took over from) that lives on, which then stands for it; or NULL. */
const void *vgpu_ckpt_gexec_heir(struct vgpu_zone *z, const void *gone);
void vgpu_ckpt_graph_attrs(struct vgpu_zone *z, const char *call);

/* Summary of a write or restore, for logs and vgpuctl. */
struct vgpu_ckpt_sum {
	uint64_t file_bytes, mem_bytes;
	uint32_t handles, allocs;
};

/*
 * Write zone z (every channel stopped, nothing else touching it) to fd, a new file or a
 * stream, in one pass. The zone's device work is finished first. 0, or -errno with why
 * saying what stopped it (a handle type that cannot be checkpointed, a driver error, a
 * write error such as the reader of a stream going away).
 */
int vgpu_ckpt_write(int fd, struct vgpu_zone *z, const struct vgpu_backend *be, uint32_t backend_kind,
		    const char *reg, const char *source, const struct vgpu_ckpt_chan *chans, uint32_t nchan,
		    struct vgpu_ckpt_sum *sum /* out */, char *why, size_t why_len);

/* Check a whole checkpoint in memory (the fuzz target): every rule the restorer applies. */
int vgpu_ckpt_check(const uint8_t *buf, size_t len, struct vgpu_ckpt_meta *meta, char *why, size_t why_len);
/* Check a whole checkpoint read from fd (a file or a stream) in one pass, with bounded
 * memory (allocations' bytes are checksummed, not kept), by every rule the restorer applies;
 * nothing is restored (vgpuctl inspect). meta gets what the file says about its zone. */
int vgpu_ckpt_verify(int fd, struct vgpu_ckpt_meta *meta /* out */, char *why, size_t why_len);
/* The header and zone record of a file (pread) or stream (MSG_PEEK, waiting up to 60 s for
 * the writer), consuming nothing: the supervisor, to set the zone up. */
int vgpu_ckpt_peek(int fd, struct vgpu_ckpt_meta *meta /* out */, char *why, size_t why_len);

/*
 * Restoring, in a new worker. open, first of all (before anything else maps memory, before
 * the backend loads): reads the header, zone and ranges records from fd and reserves
 * (PROT_NONE) the 2 MiB granules the allocations need, so that nothing lands where the
 * zone's pointers point (-EADDRINUSE when one is taken). restore then reads the rest,
 * rebuilding contexts, modules, functions, streams, events and allocations with their
 * bytes in the empty zone z on backend be, each at its old handle id and device address,
 * and checks the end record. Both free the reader; close frees it without restoring.
 * 0, or -errno with why; after a failed restore the zone is half built and must be
 * discarded (its worker exits).
 */
struct vgpu_ckpt_reader;
int vgpu_ckpt_open(int fd, struct vgpu_ckpt_reader **r /* out */, struct vgpu_ckpt_meta *meta /* out */,
		   char *why, size_t why_len);
int vgpu_ckpt_restore(struct vgpu_ckpt_reader *r, struct vgpu_zone *z, const struct vgpu_backend *be,
		      struct vgpu_ckpt_sum *sum /* out */, char *why, size_t why_len);
void vgpu_ckpt_close(struct vgpu_ckpt_reader *r);

/*
 * cuMemFree / cuMemFreeAsync of a restored allocation (its memory is a mapping of the
 * virtual memory API, which cuMemFree does not free): 1 handled (*res set), 0 not restored
 * memory (call the driver as usual). Under no lock.
 */
int vgpu_ckpt_free(struct vgpu_zone *z, const struct vgpu_backend *be, uint64_t base, int *res /* out */);
/* Worker teardown: unmap and release what restored allocations remain. */
void vgpu_ckpt_release_all(struct vgpu_zone *z, const struct vgpu_backend *be);

/* CRC-32C (Castagnoli) of n bytes continuing from crc (start with 0). */
uint32_t vgpu_crc32c(uint32_t crc, const void *p, size_t n);

#endif
