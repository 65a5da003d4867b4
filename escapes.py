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
closed, a mount made in a throwaway mount namespace.
"""
import errno
import os
import stat
import sys
import tempfile
import time

import container
import libns

# <linux/keyctl.h>, <fcntl.h>
KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING = 0, -3
AT_FDCWD = -100


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


def load_a_module():
    """finit_module(2) from /dev/null: past the privilege check, it finds no module."""
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        error = libns.try_syscall("finit_module", fd, b"", 0)
    finally:
        os.close(fd)
    if error is not None and error.errno in (errno.EPERM, errno.EACCES):
        raise error


def open_by_handle():
    """open_by_handle_at(2), the "shocker" escape, with a made-up handle."""
    handle = (8).to_bytes(4, "little") + (1).to_bytes(4, "little") + bytes(8)
    error = libns.try_syscall("open_by_handle_at", AT_FDCWD, handle, os.O_RDONLY)
    if error is not None and error.errno == errno.EPERM:
        raise error


def use_the_keyrings():
    """keyctl(2): the kernel's keyrings are not a namespace's.  Reads an id only."""
    error = libns.try_syscall("keyctl", KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
    if error is not None:
        raise error


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


# What each tries, the system call that would be refused, and the capability
# the kernel asks for it.
PROBES = (
    ("set the host's clock", set_the_clock, "clock_settime", "SYS_TIME"),
    ("write a kernel setting (sysctl)", write_a_kernel_setting, None, None),
    ("open the host's disk (mknod)", open_the_disk, None, "MKNOD"),
    ("open /proc/sysrq-trigger to write", open_sysrq_trigger, None, None),
    ("load a kernel module", load_a_module, "finit_module", "SYS_MODULE"),
    ("open a file by handle (shocker)", open_by_handle, "open_by_handle_at", "DAC_READ_SEARCH"),
    ("use the kernel's keyrings", use_the_keyrings, "keyctl", None),
    ("open a host file to write", write_a_host_file, None, None),
    ("mount a file system", mount_something, "unshare", "SYS_ADMIN"),
    ("make a new user namespace", make_a_user_namespace, "unshare", None),
)


def status_of_self():
    with open("/proc/self/status") as status_file:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status_file if ":\t" in line)


def in_a_user_namespace():
    """True when our root is not the host's: uid_map maps less than every id."""
    with open("/proc/self/uid_map") as uid_map:
        return uid_map.read().split() != ["0", "0", "4294967295"]


def refused_by(error, syscall, capability):
    """Which layer refused: the one the errno and our own state point to."""
    status = status_of_self()
    capabilities = int(status["CapEff"], 16)
    if error.errno == errno.EROFS:
        return "a read-only mount"
    if syscall in container.REFUSED_SYSCALLS and status.get("Seccomp") == "2":
        return "the seccomp filter"
    if capability and not capabilities & (1 << libns.CAPABILITIES.index(capability)):
        return f"capabilities (no CAP_{capability})"
    if error.errno in (errno.EPERM, errno.EACCES) and in_a_user_namespace():
        return "the user namespace (root here is not root outside)"
    return f"none of these layers ({os.strerror(error.errno)}: this machine's own rule)"


def main():
    libns.parse_options(sys.argv[1:], __doc__, "", note="It takes no command: it is one.")
    lines = [f"{'way out':36}  result"]
    for what, probe, syscall, capability in PROBES:
        try:
            probe()
            result = "ALLOWED"
        except FileNotFoundError:
            result = "not on this machine"
        except OSError as error:
            if error.errno == errno.ENODEV:
                result = "not on this machine"
            elif error.errno == errno.EACCES and probe is open_the_disk:
                result = "refused by a nodev mount"
            else:
                result = f"refused by {refused_by(error, syscall, capability)}"
        lines.append(f"{what:36}  {result}")
    libns.write_stdout("".join(line + "\n" for line in lines))


if __name__ == "__main__":
    main()
