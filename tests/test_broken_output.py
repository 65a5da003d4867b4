"""Closed, full or broken stdout and stderr never stop the command, and never show a traceback."""
import os
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, STAGES, TIMEOUT, stage_env

pytestmark = pytest.mark.usefixtures("namespaces_work")

STAGE = "net.py"


def shell(script):
    """Run a shell script in the checkout; the CompletedProcess."""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env=stage_env(PYTHON=sys.executable), timeout=TIMEOUT)


@pytest.mark.parametrize("stage", STAGES)
def test_closed_stdout_reaches_the_command_closed(stage):
    result = shell(f'"$PYTHON" {stage} sh -c "echo x >&2; echo y || echo no stdout >&2" >&-')
    assert (result.returncode, result.stderr) == (0, "x\nsh: 1: echo: echo: I/O error\n"
                                                  "no stdout\n")


@pytest.mark.parametrize("stage", STAGES)
def test_closed_stderr_reaches_the_command_closed(stage):
    result = shell(f'"$PYTHON" {stage} -v sh -c "echo y; echo x >&2 || echo no stderr" 2>&-')
    assert (result.returncode, result.stdout) == (0, "y\nno stderr\n")


def test_closed_stdin_reaches_the_command_closed():
    result = shell(f'"$PYTHON" {STAGE} sh -c "read line || echo no stdin" <&-')
    assert result.returncode == 0
    assert result.stdout == "no stdin\n"


def test_trace_into_a_pipe_that_a_reader_left_dies_by_sigpipe_with_the_command():
    result = shell(f'"$PYTHON" {STAGE} -v yes 2>&1 | head -1; echo "${{PIPESTATUS[0]}}"')
    assert result.stdout.splitlines()[-1] == "141"
    assert result.stderr == ""


def run_into_a_pipe_nobody_reads(*argv, into):
    """Run argv with fd `into` (1 or 2) a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, *argv], stdout=write_end if into == 1 else None,
                              stderr=write_end if into == 2 else subprocess.PIPE,
                              env=stage_env(), timeout=TIMEOUT, cwd=ROOT)
    finally:
        os.close(write_end)


def test_trace_to_a_stderr_nobody_reads_stops_the_trace_not_the_command():
    result = run_into_a_pipe_nobody_reads(STAGE, "-v", "sh", "-c", "exit 3", into=2)
    assert result.returncode == 3


@pytest.mark.parametrize("argv", [["container.py", "--help"], ["libns.py"]])
def test_a_reader_that_has_seen_enough_ends_us_quietly(argv):
    # As `| head -1` does, once it has its line.
    result = run_into_a_pipe_nobody_reads(*argv, into=1)
    assert (result.returncode, result.stderr) == (0, b"")


def test_help_to_a_full_disk_is_one_line_and_125():
    result = shell(f'"$PYTHON" {STAGE} -h > /dev/full')
    assert (result.returncode, result.stderr) == (
        125, f"{STAGE}: write to stdout: No space left on device\n")


def test_help_without_docstrings_under_python_OO():
    result = subprocess.run([sys.executable, "-OO", str(ROOT / STAGE), "-h"],
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: {STAGE} [-h] [-v] [--] [COMMAND [ARG...]]\n\n"
                                    "options:\n")


def old_pythons():
    """The pyenv CPythons older than 3.8 on this machine."""
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return []
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
    versions = subprocess.run([pyenv, "versions", "--bare"], capture_output=True,
                              text=True).stdout.split()
    return [f"{root}/versions/{version}/bin/python3" for version in versions
            if version.startswith(("3.6.", "3.7."))]


@pytest.mark.parametrize("python", old_pythons() or [None])
def test_python_older_than_3_8_is_one_line_and_125(python):
    if python is None:
        pytest.skip("no CPython 3.6 or 3.7 here (pyenv) to try")
    result = subprocess.run([python, str(ROOT / STAGE), "true"], capture_output=True, text=True,
                            timeout=TIMEOUT)
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True).stdout.strip()
    assert (result.returncode, result.stderr) == (
        125, f"{STAGE}: Python 3.8 or newer is needed (this is {version})\n")
