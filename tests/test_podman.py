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
import resource
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

import clients
from helpers import ROOT, host_state, in_cgroup_namespace, read, wait_until

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
    run.command, run.env, run.run_options = command, env, ["--network", "none"]
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
    return clients.tiny_image(podman, tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def ours(podman, tiny):
    """podman, whose `run` has our runtime; each test leaves no container, no cgroup of one."""
    yield podman
    podman("rm", "--all", "--force", "--time", "0")
    assert podman("ps", "--all", "--quiet").stdout == ""
    # libpod-ID, a container's; conmon, podman's own for every conmon, stays.
    wait_until(lambda: not any(any(folder.glob("libpod-*")) for folder in libpod_cgroups()),
               "the containers' cgroups removed")


def test_container_md_s_podman_lines_run_with_our_runtime(ours):
    clients.documented_lines_run(ours, "podman", 'podman --runtime "$PWD/oci.py" ')


def test_podman_runs_our_runtime_with_the_command_s_status(ours, tiny):
    clients.statuses_are_the_command_s(ours, tiny)


def test_podman_run_it_gives_a_terminal_of_the_container_s_own(ours, tiny):
    clients.run_it_gives_a_terminal(ours, tiny)


def test_podman_detached_then_exec_kill_and_rm(ours, tiny):
    clients.detached_then_exec_and_kill(ours, tiny)


def test_podman_stop_ends_a_pid_1_that_ignores_term(ours, tiny):
    clients.stop_kills_a_pid_1_that_ignores_term(ours, tiny)


def test_podman_s_limits_are_read_back_inside_and_enforced(ours, tiny):
    clients.limits_are_read_back_and_enforced(ours, tiny)


def test_podman_pause_and_unpause(ours, tiny):
    clients.pause_freezes_and_unpause_thaws(ours, tiny)
