"""Copy the notebook's computed findings into the README, so the README states only checked numbers.

``python -m segmentation.presentation.readme`` (run by ``make run`` after the notebook)
replaces the block between ``FINDINGS_START`` and ``FINDINGS_END`` in
README.md with the last Markdown output of the executed notebook: the
"Findings" cell, whose every number is computed from that run's tables. The
test suite checks that the block and the committed notebook agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from segmentation.presentation.notebook import read_notebook
except ModuleNotFoundError as error:  # the optional extra is not installed
    raise ModuleNotFoundError(f"{__name__} needs {error.name}: pip install 'segmentation[notebook]'") from None

from segmentation import config

README_PATH = config.PROJECT_ROOT / "README.md"
FINDINGS_START = "<!-- findings: copied from the executed notebook by `make run`; do not edit -->"
FINDINGS_END = "<!-- /findings -->"


def notebook_findings(notebook: Path = config.NOTEBOOK_PATH) -> str:
    """The last Markdown output of an executed notebook (its findings), without surrounding blank lines."""
    document = read_notebook(notebook)
    shown = [output["data"]["text/markdown"] for cell in document.cells for output in cell.get("outputs", [])
             if "text/markdown" in output.get("data", {})]
    if not shown:
        raise ValueError(f"{notebook.name} holds no computed findings; run `make run` first")
    return shown[-1].strip()


def _block(text: str) -> tuple[int, int]:
    """Where the findings block's content starts and ends in the README's ``text``."""
    return text.index(FINDINGS_START) + len(FINDINGS_START), text.index(FINDINGS_END)


def readme_findings(readme: Path = README_PATH) -> str:
    """The findings block of the README, as it stands."""
    text = readme.read_text(encoding="utf-8")
    start, end = _block(text)
    return text[start:end].strip()


def update_readme(readme: Path = README_PATH, notebook: Path = config.NOTEBOOK_PATH) -> bool:
    """Rewrite the README's findings block from the notebook; True when the README changed."""
    text = readme.read_text(encoding="utf-8")
    start, end = _block(text)
    updated = f"{text[:start]}\n{notebook_findings(notebook)}\n{text[end:]}"
    if updated == text:
        return False
    from segmentation.export import atomic_path  # pandas: only when the README changes

    with atomic_path(readme) as temporary:
        temporary.write_text(updated, encoding="utf-8")
    return True


def main() -> int:
    changed = update_readme()
    print(f"README.md: findings {'updated from' if changed else 'already match'} the notebook")
    return 0


if __name__ == "__main__":
    sys.exit(main())
