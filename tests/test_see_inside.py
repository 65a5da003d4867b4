"""See a container from outside: the namespace view (namespaces.py), and enter.py."""
import os
import signal
import shutil
import subprocess
import sys

import pytest

import images
from helpers import (NOBODY, PID_STAGE, ROOT, STAGES, TIMEOUT, as_nobody, children_of, comm_of,
                     interfaces, processes_with, read, run_as_nobody, run_stage, running_stage,
                     stage_env, wait_until)

pytestmark = pytest.mark.usefixtures("namespaces_work")

# The process name of this interpreter, as /proc/PID/comm shows it.
PYTHON_NAME = os.path.basename(sys.executable)[:15]


def run_script(script, *arguments):
    return subprocess.run([sys.executable, str(ROOT / script), *arguments], capture_output=True,
                          text=True, env=stage_env(), timeout=TIMEOUT)


def differing(view):
    """The namespace types the view marks as differing from the host."""
    return {line.split()[0] for line in view.splitlines() if "differs" in line}


@pytest.mark.parametrize("stage", STAGES)
def test_view_from_the_host_marks_exactly_the_stage_s_namespaces(stage):
    with running_stage(stage) as (_, child):
        view = run_script("namespaces.py", str(child))
    assert (view.returncode, view.stderr) == (0, "")
    assert view.stdout.splitlines()[0].startswith(f"PID {child} ({PYTHON_NAME}), against PID ")
    assert differing(view.stdout) == STAGES[stage]


@pytest.fixture
def visible_view(visible_dir):
    """namespaces.py where the mount stages' child sees it: a checkout may be under /tmp."""
    for script in ("namespaces.py", "libns.py"):
        shutil.copy(ROOT / script, visible_dir)
    return str(visible_dir / "namespaces.py")


@pytest.mark.parametrize("stage", [stage for stage in STAGES if "pid" not in STAGES[stage]])
def test_view_from_inside_marks_exactly_the_stage_s_namespaces(stage, visible_view):
    view = run_stage(stage, sys.executable, visible_view)
    assert (view.returncode, view.stderr) == (0, "")
    assert differing(view.stdout) == STAGES[stage]


def test_view_inside_a_pid_namespace_says_the_host_is_out_of_sight(visible_view):
    view = run_stage(PID_STAGE, sys.executable, visible_view)
    assert view.stdout.splitlines()[0] == (
        f"PID 1 ({PYTHON_NAME}), against PID 1 ({PYTHON_NAME}), which is this process: inside"
        " a PID namespace the host's processes are out of sight:")


def test_view_of_a_missing_process_is_125():
    view = run_script("namespaces.py", "999999999")
    assert (view.returncode, view.stderr) == (
        125, "namespaces.py: process 999999999: No such file or directory\n")


@pytest.fixture
def running_pid_stage():
    """A pid stage whose /tmp holds a marker file, running `sleep` as PID 1."""
    with running_stage(PID_STAGE, "sh", "-c", "echo made inside > /tmp/marker;"
                       " exec sleep 1000", ready_as="sleep") as (tool, child):
        yield child
        os.kill(child, signal.SIGKILL)


LOOK_AROUND = ["sh", "-c", "hostname; cat /tmp/marker; cat /proc/net/dev; echo ===;"
               " ps -e -o pid=,comm="]


def looked_around(output):
    """(hostname, marker, interfaces, [(pid, command)]) from LOOK_AROUND's output."""
    first, processes = output.split("===\n")
    hostname, marker, net_dev = first.split("\n", 2)
    return hostname, marker, interfaces(net_dev), [tuple(line.split()) for line in
                                                  processes.splitlines()]


def test_enter_sees_what_the_container_sees(running_pid_stage):
    result = run_script("enter.py", str(running_pid_stage), *LOOK_AROUND)
    assert (result.returncode, result.stderr) == (0, "")
    hostname, marker, names, processes = looked_around(result.stdout)
    assert (hostname, marker, names) == ("custom_hostname", "made inside", ["lo"])
    assert processes[0] == ("1", "sleep")
    assert [command for _, command in processes] == ["sleep", "sh", "ps"]


@pytest.mark.skipif(not shutil.which("nsenter"), reason="needs util-linux nsenter")
def test_enter_sees_what_nsenter_sees(running_pid_stage):
    ours = run_script("enter.py", str(running_pid_stage), *LOOK_AROUND)
    theirs = subprocess.run(["nsenter", "--target", str(running_pid_stage), "--all",
                             *LOOK_AROUND], capture_output=True, text=True, timeout=TIMEOUT)
    ours_seen, theirs_seen = looked_around(ours.stdout), looked_around(theirs.stdout)
    assert ours_seen[:3] == theirs_seen[:3]
    # Process ids of the entering commands differ from one run to the next.
    assert [command for _, command in ours_seen[3]] == [command for _, command in theirs_seen[3]]


def test_enter_passes_the_command_s_status_through(running_pid_stage):
    assert run_script("enter.py", str(running_pid_stage), "sh", "-c", "exit 4").returncode == 4


def test_enter_joins_a_user_namespace_first():
    with running_stage("net_mount_uts_ipc_pid_user.py", "sleep", "1000") as (_, child):
        result = run_script("enter.py", str(child), "sh", "-c",
                            "readlink /proc/self/ns/user; id -u")
        target_user_namespace = os.readlink(f"/proc/{child}/ns/user")
        os.kill(child, signal.SIGKILL)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split() == [target_user_namespace, "0"]


@pytest.mark.parametrize("arguments, message", [
    (["999999999", "true"], "enter.py: no process with PID 999999999\n"),
    (["true"], "enter.py: the first argument must be a PID\n"
               "usage: enter.py [-h] [-v] [--] PID [COMMAND [ARG...]]\n"),
])
def test_enter_bad_target_is_125(arguments, message):
    result = run_script("enter.py", *arguments)
    assert (result.returncode, result.stdout, result.stderr) == (125, "", message)


def test_enter_without_permission_is_125(world_readable_copy):
    # Nobody may not read another user's namespaces: those of a root process.
    with running_stage(PID_STAGE, "sleep", "1000") as (_, child):
        result = run_as_nobody(world_readable_copy, "enter.py", str(child), "true")
        os.kill(child, signal.SIGKILL)
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == (f"enter.py: /proc/{child}/ns/user: Permission denied (you may enter"
                             " your own processes; root may enter any)\n")


@pytest.fixture
def rootless_pid_stage(world_readable_copy):
    """The pid stage run by nobody, `sleep` as its PID 1: the pid of that sleep."""
    marker = f"1000.{os.getpid()}"
    tool = subprocess.Popen(as_nobody(world_readable_copy, PID_STAGE, "sleep", marker),
                            env=stage_env())
    sleeping = lambda: [pid for pid in processes_with(marker)  # noqa: E731
                        if read(f"/proc/{pid}/comm") == "sleep\n"]
    try:
        wait_until(sleeping, "sleep runs inside")
        yield sleeping()[0]
    finally:
        tool.kill()
        tool.wait()


def test_ordinary_user_enters_their_own_rootless_container(rootless_pid_stage,
                                                           world_readable_copy):
    sleep = rootless_pid_stage
    result = run_as_nobody(world_readable_copy, "enter.py", str(sleep), "sh", "-c",
                           "id -u; hostname; readlink /proc/self/ns/user")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split() == ["0", "custom_hostname",
                                     os.readlink(f"/proc/{sleep}/ns/user")]


def test_ordinary_user_enters_their_own_process(world_readable_copy):
    # The sh that `before` runs in becomes enter.py itself (sh, setpriv and
    # Python exec each other): $$ is nobody's own process, in the host's
    # namespaces and root, which enter.py needs neither setns nor chroot for.
    result = run_as_nobody(world_readable_copy, "enter.py",
                           before='cd /var/tmp; set -- $$ sh -c "id -u; pwd"')
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split() == [str(NOBODY), "/var/tmp"]


def test_root_enters_a_rootless_container_as_its_root_as_nsenter_does(rootless_pid_stage):
    command = ["sh", "-c", "id -u; id -g"]
    ours = run_script("enter.py", str(rootless_pid_stage), *command)
    theirs = subprocess.run(["nsenter", "--target", str(rootless_pid_stage), "--all", *command],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert (ours.returncode, ours.stderr) == (0, "")
    assert ours.stdout.split() == theirs.stdout.split() == ["0", "0"]


def test_enter_reads_a_pid_with_leading_zeros_as_a_number(running_pid_stage):
    result = run_script("enter.py", f"000{running_pid_stage}", "hostname")
    assert (result.returncode, result.stdout) == (0, "custom_hostname\n")


def test_enter_takes_the_target_s_root_and_working_directory(tiny_rootfs):
    # A target chrooted inside its own mount namespace, its cwd in there:
    # only chroot(2) into its root, then fchdir to its cwd, show both.
    (tiny_rootfs / "inner").mkdir()
    (tiny_rootfs / "marker").write_text("only in the target's root\n")
    with running_stage("net_mount.py", "chroot", str(tiny_rootfs), "/bin/sh", "-c",
                       "cd /inner && exec /bin/sleep 1000", ready_as="sleep") as (_, child):
        result = run_script("enter.py", str(child), "/bin/sh", "-c", "pwd; cat /marker")
        os.kill(child, signal.SIGKILL)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "/inner\nonly in the target's root\n"


def test_entering_container_py_gives_what_the_container_has_not_the_host_s(visible_dir,
                                                                            monkeypatch):
    # As docker exec: the container's capabilities, no_new_privs, seccomp
    # filter and environment, whether one enters its init or its command.
    monkeypatch.setenv("HOST_ONLY", "the host's")
    image = images.save_image(str(visible_dir / "image.tar"), [images.base_layer()],
                              {"Env": ["FROM_IMAGE=yes"]})
    with running_stage("container.py", "--image", image, "--cache", str(visible_dir / "cache"),
                       "sh", "-c", "read line", ready_as=PYTHON_NAME) as (_, init):
        wait_until(lambda: [comm_of(child) for child in children_of(init)] == ["sh"],
                   "the command runs")
        [command] = children_of(init)
        results = [run_script("enter.py", str(target), "cat", "/proc/self/status",
                              "/proc/self/environ") for target in (init, command)]
    for result in results:
        assert (result.returncode, result.stderr) == (0, "")
        status, _, environ = result.stdout.rpartition("\n")
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        assert [fields[name] for name in ("CapBnd", "CapEff", "NoNewPrivs", "Seccomp")] == [
            "00000000a80425fb", "00000000a80425fb", "0", "2"]
        assert "FROM_IMAGE=yes" in environ.split("\0") and "HOST_ONLY" not in environ
