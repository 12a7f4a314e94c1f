"""What learning rate works best? One sweep on real MNIST (see nnjax.questions).

    NNJAX_DATA_DIR=../shared/data/mnist python scripts/sweep_learning_rates.py [--epochs 5] [--seeds 0 1]
"""

import sys

from nnjax.sweep_cli import question_main

if __name__ == "__main__":
    sys.exit(question_main("learning_rate"))
