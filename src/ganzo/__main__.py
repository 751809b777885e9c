"""``python -m ganzo``: the training command."""

from ganzo.train import main

main()
