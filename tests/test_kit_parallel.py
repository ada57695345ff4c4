"""tests/kit/parallel.py: under `-n 2 --dist loadfile` a test file runs whole on one worker (its module-scoped
processes start once), the files of the Spark group run on one worker (one Spark session), and a long file named
in FIRST starts first."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.conftest import ROOT
from tests.kit.parallel import group_of

TEST = """
import os, pathlib

def _note():
    with open(pathlib.Path(__file__).parent / "ran.txt", "a") as out:
        out.write(f"{{__name__}} {{os.environ['PYTEST_XDIST_WORKER']}}\\n")

{tests}
"""


def test_a_file_runs_on_one_worker_and_the_spark_files_on_the_same_one(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    names = [f"test_m{i}" for i in range(5)] + ["test_kit_spark", "test_engines_spark", "test_engines_spark_sql",
                                                "test_three_tiers_audit"]
    pytester.mkdir("tests")
    for name in names:
        tests = "".join(f"def test_{i}():\n    _note()\n\n" for i in range(1 if "three" in name else 4))
        (pytester.path / "tests" / f"{name}.py").write_text(TEST.format(tests=tests), encoding="utf-8")
    result = pytester.runpytest_subprocess("-p", "tests.kit.parallel", "-n", "2", "--dist", "loadfile",
                                           "-p", "no:cacheprovider", "tests")
    result.assert_outcomes(passed=(len(names) - 1) * 4 + 1)
    workers: dict[str, set[str]] = defaultdict(set)
    first: dict[str, str] = {}  # worker -> the module of the first test it ran
    for line in (pytester.path / "tests" / "ran.txt").read_text().splitlines():
        module, worker = line.split()
        workers[module].add(worker)
        first.setdefault(worker, module)
    assert sorted(workers) == sorted(names)
    assert all(len(w) == 1 for w in workers.values()), dict(workers)  # each file whole on one worker
    assert workers["test_kit_spark"] == workers["test_engines_spark"] == workers["test_engines_spark_sql"]
    assert set().union(*workers.values()) == {"gw0", "gw1"}, dict(workers)  # and both workers had work
    assert "test_three_tiers_audit" in first.values(), first  # it has the fewest tests, yet goes first


def test_every_test_that_uses_the_spark_session_is_in_a_file_of_the_spark_group(request: pytest.FixtureRequest):
    """A Spark test elsewhere would start a second Spark session on another worker: name its file in
    tests/kit/parallel.py FILE_GROUPS (this checks the tests collected with it: the whole suite in CI)."""
    outside = [item.nodeid for item in request.session.items
               if "spark" in getattr(item, "fixturenames", ()) and group_of(item.nodeid.split("::")[0]) != "spark"]
    assert not outside, f"tests using `spark` outside FILE_GROUPS['spark'] in tests/kit/parallel.py: {outside}"
