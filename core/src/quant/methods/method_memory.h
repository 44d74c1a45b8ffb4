// The buffers most methods hold while they run, for their MethodInfo::workingBytes hooks (bytes; exact integers
// in double, so the estimator's sums do not depend on the order of the terms).
#pragma once
#include <Eigen/Core>

namespace bq::quant::methods {

// The method's float32 copy of the n × m weight.
inline double weightCopyBytes(Eigen::Index n, Eigen::Index m) { return 4.0 * double(n) * double(m); }

// prepareHessian (obc/hessian.h): H, its undamped copy, the reversed factor and U, m × m float64 each.
inline double hessianBytes(Eigen::Index m) { return 4.0 * 8.0 * double(m) * double(m); }

} // namespace bq::quant::methods
