#!/usr/bin/env python3
"""SmolLM2-135M-Instruct's chat template: bitstudio's C++ render against the real Jinja output.

The template is read from the GGUF (tokenizer.chat_template, with gguf-py) and rendered with jinja2 the way
transformers' apply_chat_template does (trim_blocks, lstrip_blocks, add_generation_prompt=True); bitstudio renders
the same conversations with `bitstudio-cli chat MODEL --render FILE`. Compared byte for byte.

Usage: chat_template_smollm2.py CLI [MODEL.gguf]   (MODEL defaults to oracle_env.smollm2_path())
Exit 0: equal; 1: different; 77: skipped (missing model or packages outside CI).
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_env import skip_or_fail, smollm2_path, use_oracle_python  # noqa: E402

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "  Tell me a joke.\n"}],
    [{"role": "system", "content": ""}, {"role": "user", "content": "empty system"}],
    [{"role": "user", "content": "unicode: Ünïcödé 中文 😀 and {{ braces }} and {% tags %}"}],
    [{"role": "assistant", "content": "An assistant first."}, {"role": "user", "content": "ok"}],
]


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    cli = sys.argv[1]
    model = sys.argv[2] if len(sys.argv) == 3 else smollm2_path()
    if not os.path.exists(model):
        skip_or_fail("SmolLM2-135M-Instruct is missing: " + model + " (bash packaging/fetch-models.sh)")
    use_oracle_python(["gguf", "jinja2"])
    import gguf
    import jinja2

    source = gguf.GGUFReader(model).fields["tokenizer.chat_template"].contents()
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(source)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, messages in enumerate(CONVERSATIONS):
            expected = template.render(messages=messages, add_generation_prompt=True, bos_token="", eos_token="")
            path = os.path.join(tmp, "messages.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(messages, f)
            r = subprocess.run([cli, "chat", model, "--render", path], capture_output=True)
            if r.returncode != 0:
                print(f"conversation {i}: bitstudio-cli chat --render failed: {r.stderr.decode('utf-8', 'replace')}")
                bad += 1
                continue
            ours = r.stdout.decode("utf-8")
            if ours != expected:
                bad += 1
                print(f"conversation {i} differs:\n  jinja2:    {expected!r}\n  bitstudio: {ours!r}")
    print(f"{len(CONVERSATIONS)} conversations, {bad} differ")
    print("PASS" if bad == 0 else "FAIL")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
