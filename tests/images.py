"""Images the tests make themselves, as docker save and skopeo write them: no registry here.

A layer is a tar made with tarfile from a list of entries; an image is the
layers and a config, written as `docker save` did before Docker 25
(manifest.json, ID/layer.tar, HEX.json) or as an OCI layout (index.json,
blobs/sha256/HEX, maybe gzipped), into a tar file or a directory.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile

# The programs of the base layer, with their libraries, from the host.
PROGRAMS = ("sh", "cat", "ls", "id", "env", "echo", "true", "touch", "rm")


def entry(name, kind="file", data=b"", mode=None, uid=0, gid=0):
    """One tar entry: kind is file, dir, symlink, hardlink, char, fifo; data its content or
    link target."""
    info = tarfile.TarInfo(name)
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE,
                 "fifo": tarfile.FIFOTYPE}[kind]
    info.mode = mode if mode is not None else (0o755 if kind == "dir" else 0o644)
    info.uid, info.gid, info.mtime = uid, gid, 1700000000
    if kind in ("symlink", "hardlink"):
        info.linkname, data = data, b""
    if kind == "char":
        info.devmajor, info.devminor = 1, 3
    data = data.encode() if isinstance(data, str) else data
    info.size = len(data) if kind == "file" else 0
    return info, data


def layer(*entries):
    """The bytes of a layer's tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def base_layer():
    """sh, cat, ls and a few more from the host, their libraries, /etc/passwd and group."""
    entries, seen = [], set()
    for directory in ("bin", "etc", "proc", "dev", "sys", "tmp", "root", "home"):
        entries.append(entry(directory, "dir"))
    for program in PROGRAMS:
        path = shutil.which(program)
        libraries = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        files = [(path, f"bin/{program}")] + [
            (word, word[1:]) for word in libraries.split()
            if word.startswith("/") and os.path.exists(word)]
        for source, name in files:
            if name not in seen:
                seen.add(name)
                with open(source, "rb") as file:
                    entries.append(entry(name, data=file.read(), mode=0o755))
    entries.append(entry("etc/passwd", data="root:x:0:0:root:/root:/bin/sh\n"
                                             "student:x:1000:1000:student:/home/student:/bin/sh\n"))
    entries.append(entry("etc/group", data="root:x:0:\nstudent:x:1000:\nclass:x:2000:student\n"))
    return layer(*entries)


def digest(data):
    return hashlib.sha256(data).hexdigest()


def save_image(path, layers, config=None, flavour="docker", compress=False, directory=False):
    """Write an image of `layers` (tar bytes, bottom first) and `config` at `path`; `path`.

    flavour "docker": docker save's manifest.json, ID/layer.tar, HEX.json, the
    whole gzipped if `compress` (docker save | gzip); "oci": an OCI layout,
    index.json and blobs/sha256/, its layers gzipped if `compress`.
    """
    image_config = {"architecture": "amd64", "os": "linux", "config": config or {},
                    "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest(tar)}"
                                                              for tar in layers]},
                    "history": [{"created_by": f"step {number}"}
                                for number in range(1, len(layers) + 1)]}
    config_bytes = json.dumps(image_config).encode()
    files = {}
    if flavour == "docker":
        names = [f"{digest(tar)[:20]}/layer.tar" for tar in layers]
        files.update(zip(names, layers))
        files[f"{digest(config_bytes)}.json"] = config_bytes
        files["manifest.json"] = json.dumps([{"Config": f"{digest(config_bytes)}.json",
                                              "RepoTags": ["test:latest"],
                                              "Layers": names}]).encode()
    else:
        blobs = [gzip.compress(tar, mtime=0) if compress else tar for tar in layers]
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": f"sha256:{digest(config_bytes)}", "size": len(config_bytes)},
            "layers": [{"mediaType": media, "digest": f"sha256:{digest(blob)}",
                        "size": len(blob)} for blob in blobs]}).encode()
        for blob in blobs + [config_bytes, manifest]:
            files[f"blobs/sha256/{digest(blob)}"] = blob
        files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
        files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f"sha256:{digest(manifest)}", "size": len(manifest)}]}).encode()
    if directory:
        for name, data in files.items():
            os.makedirs(os.path.dirname(os.path.join(path, name)), exist_ok=True)
            with open(os.path.join(path, name), "wb") as file:
                file.write(data)
    else:
        with tarfile.open(path, "w:gz" if compress and flavour == "docker" else "w") as tar:
            for name, data in files.items():
                tar.addfile(entry(name, data=data)[0], io.BytesIO(data))
    return path
