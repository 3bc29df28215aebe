"""The ``glmjax`` command line: fit on CSV and Parquet, outputs, check, and exit codes."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import glmjax as gj
from glmjax import _cli as cli


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    m = 300
    df = pd.DataFrame({"x1": rng.normal(size=m), "g": rng.choice(["a", "b"], size=m),
                       "w": rng.uniform(0.5, 2, size=m), "t": rng.uniform(1, 3, size=m)})
    df["y"] = rng.poisson(np.exp(0.2 + 0.5 * df.x1 + np.log(df.t)))
    df["logt"] = np.log(df.t)
    path = tmp_path_factory.mktemp("data") / "data.csv"
    df.to_csv(path, index=False)
    return path


def _run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_fit_summary_json_and_csv(csv_file, capsys):
    args = ["fit", csv_file, "--formula", "y ~ x1 + C(g)", "--family", "poisson",
            "--weights", "w", "--offset", "logt"]
    code, out, _ = _run(capsys, *args)
    assert code == 0 and "Coefficients:" in out and "C(g)[T.b]" in out
    df = pd.read_csv(csv_file)
    ref = gj.glm("y ~ x1 + C(g)", df, gj.families.Poisson(), weights="w", offset="logt")
    code, out, _ = _run(capsys, *args, "--output", "json")
    parsed = json.loads(out)
    assert code == 0 and parsed["converged"] and parsed["family"] == "Poisson"
    np.testing.assert_allclose([c["estimate"] for c in parsed["coefficients"]], ref.coef,
                               rtol=1e-12)
    assert parsed["deviance"] == pytest.approx(float(ref.deviance))
    code, out, _ = _run(capsys, *args, "--output", "csv")
    table = pd.read_csv(pd.io.common.StringIO(out))
    assert list(table.name) == list(ref.feature_names)
    np.testing.assert_allclose(table.stderr, ref.stderr, rtol=1e-12)


def test_fit_parquet(csv_file, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    path = tmp_path / "data.parquet"
    pd.read_csv(csv_file).to_parquet(path)
    code, out, _ = _run(capsys, "fit", path, "--formula", "y ~ x1", "--family", "poisson",
                        "--link", "log", "--output", "json")
    assert code == 0 and json.loads(out)["nobs"] == 300


@pytest.mark.parametrize("argv, code, message", [
    (["fit", "missing.csv", "--formula", "y ~ x1", "--family", "poisson"], 3,
     "no such file: missing.csv"),
    (["fit", "{csv}", "--formula", "y ~ nosuch", "--family", "poisson"], 3,
     "cannot build the design from formula"),
    (["fit", "{csv}", "--formula", "y ~ x1 +* ", "--family", "poisson"], 3,
     "cannot build the design from formula"),
    (["fit", "{csv}", "--formula", "y ~ x1", "--family", "poison"], 2, "unknown family 'poison'"),
    (["fit", "{csv}", "--formula", "y ~ x1", "--family", "poisson", "--link", "logg"], 2,
     "unknown link 'logg'"),
    (["fit", "{csv}", "--formula", "y ~ x1", "--family", "poisson", "--weights", "nosuch"], 3,
     "weights column 'nosuch' is not in the data"),
    (["fit", "{csv}", "--formula", "x1 ~ y", "--family", "poisson"], 3,
     "outside the support of the Poisson family"),
])
def test_errors_have_messages_and_exit_codes(csv_file, capsys, argv, code, message):
    argv = [a.replace("{csv}", str(csv_file)) for a in argv]
    got, _, err = _run(capsys, *argv)
    assert got == code and message in err


def test_separation_exit_code(csv_file, capsys):
    df = pd.read_csv(csv_file)
    df["sep"] = (df.x1 > 0).astype(int)
    path = csv_file.parent / "separated.csv"
    df.to_csv(path, index=False)
    code, _, err = _run(capsys, "fit", path, "--formula", "sep ~ x1", "--family", "bernoulli")
    assert code == 1 and "warning:" in err


def test_usage_errors_exit_2():
    out = subprocess.run([sys.executable, "-m", "glmjax._cli", "fit"], capture_output=True,
                         text=True)
    assert out.returncode == 2 and "--formula" in out.stderr


@pytest.mark.slow
def test_check_command_reports_every_family(capsys):
    code, out, _ = _run(capsys, "check")
    assert code == 0
    for name in ("Gaussian", "Poisson", "Multinomial", "Beta", "Dirichlet"):
        assert name in out
    assert "MISMATCH" not in out


def test_check_table_for_a_family_subset():
    rows, ok = cli.check_table(["Poisson", "Bernoulli"])
    assert ok and [r[0] for r in rows] == ["Bernoulli", "Poisson"]
    assert all(r[1] < 1e-6 and r[3] < 1e-10 for r in rows)


def test_main_job_runs(capsys):
    """The README's first command: ``python -m glmjax`` (and ``glmjax demo``)."""
    out = subprocess.run([sys.executable, "-m", "glmjax"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "RAND Health Insurance Experiment" in out.stdout
    assert "Coefficients:" in out.stdout and "lncoins" in out.stdout
    code, text, _ = _run(capsys, "demo")
    assert code == 0 and "Residual deviance" in text


def test_l1_json_names_coefficients_held_at_zero(csv_file, capsys):
    """A lasso that zeroes a coefficient: exit 0, its statistic and p-value null, not NaN."""
    code, out, _ = _run(capsys, "fit", csv_file, "--formula", "y ~ x1 + C(g) + w",
                        "--family", "poisson", "--l1", "0.05", "--output", "json")
    assert code == 0 and "NaN" not in out
    table = json.loads(out)["coefficients"]
    held = [row for row in table if row["stderr"] == 0]
    assert held and all(row["statistic"] is None and row["pvalue"] is None for row in held)


def test_help_is_whole_and_a_closed_pipe_is_quiet():
    help_text = " ".join(subprocess.run([sys.executable, "-m", "glmjax", "--help"],
                                        capture_output=True, text=True).stdout.split())
    assert "check the families' identities and gradients, run the demo." in help_text
    assert "3 an input error" in help_text
    shell = f"{sys.executable} -m glmjax demo | head -1"
    out = subprocess.run(shell, shell=True, capture_output=True, text=True, timeout=300)
    assert out.stdout.startswith("RAND Health Insurance Experiment")
    assert "BrokenPipeError" not in out.stderr and "Traceback" not in out.stderr


def test_cov_type_groups_and_nuisance_reach_the_command_line(csv_file, capsys):
    code, out, _ = _run(capsys, "fit", csv_file, "--formula", "y ~ x1", "--family",
                        "poisson", "--cov-type", "cluster", "--groups", "g", "--output", "json")
    assert code == 0 and json.loads(out)["cov_type"] == "cluster"
    df = pd.read_csv(csv_file)
    ref = gj.glm("y ~ x1", df, gj.families.Poisson(), cov_type="cluster", groups="g")
    got = [row["stderr"] for row in json.loads(out)["coefficients"]]
    np.testing.assert_allclose(got, ref.stderr, rtol=1e-10)
    direct = gj.fit(np.column_stack([np.ones(len(df)), df.x1]), df.y, gj.families.Poisson(),
                    cov_type="cluster", groups=df.g.to_numpy())
    np.testing.assert_allclose(ref.stderr, direct.stderr, rtol=1e-10)
    with pytest.raises(ValueError, match="groups contains NaN"):
        gj.fit(np.column_stack([np.ones(len(df)), df.x1]), df.y, gj.families.Poisson(),
               cov_type="cluster", groups=np.r_[np.nan, np.ones(len(df) - 1)])


def test_negative_binomial_alpha_by_maximum_likelihood(csv_file, capsys):
    code, out, _ = _run(capsys, "fit", csv_file, "--formula", "y ~ x1", "--family",
                        "negative_binomial", "--alpha", "ml", "--output", "json")
    assert code == 0
    df = pd.read_csv(csv_file)
    ref = gj.glm("y ~ x1", df, gj.families.NegativeBinomial(alpha=None))
    np.testing.assert_allclose(json.loads(out)["nuisance"]["alpha"], ref.nuisance["alpha"],
                               rtol=1e-10)
    assert json.loads(out)["nuisance_at_bound"] == {"alpha": False}
    # without --alpha α is estimated as well; --cox-reid adjusts its profile likelihood
    code, out, _ = _run(capsys, "fit", csv_file, "--formula", "y ~ x1", "--family",
                        "negative_binomial", "--cox-reid", "--output", "json")
    ref = gj.glm("y ~ x1", df, gj.families.NegativeBinomial(alpha=None), cox_reid=True)
    np.testing.assert_allclose(json.loads(out)["nuisance"]["alpha"], ref.nuisance["alpha"],
                               rtol=1e-10)
    with pytest.raises(SystemExit) as exit_info:  # argparse's usage error
        cli.main(["fit", str(csv_file), "--formula", "y ~ x1", "--family",
                  "negative_binomial", "--alpha", "many"])
    assert exit_info.value.code == 2
    assert "expected a number or ml" in capsys.readouterr().err
