"""image.py: images do not exist either: tar files, JSON, and overlayfs.

What `docker save` writes, and `skopeo copy ... oci-archive:FILE` too, is
one tar file (or, unpacked, a directory) holding:
- a manifest (manifest.json, or the OCI layout's index.json): which file is
  the config and which are the layers, bottom first;
- the config, JSON: the command (Entrypoint, Cmd), Env, WorkingDir, User,
  and, under rootfs.diff_ids, the sha256 of each layer's tar;
- the layers: each a tar (maybe gzipped) of the files one build step added
  or changed.  A file a step deleted cannot be left out of a layer, since
  the layer below still has it: the layer holds a "whiteout" instead, an
  empty file named .wh.NAME; and .wh..wh..opq in a directory says that
  nothing of the layers below shows in it (it is "opaque").

To run an image, each layer is unpacked once into a directory of the cache,
named by its digest, and the kernel's overlayfs stacks them (see
container.py): it shows the union of the directories, the upper one winning,
and sends every write to one more, empty, upper directory.  overlayfs has its
own whiteouts, which this file makes from the tar's: a character device 0/0
in place of the deleted file, and the xattr user.overlay.opaque on an opaque
directory.  Both can be made by anyone (the kernel lets any user make the 0/0
device, for overlayfs's sake), and the user.* xattrs work in a user
namespace too, where trusted.* do not: one cache serves root, --userns and
ordinary users alike, and container.py mounts with overlayfs's `userxattr`.
The files keep their extended attributes (the tar's PAX SCHILY.xattr.*
records): file capabilities as root, user.* for anyone.
The layers keep their owners as the tar gives them (as root): --userns
shows them to the container through id-mapped mounts, so that no host id
but root's may write a layer that root trusts.

The layers come from strangers, so every name in them is checked before it
is written: no entry may lead out of its layer, by `..`, by an absolute
path, through a symbolic link, or by a hard link to a file that is not in
it.  Each layer is unpacked into a temporary directory and renamed into
place only when complete and its digest checked: a killed unpack leaves no
half layer that a later run would trust.

Try:    python3 container.py --image FILE.tar --inspect     (what is inside)
        python3 container.py --image FILE.tar               (run it)
"""
import base64
import errno
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import zlib

DIGEST = re.compile(r"sha256:([0-9a-f]{64})\Z")
BLOB_NAME = re.compile(r"blobs/sha256/[0-9a-f]{64}\Z")
HEX_NAME = re.compile(r"(?:.*/)?(?:sha256:)?([0-9a-f]{64})(?:\.json)?\Z")
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "user.overlay.opaque"
WHITEOUT_XATTR = "user.overlay.whiteout"
XATTR_RECORD = "SCHILY.xattr."  # a PAX record: one extended attribute of the entry
OVERLAY_XATTRS = ("user.overlay.", "trusted.overlay.")
# An OCI index may list one manifest per machine: ours is this one.
ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
                 "s390x": "s390x", "riscv64": "riscv64"}
# How an OCI layout names its images (skopeo copy ... oci:DIR:NAME writes it).
REF_NAME = "org.opencontainers.image.ref.name"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
CHUNK = 1 << 20
# The most one layer may unpack to, unless --layer-limit says otherwise: a
# gzip bomb (5 GiB of zeros in 5 MB) stops there, and so does one short of it
# when the cache's file system has less than FREE_SPACE_KEPT left.
LAYER_LIMIT = 16 << 30
FREE_SPACE_KEPT = 256 << 20


class ImageError(Exception):
    """What is wrong with an image, in one line; nothing outside the cache was written."""


def default_cache():
    """Where unpacked layers are kept: the system's cache as root, else the user's."""
    if os.geteuid() == 0:
        return "/var/cache/containers-do-not-exist"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "containers-do-not-exist")


# --- reading an archive or a directory ----------------------------------------

class _Archive:
    """The files of an image: in a tar (as docker save writes it) or a directory.

    A compressed tar (docker save | gzip) has no index: finding its
    manifest means expanding all of it, as every start did.  So with a
    cache, the first start writes the archive's index there, with its small
    files (the manifest, the config), named by the archive's path, inode,
    size and modification time; a later start reads that instead, and
    opens the archive itself only for a layer not yet unpacked.  Changed in
    place, the archive has another mtime, and another index.
    """

    def __init__(self, path, cache=None):
        self.path = path
        self.tar = None
        self.index = None  # name: (kind, size, link target, content of a small file or None)
        if os.path.isdir(path):
            return
        try:
            with open(path, "rb") as file:
                compressed = file.read(6).startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ"))
            if compressed and cache is not None:
                self.index = _cached_index(path, cache)
                return
            self._open_tar()
        except OSError as error:
            raise ImageError(error.strerror)

    def _open_tar(self):
        try:
            self.tar = tarfile.open(self.path, "r:*")  # docker save | gzip too
            self.members = {}
            for member in self.tar.getmembers():
                name = os.path.normpath(member.name.lstrip("/"))
                self.members[name] = member
        except OSError as error:
            raise ImageError(error.strerror)
        except tarfile.TarError:
            raise ImageError("not an image: neither a directory nor a tar archive")

    def has(self, name):
        if self.index is not None:
            return name in self.index
        return name in self.members if self.tar else os.path.isfile(os.path.join(self.path,
                                                                                  name))

    def open(self, name, hops=0):
        """The file `name`, a path relative to the image, for reading."""
        name = checked_name(name, "the manifest")
        if self.index is not None:
            kind, _, target, content = self.index.get(name, ("missing", 0, "", None))
            if kind == "file" and content is not None:
                return io.BytesIO(base64.b64decode(content))
            if kind in ("symlink", "hardlink") and hops < 8:
                return self.open(os.path.normpath(target if kind == "hardlink" else
                                                  os.path.join(os.path.dirname(name), target)),
                                 hops + 1)
            if kind != "file":
                raise ImageError(f"{name}: no such file in the image")
            self.index = None  # a layer, not in the index: the archive itself, at last
            self._open_tar()
        if self.tar is None:
            try:
                return open(self._inside(name), "rb")
            except OSError as error:  # not ours to read, say
                raise ImageError(f"{name}: {error.strerror}")
        member = self.members.get(name)
        if member is not None and (member.issym() or member.islnk()) and hops < 8:
            # Older docker save links a layer that two images share.
            target = member.linkname if member.islnk() else os.path.join(
                os.path.dirname(name), member.linkname)
            return self.open(os.path.normpath(target), hops + 1)
        if member is None or not member.isfile():
            raise ImageError(f"{name}: no such file in the image")
        return self.tar.extractfile(member)

    def size(self, name):
        """The size of the file `name`; 0 if it is missing (it need not be read if cached)."""
        if self.index is not None:
            return self.index.get(checked_name(name, "the manifest"), ("", 0))[1]
        if self.tar is None:
            path = os.path.join(self.path, checked_name(name, "the manifest"))
            return os.path.getsize(path) if os.path.isfile(path) else 0
        member = self.members.get(checked_name(name, "the manifest"))
        return member.size if member is not None else 0

    def _inside(self, name):
        """The path of `name` in the image directory: refused if a link leads out of it."""
        top = os.path.realpath(self.path)
        path = os.path.realpath(os.path.join(top, name))
        if not path.startswith(top + "/"):
            raise ImageError(f"{name}: leads out of the image directory")
        if not os.path.isfile(path):
            raise ImageError(f"{name}: no such file in the image")
        return path

    def read_json(self, name, digest=None, kind=dict):
        """The JSON object (or `kind`) in the file `name`; with `digest`, refused unless its
        sha256 is that."""
        with self.open(name) as file:
            data = file.read()
        if digest is not None and hashlib.sha256(data).hexdigest() != digest:
            raise ImageError(f"{name}: its sha256 is not its digest {digest[:12]}; the file"
                             " was changed or damaged")
        try:
            document = json.loads(data)
        except ValueError as error:
            raise ImageError(f"{name}: not JSON ({error})")
        if not isinstance(document, kind):
            raise ImageError(f"{name}: a JSON {'list' if kind is list else 'object'} is expected")
        return document


INDEXED_FILE_SIZE = 1 << 20  # a manifest or a config; a layer is read from the archive
INDEX_CONTENT_LIMIT = 16 << 20


def _cached_index(path, cache):
    """The index of the compressed archive at `path`, from the cache, or made and kept there."""
    status = os.stat(path)
    key = hashlib.sha256(f"{os.path.realpath(path)}\0{status.st_dev}\0{status.st_ino}\0"
                         f"{status.st_size}\0{status.st_mtime_ns}".encode(
                             errors="surrogateescape")).hexdigest()
    folder = os.path.join(os.path.dirname(open_cache(cache)), "archives")
    where = os.path.join(folder, f"{key}.json")
    try:
        with open(where) as file:
            return {name: tuple(entry) for name, entry in json.load(file).items()}
    except (OSError, ValueError):
        pass  # not made yet, or damaged: made again
    index, kept = {}, 0
    try:
        # One pass over the stream: a gzip file read backwards starts again.
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                kind = ("file" if member.isfile() else "symlink" if member.issym() else
                        "hardlink" if member.islnk() else "other")
                content = None
                if kind == "file" and member.size <= INDEXED_FILE_SIZE and \
                        kept + member.size <= INDEX_CONTENT_LIMIT:
                    content = base64.b64encode(tar.extractfile(member).read()).decode()
                    kept += member.size
                index[os.path.normpath(member.name.lstrip("/"))] = (
                    kind, member.size, member.linkname, content)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile):
        raise ImageError("not an image: neither a directory nor a tar archive")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    partial = tempfile.NamedTemporaryFile("w", dir=folder, prefix=".partial-", delete=False)
    with partial:
        json.dump(index, partial)
    os.rename(partial.name, where)  # whole, or not at all
    return index


def checked_name(name, where):
    """A path inside an image or a layer, from its text; refused if it could lead out."""
    if not isinstance(name, str) or not name:
        raise ImageError(f"{where}: names a file by {name!r}, which is not a path")
    if name.startswith("/") or ".." in name.split("/"):
        raise ImageError(f"{where}: {name}: a name in an image is relative and has no ..")
    return os.path.normpath(name)


def _object(document, field, where):
    """The JSON object `document[field]`, {} if it is missing; refused if it is not one."""
    value = document.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImageError(f"{where}: {field} must be a JSON object")
    return value


def _blob(digest, where):
    """blobs/sha256/HEX, the OCI layout's file for a digest, and HEX."""
    found = DIGEST.match(digest) if isinstance(digest, str) else None
    if not found:
        raise ImageError(f"{where}: {digest!r} is not a sha256 digest")
    return f"blobs/sha256/{found.group(1)}", found.group(1)


def _hex_of(name, where):
    """The digest a file's name carries (HEX.json, blobs/sha256/HEX)."""
    found = HEX_NAME.match(name)
    if not found:
        raise ImageError(f"{where}: {name}: a config is named by its sha256, this one is not")
    return found.group(1)


class Layer:
    """One layer: where its tar is in the image, its digest, its size."""

    def __init__(self, name, diff_id, blob_digest, size):
        self.name = name                # the file in the image
        self.diff_id = diff_id          # sha256 of the uncompressed tar: the cache's key
        self.blob_digest = blob_digest  # sha256 of the file itself, where the image says
        self.size = size


class Image:
    """An image: its config (a dict) and its layers, bottom first.

    `name`: which image of an archive that holds several (docker save A B,
    podman save -m, an OCI layout with several refs), by its tag or name,
    as `docker run NAME` names one after `docker load`.
    """

    def __init__(self, path, name=None, cache=None):
        self.archive = _Archive(path, cache)
        self.name = name
        self.names = []  # every image's names in the archive, for --inspect
        if self.archive.has("manifest.json") and isinstance(
                self.archive.read_json("manifest.json", kind=(list, dict)), dict):
            # skopeo copy ... dir:DIR, podman save --format docker-dir: one
            # manifest, as a registry serves it, and each blob named by its hex.
            self.format = "dir (skopeo, podman docker-dir)"
            config_name, self.config_digest, layer_names, blob_digests = self._dir_manifest()
        elif self.archive.has("manifest.json"):
            self.format = "docker save"
            config_name, layer_names = self._docker_manifest()
            self.config_digest = _hex_of(config_name, "manifest.json")
            # Docker 25 and newer name layers blobs/sha256/HEX: a digest to check.
            blob_digests = [name[len("blobs/sha256/"):] if BLOB_NAME.match(name) else None
                            for name in layer_names]
        elif self.archive.has("index.json"):
            self.format = "OCI"
            config_name, self.config_digest, layer_names, blob_digests = self._oci_manifest()
        else:
            raise ImageError("not an image: no manifest.json (docker save) nor index.json (OCI)")
        self.full_config = self.archive.read_json(config_name, self.config_digest)
        diff_ids = _object(self.full_config, "rootfs", "config").get("diff_ids")
        if not layer_names:
            raise ImageError("the image has no layers, so no files at all")
        if not isinstance(diff_ids, list) or len(diff_ids) != len(layer_names):
            raise ImageError(f"config: rootfs.diff_ids must list the {len(layer_names)} layers'"
                             " digests")
        self.layers = [Layer(name, _blob(diff_id, "config")[1], blob, self.archive.size(name))
                       for name, diff_id, blob in zip(layer_names, diff_ids, blob_digests)]
        self.config = checked_config(_object(self.full_config, "config", "config"))

    def _docker_manifest(self):
        manifest = self.archive.read_json("manifest.json", kind=list)
        if not manifest or not all(isinstance(entry, dict) for entry in manifest):
            raise ImageError("manifest.json: a list of images is expected")
        tags = [entry.get("RepoTags") if isinstance(entry.get("RepoTags"), list) else []
                for entry in manifest]
        self.names = [", ".join(map(str, names)) or "(no name)" for names in tags]
        chosen = self._chosen([[str(tag) for tag in names] for names in tags], "manifest.json")
        config = checked_name(manifest[chosen].get("Config"), "manifest.json")
        layers = manifest[chosen].get("Layers")
        if not isinstance(layers, list):
            raise ImageError("manifest.json: Layers must be a list")
        return config, [checked_name(name, "manifest.json") for name in layers]

    def _dir_manifest(self):
        document = self.archive.read_json("manifest.json")
        layers = document.get("layers")
        if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
            raise ImageError("manifest.json: layers must be a list of descriptors")
        _, config_digest = _blob(_object(document, "config", "manifest.json").get("digest"),
                                 "manifest.json")
        digests = [_blob(layer.get("digest"), "manifest.json")[1] for layer in layers]
        return config_digest, config_digest, digests, digests

    def _oci_manifest(self):
        descriptor = {"mediaType": INDEX_TYPES[0], "digest": None}
        name, digest = "index.json", None
        while True:
            document = self.archive.read_json(name, digest)
            if descriptor.get("mediaType") not in INDEX_TYPES and "manifests" not in document:
                break
            descriptor = self._our_manifest(document.get("manifests"), name)
            name, digest = _blob(descriptor.get("digest"), name)
        layers = document.get("layers")
        if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
            raise ImageError(f"{name}: layers must be a list of descriptors")
        config_name, config_digest = _blob(_object(document, "config", name).get("digest"),
                                           name)
        blobs = [_blob(layer.get("digest"), name) for layer in layers]
        return config_name, config_digest, [blob for blob, _ in blobs], [hex for _, hex in blobs]

    def _chosen(self, names, where):
        """The number of the image named self.name (a tag: "app:1", or "app" for "app:latest"),
        or of the only one; refused, with the names, when several are there and none is named."""
        wanted = self.name and (self.name if ":" in self.name.rsplit("/", 1)[-1]
                                else f"{self.name}:latest")
        if wanted is None:
            if len(names) > 1:
                listed = "; ".join(", ".join(each) or "(no name)" for each in names)
                raise ImageError(f"{where}: {len(names)} images in one archive ({listed}): name"
                                 " one, as --image FILE:NAME")
            return 0
        for number, each in enumerate(names):
            if self.name in each or wanted in each:
                return number
        raise ImageError(f"{where}: no image named {self.name} in it (it has:"
                         f" {'; '.join(', '.join(each) or '(no name)' for each in names)})")

    def _our_manifest(self, manifests, where):
        """Of an index's manifests, the one named (or the only name), for this machine."""
        if not isinstance(manifests, list) or not manifests:
            raise ImageError(f"{where}: manifests must list at least one")
        if not all(isinstance(manifest, dict) for manifest in manifests):
            raise ImageError(f"{where}: manifests must be descriptors")
        refs = [manifest.get("annotations", {}).get(REF_NAME) if isinstance(
            manifest.get("annotations"), dict) else None for manifest in manifests]
        distinct = list(dict.fromkeys(str(ref) for ref in refs if ref is not None))
        if where == "index.json":
            self.names = distinct
        if where == "index.json" and (self.name is not None or len(distinct) > 1):
            # Each ref is one image (its platforms are its manifests): choose by name.
            chosen = distinct[self._chosen([[ref] for ref in distinct], where)]
            manifests = [manifest for manifest, ref in zip(manifests, refs) if str(ref) == chosen]
        architecture = ARCHITECTURES.get(os.uname().machine, os.uname().machine)
        for manifest in manifests:
            platform = manifest.get("platform")
            if not isinstance(platform, dict) or (platform.get("os"), platform.get(
                    "architecture")) == ("linux", architecture):
                return manifest
        raise ImageError(f"{where}: no manifest for linux/{architecture}")


def checked_config(config):
    """The image config's fields that container.py applies, with their types checked."""
    def strings(field):
        value = config.get(field)
        if value is not None and (not isinstance(value, list)
                                  or not all(isinstance(item, str) for item in value)):
            raise ImageError(f"config: {field} must be a list of strings")
        return list(value or [])

    def text(field):
        value = config.get(field)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ImageError(f"config: {field} must be a string")
        return value

    checked = {"Env": strings("Env"), "Entrypoint": strings("Entrypoint"), "Cmd": strings("Cmd"),
               "WorkingDir": text("WorkingDir"), "User": text("User"),
               "Hostname": text("Hostname")}
    if any("=" not in item for item in checked["Env"]):
        raise ImageError("config: each Env item is NAME=VALUE")
    if checked["WorkingDir"] and not checked["WorkingDir"].startswith("/"):
        raise ImageError(f"config: WorkingDir {checked['WorkingDir']} is not absolute")
    return checked


# --- the cache ------------------------------------------------------------------

def open_cache(cache):
    """The cache's layer directory, made if missing; refused if another user could write it.

    A layer in the cache is trusted without reading its tar again: a cache
    that someone else can write to would let them choose what runs.
    """
    layers = os.path.join(cache, "layers")

    def check(path, owner):
        status = os.stat(path)
        if status.st_uid != owner or status.st_mode & 0o022:
            raise ImageError(f"--cache {cache}: {path} is not ours alone (owner"
                             f" {status.st_uid}, mode {stat.filemode(status.st_mode)})")

    try:
        os.makedirs(cache, mode=0o711, exist_ok=True)
        check(cache, os.geteuid())
        os.makedirs(layers, mode=0o700, exist_ok=True)
        check(layers, os.geteuid())
    except OSError as error:
        raise ImageError(f"--cache {cache}: {error.strerror}")
    return layers


def unpacked_layers(image, cache, progress=None, limit=LAYER_LIMIT):
    """The cache directories of the image's layers, bottom first; each unpacked once.

    `limit`: the most bytes of tar a layer may unpack to.
    """
    layers = open_cache(cache)
    remove_stale_partials(layers)
    # Every layer to unpack must be there before the first is: else an
    # image that cannot run would leave its first layers in the cache.
    for number, layer in enumerate(image.layers, 1):
        if not os.path.isdir(os.path.join(layers, layer.diff_id)) and not image.archive.has(
                layer.name):
            raise ImageError(f"{layer.name}: no such file in the image (layer {number} of"
                             f" {len(image.layers)}); nothing was unpacked")
    directories = []
    for number, layer in enumerate(image.layers, 1):
        directory = os.path.join(layers, layer.diff_id)
        if not os.path.isdir(directory):
            label = f"layer {number}/{len(image.layers)} {layer.diff_id[:12]}"
            unpack_into_cache(image.archive, layer, layers, directory,
                              progress and (lambda done: progress(label, done, layer.size)),
                              limit)
            if progress:
                progress(label, layer.size, layer.size, end="\n")
        directories.append(directory)
    return directories


def unpack_into_cache(archive, layer, layers, directory, progress=None, limit=LAYER_LIMIT):
    """Unpack `layer` into a temporary directory, check it, rename it to `directory`.

    A compressed blob whose digest the image gives is checked before it is
    expanded: a bomb that lies about its digest never gets to expand.
    """
    with archive.open(layer.name) as file:
        head = file.read(2)
        if layer.blob_digest is not None and head == b"\x1f\x8b":
            blob = _Digesting(_Prefixed(head, file)).read_to_end()
            if blob != layer.blob_digest:
                raise ImageError(f"layer {layer.diff_id[:12]}: its file's sha256 is {blob[:12]},"
                                 f" not the image's {layer.blob_digest[:12]}: changed or damaged")
    # Named with our pid: a later run removes it if we were killed (remove_stale_partials).
    partial = tempfile.mkdtemp(prefix=f".partial-{layer.diff_id[:12]}-{os.getpid()}-", dir=layers)
    try:
        with archive.open(layer.name) as file:
            left_out = unpack_verified(file, partial, layer, progress, limit)
        os.chmod(partial, 0o755)  # the layer's top, the image's /, as mkdtemp did not make it
        os.rename(partial, directory)
        if left_out:
            # Once, as the layer is unpacked once: not hidden, and not fatal
            # (Docker too runs a rootless image without its file capabilities).
            path, name, why = left_out[0]
            more = f", and {len(left_out) - 1} more" if len(left_out) > 1 else ""
            _say(f"layer {layer.diff_id[:12]}: {name} of {path}{more} left out ({why}:"
                 " file capabilities and trusted.* need root outside)")
    except OSError as error:
        _remove(partial)
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST) and os.path.isdir(directory):
            return  # another run unpacked the same layer meanwhile
        where = os.path.relpath(error.filename, partial) + ": " if error.filename else ""
        raise ImageError(f"layer {layer.diff_id[:12]}: {where}{error.strerror}")
    except BaseException:
        _remove(partial)
        raise


def _say(line):
    """A note on stderr, in the tool's name; a closed stderr is let be."""
    try:
        os.write(2, f"{os.path.basename(sys.argv[0] or 'image.py')}: {line}\n".encode(
            errors="backslashreplace"))
    except OSError:
        pass


def remove_stale_partials(layers):
    """Remove the half layers of unpacks whose process is gone (killed by SIGKILL, say)."""
    for name in os.listdir(layers):
        parts = name.split("-")
        if name.startswith(".partial-") and len(parts) > 3 and parts[2].isdigit() and \
                not os.path.exists(f"/proc/{parts[2]}"):
            try:
                _remove(os.path.join(layers, name))
            except OSError:
                pass  # another run's cleanup came first


def _remove(path):
    """Remove a partial layer, even its directories that the layer made read-only."""
    for top, directories, _ in os.walk(path):
        for name in directories:
            if not os.path.islink(os.path.join(top, name)):
                os.chmod(os.path.join(top, name), 0o700)
    shutil.rmtree(path)


class _Digesting:
    """A file object that hashes what is read through it, and counts it.

    `bounded`: (the most bytes, the folder they go to): past the most, or
    with the folder's file system nearly full, reading stops with ImageError.
    """

    def __init__(self, file, progress=None, bounded=None):
        self.file, self.sha256, self.count, self.progress = file, hashlib.sha256(), 0, progress
        self.bounded = bounded

    def read(self, size=-1):
        data = self.file.read(size)
        self.sha256.update(data)
        if (self.count + len(data)) // CHUNK > self.count // CHUNK:  # once a megabyte
            if self.progress:
                self.progress(self.count + len(data))
            if self.bounded:
                self._check_bounds(self.count + len(data))
        self.count += len(data)
        return data

    def _check_bounds(self, count):
        limit, folder = self.bounded
        if count > limit:
            raise ImageError(f"a layer unpacks to more than {_as_docker_says(limit)}"
                             " (--layer-limit): a compression bomb, or a layer bigger than that")
        space = os.statvfs(folder)
        if space.f_bavail * space.f_frsize < FREE_SPACE_KEPT:
            raise ImageError(f"the cache's file system has less than {_size(FREE_SPACE_KEPT)}"
                             " left: stopped before it is full")

    def read_to_end(self):
        while self.read(CHUNK):
            pass
        return self.sha256.hexdigest()


def unpack_verified(file, top, layer, progress=None, limit=LAYER_LIMIT):
    """Unpack the layer's tar from `file` into `top`; ImageError if a digest is wrong.

    The file is read once, as a stream: its sha256 is checked against the
    digest the image gives for it (OCI), and the sha256 of the tar inside,
    gunzipped if it was gzipped, against the config's diff_id, the cache's
    key: a layer that lied about it would be trusted by every later image.
    A tar that is not gzipped is its own blob: its bytes are hashed once.
    """
    raw = _Digesting(file, progress)
    magic = raw.read(4)
    if magic == b"\x28\xb5\x2f\xfd":
        raise ImageError(f"layer {layer.diff_id[:12]}: compressed with zstd, which"
                         " Python's standard library cannot read")
    compressed = magic.startswith(b"\x1f\x8b")
    if compressed:
        tar_bytes = _Digesting(gzip.GzipFile(fileobj=_Prefixed(magic, raw), mode="rb"),
                               bounded=(limit, top))
        entries = _TarReader(tar_bytes)
    else:
        raw.bounded = (limit, top)
        tar_bytes, entries = raw, _TarReader(raw, magic)
    try:
        left_out = unpack(entries, top)
        diff_id = tar_bytes.read_to_end()
        blob = raw.read_to_end() if compressed else diff_id
    except (_NotATar, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ImageError(f"layer {layer.diff_id[:12]}: not a complete tar ({error})")
    if layer.blob_digest is not None and blob != layer.blob_digest:
        raise ImageError(f"layer {layer.diff_id[:12]}: its file's sha256 is {blob[:12]}, not"
                         f" the image's {layer.blob_digest[:12]}: changed or damaged")
    if diff_id != layer.diff_id:
        raise ImageError(f"layer {layer.diff_id[:12]}: its tar's sha256 is {diff_id[:12]}:"
                         " changed or damaged")
    return left_out


class _Prefixed:
    """A file object that gives `head` back before the rest of `file`."""

    def __init__(self, head, file):
        self.head, self.file = head, file

    def read(self, size=-1):
        if not self.head:
            return self.file.read(size)
        if size < 0:
            data, self.head = self.head + self.file.read(), b""
            return data
        data, self.head = self.head[:size], self.head[size:]
        return data


# --- reading a layer's tar --------------------------------------------------------

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
DIRECTORY_ONLY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
ID_LIMIT = 1 << 32  # of owners and device numbers, as the kernel's
NUL_AS_SPACE = bytes.maketrans(b"\0", b" ")
SPECIAL_LIMIT = 1 << 20  # the most a PAX or GNU long-name header may hold, as Go's archive/tar
GLOBALS_LIMIT = 64  # global PAX records: tar writers put a comment or two there
# The deepest path a layer may hold: Python's own shutil.rmtree, which
# removes a half-unpacked layer, recurses once a directory (Docker's go has
# no such bound; no image holds a path of a hundred directories).
DEPTH_LIMIT = 256
PAX_NUMBER = re.compile(r"[0-9]{1,20}\Z")  # no longer: int() of 4,300 digits raises
PAX_TIME = re.compile(r"(-?)([0-9]{1,20})(?:\.([0-9]*))?\Z")
FILE, HARD_LINK, SYMLINK, CHAR, BLOCK_DEVICE, DIRECTORY, FIFO = b"0123456"


class _NotATar(Exception):
    """A header no tar writer makes: the layer is refused."""


class _Entry:
    """One entry of a layer's tar, its PAX and GNU headers applied."""

    __slots__ = ("name", "kind", "mode", "uid", "gid", "size", "mtime_ns", "linkname", "device",
                 "xattrs")


class _TarReader:
    """The entries of a tar, read once from the stream `file`: ustar, GNU and PAX.

    These are the formats Docker and every Go tool, GNU tar, Python's
    tarfile and umoci write.  tarfile could read them, but a layer of
    50,000 small files spends most of its time in tarfile's header code;
    this reader takes what an unpacker needs from each 512-byte header
    and writes a file's bytes straight from what it read.  An entry's
    data that the caller does not copy (copy_to) is skipped.
    """

    def __init__(self, file, data=b""):
        self.file, self.data, self.at, self.unread = file, data, 0, 0
        self.globals = {}  # PAX records of type g: for every later entry

    def _take(self, size):
        """The next `size` bytes; EOFError if the tar ends before."""
        if self.at + size > len(self.data):
            pieces, have = [self.data[self.at:]], len(self.data) - self.at
            while have < size:
                chunk = self.file.read(max(CHUNK, size - have))
                if not chunk:
                    raise EOFError("it ends in the middle of an entry")
                pieces.append(chunk)
                have += len(chunk)
            self.data, self.at = b"".join(pieces), 0
        self.at += size
        return self.data[self.at - size:self.at]

    def _skip(self, size):
        """Pass the next `size` bytes by; EOFError if the tar ends before."""
        while self.at + size > len(self.data):
            size -= len(self.data) - self.at
            self.data, self.at = self.file.read(CHUNK), 0
            if not self.data:
                raise EOFError("it ends in the middle of an entry")
        self.at += size

    def copy_to(self, descriptor, size):
        """Write the entry's `size` bytes of data to `descriptor`."""
        left, self.unread = size, self.unread - size
        if 0 < size <= len(self.data) - self.at:  # nearly always: a small file, read already
            left -= os.write(descriptor, self.data[self.at:self.at + size])
            self.at += size - left
        while left:
            if self.at == len(self.data):
                self.data, self.at = self.file.read(CHUNK), 0
                if not self.data:
                    raise EOFError("it ends in the middle of a file")
            end = min(len(self.data), self.at + left)
            piece = memoryview(self.data)[self.at:end]
            while piece:
                piece = piece[os.write(descriptor, piece):]
            left -= end - self.at
            self.at = end

    def __iter__(self):
        pax, long_name, long_link = {}, None, None
        while True:
            self._skip(self.unread)
            self.unread = 0
            if self.at == len(self.data):
                self.data, self.at = self.file.read(CHUNK), 0
                if not self.data:
                    return  # no end-of-archive blocks: tarfile and Go's archive/tar end here too
            block = self._take(BLOCK)
            if block == ZERO_BLOCK:
                return  # the end; what follows is hashed, not read
            mode, uid, gid, size, mtime, checksum = _numbers(block)
            if not _checksum_matches(block, checksum):
                raise _NotATar("a header with a wrong checksum")
            if size < 0:
                raise _NotATar("a header with a negative size")
            kind = block[156]
            if kind in b"xXgLK":  # PAX records (X: Solaris's), or GNU's long name, of the next
                if size > SPECIAL_LIMIT:
                    raise _NotATar(f"a header of more than {_size(SPECIAL_LIMIT)}")
                payload = self._take(_padded(size))[:size]
                if kind == ord("L"):
                    long_name = payload.split(b"\0", 1)[0]
                elif kind == ord("K"):
                    long_link = payload.split(b"\0", 1)[0]
                elif kind == ord("g"):
                    self.globals.update(_pax_records(payload))
                    if len(self.globals) > GLOBALS_LIMIT:
                        raise _NotATar(f"more than {GLOBALS_LIMIT} global PAX records")
                else:  # the next entry's own: a second header replaces the first, as Go's
                    pax = _pax_records(payload)
                continue
            if kind == ord("S") or pax and any(key.startswith("GNU.sparse.") for key in pax):
                raise _NotATar("a sparse file, which no image tool writes")
            records = {**self.globals, **pax} if self.globals else pax
            entry = _Entry()
            name = long_name or block[:100].split(b"\0", 1)[0]
            if not long_name and block[257:263] == b"ustar\0" and block[345]:
                name = block[345:500].split(b"\0", 1)[0] + b"/" + name  # POSIX's prefix
            link = long_link or block[157:257].split(b"\0", 1)[0]
            entry.kind = FILE if kind in (0, ord("7")) else kind  # old and contiguous files
            entry.mode, entry.uid, entry.gid, entry.size = mode & 0o7777, uid, gid, size
            entry.mtime_ns = mtime * 10 ** 9
            entry.device = (_number(block[329:337]), _number(block[337:345])) if kind in (
                CHAR, BLOCK_DEVICE) else (0, 0)
            entry.xattrs = {}
            if records:
                name, link = records.get("path") or name, records.get("linkpath") or link
                entry.uid = _pax_number(records, "uid", uid)
                entry.gid = _pax_number(records, "gid", gid)
                entry.size = _pax_number(records, "size", size)
                if records.get("mtime"):
                    entry.mtime_ns = _nanoseconds(records["mtime"])
                entry.xattrs = {key[len(XATTR_RECORD):]: value for key, value in records.items()
                                if key.startswith(XATTR_RECORD) and value is not None}
            if b"\0" in name or b"\0" in link:  # possible in a PAX record only
                raise _NotATar("a name with a NUL byte")
            entry.name = name.decode("utf-8", "surrogateescape")
            entry.linkname = link.decode("utf-8", "surrogateescape")
            if kind == 0 and entry.name.endswith("/"):
                entry.kind = DIRECTORY  # as tar wrote a directory before ustar
            if not (0 <= entry.uid < ID_LIMIT and 0 <= entry.gid < ID_LIMIT and entry.size >= 0
                    and abs(entry.mtime_ns) < 1 << 63
                    and 0 <= min(entry.device) and max(entry.device) < ID_LIMIT):
                raise _NotATar("a header with an owner, size or time out of range")
            self.unread = _padded(entry.size)
            pax, long_name, long_link = {}, None, None
            yield entry


def _padded(size):
    """The bytes an entry's `size` bytes of data take: whole blocks."""
    return size + -size % BLOCK


def _numbers(block):
    """A header's mode, uid, gid, size, mtime and checksum."""
    try:  # as nearly all are written: octal digits, ended by a space or NUL
        text = block[100:156].translate(NUL_AS_SPACE)
        return (int(text[:8], 8), int(text[8:16], 8), int(text[16:24], 8), int(text[24:36], 8),
                int(text[36:48], 8), int(text[48:56], 8))
    except ValueError:
        return tuple(_number(block[start:end]) for start, end in (
            (100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (148, 156)))


def _number(field):
    """A header's number: octal text, or base-256 binary (GNU, Go) if the top bit is set."""
    if field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        return value - (1 << 8 * (len(field) - 1)) if field[0] == 0xff else value
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise _NotATar("a header with a number that is not one")


def _nanoseconds(text):
    """A PAX time, decimal seconds as "1700000000.123456789", in nanoseconds."""
    match = PAX_TIME.match(text)
    if not match:
        raise _NotATar("a PAX record with a time that is not one")
    sign, whole, fraction = match.groups()
    value = int(whole) * 10 ** 9 + int((fraction or "")[:9].ljust(9, "0"))
    return -value if sign else value


def _pax_number(records, key, default):
    """The PAX record `key` as a number, or `default` where it has none."""
    text = records.get(key)
    if text is None:
        return default
    if not PAX_NUMBER.match(text):
        raise _NotATar("a PAX record with a number that is not one")
    return int(text)


def _checksum_matches(block, checksum):
    """Is `checksum` the sum of the header's bytes, its own eight counted as spaces?

    Summing 512 bytes in Python costs what the rest of the header does.
    zlib's adler32 has the sum at C's speed, as 1 + sum modulo 65521: exact
    while the sum is below 65520, as it is when at most 256 bytes are not
    zero (nearly every header).  Old Sun tars summed signed bytes.
    """
    if block.count(0) >= BLOCK - 256:
        total = (zlib.adler32(block) & 0xffff) - 1
    else:
        total = sum(block)
    unsigned = total - sum(block[148:156]) + 8 * ord(" ")
    return checksum == unsigned or checksum == unsigned - 256 * sum(
        1 for byte in block[:148] + block[156:] if byte & 0x80)


def _pax_records(payload):
    """{key: value} of PAX records, "LENGTH KEY=VALUE\\n"; an empty value unsets the key."""
    records, at = {}, 0
    while at < len(payload) and payload[at]:
        space = payload.find(b" ", at)
        try:
            length = int(payload[at:space])
        except ValueError:
            raise _NotATar("a PAX header that is not one")
        key, equals, value = payload[space + 1:at + length].partition(b"=")
        if length <= space - at or at + length > len(payload) or not equals or \
                not value.endswith(b"\n"):
            raise _NotATar("a PAX header that is not one")
        if b"\0" in key:  # no extended attribute may have one; setxattr() would raise
            raise _NotATar("a PAX record with a NUL byte in its key")
        key = key.decode("utf-8", "surrogateescape")
        if key.startswith(XATTR_RECORD) or key in ("path", "linkpath"):
            records[key] = value[:-1] or None
        else:
            records[key] = value[:-1].decode("ascii", "replace") or None
        at += length
    return records


# --- unpacking one layer ----------------------------------------------------------

def unpack(entries, top):
    """Write the entries of a layer's tar (a _TarReader) under `top`, refusing hostile ones.

    Each entry's own path is checked (layer_path), and so is the way to it
    (_Tree.parent): it may not pass through a symbolic link, even one the
    same layer made a moment before, since the kernel would follow it out
    of the layer.  Nothing is ever made through an existing name: each is
    created exclusively, and what stood there is removed first (_Tree.fresh).  Whiteouts
    become overlayfs's.  As root, the files keep their owners; an ordinary
    user's are all theirs, and so root's in the user namespace.
    Directories get their modes last, so that a read-only one can still be
    filled.  Extended attributes (PAX SCHILY.xattr.*, as Docker writes and
    reads them: file capabilities, user.*) are set last; those this user
    may not set are returned, (path, name, why), to be said.
    """
    umask = os.umask(0)  # a file is made with its mode (see _set_attributes), as tar -p does
    try:
        return _unpack(entries, top)
    finally:
        os.umask(umask)


def _unpack(entries, top):
    as_root = os.geteuid() == 0
    tree, left_out = _Tree(top), []
    for entry in entries:
        name = layer_path(entry.name)
        if name == ".":
            continue
        parent, _, base = name.rpartition("/")
        parent_path = tree.parent(parent, name)
        path = f"{parent_path}/{base}"
        if base.startswith(WHITEOUT_PREFIX):
            deleted = base[len(WHITEOUT_PREFIX):]
            if base == OPAQUE_MARKER:
                _make_opaque(parent_path)
            elif deleted.startswith(WHITEOUT_PREFIX):
                pass  # aufs's own bookkeeping, not a file
            elif deleted in ("", ".", ".."):  # .wh... would delete the layer's parent
                raise ImageError(f"{name}: a whiteout that names no file of the layer")
            else:
                tree.whiteout(parent_path, deleted)
            continue
        kind = entry.kind
        if kind == DIRECTORY:
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    tree.fresh(path, lambda: os.mkdir(path, 0o700))
            tree.made_directory(name, path, entry)
        elif kind == FILE:
            descriptor = tree.fresh(path, lambda: os.open(path, NEW_FILE, entry.mode))
            try:
                entries.copy_to(descriptor, entry.size)
                _set_attributes(descriptor, entry, as_root, left_out)
            finally:
                os.close(descriptor)
        elif kind == HARD_LINK:
            target = layer_path(entry.linkname)
            target_path = os.path.join(tree.parent(os.path.dirname(target), name),
                                       os.path.basename(target))
            try:
                target_mode = os.lstat(target_path).st_mode
            except FileNotFoundError:
                target_mode = stat.S_IFDIR  # nothing there: refused as a directory is
            if stat.S_ISDIR(target_mode):
                raise ImageError(f"{name}: a hard link to {target}, which is no file of this"
                                 " layer")
            # A second name for the same inode, a symbolic link or a FIFO
            # included, as `ln` makes it: linkat(2) without following.  It
            # shares the owner and mode of its target.
            tree.fresh(path, lambda: os.link(target_path, path, follow_symlinks=False))
        else:
            if kind == SYMLINK:
                # Whatever it points to: it is only ever followed inside the
                # container, where .. at its root stays at its root, and this
                # unpacker never follows one (see _Tree.parent, O_NOFOLLOW).
                tree.fresh(path, lambda: os.symlink(entry.linkname, path))
            elif kind in (CHAR, BLOCK_DEVICE):
                if not as_root:
                    raise ImageError(f"{name}: a device node, which only root may make")
                tree.fresh(path, lambda: os.mknod(
                    path, entry.mode | (stat.S_IFCHR if kind == CHAR else stat.S_IFBLK),
                    os.makedev(*entry.device)))
            elif kind == FIFO:
                tree.fresh(path, lambda: os.mkfifo(path, 0o600))
            else:
                raise ImageError(f"{name}: an entry of a kind a layer cannot hold")
            _set_attributes(path, entry, as_root, left_out)
    # The deepest first, so that a directory made read-only has been filled.
    for name, (entry, identity) in sorted(tree.pending.items(),
                                          key=lambda item: -item[0].count("/")):
        descriptor = tree.open_directory(name, identity)
        try:
            _set_attributes(descriptor, entry, as_root, left_out)
        finally:
            os.close(descriptor)
    return left_out


class _Tree:
    """The layer's tree as unpacked so far, under `top`.

    `known`: the directories made or checked, name -> path, so that the way
    to each entry is checked once.  `pending`: the directories whose
    entries have their attributes set last, name -> (entry, (device,
    inode)); a name that a later entry replaces leaves it, as tar forgets a
    directory whose name now holds a file.
    """

    def __init__(self, top):
        self.top, self.known, self.pending = top, {"": top}, {}

    def parent(self, parent, name):
        """The directory `parent` of the layer, made if missing; no link on the way."""
        path = self.known.get(parent)
        if path is not None:
            return path
        path, sofar = self.top, ""
        for part in parent.split("/"):
            path, sofar = f"{path}/{part}", f"{sofar}/{part}" if sofar else part
            if sofar in self.known:
                continue
            try:
                os.mkdir(path, 0o755)  # a tar need not list every directory
            except FileExistsError:
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    raise ImageError(f"{name}: below the symbolic link {sofar}, which could"
                                     " lead out of the layer")
                if not stat.S_ISDIR(mode):
                    raise ImageError(f"{name}: below {sofar}, which is not a directory")
            self.known[sofar] = path
        return path

    def made_directory(self, name, path, entry):
        status = os.lstat(path)
        self.known[name] = path
        self.pending[name] = (entry, (status.st_dev, status.st_ino))

    def fresh(self, path, make):
        """make() the new name at `path`; a later entry wins over an earlier one, as tar does."""
        try:
            return make()
        except FileExistsError:
            self.replace(path)
            return make()

    def replace(self, path):
        """Remove what is at `path`; a directory with all below it, forgotten."""
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
        shutil.rmtree(path)
        name = path[len(self.top) + 1:]
        for forgotten in [known for known in self.pending
                          if known == name or known.startswith(f"{name}/")]:
            del self.pending[forgotten]
        self.known = {"": self.top}  # the directories below it are gone too

    def whiteout(self, directory, name):
        """overlayfs's whiteout for `name`: a character device 0/0, or a marked empty file.

        Anyone may make that one device, but a device cgroup may refuse it
        all the same (Docker's, without --privileged): then an empty file
        with the xattr user.overlay.whiteout, in a directory marked "x"
        (Linux 6.7).
        """
        path = os.path.join(directory, name)
        if os.path.lexists(path):
            self.replace(path)
        if _opacity(directory) == b"y":
            return  # an opaque directory hides every lower name already
        try:
            os.mknod(path, stat.S_IFCHR | 0o600, 0)
        except PermissionError:
            os.close(os.open(path, NEW_FILE, 0o600))
            os.setxattr(path, WHITEOUT_XATTR, b"y")
            os.setxattr(directory, OPAQUE_XATTR, b"x")

    def open_directory(self, name, identity):
        """The directory `name`, opened one name at a time with no link followed.

        The layer's own entries replace only through replace(), which
        forgets what it removes; the walk and the check of the inode are
        the guard should anything else have swapped a link in.
        """
        descriptor = os.open(self.top, DIRECTORY_ONLY)
        try:
            for part in name.split("/"):
                descriptor, parent = os.open(part, DIRECTORY_ONLY, dir_fd=descriptor), descriptor
                os.close(parent)
            status = os.fstat(descriptor)
        except OSError:
            os.close(descriptor)
            raise
        if (status.st_dev, status.st_ino) != identity:
            os.close(descriptor)
            raise ImageError(f"{name}: replaced by something else while the layer was unpacked")
        return descriptor


def _make_opaque(directory):
    """Mark `directory` opaque; its whiteouts serve no purpose, and a marked file would show."""
    os.setxattr(directory, OPAQUE_XATTR, b"y")
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        status = os.lstat(path)
        marked = stat.S_ISREG(status.st_mode) and WHITEOUT_XATTR in os.listxattr(path)
        if marked or (stat.S_ISCHR(status.st_mode) and status.st_rdev == 0):
            os.unlink(path)


def _opacity(directory):
    try:
        return os.getxattr(directory, OPAQUE_XATTR)
    except OSError:
        return None


def layer_path(name):
    """An entry's path relative to the layer's top; refused if it is absolute or has .."""
    wrapped = f"/{name}/"
    if name.startswith("/") or "/../" in wrapped:
        raise ImageError(f"{name}: leads out of the layer (absolute, or with ..)")
    if name.count("/") > DEPTH_LIMIT:
        raise ImageError(f"{name[:80]}...: deeper than {DEPTH_LIMIT} directories")
    if "/./" in wrapped or "//" in wrapped:
        return os.path.normpath(name)  # ./usr/, as tar -C DIR . writes it: usr
    return name


def _set_attributes(where, entry, as_root, left_out):
    """Owner (as root), mode, extended attributes and times, never following a link.

    `where` is an open descriptor, the file itself, or a path, whose last
    name is never followed (the way to it is checked already).
    """
    unfollowed = {} if isinstance(where, int) else {"follow_symlinks": False}
    if as_root:
        os.chown(where, entry.uid, entry.gid, **unfollowed)
    if entry.kind != SYMLINK and (entry.kind != FILE or entry.mode & 0o7000):
        # After chown, which clears set-user-ID.  A file was made with its
        # mode, with the umask 0, which is all but these bits.
        os.chmod(where, entry.mode)
    for name, value in entry.xattrs.items():
        if name.startswith(OVERLAY_XATTRS):
            # overlayfs reads these as its own whiteouts, opaque and
            # redirected directories: only this unpacker may write them.
            raise ImageError(f"{entry.name}: the extended attribute {name}, overlayfs's own,"
                             " which a layer may not set")
        try:
            os.setxattr(where, name, value, **unfollowed)  # after chown, which clears capabilities
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EACCES, errno.EINVAL):
                raise
            left_out.append((entry.name, name, error.strerror))
    os.utime(where, ns=(entry.mtime_ns, entry.mtime_ns), **unfollowed)


# --- looking inside -----------------------------------------------------------------

def describe(image, cache):
    """What `container.py --image FILE --inspect` prints: the layers, then the config."""
    cached = os.path.join(cache, "layers")
    lines = [f"{image.archive.path}: a {image.format} image, config sha256:{image.config_digest}"]
    if len(image.names) > 1:
        lines.append(f"one of {len(image.names)} images in it: {'; '.join(image.names)}")
    lines.append("layers, bottom first (each a tar of files; the cache keeps each unpacked"
                 " once):")
    history = [entry for entry in image.full_config.get("history") or []
               if isinstance(entry, dict) and not entry.get("empty_layer")]
    for number, layer in enumerate(image.layers):
        in_cache = os.path.isdir(os.path.join(cached, layer.diff_id))
        lines.append(f"  {number + 1}  sha256:{layer.diff_id}  {_size(layer.size):>9}"
                     f"  {'in the cache' if in_cache else 'not unpacked yet'}")
        made_by = history[number].get("created_by") if number < len(history) else None
        if isinstance(made_by, str):
            lines.append(f"     made by: {made_by}")
    lines.append("config (what container.py applies):")
    for field, value in image.config.items():
        lines.append(f"  {field}: {json.dumps(value) if isinstance(value, list) else value}")
    return "\n".join(lines) + "\n"


def _as_docker_says(count):
    """16g for 16 GiB, 512m, 10k: a size as docker run's options write it."""
    for unit, shift in (("g", 30), ("m", 20), ("k", 10)):
        if count >= 1 << shift and count % (1 << shift) == 0:
            return f"{count >> shift}{unit}"
    return f"{count}b"


def _size(count):
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000


def show_progress(label, done, total, end=""):
    """One line on stderr, rewritten in place, when stderr is a terminal.

    Only a courtesy: a terminal that went away does not stop the unpack.
    """
    percent = f"{100 * done // total}%" if total else _size(done)
    try:
        sys.stderr.write(f"\runpacking {label}: {percent}  {end}")
        sys.stderr.flush()
    except OSError:
        pass
