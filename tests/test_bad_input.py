"""Bad input gets a clear error before any training: the message says what was wrong and what is
allowed, and it is raised by nnjax itself — never a traceback from deep inside JAX or NumPy."""

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest

import nnjax
from nnjax import DataError, NeuralNetwork, TrainConfig, fit, load_mnist
from nnjax.logged_network import LoggedNeuralNetwork
from nnjax.logger import LogDirError, LogWriteError, TrainingLogger, read_records
from nnjax.runner import check_data


def raised_by_nnjax(excinfo) -> bool:
    return Path(str(excinfo.traceback[-1].path)).parent.name == "nnjax"


CONFIG_CASES = [
    (dict(sizes=[784]), ValueError, r"at least two layers.*\[784\]"),
    (dict(sizes=[]), ValueError, r"at least two layers"),
    (dict(sizes=[784, 0, 10]), ValueError, r"positive.*got 0"),
    (dict(sizes=[784, -5, 10]), ValueError, r"positive.*got -5"),
    (dict(sizes=[784, 30.5, 10]), TypeError, r"integer.*30\.5"),
    (dict(sizes="784,30,10"), TypeError, r"list of layer sizes such as \[784, 30, 10\]"),
    (dict(epochs=0), ValueError, r"epochs must be a positive integer.*got 0"),
    (dict(epochs=-2), ValueError, r"epochs must be a positive integer.*got -2"),
    (dict(epochs=2.5), TypeError, r"epochs must be a positive integer"),
    (dict(mini_batch_size=0), ValueError, r"mini_batch_size must be a positive integer.*got 0"),
    (dict(mini_batch_size=-10), ValueError, r"mini_batch_size must be a positive integer"),
    (dict(learning_rate=0.0), ValueError, r"learning_rate must be greater than 0.*got 0"),
    (dict(learning_rate=-3.0), ValueError, r"learning_rate must be greater than 0"),
    (dict(learning_rate=float("nan")), ValueError, r"learning_rate must be a finite number.*nan"),
    (dict(learning_rate=float("inf")), ValueError, r"learning_rate must be a finite number.*inf"),
    (dict(learning_rate="3.0"), TypeError, r"learning_rate must be a number"),
    (dict(activation="relux"), ValueError, r"unknown activation 'relux'; allowed: .*sigmoid"),
    (dict(output_activation="softmx"), ValueError, r"unknown activation 'softmx'; allowed: .*softmax"),
    (dict(cost="crossentropy"), ValueError, r"unknown cost 'crossentropy'; allowed: .*cross_entropy"),
    (dict(init="xavier"), ValueError, r"unknown initializer 'xavier'; allowed: .*scaled_normal"),
    (dict(activation=3), TypeError, r"activation must be a name .* or a function"),
    (dict(seed=-1), ValueError, r"seed must be 0 or greater, got -1"),
]


@pytest.mark.parametrize("kwargs, error, message", CONFIG_CASES, ids=lambda v: str(v)[:40])
def test_bad_configuration_is_refused_with_what_is_allowed(kwargs, error, message):
    with pytest.raises(error, match=message) as excinfo:
        TrainConfig(**kwargs)
    assert raised_by_nnjax(excinfo)
    # the seed API says the same
    sizes = kwargs.pop("sizes", [784, 30, 10])
    train_keys = {"epochs", "mini_batch_size", "learning_rate"}
    with pytest.raises(error, match=message):
        net = NeuralNetwork(sizes, **{k: v for k, v in kwargs.items() if k not in train_keys})
        net.train([(np.zeros(784), 0)] * 20, **{"epochs": 1, "mini_batch_size": 10,
                                                "learning_rate": 1.0,
                                                **{k: v for k, v in kwargs.items() if k in train_keys}})


def data_cases(training):
    images, labels = training.images[:100], training.labels[:100]
    bad_labels = labels.copy()
    bad_labels[7] = 10
    negative = labels.copy()
    negative[3] = -1
    return [
        ("sizes_first", dict(sizes=(783, 30, 10)), (images, labels), ValueError,
         r"first layer size is 783 but the images have 784 pixels"),
        ("sizes_last", dict(sizes=(784, 30, 12)), training[:100], ValueError,
         r"last layer size is 12 but the data has 10 classes; use sizes ending with 10"),
        ("labels_10", {}, (images, bad_labels), ValueError, r"labels from 0 to 10; allowed are 0 to 9"),
        ("labels_negative", {}, (images, negative), ValueError, r"labels from -1 to 9; allowed are 0 to 9"),
        ("labels_fractional", {}, (images, labels + 0.5), ValueError, r"labels must be whole numbers"),
        ("labels_text", {}, (images, labels.astype(str)), TypeError, r"labels must be an array of numbers"),
        ("labels_shape", {}, (images, labels.reshape(10, 10)), ValueError, r"one-hot"),
        ("images_1d", {}, (images[:, 0], labels), ValueError, r"images must be an array of shape \(n, 784\)"),
        ("images_short", {}, (images[:, :700], labels), ValueError, r"784.*700 pixels"),
        ("images_count", {}, (images, labels[:50]), ValueError, r"100 images but 50 labels"),
        ("images_objects", {}, (np.array([[object()] * 784] * 100), labels), TypeError,
         r"images must be an array of numbers"),
        ("images_nan", {}, (np.where(images > 0.5, np.nan, images), labels), ValueError,
         r"NaN or infinite pixel"),
        ("ragged_pairs", {}, [(np.zeros(784), 1), (np.zeros(783), 2)], TypeError,
         r"pairs of the same size"),
        ("empty_dataset", {}, training[:0], ValueError, r"training_data is empty"),
        ("empty_list", {}, [], ValueError, r"training_data is empty"),
        ("empty_generator", {}, (p for p in []), ValueError, r"training_data is empty"),
        ("not_data", {}, 42, TypeError, r"must be a Dataset, an \(images, labels\) pair"),
        ("none", {}, None, TypeError, r"training_data is None"),
        ("batch_too_big", dict(mini_batch_size=101), training[:100], ValueError,
         r"mini_batch_size 101 is larger than the training set \(100 examples\); use at most 100"),
    ]


def test_bad_data_is_refused_before_any_training(mnist, log_dir):
    training = mnist[0]
    for name, config, data, error, message in data_cases(training):
        net = LoggedNeuralNetwork(list(config.pop("sizes", (784, 30, 10))), log_dir=log_dir)
        with pytest.raises(error, match=message) as excinfo:
            net.train(data, epochs=1, learning_rate=1.0, **{"mini_batch_size": 10, **config})
        assert raised_by_nnjax(excinfo), (name, excinfo.traceback[-1].path)
        assert not net.logger.log_file.exists(), name  # nothing was trained or logged
        assert net.status is None, name


def test_bad_test_data_is_refused_before_any_training(mnist):
    training, _, test = mnist
    with pytest.raises(ValueError, match="test_data: labels must be whole numbers"):
        fit(TrainConfig(epochs=1), training[:100], (test.images[:10], test.labels[:10] + 0.5))
    with pytest.raises(ValueError, match="test_data has labels from 1 to 10; allowed are 0 to 9"):
        fit(TrainConfig(epochs=1), training[:100], (test.images[:10], np.arange(11)[1:]))


def test_0_to_255_pixels_warn_with_the_likely_fix(mnist):
    training = mnist[0][:100]
    with pytest.warns(UserWarning, match=r"pixel values in \[0, 255\].*divide the images by 255"):
        fit(TrainConfig(sizes=(784, 10, 10), epochs=1), (training.images * 255, training.labels))
    # uint8 images are the raw format: converted, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = (training.images * 255).round().astype(np.uint8)
        checked = check_data((raw, training.labels), TrainConfig(), name="training_data")
    assert checked.images.max() <= 1.0


def test_generators_and_zip_are_read_once_and_train_like_lists(mnist):
    training, _, test = mnist
    training, test = training[:300], test[:200]
    config = TrainConfig(sizes=(784, 10, 10), epochs=2, seed=4)
    reference = fit(config, training, test)
    pairs = lambda ds: ((x, y) for x, y in ds)  # noqa: E731
    from_generator = fit(config, pairs(training), zip(test.images, test.labels))
    book_style = [(x.reshape(784, 1), np.eye(10)[y].reshape(10, 1)) for x, y in training]
    columns = zip([x for x, _ in book_style], [y for _, y in book_style])  # (784, 1), one-hot
    from_zip_of_columns = fit(config, columns, pairs(test))
    for result in (from_generator, from_zip_of_columns):
        assert len(result.history) == 2  # the second epoch did not meet an exhausted iterator
        assert [h["test_accuracy"] for h in result.history] == \
            [h["test_accuracy"] for h in reference.history]
        np.testing.assert_array_equal(result.params[0].w, reference.params[0].w)


def test_a_refused_run_leaves_no_empty_log_and_the_newest_log_is_still_found(mnist, log_dir):
    from nnjax.analysis import find_logs

    training, _, test = mnist
    good = LoggedNeuralNetwork([784, 30, 10], log_dir=log_dir)
    good.train(training[:200], epochs=1, mini_batch_size=10, learning_rate=3.0)
    for kwargs in ({"mini_batch_size": 201}, {"learning_rate": -1.0}, {"epochs": 0}):
        net = LoggedNeuralNetwork([784, 30, 10], log_dir=log_dir)
        with pytest.raises(ValueError):
            net.train(training[:200], **{"epochs": 1, "mini_batch_size": 10, "learning_rate": 3.0,
                                         **kwargs})
        assert not net.logger.log_file.exists(), kwargs
    assert find_logs(None, default_dirs=[log_dir]) == [good.logger.log_file]
    logger = TrainingLogger(log_dir)  # fit refusing a run removes the empty file, too
    with pytest.raises(ValueError, match="mini_batch_size"):
        fit(TrainConfig(mini_batch_size=500), training[:200], logger=logger)
    assert not logger.log_file.exists()
    net.train(training[:200], epochs=1, mini_batch_size=10, learning_rate=3.0)  # and it can retry
    assert net.logger.log_file.exists() and net.status == "completed"


def test_unwritable_log_folder_fails_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(LogDirError, match=r"cannot write logs to .*a_file/logs.*writable folder"):
        LoggedNeuralNetwork([784, 30, 10], log_dir=blocker / "logs")
    with pytest.raises(ValueError, match=r"a_file"):  # LogDirError is a ValueError
        TrainingLogger(blocker)


class _DiskFillsUp(TrainingLogger):
    """A logger whose disk is full from the third ``mini_batch`` record on."""

    def log_mini_batch(self, **fields):
        self.mini_batches = getattr(self, "mini_batches", 0) + 1
        if self.mini_batches > 2:
            raise OSError(28, "No space left on device")
        return super().log_mini_batch(**fields)


def test_a_log_that_stops_being_writable_stops_the_run_with_the_reason(mnist, log_dir):
    training, _, test = mnist
    logger = _DiskFillsUp(log_dir)
    config = TrainConfig(epochs=3, log_interval=100)
    with pytest.raises(LogWriteError, match=r"could not write \d+ record.*No space left on device"):
        fit(config, training[:3000], test[:500], logger=logger)
    records, problems = read_records(logger.log_file)
    assert problems == []  # what was written is whole
    types = [r["type"] for r in records]
    assert types.count("mini_batch") == 2 and "epoch_end" not in types  # stopped in epoch 0
    assert records[-1]["type"] == "training_complete" and records[-1]["status"] == "error"


def test_a_record_the_disk_takes_only_in_part_is_taken_back(log_dir, monkeypatch):
    import errno
    import os

    logger = TrainingLogger(log_dir)
    logger.write("epoch_start", epoch=0, total_epochs=2)
    real_write, calls = os.write, []

    def half_then_full(fd, data):  # the disk takes half the line, then is full
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError, match="No space left"):
        logger.write("epoch_start", epoch=1, total_epochs=2)
    monkeypatch.undo()
    assert len(calls) == 2  # a partial write happened
    records, problems = read_records(logger.log_file)
    assert problems == [] and [r["epoch"] for r in records] == [0]
    logger.write("epoch_start", epoch=1, total_epochs=2)  # space again: the log goes on, whole
    records, problems = read_records(logger.log_file)
    assert problems == [] and [r["epoch"] for r in records] == [0, 1]


def _write_idx(path: Path, dims, dtype_code=b"\x08", magic=b"\x00\x00") -> None:
    body = bytes(int(np.prod(dims)))
    header = magic + dtype_code + bytes([len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + body)


def _mnist_like(folder: Path, n_train=5, n_train_labels=5) -> Path:
    folder.mkdir()
    _write_idx(folder / "train-images-idx3-ubyte.gz", [n_train, 28, 28])
    _write_idx(folder / "train-labels-idx1-ubyte.gz", [n_train_labels])
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", [3, 28, 28])
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", [3])
    return folder


@pytest.mark.parametrize("source", ["idx", "tfds"])
def test_corrupt_idx_files_are_named_by_the_loader(tmp_path, source):
    wrong_count = _mnist_like(tmp_path / "count", n_train_labels=4)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: 4 labels for 5 images"):
        load_mnist(wrong_count, source=source, n_validation=1)
    bad_magic = _mnist_like(tmp_path / "magic")
    _write_idx(bad_magic / "t10k-images-idx3-ubyte.gz", [3, 28, 28], magic=b"\x50\x4b")
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: not an IDX file \(bad magic"):
        load_mnist(bad_magic, source=source, n_validation=1)
    truncated = _mnist_like(tmp_path / "cut")
    path = truncated / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: header promises .*\(truncated"):
        load_mnist(truncated, source=source, n_validation=1)
    cut_gzip = _mnist_like(tmp_path / "cutgz")
    path = cut_gzip / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: cannot read"):
        load_mnist(cut_gzip, source=source, n_validation=1)


def test_the_package_exports_what_the_errors_name():
    assert issubclass(nnjax.DataError, ValueError) and issubclass(LogDirError, ValueError)


def test_nielsens_pickle_is_read_with_numpy_arrays_only(mnist, tmp_path):
    import pickle

    from nnjax.data import load_mnist_pkl

    training, validation, test = (ds[:50] for ds in mnist)
    splits = tuple((ds.images, ds.labels.astype(np.int64)) for ds in (training, validation, test))
    good = tmp_path / "mnist.pkl.gz"
    good.write_bytes(gzip.compress(pickle.dumps(splits, protocol=2)))
    loaded = load_mnist_pkl(good)
    for ours, theirs in zip(loaded, (training, validation, test)):
        np.testing.assert_array_equal(ours.images, theirs.images)
        np.testing.assert_array_equal(ours.labels, theirs.labels)

    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    evil = tmp_path / "evil.pkl.gz"
    evil.write_bytes(gzip.compress(pickle.dumps((splits[0], Payload()), protocol=2)))
    with pytest.raises(DataError, match=r"evil.pkl.gz.*refusing .*only NumPy arrays"):
        load_mnist_pkl(evil)
    assert not (tmp_path / "pwned").exists()
    wrong = tmp_path / "wrong.pkl.gz"
    wrong.write_bytes(gzip.compress(pickle.dumps([1, 2, 3])))
    with pytest.raises(DataError, match="three \\(images, labels\\) pairs"):
        load_mnist_pkl(wrong)
