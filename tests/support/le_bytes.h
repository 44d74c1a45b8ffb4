// A little-endian byte builder for hand-made (valid or hostile) files: the tests' GGUF, llama2.c and SentencePiece
// files and the fuzzers' seeds (fuzz/make_seeds.cpp) are written with it. Header-only, so the fuzz tree (built
// with clang, without the test library) includes it too.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace bqtest {

struct LeBytes {
    std::string b;

    LeBytes& raw(const std::string& s) { b += s; return *this; }
    template <typename T> LeBytes& put(T v)
    {
        char tmp[sizeof(T)];
        std::memcpy(tmp, &v, sizeof(T));
        b.append(tmp, sizeof(T));
        return *this;
    }
    LeBytes& u32(std::uint32_t v) { return put(v); }
    LeBytes& i32(std::int32_t v) { return put(v); }
    LeBytes& u64(std::uint64_t v) { return put(v); }
    LeBytes& f32(float v) { return put(v); }
    LeBytes& zeros(std::size_t n) { b.append(n, '\0'); return *this; }
    // Protobuf base-128 varint (SentencePiece .model files).
    LeBytes& varint(std::uint64_t v)
    {
        while (v >= 0x80) {
            b += static_cast<char>((v & 0x7F) | 0x80);
            v >>= 7;
        }
        b += static_cast<char>(v);
        return *this;
    }

    // GGUF v3: a string (u64 length + bytes), the header, string / uint32 key-values, zero padding to the alignment.
    LeBytes& str(const std::string& s) { u64(s.size()); return raw(s); }
    LeBytes& header(std::uint64_t tensors, std::uint64_t kvs) { raw("GGUF"); u32(3); u64(tensors); return u64(kvs); }
    LeBytes& kvStr(const std::string& k, const std::string& v) { str(k); u32(8); return str(v); }
    LeBytes& kvU32(const std::string& k, std::uint32_t v) { str(k); u32(4); return u32(v); }
    LeBytes& pad(std::size_t align = 32)
    {
        b.append((align - b.size() % align) % align, '\0');
        return *this;
    }
};

} // namespace bqtest
