import { describe, expect, it } from 'vitest';
import { ApiClient } from './client';
import { streamChat } from './chat';
import { apiError, mockFetch } from '../test/mockFetch';

function sse(chunks: string[], headers: Record<string, string> = {}): Response {
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(ctl) {
      for (const c of chunks) ctl.enqueue(enc.encode(c));
      ctl.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', ...headers } });
}

const EVENTS =
  'data: {"id":"x","model":"loopback","choices":[{"delta":{"role":"assistant","content":""}}]}\r\n\r\n' +
  'data: {"id":"x","choices":[{"delta":{"content":"echo: "}}]}\r\n\r\n' +
  'data: {"id":"x","choices":[{"delta":{"content":"hi"},"finish_reason":"stop"}]}\r\n\r\n' +
  'data: {"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16}}\r\n\r\n' +
  'data: [DONE]\r\n\r\n';

describe('streamChat', () => {
  it('streams text, reads headers and final usage, whatever the chunking', async () => {
    let sent: unknown;
    const chunks: string[] = [];
    for (let i = 0; i < EVENTS.length; i += 7) chunks.push(EVENTS.slice(i, i + 7));
    const f = mockFetch(({ body }) => {
      sent = body;
      return sse(chunks, { 'x-request-id': 'req_123', 'x-gateway-provider': 'loopback' });
    });
    const seen: string[] = [];
    let t = 0;
    const r = await streamChat(
      new ApiClient({ key: 'k', fetch: f }),
      { model: 'loopback', messages: [{ role: 'user', content: 'hi' }] },
      undefined,
      { onText: (s) => seen.push(s), now: () => (t += 10) },
    );
    expect(sent).toMatchObject({ model: 'loopback', stream: true, stream_options: { include_usage: true } });
    expect(r.text).toBe('echo: hi');
    expect(seen[seen.length - 1]).toBe('echo: hi');
    expect(r.requestId).toBe('req_123');
    expect(r.provider).toBe('loopback');
    expect(r.promptTokens).toBe(12);
    expect(r.completionTokens).toBe(4);
    expect(r.finishReason).toBe('stop');
    expect(r.ttftMs).not.toBeNull();
    expect(r.latencyMs).toBeGreaterThanOrEqual(r.ttftMs!);
  });

  it('shows the gateway message when the request is refused', async () => {
    const f = mockFetch(() => apiError(404, 'model `nope` is not served by this gateway'));
    await expect(
      streamChat(new ApiClient({ key: 'k', fetch: f }), { model: 'nope', messages: [] }, undefined),
    ).rejects.toThrow('model `nope` is not served by this gateway');
  });

  it('fails on an error event in the stream', async () => {
    const f = mockFetch(() => sse(['data: {"choices":[{"delta":{"content":"par"}}]}\n\n', 'data: {"error":{"message":"upstream broke off"}}\n\n']));
    await expect(
      streamChat(new ApiClient({ key: 'k', fetch: f }), { model: 'm', messages: [] }, undefined),
    ).rejects.toThrow('upstream broke off');
  });

  it('fails when the stream is cut before the end', async () => {
    const f = mockFetch(() => sse(['data: {"choices":[{"delta":{"content":"par"}}]}\n\n']));
    await expect(
      streamChat(new ApiClient({ key: 'k', fetch: f }), { model: 'm', messages: [] }, undefined),
    ).rejects.toThrow(/ended before/);
  });
});
