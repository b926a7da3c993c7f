"""BG/NBD and Gamma-Gamma recover the parameters of data simulated from their own processes."""

from __future__ import annotations

import numpy as np
import pytest

from c360.analytics.clv import bgnbd_log_likelihood, clv, fit_bgnbd, fit_gamma_gamma

pytestmark = pytest.mark.unit


def _simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, big_t: float, seed: int):  # type: ignore[no-untyped-def]
    """Each customer buys at a Poisson rate λ ~ Gamma(r, α) and, after each purchase, drops out
    with probability p ~ Beta(a, b); observed from their first purchase for ``big_t`` units."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > big_t:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return x, t_x, np.full(n, big_t)


def test_bgnbd_recovers_simulated_parameters() -> None:
    truth = dict(r=0.5, alpha=4.0, a=0.8, b=2.5)
    x, t_x, big_t = _simulate_bgnbd(20_000, **truth, big_t=52.0, seed=1)
    fit = fit_bgnbd(x, t_x, big_t)
    assert fit.r == pytest.approx(truth["r"], rel=0.15)
    assert fit.alpha == pytest.approx(truth["alpha"], rel=0.2)
    assert fit.a == pytest.approx(truth["a"], rel=0.3)
    assert fit.b == pytest.approx(truth["b"], rel=0.35)
    # the fit is a maximum: moving any parameter lowers the likelihood
    best = np.array([fit.r, fit.alpha, fit.a, fit.b])
    for i in range(4):
        worse = best.copy()
        worse[i] *= 1.1
        assert bgnbd_log_likelihood(worse, x, t_x, big_t).sum() < fit.log_likelihood


def test_bgnbd_predicts_holdout_purchases() -> None:
    """Calibrate on the first 52 weeks, predict the next 26: totals agree within 5 %."""
    rng = np.random.default_rng(3)
    # one process per customer over 78 weeks, its purchases split at week 52
    lam = rng.gamma(0.5, 1 / 4.0, 8_000)
    p = rng.beta(0.8, 2.5, 8_000)
    cal_x, cal_tx, hold = np.zeros(8_000), np.zeros(8_000), np.zeros(8_000)
    for i in range(8_000):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > 78:
                break
            if t <= 52:
                cal_x[i] += 1
                cal_tx[i] = t
            else:
                hold[i] += 1
            if rng.random() < p[i]:
                break
    fit = fit_bgnbd(cal_x, cal_tx, np.full(8_000, 52.0))
    pred = fit.expected_purchases(26.0, cal_x, cal_tx, np.full(8_000, 52.0))
    assert pred.sum() == pytest.approx(hold.sum(), rel=0.05)


def test_gamma_gamma_recovers_simulated_parameters_and_clv_is_positive() -> None:
    rng = np.random.default_rng(4)
    p, q, v = 6.0, 4.0, 15.0
    n = 20_000
    nu = rng.gamma(q, 1 / v, n)  # per-customer scale
    x = rng.integers(1, 10, n).astype(float)
    m = np.array([rng.gamma(p, 1 / nu[i], int(k)).mean() for i, k in enumerate(x)])
    fit = fit_gamma_gamma(x, m)
    assert fit.p == pytest.approx(p, rel=0.15)
    assert fit.q == pytest.approx(q, rel=0.2)
    assert fit.v == pytest.approx(v, rel=0.25)
    # population mean spend p*v/(q-1), and each customer's expectation lies between it and their own mean
    pop = fit.p * fit.v / (fit.q - 1)
    e = fit.expected_value(x, m)
    assert np.all((e - pop) * (e - m) <= 1e-9)
    bx, btx, bt = _simulate_bgnbd(2_000, 0.5, 4.0, 0.8, 2.5, big_t=52.0, seed=5)
    bg = fit_bgnbd(bx, btx, bt)
    values = clv(bg, fit, bx, btx, bt, np.full(2_000, pop))
    assert np.all(values >= 0) and values.sum() > 0
    # more repeat purchases, recently, is worth more
    hi = clv(bg, fit, np.array([10.0]), np.array([51.0]), np.array([52.0]), np.array([pop]))
    lo = clv(bg, fit, np.array([1.0]), np.array([5.0]), np.array([52.0]), np.array([pop]))
    assert hi[0] > lo[0]


def test_summary_by_hand() -> None:
    import pyarrow as pa

    from c360.analytics.clv import summarise

    tx = pa.table({"cust": ["a", "a", "a", "a", "b", "c"],
                   "ts": ["2024-01-01", "2024-01-01", "2024-01-15", "2024-02-12", "2024-01-29", "2024-02-20"],
                   "amt": [10.0, 5.0, 20.0, 40.0, 7.0, 9.0]})
    s = {r["customer"]: r for r in summarise(tx, "cust", "ts", "amt", calibration_end="2024-02-12").to_pylist()}
    # a: purchase days Jan 1 (15), Jan 15 (20), Feb 12 (40): two repeats, last at week 6, age 6 weeks
    assert s["a"]["x"] == 2 and s["a"]["t_x"] == 6.0 and s["a"]["T"] == 6.0 and s["a"]["m"] == 30.0
    assert s["b"]["x"] == 0 and s["b"]["t_x"] == 0 and s["b"]["T"] == 2.0 and s["b"]["m"] is None
    assert "c" not in s  # first seen after the calibration end
    days = summarise(tx, "cust", "ts", "amt", unit="day")
    assert {r["customer"]: r["T"] for r in days.to_pylist()}["a"] == 50.0  # ends at the last date, Feb 20


def test_summed_likelihoods_equal_the_per_customer_sums() -> None:
    # the fits sum the likelihoods from sufficient statistics: the same numbers as summing the
    # per-customer definitions, and Gamma-Gamma's gradient is the derivative of its value
    from scipy import optimize

    from c360.analytics.clv import _BgNbdSum, _GammaGammaSum, gamma_gamma_log_likelihood

    rng = np.random.default_rng(7)
    x = rng.integers(0, 6, 500).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 40, 500), 0.0)
    big_t = t_x + rng.uniform(0, 12, 500)
    count = rng.integers(1, 4, 500).astype(float)
    for params in ([0.6, 4.0, 0.8, 2.5], [2.0, 10.0, 0.2, 5.0]):
        expected = -np.sum(count * bgnbd_log_likelihood(np.array(params), x, t_x, big_t))
        assert _BgNbdSum(x, t_x, big_t, count)(np.log(params)) == pytest.approx(expected, rel=1e-12)
    xg = rng.integers(1, 9, 400).astype(float)
    m = rng.gamma(3.0, 20.0, 400)
    nll = _GammaGammaSum(xg, m)
    for params in ([6.0, 4.0, 15.0], [0.7, 2.2, 80.0]):
        value, grad = nll(np.log(params))
        assert value == pytest.approx(-np.sum(gamma_gamma_log_likelihood(np.array(params), xg, m)), rel=1e-12)
        numeric = optimize.approx_fprime(np.log(params), lambda lp: nll(lp)[0], 1e-7)
        assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-3)
