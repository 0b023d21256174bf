"""b-tagging with a recurrent network: classify jets from the sequence of their tracks.

Each jet is a variable-length list of charged tracks (impact-parameter
significance, pT fraction, ΔR to the jet axis), sorted by displacement and
zero-padded to a fixed length (``ferronet.datasets.jet_tracks``). A ``Masking``
layer tells the LSTM where each jet's tracks end, so padding never enters the
state. We compare the network with two classic taggers: the largest impact-
parameter significance, and the number of tracks displaced by more than 3σ,
at the 70 % b-jet efficiency working point.

    python examples/track_sequence_lstm.py
"""

import os

import numpy as np

import ferronet as fn
from ferronet import layers, metrics
from ferronet.datasets import JET_TRACK_FEATURES, jet_tracks
from ferronet.preprocessing import train_test_split

QUICK = os.environ.get("FERRONET_EXAMPLES_QUICK") == "1"


def features(x):
    """Compress the significance's long tails; padding (all zeros) stays exactly zero for Masking."""
    out = x.copy()
    out[..., 0] = np.sign(x[..., 0]) * np.log1p(np.abs(x[..., 0]))
    out[..., 2] = x[..., 2] / 0.4
    return out


def rejection_at(y, score, efficiency=0.7):
    curve = metrics.efficiency_curve(y, score, working_points=[efficiency])
    return curve.working_points[0].background_rejection


def main():
    fn.utils.set_random_seed(0)
    x, y = jet_tracks(3000 if QUICK else 30000, max_tracks=15, seed=0)
    print(f"{len(y)} jets, {int(y.sum())} b-jets; features per track: {', '.join(JET_TRACK_FEATURES)}")
    n_tracks = np.any(x != 0, axis=-1).sum(axis=1)
    print(f"tracks per jet: b {n_tracks[y == 1].mean():.1f}, light {n_tracks[y == 0].mean():.1f} (padded to 15)")
    x_train, x_test, y_train, y_test = train_test_split(features(x), y, test_size=0.3, random_state=0, stratify=y)

    model = fn.Sequential([
        fn.Input((15, 3)),
        layers.Masking(0.0),
        layers.LSTM(32),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=fn.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=["accuracy", "auc"])
    model.summary()
    model.fit(x_train, y_train, validation_split=0.2, epochs=2 if QUICK else 12, batch_size=128, verbose=2)

    p = model.predict(x_test, verbose=0)[:, 0]
    raw = np.sign(x_test[..., 0]) * np.expm1(np.abs(x_test[..., 0]))  # back to the significance
    taggers = {
        "LSTM on the track sequence": p,
        "largest significance": raw[:, 0] * (np.abs(raw[:, 0]) > 0),
        "tracks with sd0 > 3": (raw > 3).sum(axis=1) + 1e-3 * raw[:, 0],
    }
    print(f"\n{'tagger':30s} {'ROC AUC':>8s} {'light rejection at 70% b-eff.':>31s}")
    for name, score in taggers.items():
        print(f"{name:30s} {metrics.roc_auc_score(y_test, score):8.4f} {rejection_at(y_test, score):31.1f}")


if __name__ == "__main__":
    main()
