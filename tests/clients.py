"""What Docker and Podman each do with our runtime: one scenario, two real clients.

Each function takes `client`, a client's command run to the end (`docker`
or `podman` with the test's engine or storage), with `client.command(ARGS)`
its argv, `client.env` its environment, and `client.run_options`, what
`run` needs to start a container with oci.py and no network; and the name
of an image of a few host programs (tiny_image).  The two clients differ
where the test files say so, beside these calls.
"""
import re
import shlex
import subprocess
import time

from helpers import ROOT, make_tiny_rootfs, read, wait_until
from terminal import Terminal

PROGRAMS = ("sh", "cat", "ls", "sleep", "tty", "stty", "true")


def tiny_image(client, folder):
    """local/tiny: the host's sh, cat, ls, sleep, tty, stty and true, made by `import`."""
    root = make_tiny_rootfs(folder / "rootfs", PROGRAMS)
    subprocess.run(["tar", "-cf", folder / "rootfs.tar", "-C", root, "."], check=True)
    made = client("import", str(folder / "rootfs.tar"), "local/tiny")
    assert made.returncode == 0, made.stderr
    return "local/tiny"


def run(client, *arguments):
    """`CLIENT run` with our runtime and no network, to the end."""
    return client("run", *client.run_options, *arguments)


def documented_lines_run(client, kind, prefix):
    """CONTAINER.md's ```sh KIND blocks, each line through `client`: its status, or 0.

    Each line starts with `prefix`, then the client's arguments; a comment
    "# exits N" gives the status it must end with.
    """
    blocks = re.findall(rf"^```sh {kind}\n(.*?)^```$", read(ROOT / "CONTAINER.md"),
                        re.M | re.S)
    lines = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert lines
    for line in lines:
        command, _, comment = line.partition("#")
        status = re.search(r"exits (\d+)", comment)
        assert command.startswith(prefix), line
        result = client(*shlex.split(command[len(prefix):]))
        assert result.returncode == int(status.group(1) if status else 0), result.stderr


def statuses_are_the_command_s(client, tiny):
    """true is 0, `exit 3` is 3, a missing command 127, in runc's words, which clients read."""
    started = run(client, "--rm", tiny, "true")
    assert started.returncode == 0, started.stderr
    assert run(client, "--rm", tiny, "sh", "-c", "exit 3").returncode == 3
    missing = run(client, "--rm", tiny, "no-such-command")
    assert missing.returncode == 127, missing.stderr
    assert 'exec: "no-such-command": executable file not found in $PATH' in missing.stderr


def run_it_gives_a_terminal(client, tiny):
    """`run -it` through a real pty: the container's own terminal, the window's size, exit 4."""
    terminal = Terminal(*client.command("run", *client.run_options, "--rm", "-it", tiny, "sh"),
                        rows=31, columns=97, env=client.env)
    terminal.read_until("# ")
    terminal.type(b"tty\r")
    terminal.read_until("/dev/pts/0\r\n")
    # The client gives the window's size once the container has started (a
    # resize on the terminal's master end), as with runc.
    wait_until(lambda: terminal.type(b"stty size\r") or "31 97" in terminal.read_until("# "),
               "the container's terminal has the window's size")
    terminal.type(b"exit 4\r")
    assert terminal.wait() == 4


def detached_then_exec_and_kill(client, tiny, while_running=lambda name: None):
    """`run -d`, `exec` (its status, PID 1's args, -it), `kill -s TERM` reaching a trap.

    `while_running(name)` is the client's own check of the running container.
    """
    started = run(client, "--detach", "--name", "trapper", tiny, "sh", "-c",
                  "trap 'echo trapped; exit 5' TERM; echo ready; while :; do sleep 0.1; done")
    assert started.returncode == 0, started.stderr
    wait_until(lambda: client("logs", "trapper").stdout == "ready\n", "the container's start")
    assert client("exec", "trapper", "sh", "-c", "exit 6").returncode == 6
    assert client("exec", "trapper", "cat", "/proc/1/cmdline").stdout.startswith("sh\0-c\0")
    terminal = Terminal(*client.command("exec", "-it", "trapper", "tty"), env=client.env)
    terminal.read_until("/dev/pts/")
    assert terminal.wait() == 0
    while_running("trapper")
    assert client("kill", "--signal", "TERM", "trapper").returncode == 0
    assert client("wait", "trapper").stdout == "5\n"
    assert client("logs", "trapper").stdout == "ready\ntrapped\n"
    assert client("rm", "trapper").returncode == 0


def stop_kills_a_pid_1_that_ignores_term(client, tiny):
    """`stop --time 1` of sleep as PID 1, which no TERM ends: KILL after the second, 137."""
    assert run(client, "--detach", "--name", "ignorer", tiny, "sleep", "1000").returncode == 0
    assert client("stop", "--time", "1", "ignorer").returncode == 0
    assert client("wait", "ignorer").stdout == "137\n"


def limits_are_read_back_and_enforced(client, tiny):
    """--memory 64m --pids-limit 50: the cgroup's files inside say so, and the 50th fork fails."""
    result = run(client, "--rm", "--memory", "64m", "--pids-limit", "50", tiny, "sh", "-c",
                 "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max;"
                 " i=0; while [ $i -lt 60 ]; do sleep 100 & i=$((i+1)); done")
    assert result.stdout.splitlines() == [str(64 << 20), "50"], result.stderr
    assert "Cannot fork" in result.stderr  # the 50th process, sh's own counted


def pause_freezes_and_unpause_thaws(client, tiny, while_paused=lambda name: None):
    """A loop that writes a counter: paused, the file stays as it is; unpaused, it goes on.

    The file is read from the host, through /proc/PID/root.  `while_paused(name)`
    is the client's own check of the paused container.
    """
    assert run(client, "--detach", "--name", "counter", tiny, "sh", "-c",
               "i=0; while :; do i=$((i+1)); echo $i > /tmp/now; done").returncode == 0
    wait_until(lambda: client("exec", "counter", "cat", "/tmp/now").returncode == 0,
               "the loop's first write")
    paused = client("pause", "counter")
    assert paused.returncode == 0, paused.stderr
    assert client("inspect", "--format", "{{.State.Status}}", "counter").stdout == "paused\n"
    while_paused("counter")
    pid = client("inspect", "--format", "{{.State.Pid}}", "counter").stdout.strip()
    now = f"/proc/{pid}/root/tmp/now"
    frozen = read(now)
    time.sleep(0.3)
    assert read(now) == frozen
    assert client("unpause", "counter").returncode == 0
    wait_until(lambda: read(now) not in ("", frozen), "the loop to go on")
