#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds a single-layer OCI image archive (for `ctr images import`) from host files.

  mkimage.py --name docker.io/vgpu/test:1 --out image.tar [--entrypoint /bin/x]
             [--lib-deps] HOST_PATH[=IMAGE_PATH] ...

--lib-deps adds the shared libraries each file needs (from ldd), except libcuda.so.1,
which a vgpu pod is given by the runtime and a plain pod does not have.
No registry and no other tool is involved: the layer, config, manifest and index are
written here, uncompressed.
"""
import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile


def ldd_deps(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True)
    if out.returncode != 0:  # static binary: "not a dynamic executable"
        return []
    deps = []
    for line in out.stdout.splitlines():
        line = line.strip()
        m = re.match(r"(\S+) => (\S+) \(0x", line)
        if m:
            if m.group(1) == "libcuda.so.1":
                continue
            deps.append(m.group(2))
        elif line.startswith("/"):  # the dynamic loader
            deps.append(line.split()[0])
        elif "not found" in line and not line.startswith("libcuda.so.1"):
            sys.exit("mkimage: %s: %s" % (path, line))
    return deps


def add_file(tar, host, dest, seen):
    dest = dest.lstrip("/")
    parts = dest.split("/")
    for i in range(1, len(parts)):
        d = "/".join(parts[:i])
        if d not in seen:
            seen.add(d)
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(ti)
    if dest in seen:
        return
    seen.add(dest)
    st = os.stat(host)
    ti = tarfile.TarInfo(dest)
    ti.size, ti.mode = st.st_size, st.st_mode & 0o777
    with open(host, "rb") as f:
        tar.addfile(ti, f)


def blob(blobs, data):
    d = hashlib.sha256(data).hexdigest()
    blobs["sha256/" + d] = data
    return "sha256:" + d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True, help="full image reference, e.g. docker.io/vgpu/test:1")
    ap.add_argument("--out", required=True, help="OCI archive to write")
    ap.add_argument("--entrypoint", action="append", default=[], help="entrypoint word (repeatable)")
    ap.add_argument("--lib-deps", action="store_true", help="add the ldd dependencies of each file")
    ap.add_argument("files", nargs="+", help="HOST_PATH[=IMAGE_PATH]")
    a = ap.parse_args()

    entries = []
    for spec in a.files:
        host, _, dest = spec.partition("=")
        dest = dest or host
        if not os.path.isfile(host):
            sys.exit("mkimage: %s is not a file" % host)
        entries.append((host, dest))
        if a.lib_deps:
            for dep in ldd_deps(host):
                entries.append((os.path.realpath(dep), dep))

    layer_io = io.BytesIO()
    with tarfile.open(fileobj=layer_io, mode="w", format=tarfile.PAX_FORMAT) as tar:
        seen = set()
        for host, dest in entries:
            add_file(tar, host, dest, seen)
    layer = layer_io.getvalue()

    blobs = {}
    layer_digest = blob(blobs, layer)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": a.entrypoint or None, "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    config_data = json.dumps(config, sort_keys=True).encode()
    config_digest = blob(blobs, config_data)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config_data)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": len(layer)}],
    }
    manifest_data = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = blob(blobs, manifest_data)
    tag = a.name.rsplit(":", 1)[1] if ":" in a.name.rsplit("/", 1)[-1] else "latest"
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": len(manifest_data),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": a.name, "org.opencontainers.image.ref.name": tag},
        }],
    }

    with tarfile.open(a.out, "w") as out:
        def put(name, data):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            out.addfile(ti, io.BytesIO(data))
        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", json.dumps(index).encode())
        for name, data in blobs.items():
            put("blobs/" + name, data)
    print("mkimage: %s (%d files, %d bytes) -> %s" % (a.name, len(entries), len(layer), a.out))


if __name__ == "__main__":
    main()
