"""Ganzo: implement, train and run GANs with PyTorch."""

__version__ = '0.1.0'
