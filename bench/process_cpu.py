"""CPU seconds of a process tree, from ``/proc`` (Linux), for the worker benchmark.

A process's ``utime + stime`` (proc(5), ``/proc/PID/stat`` fields 14-15) plus
``cutime + cstime`` (16-17: its children that exited and were waited for), summed over a
root and its live descendants, counts every CPU second of the tree once: a child still
running is counted by itself, one that exited by the parent that reaped it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["postmaster_pid", "tree_cpu_seconds"]

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:  # the process has gone
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return text.rsplit(")", 1)[1].split()


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and its live descendants, and of the
    children they reaped."""
    stats: dict[int, list[str]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            stats[int(entry.name)] = fields
    tree = {root} & stats.keys()
    grew = bool(tree)
    while grew:
        grew = False
        for pid, fields in stats.items():
            if int(fields[1]) in tree and pid not in tree:
                tree.add(pid)
                grew = True
    ticks = sum(int(value) for pid in tree for value in stats[pid][11:15])
    return ticks / _TICKS


def postmaster_pid(port: int) -> int | None:
    """The PostgreSQL server listening on 127.0.0.1:``port`` (its ``-p`` argument)."""
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"postgres") and b"-p" in argv:
            index = argv.index(b"-p")
            if index + 1 < len(argv) and argv[index + 1] == str(port).encode():
                return int(entry.name)
    return None
