"""The exercises' self-checks: they pass the reference solutions (EXERCISES.md
shows their exact output, and test_docs.py runs it) and fail the starting
files, so that a check can never pass without the student's work."""
import os
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, cgroups_refusal, run_as_nobody, stage_env

pytestmark = pytest.mark.usefixtures("namespaces_work")

STARTERS = {2: "net_lo.py", 6: "pid_no_proc.py", 7: "pid_init.py", 9: "cgroup_stage.py",
            11: "cgroup.c", 13: "pids_limit.py"}
CHECK_TIMEOUT = 120  # the PID-1 trap check waits for a SIGTERM that cannot work


def check(*arguments):
    return subprocess.run([sys.executable, str(ROOT / "exercises" / "check.py"), *arguments],
                          capture_output=True, text=True, env=stage_env(), timeout=CHECK_TIMEOUT)


def skip_without_cgroups(number):
    """Exercise 13 makes a cgroup: skip it, saying why, where none can be made."""
    refusal = cgroups_refusal() if number == 13 else None
    if refusal:
        pytest.skip(f"cgroup limits: {refusal}")


@pytest.mark.parametrize("number", STARTERS)
def test_solution_passes_every_check(number):
    skip_without_cgroups(number)
    result = check(str(number), str(ROOT / "exercises" / "solutions" / STARTERS[number]))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == "All done."
    assert all(line.startswith("  ok ") for line in result.stdout.splitlines()[1:-1])


@pytest.mark.parametrize("number", STARTERS)
def test_starting_file_still_misses_something(number):
    skip_without_cgroups(number)
    result = check(str(number))
    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert lines[0].endswith(f"({ROOT / 'exercises' / STARTERS[number]})")
    assert any(line.startswith("  missing ") for line in lines)
    assert lines[-1].endswith("thing(s) still missing.")


@pytest.mark.parametrize("arguments, message", [
    ([], "usage: check.py N [FILE], where N is one of 2, 6, 7, 9, 11, 13\n"),
    (["3"], "usage: check.py N [FILE], where N is one of 2, 6, 7, 9, 11, 13\n"),
    (["2", "/no/such.py"], "check.py: /no/such.py: no such file; write it first"
                           " (see EXERCISES.md)\n"),
])
def test_bad_call_is_2(arguments, message):
    result = check(*arguments)
    assert (result.returncode, result.stderr) == (2, message)


@pytest.mark.parametrize("attempt, rejected_by", [
    ("pid_init_command_is_pid_3.py", "the command runs as PID 2, under an init as PID 1"),
    ("pid_init_keeps_zombies.py", "orphans are reaped: no zombie is left"),
    ("pid_init_passes_no_signal.py", "SIGTERM to the tool stops `sleep 1000` inside"),
])
def test_each_check_rejects_the_wrong_attempt_made_for_it_alone(attempt, rejected_by):
    # A check that always said yes would pass these: each gets one thing wrong.
    result = check("7", str(ROOT / "tests" / "wrong_attempts" / attempt))
    missing = [line.split(None, 1)[1] for line in result.stdout.splitlines()
               if line.startswith("  missing ")]
    assert (result.returncode, result.stderr) == (1, "")
    assert [line[:len(rejected_by)] for line in missing] == [rejected_by]


def syntax_error_said(attempt):
    """What check.py reports for a file with a syntax error, as this Python words it."""
    try:
        compile((ROOT / "tests" / "wrong_attempts" / attempt).read_text(), attempt, "exec")
    except SyntaxError as error:
        return f"line {error.lineno} of your file: SyntaxError: {error.msg}"
    raise AssertionError(f"{attempt} has no syntax error")


@pytest.mark.parametrize("number, attempt, verdict, said", [
    (9, "cgroup_flags_replaced.py",
     "  missing  the stage runs a command and exits with its status; hint: keep the pid stage's"
     " flags and add CLONE_NEWCGROUP to them with |",
     "cgroup_flags_replaced.py: make the mounts under / private would change the host's mounts:"
     " this stage has no CLONE_NEWNS"),
    (2, "net_lo_syntax_error.py",
     "  missing  the stage runs `ip -o link show` and exits with its status",
     "SYNTAX ERROR"),  # in the words of the Python that runs it: see syntax_error_said
    (2, "net_lo_exception.py",
     "  missing  the stage runs `ip -o link show` and exits with its status",
     "net_lo_exception.py: NameError: name 'SIOCGIFFLAGS' is not defined"),
    (2, "net_lo_prints.py",
     "  missing  lo is up (its flags are <LOOPBACK>; UP must be there); hint: SIOCGIFFLAGS, add"
     " IFF_UP, SIOCSIFFLAGS, on a socket made in child_exec", None),
    (2, "net_lo_runs_ip.py",
     "  missing  no external program: two ioctl(2) calls, not `ip` run from Python", None),
    (7, "pid_init_fails_in_setup.py",  # once waited 60 s in silence for a sleep never started
     "  missing  SIGTERM to the tool stops `sleep 1000` inside and the tool exits 143"
     " (it exited 125)", None),
    (2, "net_lo_endless_loop.py",
     "  missing  the stage runs `ip -o link show` and exits with its status",
     "it did not end within 20 s (an endless loop?)"),
])
def test_a_broken_attempt_gets_a_plain_verdict_and_what_the_stage_said(number, attempt, verdict,
                                                                      said):
    # Whatever the student's code does, check.py answers in words: no
    # traceback, the stage's own last word, a hint where it knows one.
    result = check(str(number), str(ROOT / "tests" / "wrong_attempts" / attempt))
    lines = result.stdout.splitlines()
    assert (result.returncode, result.stderr) == (1, "")
    assert "Traceback" not in result.stdout
    assert verdict in lines
    if said == "SYNTAX ERROR":
        said = syntax_error_said(attempt)
    if said is not None:
        assert lines[lines.index(verdict) + 1] == f"           your stage said: {said}"


def test_check_py_into_a_closed_pipe_ends_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, str(ROOT / "exercises" / "check.py"), "9",
                                 str(ROOT / "exercises" / "solutions" / "cgroup_stage.py")],
                                stdout=write_end, stderr=subprocess.PIPE, text=True,
                                env=stage_env(), timeout=CHECK_TIMEOUT)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")


def test_check_py_as_an_ordinary_user_explains_a_wrong_attempt(world_readable_copy):
    # Rootless, as a class on a shared machine runs it: check.py and the
    # attempt where nobody may read them, libns beside them.
    (world_readable_copy / "exercises").mkdir(exist_ok=True)
    shutil.copy(ROOT / "exercises" / "check.py", world_readable_copy / "exercises")
    attempt = shutil.copy(ROOT / "tests" / "wrong_attempts" / "cgroup_flags_replaced.py",
                          world_readable_copy)
    result = run_as_nobody(world_readable_copy, "exercises/check.py", "9", attempt)
    assert (result.returncode, result.stderr) == (1, "")
    assert "Traceback" not in result.stdout
    assert result.stdout.splitlines()[1] == (
        "  missing  the stage runs a command and exits with its status; hint: keep the pid"
        " stage's flags and add CLONE_NEWCGROUP to them with |")
