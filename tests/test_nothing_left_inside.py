"""Nothing of the runtime left inside: PID 1 is no door to the host.

The command (PID 2) tries, through /proc/1, what runc's CVE-2016-9962 and
CVE-2024-21626 did: a descriptor of PID 1's that leads to a host directory,
its memory and environment, the host's terminal.  Every try only opens, or
reads from the host a file the test made; each is refused for every root
(the host's programs, --rootfs, --rootfs-rw, --image) and every user (root,
--userns, an ordinary user).
"""
import os
import pty
import select
import subprocess
import sys
import time

import pytest

import images
from helpers import ROOT, TIMEOUT, as_nobody, id_mapping_refusal, run_container, stage_env

pytestmark = pytest.mark.usefixtures("namespaces_work")

# Each line prints a word only if its way in is open.  `true < FILE` opens
# without reading; fd 9 is a host directory the tool was given.
DOORS = """
true < /proc/1/fd/0 && echo descriptor
true < /proc/1/mem && echo memory
true < /proc/1/environ && echo environment
cat /proc/1/fd/9/marker && echo directory
for fd in 3 4 5 6 7 8 10 11 12; do ls /proc/1/fd/$fd/ && echo "descriptor $fd"; done
ls /proc/1/fd/ || echo unlisted
"""


@pytest.fixture
def host_directory(visible_dir):
    """A host directory, readable by nobody, with a marker only the host has."""
    visible_dir.chmod(0o755)
    door = visible_dir / "door"
    door.mkdir(mode=0o755)
    (door / "marker").write_text("the host's\n")
    (door / "marker").chmod(0o644)
    return door


@pytest.fixture(params=["host's programs", "--rootfs", "--rootfs-rw", "--image"])
def root_options(request, tiny_rootfs, visible_dir):
    """The options that give the container each kind of root."""
    if request.param == "host's programs":
        return []
    if request.param != "--image":
        return [request.param, str(tiny_rootfs)]
    image = images.save_image(str(visible_dir / "image.tar"), [images.base_layer()])
    caches = visible_dir / "caches"  # where root and nobody each make a cache of their own
    caches.mkdir(mode=0o1777)
    caches.chmod(0o1777)
    return ["--image", image, "--cache", str(caches / "cache")]


@pytest.fixture(params=["root", "--userns", "nobody"])
def run_with_fd_9(request, world_readable_copy):
    """Run container.py with options, fd 9 open on a directory: (stdout, stderr, status)."""
    def run(directory, *arguments):
        roots = {"--rootfs", "--image"} & set(arguments)
        if request.param == "--userns" and roots and id_mapping_refusal(directory.parent):
            pytest.skip(f"--userns {roots.pop()}: {id_mapping_refusal(directory.parent)}")
        if request.param == "nobody":
            argv = as_nobody(world_readable_copy, "container.py", *arguments,
                             before=f"exec 9< '{directory}'")
            result = subprocess.run(argv, capture_output=True, text=True, env=stage_env(),
                                    timeout=TIMEOUT)
        else:
            users = ["--userns"] if request.param == "--userns" else []
            argv = ["sh", "-c", 'exec 9< "$0"; exec "$@"', str(directory), sys.executable,
                    str(ROOT / "container.py"), *users, *arguments]
            result = subprocess.run(argv, capture_output=True, text=True, env=stage_env(),
                                    timeout=TIMEOUT)
        return result.stdout, result.stderr, result.returncode
    return run


def test_the_command_finds_no_door_in_pid_1(run_with_fd_9, root_options, host_directory):
    stdout, stderr, status = run_with_fd_9(host_directory, *root_options, "sh", "-c", DOORS)
    assert stdout in ("0\n1\n2\n", "unlisted\n"), stderr
    assert "the host's" not in stdout
    assert status == 0


def test_pid_1_is_not_dumpable_and_the_command_is():
    result = run_container("sh", "-c", "grep -c . /proc/self/environ >/dev/null && echo command;"
                                       " cat /proc/1/environ || echo refused")
    assert result.stdout == "command\nrefused\n"
    assert result.stderr == "cat: /proc/1/environ: Permission denied\n"


def test_an_image_s_pid_1_shows_no_host_variable(tiny_rootfs, visible_dir):
    image = images.save_image(str(visible_dir / "image.tar"), [images.base_layer()])
    result = run_container("--image", image, "--cache", str(visible_dir / "cache"),
                           "sh", "-c", "cat /proc/1/environ; cat /proc/self/environ",
                           env=stage_env(HOST_ONLY="a host secret"))
    assert "a host secret" not in result.stdout
    assert result.stderr == "cat: /proc/1/environ: Permission denied\n"


def in_a_terminal(*argv):
    """Run argv on a new pty; return everything it wrote there."""
    pid, master = pty.fork()
    if pid == 0:
        os.execve(argv[0], list(argv), stage_env())
    output, deadline = b"", time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:
                break  # EIO: the terminal's last user is gone
            if not data:
                break
            output += data
    os.waitpid(pid, 0)
    os.close(master)
    return output.decode(errors="replace").replace("\r\n", "\n")


def test_with_a_terminal_pid_1_holds_the_container_s_not_the_host_s(world_readable_copy):
    script = ("for fd in 0 1 2; do readlink /proc/1/fd/$fd; done;"
              " ls -l /proc/1/fd 2>/dev/null | grep -c pts; tty")
    output = in_a_terminal(sys.executable, str(ROOT / "container.py"), "--privileged", "sh", "-c",
                           script)
    # --privileged may read PID 1's descriptors: each is the container's own pts.
    assert output.splitlines() == ["/dev/pts/0"] * 3 + ["3", "/dev/pts/0"]
