#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pytorch_ipc.py: a CUDA tensor shared between processes with torch.multiprocessing, both ways.

The parent makes a tensor on the device and puts it on a queue; a spawned child gets it (torch
sends an IPC memory handle and an IPC event), changes it in place and sends back a tensor of its
own; the parent checks both. Through vgpu the two processes are two zones, which must be of one
registration (VGPU_ZONE_TOKEN in the environment, inherited by the child).

Exit status: 0 = both tensors verified, 1 = a failure, 3 = no CUDA device.
"""
import sys

import torch
import torch.multiprocessing as mp

N = 1 << 20


def child(to_child, to_parent):
    t = to_child.get()                       # opened from the parent's IPC handle
    t.mul_(2).add_(1)                        # in place, in the parent's memory
    mine = torch.arange(4096, device="cuda", dtype=torch.float32) * 3
    torch.cuda.synchronize()
    to_parent.put(mine)                      # the other way: the parent opens the child's memory
    to_child.get()                           # keep `mine` alive until the parent has checked it


def main():
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 3
    mp.set_start_method("spawn")
    t = torch.arange(N, device="cuda", dtype=torch.float32)
    to_child, to_parent = mp.Queue(), mp.Queue()
    p = mp.Process(target=child, args=(to_child, to_parent))
    p.start()
    to_child.put(t)
    mine = to_parent.get(timeout=120)
    want = torch.arange(N, device="cuda", dtype=torch.float32) * 2 + 1
    ok_parent = bool(torch.equal(t, want))
    ok_child = bool(torch.equal(mine, torch.arange(4096, device="cuda", dtype=torch.float32) * 3))
    del mine
    to_child.put("done")
    p.join(timeout=60)
    print(f"parent's tensor changed in place by the child: {'verified' if ok_parent else 'WRONG'}")
    print(f"child's tensor read by the parent: {'verified' if ok_child else 'WRONG'}")
    print(f"child exit code {p.exitcode}")
    return 0 if ok_parent and ok_child and p.exitcode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
