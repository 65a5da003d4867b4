"""seccomp.py: Docker's default seccomp profile, and the BPF program the kernel runs for it.

A seccomp filter is a small classic-BPF program that the kernel runs at every
system call a process makes, over a `struct seccomp_data` (the call's number,
the architecture, the six arguments); what it returns decides: allow the
call, or fail it with an errno, or kill.  See seccomp(2).

The policy is an allowlist, as Docker's is: every call a container may make
is named, and anything else, including every call a newer kernel adds, fails
with EPERM.  A deny list misses each new call (open_tree_attr came in Linux
6.15 and clones any mount read-write).  The profile is Docker's own,
seccomp_default.json beside this file, copied unchanged from moby's
profiles/seccomp/default.json (Apache-2.0); Docker turns it into the
`linux.seccomp` of the OCI spec it hands runc, and so does docker_profile()
here; compile() then does what runc does with libseccomp.  Three steps:

  seccomp_default.json  --docker_profile(caps)-->  OCI linux.seccomp
                        --compile()-->  [(code, jt, jf, k), ...]  --libns-->  the kernel

One machine has three ABIs that reach the same kernel: x86_64, x32 (x86_64's
registers with numbers of its own, bit 30 set) and i386 (int $0x80 or a
32-bit program).  A filter that checked one would let the others through,
so the program checks the architecture first and filters each by its own
numbers, as libseccomp does.
"""
import errno
import json
import os

PROFILE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seccomp_default.json")

# <linux/audit.h>: the architecture in seccomp_data.
AUDIT_ARCH = {"SCMP_ARCH_X86_64": 0xC000003E, "SCMP_ARCH_X86": 0x40000003}
X32_SYSCALL_BIT = 0x40000000
# Each machine's own ABI as the profile names it, and as Go does (its
# "includes": {"arches": [...]}, which moby compares with runtime.GOARCH).
NATIVE = {"x86_64": ("SCMP_ARCH_X86_64", "amd64")}

# <linux/filter.h>, <linux/seccomp.h>: the instructions the program uses, and what it returns.
BPF_LD_W_ABS, BPF_ALU_AND_K, BPF_JA = 0x20, 0x54, 0x05
BPF_JEQ, BPF_JGT, BPF_JGE, BPF_RET = 0x15, 0x25, 0x35, 0x06
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD = 0x80000000, 0x00000000
SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO, SECCOMP_RET_TRACE = 0x00030000, 0x00050000, 0x7FF00000
SECCOMP_RET_LOG, SECCOMP_RET_ALLOW = 0x7FFC0000, 0x7FFF0000
ACTIONS = {"SCMP_ACT_KILL": SECCOMP_RET_KILL_THREAD,
           "SCMP_ACT_KILL_THREAD": SECCOMP_RET_KILL_THREAD,
           "SCMP_ACT_KILL_PROCESS": SECCOMP_RET_KILL_PROCESS, "SCMP_ACT_TRAP": SECCOMP_RET_TRAP,
           "SCMP_ACT_ERRNO": SECCOMP_RET_ERRNO, "SCMP_ACT_TRACE": SECCOMP_RET_TRACE,
           "SCMP_ACT_LOG": SECCOMP_RET_LOG, "SCMP_ACT_ALLOW": SECCOMP_RET_ALLOW}
# struct seccomp_data: nr at 0, arch at 4, args[i] at 16 + 8 i, its low half first.
NR, ARCH, ARGS = 0, 4, 16
# How OCI's args compare, and what each means in Python (for action_for).
OPERATORS = {"SCMP_CMP_NE": "!=", "SCMP_CMP_LT": "<", "SCMP_CMP_LE": "<=", "SCMP_CMP_EQ": "==",
             "SCMP_CMP_GE": ">=", "SCMP_CMP_GT": ">", "SCMP_CMP_MASKED_EQ": "&"}
MAX_INSTRUCTIONS = 4096  # BPF_MAXINSNS

# The system calls' numbers: name:x86_64:i386, from the kernel's asm/unistd_64.h and
# unistd_32.h (an empty field: no such call there).  From 424 on, every ABI has the same.
NUMBERS = """
    read:0:3 write:1:4 open:2:5 close:3:6 stat:4:106 fstat:5:108 lstat:6:107 poll:7:168 lseek:8:19
    mmap:9:90 mprotect:10:125 munmap:11:91 brk:12:45 rt_sigaction:13:174 rt_sigprocmask:14:175
    rt_sigreturn:15:173 ioctl:16:54 pread64:17:180 pwrite64:18:181 readv:19:145 writev:20:146
    access:21:33 pipe:22:42 select:23:82 sched_yield:24:158 mremap:25:163 msync:26:144
    mincore:27:218 madvise:28:219 shmget:29:395 shmat:30:397 shmctl:31:396 dup:32:41 dup2:33:63
    pause:34:29 nanosleep:35:162 getitimer:36:105 alarm:37:27 setitimer:38:104 getpid:39:20
    sendfile:40:187 socket:41:359 connect:42:362 accept:43: sendto:44:369 recvfrom:45:371
    sendmsg:46:370 recvmsg:47:372 shutdown:48:373 bind:49:361 listen:50:363 getsockname:51:367
    getpeername:52:368 socketpair:53:360 setsockopt:54:366 getsockopt:55:365 clone:56:120 fork:57:2
    vfork:58:190 execve:59:11 exit:60:1 wait4:61:114 kill:62:37 uname:63:122 semget:64:393 semop:65:
    semctl:66:394 shmdt:67:398 msgget:68:399 msgsnd:69:400 msgrcv:70:401 msgctl:71:402 fcntl:72:55
    flock:73:143 fsync:74:118 fdatasync:75:148 truncate:76:92 ftruncate:77:93 getdents:78:141
    getcwd:79:183 chdir:80:12 fchdir:81:133 rename:82:38 mkdir:83:39 rmdir:84:40 creat:85:8
    link:86:9 unlink:87:10 symlink:88:83 readlink:89:85 chmod:90:15 fchmod:91:94 chown:92:182
    fchown:93:95 lchown:94:16 umask:95:60 gettimeofday:96:78 getrlimit:97:76 getrusage:98:77
    sysinfo:99:116 times:100:43 ptrace:101:26 getuid:102:24 syslog:103:103 getgid:104:47
    setuid:105:23 setgid:106:46 geteuid:107:49 getegid:108:50 setpgid:109:57 getppid:110:64
    getpgrp:111:65 setsid:112:66 setreuid:113:70 setregid:114:71 getgroups:115:80 setgroups:116:81
    setresuid:117:164 getresuid:118:165 setresgid:119:170 getresgid:120:171 getpgid:121:132
    setfsuid:122:138 setfsgid:123:139 getsid:124:147 capget:125:184 capset:126:185
    rt_sigpending:127:176 rt_sigtimedwait:128:177 rt_sigqueueinfo:129:178 rt_sigsuspend:130:179
    sigaltstack:131:186 utime:132:30 mknod:133:14 uselib:134:86 personality:135:136 ustat:136:62
    statfs:137:99 fstatfs:138:100 sysfs:139:135 getpriority:140:96 setpriority:141:97
    sched_setparam:142:154 sched_getparam:143:155 sched_setscheduler:144:156
    sched_getscheduler:145:157 sched_get_priority_max:146:159 sched_get_priority_min:147:160
    sched_rr_get_interval:148:161 mlock:149:150 munlock:150:151 mlockall:151:152 munlockall:152:153
    vhangup:153:111 modify_ldt:154:123 pivot_root:155:217 _sysctl:156:149 prctl:157:172
    arch_prctl:158:384 adjtimex:159:124 setrlimit:160:75 chroot:161:61 sync:162:36 acct:163:51
    settimeofday:164:79 mount:165:21 umount2:166:52 swapon:167:87 swapoff:168:115 reboot:169:88
    sethostname:170:74 setdomainname:171:121 iopl:172:110 ioperm:173:101 create_module:174:127
    init_module:175:128 delete_module:176:129 get_kernel_syms:177:130 query_module:178:167
    quotactl:179:131 nfsservctl:180:169 getpmsg:181:188 putpmsg:182:189 afs_syscall:183:137
    tuxcall:184: security:185: gettid:186:224 readahead:187:225 setxattr:188:226 lsetxattr:189:227
    fsetxattr:190:228 getxattr:191:229 lgetxattr:192:230 fgetxattr:193:231 listxattr:194:232
    llistxattr:195:233 flistxattr:196:234 removexattr:197:235 lremovexattr:198:236
    fremovexattr:199:237 tkill:200:238 time:201:13 futex:202:240 sched_setaffinity:203:241
    sched_getaffinity:204:242 set_thread_area:205:243 io_setup:206:245 io_destroy:207:246
    io_getevents:208:247 io_submit:209:248 io_cancel:210:249 get_thread_area:211:244
    lookup_dcookie:212:253 epoll_create:213:254 epoll_ctl_old:214: epoll_wait_old:215:
    remap_file_pages:216:257 getdents64:217:220 set_tid_address:218:258 restart_syscall:219:0
    semtimedop:220: fadvise64:221:250 timer_create:222:259 timer_settime:223:260
    timer_gettime:224:261 timer_getoverrun:225:262 timer_delete:226:263 clock_settime:227:264
    clock_gettime:228:265 clock_getres:229:266 clock_nanosleep:230:267 exit_group:231:252
    epoll_wait:232:256 epoll_ctl:233:255 tgkill:234:270 utimes:235:271 vserver:236:273 mbind:237:274
    set_mempolicy:238:276 get_mempolicy:239:275 mq_open:240:277 mq_unlink:241:278
    mq_timedsend:242:279 mq_timedreceive:243:280 mq_notify:244:281 mq_getsetattr:245:282
    kexec_load:246:283 waitid:247:284 add_key:248:286 request_key:249:287 keyctl:250:288
    ioprio_set:251:289 ioprio_get:252:290 inotify_init:253:291 inotify_add_watch:254:292
    inotify_rm_watch:255:293 migrate_pages:256:294 openat:257:295 mkdirat:258:296 mknodat:259:297
    fchownat:260:298 futimesat:261:299 newfstatat:262: unlinkat:263:301 renameat:264:302
    linkat:265:303 symlinkat:266:304 readlinkat:267:305 fchmodat:268:306 faccessat:269:307
    pselect6:270:308 ppoll:271:309 unshare:272:310 set_robust_list:273:311 get_robust_list:274:312
    splice:275:313 tee:276:315 sync_file_range:277:314 vmsplice:278:316 move_pages:279:317
    utimensat:280:320 epoll_pwait:281:319 signalfd:282:321 timerfd_create:283:322 eventfd:284:323
    fallocate:285:324 timerfd_settime:286:325 timerfd_gettime:287:326 accept4:288:364
    signalfd4:289:327 eventfd2:290:328 epoll_create1:291:329 dup3:292:330 pipe2:293:331
    inotify_init1:294:332 preadv:295:333 pwritev:296:334 rt_tgsigqueueinfo:297:335
    perf_event_open:298:336 recvmmsg:299:337 fanotify_init:300:338 fanotify_mark:301:339
    prlimit64:302:340 name_to_handle_at:303:341 open_by_handle_at:304:342 clock_adjtime:305:343
    syncfs:306:344 sendmmsg:307:345 setns:308:346 getcpu:309:318 process_vm_readv:310:347
    process_vm_writev:311:348 kcmp:312:349 finit_module:313:350 sched_setattr:314:351
    sched_getattr:315:352 renameat2:316:353 seccomp:317:354 getrandom:318:355 memfd_create:319:356
    kexec_file_load:320: bpf:321:357 execveat:322:358 userfaultfd:323:374 membarrier:324:375
    mlock2:325:376 copy_file_range:326:377 preadv2:327:378 pwritev2:328:379 pkey_mprotect:329:380
    pkey_alloc:330:381 pkey_free:331:382 statx:332:383 io_pgetevents:333:385 rseq:334:386
    uretprobe:335: pidfd_send_signal:424:424 io_uring_setup:425:425 io_uring_enter:426:426
    io_uring_register:427:427 open_tree:428:428 move_mount:429:429 fsopen:430:430 fsconfig:431:431
    fsmount:432:432 fspick:433:433 pidfd_open:434:434 clone3:435:435 close_range:436:436
    openat2:437:437 pidfd_getfd:438:438 faccessat2:439:439 process_madvise:440:440
    epoll_pwait2:441:441 mount_setattr:442:442 quotactl_fd:443:443 landlock_create_ruleset:444:444
    landlock_add_rule:445:445 landlock_restrict_self:446:446 memfd_secret:447:447
    process_mrelease:448:448 futex_waitv:449:449 set_mempolicy_home_node:450:450 cachestat:451:451
    fchmodat2:452:452 map_shadow_stack:453:453 futex_wake:454:454 futex_wait:455:455
    futex_requeue:456:456 statmount:457:457 listmount:458:458 lsm_get_self_attr:459:459
    lsm_set_self_attr:460:460 lsm_list_modules:461:461 mseal:462:462 setxattrat:463:463
    getxattrat:464:464 listxattrat:465:465 removexattrat:466:466 open_tree_attr:467:467
    file_getattr:468:468 file_setattr:469:469 waitpid::7 umount::22 stime::25 socketcall::102
    ipc::117 sigreturn::119 sigprocmask::126 _llseek::140 _newselect::142 ugetrlimit::191 mmap2::192
    truncate64::193 ftruncate64::194 stat64::195 lstat64::196 fstat64::197 lchown32::198
    getuid32::199 getgid32::200 geteuid32::201 getegid32::202 setreuid32::203 setregid32::204
    getgroups32::205 setgroups32::206 fchown32::207 setresuid32::208 getresuid32::209
    setresgid32::210 getresgid32::211 chown32::212 setuid32::213 setgid32::214 setfsuid32::215
    setfsgid32::216 fcntl64::221 sendfile64::239 statfs64::268 fstatfs64::269 fadvise64_64::272
    fstatat64::300 clock_gettime64::403 clock_settime64::404 clock_adjtime64::405
    clock_getres_time64::406 clock_nanosleep_time64::407 timer_gettime64::408 timer_settime64::409
    timerfd_gettime64::410 timerfd_settime64::411 utimensat_time64::412 pselect6_time64::413
    ppoll_time64::414 io_pgetevents_time64::416 recvmmsg_time64::417 mq_timedsend_time64::418
    mq_timedreceive_time64::419 semtimedop_time64::420 rt_sigtimedwait_time64::421 futex_time64::422
    sched_rr_get_interval_time64::423
"""
# x32's own numbers, for the calls whose arguments differ in size (asm/unistd_x32.h);
# every other call has x86_64's number there, with X32_SYSCALL_BIT set.
X32_NUMBERS = {
    "rt_sigaction": 512, "rt_sigreturn": 513, "ioctl": 514, "readv": 515, "writev": 516,
    "recvfrom": 517, "sendmsg": 518, "recvmsg": 519, "execve": 520, "ptrace": 521,
    "rt_sigpending": 522, "rt_sigtimedwait": 523, "rt_sigqueueinfo": 524, "sigaltstack": 525,
    "timer_create": 526, "mq_notify": 527, "kexec_load": 528, "waitid": 529,
    "set_robust_list": 530, "get_robust_list": 531, "vmsplice": 532, "move_pages": 533,
    "preadv": 534, "pwritev": 535, "rt_tgsigqueueinfo": 536, "recvmmsg": 537, "sendmmsg": 538,
    "process_vm_readv": 539, "process_vm_writev": 540, "setsockopt": 541, "getsockopt": 542,
    "io_setup": 543, "io_submit": 544, "execveat": 545, "preadv2": 546, "pwritev2": 547,
}


def numbers(architecture):
    """{name: number} of the calls of one ABI: "SCMP_ARCH_X86_64", "SCMP_ARCH_X86" or "_X32"."""
    column = {"SCMP_ARCH_X86_64": 1, "SCMP_ARCH_X32": 1, "SCMP_ARCH_X86": 2}[architecture]
    table = {}
    for entry in NUMBERS.split():
        fields = entry.split(":")
        if fields[column]:
            table[fields[0]] = int(fields[column])
    if architecture == "SCMP_ARCH_X32":
        table = {name: X32_SYSCALL_BIT | X32_NUMBERS.get(name, number)
                 for name, number in table.items()}
    return table


def native_architecture():
    """This machine's ABI as the profile names it; OSError where this module knows no numbers."""
    machine = os.uname().machine
    if machine not in NATIVE:
        raise OSError(errno.ENOTSUP, f"seccomp filter: the system call numbers of"
                      f" {', '.join(NATIVE)} are known here, not {machine}'s")
    return NATIVE[machine]


def docker_profile(capabilities, kernel=None):
    """Docker's default profile for a container with `capabilities`, as OCI's linux.seccomp.

    What dockerd does before it writes config.json for runc (moby's
    profiles/seccomp/seccomp_linux.go): a rule that "includes" capabilities
    is kept only if the container has them all, one that "excludes" some is
    dropped if it has any; so are rules for other architectures or newer
    kernels.  So `--cap-add SYS_ADMIN` allows mount(2), and without it
    clone(2) is allowed only without namespace flags.  `capabilities`:
    names without CAP_, as libns.CAPABILITIES has them.
    """
    with open(PROFILE_FILE) as profile_file:
        docker = json.load(profile_file)
    native, go_name = native_architecture()
    kernel = kernel or tuple(int(part) for part in os.uname().release.split(".")[:2])
    held = {f"CAP_{name}" for name in capabilities}
    syscalls = []
    for rule in docker["syscalls"]:
        includes, excludes = rule.get("includes", {}), rule.get("excludes", {})
        if (not set(includes.get("caps") or ()) <= held
                or includes.get("arches") and go_name not in includes["arches"]
                or "minKernel" in includes
                and kernel < tuple(map(int, includes["minKernel"].split(".")))
                or set(excludes.get("caps") or ()) & held
                or go_name in (excludes.get("arches") or ())):
            continue
        syscalls.append({key: value for key, value in rule.items()
                         if key in ("names", "action", "args", "errnoRet")})
    architectures = next([entry["architecture"], *entry["subArchitectures"]]
                         for entry in docker["archMap"] if entry["architecture"] == native)
    return {"defaultAction": docker["defaultAction"], "defaultErrnoRet": docker["defaultErrnoRet"],
            "architectures": architectures, "syscalls": syscalls}


def _return(profile, action, errno_ret=None):
    """The BPF return value of an OCI action, such as SCMP_ACT_ERRNO with its errno."""
    if action not in ACTIONS:
        raise ValueError(f"seccomp: the action {action!r} is none of {', '.join(ACTIONS)}")
    value = ACTIONS[action]
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        code = errno_ret if errno_ret is not None else profile.get("defaultErrnoRet", errno.EPERM)
        value |= code & 0xFFFF
    return value


def _condition(argument):
    """The instructions for one of a rule's args: fall through if it holds, else go to "fail".

    The arguments are 64 bits and BPF loads 32 at a time: the high half is
    compared first, then the low half.  Jump targets "next" (the condition
    holds) and "fail" are resolved by _rule().
    """
    index, operator = argument["index"], argument["op"]
    value = argument["value"]
    if operator not in OPERATORS or not 0 <= index < 6:
        raise ValueError(f"seccomp: the comparison {operator} of args[{index}] is not known")
    low, high = ARGS + 8 * index, ARGS + 8 * index + 4
    if operator == "SCMP_CMP_MASKED_EQ":
        wanted = argument.get("valueTwo", 0)
        return [(BPF_LD_W_ABS, 0, 0, high), (BPF_ALU_AND_K, 0, 0, value >> 32),
                (BPF_JEQ, 0, "fail", wanted >> 32),
                (BPF_LD_W_ABS, 0, 0, low), (BPF_ALU_AND_K, 0, 0, value & 0xFFFFFFFF),
                (BPF_JEQ, "next", "fail", wanted & 0xFFFFFFFF)]
    value_high, value_low = value >> 32, value & 0xFFFFFFFF
    if operator == "SCMP_CMP_EQ":
        return [(BPF_LD_W_ABS, 0, 0, high), (BPF_JEQ, 0, "fail", value_high),
                (BPF_LD_W_ABS, 0, 0, low), (BPF_JEQ, "next", "fail", value_low)]
    if operator == "SCMP_CMP_NE":
        return [(BPF_LD_W_ABS, 0, 0, high), (BPF_JEQ, 0, "next", value_high),
                (BPF_LD_W_ABS, 0, 0, low), (BPF_JEQ, "fail", "next", value_low)]
    # The high halves decide unless they are equal; then the low halves do.
    greater = operator in ("SCMP_CMP_GT", "SCMP_CMP_GE")
    low_test = {"SCMP_CMP_GT": (BPF_JGT, "next", "fail"), "SCMP_CMP_GE": (BPF_JGE, "next", "fail"),
                "SCMP_CMP_LT": (BPF_JGE, "fail", "next"),
                "SCMP_CMP_LE": (BPF_JGT, "fail", "next")}[operator]
    return [(BPF_LD_W_ABS, 0, 0, high),
            (BPF_JGT, "next" if greater else "fail", 0, value_high),
            (BPF_JEQ, 0, "fail" if greater else "next", value_high),
            (BPF_LD_W_ABS, 0, 0, low), (*low_test, value_low)]


def _rule(profile, rule):
    """One rule for one call: its conditions, then its action."""
    code = []
    for argument in rule.get("args") or ():
        block = _condition(argument)
        # "next" of this condition is the first instruction after it.
        code += [(op, *(len(block) - position - 1 if target == "next" else target
                        for target in (jt, jf)), k)
                 for position, (op, jt, jf, k) in enumerate(block)]
    code.append((BPF_RET, 0, 0, _return(profile, rule["action"], rule.get("errnoRet"))))
    # "fail" of every condition is the first instruction after the rule.
    return [(op, *(len(code) - position - 1 if target == "fail" else target
                   for target in (jt, jf)), k)
            for position, (op, jt, jf, k) in enumerate(code)]


def _search(calls, default, allow):
    """A binary search over the sorted [(number, code)] with A = the call's number.

    A call that is simply allowed has no code of its own (None): its test
    jumps to one `return ALLOW` at the end of its part of the search.  A
    jump's offset in classic BPF is 8 bits, except BPF_JA's: so each half
    is jumped over with BPF_JA, and no offset grows with the profile.
    """
    if len(calls) > 16:
        middle = len(calls) // 2
        lower = _search(calls[:middle], default, allow)
        upper = _search(calls[middle:], default, allow)
        return [(BPF_JGE, 0, 1, calls[middle][0]), (BPF_JA, 0, 0, len(lower)), *lower, *upper]
    code = []
    for number, body in calls:
        code.append((BPF_JEQ, "allow", 0, number) if body is None
                    else (BPF_JEQ, 0, len(body), number))
        code += body or []
    code += [default, allow]
    return [(op, len(code) - position - 2 if jt == "allow" else jt, jf, k)
            for position, (op, jt, jf, k) in enumerate(code)]


def _architecture(profile, architecture, default):
    """The part of the program for one ABI, with A = the call's number."""
    table = numbers(architecture)
    allow = (BPF_RET, 0, 0, SECCOMP_RET_ALLOW)
    rules = {}
    for rule in profile.get("syscalls") or ():
        code = _rule(profile, rule)
        for name in rule["names"]:
            if name in table:  # a call this ABI does not have is left out, as libseccomp does
                rules.setdefault(table[name], []).append((rule, code))
    calls = []
    for number, its_rules in sorted(rules.items()):
        code = [instruction for _, rule_code in its_rules for instruction in rule_code]
        if code == [allow]:
            code = None
        elif its_rules[-1][0].get("args"):
            code.append(default)  # when no rule's arguments match
        calls.append((number, code))
    return _search(calls, default, allow)


def compile(profile):
    """The BPF program, as [(code, jt, jf, k)], for an OCI linux.seccomp `profile`.

    First the architecture: x86_64, whose x32 calls have bit 30 set, and
    i386, each with its own numbers; an architecture the profile does not
    name gets the default action, as does any call no rule names.  Then a
    binary search over the call's number, down to the rules for that call
    in the profile's order: the first whose arguments match decides.
    """
    native, _ = native_architecture()
    default = (BPF_RET, 0, 0, _return(profile, profile["defaultAction"]))
    architectures = profile.get("architectures") or [native]
    for architecture in architectures:
        if architecture not in ("SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_X86"):
            raise ValueError(f"seccomp: the architecture {architecture} is not this machine's")
    x86_64 = (_architecture(profile, "SCMP_ARCH_X86_64", default)
              if "SCMP_ARCH_X86_64" in architectures else [default])
    x32 = (_architecture(profile, "SCMP_ARCH_X32", default)
           if "SCMP_ARCH_X32" in architectures else [default])
    i386 = (_architecture(profile, "SCMP_ARCH_X86", default)
            if "SCMP_ARCH_X86" in architectures else [default])
    program = [(BPF_LD_W_ABS, 0, 0, ARCH),
               (BPF_JEQ, 0, 1, AUDIT_ARCH["SCMP_ARCH_X86_64"]),
               (BPF_JA, 0, 0, 1),
               (BPF_JA, 0, 0, len(x86_64) + len(x32) + 3),
               (BPF_LD_W_ABS, 0, 0, NR),
               (BPF_JGE, 0, 1, X32_SYSCALL_BIT),
               (BPF_JA, 0, 0, len(x86_64)),
               *x86_64, *x32,
               (BPF_JEQ, 1, 0, AUDIT_ARCH["SCMP_ARCH_X86"]),
               default,
               (BPF_LD_W_ABS, 0, 0, NR),
               *i386]
    if not all(0 <= jt <= 255 and 0 <= jf <= 255 for _, jt, jf, _ in program):
        raise ValueError("seccomp: the profile's rules for one architecture are too many for a"
                         " jump of BPF (255 instructions)")
    if len(program) > MAX_INSTRUCTIONS:
        raise ValueError(f"seccomp: the profile makes {len(program)} instructions,"
                         f" more than the kernel takes ({MAX_INSTRUCTIONS})")
    return program


def action_for(profile, name, arguments=()):
    """The action `profile` takes for the call `name` with `arguments`: what compile() does, read.

    ("SCMP_ACT_ERRNO", 1) for a call no rule allows.  For escapes.py, which
    says which layer refused a call, and for the tests, which hold the
    compiled program to it.
    """
    arguments = list(arguments) + [0] * (6 - len(arguments))
    for rule in profile.get("syscalls") or ():
        if name in rule["names"] and all(_holds(argument, arguments[argument["index"]])
                                         for argument in rule.get("args") or ()):
            return rule["action"], rule.get("errnoRet", profile.get("defaultErrnoRet"))
    return profile["defaultAction"], profile.get("defaultErrnoRet")


def _holds(argument, value):
    value_one, value_two = argument["value"], argument.get("valueTwo", 0)
    return {"SCMP_CMP_NE": value != value_one, "SCMP_CMP_LT": value < value_one,
            "SCMP_CMP_LE": value <= value_one, "SCMP_CMP_EQ": value == value_one,
            "SCMP_CMP_GE": value >= value_one, "SCMP_CMP_GT": value > value_one,
            "SCMP_CMP_MASKED_EQ": value & value_one == value_two}[argument["op"]]


def describe(profile, width=100):
    """The profile as a few lines a person reads: for the -v trace."""
    architectures = ", ".join(name[len("SCMP_ARCH_"):].lower()
                              for name in profile.get("architectures") or ())
    lines = [f"seccomp: {architectures}; a call no rule names:"
             f" {_action_text(profile, profile['defaultAction'], None)}"]
    for rule in profile.get("syscalls") or ():
        conditions = " and ".join(_condition_text(argument) for argument in rule.get("args") or ())
        head = (f"  {_action_text(profile, rule['action'], rule.get('errnoRet'))}"
                f"{' if ' + conditions if conditions else ''}:")
        line = head
        for name in rule["names"]:
            if len(line) + len(name) + 1 > width:
                lines.append(line)
                line = " " * 4
            line += f" {name}"
        lines.append(line)
    return lines


def _condition_text(argument):
    """'args[0] < 38', or 'args[0] & 0x7e020000 == 0x0' for SCMP_CMP_MASKED_EQ."""
    if argument["op"] == "SCMP_CMP_MASKED_EQ":
        return (f"args[{argument['index']}] & {argument['value']:#x}"
                f" == {argument.get('valueTwo', 0):#x}")
    return f"args[{argument['index']}] {OPERATORS[argument['op']]} {argument['value']}"


def _action_text(profile, action, errno_ret):
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        code = errno_ret if errno_ret is not None else profile.get("defaultErrnoRet", errno.EPERM)
        return f"{action[len('SCMP_ACT_'):].lower()} {errno.errorcode.get(code, code)}"
    return action[len("SCMP_ACT_"):].lower()
