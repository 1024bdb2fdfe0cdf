// C++ throughput tool for the synthesizer: draws N programs of one level on one core and prints
// programs/s, the acceptance rate and the rejection reasons (emission of the graph JSON included
// with --emit, so the number compares with the Python API's). Every proposal has its own stream
// (StreamSeed(seed, attempt)), so accepted programs are exactly uniform over the level's valid
// programs (the strict-uniform stream; coverage seeding is a property of datasets, not measured here).
//   build/synth/core/drtriton_synth --level 5 --n 20000 --seed 0 [--scale small|realistic] [--emit]
//                                   [--seconds 30]   (stop early; programs/s is then accepted/seconds)
//                                   [--digest]  (FNV-1a of every emitted byte: same seed, same bytes)
// programs_per_cpu_s divides by this process's CPU time: on a shared machine wall time also counts
// the waits for a core, so it is the steadier figure there (report both, with the load).
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <time.h>

#include "drtriton/error.h"
#include "drtriton/synth.h"
#include "synth/rng.h"

namespace {

// Numbers as std::to_chars writes them: no locale, no allocation. Integers exactly as std::to_string;
// doubles with precision 17 in the general format, which is printf's %.17g.
void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}
void AppendDouble(std::string& out, double v) {
  char buf[40];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 17).ptr);
}

// Compact IR JSON (the docs/ARCHITECTURE.md exchange format), written by hand to stay dependency-free.
size_t EmitJson(const drtriton::ir::Graph& g, std::string& out) {
  out.clear();
  out += "{\"inputs\":[";
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    out += i ? ",{\"shape\":[" : "{\"shape\":[";
    for (size_t d = 0; d < g.inputs[i].shape.size(); ++d) {
      if (d) out += ',';
      AppendInt(out, g.inputs[i].shape[d]);
    }
    out += "],\"dtype\":\"float32\"}";
  }
  out += "],\"nodes\":[";
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& node = g.nodes[i];
    const auto& spec = drtriton::ops::Spec(node.op);
    out += i ? ",{\"op\":\"" : "{\"op\":\"";
    out += spec.name;
    out += "\",\"inputs\":[";
    for (size_t a = 0; a < node.inputs.size(); ++a) {
      if (a) out += ',';
      AppendInt(out, node.inputs[a]);
    }
    out += "],\"attrs\":{";
    for (size_t a = 0; a < node.attrs.size(); ++a) {
      out += a ? ",\"" : "\"";
      out += spec.attrs[a].name;
      out += "\":";
      AppendDouble(out, node.attrs[a]);
    }
    out += "}}";
  }
  out += "],\"outputs\":[";
  AppendInt(out, g.outputs[0]);
  out += "]}";
  return out.size();
}

// CPU time of this process: on a shared, loaded machine wall time also counts the waits for a core.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// FNV-1a, 64 bits: a fingerprint of the emitted stream, to check that a speed-up draws the same bytes.
uint64_t Fnv1a(uint64_t h, const std::string& bytes) {
  for (unsigned char ch : bytes) h = (h ^ ch) * 0x100000001B3ULL;
  return h;
}

int Usage(const char* why) {
  std::fprintf(stderr, "drtriton_synth: error: %s\n"
               "usage: drtriton_synth --level L --n N [--seed S] [--scale small|realistic] [--emit]\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int level = 5;
  long long n = 10000;
  unsigned long long seed = 0;
  bool emit = false;
  bool digest = false;
  double max_seconds = 1e30;
  auto scale = drtriton::synth::ShapeScale::kSmall;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--emit") { emit = true; continue; }
    if (arg == "--digest") { emit = digest = true; continue; }
    if (!(v = value())) return Usage(("missing value after " + arg).c_str());
    if (arg == "--level") level = std::atoi(v);
    else if (arg == "--n") n = std::atoll(v);
    else if (arg == "--seed") seed = std::strtoull(v, nullptr, 10);
    else if (arg == "--seconds") max_seconds = std::atof(v);
    else if (arg == "--scale") {
      if (std::strcmp(v, "small") == 0) scale = drtriton::synth::ShapeScale::kSmall;
      else if (std::strcmp(v, "realistic") == 0) scale = drtriton::synth::ShapeScale::kRealistic;
      else return Usage("--scale must be small or realistic");
    } else return Usage(("unknown flag " + arg).c_str());
  }
  if (n <= 0) return Usage("--n must be positive");
  try {
    // Building the counting DP is start-up, reported apart from the drawing rate.
    const auto built = std::chrono::steady_clock::now();
    drtriton::synth::Sampler sampler(drtriton::synth::LevelConfig(level, scale));
    const double startup =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - built).count();
    std::string json;
    size_t bytes = 0;
    uint64_t fingerprint = 0xCBF29CE484222325ULL;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = CpuSeconds();
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    long long drawn = 0;
    // Each proposal has its own stream; accepted ones are uniform, exactly as Sampler::Draw's.
    // Chain levels (mcmc_steps > 0): each program is one Draw (a chain) of its own stream.
    const bool chain = sampler.config().mcmc_steps > 0;
    for (uint64_t attempt = 0; drawn < n; ++attempt) {
      if ((chain || (attempt & 255) == 0) && elapsed() > max_seconds) break;
      const uint64_t stream = drtriton::synth::StreamSeed(seed, attempt);
      auto graph = chain ? std::optional(sampler.Draw(stream)) : sampler.Propose(stream);
      if (!graph) continue;
      ++drawn;
      if (emit) bytes += EmitJson(*graph, json);
      if (digest) fingerprint = Fnv1a(fingerprint, json);
    }
    const double secs = elapsed();
    const double cpu_secs = CpuSeconds() - cpu_start;
    n = drawn;
    const auto& st = sampler.stats();
    std::printf("{\"level\": %d, \"n\": %lld, \"startup_seconds\": %.4f, \"rank_classes\": %s, "
                "\"mcmc_steps\": %d, \"chain_moves\": %llu, \"seconds\": %.4f, \"programs_per_s\": %.1f, "
                "\"cpu_seconds\": %.4f, \"programs_per_cpu_s\": %.1f, "
                "\"proposals\": %llu, \"acceptance\": %.6f, \"emit\": %s, \"emitted_bytes\": %zu, "
                "\"rejected\": {",
                level, n, startup, sampler.config().rank_classes ? "true" : "false",
                sampler.config().mcmc_steps, static_cast<unsigned long long>(st.chain_moves), secs, n / secs, cpu_secs,
                cpu_secs > 0 ? n / cpu_secs : 0.0, static_cast<unsigned long long>(st.proposals),
                st.proposals ? static_cast<double>(st.accepted) / st.proposals : 0.0, emit ? "true" : "false", bytes);
    for (int r = 0; r < static_cast<int>(drtriton::synth::Reject::kCount); ++r) {
      std::printf("%s\"%s\": %llu", r ? ", " : "",
                  std::string(drtriton::synth::RejectName(static_cast<drtriton::synth::Reject>(r))).c_str(),
                  static_cast<unsigned long long>(st.rejected[r]));
    }
    std::printf("}");
    if (digest) std::printf(", \"digest\": \"%016llx\"", static_cast<unsigned long long>(fingerprint));
    std::printf("}\n");
  } catch (const drtriton::Error& e) {
    std::fprintf(stderr, "drtriton_synth: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
