"""Run a command with a filesystem view that holds only Python and one work folder.

Used by ``coursetools.grade`` to execute submitted notebooks. The command runs in new
Linux user, mount, PID and network namespaces (``unshare``, util-linux; no root needed
where unprivileged user namespaces are enabled). Its root is a fresh tmpfs that holds
only:

- ``/usr``, ``/etc`` and the Python installation (its base and the virtual environment),
  mounted read-only, so that a submission cannot rewrite NumPy or otter for later ones;
- ``/dev/null``, ``/dev/zero``, ``/dev/random``, ``/dev/urandom``, a private ``/proc``,
  an empty ``/tmp``;
- the work folder, read-write, at its own path.

So the repository (chapters with solutions, ``release/`` with the expected values,
``.git``), other students' submissions and the grading output are not there to be read,
no network can be reached, and no process outside can be seen or signalled. Killing
``unshare`` ends everything inside (the command is PID 1 of its namespace).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

# Mounted read-only when they exist; the symlinks /bin, /lib, /lib64, /sbin of
# merged-/usr systems are recreated as symlinks.
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/lib", "/lib64", "/sbin")
DEVICES = ("null", "zero", "random", "urandom")


def python_dirs() -> list[str]:
    """The folders the running Python needs: its installation and its virtual
    environment."""
    found = []
    for prefix in (sys.base_prefix, sys.prefix):
        real = str(Path(prefix).resolve())
        if not any(
            real == d or real.startswith(d + "/") for d in ("/usr",) + tuple(found)
        ):
            found.append(real)
        if prefix != real and prefix not in found:
            found.append(
                prefix
            )  # the venv's own path, which its scripts' shebangs name
    return found


def available() -> str:
    """ "" if sandboxes can be made here, else why not."""
    if shutil.which("unshare") is None:
        return "the 'unshare' command (util-linux) is not installed"
    probe = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "true",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return "unprivileged user namespaces are disabled: " + probe.stderr.strip()
    return ""


def setup_script(root: Path, work: Path, command: list[str]) -> str:
    """The shell script that runs inside the namespaces: build the view, then exec
    ``command``."""
    q = shlex.quote
    lines = ["set -e", f"R={q(str(root))}", 'mount -t tmpfs -o mode=755 tmpfs "$R"']

    def bind(path: str, writable: bool = False) -> None:
        lines.append(f'mkdir -p "$R"{q(path)}')
        lines.append(f'mount --rbind {q(path)} "$R"{q(path)}')
        if not writable:
            lines.append(f'mount -o remount,bind,ro "$R"{q(path)}')

    for path in SYSTEM_DIRS:
        p = Path(path)
        if p.is_symlink():
            lines.append(f'ln -s {q(str(p.readlink()))} "$R"{q(path)}')
        elif p.is_dir():
            bind(path)
    for path in python_dirs():
        bind(path)
    lines.append('mkdir -p "$R/dev" "$R/proc" "$R/tmp"')
    for device in DEVICES:
        lines.append(f'touch "$R/dev/{device}"')
        lines.append(f'mount --bind /dev/{device} "$R/dev/{device}"')
    lines.append('mount -t proc proc "$R/proc"')
    lines.append('mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"')
    bind(str(work), writable=True)
    inner = f"cd {q(str(work))} && exec {' '.join(q(c) for c in command)}"
    chroot = (
        shutil.which("chroot")
        or shutil.which("chroot", path="/usr/sbin:/sbin")
        or "chroot"
    )
    lines.append(f'exec {q(chroot)} "$R" /bin/sh -c {q(inner)}')
    return "\n".join(lines) + "\n"


def command_in_sandbox(work: Path, command: list[str], scratch: Path) -> list[str]:
    """The argv that runs ``command`` in ``work`` inside the sandbox (``scratch`` holds
    the root)."""
    root = scratch / "root"
    root.mkdir(parents=True, exist_ok=True)
    script = setup_script(root, Path(work).resolve(), command)
    return [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--kill-child",
        "/bin/sh",
        "-c",
        script,
    ]
