// What both pages share: the token (sessionStorage, never the URL), calls to the API with it,
// problem details as errors, the sign-in form, and number formatting.

const TOKEN_KEY = 'switchboard.token';
const SIGN_IN_MESSAGE_KEY = 'switchboard.signin.message';

/** The API answered with a problem details document (RFC 9457). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** The token was refused: the page has gone back to the sign-in form. */
export class SignedOut extends Error {}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Server time minus this browser's, from the last answer's `Date` header (seconds apart). */
let clockOffsetMs = 0;

/** Now, on the controller's clock as well as this page can tell. */
export function serverNow() {
  return Date.now() + clockOffsetMs;
}

function noteServerDate(response) {
  const date = Date.parse(response.headers.get('date') || '');
  if (!Number.isNaN(date)) {
    const offset = date - Date.now();
    // The header has a one-second resolution: only a larger gap is a skew worth correcting.
    clockOffsetMs = Math.abs(offset) > 1500 ? offset : 0;
  }
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText, status: response.status };
  }
}

/** Forgets the token and shows the sign-in form with `message`. */
export function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (message) {
    sessionStorage.setItem(SIGN_IN_MESSAGE_KEY, message);
  }
  showSignIn();
}

/**
 * `method path` with the token; the JSON answer, `null` for an empty one. A 401 signs out
 * (and throws `SignedOut`); any other error throws `ApiError` with the problem document.
 */
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token() || ''}`, Accept: 'application/json' };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  noteServerDate(response);
  if (response.status === 401) {
    const problem = await problemOf(response);
    signOut(`The controller refused this token: ${problem.detail || 'unauthorized'}.`);
    throw new SignedOut();
  }
  if (!response.ok) {
    throw new ApiError(response.status, await problemOf(response));
  }
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

let started = null;

function showSignIn() {
  const form = document.getElementById('signin');
  const app = document.getElementById('app');
  const message = sessionStorage.getItem(SIGN_IN_MESSAGE_KEY);
  sessionStorage.removeItem(SIGN_IN_MESSAGE_KEY);
  const error = document.getElementById('signin-error');
  error.textContent = message || '';
  error.hidden = !message;
  app.hidden = true;
  form.hidden = false;
  document.getElementById('signin-token').value = '';
  document.getElementById('signin-token').focus();
  if (started) {
    started.stop();
    started = null;
  }
}

/**
 * Shows the sign-in form until a token is given, checks it against `check` (a path any
 * supervisor may read), then calls `start()`, which returns an object with `stop()`.
 */
export function signInThen(check, start) {
  const form = document.getElementById('signin');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = document.getElementById('signin-token').value.trim();
    if (!value) {
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, value);
    await begin(check, start);
  });
  document.getElementById('signout').addEventListener('click', () => signOut(''));
  if (token()) {
    begin(check, start);
  } else {
    showSignIn();
  }
}

async function begin(check, start) {
  try {
    await api('GET', check);
  } catch (e) {
    if (!(e instanceof SignedOut)) {
      signOut(`This token cannot be used here: ${e.message}`);
    }
    return;
  }
  document.getElementById('signin').hidden = true;
  document.getElementById('app').hidden = false;
  started = start();
}

/** `1:05`, `12:00:07` for a duration in milliseconds; `—` when unknown. */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) {
    return '—';
  }
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** `87%`, `—` when unknown. */
export function percent(value) {
  return value === null || value === undefined ? '—' : `${Math.round(value)}%`;
}

/** Makes an element: `el('td', {class: 'x'}, 'text', child)`. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name.startsWith('data-')) {
      node.setAttribute(name, value);
    } else if (name === 'class') {
      node.className = value;
    } else {
      node[name] = value;
    }
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

/** Runs `fn` at most once per `ms`, at the end of a burst. */
export function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

/**
 * Makes `tbody`'s rows those of `rows` (each with a `data-key`), keeping the rows and cells
 * that did not change, so that a click or an open menu is not lost to the refresh every
 * second. A cell with a `data-sig` (one holding buttons or menus) is replaced only when its
 * signature changes; any other cell when its text or class does.
 */
export function patchRows(tbody, rows) {
  const old = new Map([...tbody.children].map((r) => [r.dataset.key, r]));
  rows.forEach((row, i) => {
    let target = row;
    const current = old.get(row.dataset.key);
    if (current && current.cells.length === row.cells.length) {
      old.delete(row.dataset.key);
      const fresh = [...row.cells];
      [...current.cells].forEach((cell, c) => {
        const next = fresh[c];
        const changed = next.dataset.sig !== undefined
          ? cell.dataset.sig !== next.dataset.sig
          : cell.textContent !== next.textContent || cell.className !== next.className;
        if (changed) {
          cell.replaceWith(next);
        }
      });
      target = current;
    }
    if (tbody.children[i] !== target) {
      tbody.insertBefore(target, tbody.children[i] || null);
    }
  });
  for (const row of old.values()) {
    row.remove();
  }
}
