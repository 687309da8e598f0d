// The built acme-client against Pebble behind test/_acme-proxy.ts (renewalInfo, meta.profiles, caaIdentities):
// the daily run asks ARI (a window in the past, in the future, moved forward), keeps the answer in
// renewal-info.json for Retry-After, sends replaces and copes when it is refused; --profile; the CAA pre-check
// through challtestsrv's DNS (--dns-server); IP identifiers validated by Pebble itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startPebble, type Pebble } from '../_pebble.ts';
import { startAcmeProxy, type AcmeProxy, type RecordedRequest } from '../_acme-proxy.ts';
import { RUNTIMES, opensslRead, runCli, snapshotTree, tempDir, type Runtime } from './_cli.ts';
import { hexEncode, pemDecode } from '../../core/encoding.ts';
import { certificateIdentifier } from '../../core/renewal.ts';
import { parseCertificate } from '../../core/x509.ts';

/** Whom the network process runs as: nobody when the tests run as root, as CI does; else the tests' own user. */
const NETWORK_UID = process.getuid!() === 0 ? 65534 : process.getuid!();
const uidsOf = (requests: RecordedRequest[]) => [...new Set(requests.map((request) => request.uid))];

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const PEBBLE_IDENTITY = 'pebble.letsencrypt.org';

let pebble: Pebble;
let proxy: AcmeProxy;
const work = tempDir('acme-cli-ari-');

before(async () => {
  // Every newOrder reaches the proxy once: no badNonce retries to tell apart.
  pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
  proxy = await startAcmeProxy(pebble);
  // The CAA records for the pre-check tests, once for every runtime's run of them (challtestsrv adds, it does not replace).
  await pebble.addCaa('forbidden.test', [{ tag: 'issue', value: 'letsencrypt.org' }]);
  await pebble.addCaa('allowed.test', [{ tag: 'issue', value: 'letsencrypt.org' }, { tag: 'issue', value: `${PEBBLE_IDENTITY}; validationmethods=http-01` }]);
  await pebble.addCaa('wild.test', [{ tag: 'issue', value: PEBBLE_IDENTITY }, { tag: 'issuewild', value: ';' }]);
  await pebble.setCname('www.alias.test', 'cdn.provider.test');
  await pebble.addCaa('cdn.provider.test', [{ tag: 'issue', value: 'other-ca.example' }]);
  await pebble.addCaa('alias.test', [{ tag: 'issue', value: PEBBLE_IDENTITY }]);
});
after(async () => {
  await proxy?.stop();
  await pebble?.stop();
  work.remove();
});

/** Files for one certificate set, and runs of the CLI against `directory` (the proxy by default) over --standalone. */
function setup(runtime: Runtime, name: string, directory = () => proxy.directoryUrl) {
  const dir = join(work.dir, `${runtime}-${name}`);
  const certs = join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const files = ['-c', certs, '-f', join(dir, 'account.pem'), '-k', join(dir, 'domain.pem')];
  const run = (args: string[], directoryUrl = directory()) => runCli(['--directory', directoryUrl, ...files, '--standalone', `127.0.0.1:${pebble.httpPort}`,
    '--dns-server', `127.0.0.1:${pebble.dnsPort}`, ...args], { runtime, caFile: pebble.tlsCaFile });
  const certificate = () => parseCertificate(pemDecode(readFileSync(join(certs, 'cert.pem'), 'utf8'), ['CERTIFICATE']).der);
  return {
    dir,
    certs,
    run,
    /** With the CA unreachable: only a run that makes no request can succeed. */
    runOffline: async (args: string[]) => run(args, `https://127.0.0.1:${await freePort()}/dir`),
    certificate,
    certId: () => certificateIdentifier(certificate()),
    state: () => JSON.parse(readFileSync(join(certs, 'renewal-info.json'), 'utf8')) as Record<string, unknown>,
    /** The day after: the kept answer's Retry-After has passed. */
    ageState() {
      const state = this.state();
      state.nextCheck = new Date(Date.now() - 1000).toISOString();
      writeFileSync(join(certs, 'renewal-info.json'), JSON.stringify(state));
    },
  };
}

for (const runtime of RUNTIMES) {
  describe(`[${runtime}] ARI in the daily run`, () => {
    const s = setup(runtime, 'ari');
    const NAME = 'ari.example';
    const window = (fromNowDays: number, lengthDays: number) => ({ start: new Date(Date.now() + fromNowDays * DAY), end: new Date(Date.now() + (fromNowDays + lengthDays) * DAY) });

    test(`[${runtime}] issuing records the CA's renewalInfo beside the certificate, with no answer yet`, async () => {
      const result = await s.run(['-nN', '--key-type', 'ec256', NAME]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(s.state(), { serial: hexEncode(s.certificate().serialBytes), renewalInfo: proxy.renewalInfoUrl });
    });

    test(`[${runtime}] a window in the past: the run asks and renews with replaces (exit 0)`, async () => {
      const certId = s.certId();
      proxy.setRenewalInfo(certId, window(-2, 1));
      const since = proxy.requests.length;
      const result = await s.run(['-v', NAME]);
      assert.equal(result.code, 0, result.stderr);
      // The question and the renewal alike come from the network process, which runs unprivileged (cli/privsep.ts).
      assert.deepEqual(uidsOf(proxy.requests.slice(since)), [NETWORK_UID]);
      assert.match(result.stderr, /renewing .*cert\.pem: due since \S+ \(the CA's renewal window /);
      assert.equal(proxy.renewalInfoRequests.at(-1), certId);
      assert.equal(proxy.orders.at(-1)!.replaces, certId);
      assert.notEqual(s.certId(), certId);
    });

    test(`[${runtime}] a window in the future: exit 2; inside its Retry-After the next runs ask nothing`, async () => {
      const certId = s.certId();
      const future = window(20, 2);
      proxy.setRenewalInfo(certId, { ...future, retryAfterSeconds: 3 * 3600 });
      const asked = proxy.renewalInfoRequests.length;
      const since = proxy.requests.length;
      const result = await s.run(['-v', NAME]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(proxy.renewalInfoRequests.length, asked + 1);
      assert.deepEqual(uidsOf(proxy.requests.slice(since)), [NETWORK_UID]);
      assert.match(result.stderr, new RegExp(`renewal is due from \\S+ \\(the CA's renewal window ${future.start.toISOString()} to ${future.end.toISOString()}; next check `));
      const state = s.state();
      assert.deepEqual(state.suggestedWindow, { start: future.start.toISOString(), end: future.end.toISOString() });
      const wait = new Date(state.nextCheck as string).getTime() - Date.now();
      assert.ok(wait > 2.9 * HOUR && wait <= 3 * HOUR, `next check in ${wait} ms`);

      const before = snapshotTree(s.dir);
      assert.equal((await s.run([NAME])).code, 2);
      // Not even the directory: the CA is unreachable and the answer still stands.
      assert.equal((await s.runOffline([NAME])).code, 2);
      assert.equal(proxy.renewalInfoRequests.length, asked + 1);
      assert.deepEqual(snapshotTree(s.dir), before);
    });

    test(`[${runtime}] the window moved forward: once Retry-After has passed, the run renews and shows the explanation`, async () => {
      const certId = s.certId();
      proxy.setRenewalInfo(certId, { ...window(-1, 0.5), explanationURL: 'https://ca.example/incidents/42' });
      // The CA's Retry-After holds even when its answer has changed.
      assert.equal((await s.run([NAME])).code, 2);
      s.ageState();
      const result = await s.run([NAME]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, 'acme-client: the CA explains its renewal window at https://ca.example/incidents/42\n');
      assert.equal(proxy.orders.at(-1)!.replaces, certId);
    });

    test(`[${runtime}] replaces refused as Boulder does: ordered once more without it, with a warning`, async () => {
      const certId = s.certId();
      proxy.setRenewalInfo(certId, window(-1, 0.5));
      proxy.rejectReplaces = 'unknown-certificate';
      try {
        const orders = proxy.orders.length;
        const result = await s.run([NAME]);
        assert.equal(result.code, 0, result.stderr);
        assert.deepEqual(proxy.orders.slice(orders).map((order) => order.replaces), [certId, undefined]);
        assert.match(result.stderr, new RegExp(`^acme-client: warning: the CA refused replaces ${certId} \\(Could not validate ARI 'replaces' field :: .*\\); ordered without it, so rate limits apply\\n$`));
      } finally {
        proxy.rejectReplaces = undefined;
      }
    });

    test(`[${runtime}] -F renews whatever the window says, and still sends replaces`, async () => {
      const certId = s.certId();
      const result = await s.run(['-F', NAME]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(proxy.orders.at(-1)!.replaces, certId);
    });

    test(`[${runtime}] a renewalInfo lookup that fails: the lifetime rule decides, and the next check waits six hours`, async () => {
      // The proxy answers 404 for a certificate it has no window for.
      const asked = proxy.renewalInfoRequests.length;
      const result = await s.run(['-v', NAME]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /cannot get the CA's renewal window \(Cannot get renewal information for \S+: urn:ietf:params:acme:error:malformed: Certificate \S+ not found\); deciding by the certificate's lifetime until /);
      assert.equal(s.state().suggestedWindow, undefined);
      const wait = new Date(s.state().nextCheck as string).getTime() - Date.now();
      assert.ok(wait > 5.9 * HOUR && wait <= 6 * HOUR, `next check in ${wait} ms`);
      assert.equal((await s.run([NAME])).code, 2);
      assert.equal(proxy.renewalInfoRequests.length, asked + 1);
    });
  });

  test(`[${runtime}] a CA without renewalInfo: the lifetime rule, remembered so that no daily run asks anything`, async () => {
    const plain = await startAcmeProxy(pebble, { renewalInfo: false });
    try {
      const s = setup(runtime, 'no-ari', () => plain.directoryUrl);
      assert.equal((await s.run(['-nN', '--key-type', 'ec256', 'plain.example'])).code, 0);
      assert.equal(s.state().renewalInfo, null);
      assert.equal((await s.runOffline(['plain.example'])).code, 2);
      const forced = await s.run(['-F', 'plain.example']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal(plain.orders.at(-1)!.replaces, undefined, 'no replaces for a CA that does not offer ARI');
    } finally {
      await plain.stop();
    }
  });

  describe(`[${runtime}] --profile`, () => {
    test(`[${runtime}] a profile the CA lists goes into newOrder`, async () => {
      const s = setup(runtime, 'profile');
      const result = await s.run(['-nN', '--key-type', 'ec256', '--profile', 'shortlived', 'profile.example']);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(proxy.orders.at(-1), { identifiers: [{ type: 'dns', value: 'profile.example' }], profile: 'shortlived' });
    });

    test(`[${runtime}] an unknown profile: exit 1 naming the CA's profiles and descriptions, no order, nothing written`, async () => {
      const s = setup(runtime, 'bad-profile');
      const before = snapshotTree(s.dir);
      const orders = proxy.orders.length;
      const result = await s.run(['-nN', '--key-type', 'ec256', '--profile', '45days', 'profile.example']);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, 'acme-client: Unknown profile "45days": the CA offers classic (https://letsencrypt.org/docs/profiles#classic), '
        + 'tlsserver (https://letsencrypt.org/docs/profiles#tlsserver), shortlived (https://letsencrypt.org/docs/profiles#shortlived)\n');
      assert.equal(proxy.orders.length, orders);
      assert.deepEqual(snapshotTree(s.dir), before);
    });
  });

  describe(`[${runtime}] CAA pre-check through challtestsrv's DNS (--dns-server)`, () => {
    const caaRun = async (name: string, names: string[], extra: string[] = []) => {
      const s = setup(runtime, name);
      const orders = proxy.orders.length;
      const result = await s.run(['-nN', '--key-type', 'ec256', ...extra, ...names]);
      return { ...result, ordered: proxy.orders.length > orders, s };
    };

    test(`[${runtime}] a record for another CA forbids: exit 1 naming the record and where it sits, before any order`, async () => {
      const result = await caaRun('caa-forbidden', ['www.forbidden.test']);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, 'acme-client: CAA record 0 issue "letsencrypt.org" on forbidden.test forbids issuance for www.forbidden.test '
        + `by this CA (caaIdentities: ${PEBBLE_IDENTITY})\n`);
      assert.equal(result.ordered, false);
      // The account came first (RFC 8657's accounturi needs it), so its key is kept: the CA knows it.
      assert.deepEqual(Object.keys(snapshotTree(result.s.dir)), ['account.pem', 'certs/']);
    });

    test(`[${runtime}] --no-caa-check skips it: the order goes out`, async () => {
      const result = await caaRun('caa-skipped', ['www.forbidden.test'], ['--no-caa-check']);
      assert.equal(result.ordered, true, result.stderr);
    });

    test(`[${runtime}] a record for this CA allows`, async () => {
      const result = await caaRun('caa-allowed', ['allowed.test', 'www.allowed.test']);
      assert.equal(result.code, 0, result.stderr);
    });

    test(`[${runtime}] issuewild forbids the wildcard and names it alone`, async () => {
      const result = await caaRun('caa-wild', ['wild.test', '*.wild.test']);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `acme-client: CAA record 0 issuewild ";" on wild.test forbids issuance for *.wild.test by this CA (caaIdentities: ${PEBBLE_IDENTITY})\n`);
      assert.equal(result.ordered, false);
    });

    test(`[${runtime}] a CNAME in the path: the target's records count, and the message names the target`, async () => {
      const result = await caaRun('caa-cname', ['www.alias.test']);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, 'acme-client: CAA record 0 issue "other-ca.example" on cdn.provider.test (CNAME target of www.alias.test) '
        + `forbids issuance for www.alias.test by this CA (caaIdentities: ${PEBBLE_IDENTITY})\n`);
    });
  });

  describe(`[${runtime}] IP identifiers (RFC 8738) validated by Pebble over http-01`, () => {
    test(`[${runtime}] acme-client 127.0.0.1: the certificate names the address alone`, async () => {
      const s = setup(runtime, 'ipv4');
      const result = await s.run(['-nN', '--key-type', 'ec256', '127.0.0.1']);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(opensslRead(join(s.certs, 'cert.pem')).names, ['127.0.0.1']);
      assert.deepEqual(proxy.orders.at(-1)!.identifiers, [{ type: 'ip', value: '127.0.0.1' }]);
    });

    test(`[${runtime}] acme-client ::1, answered by --standalone [::1]:PORT`, async () => {
      const s = setup(runtime, 'ipv6');
      const result = await runCli(['--directory', proxy.directoryUrl, '-c', s.certs, '-f', join(s.dir, 'account.pem'), '-k', join(s.dir, 'domain.pem'),
        '-nN', '--key-type', 'ec256', '--standalone', `[::1]:${pebble.httpPort}`, '0:0::1'], { runtime, caFile: pebble.tlsCaFile });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(opensslRead(join(s.certs, 'cert.pem')).names, ['0:0:0:0:0:0:0:1']);
      assert.deepEqual(proxy.orders.at(-1)!.identifiers, [{ type: 'ip', value: '::1' }]);
    });
  });
}
