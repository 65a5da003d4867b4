"""net_lo_sys_exit.py: a wrong attempt check.py must explain.

The child ends with sys.exit() instead of becoming the command.
"""
import fcntl
import sys
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
    sys.exit(0)


if __name__ == "__main__":
    argv = libns.command_line(__doc__)
    child_stack = libns.map_stack()
    pid = libns.clone(child_exec, child_stack, clone_flags, argv)
    status = libns.waitpid(pid)
    libns.exit(status)
