"""A sentence-transformers model exported to ONNX for `OnnxEmbedder`: transformer, pooling and
L2 normalisation in one graph, its tokenizer and input settings saved beside it."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from retrieval import onnx
from retrieval.index.embedding import (
    BUNDLED_NAME,
    EmbedderUnavailable,
    embedding_dimension,
    load_sentence_transformer,
)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
POOLINGS = ("mean", "cls")


class SentenceEncoder(torch.nn.Module):
    """Transformer, pooling and L2 normalisation, as sentence-transformers computes them
    (mean: the token vectors summed over the attention mask, divided by its count ≥ 1e-9)."""

    def __init__(self, transformer: torch.nn.Module, names: Sequence[str], mean: bool) -> None:
        super().__init__()
        self.transformer = transformer
        self.names = list(names)
        self.mean = mean

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.names, inputs, strict=True))
        tokens = self.transformer(**named).last_hidden_state
        if self.mean:
            mask = named["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        else:
            pooled = tokens[:, 0]
        return torch.nn.functional.normalize(pooled, p=2.0, dim=1)


def export_sentence_encoder(
    model_ref: str, path: Path, meta_path: Path, tokenizer_path: Path, precision: onnx.Precision
) -> None:
    """Write the tokenizer, the input settings and then the ONNX file (whose presence says
    that all three are there). EmbedderUnavailable for a model this cannot export."""
    model = load_sentence_transformer(model_ref)
    name = model_ref or BUNDLED_NAME
    modules = list(model)
    kinds = [type(m).__name__ for m in modules]
    pooling = getattr(modules[1], "pooling_mode", None) if len(modules) > 1 else None
    if kinds[0] != "Transformer" or pooling not in POOLINGS or kinds[2:] not in ([], ["Normalize"]):
        raise EmbedderUnavailable(
            f"the ONNX backend exports Transformer + mean or CLS Pooling (+ Normalize) models;"
            f" {name} is {' + '.join(kinds)} (pooling {pooling}). Set EMBEDDING_BACKEND=torch"
            " for it."
        )
    fast = getattr(model.tokenizer, "backend_tokenizer", None)
    if fast is None:
        raise EmbedderUnavailable(f"{name} has no fast tokenizer; set EMBEDDING_BACKEND=torch")
    names = [n for n in INPUTS if n != "token_type_ids" or n in model.tokenizer.model_input_names]

    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(fast.to_str())
    tokenizer.no_padding()  # batches are padded by the embedder, to their longest text
    tokenizer.enable_truncation(int(model.max_seq_length))
    meta = {
        "input_names": names,
        "pad_id": int(model.tokenizer.pad_token_id or 0),
        "lower_case": bool(getattr(modules[0], "do_lower_case", False)),
        "dimension": embedding_dimension(model),
        "max_seq_length": int(model.max_seq_length),
        "pooling": pooling,
    }
    _write_atomically(tokenizer_path, tokenizer.to_str())
    _write_atomically(meta_path, json.dumps(meta, indent=1))

    def build() -> torch.nn.Module:
        transformer: Any = modules[0].auto_model
        if hasattr(transformer, "set_attn_implementation"):
            transformer.set_attn_implementation("eager")  # plain ops, which ORT fuses
        return SentenceEncoder(transformer, names, mean=pooling == "mean")

    example = torch.ones((2, 8), dtype=torch.long)
    onnx.export(
        build,
        tuple(torch.zeros_like(example) if n == "token_type_ids" else example for n in names),
        path,
        input_names=names,
        output_names=["sentence_embedding"],
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names}
        | {"sentence_embedding": {0: "batch"}},
        precision=precision,
    )


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
