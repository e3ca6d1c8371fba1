/* SPDX-License-Identifier: MIT */
/* vgpuctl_inspect.c — vgpuctl inspect: a checkpoint file read through and checked offline, and what it holds. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "ckpt.h"
#include "vgpuctl.h"

/*
 * Every record and the checksum are checked as a restore would check them, in one pass with
 * bounded memory, and nothing is restored: a file that passes here is refused by a restore
 * only for what depends on the receiving proxy (its backend, limits, free addresses). The
 * zone's JOIN token, which the file holds, is not printed.
 */
int vgpuctl_inspect(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vgpuctl: cannot open %s: %s\n", file, strerror(errno));
		return 2;
	}
	struct vgpu_ckpt_meta m;
	char why[512] = "";
	int rc = vgpu_ckpt_verify(fd, &m, why, sizeof(why));
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "vgpuctl: %s is not a usable checkpoint: %s\n", file, why[0] ? why : strerror(-rc));
		return 1;
	}
	printf("%s: a vgpu checkpoint, format version %u, %llu bytes; every record and the checksum check out\n",
	       file, m.version, (unsigned long long)m.file_bytes);
	printf("  taken on       %s\n", m.backend == VGPU_BACKEND_SIM ? "the simulator (a test double)" : "a CUDA driver");
	printf("  zone           %u '%s'\n", m.zone_id, m.name);
	printf("  registration   %s\n", m.reg[0] ? m.reg : "none");
	printf("  handles        %u live in %u slots\n", m.handles, m.slots);
	printf("  allocations    %u, %llu bytes (%.1f MiB)\n", m.allocs, (unsigned long long)m.mem_bytes,
	       (double)m.mem_bytes / (1 << 20));
	printf("  devices        %s\n", m.devices[0] ? m.devices : "all");
	printf("  driver env     %s\n", m.env[0] ? m.env : "none");
	printf("  written by     %s\n", m.source[0] ? m.source : "a worker with no state socket");
	return 0;
}
