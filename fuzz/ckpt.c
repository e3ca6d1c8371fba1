/* SPDX-License-Identifier: MIT */
/* ckpt.c — fuzz target for checkpoint files, read by a proxy restoring a zone (proxy/ckpt.c) with the wire's hostile-input discipline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckpt.h"

/*
 * Input: byte 0 selects how the rest is presented.
 *   even: as a checkpoint's payload: a valid header (magic, version, length, the
 *         simulator's backend) is put in front, so that every input reaches the record
 *         parser (the checksum is only checked at the end record, after every other rule);
 *   odd:  as a whole file, header included (header and checksum checks).
 * Oracle: an accepted file describes itself consistently (handles <= slots, allocations'
 * bytes add up, the file's length); the same bytes read from a file in one pass
 * (vgpu_ckpt_verify, vgpuctl inspect's and a restore's way of reading) get the same verdict
 * and description; ASan/UBSan: nothing outside the input is read.
 */

static void violated(const char *what)
{
	fprintf(stderr, "ORACLE VIOLATED: %s\n", what);
	abort();
}

static void fz_ckpt_one(const uint8_t *d, size_t n)
{
	struct vgpu_ckpt_meta m;
	char why[256];
	uint8_t *buf;
	size_t len;

	if (!n)
		return;
	if (d[0] & 1) {
		len = n - 1;
		buf = malloc(len ? len : 1);   /* exactly the input: ASan sees any read past it */
		memcpy(buf, d + 1, len);
	} else {
		uint64_t payload = n - 1;
		uint32_t v;
		len = VGPU_CKPT_HDR_BYTES + payload;
		buf = calloc(1, len);
		memcpy(buf, VGPU_CKPT_MAGIC, 8);
		v = VGPU_CKPT_VERSION; memcpy(buf + 8, &v, 4);
		v = VGPU_CKPT_HDR_BYTES; memcpy(buf + 12, &v, 4);
		memcpy(buf + 16, &payload, 8);
		v = 2; memcpy(buf + 28, &v, 4);   /* the simulator */
		memcpy(buf + VGPU_CKPT_HDR_BYTES, d + 1, payload);
	}
	int rc = vgpu_ckpt_check(buf, len, &m, why, sizeof(why));
	if (getenv("VGPU_FUZZ_VERBOSE"))
		fprintf(stderr, "%s\n", rc == 0 ? "accepted" : why);
	if (rc == 0) {
		if (m.handles > m.slots)
			violated("more live handles than slots");
		if (m.version < VGPU_CKPT_VERSION_MIN || m.version > VGPU_CKPT_VERSION)
			violated("a format version this reader does not read");
		if (m.file_bytes != len || m.mem_bytes > len || (m.allocs && !m.mem_bytes))
			violated("sizes that the file cannot hold");
		if (memchr(m.name, 0, sizeof(m.name)) == NULL || memchr(m.source, 0, sizeof(m.source)) == NULL)
			violated("an unterminated name");
	} else if (!why[0] || !memchr(why, 0, sizeof(why))) {
		violated("a refusal without a reason");
	}
	/* the same bytes as a file (one memfd, kept across inputs) */
	static int fd = -2;
	if (fd == -2)
		fd = memfd_create("vgpu-fuzz-ckpt", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, (off_t)len) == 0 && pwrite(fd, buf, len, 0) == (ssize_t)len && lseek(fd, 0, SEEK_SET) == 0) {
		struct vgpu_ckpt_meta f;
		char fwhy[256];
		int frc = vgpu_ckpt_verify(fd, &f, fwhy, sizeof(fwhy));
		if ((frc == 0) != (rc == 0))
			violated("the file reader and the in-memory reader disagree on whether the checkpoint is sound");
		if (rc == 0 && (f.version != m.version || f.backend != m.backend || f.zone_id != m.zone_id ||
				f.slots != m.slots || f.handles != m.handles || f.allocs != m.allocs ||
				f.mem_bytes != m.mem_bytes || f.file_bytes != m.file_bytes || strcmp(f.name, m.name) ||
				strcmp(f.reg, m.reg) || strcmp(f.source, m.source) || memcmp(f.token, m.token, sizeof(f.token))))
			violated("the file reader and the in-memory reader describe the checkpoint differently");
	}
	free(buf);
}

#include "fz_target.h"
FZ_TARGET_MAIN("vgpu-fuzz-ckpt",
		 "Fuzzes the checkpoint-file reader a proxy runs before restoring a zone\n"
		 "(proxy/ckpt.c; input format: fuzz/ckpt.c).\n",
		 fz_ckpt_one)
