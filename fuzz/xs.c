/* SPDX-License-Identifier: MIT */
/* xs.c — fuzz target for what a Xen guest hands Dom0 before any ring exists: the xenstore claims of a channel and the grant directory pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "ring_xen.h"
#include "xenbus.h"

/*
 * Input: byte 0 selects the decoder.
 *   even: xenstore claims. Byte 1 = domid (low byte; 0 and 0xff are tried as such), then the
 *         rest is text: the first line is a watched path (vgpu_xs_chan_path), the following
 *         lines are key=value pairs of the channel directory (vgpu_xs_parse_chan; a key
 *         given twice: the first wins, as a lookup would).
 *   odd:  directory pages. Byte 1 = how many pages (1..4) follow, each 4096 bytes (cut short
 *         = zeros), decoded as a chain (vgpu_xen_dir_decode) as vgpu_xen_attach walks it.
 * Oracle: an accepted claim satisfies everything Dom0 relies on before mapping (a valid
 * geometry, ring-pages equal to it and within the limit, a non-zero port, a known kind, a
 * token for a join, a guest domid); an accepted directory chain lists exactly `total` refs
 * within the buffer; ASan: nothing outside the input or the outputs is touched.
 */

#define MAXKV 32

struct kvs {
	char *k[MAXKV], *v[MAXKV];
	unsigned n;
};

static const char *get(void *ctx, const char *key)
{
	struct kvs *t = ctx;
	for (unsigned i = 0; i < t->n; i++)
		if (!strcmp(t->k[i], key))
			return t->v[i];
	return NULL;
}

static void violated(const char *what)
{
	fprintf(stderr, "ORACLE VIOLATED: %s\n", what);
	abort();
}

static void claims(const uint8_t *d, size_t n)
{
	uint16_t domid = n ? d[0] : 0;
	char *text = malloc(n ? n : 1), *save = NULL; /* the text after byte 0, and its NUL */
	struct kvs t = { .n = 0 };
	size_t len = n ? n - 1 : 0;

	memcpy(text, d + (n ? 1 : 0), len);
	text[len] = '\0';
	char *line = strtok_r(text, "\n", &save);
	if (line) {
		char dir[128];
		uint16_t pd = 0;
		if (vgpu_xs_chan_path(line, &pd, dir, sizeof(dir)) == 0) {
			if (strncmp(dir, "/local/domain/", 14) || strlen(dir) >= sizeof(dir) || pd >= 0x7ff0)
				violated("chan_path accepted a path outside /local/domain/<guest>/" VGPU_XS_DIR);
		}
		while ((line = strtok_r(NULL, "\n", &save)) && t.n < MAXKV) {
			char *eq = strchr(line, '=');
			if (!eq)
				continue;
			*eq = '\0';
			t.k[t.n] = line;
			t.v[t.n++] = eq + 1;
		}
	}
	struct vgpu_xs_chan c;
	const char *why = vgpu_xs_parse_chan(get, &t, domid, &c);
	if (getenv("VGPU_FUZZ_VERBOSE"))
		fprintf(stderr, "claims of domain %u: %s\n", domid, why ? why : "accepted");
	if (!why) {
		if (vgpu_chan_geom_check(&c.geom))
			violated("accepted an invalid geometry");
		if ((uint64_t)c.xen.npages * 4096 != vgpu_ring_region_bytes(&c.geom) || c.xen.npages > vgpu_xen_max_pages())
			violated("accepted a page count that does not match the geometry or exceeds the limit");
		if (!c.xen.evtchn_port || c.xen.domid != domid || domid == 0 || domid >= 0x7ff0)
			violated("accepted port 0 or a non-guest domain");
		if (c.hello.kind != VGPU_HELLO_NEW_ZONE && c.hello.kind != VGPU_HELLO_JOIN &&
		    c.hello.kind != VGPU_HELLO_REJOIN)
			violated("accepted an unknown kind");
		if (c.hello.kind != VGPU_HELLO_NEW_ZONE && !get(&t, "token"))
			violated("accepted a join or rejoin without a token");
	}
	free(text);
}

static void directory(const uint8_t *d, size_t n)
{
	unsigned pages = n ? (d[0] & 3u) + 1 : 1;
	uint8_t *buf = calloc(pages, 4096);
	uint32_t total = 0, next = 0, *refs = NULL;
	char why[200];

	if (n > 1)
		memcpy(buf, d + 1, n - 1 < (size_t)pages * 4096 ? n - 1 : (size_t)pages * 4096);
	for (unsigned i = 0; i < pages; i++) {
		if (vgpu_xen_dir_decode(buf + (size_t)i * 4096, i, &total, refs, &next, why, sizeof(why)) != 0) {
			if (getenv("VGPU_FUZZ_VERBOSE"))
				fprintf(stderr, "directory page %u refused: %s\n", i, why);
			break;
		}
		if (getenv("VGPU_FUZZ_VERBOSE"))
			fprintf(stderr, "directory page %u accepted (total %u, next %u)\n", i, total, next);
		if (i == 0) {
			if (total < 2 || total > vgpu_xen_max_pages())
				violated("directory total out of range");
			refs = calloc(total, sizeof(*refs)); /* ASan bounds-checks every ref written */
			if (vgpu_xen_dir_decode(buf, 0, &total, refs, &next, why, sizeof(why)) != 0)
				violated("page 0 accepted once, refused the second time");
		}
		if (!next) {
			if ((i + 1) * VGPU_XEN_DIR_REFS < total)
				violated("chain ended before total refs were listed");
			break;
		}
	}
	free(refs);
	free(buf);
}

static void fz_xs_one(const uint8_t *d, size_t n)
{
	if (!n)
		return;
	if (d[0] & 1)
		directory(d + 1, n - 1);
	else
		claims(d + 1, n - 1);
}

#include "fz_target.h"
FZ_TARGET_MAIN("vgpu-fuzz-xs",
		 "Fuzzes Dom0's checks of a Xen guest's xenstore claims and grant directory pages\n"
		 "(runtime/xenbus.c, runtime/transport_xen.c; input format: fuzz/xs.c).\n",
		 fz_xs_one)
