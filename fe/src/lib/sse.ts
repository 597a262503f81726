// A streaming parser for Server-Sent Events (the WHATWG event-stream format),
// fed text chunks that may split anywhere: inside a line, between "\r" and
// "\n", or (with TextDecoder's stream mode, see `SseDecoder`) inside a UTF-8
// character.

export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  event: string;
  /** `data:` lines joined with "\n". */
  data: string;
  id?: string;
}

export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  private sawField = false;

  /** Feeds text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    this.buf += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (;;) {
      let i = start;
      let end = -1;
      let next = -1;
      while (i < this.buf.length) {
        const c = this.buf.charCodeAt(i);
        if (c === 10) {
          end = i;
          next = i + 1;
          break;
        }
        if (c === 13) {
          // A "\r" at the very end may be followed by "\n" in the next chunk: wait.
          if (i + 1 >= this.buf.length) break;
          end = i;
          next = this.buf.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
          break;
        }
        i++;
      }
      if (end < 0) break;
      this.line(this.buf.slice(start, end), out);
      start = next;
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  /** Ends the stream: a last line without its newline still counts, an unterminated event is dispatched. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.buf.length > 0) {
      const rest = this.buf.replace(/\r$/, '');
      this.buf = '';
      if (rest) this.line(rest, out);
    }
    this.dispatch(out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      this.dispatch(out);
      return;
    }
    if (line.startsWith(':')) return; // comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        this.sawField = true;
        break;
      case 'event':
        this.event = value;
        this.sawField = true;
        break;
      case 'id':
        this.id = value;
        break;
      default:
        break; // retry and unknown fields are ignored
    }
  }

  private dispatch(out: SseEvent[]): void {
    if (this.sawField && this.data.length > 0) {
      const ev: SseEvent = { event: this.event || 'message', data: this.data.join('\n') };
      if (this.id !== undefined) ev.id = this.id;
      out.push(ev);
    }
    this.data = [];
    this.event = '';
    this.sawField = false;
  }
}

/** Bytes in, events out: UTF-8 characters split across chunks are kept whole. */
export class SseDecoder {
  private decoder = new TextDecoder('utf-8');
  private parser = new SseParser();

  push(bytes: Uint8Array): SseEvent[] {
    return this.parser.push(this.decoder.decode(bytes, { stream: true }));
  }

  end(): SseEvent[] {
    const tail = this.decoder.decode();
    return [...(tail ? this.parser.push(tail) : []), ...this.parser.end()];
  }
}

/** What one OpenAI `chat.completion.chunk` event means to the playground. */
export type ChatStreamItem =
  | { kind: 'delta'; text: string }
  | { kind: 'usage'; prompt_tokens: number; completion_tokens: number; total_tokens?: number }
  | { kind: 'finish'; reason: string }
  | { kind: 'meta'; model?: string; id?: string }
  | { kind: 'error'; message: string }
  | { kind: 'done' };

/** Interprets one SSE event of an OpenAI chat stream. */
export function interpretChatEvent(ev: SseEvent): ChatStreamItem[] {
  const data = ev.data.trim();
  if (data === '[DONE]') return [{ kind: 'done' }];
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return [{ kind: 'error', message: `The stream sent data that is not JSON: ${data.slice(0, 120)}` }];
  }
  const obj = (json ?? {}) as Record<string, unknown>;
  const items: ChatStreamItem[] = [];
  if (ev.event === 'error' || obj.error) {
    const err = obj.error as { message?: string } | string | undefined;
    const message = typeof err === 'string' ? err : err?.message ?? 'The stream ended with an error';
    return [{ kind: 'error', message }];
  }
  if (typeof obj.model === 'string' || typeof obj.id === 'string') {
    items.push({ kind: 'meta', model: obj.model as string | undefined, id: obj.id as string | undefined });
  }
  const choices = Array.isArray(obj.choices) ? (obj.choices as Record<string, unknown>[]) : [];
  for (const c of choices) {
    const delta = (c.delta ?? {}) as Record<string, unknown>;
    if (typeof delta.content === 'string' && delta.content.length > 0) {
      items.push({ kind: 'delta', text: delta.content });
    }
    if (typeof c.finish_reason === 'string') items.push({ kind: 'finish', reason: c.finish_reason });
  }
  const usage = obj.usage as Record<string, number> | null | undefined;
  if (usage && typeof usage.prompt_tokens === 'number') {
    items.push({
      kind: 'usage',
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens ?? 0,
      total_tokens: usage.total_tokens,
    });
  }
  return items;
}
