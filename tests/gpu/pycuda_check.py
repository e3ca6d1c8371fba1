# SPDX-License-Identifier: MIT
"""pycuda_check.py: PyCUDA (Debian's python3-pycuda, unmodified) as users write it.

Driver-API calls through PyCUDA's own extension (built against CUDA 11.8's headers: the
_v2 entry points, cuCtxDetach at exit), SourceModule kernels compiled by nvcc at run time,
gpuarray arithmetic and reductions, its scan and element-wise kernel generators, cuRAND's
device API through pycuda.curandom, streams, events, pinned, mapped and registered host
memory. Every result is checked against numpy on the host; the output is the same on every
backend, so tests/gpu/pycuda.sh compares the direct run's with the zone's line by line.
Exit 0 when every check passed, 1 otherwise.
"""
import sys

import numpy as np
import pycuda.driver as cuda
import pycuda.autoinit  # noqa: F401  (makes and pushes a context on device 0, as users do)
from pycuda import compiler, cumath, gpuarray
from pycuda.compiler import SourceModule
from pycuda.elementwise import ElementwiseKernel
from pycuda.reduction import ReductionKernel
from pycuda.scan import ExclusiveScanKernel, InclusiveScanKernel

failed = []
checks = 0


def check(name, ok):
    global checks
    checks += 1
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failed.append(name)


dev = pycuda.autoinit.device
cc = dev.compute_capability()
check("device", cuda.Device.count() >= 1 and len(dev.name()) > 0 and dev.total_memory() > 0)
free, total = cuda.mem_get_info()
check("mem_get_info", 0 < free <= total)

# ---- memory: allocations, copies, memsets, pitched 2D copies ----
rng = np.random.default_rng(7)
host = rng.standard_normal(1 << 16).astype(np.float32)
d = cuda.mem_alloc(host.nbytes)
cuda.memcpy_htod(d, host)
d2 = cuda.mem_alloc(host.nbytes)
cuda.memcpy_dtod(d2, d, host.nbytes)
back = np.empty_like(host)
cuda.memcpy_dtoh(back, d2)
check("memcpy htod/dtod/dtoh", np.array_equal(back, host))
cuda.memset_d32(d2, 0x3F800000, host.size)   # 1.0f
cuda.memcpy_dtoh(back, d2)
check("memset_d32", np.all(back == 1.0))
cuda.memset_d8(d2, 0xAB, 1000)
b8 = np.empty(1000, np.uint8)
cuda.memcpy_dtoh(b8, d2)
check("memset_d8", np.all(b8 == 0xAB))

rows, cols = 37, 101
m2 = rng.integers(0, 1 << 30, (rows, cols)).astype(np.int32)
dp, pitch = cuda.mem_alloc_pitch(cols * 4, rows, 4)
c2 = cuda.Memcpy2D()
c2.set_src_host(m2)
c2.set_dst_device(dp)
c2.src_pitch = cols * 4
c2.dst_pitch = pitch
c2.width_in_bytes = cols * 4
c2.height = rows
c2(aligned=True)
m2b = np.zeros_like(m2)
c3 = cuda.Memcpy2D()
c3.set_src_device(dp)
c3.set_dst_host(m2b)
c3.src_pitch = pitch
c3.dst_pitch = cols * 4
c3.width_in_bytes = cols * 4
c3.height = rows
c3(aligned=True)
check("pitched Memcpy2D", pitch >= cols * 4 and np.array_equal(m2, m2b))
dp.free()

# ---- SourceModule kernels: argument handlers, constants, shared memory, prepared calls ----
mod = SourceModule("""
__constant__ float scale;
__global__ void saxpy(float *y, const float *x, float a, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i] + y[i];
}
__global__ void scaled(float *y, const float *x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = scale * x[i];
}
__global__ void block_sums(const float *x, float *out)
{
    extern __shared__ float s[];
    unsigned t = threadIdx.x;
    s[t] = x[blockIdx.x * blockDim.x + t];
    __syncthreads();
    for (unsigned w = blockDim.x / 2; w > 0; w >>= 1) {
        if (t < w) s[t] += s[t + w];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}
""")
saxpy = mod.get_function("saxpy")
x = rng.standard_normal(10000).astype(np.float32)
y = rng.standard_normal(10000).astype(np.float32)
y_out = y.copy()
saxpy(cuda.InOut(y_out), cuda.In(x), np.float32(2.5), np.int32(x.size), block=(128, 1, 1), grid=(79, 1))
check("kernel with In/InOut", np.allclose(y_out, 2.5 * x + y, rtol=1e-5, atol=1e-5))   # (fused on the device)

cptr, csize = mod.get_global("scale")
cuda.memcpy_htod(cptr, np.float32(-3.0))
out = np.empty_like(x)
mod.get_function("scaled")(cuda.Out(out), cuda.In(x), np.int32(x.size), block=(256, 1, 1), grid=(40, 1))
check("__constant__ through get_global", csize == 4 and np.array_equal(out, np.float32(-3.0) * x))

bs = mod.get_function("block_sums")
blocks = 64
xs = rng.standard_normal(blocks * 256).astype(np.float32)
sums = np.empty(blocks, np.float32)
bs(cuda.In(xs), cuda.Out(sums), block=(256, 1, 1), grid=(blocks, 1), shared=256 * 4)
check("dynamic shared memory", np.allclose(sums, xs.reshape(blocks, 256).sum(axis=1), atol=1e-3))
check("function attributes", bs.max_threads_per_block >= 256 and bs.num_regs > 0)

saxpy.prepare("PPfi")
stream = cuda.Stream()
hx = cuda.pagelocked_empty(x.size, np.float32)
hy = cuda.pagelocked_empty(x.size, np.float32)
hx[:] = x
hy[:] = y
dx = cuda.mem_alloc(hx.nbytes)
dy = cuda.mem_alloc(hy.nbytes)
start, end = cuda.Event(), cuda.Event()
start.record(stream)
cuda.memcpy_htod_async(dx, hx, stream)
cuda.memcpy_htod_async(dy, hy, stream)
saxpy.prepared_async_call((79, 1), (128, 1, 1), stream, dy, dx, np.float32(0.5), np.int32(x.size))
cuda.memcpy_dtoh_async(hy, dy, stream)
end.record(stream)
end.synchronize()
check("pinned async copies and a prepared launch on a stream",
      stream.is_done() and end.query() and end.time_since(start) >= 0 and np.allclose(hy, 0.5 * x + y, rtol=1e-6))

# mapped (zero-copy) pinned memory written by a kernel, registered host memory read by one
mapped = cuda.pagelocked_empty(1024, np.int32, mem_flags=cuda.host_alloc_flags.DEVICEMAP)
mapped[:] = 0
fill = SourceModule("__global__ void fill(int *p) { p[threadIdx.x + blockIdx.x * blockDim.x] = 3 * (threadIdx.x + blockIdx.x * blockDim.x); }").get_function("fill")
fill(np.intp(mapped.base.get_device_pointer()), block=(256, 1, 1), grid=(4, 1))
cuda.Context.synchronize()
check("mapped pinned memory written by a kernel", np.array_equal(mapped, 3 * np.arange(1024, dtype=np.int32)))
reg = cuda.register_host_memory(np.arange(4096, dtype=np.float32))
dreg = cuda.mem_alloc(reg.nbytes)
cuda.memcpy_htod(dreg, reg)
rb = np.empty_like(reg)
cuda.memcpy_dtoh(rb, dreg)
check("registered host memory", np.array_equal(rb, np.arange(4096, dtype=np.float32)))
reg.base.unregister()

# ---- gpuarray: PyCUDA's generated element-wise and reduction kernels ----
a = rng.standard_normal(50000).astype(np.float32)
b = rng.standard_normal(50000).astype(np.float32)
ga, gb = gpuarray.to_gpu(a), gpuarray.to_gpu(b)
check("gpuarray arithmetic", np.allclose((ga * 3 + gb / 2 - 1).get(), a * 3 + b / 2 - 1, rtol=1e-5, atol=1e-6))
check("gpuarray comparisons and if_positive",
      np.array_equal(gpuarray.if_positive(ga > gb, ga, gb).get(), np.where(a > b, a, b)))
check("gpuarray sum", abs(gpuarray.sum(ga).get() - a.sum(dtype=np.float64)) < 1e-2)
check("gpuarray dot", abs(gpuarray.dot(ga, gb).get() - np.dot(a.astype(np.float64), b)) < 1e-1)
check("gpuarray min/max", gpuarray.max(ga).get() == a.max() and gpuarray.min(gb).get() == b.min())
check("cumath", np.allclose(cumath.exp(cumath.sin(ga)).get(), np.exp(np.sin(a)), rtol=1e-5)
      and np.allclose(cumath.sqrt(abs(gb)).get(), np.sqrt(np.abs(b)), rtol=1e-6))
check("gpuarray arange and astype", np.array_equal(gpuarray.arange(0, 1000, 1, dtype=np.int32).astype(np.float64).get(),
                                                   np.arange(1000, dtype=np.float64)))

lin = ElementwiseKernel("float a, float *x, float b, float *y, float *z", "z[i] = a*x[i] + b*y[i]", "lin")
gz = gpuarray.empty_like(ga)
lin(np.float32(2), ga, np.float32(-1), gb, gz)
check("ElementwiseKernel", np.allclose(gz.get(), 2 * a - b, rtol=1e-5, atol=1e-6))
sumsq = ReductionKernel(np.float64, neutral="0", reduce_expr="a+b", map_expr="(double)x[i]*x[i]",
                        arguments="float *x")
check("ReductionKernel", abs(sumsq(ga).get() - np.sum(a.astype(np.float64) ** 2)) < 1e-6 * a.size)
ints = rng.integers(0, 100, 100000).astype(np.int32)
g_in = gpuarray.to_gpu(ints)
InclusiveScanKernel(np.int32, "a+b")(g_in)
check("InclusiveScanKernel", np.array_equal(g_in.get(), np.cumsum(ints, dtype=np.int32)))
g_ex = gpuarray.to_gpu(ints)
ExclusiveScanKernel(np.int32, "a+b", 0)(g_ex)
check("ExclusiveScanKernel", np.array_equal(g_ex.get(), np.concatenate(([0], np.cumsum(ints, dtype=np.int32)[:-1]))))

# ---- cuRAND's device API through pycuda.curandom (states set up by a kernel of its own) ----
from pycuda.curandom import XORWOWRandomNumberGenerator, seed_getter_uniform  # noqa: E402

gen = XORWOWRandomNumberGenerator(seed_getter=lambda n: seed_getter_uniform(n) * 0 + 1234)
u = gen.gen_uniform((1 << 16,), np.float32).get()
nrm = gen.gen_normal((1 << 16,), np.float32).get()
check("curandom XORWOW uniform", 0 < u.min() and u.max() <= 1 and abs(u.mean() - 0.5) < 0.01)
check("curandom XORWOW normal", abs(nrm.mean()) < 0.02 and abs(nrm.std() - 1) < 0.02)

# ---- PTX compiled by hand and loaded as a module (what JIT-compiling users do) ----
ptx = compiler.compile("__global__ void neg(int *p) { p[threadIdx.x] = -p[threadIdx.x]; }",
                       target="ptx", options=[], arch="compute_%d%d" % cc)
neg = cuda.module_from_buffer(ptx).get_function("neg")
v = np.arange(64, dtype=np.int32)
neg(cuda.InOut(v), block=(64, 1, 1))
check("PTX module", np.array_equal(v, -np.arange(64, dtype=np.int32)))

# ---- kernels that launch kernels: nvcc -rdc, linked at run time with libcudadevrt.a ----
from pycuda.compiler import DynamicSourceModule  # noqa: E402

dyn = DynamicSourceModule("""
__global__ void child(int *p, int base) { p[base + threadIdx.x] = base + threadIdx.x + 1; }
__global__ void parent(int *p) { child<<<1, 64>>>(p, 64 * threadIdx.x); }
""")
dv = np.zeros(64 * 8, np.int32)
dyn.get_function("parent")(cuda.InOut(dv), block=(8, 1, 1))
check("DynamicSourceModule (dynamic parallelism)", np.array_equal(dv, np.arange(1, 64 * 8 + 1, dtype=np.int32)))

# ---- managed memory, CUDA arrays ----
mm = cuda.managed_empty(4096, np.float32, mem_flags=cuda.mem_attach_flags.GLOBAL)
mm[:] = np.arange(4096)
SourceModule("__global__ void sq(float *p) { int i = blockIdx.x * blockDim.x + threadIdx.x; p[i] *= p[i]; }") \
    .get_function("sq")(mm, block=(256, 1, 1), grid=(16, 1))
cuda.Context.synchronize()
check("managed memory used by the host and a kernel", np.array_equal(mm, np.arange(4096, dtype=np.float32) ** 2))
img = rng.standard_normal((48, 80)).astype(np.float32)
ary = cuda.np_to_array(img, "C")
img_back = np.zeros_like(img)
cp = cuda.Memcpy2D()
cp.set_src_array(ary)
cp.set_dst_host(img_back)
cp.width_in_bytes = cp.src_pitch = cp.dst_pitch = img.shape[1] * 4
cp.height = img.shape[0]
cp(aligned=True)
desc = ary.get_descriptor()
check("CUDA array from numpy and back", np.array_equal(img, img_back) and (desc.width, desc.height) == (80, 48))
vol = np.arange(6 * 10 * 12, dtype=np.int32).reshape(6, 10, 12)
check("3D CUDA array", cuda.np_to_array(vol, "C").get_descriptor_3d().depth == 6)

# ---- a second context of its own, pushed and popped, then detached ----
ctx2 = dev.make_context()
g2 = gpuarray.to_gpu(np.arange(100, dtype=np.float32))
ok2 = float(gpuarray.sum(g2).get()) == 4950.0
del g2
ctx2.pop()
ctx2.push()
cuda.Context.synchronize()
ctx2.pop()
ctx2.detach()
check("second context", ok2 and cuda.Context.get_current() is not None)

print("pycuda: %d checks, %d failed%s" % (checks, len(failed), ": " + ", ".join(failed) if failed else ""))
sys.exit(1 if failed else 0)
