/* SPDX-License-Identifier: MIT */
/* xenbus.c — the Xen transport's bootstrap through xenstore: parsing a zone's claims, and publishing a channel (see xenbus.h). */
#include "xenbus.h"

#include "drvenv.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "ring.h"
#include "ring_xen.h"

/* A decimal u32 with no sign, no spaces, no leading zeros (but "0"), at most 10 digits. */
static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	if (!s || !*s || strlen(s) > 10 || (s[0] == '0' && s[1]))
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

const char *vgpu_xs_parse_chan(const char *(*get)(void *ctx, const char *key), void *ctx, uint16_t domid,
			       struct vgpu_xs_chan *out)
{
	static const struct { const char *key, *why; } nums[] = {
		{ "dir-gref", "dir-gref missing or not a decimal u32" },
		{ "evtchn", "evtchn missing or not a decimal u32" },
		{ "ring-pages", "ring-pages missing or not a decimal u32" },
		{ "msg-ring-bytes", "msg-ring-bytes missing or not a decimal u32" },
		{ "bulk-bytes", "bulk-bytes missing or not a decimal u32" },
	};
	uint32_t v[5];
	const char *s;

	memset(out, 0, sizeof(*out));
	if (domid == 0 || domid >= 0x7ff0)
		return "not a guest domain id";
	s = get(ctx, "state");
	if (!s || strcmp(s, "ready") != 0)
		return "state is not \"ready\"";
	for (unsigned i = 0; i < 5; i++)
		if (parse_u32(get(ctx, nums[i].key), &v[i]) < 0)
			return nums[i].why;
	out->xen.domid = domid;
	out->xen.dir_gref = v[0];
	out->xen.evtchn_port = v[1];
	out->xen.npages = v[2];
	out->geom.msg_ring_bytes = v[3];
	out->geom.bulk_bytes = v[4];
	if (v[1] == 0)
		return "evtchn 0 is never a bound port";
	if (vgpu_chan_geom_check(&out->geom))
		return "msg-ring-bytes/bulk-bytes are not a valid ring geometry (powers of two within the limits)";
	uint64_t bytes = vgpu_ring_region_bytes(&out->geom);
	if (bytes % 4096 || bytes / 4096 != v[2])
		return "ring-pages does not match the geometry";
	if (v[2] < 2 || v[2] > vgpu_xen_max_pages())
		return "ring-pages out of range";

	s = get(ctx, "kind");
	if (s && !strcmp(s, "new"))
		out->hello.kind = VGPU_HELLO_NEW_ZONE;
	else if (s && !strcmp(s, "join"))
		out->hello.kind = VGPU_HELLO_JOIN;
	else if (s && !strcmp(s, "rejoin"))
		out->hello.kind = VGPU_HELLO_REJOIN;
	else
		return "kind must be \"new\", \"join\" or \"rejoin\"";
	s = get(ctx, "token");
	if (s && vgpu_token_parse(s, 0, out->hello.token) < 0)
		return "token is not 32 lower-case hex digits";
	if (!s && out->hello.kind != VGPU_HELLO_NEW_ZONE)
		return "join or rejoin without a token";
	s = get(ctx, "name");
	if (s) {
		size_t n = strlen(s);
		if (n > sizeof(out->hello.name))
			return "name longer than 64 bytes";
		memcpy(out->hello.name, s, n);
	}
	s = get(ctx, "pid");
	if (s && parse_u32(s, &out->hello.pid) < 0)
		return "pid is not a decimal u32";
	s = get(ctx, "visible");
	if (s) {
		if (out->hello.kind != VGPU_HELLO_NEW_ZONE)
			return "visible (CUDA_VISIBLE_DEVICES) with a channel that is not a new zone's";
		if (strlen(s) >= sizeof(out->visible))
			return "visible (CUDA_VISIBLE_DEVICES) longer than 1023 bytes";
		memcpy(out->visible, s, strlen(s) + 1);
		out->has_visible = 1;
	}
	s = get(ctx, "driver-env");
	if (s) {
		if (out->hello.kind != VGPU_HELLO_NEW_ZONE)
			return "driver-env with a channel that is not a new zone's";
		if (strlen(s) >= sizeof(out->env) || !*s || vgpu_drvenv_check(s) < 0)
			return "driver-env is not NAME=VALUE entries the proxy passes on (drvenv.h)";
		memcpy(out->env, s, strlen(s) + 1);
	}
	out->hello.magic = VGPU_HELLO_MAGIC;
	out->hello.version = VGPU_PROTO_VERSION;
	return NULL;
}

int vgpu_xs_chan_path(const char *path, uint16_t *domid, char *dir, size_t dir_len)
{
	static const char pre[] = "/local/domain/";
	const char *p = path, *id;
	uint32_t d = 0;
	unsigned digits = 0;

	if (strncmp(p, pre, sizeof(pre) - 1))
		return -EINVAL;
	p += sizeof(pre) - 1;
	for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
		d = d * 10 + (uint32_t)(*p - '0');
	if (!digits || d >= 0x7ff0 || strncmp(p, "/" VGPU_XS_DIR "/", sizeof(VGPU_XS_DIR) + 1))
		return -EINVAL;
	id = p + sizeof(VGPU_XS_DIR) + 1;
	size_t idlen = strcspn(id, "/");
	if (idlen == 0 || idlen > 32)
		return -EINVAL;
	size_t n = (size_t)(id + idlen - path);
	if (n + 1 > dir_len)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	*domid = (uint16_t)d;
	return 0;
}

int vgpu_xs_zone_token(char *hex, size_t cap)
{
	unsigned len = 0;
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return -errno;
	char *v = xs_read(xs, XBT_NULL, VGPU_XS_TOKEN_KEY, &len);
	int rc = v ? 0 : (errno == ENOENT ? -ENOENT : -errno);
	if (v) {
		snprintf(hex, cap, "%.*s", (int)len, v);
		explicit_bzero(v, len);
		free(v);
	}
	xs_close(xs);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Publish a channel (info, geometry, hello) under a new directory of the zone's home and wait
 * up to timeout_ms for the proxy's answer: 0 connected, VGPU_REJOIN_LATER when it says
 * "later" (a rejoining channel whose zone is not there yet), -errno otherwise (the setup
 * error says why). The directory is removed unless connected.
 */
static int xs_publish(const struct vgpu_xen_info *info, const struct vgpu_chan_geom *g, const struct vgpu_hello *hello,
		      const char *visible, const char *env, int timeout_ms)
{
	static unsigned seq;
	struct xs_handle *xs;
	char dir[64], key[96], state[16] = "";
	int rc;

	xs = xs_open(0);
	if (!xs) {
		rc = -errno;
		vgpu_chan_set_setup_error("cannot open xenstore: %s (xenbus device missing in this domain?)",
					  strerror(errno));
		return rc;
	}
	snprintf(dir, sizeof(dir), VGPU_XS_DIR "/%u-%u", (unsigned)getpid(), __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	/* The channel's keys, state last (what the proxy watches for). */
	char nums[6][12], name[65], tok[33] = "";
	static const uint8_t zero[16];
	const unsigned numv[6] = { info->dir_gref, info->evtchn_port, info->npages, g->msg_ring_bytes, g->bulk_bytes,
				   hello->pid };
	for (unsigned i = 0; i < 6; i++)
		snprintf(nums[i], sizeof(nums[i]), "%u", numv[i]);
	snprintf(name, sizeof(name), "%.*s", (int)strnlen(hello->name, sizeof(hello->name)), hello->name);
	if (memcmp(hello->token, zero, sizeof(zero)))
		vgpu_token_format(hello->token, tok);
	const struct { const char *k, *v; } kv[] = {
		{ "dir-gref", nums[0] }, { "evtchn", nums[1] }, { "ring-pages", nums[2] },
		{ "msg-ring-bytes", nums[3] }, { "bulk-bytes", nums[4] }, { "pid", nums[5] },
		{ "token", tok },
		{ "kind", hello->kind == VGPU_HELLO_JOIN ? "join" : hello->kind == VGPU_HELLO_REJOIN ? "rejoin" : "new" },
		{ "name", name },
		{ "visible", visible ? visible : "" },
		{ "driver-env", env ? env : "" },
		{ "state", "ready" },
	};
	for (int attempt = 0; attempt <= 10; attempt++) {
		xs_transaction_t t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			break;
		int ok = 1;
		for (unsigned i = 0; ok && i < sizeof(kv) / sizeof(kv[0]); i++) {
			if (!kv[i].v[0])
				continue; /* no token, no CUDA_VISIBLE_DEVICES, no driver settings */
			snprintf(key, sizeof(key), "%s/%s", dir, kv[i].k);
			ok = xs_write(xs, t, key, kv[i].v, strlen(kv[i].v));
		}
		if (!ok) {
			xs_transaction_end(xs, t, 1);
			break;
		}
		if (xs_transaction_end(xs, t, 0) || errno != EAGAIN)
			break; /* published, or not at all: the read below tells */
	}
	explicit_bzero(tok, sizeof(tok));
	snprintf(key, sizeof(key), "%s/state", dir);
	/* Published? (a failed transaction left nothing) */
	unsigned len = 0;
	char *st = xs_read(xs, XBT_NULL, key, &len);
	if (!st) {
		rc = errno ? -errno : -EIO;
		vgpu_chan_set_setup_error("cannot publish the channel in xenstore under %s: %s", dir, strerror(-rc));
		goto fail;
	}
	free(st);
	/* Wait for the proxy's answer: a watch on the state key (it fires once at once too). */
	if (!xs_watch(xs, key, "vgpu")) {
		rc = -errno;
		vgpu_chan_set_setup_error("cannot watch %s: %s", key, strerror(errno));
		goto fail;
	}
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		st = xs_read(xs, XBT_NULL, key, &len);
		snprintf(state, sizeof(state), "%s", st ? st : "");
		free(st);
		/* ready: not seen yet; connecting: taken, its worker is attaching. */
		if (strcmp(state, "ready") != 0 && strcmp(state, "connecting") != 0)
			break;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd p = { .fd = xs_fileno(xs), .events = POLLIN };
		if (poll(&p, 1, (int)left) > 0) {
			char **ev;
			while ((ev = xs_check_watch(xs)))
				free(ev);
		}
	}
	xs_unwatch(xs, key, "vgpu");
	if (!strcmp(state, "connected")) {
		xs_close(xs);
		return 0;
	}
	if (!strcmp(state, "refused") || !strcmp(state, "later")) {
		snprintf(key, sizeof(key), "%s/error", dir);
		char *why = xs_read(xs, XBT_NULL, key, &len);
		vgpu_chan_set_setup_error("vgpu-proxy %s the channel: %s", state[0] == 'l' ? "cannot take yet" : "refused",
					  why ? why : "(no reason given)");
		free(why);
		rc = state[0] == 'l' ? VGPU_REJOIN_LATER : -EACCES;
	} else if (!strcmp(state, "ready") || !strcmp(state, "connecting")) {
		vgpu_chan_set_setup_error("no answer from vgpu-proxy in Dom0 within %d ms (%s; is it running with "
					  "--transport xen?)", timeout_ms,
					  state[0] == 'r' ? "it never took the channel" : "it took the channel but never attached");
		rc = -ETIMEDOUT;
	} else {
		vgpu_chan_set_setup_error("unexpected channel state '%s' in xenstore", state);
		rc = -EPROTO;
	}
fail:
	xs_rm(xs, XBT_NULL, dir);
	xs_close(xs);
	return rc;
}

int vgpu_xs_connect(const struct vgpu_hello *hello, const char *visible, const char *env,
		    const struct vgpu_chan_geom *g, int timeout_ms, struct vgpu_chan **out)
{
	struct vgpu_xen_info info;
	struct vgpu_chan *ch = NULL;
	int rc = vgpu_xen_create(0, g, &info, &ch);
	if (rc < 0)
		return rc;
	rc = xs_publish(&info, g, hello, visible, env, timeout_ms);
	if (rc != 0) {
		vgpu_chan_close(ch);
		return rc == VGPU_REJOIN_LATER ? -EAGAIN : rc;
	}
	*out = ch;
	return 0;
}

int vgpu_xs_rejoin(struct vgpu_chan *ch, const struct vgpu_hello *hello, int timeout_ms)
{
	struct vgpu_xen_info info;
	struct vgpu_chan_geom g;
	int rc = vgpu_xen_chan_info(ch, &info, &g);
	if (rc < 0) {
		vgpu_chan_set_setup_error("the channel is not a zone's Xen channel");
		return rc;
	}
	return xs_publish(&info, &g, hello, NULL, NULL, timeout_ms);
}
