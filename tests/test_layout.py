"""The package's layout shows its flow: its folders are the stages, each imports only earlier ones, and only
public names."""

from __future__ import annotations

import ast
from pathlib import Path

import segmentation

PACKAGE = Path(segmentation.__file__).parent
#: The stages in the order of the flow, each with its modules in order. A module may import the modules
#: before it in its own stage and any module of an earlier stage. The foundation and the command line
#: are modules at the top of the package; every other stage is the folder of its name.
STAGES = {
    "foundation": ("errors", "columns", "config", "export"),
    "reading": ("load", "partitions", "download", "synthetic"),
    "rules": ("rulebook", "clean", "features"),
    "engines": ("dask_engine", "spark_engine", "runners"),
    "analysis": ("segments", "rfm", "cluster", "populations", "diagnostics", "profiles", "validation", "forecast",
                 "model", "pipeline"),
    "presentation": ("present", "findings", "plots", "notebook", "readme", "side_by_side"),
    "command line": ("__main__",),
}
AT_THE_TOP = ("foundation", "command line")
FOLDERS = tuple(stage for stage in STAGES if stage not in AT_THE_TOP)


def _dotted(stage: str, module: str) -> str:
    return module if stage in AT_THE_TOP else f"{stage}.{module}"


#: Module (dotted, below ``segmentation``) -> its place in the flow: (stage, module), in order.
PLACE = {_dotted(stage, module): (s, m) for s, (stage, modules) in enumerate(STAGES.items())
         for m, module in enumerate(modules)}


def _modules() -> dict[str, Path]:
    """Every module of the package but the ``__init__`` files, by dotted name below ``segmentation``."""
    return {".".join(path.relative_to(PACKAGE).with_suffix("").parts): path
            for path in sorted(PACKAGE.rglob("*.py")) if path.name != "__init__.py"}


def _is_module(dotted: str) -> bool:
    return (PACKAGE.joinpath(*dotted.split(".")).with_suffix(".py").is_file()
            or PACKAGE.joinpath(*dotted.split("."), "__init__.py").is_file())


def _imports(module: Path) -> list[tuple[str, list[str], str | None]]:
    """(imported segmentation module below ``segmentation``, "" for the package itself; names taken from it;
    the name it is bound to, if the module itself is bound) for each import outside ``if TYPE_CHECKING``."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    type_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and getattr(block.test, "id", "") == "TYPE_CHECKING" for node in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "segmentation":
            parent = node.module.removeprefix("segmentation").removeprefix(".")
            for alias in node.names:
                dotted = f"{parent}.{alias.name}".lstrip(".")
                if _is_module(dotted):  # from segmentation.reading import load
                    found.append((dotted, [], alias.asname or alias.name))
                else:  # from segmentation.reading.load import load_invoices
                    found.append((parent, [alias.name], None))
        elif isinstance(node, ast.Import):
            found += [(alias.name.removeprefix("segmentation."), [], alias.asname) for alias in node.names
                      if alias.name.startswith("segmentation.")]
    return found


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def test_every_module_lives_in_a_stage():
    assert set(_modules()) == set(PLACE), {"in no stage": sorted(set(_modules()) - set(PLACE)),
                                           "missing": sorted(set(PLACE) - set(_modules()))}


def test_each_module_imports_only_its_stage_s_earlier_modules_and_earlier_stages():
    for name, path in _modules().items():
        for imported, _, _ in _imports(path):
            assert imported in PLACE, f"{name} imports {imported or 'segmentation'}, which is not a module of a stage"
            assert PLACE[imported] < PLACE[name], f"{name} imports the later {imported}"


def test_a_stage_folder_imports_nothing_of_the_package():
    for stage in FOLDERS:
        imported = [module or "segmentation" for module, _, _ in _imports(PACKAGE / stage / "__init__.py")]
        assert not imported, f"{stage}/__init__.py imports {', '.join(imported)}"


def test_each_stage_folder_says_what_it_may_import():
    for stage in FOLDERS:
        said = [line for line in _docstring(PACKAGE / stage / "__init__.py").splitlines()
                if line.startswith("May import: ")]
        earlier = list(STAGES)[:list(STAGES).index(stage)]
        assert said == [f"May import: {', '.join(earlier)}."], f"{stage}/__init__.py: {said}"


def test_no_module_imports_or_reaches_a_private_name_of_another():
    for name, path in _modules().items():
        imports = _imports(path)
        for imported, names, _ in imports:
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{name} imports {', '.join(private)} from {imported}"
        bound = {alias for _, names, alias in imports if alias and not names}
        reached = sorted({f"{node.value.id}.{node.attr}" for node in ast.walk(ast.parse(path.read_text()))
                          if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                          and node.value.id in bound and node.attr.startswith("_")
                          and not (node.attr.startswith("__") and node.attr.endswith("__"))})
        assert not reached, f"{name} reaches into {', '.join(reached)}"
