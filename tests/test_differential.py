"""Our stages against their C twins in c/, and against util-linux unshare.

The C programs are the tutorial's; unshare(1) is what Linux users trust.  For
the same command, a user must see the same thing from all three.
"""
import subprocess

import pytest

from helpers import (C_TWIN, ROOT, TIMEOUT, interfaces, namespace_ids, read, run_stage, stage_env)

pytestmark = pytest.mark.usefixtures("namespaces_work")

UNSHARE = {
    "net.py": ["-n"],
    "net_mount.py": ["-nm"],
    "net_mount_uts.py": ["-nmu"],
    "net_mount_uts_ipc.py": ["-nmui"],
    "net_mount_uts_ipc_pid.py": ["-nmuipf", "--mount-proc"],
}


def run_c(c_programs, stage, *command):
    return subprocess.run([str(c_programs[C_TWIN[stage]]), *command], capture_output=True,
                          text=True, env=stage_env(), timeout=TIMEOUT)


def run_unshare(stage, *command):
    return subprocess.run(["unshare", *UNSHARE[stage], *command], capture_output=True,
                          text=True, env=stage_env(), timeout=TIMEOUT)


def test_every_c_program_compiles_without_warnings(c_programs):
    # The fixture builds each twin with -Wall -Wextra and fails on a warning;
    # here: it built every program in c/, and each is a stage's twin.
    in_c_folder = sorted(path.stem for path in (ROOT / "c").glob("*.c"))
    assert sorted(c_programs) == in_c_folder == sorted(C_TWIN.values())


SHOW_NAMESPACES = f"for kind in {' '.join(namespace_ids())}; do readlink /proc/self/ns/$kind; done"

# What a user looks at, as (command, how to read its output).
OBSERVATIONS = {
    "hostname": (["hostname"], str.strip),
    "interfaces": (["cat", "/proc/net/dev"], interfaces),
    # Every process would be too much: outside a PID namespace, the host's
    # come and go between two runs.  PID 1 is the host's init, or the command.
    "process 1": (["ps", "-o", "pid=,comm=", "-p", "1"], str.split),
    "namespaces that differ": (
        ["sh", "-c", SHOW_NAMESPACES],
        lambda out: sorted(kind for kind, ns in zip(namespace_ids(), out.split())
                           if ns != namespace_ids()[kind])),
    "/tmp": (["sh", "-c", "stat -f -c %T /tmp; ls -A /tmp | wc -l"], str.split),
}


@pytest.mark.parametrize("observation", OBSERVATIONS)
@pytest.mark.parametrize("stage", C_TWIN)
def test_python_stage_shows_what_its_c_twin_shows(stage, observation, c_programs):
    command, reading = OBSERVATIONS[observation]
    ours, theirs = run_stage(stage, *command), run_c(c_programs, stage, *command)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr + theirs.stderr
    assert reading(ours.stdout) == reading(theirs.stdout)


def test_pid_stage_lists_the_processes_its_c_twin_and_unshare_list(c_programs):
    command = ["ps", "-e", "-o", "pid=,comm="]
    stage = "net_mount_uts_ipc_pid.py"
    results = [run_stage(stage, *command), run_c(c_programs, stage, *command),
               run_unshare(stage, *command)]
    seen = [(result.returncode, result.stdout.split()) for result in results]
    assert seen == [(0, ["1", "ps"])] * 3


@pytest.mark.parametrize("command", [["sh", "-c", "exit 7"], ["no-such-command"], ["/etc"],
                                     ["sh", "-c", "kill -TERM $$"]])
@pytest.mark.parametrize("stage", C_TWIN)
def test_exit_status_matches_the_c_twin(stage, command, c_programs):
    assert run_stage(stage, *command).returncode == run_c(c_programs, stage, *command).returncode


UNSHARE_OBSERVATIONS = {
    "interfaces": OBSERVATIONS["interfaces"],
    "process 1": OBSERVATIONS["process 1"],
    "message queues": (["ipcs", "-q"], str.split),
}


@pytest.mark.parametrize("observation", UNSHARE_OBSERVATIONS)
@pytest.mark.parametrize("stage", UNSHARE)
def test_python_stage_shows_what_unshare_shows(stage, observation, host_queue):
    command, reading = UNSHARE_OBSERVATIONS[observation]
    ours, theirs = run_stage(stage, *command), run_unshare(stage, *command)
    assert (ours.returncode, theirs.returncode) == (0, 0), ours.stderr + theirs.stderr
    assert reading(ours.stdout) == reading(theirs.stdout)
    assert host_queue in read("/proc/sysvipc/msg").split()
