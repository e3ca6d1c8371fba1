/* SPDX-License-Identifier: MIT */
/* darkapi.h — cuGetExportTable: the private tables the CUDA runtime asks the driver for, built on vgpu_drv. */
#ifndef VGPU_DARKAPI_H
#define VGPU_DARKAPI_H

#include <stddef.h>
#include <stdint.h>
#include <cuda.h>

/*
 * The table for id in *table. Known tables are implemented over the public driver API
 * (runtime/drvtab.h), with the slots whose meaning is known; every other slot is a function
 * that logs its table and slot and returns CUDA_ERROR_NOT_SUPPORTED. An unknown id gets
 * CUDA_ERROR_NOT_SUPPORTED and one log line naming it (once per id); a table deliberately
 * not offered gets CUDA_ERROR_NOT_FOUND, as a driver without it answers.
 */
CUresult vgpu_darkapi_get(const void **table /* out */, const CUuuid *id);

/*
 * The context with key ctx_key (vgpu_drv.ctx_key) is gone: destroyed, or a primary context
 * reset or released for the last time. Its context-local storage is dropped without handing
 * the values to their destructors: cudaDeviceReset tears down the runtime's own state after
 * the reset returns, and a destructor run inside that call could free what it still uses.
 */
void vgpu_darkapi_ctx_gone(unsigned long long ctx_key);

/*
 * vgpu's own export table (no NVIDIA driver has it): the devices before CUDA_VISIBLE_DEVICES
 * (vgpu_drv.devices_all), for vgpu's NVML, which numbers devices as NVIDIA's does.
 */
#define VGPU_DEVICES_TABLE_ID { 0x76, 0x67, 0x70, 0x75, 0x2d, 0x64, 0x65, 0x76, 0x69, 0x63, 0x65, 0x73, 0x2d, 0x61, 0x6c, 0x6c }
struct vgpu_devices_table {
	size_t size;
	int (*devices_all)(int *all, int *ord, int cap);
};

/* The UUID as text, "6bd5fb6c-5bf4-e74a-8987-d93912fd9df9" (buf: 37 bytes). */
void vgpu_uuid_format(const CUuuid *id, char buf[37]);

/*
 * The runtime's integrity hash (the INTEGRITY_CHECK table's slot 1) over the given inputs:
 * HMAC with MD2 (RFC 1319) and a fixed 16-byte key, exposed for the unit test.
 */
struct vgpu_integrity_device {
	CUuuid uuid;
	int32_t pci_domain, pci_bus, pci_device;
};
void vgpu_darkapi_integrity_hash(uint32_t version, uint64_t unix_seconds, uint32_t driver_version,
				 uint32_t pid, uint32_t thread, const void *cudart_table,
				 const void *integrity_table, const void *fn,
				 const struct vgpu_integrity_device *devs, unsigned ndev,
				 uint64_t out[2] /* out */);

/* MD2 of len bytes (RFC 1319), for the unit test. */
void vgpu_md2(const void *data, size_t len, uint8_t digest[16] /* out */);

#endif
