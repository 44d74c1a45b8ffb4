// One factory per method; method_registry.cpp lists them in menu order.
#pragma once
#include "bq/quant/methods/method.h"

namespace bq::quant::methods {

// simple and baseline methods (methods.md §3.1–3.3, 3.6, 3.8–3.10)
MethodInfo signMethod();
MethodInfo rtn1Method();
MethodInfo ternaryMethod();
MethodInfo residualMethod();
MethodInfo svidMethod();
MethodInfo gptqMethod();
MethodInfo q1_0Method();
// salient / alternating-refinement family (§3.4, 3.5, 3.7)
MethodInfo billmMethod();
MethodInfo arbMethod();
MethodInfo arbXMethod();
MethodInfo arbRcMethod();
MethodInfo outputAlignMethod();

} // namespace bq::quant::methods
