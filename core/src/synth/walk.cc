// The walk: one proposal drawn through the counting DP (csp.cc) by a Chooser, with early rejection
// (each node typed as soon as its arguments are; the walk stops at the first failing shape rule)
// and the walk cache (the DP states a walk visits, linked by its transitions). docs/SYNTH.md
// explains both.
#include <algorithm>
#include <utility>

#include "support/check.h"
#include "synth/csp.h"
#include "synth/no_fp_contract.h"

namespace drtriton::synth {

Proto SamplerImpl::Walk(Chooser& chooser, int stratum) {
  Proto proto;
  WalkInto(chooser, stratum, proto);
  return proto;
}

// ---- the walk cache ----

void SamplerImpl::ClearWalkCache() {
  step_nodes_.clear();
  step_weights_.clear();
  step_cumulative_.clear();
  step_groups_.clear();
  step_children_.clear();
  slot_nodes_.clear();
  step_index_.Clear();
  slot_index_.Clear();
  root_step_ = {kUnresolved, 0};
}

int32_t SamplerImpl::StepNodeOf(const DpState& st, int r, int tag) {
  const Key key = MakeKey(3, nullptr, st, tag);
  if (const int32_t* id = step_index_.Find(key)) return *id;
  const auto [offset, len] = Picks(st, r, tag);
  DRT_ICHECK(len > 0);
  const auto id = static_cast<int32_t>(step_nodes_.size());
  step_nodes_.push_back({static_cast<uint32_t>(step_weights_.size()), len});
  for (uint32_t i = offset; i < offset + len; ++i) {  // copies: pick_cache_ may be cleared later
    step_weights_.push_back(pick_weights_[i]);
    step_cumulative_.push_back(pick_cumulative_[i]);
    step_groups_.push_back(pick_groups_[i]);
    step_children_.push_back(kUnresolved);
  }
  step_index_.Insert(key, id);
  return id;
}

int32_t SamplerImpl::SlotNodeOf(int s, const int8_t* slots, const DpState& st, int tag) {
  const Key key = MakeKey(s, slots, st, tag);
  if (const int32_t* id = slot_index_.Find(key)) return *id;
  const SynthConfig& cfg = config_;
  const int t = slots[0];
  const int rest = s - 1;
  const int8_t* rest_slots = slots + 1;
  // The terms of G(s, slots, st) in G's order: new-closed, new-open, keep, close, old input, new
  // input.
  SlotNode node;
  DpState next = st;
  if (CanCreate(st)) {
    ++next.c;
    ++next.ready[t];
    node.w[0] = G(rest, rest_slots, next, tag);
    --next.ready[t];
    ++next.open[t];
    node.w[1] = G(rest, rest_slots, next, tag);
    next = st;
  }
  if (st.open[t] > 0) {
    const double o = st.open[t];
    node.w[2] = o * G(rest, rest_slots, st, tag);
    --next.open[t];
    ++next.ready[t];
    node.w[3] = o * G(rest, rest_slots, next, tag);
    next = st;
  }
  if (st.inputs[t] > 0) node.w[4] = st.inputs[t] * G(rest, rest_slots, st, tag);
  if (st.u < cfg.max_inputs && !menu_of_rank_[t].empty()) {
    ++next.inputs[t];
    ++next.u;
    node.w[5] = static_cast<double>(menu_of_rank_[t].size()) * G(rest, rest_slots, next, tag);
  }
  const auto id = static_cast<int32_t>(slot_nodes_.size());
  slot_nodes_.push_back(node);
  slot_index_.Insert(key, id);
  return id;
}

// ---- the walk ----

bool SamplerImpl::WalkInto(Chooser& chooser, int stratum, Proto& proto, bool early) {
  const int tag = stratum + 1;
  DRT_ICHECK(stratum < 0 || (strata_ready_ && stratum < static_cast<int>(strata_.size())));
  WalkTypes& types = walk_types_;
  if (early) {
    types.edges = 0;
    types.first_edge.fill(-1);
    types.pending.fill(0);
  }
  // Bound the cache's memory (only here: a walk holds node ids).
  if (slot_nodes_.size() + step_weights_.size() > kMaxWalkCache) ClearWalkCache();
  proto.Clear();
  proto.nodes.emplace_back();
  proto.nodes[0].cls = kSinkClass;
  std::array<int, kMaxNodes> ready{}, open{};  // creation ids, in push order
  int n_ready = 1, n_open = 0;
  std::array<int8_t, kMaxInputs> input_rank{};
  DpState st;
  st.ready[kSinkClass] = 1;
  st.c = 1;
  // The walk cache node of the current state; the first one is kept for the last stratum tag.
  if (root_step_.first == kUnresolved || root_step_.second != tag) {
    root_step_ = {StepNodeOf(st, kSinkClass, tag), tag};
  }
  int32_t step = root_step_.first;
  while (n_ready > 0) {
    int r = 0;
    while (st.ready[r] == 0) ++r;
    int pos = 0;
    while (proto.nodes[ready[pos]].cls != r) ++pos;
    const int v = ready[pos];
    chooser.Mark(Site::kStep);
    std::copy(ready.begin() + pos + 1, ready.begin() + n_ready, ready.begin() + pos);
    --n_ready;
    const int m = st.m;
    const StepNode sn = step_nodes_[step];
    --st.ready[r];
    ++st.m;
    proto.order.push_back(v);
    const int pick =
        chooser.WeightedPositive(step_weights_.data() + sn.first,
                                 step_cumulative_.data() + sn.first, static_cast<int>(sn.len));
    const Group& g = groups_[r][step_groups_[sn.first + pick]];
    st.h += g.heavy;
    st.d += g.reduce;
    int32_t slot_node = step_children_[sn.first + pick];
    if (slot_node == kUnresolved) {
      slot_node = SlotNodeOf(g.arity, g.in.data(), st, tag);
      step_children_[sn.first + pick] = slot_node;
    }
    // (op, attrs) uniform inside the group: every member has the same completions.
    const Choice* choice = nullptr;
    if (const int forced = ForcedOp(m, tag); forced < 0) {
      chooser.Mark(Site::kOpInGroup);
      choice = &choices_[g.first + chooser.Uniform(g.count)];
    } else {
      const Choice* begin = choices_.data() + g.first;
      const Choice probe{static_cast<ops::OpId>(forced), 0};
      const Choice* lo =
          std::lower_bound(begin, begin + g.count, probe,
                           [](const Choice& a, const Choice& b) { return a.op < b.op; });
      choice = lo + chooser.Uniform(static_cast<uint64_t>(Allowed(g, m, tag)));
    }
    ProtoNode node;
    node.op = choice->op;
    node.attrs = std::span<const double>(attr_pool_.data() + choice->attrs,
                                         ops::Spec(choice->op).attrs.size());
    node.arity = g.arity;
    node.cls = r;
    int last_pick = 0;  // the choice in the node's last slot: its link leads to the next step
    for (int slot = 0; slot < g.arity; ++slot) {
      const int t = g.in[slot];
      Ref ref;
      // The k-th open value of class t (open values are kept in opening order).
      auto open_of_class = [&](uint64_t k) {
        for (int i = 0; i < n_open; ++i) {
          if (proto.nodes[open[i]].cls == t && k-- == 0) return i;
        }
        DRT_ICHECK(false);
        return -1;
      };
      const int pick = chooser.Weighted(slot_nodes_[slot_node].w.data(), 6);
      switch (pick) {
        case 0:    // new node, closed at once: it is ready
        case 1: {  // new node, open: it takes more references
          ref = {false, st.c++};
          proto.nodes.emplace_back();
          proto.nodes.back().cls = t;
          if (pick == 0) {
            ready[n_ready++] = ref.id;
            ++st.ready[t];
          } else {
            open[n_open++] = ref.id;
            ++st.open[t];
          }
          break;
        }
        case 2:  // open value, keep open
          ref = {false, open[open_of_class(chooser.Uniform(st.open[t]))]};
          break;
        case 3: {  // open value, close
          const int i = open_of_class(chooser.Uniform(st.open[t]));
          ref = {false, open[i]};
          std::copy(open.begin() + i + 1, open.begin() + n_open, open.begin() + i);
          --n_open;
          --st.open[t];
          ++st.ready[t];
          ready[n_ready++] = ref.id;
          break;
        }
        case 4: {  // graph input already used: the k-th of rank t
          uint64_t k = chooser.Uniform(st.inputs[t]);
          int i = 0;
          while (input_rank[i] != t || k-- > 0) ++i;
          ref = {true, i};
          break;
        }
        default:  // new graph input of rank t
          ref = {true, st.u};
          input_rank[st.u++] = static_cast<int8_t>(t);
          ++st.inputs[t];
          chooser.Mark(Site::kInputShape);
          proto.input_shapes.push_back(menu_of_rank_[t][chooser.Uniform(menu_of_rank_[t].size())]);
          break;
      }
      node.args[slot] = ref;
      if (early && !ref.is_input) {  // v waits for this producer's type
        ++types.pending[v];
        types.edge_to[types.edges] = static_cast<int8_t>(v);
        types.edge_next[types.edges] = types.first_edge[ref.id];
        types.first_edge[ref.id] = static_cast<int8_t>(types.edges++);
      }
      if (slot + 1 < g.arity) {
        int32_t next = slot_nodes_[slot_node].child[pick];
        if (next == kUnresolved) {
          next = SlotNodeOf(g.arity - slot - 1, g.in.data() + slot + 1, st, tag);
          slot_nodes_[slot_node].child[pick] = next;
        }
        slot_node = next;
      } else {
        last_pick = pick;
      }
    }
    proto.nodes[v] = node;
    if (early && types.pending[v] == 0 && !TypeUpward(proto, v)) return false;
    if (n_ready > 0) {
      step = slot_nodes_[slot_node].child[last_pick];
      if (step == kUnresolved) {
        int next_r = 0;
        while (st.ready[next_r] == 0) ++next_r;
        step = StepNodeOf(st, next_r, tag);
        slot_nodes_[slot_node].child[last_pick] = step;
      }
    }
  }
  DRT_ICHECK(n_open == 0 && st.c == st.m);
  return true;
}

std::optional<ir::TensorType> SamplerImpl::InferNode(const ProtoNode& node,
                                                     std::span<const ir::TensorType> args) const {
  // ExtentsClash first: InferOutput formats a message on failure, and most proposals fail here.
  if (ExtentsClash(node.op, node.attrs, args)) return std::nullopt;
  auto out = ops::InferOutput(node.op, args, node.attrs);
  if (!out || out->Rank() > kMaxRank) return std::nullopt;
  return out;
}

bool SamplerImpl::TypeUpward(const Proto& proto, int v) {
  WalkTypes& types = walk_types_;
  std::array<int, kMaxNodes> stack;
  int top = 0;
  stack[top++] = v;
  std::vector<ir::TensorType>& args = scratch_args_;
  while (top > 0) {
    const int u = stack[--top];
    const ProtoNode& node = proto.nodes[u];
    bool leaf = true;
    for (int a = 0; a < node.arity; ++a) leaf &= node.args[a].is_input;
    if (leaf) {
      // (op, attrs) by its place in attr_pool_ (ops without attrs may share a place, hence the op).
      const auto attrs = static_cast<uint64_t>(node.attrs.data() - attr_pool_.data());
      const Key key{
          static_cast<uint64_t>(node.op) << 32 | attrs,
          1 + static_cast<uint64_t>(proto.input_shapes[node.args[0].id]),
          node.arity > 1 ? 1 + static_cast<uint64_t>(proto.input_shapes[node.args[1].id]) : 0};
      const int32_t* known = leaf_type_index_.Find(key);
      int32_t id = known ? *known : kNoType;
      if (!known) {
        args.resize(node.arity);
        for (int a = 0; a < node.arity; ++a)
          args[a] = menu_types_[proto.input_shapes[node.args[a].id]];
        if (auto out = InferNode(node, args)) {
          id = static_cast<int32_t>(leaf_types_.size());
          leaf_types_.push_back(std::move(*out));
        }
        leaf_type_index_.Insert(key, id);
      }
      if (id == kNoType) return false;
      types.type[u] = leaf_types_[id];
    } else {
      args.resize(node.arity);
      for (int a = 0; a < node.arity; ++a) {
        const Ref& ref = node.args[a];
        args[a] = ref.is_input ? menu_types_[proto.input_shapes[ref.id]] : types.type[ref.id];
      }
      auto out = InferNode(node, args);
      if (!out) return false;
      types.type[u] = std::move(*out);
    }
    for (int e = types.first_edge[u]; e >= 0; e = types.edge_next[e]) {
      const int consumer = types.edge_to[e];
      if (--types.pending[consumer] == 0) stack[top++] = consumer;
    }
  }
  return true;
}

}  // namespace drtriton::synth
