"""Keras' text progress bar, with a live mode for terminals and a plain mode for log files.

In a terminal or a Jupyter notebook the bar is redrawn in place (``\\r``), at
most once per ``interval`` seconds (10 times a second by default)::

      12/1875 [..............................] - ETA: 3s - loss: 0.4321 - accuracy: 0.8750
    1875/1875 [==============================] - 3s 2ms/step - loss: 0.2961 - accuracy: 0.9140

When the output goes to a file or a pipe (a cluster job's log), nothing is
written during the epoch and exactly one plain line is written at its end::

    1875/1875 - 3s - 2ms/step - loss: 0.2961 - accuracy: 0.9140

An update that does not redraw costs one clock read and a few comparisons, so
calling :meth:`Progbar.update` after every batch does not slow training down.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from typing import Iterable, Optional, Union

import numpy as np

__all__ = ["Progbar", "is_dynamic_stream", "print_message"]

_now = time.monotonic

# The bar whose live line is on screen, if any: print_message clears it first.
_live_bar: Optional["Progbar"] = None


def print_message(text: str, stream=None) -> None:
    """Prints a line without mangling a live progress bar.

    A live bar's line is erased first (it is redrawn at its next update), so
    callback messages such as "Epoch 3: early stopping" get a line of their own
    both in a terminal and in a log file.

    Args:
        text: The message (a newline is added).
        stream: Where to write; defaults to ``sys.stdout``.

    Example:
        >>> from ferronet.utils.progbar import print_message
        >>> print_message("epoch done")
        epoch done
    """
    if _live_bar is not None:
        _live_bar._erase()
    out = stream if stream is not None else sys.stdout
    out.write(text + "\n")
    out.flush()


def is_dynamic_stream(stream) -> bool:
    """Tells whether ``stream`` can redraw a line in place.

    True for a terminal, a Jupyter/IPython kernel's output stream and PyCharm's
    run console; false for files, pipes and captured output.

    Args:
        stream: A text stream such as ``sys.stdout``.

    Returns:
        Whether live (``\\r``-redrawn) output is appropriate.

    Example:
        >>> from ferronet.utils.progbar import is_dynamic_stream
        >>> import io
        >>> is_dynamic_stream(io.StringIO())
        False
    """
    if type(stream).__module__.startswith("ipykernel"):
        return True
    if "PYCHARM_HOSTED" in os.environ and stream in (sys.__stdout__, sys.stdout):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _format_number(value) -> str:
    if abs(value) > 1e-3:
        return f"{value:.4f}"
    return f"{value:.4e}"


def _format_value(value) -> str:
    """Keras' display of a metric: 4 decimals, scientific notation near zero."""
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
        return _format_number(float(value))
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _format_number(float(value))
        if value.dtype.kind in "fiu":
            return "[" + " ".join(_format_number(float(v)) for v in value.ravel()) + "]"
    return str(value)


def _format_eta(seconds: float) -> str:
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def _format_per_unit(seconds: float, unit_name: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


class Progbar:
    """Displays a progress bar in Keras' format.

    Args:
        target: Total number of steps expected, or ``None`` if unknown.
        width: Width of the bar in characters.
        verbose: 0 (silent), 1 (live bar in a terminal or notebook, one line at
            the end elsewhere), 2 (one line at the end only) or ``"auto"`` (1).
        interval: Minimum time in seconds between two live redraws.
        stateful_metrics: Names of values shown as given (such as metrics that
            already are running averages); other values are averaged over the
            steps. ``True`` means every value is shown as given.
        unit_name: Name of a step in the time-per-step display.
        dynamic: Force live redrawing on (``True``) or off (``False``); by
            default it is on exactly when the stream is a terminal or notebook.
        stream: Where to write; defaults to ``sys.stdout`` at the time of writing.
        prefix: Text written in front of every line (e.g. ``"Epoch 3/10 - "``).

    Example:

    >>> bar = Progbar(target=100, verbose=2)
    >>> for step in range(1, 101):
    ...     bar.update(step, [("loss", 1.0 / step)])  # doctest: +ELLIPSIS
    100/100 - 0s - ...us/step - loss: 0.0519
    """

    def __init__(
        self,
        target: Optional[int],
        width: int = 30,
        verbose: Union[int, str] = 1,
        interval: float = 0.1,
        stateful_metrics: Union[Iterable[str], bool, None] = None,
        unit_name: str = "step",
        dynamic: Optional[bool] = None,
        stream=None,
        prefix: str = "",
    ):
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar verbose must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")
        if target is not None and (isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0):
            raise ValueError(f"Progbar target must be a non-negative integer or None. Received: target={target!r}")
        if not isinstance(width, (int, np.integer)) or width < 1:
            raise ValueError(f"Progbar width must be a positive integer. Received: width={width!r}")
        self.target = None if target is None else int(target)
        self.width = int(width)
        self.verbose = verbose
        self.interval = float(interval)
        self.unit_name = unit_name
        self.prefix = prefix
        self._all_stateful = stateful_metrics is True
        self.stateful_metrics = set() if stateful_metrics in (None, True, False) else set(stateful_metrics)
        self._stream = stream
        self.dynamic = is_dynamic_stream(self._out()) if dynamic is None else bool(dynamic)
        self._values: dict = {}
        self._pending = None
        self._seen_so_far = 0
        self._start = _now()
        self._last_update = -math.inf
        self._reference = None  # (step, time) of the first update: the first step's time is excluded
        self._prev_width = 0
        self._live = False
        self._finalized = False

    def _out(self):
        return self._stream if self._stream is not None else sys.stdout

    def update(self, current: int, values=None, finalize: Optional[bool] = None) -> None:
        """Records progress and redraws when due.

        Args:
            current: Number of steps done so far.
            values: ``(name, value)`` pairs or a dict. Values named in
                ``stateful_metrics`` (all of them with ``stateful_metrics=True``)
                are shown as given; the others are averaged over the steps.
            finalize: Whether this is the last update; defaults to
                ``current >= target``. The last update always writes its line.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if values:
            if self._all_stateful:
                # Keep a reference only; it is read when a line is drawn.
                self._pending = values
            else:
                self._average_in(current, values)
        self._seen_so_far = current
        if self._reference is None:
            self._reference = (current, _now())
        if not self.verbose:
            return
        if finalize:
            self._draw(current, final=True)
            return
        if self.verbose != 1 or not self.dynamic:
            return
        now = _now()
        if now - self._last_update < self.interval:
            return
        self._last_update = now
        self._draw(current, final=False, now=now)

    def add(self, n: int, values=None) -> None:
        """Advances by ``n`` steps (see :meth:`update`)."""
        self.update(self._seen_so_far + n, values)

    def due(self) -> bool:
        """Whether the next non-final update would redraw the live bar.

        Lets a caller skip computing values that would not be displayed.
        """
        return self.verbose == 1 and self.dynamic and _now() - self._last_update >= self.interval

    def close(self) -> None:
        """Ends an unfinished live line, so that later output starts on a new line."""
        if self._live:
            self._write("\n")
            self._set_live(False)
            self._prev_width = 0

    def _erase(self) -> None:
        """Blanks the live line and forces a redraw at the next update."""
        if self._live:
            self._write("\r" + " " * self._prev_width + "\r")
            self._set_live(False)
            self._prev_width = 0
            self._last_update = -math.inf

    def _set_live(self, live: bool) -> None:
        global _live_bar
        self._live = live
        if live:
            _live_bar = self
        elif _live_bar is self:
            _live_bar = None

    # ------------------------------------------------------------------ internals

    def _average_in(self, current: int, values) -> None:
        items = values.items() if isinstance(values, dict) else values
        steps = max(current - self._seen_so_far, 1)
        for name, value in items:
            if name in self.stateful_metrics:
                self._values[name] = value
                continue
            entry = self._values.get(name)
            if isinstance(entry, list):
                entry[0] = entry[0] + value * steps
                entry[1] += steps
            else:
                self._values[name] = [value * steps, steps]

    def _metrics_text(self) -> str:
        if self._pending is not None:
            pending = self._pending.items() if isinstance(self._pending, dict) else self._pending
            self._values.update(pending)
            self._pending = None
        parts = []
        for name, value in self._values.items():
            if isinstance(value, list):
                total, count = value
                value = np.mean(total) / max(count, 1)
            parts.append(f" - {name}: {_format_value(value)}")
        return "".join(parts)

    def _time_per_step(self, current: int, now: float) -> float:
        ref_step, ref_time = self._reference if self._reference is not None else (0, self._start)
        if current > ref_step and ref_step >= 1:
            return (now - ref_time) / (current - ref_step)
        return (now - self._start) / current if current else 0.0

    def _draw(self, current: int, final: bool, now: Optional[float] = None) -> None:
        now = _now() if now is None else now
        per_step = self._time_per_step(current, now)
        target = self.target
        if final and target is None:
            target = self.target = current
        metrics = self._metrics_text()
        if final and (self.verbose == 2 or not self.dynamic):
            count = f"{current}/{target}" if target else f"{current}"
            self._write(
                f"{self.prefix}{count} - {now - self._start:.0f}s - {_format_per_unit(per_step, self.unit_name)}{metrics}\n"
            )
            self._finalized = True
            return
        if target:
            digits = int(math.log10(target)) + 1
            done = min(int(self.width * current / target), self.width)
            bar = "=" * max(done - 1, 0) + (("=" if current >= target else ">") if done else "")
            line = f"{self.prefix}{current:>{digits}}/{target} [{bar}{'.' * (self.width - done)}]"
        else:
            line = f"{self.prefix}{current:>7}/Unknown"
        if final or not target:
            line += f" - {now - self._start:.0f}s {_format_per_unit(per_step, self.unit_name)}"
        else:
            line += f" - ETA: {_format_eta(per_step * (target - current))}"
        line += metrics
        if not final:
            # A line longer than the terminal wraps, and \r would then only go back
            # to the start of its last row: clip the live line to the terminal width.
            columns = self._columns()
            if columns and len(line) >= columns:
                cut = line.rfind(" - ", 0, columns + 2)  # a cut at index <= columns - 1
                line = line[:cut] if cut > 0 else line[: columns - 1]
        padding = " " * max(self._prev_width - len(line), 0)
        self._prev_width = len(line)
        if final:
            self._write(f"\r{line}{padding}\n")
            self._set_live(False)
            self._prev_width = 0
            self._finalized = True
        else:
            self._write(f"\r{line}{padding}")
            self._set_live(True)

    def _columns(self) -> int:
        out = self._out()
        try:
            if out.isatty():
                return shutil.get_terminal_size().columns
        except (AttributeError, ValueError, OSError):
            pass
        return 0

    def _write(self, text: str) -> None:
        out = self._out()
        out.write(text)
        # Block-buffered files (redirected output) must still show each line at once.
        out.flush()
