"""Podman drives our runtime: `podman --runtime oci.py run ...`, through conmon, for real.

Run with the Docker tests, as .ci/run does: `python3 -m pytest -m docker`.
It installs Debian's podman if missing (4.3, with conmon), and runs it in a
mount namespace and a cgroup namespace of the test's own, held open by one
process that every podman command joins (nsenter): its storage, state and
conmon's files in a folder of the test's, its containers' cgroups
(/libpod_parent/...) below the test's own cgroup.  At the end every
process in that namespace is killed and the folder and cgroups removed.

This machine's capability bounding set lacks CAP_SYS_RESOURCE, so
Podman's default RLIMIT_NOFILE and RLIMIT_NPROC (1048576) cannot be set:
a containers.conf of the test's own gives the caller's hard limits.
"""
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers import (ROOT, host_state, in_cgroup_namespace, make_tiny_rootfs, read,
                     wait_until)
from terminal import Terminal

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("namespaces_work")]

MINUTES = 10  # only a guard against a hang


def processes_in(namespace):
    """The pids of every process in the mount namespace `namespace`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") == namespace:
                found.append(int(pid))
        except OSError:
            pass  # gone meanwhile
    return found


def libpod_cgroups():
    """Podman's cgroup folder (/libpod_parent) in each tree, below our own cgroup."""
    from runtime import cgroups
    found, own = cgroups.mounts(), cgroups.own_cgroups()
    trees = [*([("", found["v2"])] if found["v2"] else []), *found["v1"].items()]
    folders = {cgroups._directory(mount, f"{own.get(tree, '/').rstrip('/')}/libpod_parent")
               for tree, mount in trees}
    return {Path(folder) for folder in folders if folder and os.path.isdir(folder)}


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    """Run `podman ARGS...` with oci.py as its runtime, in namespaces held for the module."""
    if os.geteuid() != 0:
        pytest.skip("podman with a runtime of our own, here, needs root")
    if not shutil.which("podman"):
        for command in (["update", "-qq"], ["install", "-y", "-qq", "podman"]):
            subprocess.run(["apt-get", *command], check=True, capture_output=True,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                           timeout=MINUTES * 60)
    # conmon passes no --root: oci.py's state is in its default, /run/oci.py.
    state = Path("/run/oci.py")
    before, cgroups_before = host_state(), libpod_cgroups()
    states_before = set(os.listdir(state)) if state.exists() else set()
    folder = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="libns-podman-"))
    # Podman sets its own RLIMIT_NPROC to 32768 at start (strace shows it),
    # and RLIMIT_NOFILE to 1048576 or, refused, to the hard limit it has.
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
    (folder / "containers.conf").write_text(
        f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        'netns = "none"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
        f'events_logfile_path = "{folder}/events.log"\n')
    (folder / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{folder}/storage"\n'
        f'runroot = "{folder}/run"\n')
    env = {**os.environ, "CONTAINERS_CONF": f"{folder}/containers.conf",
           "CONTAINERS_STORAGE_CONF": f"{folder}/storage.conf",
           "CONTAINERS_REGISTRIES_CONF": f"{folder}/registries.conf"}
    (folder / "registries.conf").write_text("")
    holder = subprocess.Popen(in_cgroup_namespace(["sleep", "infinity"]),
                              start_new_session=True)
    wait_until(lambda: os.readlink(f"/proc/{holder.pid}/ns/cgroup") != os.readlink(
        "/proc/self/ns/cgroup") and read(f"/proc/{holder.pid}/comm") == "sleep\n",
        "the namespaces' holder to start")
    namespace = os.readlink(f"/proc/{holder.pid}/ns/mnt")

    def run(*arguments, timeout=MINUTES * 60):
        return subprocess.run(command(*arguments), capture_output=True, text=True, env=env,
                              timeout=timeout)

    def command(*arguments):
        return ["nsenter", "--target", str(holder.pid), "--mount", "--cgroup", "podman",
                "--runtime", str(ROOT / "oci.py"), "--tmpdir", f"{folder}/tmp", *arguments]
    run.command, run.env = command, env
    try:
        yield run
    finally:
        run("rm", "--all", "--force", "--time", "0", timeout=120)
        for pid in processes_in(namespace):  # conmon, and whatever is left
            os.kill(pid, signal.SIGKILL)
        holder.wait()
        shutil.rmtree(folder)
        for top in libpod_cgroups() - cgroups_before:
            for directory in sorted(top.rglob("*"), key=lambda path: -len(path.parts)) + [top]:
                if directory.is_dir():
                    directory.rmdir()
    assert host_state() == before
    assert (set(os.listdir(state)) if state.exists() else set()) == states_before


@pytest.fixture(scope="module")
def tiny(podman, tmp_path_factory):
    """An image of a few of the host's programs, made by podman import."""
    folder = tmp_path_factory.mktemp("tiny")
    root = make_tiny_rootfs(folder / "rootfs", ("sh", "cat", "ls", "sleep", "tty", "stty", "true"))
    subprocess.run(["tar", "-cf", folder / "rootfs.tar", "-C", root, "."], check=True)
    made = podman("import", str(folder / "rootfs.tar"), "local/tiny")
    assert made.returncode == 0, made.stderr
    return "local/tiny"


@pytest.fixture
def ours(podman, tiny):
    """`podman run --network none ...`; each test leaves no container and no cgroup of one."""
    def run(*arguments):
        return podman("run", "--network", "none", *arguments)
    yield run
    podman("rm", "--all", "--force", "--time", "0")
    assert podman("ps", "--all", "--quiet").stdout == ""
    # libpod-ID, a container's; conmon, podman's own for every conmon, stays.
    wait_until(lambda: not any(any(folder.glob("libpod-*")) for folder in libpod_cgroups()),
               "the containers' cgroups removed")


def test_container_md_s_podman_lines_run_with_our_runtime(ours, podman):
    blocks = re.findall(r"^```sh podman\n(.*?)^```$", read(ROOT / "CONTAINER.md"), re.M | re.S)
    lines = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert lines
    for line in lines:
        command, _, comment = line.partition("#")  # "# exits N": its status, else 0
        status = re.search(r"exits (\d+)", comment)
        prefix = 'podman --runtime "$PWD/oci.py" '
        assert command.startswith(prefix), line
        result = podman(*shlex.split(command[len(prefix):]))  # with our runtime, by its path
        assert result.returncode == int(status.group(1) if status else 0), result.stderr


def test_podman_runs_our_runtime_with_the_command_s_status(ours, tiny):
    started = ours("--rm", tiny, "true")
    assert started.returncode == 0, started.stderr
    assert ours("--rm", tiny, "sh", "-c", "exit 3").returncode == 3
    missing = ours("--rm", tiny, "no-such-command")
    assert missing.returncode == 127, missing.stderr
    assert "executable file not found" in missing.stderr


def test_podman_run_it_gives_a_terminal_of_the_container_s_own(ours, tiny, podman):
    terminal = Terminal(*podman.command("run", "--network", "none", "--rm", "-it", tiny, "sh"),
                        rows=31, columns=97, env=podman.env)
    terminal.read_until("# ")
    terminal.type(b"tty\r")
    terminal.read_until("/dev/pts/0\r\n")
    wait_until(lambda: terminal.type(b"stty size\r") or "31 97" in terminal.read_until("# "),
               "the container's terminal has the window's size")
    terminal.type(b"exit 4\r")
    assert terminal.wait() == 4


def test_podman_detached_then_exec_kill_stop_and_rm(ours, tiny, podman):
    started = ours("--detach", "--name", "trapper", tiny, "sh", "-c",
                   "trap 'echo trapped; exit 5' TERM; echo ready; while :; do sleep 0.1; done")
    assert started.returncode == 0, started.stderr
    wait_until(lambda: podman("logs", "trapper").stdout == "ready\n", "the container's start")
    assert podman("exec", "trapper", "sh", "-c", "exit 6").returncode == 6
    assert podman("exec", "trapper", "cat", "/proc/1/cmdline").stdout.startswith("sh\0-c\0")
    terminal = Terminal(*podman.command("exec", "-it", "trapper", "tty"), env=podman.env)
    terminal.read_until("/dev/pts/")
    assert terminal.wait() == 0
    assert podman("kill", "--signal", "TERM", "trapper").returncode == 0
    assert podman("wait", "trapper").stdout == "5\n"
    assert podman("logs", "trapper").stdout == "ready\ntrapped\n"
    assert podman("rm", "trapper").returncode == 0
    assert ours("--detach", "--name", "ignorer", tiny, "sleep", "1000").returncode == 0
    assert podman("stop", "--time", "1", "ignorer").returncode == 0
    assert podman("wait", "ignorer").stdout == "137\n"  # SIGKILL, after the second


def test_podman_s_limits_are_read_back_inside_and_enforced(ours, tiny):
    result = ours("--rm", "--memory", "64m", "--pids-limit", "50", tiny, "sh", "-c",
                  "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max;"
                  " i=0; while [ $i -lt 60 ]; do sleep 100 & i=$((i+1)); done")
    assert result.stdout.splitlines() == [str(64 << 20), "50"], result.stderr
    assert "Cannot fork" in result.stderr  # the 50th process, sh's own counted


def test_podman_pause_and_unpause(ours, tiny, podman):
    assert ours("--detach", "--name", "counter", tiny, "sh", "-c",
                "i=0; while :; do i=$((i+1)); echo $i > /tmp/now; done").returncode == 0
    wait_until(lambda: podman("exec", "counter", "cat", "/tmp/now").returncode == 0,
               "the loop's first write")
    paused = podman("pause", "counter")
    assert paused.returncode == 0, paused.stderr
    assert podman("inspect", "--format", "{{.State.Status}}", "counter").stdout == "paused\n"
    pid = podman("inspect", "--format", "{{.State.Pid}}", "counter").stdout.strip()
    now = f"/proc/{pid}/root/tmp/now"
    frozen = read(now)
    time.sleep(0.3)
    assert read(now) == frozen
    assert podman("unpause", "counter").returncode == 0
    wait_until(lambda: read(now) not in ("", frozen), "the loop to go on")
