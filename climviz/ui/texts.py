"""Short plain-language explanations shown beside each view (for a class as much as for a scientist)."""

GENERATOR = """**What happens when you press Generate.** A *conditioning run* (one simulation) fixes
the forced climate: the warming trend and the cooling after volcanic eruptions. The model
(a latent diffusion model, Meuer et al. 2024) squeezes each monthly map into a small *latent*
code, then starts from random noise and removes it step by step until it has drawn a new
*internal variability* (El Niño, weather noise). Adding that to the conditioning run gives a
new ensemble member: same forcing, different weather. *Transformer* mode looks at the whole
period at once; *autoregressive* mode builds it month block by month block."""

MAPS = """**Maps** of one month, as anomalies from a monthly climatology over the period (so the
seasonal cycle is gone): the conditioning run's own, or the true ensemble's (*Anomalies from*);
against the true ensemble's, the conditioning run shows its own departure from the ensemble's
climate as well. The maps zoom and pan together. If the generator works, a generated
member looks as different from the conditioning run as the held-out *true* member does; the
ensemble *mean* is smoother (the random parts cancel) and the *spread* map shows where members
disagree most (over land and in the ENSO region). Drag a box on the first map with the box-select
tool to choose a region. The save button of each plot's toolbar writes it as a PNG. The page's
address holds these settings: copy it to share the view, and after a generation the link makes
the same ensemble again (same seed, same members) when opened."""

MAPS_CAPTION = """Dots on the two *mean* maps: at least 80 % of the members (generated, or true) have an
anomaly of the same sign as their mean there, so the sign is robust, not noise. Tap a map to see one
grid point below the maps; press play to step through the months."""

SWEEP = """**What more sampler steps buy (teaching).** The sampler removes noise in steps; each step is
one pass of the network, so the cost grows with the steps. Here the same small request (same
conditioning run, seed, sampler and mode) is generated with 2, 5, 10 and 20 steps and scored against
the true members: the *CRPS* (lower is better; the dashed line is what the true ensemble scores),
the *spread ratio* (1 is right) and the wall time. Usually the scores improve quickly, then
flatten while the cost keeps growing: past that point more steps buy nothing but time."""

SERIES = """**Regional mean over time.** Black: the conditioning run. Orange: each generated member
and the band holding 90 % of them. Blue: the band of the *true* ensemble (other runs of the same
synthetic climate model). The two bands should overlap and have the same width. Red dashed
lines mark volcanic eruptions: every member should cool after them, because the cooling is forced."""

ENSO = """**El Niño / La Niña.** The Niño3.4 index is the temperature anomaly of a box in the
central equatorial Pacific. Generated members (orange) should swing as often and as far as true
members (blue), though not at the same times: El Niño is internal variability. The spectrum
(multitaper, over the whole period) shows at which periods the index varies most (a peak at 2-7
years for ENSO); the autocorrelation shows how long an anomaly persists and whether it swings
back (negative values after about a year and a half). Both use each member's anomalies with its
monthly climatology and linear trend removed. The dashed black line is the **observed** Niño3.4
(NOAA, 1871-2022), a reference for the real ENSO, not a target the synthetic ensemble is fitted to. The maps are the leading
EOF, the pattern that explains most of the tropical-Pacific variability; the closer the two
patterns, the better the generator learned ENSO's shape."""

SCORES = """**Scores for the selected region.** *Spread ratio*: how wide the generated ensemble is
compared with the true one (1 is right, below 1 over-confident). *CRPS* (fair estimator): the
distance between the generated distribution and a held-out true member, in K (lower is better); the
true ensemble's own CRPS is what a perfect generator would get, and the fair estimator makes the two
comparable even though the ensembles differ in size. *Rank histogram*: where the true member falls among
the sorted generated members; flat is good, a U shape means too little spread, a dome too much."""

DENOISE = """**Inside the sampler (teaching view).** At every step the diffusion model predicts the
finished sample from the current noisy state. Move the slider to see that prediction for one month
of the first generated member, shown as its difference from the conditioning run: the
variability the model is inventing. Early predictions are blurry averages; detail appears as the
noise is removed. Fewer steps are faster but cruder."""

DOWNSCALE = """**Downscaling wind (TAUDiff, Sundar et al. 2024).** A coarse wind field (what a cheap
global model gives) is turned into a fine one in two stages: a deterministic *mean model*
(SimVP with temporal attention) predicts the most likely fine field from a sequence of coarse
frames, then a small *diffusion model* adds the fine-scale details that cannot be predicted
exactly, differently in each sample. The truth is the fine simulation the coarse input was made
from. Press play to step through the frames (the maps keep their zoom); tap a map to follow the
wind at that point through time in every sample, the mean model and the truth. The save button
of a plot's toolbar writes it as a PNG, and the page's address is a link to this view."""

VORTICITY = """**Relative vorticity** (spin of the wind; red anticlockwise, blue clockwise) shows
small storms and fronts. The mean model's field is smooth: averaging removes small eddies. The
diffusion samples should have eddies as sharp and as many as the truth (not in the same places)."""

SPECTRA = """**Kinetic-energy spectra**: how much wind energy sits at each scale, from planetary
(left, low degree) to small (right). The coarse input stops at its resolution, the mean model
falls off too fast at small scales; good samples follow the truth's line to the end."""

COST_QUALITY = """**Cost against quality**, measured on the test period of the training data
(synthetic toy wind) by `bench/bench_downscale_quality.py`: each point is one number of sampler
steps (hover for it). Lower is better. The speed-up compares the cheapest configuration of each
method that reaches the same quality, not the same number of steps."""

TIMINGS = """**Wall time per stage** on this server for this request. TAUDiff spends a little in
the mean model and the rest in a small residual diffusion; the baseline diffuses the whole fine
field. Times include every sample and frame."""
