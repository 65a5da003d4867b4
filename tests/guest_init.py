"""guest_init.py: PID 1 of tests/guest.py's virtual machine.  Not for the host.

Mounts what a system has, with cgroup v2 alone on /sys/fs/cgroup, runs the
command the runner asked for (a JSON file: argv, cwd, env), reaps every
orphan meanwhile, as PID 1 must, prints "guest: exit status N", and powers
the machine off, which ends QEMU.
"""
import ctypes
import json
import os
import subprocess
import sys

RB_POWER_OFF = 0x4321FEDC
MOUNTS = (("proc", "/proc", "proc", ""), ("sysfs", "/sys", "sysfs", ""),
          ("cgroup2", "/sys/fs/cgroup", "cgroup2", ""), ("devtmpfs", "/dev", "devtmpfs", ""),
          ("devpts", "/dev/pts", "devpts", "ptmxmode=0666,mode=620"),
          ("tmpfs", "/dev/shm", "tmpfs", "mode=1777"), ("tmpfs", "/run", "tmpfs", "mode=755"))
# No tmpfs on /tmp: the checkout may lie there (CI's clone), and what the
# guest writes there already goes to the overlay's throwaway layer.


def main():
    with open(sys.argv[1]) as request_file:  # before /tmp is a tmpfs of the guest's
        request = json.load(request_file)
    libc = ctypes.CDLL(None, use_errno=True)
    for source, target, fstype, data in MOUNTS:
        os.makedirs(target, exist_ok=True)
        if libc.mount(source.encode(), target.encode(), fstype.encode(), 0, data.encode()) != 0:
            print(f"guest: mount {fstype} on {target}: {os.strerror(ctypes.get_errno())}",
                  flush=True)
    with open("/proc/sys/kernel/hostname", "w") as hostname:
        hostname.write("guest")
    subprocess.run(["ip", "link", "set", "lo", "up"])
    try:
        command = subprocess.Popen(request["argv"], cwd=request["cwd"], env=request["env"])
    except OSError as error:
        print(f"guest: {request['argv'][0]} in {request['cwd']}: {error.strerror}", flush=True)
        code = 127 if isinstance(error, FileNotFoundError) else 126
    else:
        while True:
            pid, status = os.waitpid(-1, 0)  # every orphan is ours to reap
            if pid == command.pid:
                break
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    print(f"guest: exit status {code}", flush=True)
    os.sync()
    libc.reboot(RB_POWER_OFF)


if __name__ == "__main__":
    main()
