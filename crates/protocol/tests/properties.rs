//! Property tests: SSE decoding and stream translation do not depend on how
//! the bytes are chunked, and no input makes the translators panic.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use tokgateway_protocol::json::last_member;
use tokgateway_protocol::sse::Decoder;
use tokgateway_protocol::translate::{self, AnthropicToOpenAi, OpenAiToAnthropic};

const ANTHROPIC: &str = concat!(
    "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"c\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\r\n\r\n",
    ": comment line\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"héllo wörld ✓\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"[1,2]}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

const OPENAI: &str = concat!(
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"ça \"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"va\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"k\",\"function\":{\"name\":\"g\",\"arguments\":\"{\\\"x\\\"\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\": true}\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n",
    "data: [DONE]\n\n",
);

fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(bytes[last..p].to_vec());
        last = p;
    }
    out.push(bytes[last..].to_vec());
    out
}

fn decode(chunks: &[Vec<u8>]) -> Vec<(Option<String>, String)> {
    let mut d = Decoder::default();
    chunks
        .iter()
        .flat_map(|c| d.feed(c))
        .map(|e| (e.event, e.data))
        .collect()
}

/// (text, tool arguments, finish) seen by an OpenAI client of an Anthropic stream.
fn a2o(events: &[(Option<String>, String)]) -> (String, String, Vec<String>) {
    let mut t = AnthropicToOpenAi::new("m", 1, true);
    let mut out = Vec::new();
    for (_, d) in events {
        t.push(d, &mut out);
    }
    let chunks: Vec<Value> = out
        .iter()
        .filter(|(_, d)| d != "[DONE]")
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let text = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    let args = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    let finish = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str().map(str::to_owned))
        .collect();
    (text, args, finish)
}

fn o2a(events: &[(Option<String>, String)]) -> Vec<(Option<&'static str>, String)> {
    let mut t = OpenAiToAnthropic::new("m");
    let mut out = Vec::new();
    for (_, d) in events {
        t.push(d, &mut out);
    }
    t.finish(&mut out);
    out
}

fn arb_json() -> impl Strategy<Value = Value> {
    arb_json_with("[a-z_ ]{0,8}")
}

/// [`arb_json`] with strings drawn from the regex `strings`.
fn arb_json_with(strings: &'static str) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        strings.prop_map(Value::String),
        prop_oneof![
            Just("user"),
            Just("assistant"),
            Just("tool"),
            Just("text"),
            Just("tool_use"),
            Just("image_url"),
            Just("function")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("role"),
                        Just("content"),
                        Just("type"),
                        Just("messages"),
                        Just("tool_calls"),
                        Just("function"),
                        Just("arguments"),
                        Just("text"),
                        Just("tools"),
                        Just("tool_choice"),
                        Just("index"),
                        Just("delta"),
                        Just("choices"),
                        Just("content_block"),
                        Just("usage"),
                        Just("system"),
                        Just("stop"),
                        Just("image_url"),
                        Just("url"),
                        Just("source")
                    ]
                    .prop_map(str::to_owned),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sse_chunking_does_not_matter(cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        for fixture in [ANTHROPIC, OPENAI] {
            let whole = decode(&[fixture.as_bytes().to_vec()]);
            prop_assert_eq!(decode(&split(fixture.as_bytes(), &cuts)), whole);
        }
    }

    #[test]
    fn stream_translation_does_not_depend_on_chunking(cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let events = decode(&split(ANTHROPIC.as_bytes(), &cuts));
        let (text, args, finish) = a2o(&events);
        prop_assert_eq!(text, "héllo wörld ✓");
        prop_assert_eq!(serde_json::from_str::<Value>(&args).unwrap(), json!({"a": [1, 2]}));
        prop_assert_eq!(finish, vec!["tool_calls".to_owned()]);

        let events = decode(&split(OPENAI.as_bytes(), &cuts));
        let out = o2a(&events);
        prop_assert_eq!(out, o2a(&decode(&[OPENAI.as_bytes().to_vec()])));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(data in prop::collection::vec(any::<u8>(), 0..512), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let _ = decode(&split(&data, &cuts));
    }

    #[test]
    fn arbitrary_json_never_panics_the_translators(v in arb_json()) {
        let _ = translate::openai_to_anthropic_request(&v, "m");
        let _ = translate::anthropic_to_openai_request(&v, "m");
        let _ = translate::anthropic_to_openai_response(&v, 0);
        let _ = translate::openai_to_anthropic_response(&v);
        let s = v.to_string();
        let mut out = Vec::new();
        AnthropicToOpenAi::new("m", 0, true).push(&s, &mut out);
        let mut t = OpenAiToAnthropic::new("m");
        t.push(&s, &mut out);
        t.finish(&mut out);
        t.finish(&mut out);
    }
}

#[test]
fn o2a_rebuilds_tool_input_and_closes_blocks_once() {
    let out = o2a(&decode(&[OPENAI.as_bytes().to_vec()]));
    let data: Vec<Value> = out
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = data
        .iter()
        .filter_map(|d| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "ça va");
    let args: String = data
        .iter()
        .filter_map(|d| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"x": true})
    );
    let stops = data
        .iter()
        .filter(|d| d["type"] == "content_block_stop")
        .count();
    let starts = data
        .iter()
        .filter(|d| d["type"] == "content_block_start")
        .count();
    assert_eq!((starts, stops), (2, 2));
    assert_eq!(
        data.iter().filter(|d| d["type"] == "message_stop").count(),
        1
    );
}

#[test]
fn reasoning_effort_becomes_anthropic_extended_thinking() {
    let req = |extra: Value| {
        let mut r = json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1000,
            "temperature": 0.2, "top_p": 0.5, "reasoning_effort": "medium"});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        translate::openai_to_anthropic_request(&r, "claude").unwrap()
    };
    let a = req(json!({}));
    assert_eq!(
        a["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    // The budget must stay below max_tokens, with room for the answer.
    assert_eq!(a["max_tokens"], 5096);
    // Thinking takes the default temperature and a top_p of at least 0.95.
    assert_eq!(a.get("temperature"), None);
    assert_eq!(a["top_p"], 0.95);
    // Anthropic refuses thinking with a forced tool: then there is none.
    let forced = req(json!({"tool_choice": "required",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}));
    assert_eq!(forced.get("thinking"), None);
    assert_eq!(forced["temperature"], 0.2);
    assert_eq!(
        req(json!({"reasoning_effort": "minimal"})).get("thinking"),
        None
    );
    assert_eq!(req(json!({"max_tokens": 20000}))["max_tokens"], 20000);
}

proptest! {
    /// Where `feed_framed` says an event ends, the stream so far holds whole
    /// events only: decoding exactly those bytes gives the events seen so far,
    /// however the stream was chunked (what a byte-for-byte proxy relies on).
    #[test]
    fn framed_offsets_cut_between_events(cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        for stream in [ANTHROPIC, OPENAI] {
            let bytes = stream.as_bytes();
            let chunks = split(bytes, &cuts);
            let mut d = Decoder::default();
            let mut seen = Vec::new();
            let mut base = 0;
            for c in &chunks {
                for (e, end) in d.feed_framed(c) {
                    prop_assert!(end <= c.len());
                    seen.push((e.event, e.data));
                    let prefix = decode(&[bytes[..base + end].to_vec()]);
                    prop_assert_eq!(&prefix, &seen);
                }
                base += c.len();
            }
            prop_assert_eq!(seen, decode(&[bytes.to_vec()]));
        }
    }
}

proptest! {
    /// `feed_cuts` finds every place `feed_framed` ends an event, and the
    /// stream up to any cut decodes to whole events only, however it is chunked.
    #[test]
    fn cuts_are_event_boundaries(cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        for stream in [ANTHROPIC, OPENAI] {
            let bytes = stream.as_bytes();
            let chunks = split(bytes, &cuts);
            let (mut framed, mut scan) = (Decoder::default(), Decoder::default());
            let (mut ends, mut found) = (Vec::new(), Vec::new());
            let mut base = 0;
            for c in &chunks {
                ends.extend(framed.feed_framed(c).into_iter().map(|(_, e)| base + e));
                found.extend(scan.feed_cuts(c).into_iter().map(|e| base + e));
                base += c.len();
            }
            for e in &ends {
                prop_assert!(found.contains(e), "event end {} not among the cuts {:?}", e, found);
            }
            let all = decode(&[bytes.to_vec()]);
            for &cut in &found {
                let whole = ends.iter().filter(|&&e| e <= cut).count();
                prop_assert_eq!(decode(&[bytes[..cut].to_vec()]), all[..whole].to_vec());
            }
        }
    }
}

/// A stream with LF line ends only (the shape real upstreams send), with a
/// comment block, an empty event (a blank line after a blank line) and
/// usage named in every chunk, as OpenAI streams with usage do.
const OPENAI_LF: &str = concat!(
    ": hi\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],\"usage\":null}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n",
    "data: [DONE]\n\n",
);

proptest! {
    /// The cuts `feed_cuts_around` returns are cuts `feed_cuts` finds, the
    /// first and last of each chunk among them, and each event naming a mark
    /// lies alone between two of them, however the stream is chunked.
    #[test]
    fn cuts_around_marks_isolate_the_marked_events(cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        for stream in [ANTHROPIC, OPENAI, OPENAI_LF] {
            let chunks = split(stream.as_bytes(), &cuts);
            let (mut every, mut around) = (Decoder::default(), Decoder::default());
            for c in &chunks {
                let mut marks: Vec<_> = ["usage", "[DONE]", "message_stop"]
                    .iter()
                    .flat_map(|n| {
                        let n = n.as_bytes();
                        c.windows(n.len())
                            .enumerate()
                            .filter(move |(_, w)| *w == n)
                            .map(move |(at, _)| at..at + n.len())
                    })
                    .collect();
                marks.sort_unstable_by_key(|m| m.start);
                let all = every.feed_cuts(c);
                let some = around.feed_cuts_around(c, &marks);
                for cut in &some {
                    prop_assert!(all.contains(cut), "{} is no cut in {:?}", cut, all);
                }
                prop_assert_eq!(some.first(), all.first());
                prop_assert_eq!(some.last(), all.last());
                prop_assert!(some.windows(2).all(|w| w[0] < w[1]));
                for pair in some.windows(2) {
                    let part = &c[pair[0]..pair[1]];
                    if marks.iter().any(|m| pair[0] <= m.start && m.end <= pair[1]) {
                        prop_assert!(
                            decode(&[part.to_vec()]).len() <= 1,
                            "{:?} holds a mark and more than one event",
                            String::from_utf8_lossy(part)
                        );
                    }
                }
            }
        }
    }
}

proptest! {
    /// Reading `usage` backwards from an object's end finds what a parser
    /// finds: the top-level member, never one nested deeper or inside a
    /// string (strings here hold quotes, backslashes, brackets and colons),
    /// compact or pretty-printed.
    #[test]
    fn last_member_agrees_with_a_parser(
        members in prop::collection::vec(
            (prop_oneof![Just("usage"), Just("choices"), Just("id"), Just("content")], arb_json_with(r#"[a-z"\\{}\[\]:, ]{0,8}"#)),
            0..6,
        )
    ) {
        let object: serde_json::Map<String, Value> =
            members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let object = Value::Object(object);
        for text in [object.to_string(), serde_json::to_string_pretty(&object).unwrap()] {
            let found = last_member(text.as_bytes(), "usage");
            match (found, object.get("usage")) {
                (Ok(Some(raw)), Some(want)) => {
                    prop_assert_eq!(&serde_json::from_slice::<Value>(raw).unwrap(), want);
                }
                (Ok(None), None) => {}
                (found, want) => prop_assert!(false, "{:?} vs {:?} in {}", found, want, text),
            }
        }
    }
}

proptest! {
    /// Where `plain_event` reads an event in place, it reads what the
    /// decoder reads, for events built from random fields and values.
    #[test]
    fn plain_events_read_as_the_decoder_reads_them(
        lines in prop::collection::vec(
            (prop_oneof![Just("data:"), Just("data: "), Just("event: "), Just("event:"), Just(": "), Just("id: ")], "[a-z\\[\\]{}\": \r]{0,6}"),
            1..4,
        ),
        end in prop_oneof![Just("\n\n"), Just("\r\n\r\n"), Just("\n")],
    ) {
        let mut raw = String::new();
        for (name, value) in &lines {
            raw.push_str(name);
            raw.push_str(value);
            raw.push('\n');
        }
        raw.pop();
        raw.push_str(end);
        if let Some((event, data)) = tokgateway_protocol::sse::plain_event(raw.as_bytes()) {
            let decoded = Decoder::default().feed(raw.as_bytes());
            prop_assert_eq!(decoded.len(), 1, "{:?}", raw);
            prop_assert_eq!(decoded[0].event.as_deref(), event);
            prop_assert_eq!(decoded[0].data.as_str(), data);
        }
    }
}
