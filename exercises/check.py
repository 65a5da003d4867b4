"""check.py: check your work on an exercise of EXERCISES.md.

Usage:  sudo python3 exercises/check.py N [FILE]

Runs the file exercise N asks you to write (or FILE) in real namespaces,
and says in plain words what is right and what is still missing.  Exits 0
when everything is right, 1 when something is missing, 2 for a bad call.
"""
import os
import signal
import subprocess
import sys
import time

EXERCISES_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(EXERCISES_DIR)
TIMEOUT = 60  # seconds; only a guard against a command that hangs
PID_STAGE_NAMESPACES = ("net", "mnt", "uts", "ipc", "pid")


def run(stage, *command):
    """Run `python3 STAGE COMMAND...` with libns importable; the CompletedProcess."""
    return subprocess.run([sys.executable, stage, *command], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=TIMEOUT)


def host_namespace(kind):
    return os.readlink(f"/proc/self/ns/{kind}")


def namespaces_inside(stage):
    """{kind: namespace} of the command run by `stage`, or {} if it failed."""
    kinds = ("cgroup",) + PID_STAGE_NAMESPACES
    result = run(stage, "sh", "-c", f"for k in {' '.join(kinds)}; do readlink /proc/self/ns/$k;"
                 " done")
    return dict(zip(kinds, result.stdout.split())) if result.returncode == 0 else {}


def descendants(pid):
    """The command names of a process's children, grandchildren and so on."""
    names = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            for child in children.read().split():
                with open(f"/proc/{child}/comm") as comm:
                    names.append(comm.read().strip())
                names += descendants(child)
    except OSError:
        pass  # it has just ended
    return names


def check_net_lo(stage):
    """Exercise 2: bring lo up."""
    result = run(stage, "ip", "-o", "link", "show")
    yield result.returncode == 0, "the stage runs `ip -o link show` and exits with its status"
    names = [line.split(":")[1].strip() for line in result.stdout.splitlines()]
    yield names == ["lo"], "only lo is in the new network namespace"
    flags = result.stdout.split("<", 1)[-1].split(">")[0].split(",")
    yield "UP" in flags, f"lo is up (its flags are <{','.join(flags)}>; UP must be there)"


def check_pid_no_proc(stage):
    """Exercise 6: the pid stage without its fresh /proc."""
    result = run(stage, "sh", "-c", "echo $$")
    yield result.stdout == "1\n", "the command is PID 1 of a new PID namespace (echo $$ says 1)"
    result = run(stage, "ps", "-e", "-o", "pid=")
    yield len(result.stdout.split()) > 1, ("ps lists the host's processes: no fresh proc is"
                                           " mounted on /proc")


def check_pid_init(stage):
    """Exercise 7: an init as PID 1, out of the PID-1 trap."""
    result = run(stage, "ps", "-e", "-o", "pid=,comm=")
    processes = [line.split() for line in result.stdout.splitlines()]
    yield (len(processes) == 2 and processes[0][0] == "1" and processes[1] == ["2", "ps"],
           "the command runs as PID 2, under an init as PID 1")
    status = run(stage, "sh", "-c", "exit 3").returncode
    yield status == 3, "the command's exit status passes through"
    result = run(stage, "sh", "-c", "(sleep 0.1 &); sleep 0.6; ps -e -o stat=")
    zombies = [state for state in result.stdout.split() if state.startswith("Z")]
    yield result.returncode == 0 and not zombies, "orphans are reaped: no zombie is left"
    tool = subprocess.Popen([sys.executable, stage, "sleep", "1000"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=ROOT))
    deadline = time.monotonic() + TIMEOUT
    while "sleep" not in descendants(tool.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    tool.send_signal(signal.SIGTERM)
    try:
        status = tool.wait(timeout=10)  # in the PID-1 trap, it would wait forever
    except subprocess.TimeoutExpired:
        tool.kill()
        status = tool.wait()
    yield status == 128 + signal.SIGTERM, ("SIGTERM to the tool stops `sleep 1000` inside and"
                                           f" the tool exits 143 (it exited {status})")


def check_cgroup_stage(stage):
    """Exercise 9: one more namespace, cgroup."""
    inside = namespaces_inside(stage)
    yield bool(inside), "the stage runs a command and exits with its status"
    yield (inside.get("cgroup", host_namespace("cgroup")) != host_namespace("cgroup"),
           "the command's cgroup namespace is a new one")
    yield (all(inside.get(kind, host_namespace(kind)) != host_namespace(kind)
               for kind in PID_STAGE_NAMESPACES),
           "the pid stage's five namespaces are still new ones too")
    result = run(stage, "ps", "-e", "-o", "pid=")
    yield result.stdout.split() == ["1"], "ps inside shows a single process, PID 1"


EXERCISES = {
    2: ("net_lo.py", check_net_lo),
    6: ("pid_no_proc.py", check_pid_no_proc),
    7: ("pid_init.py", check_pid_init),
    9: ("cgroup_stage.py", check_cgroup_stage),
}


def main(arguments):
    if not arguments or not arguments[0].isdigit() or int(arguments[0]) not in EXERCISES:
        numbers = ", ".join(map(str, EXERCISES))
        print(f"usage: check.py N [FILE], where N is one of {numbers}", file=sys.stderr)
        return 2
    name, check = EXERCISES[int(arguments[0])]
    stage = arguments[1] if len(arguments) > 1 else os.path.join(EXERCISES_DIR, name)
    if not os.path.isfile(stage):
        print(f"check.py: {stage}: no such file; write it first (see EXERCISES.md)",
              file=sys.stderr)
        return 2
    print(f"{check.__doc__.rstrip('.')} ({stage})")
    missing = 0
    for right, what in check(os.path.abspath(stage)):
        print(f"  {'ok' if right else 'missing':8} {what}")
        missing += not right
    print("All done." if not missing else f"{missing} thing(s) still missing.")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
