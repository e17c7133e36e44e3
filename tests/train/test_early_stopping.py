"""Early stopping on a validation loss in ``run_loop``: when it stops, which weights it keeps, resuming."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from climviz.train.common import LoopSettings, run_loop

# validation loss by evaluation step: best at step 4, then no better
SCRIPT = {2: 5.0, 4: 3.0, 6: 4.0, 8: 3.5, 10: 1.0, 12: 0.5}
SETTINGS = LoopSettings(steps=20, batch_size=4, lr=1e-2, checkpoint_every=100, eval_every=2, patience=2)


class Scripted:
    """A linear model trained on a fixed regression, validated by ``SCRIPT``; it records the
    weights at every evaluation and can fail at one (an interrupted job)."""

    def __init__(self, fail_at=None):
        self.step, self.seen, self.fail_at = 0, {}, fail_at
        rng = np.random.default_rng(0)
        self.x = torch.from_numpy(rng.normal(size=(16, 3)).astype(np.float32))
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1

    def loss(self, step, gen, net):
        self.step = step + 1
        idx = torch.randint(0, 16, (4,), generator=gen)
        return ((net(self.x[idx]).squeeze(-1) - self.y[idx]) ** 2).mean(), {}

    def validate(self, model):
        assert not model.training and not torch.is_grad_enabled()
        if self.step == self.fail_at:
            raise KeyboardInterrupt
        self.seen[self.step] = {k: v.clone() for k, v in model.state_dict().items()}
        return SCRIPT[self.step]


def _model(seed):
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 1)


def _run(out, script, seed=0, settings=SETTINGS, resume=True):
    model = _model(seed)
    return run_loop(
        model, script.loss, out, {"kind": "test"}, settings, resume=resume, validate=script.validate
    )


def test_stops_after_patience_and_keeps_the_best_weights(tmp_path):
    script = Scripted()
    model = _run(tmp_path, script)
    assert sorted(script.seen) == [2, 4, 6, 8]  # 6 and 8 bring no new best: stop, 12 of 20 steps unused
    best = script.seen[4]
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, best[k], rtol=0, atol=0)
    saved = load_file(str(tmp_path / "model.safetensors"))
    for k in best:
        torch.testing.assert_close(saved[k], best[k], rtol=0, atol=0)
    assert not torch.equal(script.seen[8]["weight"], best["weight"])  # the kept weights are not the last
    cfg = json.loads((tmp_path / "config.json").read_text())
    val = cfg["validation"]
    assert [h[0] for h in val["history"]] == [2, 4, 6, 8]
    assert [h[1] for h in val["history"]] == [5.0, 3.0, 4.0, 3.5]
    assert all(np.isfinite(h[2]) and h[2] > 0 for h in val["history"])  # mean training loss
    assert (val["best_step"], val["best_loss"], val["stopped_early"]) == (4, 3.0, True)
    assert cfg["trained_steps"] == 4
    state = json.loads((tmp_path / "train_state.json").read_text())["info"]
    assert state["step"] == 8
    # run again: it stays stopped (nothing is trained, the best weights come back)
    again = Scripted()
    model = _run(tmp_path, again, seed=5)
    assert again.seen == {}
    torch.testing.assert_close(model.weight, best["weight"], rtol=0, atol=0)


def test_without_patience_all_steps_run_and_the_best_is_kept(tmp_path):
    script = Scripted()
    settings = LoopSettings(steps=12, batch_size=4, lr=1e-2, checkpoint_every=100, eval_every=2, patience=0)
    model = _run(tmp_path, script, settings=settings)
    assert sorted(script.seen) == [2, 4, 6, 8, 10, 12]
    torch.testing.assert_close(model.weight, script.seen[12]["weight"], rtol=0, atol=0)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert (cfg["validation"]["best_step"], cfg["validation"]["stopped_early"]) == (12, False)


def test_resumed_run_continues_the_validation_history(tmp_path):
    straight = Scripted()
    _run(tmp_path / "straight", straight)
    first = Scripted(fail_at=6)
    with pytest.raises(KeyboardInterrupt):  # interrupted at the evaluation of step 6
        _run(tmp_path / "split", first)
    saved = json.loads((tmp_path / "split" / "train_state.json").read_text())["info"]
    assert saved["step"] == 4 and [h[0] for h in saved["validation"]["history"]] == [2, 4]
    second = Scripted()
    model = _run(tmp_path / "split", second, seed=7)  # fresh initial weights must not matter
    assert sorted(second.seen) == [6, 8]  # resumed at step 4, stopped at 8 as the straight run
    a = json.loads((tmp_path / "straight" / "config.json").read_text())["validation"]
    b = json.loads((tmp_path / "split" / "config.json").read_text())["validation"]
    assert [h[:2] for h in a["history"]] == [h[:2] for h in b["history"]]
    np.testing.assert_allclose([h[2] for h in a["history"]], [h[2] for h in b["history"]], rtol=1e-6)
    for k in ("best_step", "best_loss", "stopped_early"):
        assert a[k] == b[k]
    for step in (6, 8):
        for k, v in straight.seen[step].items():
            torch.testing.assert_close(second.seen[step][k], v, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(model.weight, straight.seen[4]["weight"], rtol=1e-6, atol=1e-7)


def test_overfitting_a_noise_target_stops_early_at_the_best_validation_loss(tmp_path):
    """A real validation loss: 64 weights fit 8 samples of pure noise; on independent noise the
    validation loss can only get worse once the training noise is memorised."""
    rng = np.random.default_rng(1)
    x, y = (torch.from_numpy(rng.normal(size=s).astype(np.float32)) for s in ((8, 64), (8,)))
    xv, yv = (torch.from_numpy(rng.normal(size=s).astype(np.float32)) for s in ((256, 64), (256,)))
    model = torch.nn.Linear(64, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    weights = {}

    def loss(step, gen, net):
        return ((net(x).squeeze(-1) - y) ** 2).mean(), {}

    def validate(m):
        weights[len(weights)] = m.weight.clone()
        return float(((m(xv).squeeze(-1) - yv) ** 2).mean())

    settings = LoopSettings(
        steps=400, batch_size=8, lr=3e-2, checkpoint_every=1000, eval_every=10, patience=3
    )
    run_loop(model, loss, tmp_path, {}, settings, validate=validate)
    val = json.loads((tmp_path / "config.json").read_text())["validation"]
    losses = [h[1] for h in val["history"]]
    assert val["stopped_early"] and len(losses) < 40
    assert len(losses) == losses.index(min(losses)) + 1 + 3  # stopped 3 evaluations after the best
    assert val["best_loss"] == min(losses)
    i = losses.index(min(losses))
    torch.testing.assert_close(model.weight, weights[i], rtol=0, atol=0)
    assert val["history"][-1][2] < val["history"][0][2]  # training loss still falling when it stopped
