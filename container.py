"""container.py: a whole container, from the same syscalls as the stages.

The tutorial ends with a question: inside the mount namespace you still see
every host mount; how to stop that?  The answer is pivot_root(2).  The child
builds a new root of its own, makes it the root of its mount namespace, and
detaches the old one.  Then `mount` lists only the container's mounts,
because nothing else is left in its namespace.

What it does, on top of the pid stage:
- CLONE_NEWCGROUP: /proc/self/cgroup shows the child's cgroup as "/".
- the time namespace, so that `cat /proc/uptime` starts near zero.  Its flag
  cannot go through clone() (see runtime/init.py).
- a new root: a fresh tmpfs holding read-only bind mounts of the host's
  /usr, /bin, /sbin, /lib, /lib64 and /etc (those that exist), a fresh /proc,
  a minimal /dev, a tmpfs /tmp; or an image: with --image, the layers of one
  that `docker save` wrote (see image.py), with --rootfs, an unpacked one
  (for example from `docker export`), both read-only under overlayfs with a
  throwaway layer on top for the container's writes (runtime/rootfs.py).
- a small init as PID 1 (runtime/init.py), which runs the command as PID 2.
- a terminal of its own when stdin is a terminal (-t, see runtime/terminal.py), as
  `docker run -it` gives: job control, `tty`, the window size.
- as an ordinary user, a user namespace, as in every stage.

As Docker does it, in two halves: this file is `docker run`, which checks
its options and turns them into a spec shaped like the OCI config.json
(build_spec; --spec prints it), and the runtime package is runc, which
turns the spec into the child's setup, one named step at a time (see
runtime/steps.py).

Try:    python3 container.py mount                 (only the container's own)
        python3 container.py ps -e                 (the init, and ps)
        python3 container.py cat /proc/uptime      (near zero)
        python3 container.py --rootfs DIR          (a shell in an image)
        python3 container.py --image FILE.tar      (an image from docker save)
        python3 container.py --spec                (what Docker would hand runc)
"""
import json
import os
import re
import signal
import sys

import libns
from runtime import cgroups, network, seccomp, steps

# Docker's defaults, which build_spec() writes into every spec, as dockerd
# does (moby's daemon/pkg/oci/defaults.go).  Without an image, the root is
# a tmpfs with the host's programs and settings, read-only.
HOST_DIRECTORIES = ("usr", "bin", "sbin", "lib", "lib64", "etc")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# Inside the container the host's $SHELL may not exist: /bin/sh, as Docker.
DEFAULT_COMMAND = ["/bin/sh"]
# An image's command gets the image's environment, not the host's; these
# are docker run's defaults, before the image's Env and -e.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What root inside may still do, as `docker run` leaves it by default: its
# default capabilities ("Runtime privilege and Linux capabilities",
# docs.docker.com/engine/containers/run/).  The system calls it may make are
# Docker's default seccomp profile's: see runtime/seccomp.py.
DOCKER_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                       "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                       "AUDIT_WRITE")
# Files of /proc that tell about, or change, the whole machine: Docker's
# masked paths (hidden behind /dev/null or an empty tmpfs) and read-only
# ones.  /proc/interrupts and the timers' lists tell what other tenants of
# the machine do, and when (a side channel, GHSA-6fw5-f8r9-fgfm); kcore is
# its memory, keys its keyrings; /sys shows the firmware's
# tables and the power meters (a side channel, CVE-2020-8694).
MASKED_PATHS = ("/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
                "/proc/timer_stats", "/sys/firmware", "/sys/devices/virtual/powercap")
READ_ONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# Docker's sizes for the tmpfs on /dev (65536k) and /dev/shm (--shm-size's
# default): without one, each may fill half the machine's memory.
DEV_SIZE = SHM_SIZE = "64m"
# Every container's mounts: Docker's /proc, /dev, /dev/pts and /dev/shm (its
# devpts without gid=5, a tty group the root may not have), a /tmp, and a
# read-only /sys.
DEFAULT_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "noexec", "nodev", "mode=755", f"size={DEV_SIZE}"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "nodev", "mode=1777", f"size={SHM_SIZE}"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "nodev", "mode=1777"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
]
# Docker's /etc/hosts for a container, before its own address and name.
DOCKER_HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                "ff02::2\tip6-allrouters\n")
# With limits: the container's own cgroups in /sys, read-only, as docker
# run has them; the runtime mounts cgroup v1 or v2, the one in use.
CGROUP_MOUNTS = [
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
]
# The most layers overlayfs puts under one mount (fs/overlayfs's OVL_MAX_STACK).
MAX_LAYERS = 500
# --cpus: the quota is given for each period of 100 ms, as Docker's.
CPU_PERIOD = 100000
# --userns: the ids outside that root's user namespace maps ids 0 to 65535 to.
USERNS_RANGE = (100000, 100000, 65536)
# The namespaces of every container (config.json's names), as the pid
# stage's, and the cgroup and time namespaces; --net host leaves out network.
NAMESPACES = ("pid", "network", "ipc", "uts", "mount", "cgroup", "time")

# container.py's options, the one table that its usage line, -h, the defaults
# and the README's list are made from: (option, its value, its default, what
# it does).  A default of False makes a switch; a list, an option that may be
# given again and again (see libns.parse_options).
OPTIONS = (
    ("-t", "", False, "give the container a terminal of its own (default when stdin is one)"),
    ("-T", "", False, "do not: the command writes straight to yours"),
    ("--privileged", "", False, "none of the confinement below, as docker run --privileged"),
    ("--cap-add", "CAPS", "",
     "keep these capabilities too (comma-separated, e.g. NET_ADMIN, or ALL)"),
    ("--cap-drop", "CAPS", "", "drop these from Docker's default list (or ALL)"),
    ("--security-opt", "OPTION", [], "no-new-privileges: setuid and setgid programs gain"
     " nothing (off by default, as in docker run); seccomp=unconfined: no seccomp filter;"
     " systempaths=unconfined: no masked or read-only /proc paths (repeatable)"),
    ("--userns", "", False, "as root: root inside is uid 100000 outside, the layers id-mapped"
     " (as an ordinary user, always your own uid)"),
    ("--rootfs", "DIR", None, "use the unpacked image in DIR as the root (default: the host's"
     " programs); read-only, with the container's writes in a layer thrown away at the end"),
    ("--rootfs-rw", "DIR", None, "the same, but writable: the container's writes change DIR"
     " itself"),
    ("--image", "FILE[:NAME]", None, "run an image that docker save, skopeo (oci-archive,"
     " dir) or podman save wrote, a tar file or its unpacked directory: its layers, command,"
     " Env, WorkingDir and User; NAME picks one of several in the file"),
    ("--cache", "DIR", None, "where each layer of an image is unpacked once (default: in"
     " $XDG_CACHE_HOME or ~/.cache, containers-do-not-exist; as root,"
     " /var/cache/containers-do-not-exist)"),
    ("--layer-limit", "SIZE", "16g", "the most a layer of an image may unpack to: a"
     " compression bomb stops there"),
    ("--inspect", "", False, "print the image's layers and config, and run nothing"),
    ("--spec", "", False, "print the spec that would run, shaped like the OCI config.json that"
     " docker run hands runc, and run nothing"),
    ("-e", "NAME=VALUE", [], "set NAME in the command's environment (repeatable; -e NAME"
     " takes yours)"),
    ("--volume", "HOST:CONTAINER[:ro]", [], "bind the host's HOST at CONTAINER inside,"
     " read-only with :ro (repeatable; docker run's -v, whose letter is the trace's here)"),
    ("--net", "none|veth|host", "none", "none: a network of its own with lo up, and nothing"
     " else; veth: and a veth pair to the host, an address, a default route (root only); host:"
     " the host's network, as docker run --net host"),
    ("--subnet", "CIDR", "10.200.0.0/16", "where --net veth takes each container's /30"),
    ("--hostname", "NAME", None, "the container's hostname (default: the image's, or"
     " container)"),
    ("--memory", "SIZE", None, "at most this much memory (64m, 1g: b, k, m, g), or the OOM"
     " killer ends the command: 137, as docker run --memory"),
    ("--memory-swap", "SIZE", None, "memory and swap together (-1: swap unlimited; default:"
     " twice --memory)"),
    ("--pids-limit", "N", None, "at most N processes and threads: the next fork fails with"
     " EAGAIN"),
    ("--cpus", "N", None, "at most N CPUs' worth of time (1.5, 0.2), as a quota every 100 ms"),
)
USAGE = " ".join(f"[{name}{' ' + value if value else ''}]{'...' if default == [] else ''}"
                 for name, value, default, _ in OPTIONS) + " [--] [COMMAND [ARG...]]"


def options_help():
    """The options as -h lists them, from OPTIONS: each with what it does, and its default."""
    import textwrap  # here: only -h and the docs' test need it
    lines = []
    for name, value, default, what in OPTIONS:
        head = f"  {name}{' ' + value if value else ''}"
        if isinstance(default, str) and default:
            what += f" (default: {default})"
        body = textwrap.wrap(what, 96 - 19, break_on_hyphens=False)
        if len(head) > 17:  # too long to share a line with what it does
            lines.append(head)
            head = ""
        lines += [f"{head if number == 0 else '':19}{text}" for number, text in enumerate(body)]
    return "\n".join(lines) + "\n" + AFTER_OPTIONS


AFTER_OPTIONS = """\
Without a command, container.py runs /bin/sh inside, as Docker runs an image's shell;
with --image, the image's Entrypoint and Cmd, a command replacing Cmd, as docker run.
Confinement, as docker run gives it: Docker's capabilities only, Docker's seccomp
profile, masked and read-only paths in /proc, nodev mounts."""


def security_options(values):
    """--security-opt's, as docker run reads them: {"no-new-privileges": bool, "seccomp": bool,
    "systempaths": bool}, True where the confinement stays."""
    chosen = {"no-new-privileges": False, "seccomp": True, "systempaths": True}
    for value in values:
        name, _, setting = value.replace("=", ":", 1).partition(":")
        if name == "no-new-privileges" and setting in ("", "true", "false"):
            chosen[name] = setting != "false"
        elif name in ("seccomp", "systempaths") and setting == "unconfined":
            chosen[name] = False
        else:
            raise ValueError(f"--security-opt {value}: known here are no-new-privileges,"
                             " seccomp=unconfined and systempaths=unconfined")
    return chosen


def kept_capabilities(cap_add, cap_drop):
    """Docker's default capabilities, with --cap-add's and without --cap-drop's."""
    kept = set(DOCKER_CAPABILITIES)
    kept = (set(libns.CAPABILITIES) if "ALL" in cap_add else kept | cap_add)
    return set() if "ALL" in cap_drop else kept - cap_drop


def capability_names(text):
    """{'NET_ADMIN', ...} from --cap-add's text: comma-separated, CAP_ or not, any case."""
    names = {name.strip().upper() for name in text.split(",") if name.strip()}
    names = {name[len("CAP_"):] if name.startswith("CAP_") else name for name in names}
    unknown = names - set(libns.CAPABILITIES) - {"ALL"}
    if unknown:
        raise ValueError(f"no such capability: {', '.join(sorted(unknown))}")
    return names


def environment(config, assignments, hostname, with_terminal):
    """The command's environment: the host's, or an image's as docker run makes it; then -e.

    With an image, the host's variables stay outside, as with docker run:
    PATH, HOSTNAME (and TERM with a terminal), then the image's Env.
    "-e NAME" without a value passes the host's NAME, if it is set.
    """
    if config is None:
        variables = dict(os.environ)
    else:
        variables = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
        if not config["User"]:
            variables["HOME"] = "/root"  # else the user's, from the image (become_user)
        if with_terminal:
            variables["TERM"] = "xterm"
        variables.update(item.split("=", 1) for item in config["Env"])
    for assignment in assignments:
        name, has_value, value = assignment.partition("=")
        if not name or "\0" in assignment:
            raise ValueError(f"-e {assignment!r}: give it as NAME=VALUE or NAME")
        if has_value:
            variables[name] = value
        elif name in os.environ:
            variables[name] = os.environ[name]
    return variables


def open_image(path, argv, cache, inspect, limit):
    """The image at `path`, its layers unpacked in the cache; and its command.

    Returns (the layers' directories, topmost first, as overlayfs wants
    them; the config; the command).  Any fault of the image ends the tool
    here, with one line and 125, before a container starts.
    """
    import image  # here, not at the top: tarfile and gzip cost every other start 6 ms
    cache = cache or image.default_cache()
    # FILE, or FILE:NAME for one image of several (podman's docker-archive:FILE:NAME).
    archive, name = path, None
    if not os.path.exists(path):
        splits = [position for position, letter in enumerate(path) if letter == ":"]
        for position in reversed(splits):  # the longest FILE that is there
            if os.path.exists(path[:position]):
                archive, name = path[:position], path[position + 1:]
                break
    try:
        found = image.Image(archive, name, cache)
        if inspect:
            libns.write_stdout(image.describe(found, cache))
            libns.flush_output()
            os._exit(0)
        if len(found.layers) > MAX_LAYERS:
            raise image.ImageError(f"{len(found.layers)} layers, and overlayfs stacks at most"
                                   f" {MAX_LAYERS} (OVL_MAX_STACK)")
        command = found.config["Entrypoint"] + (argv or found.config["Cmd"])
        if not command:
            raise image.ImageError("no Entrypoint nor Cmd in the image: name a command")
        progress = image.show_progress if os.isatty(2) else None
        # Ctrl-C, SIGTERM or a closed terminal in the middle of an unpack:
        # the half layer is removed on the way out, then we die of it.
        previous = {signum: signal.signal(signum, _interrupt) for signum in INTERRUPTIONS}
        try:
            layers = image.unpacked_layers(found, cache, progress, limit)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    except image.ImageError as error:
        raise ValueError(f"--image {path}: {error}") from None
    except Interrupted as interruption:
        libns.die_by_signal(interruption.signum)  # the partial layer is already gone
    return layers[::-1], found.config, command




# The signals that end an unpack cleanly: Ctrl-C, kill's default, a closed terminal.
INTERRUPTIONS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """A signal of INTERRUPTIONS came: unwind, removing what was half made, then die of it."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum, frame):
    raise Interrupted(signum)


def size_in_bytes(option, text):
    """64m as 67108864: docker run's sizes, b, k, m, g, t (powers of 1024), case and b aside."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?) ?([kmgt]?)i?b?", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{option} {text}: give a size, such as 64m or 1.5g")
    number, unit = match.groups()
    return int(float(number) * 1024 ** " kmgt".index(unit.lower() or " "))


def resources_of(options):
    """The limits, as the spec's linux.resources, checked as docker run checks them; or None."""
    resources = {}
    if options["--memory"] is not None:
        limit = size_in_bytes("--memory", options["--memory"])
        if limit < 6 * 1024 * 1024:
            raise ValueError(f"--memory {options['--memory']}: the least is 6m, as Docker's")
        resources["memory"] = {"limit": limit, "swap": 2 * limit}  # Docker's default
    if options["--memory-swap"] is not None:
        if "memory" not in resources:
            raise ValueError("--memory-swap: give --memory too; the swap is counted with it")
        swap = options["--memory-swap"]
        swap = -1 if swap == "-1" else size_in_bytes("--memory-swap", swap)
        if 0 <= swap < resources["memory"]["limit"]:
            raise ValueError(f"--memory-swap {options['--memory-swap']}: it counts the memory"
                             " too, so it is at least --memory")
        resources["memory"]["swap"] = swap
    if options["--pids-limit"] is not None:
        text = options["--pids-limit"]
        if not text.lstrip("-").isdigit():
            raise ValueError(f"--pids-limit {text}: give a number of processes")
        if int(text) > 0:  # 0 and -1: no limit, as docker run
            resources["pids"] = {"limit": int(text)}
    if options["--cpus"] is not None:
        text = options["--cpus"]
        try:
            cpus = float(text)
        except ValueError:
            cpus = 0
        if not 0.01 <= cpus <= os.cpu_count():
            raise ValueError(f"--cpus {text}: from 0.01 to {os.cpu_count()}, the CPUs here")
        resources["cpu"] = {"quota": round(cpus * CPU_PERIOD), "period": CPU_PERIOD}
    return resources or None


def check_rootfs(rootfs, argv):
    """Refuse `rootfs` as the root of a container, with why, unless it can be one.

    `argv` is the command given, or None: then /bin/sh must be there.
    """
    if not rootfs:
        raise ValueError("an empty path names no directory")
    if os.path.realpath(rootfs) == "/":
        raise ValueError("this is the host's own root; a container needs a root of its own")
    try:
        names = os.listdir(rootfs)
    except OSError as error:
        raise ValueError(error.strerror) from None  # missing, not a directory, or not ours
    for name in ("proc", "dev", "tmp"):
        # A mount follows a symbolic link, and a link in an image may point
        # anywhere on the host: tmp -> / would put the container's /tmp over
        # the host's root, and then let it write there.
        if os.path.islink(f"{rootfs}/{name}"):
            raise ValueError(f"/{name} is a symbolic link (to {os.readlink(f'{rootfs}/{name}')}):"
                             " a mount on it would land outside the rootfs")
        if name not in names or not os.path.isdir(f"{rootfs}/{name}"):
            raise ValueError(f"no /{name} directory to mount on")
    if argv is None and not os.path.lexists(f"{rootfs}/bin/sh"):
        raise ValueError("no /bin/sh to run; name a command")


def volume_mount(volume, rootfs, writable):
    """--volume HOST:CONTAINER[:ro] as the spec's bind mount; refused at start if it cannot be."""
    host, _, rest = volume.partition(":")
    inside, _, mode = rest.partition(":")
    if not host or not inside or mode not in ("", "ro", "rw"):
        raise ValueError("give it as HOST:CONTAINER or HOST:CONTAINER:ro")
    if not os.path.exists(host):
        raise ValueError(f"{host}: No such file or directory")
    if not inside.startswith("/") or ".." in inside.split("/"):
        raise ValueError(f"{inside}: a path inside the container is absolute and has no ..")
    if not inside.strip("/"):
        raise ValueError(f"{inside}: the container's root is its own; mount below it")
    if rootfs is not None:
        # No link on the way may lead out of an image; and one the container
        # writes to (--rootfs-rw) is not ours to change: its mount point
        # must be there already.
        path = rootfs
        for part in filter(None, inside.split("/")):
            path = f"{path}/{part}"
            if os.path.islink(path):
                raise ValueError(f"{inside}: {path[len(rootfs):]} is a symbolic link in the rootfs")
        if not os.path.exists(path) and writable:
            raise ValueError(f"{inside}: no such path in the rootfs to mount on; make it first")
    return {"destination": inside, "type": "bind", "source": host,
            "options": ["rbind", mode or "rw", "nodev"]}


def build_spec(options, argv):
    """The options as a spec shaped like the OCI config.json: what `docker run` hands runc.

    Everything a stranger gives (a rootfs, an image, a volume, a network)
    is checked here, before anything starts, so that a refusal leaves
    nothing half made.  See runtime/__init__.py for what the spec holds.
    """
    rootfs, writable = checked_rootfs(options, argv)
    resources = resources_of(options)
    layered = options["--image"] is not None or (rootfs is not None and not writable)
    # An image's own /tmp is in its writable layer, as under docker run.
    mounts = [mount for mount in DEFAULT_MOUNTS if not layered or mount["destination"] != "/tmp"]
    mounts += CGROUP_MOUNTS if resources else []
    for volume in options["--volume"]:
        try:
            mounts.append(volume_mount(volume, rootfs, writable))
        except ValueError as error:
            raise ValueError(f"--volume {volume}: {error}") from None
    if options["-t"] and not os.isatty(0):
        raise ValueError("-t: stdin is not a terminal (leave out -t, or use -T)")
    with_terminal = os.isatty(0) and not options["-T"]
    network_spec = network_of(options)
    kept = kept_capabilities(capability_names(options["--cap-add"]),
                             capability_names(options["--cap-drop"]))
    config = None
    if options["--image"] is not None:
        layers, config, argv = open_image(options["--image"], argv, options["--cache"],
                                          options["--inspect"],
                                          size_in_bytes("--layer-limit", options["--layer-limit"]))
        root = {"layers": layers}
    elif rootfs:
        root = {"path": rootfs} if writable else {"layers": [rootfs]}
    else:
        root = {"hostDirectories": list(HOST_DIRECTORIES)}
    hostname = options["--hostname"] or (config and config["Hostname"]) or "container"
    variables = environment(config, options["-e"], hostname, with_terminal)
    privileged = options["--privileged"]
    security = security_options(options["--security-opt"])
    process = {
        "terminal": with_terminal,
        "user": {"username": config["User"]} if config and config["User"] else {"uid": 0, "gid": 0},
        "args": argv or DEFAULT_COMMAND,
        "env": [f"{name}={value}" for name, value in variables.items()],
        "cwd": (config and config["WorkingDir"]) or "/",
        "noNewPrivileges": security["no-new-privileges"] and not privileged,
    }
    if not privileged:
        names = [f"CAP_{name}" for name in sorted(kept)]
        process["capabilities"] = {kind: names for kind in ("bounding", "effective", "permitted")}
    kinds = [kind for kind in NAMESPACES if kind != "network" or options["--net"] != "host"]
    linux = {"namespaces": [{"type": kind} for kind in kinds],
             "devices": [{"path": f"/dev/{name}"} for name in DEVICES],
             "maskedPaths": list(MASKED_PATHS) if security["systempaths"] and not privileged
             else [],
             "readonlyPaths": list(READ_ONLY_PATHS) if security["systempaths"] and not privileged
             else [],
             **user_namespace_of(options)}
    if security["seccomp"] and not privileged:
        linux["seccomp"] = seccomp.docker_profile(kept)  # read before the host's files are gone
    if resources:
        # Relative: below the tool's own cgroup, in each tree (see runtime/cgroups.py).
        linux["resources"] = resources
        linux["cgroupsPath"] = f"{cgroups.PREFIX}{os.getpid()}"
    if linux.get("uidMappings"):
        linux["namespaces"].append({"type": "user"})
    spec = {"ociVersion": "1.0.2", "process": process, "root": root, "hostname": hostname,
            "mounts": mounts, "linux": linux}
    if layered:
        spec["files"] = runtime_files(hostname, options["--net"], network_spec)
    if network_spec:
        spec["network"] = network_spec
    return spec


def runtime_files(hostname, net, network_spec):
    """/etc/hosts, /etc/hostname and /etc/resolv.conf, as dockerd writes them for a container.

    The host's resolv.conf, without the nameservers on its loopback, which
    a network namespace of its own cannot reach (Docker's rule); the
    host's as it is with --net host.
    """
    hosts = DOCKER_HOSTS
    if network_spec.get("veth"):
        hosts += f"{network_spec['veth'][2]}\t{hostname}\n"
    try:
        with open("/etc/resolv.conf") as resolv:
            lines = resolv.read().splitlines()
    except OSError:
        lines = []
    if net != "host":
        lines = [line for line in lines if not re.match(r"nameserver\s+(127\.|::1\b)", line)]
    return {"/etc/hosts": hosts, "/etc/hostname": f"{hostname}\n",
            "/etc/resolv.conf": "".join(line + "\n" for line in lines)}


def checked_rootfs(options, argv):
    """(--rootfs or --rootfs-rw's directory, or None; whether it is writable), checked."""
    roots = [name for name in ("--rootfs", "--rootfs-rw", "--image") if options[name] is not None]
    if len(roots) > 1:
        raise ValueError(f"{' and '.join(roots)}: a container has one root")
    if options["--inspect"] and options["--image"] is None:
        raise ValueError("--inspect: name an image with --image FILE")
    writable = options["--rootfs-rw"] is not None
    rootfs = options["--rootfs-rw"] if writable else options["--rootfs"]
    rootfs = rootfs and os.path.realpath(rootfs)
    if rootfs is not None:
        try:
            check_rootfs(rootfs, argv or None)
        except ValueError as error:
            raise ValueError(f"{roots[0]} {rootfs}: {error}") from None
    return rootfs, writable


def network_of(options):
    """--net's part of the spec: {} for none and host, {"veth": the pair} for veth."""
    if options["--net"] not in ("none", "veth", "host"):
        raise ValueError(f"--net {options['--net']}: it is none, veth or host")
    if options["--net"] != "veth":
        return {}
    network.refuse_veth_without_root()
    try:
        return {"veth": network.free_veth_subnet(options["--subnet"])}
    except ValueError as error:
        raise ValueError(f"--subnet {options['--subnet']}: {error}") from None


def user_namespace_of(options):
    """The id mappings of the container's user namespace, if it has one (linux.uidMappings)."""
    if options["--userns"] and os.geteuid() == 0:
        # Root inside is 100000 outside, with 65535 more ids after it, as
        # Podman and Docker's userns-remap give: a capability forgotten in
        # the list above is then one over the container's namespaces only.
        uid, gid, size = USERNS_RANGE
    elif os.geteuid() != 0:
        # An ordinary user: a user namespace of their own, where their uid is root's.
        uid, gid, size = os.geteuid(), os.getegid(), 1
    else:
        return {}
    return {"uidMappings": [{"containerID": 0, "hostID": uid, "size": size}],
            "gidMappings": [{"containerID": 0, "hostID": gid, "size": size}]}


def main():
    options, argv = libns.parse_options(sys.argv[1:], __doc__, USAGE,
                                        {name: default for name, _, default, _ in OPTIONS},
                                        options_help)
    libns.errors_exit_like_docker_run()  # from here, every error is one line and 125
    spec = build_spec(options, argv)
    if options["--spec"]:
        libns.write_stdout(json.dumps(spec, indent=2) + "\n")
        libns.exit(0)
    state = steps.run(spec)
    if state["OOMKilled"]:
        # Whoever the OOM killer chose, the command or PID 1: 137, as docker run says it.
        libns.write_stderr(f"container.py: killed: out of memory, --memory {options['--memory']}")
        libns.exit(137)
    libns.exit(state["ExitCode"])


if __name__ == "__main__":
    main()
