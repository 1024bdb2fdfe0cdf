// Triton emitter: writes one @triton.jit kernel per planned group (fusion.cc) and the host ModelNew.
// Values inside a kernel are produced by Eval(value, flat index): a stored value is a masked load, an
// inlined node is its formula over its operands evaluated at broadcast/permuted indices, and the
// kernel's anchor is the accumulator of the reduction/matmul loop. So producers fuse into loads and a
// pointwise consumer chain fuses as the epilogue, with no per-pattern templates.
#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "drtriton/emit_triton.h"
#include "drtriton/ops.h"
#include "emit/fusion.h"
#include "emit/triton_ops.h"
#include "support/check.h"

namespace drtriton::emit {
namespace {

int64_t Prod(const ir::Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t d = from; d < to && d < s.size(); ++d) p *= s[d];
  return p;
}

std::vector<int64_t> Strides(const ir::Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int d = static_cast<int>(s.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * s[d + 1];
  return st;
}

// Reduction tiles: at most kMaxTile elements per loop step (registers on a GPU, numpy work in the
// interpreter); problems of at least kLargeWork elements keep kMinPrograms programs in flight if they can.
constexpr int64_t kMaxTile = 4096;
constexpr int64_t kLargeWork = int64_t{1} << 20;
constexpr int64_t kMinPrograms = 264;
constexpr int64_t kLargeGemm = int64_t{1} << 24;  // multiply-adds
// A reduction's rows split over a second grid axis from this many elements up, when few programs run: one
// program streaming 128K fp32 elements (two loss inputs) took 36 us on an H100 where torch.compile's split
// reduction took 9 us (codegen_gpu synth_l2_648507b1, huber_loss over 128 x 1024).
constexpr int64_t kSplitWork = int64_t{1} << 16;
// A GEMM's K loop at least this long keeps about kMinPrograms / 2 programs even when the GEMM is small: a
// 128 x 24 output over K = 1024 ran as 2 programs of 32 K steps each.
constexpr int64_t kLongK = 256;

int64_t Pow2AtLeast(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// The shape two operands broadcast to (numpy rules, aligned at the last axis).
ir::Shape BroadcastShape(const ir::Shape& a, const ir::Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  ir::Shape out(n, 1);
  for (size_t d = 0; d < n; ++d) {
    const int64_t x = d + a.size() >= n ? a[d + a.size() - n] : 1;
    const int64_t y = d + b.size() >= n ? b[d + b.size() - n] : 1;
    out[d] = x == 1 ? y : x;
  }
  return out;
}

std::string ShapeTuple(const ir::Shape& s) {
  std::string r = "(";
  for (size_t d = 0; d < s.size(); ++d) r += (d ? ", " : "") + std::to_string(s[d]);
  return r + (s.size() == 1 ? ",)" : ")");
}

std::string TorchDtype(ir::DType d) { return "torch." + std::string(ir::DTypeName(d)); }

std::string MemoryFormat(const ir::Shape& s) { return s.size() == 5 ? "torch.channels_last_3d" : "torch.channels_last"; }

std::string OpName(const ir::Graph& g, int32_t v) {
  return std::string(ops::Spec(g.nodes[v - g.inputs.size()].op).name);
}

// One kernel argument: the name inside the kernel and the host expression passed for it.
struct Arg {
  std::string name;
  std::string host;
};

// ---- kernel body writer ----
class KernelWriter {
 public:
  KernelWriter(const ir::Graph& g, const FusionPlan& plan, const TritonOptions& opt, const Kernel& kernel)
      : g_(g), plan_(plan), opt_(opt), kernel_(kernel), k_(static_cast<int32_t>(g.inputs.size())) {}

  void Line(const std::string& s) { body_ << std::string(indent_ * 4, ' ') << s << "\n"; }
  void Indent() {
    ++indent_;
    cse_.clear();
  }
  void Dedent() {
    --indent_;
    cse_.clear();
  }
  std::string Var(const std::string& prefix) { return prefix + std::to_string(tmp_++); }
  std::string Assign(const std::string& prefix, const std::string& expr) {
    auto it = cse_.find("=" + expr);
    if (it != cse_.end()) return it->second;
    const std::string v = Var(prefix);
    Line(v + " = " + expr);
    cse_["=" + expr] = v;
    return v;
  }

  // Kernel pointer argument for a stored value (host name v<id>).
  std::string Ptr(int32_t v) {
    const int32_t first_extra = k_ - static_cast<int32_t>(opt_.extra_inputs.size());
    if (v >= first_extra && v < k_ && opt_.host_deps.count(v - first_extra)) {
      const std::string host = "v" + std::to_string(v);  // computed by host PyTorch code (hybrid)
      return AddArg("p_" + host, host);
    }
    if (v >= first_extra && v < k_) {
      std::string name = "p_" + opt_.extra_inputs[v - first_extra];
      for (char& c : name) c = (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
      return AddArg(name, opt_.extra_inputs[v - first_extra]);
    }
    const std::string host = "v" + std::to_string(v);
    return AddArg("p_" + host, host);
  }
  std::string ParamPtr(int32_t node_value, const std::string& role) {
    const size_t ni = static_cast<size_t>(node_value - k_);
    std::string host;
    if (ni < opt_.params.size()) {
      auto it = opt_.params[ni].find(role);
      if (it != opt_.params[ni].end()) host = it->second;
    }
    DRT_CHECK(!host.empty(), ValueError,
              "node " << ni << " (" << OpName(g_, node_value) << ") reads parameter '" << role
                      << "' but no binding was given; pass params[" << ni << "]['" << role
                      << "'] (drtriton.frontend.compile_problem does this)");
    std::string name = "p_" + host;
    for (char& c : name) c = (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    return AddArg(name, host);
  }
  std::string AddArg(const std::string& name, const std::string& host) {
    for (const Arg& a : args_) {
      if (a.name == name) return name;
    }
    args_.push_back({name, host});
    return name;
  }

  // Index variables whose coordinates are known: `idx` is the row-major flat index into `shape` of the
  // element at coordinates coords[d] (expressions of tile offsets, in range on every unmasked lane). The
  // GEMM loop's operand and epilogue tiles are built from coordinates, so a broadcast or transposed read
  // of such a tile is a sum of coordinate times stride: no division or modulo per element, and Triton can
  // see which axis is contiguous (KernelBench L1 17's transposed B took 2.4x cuBLAS's time through
  // `(idx // N) + (idx % N) * K`).
  void SetCoords(const std::string& idx, const ir::Shape& shape, std::vector<std::string> coords) {
    coords_[idx] = {shape, std::move(coords)};
  }
  // The coordinates of `idx` in `shape`: as registered, or through a reshape that only merges adjacent
  // axes or adds/drops axes of extent 1 (no division needed); none otherwise.
  std::optional<std::vector<std::string>> CoordsFor(const std::string& idx, const ir::Shape& shape) const {
    const auto it = coords_.find(idx);
    if (it == coords_.end()) return std::nullopt;
    const auto& [from, coords] = it->second;
    if (from == shape) return coords;
    if (Prod(from, 0, from.size()) != Prod(shape, 0, shape.size())) return std::nullopt;
    std::vector<std::string> out;
    size_t s = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      while (s < from.size() && from[s] == 1 && shape[d] != 1) ++s;  // drop unit axes of the source
      if (shape[d] == 1) {
        out.push_back("0");
        if (s < from.size() && from[s] == 1) ++s;
        continue;
      }
      // Merge source axes s.. until their product is shape[d]; a source axis that must split fails.
      std::string e;
      int64_t p = 1;
      while (s < from.size() && p < shape[d]) {
        if (from[s] != 1) {
          e = e.empty() ? coords[s] : "(" + e + ") * " + std::to_string(from[s]) + " + " + coords[s];
          p *= from[s];
        }
        ++s;
      }
      if (p != shape[d]) return std::nullopt;
      out.push_back(e);
    }
    for (; s < from.size(); ++s) {
      if (from[s] != 1) return std::nullopt;
    }
    return out;
  }
  // The flat (row-major) index into `shape` of coordinates `c`, as a variable whose coordinates are registered.
  std::string FromCoords(const std::vector<std::string>& c, const ir::Shape& shape) {
    const auto st = Strides(shape);
    std::string expr;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1 || c[d] == "0") continue;
      expr += (expr.empty() ? "" : " + ") + (st[d] == 1 ? c[d] : "(" + c[d] + ") * " + std::to_string(st[d]));
    }
    if (expr.empty()) expr = "0";
    const std::string v = Assign("i", expr);
    SetCoords(v, shape, c);
    return v;
  }

  // Index into `in` (broadcast to `out`) from a flat index into `out`.
  std::string Broadcast(const std::string& idx, const ir::Shape& out, const ir::Shape& in) {
    ir::Shape padded(out.size() - std::min(out.size(), in.size()), 1);
    padded.insert(padded.end(), in.begin(), in.end());
    if (padded == out) return idx;
    if (InWalk(idx, out) && out.size() >= 3) {
      // A per-channel operand ([C, 1, 1], [1, C, 1, 1]...) of an element of the walk: its channel, known
      // without dividing the row-major index.
      bool per_channel = padded[1] == out[1];
      for (size_t d = 0; d < padded.size() && per_channel; ++d) per_channel = d == 1 || padded[d] == 1;
      if (per_channel) return channel_idx_;
    }
    if (auto c = CoordsFor(idx, out)) {
      std::vector<std::string> ci;
      for (size_t d = out.size() - in.size(); d < out.size(); ++d) ci.push_back(padded[d] == 1 ? "0" : (*c)[d]);
      if (std::all_of(ci.begin(), ci.end(), [](const std::string& x) { return x == "0"; })) {
        return Assign("i", "0 * " + idx);  // a single broadcast element
      }
      return FromCoords(ci, in);
    }
    const auto os = Strides(out);
    const auto is = Strides(padded);
    std::string expr;
    for (size_t d = 0; d < out.size(); ++d) {
      if (padded[d] == 1 || out[d] == 1) continue;
      std::string coord = os[d] == 1 ? idx : "(" + idx + " // " + std::to_string(os[d]) + ")";
      if (Prod(out, 0, d) != 1) coord = "(" + coord + " % " + std::to_string(out[d]) + ")";
      if (is[d] != 1) coord += " * " + std::to_string(is[d]);
      expr += (expr.empty() ? "" : " + ") + coord;
    }
    if (expr.empty()) return Assign("i", "0 * " + idx);  // a single broadcast element
    return Assign("i", expr);
  }

  // Flat index `x` into [N, A, B] (row-major) -> flat index of the same element in [N, B, A]. With A = C
  // and B = S (spatial extents) it maps a row-major index of an [N, C, *S] value to its channels-last
  // memory offset; with A = S and B = C, the other way.
  std::string SwapInnerIndex(const std::string& x, int64_t n, int64_t a, int64_t b, const std::string& prefix) {
    if (a == 1 || b == 1) return x;  // both orders are the same
    std::string e = n == 1 ? "" : "(" + x + " // " + std::to_string(a * b) + ") * " + std::to_string(a * b) + " + ";
    e += "(" + x + " % " + std::to_string(b) + ") * " + std::to_string(a) + " + (" + x + " // " + std::to_string(b) +
         ") % " + std::to_string(a);
    return Assign(prefix, e);
  }
  // Memory offset of row-major index `idx` into an [N, C, *S] value stored channels-last ([N, *S, C]).
  std::string ChannelsLastIndex(const std::string& idx, const ir::Shape& s) {
    return SwapInnerIndex(idx, s[0], s[1], Prod(s, 2, s.size()), "i");
  }
  // The inverse: row-major index of memory offset `off` into a channels-last [N, C, *S] value.
  std::string RowMajorIndex(const std::string& off, const ir::Shape& s) {
    return SwapInnerIndex(off, s[0], Prod(s, 2, s.size()), s[1], "idx");
  }

  // Index into the input of a permute/transpose from a flat index into its output.
  std::string Permuted(const std::string& idx, const ir::Shape& out, const std::vector<int>& perm) {
    ir::Shape in(out.size());
    for (size_t d = 0; d < out.size(); ++d) in[perm[d]] = out[d];
    if (auto c = CoordsFor(idx, out)) {
      std::vector<std::string> ci(out.size());
      for (size_t d = 0; d < out.size(); ++d) ci[perm[d]] = (*c)[d];
      return FromCoords(ci, in);
    }
    const auto os = Strides(out);
    const auto is = Strides(in);
    std::string expr;
    for (size_t d = 0; d < out.size(); ++d) {
      if (out[d] == 1) continue;
      std::string coord = os[d] == 1 ? idx : "(" + idx + " // " + std::to_string(os[d]) + ")";
      if (d > 0) coord = "(" + coord + " % " + std::to_string(out[d]) + ")";
      if (is[perm[d]] != 1) coord += " * " + std::to_string(is[perm[d]]);
      expr += (expr.empty() ? "" : " + ") + coord;
    }
    if (expr.empty()) return Assign("i", "0 * " + idx);
    return Assign("i", expr);
  }

  // The fp32 value of `v` at flat index variable `idx` (into v's shape), under mask `mask_`.
  std::string Eval(int32_t v, const std::string& idx) {
    const std::string key = std::to_string(v) + "@" + idx + "@" + mask_;
    if (auto it = cse_.find(key); it != cse_.end()) return it->second;
    std::string out;
    if (v == kernel_.anchor && !anchor_var_.empty()) {
      out = anchor_var_;
    } else if (plan_.stored[v] && v != kernel_.root) {
      const ir::Shape& shape = g_.TypeOf(v).shape;
      const auto cl = plan_.channels_last.find(v);
      std::string at = idx;
      if (cl != plan_.channels_last.end()) {
        // Walking in channels-last memory order, a value of the walk's [N, C, *S] elements is read in place.
        at = InWalk(idx, shape) ? physical_idx_ : ChannelsLastIndex(idx, shape);
      }
      const std::string load = "tl.load(" + Ptr(v) + " + " + at + ", mask=" + mask_ + ", other=0.0)";
      out = Assign("x", g_.TypeOf(v).dtype == ir::DType::kFloat32 ? load : load + ".to(tl.float32)");
      if (cl != plan_.channels_last.end() && cl->second) {  // the convolution's bias, folded into this read
        const int64_t S = Prod(shape, 2, shape.size());
        const std::string c = InWalk(idx, shape) ? channel_idx_
                                                 : Assign("c", "(" + idx + " // " + std::to_string(S) + ") % " + std::to_string(shape[1]));
        out = Assign("x", out + " + tl.load(" + ParamPtr(v, "bias") + " + " + c + ", mask=" + mask_ + ", other=0.0)");
      }
    } else {
      out = EvalNode(v, idx);
    }
    cse_[key] = out;
    return out;
  }

  std::string EvalNode(int32_t v, const std::string& idx) {
    const ir::Node& n = g_.nodes[v - k_];
    const ir::Shape& shape = n.type.shape;
    const NodeClass cls = plan_.cls[v - k_];
    if (cls == NodeClass::kAlias) return Eval(n.inputs[0], idx);
    if (cls == NodeClass::kPermute) {
      return Eval(n.inputs[0], Permuted(idx, shape, *Permutation(n, static_cast<int>(shape.size()))));
    }
    DRT_ICHECK(cls == NodeClass::kPointwise);
    const std::string_view op = ops::Spec(n.op).name;
    if (op == "batch_norm") {
      // y = (x - mean[c]) * rsqrt(var[c] + eps) * weight[c] + bias[c], c = axis 1.
      const std::string c = Assign("c", "(" + idx + " // " + std::to_string(Prod(shape, 2, shape.size())) +
                                            ") % " + std::to_string(shape[1]));
      const std::string x = Eval(n.inputs[0], idx);
      auto load = [&](const std::string& role) {
        return "tl.load(" + ParamPtr(v, role) + " + " + c + ", mask=" + mask_ + ", other=0.0)";
      };
      return Assign("t", "(" + x + " - " + load("running_mean") + ") * tl.rsqrt(" + load("running_var") +
                             " + " + FloatLit(AttrOr(n, "eps", 1e-5)) + ") * " + load("weight") + " + " +
                             load("bias"));
    }
    if (op.starts_with("max_pool") || op.starts_with("avg_pool")) return Pool(v, n, idx);
    if (op == "concat") return Concat(n, idx);
    std::vector<std::string> args;
    for (int32_t u : n.inputs) args.push_back(Eval(u, Broadcast(idx, shape, g_.TypeOf(u).shape)));
    auto formula = PointwiseFormula(n, args);
    DRT_ICHECK(formula.has_value());
    return Assign("t", *formula);
  }

  // Window pooling without padding: each output element folds a K^d window, unrolled at compile time.
  std::string Pool(int32_t v, const ir::Node& n, const std::string& idx) {
    (void)v;
    const ir::Shape& out = n.type.shape;
    const ir::Shape& in = g_.TypeOf(n.inputs[0]).shape;
    const int d = static_cast<int>(in.size()) - 2;
    const int64_t kk = static_cast<int64_t>(AttrOr(n, "kernel_size", 1));
    const int64_t st = static_cast<int64_t>(AttrOr(n, "stride", kk));
    const bool is_max = ops::Spec(n.op).name.starts_with("max");
    const auto os = Strides(out);
    const auto is = Strides(in);
    std::string base = "(" + idx + " // " + std::to_string(os[1]) + ") * " + std::to_string(is[1]);
    for (int j = 0; j < d; ++j) {
      base += " + ((" + idx + " // " + std::to_string(os[2 + j]) + ") % " + std::to_string(out[2 + j]) +
              ") * " + std::to_string(st * is[2 + j]);
    }
    const std::string b = Assign("i", base);
    const std::string acc = Var("pool");
    Line(acc + " = tl.full(" + b + ".shape, " + (is_max ? "float('-inf')" : "0.0") + ", tl.float32)");
    int64_t window = 1;
    for (int j = 0; j < d; ++j) window *= kk;
    Line("for w in tl.static_range(" + std::to_string(window) + "):");
    ++indent_;
    auto saved = cse_;
    cse_.clear();
    std::string off;
    int64_t div = window;
    for (int j = 0; j < d; ++j) {
      div /= kk;
      off += " + ((w // " + std::to_string(div) + ") % " + std::to_string(kk) + ") * " + std::to_string(is[2 + j]);
    }
    const std::string wi = Assign("i", b + off);
    const std::string x = Eval(n.inputs[0], wi);
    Line(acc + " = " + (is_max ? "tl.maximum(" + acc + ", " + x + ")" : acc + " + " + x));
    --indent_;
    cse_ = saved;
    if (!is_max) return Assign("t", acc + " / " + FloatLit(static_cast<double>(window)));
    return acc;
  }

  // concat of two inputs along `dim`: each lane reads the input its coordinate falls in.
  std::string Concat(const ir::Node& n, const std::string& idx) {
    const ir::Shape& out = n.type.shape;
    const int dim = static_cast<int>(AttrOr(n, "dim", 0));
    const int64_t inner = Prod(out, dim + 1, out.size());
    const int64_t ea = g_.TypeOf(n.inputs[0]).shape[dim], eb = g_.TypeOf(n.inputs[1]).shape[dim];
    const std::string c = Assign("c", "(" + idx + " // " + std::to_string(inner) + ") % " + std::to_string(out[dim]));
    const std::string pre = Assign("i", idx + " // " + std::to_string(inner * out[dim]));
    const std::string post = Assign("i", idx + " % " + std::to_string(inner));
    const std::string ia = Assign("i", pre + " * " + std::to_string(ea * inner) + " + " + c + " * " +
                                           std::to_string(inner) + " + " + post);
    const std::string ib = Assign("i", pre + " * " + std::to_string(eb * inner) + " + (" + c + " - " +
                                           std::to_string(ea) + ") * " + std::to_string(inner) + " + " + post);
    const std::string saved = mask_;
    mask_ = Assign("m", saved + " & (" + c + " < " + std::to_string(ea) + ")");
    const std::string va = Eval(n.inputs[0], ia);
    mask_ = Assign("m", saved + " & (" + c + " >= " + std::to_string(ea) + ")");
    const std::string vb = Eval(n.inputs[1], ib);
    mask_ = saved;
    return Assign("t", "tl.where(" + c + " < " + std::to_string(ea) + ", " + va + ", " + vb + ")");
  }

  const ir::Graph& g_;
  const FusionPlan& plan_;
  const TritonOptions& opt_;
  const Kernel& kernel_;
  const int32_t k_;
  std::ostringstream body_;
  std::vector<Arg> args_;
  std::map<std::string, std::string> cse_;
  std::map<std::string, std::pair<ir::Shape, std::vector<std::string>>> coords_;
  std::string mask_ = "mask";
  std::string anchor_var_;
  // A kernel walking channels-last memory: logical_idx_ (the row-major index variable) of an element of an
  // [N, C, *S] value with walk_shape_'s N, C and element count is at memory offset physical_idx_ of any
  // channels-last value of that view, and has channel channel_idx_.
  std::string logical_idx_, physical_idx_, channel_idx_;
  ir::Shape walk_shape_;
  bool InWalk(const std::string& idx, const ir::Shape& shape) const {
    return !logical_idx_.empty() && idx == logical_idx_ && shape.size() >= 3 && walk_shape_.size() >= 3 &&
           shape[0] == walk_shape_[0] && shape[1] == walk_shape_[1] && Prod(shape, 0, shape.size()) == Prod(walk_shape_, 0, walk_shape_.size());
  }
  int indent_ = 1;
  int tmp_ = 0;
};

// ---- launching ----
// Emitted once per file, before the kernels. JITFunction.run binds arguments, rebuilds the
// specialization key and looks the kernel up on every call: on an H100 a ModelNew of one small fused
// kernel spent ~15 us more host time per call than one eager op. Shapes are static, so after the first
// launch only the pointers' dtype, device and alignment can change Triton's choice of kernel.
constexpr std::string_view kLauncherSource = R"PY(
# ---- launching ----
# Each kernel's first call goes through Triton's JIT (kernel[grid](...): compile and cache). Later calls
# relaunch the compiled kernel directly: JITFunction.run binds arguments, rebuilds the specialization key
# and looks the kernel up on every call, which costs more host time than a small kernel runs. Every size
# is a tl.constexpr here, so only each pointer's dtype, device and 16-byte alignment can change what
# Triton would launch; any change goes back through the JIT. Under TRITON_INTERPRET=1 kernel[grid](...)
# returns no compiled kernel, so every call takes the JIT path.
class _Launcher:
    """One launch site: a kernel with a fixed grid, fixed constexpr values and launch options."""

    def __init__(self, kernel, grid, constexprs, num_warps, num_stages):
        self.kernel, self.grid = kernel, grid
        self.grid3 = (tuple(grid) + (1, 1))[:3]
        self.constexprs = tuple(constexprs.values())  # the kernel's trailing parameters, in order
        self.kwargs = dict(constexprs, num_warps=num_warps, num_stages=num_stages)
        self.fast = True  # False: every call through the JIT (benchmarks compare both)
        self.compiled = None  # the CompiledKernel of the last JIT call (None under the interpreter)
        self.key = None

    def __call__(self, *ptrs):
        c = self.compiled
        if c is not None and self.key == _specialization(ptrs):
            args = ptrs + self.constexprs
            stream = self.current_stream(self.device)
            # The same launcher call and hooks as JITFunction.run (profilers and the verifier see it).
            enter, leave = triton.knobs.runtime.launch_enter_hook, triton.knobs.runtime.launch_exit_hook
            hooked = getattr(enter, "calls", enter) or getattr(leave, "calls", leave)
            meta = c.launch_metadata(self.grid, stream, *args) if hooked else None
            self.run(*self.grid3, stream, c.function, c.packed_metadata, meta, enter, leave, *args)
            return
        c = self.kernel[self.grid](*ptrs, **self.kwargs)
        if self.fast and getattr(c, "packed_metadata", None) is not None:  # compiled for a GPU
            self.compiled, self.key, self.run = c, _specialization(ptrs), c.run
            self.device = ptrs[0].get_device()
            self.current_stream = triton.runtime.driver.active.get_current_stream


def _specialization(ptrs):
    # Triton specializes a pointer argument on its dtype, device and 16-byte alignment. PyTorch's
    # allocators align a storage's base, so equal dtypes and storage offsets mean equal alignment.
    return [(t.dtype, t.get_device(), t.storage_offset()) for t in ptrs]

)PY";

// ---- one kernel ----
struct EmittedKernel {
  std::string name;
  std::string source;  // the @triton.jit function
  std::string launch;  // host lines: allocate + launch
  std::string summary; // fused ops, for the header
  bool uses_mul_combine = false;  // needs the module-level _mul_combine (products: prod, cumprod)
};

std::string KernelName(const ir::Graph& g, const Kernel& kernel, size_t index) {
  std::string name = "k" + std::to_string(index);
  int shown = 0;
  for (int32_t m : kernel.members) {
    if (shown++ == 4) {
      name += "_etc";
      break;
    }
    name += "_" + OpName(g, m);
  }
  return name;
}

// `dict(N=1349, BLOCK=1024)`: a launch site's constexpr values, in the kernel's parameter order.
std::string ConstexprDict(const std::vector<std::pair<std::string, int64_t>>& cs) {
  std::string s = "dict(";
  for (size_t i = 0; i < cs.size(); ++i) s += (i ? ", " : "") + cs[i].first + "=" + std::to_string(cs[i].second);
  return s + ")";
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

constexpr int64_t kGemmGroupM = 8;  // row tiles per group in a GEMM's program order

// A launch grid as a Python tuple literal; shapes are static, so it is computed here, not per call.
std::string Grid(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

// Reduction accumulator update and finalisation, by op. x is the [BLOCK_R, BLOCK_C] tile.
struct ReduceSpec {
  std::string_view op;
  int64_t count = 1;
};

// The contiguous range of input axes [first, last] a reduction or normalization anchor reduces.
std::pair<int, int> AnchorReducedRange(const ir::Graph& g, const ir::Node& a, int rank) {
  const std::string_view op = ops::Spec(a.op).name;
  if (op.starts_with("adaptive")) return {2, rank - 1};
  if (op == "layer_norm" || op == "rms_norm") return {rank - 1, rank - 1};
  if (op == "group_norm") return {1, rank - 1};
  if (op == "instance_norm") return {2, rank - 1};
  if (op == "cosine_similarity") {
    const int d = static_cast<int>(AttrOr(a, "dim", 1));
    return {d, d};
  }
  if (auto ax = ReducedAxes(g, a)) return {ax->first, ax->last};
  return {0, rank - 1};
}

EmittedKernel EmitKernel(const ir::Graph& g, const FusionPlan& plan, const TritonOptions& opt,
                         const Kernel& kernel, size_t index) {
  const TritonKnobs& kn = opt.knobs;
  const int32_t k = static_cast<int32_t>(g.inputs.size());
  KernelWriter w(g, plan, opt, kernel);
  EmittedKernel ek;
  ek.name = KernelName(g, kernel, index);
  const ir::TensorType& root_t = g.TypeOf(kernel.root);
  const bool walks_memory_order = plan.physical_order.count(kernel.root) > 0;
  const std::string out_ptr = w.AddArg("p_out", "v" + std::to_string(kernel.root));
  std::vector<std::pair<std::string, int64_t>> constexprs;
  int warps = 4;  // used when the num_warps knob is 0 (auto)
  // Split reductions: a second kernel (combine partials + epilogue) and the partial buffer's allocation.
  std::unique_ptr<KernelWriter> second;
  std::unique_ptr<KernelWriter> stats;  // split normalizations: the statistics kernel, launched first
  std::vector<std::pair<std::string, int64_t>> second_constexprs;
  std::string second_grid, pre_launch;
  std::string grid;
  std::string doc;

  if (kernel.kind == KernelKind::kPointwise) {
    const int64_t n = root_t.Numel();
    const int64_t block = std::min<int64_t>(kn.block, Pow2AtLeast(n));
    constexprs = {{"N", n}, {"BLOCK", block}};
    grid = Grid({CeilDiv(n, block)});
    w.Line("pid = tl.program_id(0)");
    w.Line("offs = pid * BLOCK + tl.arange(0, BLOCK)");
    w.Line("mask = offs < N");
    std::string idx = "offs";
    doc = "one program per BLOCK elements of the output";
    if (walks_memory_order) {
      // offs walks the output's channels-last memory; idx is the element's row-major index.
      idx = w.RowMajorIndex("offs", root_t.shape);
      w.logical_idx_ = idx;
      w.physical_idx_ = "offs";
      w.walk_shape_ = root_t.shape;
      w.channel_idx_ = w.Assign("ch", "offs % " + std::to_string(root_t.shape[1]));
      doc += ", in its channels-last memory order";
    }
    const std::string r = w.Eval(kernel.root, idx);
    w.Line("tl.store(p_out + offs, " + r + ", mask=mask)");
  } else if (kernel.kind == KernelKind::kReduction || kernel.kind == KernelKind::kNormalization) {
    const ir::Node& a = g.nodes[kernel.anchor - k];
    const std::string_view op = ops::Spec(a.op).name;
    const int32_t src = a.inputs[0];
    // cosine_similarity reduces the common broadcast shape of its two inputs; every other anchor its input.
    const ir::Shape in = op == "cosine_similarity" ? BroadcastShape(g.TypeOf(a.inputs[0]).shape, g.TypeOf(a.inputs[1]).shape)
                                                   : g.TypeOf(src).shape;
    const int rank = static_cast<int>(in.size());
    // A row epilogue (fusion.cc): the kernel writes a value of the input's shape, reading the reduction at
    // every element of its row, in a second pass over each row.
    const bool row_epilogue = kernel.kind == KernelKind::kReduction && root_t.shape == in && root_t.Numel() != a.type.Numel();
    RowLayout rows;
    const auto [first, last] = AnchorReducedRange(g, a, rank);
    int64_t groups = 1;
    if (op == "group_norm") groups = static_cast<int64_t>(AttrOr(a, "num_groups", 1));
    rows.outer = Prod(in, 0, first) * groups;
    rows.reduce = Prod(in, first, last + 1) / groups;
    rows.inner = Prod(in, last + 1, in.size());
    const int64_t R = rows.reduce, I = rows.inner, O = rows.outer, C = O * I;
    // Columns c = o * I + i (every (o, i) pair is one independent row of R elements) are tiled together,
    // so many short rows share a program (one program per short row starves the GPU of work per launch
    // and makes the interpreter crawl) while long rows loop over R in BLOCK_R chunks.
    int64_t block_r = 1, block_c = 1;
    if (I == 1) {
      block_r = std::min<int64_t>(Pow2AtLeast(R), kn.reduce_block);
      block_c = std::min<int64_t>(Pow2AtLeast(C), std::max<int64_t>(1, kMaxTile / block_r));
    } else {
      // Columns are contiguous in memory: short reduced axes leave room for wide column tiles.
      block_r = std::min<int64_t>(Pow2AtLeast(R), std::max<int64_t>(1, kMaxTile / kn.reduce_block_inner));
      block_c = std::min<int64_t>(Pow2AtLeast(C), std::max<int64_t>(kn.reduce_block_inner, kMaxTile / block_r));
    }
    // A reduction over the spatial axes (and a GroupNorm's channels of a group) of a channels-last input
    // (PlanLayouts): neighbouring columns (n, c) or (n, g) are neighbours in memory, so the tile is wide
    // in columns (about 32 channels of a pixel per row of the tile) and each group is walked channel-fastest.
    // A reduction over the channels alone of a channels-last input (rows (n, pixel), R = C): each row is
    // contiguous in memory, addressed directly (cl_chan).
    const bool reads_cl = plan.channels_last_rows.count(kernel.root) > 0;
    const bool cl_rows = reads_cl && I == 1;
    const bool cl_chan = reads_cl && !cl_rows && first == 1 && last == 1 && groups == 1 && rank >= 3;
    int64_t walk_cg = 1;
    if (cl_rows) {
      if (op == "group_norm") walk_cg = in[1] / groups;
      block_c = std::min<int64_t>(Pow2AtLeast(C), std::max<int64_t>(1, 32 / walk_cg));
      block_r = std::min<int64_t>(Pow2AtLeast(R), std::max<int64_t>(1, kMaxTile / block_c));
    } else if (cl_chan) {
      block_r = std::min<int64_t>(Pow2AtLeast(R), kn.reduce_block);
      block_c = std::min<int64_t>(Pow2AtLeast(C), std::max<int64_t>(1, kMaxTile / block_r));
    }
    // LayerNorm / GroupNorm / InstanceNorm rows can split too (statistics partials, then a merge in the
    // writing kernel): a channels-last walk then keeps its tile wide in channels instead of narrowing it.
    const bool moments_norm = kernel.kind == KernelKind::kNormalization &&
                              (op == "layer_norm" || op == "group_norm" || op == "instance_norm");
    // Large problems keep at least kMinPrograms programs (about two per SM on an H100) when the columns allow.
    while (block_c > 1 && R * C >= kLargeWork && (C + block_c - 1) / block_c < kMinPrograms &&
           !(moments_norm && cl_rows)) {
      block_c /= 2;
    }
    // Few long rows (a full reduction, a loss) would run on a handful of SMs: accumulators that combine
    // associatively split R over a second grid axis; a second kernel combines the partials and runs the
    // epilogue.
    const bool combinable = kernel.kind == KernelKind::kReduction &&
                            (op == "sum" || op == "mean" || op == "amax" || op == "amin" || op == "norm" ||
                             op.starts_with("adaptive") || (a.inputs.size() == 2 && op != "cosine_similarity"));
    int64_t splits = 1, split_len = R;
    const int64_t programs = (C + block_c - 1) / block_c, chunks = (R + block_r - 1) / block_r;
    if (((combinable && R * C >= kSplitWork) || (moments_norm && R * C >= kLargeWork)) && !row_epilogue &&
        programs < kMinPrograms / 2 && chunks > 1) {
      const int64_t want = std::min(chunks, (kMinPrograms + programs - 1) / programs);
      split_len = ((chunks + want - 1) / want) * block_r;
      splits = (R + split_len - 1) / split_len;
    }
    constexprs = {{"R", R}, {"I", I}, {"C", C}, {"BLOCK_R", block_r}, {"BLOCK_C", block_c}};
    if (splits > 1) constexprs.push_back({"SPLIT_R", split_len});
    if (block_r * block_c >= kMaxTile) warps = 8;
    grid = splits > 1 ? Grid({CeilDiv(C, block_c), splits}) : Grid({CeilDiv(C, block_c)});
    doc = "the input is viewed as [" + std::to_string(O) + ", R, I]; one program per BLOCK_C of its " +
          std::to_string(C) + " independent rows (o, i), looping over R in BLOCK_R chunks";
    // Flat offset of element r = 0 of each column.
    std::string base = "(offs_c // I) * " + std::to_string(R * I) + " + offs_c % I";
    if (I == 1) base = "offs_c * R";
    if (O == 1) base = "offs_c";
    auto preamble = [&](KernelWriter& wr) {
      wr.Line("offs_c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)");
      wr.Line("mask_c = offs_c < C");
      wr.Line("base = " + base);
      if (cl_rows) {
        // Per column (n, channel group): its first channel and the channels-last offset of its pixel 0.
        const int64_t per_n = in[1] / walk_cg, CS = Prod(in, 1, in.size());
        wr.Line("col_ch = (offs_c % " + std::to_string(per_n) + ") * " + std::to_string(walk_cg));
        wr.Line("col_base = (offs_c // " + std::to_string(per_n) + ") * " + std::to_string(CS) + " + col_ch");
      }
    };
    preamble(w);
    const std::string tile_idx = I == 1 ? "base[None, :] + offs_r[:, None]" : "base[None, :] + offs_r[:, None] * I";
    // A row that fits in one chunk is straight-line code: no loop, so every pass reuses the tile the
    // first pass loaded (the writer's CSE keeps the loads), and the row is read from memory once.
    const bool one_chunk = block_r >= R && splits == 1;
    auto open_loop_in = [&](KernelWriter& w, const std::string& comment) {
      w.Line("# " + comment);
      if (splits > 1) {
        w.Line("for rr in range(0, SPLIT_R, BLOCK_R):  # this program's split of R");
        w.Indent();
        w.Line("r0 = tl.program_id(1) * SPLIT_R + rr");
      } else if (one_chunk) {
        w.Line("r0 = 0  # the whole row is one chunk");
      } else {
        w.Line("for r0 in range(0, R, BLOCK_R):");
        w.Indent();
      }
      if (walk_cg > 1) {
        // Walk each group channel-fastest: (s, cg) -> logical r = cg * S + s, so consecutive lanes read
        // the group's channels of one pixel, which channels-last memory holds together.
        w.Line("offs_w = r0 + tl.arange(0, BLOCK_R)  # position in the walk");
        w.Line("offs_r = (offs_w % " + std::to_string(walk_cg) + ") * " + std::to_string(R / walk_cg) + " + offs_w // " +
               std::to_string(walk_cg) + "  # logical index along R");
      } else {
        w.Line("offs_r = r0 + tl.arange(0, BLOCK_R)");
        w.Line("offs_w = offs_r");
      }
      w.Line("mask = (offs_w[:, None] < R) & mask_c[None, :]");
      w.Line("idx = " + tile_idx);
      if (cl_chan) {
        // Element (channel r of pixel column c): channels-last offset c * C + r, channel r.
        w.Line("phys = (offs_c * R)[None, :] + offs_r[:, None]");
        w.Line("chan = offs_r[:, None] + 0 * offs_c[None, :]");
      } else if (cl_rows) {
        // Element (column (n, group), walk position w): channel group * CG + w % CG, pixel w // CG; its
        // channels-last offset and channel follow without dividing idx.
        const std::string wc = walk_cg > 1 ? "(offs_w % " + std::to_string(walk_cg) + ")" : "0";
        const std::string ws = walk_cg > 1 ? "(offs_w // " + std::to_string(walk_cg) + ")" : "offs_w";
        w.Line("phys = col_base[None, :] + (" + ws + " * " + std::to_string(in[1]) + " + " + wc + ")[:, None]");
        w.Line("chan = col_ch[None, :] + " + (walk_cg > 1 ? wc + "[:, None]" : "0 * offs_w[:, None]"));
      }
      if (cl_chan || cl_rows) {
        w.logical_idx_ = "idx";
        w.physical_idx_ = "phys";
        w.channel_idx_ = "chan";
        w.walk_shape_ = in;
      }
      w.mask_ = "mask";
    };
    auto open_loop = [&](const std::string& comment) { open_loop_in(w, comment); };
    auto close_loop = [&] {
      if (!one_chunk) w.Dedent();
    };
    std::string result;  // the anchor's value: [BLOCK_C] vector (reduction) or tile (normalization)
    std::vector<std::string> finalize;  // reductions: lines that turn the accumulator into the value
    const std::string Rf = FloatLit(static_cast<double>(R));
    // Two passes over the reduced axis (mean, then squared deviations: no cancellation). Leaves `mean`
    // and `q` (the sum of squared deviations) in the kernel; shared by var/std and the mean-based norms.
    auto emit_mean_and_sq_dev = [&](const std::string& pass2_comment) {
      if (!one_chunk) {
        // A row longer than one chunk is read once for its statistics, not twice: each chunk's mean and
        // squared deviations (two passes over the tile in registers), merged into the running ones
        // (Chan, Golub, LeVeque: as stable as Welford). Values are shifted by the row's first element,
        // so a constant row has mean exactly its value and variance exactly 0, as torch's Welford
        // kernels give. Every chunk before this one is full, so r0 elements are already merged.
        w.Line("# one pass for the statistics: per-chunk mean and squared deviations, merged (Chan et al.)");
        // `shift` (the row's first element) into writer wr, then `mean` and `q` of the chunks wr walks
        // relative to it; `merged` counts the elements merged before each chunk (every earlier chunk is
        // full). In a split, the last split's last chunk can lie wholly past R: n_chunk 0 merges nothing.
        auto emit_shift = [&](KernelWriter& wr) {
          const std::string saved = wr.mask_;
          wr.mask_ = "mask_c";
          wr.Line("shift = tl.where(mask_c, " + wr.Eval(src, "base") + ", 0.0)");
          wr.mask_ = saved;
        };
        auto emit_chunk_moments = [&](KernelWriter& wr, const std::string& comment, const std::string& merged) {
          wr.Line("mean = tl.zeros([BLOCK_C], dtype=tl.float32)");
          wr.Line("q = tl.zeros([BLOCK_C], dtype=tl.float32)");
          open_loop_in(wr, comment);
          wr.Line("y = tl.where(mask, " + wr.Eval(src, "idx") + " - shift[None, :], 0.0)");
          wr.Line("n_chunk = tl.sum((offs_w < R).to(tl.float32), axis=0)");
          wr.Line("m_chunk = tl.sum(y, axis=0) / tl.maximum(n_chunk, 1.0)");
          wr.Line("d = tl.where(mask, y - m_chunk[None, :], 0.0)");
          wr.Line("delta = m_chunk - mean");
          wr.Line("frac = n_chunk / tl.maximum(" + merged + " + n_chunk, 1.0)");
          wr.Line("mean = mean + delta * frac");
          wr.Line("q = q + tl.sum(d * d, axis=0) + delta * delta * " + merged + " * frac");
          wr.Dedent();  // a row of several chunks always loops
        };
        emit_shift(w);
        if (splits > 1) {
          // Few long rows: a first kernel computes each split's statistics (relative to the same shift)
          // into fp32 partials [splits, 2, C]; this kernel merges them, then normalises its own split.
          auto w1 = std::make_unique<KernelWriter>(g, plan, opt, kernel);
          w1->AddArg("p_out", "part" + std::to_string(kernel.root));
          preamble(*w1);
          emit_shift(*w1);
          emit_chunk_moments(*w1, "statistics of this split, chunk by chunk (rr elements of the split merged so far)", "rr");
          w1->Line("tl.store(p_out + tl.program_id(1) * 2 * C + offs_c, mean, mask=mask_c)");
          w1->Line("tl.store(p_out + (tl.program_id(1) * 2 + 1) * C + offs_c, q, mask=mask_c)");
          stats = std::move(w1);
          const std::string part = w.AddArg("p_part", "part" + std::to_string(kernel.root));
          const int64_t last = R - (splits - 1) * split_len;
          const std::string full_f = FloatLit(static_cast<double>(split_len));
          w.Line("# merge the splits' statistics (every split but the last has SPLIT_R elements)");
          w.Line("mean = tl.zeros([BLOCK_C], dtype=tl.float32)");
          w.Line("q = tl.zeros([BLOCK_C], dtype=tl.float32)");
          w.Line("for s in range(0, " + std::to_string(splits - 1) + "):");
          w.Line("    m_s = tl.load(" + part + " + s * 2 * C + offs_c, mask=mask_c, other=0.0)");
          w.Line("    delta = m_s - mean");
          w.Line("    frac = 1.0 / (s + 1.0)");
          w.Line("    mean = mean + delta * frac");
          w.Line("    q = q + tl.load(" + part + " + (s * 2 + 1) * C + offs_c, mask=mask_c, other=0.0) + delta * delta * (s * " +
                 full_f + ") * frac");
          w.Line("m_s = tl.load(" + part + " + " + std::to_string(2 * (splits - 1)) + " * C + offs_c, mask=mask_c, other=0.0)");
          w.Line("delta = m_s - mean");
          w.Line("frac = " + FloatLit(static_cast<double>(last)) + " / " + Rf);
          w.Line("mean = mean + delta * frac");
          w.Line("q = q + tl.load(" + part + " + " + std::to_string(2 * splits - 1) + " * C + offs_c, mask=mask_c, other=0.0) + delta * delta * " +
                 FloatLit(static_cast<double>(R - last)) + " * frac");
          pre_launch = "        part" + std::to_string(kernel.root) + " = torch.empty((" + std::to_string(splits) +
                       ", 2, " + std::to_string(C) + "), device=dev, dtype=torch.float32)\n";
          doc += "; R is split " + std::to_string(splits) + " ways: a first kernel writes each split's statistics";
        } else {
          emit_chunk_moments(w, "statistics of this chunk, merged into the running ones", "r0");
        }
        w.Line("mean = mean + shift");
        return;
      }
      w.Line("s = tl.zeros([BLOCK_C], dtype=tl.float32)");
      open_loop("pass 1: mean");
      w.Line("s += tl.sum(tl.where(mask, " + w.Eval(src, "idx") + ", 0.0), axis=0)");
      close_loop();
      w.Line("mean = s / " + Rf);
      w.Line("q = tl.zeros([BLOCK_C], dtype=tl.float32)");
      if (op != "instance_norm") w.Line("c = tl.zeros([BLOCK_C], dtype=tl.float32)");
      open_loop(pass2_comment);
      w.Line("d = tl.where(mask, " + w.Eval(src, "idx") + " - mean[None, :], 0.0)");
      w.Line("q += tl.sum(d * d, axis=0)");
      if (op != "instance_norm") w.Line("c += tl.sum(d, axis=0)");
      close_loop();
      // Corrected two-pass (Chan, Golub, LeVeque): the rounding error of s / R is folded back, so a
      // constant row has mean exactly its value and variance exactly 0, as torch's Welford-based CPU
      // kernels give for var/std, layer_norm and group_norm. instance_norm runs through torch's batch_norm
      // statistics (plain two-pass), so it keeps the uncorrected form to round the same way.
      if (op != "instance_norm") {
        w.Line("q = tl.maximum(q - c * c / " + Rf + ", 0.0)");
        w.Line("mean = mean + c / " + Rf);
      }
    };
    if (kernel.kind == KernelKind::kReduction) {
      const bool is_max = op == "amax" || op == "argmax", is_min = op == "amin" || op == "argmin";
      if (op == "logsumexp") {
        w.Line("m = tl.full([BLOCK_C], float('-inf'), tl.float32)");
        w.Line("s = tl.zeros([BLOCK_C], dtype=tl.float32)");
        open_loop("online max and sum of exp along the reduced axis");
        const std::string x = w.Eval(src, "idx");
        w.Line("x = tl.where(mask, " + x + ", float('-inf'))");
        w.Line("m_new = tl.maximum(m, tl.max(x, axis=0))");
        w.Line("m_safe = tl.where(m_new == float('-inf'), 0.0, m_new)");
        w.Line("s = s * tl.exp(m - m_safe) + tl.sum(tl.exp(x - m_safe[None, :]), axis=0)");
        w.Line("m = m_new");
        close_loop();
        w.Line("acc = m + tl.log(s)");
      } else if (op == "argmax" || op == "argmin") {
        const std::string inf = is_max ? "float('-inf')" : "float('inf')";
        w.Line("best = tl.full([BLOCK_C], " + inf + ", tl.float32)");
        w.Line("arg = tl.zeros([BLOCK_C], dtype=tl.int64)");
        open_loop("running best value and its first index");
        const std::string x = w.Eval(src, "idx");
        w.Line("x = tl.where(mask, " + x + ", " + inf + ")");
        w.Line(std::string("blk = tl.") + (is_max ? "max" : "min") + "(x, axis=0)");
        w.Line(std::string("blk_arg = tl.") + (is_max ? "argmax" : "argmin") + "(x, axis=0) + r0");
        w.Line(std::string("take = blk ") + (is_max ? ">" : "<") + " best");
        w.Line("best = tl.where(take, blk, best)");
        w.Line("arg = tl.where(take, blk_arg.to(tl.int64), arg)");
        close_loop();
        w.Line("acc = arg");
      } else if (op == "var" || op == "std") {
        emit_mean_and_sq_dev("pass 2: squared deviations (two passes: no cancellation)");
        // Unbiased (correction = 1), as torch.var/std default.
        w.Line("acc = q / " + FloatLit(static_cast<double>(R - 1)));
        if (op == "std") w.Line("acc = tl.sqrt(acc)");
      } else if (op == "cosine_similarity") {
        w.Line("dot = tl.zeros([BLOCK_C], dtype=tl.float32)");
        w.Line("q1 = tl.zeros([BLOCK_C], dtype=tl.float32)");
        w.Line("q2 = tl.zeros([BLOCK_C], dtype=tl.float32)");
        open_loop("dot product and both squared norms in one sweep (inputs broadcast by index)");
        const std::string x = w.Eval(a.inputs[0], w.Broadcast("idx", in, g.TypeOf(a.inputs[0]).shape));
        const std::string y = w.Eval(a.inputs[1], w.Broadcast("idx", in, g.TypeOf(a.inputs[1]).shape));
        w.Line("dot += tl.sum(tl.where(mask, " + x + " * " + y + ", 0.0), axis=0)");
        w.Line("q1 += tl.sum(tl.where(mask, " + x + " * " + x + ", 0.0), axis=0)");
        w.Line("q2 += tl.sum(tl.where(mask, " + y + " * " + y + ", 0.0), axis=0)");
        close_loop();
        // torch: x1.x2 / (max(|x1|, eps) * max(|x2|, eps)), eps = 1e-8.
        w.Line("acc = dot / (tl.maximum(tl.sqrt(q1), 1e-08) * tl.maximum(tl.sqrt(q2), 1e-08))");
      } else if (op == "prod") {
        w.Line("acc = tl.full([BLOCK_C], 1.0, tl.float32)");
        open_loop("running product in fp32 (masked lanes are the identity 1)");
        w.Line("acc = acc * tl.reduce(tl.where(mask, " + w.Eval(src, "idx") + ", 1.0), 0, _mul_combine)");
        close_loop();
        ek.uses_mul_combine = true;
      } else if (a.inputs.size() == 2) {
        // Losses: a full reduction of a per-element formula of the two inputs.
        w.Line("acc = tl.zeros([BLOCK_C], dtype=tl.float32)");
        open_loop("accumulate the per-element loss in fp32");
        const std::string x = w.Eval(a.inputs[0], "idx");
        const std::string y = w.Eval(a.inputs[1], "idx");
        std::string e;
        const std::string d = "tl.abs(" + x + " - " + y + ")";
        if (op == "mse_loss") e = "(" + x + " - " + y + ") * (" + x + " - " + y + ")";
        if (op == "l1_loss") e = d;
        if (op == "smooth_l1_loss") {
          const std::string beta = FloatLit(AttrOr(a, "beta", 1.0));
          e = "tl.where(" + d + " < " + beta + ", 0.5 * " + d + " * " + d + " / " + beta + ", " + d + " - 0.5 * " + beta + ")";
        }
        if (op == "huber_loss") {
          const std::string delta = FloatLit(AttrOr(a, "delta", 1.0));
          e = "tl.where(" + d + " < " + delta + ", 0.5 * " + d + " * " + d + ", " + delta + " * (" + d + " - 0.5 * " + delta + "))";
        }
        if (op == "kl_div") e = y + " * (tl.log(" + y + ") - " + x + ")";
        DRT_ICHECK(!e.empty());
        w.Line("acc += tl.sum(tl.where(mask, " + e + ", 0.0), axis=0)");
        close_loop();
        const double denom = op == "kl_div" ? static_cast<double>(in.empty() ? 1 : in[0]) : static_cast<double>(R);
        finalize.push_back("acc = acc / " + FloatLit(denom));
      } else {
        std::string init = "tl.zeros([BLOCK_C], dtype=tl.float32)";
        if (is_max) init = "tl.full([BLOCK_C], float('-inf'), tl.float32)";
        if (is_min) init = "tl.full([BLOCK_C], float('inf'), tl.float32)";
        w.Line("acc = " + init);
        open_loop("accumulate in fp32 along the reduced axis");
        const std::string x = w.Eval(src, "idx");
        if (is_max) {
          w.Line("acc = tl.maximum(acc, tl.max(tl.where(mask, " + x + ", float('-inf')), axis=0))");
        } else if (is_min) {
          w.Line("acc = tl.minimum(acc, tl.min(tl.where(mask, " + x + ", float('inf')), axis=0))");
        } else if (op == "norm") {
          w.Line("acc += tl.sum(tl.where(mask, " + x + " * " + x + ", 0.0), axis=0)");
        } else {
          w.Line("acc += tl.sum(tl.where(mask, " + x + ", 0.0), axis=0)");
        }
        close_loop();
        if (op == "mean" || op.starts_with("adaptive")) finalize.push_back("acc = acc / " + Rf);
        if (op == "norm") finalize.push_back("acc = tl.sqrt(acc)");
      }
      result = "acc";
      // Epilogue over the output row: flat output index o * I + i.
      auto epilogue = [&](KernelWriter& wr) {
        wr.logical_idx_.clear();  // past the walk: idx is now the output index
        for (const std::string& line : finalize) wr.Line(line);
        wr.Line("# epilogue at the output index (fused pointwise consumers, if any)");
        wr.Line("mask = mask_c");
        wr.Line("idx = offs_c");
        wr.mask_ = "mask";
        wr.anchor_var_ = result;
        wr.cse_.clear();
        const std::string r = wr.Eval(kernel.root, "idx");
        wr.Line("tl.store(p_out + idx, " + r + ", mask=mask)");
      };
      if (row_epilogue) {
        for (const std::string& line : finalize) w.Line(line);
        open_loop("pass 2: the row epilogue, reading the reduction at every element of the row");
        w.anchor_var_ = "(" + result + ")[None, :]";
        const std::string r = w.Eval(kernel.root, "idx");
        w.Line("tl.store(p_out + idx, " + r + ", mask=mask)");
        close_loop();
        doc += "; a second pass over each row writes the epilogue at the input's shape";
      } else if (splits == 1) {
        epilogue(w);
      } else {
        // Kernel 1 (this writer) stores its partial; kernel 2 combines the partials and runs the epilogue.
        w.Line("tl.store(p_out + tl.program_id(1) * C + offs_c, acc, mask=mask_c)  # this split's partial");
        w.args_[0].host = "part" + std::to_string(kernel.root);
        const int64_t bc = std::min<int64_t>(Pow2AtLeast(C), 1024);
        KernelWriter w2(g, plan, opt, kernel);
        w2.AddArg("p_out", "v" + std::to_string(kernel.root));
        const std::string part = w2.AddArg("p_part", "part" + std::to_string(kernel.root));
        w2.Line("offs_c = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)");
        w2.Line("mask_c = offs_c < C");
        const std::string ident = op == "amax" ? "float('-inf')" : op == "amin" ? "float('inf')" : "0.0";
        w2.Line("acc = tl.full([BLOCK_C], " + ident + ", tl.float32)");
        w2.Line("for s in range(0, SPLITS):");
        w2.Line("    x = tl.load(" + part + " + s * C + offs_c, mask=mask_c, other=" + ident + ")");
        w2.Line(op == "amax" ? "    acc = tl.maximum(acc, x)" : op == "amin" ? "    acc = tl.minimum(acc, x)" : "    acc += x");
        epilogue(w2);
        second = std::make_unique<KernelWriter>(std::move(w2));
        second_constexprs = {{"C", C}, {"SPLITS", splits}, {"BLOCK_C", bc}};
        second_grid = Grid({CeilDiv(C, bc)});
        pre_launch = "        part" + std::to_string(kernel.root) + " = torch.empty((" + std::to_string(splits) +
                     ", " + std::to_string(C) + "), device=dev, dtype=torch.float32)\n";
        doc += "; R is split " + std::to_string(splits) + " ways (SPLIT_R each) into fp32 partials";
      }
    } else {
      // Normalizations: statistics pass(es), then a write pass with the epilogue.
      std::string y;
      std::vector<std::string> after_store;  // lines at the end of the write loop (a scan's carry)
      if (op == "cumsum" || op == "cumprod") {
        const bool sum = op == "cumsum";
        w.Line(std::string("carry = ") + (sum ? "tl.zeros([BLOCK_C], dtype=tl.float32)" : "tl.full([BLOCK_C], 1.0, tl.float32)"));
        open_loop("one pass: scan each chunk, offset by the carry of the chunks before it (epilogue fused)");
        w.Line("x = tl.where(mask, " + w.Eval(src, "idx") + (sum ? ", 0.0)" : ", 1.0)"));
        y = sum ? "tl.cumsum(x, axis=0) + carry[None, :]" : "tl.cumprod(x, axis=0) * carry[None, :]";
        after_store.push_back(sum ? "carry += tl.sum(x, axis=0)" : "carry = carry * tl.reduce(x, 0, _mul_combine)");
        if (!sum) ek.uses_mul_combine = true;
      } else if (op == "softmax" || op == "log_softmax") {
        w.Line("m = tl.full([BLOCK_C], float('-inf'), tl.float32)");
        w.Line("s = tl.zeros([BLOCK_C], dtype=tl.float32)");
        open_loop("pass 1: online max and sum of exp");
        w.Line("x = tl.where(mask, " + w.Eval(src, "idx") + ", float('-inf'))");
        w.Line("m_new = tl.maximum(m, tl.max(x, axis=0))");
        w.Line("m_safe = tl.where(m_new == float('-inf'), 0.0, m_new)");
        w.Line("s = s * tl.exp(m - m_safe) + tl.sum(tl.exp(x - m_safe[None, :]), axis=0)");
        w.Line("m = m_new");
        close_loop();
        open_loop("pass 2: normalise and write (epilogue fused)");
        const std::string x = w.Eval(src, "idx");
        y = op == "softmax" ? "tl.exp(" + x + " - m[None, :]) / s[None, :]"
                            : x + " - m[None, :] - tl.log(s)[None, :]";
      } else if (op == "normalize") {
        w.Line("q = tl.zeros([BLOCK_C], dtype=tl.float32)");
        open_loop("pass 1: sum of squares");
        const std::string x = w.Eval(src, "idx");
        w.Line("q += tl.sum(tl.where(mask, " + x + " * " + x + ", 0.0), axis=0)");
        close_loop();
        w.Line("denom = tl.maximum(tl.sqrt(q), 1e-12)");
        open_loop("pass 2: divide by the L2 norm and write (epilogue fused)");
        y = w.Eval(src, "idx") + " / denom[None, :]";
      } else if (op == "rms_norm") {
        w.Line("q = tl.zeros([BLOCK_C], dtype=tl.float32)");
        open_loop("pass 1: mean of squares");
        const std::string x = w.Eval(src, "idx");
        w.Line("q += tl.sum(tl.where(mask, " + x + " * " + x + ", 0.0), axis=0)");
        close_loop();
        // nn.RMSNorm with eps=None uses torch.finfo(float32).eps.
        const double eps = AttrOr(a, "eps", 1.1920928955078125e-07);
        w.Line("rstd = tl.rsqrt(q / " + Rf + " + " + FloatLit(eps) + ")");
        open_loop("pass 2: scale and write (epilogue fused)");
        y = w.Eval(src, "idx") + " * rstd[None, :]";
        if (!ParamRoles(a).empty()) {
          y = "(" + y + ") * tl.load(" + w.ParamPtr(kernel.anchor, "weight") + " + offs_r[:, None], mask=mask, other=0.0)";
        }
      } else {
        // layer_norm, group_norm, instance_norm: mean, then variance (biased), then affine.
        emit_mean_and_sq_dev("pass 2: variance (two passes: no cancellation)");
        w.Line("rstd = tl.rsqrt(q / " + Rf + " + " + FloatLit(AttrOr(a, "eps", 1e-5)) + ")");
        open_loop("pass 3: normalise, affine, write (epilogue fused)");
        y = "(" + w.Eval(src, "idx") + " - mean[None, :]) * rstd[None, :]";
        const auto roles = ParamRoles(a);
        if (!roles.empty()) {
          std::string pidx = "offs_r[:, None]";  // layer_norm: weight over the normalised axis
          if (op == "group_norm" && cl_rows) {
            pidx = "chan";
          } else if (op == "group_norm") {
            const int64_t per_group = in[1] / groups, spatial = Prod(in, 2, in.size());
            pidx = w.Assign("ch", "(offs_c[None, :] % " + std::to_string(groups) + ") * " + std::to_string(per_group) +
                                      " + offs_r[:, None] // " + std::to_string(spatial));
          }
          for (const std::string& role : roles) {
            const std::string p = "tl.load(" + w.ParamPtr(kernel.anchor, role) + " + " + pidx + ", mask=mask, other=0.0)";
            y = role == "weight" ? "(" + y + ") * " + p : y + " + " + p;
          }
        }
      }
      w.Line("y = " + y);
      w.anchor_var_ = "y";
      const std::string r = w.Eval(kernel.root, "idx");
      // A kernel that walks a channels-last input stores its output channels-last too (PlanLayouts).
      const std::string at = !walks_memory_order ? "idx" : cl_rows || cl_chan ? "phys" : w.ChannelsLastIndex("idx", root_t.shape);
      w.Line("tl.store(p_out + " + at + ", " + r + ", mask=mask)");
      for (const std::string& line : after_store) w.Line(line);
      close_loop();
      doc += after_store.empty() ? "; statistics in fp32, then one write pass" : "; a carry in fp32 links the chunks";
    }
  } else if (kernel.kind == KernelKind::kMatmul) {
    const ir::Node& a = g.nodes[kernel.anchor - k];
    const std::string_view op = ops::Spec(a.op).name;
    const ir::Shape& out = a.type.shape;
    const ir::Shape& as = g.TypeOf(a.inputs[0]).shape;
    const int64_t K = as.back();
    const int64_t N = out.back();
    const bool linear = op == "linear";
    const int64_t M = linear ? g.TypeOf(a.inputs[0]).Numel() / K : out[out.size() - 2];
    const int64_t batch = linear ? 1 : Prod(out, 0, out.size() - 2);
    int64_t bn = std::max<int64_t>(16, std::min<int64_t>(kn.block_n, Pow2AtLeast(N)));
    int64_t block_m = kn.block_m;
    if (block_m == 0) block_m = CeilDiv(M, 128) * CeilDiv(N, bn) * batch >= kMinPrograms ? 128 : 64;
    int64_t bm = std::max<int64_t>(16, std::min<int64_t>(block_m, Pow2AtLeast(M)));
    // Large GEMMs with few output tiles (batch 128 x 512 features: 16 tiles of 64 x 64) would leave most
    // SMs idle: smaller tiles until about kMinPrograms / 2 programs run.
    // A K-dominated GEMM (K >= 16 max(M, N), e.g. a matrix-vector product) keeps its tiles and splits K
    // instead (below): smaller tiles would re-read its long operands more often.
    auto tiles = [&] { return ((M + bm - 1) / bm) * ((N + bn - 1) / bn) * batch; };
    const bool k_dominated = kn.split_k != 1 && K >= kLongK && K >= 16 * std::max(M, N);
    while ((M * N * K * batch >= kLargeGemm || K >= kLongK) && !k_dominated && tiles() < kMinPrograms / 2 &&
           (bm > 16 || bn > 16)) {
      (bm >= bn && bm > 16 ? bm : bn) /= 2;
    }
    const int64_t bk = std::max<int64_t>(16, std::min<int64_t>(kn.block_k, Pow2AtLeast(K)));
    // Split-K: when even the smallest tiles leave most SMs idle over a long K loop (a 128 x 24 output over
    // K = 1024: 16 programs of 32 steps), K splits into fp32 partials that a second kernel sums before the
    // bias and the epilogue. Each split keeps at least 4 steps of BLOCK_K.
    const int64_t k_steps = CeilDiv(K, bk);
    int64_t want_k = 1;
    if (kn.split_k > 1) {
      want_k = std::min<int64_t>(kn.split_k, k_steps);
    } else if (kn.split_k == 0 && K >= kLongK && tiles() < kMinPrograms / 4) {
      want_k = std::min<int64_t>(k_steps / 4, CeilDiv(kMinPrograms / 2, tiles()));
    }
    const int64_t split_len_k = CeilDiv(k_steps, std::max<int64_t>(want_k, 1)) * bk;
    const int64_t splits_k = CeilDiv(K, split_len_k);
    constexprs = {{"M", M}, {"N", N}, {"K", K}, {"BLOCK_M", bm}, {"BLOCK_N", bn}, {"BLOCK_K", bk}};
    if (splits_k > 1) constexprs.push_back({"SPLIT_K", split_len_k});
    const int64_t tiles_m = CeilDiv(M, bm), tiles_n = CeilDiv(N, bn);
    grid = Grid({tiles_m * tiles_n, splits_k, batch});
    doc = "one program per BLOCK_M x BLOCK_N output tile (and batch), in groups of " + std::to_string(kGemmGroupM) +
          " tile rows for L2 reuse; fp32 accumulation with tl.dot";
    // Grouped order: consecutive programs share kGemmGroupM row tiles of A and sweep the column tiles, so
    // the operand tiles they read stay in L2 (KernelBench L1 1, 4096^3: 4.1 -> ~2.4 ms in the textbook
    // kernel of bench/matmul_probe_gpu.py with 128 x 64 tiles).
    w.Line("pid = tl.program_id(0)");
    w.Line("group_width = " + std::to_string(kGemmGroupM * tiles_n));
    w.Line("first_m = (pid // group_width) * " + std::to_string(kGemmGroupM));
    w.Line("group_rows = tl.minimum(" + std::to_string(tiles_m) + " - first_m, " + std::to_string(kGemmGroupM) + ")");
    w.Line("pid_m = first_m + (pid % group_width) % group_rows");
    w.Line("pid_n = (pid % group_width) // group_rows");
    w.Line("pid_b = tl.program_id(2)");
    w.Line("offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)");
    w.Line("offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)");
    w.Line("acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)");
    std::string a_base = "0", b_base = "0";
    // Coordinates of the output's batch index pid_b (row-major over the output's batch dims), and of an
    // operand's batch index broadcast from them.
    const ir::Shape ob = linear ? ir::Shape{} : ir::Shape(out.begin(), out.end() - 2);
    std::vector<std::string> batch_coords;
    {
      const auto st = Strides(ob);
      for (size_t d = 0; d < ob.size(); ++d) {
        std::string c = st[d] == 1 ? "pid_b" : "(pid_b // " + std::to_string(st[d]) + ")";
        if (d > 0) c = "(" + c + " % " + std::to_string(ob[d]) + ")";
        batch_coords.push_back(ob[d] == 1 ? "0" : c);
      }
    }
    auto operand_coords = [&](const ir::Shape& shape, const std::string& row, const std::string& col) {
      std::vector<std::string> c;
      const size_t nb = shape.size() - 2;
      for (size_t d = 0; d < nb; ++d) c.push_back(shape[d] == 1 ? "0" : batch_coords[ob.size() - nb + d]);
      c.push_back(row);
      c.push_back(col);
      return c;
    };
    if (!linear) {
      // Batch dims broadcast (torch.matmul): map the output batch index into each operand's batch.
      const ir::Shape bs = g.TypeOf(a.inputs[1]).shape;
      const ir::Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
      a_base = "(" + w.Broadcast("pid_b", ob, ab) + ") * " + std::to_string(M * K);
      b_base = "(" + w.Broadcast("pid_b", ob, bb) + ") * " + std::to_string(K * N);
    }
    // Tiles that divide the shape need no bounds: a constant-true mask, which Triton folds into plain
    // (vectorised) loads, while the operand's loads keep one spelling.
    const bool even_k = K % bk == 0 && K % split_len_k == 0;  // no split's last step runs past K
    const bool even_a = M % bm == 0 && even_k, even_b = even_k && N % bn == 0;
    if (splits_k > 1) {
      w.Line("for kk in range(0, SPLIT_K, BLOCK_K):  # this program's split of K");
      w.Indent();
      w.Line("offs_k = tl.program_id(1) * SPLIT_K + kk + tl.arange(0, BLOCK_K)");
    } else {
      w.Line("for k0 in range(0, K, BLOCK_K):");
      w.Indent();
      w.Line("offs_k = k0 + tl.arange(0, BLOCK_K)");
    }
    w.Line(even_a ? "mask = tl.full([BLOCK_M, BLOCK_K], 1, tl.int1)  # tiles divide M and K"
                  : "mask = (offs_m[:, None] < M) & (offs_k[None, :] < K)");
    w.Line("idx = " + a_base + " + offs_m[:, None] * K + offs_k[None, :]");
    w.SetCoords("idx", linear ? ir::Shape{M, K} : as, linear ? std::vector<std::string>{"offs_m[:, None]", "offs_k[None, :]"}
                                                            : operand_coords(as, "offs_m[:, None]", "offs_k[None, :]"));
    w.mask_ = "mask";
    w.Line("a = tl.where(mask, " + w.Eval(a.inputs[0], "idx") + ", 0.0)");
    w.Line(even_b ? "mask_b = tl.full([BLOCK_K, BLOCK_N], 1, tl.int1)  # tiles divide K and N"
                  : "mask_b = (offs_k[:, None] < K) & (offs_n[None, :] < N)");
    w.mask_ = "mask_b";
    if (linear) {
      // nn.Linear stores W as [N, K]; read it transposed as a [BLOCK_K, BLOCK_N] tile.
      w.Line("b = tl.load(" + w.ParamPtr(kernel.anchor, "weight") +
             " + offs_n[None, :] * K + offs_k[:, None], mask=mask_b, other=0.0)");
    } else {
      w.Line("idx_b = " + b_base + " + offs_k[:, None] * N + offs_n[None, :]");
      w.SetCoords("idx_b", g.TypeOf(a.inputs[1]).shape,
                  operand_coords(g.TypeOf(a.inputs[1]).shape, "offs_k[:, None]", "offs_n[None, :]"));
      w.Line("b = tl.where(mask_b, " + w.Eval(a.inputs[1], "idx_b") + ", 0.0)");
    }
    const char* precision = kn.allow_tf32 ? "tf32" : (kn.exact_dot ? "ieee" : "tf32x3");
    w.Line(std::string("acc += tl.dot(a, b, input_precision=\"") + precision + "\")");
    w.Dedent();
    const bool has_bias = linear && AttrOr(a, "bias", 1) != 0;
    if (splits_k > 1) {
      // Kernel 1 (this writer) stores its split's partial tile; kernel 2 sums the partials per output
      // element, adds the bias and runs the epilogue.
      const int64_t total = M * N * batch;
      w.Line("mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)");
      w.Line("idx = (tl.program_id(1) * " + std::to_string(batch) + " + pid_b) * " + std::to_string(M * N) +
             " + offs_m[:, None] * N + offs_n[None, :]");
      w.Line("tl.store(p_out + idx, acc, mask=mask)  # this split's partial");
      w.args_[0].host = "part" + std::to_string(kernel.root);
      const int64_t blk = std::min<int64_t>(Pow2AtLeast(total), kn.block);
      KernelWriter w2(g, plan, opt, kernel);
      w2.AddArg("p_out", "v" + std::to_string(kernel.root));
      const std::string part = w2.AddArg("p_part", "part" + std::to_string(kernel.root));
      w2.Line("offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)");
      w2.Line("mask = offs < T");
      w2.Line("acc = tl.zeros([BLOCK], dtype=tl.float32)");
      w2.Line("for s in range(0, SPLITS):");
      w2.Line("    acc += tl.load(" + part + " + s * T + offs, mask=mask, other=0.0)");
      if (has_bias) {
        w2.Line("acc += tl.load(" + w2.ParamPtr(kernel.anchor, "bias") + " + offs % " + std::to_string(N) +
                ", mask=mask, other=0.0)");
      }
      w2.Line("# epilogue at the output element (fused pointwise consumers, if any)");
      w2.mask_ = "mask";
      w2.anchor_var_ = "acc";
      const std::string r2 = w2.Eval(kernel.root, "offs");
      w2.Line("tl.store(p_out + offs, " + r2 + ", mask=mask)");
      second = std::make_unique<KernelWriter>(std::move(w2));
      second_constexprs = {{"T", total}, {"SPLITS", splits_k}, {"BLOCK", blk}};
      second_grid = Grid({CeilDiv(total, blk)});
      pre_launch = "        part" + std::to_string(kernel.root) + " = torch.empty((" + std::to_string(splits_k) +
                   ", " + std::to_string(total) + "), device=dev, dtype=torch.float32)\n";
      doc += "; K is split " + std::to_string(splits_k) + " ways (SPLIT_K each) into fp32 partials";
    } else {
      if (has_bias) {
        w.Line("acc += tl.load(" + w.ParamPtr(kernel.anchor, "bias") + " + offs_n, mask=offs_n < N, other=0.0)[None, :]");
      }
      w.Line("# epilogue on the accumulator tile (fused pointwise consumers, if any)");
      w.Line("mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)");
      w.Line("idx = pid_b * " + std::to_string(M * N) + " + offs_m[:, None] * N + offs_n[None, :]");
      if (linear) {
        w.SetCoords("idx", ir::Shape{M, N}, {"offs_m[:, None]", "offs_n[None, :]"});
      } else {
        std::vector<std::string> c = batch_coords;
        c.push_back("offs_m[:, None]");
        c.push_back("offs_n[None, :]");
        w.SetCoords("idx", out, c);
      }
      w.mask_ = "mask";
      w.anchor_var_ = "acc";
      const std::string r = w.Eval(kernel.root, "idx");
      w.Line("tl.store(p_out + idx, " + r + ", mask=mask)");
    }
  }

  // ---- assemble the kernel text ----
  std::vector<std::string> fused;
  for (int32_t m : kernel.members) fused.push_back(OpName(g, m) + "(v" + std::to_string(m) + ")");
  std::string fused_s;
  for (size_t i = 0; i < fused.size(); ++i) fused_s += (i ? " -> " : "") + fused[i];
  ek.summary = fused_s;
  const int num_warps = kn.num_warps > 0 ? kn.num_warps : warps;
  const int num_stages = kn.num_stages > 0 ? kn.num_stages : kernel.kind == KernelKind::kMatmul ? 4 : 2;
  // One @triton.jit function and its launch; `p_out` is the buffer it writes (host name out_host).
  auto assemble = [&](const KernelWriter& wr, const std::string& name,
                      const std::vector<std::pair<std::string, int64_t>>& cs, const std::string& grd,
                      const std::string& what, const std::string& writes, std::string* source, std::string* launch) {
    std::ostringstream src;
    std::string reads, out_host;
    for (const Arg& arg : wr.args_) {
      if (arg.name != "p_out") reads += (reads.empty() ? "" : ", ") + arg.host;
      if (arg.name == "p_out") out_host = arg.host;
    }
    src << "@triton.jit\n";
    src << "def " << name << "(\n";
    src << "    # pointers: inputs and parameters read, then the output\n    ";
    for (const Arg& arg : wr.args_) {
      if (arg.name != "p_out") src << arg.name << ", ";
    }
    src << "p_out,\n";
    src << "    # sizes and tiles (compile-time constants: shapes are static)\n    ";
    for (size_t i = 0; i < cs.size(); ++i) src << cs[i].first << ": tl.constexpr" << (i + 1 < cs.size() ? ", " : ",\n");
    src << "):\n";
    src << "    # fused: " << fused_s << "\n";
    src << "    # reads " << (reads.empty() ? "nothing" : reads) << "; writes " << writes << " once\n";
    src << "    # " << what << "\n";
    src << wr.body_.str();
    // The launch site (module level, made once): grid, constexprs and options are fixed (kLauncherSource).
    src << "\n\n" << name << "_launch = _Launcher(" << name << ", grid=" << grd << ", constexprs=" << ConstexprDict(cs)
        << ", num_warps=" << num_warps << ", num_stages=" << num_stages << ")\n";
    *source += src.str();
    std::ostringstream ln;
    ln << "        " << name << "_launch(";
    for (const Arg& arg : wr.args_) {
      if (arg.name != "p_out") ln << arg.host << ", ";
    }
    ln << out_host << ")\n";
    *launch += ln.str();
  };
  const std::string out_desc = "v" + std::to_string(kernel.root) + " " + ShapeTuple(root_t.shape);
  // The output buffer: Tensor.new_empty on the first argument costs the host less than torch.empty with a
  // device and a dtype to parse (~2 vs ~3.4 us on the H100 host).
  const int32_t nargs = k - static_cast<int32_t>(opt.extra_inputs.size());
  std::string alloc = "torch.empty(" + ShapeTuple(root_t.shape) + ", device=dev, dtype=" + TorchDtype(root_t.dtype) +
                      (walks_memory_order ? ", memory_format=" + MemoryFormat(root_t.shape) : "") + ")";
  if (nargs > 0 && !walks_memory_order) {
    alloc = "v0.new_empty(" + ShapeTuple(root_t.shape) +
            (g.inputs[0].dtype == root_t.dtype ? "" : ", dtype=" + TorchDtype(root_t.dtype)) + ")";
  }
  std::string launch = pre_launch + "        v" + std::to_string(kernel.root) + " = " + alloc + "\n";
  if (stats) {
    assemble(*stats, ek.name + "_stats", constexprs, grid, "each split's mean and squared deviations per row",
             "the partials part" + std::to_string(kernel.root), &ek.source, &launch);
    ek.source += "\n\n";
    assemble(w, ek.name, constexprs, grid, doc, out_desc, &ek.source, &launch);
  } else if (second) {
    assemble(w, ek.name + "_split", constexprs, grid, doc, "the partials part" + std::to_string(kernel.root),
             &ek.source, &launch);
    ek.source += "\n\n";
    assemble(*second, ek.name, second_constexprs, second_grid,
             "combine the partials of each output element, finalize, epilogue", out_desc, &ek.source, &launch);
  } else {
    assemble(w, ek.name, constexprs, grid, doc, out_desc, &ek.source, &launch);
  }
  ek.launch = launch;
  return ek;
}

// ---- host library calls (convolutions under mixed; anything without a lowering under hybrid) ----
std::string RenderTorch(const ir::Graph& g, int32_t v, const TritonOptions& opt) {
  const int32_t k = static_cast<int32_t>(g.inputs.size());
  const ir::Node& n = g.nodes[v - k];
  const ops::OpSpec& spec = ops::Spec(n.op);
  const size_t ni = static_cast<size_t>(v - k);
  std::string self;
  if (!spec.module.empty()) {
    DRT_CHECK(ni < opt.params.size() && opt.params[ni].count("module"), ValueError,
              "node " << ni << " (" << spec.name << ") is a module call but no params[" << ni
                      << "]['module'] binding was given; drtriton.frontend.compile_problem supplies it");
    self = opt.params[ni].at("module");
  }
  std::string out;
  const std::string_view t = spec.torch;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '{') {
      out += t[i];
      continue;
    }
    const size_t j = t.find('}', i);
    const std::string key(t.substr(i + 1, j - i - 1));
    i = j;
    if (key == "self") {
      out += self;
    } else if (!key.empty() && std::isdigit(static_cast<unsigned char>(key[0]))) {
      out += "v" + std::to_string(n.inputs.at(std::stoi(key)));
    } else if (key == "nd") {
      out += std::to_string(std::max(1, g.TypeOf(n.inputs[0]).Rank() - 2));
    } else {
      for (size_t ai = 0; ai < spec.attrs.size(); ++ai) {
        if (spec.attrs[ai].name != key) continue;
        const double val = n.attrs[ai];
        switch (spec.attrs[ai].kind) {
          case ops::AttrKind::kBool: out += val != 0 ? "True" : "False"; break;
          case ops::AttrKind::kEnum: out += std::string(spec.attrs[ai].enum_names[static_cast<size_t>(val)]); break;
          case ops::AttrKind::kFloat: out += FloatLit(val); break;
          default: out += std::to_string(static_cast<int64_t>(val)); break;
        }
      }
    }
  }
  return out;
}

// ---- channels-last convolutions (the conv_channels_last knob) ----
// Which convolutions run channels-last. With TF32 allowed (knob conv_tf32, PyTorch's default for cuDNN) all
// 2-D/3-D ones: cuDNN's NHWC TF32 kernels beat the NCHW path (KernelBench level 2: 25, 60, 61 past
// torch.compile). In full fp32 (conv_tf32 off) only grouped ones, and of the transposed ones only those of
// stride 1: measured on the H100 over the 57 convolution programs of bench/codegen_gpu.py (fp32 convolutions),
// each compiled both ways (2026-11-24), grouped convolutions ran 1.8-7.7x faster channels-last (cuDNN's
// NCHW grouped fp32 kernels are slow), stride-1 grouped transposed ones ~2x, while ungrouped ones ran up to
// 2.4x slower (32 -> 32 channels, 3x3, stride 2) and stride-2 grouped transposed 3-D ones 1.7x slower.
bool IsLayoutConv(const ir::Graph& g, int32_t v, const TritonOptions& opt) {
  const ir::Node& n = g.nodes[v - g.inputs.size()];
  const std::string_view name = ops::Spec(n.op).name;
  const bool transposed = name == "conv_transpose2d" || name == "conv_transpose3d";
  if (name != "conv2d" && name != "conv3d" && !transposed) return false;
  if (opt.knobs.conv_tf32) return true;
  if (AttrOr(n, "groups", 1) <= 1) return false;
  return !transposed || AttrOr(n, "stride", 1) == 1;
}

// Marks which values are stored channels-last: a 2-D/3-D library convolution's output, and the outputs
// of the pointwise kernels that read it at its own shape (they walk and store in memory order, so loads
// and stores stay coalesced), transitively. A convolution stays in PyTorch's default layout when anything
// in that region would read it across the grain: a reduction or normalization over other axes than the
// channels (GroupNorm, spatial means: their rows would be strided in channels-last memory) or a matmul.
// The bias is folded into the readers when every reader of the convolution is a Triton kernel.
void PlanLayouts(const ir::Graph& g, const TritonOptions& opt, FusionPlan& plan) {
  if (!opt.knobs.conv_channels_last || opt.policy == Policy::kStrict) return;
  const int32_t k = static_cast<int32_t>(g.inputs.size());
  std::map<int32_t, size_t> owner;  // value id -> index of the kernel computing it
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    owner[plan.kernels[i].root] = i;
    for (int32_t m : plan.kernels[i].members) owner[m] = i;
  }
  std::map<int32_t, std::set<size_t>> readers;  // value id -> the kernels with a node reading it
  for (size_t j = 0; j < g.nodes.size(); ++j) {
    const auto it = owner.find(k + static_cast<int32_t>(j));
    if (it == owner.end()) continue;
    for (int32_t u : g.nodes[j].inputs) readers[u].insert(it->second);
  }
  std::set<int32_t> host_read;  // read by host code: graph outputs and hybrid host calls
  host_read.insert(g.outputs.begin(), g.outputs.end());
  for (const auto& [j, deps] : opt.host_deps) host_read.insert(deps.begin(), deps.end());
  for (const Kernel& conv : plan.kernels) {
    const int rank = g.TypeOf(conv.root).Rank();
    if (conv.kind != KernelKind::kLibrary || !IsLayoutConv(g, conv.root, opt) || (rank != 4 && rank != 5)) continue;
    bool ok = true, fold = !host_read.count(conv.root);
    std::vector<int32_t> region = {conv.root};
    std::set<int32_t> walkers;  // roots of kernels that would walk in memory order (and store so)
    std::set<int32_t> row_readers;  // roots of reduction/normalization kernels reading it by spatial rows
    for (size_t r = 0; r < region.size() && ok; ++r) {
      const int32_t u = region[r];
      for (size_t ki : readers[u]) {
        const Kernel& kn = plan.kernels[ki];
        if (kn.kind == KernelKind::kLibrary) {
          fold = fold && u != conv.root;
        } else if (kn.kind == KernelKind::kPointwise) {
          if (g.TypeOf(kn.root).shape == g.TypeOf(u).shape && !walkers.count(kn.root)) {
            walkers.insert(kn.root);
            region.push_back(kn.root);
          }
        } else if (kn.kind == KernelKind::kMatmul) {
          ok = false;
        } else {
          // A reduction over the channels alone reads each pixel's channels, which channels-last memory
          // holds together (H100, KernelBench level 2: Conv2d_Min_Tanh_Tanh, a min over 64 channels, 3.6 ms
          // channels-last against 6.3 ms plain). Reductions over all spatial axes (means, global pools,
          // InstanceNorm) and GroupNorm read it with a tile wide in channels and GroupNorm walks each group
          // channel-fastest (EmitKernel: channels_last_rows); a channel softmax, GroupNorm or InstanceNorm
          // whose output has u's shape stores it channels-last and its readers join the region. Other axes
          // (a reduction over the depth alone, a row softmax) would read across the grain, and so would a
          // pool fused in front of a reduction (it reads u's windows scattered: KernelBench L2 65
          // Conv2d_AvgPool_Sigmoid_Sum, 41.8 ms channels-last against 12.1 ms plain): plain layout.
          const ir::Node& a = g.nodes[kn.anchor - k];
          const ir::Shape& ain = g.TypeOf(a.inputs[0]).shape;
          const int arank = static_cast<int>(ain.size());
          const auto range = AnchorReducedRange(g, a, arank);
          const std::string_view aop = ops::Spec(a.op).name;
          // The anchor reads u itself or u with its spatial axes flattened (a mean over dims (2, 3) imports
          // as flatten -> mean): [N, C, S...] over the same elements.
          const ir::Shape& us = g.TypeOf(u).shape;
          const bool cl_input = arank >= 3 && ain[0] == us[0] && ain[1] == us[1] &&
                                g.TypeOf(a.inputs[0]).Numel() == g.TypeOf(u).Numel();
          const bool group = aop == "group_norm" && range == std::pair<int, int>{1, arank - 1};
          const bool spatial = range == std::pair<int, int>{2, arank - 1} && aop != "cosine_similarity";
          const bool channels = range == std::pair<int, int>{1, 1};
          if (cl_input && (channels || group || spatial)) {
            row_readers.insert(kn.root);
            const bool stores_cl = kn.kind == KernelKind::kNormalization && g.TypeOf(kn.root).shape == ain &&
                                   ain == us && (channels || group || aop == "instance_norm");
            if (stores_cl && walkers.insert(kn.root).second) region.push_back(kn.root);
          } else {
            ok = false;
          }
        }
      }
    }
    if (!ok) continue;
    const size_t ni = static_cast<size_t>(conv.root - k);
    plan.channels_last[conv.root] = fold && ni < opt.params.size() && opt.params[ni].count("bias");
    for (int32_t w : walkers) {
      plan.physical_order.insert(w);
      plan.channels_last.emplace(w, false);
    }
    plan.channels_last_rows.insert(row_readers.begin(), row_readers.end());
  }
}

// The convolution as F.conv*d on channels-last input, with or without its bias.
std::string RenderChannelsLastConv(const ir::Graph& g, int32_t v, const TritonOptions& opt, bool fold_bias) {
  const ir::Node& n = g.nodes[v - g.inputs.size()];
  const std::string_view name = ops::Spec(n.op).name;
  const std::string& self = opt.params.at(static_cast<size_t>(v - g.inputs.size())).at("module");
  const std::string x = "_channels_last(v" + std::to_string(n.inputs[0]) + ")";
  const std::string bias = fold_bias ? "None" : self + ".bias";
  // conv_tf32 off: the call goes through the module-level _conv_fp32 (cuDNN's TF32 off around it).
  const std::string call = opt.knobs.conv_tf32 ? "F." + std::string(name) + "(" : "_conv_fp32(F." + std::string(name) + ", ";
  if (name.starts_with("conv_transpose")) {
    return call + x + ", " + self + ".weight, " + bias + ", " + self + ".stride, " + self + ".padding, " + self +
           ".output_padding, " + self + ".groups, " + self + ".dilation)";
  }
  return call + x + ", " + self + ".weight, " + bias + ", " + self + ".stride, " + self + ".padding, " + self +
         ".dilation, " + self + ".groups)";
}

// The convolution's input converted to channels-last memory by a Triton transpose: PyTorch's strided copy
// (`x.contiguous(memory_format=torch.channels_last)`) took 1.13 ms for a 1 GB input on an H100 where
// torch.compile's generated conversion took 0.72 ms (KernelBench L2 4; bench/conv_copy_probe_gpu.py).
constexpr std::string_view kChannelsLastSource = R"PY(
@triton.jit
def _nchw_to_nhwc(p_in, p_out, C: tl.constexpr, S: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_S: tl.constexpr):
    # one [BLOCK_C, BLOCK_S] tile of sample n's [C, S] plane, read along S and written along C
    base = tl.program_id(2).to(tl.int64) * (C * S)
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    offs_s = tl.program_id(0) * BLOCK_S + tl.arange(0, BLOCK_S)
    mask = (offs_c[:, None] < C) & (offs_s[None, :] < S)
    x = tl.load(p_in + base + offs_c[:, None] * S + offs_s[None, :], mask=mask)
    tl.store(p_out + base + offs_s[None, :] * C + offs_c[:, None], x, mask=mask)


def _channels_last(x):
    """x in channels-last memory (a convolution's input): a Triton transpose of each sample's [C, S] plane."""
    fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    if not x.is_contiguous() or x.is_contiguous(memory_format=fmt):
        return x.contiguous(memory_format=fmt)
    out = torch.empty_like(x, memory_format=fmt)
    n, c = x.shape[0], x.shape[1]
    s = x.numel() // (n * c)
    _nchw_to_nhwc[(triton.cdiv(s, 64), triton.cdiv(c, 32), n)](x, out, C=c, S=s, BLOCK_C=32, BLOCK_S=64)
    return out
)PY";

constexpr std::string_view kConvFp32Source = R"PY(
def _conv_fp32(conv, *args):
    """A channels-last convolution in full fp32: cuDNN's TF32 kernels (allowed by PyTorch's default) round
    inputs to 10 mantissa bits; a reference whose NCHW convolution ran in plain fp32 does not."""
    cudnn = torch.backends.cudnn
    with cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark, deterministic=cudnn.deterministic,
                     allow_tf32=False):
        return conv(*args)
)PY";

}  // namespace

Policy ParsePolicy(const std::string& name) {
  if (name == "strict") return Policy::kStrict;
  if (name == "mixed") return Policy::kMixed;
  if (name == "hybrid") return Policy::kHybrid;
  throw ValueError("policy must be strict, mixed or hybrid, got '" + name + "'");
}

std::string EmitTriton(const ir::Graph& graph, const TritonOptions& options) {
  ir::Validate(graph);
  const int32_t k = static_cast<int32_t>(graph.inputs.size());
  DRT_CHECK(options.extra_inputs.size() <= graph.inputs.size(), ValueError,
            "extra_inputs names " << options.extra_inputs.size() << " module tensors but the graph has only "
                                  << k << " inputs; pass at most one per trailing input");
  const int32_t nargs = k - static_cast<int32_t>(options.extra_inputs.size());
  FusionPlan plan = PlanFusion(graph, options, options.dump_after);
  if (!options.dump_after.empty()) return DumpPlan(graph, plan);
  PlanLayouts(graph, options, plan);
  std::string unsupported;
  for (size_t i = 0; i < plan.cls.size(); ++i) {
    if (plan.cls[i] == NodeClass::kUnsupported) {
      unsupported += (unsupported.empty() ? "" : "; ") + std::string("node ") + std::to_string(i) + " (" +
                     std::string(ops::Spec(graph.nodes[i].op).name) + "): " + plan.why[i];
    }
  }
  DRT_CHECK(unsupported.empty(), ValueError, "cannot lower under this policy: " << unsupported);

  std::vector<EmittedKernel> kernels;
  std::ostringstream host;
  std::string triton_ops, torch_ops;
  // Hybrid FX-level split: each host call runs right after the kernel of its last operand (-1: first).
  std::map<int32_t, int32_t> host_after;  // graph input value id -> value id whose kernel precedes it
  for (const auto& [j, deps] : options.host_deps) {
    int32_t after = -1;
    for (int32_t d : deps) after = std::max(after, d >= k ? d : (host_after.count(d) ? host_after[d] : -1));
    host_after[nargs + j] = after;
  }
  auto emit_host_calls = [&](int32_t after) {
    for (const auto& [v, a] : host_after) {
      if (a != after) continue;
      host << "        # PyTorch on the host (no registry operator)\n";
      host << "        v" << v << " = (" << options.extra_inputs[v - nargs] << ").contiguous()\n";
      torch_ops += (torch_ops.empty() ? "" : ", ") + options.extra_inputs[v - nargs];
    }
  };
  emit_host_calls(-1);
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    const Kernel& kernel = plan.kernels[i];
    if (i > 0) emit_host_calls(plan.kernels[i - 1].root);
    if (kernel.kind == KernelKind::kLibrary) {
      host << "        # library call (PyTorch): " << OpName(graph, kernel.root) << "\n";
      if (const auto cl = plan.channels_last.find(kernel.root); cl != plan.channels_last.end()) {
        if (cl->second) host << "        # channels-last in and out; its bias is added by the kernels that read it\n";
        else host << "        # channels-last in and out\n";
        host << "        v" << kernel.root << " = " << RenderChannelsLastConv(graph, kernel.root, options, cl->second)
             << ".contiguous(memory_format=" << MemoryFormat(graph.TypeOf(kernel.root).shape) << ")\n";
      } else {
        host << "        v" << kernel.root << " = (" << RenderTorch(graph, kernel.root, options) << ").contiguous()\n";
      }
      torch_ops += (torch_ops.empty() ? "" : ", ") + OpName(graph, kernel.root);
      continue;
    }
    EmittedKernel ek = EmitKernel(graph, plan, options, kernel, i);
    host << "        # " << ek.name << ": " << ek.summary << "\n" << ek.launch;
    triton_ops += (triton_ops.empty() ? "" : "; ") + ek.name + " [" + ek.summary + "]";
    kernels.push_back(std::move(ek));
  }
  if (!plan.kernels.empty()) emit_host_calls(plan.kernels.back().root);

  std::ostringstream os;
  const char* policy = options.policy == Policy::kStrict ? "strict" : options.policy == Policy::kMixed ? "mixed" : "hybrid";
  os << "# Generated by drtriton (rule-based Triton code generator); policy: " << policy << "\n";
  os << "# Triton kernels: " << (triton_ops.empty() ? "none" : triton_ops) << "\n";
  os << "# PyTorch library calls: " << (torch_ops.empty() ? "none" : torch_ops) << "\n";
  os << "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nimport triton\n"
        "import triton.language as tl\n\n";
  if (!options.preamble.empty()) os << options.preamble << "\n";
  if (std::any_of(kernels.begin(), kernels.end(), [](const EmittedKernel& ek) { return ek.uses_mul_combine; })) {
    os << "\n@triton.jit\ndef _mul_combine(a, b):\n    # tl.reduce combine: products (Triton has sum/max/min built in, not prod)\n"
          "    return a * b\n";
  }
  if (!kernels.empty()) os << kLauncherSource;
  if (!plan.channels_last.empty()) os << kChannelsLastSource;
  if (!options.knobs.conv_tf32 && !plan.channels_last.empty()) os << kConvFp32Source;
  for (const EmittedKernel& ek : kernels) os << "\n" << ek.source << "\n";
  os << "\nclass ModelNew(nn.Module):\n";
  if (options.init_source.empty()) {
    os << "    def __init__(self, *args, **kwargs):\n        super().__init__()\n";
  } else {
    os << options.init_source;
    if (options.init_source.back() != '\n') os << "\n";
  }
  os << "\n    def forward(self";
  for (int32_t i = 0; i < nargs; ++i) os << ", v" << i;
  os << "):\n";
  // Kernels index inputs as contiguous row-major buffers.
  for (int32_t i = 0; i < nargs; ++i) os << "        v" << i << " = v" << i << ".contiguous()\n";
  os << "        dev = " << (nargs > 0 ? "v0.device" : "torch.device('cuda' if torch.cuda.is_available() else 'cpu')")
     << "\n";
  os << host.str();
  os << "        return ";
  for (size_t i = 0; i < graph.outputs.size(); ++i) {
    const int32_t v = graph.outputs[i];
    if (host_after.count(v)) {
      os << (i ? ", " : "") << "v" << v;  // a fresh tensor made by the host call
    } else if (v >= nargs && v < k) {
      os << (i ? ", " : "") << options.extra_inputs[v - nargs] << ".clone()";
    } else {
      os << (i ? ", " : "") << "v" << v << (v < k ? ".clone()" : "");
    }
  }
  os << "\n";
  return os.str();
}

std::string TritonPlanJson(const ir::Graph& graph, const TritonOptions& options) {
  ir::Validate(graph);
  const int32_t k = static_cast<int32_t>(graph.inputs.size());
  const FusionPlan plan = PlanFusion(graph, options);
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    return q + "\"";
  };
  std::ostringstream os;
  os << "{\"kernels\": [";
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    const Kernel& kn = plan.kernels[i];
    os << (i ? ", " : "") << "{\"kind\": " << quote(std::string(KernelKindName(kn.kind)))
       << ", \"root\": " << kn.root << ", \"anchor\": " << kn.anchor << ", \"ops\": [";
    for (size_t j = 0; j < kn.members.size(); ++j) {
      os << (j ? ", " : "") << quote(std::string(ops::Spec(graph.nodes[kn.members[j] - k].op).name));
    }
    os << "]}";
  }
  os << "], \"unsupported\": [";
  bool first = true;
  for (size_t i = 0; i < plan.cls.size(); ++i) {
    if (plan.cls[i] != NodeClass::kUnsupported) continue;
    os << (first ? "" : ", ") << "{\"node\": " << i << ", \"op\": "
       << quote(std::string(ops::Spec(graph.nodes[i].op).name)) << ", \"why\": " << quote(plan.why[i]) << "}";
    first = false;
  }
  os << "]}";
  return os.str();
}

}  // namespace drtriton::emit
