// Jobs as the front ends run them: on their own thread, with worker threads of their own, cancelled from another
// thread (the GUI's main thread, the CLI's signal watcher). These are the cases the ThreadSanitizer build
// (bash packaging/dev.sh tsan) exists for; in the other trees they check that a cross-thread cancel is honoured.
#include "bq/chat/chat_session.h"
#include "bq/chat/chat_template.h"
#include "bq/demo/demo_model.h"
#include "bq/model/model.h"
#include "bq/quant/calibration/calibration.h"
#include "bq/quant/pipeline/pipeline.h"
#include "bq/quant/recipe/recipe.h"
#include "bq/runtime/fp32_model.h"
#include "support/test_support.h"
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

using namespace bq;
using namespace bq::quant;

namespace {

// Counts layers and progress events; called on the job thread, read by the test thread.
struct CountingSink final : EventSink {
    std::atomic<int> layers{0};
    std::atomic<int> progressEvents{0};
    void progress(const ProgressEvent&) override { ++progressEvents; }
    void layerDone(const LayerResult&) override { ++layers; }
    void log(LogLevel, std::string_view) override {}
};

struct CountingChat final : ChatEvents {
    std::atomic<int> pieces{0};
    void text(std::string_view, const ChatStats&) override { ++pieces; }
};

// Waits (up to 60 s, for the slow sanitizer trees) until pred() holds.
template <typename Pred>
bool waitFor(Pred pred)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

} // namespace

TEST_CASE("a quantization job with 3 worker threads, cancelled from another thread", "[threads][quant]")
{
    const auto model = makeDemoModel();
    QuantizeJobRequest req;
    req.model = model;
    req.modelPath = ":demo";
    req.recipe = builtinRecipe("output-align");
    req.recipe.samples = 4;
    req.recipe.seqLen = 32;
    CalibrationSource src;
    src.text = demoText();
    CalibrationOptions o;
    o.samples = 4;
    o.seqLen = 32;
    req.calibration = buildCalibration(*model->tokenizer, {src}, o);
    req.threads = 3;

    CountingSink sink;
    CancelToken cancel;
    QuantizeJobResult result;
    std::thread job([&] { result = runQuantization(req, sink, cancel); });
    const bool started = waitFor([&] { return sink.layers.load() >= 1; });
    cancel.request();
    job.join();
    REQUIRE(started);
    CHECK(result.job.status == JobStatus::Cancelled);
    CHECK(sink.progressEvents.load() > 0);
}

TEST_CASE("a chat reply on a 2-thread model, cancelled from another thread", "[threads][chat]")
{
    const auto model = makeFp32Model(makeDemoModel(), 2);
    ChatOptions options;
    options.sampler.temperature = 0.0f;
    options.maxTokens = 0; // until the context is full: only the cancel ends it early
    ChatSession session(model, ChatTemplate(ChatTemplateKind::Completion), options);
    CountingChat events;
    CancelToken cancel;
    ChatReply reply;
    std::thread job([&] { reply = session.send("Once upon a time", events, cancel); });
    const bool started = waitFor([&] { return events.pieces.load() >= 2; });
    cancel.request();
    job.join();
    REQUIRE(started);
    // Either the cancel arrived first, or the context filled up on a fast machine; never an error.
    CHECK((reply.reason == ChatStopReason::Cancelled || reply.reason == ChatStopReason::ContextFull));
    CHECK(reply.stats.generatedTokens >= 2);

    // The session goes on after a cancelled turn, on the calling thread this time.
    cancel.reset();
    CountingChat more;
    const ChatReply next = session.send("The cat", more, cancel);
    CHECK(next.reason != ChatStopReason::Error);
}
