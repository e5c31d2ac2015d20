"""``make run`` on the bundled data: the command line and the notebook at the same time, shown in turn.

``python -m segmentation.presentation.side_by_side`` starts the notebook
(``segmentation.presentation.notebook --progress``) in the background and the command line in the
foreground, so its summary and progress bar reach the terminal as they happen; the notebook's lines
are held until the command line ends, then shown, and the rest as they come. The two share no file
(``data/processed/`` against ``notebooks/`` and ``figures/``). The exit status is the command
line's if it failed, else the notebook's; Ctrl-C stops both.

May import: config.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Sequence

from segmentation import config

#: Exit status after Ctrl-C, as a shell reports it.
EXIT_INTERRUPTED = 130


def run_side_by_side(first: Sequence[str], second: Sequence[str], *, first_title: str,
                     second_title: str) -> int:
    """Run ``first`` in the foreground and ``second`` at the same time with its output held back until
    ``first`` ends; print each one's title before its output. Return the first non-zero exit status."""
    held: queue.Queue[str | None] = queue.Queue()
    print(f"[1/2] {first_title}", flush=True)
    background = subprocess.Popen(second, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                  cwd=config.PROJECT_ROOT)
    reader = threading.Thread(target=_hold, args=(background.stdout, held), daemon=True)
    reader.start()
    try:
        first_status = subprocess.call(first, cwd=config.PROJECT_ROOT)
        print(f"[2/2] {second_title}", flush=True)
        for line in iter(held.get, None):
            print(line, end="", flush=True)
        second_status = background.wait()
    except KeyboardInterrupt:
        background.terminate()
        background.wait()
        return EXIT_INTERRUPTED
    return first_status or second_status


def _hold(stream, held: queue.Queue) -> None:
    """Put each line of ``stream`` on ``held``, then None."""
    for line in stream:
        held.put(line)
    held.put(None)


def main() -> int:
    python = sys.executable
    return run_side_by_side(
        [python, "-m", "segmentation", str(config.DEFAULT_DATA_PATH.relative_to(config.PROJECT_ROOT))],
        [python, "-m", "segmentation.presentation.notebook", "--progress"],
        first_title="command line: tables into data/processed/, as it goes",
        second_title="notebook (run at the same time): each section as it started",
    )


if __name__ == "__main__":
    sys.exit(main())
