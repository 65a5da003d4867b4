"""escapes.py: try the classic ways out of a container, harmlessly, and say what stopped each.

Namespaces give a process its own view of some kernel state; they do not
make root less root.  Root in the pid stage can still set the machine's
clock, load a kernel module or read the disk.  What stops that is a layer
each: capabilities (what root may do at all), a seccomp filter (which
system calls it may make), read-only and nodev mounts, masked /proc paths,
and a user namespace (in which root is an ordinary user outside).  Run this
in a stage, in container.py, and in container.py --privileged:

    sudo python3 net_mount_uts_ipc_pid.py python3 escapes.py
    sudo python3 container.py --volume "$PWD:/lesson:ro" python3 /lesson/escapes.py
    sudo python3 container.py --privileged --volume "$PWD:/lesson:ro" python3 /lesson/escapes.py

Nothing here changes the host, even where a way out is open: the clock is
set to the time it has, a setting written the value it has, the disk and
/proc/sysrq-trigger opened without reading or writing, a module "loaded"
from /dev/null, a file handle made up, a file opened for writing and
closed, a mount made in a throwaway mount namespace, PID 1's descriptors
and memory looked at without reading a byte of a file, a detached mount
made and closed, an io_uring and a socket made and closed.
"""
import errno
import os
import stat
import sys
import tempfile
import time

import libns
from runtime import seccomp

# <linux/keyctl.h>, <fcntl.h>, <linux/mount.h>, <sys/socket.h>
KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING = 0, -3
AT_FDCWD = -100
OPEN_TREE_CLONE, AT_RECURSIVE = 1, 0x8000
AF_VSOCK = 40


def set_the_clock():
    """clock_settime(CLOCK_REALTIME) to the time it is: what `date -s` does."""
    time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME))


def write_a_kernel_setting():
    """Write vm.swappiness the value it has: any sysctl that is not a namespace's."""
    with open("/proc/sys/vm/swappiness", "r+") as setting:
        value = setting.read()
        setting.seek(0)
        setting.write(value)


def disk_device():
    """(major, minor) of the block device of a file system from the host, or None."""
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            source = fields[fields.index("-") + 2]
            major, minor = map(int, fields[2].split(":"))
            if source.startswith("/dev/") and major:
                return major, minor
    return None


def open_the_disk():
    """mknod a node for the host's disk and open it, without reading."""
    device = disk_device()
    if device is None:
        raise OSError(errno.ENODEV, "no disk of the host is mounted here")
    folder = tempfile.mkdtemp(prefix="escapes-")
    node = os.path.join(folder, "disk")
    try:
        os.mknod(node, 0o600 | stat.S_IFBLK, os.makedev(*device))
        os.close(os.open(node, os.O_RDONLY))
    finally:
        if os.path.lexists(node):
            os.unlink(node)
        os.rmdir(folder)


def open_sysrq_trigger():
    """Open /proc/sysrq-trigger for writing, without writing: one byte would reboot."""
    os.close(os.open("/proc/sysrq-trigger", os.O_WRONLY))


def syscall(name, *arguments):
    """The system call `name`, by this machine's number for it: its result, or OSError."""
    return libns.syscall(seccomp.numbers(seccomp.native_architecture()[0])[name], *arguments)


def close_what(name, *arguments):
    """A call that returns a new descriptor: make it, and close what it made."""
    os.close(syscall(name, *arguments))


def load_a_module():
    """finit_module(2) from /dev/null: past the privilege check, it finds no module."""
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        syscall("finit_module", fd, b"", 0)
    except OSError as error:
        if error.errno in (errno.EPERM, errno.EACCES, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


def open_by_handle():
    """open_by_handle_at(2), the "shocker" escape, with a made-up handle."""
    handle = (8).to_bytes(4, "little") + (1).to_bytes(4, "little") + bytes(8)
    try:
        syscall("open_by_handle_at", AT_FDCWD, handle, os.O_RDONLY)
    except OSError as error:
        if error.errno in (errno.EPERM, errno.ENOSYS):
            raise


def use_the_keyrings():
    """keyctl(2): the kernel's keyrings are not a namespace's.  Reads an id only."""
    syscall("keyctl", KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)


def write_a_host_file():
    """Open /etc/hostname for writing, and close it: no byte written."""
    os.close(os.open("/etc/hostname", os.O_WRONLY))


def in_a_child(function):
    """Run function() in a forked child, so that what it changes in us stays there."""
    pid = os.fork()
    if pid == 0:
        try:
            function()
            os._exit(0)
        except OSError as error:
            os._exit(error.errno)
        finally:
            os._exit(255)
    _, status = os.waitpid(pid, 0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else errno.EINTR
    if code:
        raise OSError(code, os.strerror(code))


def mount_something():
    """mount(2) a tmpfs, in a new mount namespace that dies with the child."""
    def child():
        libns.unshare(libns.CLONE_NEWNS)
        libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
        libns.mount("tmpfs", "/tmp", "tmpfs", 0, "")
    in_a_child(child)


def make_a_user_namespace():
    """unshare(CLONE_NEWUSER): root again, in a namespace of one's own."""
    in_a_child(lambda: libns.unshare(libns.CLONE_NEWUSER))


class NotHere(Exception):
    """The way out has nothing to try here, for the reason given."""


def pid_1():
    """'/proc/1', when PID 1 is another process than us."""
    if os.getpid() == 1:
        raise NotHere("escapes.py is PID 1 itself")
    return "/proc/1"


def see_pid_1_s_descriptors():
    """readlink(2) of PID 1's stdin: where its descriptors lead (runc's CVE-2016-9962)."""
    os.readlink(f"{pid_1()}/fd/0")


def read_pid_1_s_memory():
    """Open /proc/1/mem, and close it: the check is ptrace(2)'s attach, which reads nothing."""
    os.close(os.open(f"{pid_1()}/mem", os.O_RDONLY))


def read_pid_1_s_environment():
    """Read /proc/1/environ, the variables PID 1 started with (the host's, if it is ours)."""
    with open(f"{pid_1()}/environ", "rb") as environ:
        environ.read()


def take_pid_1_s_descriptor():
    """pidfd_getfd(2) of PID 1's stdin: a copy of its descriptor, closed at once."""
    pid_1()
    pidfd = syscall("pidfd_open", 1, 0)
    try:
        close_what("pidfd_getfd", pidfd, 0, 0)
    finally:
        os.close(pidfd)


def reach_the_host_s_terminal():
    """Open PID 1's stdin, without reading or writing: is it a terminal not the container's?"""
    fd = os.open(f"{pid_1()}/fd/0", os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        ours = os.stat("/dev/pts/ptmx").st_dev if os.path.exists("/dev/pts/ptmx") else None
        if not os.isatty(fd) or os.fstat(fd).st_dev == ours:
            raise OSError(errno.ENOTTY, "PID 1 holds no terminal but the container's")
    finally:
        os.close(fd)


def follow_a_directory_descriptor():
    """A directory descriptor of PID 1's or ours: /proc/PID/fd/N/.. walks out from it.

    runc's CVE-2024-21626: a host directory left open in the container.
    Only looked at with stat(2).
    """
    for folder in ("/proc/self/fd", f"{pid_1()}/fd"):
        for name in os.listdir(folder):
            try:
                if stat.S_ISDIR(os.stat(f"{folder}/{name}").st_mode):
                    return
            except FileNotFoundError:
                pass  # the descriptor listdir() itself had open
    raise OSError(errno.EBADF, "no directory descriptor is left open")


def clone_a_mount():
    """open_tree_attr(2) (Linux 6.15), else open_tree(2): a detached copy of /, closed at once."""
    try:
        close_what("open_tree_attr", AT_FDCWD, b"/", OPEN_TREE_CLONE | AT_RECURSIVE, 0, 0)
    except OSError as error:
        if error.errno != errno.ENOSYS:
            raise
        close_what("open_tree", AT_FDCWD, b"/", OPEN_TREE_CLONE | AT_RECURSIVE)


def set_up_an_io_uring():
    """io_uring_setup(2) with one entry: a way round seccomp, whose calls it cannot see."""
    close_what("io_uring_setup", 1, bytes(120))  # struct io_uring_params, all zero


def open_a_vsock_socket():
    """socket(AF_VSOCK): to the virtual machine's host, whatever the network namespace."""
    import socket
    socket.socket(AF_VSOCK, socket.SOCK_STREAM).close()


def remount_a_host_directory_read_write():
    """Remount /etc without MS_RDONLY, in a new mount namespace that dies with the child."""
    if not os.path.ismount("/etc"):
        raise NotHere("/etc is no mount of its own")

    def child():
        libns.unshare(libns.CLONE_NEWNS)
        libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
        libns.mount(None, "/etc", None, libns.MS_REMOUNT | libns.MS_BIND, "")
    in_a_child(child)


# What each tries; the system call, with its arguments, that a seccomp filter
# would refuse; and the capability the kernel asks for it.
PROBES = (
    ("set the host's clock", set_the_clock, ("clock_settime",), "SYS_TIME"),
    ("write a kernel setting (sysctl)", write_a_kernel_setting, None, None),
    ("open the host's disk (mknod)", open_the_disk, None, "MKNOD"),
    ("open /proc/sysrq-trigger to write", open_sysrq_trigger, None, None),
    ("load a kernel module", load_a_module, ("finit_module",), "SYS_MODULE"),
    ("open a file by handle (shocker)", open_by_handle, ("open_by_handle_at",), "DAC_READ_SEARCH"),
    ("use the kernel's keyrings", use_the_keyrings, ("keyctl",), None),
    ("open a host file to write", write_a_host_file, None, None),
    ("remount a host directory read-write", remount_a_host_directory_read_write, ("unshare",),
     "SYS_ADMIN"),
    ("mount a file system", mount_something, ("unshare",), "SYS_ADMIN"),
    ("make a new user namespace", make_a_user_namespace, ("unshare",), None),
    ("clone a mount (new mount API)", clone_a_mount, ("open_tree_attr",), "SYS_ADMIN"),
    ("see PID 1's descriptors", see_pid_1_s_descriptors, None, None),
    ("read PID 1's memory (as ptrace)", read_pid_1_s_memory, None, None),
    ("read PID 1's environment", read_pid_1_s_environment, None, None),
    ("take PID 1's descriptor (pidfd_getfd)", take_pid_1_s_descriptor, ("pidfd_getfd",),
     "SYS_PTRACE"),
    ("reach the host's terminal via PID 1", reach_the_host_s_terminal, None, None),
    ("follow a directory descriptor", follow_a_directory_descriptor, None, None),
    ("set up an io_uring", set_up_an_io_uring, ("io_uring_setup",), None),
    ("open an AF_VSOCK socket", open_a_vsock_socket, ("socket", AF_VSOCK), None),
)
# The probes that look into PID 1 through /proc/1.
LOOK_INTO_PID_1 = {see_pid_1_s_descriptors, read_pid_1_s_memory, read_pid_1_s_environment,
                   reach_the_host_s_terminal, follow_a_directory_descriptor}
# What a probe's errno says when no layer refused it.
NOT_HERE = {errno.ENOENT: "not on this machine", errno.ENODEV: "not on this machine",
            errno.ENOSYS: "not on this kernel (ENOSYS)",
            errno.EAFNOSUPPORT: "not on this machine (no such address family)",
            errno.ENOTTY: "refused: no terminal of the host's in reach",
            errno.EBADF: "refused: none is left open"}


def status_of_self():
    with open("/proc/self/status") as status_file:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status_file if ":\t" in line)


def in_a_user_namespace():
    """True when our root is not the host's: uid_map maps less than every id."""
    with open("/proc/self/uid_map") as uid_map:
        return uid_map.read().split() != ["0", "0", "4294967295"]


def refused_by(error, call, capability, probe):
    """Which layer refused: the one the errno and our own state point to."""
    status = status_of_self()
    capabilities = int(status["CapEff"], 16)
    if error.errno == errno.EROFS:
        return "a read-only mount"
    if call and status.get("Seccomp") == "2":
        held = [name for number, name in enumerate(libns.CAPABILITIES)
                if capabilities & (1 << number)]
        profile = seccomp.docker_profile(held)
        if seccomp.action_for(profile, call[0], call[1:])[0] != "SCMP_ACT_ALLOW":
            return "the seccomp filter"
    if capability and not capabilities & (1 << libns.CAPABILITIES.index(capability)):
        return f"capabilities (no CAP_{capability})"
    if error.errno == errno.EACCES and probe is open_the_disk:
        return "a nodev mount"
    if error.errno in (errno.EPERM, errno.EACCES) and probe in LOOK_INTO_PID_1:
        return "a PID 1 that is not dumpable"
    if error.errno in (errno.EPERM, errno.EACCES) and in_a_user_namespace():
        return "the user namespace (root here is not root outside)"
    return f"none of these layers ({os.strerror(error.errno)}: this machine's own rule)"


def outcome(probe, call, capability):
    """What happened when `probe` tried its way out: ALLOWED, or who refused it."""
    try:
        probe()
        return "ALLOWED"
    except NotHere as reason:
        return f"not here: {reason}"
    except OSError as error:
        if error.errno in NOT_HERE:
            return NOT_HERE[error.errno]
        return f"refused by {refused_by(error, call, capability, probe)}"


# CONTAINER.md's table says each outcome in a word or two.
SHORT = {"refused by the seccomp filter": "seccomp",
         "refused by a read-only mount": "read-only mount",
         "refused by a nodev mount": "nodev mount",
         "refused by the user namespace (root here is not root outside)": "user namespace",
         "refused by a PID 1 that is not dumpable": "PID 1 not dumpable",
         "not here: escapes.py is PID 1 itself": "(it is PID 1)",
         "not here: /etc is no mount of its own": "(no such mount)",
         "refused: no terminal of the host's in reach": "none in reach",
         "refused: none is left open": "none left open",
         "not on this kernel (ENOSYS)": "not on this kernel",
         "refused by none of these layers (Operation not permitted: this machine's own rule)":
             "the machine's device cgroup"}


def main():
    options, _ = libns.parse_options(sys.argv[1:], __doc__, "[--short]", {"--short": False},
                                     note="  --short        each outcome in a word or two, as"
                                          " CONTAINER.md's table has it\nIt takes no command:"
                                          " it is one.")
    lines = [f"{'way out':38}  result"]
    for what, probe, call, capability in PROBES:
        result = outcome(probe, call, capability)
        lines.append(f"{what:38}  {SHORT.get(result, result) if options['--short'] else result}")
    libns.write_stdout("".join(line + "\n" for line in lines))


if __name__ == "__main__":
    main()
