import { useEffect, useRef, useState, type FormEvent } from 'react';
import { streamChat, type ChatMessage, type ChatResult } from '../api/chat';
import { ApiError } from '../api/client';
import { Icon } from '../components/Icon';
import { ErrorState } from '../components/States';
import { formatInt, formatMs } from '../lib/format';
import { useResource } from '../lib/hooks';
import { useSession } from '../session';

interface Run {
  text: string;
  requestId: string | null;
  provider: string | null;
  result: ChatResult | null;
  error: string | null;
  streaming: boolean;
}

export function Playground() {
  const { client } = useSession();
  const models = useResource(() => client.models(), [client]);
  const [model, setModel] = useState('');
  const [system, setSystem] = useState('You are a helpful assistant.');
  const [prompt, setPrompt] = useState('');
  const [maxTokens, setMaxTokens] = useState('');
  const [run, setRun] = useState<Run | null>(null);
  const abort = useRef<AbortController | null>(null);
  const replyRef = useRef<HTMLElement>(null);
  const ids = models.data?.data.map((m) => m.id) ?? [];
  const chosen = model || (ids.includes('loopback') ? 'loopback' : ids[0]) || '';

  useEffect(() => () => abort.current?.abort(), []);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    if (!prompt.trim() || !chosen) return;
    abort.current?.abort();
    const ctl = new AbortController();
    abort.current = ctl;
    const messages: ChatMessage[] = [];
    if (system.trim()) messages.push({ role: 'system', content: system.trim() });
    messages.push({ role: 'user', content: prompt });
    const mt = parseInt(maxTokens, 10);
    setRun({ text: '', requestId: null, provider: null, result: null, error: null, streaming: true });
    // On a phone the reply is below the form: bring it into view.
    const box = replyRef.current?.getBoundingClientRect?.();
    if (box && box.top > window.innerHeight * 0.6) replyRef.current?.scrollIntoView?.({ behavior: 'smooth', block: 'start' });
    try {
      const result = await streamChat(
        client,
        { model: chosen, messages, ...(Number.isFinite(mt) && mt > 0 ? { max_tokens: mt } : {}) },
        ctl.signal,
        {
          onHeaders: (requestId, provider) => setRun((r) => (r ? { ...r, requestId, provider } : r)),
          onText: (text) => setRun((r) => (r ? { ...r, text } : r)),
        },
      );
      setRun((r) => ({ ...(r as Run), text: result.text, result, streaming: false }));
    } catch (err) {
      const aborted = (err as { name?: string })?.name === 'AbortError';
      const message = aborted ? 'Stopped.' : err instanceof ApiError ? err.message : String(err);
      setRun((r) => ({ ...(r as Run), streaming: false, error: message }));
    } finally {
      if (abort.current === ctl) abort.current = null;
    }
  };

  const res = run?.result;
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Playground</h1>
          <p className="muted">Send a chat request through the gateway and watch it stream.</p>
        </div>
      </header>
      {models.error ? <ErrorState error={models.error} onRetry={models.reload} /> : null}
      <div className="playground">
        <form className="card form-stack" onSubmit={send} aria-label="Chat request">
          <div className="row">
            <label className="grow">
              Model
              <select value={chosen} onChange={(e) => setModel(e.target.value)} name="model" disabled={ids.length === 0}>
                {ids.length === 0 ? <option value="">{models.loading ? 'Loading models…' : 'No models'}</option> : null}
                {ids.map((id) => (
                  <option key={id} value={id}>
                    {id}
                  </option>
                ))}
              </select>
            </label>
            <label className="narrow">
              Max tokens
              <input value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} inputMode="numeric" placeholder="auto" name="max_tokens" />
            </label>
          </div>
          <label>
            System
            <textarea value={system} onChange={(e) => setSystem(e.target.value)} rows={2} name="system" />
          </label>
          <label>
            Message
            <textarea
              value={prompt}
              onChange={(e) => setPrompt(e.target.value)}
              rows={4}
              name="prompt"
              placeholder="Ask something…"
              onKeyDown={(e) => {
                if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) {
                  e.preventDefault();
                  (e.currentTarget.form as HTMLFormElement | null)?.requestSubmit();
                }
              }}
            />
          </label>
          <div className="form-actions">
            {run?.streaming ? (
              <button type="button" className="btn" onClick={() => abort.current?.abort()}>
                <Icon name="stop" size={16} /> Stop
              </button>
            ) : null}
            <button type="submit" className="btn btn-primary" disabled={!prompt.trim() || !chosen || run?.streaming}>
              <Icon name="send" size={16} /> {run?.streaming ? 'Streaming…' : 'Send'}
            </button>
          </div>
        </form>
        <section className="card reply" aria-label="Reply" aria-live="polite" ref={replyRef}>
          <h2 className="card-title">Reply</h2>
          {!run ? <p className="muted">The reply appears here as it streams. Ctrl/⌘+Enter sends.</p> : null}
          {run ? (
            <div className={`reply-text${run.streaming ? ' streaming' : ''}`} data-testid="reply">
              {run.text}
              {run.streaming ? <span className="caret" aria-hidden="true" /> : null}
            </div>
          ) : null}
          {run?.error ? (
            <p className="form-error" role="alert" data-testid="reply-error">
              {run.error}
            </p>
          ) : null}
          {run ? (
            <dl className="facts compact run-facts" data-testid="run-facts">
              <div>
                <dt>Request id</dt>
                <dd className="mono" data-testid="run-request-id">{run.requestId ?? '—'}</dd>
              </div>
              <div>
                <dt>Provider</dt>
                <dd data-testid="run-provider">{run.provider ?? '—'}</dd>
              </div>
              <div>
                <dt>Prompt tokens</dt>
                <dd data-testid="run-prompt-tokens">{res?.promptTokens != null ? formatInt(res.promptTokens) : '—'}</dd>
              </div>
              <div>
                <dt>Completion tokens</dt>
                <dd data-testid="run-completion-tokens">{res?.completionTokens != null ? formatInt(res.completionTokens) : '—'}</dd>
              </div>
              <div>
                <dt>Latency</dt>
                <dd data-testid="run-latency">{res ? formatMs(res.latencyMs) : '—'}</dd>
              </div>
              <div>
                <dt>Time to first token</dt>
                <dd data-testid="run-ttft">{res ? formatMs(res.ttftMs) : '—'}</dd>
              </div>
            </dl>
          ) : null}
        </section>
      </div>
    </div>
  );
}
