"""The program a code-sandbox child runs: ``python -I -B _sandbox_child.py job.json`` in its workdir.

Standard library only, and never imported by the child from the package (``-I`` leaves the
package off ``sys.path``); the parent (``evalsuite.verify.sandbox``) imports this module for the
protocol names below, which are defined here once. The child reads the job file (then deletes
it), contains itself, runs the solution on each case and writes one JSON event per line on its
stdout:

``ready`` (with ``isolation``), then ``setup_error`` (with ``error``) or ``setup_done``, then per
case ``start`` (``i``) and ``result`` (``i``, ``status``, ``error``, ``time_s``, ``stdout`` or
``value``), and ``done``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Event kinds of the child -> parent stream (the key ``EVENT`` of each JSON line).
EVENT = "e"
READY = "ready"
SETUP_ERROR = "setup_error"
SETUP_DONE = "setup_done"
START = "start"
RESULT = "result"
DONE = "done"

# The module namespace LiveCodeBench prepends to every solution (lcb_runner's ``import_string``).
LCB_HEADER = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
    "from random import *\nfrom statistics import *\nfrom itertools import *\nfrom functools import *\n"
    "from operator import *\nfrom io import *\nfrom sys import *\nfrom json import *\n"
    "from builtins import *\nfrom typing import *\nimport string\nimport re\nimport datetime\n"
    "import collections\nimport heapq\nimport bisect\nimport copy\nimport math\nimport random\n"
    "import statistics\nimport itertools\nimport functools\nimport operator\nimport io\nimport sys\n"
    "import json\nsys.setrecursionlimit(50000)\n"
)

# Landlock (linux/landlock.h): file-system rights, by the ABI version that introduced them.
_LL_EXECUTE, _LL_WRITE_FILE, _LL_READ_FILE, _LL_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_LL_ABI1_ALL = (1 << 13) - 1  # execute ... make_sym
_LL_LATER = ((2, 1 << 13), (3, 1 << 14), (5, 1 << 15))  # refer, truncate, ioctl_dev
_LL_FILE_RIGHTS = _LL_EXECUTE | _LL_WRITE_FILE | _LL_READ_FILE | (1 << 14) | (1 << 15)
_LL_LOG_SAME_EXEC_OFF = 1  # ABI 7: keep the untrusted program's denials out of the host's audit log
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # every architecture but alpha
_PR_SET_NO_NEW_PRIVS = 38


def _isolate(uid: int | None, limits: Mapping[str, Any], readable: Sequence[str]) -> dict[str, Any]:
    """Network namespace, resource limits, file-system view, uid drop; returns what succeeded."""
    import ctypes
    import resource

    iso: dict[str, Any] = {}
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newnet, clone_newuser = 0x40000000, 0x10000000
    flags = clone_newnet if os.geteuid() == 0 else clone_newnet | clone_newuser
    iso["network_namespace"] = libc.unshare(flags) == 0 or os.strerror(ctypes.get_errno())
    mib = 1024 * 1024
    for name, value in (
        ("RLIMIT_AS", limits["memory_mb"] * mib),
        ("RLIMIT_FSIZE", limits["max_output_mb"] * mib),
        ("RLIMIT_NPROC", limits["max_processes"]),
        ("RLIMIT_CORE", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    if uid is not None:
        # The interpreter may live under a directory the new uid cannot enter (/root/.pyenv):
        # reach sys.path through descriptors opened while still privileged.
        _remap_import_paths()
    iso["filesystem"] = _landlock(libc, os.path.realpath(os.getcwd()), readable)
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    iso["uid"] = os.getuid()
    return iso


def _landlock(libc: Any, root: str, readable: Sequence[str]) -> str:
    """Restrict this process's file-system view with Landlock; returns what happened, in words.

    Read access stays under ``readable`` (the interpreter's install, the system libraries) and
    this process's own ``/proc`` entries, read and write under ``root`` and ``/dev/null``;
    everything else is refused by the kernel, native code included. Where the kernel has no
    Landlock (before Linux 5.13, not enabled at boot, or refused by a container's seccomp
    filter) the audit hook's allow-list remains.
    """
    import ctypes

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64)]

    class PathBeneathAttr(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    abi = syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # ..._VERSION
    if abi < 0:
        return f"no Landlock ({os.strerror(ctypes.get_errno())}): audit-hook allow-list only"
    handled = _LL_ABI1_ALL
    for version, right in _LL_LATER:
        handled |= right if abi >= version else 0
    attr = RulesetAttr(handled)
    ruleset = syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0)
    if ruleset < 0:
        return f"Landlock ruleset refused ({os.strerror(ctypes.get_errno())}): audit-hook allow-list only"
    read = _LL_EXECUTE | _LL_READ_FILE | _LL_READ_DIR
    readers = [*readable, f"/proc/{os.getpid()}"]
    rules = [(p, read) for p in readers] + [(root, handled), (os.devnull, handled)]
    try:
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                if not os.path.isdir(path):
                    rights &= _LL_FILE_RIGHTS
                rule = PathBeneathAttr(rights & handled, fd)
                if syscall(_SYS_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0) != 0:  # PATH_BENEATH
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        flags = _LL_LOG_SAME_EXEC_OFF if abi >= 7 else 0
        if syscall(_SYS_RESTRICT_SELF, ruleset, flags) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    except OSError as e:
        return f"Landlock failed ({e.strerror}: {os.strerror(e.errno or 0)}): audit-hook allow-list only"
    finally:
        os.close(ruleset)
    return f"landlock abi {abi}"


def _remap_import_paths() -> None:
    remap = {}
    for entry in sys.path:
        if entry and os.path.isdir(entry):
            remap[entry] = f"/proc/self/fd/{os.open(entry, os.O_PATH | os.O_DIRECTORY)}"
    sys.path[:] = [remap.get(e, e) for e in sys.path]
    for module in list(sys.modules.values()):
        paths = getattr(module, "__path__", None)
        if isinstance(paths, list):
            for k, p in enumerate(paths):
                for old, new in remap.items():
                    if p.startswith(old + os.sep):
                        paths[k] = new + p[len(old) :]
    sys.path_importer_cache.clear()


def _install_guard(root: str, readable: Sequence[str]) -> None:
    """Audit hook refusing process creation, sockets, ctypes calls, writes outside ``root``, and
    reads outside ``root``, ``readable`` and this process's own ``/proc`` entries."""
    blocked = frozenset(
        ["os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "os.startfile"]
        + ["subprocess.Popen", "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo"]
        + ["socket.sendto", "socket.sendmsg", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function"]
    )
    mutating = frozenset(
        ["os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod", "os.chown"]
        + ["os.truncate", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.copytree", "shutil.move"]
    )
    reading = frozenset(["os.listdir", "os.scandir", "sqlite3.connect"])  # "open" is checked below
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    own_proc = (f"/proc/{os.getpid()}/", "/proc/self/")
    readable_roots = tuple(os.path.realpath(p) for p in readable)
    realpath, fsdecode = os.path.realpath, os.fsdecode

    def resolved(path: Any) -> str | None:
        """The real path named by an event's argument; None for a descriptor (checked at its open)."""
        if isinstance(path, (str, bytes)) or hasattr(path, "__fspath__"):
            return realpath(fsdecode(path))
        return None

    def under(p: str, roots: Sequence[str]) -> bool:
        return any(p == r or p.startswith(r + os.sep) for r in roots)

    def may_write(p: str) -> bool:
        return under(p, (root,)) or p == os.devnull

    def may_read(p: str) -> bool:
        return may_write(p) or under(p, readable_roots) or (p + "/").startswith(own_proc)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            p = resolved(path)
            if p is None:
                return
            writing = (mode is not None and any(c in mode for c in "wax+")) or bool(flags & write_flags)
            if writing and not may_write(p):
                raise PermissionError(f"sandbox: writing outside the working directory is refused: {path}")
            if p.startswith("/proc/") and p[6:7].isdigit() and not p.startswith(own_proc):
                raise PermissionError(f"sandbox: other processes' /proc entries are refused: {path}")
            if not may_read(p):
                raise PermissionError(f"sandbox: reading outside the working directory is refused: {path}")
        elif event in blocked:
            raise PermissionError(f"sandbox: {event} is refused")
        elif event == "import" and args[0] == "_posixsubprocess":  # fork_exec raises no audit event
            raise PermissionError("sandbox: importing _posixsubprocess is refused")
        elif event in mutating and any(not may_write(p) for p in map(resolved, args[:2]) if p is not None):
            raise PermissionError(f"sandbox: {event} outside the working directory is refused")
        elif event in reading and args and (p := resolved(args[0])) is not None and not may_read(p):
            raise PermissionError(f"sandbox: reading outside the working directory is refused: {args[0]}")

    for name in ("subprocess", "_posixsubprocess"):  # a later import must pass through the hook
        sys.modules.pop(name, None)
    sys.addaudithook(hook)


class _Timeout(BaseException):
    """Raised by the per-case alarm; a BaseException so that ``except Exception`` cannot swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _raise_system_exit(code: int) -> None:
    raise SystemExit(code)


def _redirect(in_path: str) -> None:
    """Point fds 0/1/2 and sys.std* at this case's files (real fds: ``os.read(0, ...)`` works)."""
    for fd, path, flags in (
        (0, in_path, os.O_RDONLY),
        (1, "stdout.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, "stderr.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        new = os.open(path, flags, 0o600)
        os.dup2(new, fd)
        os.close(new)
    # Left open on purpose: they are the program's standard streams until the next case.
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", errors="replace", closefd=False)  # type: ignore[misc]  # noqa: SIM115
    sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)  # type: ignore[misc]  # noqa: SIM115
    sys.stderr = sys.__stderr__ = open(2, "w", encoding="utf-8", closefd=False)  # type: ignore[misc]  # noqa: SIM115


def _run_case(
    run: Any, time_limit: float, thread_errors: list[BaseException]
) -> tuple[str, str | None, Any, bool]:
    """Call ``run()`` under the alarm; returns (status, error, value, poisoned)."""
    import threading

    before = set(threading.enumerate())
    value, status, error = None, "ok", None
    end = time.monotonic() + time_limit
    try:
        signal.setitimer(signal.ITIMER_REAL, time_limit)
        try:
            value = run()
            # The "run main() in a big-stack thread" idiom: wait for the threads the case started.
            for t in set(threading.enumerate()) - before:
                t.join(max(0.0, end - time.monotonic()))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        status, error = "timeout", f"time limit exceeded ({time_limit} s)"
    except SystemExit as e:
        if e.code not in (None, 0):
            status, error = "error", f"SystemExit: {e.code}"
    except BaseException as e:  # noqa: BLE001 - any failure of untrusted code is its verdict
        status, error = "error", f"{type(e).__name__}: {e}"[:500]
    try:
        sys.stdout.flush()
    except BaseException as e:  # noqa: BLE001 - e.g. EFBIG past RLIMIT_FSIZE
        if status == "ok":
            status, error = "error", f"output not written: {type(e).__name__}: {e}"[:500]
    if status == "ok" and thread_errors:
        first = thread_errors[0]
        status, error = "error", f"{type(first).__name__}: {first}"[:500]
    alive = any(t.is_alive() for t in set(threading.enumerate()) - before)
    if alive and status == "ok":
        status, error = "timeout", f"time limit exceeded ({time_limit} s) in a thread"
    return status, error, value, alive


def main(job_path: str) -> None:
    import builtins
    import threading

    exec(compile(LCB_HEADER, "<header>", "exec"), {})  # import while the install is still readable
    results = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)

    def send(kind: str, **fields: Any) -> None:
        data = (json.dumps({EVENT: kind, **fields}) + "\n").encode()
        while data:
            data = data[os.write(results, data) :]

    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    os.remove(job_path)
    limits, fn_name, time_limit = job["limits"], job["fn_name"], job["limits"]["time_limit_s"]
    iso = _isolate(job["uid"], limits, job["readable"])
    if limits["audit_hooks"]:
        _install_guard(os.path.realpath(os.getcwd()), job["readable"])
    iso["audit_hooks"] = limits["audit_hooks"]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized output fails the write, not the process
    signal.signal(signal.SIGALRM, _on_alarm)
    thread_errors: list[BaseException] = []
    threading.excepthook = lambda a: thread_errors.append(a.exc_value)  # type: ignore[arg-type,misc]
    header = compile(LCB_HEADER, "<header>", "exec")
    exit_now = os._exit
    os._exit = _raise_system_exit  # type: ignore[assignment]  # the runner must survive a solution's os._exit(0)
    send(READY, isolation=iso)
    try:
        solution = compile(job["code"], "<solution>", "exec")
    except (SyntaxError, ValueError) as e:
        return send(SETUP_ERROR, error=f"{type(e).__name__}: {e}")

    def fresh_namespace() -> dict[str, Any]:
        ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        exec(header, ns)
        return ns

    entry = None
    if fn_name is not None:
        _redirect(os.devnull)
        ns = fresh_namespace()
        status, error, _, _ = _run_case(lambda: exec(solution, ns), time_limit, thread_errors)
        if status != "ok":
            return send(SETUP_ERROR, error=error)
        cls = ns.get("Solution")
        if isinstance(cls, type) and callable(getattr(cls, fn_name, None)):
            entry = lambda: getattr(cls(), fn_name)  # noqa: E731 - a fresh instance per case, as LeetCode
        elif callable(ns.get(fn_name)):
            entry = lambda: ns[fn_name]  # noqa: E731
        else:
            return send(
                SETUP_ERROR, error=f"no class Solution with method {fn_name!r} nor function {fn_name!r}"
            )
    send(SETUP_DONE)
    timeouts = 0
    for i in job["cases"]:
        send(START, i=i)
        thread_errors.clear()
        _redirect(f"in-{i}.txt")
        run: Callable[[], Any]
        if entry is None:
            run = lambda: exec(solution, fresh_namespace())  # noqa: E731
        else:
            with open(f"in-{i}.txt", encoding="utf-8") as f:
                text = f.read()
            run = lambda text=text: entry()(*[json.loads(line) for line in text.split("\n")])  # type: ignore[misc]  # noqa: E731
        t0 = time.perf_counter()
        status, error, value, poisoned = _run_case(run, time_limit, thread_errors)
        elapsed = time.perf_counter() - t0
        event: dict[str, Any] = {"i": i, "status": status, "error": error, "time_s": elapsed}
        if entry is None:
            with open("stdout.txt", "rb") as out:
                event["stdout"] = out.read().decode("utf-8", "replace")
        elif status == "ok":
            try:
                event["value"] = json.dumps(value)
            except (TypeError, ValueError):
                event["value"] = None
                event["error"] = f"return value is not JSON-serialisable: {repr(value)[:200]}"
        send(RESULT, **event)
        timeouts += status == "timeout"
        if job["timeout_budget"] is not None and timeouts >= job["timeout_budget"]:
            break  # the parent skips the rest
        if poisoned:  # a thread still runs and could write into the next case: start afresh
            exit_now(0)
        sys.setrecursionlimit(50000)  # automatic gc suffices: a full collect per case cost ~10 ms
    send(DONE)


if __name__ == "__main__":
    main(sys.argv[1])
