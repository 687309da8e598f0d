// The browser's side of the page: account keys kept in IndexedDB, TXT lookups over DNS-over-HTTPS (the JSON
// API that Google and Cloudflare serve), downloads, the clipboard, and telling a CORS refusal from a dead host.

import type { PrivateJwk } from '../core/engine.ts';

/** One account per CA directory, so that the next visit finds the key and the account again. */
export interface StoredAccount {
  directoryUrl: string;
  privateJwk: PrivateJwk;
  /** The account URL (RFC 8555 §7.3), once the CA has given one. */
  accountUrl?: string;
  /** ISO 8601 time when the key was stored. */
  storedAt: string;
}

export interface AccountStore {
  get(directoryUrl: string): Promise<StoredAccount | undefined>;
  put(account: StoredAccount): Promise<void>;
  delete(directoryUrl: string): Promise<void>;
}

const ACCOUNTS = 'accounts';

function settle<T>(request: IDBRequest<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new Error(`Cannot ${what} in IndexedDB: ${request.error?.message ?? 'unknown error'}`));
  });
}

/** Opens (creating on first use) the IndexedDB database that keeps account keys in this browser profile. */
export async function openAccountStore(databaseName = 'acme-client'): Promise<AccountStore> {
  if (typeof indexedDB === 'undefined') throw new Error('Cannot keep keys in this browser: IndexedDB is not available');
  const open = indexedDB.open(databaseName, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(ACCOUNTS, { keyPath: 'directoryUrl' });
  const db = await settle(open, 'open the account store');
  const run = <T>(mode: IDBTransactionMode, what: string, action: (store: IDBObjectStore) => IDBRequest<T>) =>
    settle(action(db.transaction(ACCOUNTS, mode).objectStore(ACCOUNTS)), what);
  return {
    get: (directoryUrl) => run('readonly', 'read the account', (store) => store.get(directoryUrl) as IDBRequest<StoredAccount | undefined>),
    put: async (account) => void (await run('readwrite', 'store the account', (store) => store.put(account))),
    delete: (directoryUrl) => run('readwrite', 'delete the account', (store) => store.delete(directoryUrl)),
  };
}

const DNS_TYPE_TXT = 16; // RFC 1035 §3.2.2
const DNS_RCODE_NAMES: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED' };

export interface DohOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export interface DohAnswer {
  /** The owner name, with its trailing dot as resolvers give it. */
  name: string;
  type: number;
  data: string;
}

/**
 * The answer section for one question asked of a DoH resolver's JSON API (`?name=…&type=…` with
 * `Accept: application/dns-json`, as Google and Cloudflare serve it). NXDOMAIN (RCODE 3, RFC 1035 §4.1.1) is an
 * empty one; any other failure rejects, naming the name, the type and the resolver.
 */
export async function dohAnswers(resolverUrl: string, name: string, type: string, options: DohOptions = {}): Promise<DohAnswer[]> {
  const url = new URL(resolverUrl);
  url.searchParams.set('name', name);
  url.searchParams.set('type', type);
  const response = await (options.fetch ?? fetch)(url, { headers: { accept: 'application/dns-json' }, signal: options.signal });
  const failed = (reason: string) => new Error(`DNS lookup of ${type} at ${name} from ${url.origin} failed: ${reason}`);
  if (!response.ok) throw failed(`HTTP ${response.status}`);
  let body: { Status?: unknown; Answer?: Partial<DohAnswer>[] };
  try {
    body = await response.json();
  } catch {
    throw failed('the answer is not JSON (is this a resolver with the JSON API?)');
  }
  if (body.Status === 3) return [];
  if (body.Status !== 0) throw failed(typeof body.Status === 'number' ? DNS_RCODE_NAMES[body.Status] ?? `RCODE ${body.Status}` : 'no status');
  return (Array.isArray(body.Answer) ? body.Answer : []).filter((answer): answer is DohAnswer =>
    typeof answer.name === 'string' && typeof answer.type === 'number' && typeof answer.data === 'string');
}

/**
 * The TXT strings published at `name`. Answers reached through a CNAME count, as they do for the CA
 * (RFC 8555 §8.4 lets the record live behind a delegation).
 */
export async function lookupTxt(resolverUrl: string, name: string, options: DohOptions = {}): Promise<string[]> {
  const answers = await dohAnswers(resolverUrl, name, 'TXT', options);
  return answers.filter((answer) => answer.type === DNS_TYPE_TXT).map((answer) => txtData(answer.data));
}

/**
 * One TXT record's text. Resolvers give it in zone-file form, as quoted character-strings with backslash escapes
 * (RFC 1035 §5.1), split every 255 octets; some leave a single string unquoted.
 */
export function txtData(data: string): string {
  if (!data.startsWith('"')) return data;
  let text = '';
  for (const [, quoted] of data.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    text += quoted!.replace(/\\(\d{3}|.)/g, (_, escaped: string) => (escaped.length === 3 ? String.fromCharCode(Number(escaped)) : escaped));
  }
  return text;
}

/**
 * Why a fetch that threw a TypeError failed. A browser hides the reason, but a `no-cors` request still
 * succeeds (with an opaque answer) when the host answered and only withheld the CORS headers.
 */
export async function diagnoseFetchFailure(url: string, fetcher: typeof fetch = fetch): Promise<'no-cors' | 'unreachable'> {
  try {
    await fetcher(url, { mode: 'no-cors', cache: 'no-store' });
    return 'no-cors';
  } catch {
    return 'unreachable';
  }
}

/** Points a link at `text` as a file download; the previous object URL of that link is released. */
export function offerDownload(link: HTMLAnchorElement, fileName: string, text: string, type = 'application/x-pem-file'): void {
  if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = fileName;
}

/**
 * Copies text to the clipboard. The async Clipboard API exists only in secure contexts, so on a plain-http
 * page the text is selected in a hidden field and copied the old way.
 */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && globalThis.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const field = document.createElement('textarea');
  field.value = text;
  field.setAttribute('readonly', '');
  field.style.position = 'fixed';
  field.style.opacity = '0';
  document.body.append(field);
  field.select();
  const copied = document.execCommand('copy');
  field.remove();
  if (!copied) throw new Error('Cannot copy: the browser refused; select the text and copy it by hand');
}
