"""State of the "what more steps buy" view (Param only: no Panel, no torch here).

:class:`StepsSweep` runs :func:`climviz.pipelines.steps_sweep.sweep_steps` in a background job:
the same small request (members, seed, sampler, mode, the first ``n_months`` months of the
conditioning run) at each step count, and keeps one row of scores and wall time per count.
Where the runs come from is the caller's: ``inputs()`` returns ``(cond, truth, reference)``
and is called inside the job (embedded runs are made off the server's event loop), e.g.
``StepsSweep(gen, inputs=lambda: (s.request.conditioning(), s.results.truth(), s.results.reference()))``
with an :class:`~climviz.ui.generation.EnsembleGeneration` ``s``.
"""

from __future__ import annotations

from collections.abc import Callable

import param

from climviz.pipelines.steps_sweep import DEFAULT_SWEEP, sweep_steps
from climviz.ui.jobs import env_cap
from climviz.ui.task import BackgroundTask
from climviz.vocabulary import DEFAULT_MODE, DEFAULT_SAMPLER, MODES, SAMPLER_NAMES

MAX_SWEEP_WORK_ENV = "CLIMVIZ_MAX_SWEEP_WORK"
DEFAULT_MAX_SWEEP_WORK = 100_000  # members x months x (sum of the step counts) per sweep


def max_sweep_work() -> int:
    """The cap on members x months x (sum of the step counts) of one sweep (``$CLIMVIZ_MAX_SWEEP_WORK``)."""
    return env_cap(MAX_SWEEP_WORK_ENV, DEFAULT_MAX_SWEEP_WORK)


class StepsSweep(BackgroundTask):
    """Run one request at several sampler step counts and keep the scores (``rows``).

    ``generator``: an :class:`~climviz.pipelines.ensemble.EnsembleGenerator` or None (``note``
    says why); ``inputs``: a callable returning ``(cond (time, lat, lon), truth (time, lat, lon),
    reference (member, time, lat, lon) or None)`` on the generator's grid.
    """

    steps = param.List(default=list(DEFAULT_SWEEP), item_type=int, doc="Sampler step counts to compare")
    n_members = param.Integer(default=5, bounds=(2, 20), doc="Members per step count")
    n_months = param.Integer(
        default=12, bounds=(1, 240), doc="Months of the conditioning run used (the first)"
    )
    sampler = param.Selector(default=DEFAULT_SAMPLER, objects=list(SAMPLER_NAMES), doc="Sampler")
    mode = param.Selector(default=DEFAULT_MODE, objects=list(MODES), doc="Sequence mode")
    seed = param.Integer(default=0, bounds=(0, None), doc="Seed (the same at every step count)")

    rows = param.List(default=[], precedence=-1, doc="One dict per step count (see sweep_steps)")
    version = param.Integer(default=0, precedence=-1, doc="Incremented with each new sweep")

    task_name = "Step sweep"

    def __init__(self, generator=None, inputs: Callable | None = None, note: str = "", **params):
        super().__init__(**params)
        self.generator, self.inputs, self.note = generator, inputs, note
        if generator is not None:
            self.param.mode.objects = list(generator.modes)
            if self.mode not in generator.modes:
                self.mode = generator.modes[0]

    @classmethod
    def for_generation(cls, gen, n_members: int = 3, n_months: int = 24) -> StepsSweep:
        """A sweep for the ensemble tab of one session (an
        :class:`~climviz.ui.generation.EnsembleGeneration` ``gen``): its generator, the shown
        conditioning run with the true member and reference ensemble of the comparison, and the
        seed, sampler and mode of its request (followed when they change)."""
        req, res = gen.request, gen.results

        def inputs():
            truth = res.truth()
            if truth is None:
                raise ValueError("the step sweep needs an embedded conditioning run (a true member to score)")
            return res.shown_conditioning(), truth, res.reference()

        sweep = cls(gen.generator, inputs=inputs, note=gen.note, n_members=n_members, n_months=n_months)

        def follow(*_):
            mode = req.mode if req.mode in sweep.param.mode.objects else sweep.mode
            sweep.param.update(seed=int(req.seed), sampler=req.sampler, mode=mode)

        req.param.watch(follow, ["seed", "sampler", "mode"])
        follow()
        return sweep

    def work(self) -> int:
        """members x months x (sum of the step counts) of the current request."""
        return int(self.n_members) * int(self.n_months) * sum(int(s) for s in self.steps)

    def check_request(self) -> str:
        if self.generator is None:
            return self.note or "No ensemble generator is loaded."
        if self.inputs is None:
            return "No conditioning run to sweep over."
        if not self.steps or min(self.steps) < 1:
            return f"Step counts must be integers >= 1, got {list(self.steps)}."
        w, cap = self.work(), max_sweep_work()
        if w > cap:
            return (
                f"This sweep is {self.n_members} members x {self.n_months} months x {sum(self.steps)} steps "
                f"in all = {w:,} units of work, over the cap of {cap:,} (${MAX_SWEEP_WORK_ENV}). "
                "Use fewer members, months or step counts."
            )
        return ""

    def start(self) -> bool:
        """Start the sweep in a background job; False (with ``error`` set) when refused."""
        if self._refuse():
            return False
        req = dict(
            steps=[int(s) for s in self.steps],
            n_members=int(self.n_members),
            seed=int(self.seed),
            sampler=self.sampler,
            mode=self.mode,
        )
        months, inputs = int(self.n_months), self.inputs

        def compute(report):
            cond, truth, reference = inputs()
            first = dict(time=slice(0, months))
            cond, truth = cond.isel(first), truth.isel(first)
            reference = None if reference is None else reference.isel(first)
            return sweep_steps(self.generator, cond, truth, reference=reference, report=report, **req)

        return self._launch(
            compute,
            f"Generating {req['n_members']} members x {months} months at "
            f"{', '.join(map(str, req['steps']))} steps ({req['mode']}, {req['sampler']}, seed {req['seed']})...",
        )

    def _finish(self, job) -> None:
        rows = job.result
        with param.parameterized.batch_call_watchers(self):
            self.rows = rows
            self.version += 1
            self.running = False
            self.progress = 1.0
            self.status = (
                f"Compared {len(rows)} step counts ({', '.join(str(r['steps']) for r in rows)}) "
                f"in {job.elapsed:.1f} s."
            )
