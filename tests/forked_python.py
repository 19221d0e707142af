"""``python -m tracker …`` and ``python -c …`` for the tests, in a real process of their own that starts in
milliseconds instead of a second: ``run(args, …)`` is ``subprocess.run([sys.executable, *args], …)``.

Starting Python and importing SQLAlchemy, Alembic, psycopg and Pillow takes most of a command's second; the
kill-point and command-line tests start hundreds of commands. So each test process keeps one *parent*: a
Python that has imported those libraries (and nothing of the project) and forks a child per command. The child
is a new process like any other (its own pid, killed by a real SIGKILL, exit code and signal seen by the
test as ``subprocess.run`` reports them); before running the command it takes the environment, working
directory, umask, ``sys.path`` (``PYTHONPATH``) and standard streams the command was given, and imports every
module of the project afresh (``tracker``, ``db``, the test modules), so that settings read at import time
(``TRACKER_BUSY_TIMEOUT_SECONDS``) are the command's own. It exits as Python does: ``SystemExit``'s code, a
traceback and 1 for an uncaught exception, ``atexit`` handlers run, streams flushed.

``TRACKER_TEST_REAL_PROCESSES=1`` runs every command as a plain ``subprocess.run`` instead (a full start-up
each time), and so does any command whose environment changes a ``PYTHON…`` variable other than
``PYTHONPATH`` (those change how an interpreter starts).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the parent imports before forking: the libraries the command line's start-up and its commands load
# (measured with ``python -X importtime -m tracker …``). Never a project module: those read the environment.
PRELOADED = ("sqlalchemy", "sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql",
             "sqlalchemy.ext.asyncio", "psycopg", "alembic.command", "alembic.config", "alembic.runtime.migration",
             "alembic.script", "alembic.op", "mako.template", "PIL.Image", "PIL.ImageOps", "pillow_heif",
             "argparse", "getpass", "json", "hashlib", "hmac", "secrets", "shutil", "sqlite3", "tempfile",
             "zoneinfo", "logging", "csv", "uuid", "email.utils")

def _serve() -> None:
    """The parent (``python -m tests.forked_python`` from the project root): import the libraries, then fork one
    child per request line (JSON) on standard input; reply with the child's pid, then with its exit code
    (negative: the signal that ended it)."""
    import importlib

    for name in PRELOADED:
        # A library this installation lacks is skipped: the child imports what it needs, as any process would.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    base_path = sys.path[1:]  # without the parent's own first entry (the project root): each child puts its own
    requests = os.fdopen(0, "rb", buffering=0)
    replies = os.fdopen(1, "w", buffering=1)
    while True:
        line = b""
        while not line.endswith(b"\n"):
            chunk = requests.read(1)
            if not chunk:
                return
            line += chunk
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request, base_path)
        replies.write(json.dumps({"pid": pid}) + "\n")
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"exit": os.waitstatus_to_exitcode(status)}) + "\n")


def _child(request: dict, base_path: list[str]) -> None:
    """In the forked child: become the command ``request`` describes, run it, and exit as Python would."""
    import atexit
    import traceback

    code = 1
    try:
        _become(request, base_path)
        code = _exit_code(request["args"][0], request["args"][1])
        threading._shutdown()  # type: ignore[attr-defined]  # as the interpreter does: wait for its threads
        atexit._run_exitfuncs()  # type: ignore[attr-defined]
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code & 0xFF)


def _become(request: dict, base_path: list[str]) -> None:
    """Take the command's working directory, environment, umask, standard streams, sys.path and argv."""
    import io

    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    if request["umask"] is not None:
        os.umask(request["umask"])
    for fd, (path, flags) in enumerate(((request["stdin"], os.O_RDONLY), (request["stdout"], os.O_WRONLY),
                                        (request["stderr"], os.O_WRONLY))):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    # The streams a new interpreter would open (the parent was started with the same locale settings).
    streams = []
    for fd, (mode, stream) in enumerate((("r", sys.__stdin__), ("w", sys.__stdout__), ("w", sys.__stderr__))):
        assert stream is not None
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        streams.append(io.TextIOWrapper(buffered, encoding=stream.encoding, errors=stream.errors,
                                        line_buffering=fd == 2))
    sys.stdin, sys.stdout, sys.stderr = streams
    for name, stream in zip(("__stdin__", "__stdout__", "__stderr__"), streams, strict=True):
        setattr(sys, name, stream)  # what a new interpreter's sys.__stdout__ and the like are
    python_path = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    mode, _target, *arguments = request["args"]
    sys.path[:] = [os.getcwd() if mode == "-m" else "", *python_path, *base_path]
    sys.argv = [mode, *arguments]


def _exit_code(mode: str, target: str) -> int:
    """Run ``-m MODULE`` or ``-c SCRIPT`` as the interpreter's main program; its exit code."""
    import builtins
    import runpy
    import traceback
    import types

    try:
        if mode == "-m":
            runpy._run_module_as_main(target, True)  # type: ignore[attr-defined]  # what `python -m` calls
        else:
            main = types.ModuleType("__main__")
            main.__dict__["__builtins__"] = builtins
            sys.modules["__main__"] = main
            exec(compile(target, "<string>", "exec"), main.__dict__)
    except SystemExit as ending:
        if ending.code is None or isinstance(ending.code, int):
            return ending.code or 0
        print(ending.code, file=sys.stderr)
        return 1
    except BaseException as error:  # the traceback starts where the command's own code does
        traceback.print_exception(type(error), error, error.__traceback__.tb_next if error.__traceback__ else None)
        return 1
    return 0


class _Parent:
    """One parent process (per test process) and the lock that gives it one command at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            self.process = subprocess.Popen([sys.executable, "-m", "tests.forked_python"], cwd=ROOT, env=env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self.process

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()  # type: ignore[union-attr]
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


_parent = _Parent()


def _reply(process: subprocess.Popen, deadline: float | None) -> dict | None:
    """The parent's next reply, or None when ``deadline`` (time.monotonic) passes first."""
    stream = process.stdout
    assert stream is not None
    line = b""
    while not line.endswith(b"\n"):
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not select.select([stream], [], [], wait)[0]:
            return None
        chunk = os.read(stream.fileno(), 1)
        if not chunk:
            raise RuntimeError("the parent of the forked test processes ended")
        line += chunk
    return json.loads(line)


def _plain_python_needed(env: dict[str, str]) -> bool:
    if os.environ.get("TRACKER_TEST_REAL_PROCESSES") == "1":
        return True
    keys = {k for k in (*env, *os.environ) if k.startswith("PYTHON") and k != "PYTHONPATH"}
    return any(env.get(k) != os.environ.get(k) for k in keys)


def run(args: list[str | bytes], *, env: dict[str, str], cwd: Path = ROOT, input: str | bytes | None = None,
        text: bool = True, timeout: float | None = None, umask: int | None = None) -> subprocess.CompletedProcess:
    """``subprocess.run([sys.executable, *args], capture_output=True, …)`` in a forked child (see above).

    ``args`` start with ``-m MODULE`` or ``-c SCRIPT`` (bytes arguments, such as a file name that is not UTF-8,
    reach the command as Python decodes a command line: ``os.fsdecode``); ``env`` is the whole environment.
    Raises subprocess.TimeoutExpired (the child killed) as subprocess.run does."""
    if args[0] not in ("-m", "-c") or _plain_python_needed(env):
        return subprocess.run([sys.executable, *args], cwd=cwd, env=env, input=input, text=text, timeout=timeout,
                              capture_output=True,
                              preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    with tempfile.TemporaryDirectory(prefix="forked-") as folder, _parent.lock:
        stdin, stdout, stderr = (Path(folder) / name for name in ("stdin", "stdout", "stderr"))
        data = input.encode() if isinstance(input, str) else input
        stdin.write_bytes(data or b"")
        stdout.touch()
        stderr.touch()
        request = {"args": [os.fsdecode(arg) for arg in args], "env": env, "cwd": str(cwd), "umask": umask,
                   "stdin": str(stdin), "stdout": str(stdout), "stderr": str(stderr)}
        process = _parent.start()
        process.stdin.write((json.dumps(request) + "\n").encode())  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
        pid = _reply(process, None)["pid"]  # type: ignore[index]
        deadline = None if timeout is None else time.monotonic() + timeout
        reply = _reply(process, deadline)
        if reply is None:
            os.kill(pid, signal.SIGKILL)
            _reply(process, None)
        out, err = stdout.read_bytes(), stderr.read_bytes()
        if text:
            out, err = out.decode(), err.decode()  # type: ignore[assignment]
        if reply is None:
            raise subprocess.TimeoutExpired([sys.executable, *args], timeout or 0, out, err)
        return subprocess.CompletedProcess([sys.executable, *args], reply["exit"], out, err)


def stop_parent() -> None:
    """End this test process's parent (the conftest does at the end of the session)."""
    _parent.stop()


if __name__ == "__main__":
    _serve()
