// Streams a chat completion through gatewayd: POST /v1/chat/completions with
// stream:true, read with fetch + ReadableStream, parsed with the SSE parser.

import { ApiError, type ApiClient } from './client';
import { SseDecoder, interpretChatEvent, type SseEvent } from '../lib/sse';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  temperature?: number;
}

export interface ChatResult {
  text: string;
  requestId: string | null;
  provider: string | null;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  finishReason: string | null;
  /** From sending the request to the end of the stream. */
  latencyMs: number;
  /** From sending the request to the first text. */
  ttftMs: number | null;
}

export interface ChatCallbacks {
  /** Called with the reply so far, whenever text arrives. */
  onText?: (text: string) => void;
  /** Called once the response headers are in. */
  onHeaders?: (requestId: string | null, provider: string | null) => void;
  now?: () => number;
}

export async function streamChat(
  client: ApiClient,
  req: ChatRequest,
  signal: AbortSignal | undefined,
  cb: ChatCallbacks = {},
): Promise<ChatResult> {
  const now = cb.now ?? (() => performance.now());
  const started = now();
  const res = await client.send('/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify({ ...req, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  const result: ChatResult = {
    text: '',
    requestId: res.headers.get('x-request-id'),
    provider: res.headers.get('x-gateway-provider'),
    model: null,
    promptTokens: null,
    completionTokens: null,
    finishReason: null,
    latencyMs: 0,
    ttftMs: null,
  };
  cb.onHeaders?.(result.requestId, result.provider);
  if (!res.body) throw new ApiError('http', res.status, 'The gateway sent no stream.');

  const decoder = new SseDecoder();
  const reader = res.body.getReader();
  let done = false;
  const handle = (events: SseEvent[]) => {
    for (const ev of events) {
      for (const item of interpretChatEvent(ev)) {
        switch (item.kind) {
          case 'delta':
            if (result.ttftMs === null) result.ttftMs = now() - started;
            result.text += item.text;
            cb.onText?.(result.text);
            break;
          case 'usage':
            result.promptTokens = item.prompt_tokens;
            result.completionTokens = item.completion_tokens;
            break;
          case 'finish':
            result.finishReason = item.reason;
            break;
          case 'meta':
            if (item.model) result.model = item.model;
            break;
          case 'error':
            throw new ApiError('http', res.status, item.message, item.message);
          case 'done':
            done = true;
            break;
        }
      }
    }
  };
  try {
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      if (value) handle(decoder.push(value));
    }
    handle(decoder.end());
  } finally {
    reader.releaseLock();
  }
  result.latencyMs = now() - started;
  if (!done && result.finishReason === null) {
    throw new ApiError('http', res.status, 'The stream ended before the reply was complete.');
  }
  return result;
}
