/* SPDX-License-Identifier: MIT */
/* xenbus_claims.c — the checks vgpu-proxy applies to what a Xen zone publishes in xenstore before mapping anything: one case per rule. */
#include "ring_test.h"
#include "ring.h"
#include "xenbus.h"

/* A channel directory as a key/value table; NULL value = key absent. */
struct kv {
	const char *k[12];
	const char *v[12];
};

static const char *get(void *ctx, const char *key)
{
	struct kv *t = ctx;
	for (unsigned i = 0; i < 12 && t->k[i]; i++)
		if (!strcmp(t->k[i], key))
			return t->v[i];
	return NULL;
}

static char pages_str[16];

/* A valid "new zone" channel: 64 KiB rings, 1 MiB bulk. */
static struct kv good(void)
{
	struct vgpu_chan_geom g = { 65536, 1u << 20 };
	snprintf(pages_str, sizeof(pages_str), "%llu", (unsigned long long)(vgpu_ring_region_bytes(&g) / 4096));
	struct kv t = { { "state", "dir-gref", "evtchn", "ring-pages", "msg-ring-bytes", "bulk-bytes", "kind",
			  "name", "pid" },
			{ "ready", "8", "12", pages_str, "65536", "1048576", "new", "train", "4242" } };
	return t;
}

static void set(struct kv *t, const char *key, const char *val)
{
	unsigned i;
	for (i = 0; i < 12 && t->k[i]; i++)
		if (!strcmp(t->k[i], key)) {
			t->v[i] = val;
			return;
		}
	if (i < 12) {
		t->k[i] = key;
		t->v[i] = val;
	}
}

/* The claims with key set to val (NULL: removed) must be refused, with a reason naming substr. */
static void refused(const char *key, const char *val, const char *substr)
{
	struct kv t = good();
	struct vgpu_xs_chan c;
	set(&t, key, val);
	const char *why = vgpu_xs_parse_chan(get, &t, 5, &c);
	if (!why || !strstr(why, substr)) {
		fprintf(stderr, "FAIL: %s=%s: got %s, expected a reason containing '%s'\n", key, val ? val : "(absent)",
			why ? why : "accepted", substr);
		CHECK(0);
	}
}

static void test_good(void)
{
	struct kv t = good();
	struct vgpu_xs_chan c;
	CHECK(vgpu_xs_parse_chan(get, &t, 5, &c) == NULL);
	CHECK_EQ(c.xen.domid, 5);
	CHECK_EQ(c.xen.dir_gref, 8);
	CHECK_EQ(c.xen.evtchn_port, 12);
	CHECK_EQ(c.xen.npages, atoi(pages_str));
	CHECK_EQ(c.geom.msg_ring_bytes, 65536);
	CHECK_EQ(c.hello.kind, VGPU_HELLO_NEW_ZONE);
	CHECK_EQ(c.hello.magic, VGPU_HELLO_MAGIC);
	CHECK_EQ(c.hello.pid, 4242);
	CHECK(!memcmp(c.hello.name, "train", 5));
	set(&t, "kind", "join");
	CHECK(vgpu_xs_parse_chan(get, &t, 5, &c) != NULL); /* join needs a token */
	set(&t, "token", "000102030405060708090a0b0c0d0e0f");
	CHECK(vgpu_xs_parse_chan(get, &t, 5, &c) == NULL);
	CHECK_EQ(c.hello.kind, VGPU_HELLO_JOIN);
	CHECK_EQ(c.hello.token[15], 15);
	set(&t, "kind", "rejoin");   /* a ring offered again to a restored zone: a token too */
	CHECK(vgpu_xs_parse_chan(get, &t, 5, &c) == NULL);
	CHECK_EQ(c.hello.kind, VGPU_HELLO_REJOIN);
	set(&t, "token", NULL);
	CHECK(vgpu_xs_parse_chan(get, &t, 5, &c) != NULL);
	/* a new zone's CUDA_VISIBLE_DEVICES, read over the proxy's devices later */
	t = good();
	CHECK(vgpu_xs_parse_chan(get, &t, 5, &c) == NULL);
	CHECK_EQ(c.has_visible, 0);
	set(&t, "visible", "1,GPU-76");
	CHECK(vgpu_xs_parse_chan(get, &t, 5, &c) == NULL);
	CHECK_EQ(c.has_visible, 1);
	CHECK(!strcmp(c.visible, "1,GPU-76"));
	/* and its driver settings */
	CHECK(!c.env[0]);
	set(&t, "driver-env", "CUDA_LAUNCH_BLOCKING=1");
	CHECK(vgpu_xs_parse_chan(get, &t, 5, &c) == NULL);
	CHECK(!strcmp(c.env, "CUDA_LAUNCH_BLOCKING=1"));
}

static void test_rules(void)
{
	struct kv t = good();
	struct vgpu_xs_chan c;
	/* Only guest domains: Dom0 and the special ids are not zones. */
	CHECK(vgpu_xs_parse_chan(get, &t, 0, &c) != NULL);
	CHECK(vgpu_xs_parse_chan(get, &t, 0x7ff0, &c) != NULL);

	refused("state", NULL, "state");
	refused("state", "connected", "state");
	/* Numbers: decimal u32 only. */
	refused("dir-gref", NULL, "dir-gref");
	refused("dir-gref", "", "dir-gref");
	refused("dir-gref", "-1", "dir-gref");
	refused("dir-gref", "0x10", "dir-gref");
	refused("dir-gref", "08", "dir-gref");
	refused("dir-gref", " 8", "dir-gref");
	refused("dir-gref", "4294967296", "dir-gref");
	refused("dir-gref", "99999999999", "dir-gref");
	refused("evtchn", "0", "evtchn");
	refused("evtchn", "12a", "evtchn");
	/* Geometry and page count: checked before anything is mapped. */
	refused("msg-ring-bytes", "65535", "geometry");
	refused("msg-ring-bytes", "4294967295", "geometry");
	refused("bulk-bytes", "3", "geometry");
	refused("bulk-bytes", "4294967295", "geometry");
	refused("ring-pages", "1", "ring-pages");
	refused("ring-pages", "4294967295", "ring-pages");
	refused("ring-pages", NULL, "ring-pages");
	/* Kind, token, name, pid. */
	refused("kind", NULL, "kind");
	refused("kind", "NEW", "kind");
	refused("token", "00", "token");
	refused("token", "000102030405060708090A0B0C0D0E0F", "token");
	refused("token", "000102030405060708090a0b0c0d0e0f0", "token");
	refused("name", "0123456789012345678901234567890123456789012345678901234567890123x", "name");
	refused("pid", "abc", "pid");
	static char long_list[VGPU_HELLO_VISIBLE_BYTES + 1];
	memset(long_list, '0', VGPU_HELLO_VISIBLE_BYTES);
	refused("visible", long_list, "longer than 1023");
	refused("driver-env", "", "driver-env");
	refused("driver-env", "CUDA_CACHE_PATH=/tmp", "driver-env");
	refused("driver-env", "CUDA_LAUNCH_BLOCKING=yes", "driver-env");
	refused("driver-env", long_list, "driver-env");
	{
		/* only a new zone says which devices it sees */
		struct kv j = good();
		set(&j, "kind", "join");
		set(&j, "token", "000102030405060708090a0b0c0d0e0f");
		set(&j, "visible", "0");
		const char *why = vgpu_xs_parse_chan(get, &j, 5, &c);
		CHECK(why && strstr(why, "not a new zone"));
	}
	/* The largest geometry is accepted (and its page count is the limit). */
	struct kv big = good();
	char pg[16], ring[16], bulk[16];
	struct vgpu_chan_geom gmax = { VGPU_CHAN_MAX_RING, VGPU_CHAN_MAX_BULK };
	snprintf(pg, sizeof(pg), "%llu", (unsigned long long)(vgpu_ring_region_bytes(&gmax) / 4096));
	snprintf(ring, sizeof(ring), "%u", VGPU_CHAN_MAX_RING);
	snprintf(bulk, sizeof(bulk), "%u", VGPU_CHAN_MAX_BULK);
	set(&big, "ring-pages", pg);
	set(&big, "msg-ring-bytes", ring);
	set(&big, "bulk-bytes", bulk);
	CHECK(vgpu_xs_parse_chan(get, &big, 7, &c) == NULL);
}

static void test_paths(void)
{
	uint16_t d = 0;
	char dir[64];
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/7/data/vgpu/12-1/state", &d, dir, sizeof(dir)), 0);
	CHECK_EQ(d, 7);
	CHECK(!strcmp(dir, "/local/domain/7/data/vgpu/12-1"));
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/7/data/vgpu/12-1", &d, dir, sizeof(dir)), 0);
	CHECK(!strcmp(dir, "/local/domain/7/data/vgpu/12-1"));
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/7/data/vgpu", &d, dir, sizeof(dir)), -EINVAL);
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/7/data/vgpu/", &d, dir, sizeof(dir)), -EINVAL);
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/7/data/other/1", &d, dir, sizeof(dir)), -EINVAL);
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/x/data/vgpu/1", &d, dir, sizeof(dir)), -EINVAL);
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/32752/data/vgpu/1", &d, dir, sizeof(dir)), -EINVAL);
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/1234567/data/vgpu/1", &d, dir, sizeof(dir)), -EINVAL);
	CHECK_EQ(vgpu_xs_chan_path("/vm/7/data/vgpu/1", &d, dir, sizeof(dir)), -EINVAL);
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/7/data/vgpu/0123456789012345678901234567890123", &d, dir,
				   sizeof(dir)), -EINVAL);
	CHECK_EQ(vgpu_xs_chan_path("/local/domain/7/data/vgpu/12-1", &d, dir, 16), -ENAMETOOLONG);
}

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		printf("usage: xenbus_claims\nThe xenstore claims of a Xen zone's channel: accepted and refused cases.\n");
		return 0;
	}
	test_good();
	test_rules();
	test_paths();
	return ring_test_done("xenbus_claims");
}
