#include "bq/chat/chat_session.h"
#include "bq/tokenizer/tokenizer.h"
#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace bq {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A turn the context cannot take: reported to the caller, the session left as it was.
class TurnRefused : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace

const char* chatStopReasonName(ChatStopReason reason) noexcept
{
    switch (reason) {
    case ChatStopReason::EndOfTurn: return "end of turn";
    case ChatStopReason::MaxTokens: return "max tokens";
    case ChatStopReason::ContextFull: return "context full";
    case ChatStopReason::Cancelled: return "cancelled";
    case ChatStopReason::Error: return "error";
    }
    return "error";
}

ChatSession::ChatSession(std::shared_ptr<const InferenceModel> model, ChatTemplate chatTemplate, ChatOptions options)
    : m_model(std::move(model)),
      m_template(chatTemplate),
      m_options(options),
      m_special(chatSpecialStrings(m_model->tokenizer())),
      m_stopIds(chatStopIds(m_model->tokenizer(), m_template)),
      m_sampler(options.sampler, m_model->config().vocabSize)
{
    if (m_options.prefillChunk <= 0)
        m_options.prefillChunk = 64;
    if (m_options.maxTokens < 0)
        m_options.maxTokens = 0;
    // The KV cache is allocated up front: a 128k-context model would need tens of GB at its full length.
    const int maxSeq = m_model->config().maxSeqLen;
    int capacity = m_options.contextTokens;
    if (capacity <= 0)
        capacity = std::min(maxSeq, kDefaultChatContext);
    if (maxSeq > 0 && capacity > maxSeq)
        capacity = maxSeq;
    m_options.contextTokens = capacity;
    m_ctx = m_model->newContext(capacity);
}

void ChatSession::setSystemPrompt(std::string system)
{
    m_messages.clear();
    if (!system.empty())
        m_messages.push_back({ChatRole::System, std::move(system), false});
    clearCache();
}

void ChatSession::reset()
{
    const bool keepSystem = !m_messages.empty() && m_messages.front().role == ChatRole::System;
    m_messages.resize(keepSystem ? 1 : 0);
    clearCache();
}

void ChatSession::clearCache()
{
    m_ctx->reset();
    m_tokens.clear();
    m_cacheStart = 0;
    m_pending.clear();
    m_fedText.clear();
    m_logits.clear();
}

std::span<const std::int32_t> ChatSession::cachedTokens() const noexcept
{
    return std::span<const std::int32_t>(m_tokens).subspan(m_cacheStart);
}

int ChatSession::contextCapacity() const noexcept { return m_ctx->capacity(); }
int ChatSession::contextUsed() const noexcept { return m_ctx->position(); }

std::string ChatSession::renderWith(std::span<const ChatMessage> messages) const
{
    return m_template.render(messages, true, m_special);
}

std::string ChatSession::previewPrompt(std::string_view userText) const
{
    std::vector<ChatMessage> messages = m_messages;
    messages.push_back({ChatRole::User, std::string(userText), false});
    return renderWith(messages);
}

ChatReply ChatSession::send(std::string_view userText, ChatEvents& events, const CancelToken& cancel)
{
    const std::vector<ChatMessage> historyBefore = m_messages;
    try {
        return run(userText, events, cancel);
    } catch (const TurnRefused& e) {
        m_messages = historyBefore;
        ChatReply reply;
        reply.reason = ChatStopReason::Error;
        reply.message = e.what();
        reply.stats.contextUsed = contextUsed();
        reply.stats.contextCapacity = contextCapacity();
        return reply;
    } catch (const std::exception& e) {
        // The cache may hold part of a forward: rebuild it from the history on the next turn.
        m_messages = historyBefore;
        clearCache();
        ChatReply reply;
        reply.reason = ChatStopReason::Error;
        reply.message = e.what();
        reply.stats.contextCapacity = contextCapacity();
        return reply;
    }
}

// Decides what to prefill for the turn just appended to m_messages and commits it to m_pending (and resets the
// cache when it cannot be extended). Throws TurnRefused, leaving the cache untouched, when it cannot fit.
void ChatSession::planTurn(ChatStats& stats, ChatEvents& events)
{
    const Tokenizer& tok = m_model->tokenizer();
    const int capacity = m_ctx->capacity();
    std::string full = renderWith(m_messages);

    bool incremental = !m_fedText.empty() && full.size() >= m_fedText.size() &&
                       full.compare(0, m_fedText.size(), m_fedText) == 0;
    std::vector<std::int32_t> tokens;
    if (incremental) {
        tokens = m_pending;
        const std::vector<std::int32_t> delta =
            encodeChatText(tok, m_template, std::string_view(full).substr(m_fedText.size()), false);
        tokens.insert(tokens.end(), delta.begin(), delta.end());
    } else {
        tokens = encodeChatText(tok, m_template, full, true);
    }
    const auto used = [&] { return incremental ? m_ctx->position() : 0; };
    const auto need = [&] { return static_cast<std::int64_t>(used()) + static_cast<std::int64_t>(tokens.size()); };

    if (m_options.overflow == ContextOverflow::Error) {
        if (need() > capacity)
            throw TurnRefused("the conversation needs " + std::to_string(need()) + " tokens but the context holds " +
                              std::to_string(capacity) + " (" + std::to_string(used()) +
                              " in use); start over with /reset or enable the sliding window");
    } else {
        // Leave room for a reply; drop the oldest whole turns (keeping the system message) until the prompt fits.
        const int wanted = m_options.maxTokens > 0 ? m_options.maxTokens : capacity / 4;
        const std::int64_t target = capacity - std::max(1, std::min(capacity / 4, wanted));
        while (need() > target) {
            const std::size_t first = !m_messages.empty() && m_messages.front().role == ChatRole::System ? 1 : 0;
            if (first + 1 >= m_messages.size())
                break; // only the new user message is left
            std::size_t end = first + 1;
            while (end + 1 < m_messages.size() && m_messages[end].role != ChatRole::User)
                ++end;
            m_messages.erase(m_messages.begin() + static_cast<std::ptrdiff_t>(first),
                             m_messages.begin() + static_cast<std::ptrdiff_t>(end));
            ++stats.droppedTurns;
            full = renderWith(m_messages);
            tokens = encodeChatText(tok, m_template, full, true);
            incremental = false;
        }
        if (need() > capacity)
            throw TurnRefused("the message needs " + std::to_string(need()) + " tokens but the context holds " +
                              std::to_string(capacity));
        if (stats.droppedTurns > 0)
            events.log(LogLevel::Info, "sliding window: dropped the " + std::to_string(stats.droppedTurns) +
                                           " oldest turn(s) and re-reading the conversation");
    }
    if (tokens.empty() && (incremental ? m_ctx->position() : 0) == 0)
        throw TurnRefused("the prompt encodes to no tokens");

    if (!incremental)
        clearCache();
    m_pending = std::move(tokens);
    m_fedText = std::move(full);
}

bool ChatSession::prefill(ChatStats& stats, const CancelToken& cancel)
{
    const std::size_t chunk = static_cast<std::size_t>(m_options.prefillChunk);
    while (!m_pending.empty()) {
        if (cancel.requested())
            return false;
        const std::size_t n = std::min(chunk, m_pending.size());
        m_ctx->forward(std::span<const std::int32_t>(m_pending.data(), n), false, m_logits);
        m_tokens.insert(m_tokens.end(), m_pending.begin(), m_pending.begin() + static_cast<std::ptrdiff_t>(n));
        m_pending.erase(m_pending.begin(), m_pending.begin() + static_cast<std::ptrdiff_t>(n));
        stats.promptTokens += static_cast<int>(n);
    }
    return true;
}

// Frees one position for the next token under the sliding window by dropping the oldest quarter of the cache.
bool ChatSession::makeRoomForOneToken(ChatStats& stats, ChatEvents& events)
{
    if (m_options.overflow != ContextOverflow::SlidingWindow)
        return false;
    const int count = std::max(1, m_ctx->capacity() / 4);
    if (!m_ctx->dropOldest(count))
        return false;
    m_cacheStart += static_cast<std::size_t>(count);
    stats.droppedPositions += count;
    events.log(LogLevel::Info, "sliding window: dropped the " + std::to_string(count) + " oldest cached positions");
    return true;
}

ChatReply ChatSession::run(std::string_view userText, ChatEvents& events, const CancelToken& cancel)
{
    ChatReply reply;
    ChatStats& stats = reply.stats;
    stats.contextCapacity = m_ctx->capacity();
    m_messages.push_back({ChatRole::User, std::string(userText), false});

    planTurn(stats, events);
    stats.reusedTokens = m_ctx->position();
    const auto t0 = Clock::now();
    const bool prefilled = prefill(stats, cancel);
    stats.promptSeconds = secondsSince(t0);
    stats.contextUsed = m_ctx->position();
    if (prefilled)
        events.promptProcessed(stats);

    // The decoder starts after the last fed token, so a reply's leading space survives as it does in the text.
    TokenStreamDecoder decoder(m_model->tokenizer());
    if (!m_tokens.empty()) {
        (void)decoder.push(m_tokens.back());
        (void)decoder.flush();
    }
    const auto t1 = Clock::now();
    reply.reason = ChatStopReason::Cancelled;
    if (prefilled && m_logits.empty())
        throw std::logic_error("chat: no logits after the prompt"); // cannot happen: planTurn refuses empty prompts
    while (prefilled) {
        if (cancel.requested()) {
            reply.reason = ChatStopReason::Cancelled;
            break;
        }
        if (m_options.maxTokens > 0 && stats.generatedTokens >= m_options.maxTokens) {
            reply.reason = ChatStopReason::MaxTokens;
            break;
        }
        m_scratch = m_logits; // the sampler scales in place; lastLogits() stays the model's output
        const std::int32_t next = m_sampler.sample(m_scratch, m_tokens);
        if (std::binary_search(m_stopIds.begin(), m_stopIds.end(), next)) {
            reply.reason = ChatStopReason::EndOfTurn;
            break;
        }
        ++stats.generatedTokens;
        const std::string piece = decoder.push(next);
        reply.text += piece;
        stats.generationSeconds = secondsSince(t1);
        if (!piece.empty())
            events.text(piece, stats);
        if (m_ctx->position() >= m_ctx->capacity() && !makeRoomForOneToken(stats, events)) {
            m_pending.push_back(next); // fed with the next turn's prompt
            reply.reason = ChatStopReason::ContextFull;
            break;
        }
        m_ctx->forward(std::span<const std::int32_t>(&next, 1), false, m_logits);
        m_tokens.push_back(next);
    }
    const std::string rest = decoder.flush();
    if (!rest.empty()) {
        reply.text += rest;
        events.text(rest, stats);
    }
    stats.generationSeconds = secondsSince(t1);
    stats.contextUsed = m_ctx->position();

    m_messages.push_back({ChatRole::Assistant, reply.text, reply.reason == ChatStopReason::Cancelled});
    m_fedText += reply.text;
    m_lastStats = stats;
    return reply;
}

} // namespace bq
