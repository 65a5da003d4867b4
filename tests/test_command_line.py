"""The command line every stage shares: -h, --, no command, verbatim arguments."""
import subprocess
import sys

import pytest

from helpers import ROOT, STAGES, read, run_python, run_stage, stage_env

pytestmark = pytest.mark.usefixtures("namespaces_work")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("option", ["-h", "--help"])
def test_help_prints_usage_and_what_the_stage_isolates(stage, option):
    result = run_stage(stage, option)
    module = stage[:-len(".py")]
    docstring = run_python(f"import {module}; print({module}.__doc__.strip())").stdout
    assert result.returncode == 0
    usage, rest = result.stdout.split("\n\n", 1)
    doc, options = rest.split("\n\noptions:\n")
    assert usage == f"usage: {stage} [-h] [-v] [--] [COMMAND [ARG...]]"
    assert doc + "\n" == docstring
    assert [line.split()[0] for line in options.splitlines()] == ["-h,", "-v,", "--", "Without"]
    assert result.stderr == ""


@pytest.mark.parametrize("stage", STAGES)
def test_unknown_option_is_refused_with_125(stage):
    result = run_stage(stage, "-x", "true")
    assert result.returncode == 125
    assert result.stderr == (f"{stage}: unknown option '-x' (put -- before a command that starts"
                             f" with '-')\nusage: {stage} [-h] [-v] [--] [COMMAND [ARG...]]\n")


@pytest.mark.parametrize("stage", STAGES)
def test_double_dash_lets_a_command_start_with_a_dash(stage):
    result = run_stage(stage, "--", "-x")
    assert result.returncode == 127
    assert result.stderr == f"{stage}: execvp -x: No such file or directory\n"
    result = run_stage(stage, "--", "echo", "-h", "--")
    assert (result.returncode, result.stdout) == (0, "-h --\n")


@pytest.mark.parametrize("stage", STAGES)
def test_options_after_the_command_belong_to_the_command(stage):
    result = run_stage(stage, "echo", "-h")
    assert (result.returncode, result.stdout) == (0, "-h\n")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("shell", [None, "/bin/sh", ""])
def test_no_command_starts_the_shell(stage, shell):
    env = stage_env()
    env.pop("SHELL", None)
    if shell is not None:
        env["SHELL"] = shell
    result = run_stage(stage, input="echo shell $$ $(hostname); exit 5\n", env=env)
    pid, hostname = result.stdout.split()[1:]
    assert result.returncode == 5
    assert (pid == "1") == ("pid" in STAGES[stage])
    assert (hostname == "custom_hostname") == ("uts" in STAGES[stage])


@pytest.mark.parametrize("stage", STAGES)
def test_arguments_reach_the_command_verbatim(stage):
    arguments = [b"two words", b"", "ünïcode".encode(), b"\xff\xfe not utf-8", b"--", b"-h",
                 b"*", b"$HOME", b"line\nbreak", b"x" * 130000]
    show_argv = ("import os, sys;"
                 " sys.stdout.buffer.write(b'\\0'.join(map(os.fsencode, sys.argv[1:])))")
    result = run_stage(stage, sys.executable, "-c", show_argv, *arguments, text=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(b"\0") == arguments


def test_nul_byte_in_an_argument_is_refused_before_anything_starts():
    # No command line can hold a NUL, but a program calling libns can.
    result = run_python("import sys, libns; sys.argv = ['stage.py', 'echo', 'a\\0b'];"
                        " argv = libns.command_line('doc');"
                        " libns.clone(lambda argv: print('child ran'), libns.map_stack(),"
                        " libns.CLONE_NEWUTS, argv)")
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == ("stage.py: argument 1 of the command contains a NUL byte,"
                             " which no C string can hold\n")


def test_every_python_file_compiles_without_a_warning():
    # A warning at compile time is printed on every run of the tool, by
    # newer interpreters first ("invalid escape sequence" in a docstring).
    # Not the wrong attempt whose point is a syntax error, for check.py to explain.
    for path in sorted(set(ROOT.rglob("*.py")) - set(ROOT.rglob("*syntax_error*.py"))):
        result = subprocess.run([sys.executable, "-W", "error", "-c",
                                 "import pathlib, sys; path = pathlib.Path(sys.argv[1]);"
                                 " compile(path.read_text(), str(path), 'exec')", str(path)],
                                capture_output=True, text=True)
        assert (path.name, result.stderr) == (path.name, "")


@pytest.mark.parametrize("stage", STAGES)
def test_no_command_runs_the_shell_that_shell_names(stage, visible_dir):
    shell = visible_dir / "my-shell"
    shell.write_text("#!/bin/sh\necho this is my shell\n")
    shell.chmod(0o755)
    result = run_stage(stage, env=stage_env(SHELL=str(shell)))
    assert (result.returncode, result.stdout) == (0, "this is my shell\n")


def test_container_md_lists_container_py_s_usage_and_options_as_its_help_does():
    # One table in container.py (OPTIONS) makes both; the document's copy may
    # wrap the usage line differently.
    help_text = run_stage("container.py", "-h").stdout
    options = help_text[help_text.index("  -t "):help_text.index("Without a command")]
    document = read(ROOT / "CONTAINER.md")
    block = document[document.index("usage: container.py"):]
    block = block[:block.index("```")]
    usage, listed = block[:block.index("  -t ")], block[block.index("  -t "):]
    assert (usage.split(), listed) == (help_text.splitlines()[0].split(), options)


@pytest.mark.parametrize("tool", ["net.py", "container.py"])
@pytest.mark.parametrize("typed, said", [
    (["-it"], "-it is docker run's: the command always reads your stdin, and container.py gives"
              " it a terminal of its own when stdin is one; leave it out"),
    (["--rm"], "--rm is docker run's: nothing here outlives its command; leave it out"),
    (["--name", "web"], "--name is docker run's: nothing here has a name; find a container by its"
                        " tool's pid (EXERCISES.md, 8)"),
    (["-d"], "-d is docker run's: nothing here runs detached; end the command line with & in"
             " your shell"),
    (["-p", "80:80"], "-p is docker run's: nothing publishes a port yet; container.py --net veth"
                      " gives the container an address the host reaches"),
    (["--user", "1000"], "--user is docker run's: nothing takes it yet; run the command through"
                         " setpriv --reuid=UID --regid=GID --clear-groups"),
    (["-w", "/srv"], "-w is docker run's: nothing takes it yet; run sh -c 'cd DIR && exec"
                     " COMMAND'"),
    (["-m", "1g"], "-m is docker run's: container.py --memory does the same"),
    (["-v", "/tmp:/x"], "-v /tmp:/x: -v is the trace here, not docker run's volume;"
                        " container.py --volume /tmp:/x binds it"),
])
def test_a_docker_run_habit_gets_what_does_the_same_here(tool, typed, said):
    # Nothing runs: not even the 200 lines of a trace of a command /tmp:/x.
    result = run_stage(tool, *typed, "ls")
    assert (result.returncode, result.stdout, result.stderr) == (125, "", f"{tool}: {said}\n")


@pytest.mark.parametrize("typed, tool, said", [
    ("--memory", "net.py", "container.py takes it (a stage takes only -h and -v)"),
    ("--network", "container.py", "container.py --net none|veth|host does the same"),
])
def test_a_docker_run_option_of_container_py_is_named(typed, tool, said):
    result = run_stage(tool, typed, "1g", "ls")
    assert (result.returncode, result.stderr) == (125, f"{tool}: {typed} is docker run's: {said}\n")


def test_preflight_says_what_is_there_and_what_is_missing():
    # A checkout under /tmp is one thing it finds missing, whatever the machine.
    import shutil
    import tempfile
    from pathlib import Path
    tmp_path = Path(tempfile.mkdtemp(dir="/tmp", prefix="libns-preflight-"))
    for name in ("preflight.py", "libns.py", "net_mount_uts_ipc_pid_user.py"):
        shutil.copy(ROOT / name, tmp_path)
    result = subprocess.run([sys.executable, str(tmp_path / "preflight.py"), "--class", "30"],
                            capture_output=True, text=True, env=stage_env(), timeout=60)
    lines = result.stdout.splitlines()
    assert (result.returncode, result.stderr) == (1, "")
    assert lines[0].startswith("  ok       CPython ")
    assert f"  missing  the checkout is under /tmp ({tmp_path}): the mount stages put a tmpfs" \
           " there, and the examples that run its files inside cannot find them; clone it in" \
           " your home" in lines
    assert any(line.startswith("  ok       user.max_user_namespaces is ") for line in lines)
    assert all(line.startswith(("  ok ", "  missing ", "  note ")) for line in lines[:-1])
    assert lines[-1].endswith("thing(s) missing.")
    shutil.rmtree(tmp_path)


@pytest.mark.parametrize("arguments", [["--class"], ["--class", "many"], ["now"]])
def test_preflight_bad_call_is_2(arguments):
    result = subprocess.run([sys.executable, str(ROOT / "preflight.py"), *arguments],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", "usage: preflight.py [--class N]\n")
