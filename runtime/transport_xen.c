/* SPDX-License-Identifier: MIT */
/* transport_xen.c — Xen transport: the zone grants the region (gntalloc), Dom0 maps it (gntdev), event channels for wakeups. */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "ring.h"
#include "ring_xen.h"

#define XEN_PAGE 4096u

uint32_t vgpu_xen_max_pages(void)
{
	return (uint32_t)(vgpu_ring_region_bytes(&(struct vgpu_chan_geom){ VGPU_CHAN_MAX_RING,
									    VGPU_CHAN_MAX_BULK }) / XEN_PAGE);
}

uint32_t vgpu_xen_dir_pages(uint32_t total)
{
	return (total + VGPU_XEN_DIR_REFS - 1) / VGPU_XEN_DIR_REFS;
}

void vgpu_xen_dir_encode(struct vgpu_xen_dir *pages, const uint32_t *refs, uint32_t total,
			 const uint32_t *dir_refs)
{
	uint32_t ndir = vgpu_xen_dir_pages(total);

	for (uint32_t i = 0; i < ndir; i++) {
		struct vgpu_xen_dir *d = &pages[i];
		uint32_t first = i * VGPU_XEN_DIR_REFS;

		memset(d, 0, sizeof(*d));
		d->magic = VGPU_XEN_DIR_MAGIC;
		d->total = total;
		d->first = first;
		d->count = total - first < VGPU_XEN_DIR_REFS ? total - first : VGPU_XEN_DIR_REFS;
		d->next = i + 1 < ndir ? dir_refs[i + 1] : 0;
		memcpy(d->refs, refs + first, d->count * sizeof(uint32_t));
	}
}

int vgpu_xen_dir_decode(const void *page, uint32_t page_no, uint32_t *total /* in/out */,
			uint32_t *refs, uint32_t *next /* out */, char *why, size_t why_len)
{
	struct vgpu_xen_dir d;
	uint32_t want_first = page_no * VGPU_XEN_DIR_REFS, remain;

	/* One copy out of the granted page; the zone may rewrite it concurrently. */
	memcpy(&d, page, sizeof(d));
	if (d.magic != VGPU_XEN_DIR_MAGIC) {
		snprintf(why, why_len, "directory page %u: bad magic 0x%08x (expected 0x%08x)",
			 page_no, d.magic, VGPU_XEN_DIR_MAGIC);
		return -EPROTO;
	}
	if (d.reserved[0] | d.reserved[1] | (page_no ? d.alive : 0)) {
		snprintf(why, why_len, "directory page %u: reserved fields not zero", page_no);
		return -EPROTO;
	}
	if (page_no == 0) {
		if (d.total < 2 || d.total > vgpu_xen_max_pages()) {
			snprintf(why, why_len, "directory: region of %u pages (must be 2..%u)", d.total,
				 vgpu_xen_max_pages());
			return -EPROTO;
		}
		*total = d.total;
	} else if (d.total != *total) {
		snprintf(why, why_len, "directory page %u: total %u differs from page 0's %u",
			 page_no, d.total, *total);
		return -EPROTO;
	}
	if (want_first >= *total || d.first != want_first) {
		snprintf(why, why_len, "directory page %u: first index %u, expected %u of %u",
			 page_no, d.first, want_first, *total);
		return -EPROTO;
	}
	remain = *total - want_first;
	if (d.count != (remain < VGPU_XEN_DIR_REFS ? remain : VGPU_XEN_DIR_REFS)) {
		snprintf(why, why_len, "directory page %u: count %u, expected %u", page_no, d.count,
			 remain < VGPU_XEN_DIR_REFS ? remain : VGPU_XEN_DIR_REFS);
		return -EPROTO;
	}
	if ((d.count == remain) != (d.next == 0)) {
		snprintf(why, why_len, "directory page %u: next gref %u inconsistent with %u refs remaining",
			 page_no, d.next, remain - d.count);
		return -EPROTO;
	}
	if (refs)
		memcpy(refs + want_first, d.refs, d.count * sizeof(uint32_t));
	*next = d.next;
	return 0;
}

struct xen_transport {
	struct vgpu_transport base;
	xenevtchn_handle *xce;
	evtchn_port_t port;      /* local port */
	xengntshr_handle *gs;    /* zone side */
	xengnttab_handle *gt;    /* backend side */
	void *region, *dir;
	volatile uint8_t *alive; /* the liveness page (ring_xen.h), NULL if the zone gave none */
	int backend;             /* this end maps (Dom0) rather than grants (the zone) */
	uint32_t npages, ndir;
	uint32_t dir_gref;       /* zone side: the first directory page's ref (rejoining offers it again) */
};

static int xen_notify(struct vgpu_transport *t, atomic_uint *word)
{
	struct xen_transport *x = (struct xen_transport *)t;

	(void)word;
	return xenevtchn_notify(x->xce, x->port) < 0 ? -errno : 0;
}

static int xen_wait(struct vgpu_transport *t, atomic_uint *word, uint32_t expected, int timeout_ms)
{
	struct xen_transport *x = (struct xen_transport *)t;
	struct pollfd p = { .fd = xenevtchn_fd(x->xce), .events = POLLIN };
	xenevtchn_port_or_error_t port;
	int n;

	/* A notify that came between the caller's re-check and here bumped the word. */
	if (atomic_load_explicit(word, memory_order_relaxed) != expected)
		return 0;
	n = poll(&p, 1, timeout_ms);

	if (n == 0)
		return -ETIMEDOUT;
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* Consume and re-arm. The event may be spurious (bind_interdomain can leave one
	 * pending); the caller re-checks ring state in a loop anyway. */
	port = xenevtchn_pending(x->xce);
	if (port >= 0)
		xenevtchn_unmask(x->xce, (evtchn_port_t)port);
	return 0;
}

/* The peer's byte in the liveness page; its kernel clears it when the peer's process
 * ends. Backend side: the zone's byte. Zone side: the backend's, once it has attached. */
static int xen_alive(struct vgpu_transport *t)
{
	struct xen_transport *x = (struct xen_transport *)t;
	if (!x->alive)
		return 1;
	return x->backend ? x->alive[VGPU_XEN_ALIVE_ZONE] != 0 : x->alive[VGPU_XEN_ALIVE_BACKEND] != 0;
}

static void xen_release(struct xen_transport *x, int forget)
{
	if (x->gs) {
		if (!forget) {
			if (x->alive)
				xengntshr_unshare(x->gs, (void *)x->alive, 1);
			if (x->region)
				xengntshr_unshare(x->gs, x->region, x->npages);
			if (x->dir)
				xengntshr_unshare(x->gs, x->dir, x->ndir);
		}
		xengntshr_close(x->gs);
	}
	if (x->gt) {
		if (!forget && x->alive)
			xengnttab_unmap(x->gt, (void *)x->alive, 1);
		if (!forget && x->region)
			xengnttab_unmap(x->gt, x->region, x->npages);
		xengnttab_close(x->gt);
	}
	if (x->xce) {
		if (!forget && x->port) /* port 0 is never a bound port */
			xenevtchn_unbind(x->xce, x->port);
		xenevtchn_close(x->xce);
	}
	free(x);
}

static void xen_close(struct vgpu_transport *t)
{
	xen_release((struct xen_transport *)t, 0);
}

static void xen_forget(struct vgpu_transport *t)
{
	xen_release((struct xen_transport *)t, 1);
}

static const struct vgpu_transport_ops xen_ops = {
	.notify = xen_notify,
	.wait = xen_wait,
	.alive = xen_alive,
	.close = xen_close,
	.forget = xen_forget,
};

const char *vgpu_xen_devdir = "/dev/xen";

/* -ENOENT with a clear message when this is not a Xen domain with the device nodes. */
static int xen_check_nodes(const char *grant_node)
{
	const char *nodes[] = { grant_node, "evtchn" };
	char path[256];

	for (unsigned i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", vgpu_xen_devdir, nodes[i]);
		if (access(path, R_OK | W_OK) < 0) {
			int e = errno;

			vgpu_chan_set_setup_error("Xen transport unavailable: %s: %s (not running in a Xen "
						  "domain, or the xen-gntalloc/xen-gntdev/xen-evtchn modules "
						  "are not loaded; use the shm transport instead)",
						  path, strerror(e));
			return e == ENOENT ? -ENOENT : -e;
		}
	}
	return 0;
}

int vgpu_xen_create(uint16_t backend_domid, const struct vgpu_chan_geom *g,
		    struct vgpu_xen_info *info /* out */, struct vgpu_chan **out /* out */)
{
	struct xen_transport *x;
	uint32_t *refs = NULL, *dir_refs = NULL;
	xenevtchn_port_or_error_t port;
	uint64_t bytes;
	int rc;

	if (vgpu_chan_geom_check(g)) {
		vgpu_chan_set_setup_error("bad channel geometry msg_ring_bytes=%u bulk_bytes=%u",
					  g ? g->msg_ring_bytes : 0, g ? g->bulk_bytes : 0);
		return -EINVAL;
	}
	rc = xen_check_nodes("gntalloc");
	if (rc)
		return rc;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->base.ops = &xen_ops;
	bytes = vgpu_ring_region_bytes(g);
	x->npages = (uint32_t)(bytes / XEN_PAGE);
	x->ndir = vgpu_xen_dir_pages(x->npages);
	refs = calloc(x->npages, sizeof(*refs));
	dir_refs = calloc(x->ndir, sizeof(*dir_refs));
	rc = -ENOMEM;
	if (!refs || !dir_refs)
		goto err;
	x->gs = xengntshr_open(NULL, 0);
	x->xce = xenevtchn_open(NULL, 0);
	if (!x->gs || !x->xce) {
		rc = -errno;
		vgpu_chan_set_setup_error("opening gntalloc/evtchn failed: %s", strerror(errno));
		goto err;
	}
	x->region = xengntshr_share_pages(x->gs, backend_domid, x->npages, refs, 1);
	if (!x->region) {
		rc = -errno;
		vgpu_chan_set_setup_error("granting %u region pages to domain %u failed: %s (gntalloc "
					  "limit too low?)", x->npages, backend_domid, strerror(errno));
		goto err;
	}
	memset(x->region, 0, bytes);
	vgpu_ring_init_region(x->region, g, 0);
	/* The directory is granted read-only: the backend can never rewrite the ref list. */
	x->dir = xengntshr_share_pages(x->gs, backend_domid, x->ndir, dir_refs, 0);
	if (!x->dir) {
		rc = -errno;
		vgpu_chan_set_setup_error("granting %u directory pages failed: %s", x->ndir, strerror(errno));
		goto err;
	}
	vgpu_xen_dir_encode(x->dir, refs, x->npages, dir_refs);
	port = xenevtchn_bind_unbound_port(x->xce, backend_domid);
	if (port < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("allocating an event channel for domain %u failed: %s",
					  backend_domid, strerror(errno));
		goto err;
	}
	x->port = (evtchn_port_t)port;
	/* Liveness: when this process ends, its kernel clears our byte and signals the port. */
	uint32_t alive_ref = 0;
	x->alive = xengntshr_share_page_notify(x->gs, backend_domid, &alive_ref, 1, VGPU_XEN_ALIVE_ZONE, x->port);
	if (!x->alive) {
		rc = -errno;
		vgpu_chan_set_setup_error("granting the liveness page to domain %u failed: %s", backend_domid,
					  strerror(errno));
		goto err;
	}
	memset((void *)x->alive, 0, XEN_PAGE);
	x->alive[VGPU_XEN_ALIVE_ZONE] = 1;
	x->alive[VGPU_XEN_ALIVE_BACKEND] = 0xff;
	((struct vgpu_xen_dir *)x->dir)->alive = alive_ref;
	info->domid = 0x7ff0; /* DOMID_SELF placeholder: the caller publishes its real domid */
	info->evtchn_port = x->port;
	info->dir_gref = dir_refs[0];
	info->npages = x->npages;
	x->dir_gref = dir_refs[0];
	free(refs);
	free(dir_refs);
	return vgpu_chan_create(x->region, bytes, g, 0, &x->base, out);
err:
	free(refs);
	free(dir_refs);
	xen_release(x, 0);
	return rc;
}

/* Walk the directory chain the zone published; *refs_out is malloc'd (npages entries). */
static int xen_read_dir(xengnttab_handle *gt, const struct vgpu_xen_info *info,
			uint32_t **refs_out, uint32_t *npages, uint32_t *alive_ref)
{
	uint32_t total = 0, next = info->dir_gref, *refs = NULL;
	char why[200];
	int rc = 0;

	for (uint32_t i = 0; rc == 0; i++) {
		void *p = xengnttab_map_grant_ref(gt, info->domid, next, PROT_READ);

		if (!p) {
			rc = -errno;
			vgpu_chan_set_setup_error("mapping directory page %u (gref %u of domain %u) failed: %s",
						  i, next, info->domid, strerror(errno));
			break;
		}
		rc = vgpu_xen_dir_decode(p, i, &total, refs, &next, why, sizeof(why));
		if (!rc && i == 0) {
			memcpy(alive_ref, (const uint8_t *)p + offsetof(struct vgpu_xen_dir, alive), sizeof(*alive_ref));
			refs = calloc(total, sizeof(*refs));
			if (!refs)
				rc = -ENOMEM;
			else
				rc = vgpu_xen_dir_decode(p, 0, &total, refs, &next, why, sizeof(why));
		}
		xengnttab_unmap(gt, p, 1);
		if (rc) {
			vgpu_chan_set_setup_error("refusing channel from domain %u: %s", info->domid, why);
			break;
		}
		if (!next)
			break;
	}
	if (rc) {
		free(refs);
		return rc;
	}
	*refs_out = refs;
	*npages = total;
	return 0;
}

int vgpu_xen_chan_info(const struct vgpu_chan *c, struct vgpu_xen_info *info, struct vgpu_chan_geom *g)
{
	const struct xen_transport *x = (const struct xen_transport *)c->t;
	if (c->t->ops != &xen_ops || x->backend)
		return -ENOTSUP;
	/* the same grants and the same port: a closed interdomain channel's other end is unbound
	 * again, so a new backend can bind it */
	*info = (struct vgpu_xen_info){ .domid = 0x7ff0, .evtchn_port = x->port, .dir_gref = x->dir_gref,
					.npages = x->npages };
	*g = c->geom;
	return 0;
}

int vgpu_xen_attach(const struct vgpu_xen_info *info, struct vgpu_chan **out /* out */)
{
	struct xen_transport *x;
	struct vgpu_chan_geom g;
	uint32_t *refs = NULL, alive_ref = 0;
	xenevtchn_port_or_error_t port;
	char why[200];
	int rc;

	rc = xen_check_nodes("gntdev");
	if (rc)
		return rc;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->base.ops = &xen_ops;
	x->gt = xengnttab_open(NULL, 0);
	x->xce = xenevtchn_open(NULL, 0);
	if (!x->gt || !x->xce) {
		rc = -errno;
		vgpu_chan_set_setup_error("opening gntdev/evtchn failed: %s", strerror(errno));
		goto err;
	}
	x->backend = 1;
	rc = xen_read_dir(x->gt, info, &refs, &x->npages, &alive_ref);
	if (rc)
		goto err;
	if (info->npages && x->npages != info->npages) {
		free(refs);
		rc = -EPROTO;
		vgpu_chan_set_setup_error("refusing channel from domain %u: its directory lists %u pages, "
					  "it announced %u", info->domid, x->npages, info->npages);
		goto err;
	}
	x->region = xengnttab_map_domain_grant_refs(x->gt, x->npages, info->domid, refs,
						    PROT_READ | PROT_WRITE);
	free(refs);
	if (!x->region) {
		rc = -errno;
		vgpu_chan_set_setup_error("mapping %u region pages of domain %u failed: %s", x->npages,
					  info->domid, strerror(errno));
		goto err;
	}
	rc = vgpu_ring_check_region(x->region, (uint64_t)x->npages * XEN_PAGE, &g, why, sizeof(why));
	if (rc) {
		vgpu_chan_set_setup_error("refusing channel from domain %u: %s", info->domid, why);
		goto err;
	}
	port = xenevtchn_bind_interdomain(x->xce, info->domid, info->evtchn_port);
	if (port < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("binding event channel %u of domain %u failed: %s",
					  info->evtchn_port, info->domid, strerror(errno));
		goto err;
	}
	x->port = (evtchn_port_t)port;
	if (alive_ref) {
		/* Liveness both ways: the zone's byte tells us it lives; ours is cleared (and the
		 * zone signalled) by this kernel when this process ends. */
		x->alive = xengnttab_map_grant_ref_notify(x->gt, info->domid, alive_ref, PROT_READ | PROT_WRITE,
							  VGPU_XEN_ALIVE_BACKEND, x->port);
		if (!x->alive) {
			rc = -errno;
			vgpu_chan_set_setup_error("mapping the liveness page (gref %u) of domain %u failed: %s",
						  alive_ref, info->domid, strerror(errno));
			goto err;
		}
		x->alive[VGPU_XEN_ALIVE_BACKEND] = 1;
	}
	return vgpu_chan_create(x->region, (uint64_t)x->npages * XEN_PAGE, &g, 1, &x->base, out);
err:
	xen_release(x, 0);
	return rc;
}
