"""Notebook 3: large-batch training with the optax loop (cells for ``build.py``)."""

# ruff: noqa: E501

CELLS = [
    ("md", """# Large-batch training with the optax minibatch loop

`gj.fit_minibatch` trains a GLM with any optax optimizer on batches of rows: from arrays in
memory, memory-mapped `.npy` files or an iterator, gathered on a background thread while the
device works through `steps_per_call` steps in one `lax.scan`. It is the tool for data that
does not fit in memory (or on the device); for data that does, Fisher scoring (`gj.fit`) is
exact and faster. This notebook trains a logistic regression both ways, follows the
convergence, streams from disk, and resumes from a checkpoint. On a machine with a GPU the
same cells run there (JAX picks the device)."""),
    ("code", """import os
import tempfile
import time
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

import glmjax as gj

jax.config.update("jax_enable_x64", True)
SMALL = os.environ.get("GLMJAX_NOTEBOOK_SMALL") == "1"
print("devices:", jax.devices())
m, p = (20_000, 10) if SMALL else (1_000_000, 20)
rng = np.random.default_rng(0)
X = np.column_stack([np.ones(m), rng.normal(size=(m, p - 1))]).astype(np.float32)
theta_true = rng.normal(size=p) * 0.3
y = (rng.uniform(size=m) < 1 / (1 + np.exp(-X @ theta_true))).astype(np.float32)
print(f"{m:,} rows x {p} features, float32")"""),
    ("md", """## 1. The exact answer, and the minibatch loop

Fisher scoring gives the maximum-likelihood estimate in a handful of passes. The minibatch
loop runs Adam with a decaying learning rate; the loss it reports is each batch's
−Σ log p/c (c = Σw per batch, one constant, so an epoch's gradients add up to the full
gradient and the fixed point is the MLE)."""),
    ("code", """start = time.perf_counter()
exact = gj.fit(X, y, gj.families.Bernoulli())
print(f"IRLS: {time.perf_counter() - start:.2f} s, {int(exact.n_iter)} iterations")

batch = 2048 if SMALL else 16384
epochs = 15 if SMALL else 8
steps_per_epoch = -(-m // batch)
schedule = optax.exponential_decay(0.05, transition_steps=steps_per_epoch, decay_rate=0.6)
start = time.perf_counter()
trained = gj.fit_minibatch((X, y), gj.families.Bernoulli(), optimizer=optax.adam(schedule),
                           batch_size=batch, n_epochs=epochs, steps_per_call=16, verbose=False)
print(f"minibatch: {time.perf_counter() - start:.2f} s, {trained.n_steps} steps, "
      f"{trained.rows_per_second:,.0f} rows/s after compilation")
print("largest coefficient difference from the MLE:",
      float(np.max(np.abs(np.asarray(trained.coef) - np.asarray(exact.coef)))))"""),
    ("code", """fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
steps = np.arange(1, trained.n_steps + 1)
axes[0].plot(steps, trained.losses, lw=0.6, alpha=0.6, label="batch loss")
window = steps_per_epoch
smooth = np.convolve(trained.losses, np.ones(window) / window, mode="valid")
axes[0].plot(steps[window - 1:], smooth, lw=2, label="mean over an epoch")
full_loss = -float(exact.loglik) / m  # an epoch's batch losses average to −ℓ/m
axes[0].axhline(full_loss, color="k", ls="--", label="at the MLE")
axes[0].set_xlabel("step")
axes[0].set_ylabel("loss")
axes[0].set_title("Convergence of the minibatch loop")
axes[0].legend()
axes[1].scatter(exact.coef, trained.coef)
lim = [float(np.min(exact.coef)), float(np.max(exact.coef))]
axes[1].plot(lim, lim, "k--")
axes[1].set_xlabel("IRLS (exact MLE)")
axes[1].set_ylabel("minibatch Adam")
axes[1].set_title("Coefficients")
plt.tight_layout()"""),
    ("md", """## 2. Streaming from disk, and resuming from a checkpoint

Saved as `.npy` files, X is memory-mapped: only the rows of the current batches are read.
With `checkpoint=` the loop saves its state atomically; run the same call again after an
interruption and it continues from the last checkpoint, ending with the coefficients an
uninterrupted run would give (the batch order is fixed by the seed and the epoch)."""),
    ("code", """work = Path(tempfile.mkdtemp())
np.save(work / "X.npy", X)
np.save(work / "y.npy", y)
ckpt = work / "run.npz"
settings = dict(optimizer=optax.adam(schedule), batch_size=batch, steps_per_call=16, verbose=False)
half = gj.fit_minibatch((str(work / "X.npy"), str(work / "y.npy")), gj.families.Bernoulli(),
                        n_epochs=epochs // 2, checkpoint=ckpt, **settings)   # "interrupted" here
resumed = gj.fit_minibatch((str(work / "X.npy"), str(work / "y.npy")), gj.families.Bernoulli(),
                           n_epochs=epochs, checkpoint=ckpt, **settings)
print("steps before / after resuming:", half.n_steps, resumed.n_steps)
print("identical to the uninterrupted in-memory run:",
      bool(np.array_equal(np.asarray(resumed.params), np.asarray(trained.params))))"""),
    ("md", """## 3. Many devices

With a `Mesh` over the devices (`gj.sharding.row_mesh()`), each batch is split by rows over
them and XLA adds the per-device gradients; across several hosts, call
`jax.distributed.initialize()` first and give each process its own rows. The answer equals
the single-device one to rounding (tested on 8 simulated CPU devices)."""),
    ("code", """mesh = gj.sharding.row_mesh()
print(f"{len(mesh.devices)} device(s) in the mesh")
if batch % len(mesh.devices) == 0:
    sharded = gj.fit_minibatch((X, y), gj.families.Bernoulli(), n_epochs=1, mesh=mesh, **settings)
    single = gj.fit_minibatch((X, y), gj.families.Bernoulli(), n_epochs=1, **settings)
    print("max difference, sharded vs single:",
          float(np.max(np.abs(np.asarray(sharded.params) - np.asarray(single.params)))))"""),
]
