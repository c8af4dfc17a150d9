"""Train the reader: does this sentence answer the question, and where is the answer in it?

    .venv/bin/python training/train_reader.py                 # rebuilds the shipped weights
    .venv/bin/python training/train_reader.py --steps=200     # a short run, to try a change

Settings are the plain values below; any of them can be set from the command line as
--name=value. The run is seeded and resumable: a checkpoint is written to RUN_DIR every
CHECKPOINT_EVERY steps and a run started again continues from it (--fresh=1 starts over).
Progress goes to the terminal and to RUN_DIR/log.txt; the held-out articles are scored every
EVAL_EVERY steps. At the end the trained parameters go to OUT (fp16 safetensors with their
metadata) and the figures to RUN_DIR/summary.json.

Data: pairs made by `training/reader_data.py` from ../shared/train/squad/train-v1.1.json
(never from ../shared/eval). Base: the bundled all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

# --- settings --------------------------------------------------------------------------------
SEED = 13
QUESTIONS = 56_000  # SQuAD train questions used (≈ 3.6 pairs each)
HELD_OUT_ARTICLES = 12  # whole articles kept out of training, scored during it
RANK = 16  # LoRA rank and scale
ALPHA = 32.0
BATCH = 32
LR = 4e-4
HEAD_LR = 1e-3
WARMUP = 300
SPAN_WEIGHT = 1.0  # weight of the span loss (positives only) against the answer loss
BF16 = 1  # bfloat16 autocast (the CPU has AVX-512 BF16); master weights stay fp32
THREADS = 2
STEPS = 0  # 0: one epoch
EVAL_EVERY = 500
EVAL_PAIRS = 2000
CHECKPOINT_EVERY = 200
LOG_EVERY = 25
FRESH = 0
EXPORT = 0  # 1: write OUT from the last checkpoint and stop (to try a run that is still going)
RUN_DIR = str(ROOT / "training" / "runs" / "reader")
OUT = str(ROOT / "retrieval" / "answer" / "reader.safetensors")
# ----------------------------------------------------------------------------------------------


def read_settings(argv: list[str]) -> None:
    """Set the settings above from --name=value arguments (when run as a command)."""
    for arg in argv:
        name, _, value = arg.lstrip("-").partition("=")
        name = name.upper()
        if name not in globals() or not value:
            sys.exit(f"unknown setting {arg!r}; settings: see the top of {__file__}")
        globals()[name] = type(globals()[name])(value)


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from reader_data import SQUAD_TRAIN, Pair, file_sha256, make, pairs_sha256  # noqa: E402
from tqdm import tqdm  # noqa: E402

from retrieval.answer.reader import FORMAT, base_fingerprint  # noqa: E402
from retrieval.answer.reader_inputs import Encoded, encode_pairs, token_span  # noqa: E402
from retrieval.answer.reader_net import (  # noqa: E402
    ReaderNet,
    save_weights,
    trained_state,
    with_adapters,
)
from retrieval.index.embedding import bundled_model_path  # noqa: E402


class Batch:
    """Padded tensors for a list of encoded pairs."""

    def __init__(self, items: list[tuple[Encoded, Pair]]) -> None:
        width = max(len(e.ids) for e, _ in items)
        n = len(items)
        self.ids = torch.zeros(n, width, dtype=torch.long)
        self.types = torch.zeros(n, width, dtype=torch.long)
        self.mask = torch.zeros(n, width, dtype=torch.long)
        self.sentence = torch.zeros(n, width, dtype=torch.bool)
        self.labels = torch.tensor([p.label for _, p in items], dtype=torch.float)
        self.starts = torch.full((n,), -100, dtype=torch.long)
        self.ends = torch.full((n,), -100, dtype=torch.long)
        for i, (e, p) in enumerate(items):
            k = len(e.ids)
            self.ids[i, :k] = torch.tensor(e.ids)
            self.types[i, :k] = torch.tensor(e.type_ids)
            self.mask[i, :k] = 1
            self.sentence[i, :k] = torch.tensor([s is not None for s in e.spans])
            if p.label == 1:
                tokens = token_span(e, p.start, p.end)
                if tokens is not None:
                    self.starts[i], self.ends[i] = tokens


def batches(items: list[tuple[Encoded, Pair]], seed: int) -> list[list[int]]:
    """Batches of indexes: shuffled, then sorted by length within groups of 50 batches (less
    padding), the batches of each group in random order. Deterministic from the seed."""
    rng = random.Random(seed)
    order = list(range(len(items)))
    rng.shuffle(order)
    group = BATCH * 50
    result = []
    for g in range(0, len(order), group):
        chunk = sorted(order[g : g + group], key=lambda i: len(items[i][0].ids))
        cut = [chunk[b : b + BATCH] for b in range(0, len(chunk), BATCH)]
        rng.shuffle(cut)
        result.extend(cut)
    return result


def losses(net: ReaderNet, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    answer, start, end = net(batch.ids, batch.mask, batch.types)
    answer_loss = torch.nn.functional.binary_cross_entropy_with_logits(answer.float(), batch.labels)
    blocked = ~batch.sentence
    start = start.float().masked_fill(blocked, -1e4)
    end = end.float().masked_fill(blocked, -1e4)
    if (batch.starts >= 0).any():
        span_loss = (
            torch.nn.functional.cross_entropy(start, batch.starts, ignore_index=-100)
            + torch.nn.functional.cross_entropy(end, batch.ends, ignore_index=-100)
        ) / 2
    else:
        span_loss = torch.zeros(())
    return answer_loss, span_loss


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic)."""
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = labels == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@torch.no_grad()
def evaluate(net: ReaderNet, items: list[tuple[Encoded, Pair]]) -> dict[str, float]:
    """AUC and accuracy of the answer head, exact token span of the span head, mean
    probability per kind of pair, on held-out articles."""
    net.eval()
    probabilities, span_hits, span_total = [], 0, 0
    for b in range(0, len(items), 64):
        batch = Batch(items[b : b + 64])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(BF16)):
            answer, start, end = net(batch.ids, batch.mask, batch.types)
        probabilities += torch.sigmoid(answer.float()).tolist()
        blocked = ~batch.sentence
        start = start.float().masked_fill(blocked, -1e4)
        end = end.float().masked_fill(blocked, -1e4)
        for i in range(len(batch.labels)):
            if batch.starts[i] >= 0:
                span_total += 1
                s = int(start[i].argmax())
                e = s + int(end[i, s : s + 24].argmax())
                span_hits += int(s == int(batch.starts[i]) and e == int(batch.ends[i]))
    net.train()
    p = np.array(probabilities)
    labels = np.array([pair.label for _, pair in items])
    figures = {
        "auc": round(auc(p, labels), 4),
        "accuracy": round(float(((p >= 0.5) == (labels == 1)).mean()), 4),
        "span_exact": round(span_hits / max(span_total, 1), 4),
    }
    kinds: dict[str, list[float]] = {}
    for prob, (_, pair) in zip(p, items, strict=True):
        kinds.setdefault(pair.kind, []).append(prob)
    for kind, values in sorted(kinds.items()):
        figures[f"p[{kind}]"] = round(float(np.mean(values)), 3)
    return figures


def main() -> None:
    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    run_dir = Path(RUN_DIR)
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = (run_dir / "log.txt").open("a", encoding="utf-8")

    def log(line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        tqdm.write(stamped)
        log_file.write(stamped + "\n")
        log_file.flush()

    base = bundled_model_path()
    started = time.time()
    train_pairs, validation_pairs = make(SEED, QUESTIONS, HELD_OUT_ARTICLES)
    data_hash = pairs_sha256(train_pairs)
    log(
        f"data: {len(train_pairs):,} training pairs (sha256 {data_hash[:16]}), "
        f"{len(validation_pairs):,} held-out pairs, made in {time.time() - started:.0f} s"
    )
    encoded = encode_pairs(base, [(p.question, p.title, p.sentence) for p in train_pairs])
    items = list(zip(encoded, train_pairs, strict=True))
    held_out = validation_pairs[:EVAL_PAIRS]
    held_items = list(
        zip(
            encode_pairs(base, [(p.question, p.title, p.sentence) for p in held_out]),
            held_out,
            strict=True,
        )
    )
    plan = batches(items, SEED)
    total = STEPS or len(plan)
    log(f"{total:,} steps of {BATCH}; mean length {np.mean([len(e.ids) for e in encoded]):.1f}")

    net = with_adapters(base, RANK, ALPHA)
    heads = [p for n, p in net.named_parameters() if p.requires_grad and "_head" in n]
    others = [p for n, p in net.named_parameters() if p.requires_grad and "_head" not in n]
    optimizer = torch.optim.AdamW(
        [{"params": others, "lr": LR}, {"params": heads, "lr": HEAD_LR}], weight_decay=0.01
    )

    def schedule(step: int) -> float:
        if step < WARMUP:
            return (step + 1) / WARMUP
        return max(0.0, (total - step) / max(1, total - WARMUP))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    checkpoint = run_dir / "checkpoint.pt"
    step, trained_seconds = 0, 0.0
    if checkpoint.exists() and not FRESH:
        saved = torch.load(checkpoint, weights_only=False)
        net.load_state_dict(saved["trained"], strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"])
        step, trained_seconds = saved["step"], saved["seconds"]
        log(f"resumed at step {step:,} ({trained_seconds / 60:.1f} min trained)")

    def save_checkpoint() -> None:
        state = {
            "trained": trained_state(net),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
            "step": step,
            "seconds": trained_seconds,
        }
        torch.save(state, run_dir / "checkpoint.tmp")
        os.replace(run_dir / "checkpoint.tmp", checkpoint)

    if EXPORT:
        total = step
    net.train()
    bar = tqdm(total=total, initial=step, unit="step", dynamic_ncols=True, mininterval=5)
    window_loss, window_span, window_pairs, window_start = 0.0, 0.0, 0, time.time()
    figures: dict[str, float] = {}
    while step < total:
        batch = Batch([items[i] for i in plan[step % len(plan)]])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(BF16)):
            answer_loss, span_loss = losses(net, batch)
            loss = answer_loss + SPAN_WEIGHT * span_loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(others + heads, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        bar.update(1)
        window_loss += answer_loss.item()
        window_span += span_loss.item()
        window_pairs += len(batch.labels)
        if step % LOG_EVERY == 0 or step == total:
            elapsed = time.time() - window_start
            trained_seconds += elapsed
            n = LOG_EVERY if step % LOG_EVERY == 0 else step % LOG_EVERY
            log(
                f"step {step:,}/{total:,} answer loss {window_loss / n:.4f} span loss "
                f"{window_span / n:.4f} {window_pairs / elapsed:.1f} pairs/s "
                f"lr {scheduler.get_last_lr()[0]:.2e}"
            )
            bar.set_postfix(loss=f"{window_loss / n:.3f}", pairs_s=f"{window_pairs / elapsed:.0f}")
            window_loss, window_span, window_pairs, window_start = 0.0, 0.0, 0, time.time()
        if step % EVAL_EVERY == 0 or step == total:
            figures = evaluate(net, held_items)
            log(f"held-out at step {step:,}: {json.dumps(figures)}")
            window_start = time.time()
        if step % CHECKPOINT_EVERY == 0 or step == total:
            save_checkpoint()
    bar.close()

    meta = {
        "format": FORMAT,
        "base": base_fingerprint(base),
        "rank": RANK,
        "alpha": ALPHA,
        "seed": SEED,
        "steps": step,
        "batch": BATCH,
        "questions": QUESTIONS,
        "pairs": len(train_pairs),
        "pairs_sha256": data_hash,
        "squad_train_sha256": file_sha256(SQUAD_TRAIN),
        "held_out": figures,
        "train_minutes": round(trained_seconds / 60, 1),
    }
    save_weights(net, Path(OUT), meta)
    if not EXPORT:
        (run_dir / "summary.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log(f"saved {OUT} ({Path(OUT).stat().st_size / 1e6:.2f} MB); {json.dumps(meta)}")


if __name__ == "__main__":
    read_settings(sys.argv[1:])
    main()
