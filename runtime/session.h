/* SPDX-License-Identifier: MIT */
/* session.h — how a zone's channel introduces itself to vgpu-proxy (hello, welcome, control opcodes). */
#ifndef VGPU_SESSION_H
#define VGPU_SESSION_H

#include <stdint.h>

/* Default listening socket of vgpu-proxy (shm transport); libvgpu reads VGPU_PROXY to override. */
#define VGPU_DEFAULT_SOCKET "/run/vgpu/proxy.sock"

#define VGPU_HELLO_MAGIC   0x48504756u /* "VGPH" little-endian */
#define VGPU_PROTO_VERSION 1u

enum vgpu_hello_kind {
	VGPU_HELLO_NEW_ZONE = 1, /* first channel of a zone: the proxy creates the zone (a worker process) */
	VGPU_HELLO_JOIN     = 2, /* another channel (thread) of an existing zone, named by its token */
	VGPU_HELLO_REJOIN   = 3, /* a channel whose server vanished with the zone saved: the same ring,
				    offered to the zone's restore (answered on the socket, below) */
};

/*
 * Rejoining (docs/ARCHITECTURE.md, "Rejoining a restored zone"). After the REJOIN hello
 * (with the ring's memfd) the client sends one vgpu_rejoin_pinned record with the memfd of
 * each pinned host memory region it shares with the zone, then a vgpu_rejoin_pinned record
 * with id 0 and no fd; the proxy answers with one vgpu_rejoin_answer on the socket (never
 * in the ring, which holds the zone's queued requests). status 0: the ring is served again;
 * VGPU_REJOIN_LATER: the zone is not (yet) here, try again; anything else: refused for good
 * (a -errno, msg says why).
 */
#define VGPU_REJOIN_PINNED_MAGIC 0x50524a56u /* "VJRP" */
#define VGPU_REJOIN_ANSWER_MAGIC 0x41524a56u /* "VJRA" */
#define VGPU_REJOIN_MAX_PINNED   4096u
#define VGPU_REJOIN_LATER        1
struct vgpu_rejoin_pinned {
	uint32_t magic;     /* VGPU_REJOIN_PINNED_MAGIC */
	uint32_t reserved;  /* 0 */
	uint64_t id;        /* the region's id in the zone (0: the last record, no fd) */
	uint64_t bytes;     /* its size */
};
struct vgpu_rejoin_answer {
	uint32_t magic;     /* VGPU_REJOIN_ANSWER_MAGIC */
	int32_t  status;
	char     msg[120];
};

/*
 * Sent by the client with the region's file descriptor when a channel is opened
 * (vgpu_shm_connect's hello bytes). Fixed size; every field is validated by the proxy,
 * and name need not be NUL-terminated on the wire (the proxy terminates its copy).
 */
struct vgpu_hello {
	uint32_t magic;     /* VGPU_HELLO_MAGIC */
	uint16_t version;   /* VGPU_PROTO_VERSION */
	uint16_t kind;      /* enum vgpu_hello_kind */
	uint8_t  token[16]; /* JOIN: the zone token from the welcome; NEW_ZONE: zero */
	uint32_t pid;       /* client process id, for logs only (never trusted) */
	uint32_t flags;     /* 0, or VGPU_HELLO_F_* (NEW_ZONE only): a vgpu_hello_ext follows */
	char     name[64];  /* zone name for logs and stats */
};

/*
 * A NEW_ZONE whose process has CUDA_VISIBLE_DEVICES or driver settings (drvenv.h) set sends
 * them after the hello, in the same record (vgpu_hello_ext, with the flags saying which fields
 * hold something): the proxy reads the list over the devices it shows zones and starts the
 * zone's driver with those devices and settings (docs/ARCHITECTURE.md, "CUDA_VISIBLE_DEVICES
 * in a zone", "Driver settings of a zone"). Each text is NUL-terminated within its field; a
 * device list that names none of the proxy's devices is refused with CUDA_ERROR_NO_DEVICE.
 */
#define VGPU_HELLO_F_VISIBLE     1u   /* visible: the process's CUDA_VISIBLE_DEVICES */
#define VGPU_HELLO_F_DRIVER_ENV  2u   /* env: its driver settings, as drvenv.h writes them */
#define VGPU_HELLO_VISIBLE_BYTES 1024u
#define VGPU_HELLO_ENV_BYTES     256u
struct vgpu_hello_ext {
	struct vgpu_hello hello;
	char visible[VGPU_HELLO_VISIBLE_BYTES];
	char env[VGPU_HELLO_ENV_BYTES];
};

/*
 * Control opcodes, outside the range used by generated calls (which stay below
 * VGPU_OP_CONTROL_BASE). Their payloads are the raw little-endian structs below.
 */
#define VGPU_OP_CONTROL_BASE 0xff00u
enum vgpu_control_op {
	VGPU_OP_WELCOME = 0xff00, /* proxy -> client, first message on every channel */
	VGPU_OP_BYE     = 0xff01, /* client -> proxy, orderly close of this channel (no reply) */
	/* Pinned host memory shared with the proxy (docs/ARCHITECTURE.md, "Pinned memory"). */
	VGPU_OP_PINNED_MAP   = 0xff02, /* client -> proxy: map the memfd just passed on the socket */
	VGPU_OP_PINNED_UNMAP = 0xff03, /* client -> proxy: forget a region (after its copies) */
	VGPU_OP_PINNED_COPY  = 0xff04, /* client -> proxy: a copy between a region and device memory */
	VGPU_OP_PINNED_GRANT = 0xff05, /* client (Xen guest) -> proxy: map the pages it granted to Dom0 */
	/* client -> proxy: take what the zone's kernels printed (device printf), after a reply
	 * flagged VGPU_MSG_F_OUTPUT */
	VGPU_OP_OUTPUT       = 0xff06,
	/* client -> proxy: where a pinned region is for the zone's kernels (mapped host memory) */
	VGPU_OP_PINNED_WHERE = 0xff07,
	/* client -> proxy: report the host function the zone ran, wait for the next one
	 * (runtime/custom_wire.h, host functions) */
	VGPU_OP_HOSTFN       = 0xff08,
};

/* Their messages are msgpack like every call's, described in runtime/custom_wire.h. */
/* The control opcodes a client may send besides BYE: the pinned-memory messages. */
static inline int vgpu_op_is_pinned(uint16_t op)
{
	return (op >= VGPU_OP_PINNED_MAP && op <= VGPU_OP_PINNED_GRANT) || op == VGPU_OP_PINNED_WHERE;
}

/* ... and the request for the zone's device output, and the host-function wait. */
static inline int vgpu_op_is_client_control(uint16_t op)
{
	return vgpu_op_is_pinned(op) || op == VGPU_OP_OUTPUT || op == VGPU_OP_HOSTFN;
}

/* Payload of VGPU_OP_WELCOME. status != 0 means refused (a CUresult); the proxy then closes. */
struct vgpu_welcome {
	uint32_t status;
	uint32_t zone_id;   /* small number for logs and stats */
	uint8_t  token[16]; /* the zone's token, to JOIN more channels */
	uint32_t backend;   /* 1 = real driver, 2 = simulator (test double) */
	uint32_t ndev;      /* the devices the proxy shows zones, before the zone's CUDA_VISIBLE_DEVICES
			       (0: not said) */
	/* status VGPU_STATUS_MOVED: the proxy socket the zone moved to; status 0: the devices the
	 * zone's driver was started with, as the proxy's ordinals ("1,0"; "": all, in order) */
	char moved_to[108];
};
/* Welcome status of a JOIN whose zone was migrated to another proxy (not a CUresult): the
 * client opens its channels at welcome.moved_to from then on. */
#define VGPU_STATUS_MOVED 0x44564d56u /* "VMVD" */

/*
 * Zone tokens as text (environment, files, xenstore, the control socket): 32 hex digits.
 * vgpu_token_parse accepts exactly 32 digits and the end of the string; upper case only
 * with any_case (what people type). 0, or -1 with tok zeroed.
 */
static inline int vgpu_token_parse(const char *hex, int any_case, uint8_t tok[16])
{
	for (unsigned i = 0; i < 32; i++) {
		char c = hex ? hex[i] : '\0';
		int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 :
			(any_case && c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (d < 0) {
			for (unsigned j = 0; j < 16; j++)
				tok[j] = 0;
			return -1;
		}
		tok[i / 2] = (uint8_t)(tok[i / 2] << 4 | d);
	}
	if (hex[32] != '\0') {
		for (unsigned j = 0; j < 16; j++)
			tok[j] = 0;
		return -1;
	}
	return 0;
}

/* The 32 lower-case hex digits of tok, NUL-terminated. */
static inline void vgpu_token_format(const uint8_t tok[16], char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < 16; i++) {
		hex[2 * i] = digits[tok[i] >> 4];
		hex[2 * i + 1] = digits[tok[i] & 15];
	}
	hex[32] = '\0';
}

/* Message flags (struct vgpu_msg_hdr.flags). */
#define VGPU_MSG_F_ASYNC 0x0001u /* request: no reply will be sent; errors surface at the next sync call */
#define VGPU_MSG_F_REPLY 0x0002u /* reply to the request with the same seq */
/* request of a device-to-host copy (vgpu_copy_shape, or a 2D/3D copy to host rows) whose bytes travel on the bulk stream:
 * the proxy sends all of them (zeros after a failure) BEFORE the reply, which then carries
 * the copy's true result; the client reads them straight into the destination */
#define VGPU_MSG_F_DATA_FIRST 0x0004u
/* reply: the zone's kernels printed something (device printf) that the client has not taken
 * yet; it asks with VGPU_OP_OUTPUT and writes it to its own stdout */
#define VGPU_MSG_F_OUTPUT 0x0008u

#endif
