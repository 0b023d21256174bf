"""Quark vs gluon jets with a transformer over the jet's constituents.

A jet is a *set* of particles: (pT fraction, Δη, Δφ) each, in no particular order.
Self-attention without positional encodings, followed by an average over the
particles, gives a classifier that cannot depend on that order (permutation
invariant). Padding rows (jets have different numbers of particles) are hidden
from every query with an attention mask. We compare the network with the classic
single-variable discriminants: the number of constituents and the jet width.

    python examples/particle_transformer.py
"""

import os

import numpy as np

import ferronet as fn
from ferronet import layers, metrics
from ferronet.datasets import quark_gluon

QUICK = os.environ.get("FERRONET_EXAMPLES_QUICK") == "1"
WIDTH, HEADS = 32, 4


def encoder_block(x, mask):
    """Pre-norm transformer encoder block: attention and a feed-forward net, each in a residual branch."""
    h = layers.LayerNormalization()(x)
    h = layers.MultiHeadAttention(num_heads=HEADS, key_dim=WIDTH // HEADS)(h, h, attention_mask=mask)
    x = layers.Add()([x, h])
    h = layers.LayerNormalization()(x)
    h = layers.Dense(2 * WIDTH, activation="gelu")(h)
    h = layers.Dense(WIDTH)(h)
    return layers.Add()([x, h])


def build(particles):
    x_in = fn.Input((particles, 3), name="particles")
    mask_in = fn.Input((particles, particles), name="attention_mask")
    x = layers.Dense(WIDTH, activation="relu")(x_in)  # per-particle embedding
    for _ in range(2):
        x = encoder_block(x, mask_in)
    x = layers.GlobalAveragePooling1D()(x)
    out = layers.Dense(1, activation="sigmoid")(layers.Dense(WIDTH, activation="relu")(x))
    return fn.Model([x_in, mask_in], out)


def inputs(x):
    """Scaled features and the (jet, query, key) mask that hides padding keys."""
    real = x[..., 0] > 0
    feats = np.stack([np.log(np.where(real, x[..., 0], 1.0)) * real, x[..., 1] * 10, x[..., 2] * 10], -1)
    mask = np.broadcast_to(real[:, None, :], real.shape + real.shape[1:])
    return [feats.astype(np.float32), np.ascontiguousarray(mask)]


def main():
    fn.utils.set_random_seed(0)
    particles = 24 if QUICK else 48
    x, y = quark_gluon(1500 if QUICK else 30000, max_particles=particles, seed=0)
    split = int(0.7 * len(y))
    train, test = inputs(x[:split]), inputs(x[split:])
    model = build(particles)
    model.compile(optimizer=fn.optimizers.Adam(2e-3), loss="binary_crossentropy")
    model.fit(train, y[:split], validation_split=0.15, epochs=2 if QUICK else 15, batch_size=128, verbose=2)

    p = model.predict(test, verbose=0)[:, 0]
    y_test, x_test = y[split:], x[split:]
    count = (x_test[..., 0] > 0).sum(1)
    width = (x_test[..., 0] * np.hypot(x_test[..., 1], x_test[..., 2])).sum(1)
    print(f"\nROC AUC of the transformer:        {metrics.roc_auc_score(y_test, p):.4f}")
    print(f"ROC AUC of the constituent count:  {metrics.roc_auc_score(y_test, count):.4f}")
    print(f"ROC AUC of the jet width (girth):  {metrics.roc_auc_score(y_test, width):.4f}")

    # The same jets with their particles in another order get the same scores.
    order = np.random.default_rng(1).permutation(particles)
    shuffled = inputs(x_test[:, order])
    change = np.abs(model.predict(shuffled, verbose=0)[:, 0] - p).max()
    print(f"largest score change when the particles are reordered: {change:.2e}")


if __name__ == "__main__":
    main()
