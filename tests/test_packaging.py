"""The package as a user gets it: a light ``import segmentation``, and a wheel whose command works."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


def test_public_names_import_on_first_use_and_are_listed():
    import segmentation
    from segmentation import load_invoices

    assert load_invoices.__module__ == "segmentation.load"
    assert set(segmentation.__all__) <= set(dir(segmentation))
    assert all(getattr(segmentation, name) is not None for name in segmentation.__all__)


def test_stage_modules_are_attributes_of_the_package():
    import segmentation

    assert segmentation.plots.__name__ == "segmentation.plots"


def test_an_unknown_name_is_an_attribute_error():
    import segmentation

    with pytest.raises(AttributeError, match="no_such_name"):
        segmentation.no_such_name  # noqa: B018


def test_import_segmentation_download_loads_only_the_standard_library():
    modules = imported_modules("import segmentation.download")
    third_party = {name for name in modules if name not in sys.stdlib_module_names} - {"segmentation"}
    assert not third_party, sorted(third_party)


@pytest.mark.parametrize(("module", "missing"), [("segmentation.notebook", "nbclient"),
                                                  ("segmentation.readme", "nbformat")])
def test_a_module_whose_extra_is_missing_names_the_extra(module, missing):
    code = f"import sys; sys.modules[{missing!r}] = None; import {module}"  # None: as if not installed
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"ModuleNotFoundError: {module} needs {missing}: pip install 'segmentation[notebook]'"
    )
