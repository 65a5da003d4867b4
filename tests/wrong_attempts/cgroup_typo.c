/* cgroup_typo.c: a wrong attempt check.py must explain: the flag misspelt. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>   /* Fix: kill() and SIG_DFL, to pass a signal death on. */
#include <string.h>   /* Fix: strerror() is declared here; the tutorial left it out. */
#include <unistd.h>   /* Fix: execvp() and getpid() are declared here. */
#include <sys/mount.h>


#define STACKSIZE (1024*1024)
static char child_stack[STACKSIZE];

struct clone_args {
    char **argv;
};

static int child_exec(void *arguments)
{
    struct clone_args *args = (struct clone_args *)arguments;
    /* Fix: make every mount private first: on a host whose / is shared (systemd),
       the tmpfs would appear on the host too. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        fprintf(stderr, "failed to make mounts private: %s\n", strerror(errno));
        exit(125); /* Fix: docker run's 125, the tool failed; not -1 (255). */
    }
    if (mount("none", "/tmp", "tmpfs", 0, "") != 0) {
        fprintf(stderr, "failed to mount tmpfs: %s\n", strerror(errno));
        exit(125); /* Fix: 125, docker run's "the runtime failed", not -1 (255). */
    }
    const char * hn = "custom_hostname";
    if (sethostname(hn, strlen(hn)) != 0) {
        fprintf(stderr, "failed to change hostname: %s\n", strerror(errno));
        exit(125); /* Fix: docker run's 125, the tool failed; not -1 (255). */
    }
    /* Fix: mount a fresh proc on top of /proc instead of umount("/proc", 0), which does not
       compile (umount takes one argument) and fails with EBUSY when /proc has submounts. */
    /* Fix: nosuid, nodev, noexec, the flags every proc is mounted with; the tutorial's 0. */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "") != 0) {
        fprintf(stderr, "failed mount /proc %s\n", strerror(errno));
        exit(125); /* Fix: docker run's 125, the tool failed; not -1 (255). */
    }
    if (execvp(args->argv[0], args->argv) != 0) {
        fprintf(stderr, "failed to execute: %s\n", strerror(errno));
        /* Fix: docker run's 127 (not found) and 126 (cannot run), not -1 (255). */
        exit(errno == ENOENT || errno == ENOTDIR ? 127 : 126);
    }
    exit(EXIT_FAILURE);
}

int main(int argc, char **argv)
{
    struct clone_args args;
    args.argv = &argv[1];

    if (argc < 2) {   /* Fix: without a command, execvp(NULL) crashes the child. */
        fprintf(stderr, "usage: %s COMMAND [ARG...]\n", argv[0]);
        exit(125); /* Fix: docker run's 125, the tool failed; not -1 (255). */
    }

    int clone_flags = CLONE_NEWCGROPU | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWNET | SIGCHLD;

    pid_t pid = clone(child_exec, child_stack + STACKSIZE, clone_flags, &args);
    if (pid < 0) {
        fprintf(stderr, "clone failed: %s\n", strerror(errno));
        exit(125);   /* Fix: docker run's 125, the tool failed, as the Python stages exit. */
    }

    int status;   /* Fix: the tutorial passed NULL and always exited 0. */
    if (waitpid(pid, &status, 0) == -1) {
        fprintf(stderr, "failed to wait pid: %d\n", pid);
        exit(EXIT_FAILURE);
    }
    if (WIFSIGNALED(status)) {   /* Fix: die by the command's signal, as unshare --fork does. */
        signal(WTERMSIG(status), SIG_DFL);
        kill(getpid(), WTERMSIG(status));
    }
    exit(WEXITSTATUS(status));
}
