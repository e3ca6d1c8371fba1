/* SPDX-License-Identifier: MIT */
/* test_ckpt.c — unit tests of the checkpoint reader's rules (proxy/ckpt.c): a valid checkpoint, then one broken rule at a time. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../proxy/ckpt.h"
#include "check.h"

enum { R_ZONE = 1, R_RANGES, R_SLOTS, R_CTX, R_MODULE, R_FUNC, R_STREAM, R_EVENT, R_ALLOC, R_END, R_POOL, R_GLOBAL,
       R_PINNED, R_CHAN, R_GRAPH, R_GEXEC, R_VMEM, R_VMAP, R_GVAL, R_OUTPUT };
#define NO_SLOT 0xffffffffu

static uint8_t buf[1 << 16];
static size_t n;
static uint32_t nrec;

static void put(const void *p, size_t k) { memcpy(buf + n, p, k); n += k; }
static void u32(uint32_t v) { put(&v, 4); }
static void u64(uint64_t v) { put(&v, 8); }
static void str(const char *s) { u32((uint32_t)strlen(s)); put(s, strlen(s)); }
static void rec(uint32_t type, uint64_t len) { u32(type); u32(0); u64(len); nrec++; }

static const char ptx[] = ".version 8.0\n.target sm_80\n.address_size 64\n.visible .entry k()\n{\nret;\n}\n";

/* What each test may change before the checkpoint is assembled. */
struct shape {
	uint32_t slots;          /* the zone's table size */
	uint32_t ctx_slot, mod_owner, fn_module, stream_flags, ev_flags;
	uint32_t ctx_kind;       /* the context's kind when not 1 (a retained primary context) */
	uint64_t base2;          /* the second allocation's base */
	int swap_records;        /* put the event before the stream */
	int alloc_not_ranged;    /* the second allocation differs from its range */
	uint32_t alloc2_flags;   /* the second allocation record's kind word (1: a module global's bytes, 2 | dev << 8:
	                          * stream-ordered) */
	int bad_crc, trailing;
	uint32_t version;
	const char *devices;     /* the zone's devices, when its process chose some (NULL: none) */
	const char *env;         /* its driver settings, after the devices (NULL: none) */
	/* the memory pool record (slot 5): kind (0 a device's default, 1 created), device,
	 * allocation type, location type, reuse flags, its padding word; where it comes */
	uint32_t pool_kind, pool_dev, pool_type, pool_loc, pool_reuse, pool_pad;
	int pool_where;          /* 0 after the events (its place), 1 before them, 2 after the allocations */
	/* the module global record: where (0 none, 1 after the allocations: its place, 2 before
	 * them), its module slot, range and name */
	int glob_where;
	uint32_t glob_module;
	uint64_t glob_base, glob_size;
	const char *glob_name;
	uint32_t glob_name_len;  /* what the record says the name's length is (0: its length) */
	uint32_t glob_bytes;     /* name bytes written (0: strlen) */
	/* a module global's value by name (after the globals): where (0 none, 1 its place, 2
	 * after the graphs, 3 before the allocations), module slot, name, value length as the
	 * record says it and as written */
	int gval_where;
	uint32_t gval_module;
	const char *gval_name;
	uint32_t gval_name_bytes;  /* name bytes written (0: strlen) */
	uint64_t gval_size, gval_written;
	/* pinned region and channel records (after the allocations and globals): how many of
	 * each (pinned slots 0, 1, ...; channels' inodes 100, 101, ...), and one field broken */
	uint32_t npin, nchan;
	uint32_t pin_slot2;      /* the second region's slot (0: 1) */
	uint64_t pin_bytes, pin_ino, pin_key2, pin_pad;   /* of the last region (0: a good value) */
	uint32_t pin_len;        /* the regions' record bodies when not 40 (with the address) */
	uint32_t nout;           /* device output records, streams 0, 1 (out_stream2: the second's, plus 1) */
	uint32_t out_stream2, out_pad, out_empty, out_first;   /* out_first: before the pinned regions */
	uint32_t chan_ctx, chan_pad, chan_pos0;           /* of the last channel */
	uint32_t chan_nbelow, chan_below[9];              /* its contexts below the current one (written) */
	uint64_t chan_ino;                                /* of the last channel (0: a good value) */
	int chan_before_pin;                              /* write channels before the regions */
	int chans_before_allocs;                          /* write the channels before the allocations */
	/* a graph (slot 6) and an executable graph (slot 7) after the globals: a kernel node
	 * (slot 8 in the graph), a memset node depending on it, an event record node; what to
	 * break */
	int graph;
	uint32_t g_fn, g_dep, g_es, g_event, g_node_slot, g_exec_node_slot, g_grid, g_psize, g_type;
	uint64_t g_flags, g_mdst;
	int g_child;             /* a child graph node last: 1 holding an empty node, 2 whose node has
				  * a slot, 3 nested 9 deep */
	int g_short_body, g_before_globals;
	/* virtual memory management: a reservation (8 KiB at 0x7f0000400000), a physical
	 * allocation of 8 KiB (id key ^ 1) with its bytes, mapped at the reservation's start;
	 * what to break */
	int vmm;
	uint64_t v_res_base, v_res_size, v_key, v_id, v_size, v_map_base, v_map_size, v_map_off, v_map_id;
	uint32_t v_type, v_refs, v_access;
	int v_map_first, v_second_res_overlaps;
};

static const struct shape good = { .slots = 6, .ctx_slot = 0, .mod_owner = 0, .fn_module = 1, .stream_flags = 1,
				   .ev_flags = 2, .base2 = 0x7f0000201000ull, .version = VGPU_CKPT_VERSION,
				   .pool_kind = 1, .pool_dev = 0, .pool_type = 1, .pool_loc = 1, .pool_reuse = 5 };

static void pool_rec(const struct shape *s)
{
	rec(R_POOL, 56);
	u32(5); u32(0); u32(s->pool_kind); u32(s->pool_dev); u32(s->pool_type); u32(s->pool_loc);
	u32(0); u32(1); u64(s->pool_kind ? 1ull << 30 : 0); u64(1ull << 20); u32(s->pool_reuse); u32(s->pool_pad);
}

static void glob_rec(const struct shape *s)
{
	uint32_t len = s->glob_bytes ? s->glob_bytes : (uint32_t)strlen(s->glob_name);
	rec(R_GLOBAL, 24 + len);
	u32(s->glob_module); u32(s->glob_name_len ? s->glob_name_len : len); u64(s->glob_base); u64(s->glob_size);
	put(s->glob_name, len);
}

static void gval_rec(const struct shape *s)
{
	uint32_t len = s->gval_name_bytes ? s->gval_name_bytes : (uint32_t)strlen(s->gval_name);
	rec(R_GVAL, 16 + len + s->gval_written);
	u32(s->gval_module); u32(len); u64(s->gval_size);
	put(s->gval_name, len);
	memset(buf + n, 0x3c, s->gval_written);
	n += s->gval_written;
}

static void pins_rec(const struct shape *s)
{
	for (uint32_t i = 0; i < s->npin; i++) {
		int last = i + 1 == s->npin;
		uint32_t len = s->pin_len ? s->pin_len : 40;
		rec(R_PINNED, len);
		u32(i == 1 && s->pin_slot2 ? s->pin_slot2 : i); u32(last ? (uint32_t)s->pin_pad : 0);
		u64(last && s->pin_bytes ? s->pin_bytes : 1u << 20);
		u64(last && s->pin_ino ? s->pin_ino : 50 + i);
		u64(last && s->pin_key2 ? s->pin_key2 : 0x8000000000001234ull);
		if (len > 32)   /* the address, any value (a hint), then whatever a longer body holds */
			for (uint32_t k = 32; k < len; k += 4)
				u32(0xdead0000u + k);
	}
}

static void outs_rec(const struct shape *s)
{
	static const char text[] = "thread 3 says hello\n";
	for (uint32_t i = 0; i < s->nout; i++) {
		uint32_t len = s->out_empty && i + 1 == s->nout ? 0 : (uint32_t)sizeof(text) - 1;
		rec(R_OUTPUT, 8 + len);
		u32(i == 1 && s->out_stream2 ? s->out_stream2 - 1 : i); u32(s->out_pad);
		put(text, len);
	}
}

static void chans_rec(const struct shape *s)
{
	for (uint32_t i = 0; i < s->nchan; i++) {
		int last = i + 1 == s->nchan;
		uint32_t below = last ? s->chan_nbelow : 0;
		rec(R_CHAN, 32 + 4 * below);
		u64(last && s->chan_ino ? s->chan_ino : 100 + i);
		u32(last ? s->chan_ctx : 0); u32(last ? s->chan_pad + below : 0);
		u32(last && s->chan_pos0 ? s->chan_pos0 : 0x40); u32(0); u32(0x40); u32(0);
		for (uint32_t k = 0; k < below; k++)
			u32(s->chan_below[k]);
	}
}

/* A child graph node's body: a graph of one node, an empty one or (depth left) a child again. */
static void child_body(int depth, uint32_t slot)
{
	u32(1); u32(0);
	if (depth > 1) {
		size_t at = n;
		u32(NO_SLOT); u32(4); u32(0); u32(0);
		child_body(depth - 1, slot);
		uint32_t len = (uint32_t)(n - at - 16);
		memcpy(buf + at + 12, &len, 4);
	} else {
		u32(slot); u32(5); u32(0); u32(0);
	}
}

/* A graph's nodes: kernel (vec-like, one 8-byte parameter), memset after it, event record,
 * and (g_child) a child graph node after the kernel. */
static void graph_nodes(const struct shape *s, int exec)
{
	u32(s->g_child ? 4 : 3); u32(0);
	/* kernel: slot, type 0, no dependencies, body */
	u32(exec ? (s->g_exec_node_slot ? s->g_exec_node_slot : NO_SLOT) : (s->g_node_slot ? s->g_node_slot : 8));
	u32(s->g_type); u32(0); u32(s->g_short_body ? 40 : 48);
	u32(s->g_fn ? s->g_fn : 2); u32(s->g_grid ? s->g_grid - 1 : 4); u32(1); u32(1); u32(64); u32(1); u32(1); u32(0);
	u32(1); u32(s->g_psize ? s->g_psize : 8); u64(0x7f0000200000ull);
	if (s->g_short_body)
		n -= 8;
	/* memset after the kernel */
	u32(NO_SLOT); u32(2); u32(1); u32(40); u32(s->g_dep);
	u64(s->g_mdst ? s->g_mdst : 0x7f0000200000ull); u64(0); u32(7); u32(s->g_es ? s->g_es : 4); u64(16); u64(1);
	/* event record after both */
	u32(NO_SLOT); u32(7); u32(2); u32(4); u32(0); u32(1); u32(s->g_event ? s->g_event : 4);
	if (s->g_child) {
		size_t at = n;
		u32(NO_SLOT); u32(4); u32(1); u32(0); u32(0);
		child_body(s->g_child == 3 ? 9 : 1, s->g_child == 2 && !exec ? 8 : NO_SLOT);
		uint32_t len = (uint32_t)(n - at - 20);
		memcpy(buf + at + 12, &len, 4);
	}
}

static void graphs_rec(const struct shape *s)
{
	size_t at = n;
	rec(R_GRAPH, 0);
	u32(6); u32(0);
	graph_nodes(s, 0);
	uint64_t len = n - at - 16;
	memcpy(buf + at + 8, &len, 8);
	at = n;
	rec(R_GEXEC, 0);
	u32(7); u32(0); u64(s->g_flags);
	graph_nodes(s, 1);
	len = n - at - 16;
	memcpy(buf + at + 8, &len, 8);
}

#define VKEY 0xe90cd82600000000ull
static void vmm_recs(const struct shape *s)
{
	uint64_t size = s->v_size ? s->v_size : 8192;
	if (s->v_map_first) {   /* a mapping before its allocation */
		rec(R_VMAP, 40);
		u64(0x7f0000400000ull); u64(8192); u64(0); u64(VKEY ^ 1); u32(3); u32(0);
	}
	rec(R_VMEM, 40 + size);
	u64(s->v_id ? s->v_id : VKEY ^ 1); u64(size); u64(s->v_key ? s->v_key : VKEY);
	u32(s->v_type ? s->v_type : 1); u32(1); u32(0); u32(s->v_refs);
	memset(buf + n, 0x3c, size); n += size;
	if (!s->v_map_first) {
		rec(R_VMAP, 40);
		u64(s->v_map_base ? s->v_map_base : 0x7f0000400000ull); u64(s->v_map_size ? s->v_map_size : 8192);
		u64(s->v_map_off); u64(s->v_map_id ? s->v_map_id : VKEY ^ 1); u32(s->v_access ? s->v_access : 3); u32(0);
	}
}

static void build(const struct shape *s)
{
	n = VGPU_CKPT_HDR_BYTES;
	nrec = 0;
	rec(R_ZONE, 4 + 4 + 8 + 16 + 12 + 3 + 0 + 0 + (s->devices ? 4 + strlen(s->devices) : 0) +
		    (s->env ? 4 + strlen(s->env) : 0));
	u32(7); u32(s->slots); u64(0x1234567880000000ull);
	for (int i = 0; i < 16; i++) { uint8_t b = (uint8_t)i; put(&b, 1); }
	str("app"); str(""); str("");
	if (s->devices)
		str(s->devices);
	if (s->env)
		str(s->env);
	uint32_t nres = s->vmm ? 1 + (s->v_second_res_overlaps != 0) : 0;
	rec(R_RANGES, 8 + 32 + 16ull * nres);
	u32(2); u32(nres);
	u64(0x7f0000200000ull); u64(4096);
	u64(s->base2); u64(64);
	if (s->vmm) {
		u64(s->v_res_base ? s->v_res_base : 0x7f0000400000ull); u64(s->v_res_size ? s->v_res_size : 8192);
		if (s->v_second_res_overlaps) {
			u64(0x7f0000401000ull); u64(8192);
		}
	}
	rec(R_SLOTS, 4 + 4ull * s->slots);
	u32(s->slots);
	for (uint32_t i = 0; i < s->slots; i++)
		u32(1 + i);
	rec(R_CTX, 16);
	u32(s->ctx_slot); u32(s->ctx_kind ? s->ctx_kind : 1); u32(0); u32(0);
	rec(R_MODULE, 16 + sizeof(ptx) - 1);
	u32(1); u32(s->mod_owner); u64(sizeof(ptx) - 1); put(ptx, sizeof(ptx) - 1);
	rec(R_FUNC, 12 + 1);
	u32(2); u32(s->fn_module); u32(1); put("k", 1);
	if (s->pool_where == 1)
		pool_rec(s);
	if (s->swap_records) {   /* records of one type come before those of the next */
		rec(R_EVENT, 12);
		u32(4); u32(NO_SLOT); u32(s->ev_flags);
	}
	rec(R_STREAM, 16);
	u32(3); u32(0); u32(s->stream_flags); u32(0);
	if (!s->swap_records) {
		rec(R_EVENT, 12);
		u32(4); u32(NO_SLOT); u32(s->ev_flags);
	}
	if (s->pool_where == 0)
		pool_rec(s);
	if (s->glob_where == 2)
		glob_rec(s);
	if (s->chans_before_allocs)
		chans_rec(s);
	if (s->graph && s->g_before_globals)
		graphs_rec(s);
	if (s->gval_where == 3)
		gval_rec(s);
	rec(R_ALLOC, 24 + 4096);
	u64(0x7f0000200000ull); u64(4096); u32(0); u32(0);
	memset(buf + n, 0x5a, 4096); n += 4096;
	rec(R_ALLOC, 24 + 64);
	u64(s->alloc_not_ranged ? s->base2 + 64 : s->base2); u64(64); u32(NO_SLOT); u32(s->alloc2_flags);
	memset(buf + n, 0xa5, 64); n += 64;
	if (s->pool_where == 2)
		pool_rec(s);
	if (s->vmm)
		vmm_recs(s);
	if (s->glob_where == 1)
		glob_rec(s);
	if (s->gval_where == 1)
		gval_rec(s);
	if (s->graph && !s->g_before_globals)
		graphs_rec(s);
	if (s->gval_where == 2)
		gval_rec(s);
	if (s->out_first)
		outs_rec(s);
	if (s->chan_before_pin)
		chans_rec(s);
	pins_rec(s);
	if (!s->chan_before_pin && !s->chans_before_allocs)
		chans_rec(s);
	if (!s->out_first)
		outs_rec(s);
	uint32_t crc = vgpu_crc32c(0, buf + VGPU_CKPT_HDR_BYTES, n - VGPU_CKPT_HDR_BYTES);
	rec(R_END, 8);
	u32(nrec - 1); u32(s->bad_crc ? crc ^ 1 : crc);
	if (s->trailing)
		u32(0);
	uint64_t payload = n - VGPU_CKPT_HDR_BYTES;
	uint32_t v, backend = 2;
	memset(buf, 0, VGPU_CKPT_HDR_BYTES);
	memcpy(buf, VGPU_CKPT_MAGIC, 8);
	v = s->version; memcpy(buf + 8, &v, 4);
	v = VGPU_CKPT_HDR_BYTES; memcpy(buf + 12, &v, 4);
	memcpy(buf + 16, &payload, 8);
	memcpy(buf + 28, &backend, 4);
}

/* Refused, and the reason names what is wrong. */
static void refused(const struct shape *s, const char *reason)
{
	struct vgpu_ckpt_meta m;
	char why[256] = "";
	build(s);
	int rc = vgpu_ckpt_check(buf, n, &m, why, sizeof(why));
	CHECK(rc < 0);
	if (!strstr(why, reason)) {
		fprintf(stderr, "expected a refusal naming '%s', got '%s'\n", reason, why);
		check_failures++;
	}
}

int main(void)
{
	struct vgpu_ckpt_meta m;
	char why[256] = "";
	struct shape s;

	/* the valid one, and what it says about itself */
	build(&good);
	CHECK_EQ(vgpu_ckpt_check(buf, n, &m, why, sizeof(why)), 0);
	CHECK_EQ(m.zone_id, 7);
	CHECK_EQ(m.slots, 6);
	CHECK_EQ(m.handles, 6);
	CHECK_EQ(m.allocs, 2);
	CHECK_EQ(m.mem_bytes, 4096 + 64);
	CHECK(!strcmp(m.name, "app"));
	CHECK(!strcmp(m.devices, ""));
	/* read from a file in one pass (vgpuctl inspect): the same verdict and description */
	{
		struct vgpu_ckpt_meta f;
		int fd = memfd_create("ckpt", MFD_CLOEXEC);
		CHECK(fd >= 0 && write(fd, buf, n) == (ssize_t)n && lseek(fd, 0, SEEK_SET) == 0);
		CHECK_EQ(vgpu_ckpt_verify(fd, &f, why, sizeof(why)), 0);
		CHECK(f.version == m.version && f.zone_id == m.zone_id && f.handles == m.handles &&
		      f.allocs == m.allocs && f.mem_bytes == m.mem_bytes && f.file_bytes == n && !strcmp(f.name, "app"));
		CHECK(ftruncate(fd, (off_t)n - 1) == 0 && lseek(fd, 0, SEEK_SET) == 0);
		CHECK(vgpu_ckpt_verify(fd, &f, why, sizeof(why)) < 0 && strstr(why, "truncated or extended"));
		uint8_t flip = buf[n / 2] ^ 0x40;       /* one payload byte changed: the checksum says so */
		CHECK(ftruncate(fd, 0) == 0 && write(fd, buf, n) == (ssize_t)n && pwrite(fd, &flip, 1, (off_t)(n / 2)) == 1);
		CHECK(lseek(fd, 0, SEEK_SET) == 0);
		CHECK(vgpu_ckpt_verify(fd, &f, why, sizeof(why)) < 0);
		close(fd);
	}
	/* the devices the zone's process chose (CUDA_VISIBLE_DEVICES): ordinals, distinct */
	s = good; s.devices = "2,0";             build(&s);
	CHECK_EQ(vgpu_ckpt_check(buf, n, &m, why, sizeof(why)), 0);
	CHECK(!strcmp(m.devices, "2,0"));
	s = good; s.devices = "";                refused(&s, "zone record");         /* said, yet none */
	s = good; s.devices = "1,1";             refused(&s, "zone record");         /* one twice */
	s = good; s.devices = "0,x";             refused(&s, "zone record");
	s = good; s.devices = " 1";              refused(&s, "zone record");         /* not as written */
	s = good; s.devices = "64";              refused(&s, "zone record");         /* past any device */
	s = good; s.devices = "1,";              refused(&s, "zone record");
	/* and its driver settings (drvenv.h), after the devices ("" for all) */
	s = good; s.devices = ""; s.env = "CUDA_LAUNCH_BLOCKING=1 CUDA_DEVICE_MAX_CONNECTIONS=1";  build(&s);
	CHECK_EQ(vgpu_ckpt_check(buf, n, &m, why, sizeof(why)), 0);
	CHECK(!strcmp(m.devices, "") && !strcmp(m.env, "CUDA_LAUNCH_BLOCKING=1 CUDA_DEVICE_MAX_CONNECTIONS=1"));
	s = good; s.devices = "1"; s.env = "CUDA_MODULE_LOADING=EAGER";  build(&s);
	CHECK_EQ(vgpu_ckpt_check(buf, n, &m, why, sizeof(why)), 0);
	s = good; s.devices = ""; s.env = "";              refused(&s, "zone record");
	s = good; s.devices = ""; s.env = "CUDA_CACHE_PATH=/x";  refused(&s, "zone record");
	s = good; s.devices = "0"; s.env = "CUDA_LAUNCH_BLOCKING=1 CUDA_LAUNCH_BLOCKING=1";  refused(&s, "zone record");
	/* one rule broken at a time */
	s = good; s.version = VGPU_CKPT_VERSION + 1; refused(&s, "format version 3");  /* a future format */
	s = good; s.version = 0;                 refused(&s, "format version 0");
	s = good; s.version = 1;                 /* the first format: read, as long as it holds only its own kinds */
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	CHECK_EQ(m.version, 1);
	s = good; s.bad_crc = 1;                 refused(&s, "checksum mismatch");
	s = good; s.trailing = 1;                refused(&s, "after the end record");
	s = good; s.ctx_slot = 6;                refused(&s, "context record");      /* slot past the table */
	s = good; s.ctx_kind = 3;                refused(&s, "context record");      /* no such kind */
	s = good; s.ctx_kind = 2;                build(&s);                           /* an idle primary context */
	CHECK_EQ(vgpu_ckpt_check(buf, n, &m, why, sizeof(why)), 0);
	s = good; s.mod_owner = 3;               refused(&s, "module record");       /* owner is no context (yet) */
	s = good; s.fn_module = 0;               refused(&s, "function record");     /* a context, not a module */
	s = good; s.swap_records = 1;            refused(&s, "out of order");        /* an event before streams */
	s = good; s.stream_flags = 0x10;         refused(&s, "stream record");       /* unknown flag */
	s = good; s.ev_flags = 0x100;            refused(&s, "event record");
	s = good; s.ev_flags = 0x80000000u;      /* a timing event that had been recorded */
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = good; s.ev_flags = 0x80000002u;      refused(&s, "event record");       /* recorded, yet no timing */
	s = good; s.base2 = 0x7f0000200800ull;   refused(&s, "overlaps");            /* inside the first range */
	s = good; s.base2 = 0xffffffffffffffc0ull; refused(&s, "user address space");
	s = good; s.alloc_not_ranged = 1;        refused(&s, "is not range 1");
	s = good; s.pool_kind = 0; s.pool_type = s.pool_loc = 0;
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);   /* a device's default pool */
	s = good; s.pool_kind = 2;               refused(&s, "memory pool record");  /* neither default nor created */
	s = good; s.pool_kind = 0;               refused(&s, "memory pool record");  /* a default pool with properties */
	s = good; s.pool_type = 2;               refused(&s, "memory pool record");  /* not pinned device memory */
	s = good; s.pool_loc = 2;                refused(&s, "memory pool record");  /* not on a device */
	s = good; s.pool_dev = 64;               refused(&s, "memory pool record");  /* no such device */
	s = good; s.pool_reuse = 8;              refused(&s, "memory pool record");  /* unknown reuse flag */
	s = good; s.pool_pad = 1;                refused(&s, "memory pool record");
	s = good; s.pool_where = 1;              refused(&s, "out of order");        /* before the events */
	s = good; s.pool_where = 2;              refused(&s, "out of order");        /* after the allocations */
	/* a module global: the second allocation's range, named, of the module in slot 1 */
	const struct shape glob = { .slots = 6, .ctx_slot = 0, .mod_owner = 0, .fn_module = 1, .stream_flags = 1,
				    .ev_flags = 2, .base2 = 0x7f0000201000ull, .version = VGPU_CKPT_VERSION,
				    .pool_kind = 1, .pool_dev = 0, .pool_type = 1, .pool_loc = 1, .pool_reuse = 5,
				    .glob_where = 1, .glob_module = 1, .glob_base = 0x7f0000201000ull, .glob_size = 64,
				    .glob_name = "dev_table" };
	CHECK_EQ((build(&glob), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	CHECK_EQ(m.handles, 6);                                                      /* not a handle */
	s = glob; s.glob_where = 2;              refused(&s, "global record");       /* before the allocations: none came before it */
	s = glob; s.glob_module = 0;             refused(&s, "global record");       /* a context, not a module */
	s = glob; s.glob_module = 6;             refused(&s, "global record");       /* past the table */
	s = glob; s.glob_base += 8;              refused(&s, "global record");       /* inside, not a range */
	s = glob; s.glob_size = 65;              refused(&s, "global record");       /* longer than its range */
	s = glob; s.glob_base = 0x7f0000300000ull; refused(&s, "global record");     /* no range there */
	s = glob; s.glob_name = "";              refused(&s, "global record");       /* no name */
	s = glob; s.glob_name_len = 4;           refused(&s, "global record");       /* length disagrees */
	s = glob; s.glob_name = "a\0b"; s.glob_bytes = 3; refused(&s, "global record"); /* a NUL inside */
	s = glob; s.alloc2_flags = 1;            /* the global's bytes, for a restorer that cannot place it */
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = glob; s.alloc2_flags = 3;            refused(&s, "allocation record");   /* an unknown kind */
	s = glob; s.alloc2_flags = 1 | 1u << 8;  refused(&s, "allocation record");   /* a device for a global */
	/* a stream-ordered allocation (kind 2), of the device in bits 8-15, owned by no context */
	s = good; s.alloc2_flags = 2 | 1u << 8;
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	CHECK_EQ(m.version, 2);
	s.version = 1;                           refused(&s, "allocation record");   /* a kind version 1 did not have */
	s = good; s.alloc2_flags = 2 | 64u << 8; refused(&s, "allocation record");   /* past the devices a zone can have */
	s = good; s.alloc2_flags = 1u << 8;      refused(&s, "allocation record");   /* a device for a context's */
	/* a module global's value by name, as a GPU driver's checkpoint carries it */
	struct shape gv = glob;
	gv.gval_where = 1; gv.gval_module = 1; gv.gval_name = "dev_counter"; gv.gval_size = gv.gval_written = 4;
	CHECK_EQ((build(&gv), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	CHECK_EQ(m.handles, 6);                                                      /* not a handle */
	s = gv; s.gval_where = 3;                refused(&s, "out of order");        /* before the allocations */
	s = gv; s.gval_module = 0;               refused(&s, "global value record"); /* a context, not a module */
	s = gv; s.gval_module = 6;               refused(&s, "global value record"); /* past the table */
	s = gv; s.gval_name = "";                refused(&s, "global value record"); /* no name */
	s = gv; s.gval_name = "a\0b"; s.gval_name_bytes = 3; refused(&s, "global value record"); /* a NUL inside */
	s = gv; s.gval_size = 0; s.gval_written = 0; refused(&s, "global value record"); /* no value */
	s = gv; s.gval_size = 8;                 refused(&s, "global value record"); /* longer than its bytes */
	s = gv; s.gval_written = 8;              refused(&s, "global value record"); /* shorter than its bytes */
	s = gv; s.gval_size = 1ull << 40;        refused(&s, "global value record"); /* over the limit */
	/* pinned regions and channels, as a zone saved with checkpoint --stop lists them */
	struct shape sv = good;
	sv.npin = 2; sv.nchan = 3;
	CHECK_EQ((build(&sv), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	CHECK_EQ(m.handles, 6);                                                      /* neither is a handle */
	s = sv; s.chan_ctx = NO_SLOT;                                                /* a thread with no context */
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = sv; s.npin = 3; s.pin_slot2 = 5;     refused(&s, "pinned region record"); /* slots not ascending (5 then 2) */
	s = sv; s.pin_bytes = 1ull << 41;        refused(&s, "pinned region record"); /* larger than any file */
	s = sv; s.npin = 1; s.pin_key2 = 0x1234; refused(&s, "pinned region record"); /* a key without its top bit */
	s = sv; s.pin_key2 = 0x8000000000005678ull; refused(&s, "pinned region record"); /* another key */
	s = sv; s.pin_pad = 1;                   refused(&s, "pinned region record");
	s = sv; s.pin_len = 32;                                                      /* a file without addresses */
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = sv; s.pin_len = 36;                  refused(&s, "pinned region record"); /* neither form */
	s = sv; s.pin_len = 44;                  refused(&s, "over its limit");
	/* device output the zone had not taken: one record per stream, after the channels */
	s = sv; s.nout = 2;
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = sv; s.nout = 2; s.out_stream2 = 3;   refused(&s, "device output record"); /* no such stream (2) */
	s = sv; s.nout = 2; s.out_stream2 = 1;   refused(&s, "device output record"); /* stream 0 twice */
	s = sv; s.nout = 1; s.out_pad = 1;       refused(&s, "device output record");
	s = sv; s.nout = 1; s.out_empty = 1;     refused(&s, "device output record"); /* no text */
	s = sv; s.nout = 1; s.out_first = 1;     refused(&s, "out of order");        /* before the pinned regions */
	s = sv; s.chan_ctx = 1;                  refused(&s, "channel record");       /* a module, not a context */
	s = sv; s.chan_ctx = 6;                  refused(&s, "channel record");       /* past the table */
	s = sv; s.chan_pad = 1;                  refused(&s, "channel record");
	s = sv; s.chan_pos0 = 0x41;              refused(&s, "channel record");       /* a message index not aligned */
	s = sv; s.chan_ino = 100;                refused(&s, "channel record");       /* the first ring again */
	/* a thread's context stack: the contexts below the current one, bottom first */
	s = sv; s.chan_nbelow = 2;                                                   /* the same context pushed twice */
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = sv; s.chan_nbelow = 7;                                                   /* eight in all: the most carried */
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = sv; s.chan_nbelow = 8;               refused(&s, "over its limit");       /* nine */
	s = sv; s.chan_nbelow = 2; s.chan_below[1] = 1; refused(&s, "channel record"); /* a module below */
	s = sv; s.chan_nbelow = 1; s.chan_below[0] = 6; refused(&s, "channel record"); /* past the table */
	s = sv; s.chan_nbelow = 1; s.chan_ctx = NO_SLOT; refused(&s, "channel record"); /* below nothing current */
	s = sv; s.chan_nbelow = 1; s.chan_pad = 1; refused(&s, "channel record");     /* says two, carries one */
	s = sv; s.chan_before_pin = 1;           refused(&s, "out of order");         /* channels before the regions */
	s = sv; s.chans_before_allocs = 1;       refused(&s, "out of order");         /* before the allocations */
	/* a graph and an executable graph: slots 6..8 on a table of 9 */
	struct shape gs = good;
	gs.slots = 9; gs.graph = 1;
	CHECK_EQ((build(&gs), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	CHECK_EQ(m.handles, 8);                                                      /* the graph and the executable graph */
	s = gs; s.g_fn = 1;                      refused(&s, "graph record");          /* a module, not a function */
	s = gs; s.g_dep = 1;                     refused(&s, "graph record");          /* depends on itself */
	s = gs; s.g_es = 3;                      refused(&s, "graph record");          /* a memset of 3-byte elements */
	s = gs; s.g_event = 2;                   refused(&s, "graph record");          /* an event node naming a function */
	s = gs; s.g_node_slot = 5;               refused(&s, "graph record");          /* a node at a taken slot (the pool) */
	s = gs; s.g_node_slot = 9;               refused(&s, "graph record");          /* past the table */
	s = gs; s.g_exec_node_slot = 8;          refused(&s, "executable graph record"); /* an executable graph's node with a slot */
	s = gs; s.g_grid = 1;                    refused(&s, "graph record");          /* a grid of 0 */
	s = gs; s.g_psize = 9;                   refused(&s, "graph record");          /* a parameter running past the body */
	s = gs; s.g_type = 3;                    refused(&s, "graph record");          /* a host function node */
	s = gs; s.g_short_body = 1;              refused(&s, "graph record");          /* a body cut short */
	s = gs; s.g_flags = 0x10;                refused(&s, "executable graph record"); /* an unknown instantiation flag */
	s = gs; s.g_mdst = 0x7f0000200fc8ull;    refused(&s, "graph record");          /* a memset running past its allocation */
	s = gs; s.g_mdst = 0x7f0000300000ull;    refused(&s, "graph record");          /* a memset of no allocation */
	s = gs; s.g_before_globals = 1;          refused(&s, "graph record");          /* before the allocations: its memset in none */
	s = gs; s.gval_where = 1; s.gval_module = 1; s.gval_name = "v"; s.gval_size = s.gval_written = 4;
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);   /* a value before the graphs */
	s.gval_where = 2;                        refused(&s, "out of order");          /* and after them */
	s = gs; s.g_child = 1;                   /* a child graph node holding an empty node */
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = gs; s.g_child = 2; s.g_node_slot = NO_SLOT; refused(&s, "graph record");  /* a child graph's node with a slot (the kernel's slot 8) */
	s = gs; s.g_child = 3;                   refused(&s, "graph record");          /* child graphs nested 9 deep */
	/* virtual memory management: a reservation, a physical allocation with its bytes, a mapping */
	struct shape vs = good;
	vs.vmm = 1;
	CHECK_EQ((build(&vs), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = vs; s.v_refs = 0;                    /* released by the zone, still mapped */
	CHECK_EQ((build(&s), vgpu_ckpt_check(buf, n, &m, why, sizeof(why))), 0);
	s = vs; s.v_res_base = 0x7f0000200000ull; refused(&s, "address reservation"); /* over an allocation */
	s = vs; s.v_res_size = 100;              refused(&s, "address reservation");  /* not page-aligned */
	s = vs; s.v_second_res_overlaps = 1;     refused(&s, "address reservation");  /* overlapping reservations */
	s = vs; s.v_key = 0x1234ull << 32;       refused(&s, "physical allocation");  /* a key without its top bit */
	s = vs; s.v_id = VKEY;                   refused(&s, "physical allocation");  /* serial 0 */
	s = vs; s.v_id = VKEY ^ (1ull << 40);    refused(&s, "physical allocation");  /* serial past the low half */
	s = vs; s.v_type = 2;                    refused(&s, "physical allocation");  /* not pinned device memory */
	s = vs; s.v_map_off = 4096;              refused(&s, "mapping record");       /* runs past its allocation */
	s = vs; s.v_map_id = VKEY ^ 2;           refused(&s, "mapping record");       /* an allocation not there */
	s = vs; s.v_map_base = 0x7f0000402000ull; refused(&s, "mapping record");      /* outside the reservation */
	s = vs; s.v_access = 2;                  refused(&s, "mapping record");       /* an unknown access */
	s = vs; s.v_map_first = 1;               refused(&s, "mapping record");       /* before its allocation */
	/* cut anywhere: refused, never read past the end */
	build(&good);
	size_t full = n;
	for (size_t cut = 0; cut < full; cut += 7) {
		why[0] = '\0';
		CHECK(vgpu_ckpt_check(buf, cut, &m, why, sizeof(why)) < 0);
		CHECK(why[0] != '\0');
	}
	/* the CRC-32C check value */
	CHECK_EQ(vgpu_crc32c(0, "123456789", 9), 0xe3069283u);
	CHECK_DONE();
}
