"""Run an untrusted Python solution against many test inputs in one contained child process.

This module is the parent side (``run_solution``), safe in threads and xdist workers: it uses no
signals, only ``subprocess.Popen`` (no ``preexec_fn``), ``selectors`` deadlines and ``os.killpg``. The
child is ``_sandbox_child.py``, a standard-library-only script run by path with ``python -I -B`` in a
fresh temporary directory; it also defines the protocol's event names, which this module imports.
Containment:

* kernel: RLIMIT_AS (memory), RLIMIT_CPU (backstop), RLIMIT_FSIZE (output and file size),
  RLIMIT_NPROC (processes and threads); a new network namespace (only a downed loopback); as root,
  a private unprivileged uid per child (RLIMIT_NPROC then applies, file permissions refuse writes to
  files not world-writable and the parent's ``/proc/<pid>/environ``); not root, a user namespace
  (RLIMIT_NPROC counts per namespace); an environment holding only PATH, LANG, HOME and thread counts.
* file system (Landlock, where the kernel has it: Linux 5.13+ built with it, not refused by a
  seccomp filter): reads only under ``readable_paths()`` (the interpreter's install and the system
  libraries), reads and writes only in the working directory and ``/dev/null``; enforced by the
  kernel, native code included. ``isolation["filesystem"]`` says whether it is active and why not.
  Landlock, not a mount namespace: it needs no privilege (no root, no user namespace), adds five
  system calls per child instead of building a root with bind mounts, and layers with the uid
  drop. It leaves metadata visible: ``os.stat`` / ``os.path.exists`` of an outside path still work.
* parent: a wall-clock deadline per case, SIGKILL to the whole process group, then (as root) to any
  process left running under the private uid.
* audit hooks in the child, in-process and so bypassable by native code that raises no audit event:
  refuse fork/exec/spawn, sockets, ctypes calls, writes and deletions outside the working directory
  (without Landlock the only guard for world-writable places such as /tmp and /dev/shm), other
  processes' /proc, and reads and directory listings outside the working directory and
  ``readable_paths()`` (the file-system view where the kernel has no Landlock).

Expected outputs never enter the child: it returns what the program printed or returned, and the
caller compares, so a solution cannot forge a pass.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from evalsuite.verify import _sandbox_child as child
from evalsuite.verify._sandbox_child import DONE, EVENT, READY, RESULT, SETUP_DONE, SETUP_ERROR, START

Status = Literal["ok", "error", "timeout", "crash", "skipped"]

_UID_RANGE = (1_500_000_000, 1_600_000_000)  # unused by real accounts; one uid per child
_GRACE_S = 1.0  # parent deadline beyond the child's own per-test alarm
CHILD_SCRIPT = os.path.abspath(child.__file__)
"""The program each child runs, by path (never imported there: standard library only)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandboxed run."""

    time_limit_s: float = 6.0
    """Wall-clock seconds allowed per test case (and for loading the solution)."""
    memory_mb: int = 1024
    """Address-space limit of the child process (RLIMIT_AS), MiB."""
    max_processes: int = 32
    """RLIMIT_NPROC for the child's uid: threads count, fork is refused outright."""
    max_output_mb: int = 64
    """Largest file the child may write (RLIMIT_FSIZE), which bounds captured stdout, MiB."""
    max_timeouts: int | None = 3
    """After this many timed-out cases the rest are skipped (None runs all, whatever it costs)."""
    startup_timeout_s: float = 30.0
    """Seconds the child may take to start and between cases before it counts as a harness failure."""
    audit_hooks: bool = True
    """Install the in-child audit hooks; tests turn them off to prove the kernel layers alone."""


@dataclass(frozen=True)
class CaseOutcome:
    """What happened when the program ran on one test input."""

    status: Status
    """``ok`` (ran to completion), ``error`` (exception), ``timeout``, ``crash`` (died), ``skipped``."""
    stdout: str = ""
    """What the program printed (standard-input programs)."""
    value: str | None = None
    """JSON of the returned value (call-based functions); None when it is not JSON-serialisable."""
    error: str | None = None
    """``ExceptionType: message`` or what killed the process."""
    time_s: float = 0.0
    """Wall-clock seconds of this case inside the child."""


@dataclass(frozen=True)
class SandboxRun:
    """The outcome of running one solution on all its test inputs."""

    outcomes: tuple[CaseOutcome, ...]
    """One outcome per input, in input order."""
    setup_error: str | None = None
    """Why the solution could not be loaded at all (syntax error, missing function), else None."""
    isolation: Mapping[str, Any] = field(default_factory=dict)
    """What the (first) child actually enforced: network namespace, file-system view, uid, audit hooks."""
    wall_s: float = 0.0
    """Total wall-clock seconds, process start-up included."""
    processes: int = 0
    """Child processes started (more than one after a timeout or crash)."""


class SandboxError(RuntimeError):
    """The sandbox harness itself failed (could not start the child, child died before starting)."""


def run_solution(
    code: str,
    inputs: Sequence[str],
    *,
    fn_name: str | None = None,
    limits: SandboxLimits | None = None,
    tests_per_process: int | None = None,
) -> SandboxRun:
    """Run ``code`` on every input in contained child processes and collect what it produced.

    Args:
        code: Python source of the solution.
        inputs: One standard-input text per case; for call-based code (``fn_name`` given) one JSON
            value per line, the positional arguments, as in LiveCodeBench.
        fn_name: Method of ``class Solution`` (or top-level function) to call; None runs ``code`` as
            a standard-input program.
        limits: Resource limits; defaults to ``SandboxLimits()``.
        tests_per_process: Cases per child process; None runs them all in one child (a new child
            is started after a timeout or crash).

    Returns:
        A ``SandboxRun`` with one ``CaseOutcome`` per input.

    Raises:
        SandboxError: The child could not be started (see the message for the cause).
    """
    limits = limits or SandboxLimits()
    t0 = time.perf_counter()
    outcomes: dict[int, CaseOutcome] = {}
    pending = list(range(len(inputs)))
    isolation: dict[str, Any] = {}
    setup_error: str | None = None
    processes = timeouts = 0
    while pending:
        batch = pending[: tests_per_process or len(pending)]
        budget = None if limits.max_timeouts is None else limits.max_timeouts - timeouts
        cases = [(i, inputs[i]) for i in batch]
        got, setup_error, iso = _run_child(code, cases, fn_name, limits, budget)
        processes += 1
        isolation = isolation or iso
        if setup_error is not None:
            outcomes.update({i: CaseOutcome("error", error=setup_error) for i in pending})
            break
        if not got:  # the child died between cases without a word: never loop forever on it
            got = {batch[0]: CaseOutcome("crash", error="process died between cases")}
        outcomes.update(got)
        timeouts += sum(o.status == "timeout" for o in got.values())
        pending = [i for i in pending if i not in outcomes]
        if pending and limits.max_timeouts is not None and timeouts >= limits.max_timeouts:
            why = f"skipped after {timeouts} timeouts"
            outcomes.update({i: CaseOutcome("skipped", error=why) for i in pending})
            break
    return SandboxRun(
        outcomes=tuple(outcomes[i] for i in range(len(inputs))),
        setup_error=setup_error,
        isolation=isolation,
        wall_s=time.perf_counter() - t0,
        processes=processes,
    )


def child_program() -> str:
    """The child's bytecode where the import system cached it and it is fresh, else its source.

    Python compiles a script given by path on every start (~5 ms of a ~75 ms start-up here); a
    ``.pyc`` given by path runs as it is. Fresh means the header's source mtime and size match.
    """
    cached: str | None = getattr(child, "__cached__", None)
    if not cached:
        return CHILD_SCRIPT
    try:
        with open(cached, "rb") as f:
            header = f.read(16)
        source = os.stat(CHILD_SCRIPT)
    except OSError:
        return CHILD_SCRIPT
    expected = importlib.util.MAGIC_NUMBER + bytes(4)  # flags 0: validated by mtime and size
    expected += (int(source.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
    expected += (source.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    return cached if header == expected else CHILD_SCRIPT


@functools.cache
def readable_paths() -> tuple[str, ...]:
    """What a sandboxed program may read besides its working directory: the interpreter's install
    (standard library, its extension modules, site-packages) and the shared libraries and loader
    cache that those extension modules load. Nothing else of the host: not /etc, not the home
    directory, not the project tree (even when it is on ``sys.path`` through an editable install).
    """
    paths = [sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")]
    paths += [sysconfig.get_config_var("LIBDIR") or "", "/lib", "/lib64", "/usr/lib", "/usr/lib64"]
    paths += ["/usr/local/lib", "/etc/ld.so.cache"]
    real = (os.path.realpath(p) for p in paths if p and os.path.exists(p))
    return tuple(sorted(set(real)))


def _child_env(workdir: str) -> dict[str, str]:
    # Nothing from the parent's environment: API keys must never reach untrusted code.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env |= {"HOME": workdir, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return env


def _run_child(
    code: str,
    cases: list[tuple[int, str]],
    fn_name: str | None,
    limits: SandboxLimits,
    timeout_budget: int | None,
) -> tuple[dict[int, CaseOutcome], str | None, dict[str, Any]]:
    """One child process over ``cases``; returns outcomes of the cases it reached."""
    workdir = tempfile.mkdtemp(prefix="evalsuite-sandbox-")
    uid = random.SystemRandom().randrange(*_UID_RANGE) if os.geteuid() == 0 else None
    try:
        for index, text in cases:
            path = os.path.join(workdir, f"in-{index}.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(path, 0o644)  # readable by the child's uid whatever our umask
        job = {
            "code": code,
            "fn_name": fn_name,
            "cases": [index for index, _ in cases],
            "uid": uid,
            "timeout_budget": timeout_budget,
            "readable": readable_paths(),
            "limits": {**limits.__dict__, "cpu_s": int(limits.time_limit_s * (len(cases) + 1)) + 10},
        }
        with open(os.path.join(workdir, "job.json"), "w", encoding="utf-8") as f:
            json.dump(job, f)
        os.chmod(workdir, 0o700)
        if uid is not None:
            os.chown(workdir, uid, uid)
        with open(os.path.join(workdir, "runner.err"), "wb") as err:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-B", child_program(), "job.json"],
                    cwd=workdir,
                    env=_child_env(workdir),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    start_new_session=True,  # own process group: killpg reaches every descendant
                    close_fds=True,
                )
            except OSError as e:
                raise SandboxError(f"could not start the sandbox child {sys.executable!r}: {e}") from e
        try:
            return _drive(proc, limits, workdir)
        finally:
            _kill_group(proc)
            if uid is not None:
                _kill_uid(uid)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # Kill before reaping: an unreaped leader keeps the group id from being reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # Other members die asynchronously (and are reaped by init): wait briefly so that the group
    # is really gone when we return. Only a program that managed to fork ever waits here.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            break
        time.sleep(0.01)
    if proc.stdout is not None:
        proc.stdout.close()


def _kill_uid(uid: int) -> None:
    """SIGKILL whatever still runs as the run's private uid (a process that left the group)."""
    for _ in range(10):  # again until a pass finds none: a survivor may fork during the scan
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/status", "rb") as f:
                    status = dict(line.split(b":", 1) for line in f if b":" in line)
                zombie = status[b"State"].split()[0] == b"Z"  # dead already, waiting for init
                if int(status[b"Uid"].split()[0]) == uid and not zombie:
                    found = True
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, KeyError, ValueError):
                continue  # the process ended meanwhile
        if not found:
            return


def _drive(
    proc: subprocess.Popen[bytes], limits: SandboxLimits, workdir: str
) -> tuple[dict[int, CaseOutcome], str | None, dict[str, Any]]:
    """Read the child's event stream, enforcing the per-phase deadlines."""
    assert proc.stdout is not None
    outcomes: dict[int, CaseOutcome] = {}
    iso: dict[str, Any] = {}
    phase, current = "startup", -1
    deadline = time.monotonic() + limits.startup_timeout_s
    case_limit = limits.time_limit_s + _GRACE_S
    buf = b""
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                if time.monotonic() < deadline:
                    continue
                os.killpg(proc.pid, signal.SIGKILL)
                if phase == "startup":
                    raise SandboxError(f"sandbox child did not start in {limits.startup_timeout_s} s")
                if phase == "setup":
                    return (
                        outcomes,
                        f"time limit exceeded loading the solution ({limits.time_limit_s} s)",
                        iso,
                    )
                if phase == "case":
                    outcomes[current] = CaseOutcome("timeout", error="killed at the wall-clock limit")
                return outcomes, None, iso
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                kind = ev.get(EVENT)
                now = time.monotonic()
                if kind == READY:
                    iso, phase, deadline = ev["isolation"], "setup", now + case_limit
                elif kind == SETUP_ERROR:
                    return outcomes, ev["error"], iso
                elif kind == SETUP_DONE:
                    phase, deadline = "between", now + limits.startup_timeout_s
                elif kind == START:
                    phase, current, deadline = "case", ev["i"], now + case_limit
                elif kind == RESULT:
                    outcomes[ev["i"]] = CaseOutcome(
                        ev["status"], ev.get("stdout", ""), ev.get("value"), ev.get("error"), ev["time_s"]
                    )
                    phase, deadline = "between", now + limits.startup_timeout_s
                elif kind == DONE:
                    return outcomes, None, iso
    # End of stream: the child exited or died.
    rc = proc.wait()
    if phase == "startup":
        with open(os.path.join(workdir, "runner.err"), encoding="utf-8", errors="replace") as f:
            tail = f.read()[-2000:]
        raise SandboxError(f"sandbox child exited with status {rc} before starting:\n{tail}")
    why = _describe_exit(rc)
    if phase == "setup":
        return outcomes, f"process died loading the solution ({why})", iso
    if phase == "case" and current not in outcomes:
        status: Status = "timeout" if rc == -signal.SIGXCPU else "crash"
        outcomes[current] = CaseOutcome(status, error=why)
    return outcomes, None, iso


def _describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"
