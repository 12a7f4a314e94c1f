"""Nothing lost: Ctrl-C, kill -9 and many runs at once, on real training runs in real processes.

Each subprocess runs ``tests/run_training.py`` (a small LoggedNeuralNetwork run on real MNIST,
read straight from the IDX files) and leaves with ``os._exit`` right after ``train`` returns.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nnjax import TrainConfig, TrainingLogger, fit
from nnjax.logger import read_records

SCRIPT = Path(__file__).with_name("run_training.py")
WAIT = 180  # seconds: generous, the machine may be busy; never a pass/fail threshold on speed
STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_process_left_behind():
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_run(tmp_path: Path, name: str, *args: str, logs: str = "logs") -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, "NNJAX_DATA_SOURCE": "idx", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    out = tmp_path / f"{name}.json"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--log-dir", str(tmp_path / logs),
                             "--out", str(out), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    STARTED.append(proc)
    return proc, out


def wait_for_line(proc: subprocess.Popen, log_dir: Path, text: str, known: set) -> Path:
    """Wait until a log file not in ``known`` holds ``text``; returns that file."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for path in log_dir.glob("*.jsonl") if log_dir.is_dir() else ():
            if path not in known and text in path.read_text():
                return path
        if proc.poll() is not None:
            pytest.fail(f"run ended (rc {proc.returncode}) before {text}: {proc.stderr.read().decode()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no {text} within {WAIT} s")


def strict_lines(path: Path) -> tuple[list[dict], bytes]:
    """Parse every complete line with strict JSON (no NaN/Infinity); returns them and the torn tail."""
    data = path.read_bytes()
    *complete, tail = data.split(b"\n")

    def refuse(constant):
        raise AssertionError(f"{path.name}: bare {constant} in the log")

    return [json.loads(line, parse_constant=refuse) for line in complete], tail


def test_ctrl_c_stops_at_a_safe_point_and_returns_what_was_trained(tmp_path):
    proc, out = start_run(tmp_path, "sigint", "--epochs", "100000", "--n", "1000")
    log = wait_for_line(proc, tmp_path / "logs", '"type":"epoch_end"', set())
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, stderr.decode()  # train() returned normally
    result = json.loads(out.read_text())
    assert result["status"] == "interrupted" and result["params_changed"]
    assert 1 <= result["epochs_done"] < 100000
    records, problems = read_records(log)
    assert problems == [] and strict_lines(log)[1] == b""
    assert records[-1]["type"] == "training_complete" and records[-1]["status"] == "interrupted"
    assert records[-1]["epochs_completed"] == result["epochs_done"]
    assert len([r for r in records if r["type"] == "epoch_end"]) == result["epochs_done"]
    assert {r["run_id"] for r in records} == {result["run_id"]}


def test_kill_9_at_random_moments_leaves_every_complete_line_readable(tmp_path):
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    runs = [start_run(tmp_path, f"kill{i}", "--epochs", "100000", "--n", "1000", "--seed", str(i),
                      logs=f"logs{i}") for i in range(3)]
    logs, delays = [], []
    for i, (proc, _) in enumerate(runs):
        logs.append(wait_for_line(proc, tmp_path / f"logs{i}", '"type":"run_start"', set()))
        delays.append(rng.uniform(0.0, 1.5))
        time.sleep(delays[-1])
        proc.send_signal(signal.SIGKILL)
    for proc, _ in runs:
        proc.wait(timeout=WAIT)
        assert proc.returncode == -signal.SIGKILL
    for log in logs:
        context = f"{log.name}, kill delays {delays} (seed {seed})"
        complete, tail = strict_lines(log)
        records, problems = read_records(log)
        assert records == complete, context
        assert (problems == []) == (tail == b""), (context, problems)  # a torn line is reported
        assert complete[0]["type"] == "run_start" and len({r["run_id"] for r in complete}) == 1, context
        # and a reader given the file cut at any byte keeps every whole line, reporting the torn one
        data = log.read_bytes()
        for cut in sorted(rng.sample(range(1, len(data)), min(20, len(data) - 1))):
            torn = tmp_path / "torn.jsonl"
            torn.write_bytes(data[:cut])
            records, problems = read_records(torn)
            n_whole = data[:cut].count(b"\n") + (data[cut:cut + 1] == b"\n")  # only "\n" missing
            assert records == complete[:n_whole], (context, cut)
            assert (problems == []) == (data[cut - 1:cut] == b"\n"), (context, cut, problems)


def check_run_log(path: Path, run_id: str, steps: int) -> None:
    """One whole run: strict JSON throughout, one run id, every mini-batch record before the end."""
    records, tail = strict_lines(path)
    assert tail == b"", path.name
    assert {r["run_id"] for r in records} == {run_id}, path.name
    assert records[0]["type"] == "run_start"
    assert records[-1]["type"] == "training_complete" and records[-1]["status"] == "completed"
    assert len([r for r in records if r["type"] == "mini_batch"]) == steps, path.name


def test_eight_processes_started_together_write_eight_whole_logs(tmp_path):
    runs = [start_run(tmp_path, f"p{i}", "--epochs", "1", "--n", "200", "--n-test", "100",
                      "--seed", str(i)) for i in range(8)]
    results = []
    for proc, out in runs:
        _, stderr = proc.communicate(timeout=WAIT * 2)
        assert proc.returncode == 0, stderr.decode()
        results.append(json.loads(out.read_text()))
    files = {r["log_file"] for r in results}
    assert len(files) == 8 and len({r["run_id"] for r in results}) == 8
    assert sorted(files) == sorted(str(p) for p in (tmp_path / "logs").glob("*.jsonl"))
    for r in results:
        # log interval 1: 20 mini-batch records, all written although the process exits at once
        check_run_log(Path(r["log_file"]), r["run_id"], steps=20)


def test_eight_threads_training_at_once_write_eight_whole_logs(mnist, log_dir):
    training, _, test = mnist
    results, errors = {}, []

    def run(i):
        try:
            logger = TrainingLogger(log_dir)
            config = TrainConfig(sizes=(784, 10, 10), epochs=1, log_interval=1, seed=i)
            results[i] = (fit(config, training[:200], test[:100], logger=logger), logger.run_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({res.log_file for res, _ in results.values()}) == 8
    for res, run_id in results.values():
        assert res.status == "completed"
        check_run_log(Path(res.log_file), run_id, steps=20)


class CtrlCAt(TrainingLogger):
    """A logger whose host callback presses Ctrl-C at given global steps: the signal then arrives
    while the compiled epoch runs, as a user's would."""

    def __init__(self, log_dir, steps):
        super().__init__(log_dir)
        self.steps = set(steps)

    def on_stats(self, batch_size):
        sink = super().on_stats(batch_size)

        def pressing(payload):
            sink(payload)
            if int(payload["step"]) in self.steps:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)  # let Python run the handler before the next press

        return pressing


def test_one_ctrl_c_in_mid_epoch_finishes_the_epoch_and_returns(mnist, log_dir):
    logger = CtrlCAt(log_dir, steps={30})
    config = TrainConfig(sizes=(784, 10, 10), epochs=5, log_interval=10)
    result = fit(config, mnist[0][:1000], mnist[2][:100], logger=logger)
    assert result.status == "interrupted" and len(result.history) == 1
    records, problems = read_records(logger.log_file)
    assert problems == [] and records[-1]["status"] == "interrupted"
    assert len([r for r in records if r["type"] == "mini_batch"]) == 10  # the whole epoch 0


def test_a_second_ctrl_c_raises_after_closing_the_log(mnist, log_dir):
    logger = CtrlCAt(log_dir, steps={120, 180})  # both during epoch 1
    config = TrainConfig(sizes=(784, 10, 10), epochs=5, log_interval=10)
    with pytest.raises(KeyboardInterrupt):
        fit(config, mnist[0][:1000], mnist[2][:100], logger=logger)
    records, problems = read_records(logger.log_file)
    assert problems == []
    assert records[-1]["type"] == "training_complete" and records[-1]["status"] == "interrupted"
    assert records[-1]["epochs_completed"] == 1
