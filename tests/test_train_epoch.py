"""The compiled epoch against a hand-written loop of ``make_step``: the logged statistics arrive
once per interval, in order, whatever the grouping of host callbacks; a diverging epoch is replayed
to its first non-finite step and returns the last finite parameters."""

import jax
import numpy as np
import optax
import pytest

from nnjax import stats, train
from nnjax.network import init_params

N, BATCH, EPOCH = 38, 2, 3  # 19 steps per epoch: intervals that do not divide it leave a tail


def toy_data(scale=1.0):
    rng = np.random.default_rng(0)
    return (scale * rng.random((N, 6))).astype(np.float32), rng.integers(0, 3, N).astype(np.int32)


def hand_loop(params, tx, images, labels, key, *, activation="sigmoid", output_activation=None):
    """Every step of one epoch: (parameters before, StepResult)."""
    step = jax.jit(train.make_step(optimizer=tx, activation=activation,
                                   output_activation=output_activation))
    p, state, out = params, tx.init(params), []
    for idx in np.asarray(train.minibatches(N, BATCH, key=key)):
        result = step(p, state, images[idx], jax.nn.one_hot(labels[idx], 3))
        out.append((p, result))
        p, state = result.params, result.opt_state
    return out


def assert_trees_close(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("log_every, hand_over_steps", [(1, 1000), (3, 7), (4, 8), (5, 10), (20, 1000)])
def test_every_interval_is_handed_over_once_and_in_order(monkeypatch, log_every, hand_over_steps):
    monkeypatch.setattr(train, "HAND_OVER_STEPS", hand_over_steps)
    images, labels = toy_data()
    params = init_params([6, 5, 3], key=jax.random.key(0))
    tx, key = optax.sgd(1.0), jax.random.key(5)
    received = []
    epoch_fn = train.make_train_epoch(optimizer=tx, mini_batch_size=BATCH, log_every=log_every,
                                      on_stats=received.append)
    result = epoch_fn(params, tx.init(params), images, labels, key, EPOCH)
    jax.effects_barrier()

    steps = hand_loop(params, tx, images, labels, key)
    expected = list(range(0, len(steps), log_every))
    assert [int(r["batch_idx"]) for r in received] == expected
    assert [int(r["step"]) for r in received] == [EPOCH * len(steps) + i for i in expected]
    assert {int(r["epoch"]) for r in received} == {EPOCH}
    for record, i in zip(received, expected):
        before, step = steps[i]
        assert_trees_close(record["stats"], stats.step_stats(grads=step.grads, params=before,
                                                             updates=step.updates))
    assert_trees_close(result.params, steps[-1][1].params)
    assert int(result.nonfinite.step) == -1


@pytest.mark.parametrize("stop", [True, False])
def test_a_diverging_epoch_is_replayed_to_its_first_nonfinite_step(stop):
    images, labels = toy_data(scale=50.0)
    params = init_params([6, 5, 3], key=jax.random.key(1))
    tx, key = optax.sgd(50.0), jax.random.key(2)
    relu = dict(activation="relu", output_activation="identity")
    steps = hand_loop(params, tx, images, labels, key, **relu)
    bad = [i for i, (_, r) in enumerate(steps)
           if not (np.isfinite(r.loss) and bool(stats.all_finite(r.grads)))]
    assert bad and bad[0] > 0, "the toy set-up must diverge after a few finite steps"
    first = bad[0]

    result = train.make_train_epoch(optimizer=tx, mini_batch_size=BATCH, stop_on_nonfinite=stop,
                                    **relu)(params, tx.init(params), images, labels, key, EPOCH)
    assert int(result.nonfinite.step) == EPOCH * len(steps) + first
    assert_trees_close(result.nonfinite.grad_counts, stats.nonfinite_counts(steps[first][1].grads))
    if stop:  # the parameters before the first bad step, kept to the end of the epoch
        assert_trees_close(result.params, steps[first][0])
    else:
        assert not bool(stats.all_finite(result.params))


def test_a_finite_epoch_reports_no_nonfinite_step_even_with_integer_optimizer_state():
    images, labels = toy_data()
    params = init_params([6, 5, 3], key=jax.random.key(0))
    tx = optax.adam(1e-2)  # its state holds an int32 step count
    result = train.make_train_epoch(optimizer=tx, mini_batch_size=BATCH)(
        params, tx.init(params), images, labels, jax.random.key(0))
    assert int(result.nonfinite.step) == -1 and np.isfinite(float(result.mean_loss))


def test_vmapped_epochs_replay_only_the_network_that_diverged():
    """Under ``jax.vmap`` each network gets what it would get alone: the diverging one its
    replayed result, the finite one its plain epoch."""
    images, labels = toy_data(scale=50.0)
    params = init_params([6, 5, 3], key=jax.random.key(1))
    relu = dict(activation="relu", output_activation="identity")
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=50.0)
    # the learning rate lives in the state: one optimizer, two rates
    states = [optax.inject_hyperparams(optax.sgd)(learning_rate=lr).init(params) for lr in (50.0, 1e-3)]
    epoch_fn = train.make_train_epoch(optimizer=tx, mini_batch_size=BATCH, **relu)
    key = jax.random.key(2)
    alone = [epoch_fn(params, s, images, labels, key, EPOCH) for s in states]
    assert int(alone[0].nonfinite.step) >= 0 and int(alone[1].nonfinite.step) == -1

    stacked = jax.tree.map(lambda *x: jax.numpy.stack(x), *states)
    together = jax.vmap(epoch_fn, in_axes=(None, 0, None, None, None, None))(
        params, stacked, images, labels, key, EPOCH)
    for i, single in enumerate(alone):
        assert_trees_close(jax.tree.map(lambda x: x[i], together), single)


def test_the_end_of_epoch_statistics_come_through_the_same_callback_after_the_last_row():
    images, labels = toy_data()
    params = init_params([6, 5, 3], key=jax.random.key(0))
    tx = optax.sgd(1.0)
    events = []
    epoch_fn = train.make_train_epoch(
        optimizer=tx, mini_batch_size=BATCH, log_every=4,
        on_stats=lambda r: events.append(("row", int(r["epoch"]), int(r["batch_idx"]))),
        epoch_stats=lambda p, probe: {"weights": stats.weight_stats(p), "probe": probe @ p[0].w.T},
        on_epoch_stats=lambda epoch, tree: events.append(("end", epoch, tree)))
    probe = images[:4]
    state, key = tx.init(params), jax.random.key(5)
    ends = []
    for epoch in range(2):
        key, k = jax.random.split(key)
        result = epoch_fn(params, state, images, labels, k, epoch, probe)
        jax.effects_barrier()
        params, state = result.params, result.opt_state
        ends.append(params)

    rows = [(e[1], e[2]) for e in events if e[0] == "row"]
    assert rows == [(epoch, b) for epoch in range(2) for b in range(0, N // BATCH, 4)]
    ends_at = [i for i, e in enumerate(events) if e[0] == "end"]
    assert ends_at == [5, 11]  # each epoch: 5 rows (batches 0, 4, 8, 12, 16), then its end
    for i, p in zip(ends_at, ends):
        _, _, tree = events[i]
        assert isinstance(tree["probe"], np.ndarray)
        assert_trees_close(tree["weights"], stats.weight_stats(p))
        np.testing.assert_allclose(tree["probe"], probe @ np.asarray(p[0].w).T, rtol=1e-5)


def test_epoch_statistics_need_their_receiver():
    with pytest.raises(ValueError, match="go together"):
        train.make_train_epoch(optimizer=optax.sgd(1.0), mini_batch_size=BATCH,
                               epoch_stats=lambda p, probe: {})
