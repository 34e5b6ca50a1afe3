"""Training progress rendered in the terminal: one rich bar per task (fold, refit)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from avdetect.training.epochs import Progress


@contextmanager
def rich_progress() -> Iterator[Progress]:
    """A `Progress` callback rendering one bar per task (fold, refit) with loss and time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bars

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.3f}"), TimeRemainingColumn())
    tasks: dict[str, Any] = {}
    with Bars(*columns, transient=False) as bars:
        def progress(tick: Any) -> None:
            if tick.task not in tasks:
                tasks[tick.task] = bars.add_task(tick.task, total=tick.total, loss=float("nan"))
            bars.update(tasks[tick.task], completed=tick.step, total=tick.total, loss=tick.loss)

        yield progress
