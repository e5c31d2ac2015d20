"""The package as a user gets it: a light ``import segmentation``, and a wheel whose command works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from segmentation import config

#: Libraries that take seconds to import; ``import segmentation`` must load none of them.
HEAVY = ("sklearn", "matplotlib", "seaborn", "dask", "distributed", "kneed", "scipy")


def imported_modules(statement: str) -> set[str]:
    """Top-level names of the modules ``statement`` imports beyond what a bare interpreter loads."""

    def loaded(code: str) -> set[str]:
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                                capture_output=True, text=True, check=True)
        lines = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
        return {name.split(".")[0] for name in lines[1:]}  # lines[0] is the header

    return loaded(statement) - loaded("pass")


def test_import_segmentation_loads_no_heavy_library():
    modules = imported_modules("import segmentation")
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_import_segmentation_plots_loads_no_seaborn():
    # the heatmap imports it when drawn
    assert "seaborn" not in imported_modules("import segmentation.presentation.plots")


def test_public_names_import_on_first_use_and_are_listed():
    import segmentation
    from segmentation import load_invoices

    assert load_invoices.__module__ == "segmentation.reading.load"
    assert set(segmentation.__all__) <= set(dir(segmentation))
    assert all(getattr(segmentation, name) is not None for name in segmentation.__all__)


def test_stage_folders_are_attributes_of_the_package():
    import segmentation

    assert segmentation.presentation.__name__ == "segmentation.presentation"


def test_an_unknown_name_is_an_attribute_error():
    import segmentation

    with pytest.raises(AttributeError, match="no_such_name"):
        segmentation.no_such_name  # noqa: B018


def test_import_segmentation_download_loads_only_the_standard_library():
    modules = imported_modules("import segmentation.reading.download")
    third_party = {name for name in modules if name not in sys.stdlib_module_names} - {"segmentation"}
    assert not third_party, sorted(third_party)


@pytest.mark.parametrize(("module", "missing"), [("segmentation.presentation.notebook", "nbclient"),
                                                  ("segmentation.presentation.readme", "nbformat")])
def test_a_module_whose_extra_is_missing_names_the_extra(module, missing):
    code = f"import sys; sys.modules[{missing!r}] = None; import {module}"  # None: as if not installed
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"ModuleNotFoundError: {module} needs {missing}: pip install 'segmentation[notebook]'"
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The project built as a wheel and installed, without dependencies, into a folder of its own.

    The source is copied first, so that no stale ``build/`` of the checkout ends up in the wheel. Returns
    the install folder and the environment that imports that copy (not the editable checkout).
    """
    scratch = tmp_path_factory.mktemp("wheel")
    source = scratch / "source"
    shutil.copytree(config.PROJECT_ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(config.PROJECT_ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--wheel-dir", scratch / "dist", source], check=True)
    (wheel,) = (scratch / "dist").glob("segmentation-*.whl")
    site = scratch / "site"
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", site, wheel], check=True)
    return site, {**os.environ, "PYTHONPATH": str(site)}


def test_the_wheel_holds_the_package_and_no_benchmarks(installed):
    site, _ = installed
    assert (site / "segmentation" / "__main__.py").is_file()
    assert _package_files(site) == _package_files(config.PROJECT_ROOT / "src")  # every stage folder, its data
    assert not (site / "segmentation" / "bench.py").exists()
    assert (site / "bin" / "segmentation").is_file()


def _package_files(root: Path) -> set[Path]:
    """The package's modules and data files under ``root``, relative to it."""
    return {path.relative_to(root) for path in (root / "segmentation").rglob("*") if path.suffix in (".py", ".toml")}


def test_the_installed_copy_is_imported_and_knows_it_is_not_a_checkout(installed, tmp_path):
    site, env = installed
    code = "import segmentation.config as k; print(k.__file__); print(k.IN_CHECKOUT); print(k.PROJECT_ROOT)"
    shown = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert Path(shown[0]).is_relative_to(site)
    assert shown[1] == "False"
    assert Path(shown[2]).resolve() == tmp_path.resolve()


def test_the_installed_package_holds_the_default_segment_map(installed, tmp_path):
    site, env = installed
    code = ("from segmentation.analysis.rfm import DEFAULT_SEGMENT_MAP_PATH, load_segment_map; m = load_segment_map(); "
            "print(DEFAULT_SEGMENT_MAP_PATH); print(len(m.cells)); print(m.names[0], m.names[-1], sep=',')")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    shown = result.stdout.splitlines()
    assert Path(shown[0]).is_relative_to(site) and Path(shown[0]).is_file()
    assert shown[1:] == ["25", "Champions,Lost"]


def test_the_console_script_prints_help(installed):
    site, env = installed
    result = subprocess.run([site / "bin" / "segmentation", "--help"], env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "--out" in result.stdout


def test_the_console_script_segments_the_sample(installed, tmp_path):
    site, env = installed
    out = tmp_path / "out"
    result = subprocess.run([site / "bin" / "segmentation", config.SAMPLE_PATH, "--out", out], env=env,
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert (out / "customers.csv").is_file() and (out / "customer_segments.csv").is_file()


def test_the_console_script_into_a_closed_pipe_is_no_error_and_writes_beside_the_user(installed, tmp_path):
    """``segmentation FILE | head -1``: exit 0, nothing on stderr; the default output goes under the
    working directory (an installed package has no project folder of its own)."""
    site, env = installed
    command = f"set -o pipefail; '{site / 'bin' / 'segmentation'}' '{config.SAMPLE_PATH}' | head -1"
    result = subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, text=True,
                            check=False)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("sample_invoices.csv")
    assert (tmp_path / "data" / "processed" / "sample_invoices" / "customers.csv").is_file()
