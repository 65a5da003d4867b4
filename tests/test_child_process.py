"""The child between clone() and exec: what it inherits, and what it must not."""
import os
import signal
import textwrap

import pytest

from helpers import STAGES, libns, read, run_python, running_stage

pytestmark = pytest.mark.usefixtures("namespaces_work")


@pytest.mark.parametrize("stage", STAGES)
def test_only_stdin_stdout_stderr_reach_the_command(stage):
    # A descriptor the caller left open reaches the tool (pass_fds): the
    # child's close_range is what keeps it from the command.
    leaked_read, leaked_write = os.pipe()
    try:
        with running_stage(stage, pass_fds=(leaked_write,)) as (tool, child):
            assert str(leaked_write) in os.listdir(f"/proc/{tool.pid}/fd")
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


def test_exception_in_setup_comes_back_raised_and_the_command_never_runs():
    result = run_python(textwrap.dedent("""
        import libns
        def setup():
            raise RuntimeError("something went wrong")
        try:
            libns.run(libns.CLONE_NEWUTS, setup, ["echo", "command ran"])
        except libns.ChildError as error:
            print(error.status, error.errno, error.strerror)
    """))
    assert (result.stdout, result.stderr) == ("125 0 RuntimeError: something went wrong\n", "")


def test_exception_in_a_stage_s_setup_is_one_line_and_125(visible_dir):
    stage = visible_dir / "mystage.py"
    stage.write_text(textwrap.dedent("""
        import libns
        def child_exec(argv):
            raise RuntimeError("something went wrong")
        argv = libns.command_line(__doc__)
        pid = libns.clone(child_exec, libns.map_stack(), libns.CLONE_NEWUTS, argv)
        libns.exit(libns.waitpid(pid))
    """))
    result = run_python(f"import runpy, sys; sys.argv = ['{stage}', 'echo', 'command ran'];"
                        f" runpy.run_path('{stage}', run_name='__main__')")
    assert (result.returncode, result.stdout, result.stderr) == (
        125, "", "mystage.py: RuntimeError: something went wrong (line 4 of mystage.py:"
                 ' raise RuntimeError("something went wrong"))\n')


def test_a_command_s_own_127_is_its_status_not_an_error():
    result = run_python("import libns; print(libns.run(libns.CLONE_NEWUTS, None,"
                        " ['sh', '-c', 'exit 127']))")
    assert (result.stdout, result.stderr) == ("127\n", "")


def test_child_started_while_other_threads_are_busy_does_not_hang():
    # With the GIL released during clone(), or any bytecode before
    # PyOS_AfterFork_Child(), most of these children hang; TIMEOUT catches that.
    result = run_python(textwrap.dedent("""
        import sys, threading, libns
        # Hand the GIL over as often as possible: a child that ran a single
        # bytecode before PyOS_AfterFork_Child() would then hang every time.
        sys.setswitchinterval(1e-6)
        stop = threading.Event()
        def busy():
            while not stop.is_set():
                sum(range(1000))
        threads = [threading.Thread(target=busy) for _ in range(3)]
        for thread in threads:
            thread.start()
        command = ["sh", "-c", "exit 4"]
        statuses = [libns.waitpid(libns.spawn(libns.CLONE_NEWUTS, None, command))
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
        libns.waitpid(libns.spawn(libns.CLONE_NEWUTS, None, ["true"]))
        before = counts()
        for _ in range(50):
            libns.waitpid(libns.spawn(libns.CLONE_NEWUTS, None, ["true"]))
        print(before == counts())
    """))
    assert (result.stdout, result.stderr) == ("True\n", "")


def test_the_child_s_stack_has_a_guard_page_below_it():
    result = run_python(textwrap.dedent("""
        import libns
        stack = libns.map_stack()
        def child_exec(argv):
            with open("/proc/self/maps") as maps:
                print(maps.read(), flush=True)
            libns.execvp(argv)
        libns.waitpid(libns.clone(child_exec, stack, 0, ["true"]))
        print("stack", f"{stack:x}")
    """))
    *maps, stack_line = result.stdout.strip().splitlines()
    stack = int(stack_line.split()[1], 16)
    size, page = 8 * 1024 * 1024, os.sysconf("SC_PAGE_SIZE")
    ranges = {line.split()[0]: line.split()[1] for line in maps if line}
    assert ranges[f"{stack:x}-{stack + page:x}"] == "---p"
    assert ranges[f"{stack + page:x}-{stack + size:x}"] == "rw-p"


def test_run_gives_back_the_signal_mask_and_handlers_it_found():
    result = run_python(textwrap.dedent("""
        import signal, libns
        def handler(signum, frame):
            pass
        signal.signal(signal.SIGUSR1, handler)
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
        before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        libns.run(libns.CLONE_NEWUTS, None, ["true"])
        print(signal.getsignal(signal.SIGUSR1) is handler,
              signal.pthread_sigmask(signal.SIG_BLOCK, []) == before)
    """))
    assert (result.stdout, result.stderr) == ("True True\n", "")


@pytest.mark.parametrize("settings, refusal", [
    ({}, None),
    ({"user/max_user_namespaces": "0"},
     "user namespaces are disabled: sysctl user.max_user_namespaces is 0"),
    ({"user/max_user_namespaces": "15000"}, None),
    ({"kernel/unprivileged_userns_clone": "0"}, "Debian's switch for unprivileged user"
     " namespaces is off: sysctl kernel.unprivileged_userns_clone is 0"),
    ({"kernel/unprivileged_userns_clone": "1"}, None),
    ({"kernel/apparmor_restrict_unprivileged_userns": "1"}, "AppArmor gives unprivileged user"
     " namespaces no privilege (Ubuntu 24.04's default): sysctl"
     " kernel.apparmor_restrict_unprivileged_userns is 1"),
    ({"kernel/apparmor_restrict_unprivileged_userns": "0"}, None),
])
def test_user_namespace_refusal_names_the_setting_that_refuses(settings, refusal, tmp_path):
    # Values read from files of the test's own, as /proc/sys would hold them.
    for name, value in settings.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(value + "\n")
    assert libns.user_namespace_refusal(str(tmp_path)) == refusal
