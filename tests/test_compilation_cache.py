"""The persistent compilation cache: the seed API switches it on, a later process finds the
programs there, and the switch never breaks a run."""

import os
import subprocess
import sys

import jax
import pytest

from nnjax import compilation_cache

MAKE_A_NETWORK = "from nnjax import NeuralNetwork; NeuralNetwork([784, 30, 10]).predict([0.0] * 784)"


def run_python(code: str, cache: str, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**environ, "NNJAX_CACHE_DIR": cache, **env})


def test_a_network_leaves_its_programs_in_the_cache_for_the_next_process(tmp_path):
    run_python(MAKE_A_NETWORK, str(tmp_path))
    entries = sorted(p.name for p in (tmp_path / "jax").iterdir())
    assert any("init_params" in name for name in entries), entries
    again = run_python("import logging, jax; logging.basicConfig(level=logging.DEBUG); "
                       "jax.config.update('jax_explain_cache_misses', True); " + MAKE_A_NETWORK,
                       str(tmp_path))
    assert "Persistent compilation cache hit for 'jit__init_params'" in again.stderr


def test_switched_off_by_the_environment(tmp_path):
    run_python(MAKE_A_NETWORK, str(tmp_path), NNJAX_COMPILATION_CACHE="0")
    assert not (tmp_path / "jax").exists()


@pytest.fixture
def restore_jax_cache_dir():
    before = jax.config.jax_compilation_cache_dir
    yield
    jax.config.update("jax_compilation_cache_dir", before)


def test_a_folder_set_by_the_user_is_kept(tmp_path, restore_jax_cache_dir):
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
    assert compilation_cache.enable(tmp_path / "other") == tmp_path / "mine"
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")


def test_an_unusable_folder_leaves_the_cache_off_with_a_warning(tmp_path, caplog,
                                                                restore_jax_cache_dir):
    jax.config.update("jax_compilation_cache_dir", None)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert compilation_cache.enable(blocker / "jax") is None
    assert jax.config.jax_compilation_cache_dir is None
    assert "compilation cache left off" in caplog.text
