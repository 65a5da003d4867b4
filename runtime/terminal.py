"""terminal.py: a terminal of the container's own, as `docker run -t` gives.

Without it, the command writes straight to your terminal, which belongs to
the host's session: a shell inside cannot make it its controlling terminal,
so it has no job control ("Cannot set tty process group"), and `tty` inside
says "not a tty" because /dev/pts inside is the container's own instance.

So, as runc does with its console socket:
- inside, after pivot_root, the init opens a pseudo-terminal in the
  container's devpts (openpty(3): /dev/ptmx is the container's), gives it
  your window size, and sends its master end out over a Unix socket
  (SCM_RIGHTS, see unix(7)): a file descriptor is the one thing that can
  cross from one mount namespace to another;
- the command becomes a session leader with the other end, the pts, as its
  controlling terminal and as stdin, stdout and stderr (attach());
- outside, the tool puts your terminal in raw mode, so that Ctrl-C, Ctrl-Z
  and the rest reach the container's terminal as bytes, whose own line
  discipline turns them into signals there; it copies bytes both ways,
  passes on window size changes (SIGWINCH), and always restores your
  terminal's settings when it ends (relay()).
"""
import fcntl
import os
import signal
import socket
import struct
import termios
import threading
import tty

# How long the tool waits, after the container ended, for the last output
# to be copied: only a guard, the copy ends as soon as the pts is closed.
DRAIN_SECONDS = 5


def channel():
    """A connected pair of Unix sockets: (the tool's end, the init's end)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def copy_window_size(source_fd, target_fd):
    """Give the terminal `target_fd` the size of `source_fd`; see TIOCGWINSZ in ioctl_tty(2)."""
    size = fcntl.ioctl(source_fd, termios.TIOCGWINSZ, b"\0" * 8)
    fcntl.ioctl(target_fd, termios.TIOCSWINSZ, size)


def open_inside(init_end):
    """In the init: open a pty in the container, send its master out; return the pts.

    The init keeps the pts open for as long as it lives, so that the tool
    reads end-of-file (EIO) only once the container is gone, not in the
    moment before the command opens it.
    """
    master, pts = os.openpty()
    if os.isatty(0):  # stdin is still your terminal here; an OCI client sets the size later
        copy_window_size(0, master)
    init_end.sendmsg([b"t"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", master))])
    os.close(master)
    init_end.close()
    return pts


def attach(pts):
    """In the command's child: a new session, with `pts` as its terminal and stdio.

    setsid(2) makes a session with no terminal; TIOCSCTTY gives it one; the
    command's process group is then the terminal's foreground, so Ctrl-C
    there signals the command, and a shell can run jobs.
    """
    os.setsid()
    fcntl.ioctl(pts, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(pts, fd)


def receive_master(tool_end):
    """The pty master the init sent, or None if the init ended before sending one."""
    size = struct.calcsize("i")
    _, ancillary, _, _ = tool_end.recvmsg(1, socket.CMSG_LEN(size))
    tool_end.close()
    for level, kind, data in ancillary:
        if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS):
            master = struct.unpack("i", data[:size])[0]
            os.set_inheritable(master, False)
            return master
    return None


def _copy(source, target, keep_reading=False, before_each=None, last=None):
    """Copy bytes from fd `source` to fd `target` until `source` ends.

    With `keep_reading`, output that can no longer be written is read and
    dropped, so that the command never blocks on a full terminal.
    `before_each()` runs before each piece is written; `last`, a list, gets
    the last byte read.
    """
    writing = True
    while True:
        try:
            data = os.read(source, 65536)
        except OSError:  # EIO: every pts is closed, the container is gone
            return
        if not data:
            return
        if last is not None:
            last[:] = [data[-1:]]
        if before_each is not None:
            before_each()
        while writing and data:
            try:
                data = data[os.write(target, data):]
            except OSError:
                writing = False
        if not writing and not keep_reading:
            return


def _follow_window_size(master):
    """Your window changed size: the container's terminal takes the new size."""
    try:
        copy_window_size(0, master)
    except OSError:
        pass  # your terminal is gone; the hangup will end the container


def relay(tool_end, wait):
    """In the tool: relay between your terminal and the container's; return wait()'s result.

    `wait(on_signal)` waits for the container, calling on_signal[SIGWINCH]
    when your window changes size (libns.wait_passing_signals).  Your
    terminal's settings are restored whatever happens, unless the tool is
    killed by SIGKILL, after which `stty sane` or `reset` restores them.
    """
    master = receive_master(tool_end)
    if master is None:  # the setup failed and said why; nothing to relay
        return wait({})
    settings = termios.tcgetattr(0)
    try:
        tty.setraw(0, termios.TCSADRAIN)
        # Daemon threads: the input one is blocked in read() on your
        # terminal when the container ends, and the tool leaves without it.
        # Keys typed right after a resize must find the new size: SIGWINCH
        # reaches the waiting thread a moment later, maybe after them.
        # Setting the size it already has changes nothing, and signals none.
        threading.Thread(target=_copy, args=(0, master),
                         kwargs={"before_each": lambda: _follow_window_size(master)},
                         daemon=True).start()
        last = [b"\n"]
        output = threading.Thread(target=_copy, args=(master, 1, True),
                                  kwargs={"last": last}, daemon=True)
        output.start()
        returncode = wait({signal.SIGWINCH: lambda: _follow_window_size(master)})
        output.join(DRAIN_SECONDS)
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, settings)
    if returncode in (128 + signal.SIGINT, -signal.SIGINT) and last != [b"\n"]:
        # The container's terminal echoed ^C, and its init reports 130, not
        # a death by SIGINT after which your shell would end the line: end it
        # here, so that the prompt starts on a line of its own.
        try:
            os.write(1, b"\r\n")
        except OSError:
            pass
    return returncode
