"""Exit statuses follow `docker run`: the command's own, or 125, 126, 127, or its signal."""
import signal

import pytest

from helpers import STAGES, run_stage

pytestmark = pytest.mark.usefixtures("namespaces_work")


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("status", [0, 1, 7, 125, 255])
def test_command_status_passes_through(stage, status):
    assert run_stage(stage, "sh", "-c", f"exit {status}").returncode == status


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("command", ["no-such-command-here", "/no/such/file", "/etc/passwd/x", ""])
def test_missing_command_is_127(stage, command):
    result = run_stage(stage, command)
    assert result.returncode == 127
    name = command or "''"
    reason = "Not a directory" if command == "/etc/passwd/x" else "No such file or directory"
    assert result.stderr == f"{stage}: execvp {name}: {reason}\n"


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("command", ["/etc", "/etc/passwd"])
def test_command_that_cannot_run_is_126(stage, command):
    result = run_stage(stage, command)
    assert result.returncode == 126
    assert result.stderr == f"{stage}: execvp {command}: Permission denied\n"


@pytest.mark.parametrize("stage", STAGES)
def test_script_without_shebang_runs_through_sh_like_execvp_in_c(stage, visible_dir):
    script = visible_dir / "no-shebang"
    script.write_text("echo run by sh\nexit 3\n")
    script.chmod(0o755)
    result = run_stage(stage, str(script))
    assert (result.stdout, result.returncode) == ("run by sh\n", 3)


# PID 1 of a namespace cannot be killed from inside it by a signal it does not
# handle: the kernel drops it.  test_signals.py kills the pid stage from outside.
@pytest.mark.parametrize("stage", [stage for stage in STAGES if "pid" not in STAGES[stage]])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGSEGV, signal.SIGKILL,
                                    signal.SIGUSR1])
def test_command_killed_by_signal_kills_the_tool_by_the_same_signal(stage, signum):
    result = run_stage(stage, "sh", "-c", f"kill -{signum.name[3:]} $$")
    assert result.returncode == -signum
