"""Bad input: each gets one clear line and a distinct exit status, never a traceback.

(Missing and unrunnable commands, options and NUL bytes are in
test_exit_status.py and test_command_line.py.)
"""
import subprocess
import sys
import textwrap

import pytest

from helpers import ROOT, STAGES, TIMEOUT, run_python, run_stage, stage_env

pytestmark = pytest.mark.usefixtures("namespaces_work")


@pytest.mark.parametrize("stage", STAGES)
def test_script_whose_interpreter_is_missing_names_the_interpreter(stage, visible_dir):
    script = visible_dir / "needs-interpreter"
    script.write_text("#!/no/such/interpreter -x\necho never\n")
    script.chmod(0o755)
    for command, env in [(str(script), stage_env()),
                         ("needs-interpreter", stage_env(PATH=f"{visible_dir}:/usr/bin:/bin"))]:
        result = run_stage(stage, command, env=env)
        assert (result.returncode, result.stdout) == (127, "")
        assert result.stderr == (f"{stage}: execvp {command}: bad interpreter"
                                 " /no/such/interpreter (from its #! line):"
                                 " No such file or directory\n")


@pytest.mark.parametrize("stage", STAGES)
def test_argument_list_over_the_kernel_limit_is_126(stage):
    # No command line can carry this to the tool (its own execve would fail),
    # but a program calling libns can: the failed execvp comes back raised.
    result = run_python(textwrap.dedent(f"""
        import libns, {stage[:-3]} as stage
        command = ["echo"] + ["y" * 100000] * 40
        try:
            libns.clone(stage.child_exec, libns.map_stack(), stage.clone_flags, command)
        except libns.ChildError as error:
            print(error.status, error.strerror)
    """))
    assert (result.stdout, result.stderr) == (
        "126 execvp echo: Argument list too long (arguments and environment together exceed"
        " the kernel's limit)\n", "")


@pytest.mark.parametrize("stage", STAGES)
def test_deleted_current_directory_is_no_obstacle(stage, visible_dir):
    # As with unshare(1): the command starts in the same, deleted, directory.
    script = 'mkdir gone && cd gone && rmdir ../gone && exec "$@"'
    result = subprocess.run(["sh", "-c", script, "sh", sys.executable, str(ROOT / stage),
                             "sh", "-c", "echo ran"], cwd=visible_dir,
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
    assert (result.returncode, result.stdout) == (0, "ran\n"), result.stderr
