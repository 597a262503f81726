import { describe, expect, it } from 'vitest';
import { SseDecoder, SseParser, interpretChatEvent, type SseEvent } from './sse';

function parseAll(chunks: string[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

const STREAM =
  'data: {"id":"c1","choices":[{"delta":{"role":"assistant"}}]}\n\n' +
  ': keep-alive comment\n\n' +
  'data: {"id":"c1","choices":[{"delta":{"content":"Hel"}}]}\n\n' +
  'data: {"id":"c1","choices":[{"delta":{"content":"lo ✓"},"finish_reason":"stop"}]}\n\n' +
  'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n' +
  'data: [DONE]\n\n';

describe('SseParser', () => {
  it('parses whole events', () => {
    const evs = parseAll([STREAM]);
    expect(evs).toHaveLength(5);
    expect(evs[4]).toEqual({ event: 'message', data: '[DONE]' });
  });

  it('gives the same events however the stream is split', () => {
    const whole = parseAll([STREAM]);
    for (let i = 0; i <= STREAM.length; i++) {
      expect(parseAll([STREAM.slice(0, i), STREAM.slice(i)])).toEqual(whole);
    }
    // One character at a time.
    expect(parseAll(STREAM.split(''))).toEqual(whole);
  });

  it('accepts CRLF and lone CR line endings, even split between CR and LF', () => {
    const crlf = STREAM.replace(/\n/g, '\r\n');
    const cr = STREAM.replace(/\n/g, '\r');
    const whole = parseAll([STREAM]);
    expect(parseAll([crlf])).toEqual(whole);
    expect(parseAll([cr])).toEqual(whole);
    for (let i = 0; i <= crlf.length; i += 3) {
      expect(parseAll([crlf.slice(0, i), crlf.slice(i)])).toEqual(whole);
    }
    // "\r" at the end of one chunk, "\n" at the start of the next: one line break, not two.
    expect(parseAll(['data: a\r', '\ndata: b\r', '\n\r', '\n'])).toEqual([{ event: 'message', data: 'a\nb' }]);
  });

  it('joins multi-line data, keeps event names and ids, strips one leading space', () => {
    const evs = parseAll(['event: error\nid: 7\ndata:  two spaces\ndata:x\n\n']);
    expect(evs).toEqual([{ event: 'error', id: '7', data: ' two spaces\nx' }]);
  });

  it('ignores comments and events without data', () => {
    expect(parseAll([': hi\n\nevent: ping\n\nretry: 100\n\n'])).toEqual([]);
  });

  it('dispatches a last event that lacks its blank line at end of stream', () => {
    expect(parseAll(['data: [DONE]'])).toEqual([{ event: 'message', data: '[DONE]' }]);
    expect(parseAll(['data: x\r'])).toEqual([{ event: 'message', data: 'x' }]);
  });
});

describe('SseDecoder', () => {
  it('keeps UTF-8 characters split across byte chunks whole', () => {
    const bytes = new TextEncoder().encode('data: héllo 🌍 ✓\n\n');
    for (let i = 0; i <= bytes.length; i++) {
      const d = new SseDecoder();
      const evs = [...d.push(bytes.slice(0, i)), ...d.push(bytes.slice(i)), ...d.end()];
      expect(evs).toEqual([{ event: 'message', data: 'héllo 🌍 ✓' }]);
    }
  });
});

describe('interpretChatEvent', () => {
  it('reads deltas, finish reasons, usage and [DONE]', () => {
    const items = parseAll([STREAM]).flatMap(interpretChatEvent);
    const text = items.flatMap((i) => (i.kind === 'delta' ? [i.text] : [])).join('');
    expect(text).toBe('Hello ✓');
    expect(items).toContainEqual({ kind: 'finish', reason: 'stop' });
    expect(items).toContainEqual({ kind: 'usage', prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
    expect(items[items.length - 1]).toEqual({ kind: 'done' });
  });

  it('turns error events into errors with the gateway message', () => {
    const items = interpretChatEvent({ event: 'message', data: '{"error":{"message":"upstream failed","type":"api_error"}}' });
    expect(items).toEqual([{ kind: 'error', message: 'upstream failed' }]);
  });

  it('reports data that is not JSON', () => {
    const [item] = interpretChatEvent({ event: 'message', data: 'not json' });
    expect(item.kind).toBe('error');
  });
});
