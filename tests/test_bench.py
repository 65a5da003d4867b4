"""bench.py runs and prints well-formed figures.  No figure is judged here:
timings belong to the benchmark, never to a test on a noisy machine."""
import json
import re
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, STAGES, cgroups_refusal, stage_env

pytestmark = pytest.mark.usefixtures("namespaces_work")

BENCH_TIMEOUT = 300  # a guard against a hang only


def run_bench(*options):
    return subprocess.run([sys.executable, str(ROOT / "bench.py"), *options], capture_output=True,
                          text=True, env=stage_env(), timeout=BENCH_TIMEOUT)


# The start with limits is measured where cgroups can be made (not inside docker run).
LIMITS_ROW = ["--memory"] if cgroups_refusal() is None else []


def test_quick_json_has_every_row():
    result = run_bench("--quick", "--json")
    assert (result.returncode, result.stderr) == (0, "")
    figures = json.loads(result.stdout)
    assert set(figures) == {"machine", "start-up ms", "import ms", "namespace cost ms",
                            "parallel pid stages", "waiting parent peak KiB", "seccomp",
                            "image unpack", "container start-up ms", "OCI runtime ms"}
    assert 0 < figures["seccomp"]["instructions"] <= 4096
    unpacked = figures["image unpack"]
    assert list(unpacked) == ["Python's standard library", "20,000 files of 0 to 700 bytes",
                              "4 files of 32 MiB"]
    for row in unpacked.values():
        assert row["MB"] > 0 and row["ours"] > 0 and row["tar -xf"] > 0
        assert row["ratio"] == row["ours"] / (row["tar -xf"] + row["sha256sum"])
    assert [name.split()[1] if " " in name else "" for name in figures["container start-up ms"]
            ] == ["(the", *LIMITS_ROW, "--rootfs-rw", "--rootfs", "--image", "--image"]
    runtimes = ["oci.py", *(["runc"] if shutil.which("runc") else [])]
    assert list(figures["OCI runtime ms"]) == [f"{runtime} {call}" for runtime in runtimes
                                               for call in ("create", "start", "delete", "run")]
    assert {"libns", "ctypes", "mmap"} <= set(figures["import ms"])
    assert "signal" not in figures["import ms"]  # _signal: no enums at start-up
    start_up = figures["start-up ms"]
    stages = [stage for stage in STAGES if "user" not in STAGES[stage]]
    assert {"python3 -c pass", *stages} <= set(start_up)
    for row in start_up.values():
        assert 0 < row["min"] <= row["median"] <= row["max"]
    floors = {stage: start_up["python3 -c pass"]["median"] + start_up[unshare]["median"]
              for stage, unshare in zip(stages[1:], ["unshare -n", "unshare -nm", "unshare -nmu",
                                                     "unshare -nmui",
                                                     "unshare -nmuipf --mount-proc"])}
    for stage, floor in floors.items():
        assert start_up[stage]["ratio to floor"] == start_up[stage]["median"] / floor
    assert set(figures["namespace cost ms"]) == {
        "clone() + execvp(true), no namespace", "net", "mnt", "uts", "ipc", "pid", "user",
        "cgroup", "time"}
    assert set(figures["parallel pid stages"]) == {"1", "10"}
    assert figures["waiting parent peak KiB"] > 0


def test_quick_table_prints_each_section():
    result = run_bench("--quick")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[2].split() == ["start-up,", "ms", "median", "min", "max", "ratio"]
    first_words = [line.split("  ")[0] for line in lines]
    assert [stage for stage in STAGES if stage in first_words] == [
        stage for stage in STAGES if "user" not in STAGES[stage]]
    assert "what a namespace adds to clone(), ms" in first_words
    assert "pid stages side by side" in first_words
    assert any(re.fullmatch(r"peak memory of a waiting parent: \d+ KiB", line) for line in lines)
    rows = 5 + len(LIMITS_ROW)
    unpacking = lines.index(next(line for line in lines if line.startswith("unpacking a layer")))
    assert [line[:32].strip() for line in lines[unpacking + 1:unpacking + 4]] == [
        "Python's standard library", "20,000 files of 0 to 700 bytes", "4 files of 32 MiB"]
    starts = lines.index(next(line for line in lines if line.startswith("container.py, start")))
    assert [line.split("  ")[0] for line in lines[starts + 1:starts + 1 + rows]] == [
        "container.py (the host's programs)",
        *["container.py --memory --pids-limit --cpus"] * len(LIMITS_ROW),
        "container.py --rootfs-rw DIR",
        "container.py --rootfs DIR (overlayfs)", "container.py --image FILE (cached)",
        "container.py --image FILE.gz (cached)"]
    runtimes = ["oci.py", *(["runc"] if shutil.which("runc") else [])]
    assert [line.split("  ")[0] for line in lines[starts + rows + 3:]] == [
        f"{runtime} {call}" for runtime in runtimes for call in ("create", "start", "delete",
                                                                 "run")]


def test_unknown_option_is_refused():
    result = run_bench("--fast")
    assert result.returncode == 125
    assert result.stderr == ("bench.py: unknown option '--fast' (put -- before a command that"
                             " starts with '-')\nusage: bench.py [-h] [-v] [--quick] [--json]"
                             " [--python PATH]\n")


def test_a_cost_below_zero_is_called_noise():
    sys.path.insert(0, str(ROOT))
    import bench
    assert "noise" not in bench.noise_note([0.4, None, 1.2])
    assert "a cost below zero is noise, not a gain" in bench.noise_note([0.4, -0.1])
