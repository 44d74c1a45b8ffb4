// The model panel's summary and the overview's "Weights by type" on a model of mixed storage types: the type mix
// and bits per weight (8 · stored bytes / weights), worked out here from the shapes and the block sizes.
#include <catch2/catch.hpp>
#include "bq/model/model.h"
#include "widgets/model_overview.h"
#include "widgets/model_panel.h"
#include "widgets/model_summary.h"
#include <memory>

namespace {

// token_embd Q8_0 [64, 256] (32 weights in 34 bytes), one Q4_K matrix [4, 256] (256 in 144), an F32 norm [256].
std::shared_ptr<bq::Model> mixedModel()
{
    auto m = std::make_shared<bq::Model>();
    m->config.arch = "llama";
    m->sourcePath = "/nonexistent/mixed.gguf";
    m->tensors["token_embd.weight"] = bq::makeOwnedTensor("token_embd.weight", bq::DType::Q8_0, {64, 256},
                                                          std::vector<std::byte>(64 * 8 * 34));
    m->tensors["blk.0.attn_q.weight"] = bq::makeOwnedTensor("blk.0.attn_q.weight", bq::DType::Q4_K, {4, 256},
                                                            std::vector<std::byte>(4 * 144));
    m->tensors["output_norm.weight"] = bq::makeF32Tensor("output_norm.weight", {256}, std::vector<float>(256));
    return m;
}

} // namespace

TEST_CASE("the model panel and the overview show the type mix and the bits per weight", "[gui][model_overview]")
{
    const auto model = mixedModel();
    const double weights = 16384 + 1024 + 256, bytes = 17408 + 576 + 1024;
    const double all = 8.0 * bytes / weights, matrices = 8.0 * (17408 + 576) / (16384 + 1024);

    studio::ModelPanel panel;
    panel.setModel(model);
    CHECK(panel.summaryValue(QStringLiteral("Bits per weight")) ==
          QStringLiteral("%1 overall, %2 in the matrices").arg(all, 0, 'f', 3).arg(matrices, 0, 'f', 3));
    CHECK(panel.summaryValue(QStringLiteral("Data types")) ==
          QStringLiteral("F32 %1% in 1 tensor, Q4_K %2% in 1 tensor, Q8_0 %3% in 1 tensor")
              .arg(100.0 * 256 / weights, 0, 'f', 1)
              .arg(100.0 * 1024 / weights, 0, 'f', 1)
              .arg(100.0 * 16384 / weights, 0, 'f', 1));
    CHECK(studio::modelSummaryToolTip(QStringLiteral("Bits per weight")).contains(QStringLiteral("8 · stored bytes")));
    // SmolLM2's 35,136 F32 weights and 134,479,872 matrix weights of 134,515,008 do not read as 0.0% and 100.0%.
    CHECK(studio::shareOf(35136, 134515008) == QStringLiteral("<0.1%"));
    CHECK(studio::shareOf(134479872, 134515008) == QStringLiteral(">99.9%"));
    CHECK(studio::shareOf(106168320, 134515008) == QStringLiteral("78.9%"));
    CHECK(studio::shareOf(0, 10) == QStringLiteral("0.0%"));
    CHECK(studio::shareOf(10, 10) == QStringLiteral("100.0%"));

    const QString html = studio::ModelOverview::overviewHtml(*model);
    CHECK(html.contains(QStringLiteral("<b>%1</b>").arg(all, 0, 'f', 3)));
    CHECK(html.contains(QString::number(matrices, 'f', 3)));
    CHECK(html.contains(QStringLiteral("4.500"))); // Q4_K: 8 · 144 / 256
    CHECK(html.contains(QStringLiteral("8.500"))); // Q8_0
    CHECK(html.contains(QStringLiteral("matrices (2-D)")));
    CHECK(html.contains(QStringLiteral("title='Q4_K: ")));
    CHECK(html.contains(QStringLiteral("Bits/weight = 8 · stored bytes / weights")));

    // A tiny F32 share next to a large matrix shows as <0.1% / >99.9%, escaped in the overview's HTML.
    auto big = mixedModel();
    big->tensors.erase("blk.0.attn_q.weight");
    big->tensors["token_embd.weight"] = bq::makeOwnedTensor("token_embd.weight", bq::DType::Q8_0, {4096, 256},
                                                            std::vector<std::byte>(4096 * 8 * 34));
    const QString bigHtml = studio::ModelOverview::overviewHtml(*big);
    CHECK(bigHtml.contains(QStringLiteral("&lt;0.1%")));
    CHECK(bigHtml.contains(QStringLiteral("&gt;99.9%")));
}
