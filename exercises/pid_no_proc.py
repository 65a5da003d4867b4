"""Exercise 6: the pid stage without its fresh /proc.

Start from a copy of the pid stage (this file): take out what gives `ps` its
new view, and see what `ps` shows then.  See EXERCISES.md.

Run it:      sudo PYTHONPATH=. python3 exercises/pid_no_proc.py sh -c 'echo $$; ps -e | wc -l'
Check it:    sudo python3 exercises/check.py 6
"""
import libns

clone_flags = (
    libns.CLONE_NEWPID |
    libns.CLONE_NEWIPC |
    libns.CLONE_NEWUTS |
    libns.CLONE_NEWNS |
    libns.CLONE_NEWNET |
    libns.SIGCHLD
)


def child():
    """The child's setup, between clone() and execvp() of the command."""
    libns.mount(None, "/", None, libns.MS_REC | libns.MS_PRIVATE)
    libns.mount("none", "/tmp", "tmpfs", 0, "")
    libns.sethostname("custom_hostname")
    libns.mount("proc", "/proc", "proc", libns.MS_NOSUID | libns.MS_NODEV | libns.MS_NOEXEC, "")


if __name__ == "__main__":
    libns.main(clone_flags, child, __doc__)
