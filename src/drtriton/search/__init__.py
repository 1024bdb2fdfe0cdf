"""Test-time search (`drtriton optimize`): fragments -> proposals -> verified kernels -> DP cover ->
composite ModelNew, verified and timed end to end.

    from drtriton.search import SearchConfig, optimize
    result = optimize(open("examples/gelu_add.py").read(), SearchConfig(max_candidates=32))
"""

from drtriton.search.config import SearchConfig
from drtriton.search.optimize import SearchResult, optimize

__all__ = ["SearchConfig", "SearchResult", "optimize"]
