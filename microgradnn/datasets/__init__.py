"""Built-in data: toy 2-D problems (no download) and MNIST."""

from .mnist import load_mnist
from .toy import make_circles, make_moons, make_spiral, make_xor

__all__ = ["make_moons", "make_circles", "make_spiral", "make_xor", "load_mnist"]
