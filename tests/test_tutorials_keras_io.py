"""Published Keras tutorials, transcribed with only the imports changed and small synthetic data.

Each test follows its tutorial's program step by step (same layers, arguments,
losses, callbacks and calls) so that a user pasting it gets what the page
shows; the downloads are replaced by files of the same format written to a
temporary folder, and the epochs are shortened.

- keras.io, "Convolutional autoencoder for image denoising" (S. Valdarrama)
- keras.io, "Timeseries classification from scratch" (hfawaz)
- tensorflow.org, "Basic regression: Predict fuel efficiency"
"""

import numpy as np
import pytest

import ferronet


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("FERRONET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FERRONET_OFFLINE", "1")
    ferronet.utils.set_random_seed(0)
    np.random.seed(0)
    return tmp_path


# ----------------------------------------------------------------------------- autoencoder


def write_synthetic_mnist(folder, n_train=96, n_test=32):
    """Blurry strokes on a dark background as uint8 28x28 images, saved as Keras' mnist.npz."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:28, 0:28]

    def images(n):
        out = np.zeros((n, 28, 28), np.float64)
        for i in range(n):
            cx, cy, r = rng.uniform(9, 19), rng.uniform(9, 19), rng.uniform(4, 8)
            ring = np.exp(-((np.hypot(xx - cx, yy - cy) - r) ** 2) / 2.0)
            out[i] = ring / ring.max()
        return (out * 255).astype(np.uint8)

    folder.mkdir(parents=True)
    np.savez(folder / "mnist.npz", x_train=images(n_train), y_train=np.zeros(n_train, np.uint8),
             x_test=images(n_test), y_test=np.zeros(n_test, np.uint8))


def test_convolutional_autoencoder_for_image_denoising(workdir):
    write_synthetic_mnist(workdir / "data")

    # --- the tutorial, with `tensorflow.keras` replaced by `ferronet` ---
    import matplotlib.pyplot as plt

    from ferronet import layers
    from ferronet.datasets import mnist
    from ferronet.models import Model

    def preprocess(array):
        """Normalizes the supplied array and reshapes it into the appropriate format."""
        array = array.astype("float32") / 255.0
        array = np.reshape(array, (len(array), 28, 28, 1))
        return array

    def noise(array):
        """Adds random noise to each image in the supplied array."""
        noise_factor = 0.4
        noisy_array = array + noise_factor * np.random.normal(loc=0.0, scale=1.0, size=array.shape)
        return np.clip(noisy_array, 0.0, 1.0)

    def display(array1, array2):
        """Displays ten random images from each one of the supplied arrays."""
        n = 10
        indices = np.random.randint(len(array1), size=n)
        images1 = array1[indices, :]
        images2 = array2[indices, :]
        plt.figure(figsize=(20, 4))
        for i, (image1, image2) in enumerate(zip(images1, images2)):
            ax = plt.subplot(2, n, i + 1)
            plt.imshow(image1.reshape(28, 28))
            plt.gray()
            ax.get_xaxis().set_visible(False)
            ax.get_yaxis().set_visible(False)
            ax = plt.subplot(2, n, i + 1 + n)
            plt.imshow(image2.reshape(28, 28))
            plt.gray()
            ax.get_xaxis().set_visible(False)
            ax.get_yaxis().set_visible(False)
        plt.show()
        plt.close("all")

    (train_data, _), (test_data, _) = mnist.load_data()
    train_data = preprocess(train_data)
    test_data = preprocess(test_data)
    noisy_train_data = noise(train_data)
    noisy_test_data = noise(test_data)
    display(train_data, noisy_train_data)

    input = layers.Input(shape=(28, 28, 1))
    # Encoder
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(input)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    # Decoder
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    # Autoencoder
    autoencoder = Model(input, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    autoencoder.summary()

    first = autoencoder.fit(x=train_data, y=train_data, epochs=3, batch_size=128, shuffle=True,
                            validation_data=(test_data, test_data), verbose=0)
    predictions = autoencoder.predict(test_data, verbose=0)
    display(test_data, predictions)

    second = autoencoder.fit(x=noisy_train_data, y=train_data, epochs=3, batch_size=128, shuffle=True,
                             validation_data=(noisy_test_data, test_data), verbose=0)
    predictions = autoencoder.predict(noisy_test_data, verbose=0)
    display(noisy_test_data, predictions)
    # --- end of the tutorial ---

    assert [l.__class__.__name__ for l in autoencoder.layers] == [
        "InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2DTranspose", "Conv2DTranspose",
        "Conv2D"]
    # the encoder halves 28 -> 14 -> 7 and the strided transposed convolutions double it back
    assert autoencoder.get_layer(index=4).output.shape == (None, 7, 7, 32)
    assert autoencoder.output_shape == (None, 28, 28, 1)
    assert predictions.shape == (32, 28, 28, 1) and predictions.dtype == np.float32
    assert 0.0 <= predictions.min() and predictions.max() <= 1.0
    assert set(first.history) == {"loss", "val_loss"} and len(second.history["loss"]) == 3
    assert first.history["loss"][-1] < first.history["loss"][0]
    assert second.history["loss"][-1] < first.history["loss"][0]


# ----------------------------------------------------------------------------- timeseries classification


def write_synthetic_ucr(path, n, length, rng):
    """A UCR-format TSV: the label (-1 or 1) then the z-normalized series, one row per sample."""
    t = np.linspace(0, 1, length)
    labels = rng.choice([-1, 1], size=n)
    freq = np.where(labels == 1, 3.0, 7.0)[:, None]
    series = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi, (n, 1))) + 0.3 * rng.normal(size=(n, length))
    series = (series - series.mean(axis=1, keepdims=True)) / series.std(axis=1, keepdims=True)
    np.savetxt(path, np.column_stack([labels, series]), delimiter="\t", fmt="%.6g")


def test_timeseries_classification_from_scratch(workdir):
    rng = np.random.default_rng(1)
    write_synthetic_ucr(workdir / "FordA_TRAIN.tsv", 160, 64, rng)
    write_synthetic_ucr(workdir / "FordA_TEST.tsv", 48, 64, rng)
    root_url = str(workdir) + "/"

    # --- the tutorial, with `from tensorflow import keras` replaced by `import ferronet as keras` ---
    import matplotlib.pyplot as plt
    from sklearn.metrics import accuracy_score

    import ferronet as keras

    def readucr(filename):
        data = np.loadtxt(filename, delimiter="\t")
        y = data[:, 0]
        x = data[:, 1:]
        return x, y.astype(int)

    x_train, y_train = readucr(root_url + "FordA_TRAIN.tsv")
    x_test, y_test = readucr(root_url + "FordA_TEST.tsv")

    classes = np.unique(np.concatenate((y_train, y_test), axis=0))
    plt.figure()
    for c in classes:
        c_x_train = x_train[y_train == c]
        plt.plot(c_x_train[0], label="class " + str(c))
    plt.legend(loc="best")
    plt.show()
    plt.close()

    x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
    x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))
    num_classes = len(np.unique(y_train))
    idx = np.random.permutation(len(x_train))
    x_train = x_train[idx]
    y_train = y_train[idx]
    y_train[y_train == -1] = 0
    y_test[y_test == -1] = 0

    def make_model(input_shape):
        input_layer = keras.layers.Input(input_shape)

        conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
        conv1 = keras.layers.BatchNormalization()(conv1)
        conv1 = keras.layers.ReLU()(conv1)

        conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
        conv2 = keras.layers.BatchNormalization()(conv2)
        conv2 = keras.layers.ReLU()(conv2)

        conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
        conv3 = keras.layers.BatchNormalization()(conv3)
        conv3 = keras.layers.ReLU()(conv3)

        gap = keras.layers.GlobalAveragePooling1D()(conv3)

        output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

        return keras.models.Model(inputs=input_layer, outputs=output_layer)

    model = make_model(input_shape=x_train.shape[1:])
    # (the tutorial draws the model here with keras.utils.plot_model(model, show_shapes=True))

    epochs = 8
    batch_size = 32

    callbacks = [
        keras.callbacks.ModelCheckpoint("best_model.keras", save_best_only=True, monitor="val_loss"),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=20, min_lr=0.0001),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=50, verbose=1),
    ]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        callbacks=callbacks,
        validation_split=0.2,
        verbose=0,
    )

    model = keras.models.load_model("best_model.keras")
    y_pred = model.predict(x_test, verbose=0).argmax(axis=1)
    print("Test accuracy", accuracy_score(y_pred, y_test))

    metric = "accuracy"
    plt.figure()
    plt.plot(history.history[metric])
    plt.plot(history.history["val_" + metric])
    plt.title("model " + metric)
    plt.ylabel(metric, fontsize="large")
    plt.xlabel("epoch", fontsize="large")
    plt.legend(["train", "val"], loc="best")
    plt.show()
    plt.close()
    # --- end of the tutorial ---

    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
    assert len(history.history["loss"]) == epochs
    # the checkpoint holds the epoch with the lowest val_loss: reloading it reproduces that loss
    best = min(history.history["val_loss"])
    n_val = int(len(x_train) * 0.2)
    reloaded_loss, _ = model.evaluate(x_train[-n_val:], y_train[-n_val:], verbose=0)
    assert reloaded_loss == pytest.approx(best, rel=1e-4)
    # two sine frequencies are easy to tell apart: the network learns them in a few epochs
    assert accuracy_score(y_pred, y_test) >= 0.9


def timeseries_model():
    import ferronet as keras

    inputs = keras.layers.Input((16, 1))
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(keras.layers.Conv1D(4, 3, padding="same")(inputs)))
    return keras.models.Model(inputs, keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling1D()(x))), (3, 16, 1)


def regression_model():
    import ferronet as tf

    normalizer = tf.keras.layers.Normalization(axis=-1)
    normalizer.adapt(np.random.default_rng(0).normal(size=(20, 9)))
    return tf.keras.Sequential([normalizer, tf.keras.layers.Dense(4, activation="relu"),
                                tf.keras.layers.Dense(1)]), (3, 9)


@pytest.mark.parametrize("build", [timeseries_model, regression_model])
def test_tutorial_models_in_keras_format(workdir, build):
    pytest.importorskip("h5py")
    model, shape = build()
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    expected = model.predict(x, verbose=0)
    model.save("best_model.keras")
    reloaded = ferronet.models.load_model("best_model.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, rtol=1e-6)


# ----------------------------------------------------------------------------- fuel efficiency regression


def write_synthetic_auto_mpg(path, n, rng):
    """Rows in auto-mpg.data's format: 8 space-separated columns, '?' for a missing horsepower, then a
    tab and the quoted car name."""
    cylinders = rng.choice([4, 6, 8], size=n)
    displacement = cylinders * rng.uniform(20, 45, n)
    horsepower = 0.4 * displacement + rng.uniform(30, 60, n)
    weight = 600 + 8 * displacement + rng.normal(0, 150, n)
    acceleration = 22 - horsepower / 20 + rng.normal(0, 1, n)
    year = rng.integers(70, 83, n)
    origin = rng.integers(1, 4, n)
    mpg = 60 - 0.22 * horsepower - 0.004 * weight + 0.5 * (year - 70) + rng.normal(0, 1.0, n)
    lines = []
    for i in range(n):
        hp = "?" if i % 40 == 7 else f"{horsepower[i]:.1f}"
        lines.append(f"{mpg[i]:.1f}   {cylinders[i]}   {displacement[i]:.1f}      {hp}      {weight[i]:.1f}      "
                     f"{acceleration[i]:.1f}   {year[i]}  {origin[i]}\t\"car {i}\"")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def restore_printoptions():
    """The tutorial sets NumPy's print options for the whole process, as TensorFlow's does; put them back."""
    saved = np.get_printoptions()
    yield
    np.set_printoptions(**saved)


def test_basic_regression_predict_fuel_efficiency(restore_printoptions, workdir):
    pd = pytest.importorskip("pandas")
    write_synthetic_auto_mpg(workdir / "auto-mpg.data", 398, np.random.default_rng(2))
    url = str(workdir / "auto-mpg.data")

    # --- the tutorial, with `import tensorflow as tf` replaced by `import ferronet as tf` ---
    import matplotlib.pyplot as plt

    import ferronet as tf
    from ferronet import keras
    from ferronet.keras import layers

    np.set_printoptions(precision=3, suppress=True)

    column_names = ["MPG", "Cylinders", "Displacement", "Horsepower", "Weight", "Acceleration", "Model Year",
                    "Origin"]
    raw_dataset = pd.read_csv(url, names=column_names, na_values="?", comment="\t", sep=" ", skipinitialspace=True)
    dataset = raw_dataset.copy()
    dataset.tail()
    dataset.isna().sum()
    dataset = dataset.dropna()
    dataset["Origin"] = dataset["Origin"].map({1: "USA", 2: "Europe", 3: "Japan"})
    dataset = pd.get_dummies(dataset, columns=["Origin"], prefix="", prefix_sep="", dtype=int)
    dataset.tail()

    train_dataset = dataset.sample(frac=0.8, random_state=0)
    test_dataset = dataset.drop(train_dataset.index)
    train_dataset.describe().transpose()

    train_features = train_dataset.copy()
    test_features = test_dataset.copy()
    train_labels = train_features.pop("MPG")
    test_labels = test_features.pop("MPG")
    train_dataset.describe().transpose()[["mean", "std"]]

    normalizer = tf.keras.layers.Normalization(axis=-1)
    normalizer.adapt(np.array(train_features))
    print(normalizer.mean.numpy())
    first = np.array(train_features[:1])
    with np.printoptions(precision=2, suppress=True):
        print("First example:", first)
        print()
        print("Normalized:", normalizer(first).numpy())

    # Linear regression with one variable
    horsepower = np.array(train_features["Horsepower"])
    horsepower_normalizer = layers.Normalization(input_shape=[1], axis=None)
    horsepower_normalizer.adapt(horsepower)
    horsepower_model = tf.keras.Sequential([horsepower_normalizer, layers.Dense(units=1)])
    horsepower_model.summary()
    horsepower_model.predict(horsepower[:10])
    horsepower_model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.1), loss="mean_absolute_error")
    history = horsepower_model.fit(train_features["Horsepower"], train_labels, epochs=100, verbose=0,
                                   validation_split=0.2)
    hist = pd.DataFrame(history.history)
    hist["epoch"] = history.epoch
    hist.tail()

    def plot_loss(history):
        plt.plot(history.history["loss"], label="loss")
        plt.plot(history.history["val_loss"], label="val_loss")
        plt.ylim([0, 10])
        plt.xlabel("Epoch")
        plt.ylabel("Error [MPG]")
        plt.legend()
        plt.grid(True)

    plot_loss(history)
    test_results = {}
    test_results["horsepower_model"] = horsepower_model.evaluate(test_features["Horsepower"], test_labels, verbose=0)
    x = tf.linspace(0.0, 250, 251)
    y = horsepower_model.predict(x)

    def plot_horsepower(x, y):
        plt.scatter(train_features["Horsepower"], train_labels, label="Data")
        plt.plot(x, y, color="k", label="Predictions")
        plt.xlabel("Horsepower")
        plt.ylabel("MPG")
        plt.legend()

    plot_horsepower(x, y)

    # Linear regression with multiple inputs
    linear_model = tf.keras.Sequential([normalizer, layers.Dense(units=1)])
    linear_model.predict(train_features[:10])
    linear_model.layers[1].kernel
    linear_model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.1), loss="mean_absolute_error")
    history = linear_model.fit(train_features, train_labels, epochs=100, verbose=0, validation_split=0.2)
    plot_loss(history)
    test_results["linear_model"] = linear_model.evaluate(test_features, test_labels, verbose=0)

    # Regression with a deep neural network (DNN)
    def build_and_compile_model(norm):
        model = keras.Sequential([norm, layers.Dense(64, activation="relu"), layers.Dense(64, activation="relu"),
                                  layers.Dense(1)])
        model.compile(loss="mean_absolute_error", optimizer=tf.keras.optimizers.Adam(0.001))
        return model

    dnn_horsepower_model = build_and_compile_model(horsepower_normalizer)
    dnn_horsepower_model.summary()
    history = dnn_horsepower_model.fit(train_features["Horsepower"], train_labels, validation_split=0.2, verbose=0,
                                       epochs=100)
    plot_loss(history)
    x = tf.linspace(0.0, 250, 251)
    y = dnn_horsepower_model.predict(x)
    plot_horsepower(x, y)
    test_results["dnn_horsepower_model"] = dnn_horsepower_model.evaluate(test_features["Horsepower"], test_labels,
                                                                         verbose=0)

    dnn_model = build_and_compile_model(normalizer)
    dnn_model.summary()
    history = dnn_model.fit(train_features, train_labels, validation_split=0.2, verbose=0, epochs=100)
    plot_loss(history)
    test_results["dnn_model"] = dnn_model.evaluate(test_features, test_labels, verbose=0)
    pd.DataFrame(test_results, index=["Mean absolute error [MPG]"]).T

    test_predictions = dnn_model.predict(test_features).flatten()
    a = plt.axes(aspect="equal")  # noqa: F841 (as in the tutorial)
    plt.scatter(test_labels, test_predictions)
    plt.xlabel("True Values [MPG]")
    plt.ylabel("Predictions [MPG]")
    lims = [0, 50]
    plt.xlim(lims)
    plt.ylim(lims)
    _ = plt.plot(lims, lims)
    error = test_predictions - test_labels
    plt.hist(error, bins=25)
    plt.xlabel("Prediction Error [MPG]")
    _ = plt.ylabel("Count")
    plt.close("all")

    dnn_model.save("dnn_model.keras")
    reloaded = tf.keras.models.load_model("dnn_model.keras")
    test_results["reloaded"] = reloaded.evaluate(test_features, test_labels, verbose=0)
    pd.DataFrame(test_results, index=["Mean absolute error [MPG]"]).T
    # --- end of the tutorial ---

    assert set(history.history) == {"loss", "val_loss"} and hist.shape == (100, 3)
    assert list(train_features.columns) == ["Cylinders", "Displacement", "Horsepower", "Weight", "Acceleration",
                                            "Model Year", "Europe", "Japan", "USA"]
    # adapt learned the training statistics; normalized training features have mean 0 and std 1
    features = np.array(train_features, dtype=np.float64)
    np.testing.assert_allclose(np.ravel(normalizer.mean.numpy()), features.mean(axis=0), rtol=1e-4, atol=1e-5)
    normed = np.asarray(normalizer(np.array(train_features)))
    np.testing.assert_allclose(normed.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(normed.std(axis=0), 1, atol=1e-3)
    assert np.asarray(y).shape == (251, 1) and tuple(linear_model.layers[1].kernel.shape) == (9, 1)
    # a model that predicts the training mean is the baseline every model here must beat
    baseline = float(np.mean(np.abs(test_labels - train_labels.mean())))
    assert max(test_results["linear_model"], test_results["dnn_model"]) < baseline
    assert test_results["reloaded"] == pytest.approx(test_results["dnn_model"], rel=1e-6)
