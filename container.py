"""container.py: a whole container, from the same syscalls as the stages.

The tutorial ends with a question: inside the mount namespace you still see
every host mount; how to stop that?  The answer is pivot_root(2).  The child
builds a new root of its own, makes it the root of its mount namespace, and
detaches the old one.  Then `mount` lists only the container's mounts,
because nothing else is left in its namespace.

What it does, on top of the pid stage:
- CLONE_NEWCGROUP: /proc/self/cgroup shows the child's cgroup as "/".
- the time namespace, so that `cat /proc/uptime` starts near zero.  Its flag
  cannot go through clone() (see start_clocks_near_zero below).
- a new root: a fresh tmpfs holding read-only bind mounts of the host's
  /usr, /bin, /sbin, /lib, /lib64 and /etc (those that exist), a fresh /proc,
  a minimal /dev, a tmpfs /tmp; or an image: with --image, the layers of one
  that `docker save` wrote (see image.py), with --rootfs, an unpacked one
  (for example from `docker export`), both read-only under overlayfs with a
  throwaway layer on top for the container's writes (make_overlay_root).
- a small init as PID 1 (see init below), which runs the command as PID 2.
- a terminal of its own when stdin is a terminal (-t, see terminal.py), as
  `docker run -it` gives: job control, `tty`, the window size.
- as an ordinary user, a user namespace, as in every stage.

Try:    python3 container.py mount                 (only the container's own)
        python3 container.py ps -e                 (the init, and ps)
        python3 container.py cat /proc/uptime      (near zero)
        python3 container.py --rootfs DIR          (a shell in an image)
        python3 container.py --image FILE.tar      (an image from docker save)
"""
import errno
import os
import signal
import stat
import sys
import time

import libns
import net_veth
import seccomp
import terminal

clone_flags = (
    libns.CLONE_NEWCGROUP |
    libns.CLONE_NEWPID |
    libns.CLONE_NEWIPC |
    libns.CLONE_NEWUTS |
    libns.CLONE_NEWNS |
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)

HOST_DIRECTORIES = ("usr", "bin", "sbin", "lib", "lib64", "etc")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# Where the default root is built: a directory every system has.  The tmpfs
# mounted on it exists only in the child's private mount namespace.
BUILD_DIRECTORY = "/tmp"
# Inside the container the host's $SHELL may not exist: /bin/sh, as Docker.
DEFAULT_COMMAND = ["/bin/sh"]
# An image's command gets the image's environment, not the host's; these
# are docker run's defaults, before the image's Env and -e.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What root inside may still do, as `docker run` leaves it by default: its
# default capabilities ("Runtime privilege and Linux capabilities",
# docs.docker.com/engine/containers/run/).  The system calls it may make are
# Docker's default seccomp profile's: see seccomp.py.
DOCKER_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                       "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                       "AUDIT_WRITE")
# Files of /proc that tell about, or change, the whole machine: Docker's
# masked paths (hidden behind /dev/null or an empty tmpfs; moby's
# daemon/pkg/oci/defaults.go) and read-only ones.  /proc/interrupts and the
# timers' lists tell what other tenants of the machine do, and when (a side
# channel, GHSA-6fw5-f8r9-fgfm); kcore is its memory, keys its keyrings.
MASKED_PATHS = ("/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
                "/proc/timer_stats")
READ_ONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# Docker's sizes for the tmpfs on /dev (65536k) and /dev/shm (--shm-size's
# default): without one, each may fill half the machine's memory.
DEV_SIZE = SHM_SIZE = "64m"

# An image's layers, as overlayfs takes them: read-only, and nodev, so that a
# device node a layer holds opens nothing, whatever path reaches it.
LAYER_ATTRIBUTES = libns.MOUNT_ATTR_RDONLY | libns.MOUNT_ATTR_NODEV
# --userns: the ids outside that root's user namespace maps ids 0 to 65535 to.
USERNS_RANGE = (100000, 100000, 65536)

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
    ("--userns", "", False, "as root: root inside is uid 100000 outside, the layers id-mapped"
     " (as an ordinary user, always your own uid)"),
    ("--rootfs", "DIR", None, "use the unpacked image in DIR as the root (default: the host's"
     " programs); read-only, with the container's writes in a layer thrown away at the end"),
    ("--rootfs-rw", "DIR", None, "the same, but writable: the container's writes change DIR"
     " itself"),
    ("--image", "FILE", None, "run an image that docker save or skopeo (oci-archive) wrote, a"
     " tar file or its unpacked directory: its layers, command, Env, WorkingDir and User"),
    ("--cache", "DIR", None, "where each layer of an image is unpacked once (default: in"
     " $XDG_CACHE_HOME or ~/.cache, containers-do-not-exist; as root,"
     " /var/cache/containers-do-not-exist)"),
    ("--inspect", "", False, "print the image's layers and config, and run nothing"),
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
Confinement, as docker run gives it: Docker's capabilities only, no_new_privs, Docker's
seccomp profile, masked and read-only paths in /proc, nodev mounts."""


def make_default_root():
    """A fresh tmpfs with read-only bind mounts of the host's programs and /etc."""
    root = BUILD_DIRECTORY
    libns.mount("tmpfs", root, "tmpfs", libns.MS_NOSUID | libns.MS_NODEV, "mode=755")
    for name in HOST_DIRECTORIES:
        host_path, path = f"/{name}", f"{root}/{name}"
        if os.path.islink(host_path):
            # /bin -> usr/bin on merged-/usr systems: the link, not a copy.
            os.symlink(os.readlink(host_path), path)
        elif os.path.isdir(host_path):
            os.mkdir(path)
            # Read-only, submounts included (/etc/hosts under Docker is one):
            # the container must not change the host's programs and settings.
            libns.bind_mount(host_path, path, read_only=True, nodev=True)
    for name in ("proc", "dev", "tmp"):
        os.mkdir(f"{root}/{name}")
    return root


def use_rootfs(rootfs):
    """--rootfs-rw: an unpacked image as the root, writable: a bind mount of it.

    A bind mount, so that it is a mount point, as pivot_root needs.  nodev:
    a device node in an image (or made inside with mknod) must not open a
    device of the host, such as its disk.
    """
    libns.bind_mount(rootfs, rootfs, nodev=True)
    return rootfs


def make_overlay_root(trees):
    """An image's layers as one read-only tree, under a writable layer of the container's own.

    overlayfs shows the union of the lower directories (the layers, topmost
    first), and sends every write to the upper one: a changed file is first
    copied up whole, a deleted one is hidden by a whiteout there.  The
    upper directory is in a tmpfs of this mount namespace, so what the
    container writes is gone when it ends, and the image, which others may
    run at the same time, is never changed.  The layers come as detached
    mounts (`trees`, libns.clone_mount), made before this tmpfs covered
    BUILD_DIRECTORY, where they may lie; each is put in it, as overlayfs
    takes its layers from this mount namespace only.  `userxattr`: the
    layers mark their opaque directories with user.overlay.* xattrs (see
    image.py).  nodev, as in use_rootfs.
    """
    scratch = BUILD_DIRECTORY
    libns.mount("tmpfs", scratch, "tmpfs", libns.MS_NOSUID | libns.MS_NODEV, "mode=755")
    for name in ("upper", "work", "root", "layers"):
        os.mkdir(f"{scratch}/{name}")
    for number, tree in enumerate(trees):
        os.mkdir(f"{scratch}/layers/{number}")
        libns.move_mount(tree, f"{scratch}/layers/{number}")
        os.close(tree)
    lowerdir = ":".join(f"{scratch}/layers/{number}" for number in range(len(trees)))
    libns.mount("overlay", f"{scratch}/root", "overlay", libns.MS_NODEV,
                f"lowerdir={lowerdir},upperdir={scratch}/upper,workdir={scratch}/work,userxattr")
    root = f"{scratch}/root"
    for name in ("proc", "dev", "tmp"):
        os.close(open_mount_point(root, f"/{name}", directory=True, create=True,
                                  what=f"the image's /{name}"))
    return root


def open_mount_point(root, inside, directory, create, what):
    """An O_PATH descriptor of `inside` under `root`, made if missing and `create`.

    The kernel follows a link in a mount's target, and a link in an image
    may point anywhere on the host: a mount on it would land outside the
    image, and a directory made through it would be made on the host.  A
    check of the path first, then a mkdir or mount by the path, could be
    raced by whoever may change the tree meanwhile (the owner of a
    --rootfs-rw directory swaps a directory for a link).  So each part is
    opened from the descriptor of the one before, with O_NOFOLLOW, and a
    missing one made there (mkdirat): no link is ever followed, and the
    mount goes onto the descriptor (see libns.bind_mount_between).
    """
    descriptor = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    parts = [part for part in inside.split("/") if part]
    try:
        for number, part in enumerate(parts, 1):
            last = number == len(parts)
            try:
                following = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC,
                                    dir_fd=descriptor)
            except FileNotFoundError:
                if not create:
                    raise OSError(errno.ENOENT, f"{what}: {inside} is not in the root to"
                                  " mount on; make it first") from None
                if not last or directory:
                    os.mkdir(part, 0o755, dir_fd=descriptor)
                else:
                    os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                     | os.O_CLOEXEC, 0o644, dir_fd=descriptor))
                following = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC,
                                    dir_fd=descriptor)
            if stat.S_ISLNK(os.fstat(following).st_mode):
                link = os.readlink(part, dir_fd=descriptor)
                os.close(following)
                where = "/" + "/".join(parts[:number])
                raise OSError(errno.ELOOP, f"{what}: {where} is a symbolic link (to {link}):"
                              " a mount on it would land outside the image")
            os.close(descriptor)
            descriptor = following
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def make_dev(root):
    """A minimal /dev: a few host devices, a new devpts instance, /dev/shm.

    The devices are bind mounts of the host's, not mknod(2): a user namespace
    may not create device nodes, and a bind mount works for root too.  The
    devpts instance is new, so the container's terminals are its own.
    """
    dev = f"{root}/dev"
    libns.mount("tmpfs", dev, "tmpfs", libns.MS_NOSUID | libns.MS_NOEXEC | libns.MS_NODEV,
                f"mode=755,size={DEV_SIZE}")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            open(f"{dev}/{name}", "w").close()
            libns.bind_mount(f"/dev/{name}", f"{dev}/{name}")
    os.mkdir(f"{dev}/pts")
    libns.mount("devpts", f"{dev}/pts", "devpts", libns.MS_NOSUID | libns.MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=620")
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    os.mkdir(f"{dev}/shm")
    libns.mount("tmpfs", f"{dev}/shm", "tmpfs", libns.MS_NOSUID | libns.MS_NODEV,
                f"mode=1777,size={SHM_SIZE}")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")


def hide_machine_paths(root):
    """Docker's masked and read-only /proc paths, under the container's root.

    /proc/kcore is the machine's memory, /proc/keys the kernel's keyrings,
    /proc/sysrq-trigger reboots it and /proc/sys tunes it: none of them is
    a namespace's.  Masked: /dev/null bound over a file, an empty read-only
    tmpfs over a directory.  Read-only: bound on itself, then made read-only.
    """
    for path in MASKED_PATHS:
        target = f"{root}{path}"
        if os.path.isdir(target):
            libns.mount("tmpfs", target, "tmpfs", libns.MS_RDONLY, "size=0")
        elif os.path.exists(target):
            libns.bind_mount("/dev/null", target)
    for path in READ_ONLY_PATHS:
        if os.path.exists(f"{root}{path}"):
            libns.bind_mount(f"{root}{path}", f"{root}{path}", read_only=True)


def kept_capabilities(cap_add, cap_drop):
    """Docker's default capabilities, with --cap-add's and without --cap-drop's."""
    kept = set(DOCKER_CAPABILITIES)
    kept = (set(libns.CAPABILITIES) if "ALL" in cap_add else kept | cap_add)
    return set() if "ALL" in cap_drop else kept - cap_drop


def confine(kept, profile):
    """Cut what root inside may do to the kernel, for PID 1 and all it starts.

    Each layer stops a kind of escape on its own, as Docker's do:
    capabilities, what root may do at all (load a module, set the clock,
    open files by handle); no_new_privs, that no setuid program gets more;
    the seccomp filter, every call Docker's profile does not name (those
    that reach kernel state no namespace covers, and every call newer than
    the profile), whatever the capabilities; the calls that need a
    capability are allowed with it.  See `python3 escapes.py`.  `profile`
    is seccomp.docker_profile(kept), read before the host's files are gone.
    """
    libns.keep_only_capabilities(kept)
    libns.set_no_new_privs()
    libns.load_seccomp_filter(seccomp.compile(profile),
                              seccomp.describe(profile) if libns.tracing else ())


def capability_names(text):
    """{'NET_ADMIN', ...} from --cap-add's text: comma-separated, CAP_ or not, any case."""
    names = {name.strip().upper() for name in text.split(",") if name.strip()}
    names = {name[len("CAP_"):] if name.startswith("CAP_") else name for name in names}
    unknown = names - set(libns.CAPABILITIES) - {"ALL"}
    if unknown:
        libns.exit_with_message(f"no such capability: {', '.join(sorted(unknown))}", 125)
    return names


def switch_root(root):
    """Make `root` the root of this mount namespace, and detach the old one.

    pivot_root(".", ".") puts the old root on top of the new one; the
    umount2 with MNT_DETACH then removes it from the namespace at once.
    After that, no path leads back to the host's files.
    """
    os.chdir(root)
    libns.pivot_root(".", ".")
    libns.umount2(".", libns.MNT_DETACH)
    os.chdir("/")


def start_clocks_near_zero():
    """Enter a new time namespace whose monotonic and boot clocks start near zero.

    CLONE_NEWTIME cannot go through clone(): its bit lies in clone's low byte,
    which holds the child's exit signal.  unshare(CLONE_NEWTIME) instead moves
    only the caller's future children, so PID 1 calls it and its child, the
    command, is the first process in the namespace.  The clocks' offsets
    must be written before that first process enters.  See time_namespaces(7).
    """
    if not os.path.exists("/proc/self/ns/time"):
        return  # Linux before 5.6 has no time namespace
    libns.unshare(libns.CLONE_NEWTIME)
    with open("/proc/self/timens_offsets", "w") as offsets_file:
        for name, clock in (("monotonic", time.CLOCK_MONOTONIC),
                            ("boottime", time.CLOCK_BOOTTIME)):
            # "CLOCK SECONDS NANOSECONDS", nanoseconds never negative.
            seconds, nanoseconds = divmod(-time.clock_gettime_ns(clock), 1_000_000_000)
            offsets_file.write(f"{name} {seconds} {nanoseconds}\n")


def init(argv, pts=None, user=None):
    """PID 1: start the command as PID 2, pass signals on, reap every zombie.

    The PID-1 trap of the pid stage: the kernel gives PID 1 only the signals
    it has a handler for.  This init has handlers for SIGINT, SIGTERM and the
    rest of libns's forwarded signals, and passes them on to the command,
    which is not PID 1 and so gets them as any process does.  It also reaps
    every child: orphans are handed to PID 1, and stay zombies until it
    waits for them.  It ends when the command ends, with its status; as PID
    1 cannot die of a signal sent to itself, a command killed by signal N
    makes it exit with 128+N, as a shell reports it.  With `pts`, the
    container's terminal (-t), the command is a session of its own on it;
    with `user`, an image's User, it runs with those ids (see become_user).
    """
    def setup():
        if pts is not None:
            terminal.attach(0)  # the pts, which keep_nothing_of_the_host() put there
        if user:
            become_user(user)
    keep_nothing_of_the_host(pts)
    returncode = libns.run(0, setup, argv, as_init=True)
    libns.flush_output()
    os._exit(128 - returncode if returncode < 0 else returncode)


def keep_nothing_of_the_host(pts):
    """PID 1 lives beside the command: leave it nothing that the container does not have.

    A process of the runtime's inside the container is a door if it holds
    something of the host's (runc's CVE-2016-9962 and CVE-2024-21626): the
    command could walk /proc/1/fd/N/../.. from a host directory to the
    host's root, or write to the host's terminal through /proc/1/fd/0.
    """
    if pts is not None:
        # The host's terminal: through it the command could type into the
        # host's shell's terminal and change its settings.  The container's
        # own terminal takes its place, for the init's own messages too.
        for fd in (0, 1, 2):
            os.dup2(pts, fd)
        os.close(pts)
    # Every other descriptor: those the tool was given (`exec 9< /tmp`),
    # the layers' and volumes' O_PATH ones, the terminal's socket.  Each
    # leads to the host's files, whatever the container's root.
    libns.close_fds_from_3_except()
    # Not dumpable: the command may no longer open /proc/1/fd, mem, environ,
    # root or cwd, ptrace(2) PID 1 or take its descriptors (pidfd_getfd):
    # that needs CAP_SYS_PTRACE over the user namespace PID 1's memory was
    # made in, the host's.  execve(2) makes the command dumpable again.
    libns.set_dumpable(False)


def become_user(user):
    """An image's User, "name" or "uid", maybe with ":group" or ":gid", as docker run reads it.

    Names are looked up in the image's /etc/passwd and /etc/group, not the
    host's: after pivot_root, those are the only ones there are.  The
    groups go first: after setuid(), nothing may change them any more.
    """
    name, _, group = user.partition(":")
    entry = _lookup("/etc/passwd", name, 2)
    if entry is None and not name.isdigit():
        raise OSError(errno.ENOENT, f"User {user}: no user {name} in the image's /etc/passwd")
    uid, gid, home = (int(entry[2]), int(entry[3]), entry[5]) if entry else (int(name), 0, "/")
    if group:
        group_entry = _lookup("/etc/group", group, 2)
        if group_entry is None and not group.isdigit():
            raise OSError(errno.ENOENT, f"User {user}: no group {group} in the image's /etc/group")
        gid = int(group_entry[2]) if group_entry else int(group)
    groups = sorted({gid, *(int(fields[2]) for fields in _entries("/etc/group")
                            if entry and entry[0] in fields[3].split(","))})
    try:
        with open("/proc/self/setgroups") as setgroups:
            may_set_groups = setgroups.read().strip() == "allow"
    except FileNotFoundError:
        may_set_groups = True  # no user namespace here: the host's root
    if may_set_groups:
        os.setgroups(groups)
    try:
        os.setgid(gid)
        os.setuid(uid)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        # Rootless, the user namespace maps one id, yours, as root inside,
        # and has written "deny" to setgroups: no other uid or gid exists
        # here, and the groups stay as they are (as under `unshare -r`).
        unmapped = " and ".join(f"{kind} {number}" for kind, number in (("uid", uid), ("gid", gid))
                                if not _mapped(f"/proc/self/{kind}_map", number))
        raise OSError(errno.EINVAL, f"User {user}: {unmapped}: no such id in this user namespace"
                      " (rootless, it maps only your own id, as root inside; run as root to"
                      " have more)") from None
    os.environ.setdefault("HOME", home)


def _mapped(map_path, number):
    """True when the id `number` has a line in this user namespace's uid_map or gid_map."""
    with open(map_path) as id_map:
        ranges = [tuple(map(int, line.split())) for line in id_map]
    return any(inside <= number < inside + count for inside, _, count in ranges)


def _entries(path):
    """The lines of /etc/passwd or /etc/group, as lists of fields."""
    try:
        with open(path) as file:
            return [line.rstrip("\n").split(":") for line in file if line.count(":") >= 3]
    except FileNotFoundError:
        return []


def _lookup(path, key, id_field):
    """The entry of `path` whose name, or id, is `key`."""
    return next((fields for fields in _entries(path)
                 if fields[0] == key or (key.isdigit() and fields[id_field] == key)), None)


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
            libns.exit_with_message(f"-e {assignment!r}: give it as NAME=VALUE or NAME", 125)
        if has_value:
            variables[name] = value
        elif name in os.environ:
            variables[name] = os.environ[name]
    return variables


def open_image(path, argv, cache, inspect):
    """The image at `path`, its layers unpacked in the cache; and its command.

    Returns (the layers' directories, topmost first, as overlayfs wants
    them; the config; the command).  Any fault of the image ends the tool
    here, with one line and 125, before a container starts.
    """
    import image  # here, not at the top: tarfile and gzip cost every other start 6 ms
    cache = cache or image.default_cache()
    try:
        found = image.Image(path)
        if inspect:
            libns.write_stdout(image.describe(found, cache))
            libns.flush_output()
            os._exit(0)
        command = found.config["Entrypoint"] + (argv or found.config["Cmd"])
        if not command:
            raise image.ImageError("no Entrypoint nor Cmd in the image: name a command")
        progress = image.show_progress if os.isatty(2) else None
        layers = image.unpacked_layers(found, cache, progress)
    except image.ImageError as error:
        libns.exit_with_message(f"--image {path}: {error}", 125)
    except KeyboardInterrupt:
        libns.die_by_signal(signal.SIGINT)  # the partial layer is already gone
    return layers[::-1], found.config, command


def rootfs_problem(rootfs, argv):
    """Why `rootfs` cannot be the root of a container; None if it can.

    `argv` is the command given, or None: then /bin/sh must be there.
    """
    if not rootfs:
        return "an empty path names no directory"
    if os.path.realpath(rootfs) == "/":
        return "this is the host's own root; a container needs a root of its own"
    try:
        names = os.listdir(rootfs)
    except OSError as error:
        return error.strerror  # missing, not a directory, or not ours to read
    for name in ("proc", "dev", "tmp"):
        # A mount follows a symbolic link, and a link in an image may point
        # anywhere on the host: tmp -> / would put the container's /tmp over
        # the host's root, and then let it write there.
        if os.path.islink(f"{rootfs}/{name}"):
            return (f"/{name} is a symbolic link (to {os.readlink(f'{rootfs}/{name}')}):"
                    " a mount on it would land outside the rootfs")
        if name not in names or not os.path.isdir(f"{rootfs}/{name}"):
            return f"no /{name} directory to mount on"
    if argv is None and not os.path.lexists(f"{rootfs}/bin/sh"):
        return "no /bin/sh to run; name a command"
    return None


def volume_problem(volume, rootfs, writable):
    """Why --volume HOST:CONTAINER[:ro] cannot be mounted; None if it can.  Checked at start."""
    host, _, rest = volume.partition(":")
    inside, _, mode = rest.partition(":")
    if not host or not inside or mode not in ("", "ro", "rw"):
        return "give it as HOST:CONTAINER or HOST:CONTAINER:ro"
    if not os.path.exists(host):
        return f"{host}: No such file or directory"
    if not inside.startswith("/") or ".." in inside.split("/"):
        return f"{inside}: a path inside the container is absolute and has no .."
    if not inside.strip("/"):
        return f"{inside}: the container's root is its own; mount below it"
    if rootfs is not None:
        # No link on the way may lead out of an image; and one the container
        # writes to (--rootfs-rw) is not ours to change: its mount point
        # must be there already.
        path = rootfs
        for part in filter(None, inside.split("/")):
            path = f"{path}/{part}"
            if os.path.islink(path):
                return f"{inside}: {path[len(rootfs):]} is a symbolic link in the rootfs"
        if not os.path.exists(path) and writable:
            return f"{inside}: no such path in the rootfs to mount on; make it first"
    return None


def open_volume(volume):
    """The host's side of --volume, opened before the root is built over /tmp.

    An O_PATH descriptor names the file itself, wherever the path later
    leads: a source under /tmp stays reachable, and /proc/self/fd/N is
    what the bind mount takes as its source.
    """
    return os.open(volume.partition(":")[0], os.O_PATH | os.O_CLOEXEC)


def mount_volume(root, volume, source_fd, create):
    """--volume HOST:CONTAINER[:ro]: the host's file or directory, bound into the container.

    `create`: the mount point may be made, in a root whose writes are the
    container's own (not --rootfs-rw's).
    """
    inside, _, mode = volume.partition(":")[2].partition(":")
    target_fd = open_mount_point(root, inside, stat.S_ISDIR(os.fstat(source_fd).st_mode), create,
                                 f"--volume {volume}")
    try:
        libns.bind_mount_between(source_fd, target_fd, read_only=mode == "ro", nodev=True)
    finally:
        os.close(target_fd)


def main():
    options, argv = libns.parse_options(sys.argv[1:], __doc__, USAGE,
                                        {name: default for name, _, default, _ in OPTIONS},
                                        options_help)
    libns.errors_exit_like_docker_run()
    roots = [name for name in ("--rootfs", "--rootfs-rw", "--image") if options[name] is not None]
    if len(roots) > 1:
        libns.exit_with_message(f"{' and '.join(roots)}: a container has one root", 125)
    if options["--inspect"] and options["--image"] is None:
        libns.exit_with_message("--inspect: name an image with --image FILE", 125)
    writable = options["--rootfs-rw"] is not None
    rootfs = options["--rootfs-rw"] if writable else options["--rootfs"]
    rootfs = rootfs and os.path.realpath(rootfs)
    # Refused before anything starts, so that nothing is left half made.
    problem = rootfs is not None and rootfs_problem(rootfs, argv or None)
    if problem:
        libns.exit_with_message(f"{roots[0]} {rootfs}: {problem}", 125)
    for volume in options["--volume"]:
        problem = volume_problem(volume, rootfs, writable)
        if problem:
            libns.exit_with_message(f"--volume {volume}: {problem}", 125)
    if options["-t"] and not os.isatty(0):
        libns.exit_with_message("-t: stdin is not a terminal (leave out -t, or use -T)", 125)
    with_terminal = os.isatty(0) and not options["-T"]
    network = options["--net"]
    if network not in ("none", "veth", "host"):
        libns.exit_with_message(f"--net {network}: it is none, veth or host", 125)
    pair = None
    if network == "veth":
        libns.refuse_veth_without_root()
        try:
            pair = libns.free_veth_subnet(options["--subnet"])
        except ValueError as error:
            libns.exit_with_message(f"--subnet {options['--subnet']}: {error}", 125)
    kept = kept_capabilities(capability_names(options["--cap-add"]),
                             capability_names(options["--cap-drop"]))
    profile = None if options["--privileged"] else seccomp.docker_profile(kept)
    remapped = options["--userns"] and os.geteuid() == 0
    config, lowers = None, []
    if options["--image"] is not None:
        lowers, config, argv = open_image(options["--image"], argv, options["--cache"],
                                          options["--inspect"])
    elif rootfs and not writable:
        lowers = [rootfs]
    layer_trees = None
    if remapped and lowers:
        # Root inside is uid 100000 outside, and the layers stay root's: an
        # id-mapped copy of each shows them to the container as its own, as
        # Podman's and crun's do.  Layers owned by 100000 on the host would
        # be for whoever holds that id to rewrite, for every later run.
        id_map = libns.user_namespace(*USERNS_RANGE)
        try:
            layer_trees = [libns.clone_mount(layer, LAYER_ATTRIBUTES, id_map) for layer in lowers]
        except OSError as error:
            libns.exit_with_message(f"--userns: an id-mapped mount of the layers: {error.strerror}"
                                    " (it needs Linux 5.12 and a file system that can, such as"
                                    " ext4, xfs, btrfs or tmpfs, not overlayfs: put --cache or"
                                    " --rootfs there)", 125)
        os.close(id_map)
    argv = argv or DEFAULT_COMMAND
    hostname = options["--hostname"] or (config and config["Hostname"]) or "container"
    variables = environment(config, options["-e"], hostname, with_terminal)
    tool_end, init_end = terminal.channel() if with_terminal else (None, None)

    def child_exec(argv):
        """The child's setup, then its life as the container's init."""
        libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
        sources = [open_volume(volume) for volume in options["--volume"]]
        if lowers:
            root = make_overlay_root(layer_trees or [libns.clone_mount(layer, LAYER_ATTRIBUTES)
                                                     for layer in lowers])
        else:
            root = use_rootfs(rootfs) if rootfs else make_default_root()
        libns.mount("proc", f"{root}/proc", "proc",
                    libns.MS_NOSUID | libns.MS_NODEV | libns.MS_NOEXEC, "")
        if not options["--privileged"]:
            hide_machine_paths(root)
        make_dev(root)
        libns.mount("tmpfs", f"{root}/tmp", "tmpfs", libns.MS_NOSUID | libns.MS_NODEV,
                    "mode=1777")
        for volume, source_fd in zip(options["--volume"], sources):
            mount_volume(root, volume, source_fd, create=not writable)
            os.close(source_fd)
        libns.sethostname(hostname)
        if network == "veth":
            net_veth.bring_up_inside(pair)
        elif network == "none":
            libns.set_link_up("lo")
        switch_root(root)
        libns.set_environment(variables)  # and no more of the host's in PID 1's memory
        if config and config["WorkingDir"]:
            os.makedirs(config["WorkingDir"], exist_ok=True)  # as docker run does
            os.chdir(config["WorkingDir"])
        start_clocks_near_zero()
        pts = terminal.open_inside(init_end) if with_terminal else None
        if not options["--privileged"]:
            confine(kept, profile)
        init(argv, pts, config and config["User"])

    if with_terminal:
        libns.hold_signals(also=(signal.SIGWINCH,))  # for the window's size
    child_stack = libns.map_stack()
    flags, id_map = clone_flags, None
    if remapped:
        # Root inside is 100000 outside, with 65535 more ids after it, as
        # Podman and Docker's userns-remap give: a capability forgotten in
        # the list above is then one over the container's namespaces only.
        flags, id_map = clone_flags | libns.CLONE_NEWUSER, USERNS_RANGE
    if network == "host":
        flags &= ~libns.CLONE_NEWNET  # the host's interfaces, as docker run --net host
    prepare = (lambda pid: net_veth.connect(pid, pair)) if pair else None
    pid = libns.clone(child_exec, child_stack, flags, argv, id_map=id_map, prepare=prepare)
    if with_terminal:
        init_end.close()
        status = terminal.relay(tool_end, lambda resize: libns.waitpid(pid, on_signal=resize))
    else:
        status = libns.waitpid(pid)
    libns.exit(status)


if __name__ == "__main__":
    main()
