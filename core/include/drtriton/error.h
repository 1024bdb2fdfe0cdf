// Error hierarchy of the engine. The bindings map each class to a Python ValueError subclass of the same
// name (drtriton._core.ShapeError...), so callers can catch them precisely.
#pragma once

#include <stdexcept>
#include <string>

namespace drtriton {

/// Base of every error the engine raises on bad input. The message says what was wrong and what to do.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A tensor shape or dtype breaks an operator's rule.
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// The constraints admit no program (or an enumeration is asked of an unbounded space).
class InfeasibleError : public Error {
 public:
  using Error::Error;
};

/// A bad argument from the caller (unknown operator name, out-of-range level...).
class ValueError : public Error {
 public:
  using Error::Error;
};

/// An engine invariant broke: a bug in drtriton, never the caller's fault.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace drtriton
