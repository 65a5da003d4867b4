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
  a minimal /dev, a tmpfs /tmp; or, with --rootfs, an unpacked image (for
  example from `docker export`), bind-mounted writable as Docker would.
- a small init as PID 1 (see init below), which runs the command as PID 2.
- a terminal of its own when stdin is a terminal (-t, see terminal.py), as
  `docker run -it` gives: job control, `tty`, the window size.
- as an ordinary user, a user namespace, as in every stage.

Try:    python3 container.py mount                 (only the container's own)
        python3 container.py ps -e                 (the init, and ps)
        python3 container.py cat /proc/uptime      (near zero)
        python3 container.py --rootfs DIR          (a shell in an image)
"""
import os
import signal
import sys
import time

import libns
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
USAGE = "[-t|-T] [--rootfs DIR] [--hostname NAME] [--] [COMMAND [ARG...]]"
NOTE = """\
  -t               give the container a terminal of its own (default when stdin is one)
  -T               do not: the command writes straight to yours
  --rootfs DIR     use the unpacked image in DIR as the root (default: the host's programs)
  --hostname NAME  the container's hostname (default: container)
Without a command, container.py runs /bin/sh inside, as Docker runs an image's shell."""


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
            libns.bind_mount(host_path, path, read_only=True)
    for name in ("proc", "dev", "tmp"):
        os.mkdir(f"{root}/{name}")
    return root


def use_rootfs(rootfs):
    """An unpacked image as the root: a bind mount of it, so that it is a mount point."""
    libns.bind_mount(rootfs, rootfs)
    return rootfs


def make_dev(root):
    """A minimal /dev: a few host devices, a new devpts instance, /dev/shm.

    The devices are bind mounts of the host's, not mknod(2): a user namespace
    may not create device nodes, and a bind mount works for root too.  The
    devpts instance is new, so the container's terminals are its own.
    """
    dev = f"{root}/dev"
    libns.mount("tmpfs", dev, "tmpfs", libns.MS_NOSUID | libns.MS_NOEXEC, "mode=755")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            open(f"{dev}/{name}", "w").close()
            libns.bind_mount(f"/dev/{name}", f"{dev}/{name}")
    os.mkdir(f"{dev}/pts")
    libns.mount("devpts", f"{dev}/pts", "devpts", libns.MS_NOSUID | libns.MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=620")
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    os.mkdir(f"{dev}/shm")
    libns.mount("tmpfs", f"{dev}/shm", "tmpfs", libns.MS_NOSUID | libns.MS_NODEV, "mode=1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")


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


def init(argv, pts=None):
    """PID 1: start the command as PID 2, pass signals on, reap every zombie.

    The PID-1 trap of the pid stage: the kernel gives PID 1 only the signals
    it has a handler for.  This init has handlers for SIGINT, SIGTERM and the
    rest of libns's forwarded signals, and passes them on to the command,
    which is not PID 1 and so gets them as any process does.  It also reaps
    every child: orphans are handed to PID 1, and stay zombies until it
    waits for them.  It ends when the command ends, with its status; as PID
    1 cannot die of a signal sent to itself, a command killed by signal N
    makes it exit with 128+N, as a shell reports it.  With `pts`, the
    container's terminal (-t), the command is a session of its own on it.
    """
    setup = None if pts is None else lambda: terminal.attach(pts)
    returncode = libns.run(0, setup, argv, as_init=True)
    libns.flush_output()
    os._exit(128 - returncode if returncode < 0 else returncode)


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
        if name not in names or not os.path.isdir(f"{rootfs}/{name}"):
            return f"no /{name} directory to mount on"
    if argv is None and not os.path.lexists(f"{rootfs}/bin/sh"):
        return "no /bin/sh to run; name a command"
    return None


def main():
    options = {"--rootfs": None, "--hostname": "container", "-t": False, "-T": False}
    options, argv = libns.parse_options(sys.argv[1:], __doc__, USAGE, options, NOTE)
    rootfs = options["--rootfs"]
    rootfs = rootfs and os.path.abspath(rootfs)
    # Refused before anything starts, so that nothing is left half made.
    problem = rootfs is not None and rootfs_problem(rootfs, argv or None)
    argv = argv or DEFAULT_COMMAND
    if problem:
        libns.exit_with_message(f"--rootfs {rootfs}: {problem}", 125)
    if options["-t"] and not os.isatty(0):
        libns.exit_with_message("-t: stdin is not a terminal (leave out -t, or use -T)", 125)
    with_terminal = os.isatty(0) and not options["-T"]
    tool_end, init_end = terminal.channel() if with_terminal else (None, None)

    def child_exec(argv):
        """The child's setup, then its life as the container's init."""
        libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
        root = use_rootfs(rootfs) if rootfs else make_default_root()
        libns.mount("proc", f"{root}/proc", "proc",
                    libns.MS_NOSUID | libns.MS_NODEV | libns.MS_NOEXEC, "")
        make_dev(root)
        libns.mount("tmpfs", f"{root}/tmp", "tmpfs", libns.MS_NOSUID | libns.MS_NODEV,
                    "mode=1777")
        libns.sethostname(options["--hostname"])
        switch_root(root)
        start_clocks_near_zero()
        init(argv, terminal.open_inside(init_end) if with_terminal else None)

    libns.errors_exit_like_docker_run()
    if with_terminal:
        libns.hold_signals(also=(signal.SIGWINCH,))  # for the window's size
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)
    if with_terminal:
        init_end.close()
        status = terminal.relay(tool_end, lambda resize: libns.waitpid(pid, on_signal=resize))
    else:
        status = libns.waitpid(pid)
    libns.exit(status)


if __name__ == "__main__":
    main()
