"""The contract between the generic trainer and one kind of model.

A :class:`Task` knows how to build its model from a preset, where its data
comes from, how to batch it, how to take one optimisation step and how to
measure itself.  :mod:`training.trainer` owns everything that is the same for
every model: seeds, devices, DDP, AMP, warm-up/decay, clipping, early stopping,
checkpoints and resume, logs.  A colleague adding a model writes one Task
subclass and registers it in :data:`training.tasks.TASKS`.

Models follow the ``forward(batch) -> (outputs, losses)`` convention, so the
default :meth:`Task.train_step` and :meth:`Task.evaluate` work unchanged for
any model whose losses are a dict of scalar tensors.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Task:
    """Base class: override what differs, keep the defaults for the rest."""

    #: registry name, also the ``--model`` value of ``python -m training train``
    name: str = "base"
    #: False for models fitted without gradients (the Markov baseline): the
    #: trainer then calls :meth:`fit_directly` instead of the optimisation loop.
    uses_gradients: bool = True
    #: default gradient-clipping norm (the trainer's ``--clip`` overrides it)
    grad_clip: float = 1.0

    # --- model ------------------------------------------------------------
    def build_model(self, preset: str) -> tuple[str, dict[str, Any], nn.Module]:
        """(architecture name for musestudio.ml.registry, config dict, fresh model)."""
        raise NotImplementedError

    def init_from(self, model: nn.Module, weights: dict[str, torch.Tensor]) -> str:
        """Warm start ``model`` from another checkpoint's tensors (``--init-from``); returns a summary.

        Tensors of the same name and shape are copied.  Where the new model is
        larger along some axes (more input channels, a wider layer) the old
        tensor is copied into the leading slice and the rest is zeroed, so a
        grown linear map starts as the old one.  Tensors only the new model has
        keep their fresh initialisation.
        """
        state = model.state_dict()
        copied, grown, fresh = 0, 0, []
        with torch.no_grad():
            for name, target in state.items():
                old = weights.get(name)
                if old is None:
                    fresh.append(name)
                    continue
                if old.shape == target.shape:
                    target.copy_(old)
                    copied += 1
                elif old.dim() == target.dim() and all(a <= b for a, b in zip(old.shape, target.shape, strict=True)):
                    target.zero_()
                    target[tuple(slice(0, n) for n in old.shape)] = old
                    grown += 1
                else:
                    raise SystemExit(f"--init-from: {name} has shape {tuple(old.shape)}, the model needs {tuple(target.shape)}")
        if weights and copied + grown == 0:  # e.g. an output ensemble (members.0.*): training from scratch by mistake
            raise SystemExit("--init-from: none of its tensors fit this model (an ensemble, or another architecture?)")
        return f"{copied} tensors copied, {grown} grown, {len(fresh)} new"

    #: preset defaults for command-line options left unset (seq_len, batch_size, lr, ...)
    preset_defaults: ClassVar[dict[str, dict[str, Any]]] = {}

    def apply_preset_defaults(self, args: argparse.Namespace) -> None:
        """Fill options the user did not give from :attr:`preset_defaults`."""
        for key, value in self.preset_defaults.get(getattr(args, "preset", "desktop"), {}).items():
            if getattr(args, key, None) is None:
                setattr(args, key, value)
        if getattr(args, "data", None) is None:
            args.data = ["asap"]

    # --- data -------------------------------------------------------------
    def datasets(self, args: argparse.Namespace) -> tuple[Dataset, Dataset]:
        """(train, validation) datasets; ``args`` is the parsed command line."""
        raise NotImplementedError

    def collate(self, items: list[Any]) -> Any:
        """Turn a list of dataset items into one batch (default: torch's stacking)."""
        from torch.utils.data import default_collate

        return default_collate(items)

    # --- optimisation -----------------------------------------------------
    def make_optimizers(self, model: nn.Module, args: argparse.Namespace) -> dict[str, torch.optim.Optimizer]:
        """Named optimizers; the trainer attaches a warm-up + decay schedule to each."""
        lr = float(getattr(args, "lr", None) or 1e-3)
        return {"main": torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98))}

    def train_step(
        self,
        model: nn.Module,
        batch: Any,
        optimizers: dict[str, torch.optim.Optimizer],
        step: int,
        scaler: torch.amp.GradScaler | None,
    ) -> dict[str, float]:
        """One optimisation step; returns scalars to log (must include ``loss``)."""
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        device_type = _device_type(model)
        with torch.autocast(device_type=device_type, enabled=scaler is not None and scaler.is_enabled()):
            _, losses = model(batch)
            loss = sum(losses.values())
        if scaler is not None and scaler.is_enabled():
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
            opt.step()
        out = {k: float(v.detach()) for k, v in losses.items()}
        out["loss"] = float(loss.detach())
        return out

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: DataLoader) -> dict[str, float]:
        """Mean losses over ``loader``; must return ``val_loss`` (early stopping watches it)."""
        was_training = model.training
        model.eval()
        totals: dict[str, float] = {}
        count = 0
        for batch in loader:
            _, losses = model(batch)
            for k, v in losses.items():
                totals[k] = totals.get(k, 0.0) + float(v)
            count += 1
        model.train(was_training)
        out = {f"val_{k}": v / max(count, 1) for k, v in totals.items()}
        out["val_loss"] = sum(totals.values()) / max(count, 1)
        if "val_nll" in out:
            out["val_perplexity"] = math.exp(min(out["val_nll"], 50.0))
        return out

    def fit_directly(self, args: argparse.Namespace) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, float]]:
        """For ``uses_gradients = False``: (architecture, config, state tensors, val metrics)."""
        raise NotImplementedError

    # --- export -----------------------------------------------------------
    def export_extra(self) -> dict[str, Any]:
        """Extra keys for config.json (e.g. ``{"tokenizer": {...}}`` or ``{"features": {...}}``)."""
        return {}

    def test_metrics(self, folder: str, args: argparse.Namespace) -> dict[str, float]:
        """Held-out numbers on the test split for an exported checkpoint (``training evaluate``)."""
        raise NotImplementedError

    def model_card(self, metrics: dict[str, float], facts: dict[str, Any]) -> str:
        """Markdown card: data and split, parameter count, training time + hardware, held-out numbers."""
        lines = [f"# {self.name} checkpoint", ""]
        lines += ["## Facts", ""] + [f"- {k}: {v}" for k, v in facts.items()]
        lines += ["", "## Measured", ""] + [f"- {k}: {v:.4f}" for k, v in sorted(metrics.items())]
        return "\n".join(lines) + "\n"


def _device_type(model: nn.Module) -> str:
    try:
        return next(model.parameters()).device.type
    except StopIteration:
        return "cpu"
