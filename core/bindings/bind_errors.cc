// Maps the engine's error classes to Python: _core.Error(ValueError) and its subclasses ShapeError,
// InfeasibleError, ValueError (drtriton's, a subclass of the builtin ValueError too).
#include <nanobind/nanobind.h>

#include "drtriton/error.h"

namespace nb = nanobind;

namespace drtriton::bindings {

void BindErrors(nb::module_& m) {
  // Base first: nanobind tries the most recently registered translator first, so subclasses win.
  static nb::exception<drtriton::Error> error(m, "Error", PyExc_ValueError);
  static nb::exception<drtriton::ShapeError> shape_error(m, "ShapeError", error.ptr());
  static nb::exception<drtriton::InfeasibleError> infeasible_error(m, "InfeasibleError",
                                                                   error.ptr());
  static nb::exception<drtriton::ValueError> value_error(m, "ValueError", error.ptr());
}

}  // namespace drtriton::bindings
