"""Training and evaluation of a pose-lifting model (what ``train.py`` runs).

Read top to bottom: :func:`run` decides once what varies (device, AMP, DDP) and which dataset the config
names (:mod:`lib.engine.datasets`: each dataset loads its training and test data, evaluates and writes its
results behind one interface, so nothing here asks which dataset it holds), builds the model, then either
evaluates a checkpoint or trains (:func:`train`), one epoch at a time (:func:`train_one_epoch`), evaluating
after each epoch. :func:`resume_training` continues a run from its checkpoint.

Checkpoints keep the released layout ``{'epoch', 'lr', 'optimizer', 'model_pos', 'min_loss'}`` with
``model_pos`` names prefixed ``module.`` (as the released files, saved from ``nn.DataParallel``), so they
load in MotionBERT/SCT code unchanged, plus ``model_args`` (the model's config) and ``recipe`` (seed,
config, overrides). ``epoch`` is the number of epochs done (the next one to run) and ``lr`` the learning
rate for it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from ..data.datareader_h36m import DataFormatError
from ..perf.flops import count_parameters
from ..perf.inference import prepare_for_inference
from ..utils.checkpoint import (
    CheckpointError,
    check_finite_weights,
    compare_state_dicts,
    extract_state_dict,
    load_checkpoint_file,
    load_model_weights,
    save_checkpoint,
)
from ..utils.config import ConfigError, load_config
from ..utils.losses import (
    loss_angle,
    loss_angle_velocity,
    loss_limb_gt,
    loss_limb_var,
    loss_mpjpe,
    loss_n_mpjpe,
    loss_velocity,
)
from .datasets import dataset_for, model_skeleton_for
from .distributed import (
    DistEnv,
    all_reduce_mean,
    barrier,
    broadcast_object,
    cleanup_distributed,
    setup_distributed,
)
from .errors import InputError
from .evaluate import EvalResult, results_path_for, save_results_json

LOSS_TERMS = ("3d_pos", "3d_scale", "3d_velocity", "lv", "lg", "angle", "angle_velocity")
AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainOptions:
    """The command-line options of ``train.py`` (see its ``--help``)."""

    config: str
    checkpoint: str = "checkpoint"
    pretrained: str | None = None
    selection: str = "latest_epoch.bin"
    resume: str = ""
    evaluate: str = ""
    seed: int = 0
    device: str = "auto"
    amp: str = "none"
    workers: int | None = None
    overrides: Sequence[str] = field(default_factory=list)
    progress: bool = True


@dataclass
class RunSummary:
    """What a run did: the final evaluation (if any) and the per-epoch history."""

    result: EvalResult | None = None
    epochs_done: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def compute_losses(pred: torch.Tensor, gt: torch.Tensor, cfg: Any) -> dict[str, torch.Tensor]:
    """Every loss term of MotionBERT's 3D objective and their weighted sum ``'total'``.

    ``pred, gt``: ``(B, T, J, 3)``. total = MPJPE + λ_scale·N-MPJPE + λ_vel·velocity + λ_lv·limb variance
    + λ_lg·limb length + λ_a·angle + λ_av·angle velocity (of the positions, as MotionBERT computes it).
    """
    weights = {"3d_pos": 1.0, "3d_scale": cfg.lambda_scale, "3d_velocity": cfg.lambda_3d_velocity,
               "lv": cfg.lambda_lv, "lg": cfg.lambda_lg, "angle": cfg.lambda_a, "angle_velocity": cfg.lambda_av}
    functions = {
        "3d_pos": lambda: loss_mpjpe(pred, gt),
        "3d_scale": lambda: loss_n_mpjpe(pred, gt),
        "3d_velocity": lambda: loss_velocity(pred, gt),
        "lv": lambda: loss_limb_var(pred),
        "lg": lambda: loss_limb_gt(pred, gt),
        "angle": lambda: loss_angle(pred, gt),
        "angle_velocity": lambda: loss_angle_velocity(pred, gt),
    }
    terms: dict[str, torch.Tensor] = {}
    total = pred.new_zeros(())
    for key in LOSS_TERMS:
        if weights[key] == 0:
            with torch.no_grad():  # logged only: no backward through it
                terms[key] = functions[key]()
        else:
            terms[key] = functions[key]()
            total = total + weights[key] * terms[key]
    terms["total"] = total
    return terms


def prepare_target(gt: torch.Tensor, rootrel: bool, root: int = 0) -> torch.Tensor:
    """Training target: joints relative to joint ``root`` when ``rootrel``; otherwise the depth is made
    relative to the first frame's root depth (MotionBERT). ``(B, T, J, 3) -> (B, T, J, 3)``."""
    if rootrel:
        return gt - gt[:, :, root:root + 1, :]
    gt = gt.clone()
    gt[..., 2] = gt[..., 2] - gt[:, 0:1, root:root + 1, 2]
    return gt


# ----------------------------------------------------------------------------------------------- data


def default_workers(env: DistEnv) -> int:
    cpus = os.cpu_count() or 1
    per_process = cpus // max(env.world_size, 1)
    return 0 if per_process <= 2 else min(4, per_process - 1)


# --------------------------------------------------------------------------------------------- weights


def make_grad_scaler(device_type: str, enabled: bool) -> Any:
    """A loss scaler for float16 mixed precision (``enabled=False``: a no-op pass-through)."""
    return torch.amp.GradScaler(device_type, enabled=enabled)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def checkpoint_state(model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, lr: float,
                     min_loss: float, cfg: Any, recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    """The released layout (``model_pos`` names carry the ``module.`` prefix of the released files) plus
    ``model_args``: the config keys that rebuild the model (:func:`lib.model.model_args`) and the joint order
    it was trained in (``trained_on``), so that ``sct.Lifter.from_checkpoint`` needs no YAML. ``recipe``
    (optional): how the run was started (``seed``, ``config``, ``overrides``), so that a run resumed from a
    fresh checkout can be checked against it."""
    from ..model import model_args

    state = {f"module.{k}": v.detach().cpu() for k, v in _unwrap(model).state_dict().items()}
    out = {"epoch": epoch, "lr": lr, "optimizer": optimizer.state_dict(), "model_pos": state,
           "min_loss": min_loss, "model_args": {**model_args(cfg), "trained_on": model_skeleton_for(cfg).name}}
    if recipe is not None:
        out["recipe"] = recipe
    return out


def run_recipe(opts: TrainOptions) -> dict[str, Any]:
    """What a checkpoint records of the command that trains it: the seed (of the sampler and the
    augmentation draws), the config file and the overrides (which name the data)."""
    return {"seed": int(opts.seed), "config": str(opts.config), "overrides": [str(o) for o in opts.overrides]}


NO_BEST = 100000.0  # min_loss before any evaluation


def resume_training(path: str, model: nn.Module, optimizer: torch.optim.Optimizer, seed: int, ckpt_dir: str,
                    lr: float, log: Any) -> tuple[int, float, float]:
    """Load the weights, optimizer state, epoch, learning rate and best P1 of checkpoint ``path`` into the
    run; returns ``(start_epoch, lr, min_loss)``. A checkpoint trained with another ``--seed`` is refused; in
    a folder without ``best_epoch.bin`` (a work folder that keeps only ``latest_epoch.bin``) the best epoch is
    chosen again among the epochs still to run."""
    ckpt = load_checkpoint_file(path)
    load_model_weights(model, ckpt, strict=True, where=path)
    if ckpt.get("optimizer") is not None:
        try:
            optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"optimizer state of {path} does not fit the model: {exc}") from exc
    else:
        log(f"WARNING: {path} has no optimizer state; the optimizer starts afresh")
    start_epoch = int(ckpt.get("epoch", 0))
    lr = float(ckpt.get("lr", lr))
    for group in optimizer.param_groups:
        group["lr"] = lr
    saved_seed = (ckpt.get("recipe") or {}).get("seed")
    if saved_seed is not None and int(saved_seed) != seed:
        raise CheckpointError(f"{path} was trained with --seed {saved_seed}, this run has --seed {seed}: resume "
                              f"with --seed {saved_seed} (or train into another folder)")
    min_loss = float(ckpt["min_loss"]) if ckpt.get("min_loss") is not None else NO_BEST
    if min_loss < NO_BEST and not os.path.isfile(os.path.join(ckpt_dir, "best_epoch.bin")):
        log(f"WARNING: no best_epoch.bin in {ckpt_dir} (best P1 so far {min_loss:g}): the best epoch is "
            f"chosen among the epochs from {start_epoch + 1} on")
        min_loss = NO_BEST
    log(f"INFO: resuming {path} at epoch {start_epoch + 1} (lr {lr:g}, best P1 {min_loss:g})")
    return start_epoch, lr, min_loss


def load_pretrained(model: nn.Module, path: str, log: Any) -> None:
    """Fine-tuning start: load the names whose shapes fit, warn about the others (listing them)."""
    obj = load_checkpoint_file(path)
    state = extract_state_dict(obj, path)
    check_finite_weights(state, path)  # here, so that the message names the file
    missing, unexpected, mismatched = compare_state_dicts(_unwrap(model).state_dict(), state)
    skipped = load_model_weights(model, obj, strict=False)
    log(f"INFO: loaded pretrained weights from {path}")
    if mismatched or unexpected:
        log(f"WARNING: {len(skipped)} names of {path} skipped (other shapes or unknown to the model): "
            + ", ".join(mismatched + unexpected))
    if missing:
        log(f"WARNING: {len(missing)} model names not in {path}, left at their initial values: "
            + ", ".join(missing))


# ---------------------------------------------------------------------------------------------- epochs


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, cfg: Any,
                    env: DistEnv, *, epoch: int, amp_dtype: torch.dtype | None,
                    scaler: Any, root: int = 0, progress: bool = True) -> dict[str, float]:
    """One pass over ``loader``; returns the sample-weighted mean of every loss term (all ranks). ``root``:
    the joint that root-relative targets are measured from.

    A non-finite loss on any rank stops every rank before the optimiser step (:class:`InputError`).
    """
    model.train()
    sums = dict.fromkeys((*LOSS_TERMS, "total"), 0.0)
    count = 0
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (progress and env.is_main),
               dynamic_ncols=True)
    for step, (batch_input, batch_gt) in enumerate(bar):
        batch_input = batch_input.to(env.device, non_blocking=True)
        batch_gt = batch_gt.to(env.device, non_blocking=True)
        target = prepare_target(batch_gt, cfg.rootrel, root=root)
        with torch.autocast(env.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            pred = model(batch_input)
        terms = compute_losses(pred.float(), target, cfg)
        logged = all_reduce_mean(torch.stack([terms[k].detach() for k in (*LOSS_TERMS, "total")]), env)
        if not torch.isfinite(logged[-1]):
            raise InputError(f"loss is {logged[-1].item()} at epoch {epoch + 1}, step {step + 1}: training "
                             "stopped, the last good checkpoint is kept (lower learning_rate or try --amp none)")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(terms["total"]).backward()
        scaler.step(optimizer)
        scaler.update()
        n = batch_input.shape[0]
        count += n
        for key, value in zip((*LOSS_TERMS, "total"), logged.tolist(), strict=True):
            sums[key] += value * n
        bar.set_postfix(loss=f"{sums['total'] / count:.4f}")
    return {k: v / max(count, 1) for k, v in sums.items()}


# ------------------------------------------------------------------------------------------------- run


def run(opts: TrainOptions, log: Any = print) -> RunSummary:
    """Train or evaluate as ``opts`` says. Raises ConfigError / CheckpointError / InputError on bad input."""
    if opts.amp not in AMP_DTYPES:
        raise InputError(f"--amp must be one of {', '.join(AMP_DTYPES)}, got '{opts.amp}'")
    cfg = load_config(opts.config, opts.overrides)
    if cfg.clip_len > cfg.maxlen:  # a training/evaluation need: inference-only configs may leave clip_len out
        raise ConfigError(f"{opts.config}: key 'clip_len' is {cfg.clip_len}; allowed: at most maxlen = "
                          f"{cfg.maxlen} (the longest input the model takes)")
    try:
        dataset = dataset_for(cfg, evaluating=bool(opts.evaluate))
    except ValueError as exc:
        raise InputError(f"{opts.config}: {exc}") from exc
    try:
        env = setup_distributed(opts.device)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    if not env.is_main:
        log = _silent
    try:
        if env.distributed and env.device.type == "cpu":
            local = int(os.environ.get("LOCAL_WORLD_SIZE", env.world_size))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
        return _run(opts, cfg, dataset, env, log)
    except DataFormatError as exc:  # a bad clip met while training or evaluating
        raise InputError(_worker_message(exc)) from exc
    finally:
        cleanup_distributed()


def _worker_message(exc: Exception) -> str:
    """The error's own message; a DataLoader worker's error carries the worker's traceback in its message,
    whose last line is ``module.ErrorType: message``."""
    text = str(exc).strip()
    if "\n" in text:
        text = text.splitlines()[-1].split(": ", 1)[-1]
    return text


def _silent(*_args: Any, **_kwargs: Any) -> None:
    return None


def _run(opts: TrainOptions, cfg: Any, dataset: Any, env: DistEnv, log: Any) -> RunSummary:
    from ..model import build_model

    amp_dtype = AMP_DTYPES[opts.amp]
    workers = default_workers(env) if opts.workers is None else opts.workers
    if workers < 0:
        raise InputError(f"--workers must be >= 0, got {workers}")
    if cfg.batch_size % env.world_size:
        raise InputError(f"batch_size {cfg.batch_size} is the global batch and must be divisible by the "
                         f"{env.world_size} processes")
    local_batch = cfg.batch_size // env.world_size
    evaluating = bool(opts.evaluate)
    need_test = evaluating or not cfg.no_eval

    seed_everything(opts.seed)
    try:
        model = build_model(cfg, parents=model_skeleton_for(cfg).parents)
    except ValueError as exc:
        raise InputError(f"{opts.config}: {exc}") from exc
    log(f"INFO: {cfg.backbone} with {count_parameters(model):,} parameters on {env.device}"
        + (f", {env.world_size} processes" if env.distributed else ""))

    if evaluating:
        load_model_weights(model, opts.evaluate, strict=True)  # before touching the data: fail fast
        test_set = dataset.load_test(cfg)
        model = prepare_for_inference(model, env.device)  # the fastest exact path on this device
        log(f"INFO: evaluating {opts.evaluate} on {len(test_set)} test clips")
        result = dataset.evaluate(model, test_set, cfg, env, batch_size=local_batch, workers=workers,
                                  amp_dtype=amp_dtype, progress=opts.progress)
        if env.is_main:
            dataset.write_results(result, opts.evaluate, opts.checkpoint, opts.config, log)
        return RunSummary(result=result)

    train_set = dataset.load_train(cfg)
    test_set = dataset.load_test(cfg) if need_test else None
    return train(model, cfg, opts, env, dataset, train_set, test_set, local_batch=local_batch, workers=workers,
                 amp_dtype=amp_dtype, log=log)


def train(model: nn.Module, cfg: Any, opts: TrainOptions, env: DistEnv, dataset: Any, train_set: Dataset,
          test_set: Any | None, *, local_batch: int, workers: int, amp_dtype: torch.dtype | None,
          log: Any = print) -> RunSummary:
    """The epoch loop: resume or fine-tune start, train, evaluate, decay lr, save checkpoints."""
    ckpt_dir = opts.checkpoint
    latest_path = os.path.join(ckpt_dir, "latest_epoch.bin")
    model.to(env.device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    lr = float(cfg.learning_rate)
    start_epoch = 0
    min_loss = NO_BEST

    resume = opts.resume or (latest_path if os.path.isfile(latest_path) else "")
    if resume:
        start_epoch, lr, min_loss = resume_training(resume, model, optimizer, opts.seed, ckpt_dir, lr, log)
    elif cfg.finetune or opts.pretrained:
        source = opts.pretrained or "checkpoint"
        path = source if os.path.isfile(source) else os.path.join(source, opts.selection)
        load_pretrained(model, path, log)

    if env.distributed:
        model = DistributedDataParallel(model, device_ids=[env.device] if env.device.type == "cuda" else None)

    sampler = DistributedSampler(train_set, num_replicas=env.world_size, rank=env.rank, shuffle=True,
                                 seed=opts.seed)
    loader = DataLoader(train_set, batch_size=local_batch, sampler=sampler, num_workers=workers,
                        pin_memory=env.device.type == "cuda", persistent_workers=workers > 0, drop_last=False)
    scaler = make_grad_scaler(env.device.type, enabled=amp_dtype == torch.float16)
    torch.manual_seed(opts.seed + env.rank)  # augmentation draws (flip, noise, masks) differ between ranks
    writer = None
    if env.is_main:
        os.makedirs(ckpt_dir, exist_ok=True)
        import tensorboardX

        writer = tensorboardX.SummaryWriter(os.path.join(ckpt_dir, "logs"))
    if start_epoch >= cfg.epochs:
        log(f"INFO: all {cfg.epochs} epochs are done already in {ckpt_dir}; raise epochs to train more")
    else:
        log(f"INFO: training on {len(train_set)} clips ({len(loader)} steps of {local_batch} per process), "
            f"epochs {start_epoch + 1}..{cfg.epochs}")

    summary = RunSummary(epochs_done=start_epoch)
    root = model_skeleton_for(cfg).root
    recipe = run_recipe(opts)
    try:
        for epoch in range(start_epoch, cfg.epochs):
            sampler.set_epoch(epoch)
            t0 = time.time()
            losses = train_one_epoch(model, loader, optimizer, cfg, env, epoch=epoch, amp_dtype=amp_dtype,
                                     scaler=scaler, root=root, progress=opts.progress)
            elapsed = (time.time() - t0) / 60
            result = None
            if not cfg.no_eval:
                result = dataset.evaluate(_unwrap(model), test_set, cfg, env, batch_size=local_batch,
                                          workers=workers, amp_dtype=amp_dtype, progress=opts.progress)
            epoch_lr = lr
            lr *= cfg.lr_decay
            for group in optimizer.param_groups:
                group["lr"] *= cfg.lr_decay
            record = {"epoch": epoch + 1, "lr": epoch_lr, **{f"loss_{k}": v for k, v in losses.items()}}
            if env.is_main:
                line = f"[{epoch + 1}] time {elapsed:.2f} lr {epoch_lr:f} 3d_train {losses['3d_pos']:f}"
                if result is not None:
                    line += f" e1 {result.p1:f} e2 {result.p2:f}"
                    record.update(p1=result.p1, p2=result.p2, mpjve=result.mpjve)
                log(line)
                _log_scalars(writer, losses, epoch_lr, result, epoch + 1)
                if result is not None and result.p1 < min_loss:
                    min_loss = result.p1
                    best = os.path.join(ckpt_dir, "best_epoch.bin")
                    save_checkpoint(best, checkpoint_state(model, optimizer, epoch + 1, lr, min_loss, cfg, recipe))
                    save_results_json(results_path_for(best), result, {"epoch": epoch + 1})
                if (epoch + 1) % cfg.checkpoint_frequency == 0:
                    save_checkpoint(os.path.join(ckpt_dir, f"epoch_{epoch}.bin"),
                                    checkpoint_state(model, optimizer, epoch + 1, lr, min_loss, cfg, recipe))
                save_checkpoint(latest_path, checkpoint_state(model, optimizer, epoch + 1, lr, min_loss, cfg, recipe))
                if result is not None:
                    save_results_json(results_path_for(latest_path), result, {"epoch": epoch + 1})
            min_loss = broadcast_object(min_loss, env)
            summary.history.append(record)
            summary.epochs_done = epoch + 1
            summary.result = result
            barrier(env)
    finally:
        if writer is not None:
            writer.close()
    return summary


def _log_scalars(writer: Any, losses: dict[str, float], lr: float, result: EvalResult | None, step: int) -> None:
    if writer is None:
        return
    for key, value in losses.items():
        writer.add_scalar(f"loss_{key}", value, step)
    writer.add_scalar("lr", lr, step)
    if result is not None:
        writer.add_scalar("Error P1", result.p1, step)
        writer.add_scalar("Error P2", result.p2, step)
        writer.add_scalar("Error MPJVE", result.mpjve, step)
    writer.flush()

