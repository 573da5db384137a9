"""The one torch training loop: a small MLP with hooks, for the MLP proxy, dynamics and evaluation.

The loop trains a one-hidden-layer MLP (or a linear softmax model with ``hidden=0``) with Adam on
shuffled minibatches, for a fixed number of epochs or a fixed number of optimizer steps (the
exact MLP evaluator's compute-matched budget). Hooks observe it without changing it:
``after_batch`` sees the logits of each minibatch's forward pass (before the update) and
``after_epoch`` sees the logits of *every* training row evaluated at the end of the epoch, as data
maps do. Everything random draws from a ``torch.Generator`` seeded per call; global torch state is
never touched. Runs on CUDA when available, CPU otherwise.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from core.foundation.linear import standardiser
from core.foundation.neighbors import resolve_device
from core.foundation.progress import CancelToken, ProgressFn, check_cancelled, report
from core.foundation.seeds import torch_generator
from core.foundation.threads import single_threaded


@dataclass
class TrainState:
    """What a hook sees.

    Attributes
    ----------
    epoch : int
        Zero-based index of the current epoch.
    n_epochs : int
    batch_rows : ndarray of shape (batch_size,) or None
        Row positions in the minibatch (``after_batch`` only).
    batch_logits : ndarray of shape (batch_size, n_classes) or None
        Logits of the minibatch's forward pass, before the update (``after_batch`` only).
    logits : ndarray of shape (n_samples, n_classes) or None
        Logits of every training row at the end of the epoch (``after_epoch`` only).
    model : torch.nn.Module
    """

    epoch: int
    n_epochs: int
    model: Any
    batch_rows: Optional[np.ndarray] = None
    batch_logits: Optional[np.ndarray] = None
    logits: Optional[np.ndarray] = None


class TrainingHook:
    """Base class of hooks; override what you record. Hooks must not modify the model."""

    wants_batches = False

    def after_batch(self, state: TrainState) -> None:
        pass

    def after_epoch(self, state: TrainState) -> None:
        pass


def build_mlp(n_features: int, n_classes: int, hidden: int, generator, mean, scale):
    """A standardising MLP (``hidden=0``: linear softmax model) initialised from ``generator``."""
    import torch
    from torch import nn
    from torch.nn.utils import skip_init

    class ProxyMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
            # skip_init: the default initialisation would draw from torch's global generator.
            self.body = (nn.Sequential(skip_init(nn.Linear, n_features, hidden), nn.ReLU())
                         if hidden else nn.Identity())
            self.head = skip_init(nn.Linear, hidden or n_features, n_classes)

        def features(self, x):
            """Penultimate activations: the input of the last (softmax) layer."""
            return self.body((x - self.mean) / self.scale)

        def forward(self, x):
            return self.head(self.features(x))

    model = ProxyMLP()
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                # PyTorch's default init, drawn from our generator instead of the global one.
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return model


def train_proxy(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    *,
    hidden: int = 128,
    epochs: int = 10,
    steps: Optional[int] = None,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    device: Optional[str] = None,
    hooks: Sequence[TrainingHook] = (),
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
):
    """Train the proxy model and call the hooks; returns the trained model (in eval mode).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int codes ``0 .. n_classes - 1``
    hidden : int
        Width of the hidden layer; 0 trains a linear softmax model.
    epochs : int
        Passes over the shuffled rows (ignored when ``steps`` is given).
    steps : int, optional
        Train for exactly this many optimizer steps instead: a budget that does not grow with
        the number of rows, so subsets of different sizes get the same compute. The last pass
        stops part-way; ``after_epoch`` hooks see it as an epoch.
    seed : int
        Seeds initialisation and minibatch order through a local ``torch.Generator``.
    hooks : sequence of TrainingHook
        Called after every minibatch (hooks with ``wants_batches``) and after every epoch.
    """
    device = resolve_device(device)
    n_batches = max(1, math.ceil(len(X) / batch_size))
    total_steps = int(steps) if steps is not None else int(epochs) * n_batches
    # The proxy's matrices are tiny: on the 2-core reference machine an epoch at 50k rows ran
    # 5-10 times faster on one torch thread. Restored when training ends.
    limit = single_threaded("torch") if device == "cpu" else contextlib.nullcontext()
    with limit:
        return _train(X, y, n_classes, hidden=hidden, total_steps=total_steps, batch_size=batch_size,
                      learning_rate=learning_rate, weight_decay=weight_decay, seed=seed, device=device,
                      hooks=hooks, progress=progress, cancel=cancel)


def _train(X, y, n_classes, *, hidden, total_steps, batch_size, learning_rate, weight_decay, seed, device,
           hooks, progress, cancel):
    import torch

    generator = torch_generator(seed)
    X = np.asarray(X, dtype=np.float32)
    mean, scale = standardiser(X)
    model = build_mlp(X.shape[1], n_classes, hidden, generator, mean, scale).to(device)
    inputs = torch.from_numpy(X).to(device)
    targets = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    n_samples = len(X)
    epochs = math.ceil(total_steps / max(1, math.ceil(n_samples / batch_size)))
    batch_hooks = [hook for hook in hooks if hook.wants_batches]
    step = 0
    for epoch in range(epochs):
        check_cancelled(cancel)
        model.train()
        order = torch.randperm(n_samples, generator=generator).to(device)
        for start in range(0, n_samples, batch_size):
            if step == total_steps:
                break
            rows = order[start : start + batch_size]
            logits = model(inputs[rows])
            loss = torch.nn.functional.cross_entropy(logits, targets[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if batch_hooks:
                state = TrainState(epoch, epochs, model, rows.cpu().numpy(), logits.detach().cpu().numpy())
                for hook in batch_hooks:
                    hook.after_batch(state)
        if hooks:
            state = TrainState(epoch, epochs, model, logits=predict_logits(model, X, device=device))
            for hook in hooks:
                hook.after_epoch(state)
        report(progress, epoch + 1, epochs, f"proxy training, epoch {epoch + 1}/{epochs}")
    model.eval()
    return model


def predict_logits(model, X: np.ndarray, *, device: Optional[str] = None, chunk_size: int = 16384,
                   with_features: bool = False):
    """Logits (and optionally the norms of the penultimate activations) for every row of ``X``.

    Returns
    -------
    logits : ndarray of shape (n_samples, n_classes), float32
    feature_norms : ndarray of shape (n_samples,), only when ``with_features``
        Euclidean norm of the last layer's input per row.
    """
    import torch

    device = resolve_device(device)
    was_training = model.training
    model.eval()
    logits, norms = [], []
    with torch.no_grad():
        for start in range(0, len(X), chunk_size):
            batch = torch.from_numpy(np.ascontiguousarray(X[start : start + chunk_size], dtype=np.float32))
            hidden = model.features(batch.to(device))
            logits.append(model.head(hidden).cpu().numpy())
            if with_features:
                norms.append(torch.linalg.vector_norm(hidden, dim=1).cpu().numpy())
    model.train(was_training)
    logits = np.concatenate(logits) if logits else np.zeros((0, model.head.out_features), np.float32)
    if with_features:
        return logits, np.concatenate(norms).astype(np.float64)
    return logits
