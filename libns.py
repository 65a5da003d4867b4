"""libns: the few Linux syscalls a container is made of, called from Python.

A container is an ordinary process started with clone(2) and a few CLONE_NEW*
flags, each of which gives the child a fresh copy of one kind of kernel state
(network stack, mount table, hostname, IPC objects, process ids).  This module
is the one place where Python talks to libc through ctypes; each stage script
(base.py, net.py, ...) is its C twin's main() and child_exec(), line by line.

It reads in the order the stages teach: the constants; the child's stack,
clone() and the child's way to execvp() (base); the parent's wait and exit;
mount (net_mount), sethostname (uts), the user namespace's id maps (user);
then the other calls, as thin wrappers: pivot_root and unshare, what
confines root (capabilities, no_new_privs, a seccomp program, dumpability),
the new mount API, a veth pair by rtnetlink (net_veth.py), setns
(enter.py); then the trace and the command line every stage shares.  It
holds no rule of a container's: what Docker keeps and hides, and in which
order, is runtime/'s (the container's rooms, see CONTAINER.md).

What the stages use: map_stack(), clone(), execvp(), waitpid(), exit(),
mount(), sethostname(), command_line(), the CLONE_* and MS_* constants.

What a stage's main() calls, and what each call does that C's does not:

  parent (the tool)                          child (made by clone)
  command_line()  options; errors from here
                  on exit as docker run's
  map_stack()     mmap, mprotect (guard page)
  clone()         hold_signals() for waitpid
                  clone(2) ------------------> _child_main()
                                               prctl(PR_SET_PDEATHSIG)
                  the handshake: <-- "armed" --
                  write the id maps (user ns)
                                 --- "go" ---> signals back to their defaults
                                               child_exec(argv), the stage's:
                                                 mount(), sethostname()...
                                                 execvp(): close_range, exec
                  the error pipe: end of file
                  means exec'd; a report of a
                  failure is raised, as
                  subprocess raises it
  waitpid()       one loop over sigwaitinfo:
                  pass signals on, reap
  exit()          the command's status, or
                  die by its signal

Every wrapper raises OSError with the real errno and a message naming the call,
e.g. "mount tmpfs on /tmp: Operation not permitted"; the stages print that one
line and exit 125, as `docker run` does when the runtime itself fails.  With
LIBNS_TRACE=1, or -v, each call is also printed as strace would show it.
"""

import os
import sys

if sys.version_info < (3, 8):
    # PyOS_BeforeFork() and its siblings, which clone() needs, came in 3.8.
    os.write(2, f"{os.path.basename(sys.argv[0] or 'libns')}: Python 3.8 or newer is needed"
                f" (this is {sys.version.split()[0]})\n".encode())
    sys.exit(125)

import _signal as signal  # noqa: E402 (signal.py without its enums: 3 ms less, see README)
import ctypes  # noqa: E402 (after the version check, which must come first)
import errno  # noqa: E402
import mmap  # noqa: E402

# --- Constants, named as in the C headers -------------------------------------

# <sched.h>: one flag per namespace, see namespaces(7).
CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# One row per namespace, which everything else reads, as util-linux reads its
# namespace_files[]: the name of its /proc/PID/ns file, its clone flag, and
# its place in the order in which setns(2) must join them (user first: it is
# what gives an ordinary user the right to join the others; mnt last: it
# changes which file every later path names).  The rows are in the order the
# stages add them; C writes each new flag in front, so flags read newest first.
NAMESPACES = (
    # name      flag's name         flag             setns order
    ("net",     "CLONE_NEWNET",     CLONE_NEWNET,    5),
    ("mnt",     "CLONE_NEWNS",      CLONE_NEWNS,     8),
    ("uts",     "CLONE_NEWUTS",     CLONE_NEWUTS,    4),
    ("ipc",     "CLONE_NEWIPC",     CLONE_NEWIPC,    3),
    ("pid",     "CLONE_NEWPID",     CLONE_NEWPID,    6),
    ("user",    "CLONE_NEWUSER",    CLONE_NEWUSER,   1),
    ("cgroup",  "CLONE_NEWCGROUP",  CLONE_NEWCGROUP, 2),
    ("time",    "CLONE_NEWTIME",    CLONE_NEWTIME,   7),
)
ALL_NAMESPACES = sum(flag for _, _, flag, _ in NAMESPACES)
SETNS_ORDER = [name for name, _, _, _ in sorted(NAMESPACES, key=lambda row: row[3])]

# The low byte of clone's flags is the signal the child sends its parent when
# it dies.  It must be SIGCHLD: with any other value waitpid(2) without
# __WALL does not see the child and fails with ECHILD.
SIGCHLD = signal.SIGCHLD

# <sys/mman.h>, see mmap(2).
PROT_NONE = 0
PROT_READ = mmap.PROT_READ
PROT_WRITE = mmap.PROT_WRITE
MAP_PRIVATE = mmap.MAP_PRIVATE
MAP_ANONYMOUS = mmap.MAP_ANONYMOUS
MAP_STACK = 0x20000  # x86, arm, riscv, s390; a hint for the kernel, as Kerrisk passes it
MAP_FAILED = ctypes.c_void_p(-1).value

# 8 MiB, the usual main-thread stack.  The tutorial's 1 MiB is enough for C but
# not for CPython 3.13's C recursion.  Pages cost memory only once touched.
STACK_SIZE = 8 * 1024 * 1024

# <sys/prctl.h>, see prctl(2).
PR_SET_PDEATHSIG = 1

# <sys/syscall.h>: close_range(2) has the same number on every architecture;
# <linux/close_range.h>: mark the descriptors close-on-exec instead of closing.
SYS_close_range = 436
CLOSE_RANGE_CLOEXEC = 1 << 2

# The signals the parent passes on to the child, as `docker run` and
# `unshare --fork` do, so that `kill TOOL` reaches the command.
FORWARDED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
# The signals that stop a job: Ctrl-Z, and a background job that reads from
# or writes to the terminal.  The parent stops with the command, as sudo does.
STOP_SIGNALS = (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
# <asm-generic/siginfo.h>: the si_code of a signal the kernel sent, which is
# how the terminal's Ctrl-C, Ctrl-\ and Ctrl-Z arrive; kill(2) gives SI_USER.
SI_KERNEL = 0x80

# <sys/mount.h>, see mount(2).
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2
MOUNT_FLAGS = {
    "MS_RDONLY": MS_RDONLY, "MS_NOSUID": MS_NOSUID, "MS_NODEV": MS_NODEV,
    "MS_NOEXEC": MS_NOEXEC, "MS_REMOUNT": MS_REMOUNT, "MS_NOATIME": MS_NOATIME,
    "MS_NODIRATIME": MS_NODIRATIME, "MS_BIND": MS_BIND, "MS_REC": MS_REC,
    "MS_PRIVATE": MS_PRIVATE, "MS_SLAVE": MS_SLAVE, "MS_SHARED": MS_SHARED,
    "MS_RELATIME": MS_RELATIME,
}


# --- libc -------------------------------------------------------------------

# Loaded by soname: ctypes.util.find_library forks ldconfig and costs ~25 ms.
# Two handles on the same library: CDLL releases the GIL during each call, as
# ordinary calls should; PyDLL keeps it, which clone() needs (see clone below).
LIBC_NAME = "libc.so.6"
libc = ctypes.CDLL(LIBC_NAME, use_errno=True)
libc_holding_gil = ctypes.PyDLL(LIBC_NAME, use_errno=True)


def _prototype(function, restype, *argtypes):
    """Declare a libc function's C types; the default int return truncates pointers.

    libc.NAME is one object per name, shared by every caller; libc["NAME"]
    is a new one, for a variadic function such as syscall() called with
    different types.
    """
    function.restype = restype
    function.argtypes = argtypes
    return function


def _error(description):
    """An OSError for the libc call that just failed, e.g. 'mount tmpfs on /tmp: ...'."""
    code = ctypes.get_errno()
    return OSError(code, f"{description}: {os.strerror(code)}")


def _path(text):
    """A str or bytes argument as the bytes the kernel sees; None stays NULL."""
    return None if text is None else os.fsencode(text)


class ChildError(OSError):
    """The child failed before the command ran: in its setup, or in execvp().

    clone() raises it in the parent, as subprocess.Popen raises the child's
    failed exec: with the child's errno and its one-line message.  `status`
    is what `docker run` exits with for it: 125 when the setup failed (the
    tool's fault), 126 when the command cannot run, 127 when it is not found.
    """

    def __init__(self, code, message, status):
        super().__init__(code, message)
        self.status = status


# === base.py: the child's stack, clone(), and the child's way to execvp() ====

# --- mmap(2), mprotect(2), munmap(2): memory for the child's stack ----------

_mmap = _prototype(libc.mmap, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                   ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_mprotect = _prototype(libc.mprotect, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                       ctypes.c_int)
_munmap = _prototype(libc.munmap, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)


def map_stack(size=STACK_SIZE):
    """Map `size` bytes for a child's stack and return its lowest address.

    C's `static char child_stack[STACKSIZE]`.  See mmap(2) and mprotect(2).
    The lowest page is made PROT_NONE: a stack grows down, and without this
    guard page an overflow would silently write into whatever mapping lies
    below instead of crashing the child.
    """
    stack = _mmap(None, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                  -1, 0)
    _trace(f"mmap(NULL, {size}, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0)",
           _result(hex(stack or 0), stack == MAP_FAILED))
    if stack == MAP_FAILED:
        raise _error(f"mmap {size} bytes for the child's stack")
    result = _mprotect(stack, mmap.PAGESIZE, PROT_NONE)
    _trace(f"mprotect({stack:#x}, {mmap.PAGESIZE}, PROT_NONE)", _result(result, result != 0))
    if result != 0:
        error = _error("mprotect the stack's guard page")
        unmap_stack(stack, size)
        raise error
    return stack


def unmap_stack(stack, size=STACK_SIZE):
    """Unmap a stack from map_stack().  See munmap(2)."""
    result = _munmap(stack, size)
    _trace(f"munmap({stack:#x}, {size})", _result(result, result != 0))
    if result != 0:
        raise _error("munmap the child's stack")


# --- clone(2) ---------------------------------------------------------------

# The child's function, `int fn(void *arg)`: as the C programs pass their
# struct clone_args through clone's `arg`, we pass a Python object.
CHILD_FUNCTION = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.py_object)
_clone = _prototype(libc_holding_gil.clone, ctypes.c_int, CHILD_FUNCTION,
                    ctypes.c_void_p, ctypes.c_int, ctypes.py_object)
_before_fork = _prototype(ctypes.pythonapi.PyOS_BeforeFork, None)
_after_fork_parent = _prototype(ctypes.pythonapi.PyOS_AfterFork_Parent, None)
_after_fork_child = _prototype(ctypes.pythonapi.PyOS_AfterFork_Child, None)
# any(steps) takes each step in turn until one is true: see clone() below.
_run_steps = CHILD_FUNCTION(any)
_NEVER = object()


def clone(child_exec, child_stack, clone_flags, argv, id_map=None, prepare=None):
    """Start `child_exec(argv)` in a new child, in new namespaces; return its pid.

    clone(2), as C calls it: `clone(child_exec, child_stack + STACKSIZE,
    clone_flags, &args)`.  Like fork(), but the child starts in a function
    of our choice, on the stack from map_stack(); it shares nothing that the
    flags make new.  child_exec sets up and ends in execvp(argv).

    What C's clone() does not, and the stages need (see the module's map):
    the signals are held for waitpid(); as an ordinary user, CLONE_NEWUSER
    joins the flags and the parent writes the id maps; the handshake makes
    sure the command dies with the tool; and a failure in the child, before
    the command runs, comes back here as ChildError.  SIGCHLD is always added.

    `id_map`, (uid ranges, gid ranges) of a new user namespace, each range
    (inside, outside, count) as uid_map(5) has it; by default the caller's
    own uid and gid as 0, for one id.
    `prepare(pid)`, what the parent does for the child before it goes on
    (net_veth.py: the host's end of a veth pair).

    Errors you will meet: EPERM without CAP_SYS_ADMIN (run as root, or in
    Docker with --privileged: its default seccomp profile refuses these
    flags); ENOSPC when a user.max_*_namespaces limit is reached; EINVAL for
    flags this kernel does not know.
    """
    if _error_pipe is not None:
        end_setup()  # we are a child that starts children of its own (an init)
    command = command_bytes(argv)
    hold_signals()
    uid, gid = os.geteuid(), os.getegid()
    if clone_flags & ALL_NAMESPACES and uid != 0:
        # An ordinary user may create the other namespaces only inside a user
        # namespace of their own, where they are root: `unshare --map-root-user`.
        clone_flags |= CLONE_NEWUSER
    in_user_namespace = bool(clone_flags & CLONE_NEWUSER)
    _hold_closed_standard_fds()
    ours = _own_namespaces()
    handshake = _Handshake()
    try:
        pid = _clone_process(lambda: _child_main(child_exec, command, handshake,
                                                 in_user_namespace, id_map is not None, ours),
                             child_stack, clone_flags)
    except BaseException:
        handshake.close()
        raise
    uid_ranges, gid_ranges = id_map or ([(0, uid, 1)], [(0, gid, 1)])

    def prepare_child():
        if in_user_namespace:
            map_ids(pid, uid_ranges, gid_ranges)
        if prepare is not None:
            prepare(pid)
    try:
        report = handshake.parent_side(prepare_child)
    except BaseException:
        os.waitpid(pid, 0)  # the child read end of file instead of "go", and left
        raise
    if report is not None:
        _returncode(pid, os.waitpid(pid, 0)[1])  # it has left, without running the command
        raise report
    return pid


def end_setup():
    """In a child of clone(): its setup is over; the parent's clone() returns its pid.

    End of file on the error pipe tells the parent so, as execvp() would by
    closing it: for a child that goes on without exec'ing yet (an init; an
    OCI runtime's container, which waits for `start`).  A failure after
    this is the child's to say, on its stderr.
    """
    global _error_pipe
    os.close(_error_pipe)
    _error_pipe = None


def _clone_process(child_main, child_stack, clone_flags):
    """clone(2) itself: the child runs child_main(), which never returns.

    The parent's copy of the stack is unmapped afterwards: the child has its
    own, as it has its own copy of all the parent's memory.
    """
    if sys.version_info[:3] == (3, 14, 0):
        raise OSError(errno.ENOTSUP, "clone: Python 3.14.0 aborts on a stack it did not"
                      " create (cpython issue #139653); use 3.14.1 or newer, or 3.8 to 3.13")
    clone_flags |= SIGCHLD
    # The child is a copy of this process: output still in Python's buffers
    # would be written once by each of them.
    flush_output()
    # The child inherits the parent's interpreter state mid-call, as after
    # fork(), including any request from another thread to hand over the GIL.
    # If the child runs a single bytecode before PyOS_AfterFork_Child() resets
    # that state, it stops to hand the GIL to a thread that does not exist in
    # the child, and hangs forever.  So the child starts in C-implemented
    # callables only: iter(f, sentinel) is an iterator whose next() calls f(),
    # and any() takes next() of each step in turn.  PyOS_AfterFork_Child()
    # returns None, which is false, so any() goes on to child_main(), which
    # never returns; no Python bytecode runs before PyOS_AfterFork_Child().
    steps = map(next, (iter(_after_fork_child, _NEVER), iter(child_main, _NEVER)))
    # os.fork() calls PyOS_BeforeFork() and PyOS_AfterFork_*() around fork():
    # they take and reset the interpreter's own locks (the GIL, the import
    # lock) and run os.register_at_fork() hooks; clone() is called through
    # PyDLL, holding the GIL, so that no other thread runs Python meanwhile.
    # What glibc's fork() does besides, and raw clone() does not: its atfork
    # handlers, which take malloc's and stdio's locks around the fork.  A
    # thread that holds one of those at this moment (one that released the
    # GIL for a long C call that allocates) leaves it held in the child, and
    # a malloc() there waits forever.  The window is short and rare, and
    # test_child_process.py starts children while threads are busy; a
    # program whose threads allocate in C all the time should fork instead.
    try:
        _before_fork()
        try:
            # The stack grows down: clone() takes its top, 16-byte aligned.
            pid = _clone(_run_steps, (child_stack + STACK_SIZE) & ~15, clone_flags, steps)
        finally:
            _after_fork_parent()
        if tracing:  # a signal's name costs the signal module's import
            _trace(f"clone(child_exec, stack+{STACK_SIZE}, {flag_names(clone_flags)}, args)",
                   _result(pid, pid == -1))
        if pid == -1:
            raise _clone_error(clone_flags)
    finally:
        unmap_stack(child_stack)
    return pid


def flag_names(clone_flags, exit_signal=True):
    """'CLONE_NEWUTS|CLONE_NEWNS|CLONE_NEWNET|SIGCHLD': flags as the C programs write them.

    Newest namespace first, as each C stage puts its new flag in front.
    clone()'s low byte is the child's exit signal; unshare() has none, and
    there the same byte may hold CLONE_NEWTIME.
    """
    signal_byte = clone_flags & 0xFF if exit_signal else 0
    names = [name for _, name, flag, _ in reversed(NAMESPACES)
             if clone_flags & ~signal_byte & flag]
    if signal_byte:
        names.append(_signal_name(signal_byte))
    return "|".join(names) or "0"


def _clone_error(clone_flags):
    """The OSError for a failed clone(), saying what the refusal usually means."""
    error = _error(f"clone {flag_names(clone_flags)}")
    refusal = user_namespace_refusal() if clone_flags & CLONE_NEWUSER else None
    if refusal and error.errno in (errno.EPERM, errno.ENOSPC):
        error.strerror += f" ({refusal})"
    elif error.errno == errno.EPERM:
        error.strerror += (" (creating namespaces needs root; in Docker, use"
                           " docker run --privileged)")
    elif error.errno == errno.ENOSPC:
        error.strerror += " (a /proc/sys/user/max_*_namespaces limit is reached)"
    return error


def command_bytes(argv):
    """The command as the bytes execvp() gets: str arguments are encoded as os does."""
    if not argv:
        raise ValueError("no command to run")
    command = [os.fsencode(argument) for argument in argv]
    for position, argument in enumerate(command):
        if b"\0" in argument:
            raise ValueError(f"argument {position} of the command contains a NUL byte,"
                             " which no C string can hold")
    return command


def _hold_closed_standard_fds():
    """Put /dev/null on each of fds 0, 1, 2 that is closed, close-on-exec.

    A closed stdout reaches the command closed, as unshare(1) passes it on.
    Until the exec, the number must stay taken: else the next pipe would get
    it, and a trace line meant for stderr would go down the pipe.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            # The lowest free number, which is `fd`, as 0 to fd-1 are open.
            os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)


# --- The child: from clone() to execvp() ------------------------------------

# In the child, until it execs: the pipe on which it reports a failure.
_error_pipe = None


def _own_namespaces():
    """Our mount and UTS namespaces; None under a /proc of another PID namespace (enter.py)."""
    try:
        return {kind: os.readlink(f"/proc/self/ns/{kind}") for kind in ("mnt", "uts")}
    except FileNotFoundError:
        return None


# The tool's mount and UTS namespaces, the host's, which mount() and
# sethostname() refuse to change (see _refuse_to_change_the_host_s_mounts):
# from the import on, in the parent (a stage that reads sys.argv itself
# too), and in every child of clone(), which gets the parent's.
_tool_namespaces = _own_namespaces()
# Set in the child, for the trace's '[child] ' mark.
_in_child = False


class _Handshake:
    """Two pipes by which a new child and its parent make sure of each other.

    PR_SET_PDEATHSIG kills the child when the parent dies, but only if the
    parent dies after the child asked for it.  So the child asks, then says
    "armed" on one pipe; the parent waits for that, does what the child needs
    from outside (write a user namespace's id maps), then says "go" on the
    other.  If the parent died before the child was armed, the child reads
    end-of-file instead of "go" and leaves.  (The usual check, getppid()
    against the old parent's pid, fails in a new PID namespace, where
    getppid() is 0.)

    After "go", the "armed" pipe is the child's error pipe, as subprocess
    has one: it is close-on-exec, so the parent reads end-of-file when the
    command has started, or a report when something failed before.
    """

    def __init__(self):
        self.armed_read, self.armed_write = os.pipe()
        self.go_read, self.go_write = os.pipe()

    def child_side(self):
        """In the child: arm the death signal, tell the parent, wait for go."""
        global _held_lines, _error_pipe
        _held_lines = []
        os.close(self.armed_read)
        os.close(self.go_write)
        set_parent_death_signal(signal.SIGKILL)
        # "Armed" carries the trace lines held so far: the parent prints them
        # before its own next lines, in the order the calls happened.
        held, _held_lines = _held_lines, None
        try:
            os.write(self.armed_write, "".join(line + "\n" for line in held).encode(
                errors="surrogateescape") + b"\0")
            parent_said_go = os.read(self.go_read, 1) == b"\0"
        except BrokenPipeError:
            parent_said_go = False
        if not parent_said_go:
            os._exit(125)  # the parent is gone: nobody is left to report to
        os.close(self.go_read)
        _error_pipe = self.armed_write

    def parent_side(self, prepare_child):
        """In the parent: wait until the child is armed, prepare it, let it go.

        Returns the ChildError the child reported, or None once it has
        exec'd (or died, which waitpid() will report).  If prepare_child()
        raises, the child reads end-of-file instead of "go" and leaves.
        """
        os.close(self.armed_write)
        os.close(self.go_read)
        try:
            armed = b""
            while not armed.endswith(b"\0"):
                data = os.read(self.armed_read, 4096)
                if not data:
                    break
                armed += data
            if armed.endswith(b"\0"):
                for line in armed[:-1].decode(errors="surrogateescape").splitlines():
                    _print_trace(line)
                prepare_child()
                os.write(self.go_write, b"\0")
            os.close(self.go_write)
            report = b""
            while True:
                data = os.read(self.armed_read, 4096)
                if not data:
                    break
                report += data
        except BrokenPipeError:
            return None
        finally:
            for fd in (self.armed_read, self.go_write):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if not report:
            return None
        status, code, message = report.split(b"\0", 2)
        return ChildError(int(code), os.fsdecode(message), int(status))

    def close(self):
        """Without a child: close all four ends."""
        for fd in (self.armed_read, self.armed_write, self.go_read, self.go_write):
            os.close(fd)


def _child_main(child_exec, argv, handshake, in_user_namespace, become_root, tool_namespaces):
    """The child's life after clone(): wait for the parent, then child_exec().  Never returns."""
    global _in_child, _held, _tool_namespaces
    _in_child = True
    _tool_namespaces = tool_namespaces
    try:
        handshake.child_side()
        if become_root:
            # Our own ids, root's outside, are not in a range map: be the
            # namespace's root, without the host's groups (root's group 0
            # outside would still open files of group root).
            os.setgroups([])
            os.setgid(0)
            os.setuid(0)
            # A change of ids makes a process non-dumpable, and its
            # /proc/self files the host root's: give them back, as runc does.
            _prctl_checked(PR_SET_DUMPABLE, 1, "prctl(PR_SET_DUMPABLE, 1)")
        # Start the command as subprocess would: the signals Python catches
        # or ignores back to their defaults, except those our caller ignored
        # (nohup, trap ''), which stay ignored; and the caller's signal mask,
        # not the one that holds signals for the parent's waitpid().  A signal
        # that came meanwhile is delivered now.
        for signum in FORWARDED_SIGNALS + STOP_SIGNALS:
            if signal.getsignal(signum) != signal.SIG_IGN:
                signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        _, caller_mask = _held
        _held = None
        signal.pthread_sigmask(signal.SIG_SETMASK, caller_mask)
        child_exec(argv)
        raise ChildError(0, "child_exec() returned without calling execvp(): end it with"
                         " libns.execvp(argv), as C's child_exec ends in execvp()", 125)
    except SystemExit as error:
        # sys.exit() would run the parent's cleanup in the child, then leave
        # with a status that says nothing of the command.
        _report(ChildError(0, f"child_exec() called sys.exit({error.code!r}){_place(error)}:"
                           " end it with libns.execvp(argv), or os._exit(STATUS) to end it"
                           " without a command", 125), in_user_namespace)
    except BaseException as error:
        _report(error, in_user_namespace)
    finally:
        # Whatever happened, the child never returns into the parent's code.
        os._exit(125)


def _report(error, in_user_namespace):
    """In the child: tell the parent why it failed, on the error pipe; never returns.

    Without an error pipe (an init whose own command failed), say it on
    stderr and exit with the status, as the command line would.
    """
    status = error.status if isinstance(error, ChildError) else 125
    message = _describe(error)
    # AppArmor lets the clone through but gives the namespace no privilege:
    # the first mount is where it shows.
    refusal = user_namespace_refusal() if in_user_namespace and status == 125 else None
    if refusal and getattr(error, "errno", None) == errno.EPERM:
        message += f" ({refusal})"
    if _error_pipe is None:
        exit_with_message(message, status)
    code = getattr(error, "errno", None) or 0
    try:
        os.write(_error_pipe, f"{status}\0{code}\0".encode() + os.fsencode(message))
    finally:
        os._exit(status)


def _describe(error):
    """One line for an exception: our OSErrors already name the call that failed.

    An error raised in a stage's own code (a student's typo, a socket call
    that failed) also says where: the file, the line and its text.
    """
    if isinstance(error, OSError) and error.strerror:
        said = error.strerror if error.filename is None else f"{error.filename}: {error.strerror}"
    else:
        said = f"{type(error).__name__}: {error}"
    return said + _place(error)


_LIBRARY = os.path.dirname(os.path.realpath(__file__))
_STANDARD_LIBRARY = os.path.dirname(os.path.realpath(os.__file__))
# The tools whose errors name what failed in words of their own, as libns's do.
_OURS = {os.path.join(_LIBRARY, name) for name in ("libns.py", "container.py", "image.py",
                                                    "enter.py", "escapes.py", "namespaces.py",
                                                    "oci.py")}


def _place(error):
    """' (line 21 of net_lo.py: TEXT)' when the error came from a stage's own code.

    The innermost frame that is not the standard library's tells who made
    the call that failed: libns, runtime/ and the tools (_OURS) name it in
    their messages; any other's, a stage's or a student's code, is shown as
    Python's traceback would.
    """
    # By hand, not with the traceback module: after pivot_root, in a
    # container's init, no module of the host can be imported any more.
    frames, tb = [], error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith((_STANDARD_LIBRARY + os.sep, "<")):
            frames.append((filename, tb.tb_lineno))
        tb = tb.tb_next
    if not frames:
        return ""
    filename, lineno = frames[-1]
    where = os.path.realpath(filename)
    if where.startswith(f"{_LIBRARY}/runtime/") or where in _OURS:
        return ""
    try:
        with open(filename, errors="replace") as source:
            line = [text for _, text in zip(range(lineno), source)][-1].strip()
    except (OSError, IndexError):
        line = ""
    text = f": {line}" if line else ""
    return f" (line {lineno} of {os.path.basename(where)}{text})"


# --- prctl(2) ---------------------------------------------------------------

_prctl = _prototype(libc.prctl, ctypes.c_int, ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                    ctypes.c_ulong, ctypes.c_ulong)


def set_parent_death_signal(signum):
    """Ask the kernel to send `signum` to us when our parent dies.

    See PR_SET_PDEATHSIG in prctl(2).  The signal is kept across execve(2), so
    the command is killed too if the tool dies.  "Parent" means the parent
    thread: call clone() from the thread that will wait for the child.
    """
    result = _prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if tracing:  # a signal's name costs the signal module's import
        name = _signal_name(signum) if signum else "0"  # 0: no signal any more
        _trace(f"prctl(PR_SET_PDEATHSIG, {name})", _result(result, result != 0))
    if result != 0:
        raise _error("prctl PR_SET_PDEATHSIG")


# --- execvp(3), and close_range(2) before it ---------------------------------

_syscall_close_range = _prototype(libc["syscall"], ctypes.c_long, ctypes.c_long, ctypes.c_uint,
                                  ctypes.c_uint, ctypes.c_uint)


def close_fds_on_exec_from(first):
    """Mark every file descriptor numbered `first` or higher close-on-exec.

    See close_range(2) and CLOSE_RANGE_CLOEXEC (Linux 5.11): only stdin,
    stdout and stderr reach the command, and until the exec the error pipe
    stays open to report a failed execvp.  If the call fails (an older
    kernel: ENOSYS or EINVAL), each open descriptor is marked one by one.
    """
    result = _syscall_close_range(SYS_close_range, first, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
    _trace(f"close_range({first}, ~0U, CLOSE_RANGE_CLOEXEC)", _result(result, result != 0))
    if result != 0:
        for fd in range(first, os.sysconf("SC_OPEN_MAX")):
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # not open


def close_fds_from_3_except(keep=()):
    """Close every file descriptor numbered 3 or higher, but those in `keep`.

    In a child, its error pipe (see _Handshake) is kept too, until its
    setup is over.  See close_range(2) (Linux 5.9): one call
    for each run of numbers between the ones kept.  On an older kernel
    (ENOSYS), each descriptor is closed one by one.
    """
    keep = {*keep, *([_error_pipe] if _error_pipe is not None else [])}
    first = 3
    for last in sorted({fd - 1 for fd in keep if fd >= 3}) + [0xFFFFFFFF]:
        if first <= last:
            result = _syscall_close_range(SYS_close_range, first, last, 0)
            _trace(f"close_range({first}, {'~0U' if last == 0xFFFFFFFF else last}, 0)",
                   _result(result, result != 0))
            if result != 0:
                for fd in range(first, min(last + 1, os.sysconf("SC_OPEN_MAX"))):
                    try:
                        os.close(fd)
                    except OSError:
                        pass  # not open
        first = last + 2


_execvp = _prototype(libc.execvp, ctypes.c_int, ctypes.c_char_p,
                     ctypes.POINTER(ctypes.c_char_p))


def execvp(argv):
    """Replace this process with the command argv[0], found in PATH.  See execvp(3).

    libc's own execvp, as the C programs use, rather than os.execvp: the same
    PATH search, and a file without "#!" that the kernel refuses with ENOEXEC
    is run by /bin/sh.  First only stdin, stdout and stderr are left to reach
    the command (close_fds_on_exec_from), and Python's buffers are flushed.

    Returns only by raising ChildError, with docker run's status: 127 for
    ENOENT or ENOTDIR, the command does not exist; 126 for the rest, such
    as EACCES for a directory or a file without execute permission, and
    E2BIG when the arguments exceed the kernel's limit.
    """
    close_fds_on_exec_from(3)
    flush_output()
    c_argv = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
    call = f"execvp({_c_string(argv[0])}, [{', '.join(map(_c_string, argv))}])"
    _trace(call)  # if it works, nothing comes back to say so
    _execvp(argv[0], c_argv)
    _trace(call, _result(-1, True))
    error = _error(f"execvp {os.fsdecode(argv[0]) or repr('')}")
    if error.errno == errno.ENOENT:
        interpreter = _missing_interpreter(argv[0])
        if interpreter is not None:
            error.strerror = error.strerror.replace(
                ": ", f": bad interpreter {os.fsdecode(interpreter)} (from its #! line): ", 1)
    elif error.errno == errno.E2BIG:
        error.strerror += " (arguments and environment together exceed the kernel's limit)"
    not_found = error.errno in (errno.ENOENT, errno.ENOTDIR)
    raise ChildError(error.errno, error.strerror, 127 if not_found else 126)


def _missing_interpreter(command):
    """The interpreter on the "#!" line of the file `command` names, if it exists.

    execve(2) fails with ENOENT both when the command is missing and when the
    interpreter its "#!" line names is; this tells the two apart.
    """
    if b"/" in command:
        candidates = [command]
    else:
        path = os.environb.get(b"PATH", b"/bin:/usr/bin")
        candidates = [os.path.join(folder or b".", command) for folder in path.split(b":")]
    for candidate in candidates:
        try:
            with open(candidate, "rb") as script:
                first_line = script.readline(256)
        except OSError:
            continue
        words = first_line[2:].split() if first_line.startswith(b"#!") else []
        return words[0] if words else None
    return None


# === The parent: wait, pass signals on, exit like docker run =================

# While a child runs: (the signals held for waitpid(), the mask before).
_held = None


def hold_signals(also=()):
    """Block the signals that waitpid() takes; clone() does it first.

    From here on a signal for the command, and the SIGCHLD of its end, wait
    in the kernel until waitpid() takes them, in order, so none is lost or
    comes too early.  A signal our caller ignored (nohup, trap '') is left
    out: it stays ignored, here and in the command, as subprocess and
    unshare(1) leave it.  `also`: more signals for waitpid's on_signal.
    """
    global _held
    if _held is None:
        ignored = {signum for signum in FORWARDED_SIGNALS + STOP_SIGNALS
                   if signal.getsignal(signum) == signal.SIG_IGN}
        held = {signal.SIGCHLD, *FORWARDED_SIGNALS, *STOP_SIGNALS, *also} - ignored
        _held = held, signal.pthread_sigmask(signal.SIG_BLOCK, held)


def release_signals():
    """Give back the signal mask hold_signals() changed, for a library caller."""
    global _held
    if _held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, _held[1])
        _held = None


def waitpid(pid, as_init=False, on_signal=None):
    """Wait for the child `pid`, passing signals on to it; return its returncode.

    C's waitpid(2), with subprocess's returncode convention: the exit status,
    or -N when signal N killed it.  What C's does not (see the table in the
    README): one loop over sigwaitinfo(2), as tini, bubblewrap and sudo
    wait; every signal clone() held is taken here, one at a time, and the
    child is reaped only here, so it is never signalled after it is gone.

    - Ctrl-C and Ctrl-\\ come from the terminal (si_code SI_KERNEL) to its
      whole foreground process group, the command included: passed on, they
      would arrive twice.  Signals a process sent (kill, timeout) are passed
      on once, as sudo does.
    - Ctrl-Z: when the command stops, we stop with the same signal, so the
      shell sees the job stopped; on `fg` or `bg` we continue it.
    - The PID-1 trap: see _pid_1_trap().

    `as_init`: we are PID 1 of a namespace (container.py's init): reap
    every orphan too, and never stop, which PID 1 cannot.  `on_signal` maps
    signals passed to hold_signals(also=...) to a function to call.
    """
    held = _held[0]
    stop_signal = None  # the stop signal we sent SIGSTOP for
    trap = set()  # signals the PID-1 trap has let pass once
    # As PID 1: while sigwaitinfo() waits, /proc/1/status shows the signals
    # it waits for as neither blocked nor caught, and whoever looks from
    # outside (our parent's PID-1 trap) would think the kernel drops them.
    # A handler that never runs, since they stay blocked, says the truth.
    handlers = {signum: signal.signal(signum, _taken_by_sigwaitinfo)
                for signum in held - {signal.SIGCHLD}} if as_init else {}
    try:
        while True:
            # The child may have ended before we began to wait: look first.
            while True:
                reaped, status = os.waitpid(-1 if as_init else pid, os.WNOHANG | os.WUNTRACED)
                if reaped == 0:
                    break
                if reaped != pid:
                    _trace("waitpid(-1, ...)", f"{reaped} (an orphan, reaped)")
                elif os.WIFSTOPPED(status):
                    if not as_init:
                        _stop_with_the_command(pid, stop_signal or os.WSTOPSIG(status))
                    stop_signal = None
                else:
                    return _returncode(pid, status)
            if _other_threads():
                # A thread of the caller's that does not block SIGCHLD may
                # take it while we look above, and it is lost there (its
                # disposition is to ignore it): with threads, look again
                # every 50 ms.  The stages have none; container.py -t's
                # relay threads block it, and cost only the looks.
                info = signal.sigtimedwait(held, 0.05)
                if info is None:
                    continue
            else:
                info = signal.sigwaitinfo(held)
            signum = info.si_signo
            if signum == signal.SIGCHLD:
                continue
            if on_signal and signum in on_signal:
                on_signal[signum]()
            elif signum in STOP_SIGNALS:
                if _init_handles(pid) is not None:
                    # PID 1 of a namespace cannot stop itself: stop it from here.
                    stop_signal = signum
                    _kill(pid, signal.SIGSTOP)
                elif not _from_the_terminal(info, pid):
                    _kill(pid, signum)
            elif (_init_handles(pid) is not None
                  and not _init_handles(pid) & (1 << (signum - 1))):
                _pid_1_trap(pid, signum, info, trap)
            elif not (signum in (signal.SIGINT, signal.SIGQUIT) and _from_the_terminal(info, pid)):
                _kill(pid, signum)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def _other_threads():
    """True when this process runs threads besides this one (threading knows of them)."""
    threading = sys.modules.get("threading")  # not imported: then there are none of Python's
    return threading is not None and threading.active_count() > 1


def _taken_by_sigwaitinfo(signum, frame):
    """The handler of a signal that sigwaitinfo() takes first: never called."""


def _returncode(pid, status):
    """waitpid()'s status as a returncode, traced as strace describes it."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if tracing:
            _trace(f"waitpid({pid}, ...)", f"{pid} (killed by {_signal_name(signum)})")
        return -signum
    _trace(f"waitpid({pid}, ...)", f"{pid} (exited {os.WEXITSTATUS(status)})")
    return os.WEXITSTATUS(status)


def _signal_name(signum):
    """'SIGINT' for 2.  Only the trace and a few messages need a name: the
    signal module, with the enum that holds the names, is imported here."""
    import signal as signal_with_names
    return signal_with_names.Signals(signum).name


def _kill(pid, signum):
    os.kill(pid, signum)
    if tracing:
        _trace(f"kill({pid}, {_signal_name(signum)})", 0)


def _from_the_terminal(info, pid):
    """True when the terminal sent this signal to a process group the command is in."""
    return info.si_code == SI_KERNEL and os.getpgid(pid) == os.getpgrp()


def _init_handles(pid):
    """The signals `pid` catches or blocks, as a bit mask, if it is PID 1 of its namespace.

    None when it is not PID 1.  See pid_namespaces(7): the kernel drops any
    signal sent to PID 1 that PID 1 neither catches nor blocks, even from
    outside its namespace.  Only SIGKILL and SIGSTOP from outside get through.
    """
    with open(f"/proc/{pid}/status") as status_file:
        status = dict(line.split(":", 1) for line in status_file)
    if status.get("NSpid", "").split()[-1:] != ["1"]:
        return None
    return int(status["SigCgt"], 16) | int(status["SigBlk"], 16)


def _pid_1_trap(pid, signum, info, trap):
    """A signal for a command that is PID 1 and does not handle it: the kernel drops it.

    So that one can still stop `sleep` in the pid stage: a second SIGINT,
    SIGTERM or SIGQUIT, or a first SIGHUP (a closed terminal sends no
    second), kills the command with SIGKILL, and says why.  The first is
    passed on anyway (unless the terminal sent it to the command already).
    """
    if signum == signal.SIGHUP or (trap and signum in (signal.SIGINT, signal.SIGTERM,
                                                      signal.SIGQUIT)):
        write_stderr(f"{program_name()}: the command is PID 1 of its namespace and has no"
                     f" handler for {_signal_name(signum)}, so the kernel ignores it"
                     " (the PID-1 trap); sending SIGKILL")
        _kill(pid, signal.SIGKILL)
        return
    trap.add(signum)
    if not _from_the_terminal(info, pid):
        _kill(pid, signum)


def _stop_with_the_command(pid, signum):
    """The command stopped: stop ourselves by the same signal, then continue it.

    The shell sees its job stopped only when every process in it is; `fg`
    or `bg` continues us (SIGCONT), and we continue the command, as sudo does.
    """
    # The terminal's own SIGTSTP may still wait for the loop: take it, or
    # it would stop us a second time, right after `fg`.
    while signal.sigtimedwait(STOP_SIGNALS, 0) is not None:
        pass
    if tracing:
        _trace(f"kill({os.getpid()}, {_signal_name(signum)})", 0)
    if signum == signal.SIGSTOP:
        os.kill(os.getpid(), signum)
    else:
        previous = signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, (signum,))
        os.kill(os.getpid(), signum)  # we stop here, until SIGCONT
        signal.pthread_sigmask(signal.SIG_BLOCK, (signum,))
        signal.signal(signum, previous)
    _kill(pid, signal.SIGCONT)


def exit(returncode):
    """Leave with the command's status, or die by the signal that killed it.

    C's exit(WEXITSTATUS(status)), and its kill(getpid(), WTERMSIG(status)).
    Without the interpreter's teardown: it writes to nearly every page, and
    after clone() each of them is copy-on-write and faults once.  That is
    most of a millisecond per megabyte, and nothing here needs it.  What
    the tool registered with at_exit() is undone first.
    """
    _undo()
    if returncode < 0:
        die_by_signal(-returncode)
    flush_output()
    os._exit(returncode)


# What the tool undoes on every way out, exit() or an error's one line, last
# first: see at_exit().
_undo_at_exit = []


def at_exit(undo):
    """Call undo() when the tool leaves by exit() or exit_with_message(), in the parent.

    For what the tool made outside the child's namespaces, which no
    namespace takes with it soon enough (net_veth.py: the host's end of
    the pair).  Python's atexit would not run: the tool leaves by _exit.
    """
    _undo_at_exit.append(undo)


def _undo():
    while _undo_at_exit:
        _undo_at_exit.pop()()


def die_by_signal(signum):
    """End this process by signal `signum`, so our parent sees what killed the child.

    This is what `unshare --fork` does.  No core file is written: the crash
    was the command's, not Python's.
    """
    flush_output()
    import resource  # here, not at the top: only this rare path needs it
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if signum != signal.SIGKILL:  # the one signal whose disposition is fixed
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signum,))
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)


# --- For a library: spawn() and run() ----------------------------------------

def spawn(clone_flags, setup, argv):
    """Start `argv` in a child made by clone(clone_flags), after `setup()`; return its pid.

    The stages' main() in one call, for a program that uses libns as a
    library: `setup` (or None) is the child's setup, before execvp.  A
    failure there raises ChildError here.  Wait for the child with waitpid().
    """
    def child_exec(command):
        if setup is not None:
            setup()
        execvp(command)
    return clone(child_exec, map_stack(), clone_flags, argv)


def run(clone_flags, setup, argv, as_init=False):
    """spawn(), waitpid(), and give the signal mask back; return the returncode.

    Signals sent to us reach the command meanwhile, and Ctrl-Z stops both
    (see waitpid).  The signal mask is the caller's again afterwards.
    """
    try:
        return waitpid(spawn(clone_flags, setup, argv), as_init)
    finally:
        release_signals()


# === net_mount.py: mount(2), umount2(2) ======================================

_mount = _prototype(libc.mount, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p,
                    ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_umount2 = _prototype(libc.umount2, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)


def mount(source, target, fstype, flags=0, data=None):
    """Attach a filesystem at `target`, or change a mount's flags.  See mount(2).

    Errors you will meet: EPERM without CAP_SYS_ADMIN in the user namespace
    that owns the mount namespace (or, for proc and sysfs in a user
    namespace, when parts of the existing one are hidden by other mounts);
    ENOENT when `target` does not exist; EINVAL for a propagation change on
    something that is not a mount point.
    """
    if fstype is not None:
        description = f"mount {os.fsdecode(fstype)} on {os.fsdecode(target)}"
    elif flags & MS_REMOUNT:
        description = f"remount {os.fsdecode(target)} (flags {_flag_names(flags, MOUNT_FLAGS)})"
    elif flags & MS_BIND:
        description = f"bind mount {os.fsdecode(source)} on {os.fsdecode(target)}"
    elif flags & MS_PRIVATE:
        description = f"make the mounts under {os.fsdecode(target)} private"
    else:
        description = f"mount {os.fsdecode(target)} (flags {flags:#x})"
    if _tool_namespaces is not None:
        _refuse_to_change_the_host_s_mounts(description, target, flags)
    result = _mount(_path(source), _path(target), _path(fstype), flags, _path(data))
    _trace(f"mount({_c_string(source)}, {_c_string(target)}, {_c_string(fstype)},"
           f" {_flag_names(flags, MOUNT_FLAGS)}, {_c_string(data)})", _result(result, result != 0))
    if result != 0:
        raise _error(description)


_IN_THE_PARENT = ("it runs in the parent, in the host's namespaces; call it in child_exec,"
                  " after clone()")


def _refuse_to_change_the_host_s_mounts(description, target, flags):
    """Refuse a mount that would change the tool's mounts, the host's.

    In a stage's parent, every mount would (a proc mounted before clone()
    lands on the host's /proc); in a child of clone(), one in the tool's
    mount namespace, or one that propagates back to it.

    A plausible mistake (a stage without CLONE_NEWNS, or without its first,
    MS_PRIVATE, mount on a host whose / is shared, as every systemd host's
    is) would put a tmpfs over the host's /tmp or a new proc over its /proc.
    So libns says which flag or step is missing instead, as `mount` cannot.
    """
    if os.readlink("/proc/self/ns/mnt") == _tool_namespaces["mnt"]:
        raise OSError(errno.EPERM, f"{description} would change the host's mounts: "
                      + ("this stage has no CLONE_NEWNS" if _in_child else _IN_THE_PARENT))
    if flags & (MS_REMOUNT | MS_PRIVATE | MS_SLAVE | MS_SHARED):
        return  # changes a mount in place: nothing new to propagate
    # The new mount appears wherever the mount it lands on has peers.
    where = os.path.realpath(os.fsdecode(target))
    with open("/proc/self/mountinfo") as mountinfo:
        mounts = [line.split(" - ")[0].split() for line in mountinfo]
    parent = max((fields for fields in mounts
                  if where == fields[4] or where.startswith(fields[4].rstrip("/") + "/")),
                 key=lambda fields: len(fields[4]))
    if any(field.startswith("shared:") for field in parent[6:]):
        raise OSError(errno.EPERM, f"{description} would show on the host too: {parent[4]} is"
                      " shared with the host's mounts; make every mount private first,"
                      ' mount(None, "/", None, MS_REC | MS_PRIVATE)')


def allow_mounts_in_the_tool_s_namespace():
    """Let mount() change the tool's own mount namespace, in this process, from now on.

    Only for a caller that has made sure that namespace is not the host's:
    oci.py, for a config.json without a mount namespace, once
    runtime.rootfs.refuse_the_machine_s_mounts() has found the caller's
    namespace neither PID 1's nor shared.  A mount that would propagate to
    a shared peer is still refused.
    """
    global _tool_namespaces
    if _tool_namespaces is not None:
        _tool_namespaces = {**_tool_namespaces, "mnt": None}


def umount2(target, flags=0):
    """Detach the filesystem mounted at `target`.  See umount2(2).

    With MNT_DETACH the mount disappears from the namespace at once and is
    freed when it is no longer busy.  Without it you will meet EBUSY while
    something still uses it, and EINVAL when `target` is not a mount point or
    is a mount locked by a less privileged user namespace.
    """
    result = _umount2(_path(target), flags)
    _trace(f"umount2({_c_string(target)}, {_flag_names(flags, {'MNT_DETACH': MNT_DETACH})})",
           _result(result, result != 0))
    if result != 0:
        raise _error(f"umount {os.fsdecode(target)}")


# === net_mount_uts.py: sethostname(2) ========================================

_sethostname = _prototype(libc.sethostname, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)


def sethostname(hostname):
    """Set the hostname of the caller's UTS namespace.  See sethostname(2).

    Errors you will meet: EPERM without CAP_SYS_ADMIN in the user namespace
    that owns the UTS namespace (that is, outside a new one as an ordinary
    user); EINVAL for a name longer than 64 bytes.
    """
    name = os.fsencode(hostname)
    shared = _tool_namespaces and os.readlink("/proc/self/ns/uts") == _tool_namespaces["uts"]
    if shared:
        raise OSError(errno.EPERM, f"sethostname {os.fsdecode(name)} would change the host's"
                      " hostname: "
                      + ("this stage has no CLONE_NEWUTS" if _in_child else _IN_THE_PARENT))
    result = _sethostname(name, len(name))
    _trace(f"sethostname({_c_string(name)}, {len(name)})", _result(result, result != 0))
    if result != 0:
        raise _error(f"sethostname {os.fsdecode(name)}")


# === net_mount_uts_ipc_pid_user.py: user_namespaces(7), the id maps ==========

def map_root_user(pid, uid, gid, count=1):
    """Make `uid` and `gid` outside be root inside the user namespace of `pid`.

    See user_namespaces(7).  A new user namespace starts with no mapping: its
    processes run as the overflow id 65534.  One line "0 UID 1" in uid_map
    says "id 0 inside is UID outside, for 1 id", as `unshare --map-root-user`
    writes it.  An ordinary user may write gid_map only after writing "deny"
    to setgroups, which stops the process from dropping a group that a file's
    permissions deny it.  Each file can be written once, by the parent.
    Root may map a range, `count` ids from `uid` (container.py --userns), and
    leaves setgroups allowed: the child must drop the host's groups.
    """
    map_ids(pid, [(0, uid, count)], [(0, gid, count)])


def map_ids(pid, uid_ranges, gid_ranges):
    """Write the id maps of the user namespace of `pid`: each range (inside, outside, count).

    map_root_user's one line, or several (an OCI config's uidMappings and
    gidMappings, each of its own size); one id alone is mapped as an
    ordinary user may, setgroups denied first.
    """
    lines = ["\n".join(f"{inside} {outside} {count}" for inside, outside, count in ranges)
             for ranges in (uid_ranges, gid_ranges)]
    writes = [("uid_map", lines[0]), ("setgroups", "deny"), ("gid_map", lines[1])]
    single = all(len(ranges) == 1 and ranges[0][2] == 1 for ranges in (uid_ranges, gid_ranges))
    for name, line in writes if single else writes[::2]:
        path = f"/proc/{pid}/{name}"
        try:
            with open(path, "w") as map_file:
                map_file.write(line)
        except OSError as error:
            _trace(f'write("{path}", "{line}")', f"-1 {errno.errorcode.get(error.errno)}"
                   f" ({error.strerror})")
            shown = line.replace("\n", ", ")  # one line, whatever the ranges
            raise OSError(error.errno, f"write '{shown}' to {path}: {error.strerror}") from None
        _trace(f'write("{path}", "{line}")', len(line))


def user_namespace(uid_ranges, gid_ranges):
    """A new user namespace with these id maps (map_ids): its descriptor.

    For an id-mapped mount (clone_mount), which maps by a user namespace,
    not by numbers.  A child made for this alone unshares one, the parent
    writes its maps and opens /proc/PID/ns/user, and the child leaves: the
    namespace lives on while the descriptor is open, as Podman's does.
    """
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_read)
            os.close(done_write)
            unshare(CLONE_NEWUSER)
            os.write(ready_write, b"\0")
            os.read(done_read, 1)  # until the parent has opened the namespace
        finally:
            os._exit(0)
    os.close(ready_write)
    os.close(done_read)
    try:
        if os.read(ready_read, 1) != b"\0":
            raise OSError(errno.EPERM, "unshare CLONE_NEWUSER, for an id map: refused")
        map_ids(pid, uid_ranges, gid_ranges)
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(done_write)
        os.close(ready_read)
        os.waitpid(pid, 0)


# Settings with which a system refuses user namespaces to ordinary users, and
# the value that refuses; see user_namespaces(7) and your distribution's notes.
USER_NAMESPACE_SETTINGS = (
    ("user.max_user_namespaces", "0", "user namespaces are disabled"),
    ("kernel.unprivileged_userns_clone", "0",
     "Debian's switch for unprivileged user namespaces is off"),
    ("kernel.apparmor_restrict_unprivileged_userns", "1",
     "AppArmor gives unprivileged user namespaces no privilege (Ubuntu 24.04's default)"),
)


def user_namespace_refusal(proc_sys="/proc/sys"):
    """Why this system refuses user namespaces, naming the setting; None if it does not."""
    for setting, refusing_value, meaning in USER_NAMESPACE_SETTINGS:
        try:
            with open(f"{proc_sys}/{setting.replace('.', '/')}") as value_file:
                value = value_file.read().strip()
        except OSError:
            continue
        if value == refusing_value:
            return f"{meaning}: sysctl {setting} is {value}"
    return None


# === The other calls (runtime/): pivot_root(2), unshare(2), bind mounts ======

# glibc has no pivot_root(); its number in <sys/syscall.h> differs by machine.
SYS_pivot_root = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "armv7l": 218, "i686": 217,
                  "ppc64le": 203, "s390x": 217}.get(os.uname().machine)
_syscall_pivot_root = _prototype(libc["syscall"], ctypes.c_long, ctypes.c_long, ctypes.c_char_p,
                                ctypes.c_char_p)


def pivot_root(new_root, put_old):
    """Make `new_root` the root of this mount namespace; the old root goes to `put_old`.

    See pivot_root(2).  Unlike chroot(2), which changes one process's view
    and can be escaped, this changes the mount namespace's root itself: once
    the old root is detached (umount2 with MNT_DETACH), nothing of the host's
    file system is left to reach.  pivot_root(".", ".") after chdir(new_root)
    mounts the old root on top of the new one, to be detached from "." at once.

    Errors you will meet: EINVAL when `new_root` is not a mount point, or
    when the old root is shared (make mounts private first); EPERM without
    CAP_SYS_ADMIN.
    """
    if SYS_pivot_root is None:
        raise OSError(errno.ENOSYS, f"pivot_root: libns does not know its number on"
                      f" {os.uname().machine}")
    result = _syscall_pivot_root(SYS_pivot_root, _path(new_root), _path(put_old))
    _trace(f"pivot_root({_c_string(new_root)}, {_c_string(put_old)})",
           _result(result, result != 0))
    if result != 0:
        raise _error(f"pivot_root {os.fsdecode(new_root)}")


_unshare = _prototype(libc.unshare, ctypes.c_int, ctypes.c_int)


def unshare(flags):
    """Move the caller into new namespaces, without creating a process.  See unshare(2).

    For most namespaces this is clone()'s flags applied to yourself.  Two are
    different: after CLONE_NEWPID and CLONE_NEWTIME the caller stays where
    it is, and only the children it creates afterwards are in the new
    namespace (a process's pid, and its clocks' offsets, never change).
    CLONE_NEWTIME exists only this way: clone() refuses it with EINVAL,
    because the flag's bit was already taken by CSIGNAL.

    Errors you will meet: EPERM without CAP_SYS_ADMIN; EINVAL for a flag this
    kernel does not know (CLONE_NEWTIME needs Linux 5.6).
    """
    result = _unshare(flags)
    if tracing:
        _trace(f"unshare({flag_names(flags, exit_signal=False)})", _result(result, result != 0))
    if result != 0:
        raise _error(f"unshare {flag_names(flags, exit_signal=False)}")


def bind_mount(source, target, read_only=False, nodev=False, nosuid=False, noexec=False):
    """Make the tree at `source` appear at `target` too; optionally read-only, nodev, nosuid,
    noexec.

    See mount(2), MS_BIND and MS_REMOUNT.  A bind mount is always made with
    the flags of the mounts it copies (MS_REC copies the submounts too);
    read-only takes more calls, one per mount in the tree, or one
    mount_setattr(2) with AT_RECURSIVE (Linux 5.12): a remount of the top
    mount alone would leave every submount below it writable.
    """
    mount(source, target, None, MS_BIND | MS_REC)
    attributes = _attributes(read_only, nodev, nosuid, noexec)
    if attributes:
        set_mount_attributes(target, attributes)


def _attributes(read_only, nodev, nosuid, noexec):
    """mount_setattr(2)'s attributes for these switches."""
    return sum(attribute for attribute, wanted in (
        (MOUNT_ATTR_RDONLY, read_only), (MOUNT_ATTR_NODEV, nodev), (MOUNT_ATTR_NOSUID, nosuid),
        (MOUNT_ATTR_NOEXEC, noexec)) if wanted)


# <linux/mount.h>: mount_setattr(2)'s attributes, and its flag for a whole tree.
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR_IDMAP = 0x00100000
AT_RECURSIVE = 0x8000
SYS_mount_setattr = 442  # the same on every architecture, as all syscalls since 5.1


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


_syscall_mount_setattr = _prototype(libc["syscall"], ctypes.c_long, ctypes.c_long, ctypes.c_int,
                                    ctypes.c_char_p, ctypes.c_uint, ctypes.POINTER(_MountAttr),
                                    ctypes.c_size_t)


def set_mount_attributes(target, attributes, userns_fd=0):
    """Set MOUNT_ATTR_* on the mount at `target` and every mount below it.

    mount_setattr(2) with AT_RECURSIVE where the kernel has it (5.12);
    else a remount of each mount of the tree, top first, as mountinfo lists
    them.  Each remount repeats the flags the mount has: in a user namespace
    nosuid, nodev, noexec and the atime flags are locked, and a remount
    without them fails with EPERM.  `target` may be a path, or the
    descriptor of a tree from open_tree(2) (see clone_mount), and only that
    for MOUNT_ATTR_IDMAP, with `userns_fd`, the user namespace to map by.
    """
    attr = _MountAttr(attr_set=attributes, userns_fd=userns_fd)
    by_fd = isinstance(target, int)
    result = _syscall_mount_setattr(SYS_mount_setattr, target if by_fd else -100,
                                    b"" if by_fd else _path(target),
                                    AT_RECURSIVE | (AT_EMPTY_PATH if by_fd else 0),
                                    ctypes.byref(attr), ctypes.sizeof(attr))
    names = _flag_names(attributes, {"MOUNT_ATTR_RDONLY": MOUNT_ATTR_RDONLY,
                                     "MOUNT_ATTR_NOSUID": MOUNT_ATTR_NOSUID,
                                     "MOUNT_ATTR_NODEV": MOUNT_ATTR_NODEV,
                                     "MOUNT_ATTR_NOEXEC": MOUNT_ATTR_NOEXEC,
                                     "MOUNT_ATTR_IDMAP": MOUNT_ATTR_IDMAP})
    if userns_fd:
        names += f", userns_fd={userns_fd}"
    where = f'{target}, ""' if by_fd else f"AT_FDCWD, {_c_string(target)}"
    _trace(f"mount_setattr({where}, AT_RECURSIVE{'|AT_EMPTY_PATH' if by_fd else ''},"
           f" {{attr_set={names}}})", _result(result, result != 0))
    if result == 0:
        return
    if by_fd or ctypes.get_errno() not in (errno.ENOSYS, errno.EINVAL):
        raise _error(f"mount_setattr {target if by_fd else os.fsdecode(target)}")
    flags = sum(flag for flag, attribute in ((MS_RDONLY, MOUNT_ATTR_RDONLY),
                                             (MS_NOSUID, MOUNT_ATTR_NOSUID),
                                             (MS_NODEV, MOUNT_ATTR_NODEV),
                                             (MS_NOEXEC, MOUNT_ATTR_NOEXEC))
                if attributes & attribute)
    top = os.path.realpath(target)
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    for point in points:
        if point == top or point.startswith(top.rstrip("/") + "/"):
            mount(None, point, None, MS_REMOUNT | MS_BIND | flags | _locked_flags(point))


# <linux/mount.h>, <fcntl.h>: the new mount API, which works on descriptors.
OPEN_TREE_CLONE = 1
AT_EMPTY_PATH = 0x1000
MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH = 0x4, 0x40
SYS_open_tree, SYS_move_mount = 428, 429  # the same on every architecture
_syscall_open_tree = _prototype(libc["syscall"], ctypes.c_long, ctypes.c_long, ctypes.c_int,
                                ctypes.c_char_p, ctypes.c_uint)
_syscall_move_mount = _prototype(libc["syscall"], ctypes.c_long, ctypes.c_long, ctypes.c_int,
                                 ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)


def clone_mount(source, attributes=0, id_map_of=None):
    """A detached copy of the mount tree at `source` (a path or a descriptor): its descriptor.

    open_tree(2) with OPEN_TREE_CLONE (Linux 5.2): a bind mount that is in
    no mount namespace yet; move_mount() puts it somewhere.  `attributes`,
    MOUNT_ATTR_RDONLY and the rest, are set on the copy before anyone sees
    it (where mount_setattr(2) exists, Linux 5.12).  With `id_map_of`, the
    descriptor of a user namespace, the copy is id-mapped too: a file owned
    by id N on disk shows as owned by whatever that namespace maps to N,
    and is written so; the files themselves keep their owners.
    """
    by_fd = isinstance(source, int)
    tree = _syscall_open_tree(SYS_open_tree, source if by_fd else -100,
                              b"" if by_fd else _path(source),
                              OPEN_TREE_CLONE | AT_RECURSIVE | os.O_CLOEXEC
                              | (AT_EMPTY_PATH if by_fd else 0))
    where = f'{source}, ""' if by_fd else f"AT_FDCWD, {_c_string(source)}"
    _trace(f"open_tree({where}, OPEN_TREE_CLONE|AT_RECURSIVE{'|AT_EMPTY_PATH' if by_fd else ''}"
           "|O_CLOEXEC)", _result(tree, tree < 0))
    if tree < 0:
        error = _error(f"open_tree {os.readlink(f'/proc/self/fd/{source}') if by_fd else source}")
        if error.errno == errno.ENOSYS:
            error.strerror += " (the new mount API came in Linux 5.2)"
        raise error
    try:
        if id_map_of is not None:
            set_mount_attributes(tree, attributes | MOUNT_ATTR_IDMAP, id_map_of)
        elif attributes:
            set_mount_attributes(tree, attributes)
    except OSError as error:
        if error.errno != errno.ENOSYS or id_map_of is not None:
            os.close(tree)
            raise
    except BaseException:
        os.close(tree)
        raise
    return tree


def move_mount(tree, target):
    """Put the detached mount `tree` (from clone_mount) at `target`, a path or a descriptor."""
    by_fd = isinstance(target, int)
    result = _syscall_move_mount(SYS_move_mount, tree, b"", target if by_fd else -100,
                                 b"" if by_fd else _path(target), MOVE_MOUNT_F_EMPTY_PATH
                                 | (MOVE_MOUNT_T_EMPTY_PATH if by_fd else 0))
    where = (f'{target}, "", MOVE_MOUNT_T_EMPTY_PATH|' if by_fd
             else f"AT_FDCWD, {_c_string(target)}, ")
    _trace(f'move_mount({tree}, "", {where}MOVE_MOUNT_F_EMPTY_PATH)', _result(result, result != 0))
    if result != 0:
        raise _error("move_mount onto "
                     + (os.readlink(f"/proc/self/fd/{target}") if by_fd else os.fsdecode(target)))


def bind_mount_between(source_fd, target_fd, read_only=False, nodev=False, nosuid=False,
                       noexec=False):
    """bind_mount() from one open descriptor onto another, looking up no path.

    For a target in a tree that someone else may change meanwhile: a path
    would be looked up again, and could lead through a link swapped in.
    open_tree(2) clones the tree at `source_fd`, mount_setattr(2) makes the
    clone read-only, nodev, nosuid or noexec before it is seen anywhere, and move_mount(2)
    puts it on `target_fd`.  Linux 5.12; before it (ENOSYS), bind_mount()
    through /proc/self/fd.
    """
    attributes = _attributes(read_only, nodev, nosuid, noexec)
    try:
        tree = clone_mount(source_fd)
        try:
            if attributes:
                set_mount_attributes(tree, attributes)
            move_mount(tree, target_fd)
        finally:
            os.close(tree)
    except OSError as error:
        if error.errno != errno.ENOSYS:
            raise
        bind_mount(f"/proc/self/fd/{source_fd}", f"/proc/self/fd/{target_fd}", read_only, nodev,
                   nosuid, noexec)


def _locked_flags(path):
    """The MS_* flags of the mount at `path` that a user namespace may not drop."""
    flags = os.statvfs(path).f_flag
    pairs = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
             (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
             (os.ST_RELATIME, MS_RELATIME))
    return sum(mount_flag for statvfs_flag, mount_flag in pairs if flags & statvfs_flag)


# === Confinement: what root may do to the kernel (capabilities, seccomp) =====

# <linux/capability.h>: each of root's privileges, by number.  See capabilities(7).
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
# <sys/prctl.h>, <linux/capability.h>, <linux/seccomp.h>
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_capset = _prototype(libc.capset, ctypes.c_int, ctypes.POINTER(_CapHeader),
                     ctypes.POINTER(_CapData * 2))


def _prctl_checked(option, argument, call):
    result = _prctl(option, argument, 0, 0, 0)
    _trace(call, _result(result, result != 0))
    if result != 0:
        raise _error(call.split("(")[0] + " " + call.split("(", 1)[1].rstrip(")"))


def keep_only_capabilities(kept, become=None, sets=None):
    """Cut root's privileges to the capability names in `kept`, for us and every exec.

    See capabilities(7).  Root gets, at execve(2), every capability of the
    bounding set, so that set is cut first (PR_CAPBSET_DROP, one by one);
    then the effective, permitted and inheritable sets (capset(2)); the
    ambient set, which would survive exec for a non-root user, is cleared.
    `become()`, between the two, changes the ids (an OCI process.user):
    dropping from the bounding set takes CAP_SETPCAP, which setuid() to
    another user clears, and PR_SET_KEEPCAPS keeps the permitted set to cut.
    `sets`: the OCI spec's own effective, permitted, inheritable and ambient
    lists (names), where they are not all `kept`; the ambient ones are
    raised last, as only a capability both permitted and inheritable may be.
    """
    with open("/proc/sys/kernel/cap_last_cap") as last:
        names = CAPABILITIES[:int(last.read()) + 1]
    for number, name in enumerate(names):
        if name not in kept:
            _prctl_checked(PR_CAPBSET_DROP, number, f"prctl(PR_CAPBSET_DROP, CAP_{name})")
    if become is not None:
        _prctl_checked(PR_SET_KEEPCAPS, 1, "prctl(PR_SET_KEEPCAPS, 1)")
        become()
    _prctl_checked(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL,
                   "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)")
    sets = sets or {}
    masks = [sum(1 << number for number, name in enumerate(names) if name in sets.get(kind, kept))
             for kind in ("effective", "permitted", "inheritable")]
    data = (_CapData * 2)()
    for word in (0, 1):
        data[word] = _CapData(*((mask >> (32 * word)) & 0xFFFFFFFF for mask in masks))
    result = _capset(ctypes.byref(_CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)), ctypes.byref(data))
    _trace("capset({_LINUX_CAPABILITY_VERSION_3, 0}, {effective=%#x, permitted=%#x,"
           " inheritable=%#x})" % tuple(masks), _result(result, result != 0))
    if result != 0:
        raise _error("capset")
    for name in sets.get("ambient", ()):
        result = _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAPABILITIES.index(name), 0, 0)
        _trace(f"prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_{name})",
               _result(result, result != 0))
        if result != 0:
            raise _error(f"raise the ambient capability CAP_{name}")


_clearenv = _prototype(libc.clearenv, ctypes.c_int)


def set_environment(variables):
    """Make the dict `variables` our whole environment, in /proc/self/environ too.

    os.environ and libc's environ are copies, which our children get.  The
    environment we were started with stays where execve(2) put it, on our
    stack, and /proc/PID/environ shows that block (env_start to env_end,
    see proc(5)): so it is written over with `variables`, zeros after them,
    or with zeros only when they do not fit.  Then no process that may
    read our memory finds the old variables there.
    """
    _clearenv()  # libc's array, with any entry os.environ does not show
    os.environ.clear()
    os.environ.update(variables)
    with open("/proc/self/stat", "rb") as stat_file:
        fields = stat_file.read().rsplit(b")", 1)[1].split()
    start, end = int(fields[47]), int(fields[48])  # fields 50 and 51 of proc(5)
    block = b"".join(os.fsencode(f"{name}={value}") + b"\0" for name, value in variables.items())
    block = block if len(block) <= end - start else b""
    ctypes.memmove(start, block + bytes(end - start - len(block)), end - start)
    _trace(f"memcpy(env_start, environ, {len(block)}) /* and zeros to env_end, +{end - start} */")


def set_no_new_privs():
    """No exec from now on may gain privileges: setuid bits and file capabilities do nothing.

    See PR_SET_NO_NEW_PRIVS in prctl(2).  It also lets a process without
    CAP_SYS_ADMIN install a seccomp filter.
    """
    _prctl_checked(PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS, 1)")


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def load_seccomp_filter(program, description=()):
    """Install `program`, [(code, jt, jf, k)], as the seccomp filter of us and our children.

    See seccomp(2) and PR_SET_SECCOMP in prctl(2): it needs no_new_privs
    first (set_no_new_privs), or CAP_SYS_ADMIN, and it can never be removed.
    seccomp.py builds the program; `description`, its lines for the trace.
    """
    instructions = (_SockFilter * len(program))(*[_SockFilter(*row) for row in program])
    fprog = _SockFprog(len(program), instructions)
    result = _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0)
    if tracing:
        _trace(f"prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {{len={len(program)}, filter=...}})",
               _result(result, result != 0))
        for line in description:
            _trace(line)
    if result != 0:
        raise _error("prctl PR_SET_SECCOMP")


def set_dumpable(dumpable):
    """Whether this process may be ptraced, or its /proc/PID files read, by others of its uid.

    See PR_SET_DUMPABLE in prctl(2) and ptrace(2): when it is 0, only a
    process with CAP_SYS_PTRACE in the user namespace our memory was made in
    may open our /proc/PID/fd, mem, environ, root or cwd, ptrace(2) us, or
    take a descriptor with pidfd_getfd(2).  execve(2) sets it to 1 again.
    """
    _prctl_checked(PR_SET_DUMPABLE, int(dumpable), f"prctl(PR_SET_DUMPABLE, {int(dumpable)})")


_syscall = _prototype(libc["syscall"], ctypes.c_long, ctypes.c_long)


def syscall(number, *arguments):
    """Make the system call `number` with int or bytes arguments; return its result.

    For escapes.py, which tries calls Python has no function for
    (finit_module, open_by_handle_at, keyctl, io_uring_setup): a failure
    raises OSError with the call's errno.
    """
    c_arguments = [ctypes.c_char_p(value) if isinstance(value, bytes) else ctypes.c_long(value)
                   for value in arguments]
    result = _syscall(number, *c_arguments)
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


# === net_veth.py, runtime/network.py: rtnetlink(7), a veth pair ==============

# <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>, <linux/veth.h>:
# what `ip link add ... type veth`, `ip addr add` and `ip route add` send to
# the kernel, on a netlink socket of the network namespace they act in.
NETLINK_ROUTE = 0
NLMSG_ERROR = 2
RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 20, 24
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFLA_IFNAME, IFLA_LINKINFO, IFLA_NET_NS_PID = 3, 18, 19
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_OIF, RTA_GATEWAY = 4, 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
IFF_UP = 0x1


def _attribute(kind, payload):
    """A struct rtattr: length, type, then the payload, padded to 4 bytes."""
    length = 4 + len(payload)
    return (length.to_bytes(2, sys.byteorder) + kind.to_bytes(2, sys.byteorder) + payload
            + bytes(-length % 4))


def _ifinfomsg(index=0, flags=0, change=0):
    """struct ifinfomsg: which link, and which of its flags to change."""
    return bytes([0, 0]) + bytes(2) + b"".join(
        value.to_bytes(4, sys.byteorder, signed=True) for value in (index, flags, change))


def _name(text):
    return os.fsencode(text) + b"\0"


def _netlink(message_type, flags, body, description):
    """Send one rtnetlink request and wait for the kernel's answer; OSError if it says no.

    A netlink message is a struct nlmsghdr (length, type, flags, sequence,
    port) and its body; with NLM_F_ACK the kernel answers NLMSG_ERROR,
    whose error is 0 for yes and -errno for no.
    """
    import socket  # here: only the networked stages need it
    flags |= NLM_F_REQUEST | NLM_F_ACK
    header = ((16 + len(body)).to_bytes(4, sys.byteorder)
              + message_type.to_bytes(2, sys.byteorder) + flags.to_bytes(2, sys.byteorder)
              + bytes(8))
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as channel:
        channel.send(header + body)
        answer = channel.recv(65536)
    code = -int.from_bytes(answer[16:20], sys.byteorder, signed=True)
    is_answer = int.from_bytes(answer[4:6], sys.byteorder) == NLMSG_ERROR
    _trace(description, f"-1 {errno.errorcode.get(code, code)} ({os.strerror(code)})"
           if code else "0")
    if not is_answer or code:
        raise OSError(code or errno.EPROTO, f"{description}: {os.strerror(code or errno.EPROTO)}")


def _index(interface, description):
    """The interface's number, which requests name it by; ENODEV names the request."""
    import socket
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        _trace(description, "-1 ENODEV (No such device)")
        raise OSError(errno.ENODEV, f"{description}: {os.strerror(errno.ENODEV)}") from None


def add_veth_pair(name, peer, peer_pid=None):
    """Make two network interfaces joined by a virtual cable; the peer in `peer_pid`'s namespace.

    `ip link add NAME type veth peer name PEER netns PID`.  See veth(4).
    What goes into one end comes out of the other.  The pair dies with the
    network namespace of either end: when the container's goes, so does the
    host's end.  Errors: EEXIST for a name taken, EPERM without
    CAP_NET_ADMIN over this network namespace.
    """
    peer_attributes = _attribute(IFLA_IFNAME, _name(peer))
    if peer_pid is not None:
        peer_attributes += _attribute(IFLA_NET_NS_PID, peer_pid.to_bytes(4, sys.byteorder))
    link_info = _attribute(IFLA_INFO_KIND, b"veth\0") + _attribute(
        IFLA_INFO_DATA, _attribute(VETH_INFO_PEER, _ifinfomsg() + peer_attributes))
    netns = f" netns {peer_pid}" if peer_pid is not None else ""
    _netlink(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
             _ifinfomsg() + _attribute(IFLA_IFNAME, _name(name))
             + _attribute(IFLA_LINKINFO, link_info),
             f"RTM_NEWLINK {name} type veth peer {peer}{netns}")


def delete_link(interface):
    """`ip link del INTERFACE`, if it is still there; a veth pair goes with either end.

    The kernel removes a dead namespace's interfaces too, but later, from a
    work queue: a tool that waits for its container deletes its end itself,
    so that the host is as it was when the tool returns.
    """
    import socket
    try:
        index = socket.if_nametoindex(interface)
    except OSError:
        return
    try:
        _netlink(RTM_DELLINK, 0, _ifinfomsg(index), f"RTM_DELLINK {interface}")
    except OSError as error:
        if error.errno != errno.ENODEV:  # gone meanwhile, with its namespace
            raise


def set_link_up(interface):
    """`ip link set INTERFACE up`: a new interface, lo included, starts down."""
    description = f"RTM_NEWLINK {interface} up"
    _netlink(RTM_NEWLINK, 0, _ifinfomsg(_index(interface, description), IFF_UP, IFF_UP),
             description)


def add_address(interface, address, prefix_length):
    """`ip addr add ADDRESS/PREFIX dev INTERFACE`: an IPv4 address, and its subnet's route."""
    import socket
    description = f"RTM_NEWADDR {interface} {address}/{prefix_length}"
    packed = socket.inet_aton(address)
    body = bytes([socket.AF_INET, prefix_length, 0, RT_SCOPE_UNIVERSE]) + _index(
        interface, description).to_bytes(4, sys.byteorder)
    _netlink(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
             body + _attribute(IFA_LOCAL, packed) + _attribute(IFA_ADDRESS, packed), description)


def add_default_route(gateway, interface):
    """`ip route add default via GATEWAY dev INTERFACE`: where every other address goes."""
    import socket
    description = f"RTM_NEWROUTE default via {gateway} dev {interface}"
    body = bytes([socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE,
                  RTN_UNICAST]) + bytes(4)
    _netlink(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
             body + _attribute(RTA_GATEWAY, socket.inet_aton(gateway))
             + _attribute(RTA_OIF, _index(interface, description).to_bytes(4, sys.byteorder)),
             description)


# === enter.py: setns(2), and which namespaces a process is in ================

_setns = _prototype(libc.setns, ctypes.c_int, ctypes.c_int, ctypes.c_int)


def setns(fd, path):
    """Move the caller into the namespace that `fd`, opened from `path`, refers to.

    See setns(2).  `path` is a /proc/PID/ns/TYPE file and only names the call
    in messages and the trace.  As with unshare(), joining a PID or time
    namespace moves only the children created afterwards.

    Errors you will meet: EPERM without CAP_SYS_ADMIN over the namespace (as
    an ordinary user, join the process's user namespace first); EINVAL when
    joining your own user namespace, or a user namespace with threads.
    """
    result = _setns(fd, 0)
    _trace(f"setns({fd} /* {path} */, 0)", _result(result, result != 0))
    if result != 0:
        raise _error(f"setns {path}")


def namespaces_of(pid="self"):
    """{'mnt': 'mnt:[4026531841]', ...}: the namespaces process `pid` is in.

    See namespaces(7): each /proc/PID/ns/TYPE is a link whose target names the
    namespace; two processes share a namespace when the targets are equal.
    Reading another user's process needs the right to ptrace it.
    """
    return {kind: os.readlink(f"/proc/{pid}/ns/{kind}") for kind, _, _, _ in NAMESPACES
            if os.path.lexists(f"/proc/self/ns/{kind}")}


# === Tracing: every call above, printed as a C programmer writes it ==========

# LIBNS_TRACE=1 in the environment, or -v as a stage's first option, prints
# each call libns makes on stderr, with its result, from the parent and the
# child, so that it can be read next to `strace -f` of the C programs.
tracing = os.environ.get("LIBNS_TRACE", "") not in ("", "0")
# Lines the child holds back until it tells the parent it is armed; the
# parent prints them, so the trace reads in one order, not as the two raced.
_held_lines = None


def _trace(call, result=None):
    """Print `call = result` on stderr when tracing; '[child] ' marks the child."""
    if tracing:
        line = f"{'[child] ' if _in_child else ''}{call}"
        if result is not None:
            line += f" = {result}"
        if _held_lines is not None:
            _held_lines.append(line)
        else:
            _print_trace(line)


def trace(step):
    """Put a step that is no libns call (a file written) in the -v trace, as `step = 0`."""
    _trace(step, 0)


def _print_trace(line):
    """Write one trace line; a closed or broken stderr ends the trace, never the command."""
    global tracing
    if tracing and not write_stderr(line):
        tracing = False


def _result(value, failed):
    """A call's result as strace shows it: '0', '4242' or '-1 EPERM (Operation not permitted)'."""
    if not failed:
        return str(value)
    code = ctypes.get_errno()
    return f"-1 {errno.errorcode.get(code, code)} ({os.strerror(code)})"


def _c_string(text):
    """A C string argument as strace shows it: "text", or NULL."""
    if text is None:
        return "NULL"
    return '"' + os.fsdecode(text).replace('"', '\\"') + '"'


def _flag_names(flags, names):
    """flags as 'NAME|NAME' from {name: bit}, with any bits left over in hex; '0' for none."""
    parts = [name for name, bit in names.items() if flags & bit]
    rest = flags & ~sum(bit for name, bit in names.items() if flags & bit)
    if rest:
        parts.append(hex(rest))
    return "|".join(parts) or "0"


# === The command line every stage shares =====================================

def program_name():
    """The name errors start with: the stage script's file name."""
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "libns"


def write_stderr(line):
    """Write `line` and a newline to fd 2, unbuffered, as strace does; False if it failed.

    Straight to the descriptor, past sys.stderr: that is None when fd 2 was
    closed at start-up, and its buffer would be copied into the child.
    Bytes of an argument that are not UTF-8 show as \\xff, as strace shows them.
    """
    try:
        # Back to the bytes the argument was made of, then each byte that is
        # not UTF-8 as text.
        data = (line + "\n").encode(errors="surrogateescape")
    except UnicodeEncodeError:
        data = (line + "\n").encode(errors="backslashreplace")
    try:
        os.write(2, data.decode(errors="backslashreplace").encode())
        return True
    except OSError:
        return False


def write_stdout(text):
    """Write `text` on stdout, for a person to read: --help, the namespace view.

    A reader that has seen enough (`| head -1`) ends us quietly, with the
    status we would have had, as util-linux ignores EPIPE; any other failure
    (a full disk, a closed stdout) is one line and 125.
    """
    data = text.encode(errors="surrogateescape")
    try:
        while data:
            data = data[os.write(1, data):]
    except BrokenPipeError:
        os._exit(0)
    except OSError as error:
        exit_with_message(f"write to stdout: {error.strerror}", 125)


def flush_output():
    """Flush Python's stdout and stderr; a closed, full or broken one is let be."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def exit_with_message(message, status):
    """Leave with one line, 'PROGRAM: message', on stderr and `status`.

    The one way every tool here fails, in the parent and in the child.  It
    leaves with os._exit(): in a child nothing of the parent's may run, and
    in the parent nothing is left to do (see exit()).
    """
    flush_output()
    write_stderr(f"{program_name()}: {message}")
    if not _in_child:
        try:
            _undo()
        except OSError:
            pass  # the message above is the one that matters
    os._exit(status)


def _exit_like_docker_run(kind, error, traceback):
    """sys.excepthook from command_line() on: an error ends the tool as docker run's do.

    ChildError with its status (125, 126, 127); any other OSError, and a
    command no C string can hold (ValueError), with 125 and one line; so
    does any error in a stage's own code, with its line (see _place).
    Anything else is a bug of libns or runtime/: its traceback, and 125.
    """
    if isinstance(error, ChildError):
        exit_with_message(error.strerror, error.status)
    if isinstance(error, OSError):
        exit_with_message(_describe(error), 125)
    if _place(error):  # an error in the stage's own code: what and where, in one line
        exit_with_message(_describe(error), 125)
    if isinstance(error, ValueError):  # a refusal of ours, worded for the user
        exit_with_message(str(error), 125)
    sys.__excepthook__(kind, error, traceback)
    flush_output()
    os._exit(125)


OPTIONS_HELP = """\
options:
  -h, --help     print this help and exit
  -v, --verbose  print every call libns makes, as strace -f would (or set LIBNS_TRACE=1)
  --             end of options: what follows is the command, even if it starts with -"""
STAGE_NOTE = "Without a command, the stage runs $SHELL (default /bin/sh) inside."
COMMAND = "[COMMAND [ARG...]]"


def usage(arguments=f"[--] {COMMAND}"):
    """The first line of every tool's --help."""
    return f"usage: {program_name()} [-h] [-v] {arguments}"


def parse_options(args, doc, arguments=f"[--] {COMMAND}", options=None, note=STAGE_NOTE):
    """Our options, which come first, as in unshare(1): return (values, the rest).

    -h prints the usage, `doc`, the options and `note` (a string, or a
    function that makes it), and exits; -v turns
    tracing on; the first argument that is not an option ends them, and so
    does --.  `options` maps the names of a tool's own options to their
    defaults: `--rootfs DIR` or `--rootfs=DIR` gives "--rootfs" its value;
    an option whose default is False is a switch, True when given; one
    whose default is a list takes every value it is given.
    """
    global tracing
    values = dict(options or {})
    while args and args[0].startswith("-") and args[0] != "-":
        option, args = args[0], args[1:]
        name, has_value, value = option.partition("=")
        if values.get(option) is False:  # a switch, such as container.py's -t
            values[option] = True
        elif name in values:
            if not has_value:
                if not args:
                    exit_with_message(f"option {name} needs a value\n{usage(arguments)}", 125)
                value, args = args[0], args[1:]
            # A list gathers every value of an option given more than once (-v).
            values[name] = values[name] + [value] if isinstance(values[name], list) else value
        elif option in ("-h", "--help"):
            # `doc` is None under python3 -OO, which drops docstrings.
            about = f"\n\n{doc.strip()}" if doc else ""
            note = note() if callable(note) else note  # made only when asked for
            write_stdout(f"{usage(arguments)}{about}\n\n{OPTIONS_HELP}\n{note}\n")
            os._exit(0)
        elif option in ("-v", "--verbose"):
            if args and ":" in args[0] and args[0].split(":")[1].startswith("/"):
                # docker run's -v HOST:CONTAINER: not a command to trace.
                exit_with_message(f"-v {args[0]}: -v is the trace here, not docker run's"
                                  f" volume; container.py --volume {args[0]} binds it", 125)
            tracing = True
        elif option == "--":
            break
        elif name in DOCKER_RUN_HABITS:
            exit_with_message(f"{name} is docker run's: {DOCKER_RUN_HABITS[name]}", 125)
        else:
            exit_with_message(f"unknown option {option!r} (put -- before a command that"
                              f" starts with '-')\n{usage(arguments)}", 125)
    return values, args


_IN_CONTAINER_PY = "container.py takes it (a stage takes only -h and -v)"
# What a hand used to docker run types, and what does the same here.
DOCKER_RUN_HABITS = {
    **dict.fromkeys(("-i", "-t", "-it", "-ti", "--interactive", "--tty"),
                    "the command always reads your stdin, and container.py gives it a terminal"
                    " of its own when stdin is one; leave it out"),
    "--rm": "nothing here outlives its command; leave it out",
    "--name": "nothing here has a name; find a container by its tool's pid (EXERCISES.md, 8)",
    **dict.fromkeys(("-d", "--detach"), "nothing here runs detached; end the command line"
                    " with & in your shell"),
    **dict.fromkeys(("-p", "--publish"), "nothing publishes a port yet; container.py --net"
                    " veth gives the container an address the host reaches"),
    **dict.fromkeys(("-u", "--user"), "nothing takes it yet; run the command through"
                    " setpriv --reuid=UID --regid=GID --clear-groups"),
    **dict.fromkeys(("-w", "--workdir"), "nothing takes it yet; run sh -c 'cd DIR && exec"
                    " COMMAND'"),
    "--init": "container.py always runs an init as PID 1; leave it out",
    "-m": "container.py --memory does the same",
    "--network": "container.py --net none|veth|host does the same",
    **dict.fromkeys(("--net", "--env", "-e", "--volume", "--hostname",
                     "--privileged", "--cap-add", "--cap-drop", "--security-opt", "--memory",
                     "--memory-swap", "--pids-limit", "--cpus", "--userns"), _IN_CONTAINER_PY),
}


def default_command():
    """What runs without a command, as in unshare(1): $SHELL, else /bin/sh."""
    return [os.environ.get("SHELL") or "/bin/sh"]


def command_line(doc):
    """A stage's command line: the command to run, as C's `args.argv = &argv[1]`.

    Without a command, default_command().  From here on, an error ends the
    tool with one line and docker run's status (see _exit_like_docker_run),
    so that a stage's main() reads as its C twin's, without a try.
    """
    _, argv = parse_options(sys.argv[1:], doc)
    errors_exit_like_docker_run()
    return argv or default_command()


def run_script(main):
    """Run a helper script's main(arguments) (check.py, preflight.py), which print()s; exit.

    A closed stdout or stderr is written nowhere, not a traceback; a reader
    that has seen enough (| head) ends it quietly; Ctrl-C ends it by SIGINT,
    as the shell expects of a program it interrupted.
    """
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # closed at start-up: Python left it None
            setattr(sys, name, open(os.devnull, "w"))
    try:
        status = main(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    except KeyboardInterrupt:
        die_by_signal(signal.SIGINT)
    sys.exit(status)


def errors_exit_like_docker_run():
    """From now on, an error ends the tool as docker run's do: see _exit_like_docker_run."""
    sys.excepthook = _exit_like_docker_run
