"""The project's vocabularies: one home each, no torch, no Panel.

The CLI, the app and the pipelines import their choices and defaults from here.

Samplers: the ensemble generator's default is DPM-Solver++(2M) on log-SNR-spaced
timesteps at 12 steps. On the exact-denoiser Gaussian test (its table is in
:mod:`climviz.diffusion.samplers`) it keeps 95.7% of the standard deviation
(DDIM at 20 steps keeps 92%, ancestral DDPM 87%); with the shipped generator its
ENSO statistics at 12 steps match those at 20 (README, "Sampler steps"), where the
evenly spaced ("trailing") timesteps still change them between 20 and 40 steps.
:mod:`climviz.diffusion.samplers` maps each name to its class.
"""

SAMPLER_NAMES = ("dpm++2m", "dpm++2m-logsnr", "dpm++3m-logsnr", "ddim", "ddpm")
DEFAULT_SAMPLER = "dpm++2m-logsnr"
DEFAULT_STEPS = 12
# The downscaler's residual needs few steps. The defaults (steps, noise correlation, burn-in) were
# chosen on the validation period (README, "Sampling settings"): with 8 DDIM steps the fine scales'
# spectrum in time, flicker and vortex tracks follow the truth's; 1-2 steps are cheaper with a higher
# CRPS (bench/bench_downscale_quality.py).
DEFAULT_DOWNSCALE_SAMPLER = "ddim"
DEFAULT_DOWNSCALE_STEPS = 8
# Correlation of each downscaled sample's initial noise from one 6-hourly frame to the next
# (AR(1) in time): fine scales then evolve smoothly instead of being drawn afresh every frame.
DEFAULT_NOISE_CORRELATION = 0.75
# Discarded draws of the first frame for a residual that samples frames in time order, so that
# the first frame has a predecessor: a chain started from zeros takes days to build up its fine scales.
DEFAULT_BURN_IN = 4

# Attributes of the ``member`` coordinate of a generated ensemble (in memory and in a Dask-written store).
MEMBER_ATTRS = {"long_name": "generated ensemble member"}

# How an ensemble generator makes a sequence: one diffusion over the whole time
# axis (transformer) or month blocks conditioned on the previous ones.
MODES = ("transformer", "autoregressive")
DEFAULT_MODE = "transformer"
# What ``climviz train ldm --mode`` accepts: one of MODES, or both.
TRAIN_MODES = (*MODES, "both")

# Where models run: "auto" picks a CUDA GPU when torch sees one, else the CPU.
DEVICES = ("auto", "cpu", "cuda")
DEFAULT_DEVICE = "auto"

# The app's region choice: a named region of climviz.data.regions, or this entry
# for a latitude/longitude box typed by the user.
CUSTOM_REGION = "Custom box"

# The Channel Attention Unit of the downscaler's CAU-UNet (climviz.nn.cau_unet):
# squeeze-excitation only, or TAU on one frame (static large-kernel branch x SE).
CAU_KINDS = ("se", "tau")
DEFAULT_CAU = "se"
