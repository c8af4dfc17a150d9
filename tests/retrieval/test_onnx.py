"""The shared ONNX helpers (`retrieval.onnx`): a torch module exported once into a cache file
keyed by what it was built from, optionally int8, and run on ONNX Runtime like torch runs it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from retrieval import onnx

NAMES = {"input_names": ["features", "mask"], "output_names": ["pooled", "logits"]}
AXES = {
    "features": {0: "batch", 1: "tokens"},
    "mask": {0: "batch", 1: "tokens"},
    "pooled": {0: "batch"},
    "logits": {0: "batch", 1: "tokens"},
}


class TwoHeads(torch.nn.Module):
    """Two inputs, two outputs, MatMul weights worth quantising: the shape of the reader."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.proj = torch.nn.Linear(256, 256)
        self.head = torch.nn.Linear(256, 2)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.05)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        hidden = torch.relu(self.proj(features)) * mask.unsqueeze(-1)
        return hidden.sum(1), self.head(hidden)


def example() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(2, 5, 256), torch.ones(2, 5)


def run(path: Path, features: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    session = onnx.open_session(path, threads=1)
    return session.run(None, {"features": features, "mask": mask})


def test_the_exported_file_runs_like_the_module_on_other_shapes(tmp_path: Path) -> None:
    path = onnx.model_file(tmp_path, "two-heads", "v1", "fp32")
    assert onnx.export(TwoHeads, example(), path, dynamic_axes=AXES, **NAMES) == path
    features = np.random.default_rng(1).normal(size=(3, 9, 256)).astype(np.float32)
    mask = np.ones((3, 9), dtype=np.float32)
    mask[0, 4:] = 0
    pooled, logits = run(path, features, mask)
    with torch.no_grad():
        expected = TwoHeads()(torch.from_numpy(features), torch.from_numpy(mask))
    np.testing.assert_allclose(pooled, expected[0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logits, expected[1].numpy(), rtol=1e-4, atol=1e-5)


def test_an_exported_file_is_reused_without_building_the_module(tmp_path: Path) -> None:
    path = onnx.model_file(tmp_path, "two-heads", "v1", "fp32")
    onnx.export(TwoHeads, example(), path, dynamic_axes=AXES, **NAMES)

    def must_not_build() -> torch.nn.Module:
        raise AssertionError("the module was built again")

    assert onnx.export(must_not_build, example(), path, dynamic_axes=AXES, **NAMES) == path


def test_int8_is_a_quarter_of_the_size_and_close(tmp_path: Path) -> None:
    fp32 = onnx.export(
        TwoHeads, example(), tmp_path / "fp32.onnx", dynamic_axes=AXES, precision="fp32", **NAMES
    )
    int8 = onnx.export(
        TwoHeads, example(), tmp_path / "int8.onnx", dynamic_axes=AXES, precision="int8", **NAMES
    )
    assert int8.stat().st_size < fp32.stat().st_size / 3
    features = np.random.default_rng(2).normal(size=(4, 7, 256)).astype(np.float32)
    mask = np.ones((4, 7), dtype=np.float32)
    exact, approx = run(fp32, features, mask)[0], run(int8, features, mask)[0]
    cosine = (
        (exact * approx).sum(1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(approx, axis=1)
    )
    assert cosine.min() > 0.99
    assert not np.allclose(exact, approx, rtol=1e-6)  # really quantised


def test_an_export_racing_another_leaves_one_whole_file_and_no_temporaries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cache" / "two-heads.onnx"

    def build_while_another_process_finishes() -> torch.nn.Module:
        # The other process saw no file either, and writes its own first.
        onnx.export(TwoHeads, example(), path, dynamic_axes=AXES, precision="int8", **NAMES)
        return TwoHeads()

    onnx.export(build_while_another_process_finishes, example(), path, dynamic_axes=AXES, **NAMES)
    assert os.listdir(path.parent) == [path.name]
    features = np.ones((1, 3, 256), dtype=np.float32)
    assert run(path, features, np.ones((1, 3), dtype=np.float32))[0].shape == (1, 256)


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken() -> torch.nn.Module:
        raise RuntimeError("no weights")

    with pytest.raises(RuntimeError, match="no weights"):
        onnx.export(broken, example(), tmp_path / "m.onnx", dynamic_axes=AXES, **NAMES)
    assert list(tmp_path.iterdir()) == []


def test_the_file_name_changes_with_the_weights_and_the_precision(tmp_path: Path) -> None:
    weights = tmp_path / "model" / "weights.bin"
    weights.parent.mkdir()
    weights.write_bytes(b"\0" * 10)
    before = onnx.fingerprint(weights.parent, "mean pooling")
    assert onnx.fingerprint(weights.parent, "mean pooling") == before
    assert onnx.fingerprint(weights.parent, "cls pooling") != before
    weights.write_bytes(b"\0" * 11)
    assert onnx.fingerprint(weights.parent, "mean pooling") != before
    names = {onnx.model_file(tmp_path, "m", before, p).name for p in onnx.PRECISIONS}
    assert len(names) == 2


def test_a_session_uses_the_threads_it_is_given(tmp_path: Path) -> None:
    path = onnx.export(TwoHeads, example(), tmp_path / "m.onnx", dynamic_axes=AXES, **NAMES)
    assert onnx.open_session(path, threads=1).get_session_options().intra_op_num_threads == 1
    every_core = onnx.open_session(path).get_session_options().intra_op_num_threads
    assert every_core == onnx.available_cores()
