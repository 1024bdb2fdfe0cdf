"""drtriton: PyTorch programs in, fast verified Triton kernels out.

    drtriton --help
"""

__version__ = "0.1.0"
