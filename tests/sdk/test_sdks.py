"""The official OpenAI and Anthropic Python SDKs, unchanged, through gatewayd:
non-stream, stream, tools and tool results, in both cross-protocol directions,
and the OpenAI Responses API (as Codex uses it) on every kind of upstream."""

import json

import anthropic
import openai
import pytest

WEATHER_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def oai(gateway):
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key="unused-in-dev", max_retries=0)


@pytest.fixture
def ant(gateway):
    return anthropic.Anthropic(base_url=gateway, api_key="unused-in-dev", max_retries=0)


@pytest.mark.parametrize("model", ["loopback", "claude-test", "gem-test"])
def test_openai_sdk_chat(oai, model):
    r = oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello there"}])
    assert r.choices[0].message.content == "loopback: hello there"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens == 3 and r.usage.prompt_tokens > 0


@pytest.mark.parametrize("model", ["loopback", "claude-test", "gem-test"])
def test_openai_sdk_stream(oai, model):
    stream = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "loopback: one two three"
    assert finish == "stop"
    assert usage.completion_tokens == 4


@pytest.mark.parametrize("model", ["loopback", "claude-test", "gem-test"])
def test_openai_sdk_tools_and_tool_results(oai, model):
    messages = [{"role": "user", "content": "Oslo"}]
    r = oai.chat.completions.create(model=model, messages=messages, tools=[WEATHER_OPENAI], tool_choice="required")
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    # Streamed, the argument fragments rebuild the same JSON.
    args, name = "", None
    for chunk in oai.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER_OPENAI], tool_choice="required", stream=True
    ):
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name = tc.function.name or name
            args += tc.function.arguments or ""
    assert name == "get_weather" and json.loads(args) == {"city": "Oslo"}
    # The tool result goes back; the model answers with text.
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny and 21C"},
    ]
    r = oai.chat.completions.create(model=model, messages=messages, tools=[WEATHER_OPENAI])
    assert r.choices[0].message.content == "loopback: sunny and 21C"


@pytest.mark.parametrize("model", ["loopback", "gpt-test", "gem-test"])
def test_anthropic_sdk_messages(ant, model):
    m = ant.messages.create(
        model=model, max_tokens=64, system="be brief", messages=[{"role": "user", "content": "hi you"}]
    )
    assert m.content[0].text == "loopback: hi you"
    assert m.stop_reason == "end_turn"
    assert m.usage.output_tokens == 3


@pytest.mark.parametrize("model", ["loopback", "gpt-test", "gem-test"])
def test_anthropic_sdk_stream(ant, model):
    with ant.messages.stream(model=model, max_tokens=64, messages=[{"role": "user", "content": "a b c d"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "loopback: a b c d"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 5


@pytest.mark.parametrize("model", ["loopback", "gpt-test", "gem-test"])
def test_anthropic_sdk_tools_and_tool_results(ant, model):
    messages = [{"role": "user", "content": "Lima"}]
    m = ant.messages.create(
        model=model, max_tokens=64, messages=messages, tools=[WEATHER_ANTHROPIC], tool_choice={"type": "any"}
    )
    assert m.stop_reason == "tool_use"
    use = next(b for b in m.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"city": "Lima"}
    # Streamed: the SDK rebuilds `input` from input_json_delta events.
    with ant.messages.stream(
        model=model, max_tokens=64, messages=messages, tools=[WEATHER_ANTHROPIC], tool_choice={"type": "any"}
    ) as s:
        final = s.get_final_message()
    streamed = next(b for b in final.content if b.type == "tool_use")
    assert streamed.input == {"city": "Lima"}, "tool_use must not arrive with an empty input"
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in m.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "cloudy"}]},
    ]
    m = ant.messages.create(model=model, max_tokens=64, messages=messages, tools=[WEATHER_ANTHROPIC])
    assert m.content[0].text == "loopback: cloudy"


def test_errors_reach_the_sdks_in_their_own_shape(oai, ant):
    with pytest.raises(openai.NotFoundError) as e:
        oai.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert "no-such-model" in str(e.value)
    with pytest.raises(anthropic.NotFoundError) as e:
        ant.messages.create(model="no-such-model", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="loopback", messages="not a list")


def test_models_list(oai):
    ids = {m.id for m in oai.models.list()}
    assert {"loopback", "claude-test", "gpt-test"} <= ids


WEATHER_RESPONSES = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
# loopback direct, an OpenAI, an Anthropic and a Gemini upstream (translated),
# and an OpenAI upstream that serves /responses itself (passed through).
RESPONSES_MODELS = ["loopback", "gpt-test", "claude-test", "gem-test", "native-test"]


@pytest.mark.parametrize("model", RESPONSES_MODELS)
def test_openai_sdk_responses(oai, model):
    r = oai.responses.create(model=model, instructions="Be brief.", input="hello there")
    assert r.status == "completed"
    assert r.output_text == "loopback: hello there"
    assert r.usage.output_tokens == 3 and r.usage.input_tokens > 0
    # The follow-up continues the stored conversation.
    r2 = oai.responses.create(model=model, previous_response_id=r.id, input="and again")
    assert r2.output_text == "loopback: and again"
    assert r2.usage.input_tokens > r.usage.input_tokens, "the history was sent upstream"
    if model != "native-test":  # passed-through responses are stored by their upstream
        assert oai.responses.retrieve(r.id).output_text == "loopback: hello there"


@pytest.mark.parametrize("model", RESPONSES_MODELS)
def test_openai_sdk_responses_stream(oai, model):
    stream = oai.responses.create(model=model, input="one two three", stream=True)
    kinds, text, final = [], "", None
    for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            final = event.response
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert text == "loopback: one two three"
    assert final.output_text == text
    assert final.usage.output_tokens == 4


@pytest.mark.parametrize("model", RESPONSES_MODELS)
def test_openai_sdk_responses_tools_and_tool_outputs(oai, model):
    r = oai.responses.create(model=model, input="Oslo", tools=[WEATHER_RESPONSES], tool_choice="required")
    call = next(item for item in r.output if item.type == "function_call")
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Oslo"}
    # Streamed, the arguments arrive as deltas that rebuild them.
    stream = oai.responses.create(
        model=model, input="Lima", tools=[WEATHER_RESPONSES], tool_choice="required", stream=True
    )
    args = ""
    for event in stream:
        if event.type == "response.function_call_arguments.delta":
            args += event.delta
    assert json.loads(args) == {"city": "Lima"}
    # The tool's output continues the conversation.
    r2 = oai.responses.create(
        model=model,
        previous_response_id=r.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny and 21C"}],
        tools=[WEATHER_RESPONSES],
    )
    assert r2.output_text == "loopback: sunny and 21C"


def test_openai_sdk_responses_errors(oai):
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(model="no-such-model", input="x")
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve("resp_does_not_exist")
    with pytest.raises(openai.BadRequestError):
        oai.responses.create(model="loopback", input="x", previous_response_id=123)


# Google's Gen AI SDK against the native Gemini endpoints, on loopback and on
# both translated upstream kinds.
@pytest.fixture
def gem(gateway):
    from google import genai

    return genai.Client(api_key="unused-in-dev", http_options={"base_url": gateway, "api_version": "v1beta"})


@pytest.mark.parametrize("model", ["loopback", "gpt-test", "claude-test"])
def test_genai_sdk_generate_and_stream(gem, model):
    from google.genai import types

    r = gem.models.generate_content(
        model=model,
        contents="hello there",
        config=types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=50),
    )
    assert r.text == "loopback: hello there"
    assert r.usage_metadata.candidates_token_count == 3
    text = "".join(chunk.text or "" for chunk in gem.models.generate_content_stream(model=model, contents="one two three"))
    assert text == "loopback: one two three"
    assert gem.models.count_tokens(model=model, contents="count these words").total_tokens > 0


@pytest.mark.parametrize("model", ["loopback", "gpt-test", "claude-test"])
def test_genai_sdk_function_calls(gem, model):
    from google.genai import types

    weather = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="get_weather",
                description="Weather for a city",
                parameters=types.Schema(
                    type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]
                ),
            )
        ]
    )
    config = types.GenerateContentConfig(
        tools=[weather],
        tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")),
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    r = gem.models.generate_content(model=model, contents="Oslo", config=config)
    call = r.function_calls[0]
    assert call.name == "get_weather" and call.args == {"city": "Oslo"}
    # The function's response continues the conversation.
    contents = [
        types.Content(role="user", parts=[types.Part(text="Oslo")]),
        r.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"result": "sunny and 21C"})],
        ),
    ]
    r2 = gem.models.generate_content(model=model, contents=contents, config=types.GenerateContentConfig(tools=[weather]))
    assert r2.text == "loopback: sunny and 21C"


def test_genai_sdk_errors(gem):
    from google.genai import errors

    with pytest.raises(errors.ClientError) as e:
        gem.models.generate_content(model="no-such-model", contents="x")
    assert e.value.code == 404
