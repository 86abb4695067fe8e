"""The project's own exception types.

Every error raised on bad input derives from :class:`AdvlibError`, so that a caller can
catch everything this library refuses with one ``except`` clause, while the messages name
the parameter, the value that was given and what was expected.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AdvlibError", "InputError", "ModelError", "WeightsNotFoundError", "StimulusError",
           "DesignShortfallError", "expect", "check_positive_int", "check_nonnegative_seed", "check_choice",
           "check_probability"]


class AdvlibError(Exception):
    """Base class of every error raised by advlib on bad input or missing resources."""


class InputError(AdvlibError, ValueError):
    """An argument has the wrong type, shape, range or value."""


class ModelError(AdvlibError, KeyError):
    """Unknown model name or unknown readout layer."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class WeightsNotFoundError(AdvlibError, FileNotFoundError):
    """Pretrained weights are neither on disk nor downloadable."""


class StimulusError(AdvlibError, ValueError):
    """An image file or folder cannot be used as a stimulus."""


class DesignShortfallError(StimulusError):
    """The images that pass the selection criteria fall short of the design asked for."""


def expect(condition: bool, parameter: str, value, expected: str, exc: type = InputError) -> None:
    """Raise ``exc`` naming ``parameter``, ``value`` and ``expected`` unless ``condition``.

    Parameters
    ----------
    condition : bool
        Whether the value is acceptable.
    parameter : str
        Name of the parameter as the caller spells it.
    value : object
        The offending value (its ``repr`` is shortened to 80 characters, keeping its start
        and its end: a long path keeps its file name).
    expected : str
        What would have been accepted, in words.
    exc : type
        Exception class to raise (a subclass of :class:`AdvlibError`).
    """
    if not condition:
        text = repr(value)
        if len(text) > 80:
            text = text[:37] + "..." + text[-40:]
        raise exc(f"{parameter}={text}: expected {expected}")


def check_nonnegative_seed(value, parameter: str = "seed") -> int:
    """A seed: an integer ``>= 0`` (numpy refuses negative seeds with a bare ValueError)."""
    return check_positive_int(value, parameter, minimum=0)


def check_positive_int(value, parameter: str, minimum: int = 1, exc: type = InputError) -> int:
    """``value`` as an ``int`` if it is an integer (Python or numpy, not bool) ``>= minimum``.

    Parameters
    ----------
    value : object
    parameter : str
        Name of the parameter as the caller spells it.
    minimum : int
        Smallest accepted value (1: a positive integer; 0: a count that may be zero).
    exc : type

    Returns
    -------
    int

    Raises
    ------
    InputError (or ``exc``)
        Not an integer, a bool, or below ``minimum``.
    """
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    expect(ok and value >= minimum, parameter, value, what, exc)
    return int(value)


def check_choice(value, parameter: str, choices, exc: type = InputError):
    """``value`` if it is one of ``choices``, else ``exc`` listing them.

    Parameters
    ----------
    value : object
    parameter : str
    choices : iterable
    exc : type

    Returns
    -------
    object
        ``value``.
    """
    choices = list(choices)
    expect(value in choices, parameter, value, f"one of {', '.join(map(str, choices))}", exc)
    return value


def check_probability(value, parameter: str, low_open: bool = False, high_open: bool = False,
                      what: str = "a probability", exc: type = InputError) -> float:
    """``value`` as a float if it is a finite number in [0, 1] (ends open as asked).

    Parameters
    ----------
    value : object
    parameter : str
    low_open, high_open : bool
        Exclude 0, exclude 1.
    what : str
        The quantity in words (``"a probability"``, ``"a coverage"``, ...).
    exc : type

    Returns
    -------
    float
    """
    interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)) and np.isfinite(value)
    ok = ok and (value > 0 if low_open else value >= 0) and (value < 1 if high_open else value <= 1)
    expect(bool(ok), parameter, value, f"{what} in {interval}", exc)
    return float(value)


def memory_budget() -> int:
    """Bytes one step may hold: half of this machine's physical memory (``$ADVLIB_MEMORY``
    in bytes overrides it, e.g. to stay within a cluster job's share)."""
    import os

    if os.environ.get("ADVLIB_MEMORY"):
        return int(float(os.environ["ADVLIB_MEMORY"]))
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):      # not POSIX: no guard
        return 1 << 62


def check_fits(parameter: str, value, n_bytes: float, what: str) -> None:
    """Refuse, before allocating, a request whose arrays would not fit in memory.

    Parameters
    ----------
    parameter, value
        The size the user chose (``n_perm``, 1000000000).
    n_bytes : float
        Estimated peak bytes of the arrays the request needs.
    what : str
        What they hold, for the message (``"1000000000 permutations of 17 images"``).

    Raises
    ------
    InputError
        Naming the parameter, its value, the estimate and the budget.
    """
    budget = memory_budget()
    expect(n_bytes <= budget, parameter, value,
           f"a size that fits in memory: {what} need about {n_bytes / 2**30:,.1f} GiB, and a "
           f"step may use {budget / 2**30:,.1f} GiB (half of this machine's memory; "
           "$ADVLIB_MEMORY sets another limit)")
