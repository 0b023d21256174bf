"""``python -m ferronet demo``: learning phases of matter, and a photon vs jet classifier, in one command.

``demo ising`` (the default) repeats the classic study of Carrasquilla & Melko
(Nature Physics 13, 431, 2017): generate 2-D Ising configurations by Monte Carlo on
both sides of the critical temperature, train a small CNN to tell ordered
(T < T_c) from disordered configurations, then run it on held-out configurations at
every temperature. The temperature where the network's mean output crosses 0.5
estimates T_c, to compare with Onsager's exact ``2 / ln(1 + √2) ≈ 2.269``. The network
only ever sees spins; that it puts the transition in the right place, on data it was
not trained on, shows it has learned an order parameter.

``demo photon-jet`` trains a small MLP on the toy photon vs jet sample and judges it
the way a collider analysis would: ROC curve and AUC against the single-variable
cuts, background rejection at fixed signal efficiency, confusion matrix.

Both print progress and results and write plots (with matplotlib installed) and a
``results.json`` into the output folder. Defaults take about a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "run_ising", "run_photon_jet", "crossing_temperature"]


def _say(verbose: int, *args) -> None:
    if verbose:
        print(*args, flush=True)


def _plots_available(verbose: int) -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        _say(verbose, "      (no plots: matplotlib, ferronet's optional 'plot' extra, is not installed: "
                      "pip install 'ferronet[plot]', or pip install '.[plot]' in a source checkout)")
        return False
    return True


def _close(fig_and_axes) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig_and_axes[0])


def crossing_temperature(temperatures, mean_output, level: float = 0.5) -> float:
    """First temperature where ``mean_output`` falls through ``level``, linearly interpolated (NaN if it never does).

    Example:
        >>> from ferronet.demo import crossing_temperature
        >>> round(crossing_temperature([2.0, 2.2, 2.4], [0.9, 0.7, 0.1]), 4)  # between 2.2 and 2.4
        2.2667
        >>> crossing_temperature([1.0, 2.0], [0.2, 0.1])  # never above 0.5
        nan
    """
    t, p = np.asarray(temperatures, dtype=np.float64), np.asarray(mean_output, dtype=np.float64)
    above = p >= level
    for i in range(len(t) - 1):
        if above[i] and not above[i + 1]:
            return float(t[i] + (p[i] - level) * (t[i + 1] - t[i]) / (p[i] - p[i + 1]))
    return float("nan")


# ---------------------------------------------------------------------- Ising


def _ising_model(L: int):
    from . import layers, models

    # 3x3 filters see local alignment; global averaging turns them into lattice-wide order measures
    return models.Sequential(
        [
            layers.Input((L, L, 1)),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(16, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def run_ising(
    L: int = 32,
    n_per_T: int = 250,
    n_temperatures: int = 24,
    epochs: int = 10,
    batch_size: int = 64,
    out="ferronet-demo",
    seed: int = 0,
    verbose: int = 1,
) -> dict:
    """Generate Ising data, train the CNN, estimate T_c and write plots; returns the results as a dict.

    Args:
        L: Lattice side (even).
        n_per_T: Configurations per temperature.
        n_temperatures: Temperatures evenly spread over [1.0, 3.5].
        epochs: Training epochs.
        batch_size: Mini-batch size.
        out: Output folder for plots and ``results.json``.
        seed: Seed for the Monte Carlo, the split and the weights.
        verbose: 0 silent, 1 progress and results.

    Example:
        A run far smaller than the default (which takes about a minute):

        >>> from ferronet.demo import run_ising
        >>> results = run_ising(L=8, n_per_T=20, n_temperatures=6, epochs=2, out="ising", verbose=0)
        >>> results["problem"], round(results["tc_onsager"], 3), 0.0 <= results["test_accuracy"] <= 1.0
        ('ising', 2.269, True)
        >>> import json
        >>> json.load(open("ising/results.json"))["n_per_T"]
        20
    """
    from . import datasets, metrics, utils
    from .preprocessing import train_test_split

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    utils.set_random_seed(seed)
    tc = datasets.CRITICAL_TEMPERATURE
    temps = np.linspace(1.0, 3.5, n_temperatures)
    _say(
        verbose,
        f"[1/4] Monte Carlo: {n_temperatures} temperatures x {n_per_T} configurations of {L}x{L} spins "
        f"(checkerboard Metropolis, T_c = {tc:.4f})",
    )
    t0 = time.perf_counter()
    spins, t = datasets.ising(L=L, temperatures=temps, n_per_T=n_per_T, seed=seed)
    x = spins.astype(np.float32)[..., None]
    y = (t < tc).astype(np.float32)
    _say(
        verbose,
        f"      {len(x)} configurations in {time.perf_counter() - t0:.1f} s; "
        f"mean |m| = {np.abs(datasets.magnetization(spins[t < tc])).mean():.2f} below T_c, "
        f"{np.abs(datasets.magnetization(spins[t > tc])).mean():.2f} above",
    )
    x_train, x_test, y_train, y_test, t_train, t_test = train_test_split(
        x, y, t, test_size=0.25, random_state=seed, stratify=t
    )

    _say(verbose, f"[2/4] training a CNN on {len(x_train)} configurations labelled ordered (T < T_c) / disordered")
    model = _ising_model(L)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    history = model.fit(
        x_train, y_train, epochs=epochs, batch_size=batch_size, validation_split=0.15, verbose=1 if verbose else 0
    )
    train_seconds = time.perf_counter() - t0

    _say(verbose, f"[3/4] testing on {len(x_test)} held-out configurations")
    p = model.predict(x_test, batch_size=256, verbose=0).reshape(-1)
    accuracy = metrics.accuracy_score(y_test, p > 0.5)
    area = metrics.roc_auc_score(y_test, p)
    mean_p = np.array([p[t_test == T].mean() for T in temps])
    sem_p = np.array([p[t_test == T].std() / np.sqrt(max((t_test == T).sum(), 1)) for T in temps])
    tc_est = crossing_temperature(temps, mean_p)
    results = {
        "problem": "ising",
        "L": L,
        "n_per_T": n_per_T,
        "temperatures": temps.tolist(),
        "epochs": epochs,
        "train_seconds": round(train_seconds, 2),
        "test_accuracy": accuracy,
        "test_auc": area,
        "mean_output": mean_p.tolist(),
        "tc_estimate": tc_est,
        "tc_onsager": tc,
        "tc_relative_error": abs(tc_est - tc) / tc if np.isfinite(tc_est) else None,
    }
    _say(verbose, f"      test accuracy {accuracy:.3f}, ROC AUC {area:.4f}")
    _say(
        verbose,
        f"      T_c estimate (mean output crosses 0.5): {tc_est:.3f}   Onsager: {tc:.3f}   "
        f"({100 * abs(tc_est - tc) / tc:.1f} % off)",
    )

    _say(verbose, f"[4/4] writing results to {out}/")
    if _plots_available(verbose):
        from . import plot

        _close(plot.plot_history(history, title=f"Ising {L}x{L}: training", save=out / "history.png"))
        _plot_output_vs_temperature(temps, mean_p, sem_p, spins, t, tc, tc_est, out / "output_vs_temperature.png")
        _close(plot.plot_roc(y_test, {"CNN": p}, title="ordered vs disordered (test set)", save=out / "roc.png"))
        results["plots"] = ["history.png", "output_vs_temperature.png", "roc.png"]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def _plot_output_vs_temperature(temps, mean_p, sem_p, spins, t, tc, tc_est, path):
    import matplotlib.pyplot as plt

    from .datasets import magnetization

    m = np.abs(magnetization(spins))
    fig, ax = plt.subplots(figsize=(6.2, 4.2), layout="constrained")
    ax.errorbar(temps, mean_p, yerr=sem_p, fmt="o-", ms=4, label="CNN output: P(ordered)", zorder=3)
    ax.plot(temps, 1 - mean_p, "s--", ms=3, alpha=0.7, label="CNN output: P(disordered)")
    ax.plot(temps, [m[t == T].mean() for T in temps], ":", color="grey", label="mean |magnetization|")
    ax.axvline(tc, color="black", lw=1, label=f"Onsager $T_c$ = {tc:.3f}")
    if np.isfinite(tc_est):
        ax.axvline(tc_est, color="tab:red", lw=1, ls="--", label=f"network estimate = {tc_est:.3f}")
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.set_xlabel("temperature $T$ [$J/k_B$]")
    ax.set_ylabel("mean output / |m|")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    first = labels.index("CNN output: P(ordered)")  # errorbar handles come last; list the main curve first
    order = [first] + [i for i in range(len(labels)) if i != first]
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8, loc="center right")
    ax.set_title("learning the Ising phase transition (held-out data)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- photon-jet


def _photon_features(x: np.ndarray) -> np.ndarray:
    # the three variables are positive with long tails: logs make them near-Gaussian for the network
    return np.log(x.astype(np.float64) + np.array([1e-3, 1e-4, 0.1])).astype(np.float32)


def run_photon_jet(
    n: int = 40000,
    epochs: int = 15,
    batch_size: int = 128,
    out="ferronet-demo-photon-jet",
    seed: int = 0,
    verbose: int = 1,
) -> dict:
    """Train an MLP on photon vs jet candidates and evaluate it with ROC/AUC and a confusion matrix.

    Args:
        n: Number of candidates generated.
        epochs: Training epochs.
        batch_size: Mini-batch size.
        out: Output folder for plots and ``results.json``.
        seed: Seed for the sample, the split and the weights.
        verbose: 0 silent, 1 progress and results.

    Example:
        >>> from ferronet.demo import run_photon_jet
        >>> results = run_photon_jet(n=1000, epochs=2, out="photon-jet", verbose=0)
        >>> results["problem"], sorted(results["single_variable_auc"])
        ('photon-jet', ['h_over_e', 'iso_sum', 'sigma_ieta_ieta'])
        >>> [wp["signal_efficiency"] >= target for wp, target in zip(results["working_points"], (0.5, 0.7, 0.9))]
        [True, True, True]
    """
    from . import datasets, layers, metrics, models, utils
    from .preprocessing import StandardScaler, train_test_split

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    utils.set_random_seed(seed)
    _say(verbose, f"[1/4] generating {n} photon and jet candidates ({', '.join(datasets.PHOTON_JET_FEATURES)})")
    x, y = datasets.photon_jet(n, seed=seed)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(_photon_features(x_train))
    f_train, f_test = scaler.transform(_photon_features(x_train)), scaler.transform(_photon_features(x_test))

    _say(verbose, f"[2/4] training an MLP (3 -> 32 -> 32 -> 1) on {len(x_train)} candidates")
    model = models.Sequential(
        [
            layers.Input((3,)),
            layers.Dense(32, activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    history = model.fit(
        f_train,
        y_train.astype(np.float32),
        epochs=epochs,
        batch_size=batch_size,
        validation_split=0.15,
        verbose=1 if verbose else 0,
    )
    train_seconds = time.perf_counter() - t0

    _say(verbose, f"[3/4] evaluating on {len(x_test)} test candidates")
    p = model.predict(f_test, batch_size=1024, verbose=0).reshape(-1)
    y_pred = (p > 0.5).astype(np.int64)
    area = metrics.roc_auc_score(y_test, p)
    single = {name: metrics.roc_auc_score(y_test, -x_test[:, i]) for i, name in enumerate(datasets.PHOTON_JET_FEATURES)}
    curve = metrics.efficiency_curve(y_test, p, working_points=(0.5, 0.7, 0.9))
    _say(verbose, metrics.classification_report(y_test, y_pred, target_names=["jet", "photon"], digits=3))
    _say(
        verbose,
        f"      ROC AUC: MLP {area:.4f}; single-variable cuts: " + ", ".join(f"{k} {v:.3f}" for k, v in single.items()),
    )
    for wp in curve.working_points:
        _say(
            verbose,
            f"      signal efficiency {wp.signal_efficiency:.3f}: background efficiency "
            f"{wp.background_efficiency:.4f}, rejection {wp.background_rejection:.1f} (cut {wp.threshold:.3f})",
        )
    results = {
        "problem": "photon-jet",
        "n": n,
        "epochs": epochs,
        "train_seconds": round(train_seconds, 2),
        "test_accuracy": metrics.accuracy_score(y_test, y_pred),
        "test_auc": area,
        "single_variable_auc": single,
        "confusion_matrix": metrics.confusion_matrix(y_test, y_pred).tolist(),
        "working_points": [wp._asdict() for wp in curve.working_points],
    }

    _say(verbose, f"[4/4] writing results to {out}/")
    if _plots_available(verbose):
        from . import plot

        scores = {"MLP": p, **{f"cut on {k}": -x_test[:, i] for i, k in enumerate(datasets.PHOTON_JET_FEATURES)}}
        _close(plot.plot_history(history, title="photon vs jet: training", save=out / "history.png"))
        _close(plot.plot_roc(y_test, scores, save=out / "roc.png"))
        _close(plot.plot_roc(y_test, scores, physics=True, working_points=(0.5, 0.7, 0.9), save=out / "rejection.png"))
        _close(
            plot.plot_confusion_matrix(
                y_test, y_pred, display_labels=["jet", "photon"], normalize="both", save=out / "confusion_matrix.png"
            )
        )
        _close(
            plot.plot_score_distribution(
                y_test, p, threshold=0.5, class_names=("jet", "photon"), log=True, save=out / "scores.png"
            )
        )
        results["plots"] = ["history.png", "roc.png", "rejection.png", "confusion_matrix.png", "scores.png"]
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))
    return results


# ------------------------------------------------------------------------ CLI


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ferronet demo",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("problem", nargs="?", default="ising", choices=["ising", "photon-jet"], help="which demo")
    p.add_argument("-L", "--lattice", type=int, default=32, help="Ising lattice side (even)")
    p.add_argument("--samples", type=int, default=250, help="Ising configurations per temperature")
    p.add_argument("--temperatures", type=int, default=24, help="number of Ising temperatures in [1.0, 3.5]")
    p.add_argument("--events", type=int, default=40000, help="photon-jet candidates")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 10 for ising, 15 for photon-jet)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default 64 / 128)")
    p.add_argument("-o", "--out", default=None, help="output folder (default ./ferronet-demo[-photon-jet])")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the final results line")
    return p


def main(argv=None) -> int:
    """Entry point of ``python -m ferronet demo [ising|photon-jet] [options]``.

    Example:
        The same as ``python -m ferronet demo photon-jet --events 1000 --epochs 2 -q -o quick``:

        >>> from ferronet.demo import main
        >>> main(["photon-jet", "--events", "1000", "--epochs", "2", "-q", "-o", "quick"])
        ferronet demo photon-jet: ROC AUC 0..., test accuracy 0...; ... s; results in quick/
        0
    """
    args = _parser().parse_args(argv)
    verbose = 0 if args.quiet else 1
    try:
        import matplotlib

        matplotlib.use("Agg")  # the demo writes files; it never opens windows
    except ImportError:
        pass
    t0 = time.perf_counter()
    if args.problem == "ising":
        r = run_ising(
            L=args.lattice,
            n_per_T=args.samples,
            n_temperatures=args.temperatures,
            epochs=args.epochs or 10,
            batch_size=args.batch_size or 64,
            out=args.out or "ferronet-demo",
            seed=args.seed,
            verbose=verbose,
        )
        summary = (
            f"T_c estimate {r['tc_estimate']:.3f} (Onsager {r['tc_onsager']:.3f}), "
            f"test accuracy {r['test_accuracy']:.3f}"
        )
    else:
        r = run_photon_jet(
            n=args.events,
            epochs=args.epochs or 15,
            batch_size=args.batch_size or 128,
            out=args.out or "ferronet-demo-photon-jet",
            seed=args.seed,
            verbose=verbose,
        )
        summary = f"ROC AUC {r['test_auc']:.4f}, test accuracy {r['test_accuracy']:.3f}"
    print(
        f"ferronet demo {args.problem}: {summary}; {time.perf_counter() - t0:.0f} s; "
        f"results in {args.out or ('ferronet-demo' if args.problem == 'ising' else 'ferronet-demo-photon-jet')}/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
