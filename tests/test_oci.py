"""oci.py, the OCI runtime: runc's command line, a bundle's config.json, the command as PID 1.

Each test makes a bundle (a tiny rootfs and a config.json as `runc spec`
writes one) and a state directory of its own (--root), drives oci.py as a
client would (create, start, state, kill, delete; run), and looks at the
container from outside: /proc/PID, its namespaces, its descriptors.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import (ROOT, TIMEOUT, cgroups_left_behind, comm_of, is_alive, namespace_ids,
                     stage_env, wait_until)

pytestmark = pytest.mark.usefixtures("namespaces_work")


def runc_spec(args):
    """What `runc spec` writes, with `args` as the command (and no terminal)."""
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/bin", "TERM=xterm"], "cwd": "/",
                    "capabilities": {name: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                                     for name in ("bounding", "effective", "permitted")},
                    "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}],
        "linux": {"namespaces": [{"type": kind} for kind in ("pid", "network", "ipc", "uts",
                                                             "mount")],
                  "maskedPaths": ["/proc/kcore", "/proc/keys"],
                  "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]},
    }


@pytest.fixture
def bundle(tiny_rootfs):
    """A bundle of the tiny rootfs; write(args, **changes) writes its config.json."""
    folder = tiny_rootfs.parent

    def write(args, change=lambda config: None):
        config = runc_spec(args)
        change(config)
        (folder / "config.json").write_text(json.dumps(config))
        return folder
    return write


@pytest.fixture
def oci(tmp_path):
    """oci.py with a --root of the test's own; it must be empty again at the end."""
    root = tmp_path / "state"

    def run(*arguments, stdout=None, input=""):
        # Files, not pipes: a container holds its stdout and stderr open
        # after create has exited, and a pipe would not end before it.
        out, err = tmp_path / f"{arguments[0]}.out", tmp_path / f"{arguments[0]}.err"
        (tmp_path / "input").write_text(input)
        with open(stdout or out, "w") as out_file, open(err, "w") as err_file, \
                open(tmp_path / "input") as in_file:
            result = subprocess.run([sys.executable, str(ROOT / "oci.py"), "--root", str(root),
                                     *arguments], stdin=in_file, stdout=out_file,
                                    stderr=err_file, env=stage_env(), timeout=TIMEOUT)
        result.stdout, result.stderr = (stdout or out).read_text(), err.read_text()
        return result
    run.root = root
    yield run
    left = os.listdir(root) if root.exists() else []
    for name in left:  # a failed test's containers: killed, whatever the failure
        run("delete", "--force", name)
    assert left == []


def test_run_exits_with_the_command_s_status_and_the_command_is_pid_1(bundle, oci):
    folder = bundle(["sh", "-c", "echo $$ $(cat /proc/sys/kernel/hostname); ls -l /proc/1/exe;"
                     " exit 3"])
    result = oci("run", "--bundle", str(folder), "one")
    assert (result.returncode, result.stderr) == (3, "")
    first, second = result.stdout.splitlines()
    assert first == "1 runc"
    assert second.endswith("/proc/1/exe -> /bin/sh")  # no Python between


def test_create_start_state_kill_delete_as_a_client_calls_them(bundle, oci, tmp_path):
    folder = bundle(["sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo started;"
                     " while :; do sleep 0.1; done"])
    pid_file, out = tmp_path / "pid", tmp_path / "out"
    created = oci("create", "--bundle", str(folder), "--pid-file", str(pid_file), "two",
                  stdout=out)
    assert (created.returncode, created.stderr) == (0, "")
    text = pid_file.read_text()
    assert text.isdigit()  # the decimal pid, with no newline: containerd's strconv.Atoi
    pid = int(text)
    state = json.loads(oci("state", "two").stdout)
    assert {key: state[key] for key in ("ociVersion", "id", "pid", "status", "bundle")} == {
        "ociVersion": "1.0.2", "id": "two", "pid": pid, "status": "created",
        "bundle": str(folder)}
    # Created: PID 1 waits, confined already, holding nothing of ours but the fifo.
    assert namespace_ids(pid)["pid"] != namespace_ids()["pid"]
    with open(f"/proc/{pid}/status") as file:
        status = dict(line.split(":\t", 1) for line in file.read().splitlines())
    assert int(status["CapBnd"], 16) == (1 << 29) | (1 << 5) | (1 << 10)
    assert status["NoNewPrivs"] == "1"
    assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["0", "1", "2", "3"]
    assert os.readlink(f"/proc/{pid}/fd/3").endswith("/two/exec.fifo")
    assert oci("start", "two").returncode == 0
    wait_until(lambda: out.read_text() == "started\n", "the command's first line")
    program = os.stat(f"/proc/{pid}/exe")  # the rootfs's sh itself: no Python left in it
    assert (program.st_dev, program.st_ino) == tuple(
        getattr(os.stat(folder / "rootfs" / "bin" / "sh"), name) for name in ("st_dev", "st_ino"))
    assert json.loads(oci("state", "two").stdout)["status"] == "running"
    assert oci("kill", "two", "TERM").returncode == 0
    wait_until(lambda: json.loads(oci("state", "two").stdout)["status"] == "stopped",
               "the trap's exit")
    assert out.read_text() == "started\ngot TERM\n"
    assert oci("delete", "two").returncode == 0
    assert oci("state", "two").stderr == "oci.py: container two does not exist\n"


def test_delete_refuses_a_running_container_and_force_kills_it(bundle, oci):
    folder = bundle(["sleep", "1000"])
    assert oci("create", "--bundle", str(folder), "three").returncode == 0
    assert oci("start", "three").returncode == 0
    pid = json.loads(oci("state", "three").stdout)["pid"]
    refused = oci("delete", "three")
    assert (refused.returncode, refused.stderr) == (
        125, "oci.py: container three is running, not stopped: stop it, or delete --force\n")
    assert oci("delete", "--force", "three").returncode == 0
    wait_until(lambda: not is_alive(pid), "the container's end")
    assert oci("delete", "--force", "three").returncode == 0  # nothing to delete: no failure


def test_a_created_container_that_is_deleted_never_runs(bundle, oci, tmp_path):
    folder = bundle(["sh", "-c", f"echo ran > {tmp_path}/ran"])
    assert oci("create", "--bundle", str(folder), "four").returncode == 0
    pid = json.loads(oci("state", "four").stdout)["pid"]
    assert oci("delete", "four").stderr == (
        "oci.py: container four is created, not stopped: stop it, or delete --force\n")
    assert oci("delete", "--force", "four").returncode == 0
    wait_until(lambda: not is_alive(pid), "the container's end")
    assert not (tmp_path / "ran").exists()


def test_a_missing_command_is_runc_s_words_and_127_with_nothing_left(bundle, oci):
    folder = bundle(["no-such-command"])
    for command in ("run", "create"):
        result = oci(command, "--bundle", str(folder), "five")
        assert (result.returncode, result.stderr) == (
            127, 'oci.py: exec: "no-such-command": executable file not found in $PATH\n')


def test_errors_go_to_the_log_as_json_lines_for_docker(bundle, oci, tmp_path):
    folder = bundle(["no-such-command"])
    log = tmp_path / "log.json"
    oci("--log", str(log), "--log-format", "json", "create", "--bundle", str(folder), "six")
    line = json.loads(log.read_text())
    assert (line["level"], line["msg"]) == (
        "error", 'exec: "no-such-command": executable file not found in $PATH')


def outside_link(config):
    config["mounts"][0]["destination"] = "/proc-link/x"


@pytest.mark.parametrize("change, message", [
    (lambda config: config["mounts"].append({"destination": "../../x", "type": "tmpfs"}),
     "mount on ../../x: not an absolute path without .."),
    (lambda config: config["linux"]["namespaces"].append({"type": "bogus"}),
     "linux.namespaces: no namespace 'bogus'"),
    (lambda config: config["process"].update(args=[]),
     "process.args: a command is a list of strings, the first its program"),
    (lambda config: config["root"].update(path="missing"),
     "root.path missing: no such directory in the bundle"),
    (lambda config: config.pop("process"),
     "process: missing, and the runtime spec asks for it"),
    (outside_link, "mount proc: /proc-link is a symbolic link (to /tmp): a mount on it would"
                   " land outside the image"),
    (lambda config: config.update(ociVersion="invalid"),
     "ociVersion 'invalid': not a version 1.x.y of the runtime spec"),
    # Each field of the type the spec gives it, or one line naming the field:
    # never a string taken as a list of its letters, nor true as the uid 1.
    (lambda config: config["process"].update(args="true"), 'process.args "true": not a list'),
    (lambda config: config["process"]["user"].update(uid=True),
     "process.user.uid true: not a whole number from 0 to 4294967294"),
    (lambda config: config["process"]["user"].update(gid=1.5),
     "process.user.gid 1.5: not a whole number from 0 to 4294967294"),
    (lambda config: config["process"]["user"].update(umask="0777"),
     'process.user.umask "0777": not a whole number from 0 to 511'),
    (lambda config: config["process"].update(args=["true\0 --help"]),
     'process.args[0] "true\\u0000 --help": a NUL byte in it, which the kernel would take'
     ' as its end'),
    (lambda config: config["process"].update(env=["PATH"]), 'process.env "PATH": not NAME=VALUE'),
    (lambda config: config.update(hooks={"prestart": [{"path": "/bin/true", "timeout": "x"}]}),
     'hooks.prestart[0].timeout "x": not a whole number from 1 to 2147483647'),
    (lambda config: config["linux"].update(resources={"devices": [{"access": "rwm"}]}),
     "linux.resources.devices[0].allow: missing, and the runtime spec asks for it"),
    (lambda config: config["linux"].update(resources={"memory": {"limit": 2 ** 70}}),
     f"linux.resources.memory.limit {2 ** 70}: not a whole number from -2^63 to 2^64 - 1"),
    # A mount on / would cover the root, and /dev's nodes would land in its source.
    (lambda config: config["mounts"].append({"destination": "/.", "type": "bind",
                                             "source": "/tmp", "options": ["rbind"]}),
     "mount on /.: the container's root is root.path, not a mount"),
    # /proc/1/root in the container's new /proc is the host's root, till the pivot.
    (lambda config: config["mounts"].append({"destination": "/proc/1/root/tmp/oci-py-escape",
                                             "type": "tmpfs", "source": "tmpfs"}),
     "mount tmpfs: /proc/1/root is a symbolic link (to /): a mount on it would land outside the"
     " image"),
    # A masked or read-only path with .. would lead out of the root.
    (lambda config: config["linux"]["maskedPaths"].append("/../../../../etc/shadow"),
     "linux.maskedPaths /../../../../etc/shadow: not an absolute path without .."),
    (lambda config: config["mounts"].append({"destination": "/mnt", "type": "bind",
                                             "options": ["rbind"]}),
     "mount on /mnt: no source to bind"),
    (lambda config: config["mounts"].append({"destination": "/mnt\nerror: forged",
                                             "type": "bind", "options": ["rbind"]}),
     'mount on "/mnt\\nerror: forged": no source to bind'),
    (lambda config: config.update(hooks={"prestart": [{"path": "/\ud800"}]}),
     'hooks.prestart[0].path "/\\ud800": not text (a lone surrogate)'),
    (lambda config: config["linux"].update(sysctl={"net.": "1"}),
     "linux.sysctl net.: not the name of a setting"),
    (lambda config: config["linux"].update(resources={"memory": {"swappiness": 101}}),
     "linux.resources.memory.swappiness 101: not from 0 to 100"),
    (lambda config: config["linux"].update(devices=[{"path": "/dev/big", "type": "c",
                                                     "major": 1 << 40, "minor": 0}]),
     f"linux.devices[0].major {1 << 40}: not a whole number from 0 to {(1 << 32) - 1}"),
    (lambda config: config["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                                                    "flags": ["SECCOMP_FILTER_FLAG_LOG"]}),
     "linux.seccomp.flags: not applied by oci.py"),
    (lambda config: config["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                                                    "architectures": ["SCMP_ARCH_ARM"]}),
     "linux.seccomp: the architecture SCMP_ARCH_ARM is not this machine's"),
    (lambda config: config["linux"].update(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mknod"], "action": "SCMP_ACT_NOTIFY"}]}),
     "linux.seccomp: the action 'SCMP_ACT_NOTIFY' is none of SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD,"
     " SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_LOG,"
     " SCMP_ACT_ALLOW"),
], ids=["dot-dot", "unknown-namespace", "no-args", "no-root", "no-process", "through-a-link",
        "invalid-version", "string-as-list", "bool-as-uid", "fraction", "umask-as-string",
        "nul-byte", "env-without-value", "hook-timeout", "device-rule-without-allow",
        "memory-above-2^64", "mount-on-root", "through-proc-1-root", "masked-dot-dot",
        "bind-without-source", "two-line-destination", "lone-surrogate", "sysctl-no-name",
        "swappiness", "device-number", "seccomp-flags", "seccomp-architecture",
        "seccomp-action"])
def test_a_hostile_or_broken_config_is_one_line_and_nothing_is_left(bundle, oci, change,
                                                                    message):
    folder = bundle(["true"], change)
    os.symlink("/tmp", folder / "rootfs" / "proc-link")
    result = oci("create", "--bundle", str(folder), "seven")
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == "oci.py: " + message.replace("CONFIG", str(folder / "config.json")) \
        + "\n"
    assert not os.path.exists("/tmp/oci-py-escape")


@pytest.mark.parametrize("link, change, message", [
    ("dev/null", lambda config: config["mounts"].remove(next(
        mount for mount in config["mounts"] if mount["destination"] == "/dev")),
     "linux.devices /dev/null: /dev/null is a symbolic link (to OUTSIDE): a mount on it would"
     " land outside the image"),
    ("etc", lambda config: config["linux"]["maskedPaths"].append("/etc/file"),
     "linux.maskedPaths /etc/file: /etc is a symbolic link (to OUTSIDE): a mount on it would"
     " land outside the image"),
], ids=["device", "masked-path"])
def test_a_link_of_the_image_s_never_takes_a_device_or_a_mask_outside(bundle, oci, tmp_path, link,
                                                                       change, message):
    # The image's /dev/null (where /dev is its own) or a folder on a masked
    # path, a link to a file outside: that file is neither written nor hidden.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("the host's")
    folder = bundle(["true"], change)
    (folder / "rootfs" / "dev").mkdir(exist_ok=True)
    os.symlink(outside / "file" if link == "dev/null" else outside, folder / "rootfs" / link)
    result = oci("run", "--bundle", str(folder), "through-a-link")
    assert (result.returncode, result.stderr) == (
        125, "oci.py: " + message.replace("OUTSIDE", str(outside / "file" if link == "dev/null"
                                                         else outside)) + "\n")
    assert (outside / "file").read_text() == "the host's"


def test_a_missing_bundle_and_a_bad_id_are_one_line(oci, tmp_path):
    result = oci("create", "--bundle", str(tmp_path / "nothing"), "eight")
    assert (result.returncode, result.stderr) == (
        125, f"oci.py: --bundle {tmp_path / 'nothing'}: no config.json in it\n")
    result = oci("state", "../etc")
    assert (result.returncode, result.stderr) == (
        125, "oci.py: '../etc': an id is letters, digits, _, +, - and . only\n")


def test_an_exec_has_what_the_container_has_unless_its_process_says_less(bundle, oci, tmp_path):
    # As runc: an exec's process without capabilities gets the container's,
    # its seccomp filter and no_new_privs too, from what create was given,
    # not from a config.json that may have changed since.
    folder = bundle(["sleep", "1000"], lambda config: config["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_ERRNO"}]}))
    assert oci("run", "--detach", "--bundle", str(folder), "execs").returncode == 0
    (folder / "config.json").write_text(json.dumps(runc_spec(["true"])))  # changed since

    def confinement(status):
        fields = dict(line.split(":\t", 1) for line in status.splitlines())
        return [fields[name] for name in ("CapEff", "CapBnd", "NoNewPrivs", "Seccomp")]
    pid = json.loads(oci("state", "execs").stdout)["pid"]
    own = confinement(Path(f"/proc/{pid}/status").read_text())
    assert own[2:] == ["1", "2"] and own[0] != "0000000000000000"
    for process, expected in (({}, own), ({"capabilities": {}}, ["0" * 16, "0" * 16, "1", "2"])):
        (tmp_path / "process.json").write_text(json.dumps(
            {"args": ["cat", "/proc/self/status"], **process}))
        result = oci("exec", "--process", str(tmp_path / "process.json"), "execs")
        assert (result.returncode, result.stderr) == (0, "")
        assert confinement(result.stdout) == expected
    for process, message in (({"cwd": 3}, "process.cwd 3: not a string"),
                             ({"apparmorProfile": "docker-default"},
                              "process.apparmorProfile docker-default: not applied by oci.py (no"
                              " AppArmor or SELinux here)")):
        (tmp_path / "process.json").write_text(json.dumps({"args": ["true"], **process}))
        result = oci("exec", "--process", str(tmp_path / "process.json"), "execs")
        assert (result.returncode, result.stderr) == (
            125, f"oci.py: exec --process {tmp_path / 'process.json'}: {message}\n")
    (tmp_path / "process.json").write_text(json.dumps({"args": ["sh", "-c", "pwd"], "cwd": None}))
    result = oci("exec", "--process", str(tmp_path / "process.json"), "execs")
    assert (result.returncode, result.stdout) == (0, "/\n")  # null: left out, so /
    assert oci("delete", "--force", "execs").returncode == 0


def test_a_pid_file_that_cannot_be_written_leaves_no_file_and_no_container(bundle, oci,
                                                                          tmp_path):
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "taken").mkdir()
    result = oci("create", "--bundle", str(bundle(["sleep", "1"])), "--pid-file",
                 str(tmp_path / "pids" / "taken"), "pidless")
    assert (result.returncode, result.stdout, result.stderr) == (
        125, "", f"oci.py: --pid-file {tmp_path / 'pids' / 'taken'}: Is a directory\n")
    assert sorted(os.listdir(tmp_path / "pids")) == ["taken"]


def test_an_unknown_option_names_itself_once_with_the_usage(oci):
    for arguments, where in ((["--bogus", "state", "x"], ""), (["state", "--bogus", "x"],
                                                                "state: ")):
        result = oci(*arguments)
        assert result.returncode == 125
        first, usage = result.stderr.splitlines()
        assert first == f"oci.py: {where}unknown option '--bogus'"
        assert usage.startswith("usage: oci.py ")


def test_version_features_and_what_it_refuses(oci):
    assert oci("--version").stdout == "oci.py version 0.1\nspec: 1.0.2\n"
    features = json.loads(oci("features").stdout)
    assert features["ociVersionMax"] == "1.0.2"
    assert "rprivate" in features["mountOptions"]
    refused = oci("--systemd-cgroup", "create", "x")
    assert (refused.returncode, refused.stderr) == (
        125, "oci.py: --systemd-cgroup: oci.py makes no cgroups through systemd; leave it out\n")


def test_kill_takes_signals_as_runc_does(bundle, oci):
    folder = bundle(["sleep", "1000"])
    assert oci("run", "--detach", "--bundle", str(folder), "ten").returncode == 0
    pid = json.loads(oci("state", "ten").stdout)["pid"]
    assert oci("kill", "ten", "NOSUCH").stderr == "oci.py: NOSUCH: no such signal\n"
    assert oci("kill", "ten", str(int(signal.SIGKILL))).returncode == 0
    wait_until(lambda: not is_alive(pid), "the container's end")
    assert oci("delete", "ten").returncode == 0


HOOK = ("import json, os, sys; state = json.load(sys.stdin); print(json.dumps([sys.argv[1],"
        " state['status'], state['pid'] and os.readlink(f'/proc/{state[\"pid\"]}/ns/net'),"
        " os.environ.get('HOOK')]), file=open(sys.argv[2], 'a'))")


def test_hooks_run_at_their_points_with_the_state_on_stdin(bundle, oci, tmp_path):
    log = tmp_path / "hooks"

    def hooks(config):
        config["hooks"] = {point: [{"path": sys.executable, "env": ["HOOK=yes"],
                                    "args": ["python3", "-c", HOOK, point, str(log)]}]
                           for point in ("prestart", "createRuntime", "createContainer",
                                         "poststart", "poststop")}
    folder = bundle(["sleep", "1000"], hooks)
    assert oci("create", "--bundle", str(folder), "eleven").returncode == 0
    pid = json.loads(oci("state", "eleven").stdout)["pid"]
    net = os.readlink(f"/proc/{pid}/ns/net")
    assert net != os.readlink("/proc/self/ns/net")
    assert oci("start", "eleven").returncode == 0
    assert oci("delete", "--force", "eleven").returncode == 0
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        ["prestart", "created", net, "yes"], ["createRuntime", "created", net, "yes"],
        # In the container's namespaces, before pivot_root: where the runtime's files still are.
        ["createContainer", "creating", net, "yes"],
        ["poststart", "running", net, "yes"], ["poststop", "stopped", 0, "yes"]]


def test_a_failing_prestart_hook_fails_create_and_nothing_is_left(bundle, oci, tmp_path):
    folder = bundle(["true"], lambda config: config.update(hooks={"prestart": [
        {"path": "/bin/sh", "args": ["sh", "-c", "echo no network for you >&2; exit 4"]}]}))
    result = oci("create", "--bundle", str(folder), "twelve")
    assert (result.returncode, result.stderr) == (
        125, "oci.py: the prestart hook /bin/sh: exited with 4: no network for you\n")


def test_a_start_container_hook_runs_in_the_container_before_the_command(bundle, oci):
    # Its path is the container's, and it runs as the command would: confined, uid 1000.
    def hooks(config):
        config["process"]["user"] = {"uid": 1000, "gid": 1000}
        config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": [
            "sh", "-c", "cat > /dev/shm/state; cat /proc/self/status > /dev/shm/status"]}]}
    folder = bundle(["sh", "-c", "cat /dev/shm/state; echo; cat /dev/shm/status"], hooks)
    result = oci("run", "--bundle", str(folder), "hooked")
    assert (result.returncode, result.stderr) == (0, "")
    state, status = result.stdout.split("\n", 1)
    assert "Uid:\t1000\t1000\t1000\t1000\n" in status and "CapEff:\t0000000000000000\n" in status
    state = json.loads(state)
    assert (state["id"], state["status"], state["bundle"]) == ("hooked", "created", str(folder))
    assert state["pid"] > 1  # as `state` shows it, in the runtime's namespace


def test_a_failing_start_container_hook_stops_the_container_saying_why(bundle, oci):
    hook = {"path": "/bin/sh", "args": ["sh", "-c", "echo not today >&2; exit 3"]}
    folder = bundle(["sh", "-c", "echo never"],
                    lambda config: config.update(hooks={"startContainer": [hook]}))
    result = oci("run", "--bundle", str(folder), "unhooked")
    assert (result.returncode, result.stdout, result.stderr) == (
        125, "", "oci.py: the startContainer hook /bin/sh: exited with 3: not today\n")


def test_a_hook_at_no_point_of_the_spec_is_refused(bundle, oci):
    folder = bundle(["true"], lambda config: config.update(hooks={"preStart": [
        {"path": "/bin/true"}]}))
    result = oci("create", "--bundle", str(folder), "nowhere")
    assert (result.returncode, result.stderr) == (
        125, "oci.py: hooks.preStart: not run by oci.py (it runs prestart, createRuntime,"
             " createContainer, startContainer, poststart, poststop)\n")


CGROUP_MOUNT = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
LIMITS = {"memory": {"limit": 64 << 20}, "pids": {"limit": 50}, "cpu": {"shares": 0},
          "blockIO": {"weight": 0},
          "devices": [{"allow": False, "access": "rwm"},
                      {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}


@pytest.mark.usefixtures("cgroups_work")
def test_limits_as_docker_sends_them_are_read_back_inside_and_leave_nothing(bundle, oci):
    def limited(config):
        config["mounts"].append(CGROUP_MOUNT)
        config["linux"]["resources"] = LIMITS
    folder = bundle(["sh", "-c", "cd /sys/fs/cgroup; ls; cat pids/pids.max"
                     " memory/memory.limit_in_bytes devices/devices.list;"
                     " echo > /dev/null && echo null opens"], limited)
    result = oci("run", "--bundle", str(folder), "fourteen")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[:6] == ["devices", "freezer", "memory", "pids", "50", str(64 << 20)]
    assert "c 1:3 rwm" in lines and "a *:* rwm" not in lines and lines[-1] == "null opens"
    assert cgroups_left_behind() == []


@pytest.mark.usefixtures("cgroups_v1")
def test_pause_freezes_every_process_and_resume_lets_them_go_on(bundle, oci, tmp_path):
    folder = bundle(["sh", "-c", "while :; do :; done"])
    assert oci("run", "--detach", "--bundle", str(folder), "paused").returncode == 0
    pid = json.loads(oci("state", "paused").stdout)["pid"]

    def cpu_time():  # utime and stime, in ticks (proc(5))
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    assert oci("pause", "paused").returncode == 0
    assert json.loads(oci("state", "paused").stdout)["status"] == "paused"
    spent = cpu_time()
    time.sleep(0.3)  # a frozen loop spends nothing meanwhile
    assert cpu_time() == spent
    assert oci("exec", "--process", "/dev/null", "paused").stderr == (
        "oci.py: container paused is paused: nothing to exec in\n")
    assert oci("pause", "paused").stderr == "oci.py: container paused is paused, not running\n"
    assert oci("resume", "paused").returncode == 0
    wait_until(lambda: cpu_time() > spent, "the loop to go on")
    assert json.loads(oci("state", "paused").stdout)["status"] == "running"
    assert oci("pause", "paused").returncode == 0
    assert oci("delete", "--force", "paused").returncode == 0  # a paused one too
    assert cgroups_left_behind() == []


@pytest.mark.usefixtures("cgroups_v1")
def test_update_changes_the_limits_of_a_running_container(bundle, oci):
    folder = bundle(["sleep", "1000"], lambda config: config["linux"].update(
        resources={"memory": {"limit": 64 << 20}, "pids": {"limit": 50}}))
    assert oci("run", "--detach", "--bundle", str(folder), "updated").returncode == 0
    directories = [Path(directory) for directory in json.loads(
        (Path(oci.root) / "updated" / "state.json").read_text())["cgroups"].values()]
    memory = next(path / "memory.limit_in_bytes" for path in directories
                  if (path / "memory.limit_in_bytes").exists())
    pids = next(path / "pids.max" for path in directories if (path / "pids.max").exists())
    assert oci("update", "--resources", "-", "updated", input=json.dumps(
        {"memory": {"limit": 32 << 20}, "pids": {"limit": 0}, "cpu": {"shares": 0}})
    ).returncode == 0
    assert (memory.read_text(), pids.read_text()) == (f"{32 << 20}\n", "50\n")
    assert oci("update", "--pids-limit", "20", "--memory", "48m", "updated").returncode == 0
    assert (memory.read_text(), pids.read_text()) == (f"{48 << 20}\n", "20\n")
    # Above the present memory+swap, v1 wants the new memsw first.
    assert oci("update", "--resources", "-", "updated", input=json.dumps(
        {"memory": {"limit": 256 << 20, "swap": 512 << 20}})).returncode == 0
    assert memory.read_text() == f"{256 << 20}\n"
    assert oci("update", "--pids-limit", "-1", "updated").returncode == 0
    assert pids.read_text() == "max\n"
    for given, message in (
            ('{"cpu": {"quota": 1000}}', "this cgroup is not in the cpu tree: a limit it was"
                                         " made with can change, none be added"),
            ('{"memory": 5}', "update --resources: linux.resources.memory 5: not an object"),
            ('{"pids": {"limit": "ten"}}', 'update --resources: linux.resources.pids.limit'
                                           ' "ten": not a whole number from -2^63 to 2^64 - 1'),
            ('[]', "update --resources: linux.resources []: not an object")):
        refused = oci("update", "--resources", "-", "updated", input=given)
        assert (refused.returncode, refused.stderr) == (125, f"oci.py: {message}\n")
    assert oci("delete", "--force", "updated").returncode == 0


@pytest.fixture
def cgroups_v1(cgroups_work):
    """Skip where the limits are not in cgroup v1's trees, whose files these tests read."""
    from runtime import cgroups
    if cgroups.version_for(["pids", "memory", "freezer"]) != "v1":
        pytest.skip("these tests read cgroup v1's files (the QEMU guest has v2 alone)")


@pytest.mark.usefixtures("cgroups_v1")
@pytest.mark.parametrize("path", ["/containers-do-not-exist.test/one", "relative/two"])
def test_cgroups_path_is_where_the_cgroup_is_as_runc_takes_it(bundle, oci, path):
    from runtime import cgroups
    folder = bundle(["sleep", "1000"], lambda config: config["linux"].update(
        cgroupsPath=path, resources={"pids": {"limit": 7}}))
    assert oci("create", "--bundle", str(folder), "placed").returncode == 0
    pid = json.loads(oci("state", "placed").stdout)["pid"]
    own = cgroups.own_cgroups()["pids"].rstrip("/")
    expected = path if path.startswith("/") else f"{own}/{path}"
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    assert f"pids:{expected}" in [line.split(":", 1)[1] for line in lines]
    top = Path(cgroups.mounts()["v1"]["pids"][0] + expected)
    assert (top / "pids.max").read_text() == "7\n"
    again = oci("create", "--bundle", str(folder), "twice")
    assert (again.returncode, again.stderr) == (
        125, f"oci.py: {top}: this cgroup exists already (a container's cgroup is its own)\n")
    try:
        assert oci("delete", "--force", "placed").returncode == 0
        assert not top.exists()
    finally:
        for tree in ("pids", "freezer"):  # made above it, and left, as runc leaves /docker
            os.rmdir(cgroups.mounts()["v1"][tree][0] + os.path.dirname(expected))


def test_a_limit_not_applied_yet_is_refused_not_left_out(bundle, oci):
    folder = bundle(["true"], lambda config: config["linux"].update(resources={
        "blockIO": {"weight": 500}, "hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}))
    result = oci("create", "--bundle", str(folder), "fifteen")
    assert (result.returncode, result.stderr) == (
        125, "oci.py: linux.resources: blockIO.weight, hugepageLimits: not applied by oci.py"
             " yet\n")


@pytest.mark.usefixtures("cgroups_work")
def test_ps_lists_the_container_s_processes_and_kill_all_reaches_each(bundle, oci):
    folder = bundle(["sh", "-c", "sleep 1000 & sleep 1000 & wait"], lambda config: config[
        "linux"].update(resources={"pids": {"limit": 10}}))
    assert oci("run", "--detach", "--bundle", str(folder), "sixteen").returncode == 0
    pid = json.loads(oci("state", "sixteen").stdout)["pid"]
    wait_until(lambda: len(json.loads(oci("ps", "--format", "json", "sixteen").stdout)) == 3,
               "the two sleeps")
    pids = json.loads(oci("ps", "--format", "json", "sixteen").stdout)
    assert pid in pids and sorted(comm_of(other) for other in pids) == ["sh", "sleep", "sleep"]
    assert oci("kill", "--all", "sixteen", "KILL").returncode == 0
    wait_until(lambda: not any(map(is_alive, pids)), "the end of every process")
    assert oci("delete", "sixteen").returncode == 0


def test_rlimits_and_every_capability_set_as_the_config_gives_them(bundle, oci):
    def limited(config):
        config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
        config["process"]["capabilities"].update(inheritable=["CAP_KILL"], ambient=["CAP_KILL"])
    folder = bundle(["sh", "-c", "cat /proc/self/limits /proc/self/status"], limited)
    result = oci("run", "--bundle", str(folder), "seventeen")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert next(line for line in lines if line.startswith("Max open files")).split()[3:5] == [
        "123", "456"]
    status = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
    assert (int(status["CapInh"], 16), int(status["CapAmb"], 16)) == (1 << 5, 1 << 5)


def test_an_unknown_capability_is_a_warning_and_left_out_as_runc_does(bundle, oci):
    # Runtime spec 1.1: a capability the kernel has not is a warning, not
    # an error (the validation suite, of 1.0.2, still asks an error).
    def unknown(config):
        for names in config["process"]["capabilities"].values():
            names.append("CAP_TEST")
    folder = bundle(["cat", "/proc/self/status"], unknown)
    result = oci("run", "--bundle", str(folder), "unknown-capability")
    assert (result.returncode, result.stderr) == (
        0, "oci.py: warning: process.capabilities: CAP_TEST: no such capability on this kernel,"
           " left out\n")
    # AUDIT_WRITE, KILL, NET_BIND_SERVICE: what runc_spec gives, and no more.
    status = dict(line.split(":\t", 1) for line in result.stdout.splitlines())
    assert int(status["CapBnd"], 16) == 1 << 29 | 1 << 5 | 1 << 10


def without_a_mount_namespace(config):
    config["linux"]["namespaces"].remove({"type": "mount"})


def test_without_a_mount_namespace_it_is_refused_in_the_machine_s(bundle, oci):
    parent = os.getppid()  # 0 where pytest is PID 1, as in a container
    if parent and namespace_ids()["mnt"] != namespace_ids(parent)["mnt"]:
        pytest.skip("pytest runs in a mount namespace of its own, below its parent's: oci.py"
                    " takes it for the caller's own, not the machine's")
    folder = bundle(["true"], without_a_mount_namespace)
    result = oci("run", "--bundle", str(folder), "machine-s-mounts")
    assert (result.returncode, result.stderr) == (
        125, "oci.py: linux.namespaces: no mount namespace: the container's mounts would be made"
             " in the caller's, where its parents or PID 1 live too, the machine's or a"
             " container's (add one, or run in a mount namespace of your own: unshare --mount)\n")


def test_without_a_mount_namespace_the_mounts_are_the_caller_s_own_and_delete_detaches_them(
        bundle, oci, tmp_path):
    # As runc: the container is in the caller's mount namespace, its root a
    # chroot there; the caller's is one of its own (unshare --mount), and
    # after the container, its mount table is as it was.
    folder = bundle(["sh", "-c", "ls -l /proc/self/ns/mnt; ls /"], without_a_mount_namespace)
    script = ("import os, subprocess, sys; print(os.readlink('/proc/self/ns/mnt'), flush=True);"
              " before = open('/proc/self/mountinfo').read().splitlines();"
              " run = subprocess.run(sys.argv[1:]); print(run.returncode);"
              " print(open('/proc/self/mountinfo').read().splitlines() == before)")
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", script,
         sys.executable, str(ROOT / "oci.py"), "--root", str(oci.root), "run", "--bundle",
         str(folder), "caller-s-mounts"], capture_output=True, text=True, env=stage_env(),
        timeout=TIMEOUT)
    assert result.stderr == ""
    caller_s, container_s, *root, returncode, unchanged = result.stdout.splitlines()
    assert container_s.split()[-1] == caller_s != namespace_ids()["mnt"]
    assert (" ".join(root).split(), returncode, unchanged) == (
        sorted(os.listdir(folder / "rootfs")), "0", "True")


@pytest.mark.parametrize("rlimit, message", [
    ({"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5},
     "process.rlimits RLIMIT_NOFILE: soft 10 and hard 5: not a limit (0 <= soft <= hard < 2^64)"),
    ({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}, "process.rlimits: no such limit"
                                                      " 'RLIMIT_BOGUS'"),
    ({"type": "RLIMIT_NOFILE", "soft": 1 << 62, "hard": 1 << 62},
     f"process.rlimits RLIMIT_NOFILE {1 << 62} {1 << 62}: above the hard limit this runtime"
     f" has, {resource.getrlimit(resource.RLIMIT_NOFILE)[1]}, which only CAP_SYS_RESOURCE may"
     " raise"),
], ids=["soft-above-hard", "unknown", "absurd"])
def test_an_absurd_rlimit_is_one_line_and_nothing_is_left(bundle, oci, rlimit, message):
    folder = bundle(["sh"], lambda config: config["process"].update(rlimits=[rlimit]))
    result = oci("create", "--bundle", str(folder), "eighteen")
    assert (result.returncode, result.stderr) == (125, f"oci.py: {message}\n")


def test_devices_and_the_oom_score_as_the_config_gives_them(bundle, oci):
    def more(config):
        config["linux"]["devices"] = [{"path": "/dev/ours", "type": "c", "major": 1, "minor": 7,
                                       "fileMode": 0o640, "uid": 12, "gid": 34}]
        config["process"]["oomScoreAdj"] = 500
    folder = bundle(["sh", "-c", "ls -ln /dev/ours; cat /proc/self/oom_score_adj"], more)
    result = oci("run", "--bundle", str(folder), "nineteen")
    assert (result.returncode, result.stderr) == (0, "")
    device, score = result.stdout.splitlines()
    assert device.split()[:6] == ["crw-r-----", "1", "12", "34", "1,", "7"] and score == "500"


def in_the_image_s_own_dev(config):
    config["mounts"] = [mount for mount in config["mounts"] if not mount["destination"].startswith(
        "/dev")]
    config["linux"]["devices"] = [{"path": "/dev/ours", "type": "c", "major": 1, "minor": 7}]


@pytest.mark.parametrize("there", ["a file", "a link"])
def test_a_device_where_the_image_has_another_file_is_refused_and_the_file_kept(
        bundle, oci, tmp_path, there):
    # Where /dev is the image's own (no tmpfs on it): its file is neither
    # replaced nor given to the container as the device it asked for.
    folder = bundle(["true"], in_the_image_s_own_dev)
    ours = folder / "rootfs" / "dev" / "ours"
    ours.parent.mkdir(exist_ok=True)
    (tmp_path / "outside").write_text("the host's")
    if there == "a file":
        ours.write_text("the image's")
    else:
        ours.symlink_to(tmp_path / "outside")
    try:
        result = oci("run", "--bundle", str(folder), "twenty")
        assert (result.returncode, result.stderr) == (
            125, "oci.py: linux.devices /dev/ours: the image has another file there, not c 1:7\n")
        assert (ours.is_symlink(), (tmp_path / "outside").read_text()) == (
            there == "a link", "the host's")
    finally:
        ours.unlink()


def test_a_device_an_earlier_run_made_in_the_image_s_dev_is_used_again(bundle, oci):
    folder = bundle(["sh", "-c", "ls -ln /dev/ours"], in_the_image_s_own_dev)
    try:
        for name in ("first", "second"):  # as runc: the node of the first run is the device
            result = oci("run", "--bundle", str(folder), name)
            assert (result.returncode, result.stderr) == (0, "")
            assert result.stdout.split()[:6] == ["crw-rw-rw-", "1", "0", "0", "1,", "7"]
    finally:
        (folder / "rootfs" / "dev" / "ours").unlink()


def test_a_namespace_is_joined_by_its_path_as_pods_share_one(bundle, oci):
    folder = bundle(["sleep", "1000"])
    assert oci("run", "--detach", "--bundle", str(folder), "first").returncode == 0
    first = json.loads(oci("state", "first").stdout)["pid"]

    # Not the PID namespace: inside docker run, whose PID 1 (pytest) reaps
    # nobody, the first's PID 1 would never end while the second's lives
    # on as a zombie there (the validation suite joins one: CONTAINER.md).
    def joining(config):
        config["linux"]["namespaces"] = [
            {"type": "network", "path": f"/proc/{first}/ns/net"},
            {"type": "ipc", "path": f"/proc/{first}/ns/ipc"}, {"type": "pid"},
            {"type": "mount"}, {"type": "uts"}]
    bundle(["sleep", "1000"], joining)
    assert oci("run", "--detach", "--bundle", str(folder), "second").returncode == 0
    second = json.loads(oci("state", "second").stdout)["pid"]
    assert [namespace_ids(second)[kind] == namespace_ids(first)[kind]
            for kind in ("net", "ipc", "pid", "mnt")] == [True, True, False, False]
    for name in ("second", "first"):
        assert oci("delete", "--force", name).returncode == 0


def test_a_namespace_path_that_is_not_one_is_refused(bundle, oci):
    folder = bundle(["true"], lambda config: config["linux"]["namespaces"].append(
        {"type": "user", "path": "/proc/self/ns/net"}))
    result = oci("create", "--bundle", str(folder), "twenty")
    assert (result.returncode, result.stderr) == (
        125, "oci.py: linux.namespaces user /proc/self/ns/net: not a user namespace\n")


def test_a_sysctl_of_the_container_s_namespace_is_its_own_and_the_host_s_is_refused(bundle,
                                                                                    oci):
    host = Path("/proc/sys/kernel/shmmax").read_text()
    folder = bundle(["cat", "/proc/sys/kernel/shmmax", "/proc/sys/net/ipv4/ip_default_ttl"],
                    lambda config: config["linux"].update(sysctl={
                        "kernel.shmmax": "12345678", "net.ipv4.ip_default_ttl": "33"}))
    result = oci("run", "--bundle", str(folder), "twenty-one")
    assert (result.returncode, result.stdout, result.stderr) == (0, "12345678\n33\n", "")
    assert Path("/proc/sys/kernel/shmmax").read_text() == host
    bundle(["true"], lambda config: config["linux"].update(sysctl={"kernel.panic": "0"}))
    result = oci("create", "--bundle", str(folder), "twenty-two")
    assert (result.returncode, result.stderr) == (
        125, "oci.py: linux.sysctl kernel.panic: not one of a namespace this container has of"
             " its own: it would change the host's\n")


@pytest.mark.parametrize("key, kind, name", [("kernel.hostname", "uts", "uts"),
                                              ("net.ipv4.ip_default_ttl", "network", "net")])
def test_a_sysctl_in_the_host_s_namespace_joined_by_path_is_refused(bundle, oci, key, kind, name):
    # The caller's (oci.py compares PID 1's too, which only root may see).
    # Harmless if it were not refused: the value is the one the host has.
    value = Path("/proc/sys/" + key.replace(".", "/")).read_text().strip()

    def joined(config):
        config["linux"]["namespaces"] = [namespace for namespace in config["linux"]["namespaces"]
                                         if namespace["type"] != kind] + [
            {"type": kind, "path": f"/proc/self/ns/{name}"}]
        config["linux"]["sysctl"] = {key: value}
    result = oci("create", "--bundle", str(bundle(["true"], joined)), "host-s")
    assert (result.returncode, result.stderr) == (
        125, f"oci.py: linux.sysctl {key}: linux.namespaces {kind} /proc/self/ns/{name} is the"
             " host's: it would change the host's\n")


def test_a_namespace_path_that_is_a_fifo_is_refused_not_waited_on(bundle, oci, tmp_path):
    os.mkfifo(tmp_path / "fifo")
    folder = bundle(["true"], lambda config: config["linux"]["namespaces"].append(
        {"type": "user", "path": str(tmp_path / "fifo")}))
    result = oci("create", "--bundle", str(folder), "fifo")
    assert (result.returncode, result.stderr) == (
        125, f"oci.py: linux.namespaces user {tmp_path / 'fifo'}: not a user namespace\n")


def test_id_maps_of_several_ranges_and_sizes_are_written_as_given(bundle, oci):
    def mapped(config):
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"].update(
            uidMappings=[{"containerID": 0, "hostID": 100000, "size": 2000}],
            gidMappings=[{"containerID": 0, "hostID": 100000, "size": 1000},
                         {"containerID": 1000, "hostID": 300000, "size": 2000}])
    folder = bundle(["cat", "/proc/self/uid_map", "/proc/self/gid_map"], mapped)
    result = oci("run", "--bundle", str(folder), "mapped")
    assert (result.returncode, result.stderr) == (0, "")
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["0", "100000", "2000"], ["0", "100000", "1000"], ["1000", "300000", "2000"]]


@pytest.mark.parametrize("change, message", [
    (lambda linux: linux.update(rootfsPropagation="shared"),
     "linux.rootfsPropagation shared: every mount here is private (slave or private is taken as"
     " private)"),
    (lambda linux: linux.update(uidMappings=[{"containerID": 0, "hostID": 1000, "size": 10}]),
     "linux.uidMappings, gidMappings: a user namespace maps both or neither (its ids would be"
     " the overflow id 65534)"),
], ids=["shared-propagation", "uids-mapped-alone"])
def test_what_oci_py_cannot_apply_is_refused_never_left_out(bundle, oci, change, message):
    folder = bundle(["sh"], lambda config: change(config["linux"]))
    result = oci("create", "--bundle", str(folder), "twenty-three")
    assert (result.returncode, result.stderr) == (125, f"oci.py: {message}\n")


def test_a_bind_mount_keeps_the_options_it_asks_for(bundle, oci, tmp_path):
    (tmp_path / "shared").mkdir()
    folder = bundle(["cat", "/proc/self/mountinfo"], lambda config: config["mounts"].append({
        "destination": "/tmp", "type": "bind", "source": str(tmp_path / "shared"),
        "options": ["rbind", "rprivate", "nosuid", "nodev", "noexec", "ro"]}))
    result = oci("run", "--bundle", str(folder), "twenty-four")
    assert (result.returncode, result.stderr) == (0, "")
    options = next(line.split()[5] for line in result.stdout.splitlines()
                   if line.split()[4] == "/tmp")
    assert set(options.split(",")) >= {"ro", "nosuid", "nodev", "noexec"}
