"""How the suite runs on several cores (pytest-xdist: the README's `-n auto`; pyproject's addopts `--dist loadfile`).

Why: real processes that a test module or the session shares must start once, not once per worker. So each test
file goes whole to one worker (its module-scoped proxy, loopback server or audit is set up once), and the files
whose tests use a process shared across files (the Spark session: ~45 s to start, 512 MB) all go to one worker.
A Postgres cluster costs a few seconds: each worker starts its own (its own temp dir and free port, see
tests/kit/postgres.py). Without `-n` none of this does anything.

The files are named here, not found from the tests' fixtures: xdist's `--dist loadgroup` would read an
`xdist_group` mark, but with pytest 9.2 it silently stops grouping (pytest-dev/pytest-xdist#1386: it rewrites a
node id field pytest no longer reads). tests/test_kit_parallel.py checks that every test using `spark` is in one
of these files.
"""

from __future__ import annotations

from fnmatch import fnmatch
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from xdist.scheduler import LoadFileScheduling

# group -> the test files (relative to the repository, fnmatch patterns) that run together on one worker
FILE_GROUPS = {"spark": ("tests/test_kit_spark.py", "tests/test_engines_spark*.py")}
# Units that take minutes with few tests (proxy starts, real processes, simulations), sent out first so that none
# is left running alone at the end; the rest go as xdist orders them (most tests first). A hint: a stale entry
# costs only time.
FIRST = ("tests/test_deploy_proxy.py", "tests/test_replay.py", "tests/test_gate_proxy.py", "spark",
         "tests/test_kit_proxy.py", "tests/test_subpop.py", "tests/test_decide.py",
         "tests/adversarial/test_processes.py", "tests/test_three_tiers_audit.py")


def group_of(path: str) -> str:
    """The unit of work a test file belongs to: its group, or the file itself."""
    return next((group for group, patterns in FILE_GROUPS.items() if any(fnmatch(path, p) for p in patterns)), path)


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: unknown where it is disabled
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadFileScheduling | None:
    """`--dist loadfile`, with the files of a group sent to one worker as one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileOrGroup(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid.split("::", 1)[0])

        def _assign_work_unit(self, node: object) -> None:
            first = next((unit for unit in FIRST if unit in self.workqueue), None)
            if first:
                self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)  # type: ignore[arg-type]

    return FileOrGroup(config, log)  # type: ignore[arg-type]
