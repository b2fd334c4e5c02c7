/**
 * HTTP requests to an agent (Node's global `fetch`, which keeps connections alive) and the
 * errors they end in, as `AgentError`s with a message naming the agent and what went wrong.
 */
import { errorMessage } from './protocol.ts';

export type AgentErrorKind = 'unreachable' | 'unauthorized' | 'refused' | 'rejected' | 'timeout' | 'protocol';

export class AgentError extends Error {
  constructor(
    message: string,
    /** unreachable (no connection), unauthorized (401), refused (403), rejected (other HTTP error), timeout, protocol (a malformed answer). */
    readonly kind: AgentErrorKind,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

export class Transport {
  readonly url: string;
  private readonly auth: string;

  constructor(url: string, secret: string, readonly timeoutMs: number) {
    this.url = url.replace(/\/+$/, '');
    this.auth = `Bearer ${secret}`;
  }

  /** A JSON request; resolves with the parsed 2xx body, rejects with an `AgentError`. */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.send(method, path, body, new AbortController());
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw this.transportError(err, method, path, false);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AgentError(`agent at ${this.url} answered ${method} ${path} with a body that is not JSON (${res.status})`, 'protocol', res.status);
    }
    if (!res.ok) throw this.statusError(res.status, method, path, errorMessage(value));
    return value;
  }

  /**
   * Opens a streaming GET; resolves once the response headers arrived (within the timeout). The
   * body is then read without a time limit; `abort` ends it.
   */
  async stream(path: string, abort: AbortController): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send('GET', path, undefined, abort);
    if (!res.ok || !res.body) {
      let message: string | undefined;
      try {
        message = errorMessage(JSON.parse(await res.text()));
      } catch {
        message = undefined;
      }
      throw this.statusError(res.status, 'GET', path, message);
    }
    return res.body;
  }

  private async send(method: string, path: string, body: unknown, abort: AbortController): Promise<Response> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.timeoutMs);
    try {
      return await fetch(this.url + path, {
        method,
        headers: body === undefined ? { authorization: this.auth } : { authorization: this.auth, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: abort.signal,
      });
    } catch (err) {
      throw this.transportError(err, method, path, timedOut);
    } finally {
      clearTimeout(timer);
    }
  }

  transportError(err: unknown, method: string, path: string, timedOut: boolean): AgentError {
    if (err instanceof AgentError) return err;
    if (timedOut) return new AgentError(`agent at ${this.url} did not answer ${method} ${path} within ${this.timeoutMs} ms`, 'timeout');
    return new AgentError(`agent at ${this.url} is unreachable: ${causeOf(err)}`, 'unreachable');
  }

  private statusError(status: number, method: string, path: string, message: string | undefined): AgentError {
    if (status === 401) return new AgentError(`agent at ${this.url} refused the secret (401)`, 'unauthorized', status);
    const detail = message ?? 'no error message';
    if (status === 403) return new AgentError(`agent at ${this.url} refused ${method} ${path}: ${detail}`, 'refused', status);
    return new AgentError(`agent at ${this.url}: ${method} ${path} failed (${status}): ${detail}`, 'rejected', status);
  }
}

/** The most specific reason of a fetch failure: an errno code (ECONNREFUSED, …) when there is one. */
function causeOf(err: unknown): string {
  let e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && !e.code.startsWith('UND_ERR_ABORTED')) return e.code;
    const next = e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
    if (!next) break;
    e = next as typeof e;
  }
  return typeof e?.message === 'string' ? e.message : String(err);
}
