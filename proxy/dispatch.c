/* SPDX-License-Identifier: MIT */
/* dispatch.c — binds the generated driver table (generated/vgpu_dispatch.c) to a loaded backend. */
/* vgpu_dispatch.h names the driver's _v2 entry points itself: keep cuda.h's renaming macros off. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "proxyd.h"

#if defined(VGPU_HAVE_DISPATCH)
#include "vgpu_dispatch.h"

int vgpu_dispatch_load(struct vgpu_backend *be)
{
	struct vgpu_driver *drv = calloc(1, sizeof(*drv));
	if (!drv)
		return -ENOMEM;
	int rc = vgpu_driver_load(be->dl, drv);
	if (rc < 0) {
		free(drv);
		return rc;
	}
	be->drv = drv;
	return 0;
}
#else
int vgpu_dispatch_load(struct vgpu_backend *be)
{
	be->drv = NULL;
	return -ENOSYS;   /* built without generated/: no generated calls */
}
#endif
