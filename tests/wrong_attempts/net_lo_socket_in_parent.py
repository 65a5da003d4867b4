"""net_lo_socket_in_parent.py: a wrong attempt check.py must explain.

The socket is made in the parent, in the host's network namespace.
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
    request = struct.pack(IFREQ_FLAGS, b"lo", 0)
    _, flags = struct.unpack(IFREQ_FLAGS, fcntl.ioctl(any_socket, SIOCGIFFLAGS, request))
    fcntl.ioctl(any_socket, SIOCSIFFLAGS, struct.pack(IFREQ_FLAGS, b"lo", flags | IFF_UP))
    libns.execvp(argv)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    any_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the host's network
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)
    status = libns.waitpid(pid)
    libns.exit(status)
