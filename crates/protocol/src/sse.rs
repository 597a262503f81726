//! Server-sent events: an incremental decoder that survives any chunking
//! (LF, CR or CRLF line ends, comments, multi-line data, events split
//! anywhere) and an encoder.

use bytes::BytesMut;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event: Option<String>,
    pub data: String,
}

/// Incremental decoder: feed it bytes as they arrive.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
    /// A `\r` ended the last chunk: a `\n` starting the next one belongs to it.
    pending_cr: bool,
    /// [`Decoder::feed_cuts`]: the last chunk ended inside a line.
    partial: bool,
}

impl Decoder {
    /// Feeds bytes; returns the events they complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        self.feed_each(chunk, |e, _| out.push(e));
        out
    }

    /// Like [`Decoder::feed`], with each event the offset in `chunk` just past
    /// the blank line that ended it: the bytes of the stream up to there hold
    /// whole events only (a proxy can forward them as they are).
    pub fn feed_framed(&mut self, chunk: &[u8]) -> Vec<(Event, usize)> {
        let mut out = Vec::new();
        self.feed_each(chunk, |e, end| out.push((e, end)));
        out
    }

    /// Hands each event `chunk` completes to `f`, with the offset just past
    /// the blank line that ended it.
    fn feed_each(&mut self, chunk: &[u8], mut f: impl FnMut(Event, usize)) {
        let mut at = self.start(chunk);
        while let Some((start, eol)) = self.next_line(chunk, &mut at) {
            let event = if self.buf.is_empty() {
                // The whole line is in this chunk: no copy.
                self.line(&chunk[start..eol])
            } else {
                let mut line = std::mem::take(&mut self.buf);
                line.extend_from_slice(&chunk[start..eol]);
                let event = self.line(&line);
                line.clear();
                self.buf = line;
                event
            };
            if let Some(e) = event {
                f(e, at);
            }
        }
        self.buf.extend_from_slice(&chunk[at..]);
    }

    /// Where events may be cut: the offset in `chunk` just past each blank
    /// line (the end of an event, or of a block of comments). Nothing is
    /// decoded: a proxy that forwards bytes as they are finds its cut points
    /// here at the cost of a scan. A decoder is fed either this way or with
    /// [`Decoder::feed`] / [`Decoder::feed_framed`], not both.
    pub fn feed_cuts(&mut self, chunk: &[u8]) -> Vec<usize> {
        let mut cuts = Vec::new();
        let mut at = self.start(chunk);
        while let Some((start, eol)) = self.next_line(chunk, &mut at) {
            if start == eol && !self.partial {
                cuts.push(at);
            }
            self.partial = false;
        }
        self.partial |= at < chunk.len();
        cuts
    }

    /// The cuts of [`Decoder::feed_cuts`] that a proxy looking inside only
    /// some events needs: the first and the last of `chunk`, and the two
    /// around each event that holds one of `marks` (ranges of `chunk`, sorted
    /// by start, holding no line end). Between two cuts returned lie whole
    /// events; the cuts left out only part events nobody looks inside. A chunk
    /// whose lines all end in `\n` is searched near those places only, not
    /// line by line; any other is scanned whole (as [`Decoder::feed_cuts`]).
    pub fn feed_cuts_around(
        &mut self,
        chunk: &[u8],
        marks: &[std::ops::Range<usize>],
    ) -> Vec<usize> {
        if self.pending_cr || memchr::memchr(b'\r', chunk).is_some() {
            return self.feed_cuts(chunk);
        }
        let Some(&end_byte) = chunk.last() else {
            return Vec::new();
        };
        // A `\n` opening the chunk is a blank line when the last chunk ended
        // with a line end: a cut just past it.
        let leading = !self.partial && chunk[0] == b'\n';
        self.partial = end_byte != b'\n';
        let Some(last) = last_blank_line(chunk).or(leading.then_some(1)) else {
            return Vec::new();
        };
        let first = if leading {
            1
        } else {
            next_blank_line(chunk, 0).unwrap_or(last)
        };
        let mut cuts = vec![first];
        for mark in marks {
            let covered = cuts[cuts.len() - 1];
            if mark.start < covered {
                continue;
            }
            let Some(end) = next_blank_line(chunk, mark.end) else {
                // The event holding the mark ends in a later chunk (and so
                // does every one after it).
                break;
            };
            // A blank line found here ends past `covered` (its first `\n`
            // lies in the range searched).
            if let Some(start) = last_blank_line(&chunk[covered..mark.start]) {
                cuts.push(covered + start);
            }
            cuts.push(end);
        }
        if last > cuts[cuts.len() - 1] {
            cuts.push(last);
        }
        cuts
    }

    /// Where reading `chunk` starts: past a `\n` that ends the `\r` the last
    /// chunk ended with.
    fn start(&mut self, chunk: &[u8]) -> usize {
        let skip = self.pending_cr && chunk.first() == Some(&b'\n');
        self.pending_cr = false;
        usize::from(skip)
    }

    /// The next line ending in `chunk` from `*at` (`\n`, `\r\n` or `\r`):
    /// where the line starts and ends; `*at` moves past its terminator.
    fn next_line(&mut self, chunk: &[u8], at: &mut usize) -> Option<(usize, usize)> {
        let start = *at;
        let eol = start + memchr::memchr2(b'\n', b'\r', &chunk[start..])?;
        *at = eol + 1;
        if chunk[eol] == b'\r' {
            if chunk.get(*at) == Some(&b'\n') {
                *at += 1;
            } else if *at == chunk.len() {
                self.pending_cr = true;
            }
        }
        Some((start, eol))
    }

    /// One line; a blank line completes the event being read, if it has data.
    fn line(&mut self, line: &[u8]) -> Option<Event> {
        if line.is_empty() {
            let event = self.event.take();
            return self.data.take().map(|data| Event { event, data });
        }
        if line[0] == b':' {
            return None;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.find(':') {
            Some(i) => (
                &line[..i],
                line[i + 1..].strip_prefix(' ').unwrap_or(&line[i + 1..]),
            ),
            None => (&line[..], ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// In text whose lines end in `\n`: the offset just past the first blank
/// line whose line end comes at or after `from` (`from` not just past a `\n`).
fn next_blank_line(text: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let nl = at + memchr::memchr(b'\n', &text[at..])?;
        if text.get(nl + 1) == Some(&b'\n') {
            return Some(nl + 2);
        }
        at = nl + 1;
    }
}

/// In text whose lines end in `\n`: the offset just past the last blank line
/// that lies wholly in it (not one opening it: its line end is unseen).
fn last_blank_line(text: &[u8]) -> Option<usize> {
    let mut to = text.len();
    loop {
        let nl = memchr::memrchr(b'\n', &text[..to])?;
        if nl > 0 && text[nl - 1] == b'\n' {
            return Some(nl + 1);
        }
        to = nl;
    }
}

/// Appends one event.
pub fn encode(out: &mut BytesMut, event: Option<&str>, data: &str) {
    encode_name(out, event);
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"\n");
}

/// Appends one event whose data is `value` as JSON, serialized in place
/// (compact JSON has no line breaks: one `data:` line).
pub fn encode_json(out: &mut BytesMut, event: Option<&str>, value: &impl serde::Serialize) {
    use bytes::BufMut;
    encode_name(out, event);
    out.extend_from_slice(b"data: ");
    // Writing into memory cannot fail, nor can serializing a JSON value or
    // a struct of plain fields (what callers pass).
    let _ = serde_json::to_writer(out.writer(), value);
    out.extend_from_slice(b"\n\n");
}

/// The `event:` line of an event that has a name.
fn encode_name(out: &mut BytesMut, event: Option<&str>) {
    if let Some(e) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(e.as_bytes());
        out.extend_from_slice(b"\n");
    }
}

/// The event name and data of one whole event in the plain shape both APIs
/// send — an optional `event:` line, one `data:` line, a blank line, LF line
/// ends — read in place; `None` for any other shape (decode those with a
/// [`Decoder`]). `raw` is one event as [`Decoder::feed_cuts`] delimits it.
pub fn plain_event(raw: &[u8]) -> Option<(Option<&str>, &str)> {
    let body = raw.strip_suffix(b"\n\n")?;
    if memchr::memchr(b'\r', body).is_some() {
        return None;
    }
    let (event, data) = match memchr::memchr(b'\n', body) {
        None => (None, body),
        Some(nl) => (Some(field(&body[..nl], b"event:")?), &body[nl + 1..]),
    };
    if memchr::memchr(b'\n', data).is_some() {
        return None;
    }
    let data = field(data, b"data:")?;
    let event = event.map(std::str::from_utf8).transpose().ok()?;
    Some((event, std::str::from_utf8(data).ok()?))
}

/// The value of the line `line` when it is the field `name` (`name` with its
/// colon), without the one space that may follow the colon.
fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let value = line.strip_prefix(name)?;
    Some(value.strip_prefix(b" ").unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_events_are_read_in_place_and_other_shapes_left_to_the_decoder() {
        assert_eq!(plain_event(b"data: [DONE]\n\n"), Some((None, "[DONE]")));
        assert_eq!(
            plain_event(b"data:{\"a\":1}\n\n"),
            Some((None, "{\"a\":1}"))
        );
        assert_eq!(
            plain_event(b"event: message_stop\ndata: {}\n\n"),
            Some((Some("message_stop"), "{}"))
        );
        assert_eq!(
            plain_event(b"data:  two spaces\n\n"),
            Some((None, " two spaces"))
        );
        for other in [
            &b"data: a\r\n\r\n"[..],
            b"data: a\ndata: b\n\n",
            b": comment\ndata: a\n\n",
            b"id: 1\ndata: a\n\n",
            b"data: a\n",
            b"event: e\n\n",
            b"data: \xff\n\n",
        ] {
            assert_eq!(
                plain_event(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn cuts_around_marks_leave_out_the_ends_of_unmarked_events() {
        let chunk = b"data: a\n\ndata: b\n\ndata: c\n\ndata: usage\n\ndata: d\n\ndata: e";
        let mark = chunk.windows(5).position(|w| w == b"usage").unwrap();
        let marks = [std::ops::Range {
            start: mark,
            end: mark + 5,
        }];
        let mut d = Decoder::default();
        assert_eq!(d.feed_cuts_around(chunk, &marks), [9, 27, 40, 49]);
        // The chunk ended inside a line: a `\n` opening the next one ends it.
        assert_eq!(d.feed_cuts_around(b"\n\ndata: f\n", &[]), [2]);
        // It ended with a line end: a `\n` opening the next one is a blank line.
        assert_eq!(d.feed_cuts_around(b"\ndata: g\n\n", &[]), [1, 10]);
        // CR line ends: every cut, as `feed_cuts` finds them.
        let crlf = b"data: a\r\n\r\ndata: b\r\n\r\ndata: c\r\n\r\n";
        assert_eq!(
            Decoder::default().feed_cuts_around(crlf, &[]),
            Decoder::default().feed_cuts(crlf)
        );
        assert_eq!(Decoder::default().feed_cuts(crlf).len(), 3);
    }

    const STREAM: &str = "event: message_start\r\ndata: {\"a\":1}\r\n\r\n: keep-alive\n\ndata: line1\ndata: line2\n\ndata:[DONE]\n\n";

    fn all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut d = Decoder::default();
        chunks.iter().flat_map(|c| d.feed(c)).collect()
    }

    #[test]
    fn whole_and_split_agree() {
        let whole = all(&[STREAM.as_bytes()]);
        assert_eq!(whole.len(), 3);
        assert_eq!(
            whole[0],
            Event {
                event: Some("message_start".into()),
                data: "{\"a\":1}".into()
            }
        );
        assert_eq!(whole[1].data, "line1\nline2");
        assert_eq!(whole[2].data, "[DONE]");
        let bytes = STREAM.as_bytes();
        for split in 0..bytes.len() {
            assert_eq!(
                all(&[&bytes[..split], &bytes[split..]]),
                whole,
                "split at {split}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(all(&singles), whole);
    }

    #[test]
    fn json_events_decode_to_their_value() {
        let mut out = BytesMut::new();
        let v = serde_json::json!({"text": "two\nlines", "n": 1});
        encode_json(&mut out, Some("x"), &v);
        encode_json(&mut out, None, &v);
        let events = all(&[&out]);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event.as_deref(), Some("x"));
        assert_eq!(events[1].event, None);
        for e in &events {
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&e.data).unwrap(),
                v
            );
        }
    }

    #[test]
    fn encode_round_trips() {
        let mut out = BytesMut::new();
        encode(&mut out, Some("x"), "a\nb");
        assert_eq!(&out[..], b"event: x\ndata: a\ndata: b\n\n");
        assert_eq!(
            all(&[&out]),
            vec![Event {
                event: Some("x".into()),
                data: "a\nb".into()
            }]
        );
    }
}
