"""The GGUF LLM's place in the model folder, what is missing and how to get it, llama.cpp's
server command: no model needed (the real model runs in tests/integration/test_stage2_llm.py)."""

from __future__ import annotations

import importlib.util

from service.settings import Settings
from service.supervisor import llm_server_model
from vad.stage2.llama import choice_grammar, gguf_file, llama_missing, server_command
from vad.stage2.loading import stage2_status

GGUF = "downloads/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"


def settings_for(model_dir, **stage2) -> Settings:
    return Settings(_env_file=None, model_dir=model_dir, stage2=stage2)


def test_gguf_file_is_the_catalog_entrys_pulled_file(tmp_path):
    assert gguf_file(tmp_path, "smollm2-135m") == tmp_path / GGUF
    assert gguf_file(tmp_path, "") is None
    assert gguf_file(tmp_path, "nanodet") is None  # not an LLM
    assert gguf_file(tmp_path, "no-such-model") is None


def test_an_unpulled_gguf_is_named_with_the_pull_command(tmp_path):
    status = stage2_status(settings_for(tmp_path))
    assert not status.enabled
    assert "smollm2-135m not pulled" in status.reason
    assert "vad models pull smollm2-135m" in status.reason


def test_a_pulled_gguf_without_llama_cpp_names_the_setup_script(tmp_path, monkeypatch):
    (tmp_path / GGUF).parent.mkdir(parents=True)
    (tmp_path / GGUF).write_bytes(b"GGUF")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llama_cpp" else real(name, *a),
    )
    assert "scripts/llama-setup.sh" in llama_missing()
    status = stage2_status(settings_for(tmp_path))
    assert status.llm == f"llama.cpp:{tmp_path / GGUF}"
    assert "llama_cpp not installed" in status.reason and "llama-setup.sh" in status.reason


def test_vad_up_serves_the_pulled_gguf_only_without_an_llm_configured(tmp_path):
    assert llm_server_model(settings_for(tmp_path)) is None  # not pulled
    (tmp_path / GGUF).parent.mkdir(parents=True)
    (tmp_path / GGUF).write_bytes(b"GGUF")
    assert llm_server_model(settings_for(tmp_path)) == tmp_path / GGUF
    assert llm_server_model(settings_for(tmp_path, llm_url="http://127.0.0.1:9/v1")) is None
    assert llm_server_model(settings_for(tmp_path, enabled=False)) is None
    assert llm_server_model(settings_for(tmp_path, llm_gguf="")) is None
    (tmp_path / "stage2" / "llm").mkdir(parents=True)
    (tmp_path / "stage2" / "llm" / "config.json").write_text("{}")
    assert llm_server_model(settings_for(tmp_path)) is None  # a transformers LLM is there


def test_server_command_and_choice_grammar(tmp_path):
    argv = server_command(tmp_path / "m.gguf", 8123, "smollm2-135m", threads=1, context=2048)
    assert argv[1:3] == ["-m", "llama_cpp.server"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "8123"
    assert argv[argv.index("--model_alias") + 1] == "smollm2-135m"
    assert choice_grammar(["0", "0.5", "1"]) == 'root ::= "0" | "0.5" | "1"'
