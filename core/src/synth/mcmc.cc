// Levels above 7: a Metropolis chain over the superset's points whose stationary distribution is
// uniform over valid programs (docs/SYNTH.md, "Levels above 7"). A point is the tape of decisions of
// one walk; every move below proposes y from x with the same probability as x from y (symmetric
// proposals), so accepting exactly the valid, canonical y leaves the uniform distribution invariant.
// The chain starts from one of a pool of valid points, each found once per sampler by a greedy search
// (more good nodes is better) seeded by its pool index, so a draw depends only on (config, seed).
#include "support/check.h"
#include "synth/csp.h"
#include "synth/no_fp_contract.h"

namespace drtriton::synth {

namespace {

// A search for a valid start that has not found one in this many walks begins again from a fresh
// walk (a greedy search can stall on a plateau of equally good invalid points).
constexpr uint64_t kSearchPatience = 16000;
// The search also accepts a point one good node worse with this probability (it leaves plateaus
// where no single move helps: two branches of mismatched shapes meeting at one binary node).
constexpr double kStepDown = 0.2;
// Share of search moves that are FixMoves (the rest are chain moves).
constexpr double kFixShare = 0.75;
// Starts per sampler, and the base seed of their searches.
constexpr uint64_t kStartPool = 16;
constexpr uint64_t kStartSeed = 0x636861696E737461ULL;
// Above every SearchScore (at most 2 x the node count).
constexpr int kValidScore = 1 << 20;

}  // namespace

// ---- the tape ----

void TapeChooser::Start(Rng& rng, size_t replay) {
  DRT_ICHECK(replay <= tape.size());
  tape.resize(replay);
  rng_ = &rng;
  replay_ = replay;
  pos_ = 0;
  steps.clear();
  op_sites.clear();
  shape_sites.clear();
}

int TapeChooser::Weighted(const double* weights, int n) {
  if (pos_ < replay_) {
    const Decision& d = tape[pos_++];
    DRT_ICHECK(d.branches == static_cast<uint64_t>(n) && weights[d.value] > 0);
    return static_cast<int>(d.value);
  }
  RngChooser fresh(*rng_);
  const int i = fresh.Weighted(weights, n);
  tape.push_back({static_cast<uint64_t>(i), static_cast<uint64_t>(n)});
  ++pos_;
  return i;
}

uint64_t TapeChooser::Uniform(uint64_t n) {
  if (pos_ < replay_) {
    const Decision& d = tape[pos_++];
    DRT_ICHECK(d.branches == n && d.value < n);
    return d.value;
  }
  const uint64_t v = rng_->Below(n);
  tape.push_back({v, n});
  ++pos_;
  return v;
}

void TapeChooser::Mark(Site site) {
  switch (site) {
    case Site::kStep:
      steps.push_back(static_cast<uint32_t>(pos_));
      op_sites.push_back(-1);
      break;
    case Site::kOpInGroup:
      op_sites.back() = static_cast<int32_t>(pos_);
      break;
    case Site::kInputShape:
      shape_sites.push_back(static_cast<uint32_t>(pos_));
      break;
  }
}

// ---- the chain ----

int SamplerImpl::GoodNodes(ir::Graph& graph) const {
  const int k = static_cast<int>(graph.inputs.size());
  const int n = static_cast<int>(graph.nodes.size());
  std::vector<ops::Range>& range = scratch_ranges_;
  range.assign(k + n, ops::Range::kAny);
  std::vector<int>& good = scratch_fanout_;  // 1 when the value is a graph input or a good node
  good.assign(k + n, 0);
  std::fill(good.begin(), good.begin() + k, 1);
  std::vector<ir::TensorType>& args = scratch_args_;
  std::array<ops::Range, ops::kMaxArity> arg_ranges{};
  int count = 0;
  frontier_.clear();
  for (int i = 0; i < n; ++i) {
    ir::Node& node = graph.nodes[i];
    const int arity = static_cast<int>(node.inputs.size());
    bool ok = true;
    for (int a = 0; a < arity; ++a) ok = ok && good[node.inputs[a]];
    if (!ok) continue;
    frontier_.push_back(i);  // popped below when the node turns out good
    args.resize(arity);
    for (int a = 0; a < arity; ++a) args[a] = graph.TypeOf(node.inputs[a]);
    auto out = ops::InferOutput(node.op, args, node.attrs);
    if (!out || out->Rank() > kMaxRank) continue;
    node.type = std::move(*out);
    for (int a = 0; a < arity; ++a) {
      arg_ranges[a] = range[node.inputs[a]];
      ok = ok && ops::Within(arg_ranges[a], ops::InputDomain(node.op, a, node.attrs));
    }
    if (!ok) continue;
    if (arity == 2 && node.inputs[0] == node.inputs[1] && DegenerateOnOneValue(node.op)) continue;
    range[k + i] = ops::OutputRange(node.op, std::span(arg_ranges.data(), arity), node.attrs);
    good[k + i] = 1;
    frontier_.pop_back();
    ++count;
  }
  return count;
}

// Proposes a move from chain_cur_ into chain_trial_'s tape (not yet walked). False: the move is a
// self-loop (the chain stays; nothing to evaluate). Each kind is symmetric: see the file comment and
// docs/SYNTH.md for the argument.
bool SamplerImpl::ChainMove(Rng& rng) {
  const TapeChooser& cur = chain_cur_;
  TapeChooser& trial = chain_trial_;
  const auto slots = static_cast<uint64_t>(config_.max_nodes);
  switch (rng.Below(3)) {
    case 0: {  // redraw everything from materialization step j on, given the decisions before it
      const uint64_t j = rng.Below(slots);
      if (j >= cur.steps.size()) return false;
      trial.tape.assign(cur.tape.begin(), cur.tape.begin() + cur.steps[j]);
      trial.Start(rng, trial.tape.size());
      return true;
    }
    case 1: {  // step j's (op, attrs): uniform inside its group (same group size both ways)
      const uint64_t j = rng.Below(slots);
      if (j >= cur.steps.size() || cur.op_sites[j] < 0) return false;
      const auto& d = cur.tape[static_cast<size_t>(cur.op_sites[j])];
      const uint64_t v = rng.Below(d.branches);
      if (v == d.value) return false;
      trial.tape = cur.tape;
      trial.tape[static_cast<size_t>(cur.op_sites[j])].value = v;
      trial.Start(rng, trial.tape.size());
      return true;
    }
    default: {  // one input's shape: uniform inside its rank's menu
      if (cur.shape_sites.empty()) return false;
      const uint32_t at = cur.shape_sites[rng.Below(cur.shape_sites.size())];
      const uint64_t v = rng.Below(cur.tape[at].branches);
      if (v == cur.tape[at].value) return false;
      trial.tape = cur.tape;
      trial.tape[at].value = v;
      trial.Start(rng, trial.tape.size());
      return true;
    }
  }
}

// A search move (not symmetric; the search only looks for a start): take a node that fails while
// its inputs are good (frontier_ of the current point) and draw anew, inside its group or menu, the
// (op, attrs) of the node itself or of one argument's producer, or one graph input's shape.
bool SamplerImpl::FixMove(Rng& rng) {
  if (frontier_cur_.empty()) return false;
  const TapeChooser& cur = chain_cur_;
  const int n = static_cast<int>(cur.steps.size());
  const int k = static_cast<int>(chain_graph_.inputs.size());
  int node = frontier_cur_[rng.Below(frontier_cur_.size())];
  size_t at = 0;
  if (rng.Below(2) == 1) {  // one argument instead
    const auto& args = chain_graph_.nodes[node].inputs;
    const int32_t v = args[rng.Below(args.size())];
    if (v < k) {
      at = cur.shape_sites[v];  // graph inputs are numbered by first use, as their shape sites
    } else {
      node = v - k;
    }
  }
  if (at == 0) {
    const int step = n - 1 - node;  // graph node i is materialization step n-1-i
    if (cur.op_sites[step] < 0) return false;
    at = static_cast<size_t>(cur.op_sites[step]);
  }
  const uint64_t v = rng.Below(cur.tape[at].branches);
  if (v == cur.tape[at].value) return false;
  chain_trial_.tape = cur.tape;
  chain_trial_.tape[at].value = v;
  chain_trial_.Start(rng, chain_trial_.tape.size());
  return true;
}

std::optional<Reject> SamplerImpl::EvalTrial(int stratum) {
  WalkInto(chain_trial_, stratum, proto_);
  BuildInto(proto_, graph_);
  ++stats.proposals;
  auto reason = Check(graph_);
  if (reason) ++stats.rejected[static_cast<int>(*reason)];
  return reason;
}

// The search's score of an invalid point: its good nodes; when every node is good, the node count
// plus the nodes that are not commutative with two distinct operands (a point with none of those is
// canonical, so fewer of them is closer to a valid point).
int SamplerImpl::SearchScore(ir::Graph& graph, Reject reason) const {
  const int n = static_cast<int>(graph.nodes.size());
  if (reason != Reject::kNonCanonical) return GoodNodes(graph);
  int score = n;
  for (const ir::Node& node : graph.nodes) {
    score += !(ops::Spec(node.op).commutative && node.inputs[0] != node.inputs[1]);
  }
  return score;
}

std::optional<ir::Graph> SamplerImpl::DrawChain(Rng& rng, int stratum, uint64_t max_proposals) {
  DRT_ICHECK(config_.mcmc_steps > 0);
  DRT_CHECK(stratum < 0, ValueError,
            "levels above 7 draw by a Markov chain and have no coverage strata; pass stratum -1");
  // The chain starts from one of kStartPool valid points, each found once per sampler by a search
  // seeded by its index alone: a draw depends only on the config and its seed, whatever was drawn
  // before.
  const uint64_t slot = rng.Below(kStartPool);
  if (start_pool_.empty()) start_pool_.resize(kStartPool);
  if (!start_pool_[slot]) {
    Rng search_rng(StreamSeed(kStartSeed, slot));
    if (!SearchStart(search_rng, max_proposals)) return std::nullopt;
    start_pool_[slot].emplace(chain_cur_, chain_graph_);
  }
  chain_cur_ = start_pool_[slot]->first;
  chain_graph_ = start_pool_[slot]->second;
  RunChain(rng, config_.mcmc_steps);
  ++stats.accepted;
  return chain_graph_;
}

// The chain proper from chain_cur_: accept exactly the valid, canonical proposals.
void SamplerImpl::RunChain(Rng& rng, int steps) {
  for (int step = 0; step < steps; ++step) {
    if (!ChainMove(rng)) continue;
    if (EvalTrial(-1)) continue;
    std::swap(chain_cur_, chain_trial_);
    chain_graph_ = graph_;
    ++stats.chain_moves;
  }
}

bool SamplerImpl::SearchStart(Rng& rng, uint64_t max_proposals) {
  const int stratum = -1;
  // Search: greedy on the number of good nodes (ties move), restarting after kSearchPatience walks.
  uint64_t spent = 0;
  bool valid = false;
  int score = -1;
  uint64_t since_start = kSearchPatience;
  while (!valid) {
    if (spent >= max_proposals) return false;
    if (since_start >= kSearchPatience) {  // a fresh walk from the superset
      if (score >= 0) ++stats.chain_restarts;
      chain_trial_.Start(rng, 0);
      since_start = 0;
    } else if (!(rng.Unit() < kFixShare ? FixMove(rng) : ChainMove(rng))) {
      continue;
    }
    ++spent;
    ++since_start;
    const auto reason = EvalTrial(stratum);
    frontier_.clear();
    const int trial_score = reason ? SearchScore(graph_, *reason) : kValidScore;
    if (since_start == 1 || trial_score >= score ||
        (trial_score + 1 == score && rng.Unit() < kStepDown)) {
      std::swap(chain_cur_, chain_trial_);
      frontier_cur_ = frontier_;
      chain_graph_ = graph_;
      score = trial_score;
      valid = !reason;
    }
  }
  return true;
}

}  // namespace drtriton::synth
