/* SPDX-License-Identifier: MIT */
/* harness.h — the decoder/dispatch fuzz target's session-script format and its shared state. */
#ifndef VGPU_FUZZ_HARNESS_H
#define VGPU_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Input = a session script: records, one after the other, until the input ends (a record
 * cut short by the end is clamped to what is there). Every record starts with a control
 * byte:  bit 0 = zone (0 or 1),  bits 1-2 = kind:
 *   FZ_REC_MSG  (0):         u16 opcode, u16 flags, u32 len (LE), then len payload bytes —
 *                the message exactly as the proxy would copy it out of the ring;
 *   FZ_REC_BULK (1):         u32 len, then len bytes of the zone's bulk input stream; a bulk
 *                read consumes the BULK records that directly follow the message being
 *                served (anything else there = the client went away mid-transfer);
 *   FZ_REC_CLOSE (2):        the zone's channel closes (its next message opens a new one);
 *   FZ_REC_ALIAS (3):        u32 len, then the reply a recording proxy gave to the zone's last
 *                request: its uint64 values (handle ids, device pointers) are paired with those
 *                of the reply served here, and later requests of the zone are translated
 *                (fuzz/alias.c), so recorded sessions stay meaningful.
 * Bits 3-7 are ignored. Each zone's messages are served by its own channel loop, as in the
 * proxy (each on its own fiber); the script decides the interleaving exactly (one message
 * at a time).
 */
enum { FZ_REC_MSG = 0, FZ_REC_BULK = 1, FZ_REC_CLOSE = 2, FZ_REC_ALIAS = 3 };
#define FZ_MSG_HDR  9u   /* ctl + opcode + flags + len */
#define FZ_BULK_HDR 5u   /* ctl + len */
#define FZ_ZONES    2
#define FZ_SIM_ARENA_BASE "0x300000000000"   /* where the harness's simulator puts device memory */

/* Run one session script through the proxy's call path; oracles abort on a violation. */
void fz_run_one(const uint8_t *data, size_t len);
/* Load the simulator backend, the generated driver table, set up the zones' fibers. 0 or -errno. */
int fz_setup(void);

#endif
