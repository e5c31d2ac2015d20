"""The package's layout shows its flow: each stage imports only earlier ones, and only public names."""

from __future__ import annotations

import ast
from pathlib import Path

import segmentation

PACKAGE = Path(segmentation.__file__).parent
#: Every module, in the order of the flow; a module may import only modules before it.
FLOW = (
    "errors", "columns", "config", "segments", "rfm", "export", "load", "rulebook", "clean", "features", "partitions",
    "dask_engine", "spark_engine", "engines", "cluster", "populations", "diagnostics", "profiles", "validation",
    "forecast", "model", "present", "findings", "plots", "pipeline", "synthetic", "download", "notebook", "readme",
    "side_by_side", "__main__", "__init__",
)


def _imports(module: Path) -> list[tuple[str, list[str]]]:
    """(imported segmentation module, names taken from it) for each import outside ``if TYPE_CHECKING``."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    type_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and getattr(block.test, "id", "") == "TYPE_CHECKING" for node in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("segmentation"):
            names = [alias.name for alias in node.names]
            if node.module == "segmentation":  # from segmentation import columns, config
                found += [(name, []) for name in names]
            else:
                found.append((node.module.removeprefix("segmentation."), names))
        elif isinstance(node, ast.Import):
            found += [(alias.name.removeprefix("segmentation."), []) for alias in node.names
                      if alias.name.startswith("segmentation.")]
    return found


def _modules() -> dict[str, Path]:
    return {path.stem: path for path in sorted(PACKAGE.glob("*.py"))}


def test_every_module_has_a_place_in_the_flow():
    assert set(_modules()) <= set(FLOW), set(_modules()) - set(FLOW)


def test_each_module_imports_only_earlier_stages():
    for name, path in _modules().items():
        for imported, _ in _imports(path):
            top = imported.split(".")[0]
            if top in FLOW and name != "__init__":
                assert FLOW.index(top) < FLOW.index(name), f"{name} imports the later stage {top}"


def test_no_module_imports_or_reaches_a_private_name_of_another():
    for name, path in _modules().items():
        imports = _imports(path)
        for imported, names in imports:
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{name} imports {', '.join(private)} from {imported}"
        modules = {imported.split(".")[-1] for imported, names in imports if not names}
        reached = sorted({f"{node.value.id}.{node.attr}" for node in ast.walk(ast.parse(path.read_text()))
                          if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                          and node.value.id in modules and node.attr.startswith("_")})
        assert not reached, f"{name} reaches into {', '.join(reached)}"
