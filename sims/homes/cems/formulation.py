"""The CEMS day model: written in pyomo, built once per shape, re-solved with HiGHS directly.

One :class:`DayModel` holds a pyomo ``ConcreteModel`` for a horizon of ``n_steps`` steps of
``step_h`` hours with ``n_slots`` appliance slots of up to ``max_cycle`` steps each. Every
home-specific number (prices, forecasts, device ratings, windows, band) is a mutable
``Param``, so a worker builds the model once and only changes numbers between homes.

Formulation (per step ``t``; all variables >= 0 unless stated; ``dt = step_h``)
-------------------------------------------------------------------------------
balance   imp - exp = base - pv + curt + ch - dis + ev - evd + app + th
battery   soc[t+1] = soc[t] + dt * (eta_c * ch - dis / eta_d);
          soc[0] = soc_init, soc[n] = soc_end, soc_min <= soc <= soc_max [kWh]
EV        cum[t] = cum[t-1] + dt * (ev - evd / ETA_V2G)  (energy added since midnight);
          ev <= charger * plugged[t]; the bounds of ``cum`` encode every session: during
          session k, ``E_1 + .. + E_{k-1} - reserve_k <= cum <= E_1 + .. + E_k`` and at its
          departure ``cum = E_1 + .. + E_k`` (energy by departure, no over-charging into the
          next trip); ``evd`` (V2G) has upper bound 0 unless the EV allows V2G
appliance app[t] = sum_a sum_j profile[a, j] * s[a, t - j];  sum_t s[a, t] = active[a];
          s binary, s[a, t] <= allowed[a, t] (starts whose cycle fits the window)
thermal   th <= rated; e[t+1] = th_a * e[t] + th_gain * (th[t] - th_ref[t])  (stored heat
          of the building relative to the uncontrolled reference, kWh; ``th_a = exp(-dt/tau)``,
          ``th_gain = COP tau (1 - th_a)``, see :class:`sims.homes.cems.assets.ThermalStore`);
          e_lb <= e <= e_ub (the comfort band); e[n] - e[0] = th_cyc (0: the day ends with
          the heat it started with, a periodic day); e[0..start] fixed to the initial state
          when one is given, else e[0] is free in the band. The ideal store (no building)
          has th_a = 1, th_gain = dt, e[0] = 0 and no band: the daily energy only,
          sum_t dt * th = sum_t dt * th_ref;
          sum_t dt * th >= energy (the reference's): with the periodic day this is
          sum_t e[t] >= 0, the day's mean indoor temperature at least the set point, so the
          CEMS moves heat in time but never saves by running the house colder
band      bmin - vd <= imp - exp <= bmax + vu   (soft, vu and vd paid at the penalty)
objective dt * sum(c_imp * imp - c_exp * exp) + comfort + band penalty + 1e-6 * dt * (ch + dis
          + curt); comfort = willingness / 2 * dt * |ev - ev_ref| + |th - th_ref| (split in
          positive and negative deviation variables) + a cost per appliance start away from
          its preferred start.

Why no binaries for import/export and charge/discharge
------------------------------------------------------
*Import and export.* Take a feasible point with ``imp > 0`` and ``exp > 0`` at some step and
lower both by ``d = min(imp, exp)``. The balance, the band (it only sees ``imp - exp``) and the
connection limits still hold, and the objective changes by ``-dt * d * (p_imp - p_exp) < 0``
because the tariff keeps ``p_imp > p_exp`` at every step (:meth:`CemsInput.problems` rejects
any other tariff; a price signal is added to both prices, so it keeps the difference). Hence no
optimum imports and exports in the same step.

*Charge and discharge.* With ``ch > 0`` and ``dis > 0`` at a step, lower ``ch`` by ``d`` and
``dis`` by ``d * eta_c * eta_d``: the state of charge is unchanged, the throughput cost drops by
``1e-6 * dt * d * (1 + eta_c eta_d) > 0`` and the home's consumption drops by
``d * (1 - eta_c eta_d) >= 0``. Consuming less never costs more: the surplus can go to
export (earning ``p_exp``), lower the import (saving ``p_imp > p_exp``), or, if the export
price is negative or the export limit binds, be curtailed at a cost of 1e-6 per kWh; so the
new point is strictly cheaper. The same holds for the EV with V2G (``ETA_V2G < 1``, and the
comfort term sees ``ev - evd`` only through ``|ev - evd - ref|``, which the change lowers or
keeps). The argument needs the import price to be >= 0 (a negative import price pays the
home to waste energy through losses); :func:`sims.homes.cems.plan.plan_day` checks the solution for
simultaneous flows and reports them in ``Plan.reason`` if they ever occur.

Appliance start times are the only binaries.

Solving
-------
:meth:`DayModel.solve` writes the new numbers and solves. Two update paths, same model:

``"direct"`` (default)
    pyomo's persistent APPSI interface builds the HiGHS model once (the template); its arrays
    and the position of every home-specific number (column/row indices from the interface's
    maps) are kept, in this process and in the derived disk cache (:mod:`sims.cache`, kind
    ``cems_template``, keyed by this file's source and the pyomo and highspy versions), so a
    new process reads them back in milliseconds and never imports pyomo (building costs
    pyomo's import, ~0.5 s, and the model, 0.2-0.7 s, in every process and pool worker). Each
    solve copies the arrays, writes the numbers with numpy and passes HiGHS the fresh model
    (the array form of ``passModel``, ~0.7 ms in all), runs it and reads the primal values as
    arrays. The model HiGHS receives is the same, array for array, whether the template was
    just built or read back (``tests/cems/test_template.py``).
    A fresh model, rather than in-place changes, makes every solve independent of
    the homes solved before (in-place coefficient changes reorder the matrix and warm starts
    carry over, which broke ties differently). The pyomo Params are not updated.
``"pyomo"``
    Sets the pyomo Params and lets APPSI propagate them (``update_params``) and solve with
    ``load_solution=False``; kept to cross-check the direct path and to measure its cost
    (not order-independent: it changes the HiGHS model in place). Its pyomo model and HiGHS
    instance are built on its first use (or kept from building the template).

Both check the termination condition before reading any value.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import highspy
import numpy as np

from sims import cache

if TYPE_CHECKING:  # pyomo is imported only to build a template or for the "pyomo" path
    import pyomo.environ as pyo

__all__ = ["BIG_KW", "ETA_V2G", "HIGHS_OPTIONS", "DayModel", "ModelData", "RawSolution"]

ETA_V2G = 0.9
"""Efficiency of V2G discharge, vehicle battery to home [-]."""
BIG_KW = 1.0e4
"""Stands for an absent band limit [kW] (presolve drops the row)."""
HIGHS_OPTIONS: dict = {
    # Measured on 80 random homes: the MIP time is spent proving optimality at the root,
    # not finding solutions; these primal heuristics cost more than they save here.
    "mip_heuristic_run_feasibility_jump": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_rins": False,
}
"""HiGHS options used unless the caller gives others."""
EPS_THROUGHPUT = 1.0e-6
"""Tie-breaking cost on battery throughput and curtailment [EUR/kWh]."""


@dataclass
class ModelData:
    """All numbers of one solve, as arrays (see the module docstring for their meaning).

    Costs are objective coefficients per variable and step (already multiplied by ``dt``)
    [EUR/kW per step]; powers [kW]; energies [kWh].
    """

    c_imp: np.ndarray
    c_exp: np.ndarray  # revenue coefficient (positive: export earns)
    rhs_bal: np.ndarray
    imp_ub: np.ndarray
    exp_ub: np.ndarray
    curt_ub: np.ndarray
    ch_ub: np.ndarray
    dis_ub: np.ndarray
    eta_c: float
    eta_d: float
    soc_lb: np.ndarray  # n + 1
    soc_ub: np.ndarray  # n + 1
    ev_ub: np.ndarray
    evd_ub: np.ndarray
    cum_lb: np.ndarray
    cum_ub: np.ndarray
    ev_ref: np.ndarray
    th_ub: np.ndarray
    th_energy: float  # least electrical energy over the day [kWh]
    th_a: float  # decay of the stored heat per step [-]
    th_gain: float  # stored heat per kW of deviation over one step [kWh/kW]
    th_rhs: np.ndarray  # right-hand side of the store equation per step [kWh]
    e_lb: np.ndarray  # n + 1, stored heat [kWh]
    e_ub: np.ndarray  # n + 1
    th_cyc: float  # e[n] - e[0] [kWh]
    th_ref: np.ndarray
    c_dev: float
    s_ub: np.ndarray  # (slots, n) 0/1
    s_cost: np.ndarray  # (slots, n)
    active: np.ndarray  # (slots,)
    profile: np.ndarray  # (slots, max_cycle)
    bmin: np.ndarray
    bmax: np.ndarray
    c_band: float


@dataclass
class RawSolution:
    """Primal values of one solve, or why there are none.

    Attributes
    ----------
    ok
        A solution satisfying the optimality gap was found.
    status
        Termination condition (``"optimal"``, ``"infeasible"``, ``"maxTimeLimit"``...).
    values
        Variable name -> values per step (``soc`` and ``e`` have n + 1 values, ``s`` is
        (slots, n));
        empty when ``ok`` is false.
    objective, bound
        Objective value and best bound [EUR]; NaN when unknown.
    gap
        Relative MIP gap reached (0 for an LP solved to optimality) [-].
    update_s, solve_s, read_s
        Time to write the numbers, to run HiGHS, to read the solution [s] (wall clock).
    solve_cpu_s
        CPU time of the HiGHS run [s] (robust to other processes on the machine).
    """

    ok: bool
    status: str
    values: dict[str, np.ndarray]
    objective: float
    bound: float
    gap: float
    update_s: float
    solve_s: float
    read_s: float
    solve_cpu_s: float = float("nan")


_STEP_VARS = (
    "imp", "exp", "curt", "ch", "dis", "ev", "evd", "cum", "evdp", "evdn",
    "th", "thdp", "thdn", "app", "vu", "vd",
)  # fmt: skip


class _PyomoDay:
    """The pyomo model of one shape and its persistent APPSI HiGHS instance.

    The source of the template (:func:`_template_of`) and the ``"pyomo"`` reference path.
    Built only when the template is not in the disk cache, or on the first ``"pyomo"`` solve.
    """

    def __init__(self, n_steps: int, step_h: float, n_slots: int, max_cycle: int,
                 mip_rel_gap: float, time_limit_s: float, options: dict):
        from pyomo.contrib.appsi.solvers.highs import Highs

        t0 = time.perf_counter()
        self.n, self.dt, self.n_slots, self.max_cycle = n_steps, step_h, n_slots, max_cycle
        self.time_limit_s = time_limit_s
        self.model = self._build()
        self.opt = Highs()
        self.opt.config.load_solution = False
        self.opt.config.mip_gap = mip_rel_gap
        self.opt.config.time_limit = time_limit_s
        self.opt.highs_options = {"threads": 1, "output_flag": False}
        self.opt.set_instance(self.model)
        self.opt.update_config.update_params = True
        self.opt.update_config.check_for_new_or_removed_constraints = False
        self.opt.update_config.check_for_new_or_removed_vars = False
        self.opt.update_config.check_for_new_or_removed_params = False
        self.opt.update_config.check_for_new_objective = False
        self.opt.update_config.update_constraints = False
        self.opt.update_config.update_vars = False
        self.opt.update_config.update_named_expressions = False
        self.opt.update_config.update_objective = False
        self.highs: highspy.Highs = self.opt._solver_model
        _set_options(self.highs, options)
        self._index()
        self.build_s = time.perf_counter() - t0

    # ------------------------------------------------------------------ build
    def _build(self) -> pyo.ConcreteModel:
        import pyomo.environ as pyo

        n, dt, A, L = self.n, self.dt, self.n_slots, self.max_cycle
        m = pyo.ConcreteModel(name="cems_day")
        m.T = pyo.RangeSet(0, n - 1)
        m.S = pyo.RangeSet(0, n)
        m.A = pyo.RangeSet(0, A - 1)
        m.J = pyo.RangeSet(0, L - 1)
        P = dict(mutable=True)
        m.c_imp = pyo.Param(m.T, initialize=0.2 * dt, **P)
        m.c_exp = pyo.Param(m.T, initialize=0.05 * dt, **P)
        m.rhs_bal = pyo.Param(m.T, initialize=0.0, **P)
        m.imp_ub = pyo.Param(m.T, initialize=23.0, **P)
        m.exp_ub = pyo.Param(m.T, initialize=23.0, **P)
        m.curt_ub = pyo.Param(m.T, initialize=0.0, **P)
        m.ch_ub = pyo.Param(m.T, initialize=0.0, **P)
        m.dis_ub = pyo.Param(m.T, initialize=0.0, **P)
        m.eta_c = pyo.Param(initialize=0.95, **P)
        m.eta_d = pyo.Param(initialize=0.95, **P)
        m.soc_lb = pyo.Param(m.S, initialize=0.0, **P)
        m.soc_ub = pyo.Param(m.S, initialize=0.0, **P)
        m.ev_ub = pyo.Param(m.T, initialize=0.0, **P)
        m.evd_ub = pyo.Param(m.T, initialize=0.0, **P)
        m.cum_lb = pyo.Param(m.T, initialize=0.0, **P)
        m.cum_ub = pyo.Param(m.T, initialize=0.0, **P)
        m.ev_ref = pyo.Param(m.T, initialize=0.0, **P)
        m.th_ub = pyo.Param(m.T, initialize=0.0, **P)
        m.th_energy = pyo.Param(initialize=0.0, **P)
        # nonzero: both coefficients must exist in the template matrix
        m.th_a = pyo.Param(initialize=0.99, **P)
        m.th_gain = pyo.Param(initialize=0.25, **P)
        m.th_rhs = pyo.Param(m.T, initialize=0.0, **P)
        m.e_lb = pyo.Param(m.S, initialize=0.0, **P)
        m.e_ub = pyo.Param(m.S, initialize=0.0, **P)
        m.th_cyc = pyo.Param(initialize=0.0, **P)
        m.th_ref = pyo.Param(m.T, initialize=0.0, **P)
        m.c_dev = pyo.Param(initialize=0.0, **P)
        m.s_ub = pyo.Param(m.A, m.T, initialize=0.0, **P)
        m.s_cost = pyo.Param(m.A, m.T, initialize=0.0, **P)
        m.app_active = pyo.Param(m.A, initialize=0.0, **P)
        # 1.0, not 0: every cycle coefficient must exist in the template matrix
        m.profile = pyo.Param(m.A, m.J, initialize=1.0, **P)
        m.bmin = pyo.Param(m.T, initialize=-BIG_KW, **P)
        m.bmax = pyo.Param(m.T, initialize=BIG_KW, **P)
        m.c_band = pyo.Param(initialize=0.0, **P)

        nn = pyo.NonNegativeReals
        m.imp = pyo.Var(m.T, within=nn, bounds=lambda m, t: (0, m.imp_ub[t]))
        m.exp = pyo.Var(m.T, within=nn, bounds=lambda m, t: (0, m.exp_ub[t]))
        m.curt = pyo.Var(m.T, within=nn, bounds=lambda m, t: (0, m.curt_ub[t]))
        m.ch = pyo.Var(m.T, within=nn, bounds=lambda m, t: (0, m.ch_ub[t]))
        m.dis = pyo.Var(m.T, within=nn, bounds=lambda m, t: (0, m.dis_ub[t]))
        m.soc = pyo.Var(m.S, bounds=lambda m, t: (m.soc_lb[t], m.soc_ub[t]))
        m.ev = pyo.Var(m.T, within=nn, bounds=lambda m, t: (0, m.ev_ub[t]))
        m.evd = pyo.Var(m.T, within=nn, bounds=lambda m, t: (0, m.evd_ub[t]))
        m.cum = pyo.Var(m.T, bounds=lambda m, t: (m.cum_lb[t], m.cum_ub[t]))
        m.evdp = pyo.Var(m.T, within=nn)
        m.evdn = pyo.Var(m.T, within=nn)
        m.th = pyo.Var(m.T, within=nn, bounds=lambda m, t: (0, m.th_ub[t]))
        m.thdp = pyo.Var(m.T, within=nn)
        m.thdn = pyo.Var(m.T, within=nn)
        m.e = pyo.Var(m.S, bounds=lambda m, t: (m.e_lb[t], m.e_ub[t]))
        m.app = pyo.Var(m.T, within=nn)
        m.s = pyo.Var(m.A, m.T, within=pyo.Binary, bounds=lambda m, a, t: (0, m.s_ub[a, t]))
        m.vu = pyo.Var(m.T, within=nn)
        m.vd = pyo.Var(m.T, within=nn)

        m.bal = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                m.imp[t]
                - m.exp[t]
                - m.curt[t]
                - m.ch[t]
                + m.dis[t]
                - m.ev[t]
                + m.evd[t]
                - m.app[t]
                - m.th[t]
                == m.rhs_bal[t]
            ),
        )
        m.socd = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                m.soc[t + 1] - m.soc[t] - dt * m.eta_c * m.ch[t] + (dt / m.eta_d) * m.dis[t] == 0
            ),
        )
        m.cumd = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                m.cum[t] - (m.cum[t - 1] if t > 0 else 0) - dt * m.ev[t] + (dt / ETA_V2G) * m.evd[t]
                == 0
            ),
        )
        m.evdev = pyo.Constraint(
            m.T, rule=lambda m, t: m.ev[t] - m.evd[t] - m.evdp[t] + m.evdn[t] == m.ev_ref[t]
        )
        m.thd = pyo.Constraint(
            m.T,
            rule=lambda m, t: m.e[t + 1] - m.th_a * m.e[t] - m.th_gain * m.th[t] == m.th_rhs[t],
        )
        m.thcyc = pyo.Constraint(expr=m.e[n] - m.e[0] == m.th_cyc)
        m.thsum = pyo.Constraint(expr=sum(dt * m.th[t] for t in m.T) >= m.th_energy)
        m.thdev = pyo.Constraint(
            m.T, rule=lambda m, t: m.th[t] - m.thdp[t] + m.thdn[t] == m.th_ref[t]
        )
        m.once = pyo.Constraint(
            m.A, rule=lambda m, a: sum(m.s[a, t] for t in m.T) == m.app_active[a]
        )
        m.appd = pyo.Constraint(
            m.T,
            rule=lambda m, t: (
                m.app[t]
                - sum(m.profile[a, j] * m.s[a, t - j] for a in m.A for j in m.J if t - j >= 0)
                == 0
            ),
        )
        m.band_hi = pyo.Constraint(
            m.T, rule=lambda m, t: m.imp[t] - m.exp[t] - m.vu[t] <= m.bmax[t]
        )
        m.band_lo = pyo.Constraint(
            m.T, rule=lambda m, t: m.imp[t] - m.exp[t] + m.vd[t] >= m.bmin[t]
        )
        m.obj = pyo.Objective(
            expr=sum(
                m.c_imp[t] * m.imp[t]
                - m.c_exp[t] * m.exp[t]
                + m.c_dev * (m.evdp[t] + m.evdn[t] + m.thdp[t] + m.thdn[t])
                + m.c_band * (m.vu[t] + m.vd[t])
                + EPS_THROUGHPUT * dt * (m.ch[t] + m.dis[t] + m.curt[t])
                for t in m.T
            )
            + sum(m.s_cost[a, t] * m.s[a, t] for a in m.A for t in m.T),
            sense=pyo.minimize,
        )
        return m

    def _index(self) -> None:
        """Column and row indices of every variable and constraint family in HiGHS."""
        m = self.model
        vmap = self.opt._pyomo_var_to_solver_var_map
        cmap = self.opt._pyomo_con_to_solver_con_map
        T = range(self.n)
        self.col = {nm: np.array([vmap[id(getattr(m, nm)[t])] for t in T]) for nm in _STEP_VARS}
        self.col["soc"] = np.array([vmap[id(m.soc[t])] for t in range(self.n + 1)])
        self.col["e"] = np.array([vmap[id(m.e[t])] for t in range(self.n + 1)])
        self.col["s"] = np.array([[vmap[id(m.s[a, t])] for t in T] for a in range(self.n_slots)])
        self.row = {
            nm: np.array([cmap[getattr(m, nm)[t]] for t in T])
            for nm in ("bal", "socd", "evdev", "thdev", "thd", "band_hi", "band_lo")
        }
        self.row["thcyc"] = np.array([cmap[m.thcyc]])
        self.row["thsum"] = np.array([cmap[m.thsum]])
        self.row["once"] = np.array([cmap[m.once[a]] for a in range(self.n_slots)])
        self.row["appd"] = np.array([cmap[m.appd[t]] for t in T])

    def template(self) -> dict:
        """The HiGHS model as built from pyomo (arrays), and where each number goes."""
        lp = self.highs.getLp()
        mat = lp.a_matrix_
        start, index = np.asarray(mat.start_), np.asarray(mat.index_)
        colwise = mat.format_ == highspy.MatrixFormat.kColwise
        pos = {}  # (row, col) -> position in the value array
        for major in range(lp.num_col_ if colwise else lp.num_row_):
            for k in range(start[major], start[major + 1]):
                key = (int(index[k]), major) if colwise else (major, int(index[k]))
                pos[key] = k
        c, r, n = self.col, self.row, self.n
        app = np.full((self.n_slots, self.max_cycle, n), -1, dtype=np.int64)
        for a in range(self.n_slots):
            for j in range(self.max_cycle):
                for t in range(j, n):
                    app[a, j, t] = pos[(r["appd"][t], c["s"][a, t - j])]
        return {
            "num_col": int(lp.num_col_), "num_row": int(lp.num_row_),
            "sense": int(lp.sense_), "offset": float(lp.offset_),
            "cost": np.array(lp.col_cost_, dtype=float),
            "lb": np.array(lp.col_lower_, dtype=float),
            "ub": np.array(lp.col_upper_, dtype=float),
            "rlo": np.array(lp.row_lower_, dtype=float),
            "rup": np.array(lp.row_upper_, dtype=float),
            "format": int(mat.format_), "start": np.array(start, dtype=np.int32),
            "index": np.array(index, dtype=np.int32),
            "value": np.array(mat.value_, dtype=float),
            "integrality": np.array([int(v) for v in lp.integrality_], dtype=np.int8),
            "col": c, "row": r,
            "pos_eta_c": np.array([pos[(r["socd"][t], c["ch"][t])] for t in range(n)]),
            "pos_eta_d": np.array([pos[(r["socd"][t], c["dis"][t])] for t in range(n)]),
            "pos_th_a": np.array([pos[(r["thd"][t], c["e"][t])] for t in range(n)]),
            "pos_th_gain": np.array([pos[(r["thd"][t], c["th"][t])] for t in range(n)]),
            "pos_app": app,
        }  # fmt: skip

    def set_params(self, d: ModelData) -> None:
        """Write ``d`` into the pyomo Params."""
        m = self.model
        for nm in ("c_imp", "c_exp", "rhs_bal", "imp_ub", "exp_ub", "curt_ub", "ch_ub",
                   "dis_ub", "ev_ub", "evd_ub", "cum_lb", "cum_ub", "ev_ref", "th_ub",
                   "th_ref", "th_rhs", "bmin", "bmax", "soc_lb", "soc_ub", "e_lb",
                   "e_ub"):  # fmt: skip
            getattr(m, nm).store_values(dict(enumerate(getattr(d, nm).tolist())))
        for nm in ("eta_c", "eta_d", "th_energy", "th_a", "th_gain", "th_cyc", "c_dev",
                   "c_band"):
            getattr(m, nm).set_value(float(getattr(d, nm)))
        for nm in ("s_ub", "s_cost", "profile"):
            arr = getattr(d, nm)
            getattr(m, nm).store_values(
                {(a, t): float(arr[a, t]) for a in range(arr.shape[0]) for t in range(arr.shape[1])}
            )
        m.app_active.store_values(dict(enumerate(d.active.tolist())))


def _digest(d: ModelData) -> bytes:
    """A digest of every number of a solve (bit for bit)."""
    h = hashlib.blake2b(digest_size=20)
    for f in fields(d):
        h.update(np.ascontiguousarray(getattr(d, f.name), dtype=np.float64).tobytes())
        h.update(b"|")
    return h.digest()


def _set_options(h: highspy.Highs, options: dict) -> None:
    for k, v in options.items():
        if h.setOptionValue(k, v) != highspy.HighsStatus.kOk:
            raise ValueError(f"HiGHS rejected option {k}={v!r}")


TEMPLATE_VERSION = "1"
"""Bump to invalidate the cached templates when their layout changes."""
_TEMPLATES: dict[tuple, dict] = {}


def _template_key(shape: tuple) -> str:
    versions = []
    for dist in ("pyomo", "highspy"):
        try:
            versions.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions.append(f"{dist}=?")
    return cache.digest(TEMPLATE_VERSION, Path(__file__).read_bytes(), repr(shape), *versions)


def _template_of(shape: tuple, build) -> tuple[dict, _PyomoDay | None]:
    """The template of ``shape`` (steps, step, slots, cycle): from this process, the disk
    cache (:mod:`sims.cache`, keyed by this file's source and the pyomo and HiGHS versions) or
    built through pyomo (``build()`` gives the :class:`_PyomoDay`, kept for the pyomo path)."""
    tpl = _TEMPLATES.get(shape)
    if tpl is not None:
        return tpl, None
    path = cache.cache_path("cems_template", _template_key(shape))
    tpl = cache.load(path)
    built = None
    if not (isinstance(tpl, dict) and tpl.get("shape") == shape):
        built = build()
        tpl = {**built.template(), "shape": shape}
        cache.store(path, tpl)
    _TEMPLATES[shape] = tpl
    return tpl, built


class DayModel:
    """A CEMS day model of one shape, built once, solved many times.

    Parameters
    ----------
    n_steps
        Steps in the horizon (96 for a day of 15 min).
    step_h
        Step length [h].
    n_slots
        Appliance slots (appliances per home at most).
    max_cycle
        Longest appliance cycle [steps].
    mip_rel_gap
        HiGHS relative MIP gap [-].
    time_limit_s
        HiGHS time limit per solve [s].
    highs_options
        Further HiGHS options (default :data:`HIGHS_OPTIONS`).
    memo_size
        Optimal solutions kept to answer a repeated solve (see :meth:`solve`; 0: none).
    """

    def __init__(
        self,
        n_steps: int,
        step_h: float,
        n_slots: int = 3,
        max_cycle: int = 12,
        mip_rel_gap: float = 1e-4,
        time_limit_s: float = 5.0,
        highs_options: dict | None = None,
        memo_size: int = 0,
    ):
        t0 = time.perf_counter()
        self.n = n_steps
        self.dt = step_h
        self.n_slots = n_slots
        self.max_cycle = max_cycle
        self.mip_rel_gap = mip_rel_gap
        self.time_limit_s = time_limit_s
        self._options = {
            "threads": 1,
            "output_flag": False,
            "mip_rel_gap": mip_rel_gap,
            "time_limit": time_limit_s,
            **(HIGHS_OPTIONS if highs_options is None else highs_options),
        }
        shape = (n_steps, round(step_h, 12), n_slots, max_cycle)
        tpl, self._pyomo = _template_of(shape, self._build_pyomo)
        t1 = time.perf_counter()
        self.col, self.row = tpl["col"], tpl["row"]
        self._cost0, self._lb0, self._ub0 = tpl["cost"], tpl["lb"], tpl["ub"]
        self._rlo0, self._rup0, self._val0 = tpl["rlo"], tpl["rup"], tpl["value"]
        self._pos_eta_c, self._pos_eta_d = tpl["pos_eta_c"], tpl["pos_eta_d"]
        self._pos_th_a, self._pos_th_gain = tpl["pos_th_a"], tpl["pos_th_gain"]
        self._pos_app = tpl["pos_app"]
        self._int0_arr = np.ascontiguousarray(tpl["integrality"], dtype=np.int32)
        self._cont_arr = np.zeros(tpl["num_col"], dtype=np.int32)  # all kContinuous
        self._num_col, self._num_row = tpl["num_col"], tpl["num_row"]
        self._num_nz = int(tpl["start"][-1])
        self._format, self._sense, self._offset = tpl["format"], tpl["sense"], tpl["offset"]
        self._start = np.ascontiguousarray(tpl["start"], dtype=np.int32)
        self._index = np.ascontiguousarray(tpl["index"], dtype=np.int32)
        self.highs = highspy.Highs()
        _set_options(self.highs, self._options)
        self.last_solve_cpu_s = 0.0
        self.memo_size = int(memo_size)
        self.memo_hits = 0
        self._memo: OrderedDict[bytes, RawSolution] = OrderedDict()
        self.build_s = time.perf_counter() - t0
        self.pyomo_build_s = self._pyomo.build_s if self._pyomo is not None else 0.0
        self.template_s = t1 - t0

    def _build_pyomo(self) -> _PyomoDay:
        return _PyomoDay(self.n, self.dt, self.n_slots, self.max_cycle, self.mip_rel_gap,
                         self.time_limit_s, self._options)

    # ----------------------------------------------------------------- update
    def _set_direct(self, d: ModelData) -> None:
        """Pass HiGHS a fresh model: the template with this solve's numbers.

        A fresh model (~0.1 ms) rather than in-place changes keeps every solve independent of
        the ones before: no warm start and no matrix entries reordered by earlier changes, so
        a home's plan is the same whichever homes the process planned before.
        """
        c, r, dt = self.col, self.row, self.dt
        cost, lb, ub = self._cost0.copy(), self._lb0.copy(), self._ub0.copy()
        rlo, rup, val = self._rlo0.copy(), self._rup0.copy(), self._val0.copy()

        def bounds(name, lo, hi):
            lb[c[name]] = lo
            ub[c[name]] = hi

        for name, hi in (
            ("imp", d.imp_ub), ("exp", d.exp_ub), ("curt", d.curt_ub), ("ch", d.ch_ub),
            ("dis", d.dis_ub), ("ev", d.ev_ub), ("evd", d.evd_ub), ("th", d.th_ub),
            ("s", d.s_ub),
        ):  # fmt: skip
            bounds(name, 0.0, hi)
        bounds("soc", d.soc_lb, d.soc_ub)
        bounds("cum", d.cum_lb, d.cum_ub)
        bounds("e", d.e_lb, d.e_ub)
        cost[c["imp"]] = d.c_imp
        cost[c["exp"]] = -d.c_exp
        for name in ("evdp", "evdn", "thdp", "thdn"):
            cost[c[name]] = d.c_dev
        cost[c["vu"]] = d.c_band
        cost[c["vd"]] = d.c_band
        cost[c["s"]] = d.s_cost
        for name, lo, hi in (
            ("bal", d.rhs_bal, d.rhs_bal), ("evdev", d.ev_ref, d.ev_ref),
            ("thdev", d.th_ref, d.th_ref), ("thd", d.th_rhs, d.th_rhs),
            ("thcyc", d.th_cyc, d.th_cyc), ("thsum", d.th_energy, highspy.kHighsInf),
            ("once", d.active, d.active), ("band_hi", -highspy.kHighsInf, d.bmax),
            ("band_lo", d.bmin, highspy.kHighsInf),
        ):  # fmt: skip
            rlo[r[name]] = lo
            rup[r[name]] = hi
        val[self._pos_eta_c] = -dt * d.eta_c
        val[self._pos_eta_d] = dt / d.eta_d
        val[self._pos_th_a] = -d.th_a
        val[self._pos_th_gain] = -d.th_gain
        ok = self._pos_app >= 0
        val[self._pos_app[ok]] = np.broadcast_to(-d.profile[:, :, None], self._pos_app.shape)[ok]
        # without appliance cycles the model is an LP: skip the MIP machinery
        integrality = self._int0_arr if d.active.any() else self._cont_arr
        # the array form of passModel: the same model as a HighsLp with these arrays, without
        # pybind11's element-by-element copy of the matrix values (~1 ms)
        status = self.highs.passModel(
            self._num_col, self._num_row, self._num_nz, self._format, self._sense,
            self._offset, cost, lb, ub, rlo, rup, self._start, self._index, val, integrality,
        )  # fmt: skip
        if status == highspy.HighsStatus.kError:
            raise RuntimeError("HiGHS rejected the CEMS day model")

    # ------------------------------------------------------------------ solve
    def solve(self, d: ModelData, path: str = "direct") -> RawSolution:
        """Write ``d`` into the model, solve, check the termination, read the solution.

        Parameters
        ----------
        d
            The numbers of this solve.
        path
            ``"direct"`` or ``"pyomo"`` (see the module docstring).

        With ``memo_size > 0`` a direct solve whose numbers equal, bit for bit, those of one
        of the last ``memo_size`` optimal solves of this model returns that solution (copied;
        its timings zero) instead of solving again: a solve depends only on its numbers (a
        fresh model each time), so the result is the one HiGHS would give. Solves stopped by
        the time limit are never kept (they depend on the machine's speed).
        """
        if path != "direct" or self.memo_size <= 0:
            return self._solve(d, path)
        key = _digest(d)
        hit = self._memo.get(key)
        if hit is not None:
            self._memo.move_to_end(key)
            self.memo_hits += 1
            self.last_solve_cpu_s = 0.0
            return replace(hit, values={k: v.copy() for k, v in hit.values.items()},
                           update_s=0.0, solve_s=0.0, read_s=0.0, solve_cpu_s=0.0)
        raw = self._solve(d, path)
        if raw.ok and raw.status == "optimal":
            self._memo[key] = replace(raw, values={k: v.copy() for k, v in raw.values.items()})
            if len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)
        return raw

    def _solve(self, d: ModelData, path: str) -> RawSolution:
        t0 = time.perf_counter()
        c0 = time.process_time()
        if path == "direct":
            self._set_direct(d)
            t1 = time.perf_counter()
            c0 = time.process_time()
            self._arm_time_limit()
            self.highs.run()
            status = self._status()
        elif path == "pyomo":
            if self._pyomo is None:
                self._pyomo = self._build_pyomo()
            pm = self._pyomo
            pm.set_params(d)
            h = pm.highs
            t1 = time.perf_counter()
            c0 = time.process_time()
            h.clearSolver()
            pm.opt.config.time_limit = h.getRunTime() + self.time_limit_s
            res = pm.opt.solve(pm.model)  # update_params only (see update_config)
            status = res.termination_condition.name
        else:
            raise ValueError(f"unknown update path {path!r}")
        t2 = time.perf_counter()
        self.last_solve_cpu_s = time.process_time() - c0
        h = self.highs if path == "direct" else self._pyomo.highs
        info = h.getInfo()
        sol = h.getSolution()
        ok = sol.value_valid and status in ("optimal", "maxTimeLimit")
        if not ok:
            return RawSolution(
                False, status, {}, float("nan"), float("nan"), float("nan"),
                t1 - t0, t2 - t1, 0.0,
            )  # fmt: skip
        x = np.asarray(sol.col_value)
        vals = {nm: x[idx] for nm, idx in self.col.items()}
        obj = float(info.objective_function_value)
        if info.mip_node_count >= 0:
            bound = float(info.mip_dual_bound)
            gap = float(info.mip_gap)
        else:
            bound, gap = obj, 0.0
        return RawSolution(
            True,
            status,
            vals,
            obj,
            bound,
            gap,
            t1 - t0,
            t2 - t1,
            time.perf_counter() - t2,
            self.last_solve_cpu_s,
        )

    def _arm_time_limit(self) -> None:
        """Allow this solve ``time_limit_s`` seconds.

        HiGHS compares its ``time_limit`` with the run time accumulated over *every* run of
        the instance (a model pass or ``clearSolver`` does not reset it): a fixed limit would
        make every solve fail once a worker had solved that long in total.
        """
        self.highs.setOptionValue("time_limit", self.highs.getRunTime() + self.time_limit_s)

    def _status(self) -> str:
        st = self.highs.getModelStatus()
        ms = highspy.HighsModelStatus
        table = {  # the names of pyomo's APPSI TerminationCondition
            ms.kOptimal: "optimal",
            ms.kInfeasible: "infeasible",
            ms.kUnboundedOrInfeasible: "infeasibleOrUnbounded",
            ms.kUnbounded: "unbounded",
            ms.kTimeLimit: "maxTimeLimit",
            ms.kIterationLimit: "maxIterations",
        }
        return table.get(st, "error")
