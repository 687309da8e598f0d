// The page's controller: reads the form, shows the steps, and runs the order through session.ts, which carries the
// protocol and crypto and loads on first use so that the initial script stays small (build.ts checks the budget).

import { hasWebCrypto, loadEngine, type KeyType } from '../core/engine.ts';
import { copyText, diagnoseFetchFailure, lookupTxt, offerDownload, openAccountStore, type AccountStore } from '../adapters/browser.ts';
import { describeError, isFetchFailure } from './messages.ts';
import type { AccountChoice, AuthorizationState, Issued, OrderView, RecordTask } from './session.ts';

const element = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => element<HTMLInputElement>(id);
const checkedValue = (name: string) => document.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)!.value;

function make<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

const loadSession = () => import('./session.ts');

// ---- settings kept between visits (never keys: those go to IndexedDB only when the person asks)

const SETTINGS_KEY = 'acme-page-settings';
const SETTING_FIELDS = ['directory-url', 'email', 'doh-url', 'doh-enabled', 'account-type', 'certificate-type', 'keep-account'] as const;

function restoreSettings(): void {
  let saved: Record<string, string | boolean> = {};
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}');
  } catch {
    // A damaged entry is simply forgotten.
  }
  for (const id of SETTING_FIELDS) {
    const field = input(id);
    const value = saved[id];
    if (typeof value === 'boolean' && field.type === 'checkbox') field.checked = value;
    else if (typeof value === 'string' && field.type !== 'checkbox') field.value = value;
  }
}

function saveSettings(): void {
  const saved: Record<string, string | boolean> = {};
  for (const id of SETTING_FIELDS) {
    const field = input(id);
    saved[id] = field.type === 'checkbox' ? field.checked : field.value;
  }
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(saved));
  } catch {
    // Storage may be off (private mode); the page works without it.
  }
}

// ---- messages

function say(step: string, text: string): void {
  element(`${step}-status`).textContent = text;
}

/** The message for an error; a fetch that failed without an answer is probed first to tell CORS from a dead host. */
async function explain(error: unknown): Promise<string> {
  const directoryUrl = input('directory-url').value.trim();
  const network = isFetchFailure(error) ? await diagnoseFetchFailure(directoryUrl) : undefined;
  return describeError(error, { directoryUrl, ...(network && { network }) });
}

async function fail(step: string, error: unknown): Promise<void> {
  const box = element(`${step}-error`);
  box.textContent = await explain(error);
  box.hidden = false;
  say(step, '');
}

function clearError(step: string): void {
  element(`${step}-error`).hidden = true;
}

function setStep(id: string, state: 'waiting' | 'active' | 'done', focus = false): void {
  const section = element(id);
  section.dataset.state = state;
  // A finished step with a summary folds to that line, so the page keeps the current step in view.
  const summary = section.querySelector<HTMLElement>('.done-summary');
  if (summary) summary.hidden = state !== 'done';
  section.querySelector<HTMLElement>('.step-body')!.hidden = state === 'waiting' || (state === 'done' && summary !== null);
  if (focus) element(`${id}-title`).focus();
}

// ---- the engine note: without crypto.subtle the fallback engine does the work

function showEngineNote(): void {
  if (hasWebCrypto()) return;
  const note = element('engine-note');
  note.textContent = `This page is served over plain http from ${location.hostname}, so the browser withholds WebCrypto (crypto.subtle). `
    + 'It uses its fallback engine instead: EC keys (ECDSA P-256 or P-384) work through a JavaScript implementation, and RSA only if '
    + 'a safe source of randomness is there. Over plain http, anyone on the network path could change this page, keys and all, before '
    + 'it reaches you: serve it over https, or open it from localhost, whenever you can.';
  note.hidden = false;
  for (const option of document.querySelectorAll<HTMLOptionElement>('select.key-type option[value^="rsa"]')) option.textContent += ' (slow here)';
  // Fetch the engine now, while the person fills the form.
  void loadEngine('noble');
}

// ---- the CA's directory: its terms link, and the key this browser keeps for it

let accountStore: AccountStore | undefined;

/** A link to a URL the CA gave; anything but http(s) and data: (a javascript: URL, say) stays plain text. */
function link(url: string, text: string): Node {
  const safe = URL.canParse(url) && ['https:', 'http:', 'data:'].includes(new URL(url).protocol);
  return safe ? make('a', { href: url, target: '_blank', rel: 'noreferrer' }, text) : document.createTextNode(url);
}

async function showDirectoryInfo(): Promise<void> {
  const directoryUrl = input('directory-url').value.trim();
  const info = element('directory-info');
  if (!directoryUrl) return;
  info.textContent = 'Reading the CA\'s directory…';
  try {
    const { termsOfService, website, profiles } = await (await loadSession()).readDirectory(directoryUrl);
    showProfiles(profiles ?? {});
    info.textContent = '';
    if (termsOfService) info.append('Terms of service: ', link(termsOfService, termsOfService));
    else info.append('This CA publishes no terms of service.');
    if (website) info.append(' · ', link(website, 'website'));
  } catch (error) {
    info.textContent = await explain(error);
  }
}

function showProfiles(profiles: Record<string, string>): void {
  const select = element<HTMLSelectElement>('profile');
  select.textContent = '';
  select.append(make('option', { value: '', textContent: 'The CA\'s default' }));
  for (const [name, description] of Object.entries(profiles)) select.append(make('option', { value: name, textContent: description ? `${name}: ${description}` : name }));
  element('profile-field').hidden = select.options.length === 1;
}

async function showStoredAccount(): Promise<void> {
  const stored = await accountStore?.get(input('directory-url').value.trim()).catch(() => undefined);
  element('account-stored-option').hidden = !stored;
  if (stored) {
    const kind = stored.privateJwk.kty === 'EC' ? `ECDSA ${stored.privateJwk.crv}` : 'RSA';
    element('account-stored-info').textContent = `(${kind}, kept since ${new Date(stored.storedAt).toLocaleDateString()})`;
    input('account-stored').checked = true;
  } else if (input('account-stored').checked) {
    input('account-generate').checked = true;
  }
  syncChoices();
}

function syncChoices(): void {
  element('account-import-field').hidden = checkedValue('account-source') !== 'import';
  element('csr-field').hidden = checkedValue('certificate-source') !== 'csr';
  element('revoke-key-field').hidden = checkedValue('revoke-signer') !== 'certificate';
  input('doh-url').disabled = !input('doh-enabled').checked;
}

function accountChoice(): AccountChoice {
  return {
    source: checkedValue('account-source') as AccountChoice['source'],
    keyType: element<HTMLSelectElement>('account-type').value as KeyType,
    text: element<HTMLTextAreaElement>('account-key-text').value,
    keep: input('keep-account').checked,
  };
}

// ---- step 2: the records table and its DNS check

interface Row { task: RecordTask; badge: HTMLElement; found: boolean }
let rows: Row[] = [];
let dnsCheck: AbortController | undefined;

function badge(node: HTMLElement, text: string, tone: 'ok' | 'wait' | 'bad' | 'off'): void {
  node.textContent = text;
  node.dataset.tone = tone;
}

function copyButton(label: string, text: string): HTMLButtonElement {
  const button = make('button', { type: 'button', className: 'copy', textContent: 'Copy' });
  button.setAttribute('aria-label', label);
  button.addEventListener('click', async () => {
    try {
      await copyText(text);
      button.textContent = 'Copied';
    } catch (error) {
      button.textContent = 'Copy failed';
      button.title = (error as Error).message;
    }
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  });
  return button;
}

function addRecordRow(task: RecordTask): void {
  const forName = task.wildcard ? ` (for *.${task.identifier.value})` : '';
  const state = make('span', { className: 'badge' });
  const nameCell = make('td', {}, make('code', { textContent: task.dnsName }), copyButton(`Copy name ${task.dnsName}`, task.dnsName));
  if (task.wildcard) nameCell.append(make('div', { className: 'muted', textContent: `for *.${task.identifier.value}` }));
  element('records-table').querySelector('tbody')!.append(make('tr', {},
    nameCell,
    make('td', {}, make('code', { textContent: task.dnsValue }), copyButton(`Copy value for ${task.dnsName}${forName}`, task.dnsValue)),
    make('td', { className: 'dns' }, state)));
  rows.push({ task, badge: state, found: false });
  badge(state, input('doh-enabled').checked ? 'not yet' : 'not checked', input('doh-enabled').checked ? 'wait' : 'off');
}

const DNS_CHECK_FIRST_MS = 2000;
const DNS_CHECK_MAX_MS = 30000;

/** Looks the records up until all are found or the person presses Verify; each distinct name once a round. */
async function checkRecords(signal: AbortSignal): Promise<void> {
  const resolverUrl = input('doh-url').value.trim();
  let delay = DNS_CHECK_FIRST_MS;
  while (!signal.aborted && rows.some((row) => !row.found)) {
    const names = [...new Set(rows.filter((row) => !row.found).map((row) => row.task.dnsName))];
    await Promise.all(names.map(async (name) => {
      try {
        const values = await lookupTxt(resolverUrl, name, { signal });
        for (const row of rows.filter((candidate) => candidate.task.dnsName === name)) {
          row.found = values.includes(row.task.dnsValue);
          badge(row.badge, row.found ? 'found' : 'not yet', row.found ? 'ok' : 'wait');
          row.badge.title = '';
        }
      } catch (error) {
        if (signal.aborted) return;
        for (const row of rows.filter((candidate) => candidate.task.dnsName === name)) {
          badge(row.badge, 'check failed', 'bad');
          row.badge.title = (error as Error).message;
        }
      }
    }));
    const missing = rows.filter((row) => !row.found).length;
    say('records', missing ? `${missing} of ${rows.length} records not yet visible at the resolver; checking again shortly.` : 'All records are visible at the resolver. Press Verify.');
    if (!missing) return;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, DNS_CHECK_MAX_MS);
  }
}

// ---- step 3: Verify, and each authorization's state

let verifyPressed: (() => void) | undefined;
let verifyWarned = false;
const authorizationItems = new Map<string, HTMLElement>();

function onVerify(): void {
  if (!verifyPressed) return;
  const missing = input('doh-enabled').checked ? rows.filter((row) => !row.found) : [];
  if (missing.length && !verifyWarned) {
    verifyWarned = true;
    say('verify', `Not yet visible over DNS: ${[...new Set(missing.map((row) => row.task.dnsName))].join(', ')}. `
      + 'The CA may not see it either, and a failed check ends the order. Wait a little, or press Verify again to ask the CA now.');
    return;
  }
  dnsCheck?.abort();
  element<HTMLButtonElement>('verify-button').disabled = true;
  say('verify', 'Asking the CA to check the records…');
  verifyPressed();
  verifyPressed = undefined;
}

const STATE_TONES: Record<AuthorizationState, 'ok' | 'wait' | 'bad' | 'off'> = { pending: 'wait', processing: 'wait', valid: 'ok', invalid: 'bad' };

function showAuthorization(name: string, state: AuthorizationState, detail?: string): void {
  let item = authorizationItems.get(name);
  if (!item) {
    item = make('li', {}, make('span', { className: 'name', textContent: name }), make('span', { className: 'badge' }), make('span', { className: 'detail' }));
    element('authorizations').append(item);
    authorizationItems.set(name, item);
  }
  badge(item.querySelector<HTMLElement>('.badge')!, state, STATE_TONES[state]);
  item.querySelector<HTMLElement>('.detail')!.textContent = detail ?? '';
}

// ---- step 4: the result

function showResult(issued: Issued): void {
  const summary = element('certificate-summary');
  summary.textContent = '';
  const days = Math.round((issued.notAfter.getTime() - Date.now()) / 86_400_000);
  const entries: [string, string][] = [
    ['Names', issued.names.join(', ')],
    ['Expires', `${issued.notAfter.toLocaleString()} (in ${days} days)`],
    ['Chain', issued.chain.join(' ← ')],
    ['Serial', issued.serialHex],
    ['Account', issued.accountUrl],
  ];
  for (const [term, value] of entries) summary.append(make('dt', { textContent: term }), make('dd', { textContent: value }));
  offerDownload(element<HTMLAnchorElement>('download-fullchain'), 'fullchain.pem', issued.fullchainPem);
  offerDownload(element<HTMLAnchorElement>('download-cert'), 'cert.pem', issued.certificatePem);
  offerDownload(element<HTMLAnchorElement>('download-chain'), 'chain.pem', issued.chainPem);
  offerDownload(element<HTMLAnchorElement>('download-account'), 'account-key.pem', issued.accountKeyPem);
  element('download-privkey-item').hidden = !issued.privateKeyPem;
  if (issued.privateKeyPem) offerDownload(element<HTMLAnchorElement>('download-privkey'), 'privkey.pem', issued.privateKeyPem);
  element<HTMLTextAreaElement>('fullchain-text').value = issued.fullchainPem;
  element<HTMLTextAreaElement>('revoke-certificate').value ||= issued.certificatePem;
}

// ---- the order, from Create order to the files

let running = false;

function resetOrderView(): void {
  dnsCheck?.abort();
  rows = [];
  verifyWarned = false;
  authorizationItems.clear();
  element('records-table').querySelector('tbody')!.textContent = '';
  element('authorizations').textContent = '';
  element('order-notes').textContent = '';
  element('order-notes').hidden = true;
  for (const step of ['setup', 'verify']) clearError(step);
  for (const step of ['records', 'verify']) say(step, '');
  setStep('records', 'waiting');
  setStep('verify', 'waiting');
  setStep('result', 'waiting');
}

function setupSummary(): string {
  const host = URL.canParse(input('directory-url').value.trim()) ? new URL(input('directory-url').value.trim()).host : 'the CA';
  const names = element<HTMLTextAreaElement>('domains').value.split(/[\s,]+/).filter(Boolean).join(', ') || 'the names in the CSR';
  const choice = accountChoice();
  const account = choice.source === 'stored' ? 'the account kept in this browser' : choice.source === 'import' ? 'an imported account key' : 'a new account key';
  return `${names} from ${host}, with ${account}.`;
}

async function createOrder(event: Event): Promise<void> {
  event.preventDefault();
  if (running) return;
  running = true;
  const createButton = element<HTMLButtonElement>('create-order');
  createButton.disabled = true;
  resetOrderView();
  saveSettings();
  let phase = 'setup';
  element('setup-summary').textContent = setupSummary();
  const verifyButton = element<HTMLButtonElement>('verify-button');
  const view: OrderView = {
    progress: (text) => say(phase, text),
    record(task) {
      if (phase === 'setup') {
        phase = 'verify';
        say('setup', 'Order created.');
        setStep('setup', 'done');
        setStep('records', 'active', true);
        setStep('verify', 'active');
        verifyButton.disabled = false;
        dnsCheck = new AbortController();
        if (input('doh-enabled').checked) setTimeout(() => void checkRecords(dnsCheck!.signal), 0);
      }
      addRecordRow(task);
    },
    verified: () => new Promise<void>((resolve) => (verifyPressed = resolve)),
    authorization: showAuthorization,
    note(text) {
      const notes = element('order-notes');
      notes.append(make('li', { textContent: text }));
      notes.hidden = false;
    },
  };
  try {
    const session = await loadSession();
    const issued = await session.issue({
      directoryUrl: input('directory-url').value.trim(),
      email: input('email').value.trim(),
      termsAgreed: input('terms').checked,
      domainsText: element<HTMLTextAreaElement>('domains').value,
      profile: element<HTMLSelectElement>('profile').value,
      dohUrl: input('doh-enabled').checked ? input('doh-url').value.trim() : undefined,
      account: accountChoice(),
      accountStore,
      certificate: {
        source: checkedValue('certificate-source') as 'generate' | 'csr',
        keyType: element<HTMLSelectElement>('certificate-type').value as KeyType,
        csrText: element<HTMLTextAreaElement>('csr-text').value,
      },
    }, view);
    say('verify', 'Every name is validated.');
    setStep('setup', 'done');
    setStep('records', 'done');
    setStep('verify', 'done');
    showResult(issued);
    setStep('result', 'done', true);
    say('setup', `Certificate issued for ${issued.names.join(', ')}.`);
    await showStoredAccount();
  } catch (error) {
    dnsCheck?.abort();
    verifyPressed = undefined;
    verifyButton.disabled = true;
    await fail(phase, error);
    if (phase !== 'setup') say('setup', 'The order failed; see step 3. Change what is needed and create a new order.');
    setStep('setup', 'active');
  } finally {
    running = false;
    createButton.disabled = false;
  }
}

// ---- revocation

async function revokeCertificate(event: Event): Promise<void> {
  event.preventDefault();
  const button = element<HTMLButtonElement>('revoke-button');
  button.disabled = true;
  clearError('revoke');
  say('revoke', 'Revoking…');
  try {
    const session = await loadSession();
    const { serialHex } = await session.revoke({
      directoryUrl: input('directory-url').value.trim(),
      certificateText: element<HTMLTextAreaElement>('revoke-certificate').value,
      reason: Number(element<HTMLSelectElement>('revoke-reason').value),
      signer: checkedValue('revoke-signer') as 'account' | 'certificate',
      account: accountChoice(),
      accountStore,
      certificateKeyText: element<HTMLTextAreaElement>('revoke-key').value,
    });
    say('revoke', `Revoked the certificate with serial ${serialHex}.`);
  } catch (error) {
    await fail('revoke', error);
  } finally {
    button.disabled = false;
  }
}

// ---- wiring

async function start(): Promise<void> {
  // Both keys come in the same kinds; the markup lists them once.
  for (const option of element<HTMLSelectElement>('account-type').options) element('certificate-type').append(option.cloneNode(true));
  restoreSettings();
  showEngineNote();
  const ca = element<HTMLSelectElement>('ca');
  const directoryField = input('directory-url');
  const matchCa = () => (ca.value = [...ca.options].some((option) => option.value === directoryField.value.trim()) ? directoryField.value.trim() : '');
  const directoryChanged = () => {
    showProfiles({});
    void showStoredAccount();
    if (directoryField.value.trim()) void showDirectoryInfo();
  };
  matchCa();
  ca.addEventListener('change', () => {
    if (!ca.value) return directoryField.focus();
    directoryField.value = ca.value;
    directoryChanged();
  });
  directoryField.addEventListener('change', () => {
    matchCa();
    directoryChanged();
  });
  element('load-directory').addEventListener('click', () => void showDirectoryInfo());
  element('setup-edit').addEventListener('click', () => setStep('setup', 'active', true));
  element('account-forget').addEventListener('click', async () => {
    await accountStore?.delete(directoryField.value.trim());
    await showStoredAccount();
    input('account-generate').focus();
  });
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[type="radio"], #doh-enabled')) radio.addEventListener('change', syncChoices);
  element('setup-form').addEventListener('submit', createOrder);
  element('verify-button').addEventListener('click', onVerify);
  element('revoke-form').addEventListener('submit', revokeCertificate);
  // Leaving mid-order loses the records on screen (though a CA may hand the same ones to the same account again).
  addEventListener('beforeunload', (event) => {
    if (running) event.preventDefault();
  });
  syncChoices();
  try {
    accountStore = await openAccountStore();
  } catch (error) {
    input('keep-account').checked = false;
    input('keep-account').disabled = true;
    element('keep-account').nextElementSibling!.textContent += ` (unavailable: ${(error as Error).message})`;
  }
  await showStoredAccount();
  document.body.dataset.ready = 'true';
}

void start();
