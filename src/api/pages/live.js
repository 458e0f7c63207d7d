// The live event stream (`GET /v1/events`, Server-Sent Events) read with fetch(), because
// EventSource cannot send an Authorization header. The stream is parsed here (the
// text/event-stream format: `id:`, `event:`, `data:` lines, a blank line ends an event,
// `:` lines are comments), and reopened with back-off after any end, sending the last id
// as `Last-Event-ID` so nothing is missed. A stream silent for longer than three of the
// server's keep-alives is taken as dead and reopened.

import { token, signOut } from './common.js';

const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 15000;
const SILENCE_MS = 45000;

/** Splits a text/event-stream into events; feed it text as it arrives. */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.reset();
  }

  reset() {
    this.id = null;
    this.event = '';
    this.data = [];
  }

  feed(text) {
    this.buffer += text;
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this.buffer);
      // A `\r` at the very end may be the first half of `\r\n`: wait for more.
      if (!match || (match[0] === '\r' && match.index === this.buffer.length - 1)) {
        return;
      }
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      if (this.data.length > 0) {
        this.onEvent({ id: this.id, event: this.event || 'message', data: this.data.join('\n') });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) {
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'data') {
      this.data.push(value);
    } else if (field === 'event') {
      this.event = value;
    } else if (field === 'id' && !value.includes('\0')) {
      this.id = value;
    }
  }
}

/**
 * Keeps `GET /v1/events` open: `onEvent({id, event, data})` for each event (data parsed as
 * JSON), `onStatus('live' | 'reconnecting')` as the link comes and goes.
 */
export class LiveStream {
  constructor(onEvent, onStatus) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.lastEventId = null;
    this.stopped = false;
    this.abort = null;
    this.retryMs = FIRST_RETRY_MS;
    this.run();
  }

  stop() {
    this.stopped = true;
    if (this.abort) {
      this.abort.abort();
    }
  }

  async run() {
    while (!this.stopped) {
      await this.once();
      if (this.stopped) {
        return;
      }
      this.onStatus('reconnecting');
      const jitter = Math.random() * this.retryMs * 0.2;
      await new Promise((resolve) => setTimeout(resolve, this.retryMs + jitter));
      this.retryMs = Math.min(this.retryMs * 2, LONGEST_RETRY_MS);
    }
  }

  /** One connection, until it ends or fails. */
  async once() {
    this.abort = new AbortController();
    const headers = { Authorization: `Bearer ${token() || ''}`, Accept: 'text/event-stream' };
    if (this.lastEventId !== null) {
      headers['Last-Event-ID'] = this.lastEventId;
    }
    let silence = null;
    const watch = () => {
      clearTimeout(silence);
      silence = setTimeout(() => this.abort.abort(), SILENCE_MS);
    };
    try {
      watch();
      const response = await fetch('/v1/events', {
        headers,
        cache: 'no-store',
        signal: this.abort.signal,
      });
      if (response.status === 401) {
        this.stopped = true;
        signOut('The controller refused this token on the event stream.');
        return;
      }
      if (!response.ok || !response.body) {
        return;
      }
      this.onStatus('live');
      this.retryMs = FIRST_RETRY_MS;
      const parser = new SseParser((event) => this.deliver(event));
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          return;
        }
        watch();
        parser.feed(value);
      }
    } catch {
      // Aborted, refused or cut: the loop reconnects (unless stopped).
    } finally {
      clearTimeout(silence);
    }
  }

  deliver(event) {
    if (event.id !== null) {
      this.lastEventId = event.id;
    }
    let data = null;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    this.onEvent({ id: event.id, event: event.event, data });
  }
}

/** Shows the stream's state on the page's `#link` badge. */
function showLink(status) {
  const badge = document.getElementById('link');
  badge.dataset.status = status;
  badge.textContent = status === 'live' ? 'live' : 'reconnecting…';
}

/**
 * Runs a live page: the stream's events go to `onEvent` (its state on the `#link` badge),
 * `refresh` reads the REST views now and every `refreshMs`, `render` runs every second so
 * times tick. Returns what stops it all.
 */
export function runLive(onEvent, refresh, render, refreshMs) {
  const stream = new LiveStream(onEvent, showLink);
  refresh();
  const poll = setInterval(refresh, refreshMs);
  const tick = setInterval(render, 1000);
  return {
    stop() {
      stream.stop();
      clearInterval(poll);
      clearInterval(tick);
    },
  };
}
