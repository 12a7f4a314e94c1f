"""The functional API as a notebook uses it: importable from ``nnjax``, keys by keyword, and the
pieces agree with each other (a hand-written loop from ``make_step`` + ``minibatches`` is the
library's compiled epoch; a vmapped epoch is the same as one epoch per seed)."""

import inspect
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import nnjax

README = Path(__file__).resolve().parents[1] / "README.md"
CORE = ["init_params", "forward", "forward_z", "all_activations", "predict", "accuracy", "loss",
        "layer_sizes", "check_sizes", "total_parameters", "Layer", "make_step", "make_train_epoch",
        "make_evaluate", "minibatches", "fit", "TrainConfig", "gradient_stats", "weight_stats",
        "step_stats", "load_mnist", "TrainingLogger", "sigmoid", "relu", "tanh", "identity",
        "softmax", "quadratic", "cross_entropy", "log_likelihood", "normal", "scaled_normal", "he"]


def _functional_api_section() -> str:
    text = README.read_text()
    start = text.index("## Functional API")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_the_readme_lists_the_functional_api_and_all_of_it_is_importable_from_nnjax():
    section = _functional_api_section()
    listed = set(re.findall(r"^- `(?:nnjax\.)?([A-Za-z_][\w.]*)", section, flags=re.M))
    listed |= set(re.findall(r"`([A-Za-z_]\w*)`", section)) & set(nnjax.__all__)
    assert set(CORE) <= listed, sorted(set(CORE) - listed)
    for name in listed:
        obj = nnjax
        for part in name.split("."):
            obj = getattr(obj, part) if hasattr(obj, part) else __import__(f"{obj.__name__}.{part}",
                                                                           fromlist=[part])
    for name in CORE:
        assert name in nnjax.__all__ and getattr(nnjax, name).__doc__, name


@pytest.mark.parametrize("fn", [nnjax.init_params, nnjax.minibatches])
def test_keys_are_keyword_only(fn):
    assert inspect.signature(fn).parameters["key"].kind is inspect.Parameter.KEYWORD_ONLY


def test_minibatches_split_a_permutation_into_rows():
    batches = np.asarray(nnjax.minibatches(25, 10, key=jax.random.key(0)))
    assert batches.shape == (2, 10) and batches.dtype == np.int32
    assert len(set(batches.ravel())) == 20 and batches.min() >= 0 and batches.max() < 25
    np.testing.assert_array_equal(batches, nnjax.minibatches(25, 10, key=jax.random.key(0)))
    assert not np.array_equal(batches, nnjax.minibatches(25, 10, key=jax.random.key(1)))
    for bad in (0, 26):
        with pytest.raises(ValueError, match="mini_batch_size"):
            nnjax.minibatches(25, bad, key=jax.random.key(0))


def _toy_data(n=60, n_in=6, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(n, n_in)).astype(np.float32)
    labels = (images[:, :n_out].argmax(axis=1)).astype(np.int32)
    return jnp.asarray(images), jnp.asarray(labels)


def test_a_hand_written_loop_from_the_pieces_is_the_compiled_epoch():
    images, labels = _toy_data()
    params = nnjax.init_params([6, 5, 3], key=jax.random.key(0), init=nnjax.scaled_normal)
    tx = optax.sgd(0.5, momentum=0.9)
    key = jax.random.key(7)

    library = nnjax.make_train_epoch(optimizer=tx, mini_batch_size=4)(
        params, tx.init(params), images, labels, key=key)

    step = nnjax.make_step(optimizer=tx)  # no n_train: no L2 term
    p, state, losses = params, tx.init(params), []
    for batch in np.asarray(nnjax.minibatches(len(images), 4, key=key)):
        result = step(p, state, images[batch], jax.nn.one_hot(labels[batch], 3))
        p, state = result.params, result.opt_state
        losses.append(result.loss)
    for mine, theirs in zip(jax.tree.leaves(p), jax.tree.leaves(library.params)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.mean(losses), library.mean_loss, rtol=1e-5)


def test_a_step_with_l2_needs_the_training_set_size():
    images, labels = _toy_data(n=8)
    params = nnjax.init_params([6, 5, 3], key=jax.random.key(0))
    tx = optax.sgd(0.1)
    step = nnjax.make_step(optimizer=tx, l2=5.0)
    y = jax.nn.one_hot(labels, 3)
    with pytest.raises(ValueError, match="n_train"):
        step(params, tx.init(params), images, y)
    assert jnp.isfinite(step(params, tx.init(params), images, y, 1000).loss)


def test_the_unlogged_epoch_vmaps_over_seeds_as_one_epoch_per_seed():
    images, labels = _toy_data()
    tx = optax.adam(1e-2)
    epoch = nnjax.make_train_epoch(optimizer=tx, mini_batch_size=5, cost=nnjax.cross_entropy)
    init_keys = jax.random.split(jax.random.key(0), 3)
    shuffle_keys = jax.random.split(jax.random.key(1), 3)
    stack = jax.vmap(lambda k: nnjax.init_params([6, 5, 3], key=k))(init_keys)
    assert jax.tree.map(jnp.shape, stack) == [nnjax.Layer((3, 5, 6), (3, 5)), nnjax.Layer((3, 3, 5), (3, 3))]
    many = jax.jit(jax.vmap(epoch, in_axes=(0, 0, None, None, 0, None)))(
        stack, jax.vmap(tx.init)(stack), images, labels, shuffle_keys, 0)
    for i in range(3):
        params = nnjax.init_params([6, 5, 3], key=init_keys[i])
        one = epoch(params, tx.init(params), images, labels, shuffle_keys[i])
        for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(many.params)):
            np.testing.assert_allclose(a, b[i], rtol=1e-4, atol=1e-5)
