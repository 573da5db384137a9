"""Seeds: every random stream in the library is derived here from the user's seed.

A user gives one integer ``seed``. Each place that needs randomness names its *stream* (a fold
number, a run number, a word such as ``"decoy"``) and asks for a generator of that stream, so
streams never collide (``seed + fold`` makes seed 0 / fold 1 equal to seed 1 / fold 0) and a
call never touches global random state. This mirrors scikit-learn's ``check_random_state``:
one helper, used everywhere.

The derivation is NumPy's :class:`numpy.random.SeedSequence` with the stream as its
``spawn_key`` (the mechanism NumPy designs for independent child streams), so ``rng(seed)``
equals ``np.random.default_rng(seed)``. The stream is *not* appended to the entropy: NumPy pads
short entropy with zeros, which would make ``[1]`` and ``[1, 0]`` the same stream.
"""

from __future__ import annotations

import zlib
from typing import Union

import numpy as np

from core.foundation.errors import ConfigError

StreamPart = Union[int, np.integer, str]


def _check_seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"A seed must be a whole number, got {seed!r}. Pass e.g. seed=0.")
    if seed < 0:
        raise ConfigError(f"A seed must not be negative, got {seed}. Pass e.g. seed=0.")
    return int(seed)


def _stream_key(stream: tuple) -> tuple[int, ...]:
    key = []
    for part in stream:
        if isinstance(part, str):
            # crc32 is stable across processes and Python versions, unlike hash().
            key.append(zlib.crc32(part.encode("utf-8")))
        else:
            key.append(_check_seed(part))
    return tuple(key)


def seed_sequence(seed: int, *stream: StreamPart) -> np.random.SeedSequence:
    """The :class:`numpy.random.SeedSequence` of one named stream of ``seed``.

    Parameters
    ----------
    seed : int
        The user's seed (non-negative).
    *stream : int or str
        Names the stream, e.g. ``("oof", fold)``; no parts means the seed's main stream.
    """
    return np.random.SeedSequence(_check_seed(seed), spawn_key=_stream_key(stream))


def rng(seed: int, *stream: StreamPart) -> np.random.Generator:
    """A fresh NumPy generator for one stream of ``seed``.

    Returns
    -------
    numpy.random.Generator
        Independent of every other stream; the same arguments always give the same draws.
    """
    return np.random.default_rng(seed_sequence(seed, *stream))


def derive_seed(seed: int, *stream: StreamPart) -> int:
    """An integer seed in ``[0, 2**32)`` for one stream, for APIs that want an int.

    Use it for scikit-learn's ``random_state``, UMAP and torch; it is the first word of the
    stream's :class:`~numpy.random.SeedSequence` state, so it is as independent as :func:`rng`.
    With no stream parts the seed itself is returned (reduced modulo ``2**32``), so a user's
    ``seed=7`` reaches scikit-learn as ``random_state=7``.
    """
    if not stream:
        return _check_seed(seed) % (2**32)
    return int(seed_sequence(seed, *stream).generate_state(1)[0])


def torch_generator(seed: int, *stream: StreamPart, device: str = "cpu"):
    """A ``torch.Generator`` for one stream of ``seed`` (global torch state is never seeded).

    Parameters
    ----------
    device : str
        Device of the generator; CPU generators serve CPU tensors and initialisation.
    """
    import torch  # heavy: only the torch code paths pay for it

    return torch.Generator(device=device).manual_seed(derive_seed(seed, *stream))
