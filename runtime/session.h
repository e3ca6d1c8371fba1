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
	uint32_t reserved;  /* 0 */
	char     name[64];  /* zone name for logs and stats */
};

/*
 * Control opcodes, outside the range used by generated calls (which stay below
 * VGPU_OP_CONTROL_BASE). Their payloads are the raw little-endian structs below.
 */
#define VGPU_OP_CONTROL_BASE 0xff00u
enum vgpu_control_op {
	VGPU_OP_WELCOME = 0xff00, /* proxy -> client, first message on every channel */
	VGPU_OP_BYE     = 0xff01, /* client -> proxy, orderly close of this channel (no reply) */
};

/* Payload of VGPU_OP_WELCOME. status != 0 means refused (a CUresult); the proxy then closes. */
struct vgpu_welcome {
	uint32_t status;
	uint32_t zone_id;   /* small number for logs and stats */
	uint8_t  token[16]; /* the zone's token, to JOIN more channels */
	uint32_t backend;   /* 1 = real driver, 2 = simulator (test double) */
	uint32_t reserved;
};

/* Message flags (struct vgpu_msg_hdr.flags). */
#define VGPU_MSG_F_ASYNC 0x0001u /* request: no reply will be sent; errors surface at the next sync call */
#define VGPU_MSG_F_REPLY 0x0002u /* reply to the request with the same seq */

#endif
