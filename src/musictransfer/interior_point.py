"""An exact solver for linear-kernel SVMs: a box-constrained QP by interior points.

libsvm's SMO solver stops at a KKT violation of 1e-3 and, on a linear kernel over
unscaled features with a large C, may need millions of iterations to get there. The
dual of a linear SVM is a quadratic programme whose Hessian ``ZZ'`` has the low rank of
the features (n clips x d features, d small), so an interior-point method solves it to
the optimum (~1e-10), each iteration costing ``O(n d^2)`` rather than ``O(n^3)``. The
grid search (:mod:`musictransfer.svm_grid`) uses it for the linear fits that exhaust
libsvm's iteration budget.

- :func:`solve_box_qp`: the solver of ``min v'ZZ'v / 2 + c'v`` subject to ``a'v = 0``
  and ``0 <= v <= upper``.
- :class:`IPMLinear`: a linear SVR or binary SVC fitted with it, predicting like libsvm.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular


def solve_box_qp(
    Z: np.ndarray,
    c: np.ndarray,
    a: np.ndarray,
    upper: float,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> tuple[np.ndarray, float]:
    """Minimise ``v'ZZ'v / 2 + c'v`` subject to ``a'v = 0`` and ``0 <= v <= upper``.

    The dual of a linear-kernel SVM (SVC: ``Z = y * X``; SVR: ``Z = [X; -X]``) is of
    this form. A Mehrotra predictor-corrector interior-point method; every Newton
    system ``(ZZ' + diag(d)) dv + a dy = r`` is solved through the Woodbury identity
    with a (k x k) triangular factor (k = columns of Z; see :func:`_woodbury`), so an
    iteration costs O(m k^2) rather than O(m^3).

    Stops when the relative dual residual (/10), the equality residual and the
    relative duality gap are all below ``tol``, or when, close to that (1e-6), 5 iterations
    have not improved on the best of them (rounding then dominates: about 1e-9 on these problems).

    Returns
    -------
    v, y
        The optimum and the multiplier of ``a'v = 0``. For an SVM, the decision
        function is ``x'Z'v + y`` (libsvm's ``rho`` is ``-y``).
    """
    m = Z.shape[0]
    u = float(upper)
    # Strictly interior start: v in (0, u), slacks of both bounds positive.
    v = np.full(m, u / 2.0)
    s = u - v
    w_lo = np.ones(m)  # multipliers of v >= 0
    w_hi = np.ones(m)  # multipliers of v <= u
    y = 0.0
    best, best_merit, since_best = (v.copy(), y), np.inf, 0
    for _ in range(max_iter):
        Zv = Z.T @ v
        grad = Z @ Zv + c
        r_dual = grad + a * y - w_lo + w_hi
        r_eq = float(a @ v)
        r_up = v + s - u
        gap = float(v @ w_lo + s @ w_hi)
        mu = gap / (2 * m)
        scale = 1.0 + np.abs(c).max() + np.sqrt(m) * np.abs(grad - c).max()
        merit = max(
            np.abs(r_dual).max() / scale / 10.0,
            abs(r_eq) / (scale * u),
            gap / max(1.0, abs(float(0.5 * Zv @ Zv + c @ v))),
        )
        if merit < best_merit:
            best, best_merit, since_best = (v.copy(), y), merit, 0
        elif best_merit < 1e-6:
            since_best += 1
        # Converged; or rounding has stopped the progress (the Newton systems lose
        # accuracy as 1/d spreads): the best iterate is then as good as it gets.
        if merit < tol or since_best >= 5:
            break
        solve = _woodbury(Z, w_lo / v + w_hi / s)
        h_a = solve(a)

        state = (solve, h_a, a, v, s, w_lo, w_hi, r_dual, r_eq, r_up)
        zero = np.zeros(m)
        dv, ds, dy, dw_lo, dw_hi = _newton_step(state, 0.0, zero, zero)
        # One step length for primal and dual: the quadratic term couples them.
        step = min(1.0, _step(v, dv), _step(s, ds), _step(w_lo, dw_lo), _step(w_hi, dw_hi))
        gap_aff = float(
            (v + step * dv) @ (w_lo + step * dw_lo) + (s + step * ds) @ (w_hi + step * dw_hi)
        )
        sigma = (gap_aff / gap) ** 3
        dv, ds, dy, dw_lo, dw_hi = _newton_step(state, sigma * mu, dv * dw_lo, ds * dw_hi)
        step = min(
            1.0, 0.99 * min(_step(v, dv), _step(s, ds), _step(w_lo, dw_lo), _step(w_hi, dw_hi))
        )
        v = v + step * dv
        s = s + step * ds
        y += step * dy
        w_lo = w_lo + step * dw_lo
        w_hi = w_hi + step * dw_hi
    return best


def _newton_step(
    state: tuple, target: float, corr_lo: np.ndarray, corr_hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
    """One Newton direction of the interior-point iteration.

    Complementarity is driven to ``v * w_lo = target - corr_lo`` and
    ``s * w_hi = target - corr_hi`` (Mehrotra's corrector when ``corr`` is non-zero),
    with ``ds = -dv - r_up`` from ``v + s = u``.
    """
    solve, h_a, a, v, s, w_lo, w_hi, r_dual, r_eq, r_up = state
    rhs = -r_dual + (target - corr_lo) / v - w_lo - (target - corr_hi) / s + w_hi
    rhs -= w_hi * r_up / s
    h_rhs = solve(rhs)
    dy = (float(a @ h_rhs) + r_eq) / float(a @ h_a)
    dv = h_rhs - h_a * dy
    ds = -dv - r_up
    dw_lo = (target - corr_lo - w_lo * dv) / v - w_lo
    dw_hi = (target - corr_hi - w_hi * ds) / s - w_hi
    return dv, ds, dy, dw_lo, dw_hi


def _step(x: np.ndarray, dx: np.ndarray) -> float:
    """Largest step keeping ``x + step * dx >= 0`` (at most 1 / 0.99)."""
    neg = dx < 0
    if not np.any(neg):
        return 1 / 0.99
    return float(min(1 / 0.99, np.min(-x[neg] / dx[neg])))


def _woodbury(Z: np.ndarray, d: np.ndarray):
    """A solver of ``(ZZ' + diag(d)) x = r`` through the Woodbury identity.

    ``I + Z' diag(1/d) Z`` is factorised as R'R by a QR decomposition of
    ``[diag(d)^-1/2 Z; I]`` rather than by Cholesky: near the optimum ``1/d`` spans
    twenty orders of magnitude, and the QR route stays accurate where forming the
    matrix and factorising it loses positive definiteness to rounding.
    """
    inv_d = 1.0 / d
    Zs = Z * np.sqrt(inv_d)[:, None]
    R = np.linalg.qr(np.vstack([Zs, np.eye(Z.shape[1])]), mode="r")
    Zd = Z * inv_d[:, None]

    def solve(r: np.ndarray) -> np.ndarray:
        t = Zd.T @ r
        t = solve_triangular(R, solve_triangular(R, t, trans="T"))
        return r * inv_d - Zd @ t

    return solve


class IPMLinear:
    """A linear SVR or binary SVC solved exactly by :func:`solve_box_qp`, predicting like libsvm.

    Binary only: the grid search brings multiclass problems to it one class pair at a
    time (:func:`musictransfer.svm_grid._one_vs_one`), as libsvm's one-vs-one does.

    Parameters
    ----------
    is_classifier
        SVC (labels, the first of the sorted two is libsvm's +1) or SVR (targets).
    C
        The upper bound of the dual variables (the SVM's C).
    epsilon
        Half-width of the SVR's epsilon-insensitive tube (unused by a classifier): the
        same as the libsvm fits it stands in for.
    """

    def __init__(self, is_classifier: bool, C: float, *, epsilon: float) -> None:
        self.is_classifier = is_classifier
        self.C = C
        self.epsilon = epsilon

    def fit(self, X: np.ndarray, y: np.ndarray) -> IPMLinear:
        """Solve the dual on features ``X`` (n, d) and labels or targets ``y``."""
        if not self.is_classifier:
            n = len(y)
            Z = np.vstack([X, -X])
            c = np.concatenate([self.epsilon - y, self.epsilon + y])
            a = np.concatenate([np.ones(n), -np.ones(n)])
        else:
            # As libsvm in scikit-learn: the first of the sorted classes is labelled +1,
            # and a positive decision predicts it.
            self.classes_ = np.unique(y)
            if len(self.classes_) != 2:
                raise ValueError(f"a binary problem is needed, not {len(self.classes_)} classes")
            a = np.where(y == self.classes_[0], 1.0, -1.0)
            Z = X * a[:, None]
            c = -np.ones(len(y))
        v, b = solve_box_qp(Z, c, a, self.C)
        self.coef_, self.intercept_ = Z.T @ v, b
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Targets, or the class of the decision's sign (positive: the first class)."""
        decision = X @ self.coef_ + self.intercept_
        if not self.is_classifier:
            return decision
        return np.where(decision > 0, self.classes_[0], self.classes_[1])
