"""The package's structure, as DESIGN.md states it: layers that import only downwards, no
import cycles, no code outside ``glmjax/families/`` asking which family it has, and a
public surface that changes only on purpose."""

import ast
from pathlib import Path

import glmjax as gj

PACKAGE = Path(gj.__file__).parent

# DESIGN.md's layers, lowest first; a module imports from its own layer or lower ones
LAYERS = [
    ("utilities", {"_compilation", "_transfer", "_row_blocks", "_blas", "_design", "_information",
                   "_optional", "_streaming", "sharding", "datasets", "_formula_terms"}),
    ("math", {"links", "parametrizations", "families"}),
    ("model", {"_model", "_checks"}),
    ("solvers", {"solvers"}),
    ("inference", {"_results", "_covariances", "_model_tests", "_identity", "reference",
                   "_profile"}),
    ("entry points", {"_fitting", "_many", "_paths", "_cross_validation", "_training",
                      "_chunked", "_chunk_sources"}),
    ("adapters", {"_cli", "estimators", "_formula", "plots", "__main__"}),
    ("package", {"__init__"}),
]
# convenience methods that reach an adapter on first use, inside the method (plots)
ALLOWED_UPWARD = {("_results", "plots"), ("_paths", "plots"), ("_cross_validation", "plots")}


def _unit(path: Path) -> str:
    """The first name under glmjax/: a module or a subpackage."""
    part = path.relative_to(PACKAGE).parts[0]
    return part[:-3] if part.endswith(".py") else part


def _layer(unit: str) -> int:
    return next(k for k, (_, units) in enumerate(LAYERS) if unit in units)


def _imports(path: Path):
    """(imported glmjax unit, at module level?) for every import of the file, except those
    under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("glmjax"):
            parts = node.module.split(".")
            names = [parts[1]] if len(parts) > 1 else [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[1] for a in node.names
                     if a.name.startswith("glmjax.")]
        for name in names:
            yield name, id(node) in top


def _graph():
    edges = {}
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        for target, top in _imports(path):
            if target != unit:
                edges.setdefault(unit, set()).add((target, top))
    return edges


def test_every_module_has_a_layer():
    units = {_unit(p) for p in PACKAGE.rglob("*.py")}
    known = set().union(*(units for _, units in LAYERS))
    assert units <= known, f"modules without a layer in this test: {units - known}"


def test_imports_go_down_the_layers():
    wrong = []
    for unit, targets in _graph().items():
        for target, top in targets:
            if _layer(target) > _layer(unit) and (top or (unit, target) not in ALLOWED_UPWARD):
                wrong.append(f"{unit} ({LAYERS[_layer(unit)][0]}) imports {target} "
                             f"({LAYERS[_layer(target)][0]})")
    assert not wrong, wrong


def test_no_import_cycles():
    edges = {u: {t for t, top in ts if top} for u, ts in _graph().items()}
    state = {}

    def visit(u, stack):
        state[u] = "open"
        for v in edges.get(u, ()):
            if state.get(v) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack + [u, v]))
            if v not in state:
                visit(v, stack + [u])
        state[u] = "done"

    for u in list(edges):
        if u not in state:
            visit(u, [])


def test_no_code_outside_the_families_asks_which_family_it_has():
    family_names = set(gj.families.__all__) - {"AbstractFamily", "AbstractScalarFamily",
                                               "family_names", "from_name"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "families" in path.parts or path.name == "reference.py":  # (the hand-derived table)
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "isinstance":
                text = ast.unparse(node.args[1])
                if any(name in text.replace(".", " ").split() for name in family_names):
                    offenders.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert not offenders, offenders


PUBLIC = {
    "glmjax": ["CVResult", "ConvergenceWarning", "Design", "FitResult", "IdentityCheck",
               "InvalidInputWarning", "RankDeficiencyWarning", "RegularizationPath",
               "SeparationWarning", "TrainResult",
               "anova", "check_identity", "datasets", "drop1", "families", "fit", "fit_chunked",
               "fit_cv", "fit_many", "fit_minibatch", "fit_path", "glm", "links", "lr_test",
               "parametrizations", "score_test", "shard_rows", "sharding", "solvers"],
    "glmjax.families": ["AbstractFamily", "AbstractScalarFamily", "Bernoulli", "Beta",
                        "Binomial", "Dirichlet", "Exponential", "Gamma", "Gaussian",
                        "InverseGaussian", "Multinomial", "NegativeBinomial", "Poisson",
                        "Tweedie", "family_names", "from_name"],
    "glmjax.solvers": ["AbstractSolver", "GradientAscent", "IRLS", "LBFGS", "Optax",
                       "ProximalNewton", "SOLVERS", "SolverResult", "Status", "as_solver",
                       "status_code"],
}


def test_the_public_surface_is_pinned():
    import importlib

    for module, names in PUBLIC.items():
        assert sorted(importlib.import_module(module).__all__) == sorted(names), module
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir()
                                                         if p.is_dir() and p.name != "__pycache__"}
    public = {m for m in modules if not m.startswith("_")}
    assert public == {"datasets", "families", "links", "parametrizations", "solvers",
                      "sharding", "estimators", "plots", "reference"}, public
