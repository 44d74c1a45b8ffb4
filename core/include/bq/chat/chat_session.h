// A multi-turn chat over any InferenceModel: history, template rendering, incremental prefill, streamed
// UTF-8-safe text, sampling, stop conditions, cancellation, context-overflow policy and tokens/s statistics.
// Used by `bitstudio-cli chat` and by the GUI's chat controller. No terminal I/O: text goes to ChatEvents.
//
// Thread affinity: a session is used from one thread at a time (the job/worker thread); the CancelToken may be
// set from any thread and is polled once per generated token and once per prefill chunk.
//
// Incremental prefill: the session keeps the exact token sequence it has fed (prompt deltas and the sampled
// reply tokens, never a re-tokenization of the reply). A new turn renders the whole conversation; when that
// text extends the text already fed, only the extension is tokenized and prefilled, reusing the KV cache.
// Otherwise (a template that rewrites earlier turns, e.g. Qwen3 dropping <think> blocks) the cache is rebuilt.
//
// Context overflow (ChatOptions::overflow):
//   Error          a turn that does not fit is refused with a message naming the sizes; the session is unchanged
//                  (the refused user message is not kept); a reply that fills the context stops (ContextFull).
//   SlidingWindow  before a turn, the oldest whole user/assistant turns are dropped (the system message is kept)
//                  and the conversation is re-prefilled; during a reply, when the back-end supports
//                  InferenceContext::dropOldest, the oldest cached positions are dropped and generation goes on.
#pragma once
#include "bq/chat/chat_template.h"
#include "bq/jobs/job.h"
#include "bq/runtime/inference.h"
#include "bq/runtime/sampler.h"
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bq {

enum class ContextOverflow : std::uint8_t { Error, SlidingWindow };

inline constexpr int kDefaultChatContext = 4096; // KV positions when ChatOptions::contextTokens is 0

struct ChatOptions {
    SamplerConfig sampler;
    int maxTokens = 256;       // per reply; 0 = until the context is full
    int contextTokens = 0;     // KV capacity; 0 = min(the model's maxSeqLen, kDefaultChatContext)
    ContextOverflow overflow = ContextOverflow::Error;
    int prefillChunk = 64;     // tokens per forward() while prefilling (the cancel-check granularity)
};

struct ChatStats {
    int promptTokens = 0;      // tokens prefilled for this turn
    int reusedTokens = 0;      // cached positions reused from earlier turns
    double promptSeconds = 0;
    int generatedTokens = 0;
    double generationSeconds = 0;
    int contextUsed = 0, contextCapacity = 0; // positions in the KV cache after the turn
    int droppedTurns = 0;      // whole turns removed by the sliding window this turn
    int droppedPositions = 0;  // cached positions removed by dropOldest this turn
    double promptTokensPerSecond() const noexcept { return promptSeconds > 0 ? promptTokens / promptSeconds : 0.0; }
    double generationTokensPerSecond() const noexcept
    {
        return generationSeconds > 0 ? generatedTokens / generationSeconds : 0.0;
    }
};

enum class ChatStopReason : std::uint8_t { EndOfTurn, MaxTokens, ContextFull, Cancelled, Error };
const char* chatStopReasonName(ChatStopReason reason) noexcept;

struct ChatReply {
    std::string text;          // the reply as streamed (complete UTF-8)
    ChatStopReason reason = ChatStopReason::EndOfTurn;
    std::string message;       // for Error: what went wrong
    ChatStats stats;
};

// Receives a reply as it is made; called on the session's thread, must return quickly.
class ChatEvents {
public:
    virtual ~ChatEvents() = default;
    virtual void promptProcessed(const ChatStats&) {} // the prompt is read (not called if cancelled before)
    // Complete UTF-8 characters only (never a split multi-byte sequence).
    virtual void text(std::string_view piece, const ChatStats& sofar) = 0;
    virtual void log(LogLevel, std::string_view) {}
};

class ChatSession {
public:
    // Allocates the KV cache; throws what InferenceModel::newContext throws (e.g. std::bad_alloc).
    ChatSession(std::shared_ptr<const InferenceModel> model, ChatTemplate chatTemplate, ChatOptions options = {});

    // Sets (or clears, with "") the system message and starts a new conversation.
    void setSystemPrompt(std::string system);
    // Sends a user message and generates the reply. Never throws: failures come back as reason Error with a
    // message, and the session stays usable (a cancelled reply is kept in the history, marked cancelled).
    ChatReply send(std::string_view userText, ChatEvents& events, const CancelToken& cancel);
    // Clears the history (keeping the system message) and the KV cache.
    void reset();

    const std::vector<ChatMessage>& history() const noexcept { return m_messages; }
    const ChatTemplate& chatTemplate() const noexcept { return m_template; }
    const ChatOptions& options() const noexcept { return m_options; }
    const ChatStats& lastStats() const noexcept { return m_lastStats; }
    // The tokens the KV cache holds, in order (its positions 0 .. position()-1).
    std::span<const std::int32_t> cachedTokens() const noexcept;
    // Logits of the last position forwarded (the reply's last token, or the prompt's end), unmodified by sampling.
    const std::vector<float>& lastLogits() const noexcept { return m_logits; }
    int contextCapacity() const noexcept;
    int contextUsed() const noexcept;
    // The prompt the next turn would render for `userText` (a preview; changes nothing).
    std::string previewPrompt(std::string_view userText) const;

private:
    ChatReply run(std::string_view userText, ChatEvents& events, const CancelToken& cancel);
    std::string renderWith(std::span<const ChatMessage> messages) const;
    void planTurn(ChatStats& stats, ChatEvents& events);
    bool prefill(ChatStats& stats, const CancelToken& cancel);
    bool makeRoomForOneToken(ChatStats& stats, ChatEvents& events);
    void clearCache();

    std::shared_ptr<const InferenceModel> m_model;
    ChatTemplate m_template;
    ChatOptions m_options;
    ChatSpecialStrings m_special;
    std::vector<std::int32_t> m_stopIds;
    Sampler m_sampler;
    std::unique_ptr<InferenceContext> m_ctx;

    std::vector<ChatMessage> m_messages;
    // The fed conversation: m_tokens[m_cacheStart..] are in the KV cache, then m_pending awaits prefill;
    // together they tokenize m_fedText (everything before m_cacheStart was dropped by dropOldest).
    std::vector<std::int32_t> m_tokens;
    std::size_t m_cacheStart = 0;
    std::vector<std::int32_t> m_pending;
    std::string m_fedText;
    std::vector<float> m_logits, m_scratch;
    ChatStats m_lastStats;
};

} // namespace bq
