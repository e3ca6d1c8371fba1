/* SPDX-License-Identifier: MIT */
/* trace.h — the VGPU_TRACE file format: every message and bulk input a zone's libvgpu sends (docs/TRACE.md). */
#ifndef VGPU_TRACE_H
#define VGPU_TRACE_H

#include <stdint.h>

/*
 * A trace file is the 8-byte magic VGPU_TRACE_MAGIC followed by records, each a fixed
 * 24-byte little-endian header and `len` data bytes:
 *   kind    VGPU_TRACE_MSG: a request exactly as sent (data = the msgpack payload);
 *           VGPU_TRACE_BULK: bulk input bytes streamed after the last request of that channel;
 *           VGPU_TRACE_REPLY: the proxy's reply to that request (data = its payload)
 *   chan    channel number within the process (1, 2, ...: one per client thread's channel)
 *   opcode, flags, seq   the message header (for BULK: those of the request it belongs to)
 *   len     data bytes that follow (a BULK record may be cut to VGPU_TRACE_BULK_MAX bytes;
 *           full_len then says how many bytes were really streamed)
 * Records of different threads never interleave inside a record (one write per record).
 */
#define VGPU_TRACE_MAGIC "VGPUTRC1"
enum { VGPU_TRACE_MSG = 1, VGPU_TRACE_BULK = 2, VGPU_TRACE_REPLY = 3 };
#define VGPU_TRACE_BULK_MAX (1u << 20)

struct vgpu_trace_rec {
	uint8_t kind;
	uint8_t pad[3];
	uint32_t chan;
	uint16_t opcode;
	uint16_t flags;
	uint32_t seq;
	uint32_t len;
	uint32_t full_len;
};
_Static_assert(sizeof(struct vgpu_trace_rec) == 24, "trace record header is 24 bytes");

/* Nonzero when VGPU_TRACE named a file this process could open (set before main). */
extern int vgpu_trace_enabled;
/* Record a request sent on channel `key` (any pointer identifying the channel). */
void vgpu_trace_msg(const void *key, uint16_t opcode, uint16_t flags, uint32_t seq, const void *payload,
		    uint32_t len);
/* Record the reply (payload, len) to request seq on channel `key`. */
void vgpu_trace_reply(const void *key, uint16_t opcode, uint32_t seq, const void *payload, uint32_t len);
/* Record n bulk input bytes streamed on channel `key` after its last request. */
void vgpu_trace_bulk(const void *key, uint16_t opcode, uint32_t seq, const void *data, uint64_t n);

#endif
