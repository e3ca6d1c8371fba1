/* SPDX-License-Identifier: MIT */
/*
 * xenbus.h — how a zone's channel is found through xenstore (the Xen transport's bootstrap).
 *
 * For each channel the zone (libvgpu in a domU) creates the ring (vgpu_xen_create), then
 * writes, in one transaction, under its own home /local/domain/<domid>/data/vgpu/<id>/:
 *   dir-gref        grant ref of the first directory page
 *   evtchn          the unbound event channel port allocated for Dom0
 *   ring-pages      pages of the region
 *   msg-ring-bytes  geometry of the region
 *   bulk-bytes
 *   kind            "new" (a new zone), "join" (another thread's channel of a zone) or
 *                   "rejoin" (a channel whose worker vanished with the zone saved, offered to
 *                   the zone's restore: the same grants and port; answered "later" while the
 *                   zone is not there)
 *   token           32 hex digits: join: the zone's token; new: a registration's, or absent
 *   name            zone name for logs (printable, at most 64 bytes)
 *   pid             client process id (logs only)
 *   state           "ready" (written last)
 * vgpu-proxy in Dom0 watches /local/domain; it validates every claim (numbers, geometry,
 * page count within limits) before mapping anything, and answers in the same directory:
 *   state = "connected" once the worker attached the ring and sent the welcome, or
 *   state = "refused" with `error` saying why. When the channel ends the proxy removes
 *   the directory. The domain id comes from the path (xenstore enforces that a domain
 *   writes only under its own home), never from what the zone writes.
 */
#ifndef VGPU_XENBUS_H
#define VGPU_XENBUS_H

#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "session.h"

#define VGPU_XS_DIR "data/vgpu"   /* relative to the zone's home, /local/domain/<domid> */

/* A channel's claims, parsed and checked. */
struct vgpu_xs_chan {
	struct vgpu_xen_info xen;     /* domid from the path, the rest from the keys */
	struct vgpu_chan_geom geom;
	struct vgpu_hello hello;      /* magic/version filled in; kind, token, name, pid from the keys */
	int has_visible;              /* a new zone's CUDA_VISIBLE_DEVICES ("visible") is in visible */
	char visible[VGPU_HELLO_VISIBLE_BYTES];
	char env[VGPU_HELLO_ENV_BYTES];  /* a new zone's driver settings ("driver-env", checked), "" if none */
};

/*
 * Parse and check the keys of one channel directory. get(ctx, key) returns the value
 * (NUL-terminated) or NULL when absent. Returns NULL when acceptable, else a reason.
 * Pure: no xenstore access (unit-tested on its own).
 */
const char *vgpu_xs_parse_chan(const char *(*get)(void *ctx, const char *key), void *ctx, uint16_t domid,
			       struct vgpu_xs_chan *out /* out */);

/*
 * Split a watched path "/local/domain/<domid>/data/vgpu/<id>[/key]" into domid and the
 * channel directory (without the key). 0, or -EINVAL when the path is not a vgpu channel's.
 */
int vgpu_xs_chan_path(const char *path, uint16_t *domid /* out */, char *dir /* out */, size_t dir_len);

/*
 * Zone side: the zone token Dom0's toolstack left for this guest at "vgpu/token" under its
 * home (written by Dom0 before the guest runs, readable by the guest only). Copies the value
 * (NUL-terminated, at most cap - 1 bytes) into hex: 0, -ENOENT when there is none, or -errno.
 */
#define VGPU_XS_TOKEN_KEY "vgpu/token"
int vgpu_xs_zone_token(char *hex, size_t cap);

/*
 * Zone side: create a channel to Dom0 with geometry g and publish it with hello's kind,
 * token, name and pid; wait (up to timeout_ms) until the proxy says connected or refused.
 * 0 with *out; -EACCES when refused (the proxy's reason in vgpu_chan_setup_error()),
 * -ETIMEDOUT, -ENOENT when this is not a Xen domain, or another -errno.
 */
/* A channel whose backend vanished with the zone saved: publish the same ring (grants, port)
 * again with kind "rejoin". 0 connected (served again), VGPU_REJOIN_LATER (the proxy says
 * "later": the zone is not restored yet), -errno refused or no answer. */
int vgpu_xs_rejoin(struct vgpu_chan *ch, const struct vgpu_hello *hello, int timeout_ms);
int vgpu_xs_connect(const struct vgpu_hello *hello, const char *visible /* NULL: none */,
		    const char *env /* NULL: none */, const struct vgpu_chan_geom *g, int timeout_ms,
		    struct vgpu_chan **out /* out */);

#endif
