"""The project's own exception types.

Every error raised on bad input derives from :class:`AdvlibError`, so that a caller can
catch everything this library refuses with one ``except`` clause, while the messages name
the parameter, the value that was given and what was expected.
"""

from __future__ import annotations

__all__ = ["AdvlibError", "InputError", "ModelError", "WeightsNotFoundError", "StimulusError"]


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


def expect(condition: bool, parameter: str, value, expected: str, exc: type = InputError) -> None:
    """Raise ``exc`` naming ``parameter``, ``value`` and ``expected`` unless ``condition``.

    Parameters
    ----------
    condition : bool
        Whether the value is acceptable.
    parameter : str
        Name of the parameter as the caller spells it.
    value : object
        The offending value (its ``repr`` is shortened to 80 characters).
    expected : str
        What would have been accepted, in words.
    exc : type
        Exception class to raise (a subclass of :class:`AdvlibError`).
    """
    if not condition:
        text = repr(value)
        if len(text) > 80:
            text = text[:77] + "..."
        raise exc(f"{parameter}={text}: expected {expected}")
