"""Exercise 2, a solution: the net stage, with its loopback device brought up.

A new network namespace has a loopback device, down.  `ip link set lo up`
does two ioctl(2) calls on any socket of the namespace, described in
netdevice(7): SIOCGIFFLAGS reads the device's flags into a struct ifreq,
SIOCSIFFLAGS writes them back with IFF_UP added.
"""
import fcntl
import socket
import struct

import libns

clone_flags = (
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)

# <linux/sockios.h> and <net/if.h>
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
# struct ifreq: the interface name in 16 bytes, then (here) a short of flags.
IFREQ_FLAGS = "16sh"


def child_exec(argv):
    """The child, after clone(): lo brought up, then it becomes the command."""
    # The socket belongs to the namespace it is made in: the child's.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as any_socket:
        request = struct.pack(IFREQ_FLAGS, b"lo", 0)
        _, flags = struct.unpack(IFREQ_FLAGS, fcntl.ioctl(any_socket, SIOCGIFFLAGS, request))
        fcntl.ioctl(any_socket, SIOCSIFFLAGS, struct.pack(IFREQ_FLAGS, b"lo", flags | IFF_UP))
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)
    status = libns.waitpid(pid)
    libns.exit(status)
