"""The child between clone() and exec: what it inherits, and what it must not."""
import os
import signal
import textwrap

import pytest

from conftest import STAGES, read, run_python, running_stage

pytestmark = pytest.mark.usefixtures("namespaces_work")


@pytest.mark.parametrize("stage", STAGES)
def test_only_stdin_stdout_stderr_reach_the_command(stage):
    # An inheritable descriptor in the tool, as a careless caller would leave.
    leaked_read, leaked_write = os.pipe()
    os.set_inheritable(leaked_write, True)
    try:
        with running_stage(stage) as (_, child):
            assert sorted(os.listdir(f"/proc/{child}/fd"), key=int) == ["0", "1", "2"]
    finally:
        os.close(leaked_read)
        os.close(leaked_write)


def signal_mask_and_ignored(status_text):
    fields = dict(line.split(":", 1) for line in status_text.splitlines())
    return int(fields["SigBlk"], 16), int(fields["SigIgn"], 16)


@pytest.mark.parametrize("stage", STAGES)
def test_command_starts_with_no_signal_blocked_or_ignored(stage):
    # Not WAITER: Python itself ignores SIGPIPE as soon as it starts.
    with running_stage(stage, "sleep", "100") as (_, child):
        blocked, ignored = signal_mask_and_ignored(read(f"/proc/{child}/status"))
        os.kill(child, signal.SIGKILL)
    assert blocked == 0
    assert ignored & (1 << (signal.SIGPIPE - 1)) == 0
    assert ignored & (1 << (signal.SIGXFSZ - 1)) == 0


def test_output_buffered_before_clone_is_printed_once_and_in_order():
    result = run_python(textwrap.dedent("""
        import libns
        print("before clone")
        status = libns.run(libns.CLONE_NEWUTS, lambda: print("in setup"), ["echo", "command"])
        print("after, status", status)
    """))
    assert result.stdout == "before clone\nin setup\ncommand\nafter, status 0\n"


def test_exception_in_setup_is_one_line_and_125_and_the_command_never_runs():
    result = run_python(textwrap.dedent("""
        import sys, libns
        sys.argv[0] = "mystage.py"
        def setup():
            raise RuntimeError("something went wrong")
        print(libns.run(libns.CLONE_NEWUTS, setup, ["echo", "command ran"]))
    """))
    assert result.stdout == "125\n"
    assert result.stderr == "mystage.py: RuntimeError: something went wrong\n"


def test_child_started_while_other_threads_are_busy_does_not_hang():
    # With the GIL released during clone(), or any bytecode before
    # PyOS_AfterFork_Child(), most of these children hang; TIMEOUT catches that.
    result = run_python(textwrap.dedent("""
        import threading, libns
        stop = threading.Event()
        def busy():
            while not stop.is_set():
                sum(range(1000))
        threads = [threading.Thread(target=busy) for _ in range(3)]
        for thread in threads:
            thread.start()
        command = ["sh", "-c", "exit 4"]
        statuses = [libns.wait(libns.spawn(libns.CLONE_NEWUTS, lambda: None, command))
                    for _ in range(30)]
        stop.set()
        for thread in threads:
            thread.join()
        print(sorted(set(statuses)))
    """))
    assert (result.stdout, result.stderr) == ("[4]\n", "")


def test_spawn_in_a_loop_leaks_no_descriptor_or_mapping():
    result = run_python(textwrap.dedent("""
        import os, libns
        def counts():
            with open("/proc/self/maps") as maps:
                return len(os.listdir("/proc/self/fd")), len(maps.readlines())
        libns.wait(libns.spawn(libns.CLONE_NEWUTS, lambda: None, ["true"]))
        before = counts()
        for _ in range(50):
            libns.wait(libns.spawn(libns.CLONE_NEWUTS, lambda: None, ["true"]))
        print(before == counts())
    """))
    assert (result.stdout, result.stderr) == ("True\n", "")
