"""``make run``'s launcher: both commands at once, the first one's output first, exit statuses kept."""

from __future__ import annotations

import subprocess
import sys

import pytest

from segmentation.presentation import side_by_side


def _launch(first: str, second: str, tmp_path) -> subprocess.CompletedProcess:
    """``run_side_by_side`` of two ``python -c`` programs, in a process of its own (the children share its stdout)."""
    code = ("import sys; from segmentation.presentation.side_by_side import run_side_by_side; "
            f"sys.exit(run_side_by_side([sys.executable, '-c', {first!r}], [sys.executable, '-c', {second!r}], "
            "first_title='first', second_title='second'))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          check=False)


def test_the_second_runs_while_the_first_does_and_is_shown_after_it(tmp_path):
    flag = tmp_path / "second-started"
    # the first waits for a file that only the second writes: it ends only if both run at once
    first = ("import pathlib, time\n"
             f"flag = pathlib.Path({str(flag)!r})\n"
             "for _ in range(400):\n"
             "    if flag.exists(): break\n"
             "    time.sleep(0.05)\n"
             "print('first saw the second', flag.exists(), flush=True)")
    second = f"import pathlib; print('second began', flush=True); pathlib.Path({str(flag)!r}).touch()"
    result = _launch(first, second, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[1/2] first", "first saw the second True", "[2/2] second",
                                          "second began"]


@pytest.mark.parametrize(("first", "second", "status"), [(0, 0, 0), (2, 0, 2), (0, 1, 1), (2, 1, 2)])
def test_the_status_is_the_first_failure(tmp_path, first, second, status):
    result = _launch(f"import sys; sys.exit({first})", f"import sys; sys.exit({second})", tmp_path)
    assert result.returncode == status


def test_the_bundled_run_starts_the_command_line_and_the_notebook(monkeypatch):
    seen = {}
    monkeypatch.setattr(side_by_side, "run_side_by_side",
                        lambda first, second, **titles: seen.update(first=first, second=second) or 0)
    assert side_by_side.main() == 0
    assert seen["first"][1:] == ["-m", "segmentation", "data/online_retail_II_2009_2010.parquet"]
    assert seen["second"][1:] == ["-m", "segmentation.presentation.notebook", "--progress"]
