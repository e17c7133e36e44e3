"""The project's vocabularies: one home each, no torch, no Panel.

The CLI, the app and the pipelines import their choices and defaults from here.

Samplers: the default is chosen on the exact-denoiser Gaussian test (its table
is in :mod:`climviz.diffusion.samplers`): DPM-Solver++(2M) at 20 steps keeps
99.7% of the standard deviation, where DDIM keeps 92% and ancestral DDPM 87%.
:mod:`climviz.diffusion.samplers` maps each name to its class.
"""

SAMPLER_NAMES = ("dpm++2m", "dpm++2m-logsnr", "ddim", "ddpm")
DEFAULT_SAMPLER = "dpm++2m"
DEFAULT_STEPS = 20
# The downscaler keeps DDIM: its shipped evaluation was measured with it.
DEFAULT_DOWNSCALE_SAMPLER = "ddim"

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
