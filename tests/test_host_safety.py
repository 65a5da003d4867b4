"""The host is sacred: nothing changes on it, even when the child fails halfway.

conftest's autouse fixture compares the host's hostname, mount table, /proc,
IPC objects and interfaces before and after every test; these tests add the
failures.
"""
import shutil
import subprocess
import sys

import pytest

from helpers import PID_STAGE, ROOT, STAGES, TIMEOUT, run_with_proc_sys_hidden, stage_env

pytestmark = pytest.mark.usefixtures("namespaces_work")

# In the order the tool prints them, as the C programs write them.
CLONE_FLAG_OF = {"pid": "CLONE_NEWPID", "ipc": "CLONE_NEWIPC", "uts": "CLONE_NEWUTS",
                 "mnt": "CLONE_NEWNS", "net": "CLONE_NEWNET"}


def test_setup_failing_halfway_never_runs_the_command():
    # In a user namespace the kernel refuses a fresh proc while parts of the
    # current one are hidden by mounts it cannot remove, as Docker's masked
    # /proc paths are.  Build that in a throwaway mount namespace: the pid
    # stage's tmpfs mount succeeds, then its proc mount is refused.
    result = run_with_proc_sys_hidden(sys.executable, ROOT / PID_STAGE, "echo", "the command ran")
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == ("net_mount_uts_ipc_pid.py: mount proc on /proc:"
                             " Operation not permitted\n")


def run_without_cap_sys_admin(stage, *command):
    """Root without CAP_SYS_ADMIN, as in a Docker container without --privileged."""
    return subprocess.run(["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin",
                           sys.executable, str(ROOT / stage), *command],
                          capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs util-linux setpriv")
@pytest.mark.parametrize("stage", [stage for stage, new in STAGES.items()
                                   if new and "user" not in new])
def test_clone_refused_says_what_is_needed_and_exits_125(stage):
    result = run_without_cap_sys_admin(stage, "echo", "the command ran")
    flags = "|".join(flag for kind, flag in CLONE_FLAG_OF.items() if kind in STAGES[stage])
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == (f"{stage}: clone {flags}|SIGCHLD: Operation not permitted (creating"
                             " namespaces needs root; in Docker, use docker run --privileged)\n")


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs util-linux setpriv")
def test_user_stage_needs_no_privilege():
    # The point of a user namespace: its creator is root inside, with every
    # capability over the namespaces it owns, whatever it had outside.
    result = run_without_cap_sys_admin("net_mount_uts_ipc_pid_user.py", "hostname")
    assert (result.returncode, result.stdout, result.stderr) == (0, "custom_hostname\n", "")
