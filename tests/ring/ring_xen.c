/* SPDX-License-Identifier: MIT */
/* ring_xen.c — Xen transport tests that need no hypervisor: directory-page encoding and validation, and a clear error without /dev/xen. */
#include <sys/stat.h>

#include "ring_test.h"
#include "ring_xen.h"

/* Encode a directory for total pages, decode the chain back, compare. */
static void roundtrip(uint32_t total)
{
	uint32_t ndir = vgpu_xen_dir_pages(total), *refs = malloc(total * 4), *dref = malloc(ndir * 4);
	struct vgpu_xen_dir *pages = calloc(ndir, sizeof(*pages));
	uint32_t *back = NULL, got_total = 0, next = 0;
	char why[200];

	for (uint32_t i = 0; i < total; i++)
		refs[i] = 1000 + i * 3;
	for (uint32_t i = 0; i < ndir; i++)
		dref[i] = 50 + i;
	vgpu_xen_dir_encode(pages, refs, total, dref);
	CHECK_EQ(vgpu_xen_dir_decode(&pages[0], 0, &got_total, NULL, &next, why, sizeof(why)), 0);
	CHECK_EQ(got_total, total);
	back = calloc(got_total, 4);
	for (uint32_t i = 0; i < ndir; i++) {
		CHECK_EQ(vgpu_xen_dir_decode(&pages[i], i, &got_total, back, &next, why, sizeof(why)), 0);
		CHECK_EQ(next, i + 1 < ndir ? dref[i + 1] : 0);
	}
	CHECK(!memcmp(back, refs, total * 4));
	free(refs); free(dref); free(pages); free(back);
}

/* Decode page page_no of a 3000-page directory after mutate(); expect -EPROTO + reason. */
static void bad(void (*mutate)(struct vgpu_xen_dir *d), uint32_t page_no, const char *reason)
{
	uint32_t total = 3000, ndir = vgpu_xen_dir_pages(total), refs[3000], dref[3] = { 7, 8, 9 };
	struct vgpu_xen_dir *pages = calloc(ndir, sizeof(*pages));
	uint32_t t = total, next, *out = calloc(total, 4);
	char why[200] = "";

	for (uint32_t i = 0; i < total; i++)
		refs[i] = i + 10;
	vgpu_xen_dir_encode(pages, refs, total, dref);
	mutate(&pages[page_no]);
	CHECK_EQ(vgpu_xen_dir_decode(&pages[page_no], page_no, &t, out, &next, why, sizeof(why)), -EPROTO);
	if (!strstr(why, reason)) {
		fprintf(stderr, "reason '%s' does not mention '%s'\n", why, reason);
		CHECK(!"reason");
	}
	free(pages);
	free(out);
}

static void m_magic(struct vgpu_xen_dir *d) { d->magic = 0; }
static void m_reserved(struct vgpu_xen_dir *d) { d->reserved[1] = 1; }
static void m_total_huge(struct vgpu_xen_dir *d) { d->total = 0xffffffff; }
static void m_total_tiny(struct vgpu_xen_dir *d) { d->total = 1; }
static void m_total_changed(struct vgpu_xen_dir *d) { d->total = 2999; }
static void m_first(struct vgpu_xen_dir *d) { d->first = 0; }
static void m_count(struct vgpu_xen_dir *d) { d->count = VGPU_XEN_DIR_REFS + 1; }
static void m_count_short(struct vgpu_xen_dir *d) { d->count--; }
static void m_next_missing(struct vgpu_xen_dir *d) { d->next = 0; }
static void m_next_extra(struct vgpu_xen_dir *d) { d->next = 1234; }

int main(int argc, char **argv)
{
	struct vgpu_chan *c = NULL;
	struct vgpu_xen_info info = { 0 };
	struct stat st;

	if (argc > 1) {
		printf("usage: %s\nXen transport tests that need no hypervisor.\n", argv[0]);
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	roundtrip(2);
	roundtrip(VGPU_XEN_DIR_REFS);
	roundtrip(VGPU_XEN_DIR_REFS + 1);
	roundtrip((uint32_t)(vgpu_ring_region_bytes(&VGPU_CHAN_DEFAULT_GEOM) / 4096));
	roundtrip(vgpu_xen_max_pages());
	bad(m_magic, 0, "bad magic");
	bad(m_reserved, 1, "reserved");
	bad(m_total_huge, 0, "region of 4294967295 pages");
	bad(m_total_tiny, 0, "region of 1 pages");
	bad(m_total_changed, 2, "differs from page 0");
	bad(m_first, 1, "first index 0, expected 1016");
	bad(m_count, 0, "count 1017");
	bad(m_count_short, 2, "count");
	bad(m_next_missing, 1, "next gref 0");
	bad(m_next_extra, 2, "next gref 1234");

	if (stat("/dev/xen/gntalloc", &st) == 0 || stat("/dev/xen/gntdev", &st) == 0) {
		printf("ring_xen: encoding checks passed\n");
		printf("skipped the no-Xen error checks: this machine has /dev/xen device nodes\n");
		return ring_test_failures ? 1 : 77;
	}
	CHECK_EQ(vgpu_xen_create(0, &VGPU_CHAN_DEFAULT_GEOM, &info, &c), -ENOENT);
	CHECK(strstr(vgpu_chan_setup_error(), "/dev/xen/gntalloc"));
	CHECK(strstr(vgpu_chan_setup_error(), "not running in a Xen domain"));
	info = (struct vgpu_xen_info){ 5, 10, 20, 0 };
	CHECK_EQ(vgpu_xen_attach(&info, &c), -ENOENT);
	CHECK(strstr(vgpu_chan_setup_error(), "/dev/xen/gntdev"));
	CHECK(c == NULL);
	return ring_test_done("ring_xen");
}
