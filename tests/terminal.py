"""A real pseudo-terminal for the tests, with a program as its session leader.

As a terminal emulator starts a shell: the program is a new session whose
controlling terminal is the pty, so Ctrl-C typed here is the kernel's
SIGINT to the foreground process group, exactly as at a keyboard.
"""
import fcntl
import os
import select
import struct
import subprocess
import termios
import time

import pytest

from helpers import ROOT, TIMEOUT, stage_env

CTRL_C, CTRL_Z, CTRL_BACKSLASH = b"\x03", b"\x1a", b"\x1c"


def _take_the_terminal():
    """In the new session's leader: make stdin, the pty, its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`argv` running on a new pty; type into it, read what it shows, wait for it."""

    def __init__(self, *argv, rows=24, columns=80, env=None):
        self.master, pts = os.openpty()
        self.resize(rows, columns)
        # The pty's settings as the program found them, to compare at the end.
        self.settings = termios.tcgetattr(pts)
        self.process = subprocess.Popen(argv, stdin=pts, stdout=pts, stderr=pts, cwd=ROOT,
                                        env=env or stage_env(), start_new_session=True,
                                        preexec_fn=_take_the_terminal)
        # Kept open, so that the pty outlives the program and can be looked at.
        self.pts = pts
        self.output = b""

    def resize(self, rows, columns):
        """What a terminal emulator does when its window changes: TIOCSWINSZ."""
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def type(self, keys):
        os.write(self.master, keys)

    def _read(self, wait):
        if select.select([self.master], [], [], wait)[0]:
            try:
                self.output += os.read(self.master, 65536)
            except OSError:  # EIO: nobody has the pty open any more
                pass

    def read_until(self, text):
        """Read until the output ends with `text`; return all of it and start afresh."""
        deadline = time.monotonic() + TIMEOUT
        while text.encode() not in self.output:
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {text!r}; the terminal shows"
                            f" {self.output.decode(errors='replace')!r}")
            self._read(0.05)
        shown, _, self.output = self.output.partition(text.encode())
        return (shown + text.encode()).decode(errors="replace")

    def wait(self):
        """Wait for the program, reading what it shows meanwhile; its returncode."""
        deadline = time.monotonic() + TIMEOUT
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                pytest.fail("timed out waiting for the program on the terminal to end")
            self._read(0.05)
        self._read(0)
        return self.process.returncode

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for fd in (self.master, self.pts):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()
