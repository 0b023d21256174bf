"""Published TensorFlow/Keras programs, unchanged but for ``import ferronet as tf`` and small synthetic data."""

import numpy as np

import ferronet as tf
from ferronet import keras

RNG = np.random.default_rng(7)


def _digits(n=96):
    x = RNG.random((n, 28, 28)).astype(np.float32)
    y = (x[:, :14].mean(axis=(1, 2)) > x[:, 14:].mean(axis=(1, 2))).astype(np.int64) + 2 * (
        x[:, :, :14].mean(axis=(1, 2)) > x[:, :, 14:].mean(axis=(1, 2)))
    return x, y


def test_tensorflow_quickstart_for_beginners():
    (x_train, y_train), (x_test, y_test) = _digits(), _digits(32)
    model = tf.keras.models.Sequential([
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10),
    ])
    predictions = model(x_train[:1]).numpy()
    assert predictions.shape == (1, 10)
    probs = tf.nn.softmax(predictions).numpy()
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-6)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    first = loss_fn(y_train[:1], predictions).numpy()
    assert 0 < first < 10
    model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=3, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])
    out = probability_model(x_test[:5])
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, rtol=1e-5)


def test_tensorflow_quickstart_for_experts():
    x_train, y_train = _digits(64)
    x_train = x_train[..., tf.newaxis].astype("float32")
    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(64).batch(16)

    class MyModel(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.conv1 = tf.keras.layers.Conv2D(4, 3, activation="relu")
            self.flatten = tf.keras.layers.Flatten()
            self.d1 = tf.keras.layers.Dense(16, activation="relu")
            self.d2 = tf.keras.layers.Dense(10)

        def call(self, x):
            x = self.conv1(x)
            x = self.flatten(x)
            x = self.d1(x)
            return self.d2(x)

    model = MyModel()
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()
    train_loss = tf.keras.metrics.Mean(name="train_loss")
    train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)
        train_accuracy(labels, predictions)

    losses = []
    for epoch in range(4):
        train_loss.reset_state()
        train_accuracy.reset_state()
        for images, labels in train_ds:
            train_step(images, labels)
        losses.append(float(train_loss.result()))
    assert losses[-1] < losses[0]
    assert len(model.trainable_variables) == 6


def test_making_new_layers_and_models_via_subclassing():
    class Linear(keras.layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                     trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return tf.matmul(inputs, self.w) + self.b

    class ActivityRegularizationLayer(keras.layers.Layer):
        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * tf.reduce_mean(inputs))
            return inputs

    class MLPBlock(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear_1 = Linear(32)
            self.linear_2 = Linear(32)
            self.linear_3 = Linear(1)

        def call(self, inputs):
            x = self.linear_1(inputs)
            x = tf.nn.relu(x)
            x = self.linear_2(x)
            x = tf.nn.relu(x)
            return self.linear_3(x)

    mlp = MLPBlock()
    y = mlp(tf.ones(shape=(3, 64)))
    assert y.shape == (3, 1)
    assert len(mlp.weights) == 6 and len(mlp.trainable_weights) == 6

    class OuterLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs):
            return self.activity_reg(inputs)

    layer = OuterLayer()
    _ = layer(tf.zeros((1, 1)))
    assert len(layer.losses) == 1
    _ = layer(tf.zeros((1, 1)))
    assert len(layer.losses) == 1  # cleared at the start of each outermost call


def test_variational_autoencoder_with_sampling_layer_and_kl_loss():
    class Sampling(keras.layers.Layer):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch = tf.shape(z_mean)[0]
            dim = tf.shape(z_mean)[1]
            epsilon = tf.random.normal(shape=(batch, dim))
            return z_mean + tf.exp(0.5 * z_log_var) * epsilon

    latent_dim = 2
    encoder_inputs = keras.Input(shape=(16,))
    x = keras.layers.Dense(8, activation="relu")(encoder_inputs)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = keras.Input(shape=(latent_dim,))
    decoder_outputs = keras.layers.Dense(16, activation="sigmoid")(keras.layers.Dense(8, activation="relu")(
        latent_inputs))
    decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")

    class VAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker]

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                reconstruction_loss = tf.reduce_mean(tf.reduce_sum(
                    keras.losses.binary_crossentropy(data, reconstruction), axis=-1))
                kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
                kl_loss = tf.reduce_mean(tf.reduce_sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            return {"loss": self.total_loss_tracker.result()}

    data = (RNG.random((64, 16)) > 0.5).astype("float32")
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2))
    history = vae.fit(data, epochs=6, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert len(vae.trainable_weights) == len(encoder.trainable_weights) + len(decoder.trainable_weights)


def test_custom_metric_subclass_with_add_weight_in_compile():
    # keras.io "Training & evaluation with the built-in methods": a stateful Metric subclass
    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_weight(name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = tf.reshape(tf.argmax(y_pred, axis=1), shape=(-1, 1))
            values = tf.cast(y_true, "int32") == tf.cast(y_pred, "int32")
            values = tf.cast(values, "float32")
            if sample_weight is not None:
                values = tf.multiply(values, tf.cast(sample_weight, "float32"))
            self.true_positives.assign_add(tf.reduce_sum(values))

        def result(self):
            return self.true_positives

        def reset_state(self):
            self.true_positives.assign(0.0)

    x, y = _digits(64)
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[CategoricalTruePositives()])
    history = model.fit(x, y.reshape(-1, 1), batch_size=16, epochs=2, verbose=0)
    counts = history.history["categorical_true_positives"]
    assert all(0 <= c <= 64 and float(c).is_integer() for c in counts)
    manual = CategoricalTruePositives()
    probs = model.predict(x, verbose=0)
    manual.update_state(y.reshape(-1, 1), probs)
    assert float(manual.result()) == float((probs.argmax(1) == y).sum())


def test_tensorflow_basic_regression_tutorial():
    # TensorFlow's "Basic regression: Predict fuel efficiency", on synthetic data with the same shapes
    rng = np.random.default_rng(2)
    train_features = rng.normal(50.0, 20.0, (200, 9)).astype("float32")
    train_labels = (train_features @ rng.normal(0, 0.1, 9) + 20.0).astype("float32")
    normalizer = tf.keras.layers.Normalization(axis=-1)
    normalizer.adapt(np.array(train_features))
    np.testing.assert_allclose(normalizer.mean.numpy(), train_features.mean(axis=0), rtol=1e-5)
    first = np.array(train_features[:1])
    np.testing.assert_allclose(normalizer(first).numpy(),
                               (first - train_features.mean(0)) / train_features.std(0), rtol=1e-4)
    horsepower = np.array(train_features[:, 2])
    horsepower_normalizer = tf.keras.layers.Normalization(input_shape=[1], axis=None)
    horsepower_normalizer.adapt(horsepower)
    horsepower_model = tf.keras.Sequential([horsepower_normalizer, tf.keras.layers.Dense(units=1)])
    horsepower_model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.1), loss="mean_absolute_error")
    h = horsepower_model.fit(horsepower, train_labels, epochs=20, verbose=0, validation_split=0.2)
    assert h.history["loss"][-1] < h.history["loss"][0]

    def build_and_compile_model(norm):
        model = tf.keras.Sequential([norm, tf.keras.layers.Dense(64, activation="relu"),
                                     tf.keras.layers.Dense(64, activation="relu"), tf.keras.layers.Dense(1)])
        model.compile(loss="mean_absolute_error", optimizer=tf.keras.optimizers.Adam(0.001))
        return model

    dnn_model = build_and_compile_model(normalizer)
    history = dnn_model.fit(train_features, train_labels, validation_split=0.2, verbose=0, epochs=20)
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    test_predictions = dnn_model.predict(train_features[:5]).flatten()
    assert test_predictions.shape == (5,)
