"""The course material's Keras code runs with neuralab after changing only its imports.

Each snippet below is copied from a seed file (with its original ``tensorflow``/``keras``
imports); :func:`port` rewrites the import lines and nothing else, then the code runs on
stand-in data of the same shapes (the UIowa features are not available here).
"""

import re
import textwrap

import numpy as np


def port(code: str) -> str:
    """Rewrite import statements only: tensorflow -> neuralab, keras -> neuralab.keras."""
    out = []
    for line in textwrap.dedent(code).splitlines():
        if re.match(r"\s*(import|from)\s", line):
            line = re.sub(r"\btensorflow\.keras\b", "neuralab.keras", line)
            line = re.sub(r"\btensorflow\b", "neuralab", line)
            line = re.sub(r"^(\s*from\s+)keras\b", r"\1neuralab.keras", line)
        out.append(line)
    return "\n".join(out)


def run(code: str, **namespace):
    namespace.setdefault("np", np)
    exec(compile(port(code), "<seed snippet>", "exec"), namespace)
    return namespace


def instrument_like(n_train=3000, n_test=600, seed=0):
    """Stand-in for the UIowa features: 120 features, 10 classes, separable-ish."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((10, 120)) * 1.5
    ytr, yts = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    xtr = np.abs(centers[ytr] + rng.standard_normal((n_train, 120))) * 0.01
    xts = np.abs(centers[yts] + rng.standard_normal((n_test, 120))) * 0.01
    return xtr, ytr, xts, yts


def test_port_changes_only_imports():
    code = "import tensorflow as tf\nx = 'tensorflow.keras'\nfrom keras.utils import np_utils"
    assert port(code).splitlines() == ["import neuralab as tf", "x = 'tensorflow.keras'",
                                       "from neuralab.keras.utils import np_utils"]


def test_instrument_lab_000(capsys):
    xtr, ytr, xts, yts = instrument_like()
    ns = run('''
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        scaler.fit(Xtr)
        Xtr_scale = scaler.transform(Xtr)
        Xts_scale = scaler.transform(Xts)

        from tensorflow.keras.models import Model, Sequential
        from tensorflow.keras.layers import Dense, Activation
        import tensorflow.keras.backend as K
        from tensorflow.keras import optimizers
        from keras.utils import np_utils

        # change the label to one-hot mode
        y_train = np_utils.to_categorical(ytr, num_classes=10)
        y_test = np_utils.to_categorical(yts, num_classes=10)

        K.clear_session()
        nin = 120 # dimension of input data
        nh = 256 # number of hidden units
        nout = 10 # number of outputs = 10 since this is a multi-classification problem and we have 10 classes
        model = Sequential()
        model.add(Dense(units=nh, input_shape=(nin,), activation='sigmoid', name='hidden'))
        model.add(Dense(units=nout, activation='softmax', name='output'))
        opt = optimizers.Adam(lr=0.001)
        model.compile(loss='categorical_crossentropy', optimizer=opt, metrics=['accuracy'])
        model.summary()

        hist = model.fit(Xtr_scale, y_train, epochs=10, batch_size=128, validation_data=(Xts_scale,y_test))
        train_acc = hist.history['accuracy'];
        test_acc = hist.history['val_accuracy'];
        train_loss = hist.history['loss']
        test_loss = hist.history['val_loss']
    ''', Xtr=xtr, Xts=xts, ytr=ytr, yts=yts)
    out = capsys.readouterr().out
    assert "hidden (Dense)               (None, 256)               30976" in out
    assert "output (Dense)               (None, 10)                2570" in out
    assert "Total params: 33,546" in out
    epoch_lines = [line for line in out.splitlines() if line.startswith("24/24 - ")]
    assert len(epoch_lines) == 10 and "Epoch 10/10" in out
    assert re.search(r"loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - "
                     r"val_accuracy: \d\.\d{4}$", epoch_lines[-1])
    assert len(ns["test_acc"]) == 10 and ns["test_acc"][-1] > 0.9


def test_instrument_lab_001_custom_callback_and_learning_rate_loop(capsys):
    xtr, ytr, xts, yts = instrument_like()
    ns = run('''
        import tensorflow as tf
        from tensorflow.keras import layers, models, optimizers
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        Xtr_scale = scaler.fit_transform(Xtr)
        Xts_scale = scaler.transform(Xts)
        num_features = Xtr.shape[1]
        num_classes = len(np.unique(ytr))

        tf.keras.backend.clear_session()
        nh = 256
        model = models.Sequential()
        model.add(layers.Dense(nh, activation='sigmoid', input_shape=(num_features,)))
        model.add(layers.Dense(num_classes, activation='softmax'))
        model.summary()

        class MyCustomCallback(tf.keras.callbacks.Callback):
            def __init__(self, target_accuracy):
                super(MyCustomCallback, self).__init__()
                self.target_accuracy = target_accuracy

            def on_epoch_end(self, epoch, logs=None):
                if logs.get('accuracy') >= self.target_accuracy:
                    print(f"\\nReached target accuracy ({self.target_accuracy * 100:.2f}%), stopping training!")
                    self.model.stop_training = True

        optimizer = optimizers.Adam(learning_rate=0.001)
        model.compile(optimizer=optimizer,
                      loss='sparse_categorical_crossentropy',
                      metrics=['accuracy'])
        my_callback_instance = MyCustomCallback(target_accuracy=0.99)
        history = model.fit(
            Xtr_scale, ytr,
            epochs=10,
            batch_size=100,
            validation_data=(Xts_scale, yts),
            callbacks=[my_callback_instance]
        )
        test_loss, test_accuracy = model.evaluate(Xts_scale, yts)
        print(f"Final Test Accuracy: {test_accuracy * 100:.2f}%")

        rates = [0.01, 0.001, 0.0001]
        batch_size = 100
        loss_hist = []
        for lr in rates:
            print(f"\\nTraining model with learning rate: {lr}")
            tf.keras.backend.clear_session()
            model = models.Sequential()
            model.add(layers.Dense(nh, activation='sigmoid', input_shape=(num_features,)))
            model.add(layers.Dense(num_classes, activation='softmax'))
            optimizer = optimizers.Adam(learning_rate=lr)
            model.compile(optimizer=optimizer,
                          loss='sparse_categorical_crossentropy',
                          metrics=['accuracy'])
            history = model.fit(
                Xtr_scale, ytr,
                epochs=3,
                batch_size=batch_size,
                validation_data=(Xts_scale, yts)
            )
            loss_hist.append(history.history['val_loss'])
    ''', Xtr=xtr, Xts=xts, ytr=ytr, yts=yts)  # noqa: E501 (the course's code, verbatim)
    out = capsys.readouterr().out
    assert 'Model: "sequential"' in out and "dense_1 (Dense)" in out
    assert "Reached target accuracy (99.00%), stopping training!" in out
    assert "Final Test Accuracy:" in out
    assert len(ns["loss_hist"]) == 3 and all(len(h) == 3 for h in ns["loss_hist"])
    # the slowest rate learns least in three epochs
    assert ns["loss_hist"][2][-1] > ns["loss_hist"][0][-1]


def test_lecture_002_synthetic_keras_recipe(capsys):
    from neuralab.datasets import make_lecture_synthetic
    X, y = make_lecture_synthetic(400, seed=3)
    ns = run('''
        from tensorflow.keras.models import Model, Sequential
        from tensorflow.keras.layers import Dense, Activation
        import tensorflow.keras.backend as K
        from tensorflow.keras import optimizers
        K.clear_session()
        nx = 2
        nin = nx  # dimension of input data
        nh = 4    # number of hidden units
        nout = 1  # number of outputs = 1 since this is binary
        model = Sequential()
        model.add(Dense(units=nh, input_shape=(nx,), activation='sigmoid', name='hidden'))
        model.add(Dense(units=nout, activation='sigmoid', name='output'))
        model.summary()
        opt = optimizers.Adam(lr=0.01)
        model.compile(optimizer=opt,
                      loss='binary_crossentropy',
                      metrics=['accuracy'])
        model.fit(X, y, epochs=10, batch_size=100)

        nit = 4    # number of training iterations
        nepoch_per_it = 50 # number of epochs per iterations
        loss = np.zeros(nit)
        acc = np.zeros(nit)
        epoch_it = np.zeros(nit)
        for it in range(nit):
            init_epoch = it*nepoch_per_it
            model.fit(X, y, epochs=nepoch_per_it, batch_size=100, verbose=0)
            lossi, acci = model.evaluate(X,y, verbose=0)
            epochi = (it+1)*nepoch_per_it
            epoch_it[it] = epochi
            loss[it] = lossi
            acc[it] = acci
            print("epoch=%4d loss=%12.4e acc=%7.5f" % (epochi,lossi,acci))

        xmin = [0,0]
        xmax = [1,1]
        nplot = 100
        x0plot = np.linspace(xmin[0],xmax[1],nplot)
        x1plot = np.linspace(xmin[0],xmax[1],nplot)
        x0mat, x1mat = np.meshgrid(x0plot,x1plot)
        Xplot = np.column_stack([x0mat.ravel(), x1mat.ravel()])
        yplot = model.predict(Xplot)
        yplot_mat = yplot[:,0].reshape((nplot, nplot))

        layer_hid = model.get_layer('hidden')
        model1 = Model(inputs=model.input,
                       outputs=layer_hid.output)
        zhid_plot = model1.predict(Xplot)
        zhid_plot = zhid_plot.reshape((nplot,nplot,nh))
    ''', X=X, y=y)
    out = capsys.readouterr().out
    assert "hidden (Dense)               (None, 4)                 12" in out
    assert "Total params: 17 " in out
    assert re.search(r"Epoch 10/10\n4/4 - .* - loss: \d\.\d{4} - accuracy: \d\.\d{4}\n", out)
    assert len(re.findall(r"epoch= +\d+ loss= +\d\.\d{4}e[-+]\d\d acc=\d\.\d{5}", out)) == 4
    assert ns["yplot_mat"].shape == (100, 100)
    assert ns["zhid_plot"].shape == (100, 100, 4)
    assert np.all((ns["zhid_plot"] > 0) & (ns["zhid_plot"] < 1))


def test_ee449_004_train_on_batch_loop_and_sgd_fit():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((5, 784))
    train_labels = rng.integers(0, 5, 1000)
    train_images = np.clip(centers[train_labels] + rng.standard_normal((1000, 784)), -3, 3)
    ns = run('''
        import tensorflow as tf
        from tensorflow.keras.layers import Dense as Dense
        from tensorflow.keras.layers import Input as Input
        from tensorflow.keras.optimizers import Adam
        from sklearn.model_selection import train_test_split
        BS = 50
        EPOCHS = 2

        def create_mlp2():
            mlp_2 = tf.keras.Sequential(
                [
                    Input(shape=(784,)),
                    Dense(units=16, activation="relu"),
                    Dense(units=64, use_bias=False, activation=None),
                    Dense(units=5, activation="softmax"),
                ]
            )
            return mlp_2

        train_images = (
            2 * (train_images - train_images.min()) / (train_images.max() - train_images.min())
        ) - 1
        train_image1D, validate_image1D, train_label1D, validate_label1D = train_test_split(
            train_images, train_labels, test_size=0.1, random_state=42
        )
        (samples, rectified) = train_image1D.shape
        ITERATION_PER_EPOCH = np.floor(samples // BS)

        model = create_mlp2()
        optimizer = Adam(learning_rate=0.01)
        loss = tf.keras.losses.SparseCategoricalCrossentropy()
        metric = tf.keras.metrics.SparseCategoricalAccuracy()
        model.compile(optimizer=optimizer, loss=loss, metrics=[metric])
        training_acc_curve = []
        training_loss_curve = []
        validation_acc_curve = []
        for epoch in range(int(EPOCHS)):
            for batch in range(int(ITERATION_PER_EPOCH)):
                train_data = train_image1D[batch * BS : (batch + 1) * BS, :]
                train_label = train_label1D[batch * BS : (batch + 1) * BS]
                train_dict = model.train_on_batch(
                    x=train_data, y=train_label, reset_metrics=False, return_dict=True
                )
                if (epoch * BS + batch) % 10 == 0:
                    train_loss, train_acc = (
                        train_dict["loss"],
                        train_dict["sparse_categorical_accuracy"],
                    )
                    training_acc_curve.append(train_acc)
                    training_loss_curve.append(train_loss)
                    val_loss, val_acc = model.evaluate(
                        x=validate_image1D, y=validate_label1D, batch_size=BS, verbose=0
                    )
                    validation_acc_curve.append(val_acc)
        first_layer = model.trainable_weights[0].numpy().tolist()

        model = create_mlp2()
        optimizer = tf.keras.optimizers.SGD(learning_rate=0.1)
        loss = tf.keras.losses.SparseCategoricalCrossentropy()
        metrics = tf.keras.metrics.SparseCategoricalAccuracy()
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        H = model.fit(
            x=train_image1D,
            y=train_label1D,
            shuffle=True,
            batch_size=BS,
            epochs=3,
            validation_data=(validate_image1D, validate_label1D),
            verbose = 0
        )
    ''', train_images=train_images, train_labels=train_labels)
    assert np.array(ns["first_layer"]).shape == (784, 16)
    assert ns["model"].count_params() == 13909  # mlp2 of the seed
    assert len(ns["training_acc_curve"]) == len(ns["validation_acc_curve"]) > 0
    assert len(ns["H"].history["val_sparse_categorical_accuracy"]) == 3
    assert ns["H"].history["val_sparse_categorical_accuracy"][-1] > 0.9
