// Same seed, same bytes on any machine: the synthesizer's DP sums and weighted draws must not be
// contracted into fused multiply-adds (which some compilers and targets do by default). Include this
// first in every synth source that does such arithmetic; it applies to the rest of that file.
#pragma once

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
