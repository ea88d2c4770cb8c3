"""Training loop, Human3.6M evaluation protocol and distributed set-up used by ``train.py``."""
