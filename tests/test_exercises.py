"""The exercises' self-checks: they pass the reference solutions (EXERCISES.md
shows their exact output, and test_docs.py runs it) and fail the starting
files, so that a check can never pass without the student's work."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, as_nobody, cgroups_refusal, stage_env

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


@pytest.fixture(params=["root", "nobody"])
def check_as(request):
    """check.py as root, and as an ordinary user (nobody), as a class runs it.

    Called with paths relative to the checkout; as nobody, the exercises and
    the wrong attempts are copied where nobody may read them.  Its `who`
    says which.
    """
    if request.param == "root":
        def run(*arguments):
            return check(*(str(ROOT / a) if "/" in a else a for a in arguments))
    else:
        folder = request.getfixturevalue("world_readable_copy")
        for part in ("exercises", "tests/wrong_attempts"):  # libns.py: a link beside them
            if not (folder / part).is_dir():  # the folder is the session's
                shutil.copytree(ROOT / part, folder / part, symlinks=True,
                                ignore=shutil.ignore_patterns("__pycache__"))

        def run(*arguments):
            argv = as_nobody(folder, "exercises/check.py",
                             *(str(folder / a) if "/" in a else a for a in arguments))
            return subprocess.run(argv, capture_output=True, text=True, env=stage_env(),
                                  timeout=CHECK_TIMEOUT)
    run.who = request.param
    return run


@pytest.mark.parametrize("number", STARTERS)
def test_solution_passes_every_check(number, check_as):
    # Every exercise but 13 (a cgroup of the machine's is root's) passes
    # rootless too, as EXERCISES.md says.
    if number == 13 and check_as.who == "nobody":
        result = check_as("13", "exercises/solutions/pids_limit.py")
        assert (result.returncode, result.stderr) == (1, "")
        assert "  missing  run it as root: sudo python3 exercises/check.py 13" in result.stdout
        return
    skip_without_cgroups(number)
    result = check_as(str(number), f"exercises/solutions/{STARTERS[number]}")
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


USAGE = "usage: check.py N [FILE] | all | reset N, where N is one of 2, 6, 7, 9, 11, 13\n"


@pytest.mark.parametrize("arguments, message", [
    ([], USAGE),
    (["14"], USAGE),
    (["2", "a", "b"], USAGE),
    (["reset", "3"], USAGE),
    (["3"], "check.py: exercise 3 has no code to check: run and read what EXERCISES.md shows for"
            " it (check.py checks 2, 6, 7, 9, 11, 13)\n"),
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
     "net_lo_exception.py: NameError: name 'SIOCGIFFLAGS' is not defined (line 20 of"
     " net_lo_exception.py: flags = SIOCGIFFLAGS  # never defined)"),
    (2, "net_lo_sys_exit.py",
     "  missing  the stage runs `ip -o link show` and exits with its status",
     "net_lo_sys_exit.py: child_exec() called sys.exit(0) (line 32 of net_lo_sys_exit.py:"
     " sys.exit(0)): end it with libns.execvp(argv), or os._exit(STATUS) to end it without a"
     " command"),
    (2, "net_lo_socket_in_parent.py",
     "  missing  lo is up (its flags are <LOOPBACK>; UP must be there); hint: SIOCGIFFLAGS, add"
     " IFF_UP, SIOCSIFFLAGS, on a socket made in child_exec", None),
    (7, "pid_init_mounts_proc_before_clone.py",  # once "All done.", with the host's /proc hidden
     "  missing  the command runs as PID 2, under an init as PID 1",
     "pid_init_mounts_proc_before_clone.py: mount proc on /proc would change the host's mounts:"
     " it runs in the parent, in the host's namespaces; call it in child_exec, after clone()"),
    (9, "cgroup_stage_not_private.py",  # once "All done.": nothing was shared to leak to
     "  missing  the stage runs a command and exits with its status",
     "cgroup_stage_not_private.py: mount tmpfs on /tmp would show on the host too: / is shared"
     " with the host's mounts; make every mount private first,"
     ' mount(None, "/", None, MS_REC | MS_PRIVATE)'),
    (9, "cgroup_stage_new_user.py",
     "  missing  the command's cgroup namespace is a new one; hint: the user namespace is new"
     " instead: the flag is CLONE_NEWCGROUP, not CLONE_NEWUSER", None),
    (6, "pid_no_proc_without_new_pid.py",
     "  missing  the command is PID 1 of a new PID namespace (echo $$ says 1); hint: keep"
     " CLONE_NEWPID in the flags: only the line that mounts proc goes", None),
    (11, "cgroup_typo.c",
     "  missing  it compiles with gcc -Wall -Wextra, without a warning (gcc: cgroup_typo.c:64:23:"
     " error: \u2018CLONE_NEWCGROPU\u2019 undeclared (first use in this function); did you mean"
     " \u2018CLONE_NEWCGROUP\u2019?)", None),
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
                                                                      said, check_as):
    # Whatever the student's code does, check.py answers in words: no
    # traceback, the stage's own last word, a hint where it knows one; as
    # root and rootless alike.
    result = check_as(str(number), f"tests/wrong_attempts/{attempt}")
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


def test_check_all_says_where_a_student_is(tmp_path):
    # A class's checkout: one exercise done, the others as they started.
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "libns.py", tmp_path)
    shutil.copy(ROOT / "exercises" / "solutions" / "net_lo.py", tmp_path / "exercises")
    result = subprocess.run([sys.executable, str(tmp_path / "exercises" / "check.py"), "all"],
                            capture_output=True, text=True, env=stage_env(),
                            timeout=6 * CHECK_TIMEOUT)
    lines = result.stdout.splitlines()
    assert (result.returncode, result.stderr) == (1, "")
    assert lines[0] == " 2  net_lo.py        done"
    assert lines[1].startswith(" 6  pid_no_proc.py   ")
    assert lines[1].endswith(" missing: python3 exercises/check.py 6")
    assert [line.split()[0] for line in lines[:-1]] == ["2", "6", "7", "9", "11", "13"]
    assert lines[-1] == "1 of 6 done; 1, 3, 4, 5, 8, 10, 12 are commands to run and read."


def test_reset_gives_the_starting_file_back_and_keeps_the_student_s(tmp_path):
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        pytest.skip("needs a git checkout to clone (a Docker image has none)")
    subprocess.run(["git", "clone", "-q", str(ROOT), str(tmp_path / "class")], check=True,
                   timeout=60)
    exercise = tmp_path / "class" / "exercises" / "net_lo.py"
    start = exercise.read_text()
    exercise.write_text("# my own work\n")
    result = subprocess.run([sys.executable, str(tmp_path / "class" / "exercises" / "check.py"),
                             "reset", "2"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == ("exercises/net_lo.py: the starting file again; yours is"
                             " exercises/net_lo.py~\n")
    assert exercise.read_text() == start
    assert (exercise.parent / "net_lo.py~").read_text() == "# my own work\n"


def test_reset_twice_keeps_each_of_the_student_s_files(tmp_path):
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        pytest.skip("needs a git checkout to clone (a Docker image has none)")
    subprocess.run(["git", "clone", "-q", str(ROOT), str(tmp_path / "class")], check=True,
                   timeout=60)
    exercise = tmp_path / "class" / "exercises" / "net_lo.py"
    check_py = [sys.executable, str(tmp_path / "class" / "exercises" / "check.py"), "reset", "2"]
    said = []
    for work in ("# first try\n", "# second try\n"):
        exercise.write_text(work)
        said.append(subprocess.run(check_py, capture_output=True, text=True, timeout=60).stdout)
    again = subprocess.run(check_py, capture_output=True, text=True, timeout=60).stdout
    assert said == ["exercises/net_lo.py: the starting file again; yours is exercises/net_lo.py~\n",
                    "exercises/net_lo.py: the starting file again; yours is"
                    " exercises/net_lo.py~2\n"]
    assert again == "exercises/net_lo.py: the starting file again\n"  # nothing of yours to keep
    assert (exercise.parent / "net_lo.py~").read_text() == "# first try\n"
    assert (exercise.parent / "net_lo.py~2").read_text() == "# second try\n"


def test_check_py_with_its_output_closed_says_nothing_and_does_its_work():
    result = subprocess.run(f"exec >&- 2>&-; {sys.executable} {ROOT}/exercises/check.py 2"
                            f" {ROOT}/exercises/solutions/net_lo.py", shell=True,
                            capture_output=True, text=True, env=stage_env(), timeout=CHECK_TIMEOUT)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_reset_outside_a_git_checkout_is_one_line_and_2(tmp_path):
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises", symlinks=True)
    shutil.copy(ROOT / "libns.py", tmp_path)
    result = subprocess.run([sys.executable, str(tmp_path / "exercises" / "check.py"),
                             "reset", "2"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("check.py: reset needs the git checkout the file came from (")
    assert result.stderr.count("\n") == 1


def test_an_exercise_runs_without_pythonpath():
    # As its docstring says to run it: libns.py is beside it (a link).
    result = subprocess.run([sys.executable, "exercises/solutions/net_lo.py", "true"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in stage_env().items() if k != "PYTHONPATH"})
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("folder", ["exercises", "exercises/solutions", "tests/wrong_attempts"])
def test_the_libns_beside_the_exercises_is_a_link_to_the_one(folder):
    # A copy would fall behind: `sed -i` once made one of each link.
    link = ROOT / folder / "libns.py"
    assert link.is_symlink() and link.resolve() == (ROOT / "libns.py").resolve()


def test_a_limit_written_on_the_tool_s_own_cgroup_is_put_back():
    # The caller's cgroup is a session's, the teacher's: a limit of 20 left
    # there would stop their shell.  The check runs in a cgroup made for it.
    skip_without_cgroups(13)
    sys.path.insert(0, str(ROOT / "exercises"))
    import check as checker
    caller = Path(checker.own_pids_cgroup()) / f"test-{os.getpid()}"
    caller.mkdir()
    try:
        script = f'echo $$ > {caller}/cgroup.procs && exec "$@"'
        result = subprocess.run(["sh", "-c", script, "sh", sys.executable,
                                 str(ROOT / "exercises" / "check.py"), "13",
                                 str(ROOT / "tests" / "wrong_attempts" /
                                     "pids_limit_on_its_own_cgroup.py")],
                                capture_output=True, text=True, env=stage_env(),
                                timeout=CHECK_TIMEOUT)
        assert (result.returncode, result.stderr) == (1, "")
        assert ("  missing  the tool's own cgroup keeps its limit (its pids.max was made 20, and is"
                " max again; hint: write to the new cgroup's pids.max)") in result.stdout
        assert (caller / "pids.max").read_text() == "max\n"
    finally:
        for _ in range(100):  # a cgroup is busy a moment after its last process left
            try:
                caller.rmdir()
                break
            except OSError:
                time.sleep(0.05)


def sleeping(seconds):
    """The pids of `sleep SECONDS` on this machine."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if cmdline.read() == f"sleep\0{seconds}\0".encode():
                    found.append(pid)
        except OSError:
            pass  # ended meanwhile
    return found


def test_what_a_run_forked_ends_with_it(check_as):
    # Exercise 2 has no PID namespace: a loop that forked first left its
    # children running after check.py's verdict, a fork bomb too.
    result = check_as("2", "tests/wrong_attempts/net_lo_forks_and_loops.py")
    assert (result.returncode, result.stderr) == (1, "")
    assert "           your stage said: it did not end within 20 s (an endless loop?)" in (
        result.stdout.splitlines())
    assert sleeping("12345.678") == []
