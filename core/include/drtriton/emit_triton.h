// The Triton code generator: graph IR -> a readable KernelBench `ModelNew` file with one fused Triton
// kernel per group (fusion planner in src/emit/fusion.cc, kernels in src/emit/triton.cc).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "drtriton/ir.h"

namespace drtriton::emit {

/// Where operators may run. strict: every operator in Triton. mixed: convolutions may be PyTorch library
/// calls (their epilogues still fused in Triton). hybrid: any operator without a Triton lowering stays a
/// PyTorch call.
enum class Policy : uint8_t { kStrict, kMixed, kHybrid };

/// "strict" | "mixed" | "hybrid"; throws drtriton::ValueError naming the value otherwise.
Policy ParsePolicy(const std::string& name);

/// Every knob the search can turn. Defaults suit an H100 at KernelBench shapes and the interpreter alike.
struct TritonKnobs {
  int block = 1024;           // pointwise kernels: elements per program
  int reduce_block = 4096;    // reductions/normalizations along a contiguous row: row tile (rows that fit
                              // are read once: every pass reuses the loaded tile)
  int reduce_block_inner = 32;  // reductions over a non-last axis: at least this many columns per program
                                // (more when the reduced axis is short: tiles fill up to 4096 elements)
  int block_m = 0;            // matmul tile rows; 0 = auto: 128 when 128 x BLOCK_N tiles still give two
                              // programs per SM (KernelBench-sized bmm: 7.2 -> 4.9 ms on the H100), else 64
  int block_n = 64;           // matmul tile columns
  int block_k = 32;           // matmul reduction step
  int num_warps = 0;          // 0 = auto: 8 for 4096-element reduction tiles, else 4 (Triton tutorials)
  int num_stages = 0;          // 0 = auto: 4 for matmul kernels (pipelined operand loads: 15-35% faster than
                              // 2 on the H100 for the GEMM chains of bench/codegen_gpu.py), else 2
  int split_k = 0;            // matmul K split into this many fp32 partials (then a combine + epilogue
                              // kernel): 0 = auto (few output tiles over a long K), 1 = never
  bool fuse_epilogue = true;  // fold a pointwise consumer chain into the reduction/matmul feeding it
  bool fuse_prologue = true;  // inline pointwise producers into the loads of reductions/matmuls
  bool allow_tf32 = false;    // tl.dot precision; TF32 misses a 1e-4 check (DESIGN §9)
  // Without allow_tf32, tl.dot runs as 3xTF32 (split into high and low TF32 parts: tensor cores at about
  // fp32 accuracy, error ~2^-21 per product) unless exact_dot asks for Triton's FMA loop ("ieee"), which
  // on Hopper runs without tensor cores at a fraction of cuBLAS's fp32 speed.
  bool exact_dot = false;
  // Under mixed/hybrid: 2-D and 3-D convolutions (and transposed ones) run on channels-last input and
  // produce channels-last output, which is what cuDNN's fastest fp32/TF32 kernels read and write (in
  // NCHW, PyTorch adds layout-transpose kernels around them and adds the bias in a separate pass). The
  // bias moves into the Triton kernels that read the output, and pointwise epilogues walk and store in
  // channels-last order, so the output of such a program is a channels-last tensor.
  bool conv_channels_last = true;
  // Channels-last convolutions with cuDNN's TF32 allowed (PyTorch's default). Off: they run in full fp32,
  // as a reference whose NCHW convolution cuDNN ran in plain fp32 computes them (TF32 rounds inputs to 10
  // mantissa bits, which heavy-tailed inputs can push past even a 1e-2 check).
  bool conv_tf32 = true;
  std::vector<int32_t> split; // fusion splits: value ids forced to memory (a kernel boundary after them)
};

/// Everything the generator needs besides the graph.
struct TritonOptions {
  TritonKnobs knobs;
  Policy policy = Policy::kMixed;
  // Per node (index = node index): parameter role ("weight", "running_mean"...) -> Python expression
  // ("self.fc.weight"). Required for nodes whose registry row owns a module.
  std::vector<std::map<std::string, std::string>> params;
  // Host expressions ("self.bias") of the LAST extra_inputs.size() graph inputs: module tensors the
  // program uses directly. They are read by the kernels but are not forward arguments.
  std::vector<std::string> extra_inputs;
  // Hybrid FX-level split: extra_inputs[j] for j in host_deps is PyTorch code ("torch.flip(v4, dims=[1])")
  // for a call with no registry operator, reading the value ids host_deps[j]. Those values are stored
  // (kernel boundaries) and the call runs on the host between the kernels, once its operands exist.
  std::map<int32_t, std::vector<int32_t>> host_deps;
  // The body of ModelNew.__init__ (a full `def __init__(...)` block, 4-space indented) that creates the
  // same submodules in the same order as Model, so a seeded init gives the same weights.
  std::string init_source;
  // Text placed after the imports (module-level constants the __init__ uses).
  std::string preamble;
  // Stop after this pass and return its dump instead of source ("" = emit the file).
  std::string dump_after;
};

/// Writes the ModelNew file for `graph`. Throws drtriton::ValueError when an operator has no lowering
/// under the policy (the message names each such node and says which policy would keep it).
std::string EmitTriton(const ir::Graph& graph, const TritonOptions& options);

/// The plan as JSON: kernels (kind, root, anchor, fused ops), library calls and unsupported nodes.
std::string TritonPlanJson(const ir::Graph& graph, const TritonOptions& options);

}  // namespace drtriton::emit
