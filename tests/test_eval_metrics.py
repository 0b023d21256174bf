"""Functional evaluation metrics (ferronet.metrics) against scikit-learn: values to 1e-12, warnings, errors."""

import warnings

import numpy as np
import pytest

import ferronet
from ferronet import metrics as M

S = pytest.importorskip("sklearn.metrics")


def same(a, b):
    if a is None or b is None:
        assert a is None and b is None
    else:
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12, atol=1e-15)


def messages(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [(w.category.__name__, str(w.message)) for w in caught]


def random_case(rng, trial):
    n = int(rng.integers(1, 200))
    k = int(rng.integers(2, 6))
    yt, yp = rng.integers(0, k, n), rng.integers(0, k, n)
    w = rng.random(n) if trial % 2 else None
    return yt, yp, w, k


# ---------------------------------------------------------------- hard labels


@pytest.mark.parametrize("trial", range(12))
def test_prf_all_averages_and_zero_division_match_sklearn(rng, trial):
    rng = np.random.default_rng(trial)
    yt, yp, w, k = random_case(rng, trial)
    for average in ["micro", "macro", "weighted", None] + (["binary"] if k == 2 else []):
        for zd in ["warn", 0, 1, np.nan]:
            ours, our_warn = messages(
                lambda: M.precision_recall_fscore_support(yt, yp, average=average, sample_weight=w, zero_division=zd)
            )
            ref, ref_warn = messages(
                lambda: S.precision_recall_fscore_support(yt, yp, average=average, sample_weight=w, zero_division=zd)
            )
            for a, b in zip(ours, ref):
                same(a, b)
            assert [m for _, m in our_warn] == [m for _, m in ref_warn]
        for ours_f, ref_f in (
            (M.precision_score, S.precision_score),
            (M.recall_score, S.recall_score),
            (M.f1_score, S.f1_score),
        ):
            if average == "binary" or k > 2 or average is not None:
                kw = dict(average=average, sample_weight=w, zero_division=0)
                same(ours_f(yt, yp, **kw), ref_f(yt, yp, **kw))
    same(
        M.fbeta_score(yt, yp, beta=0.5, average="macro", zero_division=0),
        S.fbeta_score(yt, yp, beta=0.5, average="macro", zero_division=0),
    )
    same(M.accuracy_score(yt, yp, sample_weight=w), S.accuracy_score(yt, yp, sample_weight=w))
    same(
        M.accuracy_score(yt, yp, normalize=False, sample_weight=w),
        S.accuracy_score(yt, yp, normalize=False, sample_weight=w),
    )


@pytest.mark.parametrize("trial", range(8))
def test_confusion_matrix_matches_sklearn(trial):
    rng = np.random.default_rng(100 + trial)
    yt, yp, w, k = random_case(rng, trial)
    for labels in (None, [2, 0, 1], [1, 7]):
        if labels is not None and not np.isin(yt, labels).any():
            continue
        for normalize in (None, "true", "pred", "all"):
            ours = M.confusion_matrix(yt, yp, labels=labels, sample_weight=w, normalize=normalize)
            ref = S.confusion_matrix(yt, yp, labels=labels, sample_weight=w, normalize=normalize)
            assert ours.dtype == ref.dtype
            same(ours, ref)


def test_confusion_matrix_string_labels_and_binary_ravel():
    yt = ["cat", "ant", "cat", "cat", "ant", "bird"]
    yp = ["ant", "ant", "cat", "cat", "ant", "cat"]
    np.testing.assert_array_equal(M.confusion_matrix(yt, yp), S.confusion_matrix(yt, yp))
    np.testing.assert_array_equal(
        M.confusion_matrix(yt, yp, labels=["cat", "bird"]), S.confusion_matrix(yt, yp, labels=["cat", "bird"])
    )
    tn, fp, fn, tp = M.confusion_matrix([0, 1, 0, 1], [1, 1, 1, 0]).ravel()
    assert (tn, fp, fn, tp) == (0, 2, 1, 1)
    np.testing.assert_array_equal(M.confusion_matrix([True, False, True], [True, True, True]), [[0, 1], [0, 2]])
    np.testing.assert_array_equal(
        M.confusion_matrix(np.array([[1], [0]]), [1, 1]), [[0, 1], [0, 1]]
    )  # a column vector is fine


def test_string_labels_and_pos_label():
    yt = np.array(["photon", "jet", "photon", "jet", "photon"])
    yp = np.array(["photon", "photon", "jet", "jet", "photon"])
    for f, g in ((M.precision_score, S.precision_score), (M.recall_score, S.recall_score), (M.f1_score, S.f1_score)):
        same(f(yt, yp, pos_label="photon"), g(yt, yp, pos_label="photon"))
    with pytest.raises(ferronet.ArgumentError, match=r"pos_label=1 is not a valid label.*\['jet', 'photon'\]"):
        M.f1_score(yt, yp)
    with pytest.raises(ferronet.ArgumentError, match=r"target is multiclass but average='binary'"):
        M.precision_score([0, 1, 2], [0, 1, 1])
    with pytest.warns(UserWarning, match="pos_label=2 is ignored"):
        M.recall_score([0, 1, 2], [0, 1, 1], average="macro", pos_label=2)


@pytest.mark.parametrize("digits", [2, 4])
def test_classification_report_matches_sklearn(rng, digits):
    yt, yp = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    names = ["e", "mu", "tau", "photon"]
    assert M.classification_report(yt, yp, digits=digits) == S.classification_report(yt, yp, digits=digits)
    assert M.classification_report(yt, yp, target_names=names) == S.classification_report(yt, yp, target_names=names)
    assert M.classification_report(yt, yp, output_dict=True) == S.classification_report(yt, yp, output_dict=True)
    # a subset of labels reports a micro average instead of accuracy
    assert M.classification_report(yt, yp, labels=[0, 1], output_dict=True) == S.classification_report(
        yt, yp, labels=[0, 1], output_dict=True
    )
    w = rng.random(300)
    assert M.classification_report(yt, yp, sample_weight=w, digits=3) == S.classification_report(
        yt, yp, sample_weight=w, digits=3
    )
    with pytest.raises(ferronet.ArgumentError, match="target_names"):
        M.classification_report(yt, yp, target_names=["a", "b"])


def test_degenerate_hard_label_cases_warn_like_sklearn():
    # a class never predicted: precision 0/0
    _, ours = messages(lambda: M.precision_score([0, 1, 1], [0, 0, 0]))
    _, ref = messages(lambda: S.precision_score([0, 1, 1], [0, 0, 0]))
    assert ours == [("UndefinedMetricWarning", m) for _, m in ref] and ours
    assert issubclass(M.UndefinedMetricWarning, UserWarning)
    with pytest.warns(UserWarning, match="single label"):
        np.testing.assert_array_equal(M.confusion_matrix([1, 1], [1, 1]), [[2]])
    assert np.isnan(M.precision_score([0, 1, 1], [0, 0, 0], zero_division=np.nan))
    assert M.recall_score([0, 0], [0, 1], zero_division=1) == 1.0


def test_hard_label_errors():
    with pytest.raises(
        ferronet.ArgumentError, match=r"continuous values.*\(y_pred > 0.5\).*Received: y_pred=\[0.2, 0.9\]"
    ):
        M.accuracy_score([0, 1], [0.2, 0.9])
    with pytest.raises(ferronet.ShapeError, match=r"argmax\(axis=1\). Received: y_true.shape=\(2, 3\)"):
        M.confusion_matrix(np.eye(3)[:2], [0, 1])
    with pytest.raises(ferronet.ShapeError, match=r"same number of samples. Received: 2 and 3"):
        M.f1_score([0, 1], [0, 1, 1])
    with pytest.raises(ferronet.ArgumentError, match="empty input"):
        M.accuracy_score([], [])
    with pytest.raises(ferronet.ArgumentError, match="NaN"):
        M.accuracy_score([0.0, np.nan], [0, 1])
    with pytest.raises(ferronet.ArgumentError, match="mix string and numeric"):
        M.confusion_matrix(["a", "b"], [0, 1])
    with pytest.raises(ferronet.ArgumentError, match="at least one of labels must occur in y_true"):
        M.confusion_matrix([0, 1], [0, 1], labels=[5])
    with pytest.raises(ferronet.ArgumentError, match="average must be one of"):
        M.f1_score([0, 1], [0, 1], average="samples")
    with pytest.raises(ferronet.ArgumentError, match="zero_division"):
        M.f1_score([0, 1], [0, 1], zero_division=2)
    with pytest.raises(ferronet.ShapeError, match="sample_weight"):
        M.accuracy_score([0, 1], [0, 1], sample_weight=[1.0])


# ------------------------------------------------------------------ ROC / AUC


@pytest.mark.parametrize("trial", range(10))
@pytest.mark.parametrize("drop_intermediate", [True, False])
def test_roc_curve_matches_sklearn(trial, drop_intermediate):
    rng = np.random.default_rng(200 + trial)
    n = int(rng.integers(2, 400))
    y = rng.integers(0, 2, n)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    # heavy ties (rounded scores), float32 and float64 paths, and weights
    s = np.round(rng.normal(size=n) + y, int(rng.integers(0, 4)))
    s = s.astype(np.float32) if trial % 3 == 0 else s
    w = rng.random(n) if trial % 2 else None
    if w is not None and trial % 4 == 1:
        w[: n // 5] = 0.0  # zero weights must not create thresholds
    ours = M.roc_curve(y, s, sample_weight=w, drop_intermediate=drop_intermediate)
    ref = S.roc_curve(y, s, sample_weight=w, drop_intermediate=drop_intermediate)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        same(a, b)
    same(M.roc_auc_score(y, s, sample_weight=w), S.roc_auc_score(y, s, sample_weight=w))


def test_roc_curve_every_distinct_threshold_and_signed_zero():
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    s = np.array([0.1, 0.9, -0.0, 0.0, 0.9, 0.5, 3e38, -3e38], dtype=np.float32)
    fpr, tpr, thr = M.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_array_equal(thr[1:], np.unique(s)[::-1])  # -0.0 and 0.0 tie
    for a, b in zip((fpr, tpr, thr), S.roc_curve(y, s, drop_intermediate=False)):
        np.testing.assert_array_equal(a, b)
    fpr, tpr, _ = M.roc_curve([-1, 1, -1, 1], [0.2, 0.8, 0.3, 0.1])  # {-1, 1} labels
    same(fpr, S.roc_curve([-1, 1, -1, 1], [0.2, 0.8, 0.3, 0.1])[0])
    fpr, tpr, _ = M.roc_curve(["b", "s", "b", "s"], [0.2, 0.8, 0.3, 0.1], pos_label="s")
    same(tpr, S.roc_curve(["b", "s", "b", "s"], [0.2, 0.8, 0.3, 0.1], pos_label="s")[1])


def test_roc_auc_binary_variants(rng):
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + y
    same(M.roc_auc_score(y, s.reshape(-1, 1)), S.roc_auc_score(y, s))
    same(M.roc_auc_score(np.where(y == 1, "sig", "bkg"), s), S.roc_auc_score(np.where(y == 1, "sig", "bkg"), s))
    same(M.auc([0, 0.5, 1], [0, 0.8, 1]), S.auc([0, 0.5, 1], [0, 0.8, 1]))
    same(M.auc([1, 0.5, 0], [1, 0.8, 0]), S.auc([1, 0.5, 0], [1, 0.8, 0]))
    assert M.roc_auc_score([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5  # constant scores


@pytest.mark.parametrize("average", ["macro", "weighted", None])
@pytest.mark.parametrize("weighted", [False, True])
def test_roc_auc_multiclass_ovr(rng, average, weighted):
    y = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) + np.eye(4)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    w = rng.random(300) if weighted else None
    same(
        M.roc_auc_score(y, p, multi_class="ovr", average=average, sample_weight=w),
        S.roc_auc_score(y, p, multi_class="ovr", average=average, sample_weight=w),
    )
    names = np.array(["a", "b", "c", "d"])[y]
    same(
        M.roc_auc_score(names, p, multi_class="ovr", average=average),
        S.roc_auc_score(names, p, multi_class="ovr", average=average),
    )


def test_roc_degenerate_cases_warn_like_sklearn():
    (fpr, tpr, _), ours = messages(lambda: M.roc_curve([1, 1, 1], [0.1, 0.5, 0.9]))
    _, ref = messages(lambda: S.roc_curve([1, 1, 1], [0.1, 0.5, 0.9]))
    assert [m for _, m in ours] == [m for _, m in ref] and np.isnan(fpr).all() and not np.isnan(tpr).any()
    auc, ours = messages(lambda: M.roc_auc_score([0, 0], [0.1, 0.2]))
    _, ref = messages(lambda: S.roc_auc_score([0, 0], [0.1, 0.2]))
    assert np.isnan(auc) and [m for _, m in ours] == [m for _, m in ref]


def test_roc_errors():
    with pytest.raises(ferronet.ArgumentError, match=r"pos_label is not given.*Received"):
        M.roc_curve([1, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ferronet.ArgumentError, match="more than two classes"):
        M.roc_curve([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ferronet.ShapeError, match=r"y_score\[:, 1\]. Received: y_score.shape=\(3, 2\)"):
        M.roc_curve([0, 1, 1], np.ones((3, 2)) / 2)
    with pytest.raises(ferronet.ArgumentError, match="NaN or infinity"):
        M.roc_curve([0, 1], [0.1, np.nan])
    with pytest.raises(ferronet.ShapeError, match="Received: 2 and 3"):
        M.roc_auc_score([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ferronet.ArgumentError, match="multi_class='ovr'"):
        M.roc_auc_score([0, 1, 2], np.full((3, 3), 1 / 3))
    with pytest.raises(ferronet.ArgumentError, match="summing to 1"):
        M.roc_auc_score([0, 1, 2], np.ones((3, 3)), multi_class="ovr")
    with pytest.raises(ferronet.ArgumentError, match="empty"):
        M.roc_curve([], [])
    with pytest.raises(ferronet.ArgumentError, match="neither increasing nor decreasing"):
        M.auc([0, 1, 0.5], [0, 1, 1])


# ----------------------------------------------------------- efficiency curve


def test_efficiency_curve_is_the_roc_curve_in_physics_units(rng):
    y = rng.integers(0, 2, 2000)
    s = rng.normal(size=2000) + 1.5 * y
    curve = M.efficiency_curve(y, s, working_points=[0.5, 0.9, 1.0])
    fpr, tpr, thr = S.roc_curve(y, s, drop_intermediate=False)
    same(curve.signal_efficiency, tpr)
    same(curve.background_efficiency, fpr)
    same(curve.thresholds, thr)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(curve.background_rejection, 1 / fpr)
    assert np.isinf(curve.background_rejection[0])
    for wp in curve.working_points:
        # the cut reaches the target, and the next tighter cut does not
        passed = s >= wp.threshold
        assert passed[y == 1].mean() == pytest.approx(wp.signal_efficiency, abs=1e-15)
        assert wp.signal_efficiency >= wp.target
        assert s[(y == 1) & (s > wp.threshold)].size / (y == 1).sum() < wp.target
        assert passed[y == 0].mean() == pytest.approx(wp.background_efficiency, abs=1e-15)
        assert wp.background_rejection == pytest.approx(1 / wp.background_efficiency)
    sig, bkg, rej, thr2, wps = curve  # a NamedTuple: unpacks
    assert [w.target for w in wps] == [0.5, 0.9, 1.0] and wps[-1].signal_efficiency == 1.0


def test_efficiency_curve_pos_label_weights_and_errors():
    y = np.array(["jet", "photon", "jet", "photon", "photon"])
    s = np.array([0.1, 0.8, 0.4, 0.35, 0.9])
    curve = M.efficiency_curve(y, s, pos_label="photon", working_points=0.6, sample_weight=[1, 2, 1, 1, 1])
    fpr, tpr, _ = S.roc_curve(y, s, pos_label="photon", sample_weight=[1, 2, 1, 1, 1], drop_intermediate=False)
    same(curve.signal_efficiency, tpr)
    same(curve.background_efficiency, fpr)
    assert curve.working_points[0].threshold == 0.8  # photon weights 1+2 of 4 pass score >= 0.8
    with pytest.raises(ferronet.ArgumentError, match=r"both signal and background.*Received: 2 signal, 0 background"):
        M.efficiency_curve([1, 1], [0.2, 0.3])
    with pytest.raises(ferronet.ArgumentError, match=r"\(0, 1\]. Received: 1.5"):
        M.efficiency_curve([0, 1], [0.2, 0.3], working_points=[1.5])


# --------------------------------------------------------------- large inputs


@pytest.mark.slow
def test_ten_million_scores():
    # Their speed is measured in benches/, not asserted here.
    rng = np.random.default_rng(0)
    n = 10_000_000
    y = rng.integers(0, 2, n)
    s = (rng.random(n) + 0.3 * y).astype(np.float32)
    fpr, tpr, thr = M.roc_curve(y, s)
    area = M.roc_auc_score(y, s)
    cm = M.confusion_matrix(y, (s > 0.8).astype(np.int64))
    sub = slice(0, 200_000)
    same(M.roc_auc_score(y[sub], s[sub]), S.roc_auc_score(y[sub], s[sub]))
    assert 0.5 < area < 1 and cm.sum() == n and fpr[-1] == tpr[-1] == 1.0
