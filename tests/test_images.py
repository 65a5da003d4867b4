"""Images: layers stacked by overlayfs, whiteouts, the config, the cache, hostile layers."""
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import image as image_module
import images
from helpers import (NOBODY, ROOT, TIMEOUT, id_mapping_refusal, run_as_nobody, run_container,
                     stage_env, wait_until)
from images import entry, layer, save_image

pytestmark = pytest.mark.usefixtures("namespaces_work")

SHOW = ("echo $GREETING; pwd; ls /data; cat /etc/motd; ls /etc; ls /gone 2>&1;"
        " cat /data/b")
CONFIG = {"Env": ["GREETING=hello from the config"], "WorkingDir": "/work",
          "Cmd": ["/bin/sh", "-c", SHOW]}
# What SHOW prints in the image of three_layers: layer 2 replaced motd and
# deleted /etc/group and /gone; layer 3 made /data opaque, hiding layer 2's a.
# Docker's hostname, hosts and resolv.conf are in /etc too, as under docker run.
SHOWN = ["hello from the config", "/work", "b", "replaced by layer 2", "hostname", "hosts",
         "motd", "passwd", "resolv.conf", "ls: cannot access '/gone': No such file or directory",
         "only b"]


@pytest.fixture(scope="session")
def base():
    return images.base_layer()


@pytest.fixture
def three_layers(base):
    return [base,
            layer(entry("etc/motd", data="replaced by layer 2\n"), entry("etc/.wh.group"),
                  entry("gone", data="in layer 2 and deleted by layer 2's whiteout"),
                  entry("data", "dir"), entry("data/a", data="hidden by the opaque dir")),
            layer(entry("etc/.wh.gone"), entry(".wh.gone"), entry("data/.wh..wh..opq"),
                  entry("data/b", data="only b\n"))]


@pytest.fixture
def place(visible_dir):
    """A folder for the image and the cache, which the child and nobody can see."""
    visible_dir.chmod(0o755)
    return visible_dir


def tree(path):
    """{relative path: (mode, owner, content or link)} of everything under `path`."""
    found = {}
    for top, directories, files in os.walk(path):
        for name in directories + files:
            full = os.path.join(top, name)
            status = os.lstat(full)
            if os.path.islink(full):
                content = os.readlink(full)
            elif os.path.isfile(full):
                with open(full, "rb") as file:
                    content = hashlib.sha256(file.read()).hexdigest()
            else:
                content = status.st_rdev
            found[os.path.relpath(full, path)] = (status.st_mode, status.st_uid, content)
    return found


FORMATS = [
    pytest.param({"flavour": "docker"}, id="docker-save-tar"),
    pytest.param({"flavour": "docker", "directory": True}, id="docker-save-directory"),
    pytest.param({"flavour": "oci"}, id="oci-archive"),
    pytest.param({"flavour": "oci", "compress": True, "directory": True}, id="oci-gzip-layout"),
    pytest.param({"flavour": "docker", "compress": True}, id="docker-save-gzipped"),
]


@pytest.mark.parametrize("image_format", FORMATS)
def test_the_container_sees_the_layers_merged(place, three_layers, image_format):
    image = save_image(str(place / "image"), three_layers, CONFIG, **image_format)
    result = run_container("--image", image, "--cache", str(place / "cache"))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == SHOWN


def test_as_an_ordinary_user_too(place, three_layers, world_readable_copy):
    image = save_image(str(place / "image.tar"), three_layers, CONFIG, flavour="oci")
    (place / "home").mkdir()
    os.chown(place / "home", NOBODY, NOBODY)
    result = run_as_nobody(world_readable_copy, "container.py", "--image", image,
                           before=f"export XDG_CACHE_HOME={place}/home")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == SHOWN
    cached = os.listdir(place / "home" / "containers-do-not-exist" / "layers")
    assert sorted(cached) == sorted(images.digest(tar) for tar in three_layers)


def test_where_a_device_cgroup_refuses_whiteout_devices_marked_files_do(place, three_layers):
    # As in docker run without --privileged: a seccomp filter refuses mknod
    # here, as Docker's device cgroup refuses even the 0/0 device there.
    image = save_image(str(place / "image.tar"), three_layers, CONFIG)
    refuse_mknod = ("import os, sys, libns; from runtime import seccomp;"
                    " libns.load_seccomp_filter(seccomp.compile({'defaultAction':"
                    " 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['mknod', 'mknodat'],"
                    " 'action': 'SCMP_ACT_ERRNO'}]})); os.execv(sys.executable, sys.argv)")
    result = subprocess.run([sys.executable, "-c", refuse_mknod, str(ROOT / "container.py"),
                             "--image", image, "--cache", str(place / "cache")],
                            capture_output=True, text=True, timeout=TIMEOUT,
                            env=stage_env(PYTHONPATH=str(ROOT)))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == SHOWN
    etc = place / "cache" / "layers" / images.digest(three_layers[1]) / "etc"
    assert os.path.isfile(etc / "group") and os.path.getsize(etc / "group") == 0
    assert os.getxattr(etc / "group", "user.overlay.whiteout") == b"y"
    assert os.getxattr(etc, "user.overlay.opaque") == b"x"


def test_writes_inside_reach_neither_the_image_nor_the_cache(place, three_layers):
    image = save_image(str(place / "image.tar"), three_layers, CONFIG)
    cache = place / "cache"
    run_container("--image", image, "--cache", str(cache), "true")
    before = tree(place)
    result = run_container("--image", image, "--cache", str(cache), "/bin/sh", "-c",
                           "rm -r /bin/cat /data; echo changed > /etc/motd; touch /new; ls /")
    assert (result.returncode, result.stderr) == (0, "")
    assert "new" in result.stdout.split() and "data" not in result.stdout.split()
    assert tree(place) == before
    again = run_container("--image", image, "--cache", str(cache))
    assert again.stdout.splitlines() == SHOWN


def test_a_second_run_takes_the_layers_from_the_cache(place, three_layers):
    image = save_image(str(place / "image"), three_layers, CONFIG, directory=True)
    cache = place / "cache"
    assert run_container("--image", image, "--cache", str(cache), "true").returncode == 0
    unpacked = tree(cache)
    # The layers' tars are not read again: with them gone, the image still runs.
    for name in os.listdir(image):
        if os.path.isdir(os.path.join(image, name)):
            shutil.rmtree(os.path.join(image, name))
    result = run_container("--image", image, "--cache", str(cache))
    assert (result.returncode, result.stdout.splitlines()) == (0, SHOWN)
    assert tree(cache) == unpacked


def test_entrypoint_and_cmd_as_docker_run_takes_them(place, base):
    config = {"Entrypoint": ["/bin/echo", "entrypoint:"], "Cmd": ["the", "image's", "cmd"]}
    image = save_image(str(place / "image.tar"), [base], config)
    cache = str(place / "cache")
    assert run_container("--image", image, "--cache", cache).stdout == (
        "entrypoint: the image's cmd\n")
    assert run_container("--image", image, "--cache", cache, "yours").stdout == (
        "entrypoint: yours\n")


def test_no_command_at_all_is_refused(place, base):
    image = save_image(str(place / "image.tar"), [base], {})
    result = run_container("--image", image, "--cache", str(place / "cache"))
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {image}: no Entrypoint nor Cmd in the image: name a"
        " command\n")


def test_the_environment_is_the_image_s_and_e_s(place, base):
    config = {"Env": ["FROM_IMAGE=1", "CHANGED=by the image"], "Hostname": "from-config"}
    image = save_image(str(place / "image.tar"), [base], config)
    environment = stage_env(HOST_ONLY="stays outside", PASSED="by -e NAME")
    result = run_container("--image", image, "--cache", str(place / "cache"), "-e",
                           "CHANGED=by -e", "-e", "PASSED", "-e", "UNSET_HERE", "/bin/env",
                           env=environment)
    assert (result.returncode, result.stderr) == (0, "")
    assert sorted(result.stdout.splitlines()) == [
        "CHANGED=by -e", "FROM_IMAGE=1", "HOME=/root", "HOSTNAME=from-config",
        "PASSED=by -e NAME", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


@pytest.mark.parametrize("user, shown", [
    ("student", "uid=1000(student) gid=1000(student) groups=1000(student),2000(class)"
                " /home/student"),
    ("1000:2000", "uid=1000(student) gid=2000(class) groups=2000(class) /home/student"),
    ("4242", "uid=4242 gid=0(root) groups=0(root) /"),
])
def test_the_image_s_user_runs_the_command(place, base, user, shown):
    if os.geteuid() != 0:
        pytest.skip("other ids than one's own need root")
    image = save_image(str(place / "image.tar"), [base], {"User": user})
    result = run_container("--image", image, "--cache", str(place / "cache"), "/bin/sh", "-c",
                           'echo $(id) $HOME')
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{shown}\n"


ROOTLESS_IDS = "(rootless, it maps only your own id, as root inside; run as root to have more)"


@pytest.mark.parametrize("user, status, output", [
    ("root", 0, "0 0\n"), ("0", 0, "0 0\n"), ("0:0", 0, "0 0\n"),
    ("student", 125, "container.py: User student: uid 1000 and gid 1000: no such id in this"
                     f" user namespace {ROOTLESS_IDS}\n"),
    ("0:2000", 125, f"container.py: User 0:2000: gid 2000: no such id in this user namespace"
                    f" {ROOTLESS_IDS}\n")])
def test_rootless_an_image_s_user_runs_as_far_as_the_namespace_maps(place, base,
                                                                     world_readable_copy, user,
                                                                     status, output):
    image = save_image(str(place / "image.tar"), [base], {"User": user})
    (place / "home").mkdir(mode=0o777)
    (place / "home").chmod(0o777)
    result = run_as_nobody(world_readable_copy, "container.py", "--image", image, "/bin/sh",
                           "-c", "echo $(id -u) $(id -g)",
                           before=f"export XDG_CACHE_HOME={place}/home")
    assert (result.returncode, result.stdout + result.stderr) == (status, output)


def test_an_unknown_user_is_one_line(place, base):
    image = save_image(str(place / "image.tar"), [base], {"User": "teacher", "Cmd": ["id"]})
    result = run_container("--image", image, "--cache", str(place / "cache"))
    assert (result.returncode, result.stderr) == (
        125, "container.py: User teacher: no user teacher in the image's /etc/passwd\n")


@pytest.mark.parametrize("root", ["--image", "--rootfs"])
def test_userns_sees_root_s_layers_as_its_own_through_an_id_mapped_mount(place, three_layers,
                                                                         tiny_rootfs, root):
    # Root inside is 100000 outside; the layers stay root's on the host, so
    # that whoever holds 100000 cannot rewrite what root trusts.
    if os.geteuid() != 0:
        pytest.skip("--userns remaps ids as root only")
    if id_mapping_refusal(place):
        pytest.skip(id_mapping_refusal(place))
    image = save_image(str(place / "image.tar"), three_layers, CONFIG)
    cache = place / "cache"
    source = ["--image", image, "--cache", str(cache)] if root == "--image" else [
        "--rootfs", str(tiny_rootfs)]
    result = run_container("--userns", *source, "/bin/sh", "-c",
                           "cat /proc/self/uid_map; ls -ln /bin/sh; echo new > /bin/new;"
                           " ls -ln /bin/new")
    assert (result.returncode, result.stderr) == (0, "")
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["0", "100000", "65536"]
    assert lines[1][2:4] == ["0", "0"] and lines[2][2:4] == ["0", "0"]
    layer = (cache / "layers" / images.digest(three_layers[0]) if root == "--image"
             else tiny_rootfs)
    status = os.stat(layer / "bin" / "sh")
    assert (status.st_uid, status.st_gid) == (0, 0)
    assert not os.path.exists(layer / "bin" / "new")  # the write went to the throwaway layer
    if root == "--image":
        assert sorted(os.listdir(cache)) == ["layers"]
        assert os.stat(cache / "layers").st_mode & 0o777 == 0o700


def test_inspect_shows_layers_and_config(place, three_layers):
    image = save_image(str(place / "image.tar"), three_layers, CONFIG)
    result = run_container("--image", image, "--cache", str(place / "cache"), "--inspect")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{image}: a docker save image, config sha256:")
    assert [line.split()[1] for line in lines[2:8:2]] == [
        f"sha256:{images.digest(tar)}" for tar in three_layers]
    assert [line.split()[-1] for line in lines[2:8:2]] == ["yet"] * 3
    assert lines[3:8:2] == ["     made by: step 1", "     made by: step 2", "     made by: step 3"]
    assert lines[9:] == ['  Env: ["GREETING=hello from the config"]', "  Entrypoint: []",
                         f"  Cmd: {json.dumps(CONFIG['Cmd'])}", "  WorkingDir: /work",
                         "  User: ", "  Hostname: "]
    assert not os.path.exists(place / "cache" / "layers" / images.digest(three_layers[0]))


def test_progress_shows_on_a_terminal(place, base):
    image = save_image(str(place / "image.tar"), [base, layer(entry("x", data="x"))],
                       {"Cmd": ["true"]})
    master, slave = os.openpty()
    result = subprocess.run([sys.executable, str(ROOT / "container.py"), "--image", image,
                             "--cache", str(place / "cache")], stderr=slave,
                            stdout=subprocess.DEVNULL, env=stage_env(), timeout=TIMEOUT)
    os.close(slave)
    shown = os.read(master, 65536).decode()
    os.close(master)
    assert result.returncode == 0
    last_lines = [line.split("\r")[-1] for line in shown.split("\r\n") if line]
    assert [line.split(":")[0] for line in last_lines] == [
        f"unpacking layer 1/2 {images.digest(base)[:12]}",
        f"unpacking layer 2/2 {images.digest(layer(entry('x', data='x')))[:12]}"]
    assert all(line.split(":")[1].strip() == "100%" for line in last_lines)


def test_without_an_image_container_py_imports_no_tar_code():
    # image.py brings tarfile and gzip: 6 ms that no other start should pay.
    result = run_container("true", env=stage_env(PYTHONPROFILEIMPORTTIME="1"))
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert result.returncode == 0 and "libns" in imported
    assert not {"image", "tarfile", "gzip"} & imported


def test_the_rootfs_is_a_lower_layer_and_stays_as_it_was(tiny_rootfs):
    before = tree(tiny_rootfs)
    result = run_container("--rootfs", str(tiny_rootfs), "/bin/sh", "-c",
                           "echo gone > /bin/cat; echo new > /new; /bin/ls /")
    assert (result.returncode, result.stderr) == (0, "")
    assert "new" in result.stdout.split()
    assert tree(tiny_rootfs) == before


def test_rootfs_rw_changes_the_directory_itself(tiny_rootfs):
    result = run_container("--rootfs-rw", str(tiny_rootfs), "/bin/sh", "-c", "echo new > /new")
    assert (result.returncode, result.stderr) == (0, "")
    assert (tiny_rootfs / "new").read_text() == "new\n"


@pytest.mark.parametrize("arguments, message", [
    (["--image", "x", "--rootfs", "/"], "--rootfs and --image: a container has one root"),
    (["--inspect"], "--inspect: name an image with --image FILE"),
    (["-e", "=x", "true"], "-e '=x': give it as NAME=VALUE or NAME"),
])
def test_contradictions_are_refused(arguments, message):
    result = run_container(*arguments)
    assert (result.returncode, result.stderr) == (125, f"container.py: {message}\n")


# Hostile input: each is refused with one line and 125, and nothing appears
# outside the cache: not beside it (../), not at an absolute path, not
# through a link, and no layer in it that a later run would trust.
ESCAPED = "/var/tmp/libns-escaped-by-a-layer"


def _bad_layers(base):
    return [
        ("dot-dot", layer(entry("../../../escaped", data="x")),
         "../../../escaped: leads out of the layer (absolute, or with ..)"),
        ("absolute", layer(entry(ESCAPED, data="x")),
         f"{ESCAPED}: leads out of the layer (absolute, or with ..)"),
        ("below-a-link", layer(entry("tmp", "symlink", "/var/tmp"),
                               entry(f"tmp/{os.path.basename(ESCAPED)}", data="x")),
         f"tmp/{os.path.basename(ESCAPED)}: below the symbolic link tmp, which could lead out"
         " of the layer"),
        ("hard-link-out", layer(entry("passwd", "hardlink", "/etc/passwd")),
         "/etc/passwd: leads out of the layer (absolute, or with ..)"),
        ("hard-link-to-nothing", layer(entry("copy", "hardlink", "etc/shadow")),
         "copy: a hard link to etc/shadow, which is no file of this layer"),
        ("whiteout-of-the-parent", layer(entry(".wh..."), entry("x", data="x")),
         ".wh...: a whiteout that names no file of the layer"),
        ("deeper-than-256", layer(entry("a/" * 257 + "x", data="x")),
         f"{'a/' * 40}...: deeper than 256 directories"),
        ("whiteout-of-itself", layer(entry("etc", "dir"), entry("etc/.wh.."), entry("x")),
         "etc/.wh..: a whiteout that names no file of the layer"),
    ]


BAD_LAYERS = [name for name, _, _ in _bad_layers(b"")]


@pytest.mark.parametrize("name", BAD_LAYERS)
def test_a_hostile_layer_is_refused_and_writes_nothing(place, base, name):
    bad, message = next((tar, message) for key, tar, message in _bad_layers(base) if key == name)
    image = save_image(str(place / "image.tar"), [base, bad], {"Cmd": ["true"]})
    cache = place / "cache"
    result = run_container("--image", image, "--cache", str(cache))
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {image}: {message}\n")
    assert sorted(os.listdir(place)) == ["cache", "image.tar"]
    assert os.listdir(cache / "layers") == [images.digest(base)]
    assert not os.path.lexists(ESCAPED)


def _damage(place, base, how):
    """An image damaged in one way; (its path, what the refusal says after the path)."""
    good = layer(entry("x", data="x"))
    if how == "diff-id":
        image = save_image(str(place / "image"), [base, good], {"Cmd": ["true"]},
                           directory=True)
        other = layer(entry("x", data="y"))
        (name,) = [name for name in os.listdir(image) if name.startswith(images.digest(good)[:20])]
        with open(os.path.join(image, name, "layer.tar"), "wb") as file:
            file.write(other)
        return image, (f"layer {images.digest(good)[:12]}: its tar's sha256 is"
                       f" {images.digest(other)[:12]}: changed or damaged")
    if how == "blob":
        image = save_image(str(place / "image"), [base, good], {"Cmd": ["true"]}, flavour="oci",
                           compress=True, directory=True)
        blob = os.path.join(image, "blobs", "sha256", images.digest(
            __import__("gzip").compress(good, mtime=0)))
        with open(blob, "ab") as file:
            file.write(b"\0")  # gunzip reads past it: the blob's digest is what tells
        return image, (f"layer {images.digest(good)[:12]}: its file's sha256 is"
                       f" {images.digest(open(blob, 'rb').read())[:12]}, not the image's"
                       f" {os.path.basename(blob)[:12]}: changed or damaged")
    if how == "truncated":
        image = save_image(str(place / "image"), [base, good], {"Cmd": ["true"]},
                           directory=True)
        (name,) = [name for name in os.listdir(image) if name.startswith(images.digest(good)[:20])]
        with open(os.path.join(image, name, "layer.tar"), "r+b") as file:
            file.truncate(700)
        return image, f"layer {images.digest(good)[:12]}: not a complete tar"
    if how == "not-a-tar":
        (place / "image").write_text("hello\n")
        return str(place / "image"), "not an image: neither a directory nor a tar archive"
    if how == "missing-blob":
        image = save_image(str(place / "image"), [base, good], {"Cmd": ["true"]}, flavour="oci",
                           directory=True)
        os.unlink(os.path.join(image, "blobs", "sha256", images.digest(good)))
        return image, f"blobs/sha256/{images.digest(good)}: no such file in the image"
    if how == "config":
        image = save_image(str(place / "image"), [base, good], {"Cmd": ["true"]},
                           directory=True)
        (config,) = [name for name in os.listdir(image) if name.endswith(".json")
                     and name != "manifest.json"]
        with open(os.path.join(image, config), "a") as file:
            file.write(" ")
        return image, (f"{config}: its sha256 is not its digest {config[:12]}; the file was"
                       " changed or damaged")
    if how == "zstd":
        image = save_image(str(place / "image"), [base, b"\x28\xb5\x2f\xfd" + good],
                           {"Cmd": ["true"]}, flavour="oci", directory=True)
        return image, (f"layer {images.digest(b'(' + bytes([0xb5, 0x2f, 0xfd]) + good)[:12]}:"
                       " compressed with zstd, which Python's standard library cannot read")
    raise ValueError(how)


@pytest.mark.parametrize("how", ["diff-id", "blob", "truncated", "not-a-tar", "missing-blob",
                                 "config", "zstd"])
def test_a_damaged_image_is_refused_and_trusts_nothing(place, base, how):
    image, message = _damage(place, base, how)
    cache = place / "cache"
    result = run_container("--image", image, "--cache", str(cache))
    assert result.returncode == 125
    assert result.stderr.startswith(f"container.py: --image {image}: {message}")
    assert result.stderr.count("\n") == 1
    layers = os.listdir(cache / "layers") if os.path.isdir(cache / "layers") else []
    assert set(layers) <= {images.digest(base)}


ZEROS = "0" * 64
HOSTILE_METADATA = [
    ("manifest.json", text) for text in (
        "1", "null", "[]", "{}", '"x"', "[1]", "not JSON", '[{"Config": 1}]',
        '[{"Config": "../config.json", "Layers": []}]', '[{"Config": "/etc/passwd"}]',
        '[{"Config": "config.json", "Layers": "x"}]', f'[{{"Config": "{ZEROS}.json"}}]')
] + [
    ("index.json", text) for text in (
        "[]", '{"manifests": 1}', '{"manifests": [1]}', '{"manifests": []}',
        '{"manifests": [{"digest": "sha256:../../etc"}]}',
        f'{{"manifests": [{{"digest": "sha256:{ZEROS}"}}]}}',
        '{"manifests": [{"platform": {"os": "plan9"}, "digest": "x"}]}')
] + [
    ("config", text) for text in (
        "1", '{"rootfs": 1}', '{"rootfs": {"diff_ids": [1]}}',
        '{"rootfs": {"diff_ids": []}}', '{"rootfs": {"diff_ids": ["x", "y"]}}',
        '{"rootfs": {"diff_ids": ["sha256:%s"]}, "config": []}',
        '{"rootfs": {"diff_ids": ["sha256:%s"]}, "config": {"Env": "PATH=/"}}',
        '{"rootfs": {"diff_ids": ["sha256:%s"]}, "config": {"Env": ["NO_VALUE"]}}',
        '{"rootfs": {"diff_ids": ["sha256:%s"]}, "config": {"WorkingDir": "work"}}',
        '{"rootfs": {"diff_ids": ["sha256:%s"]}, "config": {"Cmd": [1]}}',
        '{"rootfs": {"diff_ids": ["sha256:%s"]}, "config": {"User": 5}}')
]


@pytest.mark.parametrize("where, text", HOSTILE_METADATA)
def test_hostile_metadata_is_one_line_and_125(place, where, text):
    tar = layer(entry("x", data="x"))
    if where == "config":
        # A config named by its own digest, as a good one is: only its content is bad.
        config = (text % images.digest(tar) if "%s" in text else text).encode()
        image = place / "image"
        (image / "layer").mkdir(parents=True)
        (image / "layer" / "layer.tar").write_bytes(tar)
        (image / f"{images.digest(config)}.json").write_bytes(config)
        (image / "manifest.json").write_text(json.dumps(
            [{"Config": f"{images.digest(config)}.json", "Layers": ["layer/layer.tar"]}]))
    else:
        image = place / "image"
        save_image(str(image), [tar], {"Cmd": ["true"]}, directory=True,
                   flavour="docker" if where == "manifest.json" else "oci")
        (image / where).write_text(text)
    result = run_container("--image", str(image), "--cache", str(place / "cache"), "true")
    assert result.returncode == 125
    assert result.stderr.startswith(f"container.py: --image {image}: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_an_image_file_one_may_not_read_is_one_line(place, base, world_readable_copy):
    image = save_image(str(place / "image"), [base], {"Cmd": ["true"]}, flavour="oci",
                       directory=True)
    os.chmod(os.path.join(image, "index.json"), 0o600)
    os.mkdir(place / "cache", 0o700)
    os.chown(place / "cache", NOBODY, NOBODY)
    result = run_as_nobody(world_readable_copy, "container.py", "--image", image, "--cache",
                           str(place / "cache"))
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {image}: index.json: Permission denied\n")


def test_a_device_node_is_refused_for_an_ordinary_user(place, base, world_readable_copy):
    bad = layer(entry("dev", "dir"), entry("dev/null", "char"))
    image = save_image(str(place / "image.tar"), [base, bad], {"Cmd": ["true"]})
    os.mkdir(place / "cache", 0o700)
    os.chown(place / "cache", NOBODY, NOBODY)
    result = run_as_nobody(world_readable_copy, "container.py", "--image", image, "--cache",
                           str(place / "cache"))
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {image}: dev/null: a device node, which only root may"
        " make\n")
    assert os.listdir(place / "cache" / "layers") == [images.digest(base)]


def test_a_cache_others_may_write_is_refused(place, base):
    image = save_image(str(place / "image.tar"), [base], {"Cmd": ["true"]})
    os.mkdir(place / "cache")
    os.chmod(place / "cache", 0o777)
    result = run_container("--image", image, "--cache", str(place / "cache"))
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {image}: --cache {place}/cache: {place}/cache is not ours"
        f" alone (owner {os.geteuid()}, mode drwxrwxrwx)\n")
    assert os.listdir(place / "cache") == []


def test_a_volume_is_bound_into_the_image_s_root(place, base):
    image = save_image(str(place / "image.tar"), [base], {"Cmd": ["true"]})
    result = run_container("--image", image, "--cache", str(place / "cache"), "--volume",
                           f"{ROOT}/c:/lesson/c:ro", "/bin/ls", "/lesson/c/base.c")
    assert (result.returncode, result.stdout, result.stderr) == (0, "/lesson/c/base.c\n", "")


def test_a_volume_through_a_link_of_the_image_is_refused(place, base):
    image = save_image(str(place / "image.tar"), [base, layer(entry("data", "symlink", "/etc"))],
                       {"Cmd": ["true"]})
    volume = f"{ROOT}/c:/data/c:ro"
    result = run_container("--image", image, "--cache", str(place / "cache"), "--volume", volume)
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --volume {volume}: /data is a symbolic link (to /etc): a mount on it"
        " would land outside the image\n")


def test_an_image_whose_tmp_is_a_link_is_refused(place, base):
    image = save_image(str(place / "image.tar"), [base, layer(entry("tmp", "symlink", "/"))],
                       {"Cmd": ["true"]})
    result = run_container("--image", image, "--cache", str(place / "cache"))
    assert (result.returncode, result.stderr) == (
        125, "container.py: the image's /tmp: /tmp is a symbolic link (to /): a mount on it"
        " would land outside the image\n")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                    signal.SIGKILL])
def test_an_interrupted_unpack_leaves_no_layer_to_trust(place, base, signum):
    big = layer(entry("big", data=b"\0" * (256 << 20)))
    image = save_image(str(place / "image"), [base, big], {"Cmd": ["true"]}, flavour="oci",
                       compress=True, directory=True)
    cache = place / "cache"
    tool = subprocess.Popen([sys.executable, str(ROOT / "container.py"), "--image", image,
                             "--cache", str(cache)], stderr=subprocess.PIPE, text=True,
                            env=stage_env())
    partial, prefix = [], f".partial-{images.digest(big)[:12]}"  # hashed once, not each poll
    wait_until(lambda: os.path.isdir(cache / "layers") and partial.extend(
        name for name in os.listdir(cache / "layers") if name.startswith(prefix)) or partial,
        "the big layer's unpack to start")
    tool.send_signal(signum)
    assert tool.wait(timeout=TIMEOUT) == -signum
    assert tool.stderr.read() == ""
    # Interrupted, the tool removes its half layer; killed, it cannot, and
    # the next run removes it, as its tool is gone.
    left = sorted(os.listdir(cache / "layers"))
    assert left == sorted([images.digest(base)] + (partial if signum == signal.SIGKILL else []))
    result = run_container("--image", image, "--cache", str(cache))
    assert (result.returncode, result.stderr) == (0, "")
    assert sorted(os.listdir(cache / "layers")) == sorted([images.digest(base),
                                                           images.digest(big)])


def test_a_missing_layer_is_found_before_any_layer_is_unpacked(place, base):
    image = save_image(str(place / "image"), [base, layer(entry("data", data=b"x"))], CONFIG,
                       directory=True)
    missing = json.loads((place / "image" / "manifest.json").read_text())[0]["Layers"][1]
    os.remove(place / "image" / missing)
    result = run_container("--image", image, "--cache", str(place / "cache"), "true")
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {image}: {missing}: no such file in the image (layer 2 of"
        " 2); nothing was unpacked\n")
    assert os.listdir(place / "cache" / "layers") == []


@pytest.mark.parametrize("count, status", [(250, 0), (501, 125)])
def test_an_image_of_many_layers_runs_up_to_overlayfs_s_500(place, base, count, status):
    layers = [base] + [layer(entry(f"file-{number}", data=b"x")) for number in range(count - 1)]
    image = save_image(str(place / "image.tar"), layers, CONFIG)
    result = run_container("--image", image, "--cache", str(place / "cache"), "/bin/sh", "-c",
                           "set -- /file-*; echo $#")
    assert (result.returncode, result.stdout or result.stderr) == (status, (
        f"{count - 1}\n" if status == 0 else f"container.py: --image {image}: {count} layers,"
        " and overlayfs stacks at most 500 (OVL_MAX_STACK)\n"))


def test_a_compression_bomb_stops_at_the_layer_limit_and_leaves_nothing(place, base):
    bomb = layer(entry("zeros", data=bytes(64 << 20)))  # 64 MiB of zeros: 64 kB gzipped
    image = save_image(str(place / "image"), [base, bomb], {"Cmd": ["true"]}, flavour="oci",
                       compress=True, directory=True)
    result = run_container("--image", image, "--cache", str(place / "cache"), "--layer-limit",
                           "16m")
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {image}: a layer unpacks to more than 16m (--layer-limit):"
        " a compression bomb, or a layer bigger than that\n")
    assert os.listdir(place / "cache" / "layers") == [images.digest(base)]


def test_a_bomb_with_a_wrong_digest_is_refused_before_it_expands(place, base):
    # The digest is checked on the compressed bytes first: the refusal is
    # the digest's, not the limit's, which expanding would have reached.
    bomb = layer(entry("zeros", data=bytes(64 << 20)))
    image = save_image(str(place / "image"), [base, bomb], {"Cmd": ["true"]}, flavour="oci",
                       compress=True, directory=True)
    blob = place / "image" / "blobs" / "sha256" / images.digest(gzip.compress(bomb, mtime=0))
    with open(blob, "ab") as file:
        file.write(b"\0")
    result = run_container("--image", image, "--cache", str(place / "cache"), "--layer-limit",
                           "16m")
    assert result.returncode == 125
    assert result.stderr.endswith(f"not the image's {blob.name[:12]}: changed or damaged\n")
    assert os.listdir(place / "cache" / "layers") == [images.digest(base)]


def two_images(place, base, flavour):
    """One archive of two images, as docker save A B or an OCI layout of two refs writes it:
    each with its own Cmd, named "first:1" and "second:latest" (OCI: their ref names)."""
    parts = [save_image(str(place / name), [base], {"Cmd": ["/bin/sh", "-c", f"echo {name}"]},
                        flavour=flavour, directory=True) for name in ("first", "second")]
    both = place / "both"
    for part in parts:
        shutil.copytree(part, both, dirs_exist_ok=True)
    if flavour == "docker":
        entries = [json.loads((Path(part) / "manifest.json").read_text())[0] for part in parts]
        for manifest, tag in zip(entries, ["first:1", "second:latest"]):
            manifest["RepoTags"] = [tag]
        (both / "manifest.json").write_text(json.dumps(entries))
    else:
        manifests = [json.loads((Path(part) / "index.json").read_text())["manifests"][0]
                     for part in parts]
        for manifest, ref in zip(manifests, ["first:1", "second:latest"]):
            manifest["annotations"] = {"org.opencontainers.image.ref.name": ref}
        (both / "index.json").write_text(json.dumps({"schemaVersion": 2,
                                                     "manifests": manifests}))
    return str(both)


@pytest.mark.parametrize("flavour, where", [("docker", "manifest.json"), ("oci", "index.json")])
def test_of_several_images_in_one_archive_one_is_chosen_by_name(place, base, flavour, where):
    archive = two_images(place, base, flavour)
    cache = ["--cache", str(place / "cache")]
    for name, said in [("first:1", "first"), ("second", "second"), ("second:latest", "second")]:
        result = run_container("--image", f"{archive}:{name}", *cache)
        assert (result.returncode, result.stdout, result.stderr) == (0, f"{said}\n", "")
    result = run_container("--image", archive, *cache)
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {archive}: {where}: 2 images in one archive (first:1;"
        " second:latest): name one, as --image FILE:NAME\n")
    result = run_container("--image", f"{archive}:third", *cache)
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {archive}:third: {where}: no image named third in it (it"
        " has: first:1; second:latest)\n")
    result = run_container("--image", f"{archive}:first:1", "--inspect", *cache)
    assert result.stdout.splitlines()[1] == "one of 2 images in it: first:1; second:latest"


@pytest.mark.parametrize("media_type", ["application/vnd.docker.distribution.manifest.v2+json",
                                        "application/vnd.oci.image.manifest.v1+json"])
def test_a_dir_layout_as_skopeo_and_podman_write_it_runs(place, base, media_type):
    # skopeo copy ... dir:DIR and podman save --format docker-dir: manifest.json is the one
    # manifest (not docker save's list), each blob a file named by its hex, and "version".
    oci = Path(save_image(str(place / "oci"), [base, layer(entry("data", data=b"from dir:"))],
                          {"Cmd": ["/bin/sh", "-c", "cat /data"]}, flavour="oci", compress=True,
                          directory=True))
    index = json.loads((oci / "index.json").read_text())
    manifest_hex = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((oci / "blobs" / "sha256" / manifest_hex).read_text())
    manifest["mediaType"] = media_type
    layout = place / "dir"
    shutil.copytree(oci / "blobs" / "sha256", layout)
    os.remove(layout / manifest_hex)
    (layout / "manifest.json").write_text(json.dumps(manifest))
    (layout / "version").write_text("Directory Transport Version: 1.1\n")
    result = run_container("--image", str(layout), "--cache", str(place / "cache"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "from dir:", "")
    result = run_container("--image", str(layout), "--cache", str(place / "cache"), "--inspect")
    assert result.stdout.startswith(f"{layout}: a dir (skopeo, podman docker-dir) image,")


def test_links_as_ln_makes_them_in_a_build_step_run_as_under_docker(place, base):
    # A hard link to a symbolic link or to a FIFO is a second name for it;
    # a relative link that climbs above the root stops there, inside.
    links = layer(entry("target", data=b"the target\n"), entry("link", "symlink", "target"),
                  entry("link-again", "hardlink", "link"), entry("pipe", "fifo"),
                  entry("pipe-again", "hardlink", "pipe"), entry("etc", "dir"),
                  entry("etc/up", "symlink", "../../../target"))
    image = save_image(str(place / "image.tar"), [base, links], {"Cmd": ["true"]})
    result = run_container("--image", image, "--cache", str(place / "cache"), "/bin/sh", "-c",
                           "cat /link-again /etc/up; test -p /pipe-again && echo a FIFO")
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "the target\nthe target\na FIFO\n", "")


def test_an_image_gets_docker_s_hosts_hostname_and_resolv_conf_and_keeps_its_tmp(place, base):
    own = layer(entry("tmp", "dir", mode=0o1777), entry("tmp/from-the-image", data=b"kept\n"),
                entry("etc", "dir"), entry("etc/hosts", "symlink", "/proc/self/environ"))
    image = save_image(str(place / "image.tar"), [base, own], {"Cmd": ["true"]})
    result = run_container("--image", image, "--cache", str(place / "cache"), "--hostname",
                           "lesson", "/bin/sh", "-c", "cat /etc/hostname /etc/hosts;"
                           " test -f /etc/resolv.conf && echo resolv.conf;"
                           " cat /tmp/from-the-image")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("lesson\n127.0.0.1\tlocalhost\n::1\tlocalhost ")
    assert result.stdout.endswith("ff02::2\tip6-allrouters\nresolv.conf\nkept\n")
    # The image's link was replaced in the container's own layer, not written through.
    assert images.digest(own) in os.listdir(place / "cache" / "layers")
    assert os.path.islink(place / "cache" / "layers" / images.digest(own) / "etc" / "hosts")


# A version 2 file capability, as setcap writes it (struct vfs_cap_data):
# CAP_DAC_OVERRIDE (1) permitted and effective, nothing inheritable.
CAP_DAC_OVERRIDE_EP = struct.pack("<5I", 0x02000000 | 0x1, 1 << 1, 0, 0, 0)


def with_xattrs(info_and_data, **xattrs):
    """An entry with PAX SCHILY.xattr records, as Docker and GNU tar --xattrs write them."""
    info, data = info_and_data
    info.pax_headers = {f"SCHILY.xattr.{name.replace('__', '.')}":
                        value.decode("utf-8", "surrogateescape") for name, value in xattrs.items()}
    return info, data


def capability_layers(base):
    """A cat with CAP_DAC_OVERRIDE, as ping has CAP_NET_RAW in Debian's image, and a secret."""
    with open(shutil.which("cat"), "rb") as cat:
        program = cat.read()
    return [base, layer(
        with_xattrs(entry("bin/readall", data=program, mode=0o755),
                    security__capability=CAP_DAC_OVERRIDE_EP, user__note=b"made by setcap"),
        entry("secret", data="root's only\n", mode=0o600))]


def test_file_capabilities_and_user_xattrs_come_from_the_layer(place, base):
    # Debian's ping as a non-root USER works under docker run by its file
    # capability alone; so does this cat, reading what only root may read.
    image = save_image(str(place / "image.tar"), capability_layers(base),
                       {"User": "student", "Cmd": ["/bin/readall", "/secret"]})
    result = run_container("--image", image, "--cache", str(place / "cache"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "root's only\n", "")
    unpacked = place / "cache" / "layers" / images.digest(capability_layers(base)[1]) / "bin"
    assert os.getxattr(unpacked / "readall", "security.capability") == CAP_DAC_OVERRIDE_EP
    assert os.getxattr(unpacked / "readall", "user.note") == b"made by setcap"
    # Without the capability (what no_new_privs leaves it), cat is refused.
    refused = run_container("--security-opt", "no-new-privileges", "--image", image,
                            "--cache", str(place / "cache"))
    assert refused.returncode == 1
    assert "Permission denied" in refused.stderr


def test_rootless_the_capability_left_out_is_said_once(place, base, world_readable_copy):
    image = save_image(str(place / "image.tar"), capability_layers(base),
                       {"Cmd": ["/bin/readall", "/secret"]})
    (place / "home").mkdir()
    os.chown(place / "home", NOBODY, NOBODY)
    runs = [run_as_nobody(world_readable_copy, "container.py", "--image", image,
                          before=f"export XDG_CACHE_HOME={place}/home") for _ in range(2)]
    digest = images.digest(capability_layers(base)[1])
    assert [(run.returncode, run.stdout) for run in runs] == [(0, "root's only\n")] * 2
    assert runs[0].stderr == (f"container.py: layer {digest[:12]}: security.capability of"
                              " bin/readall left out (Operation not permitted: file capabilities"
                              " and trusted.* need root outside)\n")
    assert runs[1].stderr == ""  # the layer is in the cache: nothing new to say
    unpacked = place / "home" / "containers-do-not-exist" / "layers" / digest / "bin"
    assert os.getxattr(unpacked / "readall", "user.note") == b"made by setcap"


@pytest.mark.parametrize("name", ["user.overlay.opaque", "trusted.overlay.redirect"])
def test_a_layer_may_not_set_overlayfs_s_own_xattrs(place, base, name):
    hostile = layer(entry("etc", "dir"),
                    with_xattrs(entry("etc/motd", data="x"), **{name.replace(".", "__"): b"y"}))
    image = save_image(str(place / "image.tar"), [base, hostile], CONFIG)
    result = run_container("--image", image, "--cache", str(place / "cache"), "true")
    assert result.returncode == 125
    assert result.stderr == (f"container.py: --image {image}: etc/motd: the extended attribute"
                             f" {name}, overlayfs's own, which a layer may not set\n")
    assert [name for name in os.listdir(place / "cache" / "layers")
            if name != images.digest(base)] == []


def opens_of(path, *arguments):
    """How many times container.py ARGUMENTS opens `path` (strace -f), and its result."""
    trace = subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat", "-e",
                            "signal=none", sys.executable, str(ROOT / "container.py"),
                            *arguments], capture_output=True, text=True, env=stage_env(),
                           timeout=TIMEOUT)
    return trace.stderr.count(f'"{path}"'), trace


def test_a_cached_gzipped_archive_is_not_expanded_again(place, three_layers):
    # docker save | gzip has no index: every start expanded all of it to find
    # its manifest, 7.8 times the plain archive's start.  The first start
    # keeps the index in the cache; the next opens the archive once, to see
    # that it is compressed, and reads six bytes of it.
    if not shutil.which("strace"):
        pytest.skip("needs strace to count what the tool opens")
    image = save_image(str(place / "image.tar.gz"), three_layers, CONFIG, compress=True)
    run = ["--image", image, "--cache", str(place / "cache")]
    first, done = opens_of(image, *run)
    assert done.returncode == 0 and first > 1
    again, done = opens_of(image, *run)
    assert (done.returncode, again) == (0, 1)
    assert done.stdout.splitlines() == SHOWN
    assert len(os.listdir(place / "cache" / "archives")) == 1
    # Changed in place, the archive is read again: another mtime, another index.
    changed = [three_layers[0], layer(entry("etc/motd", data="a new motd\n"))]
    save_image(image, changed, CONFIG, compress=True)
    os.utime(image, ns=(1, os.stat(image).st_mtime_ns + 10 ** 9))
    result = run_container(*run, "cat", "/etc/motd")
    assert (result.returncode, result.stdout, result.stderr) == (0, "a new motd\n", "")
    assert len(os.listdir(place / "cache" / "archives")) == 2


# --- the tar formats image tools write ------------------------------------------------------
# Docker and every Go tool write ustar, with POSIX's prefix for a long name,
# and PAX where ustar cannot hold a field; GNU tar (mmdebstrap, docker export
# of some engines) writes its own long names and base-256 numbers, or PAX;
# umoci and buildah are Go; Python's tarfile writes all three, and git
# archive's PAX global header.  Each is unpacked by container.py and by
# GNU tar, and the trees compared.

def every_kind(folder):
    """A directory of what a layer holds, with what each tar format must carry; its path."""
    top = folder / "source"
    (top / "dir" / "sub").mkdir(parents=True)
    prefixed = top / ("m" * 90) / ("n" * 60)  # 151 characters: ustar's prefix and name
    deep = top / ("d" * 90) / ("e" * 90) / ("f" * 99)  # 281: GNU's long name, or PAX's path
    for path, data in ((prefixed, b"prefixed"), (deep, b"deep"), (top / "big", os.urandom(3 << 19)),
                       (top / "block", b"b" * 512), (top / "empty", b""),
                       (top / "caf\u00e9", b"UTF-8"), (top / os.fsdecode(b"latin\xe9"), b"not")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (top / "setuid").write_text("#!/bin/sh\n")
    (top / "setuid").chmod(0o4755)
    os.symlink("dir/sub", top / "link")
    os.symlink("x" * 150, top / "long-link")  # a link target longer than ustar's 100
    os.link(top / "block", top / "dir" / "hard")
    os.mkfifo(top / "fifo")
    os.setxattr(top / "empty", "user.note", b"\0\xffbinary")
    os.utime(top / "block", ns=(0, 1_700_000_000_123_456_789))
    if os.geteuid() == 0:
        os.chown(top / "dir" / "sub", 2 ** 21 + 5, 70000)  # past ustar's 7 octal digits
    (top / "dir").chmod(0o555)  # filled before it is made read-only
    return top


def depth_first(top, folder=""):
    """The names under `top`, in the order Go's filepath.Walk and tar -c give them."""
    for name in sorted(os.listdir(os.path.join(top, folder))):
        path = os.path.join(folder, name)
        yield path
        if os.path.isdir(os.path.join(top, path)) and not os.path.islink(os.path.join(top, path)):
            yield from depth_first(top, path)


def tarfile_layer(top, tar_format, **options):
    """The layer tarfile writes of `top`, names without ./ as Go writes them."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format, **options) as tar:
        for name in depth_first(top):
            try:
                tar.add(os.path.join(top, name), name, recursive=False)
            except ValueError:
                pass  # what ustar cannot hold, as Go would write in PAX instead
    return buffer.getvalue()


TAR_WRITERS = {
    "gnu-tar-gnu": ["--format=gnu"],
    "gnu-tar-pax": ["--format=pax", "--xattrs", "--xattrs-include=*"],
    "tarfile-ustar": (tarfile.USTAR_FORMAT, {}),
    "tarfile-gnu": (tarfile.GNU_FORMAT, {}),
    "tarfile-pax-global": (tarfile.PAX_FORMAT, {"pax_headers": {"comment": "as git archive"}}),
}


def tree_in_full(path):
    """{relative path: all tar can carry} of what is under `path`, hard links as one inode."""
    found, inodes = {}, {}
    for top, directories, files in os.walk(path):
        for name in directories + files:
            full = os.path.join(top, name)
            status = os.lstat(full)
            xattrs = sorted((key, os.getxattr(full, key, follow_symlinks=False))
                            for key in os.listxattr(full, follow_symlinks=False))
            linked = None if stat.S_ISDIR(status.st_mode) or status.st_nlink == 1 else \
                inodes.setdefault(status.st_ino, os.path.relpath(full, path))
            found[os.path.relpath(full, path)] = (
                tree(os.path.dirname(full))[name], status.st_gid, status.st_mtime_ns, xattrs,
                linked)
    return found


@pytest.mark.parametrize("writer", TAR_WRITERS)
def test_each_tar_format_unpacks_as_gnu_tar_unpacks_it(place, writer):
    top = every_kind(place)
    if isinstance(TAR_WRITERS[writer], list):
        data = subprocess.run(["tar", *TAR_WRITERS[writer], "-cf", "-", "-C", top, "."],
                              capture_output=True, check=True).stdout
    else:
        tar_format, options = TAR_WRITERS[writer]
        data = tarfile_layer(top, tar_format, **options)
    ours, theirs = place / "ours", place / "theirs"
    ours.mkdir()
    theirs.mkdir()
    layer_of = image_module.Layer("layer.tar", images.digest(data), None, len(data))
    assert image_module.unpack_verified(io.BytesIO(data), str(ours), layer_of) == []
    subprocess.run(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf", "-",
                    "-C", theirs], input=data, check=True)
    unpacked = tree_in_full(ours)
    assert unpacked == tree_in_full(theirs)
    assert len(unpacked) >= (14 if writer == "tarfile-ustar" else 17)


def header(name, kind=tarfile.REGTYPE, size=0, **patches):
    """One tar header block; `patches`: {offset_N: bytes} written over it, then its checksum."""
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    block = bytearray(info.tobuf(tarfile.USTAR_FORMAT))
    for offset, value in patches.items():
        at = int(offset.split("_")[1])
        block[at:at + len(value)] = value
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def pax(*records, kind=tarfile.XHDTYPE):
    """A PAX header of `records`, (key, value) in bytes, and its data, padded."""
    payload = b""
    for key, value in records:
        body = b" %s=%s\n" % (key, value)
        length = len(body) + 1
        while length != len(body) + len(str(length)):
            length = len(body) + len(str(length))
        payload += b"%d%s" % (length, body)
    return header("././@PaxHeader", kind=kind, size=len(payload)) + payload.ljust(
        -len(payload) % 512 + len(payload), b"\0")


BAD_HEADERS = {
    "wrong-checksum": (header("a", size=1) + b"a".ljust(512, b"\0") + header("b")[:-1] + b"x",
                       "a header with a wrong checksum"),
    "sparse": (header("a", kind=tarfile.GNUTYPE_SPARSE), "a sparse file, which no image tool"
                                                          " writes"),
    "negative-size": (header("a", offset_124=b"\xff" * 12), "a header with a negative size"),
    "huge-pax-header": (header("././@PaxHeader", kind=tarfile.XHDTYPE, size=2 << 20),
                        "a header of more than 1.0 MB"),
    "not-pax": (header("././@PaxHeader", kind=tarfile.XHDTYPE, size=3) + b"abc".ljust(512, b"\0")
                + header("a"), "a PAX header that is not one"),
    "nul-in-a-name": (header("././@PaxHeader", kind=tarfile.XHDTYPE, size=12)
                      + b"12 path=a\0b\n".ljust(512, b"\0") + header("c"),
                      "a name with a NUL byte"),
    "nul-in-an-xattr": (pax((b"SCHILY.xattr.user.a\0b", b"1")) + header("c"),
                        "a PAX record with a NUL byte in its key"),
    "time-of-5000-digits": (pax((b"mtime", b"9" * 5000)) + header("c"),
                            "a PAX record with a time that is not one"),
    "owner-of-5000-digits": (pax((b"uid", b"9" * 5000)) + header("c"),
                             "a PAX record with a number that is not one"),
    "globals-without-end": (pax(*[(b"k%d" % n, b"v") for n in range(65)], kind=tarfile.XGLTYPE)
                            + header("c"), "more than 64 global PAX records"),
    "huge-owner": (header("a", offset_108=b"\x80" + b"\xff" * 7), "a header with an owner, size"
                                                                  " or time out of range"),
    "not-a-number": (header("a", offset_100=b"0000x44\0"), "a header with a number that is not"
                                                           " one"),
}


@pytest.mark.parametrize("how", BAD_HEADERS)
def test_a_header_no_tar_writer_makes_is_refused_and_writes_nothing(place, base, how):
    bad, why = BAD_HEADERS[how]
    bad += bytes(1024)
    image = save_image(str(place / "image.tar"), [base, bad], {"Cmd": ["true"]})
    result = run_container("--image", image, "--cache", str(place / "cache"))
    assert (result.returncode, result.stderr) == (
        125, f"container.py: --image {image}: layer {images.digest(bad)[:12]}: not a complete"
             f" tar ({why})\n")
    assert os.listdir(place / "cache" / "layers") == [images.digest(base)]


def unpacked_by_us(place, data):
    """Unpack the layer `data` into place/ours; its path."""
    ours = place / "ours"
    ours.mkdir()
    layer_of = image_module.Layer("layer.tar", images.digest(data), None, len(data))
    assert image_module.unpack_verified(io.BytesIO(data), str(ours), layer_of) == []
    return ours


def gnu_long_name(name):
    return header("././@LongLink", kind=tarfile.GNUTYPE_LONGNAME, size=len(name) + 1) + (
        name + b"\0").ljust(512, b"\0")


@pytest.mark.parametrize("data, name", [
    (gnu_long_name(b"long/name") + header("short", offset_345=b"prefix"), "long/name"),
    (pax((b"path", b"first")) + pax((b"uid", b"0")) + header("second"), "second"),
], ids=["gnu-long-name-beside-a-prefix", "a-second-pax-header-replaces-the-first"])
def test_headers_apply_as_go_s_archive_tar_applies_them(place, data, name):
    ours = unpacked_by_us(place, data + bytes(1024))
    assert [os.path.relpath(os.path.join(top, file), ours)
            for top, _, files in os.walk(ours) for file in files] == [name]


# A later entry may replace a directory by a file or a link, as tar lets
# it; the directory's mode, owner and times, set last, must then reach
# neither the new name nor where a link points.  Harmless: `outside` is
# the test's own, and what is checked is that nothing there changed.
@pytest.mark.parametrize("replaced", ["a", "a/b"])
def test_a_directory_replaced_by_a_link_gives_its_attributes_to_nothing(place, replaced):
    outside = place / "outside"
    (outside / "b").mkdir(parents=True)
    before = [os.stat(path) for path in (outside, outside / "b")]
    data = layer(entry(replaced, "dir", mode=0o777, uid=1234),
                 entry("a", "symlink", str(outside)))
    ours = unpacked_by_us(place, data)
    assert os.readlink(ours / "a") == str(outside)
    assert [os.stat(path) for path in (outside, outside / "b")] == before


def test_a_directory_replaced_by_a_file_gives_it_nothing(place):
    directory, file = entry("d", "dir", mode=0o750), entry("d", data=b"x", mode=0o604)
    directory[0].mtime = 1
    ours = unpacked_by_us(place, layer(directory, file))
    status = os.lstat(ours / "d")
    assert (stat.S_ISREG(status.st_mode), stat.S_IMODE(status.st_mode), status.st_mtime) == (
        True, 0o604, 1700000000)
