"""The reader's network: the bundled MiniLM encoder with low-rank adapters, and two heads.

A cross-encoder reads "[CLS] question [SEP] title — sentence [SEP]". The answer head on [CLS]
gives the logit that the sentence answers the question; the span head gives, for every token,
the logits that the answer starts and ends there.

Only what training changes is stored: the adapters (LoRA, Hu et al. 2021: W + (alpha/r)·B·A on
every linear layer of the encoder), the layer norms, the token-type embeddings and the heads,
about 1.4 MB in fp16. They load on top of the bundled all-MiniLM-L6-v2 weights, which must be
the ones they were trained on (`base_fingerprint`).

This module needs torch; it is used to train the reader and to export it for ONNX Runtime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from retrieval.answer.reader import check_metadata

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUTS = ("answer", "start", "end")
DYNAMIC_AXES = {
    "input_ids": {0: "batch", 1: "tokens"},
    "attention_mask": {0: "batch", 1: "tokens"},
    "token_type_ids": {0: "batch", 1: "tokens"},
    "answer": {0: "batch"},
    "start": {0: "batch", 1: "tokens"},
    "end": {0: "batch", 1: "tokens"},
}
ADAPTED = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update (B starts at zero, so training
    starts from the base model exactly)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad = False
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.randn(rank, base.in_features) / base.in_features**0.5)
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def merged(self) -> nn.Linear:
        """The plain linear layer with the update folded in (for inference and export)."""
        merged = nn.Linear(self.base.in_features, self.base.out_features)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scale * self.lora_b @ self.lora_a)
            merged.bias.copy_(self.base.bias)
        return merged


class ReaderNet(nn.Module):
    """Encoder + answer head + span head. `forward` returns (answer logit [B],
    start logits [B, T], end logits [B, T])."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        hidden: int = encoder.config.hidden_size  # type: ignore[union-attr,assignment]
        self.dropout = nn.Dropout(0.1)
        self.answer_head = nn.Linear(hidden, 1)
        self.span_head = nn.Linear(hidden, 2)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        states = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        answer = self.answer_head(self.dropout(states[:, 0])).squeeze(-1)
        start, end = self.span_head(states).unbind(-1)
        return answer, start, end


def load_encoder(base_path: str | Path) -> nn.Module:
    """The bundled MiniLM encoder (a transformers BertModel), from its local folder."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    return AutoModel.from_pretrained(str(base_path), add_pooling_layer=False)


def _adapted_modules(encoder: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """(parent module, its attribute) of every linear layer that gets an adapter."""
    found = []
    for name, module in encoder.named_modules():
        for attribute, child in module.named_children():
            full = f"{name}.{attribute}" if name else attribute
            if isinstance(child, nn.Linear | LoRALinear) and full.endswith(ADAPTED):
                found.append((full, module, attribute))
    return found


def with_adapters(base_path: str | Path, rank: int = 16, alpha: float = 32.0) -> ReaderNet:
    """A ReaderNet ready to train: base frozen, adapters, layer norms, token types and heads
    trainable."""
    encoder = load_encoder(base_path)
    for p in encoder.parameters():
        p.requires_grad = False
    for _, parent, attribute in _adapted_modules(encoder):
        setattr(parent, attribute, LoRALinear(getattr(parent, attribute), rank, alpha))
    for name, p in encoder.named_parameters():
        if "LayerNorm" in name or "token_type_embeddings" in name:
            p.requires_grad = True
    return ReaderNet(encoder)


def trained_state(net: ReaderNet) -> dict[str, torch.Tensor]:
    """What training changed: the parameters that require grad."""
    return {n: p.detach().clone() for n, p in net.named_parameters() if p.requires_grad}


def save_weights(net: ReaderNet, path: Path, meta: dict[str, Any]) -> None:
    """The trained parameters in fp16 safetensors, with the metadata (base fingerprint, rank,
    alpha, format) as strings."""
    tensors = {n: t.to(torch.float16).contiguous() for n, t in trained_state(net).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={k: json.dumps(v) for k, v in meta.items()})
    path.chmod(0o644)  # safetensors writes owner-only files; this one ships


def load_trained(base_path: str | Path, path: Path) -> ReaderNet:
    """The reader with its shipped weights, adapters merged into plain linear layers, in eval
    mode. Raises ValueError if the file does not fit the base."""
    meta = check_metadata(str(base_path), path)
    net = with_adapters(base_path, int(meta["rank"]), float(meta["alpha"]))
    state = {n: t.float() for n, t in load_file(str(path)).items()}
    missing = set(trained_state(net)) - set(state)
    if missing:
        raise ValueError(f"missing {len(missing)} tensors, e.g. {sorted(missing)[0]}")
    net.load_state_dict(state, strict=False)
    for _, parent, attribute in _adapted_modules(net.encoder):
        child = getattr(parent, attribute)
        if isinstance(child, LoRALinear):
            setattr(parent, attribute, child.merged())
    return net.eval()


def example_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs to trace the network with for export (two pairs of eight tokens)."""
    ids = torch.tensor([[101, 2040, 2001, 102, 2002, 2001, 2141, 102]] * 2)
    return ids, torch.ones_like(ids), torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]] * 2)
