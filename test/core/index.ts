// Every runtime-neutral test file; each runtime entry imports this one list.
import './encoding.test.ts';
import './names.test.ts';
import './keys.test.ts';
import './renewal.test.ts';
import './der-lite.test.ts';
import './csr.test.ts';
import './x509.test.ts';
import './engines.test.ts';
import './jws.test.ts';
import './profiles.test.ts';
import './ari.test.ts';
import './protocol.test.ts';
import './flow.test.ts';
import './caa.test.ts';
import './path.test.ts';
import './cli-renewal.test.ts';
import './signer.test.ts';
