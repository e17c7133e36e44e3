"""State of the ensemble-generator tab, composed of its parts (Param only: no Panel, no torch here).

:class:`EnsembleGeneration` is the background job of one session: it takes the
:class:`~climviz.ui.ensemble_request.EnsembleRequest` (what is asked for), runs
the generator here or on a Dask scheduler (:mod:`climviz.ui.cluster`), and hands
the outcome to the :class:`~climviz.ui.ensemble_results.EnsembleResults` (what the
views show). :mod:`climviz.ui.export` writes a result as NetCDF. Each browser
session makes its own instance, so results are per session.
"""

from __future__ import annotations

import numpy as np
import param
import xarray as xr

from climviz.requests import GenerationRequest
from climviz.ui.cluster import generate_on_cluster
from climviz.ui.ensemble_analysis import diagnose
from climviz.ui.ensemble_request import EnsembleRequest, conditioning_run
from climviz.ui.ensemble_results import EnsembleResults
from climviz.ui.sources import embedded_members, train_members
from climviz.ui.task import BackgroundTask


def _split(params: dict, cls: type[param.Parameterized]) -> dict:
    """Pop from ``params`` the values of ``cls``'s parameters (other than ``name``)."""
    return {k: params.pop(k) for k in list(params) if k != "name" and k in cls.param}


class EnsembleGeneration(BackgroundTask):
    """Generate an ensemble in the background for a session's ``request`` and keep it in ``results``.

    ``generator`` is an :class:`~climviz.pipelines.ensemble.EnsembleGenerator` (or ``None``: ``note``
    says why, and everything that needs it is refused politely). Keyword arguments name parameters
    of the request (``n_members=3``) or of the results (``region="Nino3.4"``).
    """

    request = param.ClassSelector(class_=EnsembleRequest, constant=True, precedence=-1)
    results = param.ClassSelector(class_=EnsembleResults, constant=True, precedence=-1)
    task_name = "Generation"

    def __init__(self, generator=None, note: str = "", **params):
        request = EnsembleRequest(generator, note, **_split(params, EnsembleRequest))
        train = train_members(generator) if generator is not None else range(25)
        results = EnsembleResults(request, train, **_split(params, EnsembleResults))
        super().__init__(request=request, results=results, **params)
        self.generator, self.note = generator, note
        self._frames: list[dict] = []  # denoising frames of the running job

    @property
    def available(self) -> bool:
        return self.generator is not None

    def check_request(self) -> str:
        return self.request.refusal() or self.results.refusal()

    # ------------------------------------------------------------ running
    def start(self) -> bool:
        """Start generating in a background thread; False (with ``error`` set) when refused.

        Only cheap checks run here, in the session's (the server's event loop) thread: the
        conditioning run and the reference ensemble are built inside the job, so a busy server
        still answers other sessions.
        """
        if self._refuse():
            return False
        req = self.request
        request = req.generation_request()
        frame = int(min(self.results.month, max(0, req.n_months() - 1)))
        choice, ref_spec, on_cluster = (
            req.conditioning_choice(),
            self.results.reference_spec(),
            req.uses_cluster(),
        )
        self._frames = []
        return self._launch(
            lambda report: self._compute(
                conditioning_run(*choice), request, frame, ref_spec, report, on_cluster
            ),
            req.describe(),
        )

    def _finish(self, job) -> None:
        ens, analysis, cond = job.result
        self.results.keep(ens, cond, analysis, self._frames)
        where = (
            f" on the Dask scheduler {ens.attrs['dask_scheduler']}" if "dask_scheduler" in ens.attrs else ""
        )
        self.param.update(
            running=False,
            progress=1.0,
            status=(
                f"Generated {ens.sizes['member']} members x {ens.sizes['time']} months in {job.elapsed:.1f} s"
                f"{where} ({ens.attrs['mode']}, {ens.attrs['sampler']}, {ens.attrs['steps']} steps, "
                f"seed {ens.attrs['seed']})."
            ),
        )

    def generate(self, timeout: float | None = None) -> xr.DataArray | None:
        """Start, wait and poll: the synchronous path (tests, notebooks). Returns the result."""
        return self.results.result if self.run_and_wait(timeout) else None

    # ------------------------------------------------------------ the worker
    def _compute(
        self, cond: xr.DataArray, request: GenerationRequest, frame: int, ref_spec, report, on_cluster: bool
    ):
        """Generate, here or by the Dask workers (the same members; no denoising preview), and diagnose."""
        self._frames = []
        if on_cluster:
            ens = generate_on_cluster(self.generator.source, cond, request, report)
        else:
            ens = self._generate_here(cond, request, frame, report)
        ens = ens.assign_attrs(conditioning_source=cond.attrs.get("source_description", "user run"))
        ref = embedded_members(*ref_spec) if ref_spec is not None else None
        return ens, diagnose(ens, cond, ref), cond

    def _generate_here(
        self, cond: xr.DataArray, request: GenerationRequest, frame: int, report
    ) -> xr.DataArray:
        """Generate in this process, keeping a denoising frame of month ``frame`` per sampler step."""
        f = min(frame, cond.sizes["time"] - 1)

        def preview(i, n_steps, field):
            resid = field - cond.values[f]
            self._frames.append(
                {
                    "step": int(i),
                    "n_steps": int(n_steps),
                    "frame": f,
                    "field": cond.isel(time=f).copy(data=resid.astype(np.float32)),
                }
            )

        return self.generator.generate(cond, request, progress=report, preview=preview, preview_frame=f)
