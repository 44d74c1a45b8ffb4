// Chat templates rendered in C++ (no Jinja engine). A model's Jinja text (tokenizer_config.json `chat_template`
// or GGUF `tokenizer.chat_template`) is only inspected for recognisable markers to pick one of the built-in
// renderers; each renderer reproduces the reference template's output byte for byte for plain
// system/user/assistant conversations (no tools, no images):
//
//   completion  no template: the contents are concatenated as is and the model continues the text
//               (llama2.c models such as stories260K, and the built-in demo model)
//   llama2      <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] ...
//               (contents strip()ped, as the Llama-2-chat template does)
//   llama3      <|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>...
//               + "<|start_header_id|>assistant<|end_header_id|>\n\n" as the generation prompt
//   chatml      <|im_start|>{role}\n{content}<|im_end|>\n ... + "<|im_start|>assistant\n" (Qwen 2 / 2.5)
//               With a default system prompt (SmolLM2, Qwen2.5: the Jinja text writes a literal
//               "<|im_start|>system\n...<|im_end|>" when messages[0] is not a system message), that system turn
//               opens every non-empty conversation that does not start with its own system message.
//   qwen3       chatml, plus Qwen3's reasoning rules: an earlier assistant turn keeps only the text after its
//               last </think>; the final assistant turn after the last user query gets a <think> block
//   mistral     <s>[INST] {user} [/INST]{assistant}</s>[INST] ... (a system prompt is prepended to the first
//               user message followed by a blank line, as later Mistral templates do)
//   zephyr      <|system|>\n{system}</s>\n<|user|>\n{user}</s>\n<|assistant|>\n{assistant}</s>\n ...
//               + "<|assistant|>\n"
//
// Special tokens appear in the rendered text as their strings (bos, eos, <|im_start|>, ...); encodeChat()
// tokenizes with parseSpecial so they become their ids.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bq {

class Tokenizer;

enum class ChatRole : std::uint8_t { System, User, Assistant };
const char* chatRoleName(ChatRole role) noexcept; // "system", "user", "assistant"

struct ChatMessage {
    ChatRole role = ChatRole::User;
    std::string content;
    bool cancelled = false; // an assistant reply stopped by the user: content is the partial text
};

enum class ChatTemplateKind : std::uint8_t { Completion, Llama2, Llama3, ChatML, Qwen3, Mistral, Zephyr };

// The bos/eos strings a template writes (from the tokenizer: its pieces for bosId()/eosId()).
struct ChatSpecialStrings {
    std::string bos = "<s>";
    std::string eos = "</s>";
};

class ChatTemplate {
public:
    explicit ChatTemplate(ChatTemplateKind kind = ChatTemplateKind::Completion, std::string defaultSystem = {})
        : m_kind(kind), m_defaultSystem(std::move(defaultSystem))
    {
    }
    ChatTemplateKind kind() const noexcept { return m_kind; }
    // The system prompt the template inserts when the conversation has none ("" = none; chatml only).
    const std::string& defaultSystem() const noexcept { return m_defaultSystem; }
    const char* name() const noexcept;

    // The prompt text for `messages`; addGenerationPrompt appends what opens the assistant's reply.
    std::string render(std::span<const ChatMessage> messages, bool addGenerationPrompt,
                       const ChatSpecialStrings& special = {}) const;
    // True when render() writes the BOS string itself (so encoding must not add another BOS).
    bool rendersBos() const noexcept;
    // Pieces that end an assistant turn besides the tokenizer's EOS (e.g. "<|eot_id|>", "<|im_end|>").
    std::vector<std::string> endOfTurnPieces() const;

private:
    ChatTemplateKind m_kind;
    std::string m_defaultSystem;
};

// The built-in names: completion (aliases plain, none), llama2, llama3, chatml (alias qwen, qwen2), qwen3,
// mistral, zephyr. Case-insensitive; nullopt for an unknown name.
std::optional<ChatTemplateKind> chatTemplateFromName(std::string_view name);
std::vector<std::string> chatTemplateNames();

// Picks the renderer for a model's Jinja chat template by its markers; Completion when the text is empty or
// unrecognised.
ChatTemplateKind detectChatTemplate(std::string_view jinja) noexcept;

// The default system prompt of a ChatML Jinja template: the first string literal that starts with
// "<|im_start|>system" + newline and holds plain text up to "<|im_end|>" (Jinja escapes \n \' \" \\ decoded);
// "" when there is none (the system turn is then only written from a system message).
std::string detectChatMLDefaultSystem(std::string_view jinja);

// detectChatTemplate plus, for chatml, detectChatMLDefaultSystem: the renderer for a model's own template.
ChatTemplate chatTemplateForModel(std::string_view jinja);

ChatSpecialStrings chatSpecialStrings(const Tokenizer& tokenizer);

// Tokenizes a rendered prompt: special-token strings become their ids; BOS is added when the template does
// not write it and the tokenizer adds one by default (only if withBos, i.e. at the start of a sequence).
std::vector<std::int32_t> encodeChatText(const Tokenizer& tokenizer, const ChatTemplate& chatTemplate,
                                         std::string_view text, bool withBos);

// Token ids that end the assistant's reply: the tokenizer's stop ids, the template's end-of-turn pieces that
// exist in the vocabulary, and BOS for the completion template (llama2.c models emit BOS between stories).
std::vector<std::int32_t> chatStopIds(const Tokenizer& tokenizer, const ChatTemplate& chatTemplate);

} // namespace bq
