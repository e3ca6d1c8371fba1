#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives containerd's CRI (runtime.v1.RuntimeService) the way the kubelet would, and checks
what the "vgpu" RuntimeClass gives pods. Started by tests/k8s/run.sh, which owns containerd,
vgpu-proxy and the images; prints one PASS/FAIL line per check and exits 1 if any failed.

  cri_check.py --gen DIR --cri SOCK --vgpuctl BIN --proxy SOCK --image REF --work DIR
               --state-dir DIR --libvgpu-dir DIR [check]
  cri_check.py --gen DIR --cri SOCK cleanup      stop and remove every pod sandbox
"""
import argparse
import os
import re
import subprocess
import sys
import time
import uuid

A = None
cri = None
pb = None
failures = 0


def log(msg):
    print("   " + msg, flush=True)


def result(ok, what, detail=""):
    global failures
    if ok:
        print("PASS: " + what, flush=True)
    else:
        failures += 1
        print("FAIL: " + what + (": " + detail if detail else ""), flush=True)
    return ok


def vgpuctl(*args):
    where = ["--ctl", A.ctl] if A.ctl else ["--listen", A.proxy]
    out = subprocess.run([A.vgpuctl] + where + list(args), capture_output=True, text=True, timeout=20)
    if out.returncode != 0:
        raise RuntimeError("vgpuctl %s: exit %d: %s" % (" ".join(args), out.returncode, out.stderr.strip()))
    return out.stdout


def proxy_state():
    """(registrations {name: line}, zones {name: [fields]}, zone count)."""
    regs, zones = {}, {}
    for line in vgpuctl("list").splitlines():
        f = line.split()
        if f and f[0] == "reg":
            regs[f[1]] = line
    stats = vgpuctl("stats").splitlines()
    count = int(stats[0].split()[1]) if stats and stats[0].startswith("zones ") else -1
    for line in stats[1:]:
        kv = dict(x.split("=", 1) for x in line.split()[2:] if "=" in x)
        zones.setdefault(kv.get("name", "?"), []).append(kv)
    return regs, zones, count


class Pod:
    def __init__(self, name, handler, annotations=None):
        self.name, self.handler = name, handler
        self.uid = str(uuid.uuid4())
        self.zone = "pod-" + self.uid
        self.logdir = os.path.join(A.work, "logs", name)
        os.makedirs(self.logdir, exist_ok=True)
        self.config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=self.uid, namespace="vgpu-test", attempt=0),
            hostname="", log_directory=self.logdir, annotations=annotations or {},
            linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.POD))))
        self.id = None
        self.containers = {}

    def run(self):
        self.id = cri.RunPodSandbox(pb.RunPodSandboxRequest(config=self.config, runtime_handler=self.handler),
                                    timeout=60).pod_sandbox_id
        log("pod %s (handler %r, uid %s): sandbox %s" % (self.name, self.handler, self.uid, self.id[:12]))
        return self

    def start(self, cname, args, mounts=(), envs=()):
        cfg = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=cname), image=pb.ImageSpec(image=A.image),
            command=["/cuda_check"], args=args, log_path=cname + ".log",
            mounts=[pb.Mount(container_path=c, host_path=h, readonly=ro) for c, h, ro in mounts],
            envs=[pb.KeyValue(key=k, value=v) for k, v in envs])
        cid = cri.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=self.id, config=cfg,
                                                            sandbox_config=self.config), timeout=60).container_id
        cri.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=60)
        self.containers[cname] = cid
        return cid

    def output(self, cname):
        try:
            with open(os.path.join(self.logdir, cname + ".log")) as f:
                # CRI log format: "<time> <stream> <F|P> <text>"
                return "\n".join(l.split(" ", 3)[3] for l in f.read().splitlines() if l.count(" ") >= 3)
        except FileNotFoundError:
            return ""

    def wait_output(self, cname, pattern, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            out = self.output(cname)
            if re.search(pattern, out):
                return out
            if self.status(cname).state == pb.CONTAINER_EXITED:
                return self.output(cname)
            time.sleep(0.1)
        return self.output(cname)

    def status(self, cname):
        return cri.ContainerStatus(pb.ContainerStatusRequest(container_id=self.containers[cname]), timeout=30).status

    def wait_exit(self, cname, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            st = self.status(cname)
            if st.state == pb.CONTAINER_EXITED:
                return st.exit_code, self.output(cname)
            time.sleep(0.1)
        return None, self.output(cname)

    def delete(self):
        if self.id:
            cri.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=self.id), timeout=60)
            cri.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=self.id), timeout=60)
            log("pod %s deleted (StopPodSandbox, RemovePodSandbox)" % self.name)
            self.id = None


def cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def shim_pids(sandbox_id):
    """Processes of containerd-shim-vgpu-v1 started by our containerd (for that sandbox)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        argv = cmdline(p).split(" ")
        if (argv and argv[0].endswith("containerd-shim-vgpu-v1") and A.cri in argv
                and (sandbox_id is None or sandbox_id in argv)):
            pids.append(int(p))
    return pids


def wait_for(cond, timeout=10):
    end = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() > end:
            return v
        time.sleep(0.1)


def checks():
    v = cri.Version(pb.VersionRequest(version="v1"), timeout=10)
    result(v.runtime_api_version == "v1", "CRI runtime.v1 answers (%s %s, API %s)"
           % (v.runtime_name, v.runtime_version, v.runtime_api_version))

    mib = 1 << 20
    hold = os.path.join(A.work, "hold")
    os.makedirs(hold, exist_ok=True)
    hold_mount = [("/hold", hold, True)]

    # Two vgpu pods at once, each with its own zone and quota.
    pa = Pod("vgpu-a", "vgpu", {"vgpu.dev/memory": "64Mi"}).run()
    pb_ = Pod("vgpu-b", "vgpu", {"vgpu.dev/memory": "48Mi", "vgpu.dev/handles": "4096"}).run()
    pa.start("check", [str(8 * mib), "/hold/release-a"], hold_mount)
    pb_.start("check", [str(16 * mib), "/hold/release-b"], hold_mount)
    ok_re = r"cuda_check: OK bytes=(\d+) checksum=[0-9a-f]{16} device=\"[^\"]*\" nvml=\"[^\"]+\""
    outa = pa.wait_output("check", ok_re)
    outb = pb_.wait_output("check", ok_re)
    result(re.search(ok_re, outa) is not None, "vgpu pod A: its CUDA program (8 MiB, through the injected libvgpu) "
           "reaches a verified result", outa)
    result(re.search(ok_re, outb) is not None, "vgpu pod B: its CUDA program (16 MiB) reaches a verified result "
           "while pod A holds its memory", outb)

    regs, zones, count = proxy_state()
    log("proxy while both hold memory: %d zones; registrations: %s" % (count, "; ".join(regs.values())))
    za, zb = zones.get(pa.zone, []), zones.get(pb_.zone, [])
    ok = (count == 2 and len(za) == 1 and len(zb) == 1
          and int(za[0].get("mem", 0)) >= 16 * mib and int(zb[0].get("mem", 0)) >= 32 * mib
          and "mem=%d" % (64 * mib) in regs.get(pa.zone, "") and "mem=%d" % (48 * mib) in regs.get(pb_.zone, "")
          and "handles=4096" in regs.get(pb_.zone, ""))
    result(ok, "two vgpu pods run at once, each a zone named after its pod UID with its annotated quota "
           "(vgpuctl list/stats)", "zones=%r regs=%r" % (zones, regs))

    # Pod A ends its program normally; pod B is deleted while its program still holds memory.
    open(os.path.join(hold, "release-a"), "w").close()
    rc, out = pa.wait_exit("check")
    result(rc == 0, "vgpu pod A's container exits 0 after verifying its data", "exit %r: %s" % (rc, out))

    # The proxy restarts under running pods (an upgrade): registrations come back from its
    # registry, and the new zone socket appears in the directory the pods have mounted.
    if A.restart_proxy:
        _, zones_before, _ = proxy_state()
        worker_b = [z.get("worker") for z in zones_before.get(pb_.zone, [])]
        r = subprocess.run(A.restart_proxy, shell=True, capture_output=True, text=True, timeout=60)
        log("restarted vgpu-proxy (exit %d)" % r.returncode)
        regs, zones_after, _ = proxy_state()
        # (vgpu-proxy --state-dir: the zones of running CUDA processes are adopted, not ended)
        result(len(worker_b) == 1 and [z.get("worker") for z in zones_after.get(pb_.zone, [])] == worker_b,
               "the running CUDA process of pod B keeps its zone across the proxy restart (same zone, "
               "same worker)", "before=%r after=%r" % (worker_b, zones_after.get(pb_.zone)))
        pa.start("check2", [str(8 * mib)])
        rc2, out2 = pa.wait_exit("check2")
        result(r.returncode == 0 and pa.zone in regs and pb_.zone in regs and rc2 == 0
               and re.search(ok_re, out2) is not None,
               "after a proxy restart, the pods' registrations are restored and a new CUDA process in "
               "running pod A reaches a verified result", "restart=%r regs=%r exit=%r: %s"
               % (r.returncode, regs, rc2, out2))
    pb_.delete()
    wait_for(lambda: pb_.zone not in proxy_state()[1])  # its worker is reaped just after
    regs, zones, count = proxy_state()
    ok = pb_.zone not in regs and pb_.zone not in zones and pa.zone in regs
    result(ok, "deleting pod B while its CUDA process runs ends its zone and registration, and only its own",
           "zones=%r regs=%r" % (zones, regs))

    # The pod's shim dies (SIGKILL) while its CUDA process holds memory: containerd runs
    # "containerd-shim-vgpu-v1 delete" in the sandbox bundle, which ends the zone from the
    # record kept there.
    pe = Pod("vgpu-crash", "vgpu", {"vgpu.dev/memory": "32Mi"}).run()
    pe.start("check", [str(4 * mib), "/hold/release-e"], hold_mount)
    out = pe.wait_output("check", ok_re)
    shims = shim_pids(pe.id)
    regs, zones, _ = proxy_state()
    ok = re.search(ok_re, out) is not None and len(shims) == 1 and pe.zone in zones
    if ok:
        os.kill(shims[0], 9)
        log("killed the shim of pod %s (pid %d)" % (pe.name, shims[0]))
        gone = wait_for(lambda: pe.zone not in proxy_state()[0] and pe.zone not in proxy_state()[1], 30)
        regs, zones, _ = proxy_state()
        ok = bool(gone)
    result(ok, "when a vgpu pod's shim is killed, containerd's cleanup (shim delete) ends the pod's zone and "
           "registration", "shims=%r zones=%r regs=%r out=%r" % (shims, zones, regs, out))
    pe.delete()

    # A pod deleted while the proxy is down: its shim cannot unregister it, and the proxy's
    # registry brings the registration back; "containerd-shim-vgpu-v1 gc" drops it, and only it.
    if A.stop_proxy and A.start_proxy and A.gc:
        po = Pod("vgpu-orphan", "vgpu", {"vgpu.dev/memory": "8Mi"}).run()
        sh = lambda c: subprocess.run(c, shell=True, capture_output=True, text=True, timeout=60)
        r1 = sh(A.stop_proxy)
        po.delete()
        r2 = sh(A.start_proxy)
        before = proxy_state()[0]
        g = sh(A.gc)
        log(" | ".join(g.stdout.strip().splitlines()))
        after = proxy_state()[0]
        result(r1.returncode == 0 and r2.returncode == 0 and po.zone in before and g.returncode == 0
               and po.zone not in after and pa.zone in after,
               "a pod deleted while the proxy was down keeps its registration (restored by --registry) until "
               "the shim's gc drops it, and only it",
               "before=%r after=%r gc=%r %s" % (list(before), list(after), g.returncode, g.stdout + g.stderr))

    # A quota too small for what the program allocates.
    pc = Pod("vgpu-small", "vgpu", {"vgpu.dev/memory": "4Mi"}).run()
    pc.start("check", [str(8 * mib)])
    rc, out = pc.wait_exit("check")
    result(rc == 4 and "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY" in out,
           "a vgpu pod with vgpu.dev/memory=4Mi gets CUDA_ERROR_OUT_OF_MEMORY for 8 MiB", "exit %r: %s" % (rc, out))

    # The default runtime (runc): no CUDA driver at all; and bringing the socket and libvgpu
    # along by hand does not help without a registration's token.
    pd = Pod("plain", "").run()
    pd.start("check", [str(mib)])
    rc, out = pd.wait_exit("check")
    result(rc == 3 and "no CUDA driver" in out, "a pod with the default runtime (runc) has no CUDA driver",
           "exit %r: %s" % (rc, out))
    pd.start("smuggled", [str(mib)],
             [("/vgpu/lib", A.libvgpu_dir, True), ("/vgpu/proxy.sock", A.proxy, False)],
             [("LD_LIBRARY_PATH", "/vgpu/lib"), ("VGPU_PROXY", "/vgpu/proxy.sock")])
    rc, out = pd.wait_exit("smuggled")
    result(rc == 4 and "cuInit failed: CUDA_ERROR_NOT_PERMITTED" in out,
           "a runc pod that mounts libvgpu and the zone socket itself, without a token, is refused at cuInit",
           "exit %r: %s" % (rc, out))
    regs, _, _ = proxy_state()
    result(pd.zone not in regs, "the runc pod has no registration with the proxy", repr(regs))

    # An annotation above the node's cap is refused before anything runs.
    try:
        Pod("vgpu-greedy", "vgpu", {"vgpu.dev/memory": "1Ti"}).run()
        result(False, "a vgpu pod asking more than the node's max_memory is refused", "RunPodSandbox succeeded")
    except Exception as e:  # grpc.RpcError
        result("max_memory" in str(e), "a vgpu pod asking more than the node's max_memory is refused "
               "(RunPodSandbox fails)", str(e))

    # An unknown handler.
    try:
        Pod("unknown", "no-such-handler").run()
        result(False, "RunPodSandbox with an unknown runtime handler is refused", "it succeeded")
    except Exception as e:
        detail = getattr(e, "details", lambda: str(e))()
        result("no-such-handler" in str(detail), "RunPodSandbox with an unknown runtime handler is refused (%s)"
               % detail.strip()[:80], str(e))

    # Everything deleted: nothing of any pod remains in the proxy or on the node.
    for p in (pa, pc, pd):
        p.delete()
    wait_for(lambda: proxy_state()[2] == 0)
    regs, zones, count = proxy_state()
    stats = vgpuctl("stats")
    left = sorted(os.listdir(A.state_dir)) if os.path.isdir(A.state_dir) else []
    result(count == 0 and not regs and not left,
           "after the pods are deleted the proxy has 0 zones and no registrations, the shim no pod state",
           "stats=%r regs=%r state=%r" % (stats, regs, left))
    listed = cri.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=30).items
    result(len(listed) == 0, "ListPodSandbox is empty", repr([s.id for s in listed]))
    left = wait_for(lambda: not shim_pids(None), 10)
    result(left, "no shim process is left", " | ".join(cmdline(p) for p in shim_pids(None)))


def cleanup():
    for s in cri.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=30).items:
        try:
            cri.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=s.id), timeout=60)
            cri.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=s.id), timeout=60)
        except Exception as e:
            print("cleanup: sandbox %s: %s" % (s.id[:12], e), file=sys.stderr)


def main():
    global A, cri, pb
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gen", required=True, help="directory with cri_pb2.py / cri_pb2_grpc.py")
    ap.add_argument("--cri", required=True, help="containerd socket")
    ap.add_argument("--vgpuctl")
    ap.add_argument("--proxy", help="vgpu-proxy zone socket (its control socket is PROXY.ctl unless --ctl)")
    ap.add_argument("--ctl", help="vgpu-proxy control socket")
    ap.add_argument("--restart-proxy", help="shell command that restarts vgpu-proxy (same --registry)")
    ap.add_argument("--stop-proxy", help="shell command that stops vgpu-proxy")
    ap.add_argument("--start-proxy", help="shell command that starts vgpu-proxy (same --registry)")
    ap.add_argument("--gc", help="shell command: containerd-shim-vgpu-v1 gc with the test's shim config")
    ap.add_argument("--image", help="image with /cuda_check")
    ap.add_argument("--work", help="directory for logs and hold files")
    ap.add_argument("--state-dir", help="the shim's state_dir")
    ap.add_argument("--libvgpu-dir", help="host directory with libvgpu and the libraries it needs")
    ap.add_argument("what", nargs="?", default="check", choices=["check", "cleanup"])
    A = ap.parse_args()
    sys.path.insert(0, A.gen)
    import grpc
    import cri_pb2
    import cri_pb2_grpc
    pb = cri_pb2
    channel = grpc.insecure_channel("unix://" + A.cri)
    grpc.channel_ready_future(channel).result(timeout=30)
    cri = cri_pb2_grpc.RuntimeServiceStub(channel)
    if A.what == "cleanup":
        cleanup()
        return 0
    for k in ("vgpuctl", "proxy", "image", "work", "state_dir", "libvgpu_dir"):
        if not getattr(A, k):
            ap.error("--%s is required for the checks" % k.replace("_", "-"))
    try:
        checks()
    except Exception as e:
        result(False, "the checks ran to the end", "%s: %s" % (type(e).__name__, e))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
