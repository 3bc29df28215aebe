"""The glmjax command: fit a formula to a CSV or Parquet file, check the families'
identities and gradients, run the demo.

    glmjax fit data.csv --formula "y ~ x1 + C(g)" --family poisson [--link log]
               [--weights col] [--offset col] [--l2 0.1] [--l1 0] [--cov-type HC3]
               [--groups col] [--output summary|json|csv]
    glmjax check
    glmjax demo

Exit codes (for shell scripts): 0 success; 1 the fit ran but did not converge, its
maximum-likelihood estimate does not exist (separation), or the check found a mismatch; 2 a
usage error (unknown option, family or link); 3 an input error (missing or unreadable file,
unknown column, bad formula, bad values). Computes in float64.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import warnings
from pathlib import Path

EXIT_OK, EXIT_NOT_CONVERGED, EXIT_USAGE, EXIT_INPUT = 0, 1, 2, 3

LINKS = {"identity": "Identity", "log": "Log", "logit": "Logit", "probit": "Probit",
         "cloglog": "CLogLog", "cauchit": "Cauchit", "inverse": "Inverse",
         "inverse_squared": "InverseSquared", "sqrt": "Sqrt"}


class InputError(Exception):
    """A problem with the user's data or formula (exit code 3)."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    import jax

    jax.config.update("jax_enable_x64", True)  # this program's own setting
    try:
        return args.run(args)
    except _UsageError as err:
        print(f"glmjax {args.command}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (InputError, ValueError) as err:
        print(f"glmjax {args.command}: error: {err}", file=sys.stderr)
        return EXIT_INPUT


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    paragraphs = [" ".join(p.split()) for p in __doc__.split("\n\n")]
    parser = argparse.ArgumentParser(prog="glmjax", description=paragraphs[0],
                                     epilog=paragraphs[2])
    sub = parser.add_subparsers(dest="command")
    fit = sub.add_parser("fit", help="fit a GLM to a CSV or Parquet file")
    fit.add_argument("data", help="a .csv or .parquet file")
    fit.add_argument("--formula", required=True, help='e.g. "y ~ x1 + C(group)"')
    fit.add_argument("--family", required=True,
                     help="gaussian, bernoulli, binomial, poisson, negative_binomial, "
                          "exponential, gamma, inverse_gaussian, tweedie, multinomial, beta, "
                          "dirichlet")
    fit.add_argument("--link", help="identity, log, logit, probit, cloglog, cauchit, inverse, "
                                    "inverse_squared, sqrt, canonical (default: the family's, "
                                    "as R)")
    fit.add_argument("--alpha", type=_number_or_ml, default=None,
                     help="the negative binomial's α (variance μ + αμ²), fixed; default (or "
                          "ml): estimated by maximum likelihood (MASS's glm.nb)")
    fit.add_argument("--power", type=_number_or_ml, default=None,
                     help="the Tweedie power p, 1 < p < 2 (variance φμᵖ), fixed; default (or "
                          "ml): estimated with φ by maximum likelihood")
    fit.add_argument("--cox-reid", action="store_true",
                     help="estimate α or p from the Cox–Reid adjusted profile likelihood "
                          "(edgeR's, DESeq2's and glmGamPoi's)")
    fit.add_argument("--weights", help="column of prior weights")
    fit.add_argument("--offset", help="column of offsets")
    fit.add_argument("--l2", type=float, default=0.0, help="ridge strength")
    fit.add_argument("--l1", type=float, default=0.0, help="lasso strength")
    fit.add_argument("--cov-type", default="nonrobust",
                     choices=("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"),
                     help="the coefficients' covariance (R's sandwich::vcovHC, vcovCL)")
    fit.add_argument("--groups", help="column of cluster labels, for --cov-type cluster")
    fit.add_argument("--output", choices=("summary", "json", "csv"), default="summary")
    fit.set_defaults(run=_fit)
    check = sub.add_parser("check", help="check E[T(y)] = dA/deta and the autodiff gradient "
                                         "for every family")
    check.set_defaults(run=_check)
    demo = sub.add_parser("demo", help="the README's main job: a Poisson fit on RAND HIE")
    demo.set_defaults(run=_demo)
    return parser


# ---- fit -----------------------------------------------------------------------------------
def _fit(args) -> int:
    import glmjax as gj

    frame = _read(Path(args.data))
    family = _family(args, frame)
    link = _link(args.link)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = gj.glm(args.formula, frame, family, link, weights=args.weights,
                     offset=args.offset, l2=args.l2, l1=args.l1, cov_type=args.cov_type,
                     groups=args.groups, cox_reid=args.cox_reid)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    print(_render(res, args.output), end="")
    separated = any(issubclass(w.category, gj.SeparationWarning) for w in caught)
    return EXIT_OK if bool(res.converged) and not separated else EXIT_NOT_CONVERGED


def _read(path: Path):
    import pandas as pd

    if not path.is_file():
        raise InputError(f"no such file: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except ImportError:
        raise InputError(f'reading {path.suffix} files needs pyarrow: pip install '
                         '"glmjax[parquet]".') from None
    except Exception as err:
        raise InputError(f"cannot read {path}: {err}") from None


def _number_or_ml(text: str) -> float | str:
    """A number, or "ml" (estimate it)."""
    if text == "ml":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or ml; got {text!r}") from None


def _family(args, frame):
    import dataclasses

    from glmjax import families

    table = families.family_names()
    cls = table.get(args.family.lower().replace("-", "_").replace(" ", "_"))
    if cls is None:
        raise _UsageError(f"unknown family {args.family!r}; use one of {sorted(table)}.")
    params = {}
    if cls.size_parameter is not None:  # K from the response's levels or columns
        from formulaic import Formula, model_matrix

        try:
            params[cls.size_parameter] = model_matrix(Formula(args.formula).lhs, frame).shape[1]
        except Exception as err:
            raise InputError(f"cannot read the response of {args.formula!r}: {err}") from None
    fields = {field.name for field in dataclasses.fields(cls)}
    for name in ("alpha", "power"):
        value = getattr(args, name)
        if value is not None:
            if name not in fields:
                raise _UsageError(f"--{name} is not a parameter of the {cls.__name__} family.")
            params[name] = None if value == "ml" else value
    try:
        return families.from_name(args.family, **params)  # unset α, p: estimated
    except ValueError as err:
        raise _UsageError(str(err)) from None


def _link(name: str | None):
    import glmjax as gj

    if name is None:
        return None
    key = name.lower().replace("-", "_")
    if key == "canonical":
        return key
    if key not in LINKS:
        raise _UsageError(f"unknown link {name!r}; use one of {sorted(LINKS) + ['canonical']}.")
    return getattr(gj.links, LINKS[key])()


def _render(res, output: str) -> str:
    if output == "summary":
        return res.summary() + "\n"
    table = res.coef_table()
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(list(table))
        writer.writerows(zip(*table.values(), strict=True))
        return buffer.getvalue()
    stats = {k: float(getattr(res, k)) for k in ("deviance", "null_deviance", "loglik", "aic",
                                                  "bic", "scale")}
    return json.dumps({
        "family": res.family.name, "link": res.parametrization.describe(res.family),
        "nobs": int(res.nobs), "df_resid": int(res.df_resid), "converged": bool(res.converged),
        "n_iter": int(res.n_iter), "cov_type": res.cov_type, **stats,
        "nuisance": {k: float(v) for k, v in res.nuisance.items()},
        "nuisance_stderr": {k: None if math.isnan(v) else float(v)  # NaN at a range's end
                            for k, v in res.nuisance_stderr.items()},
        "nuisance_at_bound": {k: bool(v) for k, v in res.nuisance_at_bound.items()},
        "coefficients": [dict(zip(table, row, strict=True))
                         for row in zip(*table.values(), strict=True)],
    }, indent=2) + "\n"


# ---- check ---------------------------------------------------------------------------------
def _check(args) -> int:
    rows, ok = check_table()
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'family':{width}}{'E[T(y)] vs dA/deta':>20}{'method':>14}"
          f"{'autodiff vs hand grad':>24}  verdict")
    for name, identity, method, gradient, verdict in rows:
        print(f"{name:{width}}{identity:>20.2e}{method:>14}{gradient:>24.2e}  {verdict}")
    return EXIT_OK if ok else EXIT_NOT_CONVERGED


def check_table(names: list[str] | None = None) -> tuple[list[tuple], bool]:
    """For every family: the largest |E[T(y)] − ∂A/∂η| (relative to the scale of the mean,
    beyond 5 Monte Carlo standard errors for Dirichlet), the identity method, and the largest
    relative difference between the autodiff score and the hand-derived Xᵀ(T(y) − h(Xθ)).
    ``names`` restricts it to those families."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import glmjax as gj
    from glmjax._compilation import filter_jit
    from glmjax.reference import hand_mean

    F = gj.families
    cases = [  # a family and natural parameters inside its domain
        (F.Gaussian(), [-1.0, 0.5, 2.0]), (F.Bernoulli(), [-2.0, 0.0, 1.5]),
        (F.Binomial(n_trials=8.0), [-1.0, 0.3, 2.0]), (F.Poisson(), [-1.0, 0.5, 2.0]),
        (F.NegativeBinomial(alpha=0.5), [-2.0, -0.7, -0.2]),
        (F.Exponential(), [-3.0, -1.0, -0.4]), (F.Gamma(), [-3.0, -1.0, -0.4]),
        (F.InverseGaussian(), [-3.0, -1.0, -0.3]), (F.Tweedie(power=1.5), [-3.0, -1.0, -0.4]),
        (F.Multinomial(n_classes=3), [[0.1, -0.5, 0.8], [1.0, 0.0, -1.0]]),
        (F.Beta(), [[2.0, 3.0], [0.8, 1.5]]),
        (F.Dirichlet(n_components=3), [[2.0, 3.0, 1.5], [1.2, 0.9, 2.5]]),
    ]
    @filter_jit
    def gradient_gap(family, eta0, X, theta):
        rows_eta = X @ theta + eta0  # near a point of the domain
        y = family.sample(jax.random.key(0), rows_eta)
        auto = jax.grad(lambda t: jnp.sum(family.log_kernel(y, X @ t + eta0)))(theta)
        hand = X.T @ (family.sufficient_stat(y) - hand_mean(family)(rows_eta))
        return jnp.max(jnp.abs(auto - hand)) / jnp.max(jnp.abs(hand))

    rng = np.random.default_rng(0)
    rows, ok = [], True
    for family, eta in cases:
        if names is not None and family.name not in names:
            continue
        eta = jnp.asarray(eta, jnp.float64)
        X = jnp.asarray(rng.normal(size=(500, 3)) * 0.1)
        theta = jnp.asarray(rng.normal(size=(3,) + eta.shape[1:]) * 0.1)
        chk = gj.check_identity(family, eta, n_samples=100_000)
        identity = float(jnp.max(jnp.maximum(chk.error - 5 * chk.stderr, 0)
                                 / (1 + jnp.abs(chk.derivative))))
        gradient = float(gradient_gap(family, eta[0], X, theta))
        good = identity < 1e-6 and gradient < 1e-10
        ok &= good
        rows.append((family.name, identity, chk.method, gradient, "ok" if good else "MISMATCH"))
    return rows, ok


# ---- demo ----------------------------------------------------------------------------------
def demo() -> None:
    """The main job: a Poisson regression of physician visits (RAND HIE), R-style summary."""
    import time

    import jax

    import glmjax as gj

    jax.config.update("jax_enable_x64", True)  # this program's own setting, not the library's
    data = gj.datasets.load_randhie()
    start = time.perf_counter()
    res = gj.fit(data.X, data.y, family=gj.families.Poisson(), feature_names=data.feature_names)
    res.params.block_until_ready()
    seconds = time.perf_counter() - start
    print(f"{data.description}: {data.response_name} ~ {' + '.join(data.feature_names[1:])}")
    print(f"{data.X.shape[0]} observations, fitted in {seconds:.2f} s (compilation included)\n")
    print(res.summary())


def _demo(args) -> int:
    demo()
    return EXIT_OK


def main_exit(argv: list[str] | None = None, run=None) -> None:
    """The console script: ``main`` (or ``run``) with its exit code. A reader that stops
    early (``glmjax demo | head -1``) ends the output quietly, as other Unix tools do."""
    try:
        code = main(argv) if run is None else run()
        sys.stdout.flush()
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        code = EXIT_OK
    sys.exit(code)


if __name__ == "__main__":
    main_exit()
