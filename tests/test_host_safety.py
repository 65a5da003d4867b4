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


# A stage with one flag removed, its setup lines kept: a student's plausible
# mistake.  Each would change the host; libns refuses it and says why.
MISTAKES = [
    (stage, flag, message)
    for stage in STAGES if "mnt" in STAGES[stage]
    for flag, message in [
        ("CLONE_NEWNS", "make the mounts under / private would change the host's mounts:"
                        " this stage has no CLONE_NEWNS")]
] + [
    (stage, "CLONE_NEWUTS", "sethostname custom_hostname would change the host's hostname:"
                            " this stage has no CLONE_NEWUTS")
    for stage in STAGES if "uts" in STAGES[stage]
]


@pytest.mark.parametrize("stage, flag, message", MISTAKES)
def test_a_stage_without_its_flag_is_refused_before_it_changes_the_host(stage, flag, message,
                                                                         visible_dir):
    mistake = visible_dir / stage
    source = (ROOT / stage).read_text()
    mistake.write_text(source.replace(f"    libns.{flag} |\n", ""))
    result = subprocess.run([sys.executable, str(mistake), "echo", "the command ran"],
                            capture_output=True, text=True, timeout=TIMEOUT,
                            env=stage_env(PYTHONPATH=str(ROOT)))
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == f"{stage}: {message}\n"


# Not the user stage: a mount namespace made with a new user namespace gets
# the host's shared mounts as slaves, so nothing it mounts can reach the host.
@pytest.mark.parametrize("stage", [stage for stage in STAGES
                                   if "mnt" in STAGES[stage] and "user" not in STAGES[stage]])
def test_a_stage_without_ms_private_is_refused_on_a_shared_host(stage, visible_dir):
    mistake = visible_dir / stage
    source = (ROOT / stage).read_text()
    mistake.write_text(source.replace(
        '    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)\n', ""))
    script = f"""
        mount --make-rshared / || exit 90
        exec {sys.executable} {mistake} echo the command ran
    """
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, timeout=TIMEOUT,
                            env=stage_env(PYTHONPATH=str(ROOT)))
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == (f"{stage}: mount tmpfs on /tmp would show on the host too: / is"
                             " shared with the host's mounts; make every mount private first,"
                             ' mount(None, "/", None, MS_REC | MS_PRIVATE)\n')


def test_the_host_check_counts_ours_and_not_another_user_s():
    # Run where nothing reaches the real host: an IPC and a mount namespace
    # of the test's own.  A queue and a mount of another user's, as they may
    # come and go on a shared machine, change nothing the check counts; a
    # queue made as our tests make theirs, and a tmpfs on /tmp, do.
    code = f"""
import subprocess, sys
sys.path.insert(0, {str(ROOT / 'tests')!r})
from helpers import OUR_QUEUE_MODE, host_state
before = host_state()
subprocess.run(["ipcmk", "-Q"], check=True, capture_output=True)
subprocess.run(["mount", "-t", "tmpfs", "someone-else", "/srv"], check=True)
print(host_state() == before)
subprocess.run(["ipcmk", "-Q", "-p", OUR_QUEUE_MODE], check=True, capture_output=True)
print(host_state()["queues"] == before["queues"])
subprocess.run(["mount", "-t", "tmpfs", "ours", "/tmp"], check=True)
print(host_state()["mounts"] == before["mounts"])
"""
    result = subprocess.run(["unshare", "--ipc", "--mount", "--propagation", "private",
                             sys.executable, "-c", code], capture_output=True, text=True,
                            env=stage_env(), timeout=TIMEOUT)
    assert (result.stdout.split(), result.stderr) == (["True", "False", "False"], "")


PROC_LINE = ('    libns.mount("proc", "/proc", "proc",'
             ' libns.MS_NOSUID | libns.MS_NODEV | libns.MS_NOEXEC, "")\n')
SETUP_IN_THE_PARENT = [
    (stage, line, message) for stage in STAGES
    for line, message in [(PROC_LINE, "mount proc on /proc would change the host's mounts"),
                          ('    libns.sethostname("custom_hostname")\n',
                           "sethostname custom_hostname would change the host's hostname")]
    if line in (ROOT / stage).read_text()
]


@pytest.mark.parametrize("stage, line, message", SETUP_IN_THE_PARENT)
def test_a_setup_line_moved_into_the_parent_is_refused(stage, line, message, visible_dir):
    # Before clone(), the parent is in the host's namespaces: a proc there
    # would stack on the host's /proc (the host check compares them after).
    mistake = visible_dir / stage
    source = (ROOT / stage).read_text().replace(line, "")
    before_clone = "    child_stack = libns.map_stack()\n"
    assert before_clone in source
    mistake.write_text(source.replace(before_clone, before_clone + line))
    result = subprocess.run([sys.executable, str(mistake), "echo", "the command ran"],
                            capture_output=True, text=True, timeout=TIMEOUT,
                            env=stage_env(PYTHONPATH=str(ROOT)))
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == (f"{stage}: {message}: it runs in the parent, in the host's"
                             " namespaces; call it in child_exec, after clone()\n")
