/* SPDX-License-Identifier: MIT */
/* drvenv.h — the driver settings a zone's process may give its worker's driver (CUDA_LAUNCH_BLOCKING and a few more). */
#ifndef VGPU_DRVENV_H
#define VGPU_DRVENV_H
#include <stddef.h>

/*
 * The driver reads some environment variables once, at cuInit, and a program sets them for
 * itself: CUDA_LAUNCH_BLOCKING=1 to have each kernel's error returned by its launch (what
 * PyTorch tells a user to try on every asynchronous CUDA error), CUDA_DEVICE_MAX_CONNECTIONS
 * (Megatron-LM's ordering of work on streams), CUDA_MODULE_LOADING and
 * CUDA_MODULE_DATA_LOADING (lazy or eager loading), CUDA_FORCE_PTX_JIT, CUDA_DISABLE_PTX_JIT
 * and CUDA_SCALE_LAUNCH_QUEUES. A zone's driver is its worker's, so its process sends them
 * with its first hello as text: "NAME=VALUE" entries separated by single spaces, in the order
 * of the list above, each name at most once, each value one the driver takes (0 or 1; a number
 * of connections from 1 to 32; LAZY or EAGER; 0.25x, 0.5x, 2x or 4x). Nothing else travels:
 * no path (the JIT cache, core dumps) and nothing another zone would notice.
 */
#define VGPU_DRVENV_BYTES 256

/* The settings of this process's environment, as that text ("" when none): what is set with
 * a value the driver would not take is left out and, when warn is given, reported to it. */
void vgpu_drvenv_collect(char out[VGPU_DRVENV_BYTES], void (*warn)(const char *name, const char *value));

/* 0 when text is exactly such a list (NUL-terminated within VGPU_DRVENV_BYTES), else -1. */
int vgpu_drvenv_check(const char *text);

/* setenv each entry of a checked text: 0, or -errno. */
int vgpu_drvenv_apply(const char *text);
#endif
