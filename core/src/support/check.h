// DRT_CHECK: bad input from the caller (throws the given drtriton::Error subclass with the message).
// DRT_ICHECK: an internal invariant; failing it is a bug in drtriton and reports file:line.
#pragma once

#include <sstream>
#include <string>

#include "drtriton/error.h"

#define DRT_CHECK(cond, ErrorType, msg)       \
  do {                                        \
    if (!(cond)) {                            \
      std::ostringstream drt_check_os_;       \
      drt_check_os_ << msg;                   \
      throw ::drtriton::ErrorType(drt_check_os_.str()); \
    }                                         \
  } while (0)

#define DRT_ICHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      throw ::drtriton::InternalError(std::string("drtriton internal error (please report): ") + \
                                      #cond + " at " + __FILE__ + ":" + std::to_string(__LINE__)); \
    }                                                                                      \
  } while (0)
