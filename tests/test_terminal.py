"""At a keyboard: Ctrl-C, Ctrl-\\, Ctrl-Z, a closed terminal, and container.py -t.

Every test types into a real pseudo-terminal (tests/terminal.py), so the
signals are the kernel's own, sent to the terminal's foreground process
group, and the exit statuses are what a shell would see.
"""
import os
import signal
import subprocess
import sys
import termios
import time

import pytest

from helpers import ROOT, STAGES, TIMEOUT, as_nobody, comm_of, is_alive, stage_env, wait_until
from terminal import CTRL_BACKSLASH, CTRL_C, CTRL_Z, Terminal

pytestmark = pytest.mark.usefixtures("namespaces_work")

CONTAINER = "container.py -T"
# Each tool, as argv; container.py without a terminal of its own (-T), so
# that the keys reach the command as signals from this terminal.
TOOLS = {**{stage: [sys.executable, str(ROOT / stage)] for stage in STAGES},
         CONTAINER: [sys.executable, str(ROOT / "container.py"), "-T"]}
# Tools whose command is PID 1 of its namespace, in the PID-1 trap.
PID_1 = [stage for stage in STAGES if "pid" in STAGES[stage]]
NOT_PID_1 = [tool for tool in TOOLS if tool not in PID_1]
# The Python a command runs: container.py's root has only the host's /usr.
PYTHON = {CONTAINER: "python3"}
# How often the repeated tests try: once in the ordinary run, 50 times
# under -m load, as the issue that asked for them measured.
TRIES = [1, pytest.param(50, marks=pytest.mark.load)]


def counter(signum):
    """A command that counts `signum` for 0.2 s after the first one, then prints the count."""
    return ("import signal, time\n"
            "seen = []\n"
            f"signal.signal({int(signum)}, lambda number, frame: seen.append(number))\n"
            "print('ready', flush=True)\n"
            "while not seen:\n"
            "    time.sleep(0.01)\n"
            "time.sleep(0.2)\n"
            "print('signals:', len(seen), flush=True)\n")


def descendant_named(pid, name):
    """The pid of the first descendant of `pid` whose command name is `name`, or None."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids = [int(child) for child in children.read().split()]
    except OSError:
        return None
    for child in pids:
        try:
            if comm_of(child) == name:
                return child
        except OSError:
            continue
        found = descendant_named(child, name)
        if found:
            return found
    return None


def started(pid, name):
    """Wait until `pid` has a descendant `name` running; its pid."""
    wait_until(lambda: descendant_named(pid, name), f"{name} runs under {pid}")
    return descendant_named(pid, name)


def state_of(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def killed_by(signum, tool):
    """What a shell sees when `tool`'s command is killed by `signum`.

    The stages die by the same signal; container.py's init, as PID 1,
    cannot, and exits 128+N as a shell reports it.
    """
    return 128 + signum if tool == CONTAINER else -signum


@pytest.mark.parametrize("tries", TRIES)
@pytest.mark.parametrize("key, signum", [(CTRL_C, signal.SIGINT),
                                         (CTRL_BACKSLASH, signal.SIGQUIT)])
@pytest.mark.parametrize("tool", TOOLS)
def test_one_key_press_is_one_signal_for_the_command(tool, key, signum, tries):
    python = PYTHON.get(tool, sys.executable)
    for _ in range(tries):
        with Terminal(*TOOLS[tool], python, "-c", counter(signum)) as terminal:
            terminal.read_until("ready")
            terminal.type(key)
            assert terminal.read_until("signals: 1").endswith("signals: 1")
            assert terminal.wait() == 0


@pytest.mark.parametrize("tries", TRIES)
@pytest.mark.parametrize("tool", NOT_PID_1)
def test_ctrl_c_ends_sleep_with_sigint(tool, tries):
    for _ in range(tries):
        with Terminal(*TOOLS[tool], "sleep", "100") as terminal:
            sleep = started(terminal.process.pid, "sleep")
            terminal.type(CTRL_C)
            assert terminal.wait() == killed_by(signal.SIGINT, tool)
            assert not is_alive(sleep)


@pytest.mark.parametrize("stage", PID_1)
def test_ctrl_c_twice_ends_sleep_in_the_pid_1_trap(stage):
    with Terminal(*TOOLS[stage], "sleep", "100") as terminal:
        sleep = started(terminal.process.pid, "sleep")
        terminal.type(CTRL_C)
        # The kernel drops the first: there is no event to wait for when
        # nothing happens, so give it a moment.
        time.sleep(0.3)
        assert terminal.process.poll() is None and is_alive(sleep)
        terminal.type(CTRL_C)
        assert terminal.wait() == -signal.SIGKILL
        assert terminal.output.decode().endswith(
            f"{stage}: the command is PID 1 of its namespace and has no handler for SIGINT,"
            " so the kernel ignores it (the PID-1 trap); sending SIGKILL\r\n")


@pytest.mark.parametrize("tries", TRIES)
@pytest.mark.parametrize("tool", NOT_PID_1)
def test_sigterm_to_the_process_group_ends_the_command(tool, tries):
    for _ in range(tries):
        process = subprocess.Popen([*TOOLS[tool], "sleep", "100"], start_new_session=True,
                                   env=stage_env(), stdin=subprocess.DEVNULL)
        started(process.pid, "sleep")
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=TIMEOUT) == killed_by(signal.SIGTERM, tool)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_closed_terminal_ends_the_command(tool):
    # The hangup goes to the session leader, the tool; a pid stage's
    # `sleep` has no handler for it, so the tool kills it at once.
    expected = -signal.SIGKILL if tool in PID_1 else killed_by(signal.SIGHUP, tool)
    with Terminal(*TOOLS[tool], "sleep", "100") as terminal:
        sleep = started(terminal.process.pid, "sleep")
        os.close(terminal.master)
        assert terminal.process.wait(timeout=TIMEOUT) == expected
        wait_until(lambda: not is_alive(sleep), "sleep is gone")


@pytest.mark.parametrize("stage", STAGES)
def test_signals_the_caller_ignored_stay_ignored_in_the_command(stage):
    result = subprocess.run(["sh", "-c", "trap '' HUP INT; exec \"$@\"", "sh", *TOOLS[stage],
                             "grep", "SigIgn", "/proc/self/status"],
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
    ignored = int(result.stdout.split()[1], 16)
    assert ignored & (1 << (signal.SIGHUP - 1) | 1 << (signal.SIGINT - 1)) == (
        1 << (signal.SIGHUP - 1) | 1 << (signal.SIGINT - 1))


@pytest.mark.parametrize("stage", STAGES)
def test_nohup_keeps_the_command_through_a_hangup(stage):
    process = subprocess.Popen(["nohup", *TOOLS[stage], "sleep", "100"], env=stage_env(),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        sleep = started(process.pid, "sleep")
        process.send_signal(signal.SIGHUP)
        time.sleep(0.3)  # an ignored signal does nothing: nothing to wait for
        assert process.poll() is None and is_alive(sleep)
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("tool", TOOLS)
def test_ctrl_z_stops_the_command_and_fg_continues_it(tool):
    shell = ["bash", "--norc", "--noprofile", "-i"]
    with Terminal(*shell, env=stage_env(PS1="$ ", HISTFILE="/dev/null")) as terminal:
        terminal.read_until("$ ")
        terminal.type(subprocess.list2cmdline([*TOOLS[tool], "sleep", "100"]).encode() + b"\r")
        sleep = started(terminal.process.pid, "sleep")
        terminal.type(CTRL_Z)
        assert "Stopped" in terminal.read_until("$ ")
        assert state_of(sleep) == "T"
        terminal.type(b"fg\r")
        wait_until(lambda: state_of(sleep) != "T", "sleep runs again")
        terminal.type(CTRL_C)
        if tool in PID_1:  # the PID-1 trap: the second Ctrl-C kills it
            time.sleep(0.3)
            terminal.type(CTRL_C)
        terminal.type(b"echo status=$?\r")
        expected = 137 if tool in PID_1 else 130
        assert terminal.read_until(f"status={expected}\r\n")
        terminal.type(b"exit\r")
        assert terminal.wait() == 0


# --- container.py -t: a terminal of the container's own ----------------------

CONTAINER_T = [sys.executable, str(ROOT / "container.py")]


@pytest.fixture(params=["root", "nobody"])
def container_t(request, world_readable_copy):
    """container.py's argv, as root, then as an ordinary user."""
    if request.param == "root":
        return CONTAINER_T
    return as_nobody(world_readable_copy, "container.py")


def test_container_shell_has_a_terminal_of_its_own(container_t):
    with Terminal(*container_t, rows=24, columns=80) as terminal:
        terminal.read_until("# ")
        terminal.type(b"tty\r")
        assert terminal.read_until("# ") == "tty\r\n/dev/pts/0\r\n# "
        terminal.type(b"stty size\r")
        assert terminal.read_until("# ") == "stty size\r\n24 80\r\n# "
        terminal.resize(30, 100)
        terminal.type(b"stty size\r")
        assert terminal.read_until("# ") == "stty size\r\n30 100\r\n# "
        terminal.type(b"exit 4\r")
        assert terminal.wait() == 4
        assert termios.tcgetattr(terminal.pts) == terminal.settings


def test_container_shell_has_job_control(container_t):
    with Terminal(*container_t) as terminal:
        terminal.read_until("# ")
        terminal.type(b"sleep 100\r")
        sleep = started(terminal.process.pid, "sleep")
        terminal.type(CTRL_Z)
        assert terminal.read_until("# ").endswith("Stopped                    sleep 100\r\n# ")
        assert state_of(sleep) == "T"
        terminal.type(b"jobs\r")
        assert terminal.read_until("# ") == (
            "jobs\r\n[1] + Stopped                    sleep 100\r\n# ")
        terminal.type(b"fg\r")
        wait_until(lambda: state_of(sleep) != "T", "sleep runs again")
        terminal.type(CTRL_C)
        terminal.read_until("# ")
        assert not is_alive(sleep)
        terminal.type(b"exit 4\r")
        assert terminal.wait() == 4


@pytest.mark.parametrize("whom, signum, status", [("the command", signal.SIGKILL, 137),
                                                  ("the tool", signal.SIGTERM, 143)])
def test_container_restores_the_terminal_when_killed(whom, signum, status):
    with Terminal(*CONTAINER_T, "sleep", "100") as terminal:
        sleep = started(terminal.process.pid, "sleep")
        assert termios.tcgetattr(terminal.pts) != terminal.settings  # raw now
        os.kill(sleep if whom == "the command" else terminal.process.pid, signum)
        assert terminal.wait() == status
        assert termios.tcgetattr(terminal.pts) == terminal.settings


def test_container_without_a_terminal_writes_straight_to_the_caller():
    result = subprocess.run([*CONTAINER_T, "tty"], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, env=stage_env(), timeout=TIMEOUT)
    assert (result.returncode, result.stdout) == (1, "not a tty\n")


def test_container_t_without_a_terminal_is_125():
    result = subprocess.run([*CONTAINER_T, "-t", "true"], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, env=stage_env(), timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (
        125, "container.py: -t: stdin is not a terminal (leave out -t, or use -T)\n")


def test_ctrl_c_in_the_container_leaves_the_prompt_on_a_line_of_its_own():
    # As a shell ends the line after a command that died of SIGINT: here
    # the container's init reports 130 instead, and the tool ends the line.
    with Terminal(*CONTAINER_T, "sleep", "100") as terminal:
        started(terminal.process.pid, "sleep")
        terminal.type(CTRL_C)
        assert terminal.wait() == 130
        assert terminal.output.endswith(b"^C\r\r\n")
