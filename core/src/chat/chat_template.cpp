// The built-in chat template renderers. Each follows its reference Jinja template statement by statement
// (see chat_template.h for the shapes); Python/Jinja string methods are spelled out below.
#include "bq/chat/chat_template.h"
#include "bq/tokenizer/tokenizer.h"
#include <algorithm>
#include <cctype>

namespace bq {

namespace {

constexpr std::string_view kPyWhitespace = " \t\n\r\f\v";

// Jinja `trim` / Python str.strip() (ASCII whitespace is what chat text meets in practice).
std::string strip(std::string_view s, std::string_view chars = kPyWhitespace)
{
    const auto b = s.find_first_not_of(chars);
    if (b == std::string_view::npos)
        return {};
    const auto e = s.find_last_not_of(chars);
    return std::string(s.substr(b, e - b + 1));
}

std::string lstrip(std::string_view s, std::string_view chars)
{
    const auto b = s.find_first_not_of(chars);
    return b == std::string_view::npos ? std::string() : std::string(s.substr(b));
}

std::string rstrip(std::string_view s, std::string_view chars)
{
    const auto e = s.find_last_not_of(chars);
    return e == std::string_view::npos ? std::string() : std::string(s.substr(0, e + 1));
}

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

std::string renderCompletion(std::span<const ChatMessage> messages)
{
    std::string out;
    for (const ChatMessage& m : messages)
        out += m.content;
    return out;
}

// meta-llama/Llama-2-*-chat-hf: system folded into the first message; user turns open with bos, assistant
// turns close with eos; other roles are not rendered.
std::string renderLlama2(std::span<const ChatMessage> messages, const ChatSpecialStrings& sp)
{
    std::string system;
    bool hasSystem = false;
    if (!messages.empty() && messages[0].role == ChatRole::System) {
        system = messages[0].content;
        hasSystem = true;
        messages = messages.subspan(1);
    }
    std::string out;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        std::string content = m.content;
        if (i == 0 && hasSystem)
            content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + m.content;
        // Appended piece by piece: GCC 12 reports a false -Wrestrict for "literal" + std::string&&.
        if (m.role == ChatRole::User) {
            out += sp.bos;
            out += "[INST] ";
            out += strip(content);
            out += " [/INST]";
        } else if (m.role == ChatRole::Assistant) {
            out += ' ';
            out += strip(content);
            out += ' ';
            out += sp.eos;
        }
    }
    return out;
}

// Meta-Llama-3-*-Instruct (the template in ../shared/tokenizers/llama3 appends the header unconditionally; the
// instruct models' own template does so under add_generation_prompt, which is what we follow).
std::string renderLlama3(std::span<const ChatMessage> messages, bool addGenerationPrompt, const ChatSpecialStrings& sp)
{
    std::string out;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (i == 0)
            out += sp.bos;
        out += std::string("<|start_header_id|>") + chatRoleName(messages[i].role) + "<|end_header_id|>\n\n" +
               strip(messages[i].content) + "<|eot_id|>";
    }
    if (addGenerationPrompt)
        out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
}

std::string renderChatML(std::span<const ChatMessage> messages, bool addGenerationPrompt,
                         const std::string& defaultSystem)
{
    std::string out;
    // SmolLM2: {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n' }}
    if (!defaultSystem.empty() && !messages.empty() && messages[0].role != ChatRole::System)
        out += "<|im_start|>system\n" + defaultSystem + "<|im_end|>\n";
    for (const ChatMessage& m : messages)
        out += std::string("<|im_start|>") + chatRoleName(m.role) + "\n" + m.content + "<|im_end|>\n";
    if (addGenerationPrompt)
        out += "<|im_start|>assistant\n";
    return out;
}

// Qwen/Qwen3-* tokenizer_config.json, without the tools and tool-response branches.
std::string renderQwen3(std::span<const ChatMessage> messages, bool addGenerationPrompt)
{
    std::string out;
    if (!messages.empty() && messages[0].role == ChatRole::System)
        out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
    // ns.last_query_index: the last user message (none of ours is a <tool_response> wrapper).
    std::size_t lastQuery = messages.empty() ? 0 : messages.size() - 1;
    for (std::size_t k = messages.size(); k-- > 0;)
        if (messages[k].role == ChatRole::User) {
            lastQuery = k;
            break;
        }
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        if (m.role == ChatRole::User || (m.role == ChatRole::System && i != 0)) {
            out += std::string("<|im_start|>") + chatRoleName(m.role) + "\n" + m.content + "<|im_end|>\n";
        } else if (m.role == ChatRole::Assistant) {
            std::string content = m.content, reasoning;
            const auto close = m.content.rfind("</think>");
            if (close != std::string::npos) {
                content = lstrip(std::string_view(m.content).substr(close + 8), "\n");
                const std::string before = rstrip(m.content.substr(0, m.content.find("</think>")), "\n");
                const auto open = before.rfind("<think>");
                reasoning = lstrip(open == std::string::npos ? before : before.substr(open + 7), "\n");
            }
            const bool last = i + 1 == messages.size();
            if (i > lastQuery && (last || !reasoning.empty()))
                out += "<|im_start|>assistant\n<think>\n" + strip(reasoning, "\n") + "\n</think>\n\n" +
                       lstrip(content, "\n");
            else
                out += "<|im_start|>assistant\n" + content;
            out += "<|im_end|>\n";
        }
    }
    if (addGenerationPrompt)
        out += "<|im_start|>assistant\n";
    return out;
}

// mistralai/Mistral-7B-Instruct-v0.2; a leading system message is prepended to the first user turn.
std::string renderMistral(std::span<const ChatMessage> messages, const ChatSpecialStrings& sp)
{
    std::string system;
    if (!messages.empty() && messages[0].role == ChatRole::System) {
        system = messages[0].content;
        messages = messages.subspan(1);
    }
    std::string out = sp.bos;
    bool firstUser = true;
    for (const ChatMessage& m : messages) {
        if (m.role == ChatRole::User) {
            const std::string content = firstUser && !system.empty() ? system + "\n\n" + m.content : m.content;
            firstUser = false;
            out += "[INST] " + content + " [/INST]";
        } else if (m.role == ChatRole::Assistant) {
            out += m.content + sp.eos;
        }
    }
    return out;
}

// HuggingFaceH4/zephyr-7b-beta (rendered with trim_blocks, so each turn ends "</s>\n").
std::string renderZephyr(std::span<const ChatMessage> messages, bool addGenerationPrompt, const ChatSpecialStrings& sp)
{
    std::string out;
    for (const ChatMessage& m : messages)
        out += std::string("<|") + chatRoleName(m.role) + "|>\n" + m.content + sp.eos + "\n";
    if (addGenerationPrompt && !messages.empty())
        out += "<|assistant|>\n";
    return out;
}

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

} // namespace

const char* chatRoleName(ChatRole role) noexcept
{
    switch (role) {
    case ChatRole::System: return "system";
    case ChatRole::User: return "user";
    case ChatRole::Assistant: return "assistant";
    }
    return "user";
}

const char* ChatTemplate::name() const noexcept
{
    switch (m_kind) {
    case ChatTemplateKind::Completion: return "completion";
    case ChatTemplateKind::Llama2: return "llama2";
    case ChatTemplateKind::Llama3: return "llama3";
    case ChatTemplateKind::ChatML: return "chatml";
    case ChatTemplateKind::Qwen3: return "qwen3";
    case ChatTemplateKind::Mistral: return "mistral";
    case ChatTemplateKind::Zephyr: return "zephyr";
    }
    return "completion";
}

std::string ChatTemplate::render(std::span<const ChatMessage> messages, bool addGenerationPrompt,
                                 const ChatSpecialStrings& special) const
{
    switch (m_kind) {
    case ChatTemplateKind::Completion: return renderCompletion(messages);
    case ChatTemplateKind::Llama2: return renderLlama2(messages, special);
    case ChatTemplateKind::Llama3: return renderLlama3(messages, addGenerationPrompt, special);
    case ChatTemplateKind::ChatML: return renderChatML(messages, addGenerationPrompt, m_defaultSystem);
    case ChatTemplateKind::Qwen3: return renderQwen3(messages, addGenerationPrompt);
    case ChatTemplateKind::Mistral: return renderMistral(messages, special);
    case ChatTemplateKind::Zephyr: return renderZephyr(messages, addGenerationPrompt, special);
    }
    return renderCompletion(messages);
}

bool ChatTemplate::rendersBos() const noexcept
{
    return m_kind == ChatTemplateKind::Llama2 || m_kind == ChatTemplateKind::Llama3 ||
           m_kind == ChatTemplateKind::Mistral;
}

std::vector<std::string> ChatTemplate::endOfTurnPieces() const
{
    switch (m_kind) {
    case ChatTemplateKind::Llama3: return {"<|eot_id|>", "<|end_of_text|>"};
    case ChatTemplateKind::ChatML:
    case ChatTemplateKind::Qwen3: return {"<|im_end|>", "<|endoftext|>"};
    case ChatTemplateKind::Llama2:
    case ChatTemplateKind::Mistral:
    case ChatTemplateKind::Zephyr: return {"</s>"};
    case ChatTemplateKind::Completion: return {};
    }
    return {};
}

std::optional<ChatTemplateKind> chatTemplateFromName(std::string_view name)
{
    const std::string n = lower(name);
    if (n == "completion" || n == "plain" || n == "none")
        return ChatTemplateKind::Completion;
    if (n == "llama2" || n == "llama-2")
        return ChatTemplateKind::Llama2;
    if (n == "llama3" || n == "llama-3")
        return ChatTemplateKind::Llama3;
    if (n == "chatml" || n == "qwen" || n == "qwen2")
        return ChatTemplateKind::ChatML;
    if (n == "qwen3")
        return ChatTemplateKind::Qwen3;
    if (n == "mistral")
        return ChatTemplateKind::Mistral;
    if (n == "zephyr")
        return ChatTemplateKind::Zephyr;
    return std::nullopt;
}

std::vector<std::string> chatTemplateNames()
{
    return {"completion", "llama2", "llama3", "chatml", "qwen3", "mistral", "zephyr"};
}

ChatTemplateKind detectChatTemplate(std::string_view jinja) noexcept
{
    if (contains(jinja, "<|im_start|>"))
        return contains(jinja, "</think>") ? ChatTemplateKind::Qwen3 : ChatTemplateKind::ChatML;
    if (contains(jinja, "<|start_header_id|>"))
        return ChatTemplateKind::Llama3;
    if (contains(jinja, "<|user|>"))
        return ChatTemplateKind::Zephyr;
    if (contains(jinja, "[INST]"))
        return contains(jinja, "<<SYS>>") ? ChatTemplateKind::Llama2 : ChatTemplateKind::Mistral;
    return ChatTemplateKind::Completion;
}

std::string detectChatMLDefaultSystem(std::string_view jinja)
{
    constexpr std::string_view open = "<|im_start|>system";
    constexpr std::string_view close = "<|im_end|>";
    // Linear in the text: a scan that fails at a quote also fails for every opening before that quote, so the
    // search resumes after it.
    for (std::size_t at = jinja.find(open); at != std::string_view::npos; at = jinja.find(open, at)) {
        std::size_t i = at + open.size();
        at = i;
        if (jinja.substr(i, 1) == "\n")
            i += 1;
        else if (jinja.substr(i, 2) == "\\n")
            i += 2;
        else
            continue;
        const std::size_t end = jinja.find(close, i);
        if (end == std::string_view::npos)
            return {};
        // Inside one string literal: no unescaped quote (which would end it, e.g. ' + message['content'] + ').
        std::string text;
        std::size_t k = i;
        for (; k < end; ++k) {
            const char c = jinja[k];
            if (c == '\\' && k + 1 < end) {
                const char e = jinja[++k];
                text += e == 'n' ? '\n' : e == 't' ? '\t' : e; // \' \" \\ stand for themselves
            } else if (c == '\'' || c == '"' || c == '{' || c == '}') {
                break;
            } else {
                text += c;
            }
        }
        if (k == end && !text.empty())
            return text;
        at = std::max(at, k);
    }
    return {};
}

ChatTemplate chatTemplateForModel(std::string_view jinja)
{
    const ChatTemplateKind kind = detectChatTemplate(jinja);
    return ChatTemplate(kind, kind == ChatTemplateKind::ChatML ? detectChatMLDefaultSystem(jinja) : std::string());
}

ChatSpecialStrings chatSpecialStrings(const Tokenizer& tokenizer)
{
    ChatSpecialStrings s;
    s.bos = tokenizer.bosId() >= 0 ? tokenizer.piece(tokenizer.bosId()) : std::string();
    s.eos = tokenizer.eosId() >= 0 ? tokenizer.piece(tokenizer.eosId()) : std::string();
    return s;
}

std::vector<std::int32_t> encodeChatText(const Tokenizer& tokenizer, const ChatTemplate& chatTemplate,
                                         std::string_view text, bool withBos)
{
    EncodeOptions options;
    options.parseSpecial = chatTemplate.kind() != ChatTemplateKind::Completion;
    options.addBos = withBos && !chatTemplate.rendersBos() && tokenizer.addsBosByDefault();
    return tokenizer.encode(text, options);
}

std::vector<std::int32_t> chatStopIds(const Tokenizer& tokenizer, const ChatTemplate& chatTemplate)
{
    std::vector<std::int32_t> ids = tokenizer.stopIds();
    for (const std::string& piece : chatTemplate.endOfTurnPieces()) {
        const std::int32_t id = tokenizer.findPiece(piece);
        if (id >= 0)
            ids.push_back(id);
    }
    if (chatTemplate.kind() == ChatTemplateKind::Completion && tokenizer.bosId() >= 0)
        ids.push_back(tokenizer.bosId());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

} // namespace bq
