/* SPDX-License-Identifier: MIT */
/* wire.h — call descriptor types: how each CUDA call and each of its parameters crosses the wire (data, not code). */
#ifndef VGPU_WIRE_H
#define VGPU_WIRE_H

#include <stdint.h>

/*
 * How one C parameter crosses the wire. The request is a msgpack array with one element
 * per parameter (in order); the reply is a msgpack array [CUresult, one element per
 * parameter] where parameters that carry nothing back are nil. docs/PROTOCOL.md has the
 * exact encoding of each kind.
 */
enum vgpu_arg_kind {
	VGPU_ARG_SCALAR = 1,     /* by value: int/enum/size_t/float/double... (size 1, 2, 4 or 8) */
	VGPU_ARG_HANDLE,         /* by value: CUcontext/CUstream/...; wire: u64 opaque id, 0 = NULL */
	VGPU_ARG_DPTR,           /* by value: CUdeviceptr; range-checked when a length is given */
	VGPU_ARG_OUT_SCALAR,     /* T* written by the call (NULL allowed: sent as nil) */
	VGPU_ARG_OUT_HANDLE,     /* CUx* written by the call; new handles registered on success */
	VGPU_ARG_OUT_DPTR,       /* CUdeviceptr* written by the call */
	VGPU_ARG_INOUT_SCALAR,   /* T* read and written by the call */
	VGPU_ARG_IN_BUF,         /* const void* / const T* + length expression */
	VGPU_ARG_OUT_BUF,        /* void* / T* + length expression, written by the call */
	VGPU_ARG_INOUT_BUF,      /* void* / T* + length expression, read and written */
	VGPU_ARG_STRING,         /* const char*, NUL-terminated, at most max_len bytes */
	VGPU_ARG_OUT_STRING,     /* char *buf whose capacity is the length expression */
	VGPU_ARG_IN_STRUCT,      /* const T* of a fixed-size POD struct (size bytes) */
	VGPU_ARG_OUT_STRUCT,     /* T* of a fixed-size POD struct written by the call */
	VGPU_ARG_INOUT_STRUCT,   /* T* of a fixed-size POD struct read and written */
	VGPU_ARG_OPAQUE,         /* custom calls only: carried by hand-written code; the generic codec refuses it */
	VGPU_ARG_IN_HANDLE_ARRAY,  /* const CUx* of `length` handles (length counts elements) */
	VGPU_ARG_OUT_HANDLE_ARRAY, /* CUx* of `length` handles written by the call */
	VGPU_ARG_KIND_MAX
};

/* Handle types the proxy keeps in its per-zone table (the spec maps typedefs onto these). */
enum vgpu_handle_type {
	VGPU_H_NONE = 0,
	VGPU_H_CONTEXT,
	VGPU_H_MODULE,
	VGPU_H_FUNCTION,
	VGPU_H_LIBRARY,
	VGPU_H_KERNEL,
	VGPU_H_ARRAY,
	VGPU_H_MIPMAPPED_ARRAY,
	VGPU_H_TEXREF,
	VGPU_H_SURFREF,
	VGPU_H_EVENT,
	VGPU_H_STREAM,
	VGPU_H_GRAPHICS_RESOURCE,
	VGPU_H_EXTERNAL_MEMORY,
	VGPU_H_EXTERNAL_SEMAPHORE,
	VGPU_H_GRAPH,
	VGPU_H_GRAPH_NODE,
	VGPU_H_GRAPH_EXEC,
	VGPU_H_MEMORY_POOL,
	VGPU_H_USER_OBJECT,
	VGPU_H_LINK_STATE,
	VGPU_H_GREEN_CTX,
	VGPU_H_DEV_RESOURCE_DESC,
	VGPU_H_COUNT
};

/* struct vgpu_arg_desc.flags */
#define VGPU_ARGF_SIGNED   0x0001u /* scalar: two's complement signed (else unsigned) */
#define VGPU_ARGF_FLOAT    0x0002u /* scalar: IEEE float (size 4) or double (size 8) */
#define VGPU_ARGF_NEW      0x0004u /* OUT_HANDLE: the call creates the handle (register on success) */
#define VGPU_ARGF_DESTROYS 0x0008u /* HANDLE: the call destroys the handle (drop on success) */
#define VGPU_ARGF_ALLOC    0x0010u /* OUT_DPTR: the call allocates [*p, *p+len) (record on success) */
#define VGPU_ARGF_FREES    0x0020u /* DPTR: the call frees the allocation starting at p */
#define VGPU_ARGF_RANGE    0x0040u /* DPTR: check [p, p+len) against the zone's allocations */

/* Default bound of a handle array, in elements. */
#define VGPU_HANDLE_ARRAY_MAX 1024u

/* No length parameter (struct vgpu_arg_desc.len_arg / len_arg2). */
#define VGPU_LEN_NONE 0xffu

/*
 * One parameter. Length (for buffers, out strings and DPTR ranges) is
 *   value(len_arg) [* value(len_arg2)] * len_mul        when len_arg != VGPU_LEN_NONE
 *   len_mul                                              otherwise
 * where value() of a SCALAR is its value and of an OUT/INOUT_SCALAR the value it points
 * at (read after the call; used for allocation sizes such as a pitch). The length is in
 * bytes, except for handle arrays where it counts handles (and max_len too).
 */
struct vgpu_arg_desc {
	const char *name;   /* parameter name in cuda.h */
	uint8_t kind;       /* enum vgpu_arg_kind */
	uint8_t size;       /* C size of the value (scalar width; 8 for handles/dptrs; 0 for buffers) */
	uint8_t htype;      /* enum vgpu_handle_type for HANDLE/OUT_HANDLE */
	uint8_t len_arg;    /* index of the length parameter or VGPU_LEN_NONE */
	uint8_t len_arg2;   /* index of a second factor or VGPU_LEN_NONE */
	uint8_t pad_;
	uint16_t flags;     /* VGPU_ARGF_* */
	uint32_t struct_size; /* *_STRUCT: sizeof the struct */
	uint64_t len_mul;   /* bytes per length unit, or the constant length */
	uint64_t max_len;   /* upper bound for this parameter's length in bytes */
};

/* struct vgpu_call_desc.flags */
#define VGPU_CALLF_ASYNC  0x0001u /* posted without a reply; errors surface at the next sync call */
#define VGPU_CALLF_SYNC   0x0002u /* synchronising call: reports pending async errors */
#define VGPU_CALLF_CUSTOM 0x0004u /* hand-written client stub and/or proxy handler */

/* Most parameters any call has (cuda.h's widest remoted call has fewer). */
#define VGPU_MAX_ARGS 16

/* One remoted call. Generated into generated/vgpu_calls.c; never written by hand. */
struct vgpu_call_desc {
	const char *name;                  /* ABI symbol, e.g. "cuMemAlloc_v2" */
	uint16_t opcode;                   /* enum vgpu_op, pinned in spec/cuda.spec */
	uint16_t flags;                    /* VGPU_CALLF_* */
	uint8_t nargs;                     /* <= VGPU_MAX_ARGS */
	uint8_t nout;                      /* parameters that carry something back */
	const struct vgpu_arg_desc *args;  /* nargs entries */
	const char *custom;                /* custom handler name from the spec, or NULL */
};

#endif
