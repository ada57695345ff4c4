"""Requests logged in the Responses API's and Anthropic's shapes are put in chat form with everything a replay
needs; what chat completions cannot carry makes the request not replayable, with the reason."""

from __future__ import annotations

import json

from tiertool.ingest.canonical import from_anthropic, from_responses

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_responses_tool_turns_become_chat_tool_turns():
    chat = from_responses({
        "model": "gpt-4o", "instructions": "Be brief.", "tool_choice": {"type": "function", "name": "weather"},
        "tools": [{"type": "function", "name": "weather", "parameters": WEATHER}],
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Paris and Rome?"}]},
                  {"type": "reasoning", "id": "rs_1", "summary": []},
                  {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"city": "Paris"}'},
                  {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": '{"city": "Rome"}'},
                  {"type": "function_call_output", "call_id": "c1", "output": "18C"},
                  {"type": "function_call_output", "call_id": "c2", "output": {"temp": 21}}],
        "max_output_tokens": 64})
    assert chat.unreplayable is None
    assert [m["role"] for m in chat.messages] == ["system", "user", "assistant", "tool", "tool"]
    assert [c["id"] for c in chat.messages[2]["tool_calls"]] == ["c1", "c2"]  # parallel calls: one turn
    assert chat.messages[4]["content"] == json.dumps({"temp": 21})
    assert chat.params == {"tools": [{"type": "function", "function": {"name": "weather", "parameters": WEATHER}}],
                           "tool_choice": {"type": "function", "function": {"name": "weather"}},
                           "max_completion_tokens": 64}


def test_what_chat_completions_cannot_carry_is_named():
    built_in = from_responses({"input": "news?", "tools": [{"type": "web_search_preview"}]})
    assert "built-in tool 'web_search_preview'" in built_in.unreplayable
    stored = from_responses({"input": [{"type": "item_reference", "id": "msg_9"}], "previous_response_id": "r_1"})
    assert "item_reference" in stored.unreplayable and "r_1" in stored.unreplayable
    server = from_anthropic({"messages": [{"role": "user", "content": "news?"}],
                             "tools": [{"type": "web_search_20250305", "name": "web_search"}]})
    assert "server tool 'web_search_20250305'" in server.unreplayable
    by_file = from_anthropic({"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}]})
    assert "image block given by file reference" in by_file.unreplayable


def test_anthropic_thinking_history_and_tool_choice():
    chat = from_anthropic({
        "system": [{"type": "text", "text": "Be brief."}], "max_tokens": 99, "top_k": 5,
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "tools": [{"name": "weather", "description": "Weather", "input_schema": WEATHER}],
        "messages": [{"role": "user", "content": "Paris?"},
                     {"role": "assistant", "content": [
                         {"type": "thinking", "thinking": "look it up", "signature": "s1"},
                         {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}}]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
                         {"type": "text", "text": "18C"}]}, {"type": "text", "text": "And tomorrow?"}]}]})
    assert chat.unreplayable is None
    assert [m["role"] for m in chat.messages] == ["system", "user", "assistant", "tool", "user"]
    assert chat.messages[0]["content"] == "Be brief."  # plain text blocks stay a string
    assert chat.messages[2]["thinking_blocks"][0]["signature"] == "s1"
    assert json.loads(chat.messages[2]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert chat.messages[3] == {"role": "tool", "tool_call_id": "t1", "content": "18C"}
    assert chat.params["tool_choice"] == "required" and chat.params["parallel_tool_calls"] is False
    assert chat.params["top_k"] == 5 and chat.params["max_tokens"] == 99
