/* SPDX-License-Identifier: MIT */
/* ring_xen.h — the Xen bootstrap directory: how a zone lists its region's grant refs for Dom0 (encoding and validation). */
#ifndef VGPU_RING_XEN_H
#define VGPU_RING_XEN_H

#include <assert.h>
#include <stdint.h>

#define VGPU_XEN_DIR_MAGIC 0x52444756u /* "VGDR" little-endian */
#define VGPU_XEN_DIR_REFS  1016u       /* grant refs per directory page */

/* One directory page (granted read-only to the backend). The zone writes the chain once
 * before publishing the first page's gref; the backend copies each page before checking it. */
struct vgpu_xen_dir {
	uint32_t magic;       /* VGPU_XEN_DIR_MAGIC */
	uint32_t total;       /* grant refs of the whole region (= region pages) */
	uint32_t first;       /* region page index of refs[0] */
	uint32_t count;       /* refs used in this page, 1..VGPU_XEN_DIR_REFS */
	uint32_t next;        /* gref of the next directory page; 0 on the last page */
	uint32_t alive;       /* page 0: gref of the liveness page (0: none); other pages: 0 */
	uint32_t reserved[2]; /* 0 */
	uint32_t refs[VGPU_XEN_DIR_REFS];
};
static_assert(sizeof(struct vgpu_xen_dir) == 4096, "a directory entry is exactly one page");

/*
 * The liveness page, granted writable by the zone with an unmap notification: the kernel
 * clears a byte and signals the channel's event when the granting process goes away
 * (exit, crash, SIGKILL), and likewise for the backend's mapping of it.
 */
#define VGPU_XEN_ALIVE_ZONE    0  /* byte the zone sets to 1; its kernel clears it when the zone's process ends */
#define VGPU_XEN_ALIVE_BACKEND 1  /* 0xff until the backend maps the page and sets it to 1; cleared when the backend ends */

/* Where the Xen device nodes live ("/dev/xen"); tests point it at stand-ins. */
extern const char *vgpu_xen_devdir;

/* Largest region, in pages, a backend accepts (the largest valid geometry). */
uint32_t vgpu_xen_max_pages(void);
/* Directory pages needed for a region of total pages. */
uint32_t vgpu_xen_dir_pages(uint32_t total);
/* Fill ndir = vgpu_xen_dir_pages(total) zeroed pages: refs[total] are the region's grefs,
 * dir_refs[ndir] the grefs of the directory pages themselves (for the next links). */
void vgpu_xen_dir_encode(struct vgpu_xen_dir *pages, const uint32_t *refs, uint32_t total,
			 const uint32_t *dir_refs);
/*
 * Validate one directory page (copied first) received from an untrusted zone. page_no is
 * its position in the chain (0 = the published first page); *total is set from page 0 and
 * must match on later pages; refs (capacity *total entries, allocated by the caller after
 * page 0) receives this page's refs. *next gets the following page's gref, 0 at the end.
 * refs may be NULL for page 0 to learn *total first (call again with refs).
 * Returns 0 or -EPROTO with a reason in why.
 */
int vgpu_xen_dir_decode(const void *page, uint32_t page_no, uint32_t *total /* in/out */,
			uint32_t *refs, uint32_t *next /* out */, char *why, size_t why_len);

#endif
