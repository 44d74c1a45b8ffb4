// The built-in demo: a small Llama-architecture model with deterministic weights and its own tokenizer,
// generated in code (users have no ../shared), plus a demo calibration text. Dimensions are multiples of 128
// so every export format applies.
#pragma once
#include "bq/model/model.h"
#include <memory>
#include <string>

namespace bq {

std::shared_ptr<const Model> makeDemoModel();
const std::string& demoText();

} // namespace bq
