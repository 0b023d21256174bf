"""Input checks and the fit/transform base shared by the transformers."""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, FerronetError, ShapeError


class NotFittedError(FerronetError, AttributeError):
    """A transformer was used before ``fit`` (also an ``AttributeError``, as in scikit-learn).

    Example:
        >>> try:
        ...     ferronet.preprocessing.StandardScaler().transform(np.ones((2, 2)))
        ... except ferronet.preprocessing.NotFittedError as err:
        ...     print(type(err).__name__, isinstance(err, AttributeError))
        NotFittedError True
    """


# ---------------------------------------------------------------- input checks


def _check_features(x, who: str, n_features: int | None = None) -> np.ndarray:
    """``x`` as a finite 2-D float array (float32 kept, anything numeric -> float64)."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ArgumentError(f"{who}: X must be numeric. Received: X.dtype={x.dtype}")
    if x.ndim != 2:
        hint = " Reshape a single feature with x.reshape(-1, 1)." if x.ndim == 1 else ""
        raise ShapeError(f"{who}: X must be 2-D (n_samples, n_features).{hint} Received: X.shape={x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ArgumentError(f"{who}: X is empty; need at least one sample and one feature. Received: X.shape={x.shape}")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ArgumentError(
            f"{who}: X contains NaN or infinity (first at row {bad[0]}, column {bad[1]}); remove or impute "
            f"those values first. Received: X[{bad[0]}, {bad[1]}]={x[bad[0], bad[1]]}"
        )
    if n_features is not None and x.shape[1] != n_features:
        raise ShapeError(
            f"{who}: X has {x.shape[1]} features but the scaler was fitted on {n_features}. Received: X.shape={x.shape}"
        )
    return x


def _check_labels(y, who: str, name: str = "y", allow_empty: bool = False) -> np.ndarray:
    """``y`` as a 1-D array of labels (an (n, 1) column is flattened), without NaN or None."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ShapeError(f"{who}: {name} must be a 1-D array of labels. Received: {name}.shape={y.shape}")
    if y.size == 0 and not allow_empty:
        raise ArgumentError(f"{who}: {name} is empty. Received: {name}.shape={y.shape}")
    if (y.dtype.kind == "f" and np.isnan(y).any()) or (
        y.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in y)
    ):
        raise ArgumentError(f"{who}: {name} contains missing labels (NaN or None). Received: {name}={_preview(y)}")
    return y


def _unique(y: np.ndarray, who: str, name: str = "y") -> np.ndarray:
    try:
        return np.unique(y)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in y})
        raise ArgumentError(
            f"{who}: {name} mixes label types that cannot be sorted together. Received: types {kinds}"
        ) from None


def _preview(a, k: int = 6) -> str:
    a = list(np.asarray(a).tolist())
    return repr(a) if len(a) <= k else repr(a[:k])[:-1] + ", ...]"


def _not_fitted(obj, attr: str) -> None:
    if not hasattr(obj, attr):
        name = type(obj).__name__
        raise NotFittedError(
            f"This {name} instance is not fitted yet; call fit() first. Received: {name}() without fit"
        )


def _zero_scale_to_one(scale: np.ndarray, constant: np.ndarray) -> np.ndarray:
    # NOTE: a (near-)constant feature keeps scale 1 so transform() only centres it instead of dividing by ~0
    scale = scale.copy()
    scale[constant] = 1.0
    return scale


class _Transformer:
    def fit_transform(self, x, y=None):
        """Fit to ``x`` and return it transformed (same as ``fit(x).transform(x)``)."""
        return self.fit(x, y).transform(x)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def _params(self) -> dict:
        return {}
