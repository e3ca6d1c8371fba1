/* SPDX-License-Identifier: MIT */
/* vgpuctl.h — vgpuctl's commands that talk to zones' workers (vgpuctl_ckpt.c). Exit status 0/1/2 as vgpuctl's. */
#ifndef VGPU_VGPUCTL_H
#define VGPU_VGPUCTL_H

int vgpuctl_checkpoint(const char *ctl, const char *zone, const char *file, int stay_stopped);
int vgpuctl_thaw(const char *ctl, const char *zone);
int vgpuctl_restore(const char *ctl, const char *file);
int vgpuctl_migrate(const char *ctl, const char *zone, const char *to_ctl);
/* vgpuctl_inspect.c: a checkpoint file checked offline, no proxy needed */
int vgpuctl_inspect(const char *file);

#endif
