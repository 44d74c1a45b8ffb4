// Human-readable facts about a model, shared by the model panel and the overview tab.
#pragma once
#include "bq/model/tensor_types.h"
#include <QList>
#include <QPair>
#include <QString>
#include <cstdint>

namespace bq {
struct Model;
}

namespace studio {

// Ordered (label, value) rows: Architecture, Format, Parameters, Weights, Data types, Bits per weight, Layers, Dim, FFN dim, Heads, Head dim,
// Context, Vocabulary, Tokenizer, RoPE, Tied embeddings, ...
QList<QPair<QString, QString>> modelSummaryRows(const bq::Model& model);

// "1.23 M", "7.24 B", "512"
QString humanCount(std::int64_t n);
// "918,656" (digits grouped by thousands)
QString groupedNumber(std::int64_t n);
// "3.5 MiB", "812 B"
QString humanBytes(std::uint64_t bytes);
// part / whole as "78.9%", "<0.1%" for a small non-zero part and ">99.9%" just short of the whole (so a rounded
// share never reads as none or as all of it).
QString shareOf(std::int64_t part, std::int64_t whole);
// "Q1_0: <the type table's description> (1.125 bits/weight)" (for tooltips)
QString dtypeTooltip(bq::DType type);
// How a summary row's value is computed (for its tooltip), or an empty string.
QString modelSummaryToolTip(const QString& label);
// "5.744 overall, 5.737 in the matrices, 5.850 for the file" (8 · stored bytes / weights; the file part only
// when the model came from one file).
QString bitsPerWeightSummary(const bq::Model& model);
// The file a model was read from, its size in bytes; 0 for a directory or the demo model.
std::uint64_t sourceFileBytes(const bq::Model& model);

} // namespace studio
