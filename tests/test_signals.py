"""Signals: passed on to the command, the PID-1 trap, and the tool's death."""
import os
import signal
import time

import pytest

from helpers import PID_STAGE, STAGES, TIMEOUT, is_alive, read, running_stage, wait_until

pytestmark = pytest.mark.usefixtures("namespaces_work")

NOT_PID_STAGES = [stage for stage in STAGES if "pid" not in STAGES[stage]]


def catches(pid, signum):
    """True when the process has a handler for `signum` (SigCgt in /proc/PID/status)."""
    caught = read(f"/proc/{pid}/status").split("SigCgt:")[1].split()[0]
    return bool(int(caught, 16) & (1 << (signum - 1)))


@pytest.mark.parametrize("stage", NOT_PID_STAGES)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                    signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2])
def test_signal_to_the_tool_reaches_the_command(stage, signum):
    with running_stage(stage, "sleep", "100") as (tool, child):
        tool.send_signal(signum)
        assert tool.wait(timeout=TIMEOUT) == -signum
        assert not is_alive(child)


def test_pid_1_command_with_a_handler_gets_the_signal():
    command = ("sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.05; done")
    with running_stage(PID_STAGE, *command) as (tool, child):
        # Until `trap` has run, the kernel would drop the signal.
        wait_until(lambda: catches(child, signal.SIGTERM), "the shell handles SIGTERM")
        tool.send_signal(signal.SIGTERM)
        assert tool.wait(timeout=TIMEOUT) == 3


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_pid_1_trap_second_signal_kills_with_sigkill_and_says_why(signum):
    with running_stage(PID_STAGE, "sleep", "100") as (tool, child):
        tool.send_signal(signum)
        # The kernel drops the first: `sleep` as PID 1 has no handler.  There
        # is no event to wait for when nothing happens, so give it a moment.
        time.sleep(0.5)
        assert tool.poll() is None and is_alive(child)
        tool.send_signal(signum)
        assert tool.wait(timeout=TIMEOUT) == -signal.SIGKILL
        assert tool.stderr.read().decode() == (
            f"{PID_STAGE}: the command is PID 1 of its namespace and has no handler for"
            f" {signum.name}, so the kernel ignores it (the PID-1 trap); sending SIGKILL\n")


def test_pid_stage_killed_from_outside_kills_the_tool_by_the_same_signal():
    with running_stage(PID_STAGE, "sleep", "100") as (tool, child):
        os.kill(child, signal.SIGKILL)
        assert tool.wait(timeout=TIMEOUT) == -signal.SIGKILL


@pytest.mark.parametrize("stage", STAGES)
def test_command_dies_when_the_tool_is_killed(stage):
    with running_stage(stage, "sleep", "100") as (tool, child):
        tool.kill()
        wait_until(lambda: not is_alive(child), "the orphaned command is gone")
