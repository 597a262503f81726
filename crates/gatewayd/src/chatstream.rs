//! Turning the chat path's SSE answer into another protocol's stream, for the
//! endpoints that run through the chat path as OpenAI clients
//! (`/v1/responses`, Gemini's `streamGenerateContent`).

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use tokgateway_protocol::translate::Out;

use crate::sse;

/// A stream translator fed chat.completion.chunk data.
pub trait ChatSink: Send + 'static {
    fn push(&mut self, data: &str, out: &mut Vec<Out>);
    /// After `[DONE]`.
    fn finish(&mut self, out: &mut Vec<Out>);
    /// The chat stream failed or was cut.
    fn fail(&mut self, message: &str, out: &mut Vec<Out>);
    /// Whether the final event was emitted.
    fn done(&self) -> bool;
}

/// Called once when the sink is done (to store what it produced).
pub type OnDone<S> = Box<dyn FnOnce(&S) -> BoxFuture<'static, ()> + Send>;

/// The chat SSE `body` through `sink`, as SSE. After the sink's final event
/// the chat stream is still read to its end, so its ledger row records a
/// completed request; a client that goes away drops the chat stream, which
/// cancels the upstream request as on the chat routes.
pub fn translate<S: ChatSink>(
    body: Body,
    sink: S,
    on_done: Option<OnDone<S>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    struct St<S: ChatSink> {
        upstream: axum::body::BodyDataStream,
        decoder: sse::Decoder,
        sink: S,
        on_done: Option<OnDone<S>>,
        ended: bool,
    }
    let st = St {
        upstream: body.into_data_stream(),
        decoder: sse::Decoder::default(),
        sink,
        on_done,
        ended: false,
    };
    futures_util::stream::unfold(st, |mut st| async move {
        if st.ended {
            return None;
        }
        let mut out = Vec::new();
        loop {
            match st.upstream.next().await {
                Some(Ok(chunk)) => {
                    for ev in st.decoder.feed(&chunk) {
                        if st.sink.done() {
                            continue;
                        }
                        if ev.data == "[DONE]" {
                            st.sink.finish(&mut out);
                        } else if let Some(msg) = stream_error(&ev.data) {
                            st.sink.fail(&msg, &mut out);
                        } else {
                            st.sink.push(&ev.data, &mut out);
                        }
                    }
                }
                Some(Err(e)) => {
                    if !st.sink.done() {
                        st.sink
                            .fail(&format!("the upstream stream failed: {e}"), &mut out);
                    }
                    st.ended = true;
                }
                None => {
                    if !st.sink.done() {
                        st.sink
                            .fail("the upstream stream ended before it finished", &mut out);
                    }
                    st.ended = true;
                }
            }
            if st.sink.done()
                && let Some(f) = st.on_done.take()
            {
                f(&st.sink).await;
            }
            if st.ended || !out.is_empty() {
                break;
            }
        }
        if out.is_empty() {
            return None;
        }
        let mut buf = BytesMut::new();
        for (event, data) in &out {
            sse::encode(&mut buf, *event, data);
        }
        Some((Ok(buf.freeze()), st))
    })
}

/// The message of an in-stream OpenAI error event (`{"error": {...}}`).
fn stream_error(data: &str) -> Option<String> {
    if !data.starts_with("{\"error\"") {
        return None;
    }
    Some(
        crate::upstream::error_message(data.as_bytes())
            .unwrap_or_else(|| "upstream error".to_owned()),
    )
}
