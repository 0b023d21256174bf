"""Stateful metrics against hand-computed values, Keras' documented examples and scikit-learn."""

import numpy as np
import pytest

import sklearn.metrics as sklearn_metrics  # in the test extra: a missing one must fail, not skip

from ferronet import metrics  # noqa: E402
from ferronet.errors import ShapeError  # noqa: E402


def batches(n, size):
    """Index slices of consecutive batches, the last one partial."""
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def accumulate(metric, y_true, y_pred, sample_weight=None, batch_size=17):
    metric.reset_state()
    for s in batches(len(y_true), batch_size):
        w = None if sample_weight is None else sample_weight[s]
        metric.update_state(y_true[s], y_pred[s], sample_weight=w)
    return metric.result()


@pytest.fixture
def binary(rng):
    y = rng.integers(0, 2, 300)
    p = np.clip(0.5 + 0.3 * (y - 0.5) + 0.25 * rng.standard_normal(300), 0, 1)
    w = rng.uniform(0.1, 2.0, 300)
    return y, p, w


@pytest.fixture
def multiclass(rng):
    n, c = 301, 5
    y = rng.integers(0, c, n)
    logits = rng.standard_normal((n, c)) + 1.5 * np.eye(c)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    w = rng.uniform(0.1, 2.0, n)
    return y, np.eye(c)[y], p, w


# ----------------------------------------------------------------------------- Mean and friends


def test_mean_weights_scalar_batches_by_size():
    m = metrics.Mean()
    m.update_state(0.5, sample_weight=32)
    m.update_state(1.0, sample_weight=8)
    assert m.result() == pytest.approx(24 / 40)
    m.reset_state()
    assert m.result() == 0.0


def test_mean_of_arrays_matches_keras_reduction(rng):
    values = rng.standard_normal((6, 4))
    w = rng.uniform(0, 1, 6)
    m = metrics.Mean()
    m.update_state(values)
    assert m.result() == pytest.approx(values.mean())
    m.reset_state()
    m.update_state(values, sample_weight=w)
    assert m.result() == pytest.approx(np.sum(values.mean(axis=1) * w) / w.sum())


def test_sum_and_call():
    s = metrics.Sum()
    assert s([1.0, 2.0, 3.0]) == 6.0
    assert s(4.0, sample_weight=0.5) == 8.0


def test_mean_metric_wrapper_and_custom_variables():
    def abs_error(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred))

    m = metrics.MeanMetricWrapper(abs_error)
    assert m.name == "abs_error"
    assert m([1.0, 2.0], [1.5, 2.5]) == pytest.approx(0.5)

    class Positives(metrics.Metric):
        def __init__(self, name="positives"):
            super().__init__(name=name)
            self.count = self.add_variable(name="count")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.count.assign_add(np.sum(np.asarray(y_pred) > 0.5))

        def result(self):
            return float(self.count)

    p = Positives()
    p.update_state(None, [0.9, 0.2, 0.7])
    p.update_state(None, [0.6])
    assert p.result() == 3.0
    p.reset_states()  # Keras 2 name
    assert p.result() == 0.0


# ----------------------------------------------------------------------------- accuracies


def test_keras_documented_accuracy_examples():
    assert metrics.BinaryAccuracy()([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]) == 0.75
    m = metrics.BinaryAccuracy()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1])
    assert m.result() == 0.5
    assert metrics.CategoricalAccuracy()([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]) == 0.5
    assert metrics.SparseCategoricalAccuracy()([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]) == 0.5
    assert metrics.Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]]) == 0.75
    assert metrics.TopKCategoricalAccuracy(k=1)([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]) == 0.5
    assert metrics.SparseTopKCategoricalAccuracy(k=1)([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]) == 0.5


def test_binary_accuracy_rank_matching_and_threshold():
    # (n,) labels meet (n, 1) predictions, as in Keras.
    assert metrics.BinaryAccuracy()([1, 0, 1], [[0.7], [0.2], [0.4]]) == pytest.approx(2 / 3)
    assert metrics.BinaryAccuracy(threshold=0.3)([1, 0, 1], [0.7, 0.2, 0.4]) == 1.0


def test_accuracies_match_sklearn_accumulated(multiclass, binary):
    y, onehot, p, w = multiclass
    pred = p.argmax(axis=1)
    expected = sklearn_metrics.accuracy_score(y, pred, sample_weight=w)
    assert accumulate(metrics.SparseCategoricalAccuracy(), y, p, w) == pytest.approx(expected)
    assert accumulate(metrics.CategoricalAccuracy(), onehot, p, w) == pytest.approx(expected)
    for k in (1, 2, 3):
        expected_k = sklearn_metrics.top_k_accuracy_score(y, p, k=k, sample_weight=w)
        assert accumulate(metrics.SparseTopKCategoricalAccuracy(k=k), y, p, w) == pytest.approx(expected_k)
        assert accumulate(metrics.TopKCategoricalAccuracy(k=k), onehot, p, w) == pytest.approx(expected_k)
    yb, pb, wb = binary
    expected_b = sklearn_metrics.accuracy_score(yb, pb > 0.5, sample_weight=wb)
    assert accumulate(metrics.BinaryAccuracy(), yb, pb, wb) == pytest.approx(expected_b)


def test_top_k_ties_count_for_the_target():
    assert metrics.SparseTopKCategoricalAccuracy(k=1)([0, 1], [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]) == 1.0


def test_accuracy_shape_errors_say_what_was_received():
    with pytest.raises(ShapeError, match=r"sparse variant.*Received: y_true.shape=\(2,\), y_pred.shape=\(2, 3\)"):
        metrics.CategoricalAccuracy().update_state([0, 1], np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"categorical variant.*Received"):
        metrics.SparseCategoricalAccuracy().update_state(np.eye(3)[[0, 1]], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"class id outside \[0, 3\).*Received: y_true.min\(\)=0, y_true.max\(\)=3"):
        metrics.SparseCategoricalAccuracy().update_state([0, 3], np.ones((2, 3)))
    with pytest.raises(ValueError, match="integer class ids.*Received"):
        metrics.SparseCategoricalAccuracy().update_state([0.5, 1], np.ones((2, 3)))


# ----------------------------------------------------------------------------- precision / recall


def test_keras_documented_precision_recall_examples():
    assert metrics.Precision()([0, 1, 1, 1], [1, 0, 1, 1]) == pytest.approx(2 / 3)
    m = metrics.Precision()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert m.result() == 1.0
    assert metrics.Precision(top_k=2)([0, 0, 1, 1], [1, 1, 1, 1]) == 0.0
    assert metrics.Precision(top_k=4)([0, 0, 1, 1], [1, 1, 1, 1]) == 0.5
    assert metrics.Recall()([0, 1, 1, 1], [1, 0, 1, 1]) == pytest.approx(2 / 3)
    m = metrics.Recall()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert m.result() == 1.0


def test_precision_recall_accumulate_counts_not_batch_averages(binary):
    y, p, w = binary
    for cls, ref in ((metrics.Precision, sklearn_metrics.precision_score), (metrics.Recall, sklearn_metrics.recall_score)):
        expected = ref(y, p > 0.5, sample_weight=w)
        m = cls()
        assert accumulate(m, y, p, w, batch_size=7) == pytest.approx(expected)
        # Averaging per-batch values would give a different (wrong) number.
        per_batch = [cls()(y[s], p[s], sample_weight=w[s]) for s in batches(len(y), 7)]
        assert abs(np.mean(per_batch) - expected) > 1e-4


def test_precision_class_id_and_thresholds_list(multiclass):
    y, onehot, p, w = multiclass
    hard = p.argmax(axis=1)
    per_class_p = sklearn_metrics.precision_score(y, hard, average=None)
    per_class_r = sklearn_metrics.recall_score(y, hard, average=None)
    for c in range(onehot.shape[1]):
        assert accumulate(metrics.Precision(top_k=1, class_id=c), onehot, p) == pytest.approx(per_class_p[c])
        assert accumulate(metrics.Recall(top_k=1, class_id=c), onehot, p) == pytest.approx(per_class_r[c])
    thresholds = [0.2, 0.5, 0.8]
    got = accumulate(metrics.Precision(thresholds=thresholds), onehot, p)
    want = [sklearn_metrics.precision_score(onehot.ravel(), p.ravel() > t) for t in thresholds]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_confusion_counts(binary):
    y, p, w = binary
    tn, fp, fn, tp = sklearn_metrics.confusion_matrix(y, p > 0.5, sample_weight=w).ravel()
    assert accumulate(metrics.TruePositives(), y, p, w) == pytest.approx(tp)
    assert accumulate(metrics.FalsePositives(), y, p, w) == pytest.approx(fp)
    assert accumulate(metrics.TrueNegatives(), y, p, w) == pytest.approx(tn)
    assert accumulate(metrics.FalseNegatives(), y, p, w) == pytest.approx(fn)


def test_precision_argument_errors():
    with pytest.raises(ValueError, match=r"thresholds must be numbers in \[0, 1\]. Received: thresholds=1.5"):
        metrics.Precision(thresholds=1.5)
    with pytest.raises(ValueError, match="top_k must be a positive integer. Received: top_k=0"):
        metrics.Recall(top_k=0)
    with pytest.raises(ValueError, match="class_id is out of range.*Received: class_id=4"):
        metrics.Precision(class_id=4).update_state(np.eye(3), np.eye(3))


# ----------------------------------------------------------------------------- F-scores


def test_keras_documented_f1_example():
    m = metrics.F1Score(threshold=0.5)
    m.update_state(np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]]), np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]))
    np.testing.assert_allclose(m.result(), [0.5, 0.8, 2 / 3], rtol=1e-6)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_f1_multiclass_matches_sklearn(multiclass, average):
    y, onehot, p, w = multiclass
    hard = p.argmax(axis=1)
    expected = sklearn_metrics.f1_score(y, hard, average=average, sample_weight=w)
    got_onehot = accumulate(metrics.F1Score(average=average), onehot, p, w, batch_size=13)
    got_sparse = accumulate(metrics.F1Score(average=average), y, p, w, batch_size=13)
    np.testing.assert_allclose(got_onehot, expected, rtol=1e-12)
    np.testing.assert_allclose(got_sparse, expected, rtol=1e-12)
    fb = sklearn_metrics.fbeta_score(y, hard, beta=2.0, average=average, sample_weight=w)
    np.testing.assert_allclose(accumulate(metrics.FBetaScore(average=average, beta=2.0), y, p, w), fb, rtol=1e-12)


def test_f1_binary_and_multilabel_match_sklearn(binary, rng):
    y, p, w = binary
    expected = sklearn_metrics.f1_score(y, p > 0.5, sample_weight=w)
    assert accumulate(metrics.F1Score(average="macro"), y, p, w) == pytest.approx(expected)
    assert accumulate(metrics.F1Score(), y[:, None], p[:, None], w)[0] == pytest.approx(expected)
    labels = rng.integers(0, 2, (200, 4))
    scores = np.clip(labels * 0.3 + rng.uniform(0, 0.7, (200, 4)), 0, 1)
    for average in (None, "micro", "macro", "weighted"):
        want = sklearn_metrics.f1_score(labels, scores > 0.5, average=average)
        np.testing.assert_allclose(accumulate(metrics.F1Score(average=average, threshold=0.5), labels, scores), want, rtol=1e-12)


def test_f1_batch_accumulation_differs_from_batch_average(multiclass):
    y, onehot, p, w = multiclass
    whole = metrics.F1Score(average="macro")(y, p)
    assert accumulate(metrics.F1Score(average="macro"), y, p, batch_size=10) == pytest.approx(whole)
    per_batch = np.mean([metrics.F1Score(average="macro")(y[s], p[s]) for s in batches(len(y), 10)])
    assert abs(per_batch - whole) > 1e-3


def test_f1_errors():
    with pytest.raises(ValueError, match="average must be.*Received: average='binary'"):
        metrics.F1Score(average="binary")
    with pytest.raises(ShapeError, match=r"Received: y_true.shape=\(3, 2\), y_pred.shape=\(3, 4\)"):
        metrics.F1Score().update_state(np.zeros((3, 2)), np.zeros((3, 4)))
    m = metrics.F1Score()
    m.update_state([0, 1], np.eye(3)[:2])
    with pytest.raises(ShapeError, match="saw 3 classes before and now 4"):
        m.update_state([0, 1], np.eye(4)[:2])


# ----------------------------------------------------------------------------- AUC


def keras_auc_reference(y, p, num_thresholds, curve="ROC"):
    """Keras' thresholded algorithm written out literally, one threshold at a time."""
    eps = 1e-7
    thresholds = [0.0 - eps] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1.0 + eps]
    tp, fp, tn, fn = [], [], [], []
    for t in thresholds:
        above = p > t
        tp.append(np.sum(above & (y == 1)))
        fp.append(np.sum(above & (y == 0)))
        tn.append(np.sum(~above & (y == 0)))
        fn.append(np.sum(~above & (y == 1)))
    tp, fp, tn, fn = map(np.asarray, (tp, fp, tn, fn))
    tpr = tp / np.maximum(tp + fn, 1e-300)
    fpr = fp / np.maximum(fp + tn, 1e-300)
    return float(np.sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2))


def test_keras_documented_auc_example():
    assert metrics.AUC(num_thresholds=3)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]) == pytest.approx(0.75)


def test_auc_thresholded_matches_keras_algorithm_and_approximates_sklearn(binary):
    y, p, _ = binary
    for t in (3, 50, 200):
        got = accumulate(metrics.AUC(num_thresholds=t), y, p)
        assert got == pytest.approx(keras_auc_reference(y, p, t), abs=1e-12)
    assert accumulate(metrics.AUC(), y, p) == pytest.approx(sklearn_metrics.roc_auc_score(y, p), abs=5e-3)


def test_auc_exact_matches_sklearn(binary, rng):
    y, p, w = binary
    assert accumulate(metrics.AUC(exact=True), y, p, w) == pytest.approx(sklearn_metrics.roc_auc_score(y, p, sample_weight=w), rel=1e-12)
    # Ties and arbitrary real scores.
    scores = np.round(rng.standard_normal(300) * 2) + 3 * y
    assert accumulate(metrics.AUC(exact=True), y, scores) == pytest.approx(sklearn_metrics.roc_auc_score(y, scores), rel=1e-12)
    ap = sklearn_metrics.average_precision_score(y, p, sample_weight=w)
    assert accumulate(metrics.AUC(exact=True, curve="PR"), y, p, w) == pytest.approx(ap, rel=1e-12)


def test_auc_weights_logits_and_multilabel(binary, rng):
    y, p, w = binary
    logits = np.log(p + 1e-9) - np.log1p(-p + 1e-9)
    exact = sklearn_metrics.roc_auc_score(y, p, sample_weight=w)
    assert accumulate(metrics.AUC(from_logits=True), y, logits, w) == pytest.approx(exact, abs=5e-3)
    labels = rng.integers(0, 2, (400, 3))
    scores = np.clip(labels * 0.25 + rng.uniform(0, 0.75, (400, 3)), 0, 1)
    macro = sklearn_metrics.roc_auc_score(labels, scores, average="macro")
    assert accumulate(metrics.AUC(multi_label=True, exact=True), labels, scores) == pytest.approx(macro, rel=1e-12)
    assert accumulate(metrics.AUC(multi_label=True), labels, scores) == pytest.approx(macro, abs=5e-3)
    micro = sklearn_metrics.roc_auc_score(labels.ravel(), scores.ravel())
    assert accumulate(metrics.AUC(exact=True), labels, scores) == pytest.approx(micro, rel=1e-12)


def test_auc_pr_curve_close_to_average_precision(binary):
    y, p, _ = binary
    ap = sklearn_metrics.average_precision_score(y, p)
    assert accumulate(metrics.AUC(curve="PR"), y, p) == pytest.approx(ap, abs=0.02)
    for method in ("minoring", "majoring"):
        assert 0.0 < accumulate(metrics.AUC(summation_method=method), y, p) < 1.0


def test_auc_single_class_and_errors():
    assert metrics.AUC()([1, 1], [0.2, 0.9]) == 0.0
    assert metrics.AUC(exact=True)([0, 0], [0.2, 0.9]) == 0.0
    with pytest.raises(ValueError, match=r"predictions in \[0, 1\].*from_logits=True.*Received: min=-2.0"):
        metrics.AUC().update_state([0, 1], [-2.0, 3.0])
    with pytest.raises(ValueError, match="num_thresholds must be an integer > 1. Received: num_thresholds=1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="curve must be 'ROC' or 'PR'. Received: curve='XY'"):
        metrics.AUC(curve="xy")


# ----------------------------------------------------------------------------- regression metrics


def test_regression_metrics(rng):
    assert metrics.MeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]) == 0.25
    assert metrics.MeanAbsoluteError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]) == 0.25
    assert metrics.RootMeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]) == 0.5
    y = rng.standard_normal((101, 3))
    p = y + rng.standard_normal((101, 3))
    w = rng.uniform(0, 1, 101)
    assert accumulate(metrics.MeanSquaredError(), y, p, w) == pytest.approx(sklearn_metrics.mean_squared_error(y, p, sample_weight=w))
    assert accumulate(metrics.MeanAbsoluteError(), y, p, w) == pytest.approx(sklearn_metrics.mean_absolute_error(y, p, sample_weight=w))
    assert accumulate(metrics.MeanSquaredError(), y[:, 0], p[:, 0]) == pytest.approx(sklearn_metrics.mean_squared_error(y[:, 0], p[:, 0]))


# ----------------------------------------------------------------------------- get / config


@pytest.mark.parametrize(
    "loss, y_true_shape, y_pred_shape, expected",
    [
        ("binary_crossentropy", None, None, metrics.BinaryAccuracy),
        ("sparse_categorical_crossentropy", None, None, metrics.SparseCategoricalAccuracy),
        ("categorical_crossentropy", None, None, metrics.CategoricalAccuracy),
        ("binary_crossentropy", (8, 4), (8, 4), metrics.BinaryAccuracy),  # multi-label
        (None, (8, 1), (8, 1), metrics.BinaryAccuracy),
        (None, (8,), (8,), metrics.BinaryAccuracy),
        (None, (8,), (8, 10), metrics.SparseCategoricalAccuracy),
        (None, (8, 1), (8, 10), metrics.SparseCategoricalAccuracy),
        (None, (8, 10), (8, 10), metrics.CategoricalAccuracy),
        ("mse", (8, 10), (8, 10), metrics.CategoricalAccuracy),
        ("mse", (8, 1), (8, 1), metrics.BinaryAccuracy),
    ],
)
def test_get_resolves_accuracy_like_keras(loss, y_true_shape, y_pred_shape, expected):
    y_true = None if y_true_shape is None else np.zeros(y_true_shape)
    y_pred = None if y_pred_shape is None else np.zeros(y_pred_shape)
    for name in ("accuracy", "acc"):
        m = metrics.get(name, loss=loss, y_true=y_true, y_pred=y_pred)
        assert type(m) is expected
        assert m.name == name


def test_get_accuracy_from_loss_objects_and_functions():
    class BinaryCrossentropy:
        def __init__(self, from_logits=False):
            self.from_logits = from_logits

    def sparse_categorical_crossentropy(y_true, y_pred):
        return y_pred

    assert metrics.get("accuracy", loss=BinaryCrossentropy()).threshold == 0.5
    # Logits decide at 0, not 0.5.
    assert metrics.get("accuracy", loss=BinaryCrossentropy(from_logits=True)).threshold == 0.0
    assert isinstance(metrics.get("acc", loss=sparse_categorical_crossentropy), metrics.SparseCategoricalAccuracy)
    with pytest.raises(ValueError, match="Cannot tell which accuracy.*Received: loss=None"):
        metrics.get("accuracy")


def test_get_names_and_objects():
    assert (type(metrics.get("mse")), metrics.get("mse").name) == (metrics.MeanSquaredError, "mse")
    assert metrics.get("mean_absolute_error").name == "mean_absolute_error"
    assert type(metrics.get("precision")) is metrics.Precision
    assert type(metrics.get("recall")) is metrics.Recall
    assert type(metrics.get("auc")) is metrics.AUC
    assert metrics.get("AUC").name == "auc"
    f1 = metrics.get("f1_score")
    assert (type(f1), f1.average, f1.name) == (metrics.F1Score, "macro", "f1_score")
    m = metrics.Recall()
    assert metrics.get(m) is m
    assert type(metrics.get(metrics.Precision)) is metrics.Precision

    def my_error(y_true, y_pred):
        return np.abs(np.asarray(y_true) - y_pred)

    wrapped = metrics.get(my_error)
    assert wrapped.name == "my_error" and wrapped([1.0], [3.0]) == 2.0
    with pytest.raises(ValueError, match="Unknown metric.*Received: identifier='nope'"):
        metrics.get("nope")
    with pytest.raises(ValueError, match="Received: identifier=3"):
        metrics.get(3)


def test_get_loss_names_wrap_the_loss_functions():
    import ferronet.losses

    m = metrics.get("binary_crossentropy")
    assert isinstance(m, metrics.MeanMetricWrapper) and m.name == "binary_crossentropy"
    assert m._fn is ferronet.losses.binary_crossentropy


@pytest.mark.parametrize(
    "metric",
    [
        metrics.Mean(name="m"),
        metrics.BinaryAccuracy(threshold=0.3),
        metrics.CategoricalAccuracy(),
        metrics.SparseCategoricalAccuracy(name="acc"),
        metrics.TopKCategoricalAccuracy(k=3),
        metrics.SparseTopKCategoricalAccuracy(k=2),
        metrics.Precision(thresholds=[0.3, 0.6], class_id=1),
        metrics.Recall(top_k=2),
        metrics.TruePositives(thresholds=0.7),
        metrics.F1Score(average="weighted", threshold=0.4),
        metrics.FBetaScore(beta=0.5),
        metrics.AUC(num_thresholds=50, curve="PR", multi_label=True, exact=False),
        metrics.MeanSquaredError(),
        metrics.RootMeanSquaredError(),
    ],
    ids=lambda m: type(m).__name__,
)
def test_config_round_trip(metric):
    rebuilt = metrics.get(metrics.serialize(metric))
    assert type(rebuilt) is type(metric)
    assert rebuilt.get_config() == metric.get_config()
