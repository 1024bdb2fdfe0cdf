// NB_MODULE(_core): declarations only. Each area binds itself in its own bind_<area>.cc, no logic here.
#include <nanobind/nanobind.h>

namespace nb = nanobind;

namespace drtriton::bindings {
void BindErrors(nb::module_& m);
void BindOps(nb::module_& m);
void BindIr(nb::module_& m);
void BindEmitTriton(nb::module_& m);
void BindSynth(nb::module_& m);
}  // namespace drtriton::bindings

NB_MODULE(_core, m) {
  m.doc() = "drtriton C++ engine: operator registry, graph IR, synthesizer, emitters";
  drtriton::bindings::BindErrors(m);
  drtriton::bindings::BindOps(m);
  drtriton::bindings::BindIr(m);
  drtriton::bindings::BindEmitTriton(m);
  drtriton::bindings::BindSynth(m);
}
