"""Limits: --memory, --pids-limit, --cpus, enforced by the kernel in the container's own cgroup.

Each test runs a real container whose command reaches its limit, and looks
at what the kernel did: the OOM killer, a refused fork, a throttled CPU.
They run on whichever cgroup version this machine has (v1 here; v2 in the
QEMU guest of tests/guest.py, which .ci/run boots to run this file there).
The host check counts the cgroups a tool leaves behind.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import ROOT, TIMEOUT, cgroups_left_behind, run_as_nobody, run_container, stage_env

pytestmark = pytest.mark.usefixtures("namespaces_work", "cgroups_work")

from runtime import cgroups  # noqa: E402 (helpers puts the checkout on the path)

VERSION = cgroups.version_for(["memory", "pids", "cpu"])
# What the files are called inside, in /sys/fs/cgroup.
PIDS_MAX = "/sys/fs/cgroup/pids.max" if VERSION == "v2" else "/sys/fs/cgroup/pids/pids.max"
CPU_STAT = "/sys/fs/cgroup/cpu.stat" if VERSION == "v2" else "/sys/fs/cgroup/cpu/cpu.stat"

ALLOCATE = "x = bytearray(256 << 20); print('allocated')"
FORK_UNTIL_REFUSED = """
import errno, os, signal
children = []
while True:
    try:
        pid = os.fork()
    except OSError as error:
        print(len(children), errno.errorcode[error.errno])
        break
    if pid == 0:
        signal.pause()
    children.append(pid)
for pid in children:
    os.kill(pid, signal.SIGKILL)
"""
BUSY_THEN_STAT = """
import time
end = time.monotonic() + 1.5
while time.monotonic() < end:
    pass
print(dict(line.split() for line in open({path!r}))["nr_throttled"])
"""


def test_past_its_memory_the_command_is_oom_killed_with_one_line_and_137():
    result = run_container("--memory", "64m", "python3", "-c", ALLOCATE)
    assert (result.returncode, result.stdout, result.stderr) == (
        137, "", "container.py: killed: out of memory, --memory 64m\n")


def test_under_its_memory_the_command_runs_as_ever():
    result = run_container("--memory", "512m", "python3", "-c", ALLOCATE)
    assert (result.returncode, result.stdout, result.stderr) == (0, "allocated\n", "")


@pytest.mark.parametrize("path", ["/tmp/file", "/dev/shm/file", "/file"])
def test_what_it_writes_to_a_tmpfs_counts_as_its_memory(path):
    # /tmp, /dev/shm and the default root are tmpfs: their pages are the
    # container's memory, so --memory bounds what it can write there too.
    result = run_container("--memory", "32m", "dd", "if=/dev/zero", f"of={path}", "bs=1M",
                           "count=48")
    assert (result.returncode, result.stderr.splitlines()[-1:]) == (
        137, ["container.py: killed: out of memory, --memory 32m"])


def test_the_51st_process_under_pids_limit_50_is_refused():
    # The init and the command are two of the fifty.
    result = run_container("--pids-limit", "50", "python3", "-c", FORK_UNTIL_REFUSED)
    assert (result.returncode, result.stdout, result.stderr) == (0, "48 EAGAIN\n", "")


def test_a_busy_loop_under_cpus_is_throttled():
    result = run_container("--cpus", "0.2", "python3", "-c", BUSY_THEN_STAT.format(path=CPU_STAT))
    assert (result.returncode, result.stderr) == (0, "")
    assert int(result.stdout) > 0  # periods in which the quota ran out


def test_inside_its_cgroup_is_the_root_and_its_limits_read_only():
    result = run_container("--pids-limit", "50", "sh", "-c",
                           f"grep '^0::' /proc/self/cgroup; cat {PIDS_MAX};"
                           f" echo 60 > {PIDS_MAX} || echo refused")
    assert result.returncode == 0
    assert result.stdout == "0::/\n50\nrefused\n"
    assert "Read-only file system" in result.stderr


def test_the_spec_holds_the_limits_as_config_json_does():
    result = run_container("--spec", "--memory", "1.5g", "--memory-swap", "-1", "--cpus", "0.5",
                           "--pids-limit", "100", "true")
    spec = json.loads(result.stdout)
    assert spec["linux"]["resources"] == {"memory": {"limit": 1610612736, "swap": -1},
                                          "pids": {"limit": 100},
                                          "cpu": {"quota": 50000, "period": 100000}}
    assert spec["linux"]["cgroupsPath"].startswith("containers-do-not-exist.")


@pytest.mark.parametrize("options, message", [
    (["--memory", "1k"], "--memory 1k: the least is 6m, as Docker's"),
    (["--memory", "lots"], "--memory lots: give a size, such as 64m or 1.5g"),
    (["--memory-swap", "1g"], "--memory-swap: give --memory too; the swap is counted with it"),
    (["--memory", "1g", "--memory-swap", "512m"],
     "--memory-swap 512m: it counts the memory too, so it is at least --memory"),
    (["--cpus", "0"], f"--cpus 0: from 0.01 to {os.cpu_count()}, the CPUs here"),
    (["--cpus", "many"], f"--cpus many: from 0.01 to {os.cpu_count()}, the CPUs here"),
    (["--pids-limit", "some"], "--pids-limit some: give a number of processes"),
])
def test_a_limit_docker_run_would_refuse_is_refused_before_anything_starts(options, message):
    result = run_container(*options, "true")
    assert (result.returncode, result.stderr) == (125, f"container.py: {message}\n")


# Rootless, what the refusal says: nobody's cgroup is root's, on either version.
ROOTLESS_REFUSAL = {
    "v1": "cgroup v1 delegates nothing to an ordinary user: limits need root here",
    "v2": "your cgroup is not delegated to you: run it in a scope of your own, systemd-run"
          " --user --scope -p Delegate=yes python3 container.py ...",
}


def test_rootless_limits_are_refused_in_one_line_that_names_the_way(world_readable_copy):
    result = run_as_nobody(world_readable_copy, "container.py", "--pids-limit", "50", "true")
    assert result.returncode == 125
    assert result.stderr.startswith("container.py: ")
    assert result.stderr.endswith(f": Permission denied ({ROOTLESS_REFUSAL[VERSION]})\n")
    assert len(result.stderr.splitlines()) == 1


def test_a_later_start_removes_what_a_killed_tool_left(visible_dir):
    # SIGKILL leaves the tool no moment to remove its cgroup; the container
    # dies with it (PR_SET_PDEATHSIG), and the next start finds it empty.
    started = subprocess.Popen([sys.executable, str(ROOT / "container.py"), "--pids-limit", "5",
                                "sh", "-c", "echo running; exec sleep 60"],
                               stdout=subprocess.PIPE, text=True, env=stage_env())
    assert started.stdout.readline() == "running\n"
    started.kill()
    started.wait(TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while not cgroups_left_behind() and time.monotonic() < deadline:
        time.sleep(0.05)  # until the container is gone too, and only its cgroup stays
    left = cgroups_left_behind()
    assert left and all(path.endswith(f"containers-do-not-exist.{started.pid}") for path in left)
    assert run_container("--pids-limit", "5", "true").returncode == 0
    assert cgroups_left_behind() == []


def test_ctrl_c_ends_a_limited_container_and_removes_its_cgroup():
    started = subprocess.Popen([sys.executable, str(ROOT / "container.py"), "--memory", "64m",
                                "sh", "-c", "echo running; exec sleep 60"],
                               stdout=subprocess.PIPE, text=True, env=stage_env())
    assert started.stdout.readline() == "running\n"
    started.send_signal(signal.SIGINT)
    assert started.wait(TIMEOUT) == 130
    assert cgroups_left_behind() == []


def test_in_a_cgroup_namespace_of_another_s_the_limits_are_refused_in_one_line():
    # As inside someone else's container: the mounted trees begin above
    # where our own cgroup is, so ours cannot be found in them.
    parent = cgroups._directory(cgroups.mounts()["v2"] if VERSION == "v2" else
                                cgroups.mounts()["v1"]["pids"],
                                cgroups.own_cgroups()["" if VERSION == "v2" else "pids"])
    inner = f"{parent}/containers-do-not-exist.{os.getpid()}"
    os.mkdir(inner)
    try:
        result = subprocess.run(["sh", "-c", f'echo $$ > {inner}/cgroup.procs; exec unshare'
                                 f' --cgroup {sys.executable} {ROOT / "container.py"}'
                                 " --pids-limit 5 true"], capture_output=True, text=True,
                                env=stage_env(), timeout=TIMEOUT)
    finally:
        while os.path.isdir(inner):
            try:
                os.rmdir(inner)
            except OSError:
                time.sleep(0.05)  # until sh and unshare have left it
    assert (result.returncode, result.stderr) == (
        125, "container.py: make a cgroup for the limits: this cgroup file system shows only a"
        " part of the tree, without our own cgroup (inside another container?)\n")
