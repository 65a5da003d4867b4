"""bench.py: what a container costs, measured on this machine.

Everything is measured in one run, side by side, so that the ratios are fair:

- start-up: the bare interpreter (`python3 -c pass`), each stage running
  `true`, the stage's C twin from c/ (built with gcc when it is installed),
  and util-linux `unshare` with the same flags, one run of each in turn.
  The floor for a stage is the bare interpreter plus unshare: the ratio says
  how close we come.  --python PATH measures another interpreter.
- imports: what importing libns costs, module by module, as
  `python3 -X importtime -c 'import libns'` shows it.
- namespaces: what creating each type of namespace alone adds to a clone(),
  measured in this process over many runs.
- load: N pid stages started side by side, for N = 1, 10, 100, and the peak
  memory of a parent waiting for its child.
- seccomp: building Docker's profile and compiling it, the program's
  length, and what the filter adds to a system call (getppid, in a loop,
  before and after the filter is loaded in a forked child).
- images: unpacking a layer (this interpreter's standard library, many
  small files, a few large ones) beside `tar -xf` plus `sha256sum` of the
  same tar; and container.py's start with the host's
  programs, with --rootfs-rw (a bind), --rootfs (overlayfs over it) and
  --image (the same files as a cached layer).
- an OCI runtime: what each call of oci.py costs (create, start, delete,
  and run, which is all three and the wait), beside runc's, where runc is
  installed, with the same bundle.

Usage: python3 bench.py [--quick] [--json] [--python PATH]   (as root: stages need it)
Figures are medians in milliseconds.  Nothing here is a test: a busy machine
gives slower figures, not failures.
"""
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import image
import libns
from runtime import cgroups, seccomp

HERE = Path(__file__).resolve().parent
STAGES = {  # stage: (C twin, unshare's flags)
    "base.py": ("base", []),
    "net.py": ("net", ["-n"]),
    "net_mount.py": ("net_mount", ["-nm"]),
    "net_mount_uts.py": ("net_mount_utc", ["-nmu"]),
    "net_mount_uts_ipc.py": ("net_mount_utc_ipc", ["-nmui"]),
    "net_mount_uts_ipc_pid.py": ("net_mount_utc_ipc_pid", ["-nmuipf", "--mount-proc"]),
}
# What each namespace alone adds to clone(): every row of libns's table.
NAMESPACES = {name: flag for name, _, flag, _ in libns.NAMESPACES}
PID_STAGE = "net_mount_uts_ipc_pid.py"


def summary(samples):
    """Median, min and max of timings in seconds, as milliseconds."""
    return {"median": statistics.median(samples) * 1000, "min": min(samples) * 1000,
            "max": max(samples) * 1000}


def time_commands(commands, runs, env):
    """{name: summary} of each command's start-to-exit time, `runs` times each.

    Interleaved: one run of each in turn, so that a busy moment of the
    machine slows all of them, not the one that happened to run then.
    """
    samples = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
            samples[name].append(time.perf_counter() - started)
    return {name: summary(times) for name, times in samples.items()}


def build_c_programs(folder):
    """The C twins, built with gcc -O2; {} when gcc is missing."""
    if not shutil.which("gcc"):
        return {}
    built = {}
    for c_name, _ in STAGES.values():
        output = Path(folder) / c_name
        subprocess.run(["gcc", "-O2", "-o", str(output), str(HERE / "c" / f"{c_name}.c")],
                       check=True)
        built[c_name] = str(output)
    return built


def start_up(python, runs, env):
    """Rows of the start-up table, the floor first."""
    commands = {"python3 -c pass": [python, "-c", "pass"]}
    with tempfile.TemporaryDirectory() as folder:
        c_programs = build_c_programs(folder)
        for stage, (c_name, unshare_flags) in STAGES.items():
            commands[stage] = [python, str(HERE / stage), "true"]
            if c_name in c_programs:
                commands[f"c/{c_name}"] = [c_programs[c_name], "true"]
            if shutil.which("unshare"):
                commands[" ".join(["unshare", *unshare_flags])] = ["unshare", *unshare_flags,
                                                                   "true"]
        rows = time_commands(commands, runs, env)
    for stage, (_, unshare_flags) in STAGES.items():
        unshare = rows.get(" ".join(["unshare", *unshare_flags]))
        if unshare:
            floor = rows["python3 -c pass"]["median"] + unshare["median"]
            rows[stage]["ratio to floor"] = rows[stage]["median"] / floor
    return rows


def import_costs(python, runs, env):
    """{module: median ms} of what `import libns` costs, for libns and each module it imports.

    From `-X importtime`, whose lines are "self us | cumulative us | name",
    indented by depth: libns's own imports are the lines one level below it.
    """
    samples = {}
    for _ in range(runs):
        report = subprocess.run([python, "-X", "importtime", "-c", "import libns"], cwd=HERE,
                                env=env, capture_output=True, text=True, check=True).stderr
        lines = [line.split("|") for line in report.splitlines()[1:]]
        end = next(index for index, (_, _, name) in enumerate(lines) if name.strip() == "libns")
        start = end
        while start > 0 and lines[start - 1][2].startswith("  "):
            start -= 1
        for _, cumulative, name in lines[start:end + 1]:
            if name == " libns" or (name.startswith("   ") and not name.startswith("    ")):
                samples.setdefault(name.strip(), []).append(int(cumulative) / 1000)
    return {name: statistics.median(times) for name, times in samples.items()}


def spawn_and_wait(clone_flags, runs, before_each=None):
    """Seconds for libns.spawn() and waitpid() of `true`, `runs` times, in this process."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        if before_each:
            before_each()
        libns.waitpid(libns.spawn(clone_flags, None, ["true"]))
        samples.append(time.perf_counter() - started)
    return samples


def namespace_costs(runs):
    """What each namespace type adds to a clone() of `true`, in milliseconds."""
    baseline = statistics.median(spawn_and_wait(0, runs))
    costs = {"clone() + execvp(true), no namespace": baseline * 1000}
    for name, flag in NAMESPACES.items():
        if name == "time":
            # clone() refuses CLONE_NEWTIME; unshare() it before each clone,
            # in a forked process so that this one keeps the host's clocks.
            median = _in_forked_process(lambda: statistics.median(spawn_and_wait(
                0, runs, lambda: libns.unshare(libns.CLONE_NEWTIME))))
        else:
            median = statistics.median(spawn_and_wait(flag, runs))
        costs[name] = None if median is None else (median - baseline) * 1000
    return costs


def _in_forked_process(function):
    """function() run in a forked child; its float result, or None if it failed."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_end, repr(function()).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as result:
        text = result.read()
    os.waitpid(pid, 0)
    return float(text) if text else None


def parallel(python, counts, env):
    """N pid stages at once: wall time for all, and runs per second."""
    rows = {}
    for count in counts:
        started = time.perf_counter()
        tools = [subprocess.Popen([python, str(HERE / PID_STAGE), "true"], env=env)
                 for _ in range(count)]
        statuses = {tool.wait() for tool in tools}
        elapsed = time.perf_counter() - started
        if statuses != {0}:
            raise RuntimeError(f"{count} parallel runs exited with {sorted(statuses)}")
        rows[count] = {"wall ms": elapsed * 1000, "runs per second": count / elapsed}
    return rows


def waiting_parent_peak_kib(python, env):
    """VmHWM of the tool while its child sleeps: the memory a running container costs us."""
    tool = subprocess.Popen([python, str(HERE / PID_STAGE), "sleep", "0.5"], env=env)
    time.sleep(0.3)
    with open(f"/proc/{tool.pid}/status") as status:
        peak = int(next(line for line in status if line.startswith("VmHWM")).split()[1])
    tool.wait()
    return peak


def layers_to_unpack(folder):
    """{what: path of its tar}: layers of three shapes, written as image tools write them."""
    def written(name, add):
        path = os.path.join(folder, name)
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            add(tar)
        return path

    def files(tar, count, size_of):
        for number in range(count):
            data = os.urandom(size_of(number))
            info = tarfile.TarInfo(f"usr/share/d{number // 500}/file{number}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))
    return {
        "Python's standard library": written("stdlib.tar", lambda tar: tar.add(
            os.path.dirname(os.__file__), "usr/lib/python", filter=lambda member: None if {
                "site-packages", "test", "__pycache__"} & set(member.name.split("/"))
            else member)),
        "20,000 files of 0 to 700 bytes": written("small.tar", lambda tar: files(
            tar, 20_000, lambda number: number % 700)),
        "4 files of 32 MiB": written("large.tar", lambda tar: files(tar, 4, lambda _: 32 << 20)),
    }


def unpacking(runs):
    """image.unpack_verified() of each layer beside `tar -xf` and a sha256, in seconds.

    tar with sha256sum is the floor the issue set: the bytes read, hashed
    and written once.  Python's hashlib (OpenSSL's) may hash faster than
    sha256sum, so the row has the floor with it too.  Unpacked on a tmpfs
    where one has room, so that the disk's own noise is left out; where,
    the row says.
    """
    place = "/dev/shm" if _room("/dev/shm") > UNPACK_ROOM else "/var/tmp"
    rows = {}
    with tempfile.TemporaryDirectory(dir=place) as folder:
        for what, path in layers_to_unpack(folder).items():
            with open(path, "rb") as file:
                layer = image.Layer(path, image._Digesting(file).read_to_end(), None,
                                    os.path.getsize(path))
            samples = {"ours": [], "tar -xf": [], "sha256sum": [], "sha256 in Python": []}
            umoci = []
            if shutil.which("umoci"):
                layout = _oci_layout(path, layer)
                samples["umoci unpack"] = []
                umoci = [("umoci unpack", lambda target: subprocess.run(
                    ["umoci", "unpack", "--image", f"{layout}:latest", f"{target}/bundle"],
                    check=True, stdout=subprocess.DEVNULL))]
            for _ in range(runs):
                for name, work in umoci + [
                        ("ours", lambda target: _unpack_ours(path, target, layer)),
                        ("tar -xf", lambda target: subprocess.run(
                            ["tar", "-xf", path, "-C", target], check=True)),
                        ("sha256sum", lambda target: subprocess.run(
                            ["sha256sum", path], check=True, stdout=subprocess.DEVNULL)),
                        ("sha256 in Python", lambda target: _unpack_ours(path, None, layer))]:
                    target = tempfile.mkdtemp(dir=folder)
                    started = time.perf_counter()
                    work(target)
                    samples[name].append(time.perf_counter() - started)
                    shutil.rmtree(target)
            row = {name: statistics.median(times) for name, times in samples.items()}
            row["ratio"] = row["ours"] / (row["tar -xf"] + row["sha256sum"])
            row["ratio, hashlib"] = row["ours"] / (row["tar -xf"] + row["sha256 in Python"])
            if "umoci unpack" in row:
                row["ratio to umoci"] = row["ours"] / row["umoci unpack"]
            rows[what] = {"MB": layer.size / 1e6, "on": place, **row}
    return rows


# The three tars, one tree unpacked and umoci's copy of it: Docker's 64 MB
# /dev/shm is too small, and the disk is used instead.
UNPACK_ROOM = 640 << 20


def _room(folder):
    """Bytes free to us in `folder`; 0 where it cannot be written."""
    if not os.access(folder, os.W_OK):
        return 0
    status = os.statvfs(folder)
    return status.f_bavail * status.f_frsize


def _oci_layout(path, layer):
    """An OCI layout beside the layer at `path`, tagged latest, for umoci; its path."""
    layout = f"{path}.oci"
    os.makedirs(f"{layout}/blobs/sha256")
    os.link(path, f"{layout}/blobs/sha256/{layer.diff_id}")

    def blob(document):
        data = json.dumps(document).encode()
        digest = hashlib.sha256(data).hexdigest()
        with open(f"{layout}/blobs/sha256/{digest}", "wb") as file:
            file.write(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}
    config = blob({"architecture": "amd64", "os": "linux", "config": {},
                   "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer.diff_id}"]}})
    manifest = blob({"schemaVersion": 2, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", **config}, "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": f"sha256:{layer.diff_id}", "size": layer.size}]})
    with open(f"{layout}/index.json", "w") as file:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, file)
    with open(f"{layout}/oci-layout", "w") as file:
        json.dump({"imageLayoutVersion": "1.0.0"}, file)
    return layout


def _unpack_ours(path, target, layer):
    """Unpack the layer at `path` into `target`; with no target, only hash it, as ours does."""
    with open(path, "rb") as file:
        if target is None:
            image._Digesting(file).read_to_end()
        else:
            image.unpack_verified(file, target, layer)


def seccomp_costs(runs, calls=200_000):
    """Docker's profile: build and compile it; ns per getppid() without and with the filter."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        program = seccomp.compile(seccomp.docker_profile(container_capabilities()))
        samples.append(time.perf_counter() - started)

    def per_call():
        started = time.perf_counter()
        for _ in range(calls):
            os.getppid()
        return (time.perf_counter() - started) / calls * 1e9

    def under_the_filter():
        libns.set_no_new_privs()
        libns.load_seccomp_filter(program)
        return per_call()
    before, after = _in_forked_process(per_call), _in_forked_process(under_the_filter)
    return {"profile and compile ms": summary(samples)["median"], "instructions": len(program),
            "ns per getppid, no filter": before, "ns per getppid, Docker's filter": after}


def container_capabilities():
    import container
    return container.DOCKER_CAPABILITIES


def rootfs_of_true(folder):
    """A root file system of the host's `true` and its libraries, in `folder`; its path."""
    rootfs = Path(folder) / "rootfs"
    for name in ("proc", "dev", "sys", "tmp", "bin"):
        (rootfs / name).mkdir(parents=True)
    true = shutil.which("true")
    shutil.copy(true, rootfs / "bin")
    libraries = subprocess.run(["ldd", true], capture_output=True, text=True).stdout
    for path in (word for word in libraries.split() if word.startswith("/")):
        (rootfs / path[1:]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, rootfs / path[1:])
    return rootfs


def root_starts(python, runs, env):
    """container.py `true`: the host's programs, a rootfs bound, overlaid, and as an image."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as folder:
        rootfs = rootfs_of_true(folder)
        layer_bytes = io.BytesIO()
        with tarfile.open(fileobj=layer_bytes, mode="w") as tar:
            tar.add(rootfs, ".")
        layer = layer_bytes.getvalue()
        config = json.dumps({"rootfs": {"diff_ids": [
            f"sha256:{hashlib.sha256(layer).hexdigest()}"]}}).encode()
        config_name = f"{hashlib.sha256(config).hexdigest()}.json"
        files = {"layer.tar": layer, config_name: config, "manifest.json": json.dumps(
            [{"Config": config_name, "Layers": ["layer.tar"]}]).encode()}
        with tarfile.open(f"{folder}/image.tar", "w") as tar:
            for name, content in files.items():
                member = tarfile.TarInfo(name)
                member.size = len(content)
                tar.addfile(member, io.BytesIO(content))
        # The same archive gzipped, as `docker save | gzip` writes it.
        with open(f"{folder}/image.tar", "rb") as plain, \
                gzip.open(f"{folder}/image.tar.gz", "wb") as packed:
            shutil.copyfileobj(plain, packed)
        tool = [python, str(HERE / "container.py"), "-T"]
        image_run = tool + ["--image", f"{folder}/image.tar", "--cache", f"{folder}/cache"]
        gzip_run = tool + ["--image", f"{folder}/image.tar.gz", "--cache", f"{folder}/cache"]
        for run in (image_run, gzip_run):  # unpacked, and indexed, once
            subprocess.run(run + ["/bin/true"], check=True, env=env)
        commands = {"container.py (the host's programs)": tool + ["true"]}
        if cgroups.cannot_make(["memory", "pids", "cpu"]) is None:  # not inside docker run
            # The same, in a cgroup of its own with three limits: the cost of a limit.
            commands["container.py --memory --pids-limit --cpus"] = tool + [
                "--memory", "64m", "--pids-limit", "100", "--cpus", "1", "true"]
        return time_commands({
            **commands,
            "container.py --rootfs-rw DIR": tool + ["--rootfs-rw", str(rootfs), "/bin/true"],
            "container.py --rootfs DIR (overlayfs)": tool + ["--rootfs", str(rootfs),
                                                              "/bin/true"],
            "container.py --image FILE (cached)": image_run + ["/bin/true"],
            "container.py --image FILE.gz (cached)": gzip_run + ["/bin/true"]}, runs, env)


# A bundle's config.json for `true`, as `runc spec` writes one, less the terminal.
OCI_CONFIG = {
    "ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": True},
    "process": {"args": ["/bin/true"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0,
                                                                                   "gid": 0}},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
               {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}],
    "linux": {"namespaces": [{"type": kind} for kind in ("pid", "network", "ipc", "uts",
                                                         "mount")]}}
CALLS = ("create", "start", "delete", "run")


def runtime_calls(python, runs, env):
    """{runtime call: summary}: oci.py's create, start, delete and run, and runc's beside."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as folder:
        rootfs_of_true(folder)
        with open(f"{folder}/config.json", "w") as config:
            json.dump(OCI_CONFIG, config)
        runtimes = {"oci.py": [python, str(HERE / "oci.py"), "--root", f"{folder}/oci.py"]}
        if shutil.which("runc"):
            runtimes["runc"] = ["runc", "--root", f"{folder}/runc"]
        samples = {f"{name} {call}": [] for name in runtimes for call in CALLS}
        for _ in range(runs):
            for name, runtime in runtimes.items():
                for call in CALLS:
                    if call == "delete":  # once `true` has ended: not part of the cost
                        while '"stopped"' not in subprocess.run(
                                runtime + ["state", "bench"], capture_output=True,
                                text=True, check=True).stdout:
                            time.sleep(0.001)
                    arguments = ["--bundle", folder] if call in ("create", "run") else []
                    started = time.perf_counter()
                    subprocess.run(runtime + [call, *arguments, "bench"], check=True, env=env,
                                   stdout=subprocess.DEVNULL)
                    samples[f"{name} {call}"].append(time.perf_counter() - started)
        return {name: summary(times) for name, times in samples.items()}


def measure(quick, python):
    # With libns compiled for `python`, as every run but a checkout's first
    # has it: with PYTHONDONTWRITEBYTECODE set (as here, and in many Docker
    # images), Python would otherwise compile libns.py at every start.
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([python, "-m", "compileall", "-q", str(HERE / "libns.py")], check=True)
    runs = 3 if quick else 30
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return {
        "machine": {"python": f"{version} ({python})", "kernel": platform.release(),
                    "cpus": os.cpu_count(), "processor": platform.machine()},
        "start-up ms": start_up(python, runs, env),
        "import ms": import_costs(python, runs, env),
        "namespace cost ms": namespace_costs(5 if quick else 200),
        "parallel pid stages": parallel(python, [1, 10] if quick else [1, 10, 100], env),
        "waiting parent peak KiB": waiting_parent_peak_kib(python, env),
        "seccomp": seccomp_costs(3 if quick else 30),
        "image unpack": unpacking(1 if quick else 5),
        "container start-up ms": root_starts(python, runs, env),
        "OCI runtime ms": runtime_calls(python, runs, env),
    }


def noise_note(costs):
    """What a table of differences means; and, if one is below zero, why it can be."""
    note = "(each namespace: the median of clone() with it, less the median without)"
    if any(cost is not None and cost < 0 for cost in costs):
        note += ("\n(a cost below zero is noise, not a gain: the machine was busier during the"
                 " runs without it; run again on a quiet machine, or without --quick)")
    return note


def print_table(results):
    machine = results["machine"]
    print(f"Python {machine['python']}, Linux {machine['kernel']}, {machine['cpus']} CPUs"
          f" ({machine['processor']})\n")
    print(f"{'start-up, ms':40} {'median':>8} {'min':>8} {'max':>8} {'ratio':>7}")
    for name, row in results["start-up ms"].items():
        ratio = f"{row['ratio to floor']:7.2f}" if "ratio to floor" in row else ""
        print(f"{name:40} {row['median']:8.1f} {row['min']:8.1f} {row['max']:8.1f} {ratio}")
    print("(ratio: the stage against python3 -c pass plus unshare with the same flags)\n")
    print(f"{'import libns, ms (cumulative)':40} {'median':>8}")
    for name, cost in results["import ms"].items():
        print(f"{name:40} {cost:8.2f}")
    print()
    print(f"{'what a namespace adds to clone(), ms':40} {'median':>8}")
    for name, cost in results["namespace cost ms"].items():
        print(f"{name:40} {'n/a' if cost is None else format(cost, '8.2f'):>8}")
    print(noise_note(results["namespace cost ms"].values()))
    print(f"\n{'pid stages side by side':40} {'wall ms':>8} {'runs/s':>8}")
    for count, row in results["parallel pid stages"].items():
        print(f"{count:<40} {row['wall ms']:8.0f} {row['runs per second']:8.1f}")
    print(f"\npeak memory of a waiting parent: {results['waiting parent peak KiB']} KiB")
    costs = list(results["seccomp"].values())
    print(f"\nseccomp: Docker's profile built and compiled in {costs[0]:.1f} ms, {costs[1]}"
          f" instructions; getppid() from Python {costs[2]:.0f} ns, under the filter"
          f" {costs[3]:.0f} ns")
    rows = results["image unpack"]
    umoci = all("umoci unpack" in row for row in rows.values())
    print(f"\n{'unpacking a layer, s':32} {'MB':>4} {'ours':>5} {'tar -xf':>8} {'sha256sum':>10}"
          f" {'hashlib':>8} {'ratio':>6} {'ratio, hashlib':>15}" + (" umoci" if umoci else ""))
    for what, row in rows.items():
        print(f"{what:32} {row['MB']:4.0f} {row['ours']:5.2f} {row['tar -xf']:8.2f}"
              f" {row['sha256sum']:10.2f} {row['sha256 in Python']:8.2f} {row['ratio']:6.2f}"
              f" {row['ratio, hashlib']:15.2f}" + (f" {row['umoci unpack']:5.2f}" if umoci else ""))
    print(f"(on {row['on']}; ratio: ours against tar -xf plus sha256sum, or plus Python's"
          " sha256)\n")
    print(f"{'container.py, start-up, ms':44} {'median':>8} {'min':>8} {'max':>8}")
    for name, row in results["container start-up ms"].items():
        print(f"{name:44} {row['median']:8.1f} {row['min']:8.1f} {row['max']:8.1f}")
    print(f"\n{'an OCI runtime, each call, ms':44} {'median':>8} {'min':>8} {'max':>8}")
    for name, row in results["OCI runtime ms"].items():
        print(f"{name:44} {row['median']:8.1f} {row['min']:8.1f} {row['max']:8.1f}")


def main():
    usage = "[--quick] [--json] [--python PATH]"
    options, arguments = libns.parse_options(
        sys.argv[1:], __doc__, usage,
        {"--quick": False, "--json": False, "--python": sys.executable},
        note="  --quick        a few runs of each, for a smoke test\n"
             "  --json         the figures as JSON, for machines\n"
             "  --python PATH  the interpreter to start the stages with (default: this one)")
    if arguments:
        libns.exit_with_message(f"unexpected argument {arguments[0]!r}\n{libns.usage(usage)}",
                                125)
    if os.geteuid() != 0:
        libns.exit_with_message("needs root: the stages and the C twins create namespaces"
                                " (sudo python3 bench.py)", 125)
    results = measure(options["--quick"], options["--python"])
    if options["--json"]:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
