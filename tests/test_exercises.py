"""The exercises' self-checks: they pass the reference solutions (EXERCISES.md
shows their exact output, and test_docs.py runs it) and fail the starting
files, so that a check can never pass without the student's work."""
import subprocess
import sys

import pytest

from helpers import ROOT, stage_env

pytestmark = pytest.mark.usefixtures("namespaces_work")

STARTERS = {2: "net_lo.py", 6: "pid_no_proc.py", 7: "pid_init.py", 9: "cgroup_stage.py"}
CHECK_TIMEOUT = 120  # the PID-1 trap check waits for a SIGTERM that cannot work


def check(*arguments):
    return subprocess.run([sys.executable, str(ROOT / "exercises" / "check.py"), *arguments],
                          capture_output=True, text=True, env=stage_env(), timeout=CHECK_TIMEOUT)


@pytest.mark.parametrize("number", STARTERS)
def test_solution_passes_every_check(number):
    result = check(str(number), str(ROOT / "exercises" / "solutions" / STARTERS[number]))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == "All done."
    assert all(line.startswith("  ok ") for line in result.stdout.splitlines()[1:-1])


@pytest.mark.parametrize("number", STARTERS)
def test_starting_file_still_misses_something(number):
    result = check(str(number))
    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert lines[0].endswith(f"({ROOT / 'exercises' / STARTERS[number]})")
    assert any(line.startswith("  missing ") for line in lines)
    assert lines[-1].endswith("thing(s) still missing.")


@pytest.mark.parametrize("arguments, message", [
    ([], "usage: check.py N [FILE], where N is one of 2, 6, 7, 9\n"),
    (["3"], "usage: check.py N [FILE], where N is one of 2, 6, 7, 9\n"),
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
