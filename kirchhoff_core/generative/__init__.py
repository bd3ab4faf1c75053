"""Generative circuits: a KirchhoffNet as a continuous normalising flow.

A circuit whose slices all have the data's width maps initial voltages z = v(0) to x = v(T). With
the state augmented by a(t), da/dt = tr(dv'/dv), the log-determinant of that map is
``logdet = a(T) - a(0) = integral_0^T tr J dt`` and

    log p(x) = log N(z; 0, I) - logdet,

computed by integrating x backwards from T to 0 (``encode``); sampling integrates Gaussian noise
forwards (``decode`` / ``sample``). Two tasks train it (``GenerativeTrainer``):

- ``generate``: maximum likelihood on fresh samples of a 2-D target (``densities.TARGETS``) every
  step, with the negative log-likelihood of a fixed held-out set as the test metric;
- ``density``: reverse KL to exp(-U) for a Rezende-Mohamed potential (``densities.POTENTIALS``),
  fresh Gaussian noise every step; the reported loss is the KL estimate
  E_q[log q(x) + U(x)] + log Z (Z the normaliser of exp(-U) on the [-4, 4]^2 box).

The Jacobian trace costs O(E) and no autograd pass. With I_e = g_e(v_s, v_d) flowing s -> d and
C dv/dt = -B g(v), J = dv'/dv has diagonal entries summing to

    tr J = sum_e ([d_e != 0] dg_e/dv_d / C_d - [s_e != 0] dg_e/dv_s / C_s)

(``exact_trace``, from the analytic partials in ``devices``). Inside the solver a dense slice does
better still: a device family is I = act(v W + b) s, so tr J = act'(u) . c with the constant vector
c_e = s_e sum_n W[n, e] M[e, n] (M the incidence over C) built once per solve; the trace then costs
one extra vector product on top of the currents. ``hutchinson_trace`` (a seeded Rademacher or
Gaussian probe e, e^T J e, also O(E)) is available as ``trace="hutchinson"``; since the exact trace
is already O(E) here, it is mainly there to compare against.

Solver settings come from ``solvers.SolverConfig`` (same work caps and SolverError on blow-up).
The augmented ODE runs on our lean dopri5 (``integrators``; a backward solve integrates s = -t),
or torchdiffeq for the other methods and for ``adjoint=True``; direct back-propagation otherwise.

Reference facts (``zhengqigao/kirchhoffnet``, ``src/``; see also ``FLOW_PRESETS``): 2-D generation
used fully connected circuits on 3 nodes incl. ground with ShiftTanh2 devices and repeats [25, 25]
(300 devices per slice) or [10, 10] (2spirals), slice boundaries ``t_end`` from
``results/<name>/config.yaml`` (twomoon: ``configs/config_twomoon.yaml``), dopri5 rtol = atol = 1e-4,
adjoint, AdamW, batch 512, Kaiming-normal initialisation. ``main_gen.py`` builds a cosine scheduler
but never steps it, so the learning rate was constant. Density matching (``main_den.py``,
``results/potential{1,2}/config.yaml``) used ShiftTanh1 [10, 10], tolerance 1e-3 and 512 fresh
noise samples per step. Final training NLL from ``results/<name>/metric.yaml``.
"""

from .flow import CircuitFlow, gaussian_baseline_nll, standard_normal_log_prob
from .presets import FLOW_PRESETS, FlowPreset, Pretrained, flow_preset, load_pretrained, pretrained_dir
from .trace import PROBES, TRACES, AugmentedSlice, autograd_trace, exact_trace, hutchinson_trace, make_probe
from .trainer import OPTIMIZERS, TASKS, GenerativeConfig, GenerativeRecord, GenerativeTrainer

__all__ = ["FLOW_PRESETS", "OPTIMIZERS", "PROBES", "TASKS", "TRACES", "AugmentedSlice", "CircuitFlow", "FlowPreset",
           "GenerativeConfig", "GenerativeRecord", "GenerativeTrainer", "Pretrained", "autograd_trace", "exact_trace",
           "flow_preset", "gaussian_baseline_nll", "hutchinson_trace", "load_pretrained", "make_probe",
           "pretrained_dir", "standard_normal_log_prob"]
