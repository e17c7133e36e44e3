"""The moving average of the weights in ``run_loop``: what it averages, what it saves, resuming."""

import json

import numpy as np
import torch
from safetensors.torch import load_file

from climviz.train.common import LoopSettings, ema_decay, run_loop, update_ema

DECAY = 0.9


class Recorded:
    """A linear regression whose loss records the raw weights each step starts from; it can be
    interrupted at a step (a job that was killed)."""

    def __init__(self, stop_at=None):
        self.before, self.stop_at = {}, stop_at
        rng = np.random.default_rng(1)
        self.x = torch.from_numpy(rng.normal(size=(16, 3)).astype(np.float32))
        self.y = self.x @ torch.tensor([0.5, -1.0, 2.0])

    def loss(self, step, gen, net):
        if step == self.stop_at:
            raise KeyboardInterrupt
        self.before[step] = {k: v.detach().clone() for k, v in net.state_dict().items()}
        idx = torch.randint(0, 16, (4,), generator=gen)
        return ((net(self.x[idx]).squeeze(-1) - self.y[idx]) ** 2).mean(), {}


def _model():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 1)


def test_decay_warms_up_then_holds():
    assert ema_decay(0.999, 0) == 0.1
    assert ema_decay(0.999, 8) == 0.5
    assert ema_decay(0.999, 10**6) == 0.999


def test_update_mixes_parameters_and_copies_buffers():
    ema, model = torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    with torch.no_grad():
        ema.weight.fill_(4.0)
        model.weight.fill_(8.0)
        model.running_mean.fill_(3.0)
    update_ema(ema, model, 0.75)
    torch.testing.assert_close(ema.weight, torch.full((2,), 5.0), rtol=0, atol=0)  # 0.75 * 4 + 0.25 * 8
    torch.testing.assert_close(ema.running_mean, torch.full((2,), 3.0), rtol=0, atol=0)


def test_the_average_of_the_weights_is_saved_and_returned(tmp_path):
    steps = 6
    rec = Recorded()
    settings = LoopSettings(steps=steps, batch_size=4, lr=5e-2, checkpoint_every=100, ema=DECAY)
    model = run_loop(_model(), rec.loss, tmp_path, {"kind": "test"}, settings, resume=False)
    raw_last = load_file(str(tmp_path / "train_state_model.safetensors"))
    # the weights after each step: those the next step starts from, then the last raw weights
    after = [rec.before[s + 1] for s in range(steps - 1)] + [raw_last]
    expected = {k: v.double() for k, v in rec.before[0].items()}
    for s, w in enumerate(after):
        d = min(DECAY, (1 + s) / (10 + s))
        expected = {k: d * expected[k] + (1 - d) * w[k].double() for k in expected}
    saved = load_file(str(tmp_path / "model.safetensors"))
    for k, v in expected.items():
        torch.testing.assert_close(model.state_dict()[k].double(), v, rtol=0, atol=1e-6)
        torch.testing.assert_close(saved[k].double(), v, rtol=0, atol=1e-6)
        assert (raw_last[k].double() - v).abs().max() > 1e-3  # the average is not the last weights
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["ema"] == {"decay": DECAY, "updates": steps}


def test_an_interrupted_run_resumes_to_the_same_average(tmp_path):
    settings = LoopSettings(steps=6, batch_size=4, lr=5e-2, checkpoint_every=2, ema=DECAY)
    whole = run_loop(_model(), Recorded().loss, tmp_path / "whole", {}, settings, resume=False)
    try:
        run_loop(_model(), Recorded(stop_at=3).loss, tmp_path / "split", {}, settings)
    except KeyboardInterrupt:
        pass
    assert json.loads((tmp_path / "split" / "train_state.json").read_text())["info"]["ema_updates"] == 2
    resumed = run_loop(_model(), Recorded().loss, tmp_path / "split", {}, settings)
    for k, v in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, rtol=0, atol=0)


def test_a_run_without_an_average_starts_one_from_its_latest_weights(tmp_path):
    plain = LoopSettings(steps=3, batch_size=4, lr=5e-2, checkpoint_every=100)
    run_loop(_model(), Recorded().loss, tmp_path, {}, plain, resume=False)
    latest = load_file(str(tmp_path / "train_state_model.safetensors"))
    rec = Recorded()
    more = LoopSettings(steps=4, batch_size=4, lr=5e-2, checkpoint_every=100, ema=DECAY)
    model = run_loop(_model(), rec.loss, tmp_path, {}, more)
    assert sorted(rec.before) == [3]
    raw = load_file(str(tmp_path / "train_state_model.safetensors"))
    d = ema_decay(DECAY, 0)  # one update of an average that starts at the latest weights
    for k, v in model.state_dict().items():
        torch.testing.assert_close(
            v.double(), d * latest[k].double() + (1 - d) * raw[k].double(), rtol=0, atol=1e-6
        )
    assert json.loads((tmp_path / "config.json").read_text())["ema"]["updates"] == 1
