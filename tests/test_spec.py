"""The spec: what container.py hands its runtime, shaped like the OCI config.json.

container.py --spec prints it and runs nothing; each option lands in the
field Docker would put it in, and each room of runtime/ imports alone.
"""
import json
import subprocess
import sys

import pytest

from helpers import NOBODY, ROOT, TIMEOUT, run_as_nobody, run_container, stage_env


def spec_of(*options):
    result = run_container("--spec", *options, "true")
    assert (result.returncode, result.stderr) == (0, "")
    return json.loads(result.stdout)


def test_the_spec_has_config_json_s_fields_and_runs_nothing():
    spec = spec_of()
    assert sorted(spec) == ["hostname", "linux", "mounts", "ociVersion", "process", "root"]
    assert spec["process"]["args"] == ["true"]
    assert [namespace["type"] for namespace in spec["linux"]["namespaces"]] == [
        "pid", "network", "ipc", "uts", "mount", "cgroup", "time"]
    assert [mount["destination"] for mount in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/tmp", "/sys"]
    assert spec["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "CAP_SYS_ADMIN" not in spec["process"]["capabilities"]["bounding"]


@pytest.mark.parametrize("options, field, value", [
    (["--net", "host"], lambda spec: "network" in [n["type"] for n in spec["linux"]["namespaces"]],
     False),
    (["--hostname", "lesson"], lambda spec: spec["hostname"], "lesson"),
    (["--cap-add", "NET_ADMIN"],
     lambda spec: "CAP_NET_ADMIN" in spec["process"]["capabilities"]["bounding"], True),
    (["--privileged"], lambda spec: ("capabilities" in spec["process"], "seccomp" in spec["linux"],
                                     spec["linux"]["maskedPaths"]), (False, False, [])),
    (["--userns"], lambda spec: spec["linux"]["uidMappings"],
     [{"containerID": 0, "hostID": 100000, "size": 65536}]),
    (["--volume", f"{ROOT}:/lesson:ro"], lambda spec: spec["mounts"][-1],
     {"destination": "/lesson", "type": "bind", "source": str(ROOT),
      "options": ["rbind", "ro", "nodev"]}),
    (["-e", "LESSON=1"], lambda spec: spec["process"]["env"][-1], "LESSON=1"),
    ([], lambda spec: spec["process"]["noNewPrivileges"], False),
    (["--security-opt", "no-new-privileges"], lambda spec: spec["process"]["noNewPrivileges"],
     True),
    (["--security-opt", "seccomp=unconfined"], lambda spec: "seccomp" in spec["linux"], False),
])
def test_each_option_lands_where_docker_puts_it(options, field, value):
    assert field(spec_of(*options)) == value


def test_rootless_the_spec_maps_your_own_id(world_readable_copy):
    result = run_as_nobody(world_readable_copy, "container.py", "--spec", "true")
    spec = json.loads(result.stdout)
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": NOBODY, "size": 1}]
    assert spec["linux"]["namespaces"][-1] == {"type": "user"}


def test_a_refused_option_prints_no_spec():
    result = run_container("--spec", "--volume", "/no/such:/x", "true")
    assert (result.returncode, result.stdout, result.stderr) == (
        125, "", "container.py: --volume /no/such:/x: /no/such: No such file or directory\n")


@pytest.mark.parametrize("room", ["rootfs", "confinement", "seccomp", "cgroups", "network",
                                  "terminal", "init", "steps"])
def test_each_room_of_the_runtime_imports_alone(room):
    result = subprocess.run([sys.executable, "-c", f"from runtime import {room}"], cwd=ROOT,
                            capture_output=True, text=True, env=stage_env(), timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (0, "")


def test_a_stage_that_uses_one_room_imports_only_that_one():
    # net_veth.py imports runtime.network: the package itself imports no room.
    code = ("import sys; from runtime import network;"
            " print(sorted(name for name in sys.modules if name.startswith('runtime')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, env=stage_env(), timeout=TIMEOUT)
    assert result.stdout == "['runtime', 'runtime.network']\n"
