"""check.py: check your work on an exercise of EXERCISES.md.

Usage:  python3 exercises/check.py N [FILE]     check exercise N
        python3 exercises/check.py all          where you are, every exercise
        python3 exercises/check.py reset N      its starting file back (yours: FILE~)

Runs the file exercise N asks you to write (or FILE) in real namespaces,
and says in plain words what is right and what is still missing, with what
your stage itself said when something went wrong, and a hint for the
mistakes it knows.  Exits 0 when everything is right, 1 when something is
missing, 2 for a bad call.

Your code cannot reach the host through it: every run happens in throwaway
mount, UTS, IPC and network namespaces of its own (unshare), so that a
stage that forgets a flag changes those, not the host's.  As an ordinary
user, they come with a user namespace in which you are root, as `unshare
--map-root-user` gives, so that every exercise but the cgroup one runs
rootless; and its / is shared, as on any systemd host, so that a mount that
would leak to such a host leaks here, where check.py sees it.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import libns  # the one beside this file, a link to the checkout's

EXERCISES_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(EXERCISES_DIR)
TIMEOUT = 20  # seconds: a stage that runs `true` ends in a fraction of one
KINDS = ("cgroup", "net", "mnt", "uts", "ipc", "pid", "user")
PID_STAGE_NAMESPACES = ("net", "mnt", "uts", "ipc", "pid")
THROWAWAY = ["unshare", "--mount", "--uts", "--ipc", "--net", "--propagation", "private"]
AS_ROOT_OF_ITS_OWN = ["--user", "--map-root-user"]  # rootless: root of a user namespace
# Before the stage starts, the shell that starts it shares its / with the
# mounts below it, as systemd does on a host (a new peer group: the
# throwaway namespace's own), and prints its namespaces: "new" means new
# to the stage, wherever the check itself runs.
SHOW_NAMESPACES = ("mount --make-rshared / &&"
                   f" for kind in {' '.join(KINDS)}; do readlink /proc/self/ns/$kind; done &&"
                   ' echo === && exec "$@"')


class Run:
    """One run of a stage: its status, output, what it said, the namespaces it started from."""

    def __init__(self, status, stdout, stderr, outside):
        self.status, self.stdout, self.stderr, self.outside = status, stdout, stderr, outside

    def complaint(self, stage):
        """One line on what went wrong, in words; None when nothing visibly did."""
        if self.status is None:
            return f"it did not end within {TIMEOUT} s (an endless loop?)"
        if self.status < 0:
            name = signal.Signals(-self.status).name
            return f"it was killed by {name} (signal {-self.status}), not ended by itself"
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        if not lines:
            return None
        # Python's own report of an error in your code (a traceback, or a
        # SyntaxError before anything ran): where in your file, and what.
        places = [line.strip() for line in lines
                  if line.strip().startswith("File ") and stage in line]
        if places and "Error" in lines[-1]:
            return f"{places[-1].split(', ')[1]} of your file: {lines[-1].strip()}"
        return lines[-1].strip()


def python_command(stage, *command):
    """The argv that runs `python3 STAGE COMMAND...` (or a built C program) where it cannot
    reach the host."""
    wrapper = THROWAWAY + ([] if os.geteuid() == 0 else AS_ROOT_OF_ITS_OWN)
    program = [sys.executable, stage] if stage.endswith(".py") else [stage]
    return [*wrapper, "sh", "-c", SHOW_NAMESPACES, "sh", *program, *command]


def environment():
    return dict(os.environ, PYTHONPATH=ROOT)


def start(stage, *command, **how):
    """Start `python3 STAGE COMMAND...` in a process group of its own; the Popen."""
    return subprocess.Popen(python_command(stage, *command), env=environment(),
                            start_new_session=True, **how)


def end(process):
    """Kill what is left of a run: whatever the student's code forked stays in its group."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass  # all gone already
    process.wait()


def run(stage, *command):
    """Run `python3 STAGE COMMAND...` to its end (or TIMEOUT); the Run."""
    process = start(stage, *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    errors="replace")
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return Run(None, "", "", {})
    finally:
        end(process)
    outside, _, stdout = stdout.partition("===\n")
    return Run(process.returncode, stdout, stderr, dict(zip(KINDS, outside.split())))


def namespaces_inside(stage):
    """(the Run, {kind: namespace} of the command the stage ran, or {} if it failed)."""
    result = run(stage, "sh", "-c", f"for k in {' '.join(KINDS)}; do readlink /proc/self/ns/$k;"
                 " done")
    inside = dict(zip(KINDS, result.stdout.split())) if result.status == 0 else {}
    return result, inside


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


def passes_the_status(stage):
    """True when the command's own status, 3, is the stage's."""
    return run(stage, "sh", "-c", "exit 3").status == 3


def uses_another_program(stage):
    """True when the file runs a program of its own (subprocess, os.system, ...)."""
    with open(stage, errors="replace") as source:
        text = source.read()
    return any(word in text for word in ("subprocess", "os.system", "os.popen", "os.exec",
                                         "os.spawn"))


def check_net_lo(stage):
    """Exercise 2: bring lo up."""
    result = run(stage, "ip", "-o", "link", "show")
    yield (result.status == 0 and passes_the_status(stage),
           "the stage runs `ip -o link show` and exits with its status", result)
    # `ip -o` prints one line a device, "1: lo: <...>"; anything else is not ip's.
    devices = [line for line in result.stdout.splitlines() if line.split(":")[0].isdigit()]
    names = [line.split(":")[1].strip() for line in devices]
    yield names == ["lo"], "only lo is in the new network namespace", result
    text = "".join(devices)
    flags = text.split("<", 1)[1].split(">")[0].split(",") if "<" in text else []
    yield ("UP" in flags, f"lo is up (its flags are <{','.join(flags)}>; UP must be there)"
           + ("" if "UP" in flags else "; hint: SIOCGIFFLAGS, add IFF_UP, SIOCSIFFLAGS, on a"
              " socket made in child_exec"), None)
    yield (not uses_another_program(stage),
           "no external program: two ioctl(2) calls, not `ip` run from Python", None)


def check_pid_no_proc(stage):
    """Exercise 6: the pid stage without its fresh /proc."""
    result = run(stage, "sh", "-c", "echo $$")
    hint = ("; hint: keep CLONE_NEWPID in the flags: only the line that mounts proc goes"
            if result.status == 0 and result.stdout != "1\n" else "")
    yield (result.stdout == "1\n",
           "the command is PID 1 of a new PID namespace (echo $$ says 1)" + hint, result)
    result = run(stage, "ps", "-e", "-o", "pid=")
    many = len(result.stdout.split()) > 1
    yield (many, "ps lists the host's processes: no fresh proc is mounted on /proc"
           + ("" if many or result.status else "; hint: remove the line that mounts proc"),
           result)


def check_pid_init(stage):
    """Exercise 7: an init as PID 1, out of the PID-1 trap."""
    result = run(stage, "ps", "-e", "-o", "pid=,comm=")
    processes = [line.split() for line in result.stdout.splitlines()]
    as_pid_2 = len(processes) == 2 and processes[0][:1] == ["1"] and processes[1] == ["2", "ps"]
    hint = ""
    if processes == [["1", "ps"]]:
        hint = ("; hint: ps is still PID 1: instead of execvp, run it with"
                " libns.run(0, None, argv, as_init=True)")
    yield as_pid_2, "the command runs as PID 2, under an init as PID 1" + hint, result
    status = run(stage, "sh", "-c", "exit 3").status
    yield (status == 3, "the command's exit status passes through"
           + ("" if status == 3 else f" (3 came back as {status})"), None)
    result = run(stage, "sh", "-c", "(sleep 0.1 &); sleep 0.6; ps -e -o stat=")
    zombies = [state for state in result.stdout.split() if state.startswith("Z")]
    yield result.status == 0 and not zombies, "orphans are reaped: no zombie is left", result
    yield sigterm_check(stage)


def sigterm_check(stage):
    """SIGTERM to the tool ends `sleep 1000` inside: (right, what, None)."""
    tool = start(stage, "sleep", "1000", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    # Until sleep runs, or the tool has ended: then there is nothing to wait for.
    while ("sleep" not in descendants(tool.pid) and tool.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.01)
    if tool.poll() is None:
        tool.send_signal(signal.SIGTERM)
    try:
        status = tool.wait(timeout=10)  # in the PID-1 trap, it would wait forever
    except subprocess.TimeoutExpired:
        tool.kill()
        status = tool.wait()
    finally:
        end(tool)
    if status == -signal.SIGKILL:
        said = "it did not end, and was killed with SIGKILL after 10 s: the PID-1 trap"
    elif status < 0:
        said = f"it was killed by {signal.Signals(-status).name}"
    else:
        said = f"it exited {status}"
    return (status == 128 + signal.SIGTERM,
            f"SIGTERM to the tool stops `sleep 1000` inside and the tool exits 143 ({said})", None)


def check_cgroup_stage(stage):
    """Exercise 9: one more namespace, cgroup."""
    result, inside = namespaces_inside(stage)
    hint = ("; hint: keep the pid stage's flags and add CLONE_NEWCGROUP to them with |"
            if "this stage has no CLONE_" in result.stderr else "")
    yield (bool(inside) and passes_the_status(stage),
           "the stage runs a command and exits with its status" + hint, result)
    outside = result.outside
    new_cgroup = bool(inside) and inside["cgroup"] != outside.get("cgroup")
    hint = ("; hint: the user namespace is new instead: the flag is CLONE_NEWCGROUP, not"
            " CLONE_NEWUSER" if inside and not new_cgroup and inside["user"] != outside.get("user")
            else "")
    yield new_cgroup, "the command's cgroup namespace is a new one" + hint, None
    kept = bool(inside) and all(inside[kind] != outside.get(kind) for kind in PID_STAGE_NAMESPACES)
    hint = "" if kept or not inside else (
        "; hint: add CLONE_NEWCGROUP to the flags with |; do not replace them")
    yield kept, "the pid stage's five namespaces are still new ones too" + hint, None
    result = run(stage, "ps", "-e", "-o", "pid=")
    yield result.stdout.split() == ["1"], "ps inside shows a single process, PID 1", result


def check_c_cgroup(program):
    """Exercise 11: a namespace added to a C program."""
    folder = tempfile.mkdtemp(prefix="check-")
    try:
        binary = os.path.join(folder, "out")
        try:
            built = subprocess.run(["gcc", "-Wall", "-Wextra", "-o", binary, program],
                                   capture_output=True, text=True, errors="replace",
                                   timeout=TIMEOUT)
        except FileNotFoundError:
            yield (False, "it compiles with gcc, which is not installed here: sudo apt install"
                   " gcc libc6-dev (python3 preflight.py says what else is missing)", None)
            return
        # gcc's first error or warning, with its hint ("did you mean ..."),
        # and the file named as the student named it.
        said = [line.replace(program, os.path.basename(program))
                for line in built.stderr.splitlines() if " error: " in line or " warning: " in line]
        yield (built.returncode == 0 and not said,
               "it compiles with gcc -Wall -Wextra, without a warning"
               + (f" (gcc: {said[0]})" if said else ""), None)
        if built.returncode != 0:
            return
        result, inside = namespaces_inside(binary)
        yield bool(inside), "it runs a command and exits with its status", result
        yield (bool(inside) and inside["cgroup"] != result.outside.get("cgroup"),
               "the command's cgroup namespace is a new one", None)
        yield (bool(inside) and all(inside[kind] != result.outside.get(kind)
                                    for kind in PID_STAGE_NAMESPACES),
               "the pid stage's five namespaces are still new ones too", None)
    finally:
        shutil.rmtree(folder)


FORK_UNTIL_REFUSED = """
import errno, os, signal
children, said = [], "no refusal"
while len(children) < 40:  # far past 20, and never a fork bomb of the machine
    try:
        pid = os.fork()
    except OSError as error:
        said = errno.errorcode[error.errno]
        break
    if pid == 0:
        signal.pause()
    children.append(pid)
print(len(children), said)
for pid in children:
    os.kill(pid, signal.SIGKILL)
"""


def own_pids_cgroup():
    """The directory of our own cgroup in the pids controller's tree (v1), or v2's one tree."""
    with open("/proc/self/cgroup") as own:
        lines = [line.rstrip("\n").split(":", 2) for line in own]
    v1 = [path for _, controllers, path in lines if "pids" in controllers.split(",")]
    if v1:
        return "/sys/fs/cgroup/pids" + v1[0].rstrip("/")
    return "/sys/fs/cgroup" + [path for _, kinds, path in lines if kinds == ""][0].rstrip("/")


def pids_max(directory):
    """A cgroup's pids.max; None for the root, which has none."""
    try:
        with open(f"{directory}/pids.max") as limit:
            return limit.read()
    except FileNotFoundError:
        return None


def cgroups_below(directory):
    return {name for name in os.listdir(directory) if os.path.isdir(f"{directory}/{name}")}


def check_pids_limit(stage):
    """Exercise 13: a cgroup by hand, pids.max 20."""
    if os.geteuid() != 0:
        yield False, "run it as root: sudo python3 exercises/check.py 13 (a cgroup is root's)", None
        return
    parent = own_pids_cgroup()
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        # Inside docker run, say: the cgroup file system is read-only, or
        # shows another root than /proc/self/cgroup names.
        yield False, f"a cgroup can be made below yours ({parent} is not there to write)", None
        return
    before = cgroups_below(parent)
    own_limit = pids_max(parent)
    result = run(stage, "cat", "/proc/self/cgroup")
    yield result.status == 0, "the stage runs a command and exits with its status", result
    inside = [line.split(":", 2)[2] for line in result.stdout.splitlines()
              if "pids" in line.split(":")[1].split(",") or line.startswith("0::")]
    ours = parent[len("/sys/fs/cgroup/pids" if "/pids" in parent else "/sys/fs/cgroup"):] or "/"
    below = bool(inside) and inside[0] != ours and inside[0].startswith(ours.rstrip("/") + "/")
    yield below, ("the command is in a cgroup of its own, below the tool's"
                  + ("" if below or not inside else f" (it is in {inside[0]}, the tool's own"
                     " one; hint: write the child's pid to cgroup.procs in prepare=)")), None
    result = run(stage, sys.executable, "-c", FORK_UNTIL_REFUSED)
    forked, _, then = result.stdout.strip().partition(" ")
    yield (result.stdout == "19 EAGAIN\n",
           "the command and 19 children fit in pids.max 20, and the next fork fails with EAGAIN"
           + ("" if result.stdout == "19 EAGAIN\n" or not forked else
              f" (it forked {forked}, then: {then})"), result)
    changed = pids_max(parent)
    if changed != own_limit:  # the tool's own cgroup, the caller's: put its limit back
        with open(f"{parent}/pids.max", "w") as limit:
            limit.write(own_limit)
    yield (changed == own_limit, "the tool's own cgroup keeps its limit"
           + ("" if changed == own_limit else f" (its pids.max was made {changed.strip()}, and"
              f" is {own_limit.strip()} again; hint: write to the new cgroup's pids.max)"), None)
    left = cgroups_below(parent) - before
    yield not left, ("the cgroup is gone when the stage ends"
                     + (f" ({', '.join(sorted(left))} is left; hint: libns.at_exit)"
                        if left else "")), None
    for name in left:  # the machine is not the place to keep a mistake
        try:
            os.rmdir(f"{parent}/{name}")
        except OSError:
            pass


EXERCISES = {
    2: ("net_lo.py", check_net_lo),
    6: ("pid_no_proc.py", check_pid_no_proc),
    7: ("pid_init.py", check_pid_init),
    9: ("cgroup_stage.py", check_cgroup_stage),
    11: ("cgroup.c", check_c_cgroup),
    13: ("pids_limit.py", check_pids_limit),
}


LAST_EXERCISE = 13
NUMBERS = ", ".join(map(str, EXERCISES))
USAGE = f"usage: check.py N [FILE] | all | reset N, where N is one of {NUMBERS}"


def verdicts(number, stage):
    """(right, what, what the stage said or None) for each thing exercise N checks."""
    told = set()
    for right, what, result in EXERCISES[number][1](os.path.abspath(stage)):
        said = result.complaint(os.path.abspath(stage)) if result and not right else None
        yield right, what, None if said in told else said
        told.add(said)  # each complaint once


def check_one(number, stage):
    """check.py N: every check, in words."""
    print(f"{EXERCISES[number][1].__doc__.rstrip('.')} ({stage})")
    missing = 0
    for right, what, said in verdicts(number, stage):
        print(f"  {'ok' if right else 'missing':8} {what}")
        missing += not right
        if said:
            print(f"           your stage said: {said}")
    print("All done." if not missing else f"{missing} thing(s) still missing.")
    return 1 if missing else 0


def check_all():
    """check.py all: one line an exercise, for a student's progress or a teacher's look."""
    done = 0
    for number, (name, check) in EXERCISES.items():
        stage = os.path.join(EXERCISES_DIR, name)
        if number == 13 and os.geteuid() != 0:
            print(f"{number:>2}  {name:16} needs root: sudo python3 exercises/check.py 13")
            continue
        missing = sum(not right for right, _, _ in verdicts(number, stage))
        done += not missing
        print(f"{number:>2}  {name:16} " + ("done" if not missing else
              f"{missing} thing(s) missing: python3 exercises/check.py {number}"))
    others = ", ".join(str(n) for n in range(1, LAST_EXERCISE + 1) if n not in EXERCISES)
    print(f"{done} of {len(EXERCISES)} done; {others} are commands to run and read.")
    return 0 if done == len(EXERCISES) else 1


def git_show(revision, relative):
    """The bytes of `relative` at `revision` of the checkout, as a CompletedProcess."""
    try:
        return subprocess.run(["git", "-C", ROOT, "show", f"{revision}:{relative}"],
                              capture_output=True, timeout=TIMEOUT)
    except OSError as error:
        return subprocess.CompletedProcess([], 1, b"", f"git: {error.strerror}".encode())


def reset(number):
    """check.py reset N: the starting file back, as the class's checkout has it.

    From origin/HEAD, the teacher's, where there is one (a student may have
    committed their own work); else from HEAD.  The student's file is kept,
    as FILE~, or FILE~2, ~3... when an older copy is there: never lost.
    """
    relative = f"exercises/{EXERCISES[number][0]}"
    start = git_show("origin/HEAD", relative)
    if start.returncode != 0:
        start = git_show("HEAD", relative)
    if start.returncode != 0:
        why = (start.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        print(f"check.py: reset needs the git checkout the file came from ({why})",
              file=sys.stderr)
        return 2
    path = os.path.join(ROOT, relative)
    kept = ""
    try:
        with open(path, "rb") as file:
            mine = file.read()
    except FileNotFoundError:
        mine = start.stdout
    if mine != start.stdout:
        kept = "~"
        for copy in range(2, 10 ** 6):
            if not os.path.lexists(path + kept):
                break
            kept = f"~{copy}"
        with open(path + kept, "xb") as file:
            file.write(mine)
    with open(path, "wb") as file:
        file.write(start.stdout)
    print(f"{relative}: the starting file again" + (f"; yours is {relative}{kept}" if kept
                                                    else ""))
    return 0


def main(arguments):
    if arguments == ["all"]:
        return check_all()
    if len(arguments) == 2 and arguments[0] == "reset" and arguments[1].isdigit() \
            and int(arguments[1]) in EXERCISES:
        return reset(int(arguments[1]))
    if arguments and arguments[0].isdigit() and 1 <= int(arguments[0]) <= LAST_EXERCISE \
            and int(arguments[0]) not in EXERCISES:
        print(f"check.py: exercise {arguments[0]} has no code to check: run and read what"
              f" EXERCISES.md shows for it (check.py checks {NUMBERS})", file=sys.stderr)
        return 2
    if not arguments or not arguments[0].isdigit() or int(arguments[0]) not in EXERCISES \
            or len(arguments) > 2:
        print(USAGE, file=sys.stderr)
        return 2
    number = int(arguments[0])
    stage = arguments[1] if len(arguments) > 1 else os.path.join(EXERCISES_DIR,
                                                                 EXERCISES[number][0])
    if not os.path.isfile(stage):
        print(f"check.py: {stage}: no such file; write it first (see EXERCISES.md)",
              file=sys.stderr)
        return 2
    try:
        open(stage, "rb").close()
    except OSError as error:
        print(f"check.py: {stage}: {error.strerror}", file=sys.stderr)
        return 2
    return check_one(number, stage)


if __name__ == "__main__":
    libns.run_script(main)
