/* SPDX-License-Identifier: MIT */
/* sv_xen.c — Xen zones: the supervisor watches xenstore for channels guests publish (runtime/xenbus.h) and for domains that go away. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "log.h"
#include "supervisor.h"
#include "xenbus.h"

struct xs_keys {
	struct xs_handle *xs;
	const char *dir;
	char *val[12];
	unsigned n;
};

/* vgpu_xs_parse_chan's getter: read dir/key (values are kept until keys_free). */
static const char *xs_key_get(void *ctx, const char *key)
{
	struct xs_keys *k = ctx;
	char path[128];
	unsigned len;
	if (k->n == sizeof(k->val) / sizeof(k->val[0]))
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", k->dir, key);
	char *v = xs_read(k->xs, XBT_NULL, path, &len);
	if (!v)
		return NULL;
	if (strlen(v) != len) { /* embedded NUL: not a string */
		free(v);
		return NULL;
	}
	return k->val[k->n++] = v;
}

static void keys_free(struct xs_keys *k)
{
	for (unsigned i = 0; i < k->n; i++) {
		explicit_bzero(k->val[i], strlen(k->val[i]));
		free(k->val[i]);
	}
	k->n = 0;
}

static void xs_put(struct supervisor *s, const char *dir, const char *key, const char *val)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (!xs_write(s->xs, XBT_NULL, path, val, strlen(val)))
		vgpu_warn("cannot write %s in xenstore: %s", path, strerror(errno));
}

/* The proxy's answer to a channel it will not serve: why, then the state the zone waits on. */
static void xs_refuse(struct supervisor *s, const char *dir, const char *why)
{
	xs_put(s, dir, "error", why);
	xs_put(s, dir, "state", "refused");
}

/* A channel directory changed: if it is ready, check its claims and route it. */
static void xen_chan(struct supervisor *s, uint16_t domid, const char *dir)
{
	struct xs_keys k = { .xs = s->xs, .dir = dir };
	struct vgpu_xs_chan c;
	char name[65];

	const char *state = xs_key_get(&k, "state");
	if (!state || strcmp(state, "ready") != 0) {
		keys_free(&k);
		return;
	}
	keys_free(&k);
	const char *why = vgpu_xs_parse_chan(xs_key_get, &k, domid, &c);
	keys_free(&k);
	if (why) {
		vgpu_warn("refused the channel %s of domain %u: %s", dir, domid, why);
		xs_refuse(s, dir, why);
		return;
	}
	/* Taken: a second watch event for this directory must not route it again. */
	xs_put(s, dir, "state", "connecting");
	vgpu_name_sanitize(c.hello.name, sizeof(c.hello.name), name);
	struct vgpu_handoff h = { .hello = c.hello, .transport = VGPU_TRANSPORT_XEN, .xen = c.xen };
	snprintf(h.xs_dir, sizeof(h.xs_dir), "%s", dir);
	uint32_t status = 0;
	const char *moved_to;
	why = route(s, &h, name, domid, c.has_visible ? c.visible : NULL, c.env[0] ? c.env : NULL, -1, -1, &status,
		    &moved_to);
	explicit_bzero(&c, sizeof(c));
	explicit_bzero(&h.hello.token, sizeof(h.hello.token));
	if (why && h.hello.kind == VGPU_HELLO_REJOIN) {
		/* a channel offered to a zone not restored (yet): it tries again */
		vgpu_debug("a channel of domain %u rejoining a zone not here (%s): told to try again", domid, why);
		xs_put(s, dir, "error", why);
		xs_put(s, dir, "state", "later");
	} else if (why) {
		vgpu_warn("refused a %s from domain %u ('%s'): %s",
			  h.hello.kind == VGPU_HELLO_NEW_ZONE ? "new zone" : "JOIN", domid, name, why);
		xs_refuse(s, dir, why);
	}
}

/* Every channel directory of every domain (at start, and when the watch says "look again"). */
static void xen_scan(struct supervisor *s)
{
	unsigned nd = 0;
	char **doms = xs_directory(s->xs, XBT_NULL, "/local/domain", &nd);
	for (unsigned i = 0; doms && i < nd; i++) {
		char path[96], dir[128];
		unsigned nc = 0;
		snprintf(path, sizeof(path), "/local/domain/%.12s/" VGPU_XS_DIR, doms[i]);
		char **chans = xs_directory(s->xs, XBT_NULL, path, &nc);
		for (unsigned j = 0; chans && j < nc; j++) {
			uint16_t domid;
			char full[160];
			snprintf(full, sizeof(full), "%s/%.40s", path, chans[j]);
			if (vgpu_xs_chan_path(full, &domid, dir, sizeof(dir)) == 0)
				xen_chan(s, domid, dir);
		}
		free(chans);
	}
	free(doms);
}

/* A domain was released: end the zones of every domain that is gone. */
static void xen_domains_check(struct supervisor *s)
{
	for (unsigned i = 0; i < s->nzones; i++) {
		struct szone *z = &s->zones[i];
		if (z->domid == NO_DOMID || z->ending || xs_is_domain_introduced(s->xs, z->domid))
			continue;
		vgpu_info("zone %u '%s': domain %u is gone; ending the zone", z->id, z->name, z->domid);
		z->ending = 1;
		kill(z->pid, SIGKILL);
	}
}

void on_xs(struct supervisor *s)
{
	char **ev;
	while ((ev = xs_check_watch(s->xs))) {
		const char *path = ev[XS_WATCH_PATH], *tok = ev[XS_WATCH_TOKEN];
		uint16_t domid;
		char dir[128];
		if (!strcmp(tok, "gone"))
			xen_domains_check(s);
		else if (!strcmp(path, "/local/domain"))
			xen_scan(s);
		else if (vgpu_xs_chan_path(path, &domid, dir, sizeof(dir)) == 0)
			xen_chan(s, domid, dir);
		free(ev);
	}
}

int xen_start(struct supervisor *s)
{
	s->xs = xs_open(0);
	if (!s->xs) {
		vgpu_err("--transport xen: cannot open xenstore: %s (not Dom0, or xenstored not running)",
			 strerror(errno));
		return -1;
	}
	/* The first event of each watch fires at once: it triggers the initial scan. */
	if (!xs_watch(s->xs, "/local/domain", "chan") || !xs_watch(s->xs, "@releaseDomain", "gone")) {
		vgpu_err("--transport xen: cannot watch xenstore: %s", strerror(errno));
		xs_close(s->xs);
		s->xs = NULL;
		return -1;
	}
	vgpu_info("watching xenstore for Xen zones (/local/domain/*/" VGPU_XS_DIR "/*)");
	return 0;
}
