// Chat: template detection and renders (expected strings written by hand from the real Jinja templates in
// ../shared/tokenizers), incremental prefill against a fresh full prefill, UTF-8-safe streaming, cancel, the
// context-overflow policies and the statistics.
#include "bq/chat/chat_session.h"
#include "bq/chat/chat_template.h"
#include "bq/demo/demo_model.h"
#include "bq/formats/model_loader.h"
#include "bq/runtime/fp32_model.h"
#include "bq/tokenizer/tokenizer.h"
#include "support/test_support.h"
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

using namespace bq;

namespace {

std::string sharedChatTemplate(const std::string& name)
{
    const auto j = nlohmann::json::parse(bqtest::readFile(bqtest::sharedPath("tokenizers/" + name + "/tokenizer_config.json")));
    return j.contains("chat_template") && j["chat_template"].is_string() ? j["chat_template"].get<std::string>()
                                                                         : std::string();
}

std::vector<ChatMessage> conversation()
{
    return {{ChatRole::System, "You are terse.", false},
            {ChatRole::User, " Hi there ", false},
            {ChatRole::Assistant, "Hello!", false},
            {ChatRole::User, "How are you?", false}};
}

std::shared_ptr<InferenceModel> demoModel()
{
    static std::shared_ptr<InferenceModel> model = makeFp32Model(makeDemoModel(), 2);
    return model;
}

// Records streamed pieces; optionally cancels after `cancelAfter` pieces.
class Recorder final : public ChatEvents {
public:
    explicit Recorder(CancelToken* cancel = nullptr, int cancelAfter = -1) : m_cancel(cancel), m_after(cancelAfter) {}
    void text(std::string_view piece, const ChatStats&) override
    {
        pieces.emplace_back(piece);
        if (m_cancel && static_cast<int>(pieces.size()) == m_after)
            m_cancel->request();
    }
    void log(LogLevel, std::string_view line) override { logs.emplace_back(line); }
    std::string joined() const
    {
        std::string s;
        for (const auto& p : pieces)
            s += p;
        return s;
    }
    std::vector<std::string> pieces, logs;

private:
    CancelToken* m_cancel;
    int m_after;
};

float maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b)
{
    REQUIRE(a.size() == b.size());
    float m = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

// The KV cache the session built must be the one a fresh context gets from prefilling the same tokens at once.
void checkCacheMatchesFreshPrefill(const ChatSession& session, const InferenceModel& model)
{
    const auto tokens = session.cachedTokens();
    REQUIRE(!tokens.empty());
    REQUIRE(static_cast<int>(tokens.size()) == session.contextUsed());
    auto fresh = model.newContext(session.contextCapacity());
    std::vector<float> logits;
    fresh->forward(tokens, false, logits);
    float scale = 0;
    for (float v : logits)
        scale = std::max(scale, std::fabs(v));
    CHECK(maxAbsDiff(logits, session.lastLogits()) <= 1e-4f * std::max(1.0f, scale));
}

bool validUtf8Complete(std::string_view s)
{
    return completeUtf8Prefix(s) == s.size();
}

// A scripted back-end: after its prompt, position p yields a one-hot logit for script[p - promptEnd]
// (then EOS). Lets the streaming test force byte tokens that split UTF-8 characters.
class ScriptedModel final : public InferenceModel {
public:
    ScriptedModel(std::shared_ptr<const Tokenizer> tok, std::vector<std::int32_t> script)
        : m_tok(std::move(tok)), m_script(std::move(script))
    {
        m_config.vocabSize = m_tok->vocabSize();
        m_config.maxSeqLen = 256;
    }
    const ModelConfig& config() const override { return m_config; }
    const Tokenizer& tokenizer() const override { return *m_tok; }
    std::unique_ptr<InferenceContext> newContext(int maxTokens) const override
    {
        return std::make_unique<Ctx>(*this, maxTokens == 0 ? m_config.maxSeqLen : maxTokens);
    }
    std::string backendName() const override { return "scripted"; }
    int threads() const override { return 1; }
    std::uint64_t weightBytesPerToken() const override { return 0; }

private:
    class Ctx final : public InferenceContext {
    public:
        Ctx(const ScriptedModel& m, int cap) : m_m(m), m_cap(cap) {}
        void forward(std::span<const std::int32_t> tokens, bool, std::vector<float>& logits) override
        {
            if (m_pos + static_cast<int>(tokens.size()) > m_cap)
                throw std::length_error("scripted: full");
            if (m_promptEnd < 0)
                m_promptEnd = m_pos + static_cast<int>(tokens.size());
            m_pos += static_cast<int>(tokens.size());
            logits.assign(static_cast<std::size_t>(m_m.m_config.vocabSize), 0.0f);
            const auto k = static_cast<std::size_t>(m_pos - m_promptEnd);
            const std::int32_t next = k < m_m.m_script.size() ? m_m.m_script[k] : m_m.m_tok->eosId();
            logits[static_cast<std::size_t>(next)] = 10.0f;
        }
        int position() const override { return m_pos; }
        int capacity() const override { return m_cap; }
        void reset() override { m_pos = 0; m_promptEnd = -1; }

    private:
        const ScriptedModel& m_m;
        int m_cap, m_pos = 0, m_promptEnd = -1;
    };
    std::shared_ptr<const Tokenizer> m_tok;
    std::vector<std::int32_t> m_script;
    ModelConfig m_config;
};

ChatOptions greedy(int maxTokens, int context = 0)
{
    ChatOptions o;
    o.sampler.temperature = 0.0f;
    o.maxTokens = maxTokens;
    o.contextTokens = context;
    return o;
}

} // namespace

TEST_CASE("chat templates are detected from the models' Jinja text and chosen by name", "[chat][template]")
{
    CHECK(detectChatTemplate("") == ChatTemplateKind::Completion);
    CHECK(detectChatTemplate("{{ messages }}") == ChatTemplateKind::Completion);
    CHECK(detectChatTemplate("{{ bos_token + '[INST] ' + '<<SYS>>\\n' }}") == ChatTemplateKind::Llama2);
    CHECK(detectChatTemplate("{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}") ==
          ChatTemplateKind::Mistral);
    CHECK(detectChatTemplate("{{ '<|user|>\\n' + message['content'] + eos_token }}") == ChatTemplateKind::Zephyr);
    CHECK(detectChatTemplate("{{'<|im_start|>' + message['role'] + '\\n'}}") == ChatTemplateKind::ChatML);
    CHECK(chatTemplateFromName("Qwen3") == ChatTemplateKind::Qwen3);
    CHECK(chatTemplateFromName("plain") == ChatTemplateKind::Completion);
    CHECK(chatTemplateFromName("chatml") == ChatTemplateKind::ChatML);
    CHECK_FALSE(chatTemplateFromName("jinja").has_value());
    for (const std::string& name : chatTemplateNames())
        CHECK(ChatTemplate(*chatTemplateFromName(name)).name() == name);

    if (!bqtest::haveShared("tokenizer_config.json chat templates"))
        return;
    CHECK(detectChatTemplate(sharedChatTemplate("llama3")) == ChatTemplateKind::Llama3);
    CHECK(detectChatTemplate(sharedChatTemplate("qwen3")) == ChatTemplateKind::Qwen3);
    CHECK(detectChatTemplate(sharedChatTemplate("sp32k")) == ChatTemplateKind::Completion); // has none
}

TEST_CASE("llama3 render matches the tokenizer_config.json template and encodes its special tokens as ids",
          "[chat][template]")
{
    const std::string expected =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n";
    const ChatTemplate t(ChatTemplateKind::Llama3);
    const auto messages = conversation();
    CHECK(t.render(messages, true, {"<|begin_of_text|>", "<|end_of_text|>"}) == expected);
    CHECK(t.rendersBos());

    if (!bqtest::haveShared("llama3 tokenizer"))
        return;
    auto tok = loadTokenizerFile(bqtest::sharedPath("tokenizers/llama3/tokenizer.json"));
    const ChatSpecialStrings sp = chatSpecialStrings(*tok);
    CHECK(sp.bos == "<|begin_of_text|>");
    CHECK(t.render(messages, true, sp) == expected);
    const auto ids = encodeChatText(*tok, t, expected, true);
    REQUIRE(ids.size() > 10);
    CHECK(ids[0] == 128000); // one BOS, written by the template
    CHECK(ids[1] == 128006);
    CHECK(std::count(ids.begin(), ids.end(), 128000) == 1);
    CHECK(std::count(ids.begin(), ids.end(), 128006) == 5); // <|start_header_id|>
    CHECK(std::count(ids.begin(), ids.end(), 128009) == 4); // <|eot_id|>
    CHECK(tok->decode(ids, true) == expected);
    const auto stops = chatStopIds(*tok, t);
    CHECK(std::find(stops.begin(), stops.end(), 128009) != stops.end());
    CHECK(std::find(stops.begin(), stops.end(), 128001) != stops.end());

    // Whole turns through ChatSession with the real vocabulary (a scripted back-end says "Hi!" then
    // <|eot_id|>): the reply stops at <|eot_id|>, and the incrementally fed tokens equal the tokenization of the
    // whole conversation rendered at once.
    std::vector<std::int32_t> script = tok->encode("Hi!");
    const std::size_t replyLen = script.size();
    script.push_back(128009);
    auto model = std::make_shared<ScriptedModel>(tok, script);
    ChatSession session(model, t, greedy(20));
    session.setSystemPrompt("You are terse.");
    CancelToken cancel;
    Recorder rec;
    const ChatReply a = session.send(" Hi there ", rec, cancel);
    CHECK(a.reason == ChatStopReason::EndOfTurn);
    CHECK(a.text == "Hi!");
    const ChatReply b = session.send("How are you?", rec, cancel);
    CHECK(b.reason == ChatStopReason::EndOfTurn); // the script is over: <|end_of_text|>
    CHECK(b.stats.reusedTokens == a.stats.promptTokens + static_cast<int>(replyLen));
    const auto cached = session.cachedTokens();
    REQUIRE(cached.size() > static_cast<std::size_t>(b.stats.reusedTokens));
    CHECK(cached[static_cast<std::size_t>(b.stats.reusedTokens)] == 128009); // the template closes the reply
    std::vector<ChatMessage> whole = messages;
    whole[2].content = "Hi!";
    const auto all = encodeChatText(*tok, t, t.render(whole, true, sp), true);
    CHECK(std::vector<std::int32_t>(cached.begin(), cached.end()) == all);
}

TEST_CASE("qwen3 render matches the tokenizer_config.json template including its <think> rules", "[chat][template]")
{
    const ChatTemplate t(ChatTemplateKind::Qwen3);
    std::vector<ChatMessage> m = conversation();
    m[2].content = "<think>\nweighing it\n</think>\n\nHello!";
    // Earlier assistant turns keep only the text after </think> (lstripped of newlines).
    CHECK(t.render(m, true) == "<|im_start|>system\nYou are terse.<|im_end|>\n"
                               "<|im_start|>user\n Hi there <|im_end|>\n"
                               "<|im_start|>assistant\nHello!<|im_end|>\n"
                               "<|im_start|>user\nHow are you?<|im_end|>\n"
                               "<|im_start|>assistant\n");
    // The final assistant turn after the last user message gets its (here empty) think block.
    const std::vector<ChatMessage> closing{{ChatRole::User, "Q", false}, {ChatRole::Assistant, "A", false}};
    CHECK(t.render(closing, false) == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n");
    const std::vector<ChatMessage> reasoned{{ChatRole::User, "Q", false},
                                            {ChatRole::Assistant, "<think>\n\nstep\n\n</think>\n\nA", false}};
    CHECK(t.render(reasoned, false) == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nstep\n</think>\n\nA<|im_end|>\n");
    // Plain ChatML keeps the content as is.
    CHECK(ChatTemplate(ChatTemplateKind::ChatML).render(m, false).find("<think>\nweighing it") != std::string::npos);

    if (!bqtest::haveShared("qwen3 tokenizer"))
        return;
    auto tok = loadTokenizerFile(bqtest::sharedPath("tokenizers/qwen3/tokenizer.json"));
    const std::string text = t.render(m, true, chatSpecialStrings(*tok));
    const auto ids = encodeChatText(*tok, t, text, true);
    CHECK(ids.front() == 151644); // <|im_start|>, no BOS (Qwen has none)
    CHECK(std::count(ids.begin(), ids.end(), 151644) == 5);
    CHECK(std::count(ids.begin(), ids.end(), 151645) == 4); // <|im_end|>
    CHECK(tok->decode(ids, true) == text);
    const auto stops = chatStopIds(*tok, t);
    CHECK(std::find(stops.begin(), stops.end(), 151645) != stops.end());
}

TEST_CASE("llama2, mistral, zephyr and completion renders follow their reference templates", "[chat][template]")
{
    const auto m = conversation();
    CHECK(ChatTemplate(ChatTemplateKind::Llama2).render(m, true) ==
          "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\n Hi there [/INST] Hello! </s><s>[INST] How are you? [/INST]");
    CHECK(ChatTemplate(ChatTemplateKind::Mistral).render(m, true) ==
          "<s>[INST] You are terse.\n\n Hi there  [/INST]Hello!</s>[INST] How are you? [/INST]");
    CHECK(ChatTemplate(ChatTemplateKind::Zephyr).render(m, true) ==
          "<|system|>\nYou are terse.</s>\n<|user|>\n Hi there </s>\n<|assistant|>\nHello!</s>\n"
          "<|user|>\nHow are you?</s>\n<|assistant|>\n");
    CHECK(ChatTemplate(ChatTemplateKind::Completion).render(m, true) == "You are terse. Hi there Hello!How are you?");
}

TEST_CASE("a multi-turn chat prefills only the new tokens and its cache equals a fresh full prefill", "[chat][kv]")
{
    auto model = demoModel();
    for (const ChatTemplateKind kind : {ChatTemplateKind::Completion, ChatTemplateKind::Llama2}) {
        INFO(ChatTemplate(kind).name());
        ChatSession session(model, ChatTemplate(kind), greedy(12));
        CancelToken cancel;
        Recorder r1;
        const ChatReply first = session.send("Once upon a time", r1, cancel);
        REQUIRE(first.reason != ChatStopReason::Error);
        CHECK(first.text == r1.joined());
        CHECK(first.stats.reusedTokens == 0);
        CHECK(first.stats.promptTokens > 3);
        checkCacheMatchesFreshPrefill(session, *model);
        const int cachedAfterFirst = session.contextUsed();

        Recorder r2;
        const ChatReply second = session.send("The little dog ran to the park.", r2, cancel);
        REQUIRE(second.reason != ChatStopReason::Error);
        checkCacheMatchesFreshPrefill(session, *model);
        REQUIRE(session.history().size() == 4);
        CHECK(session.history()[3].content == second.text);
        if (kind == ChatTemplateKind::Completion) {
            // Completion text only ever grows, so the whole first turn is reused.
            CHECK(second.stats.reusedTokens == cachedAfterFirst);
            CHECK(second.stats.promptTokens ==
                  static_cast<int>(model->tokenizer().encode("The little dog ran to the park.").size()));
        }
        CHECK(second.stats.reusedTokens + second.stats.promptTokens + second.stats.generatedTokens ==
              session.contextUsed());
    }
}

TEST_CASE("streamed text never splits a UTF-8 character across pieces", "[chat][utf8]")
{
    auto tok = makeDemoModel()->tokenizer;
    // "h\xC3\xA9!\xF0\x9F\x99\x82" = "hé!🙂" as demo byte tokens <0xNN> (id 3 + byte).
    const std::string text = "h\xC3\xA9!\xF0\x9F\x99\x82";
    std::vector<std::int32_t> script;
    for (unsigned char c : text)
        script.push_back(3 + c);
    REQUIRE(tok->piece(3 + 0xC3) == "<0xC3>");
    auto model = std::make_shared<ScriptedModel>(tok, script);
    ChatSession session(model, ChatTemplate(ChatTemplateKind::Completion), greedy(100));
    CancelToken cancel;
    Recorder rec;
    const ChatReply reply = session.send("Hi", rec, cancel);
    CHECK(reply.reason == ChatStopReason::EndOfTurn); // the script ends with EOS
    CHECK(reply.text == text);
    CHECK(rec.joined() == text);
    CHECK(reply.stats.generatedTokens == static_cast<int>(script.size()));
    CHECK(rec.pieces.size() == 4); // h, é, !, 🙂 — each complete
    for (const auto& p : rec.pieces)
        CHECK(validUtf8Complete(p));
}

TEST_CASE("cancel mid-reply keeps the partial reply, marked cancelled, and the session goes on", "[chat][cancel]")
{
    auto model = demoModel();
    ChatSession session(model, ChatTemplate(ChatTemplateKind::Completion), greedy(40));
    CancelToken cancel;
    Recorder stopper(&cancel, 3);
    const ChatReply cut = session.send("Once upon a time", stopper, cancel);
    REQUIRE(cut.reason == ChatStopReason::Cancelled);
    CHECK(stopper.pieces.size() == 3);
    CHECK(cut.stats.generatedTokens >= 3);
    CHECK(cut.stats.generatedTokens <= 4); // acknowledged at the next token
    REQUIRE(session.history().size() == 2);
    CHECK(session.history()[1].cancelled);
    CHECK(session.history()[1].content == cut.text);
    checkCacheMatchesFreshPrefill(session, *model);

    // A cancel before the prompt is read: nothing generated, the unread prompt is kept for the next turn.
    const ChatReply none = session.send("The cat", stopper, cancel);
    CHECK(none.reason == ChatStopReason::Cancelled);
    CHECK(none.text.empty());
    CHECK(none.stats.promptTokens == 0);

    cancel.reset();
    Recorder r;
    const ChatReply next = session.send("One day", r, cancel);
    CHECK((next.reason == ChatStopReason::MaxTokens || next.reason == ChatStopReason::EndOfTurn));
    CHECK(next.stats.generatedTokens > 0);
    CHECK(next.stats.reusedTokens == cut.stats.reusedTokens + cut.stats.promptTokens + cut.stats.generatedTokens);
    REQUIRE(session.history().size() == 6);
    CHECK_FALSE(session.history()[5].cancelled);
    checkCacheMatchesFreshPrefill(session, *model);
}

TEST_CASE("a tiny context: the error policy refuses cleanly, the sliding window keeps going", "[chat][context]")
{
    auto model = demoModel();
    const std::string longMessage =
        "Once upon a time there was a little girl who lived in a small house near the big green forest.";
    {
        ChatSession session(model, ChatTemplate(ChatTemplateKind::Completion), greedy(8, 16));
        CancelToken cancel;
        Recorder r;
        const ChatReply refused = session.send(longMessage, r, cancel);
        CHECK(refused.reason == ChatStopReason::Error);
        CHECK(refused.message.find("context holds 16") != std::string::npos);
        CHECK(session.history().empty());
        const ChatReply ok = session.send("Once", r, cancel);
        CHECK(ok.reason != ChatStopReason::Error);
        CHECK(session.contextUsed() <= 16);
    }
    {
        // Short replies: only whole turns are dropped, and the re-read window equals a fresh prefill.
        ChatOptions o = greedy(6, 32);
        o.overflow = ContextOverflow::SlidingWindow;
        ChatSession session(model, ChatTemplate(ChatTemplateKind::Completion), o);
        CancelToken cancel;
        Recorder r;
        int droppedTurns = 0;
        for (const char* msg : {"Once upon a time", "The dog ran.", "She smiled at the sun.", "They played.",
                                "One day a bird sang.", "The end."}) {
            const ChatReply reply = session.send(msg, r, cancel);
            REQUIRE(reply.reason != ChatStopReason::Error);
            REQUIRE(reply.stats.droppedPositions == 0);
            droppedTurns += reply.stats.droppedTurns;
            CHECK(session.contextUsed() <= 32);
            checkCacheMatchesFreshPrefill(session, *model);
        }
        CHECK(droppedTurns > 0);
        CHECK(session.history().size() < 12);
    }
    {
        // Long replies overflow the window mid-reply: dropOldest keeps generation going.
        ChatOptions o = greedy(30, 32);
        o.overflow = ContextOverflow::SlidingWindow;
        ChatSession session(model, ChatTemplate(ChatTemplateKind::Completion), o);
        session.setSystemPrompt("Stories:");
        CancelToken cancel;
        Recorder r;
        int droppedTurns = 0, droppedPositions = 0;
        for (const char* msg : {"Once upon a time", "The dog ran.", "She smiled at the sun.", "They played.",
                                "One day a bird sang.", "The end."}) {
            const ChatReply reply = session.send(msg, r, cancel);
            INFO(msg << ": " << reply.message);
            REQUIRE(reply.reason != ChatStopReason::Error);
            CHECK(reply.stats.generatedTokens > 0);
            CHECK(session.contextUsed() <= 32);
            CHECK(session.history().front().role == ChatRole::System); // the system message survives
            droppedTurns += reply.stats.droppedTurns;
            droppedPositions += reply.stats.droppedPositions;
            CHECK(static_cast<int>(session.cachedTokens().size()) == session.contextUsed());
            // (A window shifted by dropOldest is not a fresh prefill: its kept keys saw the dropped tokens.)
            CHECK(std::all_of(session.lastLogits().begin(), session.lastLogits().end(),
                              [](float v) { return std::isfinite(v); }));
        }
        CHECK(droppedTurns > 0);
        CHECK(droppedPositions > 0); // 30-token replies overflow a 32-position window mid-reply
        CHECK_FALSE(r.logs.empty());
        // A message longer than the whole window is refused, not a crash.
        const ChatReply tooLong = session.send(longMessage + " " + longMessage, r, cancel);
        CHECK(tooLong.reason == ChatStopReason::Error);
        const ChatReply after = session.send("Then", r, cancel);
        CHECK(after.reason != ChatStopReason::Error);
    }
}

TEST_CASE("chat statistics count prompt and reply tokens with their rates", "[chat][stats]")
{
    auto model = demoModel();
    ChatSession session(model, ChatTemplate(ChatTemplateKind::Completion), greedy(16));
    CancelToken cancel;
    Recorder r;
    const ChatReply reply = session.send("Once upon a time", r, cancel);
    EncodeOptions withBos;
    withBos.addBos = true;
    const auto expectedPrompt = model->tokenizer().encode("Once upon a time", withBos).size();
    CHECK(reply.stats.promptTokens == static_cast<int>(expectedPrompt));
    CHECK(reply.stats.promptTokensPerSecond() > 0);
    CHECK(reply.stats.generationTokensPerSecond() > 0);
    CHECK(reply.stats.contextCapacity == model->config().maxSeqLen);
    CHECK(session.lastStats().generatedTokens == reply.stats.generatedTokens);
    CHECK(std::string(chatStopReasonName(reply.reason)).size() > 0);
}

TEST_CASE("a ChatML template's default system prompt is found and written when the conversation has none",
          "[chat][template]")
{
    // SmolLM2-135M-Instruct's template (GGUF tokenizer.chat_template; real newlines inside the string literals).
    const std::string smol =
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
    // Qwen2.5's shape: the literal comes after a branch that writes the caller's system message, escapes as \n.
    const std::string qwen25 =
        "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
        "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
        "helpful assistant.<|im_end|>\\n' }}{%- endif %}";
    CHECK(detectChatMLDefaultSystem(smol) == "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
    CHECK(detectChatMLDefaultSystem(qwen25) == "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
    CHECK(detectChatMLDefaultSystem("{{'<|im_start|>' + message['role'] + '\\n'}}").empty());
    CHECK(detectChatMLDefaultSystem("'<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>'").empty());

    const ChatTemplate t = chatTemplateForModel(smol);
    CHECK(t.kind() == ChatTemplateKind::ChatML);
    const std::string sys = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
                            "<|im_end|>\n";
    const std::vector<ChatMessage> user{{ChatRole::User, "Hi", false}};
    CHECK(t.render(user, true) == sys + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    const std::vector<ChatMessage> own{{ChatRole::System, "Be brief.", false}, {ChatRole::User, "Hi", false}};
    CHECK(t.render(own, false) == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
    CHECK(t.render({}, true) == "<|im_start|>assistant\n"); // the default belongs to the loop's first message
    CHECK(ChatTemplate(ChatTemplateKind::ChatML).render(user, false) == "<|im_start|>user\nHi<|im_end|>\n");
    if (bqtest::haveShared("Qwen3's chat template"))
        CHECK(chatTemplateForModel(sharedChatTemplate("qwen3")).defaultSystem().empty()); // Qwen3 has none
}

TEST_CASE("default system prompt detection stays linear on hostile template text", "[chat][template]")
{
    std::string hostile;
    for (int i = 0; i < 200000; ++i)
        hostile += "<|im_start|>system\nxx";
    hostile += "'<|im_end|>";
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(detectChatMLDefaultSystem(hostile).empty());
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
}
