/* SPDX-License-Identifier: MIT */
/* ckpt.h — a zone's device state written to a checkpoint file and recreated from one, same handle values and addresses. */
#ifndef VGPU_PROXY_CKPT_H
#define VGPU_PROXY_CKPT_H

#include <stddef.h>
#include <stdint.h>

/*
 * File format (docs/ARCHITECTURE.md, "Checkpoint and migration"): a 64-byte header
 *   "VGPUCKPT", u32 version, u32 header bytes (64), u64 payload bytes, u32 CRC-32C of the
 *   payload, u32 backend kind, zeros
 * then records { u32 type, u32 zero, u64 body length, body }, little-endian, in this order:
 * ZONE, SLOTS, then contexts, modules, functions, streams, events, allocations (with their
 * bytes), END. Handles are named by their slot in the zone's handle table, so the table is
 * rebuilt slot by slot and every id the zone holds names the same object afterwards.
 * The reader trusts nothing: header, checksum and every record are checked (bounds, order,
 * references to earlier slots of the right type, non-overlapping allocations) before
 * anything is created.
 */
#define VGPU_CKPT_MAGIC      "VGPUCKPT"
#define VGPU_CKPT_VERSION    1u
#define VGPU_CKPT_HDR_BYTES  64u
#define VGPU_CKPT_MAX_BYTES  (1ull << 40)   /* larger files are refused before reading */
#define VGPU_CKPT_MAX_IMAGE  (256u << 20)   /* one module image */
#define VGPU_CKPT_NAME_MAX   1024u          /* one function name */

/* What a checkpoint says about its zone (read before a worker exists for it). */
struct vgpu_ckpt_meta {
	uint32_t backend;          /* enum vgpu_backend_kind it was taken on */
	uint32_t zone_id;          /* on the proxy it was taken on */
	uint32_t slots;            /* handle table slots */
	uint32_t handles, allocs;  /* live handles, device allocations */
	uint64_t mem_bytes;        /* bytes in those allocations */
	uint64_t file_bytes;
	char name[65];
	char reg[64];              /* registration it was opened with, "" if none */
	uint8_t token[16];         /* the zone's JOIN token: a credential, the file is 0600 */
	char source[108];          /* the source worker's state socket, "" if none */
};

/* Per-zone bookkeeping the checkpoint needs, kept while the zone runs (zone.h embeds it). */
struct vgpu_ckpt_image { const void *module; uint8_t *bytes; size_t len; };
struct vgpu_ckpt_span { uint64_t base, size, handle; uint32_t refs; };
struct vgpu_ckpt_zone {
	struct vgpu_ckpt_image *img;    /* images of loaded modules, by real module */
	uint32_t nimg, capimg;
	struct vgpu_ckpt_span *span;    /* restored allocations' address ranges (virtual memory API) */
	uint32_t nspan;
	uint64_t globals;               /* module globals handed out (their addresses cannot move) */
};

struct vgpu_zone;
struct vgpu_backend;

/* Keep a copy of a module's image (after a successful load) / forget it (after unload).
 * Under no lock: takes the zone's. Out of memory only costs the ability to checkpoint. */
void vgpu_ckpt_note_image(struct vgpu_zone *z, const void *module, const void *image, size_t len);
void vgpu_ckpt_forget_image(struct vgpu_zone *z, const void *module);
void vgpu_ckpt_zone_fini(struct vgpu_ckpt_zone *ck);

/* Summary of a write or restore, for logs and vgpuctl. */
struct vgpu_ckpt_sum {
	uint64_t file_bytes, mem_bytes;
	uint32_t handles, allocs;
};

/*
 * Write zone z (every channel stopped, nothing else touching it) to fd from its current
 * offset-independent start (the file is rewritten from offset 0 and truncated). The zone's
 * device work is finished first. 0, or -errno with why saying what stopped it (a handle
 * type that cannot be checkpointed, a driver error, a write error); on failure the file's
 * contents are unspecified (the caller removes it).
 */
int vgpu_ckpt_write(int fd, struct vgpu_zone *z, const struct vgpu_backend *be, uint32_t backend_kind,
		    const char *reg, const char *source, struct vgpu_ckpt_sum *sum /* out */,
		    char *why, size_t why_len);

/*
 * Read a whole checkpoint file into memory (*buf, *len; free() it) and check it: header,
 * version, checksum and the structure of every record. meta (may be NULL) gets what it says.
 * 0, or -EINVAL / -EPROTO / -EFBIG / -errno with why saying what is wrong and where.
 */
int vgpu_ckpt_load(int fd, uint8_t **buf /* out */, size_t *len /* out */, struct vgpu_ckpt_meta *meta,
		   char *why, size_t why_len);
/* Only the header and the zone record (the supervisor, to set the zone up; the worker then
 * reads and checks the whole file). */
int vgpu_ckpt_peek(int fd, struct vgpu_ckpt_meta *meta /* out */, char *why, size_t why_len);
/* The same checks on bytes in memory (the fuzz target). */
int vgpu_ckpt_check(const uint8_t *buf, size_t len, struct vgpu_ckpt_meta *meta, char *why, size_t why_len);

/*
 * First of all (before the file is read in, before the backend loads): reserve (PROT_NONE)
 * the address ranges the checkpoint's allocations need, so that nothing else lands there;
 * vgpu_ckpt_restore hands them to the driver. Reads only record headers; a malformed file
 * is left to vgpu_ckpt_load to describe. -EADDRINUSE when a range is taken. Undone by
 * vgpu_ckpt_restore or _unreserve.
 */
int vgpu_ckpt_reserve(int fd, char *why, size_t why_len);
void vgpu_ckpt_unreserve(void);

/*
 * Recreate the checkpoint (already checked by vgpu_ckpt_load) in the new, empty zone z on
 * backend be: contexts, modules, functions, streams, events and allocations with their
 * bytes, each at its old handle id and device address. 0, or -errno with why; on failure
 * the zone is half built and must be discarded (its worker exits).
 */
int vgpu_ckpt_restore(const uint8_t *buf, size_t len, struct vgpu_zone *z, const struct vgpu_backend *be,
		      struct vgpu_ckpt_sum *sum /* out */, char *why, size_t why_len);

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
