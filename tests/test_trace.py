"""The trace (-v or LIBNS_TRACE=1) shows the calls of the stage's C twin, in order.

The C twin's calls come from `strace -ff`, the stage's from its own trace;
both are reduced to the calls the tutorial is about.
"""
import re
import shutil
import subprocess
import sys

import pytest

from helpers import (C_TWIN, PID_STAGE, ROOT, STAGES, TIMEOUT, run_as_nobody, run_stage,
                     run_with_proc_sys_hidden, stage_env)

pytestmark = pytest.mark.usefixtures("namespaces_work")

STRING = r'(NULL|"[^"]*")'
# The calls both traces show, as regular expressions over strace's format.
CALLS = [
    ("clone", re.compile(r"clone\((?:child_stack=\S+, flags=|child_exec, \S+, )([A-Z_|]+)")),
    ("mount", re.compile(rf"mount\({STRING}, {STRING}, {STRING}, ([A-Z_|0-9x]+), {STRING}\)")),
    ("umount2", re.compile(rf"umount2\({STRING}, (\w+)\)")),
    ("sethostname", re.compile(r'sethostname\("([^"]*)", \d+\)')),
    ("exec", re.compile(r'exec(?:ve|vp)\("[^"]*", \["([^"]*)"')),
    ("wait", re.compile(r"(?:wait4|waitpid)\((\d+),")),
]


def calls_in(lines):
    """[(call, arguments)] of the calls in CALLS, in order; exec attempts count once."""
    calls = []
    for line in lines:
        for name, pattern in CALLS:
            match = pattern.search(line)
            if match:
                arguments = match.groups()
                if name == "clone":
                    arguments = frozenset(arguments[0].split("|"))
                elif name == "mount":
                    arguments = (*arguments[:3], frozenset(arguments[3].split("|")), arguments[4])
                elif name == "wait":
                    arguments = ()
                if not calls or calls[-1] != (name, arguments) or name != "exec":
                    calls.append((name, arguments))
    return calls


def strace_of_c_twin(program, tmp_path, *command):
    """The calls of a C program and its child, parent's first, as strace -ff saw them."""
    subprocess.run(["strace", "-ff", "-qq", "-o", str(tmp_path / "trace"), "-e",
                    "trace=clone,clone3,mount,umount2,sethostname,execve,wait4",
                    str(program), *command], capture_output=True, timeout=TIMEOUT, check=True)
    # The parent is the one that cloned: not the lower pid, as pids wrap around.
    traces = list(tmp_path.glob("trace.*"))
    [parent_trace] = [path for path in traces if re.search(r"^clone3?\(", path.read_text(), re.M)]
    parent = parent_trace.read_text().splitlines()[1:]  # not its own exec
    [child] = [path for path in traces if path != parent_trace]
    parent_calls = calls_in(parent)
    return parent_calls[:1] + calls_in(child.read_text().splitlines()) + parent_calls[1:]


@pytest.mark.skipif(not shutil.which("strace"), reason="needs strace to trace the C programs")
@pytest.mark.parametrize("stage", C_TWIN)
def test_trace_shows_the_calls_of_the_c_twin_in_order(stage, c_programs, tmp_path):
    ours = run_stage(stage, "-v", "hostname")
    assert ours.returncode == 0, ours.stderr
    theirs = strace_of_c_twin(c_programs[C_TWIN[stage]], tmp_path, "hostname")
    assert calls_in(ours.stderr.splitlines()) == theirs


def test_trace_reads_like_c_and_marks_the_child():
    result = run_stage("net_mount_uts.py", "hostname", env=stage_env(LIBNS_TRACE="1"))
    pid = re.search(r"^clone\(.*\) = (\d+)$", result.stderr, re.M).group(1)
    lines = [line for line in result.stderr.splitlines()
             if not line.startswith(("mmap(", "mprotect(", "munmap("))]
    assert lines == [
        f"clone(child_exec, stack+8388608, CLONE_NEWUTS|CLONE_NEWNS|CLONE_NEWNET|SIGCHLD, args)"
        f" = {pid}",
        "[child] prctl(PR_SET_PDEATHSIG, SIGKILL) = 0",
        '[child] mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL) = 0',
        '[child] mount("none", "/tmp", "tmpfs", 0, "") = 0',
        '[child] sethostname("custom_hostname", 15) = 0',
        "[child] close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) = 0",
        '[child] execvp("hostname", ["hostname"])',
        f"waitpid({pid}, ...) = {pid} (exited 0)",
    ]
    assert result.stdout == "custom_hostname\n"


def test_trace_shows_a_failure_with_its_errno():
    result = run_with_proc_sys_hidden(sys.executable, ROOT / PID_STAGE, "-v", "true")
    assert result.returncode == 125
    assert ('[child] mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, "")'
            " = -1 EPERM (Operation not permitted)") in result.stderr.splitlines()


@pytest.mark.parametrize("stage", STAGES)
def test_no_trace_without_asking(stage):
    assert run_stage(stage, "true").stderr == ""


def test_trace_as_an_ordinary_user_is_in_the_order_the_calls_happened(world_readable_copy):
    # The child arms its death signal before the parent writes its id maps.
    result = run_as_nobody(world_readable_copy, "net_mount_uts.py", "-v", "true")
    calls = [line.split("(")[0] for line in result.stderr.splitlines()]
    assert calls[calls.index("clone"):] == [
        "clone", "munmap", "[child] prctl", "write", "write", "write", "[child] mount",
        "[child] mount", "[child] sethostname", "[child] close_range", "[child] execvp",
        "waitpid"]


def test_bytes_that_are_not_utf8_show_as_strace_shows_them():
    result = subprocess.run([sys.executable, str(ROOT / "net.py"), "-v", b"/no/such/\xff"],
                            capture_output=True, env=stage_env(), timeout=TIMEOUT)
    assert result.returncode == 127
    assert b'[child] execvp("/no/such/\\xff", ["/no/such/\\xff"])\n' in result.stderr
    assert result.stderr.endswith(b"net.py: execvp /no/such/\\xff: No such file or directory\n")
